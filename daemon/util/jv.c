/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The typed JSON helpers of jv.h.  json-c spells JSON null as a NULL
 * value, which is why "absent" and "null" read the same here.
 */
#include <errno.h>

#include "jv.h"

int jv_set_obj(struct json_object *o, const char *key, struct json_object *v)
{
        if (!o || !v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int jv_set_nullable(struct json_object *o, const char *key, struct json_object *v)
{
        if (!o || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int jv_set_null(struct json_object *o, const char *key)
{
        return jv_set_nullable(o, key, NULL);
}

int jv_set_str(struct json_object *o, const char *key, const char *v)
{
        return v ? jv_set_obj(o, key, json_object_new_string(v)) : jv_set_null(o, key);
}

int jv_set_int(struct json_object *o, const char *key, int64_t v)
{
        return jv_set_obj(o, key, json_object_new_int64(v));
}

int jv_set_bool(struct json_object *o, const char *key, bool v)
{
        return jv_set_obj(o, key, json_object_new_boolean(v));
}

int jv_set_strv(struct json_object *o, const char *key, const char *const *v, size_t n)
{
        return jv_set_obj(o, key, jv_strv(v, n));
}

int jv_push_obj(struct json_object *a, struct json_object *v)
{
        if (!a || !v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int jv_push_str(struct json_object *a, const char *v)
{
        return jv_push_obj(a, v ? json_object_new_string(v) : NULL);
}

int jv_push_int(struct json_object *a, int64_t v)
{
        return jv_push_obj(a, json_object_new_int64(v));
}

struct json_object *jv_strv(const char *const *v, size_t n)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++)
                if (jv_push_str(a, v[i]) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

static struct json_object *member(struct json_object *o, const char *key, json_type t)
{
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
                return NULL;
        return v;
}

const char *jv_get_str(struct json_object *o, const char *key, const char *fallback)
{
        struct json_object *v = member(o, key, json_type_string);

        return v ? json_object_get_string(v) : fallback;
}

int64_t jv_get_int(struct json_object *o, const char *key, int64_t fallback)
{
        struct json_object *v = member(o, key, json_type_int);

        return v ? json_object_get_int64(v) : fallback;
}

bool jv_get_bool(struct json_object *o, const char *key, bool fallback)
{
        struct json_object *v = member(o, key, json_type_boolean);

        return v ? json_object_get_boolean(v) : fallback;
}

struct json_object *jv_get_array(struct json_object *o, const char *key)
{
        return member(o, key, json_type_array);
}

struct json_object *jv_get_object(struct json_object *o, const char *key)
{
        return member(o, key, json_type_object);
}
