/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Making a plan's hypercalls and undoing them.
 *
 * Undoing is tolerant of steps that never happened, because a crash right
 * after a hypercall leaves one step done in Xen but not in the plan:
 * revoking a permission that is not granted and removing a mapping that
 * is not there succeed in Xen; unbinding an SPI that is not routed is
 * -EINVAL (checked before the live-domain -EBUSY, release_guest_irq), and
 * deassigning a device that is not attached is -ESRCH.  Those answers mark
 * the step undone; -EBUSY from unbind on a live domain leaves the SPI to
 * the domain's death.
 */
#ifndef ASSIGND_PLAN_EXEC_H
#define ASSIGND_PLAN_EXEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hv.h"
#include "plan.h"

struct engine;

/* Make one assign-side step. */
int plan_exec_step(struct hv *hv, uint32_t domid, const struct plan_step *s, char **err);

/* Where undoing a plan got to. */
struct plan_undo {
        bool stuck;             /* an SPI stays routed until the domain dies */
        int r;                  /* first failure, or 0 */
        enum hv_step step;      /* the release-side step that failed */
        const char *device;     /* borrowed from the plan */
        enum hv_reason reason;
        char *message;
        size_t changed;         /* steps newly marked undone or kept */
        /*
         * Recording a step failed (the disk is full, ...): the undo went on
         * in the hypervisor and the plan in memory says what is undone;
         * the caller's state change writes it, or keeps it pending.
         */
        int record_r;
};
void plan_undo_clear(struct plan_undo *u);

/*
 * Undo, in reverse, every step of plan that is done and not undone, and
 * also step maybe (the first step not marked done of an interrupted
 * assignment; -1: none).  Each success is written to lease id (> 0)
 * before the next call; a write that fails does not stop the undo (the
 * hypervisor comes first: u->record_r says the database is behind).  Stops
 * at the first failed hypercall, except in a held plan: there the lease
 * keeps its devices until the domain is gone anyway,
 * so a step that cannot be undone is marked kept (left to Xen's teardown
 * of the domain, never retried) and the rest is still revoked.  Where the
 * hypervisor takes SPIs back from a paused live domain
 * (HV_PATCH_LIVE_SPI_RELEASE), a live domain is paused around the steps
 * and unpaused after, so that nothing stays routed.
 */
void plan_exec_undo(struct engine *e, int64_t id, uint32_t domid, struct plan *plan,
                    ssize_t maybe, struct plan_undo *u);

#endif
