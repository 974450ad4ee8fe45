/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dispatcher and a call in progress as dispatch.c and method-call.c
 * share them.  Not for use by handlers.
 */
#ifndef ASSIGND_DISPATCH_PRIVATE_H
#define ASSIGND_DISPATCH_PRIVATE_H

#include <time.h>

#include "dispatch.h"
#include "render-cache.h"
#include "strmap.h"
#include "varlink.h"

struct registered {
        const struct method_entry *entry;
        const struct vl_interface *iface;
        const struct vl_method *method;
};

struct dispatch {
        struct dispatch_context ctx;
        struct vl_interface **ifaces;
        size_t n_ifaces, cap_ifaces;
        struct registered *regs;
        size_t n_regs, cap_regs;
        struct strmap by_method;        /* qualified name -> index + 1 in regs */
        struct render_cache *cache;
};

struct method_call {
        struct dispatch *d;
        struct server_call *call;
        const struct registered *reg;
        struct timespec t0;
        /* Copies for the log line: a final reply frees the server's call. */
        uid_t uid;
        pid_t pid;
        bool finished;
        /* Why it fails: a failure for errors.c, or a service error. */
        struct failure failure;
        const char *service_error;
        char *service_key;
        char *service_value;
        void (*on_disconnect)(struct method_call *mc, void *userdata);
        void *disconnect_userdata;
};

/* A call of reg on call, timed from t0; NULL when out of memory. */
struct method_call *method_call_new(struct dispatch *d, struct server_call *call,
                                    const struct registered *reg, const struct timespec *t0);
void method_call_free(struct method_call *mc);

/* Answer a call whose handler returned: the reply (r >= 0) or the failure r. */
void method_call_answer(struct method_call *mc, int r, struct json_object *reply);

/*
 * Send error with params (checked against its declaration; a mismatch is
 * a bug and sends InternalError instead) and log the outcome.
 */
void dispatch_send_error(struct dispatch *d, struct server_call *call, const struct timespec *t0,
                         const char *error, struct json_object *params, int level);
/* The one log line of a call; call must still be alive. */
void dispatch_log_outcome(struct server_call *call, const struct timespec *t0, int level,
                          const char *outcome, const char *detail);
void dispatch_log_line(const char *method, uid_t uid, pid_t pid, const struct timespec *t0,
                       int level, const char *outcome, const char *detail);

#endif
