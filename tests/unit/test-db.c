/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the database layer (db/): opening, migrating and refusing
 * files (too new, corrupt), the inventory round trip (a hand-built
 * inventory with every field set, then every scanned DTB available),
 * admin policy and its survival across rescans and restarts, leases with
 * the one-active-lease-per-device guard, nested transactions, the audit
 * log, and durability of a commit when the process dies without closing.
 *
 * Everything runs in a private temporary directory that is removed at
 * the end.  The scanned round trips need $SHARED_DTB_DIR / $TEST_DATA_DIR;
 * without them those parts are reported as skipped and the rest still runs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "classify.h"
#include "db-private.h"
#include "db.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test-db.XXXXXX";

static char *tpath(const char *name)
{
        char *p = strdup_printf("%s/%s", tmpdir, name);

        if (!p)
                abort();
        return p;
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Run SQL on the file behind db's back, as an administrator or a bug
 * would.  A failure inside an explicit BEGIN is rolled back by the close.
 */
static int raw_exec(const char *path, const char *sql)
{
        sqlite3 *c = NULL;
        int rc;

        rc = sqlite3_open(path, &c);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
        sqlite3_close(c);
        return rc;
}

static int64_t raw_int(const char *path, const char *sql)
{
        sqlite3 *c = NULL;
        sqlite3_stmt *s = NULL;
        int64_t v = INT64_MIN;

        if (sqlite3_open(path, &c) == SQLITE_OK &&
            sqlite3_prepare_v2(c, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
                v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(c);
        return v;
}

/* ---- comparing inventories ---------------------------------------------- */

/* First difference between two inventories, as text, or NULL if equal. */
static char diff[512];

#define DIFF(...)                                                                    \
        do {                                                                         \
                snprintf(diff, sizeof(diff), __VA_ARGS__);                           \
                return diff;                                                         \
        } while (0)

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || streq(a, b);
}

/* A NULL vector and an empty one mean the same ("no compatible"). */
static bool strv_eq(char **a, char **b)
{
        size_t i = 0;

        for (; a && a[i] && b && b[i]; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return !(a && a[i]) && !(b && b[i]);
}

static const char *device_diff(const struct dt_device *a, const struct dt_device *b)
{
        const char *p = a->path;

        if (!str_eq(a->path, b->path))
                DIFF("path %s vs %s", a->path, b->path);
        if (!strv_eq(a->compatible, b->compatible))
                DIFF("%s: compatible", p);
        if (!str_eq(a->node_name, b->node_name))
                DIFF("%s: node_name", p);
        if (!str_eq(a->reg_note, b->reg_note))
                DIFF("%s: reg_note", p);
        if (a->n_regions != b->n_regions)
                DIFF("%s: n_regions %zu vs %zu", p, a->n_regions, b->n_regions);
        for (size_t i = 0; i < a->n_regions; i++)
                if (a->regions[i].base != b->regions[i].base ||
                    a->regions[i].size != b->regions[i].size)
                        DIFF("%s: region %zu %#" PRIx64 "+%#" PRIx64 " vs %#" PRIx64 "+%#" PRIx64,
                             p, i, a->regions[i].base, a->regions[i].size, b->regions[i].base,
                             b->regions[i].size);
        if (a->n_irqs != b->n_irqs)
                DIFF("%s: n_irqs", p);
        for (size_t i = 0; i < a->n_irqs; i++)
                if (a->irqs[i].cls != b->irqs[i].cls || a->irqs[i].hwirq != b->irqs[i].hwirq ||
                    a->irqs[i].type != b->irqs[i].type ||
                    !str_eq(a->irqs[i].controller, b->irqs[i].controller))
                        DIFF("%s: irq %zu", p, i);
        if (a->n_iommus != b->n_iommus)
                DIFF("%s: n_iommus", p);
        for (size_t i = 0; i < a->n_iommus; i++) {
                if (!str_eq(a->iommus[i].iommu, b->iommus[i].iommu) ||
                    a->iommus[i].n_ids != b->iommus[i].n_ids)
                        DIFF("%s: iommu link %zu", p, i);
                for (size_t j = 0; j < a->iommus[i].n_ids; j++)
                        if (a->iommus[i].ids[j] != b->iommus[i].ids[j])
                                DIFF("%s: iommu link %zu id %zu", p, i, j);
        }
        if (a->pci_host != b->pci_host)
                DIFF("%s: pci_host", p);
        if (a->n_iommu_map != b->n_iommu_map)
                DIFF("%s: n_iommu_map", p);
        for (size_t i = 0; i < a->n_iommu_map; i++)
                if (a->iommu_map[i].rid_base != b->iommu_map[i].rid_base ||
                    !str_eq(a->iommu_map[i].iommu, b->iommu_map[i].iommu) ||
                    a->iommu_map[i].iommu_base != b->iommu_map[i].iommu_base ||
                    a->iommu_map[i].length != b->iommu_map[i].length)
                        DIFF("%s: iommu_map %zu", p, i);
        if (a->has_iommu_map_mask != b->has_iommu_map_mask ||
            a->iommu_map_mask != b->iommu_map_mask)
                DIFF("%s: iommu_map_mask", p);
        if (a->n_rid_gaps != b->n_rid_gaps)
                DIFF("%s: n_rid_gaps", p);
        for (size_t i = 0; i < a->n_rid_gaps; i++)
                if (a->rid_gaps[i].rid_base != b->rid_gaps[i].rid_base ||
                    a->rid_gaps[i].count != b->rid_gaps[i].count)
                        DIFF("%s: rid_gap %zu", p, i);
        if (a->is_interrupt_controller != b->is_interrupt_controller ||
            a->is_iommu != b->is_iommu || a->is_xen_console != b->is_xen_console ||
            a->xen_passthrough != b->xen_passthrough ||
            a->is_gpio_controller != b->is_gpio_controller || a->is_memory != b->is_memory ||
            a->is_msi_controller != b->is_msi_controller)
                DIFF("%s: roles", p);
        if (!str_eq(a->fault, b->fault))
                DIFF("%s: fault", p);
        if (a->coverage != b->coverage || a->dma != b->dma || !str_eq(a->dma_source, b->dma_source))
                DIFF("%s: coverage/dma", p);
        if (a->assignable != b->assignable || !str_eq(a->reason, b->reason))
                DIFF("%s: assignable/reason", p);
        if (a->group != b->group)
                DIFF("%s: group %d vs %d", p, a->group, b->group);
        return NULL;
}

static const char *inventory_diff(const struct dt_inventory *a, const struct dt_inventory *b)
{
        const char *d;

        if (strcmp(a->sha256, b->sha256) != 0)
                DIFF("sha256");
        if (!str_eq(a->model, b->model))
                DIFF("model");
        if (a->n_devices != b->n_devices)
                DIFF("n_devices %zu vs %zu", a->n_devices, b->n_devices);
        for (size_t i = 0; i < a->n_devices; i++)
                if ((d = device_diff(&a->devices[i], &b->devices[i])))
                        return d;
        if (a->n_iommus != b->n_iommus)
                DIFF("n_iommus");
        for (size_t i = 0; i < a->n_iommus; i++)
                if (!str_eq(a->iommus[i].path, b->iommus[i].path) ||
                    !strv_eq(a->iommus[i].compatible, b->iommus[i].compatible) ||
                    a->iommus[i].enabled != b->iommus[i].enabled ||
                    a->iommus[i].kind != b->iommus[i].kind ||
                    a->iommus[i].iommu_cells != b->iommus[i].iommu_cells)
                        DIFF("iommu %zu (%s)", i, a->iommus[i].path);
        if (a->n_groups != b->n_groups)
                DIFF("n_groups %zu vs %zu", a->n_groups, b->n_groups);
        for (size_t i = 0; i < a->n_groups; i++) {
                if (!str_eq(a->groups[i].why, b->groups[i].why) ||
                    a->groups[i].n_members != b->groups[i].n_members)
                        DIFF("group %zu", i);
                for (size_t j = 0; j < a->groups[i].n_members; j++)
                        if (a->groups[i].members[j] != b->groups[i].members[j])
                                DIFF("group %zu member %zu", i, j);
        }
        return NULL;
}

/* ---- building inventories by hand --------------------------------------- */

static void *xcalloc(size_t n, size_t sz)
{
        void *p = calloc(n ? n : 1, sz);

        if (!p)
                abort();
        return p;
}

static char *xstrdup(const char *s)
{
        char *p = s ? strdup(s) : NULL;

        if (s && !p)
                abort();
        return p;
}

static char **strv(const char *a, const char *b)
{
        char **v = xcalloc(3, sizeof(char *));

        v[0] = xstrdup(a);
        v[1] = a ? xstrdup(b) : NULL;
        return v;
}

/*
 * Four devices and two IOMMUs with every field of the model set to a
 * non-default value somewhere, and values at the edges: addresses at and
 * above 2^63, UINT32_MAX IDs, NULL optional strings, an empty compatible.
 */
static struct dt_inventory *hand_inventory(void)
{
        struct dt_inventory *inv = xcalloc(1, sizeof(*inv));
        struct dt_device *d;

        strcpy(inv->sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        inv->model = xstrdup("Test board (hand-built)");
        inv->n_devices = 4;
        inv->devices = xcalloc(4, sizeof(*inv->devices));

        d = &inv->devices[0];
        d->path = xstrdup("/soc/dma@ffff0000");
        d->node_name = xstrdup("dma@ffff0000");
        d->compatible = strv("vendor,dma-v2", "vendor,dma");
        d->n_regions = 2;
        d->regions = xcalloc(2, sizeof(*d->regions));
        d->regions[0] = (struct dt_region){ 0xffffffffffff0000ull, 0x10000 };
        d->regions[1] = (struct dt_region){ 0x8000000000000000ull, 0xffffffffffffffffull };
        d->n_irqs = 3;
        d->irqs = xcalloc(3, sizeof(*d->irqs));
        d->irqs[0] = (struct dt_irq){ DT_IRQ_SPI, 32 + 988, 4, xstrdup("/soc/gic@f1010000") };
        d->irqs[1] = (struct dt_irq){ DT_IRQ_PPI, 16 + 9, 0xf08, xstrdup("/soc/gic@f1010000") };
        d->irqs[2] = (struct dt_irq){ DT_IRQ_NOT_GIC, 0, 0, xstrdup("/soc/gpc@303a0000") };
        d->n_iommus = 2;
        d->iommus = xcalloc(2, sizeof(*d->iommus));
        d->iommus[0].iommu = xstrdup("/soc/iommu@e67b0000");
        d->iommus[0].n_ids = 3;
        d->iommus[0].ids = xcalloc(3, sizeof(uint32_t));
        d->iommus[0].ids[0] = 0;
        d->iommus[0].ids[1] = 15;
        d->iommus[0].ids[2] = UINT32_MAX;
        d->iommus[1].iommu = xstrdup("/soc/iommu@fd800000");
        d->iommus[1].n_ids = 0;         /* #iommu-cells = 0 */
        d->is_xen_console = true;
        d->xen_passthrough = true;
        d->coverage = DT_COV_PROTECTED;
        d->dma = DT_DMA_MASTER;
        d->dma_source = xstrdup("iommus");
        d->assignable = true;
        d->group = 0;

        d = &inv->devices[1];
        d->path = xstrdup("/soc/pcie@fe000000");
        d->node_name = xstrdup("pcie@fe000000");
        d->compatible = strv("vendor,pcie", NULL);
        d->reg_note = xstrdup("config space is not CPU-addressable");
        d->pci_host = true;
        d->n_iommu_map = 2;
        d->iommu_map = xcalloc(2, sizeof(*d->iommu_map));
        d->iommu_map[0] = (struct dt_iommu_map_entry){ 0, xstrdup("/soc/iommu@e67b0000"), 0x100,
                                                       0x100 };
        d->iommu_map[1] = (struct dt_iommu_map_entry){ 0x200, xstrdup("/soc/iommu@e67b0000"),
                                                       UINT32_MAX, 0xfe00 };
        d->has_iommu_map_mask = true;
        d->iommu_map_mask = 0xfff8;
        d->n_rid_gaps = 2;
        d->rid_gaps = xcalloc(2, sizeof(*d->rid_gaps));
        d->rid_gaps[0] = (struct dt_rid_gap){ 0x100, 0x100 };
        d->rid_gaps[1] = (struct dt_rid_gap){ 0x10000, UINT32_MAX - 0x10000 + 1 };
        d->coverage = DT_COV_IOMMU_DISABLED;
        d->dma = DT_DMA_UNKNOWN;
        d->assignable = false;
        d->reason = xstrdup("PCI host bridge");
        d->group = -1;

        d = &inv->devices[2];
        d->path = xstrdup("/soc/interrupt-controller@f1010000");
        d->node_name = xstrdup("interrupt-controller@f1010000");
        d->compatible = xcalloc(1, sizeof(char *));     /* empty */
        d->n_regions = 1;
        d->regions = xcalloc(1, sizeof(*d->regions));
        d->regions[0] = (struct dt_region){ 0xf1010000, 0x1000 };
        d->is_interrupt_controller = true;
        d->is_msi_controller = true;
        d->is_iommu = true;
        d->is_gpio_controller = true;
        d->is_memory = true;
        d->fault = xstrdup("node /soc/interrupt-controller@f1010000: iommus refers to phandle 0x55, "
                           "which does not exist");
        d->coverage = DT_COV_IOMMU_UNSUPPORTED;
        d->dma = DT_DMA_NONE;
        d->dma_source = xstrdup("table:arm,gic-400");
        d->reason = xstrdup("interrupt controller");
        d->group = 0;

        d = &inv->devices[3];
        d->path = xstrdup("/soc/serial@e6e88000");
        d->node_name = NULL;
        d->compatible = strv("renesas,hscif", NULL);
        d->coverage = DT_COV_NONE;
        d->dma = DT_DMA_NONE;
        d->assignable = true;
        d->group = 1;

        inv->n_iommus = 2;
        inv->iommus = xcalloc(2, sizeof(*inv->iommus));
        inv->iommus[0] = (struct dt_iommu){ xstrdup("/soc/iommu@e67b0000"),
                                            strv("renesas,ipmmu-r8a7795", "renesas,ipmmu-vmsa"),
                                            true, DT_IOMMU_IPMMU, 1 };
        inv->iommus[1] = (struct dt_iommu){ xstrdup("/soc/iommu@fd800000"),
                                            xcalloc(1, sizeof(char *)), false, DT_IOMMU_SMMU, 0 };

        inv->n_groups = 2;
        inv->groups = xcalloc(2, sizeof(*inv->groups));
        inv->groups[0].why = xstrdup("share page 0xffffffffffff0000");
        inv->groups[0].n_members = 2;
        inv->groups[0].members = xcalloc(2, sizeof(size_t));
        inv->groups[0].members[0] = 2;  /* order as given, not sorted */
        inv->groups[0].members[1] = 0;
        inv->groups[1].why = NULL;
        inv->groups[1].n_members = 1;
        inv->groups[1].members = xcalloc(1, sizeof(size_t));
        inv->groups[1].members[0] = 3;
        return inv;
}

/* A synthetic inventory of n devices the size of a large real DTB. */
static struct dt_inventory *big_inventory(size_t n)
{
        struct dt_inventory *inv = xcalloc(1, sizeof(*inv));

        strcpy(inv->sha256, "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface");
        inv->n_devices = n;
        inv->devices = xcalloc(n, sizeof(*inv->devices));
        for (size_t i = 0; i < n; i++) {
                struct dt_device *d = &inv->devices[i];

                d->path = strdup_printf("/soc/bus@%zx/device@%zx", i / 64, i * 0x1000);
                d->node_name = strdup_printf("device@%zx", i * 0x1000);
                d->compatible = strv("vendor,block", "simple-device");
                d->n_regions = 2;
                d->regions = xcalloc(2, sizeof(*d->regions));
                d->regions[0] = (struct dt_region){ 0x10000000 + i * 0x1000, 0x1000 };
                d->regions[1] = (struct dt_region){ 0x80000000 + i * 0x100, 0x100 };
                d->n_irqs = 2;
                d->irqs = xcalloc(2, sizeof(*d->irqs));
                d->irqs[0] = (struct dt_irq){ DT_IRQ_SPI, 32 + (uint32_t)i, 4, xstrdup("/gic") };
                d->irqs[1] = (struct dt_irq){ DT_IRQ_SPI, 33 + (uint32_t)i, 4, xstrdup("/gic") };
                d->n_iommus = 1;
                d->iommus = xcalloc(1, sizeof(*d->iommus));
                d->iommus[0].iommu = xstrdup("/smmu");
                d->iommus[0].n_ids = 1;
                d->iommus[0].ids = xcalloc(1, sizeof(uint32_t));
                d->iommus[0].ids[0] = (uint32_t)i;
                d->coverage = DT_COV_PROTECTED;
                d->dma = DT_DMA_MASTER;
                d->dma_source = xstrdup("iommus");
                d->assignable = true;
                d->group = -1;
        }
        return inv;
}

/* ---- tests -------------------------------------------------------------- */

static void test_open_migrate(void)
{
        _cleanup_free_ char *path = tpath("a/b/c/inventory.db");
        _cleanup_free_ char *dir = tpath("a/b");
        _cleanup_free_ char *err = NULL;
        struct db *db = NULL;
        struct stat st;
        int r;

        r = db_open(path, &db, &err);
        CHECK_MSG(r == 0, "db_open: %d %s", r, err ? err : "");
        if (r < 0)
                return;
        CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
        CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0750);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
        CHECK_INT(db_policy_set(db, "/marker", DT_DMA_NONE, DB_POLICY_UNSET, "x", 0), 0);
        {
                /* SQLite gives the WAL the database file's mode. */
                _cleanup_free_ char *wal = tpath("a/b/c/inventory.db-wal");

                CHECK(stat(wal, &st) == 0 && (st.st_mode & 07777) == 0640);
        }
        db_close(db);
        db = NULL;

        CHECK_INT(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'leases'"), 1);
        /* WAL is a property of the file: a plain connection sees it. */
        CHECK_INT(raw_int(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);

        /* Reopening migrates nothing: the data is there, the version unchanged. */
        r = db_open(path, &db, &err);
        CHECK_MSG(r == 0, "reopen: %d %s", r, err ? err : "");
        if (r < 0)
                return;
        CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
        {
                struct db_policy p;

                CHECK_INT(db_policy_get(db, "/marker", &p), 0);
                CHECK_STR(p.note, "x");
                db_policy_clear(&p);
        }
        db_close(db);

        /* A symlink at the path is refused (O_NOFOLLOW, SQLITE_OPEN_NOFOLLOW). */
        {
                _cleanup_free_ char *link = tpath("link.db");
                _cleanup_free_ char *err2 = NULL;

                CHECK(symlink(path, link) == 0);
                db = NULL;
                CHECK(db_open(link, &db, &err2) < 0);
                CHECK(db == NULL);
                CHECK(err2 != NULL);
        }
        db_close(NULL);  /* takes NULL */
}

/*
 * Upgrade from schema 1 (made by dropping what migrations 2 to 4 add): only the
 * missing migration runs and existing data stays.  A migration that fails
 * leaves the previous version and content exactly as they were.
 */
static void test_upgrade(void)
{
        _cleanup_free_ char *path = tpath("v1.db");
        _cleanup_free_ char *path2 = tpath("v1-broken.db");
        _cleanup_free_ char *err = NULL;
        static const char to_v1[] =
                "BEGIN; DROP TABLE lease_steps; DROP TABLE audit_paths; DROP TABLE lease_devices;"
                "DROP TABLE leases;"
                "DROP TABLE audit;"
                "ALTER TABLE devices DROP COLUMN dom0_hidden;"
                "ALTER TABLE devices DROP COLUMN fault;"
                "ALTER TABLE devices DROP COLUMN is_msi_controller;"
                "PRAGMA user_version = 1; COMMIT;";
        struct db *db = NULL;
        struct db_policy p;

        CHECK_INT(db_open(path, &db, NULL), 0);
        CHECK_INT(db_policy_set(db, "/kept", DT_DMA_MASTER, 1, "v1 data", 0), 0);
        db_close(db);
        db = NULL;
        CHECK_INT(raw_exec(path, "INSERT INTO meta (key, value) VALUES ('dtb_sha256', 'x'),"
                                 " ('tables_digest', 'y')"), SQLITE_OK);
        CHECK_INT(raw_exec(path, to_v1), SQLITE_OK);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'leases'"), 0);
        CHECK_INT(db_open(path, &db, NULL), 0);
        if (db) {
                CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
                CHECK_INT(db_policy_get(db, "/kept", &p), 0);
                CHECK_STR(p.note, "v1 data");
                db_policy_clear(&p);
                db_close(db);
                db = NULL;
        }
        CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'leases'"), 1);
        /* Migration 3 added dom0_hidden and dropped the digest to force a rescan. */
        CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_table_info('devices')"
                                " WHERE name = 'dom0_hidden'"), 1);
        /* Migration 4 added fault and is_msi_controller (and drops the digest too). */
        CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_table_info('devices')"
                                " WHERE name IN ('fault', 'is_msi_controller')"), 2);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM meta WHERE key = 'dtb_sha256'"), 0);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM meta WHERE key = 'tables_digest'"), 1);

        CHECK_INT(db_open(path2, &db, NULL), 0);
        db_close(db);
        db = NULL;
        CHECK_INT(raw_exec(path2, to_v1), SQLITE_OK);
        /* Something in the way of migration 2: its CREATE TABLE fails. */
        CHECK_INT(raw_exec(path2, "CREATE TABLE audit (x); INSERT INTO audit VALUES (42);"),
                  SQLITE_OK);
        CHECK(db_open(path2, &db, &err) < 0);
        CHECK(db == NULL);
        CHECK_MSG(err && strstr(err, "migration to schema version 2"), "err = %s",
                  err ? err : "");
        CHECK_INT(raw_int(path2, "PRAGMA user_version"), 1);
        CHECK_INT(raw_int(path2, "SELECT count(*) FROM sqlite_master WHERE name = 'leases'"), 0);
        CHECK_INT(raw_int(path2, "SELECT x FROM audit"), 42);
}

static void test_future_version(void)
{
        _cleanup_free_ char *path = tpath("future.db");
        _cleanup_free_ char *err = NULL;
        struct db *db = NULL;
        int r;

        r = db_open(path, &db, NULL);
        CHECK_INT(r, 0);
        db_close(db);
        db = NULL;
        CHECK_INT(raw_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);

        r = db_open(path, &db, &err);
        CHECK_INT(r, -ENOTSUP);
        CHECK(db == NULL);
        CHECK_MSG(err && strstr(err, "99") && strstr(err, "newer"), "err = %s", err ? err : "");
        printf("future version refused: %s\n", err ? err : "(none)");
        /* Refusing must not have touched it. */
        CHECK_INT(raw_int(path, "PRAGMA user_version"), 99);
}

static void test_corrupt(void)
{
        _cleanup_free_ char *path = tpath("garbage.db");
        _cleanup_free_ char *path2 = tpath("damaged.db");
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        unsigned char buf[8192], back[8192];
        struct db *db = NULL;
        struct stat st;
        FILE *f;
        int r;

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (unsigned char)(i * 131 + 7);
        f = fopen(path, "w");
        CHECK(f && fwrite(buf, 1, sizeof(buf), f) == sizeof(buf));
        if (f)
                fclose(f);

        r = db_open(path, &db, &err);
        CHECK_INT(r, -EUCLEAN);
        CHECK(db == NULL);
        CHECK(err && strstr(err, "corrupt"));
        printf("garbage refused: %s\n", err ? err : "(none)");
        /* Never silently recreated: the bytes are still the garbage. */
        f = fopen(path, "r");
        CHECK(f && fread(back, 1, sizeof(back), f) == sizeof(back) &&
              memcmp(buf, back, sizeof(buf)) == 0);
        if (f)
                fclose(f);

        /* A real database with a damaged page: the header is fine, quick_check is not. */
        r = db_open(path2, &db, NULL);
        CHECK_INT(r, 0);
        if (r == 0) {
                _cleanup_inventory_ struct dt_inventory *inv = big_inventory(200);

                CHECK_INT(db_inventory_replace(db, inv, "t"), 0);
                db_close(db);   /* last close checkpoints the WAL into the file */
                db = NULL;
        }
        CHECK(stat(path2, &st) == 0 && st.st_size > 16 * 4096);
        {
                int fd = open(path2, O_WRONLY);

                memset(buf, 0xa5, 4096);
                /* Pages 3..5: b-tree pages of the first tables. */
                CHECK(fd >= 0 && pwrite(fd, buf, 4096, 2 * 4096) == 4096 &&
                      pwrite(fd, buf, 4096, 4 * 4096) == 4096);
                if (fd >= 0)
                        close(fd);
        }
        r = db_open(path2, &db, &err2);
        CHECK_INT(r, -EUCLEAN);
        CHECK(err2 && strstr(err2, "corrupt"));
        printf("damaged page refused: %s\n", err2 ? err2 : "(none)");
        db_close(db);
}

static void test_inventory_roundtrip(void)
{
        _cleanup_free_ char *path = tpath("inv.db");
        _cleanup_inventory_ struct dt_inventory *inv = hand_inventory();
        _cleanup_inventory_ struct dt_inventory *back = NULL;
        _cleanup_(db_closep) struct db *db = NULL;
        char sha[65] = "untouched", tables[65] = "untouched";
        const char *d;
        int r;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        /* Nothing stored yet: -ENOENT, outputs untouched. */
        CHECK_INT(db_inventory_load(db, &back), -ENOENT);
        CHECK(back == NULL);
        CHECK_INT(db_inventory_digests(db, sha, tables), -ENOENT);
        CHECK_STR(sha, "untouched");

        r = db_inventory_replace(db, inv, "tablesdigest");
        CHECK_MSG(r == 0, "replace: %d %s", r, db_last_error(db) ? db_last_error(db) : "");
        CHECK_INT(db_inventory_load(db, &back), 0);
        if (back) {
                d = inventory_diff(inv, back);
                CHECK_MSG(!d, "hand-built round trip differs: %s", d);
                /* The stored-and-loaded copy is a proper NULL-terminated vector. */
                CHECK(back->devices[2].compatible && !back->devices[2].compatible[0]);
                CHECK_INT(back->devices[0].regions[0].base, (long long)0xffffffffffff0000ull);
        }
        /* The high address is the same 64 bits, stored as a (negative) INTEGER. */
        CHECK_INT(raw_int(path, "SELECT base FROM regions WHERE device_id = 0 AND idx = 0"),
                  (int64_t)0xffffffffffff0000ull);
        CHECK_INT(raw_int(path, "SELECT typeof(base) = 'integer' FROM regions LIMIT 1"), 1);
        CHECK_INT(db_inventory_digests(db, sha, tables), 0);
        CHECK_STR(sha, inv->sha256);
        CHECK_STR(tables, "tablesdigest");

        /* Replacing again with a smaller inventory leaves nothing of the old one. */
        {
                _cleanup_inventory_ struct dt_inventory *small = hand_inventory();
                _cleanup_inventory_ struct dt_inventory *back2 = NULL;

                dt_device_clear(&small->devices[1]);
                dt_device_clear(&small->devices[3]);
                small->devices[1] = small->devices[2];
                small->n_devices = 2;
                small->devices[1].group = -1;
                small->devices[0].group = -1;
                for (size_t i = 0; i < small->n_groups; i++) {
                        free(small->groups[i].members);
                        free(small->groups[i].why);
                }
                free(small->groups);
                small->groups = NULL;
                small->n_groups = 0;
                free(small->model);
                small->model = NULL;
                CHECK_INT(db_inventory_replace(db, small, NULL), 0);
                CHECK_INT(db_inventory_load(db, &back2), 0);
                if (back2) {
                        d = inventory_diff(small, back2);
                        CHECK_MSG(!d, "smaller inventory differs: %s", d);
                }
                CHECK_INT(db_inventory_digests(db, sha, tables), 0);
                CHECK_STR(tables, "");
                CHECK_INT(raw_int(path, "SELECT count(*) FROM regions"), 2 + 1);
        }

        /* Invalid input is refused before anything is written. */
        {
                _cleanup_inventory_ struct dt_inventory *bad = hand_inventory();

                bad->devices[0].group = 7;
                CHECK_INT(db_inventory_replace(db, bad, NULL), -EINVAL);
                bad->devices[0].group = 0;
                bad->groups[0].members[0] = 99;
                CHECK_INT(db_inventory_replace(db, bad, NULL), -EINVAL);
        }

        /* A duplicate path violates UNIQUE: -EEXIST, and the old inventory is intact. */
        {
                _cleanup_inventory_ struct dt_inventory *dup = hand_inventory();
                _cleanup_inventory_ struct dt_inventory *back3 = NULL;

                free(dup->devices[3].path);
                dup->devices[3].path = xstrdup(dup->devices[0].path);
                CHECK_INT(db_inventory_replace(db, dup, NULL), -EEXIST);
                CHECK_INT(db_inventory_load(db, &back3), 0);
                CHECK(back3 && back3->n_devices == 2);
        }

        /* Stored values that do not decode are -EUCLEAN, not patched up. */
        db_close(steal_ptr(db));
        CHECK_INT(raw_exec(path, "UPDATE devices SET coverage = 'bogus' WHERE id = 0"), SQLITE_OK);
        CHECK_INT(db_open(path, &db, NULL), 0);
        if (db) {
                _cleanup_inventory_ struct dt_inventory *back4 = NULL;

                CHECK_INT(db_inventory_load(db, &back4), -EUCLEAN);
                CHECK(back4 == NULL);
        }
}

static void test_inventory_speed(void)
{
        _cleanup_free_ char *path = tpath("big.db");
        _cleanup_inventory_ struct dt_inventory *inv = big_inventory(1000);
        _cleanup_inventory_ struct dt_inventory *back = NULL;
        _cleanup_(db_closep) struct db *db = NULL;
        double t0, t1, t2;
        const char *d;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(db_inventory_replace(db, inv, "x"), 0);     /* warm: cache the statements */
        t0 = now_ms();
        CHECK_INT(db_inventory_replace(db, inv, "x"), 0);
        t1 = now_ms();
        CHECK_INT(db_inventory_load(db, &back), 0);
        t2 = now_ms();
        if (back) {
                d = inventory_diff(inv, back);
                CHECK_MSG(!d, "synthetic inventory differs: %s", d);
        }
        printf("synthetic 1000 devices (2 regions, 2 SPIs, 1 IOMMU link each): "
               "replace %.1f ms, load %.1f ms\n", t1 - t0, t2 - t1);
}

static void test_scanned(void)
{
        const char *shared = getenv("SHARED_DTB_DIR"), *data = getenv("TEST_DATA_DIR");
        _cleanup_(classify_tables_freep) struct classify_tables *tables = NULL;
        _cleanup_free_ char *path = tpath("scanned.db");
        _cleanup_(db_closep) struct db *db = NULL;
        char *files[64];
        size_t n_files = 0, done = 0;
        DIR *dir;
        struct dirent *de;

        if (classify_tables_new(&tables) < 0) {
                CHECK(!"classify_tables_new failed");
                return;
        }
        if (data)
                files[n_files++] = strdup_printf("%s/demo-board.dtb", data);
        if (shared && (dir = opendir(shared))) {
                while ((de = readdir(dir)) && n_files < ARRAY_SIZE(files))
                        if (strlen(de->d_name) > 4 &&
                            streq(de->d_name + strlen(de->d_name) - 4, ".dtb"))
                                files[n_files++] = strdup_printf("%s/%s", shared, de->d_name);
                closedir(dir);
        } else
                printf("SKIP part: no $SHARED_DTB_DIR (%s): real DTB round trips not run\n",
                       shared ? shared : "unset");

        CHECK_INT(db_open(path, &db, NULL), 0);
        for (size_t i = 0; db && i < n_files; i++) {
                _cleanup_inventory_ struct dt_inventory *inv = NULL, *back = NULL;
                _cleanup_free_ void *blob = NULL;
                _cleanup_free_ char *err = NULL;
                size_t len;
                double t0, t1, t2;
                const char *d;
                int r;

                r = dt_read_file(files[i], &blob, &len, &err);
                if (r == -ENOENT) {
                        printf("SKIP part: %s missing\n", files[i]);
                        continue;
                }
                CHECK_MSG(r == 0, "%s: %s", files[i], err ? err : "");
                if (r < 0)
                        continue;
                r = dt_scan(blob, len, &inv, &err);
                CHECK_MSG(r == 0, "dt_scan %s: %s", files[i], err ? err : "");
                if (r < 0)
                        continue;
                CHECK_INT(classify_inventory(inv, tables), 0);
                t0 = now_ms();
                r = db_inventory_replace(db, inv, classify_tables_digest(tables));
                t1 = now_ms();
                CHECK_MSG(r == 0, "%s: replace %d %s", files[i], r,
                          db_last_error(db) ? db_last_error(db) : "");
                CHECK_INT(db_inventory_load(db, &back), 0);
                t2 = now_ms();
                if (back) {
                        d = inventory_diff(inv, back);
                        CHECK_MSG(!d, "%s: round trip differs: %s", files[i], d);
                }
                printf("%-48s %4zu devices %3zu iommus %3zu groups: replace %6.2f ms, "
                       "load %6.2f ms\n", strrchr(files[i], '/') + 1, inv->n_devices,
                       inv->n_iommus, inv->n_groups, t1 - t0, t2 - t1);
                done++;
        }
        printf("scanned round trips: %zu of %zu files\n", done, n_files);
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
}

static void test_policy(void)
{
        _cleanup_free_ char *path = tpath("policy.db");
        _cleanup_inventory_ struct dt_inventory *inv = hand_inventory();
        _cleanup_(db_closep) struct db *db = NULL;
        struct db_policy p = { .path = NULL }, *list = NULL;
        size_t n = 0;
        const char *uart = "/soc/serial@e6e88000", *dma = "/soc/dma@ffff0000";

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(db_inventory_replace(db, inv, "t"), 0);

        CHECK_INT(db_policy_get(db, uart, &p), -ENOENT);
        CHECK(p.path == NULL);
        CHECK_INT(db_policy_set(db, uart, DT_DMA_NONE, DB_POLICY_UNSET, "UART, no DMA", 1000), 0);
        CHECK_INT(db_policy_get(db, uart, &p), 0);
        CHECK_STR(p.path, uart);
        CHECK_INT(p.dma, DT_DMA_NONE);
        CHECK_INT(p.assignable, DB_POLICY_UNSET);
        CHECK_STR(p.note, "UART, no DMA");
        CHECK_INT(p.set_by_uid, 1000);
        CHECK(p.set_at > 0 && p.set_at <= time(NULL));
        CHECK(p.present);
        db_policy_clear(&p);

        /* Update one field: the other and the note stay. */
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_UNSET, 0, NULL, 0), 0);
        CHECK_INT(db_policy_get(db, uart, &p), 0);
        CHECK_INT(p.dma, DT_DMA_NONE);
        CHECK_INT(p.assignable, 0);
        CHECK_STR(p.note, "UART, no DMA");
        CHECK_INT(p.set_by_uid, 0);
        db_policy_clear(&p);
        /* "" clears the note; CLEAR removes one override. */
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_CLEAR, DB_POLICY_UNSET, "", 0), 0);
        CHECK_INT(db_policy_get(db, uart, &p), 0);
        CHECK_INT(p.dma, DB_POLICY_UNSET);
        CHECK_INT(p.assignable, 0);
        CHECK(p.note == NULL);
        db_policy_clear(&p);
        /* Clearing the last override keeps a note given with it... */
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_UNSET, DB_POLICY_CLEAR, "kept", 0), 0);
        CHECK_INT(db_policy_get(db, uart, &p), 0);
        CHECK_INT(p.dma, DB_POLICY_UNSET);
        CHECK_INT(p.assignable, DB_POLICY_UNSET);
        CHECK_STR(p.note, "kept");
        db_policy_clear(&p);
        /* ... and removing the note then deletes the row. */
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_UNSET, DB_POLICY_UNSET, "", 0), 0);
        CHECK_INT(db_policy_get(db, uart, &p), -ENOENT);
        /* A note alone is stored. */
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_UNSET, DB_POLICY_UNSET, "n", 7), 0);
        CHECK_INT(db_policy_get(db, uart, &p), 0);
        CHECK_STR(p.note, "n");
        CHECK_INT(p.set_by_uid, 7);
        db_policy_clear(&p);
        CHECK_INT(db_policy_unset(db, uart), 0);
        /* Nothing at all is not an error and stores nothing. */
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_UNSET, DB_POLICY_UNSET, NULL, 0), 0);
        CHECK_INT(db_policy_get(db, uart, &p), -ENOENT);

        /* Out-of-range values. */
        CHECK_INT(db_policy_set(db, uart, 17, DB_POLICY_UNSET, NULL, 0), -EINVAL);
        CHECK_INT(db_policy_set(db, uart, DB_POLICY_UNSET, 2, NULL, 0), -EINVAL);
        CHECK_INT(db_policy_set(db, "", DT_DMA_NONE, DB_POLICY_UNSET, NULL, 0), -EINVAL);

        /* unset removes all; -ENOENT when there is nothing. */
        CHECK_INT(db_policy_set(db, dma, DT_DMA_MASTER, 1, NULL, 0), 0);
        CHECK_INT(db_policy_unset(db, dma), 0);
        CHECK_INT(db_policy_unset(db, dma), -ENOENT);

        /* List, ordered by path, with present flags; survives a rescan without the device. */
        CHECK_INT(db_policy_set(db, uart, DT_DMA_NONE, DB_POLICY_UNSET, NULL, 0), 0);
        CHECK_INT(db_policy_set(db, dma, DB_POLICY_UNSET, 0, "broken board", 0), 0);
        CHECK_INT(db_policy_set(db, "/not/in/inventory", DT_DMA_UNKNOWN, DB_POLICY_UNSET, NULL, 0),
                  0);
        CHECK_INT(db_policy_list(db, &list, &n), 0);
        CHECK_INT(n, 3);
        if (n == 3) {
                CHECK_STR(list[0].path, "/not/in/inventory");
                CHECK(!list[0].present);
                CHECK_STR(list[1].path, dma);
                CHECK(list[1].present);
                CHECK_STR(list[2].path, uart);
                CHECK(list[2].present);
        }
        db_policy_array_free(list, n);

        /* Rescan: the UART vanished from the DTB; its policy stays, not present. */
        dt_device_clear(&inv->devices[3]);
        inv->n_devices = 3;
        inv->groups[1].n_members = 0;
        inv->sha256[0] = 'f';
        CHECK_INT(db_inventory_replace(db, inv, "t"), 0);
        CHECK_INT(db_policy_get(db, uart, &p), 0);
        CHECK_INT(p.dma, DT_DMA_NONE);
        CHECK(!p.present);
        db_policy_clear(&p);
        CHECK_INT(db_policy_get(db, dma, &p), 0);
        CHECK(p.present);
        CHECK_STR(p.note, "broken board");
        db_policy_clear(&p);

        /* And a restart. */
        db_close(steal_ptr(db));
        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(db_policy_list(db, &list, &n), 0);
        CHECK_INT(n, 3);
        db_policy_array_free(list, n);
        db_policy_array_free(NULL, 0);
        db_policy_clear(NULL);
}

static struct db_lease lease_for(const char *name, int domid, char **devs, size_t n)
{
        return (struct db_lease){
                .domain_name = (char *)name,
                .domid = domid,
                .state = DB_LEASE_RESERVED,
                .target_state = DB_LEASE_ASSIGNED,
                .uid = 0,
                .pid = 4242,
                .plan = (char *)"[{\"step\":\"iomem_permission\",\"done\":false}]",
                .options = (char *)"{\"force_unprotected\":false}",
                .devices = devs,
                .n_devices = n,
        };
}

static void test_leases(void)
{
        _cleanup_free_ char *path = tpath("lease.db");
        _cleanup_(db_closep) struct db *db = NULL;
        char *ab[] = { (char *)"/soc/a", (char *)"/soc/b" };
        char *cb[] = { (char *)"/soc/c", (char *)"/soc/b" };
        char *c[] = { (char *)"/soc/c" };
        char *dup[] = { (char *)"/soc/d", (char *)"/soc/d" };
        struct db_lease in, l = { .id = -5 }, *list = NULL;
        struct db_lease_filter f;
        int64_t id1 = 0, id2 = 0, id3 = 0, untouched = -7;
        size_t n = 0;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;

        in = lease_for("guest1", -1, ab, 2);
        CHECK_INT(db_lease_create(db, &in, &id1), 0);
        CHECK(id1 > 0);
        CHECK_INT(db_lease_get(db, id1, &l), 0);
        CHECK_INT(l.id, id1);
        CHECK_STR(l.domain_name, "guest1");
        CHECK_INT(l.domid, -1);
        CHECK_INT(l.state, DB_LEASE_RESERVED);
        CHECK_INT(l.target_state, DB_LEASE_ASSIGNED);
        CHECK(!l.forced);
        CHECK_INT(l.pid, 4242);
        CHECK(l.created_at > 0 && l.updated_at == l.created_at);
        CHECK_INT(l.expires_at, 0);
        CHECK(l.error == NULL);
        CHECK_STR(l.plan, in.plan);
        CHECK_STR(l.options, in.options);
        CHECK_INT(l.n_devices, 2);
        if (l.n_devices == 2) {
                CHECK_STR(l.devices[0], "/soc/a");
                CHECK_STR(l.devices[1], "/soc/b");
        }
        db_lease_clear(&l);
        CHECK_INT(db_lease_get(db, 999, &l), -ENOENT);

        /* The guard: /soc/b is held; the whole second lease is refused, /soc/c stays free. */
        in = lease_for(NULL, 7, cb, 2);
        CHECK_INT(db_lease_create(db, &in, &untouched), -EEXIST);
        CHECK_INT(untouched, -7);
        CHECK_INT(db_lease_find_by_device(db, "/soc/c", &l), -ENOENT);
        CHECK_INT(db_lease_find_by_device(db, "/soc/b", &l), 0);
        CHECK_INT(l.id, id1);
        db_lease_clear(&l);
        /* The guard is the schema's: SQL behind the API's back cannot break it either. */
        {
                char sql[256];

                db_close(steal_ptr(db));
                snprintf(sql, sizeof(sql),
                         "BEGIN;"
                         "INSERT INTO leases (domid, state, uid, pid, created_at, updated_at) "
                         "VALUES (3, 'assigned', 0, 0, 0, 0);"
                         "INSERT INTO lease_devices (lease_id, idx, path, active) "
                         "VALUES (last_insert_rowid(), 0, '/soc/a', 1);"
                         "COMMIT;");
                CHECK_INT(raw_exec(path, sql) & 0xff, SQLITE_CONSTRAINT);
                /* active follows the lease, both ways: by hand it moves neither way. */
                snprintf(sql, sizeof(sql),
                         "UPDATE lease_devices SET active = 0 WHERE lease_id = %" PRId64, id1);
                CHECK_INT(raw_exec(path, sql) & 0xff, SQLITE_CONSTRAINT);
                snprintf(sql, sizeof(sql),
                         "UPDATE leases SET state = 'failed' WHERE id = %" PRId64, id1);
                CHECK_INT(raw_exec(path, sql), SQLITE_OK);      /* final: the devices go */
                CHECK_INT(raw_int(path, "SELECT count(*) FROM lease_devices WHERE active = 1 "
                                        "AND path IN ('/soc/a', '/soc/b')"), 0);
                snprintf(sql, sizeof(sql),
                         "UPDATE lease_devices SET active = 1 WHERE lease_id = %" PRId64, id1);
                CHECK_INT(raw_exec(path, sql) & 0xff, SQLITE_CONSTRAINT);
                CHECK_INT(db_open(path, &db, NULL), 0);
                if (!db)
                        return;
                /* Put the test state back: a fresh lease for a and b. */
                CHECK_INT(db_lease_update(db, id1, DB_LEASE_FAILED, NULL, "test reset"), 0);
                in = lease_for("guest1", -1, ab, 2);
                CHECK_INT(db_lease_create(db, &in, &id1), 0);
        }

        /* Invalid requests. */
        in = lease_for("g", -1, dup, 2);
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        in = lease_for("g", -1, c, 0);
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        in = lease_for(NULL, -1, c, 1);
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        in = lease_for("g", 70000, c, 1);
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        in = lease_for("g", -1, c, 1);
        in.plan = (char *)"{not json";
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        in = lease_for("g", -1, c, 1);
        in.state = 42;
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        CHECK_INT(db_lease_find_by_device(db, "/soc/c", &l), -ENOENT);

        /* Update, bind, target. */
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_ASSIGNING,
                                  "[{\"step\":\"iomem_permission\",\"done\":true}]", NULL), 0);
        CHECK_INT(db_lease_bind_domid(db, id1, 5), 0);
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_NONE, NULL, "map failed: EPERM"), 0);
        CHECK_INT(db_lease_get(db, id1, &l), 0);
        CHECK_INT(l.state, DB_LEASE_ASSIGNING);
        CHECK_INT(l.domid, 5);
        CHECK_STR(l.error, "map failed: EPERM");
        CHECK_STR(l.plan, "[{\"step\":\"iomem_permission\",\"done\":true}]");
        db_lease_clear(&l);
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_ASSIGNED, NULL, ""), 0);
        CHECK_INT(db_lease_set_target(db, id1, DB_LEASE_NONE), 0);
        CHECK_INT(db_lease_get(db, id1, &l), 0);
        CHECK(l.error == NULL);
        CHECK_INT(l.target_state, DB_LEASE_NONE);
        db_lease_clear(&l);
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_NONE, "{bad", NULL), -EINVAL);
        CHECK_INT(db_lease_update(db, 999, DB_LEASE_FREE, NULL, NULL), -ENOENT);
        CHECK_INT(db_lease_bind_domid(db, 999, 1), -ENOENT);
        CHECK_INT(db_lease_bind_domid(db, id1, 65536), -EINVAL);
        CHECK_INT(db_lease_set_target(db, 999, DB_LEASE_FREE), -ENOENT);

        /* A second, independent lease. */
        in = lease_for(NULL, 9, c, 1);
        in.forced = true;
        in.expires_at = 4102444800;     /* 2100-01-01 */
        in.state = DB_LEASE_ASSIGNING;
        CHECK_INT(db_lease_create(db, &in, &id2), 0);
        CHECK_INT(db_lease_get(db, id2, &l), 0);
        CHECK(l.forced);
        CHECK_INT(l.expires_at, 4102444800);
        CHECK(l.domain_name == NULL);
        db_lease_clear(&l);

        /* Lists and filters. */
        CHECK_INT(db_lease_list(db, NULL, &list, &n), 0);
        CHECK_INT(n, 2);
        if (n == 2) {
                CHECK_INT(list[0].id, id1);
                CHECK_INT(list[1].id, id2);
                CHECK_INT(list[1].n_devices, 1);
        }
        db_lease_array_free(list, n);
        f = (struct db_lease_filter){ .state = DB_LEASE_NONE, .domid = 9 };
        CHECK_INT(db_lease_list(db, &f, &list, &n), 0);
        CHECK(n == 1 && list[0].id == id2);
        db_lease_array_free(list, n);
        f = (struct db_lease_filter){ .state = DB_LEASE_ASSIGNED, .domid = -1 };
        CHECK_INT(db_lease_list(db, &f, &list, &n), 0);
        CHECK(n == 1 && list[0].id == id1);
        db_lease_array_free(list, n);
        f = (struct db_lease_filter){ .state = DB_LEASE_NONE, .domid = -1, .domain_name = "guest1" };
        CHECK_INT(db_lease_list(db, &f, &list, &n), 0);
        CHECK(n == 1 && list[0].id == id1);
        db_lease_array_free(list, n);

        /* Final states free the devices, stay listed with include_final, and are final. */
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_RELEASING, NULL, NULL), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/a", &l), 0);
        db_lease_clear(&l);
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_FREE, NULL, NULL), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/a", &l), -ENOENT);
        CHECK_INT(db_lease_find_by_device(db, "/soc/b", &l), -ENOENT);
        CHECK_INT(db_lease_update(db, id1, DB_LEASE_ASSIGNED, NULL, NULL), -EINVAL);
        CHECK_INT(db_lease_get(db, id1, &l), 0);
        CHECK_INT(l.state, DB_LEASE_FREE);
        CHECK_INT(l.n_devices, 2);      /* history keeps the paths */
        db_lease_clear(&l);
        in = lease_for("guest2", -1, cb + 1, 1);        /* /soc/b again */
        CHECK_INT(db_lease_create(db, &in, &id3), 0);
        CHECK_INT(db_lease_update(db, id2, DB_LEASE_FAILED, NULL, "assign: EINVAL"), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/c", &l), -ENOENT);
        CHECK_INT(db_lease_list(db, NULL, &list, &n), 0);
        CHECK(n == 1 && list[0].id == id3);
        db_lease_array_free(list, n);
        f = (struct db_lease_filter){ .state = DB_LEASE_NONE, .domid = -1, .include_final = true };
        CHECK_INT(db_lease_list(db, &f, &list, &n), 0);
        CHECK_INT(n, 4);        /* the reset one, id1, id2, id3 */
        db_lease_array_free(list, n);
        f = (struct db_lease_filter){ .state = DB_LEASE_FAILED, .domid = -1 };
        CHECK_INT(db_lease_list(db, &f, &list, &n), 0);
        CHECK_INT(n, 2);        /* final state filter implies include_final */
        db_lease_array_free(list, n);

        CHECK_STR(db_lease_state_to_string(DB_LEASE_RELEASING), "releasing");
        CHECK_INT(db_lease_state_from_string("assigning"), DB_LEASE_ASSIGNING);
        CHECK_INT(db_lease_state_from_string("bogus"), -EINVAL);
        CHECK(db_lease_state_to_string(DB_LEASE_NONE) == NULL);
        db_lease_array_free(NULL, 0);
        db_lease_clear(NULL);
}

static void test_transactions(void)
{
        _cleanup_free_ char *path = tpath("tx.db");
        _cleanup_(db_closep) struct db *db = NULL;
        char *x[] = { (char *)"/x" }, *y[] = { (char *)"/y" }, *z[] = { (char *)"/z" };
        struct db_lease in, l;
        int64_t idx, idy;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(db_commit(db), -EINVAL);
        CHECK_INT(db_rollback(db), -EINVAL);

        /* Nested: the inner rollback undoes only the inner work. */
        CHECK_INT(db_begin(db), 0);
        in = lease_for("t", -1, x, 1);
        CHECK_INT(db_lease_create(db, &in, &idx), 0);
        CHECK_INT(db_begin(db), 0);
        in = lease_for("t", -1, y, 1);
        CHECK_INT(db_lease_create(db, &in, &idy), 0);
        CHECK_INT(db_rollback(db), 0);
        /* A failing write inside the outer transaction does not spoil it. */
        in = lease_for("t", -1, x, 1);
        CHECK_INT(db_lease_create(db, &in, NULL), -EEXIST);
        CHECK_INT(db_commit(db), 0);
        CHECK_INT(db_lease_find_by_device(db, "/x", &l), 0);
        db_lease_clear(&l);
        CHECK_INT(db_lease_find_by_device(db, "/y", &l), -ENOENT);

        /* Outer rollback discards everything since the outer begin. */
        CHECK_INT(db_begin(db), 0);
        in = lease_for("t", -1, z, 1);
        CHECK_INT(db_lease_create(db, &in, NULL), 0);
        CHECK_INT(db_begin(db), 0);
        CHECK_INT(db_audit_append(db, &(struct db_audit){ .action = (char *)"A",
                                                          .result = (char *)"ok" }), 0);
        CHECK_INT(db_commit(db), 0);
        CHECK_INT(db_rollback(db), 0);
        CHECK_INT(db_lease_find_by_device(db, "/z", &l), -ENOENT);
        {
                struct db_audit *a = NULL;
                size_t n = 99;

                CHECK_INT(db_audit_list(db, 0, 0, &a, &n), 0);
                CHECK_INT(n, 0);
                db_audit_array_free(a, n);
        }

        /*
         * Deeper than the prepared savepoints (DB_SAVEPOINTS): one row per
         * level; rolling the innermost two back keeps the rest.
         */
        for (int i = 0; i < DB_SAVEPOINTS + 4; i++) {
                char target[16];

                snprintf(target, sizeof(target), "level %d", i);
                CHECK_INT(db_begin(db), 0);
                CHECK_INT(db_audit_append(db, &(struct db_audit){ .action = (char *)"L",
                                                                  .target = target,
                                                                  .result = (char *)"ok" }), 0);
        }
        CHECK_INT(db_rollback(db), 0);
        CHECK_INT(db_rollback(db), 0);
        for (int i = 0; i < DB_SAVEPOINTS + 2; i++)
                CHECK_INT(db_commit(db), 0);
        {
                struct db_audit *a = NULL;
                size_t n = 0;

                CHECK_INT(db_audit_list(db, 0, 0, &a, &n), 0);
                CHECK_INT(n, DB_SAVEPOINTS + 2);
                CHECK(n > 0 && streq(a[n - 1].target, "level 9"));
                db_audit_array_free(a, n);
        }
}

static void test_audit(void)
{
        _cleanup_free_ char *path = tpath("audit.db");
        _cleanup_(db_closep) struct db *db = NULL;
        struct db_audit *a = NULL;
        size_t n = 0;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        for (int i = 1; i <= 5; i++) {
                char target[32], detail[64];

                snprintf(target, sizeof(target), "domain %d", i);
                snprintf(detail, sizeof(detail), "{\"n\":%d}", i);
                CHECK_INT(db_audit_append(db, &(struct db_audit){
                                                  .at = i == 1 ? 1000 : 0,
                                                  .uid = 1000 + i,
                                                  .pid = 100 + i,
                                                  .action = (char *)"Assign",
                                                  .target = target,
                                                  .result = (char *)(i == 3 ? "io.assignd.Broker.DeviceBusy"
                                                                            : "ok"),
                                                  .detail = detail,
                                                  .severity = (char *)(i == 4 ? "warning" : NULL),
                                          }),
                          0);
        }
        CHECK_INT(db_audit_append(db, &(struct db_audit){ .action = (char *)"X" }), -EINVAL);
        CHECK_INT(db_audit_append(db, &(struct db_audit){ .action = (char *)"X",
                                                          .result = (char *)"ok",
                                                          .severity = (char *)"debug" }),
                  -EINVAL);

        CHECK_INT(db_audit_list(db, 0, 0, &a, &n), 0);
        CHECK_INT(n, 5);
        if (n == 5) {
                CHECK(a[0].id < a[4].id);
                CHECK_INT(a[0].at, 1000);
                CHECK(a[1].at >= time(NULL) - 60);
                CHECK_INT(a[0].uid, 1001);
                CHECK_INT(a[0].pid, 101);
                CHECK_STR(a[0].action, "Assign");
                CHECK_STR(a[0].target, "domain 1");
                CHECK_STR(a[2].result, "io.assignd.Broker.DeviceBusy");
                CHECK_STR(a[0].detail, "{\"n\":1}");
                CHECK_STR(a[0].severity, "info");
                CHECK_STR(a[3].severity, "warning");
        }
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_list(db, 2, 2, &a, &n), 0);
        CHECK(n == 2 && a[0].id == 3 && a[1].id == 4);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_tail(db, 0, 2, &a, &n), 0);
        CHECK(n == 2 && a[0].id == 4 && a[1].id == 5);  /* newest last */
        db_audit_array_free(a, n);

        CHECK_INT(db_audit_prune(db, 0, 2, 0), 3);
        CHECK_INT(db_audit_prune(db, 0, 2, 0), 0);
        CHECK_INT(db_audit_append(db, &(struct db_audit){ .action = (char *)"Release",
                                                          .result = (char *)"ok" }), 0);
        CHECK_INT(db_audit_list(db, 0, 0, &a, &n), 0);
        CHECK(n == 3 && a[0].id == 4 && a[2].id == 6);  /* ids never reused */
        if (n == 3) {
                CHECK(a[2].target == NULL && a[2].detail == NULL);
                CHECK_STR(a[2].severity, "info");
        }
        db_audit_array_free(a, n);
        db_audit_array_free(NULL, 0);
        db_audit_clear(NULL);
}

/*
 * One device's history: the leases that had it (a filter on a path also
 * finds final leases) and the audit rows that name it as a word or are
 * about one of those leases, never a path it is a prefix of.
 */
static void test_device_history(void)
{
        _cleanup_free_ char *path = tpath("history.db");
        _cleanup_(db_closep) struct db *db = NULL;
        char *a_b[] = { (char *)"/soc/a_b@1", (char *)"/soc/c@2" };
        char *other[] = { (char *)"/soc/a_b@10" };
        static const char *const targets[] = {
                "domain g: /soc/a_b@1 /soc/c@2",        /* 1: names it */
                "domain g: /soc/a_b@10",                /* 2: a longer path */
                "/soc/a_b@1",                           /* 3: the path alone */
                "lease 1 (domain 3)",                   /* 4: its lease */
                "lease 10 (domain 3)",                  /* 5: another lease */
                "domain g",                             /* 6: nothing */
                "/soc/aXb@1",                           /* 7: '_' is no wildcard */
        };
        struct db_lease in, *ls = NULL;
        struct db_lease_filter f = { .state = DB_LEASE_NONE, .domid = -1,
                                     .device = "/soc/a_b@1", .include_final = true };
        struct db_audit *a = NULL;
        int64_t id = 0, id2 = 0;
        size_t n = 0;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        in = lease_for("g", -1, a_b, 2);
        CHECK_INT(db_lease_create(db, &in, &id), 0);
        CHECK_INT(id, 1);
        CHECK_INT(db_lease_update(db, id, DB_LEASE_FREE, NULL, NULL), 0);
        in = lease_for("h", -1, other, 1);
        CHECK_INT(db_lease_create(db, &in, &id2), 0);
        for (size_t i = 0; i < ARRAY_SIZE(targets); i++)
                CHECK_INT(db_audit_append(db, &(struct db_audit){ .action = (char *)"A",
                                                                  .target = (char *)targets[i],
                                                                  .result = (char *)"ok" }),
                          0);

        CHECK_INT(db_lease_list(db, &f, &ls, &n), 0);
        CHECK(n == 1 && ls[0].id == id && ls[0].state == DB_LEASE_FREE);
        db_lease_array_free(ls, n);

        CHECK_INT(db_audit_device(db, "/soc/a_b@1", 0, &a, &n), 0);
        CHECK_INT(n, 3);
        if (n == 3)
                CHECK(a[0].id == 1 && a[1].id == 3 && a[2].id == 4);
        db_audit_array_free(a, n);
        /* The newest ones, oldest first. */
        CHECK_INT(db_audit_device(db, "/soc/a_b@1", 2, &a, &n), 0);
        CHECK(n == 2 && a[0].id == 3 && a[1].id == 4);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_device(db, "/soc/a_b@10", 0, &a, &n), 0);
        CHECK(n == 1 && a[0].id == 2);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_device(db, "/soc/none", 0, &a, &n), 0);
        CHECK_INT(n, 0);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_device(db, "", 0, &a, &n), -EINVAL);

        /*
         * The same answers from rows written before schema 6 indexed them:
         * back to schema 5, and migration 6 fills audit_paths and lease_id.
         */
        db_close(db);
        db = NULL;
        CHECK_INT(raw_exec(path, "BEGIN; DROP TABLE lease_steps; DROP TABLE audit_paths;"
                                 "DROP INDEX leases_live; DROP INDEX leases_final;"
                                 "DROP INDEX lease_devices_path; DROP INDEX audit_lease;"
                                 "DROP INDEX audit_at; ALTER TABLE audit DROP COLUMN lease_id;"
                                 "CREATE INDEX leases_state ON leases(state);"
                                 "PRAGMA user_version = 5; COMMIT;"), SQLITE_OK);
        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(raw_int(path, "SELECT count(*) FROM audit_paths"), 5);
        CHECK_INT(db_audit_device(db, "/soc/a_b@1", 0, &a, &n), 0);
        CHECK_INT(n, 3);
        if (n == 3)
                CHECK(a[0].id == 1 && a[1].id == 3 && a[2].id == 4);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_device(db, "/soc/a_b@10", 0, &a, &n), 0);
        CHECK(n == 1 && a[0].id == 2);
        db_audit_array_free(a, n);
}

/*
 * A committed write must survive the process being killed (kill -9)
 * without closing the database: it lives in the WAL until a checkpoint.
 * An uncommitted one must not appear.  SIGKILL also means that a run
 * under valgrind does no leak check on the children, whose database is
 * deliberately left open.
 */
static char crash_path[512], crash_wal[512];
static struct db *crash_child_db;

static void test_durability(void)
{
        const char *path = crash_path, *wal = crash_wal;
        _cleanup_(db_closep) struct db *db = NULL;
        struct db_lease l;
        struct stat st;
        int status = 0;
        pid_t pid;

        snprintf(crash_path, sizeof(crash_path), "%s/crash.db", tmpdir);
        snprintf(crash_wal, sizeof(crash_wal), "%s/crash.db-wal", tmpdir);
        CHECK_INT(db_open(path, &db, NULL), 0);
        db_close(steal_ptr(db));        /* no SQLite handle may cross fork() */

        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                char *devs[] = { (char *)"/soc/committed" };
                struct db_lease in = lease_for("crashy", 3, devs, 1);
                if (db_open(path, &crash_child_db, NULL) < 0 ||
                    db_lease_create(crash_child_db, &in, NULL) < 0)
                        _exit(2);
                /* No db_close, no checkpoint, no atexit: as abrupt as it gets. */
                kill(getpid(), SIGKILL);
                _exit(3);
        }
        CHECK_MSG(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
                  WTERMSIG(status) == SIGKILL, "child status %#x", status);
        /* The commit is only in the WAL, which nobody checkpointed. */
        CHECK(stat(wal, &st) == 0 && st.st_size > 0);

        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                char *devs[] = { (char *)"/soc/uncommitted" };
                struct db_lease in = lease_for("crashy", 4, devs, 1);
                if (db_open(path, &crash_child_db, NULL) < 0 || db_begin(crash_child_db) < 0 ||
                    db_lease_create(crash_child_db, &in, NULL) < 0)
                        _exit(2);
                kill(getpid(), SIGKILL);
                _exit(3);
        }
        CHECK_MSG(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
                  WTERMSIG(status) == SIGKILL, "child status %#x", status);

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(db_lease_find_by_device(db, "/soc/committed", &l), 0);
        CHECK_STR(l.domain_name, "crashy");
        CHECK_INT(l.domid, 3);
        db_lease_clear(&l);
        CHECK_INT(db_lease_find_by_device(db, "/soc/uncommitted", &l), -ENOENT);
}

/*
 * Whose file it is: a new or emptied file is made assignd's; another
 * application's database is refused and left alone, whether it says so
 * with its own application_id or only has tables of its own; an assignd
 * database from before the id gets it.
 */
static void test_application_id(void)
{
        _cleanup_free_ char *empty = tpath("empty.db"), *other = tpath("other.db");
        _cleanup_free_ char *plain = tpath("plain.db"), *old = tpath("old.db");
        _cleanup_free_ char *err = NULL;
        struct db *db = NULL;
        FILE *f;

        f = fopen(empty, "w");
        CHECK(f != NULL);
        if (f)
                fclose(f);
        CHECK_INT(db_open(empty, &db, NULL), 0);
        CHECK(db && db_created(db));
        db_close(db);
        db = NULL;
        CHECK_INT(raw_int(empty, "PRAGMA application_id"), DB_APPLICATION_ID);
        CHECK_INT(db_open(empty, &db, NULL), 0);
        CHECK(db && !db_created(db));
        db_close(db);
        db = NULL;

        CHECK_INT(raw_exec(other, "PRAGMA application_id = 1234; CREATE TABLE t (x);"),
                  SQLITE_OK);
        CHECK_INT(db_open(other, &db, &err), -EUCLEAN);
        CHECK(db == NULL);
        CHECK_MSG(err && strstr(err, other) && strstr(err, "another application"), "err = %s",
                  err ? err : "");
        printf("foreign database refused: %s\n", err ? err : "(none)");
        free(err);
        err = NULL;
        CHECK_INT(raw_int(other, "SELECT count(*) FROM sqlite_master"), 1);
        CHECK_INT(raw_int(other, "PRAGMA user_version"), 0);

        CHECK_INT(raw_exec(plain, "CREATE TABLE leases (x); CREATE TABLE t (y);"), SQLITE_OK);
        CHECK_INT(db_open(plain, &db, &err), -EUCLEAN);
        CHECK_MSG(err && strstr(err, "not assignd's"), "err = %s", err ? err : "");
        CHECK_INT(raw_int(plain, "SELECT count(*) FROM sqlite_master"), 2);

        CHECK_INT(db_open(old, &db, NULL), 0);
        db_close(db);
        db = NULL;
        CHECK_INT(raw_exec(old, "PRAGMA application_id = 0"), SQLITE_OK);
        CHECK_INT(db_open(old, &db, NULL), 0);
        CHECK(db && !db_created(db));
        db_close(db);
        CHECK_INT(raw_int(old, "PRAGMA application_id"), DB_APPLICATION_ID);
}

/*
 * Every commit is synced (synchronous=FULL), and a write waits for another
 * process's lock a bounded time, then says -EBUSY.
 */
static void test_sync_and_lock(void)
{
        _cleanup_free_ char *path = tpath("locked.db");
        sqlite3 *other = NULL;
        struct db *db = NULL;
        struct timespec t0, t1;
        double ms;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        CHECK_INT(sqlite3_open(path, &other), SQLITE_OK);
        CHECK_INT(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_INT(db_policy_set(db, "/soc/x", DT_DMA_NONE, DB_POLICY_UNSET, NULL, 0), -EBUSY);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        CHECK_MSG(ms >= 400 && ms < 3000, "a locked write failed after %.0f ms", ms);
        printf("locked write refused after %.0f ms\n", ms);
        /* Reads go on. */
        {
                struct db_policy *pl = NULL;
                size_t n = 0;

                CHECK_INT(db_policy_list(db, &pl, &n), 0);
                db_policy_array_free(pl, n);
        }
        sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(other);
        CHECK_INT(db_policy_set(db, "/soc/x", DT_DMA_NONE, DB_POLICY_UNSET, NULL, 0), 0);
        {
                sqlite3_stmt *s = NULL;

                /* The daemon's own connection syncs every commit. */
                CHECK_INT(sqlite3_prepare_v2(db->conn, "PRAGMA synchronous", -1, &s, NULL),
                          SQLITE_OK);
                CHECK(s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 2);
                sqlite3_finalize(s);
        }
        db_close(db);
}

/*
 * Standing leases: an exclusive one holds its devices while no domain runs;
 * one made with exclusive=no lets them go and takes them back when it is
 * bound, which the one-owner index refuses while another lease has them.
 * Adopted leases read back as adopted.
 */
/*
 * Whether a line of EXPLAIN QUERY PLAN reads a whole table (leases and
 * audit grow until retention prunes them; tables may be aliased, so any
 * table counts): a SCAN, unless of a subquery's rows or through a partial
 * index of the rows it needs: the leases not final and the devices they
 * hold (few), or the final leases that retention walks up to the number
 * it keeps.
 */
static bool scans_history(const char *detail)
{
        if (!startswith(detail, "SCAN ") || startswith(detail, "SCAN (subquery") ||
            startswith(detail, "SCAN CONSTANT ROW"))
                return false;
        return !strstr(detail, "INDEX leases_live") && !strstr(detail, "INDEX leases_final") &&
               !strstr(detail, "INDEX lease_devices_one_owner");
}

/* Every statement on leases and audit finds its rows through an index. */
static void test_query_plans(void)
{
        _cleanup_free_ char *path = tpath("plans.db");
        _cleanup_(db_closep) struct db *db = NULL;
        const char *const *lists[] = { db_lease_statements, db_audit_statements };
        size_t n = 0;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        for (size_t k = 0; k < ARRAY_SIZE(lists); k++)
                for (const char *const *sql = lists[k]; *sql; sql++, n++) {
                        _cleanup_free_ char *q = strdup_printf("EXPLAIN QUERY PLAN %s", *sql);
                        sqlite3_stmt *s = NULL;

                        CHECK_INT(sqlite3_prepare_v2(db->conn, q, -1, &s, NULL), SQLITE_OK);
                        while (s && sqlite3_step(s) == SQLITE_ROW) {
                                const char *d = (const char *)sqlite3_column_text(s, 3);

                                if (getenv("TEST_DB_PLANS"))
                                        printf("# %.60s: %s\n", *sql, d);
                                CHECK_MSG(!scans_history(d), "%s\n  reads a whole table: %s",
                                          *sql, d);
                        }
                        sqlite3_finalize(s);
                }
        CHECK(n > 20);
}

/* Paging, and retention by age and by count, a batch at a time. */
static void test_retention(void)
{
        _cleanup_free_ char *path = tpath("retention.db");
        _cleanup_(db_closep) struct db *db = NULL;
        struct db_lease_filter f = { .state = DB_LEASE_NONE, .domid = -1, .include_final = true };
        struct db_lease *ls = NULL;
        struct db_audit *a = NULL;
        int64_t ids[10];
        char sql[160];
        size_t n = 0;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        for (int i = 0; i < 10; i++) {
                char dev[16], *devs[] = { dev };
                struct db_lease in;

                snprintf(dev, sizeof(dev), "/soc/d%d", i);
                in = lease_for("g", -1, devs, 1);
                CHECK_INT(db_lease_create(db, &in, &ids[i]), 0);
                CHECK_INT(db_lease_mark_step(db, ids[i], 0, true, false, false), 0);
                /* All but the last two end, lease i at time 1000 + i. */
                if (i < 8) {
                        CHECK_INT(db_lease_update(db, ids[i], DB_LEASE_FREE, NULL, NULL), 0);
                        snprintf(sql, sizeof(sql), "UPDATE leases SET updated_at = %d WHERE id = "
                                 "%" PRId64, 1000 + i, ids[i]);
                        CHECK_INT(db_exec(db, sql), 0);
                }
        }
        /* Pages of three, by id. */
        f.limit = 3;
        CHECK_INT(db_lease_list(db, &f, &ls, &n), 0);
        CHECK(n == 3 && ls[0].id == ids[0] && ls[2].id == ids[2]);
        db_lease_array_free(ls, n);
        f.after = ids[8];
        CHECK_INT(db_lease_list(db, &f, &ls, &n), 0);
        CHECK(n == 1 && ls[0].id == ids[9]);
        db_lease_array_free(ls, n);

        /* Those that ended before 1003 go, with their devices and steps. */
        CHECK_INT(db_lease_prune(db, 1003, SIZE_MAX, 0), 3);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM lease_devices WHERE path IN "
                                "('/soc/d0', '/soc/d1', '/soc/d2')"), 0);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM lease_steps"), 7);
        /* Keep the two that ended last, one per call. */
        CHECK_INT(db_lease_prune(db, 0, 2, 1), 1);
        CHECK_INT(db_lease_get(db, ids[3], &(struct db_lease){ 0 }), -ENOENT);
        CHECK_INT(db_lease_prune(db, 0, 2, 0), 2);
        CHECK_INT(db_lease_prune(db, 0, 2, 0), 0);
        f.after = 0;
        f.limit = 0;
        CHECK_INT(db_lease_list(db, &f, &ls, &n), 0);
        CHECK(n == 4 && ls[0].id == ids[6] && ls[1].id == ids[7] && ls[3].id == ids[9]);
        db_lease_array_free(ls, n);
        CHECK_INT(db_lease_list(db, &f, &ls, &n), 0);
        db_lease_array_free(ls, n);
        /* Ended in the same second: the one made first goes first. */
        CHECK_INT(db_exec(db, "UPDATE leases SET updated_at = 5000 WHERE state = 'free'"), 0);
        CHECK_INT(db_lease_prune(db, 0, 1, 0), 1);
        CHECK_INT(db_lease_get(db, ids[6], &(struct db_lease){ 0 }), -ENOENT);
        CHECK_INT(db_lease_prune(db, 0, 1, 0), 0);
        /* What is not final is never pruned. */
        CHECK_INT(db_lease_prune(db, INT64_MAX, 0, 0), 1);
        CHECK_INT(db_lease_list(db, &f, &ls, &n), 0);
        CHECK(n == 2 && ls[0].id == ids[8]);
        db_lease_array_free(ls, n);

        for (int i = 0; i < 10; i++)
                CHECK_INT(db_audit_append(db, &(struct db_audit){ .at = 2000 + i,
                                                                  .action = (char *)"A",
                                                                  .target = (char *)"/soc/d1",
                                                                  .result = (char *)"ok" }), 0);
        /* Pages from the newest back. */
        CHECK_INT(db_audit_tail(db, 0, 3, &a, &n), 0);
        CHECK(n == 3 && a[0].id == 8 && a[2].id == 10);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_tail(db, 8, 3, &a, &n), 0);
        CHECK(n == 3 && a[0].id == 5 && a[2].id == 7);
        db_audit_array_free(a, n);
        CHECK_INT(db_audit_prune(db, 2002, SIZE_MAX, 0), 2);
        CHECK_INT(db_audit_prune(db, 0, 5, 2), 2);
        CHECK_INT(db_audit_prune(db, 0, 5, 0), 1);
        CHECK_INT(db_audit_prune(db, 0, 5, 0), 0);
        CHECK_INT(db_audit_tail(db, 0, 0, &a, &n), 0);
        CHECK(n == 5 && a[0].id == 6);
        db_audit_array_free(a, n);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM audit_paths"), 5);
}

static bool allow_all(enum db_lease_state from, enum db_lease_state to)
{
        return true;
}

static bool allow_none(enum db_lease_state from, enum db_lease_state to)
{
        return false;
}

/* A state change in one transaction, and a step's progress in a row of its own. */
static void test_transition_and_marks(void)
{
        _cleanup_free_ char *path = tpath("marks.db");
        _cleanup_(db_closep) struct db *db = NULL;
        char *x[] = { (char *)"/x" };
        enum db_lease_state from = DB_LEASE_NONE;
        struct db_lease in, l;
        int64_t id;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        in = lease_for("t", 3, x, 1);
        in.state = DB_LEASE_ASSIGNING;
        in.plan = (char *)"{\"steps\":[]}";
        CHECK_INT(db_lease_create(db, &in, &id), 0);
        CHECK_INT(db_lease_mark_step(db, id, 1, true, false, false), 0);
        CHECK_INT(db_lease_mark_step(db, id, 0, true, false, false), 0);
        CHECK_INT(db_lease_mark_step(db, id, 1, true, true, true), 0);  /* replaced */
        CHECK_INT(db_lease_mark_step(db, 999, 0, true, false, false), -EINVAL);
        CHECK_INT(db_lease_get(db, id, &l), 0);
        CHECK_INT(l.n_marks, 2);
        CHECK(l.n_marks == 2 && l.marks[0].idx == 0 && l.marks[0].done && !l.marks[0].undone &&
              l.marks[1].idx == 1 && l.marks[1].undone && l.marks[1].kept);
        db_lease_clear(&l);

        /* Refused by the predicate: nothing changes, and the state it saw is told. */
        CHECK_INT(db_lease_transition(db, id, DB_LEASE_FREE, DB_LEASE_NONE, NULL, "no",
                                      allow_none, &from), -EPROTO);
        CHECK_INT(from, DB_LEASE_ASSIGNING);
        CHECK_INT(db_lease_get_state(db, id, &from), 0);
        CHECK_INT(from, DB_LEASE_ASSIGNING);
        /* Without a plan the marks stay; with one they go. */
        CHECK_INT(db_lease_transition(db, id, DB_LEASE_ASSIGNED, DB_LEASE_NONE, NULL, "",
                                      allow_all, &from), 0);
        CHECK_INT(db_lease_get(db, id, &l), 0);
        CHECK_INT(l.n_marks, 2);
        CHECK_INT(l.target_state, DB_LEASE_NONE);
        db_lease_clear(&l);
        CHECK_INT(db_lease_transition(db, id, DB_LEASE_RELEASING, DB_LEASE_FREE,
                                      "{\"steps\":[1]}", "why", allow_all, &from), 0);
        CHECK_INT(from, DB_LEASE_ASSIGNED);
        CHECK_INT(db_lease_get(db, id, &l), 0);
        CHECK_INT(l.n_marks, 0);
        CHECK_INT(l.state, DB_LEASE_RELEASING);
        CHECK_INT(l.target_state, DB_LEASE_FREE);
        CHECK_STR(l.error, "why");
        CHECK_STR(l.plan, "{\"steps\":[1]}");
        db_lease_clear(&l);
        CHECK_INT(db_lease_transition(db, 999, DB_LEASE_FREE, DB_LEASE_NONE, NULL, NULL,
                                      allow_all, &from), -ENOENT);
        CHECK_INT(db_lease_transition(db, id, DB_LEASE_RELEASING, DB_LEASE_NONE, "{bad", NULL,
                                      allow_all, &from), -EINVAL);
}

static void test_standing(void)
{
        _cleanup_free_ char *path = tpath("standing.db");
        _cleanup_(db_closep) struct db *db = NULL;
        char *x[] = { (char *)"/soc/x" }, *y[] = { (char *)"/soc/y" };
        struct db_lease in, l;
        int64_t ex = 0, loose = 0, other = 0, adopted = 0;

        CHECK_INT(db_open(path, &db, NULL), 0);
        if (!db)
                return;
        in = lease_for("web", -1, x, 1);
        in.standing = true;
        CHECK_INT(db_lease_create(db, &in, &ex), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/x", &l), 0);
        CHECK(l.id == ex && l.standing && !l.free_while_down && !l.adopted);
        db_lease_clear(&l);

        in = lease_for("db", -1, y, 1);
        in.standing = true;
        in.free_while_down = true;
        CHECK_INT(db_lease_create(db, &in, &loose), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/y", &l), -ENOENT);  /* not held while down */
        in = lease_for("other", 5, y, 1);
        in.state = DB_LEASE_ASSIGNED;
        CHECK_INT(db_lease_create(db, &in, &other), 0);
        /* Its domain appears while another lease has the device: the binding is refused. */
        CHECK_INT(db_lease_bind_domid(db, loose, 7), -EEXIST);
        CHECK_INT(db_lease_get(db, loose, &l), 0);
        CHECK_INT(l.domid, -1);
        db_lease_clear(&l);
        CHECK_INT(db_lease_update(db, other, DB_LEASE_FREE, NULL, ""), 0);
        CHECK_INT(db_lease_bind_domid(db, loose, 7), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/y", &l), 0);
        CHECK(l.id == loose && l.free_while_down && l.domid == 7);
        db_lease_clear(&l);
        /* The domain dies: unbound again, the device goes. */
        CHECK_INT(db_lease_bind_domid(db, loose, -1), 0);
        CHECK_INT(db_lease_find_by_device(db, "/soc/y", &l), -ENOENT);

        /* Only a standing lease may let its devices go, and it needs a name. */
        in = lease_for("z", -1, y, 1);
        in.free_while_down = true;
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);
        in = lease_for(NULL, 3, y, 1);
        in.standing = true;
        CHECK_INT(db_lease_create(db, &in, NULL), -EINVAL);

        in = lease_for("found", 9, y, 1);
        in.state = DB_LEASE_ASSIGNED;
        in.adopted = true;
        CHECK_INT(db_lease_create(db, &in, &adopted), 0);
        CHECK_INT(db_lease_get(db, adopted, &l), 0);
        CHECK(l.adopted && !l.standing);
        db_lease_clear(&l);
        /* And the unbound standing lease cannot get it while the adopted one holds it. */
        CHECK_INT(db_lease_bind_domid(db, loose, 7), -EEXIST);
}

static void cleanup_tmpdir(void)
{
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);

        if (cmd && system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        umask(022);

        test_open_migrate();
        test_upgrade();
        test_future_version();
        test_corrupt();
        test_inventory_roundtrip();
        test_inventory_speed();
        test_scanned();
        test_policy();
        test_leases();
        test_transactions();
        test_audit();
        test_device_history();
        test_durability();
        test_application_id();
        test_sync_and_lock();
        test_standing();
        test_transition_and_marks();
        test_query_plans();
        test_retention();

        cleanup_tmpdir();
        return test_done();
}
