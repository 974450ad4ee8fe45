/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The owner map (see owners.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "owners.h"
#include "strmap.h"

/* A device some lease held since the map was read: held, or let go. */
struct owner_entry {
        char *path;
        bool held;
        struct engine_owner o;  /* while held */
        uint64_t version;
};

struct owners {
        struct db *db;
        struct strmap map;      /* path -> struct owner_entry */
        bool stale;             /* read everything again */
        int64_t *pending;       /* leases to read again */
        size_t n_pending, cap_pending;
        uint64_t clock;         /* the last version given */
        uint64_t base;          /* the version of a device without an entry */
        uint64_t writes;        /* owners_writes() */
        struct engine_owner direct;     /* an answer the database gave directly */
};

static void entry_free(struct owner_entry *e)
{
        if (!e)
                return;
        engine_owner_clear(&e->o);
        free(e->path);
        free(e);
}

static void clear_entries(struct owners *o)
{
        for (size_t i = 0; i < o->map.cap; i++)
                if (o->map.v[i].key)
                        entry_free(o->map.v[i].value);
        strmap_clear(&o->map);
}

static void on_lease_write(void *userdata, const int64_t *ids, size_t n)
{
        struct owners *o = userdata;

        o->writes++;
        if (!n) {
                o->stale = true;
                return;
        }
        for (size_t i = 0; i < n && !o->stale; i++) {
                bool known = false;

                for (size_t k = 0; k < o->n_pending && !known; k++)
                        known = o->pending[k] == ids[i];
                if (known)
                        continue;
                if (GROW(o->pending, o->cap_pending, o->n_pending) < 0)
                        o->stale = true;        /* cannot remember which: all of them */
                else
                        o->pending[o->n_pending++] = ids[i];
        }
}

int owners_new(struct db *db, struct owners **ret)
{
        struct owners *o = calloc(1, sizeof(*o));

        if (!o)
                return -ENOMEM;
        o->db = db;
        o->stale = true;
        o->direct = (struct engine_owner){ .domid = -1 };
        db_set_lease_watch(db, on_lease_write, o);
        *ret = o;
        return 0;
}

void owners_free(struct owners *o)
{
        if (!o)
                return;
        db_set_lease_watch(o->db, NULL, NULL);
        clear_entries(o);
        free(o->pending);
        engine_owner_clear(&o->direct);
        free(o);
}

/* The entry of path, made (not held) when there is none; NULL: out of memory. */
static struct owner_entry *entry_of(struct owners *o, const char *path)
{
        struct owner_entry *e = strmap_get(&o->map, path);

        if (e)
                return e;
        e = calloc(1, sizeof(*e));
        if (!e || !(e->path = strdup(path)) || strmap_put(&o->map, e->path, e) < 0) {
                if (e)
                        free(e->path);
                free(e);
                return NULL;
        }
        e->o = (struct engine_owner){ .domid = -1 };
        return e;
}

/* Apply one device row: its lease holds it, or lets it go. */
static int apply(struct owners *o, struct db_holder *h)
{
        struct owner_entry *e;

        if (!h->active) {
                e = strmap_get(&o->map, h->path);
                /* Another lease may hold it by now: only its own lease lets it go. */
                if (e && e->held && e->o.lease == h->lease) {
                        engine_owner_clear(&e->o);
                        e->held = false;
                        e->version = ++o->clock;
                }
                return 0;
        }
        e = entry_of(o, h->path);
        if (!e)
                return -ENOMEM;
        engine_owner_clear(&e->o);
        e->o = (struct engine_owner){
                .domid = h->domid,
                .domain = steal_ptr(h->domain_name),
                .state = h->state,
                .lease = h->lease,
                .standing = h->standing,
                .adopted = h->adopted,
                .since = h->created_at,
        };
        e->held = true;
        e->version = ++o->clock;
        return 0;
}

static int apply_all(struct owners *o, struct db_holder *h, size_t n)
{
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++)
                r = apply(o, &h[i]);
        db_holder_array_free(h, n);
        return r;
}

/* Bring the map up to what the database says. */
static int sync_map(struct owners *o)
{
        struct db_holder *h = NULL;
        size_t n = 0;
        int r;

        if (o->stale) {
                r = db_lease_holders(o->db, 0, &h, &n);
                if (r < 0)
                        return r;
                clear_entries(o);
                o->base = ++o->clock;
                o->n_pending = 0;
                r = apply_all(o, h, n);
                if (r < 0)
                        return r;
                o->stale = false;
                log_debug("owner map: read whole, %zu devices held", n);
                return 0;
        }
        while (o->n_pending) {
                int64_t id = o->pending[o->n_pending - 1];

                r = db_lease_holders(o->db, id, &h, &n);
                if (r >= 0)
                        r = apply_all(o, h, n);
                if (r < 0) {
                        o->stale = true;
                        return r;
                }
                o->n_pending--;
        }
        return 0;
}

uint64_t owners_writes(const struct owners *o)
{
        return o->writes;
}

uint64_t owners_version(struct owners *o)
{
        return sync_map(o) < 0 ? 0 : o->clock;
}

int owners_find(struct owners *o, const char *path, const struct engine_owner **ret,
                uint64_t *version)
{
        struct owner_entry *e;
        struct db_lease l = { 0 };
        int r = sync_map(o);

        if (r >= 0) {
                e = strmap_get(&o->map, path);
                if (version)
                        *version = e ? e->version : o->base;
                if (!e || !e->held)
                        return 0;
                *ret = &e->o;
                return 1;
        }
        /* The map cannot be brought up to date: the database answers this one itself. */
        if (version)
                *version = 0;
        r = db_lease_find_by_device(o->db, path, &l);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        engine_owner_clear(&o->direct);
        o->direct = (struct engine_owner){
                .domid = l.domid,
                .domain = steal_ptr(l.domain_name),
                .state = l.state,
                .lease = l.id,
                .standing = l.standing,
                .adopted = l.adopted,
                .since = l.created_at,
        };
        db_lease_clear(&l);
        *ret = &o->direct;
        return 1;
}
