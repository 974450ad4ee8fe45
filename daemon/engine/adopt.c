/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Adoption (see adopt.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "adopt.h"
#include "audit.h"
#include "engine-private.h"
#include "inventory.h"
#include "jv.h"
#include "lease-state.h"
#include "log.h"
#include "recovery.h"
#include "strbuf.h"

/*
 * A domain that has not run is looked at again every second for its first
 * ADOPT_EAGER_SECONDS (xl grants devices after it announces the domain,
 * within seconds even under emulation), then every ADOPT_SLOW_SECONDS up
 * to ADOPT_YOUNG_SECONDS; a domain created paused is looked at again once
 * it runs.  A look costs a hypercall or two per assignable device no lease
 * holds.
 */
#define ADOPT_EAGER_SECONDS 15
#define ADOPT_SLOW_SECONDS 4
#define ADOPT_YOUNG_SECONDS 64

bool adopt_iomem_visible(struct engine *e)
{
        if (e->iomem_visible == HV_UNKNOWN) {
                struct hv_hold q = { .kind = HV_HOLD_IOMEM, .mfn = 0, .nr = 1 };

                /* dom0 always exists; what matters is whether the answer can be known. */
                if (hv_domain_holds(e->hv, 0, &q, 1, NULL) >= 0)
                        e->iomem_visible = q.answer == HV_UNKNOWN ? HV_NO : HV_YES;
        }
        return e->iomem_visible == HV_YES;
}

/* What domain d shows of device dev: the queries, answered. */
struct evidence {
        struct hv_hold *q;
        size_t n;
        bool strong;            /* an SPI or iomem permission of the device is the domain's */
        bool dt;                /* its IOMMU assignment is somebody's */
};

static void evidence_clear(struct evidence *ev)
{
        free(ev->q);
        *ev = (struct evidence){ 0 };
}

static int ask(struct engine *e, uint32_t domid, const struct dt_device *d, struct evidence *ev)
{
        size_t n = d->n_irqs + d->n_regions + 1, k = 0;
        int r;

        *ev = (struct evidence){ 0 };
        ev->q = calloc(n, sizeof(*ev->q));
        if (!ev->q)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_irqs; i++)
                if (d->irqs[i].cls == DT_IRQ_SPI)
                        ev->q[k++] = (struct hv_hold){ .kind = HV_HOLD_SPI,
                                                       .irq = d->irqs[i].hwirq };
        for (size_t i = 0; i < d->n_regions; i++) {
                uint64_t first, nr;

                if (hv_region_to_frames(d->regions[i].base, d->regions[i].size, &first, &nr) < 0)
                        continue;
                ev->q[k++] = (struct hv_hold){ .kind = HV_HOLD_IOMEM, .mfn = first, .nr = nr };
        }
        if (d->coverage == DT_COV_PROTECTED)
                ev->q[k++] = (struct hv_hold){ .kind = HV_HOLD_DT, .path = d->path };
        ev->n = k;
        if (!k)
                return 0;
        r = hv_domain_holds(e->hv, domid, ev->q, k, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < k; i++) {
                if (ev->q[i].answer != HV_YES)
                        continue;
                if (ev->q[i].kind == HV_HOLD_DT)
                        ev->dt = true;
                else
                        ev->strong = true;
        }
        return 0;
}

/* "SPI 39 routed to it, iomem permission for MFN 0x9030+1" */
static char *evidence_words(const struct evidence *ev)
{
        struct strbuf b = STRBUF_INIT;
        char *s = NULL;

        for (size_t i = 0; i < ev->n; i++) {
                const struct hv_hold *q = &ev->q[i];

                if (q->answer != HV_YES)
                        continue;
                if (b.len)
                        strbuf_append(&b, ", ");
                if (q->kind == HV_HOLD_SPI)
                        strbuf_printf(&b, "SPI %u (INTID %u) routed to it", q->irq - 32, q->irq);
                else if (q->kind == HV_HOLD_IOMEM)
                        strbuf_printf(&b, "iomem permission for MFN 0x%" PRIx64 "+%" PRIu64, q->mfn,
                                      q->nr);
                else
                        strbuf_append(&b, "assigned through the IOMMU");
        }
        return strbuf_steal(&b, &s) < 0 ? NULL : s;
}

/* The plan an adopted lease records: what was found, each step done. */
static int found_plan(const struct dt_device *d, const struct evidence *ev, struct plan *p)
{
        p->layout = strdup("identity");
        if (!p->layout)
                return -ENOMEM;
        for (size_t i = 0; i < ev->n; i++) {
                const struct hv_hold *q = &ev->q[i];
                enum hv_step step = q->kind == HV_HOLD_SPI     ? HV_STEP_BIND_SPI
                                    : q->kind == HV_HOLD_IOMEM ? HV_STEP_IOMEM_PERMISSION
                                                               : HV_STEP_ASSIGN_DT;

                if (q->answer != HV_YES)
                        continue;
                if (plan_add(p, step, d->path, q->mfn, 0, q->nr, q->irq) < 0)
                        return -ENOMEM;
                p->steps[p->n_steps - 1].done = true;
        }
        return 0;
}

/* The adopted lease's stored options: {"found": what showed the holding}. */
static char *found_options(const char *detail)
{
        struct json_object *o = json_object_new_object();
        char *s = NULL;

        if (jv_set_str(o, "found", detail ? detail : "") >= 0)
                s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return s;
}

static int record(struct engine *e, const struct hv_domain_info *dom, const struct dt_device *d,
                  const struct evidence *ev)
{
        _cleanup_(plan_clear) struct plan p = { 0 };
        _cleanup_free_ char *words = evidence_words(ev), *detail = NULL, *target = NULL;
        _cleanup_free_ char *options = NULL;
        struct db_lease l = {
                .domain_name = dom->name[0] ? (char *)dom->name : NULL,
                .domid = (int)dom->domid,
                .state = DB_LEASE_ASSIGNED,
                .adopted = true,
                .uid = 0,
                .pid = (int32_t)getpid(),
                .devices = (char **)&d->path,
                .n_devices = 1,
        };
        struct log_fields lf = LOG_FIELDS_INIT;
        int64_t id = 0;
        int r;

        r = found_plan(d, ev, &p);
        if (r < 0)
                return r;
        detail = strdup_printf("held outside assignd: %s", words ? words : "found in Xen");
        options = found_options(detail);
        l.options = options;
        r = lease_state_create(e->db, &l, &p, "the hypervisor shows the domain holding it", &id);
        if (r == -EEXIST)
                return 0;       /* leased since the look: the lease is the record */
        if (r < 0)
                return r;
        target = strdup_printf("domain %s (%u): %s", dom->name[0] ? dom->name : "?", dom->domid,
                               d->path);
        l.id = id;
        audit_lease_fields(&lf, &l, NULL);
        log_event(LOG_WARNING, LOG_MESSAGE_HELD_OUTSIDE, &lf,
                  "domain %s (%u) holds %s outside assignd (%s): recorded as adopted lease "
                  "%" PRId64 "; nobody else gets it until the domain is gone",
                  dom->name[0] ? dom->name : "?", dom->domid, d->path,
                  words ? words : "found in Xen", id);
        audit_append(e->db, NULL, "Adopted", target, "ok", detail, true);
        engine_emit_lease(e, EVENT_DEVICE_HELD_OUTSIDE, id, NULL, detail);
        return 1;
}

/* How many of the domains answer that d is assigned to them through the IOMMU. */
static int dt_claims(struct engine *e, const struct hv_domain_info *doms, size_t n,
                     const struct dt_device *d)
{
        int claims = 0;

        for (size_t i = 0; i < n; i++) {
                struct hv_hold q = { .kind = HV_HOLD_DT, .path = d->path };

                if (doms[i].domid == 0 || doms[i].dying)
                        continue;
                if (hv_domain_holds(e->hv, doms[i].domid, &q, 1, NULL) >= 0 && q.answer == HV_YES)
                        claims++;
        }
        return claims;
}

/* Adopt what dom holds of the devices no lease holds. */
static int adopt_domain(struct engine *e, const struct hv_domain_info *dom,
                        const struct hv_domain_info *doms, size_t n_doms)
{
        const struct dt_inventory *dt = inventory_dt(e->inv);
        int adopted = 0, r;

        for (size_t i = 0; i < dt->n_devices; i++) {
                const struct dt_device *d = &dt->devices[i];
                struct engine_owner o = { .domid = -1 };
                struct evidence ev;

                if (!inventory_effective_assignable(e->inv, d, NULL))
                        continue;
                r = engine_owner(e, d->path, &o);
                engine_owner_clear(&o);
                if (r != 0)
                        continue;       /* a lease has it (or the leases cannot be read) */
                r = ask(e, dom->domid, d, &ev);
                if (r >= 0 && (ev.strong || (ev.dt && dt_claims(e, doms, n_doms, d) == 1)))
                        r = record(e, dom, d, &ev);
                if (r > 0)
                        adopted++;
                else if (r < 0)
                        log_warning("adoption: cannot tell whether domain %u holds %s: %s",
                                    dom->domid, d->path, strerror(-r));
                evidence_clear(&ev);
        }
        return adopted;
}

static struct engine_seen *seen_of(struct engine *e, const struct hv_domain_info *d)
{
        for (size_t i = 0; i < e->n_seen; i++)
                if (e->seen[i].domid == d->domid && streq(e->seen[i].name, d->name))
                        return &e->seen[i];
        return NULL;
}

/*
 * Forget domains that are gone (a domid reused by a new domain is a new
 * one); returns how many were.
 */
static size_t seen_prune(struct engine *e, const struct hv_domain_info *doms, size_t n)
{
        size_t gone;
        size_t out = 0;

        for (size_t i = 0; i < e->n_seen; i++) {
                bool live = false;

                for (size_t k = 0; k < n && !live; k++)
                        live = doms[k].domid == e->seen[i].domid &&
                               streq(doms[k].name, e->seen[i].name);
                if (live)
                        e->seen[out++] = e->seen[i];
        }
        gone = e->n_seen - out;
        e->n_seen = out;
        return gone;
}

/* Does domain d need a look now?  Updates what adoption remembers of it. */
static bool needs_look(struct engine *e, const struct hv_domain_info *d, time_t now)
{
        struct engine_seen *s = seen_of(e, d);

        if (!s) {
                if (GROW(e->seen, e->cap_seen, e->n_seen) < 0)
                        return true;
                s = &e->seen[e->n_seen++];
                *s = (struct engine_seen){ .domid = d->domid, .first_seen = now,
                                           .next_look = now + 1,
                                           .checked_after_run = d->has_run == HV_YES };
                snprintf(s->name, sizeof(s->name), "%s", d->name);
                return true;
        }
        if (d->has_run == HV_YES) {
                if (s->checked_after_run)
                        return false;
                s->checked_after_run = true;
                return true;
        }
        if (now < s->next_look || now - s->first_seen > ADOPT_YOUNG_SECONDS)
                return false;
        s->next_look = now + (now - s->first_seen < ADOPT_EAGER_SECONDS ? 1 : ADOPT_SLOW_SECONDS);
        return true;
}

int adopt_sweep(struct engine *e, bool all)
{
        _cleanup_free_ struct hv_domain_info *doms = NULL;
        _cleanup_free_ char *err = NULL;
        time_t now = time(NULL);
        size_t n = 0;
        int r, adopted = 0;

        r = hv_list_domains(e->hv, &doms, &n, &err);
        if (r < 0) {
                log_warning("adoption: cannot list the domains: %s", err ? err : strerror(-r));
                return r;
        }
        /*
         * A domain xenstored does not know (a dom0less domain with no
         * xenstore entry) ends without a watch event, so the leases of the
         * domains this clock no longer lists are settled here.  (The
         * settling sweeps again, and finds nobody else gone.)
         */
        if (seen_prune(e, doms, n))
                recovery_domains_changed(e);
        for (size_t i = 0; i < n; i++) {
                const struct hv_domain_info *d = &doms[i];

                if (d->domid == 0 || d->dying)
                        continue;
                if (!needs_look(e, d, now) && !all)
                        continue;
                adopted += adopt_domain(e, d, doms, n);
        }
        return adopted;
}
