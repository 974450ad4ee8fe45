/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Settling leases the hypervisor moved on from: at start-up, every
 * unfinished lease is brought in line with the hypervisor (an interrupted
 * assignment is rolled back, an interrupted release carried forward,
 * leases of domains that are gone released), and while running the same
 * happens to the leases of domains that die.  Xen has already dropped a
 * dead domain's permissions, mappings and SPIs and handed its protected
 * devices to DOMID_IO: for those only the record changes.
 */
#ifndef ASSIGND_RECOVERY_H
#define ASSIGND_RECOVERY_H

#include <stdbool.h>

#include "db.h"
#include "plan-exec.h"

struct engine;

/*
 * Bring every lease that is not final in line with the hypervisor.
 * Returns how many leases changed.  Run at start-up before serving.
 */
int recovery_reconcile(struct engine *e, char **err);

/*
 * The same for domains that died or started dying while running, then the
 * reservations' check (reserve.h): called when the domain watch fires and
 * before requests.  Returns how many leases changed.
 */
int recovery_domains_changed(struct engine *e);

/*
 * Does a lease's domain die without being gone yet?  Xen does not always
 * signal the end of a dying domain, so the daemon's clock calls
 * recovery_domains_changed() while this holds.
 */
bool recovery_waiting_for_dying(const struct engine *e);

/*
 * Finish or undo one non-final lease.  Returns 1 if the lease changed, 0
 * if not, negative on failure (*u says which step).  *outcome says what
 * happened, for the log and the audit row.
 */
int recovery_settle_lease(struct engine *e, const struct db_lease *l, struct plan_undo *u,
                          const char **outcome);

#endif
