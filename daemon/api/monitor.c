/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.assignd.Broker.Monitor: one subscriber of the event bus per call,
 * streaming events as "continues" replies.
 *
 * The backlog rule: before each event, the bytes still queued on the
 * connection are compared with LIMIT_MONITOR_BACKLOG.  A replay ("since")
 * is queued in one go, since the ring is bounded and the client asked for
 * it; those bytes are an allowance on top of the limit that shrinks as the
 * client reads them, so a resuming client is not punished for its replay
 * but one that then stops reading is dropped like any other.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "events.h"
#include "jv.h"
#include "limit.h"
#include "log.h"
#include "monitor.h"
#include "params.h"
#include "render.h"

struct monitor {
        struct method_call *mc;
        struct events *bus;
        struct events_subscription *sub;
        size_t allowance;       /* replayed bytes not read yet */
        bool in_handler;        /* the dispatcher still holds mc: never finish it now */
        bool gone;              /* finished or dropped: mc is invalid */
};

static void monitor_free(struct monitor *mon)
{
        if (!mon)
                return;
        events_unsubscribe(mon->sub);
        free(mon);
}

static struct json_object *monitor_reply(struct monitor *mon, const struct event *ev)
{
        struct json_object *o = json_object_new_object();
        uint64_t oldest, latest;
        int r = 0;

        events_range(mon->bus, &oldest, &latest);
        if (ev)
                r |= jv_set_obj(o, "event", render_event(ev, events_boot_id(mon->bus)));
        else
                r |= jv_set_null(o, "event");
        r |= jv_set_str(o, "boot_id", events_boot_id(mon->bus));
        r |= jv_set_int(o, "latest", (int64_t)latest);
        if (r) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* The client fell behind: tell it (if it ever reads again) and hang up. */
static void monitor_drop(struct monitor *mon)
{
        struct method_call *mc = mon->mc;
        struct failure *f = method_call_failure(mc);
        uint64_t oldest, latest;

        events_range(mon->bus, &oldest, &latest);
        log_notice("monitor of uid %u pid %d left more than %u bytes of events unread: "
                   "dropping it", (unsigned)method_call_peer(mc)->uid,
                   (int)method_call_peer(mc)->pid, LIMIT_MONITOR_BACKLOG);
        method_call_fail(mc, -ENOBUFS, FAILURE_MONITOR_OVERFLOW,
                         "this monitor left more than %u bytes of events unread and is dropped; "
                         "reconnect with since set to the last event read (the newest is %" PRIu64
                         ")", LIMIT_MONITOR_BACKLOG, latest);
        f->latest = (int64_t)latest;
        failure_fact(&f->boot_id, events_boot_id(mon->bus));
        mon->gone = true;
        events_unsubscribe(mon->sub);
        mon->sub = NULL;
        method_call_finish_error_close(mc, -ENOBUFS);
}

/* Queue one reply; false once the monitor is gone. */
static bool monitor_send(struct monitor *mon, const struct event *ev)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        size_t pending;
        int r;

        if (mon->gone)
                return false;
        pending = method_call_output_pending(mon->mc);
        if (pending < mon->allowance)
                mon->allowance = pending;
        if (!mon->in_handler && pending > (size_t)LIMIT_MONITOR_BACKLOG + mon->allowance) {
                monitor_drop(mon);
                free(mon);
                return false;
        }
        o = monitor_reply(mon, ev);
        if (!o)
                return true;    /* out of memory: this event is lost, the stream is not */
        r = method_call_reply(mon->mc, o, true);
        if (r == -EPROTO || r == -EMSGSIZE) {
                /* A bug (logged by the dispatcher) ended the call: no disconnect callback now. */
                mon->gone = true;
                events_unsubscribe(mon->sub);
                mon->sub = NULL;
                if (!mon->in_handler)
                        free(mon);
                return false;
        }
        /* A dead peer: the disconnect callback frees the monitor. */
        return r != -ECONNRESET;
}

static void on_event(const struct event *ev, void *userdata)
{
        monitor_send(userdata, ev);
}

struct replay {
        struct monitor *mon;
        bool alive;
};

static void on_replay(const struct event *ev, void *userdata)
{
        struct replay *rp = userdata;

        if (rp->alive)
                rp->alive = monitor_send(rp->mon, ev);
}

static void on_disconnect(struct method_call *mc, void *userdata)
{
        monitor_free(userdata);
}

static int resync_required(struct method_call *mc, struct events *bus, const char *why)
{
        struct failure *f = method_call_failure(mc);
        uint64_t oldest, latest;

        events_range(bus, &oldest, &latest);
        method_call_fail(mc, -ERANGE, FAILURE_RESYNC_REQUIRED,
                         "%s: read the current state with ListDevices and ListLeases, then "
                         "monitor from event %" PRIu64, why, latest);
        f->oldest = (int64_t)oldest;
        f->latest = (int64_t)latest;
        failure_fact(&f->boot_id, events_boot_id(bus));
        return -ERANGE;
}

static int monitor_call(struct method_call *mc, struct json_object *params,
                        struct json_object **reply)
{
        struct events *bus = method_call_context(mc)->events;
        struct monitor *mon;
        struct replay rp;
        int64_t since = params_int(params, "since", -1);
        uint64_t oldest, latest;
        const char *boot_id = params_string(params, "boot_id");
        int r;

        if (!bus)
                return method_call_fail(mc, -ENODATA, FAILURE_INTERNAL_ERROR,
                                        "the daemon has no event bus");
        if (params_has(params, "since") && since < 0)
                return method_call_fail_invalid(mc, "since", "since must be an event number (0 "
                                                "or more)");
        events_range(bus, &oldest, &latest);
        if (boot_id && !streq(boot_id, events_boot_id(bus)))
                return resync_required(mc, bus, "the daemon was restarted since that boot_id");
        if (since >= 0) {
                if ((uint64_t)since > latest)
                        return resync_required(mc, bus, "that event number is from another "
                                                        "daemon run");
                if ((uint64_t)since < latest && (uint64_t)since + 1 < oldest)
                        return resync_required(mc, bus, "the events after that number are no "
                                                        "longer kept");
        }

        mon = calloc(1, sizeof(*mon));
        if (!mon)
                return -ENOMEM;
        mon->mc = mc;
        mon->bus = bus;
        mon->in_handler = true;
        r = events_subscribe(bus, on_event, mon, &mon->sub);
        if (r < 0) {
                free(mon);
                return r;
        }
        method_call_on_disconnect(mc, on_disconnect, mon);

        /* From here the call is ours: every answer goes through method_call_reply. */
        rp = (struct replay){ .mon = mon, .alive = monitor_send(mon, NULL) };
        if (rp.alive && since >= 0)
                events_replay(bus, (uint64_t)since, on_replay, &rp);
        if (mon->gone) {
                /* The call already ended with an error; the dispatcher only lets go of it. */
                free(mon);
                return METHOD_DEFERRED;
        }
        mon->allowance = method_call_output_pending(mc);
        mon->in_handler = false;
        return METHOD_DEFERRED;
}

static const struct method_entry monitor_methods[] = {
        { "io.assignd.Broker.Monitor", METHOD_WATCH | METHOD_STREAM, monitor_call },
};

int monitor_register(struct dispatch *d, char **err)
{
        return dispatch_register(d, monitor_methods, ARRAY_SIZE(monitor_methods), err);
}
