/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Typed helpers over json-c's values ("jv"): setting object members and
 * appending array elements with the type in the function's name, and
 * reading members with a fallback for absent, null or mistyped ones.
 *
 * Every setter takes over the value it is given and returns 0 or
 * -ENOMEM; a NULL value (an allocation that already failed) is -ENOMEM,
 * so "r |= jv_set_...(...)" over a whole object and one check at the end
 * catches any failure.  Strings given as NULL become JSON null where the
 * function says so.
 */
#ifndef ASSIGND_JV_H
#define ASSIGND_JV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Set o[key]; v NULL becomes null. */
int jv_set_str(struct json_object *o, const char *key, const char *v);
int jv_set_int(struct json_object *o, const char *key, int64_t v);
int jv_set_bool(struct json_object *o, const char *key, bool v);
int jv_set_null(struct json_object *o, const char *key);
/* Set o[key] to v, taken over; v NULL is -ENOMEM. */
int jv_set_obj(struct json_object *o, const char *key, struct json_object *v);
/* Set o[key] to v, taken over; v NULL becomes null. */
int jv_set_nullable(struct json_object *o, const char *key, struct json_object *v);
/* Set o[key] to an array of the n strings of v. */
int jv_set_strv(struct json_object *o, const char *key, const char *const *v, size_t n);

/* Append to the array a. */
int jv_push_str(struct json_object *a, const char *v);
int jv_push_int(struct json_object *a, int64_t v);
int jv_push_obj(struct json_object *a, struct json_object *v);  /* v taken over */

/* A new array of the n strings of v (NULL on allocation failure). */
struct json_object *jv_strv(const char *const *v, size_t n);

/* o[key] if it has that type, else the fallback (o may be NULL). */
const char *jv_get_str(struct json_object *o, const char *key, const char *fallback);
int64_t jv_get_int(struct json_object *o, const char *key, int64_t fallback);
bool jv_get_bool(struct json_object *o, const char *key, bool fallback);
struct json_object *jv_get_array(struct json_object *o, const char *key);    /* or NULL */
struct json_object *jv_get_object(struct json_object *o, const char *key);   /* or NULL */

#endif
