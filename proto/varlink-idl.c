/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Varlink interface-definition language: a parser that turns a .varlink
 * text into a tree of types, methods and errors, and a validator that checks
 * JSON parameters against that tree.  The daemon validates every call and
 * every reply with it, so the .varlink file really is the wire contract and
 * no handler has to re-check shapes by hand.
 *
 * The grammar follows varlink.org: an "interface" line, then "type",
 * "method" and "error" members; types are bool, int, float, string, object,
 * a named type, "?" nullable, "[]" arrays, "[string]" maps, anonymous
 * structs and enums.  Errors carry the line number; nothing here logs.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "utf8.h"
#include "util.h"
#include "varlink.h"

enum vl_kind {
        VL_BOOL,
        VL_INT,
        VL_FLOAT,
        VL_STRING,
        VL_OBJECT,
        VL_NAMED,
        VL_ARRAY,
        VL_MAP,
        VL_STRUCT,
        VL_ENUM,
};

struct vl_type;

struct vl_field {
        char *name;
        struct vl_type *type;
};

struct vl_type {
        enum vl_kind kind;
        bool nullable;
        unsigned line;                  /* where it was written, for reference errors */
        char *name;                     /* VL_NAMED */
        const struct vl_type *target;   /* VL_NAMED, resolved after parsing */
        struct vl_type *elem;           /* VL_ARRAY, VL_MAP */
        struct vl_field *fields;        /* VL_STRUCT */
        size_t n_fields, cap_fields;
        char **values;                  /* VL_ENUM */
        size_t n_values, cap_values;
};

struct vl_alias {
        char *name;
        struct vl_type *type;
        unsigned line;
};

struct vl_method {
        char *name;
        struct vl_type *in, *out;
        unsigned line;
};

struct vl_error_def {
        char *name;
        struct vl_type *params;
        unsigned line;
};

struct vl_interface {
        char *name;
        char *text;
        struct vl_alias *aliases;
        size_t n_aliases, cap_aliases;
        struct vl_method *methods;
        size_t n_methods, cap_methods;
        struct vl_error_def *errors;
        size_t n_errors, cap_errors;
};

static void type_free(struct vl_type *t)
{
        if (!t)
                return;
        free(t->name);
        type_free(t->elem);
        for (size_t i = 0; i < t->n_fields; i++) {
                free(t->fields[i].name);
                type_free(t->fields[i].type);
        }
        free(t->fields);
        for (size_t i = 0; i < t->n_values; i++)
                free(t->values[i]);
        free(t->values);
        free(t);
}

void vl_interface_free(struct vl_interface *iface)
{
        if (!iface)
                return;
        for (size_t i = 0; i < iface->n_aliases; i++) {
                free(iface->aliases[i].name);
                type_free(iface->aliases[i].type);
        }
        free(iface->aliases);
        for (size_t i = 0; i < iface->n_methods; i++) {
                free(iface->methods[i].name);
                type_free(iface->methods[i].in);
                type_free(iface->methods[i].out);
        }
        free(iface->methods);
        for (size_t i = 0; i < iface->n_errors; i++) {
                free(iface->errors[i].name);
                type_free(iface->errors[i].params);
        }
        free(iface->errors);
        free(iface->name);
        free(iface->text);
        free(iface);
}

DEFINE_FREE_FUNC(struct vl_interface, vl_interface_free)
DEFINE_FREE_FUNC(struct vl_type, type_free)

/* ---- lexer ---------------------------------------------------------------- */

enum tok_kind {
        TOK_EOF,
        TOK_WORD,
        TOK_PUNCT,      /* one of ( ) , : ? [ ] */
        TOK_ARROW,
        TOK_BAD,
};

struct parser {
        const char *p;
        unsigned line;
        /* Current token. */
        enum tok_kind kind;
        const char *start;
        size_t len;
        unsigned tok_line;
        char **err;
};

static bool is_word_char(char c)
{
        return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

static void next_token(struct parser *ps)
{
        for (;;) {
                char c = *ps->p;

                if (c == '\n') {
                        ps->line++;
                        ps->p++;
                } else if (c == ' ' || c == '\t' || c == '\r') {
                        ps->p++;
                } else if (c == '#') {
                        while (*ps->p && *ps->p != '\n')
                                ps->p++;
                } else {
                        break;
                }
        }

        ps->start = ps->p;
        ps->tok_line = ps->line;
        if (!*ps->p) {
                ps->kind = TOK_EOF;
                ps->len = 0;
        } else if (ps->p[0] == '-' && ps->p[1] == '>') {
                ps->kind = TOK_ARROW;
                ps->len = 2;
        } else if (strchr("(),:?[]", *ps->p)) {
                ps->kind = TOK_PUNCT;
                ps->len = 1;
        } else if (isalpha((unsigned char)*ps->p)) {
                const char *q = ps->p;

                /* A '-' directly followed by '>' is the arrow, not part of a word. */
                while (is_word_char(*q) && !(q[0] == '-' && q[1] == '>'))
                        q++;
                ps->kind = TOK_WORD;
                ps->len = q - ps->p;
        } else {
                ps->kind = TOK_BAD;
                ps->len = 1;
        }
        ps->p += ps->len;
}

static bool tok_is(const struct parser *ps, const char *s)
{
        return (ps->kind == TOK_WORD || ps->kind == TOK_PUNCT || ps->kind == TOK_ARROW) &&
               strlen(s) == ps->len && memcmp(ps->start, s, ps->len) == 0;
}

static int fail(struct parser *ps, const char *what)
{
        if (ps->kind == TOK_EOF)
                return set_error(ps->err, -EINVAL, "line %u: %s, found end of file", ps->tok_line,
                                 what);
        return set_error(ps->err, -EINVAL, "line %u: %s, found '%.*s'", ps->tok_line, what,
                         (int)(ps->len > 40 ? 40 : ps->len), ps->start);
}

static int expect(struct parser *ps, const char *s)
{
        char what[32];

        if (!tok_is(ps, s)) {
                snprintf(what, sizeof(what), "expected '%s'", s);
                return fail(ps, what);
        }
        next_token(ps);
        return 0;
}

/*
 * Varlink's name rules: interface "a.b.C" (reverse domain; upper case is
 * allowed, as io.systemd.* and our own io.assignd.Broker use it), type
 * "Name", field "name_1".
 */
static bool valid_interface_name(const char *s, size_t n)
{
        size_t dots = 0;
        bool seg_start = true;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '.') {
                        if (seg_start || s[i - 1] == '-')
                                return false;
                        dots++;
                        seg_start = true;
                        continue;
                }
                if (seg_start) {
                        /* The first segment starts with a letter, the others may start with a digit. */
                        if (!(isalpha((unsigned char)c) || (dots > 0 && isdigit((unsigned char)c))))
                                return false;
                        seg_start = false;
                        continue;
                }
                if (!(isalnum((unsigned char)c) || c == '-'))
                        return false;
        }
        return dots > 0 && !seg_start && s[n - 1] != '-';
}

static bool valid_type_name(const char *s, size_t n)
{
        if (n == 0 || !isupper((unsigned char)s[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char)s[i]))
                        return false;
        return true;
}

static bool valid_field_name(const char *s, size_t n)
{
        if (n == 0 || !isalpha((unsigned char)s[0]) || s[n - 1] == '_')
                return false;
        for (size_t i = 1; i < n; i++) {
                if (s[i] == '_') {
                        if (s[i - 1] == '_')
                                return false;
                } else if (!isalnum((unsigned char)s[i])) {
                        return false;
                }
        }
        return true;
}

static int take_word(struct parser *ps, bool (*valid)(const char *, size_t), const char *what,
                     char **ret)
{
        char msg[80];
        char *s;

        if (ps->kind != TOK_WORD || !valid(ps->start, ps->len)) {
                snprintf(msg, sizeof(msg), "expected %s", what);
                return fail(ps, msg);
        }
        s = strndup(ps->start, ps->len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        next_token(ps);
        return 0;
}

/* ---- parser --------------------------------------------------------------- */

static struct vl_type *type_new(enum vl_kind kind, unsigned line)
{
        struct vl_type *t = calloc(1, sizeof(*t));

        if (t) {
                t->kind = kind;
                t->line = line;
        }
        return t;
}

static int parse_type(struct parser *ps, struct vl_type **ret);

/*
 * "(" ... ")": a struct ("name: type, ...") or, where allowed, an enum
 * ("a, b, c").  The first entry decides which.  "()" is an empty struct.
 */
static int parse_paren(struct parser *ps, bool allow_enum, struct vl_type **ret)
{
        _cleanup_(type_freep) struct vl_type *t = NULL;
        unsigned line = ps->tok_line;
        int r;

        r = expect(ps, "(");
        if (r < 0)
                return r;
        if (tok_is(ps, ")")) {
                next_token(ps);
                t = type_new(VL_STRUCT, line);
                if (!t)
                        return -ENOMEM;
                *ret = steal_ptr(t);
                return 0;
        }

        for (;;) {
                _cleanup_free_ char *name = NULL;
                unsigned name_line = ps->tok_line;

                r = take_word(ps, valid_field_name, "a field name", &name);
                if (r < 0)
                        return r;

                if (!t) {
                        if (tok_is(ps, ":"))
                                t = type_new(VL_STRUCT, line);
                        else if (allow_enum)
                                t = type_new(VL_ENUM, line);
                        else
                                return fail(ps, "expected ':' after the field name");
                        if (!t)
                                return -ENOMEM;
                }

                if (t->kind == VL_STRUCT) {
                        struct vl_type *ft = NULL;

                        for (size_t i = 0; i < t->n_fields; i++)
                                if (streq(t->fields[i].name, name))
                                        return set_error(ps->err, -EINVAL,
                                                         "line %u: duplicate field '%s'",
                                                         name_line, name);
                        r = expect(ps, ":");
                        if (r < 0)
                                return r;
                        r = parse_type(ps, &ft);
                        if (r < 0)
                                return r;
                        if (GROW(t->fields, t->cap_fields, t->n_fields) < 0) {
                                type_free(ft);
                                return -ENOMEM;
                        }
                        t->fields[t->n_fields++] = (struct vl_field){ steal_ptr(name), ft };
                } else {
                        for (size_t i = 0; i < t->n_values; i++)
                                if (streq(t->values[i], name))
                                        return set_error(ps->err, -EINVAL,
                                                         "line %u: duplicate enum value '%s'",
                                                         name_line, name);
                        if (tok_is(ps, ":"))
                                return fail(ps, "expected ',' or ')' in an enum");
                        if (GROW(t->values, t->cap_values, t->n_values) < 0)
                                return -ENOMEM;
                        t->values[t->n_values++] = steal_ptr(name);
                }

                if (tok_is(ps, ")")) {
                        next_token(ps);
                        break;
                }
                r = expect(ps, ",");
                if (r < 0)
                        return r;
        }

        *ret = steal_ptr(t);
        return 0;
}

static int parse_type(struct parser *ps, struct vl_type **ret)
{
        static const struct {
                const char *name;
                enum vl_kind kind;
        } basic[] = {
                { "bool", VL_BOOL },     { "int", VL_INT },       { "float", VL_FLOAT },
                { "string", VL_STRING }, { "object", VL_OBJECT },
        };
        _cleanup_(type_freep) struct vl_type *t = NULL;
        unsigned line = ps->tok_line;
        bool nullable = false;
        int r;

        if (tok_is(ps, "?")) {
                nullable = true;
                next_token(ps);
                if (tok_is(ps, "?"))
                        return fail(ps, "a type cannot be nullable twice");
        }

        if (tok_is(ps, "[")) {
                enum vl_kind kind = VL_ARRAY;

                next_token(ps);
                if (tok_is(ps, "string")) {
                        kind = VL_MAP;
                        next_token(ps);
                }
                r = expect(ps, "]");
                if (r < 0)
                        return r;
                t = type_new(kind, line);
                if (!t)
                        return -ENOMEM;
                r = parse_type(ps, &t->elem);
                if (r < 0)
                        return r;
        } else if (tok_is(ps, "(")) {
                r = parse_paren(ps, true, &t);
                if (r < 0)
                        return r;
        } else if (ps->kind == TOK_WORD) {
                for (size_t i = 0; i < ARRAY_SIZE(basic) && !t; i++)
                        if (tok_is(ps, basic[i].name)) {
                                t = type_new(basic[i].kind, line);
                                if (!t)
                                        return -ENOMEM;
                                next_token(ps);
                        }
                if (!t) {
                        _cleanup_free_ char *name = NULL;

                        r = take_word(ps, valid_type_name, "a type", &name);
                        if (r < 0)
                                return r;
                        t = type_new(VL_NAMED, line);
                        if (!t)
                                return -ENOMEM;
                        t->name = steal_ptr(name);
                }
        } else {
                return fail(ps, "expected a type");
        }

        t->nullable = nullable;
        *ret = steal_ptr(t);
        return 0;
}

static bool member_exists(const struct vl_interface *iface, const char *name)
{
        for (size_t i = 0; i < iface->n_aliases; i++)
                if (streq(iface->aliases[i].name, name))
                        return true;
        for (size_t i = 0; i < iface->n_methods; i++)
                if (streq(iface->methods[i].name, name))
                        return true;
        for (size_t i = 0; i < iface->n_errors; i++)
                if (streq(iface->errors[i].name, name))
                        return true;
        return false;
}

static const struct vl_alias *find_alias(const struct vl_interface *iface, const char *name)
{
        for (size_t i = 0; i < iface->n_aliases; i++)
                if (streq(iface->aliases[i].name, name))
                        return &iface->aliases[i];
        return NULL;
}

enum member_kind { MEMBER_TYPE, MEMBER_METHOD, MEMBER_ERROR };

static int parse_member(struct parser *ps, struct vl_interface *iface)
{
        _cleanup_free_ char *name = NULL;
        _cleanup_(type_freep) struct vl_type *a = NULL;
        _cleanup_(type_freep) struct vl_type *b = NULL;
        unsigned line = ps->tok_line, name_line;
        enum member_kind kind;
        int r;

        if (tok_is(ps, "type"))
                kind = MEMBER_TYPE;
        else if (tok_is(ps, "method"))
                kind = MEMBER_METHOD;
        else if (tok_is(ps, "error"))
                kind = MEMBER_ERROR;
        else
                return fail(ps, "expected 'type', 'method' or 'error'");
        next_token(ps);

        name_line = ps->tok_line;
        r = take_word(ps, valid_type_name,
                      kind == MEMBER_TYPE     ? "a type name (capitalised)"
                      : kind == MEMBER_METHOD ? "a method name (capitalised)"
                                              : "an error name (capitalised)",
                      &name);
        if (r < 0)
                return r;
        if (member_exists(iface, name))
                return set_error(ps->err, -EINVAL, "line %u: '%s' is defined twice", name_line,
                                 name);

        /* Only a named type may be an enum; method and error parameters are structs. */
        r = parse_paren(ps, kind == MEMBER_TYPE, &a);
        if (r < 0)
                return r;
        if (kind == MEMBER_METHOD) {
                r = expect(ps, "->");
                if (r < 0)
                        return r;
                r = parse_paren(ps, false, &b);
                if (r < 0)
                        return r;
        }

        switch (kind) {
        case MEMBER_TYPE:
                if (GROW(iface->aliases, iface->cap_aliases, iface->n_aliases) < 0)
                        return -ENOMEM;
                iface->aliases[iface->n_aliases++] =
                        (struct vl_alias){ steal_ptr(name), steal_ptr(a), line };
                break;
        case MEMBER_METHOD:
                if (GROW(iface->methods, iface->cap_methods, iface->n_methods) < 0)
                        return -ENOMEM;
                iface->methods[iface->n_methods++] =
                        (struct vl_method){ steal_ptr(name), steal_ptr(a), steal_ptr(b), line };
                break;
        case MEMBER_ERROR:
                if (GROW(iface->errors, iface->cap_errors, iface->n_errors) < 0)
                        return -ENOMEM;
                iface->errors[iface->n_errors++] =
                        (struct vl_error_def){ steal_ptr(name), steal_ptr(a), line };
                break;
        }
        return 0;
}

/* Bind every named reference to its alias; an unknown name is an error at its line. */
static int resolve(struct vl_interface *iface, struct vl_type *t, char **err)
{
        int r;

        if (!t)
                return 0;
        if (t->kind == VL_NAMED) {
                const struct vl_alias *a = find_alias(iface, t->name);

                if (!a)
                        return set_error(err, -EINVAL, "line %u: unknown type '%s'", t->line,
                                         t->name);
                t->target = a->type;
        }
        r = resolve(iface, t->elem, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_fields; i++) {
                r = resolve(iface, t->fields[i].type, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vl_interface_parse(const char *text, struct vl_interface **ret, char **err)
{
        _cleanup_(vl_interface_freep) struct vl_interface *iface = NULL;
        struct parser ps = { .p = text, .line = 1, .err = err };
        int r;

        if (!text)
                return set_error(err, -EINVAL, "no interface text");
        iface = calloc(1, sizeof(*iface));
        if (!iface)
                return -ENOMEM;
        iface->text = strdup(text);
        if (!iface->text)
                return -ENOMEM;

        next_token(&ps);
        r = expect(&ps, "interface");
        if (r < 0)
                return r;
        r = take_word(&ps, valid_interface_name, "an interface name (reverse domain)",
                      &iface->name);
        if (r < 0)
                return r;

        while (ps.kind != TOK_EOF) {
                r = parse_member(&ps, iface);
                if (r < 0)
                        return r;
        }
        if (iface->n_aliases + iface->n_methods + iface->n_errors == 0)
                return set_error(err, -EINVAL, "line %u: interface '%s' declares no members",
                                 ps.tok_line, iface->name);

        for (size_t i = 0; i < iface->n_aliases; i++) {
                r = resolve(iface, iface->aliases[i].type, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < iface->n_methods; i++) {
                r = resolve(iface, iface->methods[i].in, err);
                if (r >= 0)
                        r = resolve(iface, iface->methods[i].out, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < iface->n_errors; i++) {
                r = resolve(iface, iface->errors[i].params, err);
                if (r < 0)
                        return r;
        }

        *ret = steal_ptr(iface);
        return 0;
}

/* ---- accessors ------------------------------------------------------------ */

const char *vl_interface_name(const struct vl_interface *iface)
{
        return iface->name;
}

const char *vl_interface_text(const struct vl_interface *iface)
{
        return iface->text;
}

const struct vl_method *vl_interface_method(const struct vl_interface *iface, const char *name)
{
        for (size_t i = 0; i < iface->n_methods; i++)
                if (streq(iface->methods[i].name, name))
                        return &iface->methods[i];
        return NULL;
}

const char *vl_method_name(const struct vl_method *m)
{
        return m->name;
}

size_t vl_interface_n_methods(const struct vl_interface *iface)
{
        return iface->n_methods;
}

const struct vl_method *vl_interface_method_at(const struct vl_interface *iface, size_t i)
{
        return i < iface->n_methods ? &iface->methods[i] : NULL;
}

static const struct vl_error_def *find_error(const struct vl_interface *iface, const char *name)
{
        for (size_t i = 0; i < iface->n_errors; i++)
                if (streq(iface->errors[i].name, name))
                        return &iface->errors[i];
        return NULL;
}

bool vl_interface_has_error(const struct vl_interface *iface, const char *name)
{
        return find_error(iface, name) != NULL;
}

/* ---- validated text -------------------------------------------------------- */

#define VL_TEXT_MAGIC 0x766c7478u      /* "vltx": what a text node's userdata points at */

struct vl_text {
        uint32_t magic;
        unsigned refs;
        char *type;             /* the type it was validated against, as spelled */
        size_t len;
        char *json;
};

struct vl_text *vl_text_ref(struct vl_text *t)
{
        if (t)
                t->refs++;
        return t;
}

void vl_text_unref(struct vl_text *t)
{
        if (!t || --t->refs > 0)
                return;
        free(t->type);
        free(t->json);
        free(t);
}

const char *vl_text_json(const struct vl_text *t, size_t *len)
{
        if (len)
                *len = t->len;
        return t->json;
}

static void text_node_free(struct json_object *o, void *userdata)
{
        vl_text_unref(userdata);
}

static int text_node_print(struct json_object *o, struct printbuf *pb, int level, int flags)
{
        const struct vl_text *t = json_object_get_userdata(o);

        return printbuf_memappend(pb, t->json, (int)t->len);
}

struct json_object *vl_text_node(struct vl_text *t)
{
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_set_serializer(o, text_node_print, vl_text_ref(t), text_node_free);
        return o;
}

/* The text behind a node made by vl_text_node(), or NULL for any other. */
static const struct vl_text *text_of(struct json_object *v)
{
        const struct vl_text *t;

        if (!json_object_is_type(v, json_type_object))
                return NULL;
        t = json_object_get_userdata(v);
        return t && t->magic == VL_TEXT_MAGIC ? t : NULL;
}

const char *vl_text_of_node(struct json_object *v, size_t *len)
{
        const struct vl_text *t = text_of(v);

        if (t && len)
                *len = t->len;
        return t ? t->json : NULL;
}

/*
 * Whether s begins with the spelling of type t (its own nullability is
 * left out at the top: a value of "?[]X" is a "[]X"); *end is what follows.
 */
static bool spelled(const struct vl_type *t, const char *s, bool top, const char **end)
{
        static const char *const basic[] = {
                [VL_BOOL] = "bool", [VL_INT] = "int", [VL_FLOAT] = "float",
                [VL_STRING] = "string", [VL_OBJECT] = "object",
        };
        size_t n;

        if (!top && t->nullable) {
                if (*s != '?')
                        return false;
                s++;
        }
        switch (t->kind) {
        case VL_BOOL:
        case VL_INT:
        case VL_FLOAT:
        case VL_STRING:
        case VL_OBJECT:
                n = strlen(basic[t->kind]);
                if (strncmp(s, basic[t->kind], n) != 0 || isalnum((unsigned char)s[n]))
                        return false;
                *end = s + n;
                return true;
        case VL_NAMED:
                n = strlen(t->name);
                if (strncmp(s, t->name, n) != 0 || isalnum((unsigned char)s[n]))
                        return false;
                *end = s + n;
                return true;
        case VL_ARRAY:
                return startswith(s, "[]") && spelled(t->elem, s + 2, false, end);
        case VL_MAP:
                return startswith(s, "[string]") && spelled(t->elem, s + 8, false, end);
        default:
                return false;   /* anonymous structs and enums have no name to match */
        }
}

static bool is_spelled(const struct vl_type *t, const char *s)
{
        const char *end = NULL;

        return spelled(t, s, true, &end) && *end == '\0';
}

static int validate_value(const struct vl_type *t, struct json_object *v, char **bad);

int vl_text_new(const struct vl_interface *iface, const char *type, struct json_object *v,
                struct vl_text **ret, char **bad)
{
        _cleanup_(type_freep) struct vl_type *t = NULL;
        _cleanup_free_ char *b = NULL;
        struct parser ps = { .p = type, .line = 1 };
        struct vl_text *x;
        const char *json;
        int r;

        next_token(&ps);
        if (parse_type(&ps, &t) < 0 || ps.kind != TOK_EOF || !is_spelled(t, type))
                return -EINVAL;
        r = resolve((struct vl_interface *)iface, t, NULL);
        if (r < 0)
                return -ENOENT;
        r = validate_value(t, v, &b);
        if (r < 0) {
                if (bad)
                        *bad = steal_ptr(b);
                return r;
        }
        json = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
        x = calloc(1, sizeof(*x));
        /*
         * Sent as it is, so valid UTF-8 as every message (varlink.c's
         * write_string): bytes that are not become U+FFFD.  Outside strings
         * the text is ASCII, so repairing the whole text repairs each string.
         */
        if (!x || !json || !(x->type = strdup(type)) ||
            !(x->json = utf8_sanitize(json, strlen(json), &x->len))) {
                if (x)
                        free(x->type);
                free(x);
                return -ENOMEM;
        }
        x->magic = VL_TEXT_MAGIC;
        x->refs = 1;
        *ret = x;
        return 0;
}

/* ---- validator ------------------------------------------------------------ */

/*
 * Prefix the failing path with one more component on the way back up, so
 * the caller sees "devices[2].iommu.coverage".  A failed allocation leaves
 * the shorter path, which still names the place approximately.
 */
static void path_prepend(char **bad, const char *field, long index)
{
        char *n;

        if (!bad || !*bad)
                return;
        if (field)
                n = strdup_printf("%s%s%s", field, (**bad && **bad != '[') ? "." : "", *bad);
        else
                n = strdup_printf("[%ld]%s%s", index, (**bad && **bad != '[') ? "." : "", *bad);
        if (n) {
                free(*bad);
                *bad = n;
        }
}

static int bad_here(char **bad)
{
        if (bad && !*bad)
                *bad = strdup("");
        return -EINVAL;
}

static int validate_struct(const struct vl_type *t, struct json_object *v, char **bad);

static int validate_value(const struct vl_type *t, struct json_object *v, char **bad)
{
        const struct vl_text *text;
        int r;

        if (!v || json_object_get_type(v) == json_type_null)
                return t->nullable ? 0 : bad_here(bad);
        /* Text validated when it was made: right where its type is expected, wrong elsewhere. */
        text = text_of(v);
        if (text)
                return is_spelled(t, text->type) ? 0 : bad_here(bad);

        switch (t->kind) {
        case VL_BOOL:
                return json_object_is_type(v, json_type_boolean) ? 0 : bad_here(bad);
        case VL_INT:
                return json_object_is_type(v, json_type_int) ? 0 : bad_here(bad);
        case VL_FLOAT:
                return json_object_is_type(v, json_type_double) ||
                                       json_object_is_type(v, json_type_int)
                               ? 0
                               : bad_here(bad);
        case VL_STRING:
                return json_object_is_type(v, json_type_string) ? 0 : bad_here(bad);
        case VL_OBJECT:
                return json_object_is_type(v, json_type_object) ? 0 : bad_here(bad);
        case VL_NAMED:
                /* The alias's own nullability does not apply: null was handled above. */
                return validate_value(t->target, v, bad);
        case VL_ENUM:
                if (!json_object_is_type(v, json_type_string))
                        return bad_here(bad);
                for (size_t i = 0; i < t->n_values; i++)
                        if (streq(t->values[i], json_object_get_string(v)))
                                return 0;
                return bad_here(bad);
        case VL_STRUCT:
                return validate_struct(t, v, bad);
        case VL_ARRAY: {
                size_t n;

                if (!json_object_is_type(v, json_type_array))
                        return bad_here(bad);
                n = json_object_array_length(v);
                for (size_t i = 0; i < n; i++) {
                        r = validate_value(t->elem, json_object_array_get_idx(v, i), bad);
                        if (r < 0) {
                                path_prepend(bad, NULL, (long)i);
                                return r;
                        }
                }
                return 0;
        }
        case VL_MAP:
                if (!json_object_is_type(v, json_type_object))
                        return bad_here(bad);
                json_object_object_foreach(v, key, val) {
                        r = validate_value(t->elem, val, bad);
                        if (r < 0) {
                                path_prepend(bad, key, 0);
                                return r;
                        }
                }
                return 0;
        }
        return bad_here(bad);
}

/* The index of key among t's fields, trying first the one after the last found. */
static size_t field_index(const struct vl_type *t, const char *key, size_t *next)
{
        if (*next < t->n_fields && streq(t->fields[*next].name, key))
                return (*next)++;
        for (size_t i = 0; i < t->n_fields; i++)
                if (streq(t->fields[i].name, key)) {
                        *next = i + 1;
                        return i;
                }
        return SIZE_MAX;
}

/* Up to this many fields, a struct's values are gathered on the stack in one pass. */
#define FIELDS_ON_STACK 32

static int validate_struct(const struct vl_type *t, struct json_object *v, char **bad)
{
        struct json_object *vals[FIELDS_ON_STACK] = { NULL };
        bool gathered = t->n_fields <= FIELDS_ON_STACK;
        size_t next = 0;
        int r;

        if (!json_object_is_type(v, json_type_object))
                return bad_here(bad);

        /*
         * Unknown fields first: a typo should be named as such, not as
         * "missing".  The members come mostly in the interface's order, so
         * each is found where the last one was, and its value kept for the
         * checks below (no lookup by name for each field).
         */
        json_object_object_foreach(v, key, val) {
                size_t i = field_index(t, key, &next);

                if (i == SIZE_MAX) {
                        if (bad && !*bad)
                                *bad = strdup(key);
                        return -EINVAL;
                }
                if (gathered)
                        vals[i] = val;
        }

        for (size_t i = 0; i < t->n_fields; i++) {
                struct json_object *fv = NULL;

                if (gathered)
                        fv = vals[i];
                else
                        json_object_object_get_ex(v, t->fields[i].name, &fv);
                r = validate_value(t->fields[i].type, fv, bad);
                if (r < 0) {
                        path_prepend(bad, t->fields[i].name, 0);
                        return r;
                }
        }
        return 0;
}

static int validate_params(const struct vl_type *t, struct json_object *params, char **bad_param)
{
        _cleanup_free_ char *bad = NULL;
        _cleanup_(vl_json_unrefp) struct json_object *empty = NULL;
        int r;

        if (!params) {
                empty = json_object_new_object();
                if (!empty)
                        return -ENOMEM;
                params = empty;
        }
        r = validate_struct(t, params, &bad);
        if (r < 0 && bad_param)
                *bad_param = steal_ptr(bad);
        return r;
}

/*
 * The rule for every string a call carries (values and map keys; field
 * names are the interface's own): no NUL (a C string would end early and
 * the rest be ignored), valid UTF-8 (vl_parse_json guarantees it for
 * messages off the wire; callers in the process may build anything), and
 * no control character.  Strings name devices, domains and policy notes,
 * and they end up in logs, the audit table and generated files, where a
 * newline or an escape sequence would forge a line or rewrite a terminal.
 * The failing place is named as in validate_struct, never the bytes.
 */
static int check_request_strings(struct json_object *v, char **bad)
{
        int r;

        switch (json_object_get_type(v)) {
        case json_type_string: {
                const char *s = json_object_get_string(v);
                size_t n = (size_t)json_object_get_string_len(v);

                if (strlen(s) != n || utf8_control_at(s, n) != n)
                        return bad_here(bad);
                return 0;
        }
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        r = check_request_strings(json_object_array_get_idx(v, i), bad);
                        if (r < 0) {
                                path_prepend(bad, NULL, (long)i);
                                return r;
                        }
                }
                return 0;
        case json_type_object: {
                json_object_object_foreach(v, key, val) {
                        if (utf8_control_at(key, strlen(key)) != strlen(key)) {
                                /* The key itself is what is wrong: name its parent only. */
                                return bad_here(bad);
                        }
                        r = check_request_strings(val, bad);
                        if (r < 0) {
                                path_prepend(bad, key, 0);
                                return r;
                        }
                }
                return 0;
        }
        default:
                return 0;
        }
}

int vl_validate_input(const struct vl_interface *iface, const struct vl_method *m,
                      struct json_object *params, char **bad_param)
{
        _cleanup_free_ char *bad = NULL;
        int r;

        r = validate_params(m->in, params, bad_param);
        if (r < 0 || !params)
                return r;
        r = check_request_strings(params, &bad);
        if (r < 0 && bad_param)
                *bad_param = steal_ptr(bad);
        return r;
}

int vl_validate_output(const struct vl_interface *iface, const struct vl_method *m,
                       struct json_object *params, char **bad_param)
{
        return validate_params(m->out, params, bad_param);
}

int vl_validate_error(const struct vl_interface *iface, const char *error_name,
                      struct json_object *params, char **bad_param)
{
        const struct vl_error_def *e = find_error(iface, error_name);

        if (!e)
                return -ENOENT;
        return validate_params(e->params, params, bad_param);
}
