/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The administrator's per-device overrides (dma, assignable, a note).
 * Rows are keyed by device path and independent of the inventory tables,
 * so they survive restarts, rescans and devices that come and go; the
 * "present" flag tells whether the path is in the current inventory.
 */
#include "db-private.h"

#define POLICY_COLUMNS                                                                 \
        "path, dma, assignable, note, set_by_uid, set_at, "                            \
        "EXISTS (SELECT 1 FROM devices WHERE devices.path = policy.path)"

static const char sql_policy_get[] =
        "SELECT " POLICY_COLUMNS " FROM policy WHERE path = ?1";
static const char sql_policy_list[] =
        "SELECT " POLICY_COLUMNS " FROM policy ORDER BY path";
static const char sql_policy_upsert[] =
        "INSERT INTO policy (path, dma, assignable, note, set_by_uid, set_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT (path) DO UPDATE SET dma = excluded.dma, assignable = excluded.assignable, "
        "note = excluded.note, set_by_uid = excluded.set_by_uid, set_at = excluded.set_at";
static const char sql_policy_delete[] = "DELETE FROM policy WHERE path = ?1";

void db_policy_clear(struct db_policy *p)
{
        if (!p)
                return;
        free(p->path);
        free(p->note);
        *p = (struct db_policy){ .dma = DB_POLICY_UNSET, .assignable = DB_POLICY_UNSET };
}

void db_policy_array_free(struct db_policy *p, size_t n)
{
        if (!p)
                return;
        for (size_t i = 0; i < n; i++)
                db_policy_clear(&p[i]);
        free(p);
}

/* Decode one row of POLICY_COLUMNS into *ret (left untouched on failure). */
static int policy_from_row(sqlite3_stmt *s, struct db_policy *ret)
{
        struct db_policy p = { .dma = DB_POLICY_UNSET, .assignable = DB_POLICY_UNSET };
        int64_t uid;
        int r;

        if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
                const char *dma = (const char *)sqlite3_column_text(s, 1);

                r = dma ? dt_dma_from_string(dma) : -ENOMEM;
                if (r < 0)
                        return r == -ENOMEM ? r : -EUCLEAN;
                p.dma = r;
        }
        if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
                bool a;

                r = db_column_bool(s, 2, &a);
                if (r < 0)
                        return r;
                p.assignable = a;
        }
        uid = sqlite3_column_int64(s, 4);
        if (uid < 0 || uid > UINT32_MAX)
                return -EUCLEAN;
        p.set_by_uid = (uint32_t)uid;
        p.set_at = sqlite3_column_int64(s, 5);
        p.present = sqlite3_column_int(s, 6) != 0;
        r = db_column_strdup(s, 0, &p.path);
        if (r >= 0 && !p.path)
                r = -EUCLEAN;
        if (r >= 0)
                r = db_column_strdup(s, 3, &p.note);
        if (r < 0) {
                db_policy_clear(&p);
                return r;
        }
        *ret = p;
        return 0;
}

static int policy_get(struct db *db, const char *path, struct db_policy *ret)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = db_stmt(db, sql_policy_get, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "t", path);
        if (r < 0)
                return r;
        r = db_step_row(db, s, "policy get");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return policy_from_row(s, ret);
}

int db_policy_get(struct db *db, const char *path, struct db_policy *ret)
{
        if (!db || !path || !ret)
                return -EINVAL;
        return policy_get(db, path, ret);
}

static int policy_delete(struct db *db, const char *path)
{
        int r;

        r = db_execf(db, sql_policy_delete, "policy delete", "t", path);
        if (r < 0)
                return r;
        return sqlite3_changes(db->conn) > 0 ? 0 : -ENOENT;
}

static int policy_set(struct db *db, const char *path, int dma, int assignable, const char *note,
                      uint32_t uid)
{
        _cleanup_(db_policy_clear) struct db_policy old = { .dma = DB_POLICY_UNSET,
                                                            .assignable = DB_POLICY_UNSET };
        const char *new_note;
        int r;

        r = policy_get(db, path, &old);
        if (r < 0 && r != -ENOENT)
                return r;

        if (dma == DB_POLICY_UNSET)
                dma = old.dma;
        else if (dma == DB_POLICY_CLEAR)
                dma = DB_POLICY_UNSET;
        if (assignable == DB_POLICY_UNSET)
                assignable = old.assignable;
        else if (assignable == DB_POLICY_CLEAR)
                assignable = DB_POLICY_UNSET;
        new_note = !note ? old.note : *note ? note : NULL;

        /* A note alone is kept: the administrator's word on a device, overriding nothing. */
        if (dma == DB_POLICY_UNSET && assignable == DB_POLICY_UNSET && !new_note) {
                r = policy_delete(db, path);
                return r == -ENOENT ? 0 : r;
        }

        return db_execf(db, sql_policy_upsert, "policy set", "ttgtuI", path,
                        dma == DB_POLICY_UNSET ? NULL : dt_dma_to_string(dma), assignable,
                        new_note, uid, db_now());
}

int db_policy_set(struct db *db, const char *path, int dma, int assignable, const char *note,
                  uint32_t uid)
{
        if (!db || !path || !*path)
                return -EINVAL;
        if (dma != DB_POLICY_UNSET && dma != DB_POLICY_CLEAR &&
            (dma < DT_DMA_UNKNOWN || dma > DT_DMA_NONE || !dt_dma_to_string(dma)))
                return -EINVAL;
        if (assignable != DB_POLICY_UNSET && assignable != DB_POLICY_CLEAR && assignable != 0 &&
            assignable != 1)
                return -EINVAL;
        return DB_TX(db, policy_set(db, path, dma, assignable, note, uid));
}

int db_policy_unset(struct db *db, const char *path)
{
        if (!db || !path)
                return -EINVAL;
        return DB_TX(db, policy_delete(db, path));
}

int db_policy_list(struct db *db, struct db_policy **ret, size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        struct db_policy *arr = NULL;
        size_t cnt = 0, cap = 0;
        int r;

        if (!db || !ret || !n)
                return -EINVAL;
        r = db_stmt(db, sql_policy_list, &s);
        if (r < 0)
                return r;
        for (;;) {
                r = db_step_row(db, s, "policy list");
                if (r <= 0)
                        break;
                r = GROW(arr, cap, cnt);
                if (r < 0)
                        break;
                r = policy_from_row(s, &arr[cnt]);
                if (r < 0)
                        break;
                cnt++;
        }
        if (r < 0) {
                db_policy_array_free(arr, cnt);
                return r;
        }
        *ret = arr;
        *n = cnt;
        return 0;
}
