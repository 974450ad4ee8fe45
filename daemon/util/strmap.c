/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A string-keyed hash map (see strmap.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* FNV-1a: keys are short paths, and nothing here faces a hostile key choice at scale. */
static uint64_t hash_of(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ull;

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ull;
        }
        return h;
}

/* The slot key is in, or the empty slot where it would go. */
static size_t slot_of(const struct strmap *m, const char *key, uint64_t h)
{
        size_t mask = m->cap - 1, i = (size_t)h & mask;

        while (m->v[i].key && (m->v[i].hash != h || strcmp(m->v[i].key, key) != 0))
                i = (i + 1) & mask;
        return i;
}

static int grow(struct strmap *m)
{
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct strmap_entry *old = m->v, *v = calloc(cap, sizeof(*v));
        size_t old_cap = m->cap;

        if (!v)
                return -ENOMEM;
        m->v = v;
        m->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].key)
                        m->v[slot_of(m, old[i].key, old[i].hash)] = old[i];
        free(old);
        return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
        uint64_t h = hash_of(key);
        size_t i;

        if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
                return -ENOMEM;
        i = slot_of(m, key, h);
        if (!m->v[i].key)
                m->n++;
        m->v[i] = (struct strmap_entry){ .key = key, .value = value, .hash = h };
        return 0;
}

void *strmap_get(const struct strmap *m, const char *key)
{
        size_t i;

        if (!m->cap)
                return NULL;
        i = slot_of(m, key, hash_of(key));
        return m->v[i].key ? m->v[i].value : NULL;
}

/* Whether slot j's entry, which hashes to home, may move back to hole i (probing wraps). */
static bool may_fill(size_t home, size_t i, size_t j)
{
        return i <= j ? home <= i || home > j : home <= i && home > j;
}

void *strmap_remove(struct strmap *m, const char *key)
{
        size_t mask, i, j;
        void *value;

        if (!m->cap)
                return NULL;
        mask = m->cap - 1;
        i = slot_of(m, key, hash_of(key));
        if (!m->v[i].key)
                return NULL;
        value = m->v[i].value;
        /* Shift the entries after it back, so every probe sequence stays unbroken. */
        for (j = (i + 1) & mask; m->v[j].key; j = (j + 1) & mask) {
                if (!may_fill((size_t)m->v[j].hash & mask, i, j))
                        continue;
                m->v[i] = m->v[j];
                i = j;
        }
        m->v[i] = (struct strmap_entry){ 0 };
        m->n--;
        return value;
}

void strmap_clear(struct strmap *m)
{
        free(m->v);
        *m = STRMAP_INIT;
}
