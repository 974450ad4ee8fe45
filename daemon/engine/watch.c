/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domain lifecycle: turns the backend's "something changed" fd into
 * domain-died events and lease settlement.  Xen's watches carry no domid
 * (@releaseDomain fires for any domain), so each firing re-lists the
 * domains and diffs the list against the last one.  Xen has already
 * dropped a dead domain's permissions, mappings and routed SPIs and handed
 * its protected devices to DOMID_IO by the time the domain is gone; the
 * engine only records that (recovery_domains_changed), it does not repeat
 * hypercalls that would fail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "events.h"
#include "hv.h"
#include "log.h"
#include "recovery.h"
#include "watch.h"

struct watch {
        struct hv *hv;
        struct engine *engine;
        struct events *events;
        struct hv_domain_info *doms;    /* the last look, sorted by domid */
        size_t n_doms;
        struct event *fd_ev;
};

static const struct hv_domain_info *find_dom(const struct hv_domain_info *d, size_t n,
                                             uint32_t domid)
{
        for (size_t i = 0; i < n; i++)
                if (d[i].domid == domid)
                        return &d[i];
        return NULL;
}

static void announce(struct watch *w, const struct hv_domain_info *d, const char *state)
{
        struct event ev = EVENT_INIT(EVENT_DOMAIN_DIED);
        struct log_fields lf = LOG_FIELDS_INIT;

        log_fields_add_int(&lf, LOG_FIELD_DOMID, d->domid);
        if (d->name[0])
                log_fields_add(&lf, LOG_FIELD_DOMAIN, d->name);
        log_event(LOG_INFO, LOG_MESSAGE_DOMAIN_DIED, &lf, "domain %u%s%s%s is %s", d->domid,
                  d->name[0] ? " (" : "", d->name, d->name[0] ? ")" : "", state);
        ev.domid = d->domid;
        ev.domain = d->name[0] ? d->name : NULL;
        ev.state = state;
        events_emit(w->events, &ev);
}

/* Compare the new list with the last one and announce the deaths. */
static void diff(struct watch *w, const struct hv_domain_info *now, size_t n)
{
        for (size_t i = 0; i < w->n_doms; i++) {
                const struct hv_domain_info *old = &w->doms[i];
                const struct hv_domain_info *cur = find_dom(now, n, old->domid);

                /* A domid reused by a new domain means the old one is gone too. */
                if (!cur || (old->name[0] && cur->name[0] && !streq(old->name, cur->name)))
                        announce(w, old, "gone");
                else if (cur->dying && !old->dying)
                        announce(w, cur, "dying");
        }
        /* Born and already dying between two looks: still a death to report. */
        for (size_t i = 0; i < n; i++)
                if (now[i].dying && !find_dom(w->doms, w->n_doms, now[i].domid))
                        announce(w, &now[i], "dying");
}

int watch_check(struct watch *w)
{
        _cleanup_free_ char *err = NULL;
        struct hv_domain_info *now = NULL;
        size_t n = 0;
        int r;

        r = hv_list_domains(w->hv, &now, &n, &err);
        if (r < 0) {
                log_warning("domain watch: cannot list the domains: %s",
                            err ? err : strerror(-r));
        } else {
                diff(w, now, n);
                free(w->doms);
                w->doms = now;
                w->n_doms = n;
        }
        /* Even without a list: the engine asks about each lease's domain itself. */
        return recovery_domains_changed(w->engine);
}

int watch_new(struct hv *hv, struct engine *e, struct events *ev, struct watch **ret, char **err)
{
        struct watch *w;
        int r;

        if (!hv || !e)
                return set_error(err, -EINVAL, "a domain watch needs a hypervisor and an engine");
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->hv = hv;
        w->engine = e;
        w->events = ev;
        r = hv_list_domains(hv, &w->doms, &w->n_doms, err);
        if (r < 0) {
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

void watch_free(struct watch *w)
{
        if (!w)
                return;
        if (w->fd_ev)
                event_free(w->fd_ev);
        free(w->doms);
        free(w);
}

static void on_watch_fd(evutil_socket_t fd, short what, void *userdata)
{
        struct watch *w = userdata;
        _cleanup_free_ char *err = NULL;
        bool changed = false;
        int r;

        r = hv_watch_drain(w->hv, &changed, &err);
        if (r < 0) {
                log_warning("domain watch: %s", err ? err : strerror(-r));
                return;
        }
        if (changed)
                watch_check(w);
}

int watch_attach(struct watch *w, struct event_base *base, char **err)
{
        int fd;

        if (w->fd_ev)
                return set_error(err, -EALREADY, "the domain watch is attached already");
        fd = hv_watch_fd(w->hv, err);
        if (fd < 0)
                return fd;
        w->fd_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_watch_fd, w);
        if (!w->fd_ev)
                return set_error(err, -ENOMEM, "out of memory");
        if (event_add(w->fd_ev, NULL) < 0) {
                event_free(w->fd_ev);
                w->fd_ev = NULL;
                return set_error(err, -EIO, "cannot add the domain watch to the event loop");
        }
        return 0;
}
