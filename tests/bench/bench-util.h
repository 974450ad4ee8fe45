/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the benchmarks share: clocks and order statistics, a daemon started
 * on a scratch directory with the simulator, raw NUL-framed round trips
 * (the measured path: no client library between the clock and the
 * socket), an echo server in a process of its own that answers every
 * message with a fixed reply (the floor a daemon reply of the same size is
 * compared with), the resident set size of a process, and pinning to one
 * CPU.  Benchmarks
 * print figures and never fail on timing: an exit status other than 0
 * means the benchmark itself could not run.
 */
#ifndef ASSIGND_BENCH_UTIL_H
#define ASSIGND_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* The p-th quantile (0..1) of v[0..n), sorting v. */
static inline double bench_quantile(double *v, size_t n, double p)
{
        size_t i;

        if (!n)
                return 0;
        qsort(v, n, sizeof(*v), bench_cmp_double);
        i = (size_t)(p * (double)(n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

/*
 * Pin this process to the CPU it runs on, and with it everything it starts
 * afterwards (the daemon, the echo processes, the clients, the bare
 * program): on a virtual machine a wake-up from idle on another CPU costs
 * tens of microseconds, more than a read call, and lands on the daemon or
 * on the echo at random, so unpinned single-client figures measure the
 * scheduler.  BENCH_PIN=no leaves them free.  Says which on stdout.
 */
static inline void bench_pin(void)
{
        const char *e = getenv("BENCH_PIN");
        cpu_set_t set;
        int cpu;

        if (e && !strcmp(e, "no")) {
                printf("cpus: not pinned (BENCH_PIN=no): figures include wake-ups across CPUs\n");
                return;
        }
        cpu = sched_getcpu();
        if (cpu < 0)
                cpu = 0;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0) {
                printf("cpus: cannot pin to CPU %d (%s): figures include wake-ups across CPUs\n",
                       cpu, strerror(errno));
                return;
        }
        printf("cpus: the benchmark and all it starts on CPU %d, the daemon and its floor alike "
               "(BENCH_PIN=no: free)\n", cpu);
}

/*
 * Median, min and max of n values (v is sorted).  With an even count the
 * median is the mean of the middle two: of two rounds, not the slower one.
 */
struct bench_spread {
        double median, min, max;
};

static inline struct bench_spread bench_spread_of(double *v, size_t n)
{
        struct bench_spread s = { 0 };

        if (!n)
                return s;
        qsort(v, n, sizeof(*v), bench_cmp_double);
        s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        s.min = v[0];
        s.max = v[n - 1];
        return s;
}

/*
 * The daemon and echo processes a benchmark started: stopped when it dies
 * (only by the process that started them, not by a forked client).
 */
static pid_t bench_children[8];
static pid_t bench_parent;

static inline void bench_track(pid_t pid)
{
        bench_parent = getpid();
        for (size_t i = 0; i < 8; i++)
                if (!bench_children[i]) {
                        bench_children[i] = pid;
                        return;
                }
}

static inline void bench_untrack(pid_t pid)
{
        for (size_t i = 0; i < 8; i++)
                if (bench_children[i] == pid)
                        bench_children[i] = 0;
}

_Noreturn static inline void bench_die(const char *fmt, ...)
{
        va_list ap;

        if (getpid() == bench_parent)
                for (size_t i = 0; i < 8; i++)
                        if (bench_children[i] > 0)
                                kill(bench_children[i], SIGKILL);

        va_start(ap, fmt);
        fputs("bench: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

/* Resident set size of pid in KiB, or -1. */
static inline long bench_rss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* Raise the soft descriptor limit to the hard one (many client sockets). */
static inline void bench_raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static inline int bench_connect(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (strlen(path) >= sizeof(sa.sun_path)) {
                close(fd);
                return -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

/* A reply buffer per client: a large ListDevices reply fits. */
#define BENCH_RBUF (4u << 20)

/*
 * Send msg (with its NUL), read one NUL-terminated reply into buf; returns
 * the reply's length without the NUL, or a negative errno.
 */
static inline ssize_t bench_roundtrip(int fd, const char *msg, size_t len, char *buf, size_t cap)
{
        size_t got = 0, off = 0;

        while (off < len + 1) {
                ssize_t n = write(fd, msg + off, len + 1 - off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -EIO;
                off += (size_t)n;
        }
        for (;;) {
                ssize_t n = read(fd, buf + got, cap - got);
                char *nul;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -EIO;
                nul = memchr(buf + got, '\0', (size_t)n);
                got += (size_t)n;
                if (nul)
                        return nul - buf;
                if (got == cap)
                        return -E2BIG;
        }
}

/* ---- the daemon ------------------------------------------------------------- */

struct bench_daemon {
        pid_t pid;
        char dir[256];
        char sock[300];
        char log[300];
};

/*
 * Start assignd with the simulator on a scratch directory (made under
 * parent) and wait for its socket.  conf (may be NULL) is written as
 * assignd.conf; env (NULL-terminated "K=V" list, may be NULL) is added to
 * the daemon's environment; extra (may be NULL) are more arguments.
 */
static inline void bench_daemon_start(struct bench_daemon *d, const char *assignd,
                                      const char *dtb, const char *parent, const char *conf,
                                      char *const *env, char *const *extra)
{
        char db[320], state[320];

        snprintf(d->dir, sizeof(d->dir), "%s/assignd-bench-XXXXXX", parent);
        if (!mkdtemp(d->dir))
                bench_die("mkdtemp under %s: %s", parent, strerror(errno));
        /* Clients of other uids reach the sockets in it. */
        chmod(d->dir, 0755);
        snprintf(d->sock, sizeof(d->sock), "%s/broker.sock", d->dir);
        snprintf(d->log, sizeof(d->log), "%s/assignd.log", d->dir);
        snprintf(db, sizeof(db), "%s/inventory.db", d->dir);
        snprintf(state, sizeof(state), "%s/sim-state.json", d->dir);
        if (conf) {
                char path[320];
                FILE *f;

                snprintf(path, sizeof(path), "%s/assignd.conf", d->dir);
                f = fopen(path, "we");
                if (!f || fputs(conf, f) < 0 || fclose(f) != 0)
                        bench_die("cannot write %s", path);
        }
        fflush(NULL);
        d->pid = fork();
        if (d->pid < 0)
                bench_die("fork: %s", strerror(errno));
        if (d->pid == 0) {
                char *argv[48];
                int n = 0, fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                if (fd >= 0) {
                        dup2(fd, 2);
                        dup2(fd, 1);
                }
                for (size_t i = 0; env && env[i]; i++)
                        putenv(env[i]);
                argv[n++] = (char *)assignd;
                argv[n++] = "--foreground";
                argv[n++] = "--hypervisor";
                argv[n++] = "sim";
                argv[n++] = "--dtb";
                argv[n++] = (char *)dtb;
                argv[n++] = "--db";
                argv[n++] = db;
                argv[n++] = "--socket";
                argv[n++] = d->sock;
                argv[n++] = "--sim-state";
                argv[n++] = state;
                argv[n++] = "--config-dir";
                argv[n++] = d->dir;
                for (size_t i = 0; extra && extra[i] && n < 46; i++)
                        argv[n++] = extra[i];
                argv[n] = NULL;
                execv(assignd, argv);
                _exit(127);
        }
        bench_track(d->pid);
        for (int i = 0; i < 1000; i++) {
                int fd = bench_connect(d->sock);

                if (fd >= 0) {
                        close(fd);
                        return;
                }
                if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
                        bench_die("assignd exited at start-up; see %s", d->log);
                usleep(10000);
        }
        bench_die("assignd did not come up on %s; see %s", d->sock, d->log);
}

/* Remove a scratch directory's files (one level) and the directory. */
static inline void bench_rmdir(const char *dir)
{
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bench: cannot remove %s\n", dir);
}

static inline void bench_daemon_stop(struct bench_daemon *d, bool keep)
{
        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                waitpid(d->pid, NULL, 0);
                bench_untrack(d->pid);
                d->pid = 0;
        }
        if (!keep)
                bench_rmdir(d->dir);
}

/* ---- the echo floor ------------------------------------------------------------ */

/*
 * A process of its own that accepts connections on path and answers every
 * NUL-terminated message with reply (len bytes and a NUL): what serving a
 * reply of that size over the same kind of socket costs, with one event
 * loop like the daemon's.  Returns its pid.
 */
static inline pid_t bench_echo_start(const char *path, const char *reply, size_t len)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd;
        pid_t pid;

        unlink(path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (strlen(path) >= sizeof(sa.sun_path))
                bench_die("socket path %s is too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0 ||
            chmod(path, 0666) < 0)
                bench_die("echo socket %s: %s", path, strerror(errno));
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                bench_die("fork: %s", strerror(errno));
        if (pid == 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[64];
                int ep = epoll_create1(EPOLL_CLOEXEC);
                static char in[65536];
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                /* Not holding the benchmark's output open (a pipe would never end). */
                if (null >= 0)
                        dup2(null, 1);
                epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
                for (;;) {
                        int n = epoll_wait(ep, evs, 64, -1);

                        for (int i = 0; i < n; i++) {
                                int fd = evs[i].data.fd;

                                if (fd == lfd) {
                                        int c;

                                        while ((c = accept4(lfd, NULL, NULL,
                                                            SOCK_CLOEXEC)) >= 0) {
                                                ev = (struct epoll_event){ .events = EPOLLIN,
                                                                           .data.fd = c };
                                                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                                        }
                                        continue;
                                }
                                ssize_t k = read(fd, in, sizeof(in));

                                if (k <= 0) {
                                        close(fd);
                                        continue;
                                }
                                /* One reply per NUL received (a client sends one at a time). */
                                for (ssize_t j = 0; j < k; j++) {
                                        size_t off = 0;

                                        if (in[j])
                                                continue;
                                        while (off < len + 1) {
                                                ssize_t w = write(fd, reply + off, len + 1 - off);

                                                if (w <= 0)
                                                        break;
                                                off += (size_t)w;
                                        }
                                }
                        }
                }
        }
        close(lfd);
        bench_track(pid);
        return pid;
}

static inline void bench_kill(pid_t pid)
{
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                bench_untrack(pid);
        }
}

#endif
