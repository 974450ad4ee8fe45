/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * UTF-8 as the Varlink protocol needs it: a strict decoder (RFC 3629: no
 * overlong forms, no UTF-16 surrogates, nothing above U+10FFFF), the test
 * for control characters that the request rules refuse, and the repair
 * that keeps a reply valid JSON when it carries bytes from outside (a host
 * device tree, an old database) that are not UTF-8.
 *
 * json-c's own JSON_TOKENER_VALIDATE_UTF8 (json-c 0.16) accepts encoded
 * surrogates, overlong forms and code points above U+10FFFF, so it is not
 * used as the rule.
 */
#ifndef ASSIGND_UTF8_H
#define ASSIGND_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decode the character at s[0..len): its length in bytes (1..4) and *cp,
 * or 0 when the bytes there are not a complete, shortest-form encoding of
 * a Unicode scalar value (len 0 also gives 0).
 */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Offset of the first byte of s[0..len) that is not valid UTF-8, or len. */
size_t utf8_invalid_at(const char *s, size_t len);

static inline bool utf8_valid(const char *s, size_t len)
{
        return utf8_invalid_at(s, len) == len;
}

/*
 * Unicode's control characters (general category Cc): U+0000..U+001F,
 * U+007F and U+0080..U+009F.  A terminal or a line-oriented file (log,
 * xl.cfg) reads them as layout or commands, not as text.
 */
static inline bool utf8_is_control(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/*
 * Offset of the first control character (or invalid byte) of s[0..len),
 * or len when there is none.
 */
size_t utf8_control_at(const char *s, size_t len);

/*
 * A malloc'd, NUL-terminated copy of s[0..len) in which every byte that
 * is not part of valid UTF-8 became U+FFFD (the replacement character);
 * *ret_len (may be NULL) receives its length.  NULL when out of memory.
 */
char *utf8_sanitize(const char *s, size_t len, size_t *ret_len);

#endif
