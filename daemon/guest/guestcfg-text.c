/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host strings in generated files.  Everything a guest's files say about
 * a device comes from the host device tree, which is hostile input: a node
 * named `serial\n"evil="` would otherwise end a comment, or a quoted
 * xl.cfg value, and start a line of its own.  Two rules, one per place:
 *
 * - where a path is a value (xl's dtdev list, ImageBuilder's path list, an
 *   fdtput command line), it must be a device-tree path whose node names
 *   use only the characters the Devicetree Specification allows in them
 *   (letters, digits, "," "." "_" "+" "-", and "@" before the unit
 *   address); anything else is refused, because no escaping is understood
 *   the same way by xl, a shell and Xen's own lookup by path;
 * - where host text is only read by people (comments, the partial DTB's
 *   notes), it is written with every byte outside printable ASCII as
 *   \xNN, so it stays on its line whatever it holds.
 */
#include <stdio.h>
#include <string.h>

#include "guestcfg-internal.h"

static bool node_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr(",._+-@", c) != NULL;
}

bool guestcfg_text_path_ok(const char *path)
{
        size_t component = 0;

        if (!path || path[0] != '/')
                return false;
        if (path[1] == '\0')
                return true;
        for (const char *p = path + 1;; p++) {
                if (*p == '/' || *p == '\0') {
                        if (component == 0)
                                return false;   /* "//" or a trailing "/" */
                        if (*p == '\0')
                                return true;
                        component = 0;
                        continue;
                }
                if (!node_name_char(*p))
                        return false;
                component++;
        }
}

void guestcfg_text_append(struct strbuf *b, const char *s)
{
        const char *run = s;

        for (const char *p = s;; p++) {
                unsigned char c = (unsigned char)*p;

                if (c >= 0x20 && c < 0x7f)
                        continue;
                strbuf_append_len(b, run, (size_t)(p - run));
                if (c == '\0')
                        return;
                strbuf_printf(b, "\\x%02x", c);
                run = p + 1;
        }
}

char *guestcfg_text_escape(const char *s)
{
        struct strbuf b = STRBUF_INIT;
        char *out = NULL;

        guestcfg_text_append(&b, s ? s : "(null)");
        return strbuf_steal(&b, &out) < 0 ? NULL : out;
}
