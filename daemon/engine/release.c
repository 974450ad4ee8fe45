/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Release (see release.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "domain.h"
#include "engine-private.h"
#include "inventory.h"
#include "lease-state.h"
#include "log.h"
#include "plan-exec.h"
#include "recovery.h"
#include "release.h"
#include "reserve.h"
#include "strbuf.h"

/* HypervisorError for an undo that failed; the lease stays releasing. */
static int undo_failure(struct engine *e, const struct db_lease *l, const struct plan_undo *u,
                        struct failure *f)
{
        const char *ename = strerrorname_np(-u->r);
        int r, q;

        q = lease_state_change(e->db, l->id, DB_LEASE_RELEASING, NULL, u->message,
                               "an undo failed");
        if (q < 0)
                audit_storage_error(l->id, l, "the failed undo", q);
        r = failure_set_path(f, u->r, FAILURE_HYPERVISOR_ERROR, u->device,
                             "%s for %s failed with %s: %s. The lease stays \"releasing\"; call "
                             "Release again to carry it forward.", hv_step_name(u->step),
                             u->device ? u->device : "?", ename ? ename : "?",
                             u->message ? u->message : "?");
        if (f) {
                f->step = u->step;
                f->error = -u->r;
                f->hv_reason = u->reason;
                f->lease = l->id;
        }
        return r;
}

/*
 * Record what undoing a live domain's lease left: free when nothing is
 * left in the hypervisor, else releasing (its SPIs until the domain dies)
 * with the steps undone.  A database that refuses keeps it pending and the
 * caller hears StorageError, with the hypervisor's part done.
 */
static int record_release(struct engine *e, const struct db_lease *l, const struct plan *plan,
                          const struct plan_undo *u, struct failure *f)
{
        bool done = !u->stuck && !plan_outstanding(plan);
        enum db_lease_state to = done ? DB_LEASE_FREE : DB_LEASE_RELEASING;
        const char *why = done ? "every step is undone"
                               : "what a live domain can give back is undone";
        int r;

        /* Releasing with nothing new to write: the intent already says so. */
        if (!done && !u->record_r)
                return 0;
        r = lease_state_change(e->db, l->id, to, plan, NULL, why);
        if (r >= 0)
                return 0;
        engine_hold_outcome(e, l->id, to, plan, NULL, why, r);
        return engine_fail_storage(e, f, r, "lease %" PRId64 " is released in the hypervisor "
                                   "(%s) but cannot be recorded yet; it will be once the "
                                   "database accepts writes", l->id, why);
}

static int release_lease(struct engine *e, const struct db_lease *l, struct failure *f)
{
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *perr = NULL;
        struct plan_undo u = { 0 };
        const char *outcome;
        bool dying;
        int r, alive;

        if (l->state == DB_LEASE_RESERVED)
                return reserve_release(e, l, f);
        alive = l->state == DB_LEASE_ASSIGNED ? domain_of_lease(e, l, &dying) : 0;
        if (alive < 0)
                return failure_set(f, alive, FAILURE_INTERNAL_ERROR,
                                   "cannot get the domain's state: %s", strerror(-alive));
        if (!alive) {
                /* Unfinished leases, and leases of dead domains, are settled, not redone. */
                r = recovery_settle_lease(e, l, &u, &outcome);
        } else {
                r = plan_from_lease(l, &plan, &perr);
                if (r < 0)
                        return failure_set(f, r, FAILURE_INTERNAL_ERROR, "lease %" PRId64 ": %s",
                                           l->id, perr ? perr : strerror(-r));
                /* Intent first: from here on a crash carries the release forward. */
                r = lease_state_change(e->db, l->id, DB_LEASE_RELEASING, &plan, "",
                                       "Release recorded its intent");
                if (r < 0)
                        return engine_fail_storage(e, f, r, "cannot record the release");
                plan_exec_undo(e, l->id, (uint32_t)l->domid, &plan, -1, &u);
                r = u.r;
                if (r >= 0)
                        r = record_release(e, l, &plan, &u, f);
        }
        if (r < 0 && u.r < 0)
                r = undo_failure(e, l, &u, f);
        else if (r < 0 && f && f->code == FAILURE_NONE)
                r = failure_set(f, r, FAILURE_INTERNAL_ERROR, "releasing lease %" PRId64 ": %s",
                                l->id, strerror(-r));
        plan_undo_clear(&u);
        return r < 0 ? r : 0;
}

/* A named device no picked lease holds: unknown, or not this domain's. */
static int not_held(struct engine *e, const char *path, const char *domain, struct failure *f)
{
        int r;

        if (!inventory_find(e->inv, path))
                return failure_set_path(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND, path,
                                        "no device has the path %s", path);
        r = failure_set_path(f, -ENOENT, FAILURE_NOT_ASSIGNED, path, "%s is not held by domain "
                             "%s", path, domain);
        if (f)
                failure_fact(&f->domain, domain);
        return r;
}

/* GroupIncomplete unless every picked lease is named whole. */
static int check_whole(const struct db_lease *ls, size_t nl, const bool *pick,
                       const char *const *devices, size_t n, struct failure *f)
{
        for (size_t i = 0; i < nl && n; i++) {
                _cleanup_free_ const char **missing = NULL;
                _cleanup_free_ char *list = NULL;
                size_t nm = 0;
                int r;

                if (!pick[i])
                        continue;
                missing = calloc(ls[i].n_devices + 1, sizeof(*missing));
                if (!missing)
                        return failure_oom(f);
                for (size_t k = 0; k < ls[i].n_devices; k++)
                        if (!strv_contains(devices, n, ls[i].devices[k]))
                                missing[nm++] = ls[i].devices[k];
                if (!nm)
                        continue;
                list = strv_join(missing, nm, " ");
                r = failure_set_path(f, -EINVAL, FAILURE_GROUP_INCOMPLETE, ls[i].devices[0],
                                     "lease %" PRId64 " assigned %s together with %s: release "
                                     "them together", ls[i].id, ls[i].devices[0],
                                     list ? list : "others");
                if (f)
                        failure_missing(f, missing, nm);
                return r;
        }
        return 0;
}

/* Which leases a Release of domain's devices[0..n) (all: n == 0) takes. */
static int pick_leases(struct engine *e, const char *domain, const char *const *devices,
                       size_t n, const struct db_lease *ls, size_t nl, bool *pick,
                       struct failure *f)
{
        struct hv_domain_info info;
        bool by_domid = domain_parse_id(domain, &info.domid);
        int64_t reserved = 0;
        size_t n_pick = 0;
        int r;

        /* A dead domain may be released by domid or by the name its leases carry. */
        r = domain_resolve(e, domain, &info, NULL);
        if (r < 0 && !by_domid)
                info.domid = UINT32_MAX;
        for (size_t i = 0; i < nl; i++) {
                bool mine = (ls[i].domid >= 0 && (uint32_t)ls[i].domid == info.domid) ||
                            (!by_domid && streq(ls[i].domain_name, domain));

                if (!mine)
                        continue;
                /*
                 * A pending reservation is dropped with CancelReservation; once
                 * its domain exists, Release takes back what it holds.
                 */
                if (ls[i].state == DB_LEASE_RESERVED && ls[i].domid < 0) {
                        reserved = ls[i].id;
                        continue;
                }
                for (size_t k = 0; k < ls[i].n_devices; k++)
                        if (n == 0 || strv_contains(devices, n, ls[i].devices[k]))
                                pick[i] = true;
        }
        for (size_t k = 0; k < n; k++) {
                bool held = false;

                for (size_t i = 0; i < nl; i++)
                        if (pick[i] && strv_contains((const char *const *)ls[i].devices,
                                                     ls[i].n_devices, devices[k]))
                                held = true;
                if (!held)
                        return not_held(e, devices[k], domain, f);
        }
        r = check_whole(ls, nl, pick, devices, n, f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nl; i++)
                n_pick += pick[i];
        if (!n_pick) {
                r = failure_set(f, -ENOENT, FAILURE_NOT_ASSIGNED, "domain %s holds no device%s",
                                domain, reserved ? " (it has a pending reservation: drop it "
                                                   "with CancelReservation)" : "");
                if (f)
                        failure_fact(&f->domain, domain);
                return r;
        }
        return 0;
}

/*
 * What the audit row of a Release names: the devices of the leases it
 * took (a Release of a whole domain names none itself), and each lease
 * with the state it ended in.
 */
struct release_record {
        char **devices;
        size_t n_devices;
        struct strbuf outcome;
};

static void release_record_clear(struct release_record *rec)
{
        for (size_t i = 0; i < rec->n_devices; i++)
                free(rec->devices[i]);
        free(rec->devices);
        strbuf_clear(&rec->outcome);
        *rec = (struct release_record){ .outcome = STRBUF_INIT };
}

static int record_devices(struct release_record *rec, const struct db_lease *ls, size_t nl,
                          const bool *pick)
{
        size_t total = 0;

        for (size_t i = 0; i < nl; i++)
                total += pick[i] ? ls[i].n_devices : 0;
        rec->devices = calloc(total + 1, sizeof(char *));
        if (!rec->devices)
                return -ENOMEM;
        for (size_t i = 0; i < nl; i++)
                for (size_t k = 0; pick[i] && k < ls[i].n_devices; k++) {
                        rec->devices[rec->n_devices] = strdup(ls[i].devices[k]);
                        if (!rec->devices[rec->n_devices])
                                return -ENOMEM;
                        rec->n_devices++;
                }
        return 0;
}

static int do_release(struct engine *e, const struct engine_caller *who, const char *domain,
                      const char *const *devices, size_t n, struct db_lease **ret,
                      size_t *n_ret, struct release_record *rec, struct failure *f)
{
        struct db_lease *ls = NULL, *out = NULL;
        _cleanup_free_ bool *pick = NULL;
        size_t nl = 0, n_out = 0;
        int r;

        r = db_lease_list(e->db, NULL, &ls, &nl);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot read the leases");
        pick = calloc(nl + 1, sizeof(*pick));
        out = calloc(nl + 1, sizeof(*out));
        if (!pick || !out) {
                r = failure_oom(f);
                goto out;
        }
        r = pick_leases(e, domain, devices, n, ls, nl, pick, f);
        if (r >= 0 && record_devices(rec, ls, nl, pick) < 0)
                r = failure_oom(f);
        for (size_t i = 0; r >= 0 && i < nl; i++) {
                if (!pick[i])
                        continue;
                r = release_lease(e, &ls[i], f);
                if (r < 0)
                        break;
                engine_emit_lease(e, EVENT_DEVICE_RELEASED, ls[i].id, EVENT_CAUSE_REQUEST, NULL);
                r = db_lease_get(e->db, ls[i].id, &out[n_out]);
                if (r < 0) {
                        r = engine_fail_storage(e, f, r, "lease %" PRId64 " was released but "
                                                "cannot be read back", ls[i].id);
                        break;
                }
                {
                        struct log_fields lf = LOG_FIELDS_INIT;

                        audit_lease_fields(&lf, &out[n_out], who);
                        log_event(LOG_INFO, LOG_MESSAGE_RELEASED, &lf,
                                  "lease %" PRId64 " of domain %d released for uid %u: %s",
                                  ls[i].id, out[n_out].domid, (unsigned)who->uid,
                                  lease_state_name(out[n_out].state));
                }
                strbuf_printf(&rec->outcome, "%slease %" PRId64 " %s", n_out ? ", " : "",
                              ls[i].id, db_lease_state_to_string(out[n_out].state));
                n_out++;
        }
        if (r >= 0) {
                *ret = steal_ptr(out);
                *n_ret = n_out;
        }
out:
        db_lease_array_free(out, n_out);
        db_lease_array_free(ls, nl);
        return r < 0 ? r : 0;
}

int release_devices(struct engine *e, const struct engine_caller *who, const char *domain,
                    const char *const *devices, size_t n, struct db_lease **ret,
                    size_t *n_ret, struct failure *f)
{
        struct release_record rec = { .outcome = STRBUF_INIT };
        int r;

        /* No sweep first: the domain's unfinished leases are settled as they are released. */
        r = engine_refuse_while_pending(e, f);
        if (r >= 0)
                r = do_release(e, who, domain, devices, n, ret, n_ret, &rec, f);
        if (rec.n_devices)
                audit_request(e->db, who, "Release", domain, (const char *const *)rec.devices,
                              rec.n_devices, r, f, rec.outcome.oom ? NULL : strbuf_str(&rec.outcome));
        else
                audit_request(e->db, who, "Release", domain, devices, n, r, f, NULL);
        release_record_clear(&rec);
        return r;
}
