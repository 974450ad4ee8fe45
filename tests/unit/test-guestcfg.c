/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the guest-side generators on real host trees: the R-Car H3
 * IPMMU-protected DMAC and two of its SCIF/HSCIF UARTs (unprotected), the
 * QEMU virt pl061 GPIO and pl031 RTC, and our own fixture with devices on
 * Xen's guest GIC address.  Every generated DTB is checked the way libxl
 * and dom0less read it (magic, header, size, /passthrough), walked for
 * phandles, compared with the layout, and round-tripped through dtc.
 *
 * The devices come from dt_scan + classify_inventory on the real blobs; a
 * table of what each DTB says (read with dtc) is checked against both the
 * raw blob and the scanner's result first, so the generators are tested on
 * known input.  Refusals that need impossible input use hand-built devices.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdt.h>

#include "classify.h"
#include "guestcfg.h"
#include "testlib.h"

struct fx {
        const char *path;
        const char *compat[4];
        struct dt_region regions[4];
        size_t n_regions;
        uint32_t spis[20];      /* INTIDs */
        uint32_t type;          /* trigger of all of them (the fixtures use one each) */
        size_t n_irqs;
        enum dt_coverage coverage;
        enum dt_dma dma;
};

/* Build a dt_device from a fixture; the strings stay owned by the fixture tables. */
static void make_dev(struct dt_device *d, const struct fx *f)
{
        memset(d, 0, sizeof(*d));
        d->path = (char *)f->path;
        d->compatible = (char **)f->compat;
        d->node_name = strrchr(f->path, '/') + 1;
        d->regions = (struct dt_region *)f->regions;
        d->n_regions = f->n_regions;
        d->irqs = calloc(f->n_irqs ? f->n_irqs : 1, sizeof(*d->irqs));
        for (size_t i = 0; i < f->n_irqs; i++)
                d->irqs[i] = (struct dt_irq){ .cls = DT_IRQ_SPI, .hwirq = f->spis[i], .type = f->type,
                                              .controller = (char *)"/gic" };
        d->n_irqs = f->n_irqs;
        d->coverage = f->coverage;
        d->dma = f->dma;
        d->group = -1;
        d->assignable = true;
}

static void *read_blob(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        void *buf = NULL;
        struct stat st;

        if (!f)
                return NULL;
        if (fstat(fileno(f), &st) == 0 && st.st_size > 0) {
                buf = malloc((size_t)st.st_size);
                if (buf && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
                        free(buf);
                        buf = NULL;
                }
                *len = (size_t)st.st_size;
        }
        fclose(f);
        return buf;
}

static uint64_t get_cells(const fdt32_t *c, int n)
{
        uint64_t v = 0;

        for (int i = 0; i < n; i++)
                v = (v << 32) | fdt32_to_cpu(c[i]);
        return v;
}

/* The fixture must say what the host DT says (root-level 2/2 cells, GIC 3-cell SPIs). */
static void check_fixture(const void *host, const struct fx *f)
{
        int node = fdt_path_offset(host, f->path), len;
        const fdt32_t *reg, *irq;

        CHECK_MSG(node >= 0, "%s not in the host DT", f->path);
        if (node < 0)
                return;
        reg = fdt_getprop(host, node, "reg", &len);
        CHECK_MSG(reg && (size_t)len == f->n_regions * 16, "%s: reg length %d", f->path, len);
        for (size_t i = 0; reg && i < f->n_regions && (size_t)len >= (i + 1) * 16; i++) {
                CHECK_INT(get_cells(&reg[i * 4], 2), f->regions[i].base);
                CHECK_INT(get_cells(&reg[i * 4 + 2], 2), f->regions[i].size);
        }
        irq = fdt_getprop(host, node, "interrupts", &len);
        CHECK_MSG(irq && (size_t)len == f->n_irqs * 12, "%s: interrupts length %d", f->path, len);
        for (size_t i = 0; irq && i < f->n_irqs && (size_t)len >= (i + 1) * 12; i++) {
                CHECK_INT(fdt32_to_cpu(irq[i * 3]), 0);
                CHECK_INT(fdt32_to_cpu(irq[i * 3 + 1]) + 32, f->spis[i]);
                CHECK_INT(fdt32_to_cpu(irq[i * 3 + 2]), f->type);
        }
}

/* Scan and classify a blob; the device table must match what the scanner found. */
static struct dt_inventory *scan(const void *blob, size_t len)
{
        struct dt_inventory *inv = NULL;
        struct classify_tables *t = NULL;
        char *err = NULL;
        int r;

        r = dt_scan(blob, len, &inv, &err);
        CHECK_MSG(r == 0, "dt_scan: %s", err ? err : "");
        free(err);
        if (r < 0)
                return NULL;
        CHECK_INT(classify_tables_new(&t), 0);
        if (t)
                CHECK_INT(classify_inventory(inv, t), 0);
        classify_tables_free(t);
        return inv;
}

static const struct dt_device *scanned(const struct dt_inventory *inv, const struct fx *f)
{
        const struct dt_device *d = inv ? dt_inventory_find(inv, f->path) : NULL;

        CHECK_MSG(d != NULL, "%s not scanned", f->path);
        if (!d)
                return NULL;
        CHECK_INT(d->n_regions, f->n_regions);
        for (size_t i = 0; i < d->n_regions && i < f->n_regions; i++) {
                CHECK_INT(d->regions[i].base, f->regions[i].base);
                CHECK_INT(d->regions[i].size, f->regions[i].size);
        }
        CHECK_INT(d->n_irqs, f->n_irqs);
        for (size_t i = 0; i < d->n_irqs && i < f->n_irqs; i++) {
                CHECK_INT(d->irqs[i].cls, DT_IRQ_SPI);
                CHECK_INT(d->irqs[i].hwirq, f->spis[i]);
                CHECK_INT(d->irqs[i].type, f->type);
        }
        CHECK_MSG(d->coverage == f->coverage, "%s: coverage %s", f->path, dt_coverage_to_string(d->coverage));
        return d;
}

/* Every phandle reference we know how to read must resolve inside the blob. */
static void check_refs(const void *blob, int node, const char *prop, const char *cells_name)
{
        int len;
        const fdt32_t *v = fdt_getprop(blob, node, prop, &len);

        if (!v)
                return;
        for (int i = 0; i < len / 4;) {
                uint32_t ph = fdt32_to_cpu(v[i]);
                int target = fdt_node_offset_by_phandle(blob, ph);
                uint32_t nargs = 0;

                CHECK_MSG(target >= 0, "%s: phandle %u dangles (node %s)", prop, ph, fdt_get_name(blob, node, NULL));
                if (target < 0)
                        return;
                if (cells_name) {
                        const fdt32_t *c = fdt_getprop(blob, target, cells_name, NULL);

                        CHECK_MSG(c != NULL, "%s: target has no %s", prop, cells_name);
                        nargs = c ? fdt32_to_cpu(*c) : 0;
                }
                i += 1 + (int)nargs;
        }
}

static void check_all_phandles(const void *blob)
{
        uint32_t seen[1024];
        size_t n = 0;
        int node;

        for (node = fdt_next_node(blob, -1, NULL); node >= 0; node = fdt_next_node(blob, node, NULL)) {
                uint32_t ph = fdt_get_phandle(blob, node);
                const char *name = fdt_get_name(blob, node, NULL);

                if (ph) {
                        if (streq(name, "gic"))
                                CHECK_INT(ph, GUESTCFG_PHANDLE_GIC);
                        else
                                CHECK_MSG(ph < GUESTCFG_PHANDLE_GIC, "node %s has phandle %u", name, ph);
                        for (size_t i = 0; i < n; i++)
                                CHECK_MSG(seen[i] != ph, "phandle %u used twice", ph);
                        if (n < 1024)
                                seen[n++] = ph;
                }
                CHECK(fdt_getprop(blob, node, "linux,phandle", NULL) == NULL);
                check_refs(blob, node, "interrupt-parent", NULL);
                check_refs(blob, node, "clocks", "#clock-cells");
                check_refs(blob, node, "dmas", "#dma-cells");
                /* Host-only properties never reach the guest. */
                CHECK(fdt_getprop(blob, node, "iommus", NULL) == NULL);
                CHECK(fdt_getprop(blob, node, "power-domains", NULL) == NULL);
                CHECK(fdt_getprop(blob, node, "resets", NULL) == NULL);
                CHECK(fdt_getprop(blob, node, "pinctrl-0", NULL) == NULL);
                CHECK(fdt_getprop(blob, node, "interrupts-extended", NULL) == NULL);
        }
}

/* dtc must read the blob back; skipped (with a message) when dtc is not installed. */
static void check_dtc(const void *blob, size_t len, const char *tag)
{
        char path[] = "/tmp/test-guestcfg-XXXXXX";
        char cmd[512];
        int fd, st;

        if (system("command -v dtc >/dev/null 2>&1") != 0) {
                printf("dtc not found: skipping the dtc round trip of %s\n", tag);
                return;
        }
        fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        CHECK(write(fd, blob, len) == (ssize_t)len);
        close(fd);
        snprintf(cmd, sizeof(cmd), "dtc -q -I dtb -O dts -o /dev/null %s", path);
        st = system(cmd);
        CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "dtc rejected the %s blob", tag);
        unlink(path);
}

/* The checks every generated blob must pass, against the layout it came from. */
static void check_blob(const void *blob, size_t len, const struct guestcfg_layout *l, bool dom0less,
                       const char *tag)
{
        int pt, node, plen;
        const fdt32_t *v;

        CHECK_INT(fdt_magic(blob), FDT_MAGIC);
        CHECK_INT(fdt_check_header(blob), 0);
        CHECK_INT(fdt_totalsize(blob), len);
        CHECK_INT(fdt_check_full(blob, len), 0);
        pt = fdt_path_offset(blob, "/passthrough");
        CHECK(pt >= 0);
        if (pt < 0)
                return;
        CHECK_INT(fdt_node_check_compatible(blob, pt, "simple-bus"), 0);
        v = fdt_getprop(blob, pt, "ranges", &plen);
        CHECK(v != NULL || plen == 0);
        CHECK(fdt_getprop(blob, pt, "ranges", NULL) != NULL);
        CHECK_INT(fdt_address_cells(blob, pt), 2);
        CHECK_INT(fdt_size_cells(blob, pt), 2);
        CHECK(fdt_path_offset(blob, "/gic") >= 0);
        check_all_phandles(blob);

        for (size_t i = 0; i < l->n_devices; i++) {
                const struct guestcfg_device *gd = &l->devices[i];
                const struct dt_device *d = gd->dev;
                char name[128];
                const char *base = d->node_name;
                const char *at = strchr(base, '@');

                snprintf(name, sizeof(name), "%.*s@%" PRIx64, (int)(at - base), base, gd->regions[0].guest);
                node = fdt_subnode_offset(blob, pt, name);
                CHECK_MSG(node >= 0, "%s: no /passthrough/%s", tag, name);
                if (node < 0)
                        continue;
                v = fdt_getprop(blob, node, "interrupt-parent", &plen);
                CHECK(v && plen == 4 && fdt32_to_cpu(*v) == 0xfde8);
                v = fdt_getprop(blob, node, "reg", &plen);
                CHECK(v && (size_t)plen == gd->n_regions * 16);
                for (size_t k = 0; v && k < gd->n_regions; k++) {
                        CHECK_INT(get_cells(&v[k * 4], 2), gd->regions[k].guest);
                        CHECK_INT(get_cells(&v[k * 4 + 2], 2), gd->regions[k].size);
                        CHECK_INT(gd->regions[k].guest & 0xfff, gd->regions[k].host & 0xfff);
                }
                v = fdt_getprop(blob, node, "interrupts", &plen);
                CHECK(v && (size_t)plen == d->n_irqs * 12);
                for (size_t k = 0; v && k < d->n_irqs; k++) {
                        CHECK_INT(fdt32_to_cpu(v[k * 3]), 0);
                        CHECK_INT(fdt32_to_cpu(v[k * 3 + 1]), d->irqs[k].hwirq - 32);
                        CHECK_INT(fdt32_to_cpu(v[k * 3 + 2]), d->irqs[k].type);
                }
                if (!dom0less) {
                        CHECK(fdt_getprop(blob, node, "xen,reg", NULL) == NULL);
                        CHECK(fdt_getprop(blob, node, "xen,path", NULL) == NULL);
                        CHECK(fdt_getprop(blob, node, "xen,force-assign-without-iommu", NULL) == NULL);
                        continue;
                }
                CHECK_STR(fdt_getprop(blob, node, "xen,path", NULL), d->path);
                CHECK_INT(fdt_getprop(blob, node, "xen,force-assign-without-iommu", NULL) != NULL,
                          d->coverage != DT_COV_PROTECTED);
                v = fdt_getprop(blob, node, "xen,reg", &plen);
                CHECK(v && (size_t)plen == gd->n_regions * 24);
                for (size_t k = 0; v && (size_t)plen == gd->n_regions * 24 && k < gd->n_regions; k++) {
                        uint64_t h = gd->regions[k].host;

                        CHECK_INT(get_cells(&v[k * 6], 2), h & ~0xfffull);
                        CHECK_INT(get_cells(&v[k * 6 + 2], 2), ((h + gd->regions[k].size + 0xfff) & ~0xfffull) - (h & ~0xfffull));
                        CHECK_INT(get_cells(&v[k * 6 + 4], 2), gd->regions[k].guest & ~0xfffull);
                }
        }
        check_dtc(blob, len, tag);
}

/* Expected irqs = [...] and iomem = [...] lines, computed from the fixtures. */
static void check_xl_lists(const char *cfg, const struct guestcfg_layout *l)
{
        char want[4096];
        size_t o = 0;

        o += (size_t)snprintf(want + o, sizeof(want) - o, "irqs = [");
        for (size_t i = 0; i < l->n_spis; i++)
                o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%u", i ? ", " : " ", l->spis[i]);
        snprintf(want + o, sizeof(want) - o, " ]\n");
        CHECK_MSG(strstr(cfg, want) != NULL, "missing line: %s", want);

        o = (size_t)snprintf(want, sizeof(want), "iomem = [");
        for (size_t i = 0; i < l->n_mappings; i++)
                o += (size_t)snprintf(want + o, sizeof(want) - o, "%s\"0x%" PRIx64 ",0x%" PRIx64 "@0x%" PRIx64 "\"",
                                      i ? ", " : " ", l->mappings[i].host_pfn, l->mappings[i].nr_pages,
                                      l->mappings[i].guest_pfn);
        snprintf(want + o, sizeof(want) - o, " ]\n");
        CHECK_MSG(strstr(cfg, want) != NULL, "missing line: %s", want);
}

/* Generate both flavours twice; check them and that the bytes repeat. */
static void generate_and_check(const void *host, const struct guestcfg_layout *l, const char *tag,
                               char **ret_notes, void **ret_blob, size_t *ret_len)
{
        for (int dom0less = 0; dom0less < 2; dom0less++) {
                void *a = NULL, *b = NULL;
                size_t la = 0, lb = 0;
                char *na = NULL, *nb = NULL, *err = NULL;
                unsigned flags = dom0less ? GUESTCFG_DOM0LESS : 0;
                int r;

                r = guestcfg_partial_dtb(host, l, flags, &a, &la, &na, &err);
                CHECK_MSG(r == 0, "%s: partial_dtb: %d %s", tag, r, err ? err : "");
                free(err);
                err = NULL;
                if (r < 0)
                        continue;
                check_blob(a, la, l, dom0less, tag);
                r = guestcfg_partial_dtb(host, l, flags, &b, &lb, &nb, &err);
                CHECK_INT(r, 0);
                CHECK(la == lb && b && memcmp(a, b, la) == 0);
                CHECK((na == NULL) == (nb == NULL) && (!na || strcmp(na, nb) == 0));
                free(err);
                free(b);
                free(nb);
                if (!dom0less && ret_blob) {
                        *ret_blob = a;
                        *ret_len = la;
                        *ret_notes = na;
                } else {
                        free(a);
                        free(na);
                }
        }
}

static const struct fx rcar_dmac = {
        "/soc/dma-controller@e6700000", { "renesas,dmac-r8a7795", "renesas,rcar-dmac" },
        { { 0xe6700000, 0x10000 } }, 1,
        { 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247 }, 4, 17,
        DT_COV_PROTECTED, DT_DMA_MASTER,
};
static const struct fx rcar_hscif1 = {
        "/soc/serial@e6550000", { "renesas,hscif-r8a7795", "renesas,rcar-gen3-hscif", "renesas,hscif" },
        { { 0xe6550000, 0x60 } }, 1, { 187 }, 4, 1, DT_COV_NONE, DT_DMA_NONE,
};
/* I2C4: enabled, its DMA channels on the DMAC above, child devices with their own links. */
static const struct fx rcar_i2c4 = {
        "/soc/i2c@e66d8000", { "renesas,i2c-r8a7795", "renesas,rcar-gen3-i2c" },
        { { 0xe66d8000, 0x40 } }, 1, { 51 }, 4, 1, DT_COV_NONE, DT_DMA_UNKNOWN,
};
static const struct fx qemu_pl061 = {
        "/pl061@9030000", { "arm,pl061", "arm,primecell" }, { { 0x9030000, 0x1000 } }, 1, { 39 }, 4, 1,
        DT_COV_NONE, DT_DMA_NONE,
};
static const struct fx qemu_pl031 = {
        "/pl031@9010000", { "arm,pl031", "arm,primecell" }, { { 0x9010000, 0x1000 } }, 1, { 34 }, 4, 1,
        DT_COV_NONE, DT_DMA_NONE,
};
static const struct fx clash_a = {
        "/soc/dev-a@3001000", { "acme,widget" }, { { 0x3001000, 0x100 }, { 0x3003000, 0x1000 } }, 2, { 42 }, 4, 1,
        DT_COV_NONE, DT_DMA_UNKNOWN,
};
static const struct fx clash_b = {
        "/soc/dev-b@3001100", { "acme,widget" }, { { 0x3001100, 0x100 } }, 1, { 43 }, 1, 1,
        DT_COV_NONE, DT_DMA_UNKNOWN,
};

static bool in_window(uint64_t a)
{
        return (a >= 0x04020000 && a <= 0x0fffffff) || (a >= 0x3a000000 && a <= 0x3fffffff);
}

static void free_devs(struct dt_device *d, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(d[i].irqs);
}

static void test_rcar(const char *dir)
{
        char path[4096];
        size_t len = 0;
        void *host;
        struct dt_inventory *inv;
        const struct dt_device *dp[3];
        struct guestcfg_layout *l = NULL;
        char *err = NULL, *notes = NULL, *cfg = NULL;
        void *blob = NULL;
        size_t blen = 0;
        ssize_t which = -2;
        int r;

        snprintf(path, sizeof(path), "%s/r8a77951-salvator-xs.dtb", dir);
        host = read_blob(path, &len);
        CHECK_MSG(host != NULL, "cannot read %s", path);
        if (!host)
                return;
        check_fixture(host, &rcar_dmac);
        check_fixture(host, &rcar_hscif1);
        check_fixture(host, &rcar_i2c4);
        inv = scan(host, len);
        dp[0] = scanned(inv, &rcar_dmac);
        dp[1] = scanned(inv, &rcar_hscif1);
        dp[2] = scanned(inv, &rcar_i2c4);
        if (!dp[0] || !dp[1] || !dp[2])
                goto out;

        /* 1:1 is impossible: R-Car peripherals sit inside GUEST_RAM0; the first one is named. */
        r = guestcfg_layout(dp, 3, GUESTCFG_IDENTITY, NULL, &l, &which, &err);
        CHECK_INT(r, -EADDRINUSE);
        CHECK_INT(which, 0);
        CHECK(l == NULL);
        CHECK_MSG(err && strstr(err, "/soc/dma-controller@e6700000") && strstr(err, "GUEST_RAM0") &&
                  strstr(err, "0xe6700000"), "error: %s", err ? err : "(none)");
        free(err);
        err = NULL;

        r = guestcfg_layout(dp, 3, GUESTCFG_AUTO, NULL, &l, &which, &err);
        CHECK_MSG(r == 0, "auto layout: %s", err ? err : "");
        CHECK_INT(which, -1);
        free(err);
        err = NULL;
        if (r < 0)
                goto out;
        for (size_t i = 0; i < 3; i++) {
                CHECK(l->devices[i].relocated);
                CHECK(in_window(l->devices[i].regions[0].guest));
                CHECK_INT(guestcfg_map_check_range(&l->target, l->devices[i].regions[0].guest,
                                                   l->devices[i].regions[0].size, NULL), 0);
                /* Offset kept modulo 64 KiB. */
                CHECK_INT(l->devices[i].regions[0].guest & 0xffff, l->devices[i].regions[0].host & 0xffff);
        }
        CHECK_INT(l->n_mappings, 3);
        CHECK_INT(l->n_spis, 19);
        generate_and_check(host, l, "r-car", &notes, &blob, &blen);
        if (blob) {
                int pt = fdt_path_offset(blob, "/passthrough"), dmac, i2c, hscif, plen, c;
                char name[64];
                const fdt32_t *v;

                snprintf(name, sizeof(name), "dma-controller@%" PRIx64, l->devices[0].regions[0].guest);
                dmac = fdt_subnode_offset(blob, pt, name);
                snprintf(name, sizeof(name), "i2c@%" PRIx64, l->devices[2].regions[0].guest);
                i2c = fdt_subnode_offset(blob, pt, name);
                snprintf(name, sizeof(name), "serial@%" PRIx64, l->devices[1].regions[0].guest);
                hscif = fdt_subnode_offset(blob, pt, name);
                CHECK(dmac >= 0 && i2c >= 0 && hscif >= 0);
                /* I2C4's DMA goes to the DMAC we hand over too: kept, pointing at the guest copy. */
                v = fdt_getprop(blob, i2c, "dmas", &plen);
                CHECK(v && plen == 16 && fdt_node_offset_by_phandle(blob, fdt32_to_cpu(v[0])) == dmac);
                CHECK(v && fdt32_to_cpu(v[1]) == 0x99 && fdt32_to_cpu(v[3]) == 0x98);
                CHECK(fdt_getprop(blob, i2c, "dma-names", NULL) != NULL);
                /* Children come along; a gpio-hog's gpios are line numbers and stay as they are. */
                c = fdt_subnode_offset(blob, i2c, "gpio@20");
                CHECK(c >= 0);
                c = c >= 0 ? fdt_subnode_offset(blob, c, "pcie-sata-switch-hog") : -1;
                v = c >= 0 ? fdt_getprop(blob, c, "gpios", &plen) : NULL;
                CHECK(v && plen == 8 && fdt32_to_cpu(v[0]) == 7 && fdt32_to_cpu(v[1]) == 0);
                /* The clock generator child's reference clock is the fixed 25 MHz clk-x7. */
                c = fdt_subnode_offset(blob, i2c, "clk@68");
                v = c >= 0 ? fdt_getprop(blob, c, "clocks", &plen) : NULL;
                CHECK(v && plen == 4);
                if (v) {
                        const fdt32_t *f = fdt_getprop(blob, fdt_node_offset_by_phandle(blob, fdt32_to_cpu(*v)),
                                                       "clock-frequency", NULL);

                        CHECK(f && fdt32_to_cpu(*f) == 25000000);
                }
                CHECK(c >= 0 && fdt_getprop(blob, c, "phandle", NULL) == NULL);
                /* The video receiver's interrupts go through a GPIO expander: dropped, said so. */
                CHECK(notes && strstr(notes, "video-receiver@70: interrupts-extended dropped"));
                /* HSCIF1's DMACs stay with the host: dropped, with a note. */
                CHECK(fdt_getprop(blob, hscif, "dmas", NULL) == NULL);
                CHECK(fdt_getprop(blob, hscif, "dma-names", NULL) == NULL);
                CHECK(notes && strstr(notes, "/soc/serial@e6550000: dmas and dma-names dropped"));
                /* scif_clk is a fixed clock (14.7456 MHz): a stand-in; the CPG clocks are not. */
                v = fdt_getprop(blob, hscif, "clocks", &plen);
                CHECK(v && plen == 4);
                if (v) {
                        int ck = fdt_node_offset_by_phandle(blob, fdt32_to_cpu(v[0]));
                        const fdt32_t *f = fdt_getprop(blob, ck, "clock-frequency", NULL);

                        CHECK(ck >= 0 && fdt_node_check_compatible(blob, ck, "fixed-clock") == 0);
                        CHECK(f && fdt32_to_cpu(*f) == 14745600);
                        CHECK(fdt_parent_offset(blob, ck) == pt);
                }
                CHECK_STR(fdt_getprop(blob, hscif, "clock-names", NULL), "scif_clk");
                CHECK(notes && strstr(notes, "clock 0 (\"fck\")"));
                /* The DMAC's only clock is the CPG's: no clocks at all. */
                CHECK(fdt_getprop(blob, dmac, "clocks", NULL) == NULL);
                CHECK(fdt_getprop(blob, dmac, "phandle", NULL) != NULL);
                /* HSCIF1 has no referrer in the set: no phandle. */
                CHECK(fdt_getprop(blob, hscif, "phandle", NULL) == NULL);
                /* serial1 = HSCIF1 in the host's /aliases: re-pointed into /passthrough. */
                snprintf(name, sizeof(name), "/passthrough/serial@%" PRIx64, l->devices[1].regions[0].guest);
                CHECK_STR(fdt_getprop(blob, fdt_path_offset(blob, "/aliases"), "serial1", NULL), name);
        }

        r = guestcfg_xl_config(l, "/etc/xen/guest.dtb", notes, &cfg, &err);
        CHECK_MSG(r == 0, "xl: %s", err ? err : "");
        if (cfg) {
                CHECK(strstr(cfg, "passthrough = \"enabled\"\n") != NULL);
                CHECK(strstr(cfg, "dtdev = [ \"/soc/dma-controller@e6700000\" ]\n") != NULL);
                CHECK(strstr(cfg, "device_tree = \"/etc/xen/guest.dtb\"\n") != NULL);
                CHECK(strstr(cfg, "# nr_spis: xl 4.17 derives it from irqs") != NULL);
                CHECK(strstr(cfg, "nr_spis =") == NULL);
                check_xl_lists(cfg, l);
                free(cfg);
                cfg = NULL;
        }
        {
                struct guestcfg_layout l419 = *l;

                l419.target.xen_minor = 19;
                CHECK_INT(guestcfg_xl_config(&l419, NULL, NULL, &cfg, NULL), 0);
                CHECK(cfg && strstr(cfg, "nr_spis = 216\n") && !strstr(cfg, "device_tree"));
                free(cfg);
                cfg = NULL;
        }
        r = guestcfg_imagebuilder(l, 1, "guest1-passthrough.dtb", "host.dtb", false, &cfg, &err);
        CHECK_INT(r, 0);
        CHECK(cfg && strstr(cfg, "DOMU_PASSTHROUGH_DTB[1]=\"guest1-passthrough.dtb\"\n"));
        CHECK(cfg && strstr(cfg, "DOMU_PASSTHROUGH_PATHS[1]=\"/soc/dma-controller@e6700000 /soc/serial@e6550000 "
                                 "/soc/i2c@e66d8000\"\n"));
        CHECK(cfg && strstr(cfg, "fdtput -t s 'host.dtb' '/soc/serial@e6550000' xen,passthrough ''"));
        /* ImageBuilder builds domU 1 only if NUM_DOMUS is at least 2: raised, never lowered. */
        CHECK(cfg && strstr(cfg, "NUM_DOMUS=$(( ${NUM_DOMUS:-0} > 2 ? ${NUM_DOMUS:-0} : 2 ))\n"));
        CHECK(cfg && !strstr(cfg, "DOMU_DIRECT_MAP"));
        free(cfg);
        cfg = NULL;
        /* Forced unprotected DMA: the domain's RAM must be 1:1. */
        r = guestcfg_imagebuilder(l, 3, "d3.dtb", NULL, true, &cfg, &err);
        CHECK_INT(r, 0);
        CHECK(cfg && strstr(cfg, "DOMU_STATIC_MEM[3]=") && strstr(cfg, "DOMU_DIRECT_MAP[3]=1"));
        free(cfg);
out:
        free(err);
        free(notes);
        free(blob);
        guestcfg_layout_free(l);
        dt_inventory_free(inv);
        free(host);
}

static void test_qemu(const char *dir)
{
        char path[4096];
        size_t len = 0;
        void *host;
        struct dt_inventory *inv;
        const struct dt_device *dp[2];
        struct guestcfg_layout *l = NULL;
        char *err = NULL, *notes = NULL, *cfg = NULL, *cfg2 = NULL;
        void *blob = NULL;
        size_t blen = 0;
        int r;

        snprintf(path, sizeof(path), "%s/qemu-virt-noiommu.dtb", dir);
        host = read_blob(path, &len);
        CHECK_MSG(host != NULL, "cannot read %s", path);
        if (!host)
                return;
        check_fixture(host, &qemu_pl061);
        check_fixture(host, &qemu_pl031);
        inv = scan(host, len);
        dp[0] = scanned(inv, &qemu_pl061);
        dp[1] = scanned(inv, &qemu_pl031);
        if (!dp[0] || !dp[1])
                goto out;

        /* 0x09010000 and 0x09030000 are free in Xen's guest map: 1:1. */
        r = guestcfg_layout(dp, 2, GUESTCFG_IDENTITY, NULL, &l, NULL, &err);
        CHECK_MSG(r == 0, "identity: %s", err ? err : "");
        if (r < 0)
                goto out;
        CHECK(!l->devices[0].relocated && l->devices[0].regions[0].guest == 0x9030000);
        CHECK(!l->devices[1].relocated && l->devices[1].regions[0].guest == 0x9010000);
        generate_and_check(host, l, "qemu", &notes, &blob, &blen);
        if (blob) {
                int a = fdt_path_offset(blob, "/passthrough/pl061@9030000");
                int b = fdt_path_offset(blob, "/passthrough/pl031@9010000");
                const fdt32_t *ca = fdt_getprop(blob, a, "clocks", NULL);
                const fdt32_t *cb = fdt_getprop(blob, b, "clocks", NULL);
                int c = ca ? fdt_node_offset_by_phandle(blob, fdt32_to_cpu(*ca)) : -1;
                const fdt32_t *f = c >= 0 ? fdt_getprop(blob, c, "clock-frequency", NULL) : NULL;

                /* One stand-in apb_pclk for both, at the host's 24 MHz. */
                CHECK(ca && cb && *ca == *cb);
                CHECK(f && fdt32_to_cpu(*f) == 24000000);
                CHECK_STR(fdt_getprop(blob, a, "clock-names", NULL), "apb_pclk");
                CHECK(fdt_getprop(blob, a, "gpio-controller", NULL) != NULL);
                /* pl061's host phandle serves gpio-keys, which stays home. */
                CHECK(fdt_getprop(blob, a, "phandle", NULL) == NULL);
                CHECK(notes == NULL || strstr(notes, "apb_pclk") == NULL);
        }
        r = guestcfg_xl_config(l, "/root/rtc-gpio.dtb", notes, &cfg, &err);
        CHECK_INT(r, 0);
        if (cfg) {
                CHECK(strstr(cfg, "irqs = [ 34, 39 ]\n") != NULL);
                CHECK(strstr(cfg, "iomem = [ \"0x9010,0x1@0x9010\", \"0x9030,0x1@0x9030\" ]\n") != NULL);
                CHECK(strstr(cfg, "passthrough =") == NULL);
                CHECK(strstr(cfg, "dtdev") == NULL);
                CHECK(strstr(cfg, "NOT protected: no IOMMU in front of it; not a DMA master") != NULL);
                check_xl_lists(cfg, l);
                CHECK_INT(guestcfg_xl_config(l, "/root/rtc-gpio.dtb", notes, &cfg2, NULL), 0);
                CHECK(cfg2 && strcmp(cfg, cfg2) == 0);
        }
out:
        free(err);
        free(notes);
        free(cfg);
        free(cfg2);
        free(blob);
        guestcfg_layout_free(l);
        dt_inventory_free(inv);
        free(host);
}

static void test_clash(const char *src_dir)
{
        char dts[4096], cmd[8192];
        char dtb[] = "/tmp/test-guestcfg-clash-XXXXXX";
        size_t len = 0;
        void *host = NULL;
        struct dt_inventory *inv;
        const struct dt_device *dp[2], *mixed[2];
        struct dt_device free_dev;
        struct guestcfg_layout *l = NULL;
        char *err = NULL, *cfg = NULL;
        ssize_t which = -2;
        int fd, st, r;

        if (!src_dir) {
                printf("TEST_SRC_DIR not set: skipping the 0x03001000 fixture\n");
                return;
        }
        if (system("command -v dtc >/dev/null 2>&1") != 0) {
                printf("dtc not found: skipping the 0x03001000 fixture\n");
                return;
        }
        snprintf(dts, sizeof(dts), "%s/data/guestcfg/clash.dts", src_dir);
        fd = mkstemp(dtb);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        close(fd);
        snprintf(cmd, sizeof(cmd), "dtc -q -I dts -O dtb -o %s %s", dtb, dts);
        st = system(cmd);
        CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "dtc failed on %s", dts);
        host = read_blob(dtb, &len);
        unlink(dtb);
        CHECK(host != NULL);
        if (!host)
                return;
        check_fixture(host, &clash_a);
        check_fixture(host, &clash_b);
        inv = scan(host, len);
        dp[0] = scanned(inv, &clash_a);
        dp[1] = scanned(inv, &clash_b);
        if (!dp[0] || !dp[1]) {
                dt_inventory_free(inv);
                free(host);
                return;
        }

        r = guestcfg_layout(dp, 2, GUESTCFG_IDENTITY, NULL, &l, &which, &err);
        CHECK_INT(r, -EADDRINUSE);
        CHECK_INT(which, 0);
        CHECK_MSG(err && strstr(err, "/soc/dev-a@3001000") && strstr(err, "0x3001000") && strstr(err, "GUEST_GICD"),
                  "error: %s", err ? err : "(none)");
        printf("1:1 refusal: %s\n", err ? err : "(none)");
        free(err);
        err = NULL;

        /* Behind a device that fits 1:1 (the pl031's page is free), the clash is named by its index. */
        make_dev(&free_dev, &qemu_pl031);
        mixed[0] = &free_dev;
        mixed[1] = dp[0];
        which = -2;
        r = guestcfg_layout(mixed, 2, GUESTCFG_IDENTITY, NULL, &l, &which, &err);
        CHECK_INT(r, -EADDRINUSE);
        CHECK_INT(which, 1);
        CHECK(l == NULL);
        CHECK_MSG(err && strstr(err, "/soc/dev-a@3001000") && strstr(err, "GUEST_GICD"), "error: %s",
                  err ? err : "(none)");
        free(err);
        err = NULL;
        free_devs(&free_dev, 1);

        r = guestcfg_layout(dp, 2, GUESTCFG_AUTO, NULL, &l, NULL, &err);
        CHECK_MSG(r == 0, "auto: %s", err ? err : "");
        if (r == 0) {
                /* First free 64 KiB-congruent page of the first window, order kept, shared page shared. */
                CHECK(l->devices[0].relocated && l->devices[1].relocated);
                CHECK_INT(l->devices[0].regions[0].guest, 0x04021000);
                CHECK_INT(l->devices[0].regions[1].guest, 0x04023000);
                CHECK_INT(l->devices[1].regions[0].guest, 0x04021100);
                CHECK_INT(l->n_mappings, 2);
                generate_and_check(host, l, "clash", &(char *){ NULL }, NULL, NULL);
                CHECK_INT(guestcfg_xl_config(l, NULL, NULL, &cfg, NULL), 0);
                CHECK(cfg && strstr(cfg, "iomem = [ \"0x3001,0x1@0x4021\", \"0x3003,0x1@0x4023\" ]\n"));
                CHECK(cfg && strstr(cfg, "irqs = [ 42, 43 ]\n"));
                free(cfg);
                guestcfg_layout_free(l);
                l = NULL;
        }
        free(err);
        err = NULL;

        /* Relocate mode moves a device that would fit 1:1 as well. */
        r = guestcfg_layout(dp + 1, 1, GUESTCFG_RELOCATE, NULL, &l, NULL, &err);
        CHECK_INT(r, 0);
        if (l)
                CHECK(l->devices[0].relocated && in_window(l->devices[0].regions[0].guest));
        guestcfg_layout_free(l);
        free(err);
        dt_inventory_free(inv);
        free(host);
}

/* A device too large for the relocation windows (256 MiB of RAM-bank addresses). */
static const struct fx huge_dev = {
        "/huge@40000000", { "acme,huge" }, { { 0x40000000, 0x10000000 } }, 1, { 50 }, 4, 1,
        DT_COV_NONE, DT_DMA_NONE,
};

/*
 * Lay devs out, expecting refusal want_r about devs[want_which] (-1: about
 * no device) with a message holding each string of the NULL-ended list.
 */
static void check_refusal(const struct dt_device *const *devs, size_t n, const struct guestcfg_target *target,
                          int want_r, ssize_t want_which, ...)
{
        struct guestcfg_layout *l = NULL;
        char *err = NULL;
        ssize_t which = -2;
        const char *text;
        va_list ap;

        CHECK_INT(guestcfg_layout(devs, n, GUESTCFG_AUTO, target, &l, &which, &err), want_r);
        CHECK_INT(which, want_which);
        CHECK(l == NULL);
        va_start(ap, want_which);
        while ((text = va_arg(ap, const char *)))
                CHECK_MSG(err && strstr(err, text), "error without \"%s\": %s", text, err ? err : "(none)");
        va_end(ap);
        free(err);
}

/* Refusals that need no host tree, and the index of the device each one names. */
static void test_refusals(void)
{
        struct fx f = qemu_pl031;
        struct dt_device d, ok, huge;
        const struct dt_device *dp[2] = { &d, &d };
        struct guestcfg_layout *l = NULL;
        struct guestcfg_target old = { 4, 16 };
        char *err = NULL;
        ssize_t which = -2;

        make_dev(&d, &f);
        make_dev(&ok, &qemu_pl061);
        make_dev(&huge, &huge_dev);
        /* A duplicate: its second listing is the one named. */
        check_refusal(dp, 2, NULL, -EINVAL, 1, "listed twice", NULL);
        /* An unknown Xen release is about no device. */
        check_refusal(dp, 1, &old, -EOPNOTSUPP, -1, NULL);
        d.irqs[0].cls = DT_IRQ_PPI;
        d.irqs[0].hwirq = 27;
        check_refusal(dp, 1, NULL, -EINVAL, 0, "/pl031@9010000", "PPI", NULL);
        /* An unroutable interrupt behind a device that is fine: the second one is named. */
        d.irqs[0].cls = DT_IRQ_NOT_GIC;
        dp[0] = &ok;
        dp[1] = &d;
        check_refusal(dp, 2, NULL, -EINVAL, 1, "/pl031@9010000", "not the GIC", NULL);
        /* No room to relocate the second device. */
        dp[1] = &huge;
        check_refusal(dp, 2, NULL, -ENOSPC, 1, "/huge@40000000: no room", NULL);
        /* A layout that works names no device. */
        CHECK_INT(guestcfg_layout(dp, 1, GUESTCFG_AUTO, NULL, &l, &which, NULL), 0);
        CHECK_INT(which, -1);
        guestcfg_layout_free(l);
        CHECK_INT(guestcfg_map_check_range(&(struct guestcfg_target){ 4, 17 }, 0x22000000, 0x1000, &err),
                  -EADDRINUSE);
        CHECK(err && strstr(err, "GUEST_PL011"));
        free(err);
        CHECK_INT(guestcfg_map_check_range(&(struct guestcfg_target){ 4, 17 }, 0x09000000, 0x1000, NULL), 0);
        CHECK_INT(guestcfg_mode_from_string("1:1"), GUESTCFG_IDENTITY);
        CHECK_INT(guestcfg_mode_from_string("bogus"), -EINVAL);
        free_devs(&d, 1);
        free_devs(&ok, 1);
        free_devs(&huge, 1);
}

int main(void)
{
        const char *dir = getenv("SHARED_DTB_DIR");
        char probe[4096];

        if (!dir)
                TEST_SKIP("SHARED_DTB_DIR not set");
        snprintf(probe, sizeof(probe), "%s/r8a77951-salvator-xs.dtb", dir);
        if (access(probe, R_OK) != 0)
                TEST_SKIP("%s not readable: the shared DTBs are missing", probe);

        test_refusals();
        test_rcar(dir);
        test_qemu(dir);
        test_clash(getenv("TEST_SRC_DIR"));
        return test_done();
}
