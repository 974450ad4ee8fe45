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

/*
 * Append a row; who NULL is the daemon itself.  A failure to write is
 * logged and returned; the operation it records is not undone for it.
 */
int audit_append(struct db *db, const struct engine_caller *who, const char *action,
                 const char *target, const char *result, const char *detail, bool warning);

/*
 * The row of a request about domain and devices paths[0..n): "ok" with
 * ok_detail when r >= 0, else the failure's code name and message.
 */
void audit_request(struct db *db, const struct engine_caller *who, const char *action,
                   const char *domain, const char *const *paths, size_t n, int r,
                   const struct failure *f, const char *ok_detail);

#endif
