/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Adoption: devices a domain holds that no lease records (hand-written
 * xl.cfg lines, dom0less domains Xen built at boot, a database that was
 * lost or replaced) are found through what the hypervisor reveals and
 * recorded as adopted leases, bound to the domain and released when it
 * dies like any other, so that they are never handed to anybody else.
 *
 * What reveals a holding: an SPI of the device routed to the domain (Xen's
 * unbind probe), its iomem permission (the simulator; stock Xen cannot
 * tell), and its IOMMU assignment, which stock Xen reports only as
 * "assigned to some domain": that alone is taken as the domain's only when
 * exactly one domain answers so.  A device without an SPI that no IOMMU
 * protects leaves no trace stock Xen shows: GetStatus lists such devices
 * as the hazard "ownership-invisible".
 *
 * A domain is looked at when it appears, on the clock while it is young
 * and has not run (xl grants devices after it announces the domain, before
 * it unpauses it: every second, then every few), once after it has run,
 * and every domain at start-up.
 */
#ifndef ASSIGND_ADOPT_H
#define ASSIGND_ADOPT_H

#include <stdbool.h>

struct engine;

/*
 * Look at the domains that need it (all: every live domain) and adopt what
 * they hold without a lease.  Returns how many devices were adopted.
 */
int adopt_sweep(struct engine *e, bool all);

/* Whether the backend can see which domain has a device's MMIO (not stock Xen). */
bool adopt_iomem_visible(struct engine *e);

#endif
