/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hypercall steps of an assignment and of a release: their names
 * (which leases store and failpoints use), which step undoes which, and
 * the order the engine makes them in.  Pure data and arithmetic, with no
 * hypervisor behind it, so that the lease code and the tests can use it
 * on their own.
 */
#ifndef ASSIGND_HV_STEP_H
#define ASSIGND_HV_STEP_H

#include <stdint.h>

#define HV_PAGE_SHIFT 12

/*
 * The hypercall steps of an assignment and of a release, in the order the
 * engine makes them; also the names failpoints use.
 */
enum hv_step {
        HV_STEP_IOMEM_PERMISSION,       /* "iomem_permission" */
        HV_STEP_MEMORY_MAPPING,         /* "memory_mapping" */
        HV_STEP_IRQ_PERMISSION,         /* "irq_permission" */
        HV_STEP_BIND_SPI,               /* "bind_spi" */
        HV_STEP_ASSIGN_DT,              /* "assign_dt" */
        HV_STEP_DEASSIGN_DT,            /* "deassign_dt" */
        HV_STEP_UNBIND_SPI,             /* "unbind_spi" */
        HV_STEP_IRQ_REVOKE,             /* "irq_revoke" */
        HV_STEP_UNMAP,                  /* "unmap" */
        HV_STEP_IOMEM_REVOKE,           /* "iomem_revoke" */
        HV_STEP_TEST_ASSIGN_DT,         /* "test_assign_dt" (no side effect) */
        HV_STEP__MAX,
};

const char *hv_step_name(enum hv_step s);
int hv_step_from_name(const char *name);       /* enum hv_step or -EINVAL */
/* The step that undoes s (assign side <-> release side); -EINVAL if none. */
int hv_step_undo(enum hv_step s);
/*
 * The canonical orders.  Release is the exact reverse of assign; unmap
 * comes before iomem_revoke because Xen checks the domain's iomem
 * permission on removal too.
 */
extern const enum hv_step hv_assign_order[5];
extern const enum hv_step hv_release_order[5];
/* Position of s in its order (0..4), or -EINVAL for test_assign_dt. */
int hv_step_rank(enum hv_step s);

/* Page frames covering [base, base + size): -EINVAL for size 0 or wrap. */
int hv_region_to_frames(uint64_t base, uint64_t size, uint64_t *first, uint64_t *nr);

#endif
