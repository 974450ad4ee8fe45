/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The controls of hv-sim.h: what the toolstack and the guests do to a
 * simulated machine, and its state as JSON.  Each first checks that the
 * hv it is given is the simulator (the ops it was opened with), since the
 * Simulator interface and the tests reach them through a plain struct hv;
 * then it works on the simulator's state through hv_priv(), and the xl
 * path makes its hypercalls through the simulator's own ops, as xl would
 * through Xen's, without failpoints.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv-sim-private.h"
#include "log.h"

bool hv_sim_present(const struct hv *hv)
{
        return hv && hv_get_ops(hv) == &hv_sim_ops;
}

static int need_sim(struct hv *hv, const char *what, char **err)
{
        if (hv_sim_present(hv))
                return 0;
        return set_error(err, -EOPNOTSUPP, "%s is only available with the simulated hypervisor",
                         what);
}

/* Domain domid of the simulator, for control what: NULL with *r set if none. */
static struct sim_domain *control_domain(struct hv *hv, const char *what, uint32_t domid,
                                         char **err, int *r)
{
        *r = need_sim(hv, what, err);
        return *r < 0 ? NULL : hv_sim_state_get(hv, domid, err, r);
}

static void watch_signal(struct sim *s)
{
        uint64_t one = 1;

        if (s->efd >= 0 && write(s->efd, &one, sizeof(one)) < 0)
                log_debug("hv-sim: cannot signal the watch: %m");
}

static int create_domain(struct hv *hv, const char *name, bool passthrough, bool populated,
                         bool building, int nr_spis, uint32_t *domid, char **err)
{
        struct sim *s = sim_of(hv);
        _cleanup_(hv_sim_domain_freep) struct sim_domain *d = NULL;
        uint32_t id = s->rover;
        int r;

        if (!name || !*name)
                return set_error(err, -EINVAL, "a domain needs a name");
        if (strlen(name) > HV_NAME_MAX)
                return set_error(err, -ENAMETOOLONG, "domain name longer than %u bytes",
                                 HV_NAME_MAX);
        for (size_t i = 0; i < s->n_doms; i++)
                if (streq(s->doms[i]->name, name))
                        return set_error(err, -EEXIST, "a domain named \"%s\" exists (domain %u)",
                                         name, s->doms[i]->domid);
        if (passthrough && !s->iommu) {
                hv_set_reason(hv, HV_REASON_NO_IOMMU);
                return set_error(err, -EINVAL, "cannot create \"%s\" with passthrough: the "
                                 "platform has no IOMMU enabled", name);
        }
        if (nr_spis > (int)HV_MAX_SPIS)
                return set_error(err, -EINVAL, "nr_spis %d exceeds %u", nr_spis, HV_MAX_SPIS);

        /* Xen's rover: next free domid above the last one, wrapping to 1. */
        for (unsigned tries = 0;; tries++) {
                if (tries >= SIM_DOMID_FIRST_RESERVED)
                        return set_error(err, -ENOMEM, "no free domid");
                if (++id >= SIM_DOMID_FIRST_RESERVED)
                        id = 1;
                if (!hv_sim_state_find(s, id))
                        break;
        }
        d = hv_sim_domain_new(id, name);
        if (!d)
                return set_error(err, -ENOMEM, "out of memory");
        d->passthrough = passthrough;
        d->populated = populated;
        d->building = building;
        d->paused = true;
        d->nr_spis = nr_spis < 0 ? s->default_nr_spis : (unsigned)nr_spis;
        r = GROW(s->doms, s->cap_doms, s->n_doms);
        if (r < 0)
                return set_error(err, r, "out of memory");
        s->doms[s->n_doms++] = steal_ptr(d);
        s->rover = id;
        r = hv_sim_state_commit(hv, err);
        if (r < 0)
                return r;
        watch_signal(s);
        *domid = id;
        return 0;
}

static int destroy_domain(struct hv *hv, uint32_t domid, bool signal, char **err)
{
        struct sim *s = sim_of(hv);
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        if (domid == 0)
                return set_error(err, -EPERM, "dom0 cannot be destroyed");
        /*
         * Everything the domain held goes with it: its IOMMU devices return
         * to DOMID_IO (nobody), its routed SPIs are released.
         */
        for (size_t i = 0; i < s->n_doms; i++) {
                if (s->doms[i] == d) {
                        memmove(&s->doms[i], &s->doms[i + 1],
                                (s->n_doms - i - 1) * sizeof(*s->doms));
                        s->n_doms--;
                        break;
                }
        }
        hv_sim_domain_free(d);
        r = hv_sim_state_commit(hv, err);
        if (r >= 0 && signal)
                watch_signal(s);
        return r;
}

static int create_domain_xl(struct hv *hv, const char *name, bool passthrough, bool populated,
                            int nr_spis, const struct hv_sim_xl_grants *g, uint32_t *domid,
                            char **err)
{
        _cleanup_free_ char *why = NULL;
        const char *what = NULL;
        uint32_t id;
        int r;

        if (nr_spis < 0) {
                nr_spis = 0;
                for (size_t i = 0; i < g->n_irqs; i++)
                        if (g->irqs[i] >= 32 && (int)(g->irqs[i] - 32 + 1) > nr_spis)
                                nr_spis = (int)(g->irqs[i] - 32 + 1);
        }
        r = create_domain(hv, name, passthrough, populated, false, nr_spis, &id, err);
        if (r < 0)
                return r;

        /* xl on Arm only binds: Xen checks the caller's IRQ permission, not the target's. */
        for (size_t i = 0; i < g->n_irqs && r >= 0; i++) {
                r = hv_sim_ops.bind_spi(hv, id, g->irqs[i], g->irqs[i], &why);
                what = "irqs";
        }
        for (size_t i = 0; i < g->n_iomem && r >= 0; i++) {
                const struct hv_sim_iomem *m = &g->iomem[i];

                what = "iomem";
                r = hv_sim_ops.iomem_permission(hv, id, m->mfn, m->nr, true, &why);
                if (r >= 0)
                        r = hv_sim_ops.memory_mapping(hv, id, m->gfn, m->mfn, m->nr, true, &why);
        }
        for (size_t i = 0; i < g->n_dtdevs && r >= 0; i++) {
                what = "dtdev";
                r = hv_sim_ops.assign_dt(hv, id, g->dtdevs[i], &why);
        }
        if (r < 0) {
                enum hv_reason reason = hv_last_reason(hv);

                /* xl destroys a domain whose creation failed. */
                destroy_domain(hv, id, true, NULL);
                hv_set_reason(hv, reason);
                return set_error(err, r, "%s: %s (xl would fail and destroy the domain)", what,
                                 why ? why : strerror(-r));
        }
        *domid = id;
        return 0;
}

int hv_sim_create_domain(struct hv *hv, const char *name, bool passthrough, bool populated,
                         int nr_spis, uint32_t *domid, char **err)
{
        int r = need_sim(hv, "CreateDomain", err);

        if (r < 0)
                return r;
        hv_set_reason(hv, HV_REASON_NONE);
        return create_domain(hv, name, passthrough, populated, false, nr_spis, domid, err);
}

int hv_sim_create_building_domain(struct hv *hv, const char *name, bool passthrough,
                                  int nr_spis, uint32_t *domid, char **err)
{
        int r = need_sim(hv, "CreateDomain", err);

        if (r < 0)
                return r;
        hv_set_reason(hv, HV_REASON_NONE);
        return create_domain(hv, name, passthrough, false, true, nr_spis, domid, err);
}

int hv_sim_finish_building(struct hv *hv, uint32_t domid, char **err)
{
        int r;
        struct sim_domain *d = control_domain(hv, "FinishBuilding", domid, err, &r);

        if (!d)
                return r;
        if (!d->building)
                return 0;
        d->building = false;
        r = hv_sim_state_commit(hv, err);
        if (r >= 0)
                watch_signal(sim_of(hv));
        return r;
}

int hv_sim_create_domain_xl(struct hv *hv, const char *name, bool passthrough, bool populated,
                            int nr_spis, const struct hv_sim_xl_grants *g, uint32_t *domid,
                            char **err)
{
        int r = need_sim(hv, "CreateDomain", err);

        if (r < 0)
                return r;
        hv_set_reason(hv, HV_REASON_NONE);
        return create_domain_xl(hv, name, passthrough, populated, nr_spis, g, domid, err);
}

int hv_sim_kill_domain(struct hv *hv, uint32_t domid, char **err)
{
        int r;
        struct sim_domain *d = control_domain(hv, "KillDomain", domid, err, &r);

        if (!d)
                return r;
        if (domid == 0)
                return set_error(err, -EPERM, "dom0 cannot be destroyed");
        if (d->dying)
                return 0;
        d->dying = true;
        r = hv_sim_state_commit(hv, err);
        if (r >= 0)
                watch_signal(sim_of(hv));
        return r;
}

int hv_sim_destroy_domain(struct hv *hv, uint32_t domid, char **err)
{
        int r = need_sim(hv, "DestroyDomain", err);

        return r < 0 ? r : destroy_domain(hv, domid, true, err);
}

int hv_sim_reap_domain(struct hv *hv, uint32_t domid, char **err)
{
        int r;
        struct sim_domain *d = control_domain(hv, "ReapDomain", domid, err, &r);

        if (!d)
                return r;
        if (!d->dying)
                return set_error(err, -EBUSY, "domain %u is not dying: KillDomain first", domid);
        return destroy_domain(hv, domid, false, err);
}

int hv_sim_populate_memory(struct hv *hv, uint32_t domid, char **err)
{
        int r;
        struct sim_domain *d = control_domain(hv, "PopulateMemory", domid, err, &r);

        if (!d)
                return r;
        if (d->populated)
                return 0;
        d->populated = true;
        return hv_sim_state_commit(hv, err);
}

static int set_paused(struct hv *hv, uint32_t domid, bool paused, const char *what,
                      char **err)
{
        int r;
        struct sim_domain *d = control_domain(hv, what, domid, err, &r);

        if (!d)
                return r;
        if (d->dying)
                return set_error(err, -EINVAL, "domain %u is dying", domid);
        d->paused = paused;
        if (!paused)
                d->has_run = true;      /* Xen: creation_finished */
        return hv_sim_state_commit(hv, err);
}

int hv_sim_unpause(struct hv *hv, uint32_t domid, char **err)
{
        return set_paused(hv, domid, false, "UnpauseDomain", err);
}

int hv_sim_pause(struct hv *hv, uint32_t domid, char **err)
{
        return set_paused(hv, domid, true, "PauseDomain", err);
}

int hv_sim_get_state_json(struct hv *hv, struct json_object **ret, char **err)
{
        int r = need_sim(hv, "GetState", err);

        return r < 0 ? r : hv_sim_state_to_json(sim_of(hv), ret, err);
}

uint64_t hv_sim_state_writes(const struct hv *hv)
{
        return hv_sim_present(hv) ? sim_of((struct hv *)hv)->writes : 0;
}
