/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Varlink wire format: NUL-delimited framing with a hard size cap that is
 * enforced before the buffer grows (a peer cannot make either side allocate
 * more than one maximal message), strict parsing of requests, and
 * serialisation of replies and errors.  Shared by the daemon's server and
 * the blocking client.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"
#include "utf8.h"
#include "util.h"
#include "varlink.h"

/* Room for one maximal message and its terminating NUL. */
#define RBUF_MAX(b) (((b)->max ? (b)->max : (size_t)VL_MAX_MESSAGE) + 1)
#define RBUF_MIN 4096u

void vl_rbuf_init(struct vl_rbuf *b)
{
        *b = (struct vl_rbuf){ 0 };
}

void vl_rbuf_init_max(struct vl_rbuf *b, size_t max)
{
        *b = (struct vl_rbuf){ .max = max };
}

void vl_rbuf_clear(struct vl_rbuf *b)
{
        free(b->data);
        vl_rbuf_init_max(b, b->max);
}

static void rbuf_compact(struct vl_rbuf *b)
{
        if (b->off == 0)
                return;
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->scan = b->scan > b->off ? b->scan - b->off : 0;
        b->off = 0;
}

/* Whether the unconsumed bytes hold a NUL; remembers how far none was found. */
static bool rbuf_has_nul(struct vl_rbuf *b)
{
        size_t from = b->scan > b->off ? b->scan : b->off;

        if (memchr(b->data + from, 0, b->len - from))
                return true;
        b->scan = b->len;
        return false;
}

int vl_rbuf_read(struct vl_rbuf *b, int fd)
{
        ssize_t n;

        rbuf_compact(b);
        if (b->len >= RBUF_MAX(b))
                return rbuf_has_nul(b) ? -ENOBUFS : -EMSGSIZE;

        if (b->len == b->cap) {
                size_t ncap = b->cap ? b->cap * 2 : RBUF_MIN;
                char *p;

                if (ncap > RBUF_MAX(b))
                        ncap = RBUF_MAX(b);
                p = realloc(b->data, ncap);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->cap = ncap;
        }

        do
                n = read(fd, b->data + b->len, b->cap - b->len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
                return 0;

        b->len += (size_t)n;
        if (b->len >= RBUF_MAX(b) && !rbuf_has_nul(b))
                return -EMSGSIZE;
        return (int)n;
}

int vl_rbuf_put(struct vl_rbuf *b, const char *data, size_t len)
{
        const char *nul = NULL;

        if (b->len > b->off)
                return -EBUSY;
        for (const char *p = data; (p = memchr(p, 0, len - (size_t)(p - data))); p++)
                nul = p;
        if (len - (nul ? (size_t)(nul + 1 - data) : 0) >= RBUF_MAX(b))
                return -EMSGSIZE;
        free(b->data);
        vl_rbuf_init_max(b, b->max);
        if (!len)
                return 0;
        b->data = malloc(len);
        if (!b->data)
                return -ENOMEM;
        memcpy(b->data, data, len);
        b->len = b->cap = len;
        return 0;
}

int vl_rbuf_next(struct vl_rbuf *b, char **msg)
{
        size_t from, mlen;
        char *nul, *m;

        if (b->off >= b->len)
                return 0;
        from = b->scan > b->off ? b->scan : b->off;
        nul = memchr(b->data + from, 0, b->len - from);
        if (!nul) {
                b->scan = b->len;
                return 0;
        }

        mlen = (size_t)(nul - (b->data + b->off));
        m = malloc(mlen + 1);
        if (!m)
                return -ENOMEM;
        memcpy(m, b->data + b->off, mlen + 1);

        b->off = (size_t)(nul - b->data) + 1;
        b->scan = b->off;
        if (b->off == b->len) {
                /* Nothing buffered: an idle connection keeps no buffer at all. */
                b->off = b->len = b->scan = 0;
                free(b->data);
                b->data = NULL;
                b->cap = 0;
        }
        *msg = m;
        return 1;
}

/* The value of hex digit c, or -1. */
static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* The code unit of the \uXXXX escape whose 'u' is at p (end bounds it), or -1. */
static long escape_unit(const char *p, const char *end)
{
        long v = 0;

        if (end - p < 5 || p[0] != 'u')
                return -1;
        for (int i = 1; i <= 4; i++) {
                int h = hex_value(p[i]);

                if (h < 0)
                        return -1;
                v = v * 16 + h;
        }
        return v;
}

/*
 * What RFC 8259 asks of a JSON text and json-c does not check (it passes
 * raw control characters in strings, takes any byte sequence, and turns
 * an unpaired surrogate escape into U+FFFD): the text is UTF-8 (RFC 3629),
 * strings hold no unescaped U+0000..U+001F, and every \uD800..\uDBFF
 * escape is followed by a \uDC00..\uDFFF one and only there.  Such a
 * message is not JSON, so it is refused as a whole, as sd-json refuses
 * it; the error names an offset, never the bytes.  Malformed escapes are
 * left to json-c, which reports them.
 */
static int check_json_text(const char *msg, size_t len, char **err)
{
        const char *p = msg, *end = msg + len;
        bool in_string = false;

        while (p < end) {
                uint32_t cp;
                size_t n = utf8_decode(p, (size_t)(end - p), &cp);
                long unit;

                if (n == 0)
                        return set_error(err, -EBADMSG,
                                         "the message is not valid UTF-8 at byte offset %zu",
                                         (size_t)(p - msg));
                if (!in_string) {
                        in_string = cp == '"';
                        p += n;
                        continue;
                }
                if (cp < 0x20)
                        return set_error(err, -EBADMSG,
                                         "invalid JSON: unescaped control character U+%04X in "
                                         "a string at byte offset %zu",
                                         (unsigned)cp, (size_t)(p - msg));
                if (cp == '"') {
                        in_string = false;
                        p++;
                        continue;
                }
                if (cp != '\\' || p + 1 >= end) {
                        p += n;
                        continue;
                }
                if (p[1] != 'u') {
                        p += 2;         /* \" or \\ does not end or escape anything after it */
                        continue;
                }
                unit = escape_unit(p + 1, end);
                if (unit >= 0xdc00 && unit <= 0xdfff)
                        return set_error(err, -EBADMSG,
                                         "invalid JSON: unpaired surrogate escape at byte "
                                         "offset %zu",
                                         (size_t)(p - msg));
                if (unit >= 0xd800 && unit <= 0xdbff) {
                        long low = p + 6 < end && p[6] == '\\' ? escape_unit(p + 7, end) : -1;

                        if (low < 0xdc00 || low > 0xdfff)
                                return set_error(err, -EBADMSG,
                                                 "invalid JSON: unpaired surrogate escape at "
                                                 "byte offset %zu",
                                                 (size_t)(p - msg));
                        p += 12;
                        continue;
                }
                p += unit >= 0 ? 6 : 2;
        }
        return 0;
}

/* One message as JSON, with a tokener of the caller's (reset here). */
static int parse_json_with(struct json_tokener *tok, const char *msg, struct json_object **ret,
                           char **err)
{
        struct json_object *o;
        enum json_tokener_error jerr;
        size_t len = strlen(msg), end;
        int r;

        r = check_json_text(msg, len, err);
        if (r < 0)
                return r;
        json_tokener_reset(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, msg, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);

        if (!o || jerr != json_tokener_success) {
                json_object_put(o);
                if (jerr == json_tokener_continue)
                        return set_error(err, -EBADMSG, "invalid JSON: message ends early");
                if (jerr == json_tokener_success)
                        return set_error(err, -EBADMSG, "invalid JSON: null message");
                return set_error(err, -EBADMSG, "invalid JSON at offset %zu: %s", end,
                                 json_tokener_error_desc(jerr));
        }
        for (; end < len; end++)
                if (!strchr(" \t\r\n", msg[end])) {
                        json_object_put(o);
                        return set_error(err, -EBADMSG,
                                         "invalid JSON: trailing data at offset %zu", end);
                }
        *ret = o;
        return 0;
}

int vl_parse_json(const char *msg, struct json_object **ret, char **err)
{
        struct json_tokener *tok = json_tokener_new();
        int r;

        if (!tok)
                return -ENOMEM;
        r = parse_json_with(tok, msg, ret, err);
        json_tokener_free(tok);
        return r;
}

int vl_split_method(const char *qualified, char **iface, const char **method)
{
        const char *dot;
        char *i;

        if (!qualified)
                return -EINVAL;
        dot = strrchr(qualified, '.');
        if (!dot || dot == qualified || dot[1] == '\0')
                return -EINVAL;
        i = strndup(qualified, (size_t)(dot - qualified));
        if (!i)
                return -ENOMEM;
        *iface = i;
        *method = dot + 1;
        return 0;
}

int vl_request_parse(const char *msg, struct vl_request *req, char **err)
{
        struct json_tokener *tok = json_tokener_new();
        int r;

        if (!tok)
                return -ENOMEM;
        r = vl_request_parse_with(tok, msg, req, err);
        json_tokener_free(tok);
        return r;
}

int vl_request_parse_with(struct json_tokener *tok, const char *msg, struct vl_request *req,
                          char **err)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        _cleanup_(vl_json_unrefp) struct json_object *params = NULL;
        _cleanup_free_ char *method = NULL;
        bool flags[3] = { false, false, false };
        static const char *const flag_names[3] = { "oneway", "more", "upgrade" };
        int r;

        r = parse_json_with(tok, msg, &o, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return set_error(err, -EBADMSG, "a request must be a JSON object");

        json_object_object_foreach(o, key, val) {
                bool known = false;

                if (streq(key, "method")) {
                        char *iface_part = NULL;
                        const char *short_name;

                        if (!json_object_is_type(val, json_type_string))
                                return set_error(err, -EBADMSG, "\"method\" must be a string");
                        if (vl_split_method(json_object_get_string(val), &iface_part,
                                            &short_name) < 0)
                                return set_error(err, -EBADMSG,
                                                 "\"method\" must be interface.Method");
                        free(iface_part);
                        method = strdup(json_object_get_string(val));
                        if (!method)
                                return -ENOMEM;
                        continue;
                }
                if (streq(key, "parameters")) {
                        /*
                         * Clients of a method without input send null (Go's
                         * varlink library) or nothing at all: both mean {}.
                         */
                        if (!val)
                                continue;
                        if (!json_object_is_type(val, json_type_object))
                                return set_error(err, -EBADMSG,
                                                 "\"parameters\" must be an object");
                        params = json_object_get(val);
                        continue;
                }
                for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++)
                        if (streq(key, flag_names[i])) {
                                if (!json_object_is_type(val, json_type_boolean))
                                        return set_error(err, -EBADMSG,
                                                         "\"%s\" must be a boolean", key);
                                flags[i] = json_object_get_boolean(val);
                                known = true;
                        }
                if (!known)
                        return set_error(err, -EBADMSG, "unknown request field \"%s\"", key);
        }

        if (!method)
                return set_error(err, -EBADMSG, "the request has no \"method\"");
        if (flags[0] && flags[1])
                return set_error(err, -EBADMSG, "\"oneway\" and \"more\" exclude each other");
        if (!params) {
                params = json_object_new_object();
                if (!params)
                        return -ENOMEM;
        }

        *req = (struct vl_request){
                .method = steal_ptr(method),
                .parameters = steal_ptr(params),
                .oneway = flags[0],
                .more = flags[1],
                .upgrade = flags[2],
        };
        return 0;
}

void vl_request_clear(struct vl_request *req)
{
        if (!req)
                return;
        free(req->method);
        json_object_put(req->parameters);
        *req = (struct vl_request){ 0 };
}

#define SERIALIZE_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * A JSON string of n bytes as json-c writes one with SERIALIZE_FLAGS,
 * except that bytes which are not UTF-8 become U+FFFD: json-c writes a
 * string's bytes as they are, so one invalid byte anywhere (a node name in
 * the host DTB, a row an older daemon stored) would make the whole message
 * unreadable to every client.
 */
static void write_string(struct strbuf *b, const char *s, size_t n)
{
        if (!utf8_valid(s, n)) {
                size_t fixed_len;
                _cleanup_free_ char *fixed = utf8_sanitize(s, n, &fixed_len);

                if (!fixed) {
                        b->oom = true;
                        return;
                }
                strbuf_append_json_string(b, fixed, fixed_len);
                return;
        }
        strbuf_append_json_string(b, s, n);
}

/*
 * v as json-c would write it, but into b directly, and with validated text
 * (vl_text_node) copied as it is: a reply of a large device list is
 * copied once, not once into json-c's buffer as it grows and again out of
 * it.
 */
static void write_value(struct strbuf *b, struct json_object *v)
{
        const char *text;
        size_t n;
        bool first = true;

        text = vl_text_of_node(v, &n);
        if (text) {
                strbuf_append_len(b, text, n);
                return;
        }
        switch (json_object_get_type(v)) {
        case json_type_object:
                strbuf_append_len(b, "{", 1);
                json_object_object_foreach(v, key, val) {
                        if (!first)
                                strbuf_append_len(b, ",", 1);
                        first = false;
                        write_string(b, key, strlen(key));
                        strbuf_append_len(b, ":", 1);
                        write_value(b, val);
                }
                strbuf_append_len(b, "}", 1);
                return;
        case json_type_array:
                strbuf_append_len(b, "[", 1);
                n = json_object_array_length(v);
                for (size_t i = 0; i < n; i++) {
                        if (i)
                                strbuf_append_len(b, ",", 1);
                        write_value(b, json_object_array_get_idx(v, i));
                }
                strbuf_append_len(b, "]", 1);
                return;
        case json_type_string:
                write_string(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
                return;
        case json_type_int: {
                int64_t x = json_object_get_int64(v);
                char num[24];

                /* INT64_MAX may be an unsigned value json-c clamps: its own spelling then. */
                if (x == INT64_MAX)
                        break;
                strbuf_append_len(b, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, x));
                return;
        }
        case json_type_boolean:
                strbuf_append(b, json_object_get_boolean(v) ? "true" : "false");
                return;
        case json_type_null:
                strbuf_append(b, "null");
                return;
        default:
                break;
        }
        /* Doubles, and the largest integers: json-c's own spelling. */
        text = json_object_to_json_string_length(v, SERIALIZE_FLAGS, &n);
        if (text)
                strbuf_append_len(b, text, n);
        else
                b->oom = true;
}

/* {"parameters": params, then the rest}: malloc'd, *len without the NUL. */
static char *envelope(struct json_object *params, const char *error, bool continues,
                      size_t *len)
{
        struct strbuf b = STRBUF_INIT;
        char *s = NULL;

        strbuf_append(&b, "{\"parameters\":");
        if (params)
                write_value(&b, params);
        else
                strbuf_append(&b, "{}");
        if (error) {
                strbuf_append(&b, ",\"error\":");
                write_string(&b, error, strlen(error));
        }
        if (continues)
                strbuf_append(&b, ",\"continues\":true");
        strbuf_append_len(&b, "}", 1);
        if (len)
                *len = b.len;
        if (strbuf_steal(&b, &s) < 0)
                return NULL;
        return s;
}

char *vl_reply_serialize_len(struct json_object *params, bool continues, size_t *len)
{
        return envelope(params, NULL, continues, len);
}

char *vl_reply_serialize(struct json_object *params, bool continues)
{
        return envelope(params, NULL, continues, NULL);
}

char *vl_error_serialize(const char *error, struct json_object *params)
{
        return error ? envelope(params, error, false, NULL) : NULL;
}

const char *vl_embedded_find(const char *name)
{
        for (size_t i = 0; i < vl_n_embedded_interfaces; i++)
                if (streq(vl_embedded_interfaces[i].name, name))
                        return vl_embedded_interfaces[i].text;
        return NULL;
}
