/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scanner tests on the real vendor DTBs in $SHARED_DTB_DIR and on the
 * project's demo board.  Every expected value below was read from the
 * decompiled sources (dtc -I dtb -O dts) and the shared MANIFEST.md:
 * translated regions, GIC numbers reached through interrupt-parent and
 * interrupt-map, interrupts stopping at non-GIC controllers, IOMMU links
 * and the RID gaps of PCI iommu-maps.
 */
#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <libfdt.h>

#include "dt-testutil.h"

static const char *dtb_dir;

static struct dt_inventory *load_path(const char *path)
{
        return dt_test_scan_file(path);
}

static struct dt_inventory *load(const char *name)
{
        return dt_test_scan_in(dtb_dir, name);
}

static const struct dt_device *dev(const struct dt_inventory *inv, const char *path)
{
        return dt_test_dev(inv, path);
}

#define CHECK_REGION(d, i, b, s)                                                        \
        do {                                                                            \
                if ((d) && (size_t)(i) < (d)->n_regions) {                              \
                        CHECK_INT((d)->regions[i].base, (b));                           \
                        CHECK_INT((d)->regions[i].size, (s));                           \
                } else {                                                                \
                        CHECK_MSG(0, "%s: no region %d", (d) ? (d)->path : "?", (int)(i)); \
                }                                                                       \
        } while (0)

#define CHECK_IRQ(d, i, c, hw, ctrl)                                                    \
        do {                                                                            \
                if ((d) && (size_t)(i) < (d)->n_irqs) {                                 \
                        CHECK_INT((d)->irqs[i].cls, (c));                               \
                        CHECK_INT((d)->irqs[i].hwirq, (hw));                            \
                        CHECK_STR((d)->irqs[i].controller, (ctrl));                     \
                } else {                                                                \
                        CHECK_MSG(0, "%s: no interrupt %d", (d) ? (d)->path : "?", (int)(i)); \
                }                                                                       \
        } while (0)

static size_t count_with_iommus(const struct dt_inventory *inv)
{
        size_t n = 0;

        for (size_t i = 0; i < inv->n_devices; i++)
                n += inv->devices[i].n_iommus > 0;
        return n;
}

static size_t count_iommus(const struct dt_inventory *inv, enum dt_iommu_kind k, bool enabled)
{
        size_t n = 0;

        for (size_t i = 0; i < inv->n_iommus; i++)
                n += inv->iommus[i].kind == k && inv->iommus[i].enabled == enabled;
        return n;
}

static const struct dt_iommu_link *link_to(const struct dt_device *d, const char *iommu)
{
        for (size_t i = 0; d && i < d->n_iommus; i++)
                if (streq(d->iommus[i].iommu, iommu))
                        return &d->iommus[i];
        CHECK_MSG(0, "%s has no link to %s", d ? d->path : "?", iommu);
        return NULL;
}

static const struct dt_device *console_of(const struct dt_inventory *inv)
{
        const struct dt_device *c = NULL;
        int n = 0;

        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].is_xen_console) {
                        c = &inv->devices[i];
                        n++;
                }
        CHECK_INT(n, 1);
        return c;
}

/* Every DTB scans, and its digest is the one the manifest lists. */
static void test_all_scan(void)
{
        char path[4096], line[512];
        FILE *f;
        int n = 0;

        snprintf(path, sizeof(path), "%s/MANIFEST.md", dtb_dir);
        f = fopen(path, "re");
        CHECK_MSG(f != NULL, "cannot open %s", path);
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char hex[65], name[256];
                struct dt_inventory *inv;

                if (sscanf(line, "%64[0-9a-f]  %255s", hex, name) != 2 || strlen(hex) != 64 ||
                    !strstr(name, ".dtb"))
                        continue;
                n++;
                snprintf(path, sizeof(path), "%s/%s", dtb_dir, name);
                inv = load_path(path);
                if (!inv)
                        continue;
                CHECK_STR(inv->sha256, hex);
                CHECK_MSG(inv->n_devices > 20, "%s: only %zu devices", name, inv->n_devices);
                dt_inventory_free(inv);
        }
        fclose(f);
        CHECK_INT(n, 16);
}

/* The largest DTB must scan in a few milliseconds. */
static void test_speed(void)
{
        struct dirent *e;
        DIR *dir = opendir(dtb_dir);
        char best[4096] = "";
        long best_size = -1;

        if (!dir)
                return;
        while ((e = readdir(dir))) {
                char p[4096];
                FILE *f;
                long sz;

                if (!strstr(e->d_name, ".dtb"))
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dtb_dir, e->d_name);
                f = fopen(p, "re");
                if (!f)
                        continue;
                fseek(f, 0, SEEK_END);
                sz = ftell(f);
                fclose(f);
                /* QEMU's are padded to 1 MiB; the densest tree is the one to time, so skip padding. */
                if (strstr(e->d_name, "qemu"))
                        continue;
                if (sz > best_size) {
                        best_size = sz;
                        snprintf(best, sizeof(best), "%s", p);
                }
        }
        closedir(dir);
        if (best_size < 0)
                return;
        {
                void *blob;
                size_t len;
                char *err = NULL;
                struct timespec a, b;
                double ms;
                const int rounds = 20;

                CHECK(dt_read_file(best, &blob, &len, &err) == 0);
                clock_gettime(CLOCK_MONOTONIC, &a);
                for (int i = 0; i < rounds; i++) {
                        struct dt_inventory *inv = NULL;

                        CHECK(dt_scan(blob, len, &inv, &err) == 0);
                        dt_inventory_free(inv);
                }
                clock_gettime(CLOCK_MONOTONIC, &b);
                ms = ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6) / rounds;
                printf("scan of %s (%zu bytes): %.2f ms\n", best, len, ms);
                /* Under valgrind or sanitizers the figure means nothing: report it only. */
                if (getenv("ASSIGND_NO_TIMING") || (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload")))
                        printf("timing not checked (instrumented run)\n");
                else
                        CHECK_MSG(ms < 50.0, "scan took %.2f ms", ms);
                free(blob);
                free(err);
        }
}

static void test_rcar(void)
{
        struct dt_inventory *inv = load("r8a77951-salvator-xs.dtb");
        const struct dt_device *d;
        const struct dt_iommu_link *l;

        if (!inv)
                return;
        CHECK_INT(inv->n_iommus, 17);
        CHECK_INT(count_iommus(inv, DT_IOMMU_IPMMU, true), 17);
        /* 19 devices use iommus; the two PCIe hosts use iommu-map. */
        CHECK_INT(count_with_iommus(inv), 19);

        d = dev(inv, "/soc/dma-controller@e7300000");
        CHECK_REGION(d, 0, 0xe7300000, 0x10000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 252, "/soc/interrupt-controller@f1010000");
        CHECK_INT(d ? d->n_iommus : 0, 1);
        l = d && d->n_iommus ? &d->iommus[0] : NULL;
        CHECK_INT(l ? l->n_ids : 0, 16);
        if (l && l->n_ids == 16) {
                for (size_t i = 1; i < 16; i++)
                        CHECK_INT(l->ids[i], l->ids[0] + i);
        }
        d = dev(inv, "/soc/sata@ee300000");
        CHECK_REGION(d, 0, 0xee300000, 0x200000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 137, "/soc/interrupt-controller@f1010000");
        l = link_to(d, "/soc/iommu@e6570000");
        CHECK_INT(l ? l->n_ids : 0, 1);
        CHECK_INT(l && l->n_ids ? l->ids[0] : 99, 2);

        d = dev(inv, "/soc/pcie@fe000000");
        CHECK(d && d->pci_host);
        CHECK_INT(d ? d->n_iommu_map : 0, 1);
        CHECK(d && d->has_iommu_map_mask && d->iommu_map_mask == 0);
        CHECK_INT(d ? d->n_rid_gaps : 99, 0);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 148, "/soc/interrupt-controller@f1010000");

        d = dev(inv, "/soc/gpio@e6050000");
        CHECK_REGION(d, 0, 0xe6050000, 0x50);
        CHECK(d && d->is_interrupt_controller && d->is_gpio_controller);

        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/soc/serial@e6e88000");
        dt_inventory_free(inv);
}

static void test_exynos(void)
{
        struct dt_inventory *inv = load("exynos5250-snow.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        CHECK_INT(inv->n_iommus, 23);
        CHECK_INT(count_iommus(inv, DT_IOMMU_UNSUPPORTED, true), 23);
        CHECK_INT(count_with_iommus(inv), 9);
        d = dev(inv, "/soc/codec@11000000");
        CHECK_INT(d ? d->n_iommus : 0, 2);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 128, "/soc/interrupt-controller@10481000");
        link_to(d, "/soc/sysmmu@11200000");
        link_to(d, "/soc/sysmmu@11210000");
        /* The display controller's interrupts go through the combiner. */
        d = dev(inv, "/soc/fimd@14400000");
        CHECK_IRQ(d, 0, DT_IRQ_NOT_GIC, 0, "/soc/interrupt-controller@10440000");
        CHECK_REGION(d, 0, 0x14400000, 0x40000);
        d = dev(inv, "/soc/interrupt-controller@10440000");
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 32, "/soc/interrupt-controller@10481000");
        /* A node under an I2C bus is not CPU-addressable, and says why. */
        d = dev(inv, "/i2c-arbitrator/i2c-arb/embedded-controller@1e");
        CHECK_INT(d ? d->n_regions : 99, 0);
        CHECK_STR(d ? d->reg_note : NULL, "parent /i2c-arbitrator/i2c-arb has #size-cells = 0");
        CHECK_IRQ(d, 0, DT_IRQ_NOT_GIC, 0, "/soc/pinctrl@11400000/gpx1-gpio-bank");
        d = console_of(inv);
        CHECK(d && d->path && strstr(d->path, "serial@12c30000"));
        dt_inventory_free(inv);
}

static void test_zynqmp(void)
{
        struct dt_inventory *inv = load("zynqmp-zcu102-rev1.0.dtb");
        const struct dt_device *d;
        const struct dt_iommu_link *l;

        if (!inv)
                return;
        CHECK_INT(inv->n_iommus, 1);
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMU, false), 1);
        CHECK_INT(count_with_iommus(inv), 0);
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/axi/serial@ff000000");
        dt_inventory_free(inv);

        inv = load("zynqmp-zcu102-rev1.0-iommus-smmu-on.dtb");
        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMU, true), 1);
        CHECK_INT(count_with_iommus(inv), 16);
        d = dev(inv, "/axi/ahci@fd0c0000");
        CHECK_REGION(d, 0, 0xfd0c0000, 0x2000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 165, "/axi/interrupt-controller@f9010000");
        l = link_to(d, "/axi/iommu@fd800000");
        CHECK_INT(l ? l->n_ids : 0, 4);
        if (l && l->n_ids == 4)
                for (size_t i = 0; i < 4; i++)
                        CHECK_INT(l->ids[i], 0x4c0 + i);
        dt_inventory_free(inv);
}

static void check_imx95_pcie_gaps(const struct dt_device *d)
{
        /* mask 0x1ff folds every even bus onto RID 0 and every odd bus onto 0x100-0x106. */
        CHECK(d && d->has_iommu_map_mask && d->iommu_map_mask == 0x1ff);
        CHECK_INT(d ? d->n_iommu_map : 0, 2);
        CHECK_INT(d ? d->n_rid_gaps : 0, 256);
        if (!d || d->n_rid_gaps != 256)
                return;
        for (size_t i = 0; i < 256; i++) {
                uint32_t bus = (uint32_t)i;
                bool even = (bus & 1) == 0;

                CHECK_INT(d->rid_gaps[i].rid_base, (bus << 8) | (even ? 1 : 7));
                CHECK_INT(d->rid_gaps[i].count, even ? 0xff : 0xf9);
        }
}

static void test_imx95(void)
{
        struct dt_inventory *inv = load("imx95-19x19-evk-smmu-on.dtb");
        const struct dt_device *d;
        static const uint32_t ecam_gaps[][2] = {
                { 0x01, 0x0f }, { 0x11, 0x0f }, { 0x21, 0x1f }, { 0x41, 0x3f },
                { 0x81, 0x0f }, { 0x91, 0x0f }, { 0xa1, 0x1f }, { 0xc1, 0x3f },
        };

        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMUV3, true), 1);
        CHECK_INT(count_with_iommus(inv), 2);
        d = dev(inv, "/soc/pcie@4c300000");
        check_imx95_pcie_gaps(d);
        CHECK_STR(d && d->n_iommu_map ? d->iommu_map[0].iommu : NULL, "/soc/bus@49000000/iommu@490d0000");
        CHECK_INT(d && d->n_iommu_map == 2 ? d->iommu_map[1].rid_base : 0, 0x100);
        CHECK_INT(d && d->n_iommu_map == 2 ? d->iommu_map[1].iommu_base : 0, 0x11);
        CHECK_INT(d && d->n_iommu_map == 2 ? d->iommu_map[1].length : 0, 7);
        CHECK_REGION(d, 1, 0x60100000, 0xfe00000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 342, "/interrupt-controller@48000000");
        check_imx95_pcie_gaps(dev(inv, "/soc/pcie@4c380000"));
        /* The NETC ECAM host (bus 0 only) maps just 8 devfns. */
        d = dev(inv, "/soc/system-controller@4cde0000/pcie@4ca00000");
        CHECK_INT(d ? d->n_iommu_map : 0, 8);
        CHECK_INT(d ? d->n_rid_gaps : 0, 8);
        for (size_t i = 0; d && i < d->n_rid_gaps && i < 8; i++) {
                CHECK_INT(d->rid_gaps[i].rid_base, ecam_gaps[i][0]);
                CHECK_INT(d->rid_gaps[i].count, ecam_gaps[i][1]);
        }
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/soc/bus@44000000/serial@44380000");
        dt_inventory_free(inv);

        inv = load("imx95-19x19-evk.dtb");
        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMUV3, false), 1);
        check_imx95_pcie_gaps(dev(inv, "/soc/pcie@4c300000"));
        dt_inventory_free(inv);
}

static void test_qemu(void)
{
        struct dt_inventory *inv = load("qemu-virt-noiommu.dtb");
        const struct dt_device *d;
        size_t virtio = 0;

        if (!inv)
                return;
        CHECK_INT(inv->n_iommus, 0);
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct dt_device *v = &inv->devices[i];

                if (!startswith(v->path, "/virtio_mmio@"))
                        continue;
                virtio++;
                CHECK_INT(v->n_regions, 1);
                CHECK_INT(v->n_regions ? v->regions[0].size : 0, 0x200);
                CHECK_INT(v->n_regions ? v->regions[0].base : 0, 0xa000000 + 0x200 * (virtio - 1));
                CHECK_IRQ(v, 0, DT_IRQ_SPI, 32 + 16 + virtio - 1, "/intc@8000000");
        }
        CHECK_INT(virtio, 32);
        d = dev(inv, "/timer");
        CHECK_INT(d ? d->n_irqs : 0, 4);
        CHECK_IRQ(d, 0, DT_IRQ_PPI, 29, "/intc@8000000");
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/pl011@9000000");
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 33, "/intc@8000000");
        dt_inventory_free(inv);

        inv = load("qemu-virt-smmuv3.dtb");
        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMUV3, true), 1);
        d = dev(inv, "/pcie@10000000");
        CHECK_REGION(d, 0, 0x4010000000ull, 0x10000000);
        CHECK_INT(d ? d->n_iommu_map : 0, 1);
        CHECK_INT(d && d->n_iommu_map ? d->iommu_map[0].length : 0, 0x10000);
        CHECK_STR(d && d->n_iommu_map ? d->iommu_map[0].iommu : NULL, "/smmuv3@9050000");
        CHECK_INT(d ? d->n_rid_gaps : 99, 0);
        dt_inventory_free(inv);
}

static void test_imx8mq(void)
{
        struct dt_inventory *inv = load("imx8mq-evk.dtb");
        const struct dt_device *d;
        size_t via_gpc = 0;
        const char *gpc = "/soc@0/bus@30000000/gpc@303a0000";

        if (!inv)
                return;
        d = dev(inv, "/soc@0/bus@30800000/serial@30860000");
        CHECK_REGION(d, 0, 0x30860000, 0x10000);
        CHECK_IRQ(d, 0, DT_IRQ_NOT_GIC, 0, gpc);
        CHECK(d && d->is_xen_console);
        d = dev(inv, "/soc@0/bus@30000000/gpio@30200000");
        CHECK_IRQ(d, 0, DT_IRQ_NOT_GIC, 0, gpc);
        CHECK_IRQ(d, 1, DT_IRQ_NOT_GIC, 0, gpc);
        for (size_t i = 0; i < inv->n_devices; i++)
                for (size_t j = 0; j < inv->devices[i].n_irqs; j++)
                        via_gpc += streq(inv->devices[i].irqs[j].controller, gpc);
        CHECK_MSG(via_gpc >= 30, "only %zu interrupts through the GPC", via_gpc);
        d = dev(inv, gpc);
        CHECK(d && d->is_interrupt_controller);
        dt_inventory_free(inv);
}

static void test_juno(void)
{
        struct dt_inventory *inv = load("juno-r2.dtb");
        const char *gic = "/interrupt-controller@2c010000";
        const char *mb = "/bus@8000000/motherboard-bus@8000000";
        const struct dt_device *d, *ehci, *ohci;
        const struct dt_iommu_link *l;
        char p[256];

        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMU, true), 6);
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMU, false), 1);
        /* 6 through iommus; the PCIe host (the 7th protected) through iommu-map. */
        CHECK_INT(count_with_iommus(inv), 6);

        /* Motherboard: translated through two levels of ranges, IRQs through interrupt-map. */
        snprintf(p, sizeof(p), "%s/ethernet@200000000", mb);
        d = dev(inv, p);
        CHECK_REGION(d, 0, 0x18000000, 0x10000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 192, gic);
        snprintf(p, sizeof(p), "%s/iofpga-bus@300000000/mmc@50000", mb);
        d = dev(inv, p);
        CHECK_REGION(d, 0, 0x1c050000, 0x1000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 194, gic);
        snprintf(p, sizeof(p), "%s/iofpga-bus@300000000/rtc@170000", mb);
        d = dev(inv, p);
        CHECK_REGION(d, 0, 0x1c170000, 0x10000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 100, gic);
        snprintf(p, sizeof(p), "%s/iofpga-bus@300000000/kmi@60000", mb);
        CHECK_IRQ(dev(inv, p), 0, DT_IRQ_SPI, 197, gic);

        d = dev(inv, "/dma-controller@7ff00000");
        CHECK_INT(d ? d->n_irqs : 0, 9);
        l = link_to(d, "/iommu@7fb00000");
        CHECK_INT(l ? l->n_ids : 0, 9);
        for (size_t i = 0; l && i < l->n_ids; i++)
                CHECK_INT(l->ids[i], i);
        ehci = dev(inv, "/usb@7ffc0000");
        ohci = dev(inv, "/usb@7ffb0000");
        l = link_to(ehci, "/iommu@7fb30000");
        CHECK(l && l->n_ids == 1 && l->ids[0] == 0);
        l = link_to(ohci, "/iommu@7fb30000");
        CHECK(l && l->n_ids == 1 && l->ids[0] == 0);
        CHECK_IRQ(ehci, 0, DT_IRQ_SPI, 149, gic);

        d = dev(inv, "/pcie@40000000");
        CHECK(d && d->pci_host && d->has_iommu_map_mask && d->iommu_map_mask == 0);
        CHECK_INT(d ? d->n_rid_gaps : 99, 0);
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/serial@7ff80000");
        dt_inventory_free(inv);
}

static void test_fvp(void)
{
        struct dt_inventory *inv = load("fvp-base-revc.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMUV3, true), 1);
        CHECK_INT(count_with_iommus(inv), 0);
        d = dev(inv, "/pci@40000000");
        CHECK_INT(d ? d->n_iommu_map : 0, 1);
        CHECK_INT(d && d->n_iommu_map ? d->iommu_map[0].length : 0, 0x10000);
        CHECK_INT(d ? d->n_rid_gaps : 99, 0);
        d = dev(inv, "/bus@8000000/motherboard-bus@8000000/iofpga-bus@300000000/mmc@50000");
        CHECK_REGION(d, 0, 0x1c050000, 0x1000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 41, "/interrupt-controller@2f000000");
        CHECK_IRQ(d, 1, DT_IRQ_SPI, 42, "/interrupt-controller@2f000000");
        d = dev(inv, "/bus@8000000/motherboard-bus@8000000/ethernet@202000000");
        CHECK_REGION(d, 0, 0x1a000000, 0x10000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 47, "/interrupt-controller@2f000000");
        CHECK(console_of(inv) != NULL);
        dt_inventory_free(inv);
}

static void test_rockchip(void)
{
        struct dt_inventory *inv = load("rk3399-rockpro64.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_UNSUPPORTED, true) + count_iommus(inv, DT_IOMMU_UNSUPPORTED, false), 7);
        CHECK_INT(count_with_iommus(inv), 4);
        d = dev(inv, "/vop@ff900000");
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 150, "/interrupt-controller@fee00000");
        link_to(d, "/iommu@ff903f00");
        d = dev(inv, "/iommu@ff903f00");
        CHECK(d && d->is_iommu);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 150, "/interrupt-controller@fee00000");
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/serial@ff1a0000");
        dt_inventory_free(inv);

        inv = load("rk3588-evb1-v10.dtb");
        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMUV3, true), 1);
        CHECK_INT(count_iommus(inv, DT_IOMMU_UNSUPPORTED, true), 8);
        CHECK_INT(count_iommus(inv, DT_IOMMU_UNSUPPORTED, false), 3);
        CHECK_INT(count_with_iommus(inv), 8);
        /* GICv3 with 4 cells: PPIs carry a partition phandle. */
        d = dev(inv, "/pmu-a55");
        CHECK_IRQ(d, 0, DT_IRQ_PPI, 23, "/interrupt-controller@fe600000");
        d = dev(inv, "/timer");
        CHECK_INT(d ? d->n_irqs : 0, 5);
        CHECK_IRQ(d, 0, DT_IRQ_PPI, 29, "/interrupt-controller@fe600000");
        CHECK_IRQ(d, 4, DT_IRQ_PPI, 28, "/interrupt-controller@fe600000");
        d = dev(inv, "/pcie@fe150000");
        CHECK_REGION(d, 0, 0xa40000000ull, 0x400000);
        CHECK_INT(d ? d->n_iommu_map : 0, 1);
        CHECK_INT(d ? d->n_rid_gaps : 99, 0);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 295, "/interrupt-controller@fe600000");
        d = dev(inv, "/pcie@fe180000");
        CHECK_INT(d && d->n_iommu_map ? d->iommu_map[0].rid_base : 0, 0x3000);
        CHECK_INT(d ? d->n_rid_gaps : 99, 0);
        dt_inventory_free(inv);
}

static void test_nxp_layerscape(void)
{
        struct dt_inventory *inv = load("fsl-lx2160a-rdb.dtb");
        const struct dt_device *d;
        const struct dt_iommu_link *l;

        if (!inv)
                return;
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMU, true), 1);
        CHECK_INT(count_with_iommus(inv), 2);
        l = link_to(dev(inv, "/soc/usb@3100000"), "/soc/iommu@5000000");
        CHECK(l && l->n_ids == 1 && l->ids[0] == 1);
        l = link_to(dev(inv, "/soc/usb@3110000"), "/soc/iommu@5000000");
        CHECK(l && l->n_ids == 1 && l->ids[0] == 2);
        /* The disabled PCIe hosts are not devices at all. */
        for (size_t i = 0; i < inv->n_devices; i++)
                CHECK_MSG(!inv->devices[i].pci_host, "%s is disabled", inv->devices[i].path);
        d = dev(inv, "/soc/fsl-mc@80c000000");
        CHECK_INT(d && d->n_iommu_map ? d->iommu_map[0].length : 99, 0);
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/soc/serial@21c0000");
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 64, "/interrupt-controller@6000000");
        dt_inventory_free(inv);

        inv = load("fsl-ls1046a-rdb.dtb");
        if (!inv)
                return;
        CHECK_INT(inv->n_iommus, 0);
        CHECK_INT(count_with_iommus(inv), 0);
        d = dev(inv, "/soc/ptp-timer@1afe000");
        CHECK_REGION(d, 0, 0x1afe000, 0x1000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 76, "/interrupt-controller@1400000");
        CHECK(console_of(inv) != NULL);
        dt_inventory_free(inv);
}

static void test_bcm2711(void)
{
        struct dt_inventory *inv = load("bcm2711-rpi-4-b.dtb");
        const struct dt_device *d;

        if (!inv)
                return;
        /* VideoCore bus addresses 0x7e... translate to 0xfe... */
        d = dev(inv, "/soc/hdmi@7ef00700");
        CHECK_REGION(d, 0, 0xfef00700, 0x300);
        CHECK_IRQ(d, 0, DT_IRQ_NOT_GIC, 0, "/soc/interrupt-controller@7ef00100");
        d = dev(inv, "/soc/hdmi@7ef05700");
        CHECK_REGION(d, 0, 0xfef05700, 0x300);
        d = dev(inv, "/scb-bus@fc000000/gpu@7ec00000");
        CHECK_REGION(d, 0, 0xfec00000, 0x4000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 106, "/soc/interrupt-controller@40041000");
        /* stdout-path = "serial1:115200n8" through /aliases. */
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/soc/serial@7e215040");
        dt_inventory_free(inv);
}

static void test_demo(void)
{
        const char *dir = getenv("TEST_DATA_DIR");
        char path[4096];
        struct dt_inventory *inv;
        const struct dt_device *d;
        const struct dt_iommu_link *l;
        const char *gic = "/interrupt-controller@8000000";

        if (!dir) {
                printf("TEST_DATA_DIR unset: demo board not checked\n");
                return;
        }
        snprintf(path, sizeof(path), "%s/demo-board.dtb", dir);
        inv = load_path(path);
        if (!inv)
                return;
        CHECK_STR(inv->model, "assignd demo board");
        CHECK_INT(inv->n_devices, 16);
        CHECK_INT(inv->n_iommus, 1);
        CHECK_INT(count_iommus(inv, DT_IOMMU_SMMU, true), 1);
        d = dev(inv, "/soc/dma-controller@9011000");
        CHECK_REGION(d, 0, 0x9011000, 0x1000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 40, gic);
        l = link_to(d, "/soc/iommu@9050000");
        CHECK(l && l->n_ids == 2 && l->ids[0] == 0x200 && l->ids[1] == 0x201);
        d = dev(inv, "/soc/mailbox@22000000");
        CHECK_REGION(d, 0, 0x22000000, 0x1000);
        d = console_of(inv);
        CHECK_STR(d ? d->path : NULL, "/soc/serial@9001000");
        d = dev(inv, "/timer");
        CHECK_IRQ(d, 0, DT_IRQ_PPI, 29, gic);
        CHECK_INT(d && d->n_irqs ? d->irqs[0].type : 0, 0xf08);
        CHECK(dt_inventory_find(inv, "/cpus/cpu@0") == NULL);
        CHECK(dt_inventory_find(inv, "/psci") == NULL);
        dt_inventory_free(inv);
}

/*
 * The tree Xen writes for dom0: nodes it turned "disabled" are scanned and
 * flagged dom0_hidden; without Xen's /hypervisor node the same tree hides
 * nothing, and disabled nodes are skipped as before.
 */
static void test_dom0_view(void)
{
        const char *dir = getenv("TEST_DATA_DIR");
        char path[4096];
        struct dt_inventory *inv = NULL;
        const struct dt_device *d;
        void *blob = NULL;
        size_t len = 0;
        char *err = NULL;
        int off;

        if (!dir) {
                printf("TEST_DATA_DIR unset: dom0 view not checked\n");
                return;
        }
        snprintf(path, sizeof(path), "%s/dom0-view.dtb", dir);
        inv = load_path(path);
        if (!inv)
                return;
        d = dev(inv, "/pl031@9010000");
        CHECK(d && d->dom0_hidden && !d->xen_passthrough);
        CHECK_REGION(d, 0, 0x9010000, 0x1000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 34, "/interrupt-controller@8000000");
        d = dev(inv, "/pl011@9000000");
        CHECK(d && !d->dom0_hidden);
        /* The bus has neither reg nor interrupts, and its child is not Xen's doing. */
        CHECK(dt_inventory_find(inv, "/bus@a000000") == NULL);
        CHECK(dt_inventory_find(inv, "/bus@a000000/gpio@1000") == NULL);
        CHECK(dt_inventory_find(inv, "/uart@9040000") == NULL);
        dt_inventory_free(inv);
        inv = NULL;

        /* The same tree without Xen's node is a host tree: disabled is disabled. */
        CHECK_INT(dt_read_file(path, &blob, &len, &err), 0);
        if (!blob)
                return;
        off = fdt_path_offset(blob, "/hypervisor");
        CHECK(off >= 0 && fdt_del_node(blob, off) == 0);
        CHECK_INT(dt_scan(blob, len, &inv, &err), 0);
        if (inv) {
                CHECK(dt_inventory_find(inv, "/pl031@9010000") == NULL);
                CHECK(dt_inventory_find(inv, "/pl011@9000000") != NULL);
                dt_inventory_free(inv);
        }
        free(blob);
        free(err);
}

static void check_fault(const struct dt_device *d, const char *needle)
{
        CHECK_MSG(d && d->fault && strstr(d->fault, needle), "%s: fault \"%s\", expected one with \"%s\"",
                  d ? d->path : "?", d && d->fault ? d->fault : "(none)", needle);
}

static void check_no_fault(const struct dt_device *d)
{
        CHECK_MSG(d && !d->fault, "%s: fault \"%s\"", d ? d->path : "?", d && d->fault ? d->fault : "");
}

/*
 * iommu-map entries are 4 cells whatever the IOMMU's #iommu-cells (2 on
 * Qualcomm's SMMUs); a map that cannot be used is its host's fault, and
 * the tree is scanned.
 */
static void test_iommu_map_cells(void)
{
        struct dt_inventory *inv = dt_test_scan_data("iommu-map.dtb");
        const struct dt_device *d;
        const char *smmu = "/soc/iommu@15000000";

        if (!inv)
                return;
        d = dev(inv, "/soc/pcie@1c00000");
        check_no_fault(d);
        CHECK_INT(d ? d->n_iommu_map : 0, 2);
        if (d && d->n_iommu_map == 2) {
                CHECK_INT(d->iommu_map[0].rid_base, 0);
                CHECK_STR(d->iommu_map[0].iommu, smmu);
                CHECK_INT(d->iommu_map[0].iommu_base, 0x1c10);
                CHECK_INT(d->iommu_map[0].length, 1);
                CHECK_INT(d->iommu_map[1].rid_base, 0x100);
                CHECK_INT(d->iommu_map[1].iommu_base, 0x1c11);
                CHECK_INT(d->iommu_map[1].length, 1);
        }
        CHECK_INT(d ? d->n_rid_gaps : 0, 2);
        if (d && d->n_rid_gaps == 2) {
                CHECK_INT(d->rid_gaps[0].rid_base, 0x1);
                CHECK_INT(d->rid_gaps[0].count, 0xff);
                CHECK_INT(d->rid_gaps[1].rid_base, 0x101);
                CHECK_INT(d->rid_gaps[1].count, 0xffff - 0x100);
        }
        d = dev(inv, "/soc/pcie@1c08000");
        check_no_fault(d);
        CHECK(d && d->n_iommu_map == 1 && d->iommu_map[0].iommu_base == 0x1c80 &&
              d->iommu_map[0].length == 0x100 && d->n_rid_gaps == 0);
        d = dev(inv, "/soc/pcie@1c10000");
        check_fault(d, "iommu-map refers to /interrupt-controller@17a00000, which has no #iommu-cells");
        CHECK_INT(d ? d->n_iommu_map : 1, 0);
        CHECK_INT(d ? d->n_regions : 0, 1);
        d = dev(inv, "/soc/pcie@1c18000");
        check_fault(d, "iommu-map refers to phandle 0x1c11, which does not exist");
        check_no_fault(dev(inv, "/soc/serial@a84000"));
        check_no_fault(dev(inv, "/soc/usb@a600000"));
        dt_inventory_free(inv);
}

/*
 * Nodes whose properties contradict the tree are recorded with their
 * fault and what could be read; every other device is scanned as usual.
 */
static void test_inconsistent(void)
{
        struct dt_inventory *inv = dt_test_scan_data("inconsistent.dtb");
        const struct dt_device *d;
        const char *gic = "/interrupt-controller@f000000";

        if (!inv)
                return;
        d = dev(inv, "/soc/dma@1000");
        check_fault(d, "iommus refers to phandle 0x55, which does not exist");
        CHECK_REGION(d, 0, 0x1000, 0x1000);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 33, gic);
        CHECK_INT(d ? d->n_iommus : 1, 0);
        d = dev(inv, "/soc/sensor@3000");
        check_fault(d, "interrupt-map refers to phandle 0x99, which does not exist");
        CHECK_REGION(d, 0, 0x3000, 0x100);
        CHECK_INT(d ? d->n_irqs : 1, 0);
        check_fault(dev(inv, "/soc/mailbox@4000"), "iommus refers to /soc/serial@8000, which has no #iommu-cells");
        d = dev(inv, "/soc/gpu@5000");
        check_fault(d, "GIC PPI 126 is out of range (0..15)");
        CHECK_INT(d ? d->n_irqs : 1, 0);
        d = dev(inv, "/soc/i2c@9400");
        check_fault(d, "interrupt-parent refers to phandle 0x77, which does not exist");
        CHECK_REGION(d, 0, 0x9400, 0x400);
        /* Only what the window holds, and a fault that says the rest is past it. */
        d = dev(inv, "/soc/bus@20000/sram@20000");
        check_fault(d, "reg entry 0 (0x2000 bytes) runs past the end of a ranges window of /soc/bus@20000");
        CHECK_INT(d ? d->n_regions : 0, 1);
        CHECK_REGION(d, 0, 0x20000, 0x1000);

        check_no_fault(dev(inv, gic));
        check_no_fault(dev(inv, "/soc/iommu@e000000"));
        d = dev(inv, "/soc/ethernet@2000");
        check_no_fault(d);
        CHECK(d && d->n_iommus == 1 && d->iommus[0].n_ids == 1 && d->iommus[0].ids[0] == 0x20);
        check_no_fault(dev(inv, "/soc/serial@8000"));
        check_no_fault(dev(inv, "/soc/i2c@9000"));
        d = dev(inv, "/soc/rtc@a000");
        check_no_fault(d);
        CHECK_IRQ(d, 0, DT_IRQ_SPI, 43, gic);
        dt_inventory_free(inv);
}

static void test_names(void)
{
        for (int i = DT_COV_NONE; i <= DT_COV_IOMMU_DISABLED; i++)
                CHECK_INT(dt_coverage_from_string(dt_coverage_to_string(i)), i);
        for (int i = DT_DMA_UNKNOWN; i <= DT_DMA_NONE; i++)
                CHECK_INT(dt_dma_from_string(dt_dma_to_string(i)), i);
        for (int i = DT_IRQ_SPI; i <= DT_IRQ_NOT_GIC; i++)
                CHECK_INT(dt_irq_class_from_string(dt_irq_class_to_string(i)), i);
        for (int i = DT_IOMMU_UNSUPPORTED; i <= DT_IOMMU_IPMMU; i++)
                CHECK_INT(dt_iommu_kind_from_string(dt_iommu_kind_to_string(i)), i);
        CHECK_STR(dt_coverage_to_string(DT_COV_IOMMU_UNSUPPORTED), "iommu-unsupported");
        CHECK_STR(dt_irq_class_to_string(DT_IRQ_NOT_GIC), "not-gic");
        CHECK_INT(dt_dma_from_string("bogus"), -EINVAL);
        CHECK_INT(dt_coverage_from_string(NULL), -EINVAL);
        CHECK(dt_coverage_to_string((enum dt_coverage)42) == NULL);
        dt_inventory_free(NULL);
        dt_device_clear(NULL);
}

int main(void)
{
        DIR *d;

        test_names();
        test_demo();
        test_dom0_view();
        test_iommu_map_cells();
        test_inconsistent();

        dtb_dir = getenv("SHARED_DTB_DIR");
        if (!dtb_dir || !(d = opendir(dtb_dir))) {
                if (test_failures)
                        return test_done();
                TEST_SKIP("SHARED_DTB_DIR (%s) is not a readable directory: vendor DTBs not checked",
                          dtb_dir ? dtb_dir : "unset");
        }
        closedir(d);

        test_all_scan();
        test_speed();
        test_rcar();
        test_exynos();
        test_zynqmp();
        test_imx95();
        test_qemu();
        test_imx8mq();
        test_juno();
        test_fvp();
        test_rockchip();
        test_nxp_layerscape();
        test_bcm2711();
        return test_done();
}
