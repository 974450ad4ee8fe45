/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plan of a lease (see plan.h): building it from a layout, and its
 * stored form, JSON text with the step marks recorded after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jv.h"
#include "plan.h"
#include "strbuf.h"

void plan_clear(struct plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_steps; i++)
                free(p->steps[i].device);
        free(p->steps);
        free(p->layout);
        *p = (struct plan){ 0 };
}

int plan_add(struct plan *p, enum hv_step step, const char *device, uint64_t mfn, uint64_t gfn,
             uint64_t nr, uint32_t irq)
{
        char *dev = strdup(device ? device : "");

        if (!dev || GROW(p->steps, p->cap_steps, p->n_steps) < 0) {
                free(dev);
                return -ENOMEM;
        }
        p->steps[p->n_steps++] = (struct plan_step){
                .step = step, .device = dev, .mfn = mfn, .gfn = gfn, .nr = nr, .irq = irq,
        };
        return 0;
}

int plan_copy(const struct plan *p, struct plan *ret)
{
        _cleanup_(plan_clear) struct plan c = { 0 };

        if (p->layout && !(c.layout = strdup(p->layout)))
                return -ENOMEM;
        c.hold = p->hold;
        for (size_t i = 0; i < p->n_steps; i++) {
                const struct plan_step *s = &p->steps[i];

                if (plan_add(&c, s->step, s->device, s->mfn, s->gfn, s->nr, s->irq) < 0)
                        return -ENOMEM;
                c.steps[i].done = s->done;
                c.steps[i].undone = s->undone;
                c.steps[i].kept = s->kept;
        }
        *ret = c;
        c = (struct plan){ 0 };
        return 0;
}

bool plan_step_is_memory(enum hv_step s)
{
        return s == HV_STEP_IOMEM_PERMISSION || s == HV_STEP_MEMORY_MAPPING;
}

bool plan_step_is_irq(enum hv_step s)
{
        return s == HV_STEP_IRQ_PERMISSION || s == HV_STEP_BIND_SPI;
}

bool plan_outstanding(const struct plan *p)
{
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].done && !p->steps[i].undone)
                        return true;
        return false;
}

/* ---- stored form --------------------------------------------------------- */

/*
 * The plans last written or read, by their text: a plan is read back
 * from its lease's row by the reply that follows each write and by the
 * release that follows, and decoding it with json-c costs thirty times a
 * copy.  A hit needs the whole text to match, so what comes out is what
 * decoding would give.  The daemon is single-threaded; the memo is small
 * and bounded.
 */
#define PLAN_MEMO 8
static struct plan_memo {
        char *text;
        struct plan plan;
} memo[PLAN_MEMO];
static unsigned memo_next;

static void memo_put(const char *text, const struct plan *p)
{
        struct plan_memo *m = &memo[memo_next];
        char *t = strdup(text);
        struct plan c;

        if (!t || plan_copy(p, &c) < 0) {
                free(t);
                return;
        }
        /* As the text says it, and decoding would give it. */
        if (!c.layout && !(c.layout = strdup("identity"))) {
                free(t);
                plan_clear(&c);
                return;
        }
        free(m->text);
        plan_clear(&m->plan);
        m->text = t;
        m->plan = c;
        memo_next = (memo_next + 1) % PLAN_MEMO;
}

static const struct plan *memo_get(const char *text)
{
        for (unsigned i = 0; i < PLAN_MEMO; i++)
                if (memo[i].text && streq(memo[i].text, text))
                        return &memo[i].plan;
        return NULL;
}

/*
 * Written directly rather than through json-c values: a plan is stored
 * when its lease is created and again at each change of state, and this
 * is a tenth of the cost.  plan_from_string() reads it with json-c.
 */
static void put_u64(struct strbuf *b, const char *key, uint64_t v)
{
        strbuf_append(b, key);
        strbuf_append_u64(b, v);
}

static void step_stored(struct strbuf *b, const struct plan_step *s)
{
        strbuf_append(b, "{\"step\":\"");
        strbuf_append(b, hv_step_name(s->step));
        strbuf_append(b, "\",\"device\":");
        strbuf_append_json_string(b, s->device, strlen(s->device));
        if (plan_step_is_memory(s->step)) {
                put_u64(b, ",\"mfn\":", s->mfn);
                put_u64(b, ",\"nr\":", s->nr);
        }
        if (s->step == HV_STEP_MEMORY_MAPPING)
                put_u64(b, ",\"gfn\":", s->gfn);
        if (plan_step_is_irq(s->step))
                put_u64(b, ",\"irq\":", s->irq);
        strbuf_append(b, s->done ? ",\"done\":true" : ",\"done\":false");
        strbuf_append(b, s->undone ? ",\"undone\":true" : ",\"undone\":false");
        /* Most steps never get it, and plans stored before it existed read the same. */
        if (s->kept)
                strbuf_append(b, ",\"kept\":true");
        strbuf_append(b, "}");
}

int plan_to_string(const struct plan *p, char **ret)
{
        const char *layout = p->layout ? p->layout : "identity";
        struct strbuf b = STRBUF_INIT;

        strbuf_append(&b, "{\"layout\":");
        strbuf_append_json_string(&b, layout, strlen(layout));
        strbuf_append(&b, ",\"steps\":[");
        for (size_t i = 0; i < p->n_steps; i++) {
                if (i)
                        strbuf_append(&b, ",");
                step_stored(&b, &p->steps[i]);
        }
        strbuf_append(&b, p->hold ? "],\"hold\":true}" : "]}");
        if (strbuf_steal(&b, ret) < 0)
                return -ENOMEM;
        memo_put(*ret, p);
        return 0;
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

int plan_from_string(const char *s, struct plan *ret, char **err)
{
        _cleanup_(plan_clear) struct plan p = { 0 };
        const struct plan *known = s ? memo_get(s) : NULL;
        struct json_object *o, *a;
        int r = 0;

        if (known)
                return plan_copy(known, ret);
        o = s ? json_tokener_parse(s) : NULL;
        a = jv_get_array(o, "steps");
        if (!o || !json_object_is_type(o, json_type_object) || !a) {
                json_object_put(o);
                return set_error(err, -EUCLEAN, "the stored lease plan does not decode");
        }
        if (jv_get_str(o, "layout", NULL))
                p.layout = strdup(jv_get_str(o, "layout", NULL));
        p.hold = jv_get_bool(o, "hold", false);
        for (size_t i = 0; r >= 0 && i < json_object_array_length(a); i++) {
                struct json_object *st = json_object_array_get_idx(a, i);
                const char *name = jv_get_str(st, "step", NULL);
                const char *dev = jv_get_str(st, "device", NULL);
                uint64_t mfn, gfn, nr, irq;
                int step = name ? hv_step_from_name(name) : -EINVAL;

                if (!dev || step < 0 || step > HV_STEP_ASSIGN_DT) {
                        r = -EUCLEAN;
                        break;
                }
                if ((r = get_u64(st, "mfn", plan_step_is_memory(step), &mfn)) < 0 ||
                    (r = get_u64(st, "nr", plan_step_is_memory(step), &nr)) < 0 ||
                    (r = get_u64(st, "gfn", step == HV_STEP_MEMORY_MAPPING, &gfn)) < 0 ||
                    (r = get_u64(st, "irq", plan_step_is_irq(step), &irq)) < 0)
                        break;
                if (irq > UINT32_MAX) {
                        r = -EUCLEAN;
                        break;
                }
                r = plan_add(&p, step, dev, mfn, gfn, nr, (uint32_t)irq);
                if (r >= 0) {
                        p.steps[p.n_steps - 1].done = jv_get_bool(st, "done", false);
                        p.steps[p.n_steps - 1].undone = jv_get_bool(st, "undone", false);
                        p.steps[p.n_steps - 1].kept = jv_get_bool(st, "kept", false);
                }
        }
        json_object_put(o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_error(err, -EUCLEAN, "step %zu of the stored lease plan does not "
                                 "decode", p.n_steps);
        memo_put(s, &p);
        *ret = p;
        p = (struct plan){ 0 };
        return 0;
}

int plan_from_lease(const struct db_lease *l, struct plan *ret, char **err)
{
        _cleanup_(plan_clear) struct plan p = { 0 };
        int r = plan_from_string(l->plan, &p, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n_marks; i++) {
                const struct db_step_mark *m = &l->marks[i];

                if (m->idx >= p.n_steps)
                        return set_error(err, -EUCLEAN, "lease %" PRId64 " records step %u of a "
                                         "plan of %zu steps", l->id, m->idx, p.n_steps);
                p.steps[m->idx].done = m->done;
                p.steps[m->idx].undone = m->undone;
                p.steps[m->idx].kept = m->kept;
        }
        *ret = p;
        p = (struct plan){ 0 };
        return 0;
}

/* ---- from a layout ------------------------------------------------------- */

int plan_from_layout(const struct guestcfg_layout *l, bool claim_unprotected, struct plan *plan,
                     struct failure *f)
{
        _cleanup_free_ bool *claimed = NULL;
        _cleanup_free_ uint32_t *spis = NULL;
        _cleanup_free_ const char **spi_dev = NULL;
        size_t n_spis = 0, n_irqs = 0;

        for (size_t i = 0; i < l->n_devices; i++)
                n_irqs += l->devices[i].dev->n_irqs;
        claimed = calloc(l->n_mappings + 1, sizeof(*claimed));
        spis = calloc(n_irqs + 1, sizeof(*spis));
        spi_dev = calloc(n_irqs + 1, sizeof(*spi_dev));
        plan->layout = strdup(guestcfg_mode_to_string(l->mode));
        if (!claimed || !spis || !spi_dev || !plan->layout)
                return failure_oom(f);
        for (size_t i = 0; i < l->n_devices; i++) {
                const struct guestcfg_device *gd = &l->devices[i];
                const struct dt_device *d = gd->dev;

                for (size_t j = 0; j < gd->n_regions; j++) {
                        uint64_t first, nr;

                        if (hv_region_to_frames(gd->regions[j].host, gd->regions[j].size, &first,
                                                &nr) < 0)
                                continue;
                        for (size_t m = 0; m < l->n_mappings; m++) {
                                const struct guestcfg_mapping *mp = &l->mappings[m];

                                if (claimed[m] || mp->host_pfn + mp->nr_pages <= first ||
                                    mp->host_pfn >= first + nr)
                                        continue;
                                claimed[m] = true;
                                if (plan_add(plan, HV_STEP_IOMEM_PERMISSION, d->path,
                                             mp->host_pfn, 0, mp->nr_pages, 0) < 0 ||
                                    plan_add(plan, HV_STEP_MEMORY_MAPPING, d->path, mp->host_pfn,
                                             mp->guest_pfn, mp->nr_pages, 0) < 0)
                                        return failure_oom(f);
                        }
                }
                for (size_t j = 0; j < d->n_irqs; j++) {
                        uint32_t irq = d->irqs[j].hwirq;
                        bool seen = false;

                        if (d->irqs[j].cls != DT_IRQ_SPI)
                                continue;
                        for (size_t k = 0; k < n_spis; k++)
                                seen |= spis[k] == irq;
                        /* Devices of one group may share an SPI: it is bound once. */
                        if (seen)
                                continue;
                        spi_dev[n_spis] = d->path;
                        spis[n_spis++] = irq;
                }
                if ((d->coverage == DT_COV_PROTECTED || claim_unprotected) &&
                    plan_add(plan, HV_STEP_ASSIGN_DT, d->path, 0, 0, 0, 0) < 0)
                        return failure_oom(f);
        }
        for (size_t k = 0; k < n_spis; k++)
                if (plan_add(plan, HV_STEP_BIND_SPI, spi_dev[k], 0, 0, 0, spis[k]) < 0)
                        return failure_oom(f);
        return 0;
}
