/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The assignment engine: gives devices to domains and takes them back,
 * with the database as the owner of record.  This header has the engine
 * object and its reads; the operations have their own headers (assign.h,
 * release.h, reserve.h, generate.h, recovery.h).  Everything returns C
 * structs and, on failure, a negative errno with a struct failure
 * (failure.h): the engine knows nothing of JSON or of Varlink.
 *
 * The model: every operation refuses what it can before the first
 * hypercall (in a fixed order, each refusal naming the device and the
 * reason), records a lease with its full step plan (plan.h), makes the
 * hypercalls marking each step done (plan-exec.h), and on a failure
 * undoes the finished steps in reverse.  A lease's state changes only
 * through lease-state.h's table.  Start-up reconciliation and the domain
 * watch settle what a crash or a domain's death left (recovery.h).
 */
#ifndef ASSIGND_ENGINE_H
#define ASSIGND_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "db.h"
#include "dt.h"
#include "failure.h"
#include "util.h"

struct engine;
struct events;
struct hv;
struct inventory;

/*
 * How much history is kept: final leases and audit entries older than
 * max_age seconds go, and beyond that all but the newest max_leases final
 * leases and max_audit entries (0: no bound of that kind).
 */
struct engine_retention {
        int64_t max_age;
        size_t max_leases;
        size_t max_audit;
};
/* The defaults (assignd.conf's [History]). */
#define HISTORY_MAX_AGE_DAYS 90
#define HISTORY_MAX_FINISHED_LEASES 10000
#define HISTORY_MAX_AUDIT_ENTRIES 100000

struct engine_options {
        bool forbid_force;      /* Policy.Unprotected=refuse: refuse force_unprotected */
        int64_t reservation_ttl;        /* Reserve's default lifetime; 0: RESERVE_TTL_DEFAULT */
        /*
         * Directory Reserve writes partial DTBs to (<dir>/<name>.dtb, created
         * 0755 on first use); NULL: Reserve is refused.
         */
        const char *guest_dir;
        struct engine_retention retention;
};

/* Who is asking (SO_PEERCRED), for the lease and the audit log. */
struct engine_caller {
        uid_t uid;
        pid_t pid;
};

/*
 * hv may be NULL: an engine with no hypervisor (assignctl --offline on a
 * build host).  Its reads of the inventory and its guest generators work
 * (layouts default to GUESTCFG_TARGET_DEFAULT's Xen); nothing else may be
 * called on it.
 */
int engine_new(struct inventory *inv, struct hv *hv, const struct engine_options *o,
               struct engine **ret);
void engine_free(struct engine *e);
DEFINE_FREE_FUNC(struct engine, engine_free)
/*
 * Where lease events go (device-assigned, device-released, ...); NULL (the
 * default) emits nothing.
 */
void engine_set_events(struct engine *e, struct events *ev);
/*
 * New policy options (a configuration reload): forbid_force,
 * reservation_ttl and the retention take effect from the next request (and
 * pruning); guest_dir stays.
 */
void engine_set_policy_options(struct engine *e, const struct engine_options *o);

/*
 * Write again the lease outcomes the database refused (see StorageError):
 * called on the daemon's clock.  Returns how many still wait (0: none).
 */
int engine_record_pending(struct engine *e);

/* ---- reads ---------------------------------------------------------------- */

/* Who holds a device: the non-final lease that has it. */
struct engine_owner {
        int64_t domid;          /* -1: a reservation not bound yet */
        char *domain;           /* may be NULL */
        enum db_lease_state state;
        int64_t lease;
        bool standing;          /* held for the domain name until cancelled */
        bool adopted;           /* found held outside assignd */
        int64_t since;          /* the lease's creation, unix seconds */
};
void engine_owner_clear(struct engine_owner *o);
/*
 * 1 and *ret when some lease holds path, 0 when nobody does, or a negative
 * errno.  Answered from the engine's owner map, which follows every
 * change of the database (owners.h), with no query.
 */
int engine_owner(struct engine *e, const char *path, struct engine_owner *ret);
/*
 * The same without a copy: *ret is borrowed until the next call into the
 * engine.  *version changes whenever path's answer may change (0: do not
 * keep anything made of this answer), for what is shown of the device.
 */
int engine_owner_peek(struct engine *e, const char *path, const struct engine_owner **ret,
                      uint64_t *version);

/* The device at path, or NULL with DeviceNotFound in f. */
const struct dt_device *engine_device(struct engine *e, const char *path, struct failure *f);

struct engine_device_filter {
        int coverage;           /* enum dt_coverage or -1 */
        int dma;                /* enum dt_dma (effective) or -1 */
        int assignable;         /* 0/1 (effective) or -1 */
        const char *owner;      /* domain name or domid as text; "none": unowned; NULL: any */
};
/* The devices matching f (NULL: all), in inventory order; *ret is malloc'd, borrowed items. */
int engine_list_devices(struct engine *e, const struct engine_device_filter *f,
                        const struct dt_device ***ret, size_t *n, struct failure *fail);

/*
 * Whether the hypervisor says which domain may map a device's registers
 * (the simulator, a Xen with the hv-patches series; not stock Xen): if not,
 * a device without an SPI or IOMMU given outside assignd cannot be found.
 */
bool engine_ownership_visible(struct engine *e);

/*
 * The hazards of the inventory (hazard.h), computed again only when the
 * inventory changed (a rescan, a policy) or what the hypervisor reveals
 * did: *ret is borrowed until then.  *version changes with the list.
 */
struct hazard;
int engine_hazards(struct engine *e, const struct hazard **ret, size_t *n, uint64_t *version);

/*
 * A number that changes whenever any device's owner may have (0: the owner
 * map cannot be read now), for what is kept of every device at once.
 */
uint64_t engine_owners_version(struct engine *e);

/*
 * One page of the leases that are not final, or of all of them, after
 * settling what domain deaths changed: those with an id above after, at
 * most limit (> 0), by id.  *next is the after of the next page, 0 when
 * this one is the last.
 */
int engine_list_leases(struct engine *e, bool all, int64_t after, size_t limit,
                       struct db_lease **ret, size_t *n, int64_t *next, struct failure *f);
/* Non-final leases by state (indexed by enum db_lease_state). */
int engine_lease_counts(struct engine *e, size_t counts[_DB_LEASE_STATE_MAX], struct failure *f);

/*
 * One page of the audit log: the newest limit (> 0) entries with an id
 * below before (0: the newest of all), oldest first.  *next is the before
 * of the page of older entries, 0 when there are none.
 */
int engine_audit_log(struct engine *e, int64_t before, size_t limit, struct db_audit **ret,
                     size_t *n, int64_t *next, struct failure *f);

/*
 * Delete what the retention lets go, at most batch rows of each kind (0:
 * no bound): returns how many rows went (a full batch: call again soon),
 * or a negative errno.
 */
int engine_prune_history(struct engine *e, size_t batch);

/* What happened to one device: every lease that had it, and its audit entries. */
struct engine_history {
        struct db_lease *leases;        /* all states, oldest first */
        size_t n_leases;
        struct db_audit *entries;       /* the newest limit ones, oldest first */
        size_t n_entries;
};
void engine_history_clear(struct engine_history *h);
/*
 * The history of path, after settling what domain deaths changed.  A path
 * the inventory does not have is still answered when something happened
 * to it (a device a rescan removed); otherwise DeviceNotFound.
 */
int engine_device_history(struct engine *e, const char *path, size_t limit,
                          struct engine_history *ret, struct failure *f);

/*
 * Set the administrator's policy of a device (dma / assignable take
 * DB_POLICY_UNSET to leave them; note NULL leaves it), audited and
 * announced as inventory-changed.  dma_text is the request's words for
 * the audit row.
 */
int engine_set_policy(struct engine *e, const struct engine_caller *who, const char *path,
                      int dma, int assignable, const char *note, struct failure *f);

#endif
