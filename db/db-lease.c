/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Leases: the owner of record of every assigned or reserved device, and
 * the intent log of the assignment engine (state, target state and the
 * step plan are committed before any hypercall and after each result).
 *
 * "At most one non-final lease per device" is not checked here but
 * enforced by the schema (a partial UNIQUE index over lease_devices rows
 * kept active by triggers, see db-schema.c), so it holds for every writer
 * and every interleaving; this file only turns the violation into -EEXIST.
 */
#include "db-private.h"

static const char *const state_names[_DB_LEASE_STATE_MAX] = {
        [DB_LEASE_RESERVED] = "reserved",   [DB_LEASE_ASSIGNING] = "assigning",
        [DB_LEASE_ASSIGNED] = "assigned",   [DB_LEASE_RELEASING] = "releasing",
        [DB_LEASE_FREE] = "free",           [DB_LEASE_FAILED] = "failed",
};

#define LEASE_COLUMNS                                                                  \
        "id, domain_name, domid, state, target_state, forced, uid, pid, created_at, "  \
        "updated_at, expires_at, error, plan, options, standing, exclusive, origin"

static const char sql_lease_insert[] =
        "INSERT INTO leases (domain_name, domid, state, target_state, forced, uid, pid, "
        "created_at, updated_at, expires_at, error, plan, options, standing, exclusive, origin) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
/* active is derived from the lease row so that it cannot disagree with it. */
static const char sql_lease_device_insert[] =
        "INSERT INTO lease_devices (lease_id, idx, path, active) "
        "SELECT ?1, ?2, ?3, state NOT IN ('free', 'failed') AND (exclusive = 1 OR domid IS NOT NULL) "
        "FROM leases WHERE id = ?1";
static const char sql_lease_get[] = "SELECT " LEASE_COLUMNS " FROM leases WHERE id = ?1";
static const char sql_lease_state[] = "SELECT state FROM leases WHERE id = ?1";
static const char sql_lease_devices[] =
        "SELECT path FROM lease_devices WHERE lease_id = ?1 ORDER BY idx";
static const char sql_lease_marks[] =
        "SELECT idx, done, undone, kept FROM lease_steps WHERE lease_id = ?1 ORDER BY idx";
static const char sql_lease_mark[] =
        "INSERT OR REPLACE INTO lease_steps (lease_id, idx, done, undone, kept) "
        "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_lease_marks_drop[] = "DELETE FROM lease_steps WHERE lease_id = ?1";
static const char sql_lease_transition[] =
        "UPDATE leases SET state = ?2, target_state = ?3, plan = coalesce(?4, plan), "
        "error = CASE WHEN ?5 IS NULL THEN error WHEN ?5 = '' THEN NULL ELSE ?5 END, "
        "updated_at = ?6 WHERE id = ?1";
static const char sql_lease_update[] =
        "UPDATE leases SET state = coalesce(?2, state), plan = coalesce(?3, plan), "
        "error = CASE WHEN ?4 IS NULL THEN error WHEN ?4 = '' THEN NULL ELSE ?4 END, "
        "updated_at = ?5 WHERE id = ?1";
static const char sql_lease_target[] =
        "UPDATE leases SET target_state = ?2, updated_at = ?3 WHERE id = ?1";
static const char sql_lease_bind[] = "UPDATE leases SET domid = ?2, updated_at = ?3 WHERE id = ?1";
/*
 * Listing leases, by what drives the search (each has its index, so that
 * no listing reads the whole history): the leases not final (the partial
 * index leases_live: what every request and domain event reads), all of
 * them (the id, for paging), a device's (lease_devices_path).  The other
 * filters only narrow what the index yields.
 */
#define LEASE_NARROWING                                                                  \
        "AND (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR domid = ?2) "                 \
        "AND (?3 IS NULL OR domain_name = ?3) AND id > ?6 ORDER BY id LIMIT ?7"
static const char sql_lease_list_live[] =
        "SELECT " LEASE_COLUMNS " FROM leases INDEXED BY leases_live "
        "WHERE state NOT IN ('free', 'failed') " LEASE_NARROWING;
static const char sql_lease_list_all[] =
        "SELECT " LEASE_COLUMNS " FROM leases WHERE id > ?6 " LEASE_NARROWING;
static const char sql_lease_list_device[] =
        "SELECT " LEASE_COLUMNS " FROM leases "
        "WHERE id IN (SELECT lease_id FROM lease_devices WHERE path = ?5) "
        "AND (?4 OR state NOT IN ('free', 'failed')) " LEASE_NARROWING;
/*
 * Retention: final leases beyond a count (the earliest ended first; many
 * end within one second, so the id breaks ties), or ended before a time.
 */
static const char sql_lease_prune_count[] =
        "DELETE FROM leases WHERE id IN (SELECT id FROM leases INDEXED BY leases_final "
        "WHERE state IN ('free', 'failed') AND (updated_at, id) <= "
        "(SELECT updated_at, id FROM leases INDEXED BY leases_final "
        " WHERE state IN ('free', 'failed') ORDER BY updated_at DESC, id DESC "
        " LIMIT 1 OFFSET ?1) "
        "ORDER BY updated_at, id LIMIT ?2)";
static const char sql_lease_prune_age[] =
        "DELETE FROM leases WHERE id IN (SELECT id FROM leases INDEXED BY leases_final "
        "WHERE state IN ('free', 'failed') AND updated_at < ?1 LIMIT ?2)";
static const char sql_lease_count[] =
        "SELECT state, count(*) FROM leases INDEXED BY leases_live "
        "WHERE state NOT IN ('free', 'failed') GROUP BY state";
static const char sql_lease_holder[] =
        "SELECT lease_id FROM lease_devices WHERE path = ?1 AND active = 1";
#define HOLDER_COLUMNS                                                                   \
        "SELECT d.path, d.lease_id, d.active, l.domid, l.domain_name, l.state, "          \
        "l.standing, l.origin, l.created_at FROM lease_devices d "                        \
        "JOIN leases l ON l.id = d.lease_id "
static const char sql_lease_holders_all[] = HOLDER_COLUMNS "WHERE d.active = 1";
static const char sql_lease_holders_of[] = HOLDER_COLUMNS "WHERE d.lease_id = ?1";

/* Every statement of this file, for the test that asks SQLite how it runs each. */
const char *const db_lease_statements[] = {
        sql_lease_insert, sql_lease_device_insert, sql_lease_get, sql_lease_state,
        sql_lease_devices, sql_lease_marks, sql_lease_mark, sql_lease_marks_drop,
        sql_lease_transition, sql_lease_update, sql_lease_target, sql_lease_bind,
        sql_lease_list_live, sql_lease_list_all, sql_lease_list_device, sql_lease_prune_count,
        sql_lease_prune_age, sql_lease_count, sql_lease_holder, sql_lease_holders_all,
        sql_lease_holders_of, NULL,
};

const char *db_lease_state_to_string(enum db_lease_state s)
{
        if (s < 0 || s >= _DB_LEASE_STATE_MAX)
                return NULL;
        return state_names[s];
}

int db_lease_state_from_string(const char *s)
{
        for (int i = 0; i < _DB_LEASE_STATE_MAX; i++)
                if (streq(s, state_names[i]))
                        return i;
        return -EINVAL;
}

bool db_lease_state_is_final(enum db_lease_state s)
{
        return s == DB_LEASE_FREE || s == DB_LEASE_FAILED;
}

void db_lease_clear(struct db_lease *l)
{
        if (!l)
                return;
        free(l->domain_name);
        free(l->error);
        free(l->plan);
        free(l->marks);
        free(l->options);
        for (size_t i = 0; l->devices && i < l->n_devices; i++)
                free(l->devices[i]);
        free(l->devices);
        *l = (struct db_lease){ .domid = -1, .target_state = DB_LEASE_NONE };
}

void db_lease_array_free(struct db_lease *l, size_t n)
{
        if (!l)
                return;
        for (size_t i = 0; i < n; i++)
                db_lease_clear(&l[i]);
        free(l);
}

/* ---- reading ------------------------------------------------------------ */

static int state_column(sqlite3_stmt *s, int i, bool nullable, enum db_lease_state *ret)
{
        int v;

        if (sqlite3_column_type(s, i) == SQLITE_NULL) {
                if (!nullable)
                        return -EUCLEAN;
                *ret = DB_LEASE_NONE;
                return 0;
        }
        v = db_lease_state_from_string((const char *)sqlite3_column_text(s, i));
        if (v < 0)
                return -EUCLEAN;
        *ret = v;
        return 0;
}

static int lease_state(struct db *db, int64_t id, enum db_lease_state *ret)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = db_stmt(db, sql_lease_state, &s);
        if (r >= 0)
                r = db_bindf(db, s, "I", id);
        if (r >= 0)
                r = db_step_row(db, s, "lease state");
        if (r == 0)
                return -ENOENT;
        if (r < 0)
                return r;
        return state_column(s, 0, false, ret);
}

int db_lease_get_state(struct db *db, int64_t id, enum db_lease_state *ret)
{
        int r;

        if (!db || !ret)
                return -EINVAL;
        r = db_read_begin(db);
        if (r < 0)
                return r;
        r = lease_state(db, id, ret);
        db_read_end(db);
        return r;
}

static int lease_devices(struct db *db, struct db_lease *l)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = db_stmt(db, sql_lease_devices, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "I", l->id);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "lease devices")) > 0) {
                char **p;
                char *path;

                r = db_column_strdup(s, 0, &path);
                if (r < 0)
                        return r;
                p = realloc(l->devices, (l->n_devices + 1) * sizeof(char *));
                if (!p) {
                        free(path);
                        return -ENOMEM;
                }
                l->devices = p;
                l->devices[l->n_devices++] = path;
        }
        return r;
}

/* The step marks recorded since the plan was written. */
static int lease_marks(struct db *db, struct db_lease *l)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t cap = 0;
        int r;

        r = db_stmt(db, sql_lease_marks, &s);
        if (r >= 0)
                r = db_bindf(db, s, "I", l->id);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "lease marks")) > 0) {
                struct db_step_mark m;

                r = db_column_u32(s, 0, &m.idx);
                if (r >= 0)
                        r = db_column_bool(s, 1, &m.done);
                if (r >= 0)
                        r = db_column_bool(s, 2, &m.undone);
                if (r >= 0)
                        r = db_column_bool(s, 3, &m.kept);
                if (r >= 0)
                        r = GROW(l->marks, cap, l->n_marks);
                if (r < 0)
                        return r;
                l->marks[l->n_marks++] = m;
        }
        return r;
}

/* Decode one LEASE_COLUMNS row plus its devices into *ret (untouched on failure). */
static int lease_from_row(struct db *db, sqlite3_stmt *s, struct db_lease *ret)
{
        _cleanup_(db_lease_clear) struct db_lease l = { .domid = -1,
                                                        .target_state = DB_LEASE_NONE };
        bool exclusive = true;
        int64_t v;
        int r;

        l.id = sqlite3_column_int64(s, 0);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
                v = sqlite3_column_int64(s, 2);
                if (v < 0 || v > 65535)
                        return -EUCLEAN;
                l.domid = (int)v;
        }
        r = state_column(s, 3, false, &l.state);
        if (r >= 0)
                r = state_column(s, 4, true, &l.target_state);
        if (r >= 0)
                r = db_column_bool(s, 5, &l.forced);
        if (r >= 0)
                r = db_column_u32(s, 6, &l.uid);
        if (r < 0)
                return r;
        v = sqlite3_column_int64(s, 7);
        if (v < INT32_MIN || v > INT32_MAX)
                return -EUCLEAN;
        l.pid = (int32_t)v;
        l.created_at = sqlite3_column_int64(s, 8);
        l.updated_at = sqlite3_column_int64(s, 9);
        l.expires_at = sqlite3_column_int64(s, 10);     /* NULL reads as 0: never */
        r = db_column_strdup(s, 1, &l.domain_name);
        if (r >= 0)
                r = db_column_strdup(s, 11, &l.error);
        if (r >= 0)
                r = db_column_strdup(s, 12, &l.plan);
        if (r >= 0)
                r = db_column_strdup(s, 13, &l.options);
        if (r >= 0)
                r = db_column_bool(s, 14, &l.standing);
        if (r >= 0)
                r = db_column_bool(s, 15, &exclusive);
        if (r >= 0) {
                const char *origin = (const char *)sqlite3_column_text(s, 16);

                if (!streq(origin, "request") && !streq(origin, "adopted"))
                        r = -EUCLEAN;
                l.adopted = streq(origin, "adopted");
                l.free_while_down = !exclusive;
        }
        if (r >= 0)
                r = lease_devices(db, &l);
        if (r >= 0)
                r = lease_marks(db, &l);
        if (r < 0)
                return r;
        *ret = l;
        l = (struct db_lease){ 0 };
        return 0;
}

static int lease_get(struct db *db, int64_t id, struct db_lease *ret)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = db_stmt(db, sql_lease_get, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "I", id);
        if (r < 0)
                return r;
        r = db_step_row(db, s, "lease get");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return lease_from_row(db, s, ret);
}

int db_lease_get(struct db *db, int64_t id, struct db_lease *ret)
{
        int r;

        if (!db || !ret)
                return -EINVAL;
        r = db_read_begin(db);
        if (r < 0)
                return r;
        r = lease_get(db, id, ret);
        db_read_end(db);
        return r;
}

static int lease_list(struct db *db, const struct db_lease_filter *f, struct db_lease **ret,
                      size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        struct db_lease *arr = NULL;
        size_t cnt = 0, cap = 0;
        bool final;
        int r;

        final = f->include_final || db_lease_state_is_final(f->state);
        r = db_stmt(db, f->device ? sql_lease_list_device
                                  : final ? sql_lease_list_all : sql_lease_list_live, &s);
        if (r < 0)
                return r;
        r = db_bindf(db, s, "tgtbtII", db_lease_state_to_string(f->state), f->domid,
                     f->domain_name, final, f->device, f->after,
                     f->limit == 0 || f->limit > INT64_MAX ? (int64_t)-1 : (int64_t)f->limit);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "lease list")) > 0) {
                r = GROW(arr, cap, cnt);
                if (r < 0)
                        break;
                r = lease_from_row(db, s, &arr[cnt]);
                if (r < 0)
                        break;
                cnt++;
        }
        if (r < 0) {
                db_lease_array_free(arr, cnt);
                return r;
        }
        *ret = arr;
        *n = cnt;
        return 0;
}

int db_lease_list(struct db *db, const struct db_lease_filter *f, struct db_lease **ret,
                  size_t *n)
{
        const struct db_lease_filter all_active = { .state = DB_LEASE_NONE, .domid = -1 };
        int r;

        if (!db || !ret || !n)
                return -EINVAL;
        if (!f)
                f = &all_active;
        if (f->state != DB_LEASE_NONE && !db_lease_state_to_string(f->state))
                return -EINVAL;
        if (f->domid < -1)
                return -EINVAL;
        r = db_read_begin(db);
        if (r < 0)
                return r;
        r = lease_list(db, f, ret, n);
        db_read_end(db);
        return r;
}

int db_lease_count(struct db *db, size_t counts[_DB_LEASE_STATE_MAX])
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t c[_DB_LEASE_STATE_MAX] = { 0 };
        int r;

        if (!db || !counts)
                return -EINVAL;
        r = db_stmt(db, sql_lease_count, &s);
        if (r < 0)
                return r;
        while ((r = db_step_row(db, s, "lease count")) > 0) {
                enum db_lease_state st;

                r = state_column(s, 0, false, &st);
                if (r < 0)
                        return r;
                c[st] = (size_t)sqlite3_column_int64(s, 1);
        }
        if (r < 0)
                return r;
        memcpy(counts, c, sizeof(c));
        return 0;
}

static int lease_find(struct db *db, const char *path, struct db_lease *ret)
{
        int64_t id;

        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                int r;

                r = db_stmt(db, sql_lease_holder, &s);
                if (r < 0)
                        return r;
                r = db_bindf(db, s, "t", path);
                if (r < 0)
                        return r;
                r = db_step_row(db, s, "lease holder");
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ENOENT;
                id = sqlite3_column_int64(s, 0);
        }
        return lease_get(db, id, ret);
}

int db_lease_find_by_device(struct db *db, const char *path, struct db_lease *ret)
{
        int r;

        if (!db || !path || !ret)
                return -EINVAL;
        r = db_read_begin(db);
        if (r < 0)
                return r;
        r = lease_find(db, path, ret);
        db_read_end(db);
        return r;
}

/* ---- writing ------------------------------------------------------------ */

static int check_new_lease(const struct db_lease *l)
{
        if (!db_lease_state_to_string(l->state))
                return -EINVAL;
        if (l->target_state != DB_LEASE_NONE && !db_lease_state_to_string(l->target_state))
                return -EINVAL;
        if (l->free_while_down && !l->standing)
                return -EINVAL;         /* only a standing lease may let its devices go */
        if (l->standing && !l->domain_name)
                return -EINVAL;
        if (l->domid < -1 || l->domid > 65535)
                return -EINVAL;
        if (!l->domain_name && l->domid < 0)
                return -EINVAL;
        if (l->n_devices == 0 || !l->devices || l->n_devices > INT32_MAX)
                return -EINVAL;
        for (size_t i = 0; i < l->n_devices; i++) {
                if (!l->devices[i] || !*l->devices[i])
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(l->devices[i], l->devices[j]))
                                return -EINVAL;
        }
        return 0;
}

static int lease_create(struct db *db, const struct db_lease *l, int64_t *id)
{
        int64_t new_id;
        int r;

        r = db_execf(db, sql_lease_insert, "lease insert", "tgttbuiIztttbbt", l->domain_name,
                     l->domid, db_lease_state_to_string(l->state),
                     db_lease_state_to_string(l->target_state), l->forced, l->uid, (int)l->pid,
                     db_now(), l->expires_at, l->error, l->plan, l->options, l->standing,
                     !l->free_while_down, l->adopted ? "adopted" : "request");
        if (r < 0)
                return r;
        new_id = sqlite3_last_insert_rowid(db->conn);
        db_touch_lease(db, new_id);
        for (size_t i = 0; i < l->n_devices; i++) {
                r = db_execf(db, sql_lease_device_insert, "lease device insert", "Iit", new_id,
                             (int)i, l->devices[i]);
                if (r < 0)
                        return r;
        }
        *id = new_id;
        return 0;
}

int db_lease_create(struct db *db, const struct db_lease *l, int64_t *id)
{
        int64_t new_id;
        int r;

        if (!db || !l)
                return -EINVAL;
        r = check_new_lease(l);
        if (r < 0)
                return r;
        r = DB_TX(db, lease_create(db, l, &new_id));
        if (r < 0)
                return r;
        if (id)
                *id = new_id;
        return 0;
}

static int lease_update(struct db *db, int64_t id, enum db_lease_state state, const char *plan,
                        const char *error)
{
        int r;

        r = db_execf(db, sql_lease_update, "lease update", "ItttI", id,
                     db_lease_state_to_string(state), plan, error, db_now());
        if (r < 0)
                return r;
        if (sqlite3_changes(db->conn) == 0)
                return -ENOENT;
        if (state != DB_LEASE_NONE)
                db_touch_lease(db, id);
        /* The new plan carries every step's flags. */
        return plan ? db_execf(db, sql_lease_marks_drop, "lease marks drop", "I", id) : 0;
}

int db_lease_update(struct db *db, int64_t id, enum db_lease_state state, const char *plan,
                    const char *error)
{
        if (!db)
                return -EINVAL;
        if (state != DB_LEASE_NONE && !db_lease_state_to_string(state))
                return -EINVAL;
        return DB_TX(db, lease_update(db, id, state, plan, error));
}

static int lease_set_target(struct db *db, int64_t id, enum db_lease_state target)
{
        int r;

        r = db_execf(db, sql_lease_target, "lease target", "ItI", id,
                     db_lease_state_to_string(target), db_now());
        if (r < 0)
                return r;
        return sqlite3_changes(db->conn) > 0 ? 0 : -ENOENT;
}

int db_lease_set_target(struct db *db, int64_t id, enum db_lease_state target)
{
        if (!db)
                return -EINVAL;
        if (target != DB_LEASE_NONE && !db_lease_state_to_string(target))
                return -EINVAL;
        return DB_TX(db, lease_set_target(db, id, target));
}

static int lease_bind(struct db *db, int64_t id, int domid)
{
        int r;

        r = db_execf(db, sql_lease_bind, "lease bind", "IgI", id, domid, db_now());
        if (r < 0)
                return r;
        if (sqlite3_changes(db->conn) == 0)
                return -ENOENT;
        db_touch_lease(db, id);
        return 0;
}

int db_lease_bind_domid(struct db *db, int64_t id, int domid)
{
        if (!db || domid < -1 || domid > 65535)
                return -EINVAL;
        return DB_TX(db, lease_bind(db, id, domid));
}

static int lease_transition(struct db *db, int64_t id, enum db_lease_state to,
                            enum db_lease_state target, const char *plan, const char *error,
                            bool (*allowed)(enum db_lease_state, enum db_lease_state),
                            enum db_lease_state *from)
{
        int r;

        r = lease_state(db, id, from);
        if (r < 0)
                return r;
        if (!allowed(*from, to))
                return -EPROTO;
        r = db_execf(db, sql_lease_transition, "lease transition", "IttttI", id,
                     db_lease_state_to_string(to), db_lease_state_to_string(target), plan, error,
                     db_now());
        if (r < 0)
                return r;
        if (sqlite3_changes(db->conn) == 0)
                return -ENOENT;
        db_touch_lease(db, id);
        return plan ? db_execf(db, sql_lease_marks_drop, "lease marks drop", "I", id) : 0;
}

int db_lease_transition(struct db *db, int64_t id, enum db_lease_state to,
                        enum db_lease_state target, const char *plan, const char *error,
                        bool (*allowed)(enum db_lease_state from, enum db_lease_state to),
                        enum db_lease_state *from)
{
        enum db_lease_state was = DB_LEASE_NONE;
        int r;

        if (!db || !allowed || !db_lease_state_to_string(to))
                return -EINVAL;
        if (target != DB_LEASE_NONE && !db_lease_state_to_string(target))
                return -EINVAL;
        r = DB_TX(db, lease_transition(db, id, to, target, plan, error, allowed, &was));
        if (from)
                *from = was;
        return r;
}

int db_lease_mark_step(struct db *db, int64_t id, uint32_t idx, bool done, bool undone,
                       bool kept)
{
        if (!db)
                return -EINVAL;
        return DB_TX(db, db_execf(db, sql_lease_mark, "lease step", "Iubbb", id, idx, done, undone,
                                  kept));
}

int db_lease_prune(struct db *db, int64_t cutoff, size_t keep, size_t batch)
{
        if (!db || cutoff < 0)
                return -EINVAL;
        return DB_TX(db, db_prune(db, sql_lease_prune_age, sql_lease_prune_count, "lease prune",
                                  cutoff, keep, batch));
}

void db_holder_array_free(struct db_holder *h, size_t n)
{
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].path);
                free(h[i].domain_name);
        }
        free(h);
}

static int holder_from_row(sqlite3_stmt *s, struct db_holder *h)
{
        const char *origin;
        int64_t v;
        int r;

        *h = (struct db_holder){ .domid = -1, .lease = sqlite3_column_int64(s, 1),
                                 .created_at = sqlite3_column_int64(s, 8) };
        r = db_column_bool(s, 2, &h->active);
        if (r >= 0 && sqlite3_column_type(s, 3) != SQLITE_NULL) {
                v = sqlite3_column_int64(s, 3);
                if (v < 0 || v > 65535)
                        r = -EUCLEAN;
                h->domid = (int)v;
        }
        if (r >= 0)
                r = state_column(s, 5, false, &h->state);
        if (r >= 0)
                r = db_column_bool(s, 6, &h->standing);
        if (r >= 0) {
                origin = (const char *)sqlite3_column_text(s, 7);
                if (!streq(origin, "request") && !streq(origin, "adopted"))
                        r = -EUCLEAN;
                h->adopted = streq(origin, "adopted");
        }
        if (r >= 0)
                r = db_column_strdup(s, 0, &h->path);
        if (r >= 0 && !h->path)
                r = -EUCLEAN;
        if (r >= 0)
                r = db_column_strdup(s, 4, &h->domain_name);
        if (r < 0) {
                free(h->path);
                free(h->domain_name);
        }
        return r;
}

int db_lease_holders(struct db *db, int64_t lease, struct db_holder **ret, size_t *n)
{
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        struct db_holder *arr = NULL;
        size_t cnt = 0, cap = 0;
        int r;

        if (!db || !ret || !n || lease < 0)
                return -EINVAL;
        r = db_stmt(db, lease ? sql_lease_holders_of : sql_lease_holders_all, &s);
        if (r >= 0 && lease)
                r = db_bindf(db, s, "I", lease);
        while (r >= 0 && (r = db_step_row(db, s, "lease holders")) > 0) {
                r = GROW(arr, cap, cnt);
                if (r >= 0)
                        r = holder_from_row(s, &arr[cnt]);
                if (r >= 0)
                        cnt++;
        }
        if (r < 0) {
                db_holder_array_free(arr, cnt);
                return r;
        }
        *ret = arr;
        *n = cnt;
        return 0;
}
