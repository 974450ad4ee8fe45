/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark (not a test): how long assignd takes to validate, scan and
 * classify a DTB, against the floor of `dtc -I dtb -O dts` decompiling the
 * same file (which only parses and prints, and is itself a fork+exec).
 * Real trees are given as files; -g N adds a generated tree of N nodes (a
 * simple-bus of devices with registers, an SPI on some, an IOMMU stream on
 * others, and a child node each), built in memory with libfdt and scanned
 * with the size cap raised as assignd.conf's MaxDeviceTreeMiB would.
 * Prints figures; never fails on timing.
 *
 * Usage: bench-scan [-n ITER] [-g NODES]... [DTB...]
 */
#include <errno.h>
#include <libfdt.h>
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
        pid_t pid;
        int status;

        /*
         * Whatever stdout holds must not be copied into the child: its
         * freopen() would flush it a second time (the header printed once
         * per dtc run when the output is a pipe).
         */
        fflush(stdout);
        pid = fork();
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

static void u32s(void *fdt, const char *name, const uint32_t *v, int n)
{
        fdt32_t be[8];

        for (int i = 0; i < n; i++)
                be[i] = cpu_to_fdt32(v[i]);
        fdt_property(fdt, name, be, n * (int)sizeof(fdt32_t));
}

/*
 * A tree of about nodes nodes: a GIC, an SMMUv3 and a simple-bus of
 * nodes / 2 devices, each with one child.  One device in 50 has an SPI of
 * its own (up to 900), one in 8 a stream ID of its own.
 */
static void *generate(size_t nodes, size_t *len)
{
        size_t devs = nodes / 2, cap = 256 + devs * 260;
        void *fdt = malloc(cap);
        char name[64];

        if (!fdt || fdt_create(fdt, (int)cap) < 0 || fdt_finish_reservemap(fdt) < 0)
                return NULL;
        fdt_begin_node(fdt, "");
        fdt_property_string(fdt, "compatible", "bench,generated");
        fdt_property_string(fdt, "model", "generated tree");
        u32s(fdt, "#address-cells", (uint32_t[]){ 2 }, 1);
        u32s(fdt, "#size-cells", (uint32_t[]){ 2 }, 1);
        u32s(fdt, "interrupt-parent", (uint32_t[]){ 1 }, 1);
        fdt_begin_node(fdt, "interrupt-controller@8000000");
        fdt_property_string(fdt, "compatible", "arm,gic-v3");
        fdt_property(fdt, "interrupt-controller", NULL, 0);
        u32s(fdt, "#interrupt-cells", (uint32_t[]){ 3 }, 1);
        u32s(fdt, "reg", (uint32_t[]){ 0, 0x8000000, 0, 0x10000 }, 4);
        u32s(fdt, "phandle", (uint32_t[]){ 1 }, 1);
        fdt_end_node(fdt);
        fdt_begin_node(fdt, "iommu@9000000");
        fdt_property_string(fdt, "compatible", "arm,smmu-v3");
        u32s(fdt, "#iommu-cells", (uint32_t[]){ 1 }, 1);
        u32s(fdt, "reg", (uint32_t[]){ 0, 0x9000000, 0, 0x20000 }, 4);
        u32s(fdt, "phandle", (uint32_t[]){ 2 }, 1);
        fdt_end_node(fdt);
        fdt_begin_node(fdt, "soc");
        fdt_property_string(fdt, "compatible", "simple-bus");
        u32s(fdt, "#address-cells", (uint32_t[]){ 2 }, 1);
        u32s(fdt, "#size-cells", (uint32_t[]){ 2 }, 1);
        fdt_property(fdt, "ranges", NULL, 0);
        for (size_t i = 0; i < devs; i++) {
                uint64_t addr = 0x100000000ull + (uint64_t)i * 0x1000;

                snprintf(name, sizeof(name), "device@%llx", (unsigned long long)addr);
                fdt_begin_node(fdt, name);
                snprintf(name, sizeof(name), "bench,device-%zu", i % 97);
                fdt_property_string(fdt, "compatible", name);
                u32s(fdt, "reg", (uint32_t[]){ (uint32_t)(addr >> 32), (uint32_t)addr, 0,
                                               0x1000 }, 4);
                if (i % 50 == 0 && i / 50 < 900)
                        u32s(fdt, "interrupts", (uint32_t[]){ 0, (uint32_t)(i / 50), 4 }, 3);
                if (i % 8 == 0)
                        u32s(fdt, "iommus", (uint32_t[]){ 2, (uint32_t)i }, 2);
                fdt_property_string(fdt, "status", "okay");
                fdt_begin_node(fdt, "port");
                u32s(fdt, "bench,index", (uint32_t[]){ (uint32_t)i }, 1);
                fdt_end_node(fdt);
                fdt_end_node(fdt);
        }
        fdt_end_node(fdt);
        fdt_end_node(fdt);
        if (fdt_finish(fdt) < 0)
                return NULL;
        *len = fdt_totalsize(fdt);
        return fdt;
}

/* Scan the blob iter times and dtc its file n_dtc times; print a row. */
static int bench_one(const char *label, const void *blob, size_t len, const char *file,
                     int iter, int n_dtc, const struct classify_tables *tables)
{
        double *t_scan = calloc(iter, sizeof(double)), *t_dtc = calloc(n_dtc + 1, sizeof(double));
        size_t ndev = 0;
        char *err = NULL;

        if (!t_scan || !t_dtc)
                return -ENOMEM;
        for (int i = 0; i < iter; i++) {
                struct dt_inventory *inv = NULL;
                double t0 = now_us();

                if (dt_scan(blob, len, &inv, &err) < 0 || classify_inventory(inv, tables) < 0) {
                        fprintf(stderr, "%s: %s\n", label, err ? err : "classify failed");
                        return -EINVAL;
                }
                t_scan[i] = now_us() - t0;
                ndev = inv->n_devices;
                dt_inventory_free(inv);
        }
        for (int i = 0; i < n_dtc; i++) {
                double t0 = now_us();

                if (run_dtc(file) < 0) {
                        fprintf(stderr, "dtc failed on %s\n", file);
                        return -EIO;
                }
                t_dtc[i] = now_us() - t0;
        }
        double s = median(t_scan, iter), d = n_dtc ? median(t_dtc, n_dtc) : 0;

        if (n_dtc)
                printf("%-40s %9zu %8zu %12.1f %12.1f %8.3f\n", label, len, ndev, s, d, s / d);
        else
                printf("%-40s %9zu %8zu %12.1f %12s %8s\n", label, len, ndev, s, "-", "-");
        free(t_scan);
        free(t_dtc);
        return 0;
}

int main(int argc, char **argv)
{
        struct classify_tables *tables = NULL;
        size_t gen[16];
        int iter = 200, n_gen = 0, opt;

        while ((opt = getopt(argc, argv, "n:g:")) != -1) {
                if (opt == 'n')
                        iter = atoi(optarg);
                else if (opt == 'g' && n_gen < 16)
                        gen[n_gen++] = strtoul(optarg, NULL, 10);
                else
                        iter = 0;
        }
        if ((optind >= argc && !n_gen) || iter < 1) {
                fprintf(stderr, "usage: %s [-n ITER] [-g NODES]... [DTB...]\n", argv[0]);
                return 2;
        }
        if (classify_tables_new(&tables) < 0)
                return 1;

        printf("%-40s %9s %8s %12s %12s %8s\n", "dtb", "bytes", "devices", "scan_us",
               "dtc_us", "ratio");
        for (int a = optind; a < argc; a++) {
                void *blob = NULL;
                size_t len = 0;
                char *err = NULL;
                const char *base = strrchr(argv[a], '/');

                if (dt_read_file(argv[a], &blob, &len, &err) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[a], err ? err : "out of memory");
                        return 1;
                }
                if (bench_one(base ? base + 1 : argv[a], blob, len, argv[a], iter,
                              iter > 20 ? 20 : iter, tables) < 0)
                        return 1;
                free(blob);
        }
        /* Generated trees exceed the default cap: raise it, as MaxDeviceTreeMiB= would. */
        dt_set_max_blob_size(256u << 20);
        for (int g = 0; g < n_gen; g++) {
                char file[] = "/tmp/bench-scan-XXXXXX", label[64];
                size_t len = 0;
                void *blob = generate(gen[g], &len);
                int fd = mkstemp(file), r;

                if (!blob || fd < 0 || write(fd, blob, len) != (ssize_t)len) {
                        fprintf(stderr, "cannot generate a tree of %zu nodes\n", gen[g]);
                        return 1;
                }
                close(fd);
                snprintf(label, sizeof(label), "generated, %zu nodes", gen[g]);
                /* dtc itself is quadratic in the node count: a minute at 50k nodes. */
                r = bench_one(label, blob, len, file, gen[g] >= 100000 ? 3 : 5,
                              gen[g] > 50000 ? 0 : 1, tables);
                unlink(file);
                free(blob);
                if (r < 0)
                        return 1;
        }
        printf("scan_us: median of validate+scan+classify in-process; dtc_us: median of "
               "`dtc -I dtb -O dts` of the same file (fork+exec+parse+print; once for a "
               "generated tree, and not past 50k nodes, where dtc's own time grows with the "
               "square of the node count).\n");
        classify_tables_free(tables);
        return 0;
}
