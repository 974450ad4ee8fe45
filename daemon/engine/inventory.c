/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's inventory: the host DTB scanned and classified, kept in
 * step with the database, with the administrator's policy laid over the
 * detected values.  The database is the record; the in-memory copy is
 * what queries are answered from, reloaded from the database after every
 * change so the two cannot drift.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "hv.h"
#include "inventory.h"
#include "log.h"

struct inventory {
        struct db *db;
        struct dt_inventory *dt;
        /* The host DTB the inventory was scanned from (its sha256 is dt->sha256). */
        void *blob;
        size_t blob_len;
        struct db_policy *policy;       /* sorted by path */
        size_t n_policy;
        inventory_owner_fn owner_fn;
        void *owner_data;
};

static int policy_cmp(const void *a, const void *b)
{
        const struct db_policy *pa = a, *pb = b;

        return strcmp(pa->path, pb->path);
}

static int inventory_reload_policy(struct inventory *inv)
{
        struct db_policy *p = NULL;
        size_t n = 0;
        int r;

        r = db_policy_list(inv->db, &p, &n);
        if (r < 0)
                return r;
        if (n > 1)
                qsort(p, n, sizeof(*p), policy_cmp);
        db_policy_array_free(inv->policy, inv->n_policy);
        inv->policy = p;
        inv->n_policy = n;
        return 0;
}

static const struct db_policy *inventory_policy(const struct inventory *inv, const char *path)
{
        struct db_policy key = { .path = (char *)path };

        if (!inv->n_policy)
                return NULL;
        return bsearch(&key, inv->policy, inv->n_policy, sizeof(key), policy_cmp);
}

int inventory_open(struct db *db, const char *dtb_path, const struct classify_tables *tables,
                   struct inventory **ret, bool *rescanned, char **err)
{
        _cleanup_free_ void *blob = NULL;
        _cleanup_inventory_ struct dt_inventory *scanned = NULL;
        _cleanup_inventory_ struct dt_inventory *loaded = NULL;
        struct inventory *inv;
        char stored_sha[65] = "", stored_tables[65] = "";
        const char *digest = classify_tables_digest(tables);
        size_t len = 0;
        bool changed;
        int r;

        r = dt_read_file(dtb_path, &blob, &len, err);
        if (r < 0)
                return r;
        r = dt_scan(blob, len, &scanned, err);
        if (r < 0)
                return r;
        r = classify_inventory(scanned, tables);
        if (r < 0)
                return set_error(err, r, "classifying %s: %s", dtb_path, strerror(-r));

        r = db_inventory_digests(db, stored_sha, stored_tables);
        if (r < 0 && r != -ENOENT)
                return set_error(err, r, "reading the stored inventory: %s", strerror(-r));
        changed = r == -ENOENT || !streq(stored_sha, scanned->sha256) ||
                  !streq(stored_tables, digest);
        if (changed) {
                r = db_inventory_replace(db, scanned, digest);
                if (r < 0)
                        return set_error(err, r, "storing the inventory of %s: %s", dtb_path,
                                         strerror(-r));
        }

        /* Serve what the database holds, so a reload can never differ from a restart. */
        r = db_inventory_load(db, &loaded);
        if (r < 0)
                return set_error(err, r, "loading the stored inventory: %s", strerror(-r));

        inv = calloc(1, sizeof(*inv));
        if (!inv)
                return -ENOMEM;
        inv->db = db;
        inv->dt = steal_ptr(loaded);
        /*
         * Keep the blob that was scanned: the guest generators copy nodes
         * from it, and it is the blob whose digest the stored inventory has
         * (just stored, or equal to what was stored), so the two agree.
         */
        inv->blob = steal_ptr(blob);
        inv->blob_len = len;
        r = inventory_reload_policy(inv);
        if (r < 0) {
                inventory_free(inv);
                return set_error(err, r, "loading the device policy: %s", strerror(-r));
        }
        if (rescanned)
                *rescanned = changed;
        *ret = inv;
        return 0;
}

int inventory_check_dom0_hidden(struct inventory *inv, struct hv *hv,
                                struct inventory_dom0_counts *c, char **err)
{
        memset(c, 0, sizeof(*c));
        for (size_t i = 0; i < inv->dt->n_devices; i++) {
                struct dt_device *d = &inv->dt->devices[i];
                enum dt_dom0_verdict v = DT_DOM0_UNKNOWN;

                d->dom0_verdict = DT_DOM0_UNCHECKED;
                if (!d->dom0_hidden)
                        continue;
                for (size_t j = 0; j < d->n_irqs && v != DT_DOM0_OWNED; j++) {
                        int r;

                        if (d->irqs[j].cls != DT_IRQ_SPI)
                                continue;
                        r = hv_dom0_spi_routed(hv, d->irqs[j].hwirq, err);
                        if (r < 0)
                                return r;
                        v = r ? DT_DOM0_OWNED : DT_DOM0_SET_ASIDE;
                }
                d->dom0_verdict = v;
                if (v == DT_DOM0_SET_ASIDE)
                        c->set_aside++;
                else if (v == DT_DOM0_OWNED)
                        c->owned++;
                else
                        c->unknown++;
        }
        return 0;
}

void inventory_free(struct inventory *inv)
{
        if (!inv)
                return;
        dt_inventory_free(inv->dt);
        free(inv->blob);
        db_policy_array_free(inv->policy, inv->n_policy);
        free(inv);
}

const struct dt_inventory *inventory_dt(const struct inventory *inv)
{
        return inv->dt;
}

struct db *inventory_db(const struct inventory *inv)
{
        return inv->db;
}

const void *inventory_blob(const struct inventory *inv, size_t *len)
{
        if (len)
                *len = inv->blob_len;
        return inv->blob;
}

void inventory_set_owner_fn(struct inventory *inv, inventory_owner_fn fn, void *userdata)
{
        inv->owner_fn = fn;
        inv->owner_data = userdata;
}

enum dt_dma inventory_effective_dma(const struct inventory *inv, const struct dt_device *d)
{
        const struct db_policy *p = inventory_policy(inv, d->path);

        if (p && p->dma != DB_POLICY_UNSET)
                return (enum dt_dma)p->dma;
        return d->dma;
}

bool inventory_effective_assignable(const struct inventory *inv, const struct dt_device *d,
                                    const char **reason)
{
        const struct db_policy *p = inventory_policy(inv, d->path);

        /* Xen's own console is never handed out, whatever the policy says. */
        if (d->is_xen_console) {
                if (reason)
                        *reason = d->reason ? d->reason : "Xen's console (/chosen/stdout-path)";
                return false;
        }
        /* No policy can take from dom0 what Xen gave it as its own. */
        if (d->dom0_verdict == DT_DOM0_OWNED) {
                if (reason)
                        *reason = "disabled in the host device tree, not marked xen,passthrough: "
                                  "Xen routed its SPI to dom0 as one of dom0's own devices";
                return false;
        }
        if (d->dom0_verdict == DT_DOM0_UNKNOWN &&
            (!p || p->assignable == DB_POLICY_UNSET)) {
                if (reason)
                        *reason = "status \"disabled\" in the tree Xen wrote for dom0, and without "
                                  "an SPI Xen cannot tell whether xen,passthrough set it aside or "
                                  "firmware disabled it: declare it with 'assignctl policy PATH "
                                  "assignable=yes', or give assignd the host tree with --dtb";
                return false;
        }
        if (p && p->assignable != DB_POLICY_UNSET) {
                if (reason)
                        *reason = p->assignable ? NULL
                                                : (p->note ? p->note : "disabled by administrator policy");
                return p->assignable;
        }
        if (reason)
                *reason = d->assignable ? NULL : d->reason;
        return d->assignable;
}

int inventory_set_policy(struct inventory *inv, const char *path, int dma, int assignable,
                         const char *note, uint32_t uid)
{
        int r;

        if (!dt_inventory_find(inv->dt, path))
                return -ENOENT;
        if (dma != DB_POLICY_UNSET && (dma < DT_DMA_UNKNOWN || dma > DT_DMA_NONE))
                return -EINVAL;
        if (assignable != DB_POLICY_UNSET && assignable != 0 && assignable != 1)
                return -EINVAL;
        r = db_policy_set(inv->db, path, dma, assignable, note, uid);
        if (r < 0)
                return r;
        return inventory_reload_policy(inv);
}

/* ---- JSON rendering ----------------------------------------------------- */

static int json_add(struct json_object *obj, const char *key, struct json_object *val)
{
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *json_string_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

/* Adds key: null when val is NULL (nullable fields are always present). */
static int json_add_nullable(struct json_object *obj, const char *key, struct json_object *val)
{
        if (!val)
                return json_object_object_add(obj, key, NULL) < 0 ? -ENOMEM : 0;
        return json_add(obj, key, val);
}

static struct json_object *json_strv(char **v)
{
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; v && v[i]; i++)
                if (json_object_array_add(a, json_object_new_string(v[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

static struct json_object *regions_json(const struct dt_device *d)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < d->n_regions; i++) {
                struct json_object *o = json_object_new_object();

                if (!o || json_add(o, "base", json_object_new_int64((int64_t)d->regions[i].base)) < 0 ||
                    json_add(o, "size", json_object_new_int64((int64_t)d->regions[i].size)) < 0 ||
                    json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

static struct json_object *irqs_json(const struct dt_device *d)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < d->n_irqs; i++) {
                const struct dt_irq *q = &d->irqs[i];
                struct json_object *o = json_object_new_object();

                if (!o || json_add(o, "class", json_object_new_string(dt_irq_class_to_string(q->cls))) < 0 ||
                    json_add_nullable(o, "hwirq", q->cls == DT_IRQ_NOT_GIC ? NULL
                                                      : json_object_new_int64(q->hwirq)) < 0 ||
                    json_add(o, "controller", json_object_new_string(q->controller ? q->controller : "")) < 0 ||
                    json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

static struct json_object *iommu_json(const struct dt_device *d)
{
        struct json_object *o = json_object_new_object(), *links = json_object_new_array();

        if (!o || !links)
                goto fail;
        for (size_t i = 0; i < d->n_iommus; i++) {
                struct json_object *l = json_object_new_object(), *ids = json_object_new_array();

                if (!l || !ids) {
                        json_object_put(l);
                        json_object_put(ids);
                        goto fail;
                }
                for (size_t j = 0; j < d->iommus[i].n_ids; j++)
                        json_object_array_add(ids, json_object_new_int64(d->iommus[i].ids[j]));
                if (json_add(l, "iommu", json_object_new_string(d->iommus[i].iommu)) < 0 ||
                    json_add(l, "ids", ids) < 0 || json_object_array_add(links, l) < 0) {
                        json_object_put(l);
                        goto fail;
                }
        }
        if (json_add(o, "coverage", json_object_new_string(dt_coverage_to_string(d->coverage))) < 0)
                goto fail;
        if (json_add(o, "iommus", links) < 0) {
                links = NULL;
                goto fail;
        }
        return o;
fail:
        json_object_put(links);
        json_object_put(o);
        return NULL;
}

static struct json_object *group_json(const struct inventory *inv, const struct dt_device *d)
{
        const struct dt_inventory *dt = inv->dt;
        struct json_object *a = json_object_new_array();

        if (!a || d->group < 0 || (size_t)d->group >= dt->n_groups)
                return a;
        for (size_t i = 0; i < dt->groups[d->group].n_members; i++) {
                size_t m = dt->groups[d->group].members[i];

                if (m >= dt->n_devices || &dt->devices[m] == d)
                        continue;
                json_object_array_add(a, json_object_new_string(dt->devices[m].path));
        }
        return a;
}

static struct json_object *gaps_json(const struct dt_device *d)
{
        struct json_object *a;

        if (!d->pci_host)
                return NULL;
        a = json_object_new_array();
        for (size_t i = 0; a && i < d->n_rid_gaps; i++) {
                struct json_object *o = json_object_new_object();

                if (!o || json_add(o, "rid_base", json_object_new_int64(d->rid_gaps[i].rid_base)) < 0 ||
                    json_add(o, "count", json_object_new_int64(d->rid_gaps[i].count)) < 0 ||
                    json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

static struct json_object *policy_json(const struct db_policy *p)
{
        struct json_object *o;

        if (!p)
                return NULL;
        o = json_object_new_object();
        if (!o)
                return NULL;
        if (json_add_nullable(o, "dma", p->dma == DB_POLICY_UNSET ? NULL
                                     : json_object_new_string(dt_dma_to_string(p->dma))) < 0 ||
            json_add_nullable(o, "assignable", p->assignable == DB_POLICY_UNSET ? NULL
                                            : json_object_new_boolean(p->assignable)) < 0 ||
            json_add_nullable(o, "note", json_string_or_null(p->note)) < 0 ||
            json_add(o, "set_by_uid", json_object_new_int64(p->set_by_uid)) < 0 ||
            json_add(o, "set_at", json_object_new_int64(p->set_at)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *inventory_device_to_json(const struct inventory *inv,
                                             const struct dt_device *d)
{
        struct json_object *o = json_object_new_object();
        const struct db_policy *p = inventory_policy(inv, d->path);
        const char *reason = NULL;
        bool assignable = inventory_effective_assignable(inv, d, &reason);
        enum dt_dma dma = inventory_effective_dma(inv, d);
        const char *dma_source = d->dma_source;

        if (p && p->dma != DB_POLICY_UNSET)
                dma_source = "policy";
        if (!o)
                return NULL;
        if (json_add(o, "path", json_object_new_string(d->path)) < 0 ||
            json_add(o, "compatible", json_strv(d->compatible)) < 0 ||
            json_add(o, "regions", regions_json(d)) < 0 ||
            json_add_nullable(o, "reg_note", json_string_or_null(d->reg_note)) < 0 ||
            json_add(o, "interrupts", irqs_json(d)) < 0 ||
            json_add(o, "iommu", iommu_json(d)) < 0 ||
            json_add(o, "dma", json_object_new_string(dt_dma_to_string(dma))) < 0 ||
            json_add(o, "dma_source", json_object_new_string(dma_source ? dma_source : "unknown")) < 0 ||
            json_add(o, "assignable", json_object_new_boolean(assignable)) < 0 ||
            json_add_nullable(o, "reason", json_string_or_null(assignable ? NULL : reason)) < 0 ||
            json_add(o, "group", group_json(inv, d)) < 0 ||
            json_add_nullable(o, "iommu_map_gaps", gaps_json(d)) < 0 ||
            json_add_nullable(o, "policy", policy_json(p)) < 0 ||
            json_add_nullable(o, "owner", inv->owner_fn ? inv->owner_fn(inv->owner_data, d->path)
                                                        : NULL) < 0 ||
            json_add(o, "xen_passthrough", json_object_new_boolean(d->xen_passthrough)) < 0 ||
            json_add(o, "dom0_hidden", json_object_new_boolean(d->dom0_hidden)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static bool owner_matches(struct json_object *owner, const char *want)
{
        struct json_object *v;

        if (streq(want, "none"))
                return owner == NULL;
        if (!owner)
                return false;
        if (json_object_object_get_ex(owner, "domain", &v) && json_object_is_type(v, json_type_string) &&
            streq(json_object_get_string(v), want))
                return true;
        if (json_object_object_get_ex(owner, "domid", &v) && json_object_is_type(v, json_type_int)) {
                char buf[24];

                snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(v));
                return streq(buf, want);
        }
        return false;
}

int inventory_list_json(const struct inventory *inv, const struct inventory_filter *f,
                        struct json_object **ret)
{
        struct json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < inv->dt->n_devices; i++) {
                const struct dt_device *d = &inv->dt->devices[i];
                struct json_object *o;

                if (f && f->coverage >= 0 && (int)d->coverage != f->coverage)
                        continue;
                if (f && f->dma >= 0 && (int)inventory_effective_dma(inv, d) != f->dma)
                        continue;
                if (f && f->assignable >= 0 &&
                    (int)inventory_effective_assignable(inv, d, NULL) != f->assignable)
                        continue;
                if (f && f->owner) {
                        struct json_object *owner =
                                inv->owner_fn ? inv->owner_fn(inv->owner_data, d->path) : NULL;
                        bool match = owner_matches(owner, f->owner);

                        json_object_put(owner);
                        if (!match)
                                continue;
                }
                o = inventory_device_to_json(inv, d);
                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return -ENOMEM;
                }
        }
        *ret = a;
        return 0;
}

void inventory_count(const struct inventory *inv, struct inventory_counts *c)
{
        memset(c, 0, sizeof(*c));
        c->devices = inv->dt->n_devices;
        c->groups = inv->dt->n_groups;
        c->iommus = inv->dt->n_iommus;
        for (size_t i = 0; i < inv->dt->n_devices; i++) {
                const struct dt_device *d = &inv->dt->devices[i];

                if (inventory_effective_assignable(inv, d, NULL))
                        c->assignable++;
                if (d->coverage == DT_COV_PROTECTED)
                        c->protected_++;
                else if (inventory_effective_dma(inv, d) != DT_DMA_NONE &&
                         inventory_effective_assignable(inv, d, NULL))
                        c->unprotected_dma++;
        }
}
