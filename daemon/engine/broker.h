/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The assignment engine: gives devices to domains and takes them back,
 * with the database as the owner of record.
 *
 * Assign checks everything it can before the first hypercall (in a fixed
 * order, each refusal naming the device and the reason), commits a lease
 * with its full step plan, makes the hypercalls marking each step done,
 * and on a failure undoes the finished steps in reverse.  Release undoes a
 * lease's steps in reverse.  broker_reconcile() brings every unfinished
 * lease in line with the hypervisor after a crash.
 *
 * Order of the hypercalls: per device, per page run iomem permission then
 * mapping, per SPI the IRQ permission, the IOMMU assignment of a protected
 * device; then every SPI binding, last.  Binding goes last because it is
 * the one step Xen cannot undo on a live domain (unbind_pt_irq is -EBUSY
 * until the domain is dying): a failure anywhere before it is undone
 * completely.
 *
 * Releasing a device of a live domain: its MMIO is unmapped, its iomem and
 * IRQ permissions are revoked and its IOMMU assignment is removed at once,
 * but its SPIs stay routed until the domain dies, so the lease is held in
 * state "releasing" (the device is not reassignable, DeviceBusy says why)
 * until the domain is dying or gone; then the SPIs are unbound (or Xen has
 * dropped them) and the lease becomes free.  On a dying or dead domain
 * everything is released at once.
 *
 * A failed assignment whose rollback completed ends in state "failed" with
 * the error recorded (the devices are free); one whose rollback could not
 * unbind an SPI is held as "releasing" like a live release.
 */
#ifndef ASSIGND_BROKER_H
#define ASSIGND_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "guestcfg.h"
#include "hv.h"
#include "inventory.h"

struct broker;
struct events;

struct broker_options {
        bool forbid_force;      /* --forbid-force: refuse force_unprotected */
        /*
         * Directory Reserve writes partial DTBs to (<dir>/<name>.dtb, created
         * 0755 on first use); NULL: Reserve is refused.
         */
        const char *guest_dir;
};

/* A reservation's lifetime when Reserve does not say (seconds). */
#define BROKER_RESERVATION_TTL_DEFAULT 600
/* The longest one may ask for: a reservation is for a domain about to be created. */
#define BROKER_RESERVATION_TTL_MAX (24 * 3600)

/*
 * A refusal or failure: the Varlink error's short name (e.g. "DeviceBusy"),
 * the sentence, and the error's other parameters (an object, may be NULL).
 */
struct broker_error {
        const char *name;
        char *message;
        struct json_object *fields;
};
void broker_error_clear(struct broker_error *e);

/* Who is asking (SO_PEERCRED), for the lease and the audit log. */
struct broker_caller {
        uid_t uid;
        pid_t pid;
};

int broker_new(struct inventory *inv, struct hv *hv, const struct broker_options *o,
               struct broker **ret);
void broker_free(struct broker *b);
DEFINE_FREE_FUNC(struct broker, broker_free)
struct hv *broker_hv(const struct broker *b);
/*
 * Where lease events go (device-assigned, device-released); NULL (the
 * default) emits nothing.  The reservation engine emits its own.
 */
void broker_set_events(struct broker *b, struct events *ev);
struct events *broker_events(const struct broker *b);

/*
 * Bring every lease that is not final in line with the hypervisor: an
 * assigning lease is rolled back, a releasing lease carried forward,
 * leases of domains that are gone released.  Returns how many leases it
 * changed.  Run at start-up before serving.
 */
int broker_reconcile(struct broker *b, char **err);

/*
 * The same for domains that died or started dying while running: called
 * when the hypervisor's domain watch fires (and before each request).
 */
int broker_domains_changed(struct broker *b);

/*
 * Does a lease's domain die without being gone yet?  Xen does not always
 * signal the end of a dying domain, so the daemon's clock calls
 * broker_domains_changed() while this holds.
 */
bool broker_waiting_for_dying(const struct broker *b);

enum broker_layout {
        BROKER_LAYOUT_IDENTITY,
        BROKER_LAYOUT_AUTO,
};

struct broker_assign_request {
        const char *domain;             /* domid as text, or a name */
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        enum broker_layout layout;
        bool dry_run;
};

/*
 * Assign.  On success *ret is {"lease": Lease or null, "steps": [Step]}
 * (lease null for a dry run).  On failure a negative errno and *e.
 */
int broker_assign(struct broker *b, const struct broker_caller *who,
                  const struct broker_assign_request *req, struct json_object **ret,
                  struct broker_error *e);

/*
 * Release the named devices of domain (every lease of the domain when
 * n_devices is 0).  A named device must be held by that domain, and a
 * lease is released whole (naming part of one is GroupIncomplete).  *ret is
 * {"leases": [Lease]} as they are afterwards.
 */
int broker_release(struct broker *b, const struct broker_caller *who, const char *domain,
                   const char *const *devices, size_t n_devices, struct json_object **ret,
                   struct broker_error *e);

/* ---- guest side: configuration generators and reservations ---- */

enum broker_guest_output {
        BROKER_GUEST_DTB,               /* {dtb (base64), size, notes, layout, devices} */
        BROKER_GUEST_XL,                /* {config, dtb, notes, layout, devices} */
        BROKER_GUEST_IMAGEBUILDER,      /* {config, dtb, notes, layout, devices} */
};

struct broker_guest_request {
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        enum guestcfg_mode layout;
        const struct guestcfg_target *target;   /* NULL: the hypervisor's release */
        bool dom0less;                  /* DTB: the dom0less flavour */
        const char *name;               /* XL: name = "..." line, or NULL */
        const char *device_tree;        /* XL: device_tree = "..." line, or NULL */
        unsigned index;                 /* ImageBuilder: DOMU index */
        const char *dtb_file;           /* ImageBuilder: DOMU_PASSTHROUGH_DTB (NULL: default) */
        const char *host_dtb_file;      /* ImageBuilder: host DTB named in the fdtput hints */
};

/*
 * Generate a guest's partial DTB, xl.cfg fragment or ImageBuilder fragment
 * from the host DTB the inventory was scanned from.  Makes every check of
 * Assign that needs no domain (unknown device, not assignable, group
 * incomplete, interrupt not an SPI, unprotected without force, guest
 * address conflict in the identity layout), but not DeviceBusy: nothing
 * is reserved.
 */
int broker_guest_config(struct broker *b, enum broker_guest_output what,
                        const struct broker_guest_request *req, struct json_object **ret,
                        struct broker_error *e);

struct broker_reserve_request {
        const char *domain_name;
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        enum guestcfg_mode layout;
        int64_t ttl_seconds;            /* 0: BROKER_RESERVATION_TTL_DEFAULT */
};

/*
 * Toolstack mode: check as broker_guest_config does plus DeviceBusy,
 * record a "reserved" lease for a domain that does not exist yet, write
 * its partial DTB to guest_dir/<name>.dtb (0644), and return {"lease",
 * "config" (the xl.cfg fragment naming that file), "device_tree",
 * "notes", "expires_at"}.  broker_reservations_check() binds it when the
 * domain appears.
 */
int broker_reserve(struct broker *b, const struct broker_caller *who,
                   const struct broker_reserve_request *req, struct json_object **ret,
                   struct broker_error *e);

/*
 * Drop a reservation that no domain has taken up yet, by domain name or by
 * lease id (id > 0).  *ret is {"lease": Lease}.
 */
int broker_cancel_reservation(struct broker *b, const struct broker_caller *who,
                              const char *domain_name, int64_t id, struct json_object **ret,
                              struct broker_error *e);

/*
 * The reservations' clock and watch: bind a reservation whose domain has
 * appeared and verify the domain holds what the fragment grants (then the
 * lease is "assigned"; a mismatch once the domain has run, or once the
 * reservation expired, marks it "failed" with a warning); drop
 * reservations that expired with no domain.  Returns how many changed.
 * Called from the event loop's timer, the domain watch and before requests.
 */
int broker_reservations_check(struct broker *b);

/* {"leases": [Lease]}: the non-final leases, or all of them. */
int broker_list_leases(struct broker *b, bool all, struct json_object **ret,
                       struct broker_error *e);

/* {"entries": [AuditEntry]}: the newest limit entries (0: all), oldest first. */
int broker_audit_log(struct broker *b, size_t limit, struct json_object **ret,
                     struct broker_error *e);

/* Append an audit entry for a write done elsewhere (SetDevicePolicy). */
int broker_audit(struct broker *b, const struct broker_caller *who, const char *action,
                 const char *target, const char *result, const char *detail, bool warning);

/* The inventory's owner function: {"domid", "domain", "state"} or NULL. */
struct json_object *broker_owner(void *userdata, const char *path);

#endif
