/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain lifecycle watch.  The hypervisor backend gives one fd that
 * becomes readable when domains appear, start dying or disappear (xen:
 * xenstore's @introduceDomain and @releaseDomain; sim: an eventfd); the
 * event does not say which domain, so every event re-reads the whole
 * domain list and compares it with the previous one.  A domain that
 * started dying or is gone is announced as a domain-died event, then the
 * engine settles the leases of dead domains (it writes the audit rows and
 * the device-released events itself).
 */
#ifndef ASSIGND_WATCH_H
#define ASSIGND_WATCH_H

#include "util.h"

struct event_base;
struct hv;
struct engine;
struct events;
struct watch;

/*
 * A watch over hv's domains for engine e; events may be NULL.  It takes a
 * first snapshot of the domain list, so that only later changes are
 * announced.
 */
int watch_new(struct hv *hv, struct engine *e, struct events *ev, struct watch **ret, char **err);
void watch_free(struct watch *w);
DEFINE_FREE_FUNC(struct watch, watch_free)

/*
 * Follow the backend's watch fd in base's loop.  -EOPNOTSUPP (or the
 * backend's error) when the backend has none: then changes are only seen
 * by watch_check() calls.
 */
int watch_attach(struct watch *w, struct event_base *base, char **err);

/*
 * Re-read the domain list now: announce domains that died since the last
 * look and settle their leases.  Returns how many leases changed.
 */
int watch_check(struct watch *w);

#endif
