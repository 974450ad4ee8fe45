/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A lease's plan: the ordered hypercalls of one assignment (the intent
 * log), built from the guest layout, and its stored form.
 *
 * Each step carries two flags: "done" (the assign-side call succeeded)
 * and "undone" (its reverse call succeeded, during a rollback or a
 * release).  A crash can leave at most one step whose flag lags behind
 * the hypervisor (the call ran, the write did not), which is why
 * recovery undoes the first step not marked done too and tolerates "it
 * was never there" answers (plan-exec.c).
 *
 * A plan marked "hold" belongs to a domain that got only part of what its
 * reservation granted: what it holds is revoked at once, but the lease
 * keeps its devices until the domain is gone, and an undo that fails there
 * is recorded once as "kept" instead of being retried at every start.
 *
 * The stored form is JSON text in the lease row, written when the lease
 * is created and at each state change, and one small row per step whose
 * flags changed since (db_lease_mark_step: the database, not memory, is
 * what crash recovery reads, and re-encoding the whole plan after every
 * hypercall was half the cost of an assignment).  plan_from_lease() reads
 * both.  It is storage, not the wire: wire/render.c gives the wire's Step
 * objects.
 */
#ifndef ASSIGND_PLAN_H
#define ASSIGND_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "failure.h"
#include "guestcfg.h"
#include "hv.h"

struct plan_step {
        enum hv_step step;      /* assign side: iomem_permission ... assign_dt */
        char *device;           /* device path the step belongs to */
        uint64_t mfn, gfn, nr;  /* memory steps: page frames */
        uint32_t irq;           /* irq steps: GIC INTID */
        bool done;
        bool undone;
        /*
         * Its undo failed on a domain whose lease is held until it dies
         * (plan->hold): not tried again, Xen drops it with the domain.
         */
        bool kept;
};

struct plan {
        char *layout;           /* "identity", "relocate" or "auto" */
        /*
         * The domain may hold more than the steps say (a reservation it did
         * not take up as granted): the lease stays "releasing" until the
         * domain is gone, whatever is undone.
         */
        bool hold;
        struct plan_step *steps;
        size_t n_steps, cap_steps;
};

void plan_clear(struct plan *p);
/* A deep copy; -ENOMEM. */
int plan_copy(const struct plan *p, struct plan *ret);
/* Append a step (device is copied); -ENOMEM. */
int plan_add(struct plan *p, enum hv_step step, const char *device, uint64_t mfn, uint64_t gfn,
             uint64_t nr, uint32_t irq);

/* Which fields a step of this kind has: page frames, an IRQ. */
bool plan_step_is_memory(enum hv_step s);
bool plan_step_is_irq(enum hv_step s);

/* The stored text of the plan. */
int plan_to_string(const struct plan *p, char **ret);
/* Parse a stored plan; -EUCLEAN with *err when it does not decode. */
int plan_from_string(const char *s, struct plan *ret, char **err);
/*
 * A lease's plan as recorded: its text with the step marks recorded since
 * laid over it.  -EUCLEAN with *err when it does not decode or a mark names
 * a step the plan does not have.
 */
int plan_from_lease(const struct db_lease *l, struct plan *ret, char **err);

/* Whether the plan still has steps the hypervisor may hold. */
bool plan_outstanding(const struct plan *p);

/*
 * The ordered hypercalls that give a guest the devices of layout l: per
 * device, per page run its iomem permission then its mapping, the IOMMU
 * assignment of a protected device; then every SPI binding, last, since
 * it is the one step a live domain cannot give back.  No irq_permission
 * step: on Arm Xen checks the caller's (dom0's) right to the SPI when
 * binding and never reads a guest's IRQ rights (4.20 does not even have
 * the domctl there); xl binds only, too.  claim_unprotected: an
 * assign_dt step for devices no IOMMU protects as well, where the
 * hypervisor records their owner (HV_PATCH_OWNER_OF_RECORD); never in a
 * reservation's plan, which is what xl does.
 */
int plan_from_layout(const struct guestcfg_layout *l, bool claim_unprotected, struct plan *plan,
                     struct failure *f);

#endif
