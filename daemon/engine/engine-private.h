/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine object as its own files see it.  Not for use outside
 * daemon/engine/.
 */
#ifndef ASSIGND_ENGINE_PRIVATE_H
#define ASSIGND_ENGINE_PRIVATE_H

#include <time.h>

#include "engine.h"
#include "events.h"
#include "hv.h"
#include "plan.h"

/*
 * A lease outcome the hypervisor has and the database could not record
 * (disk full, read-only, locked): kept in memory and written again by
 * engine_record_pending() until it is.
 */
struct engine_pending {
        int64_t id;
        enum db_lease_state state;
        struct plan plan;
        char *error;
        char *why;
};

/* A domain adoption has looked at (adopt.c). */
struct engine_seen {
        uint32_t domid;
        char name[HV_NAME_MAX + 1];
        time_t first_seen;
        time_t next_look;       /* while it has not run */
        bool checked_after_run;
};

struct engine {
        struct inventory *inv;
        struct hv *hv;
        struct db *db;
        struct engine_options opts;
        struct events *events;
        bool dying_domains;     /* a lease's domain was dying at the last settle */
        struct engine_pending *pending;
        size_t n_pending, cap_pending;
        int pending_r;          /* the last write's failure, for the refusals */
        struct denials *denials;        /* denial.c: refused calls per UID */
        struct engine_seen *seen;
        size_t n_seen, cap_seen;
        int iomem_visible;      /* enum hv_tristate: HV_UNKNOWN until asked */
        struct owners *owners;  /* who holds each device (owners.h) */
        /* engine_hazards(): the list, and what it was computed from. */
        struct hazard *hazards;
        size_t n_hazards;
        bool hazards_valid, hazards_visible;
        uint64_t hazards_generation, hazards_version;
        /* engine_lease_counts(), and the lease writes it is for (owners_writes). */
        size_t lease_counts[_DB_LEASE_STATE_MAX];
        uint64_t lease_counts_writes;
        bool lease_counts_valid;
};

/*
 * The hypervisor has lease id's outcome (state, plan, error) but writing it
 * failed with r: keep it and write it again on the clock.  Until then every
 * change is refused (engine_refuse_while_pending), so nothing is handed out
 * over what the database shows wrong.
 */
void engine_hold_outcome(struct engine *e, int64_t id, enum db_lease_state state,
                         const struct plan *plan, const char *error, const char *why, int r);
/* StorageError (returns its errno) while an outcome waits to be recorded; else 0. */
int engine_refuse_while_pending(struct engine *e, struct failure *f);

/*
 * StorageError for a database call that failed with r, naming the file and
 * saying in words what errno means for it (full, read-only, locked ...);
 * fmt says what could not be done.  Returns r.
 */
_printf_(4, 5) int engine_fail_storage(struct engine *e, struct failure *f, int r,
                                       const char *fmt, ...);

/*
 * Tell monitors about lease id as it is now in the database: its devices,
 * domain and state, with cause and detail (either may be NULL).
 */
void engine_emit_lease(struct engine *e, enum event_type type, int64_t id, const char *cause,
                       const char *detail);

#endif
