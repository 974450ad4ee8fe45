/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Classifier tests: IOMMU coverage, DMA capability and its source,
 * assignability reasons and assignment groups, on the demo board (every
 * device) and on the shared vendor DTBs (counts and specific devices
 * established from their sources and MANIFEST.md), plus the
 * administrator's table files.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "dt-testutil.h"

static const char *dtb_dir;
static struct classify_tables *tables;

static struct dt_inventory *load_path(const char *path)
{
        struct dt_inventory *inv = dt_test_scan_file(path);

        if (inv)
                CHECK_INT(classify_inventory(inv, tables), 0);
        return inv;
}

static struct dt_inventory *load(const char *name)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dtb_dir, name);
        return load_path(path);
}

static const struct dt_device *dev(const struct dt_inventory *inv, const char *path)
{
        return dt_test_dev(inv, path);
}

static size_t count_cov(const struct dt_inventory *inv, enum dt_coverage c)
{
        size_t n = 0;

        for (size_t i = 0; i < inv->n_devices; i++)
                n += inv->devices[i].coverage == c;
        return n;
}

/* Expect a device's whole classification. */
static void expect(const struct dt_inventory *inv, const char *path, enum dt_coverage cov, enum dt_dma dma,
                   const char *dma_source, bool assignable, const char *reason_prefix)
{
        const struct dt_device *d = dev(inv, path);

        if (!d)
                return;
        CHECK_MSG(d->coverage == cov, "%s: coverage %s, expected %s", path,
                  dt_coverage_to_string(d->coverage), dt_coverage_to_string(cov));
        CHECK_MSG(d->dma == dma, "%s: dma %s, expected %s", path, dt_dma_to_string(d->dma), dt_dma_to_string(dma));
        if (dma_source)
                CHECK_STR(d->dma_source, dma_source);
        CHECK_MSG(d->assignable == assignable, "%s: assignable %d (%s)", path, d->assignable,
                  d->reason ? d->reason : "no reason");
        if (assignable)
                CHECK_MSG(d->reason == NULL, "%s: reason %s on an assignable device", path, d->reason);
        else
                CHECK_MSG(d->reason && startswith(d->reason, reason_prefix), "%s: reason \"%s\", expected \"%s...\"",
                          path, d->reason ? d->reason : "(null)", reason_prefix);
}

static bool same_group(const struct dt_inventory *inv, const char *a, const char *b)
{
        const struct dt_device *x = dev(inv, a), *y = dev(inv, b);

        return x && y && x->group >= 0 && x->group == y->group;
}

static void test_demo(void)
{
        const char *dir = getenv("TEST_DATA_DIR");
        char path[4096];
        struct dt_inventory *inv;
        const struct dt_device *d;

        if (!dir) {
                CHECK_MSG(0, "TEST_DATA_DIR is not set");
                return;
        }
        snprintf(path, sizeof(path), "%s/demo-board.dtb", dir);
        inv = load_path(path);
        if (!inv)
                return;
        expect(inv, "/interrupt-controller@8000000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "interrupt controller");
        expect(inv, "/timer", DT_COV_NONE, DT_DMA_NONE, "table:arm,armv8-timer", false, "architected timer");
        expect(inv, "/memory@40000000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "memory");
        expect(inv, "/reserved-memory/firmware@7fe00000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "reserved memory");
        expect(inv, "/soc/iommu@9050000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "IOMMU");
        expect(inv, "/soc/sata@9010000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/soc/dma-controller@9011000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/soc/ethernet@9020000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/soc/mmc@9030000", DT_COV_NONE, DT_DMA_MASTER, "table:arasan,sdhci-8.9a", true, NULL);
        expect(inv, "/soc/serial@9000000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl011", true, NULL);
        expect(inv, "/soc/serial@9001000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl011", false,
               "Xen's console (/chosen/stdout-path)");
        expect(inv, "/soc/gpio@9002000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl061", true, NULL);
        expect(inv, "/soc/rtc@9003000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl031", true, NULL);
        expect(inv, "/soc/i2c@9004000", DT_COV_NONE, DT_DMA_NONE, "table:snps,designware-i2c", true, NULL);
        expect(inv, "/soc/i2c@9004800", DT_COV_NONE, DT_DMA_NONE, "table:snps,designware-i2c", true, NULL);
        expect(inv, "/soc/mailbox@22000000", DT_COV_NONE, DT_DMA_NONE, "table:arm,mhu", true, NULL);
        CHECK(same_group(inv, "/soc/i2c@9004000", "/soc/i2c@9004800"));
        d = dev(inv, "/soc/i2c@9004000");
        if (d && d->group >= 0) {
                CHECK_INT(inv->groups[d->group].n_members, 2);
                CHECK_STR(inv->groups[d->group].why, "share page 0x9004000");
        }
        /* Memory and the reserved firmware carve-out overlap; nothing else is grouped. */
        CHECK(same_group(inv, "/memory@40000000", "/reserved-memory/firmware@7fe00000"));
        CHECK_INT(inv->n_groups, 2);
        CHECK_INT(dev(inv, "/soc/sata@9010000") ? dev(inv, "/soc/sata@9010000")->group : 0, -1);
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 3);
        dt_inventory_free(inv);
}

static void test_rcar(void)
{
        struct dt_inventory *inv = load("r8a77951-salvator-xs.dtb");

        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 21);
        CHECK_INT(count_cov(inv, DT_COV_IOMMU_UNSUPPORTED), 0);
        expect(inv, "/soc/dma-controller@e7300000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/soc/pcie@fe000000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", true, NULL);
        expect(inv, "/soc/iommu@e6570000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "IOMMU");
        expect(inv, "/soc/serial@e6e88000", DT_COV_NONE, DT_DMA_UNKNOWN, "no table entry", false, "Xen's console");
        expect(inv, "/soc/gpio@e6050000", DT_COV_NONE, DT_DMA_NONE, "table:renesas,gpio-r8a7795", true, NULL);
        /* Three GPIO blocks in one 4 KiB page. */
        CHECK(same_group(inv, "/soc/gpio@e6055000", "/soc/gpio@e6055400"));
        CHECK(same_group(inv, "/soc/gpio@e6055000", "/soc/gpio@e6055800"));
        dt_inventory_free(inv);
}

static void test_exynos(void)
{
        struct dt_inventory *inv = load("exynos5250-snow.dtb");

        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_IOMMU_UNSUPPORTED), 9);
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 0);
        expect(inv, "/soc/codec@11000000", DT_COV_IOMMU_UNSUPPORTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/soc/interrupt-controller@10440000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "interrupt controller");
        expect(inv, "/i2c-arbitrator/i2c-arb/embedded-controller@1e", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "no CPU-addressable region and no SPI");
        dt_inventory_free(inv);
}

static void test_zynqmp(void)
{
        struct dt_inventory *inv = load("zynqmp-zcu102-rev1.0.dtb");

        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 0);
        CHECK_INT(count_cov(inv, DT_COV_IOMMU_DISABLED), 0);
        expect(inv, "/axi/ahci@fd0c0000", DT_COV_NONE, DT_DMA_MASTER, "table:ceva,ahci-1v84", true, NULL);
        expect(inv, "/axi/serial@ff000000", DT_COV_NONE, DT_DMA_NONE, "table:xlnx,zynqmp-uart", false,
               "Xen's console");
        dt_inventory_free(inv);

        inv = load("zynqmp-zcu102-rev1.0-iommus-smmu-on.dtb");
        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 16);
        expect(inv, "/axi/ahci@fd0c0000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/axi/iommu@fd800000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "IOMMU");
        dt_inventory_free(inv);
}

static void test_imx95(void)
{
        struct dt_inventory *inv = load("imx95-19x19-evk-smmu-on.dtb");

        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 5);
        expect(inv, "/soc/pcie@4c300000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", true, NULL);
        expect(inv, "/soc/system-controller@4cde0000/pcie@4ca00000", DT_COV_PROTECTED, DT_DMA_MASTER,
               "iommu-map", true, NULL);
        expect(inv, "/soc/usb@4c010010/usb@4c100000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        dt_inventory_free(inv);

        inv = load("imx95-19x19-evk.dtb");
        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 0);
        CHECK_INT(count_cov(inv, DT_COV_IOMMU_DISABLED), 5);
        expect(inv, "/soc/pcie@4c300000", DT_COV_IOMMU_DISABLED, DT_DMA_MASTER, "iommu-map", true, NULL);
        expect(inv, "/soc/usb@4c010010/usb@4c100000", DT_COV_IOMMU_DISABLED, DT_DMA_MASTER, "iommus", true, NULL);
        dt_inventory_free(inv);
}

static void test_qemu(void)
{
        struct dt_inventory *inv = load("qemu-virt-noiommu.dtb");
        int groups[4] = { -1, -1, -1, -1 };
        size_t n = 0;

        if (!inv)
                return;
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct dt_device *d = &inv->devices[i];
                size_t page;

                if (!startswith(d->path, "/virtio_mmio@") || d->n_regions != 1)
                        continue;
                n++;
                page = (d->regions[0].base - 0xa000000) / 0x1000;
                CHECK(page < 4);
                if (page >= 4)
                        continue;
                CHECK(d->assignable);
                CHECK_INT(d->dma, DT_DMA_MASTER);
                CHECK(d->group >= 0);
                if (groups[page] < 0)
                        groups[page] = d->group;
                CHECK_INT(d->group, groups[page]);
        }
        CHECK_INT(n, 32);
        for (int i = 0; i < 4; i++) {
                CHECK(groups[i] >= 0);
                for (int j = 0; j < i; j++)
                        CHECK(groups[i] != groups[j]);
                if (groups[i] >= 0)
                        CHECK_INT(inv->groups[groups[i]].n_members, 8);
        }
        CHECK_INT(inv->n_groups, 4);
        expect(inv, "/pl011@9000000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl011", false, "Xen's console");
        expect(inv, "/intc@8000000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "interrupt controller");
        expect(inv, "/timer", DT_COV_NONE, DT_DMA_NONE, NULL, false, "architected timer");
        dt_inventory_free(inv);

        inv = load("qemu-virt-smmuv3.dtb");
        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 1);
        expect(inv, "/pcie@10000000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", true, NULL);
        expect(inv, "/smmuv3@9050000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "IOMMU");
        dt_inventory_free(inv);
}

static void test_imx8mq(void)
{
        struct dt_inventory *inv = load("imx8mq-evk.dtb");

        if (!inv)
                return;
        expect(inv, "/soc@0/bus@30000000/gpc@303a0000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "interrupt controller");
        expect(inv, "/soc@0/bus@30800000/serial@30860000", DT_COV_NONE, DT_DMA_NONE, "table:fsl,imx8mq-uart", false,
               "Xen's console");
        /* Every interrupt goes through the GPC: no SPI, but a region, so still assignable. */
        expect(inv, "/soc@0/bus@30000000/gpio@30200000", DT_COV_NONE, DT_DMA_NONE, "table:fsl,imx8mq-gpio", true,
               NULL);
        expect(inv, "/soc@0/bus@30800000/dma-controller@30bd0000", DT_COV_NONE, DT_DMA_MASTER,
               "table:fsl,imx8mq-sdma", true, NULL);
        /* A bus node's window covering its children is not a shared page. */
        CHECK_INT(dev(inv, "/soc@0/bus@30000000/gpio@30200000") ?
                  dev(inv, "/soc@0/bus@30000000/gpio@30200000")->group : 0, -1);
        dt_inventory_free(inv);
}

static void test_juno(void)
{
        struct dt_inventory *inv = load("juno-r2.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 7);
        expect(inv, "/dma-controller@7ff00000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/usb@7ffb0000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/usb@7ffc0000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        CHECK(same_group(inv, "/usb@7ffb0000", "/usb@7ffc0000"));
        d = dev(inv, "/usb@7ffc0000");
        if (d && d->group >= 0) {
                CHECK_INT(inv->groups[d->group].n_members, 2);
                CHECK_STR(inv->groups[d->group].why, "share stream ID 0x0 on /iommu@7fb30000");
        }
        expect(inv, "/pcie@40000000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", true, NULL);
        expect(inv, "/serial@7ff80000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl011", false, "Xen's console");
        /* The two KMIs share SPI 165 on the motherboard. */
        CHECK(same_group(inv, "/bus@8000000/motherboard-bus@8000000/iofpga-bus@300000000/kmi@60000",
                         "/bus@8000000/motherboard-bus@8000000/iofpga-bus@300000000/kmi@70000"));
        dt_inventory_free(inv);
}

static void test_rockchip(void)
{
        struct dt_inventory *inv = load("rk3399-rockpro64.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_IOMMU_UNSUPPORTED), 4);
        CHECK(same_group(inv, "/vop@ff900000", "/iommu@ff903f00"));
        expect(inv, "/iommu@ff903f00", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "IOMMU");
        expect(inv, "/vop@ff900000", DT_COV_IOMMU_UNSUPPORTED, DT_DMA_MASTER, "iommus", false,
               "shares SPI 118 (IRQ 150) with /iommu@ff903f00 which cannot be assigned");
        d = dev(inv, "/vop@ff900000");
        if (d && d->group >= 0)
                CHECK_STR(inv->groups[d->group].why, "share SPI 118 (IRQ 150)");
        /* The video codec and its IOMMU share a page instead. */
        CHECK(same_group(inv, "/video-codec@ff650000", "/iommu@ff650800"));
        dt_inventory_free(inv);

        inv = load("rk3588-evb1-v10.dtb");
        if (!inv)
                return;
        CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 3);
        CHECK_INT(count_cov(inv, DT_COV_IOMMU_UNSUPPORTED), 8);
        expect(inv, "/pcie@fe150000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", false,
               "shares SPI 260 (IRQ 292) with /pcie@fe150000/legacy-interrupt-controller");
        expect(inv, "/pmu-a55", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "CPU performance monitor");
        dt_inventory_free(inv);
}

static void test_others(void)
{
        struct dt_inventory *inv = load("fsl-lx2160a-rdb.dtb");

        if (inv) {
                CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 2);
                expect(inv, "/soc/usb@3100000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
                /* fsl-mc's placeholder map has length 0: it protects nothing. */
                expect(inv, "/soc/fsl-mc@80c000000", DT_COV_NONE, DT_DMA_MASTER, "iommu-map", true, NULL);
                /* ...and its region shares a page with the MC console block. */
                CHECK(same_group(inv, "/soc/fsl-mc@80c000000", "/soc/console@8340020"));
                dt_inventory_free(inv);
        }
        inv = load("bcm2711-rpi-4-b.dtb");
        if (inv) {
                CHECK(same_group(inv, "/soc/hdmi@7ef00700", "/soc/hdmi@7ef05700"));
                expect(inv, "/soc/hdmi@7ef00700", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "in a group with ");
                expect(inv, "/soc/serial@7e215040", DT_COV_NONE, DT_DMA_NONE, NULL, false, "Xen's console");
                dt_inventory_free(inv);
        }
        inv = load("fvp-base-revc.dtb");
        if (inv) {
                CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 1);
                expect(inv, "/pci@40000000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", true, NULL);
                dt_inventory_free(inv);
        }
        inv = load("fsl-ls1046a-rdb.dtb");
        if (inv) {
                CHECK_INT(count_cov(inv, DT_COV_PROTECTED), 0);
                CHECK_INT(count_cov(inv, DT_COV_IOMMU_DISABLED) + count_cov(inv, DT_COV_IOMMU_UNSUPPORTED), 0);
                dt_inventory_free(inv);
        }
}

static int write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        if (!f)
                return -1;
        fputs(text, f);
        return fclose(f);
}

static void test_tables(void)
{
        char dir[] = "/tmp/test-classify-XXXXXX", p[512];
        struct classify_tables *t = NULL;
        char *err = NULL, *digest0;
        const char *dtdir = getenv("TEST_DATA_DIR");

        CHECK_INT(classify_tables_new(&t), 0);
        if (!t)
                return;
        CHECK_INT(classify_tables_lookup(t, "arm,pl011"), DT_DMA_NONE);
        CHECK_INT(classify_tables_lookup(t, "arm,pl330"), DT_DMA_MASTER);
        CHECK_INT(classify_tables_lookup(t, "renesas,dmac-r8a7795"), DT_DMA_MASTER);
        CHECK_INT(classify_tables_lookup(t, "fsl,imx8mq-sdma"), DT_DMA_MASTER);
        CHECK_INT(classify_tables_lookup(t, "vendor,nothing-known"), DT_DMA_UNKNOWN);
        CHECK_INT(classify_tables_lookup(t, NULL), DT_DMA_UNKNOWN);
        digest0 = strdup(classify_tables_digest(t));
        CHECK(digest0 && strlen(digest0) == 64);

        CHECK(mkdtemp(dir) != NULL);
        snprintf(p, sizeof(p), "%s/10-site.conf", dir);
        CHECK_INT(write_file(p, "# site policy\n\nnone   arasan,sdhci-8.9a\nmaster vendor,dma-*  # trailing\n"), 0);
        snprintf(p, sizeof(p), "%s/20-override.conf", dir);
        CHECK_INT(write_file(p, "unknown arm,pl011\n"), 0);
        snprintf(p, sizeof(p), "%s/README", dir);
        CHECK_INT(write_file(p, "this is not a table and must be ignored\n"), 0);
        CHECK_INT(classify_tables_load_dir(t, dir, &err), 0);
        CHECK_INT(classify_tables_lookup(t, "arasan,sdhci-8.9a"), DT_DMA_NONE);
        CHECK_INT(classify_tables_lookup(t, "vendor,dma-engine"), DT_DMA_MASTER);
        /* A later "unknown" overrides the built-in "none". */
        CHECK_INT(classify_tables_lookup(t, "arm,pl011"), DT_DMA_UNKNOWN);
        CHECK(digest0 && strcmp(digest0, classify_tables_digest(t)) != 0);

        /* The admin table changes the demo board's classification, and says so. */
        if (dtdir) {
                struct dt_inventory *inv;
                struct classify_tables *saved = tables;

                tables = t;
                snprintf(p, sizeof(p), "%s/demo-board.dtb", dtdir);
                inv = load_path(p);
                if (inv) {
                        expect(inv, "/soc/mmc@9030000", DT_COV_NONE, DT_DMA_NONE, "admin:arasan,sdhci-8.9a", true,
                               NULL);
                        expect(inv, "/soc/serial@9000000", DT_COV_NONE, DT_DMA_UNKNOWN, "admin:arm,pl011", true,
                               NULL);
                        /* Classifying twice gives the same result (nothing leaks or accumulates). */
                        CHECK_INT(classify_inventory(inv, t), 0);
                        CHECK_INT(inv->n_groups, 2);
                        expect(inv, "/soc/mmc@9030000", DT_COV_NONE, DT_DMA_NONE, "admin:arasan,sdhci-8.9a", true,
                               NULL);
                        dt_inventory_free(inv);
                }
                tables = saved;
        }

        /* Errors name file and line, and leave the tables as they were. */
        snprintf(p, sizeof(p), "%s/30-bad.conf", dir);
        CHECK_INT(write_file(p, "none vendor,ok\nsometimes vendor,thing\n"), 0);
        free(err);
        err = NULL;
        CHECK_INT(classify_tables_load_file(t, p, &err), -EINVAL);
        CHECK_MSG(err && strstr(err, "30-bad.conf:2"), "error: %s", err ? err : "(null)");
        CHECK_INT(classify_tables_lookup(t, "vendor,ok"), DT_DMA_UNKNOWN);
        free(err);
        err = NULL;
        CHECK_INT(write_file(p, "none\n"), 0);
        CHECK_INT(classify_tables_load_file(t, p, &err), -EINVAL);
        free(err);
        err = NULL;
        CHECK(classify_tables_load_file(t, "/nonexistent/x.conf", &err) < 0 && err);
        free(err);
        err = NULL;
        CHECK_INT(classify_tables_load_dir(t, "/nonexistent-dir-for-test", &err), 0);

        unlink(p);
        snprintf(p, sizeof(p), "%s/10-site.conf", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/20-override.conf", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/README", dir);
        unlink(p);
        rmdir(dir);
        free(err);
        free(digest0);
        classify_tables_free(t);
        classify_tables_free(NULL);
        CHECK_INT(classify_inventory(NULL, tables), -EINVAL);
}

/* A tree of tests/data scanned and classified, or NULL after a failed check. */
static struct dt_inventory *load_data(const char *name)
{
        struct dt_inventory *inv = dt_test_scan_data(name);

        if (inv)
                CHECK_INT(classify_inventory(inv, tables), 0);
        return inv;
}

/*
 * A PCI host's iommu-map decides its coverage like iommus does, and the
 * stream IDs it maps to are shared like any other: a host whose run of
 * IDs covers a platform device's ID goes in one group with it.
 */
static void test_iommu_map(void)
{
        struct dt_inventory *inv = load_data("iommu-map.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        expect(inv, "/soc/pcie@1c00000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommu-map", true, NULL);
        CHECK(same_group(inv, "/soc/pcie@1c08000", "/soc/usb@a600000"));
        d = dev(inv, "/soc/usb@a600000");
        CHECK_MSG(d && d->group >= 0 && strstr(inv->groups[d->group].why, "share stream ID 0x1d00 on "
                                               "/soc/iommu@15000000"),
                  "group why: %s", d && d->group >= 0 ? inv->groups[d->group].why : "(no group)");
        CHECK(dev(inv, "/soc/pcie@1c00000") && dev(inv, "/soc/pcie@1c00000")->group == -1);
        expect(inv, "/soc/pcie@1c10000", DT_COV_NONE, DT_DMA_MASTER, "pci-host", false,
               "inconsistent device tree: node /soc/pcie@1c10000: iommu-map refers to "
               "/interrupt-controller@17a00000, which has no #iommu-cells");
        expect(inv, "/soc/pcie@1c18000", DT_COV_NONE, DT_DMA_MASTER, "pci-host", false,
               "inconsistent device tree: node /soc/pcie@1c18000: iommu-map refers to phandle 0x1c11");
        expect(inv, "/soc/serial@a84000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, true, NULL);
        dt_inventory_free(inv);
}

/*
 * A node whose properties are inconsistent is not assignable, says why,
 * and takes its group with it; every other device is classified as usual.
 */
static void test_inconsistent(void)
{
        struct dt_inventory *inv = load_data("inconsistent.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        expect(inv, "/soc/dma@1000", DT_COV_NONE, DT_DMA_MASTER, "table:arm,pl330", false,
               "inconsistent device tree: node /soc/dma@1000: iommus refers to phandle 0x55");
        expect(inv, "/soc/sensor@3000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "inconsistent device tree: node /soc/interrupt-nexus@3800: interrupt-map refers to phandle 0x99");
        expect(inv, "/soc/mailbox@4000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "inconsistent device tree: node /soc/mailbox@4000: iommus refers to /soc/serial@8000");
        expect(inv, "/soc/gpu@5000", DT_COV_NONE, DT_DMA_MASTER, NULL, false,
               "inconsistent device tree: node /soc/gpu@5000: GIC PPI 126 is out of range");
        expect(inv, "/soc/bus@20000/sram@20000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "inconsistent device tree: node /soc/bus@20000/sram@20000: reg entry 0");
        expect(inv, "/soc/i2c@9400", DT_COV_NONE, DT_DMA_NONE, NULL, false,
               "inconsistent device tree: node /soc/i2c@9400: interrupt-parent refers to phandle 0x77");
        /* Sound, but it shares a page with the broken one. */
        expect(inv, "/soc/i2c@9000", DT_COV_NONE, DT_DMA_NONE, NULL, false,
               "shares page 0x9000 with /soc/i2c@9400 which cannot be assigned (inconsistent device tree:");
        CHECK(same_group(inv, "/soc/i2c@9000", "/soc/i2c@9400"));

        expect(inv, "/soc/ethernet@2000", DT_COV_PROTECTED, DT_DMA_MASTER, "iommus", true, NULL);
        expect(inv, "/soc/serial@8000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl011", true, NULL);
        expect(inv, "/soc/rtc@a000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl031", true, NULL);
        expect(inv, "/soc/iommu@e000000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "IOMMU");
        d = dev(inv, "/interrupt-controller@f000000");
        CHECK(d && !d->assignable && !d->fault);
        dt_inventory_free(inv);
}

/* Interrupt and MSI infrastructure, and the timer Xen skips, are never assignable. */
static void test_irq_infrastructure(void)
{
        struct dt_inventory *inv = load_data("irq-infrastructure.dtb");

        if (!inv)
                return;
        expect(inv, "/interrupt-controller@2c001000/v2m@2c1f0000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "part of the GIC");
        expect(inv, "/soc/interrupt-controller@1e0000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "interrupt controller block (its children are the interrupt controllers)");
        expect(inv, "/soc/mbigen@a0080000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "interrupt controller block");
        expect(inv, "/soc/odmi@300000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "MSI controller");
        expect(inv, "/soc/msi@79000000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "MSI controller");
        expect(inv, "/soc/doorbell@7a000000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false, "MSI controller");
        expect(inv, "/soc/timer@2a810000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "memory-mapped timer (Xen does not support it");
        expect(inv, "/soc/timer@2a810000/frame@2a830000", DT_COV_NONE, DT_DMA_UNKNOWN, NULL, false,
               "part of /soc/timer@2a810000, a memory-mapped timer Xen does not support");
        expect(inv, "/soc/gpio@9000000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl061", true, NULL);
        expect(inv, "/soc/serial@9001000", DT_COV_NONE, DT_DMA_NONE, "table:arm,pl011", true, NULL);
        dt_inventory_free(inv);
}

int main(void)
{
        DIR *d;

        CHECK_INT(classify_tables_new(&tables), 0);
        test_tables();
        test_demo();
        test_iommu_map();
        test_inconsistent();
        test_irq_infrastructure();

        dtb_dir = getenv("SHARED_DTB_DIR");
        if (!dtb_dir || !(d = opendir(dtb_dir))) {
                classify_tables_free(tables);
                if (test_failures)
                        return test_done();
                TEST_SKIP("SHARED_DTB_DIR (%s) is not a readable directory: vendor DTBs not checked",
                          dtb_dir ? dtb_dir : "unset");
        }
        closedir(d);

        test_rcar();
        test_exynos();
        test_zynqmp();
        test_imx95();
        test_qemu();
        test_imx8mq();
        test_juno();
        test_rockchip();
        test_others();
        classify_tables_free(tables);
        return test_done();
}
