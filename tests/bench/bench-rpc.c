/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark (not a test): the daemon's read path against its floor.
 *
 * The floor of a call is an echo server in a process of its own that
 * answers the same request with the same number of bytes as the daemon's
 * reply (the daemon's reply itself, captured first), over the same kind of
 * socket, with one event loop like the daemon's.  Clients are processes of
 * their own, each holding two connections, one to the daemon and one to
 * the echo, and alternating one echo call and one call, back to back: both
 * figures are taken call by call under the same conditions (a scheduler
 * waking a process late weighs on both).  Everything runs on one CPU
 * (bench_pin(): a wake-up across CPUs from idle costs a virtual machine
 * more than a call, and lands on the daemon or the echo at random).  With 8 and 64 clients (as root:
 * spread over 4 uids, as a real machine's clients would be) they go in
 * step, meeting at a barrier before every call, so that the echo has as
 * many calls at once as the daemon.  The run is repeated in rounds; each
 * round gives the p50 of the calls, that of the echo and their ratio, and
 * every figure printed is the median of the rounds with their min-max
 * spread (the ratio is the median of the rounds' ratios, not the ratio of
 * the medians); p99 is the largest of the rounds'.
 *
 * Then the connection limits: 1,000 idle clients of one uid held open, the
 * daemon's resident set size with them, and a 1,001st client's GetDevice
 * against the echo; 64 Monitor streams; the resident set size after 100k
 * calls.  Every goal of the performance issue is printed beside its ratio
 * on a line starting with "goal" (run-bench gathers them); nothing here
 * passes or fails on timing.
 *
 * Usage: bench-rpc ASSIGND DTB [DEVICE] [-r ROUNDS] [-q]
 *   DEVICE: the device GetDevice reads (default: the first serial port)
 *   -q: fewer iterations (a quick look, not figures to quote)
 */
#include <json-c/json.h>
#include <pthread.h>
#include <sys/mman.h>

#include "bench-util.h"

#define UID_BASE 61000u        /* the benchmark's client uids, when run as root */
#define N_UIDS 4

static int rounds = 5;
static bool quick;

struct load {
        const char *sock;       /* the daemon */
        const char *echo;       /* its floor, or NULL: the daemon's calls only */
        const char *msg;
        int clients;
        int iters;              /* per client and connection */
};

/* One run of a load: p50 and p99 of every client's calls, in µs. */
struct lat {
        double call_p50, call_p99, echo_p50;
};

/*
 * A client's calls: 5 to warm up each connection, then the timed ones.
 * step (NULL with one client): the barrier every client meets before each
 * call, so that all of them call the echo together and then the daemon
 * together.  Without it the clients would queue at the slower of the two
 * (the daemon) and call the echo one at a time: with 64 clients the echo's
 * figure would be that of a single client's.
 */
_Noreturn static void client(const struct load *l, int i, double *tc, double *te, int ready,
                             int go, pthread_barrier_t *step)
{
        char *buf = malloc(BENCH_RBUF);
        size_t len = strlen(l->msg), at = (size_t)i * (size_t)l->iters;
        int fd, efd = -1;
        char c;

        if (l->clients > 1 && geteuid() == 0) {
                uid_t u = UID_BASE + (uid_t)(i % N_UIDS);

                if (setgid(u) < 0 || setuid(u) < 0)
                        _exit(3);
        }
        fd = bench_connect(l->sock);
        if (l->echo)
                efd = bench_connect(l->echo);
        if (fd < 0 || (l->echo && efd < 0) || !buf)
                _exit(2);
        for (int k = 0; k < 5; k++)
                if (bench_roundtrip(fd, l->msg, len, buf, BENCH_RBUF) < 0 ||
                    (efd >= 0 && bench_roundtrip(efd, l->msg, len, buf, BENCH_RBUF) < 0))
                        _exit(4);
        if (write(ready, "r", 1) != 1 || read(go, &c, 1) < 0)
                _exit(2);
        /* One echo call, one daemon call, and so on: both under the same conditions. */
        for (int k = 0; k < l->iters; k++) {
                double t0;

                if (efd >= 0) {
                        if (step)
                                pthread_barrier_wait(step);
                        t0 = bench_now_us();
                        if (bench_roundtrip(efd, l->msg, len, buf, BENCH_RBUF) < 0)
                                _exit(4);
                        te[at + (size_t)k] = bench_now_us() - t0;
                        if (step)
                                pthread_barrier_wait(step);
                }
                t0 = bench_now_us();
                if (bench_roundtrip(fd, l->msg, len, buf, BENCH_RBUF) < 0)
                        _exit(4);
                tc[at + (size_t)k] = bench_now_us() - t0;
        }
        _exit(0);
}

/*
 * One run of l: every client (a process of its own) makes its calls, to
 * the daemon and, alternately, to the echo when there is one, in step
 * with the other clients.
 */
static void run_load(const struct load *l, struct lat *lat)
{
        size_t n = (size_t)l->clients * (size_t)l->iters;
        double *t = mmap(NULL, 2 * n * sizeof(double), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        pthread_barrier_t *step = NULL;
        int ready[2], go[2];
        pid_t *pids = calloc((size_t)l->clients, sizeof(pid_t));
        char c;

        if (t == MAP_FAILED || !pids || pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
                bench_die("cannot set up %d clients", l->clients);
        if (l->echo && l->clients > 1) {
                pthread_barrierattr_t a;

                step = mmap(NULL, sizeof(*step), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (step == MAP_FAILED || pthread_barrierattr_init(&a) != 0 ||
                    pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
                    pthread_barrier_init(step, &a, (unsigned)l->clients) != 0)
                        bench_die("cannot set up a barrier for %d clients", l->clients);
                pthread_barrierattr_destroy(&a);
        }
        fflush(NULL);
        for (int i = 0; i < l->clients; i++) {
                pids[i] = fork();
                if (pids[i] < 0)
                        bench_die("fork: %s", strerror(errno));
                if (pids[i] == 0) {
                        close(ready[0]);
                        close(go[1]);
                        client(l, i, t, t + n, ready[1], go[0], step);
                }
        }
        close(ready[1]);
        close(go[0]);
        for (int i = 0; i < l->clients; i++)
                if (read(ready[0], &c, 1) != 1)
                        bench_die("a client of %s did not get ready (%d clients)", l->sock,
                                  l->clients);
        close(go[1]);   /* every client starts now */
        close(ready[0]);
        /* In the order they end: the others may wait at the barrier for one that failed. */
        for (int left = l->clients; left > 0; left--) {
                int st, i = 0;
                pid_t p = waitpid(-1, &st, 0);

                while (i < l->clients && (p <= 0 || pids[i] != p))
                        i++;
                if (i < l->clients && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                        pids[i] = 0;
                        continue;
                }
                for (int j = 0; j < l->clients; j++)
                        if (pids[j] > 0 && pids[j] != p)
                                kill(pids[j], SIGKILL);
                if (i == l->clients)
                        bench_die("process %d ended while clients of %s ran", (int)p, l->sock);
                bench_die("a client of %s failed (status %d)", l->sock, st);
        }
        lat->call_p50 = bench_quantile(t, n, 0.5);
        lat->call_p99 = bench_quantile(t, n, 0.99);
        lat->echo_p50 = l->echo ? bench_quantile(t + n, n, 0.5) : 0;
        munmap(t, 2 * n * sizeof(double));
        if (step) {
                pthread_barrier_destroy(step);
                munmap(step, sizeof(*step));
        }
        free(pids);
}

/* One call's reply, fetched on a connection of its own; NULL when the daemon does not answer. */
static char *try_capture(const char *sock, const char *msg, size_t *len)
{
        char *buf = malloc(BENCH_RBUF);
        int fd = bench_connect(sock);
        ssize_t n = -1;

        if (fd >= 0 && buf)
                n = bench_roundtrip(fd, msg, strlen(msg), buf, BENCH_RBUF);
        if (fd >= 0)
                close(fd);
        if (n < 0) {
                free(buf);
                return NULL;
        }
        *len = (size_t)n;
        return buf;
}

static char *capture(const char *sock, const char *msg, size_t *len)
{
        char *buf = try_capture(sock, msg, len);

        if (!buf)
                bench_die("%s: no reply", msg);
        return buf;
}

static bool is_error(const char *reply)
{
        struct json_object *o = json_tokener_parse(reply);
        bool e = !o || json_object_object_get_ex(o, "error", NULL);

        json_object_put(o);
        return e;
}

struct result {
        struct bench_spread call, echo, ratio;
        double call_p99;
        size_t bytes;
};

/*
 * Rounds of c clients calling msg, each alternating a call to the daemon
 * with one to an echo process serving the daemon's reply to msg (the
 * floor).  Each round gives the p50 of the calls, that of the echo and
 * their ratio; the result is the median of each over the rounds (so the
 * ratio is not the ratio of the medians) with their spread, and the
 * largest p99 of the calls.
 */
static struct result measure(const char *sock, const char *echo_sock, const char *msg,
                             int clients, int iters)
{
        double call[16], echo[16], ratio[16], p99 = 0;
        struct result res = { 0 };
        size_t len;
        char *reply = capture(sock, msg, &len);
        pid_t e = bench_echo_start(echo_sock, reply, len);
        struct load l = { .sock = sock, .echo = echo_sock, .msg = msg, .clients = clients,
                          .iters = iters };
        struct lat lat;

        for (int r = 0; r < rounds; r++) {
                run_load(&l, &lat);
                call[r] = lat.call_p50;
                echo[r] = lat.echo_p50;
                ratio[r] = call[r] / echo[r];
                p99 = lat.call_p99 > p99 ? lat.call_p99 : p99;
        }
        bench_kill(e);
        free(reply);
        res.call = bench_spread_of(call, (size_t)rounds);
        res.echo = bench_spread_of(echo, (size_t)rounds);
        res.ratio = bench_spread_of(ratio, (size_t)rounds);
        res.call_p99 = p99;
        res.bytes = len;
        return res;
}

static void print_row(const char *what, int clients, const struct result *r)
{
        printf("%-28s %7d %8zu %9.1f %6.1f-%-6.1f %9.1f %6.1f-%-6.1f %7.2f %5.2f-%-5.2f %9.1f\n",
               what, clients, r->bytes, r->call.median, r->call.min, r->call.max,
               r->echo.median, r->echo.min, r->echo.max, r->ratio.median, r->ratio.min,
               r->ratio.max, r->call_p99);
}

static void print_goal(const char *what, double value, const char *unit, double floor,
                       double ratio, const char *cmp, double goal)
{
        bool met = strcmp(cmp, "<=") == 0 ? ratio <= goal : ratio >= goal;

        printf("goal  %-44s %10.1f %-3s floor %9.1f %-3s ratio %6.2f  goal %s %-5g %s\n", what,
               value, unit, floor, unit, ratio, cmp, goal, met ? "met" : "NOT MET");
}

/*
 * Open n connections that each send msg and get a first reply containing
 * want (NULL: any), then stay open; returns how many the daemon kept.
 */
static int hold_calls(const char *sock, int n, int *fds, const char *msg, const char *want)
{
        char *buf = malloc(65536);
        int kept = 0;

        for (int i = 0; i < n; i++) {
                fds[i] = bench_connect(sock);
                if (fds[i] < 0)
                        continue;
                if (bench_roundtrip(fds[i], msg, strlen(msg), buf, 65536) < 0 ||
                    (want && !strstr(buf, want))) {
                        close(fds[i]);
                        fds[i] = -1;
                        continue;
                }
                kept++;
        }
        free(buf);
        return kept;
}

/* n connections that each make one call and then stay idle. */
static int hold_idle(const char *sock, int n, int *fds)
{
        return hold_calls(sock, n, fds, "{\"method\":\"org.varlink.service.GetInfo\"}", NULL);
}

/* n Monitor streams: each gets its first reply and stays subscribed. */
static int hold_monitors(const char *sock, int n, int *fds)
{
        return hold_calls(sock, n, fds,
                          "{\"method\":\"io.assignd.Broker.Monitor\",\"more\":true}",
                          "\"continues\":true");
}

static void close_all(int *fds, int n)
{
        for (int i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

/* The first device whose path names a serial port, from ListDevices. */
static char *pick_device(const char *sock)
{
        size_t len;
        char *reply = capture(sock, "{\"method\":\"io.assignd.Broker.ListDevices\"}", &len);
        struct json_object *o = json_tokener_parse(reply), *p, *devs;
        char *found = NULL;

        if (o && json_object_object_get_ex(o, "parameters", &p) &&
            json_object_object_get_ex(p, "devices", &devs))
                for (size_t i = 0; !found && i < json_object_array_length(devs); i++) {
                        struct json_object *d = json_object_array_get_idx(devs, i), *path;

                        if (json_object_object_get_ex(d, "path", &path) &&
                            strstr(json_object_get_string(path), "serial"))
                                found = strdup(json_object_get_string(path));
                }
        json_object_put(o);
        free(reply);
        if (!found)
                bench_die("no serial port in the inventory: name a device");
        return found;
}

int main(int argc, char **argv)
{
        const char *assignd = NULL, *dtb = NULL, *parent = getenv("BENCH_TMPDIR");
        char *device = NULL, echo_sock[400], req[1024];
        struct bench_daemon d = { 0 };
        struct result res;
        char conf[256];
        int pos = 0, fds[1100], mons[64];
        long rss_idle, rss_conns, rss_mons, rss_calls;
        bool have_list = true;
        int kept, kept_mons;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-r") && i + 1 < argc)
                        rounds = atoi(argv[++i]);
                else if (!strcmp(argv[i], "-q"))
                        quick = true;
                else if (pos == 0 && ++pos)
                        assignd = argv[i];
                else if (pos == 1 && ++pos)
                        dtb = argv[i];
                else if (pos == 2 && ++pos)
                        device = strdup(argv[i]);
        }
        if (!assignd || !dtb || rounds < 1 || rounds > 16) {
                fprintf(stderr, "usage: %s ASSIGND DTB [DEVICE] [-r ROUNDS] [-q]\n", argv[0]);
                return 2;
        }
        if (!parent)
                parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        bench_raise_nofile();
        /* A connection the daemon refused is written to: that is an error, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_pin();
        snprintf(conf, sizeof(conf), "[Access]\nReadUsers = %u %u %u %u\n", UID_BASE,
                 UID_BASE + 1, UID_BASE + 2, UID_BASE + 3);
        bench_daemon_start(&d, assignd, dtb, parent, conf, NULL, NULL);
        /* Let start-up settle before the first figure. */
        usleep(300000);
        rss_idle = bench_rss_kib(d.pid);
        snprintf(echo_sock, sizeof(echo_sock), "%s/echo.sock", d.dir);
        if (!device)
                device = pick_device(d.sock);

        printf("daemon: %s\ndevice tree: %s\nGetDevice: %s\nclients: processes, each with a "
               "connection to the daemon and one to the echo, alternating an echo call and a "
               "call; with 8 and 64, in step (a barrier before every call), %s\nrounds: %d; "
               "p50_us and echo_us: the median of the rounds' p50 (spread: min-max); ratio: "
               "the median of the rounds' p50_us/echo_us (spread: min-max), not the ratio of "
               "the medians; p99_us: the largest of the rounds' p99\non the goal lines: value "
               "is p50_us, floor echo_us, ratio the ratio above\n\n", assignd, dtb, device,
               geteuid() == 0 ? "spread over 4 uids" : "one uid (not root)", rounds);
        printf("%-28s %7s %8s %9s %13s %9s %13s %7s %11s %9s\n", "call", "clients", "reply_B",
               "p50_us", "spread", "echo_us", "spread", "ratio", "spread", "p99_us");

        snprintf(req, sizeof(req),
                 "{\"method\":\"io.assignd.Broker.GetDevice\",\"parameters\":{\"path\":\"%s\"}}",
                 device);
        res = measure(d.sock, echo_sock, req, 1, quick ? 300 : 2000);
        print_row("GetDevice", 1, &res);
        {
                struct result r8 = measure(d.sock, echo_sock, req, 8, quick ? 100 : 500);
                struct result r64 = measure(d.sock, echo_sock, req, 64, quick ? 30 : 150);

                print_row("GetDevice", 8, &r8);
                print_row("GetDevice", 64, &r64);
                print_goal("GetDevice p50, 1 client", res.call.median, "us", res.echo.median,
                           res.ratio.median, "<=", 3);
                print_goal("GetDevice p50, 64 clients", r64.call.median, "us",
                           r64.echo.median, r64.ratio.median, "<=", 3);
        }
        {
                size_t len;
                char *r = capture(d.sock, "{\"method\":\"io.assignd.Broker.GetStatus\","
                                          "\"parameters\":{\"hazards\":true}}", &len);

                have_list = !is_error(r);
                free(r);
        }
        res = measure(d.sock, echo_sock, "{\"method\":\"io.assignd.Broker.GetStatus\"}", 1,
                      quick ? 300 : 2000);
        print_row(have_list ? "GetStatus (hazard counts)" : "GetStatus (all hazards)", 1, &res);
        print_goal(have_list ? "GetStatus p50, 1 client" : "GetStatus p50, 1 client (all "
                                                           "hazards)",
                   res.call.median, "us", res.echo.median, res.ratio.median, "<=", 3);
        if (have_list) {
                res = measure(d.sock, echo_sock, "{\"method\":\"io.assignd.Broker.GetStatus\","
                                                 "\"parameters\":{\"hazards\":true}}",
                              1, quick ? 300 : 2000);
                print_row("GetStatus (all hazards)", 1, &res);
                print_goal("GetStatus p50, 1 client (all hazards)", res.call.median, "us",
                           res.echo.median, res.ratio.median, "<=", 3);
        }
        res = measure(d.sock, echo_sock, "{\"method\":\"io.assignd.Broker.ListDevices\"}", 1,
                      quick ? 50 : 300);
        print_row("ListDevices", 1, &res);
        print_goal("ListDevices p50, 1 client", res.call.median, "us", res.echo.median,
                   res.ratio.median, "<=", 5);

        /* ---- connections ---- */
        printf("\n");
        kept = hold_idle(d.sock, 1000, fds);
        usleep(200000);
        rss_conns = bench_rss_kib(d.pid);
        printf("idle connections of one uid: %d of 1000 held\n", kept);
        printf("goal  %-44s %10d     of 1000 held, RSS %ld KiB (%.0f B per connection)  goal "
               "1000 held, RSS <= 8192 KiB %s\n", "1,000 idle connections", kept, rss_conns,
               kept ? (double)(rss_conns - rss_idle) * 1024.0 / kept : 0.0,
               kept == 1000 && rss_conns <= 8192 ? "met" : "NOT MET");
        {
                size_t len;
                char *r = try_capture(d.sock, req, &len);

                if (r) {
                        free(r);
                        res = measure(d.sock, echo_sock, req, 1, quick ? 300 : 2000);
                        print_row("GetDevice, 1,001st client", 1, &res);
                        print_goal("GetDevice p50, 1,001st client", res.call.median, "us",
                                   res.echo.median, res.ratio.median, "<=", 3);
                } else {
                        printf("goal  %-44s refused: the daemon holds %d connections of one "
                               "uid at most  NOT MET\n", "GetDevice p50, 1,001st client", kept);
                }
        }
        close_all(fds, 1000);
        usleep(200000);

        kept_mons = hold_monitors(d.sock, 64, mons);
        usleep(100000);
        rss_mons = bench_rss_kib(d.pid);
        close_all(mons, 64);
        usleep(100000);

        {
                struct load ld = { .sock = d.sock, .msg = req, .clients = 8,
                                   .iters = quick ? 1250 : 12500 };
                struct lat lat;

                run_load(&ld, &lat);
                rss_calls = bench_rss_kib(d.pid);
        }
        printf("\nresident set size of the daemon (KiB): idle %ld; 1,000 connections %ld; %d "
               "monitors %ld; after %s GetDevice calls %ld\n", rss_idle, rss_conns, kept_mons,
               rss_mons, quick ? "10k" : "100k", rss_calls);
        bench_daemon_stop(&d, false);
        free(device);
        return 0;
}
