/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A growing text buffer for building messages, generated files and
 * lists.  Appends never fail on their own: an allocation failure is
 * remembered and reported once, by strbuf_steal(), so a caller can write
 * a long text without checking every line.
 */
#ifndef ASSIGND_STRBUF_H
#define ASSIGND_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

struct strbuf {
        char *s;                /* NUL-terminated once anything was appended */
        size_t len, cap;
        bool oom;               /* an append failed: strbuf_steal() says -ENOMEM */
};
#define STRBUF_INIT ((struct strbuf){ 0 })

_printf_(2, 3) void strbuf_printf(struct strbuf *b, const char *fmt, ...);
_printf_(2, 0) void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap);
void strbuf_append_slow(struct strbuf *b, const char *s, size_t n);

/* Inline while the buffer has room: stored forms and replies are many small appends. */
static inline void strbuf_append_len(struct strbuf *b, const char *s, size_t n)
{
        if (b->s && !b->oom && n < b->cap - b->len) {
                memcpy(b->s + b->len, s, n);
                b->len += n;
                b->s[b->len] = '\0';
                return;
        }
        strbuf_append_slow(b, s, n);
}

/* s NULL appends nothing. */
static inline void strbuf_append(struct strbuf *b, const char *s)
{
        strbuf_append_len(b, s ? s : "", s ? strlen(s) : 0);
}

/* A decimal integer, without printf's cost (stored forms written often). */
void strbuf_append_u64(struct strbuf *b, uint64_t v);

/*
 * s (n bytes) as a JSON string, quotes included: '"', '\\' and control
 * characters escaped, every other byte copied as it is.  Whether the text
 * is UTF-8 is the caller's to check where it matters (a Varlink reply); a
 * stored form written and read back by json-c takes any bytes, as json-c's
 * own writer does.
 */
void strbuf_append_json_string(struct strbuf *b, const char *s, size_t n);

/* The text so far ("" when empty or after a failure); borrowed. */
const char *strbuf_str(const struct strbuf *b);

/*
 * Hand the text out (malloc'd, "" when nothing was appended) and reset the
 * buffer; -ENOMEM (and nothing handed out) if any append failed.
 */
int strbuf_steal(struct strbuf *b, char **ret);
void strbuf_clear(struct strbuf *b);

/* The n strings of v joined by sep (malloc'd; NULL on allocation failure). */
char *strv_join(const char *const *v, size_t n, const char *sep);

/* Entries of a NULL-terminated vector (0 for NULL). */
size_t strv_length(char *const *v);

/* Whether v (n strings) contains s. */
bool strv_contains(const char *const *v, size_t n, const char *s);

#endif
