/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reconciliation and the settling of dead domains' leases (see
 * recovery.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "audit.h"
#include "domain.h"
#include "engine-private.h"
#include "lease-state.h"
#include "lease.h"
#include "log.h"
#include "recovery.h"
#include "reserve.h"

/* A held plan: revoke what is outstanding, keep the lease until the domain is gone. */
static int settle_held(struct engine *e, const struct db_lease *l, struct plan *plan,
                       struct plan_undo *u, const char **outcome)
{
        /*
         * The domain took up its reservation only in part, so it may hold
         * what no step records (a mapping at another address, an SPI xl
         * routed from a hand-edited irqs=): only its end frees the lease.
         * Revoke what is still outstanding (a crash may have cut the first
         * attempt short); a step that fails is kept, not retried.
         */
        plan_exec_undo(e, l->id, (uint32_t)l->domid, plan, -1, u);
        if (u->r < 0) {
                _cleanup_free_ char *m = strdup_printf(
                        "%s; %s for %s failed (%s): left until the domain is gone",
                        l->error ? l->error : "held until the domain is gone",
                        hv_step_name(u->step), u->device ? u->device : "?",
                        u->message ? u->message : strerror(-u->r));
                int r = lease_state_change(e->db, l->id, DB_LEASE_RELEASING, NULL, m,
                                           "an undo failed on a domain held until it is gone");

                if (r < 0)
                        audit_storage_error(l->id, l, "the failed undo", r);
                return u->r;
        }
        if (!u->changed)
                return 0;
        *outcome = "what it held was revoked; releasing until the domain is gone";
        return 1;
}

/* Is step s, a binding, in the hypervisor (the crash came after the call)? */
static bool spi_bound(struct engine *e, uint32_t domid, const struct plan_step *s)
{
        struct hv_hold q = { .kind = HV_HOLD_SPI, .irq = s->irq };

        return hv_domain_holds(e->hv, domid, &q, 1, NULL) >= 0 && q.answer == HV_YES;
}

/*
 * An assignment interrupted on a live domain after an SPI was bound cannot
 * be rolled back: Xen unbinds SPIs only from a dying domain, so undoing it
 * would take the device's MMIO away and leave its interrupt in the guest,
 * and the device neither free nor usable.  Such an assignment is rolled
 * forward instead: the binding is confirmed and the remaining steps are
 * made.  Returns 1 when it was (the lease changed), 0 when nothing is
 * bound yet or a remaining step failed (roll back what can be: the SPIs
 * then keep the lease releasing until the domain dies), or a negative
 * errno.
 */
static int roll_forward(struct engine *e, const struct db_lease *l, struct plan *plan,
                        ssize_t maybe, const char **outcome)
{
        uint32_t domid = (uint32_t)l->domid;
        bool bound = false;
        int r;

        for (size_t i = 0; i < plan->n_steps; i++)
                bound |= plan->steps[i].step == HV_STEP_BIND_SPI && plan->steps[i].done;
        if (maybe >= 0 && plan->steps[maybe].step == HV_STEP_BIND_SPI &&
            spi_bound(e, domid, &plan->steps[maybe])) {
                plan->steps[maybe].done = true;
                bound = true;
        }
        if (!bound)
                return 0;
        for (size_t i = 0; i < plan->n_steps; i++) {
                struct plan_step *s = &plan->steps[i];
                _cleanup_free_ char *err = NULL;

                if (s->done)
                        continue;
                r = plan_exec_step(e->hv, domid, s, &err);
                if (r >= 0) {
                        s->done = true;
                        r = lease_record_step(e->db, l->id, plan, i);
                }
                if (r < 0) {
                        /*
                         * It cannot be finished: roll back what can be, and the
                         * lease keeps its devices until the domain dies.
                         */
                        log_warning("lease %" PRId64 ": rolling the interrupted assignment "
                                    "forward failed at %s for %s: %s; rolling back what can be",
                                    l->id, hv_step_name(s->step), s->device,
                                    err ? err : strerror(-r));
                        return 0;
                }
        }
        r = lease_state_change(e->db, l->id, DB_LEASE_ASSIGNED, plan, "",
                               "the assignment was interrupted after an SPI was bound: rolled "
                               "forward, since a live domain cannot give a binding back");
        *outcome = "rolled forward: assigned";
        return r < 0 ? r : 1;
}

int recovery_settle_lease(struct engine *e, const struct db_lease *l, struct plan_undo *u,
                          const char **outcome)
{
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *perr = NULL;
        bool dying = false;
        ssize_t maybe = -1;
        int r, alive;

        *outcome = NULL;
        if (l->state != DB_LEASE_ASSIGNING && l->state != DB_LEASE_ASSIGNED &&
            l->state != DB_LEASE_RELEASING)
                return 0;       /* reservations wait for their domain in reserve.c */

        alive = domain_of_lease(e, l, &dying);
        if (alive < 0)
                return alive;
        if (!alive && l->standing) {
                /* Xen dropped what the domain held; the reservation waits for the next one. */
                r = reserve_standing_rest(e, l, "the domain is gone; Xen released its "
                                                "resources");
                *outcome = "domain gone: standing, reserved again";
                return r;
        }
        if (!alive) {
                /* Xen dropped the domain's permissions, mappings, SPIs and devices. */
                r = lease_state_change(e->db, l->id, DB_LEASE_FREE, NULL,
                                       "the domain is gone; Xen released its resources",
                                       "the domain is gone");
                *outcome = "domain gone: free";
                return r < 0 ? r : 1;
        }
        if (l->state == DB_LEASE_ASSIGNED)
                return 0;
        r = plan_from_lease(l, &plan, &perr);
        if (r < 0) {
                u->r = r;
                u->message = steal_ptr(perr);
                return r;
        }
        if (plan.hold)
                return settle_held(e, l, &plan, u, outcome);
        if (l->state == DB_LEASE_ASSIGNING) {
                /* The first step not marked done may have run before a crash. */
                for (size_t i = 0; i < plan.n_steps; i++)
                        if (!plan.steps[i].done) {
                                maybe = (ssize_t)i;
                                break;
                        }
                if (!dying) {
                        r = roll_forward(e, l, &plan, maybe, outcome);
                        if (r != 0)
                                return r;
                }
                /* From now on it is a release: a second crash carries it forward. */
                if (maybe >= 0 && !plan.steps[maybe].undone) {
                        /* Record the possibly-run step as done so the release covers it. */
                        plan.steps[maybe].done = true;
                        maybe = -1;
                }
                r = lease_state_change(e->db, l->id, DB_LEASE_RELEASING, &plan,
                                       "interrupted assignment rolled back",
                                       "the assignment was interrupted: rolling it back");
                if (r < 0)
                        return r;
        }
        plan_exec_undo(e, l->id, (uint32_t)l->domid, &plan, maybe, u);
        if (u->r < 0)
                return u->r;
        if (u->stuck || plan_outstanding(&plan)) {
                *outcome = dying ? "releasing (SPI still routed)"
                                 : "releasing until the domain dies";
                return 1;
        }
        if (l->state == DB_LEASE_ASSIGNING) {
                r = lease_state_change(e->db, l->id, DB_LEASE_FAILED, &plan, NULL,
                                       "the interrupted assignment is rolled back");
                *outcome = "rolled back: failed";
        } else {
                r = lease_state_change(e->db, l->id, DB_LEASE_FREE, &plan, NULL,
                                       "every step is undone");
                *outcome = "released: free";
        }
        return r < 0 ? r : 1;
}

/* Log and audit what settling one lease did. */
static void report(struct engine *e, const struct db_lease *l, const char *action, int r,
                   const struct plan_undo *u, const char *outcome, bool domain_died)
{
        struct log_fields lf = LOG_FIELDS_INIT;

        audit_lease_fields(&lf, l, NULL);
        if (r < 0) {
                _cleanup_free_ char *t = strdup_printf("lease %" PRId64, l->id);
                _cleanup_free_ char *d = strdup_printf(
                        "%s failed on %s: %s", hv_step_name(u->step),
                        u->device ? u->device : "?", u->message ? u->message : strerror(-r));

                log_fields_add(&lf, LOG_FIELD_ERROR, "HypervisorError");
                log_event(LOG_WARNING, domain_died ? LOG_MESSAGE_RELEASED : LOG_MESSAGE_RECONCILED,
                          &lf, "%s of lease %" PRId64 ": %s", action, l->id, d ? d : "failed");
                audit_append(e->db, NULL, action, t, "HypervisorError", d, true);
                return;
        }
        if (r > 0) {
                _cleanup_free_ char *t = strdup_printf("lease %" PRId64 " (domain %d)", l->id,
                                                       l->domid);
                enum db_lease_state now;

                log_event(LOG_INFO, domain_died ? LOG_MESSAGE_RELEASED : LOG_MESSAGE_RECONCILED,
                          &lf, "%s: lease %" PRId64 " of domain %d: %s", action, l->id,
                          l->domid, outcome ? outcome : "changed");
                audit_append(e->db, NULL, action, t, "ok", outcome, false);
                if (db_lease_get_state(e->db, l->id, &now) >= 0 && now == DB_LEASE_ASSIGNED)
                        engine_emit_lease(e, EVENT_DEVICE_ASSIGNED, l->id, NULL, NULL);
                else
                        engine_emit_lease(e, EVENT_DEVICE_RELEASED, l->id,
                                          domain_died ? EVENT_CAUSE_DOMAIN_DIED
                                                      : EVENT_CAUSE_RECONCILE,
                                          NULL);
        }
        /* Nothing changed: nothing was logged, and the fields are dropped here. */
        log_fields_clear(&lf);
}

/*
 * Settle every non-final lease; only_changed_domains limits the work to
 * leases whose domain is gone or dying (the cheap check before requests).
 */
static int settle_all(struct engine *e, bool only_changed_domains, const char *action)
{
        struct db_lease *ls = NULL;
        size_t n = 0;
        int r, changed = 0;

        r = db_lease_list(e->db, NULL, &ls, &n);
        if (r < 0)
                return r;
        e->dying_domains = false;
        for (size_t i = 0; i < n; i++) {
                struct plan_undo u = { 0 };
                const char *outcome = NULL;
                bool dying = false;
                int alive;

                alive = domain_of_lease(e, &ls[i], &dying);
                /*
                 * Xen's domain watch fires when a domain starts dying; whether
                 * another fires when it is finally gone depends on Xen's
                 * version and timing (4.20 under load often sends none), so
                 * the engine keeps looking while a held domain is dying.
                 */
                if (alive > 0 && dying && ls[i].state != DB_LEASE_FREE &&
                    ls[i].state != DB_LEASE_FAILED)
                        e->dying_domains = true;
                if (only_changed_domains &&
                    (alive < 0 || (alive && !(dying && ls[i].state == DB_LEASE_RELEASING))))
                        continue;
                r = recovery_settle_lease(e, &ls[i], &u, &outcome);
                report(e, &ls[i], action, r, &u, outcome, only_changed_domains);
                if (r > 0)
                        changed++;
                plan_undo_clear(&u);
        }
        db_lease_array_free(ls, n);
        return changed;
}

int recovery_reconcile(struct engine *e, char **err)
{
        int r = settle_all(e, false, "Reconcile");

        if (r < 0)
                return set_error(err, r, "cannot read the leases: %s", strerror(-r));
        return r;
}

bool recovery_waiting_for_dying(const struct engine *e)
{
        return e->dying_domains;
}

int recovery_domains_changed(struct engine *e)
{
        int r = settle_all(e, true, "DomainChanged");
        int q = reserve_check_all(e);

        /* After the reservations bound: what a new domain holds beyond them. */
        adopt_sweep(e, false);
        if (r < 0)
                return r;
        return q < 0 ? q : r + q;
}
