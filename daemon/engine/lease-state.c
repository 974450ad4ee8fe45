/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease state machine (see lease-state.h).  The current state is read
 * inside the transaction that changes it, so the check and the write see
 * the same row.
 */
#include <errno.h>
#include <inttypes.h>

#include "lease-state.h"
#include "log.h"

const struct lease_transition lease_state_table[] = {
        { LEASE_STATE_NEW, DB_LEASE_RESERVED,
          "Reserve recorded devices for a domain about to be created" },
        { LEASE_STATE_NEW, DB_LEASE_ASSIGNING,
          "Assign recorded its plan before the first hypercall" },
        { LEASE_STATE_NEW, DB_LEASE_ASSIGNED,
          "adoption: the hypervisor shows a domain holding a device no lease recorded" },
        { DB_LEASE_RESERVED, DB_LEASE_ASSIGNED,
          "the reserved domain appeared and holds what its reservation grants" },
        { DB_LEASE_RESERVED, DB_LEASE_RELEASING,
          "the domain holds only part of it, or Release took it back before it was verified: "
          "what it holds is revoked and its devices stay held until it is gone" },
        { DB_LEASE_RESERVED, DB_LEASE_FAILED,
          "the domain holds none of it, or went away before it was verified" },
        { DB_LEASE_RESERVED, DB_LEASE_FREE,
          "cancelled, expired with no domain, or released once its domain was gone" },
        { DB_LEASE_RESERVED, DB_LEASE_RESERVED,
          "a standing reservation's domain went away before it was verified: it waits for "
          "the next one" },
        { DB_LEASE_ASSIGNING, DB_LEASE_ASSIGNED, "every step succeeded" },
        { DB_LEASE_ASSIGNING, DB_LEASE_FAILED, "a step failed and every finished step was undone" },
        { DB_LEASE_ASSIGNING, DB_LEASE_RELEASING,
          "a step failed and an SPI stays routed or an undo failed, or start-up found the "
          "assignment interrupted and rolls it back" },
        { DB_LEASE_ASSIGNING, DB_LEASE_FREE, "the domain is gone (Xen released everything)" },
        { DB_LEASE_ASSIGNED, DB_LEASE_RELEASING,
          "Release recorded its intent before the first undo" },
        { DB_LEASE_ASSIGNED, DB_LEASE_FREE, "the domain is gone (Xen released everything)" },
        { DB_LEASE_ASSIGNED, DB_LEASE_RESERVED,
          "a standing reservation's domain is gone: it waits for the next domain of its name" },
        { DB_LEASE_RELEASING, DB_LEASE_RELEASING,
          "an undo was retried or failed, or what a held domain holds was revoked" },
        { DB_LEASE_RELEASING, DB_LEASE_FREE, "every step is undone, or the domain is gone" },
        { DB_LEASE_RELEASING, DB_LEASE_FAILED, "an interrupted assignment's rollback completed" },
        { DB_LEASE_RELEASING, DB_LEASE_RESERVED,
          "a standing reservation's domain is gone after a release: it waits for the next one" },
};
const size_t lease_state_table_size = ARRAY_SIZE(lease_state_table);

bool lease_state_allowed(enum db_lease_state from, enum db_lease_state to)
{
        for (size_t i = 0; i < lease_state_table_size; i++)
                if (lease_state_table[i].from == from && lease_state_table[i].to == to)
                        return true;
        return false;
}

const char *lease_state_name(enum db_lease_state s)
{
        if (s == LEASE_STATE_NEW)
                return "new";
        return db_lease_state_to_string(s) ?: "invalid";
}

/* The state a lease in state s is on its way to. */
static enum db_lease_state target_of(enum db_lease_state s)
{
        if (s == DB_LEASE_RELEASING)
                return DB_LEASE_FREE;
        if (s == DB_LEASE_ASSIGNING || s == DB_LEASE_RESERVED)
                return DB_LEASE_ASSIGNED;
        return DB_LEASE_NONE;
}

static int refuse(int64_t id, enum db_lease_state from, enum db_lease_state to, const char *why)
{
        log_error("bug: lease %" PRId64 ": %s -> %s is not an allowed transition (%s); the lease "
                  "is left %s", id, lease_state_name(from), lease_state_name(to),
                  why ? why : "?", lease_state_name(from));
        return -EPROTO;
}

int lease_state_create(struct db *db, const struct db_lease *l, const struct plan *plan,
                       const char *why, int64_t *id)
{
        _cleanup_free_ char *text = NULL;
        struct db_lease row = *l;
        int r;

        if (!lease_state_allowed(LEASE_STATE_NEW, l->state))
                return refuse(0, LEASE_STATE_NEW, l->state, why);
        r = plan_to_string(plan, &text);
        if (r < 0)
                return r;
        row.plan = text;
        row.target_state = target_of(l->state);
        r = db_lease_create(db, &row, id);
        if (r < 0)
                return r;
        log_info("lease %" PRId64 ": new -> %s (%s)", *id, lease_state_name(l->state),
                 why ? why : "created");
        return 0;
}

int lease_state_change(struct db *db, int64_t id, enum db_lease_state to,
                       const struct plan *plan, const char *error, const char *why)
{
        _cleanup_free_ char *text = NULL;
        enum db_lease_state from;
        int r;

        if (plan && (r = plan_to_string(plan, &text)) < 0)
                return r;
        /* The check and the write in one transaction: what is checked is what changes. */
        r = db_lease_transition(db, id, to, target_of(to), text, error, lease_state_allowed,
                                &from);
        if (r == -EPROTO)
                return refuse(id, from, to, why);
        if (r < 0)
                return r;
        if (from != to)
                log_info("lease %" PRId64 ": %s -> %s (%s)", id, lease_state_name(from),
                         lease_state_name(to), why ? why : "?");
        else
                log_debug("lease %" PRId64 ": stays %s (%s)", id, lease_state_name(to),
                          why ? why : "?");
        return 0;
}
