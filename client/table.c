/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl's tables (see table.h): columns a command declares once, the
 * set a user picks with -o, and printing that fits the width it is given.
 *
 * This is not libsmartcols because of how a cell is shortened: smartcols
 * cuts a truncated cell at its end, with no hook to shorten it to the width
 * it settles on, and the end of a device-tree path is the unit address,
 * the one part that tells "/soc/serial@9000000" from "/soc/serial@9010000".
 * Here a path keeps its last component ("/soc/.../serial@9000000", or the
 * node name alone) and a list of paths shrinks to node names first.
 *
 * Widths are counted in UTF-8 code points so that non-ASCII text in notes
 * or reasons does not break the alignment of the ASCII columns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "strbuf.h"

/* Spaces between columns. */
#define TABLE_GAP 1
/* Narrowest a squeezed column gets once every column is at its minimum. */
#define TABLE_FLOOR 3

struct table {
        const struct table_column *cols;
        size_t n_cols;
        size_t *shown;          /* indices of the columns printed, in order */
        size_t n_shown;
        char **cells;           /* n_rows * n_cols */
        size_t n_rows;
        size_t cap_rows;
};

/* ---- UTF-8 ------------------------------------------------------------------- */

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

/* ---- shortening a cell ----------------------------------------------------------- */

/* The first code points of s and "..." in width w. */
static void cut_end(struct strbuf *b, const char *s, size_t w)
{
        if (u8_width(s) <= w) {
                strbuf_append(b, s);
        } else if (w <= 3) {
                strbuf_append_len(b, s, u8_offset(s, w));
        } else {
                strbuf_append_len(b, s, u8_offset(s, w - 3));
                strbuf_append(b, "...");
        }
}

static bool is_ascii(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s >= 0x80)
                        return false;
        return true;
}

/*
 * path[0..end) shortened to fit room with the "..." that follows it:
 * whole leading components and "/..." ("/soc/..."), else at least six
 * characters and "..." ("/reserved-m..."), else "..." alone.
 */
static void path_head(struct strbuf *b, const char *path, size_t end, size_t room)
{
        size_t whole = 0;

        for (size_t i = 1; i < end && i + 4 <= room; i++)
                if (path[i] == '/')
                        whole = i;
        if (whole) {
                strbuf_append_len(b, path, whole);
                strbuf_append(b, "/...");
        } else if (room >= 3 + 6) {
                strbuf_append_len(b, path, room - 3 < end ? room - 3 : end);
                strbuf_append(b, "...");
        } else {
                strbuf_append(b, "...");
        }
}

/*
 * A device-tree path in width w, keeping what tells the node from the
 * others: its last components, as many as fit, after as much of the start
 * as fits ("/soc/.../serial@9000000", ".../usb2phy@e450/host-port"); then
 * the node name alone with its unit address ("/interrupt-co...@fe600000");
 * a node without a unit address is told apart by its parent's, so it keeps
 * the path's start instead ("/pcie@fe180000/legacy-int...").
 */
static void cut_path(struct strbuf *b, const char *path, size_t w)
{
        size_t n = strlen(path);
        const char *last = strrchr(path, '/');
        const char *at;

        if (n <= w || !is_ascii(path) || !last) {
                cut_end(b, path, w);
                return;
        }
        /* The longest tail of whole components that fits after "...". */
        for (const char *t = strchr(path + 1, '/'); t; t = strchr(t + 1, '/')) {
                size_t tail = n - (size_t)(t - path);

                if (tail + 3 > w)
                        continue;
                path_head(b, path, (size_t)(t - path), w - tail);
                strbuf_append(b, t);
                return;
        }
        at = strchr(last, '@');
        if (last != path && !at) {
                cut_end(b, path, w);
                return;
        }
        /* The node alone: without its '/', unless it is a child of the root. */
        if (last != path)
                last++;
        if (strlen(last) <= w) {
                strbuf_append(b, last);
        } else if (at && at > last + 1 && strlen(at) + 4 <= w) {
                strbuf_append_len(b, last, w - 3 - strlen(at));
                strbuf_append(b, "...");
                strbuf_append(b, at);
        } else {
                cut_end(b, last, w);
        }
}

/* Words of which those that are paths shrink to their node names, then the end is cut. */
static void cut_paths(struct strbuf *b, const char *s, size_t w)
{
        struct strbuf short_form = STRBUF_INIT;

        for (const char *p = s; *p;) {
                size_t len = strcspn(p, " ");
                const char *slash = memrchr(p, '/', len);

                if (p[0] == '/' && slash && (size_t)(slash - p) + 1 < len)
                        strbuf_append_len(&short_form, slash + 1, len - (size_t)(slash - p) - 1);
                else
                        strbuf_append_len(&short_form, p, len);
                p += len;
                while (*p == ' ')
                        strbuf_append_len(&short_form, p++, 1);
        }
        cut_end(b, short_form.oom ? s : strbuf_str(&short_form), w);
        strbuf_clear(&short_form);
}

/* ---- building ------------------------------------------------------------------- */

struct table *table_new(const struct table_column *cols)
{
        struct table *t = calloc(1, sizeof(*t));
        size_t n_cols = 0;

        while (cols[n_cols].name)
                n_cols++;
        if (!t)
                return NULL;
        t->cols = cols;
        t->n_cols = n_cols;
        t->shown = calloc(n_cols, sizeof(size_t));
        if (!t->shown) {
                free(t);
                return NULL;
        }
        for (size_t i = 0; i < n_cols; i++)
                if (cols[i].show)
                        t->shown[t->n_shown++] = i;
        return t;
}

void table_free(struct table *t)
{
        if (!t)
                return;
        for (size_t i = 0; t->cells && i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->shown);
        free(t);
}

int table_add_row(struct table *t, const char *const *cells)
{
        if (t->n_rows == t->cap_rows) {
                size_t ncap = t->cap_rows ? t->cap_rows * 2 : 32;
                char **p = realloc(t->cells, ncap * t->n_cols * sizeof(char *));

                if (!p)
                        return -ENOMEM;
                t->cells = p;
                t->cap_rows = ncap;
        }
        for (size_t i = 0; i < t->n_cols; i++) {
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

size_t table_rows(const struct table *t)
{
        return t->n_rows;
}

static int column_index(const struct table_column *cols, size_t n, const char *name, size_t len)
{
        for (size_t i = 0; i < n; i++)
                if (strlen(cols[i].name) == len && !strncasecmp(cols[i].name, name, len))
                        return (int)i;
        return -1;
}

static int columns_parse(const struct table_column *cols, size_t n_cols, const char *list,
                         const char *cmd, size_t *ret, size_t *n_ret)
{
        size_t n = 0;

        if (!*list)
                return ctl_usage_error("%s: -o needs column names; see 'assignctl %s --help'",
                                       cmd, cmd);
        for (const char *p = list; *p;) {
                size_t len = strcspn(p, ",");
                int i = column_index(cols, n_cols, p, len);

                if (i < 0) {
                        _cleanup_free_ char *word = strndup(p, len);
                        const char *names[64];
                        _cleanup_free_ char *near = NULL;
                        size_t k;

                        for (k = 0; k < n_cols && k < ARRAY_SIZE(names); k++)
                                names[k] = cols[k].name;
                        near = word ? suggest_nearest(word, names, k, true) : NULL;
                        return ctl_usage_error("%s: no column '%.*s'%s%s%s; see 'assignctl %s "
                                               "--help'", cmd, (int)len, p,
                                               near ? " (did you mean " : "", near ? near : "",
                                               near ? "?)" : "", cmd);
                }
                if (n == n_cols)
                        return ctl_usage_error("%s: -o names more columns than there are", cmd);
                ret[n++] = (size_t)i;
                p += len;
                if (*p == ',')
                        p++;
        }
        *n_ret = n;
        return CTL_EXIT_OK;
}

int table_select(struct table *t, const char *list, const char *cmd)
{
        if (!list)
                return CTL_EXIT_OK;
        return columns_parse(t->cols, t->n_cols, list, cmd, t->shown, &t->n_shown);
}

/* ---- printing ------------------------------------------------------------------- */

static size_t header_width(const struct table *t, size_t col)
{
        return u8_width(t->cols[col].name);
}

/* Take up to *excess from column i's width w[i], leaving it no narrower than floor. */
static void give(size_t *w, size_t i, size_t floor, size_t *excess)
{
        size_t cut;

        if (w[i] <= floor || *excess == 0)
                return;
        cut = w[i] - floor;
        if (cut > *excess)
                cut = *excess;
        w[i] -= cut;
        *excess -= cut;
}

/*
 * Shown columns, the squeezable ones in their squeeze order: first down to
 * their minimum (never below their header), then, only if the table still
 * does not fit, down to TABLE_FLOOR.  A table whose unsqueezable columns
 * alone are too wide has its lines cut at the width when printed.
 */
static void squeeze(const struct table *t, size_t *w, size_t width, bool legend)
{
        size_t total = 0, excess;

        for (size_t k = 0; k < t->n_shown; k++)
                total += w[k] + (k ? TABLE_GAP : 0);
        if (width == 0 || total <= width)
                return;
        excess = total - width;
        for (int pass = 0; pass < 2 && excess; pass++)
                for (int rank = 1; rank <= TABLE_MAX_SQUEEZE && excess; rank++)
                        for (size_t k = 0; k < t->n_shown && excess; k++) {
                                const struct table_column *c = &t->cols[t->shown[k]];
                                size_t floor = c->min_width;

                                if (c->squeeze != rank)
                                        continue;
                                if (legend && floor < header_width(t, t->shown[k]))
                                        floor = header_width(t, t->shown[k]);
                                give(w, k, pass == 0 ? floor : TABLE_FLOOR, &excess);
                        }
}

static void render_cell(struct strbuf *line, const struct table_column *c, const char *s,
                        size_t w, bool pad)
{
        size_t before = u8_width(strbuf_str(line));

        switch (c->cut) {
        case TABLE_CUT_PATH:
                cut_path(line, s, w);
                break;
        case TABLE_CUT_PATHS:
                if (u8_width(s) <= w)
                        strbuf_append(line, s);
                else
                        cut_paths(line, s, w);
                break;
        default:
                cut_end(line, s, w);
                break;
        }
        if (pad)
                for (size_t k = u8_width(strbuf_str(line)) - before; k < w; k++)
                        strbuf_append(line, " ");
}

void table_print(const struct table *t, FILE *f, size_t width, bool legend)
{
        _cleanup_free_ size_t *w = calloc(t->n_shown + 1, sizeof(size_t));

        /* An empty table is no header over nothing: the caller's summary says so. */
        if (!w || t->n_rows == 0)
                return;
        for (size_t k = 0; k < t->n_shown; k++) {
                size_t col = t->shown[k];

                w[k] = legend ? header_width(t, col) : 0;
                for (size_t r = 0; r < t->n_rows; r++) {
                        size_t cw = u8_width(t->cells[r * t->n_cols + col]);

                        if (cw > w[k])
                                w[k] = cw;
                }
        }
        squeeze(t, w, width, legend);

        for (size_t r = legend ? 0 : 1; r <= t->n_rows; r++) {
                struct strbuf line = STRBUF_INIT;
                const char *s;
                size_t len;

                for (size_t k = 0; k < t->n_shown; k++) {
                        size_t col = t->shown[k];

                        s = r == 0 ? t->cols[col].name : t->cells[(r - 1) * t->n_cols + col];
                        if (k)
                                strbuf_printf(&line, "%*s", TABLE_GAP, "");
                        render_cell(&line, &t->cols[col], s, w[k], k + 1 < t->n_shown);
                }
                s = strbuf_str(&line);
                /* What no squeezing could fit is cut rather than wrapped by the terminal. */
                len = width && u8_width(s) > width ? u8_offset(s, width) : strlen(s);
                while (len > 0 && s[len - 1] == ' ')
                        len--;
                fprintf(f, "%.*s\n", (int)len, s);
                strbuf_clear(&line);
        }
}
