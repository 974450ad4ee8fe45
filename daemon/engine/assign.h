/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Assign: give devices to a running domain (direct mode).
 *
 * Every refusal comes before the first hypercall, in a fixed order (the
 * device checks of check.h, then the domain: unknown, dom0, dying, created
 * without the IOMMU for a protected device).  Then a lease is committed
 * with its full plan (state assigning), the hypercalls are made in the
 * plan's order marking each step done, and the lease becomes assigned.  A
 * failure undoes the finished steps in reverse: the lease ends failed
 * with the error recorded (the devices are free), or releasing when an
 * SPI stays routed until the domain dies or an undo failed.
 */
#ifndef ASSIGND_ASSIGN_H
#define ASSIGND_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "guestcfg.h"
#include "plan.h"

struct assign_request {
        const char *domain;             /* domid as text, or a name */
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        enum guestcfg_mode layout;      /* identity or auto */
        bool dry_run;
};

struct assign_result {
        bool has_lease;                 /* false for a dry run */
        struct db_lease lease;          /* as stored after the assignment */
        struct plan plan;               /* the steps, each marked done */
};
void assign_result_clear(struct assign_result *r);

/* Assign (audited unless a dry run).  On failure a negative errno and *f. */
int assign_devices(struct engine *e, const struct engine_caller *who,
                   const struct assign_request *req, struct assign_result *ret,
                   struct failure *f);

#endif
