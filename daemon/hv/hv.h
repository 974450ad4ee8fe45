/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hypervisor interface: the only way the rest of assignd talks to Xen.
 *
 * One narrow set of calls with two implementations behind an ops table
 * (hv-backend.h): "xen" (hv-xen.c, real hypercalls through libxenctrl and
 * libxenstore, compiled only when libxenctrl is found) and "sim"
 * (hv-sim*.c, an in-process model of Xen 4.17+ on Arm that follows Xen's
 * rules and error codes and keeps its state in a file so that it survives
 * kill -9 of the daemon the way Xen's state does; its controls are in
 * hv-sim.h).  This header is what the engine uses; the steps are in
 * hv-step.h, the pure helpers both backends share in hv-explain.h.
 *
 * Conventions: every call returns 0 (or a positive count) or a negative
 * errno, never -1.  Errnos are Xen's own (libxenctrl's -1 + errno is turned
 * into -errno at the call site).  On failure *err (if non-NULL and unset)
 * gets a sentence for the user, and hv_last_reason() tells the caller which
 * of the known ambiguous cases it was (Xen returns EBUSY from
 * bind_pt_spi_irq for four different reasons, EOPNOTSUPP from
 * assign_device for two), so the engine can say which case it was.
 *
 * Facts from Xen's source that shape this interface (Xen 4.17, Arm):
 * - XEN_DOMCTL_iomem_permission / memory_mapping: a mapping (add and
 *   remove alike, in 4.17's common/domctl.c) needs the target domain to
 *   hold permission for every page, else -EPERM; so release unmaps before
 *   it revokes (a later upstream change checks the target only on add;
 *   the order stays right either way).
 * - XEN_DOMCTL_bind_pt_irq (Arm): SPIs only, vIRQ must equal the host IRQ
 *   (-EINVAL); the *caller* (dom0) must be permitted the IRQ (-EPERM);
 *   -EBUSY when the vIRQ is beyond the domain's nr_spis or already
 *   reserved, when another domain (or Xen) uses the IRQ, and, before Xen
 *   4.19, once the domain has been unpaused for the first time
 *   (gic_route_irq_to_guest checks d->creation_finished).
 * - XEN_DOMCTL_unbind_pt_irq: -EINVAL if the SPI is not routed to that
 *   domain, -EBUSY unless the domain is dying (gic_remove_irq_from_guest;
 *   unchanged upstream).
 * - XEN_DOMCTL_{test_,de}assign_device with a DT path: iommu_do_domctl
 *   returns -EOPNOTSUPP when the domain was created without
 *   XEN_DOMCTL_CDF_iommu, or, for test_assign with DOMID_INVALID, when the
 *   platform has no IOMMU (a domain cannot have the IOMMU enabled on such
 *   a platform: creation fails).  Then: dying domain -EINVAL, unknown path
 *   -ESRCH, unprotected device -EINVAL (assign), device already in some
 *   domain's list -EBUSY (assign) / -EINVAL (test_assign), deassign of a
 *   device not attached to that domain -ESRCH (SMMU and IPMMU drivers).
 *   test_assign answers 0 for an unprotected device.
 * - getdomaininfo on Arm does not report nr_spis nor whether the domain
 *   has the IOMMU enabled; the xen backend learns the latter with a
 *   harmless test_assign probe and reports nr_spis as unknown.
 */
#ifndef ASSIGND_HV_H
#define ASSIGND_HV_H

#include <stdbool.h>
#include <stdint.h>

#include "hv-step.h"
#include "util.h"

struct dt_inventory;

#define HV_DOMID_INVALID 0x7FF4u        /* Xen's DOMID_INVALID */
#define HV_DOMID_IO 0x7FF1u             /* Xen's DOMID_IO: "nobody" */
#define HV_NAME_MAX 127                 /* longest domain name we handle */
#define HV_MAX_SPIS 988                 /* 1020 GIC lines minus 32 local */

enum hv_tristate {
        HV_UNKNOWN = -1,
        HV_NO = 0,
        HV_YES = 1,
};

struct hv_domain_info {
        uint32_t domid;
        bool dying;
        bool paused;
        bool shutdown;
        /*
         * No vCPU yet: the toolstack is still building it (between
         * createdomain and max_vcpus).  Xen reads vCPU 0 when it routes or
         * unroutes an SPI, so no SPI call may be made on it (Xen would
         * crash, 4.17 to 4.21).
         */
        bool building;
        int has_run;            /* enum hv_tristate: unpaused at least once */
        int passthrough;        /* enum hv_tristate: created with the IOMMU */
        int nr_spis;            /* SPIs of its vGIC, -1 if unknown */
        char name[HV_NAME_MAX + 1];     /* "" if unknown */
};

/*
 * Why the last call failed, for the cases where Xen's errno alone is
 * ambiguous or where the engine needs to tell cases apart.  HV_REASON_NONE
 * after a success or an error with nothing more to say.
 */
enum hv_reason {
        HV_REASON_NONE = 0,
        HV_REASON_FAILPOINT,            /* injected by hv_set_failpoint() */
        HV_REASON_NO_DOMAIN,            /* domid does not exist */
        HV_REASON_DOMAIN_DYING,
        HV_REASON_NO_PERMISSION,        /* iomem/irq permission missing */
        HV_REASON_NOT_SPI,              /* not a routable SPI, or vIRQ != IRQ */
        HV_REASON_SPI_BEYOND_NR_SPIS,   /* vIRQ >= 32 + the domain's nr_spis */
        HV_REASON_SPI_ROUTED_HERE,      /* already routed to this domain */
        HV_REASON_SPI_ROUTED_ELSEWHERE, /* another domain (or Xen) uses it */
        HV_REASON_SPI_DOMAIN_HAS_RUN,   /* Xen < 4.19, domain unpaused once */
        HV_REASON_SPI_BUSY_UNKNOWN,     /* EBUSY, cause could not be told */
        HV_REASON_SPI_NOT_ROUTED,       /* unbind of an SPI not routed here */
        HV_REASON_UNBIND_LIVE_DOMAIN,   /* unbind refused: domain not dying */
        HV_REASON_NO_IOMMU,             /* platform has no (enabled) IOMMU */
        HV_REASON_DOMAIN_NO_IOMMU,      /* domain created without the IOMMU */
        HV_REASON_DEVICE_UNPROTECTED,   /* no IOMMU protects the device */
        HV_REASON_DEVICE_NOT_FOUND,     /* path unknown to Xen */
        HV_REASON_DEVICE_ASSIGNED,      /* assigned to some domain already */
        HV_REASON_DEVICE_NOT_ATTACHED,  /* deassign: not in that domain */
        HV_REASON_BAD_RANGE,            /* empty, wrapping or too wide */
        HV_REASON_NOT_IMPLEMENTED,      /* this Xen does not have the call on Arm */
        HV_REASON_DOMAIN_BUILDING,      /* no vCPU yet: SPI calls would crash Xen */
        HV_REASON_SPI_IN_FLIGHT,        /* unbind from a paused domain: pending or active */
        HV_REASON_DEVICE_HELD_HERE,     /* test_assign: this domain holds it */
        HV_REASON__MAX,
};

const char *hv_reason_name(enum hv_reason r);

/*
 * The platform as the host device tree describes it.  A backend that asks
 * Xen (xen) ignores it; one that models Xen (sim) behaves as Xen would on
 * this platform.
 */
struct hv_platform {
        /* Xen drives an IOMMU here (default yes). */
        bool iommu;
        /* DT paths that IOMMU protects (the inventory's protected set). */
        const char *const *protected;
        size_t n_protected;
        /* SPIs of the host GIC (default HV_MAX_SPIS). */
        unsigned spis;
        /*
         * SPIs a new domain gets when its creator does not say; < 0 (the
         * default) means spis.  Note that xl 4.17 derives it from irqs= (0
         * without), so real domains often have fewer.
         */
        int default_nr_spis;
};

struct hv_options {
        /* For a backend that keeps its own state: the file; NULL keeps it in memory. */
        const char *state_path;
        /* For a backend that models Xen: the release it behaves as (default 4.17). */
        unsigned xen_major;
        unsigned xen_minor;
        struct hv_platform platform;
};

/* Fill o with the defaults documented above. */
void hv_options_init(struct hv_options *o);
/*
 * Describe the platform from the host device tree: it has an IOMMU when
 * the tree has one Xen drives (enabled, of a kind Xen supports), and that
 * IOMMU protects the devices the scan found covered.  *protected gets the
 * array o->platform.protected then points to (malloc'ed; its strings are
 * dt's): keep dt and free the array once hv_open() returned.  The GIC's
 * SPIs and the default nr_spis are left as they were.  -ENOMEM.
 */
int hv_options_set_platform_from_dt(struct hv_options *o, const struct dt_inventory *dt,
                                    const char ***protected);

struct hv;

/*
 * Open backend "xen" or "sim".  -EOPNOTSUPP if this build lacks it,
 * -EINVAL for a name hv_backend_known() does not know; the xen backend
 * fails with a clear message on a machine that is not a Xen dom0.
 * Failpoints from the environment variable ASSIGND_FAILPOINTS
 * ("step=action,step:N=action,...") are armed here.
 */
int hv_open(const char *backend, const struct hv_options *opts, struct hv **ret, char **err);
void hv_free(struct hv *hv);
DEFINE_FREE_FUNC(struct hv, hv_free)

/* Whether this build has the named backend. */
bool hv_backend_available(const char *name);
/* Whether the project has a backend of that name, built here or not. */
bool hv_backend_known(const char *name);
/* Every known backend's name, as "a, b or c" (malloc'ed; NULL without memory). */
char *hv_backend_known_names(void);
const char *hv_backend_name(const struct hv *hv);

enum hv_reason hv_last_reason(const struct hv *hv);

/*
 * The changes of ../../hv-patches/ (not in any Xen release) that the
 * backend found at hv_open(), each by what the hypervisor does or
 * advertises, never by its version: a set of HV_PATCH_* bits.  The
 * simulator models none.
 * - owner-of-record: XEN_DOMCTL_assign_device takes a DT device that no
 *   IOMMU protects with a flag, and Xen refuses it, its MMIO and its SPIs
 *   to any other domain.  The xen backend then sets the flag on every
 *   assign_dt and deassign_dt (a protected device still goes through the
 *   IOMMU), and the engine plans assign_dt for unprotected devices too.
 * - test-assign: test_assign_dt answers 0 (protected, free), EEXIST (this
 *   domain holds it), EBUSY (someone else does), ENXIO (unprotected, free).
 * - live-spi-release: unbind_spi succeeds on a live domain paused with
 *   hv_pause_domain() when the guest has the interrupt neither pending nor
 *   active (EAGAIN then, reason HV_REASON_SPI_IN_FLIGHT).
 * - iommu-flag: domain_info's passthrough comes from Xen itself.  Found
 *   only where the platform has an IOMMU (dom0 then has the flag); where
 *   it has none no domain can have it, and the backend knows that anyway.
 */
enum hv_patch {
        HV_PATCH_OWNER_OF_RECORD = 1u << 0,
        HV_PATCH_TEST_ASSIGN = 1u << 1,
        HV_PATCH_LIVE_SPI_RELEASE = 1u << 2,
        HV_PATCH_IOMMU_FLAG = 1u << 3,
};
#define HV_PATCH__COUNT 4

unsigned hv_patches(const struct hv *hv);
/* The patch's directory in hv-patches/, e.g. "owner-of-record". */
const char *hv_patch_name(enum hv_patch p);

/*
 * Pause and unpause a domain as the toolstack does (Xen counts them: a
 * domain created paused stays paused through a pause and an unpause).
 * -EOPNOTSUPP from a backend that has no use for it (sim).
 */
int hv_pause_domain(struct hv *hv, uint32_t domid, char **err);
int hv_unpause_domain(struct hv *hv, uint32_t domid, char **err);

/* Hypervisor facts. */
int hv_version(struct hv *hv, unsigned *major, unsigned *minor, char **err);
/* XEN_SYSCTL_PHYSCAP_directio: the platform has an IOMMU Xen uses. */
int hv_platform_has_iommu(struct hv *hv, bool *ret, char **err);
/*
 * Is the SPI (GIC interrupt ID irq) routed to dom0?  Xen routes the SPIs of
 * every node of the host tree to dom0 except those marked xen,passthrough
 * (their SPIs dom0 may only grant).  1 yes, 0 no, or a negative errno.
 */
int hv_dom0_spi_routed(struct hv *hv, uint32_t irq, char **err);

/* Domains.  -ESRCH for a domid that does not exist. */
int hv_domain_info(struct hv *hv, uint32_t domid, struct hv_domain_info *ret, char **err);
/* Every domain, dom0 included, sorted by domid; *ret is malloc'ed. */
int hv_list_domains(struct hv *hv, struct hv_domain_info **ret, size_t *n, char **err);
/* -ENOENT when no live domain has that name. */
int hv_domid_by_name(struct hv *hv, const char *name, uint32_t *domid, char **err);
/* *ret is malloc'ed; -ENOENT when the domain has no name recorded. */
int hv_domain_name(struct hv *hv, uint32_t domid, char **ret, char **err);

/* The hypercalls of an assignment; frames are 4 KiB page numbers. */
int hv_iomem_permission(struct hv *hv, uint32_t domid, uint64_t mfn, uint64_t nr, bool allow,
                        char **err);
int hv_memory_mapping(struct hv *hv, uint32_t domid, uint64_t gfn, uint64_t mfn, uint64_t nr,
                      bool add, char **err);
int hv_irq_permission(struct hv *hv, uint32_t domid, uint32_t irq, bool allow, char **err);
int hv_bind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err);
int hv_unbind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err);
int hv_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err);
int hv_deassign_dt(struct hv *hv, uint32_t domid, const char *path, char **err);
/* domid may be HV_DOMID_INVALID to ask about the platform only. */
int hv_test_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err);

/*
 * What a domain holds, as far as the hypervisor can tell: each query asks
 * about one grant and gets its answer, HV_YES, HV_NO or HV_UNKNOWN (the
 * backend cannot tell).  What Xen reveals to dom0 (4.17 to 4.20, Arm):
 * - iomem permission, MMIO mappings, IRQ permission: nothing.  No domctl
 *   reads a domain's iomem or IRQ rangeset or its p2m, so the xen backend
 *   answers HV_UNKNOWN.
 * - An SPI routed to the domain: XEN_DOMCTL_unbind_pt_irq on a live
 *   domain answers -EINVAL when the SPI is not routed to it
 *   (release_guest_irq) and -EBUSY when it is (gic_remove_irq_from_guest
 *   refuses any domain that is not dying), and changes nothing.  On a
 *   dying domain the same call really unbinds, so a dying domain is never
 *   asked: HV_UNKNOWN.
 * - A DT device assigned through the IOMMU: XEN_DOMCTL_test_assign_device
 *   answers -EINVAL for a device already in a domain's list (and for a
 *   dying domain); which domain holds it, Xen does not say.  The xen
 *   backend answers HV_YES when that -EINVAL is explained as "assigned",
 *   HV_NO otherwise.
 * The simulator answers every kind from its records.  These are questions,
 * not hypercall steps: no failpoint fires, and hv_last_reason() is
 * HV_REASON_NONE after a success.  -ESRCH for a domain that does not
 * exist, -EINVAL for an unknown kind or a DT query without a path; the
 * answers are filled in on success only.
 */
enum hv_hold_kind {
        HV_HOLD_IOMEM,          /* iomem permission for frames [mfn, mfn + nr) */
        HV_HOLD_MAPPING,        /* guest frames [gfn, gfn + nr) mapped to [mfn, mfn + nr) */
        HV_HOLD_IRQ,            /* IRQ permission for INTID irq (plans of old) */
        HV_HOLD_SPI,            /* SPI (INTID irq) routed to the domain */
        HV_HOLD_DT,             /* DT device path assigned to it through the IOMMU */
        HV_HOLD__MAX,
};

struct hv_hold {
        enum hv_hold_kind kind;
        uint64_t mfn, gfn, nr;          /* HV_HOLD_IOMEM (mfn, nr), HV_HOLD_MAPPING */
        uint32_t irq;                   /* HV_HOLD_IRQ, HV_HOLD_SPI */
        const char *path;               /* HV_HOLD_DT */
        enum hv_tristate answer;        /* filled in */
};

int hv_domain_holds(struct hv *hv, uint32_t domid, struct hv_hold *q, size_t n, char **err);

/*
 * Domain lifecycle watch: an fd for the event loop (readable when domains
 * appeared, died or changed state), and a drain call that empties it and
 * sets *changed.  The fd belongs to the hv.  xen: xenstore watches on
 * @introduceDomain and @releaseDomain (xenstored fires each once when it
 * is set up, so the first drain reports a change); sim: an eventfd
 * signalled on create, kill and destroy.  The consumer re-lists domains.
 */
int hv_watch_fd(struct hv *hv, char **err);
int hv_watch_drain(struct hv *hv, bool *changed, char **err);

/*
 * Failpoints (tests only; both backends).  step is a hv_step name,
 * optionally ":N" to fire on the Nth call of that step only (counting
 * from 1, from the moment it is set); action is "error:ENAME" (any errno
 * name, or a number), "crash-before" (_exit(137) before the call),
 * "crash-after" (_exit(137) right after the call succeeded), or "off".
 * On -EINVAL, *bad_field (if bad_field is non-NULL) names the argument at
 * fault, "step" or "action", so a caller can report it without reading
 * the message.
 */
int hv_set_failpoint(struct hv *hv, const char *step, const char *action,
                     const char **bad_field, char **err);
/* Parse "step=action,..." as in ASSIGND_FAILPOINTS and arm each. */
int hv_set_failpoints_from_string(struct hv *hv, const char *spec, char **err);

#endif
