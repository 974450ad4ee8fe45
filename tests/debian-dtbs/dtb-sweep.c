/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Debian sweep: every device tree of the given directories (one per
 * release, as tests/debian-dtbs/fetch leaves them) goes through the real
 * scanner and classifier, and for each tree this checks what must hold on
 * any board, against the blob itself read with libfdt where it can, not
 * against the scanner's own flags:
 *
 *   - the scan succeeds (a tree is refused only if it is structurally
 *     broken, and Debian ships none of those);
 *   - every region lies inside what its parents' ranges translate, the
 *     whole of it, not only its base;
 *   - every SPI is below 988 (INTID 32..1019), every PPI an INTID 16..31
 *     (or an extended PPI), SPIs and PPIs end at the tree's one GIC, and
 *     an interrupt said to stop elsewhere does not stop at it;
 *   - every node with interrupt-controller (a GPIO controller excepted:
 *     assignd lets a guest own one), msi-controller, #iommu-cells or
 *     #msi-cells, every interrupt or MSI block without that property
 *     (Marvell ICU and ODMI, HiSilicon mbigen, X-Gene MSI), and every
 *     memory-mapped timer and its frames is not assignable;
 *   - devices that share a 4 KiB page (but for a bus and what it
 *     contains), an SPI or an IOMMU stream ID (iommus, iommu-map) are in
 *     one group;
 *   - no device is "protected" without iommus or iommu-map;
 *   - a device with a fault is not assignable and is listed as an
 *     "inconsistent" hazard.
 *
 * It prints, per release, the number of trees, devices, protected devices,
 * groups and hazards, the slowest scan and the largest tree; each tree is
 * a case, and the last line is "N passed, N failed".
 *
 * Usage: dtb-sweep [-v] NAME=DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "dt.h"
#include "hazard.h"

typedef unsigned __int128 u128;

#define MAX_SHOWN 6     /* problems printed per failing tree */

static bool verbose;

/* ---- one tree's problems --------------------------------------------------- */

struct otree;

struct tree {
        const char *name;       /* release/vendor/board.dtb */
        const void *blob;
        const struct otree *o;
        struct dt_inventory *inv;
        unsigned problems;
};

static void problem(struct tree *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct tree *t, const char *fmt, ...)
{
        va_list ap;

        if (t->problems++ == 0)
                printf("FAIL %s\n", t->name);
        if (t->problems > MAX_SHOWN) {
                if (t->problems == MAX_SHOWN + 1)
                        printf("    ...\n");
                return;
        }
        printf("    ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* ---- the blob's own node table, built independently of the scanner ---------- */

struct onode {
        char *path;
        int off, parent;
        uint32_t na, ns;        /* cell counts for children, inherited as Linux reads them */
        bool na_ok, ns_ok, cells_ok;
};

struct otree {
        struct onode *v;
        size_t n;
        int *by_path;           /* indexes sorted by path */
};

/*
 * A cell count: the node's own, else the parent's (*ok inherited with it);
 * an own count that is not one cell of at most 4 is not usable.
 */
static uint32_t cell_count(const void *blob, int off, const char *name, uint32_t inherited, bool *ok)
{
        int len;
        const fdt32_t *p = fdt_getprop(blob, off, name, &len);

        if (!p)
                return inherited;
        *ok = len == 4 && fdt32_to_cpu(*p) <= 4;
        return *ok ? fdt32_to_cpu(*p) : 0;
}

static const struct otree *sort_tree;

static int cmp_by_path(const void *a, const void *b)
{
        return strcmp(sort_tree->v[*(const int *)a].path, sort_tree->v[*(const int *)b].path);
}

/*
 * The node table with each node's full path: libfdt's fdt_path_offset()
 * takes "t-phy" for "t-phy@1a0c4000" when both are siblings (MT7622), so
 * paths are looked up here, exactly.
 */
static void otree_build(const void *blob, struct otree *o)
{
        int stack[128], depth = 0, off;
        size_t cap = 0;

        o->v = NULL;
        o->n = 0;
        for (off = 0; off >= 0; off = fdt_next_node(blob, off, &depth)) {
                struct onode *n;

                if (depth < 0 || depth >= 128)
                        break;
                if (o->n == cap) {
                        cap = cap ? cap * 2 : 256;
                        o->v = realloc(o->v, cap * sizeof(*o->v));
                        if (!o->v)
                                abort();
                }
                n = &o->v[o->n];
                n->off = off;
                n->parent = depth > 0 ? stack[depth - 1] : -1;
                if (n->parent < 0)
                        n->path = strdup("/");
                else if (asprintf(&n->path, "%s/%s", n->parent == 0 ? "" : o->v[n->parent].path,
                                  fdt_get_name(blob, off, NULL)) < 0)
                        n->path = NULL;
                if (!n->path)
                        abort();
                n->na_ok = n->parent < 0 || o->v[n->parent].na_ok;
                n->ns_ok = n->parent < 0 || o->v[n->parent].ns_ok;
                n->na = cell_count(blob, off, "#address-cells", n->parent < 0 ? 2 : o->v[n->parent].na,
                                   &n->na_ok);
                n->ns = cell_count(blob, off, "#size-cells", n->parent < 0 ? 1 : o->v[n->parent].ns,
                                   &n->ns_ok);
                n->cells_ok = n->na_ok && n->ns_ok;
                stack[depth] = (int)o->n++;
        }
        o->by_path = malloc((o->n + 1) * sizeof(int));
        if (!o->by_path)
                abort();
        for (size_t i = 0; i < o->n; i++)
                o->by_path[i] = (int)i;
        sort_tree = o;
        qsort(o->by_path, o->n, sizeof(int), cmp_by_path);
}

static void otree_free(struct otree *o)
{
        for (size_t i = 0; i < o->n; i++)
                free(o->v[i].path);
        free(o->v);
        free(o->by_path);
}

/* The node at exactly this path, or -1. */
static int otree_find(const struct otree *o, const char *path)
{
        size_t lo = 0, hi = o->n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(o->v[o->by_path[mid]].path, path);

                if (c == 0)
                        return o->by_path[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

static u128 cells_at(const fdt32_t *p, uint32_t n)
{
        u128 v = 0;

        for (uint32_t i = 0; i < n; i++)
                v = (v << 32) | fdt32_to_cpu(p[i]);
        return v;
}

static bool pci_bus(const void *blob, int off)
{
        const char *t = fdt_getprop(blob, off, "device_type", NULL);

        return t && (strcmp(t, "pci") == 0 || strcmp(t, "pciex") == 0);
}

/*
 * Translate [lo, hi] (inclusive) from the child address space of node
 * `bus` to the CPU's: every level must have one ranges window holding the
 * whole interval.  *where names the last bus looked at.
 */
static bool translate(const void *blob, const struct otree *o, int bus, u128 lo, u128 hi, uint64_t *out_lo,
                      const char **where)
{
        for (int cur = bus; o->v[cur].parent >= 0; cur = o->v[cur].parent) {
                const struct onode *b = &o->v[cur], *gp = &o->v[b->parent];
                uint32_t cna = b->na, pna = gp->na, cns = b->ns, stride = cna + pna + cns;
                bool pci = cna == 3 && pci_bus(blob, b->off), found = false;
                int len;
                const fdt32_t *r = fdt_getprop(blob, b->off, "ranges", &len);

                *where = fdt_get_name(blob, b->off, NULL);
                if (!r)
                        return false;
                if (len == 0)
                        continue;
                if (!b->cells_ok || !gp->na_ok || stride == 0 || len % (4 * stride))
                        return false;
                for (int e = 0; e < len / 4 / (int)stride && !found; e++) {
                        const fdt32_t *at = r + e * stride;
                        u128 cb = cells_at(at, cna), pb = cells_at(at + cna, pna);
                        u128 sz = cells_at(at + cna + pna, cns), l = lo, h = hi;

                        if (pci) {
                                if (((uint32_t)(lo >> 64) >> 24 & 3) != ((uint32_t)(cb >> 64) >> 24 & 3))
                                        continue;
                                l = (uint64_t)lo;
                                h = (uint64_t)hi;
                                cb = (uint64_t)cb;
                        }
                        if (l < cb || l - cb >= sz)
                                continue;
                        if (h - cb >= sz)
                                continue;
                        lo = pb + (l - cb);
                        hi = pb + (h - cb);
                        found = true;
                }
                if (!found)
                        return false;
        }
        if (hi >> 64)
                return false;
        *out_lo = (uint64_t)lo;
        return true;
}

/*
 * Every recorded region starts where a reg entry's base translates to and
 * lies, whole, inside a ranges window at every level above it.  A region
 * shorter than its reg entry (the rest past the window's end) is allowed
 * only on a device whose fault says so.
 */
static void check_regions(struct tree *t, const struct dt_device *d, int idx)
{
        const struct otree *o = t->o;
        const struct onode *n = &o->v[idx];
        const struct onode *p = n->parent >= 0 ? &o->v[n->parent] : NULL;
        uint32_t stride;
        int len;
        const fdt32_t *reg = fdt_getprop(t->blob, n->off, "reg", &len);

        if (d->n_regions == 0)
                return;
        if (!reg || !p || !p->cells_ok || p->na == 0 || p->ns == 0) {
                problem(t, "%s: %zu regions recorded, but it has no reg its parent's cells can read",
                        d->path, d->n_regions);
                return;
        }
        stride = p->na + p->ns;
        for (size_t k = 0; k < d->n_regions; k++) {
                const struct dt_region *rg = &d->regions[k];
                bool whole = false, clipped = false;
                const char *where = "?";

                for (int e = 0; e < len / 4 / (int)stride && !whole; e++) {
                        u128 a = cells_at(reg + e * stride, p->na);
                        u128 s = cells_at(reg + e * stride + p->na, p->ns);
                        uint64_t out = 0;

                        if (s < rg->size || rg->size == 0)
                                continue;
                        if (!translate(t->blob, o, n->parent, a, a + rg->size - 1, &out, &where) ||
                            out != rg->base)
                                continue;
                        if (s == rg->size)
                                whole = true;
                        else
                                clipped = true;
                }
                if (clipped && !whole && !(d->fault && strstr(d->fault, "runs past the end of a ranges window")))
                        problem(t, "%s: region 0x%" PRIx64 "+0x%" PRIx64 " is shorter than its reg entry, "
                                "with no fault saying why", d->path, rg->base, rg->size);
                else if (!whole && !clipped)
                        problem(t, "%s: region 0x%" PRIx64 "+0x%" PRIx64 " is not inside what its parents' "
                                "ranges translate (last window %s)", d->path, rg->base, rg->size, where);
        }
}

/* ---- interrupts ------------------------------------------------------------------ */

static bool has(const void *blob, int off, const char *name)
{
        return fdt_getprop(blob, off, name, NULL) != NULL;
}

static bool compat_contains(const void *blob, int off, const char *needle)
{
        int len;
        const char *p = fdt_getprop(blob, off, "compatible", &len);

        for (int pos = 0; p && pos < len; pos += (int)strnlen(p + pos, len - pos) + 1)
                if (strstr(p + pos, needle))
                        return true;
        return false;
}

static void check_irqs(struct tree *t)
{
        const char *gic = NULL;

        /* SPIs and PPIs first: they name the tree's GIC. */
        for (size_t i = 0; i < t->inv->n_devices; i++) {
                const struct dt_device *d = &t->inv->devices[i];

                for (size_t j = 0; j < d->n_irqs; j++) {
                        const struct dt_irq *q = &d->irqs[j];
                        int at = q->controller ? otree_find(t->o, q->controller) : -1;
                        int off = at >= 0 ? t->o->v[at].off : -1;

                        if (off < 0) {
                                problem(t, "%s: interrupt %zu stops at %s, which is no node", d->path, j,
                                        q->controller ? q->controller : "(null)");
                                continue;
                        }
                        if (q->cls == DT_IRQ_NOT_GIC)
                                continue;
                        if (q->cls == DT_IRQ_SPI && (q->hwirq < 32 || q->hwirq >= 1020))
                                problem(t, "%s: SPI with INTID %" PRIu32 " (SPI %" PRId64 ", not 0..987)",
                                        d->path, q->hwirq, (int64_t)q->hwirq - 32);
                        if (q->cls == DT_IRQ_PPI && !(q->hwirq >= 16 && q->hwirq < 32) &&
                            !(q->hwirq >= 1056 && q->hwirq < 1120))
                                problem(t, "%s: PPI with INTID %" PRIu32, d->path, q->hwirq);
                        if (!has(t->blob, off, "interrupt-controller") || !compat_contains(t->blob, off, "gic"))
                                problem(t, "%s: %s stops at %s, which is not a GIC", d->path,
                                        dt_irq_class_to_string(q->cls), q->controller);
                        if (!gic)
                                gic = q->controller;
                        else if (strcmp(gic, q->controller) != 0)
                                problem(t, "%s: SPIs and PPIs end at two GICs, %s and %s", d->path, gic,
                                        q->controller);
                }
        }
        for (size_t i = 0; gic && i < t->inv->n_devices; i++)
                for (size_t j = 0; j < t->inv->devices[i].n_irqs; j++) {
                        const struct dt_irq *q = &t->inv->devices[i].irqs[j];

                        if (q->cls == DT_IRQ_NOT_GIC && q->controller && strcmp(gic, q->controller) == 0)
                                problem(t, "%s: interrupt %zu is not-gic but stops at the GIC %s",
                                        t->inv->devices[i].path, j, gic);
                }
}

/* ---- what may never be assigned --------------------------------------------------- */

static int cmp_dev_path(const void *a, const void *b)
{
        const struct dt_device *const *x = a, *const *y = b;

        return strcmp((*x)->path, (*y)->path);
}

static const struct dt_device *find_dev(struct dt_device **sorted, size_t n, const char *path)
{
        struct dt_device key = { .path = (char *)path }, *k = &key, **hit;

        hit = bsearch(&k, sorted, n, sizeof(*sorted), cmp_dev_path);
        return hit ? *hit : NULL;
}

static bool under(const char *path, const char *anc)
{
        size_t l = strlen(anc);

        return strncmp(path, anc, l) == 0 && (path[l] == '/' || (l == 1 && path[1]));
}

static void check_infrastructure(struct tree *t, struct dt_device **sorted)
{
        static const char *const blocks[] = {
                "marvell,cp110-icu", "hisilicon,mbigen-v2", "marvell,odmi-controller", "apm,xgene1-msi",
                "arm,armv7-timer-mem", NULL,
        };

        for (size_t k = 0; k < t->o->n; k++) {
                int off = t->o->v[k].off;
                const char *path = t->o->v[k].path, *why = NULL;
                const struct dt_device *d;

                if (has(t->blob, off, "interrupt-controller") && !has(t->blob, off, "gpio-controller"))
                        why = "interrupt-controller";
                else if (has(t->blob, off, "msi-controller"))
                        why = "msi-controller";
                else if (has(t->blob, off, "#iommu-cells"))
                        why = "#iommu-cells";
                else if (has(t->blob, off, "#msi-cells"))
                        why = "#msi-cells";
                for (size_t b = 0; !why && blocks[b]; b++)
                        if (fdt_node_check_compatible(t->blob, off, blocks[b]) == 0)
                                why = blocks[b];
                if (!why)
                        continue;
                d = find_dev(sorted, t->inv->n_devices, path);
                if (d && d->assignable)
                        problem(t, "%s has %s and is assignable", path, why);
                if (strcmp(why, "arm,armv7-timer-mem") != 0)
                        continue;
                /* Xen's dom0 builder skips the timer and its frames. */
                for (size_t i = 0; i < t->inv->n_devices; i++)
                        if (t->inv->devices[i].assignable && under(t->inv->devices[i].path, path))
                                problem(t, "%s, a frame of the memory-mapped timer %s, is assignable",
                                        t->inv->devices[i].path, path);
        }
}

/* ---- sharing and groups ------------------------------------------------------------ */

static bool same_group(const struct dt_device *a, const struct dt_device *b)
{
        return a->group >= 0 && a->group == b->group;
}

static bool share_page(const struct dt_device *a, const struct dt_device *b, uint64_t *page)
{
        for (size_t i = 0; i < a->n_regions; i++)
                for (size_t j = 0; j < b->n_regions; j++) {
                        const struct dt_region *x = &a->regions[i], *y = &b->regions[j];
                        uint64_t xs = x->base >> 12, xe = (x->base + x->size - 1) >> 12;
                        uint64_t ys = y->base >> 12, ye = (y->base + y->size - 1) >> 12;

                        if (xs <= ye && ys <= xe) {
                                *page = (xs > ys ? xs : ys) << 12;
                                return true;
                        }
                }
        return false;
}

static bool share_spi(const struct dt_device *a, const struct dt_device *b, uint32_t *spi)
{
        for (size_t i = 0; i < a->n_irqs; i++)
                for (size_t j = 0; j < b->n_irqs; j++)
                        if (a->irqs[i].cls == DT_IRQ_SPI && b->irqs[j].cls == DT_IRQ_SPI &&
                            a->irqs[i].hwirq == b->irqs[j].hwirq) {
                                *spi = a->irqs[i].hwirq;
                                return true;
                        }
        return false;
}

/* A device's stream IDs, as runs [lo, hi) on an IOMMU. */
struct run {
        const char *iommu;
        uint64_t lo, hi;
};

static size_t runs_of(const struct dt_device *d, struct run **ret)
{
        size_t n = 0;
        struct run *v;

        for (size_t i = 0; i < d->n_iommus; i++)
                n += d->iommus[i].n_ids;
        n += d->n_iommu_map;
        v = calloc(n + 1, sizeof(*v));
        if (!v)
                abort();
        n = 0;
        for (size_t i = 0; i < d->n_iommus; i++)
                for (size_t k = 0; k < d->iommus[i].n_ids; k++)
                        v[n++] = (struct run){ d->iommus[i].iommu, d->iommus[i].ids[k], d->iommus[i].ids[k] + 1ull };
        for (size_t i = 0; i < d->n_iommu_map; i++)
                if (d->iommu_map[i].length)
                        v[n++] = (struct run){ d->iommu_map[i].iommu, d->iommu_map[i].iommu_base,
                                               (uint64_t)d->iommu_map[i].iommu_base + d->iommu_map[i].length };
        *ret = v;
        return n;
}

static void check_groups(struct tree *t)
{
        const struct dt_inventory *inv = t->inv;
        struct run **runs = calloc(inv->n_devices + 1, sizeof(*runs));
        size_t *n_runs = calloc(inv->n_devices + 1, sizeof(*n_runs));

        if (!runs || !n_runs)
                abort();
        for (size_t i = 0; i < inv->n_devices; i++)
                n_runs[i] = runs_of(&inv->devices[i], &runs[i]);
        for (size_t i = 0; i < inv->n_devices; i++)
                for (size_t j = i + 1; j < inv->n_devices; j++) {
                        const struct dt_device *a = &inv->devices[i], *b = &inv->devices[j];
                        bool nested = (a->is_bus && under(b->path, a->path)) ||
                                      (b->is_bus && under(a->path, b->path));
                        uint64_t page;
                        uint32_t spi;

                        if (same_group(a, b))
                                continue;
                        if (!nested && share_page(a, b, &page))
                                problem(t, "%s and %s share page 0x%" PRIx64 " but not a group", a->path,
                                        b->path, page);
                        if (share_spi(a, b, &spi))
                                problem(t, "%s and %s share SPI %" PRIu32 " but not a group", a->path, b->path,
                                        spi - 32);
                        for (size_t x = 0; x < n_runs[i]; x++)
                                for (size_t y = 0; y < n_runs[j]; y++)
                                        if (strcmp(runs[i][x].iommu, runs[j][y].iommu) == 0 &&
                                            runs[i][x].lo < runs[j][y].hi && runs[j][y].lo < runs[i][x].hi)
                                                problem(t, "%s and %s share stream IDs on %s but not a group",
                                                        a->path, b->path, runs[i][x].iommu);
                }
        for (size_t i = 0; i < inv->n_devices; i++)
                free(runs[i]);
        free(runs);
        free(n_runs);
}

/* ---- one tree ---------------------------------------------------------------------- */

/*
 * The slowest trees of a first pass, timed again: on a busy machine one
 * scan can take several times its usual time, so the slowest scan is the
 * least of RETIME_RUNS runs of each of the RETIME_TREES slowest trees.
 */
#define RETIME_TREES 5
#define RETIME_RUNS 5

struct slow {
        double ms;
        char path[8192], name[4096];
};

struct figures {
        const char *release;
        unsigned trees, passed, refused;
        size_t devices, protected_, groups, hazards, inconsistent;
        struct slow slow[RETIME_TREES];       /* slowest first */
        size_t largest;
        char largest_name[4096];
};

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sweep_tree(const char *path, const char *name, const struct classify_tables *tables,
                       struct figures *f)
{
        struct tree t = { .name = name };
        struct hazard *hz = NULL;
        struct dt_device **sorted;
        struct otree o;
        size_t n_hz = 0, len = 0;
        void *blob = NULL;
        char *err = NULL;
        double t0, ms;
        int r;

        f->trees++;
        r = dt_read_file(path, &blob, &len, &err);
        if (r < 0) {
                problem(&t, "cannot read: %s", err);
                free(err);
                return;
        }
        t.blob = blob;
        t0 = now_ms();
        r = dt_scan(blob, len, &t.inv, &err);
        if (r >= 0)
                r = classify_inventory(t.inv, tables);
        ms = now_ms() - t0;
        if (r < 0) {
                f->refused++;
                problem(&t, "refused: %s", err ? err : strerror(-r));
                free(err);
                dt_inventory_free(t.inv);
                free(blob);
                return;
        }
        if (ms > f->slow[RETIME_TREES - 1].ms) {
                size_t k = RETIME_TREES - 1;

                for (; k > 0 && f->slow[k - 1].ms < ms; k--)
                        f->slow[k] = f->slow[k - 1];
                f->slow[k].ms = ms;
                snprintf(f->slow[k].path, sizeof(f->slow[k].path), "%s", path);
                snprintf(f->slow[k].name, sizeof(f->slow[k].name), "%s", name);
        }
        if (t.inv->n_devices > f->largest) {
                f->largest = t.inv->n_devices;
                snprintf(f->largest_name, sizeof(f->largest_name), "%s", name);
        }
        if (hazard_list_detected(t.inv, &hz, &n_hz) < 0)
                abort();

        otree_build(blob, &o);
        t.o = &o;
        sorted = calloc(t.inv->n_devices + 1, sizeof(*sorted));
        if (!sorted)
                abort();
        for (size_t i = 0; i < t.inv->n_devices; i++) {
                const struct dt_device *d = &t.inv->devices[i];
                int idx = otree_find(&o, d->path);
                bool listed = false;

                sorted[i] = &t.inv->devices[i];
                f->devices++;
                if (d->coverage == DT_COV_PROTECTED) {
                        size_t mapped = 0;

                        f->protected_++;
                        for (size_t k = 0; k < d->n_iommu_map; k++)
                                mapped += d->iommu_map[k].length > 0;
                        if (d->n_iommus == 0 && mapped == 0)
                                problem(&t, "%s is protected without iommus or iommu-map", d->path);
                }
                if (idx < 0) {
                        problem(&t, "%s is not a node of the tree", d->path);
                        continue;
                }
                check_regions(&t, d, idx);
                if (!d->fault)
                        continue;
                f->inconsistent++;
                if (verbose)
                        printf("  %s: %s\n", name, d->reason);
                if (d->assignable)
                        problem(&t, "%s has a fault and is assignable: %s", d->path, d->fault);
                for (size_t k = 0; k < n_hz; k++)
                        listed |= strcmp(hz[k].kind, "inconsistent") == 0 && strcmp(hz[k].path, d->path) == 0;
                if (!listed)
                        problem(&t, "%s has a fault but is not an \"inconsistent\" hazard", d->path);
        }
        qsort(sorted, t.inv->n_devices, sizeof(*sorted), cmp_dev_path);
        check_irqs(&t);
        check_infrastructure(&t, sorted);
        check_groups(&t);

        f->groups += t.inv->n_groups;
        f->hazards += n_hz;
        if (t.problems == 0)
                f->passed++;
        free(sorted);
        otree_free(&o);
        hazard_list_free(hz, n_hz);
        dt_inventory_free(t.inv);
        free(blob);
}

/* The slowest of the slowest trees, each timed RETIME_RUNS times and its least time kept. */
static const struct slow *retime(struct figures *f, const struct classify_tables *tables)
{
        const struct slow *worst = NULL;

        for (size_t k = 0; k < RETIME_TREES && f->slow[k].path[0]; k++) {
                struct slow *sl = &f->slow[k];
                void *blob = NULL;
                size_t len = 0;

                if (dt_read_file(sl->path, &blob, &len, NULL) < 0)
                        continue;
                for (int run = 0; run < RETIME_RUNS; run++) {
                        struct dt_inventory *inv = NULL;
                        double t0 = now_ms(), ms;

                        if (dt_scan(blob, len, &inv, NULL) < 0 || classify_inventory(inv, tables) < 0)
                                abort();        /* it scanned a moment ago */
                        ms = now_ms() - t0;
                        dt_inventory_free(inv);
                        if (run == 0 || ms < sl->ms)
                                sl->ms = ms;
                }
                free(blob);
                if (!worst || sl->ms > worst->ms)
                        worst = sl;
        }
        return worst;
}

/* ---- walking a release's directory -------------------------------------------------- */

struct names {
        char **v;
        size_t n, cap;
};

static void collect(const char *dir, const char *rel, struct names *out)
{
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, alphasort);

        for (int i = 0; i < n; i++) {
                const char *e = list[i]->d_name;
                size_t l = strlen(e);
                char sub[4096], subrel[4096];

                if (e[0] != '.') {
                        snprintf(sub, sizeof(sub), "%s/%s", dir, e);
                        snprintf(subrel, sizeof(subrel), "%s%s%s", rel, rel[0] ? "/" : "", e);
                        if (list[i]->d_type == DT_DIR) {
                                collect(sub, subrel, out);
                        } else if (l > 4 && strcmp(e + l - 4, ".dtb") == 0) {
                                if (out->n == out->cap) {
                                        out->cap = out->cap ? out->cap * 2 : 1024;
                                        out->v = realloc(out->v, out->cap * sizeof(char *));
                                        if (!out->v)
                                                abort();
                                }
                                out->v[out->n++] = strdup(subrel);
                        }
                }
                free(list[i]);
        }
        free(list);
}

int main(int argc, char **argv)
{
        struct classify_tables *tables = NULL;
        unsigned passed = 0, failed = 0;
        int first = 1;

        if (argc > 1 && strcmp(argv[1], "-v") == 0) {
                verbose = true;
                first = 2;
        }
        if (first >= argc) {
                fprintf(stderr, "usage: %s [-v] NAME=DIR...\n", argv[0]);
                return 2;
        }
        if (classify_tables_new(&tables) < 0)
                abort();
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (int a = first; a < argc; a++) {
                char *eq = strchr(argv[a], '=');
                struct figures f = { 0 };
                struct names names = { 0 };
                const struct slow *slowest;
                double t0 = now_ms();

                if (!eq) {
                        fprintf(stderr, "%s: expected NAME=DIR\n", argv[a]);
                        return 2;
                }
                *eq = '\0';
                f.release = argv[a];
                collect(eq + 1, "", &names);
                if (names.n == 0) {
                        printf("FAIL %s: no .dtb under %s\n", argv[a], eq + 1);
                        failed++;
                }
                for (size_t i = 0; i < names.n; i++) {
                        char path[8192], name[4096];

                        snprintf(path, sizeof(path), "%s/%s", eq + 1, names.v[i]);
                        snprintf(name, sizeof(name), "%s/%s", f.release, names.v[i]);
                        sweep_tree(path, name, tables, &f);
                        free(names.v[i]);
                }
                free(names.v);
                slowest = retime(&f, tables);
                printf("%s: %u trees, %u refused, %zu devices, %zu protected, %zu groups, %zu hazards "
                       "(%zu inconsistent devices); slowest scan %.1f ms (%s); largest tree %s "
                       "(%zu devices); %.1f s in all\n",
                       f.release, f.trees, f.refused, f.devices, f.protected_, f.groups, f.hazards,
                       f.inconsistent, slowest ? slowest->ms : 0.0, slowest ? slowest->name : "-",
                       f.largest_name, f.largest,
                       (now_ms() - t0) / 1e3);
                passed += f.passed;
                failed += f.trees - f.passed;
        }
        classify_tables_free(tables);
        printf("%u passed, %u failed\n", passed, failed);
        return failed ? 1 : 0;
}
