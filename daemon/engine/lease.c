/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease plan (intent log) and its storage.  The plan is kept as JSON
 * in the lease row so that one UPDATE per hypercall records progress: the
 * database, not memory, is what crash recovery reads.  The encoding is
 * small on purpose (a few hundred bytes for a device), since it is
 * rewritten after every step.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

void lease_plan_clear(struct lease_plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_steps; i++)
                free(p->steps[i].device);
        free(p->steps);
        free(p->layout);
        *p = (struct lease_plan){ 0 };
}

int lease_plan_add(struct lease_plan *p, enum hv_step step, const char *device, uint64_t mfn,
                   uint64_t gfn, uint64_t nr, uint32_t irq)
{
        char *dev = strdup(device ? device : "");

        if (!dev || GROW(p->steps, p->cap_steps, p->n_steps) < 0) {
                free(dev);
                return -ENOMEM;
        }
        p->steps[p->n_steps++] = (struct lease_step){
                .step = step, .device = dev, .mfn = mfn, .gfn = gfn, .nr = nr, .irq = irq,
        };
        return 0;
}

static bool step_is_memory(enum hv_step s)
{
        return s == HV_STEP_IOMEM_PERMISSION || s == HV_STEP_MEMORY_MAPPING;
}

static bool step_is_irq(enum hv_step s)
{
        return s == HV_STEP_IRQ_PERMISSION || s == HV_STEP_BIND_SPI;
}

static int add(struct json_object *o, const char *k, struct json_object *v)
{
        if (!v || json_object_object_add(o, k, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* One step; wire=true gives the Step type (null for fields that do not apply). */
static struct json_object *step_json(const struct lease_step *s, bool wire)
{
        struct json_object *o = json_object_new_object();
        bool mem = step_is_memory(s->step), irq = step_is_irq(s->step);
        int r = 0;

        if (!o)
                return NULL;
        r |= add(o, "step", json_object_new_string(hv_step_name(s->step)));
        r |= add(o, "device", json_object_new_string(s->device));
        if (mem || wire) {
                if (mem) {
                        r |= add(o, "mfn", json_object_new_int64((int64_t)s->mfn));
                        r |= add(o, "nr", json_object_new_int64((int64_t)s->nr));
                } else {
                        json_object_object_add(o, "mfn", NULL);
                        json_object_object_add(o, "nr", NULL);
                }
        }
        if (s->step == HV_STEP_MEMORY_MAPPING)
                r |= add(o, "gfn", json_object_new_int64((int64_t)s->gfn));
        else if (wire)
                json_object_object_add(o, "gfn", NULL);
        if (irq)
                r |= add(o, "irq", json_object_new_int64(s->irq));
        else if (wire)
                json_object_object_add(o, "irq", NULL);
        r |= add(o, "done", json_object_new_boolean(s->done));
        r |= add(o, "undone", json_object_new_boolean(s->undone));
        /* Stored only: the wire's Step has no such field, and most steps never get it. */
        if (s->kept && !wire)
                r |= add(o, "kept", json_object_new_boolean(true));
        if (r) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *lease_plan_steps_json(const struct lease_plan *p)
{
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < p->n_steps; i++) {
                struct json_object *s = step_json(&p->steps[i], true);

                if (!s || json_object_array_add(a, s) < 0) {
                        json_object_put(s);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

int lease_plan_to_string(const struct lease_plan *p, char **ret)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        char *s;

        if (!o || !a)
                goto oom;
        if (add(o, "layout", json_object_new_string(p->layout ? p->layout : "identity")) < 0) {
                a = NULL;
                goto oom;
        }
        if (json_object_object_add(o, "steps", a) < 0)
                goto oom;
        if (p->hold && add(o, "hold", json_object_new_boolean(true)) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_steps; i++) {
                struct json_object *st = step_json(&p->steps[i], false);

                if (!st || json_object_array_add(a, st) < 0) {
                        json_object_put(st);
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
oom:
        json_object_put(o);
        json_object_put(a);
        return -ENOMEM;
}

static int get_u64(struct json_object *o, const char *k, bool need, uint64_t *ret)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, k, &v) || !v) {
                *ret = 0;
                return need ? -EUCLEAN : 0;
        }
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return -EUCLEAN;
        *ret = (uint64_t)json_object_get_int64(v);
        return 0;
}

static bool get_bool(struct json_object *o, const char *k)
{
        struct json_object *v;

        return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

int lease_plan_from_string(const char *s, struct lease_plan *ret, char **err)
{
        _cleanup_(lease_plan_clear) struct lease_plan p = { 0 };
        struct json_object *o, *a, *v;
        int r = 0;

        o = s ? json_tokener_parse(s) : NULL;
        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, "steps", &a) || !json_object_is_type(a, json_type_array)) {
                json_object_put(o);
                return set_error(err, -EUCLEAN, "the stored lease plan does not decode");
        }
        if (json_object_object_get_ex(o, "layout", &v) && json_object_is_type(v, json_type_string))
                p.layout = strdup(json_object_get_string(v));
        p.hold = get_bool(o, "hold");
        for (size_t i = 0; r >= 0 && i < json_object_array_length(a); i++) {
                struct json_object *st = json_object_array_get_idx(a, i), *sv, *dv;
                uint64_t mfn, gfn, nr, irq;
                int step;

                if (!json_object_object_get_ex(st, "step", &sv) ||
                    !json_object_object_get_ex(st, "device", &dv) ||
                    (step = hv_step_from_name(json_object_get_string(sv))) < 0 ||
                    step > HV_STEP_ASSIGN_DT) {
                        r = -EUCLEAN;
                        break;
                }
                if ((r = get_u64(st, "mfn", step_is_memory(step), &mfn)) < 0 ||
                    (r = get_u64(st, "nr", step_is_memory(step), &nr)) < 0 ||
                    (r = get_u64(st, "gfn", step == HV_STEP_MEMORY_MAPPING, &gfn)) < 0 ||
                    (r = get_u64(st, "irq", step_is_irq(step), &irq)) < 0)
                        break;
                if (irq > UINT32_MAX) {
                        r = -EUCLEAN;
                        break;
                }
                r = lease_plan_add(&p, step, json_object_get_string(dv), mfn, gfn, nr,
                                   (uint32_t)irq);
                if (r >= 0) {
                        p.steps[p.n_steps - 1].done = get_bool(st, "done");
                        p.steps[p.n_steps - 1].undone = get_bool(st, "undone");
                        p.steps[p.n_steps - 1].kept = get_bool(st, "kept");
                }
        }
        json_object_put(o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_error(err, -EUCLEAN, "step %zu of the stored lease plan does not "
                                 "decode", p.n_steps);
        *ret = p;
        p = (struct lease_plan){ 0 };
        return 0;
}

int lease_begin(struct db *db, const char *domain_name, uint32_t domid, char *const *devices,
                size_t n, bool forced, uint32_t uid, int32_t pid, const struct lease_plan *plan,
                const char *options, int64_t *id)
{
        _cleanup_free_ char *text = NULL;
        struct db_lease l = {
                .domain_name = (char *)domain_name,
                .domid = (int)domid,
                .state = DB_LEASE_ASSIGNING,
                .target_state = DB_LEASE_ASSIGNED,
                .forced = forced,
                .uid = uid,
                .pid = pid,
                .options = (char *)options,
                .devices = (char **)devices,
                .n_devices = n,
        };
        int r = lease_plan_to_string(plan, &text);

        if (r < 0)
                return r;
        l.plan = text;
        return db_lease_create(db, &l, id);
}

int lease_save_plan(struct db *db, int64_t id, const struct lease_plan *plan)
{
        _cleanup_free_ char *text = NULL;
        int r = lease_plan_to_string(plan, &text);

        if (r < 0)
                return r;
        return db_lease_update(db, id, DB_LEASE_NONE, text, NULL);
}

int lease_set_state(struct db *db, int64_t id, enum db_lease_state state,
                    const struct lease_plan *plan, const char *error)
{
        _cleanup_free_ char *text = NULL;
        enum db_lease_state target;
        int r;

        if (plan && (r = lease_plan_to_string(plan, &text)) < 0)
                return r;
        target = db_lease_state_is_final(state) ? DB_LEASE_NONE
                 : state == DB_LEASE_RELEASING  ? DB_LEASE_FREE
                 : state == DB_LEASE_ASSIGNING  ? DB_LEASE_ASSIGNED
                                                : DB_LEASE_NONE;
        /* Both writes in one transaction: the state and its target never disagree on disk. */
        r = db_begin(db);
        if (r < 0)
                return r;
        r = db_lease_update(db, id, state, text, error);
        if (r >= 0)
                r = db_lease_set_target(db, id, target);
        if (r < 0) {
                db_rollback(db);
                return r;
        }
        return db_commit(db);
}

struct json_object *lease_to_json(const struct db_lease *l)
{
        _cleanup_(lease_plan_clear) struct lease_plan p = { 0 };
        struct json_object *o = json_object_new_object(), *devs = json_object_new_array();
        const char *target = db_lease_state_to_string(l->target_state);
        int r = 0;

        if (!o || !devs) {
                json_object_put(o);
                json_object_put(devs);
                return NULL;
        }
        for (size_t i = 0; i < l->n_devices; i++)
                r |= json_object_array_add(devs, json_object_new_string(l->devices[i]));
        r |= add(o, "devices", devs);
        r |= add(o, "id", json_object_new_int64(l->id));
        json_object_object_add(o, "domain",
                               l->domain_name ? json_object_new_string(l->domain_name) : NULL);
        json_object_object_add(o, "domid", l->domid >= 0 ? json_object_new_int(l->domid) : NULL);
        r |= add(o, "state", json_object_new_string(db_lease_state_to_string(l->state)));
        json_object_object_add(o, "target_state", target ? json_object_new_string(target) : NULL);
        r |= add(o, "forced", json_object_new_boolean(l->forced));
        r |= add(o, "uid", json_object_new_int64(l->uid));
        r |= add(o, "pid", json_object_new_int64(l->pid));
        r |= add(o, "created_at", json_object_new_int64(l->created_at));
        r |= add(o, "updated_at", json_object_new_int64(l->updated_at));
        json_object_object_add(o, "error", l->error ? json_object_new_string(l->error) : NULL);
        json_object_object_add(o, "expires_at",
                               l->expires_at > 0 && l->state == DB_LEASE_RESERVED
                                       ? json_object_new_int64(l->expires_at)
                                       : NULL);
        if (l->plan && lease_plan_from_string(l->plan, &p, NULL) >= 0) {
                r |= add(o, "layout", json_object_new_string(p.layout ? p.layout : "identity"));
                r |= add(o, "steps", lease_plan_steps_json(&p));
        } else {
                r |= add(o, "layout", json_object_new_string("identity"));
                r |= add(o, "steps", json_object_new_array());
        }
        if (r) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
