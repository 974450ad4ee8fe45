/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pure decision helpers both backends share: turning libxenctrl's
 * -1 + errno into -errno, telling Xen's ambiguous errnos apart from what
 * is known about the domain, and naming errnos.  No hypervisor is needed
 * to call them, so they are unit-tested on any machine, and the simulator
 * explains its refusals in exactly the words the xen backend uses.
 */
#ifndef ASSIGND_HV_EXPLAIN_H
#define ASSIGND_HV_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "hv.h"

/* libxenctrl convention (-1 and errno) to -errno; r >= 0 passes through. */
int hv_errno_from_xc(int r, int saved_errno);

/* What is known when bind_pt_spi_irq returned EBUSY. */
struct hv_bind_facts {
        uint32_t domid;
        uint32_t irq;
        unsigned xen_major, xen_minor;
        int nr_spis;            /* -1 unknown */
        int has_run;            /* enum hv_tristate */
        int routed_here;        /* enum hv_tristate: this domain has it */
        int owner;              /* domid using it, -1 none/unknown */
        int owner_known;        /* enum hv_tristate: is owner authoritative */
};
/*
 * Work out which of Xen's EBUSY cases happened, in the order Xen checks
 * them (vgic_reserve_virq, route_irq_to_guest, gic_route_irq_to_guest),
 * and say it in a sentence (*why, malloc'ed, may be NULL).
 */
enum hv_reason hv_explain_bind_busy(const struct hv_bind_facts *f, char **why);

/* Whether Xen x.y refuses to route SPIs once the domain has run. */
bool hv_version_routes_only_before_run(unsigned major, unsigned minor);

/*
 * Explain an error of assign/test_assign/deassign given what is known:
 * platform_iommu (tristate), the domain's passthrough (tristate),
 * domain_exists (tristate).
 */
enum hv_reason hv_explain_dt_error(enum hv_step step, int r, uint32_t domid, const char *path,
                                   int platform_iommu, int passthrough, int domain_exists,
                                   char **why);

/* Errno from a name such as "EBUSY" (or a decimal number): -EINVAL if unknown. */
int hv_errno_from_name(const char *name);

#endif
