/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Run a program under the restrictions of assignd.service that can be had
 * without systemd, for the real-Xen suite, whose dom0 has no systemd: the
 * capability bounding set, no_new_privs, and the system-call filter with
 * its errno.  The spec file is written on the build host from the unit
 * itself by tests/xen/unit-sandbox (systemd-analyze expands the filter's
 * groups there); each line is one of
 *
 *     keep-cap N       a capability the bounding set keeps (none: all go)
 *     errno N          what a filtered call returns (SystemCallErrorNumber=)
 *     syscall NAME     a call the filter allows
 *
 * Calls the filter refuses are also logged by the kernel (audit type
 * 1326, visible in dmesg), so the test can show which ones the daemon
 * tried.  Usage: sandbox-exec SPEC PROGRAM [ARG...] (PROGRAM looked up in PATH)
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <linux/capability.h>

#define MAX_CAPS 64

static int die(const char *what, int r)
{
        fprintf(stderr, "sandbox-exec: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 126;
}

int main(int argc, char **argv)
{
        char line[256], name[200];
        int keep[MAX_CAPS] = { 0 };
        int err_no = EPERM, n_allowed = 0, n_unknown = 0, r;
        scmp_filter_ctx ctx;
        FILE *f;

        if (argc < 3) {
                fprintf(stderr, "usage: %s SPEC PROGRAM [ARG...]\n", argv[0]);
                return 2;
        }
        f = fopen(argv[1], "re");
        if (!f)
                return die(argv[1], errno);
        /* First the errno, which every rule's default action needs. */
        while (fgets(line, sizeof(line), f)) {
                int n;

                if (sscanf(line, "errno %d", &n) == 1)
                        err_no = n;
                else if (sscanf(line, "keep-cap %d", &n) == 1 && n >= 0 && n < MAX_CAPS)
                        keep[n] = 1;
        }
        ctx = seccomp_init(SCMP_ACT_ERRNO((unsigned)err_no));
        if (!ctx)
                return die("seccomp_init", ENOMEM);
        /* Log what is refused, as an administrator would see with auditd. */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
        rewind(f);
        while (fgets(line, sizeof(line), f)) {
                int nr;

                if (sscanf(line, "syscall %199s", name) != 1)
                        continue;
                nr = seccomp_syscall_resolve_name(name);
                /* Names of other architectures (open, stat ...): systemd skips them too. */
                if (nr == __NR_SCMP_ERROR || nr < 0) {
                        n_unknown++;
                        continue;
                }
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0)
                        return die(name, r);
                n_allowed++;
        }
        fclose(f);
        if (n_allowed == 0)
                return die("the spec allows no system call", EINVAL);

        for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (!keep[cap] && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return die("PR_CAPBSET_DROP", errno);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return die("PR_SET_NO_NEW_PRIVS", errno);
        fprintf(stderr, "sandbox-exec: %d calls allowed (%d not on this architecture), "
                "others fail with errno %d; bounding set kept:", n_allowed, n_unknown, err_no);
        for (int cap = 0; cap < MAX_CAPS; cap++)
                if (keep[cap])
                        fprintf(stderr, " %d", cap);
        fprintf(stderr, "\n");
        r = seccomp_load(ctx);
        if (r < 0)
                return die("seccomp_load", r);
        seccomp_release(ctx);
        execvp(argv[2], argv + 2);
        return die(argv[2], errno);
}
