/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile-input tests for the scanner: truncated and lying blobs, absurd
 * cell counts, cyclic and dangling phandles, short properties.  Every
 * case is built here with libfdt's read-write API from a small valid tree
 * (which itself must scan cleanly, so each failure is the mutation's
 * doing).  A blob that is not a sound tree must give an error with a
 * message; a node with inconsistent properties must give that device a
 * fault with a message while every other device is served; never a crash
 * or a hang.
 */
#include <errno.h>
#include <libfdt.h>
#include <stdarg.h>
#include <string.h>

#include "classify.h"
#include "dt.h"
#include "testlib.h"

#define TREE_SIZE (64 * 1024)

static void *must(int r, void *p)
{
        if (r < 0) {
                fprintf(stderr, "libfdt: %s\n", fdt_strerror(r));
                abort();
        }
        return p;
}

static int off(void *fdt, const char *path)
{
        int o = fdt_path_offset(fdt, path);

        must(o, NULL);
        return o;
}

static void cells(void *fdt, const char *path, const char *name, int n, ...)
{
        fdt32_t v[32];
        va_list ap;

        va_start(ap, n);
        for (int i = 0; i < n; i++)
                v[i] = cpu_to_fdt32(va_arg(ap, uint32_t));
        va_end(ap);
        must(fdt_setprop(fdt, off(fdt, path), name, v, n * (int)sizeof(fdt32_t)), NULL);
}

static void str(void *fdt, const char *path, const char *name, const char *val)
{
        must(fdt_setprop_string(fdt, off(fdt, path), name, val), NULL);
}

static void flag(void *fdt, const char *path, const char *name)
{
        must(fdt_setprop(fdt, off(fdt, path), name, NULL, 0), NULL);
}

static void sub(void *fdt, const char *parent, const char *name)
{
        must(fdt_add_subnode(fdt, off(fdt, parent), name), NULL);
}

/*
 * A minimal valid tree: a GIC (phandle 1), an SMMU (phandle 2) and one
 * device using both, on a 1:1 simple bus.
 */
static void *base_tree(void)
{
        void *fdt = malloc(TREE_SIZE);

        if (!fdt)
                abort();
        must(fdt_create_empty_tree(fdt, TREE_SIZE), NULL);
        cells(fdt, "/", "#address-cells", 1, 1);
        cells(fdt, "/", "#size-cells", 1, 1);
        cells(fdt, "/", "interrupt-parent", 1, 1);
        str(fdt, "/", "model", "malformed test base");

        sub(fdt, "/", "gic@1000");
        str(fdt, "/gic@1000", "compatible", "arm,gic-400");
        flag(fdt, "/gic@1000", "interrupt-controller");
        cells(fdt, "/gic@1000", "#interrupt-cells", 1, 3);
        cells(fdt, "/gic@1000", "reg", 2, 0x1000, 0x1000);
        cells(fdt, "/gic@1000", "phandle", 1, 1);

        sub(fdt, "/", "soc");
        str(fdt, "/soc", "compatible", "simple-bus");
        cells(fdt, "/soc", "#address-cells", 1, 1);
        cells(fdt, "/soc", "#size-cells", 1, 1);
        flag(fdt, "/soc", "ranges");

        sub(fdt, "/soc", "iommu@2000");
        str(fdt, "/soc/iommu@2000", "compatible", "arm,mmu-500");
        cells(fdt, "/soc/iommu@2000", "reg", 2, 0x2000, 0x1000);
        cells(fdt, "/soc/iommu@2000", "#iommu-cells", 1, 1);
        cells(fdt, "/soc/iommu@2000", "phandle", 1, 2);

        sub(fdt, "/soc", "dev@3000");
        str(fdt, "/soc/dev@3000", "compatible", "test,device");
        cells(fdt, "/soc/dev@3000", "reg", 2, 0x3000, 0x100);
        cells(fdt, "/soc/dev@3000", "interrupts", 3, 0, 5, 4);
        cells(fdt, "/soc/dev@3000", "iommus", 2, 2, 0x10);
        return fdt;
}

static void pack(void *fdt)
{
        must(fdt_pack(fdt), NULL);
}

/* Scan must fail with an error mentioning `needle` (if given). */
static void expect_fail(const char *what, void *fdt, size_t len, const char *needle)
{
        struct dt_inventory *inv = (struct dt_inventory *)0x1;  /* must stay untouched */
        char *err = NULL;
        int r = dt_scan(fdt, len, &inv, &err);

        CHECK_MSG(r < 0, "%s: scan succeeded", what);
        CHECK_MSG(err != NULL, "%s: no error message", what);
        CHECK_MSG(inv == (struct dt_inventory *)0x1, "%s: output touched on failure", what);
        if (needle && err)
                CHECK_MSG(strstr(err, needle) != NULL, "%s: error \"%s\" does not mention \"%s\"", what, err, needle);
        if (r >= 0 && inv != (struct dt_inventory *)0x1)
                dt_inventory_free(inv);
        free(err);
}

static struct dt_inventory *expect_ok(const char *what, void *fdt)
{
        struct dt_inventory *inv = NULL;
        char *err = NULL;
        int r = dt_scan(fdt, fdt_totalsize(fdt), &inv, &err);

        CHECK_MSG(r == 0, "%s: %s", what, err ? err : "?");
        free(err);
        return r == 0 ? inv : NULL;
}

static void test_base_ok(void)
{
        void *fdt = base_tree();
        struct dt_inventory *inv;
        const struct dt_device *d;

        pack(fdt);
        inv = expect_ok("base tree", fdt);
        d = inv ? dt_inventory_find(inv, "/soc/dev@3000") : NULL;
        CHECK(d != NULL);
        if (d) {
                CHECK_INT(d->n_regions, 1);
                CHECK_INT(d->n_irqs, 1);
                CHECK_INT(d->n_irqs ? d->irqs[0].hwirq : 0, 37);
                CHECK_INT(d->n_iommus, 1);
        }
        dt_inventory_free(inv);
        free(fdt);
}

/*
 * Absent #address-cells/#size-cells are inherited from the nearest
 * ancestor that has them, as Xen and Linux read them.  QEMU's /chosen has
 * none while its module nodes use the root's 2+2 cells: such a tree must
 * scan (it once failed the whole inventory), and a device under a bus
 * without cells of its own uses the root's.
 */
static void test_inherited_cells(void)
{
        void *fdt = base_tree();
        struct dt_inventory *inv;
        const struct dt_device *d;

        cells(fdt, "/", "#address-cells", 1, 2);
        cells(fdt, "/", "#size-cells", 1, 2);
        cells(fdt, "/gic@1000", "reg", 4, 0, 0x1000, 0, 0x1000);
        cells(fdt, "/soc", "ranges", 0);
        sub(fdt, "/", "chosen");
        sub(fdt, "/chosen", "module@50000000");
        str(fdt, "/chosen/module@50000000", "compatible", "multiboot,module");
        cells(fdt, "/chosen/module@50000000", "reg", 4, 0, 0x50000000, 0, 0x100000);
        sub(fdt, "/", "bus");
        str(fdt, "/bus", "compatible", "simple-bus");
        flag(fdt, "/bus", "ranges");
        sub(fdt, "/bus", "dev@8000");
        str(fdt, "/bus/dev@8000", "compatible", "test,device");
        cells(fdt, "/bus/dev@8000", "reg", 4, 0x1, 0x8000, 0, 0x200);
        cells(fdt, "/bus/dev@8000", "interrupts", 3, 0, 6, 4);
        pack(fdt);
        inv = expect_ok("inherited cells", fdt);
        d = inv ? dt_inventory_find(inv, "/bus/dev@8000") : NULL;
        CHECK(d != NULL);
        if (d && d->n_regions == 1) {
                CHECK_INT(d->regions[0].base, 0x100008000ull);
                CHECK_INT(d->regions[0].size, 0x200);
        } else {
                CHECK_MSG(0, "/bus/dev@8000 should have one region");
        }
        dt_inventory_free(inv);
        free(fdt);
}

static void test_truncated(void)
{
        void *fdt = base_tree();
        size_t total;
        uint8_t *copy;

        pack(fdt);
        total = fdt_totalsize(fdt);
        copy = malloc(total);
        if (!copy)
                abort();
        /* Every short prefix, read as is: the header's totalsize exceeds what was read. */
        for (size_t len = 0; len < total && len < 400; len++) {
                char what[64];

                memcpy(copy, fdt, len);
                snprintf(what, sizeof(what), "truncated to %zu bytes", len);
                expect_fail(what, copy, len, NULL);
        }
        /* Prefixes whose header was "fixed up" to claim the short length. */
        for (size_t len = sizeof(struct fdt_header); len < total; len += 7) {
                char what[64];

                memcpy(copy, fdt, len);
                fdt_set_totalsize(copy, (uint32_t)len);
                snprintf(what, sizeof(what), "truncated to %zu bytes, totalsize patched", len);
                expect_fail(what, copy, len, NULL);
        }
        free(copy);
        free(fdt);
}

static void test_truncated_real(void)
{
        const char *dir = getenv("TEST_DATA_DIR");
        char path[4096];
        void *blob = NULL;
        size_t len = 0;
        char *err = NULL;
        uint8_t *copy;

        if (!dir)
                return;
        snprintf(path, sizeof(path), "%s/demo-board.dtb", dir);
        if (dt_read_file(path, &blob, &len, &err) < 0) {
                CHECK_MSG(0, "%s: %s", path, err);
                free(err);
                return;
        }
        copy = malloc(len);
        if (!copy)
                abort();
        for (size_t cut = 1; cut < 16; cut++) {
                size_t l = len * cut / 16;
                char what[64];

                memcpy(copy, blob, l);
                snprintf(what, sizeof(what), "demo board cut to %zu bytes", l);
                expect_fail(what, copy, l, "only");
                if (l >= sizeof(struct fdt_header)) {
                        fdt_set_totalsize(copy, (uint32_t)l);
                        expect_fail(what, copy, l, NULL);
                }
        }
        free(copy);
        free(blob);
}

static void test_header_lies(void)
{
        void *fdt = base_tree();
        size_t total;
        uint8_t *big;

        pack(fdt);
        total = fdt_totalsize(fdt);

        ((uint8_t *)fdt)[0] ^= 0xff;
        expect_fail("bad magic", fdt, total, "magic");
        ((uint8_t *)fdt)[0] ^= 0xff;

        fdt_set_totalsize(fdt, (uint32_t)total + 4096);
        expect_fail("totalsize larger than the buffer", fdt, total, "claims");

        fdt_set_totalsize(fdt, fdt_off_dt_struct(fdt) + 8);
        expect_fail("totalsize smaller than the structure", fdt, total, NULL);
        fdt_set_totalsize(fdt, (uint32_t)total);

        fdt_set_off_dt_strings(fdt, 0xfffffff0);
        expect_fail("strings block outside the blob", fdt, total, NULL);
        free(fdt);

        /* A buffer over the cap is refused before anything reads it. */
        big = calloc(1, (size_t)DT_MAX_BLOB_SIZE + 1);
        if (big) {
                fdt = base_tree();
                pack(fdt);
                memcpy(big, fdt, fdt_totalsize(fdt));
                {
                        char *err = NULL;
                        struct dt_inventory *inv = NULL;

                        CHECK_INT(dt_scan(big, (size_t)DT_MAX_BLOB_SIZE + 1, &inv, &err), -E2BIG);
                        CHECK(err != NULL && inv == NULL);
                        free(err);
                        err = NULL;
                        CHECK_INT(dt_check_blob(big, (size_t)DT_MAX_BLOB_SIZE + 1, &err), -E2BIG);
                        free(err);
                }
                free(fdt);
                free(big);
        }
        {
                char *err = NULL;

                CHECK_INT(dt_check_blob(NULL, 100, &err), -EINVAL);
                free(err);
        }
}

/*
 * A property whose length wraps libfdt's int offset back onto itself
 * (found by fuzz-dt: fdt_check_full() of libfdt 1.6.1 never returned),
 * and one whose length runs past the structure block: both refused, at
 * once, naming the byte.
 */
static void test_prop_length_wraps(void)
{
        static const uint32_t lens[] = { 0xfffffff4u, 0xfffffff0u, 0x7ffffff0u, 0x10000u };

        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                void *fdt = base_tree();
                uint8_t *s;
                int o;

                pack(fdt);
                o = fdt_first_property_offset(fdt, off(fdt, "/gic@1000"));
                must(o, NULL);
                s = (uint8_t *)fdt + fdt_off_dt_struct(fdt) + o;
                CHECK(fdt32_ld((const fdt32_t *)s) == FDT_PROP);
                *(fdt32_t *)(s + 4) = cpu_to_fdt32(lens[i]);
                expect_fail("property length wraps", fdt, fdt_totalsize(fdt), "past the structure block");
                free(fdt);
        }
}

/*
 * A tree of version 15 or older names each node by its full path: one whose
 * root is unnamed made libfdt 1.6.1's fdt_check_full() read a NULL name (a
 * 68-byte blob crashed assignd and assignctl --offline).  It is refused;
 * the same tree with its root named "/" scans.
 */
static void test_old_version_root(void)
{
        static const char *const root_names[] = { "", "/" };

        for (int named = 0; named < 2; named++) {
                uint32_t blob[18] = { 0 };
                struct dt_inventory *inv = NULL;
                char *err = NULL;

                blob[0] = cpu_to_fdt32(FDT_MAGIC);
                blob[1] = cpu_to_fdt32(sizeof(blob));   /* totalsize */
                blob[2] = cpu_to_fdt32(56);             /* structure: after the reserve map */
                blob[3] = cpu_to_fdt32(sizeof(blob));   /* strings: none */
                blob[4] = cpu_to_fdt32(40);             /* reserve map: its empty end entry */
                blob[5] = cpu_to_fdt32(15);             /* version */
                blob[6] = cpu_to_fdt32(15);             /* last compatible version */
                blob[14] = cpu_to_fdt32(FDT_BEGIN_NODE);
                memcpy(&blob[15], root_names[named], strlen(root_names[named]));
                blob[16] = cpu_to_fdt32(FDT_END_NODE);
                blob[17] = cpu_to_fdt32(FDT_END);
                if (!named) {
                        expect_fail("old tree, unnamed root", blob, sizeof(blob),
                                    "names its root by its path");
                        continue;
                }
                CHECK_MSG(dt_scan(blob, sizeof(blob), &inv, &err) == 0, "old tree, root \"/\": %s",
                          err ? err : "?");
                CHECK(inv && inv->n_devices == 0);
                if (inv)
                        dt_inventory_free(inv);
                free(err);
        }
}

static void mutate_and_fail(const char *what, void (*mutate)(void *), const char *needle)
{
        void *fdt = base_tree();

        mutate(fdt);
        pack(fdt);
        expect_fail(what, fdt, fdt_totalsize(fdt), needle);
        free(fdt);
}

static void m_cyclic_parent(void *fdt)
{
        sub(fdt, "/soc", "a@4000");
        sub(fdt, "/soc", "b@5000");
        cells(fdt, "/soc/a@4000", "phandle", 1, 10);
        cells(fdt, "/soc/b@5000", "phandle", 1, 11);
        cells(fdt, "/soc/a@4000", "interrupt-parent", 1, 11);
        cells(fdt, "/soc/b@5000", "interrupt-parent", 1, 10);
        cells(fdt, "/soc/a@4000", "reg", 2, 0x4000, 0x100);
        cells(fdt, "/soc/a@4000", "interrupts", 1, 3);
}

static void m_self_parent(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "phandle", 1, 12);
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 12);
}

static void m_dangling_parent(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 0x77);
}

static void m_imap_loop(void *fdt)
{
        sub(fdt, "/soc", "nexus1");
        sub(fdt, "/soc", "nexus2");
        cells(fdt, "/soc/nexus1", "phandle", 1, 20);
        cells(fdt, "/soc/nexus2", "phandle", 1, 21);
        cells(fdt, "/soc/nexus1", "#interrupt-cells", 1, 1);
        cells(fdt, "/soc/nexus2", "#interrupt-cells", 1, 1);
        cells(fdt, "/soc/nexus1", "#address-cells", 1, 0);
        cells(fdt, "/soc/nexus2", "#address-cells", 1, 0);
        cells(fdt, "/soc/nexus1", "interrupt-map", 3, 7, 21, 7);
        cells(fdt, "/soc/nexus2", "interrupt-map", 3, 7, 20, 7);
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 20);
        cells(fdt, "/soc/dev@3000", "interrupts", 1, 7);
}

static void m_imap_dangling(void *fdt)
{
        sub(fdt, "/soc", "nexus1");
        cells(fdt, "/soc/nexus1", "phandle", 1, 20);
        cells(fdt, "/soc/nexus1", "#interrupt-cells", 1, 1);
        cells(fdt, "/soc/nexus1", "#address-cells", 1, 0);
        cells(fdt, "/soc/nexus1", "interrupt-map", 3, 7, 0x99, 7);
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 20);
        cells(fdt, "/soc/dev@3000", "interrupts", 1, 7);
}

static void m_imap_truncated(void *fdt)
{
        sub(fdt, "/soc", "nexus1");
        cells(fdt, "/soc/nexus1", "phandle", 1, 20);
        cells(fdt, "/soc/nexus1", "#interrupt-cells", 1, 1);
        cells(fdt, "/soc/nexus1", "#address-cells", 1, 0);
        /* The GIC needs 3 parent cells; only 2 are there. */
        cells(fdt, "/soc/nexus1", "interrupt-map", 4, 7, 1, 0, 5);
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 20);
        cells(fdt, "/soc/dev@3000", "interrupts", 1, 7);
}

static void m_imap_bad_mask(void *fdt)
{
        m_imap_truncated(fdt);
        cells(fdt, "/soc/nexus1", "interrupt-map", 5, 7, 1, 0, 5, 4);
        cells(fdt, "/soc/nexus1", "interrupt-map-mask", 3, 1, 2, 3);
}

static void m_iommus_dangling(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "iommus", 2, 0x55, 0x10);
}

static void m_iommus_truncated(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "iommus", 1, 2);
}

static void m_iommus_not_iommu(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "iommus", 2, 1, 0x10);
}

static void m_iommu_map_dangling(void *fdt)
{
        str(fdt, "/soc/dev@3000", "device_type", "pci");
        cells(fdt, "/soc/dev@3000", "iommu-map", 4, 0, 0x66, 0, 0x100);
}

static void m_addr_cells_1000(void *fdt)
{
        cells(fdt, "/soc", "#address-cells", 1, 1000);
}

static void m_addr_cells_max(void *fdt)
{
        cells(fdt, "/soc", "#address-cells", 1, 0xffffffff);
}

static void m_size_cells_huge(void *fdt)
{
        cells(fdt, "/soc", "#size-cells", 1, 5);
}

static void m_addr_cells_short(void *fdt)
{
        must(fdt_setprop(fdt, off(fdt, "/soc"), "#address-cells", "\x01", 1), NULL);
}

static void m_irq_cells_zero(void *fdt)
{
        cells(fdt, "/gic@1000", "#interrupt-cells", 1, 0);
}

static void m_irq_cells_huge(void *fdt)
{
        cells(fdt, "/gic@1000", "#interrupt-cells", 1, 0x10000000);
}

static void m_iommu_cells_huge(void *fdt)
{
        cells(fdt, "/soc/iommu@2000", "#iommu-cells", 1, 4096);
}

static void m_reg_odd(void *fdt)
{
        must(fdt_setprop(fdt, off(fdt, "/soc/dev@3000"), "reg", "\0\0\x30\0\0\0\x01", 7), NULL);
}

static void m_reg_not_pairs(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "reg", 3, 0x3000, 0x100, 0x4000);
}

static void m_irq_short(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "interrupts", 2, 0, 5);
}

static void m_irq_empty(void *fdt)
{
        flag(fdt, "/soc/dev@3000", "interrupts");
}

static void m_irq_ext_short(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "interrupts-extended", 3, 1, 0, 5);
}

static void m_irq_ext_dangling(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "interrupts-extended", 4, 0x44, 0, 5, 4);
}

static void m_gic_bad_type(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "interrupts", 3, 9, 5, 4);
}

static void m_ranges_bad(void *fdt)
{
        cells(fdt, "/soc", "ranges", 2, 0, 0);
}

static void m_duplicate_phandle(void *fdt)
{
        cells(fdt, "/soc/dev@3000", "phandle", 1, 1);
}

static void m_parent_without_cells(void *fdt)
{
        sub(fdt, "/soc", "notctrl");
        cells(fdt, "/soc/notctrl", "phandle", 1, 30);
        cells(fdt, "/soc/notctrl", "#interrupt-cells", 1, 1);
        cells(fdt, "/soc/dev@3000", "interrupts-extended", 2, 30, 3);
        /* ...fine so far (stops at a non-GIC node); now break its cell count. */
        must(fdt_setprop(fdt, off(fdt, "/soc/notctrl"), "#interrupt-cells", "\0\0", 2), NULL);
}

static void m_deep(void *fdt)
{
        char path[4096] = "/soc";

        for (int i = 0; i < DT_MAX_DEPTH + 2; i++) {
                sub(fdt, path, "n");
                strcat(path, "/n");
        }
}

static void m_bus_range(void *fdt)
{
        str(fdt, "/soc/dev@3000", "device_type", "pci");
        cells(fdt, "/soc/dev@3000", "iommu-map", 4, 0, 2, 0, 0x100);
        cells(fdt, "/soc/dev@3000", "bus-range", 2, 5, 2);
}

/*
 * A mutation of one node's properties spoils that node, not the tree: the
 * scan succeeds, the node is a device with a fault that says what is wrong
 * (needle) and is not assignable, and every other device is served: the
 * GIC is there without a fault, and so is each path in `clean`.
 */
static void mutate_and_fault(const char *what, void (*mutate)(void *), const char *needle,
                             const char *const *faulty, const char *const *clean)
{
        void *fdt = base_tree();
        struct classify_tables *t = NULL;
        struct dt_inventory *inv;

        mutate(fdt);
        pack(fdt);
        inv = expect_ok(what, fdt);
        CHECK_INT(classify_tables_new(&t), 0);
        if (inv && t)
                CHECK_INT(classify_inventory(inv, t), 0);
        for (size_t i = 0; inv && faulty[i]; i++) {
                const struct dt_device *d = dt_inventory_find(inv, faulty[i]);

                CHECK_MSG(d != NULL, "%s: %s is not in the inventory", what, faulty[i]);
                if (!d)
                        continue;
                CHECK_MSG(d->fault && strstr(d->fault, needle), "%s: %s has fault \"%s\", not one with \"%s\"",
                          what, faulty[i], d->fault ? d->fault : "(none)", needle);
                CHECK_MSG(!d->assignable && d->reason && strstr(d->reason, "inconsistent device tree") &&
                          strstr(d->reason, needle), "%s: %s: assignable %d, reason %s", what, faulty[i],
                          d->assignable, d->reason ? d->reason : "(none)");
        }
        for (size_t i = 0; inv && clean[i]; i++) {
                const struct dt_device *d = dt_inventory_find(inv, clean[i]);

                CHECK_MSG(d && !d->fault, "%s: %s %s", what, clean[i],
                          d ? d->fault : "is not in the inventory");
        }
        dt_inventory_free(inv);
        classify_tables_free(t);
        free(fdt);
}

static void test_mutations(void)
{
        /* The tree as a whole is unsound: refused. */
        static const struct {
                const char *what;
                void (*mutate)(void *);
                const char *needle;
        } fatal[] = {
                { "nesting deeper than DT_MAX_DEPTH", m_deep, "deeper" },
        };
        static const char *const dev[] = { "/soc/dev@3000", NULL };
        static const char *const soc[] = { "/soc/dev@3000", "/soc/iommu@2000", NULL };
        static const char *const iommu[] = { "/soc/iommu@2000", NULL };
        static const char *const gic[] = { "/gic@1000", NULL };
        static const char *const a4000[] = { "/soc/a@4000", NULL };
        static const char *const dev_iommu[] = { "/soc/dev@3000", "/soc/iommu@2000", NULL };
        static const struct {
                const char *what;
                void (*mutate)(void *);
                const char *needle;
                const char *const *faulty, *const *clean;
        } node[] = {
                { "cyclic interrupt-parent", m_cyclic_parent, "loops", a4000, soc },
                { "interrupt-parent pointing at itself (no #interrupt-cells)", m_self_parent, "loops", dev, iommu },
                { "dangling interrupt-parent", m_dangling_parent, "0x77", dev, iommu },
                { "interrupt-map loop", m_imap_loop, "hops", dev, iommu },
                { "interrupt-map with a dangling phandle", m_imap_dangling, "0x99", dev, iommu },
                { "truncated interrupt-map", m_imap_truncated, "truncated", dev, iommu },
                { "interrupt-map-mask of the wrong length", m_imap_bad_mask, "interrupt-map-mask", dev, iommu },
                { "iommus with a dangling phandle", m_iommus_dangling, "0x55", dev, iommu },
                { "truncated iommus", m_iommus_truncated, "iommus", dev, iommu },
                { "iommus pointing at a non-IOMMU", m_iommus_not_iommu, "#iommu-cells", dev, iommu },
                { "iommu-map with a dangling phandle", m_iommu_map_dangling, "0x66", dev, iommu },
                { "#address-cells = 1000", m_addr_cells_1000, "/soc: #address-cells = 1000", soc, gic },
                { "#address-cells = 0xffffffff", m_addr_cells_max, "#address-cells = 4294967295", soc, gic },
                { "#size-cells = 5", m_size_cells_huge, "#size-cells", soc, gic },
                { "#address-cells of one byte", m_addr_cells_short, "#address-cells", soc, gic },
                { "#interrupt-cells = 0", m_irq_cells_zero, "#interrupt-cells = 0", dev, iommu },
                { "#interrupt-cells huge", m_irq_cells_huge, "#interrupt-cells", dev, iommu },
                { "#iommu-cells huge", m_iommu_cells_huge, "#iommu-cells", dev_iommu, gic },
                { "reg of 7 bytes", m_reg_odd, "reg", dev, iommu },
                { "reg not a whole number of entries", m_reg_not_pairs, "reg", dev, iommu },
                { "interrupts shorter than one specifier", m_irq_short, "interrupts", dev, iommu },
                { "empty interrupts", m_irq_empty, "interrupts", dev, iommu },
                { "interrupts-extended shorter than its specifier", m_irq_ext_short, "interrupts-extended", dev, iommu },
                { "interrupts-extended with a dangling phandle", m_irq_ext_dangling, "0x44", dev, iommu },
                { "GIC specifier of an unknown type", m_gic_bad_type, "type 9", dev, iommu },
                { "ranges of the wrong length", m_ranges_bad, "ranges", soc, gic },
                { "duplicate phandle", m_duplicate_phandle, "phandle 0x1", dev, iommu },
                { "#interrupt-cells of two bytes", m_parent_without_cells, "#interrupt-cells", dev, iommu },
                { "bus-range reversed", m_bus_range, "bus-range", dev, iommu },
        };

        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
                mutate_and_fail(fatal[i].what, fatal[i].mutate, fatal[i].needle);
        for (size_t i = 0; i < sizeof(node) / sizeof(node[0]); i++)
                mutate_and_fault(node[i].what, node[i].mutate, node[i].needle, node[i].faulty, node[i].clean);
}

/* Malformed content in a disabled subtree is skipped, cell counts excepted. */
static void test_disabled_ignored(void)
{
        void *fdt = base_tree();
        struct dt_inventory *inv;

        str(fdt, "/soc/dev@3000", "status", "disabled");
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 0x77);
        cells(fdt, "/soc/dev@3000", "iommus", 2, 0x55, 0x10);
        pack(fdt);
        inv = expect_ok("broken but disabled device", fdt);
        CHECK(inv && dt_inventory_find(inv, "/soc/dev@3000") == NULL);
        dt_inventory_free(inv);
        free(fdt);
}

/* A reg that is not CPU-addressable is a note on the device, not an error. */
static void test_reg_notes(void)
{
        void *fdt = base_tree();
        struct dt_inventory *inv;
        const struct dt_device *d;

        sub(fdt, "/", "bus2");
        cells(fdt, "/bus2", "#address-cells", 1, 1);
        cells(fdt, "/bus2", "#size-cells", 1, 1);
        sub(fdt, "/bus2", "dev@10");
        cells(fdt, "/bus2/dev@10", "reg", 2, 0x10, 0x10);
        cells(fdt, "/bus2/dev@10", "interrupts", 3, 0, 9, 4);
        sub(fdt, "/soc", "sub@6000");
        cells(fdt, "/soc/sub@6000", "#address-cells", 1, 1);
        cells(fdt, "/soc/sub@6000", "#size-cells", 1, 1);
        cells(fdt, "/soc/sub@6000", "ranges", 3, 0, 0x6000, 0x100);
        sub(fdt, "/soc/sub@6000", "in@10");
        cells(fdt, "/soc/sub@6000/in@10", "reg", 2, 0x10, 0x10);
        sub(fdt, "/soc/sub@6000", "out@200");
        cells(fdt, "/soc/sub@6000/out@200", "reg", 2, 0x200, 0x10);
        cells(fdt, "/soc/sub@6000/out@200", "interrupts", 3, 1, 2, 4);
        pack(fdt);
        inv = expect_ok("reg notes", fdt);
        d = inv ? dt_inventory_find(inv, "/bus2/dev@10") : NULL;
        CHECK(d && d->n_regions == 0);
        CHECK_STR(d ? d->reg_note : NULL, "parent /bus2 has no ranges");
        CHECK_INT(d && d->n_irqs ? d->irqs[0].hwirq : 0, 41);
        d = inv ? dt_inventory_find(inv, "/soc/sub@6000/in@10") : NULL;
        CHECK(d && d->n_regions == 1 && d->regions[0].base == 0x6010);
        d = inv ? dt_inventory_find(inv, "/soc/sub@6000/out@200") : NULL;
        CHECK(d && d->n_regions == 0 && d->reg_note && strstr(d->reg_note, "outside every range"));
        CHECK_INT(d && d->n_irqs ? (int)d->irqs[0].cls : -1, DT_IRQ_PPI);
        CHECK_INT(d && d->n_irqs ? d->irqs[0].hwirq : 0, 18);
        dt_inventory_free(inv);
        free(fdt);
}

/* An interrupt-map with no matching entry stops at the nexus, reported, not guessed. */
static void test_imap_nomatch(void)
{
        void *fdt = base_tree();
        struct dt_inventory *inv;
        const struct dt_device *d;

        sub(fdt, "/soc", "nexus1");
        cells(fdt, "/soc/nexus1", "phandle", 1, 20);
        cells(fdt, "/soc/nexus1", "#interrupt-cells", 1, 1);
        cells(fdt, "/soc/nexus1", "#address-cells", 1, 0);
        cells(fdt, "/soc/nexus1", "interrupt-map", 5, 7, 1, 0, 5, 4);
        cells(fdt, "/soc/dev@3000", "interrupt-parent", 1, 20);
        cells(fdt, "/soc/dev@3000", "interrupts", 2, 7, 8);
        pack(fdt);
        inv = expect_ok("interrupt-map without a match", fdt);
        d = inv ? dt_inventory_find(inv, "/soc/dev@3000") : NULL;
        CHECK(d && d->n_irqs == 2);
        if (d && d->n_irqs == 2) {
                CHECK_INT(d->irqs[0].cls, DT_IRQ_SPI);
                CHECK_INT(d->irqs[0].hwirq, 37);
                CHECK_STR(d->irqs[0].controller, "/gic@1000");
                CHECK_INT(d->irqs[1].cls, DT_IRQ_NOT_GIC);
                CHECK_STR(d->irqs[1].controller, "/soc/nexus1");
        }
        dt_inventory_free(inv);
        free(fdt);
}

static void test_read_file(void)
{
        void *blob = (void *)0x1;
        size_t len = 7;
        char *err = NULL;

        CHECK(dt_read_file("/nonexistent/file.dtb", &blob, &len, &err) == -ENOENT);
        CHECK(err != NULL && blob == (void *)0x1 && len == 7);
        free(err);
}

int main(void)
{
        test_base_ok();
        test_inherited_cells();
        test_truncated();
        test_truncated_real();
        test_header_lies();
        test_prop_length_wraps();
        test_old_version_root();
        test_mutations();
        test_disabled_ignored();
        test_reg_notes();
        test_imap_nomatch();
        test_read_file();
        return test_done();
}
