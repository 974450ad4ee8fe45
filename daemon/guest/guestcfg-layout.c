/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The layout: where each region of a set of host devices lands in the
 * guest's physical address space, the runs of pages Xen maps for them, and
 * the SPIs routed.  A device goes 1:1 (guest address = host address) when
 * Xen's guest map leaves its pages free, or is moved into one of the map's
 * free windows; the mode says which of the two are allowed.
 *
 * The layout works in 4 KiB pages because that is what Xen maps
 * (iomem=, XEN_DOMCTL_memory_mapping, dom0less xen,reg); a region keeps its
 * offset inside its page wherever it lands.  Devices that share a host page
 * share the guest page too, so each page is mapped once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "guestcfg-internal.h"
#include "util.h"

/*
 * Relocated regions keep their host address modulo 64 KiB, not only modulo
 * 4 KiB: a guest kernel built with 64 KiB pages maps MMIO in 64 KiB
 * granules, and keeping the congruence means a device sits at the same
 * place in its granule as on the host.
 */
#define RELOC_ALIGN_PAGES 16u

static const struct guestcfg_target default_target = { 4, 17 };

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
        /* Guest pages the domain's other leases map: nothing may land there. */
        const struct guestcfg_taken *taken;
        size_t n_taken;
};

/* The first page run of another lease that guest pages [gf, gl] touch, or NULL. */
static const struct guestcfg_taken *taken_clash(const struct map_set *ms, uint64_t gf,
                                                uint64_t gl)
{
        for (size_t i = 0; i < ms->n_taken; i++) {
                const struct guestcfg_taken *t = &ms->taken[i];

                if (t->nr_pages && gf <= t->guest_pfn + t->nr_pages - 1 && gl >= t->guest_pfn)
                        return t;
        }
        return NULL;
}

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
                case DT_IRQ_NOT_GIC: {
                        _cleanup_free_ char *ctl = guestcfg_text_escape(q->controller ? q->controller : "(unknown)");

                        return set_error(err, -EINVAL,
                                         "%s: interrupt %zu goes to %s, which is not the GIC: Xen routes only GIC SPIs",
                                         d->path, i, ctl ? ctl : "(unknown)");
                }
                }
        }
        for (size_t i = 0; i < d->n_regions; i++) {
                const struct dt_region *r = &d->regions[i];

                if (r->size == 0 || r->base + r->size - 1 < r->base)
                        return set_error(err, -EINVAL, "%s: region %zu (0x%" PRIx64 "+0x%" PRIx64 ") is empty or wraps",
                                         d->path, i, r->base, r->size);
        }
        if (d->n_regions == 0 && d->n_irqs == 0) {
                _cleanup_free_ char *note = d->reg_note ? guestcfg_text_escape(d->reg_note) : NULL;

                return set_error(err, -EINVAL, "%s: nothing to give a guest (no CPU-addressable region, no SPI)%s%s",
                                 d->path, note ? ": " : "", note ? note : "");
        }
        return 0;
}

/* Does device d fit 1:1?  Returns NULL or the clashing Xen range (and region index). */
static const struct guestcfg_map_range *identity_clash(const struct dt_device *d, size_t *region)
{
        for (size_t i = 0; i < d->n_regions; i++) {
                uint64_t f = d->regions[i].base & ~(GUESTCFG_PAGE_SIZE - 1);
                uint64_t l = (d->regions[i].base + d->regions[i].size - 1) | (GUESTCFG_PAGE_SIZE - 1);
                const struct guestcfg_map_range *x = guestcfg_map_clash(f, l);

                if (x) {
                        *region = i;
                        return x;
                }
        }
        return NULL;
}

/* Does device d, 1:1, land on pages another lease maps?  The first such run, or NULL. */
static const struct guestcfg_taken *taken_region(const struct map_set *ms,
                                                 const struct dt_device *d, size_t *region)
{
        for (size_t i = 0; i < d->n_regions; i++) {
                uint64_t f = d->regions[i].base >> GUESTCFG_PAGE_SHIFT;
                uint64_t l = (d->regions[i].base + d->regions[i].size - 1) >> GUESTCFG_PAGE_SHIFT;
                const struct guestcfg_taken *t = taken_clash(ms, f, l);

                if (t) {
                        *region = i;
                        return t;
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
        size_t n_win;
        const struct guestcfg_map_range *win = guestcfg_map_windows(&n_win);

        for (size_t w = 0; w < n_win; w++) {
                uint64_t wf = win[w].first >> GUESTCFG_PAGE_SHIFT;
                uint64_t wl = win[w].last >> GUESTCFG_PAGE_SHIFT;
                uint64_t g = align_congruent(wf > min_gpfn ? wf : min_gpfn, hf);

                while (g <= wl && np - 1 <= wl - g) {
                        const struct guestcfg_mapping *c = guest_conflict(ms, g, g + np - 1, INT64_MIN);
                        const struct guestcfg_taken *t = taken_clash(ms, g, g + np - 1);

                        /* INT64_MIN never equals a real delta: any overlap is a conflict. */
                        if (!c && !t) {
                                *ret = g;
                                return 0;
                        }
                        g = align_congruent(c ? pfn_last(c, true) + 1 : t->guest_pfn + t->nr_pages,
                                            hf);
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
                uint64_t hf = r->base >> GUESTCFG_PAGE_SHIFT;
                uint64_t hl = (r->base + r->size - 1) >> GUESTCFG_PAGE_SHIFT;
                uint64_t np = hl - hf + 1, g;
                int64_t delta;
                int k;

                k = known_translation(ms, hf, hl, &delta);
                if (k < 0)
                        return set_error(err, k, "%s: region %zu (0x%" PRIx64 "+0x%" PRIx64
                                         ") shares pages with devices placed at different guest addresses",
                                         d->path, i, r->base, r->size);
                if (k > 0) {
                        const struct guestcfg_map_range *x;

                        /* A page shared with a device placed before: same guest page. */
                        g = (uint64_t)((int64_t)hf + delta);
                        x = guestcfg_map_clash(g << GUESTCFG_PAGE_SHIFT, ((g + np) << GUESTCFG_PAGE_SHIFT) - 1);
                        if (x)
                                return set_error(err, -EADDRINUSE,
                                                 "%s: region %zu shares a page with a device placed at 0x%" PRIx64
                                                 ", and the rest of it would overlap Xen's %s",
                                                 d->path, i, g << GUESTCFG_PAGE_SHIFT, x->name);
                        if (guest_conflict(ms, g, g + np - 1, delta) || taken_clash(ms, g, g + np - 1))
                                return set_error(err, -EADDRINUSE,
                                                 "%s: region %zu shares a page with another device, and the rest of it would overlap a third one in the guest",
                                                 d->path, i);
                } else if (find_free(ms, hf, np, min_gpfn, &g) < 0) {
                        size_t n_win;
                        const struct guestcfg_map_range *win = guestcfg_map_windows(&n_win);

                        return set_error(err, -ENOSPC,
                                         "%s: no room for region %zu (0x%" PRIx64 "+0x%" PRIx64
                                         ") in the guest relocation windows 0x%" PRIx64 "-0x%" PRIx64 " and 0x%" PRIx64
                                         "-0x%" PRIx64,
                                         d->path, i, r->base, r->size, win[0].first, win[0].last,
                                         win[n_win - 1].first, win[n_win - 1].last);
                }
                if (map_add(ms, hf, g, np) < 0)
                        return -ENOMEM;
                gd->regions[i] = (struct guestcfg_region){
                        .host = r->base,
                        .size = r->size,
                        .guest = (g << GUESTCFG_PAGE_SHIFT) | (r->base & (GUESTCFG_PAGE_SIZE - 1)),
                };
                if (g + np > min_gpfn)
                        min_gpfn = g + np;
        }
        gd->relocated = true;
        return 0;
}

/* Return r, a refusal about devs[i]: say so in *which, unless it is no refusal but -ENOMEM. */
static int refuse(ssize_t *which, size_t i, int r)
{
        if (which && r != -ENOMEM)
                *which = (ssize_t)i;
        return r;
}

int guestcfg_layout(const struct dt_device *const *devs, size_t n, enum guestcfg_mode mode,
                    const struct guestcfg_target *target, struct guestcfg_layout **ret, ssize_t *which,
                    char **err)
{
        return guestcfg_layout_around(devs, n, mode, target, NULL, 0, ret, which, err);
}

int guestcfg_layout_around(const struct dt_device *const *devs, size_t n,
                           enum guestcfg_mode mode, const struct guestcfg_target *target,
                           const struct guestcfg_taken *taken, size_t n_taken,
                           struct guestcfg_layout **ret, ssize_t *which, char **err)
{
        _cleanup_guestcfg_layout_ struct guestcfg_layout *l = NULL;
        _cleanup_free_ bool *reloc = NULL;
        struct map_set ms = { .taken = taken, .n_taken = n_taken };
        size_t spi_cap = 0;
        int r;

        if (which)
                *which = -1;
        if (!devs || n == 0)
                return set_error(err, -EINVAL, "no devices to lay out");
        if (n > GUESTCFG_MAX_DEVICES)
                return set_error(err, -E2BIG, "%zu devices: at most %d per guest", n, GUESTCFG_MAX_DEVICES);
        if (!guestcfg_mode_to_string(mode))
                return set_error(err, -EINVAL, "unknown layout mode %d", (int)mode);
        if (!target)
                target = &default_target;
        r = guestcfg_map_check_target(target, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                if (!devs[i] || !devs[i]->path)
                        return refuse(which, i, set_error(err, -EINVAL, "device %zu has no path", i));
                /* Every generated file names the device by its path: it must be safe to write. */
                if (!guestcfg_text_path_ok(devs[i]->path)) {
                        _cleanup_free_ char *shown = guestcfg_text_escape(devs[i]->path);

                        return refuse(which, i,
                                      set_error(err, -EINVAL,
                                                "%s: the path has characters a device-tree node name may not have "
                                                "(letters, digits, \",._+-@\" only)",
                                                shown ? shown : "(path)"));
                }
                r = check_device(devs[i], err);
                if (r < 0)
                        return refuse(which, i, r);
                for (size_t j = 0; j < i; j++)
                        if (streq(devs[i]->path, devs[j]->path))
                                return refuse(which, i, set_error(err, -EINVAL, "%s: listed twice", devs[i]->path));
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
                const struct guestcfg_map_range *x = NULL;
                const struct guestcfg_taken *t;
                size_t region = 0;

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
                x = identity_clash(d, &region);
                if (x && mode == GUESTCFG_IDENTITY) {
                        const struct dt_region *rg = &d->regions[region];

                        free(ms.m);
                        return refuse(which, i,
                                      set_error(err, -EADDRINUSE,
                                                "%s: region %zu at 0x%" PRIx64 "-0x%" PRIx64
                                                " cannot be mapped 1:1: it overlaps Xen %u.%u's guest %s at 0x%" PRIx64
                                                "-0x%" PRIx64 " (use the relocate or auto layout)",
                                                d->path, region, rg->base, rg->base + rg->size - 1,
                                                target->xen_major, target->xen_minor, x->name, x->first, x->last));
                }
                if (x) {
                        reloc[i] = true;
                        continue;
                }
                t = taken_region(&ms, d, &region);
                if (t) {
                        const struct dt_region *rg = &d->regions[region];

                        if (mode == GUESTCFG_AUTO) {
                                reloc[i] = true;
                                continue;
                        }
                        free(ms.m);
                        return refuse(which, i,
                                      set_error(err, -EADDRINUSE,
                                                "%s: region %zu at 0x%" PRIx64 "-0x%" PRIx64
                                                " cannot be mapped 1:1: the guest has those pages "
                                                "mapped already by %s (use the auto layout)",
                                                d->path, region, rg->base, rg->base + rg->size - 1,
                                                t->owner ? t->owner : "another lease"));
                }
                for (size_t k = 0; k < d->n_regions; k++) {
                        const struct dt_region *rg = &d->regions[k];
                        uint64_t hf = rg->base >> GUESTCFG_PAGE_SHIFT;
                        uint64_t hl = (rg->base + rg->size - 1) >> GUESTCFG_PAGE_SHIFT;

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
                        return refuse(which, i, r);
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
