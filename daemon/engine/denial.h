/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Refused calls in the audit log.  Any local user may connect and be
 * refused, as often as it likes; so the rows are rate-limited per UID: at
 * most DENIAL_ROWS_PER_WINDOW rows per UID per DENIAL_WINDOW_SECONDS, and
 * the refusals beyond that are counted and written as one row when the
 * UID's next window begins (or at the next refusal after it).  The
 * journal still gets every refusal (the dispatcher logs it).
 */
#ifndef ASSIGND_DENIAL_H
#define ASSIGND_DENIAL_H

#include "engine.h"

#define DENIAL_WINDOW_SECONDS 60
#define DENIAL_ROWS_PER_WINDOW 10
/* UIDs remembered at once; the one refused longest ago makes room. */
#define DENIAL_UIDS_MAX 64

struct denials;

int denials_new(struct denials **ret);
void denials_free(struct denials *d);

/*
 * Record that who was refused method (why: the refusal's sentence) in the
 * audit log, unless its UID is over its rate: 1 written, 0 counted only,
 * or a negative errno (the database refused the row).
 */
int engine_audit_denial(struct engine *e, const struct engine_caller *who, const char *method,
                        const char *why);

#endif
