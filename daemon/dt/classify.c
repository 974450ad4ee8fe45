/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Classifier: turns the scanner's facts into the decisions the broker
 * acts on.  Coverage comes only from the IOMMU links and the kinds of
 * IOMMU Xen has drivers for; DMA capability only from "iommus" /
 * "iommu-map" or from tables of compatibles (built in here, extended by
 * the administrator); nothing is inferred from names.  Devices that share
 * a 4 KiB page, an SPI or an IOMMU stream ID are put in one assignment
 * group with union-find, because Xen cannot give them to different
 * domains safely.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "sha256.h"

struct table_entry {
        char *pattern;          /* a compatible, or an fnmatch pattern */
        enum dt_dma dma;
        bool admin;
};

struct classify_tables {
        struct table_entry *admin;      /* in load order: later entries win */
        size_t n_admin, cap_admin;
        char digest[65];
};

/*
 * Built-in knowledge.  Only entries we are sure of: a device listed as
 * "none" must not be able to initiate bus-master DMA itself (a UART that
 * is fed by an external DMA engine is still "none": the engine is the
 * master).  Anything not listed stays "unknown".
 */
static const struct {
        const char *pattern;
        enum dt_dma dma;
} builtin[] = {
        /* DMA engines */
        { "arm,pl330", DT_DMA_MASTER },
        { "arm,pl080", DT_DMA_MASTER },
        { "arm,pl081", DT_DMA_MASTER },
        { "renesas,dmac-*", DT_DMA_MASTER },
        { "renesas,rcar-dmac", DT_DMA_MASTER },
        { "renesas,*-usb-dmac", DT_DMA_MASTER },
        { "renesas,usb-dmac", DT_DMA_MASTER },
        { "xlnx,zynqmp-dma-1.0", DT_DMA_MASTER },
        { "xlnx,zynqmp-dpdma", DT_DMA_MASTER },
        { "fsl,imx*-sdma", DT_DMA_MASTER },
        { "fsl,imx*-edma*", DT_DMA_MASTER },
        { "fsl,vf610-edma", DT_DMA_MASTER },
        { "brcm,bcm2835-dma", DT_DMA_MASTER },
        { "brcm,bcm2711-dma", DT_DMA_MASTER },
        { "snps,axi-dma-1.01a", DT_DMA_MASTER },
        /* USB host and dual-role controllers */
        { "generic-ehci", DT_DMA_MASTER },
        { "generic-ohci", DT_DMA_MASTER },
        { "generic-xhci", DT_DMA_MASTER },
        { "usb-ehci", DT_DMA_MASTER },
        { "usb-ohci", DT_DMA_MASTER },
        { "snps,dwc3", DT_DMA_MASTER },
        { "snps,dwc2", DT_DMA_MASTER },
        { "samsung,exynos4210-ehci", DT_DMA_MASTER },
        { "samsung,exynos4210-ohci", DT_DMA_MASTER },
        { "renesas,xhci-r8a*", DT_DMA_MASTER },
        { "renesas,rcar-gen3-xhci", DT_DMA_MASTER },
        /* SATA */
        { "generic-ahci", DT_DMA_MASTER },
        { "ceva,ahci-1v84", DT_DMA_MASTER },
        { "snps,dwc-ahci", DT_DMA_MASTER },
        { "fsl,*-ahci", DT_DMA_MASTER },
        /* Ethernet MACs with their own descriptor DMA */
        { "cdns,macb", DT_DMA_MASTER },
        { "cdns,gem", DT_DMA_MASTER },
        { "xlnx,zynqmp-gem", DT_DMA_MASTER },
        { "snps,dwmac*", DT_DMA_MASTER },
        { "snps,dwxgmac*", DT_DMA_MASTER },
        { "renesas,etheravb-*", DT_DMA_MASTER },
        { "brcm,genet-v5", DT_DMA_MASTER },
        { "brcm,bcm2711-genet-v5", DT_DMA_MASTER },
        { "fsl,imx*-fec", DT_DMA_MASTER },
        /* SD/MMC hosts with internal (ADMA/IDMAC) DMA */
        { "fsl,imx*-usdhc", DT_DMA_MASTER },
        { "fsl,esdhc", DT_DMA_MASTER },
        { "fsl,ls*-esdhc", DT_DMA_MASTER },
        { "arasan,sdhci-8.9a", DT_DMA_MASTER },
        { "arasan,sdhci-5.1", DT_DMA_MASTER },
        { "snps,dwcmshc-sdhci", DT_DMA_MASTER },
        { "rockchip,*-dw-mshc", DT_DMA_MASTER },
        { "samsung,exynos*-dw-mshc", DT_DMA_MASTER },
        { "renesas,sdhi-r8a*", DT_DMA_MASTER },
        { "brcm,bcm2711-emmc2", DT_DMA_MASTER },
        /* GPUs and display engines (they fetch from memory) */
        { "arm,mali-*", DT_DMA_MASTER },
        { "vivante,gc", DT_DMA_MASTER },
        { "brcm,2711-v3d", DT_DMA_MASTER },
        { "arm,hdlcd", DT_DMA_MASTER },
        /* PCIe host bridges: the devices behind them master the bus */
        { "pci-host-ecam-generic", DT_DMA_MASTER },
        { "pci-host-cam-generic", DT_DMA_MASTER },
        /* virtio transports: the device model reads and writes guest memory */
        { "virtio,mmio", DT_DMA_MASTER },

        /* UARTs (PIO; any DMA goes through a separate engine) */
        { "arm,pl011", DT_DMA_NONE },
        { "arm,sbsa-uart", DT_DMA_NONE },
        { "ns16550", DT_DMA_NONE },
        { "ns16550a", DT_DMA_NONE },
        { "snps,dw-apb-uart", DT_DMA_NONE },
        { "cdns,uart-r1p12", DT_DMA_NONE },
        { "xlnx,zynqmp-uart", DT_DMA_NONE },
        { "samsung,exynos4210-uart", DT_DMA_NONE },
        { "fsl,imx*-lpuart", DT_DMA_NONE },
        { "fsl,imx*-uart", DT_DMA_NONE },
        { "brcm,bcm2835-aux-uart", DT_DMA_NONE },
        /* GPIO controllers */
        { "arm,pl061", DT_DMA_NONE },
        { "fsl,imx*-gpio", DT_DMA_NONE },
        { "fsl,qoriq-gpio", DT_DMA_NONE },
        { "renesas,gpio-r8a*", DT_DMA_NONE },
        { "renesas,rcar-gen3-gpio", DT_DMA_NONE },
        { "rockchip,gpio-bank", DT_DMA_NONE },
        { "xlnx,zynqmp-gpio-1.0", DT_DMA_NONE },
        /* RTCs */
        { "arm,pl031", DT_DMA_NONE },
        { "xlnx,zynqmp-rtc", DT_DMA_NONE },
        { "samsung,s3c6410-rtc", DT_DMA_NONE },
        /* Watchdogs */
        { "arm,sp805", DT_DMA_NONE },
        { "arm,sbsa-gwdt", DT_DMA_NONE },
        { "snps,dw-wdt", DT_DMA_NONE },
        { "cdns,wdt-r1p2", DT_DMA_NONE },
        { "samsung,exynos5250-wdt", DT_DMA_NONE },
        { "fsl,imx*-wdt", DT_DMA_NONE },
        /* Timers */
        { "arm,sp804", DT_DMA_NONE },
        { "arm,armv7-timer", DT_DMA_NONE },
        { "arm,armv8-timer", DT_DMA_NONE },
        /* I2C controllers (no DMA of their own) */
        { "snps,designware-i2c", DT_DMA_NONE },
        { "cdns,i2c-r1p14", DT_DMA_NONE },
        { "samsung,s3c2440-i2c", DT_DMA_NONE },
        { "brcm,bcm2711-i2c", DT_DMA_NONE },
        { "rockchip,rk3399-i2c", DT_DMA_NONE },
        { "arm,versatile-i2c", DT_DMA_NONE },
        /* SPI controllers that rely on an external DMA engine */
        { "arm,pl022", DT_DMA_NONE },
        /* Keyboard/mouse, system controllers, PWM */
        { "arm,pl050", DT_DMA_NONE },
        { "arm,sp810", DT_DMA_NONE },
        { "arm,mhu", DT_DMA_NONE },
        { "arm,mhu-doorbell", DT_DMA_NONE },
};

int classify_tables_new(struct classify_tables **ret)
{
        struct classify_tables *t = calloc(1, sizeof(*t));
        struct sha256_ctx c;
        uint8_t d[32];

        if (!t)
                return -ENOMEM;
        /* The digest covers the admin entries on top of the built-in table's identity. */
        sha256_init(&c);
        for (size_t i = 0; i < ARRAY_SIZE(builtin); i++) {
                sha256_update(&c, builtin[i].pattern, strlen(builtin[i].pattern) + 1);
                sha256_update(&c, dt_dma_to_string(builtin[i].dma), strlen(dt_dma_to_string(builtin[i].dma)) + 1);
        }
        sha256_final(&c, d);
        sha256_hex(d, sizeof(d), t->digest);
        *ret = t;
        return 0;
}

static void update_digest(struct classify_tables *t, const char *pattern, enum dt_dma dma)
{
        char buf[512];
        int n = snprintf(buf, sizeof(buf), "%s%s %s\n", t->digest, dt_dma_to_string(dma), pattern);

        if (n < 0)
                return;
        sha256_hex(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, t->digest);
}

int classify_tables_load_file(struct classify_tables *t, const char *path, char **err)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, n_before = t->n_admin;
        unsigned lineno = 0;
        ssize_t n;

        f = fopen(path, "re");
        if (!f)
                return set_error(err, -errno, "cannot open %s: %s", path, strerror(errno));
        while ((n = getline(&line, &cap, f)) >= 0) {
                char *p = line, *kind, *pat, *extra, *save = NULL;
                int dma;

                lineno++;
                if (n > 0 && line[n - 1] == '\n')
                        line[n - 1] = '\0';
                p += strspn(p, " \t");
                if (*p == '#' || *p == '\0')
                        continue;
                kind = strtok_r(p, " \t", &save);
                pat = strtok_r(NULL, " \t", &save);
                extra = strtok_r(NULL, " \t", &save);
                dma = dt_dma_from_string(kind);
                if (dma < 0 || !pat || (extra && extra[0] != '#')) {
                        /* Leave the tables as they were: a half-loaded file is worse than none. */
                        for (size_t i = n_before; i < t->n_admin; i++)
                                free(t->admin[i].pattern);
                        t->n_admin = n_before;
                        return set_error(err, -EINVAL,
                                         "%s:%u: expected \"master|none|unknown COMPATIBLE\"", path, lineno);
                }
                if (GROW(t->admin, t->cap_admin, t->n_admin) < 0)
                        return set_error(err, -ENOMEM, "out of memory reading %s", path);
                t->admin[t->n_admin].pattern = strdup(pat);
                if (!t->admin[t->n_admin].pattern)
                        return set_error(err, -ENOMEM, "out of memory reading %s", path);
                t->admin[t->n_admin].dma = (enum dt_dma)dma;
                t->admin[t->n_admin].admin = true;
                t->n_admin++;
        }
        for (size_t i = n_before; i < t->n_admin; i++)
                update_digest(t, t->admin[i].pattern, t->admin[i].dma);
        return 0;
}

static int conf_filter(const char *name)
{
        size_t l = strlen(name);

        return name[0] != '.' && l > 5 && strcmp(name + l - 5, ".conf") == 0;
}

int classify_tables_load_dir(struct classify_tables *t, const char *dir, char **err)
{
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, NULL, alphasort);
        if (n < 0) {
                if (errno == ENOENT)
                        return 0;
                return set_error(err, -errno, "cannot read %s: %s", dir, strerror(errno));
        }
        for (int i = 0; i < n; i++) {
                if (r >= 0 && conf_filter(list[i]->d_name)) {
                        _cleanup_free_ char *p = strdup_printf("%s/%s", dir, list[i]->d_name);

                        r = p ? classify_tables_load_file(t, p, err)
                              : set_error(err, -ENOMEM, "out of memory");
                }
                free(list[i]);
        }
        free(list);
        return r < 0 ? r : 0;
}

/* Which entry decides a compatible: the last matching admin entry, else the first built-in one. */
static enum dt_dma lookup(const struct classify_tables *t, const char *compatible, bool *admin)
{
        for (size_t i = t ? t->n_admin : 0; i > 0; i--)
                if (fnmatch(t->admin[i - 1].pattern, compatible, 0) == 0) {
                        *admin = true;
                        return t->admin[i - 1].dma;
                }
        *admin = false;
        for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
                if (fnmatch(builtin[i].pattern, compatible, 0) == 0)
                        return builtin[i].dma;
        return DT_DMA_UNKNOWN;
}

enum dt_dma classify_tables_lookup(const struct classify_tables *t, const char *compatible)
{
        bool admin;

        if (!compatible)
                return DT_DMA_UNKNOWN;
        return lookup(t, compatible, &admin);
}

const char *classify_tables_digest(const struct classify_tables *t)
{
        return t ? t->digest : NULL;
}

void classify_tables_free(struct classify_tables *t)
{
        if (!t)
                return;
        for (size_t i = 0; t->admin && i < t->n_admin; i++)
                free(t->admin[i].pattern);
        free(t->admin);
        free(t);
}

/* ---- per-device decisions ----------------------------------------------- */

static bool compat_match(const struct dt_device *d, const char *const *patterns)
{
        for (size_t i = 0; d->compatible && d->compatible[i]; i++)
                for (size_t j = 0; patterns[j]; j++)
                        if (fnmatch(patterns[j], d->compatible[i], 0) == 0)
                                return true;
        return false;
}

static enum dt_coverage coverage_of_targets(const struct dt_inventory *inv, const char *const *paths, size_t n)
{
        bool unsupported = false, disabled = false;

        if (n == 0)
                return DT_COV_NONE;
        for (size_t i = 0; i < n; i++) {
                const struct dt_iommu *m = dt_inventory_find_iommu(inv, paths[i]);

                if (!m || m->kind == DT_IOMMU_UNSUPPORTED)
                        unsupported = true;
                else if (!m->enabled)
                        disabled = true;
        }
        /* Enabling an IOMMU Xen cannot drive would not help, so "unsupported" wins. */
        if (unsupported)
                return DT_COV_IOMMU_UNSUPPORTED;
        if (disabled)
                return DT_COV_IOMMU_DISABLED;
        return DT_COV_PROTECTED;
}

static int classify_coverage(const struct dt_inventory *inv, struct dt_device *d)
{
        const char **paths;
        size_t n = 0;

        paths = calloc(d->n_iommus + d->n_iommu_map + 1, sizeof(char *));
        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_iommus; i++)
                paths[n++] = d->iommus[i].iommu;
        /* A map entry of length 0 translates nothing (LX2160A's fsl-mc placeholder). */
        for (size_t i = 0; i < d->n_iommu_map; i++)
                if (d->iommu_map[i].length > 0)
                        paths[n++] = d->iommu_map[i].iommu;
        d->coverage = coverage_of_targets(inv, paths, n);
        free(paths);
        return 0;
}

static int classify_dma(const struct classify_tables *t, struct dt_device *d)
{
        char *src = NULL;

        d->dma = DT_DMA_UNKNOWN;
        if (d->n_iommus > 0) {
                d->dma = DT_DMA_MASTER;
                src = strdup("iommus");
        } else if (d->n_iommu_map > 0) {
                d->dma = DT_DMA_MASTER;
                src = strdup("iommu-map");
        } else {
                /* The most specific compatible that some table knows decides. */
                for (size_t i = 0; d->compatible && d->compatible[i]; i++) {
                        bool admin;
                        enum dt_dma v = lookup(t, d->compatible[i], &admin);

                        if (v == DT_DMA_UNKNOWN && !admin)
                                continue;
                        d->dma = v;
                        src = strdup_printf("%s:%s", admin ? "admin" : "table", d->compatible[i]);
                        break;
                }
                if (!src && d->pci_host) {
                        d->dma = DT_DMA_MASTER;
                        src = strdup("pci-host");
                }
                if (!src)
                        src = strdup("no table entry");
        }
        if (!src)
                return -ENOMEM;
        free(d->dma_source);
        d->dma_source = src;
        return 0;
}

static bool has_spi(const struct dt_device *d)
{
        for (size_t i = 0; i < d->n_irqs; i++)
                if (d->irqs[i].cls == DT_IRQ_SPI)
                        return true;
        return false;
}

/* Xen's dom0 builder skips these nodes and everything below them. */
static const char *const timer_mem[] = { "arm,armv7-timer-mem", NULL };

/* Why a device can never be handed to a guest, or NULL. */
static const char *fixed_reason(const struct dt_device *d)
{
        static const char *const gic_parts[] = {
                "arm,gic-v3-its", "arm,gic-v2m-frame", "arm,gic-*", "arm,cortex-a*-gic", NULL,
        };
        static const char *const timers[] = { "arm,armv7-timer", "arm,armv8-timer", NULL };
        static const char *const firmware[] = { "arm,psci*", "arm,scmi*", "arm,scpi*", "arm,sdei-*", NULL };
        static const char *const pmu[] = { "arm,*-pmu", "arm,armv8-pmuv3", NULL };
        static const char *const hyp[] = { "xen,xen", NULL };
        /*
         * Interrupt and MSI infrastructure without the interrupt-controller
         * property (the GIC's own ITS and GICv2m frames are gic_parts):
         * blocks whose children are the interrupt controllers (Marvell
         * CP110 ICU, HiSilicon mbigen), and MSI controllers, which may lack
         * msi-controller as well.
         */
        static const char *const irq_blocks[] = { "marvell,cp110-icu", "hisilicon,mbigen-v2", NULL };
        static const char *const msi[] = { "marvell,odmi-controller", "apm,xgene1-msi", NULL };

        if (d->is_xen_console)
                return "Xen's console (/chosen/stdout-path)";
        if (compat_match(d, hyp))
                return "hypervisor node";
        if (startswith(d->path, "/cpus/") || streq(d->path, "/cpus"))
                return "CPU node";
        if (d->is_memory || ((startswith(d->node_name, "memory@") || streq(d->node_name, "memory")) &&
                             d->path && d->path[0] == '/' && strchr(&d->path[1], '/') == NULL))
                return "memory";
        if (startswith(d->path, "/reserved-memory/"))
                return "reserved memory";
        if (startswith(d->path, "/chosen"))
                return "/chosen";
        if (startswith(d->path, "/firmware") || compat_match(d, firmware))
                return "firmware interface";
        if (d->is_iommu)
                return "IOMMU";
        if (d->is_interrupt_controller && !d->is_gpio_controller)
                return "interrupt controller";
        if (compat_match(d, gic_parts))
                return "part of the GIC";
        if (d->is_msi_controller || compat_match(d, msi))
                return "MSI controller";
        if (compat_match(d, irq_blocks))
                return "interrupt controller block (its children are the interrupt controllers)";
        if (compat_match(d, timer_mem))
                return "memory-mapped timer (Xen does not support it: its dom0 builder skips it)";
        if (compat_match(d, timers))
                return "architected timer (used by Xen)";
        if (compat_match(d, pmu))
                return "CPU performance monitor (per-CPU)";
        if (d->n_regions == 0 && !has_spi(d))
                return "no CPU-addressable region and no SPI";
        return NULL;
}

/*
 * The device Xen's dom0 builder skips that d lies under (a frame of a
 * memory-mapped timer), or NULL.  timers are the memory-mapped timers of
 * the tree, found once: a tree has one or none, and asking every device
 * about every other would be quadratic in the size of the tree.
 */
static const struct dt_device *skipped_ancestor(const struct dt_device *const *timers,
                                                size_t n_timers, const struct dt_device *d)
{
        for (size_t i = 0; i < n_timers; i++) {
                const struct dt_device *a = timers[i];
                size_t l = strlen(a->path);

                if (a != d && strncmp(d->path, a->path, l) == 0 && d->path[l] == '/')
                        return a;
        }
        return NULL;
}

/*
 * d->assignable and d->reason before grouping.  A node whose properties
 * are inconsistent says so first: that is what its administrator must
 * fix, whatever else it is.
 */
static int decide_assignable(const struct dt_device *const *timers, size_t n_timers,
                             struct dt_device *d)
{
        const char *why = d->fault ? NULL : fixed_reason(d);
        const struct dt_device *a = d->fault || why ? NULL : skipped_ancestor(timers, n_timers, d);

        d->assignable = !d->fault && !why && !a;
        if (d->assignable)
                return 0;
        if (d->fault)
                d->reason = strdup_printf("inconsistent device tree: %s", d->fault);
        else if (why)
                d->reason = strdup(why);
        else
                d->reason = strdup_printf("part of %s, a memory-mapped timer Xen does not support "
                                          "(its dom0 builder skips it)", a->path);
        return d->reason ? 0 : -ENOMEM;
}

/* ---- groups --------------------------------------------------------------- */

struct edge {
        size_t a, b;
        char *why;
};

struct grouping {
        size_t *parent;
        struct edge *edges;
        size_t n_edges, cap_edges;
};

static size_t uf_find(size_t *parent, size_t x)
{
        while (parent[x] != x) {
                parent[x] = parent[parent[x]];
                x = parent[x];
        }
        return x;
}

static int link_devices(struct grouping *g, size_t a, size_t b, char *why)
{
        size_t ra, rb;

        if (!why)
                return -ENOMEM;
        if (a == b) {
                free(why);
                return 0;
        }
        if (GROW(g->edges, g->cap_edges, g->n_edges) < 0) {
                free(why);
                return -ENOMEM;
        }
        g->edges[g->n_edges++] = (struct edge){ .a = a, .b = b, .why = why };
        ra = uf_find(g->parent, a);
        rb = uf_find(g->parent, b);
        if (ra != rb)
                g->parent[ra < rb ? rb : ra] = ra < rb ? ra : rb;
        return 0;
}

struct span {
        uint64_t start, end;    /* page-rounded, end exclusive (0 = top of the address space) */
        size_t dev;
};

static int cmp_span(const void *x, const void *y)
{
        const struct span *a = x, *b = y;

        if (a->start != b->start)
                return a->start < b->start ? -1 : 1;
        return a->dev < b->dev ? -1 : a->dev > b->dev;
}

static uint64_t span_end(const struct dt_region *r)
{
        uint64_t last = r->base + r->size - 1;

        return (last | 0xfff) + 1;      /* wraps to 0 only at the very top */
}

static bool overlaps(const struct span *a, const struct span *b)
{
        uint64_t ae = a->end ? a->end : UINT64_MAX, be = b->end ? b->end : UINT64_MAX;

        return a->start < be && b->start < ae;
}

static bool is_descendant(const struct dt_device *child, const struct dt_device *anc)
{
        size_t l = strlen(anc->path);

        return strncmp(child->path, anc->path, l) == 0 && (child->path[l] == '/' || l == 1);
}

static int group_pages(const struct dt_inventory *inv, struct grouping *g)
{
        struct span *spans = NULL, *bus = NULL;
        size_t n = 0, cap = 0, n_bus = 0, cap_bus = 0, cur = 0;
        uint64_t cur_end = 0;
        bool have = false;
        int r = 0;

        /*
         * A bus node's own reg often spans its whole window (i.MX AIPS),
         * which describes containment, not two devices sharing a page:
         * bus regions only conflict with devices outside that bus.
         */
        for (size_t i = 0; i < inv->n_devices; i++)
                for (size_t j = 0; j < inv->devices[i].n_regions; j++) {
                        const struct dt_region *reg = &inv->devices[i].regions[j];
                        struct span sp = { .start = reg->base & ~(uint64_t)0xfff, .end = span_end(reg), .dev = i };

                        if (inv->devices[i].is_bus) {
                                if (GROW(bus, cap_bus, n_bus) < 0)
                                        goto oom;
                                bus[n_bus++] = sp;
                        } else {
                                if (GROW(spans, cap, n) < 0)
                                        goto oom;
                                spans[n++] = sp;
                        }
                }
        if (n > 1)
                qsort(spans, n, sizeof(*spans), cmp_span);
        /*
         * Sweep: a span starting before the furthest end seen so far
         * overlaps the span owning that end, and spans sharing a point
         * end up in one component, so one union per span suffices.
         */
        for (size_t i = 0; i < n && r >= 0; i++) {
                uint64_t e = spans[i].end ? spans[i].end : UINT64_MAX;

                if (have && spans[i].start < cur_end && spans[i].dev != spans[cur].dev)
                        r = link_devices(g, spans[cur].dev, spans[i].dev,
                                         strdup_printf("share page 0x%" PRIx64, spans[i].start));
                if (!have || e > cur_end) {
                        cur = i;
                        cur_end = e;
                        have = true;
                }
        }
        /* Buses are few: compare each with every span (and every other bus) directly. */
        for (size_t b = 0; b < n_bus && r >= 0; b++) {
                const struct dt_device *bd = &inv->devices[bus[b].dev];

                for (size_t i = 0; i < n + n_bus && r >= 0; i++) {
                        const struct span *o = i < n ? &spans[i] : &bus[i - n];
                        const struct dt_device *od = &inv->devices[o->dev];

                        if (o->dev == bus[b].dev || !overlaps(&bus[b], o) ||
                            is_descendant(od, bd) || is_descendant(bd, od))
                                continue;
                        r = link_devices(g, bus[b].dev, o->dev,
                                         strdup_printf("share page 0x%" PRIx64,
                                                       o->start > bus[b].start ? o->start : bus[b].start));
                }
        }
        free(spans);
        free(bus);
        return r;
oom:
        free(spans);
        free(bus);
        return -ENOMEM;
}

/*
 * An SPI, or a run of stream IDs on one IOMMU: [lo, hi).  A device's
 * "iommus" gives single IDs; a PCI host's iommu-map gives the run of
 * stream IDs its requester IDs become, and two hosts (or a host and a
 * platform device) whose runs meet on one IOMMU cannot be told apart by
 * it.
 */
struct key {
        const char *iommu;      /* NULL for SPIs */
        uint64_t lo, hi;
        size_t dev;
};

static int cmp_key(const void *x, const void *y)
{
        const struct key *a = x, *b = y;
        int c = strcmp(a->iommu ? a->iommu : "", b->iommu ? b->iommu : "");

        if (c)
                return c;
        if (a->lo != b->lo)
                return a->lo < b->lo ? -1 : 1;
        return a->dev < b->dev ? -1 : a->dev > b->dev;
}

/* The same sweep as for pages, one IOMMU (or the SPIs) at a time. */
static int group_keys(struct grouping *g, struct key *keys, size_t n)
{
        size_t cur = 0;

        /* qsort must not see a NULL array, even empty. */
        if (n > 1)
                qsort(keys, n, sizeof(*keys), cmp_key);
        for (size_t i = 1; i < n; i++) {
                const struct key *k = &keys[i];
                char *why;
                int r;

                if (!streq(keys[cur].iommu ? keys[cur].iommu : "", k->iommu ? k->iommu : "")) {
                        cur = i;
                        continue;
                }
                if (k->lo < keys[cur].hi && k->dev != keys[cur].dev) {
                        if (k->iommu)
                                why = strdup_printf("share stream ID 0x%" PRIx64 " on %s", k->lo, k->iommu);
                        else
                                why = strdup_printf("share SPI %" PRIu64 " (IRQ %" PRIu64 ")", k->lo - 32, k->lo);
                        r = link_devices(g, keys[cur].dev, k->dev, why);
                        if (r < 0)
                                return r;
                }
                if (k->hi > keys[cur].hi)
                        cur = i;
        }
        return 0;
}

static int add_key(struct key **keys, size_t *cap, size_t *n, struct key k)
{
        if (GROW(*keys, *cap, *n) < 0)
                return -ENOMEM;
        (*keys)[(*n)++] = k;
        return 0;
}

static int group_spis_and_ids(const struct dt_inventory *inv, struct grouping *g)
{
        struct key *keys = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        for (size_t i = 0; i < inv->n_devices && r >= 0; i++) {
                const struct dt_device *d = &inv->devices[i];

                for (size_t j = 0; j < d->n_irqs && r >= 0; j++)
                        if (d->irqs[j].cls == DT_IRQ_SPI)
                                r = add_key(&keys, &cap, &n, (struct key){
                                        .lo = d->irqs[j].hwirq, .hi = (uint64_t)d->irqs[j].hwirq + 1, .dev = i });
                for (size_t j = 0; j < d->n_iommus; j++)
                        for (size_t k = 0; k < d->iommus[j].n_ids && r >= 0; k++)
                                r = add_key(&keys, &cap, &n, (struct key){
                                        .iommu = d->iommus[j].iommu, .lo = d->iommus[j].ids[k],
                                        .hi = (uint64_t)d->iommus[j].ids[k] + 1, .dev = i });
                for (size_t j = 0; j < d->n_iommu_map && r >= 0; j++)
                        if (d->iommu_map[j].length > 0)
                                r = add_key(&keys, &cap, &n, (struct key){
                                        .iommu = d->iommu_map[j].iommu, .lo = d->iommu_map[j].iommu_base,
                                        .hi = (uint64_t)d->iommu_map[j].iommu_base + d->iommu_map[j].length,
                                        .dev = i });
        }
        if (r >= 0)
                r = group_keys(g, keys, n);
        free(keys);
        return r;
}

/* Join the distinct reasons of a group's edges, a few of them at most. */
static char *group_why(const struct grouping *g, size_t root)
{
        enum { MAX_SHOWN = 4 };
        const char *shown[MAX_SHOWN];
        size_t n_shown = 0, more = 0, len = 1;
        char *s;

        for (size_t i = 0; i < g->n_edges; i++) {
                bool dup = false;

                if (uf_find(g->parent, g->edges[i].a) != root)
                        continue;
                for (size_t j = 0; j < n_shown; j++)
                        if (strcmp(shown[j], g->edges[i].why) == 0)
                                dup = true;
                if (dup)
                        continue;
                if (n_shown < MAX_SHOWN) {
                        shown[n_shown++] = g->edges[i].why;
                        len += strlen(g->edges[i].why) + 2;
                } else {
                        more++;
                }
        }
        s = malloc(len + 32);
        if (!s)
                return NULL;
        s[0] = '\0';
        for (size_t j = 0; j < n_shown; j++) {
                if (j)
                        strcat(s, "; ");
                strcat(s, shown[j]);
        }
        if (more)
                sprintf(s + strlen(s), "; and %zu more", more);
        return s;
}

/*
 * A group is assigned whole or not at all, so a member that can never be
 * assigned (an IOMMU, the console's UART, ...) makes every other member
 * unassignable too.  We still group all devices, assignable or not, so
 * the reason can name the culprit: e.g. an RK3399 VOP shares its SPI with
 * its own (unsupported) IOMMU.
 */
static int poison_groups(struct dt_inventory *inv, const struct grouping *g)
{
        bool *blocked = calloc(inv->n_devices, sizeof(bool));

        if (!blocked)
                return -ENOMEM;
        /* Only devices blocked for their own reasons count: the result must not depend on order. */
        for (size_t i = 0; i < inv->n_devices; i++)
                blocked[i] = !inv->devices[i].assignable;

        for (size_t i = 0; i < inv->n_devices; i++) {
                struct dt_device *d = &inv->devices[i];
                const struct edge *best = NULL;
                size_t other = 0;

                if (blocked[i] || d->group < 0)
                        continue;
                /* Prefer a direct edge to a blocked device, else any blocked member. */
                for (size_t e = 0; e < g->n_edges && !best; e++) {
                        size_t o;

                        if (g->edges[e].a == i)
                                o = g->edges[e].b;
                        else if (g->edges[e].b == i)
                                o = g->edges[e].a;
                        else
                                continue;
                        if (blocked[o]) {
                                best = &g->edges[e];
                                other = o;
                        }
                }
                if (best) {
                        /* "share X" -> "shares X with P which cannot be assigned" */
                        const char *rest = startswith(best->why, "share ") ? best->why + 6 : best->why;

                        d->reason = strdup_printf("shares %s with %s which cannot be assigned (%s)", rest,
                                                  inv->devices[other].path, inv->devices[other].reason);
                } else {
                        for (size_t k = 0; k < inv->groups[d->group].n_members; k++) {
                                size_t o = inv->groups[d->group].members[k];

                                if (!blocked[o])
                                        continue;
                                d->reason = strdup_printf("in a group with %s which cannot be assigned (%s)",
                                                          inv->devices[o].path, inv->devices[o].reason);
                                other = o;
                                best = g->edges;        /* mark as handled */
                                break;
                        }
                }
                if (!best)
                        continue;
                if (!d->reason) {
                        free(blocked);
                        return -ENOMEM;
                }
                d->assignable = false;
        }
        free(blocked);
        return 0;
}

static int build_groups(struct dt_inventory *inv)
{
        struct grouping g = { 0 };
        size_t *root_group = NULL, *size = NULL;
        int r;

        if (inv->n_devices == 0)
                return 0;
        g.parent = malloc(inv->n_devices * sizeof(size_t));
        root_group = malloc(inv->n_devices * sizeof(size_t));
        size = calloc(inv->n_devices, sizeof(size_t));
        if (!g.parent || !root_group || !size) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                g.parent[i] = i;
                root_group[i] = SIZE_MAX;
        }
        r = group_pages(inv, &g);
        if (r >= 0)
                r = group_spis_and_ids(inv, &g);
        if (r < 0)
                goto out;

        for (size_t i = 0; i < inv->n_devices; i++)
                size[uf_find(g.parent, i)]++;
        for (size_t i = 0; i < inv->n_devices; i++) {
                size_t root = uf_find(g.parent, i);
                struct dt_group *grp;

                if (size[root] < 2)
                        continue;
                if (root_group[root] == SIZE_MAX) {
                        size_t cap = inv->n_groups;     /* exact-size growth keeps GROW's contract simple */
                        struct dt_group *ng = realloc(inv->groups, (cap + 1) * sizeof(*ng));

                        if (!ng) {
                                r = -ENOMEM;
                                goto out;
                        }
                        inv->groups = ng;
                        memset(&inv->groups[inv->n_groups], 0, sizeof(*ng));
                        inv->groups[inv->n_groups].why = group_why(&g, root);
                        if (!inv->groups[inv->n_groups].why) {
                                r = -ENOMEM;
                                goto out;
                        }
                        root_group[root] = inv->n_groups++;
                }
                grp = &inv->groups[root_group[root]];
                {
                        size_t *m = realloc(grp->members, (grp->n_members + 1) * sizeof(size_t));

                        if (!m) {
                                r = -ENOMEM;
                                goto out;
                        }
                        grp->members = m;
                        grp->members[grp->n_members++] = i;
                }
                inv->devices[i].group = (int)root_group[root];
        }
        r = poison_groups(inv, &g);
out:
        for (size_t i = 0; i < g.n_edges; i++)
                free(g.edges[i].why);
        free(g.edges);
        free(g.parent);
        free(root_group);
        free(size);
        return r;
}

static void clear_classification(struct dt_inventory *inv)
{
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct dt_device *d = &inv->devices[i];

                free(d->dma_source);
                d->dma_source = NULL;
                free(d->reason);
                d->reason = NULL;
                d->group = -1;
                d->assignable = false;
                d->coverage = DT_COV_NONE;
                d->dma = DT_DMA_UNKNOWN;
        }
        for (size_t i = 0; inv->groups && i < inv->n_groups; i++) {
                free(inv->groups[i].members);
                free(inv->groups[i].why);
        }
        free(inv->groups);
        inv->groups = NULL;
        inv->n_groups = 0;
}

int classify_inventory(struct dt_inventory *inv, const struct classify_tables *t)
{
        _cleanup_free_ const struct dt_device **timers = NULL;
        size_t n_timers = 0;
        int r;

        if (!inv)
                return -EINVAL;
        clear_classification(inv);
        timers = calloc(inv->n_devices + 1, sizeof(*timers));
        if (!timers)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (compat_match(&inv->devices[i], timer_mem))
                        timers[n_timers++] = &inv->devices[i];
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct dt_device *d = &inv->devices[i];

                r = classify_coverage(inv, d);
                if (r >= 0)
                        r = classify_dma(t, d);
                if (r < 0)
                        goto fail;
                r = decide_assignable(timers, n_timers, d);
                if (r < 0)
                        goto fail;
        }
        r = build_groups(inv);
        if (r < 0)
                goto fail;
        return 0;
fail:
        clear_classification(inv);
        return r;
}
