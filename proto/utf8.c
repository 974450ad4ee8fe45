/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict UTF-8 (see utf8.h).  The decoder follows RFC 3629's table of
 * well-formed byte sequences, where the allowed range of the second byte
 * depends on the first: that one table rules out overlong forms,
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF without
 * decoding first and checking after.
 */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* U+FFFD encoded: what utf8_sanitize() puts in place of each bad byte. */
#define REPLACEMENT "\xef\xbf\xbd"

static bool in(unsigned char c, unsigned char lo, unsigned char hi)
{
        return c >= lo && c <= hi;
}

size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
        const unsigned char *u = (const unsigned char *)s;
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;
        uint32_t v;

        if (len == 0)
                return 0;
        if (u[0] < 0x80) {
                *cp = u[0];
                return 1;
        }
        if (in(u[0], 0xc2, 0xdf)) {
                n = 2;
                v = u[0] & 0x1f;
        } else if (in(u[0], 0xe0, 0xef)) {
                n = 3;
                v = u[0] & 0x0f;
                if (u[0] == 0xe0)
                        lo = 0xa0;      /* below: overlong */
                else if (u[0] == 0xed)
                        hi = 0x9f;      /* above: surrogates */
        } else if (in(u[0], 0xf0, 0xf4)) {
                n = 4;
                v = u[0] & 0x07;
                if (u[0] == 0xf0)
                        lo = 0x90;      /* below: overlong */
                else if (u[0] == 0xf4)
                        hi = 0x8f;      /* above: beyond U+10FFFF */
        } else {
                return 0;               /* a continuation byte, C0, C1 or F5..FF */
        }
        if (len < n || !in(u[1], lo, hi))
                return 0;
        v = (v << 6) | (u[1] & 0x3f);
        for (size_t i = 2; i < n; i++) {
                if (!in(u[i], 0x80, 0xbf))
                        return 0;
                v = (v << 6) | (u[i] & 0x3f);
        }
        *cp = v;
        return n;
}

size_t utf8_invalid_at(const char *s, size_t len)
{
        size_t i = 0;

        while (i < len) {
                uint32_t cp;
                size_t n;

                /* ASCII runs are the common case: no decoding for them. */
                if ((unsigned char)s[i] < 0x80) {
                        i++;
                        continue;
                }
                n = utf8_decode(s + i, len - i, &cp);
                if (n == 0)
                        return i;
                i += n;
        }
        return len;
}

size_t utf8_control_at(const char *s, size_t len)
{
        size_t i = 0;

        while (i < len) {
                uint32_t cp;
                size_t n = utf8_decode(s + i, len - i, &cp);

                if (n == 0 || utf8_is_control(cp))
                        return i;
                i += n;
        }
        return len;
}

char *utf8_sanitize(const char *s, size_t len, size_t *ret_len)
{
        size_t bad = 0, i = 0, o = 0;
        char *out;

        for (i = 0; i < len;) {
                uint32_t cp;
                size_t n = utf8_decode(s + i, len - i, &cp);

                if (n == 0) {
                        bad++;
                        n = 1;
                }
                i += n;
        }
        /* Each bad byte grows from 1 to 3 bytes; len is bounded by the caller's buffer. */
        out = malloc(len + 2 * bad + 1);
        if (!out)
                return NULL;
        for (i = 0; i < len;) {
                uint32_t cp;
                size_t n = utf8_decode(s + i, len - i, &cp);

                if (n == 0) {
                        memcpy(out + o, REPLACEMENT, 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, n);
                o += n;
                i += n;
        }
        out[o] = '\0';
        if (ret_len)
                *ret_len = o;
        return out;
}
