/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rendering for the wire (see render.h).  Members are added in the order
 * the interface file lists them; json-c keeps insertion order, so the
 * bytes a client reads are stable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "jv.h"
#include "render.h"
#include "strbuf.h"

/* Return o, or NULL (freeing it) when any member failed. */
static struct json_object *done(struct json_object *o, int r)
{
        if (r || !o) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* ---- devices ------------------------------------------------------------------ */

int render_status_inventory(struct json_object *o, struct inventory *inv,
                            const char *dtb_path)
{
        const struct dt_inventory *dt = inventory_dt(inv);
        struct json_object *dtb = json_object_new_object(), *devs = json_object_new_object();
        struct inventory_counts c;
        int r = 0;

        inventory_count(inv, &c);
        r |= jv_set_str(dtb, "path", dtb_path ? dtb_path : "");
        r |= jv_set_str(dtb, "sha256", dt->sha256);
        r |= jv_set_str(dtb, "model", dt->model);
        r |= jv_set_obj(o, "dtb", dtb);
        r |= jv_set_int(devs, "total", (int64_t)c.devices);
        r |= jv_set_int(devs, "assignable", (int64_t)c.assignable);
        r |= jv_set_int(devs, "protected", (int64_t)c.protected_);
        r |= jv_set_int(devs, "unprotected_dma", (int64_t)c.unprotected_dma);
        r |= jv_set_int(devs, "groups", (int64_t)c.groups);
        r |= jv_set_int(devs, "iommus", (int64_t)c.iommus);
        r |= jv_set_obj(o, "devices", devs);
        return r ? -ENOMEM : 0;
}

static struct json_object *regions_json(const struct dt_device *d)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < d->n_regions; i++) {
                struct json_object *o = json_object_new_object();
                int q = 0;

                q |= jv_set_int(o, "base", (int64_t)d->regions[i].base);
                q |= jv_set_int(o, "size", (int64_t)d->regions[i].size);
                r |= jv_push_obj(a, done(o, q));
        }
        return done(a, r);
}

static struct json_object *irqs_json(const struct dt_device *d)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < d->n_irqs; i++) {
                const struct dt_irq *q = &d->irqs[i];
                struct json_object *o = json_object_new_object();
                int k = 0;

                k |= jv_set_str(o, "class", dt_irq_class_to_string(q->cls));
                if (q->cls == DT_IRQ_NOT_GIC)
                        k |= jv_set_null(o, "hwirq");
                else
                        k |= jv_set_int(o, "hwirq", q->hwirq);
                k |= jv_set_str(o, "controller", q->controller ? q->controller : "");
                r |= jv_push_obj(a, done(o, k));
        }
        return done(a, r);
}

static struct json_object *iommu_json(const struct dt_device *d)
{
        struct json_object *o = json_object_new_object(), *links = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < d->n_iommus; i++) {
                struct json_object *l = json_object_new_object(), *ids = json_object_new_array();
                int k = 0;

                for (size_t j = 0; j < d->iommus[i].n_ids; j++)
                        k |= jv_push_int(ids, d->iommus[i].ids[j]);
                k |= jv_set_str(l, "iommu", d->iommus[i].iommu);
                k |= jv_set_obj(l, "ids", ids);
                r |= jv_push_obj(links, done(l, k));
        }
        r |= jv_set_str(o, "coverage", dt_coverage_to_string(d->coverage));
        r |= jv_set_obj(o, "iommus", links);
        return done(o, r);
}

static struct json_object *group_json(const struct inventory *inv, const struct dt_device *d)
{
        const struct dt_inventory *dt = inventory_dt(inv);
        struct json_object *a = json_object_new_array();
        int r = 0;

        if (!a || d->group < 0 || (size_t)d->group >= dt->n_groups)
                return a;
        for (size_t i = 0; i < dt->groups[d->group].n_members; i++) {
                size_t m = dt->groups[d->group].members[i];

                if (m >= dt->n_devices || &dt->devices[m] == d)
                        continue;
                r |= jv_push_str(a, dt->devices[m].path);
        }
        return done(a, r);
}

/* null (not a PCI host bridge), or the requester IDs its iommu-map leaves uncovered. */
static int set_gaps(struct json_object *o, const struct dt_device *d)
{
        struct json_object *a;
        int r = 0;

        if (!d->pci_host)
                return jv_set_null(o, "iommu_map_gaps");
        a = json_object_new_array();
        for (size_t i = 0; i < d->n_rid_gaps; i++) {
                struct json_object *g = json_object_new_object();
                int k = 0;

                k |= jv_set_int(g, "rid_base", d->rid_gaps[i].rid_base);
                k |= jv_set_int(g, "count", d->rid_gaps[i].count);
                r |= jv_push_obj(a, done(g, k));
        }
        return jv_set_obj(o, "iommu_map_gaps", done(a, r));
}

static int set_policy(struct json_object *o, const struct db_policy *p)
{
        struct json_object *v;
        int r = 0;

        if (!p)
                return jv_set_null(o, "policy");
        v = json_object_new_object();
        r |= jv_set_str(v, "dma", p->dma == DB_POLICY_UNSET ? NULL : dt_dma_to_string(p->dma));
        if (p->assignable == DB_POLICY_UNSET)
                r |= jv_set_null(v, "assignable");
        else
                r |= jv_set_bool(v, "assignable", p->assignable);
        r |= jv_set_str(v, "note", p->note);
        r |= jv_set_int(v, "set_by_uid", p->set_by_uid);
        r |= jv_set_int(v, "set_at", p->set_at);
        return jv_set_obj(o, "policy", done(v, r));
}

static int set_owner(struct json_object *o, const struct engine_owner *owner)
{
        struct json_object *v;
        int r = 0;

        if (!owner)
                return jv_set_null(o, "owner");
        v = json_object_new_object();
        if (owner->domid >= 0)
                r |= jv_set_int(v, "domid", owner->domid);
        else
                r |= jv_set_null(v, "domid");
        r |= jv_set_str(v, "domain", owner->domain);
        r |= jv_set_str(v, "state", db_lease_state_to_string(owner->state));
        r |= jv_set_int(v, "lease", owner->lease);
        r |= jv_set_bool(v, "standing", owner->standing);
        r |= jv_set_str(v, "origin", owner->adopted ? "external" : "request");
        r |= jv_set_int(v, "since", owner->since);
        return jv_set_obj(o, "owner", done(v, r));
}

struct json_object *render_device(const struct inventory *inv, const struct dt_device *d,
                                  const struct engine_owner *owner)
{
        struct json_object *o = json_object_new_object();
        const struct db_policy *p = inventory_policy(inv, d->path);
        const char *reason = NULL;
        bool assignable = inventory_effective_assignable(inv, d, &reason);
        const char *dma_source = d->dma_source;
        int r = 0;

        if (p && p->dma != DB_POLICY_UNSET)
                dma_source = "policy";
        r |= jv_set_str(o, "path", d->path);
        r |= jv_set_strv(o, "compatible", (const char *const *)d->compatible,
                         strv_length(d->compatible));
        r |= jv_set_obj(o, "regions", regions_json(d));
        r |= jv_set_str(o, "reg_note", d->reg_note);
        r |= jv_set_obj(o, "interrupts", irqs_json(d));
        r |= jv_set_obj(o, "iommu", iommu_json(d));
        r |= jv_set_str(o, "dma", dt_dma_to_string(inventory_effective_dma(inv, d)));
        r |= jv_set_str(o, "dma_source", dma_source ? dma_source : "unknown");
        r |= jv_set_bool(o, "assignable", assignable);
        r |= jv_set_str(o, "reason", assignable ? NULL : reason);
        r |= jv_set_obj(o, "group", group_json(inv, d));
        r |= set_gaps(o, d);
        r |= set_policy(o, p);
        r |= set_owner(o, owner);
        r |= jv_set_bool(o, "xen_passthrough", d->xen_passthrough);
        r |= jv_set_bool(o, "dom0_hidden", d->dom0_hidden);
        return done(o, r);
}

/* ---- leases ------------------------------------------------------------------- */

static struct json_object *step_json(const struct plan_step *s)
{
        struct json_object *o = json_object_new_object();
        int r = 0;

        r |= jv_set_str(o, "step", hv_step_name(s->step));
        r |= jv_set_str(o, "device", s->device);
        if (plan_step_is_memory(s->step)) {
                r |= jv_set_int(o, "mfn", (int64_t)s->mfn);
                r |= jv_set_int(o, "nr", (int64_t)s->nr);
        } else {
                r |= jv_set_null(o, "mfn");
                r |= jv_set_null(o, "nr");
        }
        if (s->step == HV_STEP_MEMORY_MAPPING)
                r |= jv_set_int(o, "gfn", (int64_t)s->gfn);
        else
                r |= jv_set_null(o, "gfn");
        if (plan_step_is_irq(s->step))
                r |= jv_set_int(o, "irq", s->irq);
        else
                r |= jv_set_null(o, "irq");
        r |= jv_set_bool(o, "done", s->done);
        r |= jv_set_bool(o, "undone", s->undone);
        return done(o, r);
}

struct json_object *render_steps(const struct plan *p)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < p->n_steps; i++)
                r |= jv_push_obj(a, step_json(&p->steps[i]));
        return done(a, r);
}

struct json_object *render_lease(const struct db_lease *l)
{
        _cleanup_(plan_clear) struct plan p = { 0 };
        struct json_object *o = json_object_new_object();
        bool has_plan = l->plan && plan_from_lease(l, &p, NULL) >= 0;
        int r = 0;

        r |= jv_set_strv(o, "devices", (const char *const *)l->devices, l->n_devices);
        r |= jv_set_int(o, "id", l->id);
        r |= jv_set_str(o, "domain", l->domain_name);
        if (l->domid >= 0)
                r |= jv_set_int(o, "domid", l->domid);
        else
                r |= jv_set_null(o, "domid");
        r |= jv_set_str(o, "state", db_lease_state_to_string(l->state));
        r |= jv_set_str(o, "target_state", db_lease_state_to_string(l->target_state));
        r |= jv_set_bool(o, "forced", l->forced);
        r |= jv_set_bool(o, "standing", l->standing);
        r |= jv_set_bool(o, "exclusive", !l->free_while_down);
        r |= jv_set_str(o, "origin", l->adopted ? "external" : "request");
        r |= jv_set_int(o, "uid", l->uid);
        r |= jv_set_int(o, "pid", l->pid);
        r |= jv_set_int(o, "created_at", l->created_at);
        r |= jv_set_int(o, "updated_at", l->updated_at);
        r |= jv_set_str(o, "error", l->error);
        if (l->expires_at > 0 && l->state == DB_LEASE_RESERVED)
                r |= jv_set_int(o, "expires_at", l->expires_at);
        else
                r |= jv_set_null(o, "expires_at");
        r |= jv_set_str(o, "layout", has_plan && p.layout ? p.layout : "identity");
        r |= jv_set_obj(o, "steps", has_plan ? render_steps(&p) : json_object_new_array());
        return done(o, r);
}

struct json_object *render_leases(const struct db_lease *l, size_t n)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < n; i++)
                r |= jv_push_obj(a, render_lease(&l[i]));
        return done(a, r);
}

/* ---- audit, hazards, events --------------------------------------------------- */

struct json_object *render_audit(const struct db_audit *a, size_t n)
{
        struct json_object *arr = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_new_object();
                int k = 0;

                k |= jv_set_int(o, "id", a[i].id);
                k |= jv_set_int(o, "at", a[i].at);
                k |= jv_set_int(o, "uid", a[i].uid);
                k |= jv_set_int(o, "pid", a[i].pid);
                k |= jv_set_str(o, "action", a[i].action);
                k |= jv_set_str(o, "target", a[i].target);
                k |= jv_set_str(o, "result", a[i].result);
                k |= jv_set_str(o, "detail", a[i].detail);
                k |= jv_set_str(o, "severity", a[i].severity ? a[i].severity : "info");
                r |= jv_push_obj(arr, done(o, k));
        }
        return done(arr, r);
}

struct json_object *render_hazard_counts(const struct hazard *h, size_t n)
{
        static const char *const kinds[] = { "inconsistent", "iommu-unsupported", "dma-unknown",
                                             "ownership-invisible" };
        struct json_object *counts = json_object_new_object();
        int r = 0;

        for (size_t k = 0; counts && k < ARRAY_SIZE(kinds); k++) {
                int64_t c = 0;

                for (size_t i = 0; i < n; i++)
                        c += streq(h[i].kind, kinds[k]);
                r |= jv_set_int(counts, kinds[k], c);
        }
        if (r) {
                json_object_put(counts);
                return NULL;
        }
        return counts;
}

struct json_object *render_hazards(const struct hazard *h, size_t n)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_new_object();
                int k = 0;

                k |= jv_set_str(o, "kind", h[i].kind);
                k |= jv_set_str(o, "path", h[i].path);
                k |= jv_set_str(o, "message", h[i].message);
                r |= jv_push_obj(a, done(o, k));
        }
        return done(a, r);
}

struct json_object *render_hv_patches(struct hv *hv)
{
        struct json_object *a = json_object_new_array();
        unsigned found = hv ? hv_patches(hv) : 0;
        int r = 0;

        for (unsigned i = 0; i < HV_PATCH__COUNT; i++)
                if (found & (1u << i))
                        r |= jv_push_str(a, hv_patch_name((enum hv_patch)(1u << i)));
        return done(a, r);
}

struct json_object *render_event(const struct event *ev, const char *boot_id)
{
        struct json_object *o = json_object_new_object();
        int r = 0;

        /* Fields that do not apply to the type are left out (null to the reader). */
        if (ev->n_devices)
                r |= jv_set_strv(o, "devices", (const char *const *)ev->devices, ev->n_devices);
        if (ev->domid >= 0)
                r |= jv_set_int(o, "domid", ev->domid);
        if (ev->domain)
                r |= jv_set_str(o, "domain", ev->domain);
        if (ev->lease >= 0)
                r |= jv_set_int(o, "lease", ev->lease);
        if (ev->cause)
                r |= jv_set_str(o, "cause", ev->cause);
        if (ev->state)
                r |= jv_set_str(o, "state", ev->state);
        if (ev->detail)
                r |= jv_set_str(o, "detail", ev->detail);
        r |= jv_set_int(o, "seq", (int64_t)ev->seq);
        r |= jv_set_str(o, "boot_id", boot_id);
        r |= jv_set_int(o, "time_usec", ev->time_usec);
        r |= jv_set_str(o, "type", event_type_name(ev->type));
        return done(o, r);
}

/* ---- guest side ----------------------------------------------------------------- */

struct json_object *render_placements(const struct guestcfg_layout *l)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < l->n_devices; i++) {
                const struct guestcfg_device *gd = &l->devices[i];
                struct json_object *o = json_object_new_object();
                struct json_object *regs = json_object_new_array();
                int k = 0;

                for (size_t j = 0; j < gd->n_regions; j++) {
                        struct json_object *g = json_object_new_object();
                        int q = 0;

                        q |= jv_set_int(g, "host", (int64_t)gd->regions[j].host);
                        q |= jv_set_int(g, "size", (int64_t)gd->regions[j].size);
                        q |= jv_set_int(g, "guest", (int64_t)gd->regions[j].guest);
                        k |= jv_push_obj(regs, done(g, q));
                }
                k |= jv_set_str(o, "path", gd->dev->path);
                k |= jv_set_bool(o, "relocated", gd->relocated);
                k |= jv_set_obj(o, "regions", regs);
                r |= jv_push_obj(a, done(o, k));
        }
        return done(a, r);
}

struct json_object *render_notes(const char *notes)
{
        struct json_object *a = json_object_new_array();
        int r = 0;

        for (const char *p = notes; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t k = nl ? (size_t)(nl - p) : strlen(p);

                if (k)
                        r |= jv_push_obj(a, json_object_new_string_len(p, (int)k));
                p += k + (nl ? 1 : 0);
        }
        return done(a, r);
}

char *render_base64(const uint8_t *p, size_t n)
{
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                *o++ = tab[(v >> 18) & 63];
                *o++ = tab[(v >> 12) & 63];
                *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? tab[v & 63] : '=';
        }
        *o = 0;
        return out;
}

struct json_object *render_generated(const struct generate_output *o)
{
        _cleanup_free_ char *b64 = render_base64(o->dtb, o->dtb_len);
        struct json_object *v = json_object_new_object();
        int r = b64 ? 0 : -ENOMEM;

        r |= jv_set_str(v, "dtb", b64);
        r |= jv_set_int(v, "size", (int64_t)o->dtb_len);
        r |= jv_set_obj(v, "notes", render_notes(o->notes));
        r |= jv_set_str(v, "layout", guestcfg_mode_to_string(o->layout->mode));
        r |= jv_set_obj(v, "devices", render_placements(o->layout));
        if (o->config)
                r |= jv_set_str(v, "config", o->config);
        return done(v, r);
}
