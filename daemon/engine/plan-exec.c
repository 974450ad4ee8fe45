/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hypercalls of a plan, forwards and backwards (see plan-exec.h).
 *
 * Undoing on a live domain: stock Xen never takes an SPI back from a live
 * domain, so the binding stays until the domain dies (the lease stays
 * "releasing").  A hypervisor with hv-patches/live-spi-release takes it
 * back while the domain is paused and the guest has the interrupt neither
 * pending nor active, so there the undo pauses the domain around the
 * steps and unpauses it after: the device leaves a guest that keeps
 * running.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine-private.h"
#include "lease.h"
#include "log.h"
#include "plan-exec.h"

void plan_undo_clear(struct plan_undo *u)
{
        free(u->message);
        *u = (struct plan_undo){ 0 };
}

int plan_exec_step(struct hv *hv, uint32_t domid, const struct plan_step *s, char **err)
{
        switch (s->step) {
        case HV_STEP_IOMEM_PERMISSION:
                return hv_iomem_permission(hv, domid, s->mfn, s->nr, true, err);
        case HV_STEP_MEMORY_MAPPING:
                return hv_memory_mapping(hv, domid, s->gfn, s->mfn, s->nr, true, err);
        case HV_STEP_IRQ_PERMISSION:
                return hv_irq_permission(hv, domid, s->irq, true, err);
        case HV_STEP_BIND_SPI:
                return hv_bind_spi(hv, domid, s->irq, s->irq, err);
        case HV_STEP_ASSIGN_DT:
                return hv_assign_dt(hv, domid, s->device, err);
        default:
                return set_error(err, -EINVAL, "step %s is not an assignment step",
                                 hv_step_name(s->step));
        }
}

/*
 * A guest that has the interrupt pending or active is let run this long
 * to handle it before the next try, this many tries in all: an RTC or
 * GPIO interrupt is handled in well under a millisecond of guest time,
 * and the whole wait stays under half a second.
 */
#define UNBIND_TRIES 10
#define UNBIND_WAIT_US 40000

/*
 * Unbind an SPI.  On a domain paused for it, Xen refuses (EAGAIN) while
 * the guest has the interrupt in flight: let the guest run a moment to
 * handle it, pause it again and retry.
 */
static int unbind_spi(struct hv *hv, uint32_t domid, uint32_t irq, bool *paused, char **err)
{
        for (int i = 1;; i++) {
                int r = hv_unbind_spi(hv, domid, irq, irq, err);

                if (!*paused || r != -EAGAIN || hv_last_reason(hv) != HV_REASON_SPI_IN_FLIGHT ||
                    i == UNBIND_TRIES)
                        return r;
                if (err) {
                        free(*err);
                        *err = NULL;
                }
                if (hv_unpause_domain(hv, domid, err) < 0)
                        return r;
                usleep(UNBIND_WAIT_US);
                /* Unpaused now: the caller must not unpause it again. */
                if (hv_pause_domain(hv, domid, err) < 0) {
                        *paused = false;
                        return r;
                }
        }
}

/*
 * Undo one step.  Returns 1 when it is undone (or was never there), 0 when
 * the SPI stays routed until the domain dies, or a negative errno.
 */
static int undo_step(struct hv *hv, uint32_t domid, const struct plan_step *s, bool *paused,
                     char **err)
{
        enum hv_reason why;
        int r;

        switch (s->step) {
        case HV_STEP_IOMEM_PERMISSION:
                r = hv_iomem_permission(hv, domid, s->mfn, s->nr, false, err);
                break;
        case HV_STEP_MEMORY_MAPPING:
                r = hv_memory_mapping(hv, domid, s->gfn, s->mfn, s->nr, false, err);
                break;
        case HV_STEP_IRQ_PERMISSION:
                /* Only leases planned before the step was dropped have it. */
                r = hv_irq_permission(hv, domid, s->irq, false, err);
                if (r < 0 && hv_last_reason(hv) == HV_REASON_NOT_IMPLEMENTED)
                        r = 0;
                break;
        case HV_STEP_BIND_SPI:
                r = unbind_spi(hv, domid, s->irq, paused, err);
                why = hv_last_reason(hv);
                if (r == -EINVAL && why == HV_REASON_SPI_NOT_ROUTED)
                        r = 0;
                else if (r == -EBUSY && why != HV_REASON_FAILPOINT)
                        return 0;
                break;
        case HV_STEP_ASSIGN_DT:
                r = hv_deassign_dt(hv, domid, s->device, err);
                why = hv_last_reason(hv);
                if (r == -ESRCH && why == HV_REASON_DEVICE_NOT_ATTACHED)
                        r = 0;
                break;
        default:
                return set_error(err, -EINVAL, "step %s cannot be undone",
                                 hv_step_name(s->step));
        }
        return r < 0 ? r : 1;
}

/* Record the first failure of an undo. */
static void first_failure(struct plan_undo *u, int r, const struct plan_step *s,
                          enum hv_reason reason, char *message)
{
        if (u->r != 0) {
                free(message);
                return;
        }
        u->r = r;
        u->step = (enum hv_step)hv_step_undo(s->step);
        u->device = s->device;
        u->reason = reason;
        u->message = message;
}

static void undo_steps(struct engine *e, int64_t id, uint32_t domid, struct plan *plan,
                       ssize_t maybe, bool *paused, struct plan_undo *u)
{
        for (size_t k = plan->n_steps; k-- > 0;) {
                struct plan_step *s = &plan->steps[k];
                _cleanup_free_ char *err = NULL;
                int r;

                if (s->undone || s->kept || !(s->done || (ssize_t)k == maybe))
                        continue;
                r = undo_step(e->hv, domid, s, paused, &err);
                if (r == 0) {
                        u->stuck = true;
                        log_debug("lease %" PRId64 ": SPI %u stays routed to domain %u until it "
                                  "dies", id, s->irq, domid);
                        continue;
                }
                if (r < 0) {
                        first_failure(u, r, s, hv_last_reason(e->hv),
                                      err ? steal_ptr(err) : strdup(strerror(-r)));
                        if (!plan->hold)
                                return;
                        s->kept = true;
                } else {
                        s->undone = true;
                }
                u->changed++;
                if (id > 0 && !u->record_r) {
                        r = lease_record_step(e->db, id, plan, k);
                        if (r < 0) {
                                u->record_r = r;
                                log_warning("lease %" PRId64 ": cannot record that %s of %s "
                                            "was undone (%s): undoing the rest regardless",
                                            id, hv_step_name(s->step), s->device, strerror(-r));
                        }
                }
        }
}

/*
 * Pause the domain if that lets Xen take its SPIs back: the hypervisor can
 * (live-spi-release), the plan has an SPI binding to undo, and the domain
 * is alive (a dying one gives everything back anyway).  Whether it did.
 */
static bool pause_for_spis(struct engine *e, int64_t id, uint32_t domid, const struct plan *plan,
                           ssize_t maybe)
{
        _cleanup_free_ char *err = NULL;
        struct hv_domain_info info;
        bool spi = false;

        if (!(hv_patches(e->hv) & HV_PATCH_LIVE_SPI_RELEASE))
                return false;
        for (size_t k = 0; k < plan->n_steps; k++) {
                const struct plan_step *s = &plan->steps[k];

                spi |= s->step == HV_STEP_BIND_SPI && !s->undone && !s->kept &&
                       (s->done || (ssize_t)k == maybe);
        }
        if (!spi || hv_domain_info(e->hv, domid, &info, NULL) < 0 || info.dying)
                return false;
        if (hv_pause_domain(e->hv, domid, &err) < 0) {
                log_warning("lease %" PRId64 ": cannot pause domain %u to take its SPIs back: %s",
                            id, domid, err ? err : "?");
                return false;
        }
        log_debug("lease %" PRId64 ": domain %u paused to take its SPIs back", id, domid);
        return true;
}

void plan_exec_undo(struct engine *e, int64_t id, uint32_t domid, struct plan *plan,
                    ssize_t maybe, struct plan_undo *u)
{
        _cleanup_free_ char *err = NULL;
        bool paused = pause_for_spis(e, id, domid, plan, maybe);

        undo_steps(e, id, domid, plan, maybe, &paused, u);
        if (paused && hv_unpause_domain(e->hv, domid, &err) < 0)
                log_error("lease %" PRId64 ": domain %u stays paused: cannot unpause it after "
                          "taking its devices back: %s", id, domid, err ? err : "?");
}
