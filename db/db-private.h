/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by the db/ source files: the connection object, the
 * statement cache, SQLite-to-errno translation and the small bind/column
 * helpers that keep the per-table code short.  Not installed, not used
 * outside db/.
 */
#ifndef ASSIGND_DB_PRIVATE_H
#define ASSIGND_DB_PRIVATE_H

#include <sqlite3.h>

#include "db.h"

/* Statements are few and static; a small linear cache is enough. */
#define DB_STMT_CACHE_MAX 128
/*
 * How long a write waits for another process's lock (ms) before it fails
 * with -EBUSY.  The daemon is one event loop: every other client waits
 * with it, so the bound is short (documented in db.h and assignd(8)).
 */
#define DB_BUSY_TIMEOUT_MS 500

/* Savepoint levels whose statements are prepared once; deeper ones are parsed each time. */
#define DB_SAVEPOINTS 8

/*
 * Transaction control, prepared once: through sqlite3_exec() every BEGIN
 * and COMMIT was parsed again, a tenth of a read's time.
 */
struct db_tx_stmts {
        sqlite3_stmt *begin, *commit, *rollback, *read_begin, *read_end;
        sqlite3_stmt *savepoint[DB_SAVEPOINTS + 1];     /* indexed by level, from 1 */
        sqlite3_stmt *release[DB_SAVEPOINTS + 1];
        sqlite3_stmt *rollback_to[DB_SAVEPOINTS + 1];
};

struct db_cached_stmt {
        const char *sql;        /* identity: the static SQL string's address */
        sqlite3_stmt *stmt;
};

struct db {
        sqlite3 *conn;
        char *path;
        uint32_t tx_depth;      /* 0: autocommit; 1: BEGIN; >1: savepoints */
        uint32_t read_depth;    /* nesting of db_read_begin() snapshots */
        char *last_error;
        bool created;           /* db_open() made the schema from nothing */
        /* db_set_failpoint(): from the fail_at-th commit on, commits fail. */
        unsigned fail_at, commits;
        int fail_errno;
        uint64_t commits_done;          /* db_commit_count() */
        /* db_set_lease_watch(): the leases written in the transaction in progress. */
        db_lease_watch_fn *watch;
        void *watch_userdata;
        int64_t *touched;
        size_t n_touched, cap_touched;
        bool touched_lost;              /* one could not be remembered: all of them */
        struct db_cached_stmt cache[DB_STMT_CACHE_MAX];
        size_t n_cache;
        struct db_tx_stmts tx;
};

/*
 * The statements db-lease.c and db-audit.c run (NULL-terminated): the
 * history grows without bound until retention prunes it, so each must find
 * its rows through an index, which a unit test checks with EXPLAIN QUERY
 * PLAN.  A statement added to either file belongs in its list.
 */
extern const char *const db_lease_statements[];
extern const char *const db_audit_statements[];

/* Remember that lease id changed in the transaction in progress (for the lease watch). */
void db_touch_lease(struct db *db, int64_t id);

/* Map a (possibly extended) SQLite result code to a negative errno. */
int db_errno(int rc);

/*
 * Record SQLite's message for rc (see db_last_error), log it at debug
 * level and return the matching negative errno.
 */
int db_fail(struct db *db, int rc, const char *what);

/*
 * A prepared statement for sql, which must be a string with static
 * storage: its address is the cache key.  The statement comes back reset
 * with its bindings cleared; reset it again when done (_cleanup_stmt_) so
 * it does not pin a read snapshot of the WAL.
 */
int db_stmt(struct db *db, const char *sql, sqlite3_stmt **ret);

static inline void db_stmt_resetp(sqlite3_stmt **s)
{
        if (*s) {
                sqlite3_reset(*s);
                sqlite3_clear_bindings(*s);
        }
}
#define _cleanup_stmt_ _cleanup_(db_stmt_resetp)

/* Run SQL that returns no rows (schema, pragmas, transaction control). */
int db_exec(struct db *db, const char *sql);

/* Step a statement that must finish without a row. */
int db_step_done(struct db *db, sqlite3_stmt *s, const char *what);

/* Step once: 1 for a row, 0 when done, negative errno on error. */
int db_step_row(struct db *db, sqlite3_stmt *s, const char *what);

/*
 * Bind parameters 1..n from a format: 't' const char * (NULL binds NULL),
 * 'I' int64_t, 'i' int, 'u' uint32_t, 'b' bool, 'g' an int where a
 * negative value binds NULL, 'z' an int64_t where 0 or less binds NULL.
 */
int db_bindf(struct db *db, sqlite3_stmt *s, const char *fmt, ...);
/* The cached statement for sql, bound with db_bindf and stepped to the end. */
int db_execf(struct db *db, const char *sql, const char *what, const char *fmt, ...);

/* A LIMIT's value for at most limit rows (0 or too many for SQLite: -1, no limit). */
int64_t db_sql_limit(size_t limit);
/*
 * Retention, in the caller's transaction: by_age (bound cutoff, then the
 * batch's LIMIT) when cutoff > 0, then by_count (bound keep, then what is
 * left of the batch) unless keep is SIZE_MAX.  How many rows went.
 */
int db_prune(struct db *db, const char *by_age, const char *by_count, const char *what,
             int64_t cutoff, size_t keep, size_t batch);

/* Copy a TEXT column (NULL stays NULL).  -ENOMEM. */
int db_column_strdup(sqlite3_stmt *s, int i, char **ret);
/* Read integer columns with a range check: stored data outside the range is -EUCLEAN. */
int db_column_u32(sqlite3_stmt *s, int i, uint32_t *ret);
int db_column_bool(sqlite3_stmt *s, int i, bool *ret);

int64_t db_now(void);

/*
 * One consistent snapshot for a read made of several queries (another
 * process may write between them).  Inside a write transaction there is
 * nothing to do.  Pair every successful db_read_begin() with db_read_end().
 */
int db_read_begin(struct db *db);
void db_read_end(struct db *db);

/* Run fn inside its own transaction (a savepoint when the caller holds one). */
#define DB_TX(db, expr)                                         \
        ({                                                      \
                int _r_ = db_begin(db);                         \
                if (_r_ >= 0) {                                 \
                        _r_ = (expr);                           \
                        if (_r_ < 0)                            \
                                (void)db_rollback(db);          \
                        else {                                  \
                                int _c_ = db_commit(db);        \
                                if (_c_ < 0)                    \
                                        _r_ = _c_;              \
                        }                                       \
                }                                               \
                _r_;                                            \
        })

#endif
