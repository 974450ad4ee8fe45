/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease state machine: the one table of allowed transitions, each
 * with the reason it happens, and the only code that writes a lease's
 * state.  A transition is checked against the table, committed with its
 * plan, error and target state in one transaction, and logged as
 * "lease N: A -> B (why)"; one that the table does not allow is refused
 * (-EPROTO) and logged as a bug, with the lease left as it was.
 *
 * LEASE_STATE_NEW stands for "no lease yet": the transitions out of it are
 * the two ways a lease is created.
 */
#ifndef ASSIGND_LEASE_STATE_H
#define ASSIGND_LEASE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "plan.h"

#define LEASE_STATE_NEW DB_LEASE_NONE

struct lease_transition {
        enum db_lease_state from;       /* LEASE_STATE_NEW for a creation */
        enum db_lease_state to;
        const char *why;                /* when it happens */
};

/* The table, in the order daemon/README.md prints it. */
extern const struct lease_transition lease_state_table[];
extern const size_t lease_state_table_size;

/* Whether the table allows from -> to. */
bool lease_state_allowed(enum db_lease_state from, enum db_lease_state to);
/* "new" for LEASE_STATE_NEW, else the state's name. */
const char *lease_state_name(enum db_lease_state s);

/*
 * Create lease l in l->state (assigning or reserved) with plan, before any
 * hypercall.  -EEXIST when a device is held by another lease (the
 * database's guard), -EPROTO for a state the table does not create.
 */
int lease_state_create(struct db *db, const struct db_lease *l, const struct plan *plan,
                       const char *why, int64_t *id);

/*
 * Move lease id to state to, storing plan (NULL: unchanged) and error
 * (NULL: unchanged, "": cleared), and the target state that goes with the
 * new state (a final state clears it, releasing targets free, assigning
 * targets assigned).  Staying in the same state is allowed where the table
 * says so (a release retried).  why is logged.
 */
int lease_state_change(struct db *db, int64_t id, enum db_lease_state to,
                       const struct plan *plan, const char *error, const char *why);

#endif
