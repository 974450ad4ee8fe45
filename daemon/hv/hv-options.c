/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The options of hv_open(): their defaults, and the platform description
 * read from the host device tree, so that whoever opens the hypervisor
 * passes what the tree says without knowing which backend uses it (the
 * simulator models that platform; the xen backend asks Xen instead).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dt.h"
#include "hv.h"

void hv_options_init(struct hv_options *o)
{
        memset(o, 0, sizeof(*o));
        o->xen_major = 4;
        o->xen_minor = 17;
        o->platform.iommu = true;
        o->platform.spis = HV_MAX_SPIS;
        o->platform.default_nr_spis = -1;       /* same as platform.spis */
}

int hv_options_set_platform_from_dt(struct hv_options *o, const struct dt_inventory *dt,
                                    const char ***protected)
{
        const char **v = calloc(dt->n_devices + 1, sizeof(*v));
        size_t n = 0;
        bool iommu = false;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < dt->n_devices; i++)
                if (dt->devices[i].coverage == DT_COV_PROTECTED)
                        v[n++] = dt->devices[i].path;
        /* Xen drives an IOMMU that is enabled and of a kind it supports. */
        for (size_t i = 0; i < dt->n_iommus; i++)
                if (dt->iommus[i].enabled && dt->iommus[i].kind != DT_IOMMU_UNSUPPORTED)
                        iommu = true;
        o->platform.iommu = iommu;
        o->platform.protected = v;
        o->platform.n_protected = n;
        *protected = v;
        return 0;
}
