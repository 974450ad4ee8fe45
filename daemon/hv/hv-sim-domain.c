/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One simulated domain and what Xen records for it: iomem and IRQ
 * permissions as merged range sets (as Xen's rangesets are), its p2m
 * mappings of MMIO (a new mapping replaces what was at those guest
 * frames, as p2m_set_entry does), the SPIs routed to it and the DT
 * devices assigned to it through the IOMMU.  Lists are kept sorted so
 * that the state file and GetState do not depend on the order of calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv-sim-private.h"

struct sim_domain *hv_sim_domain_new(uint32_t domid, const char *name)
{
        struct sim_domain *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        d->domid = domid;
        snprintf(d->name, sizeof(d->name), "%s", name);
        return d;
}

int hv_sim_domain_range_add(struct sim_rangeset *rs, uint64_t s, uint64_t e)
{
        struct sim_range *v = malloc((rs->n + 1) * sizeof(*v));
        size_t n = 0, i = 0;

        if (!v)
                return -ENOMEM;
        /* Copy the ranges before, merge the touching ones, copy the rest. */
        for (; i < rs->n && rs->v[i].e < s && s - rs->v[i].e > 1; i++)
                v[n++] = rs->v[i];
        for (; i < rs->n && !(rs->v[i].s > e && rs->v[i].s - e > 1); i++) {
                if (rs->v[i].s < s)
                        s = rs->v[i].s;
                if (rs->v[i].e > e)
                        e = rs->v[i].e;
        }
        v[n++] = (struct sim_range){ s, e };
        for (; i < rs->n; i++)
                v[n++] = rs->v[i];
        free(rs->v);
        rs->v = v;
        rs->n = rs->cap = n;
        return 0;
}

int hv_sim_domain_range_remove(struct sim_rangeset *rs, uint64_t s, uint64_t e)
{
        struct sim_range *v = malloc((rs->n + 1) * sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < rs->n; i++) {
                struct sim_range r = rs->v[i];

                if (r.e < s || r.s > e) {
                        v[n++] = r;
                        continue;
                }
                if (r.s < s)
                        v[n++] = (struct sim_range){ r.s, s - 1 };
                if (r.e > e)
                        v[n++] = (struct sim_range){ e + 1, r.e };
        }
        free(rs->v);
        rs->v = v;
        rs->n = rs->cap = n;
        return 0;
}

bool hv_sim_domain_range_contains(const struct sim_rangeset *rs, uint64_t s, uint64_t e)
{
        /* Ranges are merged, so a covered span lies in a single range. */
        for (size_t i = 0; i < rs->n; i++)
                if (rs->v[i].s <= s && rs->v[i].e >= e)
                        return true;
        return false;
}

bool hv_sim_domain_iomem_covers(const struct sim_domain *d, uint64_t mfn, uint64_t nr)
{
        /* Touching ranges are merged, so a covered run lies in a single one. */
        if (nr == 0)
                return true;
        return mfn + nr - 1 >= mfn && hv_sim_domain_range_contains(&d->iomem, mfn, mfn + nr - 1);
}

bool hv_sim_domain_mapped(const struct sim_domain *d, uint64_t gfn, uint64_t mfn, uint64_t nr)
{
        uint64_t done = 0;

        /*
         * Mappings are not merged: follow them run by run, each going on
         * where the last ended in guest and machine frames alike.
         */
        while (done < nr) {
                const struct sim_mapping *m = NULL;
                uint64_t want = gfn + done;

                for (size_t i = 0; i < d->n_maps && !m; i++)
                        if (want >= d->maps[i].gfn && want - d->maps[i].gfn < d->maps[i].nr &&
                            d->maps[i].mfn + (want - d->maps[i].gfn) == mfn + done)
                                m = &d->maps[i];
                if (!m)
                        return false;
                done += m->gfn + m->nr - want;
        }
        return true;
}

int hv_sim_domain_map_remove(struct sim_domain *d, uint64_t gfn, uint64_t nr)
{
        uint64_t gend = gfn + nr - 1;
        struct sim_mapping *v = malloc((d->n_maps + 1) * sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_maps; i++) {
                struct sim_mapping m = d->maps[i];
                uint64_t mend = m.gfn + m.nr - 1;

                if (mend < gfn || m.gfn > gend) {
                        v[n++] = m;
                        continue;
                }
                if (m.gfn < gfn)
                        v[n++] = (struct sim_mapping){ m.gfn, m.mfn, gfn - m.gfn };
                if (mend > gend)
                        v[n++] = (struct sim_mapping){ gend + 1, m.mfn + (gend + 1 - m.gfn),
                                                   mend - gend };
        }
        free(d->maps);
        d->maps = v;
        d->n_maps = d->cap_maps = n;
        return 0;
}

int hv_sim_domain_map_add(struct sim_domain *d, uint64_t gfn, uint64_t mfn, uint64_t nr)
{
        size_t pos;
        int r;

        /* Like p2m_set_entry, a new mapping replaces what was there. */
        r = hv_sim_domain_map_remove(d, gfn, nr);
        if (r < 0)
                return r;
        r = GROW(d->maps, d->cap_maps, d->n_maps);
        if (r < 0)
                return r;
        for (pos = 0; pos < d->n_maps && d->maps[pos].gfn < gfn; pos++)
                ;
        memmove(&d->maps[pos + 1], &d->maps[pos], (d->n_maps - pos) * sizeof(*d->maps));
        d->maps[pos] = (struct sim_mapping){ gfn, mfn, nr };
        d->n_maps++;
        return 0;
}

bool hv_sim_domain_spi_routed(const struct sim_domain *d, uint32_t irq)
{
        for (size_t i = 0; i < d->n_spis; i++)
                if (d->spis[i] == irq)
                        return true;
        return false;
}

int hv_sim_domain_spi_add(struct sim_domain *d, uint32_t irq)
{
        size_t pos;
        int r = GROW(d->spis, d->cap_spis, d->n_spis);

        if (r < 0)
                return r;
        for (pos = 0; pos < d->n_spis && d->spis[pos] < irq; pos++)
                ;
        memmove(&d->spis[pos + 1], &d->spis[pos], (d->n_spis - pos) * sizeof(*d->spis));
        d->spis[pos] = irq;
        d->n_spis++;
        return 0;
}

void hv_sim_domain_spi_remove(struct sim_domain *d, uint32_t irq)
{
        for (size_t i = 0; i < d->n_spis; i++) {
                if (d->spis[i] == irq) {
                        memmove(&d->spis[i], &d->spis[i + 1],
                                (d->n_spis - i - 1) * sizeof(*d->spis));
                        d->n_spis--;
                        return;
                }
        }
}

ssize_t hv_sim_domain_dt_index(const struct sim_domain *d, const char *path)
{
        for (size_t i = 0; i < d->n_dt; i++)
                if (streq(d->dt[i], path))
                        return (ssize_t)i;
        return -1;
}

int hv_sim_domain_dt_add(struct sim_domain *d, const char *path)
{
        size_t pos;
        char *p;
        int r = GROW(d->dt, d->cap_dt, d->n_dt);

        if (r < 0)
                return r;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* Sorted, so that GetState does not depend on the order of calls. */
        for (pos = 0; pos < d->n_dt && strcmp(d->dt[pos], path) < 0; pos++)
                ;
        memmove(&d->dt[pos + 1], &d->dt[pos], (d->n_dt - pos) * sizeof(char *));
        d->dt[pos] = p;
        d->n_dt++;
        return 0;
}

void hv_sim_domain_free(struct sim_domain *d)
{
        if (!d)
                return;
        free(d->iomem.v);
        free(d->irqs.v);
        free(d->maps);
        free(d->spis);
        for (size_t i = 0; i < d->n_dt; i++)
                free(d->dt[i]);
        free(d->dt);
        free(d);
}
