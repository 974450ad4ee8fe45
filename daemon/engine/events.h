/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event bus: what happened to devices, leases and domains, in order,
 * for the Monitor stream.  Producers (assignment, release, reservations,
 * the domain watch, inventory rescans) call events_emit(); each event
 * gets the next sequence number and a timestamp, goes into a bounded ring
 * of recent events (the manager sizes it with LIMIT_EVENT_RING) and to
 * every subscriber at once.
 *
 * Sequence numbers start at 1 with each daemon start and are not
 * persisted: every event carries the boot id (random, fixed for the life
 * of the process), so a client that resumes with a number from another
 * boot can tell, and is told to resynchronise.
 *
 * Events are C structs; api/monitor.c renders them.  Types and their
 * fields (proto/io.assignd.Broker.varlink, type Event, is the wire form):
 *   device-assigned     devices, domid, domain, lease
 *   device-released     devices, domid, domain, lease, cause, state
 *   reservation-bound   devices, domid, domain, lease
 *   reservation-expired devices, domain, lease, detail
 *   inventory-changed   devices (those whose classification or policy changed), detail
 *   domain-died         domid, domain, state ("dying" or "gone")
 *   device-held-outside devices, domid, domain, lease, detail: a domain holds
 *                       devices no lease recorded; an adopted lease now does
 *   reservation-refused devices, domid, domain, lease, detail: a non-exclusive
 *                       standing reservation's domain appeared while another
 *                       lease holds its devices
 */
#ifndef ASSIGND_EVENTS_H
#define ASSIGND_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum event_type {
        EVENT_DEVICE_ASSIGNED,
        EVENT_DEVICE_RELEASED,
        EVENT_RESERVATION_BOUND,
        EVENT_RESERVATION_EXPIRED,
        EVENT_INVENTORY_CHANGED,
        EVENT_DOMAIN_DIED,
        EVENT_DEVICE_HELD_OUTSIDE,
        EVENT_RESERVATION_REFUSED,
        EVENT__MAX,
};

/* "device-assigned" and so on, as the wire spells the type. */
const char *event_type_name(enum event_type t);

/* Causes of device-released. */
#define EVENT_CAUSE_REQUEST "request"
#define EVENT_CAUSE_DOMAIN_DIED "domain-died"
#define EVENT_CAUSE_RECONCILE "reconcile"
#define EVENT_CAUSE_VERIFICATION_FAILED "verification-failed"

/*
 * One event.  seq and time_usec are given by the bus; the rest by the
 * producer, with -1 for "no domid" / "no lease" and NULL for absent text.
 * cause and state are static strings.
 */
struct event {
        uint64_t seq;
        int64_t time_usec;              /* CLOCK_REALTIME */
        enum event_type type;
        char **devices;
        size_t n_devices;
        int64_t domid;
        const char *domain;
        int64_t lease;
        const char *cause;
        const char *state;
        const char *detail;
};

/* An event of type t with no domid, no lease and nothing else. */
#define EVENT_INIT(t) ((struct event){ .type = (t), .domid = -1, .lease = -1 })

struct events;
struct events_subscription;

/*
 * A subscriber sees each event after it entered the ring (ev is borrowed
 * for the call).  It may unsubscribe itself, or others, from inside the
 * callback.
 */
typedef void (*events_fn)(const struct event *ev, void *userdata);

/* A bus whose ring keeps the newest ring_size events (> 0). */
int events_new(size_t ring_size, struct events **ret);
void events_free(struct events *ev);
DEFINE_FREE_FUNC(struct events, events_free)

/* The random id of this bus (32 hex digits), fixed for its lifetime. */
const char *events_boot_id(const struct events *ev);

/*
 * Emit a copy of e (its devices and text included; seq and time are set
 * here).  Returns the sequence number (> 0), or -ENOMEM (the number is
 * not used up then).  ev may be NULL: nothing happens and 0 is returned,
 * so producers need not care whether anybody set a bus up (unit tests of
 * the engine do not).
 */
int64_t events_emit(struct events *ev, const struct event *e);

/* Sequence numbers of the oldest and newest event in the ring (0, 0 when empty). */
void events_range(const struct events *ev, uint64_t *oldest, uint64_t *latest);

/*
 * Call fn for every event in the ring with a number above since, oldest
 * first.  -ERANGE when events after since have already left the ring
 * (the caller must resynchronise), or when since is beyond the newest
 * number (it comes from another boot).
 */
int events_replay(const struct events *ev, uint64_t since, events_fn fn, void *userdata);

/* Be called for every new event; *ret identifies the subscription. */
int events_subscribe(struct events *ev, events_fn fn, void *userdata,
                     struct events_subscription **ret);
/* Stop being called (NULL is fine).  Safe from inside any callback. */
void events_unsubscribe(struct events_subscription *s);
size_t events_n_subscribers(const struct events *ev);

#endif
