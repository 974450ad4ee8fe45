/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest-side generators: layout of host devices in the guest address space,
 * the partial device tree (xl device_tree= and dom0less flavours), and the
 * xl.cfg and ImageBuilder fragments.
 *
 * The layout works in 4 KiB pages because that is what Xen maps
 * (iomem=, XEN_DOMCTL_memory_mapping, dom0less xen,reg); a region keeps its
 * offset inside its page wherever it lands.  The partial DTB is written
 * with libfdt's sequential-write API, which makes the output a pure
 * function of the inputs: nodes and properties come out in the order of the
 * layout and of the host node, phandles are numbered from 1 in that order.
 *
 * See guestcfg.h for the Xen facts this relies on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "guestcfg.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (UINT64_C(1) << PAGE_SHIFT)
/*
 * Relocated regions keep their host address modulo 64 KiB, not only modulo
 * 4 KiB: a guest kernel built with 64 KiB pages maps MMIO in 64 KiB
 * granules, and keeping the congruence means a device sits at the same
 * place in its granule as on the host.
 */
#define RELOC_ALIGN_PAGES 16u

/* ------------------------------------------------------------------------ */
/* Xen's guest memory map                                                   */

struct xen_range {
        uint64_t first, last;   /* inclusive */
        const char *name;
};

/*
 * Reserved guest physical ranges of Xen 4.17 on Arm, from
 * xen/include/public/arch-arm.h (GUEST_*), checked against the 4.17 headers
 * Debian ships.  arch-arm.h warns that the layout is not stable; later
 * releases are assumed to keep these ranges (they only proposed additions
 * in holes we do not relocate into), and releases before 4.17 are refused.
 */
static const struct xen_range xen_map_4_17[] = {
        /* libxl and dom0less place virtio-mmio transports here. */
        { 0x02000000, 0x020fffff, "GUEST_VIRTIO_MMIO (virtio-mmio transports)" },
        /* vGICv2 GICD 0x03001000+4K and GICC 0x03002000+8K; vGICv3 GICD +64K. */
        { 0x03001000, 0x03010fff, "GUEST_GICD/GUEST_GICC/GUEST_GICV3_GICD (virtual GIC)" },
        { 0x03020000, 0x0401ffff, "GUEST_GICV3_GICR0 (virtual GICv3 redistributors)" },
        { 0x10000000, 0x1fffffff, "GUEST_VPCI_ECAM (virtual PCI configuration space)" },
        { 0x20000000, 0x21ffffff, "GUEST_ACPI (guest ACPI tables)" },
        { 0x22000000, 0x22000fff, "GUEST_PL011 (virtual PL011 console)" },
        { 0x23000000, 0x32ffffff, "GUEST_VPCI_MEM (virtual PCI memory window)" },
        { 0x38000000, 0x38ffffff, "GUEST_GNTTAB (grant table)" },
        { 0x39000000, 0x39ffffff, "GUEST_MAGIC (console/xenstore/... pages)" },
        /* RAM banks: guest RAM, and the unused rest becomes extended regions. */
        { 0x40000000, 0xffffffff, "GUEST_RAM0 (guest RAM bank 0)" },
        { UINT64_C(0x100000000), UINT64_C(0x1ffffffff),
          "GUEST_VPCI_PREFETCH_MEM (virtual PCI prefetchable window)" },
        { UINT64_C(0x200000000), UINT64_C(0xffffffffff), "GUEST_RAM1 (guest RAM bank 1)" },
        /* A guest's IPA space may be only 40 bits (1 TiB) wide. */
        { UINT64_C(0x10000000000), UINT64_MAX, "space above 1 TiB (beyond a 40-bit guest IPA size)" },
};

/*
 * Where relocated devices go: holes of the 4.17 map that no libxl or
 * dom0less feature uses.  Extended regions are carved out of the RAM banks
 * only (arch-arm.h says so above GUEST_RAM0), so a device here never meets
 * guest RAM or a foreign mapping.  Low addresses are avoided on purpose
 * (some drivers treat address 0 as "unset").  Ascending, so that regions of
 * one device stay in order.
 */
static const struct xen_range reloc_windows_4_17[] = {
        { 0x04020000, 0x0fffffff, "hole between GUEST_GICV3_GICR0 and GUEST_VPCI_ECAM" },
        { 0x3a000000, 0x3fffffff, "hole between GUEST_MAGIC and GUEST_RAM0" },
};

static const struct guestcfg_target default_target = { 4, 17 };

static int check_target(const struct guestcfg_target *t, char **err)
{
        if (t->xen_major != 4 || t->xen_minor < 17)
                return set_error(err, -EOPNOTSUPP,
                                 "Xen %u.%u: guest memory map not known (assignd knows Xen 4.17 and later)",
                                 t->xen_major, t->xen_minor);
        return 0;
}

static const struct xen_range *xen_clash(uint64_t first, uint64_t last)
{
        for (size_t i = 0; i < ARRAY_SIZE(xen_map_4_17); i++)
                if (first <= xen_map_4_17[i].last && last >= xen_map_4_17[i].first)
                        return &xen_map_4_17[i];
        return NULL;
}

int guestcfg_check_guest_range(const struct guestcfg_target *target, uint64_t gaddr,
                               uint64_t size, char **err)
{
        const struct xen_range *x;
        int r;

        r = check_target(target, err);
        if (r < 0)
                return r;
        if (size == 0 || gaddr + size - 1 < gaddr)
                return set_error(err, -EINVAL, "guest range 0x%" PRIx64 "+0x%" PRIx64 " is empty or wraps",
                                 gaddr, size);
        x = xen_clash(gaddr, gaddr + size - 1);
        if (x)
                return set_error(err, -EADDRINUSE,
                                 "guest range 0x%" PRIx64 "-0x%" PRIx64 " overlaps Xen %u.%u's %s at 0x%" PRIx64
                                 "-0x%" PRIx64,
                                 gaddr, gaddr + size - 1, target->xen_major, target->xen_minor, x->name,
                                 x->first, x->last);
        return 0;
}

const char *guestcfg_mode_to_string(enum guestcfg_mode m)
{
        switch (m) {
        case GUESTCFG_IDENTITY:
                return "identity";
        case GUESTCFG_RELOCATE:
                return "relocate";
        case GUESTCFG_AUTO:
                return "auto";
        }
        return NULL;
}

int guestcfg_mode_from_string(const char *s)
{
        if (streq(s, "identity") || streq(s, "1:1"))
                return GUESTCFG_IDENTITY;
        if (streq(s, "relocate"))
                return GUESTCFG_RELOCATE;
        if (streq(s, "auto"))
                return GUESTCFG_AUTO;
        return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                   */

void guestcfg_layout_free(struct guestcfg_layout *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_devices; i++)
                free(l->devices[i].regions);
        free(l->devices);
        free(l->mappings);
        free(l->spis);
        free(l);
}

struct map_set {
        struct guestcfg_mapping *m;
        size_t n, cap;
};

static uint64_t pfn_last(const struct guestcfg_mapping *m, bool guest)
{
        return (guest ? m->guest_pfn : m->host_pfn) + m->nr_pages - 1;
}

/*
 * Translation already fixed for some of host pages [hf, hl] (a page shared
 * with a device placed earlier).  Returns 1 and *delta when there is one,
 * 0 when none, -EADDRINUSE when earlier mappings disagree.
 */
static int known_translation(const struct map_set *ms, uint64_t hf, uint64_t hl, int64_t *delta)
{
        bool found = false;
        int64_t d = 0;

        for (size_t i = 0; i < ms->n; i++) {
                const struct guestcfg_mapping *m = &ms->m[i];
                int64_t md = (int64_t)(m->guest_pfn - m->host_pfn);

                if (hl < m->host_pfn || hf > pfn_last(m, false))
                        continue;
                if (found && md != d)
                        return -EADDRINUSE;
                found = true;
                d = md;
        }
        if (found)
                *delta = d;
        return found;
}

/* First mapping whose guest pages overlap [gf, gl] with a translation other than delta. */
static const struct guestcfg_mapping *guest_conflict(const struct map_set *ms, uint64_t gf, uint64_t gl,
                                                     int64_t delta)
{
        for (size_t i = 0; i < ms->n; i++) {
                const struct guestcfg_mapping *m = &ms->m[i];

                if (gl < m->guest_pfn || gf > pfn_last(m, true))
                        continue;
                if ((int64_t)(m->guest_pfn - m->host_pfn) != delta)
                        return m;
        }
        return NULL;
}

static int map_add(struct map_set *ms, uint64_t hpfn, uint64_t gpfn, uint64_t n)
{
        if (GROW(ms->m, ms->cap, ms->n) < 0)
                return -ENOMEM;
        ms->m[ms->n++] = (struct guestcfg_mapping){ .host_pfn = hpfn, .guest_pfn = gpfn, .nr_pages = n };
        return 0;
}

static int cmp_mapping(const void *a, const void *b)
{
        const struct guestcfg_mapping *x = a, *y = b;

        if (x->host_pfn != y->host_pfn)
                return x->host_pfn < y->host_pfn ? -1 : 1;
        if (x->nr_pages != y->nr_pages)
                return x->nr_pages < y->nr_pages ? -1 : 1;
        return 0;
}

/*
 * Sort by host page and merge runs that overlap (pages shared between
 * devices), so that each page is mapped once.  Merely adjacent runs stay
 * apart: one iomem entry per device region is easier to read.
 */
static void map_normalize(struct map_set *ms)
{
        size_t out = 0;

        if (ms->n == 0)
                return;
        qsort(ms->m, ms->n, sizeof(*ms->m), cmp_mapping);
        for (size_t i = 1; i < ms->n; i++) {
                struct guestcfg_mapping *cur = &ms->m[out];
                const struct guestcfg_mapping *nx = &ms->m[i];

                /* known_translation() guarantees overlapping runs share a delta. */
                if (nx->host_pfn <= pfn_last(cur, false)) {
                        uint64_t last = pfn_last(nx, false);

                        if (last > pfn_last(cur, false))
                                cur->nr_pages = last - cur->host_pfn + 1;
                        continue;
                }
                ms->m[++out] = *nx;
        }
        ms->n = out + 1;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

        return x < y ? -1 : x > y;
}

static int check_device(const struct dt_device *d, char **err)
{
        for (size_t i = 0; i < d->n_irqs; i++) {
                const struct dt_irq *q = &d->irqs[i];

                switch (q->cls) {
                case DT_IRQ_SPI:
                        /* Xen 4.17 has no extended SPI range: INTIDs 32..1019 only. */
                        if (q->hwirq < 32 || q->hwirq > 1019)
                                return set_error(err, -EINVAL,
                                                 "%s: interrupt %zu has INTID %u, outside the SPI range 32-1019 Xen routes",
                                                 d->path, i, q->hwirq);
                        break;
                case DT_IRQ_PPI:
                        return set_error(err, -EINVAL,
                                         "%s: interrupt %zu is a PPI (INTID %u): per-CPU interrupts cannot be routed to a guest",
                                         d->path, i, q->hwirq);
                case DT_IRQ_NOT_GIC:
                        return set_error(err, -EINVAL,
                                         "%s: interrupt %zu goes to %s, which is not the GIC: Xen routes only GIC SPIs",
                                         d->path, i, q->controller ? q->controller : "(unknown)");
                }
        }
        for (size_t i = 0; i < d->n_regions; i++) {
                const struct dt_region *r = &d->regions[i];

                if (r->size == 0 || r->base + r->size - 1 < r->base)
                        return set_error(err, -EINVAL, "%s: region %zu (0x%" PRIx64 "+0x%" PRIx64 ") is empty or wraps",
                                         d->path, i, r->base, r->size);
        }
        if (d->n_regions == 0 && d->n_irqs == 0)
                return set_error(err, -EINVAL, "%s: nothing to give a guest (no CPU-addressable region, no SPI)%s%s",
                                 d->path, d->reg_note ? ": " : "", d->reg_note ? d->reg_note : "");
        return 0;
}

/* Does device d fit 1:1?  Returns NULL or the clashing Xen range (and region index). */
static const struct xen_range *identity_clash(const struct dt_device *d, size_t *which)
{
        for (size_t i = 0; i < d->n_regions; i++) {
                uint64_t f = d->regions[i].base & ~(PAGE_SIZE - 1);
                uint64_t l = (d->regions[i].base + d->regions[i].size - 1) | (PAGE_SIZE - 1);
                const struct xen_range *x = xen_clash(f, l);

                if (x) {
                        *which = i;
                        return x;
                }
        }
        return NULL;
}

static uint64_t align_congruent(uint64_t pfn, uint64_t like)
{
        uint64_t want = like % RELOC_ALIGN_PAGES;
        uint64_t have = pfn % RELOC_ALIGN_PAGES;

        return pfn + ((want + RELOC_ALIGN_PAGES - have) % RELOC_ALIGN_PAGES);
}

/* Find guest pages for host pages [hf, hf+np) at or above min_gpfn. */
static int find_free(const struct map_set *ms, uint64_t hf, uint64_t np, uint64_t min_gpfn, uint64_t *ret)
{
        for (size_t w = 0; w < ARRAY_SIZE(reloc_windows_4_17); w++) {
                uint64_t wf = reloc_windows_4_17[w].first >> PAGE_SHIFT;
                uint64_t wl = reloc_windows_4_17[w].last >> PAGE_SHIFT;
                uint64_t g = align_congruent(wf > min_gpfn ? wf : min_gpfn, hf);

                while (g <= wl && np - 1 <= wl - g) {
                        const struct guestcfg_mapping *c = guest_conflict(ms, g, g + np - 1, INT64_MIN);

                        /* INT64_MIN never equals a real delta: any overlap is a conflict. */
                        if (!c) {
                                *ret = g;
                                return 0;
                        }
                        g = align_congruent(pfn_last(c, true) + 1, hf);
                }
        }
        return -ENOSPC;
}

static int relocate_device(struct map_set *ms, struct guestcfg_device *gd, char **err)
{
        const struct dt_device *d = gd->dev;
        uint64_t min_gpfn = 0;

        for (size_t i = 0; i < d->n_regions; i++) {
                const struct dt_region *r = &d->regions[i];
                uint64_t hf = r->base >> PAGE_SHIFT;
                uint64_t hl = (r->base + r->size - 1) >> PAGE_SHIFT;
                uint64_t np = hl - hf + 1, g;
                int64_t delta;
                int k;

                k = known_translation(ms, hf, hl, &delta);
                if (k < 0)
                        return set_error(err, k, "%s: region %zu (0x%" PRIx64 "+0x%" PRIx64
                                         ") shares pages with devices placed at different guest addresses",
                                         d->path, i, r->base, r->size);
                if (k > 0) {
                        const struct xen_range *x;

                        /* A page shared with a device placed before: same guest page. */
                        g = (uint64_t)((int64_t)hf + delta);
                        x = xen_clash(g << PAGE_SHIFT, ((g + np) << PAGE_SHIFT) - 1);
                        if (x)
                                return set_error(err, -EADDRINUSE,
                                                 "%s: region %zu shares a page with a device placed at 0x%" PRIx64
                                                 ", and the rest of it would overlap Xen's %s",
                                                 d->path, i, g << PAGE_SHIFT, x->name);
                        if (guest_conflict(ms, g, g + np - 1, delta))
                                return set_error(err, -EADDRINUSE,
                                                 "%s: region %zu shares a page with another device, and the rest of it would overlap a third one in the guest",
                                                 d->path, i);
                } else if (find_free(ms, hf, np, min_gpfn, &g) < 0) {
                        return set_error(err, -ENOSPC,
                                         "%s: no room for region %zu (0x%" PRIx64 "+0x%" PRIx64
                                         ") in the guest relocation windows 0x%" PRIx64 "-0x%" PRIx64 " and 0x%" PRIx64
                                         "-0x%" PRIx64,
                                         d->path, i, r->base, r->size, reloc_windows_4_17[0].first,
                                         reloc_windows_4_17[0].last, reloc_windows_4_17[1].first,
                                         reloc_windows_4_17[1].last);
                }
                if (map_add(ms, hf, g, np) < 0)
                        return -ENOMEM;
                gd->regions[i] = (struct guestcfg_region){
                        .host = r->base,
                        .size = r->size,
                        .guest = (g << PAGE_SHIFT) | (r->base & (PAGE_SIZE - 1)),
                };
                if (g + np > min_gpfn)
                        min_gpfn = g + np;
        }
        gd->relocated = true;
        return 0;
}

int guestcfg_layout(const struct dt_device *const *devs, size_t n, enum guestcfg_mode mode,
                    const struct guestcfg_target *target, struct guestcfg_layout **ret, char **err)
{
        _cleanup_guestcfg_layout_ struct guestcfg_layout *l = NULL;
        _cleanup_free_ bool *reloc = NULL;
        struct map_set ms = {};
        size_t spi_cap = 0;
        int r;

        if (!devs || n == 0)
                return set_error(err, -EINVAL, "no devices to lay out");
        if (n > GUESTCFG_MAX_DEVICES)
                return set_error(err, -E2BIG, "%zu devices: at most %d per guest", n, GUESTCFG_MAX_DEVICES);
        if (!guestcfg_mode_to_string(mode))
                return set_error(err, -EINVAL, "unknown layout mode %d", (int)mode);
        if (!target)
                target = &default_target;
        r = check_target(target, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                if (!devs[i] || !devs[i]->path)
                        return set_error(err, -EINVAL, "device %zu has no path", i);
                r = check_device(devs[i], err);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(devs[i]->path, devs[j]->path))
                                return set_error(err, -EINVAL, "%s: listed twice", devs[i]->path);
        }

        l = calloc(1, sizeof(*l));
        reloc = calloc(n, sizeof(*reloc));
        if (!l || !reloc)
                return -ENOMEM;
        l->devices = calloc(n, sizeof(*l->devices));
        if (!l->devices)
                return -ENOMEM;
        l->n_devices = n;
        l->mode = mode;
        l->target = *target;

        /* Pass 1: 1:1 placements first, so relocations can steer around them. */
        for (size_t i = 0; i < n; i++) {
                const struct dt_device *d = devs[i];
                struct guestcfg_device *gd = &l->devices[i];
                const struct xen_range *x = NULL;
                size_t which = 0;

                gd->dev = d;
                gd->n_regions = d->n_regions;
                if (d->n_regions) {
                        gd->regions = calloc(d->n_regions, sizeof(*gd->regions));
                        if (!gd->regions)
                                goto nomem;
                }
                if (mode == GUESTCFG_RELOCATE) {
                        reloc[i] = d->n_regions > 0;
                        continue;
                }
                x = identity_clash(d, &which);
                if (x && mode == GUESTCFG_IDENTITY) {
                        const struct dt_region *rg = &d->regions[which];

                        free(ms.m);
                        return set_error(err, -EADDRINUSE,
                                         "%s: region %zu at 0x%" PRIx64 "-0x%" PRIx64
                                         " cannot be mapped 1:1: it overlaps Xen %u.%u's guest %s at 0x%" PRIx64
                                         "-0x%" PRIx64 " (use the relocate or auto layout)",
                                         d->path, which, rg->base, rg->base + rg->size - 1, target->xen_major,
                                         target->xen_minor, x->name, x->first, x->last);
                }
                if (x) {
                        reloc[i] = true;
                        continue;
                }
                for (size_t k = 0; k < d->n_regions; k++) {
                        const struct dt_region *rg = &d->regions[k];
                        uint64_t hf = rg->base >> PAGE_SHIFT;
                        uint64_t hl = (rg->base + rg->size - 1) >> PAGE_SHIFT;

                        if (map_add(&ms, hf, hf, hl - hf + 1) < 0)
                                goto nomem;
                        gd->regions[k] = (struct guestcfg_region){ rg->base, rg->size, rg->base };
                }
        }

        /* Pass 2: relocations, in the caller's order. */
        for (size_t i = 0; i < n; i++) {
                if (!reloc[i])
                        continue;
                r = relocate_device(&ms, &l->devices[i], err);
                if (r < 0) {
                        free(ms.m);
                        return r;
                }
        }

        map_normalize(&ms);
        l->mappings = ms.m;
        l->n_mappings = ms.n;
        ms.m = NULL;

        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < devs[i]->n_irqs; k++) {
                        if (GROW(l->spis, spi_cap, l->n_spis) < 0)
                                return -ENOMEM;
                        l->spis[l->n_spis++] = devs[i]->irqs[k].hwirq;
                }
        if (l->n_spis) {
                size_t out = 0;

                qsort(l->spis, l->n_spis, sizeof(*l->spis), cmp_u32);
                for (size_t i = 1; i < l->n_spis; i++)
                        if (l->spis[i] != l->spis[out])
                                l->spis[++out] = l->spis[i];
                l->n_spis = out + 1;
        }

        *ret = steal_ptr(l);
        return 0;
nomem:
        free(ms.m);
        return -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Partial DTB                                                              */

/* Properties that only make sense with dom0's providers; the guest has none of them. */
static bool host_only_prop(const char *name)
{
        static const char *const exact[] = {
                "iommus", "iommu-map", "iommu-map-mask", "power-domains", "power-domain-names",
                "resets", "reset-names", "pinctrl-names", "msi-parent", "msi-map", "msi-map-mask",
        };

        for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
                if (streq(name, exact[i]))
                        return true;
        return startswith(name, "pinctrl-");
}

/* Properties dropped without a note: host bookkeeping, re-expressed or irrelevant. */
static bool silent_drop_prop(const char *name)
{
        static const char *const exact[] = {
                "status", "xen,passthrough", "xen,reg", "xen,path", "xen,force-assign-without-iommu",
                "phandle", "linux,phandle", "interrupt-parent", "interrupts-extended", "interrupt-map",
                "interrupt-map-mask",
        };

        for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
                if (streq(name, exact[i]))
                        return true;
        return startswith(name, "assigned-clock");
}

/* Phandle-valued properties we know how to parse (provider + #cells args). */
struct phandle_prop {
        const char *name;       /* exact name, or suffix when suffix is set */
        bool suffix;
        const char *cells;      /* provider's #...-cells, NULL = no args */
        const char *names;      /* companion *-names property, or NULL */
};

static const struct phandle_prop phandle_props[] = {
        { "dmas", false, "#dma-cells", "dma-names" },
        { "phys", false, "#phy-cells", "phy-names" },
        { "mboxes", false, "#mbox-cells", "mbox-names" },
        { "interconnects", false, "#interconnect-cells", "interconnect-names" },
        { "io-channels", false, "#io-channel-cells", "io-channel-names" },
        { "pwms", false, "#pwm-cells", "pwm-names" },
        { "hwlocks", false, "#hwlock-cells", "hwlock-names" },
        { "sound-dai", false, "#sound-dai-cells", NULL },
        { "thermal-sensors", false, "#thermal-sensor-cells", NULL },
        { "nvmem-cells", false, NULL, "nvmem-cell-names" },
        { "memory-region", false, NULL, "memory-region-names" },
        { "sram", false, NULL, NULL },
        { "remote-endpoint", false, NULL, NULL },
        { "gpios", false, "#gpio-cells", NULL },
        { "-gpios", true, "#gpio-cells", NULL },
        { "-gpio", true, "#gpio-cells", NULL },
        { "-supply", true, NULL, NULL },
};

static const struct phandle_prop *find_phandle_prop(const char *name)
{
        size_t ln = strlen(name);

        for (size_t i = 0; i < ARRAY_SIZE(phandle_props); i++) {
                const struct phandle_prop *p = &phandle_props[i];
                size_t lp = strlen(p->name);

                if (p->suffix ? (ln > lp && strcmp(name + ln - lp, p->name) == 0) : streq(name, p->name))
                        return p;
        }
        return NULL;
}

static bool is_companion_names(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(phandle_props); i++)
                if (phandle_props[i].names && streq(name, phandle_props[i].names))
                        return true;
        return false;
}

struct spec {
        uint32_t phandle;       /* 0: an empty slot (allowed in gpio lists) */
        int node;               /* provider's offset in the host blob */
        size_t first_arg;       /* cell index of the first argument */
        uint32_t nargs;
};

/* Split a phandle+args list.  -EINVAL when it does not parse (dangling, no #cells, short). */
static int parse_specs(const void *fdt, const fdt32_t *cells, size_t ncells, const char *cells_name,
                       struct spec **ret, size_t *ret_n)
{
        _cleanup_free_ struct spec *v = NULL;
        size_t n = 0, cap = 0, i = 0;

        while (i < ncells) {
                uint32_t ph = fdt32_to_cpu(cells[i]);
                struct spec s = { .phandle = ph, .node = -1, .first_arg = i + 1 };

                if (ph != 0) {
                        s.node = fdt_node_offset_by_phandle(fdt, ph);
                        if (s.node < 0)
                                return -EINVAL;
                        if (cells_name) {
                                int len;
                                const fdt32_t *c = fdt_getprop(fdt, s.node, cells_name, &len);

                                if (!c || len != 4)
                                        return -EINVAL;
                                s.nargs = fdt32_to_cpu(*c);
                                if (s.nargs > 16)
                                        return -EINVAL;
                        }
                }
                if (s.nargs > ncells - i - 1)
                        return -EINVAL;
                if (GROW(v, cap, n) < 0)
                        return -ENOMEM;
                v[n++] = s;
                i += 1 + s.nargs;
        }
        *ret = steal_ptr(v);
        *ret_n = n;
        return 0;
}

struct standin {
        uint32_t host_phandle;  /* the host fixed-clock it stands for */
        uint32_t rate;
        uint32_t phandle;       /* in the guest blob */
        char *host_path;
};

struct gen {
        const void *host;
        const struct guestcfg_layout *l;
        unsigned int flags;
        int *dev_node;          /* host offset of each device */
        uint32_t *dev_host_ph;  /* host phandle of each device, 0 if none */
        uint32_t *dev_guest_ph; /* phandle kept in the guest, 0 = dropped */
        char **dev_name;        /* node name in the guest */
        /* Reset at each build attempt: */
        struct standin *clk;
        size_t n_clk, cap_clk;
        uint32_t next_phandle;
        struct strbuf notes;
};

static void gen_reset(struct gen *g)
{
        for (size_t i = 0; i < g->n_clk; i++)
                free(g->clk[i].host_path);
        free(g->clk);
        g->clk = NULL;
        g->n_clk = g->cap_clk = 0;
        strbuf_clear(&g->notes);
}

static void gen_done(struct gen *g)
{
        gen_reset(g);
        free(g->dev_node);
        free(g->dev_host_ph);
        free(g->dev_guest_ph);
        if (g->dev_name)
                for (size_t i = 0; i < g->l->n_devices; i++)
                        free(g->dev_name[i]);
        free(g->dev_name);
}

/* Index of the device whose host node has this phandle, or -1. */
static int device_by_phandle(const struct gen *g, uint32_t ph)
{
        if (ph == 0)
                return -1;
        for (size_t i = 0; i < g->l->n_devices; i++)
                if (g->dev_host_ph[i] == ph)
                        return (int)i;
        return -1;
}

static int alloc_phandle(struct gen *g, uint32_t *ret, char **err)
{
        if (g->next_phandle >= GUESTCFG_PHANDLE_GIC)
                return set_error(err, -E2BIG, "partial DTB: out of phandles below %u", GUESTCFG_PHANDLE_GIC);
        *ret = g->next_phandle++;
        return 0;
}

static int fdt_fail(int fr, const char *what, char **err)
{
        if (fr == -FDT_ERR_NOSPACE)
                return fr;      /* the caller grows the buffer and starts over */
        return set_error(err, -EINVAL, "partial DTB: %s: %s", what, fdt_strerror(fr));
}

#define FDT_TRY(call, what)                                    \
        do {                                                   \
                int _fr = (call);                              \
                if (_fr < 0)                                   \
                        return fdt_fail(_fr, (what), err);     \
        } while (0)

/*
 * Whether every target of a known phandle property is one of the devices
 * (pass nonzero mark to record the references, for phandle keeping).
 */
static int specs_inside(struct gen *g, const struct spec *s, size_t n, bool mark)
{
        for (size_t i = 0; i < n; i++) {
                int d;

                if (s[i].phandle == 0)
                        continue;
                d = device_by_phandle(g, s[i].phandle);
                if (d < 0)
                        return 0;
                if (mark)
                        g->dev_guest_ph[d] = 1;     /* placeholder: "referenced" */
        }
        return 1;
}

/* Walk a host node and its children, marking devices that are referenced from inside the set. */
static void mark_references(struct gen *g, int node, int depth)
{
        int prop, child;

        if (depth > DT_MAX_DEPTH)
                return;
        fdt_for_each_property_offset(prop, g->host, node) {
                const char *name;
                int len;
                const fdt32_t *val = fdt_getprop_by_offset(g->host, prop, &name, &len);
                const struct phandle_prop *pp;
                _cleanup_free_ struct spec *s = NULL;
                size_t n = 0;

                if (!val || !name || len <= 0 || len % 4 || host_only_prop(name))
                        continue;
                pp = find_phandle_prop(name);
                if (!pp || fdt_getprop(g->host, node, "gpio-hog", NULL))
                        continue;
                if (parse_specs(g->host, val, (size_t)len / 4, pp->cells, &s, &n) < 0)
                        continue;
                if (specs_inside(g, s, n, false))
                        specs_inside(g, s, n, true);
        }
        fdt_for_each_subnode(child, g->host, node)
                mark_references(g, child, depth + 1);
}

_printf_(3, 4) static void note(struct gen *g, const char *path, const char *fmt, ...)
{
        va_list ap;

        strbuf_printf(&g->notes, "%s: ", path);
        va_start(ap, fmt);
        strbuf_vprintf(&g->notes, fmt, ap);
        va_end(ap);
        strbuf_append(&g->notes, "\n");
}

/* Note the host-only properties copy_common_props() dropped (" a b ..." in dropped). */
static void note_dropped(struct gen *g, const char *path, const char *what, const struct strbuf *dropped)
{
        if (dropped->oom)
                g->notes.oom = true;
        else if (dropped->len)
                note(g, path, "%s:%s", what, dropped->s);
}

static bool has_compatible(const void *fdt, int node, const char *compat)
{
        return fdt_node_check_compatible(fdt, node, compat) == 0;
}

/*
 * Replace "clocks" by stand-in fixed clocks where the host DT states the
 * rate (the provider is itself a fixed-clock); other entries are dropped
 * with a note, and clock-names follows the entries kept.
 */
static int write_clocks(struct gen *g, void *fdt, int hnode, const char *path, bool primecell, char **err)
{
        const fdt32_t *val;
        int len, nlen = 0;
        const char *names;
        _cleanup_free_ struct spec *s = NULL;
        _cleanup_free_ fdt32_t *out = NULL;
        _cleanup_(strbuf_clear) struct strbuf outnames = STRBUF_INIT;
        size_t n = 0, kept = 0, n_names = 0;
        bool have_apb = false;
        int r;

        val = fdt_getprop(g->host, hnode, "clocks", &len);
        if (!val) {
                if (primecell)
                        note(g, path,
                             "arm,primecell device without clocks on the host: the guest's AMBA bus needs an apb_pclk clock, so it will not probe the device");
                return 0;
        }
        names = fdt_getprop(g->host, hnode, "clock-names", &nlen);
        if (names && nlen > 0) {
                n_names = (size_t)fdt_stringlist_count(g->host, hnode, "clock-names");
                if ((int)n_names < 0)
                        n_names = 0;
        }
        if (len <= 0 || len % 4 || parse_specs(g->host, val, (size_t)len / 4, "#clock-cells", &s, &n) < 0) {
                note(g, path, "clocks dropped: the property does not parse against the host DT");
                return 0;
        }
        out = calloc(n ? n : 1, sizeof(*out));
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const char *cname = (i < n_names) ? fdt_stringlist_get(g->host, hnode, "clock-names", (int)i, NULL) : NULL;
                const fdt32_t *freq;
                int flen;
                char ppath[256];
                struct standin *si = NULL;

                if (s[i].phandle == 0)
                        continue;
                if (fdt_get_path(g->host, s[i].node, ppath, sizeof(ppath)) < 0)
                        snprintf(ppath, sizeof(ppath), "(phandle %u)", s[i].phandle);
                freq = fdt_getprop(g->host, s[i].node, "clock-frequency", &flen);
                if (!has_compatible(g->host, s[i].node, "fixed-clock") || !freq || flen != 4) {
                        note(g, path,
                             "clock %zu%s%s%s from %s dropped: its rate is not stated in the host DT (not a fixed-clock); give the guest a fixed-clock with the real rate if the driver needs it",
                             i, cname ? " (\"" : "", cname ? cname : "", cname ? "\")" : "", ppath);
                        continue;
                }
                for (size_t k = 0; k < g->n_clk; k++)
                        if (g->clk[k].host_phandle == s[i].phandle)
                                si = &g->clk[k];
                if (!si) {
                        if (GROW(g->clk, g->cap_clk, g->n_clk) < 0)
                                return -ENOMEM;
                        si = &g->clk[g->n_clk];
                        *si = (struct standin){ .host_phandle = s[i].phandle, .rate = fdt32_to_cpu(*freq) };
                        si->host_path = strdup(ppath);
                        if (!si->host_path)
                                return -ENOMEM;
                        r = alloc_phandle(g, &si->phandle, err);
                        if (r < 0)
                                return r;
                        g->n_clk++;
                }
                out[kept++] = cpu_to_fdt32(si->phandle);
                if (cname) {
                        /* Each name keeps its NUL: a string list is NUL-separated. */
                        strbuf_append_len(&outnames, cname, strlen(cname) + 1);
                        if (streq(cname, "apb_pclk"))
                                have_apb = true;
                }
        }
        if (outnames.oom)
                return -ENOMEM;
        if (kept) {
                FDT_TRY(fdt_property(fdt, "clocks", out, (int)(kept * sizeof(*out))), "clocks");
                if (n_names == n && outnames.len)
                        FDT_TRY(fdt_property(fdt, "clock-names", outnames.s, (int)outnames.len), "clocks");
        }
        if (primecell && !have_apb)
                note(g, path,
                     "arm,primecell device without a usable apb_pclk clock: the guest's AMBA bus will not probe it");
        return 0;
}

/* Re-express a known phandle property with guest phandles; 0 = written or dropped. */
static int write_phandle_prop(struct gen *g, void *fdt, int hnode, const char *path, const char *name,
                              const fdt32_t *val, int len, const struct phandle_prop *pp, char **err)
{
        _cleanup_free_ struct spec *s = NULL;
        _cleanup_free_ fdt32_t *out = NULL;
        size_t n = 0;

        if (len <= 0 || len % 4 || parse_specs(g->host, val, (size_t)len / 4, pp->cells, &s, &n) < 0) {
                note(g, path, "%s dropped: it does not parse against the host DT", name);
                return 0;
        }
        if (!specs_inside(g, s, n, false)) {
                note(g, path, "%s%s%s dropped: it refers to nodes that stay with the host", name,
                     pp->names ? " and " : "", pp->names ? pp->names : "");
                return 0;
        }
        out = malloc((size_t)len);
        if (!out)
                return -ENOMEM;
        memcpy(out, val, (size_t)len);
        for (size_t i = 0; i < n; i++) {
                int d = device_by_phandle(g, s[i].phandle);

                if (s[i].phandle)
                        out[s[i].first_arg - 1] = cpu_to_fdt32(g->dev_guest_ph[d]);
        }
        FDT_TRY(fdt_property(fdt, name, out, len), name);
        if (pp->names) {
                int nl;
                const void *nv = fdt_getprop(g->host, hnode, pp->names, &nl);

                if (nv && nl > 0)
                        FDT_TRY(fdt_property(fdt, pp->names, nv, nl), pp->names);
        }
        return 0;
}

static const struct phandle_prop *companion_owner(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(phandle_props); i++)
                if (phandle_props[i].names && streq(name, phandle_props[i].names))
                        return &phandle_props[i];
        return NULL;
}

/* Copy the properties every node shares the rules for; returns host-only names seen in *dropped. */
static int copy_common_props(struct gen *g, void *fdt, int hnode, const char *path, bool top,
                             struct strbuf *dropped, char **err)
{
        /* A gpio-hog's "gpios" holds line numbers, not phandles. */
        bool hog = fdt_getprop(g->host, hnode, "gpio-hog", NULL) != NULL;
        int prop, r;

        fdt_for_each_property_offset(prop, g->host, hnode) {
                const char *name;
                int len;
                const void *val = fdt_getprop_by_offset(g->host, prop, &name, &len);
                const struct phandle_prop *pp;

                if (!val || !name)
                        return set_error(err, -EINVAL, "%s: unreadable property in the host DT", path);
                if (host_only_prop(name)) {
                        strbuf_printf(dropped, " %s", name);
                        continue;
                }
                if (!top && (streq(name, "interrupts") || streq(name, "interrupts-extended"))) {
                        note(g, path, "%s dropped: interrupts of child nodes are not routed to the guest", name);
                        continue;
                }
                if (!top && streq(name, "interrupt-names"))
                        continue;
                if (silent_drop_prop(name) || streq(name, "clocks") || streq(name, "clock-names"))
                        continue;
                if (top && (streq(name, "reg") || streq(name, "interrupts")))
                        continue;
                if (is_companion_names(name)) {
                        pp = companion_owner(name);
                        /* Written together with its owner, or dropped with it. */
                        if (pp && fdt_getprop(g->host, hnode, pp->name, NULL))
                                continue;
                }
                pp = hog ? NULL : find_phandle_prop(name);
                if (pp) {
                        r = write_phandle_prop(g, fdt, hnode, path, name, val, len, pp, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                FDT_TRY(fdt_property(fdt, name, val, len), name);
        }
        return 0;
}

static int write_child(struct gen *g, void *fdt, int hnode, const char *parent_path, int depth, char **err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_(strbuf_clear) struct strbuf dropped = STRBUF_INIT;
        const char *name = fdt_get_name(g->host, hnode, NULL);
        int child, r;

        if (!name)
                return set_error(err, -EINVAL, "%s: unnamed child node in the host DT", parent_path);
        if (depth > DT_MAX_DEPTH)
                return set_error(err, -ELOOP, "%s: nesting deeper than %d", parent_path, DT_MAX_DEPTH);
        path = strdup_printf("%s/%s", parent_path, name);
        if (!path)
                return -ENOMEM;
        FDT_TRY(fdt_begin_node(fdt, name), path);
        r = copy_common_props(g, fdt, hnode, path, false, &dropped, err);
        if (r >= 0)
                r = write_clocks(g, fdt, hnode, path, false, err);
        if (r >= 0)
                note_dropped(g, path, "host-only properties dropped", &dropped);
        if (r < 0)
                return r;
        fdt_for_each_subnode(child, g->host, hnode) {
                r = write_child(g, fdt, child, path, depth + 1, err);
                if (r < 0)
                        return r;
        }
        FDT_TRY(fdt_end_node(fdt), path);
        return 0;
}

static void put_cells(fdt32_t *c, uint64_t v)
{
        c[0] = cpu_to_fdt32((uint32_t)(v >> 32));
        c[1] = cpu_to_fdt32((uint32_t)v);
}

static int write_device(struct gen *g, void *fdt, size_t idx, char **err)
{
        const struct guestcfg_device *gd = &g->l->devices[idx];
        const struct dt_device *d = gd->dev;
        int hnode = g->dev_node[idx], child, r;
        _cleanup_(strbuf_clear) struct strbuf dropped = STRBUF_INIT;
        _cleanup_free_ fdt32_t *cells = NULL;
        size_t nc;

        FDT_TRY(fdt_begin_node(fdt, g->dev_name[idx]), d->path);
        r = copy_common_props(g, fdt, hnode, d->path, true, &dropped, err);
        if (r >= 0)
                note_dropped(g, d->path, "host-only properties dropped (their providers stay with dom0)", &dropped);
        if (r < 0)
                return r;

        /* Guest reg: 2+2 cells, as /passthrough declares. */
        nc = gd->n_regions * 4;
        if (d->n_irqs * 3 > nc)
                nc = d->n_irqs * 3;
        if (gd->n_regions * 6 > nc)
                nc = gd->n_regions * 6;
        cells = calloc(nc ? nc : 1, sizeof(*cells));
        if (!cells)
                return -ENOMEM;
        if (gd->n_regions) {
                for (size_t i = 0; i < gd->n_regions; i++) {
                        put_cells(&cells[i * 4], gd->regions[i].guest);
                        put_cells(&cells[i * 4 + 2], gd->regions[i].size);
                }
                FDT_TRY(fdt_property(fdt, "reg", cells, (int)(gd->n_regions * 4 * sizeof(*cells))), "reg");
        }
        if (d->n_irqs) {
                /* GIC 3-cell specifier: SPI, number - 32, the host's sense bits. */
                for (size_t i = 0; i < d->n_irqs; i++) {
                        cells[i * 3] = cpu_to_fdt32(0);
                        cells[i * 3 + 1] = cpu_to_fdt32(d->irqs[i].hwirq - 32);
                        cells[i * 3 + 2] = cpu_to_fdt32(d->irqs[i].type & 0xf);
                }
                FDT_TRY(fdt_property(fdt, "interrupts", cells, (int)(d->n_irqs * 3 * sizeof(*cells))),
                        "interrupts");
        }
        FDT_TRY(fdt_property_u32(fdt, "interrupt-parent", GUESTCFG_PHANDLE_GIC), "interrupt-parent");
        r = write_clocks(g, fdt, hnode, d->path, has_compatible(g->host, hnode, "arm,primecell"), err);
        if (r < 0)
                return r;
        if (g->dev_guest_ph[idx])
                FDT_TRY(fdt_property_u32(fdt, "phandle", g->dev_guest_ph[idx]), "phandle");

        if (g->flags & GUESTCFG_DOM0LESS) {
                /*
                 * xen,reg: <paddr size gaddr>, each in the /passthrough cell
                 * sizes (2, 2, 2), page aligned, or Xen refuses the domain.
                 */
                size_t nt = 0;

                for (size_t i = 0; i < gd->n_regions; i++) {
                        uint64_t hp = gd->regions[i].host & ~(PAGE_SIZE - 1);
                        uint64_t gp = gd->regions[i].guest & ~(PAGE_SIZE - 1);
                        uint64_t end = (gd->regions[i].host + gd->regions[i].size + PAGE_SIZE - 1) &
                                       ~(PAGE_SIZE - 1);
                        bool dup = false;

                        for (size_t k = 0; k < nt; k++)
                                if (fdt32_to_cpu(cells[k * 6 + 1]) == (uint32_t)hp &&
                                    fdt32_to_cpu(cells[k * 6]) == (uint32_t)(hp >> 32) &&
                                    fdt32_to_cpu(cells[k * 6 + 3]) == (uint32_t)(end - hp))
                                        dup = true;
                        if (dup)
                                continue;
                        put_cells(&cells[nt * 6], hp);
                        put_cells(&cells[nt * 6 + 2], end - hp);
                        put_cells(&cells[nt * 6 + 4], gp);
                        nt++;
                }
                if (nt)
                        FDT_TRY(fdt_property(fdt, "xen,reg", cells, (int)(nt * 6 * sizeof(*cells))), "xen,reg");
                FDT_TRY(fdt_property_string(fdt, "xen,path", d->path), "xen,path");
                if (d->coverage != DT_COV_PROTECTED)
                        FDT_TRY(fdt_property(fdt, "xen,force-assign-without-iommu", NULL, 0),
                                "xen,force-assign-without-iommu");
        }

        fdt_for_each_subnode(child, g->host, hnode) {
                r = write_child(g, fdt, child, d->path, 1, err);
                if (r < 0)
                        return r;
        }
        FDT_TRY(fdt_end_node(fdt), d->path);
        return 0;
}

/* /aliases entries of the host that name a device of the set, re-pointed into /passthrough. */
static int write_aliases(struct gen *g, void *fdt, char **err)
{
        int aliases = fdt_path_offset(g->host, "/aliases"), prop;
        bool open = false;

        if (aliases < 0)
                return 0;
        fdt_for_each_property_offset(prop, g->host, aliases) {
                const char *name;
                int len;
                const char *val = fdt_getprop_by_offset(g->host, prop, &name, &len);
                int target;
                _cleanup_free_ char *np = NULL;

                if (!val || len <= 1 || val[len - 1] != '\0' || val[0] != '/')
                        continue;
                target = fdt_path_offset(g->host, val);
                if (target < 0)
                        continue;
                for (size_t i = 0; i < g->l->n_devices; i++) {
                        if (g->dev_node[i] != target)
                                continue;
                        np = strdup_printf("/passthrough/%s", g->dev_name[i]);
                        if (!np)
                                return -ENOMEM;
                        if (!open) {
                                FDT_TRY(fdt_begin_node(fdt, "aliases"), "/aliases");
                                open = true;
                        }
                        FDT_TRY(fdt_property_string(fdt, name, np), "/aliases");
                        break;
                }
        }
        if (open)
                FDT_TRY(fdt_end_node(fdt), "/aliases");
        return 0;
}

static int build(struct gen *g, void *fdt, size_t size, char **err)
{
        int r;

        gen_reset(g);
        g->next_phandle = 1;
        for (size_t i = 0; i < g->l->n_devices; i++) {
                if (!g->dev_guest_ph[i])
                        continue;
                r = alloc_phandle(g, &g->dev_guest_ph[i], err);
                if (r < 0)
                        return r;
        }

        FDT_TRY(fdt_create(fdt, (int)size), "create");
        FDT_TRY(fdt_finish_reservemap(fdt), "reservemap");
        FDT_TRY(fdt_begin_node(fdt, ""), "/");
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2), "/");
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 2), "/");

        r = write_aliases(g, fdt, err);
        if (r < 0)
                return r;

        /*
         * The guest GIC's stand-in.  dom0less takes the guest GIC's phandle
         * from it; libxl ignores it (it copies /passthrough and /aliases
         * only) and uses 65000 too.  It also makes interrupt-parent resolve
         * inside this blob, so dtc and our own checks see no dangling phandle.
         */
        FDT_TRY(fdt_begin_node(fdt, "gic"), "/gic");
        FDT_TRY(fdt_property_u32(fdt, "#interrupt-cells", 3), "/gic");
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 0), "/gic");
        FDT_TRY(fdt_property(fdt, "interrupt-controller", NULL, 0), "/gic");
        FDT_TRY(fdt_property_u32(fdt, "phandle", GUESTCFG_PHANDLE_GIC), "/gic");
        FDT_TRY(fdt_end_node(fdt), "/gic");

        FDT_TRY(fdt_begin_node(fdt, "passthrough"), "/passthrough");
        FDT_TRY(fdt_property_string(fdt, "compatible", "simple-bus"), "/passthrough");
        FDT_TRY(fdt_property(fdt, "ranges", NULL, 0), "/passthrough");
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2), "/passthrough");
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 2), "/passthrough");
        for (size_t i = 0; i < g->l->n_devices; i++) {
                r = write_device(g, fdt, i, err);
                if (r < 0)
                        return r;
        }
        /*
         * Stand-in clocks go inside /passthrough: libxl drops every other
         * top-level node of the partial DT.
         */
        for (size_t i = 0; i < g->n_clk; i++) {
                char name[32];

                snprintf(name, sizeof(name), "clock-%zu", i);
                FDT_TRY(fdt_begin_node(fdt, name), "stand-in clock");
                FDT_TRY(fdt_property_string(fdt, "compatible", "fixed-clock"), "stand-in clock");
                FDT_TRY(fdt_property_u32(fdt, "#clock-cells", 0), "stand-in clock");
                FDT_TRY(fdt_property_u32(fdt, "clock-frequency", g->clk[i].rate), "stand-in clock");
                FDT_TRY(fdt_property_u32(fdt, "phandle", g->clk[i].phandle), "stand-in clock");
                FDT_TRY(fdt_end_node(fdt), "stand-in clock");
        }
        FDT_TRY(fdt_end_node(fdt), "/passthrough");
        FDT_TRY(fdt_end_node(fdt), "/");
        FDT_TRY(fdt_finish(fdt), "finish");
        return 0;
}

static int guest_node_name(const struct guestcfg_device *gd, const char *host_name, char **ret)
{
        const char *at = strchr(host_name, '@');
        size_t base = at ? (size_t)(at - host_name) : strlen(host_name);

        if (!at || gd->n_regions == 0)
                *ret = strdup(host_name);
        else
                *ret = strdup_printf("%.*s@%" PRIx64, (int)base, host_name, gd->regions[0].guest);
        return *ret ? 0 : -ENOMEM;
}

/* The checks libxl (check_partial_fdt, copy_partial_fdt) and dom0less apply, plus a full walk. */
static int self_check(const void *blob, size_t len, char **err)
{
        int r;

        if (fdt_magic(blob) != FDT_MAGIC)
                return set_error(err, -EINVAL, "partial DTB: bad magic");
        r = fdt_check_header(blob);
        if (r)
                return set_error(err, -EINVAL, "partial DTB: header: %s", fdt_strerror(r));
        if (fdt_totalsize(blob) > len)
                return set_error(err, -EINVAL, "partial DTB: totalsize larger than the blob");
        r = fdt_check_full(blob, len);
        if (r)
                return set_error(err, -EINVAL, "partial DTB: structure: %s", fdt_strerror(r));
        r = fdt_path_offset(blob, "/passthrough");
        if (r < 0 || !streq(fdt_get_name(blob, r, NULL), "passthrough"))
                return set_error(err, -EINVAL, "partial DTB: no /passthrough node");
        return 0;
}

int guestcfg_partial_dtb(const void *host_blob, const struct guestcfg_layout *layout, unsigned int flags,
                         void **ret_blob, size_t *ret_len, char **ret_notes, char **err)
{
        struct gen g = { .host = host_blob, .l = layout, .flags = flags };
        _cleanup_free_ void *buf = NULL;
        _cleanup_free_ char *notes = NULL;
        size_t size = 16 * 1024;
        void *blob;
        size_t len;
        int r;

        if (!host_blob || !layout || !ret_blob || !ret_len)
                return set_error(err, -EINVAL, "partial DTB: missing argument");
        if (flags & ~GUESTCFG_DOM0LESS)
                return set_error(err, -EINVAL, "partial DTB: unknown flags 0x%x", flags);
        if (fdt_check_header(host_blob) != 0)
                return set_error(err, -EINVAL, "partial DTB: the host blob is not a valid DTB");

        g.dev_node = calloc(layout->n_devices, sizeof(*g.dev_node));
        g.dev_host_ph = calloc(layout->n_devices, sizeof(*g.dev_host_ph));
        g.dev_guest_ph = calloc(layout->n_devices, sizeof(*g.dev_guest_ph));
        g.dev_name = calloc(layout->n_devices, sizeof(*g.dev_name));
        if (!g.dev_node || !g.dev_host_ph || !g.dev_guest_ph || !g.dev_name) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < layout->n_devices; i++) {
                const struct dt_device *d = layout->devices[i].dev;
                int node = fdt_path_offset(host_blob, d->path);
                const char *hname;

                if (node < 0) {
                        r = set_error(err, -ENOENT, "%s: partial DTB: not found in the host DT", d->path);
                        goto out;
                }
                hname = fdt_get_name(host_blob, node, NULL);
                if (!hname) {
                        r = set_error(err, -EINVAL, "%s: partial DTB: unreadable node name", d->path);
                        goto out;
                }
                g.dev_node[i] = node;
                g.dev_host_ph[i] = fdt_get_phandle(host_blob, node);
                r = guest_node_name(&layout->devices[i], hname, &g.dev_name[i]);
                if (r < 0)
                        goto out;
                for (size_t k = 0; k < i; k++)
                        if (streq(g.dev_name[k], g.dev_name[i])) {
                                r = set_error(err, -EEXIST,
                                              "%s: partial DTB: node name %s already used by %s in /passthrough",
                                              d->path, g.dev_name[i], layout->devices[k].dev->path);
                                goto out;
                        }
        }
        /* A device keeps a phandle only when another node of the set refers to it. */
        for (size_t i = 0; i < layout->n_devices; i++)
                mark_references(&g, g.dev_node[i], 0);

        for (;;) {
                void *nb = realloc(buf, size);

                if (!nb) {
                        r = -ENOMEM;
                        goto out;
                }
                buf = nb;
                r = build(&g, buf, size, err);
                if (r != -FDT_ERR_NOSPACE)
                        break;
                if (size >= GUESTCFG_MAX_DTB_SIZE) {
                        r = set_error(err, -E2BIG, "partial DTB: larger than %u bytes", GUESTCFG_MAX_DTB_SIZE);
                        goto out;
                }
                size *= 2;
        }
        if (r < 0)
                goto out;
        if (g.notes.len || g.notes.oom) {
                /* -ENOMEM when a note was lost: the notes are part of the result. */
                r = strbuf_steal(&g.notes, &notes);
                if (r < 0)
                        goto out;
        }

        len = fdt_totalsize(buf);
        r = self_check(buf, len, err);
        if (r < 0)
                goto out;
        blob = malloc(len);
        if (!blob) {
                r = -ENOMEM;
                goto out;
        }
        memcpy(blob, buf, len);

        if (ret_notes)
                *ret_notes = steal_ptr(notes);
        *ret_blob = blob;
        *ret_len = len;
        log_debug("partial DTB: %zu devices, %zu bytes, %zu stand-in clocks", layout->n_devices, len, g.n_clk);
        r = 0;
out:
        gen_done(&g);
        return r;
}

/* ------------------------------------------------------------------------ */
/* xl.cfg and ImageBuilder fragments                                        */

static const char *coverage_words(enum dt_coverage c)
{
        switch (c) {
        case DT_COV_PROTECTED:
                return "protected: its IOMMU is one Xen drives, so it goes through dtdev";
        case DT_COV_IOMMU_UNSUPPORTED:
                return "NOT protected: its IOMMU has no Xen driver, so DMA is untranslated";
        case DT_COV_IOMMU_DISABLED:
                return "NOT protected: its IOMMU is disabled in the host DT";
        case DT_COV_NONE:
                return "NOT protected: no IOMMU in front of it";
        }
        return "coverage unknown";
}

static const char *dma_words(enum dt_dma d)
{
        switch (d) {
        case DT_DMA_MASTER:
                return "a DMA master";
        case DT_DMA_NONE:
                return "not a DMA master";
        case DT_DMA_UNKNOWN:
                return "DMA capability unknown";
        }
        return "DMA capability unknown";
}

static void comment_device(struct strbuf *b, const struct guestcfg_device *gd)
{
        const struct dt_device *d = gd->dev;

        strbuf_printf(b, "# %s\n#   compatible:", d->path);
        if (d->compatible && d->compatible[0])
                for (char **c = d->compatible; *c; c++)
                        strbuf_printf(b, " \"%s\"", *c);
        else
                strbuf_printf(b, " (none)");
        strbuf_printf(b, "\n#   %s; %s", coverage_words(d->coverage), dma_words(d->dma));
        if (d->dma_source)
                strbuf_printf(b, " (%s)", d->dma_source);
        strbuf_printf(b, "\n");
        for (size_t i = 0; i < gd->n_regions; i++)
                strbuf_printf(b, "#   region %zu: host 0x%" PRIx64 "+0x%" PRIx64 " -> guest 0x%" PRIx64 "%s\n", i,
                          gd->regions[i].host, gd->regions[i].size, gd->regions[i].guest,
                          gd->regions[i].host == gd->regions[i].guest ? " (1:1)" : " (relocated)");
        for (size_t i = 0; i < d->n_irqs; i++)
                strbuf_printf(b, "#   interrupt %zu: SPI %u = INTID %u\n", i, d->irqs[i].hwirq - 32, d->irqs[i].hwirq);
}

int guestcfg_xl_config(const struct guestcfg_layout *layout, const char *device_tree_path, const char *notes,
                       char **ret, char **err)
{
        struct strbuf b = STRBUF_INIT;
        bool any_protected = false, first;
        const struct guestcfg_target *t;

        if (!layout || !ret)
                return set_error(err, -EINVAL, "xl.cfg: missing argument");
        if (device_tree_path && strpbrk(device_tree_path, "\"\n\\"))
                return set_error(err, -EINVAL, "xl.cfg: device_tree path must not contain quotes, backslashes or newlines");
        t = &layout->target;

        strbuf_printf(&b, "# Generated by assignd for Xen %u.%u (%s layout).\n", t->xen_major, t->xen_minor,
                  guestcfg_mode_to_string(layout->mode));
        for (size_t i = 0; i < layout->n_devices; i++) {
                comment_device(&b, &layout->devices[i]);
                if (layout->devices[i].dev->coverage == DT_COV_PROTECTED)
                        any_protected = true;
        }
        if (notes && *notes) {
                strbuf_printf(&b, "# Notes from the partial device tree:\n");
                for (const char *p = notes; *p;) {
                        const char *nl = strchr(p, '\n');
                        size_t k = nl ? (size_t)(nl - p) : strlen(p);

                        strbuf_printf(&b, "#   %.*s\n", (int)k, p);
                        p += k + (nl ? 1 : 0);
                }
        }

        if (any_protected) {
                /* The IOMMU must be on from domain creation (shared stage-2 tables). */
                strbuf_printf(&b, "passthrough = \"enabled\"\n");
                strbuf_printf(&b, "dtdev = [");
                first = true;
                for (size_t i = 0; i < layout->n_devices; i++) {
                        const struct dt_device *d = layout->devices[i].dev;

                        if (d->coverage != DT_COV_PROTECTED)
                                continue;
                        strbuf_printf(&b, "%s\"%s\"", first ? " " : ", ", d->path);
                        first = false;
                }
                strbuf_printf(&b, " ]\n");
        }
        if (layout->n_spis) {
                /* xl takes GIC INTIDs; the guest sees the same number (vIRQ == pIRQ). */
                strbuf_printf(&b, "irqs = [");
                for (size_t i = 0; i < layout->n_spis; i++)
                        strbuf_printf(&b, "%s%u", i ? ", " : " ", layout->spis[i]);
                strbuf_printf(&b, " ]\n");
                for (size_t i = 0; i < layout->n_spis; i++)
                        if (layout->spis[i] == 32)
                                strbuf_printf(&b, "# INTID 32 is the virtual PL011's SPI: do not set vuart = \"sbsa_uart\"\n");
        }
        if (layout->n_mappings) {
                /*
                 * "MFN,NR@GFN" in hex.  @GFN is always written, also for 1:1:
                 * the file then says where each page lands, and a reader
                 * need not know xl's default.
                 */
                strbuf_printf(&b, "iomem = [");
                for (size_t i = 0; i < layout->n_mappings; i++) {
                        const struct guestcfg_mapping *m = &layout->mappings[i];

                        strbuf_printf(&b, "%s\"0x%" PRIx64 ",0x%" PRIx64 "@0x%" PRIx64 "\"", i ? ", " : " ",
                                  m->host_pfn, m->nr_pages, m->guest_pfn);
                }
                strbuf_printf(&b, " ]\n");
        }
        if (layout->n_spis) {
                uint32_t need = layout->spis[layout->n_spis - 1] - 32 + 1;

                if (t->xen_major > 4 || t->xen_minor >= 19)
                        strbuf_printf(&b, "nr_spis = %u\n", need);
                else
                        strbuf_printf(&b, "# nr_spis: xl %u.%u derives it from irqs (%u); the option exists from Xen 4.19\n",
                                  t->xen_major, t->xen_minor, need);
        }
        if (device_tree_path)
                strbuf_printf(&b, "device_tree = \"%s\"\n", device_tree_path);
        return strbuf_steal(&b, ret);
}

int guestcfg_imagebuilder(const struct guestcfg_layout *layout, unsigned int domu_index, const char *dtb_file,
                          const char *host_dtb_file, char **ret, char **err)
{
        struct strbuf b = STRBUF_INIT;

        if (!layout || !dtb_file || !ret)
                return set_error(err, -EINVAL, "ImageBuilder: missing argument");
        if (strpbrk(dtb_file, "\"\n\\$`") || (host_dtb_file && strpbrk(host_dtb_file, "\"\n\\$`'")))
                return set_error(err, -EINVAL, "ImageBuilder: file names must not contain quotes, $, `, \\ or newlines");
        for (size_t i = 0; i < layout->n_devices; i++)
                if (strpbrk(layout->devices[i].dev->path, " \"'\n\\$`"))
                        return set_error(err, -EINVAL, "ImageBuilder: %s: path has characters a shell list cannot hold",
                                         layout->devices[i].dev->path);

        strbuf_printf(&b, "# Generated by assignd for dom0less domU %u on Xen %u.%u.\n", domu_index,
                  layout->target.xen_major, layout->target.xen_minor);
        for (size_t i = 0; i < layout->n_devices; i++)
                comment_device(&b, &layout->devices[i]);
        strbuf_printf(&b, "DOMU_PASSTHROUGH_DTB[%u]=\"%s\"\n", domu_index, dtb_file);
        /* ImageBuilder marks these host nodes with xen,passthrough itself. */
        strbuf_printf(&b, "DOMU_PASSTHROUGH_PATHS[%u]=\"", domu_index);
        for (size_t i = 0; i < layout->n_devices; i++)
                strbuf_printf(&b, "%s%s", i ? " " : "", layout->devices[i].dev->path);
        strbuf_printf(&b, "\"\n");
        strbuf_printf(&b, "# Host nodes Xen must hide from dom0 (xen,passthrough); without ImageBuilder:\n");
        for (size_t i = 0; i < layout->n_devices; i++)
                strbuf_printf(&b, "#   fdtput -t s '%s' '%s' xen,passthrough ''\n",
                          host_dtb_file ? host_dtb_file : "host.dtb", layout->devices[i].dev->path);
        strbuf_printf(&b, "#   (U-Boot: fdt set <path> xen,passthrough)\n");
        return strbuf_steal(&b, ret);
}
