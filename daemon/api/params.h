/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading a call's parameters.  The dispatcher has validated them against
 * the method's input type, so these only deal with "absent or null".
 */
#ifndef ASSIGND_PARAMS_H
#define ASSIGND_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Whether the parameter is given (present and not null). */
bool params_has(struct json_object *params, const char *key);
/* A string parameter, or NULL when absent or null. */
const char *params_string(struct json_object *params, const char *key);
/* 1 / 0, or -1 when absent or null. */
int params_bool(struct json_object *params, const char *key);
/* An int parameter, or dflt when absent or null. */
int64_t params_int(struct json_object *params, const char *key, int64_t dflt);
/*
 * A []string parameter as a NULL-terminated vector of borrowed strings
 * (*ret malloc'd; NULL and 0 when absent or null); -ENOMEM.
 */
int params_strv(struct json_object *params, const char *key, const char ***ret, size_t *n);

#endif
