/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Refused calls in the audit log, rate-limited per UID (see denial.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "audit.h"
#include "denial.h"
#include "engine-private.h"
#include "util.h"

struct denial_uid {
        uid_t uid;
        time_t window_start;
        time_t last;
        unsigned written;       /* rows in this window */
        unsigned suppressed;    /* refusals not written since the last row */
};

struct denials {
        struct denial_uid uids[DENIAL_UIDS_MAX];
        size_t n;
};

int denials_new(struct denials **ret)
{
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

void denials_free(struct denials *d)
{
        free(d);
}

static struct denial_uid *slot_of(struct denials *d, uid_t uid)
{
        struct denial_uid *oldest = NULL;

        for (size_t i = 0; i < d->n; i++) {
                if (d->uids[i].uid == uid)
                        return &d->uids[i];
                if (!oldest || d->uids[i].last < oldest->last)
                        oldest = &d->uids[i];
        }
        /* A UID forgotten with refusals still uncounted loses that count only. */
        if (d->n < DENIAL_UIDS_MAX)
                oldest = &d->uids[d->n++];
        *oldest = (struct denial_uid){ .uid = uid };
        return oldest;
}

int engine_audit_denial(struct engine *e, const struct engine_caller *who, const char *method,
                        const char *why)
{
        struct denial_uid *u;
        time_t now = time(NULL);
        int r;

        if (!e->denials && denials_new(&e->denials) < 0)
                return -ENOMEM;
        u = slot_of(e->denials, who->uid);
        u->last = now;
        if (now - u->window_start >= DENIAL_WINDOW_SECONDS) {
                if (u->suppressed) {
                        _cleanup_free_ char *msg = strdup_printf(
                                "%u more refused calls of uid %u were not written (at most %d "
                                "rows per uid every %d s)", u->suppressed, (unsigned)who->uid,
                                DENIAL_ROWS_PER_WINDOW, DENIAL_WINDOW_SECONDS);

                        audit_append(e->db, who, "PermissionDenied", NULL, "PermissionDenied",
                                     msg, false);
                        u->suppressed = 0;
                }
                u->window_start = now;
                u->written = 0;
        }
        if (u->written >= DENIAL_ROWS_PER_WINDOW) {
                u->suppressed++;
                return 0;
        }
        u->written++;
        r = audit_append(e->db, who, "PermissionDenied", method, "PermissionDenied", why, false);
        return r < 0 ? r : 1;
}
