/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark (not a test): how long assignd takes to validate, scan and
 * classify a DTB, against the floor of `dtc -I dtb -O dts` decompiling the
 * same file (which only parses and prints, and is itself a fork+exec).
 * Prints figures; never fails on timing.
 *
 * Usage: bench-scan [-n ITER] DTB...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "dt.h"

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

static double median(double *v, int n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return v[n / 2];
}

static int run_dtc(const char *path)
{
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                freopen("/dev/null", "w", stdout);
                freopen("/dev/null", "w", stderr);
                execlp("dtc", "dtc", "-q", "-I", "dtb", "-O", "dts", "-o", "/dev/null", path,
                       (char *)NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int main(int argc, char **argv)
{
        struct classify_tables *tables = NULL;
        int iter = 200, first = 1;

        if (argc > 2 && strcmp(argv[1], "-n") == 0) {
                iter = atoi(argv[2]);
                first = 3;
        }
        if (first >= argc || iter < 1) {
                fprintf(stderr, "usage: %s [-n ITER] DTB...\n", argv[0]);
                return 2;
        }
        if (classify_tables_new(&tables) < 0)
                return 1;

        printf("%-40s %8s %8s %10s %10s %8s\n", "dtb", "bytes", "devices", "scan_us",
               "dtc_us", "ratio");
        for (int a = first; a < argc; a++) {
                void *blob = NULL;
                size_t len = 0;
                char *err = NULL;
                double *t_scan = calloc(iter, sizeof(double));
                double *t_dtc = calloc(iter > 20 ? 20 : iter, sizeof(double));
                int n_dtc = iter > 20 ? 20 : iter;
                size_t ndev = 0;
                const char *base = strrchr(argv[a], '/');

                if (!t_scan || !t_dtc || dt_read_file(argv[a], &blob, &len, &err) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[a], err ? err : "out of memory");
                        return 1;
                }
                for (int i = 0; i < iter; i++) {
                        struct dt_inventory *inv = NULL;
                        double t0 = now_us();

                        if (dt_scan(blob, len, &inv, &err) < 0 || classify_inventory(inv, tables) < 0) {
                                fprintf(stderr, "%s: %s\n", argv[a], err ? err : "classify failed");
                                return 1;
                        }
                        t_scan[i] = now_us() - t0;
                        ndev = inv->n_devices;
                        dt_inventory_free(inv);
                }
                for (int i = 0; i < n_dtc; i++) {
                        double t0 = now_us();

                        if (run_dtc(argv[a]) < 0) {
                                fprintf(stderr, "dtc failed on %s\n", argv[a]);
                                return 1;
                        }
                        t_dtc[i] = now_us() - t0;
                }
                double s = median(t_scan, iter), d = median(t_dtc, n_dtc);
                printf("%-40s %8zu %8zu %10.1f %10.1f %8.3f\n", base ? base + 1 : argv[a], len,
                       ndev, s, d, s / d);
                free(t_scan);
                free(t_dtc);
                free(blob);
        }
        printf("scan_us: median of validate+scan+classify in-process; dtc_us: median of "
               "`dtc -I dtb -O dts` of the same file (fork+exec+parse+print).\n");
        classify_tables_free(tables);
        return 0;
}
