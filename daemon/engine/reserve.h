/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Toolstack mode: Reserve records devices for a domain that does not
 * exist yet, writes its partial DTB and returns the xl.cfg fragment; when
 * a domain of that name appears (the domain watch, the clock) the lease
 * binds to its domid and is verified against the hypervisor.
 *
 * xl announces a domain before it grants its devices, so a domain that
 * has not run may still be being built: verification waits until it has
 * run or the reservation expired.  A domain that holds everything makes
 * the lease "assigned"; one that holds none of it makes it "failed" (the
 * devices are free); one that holds part of it (a hand-edited xl.cfg)
 * could still reach the devices, so what it holds is revoked and the
 * lease stays "releasing", its devices held, until the domain is gone.
 */
#ifndef ASSIGND_RESERVE_H
#define ASSIGND_RESERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "guestcfg.h"

/* A reservation's lifetime when Reserve does not say (seconds). */
#define RESERVE_TTL_DEFAULT 600
/* The longest one may ask for: a reservation is for a domain about to be created. */
#define RESERVE_TTL_MAX (24 * 3600)

struct reserve_request {
        const char *domain_name;
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        enum guestcfg_mode layout;
        int64_t ttl_seconds;            /* 0: RESERVE_TTL_DEFAULT; ignored when standing */
        /*
         * A standing reservation: dedicated to the domain name until
         * cancelled, taken up by every domain of that name that appears,
         * back to reserved when it dies; no expiry.
         */
        bool standing;
        /* Standing only: the devices are free while no domain of the name runs. */
        bool free_while_down;
};

struct reserve_result {
        struct db_lease lease;
        char *config;                   /* the xl.cfg fragment naming device_tree */
        char *notes;                    /* "path: why" lines, or NULL */
        char *device_tree;              /* the partial DTB written (0644) */
        int64_t expires_at;             /* 0: never (standing) */
};
void reserve_result_clear(struct reserve_result *r);

/*
 * Check as generate.h does plus DeviceBusy, record a "reserved" lease,
 * write its partial DTB to guest_dir/<name>.dtb; audited.
 */
int reserve_devices(struct engine *e, const struct engine_caller *who,
                    const struct reserve_request *req, struct reserve_result *ret,
                    struct failure *f);

/*
 * Drop a reservation no domain has taken up yet, by domain name or by
 * lease id (id > 0); audited.  *ret is the lease afterwards.
 */
int reserve_cancel(struct engine *e, const struct engine_caller *who, const char *domain_name,
                   int64_t id, struct db_lease *ret, struct failure *f);

/*
 * The reservations' clock and watch: bind and verify reservations whose
 * domain appeared, drop those that expired with no domain.  Returns how
 * many changed.
 */
int reserve_check_all(struct engine *e);

/*
 * A standing reservation whose domain is gone goes back to reserved,
 * unbound, waiting for the next domain of its name (recovery.c calls it
 * where another lease would become free).  Returns 1 or a negative errno.
 */
int reserve_standing_rest(struct engine *e, const struct db_lease *l, const char *why);

/*
 * Release of a reservation whose domain exists but is not verified yet
 * (Release calls it): whatever the domain holds is revoked and the lease
 * waits for the domain's end.
 */
int reserve_release(struct engine *e, const struct db_lease *l, struct failure *f);

#endif
