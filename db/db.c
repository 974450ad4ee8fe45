/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening the database: file and directory creation with the right modes,
 * refusal of corrupt, foreign or too-new files, connection settings (WAL,
 * foreign keys, synchronous=FULL), schema migration; plus what every table
 * module shares: nested transactions, the statement cache and
 * SQLite-to-errno translation.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>
#include <time.h>

#include "db-private.h"
#include "db-schema.h"
#include "log.h"

int db_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                switch (rc) {
                case SQLITE_CONSTRAINT_UNIQUE:
                case SQLITE_CONSTRAINT_PRIMARYKEY:
                case SQLITE_CONSTRAINT_ROWID:
                        return -EEXIST;
                default:
                        return -EINVAL;
                }
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        default:
                return -EIO;
        }
}

int db_fail(struct db *db, int rc, const char *what)
{
        const char *msg = db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc);
        char *s = strdup_printf("%s: %s", what, msg);

        if (s) {
                free(db->last_error);
                db->last_error = s;
        }
        log_debug("db: %s: %s (%d)", what, msg, rc);
        return db_errno(rc);
}

const char *db_last_error(struct db *db)
{
        return db ? db->last_error : NULL;
}

int64_t db_now(void)
{
        return (int64_t)time(NULL);
}

int db_stmt(struct db *db, const char *sql, sqlite3_stmt **ret)
{
        sqlite3_stmt *s;
        int rc;

        for (size_t i = 0; i < db->n_cache; i++) {
                if (db->cache[i].sql != sql)
                        continue;
                s = db->cache[i].stmt;
                /*
                 * A statement still stepping belongs to an outer caller;
                 * resetting it here would silently end that loop.
                 */
                if (sqlite3_stmt_busy(s)) {
                        log_debug("db: statement re-entered: %.60s", sql);
                        return -EBUSY;
                }
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
                *ret = s;
                return 0;
        }
        if (db->n_cache >= DB_STMT_CACHE_MAX)
                return -E2BIG;
        rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK)
                return db_fail(db, rc, "prepare");
        db->cache[db->n_cache++] = (struct db_cached_stmt){ .sql = sql, .stmt = s };
        *ret = s;
        return 0;
}

int db_exec(struct db *db, const char *sql)
{
        int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return db_fail(db, rc, "exec");
        return 0;
}

int db_step_done(struct db *db, sqlite3_stmt *s, const char *what)
{
        int rc = sqlite3_step(s);

        if (rc == SQLITE_DONE)
                return 0;
        if (rc == SQLITE_ROW)
                return 0;       /* e.g. a pragma echoing its value: nothing to read */
        return db_fail(db, rc, what);
}

int db_step_row(struct db *db, sqlite3_stmt *s, const char *what)
{
        int rc = sqlite3_step(s);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return db_fail(db, rc, what);
}

static int bindv(struct db *db, sqlite3_stmt *s, const char *fmt, va_list ap)
{
        int i = 1, rc = SQLITE_OK;

        for (const char *f = fmt; *f && rc == SQLITE_OK; f++, i++) {
                switch (*f) {
                case 't': {
                        const char *v = va_arg(ap, const char *);

                        rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC)
                               : sqlite3_bind_null(s, i);
                        break;
                }
                case 'I':
                        rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
                        break;
                case 'i':
                case 'b':
                        rc = sqlite3_bind_int64(s, i, va_arg(ap, int));
                        break;
                case 'u':
                        rc = sqlite3_bind_int64(s, i, va_arg(ap, uint32_t));
                        break;
                case 'z': {
                        int64_t v = va_arg(ap, int64_t);

                        rc = v <= 0 ? sqlite3_bind_null(s, i) : sqlite3_bind_int64(s, i, v);
                        break;
                }
                case 'g': {
                        int v = va_arg(ap, int);

                        rc = v < 0 ? sqlite3_bind_null(s, i) : sqlite3_bind_int64(s, i, v);
                        break;
                }
                default:
                        return -EINVAL;
                }
        }
        return rc == SQLITE_OK ? 0 : db_fail(db, rc, "bind");
}

int db_bindf(struct db *db, sqlite3_stmt *s, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = bindv(db, s, fmt, ap);
        va_end(ap);
        return r;
}

int db_execf(struct db *db, const char *sql, const char *what, const char *fmt, ...)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        va_list ap;
        int r;

        r = db_stmt(db, sql, &s);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        r = bindv(db, s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return db_step_done(db, s, what);
}

int64_t db_sql_limit(size_t limit)
{
        return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

int db_prune(struct db *db, const char *by_age, const char *by_count, const char *what,
             int64_t cutoff, size_t keep, size_t batch)
{
        int64_t b = db_sql_limit(batch);
        int r, n = 0;

        if (cutoff > 0) {
                r = db_execf(db, by_age, what, "II", cutoff, b);
                if (r < 0)
                        return r;
                n = sqlite3_changes(db->conn);
                if (b > 0 && (b -= n) == 0)
                        return n;
        }
        if (keep != SIZE_MAX) {
                r = db_execf(db, by_count, what, "II", keep > INT64_MAX ? INT64_MAX : (int64_t)keep,
                             b);
                if (r < 0)
                        return r;
                n += sqlite3_changes(db->conn);
        }
        return n;
}

int db_column_strdup(sqlite3_stmt *s, int i, char **ret)
{
        const unsigned char *v;
        char *c;

        if (sqlite3_column_type(s, i) == SQLITE_NULL) {
                *ret = NULL;
                return 0;
        }
        v = sqlite3_column_text(s, i);
        if (!v)
                return -ENOMEM;
        c = strdup((const char *)v);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int db_column_u32(sqlite3_stmt *s, int i, uint32_t *ret)
{
        int64_t v;

        if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
                return -EUCLEAN;
        v = sqlite3_column_int64(s, i);
        if (v < 0 || v > UINT32_MAX)
                return -EUCLEAN;
        *ret = (uint32_t)v;
        return 0;
}

int db_column_bool(sqlite3_stmt *s, int i, bool *ret)
{
        int64_t v;

        if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
                return -EUCLEAN;
        v = sqlite3_column_int64(s, i);
        if (v != 0 && v != 1)
                return -EUCLEAN;
        *ret = v;
        return 0;
}

/* ---- transactions ------------------------------------------------------- */

/* Run a transaction-control statement, preparing it the first time. */
static int tx_run(struct db *db, sqlite3_stmt **slot, const char *sql)
{
        int rc, r = 0;

        if (!*slot) {
                rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
                if (rc != SQLITE_OK) {
                        *slot = NULL;
                        return db_fail(db, rc, sql);
                }
        }
        rc = sqlite3_step(*slot);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = db_fail(db, rc, sql);
        sqlite3_reset(*slot);
        return r;
}

#define SP_NAMES(prefix)                                                             \
        { NULL, prefix "1", prefix "2", prefix "3", prefix "4", prefix "5", prefix "6", \
          prefix "7", prefix "8" }
static const char *const savepoint_sql[DB_SAVEPOINTS + 1] = SP_NAMES("SAVEPOINT db_sp");
static const char *const release_sql[DB_SAVEPOINTS + 1] = SP_NAMES("RELEASE db_sp");
static const char *const rollback_to_sql[DB_SAVEPOINTS + 1] = SP_NAMES("ROLLBACK TO db_sp");

/* The savepoint statement of a level (from 1), prepared if it is one of the first ones. */
static int savepoint_run(struct db *db, sqlite3_stmt **slots, const char *const *names,
                         const char *verb, uint32_t level)
{
        char sql[64];

        if (level <= DB_SAVEPOINTS)
                return tx_run(db, &slots[level], names[level]);
        snprintf(sql, sizeof(sql), "%s db_sp%u", verb, level);
        return db_exec(db, sql);
}

void db_set_lease_watch(struct db *db, db_lease_watch_fn *fn, void *userdata)
{
        db->watch = fn;
        db->watch_userdata = userdata;
}

void db_touch_lease(struct db *db, int64_t id)
{
        if (!db->watch)
                return;
        for (size_t i = 0; i < db->n_touched; i++)
                if (db->touched[i] == id)
                        return;
        if (GROW(db->touched, db->cap_touched, db->n_touched) < 0) {
                db->touched_lost = true;
                return;
        }
        db->touched[db->n_touched++] = id;
}

/*
 * The outermost transaction ended: tell the watcher what it committed, or
 * that a write it may have learnt of did not happen (ok false).
 */
static void tell_watch(struct db *db, bool ok)
{
        bool any = db->n_touched || db->touched_lost;

        if (db->watch && any) {
                if (ok && !db->touched_lost)
                        db->watch(db->watch_userdata, db->touched, db->n_touched);
                else
                        db->watch(db->watch_userdata, NULL, 0);
        }
        db->n_touched = 0;
        db->touched_lost = false;
}

int db_begin(struct db *db)
{
        int r;

        if (db->tx_depth == UINT32_MAX)
                return -EOVERFLOW;
        if (db->read_depth && db->tx_depth == 0)
                return -EBUSY;  /* a read snapshot cannot become a write transaction safely */
        if (db->tx_depth == 0)
                /* IMMEDIATE: take the write lock now rather than fail to upgrade later. */
                r = tx_run(db, &db->tx.begin, "BEGIN IMMEDIATE");
        else
                r = savepoint_run(db, db->tx.savepoint, savepoint_sql, "SAVEPOINT",
                                  db->tx_depth);
        if (r < 0)
                return r;
        db->tx_depth++;
        return 0;
}

int db_rollback(struct db *db)
{
        int r;

        if (db->tx_depth == 0)
                return -EINVAL;
        db->tx_depth--;
        /*
         * Some errors (I/O, out of memory, disk full) make SQLite roll the
         * whole transaction back by itself; there is nothing left to undo.
         */
        if (db->tx_depth == 0)
                tell_watch(db, false);
        if (sqlite3_get_autocommit(db->conn))
                return 0;
        if (db->tx_depth == 0)
                return tx_run(db, &db->tx.rollback, "ROLLBACK");
        r = savepoint_run(db, db->tx.rollback_to, rollback_to_sql, "ROLLBACK TO",
                          db->tx_depth);
        if (r >= 0)
                r = savepoint_run(db, db->tx.release, release_sql, "RELEASE",
                                  db->tx_depth);
        return r;
}

int db_commit(struct db *db)
{
        int r;

        if (db->tx_depth == 0)
                return -EINVAL;
        if (sqlite3_get_autocommit(db->conn)) {
                /* SQLite already rolled back (see db_rollback): the work is lost. */
                db->tx_depth--;
                if (db->tx_depth == 0)
                        tell_watch(db, false);
                free(db->last_error);
                db->last_error = strdup("commit: the transaction was already rolled back by SQLite");
                return -EIO;
        }
        if (db->tx_depth == 1 && db->fail_at && ++db->commits >= db->fail_at) {
                /* An injected failure (db_set_failpoint): as if the disk refused it. */
                free(db->last_error);
                db->last_error = strdup("commit: refused by a failpoint");
                (void)db_rollback(db);
                return -db->fail_errno;
        }
        if (db->tx_depth == 1)
                r = tx_run(db, &db->tx.commit, "COMMIT");
        else
                r = savepoint_run(db, db->tx.release, release_sql, "RELEASE",
                                  db->tx_depth - 1);
        if (r < 0) {
                (void)db_rollback(db);
                return r;
        }
        db->tx_depth--;
        if (db->tx_depth == 0) {
                db->commits_done++;
                tell_watch(db, true);
        }
        return 0;
}

uint64_t db_commit_count(const struct db *db)
{
        return db->commits_done;
}

int db_set_synchronous_normal(struct db *db)
{
        return db_exec(db, "PRAGMA synchronous = NORMAL");
}

void db_set_failpoint(struct db *db, unsigned nth, int err)
{
        db->fail_at = nth;
        db->fail_errno = err > 0 ? err : EIO;
        db->commits = 0;
}

int db_read_begin(struct db *db)
{
        int r;

        if (db->tx_depth == 0 && db->read_depth == 0) {
                r = tx_run(db, &db->tx.read_begin, "BEGIN DEFERRED");
                if (r < 0)
                        return r;
        }
        db->read_depth++;
        return 0;
}

void db_read_end(struct db *db)
{
        if (db->read_depth == 0)
                return;
        if (--db->read_depth == 0 && db->tx_depth == 0)
                (void)tx_run(db, &db->tx.read_end, "COMMIT");
}

/* ---- open --------------------------------------------------------------- */

/* mkdir -p of path's directory; components we create get mode 0750. */
static int make_parents(const char *path, char **err)
{
        _cleanup_free_ char *copy = strdup(path);
        char *dir, *p;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        if (streq(dir, ".") || streq(dir, "/"))
                return 0;
        for (p = dir + 1;; p++) {
                bool last = *p == '\0';

                if (*p != '/' && !last)
                        continue;
                *p = '\0';
                if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                        return set_error(err, -errno, "cannot create directory %s: %m", dir);
                if (last)
                        break;
                *p = '/';
        }
        return 0;
}

/*
 * Create the file ourselves so that it gets 0640 whatever the umask is
 * (SQLite gives the -wal and -shm files the database file's mode), and
 * refuse anything that is not a regular file.
 */
static int create_file(const char *path, char **err)
{
        struct stat st;
        int fd;

        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd >= 0) {
                int r = fchmod(fd, 0640) < 0 ? -errno : 0;

                close(fd);
                if (r < 0)
                        return set_error(err, r, "cannot set the mode of %s: %s", path,
                                         strerror(-r));
                return 0;
        }
        if (errno != EEXIST)
                return set_error(err, -errno, "cannot create %s: %m", path);
        if (lstat(path, &st) < 0)
                return set_error(err, -errno, "cannot stat %s: %m", path);
        if (S_ISLNK(st.st_mode))
                return set_error(err, -ELOOP, "%s is a symbolic link; refusing to open it", path);
        if (!S_ISREG(st.st_mode))
                return set_error(err, -EINVAL, "%s is not a regular file", path);
        return 0;
}

static int read_int_pragma(struct db *db, const char *sql, int64_t *ret)
{
        sqlite3_stmt *s;
        int rc, r;

        rc = sqlite3_prepare_v2(db->conn, sql, -1, &s, NULL);
        if (rc != SQLITE_OK)
                return db_fail(db, rc, sql);
        r = db_step_row(db, s, sql);
        if (r > 0)
                *ret = sqlite3_column_int64(s, 0);
        else if (r == 0)
                r = -EIO;
        sqlite3_finalize(s);
        return r < 0 ? r : 0;
}

/* SQLite's quick_check (structure, not index content): a few ms on our sizes. */
static int check_integrity(struct db *db, char **err)
{
        sqlite3_stmt *s;
        const unsigned char *v;
        int rc, r;

        rc = sqlite3_prepare_v2(db->conn, "PRAGMA quick_check(1)", -1, &s, NULL);
        if (rc != SQLITE_OK) {
                r = db_fail(db, rc, "quick_check");
                return set_error(err, r, "%s: cannot check the database: %s", db->path,
                                 db->last_error);
        }
        r = db_step_row(db, s, "quick_check");
        if (r < 0) {
                sqlite3_finalize(s);
                return set_error(err, r, "%s: cannot check the database: %s", db->path,
                                 db->last_error);
        }
        v = r > 0 ? sqlite3_column_text(s, 0) : NULL;
        if (!v || strcmp((const char *)v, "ok") != 0) {
                r = set_error(err, -EUCLEAN,
                              "%s: database is corrupt (%s); move it away to start afresh",
                              db->path, v ? (const char *)v : "no check result");
                sqlite3_finalize(s);
                return r;
        }
        sqlite3_finalize(s);
        return 0;
}

static int set_journal_wal(struct db *db, char **err)
{
        sqlite3_stmt *s;
        const unsigned char *v;
        int rc, r;

        rc = sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc != SQLITE_OK)
                return set_error(err, db_fail(db, rc, "journal_mode"),
                                 "%s: cannot switch to WAL: %s", db->path, db->last_error);
        r = db_step_row(db, s, "journal_mode");
        v = r > 0 ? sqlite3_column_text(s, 0) : NULL;
        if (r >= 0 && (!v || strcmp((const char *)v, "wal") != 0))
                r = set_error(err, -EIO, "%s: the file system does not support WAL (journal mode %s)",
                              db->path, v ? (const char *)v : "unknown");
        else if (r < 0)
                r = set_error(err, r, "%s: cannot switch to WAL: %s", db->path, db->last_error);
        sqlite3_finalize(s);
        return r < 0 ? r : 0;
}

/* Whether the file has any table, index or trigger (anybody's). */
static int has_schema(struct db *db, bool *ret)
{
        int64_t n = 0;
        int r = read_int_pragma(db, "SELECT count(*) FROM sqlite_master", &n);

        if (r >= 0)
                *ret = n > 0;
        return r;
}

/*
 * The file must be assignd's: its application_id, or, for a file without
 * one, nothing in it at all (a new or emptied file: the schema is made) or
 * an assignd schema from before the id was set (it gets the id).  Anything
 * else is another application's database and is refused, never written:
 * the daemon would otherwise put its tables into it and start with no
 * record of who holds what.
 */
static int check_application(struct db *db, int64_t version, char **err)
{
        int64_t id = 0, ours = 0;
        bool any = false;
        int r;

        r = read_int_pragma(db, "PRAGMA application_id", &id);
        if (r < 0)
                return set_error(err, r, "%s: cannot read the application id: %s", db->path,
                                 db->last_error);
        if (id == DB_APPLICATION_ID)
                return 0;
        if (id != 0)
                return set_error(err, -EUCLEAN,
                                 "%s is another application's SQLite database (application_id "
                                 "0x%08" PRIx64 ", assignd's is 0x%08x); refusing to use it: "
                                 "move it away or give assignd another --db",
                                 db->path, (uint64_t)(uint32_t)id, DB_APPLICATION_ID);
        r = has_schema(db, &any);
        if (r >= 0 && version > 0)
                r = read_int_pragma(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                    "AND name IN ('leases', 'devices', 'audit')", &ours);
        if (r < 0)
                return set_error(err, r, "%s: cannot read the schema: %s", db->path,
                                 db->last_error);
        if (any && !(version > 0 && ours == 3))
                return set_error(err, -EUCLEAN,
                                 "%s is an SQLite database that is not assignd's (it has tables "
                                 "of its own and no assignd application_id); refusing to use it: "
                                 "move it away or give assignd another --db", db->path);
        db->created = !any;
        return 0;
}

static int migrate(struct db *db, int64_t from, char **err)
{
        char sql[128];
        int r;

        for (size_t i = (size_t)from; i < db_n_migrations; i++) {
                /* The id goes in with the first change, so a file is never half claimed. */
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu; PRAGMA application_id = %d",
                         i + 1, DB_APPLICATION_ID);
                r = db_begin(db);
                if (r >= 0) {
                        r = db_exec(db, db_migrations[i]);
                        if (r >= 0)
                                r = db_exec(db, sql);
                        if (r < 0)
                                (void)db_rollback(db);
                        else
                                r = db_commit(db);
                }
                if (r < 0)
                        return set_error(err, r, "%s: migration to schema version %zu failed: %s",
                                         db->path, i + 1,
                                         db->last_error ? db->last_error : strerror(-r));
                log_debug("db: %s: migrated to schema version %zu", db->path, i + 1);
        }
        /* A schema of ours from before the application id was set gets it now. */
        if (from >= (int64_t)db_n_migrations) {
                snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", DB_APPLICATION_ID);
                r = db_exec(db, sql);
                if (r < 0)
                        return set_error(err, r, "%s: cannot set the application id: %s",
                                         db->path, db->last_error);
        }
        return 0;
}

/* wal: the file's journal is WAL (an in-memory copy has none to set). */
static int setup(struct db *db, bool wal, char **err)
{
        int64_t version;
        int r, rc;

        sqlite3_extended_result_codes(db->conn, 1);
        rc = sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return set_error(err, db_fail(db, rc, "busy_timeout"), "%s: %s", db->path,
                                 db->last_error);
        /* Nothing of ours writes the schema by hand; forbid it so corruption cannot be scripted. */
        (void)sqlite3_db_config(db->conn, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

        /* The first read is where a file that is not a database shows itself. */
        r = read_int_pragma(db, "PRAGMA user_version", &version);
        if (r == -EUCLEAN)
                return set_error(err, r,
                                 "%s: not a database or corrupt (%s); move it away to start afresh",
                                 db->path, db->last_error);
        if (r < 0)
                return set_error(err, r, "%s: cannot read the schema version: %s", db->path,
                                 db->last_error);
        r = check_integrity(db, err);
        if (r < 0)
                return r;
        if (version < 0)
                return set_error(err, -EUCLEAN, "%s: invalid schema version %" PRId64, db->path,
                                 version);
        if (version > (int64_t)db_n_migrations)
                return set_error(err, -ENOTSUP,
                                 "%s: schema version %" PRId64 " is newer than this assignd "
                                 "understands (%zu); refusing to use it (upgrade assignd)",
                                 db->path, version, db_n_migrations);

        r = check_application(db, version, err);
        if (r < 0)
                return r;
        r = wal ? set_journal_wal(db, err) : 0;
        if (r < 0)
                return r;
        /*
         * FULL: every commit is synced to the disk before it returns, so a
         * step of the intent log recorded before a hypercall, and the state
         * written after it, survive a power loss or a file-system failure,
         * not only a crash of the process.  (With NORMAL the last commits
         * before a file-system error were found gone after repair while Xen
         * still had the device mapped.)  db.h says what this costs.
         */
        r = db_exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL");
        if (r < 0)
                return set_error(err, r, "%s: %s", db->path, db->last_error);

        return migrate(db, version, err);
}

int db_open(const char *path, struct db **ret, char **err)
{
        _cleanup_(db_closep) struct db *db = NULL;
        int r, rc;

        if (!path || !*path)
                return set_error(err, -EINVAL, "no database path given");
        r = make_parents(path, err);
        if (r < 0)
                return r;
        r = create_file(path, err);
        if (r < 0)
                return r;

        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->path = strdup(path);
        if (!db->path)
                return -ENOMEM;
        rc = sqlite3_open_v2(path, &db->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
                                     SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc != SQLITE_OK) {
                r = db_fail(db, rc, "open");
                return set_error(err, r, "%s: cannot open: %s", path, db->last_error);
        }
        r = setup(db, true, err);
        if (r < 0)
                return r;
        *ret = steal_ptr(db);
        return 0;
}

/* Copy the database file at path into db's in-memory one (SQLite's backup). */
static int copy_in(struct db *db, const char *path, char **err)
{
        sqlite3 *src = NULL;
        sqlite3_backup *b;
        int rc;

        /* Read-only and never created: a missing file is an error here. */
        rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
                                                 SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc == SQLITE_OK) {
                sqlite3_busy_timeout(src, DB_BUSY_TIMEOUT_MS);
                b = sqlite3_backup_init(db->conn, "main", src, "main");
                if (!b) {
                        rc = sqlite3_errcode(db->conn);
                } else {
                        (void)sqlite3_backup_step(b, -1);
                        rc = sqlite3_backup_finish(b);
                }
        }
        if (rc != SQLITE_OK) {
                int r = db_errno(rc);

                set_error(err, r, "%s: cannot read it: %s", path,
                          src ? sqlite3_errmsg(src) : sqlite3_errstr(rc));
                sqlite3_close(src);
                return r;
        }
        sqlite3_close(src);
        return 0;
}

int db_open_copy(const char *path, struct db **ret, char **err)
{
        _cleanup_(db_closep) struct db *db = NULL;
        int r, rc;

        if (path && !*path)
                return set_error(err, -EINVAL, "no database path given");
        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->path = strdup(path ? path : ":memory:");
        if (!db->path)
                return -ENOMEM;
        rc = sqlite3_open_v2(":memory:", &db->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                     SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc != SQLITE_OK) {
                r = db_fail(db, rc, "open");
                return set_error(err, r, "cannot open an in-memory database: %s",
                                 db->last_error);
        }
        if (path) {
                r = copy_in(db, path, err);
                if (r < 0)
                        return r;
        }
        r = setup(db, false, err);
        if (r < 0)
                return r;
        *ret = steal_ptr(db);
        return 0;
}

void db_close(struct db *db)
{
        if (!db)
                return;
        for (size_t i = 0; i < db->n_cache; i++)
                sqlite3_finalize(db->cache[i].stmt);
        sqlite3_finalize(db->tx.begin);
        sqlite3_finalize(db->tx.commit);
        sqlite3_finalize(db->tx.rollback);
        sqlite3_finalize(db->tx.read_begin);
        sqlite3_finalize(db->tx.read_end);
        for (size_t i = 0; i <= DB_SAVEPOINTS; i++) {
                sqlite3_finalize(db->tx.savepoint[i]);
                sqlite3_finalize(db->tx.release[i]);
                sqlite3_finalize(db->tx.rollback_to[i]);
        }
        if (db->conn) {
                /* Uncommitted work is dropped, as a crash would drop it. */
                if (!sqlite3_get_autocommit(db->conn))
                        (void)sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
                sqlite3_close(db->conn);
        }
        free(db->path);
        free(db->last_error);
        free(db->touched);
        free(db);
}

const char *db_path(const struct db *db)
{
        return db->path;
}

bool db_created(const struct db *db)
{
        return db->created;
}

int db_schema_version(struct db *db)
{
        int64_t v;
        int r;

        r = read_int_pragma(db, "PRAGMA user_version", &v);
        if (r < 0)
                return r;
        if (v < 0 || v > INT32_MAX)
                return -EUCLEAN;
        return (int)v;
}
