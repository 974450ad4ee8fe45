/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The handlers of io.assignd.Broker (see broker.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assign.h"
#include "broker.h"
#include "build-config.h"
#include "dispatch.h"
#include "engine.h"
#include "generate.h"
#include "hazard.h"
#include "inventory.h"
#include "jv.h"
#include "limit.h"
#include "params.h"
#include "release.h"
#include "render-cache.h"
#include "render.h"
#include "reserve.h"

/* The engine, or a failure saying it is not running. */
static struct engine *need_engine(struct method_call *mc)
{
        struct engine *e = method_call_context(mc)->engine;

        if (!e || !method_call_context(mc)->inv)
                method_call_fail(mc, -ENODATA, FAILURE_INTERNAL_ERROR,
                                 "the assignment engine is not running");
        return e;
}

static struct engine_caller caller_of(struct method_call *mc)
{
        const struct server_peer *p = method_call_peer(mc);

        return (struct engine_caller){ .uid = p->uid, .pid = p->pid };
}

/* Hand back o as {key: o}, or -ENOMEM. */
static int reply_with(struct json_object **reply, const char *key, struct json_object *o)
{
        struct json_object *r = json_object_new_object();

        if (jv_set_obj(r, key, o) < 0) {
                json_object_put(r);
                return -ENOMEM;
        }
        *reply = r;
        return 0;
}

/* ---- inventory ------------------------------------------------------------------ */

/* The interface handlers render for (the Broker's). */
static const struct vl_interface *broker_iface(struct method_call *mc)
{
        return dispatch_interface(method_call_dispatch(mc), BROKER_IFACE);
}

/* GetStatus's hazard_counts, then the list when asked. */
static int status_hazards(struct method_call *mc, struct engine *e, struct json_object *o,
                          bool list)
{
        struct render_cache *cache = dispatch_render_cache(method_call_dispatch(mc));
        struct json_object *counts, *l;
        int r = 0;

        counts = render_cache_hazard_counts(cache, broker_iface(mc), e);
        if (!counts)
                return -ENOMEM;
        r |= jv_set_obj(o, "hazard_counts", counts);
        if (!list)
                return r | jv_set_null(o, "hazards");
        l = render_cache_hazards(cache, broker_iface(mc), e);
        return r | (l ? jv_set_obj(o, "hazards", l) : -ENOMEM);
}

/* GetStatus's hypervisor, lease, monitor and hazard members. */
static int status_lifecycle(struct method_call *mc, struct engine *e, struct json_object *o,
                            bool list_hazards)
{
        const struct dispatch_context *ctx = method_call_context(mc);
        size_t counts[_DB_LEASE_STATE_MAX];
        struct failure f = FAILURE_INIT;
        struct json_object *lc;
        unsigned maj, min;
        int r = 0;

        r |= jv_set_obj(o, "hypervisor_patches", render_hv_patches(ctx->hv));
        if (ctx->hv && hv_version(ctx->hv, &maj, &min, NULL) >= 0) {
                _cleanup_free_ char *v = strdup_printf("%u.%u", maj, min);

                r |= v ? jv_set_str(o, "xen_version", v) : -ENOMEM;
        } else {
                r |= jv_set_null(o, "xen_version");
        }
        if (engine_lease_counts(e, counts, &f) < 0)
                return method_call_failed(mc, -EIO, &f);
        lc = json_object_new_object();
        r |= jv_set_int(lc, "reserved", (int64_t)counts[DB_LEASE_RESERVED]);
        r |= jv_set_int(lc, "assigning", (int64_t)counts[DB_LEASE_ASSIGNING]);
        r |= jv_set_int(lc, "assigned", (int64_t)counts[DB_LEASE_ASSIGNED]);
        r |= jv_set_int(lc, "releasing", (int64_t)counts[DB_LEASE_RELEASING]);
        r |= jv_set_obj(o, "leases", lc);
        r |= jv_set_int(o, "monitors", (int64_t)events_n_subscribers(ctx->events));
        r |= status_hazards(mc, e, o, list_hazards);
        return r ? -ENOMEM : 0;
}

static int get_status(struct method_call *mc, struct json_object *params,
                      struct json_object **reply)
{
        const struct dispatch_context *ctx = method_call_context(mc);
        struct engine *e = need_engine(mc);
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        time_t now = time(NULL);
        int r = 0;

        if (!e)
                return -ENODATA;
        o = json_object_new_object();
        r |= render_cache_status_inventory(dispatch_render_cache(method_call_dispatch(mc)),
                                           broker_iface(mc), ctx->inv, ctx->dtb_path, o);
        r |= jv_set_str(o, "version", ASSIGND_VERSION);
        r |= jv_set_str(o, "backend", ctx->backend ? ctx->backend : "");
        r |= jv_set_int(o, "started_at", (int64_t)ctx->started_at);
        r |= jv_set_int(o, "uptime_seconds",
                        now > ctx->started_at ? (int64_t)(now - ctx->started_at) : 0);
        r |= jv_set_int(o, "connections",
                        ctx->server ? (int64_t)server_n_connections(ctx->server) : 0);
        if (r)
                return -ENOMEM;
        r = status_lifecycle(mc, e, o, params_bool(params, "hazards") > 0);
        if (r < 0)
                return r;
        *reply = steal_ptr(o);
        return 0;
}

/* A device as the wire shows it, with whoever holds it (kept rendered until either changes). */
static struct json_object *device_json(struct method_call *mc, struct engine *e,
                                       const struct inventory *inv, const struct dt_device *d)
{
        return render_cache_device(dispatch_render_cache(method_call_dispatch(mc)),
                                   broker_iface(mc), e, inv, d);
}

static int parse_filter(struct method_call *mc, struct json_object *params,
                        struct engine_device_filter *f)
{
        const char *s;

        *f = (struct engine_device_filter){ .coverage = -1, .dma = -1, .assignable = -1 };
        if ((s = params_string(params, "coverage")) &&
            (f->coverage = dt_coverage_from_string(s)) < 0)
                return method_call_fail_invalid(mc, "coverage", "coverage \"%s\" is not one of "
                                                "protected, iommu-unsupported, iommu-disabled, "
                                                "none", s);
        if ((s = params_string(params, "dma")) && (f->dma = dt_dma_from_string(s)) < 0)
                return method_call_fail_invalid(mc, "dma", "dma \"%s\" is not one of master, "
                                                "none, unknown", s);
        f->assignable = params_bool(params, "assignable");
        f->owner = params_string(params, "owner");
        return 0;
}

static int list_devices(struct method_call *mc, struct json_object *params,
                        struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        const struct inventory *inv = method_call_context(mc)->inv;
        _cleanup_free_ const struct dt_device **devs = NULL;
        struct engine_device_filter filter;
        struct failure f = FAILURE_INIT;
        struct json_object *list;
        size_t n = 0;
        int r = 0;

        if (!e)
                return -ENODATA;
        if (parse_filter(mc, params, &filter) < 0)
                return -EINVAL;
        /* Without a filter, the whole list as it was last rendered, while nothing changed. */
        if (filter.coverage < 0 && filter.dma < 0 && filter.assignable < 0 && !filter.owner) {
                list = render_cache_devices(dispatch_render_cache(method_call_dispatch(mc)),
                                            broker_iface(mc), e, inv);
                return list ? reply_with(reply, "devices", list) : -ENOMEM;
        }
        if (engine_list_devices(e, &filter, &devs, &n, &f) < 0)
                return method_call_failed(mc, -EIO, &f);
        list = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                r |= jv_push_obj(list, device_json(mc, e, inv, devs[i]));
        if (r) {
                json_object_put(list);
                return -ENOMEM;
        }
        return reply_with(reply, "devices", list);
}

static int device_reply(struct method_call *mc, struct engine *e, const char *path,
                        struct json_object **reply)
{
        const struct inventory *inv = method_call_context(mc)->inv;
        struct failure f = FAILURE_INIT;
        const struct dt_device *d = engine_device(e, path, &f);

        if (!d)
                return method_call_failed(mc, -ENOENT, &f);
        return reply_with(reply, "device", device_json(mc, e, inv, d));
}

static int get_device(struct method_call *mc, struct json_object *params,
                      struct json_object **reply)
{
        struct engine *e = need_engine(mc);

        if (!e)
                return -ENODATA;
        return device_reply(mc, e, params_string(params, "path"), reply);
}

static int set_device_policy(struct method_call *mc, struct json_object *params,
                             struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct engine_caller who = caller_of(mc);
        const char *path = params_string(params, "path");
        const char *dma_text = params_string(params, "dma");
        int dma = DB_POLICY_UNSET, assignable = DB_POLICY_UNSET, r;
        struct failure f = FAILURE_INIT;

        if (!e)
                return -ENODATA;
        if (!inventory_find(method_call_context(mc)->inv, path))
                return device_reply(mc, e, path, reply);
        if (dma_text && (dma = dt_dma_from_string(dma_text)) < 0)
                return method_call_fail_invalid(mc, "dma", "dma \"%s\" is not one of master, "
                                                "none, unknown", dma_text);
        r = params_bool(params, "assignable");
        if (r >= 0)
                assignable = r;
        r = engine_set_policy(e, &who, path, dma, assignable, params_string(params, "note"), &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        return device_reply(mc, e, path, reply);
}

/* ---- assignment ----------------------------------------------------------------- */

static int assign(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct engine_caller who = caller_of(mc);
        _cleanup_free_ const char **devs = NULL;
        _cleanup_(assign_result_clear) struct assign_result res = { 0 };
        struct assign_request req = { 0 };
        const char *layout = params_string(params, "layout");
        struct failure f = FAILURE_INIT;
        struct json_object *o;
        int r;

        if (!e)
                return -ENODATA;
        r = params_strv(params, "devices", &devs, &req.n_devices);
        if (r < 0)
                return r;
        req.domain = params_string(params, "domain");
        req.devices = devs;
        req.force_unprotected = params_bool(params, "force_unprotected") > 0;
        req.dry_run = params_bool(params, "dry_run") > 0;
        if (!layout || streq(layout, "identity"))
                req.layout = GUESTCFG_IDENTITY;
        else if (streq(layout, "auto"))
                req.layout = GUESTCFG_AUTO;
        else
                return method_call_fail_invalid(mc, "layout", "layout \"%s\" is not one of "
                                                "identity, auto", layout);
        r = assign_devices(e, &who, &req, &res, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        o = json_object_new_object();
        r = res.has_lease ? jv_set_obj(o, "lease", render_lease(&res.lease))
                          : jv_set_null(o, "lease");
        r |= jv_set_obj(o, "steps", render_steps(&res.plan));
        if (r) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

/* Reply {"leases": [Lease]} and free the leases. */
static int leases_reply(struct json_object **reply, struct db_lease *ls, size_t n)
{
        int r = reply_with(reply, "leases", render_leases(ls, n));

        db_lease_array_free(ls, n);
        return r;
}

static int release(struct method_call *mc, struct json_object *params,
                   struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct engine_caller who = caller_of(mc);
        _cleanup_free_ const char **devs = NULL;
        struct failure f = FAILURE_INIT;
        struct db_lease *ls = NULL;
        size_t n = 0, nl = 0;
        int r;

        if (!e)
                return -ENODATA;
        r = params_strv(params, "devices", &devs, &n);
        if (r < 0)
                return r;
        r = release_devices(e, &who, params_string(params, "domain"), devs, n, &ls, &nl, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        return leases_reply(reply, ls, nl);
}

/*
 * A page's size: limit as asked (dflt when absent), at most LIMIT_PAGE, 0
 * meaning the largest; a negative one is refused.
 */
static int page_limit(struct method_call *mc, struct json_object *params, int64_t dflt,
                      size_t *ret)
{
        int64_t limit = params_int(params, "limit", dflt);

        if (limit < 0)
                return method_call_fail_invalid(mc, "limit", "limit must not be negative");
        *ret = limit == 0 || limit > LIMIT_PAGE ? LIMIT_PAGE : (size_t)limit;
        return 0;
}

/* A cursor parameter (after, before): absent is 0, a negative one is refused. */
static int cursor(struct method_call *mc, struct json_object *params, const char *key,
                  int64_t *ret)
{
        *ret = params_int(params, key, 0);
        if (*ret < 0)
                return method_call_fail_invalid(mc, key, "%s must not be negative", key);
        return 0;
}

/* Add "next": the cursor of the following page, or null for the last one. */
static int set_next(struct json_object *o, int64_t next)
{
        return next > 0 ? jv_set_int(o, "next", next) : jv_set_null(o, "next");
}

static int list_leases(struct method_call *mc, struct json_object *params,
                       struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct failure f = FAILURE_INIT;
        struct db_lease *ls = NULL;
        int64_t after, next = 0;
        size_t n = 0, limit = LIMIT_PAGE;
        int r;

        if (!e)
                return -ENODATA;
        if (page_limit(mc, params, LIMIT_PAGE, &limit) < 0 || cursor(mc, params, "after",
                                                                      &after) < 0)
                return -EINVAL;
        r = engine_list_leases(e, params_bool(params, "all") > 0, after, limit, &ls, &n, &next,
                               &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        r = leases_reply(reply, ls, n);
        if (r >= 0 && set_next(*reply, next) < 0)
                r = -ENOMEM;
        return r;
}

static int get_audit_log(struct method_call *mc, struct json_object *params,
                         struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct failure f = FAILURE_INIT;
        struct db_audit *a = NULL;
        int64_t before, next = 0;
        size_t n = 0, limit = LIMIT_PAGE;
        int r;

        if (!e)
                return -ENODATA;
        if (page_limit(mc, params, LIMIT_AUDIT_PAGE_DEFAULT, &limit) < 0 ||
            cursor(mc, params, "before", &before) < 0)
                return -EINVAL;
        r = engine_audit_log(e, before, limit, &a, &n, &next, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        r = reply_with(reply, "entries", render_audit(a, n));
        db_audit_array_free(a, n);
        if (r >= 0 && set_next(*reply, next) < 0)
                r = -ENOMEM;
        return r;
}

static int get_device_history(struct method_call *mc, struct json_object *params,
                              struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        int64_t limit = params_int(params, "limit", 100);
        _cleanup_(engine_history_clear) struct engine_history h = { 0 };
        struct failure f = FAILURE_INIT;
        struct json_object *o;
        int r;

        if (!e)
                return -ENODATA;
        if (limit < 0)
                return method_call_fail_invalid(mc, "limit", "limit must not be negative");
        r = engine_device_history(e, params_string(params, "path"), (size_t)limit, &h, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        o = json_object_new_object();
        if (jv_set_obj(o, "leases", render_leases(h.leases, h.n_leases)) < 0 ||
            jv_set_obj(o, "entries", render_audit(h.entries, h.n_entries)) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

/* ---- guest side ------------------------------------------------------------------ */

/* layout, xen_version and force_unprotected of the guest methods. */
static int guest_common(struct method_call *mc, struct json_object *params,
                        struct generate_request *req, struct guestcfg_target *target)
{
        const char *layout = params_string(params, "layout");
        const char *xv = params_string(params, "xen_version");
        unsigned maj, min;
        char c;
        int m;

        req->layout = GUESTCFG_IDENTITY;
        if (layout) {
                m = guestcfg_mode_from_string(layout);
                if (m < 0)
                        return method_call_fail_invalid(mc, "layout", "layout \"%s\" is not one "
                                                        "of identity, relocate, auto", layout);
                req->layout = (enum guestcfg_mode)m;
        }
        if (xv) {
                if (sscanf(xv, "%u.%u%c", &maj, &min, &c) != 2)
                        return method_call_fail_invalid(mc, "xen_version", "xen_version \"%s\" "
                                                        "is not MAJOR.MINOR", xv);
                *target = (struct guestcfg_target){ maj, min };
                req->target = target;
        }
        req->force_unprotected = params_bool(params, "force_unprotected") > 0;
        return 0;
}

static int guest_call(struct method_call *mc, struct json_object *params,
                      struct json_object **reply, enum generate_what what)
{
        struct engine *e = need_engine(mc);
        _cleanup_free_ const char **devs = NULL;
        _cleanup_(generate_output_clear) struct generate_output out = { 0 };
        struct generate_request req = { 0 };
        struct guestcfg_target target;
        struct failure f = FAILURE_INIT;
        int64_t index;
        int r;

        if (!e)
                return -ENODATA;
        r = params_strv(params, "devices", &devs, &req.n_devices);
        if (r < 0)
                return r;
        req.devices = devs;
        r = guest_common(mc, params, &req, &target);
        if (r < 0)
                return r;
        req.dom0less = params_bool(params, "dom0less") > 0;
        req.name = params_string(params, "name");
        req.device_tree = params_string(params, "device_tree");
        req.dtb_file = params_string(params, "dtb_file");
        req.host_dtb_file = params_string(params, "host_dtb_file");
        /* Out of range, as any number generate_guest() refuses (it says why). */
        index = params_int(params, "index", 0);
        req.index = index < 0 || index > GENERATE_MAX_DOMU ? GENERATE_MAX_DOMU + 1u
                                                           : (unsigned)index;
        r = generate_guest(e, what, &req, &out, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        *reply = render_generated(&out);
        return *reply ? 0 : -ENOMEM;
}

static int guest_device_tree(struct method_call *mc, struct json_object *params,
                             struct json_object **reply)
{
        return guest_call(mc, params, reply, GENERATE_DTB);
}

static int xl_config(struct method_call *mc, struct json_object *params,
                     struct json_object **reply)
{
        return guest_call(mc, params, reply, GENERATE_XL);
}

static int imagebuilder_config(struct method_call *mc, struct json_object *params,
                               struct json_object **reply)
{
        return guest_call(mc, params, reply, GENERATE_IMAGEBUILDER);
}

static int reserve(struct method_call *mc, struct json_object *params,
                   struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct engine_caller who = caller_of(mc);
        _cleanup_free_ const char **devs = NULL;
        _cleanup_(reserve_result_clear) struct reserve_result res = { 0 };
        struct generate_request g = { 0 };
        struct reserve_request req = { 0 };
        struct guestcfg_target target;
        struct failure f = FAILURE_INIT;
        struct json_object *o;
        int r;

        if (!e)
                return -ENODATA;
        r = params_strv(params, "devices", &devs, &req.n_devices);
        if (r < 0)
                return r;
        r = guest_common(mc, params, &g, &target);
        if (r < 0)
                return r;
        req.domain_name = params_string(params, "domain_name");
        req.devices = devs;
        req.force_unprotected = g.force_unprotected;
        req.layout = g.layout;
        req.ttl_seconds = params_int(params, "ttl_seconds", 0);
        if (params_has(params, "ttl_seconds") && req.ttl_seconds <= 0)
                return method_call_fail_invalid(mc, "ttl_seconds", "ttl_seconds must be positive");
        req.standing = params_bool(params, "persistent") > 0;
        req.free_while_down = params_bool(params, "exclusive") == 0;
        if (req.standing && params_has(params, "ttl_seconds"))
                return method_call_fail_invalid(mc, "ttl_seconds", "a persistent reservation "
                                                "does not expire: drop ttl_seconds");
        r = reserve_devices(e, &who, &req, &res, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        o = json_object_new_object();
        r = jv_set_obj(o, "lease", render_lease(&res.lease));
        r |= jv_set_str(o, "config", res.config);
        r |= jv_set_obj(o, "notes", render_notes(res.notes));
        r |= jv_set_str(o, "device_tree", res.device_tree);
        if (res.expires_at > 0)
                r |= jv_set_int(o, "expires_at", res.expires_at);
        else
                r |= jv_set_null(o, "expires_at");
        if (r) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

static int cancel_reservation(struct method_call *mc, struct json_object *params,
                              struct json_object **reply)
{
        struct engine *e = need_engine(mc);
        struct engine_caller who = caller_of(mc);
        struct failure f = FAILURE_INIT;
        struct db_lease l = { 0 };
        int r;

        if (!e)
                return -ENODATA;
        r = reserve_cancel(e, &who, params_string(params, "domain_name"),
                           params_int(params, "lease", 0), &l, &f);
        if (r < 0)
                return method_call_failed(mc, r, &f);
        r = reply_with(reply, "lease", render_lease(&l));
        db_lease_clear(&l);
        return r;
}

static const struct method_entry broker_methods[] = {
        { BROKER_IFACE ".GetStatus", METHOD_READ, get_status },
        { BROKER_IFACE ".ListDevices", METHOD_READ, list_devices },
        { BROKER_IFACE ".GetDevice", METHOD_READ, get_device },
        { BROKER_IFACE ".SetDevicePolicy", METHOD_WRITE, set_device_policy },
        { BROKER_IFACE ".Assign", METHOD_WRITE, assign },
        { BROKER_IFACE ".Release", METHOD_WRITE, release },
        { BROKER_IFACE ".ListLeases", METHOD_READ, list_leases },
        { BROKER_IFACE ".GetAuditLog", METHOD_READ, get_audit_log },
        { BROKER_IFACE ".GetDeviceHistory", METHOD_READ, get_device_history },
        { BROKER_IFACE ".GuestDeviceTree", METHOD_READ, guest_device_tree },
        { BROKER_IFACE ".XlConfig", METHOD_READ, xl_config },
        { BROKER_IFACE ".ImageBuilderConfig", METHOD_READ, imagebuilder_config },
        { BROKER_IFACE ".Reserve", METHOD_WRITE, reserve },
        { BROKER_IFACE ".CancelReservation", METHOD_WRITE, cancel_reservation },
};

int broker_register(struct dispatch *d, char **err)
{
        return dispatch_register(d, broker_methods, ARRAY_SIZE(broker_methods), err);
}
