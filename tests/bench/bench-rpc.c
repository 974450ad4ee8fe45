/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark (not a test): round-trip latency of GetDevice and ListDevices
 * against the real daemon, next to the floor of a bare echo server over
 * the same kind of socket (a UNIX stream socket, NUL-framed messages of
 * the same size as the GetDevice request).  Prints p50/p99 in
 * microseconds; never fails on timing.
 *
 * Usage: bench-rpc ASSIGND DTB DEVICE-PATH [ITERATIONS]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static int unix_connect(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

static char rbuf[1 << 20];

/* Send msg with its NUL, read one NUL-terminated reply; returns its length. */
static ssize_t roundtrip(int fd, const char *msg, size_t len)
{
        size_t got = 0;

        if (write(fd, msg, len + 1) != (ssize_t)(len + 1))
                return -EIO;
        for (;;) {
                ssize_t n = read(fd, rbuf + got, sizeof(rbuf) - got);

                if (n <= 0)
                        return -EIO;
                got += n;
                if (memchr(rbuf + got - n, '\0', n))
                        return got;
                if (got == sizeof(rbuf))
                        return -E2BIG;
        }
}

struct echo_server {
        int lfd;
};

static void *echo_thread(void *arg)
{
        struct echo_server *s = arg;
        char buf[65536];
        int fd = accept(s->lfd, NULL, NULL);

        if (fd < 0)
                return NULL;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n <= 0)
                        break;
                if (write(fd, buf, n) != n)
                        break;
        }
        close(fd);
        return NULL;
}

static void measure(const char *label, int fd, const char *msg, int iter)
{
        double *t = calloc(iter, sizeof(double));
        ssize_t n = 0;

        for (int i = 0; i < 20; i++)    /* warm up */
                roundtrip(fd, msg, strlen(msg));
        for (int i = 0; i < iter; i++) {
                double t0 = now_us();

                n = roundtrip(fd, msg, strlen(msg));
                if (n < 0) {
                        fprintf(stderr, "%s: round trip failed\n", label);
                        exit(1);
                }
                t[i] = now_us() - t0;
        }
        qsort(t, iter, sizeof(double), cmp_double);
        printf("%-14s %8d %10zd %10.1f %10.1f\n", label, iter, n, t[iter / 2],
               t[(int)(iter * 0.99)]);
        free(t);
}

int main(int argc, char **argv)
{
        char dir[] = "/tmp/assignd-bench-XXXXXX", sock[256], echo[256], db[256], state[256];
        char req[1024];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct echo_server es;
        pthread_t th;
        int iter = argc > 4 ? atoi(argv[4]) : 2000, fd = -1;
        pid_t pid;

        if (argc < 4 || iter < 10) {
                fprintf(stderr, "usage: %s ASSIGND DTB DEVICE-PATH [ITERATIONS]\n", argv[0]);
                return 2;
        }
        if (!mkdtemp(dir))
                return 1;
        snprintf(sock, sizeof(sock), "%s/broker.sock", dir);
        snprintf(echo, sizeof(echo), "%s/echo.sock", dir);
        snprintf(db, sizeof(db), "%s/inventory.db", dir);
        snprintf(state, sizeof(state), "%s/sim-state.json", dir);

        pid = fork();
        if (pid == 0) {
                freopen("/dev/null", "w", stderr);
                execl(argv[1], argv[1], "--foreground", "--log-level", "warning", "--hypervisor",
                      "sim", "--dtb", argv[2], "--db", db, "--socket", sock, "--sim-state", state,
                      "--config-dir", dir, (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && fd < 0; i++) {
                fd = unix_connect(sock);
                if (fd < 0)
                        usleep(10000);
        }
        if (fd < 0) {
                fprintf(stderr, "daemon did not come up on %s\n", sock);
                kill(pid, SIGTERM);
                return 1;
        }

        es.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", echo);
        if (es.lfd < 0 || bind(es.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(es.lfd, 4) < 0)
                return 1;
        pthread_create(&th, NULL, echo_thread, &es);
        int efd = unix_connect(echo);

        snprintf(req, sizeof(req),
                 "{\"method\":\"io.assignd.Broker.GetDevice\",\"parameters\":{\"path\":\"%s\"}}",
                 argv[3]);
        printf("%-14s %8s %10s %10s %10s\n", "call", "iter", "reply_B", "p50_us", "p99_us");
        measure("echo (floor)", efd, req, iter);
        measure("GetDevice", fd, req, iter);
        measure("ListDevices", fd, "{\"method\":\"io.assignd.Broker.ListDevices\"}", iter / 4);
        measure("GetStatus", fd, "{\"method\":\"io.assignd.Broker.GetStatus\"}", iter);

        close(efd);
        close(fd);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        pthread_join(th, NULL);
        close(es.lfd);
        unlink(echo);
        unlink(sock);
        unlink(db);
        char p[300];
        snprintf(p, sizeof(p), "%s-wal", db);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", db);
        unlink(p);
        unlink(state);
        rmdir(dir);
        return 0;
}
