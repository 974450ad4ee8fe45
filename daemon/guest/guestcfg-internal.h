/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the modules of guest/ share and nobody outside them needs: Xen's
 * page size, the reserved ranges and relocation windows of Xen's guest
 * memory map (guestcfg-map.c), the per-device comment block that the
 * xl.cfg and ImageBuilder fragments both start with (guestcfg-comment.c),
 * and the rules for host strings in generated files (guestcfg-text.c).
 * Other layers include guestcfg.h only.
 */
#ifndef ASSIGND_GUESTCFG_INTERNAL_H
#define ASSIGND_GUESTCFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestcfg.h"
#include "strbuf.h"

/* Xen maps guest memory in 4 KiB pages (iomem=, memory_mapping, xen,reg). */
#define GUESTCFG_PAGE_SHIFT 12
#define GUESTCFG_PAGE_SIZE (UINT64_C(1) << GUESTCFG_PAGE_SHIFT)

/* A range of guest physical addresses with the name Xen's headers give it. */
struct guestcfg_map_range {
        uint64_t first, last;   /* inclusive */
        const char *name;
};

/* 0, or -EOPNOTSUPP (with *err) for a Xen release whose map is not known. */
int guestcfg_map_check_target(const struct guestcfg_target *t, char **err);

/* The first reserved range of Xen's guest map that [first, last] touches, or NULL. */
const struct guestcfg_map_range *guestcfg_map_clash(uint64_t first, uint64_t last);

/* The free windows relocated devices go to, ascending; *n receives how many. */
const struct guestcfg_map_range *guestcfg_map_windows(size_t *n);

/* The "# path", compatible, protection, regions and interrupts lines of one device. */
void guestcfg_comment_device(struct strbuf *b, const struct guestcfg_device *gd);

/*
 * Host strings in generated files (guestcfg-text.c).  Whether path may be
 * written as a value: "/" and node names of the Devicetree Specification's
 * characters only (letters, digits, , . _ + - @), no empty component.
 */
bool guestcfg_text_path_ok(const char *path);
/* Append s with each byte outside printable ASCII written as \xNN: one line, plain ASCII. */
void guestcfg_text_append(struct strbuf *b, const char *s);
/* The same as a malloc'd string (NULL when out of memory), for messages. */
char *guestcfg_text_escape(const char *s);

#endif
