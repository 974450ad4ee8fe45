/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Leases as the assignment engine sees them: the step plan (the intent
 * log of one assignment), its JSON form as stored in the database, and
 * thin helpers over db/ that commit a lease before the first hypercall,
 * mark each step after it succeeded, and render a lease for the wire.
 *
 * A plan is the ordered list of hypercalls an assignment makes.  Each step
 * carries two flags: "done" (the assign-side call succeeded) and "undone"
 * (its reverse call succeeded, during a rollback or a release).  A crash
 * can leave at most one step whose flag lags behind the hypervisor (the
 * call ran, the write did not), which is why recovery undoes the first
 * step not marked done too and tolerates "it was never there" answers.
 *
 * A plan marked "hold" belongs to a domain that got only part of what its
 * reservation granted: what it holds is revoked at once, but the lease
 * keeps its devices until the domain is gone, and an undo that fails there
 * is recorded once as "kept" instead of being retried at every start.
 */
#ifndef ASSIGND_LEASE_H
#define ASSIGND_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db.h"
#include "hv.h"

struct lease_step {
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

struct lease_plan {
        char *layout;           /* "identity" or "auto" */
        /*
         * The domain may hold more than the steps say (a reservation it did
         * not take up as granted): the lease stays "releasing" until the
         * domain is gone, whatever is undone.
         */
        bool hold;
        struct lease_step *steps;
        size_t n_steps, cap_steps;
};

void lease_plan_clear(struct lease_plan *p);
/* Append a step (device is copied); -ENOMEM. */
int lease_plan_add(struct lease_plan *p, enum hv_step step, const char *device, uint64_t mfn,
                   uint64_t gfn, uint64_t nr, uint32_t irq);

/* JSON text of the plan, as stored in leases.plan. */
int lease_plan_to_string(const struct lease_plan *p, char **ret);
/* Parse a stored plan; -EUCLEAN with *err when it does not decode. */
int lease_plan_from_string(const char *s, struct lease_plan *ret, char **err);
/* The steps as the wire's []Step. */
struct json_object *lease_plan_steps_json(const struct lease_plan *p);

/*
 * Commit a new lease in state assigning with target assigned and its
 * plan, before any hypercall.  -EEXIST when a device is held by another
 * lease (the database's guard).
 */
int lease_begin(struct db *db, const char *domain_name, uint32_t domid, char *const *devices,
                size_t n, bool forced, uint32_t uid, int32_t pid, const struct lease_plan *plan,
                const char *options, int64_t *id);
/* Store the plan after a step changed (one small write). */
int lease_save_plan(struct db *db, int64_t id, const struct lease_plan *plan);
/*
 * Move the lease to state (with its plan and error; error NULL leaves it,
 * "" clears it), setting the target state that goes with it: a final
 * state clears the target, releasing targets free.
 */
int lease_set_state(struct db *db, int64_t id, enum db_lease_state state,
                    const struct lease_plan *plan, const char *error);

/* A stored lease as the wire's Lease object (NULL on allocation failure). */
struct json_object *lease_to_json(const struct db_lease *l);

#endif
