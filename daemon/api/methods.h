/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Varlink dispatch layer: one table of served methods with their
 * permission flags, and the single path every call takes through it:
 * interface and method lookup, permission check, "more"/"oneway" rules,
 * validation of the parameters against the .varlink definition, the
 * handler, validation of the reply, mapping of errnos to named errors, and
 * one log line with the outcome.  Handlers therefore receive parameters
 * that already have the declared shape and only check values.
 */
#ifndef ASSIGND_METHODS_H
#define ASSIGND_METHODS_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#include "server.h"
#include "util.h"

struct inventory;
struct hv;
struct broker;
struct events;
struct watch;
struct methods;
struct method_call;

/* What the handlers need from the rest of the daemon. */
struct methods_context {
        struct inventory *inv;
        const char *backend;            /* "xen" or "sim" */
        struct hv *hv;                  /* opaque; NULL until the broker uses it */
        struct broker *broker;          /* the assignment engine; NULL: Assign etc. fail */
        const char *dtb_path;           /* for GetStatus */
        gid_t access_gid;               /* group that may read; (gid_t)-1: none */
        bool group_may_write;           /* that group may also write */
        time_t started_at;
        struct server *server;          /* for the connection count; may be NULL */
        struct events *events;          /* the event bus for Monitor; NULL: no Monitor */
        struct watch *watch;            /* the domain watch; NULL: the broker settles alone */
};

/* Permission and behaviour flags of a table entry. */
enum {
        METHOD_PUBLIC = 1u << 0,        /* anyone who can connect (introspection) */
        METHOD_READ = 1u << 1,          /* root and members of the access group */
        METHOD_WRITE = 1u << 2,         /* root; the group too if group_may_write */
        METHOD_ROOT = 1u << 3,          /* root only, whatever the configuration */
        METHOD_SIM = 1u << 4,           /* served only with the simulated hypervisor */
        METHOD_STREAM = 1u << 5,        /* must be called with "more" (others refuse it) */
};

/*
 * A handler.  params have been validated against the method's input type.
 * Return 0 with *reply set (a new reference; NULL means {}), which the
 * dispatcher validates against the output type and sends; or a negative
 * errno, which the dispatcher turns into a named error (see
 * method_call_fail for the details that go with it); or METHOD_DEFERRED
 * when the handler keeps the call and finishes it later with
 * method_call_reply / method_call_finish_error (always the case for
 * METHOD_STREAM methods).
 */
#define METHOD_DEFERRED 1
typedef int (*method_handler_fn)(struct method_call *mc, struct json_object *params,
                                 struct json_object **reply);

struct method_entry {
        const char *name;               /* fully qualified: "io.assignd.Broker.GetDevice" */
        unsigned flags;
        method_handler_fn handler;
};

int methods_new(const struct methods_context *ctx, struct methods **ret, char **err);
void methods_free(struct methods *m);
DEFINE_FREE_FUNC(struct methods, methods_free)

/* Replace the context (for example once the server exists, for its connection count). */
void methods_set_context(struct methods *m, const struct methods_context *ctx);

/*
 * Serve another interface: its definition is looked up among the embedded
 * .varlink files, or given as text.  -EEXIST if served already, -ENOENT if
 * not embedded, -EINVAL if it does not parse (*err says where).
 */
int methods_add_interface(struct methods *m, const char *name, const char *text, char **err);
/* Whether an interface is served (listed by GetInfo). */
bool methods_has_interface(const struct methods *m, const char *name);

/*
 * Add handlers.  Each method must be declared by a served interface
 * (-ENOENT otherwise) and not registered yet (-EEXIST).  Entries flagged
 * METHOD_SIM are skipped unless ctx.hv is the simulator.  The table is not
 * copied: it must outlive m (a static const array).
 */
int methods_register(struct methods *m, const struct method_entry *entries, size_t n,
                     char **err);

/* The server's dispatch function; userdata is the struct methods. */
void methods_dispatch(struct server_call *call, void *userdata);

/* ---- inside a handler ------------------------------------------------------ */

const struct methods_context *method_call_context(const struct method_call *mc);
const struct server_peer *method_call_peer(const struct method_call *mc);
/* Short method name ("GetDevice"). */
const char *method_call_method(const struct method_call *mc);
bool method_call_more(const struct method_call *mc);

/*
 * Describe why the call fails and return r, for "return method_call_fail(mc,
 * -ENOENT, "path", path, "no device %s", path)".  key/value (may be NULL)
 * add one string parameter to the error besides "message".  The error name
 * comes from the errno table unless method_call_fail_named is used.
 */
_printf_(5, 6) int method_call_fail(struct method_call *mc, int r, const char *key,
                                    const char *value, const char *fmt, ...);
/* Same with an explicit error name (short, of the method's interface, or qualified). */
_printf_(6, 7) int method_call_fail_named(struct method_call *mc, int r, const char *error,
                                          const char *key, const char *value, const char *fmt,
                                          ...);

/*
 * Same with the error's parameters besides "message" given as an object
 * (taken over; may be NULL), for errors with non-string fields.
 */
_printf_(5, 6) int method_call_fail_params(struct method_call *mc, int r, const char *error,
                                           struct json_object *params, const char *fmt, ...);

/*
 * For METHOD_DEFERRED calls: send a (validated) reply; continues only with
 * "more".  -EPROTO (the reply does not match the interface) and -EMSGSIZE
 * (larger than the reply limit) mean an InternalError was sent instead and
 * the call is finished: mc is invalid afterwards, even for continues.
 * -ECONNRESET: the peer is gone (for continues, the disconnect callback
 * follows).
 */
int method_call_reply(struct method_call *mc, struct json_object *reply, bool continues);
/* For METHOD_DEFERRED calls: finish with the error r (details from method_call_fail). */
int method_call_finish_error(struct method_call *mc, int r);
/*
 * For METHOD_DEFERRED calls: finish with the error r and close the
 * connection once the error is written (or after the drain timeout if
 * the peer does not read it).  mc is invalid afterwards.
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

/* The Varlink error name the errno table gives r for a method of iface (for tests). */
const char *methods_error_name(const struct methods *m, const char *iface, int r);

#endif
