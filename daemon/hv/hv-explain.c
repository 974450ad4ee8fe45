/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The decision helpers of hv-explain.h.  Each follows the order in which
 * Xen's source makes its checks, so that the first case that fits is the
 * one Xen hit; what cannot be ruled out is listed in the sentence rather
 * than guessed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-explain.h"

int hv_errno_from_name(const char *name)
{
        char *end;
        long v;

        if (!name || !*name)
                return -EINVAL;
        errno = 0;
        v = strtol(name, &end, 10);
        if (*end == '\0' && errno == 0)
                return (v > 0 && v < 4096) ? (int)v : -EINVAL;
        for (int e = 1; e < 4096; e++) {
                const char *n = strerrorname_np(e);

                if (n && strcmp(n, name) == 0)
                        return e;
        }
        return -EINVAL;
}

int hv_errno_from_xc(int r, int saved_errno)
{
        if (r >= 0)
                return r;
        /* A few libxenctrl paths return -errno themselves; keep those. */
        if (r < -1)
                return r;
        return saved_errno > 0 ? -saved_errno : -EIO;
}

bool hv_version_routes_only_before_run(unsigned major, unsigned minor)
{
        /* Xen commit 1c77496bc8 (first in 4.19) lets SPIs be routed later. */
        return major < 4 || (major == 4 && minor < 19);
}

static void set_why(char **why, char *s)
{
        if (why)
                *why = s;
        else
                free(s);
}

enum hv_reason hv_explain_bind_busy(const struct hv_bind_facts *f, char **why)
{
        bool old = hv_version_routes_only_before_run(f->xen_major, f->xen_minor);

        /* vgic_reserve_virq() is Xen's first EBUSY. */
        if (f->nr_spis >= 0 && f->irq >= 32u + (unsigned)f->nr_spis) {
                set_why(why, strdup_printf(
                        "SPI %u cannot be bound: domain %u was created with %d SPIs (virtual IRQs "
                        "32-%d) and nr_spis is fixed at creation; create the domain with irqs "
                        "including %u%s", f->irq, f->domid, f->nr_spis, 31 + f->nr_spis, f->irq,
                        old ? "" : " or a larger nr_spis"));
                return HV_REASON_SPI_BEYOND_NR_SPIS;
        }
        if (f->routed_here == HV_YES) {
                set_why(why, strdup_printf("SPI %u is already bound to domain %u", f->irq,
                                           f->domid));
                return HV_REASON_SPI_ROUTED_HERE;
        }
        /* Then route_irq_to_guest(): someone else holds the IRQ. */
        if (f->owner >= 0 && (uint32_t)f->owner != f->domid) {
                set_why(why, strdup_printf("SPI %u cannot be bound: it is routed to domain %d",
                                           f->irq, f->owner));
                return HV_REASON_SPI_ROUTED_ELSEWHERE;
        }
        /* Then gic_route_irq_to_guest(): creation_finished. */
        if (old && f->has_run == HV_YES) {
                set_why(why, strdup_printf(
                        "SPI %u cannot be bound: domain %u has already run and Xen %u.%u only "
                        "routes SPIs before the first unpause (create it paused, bind, then "
                        "unpause; Xen 4.19 lifts this)", f->irq, f->domid, f->xen_major,
                        f->xen_minor));
                return HV_REASON_SPI_DOMAIN_HAS_RUN;
        }

        /* Whatever was not ruled out is listed. */
        _cleanup_free_ char *cands = strdup_printf(
                "%s%s%s%s",
                f->nr_spis < 0 ? "; the SPI may be beyond the nr_spis the domain was created with "
                                 "(xl 4.17 derives nr_spis from irqs=)" : "",
                f->routed_here == HV_UNKNOWN ? "; it may already be bound to this domain" : "",
                f->owner_known != HV_YES ? "; another domain or Xen itself may use it" : "",
                old && f->has_run == HV_UNKNOWN ? "; the domain may have run already (SPIs are "
                                                  "routed only before the first unpause)" : "");
        set_why(why, strdup_printf("SPI %u cannot be bound to domain %u: Xen answered EBUSY%s",
                                   f->irq, f->domid, cands && *cands ? cands : ""));
        return HV_REASON_SPI_BUSY_UNKNOWN;
}

enum hv_reason hv_explain_dt_error(enum hv_step step, int r, uint32_t domid, const char *path,
                                   int platform_iommu, int passthrough, int domain_exists,
                                   char **why)
{
        const char *what = step == HV_STEP_DEASSIGN_DT ? "deassigned from"
                           : step == HV_STEP_TEST_ASSIGN_DT ? "tested for" : "assigned to";

        if (!path)
                path = "(null)";
        switch (r) {
        case -EOPNOTSUPP:
                if (platform_iommu == HV_NO || domid == HV_DOMID_INVALID) {
                        set_why(why, strdup_printf(
                                "%s cannot be %s a domain through the IOMMU: Xen has no IOMMU "
                                "enabled on this platform", path, what));
                        return HV_REASON_NO_IOMMU;
                }
                set_why(why, strdup_printf(
                        "%s cannot be %s domain %u: the domain was created without the IOMMU "
                        "(create it with passthrough=\"enabled\")", path, what, domid));
                return HV_REASON_DOMAIN_NO_IOMMU;
        case -ESRCH:
                if (domain_exists == HV_NO) {
                        set_why(why, strdup_printf("domain %u does not exist", domid));
                        return HV_REASON_NO_DOMAIN;
                }
                if (step == HV_STEP_DEASSIGN_DT) {
                        set_why(why, strdup_printf("%s is not assigned to domain %u (or Xen does "
                                                   "not know the path)", path, domid));
                        return HV_REASON_DEVICE_NOT_ATTACHED;
                }
                set_why(why, strdup_printf("Xen's device tree has no node %s", path));
                return HV_REASON_DEVICE_NOT_FOUND;
        case -EINVAL:
                if (step == HV_STEP_TEST_ASSIGN_DT) {
                        set_why(why, strdup_printf("%s is already assigned to a domain (or domain "
                                                   "%u is dying)", path, domid));
                        return HV_REASON_DEVICE_ASSIGNED;
                }
                set_why(why, strdup_printf("%s cannot be %s domain %u: no IOMMU protects it (or "
                                           "the domain is dying)", path, what, domid));
                return HV_REASON_DEVICE_UNPROTECTED;
        case -EBUSY:
                set_why(why, strdup_printf("%s is already assigned to a domain (dom0 holds it if "
                                           "the host device tree lacks xen,passthrough)", path));
                return HV_REASON_DEVICE_ASSIGNED;
        case -EEXIST:
                /* hv-patches/test-assign: the domain asked about holds it. */
                set_why(why, strdup_printf("%s is assigned to domain %u", path, domid));
                return HV_REASON_DEVICE_HELD_HERE;
        case -ENXIO:
                /* hv-patches/test-assign: free, and no IOMMU protects it. */
                set_why(why, strdup_printf("%s is free, and no IOMMU protects it", path));
                return HV_REASON_DEVICE_UNPROTECTED;
        default:
                set_why(why, strdup_printf("%s cannot be %s domain %u: %s", path, what, domid,
                                           strerror(-r)));
                return HV_REASON_NONE;
        }
}
