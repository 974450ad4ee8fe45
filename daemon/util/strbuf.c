/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The text buffer of strbuf.h.  It grows geometrically, so building a
 * text of n bytes costs O(n) whatever the size of the appends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static bool reserve(struct strbuf *b, size_t more)
{
        size_t need, ncap;
        char *p;

        if (b->oom)
                return false;
        if (more > SIZE_MAX - b->len - 1) {
                b->oom = true;
                return false;
        }
        need = b->len + more + 1;
        if (need <= b->cap)
                return true;
        ncap = b->cap ? b->cap : 128;
        while (ncap < need)
                ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        p = realloc(b->s, ncap);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->s = p;
        b->cap = ncap;
        return true;
}

void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
        va_list aq;
        int k;

        if (b->oom)
                return;
        va_copy(aq, ap);
        k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, aq);
        va_end(aq);
        if (k < 0) {
                b->oom = true;
                return;
        }
        if (b->s && (size_t)k < b->cap - b->len) {
                b->len += (size_t)k;
                return;
        }
        if (!reserve(b, (size_t)k))
                return;
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        b->len += (size_t)k;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        strbuf_vprintf(b, fmt, ap);
        va_end(ap);
}

void strbuf_append_slow(struct strbuf *b, const char *s, size_t n)
{
        if (!reserve(b, n))
                return;
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

void strbuf_append_u64(struct strbuf *b, uint64_t v)
{
        char digits[20];
        size_t n = 0;

        do {
                digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        strbuf_append_len(b, digits + sizeof(digits) - n, n);
}

void strbuf_append_json_string(struct strbuf *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        const char *end = s + n, *run = s;

        strbuf_append_len(b, "\"", 1);
        for (; s < end; s++) {
                unsigned char c = (unsigned char)*s;
                char esc[7] = { '\\', 0 };
                size_t k = 2;

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                strbuf_append_len(b, run, (size_t)(s - run));
                run = s + 1;
                switch (c) {
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                case '\b': esc[1] = 'b'; break;
                case '\f': esc[1] = 'f'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                default:
                        memcpy(esc + 1, "u00", 3);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        k = 6;
                        break;
                }
                strbuf_append_len(b, esc, k);
        }
        strbuf_append_len(b, run, (size_t)(s - run));
        strbuf_append_len(b, "\"", 1);
}

const char *strbuf_str(const struct strbuf *b)
{
        return b->s && !b->oom ? b->s : "";
}

void strbuf_clear(struct strbuf *b)
{
        free(b->s);
        *b = STRBUF_INIT;
}

int strbuf_steal(struct strbuf *b, char **ret)
{
        if (!b->oom && !b->s)
                reserve(b, 0);
        if (b->oom) {
                strbuf_clear(b);
                return -ENOMEM;
        }
        b->s[b->len] = '\0';
        *ret = b->s;
        *b = STRBUF_INIT;
        return 0;
}

char *strv_join(const char *const *v, size_t n, const char *sep)
{
        struct strbuf b = STRBUF_INIT;
        char *s = NULL;

        for (size_t i = 0; i < n; i++) {
                if (i)
                        strbuf_append(&b, sep);
                strbuf_append(&b, v[i]);
        }
        return strbuf_steal(&b, &s) < 0 ? NULL : s;
}

size_t strv_length(char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

bool strv_contains(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}
