/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The partial device tree of a layout: /passthrough with a copy of each
 * host device node (reg rewritten to guest addresses, interrupts on the
 * guest GIC, host-only links dropped or replaced by stand-in fixed clocks),
 * /aliases re-pointed at the copies, and a /gic stand-in; with
 * GUESTCFG_DOM0LESS the nodes also carry xen,reg, xen,path and, for
 * unprotected devices, xen,force-assign-without-iommu.
 *
 * The blob is written with libfdt's sequential-write API, which makes the
 * output a pure function of the inputs: nodes and properties come out in
 * the order of the layout and of the host node, phandles are numbered from
 * 1 in that order.  See guestcfg.h for the Xen facts this relies on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "guestcfg-internal.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

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

/*
 * One line of the notes.  Paths and property names in it come from the
 * host DT, and the notes go to the caller, into xl.cfg comments and into
 * logs: the line is escaped (guestcfg-text.c) so that it stays one line.
 */
_printf_(3, 4) static void note(struct gen *g, const char *path, const char *fmt, ...)
{
        _cleanup_(strbuf_clear) struct strbuf line = STRBUF_INIT;
        va_list ap;

        strbuf_printf(&line, "%s: ", path);
        va_start(ap, fmt);
        strbuf_vprintf(&line, fmt, ap);
        va_end(ap);
        if (line.oom)
                g->notes.oom = true;
        else
                guestcfg_text_append(&g->notes, strbuf_str(&line));
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
                        uint64_t hp = gd->regions[i].host & ~(GUESTCFG_PAGE_SIZE - 1);
                        uint64_t gp = gd->regions[i].guest & ~(GUESTCFG_PAGE_SIZE - 1);
                        uint64_t end = (gd->regions[i].host + gd->regions[i].size + GUESTCFG_PAGE_SIZE - 1) &
                                       ~(GUESTCFG_PAGE_SIZE - 1);
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
