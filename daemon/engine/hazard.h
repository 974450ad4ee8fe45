/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hazards: things in the host's device tree that make device assignment
 * unsafe in ways Xen will not report, listed by GetStatus so that an
 * administrator sees them before a guest does.
 *
 *   "inconsistent"       a node whose properties cannot be read
 *                        consistently (a dangling phandle in iommus, an
 *                        interrupt-map that does not resolve, an iommu-map
 *                        whose target has no #iommu-cells ...): it is
 *                        recorded as a device that is never assignable,
 *                        with the reason, and every other device is served;
 *   "iommu-unsupported"  an enabled IOMMU Xen has no driver for (Exynos
 *                        sysmmu, Rockchip, MediaTek, Qualcomm ...): Xen
 *                        does not use it, may leave it to dom0, and the
 *                        devices behind it are not protected for guests;
 *   "dma-unknown"        an assignable device that may be a DMA master and
 *                        that no IOMMU Xen drives protects: given to a
 *                        guest it can reach all of memory;
 *   "ownership-invisible" an assignable device without an SPI that no IOMMU
 *                        Xen drives protects, on a hypervisor that cannot
 *                        say which domain may map its registers (stock
 *                        Xen): given to a domain outside assignd, nothing
 *                        shows it held (the hv-patches series closes it).
 */
#ifndef ASSIGND_HAZARD_H
#define ASSIGND_HAZARD_H

#include <stdbool.h>
#include <stddef.h>

struct dt_inventory;
struct inventory;

struct hazard {
        const char *kind;       /* static */
        const char *path;       /* borrowed from the inventory */
        char *message;
};

/*
 * The hazards, kind by kind as above, each in device-tree order; *ret is
 * freed with hazard_list_free().  iomem_visible: the hypervisor says who
 * may map a device's registers.
 */
int hazard_list(const struct inventory *inv, bool iomem_visible, struct hazard **ret,
                size_t *n);
/*
 * The same for a scanned and classified tree before any administrator's
 * policy: what a first start would list (offline tools, the tests that
 * sweep many trees).
 */
int hazard_list_detected(const struct dt_inventory *dt, struct hazard **ret, size_t *n);
void hazard_list_free(struct hazard *h, size_t n);

#endif
