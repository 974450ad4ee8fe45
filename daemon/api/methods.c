/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dispatch table and the one path every Varlink call takes: lookup,
 * permission check (the flags live in the table, the check in one
 * function), "more" rules, validation of the parameters against the
 * embedded .varlink definitions before any handler runs, validation of
 * every reply and error against the declared types (a mismatch is a bug
 * and becomes InternalError instead of a malformed answer), the errno to
 * error-name table, and exactly one log line per call.
 *
 * Also the handlers of org.varlink.service and of the read/policy part of
 * io.assignd.Broker; issue 3's methods register themselves through
 * methods_register().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "broker.h"
#include "events.h"
#include "hazard.h"
#include "hv-sim.h"
#include "hv.h"
#include "inventory.h"
#include "log.h"
#include "methods.h"
#include "varlink.h"
#include "watch.h"

#define BROKER_IFACE "io.assignd.Broker"
#define SIM_IFACE "io.assignd.Simulator"
#define SERVICE_IFACE "org.varlink.service"

/* Varlink's GetInfo wants a URL; the manual page is the documentation we ship. */
#define METHODS_URL "man:assignd(8)"

struct registered {
        const struct method_entry *entry;
        const struct vl_interface *iface;
        const struct vl_method *method;
};

struct methods {
        struct methods_context ctx;
        struct vl_interface **ifaces;
        size_t n_ifaces, cap_ifaces;
        struct registered *regs;
        size_t n_regs, cap_regs;
};

struct method_call {
        struct methods *m;
        struct server_call *call;
        const struct registered *reg;
        struct timespec t0;
        /* Copies for the log line: a final reply frees the server's call. */
        uid_t uid;
        pid_t pid;
        bool finished;
        /* Details of a failure, filled by method_call_fail(). */
        char *err_name;
        char *err_message;
        char *err_key;
        char *err_value;
        struct json_object *err_params; /* more error parameters (broker errors) */
        void (*on_disconnect)(struct method_call *mc, void *userdata);
        void *disconnect_userdata;
};

/*
 * Expected outcomes, by errno, to error names.  A name is looked up in the
 * method's own interface first, then in io.assignd.Broker; an errno not
 * listed (or a name neither declares) is io.assignd.Broker.InternalError.
 */
static const struct {
        int r;
        const char *name;
} errno_table[] = {
        { -ENOENT, "DeviceNotFound" },
        { -EINVAL, "InvalidArgument" },
        { -EPERM, "PermissionDenied" },
        { -EACCES, "PermissionDenied" },
        { -EBUSY, "DeviceBusy" },
        { -ESRCH, "DomainNotFound" },
};

/* ---- tables ---------------------------------------------------------------- */

static const struct vl_interface *find_iface(const struct methods *m, const char *name)
{
        for (size_t i = 0; i < m->n_ifaces; i++)
                if (streq(vl_interface_name(m->ifaces[i]), name))
                        return m->ifaces[i];
        return NULL;
}

static const struct registered *find_reg(const struct methods *m, const char *qualified)
{
        for (size_t i = 0; i < m->n_regs; i++)
                if (streq(m->regs[i].entry->name, qualified))
                        return &m->regs[i];
        return NULL;
}

bool methods_has_interface(const struct methods *m, const char *name)
{
        return find_iface(m, name) != NULL;
}

int methods_add_interface(struct methods *m, const char *name, const char *text, char **err)
{
        struct vl_interface *iface = NULL;
        int r;

        if (find_iface(m, name))
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
        if (GROW(m->ifaces, m->cap_ifaces, m->n_ifaces) < 0) {
                vl_interface_free(iface);
                return -ENOMEM;
        }
        m->ifaces[m->n_ifaces++] = iface;
        return 0;
}

int methods_register(struct methods *m, const struct method_entry *entries, size_t n,
                     char **err)
{
        bool sim = hv_sim_present(m->ctx.hv);

        /* Check the whole table first so a bad entry leaves nothing half-registered. */
        for (size_t i = 0; i < n; i++) {
                const struct method_entry *e = &entries[i];
                _cleanup_free_ char *iname = NULL;
                const char *short_name;
                const struct vl_interface *iface;

                if (!e->handler || vl_split_method(e->name, &iname, &short_name) < 0)
                        return set_error(err, -EINVAL, "bad table entry \"%s\"",
                                         e->name ? e->name : "(null)");
                if ((e->flags & METHOD_SIM) && !sim)
                        continue;
                if (!(e->flags & (METHOD_PUBLIC | METHOD_READ | METHOD_WRITE | METHOD_ROOT)))
                        return set_error(err, -EINVAL, "%s has no permission flag", e->name);
                iface = find_iface(m, iname);
                if (!iface || !vl_interface_method(iface, short_name))
                        return set_error(err, -ENOENT, "%s is not declared by a served interface",
                                         e->name);
                if (find_reg(m, e->name))
                        return set_error(err, -EEXIST, "%s is registered twice", e->name);
                for (size_t j = 0; j < i; j++)
                        if (streq(entries[j].name, e->name))
                                return set_error(err, -EEXIST, "%s is registered twice",
                                                 e->name);
        }

        for (size_t i = 0; i < n; i++) {
                const struct method_entry *e = &entries[i];
                _cleanup_free_ char *iname = NULL;
                const char *short_name;
                const struct vl_interface *iface;

                if ((e->flags & METHOD_SIM) && !sim)
                        continue;
                if (vl_split_method(e->name, &iname, &short_name) < 0)
                        return -ENOMEM;
                iface = find_iface(m, iname);
                if (GROW(m->regs, m->cap_regs, m->n_regs) < 0)
                        return -ENOMEM;
                m->regs[m->n_regs++] = (struct registered){
                        .entry = e,
                        .iface = iface,
                        .method = vl_interface_method(iface, short_name),
                };
        }
        return 0;
}

const char *methods_error_name(const struct methods *m, const char *iface_name, int r)
{
        static char buf[256];
        const struct vl_interface *iface = find_iface(m, iface_name);
        const struct vl_interface *broker = find_iface(m, BROKER_IFACE);

        for (size_t i = 0; i < ARRAY_SIZE(errno_table); i++) {
                if (errno_table[i].r != r)
                        continue;
                if (iface && vl_interface_has_error(iface, errno_table[i].name)) {
                        snprintf(buf, sizeof(buf), "%s.%s", iface_name, errno_table[i].name);
                        return buf;
                }
                if (broker && vl_interface_has_error(broker, errno_table[i].name)) {
                        snprintf(buf, sizeof(buf), "%s.%s", BROKER_IFACE, errno_table[i].name);
                        return buf;
                }
        }
        return BROKER_IFACE ".InternalError";
}

/* ---- logging and sending --------------------------------------------------- */

static double elapsed_ms(const struct timespec *t0)
{
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void log_line(const char *method, uid_t uid, pid_t pid, const struct timespec *t0,
                     int level, const char *outcome, const char *detail)
{
        log_msg(level, "call %s uid=%u pid=%d: %s%s%s (%.2f ms)", method, (unsigned)uid, (int)pid,
                outcome, detail ? ": " : "", detail ? detail : "", elapsed_ms(t0));
}

/* The one line per call (call must still be alive). */
static void log_outcome(struct server_call *call, const struct timespec *t0, int level,
                        const char *outcome, const char *detail)
{
        const struct server_peer *p = server_call_peer(call);

        log_line(server_call_request(call)->method, p->uid, p->pid, t0, level, outcome, detail);
}

/*
 * Send an error whose parameters are checked against the declaration of
 * the error in its interface; "message" is dropped for errors that do not
 * declare it (org.varlink.service's).  If the error is not declared or
 * the parameters do not fit, that is a bug: InternalError goes out instead.
 */
static void send_error(struct methods *m, struct server_call *call, const struct timespec *t0,
                       const char *error, struct json_object *params, int level)
{
        _cleanup_free_ char *iname = NULL;
        _cleanup_free_ char *bad = NULL;
        const char *short_name;
        const struct vl_interface *iface = NULL;
        const char *msg = NULL;
        struct json_object *v;
        int r = -ENOENT;

        if (params && vl_split_method(error, &iname, &short_name) >= 0)
                iface = find_iface(m, iname);
        if (iface) {
                r = vl_validate_error(iface, short_name, params, &bad);
                if (r == -EINVAL && streq(bad, "message")) {
                        json_object_object_del(params, "message");
                        free(bad);
                        bad = NULL;
                        r = vl_validate_error(iface, short_name, params, &bad);
                }
        }
        if (json_object_object_get_ex(params, "message", &v))
                msg = json_object_get_string(v);

        if (r < 0) {
                _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();

                log_outcome(call, t0, LOG_ERR, "bug: undeclared or malformed error", error);
                json_object_object_add(p, "message",
                                       json_object_new_string("the daemon produced a malformed "
                                                              "error reply; see its log"));
                server_call_error(call, BROKER_IFACE ".InternalError", p);
                return;
        }
        log_outcome(call, t0, level, error, msg);
        server_call_error(call, error, params);
}

/* Build {key: value} (value may be NULL: no parameters) and send it as error. */
static void send_std_error(struct methods *m, struct server_call *call, const struct timespec *t0,
                           const char *error, const char *key, const char *value, int level)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();

        if (p && key && value)
                json_object_object_add(p, key, json_object_new_string(value));
        send_error(m, call, t0, error, p, level);
}

static void mc_free(struct method_call *mc)
{
        if (!mc)
                return;
        free(mc->err_name);
        free(mc->err_message);
        free(mc->err_key);
        free(mc->err_value);
        json_object_put(mc->err_params);
        free(mc);
}

static const char *mc_iface_name(const struct method_call *mc)
{
        return vl_interface_name(mc->reg->iface);
}

static void mc_send_failure(struct method_call *mc, int r)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();
        _cleanup_free_ char *qualified = NULL;
        const char *name;
        int level = LOG_INFO;

        if (mc->err_name)
                name = strchr(mc->err_name, '.')
                               ? mc->err_name
                               : (qualified = strdup_printf("%s.%s", mc_iface_name(mc),
                                                            mc->err_name));
        else
                name = methods_error_name(mc->m, mc_iface_name(mc), r);
        if (!name)
                name = BROKER_IFACE ".InternalError";

        if (strstr(name, ".InternalError")) {
                level = LOG_ERR;
        } else if (strstr(name, "PermissionDenied")) {
                level = LOG_NOTICE;
        }

        if (p) {
                json_object_object_add(p, "message",
                                       json_object_new_string(mc->err_message
                                                                      ? mc->err_message
                                                                      : strerror(r < 0 ? -r : r)));
                if (mc->err_key && mc->err_value)
                        json_object_object_add(p, mc->err_key,
                                               json_object_new_string(mc->err_value));
                if (mc->err_params) {
                        json_object_object_foreach(mc->err_params, k, v)
                                json_object_object_add(p, k, json_object_get(v));
                }
                if (strstr(name, "PermissionDenied") &&
                    !json_object_object_get_ex(p, "method", NULL))
                        json_object_object_add(
                                p, "method",
                                json_object_new_string(server_call_request(mc->call)->method));
        }
        send_error(mc->m, mc->call, &mc->t0, name, p, level);
}

/* Validate a reply against the method's output type, then send it. */
static int mc_send_reply(struct method_call *mc, struct json_object *reply, bool continues)
{
        _cleanup_free_ char *bad = NULL;
        int r;

        r = vl_validate_output(mc->reg->iface, mc->reg->method, reply, &bad);
        if (r < 0) {
                _cleanup_free_ char *detail = strdup_printf("reply field \"%s\" does not match "
                                                            "the interface",
                                                            bad ? bad : "?");

                free(mc->err_message);
                mc->err_message = strdup("the daemon produced a malformed reply; see its log");
                free(mc->err_name);
                mc->err_name = strdup(BROKER_IFACE ".InternalError");
                log_outcome(mc->call, &mc->t0, LOG_ERR, "bug", detail);
                mc_send_failure(mc, -EPROTO);
                return -EPROTO;
        }
        {
                /* A final reply frees the server's call: keep the method name for the log. */
                _cleanup_free_ char *method = strdup(server_call_request(mc->call)->method);

                r = server_call_reply(mc->call, reply, continues);
                if (r == -EMSGSIZE)
                        log_line(method, mc->uid, mc->pid, &mc->t0, LOG_ERR,
                                 "reply too large, sent InternalError", NULL);
                else if (!continues)
                        log_line(method, mc->uid, mc->pid, &mc->t0,
                                 (mc->reg->entry->flags & METHOD_WRITE) ? LOG_INFO : LOG_DEBUG,
                                 r == -ECONNRESET ? "ok, but the peer is gone" : "ok", NULL);
        }
        return r;
}

/* ---- dispatch -------------------------------------------------------------- */

/* The only place that decides who may call what. */
static bool permitted(const struct methods *m, unsigned flags, const struct server_peer *peer)
{
        bool in_group;

        if (flags & METHOD_PUBLIC)
                return true;
        if (peer->uid == 0)
                return true;
        if (flags & METHOD_ROOT)
                return false;
        in_group = m->ctx.access_gid != (gid_t)-1 && server_peer_in_group(peer, m->ctx.access_gid);
        if (flags & METHOD_WRITE)
                return in_group && m->ctx.group_may_write;
        if (flags & METHOD_READ)
                return in_group;
        return false;
}

static void on_call_disconnect(struct server_call *call, void *userdata)
{
        struct method_call *mc = userdata;
        struct timespec t0 = mc->t0;

        log_outcome(call, &t0, LOG_DEBUG, "peer disconnected", NULL);
        if (mc->on_disconnect)
                mc->on_disconnect(mc, mc->disconnect_userdata);
        mc_free(mc);
}

void methods_dispatch(struct server_call *call, void *userdata)
{
        struct methods *m = userdata;
        const struct vl_request *req = server_call_request(call);
        const struct server_peer *peer = server_call_peer(call);
        _cleanup_free_ char *iname = NULL;
        _cleanup_free_ char *bad = NULL;
        _cleanup_(vl_json_unrefp) struct json_object *reply = NULL;
        const char *short_name;
        const struct vl_interface *iface;
        const struct registered *reg;
        struct method_call *mc;
        struct timespec t0;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &t0);

        if (vl_split_method(req->method, &iname, &short_name) < 0) {
                /* vl_request_parse guarantees the form; only allocation can fail here. */
                send_std_error(m, call, &t0, BROKER_IFACE ".InternalError", "message",
                               "out of memory", LOG_ERR);
                return;
        }
        iface = find_iface(m, iname);
        if (!iface) {
                send_std_error(m, call, &t0, VL_ERR_INTERFACE_NOT_FOUND, "interface", iname,
                               LOG_INFO);
                return;
        }
        if (!vl_interface_method(iface, short_name)) {
                send_std_error(m, call, &t0, VL_ERR_METHOD_NOT_FOUND, "method", req->method,
                               LOG_INFO);
                return;
        }
        reg = find_reg(m, req->method);
        if (!reg) {
                send_std_error(m, call, &t0, VL_ERR_METHOD_NOT_IMPLEMENTED, "method", req->method,
                               LOG_WARNING);
                return;
        }
        if (!permitted(m, reg->entry->flags, peer)) {
                _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();
                _cleanup_free_ char *msg = strdup_printf(
                        "uid %u may not call %s%s", (unsigned)peer->uid, short_name,
                        (reg->entry->flags & (METHOD_WRITE | METHOD_ROOT))
                                ? ": it changes state and is reserved to root"
                                : ": only root and members of the access group may");

                json_object_object_add(p, "message", json_object_new_string(msg ? msg : ""));
                json_object_object_add(p, "method", json_object_new_string(req->method));
                send_error(m, call, &t0, BROKER_IFACE ".PermissionDenied", p, LOG_NOTICE);
                return;
        }
        if ((reg->entry->flags & METHOD_STREAM) && !req->more) {
                send_std_error(m, call, &t0, VL_ERR_EXPECTED_MORE, NULL, NULL, LOG_INFO);
                return;
        }
        if (!(reg->entry->flags & METHOD_STREAM) && req->more) {
                /* There is no standard error for this; the flag is what is invalid. */
                send_std_error(m, call, &t0, VL_ERR_INVALID_PARAMETER, "parameter", "more",
                               LOG_INFO);
                return;
        }
        if (req->upgrade) {
                /* No method here hands the connection over to another protocol. */
                send_std_error(m, call, &t0, VL_ERR_INVALID_PARAMETER, "parameter", "upgrade",
                               LOG_INFO);
                return;
        }
        r = vl_validate_input(iface, reg->method, req->parameters, &bad);
        if (r < 0) {
                send_std_error(m, call, &t0, VL_ERR_INVALID_PARAMETER, "parameter",
                               bad ? bad : "", LOG_INFO);
                return;
        }

        mc = calloc(1, sizeof(*mc));
        if (!mc) {
                send_std_error(m, call, &t0, BROKER_IFACE ".InternalError", "message",
                               "out of memory", LOG_ERR);
                return;
        }
        mc->m = m;
        mc->call = call;
        mc->reg = reg;
        mc->t0 = t0;
        mc->uid = peer->uid;
        mc->pid = peer->pid;

        r = reg->entry->handler(mc, req->parameters, &reply);
        if (r == METHOD_DEFERRED) {
                server_call_set_data(call, mc);
                server_call_on_disconnect(call, on_call_disconnect, mc);
                return;
        }
        if (r < 0)
                mc_send_failure(mc, r);
        else
                mc_send_reply(mc, reply, false);
        mc_free(mc);
}

/* ---- handler helpers ------------------------------------------------------- */

const struct methods_context *method_call_context(const struct method_call *mc)
{
        return &mc->m->ctx;
}

const struct server_peer *method_call_peer(const struct method_call *mc)
{
        return server_call_peer(mc->call);
}

const char *method_call_method(const struct method_call *mc)
{
        return vl_method_name(mc->reg->method);
}

bool method_call_more(const struct method_call *mc)
{
        return server_call_request(mc->call)->more;
}

static int vfail(struct method_call *mc, int r, const char *error, const char *key,
                 const char *value, const char *fmt, va_list ap)
{
        char *msg = NULL;

        if (fmt && vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        free(mc->err_message);
        mc->err_message = msg;
        free(mc->err_name);
        mc->err_name = error ? strdup(error) : NULL;
        free(mc->err_key);
        mc->err_key = key ? strdup(key) : NULL;
        free(mc->err_value);
        mc->err_value = value ? strdup(value) : NULL;
        return r;
}

int method_call_fail(struct method_call *mc, int r, const char *key, const char *value,
                     const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = vfail(mc, r, NULL, key, value, fmt, ap);
        va_end(ap);
        return r;
}

int method_call_fail_named(struct method_call *mc, int r, const char *error, const char *key,
                           const char *value, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = vfail(mc, r, error, key, value, fmt, ap);
        va_end(ap);
        return r;
}

int method_call_fail_params(struct method_call *mc, int r, const char *error,
                            struct json_object *params, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = vfail(mc, r, error, NULL, NULL, fmt, ap);
        va_end(ap);
        json_object_put(mc->err_params);
        mc->err_params = params;
        return r;
}

int method_call_reply(struct method_call *mc, struct json_object *reply, bool continues)
{
        int r;

        if (mc->finished)
                return -EALREADY;
        if (continues) {
                r = mc_send_reply(mc, reply, true);
                /* An InternalError went out instead and finished the call: it is over. */
                if (r == -EPROTO || r == -EMSGSIZE) {
                        mc->finished = true;
                        mc_free(mc);
                }
                return r;
        }
        mc->finished = true;
        r = mc_send_reply(mc, reply, false);
        /* The call is over: the server forgets it, so must we. */
        mc_free(mc);
        return r;
}

int method_call_finish_error(struct method_call *mc, int r)
{
        if (mc->finished)
                return -EALREADY;
        mc->finished = true;
        mc_send_failure(mc, r);
        mc_free(mc);
        return 0;
}

int method_call_finish_error_close(struct method_call *mc, int r)
{
        if (mc->finished)
                return -EALREADY;
        server_call_close_connection(mc->call);
        return method_call_finish_error(mc, r);
}

size_t method_call_output_pending(const struct method_call *mc)
{
        return mc->finished ? 0 : server_call_output_pending(mc->call);
}

void method_call_on_disconnect(struct method_call *mc,
                               void (*fn)(struct method_call *mc, void *userdata),
                               void *userdata)
{
        mc->on_disconnect = fn;
        mc->disconnect_userdata = userdata;
}

/* ---- org.varlink.service ---------------------------------------------------- */

static int add_string(struct json_object *o, const char *key, const char *value)
{
        struct json_object *v = value ? json_object_new_string(value) : NULL;

        if (value && !v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_int(struct json_object *o, const char *key, int64_t value)
{
        struct json_object *v = json_object_new_int64(value);

        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_obj(struct json_object *o, const char *key, struct json_object *v)
{
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int get_info(struct method_call *mc, struct json_object *params,
                    struct json_object **reply)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = json_object_new_object();
        struct json_object *list = json_object_new_array();
        const struct methods *m = mc->m;

        if (!o || add_obj(o, "interfaces", list) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_ifaces; i++)
                if (json_object_array_add(list,
                                          json_object_new_string(vl_interface_name(m->ifaces[i]))) < 0)
                        return -ENOMEM;
        if (add_string(o, "vendor", "assignd") < 0 || add_string(o, "product", "assignd") < 0 ||
            add_string(o, "version", ASSIGND_VERSION) < 0 || add_string(o, "url", METHODS_URL) < 0)
                return -ENOMEM;
        *reply = steal_ptr(o);
        return 0;
}

static int get_interface_description(struct method_call *mc, struct json_object *params,
                                     struct json_object **reply)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = json_object_new_object();
        const char *name = json_object_get_string(json_object_object_get(params, "interface"));
        const struct vl_interface *iface = find_iface(mc->m, name);

        if (!iface)
                return method_call_fail_named(mc, -ENOENT, VL_ERR_INTERFACE_NOT_FOUND, "interface",
                                              name, "interface %s is not served here", name);
        if (!o || add_string(o, "description", vl_interface_text(iface)) < 0)
                return -ENOMEM;
        *reply = steal_ptr(o);
        return 0;
}

/* ---- io.assignd.Broker: inventory ------------------------------------------- */

static struct inventory *need_inventory(struct method_call *mc)
{
        if (!mc->m->ctx.inv)
                method_call_fail(mc, -ENODATA, NULL, NULL, "no inventory is loaded");
        return mc->m->ctx.inv;
}

/* A string parameter that may be absent or null: NULL then. */
static const char *opt_string(struct json_object *params, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(params, key, &v) || !v)
                return NULL;
        return json_object_get_string(v);
}

static int opt_bool(struct json_object *params, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(params, key, &v) || !v)
                return -1;
        return json_object_get_boolean(v) ? 1 : 0;
}

static int parse_coverage(struct method_call *mc, const char *s, int *ret)
{
        int r = dt_coverage_from_string(s);

        if (r < 0)
                return method_call_fail(mc, -EINVAL, "field", "coverage",
                                        "coverage \"%s\" is not one of protected, "
                                        "iommu-unsupported, iommu-disabled, none",
                                        s);
        *ret = r;
        return 0;
}

static int parse_dma(struct method_call *mc, const char *s, int *ret)
{
        int r = dt_dma_from_string(s);

        if (r < 0)
                return method_call_fail(mc, -EINVAL, "field", "dma",
                                        "dma \"%s\" is not one of master, none, unknown", s);
        *ret = r;
        return 0;
}

/* GetStatus's hypervisor, lease, monitor and hazard fields. */
static int status_lifecycle(struct method_call *mc, struct json_object *o)
{
        const struct methods_context *ctx = &mc->m->ctx;
        size_t counts[_DB_LEASE_STATE_MAX] = { 0 };
        struct json_object *lc, *hazards = NULL;
        struct db_lease *ls = NULL;
        unsigned maj, min;
        size_t n = 0;
        int r;

        if (ctx->hv && hv_version(ctx->hv, &maj, &min, NULL) >= 0) {
                _cleanup_free_ char *v = strdup_printf("%u.%u", maj, min);

                if (!v || add_string(o, "xen_version", v) < 0)
                        return -ENOMEM;
        } else {
                json_object_object_add(o, "xen_version", NULL);
        }
        r = db_lease_list(inventory_db(ctx->inv), NULL, &ls, &n);
        if (r < 0)
                return method_call_fail(mc, r, NULL, NULL, "cannot read the leases: %s",
                                        strerror(-r));
        for (size_t i = 0; i < n; i++)
                if (ls[i].state >= 0 && ls[i].state < _DB_LEASE_STATE_MAX)
                        counts[ls[i].state]++;
        db_lease_array_free(ls, n);
        lc = json_object_new_object();
        if (add_obj(o, "leases", lc) < 0 ||
            add_int(lc, "reserved", (int64_t)counts[DB_LEASE_RESERVED]) < 0 ||
            add_int(lc, "assigning", (int64_t)counts[DB_LEASE_ASSIGNING]) < 0 ||
            add_int(lc, "assigned", (int64_t)counts[DB_LEASE_ASSIGNED]) < 0 ||
            add_int(lc, "releasing", (int64_t)counts[DB_LEASE_RELEASING]) < 0 ||
            add_int(o, "monitors", (int64_t)events_n_subscribers(ctx->events)) < 0)
                return -ENOMEM;
        r = hazard_list_json(ctx->inv, &hazards);
        if (r < 0 || add_obj(o, "hazards", hazards) < 0)
                return -ENOMEM;
        return 0;
}

static int broker_get_status(struct method_call *mc, struct json_object *params,
                             struct json_object **reply)
{
        const struct methods_context *ctx = &mc->m->ctx;
        struct inventory *inv = need_inventory(mc);
        _cleanup_(vl_json_unrefp) struct json_object *o = json_object_new_object();
        struct json_object *dtb, *devs;
        const struct dt_inventory *dt;
        struct inventory_counts c;
        time_t now = time(NULL);
        int r;

        if (!inv)
                return -ENODATA;
        if (!o)
                return -ENOMEM;
        dt = inventory_dt(inv);
        inventory_count(inv, &c);

        dtb = json_object_new_object();
        if (add_obj(o, "dtb", dtb) < 0 || add_string(dtb, "path", ctx->dtb_path ? ctx->dtb_path : "") < 0 ||
            add_string(dtb, "sha256", dt->sha256) < 0 || add_string(dtb, "model", dt->model) < 0)
                return -ENOMEM;
        devs = json_object_new_object();
        if (add_obj(o, "devices", devs) < 0 || add_int(devs, "total", (int64_t)c.devices) < 0 ||
            add_int(devs, "assignable", (int64_t)c.assignable) < 0 ||
            add_int(devs, "protected", (int64_t)c.protected_) < 0 ||
            add_int(devs, "unprotected_dma", (int64_t)c.unprotected_dma) < 0 ||
            add_int(devs, "groups", (int64_t)c.groups) < 0 ||
            add_int(devs, "iommus", (int64_t)c.iommus) < 0)
                return -ENOMEM;
        if (add_string(o, "version", ASSIGND_VERSION) < 0 ||
            add_string(o, "backend", ctx->backend ? ctx->backend : "") < 0 ||
            add_int(o, "started_at", (int64_t)ctx->started_at) < 0 ||
            add_int(o, "uptime_seconds",
                    now > ctx->started_at ? (int64_t)(now - ctx->started_at) : 0) < 0 ||
            add_int(o, "connections",
                    ctx->server ? (int64_t)server_n_connections(ctx->server) : 0) < 0)
                return -ENOMEM;
        r = status_lifecycle(mc, o);
        if (r < 0)
                return r;
        *reply = steal_ptr(o);
        return 0;
}

static int broker_list_devices(struct method_call *mc, struct json_object *params,
                               struct json_object **reply)
{
        struct inventory *inv = need_inventory(mc);
        struct inventory_filter f = { .coverage = -1, .dma = -1, .assignable = -1 };
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        struct json_object *list = NULL;
        const char *s;
        int r;

        if (!inv)
                return -ENODATA;
        if ((s = opt_string(params, "coverage")) && (r = parse_coverage(mc, s, &f.coverage)) < 0)
                return r;
        if ((s = opt_string(params, "dma")) && (r = parse_dma(mc, s, &f.dma)) < 0)
                return r;
        f.assignable = opt_bool(params, "assignable");
        f.owner = opt_string(params, "owner");

        r = inventory_list_json(inv, &f, &list);
        if (r < 0)
                return method_call_fail(mc, r, NULL, NULL, "listing devices: %s", strerror(-r));
        o = json_object_new_object();
        if (!o || add_obj(o, "devices", list) < 0)
                return -ENOMEM;
        *reply = steal_ptr(o);
        return 0;
}

static int device_reply(struct method_call *mc, struct inventory *inv, const char *path,
                        struct json_object **reply)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        const struct dt_device *d = dt_inventory_find(inventory_dt(inv), path);

        if (!d)
                return method_call_fail(mc, -ENOENT, "path", path, "no device has the path %s",
                                        path);
        o = json_object_new_object();
        if (!o || add_obj(o, "device", inventory_device_to_json(inv, d)) < 0)
                return -ENOMEM;
        *reply = steal_ptr(o);
        return 0;
}

static int broker_get_device(struct method_call *mc, struct json_object *params,
                             struct json_object **reply)
{
        struct inventory *inv = need_inventory(mc);

        if (!inv)
                return -ENODATA;
        return device_reply(mc, inv, opt_string(params, "path"), reply);
}

static int broker_set_device_policy(struct method_call *mc, struct json_object *params,
                                    struct json_object **reply)
{
        struct inventory *inv = need_inventory(mc);
        const char *path = opt_string(params, "path");
        const char *s;
        int dma = DB_POLICY_UNSET, assignable = DB_POLICY_UNSET, r;

        if (!inv)
                return -ENODATA;
        if (!dt_inventory_find(inventory_dt(inv), path))
                return method_call_fail(mc, -ENOENT, "path", path, "no device has the path %s",
                                        path);
        if ((s = opt_string(params, "dma")) && (r = parse_dma(mc, s, &dma)) < 0)
                return r;
        r = opt_bool(params, "assignable");
        if (r >= 0)
                assignable = r;

        r = inventory_set_policy(inv, path, dma, assignable, opt_string(params, "note"),
                                 (uint32_t)method_call_peer(mc)->uid);
        if (r == -ENOENT)
                return method_call_fail(mc, r, "path", path, "no device has the path %s", path);
        if (r < 0)
                return method_call_fail(mc, r, NULL, NULL, "storing the policy of %s: %s", path,
                                        strerror(-r));
        if (mc->m->ctx.broker) {
                const struct server_peer *p = method_call_peer(mc);
                struct broker_caller who = { .uid = p->uid, .pid = p->pid };
                _cleanup_free_ char *d = strdup_printf(
                        "dma=%s assignable=%s note=%s", opt_string(params, "dma") ?: "-",
                        assignable == DB_POLICY_UNSET ? "-" : assignable ? "yes" : "no",
                        opt_string(params, "note") ?: "-");

                broker_audit(mc->m->ctx.broker, &who, "SetDevicePolicy", path, "ok", d, false);
        }
        events_emit_lease(mc->m->ctx.events, EVENT_INVENTORY_CHANGED, &path, 1, -1, NULL, -1,
                          NULL, NULL, "the administrator changed the device's policy");
        return device_reply(mc, inv, path, reply);
}

static const struct method_entry builtin_methods[] = {
        { SERVICE_IFACE ".GetInfo", METHOD_PUBLIC, get_info },
        { SERVICE_IFACE ".GetInterfaceDescription", METHOD_PUBLIC, get_interface_description },
        { BROKER_IFACE ".GetStatus", METHOD_READ, broker_get_status },
        { BROKER_IFACE ".ListDevices", METHOD_READ, broker_list_devices },
        { BROKER_IFACE ".GetDevice", METHOD_READ, broker_get_device },
        { BROKER_IFACE ".SetDevicePolicy", METHOD_WRITE, broker_set_device_policy },
};

/* ---- io.assignd.Broker: assignment ------------------------------------------ */

static struct broker *need_broker(struct method_call *mc)
{
        if (!mc->m->ctx.broker)
                method_call_fail(mc, -ENODATA, NULL, NULL, "the assignment engine is not running");
        return mc->m->ctx.broker;
}

/* Hand a broker's structured error to the dispatcher. */
static int broker_fail(struct method_call *mc, int r, struct broker_error *e)
{
        free(mc->err_message);
        mc->err_message = e->message ? strdup(e->message) : NULL;
        free(mc->err_name);
        mc->err_name = e->name ? strdup(e->name) : NULL;
        free(mc->err_key);
        free(mc->err_value);
        mc->err_key = mc->err_value = NULL;
        json_object_put(mc->err_params);
        mc->err_params = e->fields ? json_object_get(e->fields) : NULL;
        broker_error_clear(e);
        return r < 0 ? r : -EIO;
}

static struct broker_caller caller_of(struct method_call *mc)
{
        const struct server_peer *p = method_call_peer(mc);

        return (struct broker_caller){ .uid = p->uid, .pid = p->pid };
}

/* A []string parameter (absent or null: none) as a NULL-terminated vector. */
static int opt_strv(struct json_object *params, const char *key, const char ***ret, size_t *n)
{
        struct json_object *a;
        const char **v;
        size_t len;

        *ret = NULL;
        *n = 0;
        if (!json_object_object_get_ex(params, key, &a) || !a)
                return 0;
        len = json_object_array_length(a);
        v = calloc(len + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                v[i] = json_object_get_string(json_object_array_get_idx(a, i));
        *ret = v;
        *n = len;
        return 0;
}

static int broker_assign_call(struct method_call *mc, struct json_object *params,
                              struct json_object **reply)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        struct broker_caller who = caller_of(mc);
        _cleanup_free_ const char **devs = NULL;
        struct broker_assign_request req = { 0 };
        const char *layout = opt_string(params, "layout");
        int r;

        if (!b)
                return -ENODATA;
        r = opt_strv(params, "devices", &devs, &req.n_devices);
        if (r < 0)
                return r;
        req.domain = opt_string(params, "domain");
        req.devices = devs;
        req.force_unprotected = opt_bool(params, "force_unprotected") > 0;
        req.dry_run = opt_bool(params, "dry_run") > 0;
        if (!layout || streq(layout, "identity"))
                req.layout = BROKER_LAYOUT_IDENTITY;
        else if (streq(layout, "auto"))
                req.layout = BROKER_LAYOUT_AUTO;
        else
                return method_call_fail(mc, -EINVAL, "field", "layout",
                                        "layout \"%s\" is not one of identity, auto", layout);
        r = broker_assign(b, &who, &req, reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

static int broker_release_call(struct method_call *mc, struct json_object *params,
                               struct json_object **reply)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        struct broker_caller who = caller_of(mc);
        _cleanup_free_ const char **devs = NULL;
        size_t n = 0;
        int r;

        if (!b)
                return -ENODATA;
        r = opt_strv(params, "devices", &devs, &n);
        if (r < 0)
                return r;
        r = broker_release(b, &who, opt_string(params, "domain"), devs, n, reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

static int broker_list_leases_call(struct method_call *mc, struct json_object *params,
                                   struct json_object **reply)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        int r;

        if (!b)
                return -ENODATA;
        r = broker_list_leases(b, opt_bool(params, "all") > 0, reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

static int broker_get_audit_log_call(struct method_call *mc, struct json_object *params,
                                     struct json_object **reply)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        struct json_object *v;
        int64_t limit = 100;
        int r;

        if (!b)
                return -ENODATA;
        if (json_object_object_get_ex(params, "limit", &v) && v)
                limit = json_object_get_int64(v);
        if (limit < 0)
                return method_call_fail(mc, -EINVAL, "field", "limit",
                                        "limit must not be negative");
        r = broker_audit_log(b, (size_t)limit, reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

/* ---- io.assignd.Broker: guest side ----------------------------------------- */

static int64_t param_int(struct json_object *params, const char *key, int64_t dflt);

/* layout and xen_version of the guest methods. */
static int guest_common(struct method_call *mc, struct json_object *params,
                        struct broker_guest_request *req, struct guestcfg_target *target)
{
        const char *layout = opt_string(params, "layout");
        const char *xv = opt_string(params, "xen_version");
        unsigned maj, min;
        char c;
        int m;

        req->layout = GUESTCFG_IDENTITY;
        if (layout) {
                m = guestcfg_mode_from_string(layout);
                if (m < 0)
                        return method_call_fail(mc, -EINVAL, "field", "layout",
                                                "layout \"%s\" is not one of identity, "
                                                "relocate, auto", layout);
                req->layout = (enum guestcfg_mode)m;
        }
        if (xv) {
                if (sscanf(xv, "%u.%u%c", &maj, &min, &c) != 2)
                        return method_call_fail(mc, -EINVAL, "field", "xen_version",
                                                "xen_version \"%s\" is not MAJOR.MINOR", xv);
                *target = (struct guestcfg_target){ maj, min };
                req->target = target;
        }
        req->force_unprotected = opt_bool(params, "force_unprotected") > 0;
        return 0;
}

static int guest_call(struct method_call *mc, struct json_object *params,
                      struct json_object **reply, enum broker_guest_output what)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        _cleanup_free_ const char **devs = NULL;
        struct broker_guest_request req = { 0 };
        struct guestcfg_target target;
        int64_t index;
        int r;

        if (!b)
                return -ENODATA;
        r = opt_strv(params, "devices", &devs, &req.n_devices);
        if (r < 0)
                return r;
        req.devices = devs;
        r = guest_common(mc, params, &req, &target);
        if (r < 0)
                return r;
        req.dom0less = opt_bool(params, "dom0less") > 0;
        req.name = opt_string(params, "name");
        req.device_tree = opt_string(params, "device_tree");
        req.dtb_file = opt_string(params, "dtb_file");
        req.host_dtb_file = opt_string(params, "host_dtb_file");
        index = param_int(params, "index", 0);
        if (index < 0 || index > 255)
                return method_call_fail(mc, -EINVAL, "field", "index", "index must be 0..255");
        req.index = (unsigned)index;
        r = broker_guest_config(b, what, &req, reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

static int broker_guest_device_tree_call(struct method_call *mc, struct json_object *params,
                                         struct json_object **reply)
{
        return guest_call(mc, params, reply, BROKER_GUEST_DTB);
}

static int broker_xl_config_call(struct method_call *mc, struct json_object *params,
                                 struct json_object **reply)
{
        return guest_call(mc, params, reply, BROKER_GUEST_XL);
}

static int broker_imagebuilder_config_call(struct method_call *mc, struct json_object *params,
                                           struct json_object **reply)
{
        return guest_call(mc, params, reply, BROKER_GUEST_IMAGEBUILDER);
}

static int broker_reserve_call(struct method_call *mc, struct json_object *params,
                               struct json_object **reply)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        struct broker_caller who = caller_of(mc);
        _cleanup_free_ const char **devs = NULL;
        struct broker_guest_request g = { 0 };
        struct broker_reserve_request req = { 0 };
        struct guestcfg_target target;
        int r;

        if (!b)
                return -ENODATA;
        r = opt_strv(params, "devices", &devs, &req.n_devices);
        if (r < 0)
                return r;
        r = guest_common(mc, params, &g, &target);
        if (r < 0)
                return r;
        req.domain_name = opt_string(params, "domain_name");
        req.devices = devs;
        req.force_unprotected = g.force_unprotected;
        req.layout = g.layout;
        req.ttl_seconds = param_int(params, "ttl_seconds", 0);
        if (req.ttl_seconds <= 0 && param_int(params, "ttl_seconds", -1) != -1)
                return method_call_fail(mc, -EINVAL, "field", "ttl_seconds",
                                        "ttl_seconds must be positive");
        r = broker_reserve(b, &who, &req, reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

static int broker_cancel_reservation_call(struct method_call *mc, struct json_object *params,
                                          struct json_object **reply)
{
        struct broker *b = need_broker(mc);
        struct broker_error e = { 0 };
        struct broker_caller who = caller_of(mc);
        int r;

        if (!b)
                return -ENODATA;
        r = broker_cancel_reservation(b, &who, opt_string(params, "domain_name"),
                                      param_int(params, "lease", 0), reply, &e);
        if (r < 0)
                return broker_fail(mc, r, &e);
        return 0;
}

/* ---- io.assignd.Simulator --------------------------------------------------- */

/* The simulator's refusals, by errno, with the parameter each error needs. */
static int sim_fail(struct method_call *mc, int r, int64_t domid, const char *name,
                    const char *msg)
{
        _cleanup_free_ char *m = strdup(msg ? msg : strerror(-r));
        const char *ename;

        switch (r) {
        case -ESRCH:
                if (domid >= 0) {
                        json_object_put(mc->err_params);
                        mc->err_params = json_object_new_object();
                        json_object_object_add(mc->err_params, "domid",
                                               json_object_new_int64(domid));
                        return method_call_fail_named(mc, r, SIM_IFACE ".DomainNotFound", NULL,
                                                      NULL, "%s", m ? m : "no such domain");
                }
                break;
        case -EEXIST:
                return method_call_fail_named(mc, r, SIM_IFACE ".DomainExists", "name", name,
                                              "%s", m ? m : "name in use");
        case -EINVAL:
                if (msg && strstr(msg, "IOMMU"))
                        return method_call_fail_named(mc, r, SIM_IFACE ".IommuNotAvailable",
                                                      NULL, NULL, "%s", m);
                break;
        }
        ename = strerrorname_np(-r);
        return method_call_fail_named(mc, r, SIM_IFACE ".SimulatorError", "errno",
                                      ename ? ename : "EIO", "%s", m ? m : "failed");
}

static int64_t param_int(struct json_object *params, const char *key, int64_t dflt)
{
        struct json_object *v;

        if (!json_object_object_get_ex(params, key, &v) || !v)
                return dflt;
        return json_object_get_int64(v);
}

/* Check a domid parameter's range; -1 (and a failure set) if it is out of range. */
static int64_t domid_param(struct method_call *mc, struct json_object *params)
{
        int64_t d = param_int(params, "domid", -1);

        if (d < 0 || d >= HV_DOMID_IO) {
                method_call_fail_named(mc, -EINVAL, SIM_IFACE ".InvalidArgument", "field",
                                       "domid", "domid %" PRId64 " is out of range", d);
                return -1;
        }
        return d;
}

/*
 * CreateDomain's xl options.  Returns 1 when any was given (the arrays are
 * malloc'd), 0 when none, or a failure.
 */
static int sim_xl_grants(struct method_call *mc, struct json_object *params,
                         struct hv_sim_xl_grants *g, uint32_t **irqs,
                         struct hv_sim_iomem **iomem, const char ***dtdevs)
{
        struct json_object *a;
        bool any = false;
        size_t n;

        *g = (struct hv_sim_xl_grants){ 0 };
        if (json_object_object_get_ex(params, "irqs", &a) && a) {
                n = json_object_array_length(a);
                *irqs = calloc(n + 1, sizeof(**irqs));
                if (!*irqs)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        int64_t v = json_object_get_int64(json_object_array_get_idx(a, i));

                        if (v < 32 || v > 32 + HV_MAX_SPIS - 1)
                                return method_call_fail_named(mc, -EINVAL,
                                                              SIM_IFACE ".InvalidArgument",
                                                              "field", "irqs",
                                                              "irqs: %" PRId64 " is not an SPI "
                                                              "INTID (32-%d)", v,
                                                              32 + HV_MAX_SPIS - 1);
                        (*irqs)[i] = (uint32_t)v;
                }
                g->irqs = *irqs;
                g->n_irqs = n;
                any = true;
        }
        if (json_object_object_get_ex(params, "iomem", &a) && a) {
                n = json_object_array_length(a);
                *iomem = calloc(n + 1, sizeof(**iomem));
                if (!*iomem)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        const char *t = json_object_get_string(json_object_array_get_idx(a, i));
                        struct hv_sim_iomem *m = &(*iomem)[i];
                        int used = 0, k;

                        /* xl's form: hex "START,NR" with an optional "@GFN". */
                        k = sscanf(t, "%" SCNx64 ",%" SCNx64 "%n@%" SCNx64 "%n", &m->mfn, &m->nr,
                                   &used, &m->gfn, &used);
                        if (k < 2 || (k == 2 && t[used]) || (k == 3 && t[used]) || m->nr == 0)
                                return method_call_fail_named(mc, -EINVAL,
                                                              SIM_IFACE ".InvalidArgument",
                                                              "field", "iomem",
                                                              "iomem: \"%s\" is not "
                                                              "\"MFN,NR[@GFN]\" in hex", t);
                        if (k == 2)
                                m->gfn = m->mfn;
                }
                g->iomem = *iomem;
                g->n_iomem = n;
                any = true;
        }
        if (json_object_object_get_ex(params, "dtdev", &a) && a) {
                n = json_object_array_length(a);
                *dtdevs = calloc(n + 1, sizeof(**dtdevs));
                if (!*dtdevs)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        (*dtdevs)[i] = json_object_get_string(json_object_array_get_idx(a, i));
                g->dtdevs = *dtdevs;
                g->n_dtdevs = n;
                any = true;
        }
        return any ? 1 : 0;
}

static int sim_create_domain_call(struct method_call *mc, struct json_object *params,
                                  struct json_object **reply)
{
        _cleanup_free_ uint32_t *irqs = NULL;
        _cleanup_free_ struct hv_sim_iomem *iomem = NULL;
        _cleanup_free_ const char **dtdevs = NULL;
        struct hv_sim_xl_grants g;
        const char *name = opt_string(params, "name");
        int64_t nr_spis = param_int(params, "nr_spis", -1);
        _cleanup_free_ char *err = NULL;
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        uint32_t domid;
        int r;

        if (nr_spis > HV_MAX_SPIS || nr_spis < -1)
                return method_call_fail_named(mc, -EINVAL, SIM_IFACE ".InvalidArgument", "field",
                                              "nr_spis", "nr_spis must be 0..%d", HV_MAX_SPIS);
        r = sim_xl_grants(mc, params, &g, &irqs, &iomem, &dtdevs);
        if (r < 0)
                return r;
        if (r > 0)
                r = hv_sim_create_domain_xl(mc->m->ctx.hv, name,
                                            opt_bool(params, "passthrough") > 0,
                                            opt_bool(params, "populated") > 0, (int)nr_spis, &g,
                                            &domid, &err);
        else
                r = hv_sim_create_domain(mc->m->ctx.hv, name, opt_bool(params, "passthrough") > 0,
                                         opt_bool(params, "populated") > 0, (int)nr_spis, &domid,
                                         &err);
        if (r < 0)
                return sim_fail(mc, r, -1, name, err);
        o = json_object_new_object();
        if (!o || add_int(o, "domid", domid) < 0)
                return -ENOMEM;
        *reply = steal_ptr(o);
        return 0;
}

typedef int (*sim_domid_fn)(struct hv *hv, uint32_t domid, char **err);

/*
 * Run fn on the domid parameter; when announce, settle what changed at once
 * (see below).  ReapDomain alone does not announce: Xen tells nobody.
 */
static int sim_domid_call_as(struct method_call *mc, struct json_object *params, sim_domid_fn fn,
                             bool announce)
{
        _cleanup_free_ char *err = NULL;
        int64_t domid = domid_param(mc, params);
        int r;

        if (domid < 0)
                return -EINVAL;
        r = fn(mc->m->ctx.hv, (uint32_t)domid, &err);
        if (r < 0)
                return sim_fail(mc, r, domid, NULL, err);
        if (!announce)
                return 0;
        /*
         * The hypervisor changed: announce a death and settle the domain's
         * leases now, not when the watch's fd is next polled.
         */
        if (mc->m->ctx.watch)
                watch_check(mc->m->ctx.watch);
        else if (mc->m->ctx.broker)
                broker_domains_changed(mc->m->ctx.broker);
        return 0;
}

static int sim_domid_call(struct method_call *mc, struct json_object *params, sim_domid_fn fn)
{
        return sim_domid_call_as(mc, params, fn, true);
}

static int sim_destroy_domain_call(struct method_call *mc, struct json_object *params,
                                   struct json_object **reply)
{
        return sim_domid_call(mc, params, hv_sim_destroy_domain);
}

static int sim_kill_domain_call(struct method_call *mc, struct json_object *params,
                                struct json_object **reply)
{
        return sim_domid_call(mc, params, hv_sim_kill_domain);
}

static int sim_reap_domain_call(struct method_call *mc, struct json_object *params,
                                struct json_object **reply)
{
        return sim_domid_call_as(mc, params, hv_sim_reap_domain, false);
}

static int sim_populate_memory_call(struct method_call *mc, struct json_object *params,
                                    struct json_object **reply)
{
        return sim_domid_call(mc, params, hv_sim_populate_memory);
}

static int sim_unpause_domain_call(struct method_call *mc, struct json_object *params,
                                   struct json_object **reply)
{
        return sim_domid_call(mc, params, hv_sim_unpause);
}

static int sim_set_failpoint_call(struct method_call *mc, struct json_object *params,
                                  struct json_object **reply)
{
        _cleanup_free_ char *err = NULL;
        const char *field = "step";
        int r = hv_set_failpoint(mc->m->ctx.hv, opt_string(params, "step"),
                                 opt_string(params, "action"), &field, &err);

        if (r < 0)
                return method_call_fail_named(mc, r, SIM_IFACE ".InvalidArgument", "field",
                                              field, "%s", err ? err : "bad failpoint");
        return 0;
}

static int sim_get_state_call(struct method_call *mc, struct json_object *params,
                              struct json_object **reply)
{
        _cleanup_free_ char *err = NULL;
        _cleanup_(vl_json_unrefp) struct json_object *o = json_object_new_object();
        struct json_object *state = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = hv_sim_get_state_json(mc->m->ctx.hv, &state, &err);
        if (r < 0)
                return sim_fail(mc, r, -1, NULL, err);
        if (add_obj(o, "state", state) < 0)
                return -ENOMEM;
        *reply = steal_ptr(o);
        return 0;
}

static const struct method_entry engine_methods[] = {
        { BROKER_IFACE ".Assign", METHOD_WRITE, broker_assign_call },
        { BROKER_IFACE ".Release", METHOD_WRITE, broker_release_call },
        { BROKER_IFACE ".ListLeases", METHOD_READ, broker_list_leases_call },
        { BROKER_IFACE ".GetAuditLog", METHOD_READ, broker_get_audit_log_call },
        { BROKER_IFACE ".GuestDeviceTree", METHOD_READ, broker_guest_device_tree_call },
        { BROKER_IFACE ".XlConfig", METHOD_READ, broker_xl_config_call },
        { BROKER_IFACE ".ImageBuilderConfig", METHOD_READ, broker_imagebuilder_config_call },
        { BROKER_IFACE ".Reserve", METHOD_WRITE, broker_reserve_call },
        { BROKER_IFACE ".CancelReservation", METHOD_WRITE, broker_cancel_reservation_call },
        { SIM_IFACE ".CreateDomain", METHOD_ROOT | METHOD_SIM, sim_create_domain_call },
        { SIM_IFACE ".DestroyDomain", METHOD_ROOT | METHOD_SIM, sim_destroy_domain_call },
        { SIM_IFACE ".ReapDomain", METHOD_ROOT | METHOD_SIM, sim_reap_domain_call },
        { SIM_IFACE ".KillDomain", METHOD_ROOT | METHOD_SIM, sim_kill_domain_call },
        { SIM_IFACE ".PopulateMemory", METHOD_ROOT | METHOD_SIM, sim_populate_memory_call },
        { SIM_IFACE ".UnpauseDomain", METHOD_ROOT | METHOD_SIM, sim_unpause_domain_call },
        { SIM_IFACE ".SetFailpoint", METHOD_ROOT | METHOD_SIM, sim_set_failpoint_call },
        { SIM_IFACE ".GetState", METHOD_ROOT | METHOD_SIM, sim_get_state_call },
};

/* ---- lifetime -------------------------------------------------------------- */

void methods_free(struct methods *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n_ifaces; i++)
                vl_interface_free(m->ifaces[i]);
        free(m->ifaces);
        free(m->regs);
        free(m);
}

void methods_set_context(struct methods *m, const struct methods_context *ctx)
{
        m->ctx = *ctx;
}

int methods_new(const struct methods_context *ctx, struct methods **ret, char **err)
{
        _cleanup_(methods_freep) struct methods *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->ctx = *ctx;

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

        r = methods_add_interface(m, SERVICE_IFACE, NULL, err);
        if (r >= 0)
                r = methods_add_interface(m, BROKER_IFACE, NULL, err);
        /* The simulator's control interface exists only where the simulator does. */
        if (r >= 0 && hv_sim_present(ctx->hv) && vl_embedded_find(SIM_IFACE))
                r = methods_add_interface(m, SIM_IFACE, NULL, err);
        if (r >= 0)
                r = methods_register(m, builtin_methods, ARRAY_SIZE(builtin_methods), err);
        if (r >= 0)
                r = methods_register(m, engine_methods, ARRAY_SIZE(engine_methods), err);
        if (r < 0)
                return r;

        *ret = steal_ptr(m);
        return 0;
}
