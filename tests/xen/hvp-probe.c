/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hvp-probe: raw hypercalls for tests/xen/dom0-patched.sh, bypassing
 * assignd, to check what a Xen built with hv-patches/ does by itself.
 * Each command makes one call and prints Xen's answer as "ok" or the errno
 * name (EBUSY, ENXIO ...), so that the script compares words, not
 * numbers; the exit status is 0 whenever the call was made.
 *
 *   hvp-probe assign DOMID PATH      XEN_DOMCTL_assign_device, DT, with
 *                                    XEN_DOMCTL_DEV_NO_IOMMU (libxencall:
 *                                    libxenctrl always sends flags 0)
 *   hvp-probe deassign DOMID PATH    XEN_DOMCTL_deassign_device, same flag
 *   hvp-probe test DOMID|invalid PATH   xc_test_assign_dt_device
 *   hvp-probe iomem DOMID MFN NR     xc_domain_iomem_permission (grant)
 *   hvp-probe bind DOMID IRQ         xc_domain_bind_pt_spi_irq
 *   hvp-probe unbind DOMID IRQ       xc_domain_unbind_pt_spi_irq
 *   hvp-probe info DOMID             getdomaininfo: "iommu=0|1 paused=0|1"
 *   hvp-probe physinfo               "directio=0|1 spi-unbind-live=0|1"
 *
 * Built for the arm64 dom0 by tests/xen/run-patched against the trixie
 * sysroot's headers, whose domctl interface version (0x17) is the one Xen
 * 4.20 takes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xencall.h>

/* The values hv-patches/ adds to Xen's public headers. */
#define DEV_NO_IOMMU 2u
#define DOMINF_IOMMU (1u << 9)
#define PHYSCAP_ARM_SPI_UNBIND_LIVE (1u << 5)

static int answer(int r)
{
        const char *name;

        if (r >= 0) {
                puts("ok");
                return 0;
        }
        name = strerrorname_np(errno);
        printf("%s\n", name ? name : "EUNKNOWN");
        return 0;
}

static int raw_dt(bool assign, uint32_t domid, const char *path)
{
        xencall_handle *xcall = xencall_open(NULL, 0);
        size_t len = strlen(path);
        struct xen_domctl *op;
        char *buf;
        int r;

        if (!xcall) {
                perror("xencall_open");
                return 2;
        }
        op = xencall_alloc_buffer(xcall, sizeof(*op));
        buf = xencall_alloc_buffer(xcall, len + 1);
        if (!op || !buf) {
                perror("xencall_alloc_buffer");
                return 2;
        }
        memcpy(buf, path, len + 1);
        memset(op, 0, sizeof(*op));
        op->cmd = assign ? XEN_DOMCTL_assign_device : XEN_DOMCTL_deassign_device;
        op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
        op->domain = (domid_t)domid;
        op->u.assign_device.dev = XEN_DOMCTL_DEV_DT;
        op->u.assign_device.flags = DEV_NO_IOMMU;
        op->u.assign_device.u.dt.size = (uint32_t)len;
        /* xenctrl.h redefines set_xen_guest_handle for its own buffers. */
        set_xen_guest_handle_raw(op->u.assign_device.u.dt.path, buf);
        r = xencall1(xcall, __HYPERVISOR_domctl, (uint64_t)(uintptr_t)op);
        answer(r);
        xencall_free_buffer(xcall, buf);
        xencall_free_buffer(xcall, op);
        xencall_close(xcall);
        return 0;
}

static uint32_t domid_arg(const char *s)
{
        unsigned long v;
        char *end;

        if (strcmp(s, "invalid") == 0)
                return DOMID_INVALID;
        errno = 0;
        v = strtoul(s, &end, 0);
        if (!*s || *end || errno || v >= DOMID_FIRST_RESERVED) {
                fprintf(stderr, "hvp-probe: bad domain id '%s'\n", s);
                exit(2);
        }
        return (uint32_t)v;
}

int main(int argc, char **argv)
{
        xc_interface *xch;
        const char *cmd = argc > 1 ? argv[1] : "";
        int r;

        if (!strcmp(cmd, "assign") && argc == 4)
                return raw_dt(true, domid_arg(argv[2]), argv[3]);
        if (!strcmp(cmd, "deassign") && argc == 4)
                return raw_dt(false, domid_arg(argv[2]), argv[3]);

        xch = xc_interface_open(NULL, NULL, 0);
        if (!xch) {
                perror("xc_interface_open");
                return 2;
        }
        if (!strcmp(cmd, "test") && argc == 4) {
                r = xc_test_assign_dt_device(xch, domid_arg(argv[2]), argv[3]);
                answer(r);
        } else if (!strcmp(cmd, "iomem") && argc == 5) {
                r = xc_domain_iomem_permission(xch, domid_arg(argv[2]),
                                               strtoul(argv[3], NULL, 0),
                                               strtoul(argv[4], NULL, 0), 1);
                answer(r);
        } else if ((!strcmp(cmd, "bind") || !strcmp(cmd, "unbind")) && argc == 4) {
                uint16_t irq = (uint16_t)strtoul(argv[3], NULL, 0);

                if (!strcmp(cmd, "bind"))
                        r = xc_domain_bind_pt_spi_irq(xch, domid_arg(argv[2]), irq, irq);
                else
                        r = xc_domain_unbind_pt_spi_irq(xch, domid_arg(argv[2]), irq, irq);
                answer(r);
        } else if (!strcmp(cmd, "info") && argc == 3) {
                xc_domaininfo_t di;
                uint32_t domid = domid_arg(argv[2]);

                r = xc_domain_getinfolist(xch, domid, 1, &di);
                if (r != 1 || di.domain != domid) {
                        printf("no domain %" PRIu32 "\n", domid);
                        return 1;
                }
                printf("iommu=%d paused=%d\n", !!(di.flags & DOMINF_IOMMU),
                       !!(di.flags & XEN_DOMINF_paused));
        } else if (!strcmp(cmd, "physinfo") && argc == 2) {
                xc_physinfo_t pi;

                memset(&pi, 0, sizeof(pi));
                if (xc_physinfo(xch, &pi) < 0) {
                        answer(-1);
                        return 1;
                }
                printf("directio=%d spi-unbind-live=%d\n",
                       !!(pi.capabilities & XEN_SYSCTL_PHYSCAP_directio),
                       !!(pi.arch_capabilities & PHYSCAP_ARM_SPI_UNBIND_LIVE));
        } else {
                fprintf(stderr, "usage: hvp-probe assign|deassign DOMID PATH | test DOMID|invalid "
                        "PATH | iomem DOMID MFN NR | bind|unbind DOMID IRQ | info DOMID | physinfo\n");
                xc_interface_close(xch);
                return 2;
        }
        xc_interface_close(xch);
        return 0;
}
