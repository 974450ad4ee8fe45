/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hash map from strings to pointers: what the daemon looks up by device
 * path on every read (the inventory's devices, the engine's owner map),
 * where a linear search over a large board's devices, or a database query,
 * was a good part of a call.  Open addressing with linear probing and
 * deletion by shifting back, so no tombstones pile up; it grows at 3/4
 * full.  Keys are borrowed: each must outlive its entry (the value usually
 * holds it).
 */
#ifndef ASSIGND_STRMAP_H
#define ASSIGND_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_entry {
        const char *key;        /* NULL: an empty slot */
        void *value;
        uint64_t hash;
};

struct strmap {
        struct strmap_entry *v;
        size_t cap;             /* 0 or a power of two */
        size_t n;
};

#define STRMAP_INIT ((struct strmap){ 0 })

/* Set key's value (replacing what it had); -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* key's value, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Remove key; its value, or NULL when it had none. */
void *strmap_remove(struct strmap *m, const char *key);
/* Forget every entry (the values are the caller's) and the table. */
void strmap_clear(struct strmap *m);

#endif
