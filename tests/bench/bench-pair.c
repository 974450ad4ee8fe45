/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark (not a test): the write path.  An Assign+Release pair of one
 * device (auto layout) on the simulator, against the floor of the durable
 * commits the pair makes, made by a bare program (bench-commits) with the
 * same connection settings on the same file system.
 *
 * One pair: a domain is created (not timed), Assign gives it the device,
 * the domain is killed (dying: Xen lets its SPIs go), Release takes
 * everything back, the domain is reaped (not timed).  The daemon counts its
 * commits and the simulator's state writes (Simulator.GetCounters), so the
 * floor is exactly as many commits.  Rounds alternate pairs and the bare
 * program; figures are medians of the rounds with their spread.  All of
 * it runs on one CPU (bench_pin()).
 *
 * The goal's floor counts commits only.  A pair is also two calls whose
 * replies (the lease with its steps) are kilobytes: each round also times
 * as many round trips to two echo processes that answer with the same
 * bytes as Assign's and Release's replies, and prints the pair against
 * commits and round trips together (printed, no goal): what is left is the
 * daemon's own work, the simulator's hypercalls included.
 *
 * --history N: N pairs in a row, then 100 more in turns of 10 with the
 * first 100 pairs of a new daemon (same settings, same file system): the
 * ratio of their medians says whether a pair slows down as the history
 * grows, measured under the same load (the first and last 100 of the run
 * are printed too, but taken seconds apart).  The daemon's resident set size
 * afterwards is printed.
 *
 * Usage: bench-pair ASSIGND DTB DEVICE BARE-COMMITS [-d DIR] [-s full|normal]
 *                   [-n PAIRS] [-r ROUNDS] [--history N]
 *   -d: where the database and the simulator's state live (default /dev/shm)
 *   -s normal: the daemon runs with synchronous=NORMAL (a benchmark-only
 *      setting of the simulator backend: the durability before issue 15),
 *      and the bare program too
 */
#include <json-c/json.h>
#include <sys/statfs.h>

#include "bench-util.h"

#define TMPFS_MAGIC_ 0x01021994
#define EXT4_MAGIC_ 0xEF53

static char rbuf[1 << 20];
static ssize_t rlen;            /* the length of the last reply in rbuf */

/* A call on fd; returns the parsed reply's parameters (caller puts) or dies on an error reply. */
static struct json_object *call(int fd, const char *method, const char *params)
{
        char msg[2048];
        struct json_object *o, *p, *e;
        ssize_t n;

        snprintf(msg, sizeof(msg), "{\"method\":\"%s\",\"parameters\":%s}", method,
                 params ? params : "{}");
        n = bench_roundtrip(fd, msg, strlen(msg), rbuf, sizeof(rbuf));
        if (n < 0)
                bench_die("%s: no reply", method);
        rlen = n;
        o = json_tokener_parse(rbuf);
        if (!o)
                bench_die("%s: reply is not JSON", method);
        if (json_object_object_get_ex(o, "error", &e))
                bench_die("%s %s: %s", method, params ? params : "", rbuf);
        if (!json_object_object_get_ex(o, "parameters", &p))
                bench_die("%s: no parameters", method);
        json_object_get(p);
        json_object_put(o);
        return p;
}

static int64_t get_int(struct json_object *o, const char *k)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, k, &v))
                bench_die("no %s in a reply", k);
        return json_object_get_int64(v);
}

/* The daemon's commit and state-write counters; false when it has none. */
static bool counters(int fd, int64_t *commits, int64_t *writes)
{
        static const char msg[] = "{\"method\":\"io.assignd.Simulator.GetCounters\"}";
        struct json_object *o, *p;
        bool ok = false;

        if (bench_roundtrip(fd, msg, strlen(msg), rbuf, sizeof(rbuf)) < 0)
                bench_die("GetCounters: no reply");
        o = json_tokener_parse(rbuf);
        if (o && json_object_object_get_ex(o, "parameters", &p) &&
            !json_object_object_get_ex(o, "error", NULL)) {
                *commits = get_int(p, "db_commits");
                *writes = get_int(p, "state_writes");
                ok = true;
        }
        json_object_put(o);
        return ok;
}

struct pair {
        double us;
        int64_t commits, writes;
};

static bool have_counters = true;
/* When set, one_pair() keeps a copy of its Assign and Release replies here. */
static bool keep_replies;
static char *kept[2];
static size_t kept_len[2];

static void keep(int which)
{
        if (!keep_replies)
                return;
        free(kept[which]);
        kept[which] = malloc((size_t)rlen + 1);
        if (!kept[which])
                bench_die("out of memory");
        memcpy(kept[which], rbuf, (size_t)rlen + 1);
        kept_len[which] = (size_t)rlen;
}

static struct pair one_pair(int fd, const char *device)
{
        char p[600];
        int64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, w0 = 0, w1 = 0, w2 = 0, w3 = 0;
        struct json_object *o;
        double t0, t1, t2, t3;
        int64_t domid;

        o = call(fd, "io.assignd.Simulator.CreateDomain",
                 "{\"name\":\"bench\",\"passthrough\":true}");
        domid = get_int(o, "domid");
        json_object_put(o);

        have_counters = counters(fd, &c0, &w0);
        snprintf(p, sizeof(p), "{\"domain\":\"%" PRId64 "\",\"devices\":[\"%s\"],"
                 "\"layout\":\"auto\"}", domid, device);
        t0 = bench_now_us();
        json_object_put(call(fd, "io.assignd.Broker.Assign", p));
        t1 = bench_now_us();
        keep(0);
        counters(fd, &c1, &w1);

        snprintf(p, sizeof(p), "{\"domid\":%" PRId64 "}", domid);
        json_object_put(call(fd, "io.assignd.Simulator.KillDomain", p));
        counters(fd, &c2, &w2);
        snprintf(p, sizeof(p), "{\"domain\":\"%" PRId64 "\"}", domid);
        t2 = bench_now_us();
        json_object_put(call(fd, "io.assignd.Broker.Release", p));
        t3 = bench_now_us();
        keep(1);
        counters(fd, &c3, &w3);
        snprintf(p, sizeof(p), "{\"domid\":%" PRId64 "}", domid);
        json_object_put(call(fd, "io.assignd.Simulator.ReapDomain", p));
        return (struct pair){ .us = (t1 - t0) + (t3 - t2),
                              .commits = (c1 - c0) + (c3 - c2),
                              .writes = (w1 - w0) + (w3 - w2) };
}

/*
 * n round trips of the two replies' bytes, one to each echo process (the
 * requests are the pair's, so the bytes either way are the same): the
 * median of their sums.
 */
static double round_trips_us(int fa, int fr, const char *device, int n)
{
        double *t = calloc((size_t)n, sizeof(double)), med;
        char qa[600], qr[300];

        if (!t)
                bench_die("out of memory");
        snprintf(qa, sizeof(qa), "{\"method\":\"io.assignd.Broker.Assign\",\"parameters\":"
                 "{\"domain\":\"1\",\"devices\":[\"%s\"],\"layout\":\"auto\"}}", device);
        snprintf(qr, sizeof(qr), "{\"method\":\"io.assignd.Broker.Release\",\"parameters\":"
                 "{\"domain\":\"1\"}}");
        for (int i = 0; i < n; i++) {
                double t0 = bench_now_us();

                if (bench_roundtrip(fa, qa, strlen(qa), rbuf, sizeof(rbuf)) < 0 ||
                    bench_roundtrip(fr, qr, strlen(qr), rbuf, sizeof(rbuf)) < 0)
                        bench_die("no reply from an echo process");
                t[i] = bench_now_us() - t0;
        }
        med = bench_quantile(t, (size_t)n, 0.5);
        free(t);
        return med;
}

/* What the bare program says n commits cost, per commit. */
static double bare_commit_us(const char *bare, const char *dir, long n, const char *sync)
{
        char cmd[1024], line[256];
        double per = -1;
        FILE *f;

        snprintf(cmd, sizeof(cmd), "'%s' '%s' %ld %s", bare, dir, n, sync);
        f = popen(cmd, "r");
        if (!f)
                bench_die("cannot run %s", bare);
        while (fgets(line, sizeof(line), f)) {
                char *p = strstr(line, "per_commit_us ");

                if (p)
                        per = atof(p + strlen("per_commit_us "));
        }
        if (pclose(f) != 0 || per < 0)
                bench_die("%s failed", cmd);
        return per;
}

static const char *fs_name(const char *dir)
{
        struct statfs s;

        if (statfs(dir, &s) < 0)
                return "?";
        if ((unsigned long)s.f_type == TMPFS_MAGIC_)
                return "tmpfs";
        if ((unsigned long)s.f_type == EXT4_MAGIC_)
                return "ext4";
        return "other";
}

int main(int argc, char **argv)
{
        const char *pos[4] = { 0 }, *parent = "/dev/shm", *sync = "full";
        int npos = 0, pairs = 40, rounds = 5, history = 0, fd;
        struct bench_daemon d = { 0 };
        char *env[2] = { NULL, NULL };
        double ratio[16], pus[16], fus[16], cpp = 0, wpp = 0, bare[16], rtus[16], ratio2[16];

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-d") && i + 1 < argc)
                        parent = argv[++i];
                else if (!strcmp(argv[i], "-s") && i + 1 < argc)
                        sync = argv[++i];
                else if (!strcmp(argv[i], "-n") && i + 1 < argc)
                        pairs = atoi(argv[++i]);
                else if (!strcmp(argv[i], "-r") && i + 1 < argc)
                        rounds = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--history") && i + 1 < argc)
                        history = atoi(argv[++i]);
                else if (npos < 4)
                        pos[npos++] = argv[i];
        }
        if (npos != 4 || pairs < 1 || rounds < 1 || rounds > 16 || history < 0 ||
            (strcmp(sync, "full") && strcmp(sync, "normal"))) {
                fprintf(stderr, "usage: %s ASSIGND DTB DEVICE BARE-COMMITS [-d DIR] "
                        "[-s full|normal] [-n PAIRS] [-r ROUNDS] [--history N]\n", argv[0]);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_pin();
        if (!strcmp(sync, "normal"))
                env[0] = "ASSIGND_BENCH_SYNCHRONOUS=normal";
        bench_daemon_start(&d, pos[0], pos[1], parent, NULL, env, NULL);
        fd = bench_connect(d.sock);
        if (fd < 0)
                bench_die("cannot connect to %s", d.sock);
        for (int i = 0; i < 5; i++)     /* warm up */
                one_pair(fd, pos[2]);

        if (history) {
                double *t = calloc((size_t)history, sizeof(double));
                double first, last, old[100], fresh[100], old_med, fresh_med;
                struct bench_daemon d2 = { 0 };
                struct stat st;
                char db[400];
                int fd2;

                for (int i = 0; i < history; i++)
                        t[i] = one_pair(fd, pos[2]).us;
                first = bench_quantile(t, 100, 0.5);
                last = bench_quantile(t + history - 100, 100, 0.5);
                snprintf(db, sizeof(db), "%s/inventory.db", d.dir);
                printf("history: %d pairs of %s, synchronous=%s on %s: the first 100 %.1f us, "
                       "the last 100 %.1f us (medians, taken seconds apart: the machine's "
                       "load moves them); database %lld KiB; daemon RSS %ld KiB\n",
                       history, pos[2], sync, fs_name(d.dir), first, last,
                       stat(db, &st) == 0 ? (long long)st.st_size / 1024 : -1LL,
                       bench_rss_kib(d.pid));
                /*
                 * The goal's figure: the daemon with the history against a new
                 * daemon's first 100 pairs, 10 pairs each in turn, so that both
                 * are measured under the same load.
                 */
                bench_daemon_start(&d2, pos[0], pos[1], parent, NULL, env, NULL);
                fd2 = bench_connect(d2.sock);
                if (fd2 < 0)
                        bench_die("cannot connect to %s", d2.sock);
                for (int i = 0; i < 5; i++)     /* warm up, as the first daemon was */
                        one_pair(fd2, pos[2]);
                for (int i = 0; i < 100; i++) {
                        if (i % 10 == 0)
                                for (int k = 0; k < 10; k++)
                                        old[i + k] = one_pair(fd, pos[2]).us;
                        fresh[i] = one_pair(fd2, pos[2]).us;
                }
                old_med = bench_quantile(old, 100, 0.5);
                fresh_med = bench_quantile(fresh, 100, 0.5);
                printf("history: interleaved, 100 more pairs with the history %.1f us, the first "
                       "100 of a new daemon %.1f us (medians)\n", old_med, fresh_med);
                snprintf(db, sizeof(db), "pair after %d earlier pairs (vs the first 100)",
                         history);
                printf("goal  %-44s %10.1f us  floor %9.1f us  ratio %6.2f  goal <= 1.2   %s\n",
                       db, old_med, fresh_med, old_med / fresh_med,
                       old_med / fresh_med <= 1.2 ? "met" : "NOT MET");
                printf("goal  %-44s %10ld KiB after %d pairs (printed, no goal)\n",
                       "RSS after the history", bench_rss_kib(d.pid), history);
                free(t);
                close(fd2);
                bench_daemon_stop(&d2, false);
                close(fd);
                bench_daemon_stop(&d, false);
                return 0;
        }

        {
                char ea[400], er[400];
                pid_t pa, pr;
                int fa, fr;

                keep_replies = true;
                one_pair(fd, pos[2]);
                keep_replies = false;
                snprintf(ea, sizeof(ea), "%s/echo-assign.sock", d.dir);
                snprintf(er, sizeof(er), "%s/echo-release.sock", d.dir);
                pa = bench_echo_start(ea, kept[0], kept_len[0]);
                pr = bench_echo_start(er, kept[1], kept_len[1]);
                fa = bench_connect(ea);
                fr = bench_connect(er);
                if (fa < 0 || fr < 0)
                        bench_die("cannot connect to the echo processes");
                printf("pair: Assign (layout auto) + Release of %s; synchronous=%s; database "
                       "and simulator state on %s (%s); replies %zu + %zu bytes\n", pos[2], sync,
                       fs_name(d.dir), d.dir, kept_len[0], kept_len[1]);
                printf("%-6s %10s %8s %8s %14s %10s %7s %9s %8s\n", "round", "pair_us", "commits",
                       "writes", "bare_commit_us", "floor_us", "ratio", "echo2_us", "ratio2");
                for (int r = 0; r < rounds; r++) {
                        double *t = calloc((size_t)pairs, sizeof(double));
                        int64_t commits = 0, writes = 0;

                        for (int i = 0; i < pairs; i++) {
                                struct pair p = one_pair(fd, pos[2]);

                                t[i] = p.us;
                                commits += p.commits;
                                writes += p.writes;
                        }
                        pus[r] = bench_quantile(t, (size_t)pairs, 0.5);
                        cpp = (double)commits / pairs;
                        wpp = (double)writes / pairs;
                        if (!have_counters)
                                cpp = 46;       /* the count the issue measured on this daemon */
                        bare[r] = bare_commit_us(pos[3], d.dir, (long)(cpp * pairs + 0.5), sync);
                        fus[r] = bare[r] * cpp;
                        ratio[r] = pus[r] / fus[r];
                        rtus[r] = round_trips_us(fa, fr, pos[2], pairs);
                        ratio2[r] = pus[r] / (fus[r] + rtus[r]);
                        printf("%-6d %10.1f %8.1f %8.1f %14.2f %10.1f %7.2f %9.1f %8.2f\n", r + 1,
                               pus[r], cpp, wpp, bare[r], fus[r], ratio[r], rtus[r], ratio2[r]);
                        free(t);
                }
                close(fa);
                close(fr);
                bench_kill(pa);
                bench_kill(pr);
        }
        {
                struct bench_spread p = bench_spread_of(pus, (size_t)rounds);
                struct bench_spread f = bench_spread_of(fus, (size_t)rounds);
                struct bench_spread q = bench_spread_of(ratio, (size_t)rounds);
                struct bench_spread b = bench_spread_of(bare, (size_t)rounds);
                struct bench_spread e = bench_spread_of(rtus, (size_t)rounds);
                struct bench_spread q2 = bench_spread_of(ratio2, (size_t)rounds);
                char what[96];

                printf("median: pair %.1f us (%.1f-%.1f), %.0f pairs/s; %.1f commits per pair%s, "
                       "bare commit %.2f us (%.0f commits/s); floor %.1f us; ratio %.2f "
                       "(%.2f-%.2f)\n", p.median, p.min, p.max, 1e6 / p.median, cpp,
                       have_counters ? "" : " (not counted by this daemon: assumed)", b.median,
                       1e6 / b.median, f.median, q.median, q.min, q.max);
                snprintf(what, sizeof(what), "Assign+Release pair, %s, %s", sync,
                         fs_name(d.dir));
                if (!strcmp(fs_name(d.dir), "tmpfs") && !strcmp(sync, "full"))
                        printf("goal  %-44s %10.1f us  floor %9.1f us  ratio %6.2f  goal <= 1.5   "
                               "%s\n", what, p.median, f.median, q.median,
                               q.median <= 1.5 ? "met" : "NOT MET");
                else
                        printf("goal  %-44s %10.1f us  floor %9.1f us  ratio %6.2f  (printed, "
                               "no goal)\n", what, p.median, f.median, q.median);
                printf("with the round trips: two echoes of the replies' bytes %.1f us "
                       "(%.1f-%.1f); commits and round trips %.1f us; ratio %.2f (%.2f-%.2f)\n",
                       e.median, e.min, e.max, f.median + e.median, q2.median, q2.min, q2.max);
                snprintf(what, sizeof(what), "pair vs commits + round trips, %s, %s", sync,
                         fs_name(d.dir));
                printf("goal  %-44s %10.1f us  floor %9.1f us  ratio %6.2f  (printed, no goal)\n",
                       what, p.median, f.median + e.median, q2.median);
        }
        close(fd);
        bench_daemon_stop(&d, false);
        return 0;
}
