/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Data-access layer over SQLite: the inventory (devices, regions,
 * interrupts, IOMMUs, links, groups), the administrator's policy, and (for
 * the assignment engine) leases and the audit log.
 *
 * The schema is versioned with PRAGMA user_version and upgraded by ordered
 * migrations at open; the database runs in WAL mode with foreign keys on.
 * Every function returns 0 (or a positive count) or a negative errno:
 * SQLITE_BUSY/LOCKED -> -EBUSY, SQLITE_CONSTRAINT -> -EEXIST, SQLITE_NOMEM
 * -> -ENOMEM, SQLITE_CORRUPT/NOTADB -> -EUCLEAN, anything else -> -EIO.
 * Outputs are untouched on failure.  Nothing here logs above debug.
 */
#ifndef ASSIGND_DB_H
#define ASSIGND_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "../daemon/dt.h"

struct db;

/* Open (creating if needed) and migrate.  *err explains a failure. */
int db_open(const char *path, struct db **ret, char **err);
void db_close(struct db *db);
DEFINE_FREE_FUNC(struct db, db_close)

/* Schema version after migrations (PRAGMA user_version). */
int db_schema_version(struct db *db);

/* Explicit transactions for callers that combine several writes. */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* ---- inventory ---------------------------------------------------------- */

/*
 * Replace the stored inventory with inv (already classified) in one
 * transaction.  Admin policy is keyed by path and is kept; policy rows
 * whose device vanished are kept too (reported by db_policy_list with
 * present = false).  Also stores inv->sha256 and tables_digest.
 */
int db_inventory_replace(struct db *db, const struct dt_inventory *inv,
                         const char *tables_digest);

/* Load the stored inventory; -ENOENT if none was ever stored. */
int db_inventory_load(struct db *db, struct dt_inventory **ret);

/* sha256 and tables digest of the stored inventory; -ENOENT if none. */
int db_inventory_digests(struct db *db, char sha256[65], char tables_digest[65]);

/* ---- admin policy ------------------------------------------------------- */

#define DB_POLICY_UNSET (-1)

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
 * DB_POLICY_UNSET leaves the stored value unchanged; note NULL leaves the
 * note unchanged.  A row whose fields all end up unset is deleted.
 */
int db_policy_set(struct db *db, const char *path, int dma, int assignable,
                  const char *note, uint32_t uid);
/* -ENOENT if the path has no policy. */
int db_policy_get(struct db *db, const char *path, struct db_policy *ret);
int db_policy_list(struct db *db, struct db_policy **ret, size_t *n);
void db_policy_clear(struct db_policy *p);
void db_policy_array_free(struct db_policy *p, size_t n);

#endif
