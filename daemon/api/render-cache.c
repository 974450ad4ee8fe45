/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rendered devices and hazards kept as validated text (see
 * render-cache.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hazard.h"
#include "jv.h"
#include "log.h"
#include "render-cache.h"
#include "render.h"

struct device_slot {
        struct vl_text *text;           /* NULL: not rendered since the inventory changed */
        uint64_t owner_version;         /* the owner map's version of the device then */
};

struct render_cache {
        bool have_generation;
        uint64_t generation;            /* the inventory's, which every slot was rendered from */
        struct device_slot *slots;      /* by index in the inventory */
        size_t n_slots;
        struct vl_text *all;            /* every device, while owners_version is unchanged */
        uint64_t all_owners;
        struct vl_text *hazards;
        uint64_t hazards_version;
        struct vl_text *hazard_counts;
        uint64_t hazard_counts_version;
        /* GetStatus's dtb and devices, for the inventory generation and path they show. */
        struct vl_text *status_dtb, *status_devices;
        uint64_t status_generation;
        char *status_dtb_path;
};

int render_cache_new(struct render_cache **ret)
{
        struct render_cache *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static void drop_devices(struct render_cache *c)
{
        for (size_t i = 0; i < c->n_slots; i++)
                vl_text_unref(c->slots[i].text);
        free(c->slots);
        c->slots = NULL;
        c->n_slots = 0;
        vl_text_unref(c->all);
        c->all = NULL;
        c->have_generation = false;
}

void render_cache_free(struct render_cache *c)
{
        if (!c)
                return;
        drop_devices(c);
        vl_text_unref(c->hazards);
        vl_text_unref(c->hazard_counts);
        vl_text_unref(c->status_dtb);
        vl_text_unref(c->status_devices);
        free(c->status_dtb_path);
        free(c);
}

/* Forget every device when the inventory changed; -ENOMEM leaves nothing kept. */
static int follow_inventory(struct render_cache *c, const struct inventory *inv)
{
        uint64_t gen = inventory_generation(inv);
        size_t n = inventory_dt(inv)->n_devices;

        if (c->have_generation && c->generation == gen && c->n_slots == n)
                return 0;
        drop_devices(c);
        c->slots = calloc(n ? n : 1, sizeof(*c->slots));
        if (!c->slots)
                return -ENOMEM;
        c->n_slots = n;
        c->generation = gen;
        c->have_generation = true;
        return 0;
}

/* Validate o against type and keep it as text (o is put); NULL on a mismatch (a bug). */
static struct vl_text *as_text(const struct vl_interface *iface, const char *type,
                               struct json_object *o)
{
        _cleanup_free_ char *bad = NULL;
        struct vl_text *t = NULL;
        int r;

        if (!o)
                return NULL;
        r = vl_text_new(iface, type, o, &t, &bad);
        json_object_put(o);
        if (r == -EINVAL)
                log_error("bug: the rendered %s does not match the interface at \"%s\"", type,
                          bad ? bad : "?");
        return r < 0 ? NULL : t;
}

/* A node for t, dropping the caller's reference. */
static struct json_object *node_of(struct vl_text *t)
{
        struct json_object *o = t ? vl_text_node(t) : NULL;

        vl_text_unref(t);
        return o;
}

struct json_object *render_cache_device(struct render_cache *c, const struct vl_interface *iface,
                                        struct engine *e, const struct inventory *inv,
                                        const struct dt_device *d)
{
        const struct dt_inventory *dt = inventory_dt(inv);
        const struct engine_owner *owner = NULL;
        struct device_slot *slot = NULL;
        uint64_t version = 0;
        struct vl_text *t;
        int r;

        r = engine_owner_peek(e, d->path, &owner, &version);
        if (r < 0)
                owner = NULL;
        if (follow_inventory(c, inv) >= 0 && d >= dt->devices && d < dt->devices + c->n_slots)
                slot = &c->slots[d - dt->devices];
        /* 0: the owner came from the database directly, and may change unseen. */
        if (r < 0 || version == 0 || !slot)
                return render_device(inv, d, r > 0 ? owner : NULL);
        if (slot->text && slot->owner_version == version)
                return vl_text_node(slot->text);
        t = as_text(iface, "Device", render_device(inv, d, r > 0 ? owner : NULL));
        if (!t)
                return NULL;
        vl_text_unref(slot->text);
        slot->text = vl_text_ref(t);
        slot->owner_version = version;
        return node_of(t);
}

struct json_object *render_cache_devices(struct render_cache *c,
                                         const struct vl_interface *iface, struct engine *e,
                                         const struct inventory *inv)
{
        const struct dt_inventory *dt = inventory_dt(inv);
        uint64_t owners = engine_owners_version(e);
        struct json_object *a;
        struct vl_text *t;

        if (follow_inventory(c, inv) >= 0 && c->all && owners && c->all_owners == owners)
                return vl_text_node(c->all);
        a = json_object_new_array();
        for (size_t i = 0; a && i < dt->n_devices; i++) {
                struct json_object *d = render_cache_device(c, iface, e, inv, &dt->devices[i]);

                if (!d || json_object_array_add(a, d) < 0) {
                        json_object_put(d);
                        json_object_put(a);
                        return NULL;
                }
        }
        if (!owners || !a)
                return a;       /* the owner map is not readable: nothing of it is kept */
        t = as_text(iface, "[]Device", a);
        if (!t)
                return NULL;
        vl_text_unref(c->all);
        c->all = vl_text_ref(t);
        c->all_owners = owners;
        return node_of(t);
}

/*
 * What render makes of the engine's hazards, as validated text of type,
 * kept in *slot for the version of the list it was made from.
 */
static struct json_object *hazard_text(struct vl_text **slot, uint64_t *slot_version,
                                       const struct vl_interface *iface, struct engine *e,
                                       const char *type,
                                       struct json_object *(*render)(const struct hazard *h,
                                                                     size_t n))
{
        const struct hazard *h = NULL;
        uint64_t version = 0;
        struct vl_text *t;
        size_t n = 0;

        if (engine_hazards(e, &h, &n, &version) < 0)
                return NULL;
        if (*slot && *slot_version == version)
                return vl_text_node(*slot);
        t = as_text(iface, type, render(h, n));
        if (!t)
                return NULL;
        vl_text_unref(*slot);
        *slot = vl_text_ref(t);
        *slot_version = version;
        return node_of(t);
}

struct json_object *render_cache_hazards(struct render_cache *c,
                                         const struct vl_interface *iface, struct engine *e)
{
        return hazard_text(&c->hazards, &c->hazards_version, iface, e, "[]Hazard",
                           render_hazards);
}

struct json_object *render_cache_hazard_counts(struct render_cache *c,
                                               const struct vl_interface *iface, struct engine *e)
{
        return hazard_text(&c->hazard_counts, &c->hazard_counts_version, iface, e, "[string]int",
                           render_hazard_counts);
}

/* Member key of o as validated text of type (o keeps its own reference). */
static struct vl_text *member_text(const struct vl_interface *iface, const char *type,
                                   struct json_object *o, const char *key)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return as_text(iface, type, json_object_get(v));
}

int render_cache_status_inventory(struct render_cache *c, const struct vl_interface *iface,
                                  struct inventory *inv, const char *dtb_path,
                                  struct json_object *o)
{
        uint64_t gen = inventory_generation(inv);
        const char *path = dtb_path ? dtb_path : "";
        struct json_object *tmp;
        int r;

        if (!c->status_dtb || !c->status_devices || c->status_generation != gen ||
            !c->status_dtb_path || !streq(c->status_dtb_path, path)) {
                tmp = json_object_new_object();
                if (!tmp || render_status_inventory(tmp, inv, dtb_path) < 0) {
                        json_object_put(tmp);
                        return -ENOMEM;
                }
                vl_text_unref(c->status_dtb);
                vl_text_unref(c->status_devices);
                free(c->status_dtb_path);
                c->status_dtb = member_text(iface, "DtbInfo", tmp, "dtb");
                c->status_devices = member_text(iface, "DeviceCounts", tmp, "devices");
                c->status_dtb_path = strdup(path);
                c->status_generation = gen;
                json_object_put(tmp);
                if (!c->status_dtb || !c->status_devices || !c->status_dtb_path)
                        return -ENOMEM;
        }
        r = jv_set_obj(o, "dtb", vl_text_node(c->status_dtb));
        r |= jv_set_obj(o, "devices", vl_text_node(c->status_devices));
        return r ? -ENOMEM : 0;
}
