/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine object and its reads (see engine.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "engine-private.h"
#include "inventory.h"
#include "recovery.h"

int engine_new(struct inventory *inv, struct hv *hv, const struct engine_options *o,
               struct engine **ret)
{
        struct engine *e;

        if (!inv || !hv)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->inv = inv;
        e->hv = hv;
        e->db = inventory_db(inv);
        if (o)
                e->opts = *o;
        *ret = e;
        return 0;
}

void engine_free(struct engine *e)
{
        free(e);
}

void engine_set_events(struct engine *e, struct events *ev)
{
        e->events = ev;
}

void engine_set_policy_options(struct engine *e, const struct engine_options *o)
{
        e->opts.forbid_force = o->forbid_force;
        e->opts.reservation_ttl = o->reservation_ttl;
}

void engine_emit_lease(struct engine *e, enum event_type type, int64_t id, const char *cause,
                       const char *detail)
{
        struct db_lease l = { 0 };
        struct event ev = EVENT_INIT(type);

        if (!e->events || db_lease_get(e->db, id, &l) < 0)
                return;
        ev.devices = l.devices;
        ev.n_devices = l.n_devices;
        ev.domid = l.domid;
        ev.domain = l.domain_name;
        ev.lease = l.id;
        ev.cause = cause;
        ev.state = db_lease_state_to_string(l.state);
        ev.detail = detail;
        events_emit(e->events, &ev);
        db_lease_clear(&l);
}

/* ---- owners and devices ---------------------------------------------------- */

void engine_owner_clear(struct engine_owner *o)
{
        if (!o)
                return;
        free(o->domain);
        *o = (struct engine_owner){ .domid = -1 };
}

int engine_owner(struct engine *e, const char *path, struct engine_owner *ret)
{
        struct db_lease l = { 0 };
        int r;

        r = db_lease_find_by_device(e->db, path, &l);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        *ret = (struct engine_owner){
                .domid = l.domid,
                .domain = steal_ptr(l.domain_name),
                .state = l.state,
        };
        db_lease_clear(&l);
        return 1;
}

/* Whether a device's owner is what the ListDevices owner filter asks for. */
static bool owner_matches(const struct engine_owner *o, bool owned, const char *want)
{
        char buf[24];

        if (streq(want, "none"))
                return !owned;
        if (!owned)
                return false;
        if (o->domain && streq(o->domain, want))
                return true;
        if (o->domid < 0)
                return false;
        snprintf(buf, sizeof(buf), "%" PRId64, o->domid);
        return streq(buf, want);
}

int engine_list_devices(struct engine *e, const struct engine_device_filter *f,
                        const struct dt_device ***ret, size_t *n, struct failure *fail)
{
        const struct dt_inventory *dt = inventory_dt(e->inv);
        struct inventory_filter inv_f = { .coverage = -1, .dma = -1, .assignable = -1 };
        _cleanup_free_ const struct dt_device **v = calloc(dt->n_devices + 1, sizeof(*v));
        size_t k = 0;

        if (!v)
                return failure_oom(fail);
        if (f)
                inv_f = (struct inventory_filter){ f->coverage, f->dma, f->assignable };
        for (size_t i = 0; i < dt->n_devices; i++) {
                const struct dt_device *d = &dt->devices[i];

                if (!inventory_matches(e->inv, d, &inv_f))
                        continue;
                if (f && f->owner) {
                        struct engine_owner o = { .domid = -1 };
                        int r = engine_owner(e, d->path, &o);
                        bool match = r >= 0 && owner_matches(&o, r > 0, f->owner);

                        engine_owner_clear(&o);
                        if (r < 0)
                                return failure_set(fail, r, FAILURE_INTERNAL_ERROR,
                                                   "cannot read the leases: %s", strerror(-r));
                        if (!match)
                                continue;
                }
                v[k++] = d;
        }
        *ret = steal_ptr(v);
        *n = k;
        return 0;
}

/* ---- leases and audit -------------------------------------------------------- */

int engine_list_leases(struct engine *e, bool all, struct db_lease **ret, size_t *n,
                       struct failure *f)
{
        struct db_lease_filter lf = { .state = DB_LEASE_NONE, .domid = -1, .include_final = all };
        int r;

        recovery_domains_changed(e);
        r = db_lease_list(e->db, &lf, ret, n);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot read the leases: %s",
                                   strerror(-r));
        return 0;
}

int engine_lease_counts(struct engine *e, size_t counts[_DB_LEASE_STATE_MAX], struct failure *f)
{
        struct db_lease *ls = NULL;
        size_t n = 0;
        int r;

        memset(counts, 0, sizeof(size_t) * _DB_LEASE_STATE_MAX);
        r = db_lease_list(e->db, NULL, &ls, &n);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot read the leases: %s",
                                   strerror(-r));
        for (size_t i = 0; i < n; i++)
                if (ls[i].state >= 0 && ls[i].state < _DB_LEASE_STATE_MAX)
                        counts[ls[i].state]++;
        db_lease_array_free(ls, n);
        return 0;
}

int engine_audit_log(struct engine *e, size_t limit, struct db_audit **ret, size_t *n,
                     struct failure *f)
{
        int r = db_audit_tail(e->db, limit, ret, n);

        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot read the audit log: %s",
                                   strerror(-r));
        return 0;
}

/* ---- policy ----------------------------------------------------------------- */

int engine_set_policy(struct engine *e, const struct engine_caller *who, const char *path,
                      int dma, int assignable, const char *note, struct failure *f)
{
        _cleanup_free_ char *detail = NULL;
        struct event ev = EVENT_INIT(EVENT_INVENTORY_CHANGED);
        int r;

        if (!dt_inventory_find(inventory_dt(e->inv), path))
                return failure_set_path(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND, path,
                                        "no device has the path %s", path);
        r = inventory_set_policy(e->inv, path, dma, assignable, note, (uint32_t)who->uid);
        if (r == -ENOENT)
                return failure_set_path(f, r, FAILURE_DEVICE_NOT_FOUND, path,
                                        "no device has the path %s", path);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "storing the policy of %s: %s",
                                   path, strerror(-r));
        detail = strdup_printf("dma=%s assignable=%s note=%s",
                               dma == DB_POLICY_UNSET ? "-" : dt_dma_to_string(dma),
                               assignable == DB_POLICY_UNSET ? "-" : assignable ? "yes" : "no",
                               note ? note : "-");
        audit_append(e->db, who, "SetDevicePolicy", path, "ok", detail, false);
        ev.devices = (char **)&path;
        ev.n_devices = 1;
        ev.detail = "the administrator changed the device's policy";
        events_emit(e->events, &ev);
        return 0;
}
