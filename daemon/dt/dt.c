/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Device tree scanner.  The host DTB is treated as hostile input: it is
 * validated as a whole (size cap, header, totalsize, a full structure
 * check) before anything walks it, and every property is length-checked
 * when read.  The walk builds a node table first (offset, parent, path,
 * phandle, status, cell counts) so that the later per-device work
 * (address translation through "ranges", interrupt resolution through
 * interrupt-parent / interrupt-map, IOMMU links) is a matter of table
 * look-ups instead of repeated linear scans of the blob.
 *
 * Every walk that follows phandles is bounded (DT_MAX_IRQ_HOPS, the tree
 * depth), so a cyclic or dangling reference turns into an error naming
 * the node, never a loop or a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dt.h"
#include "sha256.h"

typedef unsigned __int128 u128;

/*
 * The properties the scanner reads, cached per node in one pass over the
 * node's property list: libfdt's getprop is a linear walk, and the
 * interrupt and ranges lookups ask the same nodes again and again.
 */
static const char *const cached_props[] = {
        "status", "#address-cells", "#size-cells", "phandle", "linux,phandle", "reg", "ranges",
        "interrupts", "interrupts-extended", "interrupt-parent", "#interrupt-cells",
        "interrupt-controller", "interrupt-map", "interrupt-map-mask", "compatible",
        "device_type", "#iommu-cells", "iommus", "iommu-map", "iommu-map-mask", "bus-range",
        "xen,passthrough", "gpio-controller", "model", "stdout-path", "linux,stdout-path",
        "msi-controller", "#msi-cells",
};
#define N_CACHED (sizeof(cached_props) / sizeof(cached_props[0]))

struct node {
        const void *pv[N_CACHED];       /* NULL if absent */
        int pl[N_CACHED];
        int off;
        int parent;             /* index, -1 for the root */
        char *path;
        uint32_t phandle;
        bool enabled;           /* own status and every ancestor's */
        bool hidden;            /* see dt_device.dom0_hidden */
        uint32_t na, ns;        /* #address-cells / #size-cells for children (defaults 2/1) */
        bool has_na;
        /*
         * The node whose unusable #address-cells (na_bad) or #size-cells
         * (ns_bad) is in effect here, its own or inherited; -1 if none.
         * What needs that count fails, naming it; the rest of the tree
         * is scanned as usual.
         */
        int na_bad, ns_bad;
        /* What is wrong with the node's own properties (a cell count, its phandle), or NULL. */
        char *fault;
};

struct phent {
        uint32_t phandle;
        int idx;
        int other;              /* another node carrying the same phandle, or -1 */
};

struct scan {
        const void *fdt;
        char **err;

        struct node *nodes;
        size_t n_nodes, cap_nodes;
        struct phent *ph;
        size_t n_ph, cap_ph;

        int console_idx;

        struct dt_device *devs;
        size_t n_devs, cap_devs;
        struct dt_iommu *iommus;
        size_t n_iommus, cap_iommus;
};

/* ---- small property helpers ------------------------------------------ */

static const char *fdt_strerr(int r)
{
        return fdt_strerror(r);
}

static int prop_index(const char *name)
{
        for (size_t i = 0; i < N_CACHED; i++)
                if (strcmp(cached_props[i], name) == 0)
                        return (int)i;
        return -1;
}

static const void *prop(const struct scan *s, int idx, const char *name, int *len)
{
        int k = prop_index(name);
        const void *p = NULL;
        int l = -1;

        if (k >= 0 && s->nodes[idx].pv[k]) {
                p = s->nodes[idx].pv[k];
                l = s->nodes[idx].pl[k];
        } else if (k < 0) {
                /* Not cached (a caller outside the list): ask libfdt. */
                p = fdt_getprop(s->fdt, s->nodes[idx].off, name, &l);
                if (!p)
                        l = -1;
        }
        if (len)
                *len = l;
        return p;
}

static bool has_prop(const struct scan *s, int idx, const char *name)
{
        return prop(s, idx, name, NULL) != NULL;
}

static int cache_props(struct scan *s, struct node *n)
{
        int po;

        fdt_for_each_property_offset(po, s->fdt, n->off) {
                const char *name = NULL;
                int len = 0, k;
                const void *v = fdt_getprop_by_offset(s->fdt, po, &name, &len);

                if (!v || !name)
                        return set_error(s->err, -EINVAL, "node %s: unreadable property: %s", n->path,
                                         fdt_strerror(len));
                k = prop_index(name);
                /* The first occurrence wins, as with fdt_getprop. */
                if (k >= 0 && !n->pv[k]) {
                        n->pv[k] = v;
                        n->pl[k] = len;
                }
        }
        if (po < 0 && po != -FDT_ERR_NOTFOUND)
                return set_error(s->err, -EINVAL, "node %s: walking properties: %s", n->path, fdt_strerror(po));
        return 0;
}

/* A one-cell property: 0 and *v on success, -ENOENT if absent, -EINVAL (with message) if malformed. */
static int prop_u32(const struct scan *s, int idx, const char *name, uint32_t *v)
{
        int len;
        const fdt32_t *p = prop(s, idx, name, &len);

        if (!p)
                return -ENOENT;
        if (len != 4)
                return set_error(s->err, -EINVAL, "node %s: property %s has length %d, expected 4",
                                 s->nodes[idx].path, name, len);
        *v = fdt32_to_cpu(*p);
        return 0;
}

static uint32_t cell_at(const void *p, size_t i)
{
        const fdt32_t *c = p;

        return fdt32_to_cpu(c[i]);
}

static u128 read_cells(const void *p, size_t at, uint32_t n)
{
        u128 v = 0;

        for (uint32_t i = 0; i < n; i++)
                v = (v << 32) | cell_at(p, at + i);
        return v;
}

/* Property value is a string (NUL-terminated within its length)? */
static const char *prop_string(const struct scan *s, int idx, const char *name)
{
        int len;
        const char *p = prop(s, idx, name, &len);

        if (!p || len <= 0 || p[len - 1] != '\0')
                return NULL;
        return p;
}

static bool compat_has(const struct scan *s, int idx, const char *const *list)
{
        int len;
        const char *p = prop(s, idx, "compatible", &len);

        if (!p || len <= 0)
                return false;
        for (int pos = 0; pos < len;) {
                size_t sl = strnlen(p + pos, len - pos);

                if ((int)(pos + sl) >= len)
                        break;  /* unterminated tail: ignore */
                for (size_t i = 0; list[i]; i++)
                        if (strcmp(p + pos, list[i]) == 0)
                                return true;
                pos += sl + 1;
        }
        return false;
}

static void strv_free(char **v)
{
        if (!v)
                return;
        for (size_t i = 0; v[i]; i++)
                free(v[i]);
        free(v);
}

/* The compatible list as a NULL-terminated vector (empty if absent). */
static int compat_strv(const struct scan *s, int idx, char ***ret)
{
        int len;
        const char *p = prop(s, idx, "compatible", &len);
        size_t n = 0, k = 0;
        char **v;

        if (p && len > 0)
                for (int pos = 0; pos < len; pos++)
                        if (p[pos] == '\0')
                                n++;
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (int pos = 0; p && pos < len && k < n;) {
                size_t sl = strnlen(p + pos, len - pos);

                v[k] = strndup(p + pos, sl);
                if (!v[k]) {
                        strv_free(v);
                        return -ENOMEM;
                }
                k++;
                pos += sl + 1;
        }
        *ret = v;
        return 0;
}

/* ---- node table -------------------------------------------------------- */

static int node_by_offset(const struct scan *s, int off)
{
        size_t lo = 0, hi = s->n_nodes;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (s->nodes[mid].off == off)
                        return (int)mid;
                if (s->nodes[mid].off < off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

static int cmp_phent(const void *a, const void *b)
{
        const struct phent *x = a, *y = b;

        return x->phandle < y->phandle ? -1 : x->phandle > y->phandle;
}

static const struct phent *find_phent(const struct scan *s, uint32_t ph)
{
        size_t lo = 0, hi = s->n_ph;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (s->ph[mid].phandle == ph)
                        return &s->ph[mid];
                if (s->ph[mid].phandle < ph)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/*
 * The node a phandle in property `what` of node `user` names.  A phandle
 * that no node carries, or that two nodes carry, makes the user's property
 * unusable: -EINVAL with a message naming both, never a guess.
 */
static int resolve_phandle(struct scan *s, int user, const char *what, uint32_t ph, int *ret)
{
        const struct phent *e = find_phent(s, ph);

        if (!e)
                return set_error(s->err, -EINVAL, "node %s: %s refers to phandle 0x%" PRIx32 ", which does not exist",
                                 s->nodes[user].path, what, ph);
        if (e->other >= 0)
                return set_error(s->err, -EINVAL,
                                 "node %s: %s refers to phandle 0x%" PRIx32 ", which both %s and %s carry",
                                 s->nodes[user].path, what, ph, s->nodes[e->idx].path,
                                 s->nodes[e->other].path);
        *ret = e->idx;
        return 0;
}

static bool status_ok(const struct scan *s, int idx)
{
        int len;
        const char *st = prop(s, idx, "status", &len);

        if (!st)
                return true;
        /* A status that is not a proper string is not "okay". */
        if (len <= 0 || st[len - 1] != '\0')
                return false;
        return strcmp(st, "okay") == 0 || strcmp(st, "ok") == 0;
}

/* A cell count: 0 and *v if usable, -ENOENT if absent, -EINVAL (with message) if not. */
static int check_cells(struct scan *s, int idx, const char *name, uint32_t *v)
{
        int r = prop_u32(s, idx, name, v);

        if (r < 0)
                return r;
        if (*v > DT_MAX_CELLS)
                return set_error(s->err, -EINVAL, "node %s: %s = %" PRIu32 " (at most %u supported)",
                                 s->nodes[idx].path, name, *v, DT_MAX_CELLS);
        return 0;
}

/*
 * Read the node's own cell counts and phandle.  A bad one is the node's
 * fault (n->fault): what depends on it fails, naming it, and nothing else.
 */
static void node_own_props(struct scan *s, int idx)
{
        struct node *n = &s->nodes[idx];
        char **saved = s->err;
        uint32_t v;
        int r;

        s->err = &n->fault;
        r = check_cells(s, idx, "#address-cells", &v);
        if (r == 0) {
                n->na = v;
                n->has_na = true;
                n->na_bad = -1;
        } else if (r != -ENOENT) {
                n->na_bad = idx;
        }
        r = check_cells(s, idx, "#size-cells", &v);
        if (r == 0) {
                n->ns = v;
                n->ns_bad = -1;
        } else if (r != -ENOENT) {
                n->ns_bad = idx;
        }
        r = prop_u32(s, idx, "phandle", &v);
        if (r == -ENOENT)
                r = prop_u32(s, idx, "linux,phandle", &v);
        n->phandle = r == 0 && v != (uint32_t)-1 ? v : 0;
        s->err = saved;
}

/* -EINVAL: `what` of node user needs a cell count that node bad cannot give. */
static int cells_unusable(struct scan *s, int user, const char *what, int bad)
{
        return set_error(s->err, -EINVAL, "node %s: %s cannot be read: %s", s->nodes[user].path, what,
                         s->nodes[bad].fault ? s->nodes[bad].fault : "unusable cell count");
}

static int build_nodes(struct scan *s)
{
        int stack[DT_MAX_DEPTH + 1];
        int depth = 0, off;

        for (off = 0; off >= 0; off = fdt_next_node(s->fdt, off, &depth)) {
                struct node *n;
                const char *name;
                int namelen = 0, parent, idx;

                if (depth < 0)
                        break;
                if (depth > DT_MAX_DEPTH)
                        return set_error(s->err, -EINVAL, "device tree nested deeper than %d levels",
                                         DT_MAX_DEPTH);
                if (GROW(s->nodes, s->cap_nodes, s->n_nodes) < 0)
                        return -ENOMEM;
                idx = (int)s->n_nodes;
                parent = depth > 0 ? stack[depth - 1] : -1;
                stack[depth] = idx;

                n = &s->nodes[s->n_nodes++];
                memset(n, 0, sizeof(*n));
                n->off = off;
                n->parent = parent;
                name = fdt_get_name(s->fdt, off, &namelen);
                if (!name)
                        return set_error(s->err, -EINVAL, "node at offset %d has no readable name", off);
                if (parent < 0)
                        n->path = strdup("/");
                else
                        n->path = strdup_printf("%s/%.*s",
                                                parent == 0 ? "" : s->nodes[parent].path,
                                                namelen, name);
                if (!n->path)
                        return -ENOMEM;
                if (cache_props(s, n) < 0)
                        return -EINVAL;

                n->enabled = (parent < 0 || s->nodes[parent].enabled) && status_ok(s, idx);

                /*
                 * Absent cell counts are inherited from the nearest ancestor
                 * that has them, as Xen (dt_n_addr_cells) and Linux read
                 * them; the spec's 2/1 applies at the root.  QEMU's /chosen
                 * has none and its module nodes use the root's 2/2.
                 */
                n->na = parent < 0 ? 2 : s->nodes[parent].na;
                n->ns = parent < 0 ? 1 : s->nodes[parent].ns;
                n->na_bad = parent < 0 ? -1 : s->nodes[parent].na_bad;
                n->ns_bad = parent < 0 ? -1 : s->nodes[parent].ns_bad;
                node_own_props(s, idx);
                if (n->phandle != 0) {
                        if (GROW(s->ph, s->cap_ph, s->n_ph) < 0)
                                return -ENOMEM;
                        s->ph[s->n_ph++] = (struct phent){ .phandle = n->phandle, .idx = idx, .other = -1 };
                }
        }
        if (off < 0 && off != -FDT_ERR_NOTFOUND)
                return set_error(s->err, -EINVAL, "walking the tree: %s", fdt_strerr(off));
        if (s->n_nodes == 0)
                return set_error(s->err, -EINVAL, "device tree has no root node");

        /* A phandle two nodes carry names neither: resolve_phandle refuses it. */
        if (s->n_ph > 1)
                qsort(s->ph, s->n_ph, sizeof(*s->ph), cmp_phent);
        for (size_t i = 1; i < s->n_ph; i++)
                if (s->ph[i].phandle == s->ph[i - 1].phandle) {
                        s->ph[i].other = s->ph[i - 1].idx;
                        s->ph[i - 1].other = s->ph[i].idx;
                }
        return 0;
}

/* ---- reg translation ---------------------------------------------------- */

static bool is_pci_bus(const struct scan *s, int idx)
{
        const char *t = prop_string(s, idx, "device_type");

        return t && (strcmp(t, "pci") == 0 || strcmp(t, "pciex") == 0);
}

/*
 * Translate one address of a child of bus `bus` up to the root.  Returns
 * 1 on success, 0 if not translatable (note set), <0 on malformed ranges.
 * *room is how many bytes from the address on the windows it went through
 * hold (the least of them, every level counted); *narrowest names the bus
 * whose window that is.
 */
static int translate_addr(struct scan *s, int bus, u128 addr, u128 *out, u128 *room, int *narrowest,
                          char **note)
{
        int cur = bus;

        *room = ~(u128)0;
        *narrowest = -1;

        while (s->nodes[cur].parent >= 0) {
                const struct node *b = &s->nodes[cur], *gp = &s->nodes[b->parent];
                uint32_t cna = b->na, pna = gp->na, cns = b->ns, stride = cna + pna + cns;
                bool pci = cna == 3 && is_pci_bus(s, cur);
                bool found = false;
                int len;
                const void *r = prop(s, cur, "ranges", &len);

                if (!r) {
                        free(*note);
                        *note = strdup_printf("parent %s has no ranges", b->path);
                        return *note ? 0 : -ENOMEM;
                }
                if (len > 0 && (b->na_bad >= 0 || b->ns_bad >= 0 || gp->na_bad >= 0))
                        return cells_unusable(s, cur, "ranges",
                                              b->na_bad >= 0 ? b->na_bad : b->ns_bad >= 0 ? b->ns_bad : gp->na_bad);
                if (len % 4 != 0 || (len > 0 && (stride == 0 || (len / 4) % stride != 0)))
                        return set_error(s->err, -EINVAL,
                                         "node %s: ranges length %d is not a multiple of %" PRIu32 " cells",
                                         b->path, len, stride);
                if (len == 0) {
                        cur = b->parent;
                        continue;
                }
                for (size_t e = 0; e < (size_t)len / 4 / stride; e++) {
                        size_t at = e * stride;
                        u128 cb = read_cells(r, at, cna);
                        u128 pb = read_cells(r, at + cna, pna);
                        u128 sz = read_cells(r, at + cna + pna, cns);
                        u128 a = addr, c = cb;

                        if (pci) {
                                /* PCI: match the space code, then the 64-bit address. */
                                if ((((uint32_t)(addr >> 64) >> 24) & 3) !=
                                    (((uint32_t)(cb >> 64) >> 24) & 3))
                                        continue;
                                a = (uint64_t)addr;
                                c = (uint64_t)cb;
                        }
                        if (a >= c && a - c < sz) {
                                addr = pb + (a - c);
                                if (sz - (a - c) < *room) {
                                        *room = sz - (a - c);
                                        *narrowest = cur;
                                }
                                found = true;
                                break;
                        }
                }
                if (!found) {
                        free(*note);
                        *note = strdup_printf("address 0x%" PRIx64 " is outside every range of %s",
                                              (uint64_t)addr, b->path);
                        return *note ? 0 : -ENOMEM;
                }
                cur = b->parent;
        }
        if (addr >> 64) {
                free(*note);
                *note = strdup("address does not fit in 64 bits");
                return *note ? 0 : -ENOMEM;
        }
        *out = addr;
        return 1;
}

static int scan_reg(struct scan *s, int idx, struct dt_device *d)
{
        const struct node *n = &s->nodes[idx];
        const struct node *p = &s->nodes[n->parent];
        int len;
        const void *reg = prop(s, idx, "reg", &len);
        uint32_t stride = p->na + p->ns;
        size_t cap = 0, count;
        _cleanup_free_ char *overrun = NULL;

        if (!reg)
                return 0;
        if (p->na_bad >= 0 || p->ns_bad >= 0)
                return cells_unusable(s, idx, "reg", p->na_bad >= 0 ? p->na_bad : p->ns_bad);
        if (len % 4 != 0 || (stride && (len / 4) % stride != 0))
                return set_error(s->err, -EINVAL,
                                 "node %s: reg length %d is not a multiple of %" PRIu32 "+%" PRIu32 " cells",
                                 n->path, len, p->na, p->ns);
        if (p->ns == 0 || p->na == 0) {
                d->reg_note = strdup_printf("parent %s has #%s-cells = 0", p->path,
                                            p->ns == 0 ? "size" : "address");
                return d->reg_note ? 0 : -ENOMEM;
        }
        count = (size_t)len / 4 / stride;
        for (size_t e = 0; e < count; e++) {
                u128 addr = read_cells(reg, e * stride, p->na);
                u128 size = read_cells(reg, e * stride + p->na, p->ns);
                u128 out = 0, room;
                int r, narrowest;

                r = translate_addr(s, n->parent, addr, &out, &room, &narrowest, &d->reg_note);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                /*
                 * What lies past the end of a window is not at the CPU
                 * address the base translates to: keep what the window
                 * holds, and say the tree contradicts itself.
                 */
                if (size > room && size != 0) {
                        set_error(&overrun, -EINVAL, "node %s: reg entry %zu (0x%" PRIx64 " bytes) runs "
                                  "past the end of a ranges window of %s, which holds 0x%" PRIx64,
                                  n->path, e, (uint64_t)size, s->nodes[narrowest].path, (uint64_t)room);
                        size = room;
                }
                if (size >> 64 || size == 0 || out + size - 1 < out || (out + size - 1) >> 64) {
                        free(d->reg_note);
                        d->reg_note = strdup_printf("reg entry %zu has size 0 or wraps the address space", e);
                        if (!d->reg_note)
                                return -ENOMEM;
                        continue;
                }
                if (GROW(d->regions, cap, d->n_regions) < 0)
                        return -ENOMEM;
                d->regions[d->n_regions++] = (struct dt_region){ .base = (uint64_t)out,
                                                                 .size = (uint64_t)size };
        }
        if (overrun) {
                set_error(s->err, -EINVAL, "%s", overrun);
                return -EINVAL;
        }
        return 0;
}

/* ---- interrupts --------------------------------------------------------- */

static const char *const gic_compat[] = {
        "arm,gic-400", "arm,cortex-a15-gic", "arm,cortex-a9-gic", "arm,cortex-a7-gic",
        "arm,gic-v2", "arm,gic-v3", "arm,arm11mp-gic", "arm,arm1176jzf-devchip-gic",
        "arm,pl390", "arm,tc11mp-gic", "arm,eb11mp-gic", "arm,realview-gic",
        "qcom,msm-qgic2", "qcom,msm-8660-qgic", "brcm,brahma-b15-gic",
        NULL,
};

static bool is_gic(const struct scan *s, int idx)
{
        return compat_has(s, idx, gic_compat);
}

static int irq_cells(struct scan *s, int idx, uint32_t *ret)
{
        uint32_t v;
        int r = prop_u32(s, idx, "#interrupt-cells", &v);

        if (r == -ENOENT)
                return set_error(s->err, -EINVAL, "node %s is used as an interrupt parent but has no #interrupt-cells",
                                 s->nodes[idx].path);
        if (r < 0)
                return r;
        if (v == 0 || v > DT_MAX_IRQ_CELLS)
                return set_error(s->err, -EINVAL, "node %s: #interrupt-cells = %" PRIu32 " (expected 1..%u)",
                                 s->nodes[idx].path, v, DT_MAX_IRQ_CELLS);
        *ret = v;
        return 0;
}

/* The interrupt parent of idx: follow interrupt-parent, else the tree parent, until #interrupt-cells. */
static int find_irq_parent(struct scan *s, int idx, int *ret)
{
        int cur = idx;

        for (int hop = 0; hop < DT_MAX_DEPTH + DT_MAX_IRQ_HOPS; hop++) {
                uint32_t ph;
                int r = prop_u32(s, cur, "interrupt-parent", &ph);

                if (r == 0) {
                        int t;

                        r = resolve_phandle(s, cur, "interrupt-parent", ph, &t);
                        if (r < 0)
                                return r;
                        cur = t;
                } else if (r == -ENOENT) {
                        if (s->nodes[cur].parent < 0)
                                return set_error(s->err, -EINVAL, "node %s: no interrupt parent found",
                                                 s->nodes[idx].path);
                        cur = s->nodes[cur].parent;
                } else {
                        return r;
                }
                if (has_prop(s, cur, "#interrupt-cells")) {
                        *ret = cur;
                        return 0;
                }
        }
        return set_error(s->err, -ELOOP, "node %s: interrupt-parent chain loops", s->nodes[idx].path);
}

static int irq_set_controller(struct scan *s, struct dt_irq *irq, enum dt_irq_class cls, uint32_t hwirq,
                              uint32_t type, int ctrl)
{
        irq->cls = cls;
        irq->hwirq = hwirq;
        irq->type = type;
        irq->controller = strdup(s->nodes[ctrl].path);
        return irq->controller ? 0 : -ENOMEM;
}

/* GIC specifier types: SPI (INTID 32..1019), PPI (16..31), extended SPI and PPI (GICv3.1). */
static const char *const gic_kind[] = { "SPI", "PPI", "extended SPI", "extended PPI" };
static const uint32_t gic_range[] = { 988, 16, 1024, 64 };

static int decode_gic(struct scan *s, int dev, int gic, const uint32_t *spec, uint32_t n, struct dt_irq *irq)
{
        uint32_t kind, num, type;

        if (n < 2)
                return set_error(s->err, -EINVAL, "GIC %s has #interrupt-cells = %" PRIu32 ", at least 2 needed",
                                 s->nodes[gic].path, n);
        kind = spec[0];
        num = spec[1];
        type = n >= 3 ? spec[2] : 0;
        if (num > 0xfffff)
                return set_error(s->err, -EINVAL, "node %s: GIC interrupt number %" PRIu32 " out of range",
                                 s->nodes[dev].path, num);
        /*
         * A number past its range (a PPI 126 for an SPI, as hi6220's Mali
         * says) would land on another interrupt's INTID: not guessed.
         */
        if (kind <= 3 && num >= gic_range[kind])
                return set_error(s->err, -EINVAL, "node %s: GIC %s %" PRIu32 " is out of range (0..%" PRIu32 ")",
                                 s->nodes[dev].path, gic_kind[kind], num, gic_range[kind] - 1);
        switch (kind) {
        case 0:
                return irq_set_controller(s, irq, DT_IRQ_SPI, num + 32, type, gic);
        case 1:
                return irq_set_controller(s, irq, DT_IRQ_PPI, num + 16, type, gic);
        case 2:         /* GICv3.1 extended SPI range */
                return irq_set_controller(s, irq, DT_IRQ_SPI, num + 4096, type, gic);
        case 3:         /* GICv3.1 extended PPI range */
                return irq_set_controller(s, irq, DT_IRQ_PPI, num + 1056, type, gic);
        default:
                return set_error(s->err, -EINVAL, "node %s: GIC interrupt type %" PRIu32 " is not SPI/PPI/ESPI/EPPI",
                                 s->nodes[dev].path, kind);
        }
}

/* #address-cells as Linux reads it for an interrupt nexus: itself or the nearest ancestor, else 2. */
static uint32_t nexus_addr_cells(const struct scan *s, int idx)
{
        for (int cur = idx; cur >= 0; cur = s->nodes[cur].parent)
                if (s->nodes[cur].has_na)
                        return s->nodes[cur].na;
        return 2;
}

/*
 * Resolve one interrupt specifier given to controller `ctrl` on behalf
 * of device `dev`, following interrupt-map nexus nodes until a GIC or
 * another interrupt controller is reached.
 */
static int resolve_irq(struct scan *s, int dev, int ctrl, const uint32_t *spec_in, uint32_t nspec,
                       struct dt_irq *irq)
{
        uint32_t spec[DT_MAX_IRQ_CELLS], addr[DT_MAX_CELLS] = { 0 };
        uint32_t naddr;
        bool first = true;

        memcpy(spec, spec_in, nspec * sizeof(uint32_t));

        for (int hop = 0; hop <= DT_MAX_IRQ_HOPS; hop++) {
                const void *map, *maskp;
                int maplen, masklen;
                uint32_t mask[DT_MAX_CELLS + DT_MAX_IRQ_CELLS];
                size_t pos, total;
                bool matched = false;

                if (is_gic(s, ctrl))
                        return decode_gic(s, dev, ctrl, spec, nspec, irq);
                map = prop(s, ctrl, "interrupt-map", &maplen);
                if (has_prop(s, ctrl, "interrupt-controller") || !map)
                        return irq_set_controller(s, irq, DT_IRQ_NOT_GIC, 0, 0, ctrl);

                if (s->nodes[ctrl].na_bad >= 0)
                        return cells_unusable(s, ctrl, "interrupt-map", s->nodes[ctrl].na_bad);
                /* The child unit address: the device's first reg cells on the first hop. */
                if (first) {
                        int reglen;
                        const void *reg = prop(s, dev, "reg", &reglen);

                        naddr = nexus_addr_cells(s, ctrl);
                        if (naddr > DT_MAX_CELLS)
                                naddr = DT_MAX_CELLS;
                        for (uint32_t i = 0; i < naddr; i++)
                                addr[i] = reg && reglen >= (int)(4 * (i + 1)) ? cell_at(reg, i) : 0;
                        first = false;
                } else {
                        naddr = s->nodes[ctrl].has_na ? s->nodes[ctrl].na : 0;
                }

                maskp = prop(s, ctrl, "interrupt-map-mask", &masklen);
                for (uint32_t i = 0; i < naddr + nspec; i++)
                        mask[i] = 0xffffffff;
                if (maskp) {
                        if (masklen != (int)(4 * (naddr + nspec)))
                                return set_error(s->err, -EINVAL,
                                                 "node %s: interrupt-map-mask has %d bytes, expected %" PRIu32,
                                                 s->nodes[ctrl].path, masklen, 4 * (naddr + nspec));
                        for (uint32_t i = 0; i < naddr + nspec; i++)
                                mask[i] = cell_at(maskp, i);
                }
                if (maplen % 4 != 0)
                        return set_error(s->err, -EINVAL, "node %s: interrupt-map length %d is not a multiple of 4",
                                         s->nodes[ctrl].path, maplen);

                total = (size_t)maplen / 4;
                for (pos = 0; pos < total;) {
                        bool match = true;
                        uint32_t ph, pna, pic;
                        int par;

                        if (total - pos < naddr + nspec + 1)
                                return set_error(s->err, -EINVAL, "node %s: interrupt-map is truncated",
                                                 s->nodes[ctrl].path);
                        for (uint32_t i = 0; i < naddr; i++)
                                if ((addr[i] & mask[i]) != cell_at(map, pos + i))
                                        match = false;
                        for (uint32_t i = 0; i < nspec; i++)
                                if ((spec[i] & mask[naddr + i]) != cell_at(map, pos + naddr + i))
                                        match = false;
                        pos += naddr + nspec;
                        ph = cell_at(map, pos++);
                        if (resolve_phandle(s, ctrl, "interrupt-map", ph, &par) < 0)
                                return -EINVAL;
                        if (s->nodes[par].na_bad == par)
                                return cells_unusable(s, ctrl, "interrupt-map", par);
                        pna = s->nodes[par].has_na ? s->nodes[par].na : 0;
                        if (irq_cells(s, par, &pic) < 0)
                                return -EINVAL;
                        if (total - pos < pna + pic)
                                return set_error(s->err, -EINVAL, "node %s: interrupt-map is truncated",
                                                 s->nodes[ctrl].path);
                        if (match) {
                                for (uint32_t i = 0; i < pna; i++)
                                        addr[i] = cell_at(map, pos + i);
                                for (uint32_t i = 0; i < pic; i++)
                                        spec[i] = cell_at(map, pos + pna + i);
                                nspec = pic;
                                ctrl = par;
                                matched = true;
                                break;
                        }
                        pos += pna + pic;
                }
                /* Not in the map: report where it stops rather than guess. */
                if (!matched)
                        return irq_set_controller(s, irq, DT_IRQ_NOT_GIC, 0, 0, ctrl);
        }
        return set_error(s->err, -ELOOP, "node %s: interrupt-map chain longer than %d hops (a loop?)",
                         s->nodes[dev].path, DT_MAX_IRQ_HOPS);
}

static int add_irq(struct scan *s, int dev, struct dt_device *d, size_t *cap, int ctrl,
                   const void *cells, size_t at, uint32_t n)
{
        uint32_t spec[DT_MAX_IRQ_CELLS];
        struct dt_irq irq = { 0 };
        int r;

        for (uint32_t i = 0; i < n; i++)
                spec[i] = cell_at(cells, at + i);
        r = resolve_irq(s, dev, ctrl, spec, n, &irq);
        if (r < 0)
                return r;
        if (GROW(d->irqs, *cap, d->n_irqs) < 0) {
                free(irq.controller);
                return -ENOMEM;
        }
        d->irqs[d->n_irqs++] = irq;
        return 0;
}

static int scan_irqs(struct scan *s, int idx, struct dt_device *d)
{
        const char *path = s->nodes[idx].path;
        size_t cap = 0;
        int len, r;
        const void *p;

        p = prop(s, idx, "interrupts-extended", &len);
        if (p) {
                size_t total, pos = 0;

                if (len % 4 != 0 || len == 0)
                        return set_error(s->err, -EINVAL, "node %s: interrupts-extended has length %d",
                                         path, len);
                total = (size_t)len / 4;
                while (pos < total) {
                        uint32_t ph = cell_at(p, pos++), n;
                        int ctrl;

                        r = resolve_phandle(s, idx, "interrupts-extended", ph, &ctrl);
                        if (r < 0)
                                return r;
                        r = irq_cells(s, ctrl, &n);
                        if (r < 0)
                                return r;
                        if (total - pos < n)
                                return set_error(s->err, -EINVAL,
                                                 "node %s: interrupts-extended is shorter than the %" PRIu32 " cells %s needs",
                                                 path, n, s->nodes[ctrl].path);
                        r = add_irq(s, idx, d, &cap, ctrl, p, pos, n);
                        if (r < 0)
                                return r;
                        pos += n;
                }
                return 0;
        }

        p = prop(s, idx, "interrupts", &len);
        if (p) {
                int ctrl = -1;
                uint32_t n;

                r = find_irq_parent(s, idx, &ctrl);
                if (r < 0)
                        return r;
                r = irq_cells(s, ctrl, &n);
                if (r < 0)
                        return r;
                if (len <= 0 || len % (int)(4 * n) != 0)
                        return set_error(s->err, -EINVAL,
                                         "node %s: interrupts has %d bytes, not a multiple of the %" PRIu32 " cells of %s",
                                         path, len, n, s->nodes[ctrl].path);
                for (size_t at = 0; at < (size_t)len / 4; at += n) {
                        r = add_irq(s, idx, d, &cap, ctrl, p, at, n);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- IOMMUs ------------------------------------------------------------- */

static const char *const smmu_compat[] = {
        "arm,smmu-v1", "arm,smmu-v2", "arm,mmu-400", "arm,mmu-401", "arm,mmu-500", NULL,
};
static const char *const smmuv3_compat[] = { "arm,smmu-v3", NULL };
/* The SoCs Xen's ipmmu-vmsa.c matches (xen/drivers/passthrough/arm/ipmmu-vmsa.c). */
static const char *const ipmmu_compat[] = {
        "renesas,ipmmu-r8a7795", "renesas,ipmmu-r8a77965", "renesas,ipmmu-r8a7796",
        "renesas,ipmmu-r8a77961", "renesas,ipmmu-r8a779f0", "renesas,ipmmu-r8a779g0", NULL,
};
/* IOMMUs Xen has no driver for, recognised even without #iommu-cells. */
static const char *const other_iommu_compat[] = {
        "samsung,exynos-sysmmu", "rockchip,iommu", "rockchip,rk3568-iommu", "rockchip,rk3588-iommu",
        "mediatek,mt8173-m4u", "qcom,msm-iommu-v1", "apple,t8103-dart", NULL,
};

static enum dt_iommu_kind iommu_kind(const struct scan *s, int idx)
{
        if (compat_has(s, idx, smmu_compat))
                return DT_IOMMU_SMMU;
        if (compat_has(s, idx, smmuv3_compat))
                return DT_IOMMU_SMMUV3;
        if (compat_has(s, idx, ipmmu_compat))
                return DT_IOMMU_IPMMU;
        return DT_IOMMU_UNSUPPORTED;
}

/* The node's own #iommu-cells: 0 and *ret, -ENOENT if absent, -EINVAL (with message) if unusable. */
static int own_iommu_cells(struct scan *s, int idx, uint32_t *ret)
{
        uint32_t v;
        int r = prop_u32(s, idx, "#iommu-cells", &v);

        if (r < 0)
                return r;
        if (v > DT_MAX_IOMMU_CELLS)
                return set_error(s->err, -EINVAL, "node %s: #iommu-cells = %" PRIu32 " (at most %u)",
                                 s->nodes[idx].path, v, DT_MAX_IOMMU_CELLS);
        *ret = v;
        return 0;
}

/* #iommu-cells of the node `target` that property `what` of node `user` names. */
static int iommu_cells(struct scan *s, int target, int user, const char *what, uint32_t *ret)
{
        char *why = NULL, **saved = s->err;
        int r;

        s->err = &why;
        r = own_iommu_cells(s, target, ret);
        s->err = saved;
        if (r == -ENOENT)
                r = set_error(s->err, -EINVAL, "node %s: %s refers to %s, which has no #iommu-cells",
                              s->nodes[user].path, what, s->nodes[target].path);
        else if (r < 0)
                r = set_error(s->err, r, "node %s: %s cannot be read: %s", s->nodes[user].path, what,
                              why ? why : "unusable #iommu-cells");
        free(why);
        return r;
}

/* Every node with a usable #iommu-cells; an unusable one is the node's fault. */
static int collect_iommus(struct scan *s)
{
        for (size_t i = 0; i < s->n_nodes; i++) {
                struct node *n = &s->nodes[i];
                char **saved = s->err;
                struct dt_iommu *m;
                uint32_t cells;
                int r;

                s->err = &n->fault;
                r = own_iommu_cells(s, (int)i, &cells);
                s->err = saved;
                if (r < 0)
                        continue;
                if (GROW(s->iommus, s->cap_iommus, s->n_iommus) < 0)
                        return -ENOMEM;
                m = &s->iommus[s->n_iommus];
                memset(m, 0, sizeof(*m));
                m->path = strdup(n->path);
                if (!m->path)
                        return -ENOMEM;
                s->n_iommus++;
                r = compat_strv(s, (int)i, &m->compatible);
                if (r < 0)
                        return r;
                m->enabled = n->enabled;
                m->kind = iommu_kind(s, (int)i);
                m->iommu_cells = cells;
        }
        return 0;
}

static int link_add_id(struct dt_device *d, size_t *cap, const char *iommu, bool has_id, uint32_t id)
{
        struct dt_iommu_link *l = NULL;

        for (size_t i = 0; i < d->n_iommus; i++)
                if (strcmp(d->iommus[i].iommu, iommu) == 0)
                        l = &d->iommus[i];
        if (!l) {
                if (GROW(d->iommus, *cap, d->n_iommus) < 0)
                        return -ENOMEM;
                l = &d->iommus[d->n_iommus];
                memset(l, 0, sizeof(*l));
                l->iommu = strdup(iommu);
                if (!l->iommu)
                        return -ENOMEM;
                d->n_iommus++;
        }
        if (has_id) {
                uint32_t *ids = realloc(l->ids, (l->n_ids + 1) * sizeof(uint32_t));

                if (!ids)
                        return -ENOMEM;
                l->ids = ids;
                l->ids[l->n_ids++] = id;
        }
        return 0;
}

static int scan_iommus(struct scan *s, int idx, struct dt_device *d)
{
        const char *path = s->nodes[idx].path;
        size_t cap = 0, total, pos = 0;
        int len;
        const void *p = prop(s, idx, "iommus", &len);

        if (!p)
                return 0;
        if (len % 4 != 0)
                return set_error(s->err, -EINVAL, "node %s: iommus length %d is not a multiple of 4", path, len);
        total = (size_t)len / 4;
        while (pos < total) {
                uint32_t ph = cell_at(p, pos++), n;
                int t, r;

                r = resolve_phandle(s, idx, "iommus", ph, &t);
                if (r < 0)
                        return r;
                r = iommu_cells(s, t, idx, "iommus", &n);
                if (r < 0)
                        return r;
                if (total - pos < n)
                        return set_error(s->err, -EINVAL, "node %s: iommus is truncated", path);
                r = link_add_id(d, &cap, s->nodes[t].path, n > 0, n > 0 ? cell_at(p, pos) : 0);
                if (r < 0)
                        return r;
                pos += n;
        }
        return 0;
}

static int compute_rid_gaps(struct scan *s, int idx, struct dt_device *d)
{
        uint32_t lo = 0, hi = 0xffff, mask = d->has_iommu_map_mask ? d->iommu_map_mask : 0xffffffff;
        size_t cap = 0;
        int len;
        const void *br = prop(s, idx, "bus-range", &len);
        bool in_gap = false;

        if (br) {
                uint32_t b0, b1;

                if (len != 8)
                        return set_error(s->err, -EINVAL, "node %s: bus-range has length %d, expected 8",
                                         s->nodes[idx].path, len);
                b0 = cell_at(br, 0);
                b1 = cell_at(br, 1);
                if (b0 > b1 || b1 > 0xff)
                        return set_error(s->err, -EINVAL, "node %s: bus-range <%" PRIu32 " %" PRIu32 "> is invalid",
                                         s->nodes[idx].path, b0, b1);
                lo = b0 << 8;
                hi = (b1 << 8) | 0xff;
        }

        for (uint32_t rid = lo; rid <= hi; rid++) {
                uint32_t m = rid & mask;
                bool covered = false;

                for (size_t e = 0; e < d->n_iommu_map && !covered; e++) {
                        const struct dt_iommu_map_entry *me = &d->iommu_map[e];

                        covered = m >= me->rid_base && (uint64_t)m < (uint64_t)me->rid_base + me->length;
                }
                if (covered) {
                        in_gap = false;
                        continue;
                }
                if (in_gap) {
                        d->rid_gaps[d->n_rid_gaps - 1].count++;
                        continue;
                }
                if (GROW(d->rid_gaps, cap, d->n_rid_gaps) < 0)
                        return -ENOMEM;
                d->rid_gaps[d->n_rid_gaps++] = (struct dt_rid_gap){ .rid_base = rid, .count = 1 };
                in_gap = true;
        }
        return 0;
}

/*
 * iommu-map: entries of 4 cells <rid-base iommu out-base length>, whatever
 * the IOMMU's #iommu-cells (binding pci-iommu.txt; Xen's dt_map_id and
 * Linux's of_map_id step by 4 cells).  A map is all or nothing, as there:
 * on any error no entry is kept.  The IOMMU must have #iommu-cells >= 1
 * for an entry to give it a stream ID at all.
 */
static int scan_iommu_map(struct scan *s, int idx, struct dt_device *d)
{
        const char *path = s->nodes[idx].path;
        size_t cap = 0, total;
        uint32_t v;
        int len, r;
        const void *p = prop(s, idx, "iommu-map", &len);

        r = prop_u32(s, idx, "iommu-map-mask", &v);
        if (r == 0) {
                d->has_iommu_map_mask = true;
                d->iommu_map_mask = v;
        } else if (r != -ENOENT) {
                return r;
        }
        if (!p)
                return 0;
        if (len <= 0 || len % 16 != 0)
                return set_error(s->err, -EINVAL, "node %s: iommu-map length %d is not a multiple of 4 cells",
                                 path, len);
        total = (size_t)len / 4;
        for (size_t pos = 0; pos < total; pos += 4) {
                struct dt_iommu_map_entry e = {
                        .rid_base = cell_at(p, pos), .iommu_base = cell_at(p, pos + 2),
                        .length = cell_at(p, pos + 3),
                };
                uint32_t n;
                int t;

                r = resolve_phandle(s, idx, "iommu-map", cell_at(p, pos + 1), &t);
                if (r >= 0)
                        r = iommu_cells(s, t, idx, "iommu-map", &n);
                if (r >= 0 && n == 0)
                        r = set_error(s->err, -EINVAL,
                                      "node %s: iommu-map refers to %s, whose #iommu-cells = 0 takes no stream ID",
                                      path, s->nodes[t].path);
                if (r < 0)
                        return r;
                e.iommu = strdup(s->nodes[t].path);
                if (!e.iommu)
                        return -ENOMEM;
                if (GROW(d->iommu_map, cap, d->n_iommu_map) < 0) {
                        free(e.iommu);
                        return -ENOMEM;
                }
                d->iommu_map[d->n_iommu_map++] = e;
        }
        return compute_rid_gaps(s, idx, d);
}

/* ---- console ------------------------------------------------------------ */

/* The node /chosen/stdout-path names, resolving an alias and dropping ":options". */
static int find_console(struct scan *s)
{
        int chosen = fdt_path_offset(s->fdt, "/chosen"), len, off, idx;
        const char *sp;
        size_t n;

        s->console_idx = -1;
        if (chosen < 0)
                return 0;
        idx = node_by_offset(s, chosen);
        if (idx < 0)
                return 0;
        sp = prop(s, idx, "stdout-path", &len);
        if (!sp)
                sp = prop(s, idx, "linux,stdout-path", &len);
        if (!sp || len <= 0)
                return 0;
        n = strnlen(sp, len);
        for (size_t i = 0; i < n; i++)
                if (sp[i] == ':') {
                        n = i;
                        break;
                }
        if (n == 0)
                return 0;
        off = fdt_path_offset_namelen(s->fdt, sp, (int)n);
        if (off >= 0)
                s->console_idx = node_by_offset(s, off);
        return 0;
}

/* ---- devices ------------------------------------------------------------ */

/*
 * A tree Xen wrote for dom0 carries Xen's /hypervisor node; in it Xen
 * turns the status of xen,passthrough nodes to "disabled", so those nodes
 * must be scanned to be offered at all.  Only a node whose own status is
 * exactly Xen's "disabled" under enabled ancestors: Xen edits no other.
 */
static void mark_hidden(struct scan *s)
{
        static const char *const xen[] = { "xen,xen", NULL };
        bool dom0_view = false;
        int len;

        for (size_t i = 1; i < s->n_nodes; i++)
                if (s->nodes[i].parent == 0 && strcmp(s->nodes[i].path, "/hypervisor") == 0 &&
                    compat_has(s, (int)i, xen))
                        dom0_view = true;
        if (!dom0_view)
                return;
        for (size_t i = 1; i < s->n_nodes; i++) {
                const char *st = prop(s, (int)i, "status", &len);
                int parent = s->nodes[i].parent;

                s->nodes[i].hidden = !s->nodes[i].enabled && s->nodes[parent].enabled && st &&
                                     len == (int)sizeof("disabled") &&
                                     memcmp(st, "disabled", sizeof("disabled")) == 0;
        }
}

/* Append why to *fault ("first; second"). */
static int add_fault(char **fault, const char *why)
{
        char *n = *fault ? strdup_printf("%s; %s", *fault, why) : strdup(why);

        if (!n)
                return -ENOMEM;
        free(*fault);
        *fault = n;
        return 0;
}

typedef int scan_fn(struct scan *s, int idx, struct dt_device *d);

/*
 * One part of a device's scan.  A property that cannot be read
 * consistently (a dangling phandle, an interrupt-map that does not
 * resolve, a cell count out of range ...) is the device's fault: its
 * message joins d->fault and the scan goes on, so one bad node never
 * costs the others their inventory.  Returns 1 if this part failed, 0 if
 * not, -ENOMEM (the only error that stops the scan).
 */
static int scan_part(struct scan *s, scan_fn *fn, int idx, struct dt_device *d)
{
        char *why = NULL, **saved = s->err;
        int r;

        s->err = &why;
        r = fn(s, idx, d);
        s->err = saved;
        if (r >= 0 || r == -ENOMEM) {
                free(why);
                return r < 0 ? r : 0;
        }
        r = add_fault(&d->fault, why ? why : strerror(-r));
        free(why);
        return r < 0 ? r : 1;
}

static void drop_iommu_links(struct dt_device *d)
{
        for (size_t i = 0; i < d->n_iommus; i++) {
                free(d->iommus[i].iommu);
                free(d->iommus[i].ids);
        }
        free(d->iommus);
        d->iommus = NULL;
        d->n_iommus = 0;
}

static void drop_iommu_map(struct dt_device *d)
{
        for (size_t i = 0; i < d->n_iommu_map; i++)
                free(d->iommu_map[i].iommu);
        free(d->iommu_map);
        free(d->rid_gaps);
        d->iommu_map = NULL;
        d->rid_gaps = NULL;
        d->n_iommu_map = d->n_rid_gaps = 0;
}

/*
 * A node is a device if it has a CPU-addressable region or an interrupt,
 * or if its reg or interrupts could not be read (then it is recorded with
 * its fault, never assignable, rather than silently left out).  What was
 * read of reg and interrupts before a fault is kept: those are facts, and
 * a neighbour sharing a page or an SPI with it must still be grouped with
 * it.  IOMMU links are all or nothing, as Xen and Linux read them.
 */
static int scan_device(struct scan *s, int idx)
{
        struct dt_device d = { .group = -1 };
        const char *name;
        int r, reg_bad, irq_bad = 0;

        if (s->nodes[idx].fault) {
                d.fault = strdup(s->nodes[idx].fault);
                if (!d.fault)
                        return -ENOMEM;
        }
        r = reg_bad = scan_part(s, scan_reg, idx, &d);
        if (r >= 0)
                r = irq_bad = scan_part(s, scan_irqs, idx, &d);
        if (r < 0)
                goto fail;
        if (d.n_regions == 0 && d.n_irqs == 0 && !reg_bad && !irq_bad) {
                dt_device_clear(&d);
                return 0;
        }

        d.path = strdup(s->nodes[idx].path);
        name = strrchr(s->nodes[idx].path, '/');
        d.node_name = strdup(name ? name + 1 : s->nodes[idx].path);
        if (!d.path || !d.node_name) {
                r = -ENOMEM;
                goto fail;
        }
        r = compat_strv(s, idx, &d.compatible);
        if (r < 0)
                goto fail;
        r = scan_part(s, scan_iommus, idx, &d);
        if (r < 0)
                goto fail;
        if (r > 0)
                drop_iommu_links(&d);
        d.pci_host = is_pci_bus(s, idx);
        r = scan_part(s, scan_iommu_map, idx, &d);
        if (r < 0)
                goto fail;
        if (r > 0)
                drop_iommu_map(&d);

        d.is_interrupt_controller = has_prop(s, idx, "interrupt-controller");
        d.is_msi_controller = has_prop(s, idx, "msi-controller") || has_prop(s, idx, "#msi-cells");
        d.is_iommu = has_prop(s, idx, "#iommu-cells") || compat_has(s, idx, smmu_compat) ||
                     compat_has(s, idx, smmuv3_compat) || compat_has(s, idx, ipmmu_compat) ||
                     compat_has(s, idx, other_iommu_compat);
        d.is_xen_console = idx == s->console_idx;
        d.xen_passthrough = has_prop(s, idx, "xen,passthrough");
        d.dom0_hidden = s->nodes[idx].hidden;
        d.is_gpio_controller = has_prop(s, idx, "gpio-controller");
        d.is_bus = has_prop(s, idx, "ranges");
        {
                const char *t = prop_string(s, idx, "device_type");

                d.is_memory = t && strcmp(t, "memory") == 0;
        }

        if (GROW(s->devs, s->cap_devs, s->n_devs) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        s->devs[s->n_devs++] = d;
        return 0;
fail:
        dt_device_clear(&d);
        return r;
}

static void scan_clear(struct scan *s)
{
        for (size_t i = 0; i < s->n_nodes; i++) {
                free(s->nodes[i].path);
                free(s->nodes[i].fault);
        }
        free(s->nodes);
        free(s->ph);
        for (size_t i = 0; i < s->n_devs; i++)
                dt_device_clear(&s->devs[i]);
        free(s->devs);
        for (size_t i = 0; i < s->n_iommus; i++) {
                free(s->iommus[i].path);
                strv_free(s->iommus[i].compatible);
        }
        free(s->iommus);
}

/*
 * Walk every tag of the structure block once and check that each one lies
 * inside it.  libfdt's own walker adds a property's length to its offset
 * in int arithmetic: a length near 4 GiB wraps the offset back onto the
 * same property and fdt_check_full() (libfdt 1.6.1, Debian 12) never
 * returns.  Every step here moves forward by at least one tag, so a blob
 * of any content is walked in time linear in its size.  The root of an old
 * (before version 16) tree must name its path, or fdt_check_full() reads
 * a NULL name.
 */
static uint64_t tag_align(uint64_t off)
{
        return (off + FDT_TAGSIZE - 1) & ~(uint64_t)(FDT_TAGSIZE - 1);
}

static int check_struct_walk(const void *fdt, uint32_t total, char **err)
{
        const uint8_t *base = (const uint8_t *)fdt + fdt_off_dt_struct(fdt);
        uint64_t size = total - (uint64_t)fdt_off_dt_struct(fdt), off = 0;
        unsigned depth = 0;

        if (fdt_version(fdt) >= 17 && fdt_size_dt_struct(fdt) < size)
                size = fdt_size_dt_struct(fdt);
        for (;;) {
                uint32_t tag;

                if (off + 4 > size)
                        return set_error(err, -EINVAL,
                                         "device tree structure is invalid: it ends at byte %" PRIu64
                                         " without an end tag", off);
                tag = fdt32_ld((const fdt32_t *)(base + off));
                switch (tag) {
                case FDT_BEGIN_NODE: {
                        const void *nul = memchr(base + off + 4, '\0', size - off - 4);

                        if (!nul)
                                return set_error(err, -EINVAL,
                                                 "device tree structure is invalid: the node name at byte %" PRIu64
                                                 " runs past the structure block", off);
                        /*
                         * Before version 16 a node's name is its full path, and
                         * libfdt finds the name after the last '/': for a root
                         * without one fdt_get_name() returns NULL, which
                         * fdt_check_full() (libfdt 1.6.1) reads through.
                         */
                        if (depth == 0 && fdt_version(fdt) < 16 &&
                            !memchr(base + off + 4, '/', (size_t)((const uint8_t *)nul - (base + off + 4))))
                                return set_error(err, -EINVAL,
                                                 "device tree structure is invalid: a version %" PRIu32
                                                 " tree names its root by its path, \"/\", and this one does not",
                                                 (uint32_t)fdt_version(fdt));
                        off = tag_align((uint64_t)((const uint8_t *)nul - base) + 1);
                        depth++;
                        break;
                }
                case FDT_PROP: {
                        uint64_t len;

                        if (off + 12 > size)
                                return set_error(err, -EINVAL,
                                                 "device tree structure is invalid: the property at byte %" PRIu64
                                                 " is cut short", off);
                        len = fdt32_ld((const fdt32_t *)(base + off + 4));
                        /* Before version 16 a value of 8 bytes or more is aligned to 8. */
                        if (fdt_version(fdt) < 16 && len >= 8 && ((off + 12) & 7))
                                off += 4;
                        if (off + 12 + len > size)
                                return set_error(err, -EINVAL,
                                                 "device tree structure is invalid: the property at byte %" PRIu64
                                                 " claims %" PRIu64 " bytes, past the structure block",
                                                 off, len);
                        off = tag_align(off + 12 + len);
                        break;
                }
                case FDT_END_NODE:
                        if (depth == 0)
                                return set_error(err, -EINVAL,
                                                 "device tree structure is invalid: a node ends at byte %" PRIu64
                                                 " that never began", off);
                        depth--;
                        off += 4;
                        break;
                case FDT_NOP:
                        off += 4;
                        break;
                case FDT_END:
                        return 0;
                default:
                        return set_error(err, -EINVAL,
                                         "device tree structure is invalid: unknown tag 0x%08" PRIx32
                                         " at byte %" PRIu64, tag, off);
                }
        }
}

/* ---- public API --------------------------------------------------------- */

static size_t max_blob = DT_MAX_BLOB_SIZE;

void dt_set_max_blob_size(size_t max)
{
        max_blob = max == 0 ? DT_MAX_BLOB_SIZE : max > UINT32_MAX ? UINT32_MAX : max;
}

size_t dt_max_blob_size(void)
{
        return max_blob;
}

int dt_check_blob(const void *blob, size_t len, char **err)
{
        uint32_t total;
        int r;

        if (!blob)
                return set_error(err, -EINVAL, "no device tree blob");
        if (len > max_blob)
                return set_error(err, -E2BIG, "device tree blob is %zu bytes, more than the %zu byte limit",
                                 len, max_blob);
        if (len < sizeof(struct fdt_header))
                return set_error(err, -EINVAL, "device tree blob is truncated: %zu bytes, the header alone is %zu",
                                 len, sizeof(struct fdt_header));
        if (fdt_magic(blob) != FDT_MAGIC)
                return set_error(err, -EINVAL, "not a device tree blob: magic 0x%08" PRIx32 ", expected 0x%08x",
                                 (uint32_t)fdt_magic(blob), FDT_MAGIC);
        total = fdt_totalsize(blob);
        if (total > len)
                return set_error(err, -EINVAL, "device tree header claims %" PRIu32 " bytes but only %zu were read",
                                 total, len);
        if (total > max_blob)
                return set_error(err, -E2BIG, "device tree totalsize %" PRIu32 " exceeds the limit", total);
        r = fdt_check_header(blob);
        if (r < 0)
                return set_error(err, -EINVAL, "device tree header is invalid: %s", fdt_strerr(r));
        r = check_struct_walk(blob, total, err);
        if (r < 0)
                return r;
        r = fdt_check_full(blob, total);
        if (r < 0)
                return set_error(err, -EINVAL, "device tree structure is invalid: %s", fdt_strerr(r));
        return 0;
}

int dt_read_file(const char *path, void **ret, size_t *ret_len, char **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return set_error(err, -errno, "cannot open %s: %s", path, strerror(errno));
        /* sysfs reports a size stat() cannot be trusted with: read until EOF, one byte past the cap. */
        for (;;) {
                ssize_t n;

                if (len == cap) {
                        size_t ncap = cap ? cap * 2 : 64 * 1024;
                        char *p;

                        if (ncap > max_blob + 1)
                                ncap = max_blob + 1;
                        if (ncap <= len)
                                return set_error(err, -E2BIG, "%s is larger than %zu bytes", path,
                                                 max_blob);
                        p = realloc(buf, ncap);
                        if (!p)
                                return set_error(err, -ENOMEM, "out of memory reading %s", path);
                        buf = p;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return set_error(err, -errno, "cannot read %s: %s", path, strerror(errno));
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > max_blob)
                return set_error(err, -E2BIG, "%s is larger than %zu bytes", path, max_blob);
        *ret = steal_ptr(buf);
        *ret_len = len;
        return 0;
}

int dt_scan(const void *blob, size_t len, struct dt_inventory **ret, char **err)
{
        struct scan s = { .fdt = blob, .err = err, .console_idx = -1 };
        struct dt_inventory *inv;
        const char *model;
        int r;

        r = dt_check_blob(blob, len, err);
        if (r < 0)
                return r;

        r = build_nodes(&s);
        if (r >= 0)
                r = find_console(&s);
        if (r >= 0)
                r = collect_iommus(&s);
        if (r >= 0)
                mark_hidden(&s);
        for (size_t i = 1; r >= 0 && i < s.n_nodes; i++)
                if (s.nodes[i].enabled || s.nodes[i].hidden)
                        r = scan_device(&s, (int)i);
        if (r < 0) {
                if (r == -ENOMEM)
                        set_error(err, r, "out of memory scanning the device tree");
                else
                        set_error(err, r, "device tree scan failed");
                scan_clear(&s);
                return r;
        }

        inv = calloc(1, sizeof(*inv));
        if (!inv) {
                scan_clear(&s);
                return set_error(err, -ENOMEM, "out of memory scanning the device tree");
        }
        model = prop_string(&s, 0, "model");
        if (model) {
                inv->model = strdup(model);
                if (!inv->model) {
                        free(inv);
                        scan_clear(&s);
                        return set_error(err, -ENOMEM, "out of memory scanning the device tree");
                }
        }
        sha256_hex(blob, fdt_totalsize(blob), inv->sha256);
        inv->devices = steal_ptr(s.devs);
        inv->n_devices = s.n_devs;
        s.n_devs = 0;
        inv->iommus = steal_ptr(s.iommus);
        inv->n_iommus = s.n_iommus;
        s.n_iommus = 0;
        scan_clear(&s);
        *ret = inv;
        return 0;
}

void dt_device_clear(struct dt_device *d)
{
        if (!d)
                return;
        free(d->path);
        strv_free(d->compatible);
        free(d->node_name);
        free(d->regions);
        free(d->reg_note);
        for (size_t i = 0; d->irqs && i < d->n_irqs; i++)
                free(d->irqs[i].controller);
        free(d->irqs);
        for (size_t i = 0; d->iommus && i < d->n_iommus; i++) {
                free(d->iommus[i].iommu);
                free(d->iommus[i].ids);
        }
        free(d->iommus);
        for (size_t i = 0; d->iommu_map && i < d->n_iommu_map; i++)
                free(d->iommu_map[i].iommu);
        free(d->iommu_map);
        free(d->rid_gaps);
        free(d->dma_source);
        free(d->reason);
        free(d->fault);
        memset(d, 0, sizeof(*d));
        d->group = -1;
}

void dt_inventory_free(struct dt_inventory *inv)
{
        if (!inv)
                return;
        for (size_t i = 0; inv->devices && i < inv->n_devices; i++)
                dt_device_clear(&inv->devices[i]);
        free(inv->devices);
        for (size_t i = 0; inv->iommus && i < inv->n_iommus; i++) {
                free(inv->iommus[i].path);
                strv_free(inv->iommus[i].compatible);
        }
        free(inv->iommus);
        for (size_t i = 0; inv->groups && i < inv->n_groups; i++) {
                free(inv->groups[i].members);
                free(inv->groups[i].why);
        }
        free(inv->groups);
        free(inv->model);
        free(inv);
}

struct dt_device *dt_inventory_find(const struct dt_inventory *inv, const char *path)
{
        if (!inv || !path)
                return NULL;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (streq(inv->devices[i].path, path))
                        return &inv->devices[i];
        return NULL;
}

const struct dt_iommu *dt_inventory_find_iommu(const struct dt_inventory *inv, const char *path)
{
        if (!inv || !path)
                return NULL;
        for (size_t i = 0; i < inv->n_iommus; i++)
                if (streq(inv->iommus[i].path, path))
                        return &inv->iommus[i];
        return NULL;
}

/* ---- names -------------------------------------------------------------- */

static const char *const coverage_names[] = {
        [DT_COV_NONE] = "none",
        [DT_COV_PROTECTED] = "protected",
        [DT_COV_IOMMU_UNSUPPORTED] = "iommu-unsupported",
        [DT_COV_IOMMU_DISABLED] = "iommu-disabled",
};
static const char *const dma_names[] = {
        [DT_DMA_UNKNOWN] = "unknown",
        [DT_DMA_MASTER] = "master",
        [DT_DMA_NONE] = "none",
};
static const char *const irq_class_names[] = {
        [DT_IRQ_SPI] = "spi",
        [DT_IRQ_PPI] = "ppi",
        [DT_IRQ_NOT_GIC] = "not-gic",
};
static const char *const iommu_kind_names[] = {
        [DT_IOMMU_UNSUPPORTED] = "unsupported",
        [DT_IOMMU_SMMU] = "smmu",
        [DT_IOMMU_SMMUV3] = "smmuv3",
        [DT_IOMMU_IPMMU] = "ipmmu",
};

static const char *name_of(const char *const *names, size_t n, int v)
{
        return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int name_lookup(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; s && i < n; i++)
                if (streq(names[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *dt_coverage_to_string(enum dt_coverage c)
{
        return name_of(coverage_names, ARRAY_SIZE(coverage_names), c);
}

int dt_coverage_from_string(const char *s)
{
        return name_lookup(coverage_names, ARRAY_SIZE(coverage_names), s);
}

const char *dt_dma_to_string(enum dt_dma d)
{
        return name_of(dma_names, ARRAY_SIZE(dma_names), d);
}

int dt_dma_from_string(const char *s)
{
        return name_lookup(dma_names, ARRAY_SIZE(dma_names), s);
}

const char *dt_irq_class_to_string(enum dt_irq_class c)
{
        return name_of(irq_class_names, ARRAY_SIZE(irq_class_names), c);
}

int dt_irq_class_from_string(const char *s)
{
        return name_lookup(irq_class_names, ARRAY_SIZE(irq_class_names), s);
}

const char *dt_iommu_kind_to_string(enum dt_iommu_kind k)
{
        return name_of(iommu_kind_names, ARRAY_SIZE(iommu_kind_names), k);
}

int dt_iommu_kind_from_string(const char *s)
{
        return name_lookup(iommu_kind_names, ARRAY_SIZE(iommu_kind_names), s);
}
