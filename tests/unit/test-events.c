/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event bus: numbering without gaps, the ring keeping exactly the
 * newest events, replay boundaries (what Monitor's since relies on),
 * subscribers unsubscribing themselves or others from inside a delivery,
 * events emitted from inside a delivery (even one that pushes the event
 * being delivered out of the ring), and the NULL bus producers may be
 * handed.  The JSON form of events is test-api's.
 */
#include <errno.h>
#include <string.h>

#include "events.h"
#include "testlib.h"

struct seen {
        uint64_t seqs[64];
        size_t n;
        struct events_subscription *sub;
        struct events_subscription *other;
        struct events *bus;
        bool unsubscribe_self, unsubscribe_other, emit_once;
};

static int64_t emit(struct events *bus, enum event_type t)
{
        struct event e = EVENT_INIT(t);

        return events_emit(bus, &e);
}

static void record(const struct event *ev, void *userdata)
{
        struct seen *s = userdata;
        uint64_t seq = ev->seq;

        CHECK(seq > 0);
        if (s->n < 64)
                s->seqs[s->n++] = seq;
        if (s->unsubscribe_self) {
                events_unsubscribe(s->sub);
                s->unsubscribe_self = false;
        }
        if (s->unsubscribe_other) {
                events_unsubscribe(s->other);
                s->unsubscribe_other = false;
        }
        if (s->emit_once) {
                s->emit_once = false;
                CHECK(emit(s->bus, EVENT_INVENTORY_CHANGED) > 0);
                /* The event being delivered may have left the ring: it is still readable. */
                CHECK(ev->seq == seq && ev->type <= EVENT_DOMAIN_DIED);
        }
}

static void test_ring(void)
{
        struct events *ev = NULL;
        struct seen s = { 0 };
        uint64_t oldest, latest;

        CHECK_INT(events_new(0, &ev), -EINVAL);
        CHECK_INT(events_new(4, &ev), 0);
        CHECK_INT(strlen(events_boot_id(ev)), 32);
        events_range(ev, &oldest, &latest);
        CHECK(oldest == 0 && latest == 0);
        /* Nothing yet: 0 is up to date, anything else is from another run. */
        CHECK_INT(events_replay(ev, 0, record, &s), 0);
        CHECK_INT(events_replay(ev, 1, record, &s), -ERANGE);

        for (int i = 1; i <= 6; i++)
                CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), i);
        events_range(ev, &oldest, &latest);
        CHECK(oldest == 3 && latest == 6);
        /* Events 3..6 are kept: since 2 replays all four, since 1 lost event 2. */
        CHECK_INT(events_replay(ev, 2, record, &s), 0);
        CHECK_INT(s.n, 4);
        CHECK(s.seqs[0] == 3 && s.seqs[3] == 6);
        s.n = 0;
        CHECK_INT(events_replay(ev, 1, record, &s), -ERANGE);
        CHECK_INT(events_replay(ev, 6, record, &s), 0);
        CHECK_INT(events_replay(ev, 7, record, &s), -ERANGE);
        CHECK_INT(s.n, 0);
        events_free(ev);
}

struct grabbed {
        uint64_t seq[2];
        enum event_type type[2];
        size_t n_devices[2];
        int64_t domid[2], lease[2], time_usec[2];
        const char *cause[2], *detail[2], *device0;
        size_t n;
};

static void grab(const struct event *e, void *userdata)
{
        struct grabbed *g = userdata;

        if (g->n >= 2)
                return;
        g->seq[g->n] = e->seq;
        g->type[g->n] = e->type;
        g->n_devices[g->n] = e->n_devices;
        g->domid[g->n] = e->domid;
        g->lease[g->n] = e->lease;
        g->time_usec[g->n] = e->time_usec;
        g->cause[g->n] = e->cause;
        g->detail[g->n] = e->detail;
        if (g->n == 0 && e->n_devices)
                g->device0 = e->devices[0];
        g->n++;
}

static void test_fields(void)
{
        struct events *ev = NULL;
        char *devs[] = { "/soc/a", "/soc/b" };
        char owned[] = "/soc/a";
        struct event e = EVENT_INIT(EVENT_DEVICE_RELEASED);
        struct grabbed g = { 0 };

        CHECK_INT(events_new(8, &ev), 0);
        devs[0] = owned;
        e.devices = devs;
        e.n_devices = 2;
        e.domid = 3;
        e.domain = "guest";
        e.lease = 7;
        e.cause = EVENT_CAUSE_DOMAIN_DIED;
        e.state = "free";
        CHECK_INT(events_emit(ev, &e), 1);
        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 2);
        /* The bus keeps its own copy: the producer's strings may go. */
        owned[1] = 'X';
        /* Look at the stored events through a replay. */
        CHECK_INT(events_replay(ev, 0, grab, &g), 0);
        CHECK_INT(g.n, 2);
        CHECK(g.seq[0] == 1 && g.seq[1] == 2);
        CHECK(g.type[0] == EVENT_DEVICE_RELEASED && g.type[1] == EVENT_DOMAIN_DIED);
        CHECK_STR(event_type_name(g.type[0]), "device-released");
        CHECK_INT(g.n_devices[0], 2);
        CHECK_STR(g.device0, "/soc/a");
        CHECK_INT(g.domid[0], 3);
        CHECK_INT(g.lease[0], 7);
        CHECK_STR(g.cause[0], "domain-died");
        CHECK(g.time_usec[0] > 1600000000000000LL);
        CHECK(g.detail[0] == NULL);
        /* Absent fields stay absent: no domid, no lease, no devices. */
        CHECK(g.domid[1] == -1 && g.lease[1] == -1 && g.n_devices[1] == 0);
        events_free(ev);

        /* A NULL bus emits nothing. */
        CHECK_INT(events_emit(NULL, &e), 0);
        CHECK_INT(events_n_subscribers(NULL), 0);
}

/* A ring of one: an emit from inside a delivery evicts the event being delivered. */
static void test_evicted_during_delivery(void)
{
        struct events *ev = NULL;
        struct seen a = { 0 };

        CHECK_INT(events_new(1, &ev), 0);
        a.bus = ev;
        CHECK_INT(events_subscribe(ev, record, &a, &a.sub), 0);
        a.emit_once = true;
        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 1);
        CHECK_INT(a.n, 2);
        CHECK(a.seqs[0] == 1 && a.seqs[1] == 2);
        events_free(ev);
}

static void test_subscribers(void)
{
        struct events *ev = NULL;
        struct seen a = { 0 }, b = { 0 };

        CHECK_INT(events_new(16, &ev), 0);
        a.bus = b.bus = ev;
        CHECK_INT(events_subscribe(ev, record, &a, &a.sub), 0);
        CHECK_INT(events_subscribe(ev, record, &b, &b.sub), 0);
        CHECK_INT(events_n_subscribers(ev), 2);

        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 1);
        CHECK(a.n == 1 && b.n == 1);

        /* b is delivered first (newest first); it drops a before a sees the event. */
        b.other = a.sub;
        b.unsubscribe_other = true;
        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 2);
        CHECK_INT(a.n, 1);
        CHECK_INT(b.n, 2);
        CHECK_INT(events_n_subscribers(ev), 1);

        /* An emit from inside a delivery is delivered too, in order. */
        b.emit_once = true;
        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 3);
        CHECK_INT(b.n, 4);
        CHECK(b.seqs[2] == 3 && b.seqs[3] == 4);

        /* Unsubscribing itself from inside its callback. */
        b.unsubscribe_self = true;
        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 5);
        CHECK_INT(emit(ev, EVENT_DOMAIN_DIED), 6);
        CHECK_INT(b.n, 5);
        CHECK_INT(events_n_subscribers(ev), 0);
        events_unsubscribe(NULL);
        events_free(ev);
}

int main(void)
{
        test_ring();
        test_fields();
        test_subscribers();
        test_evicted_during_delivery();
        return test_done();
}
