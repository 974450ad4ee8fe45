/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the Varlink server path: each input is the byte
 * stream one client sends on one connection (framing, JSON, the request
 * envelope, IDL validation, permission checks, dispatch, the real handlers
 * of org.varlink.service, io.assignd.Broker and io.assignd.Simulator on
 * the simulated hypervisor).  The bytes go through a socketpair into the
 * daemon's own server (server_add_connection), which runs on its own
 * event loop until the connection is gone.
 *
 * The oracle, besides the sanitizers: every reply is a NUL-terminated
 * message that is valid UTF-8 and strict JSON of the reply shape; the
 * connection ends once the client has closed its end; nothing is left
 * half-sent.
 *
 * The world (database, inventory of the demo board, simulator, engine,
 * dispatch, server) is built once in a scratch directory (/dev/shm when
 * there is one: durable SQLite commits cost nothing there) and saved;
 * after an input that changed anything (the database's data_version, the
 * simulator's state file, a failpoint armed, a partial DTB written), it
 * is rebuilt from the saved copy, so that every input starts from the same
 * state and a crash replays from its file alone.  Crash failpoints would
 * end the process as kill -9 does: the harness answers those calls itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "broker.h"
#include "classify.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "events.h"
#include "hv.h"
#include "inventory.h"
#include "limit.h"
#include "log.h"
#include "monitor.h"
#include "recovery.h"
#include "server.h"
#include "service.h"
#include "simulator.h"
#include "utf8.h"
#include "varlink.h"
#include "watch.h"

#ifndef FUZZ_DTB
#error "FUZZ_DTB (the host DTB the world is built from) must be defined"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Event loop turns an input may take; far more than any input needs. */
#define MAX_TURNS 20000
/* Reply bytes kept while a message is incomplete (the server caps replies lower). */
#define MAX_REPLY (LIMIT_REPLY_SIZE + 1)

struct world {
        char dir[256];
        char db[300], sim[300], guests[300], saved_db[300], saved_sim[300];
        struct classify_tables *tables;
        struct db *dbh;
        struct inventory *inv;
        struct hv *hv;
        struct events *events;
        struct engine *engine;
        struct watch *watch;
        struct event_base *base;
        struct dispatch *dispatch;
        struct server *server;
        sqlite3 *probe;                 /* a second connection, for data_version */
        long long data_version;
        struct stat sim_st;
        bool failpoint_armed;
        gid_t gid;                      /* the group the grants name */
};

static struct world W;

static void die(const char *what, const char *why)
{
        fprintf(stderr, "fuzz-varlink: %s: %s\n", what, why ? why : "?");
        abort();
}

static int copy_file(const char *from, const char *to)
{
        char buf[65536];
        int in = open(from, O_RDONLY | O_CLOEXEC), out;
        ssize_t n;

        if (in < 0)
                return -errno;
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0) {
                close(in);
                return -errno;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n) {
                        n = -1;
                        break;
                }
        close(in);
        close(out);
        return n < 0 ? -EIO : 0;
}

static void remove_guest_files(void)
{
        DIR *d = opendir(W.guests);
        struct dirent *e;
        char path[600];

        if (!d)
                return;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.') {
                        snprintf(path, sizeof(path), "%s/%s", W.guests, e->d_name);
                        unlink(path);
                }
        closedir(d);
}

static bool guest_files_written(void)
{
        DIR *d = opendir(W.guests);
        struct dirent *e;
        bool any = false;

        if (!d)
                return false;
        while (!any && (e = readdir(d)))
                any = e->d_name[0] != '.';
        closedir(d);
        return any;
}

/*
 * Calls go through here before the real dispatcher: a crash failpoint
 * would end the fuzzer as kill -9 ends the daemon, so it is refused, and
 * any other failpoint marks the world for a rebuild (they live in memory).
 */
static void fuzz_dispatch(struct server_call *call, void *userdata)
{
        const struct vl_request *req = server_call_request(call);

        if (strcmp(req->method, "io.assignd.Simulator.SetFailpoint") == 0) {
                struct json_object *a = json_object_object_get(req->parameters, "action");
                const char *action = json_object_is_type(a, json_type_string)
                                             ? json_object_get_string(a)
                                             : "";

                if (strncmp(action, "crash", 5) == 0) {
                        struct json_object *p = json_object_new_object();

                        json_object_object_add(p, "parameter", json_object_new_string("action"));
                        server_call_error(call, "org.varlink.service.InvalidParameter", p);
                        json_object_put(p);
                        return;
                }
                W.failpoint_armed = true;
        }
        dispatch_call(call, userdata);
}

static long long data_version(void)
{
        sqlite3_stmt *st = NULL;
        long long v = -1;

        if (sqlite3_prepare_v2(W.probe, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static void world_open(void)
{
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ const char **protected = NULL;
        struct inventory_dom0_counts c;
        struct server_limits limits;
        struct dispatch_context ctx;
        struct hv_options o;
        bool rescanned = false;
        int r;

        if (copy_file(W.saved_db, W.db) < 0 || copy_file(W.saved_sim, W.sim) < 0)
                die("restore", strerror(errno));
        remove_guest_files();
        r = db_open(W.db, &W.dbh, &err);
        if (r < 0)
                die("db_open", err);
        r = inventory_open(W.dbh, FUZZ_DTB, W.tables, &W.inv, &rescanned, &err);
        if (r < 0)
                die("inventory_open", err);
        hv_options_init(&o);
        o.state_path = W.sim;
        if (hv_options_set_platform_from_dt(&o, inventory_dt(W.inv), &protected) < 0)
                die("platform", "out of memory");
        r = hv_open("sim", &o, &W.hv, &err);
        if (r < 0)
                die("hv_open", err);
        if (inventory_check_dom0_hidden(W.inv, W.hv, &c, &err) < 0)
                die("dom0 check", err);
        if (events_new(LIMIT_EVENT_RING, &W.events) < 0)
                die("events", "out of memory");
        if (engine_new(W.inv, W.hv,
                       &(struct engine_options){ .guest_dir = W.guests }, &W.engine) < 0)
                die("engine", "out of memory");
        engine_set_events(W.engine, W.events);
        if (recovery_reconcile(W.engine, &err) < 0)
                die("reconcile", err);
        if (watch_new(W.hv, W.engine, W.events, &W.watch, &err) < 0)
                die("watch", err);
        W.base = event_base_new();
        if (!W.base)
                die("event base", "out of memory");
        /* Not root (a developer's run): the caller's own group may read and write. */
        ctx = (struct dispatch_context){
                .inv = W.inv,
                .engine = W.engine,
                .hv = W.hv,
                .events = W.events,
                .watch = W.watch,
                .backend = hv_backend_name(W.hv),
                .dtb_path = FUZZ_DTB,
                .started_at = 1,
        };
        W.gid = getgid();
        ctx.grants[DISPATCH_WRITE] = (struct dispatch_grant){ .gids = &W.gid, .n_gids = 1 };
        r = dispatch_new(&ctx, &W.dispatch, &err);
        if (r >= 0)
                r = service_register(W.dispatch, &err);
        if (r >= 0)
                r = broker_register(W.dispatch, &err);
        if (r >= 0)
                r = monitor_register(W.dispatch, &err);
        if (r >= 0)
                r = simulator_register(W.dispatch, W.hv, &err);
        if (r < 0)
                die("dispatch", err);
        server_limits_default(&limits);
        if (server_new(W.base, &limits, fuzz_dispatch, W.dispatch, &W.server) < 0)
                die("server", "out of memory");
        ctx.server = W.server;
        dispatch_set_context(W.dispatch, &ctx);

        if (sqlite3_open_v2(W.db, &W.probe, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                die("probe", sqlite3_errmsg(W.probe));
        W.data_version = data_version();
        if (stat(W.sim, &W.sim_st) < 0)
                die("sim state", strerror(errno));
        W.failpoint_armed = false;
}

static void world_close(void)
{
        sqlite3_close(W.probe);
        W.probe = NULL;
        server_free(W.server);
        dispatch_free(W.dispatch);
        watch_free(W.watch);
        event_base_free(W.base);
        engine_free(W.engine);
        events_free(W.events);
        hv_free(W.hv);
        inventory_free(W.inv);
        db_close(W.dbh);
        W.server = NULL;
        W.dispatch = NULL;
        W.watch = NULL;
        W.base = NULL;
        W.engine = NULL;
        W.events = NULL;
        W.hv = NULL;
        W.inv = NULL;
        W.dbh = NULL;
}

static bool world_changed(void)
{
        struct stat st;

        if (W.failpoint_armed || data_version() != W.data_version || guest_files_written())
                return true;
        if (stat(W.sim, &st) < 0)
                return true;
        return st.st_size != W.sim_st.st_size || st.st_mtim.tv_sec != W.sim_st.st_mtim.tv_sec ||
               st.st_mtim.tv_nsec != W.sim_st.st_mtim.tv_nsec;
}

static void remove_world_dir(void)
{
        char path[600];

        if (!W.dir[0])
                return;
        remove_guest_files();
        rmdir(W.guests);
        for (const char *const *n = (const char *const[]){ "inventory.db", "inventory.db-wal",
                                                           "inventory.db-shm", "sim-state.json",
                                                           "saved.db", "saved-sim.json", NULL };
             *n; n++) {
                snprintf(path, sizeof(path), "%s/%s", W.dir, *n);
                unlink(path);
        }
        rmdir(W.dir);
}

/* The first world: scan the DTB into a new database, then keep its files as the saved state. */
static void world_init(void)
{
        const char *base = getenv("FUZZ_TMPDIR");
        _cleanup_free_ char *err = NULL;
        struct hv *hv = NULL;
        struct hv_options o;
        bool rescanned = false;

        if (!base)
                base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(W.dir, sizeof(W.dir), "%s/assignd-fuzz-varlink-XXXXXX", base);
        if (!mkdtemp(W.dir))
                die("mkdtemp", strerror(errno));
        atexit(remove_world_dir);
        snprintf(W.db, sizeof(W.db), "%s/inventory.db", W.dir);
        snprintf(W.sim, sizeof(W.sim), "%s/sim-state.json", W.dir);
        snprintf(W.guests, sizeof(W.guests), "%s/guests", W.dir);
        snprintf(W.saved_db, sizeof(W.saved_db), "%s/saved.db", W.dir);
        snprintf(W.saved_sim, sizeof(W.saved_sim), "%s/saved-sim.json", W.dir);
        if (!getenv("FUZZ_LOG"))
                log_set_level(LOG_CRIT);

        if (classify_tables_new(&W.tables) < 0)
                die("classify tables", "out of memory");
        if (db_open(W.db, &W.dbh, &err) < 0)
                die("db_open", err);
        if (inventory_open(W.dbh, FUZZ_DTB, W.tables, &W.inv, &rescanned, &err) < 0)
                die("inventory_open " FUZZ_DTB, err);
        hv_options_init(&o);
        o.state_path = W.sim;
        {
                _cleanup_free_ const char **protected = NULL;

                if (hv_options_set_platform_from_dt(&o, inventory_dt(W.inv), &protected) < 0 ||
                    hv_open("sim", &o, &hv, &err) < 0)
                        die("hv_open", err);
        }
        hv_free(hv);
        inventory_free(W.inv);
        W.inv = NULL;
        db_close(W.dbh);
        W.dbh = NULL;
        if (copy_file(W.db, W.saved_db) < 0 || copy_file(W.sim, W.saved_sim) < 0)
                die("save", strerror(errno));
        world_open();
}

/* Each complete reply must be UTF-8 strict JSON of the reply shape. */
static void check_reply(const char *msg, size_t len)
{
        struct json_object *o = NULL, *v;
        char *err = NULL;

        if (!utf8_valid(msg, len))
                die("reply", "not valid UTF-8");
        if (strlen(msg) != len)
                die("reply", "a NUL inside a message");
        if (vl_parse_json(msg, &o, &err) < 0)
                die("reply is not JSON", err);
        if (!json_object_is_type(o, json_type_object))
                die("reply", "not an object");
        json_object_object_foreach(o, key, val) {
                if (strcmp(key, "parameters") == 0 && json_object_is_type(val, json_type_object))
                        continue;
                if (strcmp(key, "error") == 0 && json_object_is_type(val, json_type_string))
                        continue;
                if (strcmp(key, "continues") == 0 && json_object_is_type(val, json_type_boolean))
                        continue;
                die("reply has an unexpected member", key);
        }
        if (!json_object_object_get_ex(o, "parameters", &v))
                die("reply", "no parameters");
        json_object_put(o);
}

struct replies {
        char *buf;
        size_t len;
};

/* Read what the server sent; check and drop every complete message.  Whether anything came. */
static bool drain(int fd, struct replies *r)
{
        bool got = false;

        for (;;) {
                char chunk[65536];
                ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
                size_t start = 0;
                char *nb;

                if (n <= 0)
                        return got;
                got = true;
                if (r->len + (size_t)n > MAX_REPLY)
                        die("reply", "larger than the reply limit, or not terminated");
                nb = realloc(r->buf, r->len + (size_t)n + 1);
                if (!nb)
                        die("reply", "out of memory");
                r->buf = nb;
                memcpy(r->buf + r->len, chunk, (size_t)n);
                r->len += (size_t)n;
                for (size_t i = 0; i < r->len; i++)
                        if (r->buf[i] == '\0') {
                                check_reply(r->buf + start, i - start);
                                start = i + 1;
                        }
                memmove(r->buf, r->buf + start, r->len - start);
                r->len -= start;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct replies replies = { 0 };
        size_t sent = 0;
        bool shut = false, closed = false;
        int sv[2];
        int turn;

        if (!W.server)
                world_init();
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair", strerror(errno));
        if (server_add_connection(W.server, sv[0]) < 0)
                die("server_add_connection", "refused");

        for (turn = 0; turn < MAX_TURNS && server_n_connections(W.server) > 0; turn++) {
                if (sent < size) {
                        ssize_t n = send(sv[1], data + sent, size - sent,
                                         MSG_DONTWAIT | MSG_NOSIGNAL);

                        if (n > 0)
                                sent += (size_t)n;
                        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                                sent = size;    /* the server closed: it said why, or will */
                }
                if (sent == size && !shut) {
                        /* As socat does: nothing more to say, still listening. */
                        shutdown(sv[1], SHUT_WR);
                        shut = true;
                }
                event_base_loop(W.base, EVLOOP_NONBLOCK);
                drain(sv[1], &replies);
                /* A client that stops reading gets closed: close ours fully once it is all sent. */
                if (shut && !closed && turn > MAX_TURNS / 2) {
                        close(sv[1]);
                        closed = true;
                }
        }
        if (server_n_connections(W.server) > 0)
                die("connection", "still open after the client closed its end");
        if (!closed) {
                drain(sv[1], &replies);
                close(sv[1]);
        }
        if (replies.len)
                die("reply", "the last message has no terminating NUL");
        free(replies.buf);

        if (world_changed()) {
                world_close();
                world_open();
        }
        return 0;
}
