/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dispatch table and the one path every Varlink call takes (see
 * dispatch.h): lookup, permission check (the flags live in the table, the
 * check in one function, refusals are org.varlink.service.PermissionDenied),
 * "more" rules, validation of the parameters
 * against the embedded .varlink definitions before any handler runs, and
 * validation of every error against its declaration (a mismatch is a bug
 * and becomes InternalError instead of a malformed answer).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "denial.h"
#include "dispatch-private.h"
#include "errors.h"
#include "log.h"

/* ---- tables ---------------------------------------------------------------- */

const struct vl_interface *dispatch_interface(const struct dispatch *d, const char *name)
{
        for (size_t i = 0; i < d->n_ifaces; i++)
                if (streq(vl_interface_name(d->ifaces[i]), name))
                        return d->ifaces[i];
        return NULL;
}

size_t dispatch_n_interfaces(const struct dispatch *d)
{
        return d->n_ifaces;
}

const struct vl_interface *dispatch_interface_at(const struct dispatch *d, size_t i)
{
        return i < d->n_ifaces ? d->ifaces[i] : NULL;
}

static const struct registered *find_reg(const struct dispatch *d, const char *qualified)
{
        uintptr_t i = (uintptr_t)strmap_get(&d->by_method, qualified);

        return i ? &d->regs[i - 1] : NULL;
}

struct render_cache *dispatch_render_cache(struct dispatch *d)
{
        return d->cache;
}

int dispatch_add_interface(struct dispatch *d, const char *name, const char *text, char **err)
{
        struct vl_interface *iface = NULL;
        int r;

        if (dispatch_interface(d, name))
                return set_error(err, -EEXIST, "interface %s is served already", name);
        if (!text)
                text = vl_embedded_find(name);
        if (!text)
                return set_error(err, -ENOENT, "interface %s is not built in", name);
        r = vl_interface_parse(text, &iface, err);
        if (r < 0)
                return r;
        if (!streq(vl_interface_name(iface), name)) {
                r = set_error(err, -EINVAL, "the text defines %s, not %s",
                              vl_interface_name(iface), name);
                vl_interface_free(iface);
                return r;
        }
        if (GROW(d->ifaces, d->cap_ifaces, d->n_ifaces) < 0) {
                vl_interface_free(iface);
                return -ENOMEM;
        }
        d->ifaces[d->n_ifaces++] = iface;
        return 0;
}

/* Check one entry of a table before anything of it is registered. */
static int check_entry(const struct dispatch *d, const struct method_entry *entries, size_t i,
                       char **err)
{
        const struct method_entry *e = &entries[i];
        _cleanup_free_ char *iname = NULL;
        const char *short_name;
        const struct vl_interface *iface;

        if (!e->handler || vl_split_method(e->name, &iname, &short_name) < 0)
                return set_error(err, -EINVAL, "bad table entry \"%s\"",
                                 e->name ? e->name : "(null)");
        if (!(e->flags & (METHOD_PUBLIC | METHOD_READ | METHOD_WATCH | METHOD_WRITE | METHOD_ROOT)))
                return set_error(err, -EINVAL, "%s has no permission flag", e->name);
        iface = dispatch_interface(d, iname);
        if (!iface || !vl_interface_method(iface, short_name))
                return set_error(err, -ENOENT, "%s is not declared by a served interface",
                                 e->name);
        if (find_reg(d, e->name))
                return set_error(err, -EEXIST, "%s is registered twice", e->name);
        for (size_t j = 0; j < i; j++)
                if (streq(entries[j].name, e->name))
                        return set_error(err, -EEXIST, "%s is registered twice", e->name);
        return 0;
}

int dispatch_register(struct dispatch *d, const struct method_entry *entries, size_t n,
                      char **err)
{
        int r;

        /* Check the whole table first so a bad entry leaves nothing half-registered. */
        for (size_t i = 0; i < n; i++)
                if ((r = check_entry(d, entries, i, err)) < 0)
                        return r;
        for (size_t i = 0; i < n; i++) {
                const struct method_entry *e = &entries[i];
                _cleanup_free_ char *iname = NULL;
                const char *short_name;
                const struct vl_interface *iface;

                if (vl_split_method(e->name, &iname, &short_name) < 0)
                        return -ENOMEM;
                iface = dispatch_interface(d, iname);
                if (GROW(d->regs, d->cap_regs, d->n_regs) < 0)
                        return -ENOMEM;
                d->regs[d->n_regs++] = (struct registered){
                        .entry = e,
                        .iface = iface,
                        .method = vl_interface_method(iface, short_name),
                };
                /* The index, not a pointer: regs may move as it grows. */
                if (strmap_put(&d->by_method, e->name, (void *)(uintptr_t)d->n_regs) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- logging and sending --------------------------------------------------- */

static double elapsed_ms(const struct timespec *t0)
{
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void dispatch_log_line(const char *method, uid_t uid, pid_t pid, const struct timespec *t0,
                       int level, const char *outcome, const char *detail)
{
        log_msg(level, "call %s uid=%u pid=%d: %s%s%s (%.2f ms)", method, (unsigned)uid, (int)pid,
                outcome, detail ? ": " : "", detail ? detail : "", elapsed_ms(t0));
}

void dispatch_log_outcome(struct server_call *call, const struct timespec *t0, int level,
                          const char *outcome, const char *detail)
{
        const struct server_peer *p = server_call_peer(call);

        dispatch_log_line(server_call_request(call)->method, p->uid, p->pid, t0, level, outcome,
                          detail);
}

void dispatch_send_error(struct dispatch *d, struct server_call *call, const struct timespec *t0,
                         const char *error, struct json_object *params, int level)
{
        _cleanup_free_ char *iname = NULL;
        _cleanup_free_ char *bad = NULL;
        _cleanup_free_ char *msg = NULL;
        const char *short_name;
        const struct vl_interface *iface = NULL;
        struct json_object *v;
        int r = -ENOENT;

        /* The sentence goes to the log even where the wire has no room for it. */
        if (json_object_object_get_ex(params, "message", &v) && v)
                msg = strdup(json_object_get_string(v));
        if (params && vl_split_method(error, &iname, &short_name) >= 0)
                iface = dispatch_interface(d, iname);
        if (iface) {
                r = vl_validate_error(iface, short_name, params, &bad);
                /* org.varlink.service's errors (PermissionDenied) declare no message. */
                if (r == -EINVAL && streq(bad, "message")) {
                        json_object_object_del(params, "message");
                        free(bad);
                        bad = NULL;
                        r = vl_validate_error(iface, short_name, params, &bad);
                }
        }

        if (r < 0) {
                _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();

                dispatch_log_outcome(call, t0, LOG_ERR, "bug: undeclared or malformed error",
                                     error);
                json_object_object_add(p, "message",
                                       json_object_new_string("the daemon produced a malformed "
                                                              "error reply; see its log"));
                server_call_error(call, errors_name(FAILURE_INTERNAL_ERROR), p);
                return;
        }
        dispatch_log_outcome(call, t0, level, error, msg);
        server_call_error(call, error, params);
}

/* Build {key: value} (key NULL: no parameters) and send it as error. */
static void send_service_error(struct dispatch *d, struct server_call *call,
                               const struct timespec *t0, const char *error, const char *key,
                               const char *value, int level)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();

        if (p && key)
                json_object_object_add(p, key, json_object_new_string(value ? value : ""));
        dispatch_send_error(d, call, t0, error, p, level);
}

/* A failure before any handler ran (out of memory, permission). */
static void send_failure(struct dispatch *d, struct server_call *call, const struct timespec *t0,
                         struct failure *f)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = errors_params(f);

        dispatch_send_error(d, call, t0, errors_name(f->code), p, errors_log_level(f->code));
        failure_clear(f);
}

/* ---- dispatch -------------------------------------------------------------- */

/* Whether peer holds right through one of its groups or its uid. */
static bool granted(const struct dispatch_grant *g, const struct server_peer *peer)
{
        for (size_t i = 0; i < g->n_uids; i++)
                if (g->uids[i] == peer->uid)
                        return true;
        for (size_t i = 0; i < g->n_gids; i++)
                if (server_peer_in_group(peer, g->gids[i]))
                        return true;
        return false;
}

/*
 * The only place that decides who may call what: root may do everything,
 * METHOD_ROOT is root's alone, and otherwise the method's right, or any
 * right above it, must have been granted (dispatch_context.grants).
 */
static bool permitted(const struct dispatch *d, unsigned flags, const struct server_peer *peer)
{
        enum dispatch_right need;

        if (flags & METHOD_PUBLIC)
                return true;
        if (peer->uid == 0)
                return true;
        if (flags & METHOD_ROOT)
                return false;
        if (flags & METHOD_WRITE)
                need = DISPATCH_WRITE;
        else if (flags & METHOD_WATCH)
                need = DISPATCH_WATCH;
        else if (flags & METHOD_READ)
                need = DISPATCH_READ;
        else
                return false;
        for (size_t r = need; r < _DISPATCH_RIGHT_MAX; r++)
                if (granted(&d->ctx.grants[r], peer))
                        return true;
        return false;
}

static void refuse(struct dispatch *d, struct server_call *call, const struct timespec *t0,
                   const struct registered *reg, const char *short_name)
{
        const struct server_peer *peer = server_call_peer(call);
        const char *method = server_call_request(call)->method;
        unsigned flags = reg->entry->flags;
        struct log_fields lf = LOG_FIELDS_INIT;
        struct failure f = FAILURE_INIT;

        failure_set(&f, -EPERM, FAILURE_PERMISSION_DENIED, "uid %u may not call %s: %s",
                    (unsigned)peer->uid, short_name,
                    (flags & METHOD_ROOT) ? "it is reserved to root"
                    : (flags & METHOD_WRITE) ? "it changes state, which the configuration lets "
                                               "only root and the write groups and users do"
                    : (flags & METHOD_WATCH) ? "the configuration lets only root and the watch "
                                               "and write groups and users watch"
                                             : "the configuration lets only root and the read, "
                                               "watch and write groups and users read");
        log_fields_add_int(&lf, LOG_FIELD_UID, peer->uid);
        log_event(LOG_NOTICE, LOG_MESSAGE_PERMISSION_DENIED, &lf,
                  "permission denied: uid %u pid %d may not call %s", (unsigned)peer->uid,
                  (int)peer->pid, method);
        if (d->ctx.engine)
                engine_audit_denial(d->ctx.engine,
                                    &(struct engine_caller){ .uid = peer->uid, .pid = peer->pid },
                                    method, f.message);
        send_failure(d, call, t0, &f);
}

static void on_call_disconnect(struct server_call *call, void *userdata)
{
        struct method_call *mc = userdata;
        struct timespec t0 = mc->t0;

        dispatch_log_outcome(call, &t0, LOG_DEBUG, "peer disconnected", NULL);
        if (mc->on_disconnect)
                mc->on_disconnect(mc, mc->disconnect_userdata);
        method_call_free(mc);
}

/* The lookup and the checks before the handler: its registration, or NULL (answered). */
static const struct registered *admit(struct dispatch *d, struct server_call *call,
                                      const struct timespec *t0)
{
        const struct vl_request *req = server_call_request(call);
        _cleanup_free_ char *iname = NULL;
        _cleanup_free_ char *bad = NULL;
        const char *short_name;
        const struct vl_interface *iface;
        const struct registered *reg;
        struct failure f = FAILURE_INIT;

        /* The common case, a method served here, is one lookup. */
        reg = find_reg(d, req->method);
        if (reg) {
                iface = reg->iface;
                short_name = vl_method_name(reg->method);
                goto found;
        }
        if (vl_split_method(req->method, &iname, &short_name) < 0) {
                /* vl_request_parse guarantees the form; only allocation can fail here. */
                failure_oom(&f);
                send_failure(d, call, t0, &f);
                return NULL;
        }
        iface = dispatch_interface(d, iname);
        if (!iface) {
                send_service_error(d, call, t0, VL_ERR_INTERFACE_NOT_FOUND, "interface", iname,
                                   LOG_INFO);
                return NULL;
        }
        if (!vl_interface_method(iface, short_name)) {
                send_service_error(d, call, t0, VL_ERR_METHOD_NOT_FOUND, "method", req->method,
                                   LOG_INFO);
                return NULL;
        }
        send_service_error(d, call, t0, VL_ERR_METHOD_NOT_IMPLEMENTED, "method", req->method,
                           LOG_WARNING);
        return NULL;
found:
        if (!permitted(d, reg->entry->flags, server_call_peer(call))) {
                refuse(d, call, t0, reg, short_name);
                return NULL;
        }
        /*
         * A single-reply method called with "more" simply answers once, as
         * sd-varlink does: its one reply is final (varlinkctl --more and
         * --collect call any method so).
         */
        if ((reg->entry->flags & METHOD_STREAM) && !req->more) {
                send_service_error(d, call, t0, VL_ERR_EXPECTED_MORE, NULL, NULL, LOG_INFO);
                return NULL;
        }
        if (req->upgrade) {
                /* No method here hands the connection over to another protocol. */
                send_service_error(d, call, t0, VL_ERR_INVALID_PARAMETER, "parameter", "upgrade",
                                   LOG_INFO);
                return NULL;
        }
        if (vl_validate_input(iface, reg->method, req->parameters, &bad) < 0) {
                send_service_error(d, call, t0, VL_ERR_INVALID_PARAMETER, "parameter",
                                   bad ? bad : "", LOG_INFO);
                return NULL;
        }
        return reg;
}

void dispatch_call(struct server_call *call, void *userdata)
{
        struct dispatch *d = userdata;
        _cleanup_(vl_json_unrefp) struct json_object *reply = NULL;
        const struct registered *reg;
        struct method_call *mc;
        struct timespec t0;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        reg = admit(d, call, &t0);
        if (!reg)
                return;
        mc = method_call_new(d, call, reg, &t0);
        if (!mc) {
                struct failure f = FAILURE_INIT;

                failure_oom(&f);
                send_failure(d, call, &t0, &f);
                return;
        }
        r = reg->entry->handler(mc, server_call_request(call)->parameters, &reply);
        if (r == METHOD_DEFERRED) {
                server_call_set_data(call, mc);
                server_call_on_disconnect(call, on_call_disconnect, mc);
                return;
        }
        method_call_answer(mc, r, reply);
        method_call_free(mc);
}

/* ---- lifetime -------------------------------------------------------------- */

void dispatch_free(struct dispatch *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n_ifaces; i++)
                vl_interface_free(d->ifaces[i]);
        free(d->ifaces);
        free(d->regs);
        strmap_clear(&d->by_method);
        render_cache_free(d->cache);
        free(d);
}

void dispatch_set_context(struct dispatch *d, const struct dispatch_context *ctx)
{
        d->ctx = *ctx;
}

int dispatch_new(const struct dispatch_context *ctx, struct dispatch **ret, char **err)
{
        _cleanup_(dispatch_freep) struct dispatch *d = NULL;
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->ctx = *ctx;
        r = render_cache_new(&d->cache);
        if (r < 0)
                return r;

        /*
         * Every embedded definition must parse, served or not: one that does
         * not is a build bug, and start-up is the place to find it.
         */
        for (size_t i = 0; i < vl_n_embedded_interfaces; i++) {
                struct vl_interface *iface = NULL;
                _cleanup_free_ char *perr = NULL;

                r = vl_interface_parse(vl_embedded_interfaces[i].text, &iface, &perr);
                if (r < 0)
                        return set_error(err, r, "built-in interface %s: %s",
                                         vl_embedded_interfaces[i].name, perr ? perr : "?");
                vl_interface_free(iface);
        }
        r = dispatch_add_interface(d, SERVICE_IFACE, NULL, err);
        if (r >= 0)
                r = dispatch_add_interface(d, BROKER_IFACE, NULL, err);
        if (r < 0)
                return r;
        *ret = steal_ptr(d);
        return 0;
}
