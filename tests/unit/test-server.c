/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The socket server and the dispatch layer in one process: the parent runs
 * the real server (server.c + dispatch.c, with shortened limits) on a
 * scratch socket, and a forked child plays the clients over raw sockets:
 * lookup and parameter errors, in-order answers to pipelined calls,
 * oneway, "more" streams, deferred replies and disconnects mid-call, every
 * connection limit, the idle timeout, oversized and malformed messages,
 * the output backlog, permissions of non-root callers, and the Broker
 * methods on a real inventory of the demo board (which also checks that
 * the inventory's JSON matches io.assignd.Broker.varlink).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "util.h"
#include "classify.h"
#include "db.h"
#include "inventory.h"
#include "log.h"
#include "broker.h"
#include "dispatch.h"
#include "engine.h"
#include "errors.h"
#include "hv.h"
#include "server.h"
#include "service.h"
#include "simulator.h"
#include "testlib.h"

#define TEST_GID 4242
static const gid_t test_gid = TEST_GID;

static struct event_base *base;
static char sock_path[108];
static int slow_disconnects, stream_disconnects;

/* ---- test interface and handlers (parent) ---------------------------------- */

static const char test_iface[] =
        "interface org.example.test\n"
        "method Echo(text: string) -> (text: string)\n"
        "method Write(text: string) -> ()\n"
        "method Slow(ms: int) -> (done: bool)\n"
        "method Stream(count: int, size: ?int) -> (n: int, pad: ?string)\n"
        "method Big(size: int) -> (pad: string)\n"
        "method Bad() -> (x: int)\n"
        "method Fail(path: string) -> ()\n"
        "method Unimplemented() -> ()\n"
        "error Oops (message: string)\n";

static int h_echo(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        *reply = json_object_new_object();
        json_object_object_add(*reply, "text",
                               json_object_get(json_object_object_get(params, "text")));
        return 0;
}

static int h_write(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        return 0;
}

struct slow {
        struct method_call *mc;
        struct event *ev;
        int n, count, size;
};

static void slow_free(struct slow *s)
{
        event_free(s->ev);
        free(s);
}

static void slow_done(evutil_socket_t fd, short what, void *userdata)
{
        struct slow *s = userdata;
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "done", json_object_new_boolean(1));
        method_call_reply(s->mc, o, false);
        json_object_put(o);
        slow_free(s);
}

static void slow_gone(struct method_call *mc, void *userdata)
{
        slow_disconnects++;
        slow_free(userdata);
}

static int h_slow(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        struct slow *s = calloc(1, sizeof(*s));
        int ms = json_object_get_int(json_object_object_get(params, "ms"));
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

        s->mc = mc;
        s->ev = evtimer_new(base, slow_done, s);
        evtimer_add(s->ev, &tv);
        method_call_on_disconnect(mc, slow_gone, s);
        return METHOD_DEFERRED;
}

/* Sends up to 100 replies per tick until count, then the final one. */
static void stream_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct slow *s = userdata;
        struct timeval tv = { 0, 1000 };
        char *pad = NULL;

        if (s->size > 0) {
                pad = malloc((size_t)s->size + 1);
                memset(pad, 'p', (size_t)s->size);
                pad[s->size] = '\0';
        }
        for (int i = 0; i < 100 && s->n < s->count; i++) {
                struct json_object *o = json_object_new_object();
                bool last = s->n == s->count - 1;
                int r;

                json_object_object_add(o, "n", json_object_new_int(s->n));
                if (pad)
                        json_object_object_add(o, "pad", json_object_new_string(pad));
                s->n++;
                r = method_call_reply(s->mc, o, !last);
                json_object_put(o);
                if (last) {
                        free(pad);
                        slow_free(s);
                        return;
                }
                if (r < 0)
                        break; /* the connection is going; the disconnect callback frees s */
        }
        free(pad);
        evtimer_add(s->ev, &tv);
}

static void stream_gone(struct method_call *mc, void *userdata)
{
        stream_disconnects++;
        slow_free(userdata);
}

static int h_stream(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        struct slow *s = calloc(1, sizeof(*s));
        struct timeval tv = { 0, 1000 };

        s->mc = mc;
        s->count = json_object_get_int(json_object_object_get(params, "count"));
        s->size = json_object_get_int(json_object_object_get(params, "size"));
        s->ev = evtimer_new(base, stream_tick, s);
        evtimer_add(s->ev, &tv);
        method_call_on_disconnect(mc, stream_gone, s);
        return METHOD_DEFERRED;
}

static int h_big(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        int size = json_object_get_int(json_object_object_get(params, "size"));
        char *pad = malloc((size_t)size + 1);

        memset(pad, 'b', (size_t)size);
        pad[size] = '\0';
        *reply = json_object_new_object();
        json_object_object_add(*reply, "pad", json_object_new_string(pad));
        free(pad);
        return 0;
}

static int h_bad(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        *reply = json_object_new_object();
        json_object_object_add(*reply, "x", json_object_new_string("not an int"));
        return 0;
}

static int h_fail(struct method_call *mc, struct json_object *params, struct json_object **reply)
{
        const char *path = json_object_get_string(json_object_object_get(params, "path"));

        method_call_fail(mc, -ENOENT, FAILURE_DEVICE_NOT_FOUND, "no device %s", path);
        failure_fact(&method_call_failure(mc)->path, path);
        return -ENOENT;
}

static const struct method_entry test_methods[] = {
        { "org.example.test.Echo", METHOD_READ, h_echo },
        { "org.example.test.Write", METHOD_WRITE, h_write },
        { "org.example.test.Slow", METHOD_READ, h_slow },
        { "org.example.test.Stream", METHOD_READ | METHOD_STREAM, h_stream },
        { "org.example.test.Big", METHOD_READ, h_big },
        { "org.example.test.Bad", METHOD_READ, h_bad },
        { "org.example.test.Fail", METHOD_READ, h_fail },
};

/* ---- client side (child) --------------------------------------------------- */

struct cl {
        int fd;
        struct vl_rbuf rb;
};

static struct cl *cl_connect(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { 5, 0 };
        struct cl *c = calloc(1, sizeof(*c));

        memcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("connect");
                exit(2);
        }
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        vl_rbuf_init_max(&c->rb, VL_MAX_REPLY);
        return c;
}

static void cl_close(struct cl *c)
{
        close(c->fd);
        vl_rbuf_clear(&c->rb);
        free(c);
}

static void cl_write(struct cl *c, const char *data, size_t n)
{
        while (n > 0) {
                ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);

                if (w <= 0)
                        return;
                data += w;
                n -= (size_t)w;
        }
}

static void cl_send(struct cl *c, const char *json)
{
        cl_write(c, json, strlen(json) + 1);
}

/* Next message parsed, or NULL on EOF/error/timeout. */
static struct json_object *cl_recv(struct cl *c)
{
        for (;;) {
                char *msg = NULL;
                int r = vl_rbuf_next(&c->rb, &msg);

                if (r > 0) {
                        struct json_object *o = json_tokener_parse(msg);

                        free(msg);
                        return o;
                }
                r = vl_rbuf_read(&c->rb, c->fd);
                if (r <= 0)
                        return NULL;
        }
}

static const char *err_of(struct json_object *o)
{
        return json_object_get_string(json_object_object_get(o, "error"));
}

static const char *param_of(struct json_object *o, const char *key)
{
        return json_object_get_string(
                json_object_object_get(json_object_object_get(o, "parameters"), key));
}

/* Call and return the reply (caller puts it). */
static struct json_object *cl_call(struct cl *c, const char *json)
{
        cl_send(c, json);
        return cl_recv(c);
}

static void expect_error(const char *request, const char *error, const char *key,
                         const char *value)
{
        struct cl *c = cl_connect();
        struct json_object *o = cl_call(c, request);

        CHECK_MSG(o && streq(err_of(o), error), "%s: got %s, want %s", request,
                  o ? json_object_to_json_string(o) : "nothing", error);
        if (key)
                CHECK_MSG(o && streq(param_of(o, key), value), "%s: %s=%s, want %s", request, key,
                          o ? param_of(o, key) : "?", value);
        json_object_put(o);
        /* The connection survives a call that failed. */
        o = cl_call(c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        CHECK_MSG(o && !err_of(o), "%s: connection did not survive", request);
        json_object_put(o);
        cl_close(c);
}

static bool is_closed(struct cl *c)
{
        struct json_object *o = cl_recv(c);

        if (o) {
                fprintf(stderr, "unexpected message: %s\n", json_object_to_json_string(o));
                json_object_put(o);
                return false;
        }
        return true;
}

static void sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
}

static void client_basics(void)
{
        struct cl *c = cl_connect();
        struct json_object *o;
        bool found = false;

        o = cl_call(c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        CHECK(o && !err_of(o));
        CHECK_STR(param_of(o, "vendor"), "assignd");
        {
                struct json_object *list = json_object_object_get(
                        json_object_object_get(o, "parameters"), "interfaces");

                for (size_t i = 0; i < json_object_array_length(list); i++)
                        found |= streq(json_object_get_string(json_object_array_get_idx(list, i)),
                                       "org.example.test");
        }
        CHECK(found);
        json_object_put(o);

        o = cl_call(c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                       "\"parameters\":{\"interface\":\"org.example.test\"}}");
        CHECK_STR(param_of(o, "description"), test_iface);
        json_object_put(o);

        o = cl_call(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"hi\"}}");
        CHECK_STR(param_of(o, "text"), "hi");
        CHECK(json_object_object_get(o, "continues") == NULL);
        json_object_put(o);

        o = cl_call(c, "{\"method\":\"org.example.test.Write\",\"parameters\":{\"text\":\"w\"}}");
        CHECK(o && !err_of(o));
        json_object_put(o);
        cl_close(c);

        expect_error("{\"method\":\"org.nope.Echo\"}", VL_ERR_INTERFACE_NOT_FOUND, "interface",
                     "org.nope");
        expect_error("{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                     "\"parameters\":{\"interface\":\"org.nope\"}}",
                     VL_ERR_INTERFACE_NOT_FOUND, "interface", "org.nope");
        expect_error("{\"method\":\"org.example.test.Nope\"}", VL_ERR_METHOD_NOT_FOUND, "method",
                     "org.example.test.Nope");
        expect_error("{\"method\":\"org.example.test.Unimplemented\"}",
                     VL_ERR_METHOD_NOT_IMPLEMENTED, "method", "org.example.test.Unimplemented");
        expect_error("{\"method\":\"org.example.test.Echo\"}", VL_ERR_INVALID_PARAMETER,
                     "parameter", "text");
        expect_error("{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":1}}",
                     VL_ERR_INVALID_PARAMETER, "parameter", "text");
        expect_error("{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"a\","
                     "\"x\":1}}",
                     VL_ERR_INVALID_PARAMETER, "parameter", "x");
        expect_error("{\"method\":\"org.example.test.Stream\",\"parameters\":{\"count\":1}}",
                     VL_ERR_EXPECTED_MORE, NULL, NULL);
        expect_error("{\"method\":\"org.example.test.Fail\",\"parameters\":{\"path\":\"/x\"}}",
                     "io.assignd.Broker.DeviceNotFound", "path", "/x");
        expect_error("{\"method\":\"org.example.test.Bad\"}", "io.assignd.Broker.InternalError",
                     NULL, NULL);
        /* Reply limit is 256 KiB in this test. */
        expect_error("{\"method\":\"org.example.test.Big\",\"parameters\":{\"size\":300000}}",
                     "io.assignd.Broker.InternalError", NULL, NULL);
        {
                struct cl *b = cl_connect();

                o = cl_call(b, "{\"method\":\"org.example.test.Big\",\"parameters\":"
                               "{\"size\":200000}}");
                CHECK(o && !err_of(o) && strlen(param_of(o, "pad")) == 200000);
                json_object_put(o);
                cl_close(b);
        }
}

static void client_ordering(void)
{
        struct cl *c = cl_connect();
        struct json_object *o;
        char buf[4096];
        int n = 0;

        /* Two calls in one write: the slow one is still answered first. */
        {
                static const char two[] =
                        "{\"method\":\"org.example.test.Slow\",\"parameters\":{\"ms\":150}}\0"
                        "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"second\"}}";

                /* sizeof includes both NULs */
                cl_write(c, two, sizeof(two));
        }
        o = cl_recv(c);
        CHECK(o && json_object_get_boolean(json_object_object_get(
                           json_object_object_get(o, "parameters"), "done")));
        json_object_put(o);
        o = cl_recv(c);
        CHECK_STR(param_of(o, "text"), "second");
        json_object_put(o);

        /* oneway: no reply at all, the next call's reply is the next message. */
        cl_send(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"quiet\"},"
                   "\"oneway\":true}");
        o = cl_call(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"loud\"}}");
        CHECK_STR(param_of(o, "text"), "loud");
        json_object_put(o);

        /* More calls than the pending limit (4) in one write: all answered, in order. */
        for (int i = 0; i < 12; i++)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                              "{\"method\":\"org.example.test.Echo\",\"parameters\":"
                              "{\"text\":\"m%d\"}}%c",
                              i, 0);
        cl_write(c, buf, (size_t)n);
        for (int i = 0; i < 12; i++) {
                char want[16];

                snprintf(want, sizeof(want), "m%d", i);
                o = cl_recv(c);
                CHECK_STR(param_of(o, "text"), want);
                json_object_put(o);
        }

        /* A stream: replies with continues, then a final one. */
        cl_send(c, "{\"method\":\"org.example.test.Stream\",\"parameters\":{\"count\":3},"
                   "\"more\":true}");
        for (int i = 0; i < 3; i++) {
                o = cl_recv(c);
                CHECK_INT(json_object_get_int(json_object_object_get(
                                  json_object_object_get(o, "parameters"), "n")),
                          i);
                CHECK_INT(json_object_get_boolean(json_object_object_get(o, "continues")),
                          i < 2);
                json_object_put(o);
        }
        /* A single-reply method called with "more" answers once, and that is final. */
        cl_send(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"once\"},"
                   "\"more\":true}");
        o = cl_recv(c);
        CHECK(o && !err_of(o));
        CHECK_STR(param_of(o, "text"), "once");
        CHECK(!json_object_get_boolean(json_object_object_get(o, "continues")));
        json_object_put(o);
        o = cl_call(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"after\"}}");
        CHECK_STR(param_of(o, "text"), "after");
        json_object_put(o);
        cl_close(c);

        /* Hang up in the middle of a deferred call: the handler is told (parent checks). */
        c = cl_connect();
        cl_send(c, "{\"method\":\"org.example.test.Slow\",\"parameters\":{\"ms\":2000}}");
        sleep_ms(100);
        cl_close(c);
}

/* The call before a broken message is answered, then ProtocolError, then the close. */
static void expect_echo_then_protocol_error(struct cl *c, const char *text)
{
        struct json_object *o = cl_recv(c);

        CHECK_STR(param_of(o, "text"), text);
        json_object_put(o);
        o = cl_recv(c);
        CHECK_STR(err_of(o), SERVER_ERR_PROTOCOL);
        json_object_put(o);
        CHECK(is_closed(c));
        cl_close(c);
}

static void client_limits(void)
{
        struct cl *cs[8], *extra, *c;
        struct json_object *o;
        char *big;

        /* Per uid: 6 in this test. */
        for (int i = 0; i < 6; i++) {
                cs[i] = cl_connect();
                o = cl_call(cs[i], "{\"method\":\"org.varlink.service.GetInfo\"}");
                CHECK_MSG(o && !err_of(o), "connection %d refused", i);
                json_object_put(o);
        }
        extra = cl_connect();
        cl_send(extra, "{\"method\":\"org.varlink.service.GetInfo\"}");
        CHECK_MSG(is_closed(extra), "the 7th connection of one uid was served");
        cl_close(extra);
        cl_close(cs[0]);
        sleep_ms(50);
        extra = cl_connect();
        o = cl_call(extra, "{\"method\":\"org.varlink.service.GetInfo\"}");
        CHECK_MSG(o && !err_of(o), "a freed slot was not reusable");
        json_object_put(o);
        cl_close(extra);
        for (int i = 1; i < 6; i++)
                cl_close(cs[i]);

        /* Idle timeout (400 ms here): calls keep a connection alive, silence does not. */
        c = cl_connect();
        for (int i = 0; i < 5; i++) {
                sleep_ms(200);
                o = cl_call(c, "{\"method\":\"org.varlink.service.GetInfo\"}");
                CHECK_MSG(o && !err_of(o), "active connection closed at round %d", i);
                json_object_put(o);
        }
        sleep_ms(700);
        CHECK_MSG(is_closed(c), "idle connection still open");
        cl_close(c);

        /* A half-sent request is not activity either. */
        c = cl_connect();
        cl_write(c, "{\"method\":", 10);
        sleep_ms(300);
        cl_write(c, " ", 1);
        sleep_ms(300);
        CHECK_MSG(is_closed(c), "trickling connection still open");
        cl_close(c);

        /* Exactly the maximum size is accepted (as JSON with padding whitespace). */
        big = malloc(VL_MAX_MESSAGE + 2);
        {
                const char *call = "{\"method\":\"org.example.test.Echo\",\"parameters\":"
                                   "{\"text\":\"max\"}}";

                memset(big, ' ', VL_MAX_MESSAGE + 1);
                memcpy(big, call, strlen(call));
                big[VL_MAX_MESSAGE] = '\0';
                c = cl_connect();
                cl_write(c, big, VL_MAX_MESSAGE + 1);
                o = cl_recv(c);
                CHECK_STR(param_of(o, "text"), "max");
                json_object_put(o);
                cl_close(c);
        }

        /* One byte over: ProtocolError, then the connection is closed. */
        memset(big, 'x', VL_MAX_MESSAGE + 1);
        c = cl_connect();
        cl_send(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"before\"}}");
        cl_write(c, big, VL_MAX_MESSAGE + 1);
        expect_echo_then_protocol_error(c, "before");
        free(big);

        /* Malformed JSON after a good call: the good one is answered, then the error. */
        c = cl_connect();
        {
                static const char *const parts[] = {
                        "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"ok\"}}",
                        "{nope",
                        "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"lost\"}}",
                };
                char buf[256];
                size_t n = 0;

                for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
                        memcpy(buf + n, parts[i], strlen(parts[i]) + 1);
                        n += strlen(parts[i]) + 1;
                }
                cl_write(c, buf, n);
        }
        expect_echo_then_protocol_error(c, "ok");

        /* Not a request object. */
        c = cl_connect();
        o = cl_call(c, "[1,2]");
        CHECK_STR(err_of(o), SERVER_ERR_PROTOCOL);
        json_object_put(o);
        CHECK(is_closed(c));
        cl_close(c);

        /* A stream whose client does not read: the backlog limit cuts it off. */
        c = cl_connect();
        cl_send(c, "{\"method\":\"org.example.test.Stream\",\"parameters\":{\"count\":100000,"
                   "\"size\":30000},\"more\":true}");
        sleep_ms(1500);
        {
                int n = 0;

                while ((o = cl_recv(c))) {
                        n++;
                        json_object_put(o);
                }
                CHECK_MSG(n < 100000, "got all %d replies", n);
        }
        cl_close(c);

        /* Meanwhile the server serves others. */
        c = cl_connect();
        o = cl_call(c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        CHECK(o && !err_of(o));
        json_object_put(o);
        cl_close(c);
}

/* Run fn as another user in a grandchild; its failures count here. */
static void as_user(uid_t uid, gid_t gid, gid_t supplementary, void (*fn)(void))
{
        pid_t pid = fork();
        int status = 0;

        if (pid == 0) {
                if (setgroups(supplementary ? 1 : 0, &supplementary) < 0 || setgid(gid) < 0 ||
                    setuid(uid) < 0) {
                        perror("dropping privileges");
                        _exit(3);
                }
                fn();
                _exit(test_failures ? 1 : 0);
        }
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "as uid %u gid %u: status %d",
                  (unsigned)uid, (unsigned)gid, status);
}

static void nobody_in_group(void)
{
        struct cl *c = cl_connect();
        struct json_object *o;

        o = cl_call(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"r\"}}");
        CHECK_MSG(o && !err_of(o), "group member may not read");
        json_object_put(o);
        o = cl_call(c, "{\"method\":\"org.example.test.Write\",\"parameters\":{\"text\":\"w\"}}");
        CHECK_STR(err_of(o), VL_ERR_PERMISSION_DENIED);
        /* The standard error carries no parameters: the log has the sentence. */
        CHECK_INT(json_object_object_length(json_object_object_get(o, "parameters")), 0);
        json_object_put(o);
        cl_close(c);
}

static void nobody_outside_group(void)
{
        struct cl *c = cl_connect();
        struct json_object *o;

        o = cl_call(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"text\":\"r\"}}");
        CHECK_STR(err_of(o), VL_ERR_PERMISSION_DENIED);
        json_object_put(o);
        o = cl_call(c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        CHECK_MSG(o && !err_of(o), "introspection refused");
        json_object_put(o);
        /* Refused before validation: the parameters do not matter. */
        o = cl_call(c, "{\"method\":\"io.assignd.Broker.GetDevice\"}");
        CHECK_STR(err_of(o), VL_ERR_PERMISSION_DENIED);
        json_object_put(o);
        cl_close(c);
}

static void client_broker(bool have_inventory)
{
        struct cl *c = cl_connect();
        struct json_object *o, *devs;
        const char *first;

        if (!have_inventory) {
                o = cl_call(c, "{\"method\":\"io.assignd.Broker.GetStatus\"}");
                CHECK_STR(err_of(o), "io.assignd.Broker.InternalError");
                json_object_put(o);
                cl_close(c);
                return;
        }
        o = cl_call(c, "{\"method\":\"io.assignd.Broker.GetStatus\"}");
        CHECK_MSG(o && !err_of(o), "GetStatus: %s", json_object_to_json_string(o));
        CHECK_STR(param_of(o, "backend"), "sim");
        json_object_put(o);

        o = cl_call(c, "{\"method\":\"io.assignd.Broker.ListDevices\"}");
        CHECK_MSG(o && !err_of(o), "ListDevices: %s",
                  o ? json_object_to_json_string(o) : "nothing");
        devs = json_object_object_get(json_object_object_get(o, "parameters"), "devices");
        CHECK(json_object_array_length(devs) > 3);
        first = json_object_get_string(
                json_object_object_get(json_object_array_get_idx(devs, 0), "path"));
        {
                char req[512];
                struct json_object *d;

                snprintf(req, sizeof(req),
                         "{\"method\":\"io.assignd.Broker.GetDevice\",\"parameters\":"
                         "{\"path\":\"%s\"}}",
                         first);
                d = cl_call(c, req);
                CHECK_MSG(d && !err_of(d), "GetDevice %s", first);
                json_object_put(d);
                snprintf(req, sizeof(req),
                         "{\"method\":\"io.assignd.Broker.SetDevicePolicy\",\"parameters\":"
                         "{\"path\":\"%s\",\"dma\":\"none\",\"note\":\"test\"}}",
                         first);
                d = cl_call(c, req);
                CHECK_MSG(d && !err_of(d), "SetDevicePolicy: %s",
                          d ? json_object_to_json_string(d) : "nothing");
                CHECK_STR(json_object_get_string(json_object_object_get(
                                  json_object_object_get(json_object_object_get(d, "parameters"),
                                                         "device"),
                                  "dma")),
                          "none");
                json_object_put(d);
        }
        json_object_put(o);

        o = cl_call(c, "{\"method\":\"io.assignd.Broker.ListDevices\",\"parameters\":"
                       "{\"coverage\":\"protected\",\"dma\":\"master\",\"assignable\":true}}");
        CHECK_MSG(o && !err_of(o), "filtered ListDevices");
        json_object_put(o);
        cl_close(c);

        expect_error("{\"method\":\"io.assignd.Broker.ListDevices\",\"parameters\":"
                     "{\"coverage\":\"shiny\"}}",
                     "io.assignd.Broker.InvalidArgument", "field", "coverage");
        expect_error("{\"method\":\"io.assignd.Broker.SetDevicePolicy\",\"parameters\":"
                     "{\"path\":\"/nope\",\"dma\":\"none\"}}",
                     "io.assignd.Broker.DeviceNotFound", "path", "/nope");
        expect_error("{\"method\":\"io.assignd.Broker.GetDevice\",\"parameters\":{\"path\":5}}",
                     VL_ERR_INVALID_PARAMETER, "parameter", "path");
        /* Simulator is served with the sim backend when its definition is built in. */
        if (vl_embedded_find("io.assignd.Simulator")) {
                c = cl_connect();
                o = cl_call(c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                               "\"parameters\":{\"interface\":\"io.assignd.Simulator\"}}");
                CHECK_MSG(o && !err_of(o), "Simulator not served with the sim backend");
                json_object_put(o);
                cl_close(c);
        }
}

static bool child_have_inventory;

static int run_client(void)
{
        client_basics();
        client_ordering();
        client_limits();
        if (geteuid() == 0) {
                /* Membership by primary group, then by a supplementary one (SO_PEERGROUPS). */
                as_user(65534, TEST_GID, 0, nobody_in_group);
                as_user(65534, 65534, TEST_GID, nobody_in_group);
                as_user(65534, 65534, 0, nobody_outside_group);
        } else {
                printf("not root: permission cases skipped\n");
        }
        client_broker(child_have_inventory);
        printf("client: ");
        {
                int r = test_done();

                fflush(stdout);
                return r;
        }
}

/* ---- parent ---------------------------------------------------------------- */

static void on_child(evutil_socket_t sig, short what, void *userdata)
{
        event_base_loopbreak(base);
}

static void test_listen_rules(const char *dir)
{
        struct server *s = NULL;
        char path[128], *err = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        /* Something else listens on sock_path: refused. */
        CHECK_INT(server_new(base, NULL, dispatch_call, NULL, &s), 0);
        CHECK_INT(server_listen_path(s, sock_path, &err), -EADDRINUSE);
        CHECK(err != NULL);
        free(err);
        err = NULL;
        server_free(s);
        CHECK_MSG(access(sock_path, F_OK) == 0, "a refused server removed the live socket");

        /* A stale socket is replaced, a regular file is not. */
        snprintf(path, sizeof(path), "%s/stale.sock", dir);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
        CHECK_INT(server_new(base, NULL, dispatch_call, NULL, &s), 0);
        CHECK_INT(server_listen_path(s, path, &err), 0);
        CHECK_INT(server_listen_path(s, path, &err), -EBUSY);
        free(err);
        err = NULL;
        server_free(s);
        CHECK_MSG(access(path, F_OK) < 0, "socket left behind");

        snprintf(path, sizeof(path), "%s/file", dir);
        close(open(path, O_CREAT | O_WRONLY, 0644));
        CHECK_INT(server_new(base, NULL, dispatch_call, NULL, &s), 0);
        CHECK_INT(server_listen_path(s, path, &err), -EEXIST);
        free(err);
        err = NULL;
        server_free(s);
        unlink(path);

        /* The parent directory is created. */
        snprintf(path, sizeof(path), "%s/a/b/sock", dir);
        CHECK_INT(server_new(base, NULL, dispatch_call, NULL, &s), 0);
        CHECK_INT(server_listen_path(s, path, &err), 0);
        free(err);
        err = NULL;
        server_free(s);
        snprintf(path, sizeof(path), "%s/a/b", dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/a", dir);
        rmdir(path);

        /* An fd that is not a listening socket is refused. */
        CHECK_INT(server_new(base, NULL, dispatch_call, NULL, &s), 0);
        fd = open("/dev/null", O_RDONLY);
        CHECK(server_listen_fd(s, fd, &err) < 0);
        close(fd);
        free(err);
        err = NULL;
        server_free(s);
}

static struct inventory *open_inventory(const char *dir, struct db **dbp,
                                        struct classify_tables **tp)
{
        const char *data = getenv("TEST_DATA_DIR");
        char dtb[512], dbpath[512], *err = NULL;
        struct inventory *inv = NULL;
        bool rescanned;

        if (!data)
                return NULL;
        snprintf(dtb, sizeof(dtb), "%s/demo-board.dtb", data);
        if (access(dtb, R_OK) < 0) {
                printf("%s missing: Broker cases on a real inventory skipped\n", dtb);
                return NULL;
        }
        snprintf(dbpath, sizeof(dbpath), "%s/inventory.db", dir);
        if (db_open(dbpath, dbp, &err) < 0 || classify_tables_new(tp) < 0 ||
            inventory_open(*dbp, dtb, *tp, &inv, &rescanned, &err) < 0) {
                fprintf(stderr, "inventory: %s\n", err ? err : "?");
                CHECK(false);
        }
        free(err);
        return inv;
}

int main(void)
{
        char dir[] = "/tmp/test-server-XXXXXX";
        struct server_limits lim;
        struct dispatch_context ctx = { 0 };
        struct dispatch *m = NULL;
        struct hv *hv = NULL;
        struct engine *engine = NULL;
        struct server *s = NULL;
        struct event *sigev;
        struct db *db = NULL;
        struct classify_tables *tables = NULL;
        struct inventory *inv;
        char *err = NULL;
        pid_t pid;
        int status = 0;

        signal(SIGPIPE, SIG_IGN);
        log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_WARNING);
        if (!mkdtemp(dir))
                TEST_SKIP("cannot create a scratch directory: %s", strerror(errno));
        chmod(dir, 0755);
        snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
        base = event_base_new();

        inv = open_inventory(dir, &db, &tables);
        child_have_inventory = inv != NULL;

        /*
         * The Simulator interface is served where the hypervisor is the
         * simulator; the Broker methods run on an engine over it, in memory.
         */
        CHECK_INT(hv_open("sim", NULL, &hv, NULL), 0);
        if (inv)
                CHECK_INT(engine_new(inv, hv, NULL, &engine), 0);
        ctx = (struct dispatch_context){
                .inv = inv,
                .engine = engine,
                .hv = hv,
                .backend = "sim",
                .dtb_path = "demo-board.dtb",
                /* Members of TEST_GID may read and watch, as the default group may. */
                .grants[DISPATCH_WATCH] = { .gids = &test_gid, .n_gids = 1 },
                .started_at = time(NULL),
        };
        CHECK_INT(dispatch_new(&ctx, &m, &err), 0);
        if (!m) {
                fprintf(stderr, "dispatch_new: %s\n", err);
                return 1;
        }
        CHECK_INT(service_register(m, &err), 0);
        CHECK_INT(broker_register(m, &err), 0);
        CHECK_INT(simulator_register(m, hv, &err), 0);
        CHECK_INT(dispatch_add_interface(m, "org.example.test", test_iface, &err), 0);
        CHECK_INT(dispatch_add_interface(m, "org.example.test", test_iface, &err), -EEXIST);
        free(err);
        err = NULL;
        CHECK_INT(dispatch_register(m, test_methods, ARRAY_SIZE(test_methods), &err), 0);
        CHECK_INT(dispatch_register(m, test_methods, 1, &err), -EEXIST);
        free(err);
        err = NULL;
        CHECK_STR(errors_name(FAILURE_DEVICE_NOT_FOUND), "io.assignd.Broker.DeviceNotFound");
        CHECK_STR(errors_name(FAILURE_NONE), "io.assignd.Broker.InternalError");

        server_limits_default(&lim);
        lim.connections_per_uid = 6;
        lim.pending_calls = 4;
        lim.idle_timeout_msec = 400;
        lim.output_backlog = 1024 * 1024;
        lim.output_low_water = 64 * 1024;
        lim.reply_size = 256 * 1024;
        CHECK_INT(server_new(base, &lim, dispatch_call, m, &s), 0);
        CHECK_INT(server_listen_path(s, sock_path, &err), 0);
        if (err)
                fprintf(stderr, "listen: %s\n", err);
        ctx.server = s;
        dispatch_set_context(m, &ctx);
        test_listen_rules(dir);

        pid = fork();
        if (pid == 0)
                _exit(run_client());
        sigev = evsignal_new(base, SIGCHLD, on_child, NULL);
        evsignal_add(sigev, NULL);
        event_base_dispatch(base);
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client side failed (status %d)",
                  status);
        CHECK_INT(slow_disconnects, 1);
        CHECK_MSG(stream_disconnects >= 1, "the unread stream was not cut off");

        event_free(sigev);
        server_free(s);
        CHECK_MSG(access(sock_path, F_OK) < 0, "socket not removed");
        dispatch_free(m);
        engine_free(engine);
        hv_free(hv);
        inventory_free(inv);
        db_close(db);
        classify_tables_free(tables);
        event_base_free(base);
        {
                char p[256];

                snprintf(p, sizeof(p), "rm -rf '%s'", dir);
                if (system(p) != 0)
                        fprintf(stderr, "cleanup of %s failed\n", dir);
        }
        printf("server: ");
        return test_done();
}
