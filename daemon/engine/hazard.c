/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hazards of the inventory for GetStatus (see hazard.h).  Computed on
 * each call from the inventory and the administrator's policy, so a
 * declaration such as dma=none takes a device off the list at once.
 */
#include <errno.h>
#include <stdlib.h>

#include "hazard.h"
#include "inventory.h"
#include "util.h"
#include "varlink.h"

static int add_hazard(struct json_object *arr, const char *kind, const char *path, char *msg)
{
        struct json_object *o;

        if (!msg)
                return -ENOMEM;
        o = json_object_new_object();
        if (!o) {
                free(msg);
                return -ENOMEM;
        }
        json_object_object_add(o, "kind", json_object_new_string(kind));
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "message", json_object_new_string(msg));
        free(msg);
        if (json_object_array_add(arr, o) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        return 0;
}

int hazard_list_json(const struct inventory *inv, struct json_object **ret)
{
        const struct dt_inventory *dt = inventory_dt(inv);
        _cleanup_(vl_json_unrefp) struct json_object *arr = json_object_new_array();
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < dt->n_iommus; i++) {
                const struct dt_iommu *m = &dt->iommus[i];
                const char *compat = m->compatible && m->compatible[0] ? m->compatible[0] : "?";

                if (!m->enabled || m->kind != DT_IOMMU_UNSUPPORTED)
                        continue;
                r = add_hazard(arr, "iommu-unsupported", m->path,
                               strdup_printf("%s (%s) is an enabled IOMMU Xen has no driver for: "
                                             "Xen does not translate DMA through it, may leave "
                                             "it to dom0 to program, and the devices behind it "
                                             "are not protected when given to a guest",
                                             m->path, compat));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < dt->n_devices; i++) {
                const struct dt_device *d = &dt->devices[i];

                if (d->coverage == DT_COV_PROTECTED ||
                    inventory_effective_dma(inv, d) != DT_DMA_UNKNOWN ||
                    !inventory_effective_assignable(inv, d, NULL))
                        continue;
                r = add_hazard(arr, "dma-unknown", d->path,
                               strdup_printf("%s may be a DMA master and no IOMMU Xen drives "
                                             "protects it (coverage %s): given to a guest it "
                                             "could read and write all memory; declare dma=none "
                                             "if it cannot do DMA",
                                             d->path, dt_coverage_to_string(d->coverage)));
                if (r < 0)
                        return r;
        }
        *ret = steal_ptr(arr);
        return 0;
}
