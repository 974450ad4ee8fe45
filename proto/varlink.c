/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Varlink wire format: NUL-delimited framing with a hard size cap that is
 * enforced before the buffer grows (a peer cannot make either side allocate
 * more than one maximal message), strict parsing of requests, and
 * serialisation of replies and errors.  Shared by the daemon's server and
 * the blocking client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "utf8.h"
#include "util.h"
#include "varlink.h"

/* Room for one maximal message and its terminating NUL. */
#define RBUF_MAX(b) (((b)->max ? (b)->max : (size_t)VL_MAX_MESSAGE) + 1)
#define RBUF_MIN 4096u
/* An idle connection does not keep a large buffer around. */
#define RBUF_KEEP (16u * 1024)

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
                b->off = b->len = b->scan = 0;
                if (b->cap > RBUF_KEEP) {
                        free(b->data);
                        b->data = NULL;
                        b->cap = 0;
                }
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

int vl_parse_json(const char *msg, struct json_object **ret, char **err)
{
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error jerr;
        size_t len = strlen(msg), end;
        int r;

        r = check_json_text(msg, len, err);
        if (r < 0)
                return r;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, msg, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

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
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        _cleanup_(vl_json_unrefp) struct json_object *params = NULL;
        _cleanup_free_ char *method = NULL;
        bool flags[3] = { false, false, false };
        static const char *const flag_names[3] = { "oneway", "more", "upgrade" };
        int r;

        r = vl_parse_json(msg, &o, err);
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

static const char *to_text(struct json_object *o)
{
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* A string value or key with its bad bytes replaced (NULL when out of memory). */
static struct json_object *sanitized_string(struct json_object *v)
{
        _cleanup_free_ char *s = NULL;
        size_t n;

        s = utf8_sanitize(json_object_get_string(v), (size_t)json_object_get_string_len(v), &n);
        return s ? json_object_new_string_len(s, (int)n) : NULL;
}

static char *first_bad_key(struct json_object *v)
{
        json_object_object_foreach(v, key, val) {
                (void)val;
                if (!utf8_valid(key, strlen(key)))
                        return key;
        }
        return NULL;
}

/*
 * Make every string and key in v valid UTF-8, in place.  json-c writes a
 * string's bytes as they are, so one invalid byte anywhere (a node name in
 * the host DTB, a row an older daemon stored) would make the whole reply
 * unreadable to every client.
 */
static int sanitize_tree(struct json_object *v)
{
        switch (json_object_get_type(v)) {
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        struct json_object *e = json_object_array_get_idx(v, i);
                        struct json_object *fixed;

                        if (!json_object_is_type(e, json_type_string)) {
                                if (sanitize_tree(e) < 0)
                                        return -ENOMEM;
                                continue;
                        }
                        if (utf8_valid(json_object_get_string(e),
                                       (size_t)json_object_get_string_len(e)))
                                continue;
                        fixed = sanitized_string(e);
                        if (!fixed || json_object_array_put_idx(v, i, fixed) < 0) {
                                json_object_put(fixed);
                                return -ENOMEM;
                        }
                }
                return 0;
        case json_type_object: {
                char *bad_key;

                json_object_object_foreach(v, key, val) {
                        if (json_object_is_type(val, json_type_string) &&
                            !utf8_valid(json_object_get_string(val),
                                        (size_t)json_object_get_string_len(val))) {
                                struct json_object *fixed = sanitized_string(val);

                                /* Replacing an existing key's value is safe while iterating. */
                                if (!fixed || json_object_object_add(v, key, fixed) < 0) {
                                        json_object_put(fixed);
                                        return -ENOMEM;
                                }
                        } else if (sanitize_tree(val) < 0) {
                                return -ENOMEM;
                        }
                }
                /* Keys cannot be renamed in place: take one bad key out at a time. */
                while ((bad_key = first_bad_key(v))) {
                        _cleanup_free_ char *k = utf8_sanitize(bad_key, strlen(bad_key), NULL);
                        struct json_object *moved = NULL;

                        if (!k)
                                return -ENOMEM;
                        json_object_object_get_ex(v, bad_key, &moved);
                        json_object_get(moved);
                        json_object_object_del(v, bad_key);
                        if (json_object_object_add(v, k, moved) < 0) {
                                json_object_put(moved);
                                return -ENOMEM;
                        }
                }
                return 0;
        }
        default:
                return 0;
        }
}

/*
 * The text of a message to send: always valid UTF-8, whatever bytes the
 * values carry (see sanitize_tree).  Only the rare reply that needs it
 * pays for the copy.
 */
static char *serialize(struct json_object *o)
{
        struct json_object *copy = NULL;
        const char *s = to_text(o);
        char *text = NULL;

        if (!s)
                return NULL;
        if (utf8_valid(s, strlen(s)))
                return strdup(s);
        if (json_object_deep_copy(o, &copy, NULL) < 0)
                return NULL;
        if (sanitize_tree(copy) >= 0 && (s = to_text(copy)))
                text = strdup(s);
        json_object_put(copy);
        return text;
}

/* Wrap params (a new reference is taken; NULL means {}) under "parameters". */
static struct json_object *envelope(struct json_object *params)
{
        struct json_object *o = json_object_new_object();
        struct json_object *p = params ? json_object_get(params) : json_object_new_object();

        if (!o || !p || json_object_object_add(o, "parameters", p) < 0) {
                json_object_put(o);
                json_object_put(p);
                return NULL;
        }
        return o;
}

char *vl_reply_serialize(struct json_object *params, bool continues)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = envelope(params);

        if (!o)
                return NULL;
        if (continues && json_object_object_add(o, "continues", json_object_new_boolean(1)) < 0)
                return NULL;
        return serialize(o);
}

char *vl_error_serialize(const char *error, struct json_object *params)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = envelope(params);
        struct json_object *name;

        if (!o || !error)
                return NULL;
        name = json_object_new_string(error);
        if (!name || json_object_object_add(o, "error", name) < 0) {
                json_object_put(name);
                return NULL;
        }
        return serialize(o);
}

const char *vl_embedded_find(const char *name)
{
        for (size_t i = 0; i < vl_n_embedded_interfaces; i++)
                if (streq(vl_embedded_interfaces[i].name, name))
                        return vl_embedded_interfaces[i].text;
        return NULL;
}
