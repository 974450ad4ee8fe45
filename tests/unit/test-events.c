/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event bus: numbering without gaps, the ring keeping exactly the
 * newest events, replay boundaries (what Monitor's since relies on),
 * subscribers unsubscribing themselves or others from inside a delivery,
 * events emitted from inside a delivery, and the NULL bus producers may
 * be handed.
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

static void record(const struct json_object *ev, uint64_t seq, void *userdata)
{
        struct seen *s = userdata;
        struct json_object *v;

        CHECK(json_object_object_get_ex((struct json_object *)ev, "seq", &v) &&
              (uint64_t)json_object_get_int64(v) == seq);
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
                CHECK(events_emit(s->bus, EVENT_INVENTORY_CHANGED, NULL) > 0);
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
                CHECK_INT(events_emit(ev, EVENT_DOMAIN_DIED, NULL), i);
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
        struct json_object *ev[2];
        size_t n;
};

static void grab(const struct json_object *e, uint64_t seq, void *userdata)
{
        struct grabbed *g = userdata;

        if (g->n < 2)
                g->ev[g->n++] = json_object_get((struct json_object *)e);
}

static void test_fields(void)
{
        struct events *ev = NULL;
        const char *devs[] = { "/soc/a", "/soc/b" };
        struct json_object *o, *v;
        struct grabbed g = { 0 };

        CHECK_INT(events_new(8, &ev), 0);
        CHECK_INT(events_emit_lease(ev, EVENT_DEVICE_RELEASED, devs, 2, 3, "guest", 7,
                                    EVENT_CAUSE_DOMAIN_DIED, "free", NULL), 1);
        CHECK_INT(events_emit_lease(ev, EVENT_DOMAIN_DIED, NULL, 0, -1, NULL, -1, NULL, NULL,
                                    NULL), 2);
        /* Look at the stored events through a replay. */
        CHECK_INT(events_replay(ev, 0, grab, &g), 0);
        CHECK_INT(g.n, 2);
        if (g.n == 2) {
                o = g.ev[0];
                CHECK(json_object_object_get_ex(o, "type", &v) &&
                      !strcmp(json_object_get_string(v), "device-released"));
                CHECK(json_object_object_get_ex(o, "devices", &v) &&
                      json_object_array_length(v) == 2);
                CHECK(json_object_object_get_ex(o, "domid", &v) && json_object_get_int(v) == 3);
                CHECK(json_object_object_get_ex(o, "cause", &v) &&
                      !strcmp(json_object_get_string(v), "domain-died"));
                CHECK(json_object_object_get_ex(o, "boot_id", &v) &&
                      !strcmp(json_object_get_string(v), events_boot_id(ev)));
                CHECK(json_object_object_get_ex(o, "time_usec", &v) &&
                      json_object_get_int64(v) > 1600000000000000LL);
                CHECK(!json_object_object_get_ex(o, "detail", NULL));
                /* Absent fields stay absent: no domid -1, no empty devices. */
                CHECK(!json_object_object_get_ex(g.ev[1], "domid", NULL));
                CHECK(!json_object_object_get_ex(g.ev[1], "devices", NULL));
        }
        json_object_put(g.ev[0]);
        json_object_put(g.ev[1]);
        events_free(ev);

        /* A NULL bus takes the fields and emits nothing. */
        CHECK_INT(events_emit(NULL, EVENT_DOMAIN_DIED, json_object_new_object()), 0);
        CHECK_INT(events_emit_lease(NULL, EVENT_DOMAIN_DIED, NULL, 0, 1, "x", -1, NULL, NULL,
                                    NULL), 0);
        CHECK_INT(events_n_subscribers(NULL), 0);
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

        CHECK_INT(events_emit(ev, EVENT_DOMAIN_DIED, NULL), 1);
        CHECK(a.n == 1 && b.n == 1);

        /* b is delivered first (newest first); it drops a before a sees the event. */
        b.other = a.sub;
        b.unsubscribe_other = true;
        CHECK_INT(events_emit(ev, EVENT_DOMAIN_DIED, NULL), 2);
        CHECK_INT(a.n, 1);
        CHECK_INT(b.n, 2);
        CHECK_INT(events_n_subscribers(ev), 1);

        /* An emit from inside a delivery is delivered too, in order. */
        b.emit_once = true;
        CHECK_INT(events_emit(ev, EVENT_DOMAIN_DIED, NULL), 3);
        CHECK_INT(b.n, 4);
        CHECK(b.seqs[2] == 3 && b.seqs[3] == 4);

        /* Unsubscribing itself from inside its callback. */
        b.unsubscribe_self = true;
        CHECK_INT(events_emit(ev, EVENT_DOMAIN_DIED, NULL), 5);
        CHECK_INT(events_emit(ev, EVENT_DOMAIN_DIED, NULL), 6);
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
        return test_done();
}
