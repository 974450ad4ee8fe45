/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Varlink socket server.  Each connection is a small state machine
 * (open -> draining -> dead) with its own input buffer, a queue of parsed
 * calls, at most one call in progress (Varlink answers calls on one
 * connection in order) and a bounded output buffer.  Every limit of
 * limit.h is checked before the descriptor or memory it guards is taken;
 * a client that breaks one, or sends something that is not a Varlink
 * call, loses its own connection and nothing else.  Connections are freed
 * from a deferred event, never from inside a callback that may still be
 * using them, so handlers can reply, and peers can vanish, at any time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "limit.h"
#include "log.h"
#include "server-private.h"

enum conn_state {
        CONN_OPEN,      /* reading and answering calls */
        CONN_DRAINING,  /* a protocol error was queued: no more reading, close once flushed */
        CONN_DEAD,      /* waiting to be freed by the deferred process event */
};

struct conn;

struct server_call {
        struct server *server;
        struct conn *conn;              /* NULL once the connection is gone */
        struct server_call *next;       /* pending queue */
        struct vl_request req;
        char *protocol_error;           /* a queued protocol error instead of a call */
        bool finished;
        bool in_dispatch;
        void (*on_disconnect)(struct server_call *call, void *userdata);
        void *disconnect_userdata;
        void *data;
};

struct conn {
        struct server *server;
        struct conn *prev, *next;
        enum conn_state state;
        bool eof;                       /* the peer will send nothing more */
        int fd;
        unsigned long id;
        struct server_peer peer;

        struct vl_rbuf in;
        char *out;
        size_t out_off, out_len, out_cap;

        struct server_call *current;
        struct server_call *pending_head, *pending_tail;
        size_t n_pending;

        /* Set up with event_assign() in the same allocation as the connection. */
        struct event *read_ev, *write_ev, *idle_ev, *process_ev;
        bool events_set;
        bool idle_armed;
        bool active;                    /* a call started since the idle clock was set */
        bool drain_fast;                /* closed by server_call_close_connection */
        bool counted;                   /* in the server's list and counts */
};


/* Where a connection's events start in its allocation. */
#define CONN_EVENTS_AT                                                                   \
        ((sizeof(struct conn) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

void server_limits_default(struct server_limits *l)
{
        *l = (struct server_limits){
                .connections = LIMIT_CONNECTIONS,
                .connections_root_reserve = LIMIT_CONNECTIONS_ROOT_RESERVE,
                .connections_per_uid = LIMIT_CONNECTIONS_PER_UID,
                .pending_calls = LIMIT_PENDING_CALLS,
                .output_backlog = LIMIT_OUTPUT_BACKLOG,
                .output_low_water = LIMIT_OUTPUT_LOW_WATER,
                .reply_size = LIMIT_REPLY_SIZE,
                .idle_timeout_msec = LIMIT_IDLE_TIMEOUT_SEC * 1000u,
                .accept_pause_msec = LIMIT_ACCEPT_PAUSE_MSEC,
                .drain_timeout_msec = LIMIT_DRAIN_TIMEOUT_MSEC,
        };
}

void server_set_limits(struct server *s, const struct server_limits *l)
{
        s->lim = *l;
}

bool server_peer_in_group(const struct server_peer *peer, gid_t gid)
{
        if (peer->gid == gid)
                return true;
        for (size_t i = 0; i < peer->n_groups; i++)
                if (peer->groups[i] == gid)
                        return true;
        return false;
}

static struct timeval msec_tv(unsigned msec)
{
        return (struct timeval){ .tv_sec = msec / 1000, .tv_usec = (msec % 1000) * 1000 };
}

/* ---- calls ---------------------------------------------------------------- */

static void call_free(struct server_call *call)
{
        if (!call)
                return;
        vl_request_clear(&call->req);
        free(call->protocol_error);
        free(call);
}

const struct vl_request *server_call_request(const struct server_call *call)
{
        return &call->req;
}

const struct server_peer *server_call_peer(const struct server_call *call)
{
        static const struct server_peer nobody = { .uid = (uid_t)-1, .gid = (gid_t)-1,
                                                   .pid = 0 };

        return call->conn ? &call->conn->peer : &nobody;
}

void server_call_on_disconnect(struct server_call *call,
                               void (*fn)(struct server_call *call, void *userdata),
                               void *userdata)
{
        call->on_disconnect = fn;
        call->disconnect_userdata = userdata;
}

size_t server_call_output_pending(const struct server_call *call)
{
        const struct conn *c = call->conn;

        return c && c->state != CONN_DEAD ? c->out_len - c->out_off : 0;
}

static struct server_call *conn_dequeue(struct conn *c);

void server_call_close_connection(struct server_call *call)
{
        struct conn *c = call->conn;
        struct server_call *p;

        if (!c || c->state != CONN_OPEN)
                return;
        c->state = CONN_DRAINING;
        c->drain_fast = true;
        event_del(c->read_ev);
        /* Requests pipelined behind this call are not answered. */
        while ((p = conn_dequeue(c)))
                call_free(p);
}

void server_call_set_data(struct server_call *call, void *data)
{
        call->data = data;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_schedule(struct conn *c)
{
        event_active(c->process_ev, EV_TIMEOUT, 0);
}

/* Mark the connection for freeing; the deferred process event does it. */
static void conn_kill(struct conn *c, const char *why)
{
        if (c->state == CONN_DEAD)
                return;
        log_debug("connection %lu (uid %u pid %d): closing: %s", c->id, (unsigned)c->peer.uid,
                  (int)c->peer.pid, why);
        c->state = CONN_DEAD;
        event_del(c->read_ev);
        event_del(c->write_ev);
        event_del(c->idle_ev);
        conn_schedule(c);
}

static int uid_add(struct server *s, uid_t uid, int delta);
/* The peer is gone for an unfinished call: its handler learns of it, then the call goes. */
static void call_abandon(struct server_call *call)
{
        call->conn = NULL;
        if (call->on_disconnect)
                call->on_disconnect(call, call->disconnect_userdata);
        call_free(call);
}

static void conn_free(struct conn *c)
{
        struct server *s;
        struct server_call *call;

        if (!c)
                return;
        s = c->server;

        call = c->current;
        c->current = NULL;
        if (call)
                call_abandon(call);
        while (c->pending_head) {
                call = c->pending_head;
                c->pending_head = call->next;
                call_free(call);
        }

        if (c->prev)
                c->prev->next = c->next;
        else if (s && s->conns == c)
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (s && c->counted) {
                s->n_conns--;
                uid_add(s, c->peer.uid, -1);
        }

        if (c->events_set) {
                event_del(c->read_ev);
                event_del(c->write_ev);
                event_del(c->idle_ev);
                event_del(c->process_ev);
        }
        if (c->fd >= 0)
                close(c->fd);
        vl_rbuf_clear(&c->in);
        free(c->out);
        free(c->peer.groups);
        free(c);
}

static size_t conn_out_pending(const struct conn *c)
{
        return c->out_len - c->out_off;
}

static void conn_flush(struct conn *c)
{
        while (c->state != CONN_DEAD && conn_out_pending(c) > 0) {
                ssize_t n = send(c->fd, c->out + c->out_off, conn_out_pending(c),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK) {
                                event_add(c->write_ev, NULL);
                                return;
                        }
                        conn_kill(c, strerror(errno));
                        return;
                }
                c->out_off += (size_t)n;
        }
        if (c->state == CONN_DEAD)
                return;

        event_del(c->write_ev);
        c->out_off = c->out_len = 0;
        /* An idle connection keeps no buffer: it costs its events and itself, under 1 KiB. */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
        /* Calls held back by the low-water mark, or a drain that is now complete. */
        conn_schedule(c);
}

/*
 * Queue one message (and its NUL) for the peer.  The backlog limit is
 * checked before the buffer grows; a peer that lets replies pile up is
 * not reading and is disconnected.  A message (malloc'd, n bytes and its
 * NUL) for a connection with nothing waiting becomes its buffer: a large
 * reply is not copied again.
 */
static int conn_send(struct conn *c, const char *msg);

static int conn_send_owned(struct conn *c, char *msg, size_t n)
{
        int r;

        if (c->state == CONN_DEAD || conn_out_pending(c) > 0 || c->out) {
                r = conn_send(c, msg);
                free(msg);
                return r;
        }
        c->out = msg;
        c->out_cap = c->out_len = n + 1;
        c->out_off = 0;
        conn_flush(c);
        return c->state == CONN_DEAD ? -ECONNRESET : 0;
}

static int conn_send(struct conn *c, const char *msg)
{
        const struct server_limits *lim = &c->server->lim;
        size_t len = strlen(msg) + 1, pending = conn_out_pending(c);

        if (c->state == CONN_DEAD)
                return -ECONNRESET;
        if (pending > 0 && pending + len > lim->output_backlog) {
                log_notice("connection %lu (uid %u pid %d): more than %zu bytes of replies "
                           "unread, disconnecting",
                           c->id, (unsigned)c->peer.uid, (int)c->peer.pid, lim->output_backlog);
                conn_kill(c, "output backlog limit");
                return -ECONNRESET;
        }

        if (c->out_off > 0) {
                memmove(c->out, c->out + c->out_off, pending);
                c->out_len = pending;
                c->out_off = 0;
        }
        if (c->out_len + len > c->out_cap) {
                size_t ncap = c->out_cap ? c->out_cap : 4096;
                char *p;

                while (ncap < c->out_len + len)
                        ncap *= 2;
                p = realloc(c->out, ncap);
                if (!p) {
                        conn_kill(c, "out of memory");
                        return -ENOMEM;
                }
                c->out = p;
                c->out_cap = ncap;
        }
        memcpy(c->out + c->out_len, msg, len);
        c->out_len += len;
        conn_flush(c);
        return c->state == CONN_DEAD ? -ECONNRESET : 0;
}

/* A call is done: let the connection move on to the next one. */
static void call_finish(struct server_call *call)
{
        struct conn *c = call->conn;

        call->finished = true;
        if (call->in_dispatch)
                return; /* conn_process frees it when dispatch returns */
        if (c) {
                if (c->current == call)
                        c->current = NULL;
                conn_schedule(c);
                call_free(call);
        }
        /* Without a connection, conn_free owns the call and frees it after on_disconnect. */
}

static int call_send(struct server_call *call, char *msg, size_t len, bool final)
{
        struct conn *c = call->conn;
        int r = 0;

        if (msg && len == SIZE_MAX)
                len = strlen(msg);
        if (!msg) {
                r = -ENOMEM;
        } else if (!c) {
                r = -ECONNRESET;
        } else if (len > c->server->lim.reply_size) {
                _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();

                log_error("reply to %s is %zu bytes, more than the %zu allowed",
                          call->req.method, len, c->server->lim.reply_size);
                free(msg);
                json_object_object_add(p, "message",
                                       json_object_new_string("the reply is too large to send"));
                msg = vl_error_serialize("io.assignd.Broker.InternalError", p);
                if (!call->req.oneway && msg)
                        conn_send(c, msg);
                final = true;
                r = -EMSGSIZE;
        } else if (!call->req.oneway) {
                r = conn_send_owned(c, msg, len);
                msg = NULL;
        }
        free(msg);
        if (final && c)
                call_finish(call);
        return r;
}

int server_call_reply(struct server_call *call, struct json_object *params, bool continues)
{
        size_t len = 0;
        char *msg;

        if (call->finished)
                return -EALREADY;
        if (continues && !call->req.more)
                return -EINVAL;
        msg = vl_reply_serialize_len(params, continues, &len);
        return call_send(call, msg, msg ? len : SIZE_MAX, !continues);
}

int server_call_error(struct server_call *call, const char *error, struct json_object *params)
{
        if (call->finished)
                return -EALREADY;
        return call_send(call, vl_error_serialize(error, params), SIZE_MAX, true);
}

static void conn_queue(struct conn *c, struct server_call *call)
{
        call->next = NULL;
        if (c->pending_tail)
                c->pending_tail->next = call;
        else
                c->pending_head = call;
        c->pending_tail = call;
        c->n_pending++;
}

static struct server_call *conn_dequeue(struct conn *c)
{
        struct server_call *call = c->pending_head;

        if (call) {
                c->pending_head = call->next;
                if (!c->pending_head)
                        c->pending_tail = NULL;
                c->n_pending--;
                call->next = NULL;
        }
        return call;
}

/*
 * End a stream ("more") in progress as if its peer had gone: only its
 * handler ends it, so it would hold a protocol error queued behind it, and
 * the connection (reading has stopped: not even a close is seen), for good.
 */
static void conn_end_stream(struct conn *c)
{
        struct server_call *call = c->current;

        if (call && call->req.more && !call->in_dispatch) {
                c->current = NULL;
                call_abandon(call);
        }
}

/*
 * Queue a protocol error behind the calls already queued, so that replies
 * still come out in order; reading stops for good, and a stream ends.
 */
static void conn_protocol_error(struct conn *c, const char *why)
{
        struct server_call *call = calloc(1, sizeof(*call));

        log_notice("connection %lu (uid %u pid %d): protocol error: %s", c->id,
                   (unsigned)c->peer.uid, (int)c->peer.pid, why);
        c->state = CONN_DRAINING;
        event_del(c->read_ev);
        conn_end_stream(c);
        if (!call || !(call->protocol_error = strdup(why))) {
                free(call);
                conn_kill(c, "out of memory");
                return;
        }
        call->server = c->server;
        call->conn = c;
        conn_queue(c, call);
}

/* Queue the call of one complete message (NUL-terminated); false once the connection broke. */
static bool conn_take(struct conn *c, const char *msg)
{
        _cleanup_free_ char *err = NULL;
        struct server_call *call = calloc(1, sizeof(*call));
        int r;

        if (!call) {
                conn_kill(c, "out of memory");
                return false;
        }
        r = vl_request_parse_with(c->server->tok, msg, &call->req, &err);
        if (r < 0) {
                free(call);
                conn_protocol_error(c, err ? err : "cannot parse the request");
                return false;
        }
        call->server = c->server;
        call->conn = c;
        conn_queue(c, call);
        return true;
}

/* Whether another message may be queued now. */
static bool conn_has_room(const struct conn *c)
{
        return c->state == CONN_OPEN && c->n_pending < c->server->lim.pending_calls;
}

/* Take complete messages out of the input buffer while the queue has room. */
static void conn_parse_input(struct conn *c)
{
        while (conn_has_room(c)) {
                _cleanup_free_ char *msg = NULL;
                int r;

                r = vl_rbuf_next(&c->in, &msg);
                if (r < 0) {
                        conn_kill(c, "out of memory");
                        return;
                }
                if (r == 0 || !conn_take(c, msg))
                        return;
        }
}

/*
 * Read for a connection with nothing buffered, into the server's scratch
 * buffer: whole messages are taken from there, and only what is left
 * (the start of a message, or what the queue has no room for yet) is
 * kept by the connection.  At most SERVER_READ_CHUNK bytes a time, as
 * vl_rbuf_read() reads at first: a peer pipelining hundreds of calls
 * gets a few dozen answered per wakeup, and everybody else their turn in
 * between.  As vl_rbuf_read() returns.
 */
static int conn_read_direct(struct conn *c)
{
        char *p = c->server->scratch, *end;
        ssize_t n;

        do
                n = read(c->fd, p, SERVER_READ_CHUNK);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
                return 0;
        end = p + n;
        while (p < end && conn_has_room(c)) {
                char *nul = memchr(p, 0, (size_t)(end - p));

                if (!nul || !conn_take(c, p))
                        break;
                p = nul + 1;
        }
        if (p < end && c->state == CONN_OPEN)
                return vl_rbuf_put(&c->in, p, (size_t)(end - p)) < 0 ? -EMSGSIZE : (int)n;
        return (int)n;
}

static void send_protocol_error(struct conn *c, const char *why)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = json_object_new_object();
        _cleanup_free_ char *msg = NULL;

        if (p)
                json_object_object_add(p, "message", json_object_new_string(why));
        msg = vl_error_serialize(SERVER_ERR_PROTOCOL, p);
        if (msg)
                conn_send(c, msg);
}

static void conn_update_events(struct conn *c)
{
        const struct server_limits *lim = &c->server->lim;
        bool idle;

        if (c->state == CONN_DEAD)
                return;

        if (c->state == CONN_OPEN && !c->eof && c->n_pending < lim->pending_calls)
                event_add(c->read_ev, NULL);
        else
                event_del(c->read_ev);

        /* Idle: nothing in progress or queued.  A draining connection uses the same clock. */
        idle = !c->current && c->n_pending == 0;
        if (c->state == CONN_DRAINING)
                idle = true;
        if (idle && (!c->idle_armed || c->active)) {
                struct timeval tv = msec_tv(c->drain_fast ? lim->drain_timeout_msec
                                                          : lim->idle_timeout_msec);

                event_add(c->idle_ev, &tv);
                c->idle_armed = true;
                c->active = false;
        } else if (!idle && c->idle_armed) {
                event_del(c->idle_ev);
                c->idle_armed = false;
        }
}

static void conn_process(struct conn *c)
{
        struct server *s = c->server;

        if (c->state == CONN_DEAD) {
                conn_free(c);
                return;
        }

        conn_parse_input(c);

        while (c->state != CONN_DEAD && !c->current && c->pending_head &&
               conn_out_pending(c) <= s->lim.output_low_water) {
                struct server_call *call = conn_dequeue(c);

                if (call->protocol_error) {
                        send_protocol_error(c, call->protocol_error);
                        call_free(call);
                        /* Whatever was queued after a broken message is not answered. */
                        while ((call = conn_dequeue(c)))
                                call_free(call);
                        break;
                }

                c->current = call;
                c->active = true;
                call->in_dispatch = true;
                s->dispatch(call, s->userdata);
                call->in_dispatch = false;
                if (call->finished) {
                        c->current = NULL;
                        call_free(call);
                        /* Room in the queue again: take more buffered messages. */
                        conn_parse_input(c);
                } else if (c->state == CONN_DRAINING) {
                        /* A protocol error waits behind this stream: it must not wait forever. */
                        conn_end_stream(c);
                }
        }

        if (c->state == CONN_DEAD) {
                conn_free(c);
                return;
        }

        /* A peer that stopped sending (or a drained protocol error) is done once answered. */
        if ((c->eof || c->state == CONN_DRAINING) && !c->current && !c->pending_head &&
            conn_out_pending(c) == 0) {
                conn_kill(c, c->eof ? "peer closed"
                             : c->drain_fast ? "closed after a final error" : "protocol error");
                conn_free(c);
                return;
        }
        conn_update_events(c);
}

static void on_process(evutil_socket_t fd, short what, void *userdata)
{
        conn_process(userdata);
}

static void on_read(evutil_socket_t fd, short what, void *userdata)
{
        struct conn *c = userdata;
        int r;

        if (c->in.len == 0 && c->state == CONN_OPEN)
                r = conn_read_direct(c);
        else
                r = vl_rbuf_read(&c->in, c->fd);
        if (r == -EAGAIN || r == -ENOBUFS)
                return;
        if (r == -EMSGSIZE) {
                char why[96];

                snprintf(why, sizeof(why), "message larger than %u bytes", VL_MAX_MESSAGE);
                /* Calls that arrived whole before it are still answered, in order. */
                conn_parse_input(c);
                if (c->state == CONN_OPEN)
                        conn_protocol_error(c, why);
                vl_rbuf_clear(&c->in);
        } else if (r == 0) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

                c->eof = true;
                /*
                 * A peer that only shut down its sending side (socat, shell
                 * pipelines) still waits for its answers; one that closed the
                 * socket does not, and its unfinished call must hear of it now,
                 * not when the reply fails.  On a UNIX socket only the full
                 * close raises POLLHUP.
                 */
                if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
                        conn_kill(c, "peer closed");
                /* A stream nobody can ask to stop is a stream nobody reads. */
                else if (c->current && c->current->req.more)
                        conn_kill(c, "peer closed during a \"more\" call");
        } else if (r < 0) {
                conn_kill(c, strerror(-r));
        }
        conn_process(c);
}

static void on_write(evutil_socket_t fd, short what, void *userdata)
{
        conn_flush(userdata);
}

static void on_idle(evutil_socket_t fd, short what, void *userdata)
{
        struct conn *c = userdata;

        c->idle_armed = false;
        conn_kill(c, "idle timeout");
        conn_process(c);
}

/* ---- accepting ------------------------------------------------------------ */

static struct server_uid_count *uid_count(const struct server *s, uid_t uid)
{
        for (size_t i = 0; i < s->n_uids; i++)
                if (s->uids[i].uid == uid)
                        return &s->uids[i];
        return NULL;
}

static size_t count_uid(const struct server *s, uid_t uid)
{
        const struct server_uid_count *u = uid_count(s, uid);

        return u ? u->n : 0;
}

/* One connection more (+1) or less (-1) for uid; a uid with none leaves the list. */
static int uid_add(struct server *s, uid_t uid, int delta)
{
        struct server_uid_count *u = uid_count(s, uid);

        if (!u && delta > 0) {
                if (GROW(s->uids, s->cap_uids, s->n_uids) < 0)
                        return -ENOMEM;
                u = &s->uids[s->n_uids++];
                *u = (struct server_uid_count){ .uid = uid };
        }
        if (!u)
                return 0;
        u->n += (size_t)delta;
        if (u->n == 0)
                *u = s->uids[--s->n_uids];
        return 0;
}

static int peer_groups(int fd, struct server_peer *peer)
{
        gid_t buf[LIMIT_PEER_GROUPS];
        socklen_t len = sizeof(buf);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) < 0)
                return -errno;
        if (len == 0)
                return 0;
        peer->groups = malloc(len);
        if (!peer->groups)
                return -ENOMEM;
        memcpy(peer->groups, buf, len);
        peer->n_groups = len / sizeof(gid_t);
        return 0;
}

static int server_add_conn(struct server *s, int fd)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct conn *c;
        size_t esz;
        size_t limit;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;

        limit = s->lim.connections;
        if (cred.uid != 0)
                limit = limit > s->lim.connections_root_reserve
                                ? limit - s->lim.connections_root_reserve
                                : 0;
        if (s->n_conns >= limit) {
                log_notice("refusing connection from uid %u pid %d: %zu connections open",
                           (unsigned)cred.uid, (int)cred.pid, s->n_conns);
                return -EUSERS;
        }
        if (count_uid(s, cred.uid) >= s->lim.connections_per_uid) {
                log_notice("refusing connection from uid %u pid %d: it has %zu connections open",
                           (unsigned)cred.uid, (int)cred.pid, s->lim.connections_per_uid);
                return -EUSERS;
        }

        /*
         * One allocation for the connection and its four events (their size
         * is libevent's to say): an idle connection is this block alone.
         */
        esz = (event_get_struct_event_size() + _Alignof(max_align_t) - 1) &
              ~(_Alignof(max_align_t) - 1);
        c = calloc(1, CONN_EVENTS_AT + 4 * esz);
        if (!c)
                return -ENOMEM;
        c->read_ev = (struct event *)((char *)c + CONN_EVENTS_AT);
        c->write_ev = (struct event *)((char *)c->read_ev + esz);
        c->idle_ev = (struct event *)((char *)c->write_ev + esz);
        c->process_ev = (struct event *)((char *)c->idle_ev + esz);
        c->server = s;
        c->fd = fd;
        c->id = ++s->next_id;
        c->peer.uid = cred.uid;
        c->peer.gid = cred.gid;
        c->peer.pid = cred.pid;
        vl_rbuf_init(&c->in);

        r = peer_groups(fd, &c->peer);
        if (r < 0)
                /* Only the primary group counts for this caller then; say so once. */
                log_notice("uid %u pid %d: supplementary groups unavailable (%s); using the "
                           "primary group only",
                           (unsigned)cred.uid, (int)cred.pid, strerror(-r));

        if (event_assign(c->read_ev, s->base, fd, EV_READ | EV_PERSIST, on_read, c) < 0 ||
            event_assign(c->write_ev, s->base, fd, EV_WRITE | EV_PERSIST, on_write, c) < 0 ||
            event_assign(c->idle_ev, s->base, -1, 0, on_idle, c) < 0 ||
            event_assign(c->process_ev, s->base, -1, 0, on_process, c) < 0) {
                c->fd = -1; /* the caller closes it */
                c->server = NULL; /* never linked into the server */
                conn_free(c);
                return -ENOMEM;
        }
        c->events_set = true;

        if (uid_add(s, cred.uid, 1) < 0) {
                c->fd = -1; /* the caller closes it */
                c->server = NULL;
                conn_free(c);
                return -ENOMEM;
        }
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        c->counted = true;
        log_debug("connection %lu from uid %u gid %u pid %d", c->id, (unsigned)cred.uid,
                  (unsigned)cred.gid, (int)cred.pid);
        conn_update_events(c);
        return 0;
}

int server_add_connection(struct server *s, int fd)
{
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return server_add_conn(s, fd);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *userdata)
{
        struct server *s = userdata;

        event_add(s->listen_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *userdata)
{
        struct server *s = userdata;

        /* Bounded, so one burst of connections cannot starve existing clients. */
        for (int i = 0; i < 16; i++) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                struct timeval tv = msec_tv(s->lim.accept_pause_msec);

                                /* Retrying now would spin: nothing frees a descriptor by itself. */
                                if (!s->pause_logged)
                                        log_warning("accept: %s; pausing new connections "
                                                    "(retrying every %u ms)",
                                                    strerror(errno), s->lim.accept_pause_msec);
                                s->pause_logged = true;
                                event_del(s->listen_ev);
                                evtimer_add(s->pause_ev, &tv);
                                return;
                        }
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                log_error("accept: %s", strerror(errno));
                        return;
                }
                if (s->pause_logged) {
                        log_notice("accepting connections again");
                        s->pause_logged = false;
                }
                if (server_add_conn(s, fd) < 0)
                        close(fd);
        }
}

/* ---- setup ---------------------------------------------------------------- */

int server_new(struct event_base *base, const struct server_limits *limits,
               server_dispatch_fn dispatch, void *userdata, struct server **ret)
{
        struct server *s;

        if (!base || !dispatch)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->base = base;
        if (limits)
                s->lim = *limits;
        else
                server_limits_default(&s->lim);
        s->dispatch = dispatch;
        s->userdata = userdata;
        s->listen_fd = -1;
        s->pause_ev = evtimer_new(base, on_accept_resume, s);
        s->tok = json_tokener_new();
        s->scratch = malloc(SERVER_READ_CHUNK);
        if (!s->pause_ev || !s->tok || !s->scratch) {
                if (s->pause_ev)
                        event_free(s->pause_ev);
                if (s->tok)
                        json_tokener_free(s->tok);
                free(s->scratch);
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

void server_free(struct server *s)
{
        struct stat st;

        if (!s)
                return;
        while (s->conns)
                conn_free(s->conns);
        if (s->listen_ev)
                event_free(s->listen_ev);
        if (s->pause_ev)
                event_free(s->pause_ev);
        if (s->tok)
                json_tokener_free(s->tok);
        free(s->scratch);
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        /* Only remove the socket if it is still ours, not a successor's. */
        if (s->bound_path && lstat(s->bound_path, &st) == 0 && st.st_dev == s->bound_dev &&
            st.st_ino == s->bound_ino)
                unlink(s->bound_path);
        free(s->bound_path);
        free(s->uids);
        free(s);
}

size_t server_n_connections(const struct server *s)
{
        return s->n_conns;
}

int server_start_listening(struct server *s, int fd)
{
        s->listen_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_accept, s);
        if (!s->listen_ev)
                return -ENOMEM;
        s->listen_fd = fd;
        event_add(s->listen_ev, NULL);
        return 0;
}
