/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a generated guest file must be, whatever the host device tree held
 * (the oracle of fuzz-guest and of the hostile-name tests):
 *
 * - xl.cfg: every line is empty, a comment of printable ASCII, or
 *   `key = value` with a key xl knows and assignd writes (each at most
 *   once), and a value that is a number, a double-quoted string without
 *   quote, backslash or control character, or a one-line list of those;
 * - ImageBuilder: every line is empty, a comment of printable ASCII, or
 *   `DOMU_PASSTHROUGH_DTB[n]="..."` / `DOMU_PASSTHROUGH_PATHS[n]="..."`
 *   with nothing a shell would expand or end the quotes on;
 * - the partial DTB's notes: lines of printable ASCII;
 * - every DTB: fdt_check_full() accepts it and its totalsize is its size.
 *
 * Each check returns 0, or -1 with *why (malloc'd) naming the line.
 */
#ifndef ASSIGND_GEN_ORACLE_H
#define ASSIGND_GEN_ORACLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "utf8.h"

static inline int oracle_fail(char **why, const char *fmt, ...)
{
        va_list ap;

        if (why && !*why) {
                va_start(ap, fmt);
                if (vasprintf(why, fmt, ap) < 0)
                        *why = NULL;
                va_end(ap);
        }
        return -1;
}

static inline bool oracle_printable(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
                        return false;
        return true;
}

/* Length of the xl string or number at s (0 if neither); s[len] must then end the item. */
static inline size_t oracle_xl_atom(const char *s, size_t n)
{
        size_t i = 0;

        if (n && s[0] == '"') {
                for (i = 1; i < n && s[i] != '"'; i++)
                        if (s[i] == '\\')
                                return 0;
                if (i >= n)
                        return 0;
                /* The text between the quotes: UTF-8 without control characters. */
                if (utf8_control_at(s + 1, i - 1) != i - 1)
                        return 0;
                return i + 1;
        }
        if (n > 2 && s[0] == '0' && s[1] == 'x') {
                for (i = 2; i < n && strchr("0123456789abcdef", s[i]); i++)
                        ;
                return i > 2 ? i : 0;
        }
        for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                ;
        return i;
}

/* An xl value: atom, or "[ atom, atom ... ]" on one line. */
static inline bool oracle_xl_value(const char *s, size_t n)
{
        size_t i, k;

        if (n == 0)
                return false;
        if (s[0] != '[')
                return oracle_xl_atom(s, n) == n;
        if (n < 4 || s[1] != ' ' || s[n - 2] != ' ' || s[n - 1] != ']')
                return false;
        for (i = 2;;) {
                k = oracle_xl_atom(s + i, n - 2 - i);
                if (k == 0)
                        return false;
                i += k;
                if (i == n - 2)
                        return true;
                if (n - 2 - i < 2 || s[i] != ',' || s[i + 1] != ' ')
                        return false;
                i += 2;
        }
}

static inline int oracle_xl_config(const char *text, char **why)
{
        static const char *const keys[] = {
                "name", "passthrough", "dtdev", "irqs", "iomem", "nr_spis", "device_tree",
        };
        bool seen[sizeof(keys) / sizeof(keys[0])] = { false };
        unsigned line = 0;

        if (!text)
                return oracle_fail(why, "xl.cfg: no text");
        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t)(nl - p) : strlen(p);
                const char *eq;
                size_t k;
                bool known = false;

                line++;
                if (!nl)
                        return oracle_fail(why, "xl.cfg line %u: no newline at the end", line);
                if (n == 0 || p[0] == '#') {
                        if (!oracle_printable(p, n))
                                return oracle_fail(why, "xl.cfg line %u: not printable ASCII",
                                                   line);
                        p = nl + 1;
                        continue;
                }
                eq = memchr(p, '=', n);
                if (!eq || eq - p < 2 || eq[-1] != ' ' || (size_t)(eq - p) + 2 > n ||
                    eq[1] != ' ')
                        return oracle_fail(why, "xl.cfg line %u: not \"key = value\"", line);
                k = (size_t)(eq - p) - 1;
                for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                        if (strlen(keys[i]) == k && memcmp(keys[i], p, k) == 0) {
                                if (seen[i])
                                        return oracle_fail(why, "xl.cfg line %u: %s set twice",
                                                           line, keys[i]);
                                seen[i] = known = true;
                        }
                if (!known)
                        return oracle_fail(why, "xl.cfg line %u: unknown key", line);
                if (!oracle_xl_value(eq + 2, n - k - 3))
                        return oracle_fail(why, "xl.cfg line %u: the value does not parse",
                                           line);
                p = nl + 1;
        }
        return 0;
}

/*
 * The one line that is not NAME[n]="...": raising NUM_DOMUS to n + 1,
 * "NUM_DOMUS=$(( ${NUM_DOMUS:-0} > N ? ${NUM_DOMUS:-0} : N ))", N digits.
 */
static inline bool oracle_num_domus(const char *p, size_t n)
{
        static const char *const part[] = { "NUM_DOMUS=$(( ${NUM_DOMUS:-0} > ",
                                            " ? ${NUM_DOMUS:-0} : ", " ))" };
        size_t at = 0;

        for (size_t k = 0; k < 3; k++) {
                size_t l = strlen(part[k]), d = at;

                if (k > 0) {
                        while (d < n && p[d] >= '0' && p[d] <= '9')
                                d++;
                        if (d == at)
                                return false;
                }
                if (n - d < l || memcmp(p + d, part[k], l) != 0)
                        return false;
                at = d + l;
        }
        return at == n;
}

static inline int oracle_imagebuilder(const char *text, char **why)
{
        static const char *const keys[] = { "DOMU_PASSTHROUGH_DTB[", "DOMU_PASSTHROUGH_PATHS[" };
        unsigned line = 0;

        if (!text)
                return oracle_fail(why, "ImageBuilder: no text");
        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t)(nl - p) : strlen(p), i = 0;
                bool ok = false;

                line++;
                if (!nl)
                        return oracle_fail(why, "ImageBuilder line %u: no newline at the end",
                                           line);
                if (n == 0 || p[0] == '#') {
                        if (!oracle_printable(p, n))
                                return oracle_fail(why, "ImageBuilder line %u: not printable "
                                                   "ASCII", line);
                        p = nl + 1;
                        continue;
                }
                if (oracle_num_domus(p, n)) {
                        p = nl + 1;
                        continue;
                }
                for (size_t j = 0; j < 2 && !ok; j++) {
                        size_t kl = strlen(keys[j]);

                        if (n <= kl || memcmp(p, keys[j], kl) != 0)
                                continue;
                        for (i = kl; i < n && p[i] >= '0' && p[i] <= '9'; i++)
                                ;
                        ok = i > kl && i + 3 <= n && memcmp(p + i, "]=\"", 3) == 0 &&
                             p[n - 1] == '"' && n >= i + 4;
                }
                if (!ok)
                        return oracle_fail(why, "ImageBuilder line %u: not NAME[n]=\"...\"",
                                           line);
                for (size_t j = i + 3; j < n - 1; j++)
                        if ((unsigned char)p[j] < 0x20 || (unsigned char)p[j] >= 0x7f ||
                            strchr("\"\\$`'", p[j]))
                                return oracle_fail(why, "ImageBuilder line %u: a shell would "
                                                   "read byte 0x%02x", line,
                                                   (unsigned char)p[j]);
                p = nl + 1;
        }
        return 0;
}

static inline int oracle_notes(const char *notes, char **why)
{
        if (!notes)
                return 0;
        for (const char *p = notes; *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t)(nl - p) : strlen(p);

                if (!oracle_printable(p, n))
                        return oracle_fail(why, "a note is not printable ASCII");
                p += n + (nl ? 1 : 0);
        }
        return 0;
}

static inline int oracle_dtb(const void *blob, size_t len, char **why)
{
        int r;

        if (!blob || len < sizeof(struct fdt_header))
                return oracle_fail(why, "DTB: %zu bytes", len);
        r = fdt_check_full(blob, len);
        if (r)
                return oracle_fail(why, "DTB: fdt_check_full: %s", fdt_strerror(r));
        if (fdt_totalsize(blob) != len)
                return oracle_fail(why, "DTB: totalsize %u for %zu bytes", fdt_totalsize(blob),
                                   len);
        return 0;
}

#endif
