/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Raw domctls through libxencall, the stable hypercall library libxenctrl
 * is built on, for what libxenctrl cannot say: XEN_DOMCTL_assign_device
 * and XEN_DOMCTL_deassign_device with a flag it always leaves clear
 * (HV_XEN_DEV_NO_IOMMU, hv-patches/owner-of-record).  Making the call here
 * keeps dom0's libraries stock: no libxenctrl rebuild.
 *
 * The structures are those of Xen's public domctl.h as the build's headers
 * have them, and every domctl carries the interface version it was written
 * for: Xen refuses any other with EACCES before looking at the rest.  The
 * headers and the hypervisor need not be the same release (Debian 12's
 * headers are 4.17's, interface 0x15, and that dom0 may run a 4.20
 * hypervisor, 0x17), so the version the hypervisor accepts is asked of it
 * with a harmless XEN_DOMCTL_getdomaininfo of dom0, and the raw calls are
 * made only when both the headers' version and the hypervisor's are in
 * compatible[] below: the releases whose struct xen_domctl header and
 * struct xen_domctl_assign_device (and getdomaininfo, used to ask) were
 * compared in Xen's source and found identical.  Another version leaves
 * the raw calls off, with the reason logged; the patches that need them are
 * then reported as absent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define __XEN_TOOLS__ 1
#include <xencall.h>
#include <xen/domctl.h>

#include "hv-xen-domctl.h"
#include "log.h"
#include "util.h"

/*
 * 0x15: Xen 4.17; 0x16: 4.18; 0x17: 4.19 and 4.20.  Xen's master moved to
 * 0x18 with a changed xen_domctl_assign_device, so it is not here.
 */
static const uint32_t compatible[] = { 0x15, 0x16, 0x17 };

struct hv_xen_domctl {
        xencall_handle *xcall;
        uint32_t version;       /* 0: raw calls off */
};

static bool version_known(uint32_t v)
{
        for (size_t i = 0; i < ARRAY_SIZE(compatible); i++)
                if (compatible[i] == v)
                        return true;
        return false;
}

/* One domctl, *op in a hypercall buffer; 0 or -errno. */
static int call(struct hv_xen_domctl *dc, struct xen_domctl *op)
{
        int r;

        errno = 0;
        r = xencall1(dc->xcall, __HYPERVISOR_domctl, (uint64_t)(uintptr_t)op);
        if (r >= 0)
                return 0;
        return errno > 0 ? -errno : -EIO;
}

/* Which interface version does the hypervisor take?  0 if none we know. */
static uint32_t ask_version(struct hv_xen_domctl *dc)
{
        struct xen_domctl *op = xencall_alloc_buffer(dc->xcall, sizeof(*op));
        uint32_t found = 0;

        if (!op)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(compatible) && !found; i++) {
                int r;

                memset(op, 0, sizeof(*op));
                op->cmd = XEN_DOMCTL_getdomaininfo;
                op->interface_version = compatible[i];
                op->domain = 0;
                r = call(dc, op);
                if (r == 0)
                        found = compatible[i];
                else if (r != -EACCES)
                        log_debug("hv-xen: getdomaininfo with interface 0x%" PRIx32 ": %s",
                                  compatible[i], strerror(-r));
        }
        xencall_free_buffer(dc->xcall, op);
        return found;
}

int hv_xen_domctl_open(xentoollog_logger *logger, struct hv_xen_domctl **ret, char **err)
{
        struct hv_xen_domctl *dc = calloc(1, sizeof(*dc));
        int r;

        if (!dc)
                return set_error(err, -ENOMEM, "out of memory");
        errno = 0;
        dc->xcall = xencall_open(logger, 0);
        if (!dc->xcall) {
                r = errno > 0 ? -errno : -ENODEV;
                free(dc);
                return set_error(err, r, "cannot open the hypercall interface (libxencall): %s",
                                 strerror(-r));
        }
        if (!version_known(XEN_DOMCTL_INTERFACE_VERSION))
                log_info("hv-xen: built with domctl interface 0x%x, whose structures were "
                         "not compared: no raw domctls", XEN_DOMCTL_INTERFACE_VERSION);
        else if (!(dc->version = ask_version(dc)))
                log_info("hv-xen: the hypervisor takes none of the domctl interface versions "
                         "whose structures this build knows: no raw domctls");
        else
                log_debug("hv-xen: raw domctls with interface 0x%" PRIx32 " (headers 0x%x)",
                          dc->version, XEN_DOMCTL_INTERFACE_VERSION);
        *ret = dc;
        return 0;
}

void hv_xen_domctl_close(struct hv_xen_domctl *dc)
{
        if (!dc)
                return;
        xencall_close(dc->xcall);
        free(dc);
}

uint32_t hv_xen_domctl_version(const struct hv_xen_domctl *dc)
{
        return dc ? dc->version : 0;
}

int hv_xen_domctl_dt_device(struct hv_xen_domctl *dc, bool assign, uint32_t domid,
                            const char *path, uint32_t flags)
{
        size_t len = strlen(path);
        struct xen_domctl *op;
        char *buf;
        int r;

        if (!dc || !dc->version)
                return -EPROTO;
        if (len > UINT32_MAX - 1)
                return -ENAMETOOLONG;
        op = xencall_alloc_buffer(dc->xcall, sizeof(*op));
        buf = xencall_alloc_buffer(dc->xcall, len + 1);
        if (!op || !buf) {
                xencall_free_buffer(dc->xcall, op);
                xencall_free_buffer(dc->xcall, buf);
                return -ENOMEM;
        }
        memcpy(buf, path, len + 1);
        memset(op, 0, sizeof(*op));
        op->cmd = assign ? XEN_DOMCTL_assign_device : XEN_DOMCTL_deassign_device;
        op->interface_version = dc->version;
        op->domain = (domid_t)domid;
        op->u.assign_device.dev = XEN_DOMCTL_DEV_DT;
        op->u.assign_device.flags = flags;
        /* Xen copies size bytes of the path: the terminating NUL is not one of them. */
        op->u.assign_device.u.dt.size = (uint32_t)len;
        set_xen_guest_handle(op->u.assign_device.u.dt.path, buf);
        r = call(dc, op);
        xencall_free_buffer(dc->xcall, buf);
        xencall_free_buffer(dc->xcall, op);
        return r;
}
