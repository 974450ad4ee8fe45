/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading validated call parameters (see params.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "params.h"

static struct json_object *param(struct json_object *params, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(params, key, &v))
                return NULL;
        return v;
}

bool params_has(struct json_object *params, const char *key)
{
        return param(params, key) != NULL;
}

const char *params_string(struct json_object *params, const char *key)
{
        struct json_object *v = param(params, key);

        return v ? json_object_get_string(v) : NULL;
}

int params_bool(struct json_object *params, const char *key)
{
        struct json_object *v = param(params, key);

        return v ? (json_object_get_boolean(v) ? 1 : 0) : -1;
}

int64_t params_int(struct json_object *params, const char *key, int64_t dflt)
{
        struct json_object *v = param(params, key);

        return v ? json_object_get_int64(v) : dflt;
}

int params_strv(struct json_object *params, const char *key, const char ***ret, size_t *n)
{
        struct json_object *a = param(params, key);
        const char **v;
        size_t len;

        *ret = NULL;
        *n = 0;
        if (!a)
                return 0;
        len = json_object_array_length(a);
        v = calloc(len + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                v[i] = json_object_get_string(json_object_array_get_idx(a, i));
        *ret = v;
        *n = len;
        return 0;
}
