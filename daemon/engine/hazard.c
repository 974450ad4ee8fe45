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

struct hazards {
        struct hazard *v;
        size_t n, cap;
};

static int add_hazard(struct hazards *h, const char *kind, const char *path, char *msg)
{
        if (!msg || GROW(h->v, h->cap, h->n) < 0) {
                free(msg);
                return -ENOMEM;
        }
        h->v[h->n++] = (struct hazard){ .kind = kind, .path = path, .message = msg };
        return 0;
}

void hazard_list_free(struct hazard *h, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(h[i].message);
        free(h);
}

/* DMA capability and assignability as the administrator's policy leaves them (none: as detected). */
static enum dt_dma dma_of(const struct inventory *inv, const struct dt_device *d)
{
        return inv ? inventory_effective_dma(inv, d) : d->dma;
}

static bool assignable(const struct inventory *inv, const struct dt_device *d)
{
        return inv ? inventory_effective_assignable(inv, d, NULL) : d->assignable;
}

/* Whether an SPI routed to a domain would show that domain holding d. */
static bool has_spi(const struct dt_device *d)
{
        for (size_t i = 0; i < d->n_irqs; i++)
                if (d->irqs[i].cls == DT_IRQ_SPI)
                        return true;
        return false;
}

static int list(const struct dt_inventory *dt, const struct inventory *inv, bool iomem_visible,
                struct hazard **ret, size_t *n)
{
        struct hazards h = { 0 };
        int r = 0;

        for (size_t i = 0; r >= 0 && i < dt->n_devices; i++) {
                const struct dt_device *d = &dt->devices[i];

                if (!d->fault)
                        continue;
                r = add_hazard(&h, "inconsistent", d->path,
                               strdup_printf("%s is not assignable: its properties in the device "
                                             "tree are inconsistent (%s); every other device is "
                                             "served", d->path, d->fault));
        }
        for (size_t i = 0; r >= 0 && i < dt->n_iommus; i++) {
                const struct dt_iommu *m = &dt->iommus[i];
                const char *compat = m->compatible && m->compatible[0] ? m->compatible[0] : "?";

                if (!m->enabled || m->kind != DT_IOMMU_UNSUPPORTED)
                        continue;
                r = add_hazard(&h, "iommu-unsupported", m->path,
                               strdup_printf("%s (%s) is an enabled IOMMU Xen has no driver for: "
                                             "Xen does not translate DMA through it, may leave "
                                             "it to dom0 to program, and the devices behind it "
                                             "are not protected when given to a guest",
                                             m->path, compat));
        }
        for (size_t i = 0; r >= 0 && i < dt->n_devices; i++) {
                const struct dt_device *d = &dt->devices[i];

                if (d->coverage == DT_COV_PROTECTED || dma_of(inv, d) != DT_DMA_UNKNOWN ||
                    !assignable(inv, d))
                        continue;
                r = add_hazard(&h, "dma-unknown", d->path,
                               strdup_printf("%s may be a DMA master and no IOMMU Xen drives "
                                             "protects it (coverage %s): given to a guest it "
                                             "could read and write all memory; declare dma=none "
                                             "if it cannot do DMA",
                                             d->path, dt_coverage_to_string(d->coverage)));
        }
        for (size_t i = 0; r >= 0 && !iomem_visible && i < dt->n_devices; i++) {
                const struct dt_device *d = &dt->devices[i];

                if (d->coverage == DT_COV_PROTECTED || has_spi(d) || !d->n_regions ||
                    !assignable(inv, d))
                        continue;
                r = add_hazard(&h, "ownership-invisible", d->path,
                               strdup_printf("%s has no SPI and no IOMMU Xen drives protects "
                                             "it: if a domain gets it outside assignd (iomem "
                                             "lines in an xl.cfg, a domain built at boot), Xen "
                                             "shows nothing that reveals it, and assignd could "
                                             "give its registers to a second domain; assign it "
                                             "only through assignd, or run a Xen with the "
                                             "hv-patches series", d->path));
        }
        if (r < 0) {
                hazard_list_free(h.v, h.n);
                return r;
        }
        *ret = h.v;
        *n = h.n;
        return 0;
}

int hazard_list(const struct inventory *inv, bool iomem_visible, struct hazard **ret,
                size_t *n)
{
        return list(inventory_dt(inv), inv, iomem_visible, ret, n);
}

int hazard_list_detected(const struct dt_inventory *dt, struct hazard **ret, size_t *n)
{
        /* No hypervisor to ask: what the tree alone says. */
        return list(dt, NULL, true, ret, n);
}
