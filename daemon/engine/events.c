/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event bus behind Monitor: sequence numbers, a bounded ring of the
 * newest events for clients that resume, and the list of subscribers
 * each new event goes to.  It knows nothing about sockets: a subscriber
 * that cannot keep up is the subscriber's problem (monitor.c drops it),
 * never a reason to hold an event back from the others.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "events.h"

struct events_subscription {
        struct events *bus;
        struct events_subscription *next;
        events_fn fn;
        void *userdata;
        bool dead;              /* unsubscribed while the list was being walked */
};

struct events {
        struct json_object **ring;      /* ring[seq % size] */
        size_t size;
        uint64_t next_seq;              /* the number the next event gets */
        uint64_t oldest;                /* oldest number still in the ring, 0: empty */
        char boot_id[33];
        struct events_subscription *subs;
        size_t n_subs;
        unsigned walking;               /* nesting depth of deliveries */
        bool has_dead;
};

static void make_boot_id(char out[33])
{
        uint8_t b[16] = { 0 };
        struct timespec ts;
        size_t got = 0;

        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, GRND_NONBLOCK);

                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        if (got < sizeof(b)) {
                /* Early boot without entropy: unique enough to tell two starts apart. */
                clock_gettime(CLOCK_REALTIME, &ts);
                memcpy(b, &ts, sizeof(ts) < sizeof(b) ? sizeof(ts) : sizeof(b));
        }
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int events_new(size_t ring_size, struct events **ret)
{
        struct events *ev;

        if (ring_size == 0)
                return -EINVAL;
        ev = calloc(1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        ev->ring = calloc(ring_size, sizeof(*ev->ring));
        if (!ev->ring) {
                free(ev);
                return -ENOMEM;
        }
        ev->size = ring_size;
        ev->next_seq = 1;
        make_boot_id(ev->boot_id);
        *ret = ev;
        return 0;
}

void events_free(struct events *ev)
{
        if (!ev)
                return;
        while (ev->subs) {
                struct events_subscription *s = ev->subs;

                ev->subs = s->next;
                free(s);
        }
        for (size_t i = 0; i < ev->size; i++)
                json_object_put(ev->ring[i]);
        free(ev->ring);
        free(ev);
}

const char *events_boot_id(const struct events *ev)
{
        return ev->boot_id;
}

void events_range(const struct events *ev, uint64_t *oldest, uint64_t *latest)
{
        *oldest = ev->oldest;
        *latest = ev->oldest ? ev->next_seq - 1 : 0;
}

static void reap_dead(struct events *ev)
{
        struct events_subscription **p = &ev->subs;

        if (ev->walking || !ev->has_dead)
                return;
        while (*p) {
                struct events_subscription *s = *p;

                if (s->dead) {
                        *p = s->next;
                        free(s);
                } else {
                        p = &s->next;
                }
        }
        ev->has_dead = false;
}

static int add_field(struct json_object *o, const char *k, struct json_object *v)
{
        if (!v)
                return -ENOMEM;
        return json_object_object_add(o, k, v) < 0 ? -ENOMEM : 0;
}

int64_t events_emit(struct events *ev, const char *type, struct json_object *fields)
{
        struct json_object *o = fields;
        struct timespec ts;
        uint64_t seq;
        size_t slot;

        if (!ev) {
                json_object_put(fields);
                return 0;
        }
        if (!o)
                o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        seq = ev->next_seq;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (add_field(o, "seq", json_object_new_int64((int64_t)seq)) < 0 ||
            add_field(o, "boot_id", json_object_new_string(ev->boot_id)) < 0 ||
            add_field(o, "time_usec",
                      json_object_new_int64((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000)) < 0 ||
            add_field(o, "type", json_object_new_string(type)) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }

        slot = seq % ev->size;
        json_object_put(ev->ring[slot]);
        ev->ring[slot] = o;
        ev->next_seq++;
        if (!ev->oldest)
                ev->oldest = seq;
        else if (seq - ev->oldest >= ev->size)
                ev->oldest = seq - ev->size + 1;

        /* A subscriber's callback may emit, subscribe or unsubscribe. */
        json_object_get(o);
        ev->walking++;
        for (struct events_subscription *s = ev->subs; s; s = s->next)
                if (!s->dead)
                        s->fn(o, seq, s->userdata);
        ev->walking--;
        reap_dead(ev);
        json_object_put(o);
        return (int64_t)seq;
}

int64_t events_emit_lease(struct events *ev, const char *type, const char *const *devices,
                          size_t n_devices, int64_t domid, const char *domain, int64_t lease,
                          const char *cause, const char *state, const char *detail)
{
        struct json_object *o, *a;

        if (!ev)
                return 0;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (n_devices) {
                a = json_object_new_array();
                if (add_field(o, "devices", a) < 0)
                        goto oom;
                for (size_t i = 0; i < n_devices; i++)
                        if (json_object_array_add(a, json_object_new_string(devices[i])) < 0)
                                goto oom;
        }
        if ((domid >= 0 && add_field(o, "domid", json_object_new_int64(domid)) < 0) ||
            (domain && add_field(o, "domain", json_object_new_string(domain)) < 0) ||
            (lease >= 0 && add_field(o, "lease", json_object_new_int64(lease)) < 0) ||
            (cause && add_field(o, "cause", json_object_new_string(cause)) < 0) ||
            (state && add_field(o, "state", json_object_new_string(state)) < 0) ||
            (detail && add_field(o, "detail", json_object_new_string(detail)) < 0))
                goto oom;
        return events_emit(ev, type, o);
oom:
        json_object_put(o);
        return -ENOMEM;
}

int events_replay(const struct events *ev, uint64_t since, events_fn fn, void *userdata)
{
        uint64_t oldest, latest;

        events_range(ev, &oldest, &latest);
        if (since > latest)
                return -ERANGE;
        if (since == latest)
                return 0;
        /* since < latest, so the ring is not empty; since + 1 must still be there. */
        if (since + 1 < oldest)
                return -ERANGE;
        for (uint64_t s = since + 1; s <= latest; s++)
                fn(ev->ring[s % ev->size], s, userdata);
        return 0;
}

int events_subscribe(struct events *ev, events_fn fn, void *userdata,
                     struct events_subscription **ret)
{
        struct events_subscription *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->bus = ev;
        s->fn = fn;
        s->userdata = userdata;
        /* At the head: an event being delivered now does not reach it twice or at all. */
        s->next = ev->subs;
        ev->subs = s;
        ev->n_subs++;
        *ret = s;
        return 0;
}

void events_unsubscribe(struct events_subscription *s)
{
        struct events *ev;

        if (!s || s->dead)
                return;
        ev = s->bus;
        s->dead = true;
        ev->has_dead = true;
        ev->n_subs--;
        reap_dead(ev);
}

size_t events_n_subscribers(const struct events *ev)
{
        return ev ? ev->n_subs : 0;
}
