/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest configuration generators with the engine's checks (see
 * generate.h); guest/ does the generating.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "generate.h"
#include "inventory.h"
#include "place.h"

void generate_output_clear(struct generate_output *o)
{
        if (!o)
                return;
        guestcfg_layout_free(o->layout);
        free(o->dtb);
        free(o->notes);
        free(o->config);
        *o = (struct generate_output){ 0 };
}

int generate_layout(struct engine *e, const struct check_request *c, enum guestcfg_mode mode,
                    const struct guestcfg_target *target, const struct place_taken *taken,
                    struct guestcfg_layout **ret, bool *forced, struct failure *f)
{
        _cleanup_free_ const struct dt_device **devs = NULL;
        bool any_protected;
        int r;

        devs = calloc(c->n_devices + 1, sizeof(*devs));
        if (!devs)
                return failure_oom(f);
        r = check_devices(e, c, devs, &any_protected, forced, f);
        if (r < 0)
                return r;
        return place_devices(e, devs, c->n_devices, mode, target, taken, ret, f);
}

int generate_dtb(struct engine *e, const struct guestcfg_layout *l, bool dom0less, void **blob,
                 size_t *len, char **notes, struct failure *f)
{
        _cleanup_free_ char *err = NULL;
        const void *host;
        size_t host_len = 0;
        int r;

        host = inventory_blob(e->inv, &host_len);
        if (!host || !host_len)
                return failure_set(f, -ENODATA, FAILURE_INTERNAL_ERROR,
                                   "the host device tree the inventory was built from is not "
                                   "loaded");
        r = guestcfg_partial_dtb(host, l, dom0less ? GUESTCFG_DOM0LESS : 0, blob, len, notes,
                                 &err);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                   "cannot build the partial DTB: %s", err ? err : strerror(-r));
        return 0;
}

/* A string written between quotes into a generated file. */
static bool config_safe(const char *s)
{
        return !strpbrk(s, "\"\\\n\r");
}

static int text_failure(struct failure *f, int r, const char *field, const char *what,
                        const char *err)
{
        if (r == -EINVAL)
                return failure_invalid(f, field, "cannot write the %s fragment: %s", what,
                                       err ? err : strerror(-r));
        return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot write the %s fragment: %s", what,
                           err ? err : strerror(-r));
}

/* The text fragment of what (not GENERATE_DTB) into o->config. */
static int generate_text(enum generate_what what, const struct generate_request *req,
                         bool forced, struct generate_output *o, struct failure *f)
{
        _cleanup_free_ char *err = NULL, *body = NULL, *dtb_file = NULL;
        int r;

        if (what == GENERATE_XL) {
                r = guestcfg_xl_config(o->layout, req->device_tree, o->notes, &body, &err);
                if (r < 0)
                        return text_failure(f, r, "device_tree", "xl.cfg", err);
                o->config = req->name ? strdup_printf("name = \"%s\"\n%s", req->name, body)
                                      : steal_ptr(body);
                return o->config ? 0 : failure_oom(f);
        }
        dtb_file = req->dtb_file ? strdup(req->dtb_file)
                                 : strdup_printf(GENERATE_DTB_FILE_FORMAT, req->index);
        if (!dtb_file)
                return failure_oom(f);
        r = guestcfg_imagebuilder(o->layout, req->index, dtb_file, req->host_dtb_file, forced,
                                  &o->config, &err);
        if (r < 0)
                return text_failure(f, r, "dtb_file", "ImageBuilder", err);
        return 0;
}

int generate_guest(struct engine *e, enum generate_what what,
                   const struct generate_request *req, struct generate_output *ret,
                   struct failure *f)
{
        struct generate_output o = { 0 };
        struct check_request c = {
                .devices = req->devices,
                .n_devices = req->n_devices,
                .force_unprotected = req->force_unprotected,
        };
        bool forced;
        int r;

        if (req->index > GENERATE_MAX_DOMU)
                return failure_invalid(f, "index", "index must be 0..%d", GENERATE_MAX_DOMU);
        if (req->name && (!*req->name || !config_safe(req->name)))
                return failure_invalid(f, "name", "the domain name must be non-empty without "
                                       "quotes, backslashes or newlines");
        if (req->device_tree && (!*req->device_tree || !config_safe(req->device_tree)))
                return failure_invalid(f, "device_tree", "device_tree must be a path without "
                                       "quotes, backslashes or newlines");
        r = generate_layout(e, &c, req->layout, req->target, NULL, &o.layout, &forced, f);
        /* ImageBuilder is dom0less: its partial DTB needs xen,reg and xen,path. */
        if (r >= 0)
                r = generate_dtb(e, o.layout, req->dom0less || what == GENERATE_IMAGEBUILDER,
                                 &o.dtb, &o.dtb_len, &o.notes, f);
        if (r >= 0 && what != GENERATE_DTB)
                r = generate_text(what, req, forced, &o, f);
        if (r < 0) {
                generate_output_clear(&o);
                return r;
        }
        *ret = o;
        return 0;
}
