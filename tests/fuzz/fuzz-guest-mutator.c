/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A libFuzzer custom mutator for fuzz-guest: most byte-level mutations of
 * a DTB break its structure and stop at the scanner's first check, so two
 * times in three the input is edited as a device tree instead (with
 * libfdt's read-write API): a node renamed to hostile bytes, a compatible,
 * reg, interrupts, status or phandle list rewritten, a property with a
 * hostile name added, a child node added, a property deleted.  The result
 * is packed and stays a valid blob, so the generators see it.  The third
 * time libFuzzer's own mutation runs.  Only the libFuzzer build links this
 * file; the replay program feeds inputs as they are.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "dt.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* Names and strings that have broken, or would break, a generated file or a reader. */
static const char *const hostile[] = {
        "serial\n\"evil=\"", "uart\xff\xfe@1000", "gpio$(reboot)@2000", "i2c 'q' \"x\"@3000",
        "a\\b", "x`id`", "dev\r\nnr_spis = 1", "\x1b[2J", "caf\xc3\xa9@4000", "\xed\xa0\x80",
        "#comment", "dev@", "@", "a/b", "", " ", "dev@9000000", "passthrough", "arm,pl011",
        "arm,pl061", "arm,pl031", "arm,primecell", "arm,mmu-500", "simple-bus", "okay",
        "disabled", "fixed-clock", "xen,passthrough",
};

static const char *const prop_names[] = {
        "compatible", "reg", "interrupts", "interrupts-extended", "interrupt-parent", "status",
        "clocks", "clock-names", "iommus", "dmas", "power-domains", "ranges",
        "#address-cells", "#size-cells", "#interrupt-cells", "#clock-cells", "phandle",
        "pinctrl-0", "pinctrl-\x1b[2J", "xen,passthrough", "gpios", "reset-gpios",
        "vdd-supply", "memory-region", "label",
};

static uint32_t next(uint32_t *s)
{
        *s = *s * 1103515245u + 12345u;
        return *s >> 8;
}

static const char *pick_string(uint32_t *s, char *scratch, size_t cap)
{
        size_t n;

        if (next(s) % 4)
                return hostile[next(s) % (sizeof(hostile) / sizeof(hostile[0]))];
        /* Random bytes without NUL: what a corrupted name could be. */
        n = 1 + next(s) % (cap - 1);
        for (size_t i = 0; i < n; i++)
                scratch[i] = (char)(1 + next(s) % 255);
        scratch[n] = '\0';
        return scratch;
}

static int pick_node(const void *fdt, uint32_t *s)
{
        int count = 0, off, depth = 0, want;

        for (off = fdt_next_node(fdt, -1, &depth); off >= 0; off = fdt_next_node(fdt, off, &depth))
                count++;
        if (count == 0)
                return -1;
        want = (int)(next(s) % (uint32_t)count);
        depth = 0;
        for (off = fdt_next_node(fdt, -1, &depth); off >= 0 && want > 0;
             off = fdt_next_node(fdt, off, &depth))
                want--;
        return off;
}

static int set_cells(void *fdt, int node, const char *name, uint32_t *s)
{
        fdt32_t cells[12];
        size_t n = next(s) % 12;

        for (size_t i = 0; i < n; i++) {
                uint32_t v = next(s);

                /* Mostly plausible values: small numbers, SPI types, addresses in a window. */
                switch (v % 4) {
                case 0:
                        v %= 4;
                        break;
                case 1:
                        v = 32 + v % 1000;
                        break;
                case 2:
                        v = 0x09000000u + (v % 0x100) * 0x1000u;
                        break;
                default:
                        break;
                }
                cells[i] = cpu_to_fdt32(v);
        }
        return fdt_setprop(fdt, node, name, cells, (int)(n * sizeof(cells[0])));
}

static int set_strings(void *fdt, int node, const char *name, uint32_t *s)
{
        char list[256], scratch[24];
        size_t len = 0, n = 1 + next(s) % 3;

        for (size_t i = 0; i < n; i++) {
                const char *v = pick_string(s, scratch, sizeof(scratch));
                size_t l = strlen(v) + 1;

                if (len + l > sizeof(list))
                        break;
                memcpy(list + len, v, l);
                len += l;
        }
        return fdt_setprop(fdt, node, name, list, (int)len);
}

static int mutate_tree(void *fdt, uint32_t *s)
{
        char scratch[24];
        const char *status;
        int node = pick_node(fdt, s), prop;

        if (node < 0)
                return -1;
        switch (next(s) % 9) {
        case 0:
                return node == 0 ? -1 : fdt_set_name(fdt, node, pick_string(s, scratch, sizeof(scratch)));
        case 1:
                return set_strings(fdt, node, "compatible", s);
        case 2:
                return set_cells(fdt, node, "reg", s);
        case 3:
                return set_cells(fdt, node, next(s) % 2 ? "interrupts" : "interrupts-extended", s);
        case 4:
                /* fdt_setprop_string() reads its value twice: pick it once. */
                status = next(s) % 2 ? "okay" : "disabled";
                return fdt_setprop_string(fdt, node, "status", status);
        case 5:
                return set_cells(fdt, node, prop_names[next(s) % (sizeof(prop_names) /
                                                                 sizeof(prop_names[0]))], s);
        case 6:
                return set_strings(fdt, node, pick_string(s, scratch, sizeof(scratch)), s);
        case 7:
                return fdt_add_subnode(fdt, node, pick_string(s, scratch, sizeof(scratch)));
        default:
                prop = fdt_first_property_offset(fdt, node);
                if (prop < 0)
                        return -1;
                {
                        const char *name = NULL;

                        if (!fdt_getprop_by_offset(fdt, prop, &name, NULL) || !name)
                                return -1;
                        return fdt_delprop(fdt, node, name);
                }
        }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
        uint32_t s = seed;
        void *fdt;
        size_t out;

        /*
         * libfdt's read-write functions trust the structure (fdt_open_into
         * on a blob whose header lies does a negative-sized memmove): only
         * a blob the scanner's own check accepts is edited as a tree.  Not
         * fdt_check_full alone: on some blobs libfdt 1.6.1's checker itself
         * loops or reads a NULL name, which dt_check_blob guards against.
         */
        if (next(&s) % 3 == 0 || dt_check_blob(data, size, NULL) < 0)
                return LLVMFuzzerMutate(data, size, max_size);
        fdt = malloc(max_size);
        if (!fdt)
                return LLVMFuzzerMutate(data, size, max_size);
        if (fdt_open_into(data, fdt, (int)max_size) != 0) {
                free(fdt);
                return LLVMFuzzerMutate(data, size, max_size);
        }
        for (unsigned k = 1 + next(&s) % 3; k > 0; k--)
                mutate_tree(fdt, &s);
        if (fdt_pack(fdt) != 0 || fdt_totalsize(fdt) > max_size) {
                free(fdt);
                return LLVMFuzzerMutate(data, size, max_size);
        }
        out = fdt_totalsize(fdt);
        memcpy(data, fdt, out);
        free(fdt);
        return out;
}
