/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hazards: things in the host's device tree that make device assignment
 * unsafe in ways Xen will not report, listed by GetStatus so that an
 * administrator sees them before a guest does.
 *
 *   "iommu-unsupported"  an enabled IOMMU Xen has no driver for (Exynos
 *                        sysmmu, Rockchip, MediaTek, Qualcomm ...): Xen
 *                        does not use it, may leave it to dom0, and the
 *                        devices behind it are not protected for guests;
 *   "dma-unknown"        an assignable device that may be a DMA master and
 *                        that no IOMMU Xen drives protects: given to a
 *                        guest it can reach all of memory.
 */
#ifndef ASSIGND_HAZARD_H
#define ASSIGND_HAZARD_H

#include <json-c/json.h>

struct inventory;

/* [{"kind", "path", "message"}], in device-tree order; *ret is new. */
int hazard_list_json(const struct inventory *inv, struct json_object **ret);

#endif
