/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Storing a lease's progress: creating an assignment's lease before its
 * first hypercall, recording each step as it is made or undone, binding a
 * reservation to the domid that took it up.  State changes go through
 * lease-state.h, never through here.
 */
#ifndef ASSIGND_LEASE_H
#define ASSIGND_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "plan.h"

/*
 * Commit a new lease in state assigning, with its plan, before any
 * hypercall.  -EEXIST when a device is held by another lease (the
 * database's guard).
 */
int lease_begin(struct db *db, const char *domain_name, uint32_t domid, char *const *devices,
                size_t n, bool forced, uint32_t uid, int32_t pid, const struct plan *plan,
                const char *options, int64_t *id);

/*
 * Record step k of lease id's plan after its flags changed (one small row;
 * the plan's text and the state are left alone), durable before the next
 * hypercall.
 */
int lease_record_step(struct db *db, int64_t id, const struct plan *plan, size_t k);

/*
 * A reservation's lease is bound to the domid that took it up (-1: unbound
 * again, a standing lease whose domain is gone).  -EEXIST: a non-exclusive
 * standing lease's device is held by another lease.
 */
int lease_bind_domid(struct db *db, int64_t id, int domid);

#endif
