/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A call in the hands of its handler (see dispatch.h): how it fails, how
 * it is answered (every reply validated against the method's output type
 * before it is sent), and its one log line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch-private.h"
#include "errors.h"
#include "log.h"

struct method_call *method_call_new(struct dispatch *d, struct server_call *call,
                                    const struct registered *reg, const struct timespec *t0)
{
        const struct server_peer *peer = server_call_peer(call);
        struct method_call *mc = calloc(1, sizeof(*mc));

        if (!mc)
                return NULL;
        mc->d = d;
        mc->call = call;
        mc->reg = reg;
        mc->t0 = *t0;
        mc->uid = peer->uid;
        mc->pid = peer->pid;
        mc->failure = FAILURE_INIT;
        return mc;
}

void method_call_free(struct method_call *mc)
{
        if (!mc)
                return;
        failure_clear(&mc->failure);
        free(mc->service_key);
        free(mc->service_value);
        free(mc);
}

const struct dispatch_context *method_call_context(const struct method_call *mc)
{
        return &mc->d->ctx;
}

struct dispatch *method_call_dispatch(const struct method_call *mc)
{
        return mc->d;
}

const struct server_peer *method_call_peer(const struct method_call *mc)
{
        return server_call_peer(mc->call);
}

/* ---- failing ----------------------------------------------------------------- */

struct failure *method_call_failure(struct method_call *mc)
{
        return &mc->failure;
}

int method_call_vfail(struct method_call *mc, int r, enum failure_code code, const char *fmt,
                      va_list ap)
{
        return failure_vset(&mc->failure, r, code, fmt, ap);
}

int method_call_fail(struct method_call *mc, int r, enum failure_code code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = method_call_vfail(mc, r, code, fmt, ap);
        va_end(ap);
        return r;
}

int method_call_fail_invalid(struct method_call *mc, const char *field, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        method_call_vfail(mc, -EINVAL, FAILURE_INVALID_ARGUMENT, fmt, ap);
        va_end(ap);
        failure_fact(&mc->failure.field, field);
        return -EINVAL;
}

int method_call_failed(struct method_call *mc, int r, struct failure *f)
{
        failure_move(&mc->failure, f);
        return r < 0 ? r : -EIO;
}

int method_call_fail_service(struct method_call *mc, int r, const char *error, const char *key,
                             const char *value)
{
        mc->service_error = error;
        free(mc->service_key);
        free(mc->service_value);
        mc->service_key = key ? strdup(key) : NULL;
        mc->service_value = value ? strdup(value) : NULL;
        return r;
}

/* ---- answering --------------------------------------------------------------- */

static void send_failure(struct method_call *mc, int r)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = NULL;
        struct failure *f = &mc->failure;

        if (mc->service_error) {
                p = json_object_new_object();
                if (p && mc->service_key)
                        json_object_object_add(p, mc->service_key,
                                               json_object_new_string(mc->service_value
                                                                              ? mc->service_value
                                                                              : ""));
                dispatch_send_error(mc->d, mc->call, &mc->t0, mc->service_error, p, LOG_INFO);
                return;
        }
        /* A handler that returned a bare errno hit something it did not expect. */
        if (f->code == FAILURE_NONE)
                failure_set(f, r, FAILURE_INTERNAL_ERROR, "%s", strerror(r < 0 ? -r : r));
        p = errors_params(f);
        dispatch_send_error(mc->d, mc->call, &mc->t0, errors_name(f->code), p,
                            errors_log_level(f->code));
}

/* Validate a reply against the method's output type, then send it. */
static int send_reply(struct method_call *mc, struct json_object *reply, bool continues)
{
        _cleanup_free_ char *bad = NULL;
        _cleanup_free_ char *method = NULL;
        int r;

        r = vl_validate_output(mc->reg->iface, mc->reg->method, reply, &bad);
        if (r < 0) {
                _cleanup_free_ char *detail = strdup_printf("reply field \"%s\" does not match "
                                                            "the interface",
                                                            bad ? bad : "?");

                dispatch_log_outcome(mc->call, &mc->t0, LOG_ERR, "bug", detail);
                failure_set(&mc->failure, -EPROTO, FAILURE_INTERNAL_ERROR,
                            "the daemon produced a malformed reply; see its log");
                send_failure(mc, -EPROTO);
                return -EPROTO;
        }
        /* A final reply frees the server's call: keep the method name for the log. */
        method = strdup(server_call_request(mc->call)->method);
        r = server_call_reply(mc->call, reply, continues);
        if (r == -EMSGSIZE)
                dispatch_log_line(method, mc->uid, mc->pid, &mc->t0, LOG_ERR,
                                  "reply too large, sent InternalError", NULL);
        else if (!continues)
                dispatch_log_line(method, mc->uid, mc->pid, &mc->t0,
                                  (mc->reg->entry->flags & METHOD_WRITE) ? LOG_INFO : LOG_DEBUG,
                                  r == -ECONNRESET ? "ok, but the peer is gone" : "ok", NULL);
        return r;
}

void method_call_answer(struct method_call *mc, int r, struct json_object *reply)
{
        if (r < 0)
                send_failure(mc, r);
        else
                send_reply(mc, reply, false);
}

int method_call_reply(struct method_call *mc, struct json_object *reply, bool continues)
{
        int r;

        if (mc->finished)
                return -EALREADY;
        if (continues) {
                r = send_reply(mc, reply, true);
                /* An InternalError went out instead and finished the call: it is over. */
                if (r == -EPROTO || r == -EMSGSIZE) {
                        mc->finished = true;
                        method_call_free(mc);
                }
                return r;
        }
        mc->finished = true;
        r = send_reply(mc, reply, false);
        /* The call is over: the server forgets it, so must we. */
        method_call_free(mc);
        return r;
}

int method_call_finish_error_close(struct method_call *mc, int r)
{
        if (mc->finished)
                return -EALREADY;
        server_call_close_connection(mc->call);
        mc->finished = true;
        send_failure(mc, r);
        method_call_free(mc);
        return 0;
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
