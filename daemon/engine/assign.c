/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Assign (see assign.h).  Everything that can be refused is refused
 * before the first hypercall; everything after that is recorded in the
 * lease's plan one step at a time, so that a failure is undone from the
 * plan in memory and a crash is undone from the plan in the database, by
 * the same code (plan-exec.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assign.h"
#include "audit.h"
#include "check.h"
#include "domain.h"
#include "engine-private.h"
#include "inventory.h"
#include "lease-state.h"
#include "lease.h"
#include "log.h"
#include "place.h"
#include "plan-exec.h"
#include "recovery.h"

void assign_result_clear(struct assign_result *r)
{
        if (!r)
                return;
        db_lease_clear(&r->lease);
        plan_clear(&r->plan);
        *r = (struct assign_result){ 0 };
}

/* The facts of IommuNotEnabled; returns its errno. */
static int iommu_facts(struct failure *f, uint32_t domid, const char *path)
{
        if (f) {
                f->domid = domid;
                failure_fact(&f->path, path);
        }
        return -EOPNOTSUPP;
}

/* Every refusal, in the documented order, before anything is changed. */
static int check_request(struct engine *e, const struct assign_request *req,
                         const struct dt_device **devs, struct hv_domain_info *info,
                         bool *forced, struct failure *f)
{
        struct check_request cr = {
                .devices = req->devices,
                .n_devices = req->n_devices,
                .force_unprotected = req->force_unprotected,
                .busy = true,
        };
        const char *p = NULL;
        bool any_protected;
        int r;

        r = check_devices(e, &cr, devs, &any_protected, forced, f);
        if (r < 0)
                return r;
        r = domain_resolve(e, req->domain, info, f);
        if (r < 0)
                return r;
        if (info->domid == 0)
                return failure_invalid(f, "domain", "domain 0 is the hardware domain: its "
                                       "devices are not leased");
        if (info->dying) {
                r = failure_set(f, -ESRCH, FAILURE_DOMAIN_NOT_FOUND, "domain %s (%u) is dying",
                                req->domain, info->domid);
                if (f)
                        failure_fact(&f->domain, req->domain);
                return r;
        }
        if (info->building) {
                r = failure_set(f, -EAGAIN, FAILURE_DOMAIN_NOT_READY, "domain %s (%u) is still "
                                "being built (it has no vCPU yet): assign once xl create has "
                                "returned", req->domain, info->domid);
                if (f) {
                        failure_fact(&f->domain, req->domain);
                        f->domid = info->domid;
                }
                return r;
        }
        if (!any_protected || info->passthrough != HV_NO)
                return 0;
        for (size_t i = 0; i < req->n_devices && !p; i++)
                if (devs[i]->coverage == DT_COV_PROTECTED)
                        p = devs[i]->path;
        failure_set(f, -EOPNOTSUPP, FAILURE_IOMMU_NOT_ENABLED,
                    "domain %s%s%u%s was created without the IOMMU, so %s (IOMMU-protected) "
                    "cannot be assigned to it: on Arm the IOMMU shares the domain's p2m from "
                    "creation and cannot be turned on later; recreate the domain with "
                    "passthrough=\"enabled\" in its xl.cfg (Reserve yields that fragment)",
                    info->name, info->name[0] ? " (" : "", info->domid, info->name[0] ? ")" : "",
                    p);
        return iommu_facts(f, info->domid, p);
}

/* The failure of a step, after the rollback u. */
static int step_failure(struct engine *e, int r, const struct plan_step *s, uint32_t domid,
                        enum hv_reason why, const char *msg, int64_t id,
                        const struct plan_undo *u, struct failure *f)
{
        const char *ename = strerrorname_np(-r);
        _cleanup_free_ char *rb = NULL;

        if (u->r < 0)
                rb = strdup_printf(" Rolling back failed too: %s on %s: %s; the lease stays "
                                   "\"releasing\" and is retried by Release and at start-up.",
                                   hv_step_name(u->step), u->device ? u->device : "?",
                                   u->message ? u->message : "?");
        else if (u->stuck)
                rb = strdup(" Its SPIs cannot be unbound from a live domain: the lease stays "
                            "\"releasing\" until the domain dies.");
        else
                rb = strdup(" Every finished step was undone.");

        if (s->step == HV_STEP_ASSIGN_DT && why == HV_REASON_DOMAIN_NO_IOMMU) {
                /* Found out only now (the backend could not tell beforehand): name the domain. */
                _cleanup_free_ char *name = NULL;

                hv_domain_name(e->hv, domid, &name, NULL);
                failure_set(f, -EOPNOTSUPP, FAILURE_IOMMU_NOT_ENABLED,
                            "domain %s%s%u%s was created without the IOMMU, so %s cannot be "
                            "assigned to it: on Arm that is fixed at creation; recreate the "
                            "domain with passthrough=\"enabled\".%s",
                            name ? name : "", name ? " (" : "", domid, name ? ")" : "", s->device,
                            rb ? rb : "");
                return iommu_facts(f, domid, s->device);
        }
        r = failure_set_path(f, r, FAILURE_HYPERVISOR_ERROR, s->device, "%s for %s failed with "
                             "%s: %s.%s", hv_step_name(s->step), s->device, ename ? ename : "?",
                             msg ? msg : strerror(-r), rb ? rb : "");
        if (f) {
                f->step = s->step;
                f->error = -r;
                f->hv_reason = why;
                f->lease = id;
        }
        return r;
}

static double now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A step failed: undo what is done and leave the lease failed or releasing. */
/*
 * Record where a rollback left lease id: failed when everything is undone,
 * releasing when an SPI stays routed or an undo failed.  A database that
 * refuses the write keeps the outcome pending (engine_hold_outcome).
 */
static void record_rollback(struct engine *e, int64_t id, const struct plan *plan,
                            const struct plan_undo *u, const char *error)
{
        bool held = u->r < 0 || u->stuck;
        const char *why = held ? "a step failed and the rollback could not finish"
                               : "a step failed and every finished step was undone";
        enum db_lease_state to = held ? DB_LEASE_RELEASING : DB_LEASE_FAILED;
        int q = lease_state_change(e->db, id, to, plan, error, why);

        if (q < 0)
                engine_hold_outcome(e, id, to, plan, error, why, q);
}

/* A hypercall failed: undo what is done and say which step failed with what. */
static int roll_back(struct engine *e, int64_t id, uint32_t domid, struct plan *plan,
                     const struct plan_step *s, int r, const char *err, struct failure *f)
{
        struct plan_undo u = { 0 };
        enum hv_reason why = hv_last_reason(e->hv);

        plan_exec_undo(e, id, domid, plan, -1, &u);
        r = step_failure(e, r, s, domid, why, err, id, &u, f);
        record_rollback(e, id, plan, &u, f && f->message ? f->message : strerror(-r));
        plan_undo_clear(&u);
        return r;
}

/*
 * A hypercall succeeded but the database refused to record it (disk full,
 * read-only, locked): a step the intent log does not show must not stay, so
 * everything is undone at once, and the outcome recorded or kept pending.
 */
static int roll_back_unrecorded(struct engine *e, int64_t id, uint32_t domid,
                                struct plan *plan, const struct plan_step *s, int q,
                                struct failure *f)
{
        struct plan_undo u = { 0 };
        _cleanup_free_ char *what = NULL;
        int r;

        plan_exec_undo(e, id, domid, plan, -1, &u);
        what = strdup_printf("%s for %s succeeded but lease %" PRId64 " cannot record it; %s",
                             hv_step_name(s->step), s->device, id,
                             u.r < 0 || u.stuck ? "what could be undone was, the rest (its "
                                                  "SPIs) stays until the domain dies"
                                                : "every finished step was undone");
        r = engine_fail_storage(e, f, q, "%s", what ? what : "a step cannot be recorded");
        record_rollback(e, id, plan, &u, f && f->message ? f->message : strerror(-q));
        plan_undo_clear(&u);
        return r;
}

/* Name each forced device in a warning, once it really is in the guest. */
static void warn_forced(struct engine *e, const struct engine_caller *who,
                        const struct dt_device **devs, size_t n, uint32_t domid, int64_t id)
{
        for (size_t i = 0; i < n; i++) {
                enum dt_dma dma = inventory_effective_dma(e->inv, devs[i]);
                struct log_fields lf = LOG_FIELDS_INIT;
                _cleanup_free_ char *d = NULL;

                if (devs[i]->coverage == DT_COV_PROTECTED || dma == DT_DMA_NONE)
                        continue;
                d = strdup_printf("forced assignment of %s (coverage %s, dma %s) to domain %u: "
                                  "its DMA is not confined", devs[i]->path,
                                  dt_coverage_to_string(devs[i]->coverage),
                                  dt_dma_to_string(dma), domid);
                log_fields_add(&lf, LOG_FIELD_DEVICE, devs[i]->path);
                log_fields_add_int(&lf, LOG_FIELD_DOMID, domid);
                log_fields_add_int(&lf, LOG_FIELD_LEASE, id);
                log_fields_add_int(&lf, LOG_FIELD_UID, who->uid);
                log_event(LOG_WARNING, LOG_MESSAGE_FORCED_UNPROTECTED, &lf, "%s",
                          d ? d : "forced assignment");
                audit_append(e->db, who, "ForceUnprotected", devs[i]->path, "ok", d, true);
        }
}

/*
 * Is any SPI of the plan routed already?  A binding cannot be taken back
 * from a live domain, so one that fails after another succeeded would
 * strand the first device; every SPI is looked up before any hypercall,
 * in every live domain, dom0 and the target included (a hand-written
 * irqs= line, another toolstack's guest).  DeviceBusy names the domain
 * that holds it; state "outside" says no lease records it.
 */
static int check_spis_free(struct engine *e, uint32_t target, const struct plan *plan,
                           struct failure *f)
{
        _cleanup_free_ struct hv_domain_info *doms = NULL;
        _cleanup_free_ char *err = NULL;
        size_t n = 0;
        int r;

        r = hv_list_domains(e->hv, &doms, &n, &err);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "cannot list the domains to "
                                   "check the SPIs are free: %s", err ? err : strerror(-r));
        for (size_t k = 0; k < plan->n_steps; k++) {
                const struct plan_step *s = &plan->steps[k];

                if (s->step != HV_STEP_BIND_SPI)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        struct hv_hold q = { .kind = HV_HOLD_SPI, .irq = s->irq };
                        const struct hv_domain_info *d = &doms[i];

                        if (d->dying || hv_domain_holds(e->hv, d->domid, &q, 1, NULL) < 0 ||
                            q.answer != HV_YES)
                                continue;
                        r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, s->device,
                                             "SPI %u (INTID %u) of %s is already routed to %s "
                                             "%s%s%u%s, outside any lease; it cannot be bound "
                                             "again, and a binding cannot be taken back from a "
                                             "live domain, so nothing was done",
                                             s->irq - 32, s->irq, s->device,
                                             d->domid == target ? "the domain itself," : "domain",
                                             d->name, d->name[0] ? " (" : "", d->domid,
                                             d->name[0] ? ")" : "");
                        if (f) {
                                f->domid = d->domid;
                                f->state = "outside";
                        }
                        return r;
                }
        }
        return 0;
}

/* A device of the request some lease took between the check and the commit. */
static int busy_after_check(struct engine *e, const struct assign_request *req,
                            struct failure *f)
{
        int r;

        for (size_t i = 0; i < req->n_devices; i++) {
                struct db_lease l = { 0 };

                if (db_lease_find_by_device(e->db, req->devices[i], &l) == 0) {
                        r = check_busy(&l, req->devices[i], f);
                        db_lease_clear(&l);
                        return r;
                }
        }
        r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, req->devices[0],
                             "a device is held by another lease");
        if (f)
                f->state = "assigning";
        return r;
}

static int do_assign(struct engine *e, const struct engine_caller *who,
                     const struct assign_request *req, struct assign_result *ret,
                     struct failure *f)
{
        _cleanup_free_ const struct dt_device **devs = NULL;
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_(place_taken_clear) struct place_taken taken = { 0 };
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *options = NULL;
        struct hv_domain_info info;
        double t_writes = 0;
        int64_t id = 0;
        bool forced;
        int r;

        devs = calloc(req->n_devices + 1, sizeof(*devs));
        if (!devs)
                return failure_oom(f);
        r = check_request(e, req, devs, &info, &forced, f);
        if (r < 0)
                return r;
        r = place_taken_of(e, info.domid, info.name[0] ? info.name : NULL, &taken, f);
        if (r < 0)
                return r;
        r = place_devices(e, devs, req->n_devices, req->layout, NULL, &taken, &l, f);
        if (r < 0)
                return r;
        /* Where Xen keeps an owner for unprotected devices, it is told who. */
        r = plan_from_layout(l, hv_patches(e->hv) & HV_PATCH_OWNER_OF_RECORD, &plan, f);
        if (r >= 0)
                r = check_spis_free(e, info.domid, &plan, f);
        if (r < 0)
                return r;

        if (req->dry_run) {
                *ret = (struct assign_result){ .plan = plan };
                plan = (struct plan){ 0 };
                return 0;
        }

        options = strdup_printf("{\"force_unprotected\":%s,\"layout\":\"%s\"}",
                                req->force_unprotected ? "true" : "false", plan.layout);
        r = lease_begin(e->db, info.name[0] ? info.name : NULL, info.domid,
                        (char *const *)req->devices, req->n_devices, forced, (uint32_t)who->uid,
                        (int32_t)who->pid, &plan, options, &id);
        if (r == -EEXIST)
                return busy_after_check(e, req, f);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot record the lease");

        for (size_t i = 0; i < plan.n_steps; i++) {
                struct plan_step *s = &plan.steps[i];
                _cleanup_free_ char *err = NULL;
                double t0;

                r = plan_exec_step(e->hv, info.domid, s, &err);
                if (r < 0)
                        return roll_back(e, id, info.domid, &plan, s, r, err, f);
                s->done = true;
                t0 = now_ms();
                r = lease_record_step(e->db, id, &plan, i);
                t_writes += now_ms() - t0;
                if (r < 0)
                        return roll_back_unrecorded(e, id, info.domid, &plan, s, r, f);
        }
        r = lease_state_change(e->db, id, DB_LEASE_ASSIGNED, &plan, "", "every step succeeded");
        if (r < 0) {
                /* Every step is recorded as done: the record lags only in its state. */
                engine_hold_outcome(e, id, DB_LEASE_ASSIGNED, &plan, "", "every step succeeded",
                                    r);
                return engine_fail_storage(e, f, r, "the devices are assigned (lease %" PRId64
                                           ", every step recorded) but the lease cannot be "
                                           "marked assigned yet; it will be once the database "
                                           "accepts writes", id);
        }
        if (forced)
                warn_forced(e, who, devs, req->n_devices, info.domid, id);
        engine_emit_lease(e, EVENT_DEVICE_ASSIGNED, id, NULL, NULL);
        log_debug("lease %" PRId64 ": %zu steps, %.3f ms of plan writes (%.3f ms per step)", id,
                  plan.n_steps, t_writes, plan.n_steps ? t_writes / (double)plan.n_steps : 0.0);
        *ret = (struct assign_result){ .has_lease = true, .plan = plan };
        plan = (struct plan){ 0 };
        r = db_lease_get(e->db, id, &ret->lease);
        if (r < 0) {
                assign_result_clear(ret);
                return engine_fail_storage(e, f, r, "the devices are assigned (lease %" PRId64
                                           ") but the lease cannot be read back", id);
        }
        return 0;
}

int assign_devices(struct engine *e, const struct engine_caller *who,
                   const struct assign_request *req, struct assign_result *ret,
                   struct failure *f)
{
        int r;

        recovery_domains_changed(e);
        r = req->dry_run ? 0 : engine_refuse_while_pending(e, f);
        if (r >= 0)
                r = do_assign(e, who, req, ret, f);
        if (req->dry_run)
                return r;
        audit_request(e->db, who, "Assign", req->domain, req->devices, req->n_devices, r, f,
                      NULL);
        if (r >= 0 && ret->has_lease) {
                struct log_fields lf = LOG_FIELDS_INIT;

                audit_lease_fields(&lf, &ret->lease, who);
                log_event(LOG_INFO, LOG_MESSAGE_ASSIGNED, &lf,
                          "lease %" PRId64 ": %zu device%s assigned to domain %d for uid %u",
                          ret->lease.id, ret->lease.n_devices,
                          ret->lease.n_devices == 1 ? "" : "s", ret->lease.domid,
                          (unsigned)who->uid);
        }
        return r;
}
