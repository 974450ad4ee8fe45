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

static const char *const type_names[EVENT__MAX] = {
        [EVENT_DEVICE_ASSIGNED] = "device-assigned",
        [EVENT_DEVICE_RELEASED] = "device-released",
        [EVENT_RESERVATION_BOUND] = "reservation-bound",
        [EVENT_RESERVATION_EXPIRED] = "reservation-expired",
        [EVENT_INVENTORY_CHANGED] = "inventory-changed",
        [EVENT_DOMAIN_DIED] = "domain-died",
        [EVENT_DEVICE_HELD_OUTSIDE] = "device-held-outside",
        [EVENT_RESERVATION_REFUSED] = "reservation-refused",
};

const char *event_type_name(enum event_type t)
{
        if ((unsigned)t >= EVENT__MAX)
                return "invalid";
        return type_names[t];
}

static void event_free(struct event *e)
{
        if (!e)
                return;
        for (size_t i = 0; i < e->n_devices; i++)
                free(e->devices[i]);
        free(e->devices);
        free((char *)e->domain);
        free((char *)e->detail);
        free(e);
}

/* A copy of e that owns its strings; NULL when out of memory. */
static struct event *event_copy(const struct event *e)
{
        struct event *c = calloc(1, sizeof(*c));
        bool oom = !c;

        if (oom)
                return NULL;
        *c = *e;
        c->devices = NULL;
        c->n_devices = 0;
        c->domain = e->domain ? strdup(e->domain) : NULL;
        c->detail = e->detail ? strdup(e->detail) : NULL;
        oom = (e->domain && !c->domain) || (e->detail && !c->detail);
        if (!oom && e->n_devices) {
                c->devices = calloc(e->n_devices, sizeof(*c->devices));
                oom = !c->devices;
                if (!oom)
                        c->n_devices = e->n_devices;
                for (size_t i = 0; !oom && i < e->n_devices; i++) {
                        c->devices[i] = strdup(e->devices[i]);
                        oom = !c->devices[i];
                }
        }
        if (oom) {
                event_free(c);
                return NULL;
        }
        return c;
}

struct events_subscription {
        struct events *bus;
        struct events_subscription *next;
        events_fn fn;
        void *userdata;
        bool dead;              /* unsubscribed while the list was being walked */
};

struct events {
        struct event **ring;            /* ring[seq % size] */
        size_t size;
        uint64_t next_seq;              /* the number the next event gets */
        uint64_t oldest;                /* oldest number still in the ring, 0: empty */
        char boot_id[33];
        struct events_subscription *subs;
        size_t n_subs;
        unsigned walking;               /* nesting depth of deliveries */
        /*
         * Events pushed out of the ring during a delivery: a subscriber may
         * still hold one (an emit from inside a callback can evict the very
         * event being delivered), so they are freed once it is over.
         */
        struct event **evicted;
        size_t n_evicted, cap_evicted;
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
                event_free(ev->ring[i]);
        for (size_t i = 0; i < ev->n_evicted; i++)
                event_free(ev->evicted[i]);
        free(ev->evicted);
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

int64_t events_emit(struct events *ev, const struct event *e)
{
        struct event *c;
        struct timespec ts;
        uint64_t seq;
        size_t slot;

        if (!ev)
                return 0;
        c = event_copy(e);
        if (!c)
                return -ENOMEM;
        seq = ev->next_seq;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->seq = seq;
        c->time_usec = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;

        slot = seq % ev->size;
        if (ev->ring[slot] && ev->walking) {
                if (GROW(ev->evicted, ev->cap_evicted, ev->n_evicted) < 0) {
                        event_free(c);
                        return -ENOMEM;
                }
                ev->evicted[ev->n_evicted++] = ev->ring[slot];
        } else {
                event_free(ev->ring[slot]);
        }
        ev->ring[slot] = c;
        ev->next_seq++;
        if (!ev->oldest)
                ev->oldest = seq;
        else if (seq - ev->oldest >= ev->size)
                ev->oldest = seq - ev->size + 1;

        /* A subscriber's callback may emit, subscribe or unsubscribe. */
        ev->walking++;
        for (struct events_subscription *s = ev->subs; s; s = s->next)
                if (!s->dead)
                        s->fn(c, s->userdata);
        ev->walking--;
        reap_dead(ev);
        if (!ev->walking) {
                for (size_t i = 0; i < ev->n_evicted; i++)
                        event_free(ev->evicted[i]);
                ev->n_evicted = 0;
        }
        return (int64_t)seq;
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
                fn(ev->ring[s % ev->size], userdata);
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
