/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log: one row per write request (who from SO_PEERCRED, what,
 * on which target, the outcome).  Append-only apart from pruning the
 * oldest rows; ids increase (AUTOINCREMENT never reuses one, even after a
 * prune), so a reader can page by id without missing rows.
 *
 * Targets are text (audit.c and the engine write them): device paths are
 * words separated by spaces (a path has none), and rows the daemon writes
 * about a lease begin with "lease N".  Both are indexed when a row is
 * appended (audit_paths, audit.lease_id) so that a device's history is
 * found without reading the whole log.
 */
#include "db-private.h"

#define AUDIT_COLUMNS "id, at, uid, pid, action, target, result, detail, severity"

static const char sql_audit_insert[] =
        "INSERT INTO audit (at, uid, pid, action, target, result, detail, severity, lease_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_audit_path[] =
        "INSERT OR IGNORE INTO audit_paths (path, audit_id) VALUES (?1, ?2)";
static const char sql_audit_after[] =
        "SELECT " AUDIT_COLUMNS " FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char sql_audit_tail[] =
        "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit WHERE id < ?2 "
        "ORDER BY id DESC LIMIT ?1) ORDER BY id";
/* The rows that name the device, and those about a lease that had it. */
static const char sql_audit_device[] =
        "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit WHERE id IN ("
        "SELECT audit_id FROM audit_paths WHERE path = ?1 "
        "UNION SELECT a.id FROM lease_devices d JOIN audit a ON a.lease_id = d.lease_id "
        "WHERE d.path = ?1) ORDER BY id DESC LIMIT ?2) ORDER BY id";
/* Retention: the oldest beyond a count, and those older than a time, a batch at a time. */
/*
 * Ids are consecutive but where the oldest were pruned (AUTOINCREMENT; a
 * rolled back append gives its id back), so the newest keep are those
 * above max(id) - keep.
 */
static const char sql_audit_prune_count[] =
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE id <= "
        "(SELECT max(id) FROM audit) - ?1 ORDER BY id LIMIT ?2)";
static const char sql_audit_prune_age[] =
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 LIMIT ?2)";

/* Every statement of this file, for the test that asks SQLite how it runs each. */
const char *const db_audit_statements[] = {
        sql_audit_insert, sql_audit_path, sql_audit_after, sql_audit_tail, sql_audit_device,
        sql_audit_prune_count, sql_audit_prune_age, NULL,
};

void db_audit_clear(struct db_audit *a)
{
        if (!a)
                return;
        free(a->action);
        free(a->target);
        free(a->result);
        free(a->detail);
        free(a->severity);
        *a = (struct db_audit){ 0 };
}

void db_audit_array_free(struct db_audit *a, size_t n)
{
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                db_audit_clear(&a[i]);
        free(a);
}

/* The lease a target is about ("lease N" or "lease N ..."), or 0. */
static int64_t target_lease(const char *target)
{
        int64_t id = 0;
        const char *p;

        if (!target || !startswith(target, "lease "))
                return 0;
        for (p = target + 6; *p >= '0' && *p <= '9'; p++) {
                if (id > (INT64_MAX - 9) / 10)
                        return 0;
                id = id * 10 + (*p - '0');
        }
        return p > target + 6 && (*p == ' ' || *p == '\0') ? id : 0;
}

/* Index every word of the target that is a device path. */
static int audit_paths(struct db *db, const char *target, int64_t id)
{
        _cleanup_free_ char *copy = target ? strdup(target) : NULL;
        char *save = NULL;
        int r = 0;

        if (!target)
                return 0;
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " ", &save); w && r >= 0; w = strtok_r(NULL, " ", &save))
                if (w[0] == '/')
                        r = db_execf(db, sql_audit_path, "audit path", "tI", w, id);
        return r;
}

static int audit_append(struct db *db, const struct db_audit *a, const char *severity)
{
        int r;

        r = db_execf(db, sql_audit_insert, "audit append", "Iuitttttz",
                     a->at > 0 ? a->at : db_now(), a->uid, (int)a->pid, a->action, a->target,
                     a->result, a->detail, severity, target_lease(a->target));
        if (r < 0)
                return r;
        return audit_paths(db, a->target, sqlite3_last_insert_rowid(db->conn));
}

int db_audit_append(struct db *db, const struct db_audit *a)
{
        const char *severity;

        if (!db || !a || !a->action || !*a->action || !a->result || !*a->result)
                return -EINVAL;
        severity = a->severity ? a->severity : "info";
        if (!streq(severity, "info") && !streq(severity, "warning"))
                return -EINVAL;
        return DB_TX(db, audit_append(db, a, severity));
}

static int audit_from_row(sqlite3_stmt *s, struct db_audit *ret)
{
        _cleanup_(db_audit_clear) struct db_audit a = { 0 };
        int64_t pid;
        int r;

        a.id = sqlite3_column_int64(s, 0);
        a.at = sqlite3_column_int64(s, 1);
        r = db_column_u32(s, 2, &a.uid);
        if (r < 0)
                return r;
        pid = sqlite3_column_int64(s, 3);
        if (pid < INT32_MIN || pid > INT32_MAX)
                return -EUCLEAN;
        a.pid = (int32_t)pid;
        r = db_column_strdup(s, 4, &a.action);
        if (r >= 0)
                r = db_column_strdup(s, 5, &a.target);
        if (r >= 0)
                r = db_column_strdup(s, 6, &a.result);
        if (r >= 0)
                r = db_column_strdup(s, 7, &a.detail);
        if (r >= 0)
                r = db_column_strdup(s, 8, &a.severity);
        if (r < 0)
                return r;
        if (!a.action || !a.result || !a.severity)
                return -EUCLEAN;
        *ret = a;
        a = (struct db_audit){ 0 };
        return 0;
}

static int audit_collect(struct db *db, sqlite3_stmt *s, struct db_audit **ret, size_t *n)
{
        struct db_audit *arr = NULL;
        size_t cnt = 0, cap = 0;
        int r;

        while ((r = db_step_row(db, s, "audit list")) > 0) {
                r = GROW(arr, cap, cnt);
                if (r < 0)
                        break;
                r = audit_from_row(s, &arr[cnt]);
                if (r < 0)
                        break;
                cnt++;
        }
        if (r < 0) {
                db_audit_array_free(arr, cnt);
                return r;
        }
        *ret = arr;
        *n = cnt;
        return 0;
}

/* SQLite reads a negative LIMIT as "no limit". */
int db_audit_list(struct db *db, int64_t after_id, size_t limit, struct db_audit **ret, size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (!db || !ret || !n)
                return -EINVAL;
        r = db_stmt(db, sql_audit_after, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "II", after_id, db_sql_limit(limit));
        if (r < 0)
                return r;
        return audit_collect(db, s, ret, n);
}

int db_audit_tail(struct db *db, int64_t before, size_t limit, struct db_audit **ret,
                  size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (!db || !ret || !n || before < 0)
                return -EINVAL;
        r = db_stmt(db, sql_audit_tail, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "II", db_sql_limit(limit), before > 0 ? before : INT64_MAX);
        if (r < 0)
                return r;
        return audit_collect(db, s, ret, n);
}

int db_audit_device(struct db *db, const char *path, size_t limit, struct db_audit **ret,
                    size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (!db || !path || !*path || !ret || !n)
                return -EINVAL;
        r = db_stmt(db, sql_audit_device, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "tI", path, db_sql_limit(limit));
        if (r < 0)
                return r;
        return audit_collect(db, s, ret, n);
}

int db_audit_prune(struct db *db, int64_t cutoff, size_t keep, size_t batch)
{
        if (!db || cutoff < 0)
                return -EINVAL;
        return DB_TX(db, db_prune(db, sql_audit_prune_age, sql_audit_prune_count, "audit prune",
                                  cutoff, keep, batch));
}
