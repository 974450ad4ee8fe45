/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log: one row per write request (who from SO_PEERCRED, what,
 * on which target, the outcome).  Append-only apart from pruning the
 * oldest rows; ids increase (AUTOINCREMENT never reuses one, even after a
 * prune), so a reader can page with "after id" without missing rows.
 */
#include "db-private.h"

#define AUDIT_COLUMNS "id, at, uid, pid, action, target, result, detail, severity"

static const char sql_audit_insert[] =
        "INSERT INTO audit (at, uid, pid, action, target, result, detail, severity) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char sql_audit_after[] =
        "SELECT " AUDIT_COLUMNS " FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char sql_audit_tail[] =
        "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit ORDER BY id DESC LIMIT ?1) "
        "ORDER BY id";
/*
 * Targets are text (audit.c and the engine write them): device paths are
 * words separated by spaces (a path has none), and rows the daemon writes
 * about a lease begin with "lease N".  instr() compares exactly where LIKE
 * would read the '_' of a node name as a wildcard.
 */
static const char sql_audit_device[] =
        "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit "
        "WHERE instr(' ' || target || ' ', ' ' || ?1 || ' ') > 0 "
        "OR EXISTS (SELECT 1 FROM lease_devices d WHERE d.path = ?1 "
        "           AND instr(target || ' ', 'lease ' || d.lease_id || ' ') = 1) "
        "ORDER BY id DESC LIMIT ?2) ORDER BY id";
static const char sql_audit_prune[] =
        "DELETE FROM audit WHERE id <= "
        "(SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?1)";

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

int db_audit_append(struct db *db, const struct db_audit *a)
{
        const char *severity;

        if (!db || !a || !a->action || !*a->action || !a->result || !*a->result)
                return -EINVAL;
        severity = a->severity ? a->severity : "info";
        if (!streq(severity, "info") && !streq(severity, "warning"))
                return -EINVAL;
        return DB_TX(db, db_execf(db, sql_audit_insert, "audit append", "Iuittttt",
                                  a->at > 0 ? a->at : db_now(), a->uid, (int)a->pid, a->action,
                                  a->target, a->result, a->detail, severity));
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
static int64_t sql_limit(size_t limit)
{
        return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

int db_audit_list(struct db *db, int64_t after_id, size_t limit, struct db_audit **ret, size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (!db || !ret || !n)
                return -EINVAL;
        r = db_stmt(db, sql_audit_after, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "II", after_id, sql_limit(limit));
        if (r < 0)
                return r;
        return audit_collect(db, s, ret, n);
}

int db_audit_tail(struct db *db, size_t limit, struct db_audit **ret, size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (!db || !ret || !n)
                return -EINVAL;
        r = db_stmt(db, sql_audit_tail, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "I", sql_limit(limit));
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
        r = db_bindf(db, s, "tI", path, sql_limit(limit));
        if (r < 0)
                return r;
        return audit_collect(db, s, ret, n);
}

static int audit_prune(struct db *db, size_t keep)
{
        int r;

        r = db_execf(db, sql_audit_prune, "audit prune", "I",
                     keep > INT64_MAX ? INT64_MAX : (int64_t)keep);
        if (r < 0)
                return r;
        return sqlite3_changes(db->conn);
}

int db_audit_prune(struct db *db, size_t keep)
{
        if (!db)
                return -EINVAL;
        return DB_TX(db, audit_prune(db, keep));
}
