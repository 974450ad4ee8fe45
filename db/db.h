/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Data-access layer over SQLite: the inventory (devices, regions,
 * interrupts, IOMMUs, links, groups), the administrator's policy, and (for
 * the assignment engine) leases and the audit log.
 *
 * The schema is versioned with PRAGMA user_version and upgraded by ordered
 * migrations at open; the database runs in WAL mode with foreign keys on.
 * Every function returns 0 (or a positive count) or a negative errno:
 * SQLITE_BUSY/LOCKED -> -EBUSY, a UNIQUE or PRIMARY KEY constraint ->
 * -EEXIST, any other constraint (CHECK, NOT NULL, FOREIGN KEY, a trigger's
 * refusal) -> -EINVAL, SQLITE_NOMEM -> -ENOMEM, SQLITE_CORRUPT/NOTADB and
 * stored values that do not decode -> -EUCLEAN, SQLITE_FULL -> -ENOSPC,
 * SQLITE_READONLY -> -EROFS, anything else -> -EIO.
 * Outputs are untouched on failure.  Nothing here logs above debug; the
 * SQLite message of the last failure is kept for db_last_error().
 *
 * Durability: WAL with synchronous=FULL.  Every commit is synced to the
 * disk before it returns (the WAL file is fsynced at each commit): what a
 * caller was told is recorded survives a crash of the process, a kernel
 * panic, a power loss and a file system that goes read-only or full after
 * it.  The intent log depends on it: the step recorded before a hypercall
 * must not vanish while Xen keeps what the hypercall did.  The cost is one
 * fsync per commit (the benchmarks print it).
 *
 * Ownership: the file carries PRAGMA application_id DB_APPLICATION_ID.  A
 * file with another id, or with tables of its own and none, is refused; an
 * empty file (0 bytes, or a database with nothing in it) is taken as new.
 *
 * Locks: a write waits at most DB_BUSY_TIMEOUT_MS (500 ms) for another
 * process's lock, then fails with -EBUSY; reads are not blocked by another
 * writer (WAL).
 *
 * One connection per process, used from one thread.
 */
#ifndef ASSIGND_DB_H
#define ASSIGND_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "dt.h"

struct db;

/* The schema version this code writes (PRAGMA user_version after db_open). */
#define DB_SCHEMA_VERSION 6
/* PRAGMA application_id of assignd's databases: "asgd". */
#define DB_APPLICATION_ID 0x61736764

/*
 * Open (creating if needed) and migrate.  *err explains a failure.
 * Missing parent directories are created with mode 0750 and a new database
 * file gets mode 0640; a symlink at path is refused.  Refusals: a file
 * that is not a database or fails SQLite's quick_check -> -EUCLEAN (the
 * file is left alone, never recreated); a schema newer than
 * DB_SCHEMA_VERSION -> -ENOTSUP; another process holding the write lock
 * past the busy timeout -> -EBUSY.
 */
int db_open(const char *path, struct db **ret, char **err);
/*
 * An in-memory copy of the database at path (read, never written: what
 * the copy is given is lost at db_close), checked and migrated like
 * db_open(); path NULL gives an empty one.  For assignctl --offline, which
 * reads the administrator's policy of a daemon's database and must not
 * change it.  db_path() is path (":memory:" for NULL).
 */
int db_open_copy(const char *path, struct db **ret, char **err);
void db_close(struct db *db);
DEFINE_FREE_FUNC(struct db, db_close)

/* Schema version after migrations (PRAGMA user_version). */
int db_schema_version(struct db *db);
/* The file's path, for messages. */
const char *db_path(const struct db *db);
/*
 * Whether db_open() found nothing and made the schema: a first start, or a
 * database that was lost or emptied.  What the hypervisor's domains hold
 * then has no record and must be found (the engine's adoption).
 */
bool db_created(const struct db *db);

/* SQLite's message for the last failed call on db, or NULL. */
const char *db_last_error(struct db *db);

/*
 * Tests only: from the nth outermost commit after this call on, every
 * commit fails with -err (err 0: EIO) and is rolled back, as on a disk that
 * filled up; nth 0 turns it off.  (A full tmpfs shows the same on a real
 * disk, but not at a step of one's choosing.)
 */
void db_set_failpoint(struct db *db, unsigned nth, int err);

/* Outermost commits that succeeded since db_open() (the benchmarks count them). */
uint64_t db_commit_count(const struct db *db);

/*
 * Benchmarks only: synchronous=NORMAL instead of FULL, the durability
 * before every commit was synced (the figures before and after that
 * change).  A commit is then durable against a crash of the process but
 * not of the machine.  Never for a daemon that gives devices to guests.
 */
int db_set_synchronous_normal(struct db *db);

/*
 * Explicit transactions for callers that combine several writes.  They
 * nest: the outermost db_begin() starts a write transaction (BEGIN
 * IMMEDIATE), inner ones are savepoints, so db_rollback() undoes only what
 * was done since the matching db_begin().  Nothing is durable before the
 * outermost db_commit().  A failed db_commit() has rolled its level back.
 * Every write function below runs in its own (nested) transaction.
 */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* ---- inventory ---------------------------------------------------------- */

/*
 * Replace the stored inventory with inv (already classified) in one
 * transaction.  Admin policy is keyed by path and is kept; policy rows
 * whose device vanished are kept too (reported by db_policy_list with
 * present = false).  Also stores inv->sha256 and tables_digest (NULL is
 * stored as "").  An inconsistent inventory (group or member index out of
 * range, an enum without a name, no sha256) is -EINVAL and a duplicate
 * device path -EEXIST, with the stored inventory unchanged.
 */
int db_inventory_replace(struct db *db, const struct dt_inventory *inv,
                         const char *tables_digest);

/*
 * Load the stored inventory; -ENOENT if none was ever stored.  The result
 * equals what was stored field by field, in the same order; compatible
 * vectors are always allocated (an empty one is {NULL}).
 */
int db_inventory_load(struct db *db, struct dt_inventory **ret);

/* sha256 and tables digest of the stored inventory; -ENOENT if none. */
int db_inventory_digests(struct db *db, char sha256[65], char tables_digest[65]);

/* ---- admin policy ------------------------------------------------------- */

#define DB_POLICY_UNSET (-1)    /* as input: leave unchanged; as output: not set */
#define DB_POLICY_CLEAR (-2)    /* as input only: remove this field's override */

struct db_policy {
        char *path;
        int dma;                /* enum dt_dma, or DB_POLICY_UNSET */
        int assignable;         /* 0/1, or DB_POLICY_UNSET */
        char *note;             /* may be NULL */
        uint32_t set_by_uid;
        int64_t set_at;         /* unix seconds */
        bool present;           /* the path exists in the stored inventory */
};

/*
 * Insert or update the policy of a path.  A field given as
 * DB_POLICY_UNSET leaves the stored value unchanged, DB_POLICY_CLEAR
 * removes it; note NULL leaves the note unchanged, "" removes it.  A row
 * left with neither dma, assignable nor a note is deleted; a note alone is
 * kept (it overrides nothing).  Any other value: -EINVAL.
 */
int db_policy_set(struct db *db, const char *path, int dma, int assignable,
                  const char *note, uint32_t uid);
/* Remove every override of path; -ENOENT if it had none. */
int db_policy_unset(struct db *db, const char *path);
/* -ENOENT if the path has no policy. */
int db_policy_get(struct db *db, const char *path, struct db_policy *ret);
/* All policy rows ordered by path. */
int db_policy_list(struct db *db, struct db_policy **ret, size_t *n);
void db_policy_clear(struct db_policy *p);
void db_policy_array_free(struct db_policy *p, size_t n);

/* ---- leases (owner of record) ------------------------------------------ */

/*
 * The states of a lease.  free and failed are final: a final lease
 * cannot be revived (-EINVAL) and its devices are free for another lease.
 * Which transitions are allowed, and why each happens, is the engine's
 * table (daemon/engine/lease-state.c, printed in daemon/README.md); the
 * engine sets a final state only once the hypervisor holds none of the
 * lease's devices any more.
 */
/*
 * The progress of one step of a lease's plan, recorded in a row of its own
 * (db_lease_mark_step): the flags of step idx of the plan, newer than what
 * the plan's text says.
 */
struct db_step_mark {
        uint32_t idx;
        bool done;
        bool undone;
        bool kept;
};

enum db_lease_state {
        DB_LEASE_NONE = -1,     /* "no state": unchanged / any / no target */
        DB_LEASE_RESERVED,
        DB_LEASE_ASSIGNING,
        DB_LEASE_ASSIGNED,
        DB_LEASE_RELEASING,
        DB_LEASE_FREE,
        DB_LEASE_FAILED,
        _DB_LEASE_STATE_MAX,
};

const char *db_lease_state_to_string(enum db_lease_state s);   /* NULL if invalid */
int db_lease_state_from_string(const char *s);                  /* -EINVAL if unknown */
bool db_lease_state_is_final(enum db_lease_state s);

struct db_lease {
        int64_t id;
        char *domain_name;      /* NULL if the lease was made by domid only */
        int domid;              /* -1 until bound */
        enum db_lease_state state;
        enum db_lease_state target_state;       /* DB_LEASE_NONE: none */
        bool forced;            /* unprotected devices assigned by force */
        uint32_t uid;           /* caller (SO_PEERCRED) */
        int32_t pid;
        int64_t created_at;     /* unix seconds, set by the database */
        int64_t updated_at;
        int64_t expires_at;     /* 0: never */
        char *error;            /* last failure, or NULL */
        /*
         * JSON: the ordered steps with their flags as they were when the
         * plan was last written (creation, a state change); marks hold the
         * progress recorded since, one row per step (by index, ascending).
         */
        char *plan;
        struct db_step_mark *marks;
        size_t n_marks;
        char *options;          /* JSON: the request's options, or NULL */
        /*
         * A standing reservation: dedicated to domain_name until cancelled,
         * back to reserved (domid -1) when its domain dies.
         */
        bool standing;
        /*
         * Does not hold its devices while no domain of its name runs (a
         * standing lease made with exclusive=no); every other lease holds
         * them from creation to a final state.
         */
        bool free_while_down;
        /* Found in the hypervisor, not granted by a request. */
        bool adopted;
        char **devices;         /* device paths, in request order */
        size_t n_devices;
};

/*
 * Insert a lease with its devices atomically; created_at/updated_at are
 * set to now and *id receives the new id.  At least one device, no
 * duplicates, a domain_name or a domid, JSON plan/options, else -EINVAL.
 * -EEXIST if any device is already held by a lease that is not final (the
 * error does not say which: use db_lease_find_by_device).
 */
int db_lease_create(struct db *db, const struct db_lease *l, int64_t *id);
/* -ENOENT if there is no such lease. */
int db_lease_get(struct db *db, int64_t id, struct db_lease *ret);
/* Only its state (cheaper); -ENOENT if there is no such lease. */
int db_lease_get_state(struct db *db, int64_t id, enum db_lease_state *ret);
/*
 * Change state (DB_LEASE_NONE: unchanged), plan (NULL: unchanged) and
 * error (NULL: unchanged, "": cleared); updated_at becomes now.  Moving to
 * free/failed releases the devices in the same transaction.  A new plan
 * carries every step's flags: the marks recorded before it are dropped.
 * -ENOENT if no such lease, -EINVAL for a final lease moved to a non-final
 * state.
 */
int db_lease_update(struct db *db, int64_t id, enum db_lease_state state, const char *plan,
                    const char *error);

/*
 * The one write of a state change, in one transaction: read the lease's
 * state into *from, ask allowed(*from, to) (false: -EPROTO, nothing
 * written), then store to, target (DB_LEASE_NONE: none), plan and error as
 * db_lease_update does.  The engine's transition table is allowed.
 */
int db_lease_transition(struct db *db, int64_t id, enum db_lease_state to,
                        enum db_lease_state target, const char *plan, const char *error,
                        bool (*allowed)(enum db_lease_state from, enum db_lease_state to),
                        enum db_lease_state *from);

/*
 * Record the flags of step idx of a lease's plan: one small row, the
 * intent log's entry for one hypercall (the plan's text is not written
 * again).  -EINVAL when there is no such lease.
 */
int db_lease_mark_step(struct db *db, int64_t id, uint32_t idx, bool done, bool undone,
                       bool kept);
/* Set the target state (DB_LEASE_NONE clears it); updated_at becomes now. */
int db_lease_set_target(struct db *db, int64_t id, enum db_lease_state target);
/* Bind to a domid (-1 unbinds); updated_at becomes now.  -ENOENT, -EINVAL. */
int db_lease_bind_domid(struct db *db, int64_t id, int domid);

struct db_lease_filter {
        enum db_lease_state state;      /* DB_LEASE_NONE: any */
        int domid;                      /* -1: any */
        const char *domain_name;        /* NULL: any */
        const char *device;             /* leases that have (or had) this path; NULL: any */
        bool include_final;             /* also free/failed (implied by a final state filter) */
        int64_t after;                  /* only ids above it (the next page); 0: from the first */
        size_t limit;                   /* at most this many; 0: every one */
};

/* Leases matching f (NULL: every non-final lease), ordered by id. */
int db_lease_list(struct db *db, const struct db_lease_filter *f, struct db_lease **ret,
                  size_t *n);
/*
 * Retention: delete the final leases (with their devices and steps) that
 * ended before cutoff (unix seconds; 0: none for their age) and all but
 * the keep that ended last (SIZE_MAX: none for their number), at most
 * batch of them (0: no bound).  A lease that is not final is never
 * deleted.  Returns how many were deleted.
 */
int db_lease_prune(struct db *db, int64_t cutoff, size_t keep, size_t batch);
/*
 * A device as a lease holds it, with what the owner map shows of the lease
 * (engine/owners.c): the device rows of the leases, joined with them.
 */
struct db_holder {
        char *path;
        int64_t lease;
        bool active;            /* the lease holds it now (the one-owner index's flag) */
        int domid;              /* -1 until bound */
        char *domain_name;      /* may be NULL */
        enum db_lease_state state;
        bool standing;
        bool adopted;
        int64_t created_at;
};
void db_holder_array_free(struct db_holder *h, size_t n);
/*
 * lease > 0: every device row of that lease, held or not; lease 0: every
 * device some lease holds.
 */
int db_lease_holders(struct db *db, int64_t lease, struct db_holder **ret, size_t *n);

/*
 * Told after each outermost commit that changed which lease holds what, or
 * how (a lease created, its state or its domid changed): the leases
 * concerned (ids, n > 0).  Told with n == 0 after a write to the leases
 * that failed or was rolled back: whatever it had learnt should be read
 * again from the database.  One watcher; NULL removes it.
 */
typedef void db_lease_watch_fn(void *userdata, const int64_t *ids, size_t n);
void db_set_lease_watch(struct db *db, db_lease_watch_fn *fn, void *userdata);

/* How many leases are in each state that is not final (the others count 0). */
int db_lease_count(struct db *db, size_t counts[_DB_LEASE_STATE_MAX]);
/* The non-final lease holding path; -ENOENT if none. */
int db_lease_find_by_device(struct db *db, const char *path, struct db_lease *ret);
void db_lease_clear(struct db_lease *l);
void db_lease_array_free(struct db_lease *l, size_t n);

/* ---- audit log ---------------------------------------------------------- */

struct db_audit {
        int64_t id;             /* assigned on append */
        int64_t at;             /* unix seconds; 0 on append: now */
        uint32_t uid;
        int32_t pid;
        char *action;           /* e.g. "Assign", "SetDevicePolicy" */
        char *target;           /* domain and/or device text, may be NULL */
        char *result;           /* "ok" or the error name */
        char *detail;           /* JSON or text, may be NULL */
        char *severity;         /* "info" or "warning"; NULL on append: "info" */
};

/* -EINVAL without action or result, or with another severity. */
int db_audit_append(struct db *db, const struct db_audit *a);
/* Entries with id > after_id, oldest first, at most limit (0: no limit). */
int db_audit_list(struct db *db, int64_t after_id, size_t limit, struct db_audit **ret,
                  size_t *n);
/*
 * The newest limit entries (0: all) whose id is below before (0: any),
 * oldest first (newest last).
 */
int db_audit_tail(struct db *db, int64_t before, size_t limit, struct db_audit **ret,
                  size_t *n);
/*
 * The newest limit entries (0: all) about one device, oldest first: those
 * whose target names path as a word ("domain X: PATH ...", or PATH alone)
 * and those whose target is a lease that had path ("lease N ...").
 */
int db_audit_device(struct db *db, const char *path, size_t limit, struct db_audit **ret,
                    size_t *n);
/*
 * Retention: delete the entries older than cutoff (unix seconds; 0: none
 * for their age) and all but the newest keep (SIZE_MAX: none for their
 * number), at most batch of them (0: no bound), so that a large backlog is
 * deleted a part at a time.  Returns how many were deleted.
 */
int db_audit_prune(struct db *db, int64_t cutoff, size_t keep, size_t batch);
void db_audit_clear(struct db_audit *a);
void db_audit_array_free(struct db_audit *a, size_t n);

#endif
