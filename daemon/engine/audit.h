/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log: one row per request that changes something (and per
 * change the daemon makes on its own: reconciliation, a domain's death, a
 * reservation taken up or failed), with who asked and how it ended.
 */
#ifndef ASSIGND_AUDIT_H
#define ASSIGND_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "log.h"

/*
 * Append a row; who NULL is the daemon itself.  A failure to write is
 * logged and returned; the operation it records is not undone for it.
 */
int audit_append(struct db *db, const struct engine_caller *who, const char *action,
                 const char *target, const char *result, const char *detail, bool warning);

/*
 * The journal's fields of an event about lease l (its devices, domid,
 * domain name and id; any of them absent when l is NULL or does not have
 * it) asked for by who (NULL: the daemon itself), for log_event.
 */
void audit_lease_fields(struct log_fields *lf, const struct db_lease *l,
                        const struct engine_caller *who);

/*
 * The journal's "storage error" event: what about lease id (l, when at
 * hand, adds its fields) could not be written to the database, and r.
 */
void audit_storage_error(int64_t id, const struct db_lease *l, const char *what, int r);

/*
 * The row of a request about domain and devices paths[0..n): "ok" with
 * ok_detail when r >= 0, else the failure's code name and message, and
 * then also the journal's "refused" event.
 */
void audit_request(struct db *db, const struct engine_caller *who, const char *action,
                   const char *domain, const char *const *paths, size_t n, int r,
                   const struct failure *f, const char *ok_detail);

#endif
