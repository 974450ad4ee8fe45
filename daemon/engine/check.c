/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device checks of check.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "engine-private.h"
#include "inventory.h"
#include "plan.h"
#include "strbuf.h"

int check_busy(const struct db_lease *l, const char *path, struct failure *f)
{
        const char *st = db_lease_state_to_string(l->state);
        _cleanup_(plan_clear) struct plan plan = { 0 };
        const char *why = "";
        int r;

        if (l->state == DB_LEASE_RELEASING) {
                /* A held plan waits for the domain's end, not just for its SPIs. */
                if (plan_from_lease(l, &plan, NULL) >= 0 && plan.hold)
                        why = ": it took up its reservation only in part, what it held was "
                              "revoked, and its devices stay held until that domain is gone";
                else
                        why = ": it is being released and stays held until its SPIs are "
                              "unbound, which Xen allows only once that domain is dying";
        }

        if (l->adopted) {
                char since[32] = "?";
                time_t t = (time_t)l->created_at;
                struct tm tm;

                if (gmtime_r(&t, &tm))
                        strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, path,
                                     "%s is held outside assignd since %s by domain %s%s%d%s "
                                     "(adopted lease %" PRId64 "): it is free once that domain "
                                     "is gone", path, since, l->domain_name ? l->domain_name : "",
                                     l->domain_name ? " (" : "", l->domid,
                                     l->domain_name ? ")" : "", l->id);
        } else if (l->standing && l->state == DB_LEASE_RESERVED && l->domid < 0)
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, path,
                                     "%s is reserved for domain %s by standing lease %" PRId64
                                     " until it is cancelled (the domain is not running): "
                                     "cancel it first", path,
                                     l->domain_name ? l->domain_name : "?", l->id);
        else if (l->state == DB_LEASE_RESERVED && l->domid >= 0)
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, path,
                                     "%s is reserved for domain %s by lease %" PRId64 " (created "
                                     "as domid %d, being verified): release that domain's "
                                     "devices with Release, or destroy it", path,
                                     l->domain_name ? l->domain_name : "?", l->id, l->domid);
        else if (l->state == DB_LEASE_RESERVED)
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, path,
                                     "%s is reserved for domain %s by lease %" PRId64 " (domain "
                                     "not created yet, expires in %" PRId64 " s): cancel the "
                                     "reservation first", path,
                                     l->domain_name ? l->domain_name : "?", l->id,
                                     l->expires_at > time(NULL)
                                             ? l->expires_at - (int64_t)time(NULL)
                                             : (int64_t)0);
        else
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, path,
                                     "%s is held by domain %s%s%d%s (%slease %" PRId64 ", %s)%s",
                                     path, l->domain_name ? l->domain_name : "",
                                     l->domain_name ? " (" : "", l->domid,
                                     l->domain_name ? ")" : "", l->standing ? "standing " : "",
                                     l->id, st, why);
        if (f) {
                f->domid = l->domid;
                f->state = st;
                f->lease = l->id;
        }
        return r;
}

static char *irq_text(const struct dt_irq *q)
{
        switch (q->cls) {
        case DT_IRQ_PPI:
                return strdup_printf("PPI (INTID %u) of %s", q->hwirq,
                                     q->controller ? q->controller : "?");
        case DT_IRQ_NOT_GIC:
                return strdup_printf("an interrupt of %s, which is not the GIC",
                                     q->controller ? q->controller : "?");
        default:
                return strdup_printf("SPI %u", q->hwirq);
        }
}

/* GroupIncomplete for the first device whose group the request does not name whole. */
static int check_groups(const struct dt_inventory *dt, const struct check_request *req,
                        const struct dt_device **devs, struct failure *f)
{
        for (size_t i = 0; i < req->n_devices; i++) {
                const struct dt_group *g;
                _cleanup_free_ const char **missing = NULL;
                _cleanup_free_ char *list = NULL;
                size_t n_missing = 0;
                int r;

                if (devs[i]->group < 0 || (size_t)devs[i]->group >= dt->n_groups)
                        continue;
                g = &dt->groups[devs[i]->group];
                missing = calloc(g->n_members + 1, sizeof(*missing));
                if (!missing)
                        return failure_oom(f);
                for (size_t k = 0; k < g->n_members; k++) {
                        const char *p = dt->devices[g->members[k]].path;

                        if (!strv_contains(req->devices, req->n_devices, p))
                                missing[n_missing++] = p;
                }
                if (!n_missing)
                        continue;
                list = strv_join(missing, n_missing, " ");
                r = failure_set_path(f, -EINVAL, FAILURE_GROUP_INCOMPLETE, devs[i]->path,
                                     "%s must be assigned together with %s (%s)", devs[i]->path,
                                     list ? list : "the rest of its group",
                                     g->why ? g->why : "group");
                if (f)
                        failure_missing(f, missing, n_missing);
                return r;
        }
        return 0;
}

/* UnprotectedDevice unless every device is protected, declared dma=none, or forced. */
static int check_unprotected(struct engine *e, const struct check_request *req,
                             const struct dt_device **devs, bool *any_protected, bool *forced,
                             struct failure *f)
{
        for (size_t i = 0; i < req->n_devices; i++) {
                const struct dt_device *d = devs[i];
                enum dt_dma dma = inventory_effective_dma(e->inv, d);
                int r;

                if (d->coverage == DT_COV_PROTECTED) {
                        *any_protected = true;
                        continue;
                }
                if (dma == DT_DMA_NONE)
                        continue;
                if (req->force_unprotected && !e->opts.forbid_force) {
                        *forced = true;
                        continue;
                }
                r = failure_set_path(f, -EPERM, FAILURE_UNPROTECTED_DEVICE, d->path,
                                     "%s is not protected by an IOMMU Xen drives (coverage %s) "
                                     "and its DMA capability is \"%s\": a guest could read and "
                                     "write any host memory through it. %s",
                                     d->path, dt_coverage_to_string(d->coverage),
                                     dt_dma_to_string(dma),
                                     req->force_unprotected
                                             ? "force_unprotected is refused: the daemon runs "
                                               "with --forbid-force."
                                             : "Declare dma=none if it cannot do DMA, or pass "
                                               "force_unprotected to take the risk.");
                if (f) {
                        f->coverage = dt_coverage_to_string(d->coverage);
                        f->dma = dt_dma_to_string(dma);
                }
                return r;
        }
        return 0;
}

int check_devices(struct engine *e, const struct check_request *req,
                  const struct dt_device **devs, bool *any_protected, bool *forced,
                  struct failure *f)
{
        const struct dt_inventory *dt = inventory_dt(e->inv);
        int r;

        *forced = false;
        *any_protected = false;
        if (req->n_devices == 0)
                return failure_invalid(f, "devices", "no device given");
        for (size_t i = 0; i < req->n_devices; i++)
                if (strv_contains(req->devices, i, req->devices[i]))
                        return failure_invalid(f, "devices", "%s is listed twice",
                                               req->devices[i]);

        for (size_t i = 0; i < req->n_devices; i++) {
                devs[i] = inventory_find(e->inv, req->devices[i]);
                if (!devs[i])
                        return failure_set_path(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND,
                                                req->devices[i], "no device has the path %s",
                                                req->devices[i]);
        }
        for (size_t i = 0; i < req->n_devices; i++) {
                const char *why = NULL;

                if (inventory_effective_assignable(e->inv, devs[i], &why))
                        continue;
                r = failure_set_path(f, -EPERM, FAILURE_DEVICE_NOT_ASSIGNABLE, devs[i]->path,
                                     "%s may not be assigned: %s", devs[i]->path,
                                     why ? why : "not assignable");
                if (f)
                        failure_fact(&f->reason, why ? why : "not assignable");
                return r;
        }
        for (size_t i = 0; i < req->n_devices && req->busy; i++) {
                struct db_lease l = { 0 };

                r = db_lease_find_by_device(e->db, devs[i]->path, &l);
                if (r == 0) {
                        r = check_busy(&l, devs[i]->path, f);
                        db_lease_clear(&l);
                        return r;
                }
                if (r != -ENOENT)
                        return engine_fail_storage(e, f, r, "cannot read the leases");
        }
        r = check_groups(dt, req, devs, f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < req->n_devices; i++)
                for (size_t k = 0; k < devs[i]->n_irqs; k++) {
                        _cleanup_free_ char *t = NULL;

                        if (devs[i]->irqs[k].cls == DT_IRQ_SPI)
                                continue;
                        t = irq_text(&devs[i]->irqs[k]);
                        r = failure_set_path(f, -EINVAL, FAILURE_INTERRUPT_NOT_ROUTABLE,
                                             devs[i]->path,
                                             "%s uses %s: Xen on Arm can route only GIC SPIs "
                                             "to a guest", devs[i]->path,
                                             t ? t : "an interrupt that is not an SPI");
                        if (f)
                                failure_fact(&f->interrupt, t ? t : "?");
                        return r;
                }
        return check_unprotected(e, req, devs, any_protected, forced, f);
}
