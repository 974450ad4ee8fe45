/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's inventory: the host DTB scanned and classified, kept in
 * step with the database, with the administrator's policy laid over the
 * detected values.  The database is the record; the in-memory copy is
 * what queries are answered from, reloaded from the database after every
 * change so the two cannot drift.  Rendering devices for the wire is
 * wire/render.c's business, not this file's.
 */
#include <errno.h>
#include <string.h>

#include "hv.h"
#include "inventory.h"
#include "log.h"
#include "strmap.h"

struct inventory {
        struct db *db;
        struct dt_inventory *dt;
        struct strmap by_path;          /* path -> device of dt */
        uint64_t generation;            /* inventory_generation() */
        /* inventory_count()'s answer, and the generation it is for. */
        struct inventory_counts counts;
        uint64_t counts_generation;
        bool counts_valid;
        /* The host DTB the inventory was scanned from (its sha256 is dt->sha256). */
        void *blob;
        size_t blob_len;
        struct db_policy *policy;       /* sorted by path */
        size_t n_policy;
};

/* dt's devices by path, for inventory_find(). */
static int index_paths(struct strmap *m, const struct dt_inventory *dt)
{
        *m = STRMAP_INIT;
        for (size_t i = 0; i < dt->n_devices; i++)
                if (strmap_put(m, dt->devices[i].path, &dt->devices[i]) < 0) {
                        strmap_clear(m);
                        return -ENOMEM;
                }
        return 0;
}

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
        inv->generation++;
        return 0;
}

const struct db_policy *inventory_policy(const struct inventory *inv, const char *path)
{
        struct db_policy key = { .path = (char *)path };

        if (!inv->n_policy)
                return NULL;
        return bsearch(&key, inv->policy, inv->n_policy, sizeof(key), policy_cmp);
}

/*
 * Scan blob, classify it with tables, store it when it or the tables
 * changed since what the database holds, and load back what the database
 * then holds (so a reload can never differ from a restart).
 */
static int scan_store_load(struct db *db, const char *dtb_path, const void *blob, size_t len,
                           const struct classify_tables *tables, struct dt_inventory **ret,
                           bool *changed, char **err)
{
        _cleanup_inventory_ struct dt_inventory *scanned = NULL;
        char stored_sha[65] = "", stored_tables[65] = "";
        const char *digest = classify_tables_digest(tables);
        int r;

        r = dt_scan(blob, len, &scanned, err);
        if (r < 0)
                return r;
        r = classify_inventory(scanned, tables);
        if (r < 0)
                return set_error(err, r, "classifying %s: %s", dtb_path, strerror(-r));

        r = db_inventory_digests(db, stored_sha, stored_tables);
        if (r < 0 && r != -ENOENT)
                return set_error(err, r, "reading the stored inventory: %s", strerror(-r));
        *changed = r == -ENOENT || !streq(stored_sha, scanned->sha256) ||
                   !streq(stored_tables, digest);
        if (*changed) {
                r = db_inventory_replace(db, scanned, digest);
                if (r < 0)
                        return set_error(err, r, "storing the inventory of %s: %s", dtb_path,
                                         strerror(-r));
        }
        r = db_inventory_load(db, ret);
        if (r < 0)
                return set_error(err, r, "loading the stored inventory: %s", strerror(-r));
        return 0;
}

int inventory_open(struct db *db, const char *dtb_path, const struct classify_tables *tables,
                   struct inventory **ret, bool *rescanned, char **err)
{
        _cleanup_free_ void *blob = NULL;
        _cleanup_inventory_ struct dt_inventory *loaded = NULL;
        struct inventory *inv;
        size_t len = 0;
        bool changed;
        int r;

        r = dt_read_file(dtb_path, &blob, &len, err);
        if (r < 0)
                return r;
        r = scan_store_load(db, dtb_path, blob, len, tables, &loaded, &changed, err);
        if (r < 0)
                return r;

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
        r = index_paths(&inv->by_path, inv->dt);
        if (r >= 0)
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

int inventory_reclassify(struct inventory *inv, const struct classify_tables *tables,
                         bool *changed, char **err)
{
        _cleanup_inventory_ struct dt_inventory *loaded = NULL;
        struct strmap by_path;
        int r;

        r = scan_store_load(inv->db, "the host DTB", inv->blob, inv->blob_len, tables, &loaded,
                            changed, err);
        if (r < 0)
                return r;
        r = index_paths(&by_path, loaded);
        if (r < 0)
                return set_error(err, r, "out of memory");
        dt_inventory_free(inv->dt);
        strmap_clear(&inv->by_path);
        inv->dt = steal_ptr(loaded);
        inv->by_path = by_path;
        inv->generation++;
        return 0;
}

int inventory_check_dom0_hidden(struct inventory *inv, struct hv *hv,
                                struct inventory_dom0_counts *c, char **err)
{
        memset(c, 0, sizeof(*c));
        inv->generation++;
        for (size_t i = 0; i < inv->dt->n_devices; i++) {
                struct dt_device *d = &inv->dt->devices[i];
                enum dt_dom0_verdict v = DT_DOM0_UNKNOWN;

                d->dom0_verdict = DT_DOM0_UNCHECKED;
                if (!d->dom0_hidden)
                        continue;
                /* No hypervisor to ask (assignctl --offline): nobody can tell. */
                for (size_t j = 0; hv && j < d->n_irqs && v != DT_DOM0_OWNED; j++) {
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
        strmap_clear(&inv->by_path);
        free(inv->blob);
        db_policy_array_free(inv->policy, inv->n_policy);
        free(inv);
}

const struct dt_device *inventory_find(const struct inventory *inv, const char *path)
{
        return path ? strmap_get(&inv->by_path, path) : NULL;
}

uint64_t inventory_generation(const struct inventory *inv)
{
        return inv->generation;
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
        /*
         * Nor a node whose properties are inconsistent: what assignd would
         * hand out (regions, SPIs, IOMMU) is not known for sure.
         */
        if (d->fault) {
                if (reason)
                        *reason = d->reason;
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

        if (!inventory_find(inv, path))
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

bool inventory_matches(const struct inventory *inv, const struct dt_device *d,
                       const struct inventory_filter *f)
{
        if (!f)
                return true;
        if (f->coverage >= 0 && (int)d->coverage != f->coverage)
                return false;
        if (f->dma >= 0 && (int)inventory_effective_dma(inv, d) != f->dma)
                return false;
        if (f->assignable >= 0 &&
            (int)inventory_effective_assignable(inv, d, NULL) != f->assignable)
                return false;
        return true;
}

void inventory_count(struct inventory *inv, struct inventory_counts *c)
{
        if (inv->counts_valid && inv->counts_generation == inv->generation) {
                *c = inv->counts;
                return;
        }
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
        inv->counts = *c;
        inv->counts_generation = inv->generation;
        inv->counts_valid = true;
}
