/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Raw domctls for the calls libxenctrl cannot make, and the values the
 * series in hv-patches/ adds to Xen's public interface.  Only hv-xen.c
 * uses this.  See hv-xen-domctl.c for how the interface version is chosen.
 */
#ifndef ASSIGND_HV_XEN_DOMCTL_H
#define ASSIGND_HV_XEN_DOMCTL_H

#include <stdbool.h>
#include <stdint.h>

#include <xentoollog.h>

/*
 * What hv-patches/ adds to Xen's public headers (new values in existing
 * fields: stock headers do not have them, stock hypervisors ignore or
 * refuse them as described by each patch's README).
 */
/* owner-of-record: xen_domctl_assign_device.flags, DT devices only. */
#define HV_XEN_DEV_NO_IOMMU 2u
/* live-spi-release: xen_sysctl_physinfo.arch_capabilities on Arm. */
#define HV_XEN_PHYSCAP_ARM_SPI_UNBIND_LIVE (1u << 5)
/* iommu-flag: xen_domctl_getdomaininfo.flags. */
#define HV_XEN_DOMINF_IOMMU (1u << 9)

struct hv_xen_domctl;

/* Open libxencall.  -errno (with *err) when the hypercall driver cannot be opened. */
int hv_xen_domctl_open(xentoollog_logger *logger, struct hv_xen_domctl **ret, char **err);
void hv_xen_domctl_close(struct hv_xen_domctl *dc);

/*
 * The domctl interface version this hypervisor accepts, if it is one whose
 * structures this file sends unchanged (0 otherwise, with the reason
 * logged at hv_xen_domctl_open()).
 */
uint32_t hv_xen_domctl_version(const struct hv_xen_domctl *dc);

/*
 * XEN_DOMCTL_assign_device (assign) or XEN_DOMCTL_deassign_device of the
 * device tree node path for domid, with flags.  0 or Xen's -errno;
 * -EPROTO when no usable interface version was found.
 */
int hv_xen_domctl_dt_device(struct hv_xen_domctl *dc, bool assign, uint32_t domid,
                            const char *path, uint32_t flags);

#endif
