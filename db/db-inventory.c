/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Storing and loading the scanned, classified device inventory.  A rescan
 * replaces every inventory table in one transaction (policy and leases
 * are keyed by path elsewhere and stay); loading rebuilds a struct
 * dt_inventory equal field by field to the one stored, including device
 * order, which group member indexes depend on.  Anything stored that does
 * not decode back into the model is reported as -EUCLEAN rather than
 * patched up.
 */
#include <inttypes.h>

#include "db-private.h"

static const char sql_clear_inventory[] =
        "DELETE FROM group_members;"
        "DELETE FROM device_compatible;"
        "DELETE FROM regions;"
        "DELETE FROM interrupts;"
        "DELETE FROM iommu_links;"
        "DELETE FROM iommu_map;"
        "DELETE FROM rid_gaps;"
        "DELETE FROM devices;"
        "DELETE FROM groups;"
        "DELETE FROM iommu_compatible;"
        "DELETE FROM iommus;"
        "DELETE FROM meta;";

static const char sql_ins_group[] = "INSERT INTO groups (id, why) VALUES (?1, ?2)";
static const char sql_ins_device[] =
        "INSERT INTO devices (id, path, node_name, reg_note, pci_host, has_iommu_map_mask, "
        "iommu_map_mask, is_interrupt_controller, is_iommu, is_xen_console, xen_passthrough, "
        "is_gpio_controller, is_memory, coverage, dma, dma_source, assignable, reason, group_id, "
        "dom0_hidden, fault, is_msi_controller) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
        "?18, ?19, ?20, ?21, ?22)";
static const char sql_ins_compat[] =
        "INSERT INTO device_compatible (device_id, idx, value) VALUES (?1, ?2, ?3)";
static const char sql_ins_region[] =
        "INSERT INTO regions (device_id, idx, base, size) VALUES (?1, ?2, ?3, ?4)";
static const char sql_ins_irq[] =
        "INSERT INTO interrupts (device_id, idx, class, hwirq, type, controller) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_ins_link[] =
        "INSERT INTO iommu_links (device_id, idx, iommu, ids) VALUES (?1, ?2, ?3, ?4)";
static const char sql_ins_map[] =
        "INSERT INTO iommu_map (device_id, idx, rid_base, iommu, iommu_base, length) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_ins_gap[] =
        "INSERT INTO rid_gaps (device_id, idx, rid_base, count) VALUES (?1, ?2, ?3, ?4)";
static const char sql_ins_member[] =
        "INSERT INTO group_members (group_id, idx, device_id) VALUES (?1, ?2, ?3)";
static const char sql_ins_iommu[] =
        "INSERT INTO iommus (id, path, enabled, kind, iommu_cells) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_ins_iommu_compat[] =
        "INSERT INTO iommu_compatible (iommu_id, idx, value) VALUES (?1, ?2, ?3)";
static const char sql_ins_meta[] = "INSERT INTO meta (key, value) VALUES (?1, ?2)";

static const char sql_get_meta[] = "SELECT value FROM meta WHERE key = ?1";
static const char sql_count_devices[] =
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), -1) FROM devices";
static const char sql_count_iommus[] =
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), -1) FROM iommus";
static const char sql_count_groups[] =
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), -1) FROM groups";
static const char sql_load_devices[] =
        "SELECT id, path, node_name, reg_note, pci_host, has_iommu_map_mask, iommu_map_mask, "
        "is_interrupt_controller, is_iommu, is_xen_console, xen_passthrough, is_gpio_controller, "
        "is_memory, coverage, dma, dma_source, assignable, reason, group_id, dom0_hidden, fault, "
        "is_msi_controller FROM devices ORDER BY id";
static const char sql_load_compat[] =
        "SELECT device_id, idx, value FROM device_compatible ORDER BY device_id, idx";
static const char sql_load_regions[] =
        "SELECT device_id, idx, base, size FROM regions ORDER BY device_id, idx";
static const char sql_load_irqs[] =
        "SELECT device_id, idx, class, hwirq, type, controller FROM interrupts "
        "ORDER BY device_id, idx";
static const char sql_load_links[] =
        "SELECT device_id, idx, iommu, ids FROM iommu_links ORDER BY device_id, idx";
static const char sql_load_map[] =
        "SELECT device_id, idx, rid_base, iommu, iommu_base, length FROM iommu_map "
        "ORDER BY device_id, idx";
static const char sql_load_gaps[] =
        "SELECT device_id, idx, rid_base, count FROM rid_gaps ORDER BY device_id, idx";
static const char sql_load_iommus[] =
        "SELECT id, path, enabled, kind, iommu_cells FROM iommus ORDER BY id";
static const char sql_load_iommu_compat[] =
        "SELECT iommu_id, idx, value FROM iommu_compatible ORDER BY iommu_id, idx";
static const char sql_load_groups[] = "SELECT id, why FROM groups ORDER BY id";
static const char sql_load_members[] =
        "SELECT group_id, idx, device_id FROM group_members ORDER BY group_id, idx";

/* ---- storing ------------------------------------------------------------ */

static int check_inventory(const struct dt_inventory *inv, const char *tables_digest)
{
        if (!memchr(inv->sha256, '\0', sizeof(inv->sha256)) || !inv->sha256[0])
                return -EINVAL;
        if (tables_digest && strlen(tables_digest) > 64)
                return -EINVAL;
        if (inv->n_devices > INT32_MAX || inv->n_groups > INT32_MAX || inv->n_iommus > INT32_MAX)
                return -E2BIG;
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct dt_device *d = &inv->devices[i];

                if (!d->path)
                        return -EINVAL;
                if (d->group < -1 || (d->group >= 0 && (size_t)d->group >= inv->n_groups))
                        return -EINVAL;
                if (!dt_coverage_to_string(d->coverage) || !dt_dma_to_string(d->dma))
                        return -EINVAL;
                for (size_t j = 0; j < d->n_irqs; j++)
                        if (!dt_irq_class_to_string(d->irqs[j].cls))
                                return -EINVAL;
        }
        for (size_t i = 0; i < inv->n_groups; i++)
                for (size_t j = 0; j < inv->groups[i].n_members; j++)
                        if (inv->groups[i].members[j] >= inv->n_devices)
                                return -EINVAL;
        for (size_t i = 0; i < inv->n_iommus; i++)
                if (!inv->iommus[i].path || !dt_iommu_kind_to_string(inv->iommus[i].kind))
                        return -EINVAL;
        return 0;
}

/* "[1,2,3]": the IDs as a JSON array, readable with the sqlite3 shell's json_each(). */
static char *ids_to_json(const uint32_t *ids, size_t n)
{
        size_t len = 3 + n * 11, o = 0;
        char *s;

        if (n > (SIZE_MAX - 3) / 11)
                return NULL;
        s = malloc(len);
        if (!s)
                return NULL;
        s[o++] = '[';
        for (size_t i = 0; i < n; i++)
                o += snprintf(s + o, len - o, "%s%" PRIu32, i ? "," : "", ids[i]);
        s[o++] = ']';
        s[o] = '\0';
        return s;
}

static int store_strv(struct db *db, const char *sql, int64_t owner, char **v)
{
        int r;

        for (size_t j = 0; v && v[j]; j++) {
                r = db_execf(db, sql, "insert compatible", "Iit", owner, (int)j, v[j]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int store_device(struct db *db, int64_t id, const struct dt_device *d)
{
        int r;

        r = db_execf(db, sql_ins_device, "insert device", "Itttbbubbbbbbtttbtgbtb", id, d->path,
                     d->node_name, d->reg_note, d->pci_host, d->has_iommu_map_mask,
                     d->iommu_map_mask, d->is_interrupt_controller, d->is_iommu,
                     d->is_xen_console, d->xen_passthrough, d->is_gpio_controller, d->is_memory,
                     dt_coverage_to_string(d->coverage),
                     dt_dma_to_string(d->dma), d->dma_source, d->assignable, d->reason, d->group,
                     d->dom0_hidden, d->fault, d->is_msi_controller);
        if (r < 0)
                return r;
        r = store_strv(db, sql_ins_compat, id, d->compatible);
        if (r < 0)
                return r;
        for (size_t j = 0; j < d->n_regions; j++) {
                /* Same 64 bits: 0xffffffffffff0000 is stored as a negative INTEGER. */
                r = db_execf(db, sql_ins_region, "insert region", "IiII", id, (int)j,
                             (int64_t)d->regions[j].base, (int64_t)d->regions[j].size);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < d->n_irqs; j++) {
                const struct dt_irq *q = &d->irqs[j];

                r = db_execf(db, sql_ins_irq, "insert interrupt", "Iituut", id, (int)j,
                             dt_irq_class_to_string(q->cls), q->hwirq, q->type, q->controller);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < d->n_iommus; j++) {
                _cleanup_free_ char *ids = ids_to_json(d->iommus[j].ids, d->iommus[j].n_ids);

                if (!ids)
                        return -ENOMEM;
                r = db_execf(db, sql_ins_link, "insert iommu link", "Iitt", id, (int)j,
                             d->iommus[j].iommu, ids);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < d->n_iommu_map; j++) {
                const struct dt_iommu_map_entry *m = &d->iommu_map[j];

                r = db_execf(db, sql_ins_map, "insert iommu-map", "Iiutuu", id, (int)j,
                             m->rid_base, m->iommu, m->iommu_base, m->length);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < d->n_rid_gaps; j++) {
                r = db_execf(db, sql_ins_gap, "insert rid gap", "Iiuu", id, (int)j,
                             d->rid_gaps[j].rid_base, d->rid_gaps[j].count);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int inventory_replace(struct db *db, const struct dt_inventory *inv,
                             const char *tables_digest)
{
        char now[32];
        int r;

        r = db_exec(db, sql_clear_inventory);
        if (r < 0)
                return r;
        /* Groups first: devices.group_id refers to them. */
        for (size_t i = 0; i < inv->n_groups; i++) {
                r = db_execf(db, sql_ins_group, "insert group", "It", (int64_t)i,
                             inv->groups[i].why);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                r = store_device(db, (int64_t)i, &inv->devices[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < inv->n_groups; i++)
                for (size_t j = 0; j < inv->groups[i].n_members; j++) {
                        r = db_execf(db, sql_ins_member, "insert group member", "IiI",
                                     (int64_t)i, (int)j, (int64_t)inv->groups[i].members[j]);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < inv->n_iommus; i++) {
                const struct dt_iommu *m = &inv->iommus[i];

                r = db_execf(db, sql_ins_iommu, "insert iommu", "Itbtu", (int64_t)i, m->path,
                             m->enabled, dt_iommu_kind_to_string(m->kind), m->iommu_cells);
                if (r >= 0)
                        r = store_strv(db, sql_ins_iommu_compat, (int64_t)i, m->compatible);
                if (r < 0)
                        return r;
        }
        snprintf(now, sizeof(now), "%" PRId64, db_now());
        r = db_execf(db, sql_ins_meta, "insert meta", "tt", "dtb_sha256", inv->sha256);
        if (r >= 0)
                r = db_execf(db, sql_ins_meta, "insert meta", "tt", "tables_digest",
                             tables_digest ? tables_digest : "");
        if (r >= 0)
                r = db_execf(db, sql_ins_meta, "insert meta", "tt", "scanned_at", now);
        if (r >= 0 && inv->model)
                r = db_execf(db, sql_ins_meta, "insert meta", "tt", "model", inv->model);
        return r;
}

int db_inventory_replace(struct db *db, const struct dt_inventory *inv, const char *tables_digest)
{
        int r;

        if (!db || !inv)
                return -EINVAL;
        r = check_inventory(inv, tables_digest);
        if (r < 0)
                return r;
        return DB_TX(db, inventory_replace(db, inv, tables_digest));
}

/* ---- loading ------------------------------------------------------------ */

/* meta value for key: 1 and *ret (may be NULL), or 0 if absent. */
static int get_meta(struct db *db, const char *key, char **ret)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = db_stmt(db, sql_get_meta, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "t", key);
        if (r < 0)
                return r;
        r = db_step_row(db, s, "get meta");
        if (r <= 0)
                return r;
        r = db_column_strdup(s, 0, ret);
        return r < 0 ? r : 1;
}

/* Row count of a table whose ids must be exactly 0..count-1 (inventory indexes). */
static int count_dense(struct db *db, const char *sql, size_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int64_t n, lo, hi;
        int r;

        r = db_stmt(db, sql, &s);
        if (r < 0)
                return r;
        r = db_step_row(db, s, "count");
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        n = sqlite3_column_int64(s, 0);
        lo = sqlite3_column_int64(s, 1);
        hi = sqlite3_column_int64(s, 2);
        if (n < 0 || n > INT32_MAX || (n > 0 && (lo != 0 || hi != n - 1)))
                return -EUCLEAN;
        *ret = (size_t)n;
        return 0;
}

/*
 * Append one zeroed element to *arr (of *n elements) at position idx,
 * which must be exactly *n: stored lists are dense and in order.
 */
static int push(void *arr, size_t *n, size_t elsz, size_t idx)
{
        void **a = arr;
        void *p;

        if (idx != *n)
                return -EUCLEAN;
        if (*n >= SIZE_MAX / elsz - 1)
                return -ENOMEM;
        p = realloc(*a, (*n + 1) * elsz);
        if (!p)
                return -ENOMEM;
        memset((char *)p + *n * elsz, 0, elsz);
        *a = p;
        (*n)++;
        return 0;
}
#define PUSH(arr, n, idx) push(&(arr), &(n), sizeof(*(arr)), (idx))

/* Parse the strict "[n,n,...]" produced by ids_to_json. */
static int ids_from_json(const char *s, uint32_t **ret, size_t *n)
{
        uint32_t *ids = NULL;
        size_t cnt = 0;
        const char *p = s;

        if (!p || *p++ != '[')
                return -EUCLEAN;
        while (*p == ' ')
                p++;
        if (*p == ']')
                goto end;
        for (;;) {
                uint64_t v = 0;

                while (*p == ' ')
                        p++;
                if (*p < '0' || *p > '9')
                        goto bad;
                for (; *p >= '0' && *p <= '9'; p++) {
                        v = v * 10 + (uint64_t)(*p - '0');
                        if (v > UINT32_MAX)
                                goto bad;
                }
                if (PUSH(ids, cnt, cnt) < 0) {
                        free(ids);
                        return -ENOMEM;
                }
                ids[cnt - 1] = (uint32_t)v;
                while (*p == ' ')
                        p++;
                if (*p == ']')
                        break;
                if (*p++ != ',')
                        goto bad;
        }
end:
        if (p[1] != '\0')
                goto bad;
        *ret = ids;
        *n = cnt;
        return 0;
bad:
        free(ids);
        return -EUCLEAN;
}

static int enum_column(sqlite3_stmt *s, int i, int (*from_string)(const char *))
{
        const char *v = (const char *)sqlite3_column_text(s, i);
        int r;

        if (!v)
                return -EUCLEAN;
        r = from_string(v);
        return r < 0 ? -EUCLEAN : r;
}

/* Append column col to the NULL-terminated vector *v at position idx. */
static int strv_push(char ***v, size_t idx, sqlite3_stmt *s, int col)
{
        size_t n = 0;
        char **p;
        char *c;
        int r;

        while (*v && (*v)[n])
                n++;
        if (idx != n)
                return -EUCLEAN;
        r = db_column_strdup(s, col, &c);
        if (r < 0)
                return r;
        if (!c)
                return -EUCLEAN;
        p = realloc(*v, (n + 2) * sizeof(char *));
        if (!p) {
                free(c);
                return -ENOMEM;
        }
        p[n] = c;
        p[n + 1] = NULL;
        *v = p;
        return 0;
}

/* dt.h promises a NULL-terminated vector, empty included. */
static int strv_ensure(char ***v)
{
        if (!*v) {
                *v = calloc(1, sizeof(char *));
                if (!*v)
                        return -ENOMEM;
        }
        return 0;
}

/*
 * Rows of a child table come as (owner, idx, values...) ordered by owner
 * and idx; add() appends the values to the owner's list at idx.
 */
typedef int (*child_add_fn)(struct dt_inventory *inv, size_t owner, size_t idx, sqlite3_stmt *s);

static int load_children(struct db *db, struct dt_inventory *inv, const char *sql,
                         size_t n_owners, child_add_fn add)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = db_stmt(db, sql, &s);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "load inventory")) > 0) {
                int64_t o = sqlite3_column_int64(s, 0), idx = sqlite3_column_int64(s, 1);

                if (o < 0 || (uint64_t)o >= n_owners || idx < 0)
                        return -EUCLEAN;
                r = add(inv, (size_t)o, (size_t)idx, s);
                if (r < 0)
                        return r;
        }
        return r;
}

static int add_compat(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        return strv_push(&inv->devices[o].compatible, idx, s, 2);
}

static int add_region(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        struct dt_device *d = &inv->devices[o];
        int r;

        if (sqlite3_column_type(s, 2) != SQLITE_INTEGER ||
            sqlite3_column_type(s, 3) != SQLITE_INTEGER)
                return -EUCLEAN;
        r = PUSH(d->regions, d->n_regions, idx);
        if (r < 0)
                return r;
        /* The same 64 bits that were stored: negative INTEGERs are addresses >= 2^63. */
        d->regions[idx].base = (uint64_t)sqlite3_column_int64(s, 2);
        d->regions[idx].size = (uint64_t)sqlite3_column_int64(s, 3);
        return 0;
}

static int add_irq(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        struct dt_device *d = &inv->devices[o];
        struct dt_irq *q;
        int r, cls;

        r = PUSH(d->irqs, d->n_irqs, idx);
        if (r < 0)
                return r;
        q = &d->irqs[idx];
        cls = enum_column(s, 2, dt_irq_class_from_string);
        if (cls < 0)
                return cls;
        q->cls = cls;
        r = db_column_u32(s, 3, &q->hwirq);
        if (r >= 0)
                r = db_column_u32(s, 4, &q->type);
        if (r >= 0)
                r = db_column_strdup(s, 5, &q->controller);
        return r;
}

static int add_link(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        struct dt_device *d = &inv->devices[o];
        struct dt_iommu_link *l;
        int r;

        r = PUSH(d->iommus, d->n_iommus, idx);
        if (r < 0)
                return r;
        l = &d->iommus[idx];
        r = db_column_strdup(s, 2, &l->iommu);
        if (r >= 0)
                r = ids_from_json((const char *)sqlite3_column_text(s, 3), &l->ids, &l->n_ids);
        return r;
}

static int add_map(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        struct dt_device *d = &inv->devices[o];
        struct dt_iommu_map_entry *m;
        int r;

        r = PUSH(d->iommu_map, d->n_iommu_map, idx);
        if (r < 0)
                return r;
        m = &d->iommu_map[idx];
        r = db_column_u32(s, 2, &m->rid_base);
        if (r >= 0)
                r = db_column_strdup(s, 3, &m->iommu);
        if (r >= 0)
                r = db_column_u32(s, 4, &m->iommu_base);
        if (r >= 0)
                r = db_column_u32(s, 5, &m->length);
        return r;
}

static int add_gap(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        struct dt_device *d = &inv->devices[o];
        int r;

        r = PUSH(d->rid_gaps, d->n_rid_gaps, idx);
        if (r >= 0)
                r = db_column_u32(s, 2, &d->rid_gaps[idx].rid_base);
        if (r >= 0)
                r = db_column_u32(s, 3, &d->rid_gaps[idx].count);
        return r;
}

static int add_iommu_compat(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        return strv_push(&inv->iommus[o].compatible, idx, s, 2);
}

static int add_member(struct dt_inventory *inv, size_t o, size_t idx, sqlite3_stmt *s)
{
        struct dt_group *g = &inv->groups[o];
        int64_t dev = sqlite3_column_int64(s, 2);
        int r;

        if (dev < 0 || (uint64_t)dev >= inv->n_devices)
                return -EUCLEAN;
        r = PUSH(g->members, g->n_members, idx);
        if (r >= 0)
                g->members[idx] = (size_t)dev;
        return r;
}

static int load_devices(struct db *db, struct dt_inventory *inv)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t i = 0;
        int r;

        r = db_stmt(db, sql_load_devices, &s);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "load devices")) > 0) {
                struct dt_device *d;
                int v;

                if (i >= inv->n_devices || sqlite3_column_int64(s, 0) != (int64_t)i)
                        return -EUCLEAN;
                d = &inv->devices[i++];
                r = db_column_strdup(s, 1, &d->path);
                if (r >= 0)
                        r = db_column_strdup(s, 2, &d->node_name);
                if (r >= 0)
                        r = db_column_strdup(s, 3, &d->reg_note);
                if (r >= 0)
                        r = db_column_bool(s, 4, &d->pci_host);
                if (r >= 0)
                        r = db_column_bool(s, 5, &d->has_iommu_map_mask);
                if (r >= 0)
                        r = db_column_u32(s, 6, &d->iommu_map_mask);
                if (r >= 0)
                        r = db_column_bool(s, 7, &d->is_interrupt_controller);
                if (r >= 0)
                        r = db_column_bool(s, 8, &d->is_iommu);
                if (r >= 0)
                        r = db_column_bool(s, 9, &d->is_xen_console);
                if (r >= 0)
                        r = db_column_bool(s, 10, &d->xen_passthrough);
                if (r >= 0)
                        r = db_column_bool(s, 11, &d->is_gpio_controller);
                if (r >= 0)
                        r = db_column_bool(s, 12, &d->is_memory);
                if (r >= 0 && (r = v = enum_column(s, 13, dt_coverage_from_string)) >= 0)
                        d->coverage = v;
                if (r >= 0 && (r = v = enum_column(s, 14, dt_dma_from_string)) >= 0)
                        d->dma = v;
                if (r >= 0)
                        r = db_column_strdup(s, 15, &d->dma_source);
                if (r >= 0)
                        r = db_column_bool(s, 16, &d->assignable);
                if (r >= 0)
                        r = db_column_strdup(s, 17, &d->reason);
                if (r >= 0)
                        r = db_column_bool(s, 19, &d->dom0_hidden);
                if (r >= 0)
                        r = db_column_strdup(s, 20, &d->fault);
                if (r >= 0)
                        r = db_column_bool(s, 21, &d->is_msi_controller);
                if (r < 0)
                        return r;
                if (!d->path)
                        return -EUCLEAN;
                if (sqlite3_column_type(s, 18) == SQLITE_NULL)
                        d->group = -1;
                else {
                        int64_t g = sqlite3_column_int64(s, 18);

                        if (g < 0 || (uint64_t)g >= inv->n_groups)
                                return -EUCLEAN;
                        d->group = (int)g;
                }
        }
        if (r < 0)
                return r;
        return i == inv->n_devices ? 0 : -EUCLEAN;
}

static int load_iommus(struct db *db, struct dt_inventory *inv)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t i = 0;
        int r;

        r = db_stmt(db, sql_load_iommus, &s);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "load iommus")) > 0) {
                struct dt_iommu *m;
                int kind;

                if (i >= inv->n_iommus || sqlite3_column_int64(s, 0) != (int64_t)i)
                        return -EUCLEAN;
                m = &inv->iommus[i++];
                r = db_column_strdup(s, 1, &m->path);
                if (r >= 0)
                        r = db_column_bool(s, 2, &m->enabled);
                if (r >= 0 && (r = kind = enum_column(s, 3, dt_iommu_kind_from_string)) >= 0)
                        m->kind = kind;
                if (r >= 0)
                        r = db_column_u32(s, 4, &m->iommu_cells);
                if (r < 0)
                        return r;
                if (!m->path)
                        return -EUCLEAN;
        }
        if (r < 0)
                return r;
        return i == inv->n_iommus ? 0 : -EUCLEAN;
}

static int load_groups(struct db *db, struct dt_inventory *inv)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t i = 0;
        int r;

        r = db_stmt(db, sql_load_groups, &s);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "load groups")) > 0) {
                if (i >= inv->n_groups || sqlite3_column_int64(s, 0) != (int64_t)i)
                        return -EUCLEAN;
                r = db_column_strdup(s, 1, &inv->groups[i++].why);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return i == inv->n_groups ? 0 : -EUCLEAN;
}

static int load_all(struct db *db, struct dt_inventory *inv)
{
        size_t nd = inv->n_devices;
        int r;

        r = load_devices(db, inv);
        if (r >= 0)
                r = load_iommus(db, inv);
        if (r >= 0)
                r = load_groups(db, inv);
        if (r >= 0)
                r = load_children(db, inv, sql_load_compat, nd, add_compat);
        if (r >= 0)
                r = load_children(db, inv, sql_load_regions, nd, add_region);
        if (r >= 0)
                r = load_children(db, inv, sql_load_irqs, nd, add_irq);
        if (r >= 0)
                r = load_children(db, inv, sql_load_links, nd, add_link);
        if (r >= 0)
                r = load_children(db, inv, sql_load_map, nd, add_map);
        if (r >= 0)
                r = load_children(db, inv, sql_load_gaps, nd, add_gap);
        if (r >= 0)
                r = load_children(db, inv, sql_load_iommu_compat, inv->n_iommus,
                                  add_iommu_compat);
        if (r >= 0)
                r = load_children(db, inv, sql_load_members, inv->n_groups, add_member);
        for (size_t i = 0; r >= 0 && i < inv->n_devices; i++)
                r = strv_ensure(&inv->devices[i].compatible);
        for (size_t i = 0; r >= 0 && i < inv->n_iommus; i++)
                r = strv_ensure(&inv->iommus[i].compatible);
        return r;
}

static int inventory_load(struct db *db, struct dt_inventory **ret)
{
        _cleanup_inventory_ struct dt_inventory *inv = NULL;
        _cleanup_free_ char *sha = NULL;
        size_t n_dev, n_iommu, n_group;
        int r;

        r = get_meta(db, "dtb_sha256", &sha);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (!sha || strlen(sha) >= sizeof(inv->sha256))
                return -EUCLEAN;
        r = count_dense(db, sql_count_devices, &n_dev);
        if (r >= 0)
                r = count_dense(db, sql_count_iommus, &n_iommu);
        if (r >= 0)
                r = count_dense(db, sql_count_groups, &n_group);
        if (r < 0)
                return r;

        inv = calloc(1, sizeof(*inv));
        if (!inv)
                return -ENOMEM;
        if (n_dev) {
                inv->devices = calloc(n_dev, sizeof(*inv->devices));
                if (!inv->devices)
                        return -ENOMEM;
                inv->n_devices = n_dev;
        }
        if (n_iommu) {
                inv->iommus = calloc(n_iommu, sizeof(*inv->iommus));
                if (!inv->iommus)
                        return -ENOMEM;
                inv->n_iommus = n_iommu;
        }
        if (n_group) {
                inv->groups = calloc(n_group, sizeof(*inv->groups));
                if (!inv->groups)
                        return -ENOMEM;
                inv->n_groups = n_group;
        }
        strcpy(inv->sha256, sha);
        r = get_meta(db, "model", &inv->model);
        if (r < 0)
                return r;

        r = load_all(db, inv);
        if (r < 0)
                return r;
        *ret = steal_ptr(inv);
        return 0;
}

int db_inventory_load(struct db *db, struct dt_inventory **ret)
{
        int r;

        if (!db || !ret)
                return -EINVAL;
        r = db_read_begin(db);
        if (r < 0)
                return r;
        r = inventory_load(db, ret);
        db_read_end(db);
        return r;
}

int db_inventory_digests(struct db *db, char sha256[65], char tables_digest[65])
{
        _cleanup_free_ char *sha = NULL, *tables = NULL;
        int r;

        if (!db)
                return -EINVAL;
        r = get_meta(db, "dtb_sha256", &sha);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        r = get_meta(db, "tables_digest", &tables);
        if (r < 0)
                return r;
        if (!sha || strlen(sha) > 64 || (tables && strlen(tables) > 64))
                return -EUCLEAN;
        if (sha256)
                strcpy(sha256, sha);
        if (tables_digest)
                strcpy(tables_digest, tables ? tables : "");
        return 0;
}
