/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine object and its reads (see engine.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adopt.h"
#include "audit.h"
#include "denial.h"
#include "engine-private.h"
#include "hazard.h"
#include "inventory.h"
#include "lease-state.h"
#include "log.h"
#include "owners.h"
#include "recovery.h"

int engine_new(struct inventory *inv, struct hv *hv, const struct engine_options *o,
               struct engine **ret)
{
        struct engine *e;

        if (!inv)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->inv = inv;
        e->hv = hv;
        e->db = inventory_db(inv);
        e->iomem_visible = HV_UNKNOWN;
        if (o)
                e->opts = *o;
        if (owners_new(e->db, &e->owners) < 0) {
                free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

static void pending_clear(struct engine_pending *p)
{
        plan_clear(&p->plan);
        free(p->error);
        free(p->why);
}

void engine_free(struct engine *e)
{
        if (!e)
                return;
        for (size_t i = 0; i < e->n_pending; i++)
                pending_clear(&e->pending[i]);
        free(e->pending);
        free(e->seen);
        owners_free(e->owners);
        hazard_list_free(e->hazards, e->n_hazards);
        denials_free(e->denials);
        free(e);
}

/* ---- outcomes waiting for the database -------------------------------------- */

void engine_hold_outcome(struct engine *e, int64_t id, enum db_lease_state state,
                         const struct plan *plan, const char *error, const char *why, int r)
{
        struct engine_pending *p = NULL;

        for (size_t i = 0; i < e->n_pending && !p; i++)
                if (e->pending[i].id == id)
                        p = &e->pending[i];
        if (!p) {
                if (GROW(e->pending, e->cap_pending, e->n_pending) < 0) {
                        log_error("lease %" PRId64 ": out of memory keeping its outcome; "
                                  "start-up reconciliation will find it", id);
                        return;
                }
                p = &e->pending[e->n_pending++];
                *p = (struct engine_pending){ .id = id };
        }
        pending_clear(p);
        *p = (struct engine_pending){
                .id = id,
                .state = state,
                .error = error ? strdup(error) : NULL,
                .why = why ? strdup(why) : NULL,
        };
        if (plan && plan_copy(plan, &p->plan) < 0)
                log_error("lease %" PRId64 ": cannot keep its plan in memory", id);
        e->pending_r = r;
        {
                struct log_fields lf = LOG_FIELDS_INIT;

                log_fields_add_int(&lf, LOG_FIELD_LEASE, id);
                log_fields_add(&lf, LOG_FIELD_ERROR, strerror(-r));
                log_event(LOG_ERR, LOG_MESSAGE_STORAGE_ERROR, &lf,
                          "lease %" PRId64 ": the hypervisor has its outcome (%s) but %s cannot "
                          "record it: %s; it is kept and written again every second, and no "
                          "change is accepted until it is", id, lease_state_name(state),
                          db_path(e->db), strerror(-r));
        }
}

int engine_record_pending(struct engine *e)
{
        size_t out = 0;

        for (size_t i = 0; i < e->n_pending; i++) {
                struct engine_pending *p = &e->pending[i];
                int r = lease_state_change(e->db, p->id, p->state,
                                           p->plan.steps || p->plan.layout ? &p->plan : NULL,
                                           p->error, p->why);

                if (r < 0) {
                        e->pending_r = r;
                        e->pending[out++] = *p;
                        continue;
                }
                log_notice("lease %" PRId64 ": its outcome (%s) is recorded now", p->id,
                           lease_state_name(p->state));
                {
                        _cleanup_free_ char *t = strdup_printf("lease %" PRId64, p->id);

                        audit_append(e->db, NULL, "OutcomeRecorded", t, "ok", p->why, false);
                }
                engine_emit_lease(e, p->state == DB_LEASE_ASSIGNED ? EVENT_DEVICE_ASSIGNED
                                                                   : EVENT_DEVICE_RELEASED,
                                  p->id, p->state == DB_LEASE_ASSIGNED ? NULL
                                                                       : EVENT_CAUSE_RECONCILE,
                                  NULL);
                pending_clear(p);
        }
        e->n_pending = out;
        return (int)out;
}

int engine_refuse_while_pending(struct engine *e, struct failure *f)
{
        if (!e->n_pending)
                return 0;
        return engine_fail_storage(e, f, e->pending_r ? e->pending_r : -EIO,
                                   "lease %" PRId64 "'s outcome is not recorded yet, so no "
                                   "change is accepted until it is (retried every second)",
                                   e->pending[0].id);
}

void engine_set_events(struct engine *e, struct events *ev)
{
        e->events = ev;
}

void engine_set_policy_options(struct engine *e, const struct engine_options *o)
{
        e->opts.forbid_force = o->forbid_force;
        e->opts.reservation_ttl = o->reservation_ttl;
        e->opts.retention = o->retention;
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

static const char *storage_words(int r)
{
        switch (r) {
        case -ENOSPC:
                return "the disk is full";
        case -EROFS:
                return "the file system is read-only";
        case -EBUSY:
                return "another process holds the database's lock";
        case -EUCLEAN:
                return "the database is damaged";
        case -ENOMEM:
                return "out of memory";
        default:
                return "the database cannot be read or written";
        }
}

int engine_fail_storage(struct engine *e, struct failure *f, int r, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        r = failure_set(f, r, FAILURE_STORAGE_ERROR, "%s: %s (%s, %s)",
                        what ? what : "storage failed", storage_words(r), strerror(-r),
                        db_path(e->db));
        if (f) {
                failure_fact(&f->file, db_path(e->db));
                f->error = -r;
        }
        return r;
}

/* ---- owners and devices ---------------------------------------------------- */

bool engine_ownership_visible(struct engine *e)
{
        /* Without a hypervisor nothing says who may map what. */
        return e->hv && adopt_iomem_visible(e);
}

int engine_hazards(struct engine *e, const struct hazard **ret, size_t *n, uint64_t *version)
{
        bool visible = engine_ownership_visible(e);
        uint64_t gen = inventory_generation(e->inv);

        if (!e->hazards_valid || e->hazards_generation != gen || e->hazards_visible != visible) {
                struct hazard *h = NULL;
                size_t nh = 0;
                int r = hazard_list(e->inv, visible, &h, &nh);

                if (r < 0)
                        return r;
                hazard_list_free(e->hazards, e->n_hazards);
                e->hazards = h;
                e->n_hazards = nh;
                e->hazards_valid = true;
                e->hazards_generation = gen;
                e->hazards_visible = visible;
                e->hazards_version++;
        }
        *ret = e->hazards;
        *n = e->n_hazards;
        if (version)
                *version = e->hazards_version;
        return 0;
}

uint64_t engine_owners_version(struct engine *e)
{
        return owners_version(e->owners);
}

void engine_owner_clear(struct engine_owner *o)
{
        if (!o)
                return;
        free(o->domain);
        *o = (struct engine_owner){ .domid = -1 };
}

int engine_owner_peek(struct engine *e, const char *path, const struct engine_owner **ret,
                      uint64_t *version)
{
        return owners_find(e->owners, path, ret, version);
}

int engine_owner(struct engine *e, const char *path, struct engine_owner *ret)
{
        const struct engine_owner *o = NULL;
        char *domain = NULL;
        int r = owners_find(e->owners, path, &o, NULL);

        if (r <= 0)
                return r;
        if (o->domain && !(domain = strdup(o->domain)))
                return -ENOMEM;
        *ret = *o;
        ret->domain = domain;
        return 1;
}

const struct dt_device *engine_device(struct engine *e, const char *path, struct failure *f)
{
        const struct dt_device *d = inventory_find(e->inv, path);

        if (!d)
                failure_set_path(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND, path,
                                 "no device has the path %s", path);
        return d;
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
                                return engine_fail_storage(e, fail, r,
                                                           "cannot read the leases");
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

int engine_list_leases(struct engine *e, bool all, int64_t after, size_t limit,
                       struct db_lease **ret, size_t *n, int64_t *next, struct failure *f)
{
        struct db_lease_filter lf = { .state = DB_LEASE_NONE, .domid = -1, .include_final = all,
                                      .after = after, .limit = limit + 1 };
        int r;

        recovery_domains_changed(e);
        r = db_lease_list(e->db, &lf, ret, n);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot read the leases");
        /* One more than asked says whether another page follows. */
        *next = 0;
        if (*n > limit) {
                db_lease_clear(&(*ret)[limit]);
                *n = limit;
                *next = (*ret)[limit - 1].id;
        }
        return 0;
}

int engine_lease_counts(struct engine *e, size_t counts[_DB_LEASE_STATE_MAX], struct failure *f)
{
        uint64_t writes = owners_writes(e->owners);
        int r;

        /* Counted again only after a lease was written (the database tells the owner map). */
        if (!e->lease_counts_valid || e->lease_counts_writes != writes) {
                r = db_lease_count(e->db, e->lease_counts);
                if (r < 0) {
                        e->lease_counts_valid = false;
                        return engine_fail_storage(e, f, r, "cannot read the leases");
                }
                e->lease_counts_writes = writes;
                e->lease_counts_valid = true;
        }
        memcpy(counts, e->lease_counts, sizeof(e->lease_counts));
        return 0;
}

int engine_audit_log(struct engine *e, int64_t before, size_t limit, struct db_audit **ret,
                     size_t *n, int64_t *next, struct failure *f)
{
        int r = db_audit_tail(e->db, before, limit + 1, ret, n);

        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot read the audit log");
        /* The oldest of limit + 1 is there only to say that older ones exist. */
        *next = 0;
        if (*n > limit) {
                db_audit_clear(&(*ret)[0]);
                memmove(*ret, *ret + 1, limit * sizeof(**ret));
                *n = limit;
                *next = (*ret)[0].id;
        }
        return 0;
}

int engine_prune_history(struct engine *e, size_t batch)
{
        const struct engine_retention *rt = &e->opts.retention;
        int64_t cutoff = rt->max_age > 0 ? (int64_t)time(NULL) - rt->max_age : 0;
        int l, a;

        if (cutoff < 0)
                cutoff = 0;
        l = db_lease_prune(e->db, cutoff, rt->max_leases ? rt->max_leases : SIZE_MAX, batch);
        a = db_audit_prune(e->db, cutoff, rt->max_audit ? rt->max_audit : SIZE_MAX, batch);
        if (l < 0 || a < 0) {
                log_warning("cannot prune the history in %s: %s", db_path(e->db),
                            strerror(l < 0 ? -l : -a));
                return l < 0 ? l : a;
        }
        if (l + a > 0)
                log_info("history: %d finished lease%s and %d audit entr%s removed (kept: %s)",
                         l, l == 1 ? "" : "s", a, a == 1 ? "y" : "ies",
                         "see assignd.conf's [History]");
        return l + a;
}

void engine_history_clear(struct engine_history *h)
{
        if (!h)
                return;
        db_lease_array_free(h->leases, h->n_leases);
        db_audit_array_free(h->entries, h->n_entries);
        *h = (struct engine_history){ 0 };
}

int engine_device_history(struct engine *e, const char *path, size_t limit,
                          struct engine_history *ret, struct failure *f)
{
        struct db_lease_filter lf = { .state = DB_LEASE_NONE, .domid = -1, .device = path,
                                      .include_final = true };
        _cleanup_(engine_history_clear) struct engine_history h = { 0 };
        int r;

        recovery_domains_changed(e);
        r = db_lease_list(e->db, &lf, &h.leases, &h.n_leases);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot read the leases: %s",
                                   strerror(-r));
        r = db_audit_device(e->db, path, limit, &h.entries, &h.n_entries);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot read the audit log: %s",
                                   strerror(-r));
        if (h.n_leases == 0 && h.n_entries == 0 &&
            !inventory_find(e->inv, path))
                return failure_set_path(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND, path,
                                        "no device has the path %s, and none had", path);
        *ret = h;
        h = (struct engine_history){ 0 };
        return 0;
}

/* ---- policy ----------------------------------------------------------------- */

int engine_set_policy(struct engine *e, const struct engine_caller *who, const char *path,
                      int dma, int assignable, const char *note, struct failure *f)
{
        _cleanup_free_ char *detail = NULL;
        struct event ev = EVENT_INIT(EVENT_INVENTORY_CHANGED);
        int r;

        if (!inventory_find(e->inv, path))
                return failure_set_path(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND, path,
                                        "no device has the path %s", path);
        r = engine_refuse_while_pending(e, f);
        if (r < 0)
                return r;
        r = inventory_set_policy(e->inv, path, dma, assignable, note, (uint32_t)who->uid);
        if (r == -ENOENT)
                return failure_set_path(f, r, FAILURE_DEVICE_NOT_FOUND, path,
                                        "no device has the path %s", path);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot store the policy of %s", path);
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
