/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl --offline: the read and generate commands on a board's device
 * tree, with no daemon and no hypervisor (a build host making a dom0less
 * image, long before any dom0 runs).
 *
 * Nothing here is a second implementation: the tree goes through the
 * daemon's own scanner and classifier (dt/), its inventory and policy
 * overlay (engine/inventory.c, over an in-memory database), the engine's
 * checks and the guest generators (engine/generate.c, guest/), and what
 * comes out is rendered by wire/ into exactly the objects the daemon would
 * have sent, so the commands print them with the same code and a refusal
 * reads as the daemon's does.  No socket is opened and no Varlink message
 * is made.
 *
 * The administrator's policy comes from a copy of the database given with
 * --db (never written) and DMA declarations from --dma-table files (the
 * dma.d format).  Offline there is no owner to show: the database's leases
 * describe domains of some running dom0, not of this tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "build-config.h"
#include "classify.h"
#include "ctl.h"
#include "errors.h"
#include "hazard.h"
#include "inventory.h"
#include "log.h"
#include "render.h"

struct ctl_offline {
        struct db *db;
        struct classify_tables *tables;
        struct inventory *inv;
        struct engine *engine;
};

void ctl_offline_free(struct ctl *ctl)
{
        struct ctl_offline *o = ctl->off;

        if (!o)
                return;
        engine_free(o->engine);
        inventory_free(o->inv);
        classify_tables_free(o->tables);
        db_close(o->db);
        free(o);
        ctl->off = NULL;
}

/* "assignctl: what: why" for a file the offline mode cannot use. */
static int cannot(const char *what, int r, const char *err)
{
        fprintf(stderr, "assignctl: %s: %s\n", what, err ? err : strerror(-r));
        return CTL_EXIT_REFUSED;
}

/* Scan and classify the tree once, on the first command that needs it. */
static int offline_open(struct ctl *ctl)
{
        _cleanup_free_ char *err = NULL;
        struct ctl_offline *o;
        int r;

        if (ctl->off)
                return CTL_EXIT_OK;
        /* Library messages above warnings are the daemon's log, not our output. */
        log_set_level(LOG_WARNING);
        o = calloc(1, sizeof(*o));
        if (!o)
                return ctl_oom();
        ctl->off = o;
        r = db_open_copy(ctl->db, &o->db, &err);
        if (r < 0)
                return cannot(ctl->db ? ctl->db : "database", r, err);
        r = classify_tables_new(&o->tables);
        if (r < 0)
                return cannot("DMA tables", r, NULL);
        for (size_t i = 0; i < ctl->n_dma_tables; i++) {
                r = classify_tables_load_file(o->tables, ctl->dma_tables[i], &err);
                if (r < 0)
                        return cannot(ctl->dma_tables[i], r, err);
        }
        r = inventory_open(o->db, ctl->dtb, o->tables, &o->inv, NULL, &err);
        if (r < 0)
                return cannot(ctl->dtb, r, err);
        /*
         * A tree Xen wrote for dom0 has disabled nodes only Xen can tell
         * apart; with nobody to ask, they are left to policy.
         */
        {
                struct inventory_dom0_counts c;

                r = inventory_check_dom0_hidden(o->inv, NULL, &c, &err);
                if (r < 0)
                        return cannot(ctl->dtb, r, err);
        }
        r = engine_new(o->inv, NULL, NULL, &o->engine);
        if (r < 0)
                return cannot("engine", r, NULL);
        return CTL_EXIT_OK;
}

/*
 * What a client would receive for params: serialised as the daemon sends
 * it (host strings that are not UTF-8 repaired to U+FFFD) and parsed back
 * with the client's strict parser.  Takes params; NULL when out of memory.
 */
static struct json_object *as_sent(struct json_object *params)
{
        _cleanup_free_ char *text = NULL, *err = NULL;
        struct json_object *msg = NULL, *out = NULL;

        if (!params)
                return NULL;
        text = vl_reply_serialize(params, false);
        json_object_put(params);
        if (!text || vl_parse_json(text, &msg, &err) < 0)
                return NULL;
        out = json_object_get(jv_get_object(msg, "parameters"));
        json_object_put(msg);
        return out;
}

int ctl_offline_check(struct ctl *ctl, const char *method, struct json_object *params)
{
        _cleanup_free_ char *err = NULL, *bad = NULL;
        struct vl_interface *iface = NULL;
        const struct vl_method *m;
        struct json_object *p;
        int r;

        /* The daemon validates every call against its interface before anything else. */
        r = vl_interface_parse(vl_embedded_find("io.assignd.Broker"), &iface, &err);
        if (r < 0) {
                fprintf(stderr, "assignctl: the embedded interface does not parse: %s\n",
                        err ? err : strerror(-r));
                return CTL_EXIT_REFUSED;
        }
        m = vl_interface_method(iface, method);
        r = m ? vl_validate_input(iface, m, params, &bad) : -ENOENT;
        vl_interface_free(iface);
        if (r >= 0)
                return CTL_EXIT_OK;
        p = json_object_new_object();
        if (!p || jv_set_str(p, "parameter", bad ? bad : method) < 0) {
                json_object_put(p);
                return ctl_oom();
        }
        r = ctl_report_error(ctl, method, "org.varlink.service.InvalidParameter", p);
        json_object_put(p);
        return r;
}

/* Print f as the daemon's error would be printed; returns the exit status. */
static int refused(struct ctl *ctl, const char *what, const struct failure *f)
{
        struct json_object *params = as_sent(errors_params(f));
        int r;

        if (!params)
                return ctl_oom();
        r = ctl_report_error(ctl, what, errors_name(f->code), params);
        json_object_put(params);
        return r;
}

int ctl_offline_status(struct ctl *ctl, struct json_object **reply)
{
        struct json_object *o;
        struct hazard *hz = NULL;
        size_t n_hz = 0;
        int r;

        r = offline_open(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        o = json_object_new_object();
        r = jv_set_str(o, "version", ASSIGND_VERSION);
        r |= jv_set_str(o, "backend", "offline");
        r |= jv_set_null(o, "xen_version");
        r |= render_status_inventory(o, ctl->off->inv, ctl->dtb);
        if (hazard_list(ctl->off->inv, engine_ownership_visible(ctl->off->engine), &hz, &n_hz) < 0)
                r = -ENOMEM;
        else
                r |= jv_set_obj(o, "hazard_counts", render_hazard_counts(hz, n_hz)) |
                     jv_set_obj(o, "hazards", render_hazards(hz, n_hz));
        hazard_list_free(hz, n_hz);
        if (r) {
                json_object_put(o);
                return ctl_oom();
        }
        *reply = as_sent(o);
        if (!*reply)
                return ctl_oom();
        return CTL_EXIT_OK;
}

int ctl_offline_devices(struct ctl *ctl, const struct engine_device_filter *filter,
                        struct json_object **reply)
{
        _cleanup_free_ const struct dt_device **devs = NULL;
        _cleanup_(failure_clear) struct failure f = FAILURE_INIT;
        struct json_object *list, *o;
        size_t n = 0;
        int r;

        r = offline_open(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        if (engine_list_devices(ctl->off->engine, filter, &devs, &n, &f) < 0)
                return refused(ctl, "list", &f);
        list = json_object_new_array();
        r = 0;
        for (size_t i = 0; i < n; i++)
                r |= jv_push_obj(list, render_device(ctl->off->inv, devs[i], NULL));
        o = json_object_new_object();
        r |= jv_set_obj(o, "devices", list);
        if (r) {
                json_object_put(o);
                return ctl_oom();
        }
        *reply = as_sent(o);
        return *reply ? CTL_EXIT_OK : ctl_oom();
}

int ctl_offline_device(struct ctl *ctl, const char *path, struct json_object **reply)
{
        _cleanup_(failure_clear) struct failure f = FAILURE_INIT;
        const struct dt_device *d;
        struct json_object *o;

        int r = offline_open(ctl);

        if (r != CTL_EXIT_OK)
                return r;
        d = engine_device(ctl->off->engine, path, &f);
        if (!d)
                return refused(ctl, "show", &f);
        o = json_object_new_object();
        if (jv_set_obj(o, "device", render_device(ctl->off->inv, d, NULL)) < 0) {
                json_object_put(o);
                return ctl_oom();
        }
        *reply = as_sent(o);
        return *reply ? CTL_EXIT_OK : ctl_oom();
}

int ctl_offline_generate(struct ctl *ctl, enum generate_what what,
                         const struct generate_request *req, struct json_object **reply)
{
        _cleanup_(generate_output_clear) struct generate_output out = { 0 };
        _cleanup_(failure_clear) struct failure f = FAILURE_INIT;
        int r;

        r = offline_open(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        if (generate_guest(ctl->off->engine, what, req, &out, &f) < 0)
                return refused(ctl, ctl->cmd ? ctl->cmd->name : "generate", &f);
        *reply = as_sent(render_generated(&out));
        return *reply ? CTL_EXIT_OK : ctl_oom();
}
