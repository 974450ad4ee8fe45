/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a hypervisor backend implements and may use: the ops table hv.c
 * dispatches to, the slot for the backend's private state and the one
 * for the reason of the last failure.  Only hv.c and the backends
 * (hv-xen.c, hv-sim*.c) include this; the engine sees hv.h.  Every op
 * follows hv.h's conventions (0 or a count, or a negative errno; *err for
 * the user; hv_set_reason() for the ambiguous cases).  hv.c resets the
 * reason and runs the failpoints before calling an op.
 */
#ifndef ASSIGND_HV_BACKEND_H
#define ASSIGND_HV_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

struct hv_ops {
        const char *name;
        int (*open)(struct hv *hv, const struct hv_options *o, char **err);
        void (*close)(struct hv *hv);
        int (*version)(struct hv *hv, unsigned *major, unsigned *minor, char **err);
        int (*platform_has_iommu)(struct hv *hv, bool *ret, char **err);
        int (*dom0_spi_routed)(struct hv *hv, uint32_t irq, char **err);
        int (*domain_info)(struct hv *hv, uint32_t domid, struct hv_domain_info *ret, char **err);
        int (*list_domains)(struct hv *hv, struct hv_domain_info **ret, size_t *n, char **err);
        int (*domain_name)(struct hv *hv, uint32_t domid, char **ret, char **err);
        int (*iomem_permission)(struct hv *hv, uint32_t domid, uint64_t mfn, uint64_t nr,
                                bool allow, char **err);
        int (*memory_mapping)(struct hv *hv, uint32_t domid, uint64_t gfn, uint64_t mfn,
                              uint64_t nr, bool add, char **err);
        int (*irq_permission)(struct hv *hv, uint32_t domid, uint32_t irq, bool allow, char **err);
        int (*bind_spi)(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err);
        int (*unbind_spi)(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err);
        int (*assign_dt)(struct hv *hv, uint32_t domid, const char *path, char **err);
        int (*deassign_dt)(struct hv *hv, uint32_t domid, const char *path, char **err);
        int (*test_assign_dt)(struct hv *hv, uint32_t domid, const char *path, char **err);
        /* Queries already checked by hv.c; fill every answer, or fail before any. */
        int (*domain_holds)(struct hv *hv, uint32_t domid, struct hv_hold *q, size_t n,
                            char **err);
        int (*watch_fd)(struct hv *hv, char **err);
        int (*watch_drain)(struct hv *hv, bool *changed, char **err);
        /* Optional (NULL: no patch, no pausing). */
        unsigned (*patches)(const struct hv *hv);
        int (*pause_domain)(struct hv *hv, uint32_t domid, bool pause, char **err);
};

/* Backend-private state and the reason slot, for the backends. */
void *hv_priv(const struct hv *hv);
void hv_set_priv(struct hv *hv, void *priv);
void hv_set_reason(struct hv *hv, enum hv_reason r);
/* The ops hv was opened with: a backend's own code checks it is given its own hv. */
const struct hv_ops *hv_get_ops(const struct hv *hv);

extern const struct hv_ops hv_sim_ops;
extern const struct hv_ops hv_xen_ops;

#endif
