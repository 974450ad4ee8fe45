/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The steps of hv-step.h: one table of names, and the assign and release
 * orders from which undo and rank are derived, so that the two orders
 * cannot drift apart.
 */
#include <errno.h>

#include "hv-step.h"
#include "util.h"

static const char *const step_names[HV_STEP__MAX] = {
        [HV_STEP_IOMEM_PERMISSION] = "iomem_permission",
        [HV_STEP_MEMORY_MAPPING] = "memory_mapping",
        [HV_STEP_IRQ_PERMISSION] = "irq_permission",
        [HV_STEP_BIND_SPI] = "bind_spi",
        [HV_STEP_ASSIGN_DT] = "assign_dt",
        [HV_STEP_DEASSIGN_DT] = "deassign_dt",
        [HV_STEP_UNBIND_SPI] = "unbind_spi",
        [HV_STEP_IRQ_REVOKE] = "irq_revoke",
        [HV_STEP_UNMAP] = "unmap",
        [HV_STEP_IOMEM_REVOKE] = "iomem_revoke",
        [HV_STEP_TEST_ASSIGN_DT] = "test_assign_dt",
};

const enum hv_step hv_assign_order[5] = {
        HV_STEP_IOMEM_PERMISSION, HV_STEP_MEMORY_MAPPING, HV_STEP_IRQ_PERMISSION,
        HV_STEP_BIND_SPI, HV_STEP_ASSIGN_DT,
};

const enum hv_step hv_release_order[5] = {
        HV_STEP_DEASSIGN_DT, HV_STEP_UNBIND_SPI, HV_STEP_IRQ_REVOKE,
        HV_STEP_UNMAP, HV_STEP_IOMEM_REVOKE,
};

const char *hv_step_name(enum hv_step s)
{
        if ((unsigned)s >= HV_STEP__MAX)
                return "invalid";
        return step_names[s];
}

int hv_step_from_name(const char *name)
{
        for (size_t i = 0; i < HV_STEP__MAX; i++)
                if (streq(step_names[i], name))
                        return (int)i;
        return -EINVAL;
}

int hv_step_undo(enum hv_step s)
{
        for (size_t i = 0; i < ARRAY_SIZE(hv_assign_order); i++) {
                /* The release order is the assign order reversed. */
                size_t j = ARRAY_SIZE(hv_assign_order) - 1 - i;

                if (hv_assign_order[i] == s)
                        return hv_release_order[j];
                if (hv_release_order[j] == s)
                        return hv_assign_order[i];
        }
        return -EINVAL;
}

int hv_step_rank(enum hv_step s)
{
        for (size_t i = 0; i < ARRAY_SIZE(hv_assign_order); i++)
                if (hv_assign_order[i] == s || hv_release_order[i] == s)
                        return (int)i;
        return -EINVAL;
}

int hv_region_to_frames(uint64_t base, uint64_t size, uint64_t *first, uint64_t *nr)
{
        uint64_t last;

        if (size == 0 || base + size - 1 < base)
                return -EINVAL;
        last = (base + size - 1) >> HV_PAGE_SHIFT;
        *first = base >> HV_PAGE_SHIFT;
        *nr = last - *first + 1;
        return 0;
}
