/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Varlink dispatch layer: the table of served methods with their
 * permission flags, and the single path every call takes through it:
 * interface and method lookup, permission check, "more"/"oneway" rules,
 * validation of the parameters against the .varlink definition, the
 * handler, validation of the reply, and one log line with the outcome.
 * Handlers therefore receive parameters that already have the declared
 * shape and only check values.  A handler that fails describes why with
 * a struct failure (engine/failure.h); errors.c turns it into the named
 * Varlink error, in one table.
 *
 * Each interface's handlers live in their own file and register
 * themselves: service.c (org.varlink.service), broker.c and monitor.c
 * (io.assignd.Broker), simulator.c (io.assignd.Simulator, only with the
 * simulated hypervisor).
 */
#ifndef ASSIGND_DISPATCH_H
#define ASSIGND_DISPATCH_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#include "failure.h"
#include "server.h"
#include "util.h"

struct engine;
struct events;
struct hv;
struct inventory;
struct watch;
struct dispatch;
struct method_call;

#define BROKER_IFACE "io.assignd.Broker"
#define SIM_IFACE "io.assignd.Simulator"
#define SERVICE_IFACE "org.varlink.service"

/*
 * What a caller who is not root may be allowed: read (the inventory,
 * leases, the audit log, guest configuration), watch (Monitor's event
 * stream) and write (anything that changes state).  Each right includes
 * the ones before it: a watcher may read, a writer may watch and read.
 */
enum dispatch_right {
        DISPATCH_READ,
        DISPATCH_WATCH,
        DISPATCH_WRITE,
        _DISPATCH_RIGHT_MAX,
};

/* Who holds a right: members of these groups and these users (borrowed arrays). */
struct dispatch_grant {
        const gid_t *gids;
        size_t n_gids;
        const uid_t *uids;
        size_t n_uids;
};

/* What the handlers need from the rest of the daemon. */
struct dispatch_context {
        struct inventory *inv;
        struct engine *engine;          /* NULL: the methods that need it fail */
        struct hv *hv;
        struct events *events;          /* the event bus for Monitor; NULL: no Monitor */
        struct watch *watch;            /* the domain watch; NULL: the engine settles alone */
        struct server *server;          /* for the connection count; may be NULL */
        const char *backend;            /* the hypervisor backend's name, for GetStatus */
        const char *dtb_path;           /* for GetStatus */
        /* Who besides root may do what (indexed by enum dispatch_right). */
        struct dispatch_grant grants[_DISPATCH_RIGHT_MAX];
        time_t started_at;
};

/* What the handlers keep rendered between calls (render-cache.h). */
struct render_cache;
struct render_cache *dispatch_render_cache(struct dispatch *d);

/* Permission and behaviour flags of a table entry. */
enum {
        METHOD_PUBLIC = 1u << 0,        /* anyone who can connect (introspection) */
        METHOD_READ = 1u << 1,          /* root and who holds DISPATCH_READ */
        METHOD_WRITE = 1u << 2,         /* root and who holds DISPATCH_WRITE */
        METHOD_ROOT = 1u << 3,          /* root only, whatever the configuration */
        METHOD_STREAM = 1u << 4,        /* must be called with "more" (others answer it once) */
        METHOD_WATCH = 1u << 5,         /* root and who holds DISPATCH_WATCH */
};

/*
 * A handler.  params have been validated against the method's input type.
 * Return 0 with *reply set (a new reference; NULL means {}), which the
 * dispatcher validates against the output type and sends; or a negative
 * errno with the failure described (method_call_fail and friends; a bare
 * errno becomes InternalError); or METHOD_DEFERRED when the handler keeps
 * the call and finishes it later with method_call_reply /
 * method_call_finish_error (always the case for METHOD_STREAM methods).
 */
#define METHOD_DEFERRED 1
typedef int (*method_handler_fn)(struct method_call *mc, struct json_object *params,
                                 struct json_object **reply);

struct method_entry {
        const char *name;               /* fully qualified: "io.assignd.Broker.GetDevice" */
        unsigned flags;
        method_handler_fn handler;
};

/* A dispatcher serving org.varlink.service and io.assignd.Broker (no handlers yet). */
int dispatch_new(const struct dispatch_context *ctx, struct dispatch **ret, char **err);
void dispatch_free(struct dispatch *d);
DEFINE_FREE_FUNC(struct dispatch, dispatch_free)

/* Replace the context (for example once the server exists, for its connection count). */
void dispatch_set_context(struct dispatch *d, const struct dispatch_context *ctx);

/*
 * Serve another interface: its definition is looked up among the embedded
 * .varlink files, or given as text.  -EEXIST if served already, -ENOENT if
 * not embedded, -EINVAL if it does not parse (*err says where).
 */
int dispatch_add_interface(struct dispatch *d, const char *name, const char *text, char **err);
/* The served interfaces, in the order they were added (for GetInfo). */
size_t dispatch_n_interfaces(const struct dispatch *d);
const struct vl_interface *dispatch_interface_at(const struct dispatch *d, size_t i);
/* A served interface by name, or NULL. */
const struct vl_interface *dispatch_interface(const struct dispatch *d, const char *name);

/*
 * Add handlers.  Each method must be declared by a served interface
 * (-ENOENT otherwise) and not registered yet (-EEXIST).  The table is not
 * copied: it must outlive d (a static const array).
 */
int dispatch_register(struct dispatch *d, const struct method_entry *entries, size_t n,
                      char **err);

/* The server's dispatch function; userdata is the struct dispatch. */
void dispatch_call(struct server_call *call, void *userdata);

/* ---- inside a handler ------------------------------------------------------ */

const struct dispatch_context *method_call_context(const struct method_call *mc);
const struct server_peer *method_call_peer(const struct method_call *mc);
struct dispatch *method_call_dispatch(const struct method_call *mc);

/*
 * Describe why the call fails and return r, for "return method_call_fail(mc,
 * -ENOENT, FAILURE_DEVICE_NOT_FOUND, "no device %s", path)".  The facts the
 * error carries are set on method_call_failure(mc) afterwards.
 */
_printf_(4, 5) int method_call_fail(struct method_call *mc, int r, enum failure_code code,
                                    const char *fmt, ...);
_printf_(4, 0) int method_call_vfail(struct method_call *mc, int r, enum failure_code code,
                                    const char *fmt, va_list ap);
/* io.assignd.Broker.InvalidArgument naming the request field; returns -EINVAL. */
_printf_(3, 4) int method_call_fail_invalid(struct method_call *mc, const char *field,
                                            const char *fmt, ...);
/* The failure the call will be answered with, to add facts to. */
struct failure *method_call_failure(struct method_call *mc);
/* Take over a failure the engine described (f is left empty); returns r. */
int method_call_failed(struct method_call *mc, int r, struct failure *f);
/*
 * One of org.varlink.service's own errors (VL_ERR_* of varlink.h), with
 * one string parameter (key NULL: none); returns r.
 */
int method_call_fail_service(struct method_call *mc, int r, const char *error, const char *key,
                             const char *value);

/*
 * For METHOD_DEFERRED calls: send a (validated) reply; continues only with
 * "more".  -EPROTO (the reply does not match the interface) and -EMSGSIZE
 * (larger than the reply limit) mean an InternalError was sent instead and
 * the call is finished: mc is invalid afterwards, even for continues.
 * -ECONNRESET: the peer is gone (for continues, the disconnect callback
 * follows).
 */
int method_call_reply(struct method_call *mc, struct json_object *reply, bool continues);
/*
 * For METHOD_DEFERRED calls: finish with the error r (as described by
 * method_call_fail), closing the connection once the error is written (or
 * after the drain timeout if the peer does not read it).  mc is invalid
 * afterwards.
 */
int method_call_finish_error_close(struct method_call *mc, int r);
/* Bytes queued for the peer and not read yet (see server_call_output_pending). */
size_t method_call_output_pending(const struct method_call *mc);

/*
 * For METHOD_DEFERRED calls: be told when the peer goes away.  After fn
 * returns, mc is invalid.
 */
void method_call_on_disconnect(struct method_call *mc,
                               void (*fn)(struct method_call *mc, void *userdata),
                               void *userdata);

#endif
