/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The handlers of io.assignd.Simulator (see simulator.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dispatch.h"
#include "hv-explain.h"
#include "hv-sim.h"
#include "inventory.h"
#include "jv.h"
#include "params.h"
#include "recovery.h"
#include "simulator.h"
#include "watch.h"

/* InvalidArgument of this interface, naming the field; returns -EINVAL. */
_printf_(3, 4) static int invalid(struct method_call *mc, const char *field, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        method_call_vfail(mc, -EINVAL, FAILURE_SIM_INVALID_ARGUMENT, fmt, ap);
        va_end(ap);
        failure_fact(&method_call_failure(mc)->field, field);
        return -EINVAL;
}

/* The simulator's refusals, by errno and by what it said was wrong. */
static int sim_fail(struct method_call *mc, int r, int64_t domid, const char *name,
                    const char *msg)
{
        struct hv *hv = method_call_context(mc)->hv;
        struct failure *f = method_call_failure(mc);
        const char *text = msg ? msg : strerror(-r);

        if (r == -ESRCH && domid >= 0) {
                method_call_fail(mc, r, FAILURE_SIM_DOMAIN_NOT_FOUND, "%s", text);
                f->domid = domid;
        } else if (r == -EEXIST) {
                method_call_fail(mc, r, FAILURE_SIM_DOMAIN_EXISTS, "%s", text);
                failure_fact(&f->domain, name);
        } else if (hv_last_reason(hv) == HV_REASON_NO_IOMMU) {
                method_call_fail(mc, r, FAILURE_SIM_IOMMU_NOT_AVAILABLE, "%s", text);
        } else {
                method_call_fail(mc, r, FAILURE_SIM_ERROR, "%s", text);
                f->error = -r;
        }
        return r;
}

/* Check a domid parameter's range; -1 (and a failure set) if it is out of range. */
static int64_t domid_param(struct method_call *mc, struct json_object *params)
{
        int64_t d = params_int(params, "domid", -1);

        if (d < 0 || d >= HV_DOMID_IO) {
                invalid(mc, "domid", "domid %" PRId64 " is out of range", d);
                return -1;
        }
        return d;
}

/* irqs: GIC INTIDs of SPIs. */
static int xl_irqs(struct method_call *mc, struct json_object *a, uint32_t **irqs, size_t *n)
{
        *n = json_object_array_length(a);
        *irqs = calloc(*n + 1, sizeof(**irqs));
        if (!*irqs)
                return -ENOMEM;
        for (size_t i = 0; i < *n; i++) {
                int64_t v = json_object_get_int64(json_object_array_get_idx(a, i));

                if (v < 32 || v > 32 + HV_MAX_SPIS - 1)
                        return invalid(mc, "irqs", "irqs: %" PRId64 " is not an SPI INTID (32-%d)",
                                       v, 32 + HV_MAX_SPIS - 1);
                (*irqs)[i] = (uint32_t)v;
        }
        return 0;
}

/* iomem: xl's form, hex "START,NR" with an optional "@GFN". */
static int xl_iomem(struct method_call *mc, struct json_object *a, struct hv_sim_iomem **iomem,
                    size_t *n)
{
        *n = json_object_array_length(a);
        *iomem = calloc(*n + 1, sizeof(**iomem));
        if (!*iomem)
                return -ENOMEM;
        for (size_t i = 0; i < *n; i++) {
                const char *t = json_object_get_string(json_object_array_get_idx(a, i));
                struct hv_sim_iomem *m = &(*iomem)[i];
                int used = 0, k;

                k = sscanf(t, "%" SCNx64 ",%" SCNx64 "%n@%" SCNx64 "%n", &m->mfn, &m->nr, &used,
                           &m->gfn, &used);
                if (k < 2 || (k == 2 && t[used]) || (k == 3 && t[used]) || m->nr == 0)
                        return invalid(mc, "iomem", "iomem: \"%s\" is not \"MFN,NR[@GFN]\" in hex",
                                       t);
                if (k == 2)
                        m->gfn = m->mfn;
        }
        return 0;
}

/*
 * CreateDomain's xl options.  Returns 1 when any was given (the arrays are
 * malloc'd), 0 when none, or a failure.
 */
static int xl_grants(struct method_call *mc, struct json_object *params,
                     struct hv_sim_xl_grants *g, uint32_t **irqs, struct hv_sim_iomem **iomem,
                     const char ***dtdevs)
{
        struct json_object *a;
        bool any = false;
        int r;

        *g = (struct hv_sim_xl_grants){ 0 };
        if ((a = jv_get_array(params, "irqs"))) {
                r = xl_irqs(mc, a, irqs, &g->n_irqs);
                if (r < 0)
                        return r;
                g->irqs = *irqs;
                any = true;
        }
        if ((a = jv_get_array(params, "iomem"))) {
                r = xl_iomem(mc, a, iomem, &g->n_iomem);
                if (r < 0)
                        return r;
                g->iomem = *iomem;
                any = true;
        }
        if (jv_get_array(params, "dtdev")) {
                r = params_strv(params, "dtdev", dtdevs, &g->n_dtdevs);
                if (r < 0)
                        return r;
                g->dtdevs = *dtdevs;
                any = true;
        }
        return any ? 1 : 0;
}

static int create_domain(struct method_call *mc, struct json_object *params,
                         struct json_object **reply)
{
        struct hv *hv = method_call_context(mc)->hv;
        _cleanup_free_ uint32_t *irqs = NULL;
        _cleanup_free_ struct hv_sim_iomem *iomem = NULL;
        _cleanup_free_ const char **dtdevs = NULL;
        _cleanup_free_ char *err = NULL;
        struct hv_sim_xl_grants g;
        const char *name = params_string(params, "name");
        int64_t nr_spis = params_int(params, "nr_spis", -1);
        bool passthrough = params_bool(params, "passthrough") > 0;
        bool populated = params_bool(params, "populated") > 0;
        bool building = params_bool(params, "building") > 0;
        struct json_object *o;
        uint32_t domid;
        int r;

        if (nr_spis > HV_MAX_SPIS || nr_spis < -1)
                return invalid(mc, "nr_spis", "nr_spis must be 0..%d", HV_MAX_SPIS);
        r = xl_grants(mc, params, &g, &irqs, &iomem, &dtdevs);
        if (r < 0)
                return r;
        if (building && (r > 0 || populated))
                return invalid(mc, "building", "a domain still being built has no vCPU, so xl "
                               "has neither populated it nor given it devices yet");
        if (building)
                r = hv_sim_create_building_domain(hv, name, passthrough, (int)nr_spis, &domid,
                                                  &err);
        else if (r > 0)
                r = hv_sim_create_domain_xl(hv, name, passthrough, populated, (int)nr_spis, &g,
                                            &domid, &err);
        else
                r = hv_sim_create_domain(hv, name, passthrough, populated, (int)nr_spis, &domid,
                                         &err);
        if (r < 0)
                return sim_fail(mc, r, -1, name, err);
        o = json_object_new_object();
        if (jv_set_int(o, "domid", domid) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

typedef int (*sim_domid_fn)(struct hv *hv, uint32_t domid, char **err);

/*
 * Run fn on the domid parameter; when announce, settle what changed at once
 * (see below).  ReapDomain alone does not announce: Xen tells nobody.
 */
static int domid_call_as(struct method_call *mc, struct json_object *params, sim_domid_fn fn,
                         bool announce)
{
        const struct dispatch_context *ctx = method_call_context(mc);
        _cleanup_free_ char *err = NULL;
        int64_t domid = domid_param(mc, params);
        int r;

        if (domid < 0)
                return -EINVAL;
        r = fn(ctx->hv, (uint32_t)domid, &err);
        if (r < 0)
                return sim_fail(mc, r, domid, NULL, err);
        if (!announce)
                return 0;
        /*
         * The hypervisor changed: announce a death and settle the domain's
         * leases now, not when the watch's fd is next polled.
         */
        if (ctx->watch)
                watch_check(ctx->watch);
        else if (ctx->engine)
                recovery_domains_changed(ctx->engine);
        return 0;
}

static int domid_call(struct method_call *mc, struct json_object *params, sim_domid_fn fn)
{
        return domid_call_as(mc, params, fn, true);
}

static int destroy_domain(struct method_call *mc, struct json_object *params,
                          struct json_object **reply)
{
        return domid_call(mc, params, hv_sim_destroy_domain);
}

static int kill_domain(struct method_call *mc, struct json_object *params,
                       struct json_object **reply)
{
        return domid_call(mc, params, hv_sim_kill_domain);
}

static int reap_domain(struct method_call *mc, struct json_object *params,
                       struct json_object **reply)
{
        return domid_call_as(mc, params, hv_sim_reap_domain, false);
}

static int finish_building(struct method_call *mc, struct json_object *params,
                           struct json_object **reply)
{
        return domid_call(mc, params, hv_sim_finish_building);
}

static int populate_memory(struct method_call *mc, struct json_object *params,
                           struct json_object **reply)
{
        return domid_call(mc, params, hv_sim_populate_memory);
}

static int unpause_domain(struct method_call *mc, struct json_object *params,
                          struct json_object **reply)
{
        return domid_call(mc, params, hv_sim_unpause);
}

/*
 * "db_commit[:N]": from the Nth commit of the daemon's database on (the
 * first by default), commits fail with the action's errno, as on a disk
 * that filled up; "off" ends it.  The storage tests' way to fail a write
 * at a chosen step.
 */
static int set_db_failpoint(struct method_call *mc, const char *step, const char *action)
{
        struct db *db = inventory_db(method_call_context(mc)->inv);
        unsigned long nth = 1;
        char *end = NULL;
        int e = 0;

        if (step[strlen("db_commit")] == ':') {
                errno = 0;
                nth = strtoul(step + strlen("db_commit") + 1, &end, 10);
                if (errno || !end || *end || nth == 0 || nth > 1000000)
                        return invalid(mc, "step", "failpoint \"%s\": bad commit count", step);
        }
        if (streq(action, "off"))
                nth = 0;
        else if (!startswith(action, "error:") || (e = hv_errno_from_name(action + 6)) < 0)
                return invalid(mc, "action", "failpoint \"%s\": db_commit takes error:ENAME "
                               "or off", action);
        db_set_failpoint(db, (unsigned)nth, e);
        return 0;
}

static int set_failpoint(struct method_call *mc, struct json_object *params,
                         struct json_object **reply)
{
        _cleanup_free_ char *err = NULL;
        const char *step = params_string(params, "step"), *bad = NULL;
        int r;

        if (streq(step, "db_commit") || startswith(step, "db_commit:"))
                return set_db_failpoint(mc, step, params_string(params, "action"));
        r = hv_set_failpoint(method_call_context(mc)->hv, step, params_string(params, "action"),
                             &bad, &err);

        if (r < 0)
                return invalid(mc, bad ? bad : "step", "%s", err ? err : "bad failpoint");
        return 0;
}

static int get_state(struct method_call *mc, struct json_object *params,
                     struct json_object **reply)
{
        _cleanup_free_ char *err = NULL;
        struct json_object *state = NULL, *o;
        int r;

        r = hv_sim_get_state_json(method_call_context(mc)->hv, &state, &err);
        if (r < 0)
                return sim_fail(mc, r, -1, NULL, err);
        o = json_object_new_object();
        if (jv_set_obj(o, "state", state) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

static int get_counters(struct method_call *mc, struct json_object *params,
                        struct json_object **reply)
{
        const struct dispatch_context *ctx = method_call_context(mc);
        struct json_object *o = json_object_new_object();
        int r = 0;

        r |= jv_set_int(o, "db_commits", (int64_t)db_commit_count(inventory_db(ctx->inv)));
        r |= jv_set_int(o, "state_writes", (int64_t)hv_sim_state_writes(ctx->hv));
        if (r) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

static const struct method_entry simulator_methods[] = {
        { SIM_IFACE ".CreateDomain", METHOD_ROOT, create_domain },
        { SIM_IFACE ".DestroyDomain", METHOD_ROOT, destroy_domain },
        { SIM_IFACE ".ReapDomain", METHOD_ROOT, reap_domain },
        { SIM_IFACE ".KillDomain", METHOD_ROOT, kill_domain },
        { SIM_IFACE ".FinishBuilding", METHOD_ROOT, finish_building },
        { SIM_IFACE ".PopulateMemory", METHOD_ROOT, populate_memory },
        { SIM_IFACE ".UnpauseDomain", METHOD_ROOT, unpause_domain },
        { SIM_IFACE ".SetFailpoint", METHOD_ROOT, set_failpoint },
        { SIM_IFACE ".GetState", METHOD_ROOT, get_state },
        { SIM_IFACE ".GetCounters", METHOD_ROOT, get_counters },
};

int simulator_register(struct dispatch *d, struct hv *hv, char **err)
{
        int r;

        /* The simulator's control interface exists only where the simulator does. */
        if (!hv_sim_present(hv) || !vl_embedded_find(SIM_IFACE))
                return 0;
        r = dispatch_add_interface(d, SIM_IFACE, NULL, err);
        if (r < 0)
                return r;
        return dispatch_register(d, simulator_methods, ARRAY_SIZE(simulator_methods), err);
}
