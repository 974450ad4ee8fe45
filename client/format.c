/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text formatting for assignctl's human output (a field the daemon leaves
 * out or sets to null shows as "-", it never crashes the client: the
 * accessors of jv.h fall back), one-cell summaries of a device for the
 * list table, and the width output is fitted to.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

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

char *fmt_group_members(struct json_object *dev)
{
        struct json_object *group = jv_get_array(dev, "group");
        size_t n = group ? json_object_array_length(group) : 0;
        struct strbuf b = STRBUF_INIT;

        for (size_t i = 0; i < n; i++)
                strbuf_printf(&b, "%s%s", i ? " " : "",
                              json_object_get_string(json_object_array_get_idx(group, i)));
        return sb_finish(&b);
}

char *fmt_owner(struct json_object *owner)
{
        const char *domain = jv_get_str(owner, "domain", NULL);
        const char *state = jv_get_str(owner, "state", "?");
        int64_t domid = jv_get_int(owner, "domid", -1);
        struct strbuf b = STRBUF_INIT;
        const char *kind = jv_get_bool(owner, "standing", false) ? ", standing"
                           : streq(jv_get_str(owner, "origin", "request"), "external")
                                   ? ", adopted: held outside assignd"
                                   : "";

        if (!owner)
                return strdup("-");
        if (domain && domid >= 0)
                strbuf_printf(&b, "%s (domid %" PRId64 ", %s%s)", domain, domid, state, kind);
        else if (domain)
                strbuf_printf(&b, "%s (no domid yet, %s%s)", domain, state, kind);
        else if (domid >= 0)
                strbuf_printf(&b, "domid %" PRId64 " (%s%s)", domid, state, kind);
        else
                strbuf_printf(&b, "unknown domain (%s%s)", state, kind);
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

size_t ctl_output_width(bool full)
{
        const char *env = getenv("COLUMNS");
        struct winsize ws;
        char *end = NULL;
        long v;

        if (full)
                return 0;
        /* $COLUMNS wins, as with systemd's and util-linux's tools: it is how a pipe gets a width. */
        if (env && *env) {
                v = strtol(env, &end, 10);
                if (!*end && v > 0 && v < 100000)
                        return (size_t)v;
        }
        if (!isatty(STDOUT_FILENO))
                return 0;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}
