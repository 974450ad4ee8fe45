/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignd's Varlink socket server: a libevent UNIX stream listener (bound
 * to a path or handed over by systemd socket activation), per-connection
 * state with its own input buffer and bounded output queue, the limits of
 * limit.h, caller identity from SO_PEERCRED, and calls answered in order
 * per connection.  It knows nothing about methods: every request goes to
 * one dispatch function (dispatch.c), which answers through a server_call.
 */
#ifndef ASSIGND_SERVER_H
#define ASSIGND_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "util.h"
#include "varlink.h"

struct event_base;
struct server;
struct server_call;

/*
 * Error the server itself sends when a message cannot be read as a call
 * (malformed JSON, not a request, too large); the connection is closed
 * after it.  Declared in io.assignd.Broker.
 */
#define SERVER_ERR_PROTOCOL "io.assignd.Broker.ProtocolError"

/* Who is on the other end, from SO_PEERCRED / SO_PEERGROUPS at accept time. */
struct server_peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t *groups;          /* supplementary groups, at most LIMIT_PEER_GROUPS */
        size_t n_groups;
};

/* Whether the peer has gid as its primary or one of its supplementary groups. */
bool server_peer_in_group(const struct server_peer *peer, gid_t gid);

/*
 * The limits the server enforces; server_limits_default() fills in those
 * of limit.h.  Tests shrink them to exercise the limits quickly.
 */
struct server_limits {
        size_t connections;
        size_t connections_root_reserve;
        size_t connections_per_uid;
        size_t pending_calls;
        size_t output_backlog;
        size_t output_low_water;
        size_t reply_size;
        unsigned idle_timeout_msec;
        unsigned accept_pause_msec;
        unsigned drain_timeout_msec;
};
void server_limits_default(struct server_limits *l);
/*
 * New limits (a configuration reload): they apply to what happens from
 * now on; connections over a lowered limit are not closed for it.
 */
void server_set_limits(struct server *s, const struct server_limits *l);

/*
 * Called once per request, in order per connection, with one call in
 * progress per connection at a time.  The dispatcher must finish the call
 * with a final reply (server_call_reply with continues=false, or
 * server_call_error), either before returning or later from another event
 * (it may keep the call pointer until then).  A pointer kept across events
 * becomes invalid when the call is finished or, if the peer goes away
 * first, right after the disconnect callback returns.
 */
typedef void (*server_dispatch_fn)(struct server_call *call, void *userdata);

int server_new(struct event_base *base, const struct server_limits *limits,
               server_dispatch_fn dispatch, void *userdata, struct server **ret);
/* Closes every connection (their calls see a disconnect) and the listener. */
void server_free(struct server *s);
DEFINE_FREE_FUNC(struct server, server_free)

/*
 * Bind and listen on path: the parent directory is created (0755) when
 * missing; an existing socket is replaced only if nothing listens on it
 * (-EADDRINUSE otherwise), any other existing file is left alone
 * (-EEXIST).  The socket is made 0666: who may do what is decided from
 * the peer credentials of each call, with a clear error, not by the file
 * mode.  The path is unlinked again by server_free().
 */
int server_listen_path(struct server *s, const char *path, char **err);
/* Listen on an already listening UNIX stream socket (taken over, closed by server_free). */
int server_listen_fd(struct server *s, int fd, char **err);
/*
 * Take the socket systemd passed (sd_listen_fds): 1 and listening when
 * there was one, 0 when the daemon was not socket-activated, -errno when
 * what systemd passed is not a single listening UNIX stream socket.
 */
int server_listen_systemd(struct server *s, char **err);

/*
 * Serve a connected UNIX stream socket as if it had been accepted (the
 * limits and SO_PEERCRED apply as to any connection).  On success the
 * server owns fd; on failure (-EUSERS, -ENOMEM, another -errno) the caller
 * still does.  For a socketpair made in the process, as the fuzzer does.
 */
int server_add_connection(struct server *s, int fd);

/* Connections open now. */
size_t server_n_connections(const struct server *s);

/* ---- calls ---------------------------------------------------------------- */

const struct vl_request *server_call_request(const struct server_call *call);
const struct server_peer *server_call_peer(const struct server_call *call);

/*
 * Send a reply.  continues=true is only allowed when the call was made with
 * "more" (-EINVAL otherwise) and keeps the call open; continues=false
 * finishes it.  For a "oneway" call nothing is sent, but the call must
 * still be finished.  -ECONNRESET when the connection is gone (the call is
 * still finished by a final reply); -EMSGSIZE when the reply is larger
 * than the reply limit (an InternalError is sent instead and the call is
 * finished).  params NULL means {}; no reference is taken.
 */
int server_call_reply(struct server_call *call, struct json_object *params, bool continues);
/* Send an error reply and finish the call (same return values). */
int server_call_error(struct server_call *call, const char *error, struct json_object *params);

/*
 * Be told when the peer disconnects (or the server shuts down) while the
 * call is unfinished.  After fn returns, the call pointer is invalid.
 */
void server_call_on_disconnect(struct server_call *call,
                               void (*fn)(struct server_call *call, void *userdata),
                               void *userdata);

/*
 * Bytes of replies queued on the call's connection that the peer has not
 * read yet (0 once the connection is gone), for streams that bound their
 * own backlog.
 */
size_t server_call_output_pending(const struct server_call *call);

/*
 * Close the call's connection once the call is finished and what is
 * queued has been written, or after the drain timeout if the peer does
 * not read it: no further request on it is read or answered.  For a peer
 * that misbehaves in a way that is not a protocol error (a monitor that
 * does not keep up): finish the call with an error saying why afterwards.
 */
void server_call_close_connection(struct server_call *call);

/* Opaque per-call slot for the dispatcher (for example the method's table entry). */
void server_call_set_data(struct server_call *call, void *data);

#endif
