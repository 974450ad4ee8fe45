/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text formatting for assignctl's human output (a field the daemon leaves
 * out or sets to null shows as "-", it never crashes the client: the
 * accessors of jv.h fall back), one-cell summaries of a device for the
 * list table, and the table itself, which sizes columns to their content and
 * squeezes chosen columns only when a terminal is too narrow.
 *
 * Widths are counted in UTF-8 code points so that non-ASCII text in notes
 * or reasons does not break the alignment of ASCII columns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strbuf.h"

const char *short_name(const char *path)
{
        const char *slash;

        if (!path)
                return "?";
        slash = strrchr(path, '/');
        return slash && slash[1] ? slash + 1 : path;
}

/* The built string, or "-" when nothing was added (NULL only when out of memory). */
static char *sb_finish(struct strbuf *b)
{
        char *s = NULL;

        if (strbuf_steal(b, &s) < 0)
                return NULL;
        if (!*s) {
                free(s);
                return strdup("-");
        }
        return s;
}

/* ---- device summaries ----------------------------------------------------- */

char *fmt_regions_short(struct json_object *dev)
{
        struct json_object *regions = jv_get_array(dev, "regions");
        struct strbuf b = STRBUF_INIT;
        size_t n = regions ? json_object_array_length(regions) : 0;

        if (n > 0) {
                struct json_object *r = json_object_array_get_idx(regions, 0);

                strbuf_printf(&b, "0x%" PRIx64 "+0x%" PRIx64, (uint64_t)jv_get_int(r, "base", 0),
                          (uint64_t)jv_get_int(r, "size", 0));
                if (n > 1)
                        strbuf_printf(&b, " +%zu more", n - 1);
        }
        return sb_finish(&b);
}

static int cmp_int64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

/* Append sorted numbers with runs of consecutive ones folded ("64-79"). */
static void sb_runs(struct strbuf *b, int64_t *v, size_t n, const char *prefix)
{
        size_t i, j;

        qsort(v, n, sizeof(*v), cmp_int64);
        for (i = 0; i < n; i = j + 1) {
                j = i;
                while (j + 1 < n && v[j + 1] == v[j] + 1)
                        j++;
                if (j > i)
                        strbuf_printf(b, "%s%s%" PRId64 "-%" PRId64, b->len ? "," : "", prefix, v[i], v[j]);
                else
                        strbuf_printf(b, "%s%s%" PRId64, b->len ? "," : "", prefix, v[i]);
        }
}

/*
 * SPIs as hardware IRQ numbers (what xl's irqs= takes), runs of consecutive
 * numbers folded ("64-79") because DMA engines carry a dozen or more; PPIs
 * and non-GIC interrupts are shown by kind since neither can be routed.
 */
char *fmt_spis_short(struct json_object *dev)
{
        struct json_object *irqs = jv_get_array(dev, "interrupts");
        size_t n = irqs ? json_object_array_length(irqs) : 0;
        size_t n_spi = 0, n_ppi = 0, n_not_gic = 0, i;
        struct strbuf b = STRBUF_INIT;
        int64_t *spi, *ppi;

        spi = calloc(n ? n : 1, sizeof(*spi));
        ppi = calloc(n ? n : 1, sizeof(*ppi));
        if (!spi || !ppi) {
                free(spi);
                free(ppi);
                return NULL;
        }
        for (i = 0; i < n; i++) {
                struct json_object *irq = json_object_array_get_idx(irqs, i);
                const char *cls = jv_get_str(irq, "class", "?");

                if (streq(cls, "spi"))
                        spi[n_spi++] = jv_get_int(irq, "hwirq", -1);
                else if (streq(cls, "ppi"))
                        ppi[n_ppi++] = jv_get_int(irq, "hwirq", -1);
                else if (streq(cls, "not-gic"))
                        n_not_gic++;
        }
        sb_runs(&b, spi, n_spi, "");
        sb_runs(&b, ppi, n_ppi, "ppi:");
        free(spi);
        free(ppi);
        if (n_not_gic == 1)
                strbuf_printf(&b, "%snot-gic", b.len ? "," : "");
        else if (n_not_gic > 1)
                strbuf_printf(&b, "%snot-gic(%zu)", b.len ? "," : "", n_not_gic);
        return sb_finish(&b);
}

/* Members' short names when they fit a narrow column, else how many there are. */
#define GROUP_NAMES_MAX 28

char *fmt_group_short(struct json_object *dev)
{
        struct json_object *group = jv_get_array(dev, "group");
        size_t n = group ? json_object_array_length(group) : 0, i;
        struct strbuf b = STRBUF_INIT;

        for (i = 0; i < n; i++) {
                const char *p = json_object_get_string(json_object_array_get_idx(group, i));

                strbuf_printf(&b, "%s%s", i ? "," : "", short_name(p));
        }
        if (!b.oom && b.len > GROUP_NAMES_MAX) {
                b.len = 0;
                strbuf_printf(&b, "%zu others", n);
        }
        return sb_finish(&b);
}

char *fmt_owner(struct json_object *owner)
{
        const char *domain = jv_get_str(owner, "domain", NULL);
        const char *state = jv_get_str(owner, "state", "?");
        int64_t domid = jv_get_int(owner, "domid", -1);
        struct strbuf b = STRBUF_INIT;

        if (!owner)
                return strdup("-");
        if (domain && domid >= 0)
                strbuf_printf(&b, "%s (domid %" PRId64 ", %s)", domain, domid, state);
        else if (domain)
                strbuf_printf(&b, "%s (no domid yet, %s)", domain, state);
        else if (domid >= 0)
                strbuf_printf(&b, "domid %" PRId64 " (%s)", domid, state);
        else
                strbuf_printf(&b, "unknown domain (%s)", state);
        return sb_finish(&b);
}

char *fmt_owner_or_reason(struct json_object *dev)
{
        struct json_object *owner = jv_get_object(dev, "owner");
        const char *reason;

        if (owner) {
                char *o = fmt_owner(owner), *s;

                if (!o)
                        return NULL;
                s = NULL;
                if (asprintf(&s, "held by %s", o) < 0)
                        s = NULL;
                free(o);
                return s;
        }
        reason = jv_get_str(dev, "reason", NULL);
        if (!jv_get_bool(dev, "assignable", true) && reason)
                return strdup(reason);
        if (!jv_get_bool(dev, "assignable", true))
                return strdup("not assignable");
        return strdup("-");
}

char *fmt_duration(int64_t seconds)
{
        struct strbuf b = STRBUF_INIT;
        int64_t d, h, m, s;

        if (seconds < 0)
                return strdup("?");
        d = seconds / 86400;
        h = seconds / 3600 % 24;
        m = seconds / 60 % 60;
        s = seconds % 60;
        if (d)
                strbuf_printf(&b, "%" PRId64 "d %02" PRId64 "h %02" PRId64 "m", d, h, m);
        else if (h)
                strbuf_printf(&b, "%" PRId64 "h %02" PRId64 "m %02" PRId64 "s", h, m, s);
        else if (m)
                strbuf_printf(&b, "%" PRId64 "m %02" PRId64 "s", m, s);
        else
                strbuf_printf(&b, "%" PRId64 "s", s);
        return sb_finish(&b);
}

char *fmt_time(int64_t epoch)
{
        char buf[64];
        struct tm tm;
        time_t t = (time_t)epoch;

        if (epoch < 0 || !localtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                return strdup("?");
        return strdup(buf);
}

/* ---- table ---------------------------------------------------------------- */

struct table {
        size_t n_cols;
        char **headers;
        char **cells;           /* n_rows * n_cols */
        size_t n_rows;
        size_t cap_rows;
        size_t *min_width;      /* 0: not squeezable */
        bool *keep_tail;
        size_t *squeeze_order;  /* columns in the order they give up width */
        size_t n_squeeze;
};

/* Code points in a UTF-8 string: every byte that is not a continuation byte. */
static size_t u8_width(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

/* Byte offset of the code point with index cp (or the string's end). */
static size_t u8_offset(const char *s, size_t cp)
{
        size_t i = 0, n = 0;

        while (s[i]) {
                if (((unsigned char)s[i] & 0xc0) != 0x80) {
                        if (n == cp)
                                return i;
                        n++;
                }
                i++;
        }
        return i;
}

struct table *table_new(size_t n_cols, const char *const *headers)
{
        struct table *t;
        size_t i;

        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_cols = n_cols;
        t->headers = calloc(n_cols, sizeof(char *));
        t->min_width = calloc(n_cols, sizeof(size_t));
        t->keep_tail = calloc(n_cols, sizeof(bool));
        t->squeeze_order = calloc(n_cols, sizeof(size_t));
        if (!t->headers || !t->min_width || !t->keep_tail || !t->squeeze_order)
                goto fail;
        for (i = 0; i < n_cols; i++) {
                t->headers[i] = strdup(headers[i]);
                if (!t->headers[i])
                        goto fail;
        }
        return t;
fail:
        table_free(t);
        return NULL;
}

int table_add_row(struct table *t, const char *const *cells)
{
        size_t i;

        if (t->n_rows == t->cap_rows) {
                size_t ncap = t->cap_rows ? t->cap_rows * 2 : 32;
                char **p = realloc(t->cells, ncap * t->n_cols * sizeof(char *));

                if (!p)
                        return -ENOMEM;
                t->cells = p;
                t->cap_rows = ncap;
        }
        for (i = 0; i < t->n_cols; i++) {
                char *c = strdup(cells[i] ? cells[i] : "-");

                if (!c) {
                        while (i-- > 0)
                                free(t->cells[t->n_rows * t->n_cols + i]);
                        return -ENOMEM;
                }
                t->cells[t->n_rows * t->n_cols + i] = c;
        }
        t->n_rows++;
        return 0;
}

void table_set_squeeze(struct table *t, size_t col, size_t min_width, bool keep_tail)
{
        if (col >= t->n_cols || t->min_width[col] || min_width == 0)
                return;
        t->min_width[col] = min_width;
        t->keep_tail[col] = keep_tail;
        t->squeeze_order[t->n_squeeze++] = col;
}

static void print_cell(FILE *f, const char *s, size_t width, bool keep_tail, bool pad)
{
        size_t w = u8_width(s), k;

        if (w > width) {
                if (width <= 3) {
                        fprintf(f, "%.*s", (int)u8_offset(s, width), s);
                } else if (keep_tail) {
                        k = u8_offset(s, w - (width - 3));
                        fprintf(f, "...%s", s + k);
                } else {
                        k = u8_offset(s, width - 3);
                        fprintf(f, "%.*s...", (int)k, s);
                }
                w = width;
        } else {
                fputs(s, f);
        }
        if (pad)
                for (; w < width; w++)
                        fputc(' ', f);
}

#define TABLE_GAP 2

void table_print(struct table *t, FILE *f, size_t width)
{
        size_t *w, total = 0, i, r;

        w = calloc(t->n_cols, sizeof(size_t));
        if (!w)
                return;
        for (i = 0; i < t->n_cols; i++) {
                w[i] = u8_width(t->headers[i]);
                for (r = 0; r < t->n_rows; r++) {
                        size_t cw = u8_width(t->cells[r * t->n_cols + i]);

                        if (cw > w[i])
                                w[i] = cw;
                }
                total += w[i] + (i ? TABLE_GAP : 0);
        }

        /*
         * Squeeze columns in the order they were declared, each down to its
         * minimum before the next one gives anything; if the minimums still
         * do not fit, the terminal wraps rather than the table losing more.
         */
        for (i = 0; i < t->n_squeeze && width > 0 && total > width; i++) {
                size_t col = t->squeeze_order[i], cut;

                if (w[col] <= t->min_width[col])
                        continue;
                cut = w[col] - t->min_width[col];
                if (cut > total - width)
                        cut = total - width;
                w[col] -= cut;
                total -= cut;
        }

        for (r = 0; r <= t->n_rows; r++) {
                for (i = 0; i < t->n_cols; i++) {
                        const char *s = r == 0 ? t->headers[i] : t->cells[(r - 1) * t->n_cols + i];

                        if (i)
                                fprintf(f, "%*s", TABLE_GAP, "");
                        print_cell(f, s, w[i], t->keep_tail[i], i + 1 < t->n_cols);
                }
                fputc('\n', f);
        }
        free(w);
}

void table_free(struct table *t)
{
        size_t i;

        if (!t)
                return;
        for (i = 0; t->headers && i < t->n_cols; i++)
                free(t->headers[i]);
        for (i = 0; t->cells && i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->headers);
        free(t->cells);
        free(t->min_width);
        free(t->keep_tail);
        free(t->squeeze_order);
        free(t);
}
