/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated hypervisor's controls: what Xen's toolstack and a guest
 * do to domains (create, as xl would with an xl.cfg's device options,
 * kill, destroy, pause, unpause, populate) and a view of the whole
 * simulated machine as JSON.  They serve the Simulator Varlink interface
 * and the tests; the engine never calls them.  Each one refuses any hv
 * that is not the simulator with -EOPNOTSUPP and a message, so callers
 * may ask hv_sim_present() first or just call.
 */
#ifndef ASSIGND_HV_SIM_H
#define ASSIGND_HV_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

struct json_object;

/* Whether hv is the simulator (false for NULL). */
bool hv_sim_present(const struct hv *hv);

/*
 * Create a domain as the toolstack would (paused, never run).  nr_spis < 0
 * takes the default; 0 is a real value (xl 4.17 without irqs= gives 0).
 * -EEXIST for a name in use, -EINVAL for passthrough on a platform without
 * IOMMU (Xen refuses XEN_DOMCTL_CDF_iommu there) or nr_spis > HV_MAX_SPIS.
 */
int hv_sim_create_domain(struct hv *hv, const char *name, bool passthrough, bool populated,
                         int nr_spis, uint32_t *domid, char **err);
/*
 * The same, stopped where xl is between XEN_DOMCTL_createdomain and making
 * the vCPUs (not populated): the domain exists and has no vCPU, so
 * getdomaininfo reports it building, and an SPI domctl on it (which
 * crashes Xen 4.17) is refused with -EFAULT, reason domain-building.
 * hv_sim_finish_building() gives it its vCPUs and fires the watch.
 */
int hv_sim_create_building_domain(struct hv *hv, const char *name, bool passthrough,
                                  int nr_spis, uint32_t *domid, char **err);
int hv_sim_finish_building(struct hv *hv, uint32_t domid, char **err);
/* One iomem= entry of an xl.cfg: nr pages from mfn mapped at gfn. */
struct hv_sim_iomem {
        uint64_t mfn;
        uint64_t nr;
        uint64_t gfn;
};

/* The device options of an xl.cfg, as xl turns them into hypercalls. */
struct hv_sim_xl_grants {
        const uint32_t *irqs;           /* irqs=: GIC INTIDs */
        size_t n_irqs;
        const struct hv_sim_iomem *iomem;       /* iomem= */
        size_t n_iomem;
        const char *const *dtdevs;      /* dtdev= */
        size_t n_dtdevs;
};

/*
 * Create a domain as "xl create -p" does with those options (libxl 4.17,
 * domcreate_launch_dm and the dtdev device type): nr_spis < 0 is derived
 * from irqs as libxl_arm.c does (highest SPI + 1, 0 without irqs); then
 * each irq is bound (bind_pt_spi_irq only: on Arm xl grants the domain no
 * IRQ permission, Xen checks dom0's), each iomem range gets its permission
 * then its mapping, and each dtdev is assigned.  The first failure
 * destroys the domain again, as xl does, and is returned.
 */
int hv_sim_create_domain_xl(struct hv *hv, const char *name, bool passthrough, bool populated,
                            int nr_spis, const struct hv_sim_xl_grants *g, uint32_t *domid,
                            char **err);
/* Start destruction: the domain is dying but still holds its resources. */
int hv_sim_kill_domain(struct hv *hv, uint32_t domid, char **err);
/*
 * Destroy completely: protected devices go back to nobody (DOMID_IO),
 * permissions, mappings and routed SPIs vanish.  -EPERM for dom0.
 */
int hv_sim_destroy_domain(struct hv *hv, uint32_t domid, char **err);
/*
 * The end of a dying domain as Xen may leave it: gone, with nothing
 * signalled (no watch fires).  -EBUSY unless the domain is dying.
 */
int hv_sim_reap_domain(struct hv *hv, uint32_t domid, char **err);
int hv_sim_populate_memory(struct hv *hv, uint32_t domid, char **err);
/* Unpause: the domain runs (Xen's creation_finished becomes true). */
int hv_sim_unpause(struct hv *hv, uint32_t domid, char **err);
int hv_sim_pause(struct hv *hv, uint32_t domid, char **err);
/*
 * The hypervisor's view as JSON: {"platform": {...}, "next_domid": N,
 * "domains": [{"domid", "name", "passthrough", "populated", "nr_spis",
 * "paused", "has_run", "dying", "building", "iomem": [{"mfn","nr"}],
 * "mappings": [{"gfn","mfn","nr"}], "irqs": [irq...] (permissions),
 * "spis": [irq...] (routed), "dt_devices": [path...]}...],
 * "dt_owners": {path: domid}}.  Stable ordering, so two states compare
 * with json_object_equal().
 */
int hv_sim_get_state_json(struct hv *hv, struct json_object **ret, char **err);

/* How many times the state file was written since hv_open (the benchmarks count them). */
uint64_t hv_sim_state_writes(const struct hv *hv);

#endif
