/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real hypervisor backend: libxenctrl for the domctls and sysctls,
 * libxenstore for domain names and the domain lifecycle watch.  Compiled
 * only when libxenctrl is found (meson adds this file and its entry in the
 * generated backend list).
 *
 * Every libxenctrl call returns -1 and sets errno; hv_errno_from_xc()
 * turns that into -errno right at the call.  Where Xen's errno is
 * ambiguous the backend gathers what it can learn (Xen version, the
 * domain's state, whether it has the IOMMU) and asks the pure helpers in
 * hv.c for the reason and the sentence.  What Xen 4.17 on Arm does not
 * tell dom0, and so stays "unknown" here:
 * - a domain's nr_spis: getdomaininfo's arch_config is not filled on Arm
 *   (arch_get_domain_info sets only the HAP flag and gpaddr_bits) and xl
 *   does not write it to xenstore;
 * - who holds a routed SPI: there is no query for it (the unbind probe
 *   only tells whether a given live domain does);
 * - whether the domain has the IOMMU enabled: not in getdomaininfo, but
 *   learnable: iommu_do_domctl answers XEN_DOMCTL_test_assign_device with
 *   EOPNOTSUPP exactly when the domain lacks it, so a test_assign of the
 *   root node ("/", never protected, so the answer has no side effect)
 *   tells.
 * - whether the domain has run (Xen's creation_finished): approximated as
 *   "not paused, or has used CPU time".  A domain unpaused and paused
 *   again before its first vCPU ran would be misreported as not run.
 *
 * A hypervisor with the series of hv-patches/ says more, and does more
 * (hv.h, enum hv_patch); open() probes for each change without side
 * effects, by what Xen answers, never by its version:
 * - owner-of-record: XEN_DOMCTL_assign_device of "/" to dom0 with the new
 *   flag.  The root node is dom0's, so a patched Xen answers EBUSY; a stock
 *   one EOPNOTSUPP (no IOMMU) or EINVAL (flags must be 0).  The flag is
 *   set through libxencall (hv-xen-domctl.c): libxenctrl always sends 0.
 * - test-assign: test_assign of "/" for DOMID_INVALID: EBUSY (dom0 holds
 *   it) when patched, 0 or EOPNOTSUPP when stock.
 * - live-spi-release: the Arm capability the patch adds to physinfo (an
 *   unbind that works is a real unbind, so it cannot be the probe).
 * - iommu-flag: dom0's XEN_DOMINF_iommu, which it has whenever the
 *   platform has an IOMMU enabled; without one nothing can be learnt, and
 *   nothing is needed: no domain has the IOMMU there.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "hv-backend.h"
#include "hv-explain.h"
#include "hv-xen-domctl.h"

/*
 * Make a libxenctrl call and turn its -1 + errno into -errno.  errno must
 * be read after the call returns: passing both as arguments of one call
 * leaves their evaluation order unspecified.
 */
#define XC_CALL(call)                                   \
        ({                                              \
                int _xc_r = (call);                     \
                hv_errno_from_xc(_xc_r, errno);         \
        })
#include "log.h"

_Static_assert(HV_DOMID_INVALID == DOMID_INVALID, "DOMID_INVALID");
_Static_assert(HV_DOMID_IO == DOMID_IO, "DOMID_IO");

#define XEN_LIST_BATCH 256

struct xen {
        xentoollog_logger logger;       /* first: libxenctrl hands it back */
        xc_interface *xch;
        struct xs_handle *xsh;
        struct hv_xen_domctl *dc;       /* raw domctls (libxencall) */
        unsigned major, minor;
        bool iommu;
        bool watching;
        unsigned patches;               /* HV_PATCH_* found at open */
};

/* libxenctrl takes frame numbers as unsigned long (32 bits on arm32). */
static bool fits_ulong(uint64_t v)
{
        return (unsigned long)v == v;
}

static struct xen *X(struct hv *hv)
{
        return hv_priv(hv);
}

/* libxenctrl's own messages go to our log at debug level. */
static void hvx_vmessage(struct xentoollog_logger *l, xentoollog_level level, int errnoval,
                         const char *context, const char *format, va_list al)
{
        _cleanup_free_ char *msg = NULL;

        if (vasprintf(&msg, format, al) < 0)
                return;
        log_debug("%s: %s%s%s", context ? context : "xen", msg, errnoval >= 0 ? ": " : "",
                  errnoval >= 0 ? strerror(errnoval) : "");
}

static void hvx_progress(struct xentoollog_logger *l, const char *context, const char *doing,
                         int percent, unsigned long done, unsigned long total)
{
}

static void hvx_destroy(struct xentoollog_logger *l)
{
}

/* What the probes of hv-patches/ answered, for the log. */
static void log_probe(const char *patch, int r, bool found)
{
        log_debug("hv-xen: probe for %s: %s -> %s", patch, r < 0 ? strerror(-r) : "0",
                  found ? "present" : "absent");
}

/* Which changes of hv-patches/ this hypervisor has; see the top of the file. */
static void probe_patches(struct xen *x, const xc_physinfo_t *info)
{
        char root[] = "/";
        xc_domaininfo_t di;
        int r;

        r = hv_xen_domctl_dt_device(x->dc, true, 0, root, HV_XEN_DEV_NO_IOMMU);
        if (r >= 0)
                log_warning("hv-xen: Xen assigned \"/\" to dom0 when asked whether it "
                            "records owners");
        else if (r == -EBUSY)
                x->patches |= HV_PATCH_OWNER_OF_RECORD;
        log_probe("owner-of-record", r, x->patches & HV_PATCH_OWNER_OF_RECORD);

        r = XC_CALL(xc_test_assign_dt_device(x->xch, DOMID_INVALID, root));
        if (r == -EBUSY)
                x->patches |= HV_PATCH_TEST_ASSIGN;
        log_probe("test-assign", r, x->patches & HV_PATCH_TEST_ASSIGN);

        if (info->arch_capabilities & HV_XEN_PHYSCAP_ARM_SPI_UNBIND_LIVE)
                x->patches |= HV_PATCH_LIVE_SPI_RELEASE;
        log_probe("live-spi-release", 0, x->patches & HV_PATCH_LIVE_SPI_RELEASE);

        memset(&di, 0, sizeof(di));
        r = XC_CALL(xc_domain_getinfolist(x->xch, 0, 1, &di));
        if (x->iommu && r == 1 && di.domain == 0 && (di.flags & HV_XEN_DOMINF_IOMMU))
                x->patches |= HV_PATCH_IOMMU_FLAG;
        log_probe("iommu-flag", r < 0 ? r : 0, x->patches & HV_PATCH_IOMMU_FLAG);
}

static unsigned xen_patches(const struct hv *hv)
{
        const struct xen *x = hv_priv(hv);

        return x->patches;
}

static void xen_close(struct hv *hv)
{
        struct xen *x = X(hv);

        if (!x)
                return;
        if (x->xsh)
                xs_close(x->xsh);
        hv_xen_domctl_close(x->dc);
        if (x->xch)
                xc_interface_close(x->xch);
        free(x);
        hv_set_priv(hv, NULL);
}

static int xen_open(struct hv *hv, const struct hv_options *o, char **err)
{
        struct xen *x = calloc(1, sizeof(*x));
        xc_physinfo_t info;
        int r, v;

        if (!x)
                return set_error(err, -ENOMEM, "out of memory");
        hv_set_priv(hv, x);
        x->logger.vmessage = hvx_vmessage;
        x->logger.progress = hvx_progress;
        x->logger.destroy = hvx_destroy;

        errno = 0;
        x->xch = xc_interface_open(&x->logger, &x->logger, 0);
        if (!x->xch) {
                r = errno > 0 ? -errno : -ENODEV;
                xen_close(hv);
                return set_error(err, r, "cannot open the Xen control interface: %s (is this "
                                 "dom0 of a Xen host, with /dev/xen/privcmd, and running as "
                                 "root?)", strerror(-r));
        }
        v = xc_version(x->xch, XENVER_version, NULL);
        if (v < 0) {
                r = hv_errno_from_xc(v, errno);
                xen_close(hv);
                return set_error(err, r, "cannot read the Xen version: %s", strerror(-r));
        }
        x->major = (unsigned)v >> 16;
        x->minor = (unsigned)v & 0xffff;

        memset(&info, 0, sizeof(info));
        r = XC_CALL(xc_physinfo(x->xch, &info));
        if (r < 0) {
                xen_close(hv);
                return set_error(err, r, "cannot read Xen's physinfo: %s", strerror(-r));
        }
        /* Xen sets directio exactly when it has an IOMMU enabled. */
        x->iommu = info.capabilities & XEN_SYSCTL_PHYSCAP_directio;

        errno = 0;
        x->xsh = xs_open(0);
        if (!x->xsh) {
                r = errno > 0 ? -errno : -ECONNREFUSED;
                xen_close(hv);
                return set_error(err, r, "cannot connect to xenstore: %s (is xenstored "
                                 "running?)", strerror(-r));
        }
        r = hv_xen_domctl_open(&x->logger, &x->dc, err);
        if (r < 0) {
                xen_close(hv);
                return r;
        }
        probe_patches(x, &info);
        log_debug("hv-xen: Xen %u.%u, IOMMU %s", x->major, x->minor,
                  x->iommu ? "enabled" : "not enabled");
        return 0;
}

static int xen_version(struct hv *hv, unsigned *major, unsigned *minor, char **err)
{
        *major = X(hv)->major;
        *minor = X(hv)->minor;
        return 0;
}

static int xen_platform_has_iommu(struct hv *hv, bool *ret, char **err)
{
        *ret = X(hv)->iommu;
        return 0;
}

/*
 * Xen has no query for SPI routing, but unbinding an SPI from dom0 answers
 * without side effects: release_guest_irq() says EINVAL when the SPI is
 * not routed to dom0, and gic_remove_irq_from_guest() EBUSY when it is,
 * because dom0 is never dying (xen/arch/arm/irq.c and gic.c, 4.17 to 4.20).
 */
static int xen_dom0_spi_routed(struct hv *hv, uint32_t irq, char **err)
{
        int r = XC_CALL(xc_domain_unbind_pt_spi_irq(X(hv)->xch, 0, irq, irq));

        if (r == -EBUSY)
                return 1;
        if (r == -EINVAL)
                return 0;
        if (r >= 0)
                return set_error(err, -EUCLEAN, "Xen unbound SPI %u from dom0 when asked "
                                 "whether it was routed there", irq - 32);
        return set_error(err, r, "asking Xen whether SPI %u (INTID %u) is routed to dom0: %s",
                         irq - 32, irq, strerror(-r));
}

/* Does the domain have the IOMMU enabled?  See the top of the file. */
static int probe_passthrough(struct xen *x, const xc_domaininfo_t *di)
{
        char root[] = "/";
        int r;

        if (!x->iommu)
                return HV_NO;   /* creating one with the IOMMU fails there */
        if (x->patches & HV_PATCH_IOMMU_FLAG)
                return di->flags & HV_XEN_DOMINF_IOMMU ? HV_YES : HV_NO;
        /* A patched test_assign answers for "/" whatever the domain has. */
        if (x->patches & HV_PATCH_TEST_ASSIGN)
                return HV_UNKNOWN;
        r = XC_CALL(xc_test_assign_dt_device(x->xch, di->domain, root));
        if (r == -EOPNOTSUPP)
                return HV_NO;
        if (r >= 0 || r == -EINVAL || r == -ESRCH)
                return HV_YES;
        return HV_UNKNOWN;
}

static void read_name(struct xen *x, uint32_t domid, char *buf, size_t size)
{
        char path[64];
        unsigned int len = 0;
        char *v;

        buf[0] = '\0';
        snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
        v = xs_read(x->xsh, XBT_NULL, path, &len);
        if (!v)
                return;
        snprintf(buf, size, "%.*s", (int)len, v);
        free(v);
}

static void info_from_xc(struct xen *x, const xc_domaininfo_t *di, struct hv_domain_info *i)
{
        memset(i, 0, sizeof(*i));
        i->domid = di->domain;
        i->dying = di->flags & XEN_DOMINF_dying;
        i->shutdown = di->flags & XEN_DOMINF_shutdown;
        i->paused = di->flags & XEN_DOMINF_paused;
        i->building = di->max_vcpu_id == XEN_INVALID_MAX_VCPU_ID;
        i->has_run = (!i->paused || di->cpu_time > 0) ? HV_YES : HV_NO;
        i->passthrough = probe_passthrough(x, di);
        i->nr_spis = -1;
        read_name(x, di->domain, i->name, sizeof(i->name));
}

static int getinfo(struct hv *hv, uint32_t domid, xc_domaininfo_t *di, char **err)
{
        int r;

        memset(di, 0, sizeof(*di));
        r = XC_CALL(xc_domain_getinfolist(X(hv)->xch, domid, 1, di));
        if (r < 0)
                return set_error(err, r, "cannot get information on domain %u: %s", domid,
                                 strerror(-r));
        /* getinfolist returns the next domain at or above domid. */
        if (r == 0 || di->domain != domid) {
                hv_set_reason(hv, HV_REASON_NO_DOMAIN);
                return set_error(err, -ESRCH, "domain %u does not exist", domid);
        }
        return 0;
}

static int xen_domain_info(struct hv *hv, uint32_t domid, struct hv_domain_info *ret, char **err)
{
        xc_domaininfo_t di;
        int r = getinfo(hv, domid, &di, err);

        if (r < 0)
                return r;
        info_from_xc(X(hv), &di, ret);
        return 0;
}

static int xen_list_domains(struct hv *hv, struct hv_domain_info **ret, size_t *n, char **err)
{
        struct xen *x = X(hv);
        _cleanup_free_ xc_domaininfo_t *batch = calloc(XEN_LIST_BATCH, sizeof(*batch));
        _cleanup_free_ struct hv_domain_info *v = NULL;
        size_t count = 0, cap = 0;
        uint32_t first = 0;

        if (!batch)
                return set_error(err, -ENOMEM, "out of memory");
        for (;;) {
                int k = XC_CALL(xc_domain_getinfolist(x->xch, first, XEN_LIST_BATCH,
                                                      batch));

                if (k < 0)
                        return set_error(err, k, "cannot list domains: %s", strerror(-k));
                for (int i = 0; i < k; i++) {
                        if (GROW(v, cap, count) < 0)
                                return set_error(err, -ENOMEM, "out of memory");
                        info_from_xc(x, &batch[i], &v[count++]);
                }
                if (k < XEN_LIST_BATCH)
                        break;
                first = batch[k - 1].domain + 1;
        }
        *ret = steal_ptr(v);
        if (!*ret)
                *ret = calloc(1, sizeof(**ret));
        if (!*ret)
                return set_error(err, -ENOMEM, "out of memory");
        *n = count;
        return 0;
}

static int xen_domain_name(struct hv *hv, uint32_t domid, char **ret, char **err)
{
        char name[HV_NAME_MAX + 1];
        char *p;

        read_name(X(hv), domid, name, sizeof(name));
        if (!name[0])
                return set_error(err, -ENOENT, "xenstore has no name for domain %u", domid);
        p = strdup(name);
        if (!p)
                return set_error(err, -ENOMEM, "out of memory");
        *ret = p;
        return 0;
}

/* The reasons shared by every domctl: no domain, bad range, permission. */
static int generic_fail(struct hv *hv, const char *what, uint32_t domid, int r, char **err)
{
        if (r == -ESRCH) {
                hv_set_reason(hv, HV_REASON_NO_DOMAIN);
                return set_error(err, r, "%s: domain %u does not exist", what, domid);
        }
        return set_error(err, r, "%s for domain %u failed: %s", what, domid, strerror(-r));
}

static int xen_iomem_permission(struct hv *hv, uint32_t domid, uint64_t mfn, uint64_t nr,
                                bool allow, char **err)
{
        int r;

        if (nr == 0 || mfn + nr - 1 < mfn || !fits_ulong(mfn) || !fits_ulong(nr)) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "iomem range of %" PRIu64 " frames at 0x%" PRIx64
                                 " is empty or wraps", nr, mfn);
        }
        r = XC_CALL(xc_domain_iomem_permission(X(hv)->xch, domid, (unsigned long)mfn,
                                               (unsigned long)nr, allow));
        if (r >= 0)
                return 0;
        if (r == -EPERM) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, r, "dom0 has no permission over frames 0x%" PRIx64
                                 "-0x%" PRIx64 " to %s", mfn, mfn + nr - 1,
                                 allow ? "grant" : "revoke");
        }
        return generic_fail(hv, allow ? "iomem_permission" : "iomem_revoke", domid, r, err);
}

static int xen_memory_mapping(struct hv *hv, uint32_t domid, uint64_t gfn, uint64_t mfn,
                              uint64_t nr, bool add, char **err)
{
        int r;

        if (nr == 0 || mfn + nr - 1 < mfn || gfn + nr - 1 < gfn || !fits_ulong(mfn) ||
            !fits_ulong(gfn) || !fits_ulong(nr)) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "mapping of %" PRIu64 " frames 0x%" PRIx64
                                 " -> 0x%" PRIx64 " is empty or wraps", nr, mfn, gfn);
        }
        r = XC_CALL(xc_domain_memory_mapping(X(hv)->xch, domid, (unsigned long)gfn,
                                             (unsigned long)mfn, (unsigned long)nr,
                                                      add ? DPCI_ADD_MAPPING
                                                          : DPCI_REMOVE_MAPPING));
        if (r >= 0)
                return 0;
        if (r == -EPERM) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, r, "domain %u has no iomem permission for frames 0x%"
                                 PRIx64 "-0x%" PRIx64 " (%s)", domid, mfn, mfn + nr - 1,
                                 add ? "grant iomem_permission first"
                                     : "remove the mapping before revoking the permission");
        }
        if (r == -EINVAL) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, r, "Xen refused the mapping of frames 0x%" PRIx64 "-0x%"
                                 PRIx64 " at 0x%" PRIx64 ": out of range", mfn, mfn + nr - 1, gfn);
        }
        return generic_fail(hv, add ? "memory_mapping" : "unmap", domid, r, err);
}

static int xen_irq_permission(struct hv *hv, uint32_t domid, uint32_t irq, bool allow,
                              char **err)
{
        int r = XC_CALL(xc_domain_irq_permission(X(hv)->xch, domid, irq, allow));

        if (r >= 0)
                return 0;
        if (r == -EPERM) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, r, "dom0 has no permission over IRQ %u to %s (Xen uses it, "
                                 "or it is not an interrupt of this platform)", irq,
                                 allow ? "grant" : "revoke");
        }
        if (r == -EINVAL) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, r, "IRQ %u is out of range", irq);
        }
        /*
         * Xen 4.20 builds the handler only where pirqs exist (x86): on Arm
         * the domctl reaches XSM's catch-all, which answers EILSEQ (later
         * versions ENOSYS).  Nothing on Arm reads a guest's IRQ rights.
         */
        if (r == -EILSEQ || r == -ENOSYS) {
                hv_set_reason(hv, HV_REASON_NOT_IMPLEMENTED);
                return set_error(err, r, "this Xen has no XEN_DOMCTL_irq_permission on Arm "
                                 "(%s)", strerror(-r));
        }
        return generic_fail(hv, allow ? "irq_permission" : "irq_revoke", domid, r, err);
}

static int bind_fail(struct hv *hv, uint32_t domid, uint32_t irq, int r, char **err)
{
        struct xen *x = X(hv);

        switch (r) {
        case -EINVAL:
                hv_set_reason(hv, HV_REASON_NOT_SPI);
                return set_error(err, r, "IRQ %u cannot be routed to domain %u: Xen routes only "
                                 "SPIs (32 and up, within the GIC's lines), 1:1", irq, domid);
        case -EPERM:
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, r, "dom0 has no permission over IRQ %u", irq);
        case -EIO:
                return set_error(err, r, "Xen has not configured IRQ %u (no trigger type): is "
                                 "it described in the host device tree?", irq);
        case -EBUSY: {
                struct hv_bind_facts f = {
                        .domid = domid,
                        .irq = irq,
                        .xen_major = x->major,
                        .xen_minor = x->minor,
                        .nr_spis = -1,
                        .has_run = HV_UNKNOWN,
                        .routed_here = HV_UNKNOWN,
                        .owner = -1,
                        .owner_known = HV_NO,
                };
                xc_domaininfo_t di;
                _cleanup_free_ char *why = NULL;

                if (getinfo(hv, domid, &di, NULL) >= 0) {
                        struct hv_domain_info i;

                        info_from_xc(x, &di, &i);
                        f.has_run = i.has_run;
                }
                hv_set_reason(hv, hv_explain_bind_busy(&f, &why));
                return set_error(err, r, "%s", why ? why : "SPI busy");
        }
        default:
                return generic_fail(hv, "bind_spi", domid, r, err);
        }
}

/*
 * XEN_DOMCTL_bind_pt_irq and unbind_pt_irq look the SPI up through the
 * domain's vCPU 0 (vgic_get_hw_irq_desc, vgic_connect_hw_irq) without
 * checking that it exists: on a domain xl is still building, before
 * max_vcpus, Xen takes a data abort and panics.  So no SPI call is made on
 * such a domain: -EAGAIN, domain-building.
 */
static int refuse_if_building(struct hv *hv, uint32_t domid, const char *what, char **err)
{
        xc_domaininfo_t di;
        int r = getinfo(hv, domid, &di, err);

        if (r < 0)
                return r;
        if (di.max_vcpu_id != XEN_INVALID_MAX_VCPU_ID)
                return 0;
        hv_set_reason(hv, HV_REASON_DOMAIN_BUILDING);
        return set_error(err, -EAGAIN, "domain %u has no vCPU yet (the toolstack is still "
                         "building it): Xen would crash on %s now, so it was not asked; try "
                         "again once xl create has returned", domid, what);
}

static int xen_bind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err)
{
        int r;

        if (virq > UINT16_MAX || irq > UINT16_MAX) {
                hv_set_reason(hv, HV_REASON_NOT_SPI);
                return set_error(err, -EINVAL, "IRQ %u is out of range", irq);
        }
        r = refuse_if_building(hv, domid, "routing an SPI to it", err);
        if (r < 0)
                return r;
        r = XC_CALL(xc_domain_bind_pt_spi_irq(X(hv)->xch, domid, (uint16_t)virq,
                                              (uint16_t)irq));
        return r >= 0 ? 0 : bind_fail(hv, domid, irq, r, err);
}

static int xen_unbind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err)
{
        int r;

        if (virq > UINT16_MAX || irq > UINT16_MAX) {
                hv_set_reason(hv, HV_REASON_NOT_SPI);
                return set_error(err, -EINVAL, "IRQ %u is out of range", irq);
        }
        r = refuse_if_building(hv, domid, "unrouting an SPI from it", err);
        if (r < 0)
                return r;
        r = XC_CALL(xc_domain_unbind_pt_spi_irq(X(hv)->xch, domid, (uint16_t)virq,
                                                (uint16_t)irq));
        if (r >= 0)
                return 0;
        switch (r) {
        case -EBUSY:
                /* gic_remove_irq_from_guest() is the only EBUSY here. */
                hv_set_reason(hv, HV_REASON_UNBIND_LIVE_DOMAIN);
                if (X(hv)->patches & HV_PATCH_LIVE_SPI_RELEASE)
                        return set_error(err, r, "SPI %u cannot be unbound from domain %u: it "
                                         "is running (Xen takes an SPI back from a live "
                                         "domain only while it is paused)", irq, domid);
                return set_error(err, r, "SPI %u cannot be unbound from domain %u: Xen removes a "
                                 "routed SPI only from a dying domain (it is freed when the "
                                 "domain is destroyed)", irq, domid);
        case -EAGAIN:
                /* hv-patches/live-spi-release: the guest has it pending or active. */
                hv_set_reason(hv, HV_REASON_SPI_IN_FLIGHT);
                return set_error(err, r, "SPI %u cannot be unbound from domain %u yet: the guest "
                                 "has the interrupt pending or active", irq, domid);
        case -EINVAL:
                hv_set_reason(hv, HV_REASON_SPI_NOT_ROUTED);
                return set_error(err, r, "SPI %u is not routed to domain %u", irq, domid);
        case -EPERM:
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, r, "dom0 has no permission over IRQ %u", irq);
        default:
                return generic_fail(hv, "unbind_spi", domid, r, err);
        }
}

static int dt_fail(struct hv *hv, enum hv_step step, uint32_t domid, const char *path, int r,
                   char **err)
{
        struct xen *x = X(hv);
        _cleanup_free_ char *why = NULL;
        int exists = HV_UNKNOWN, passthrough = HV_UNKNOWN;
        xc_domaininfo_t di;

        if (domid != HV_DOMID_INVALID) {
                int q = getinfo(hv, domid, &di, NULL);

                if (q >= 0) {
                        exists = HV_YES;
                        if (r == -EINVAL && (di.flags & XEN_DOMINF_dying)) {
                                hv_set_reason(hv, HV_REASON_DOMAIN_DYING);
                                return set_error(err, r, "domain %u is dying", domid);
                        }
                        passthrough = probe_passthrough(x, &di);
                } else if (q == -ESRCH)
                        exists = HV_NO;
        }
        hv_set_reason(hv, hv_explain_dt_error(step, r, domid, path, x->iommu ? HV_YES : HV_NO,
                                              passthrough, exists, &why));
        return set_error(err, r, "%s", why ? why : strerror(-r));
}

static int dt_call(struct hv *hv, enum hv_step step, uint32_t domid, const char *path,
                   char **err)
{
        struct xen *x = X(hv);
        _cleanup_free_ char *p = NULL;
        int r;

        if (!path)
                return set_error(err, -EINVAL, "no device path");
        /* libxenctrl takes a non-const path. */
        p = strdup(path);
        if (!p)
                return set_error(err, -ENOMEM, "out of memory");
        /*
         * With owner-of-record, the flag goes on every assignment: Xen
         * records the owner of a device no IOMMU protects, and assigns a
         * protected one through the IOMMU as without it.
         */
        if (step != HV_STEP_TEST_ASSIGN_DT && (x->patches & HV_PATCH_OWNER_OF_RECORD))
                r = hv_xen_domctl_dt_device(x->dc, step == HV_STEP_ASSIGN_DT, domid, p,
                                            HV_XEN_DEV_NO_IOMMU);
        else if (step == HV_STEP_ASSIGN_DT)
                r = XC_CALL(xc_assign_dt_device(x->xch, domid, p));
        else if (step == HV_STEP_DEASSIGN_DT)
                r = XC_CALL(xc_deassign_dt_device(x->xch, domid, p));
        else
                r = XC_CALL(xc_test_assign_dt_device(x->xch, domid, p));
        return r >= 0 ? 0 : dt_fail(hv, step, domid, path, r, err);
}

static int xen_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        return dt_call(hv, HV_STEP_ASSIGN_DT, domid, path, err);
}

static int xen_deassign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        return dt_call(hv, HV_STEP_DEASSIGN_DT, domid, path, err);
}

static int xen_test_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        return dt_call(hv, HV_STEP_TEST_ASSIGN_DT, domid, path, err);
}

/* Is the SPI routed to the live domain?  The unbind probe; see hv.h. */
static enum hv_tristate spi_routed_to(struct hv *hv, uint32_t domid, uint32_t irq)
{
        int r;

        if (irq > UINT16_MAX)
                return HV_NO;   /* beyond what Xen can route */
        r = XC_CALL(xc_domain_unbind_pt_spi_irq(X(hv)->xch, domid, (uint16_t)irq,
                                                (uint16_t)irq));
        if (r == -EBUSY)
                return HV_YES;
        if (r == -EINVAL)
                return HV_NO;
        if (r >= 0) {
                /* Only a dying domain lets an SPI go: it began dying since we looked. */
                log_warning("hv-xen: Xen unbound SPI %u (INTID %u) from domain %u when asked "
                            "whether it was routed there: the domain is dying", irq - 32, irq,
                            domid);
                return HV_NO;
        }
        return HV_UNKNOWN;
}

static int xen_domain_holds(struct hv *hv, uint32_t domid, struct hv_hold *q, size_t n,
                            char **err)
{
        xc_domaininfo_t di;
        bool dying, building;
        int r = getinfo(hv, domid, &di, err);

        if (r < 0)
                return r;
        /*
         * On a dying domain the unbind probe would really unbind, and so it
         * would on a paused one where Xen takes SPIs back from live domains.
         * (A domain paused between getinfo and the probe would lose the SPI:
         * xl pauses domains it creates from the start, so this is the window
         * of an "xl pause" racing the query.)  On a domain with no vCPU yet it
         * would crash Xen (refuse_if_building).
         */
        dying = (di.flags & XEN_DOMINF_dying) ||
                ((X(hv)->patches & HV_PATCH_LIVE_SPI_RELEASE) && (di.flags & XEN_DOMINF_paused));
        building = di.max_vcpu_id == XEN_INVALID_MAX_VCPU_ID;
        for (size_t i = 0; i < n; i++) {
                switch (q[i].kind) {
                case HV_HOLD_SPI:
                        q[i].answer = dying || building ? HV_UNKNOWN
                                                        : spi_routed_to(hv, domid, q[i].irq);
                        break;
                case HV_HOLD_DT:
                        r = dt_call(hv, HV_STEP_TEST_ASSIGN_DT, domid, q[i].path, NULL);
                        if (X(hv)->patches & HV_PATCH_TEST_ASSIGN)
                                /* EEXIST: this domain holds it (hv-patches/test-assign). */
                                q[i].answer = hv_last_reason(hv) == HV_REASON_DEVICE_HELD_HERE
                                                      ? HV_YES : HV_NO;
                        else
                                /* Assigned to some domain: Xen does not say which. */
                                q[i].answer = r == -EINVAL && hv_last_reason(hv) ==
                                                      HV_REASON_DEVICE_ASSIGNED ? HV_YES : HV_NO;
                        break;
                default:
                        /* No domctl reads iomem or IRQ rangesets or the p2m. */
                        q[i].answer = HV_UNKNOWN;
                        break;
                }
        }
        return 0;
}

static int xen_pause_domain(struct hv *hv, uint32_t domid, bool pause, char **err)
{
        int r = pause ? XC_CALL(xc_domain_pause(X(hv)->xch, domid))
                      : XC_CALL(xc_domain_unpause(X(hv)->xch, domid));

        return r >= 0 ? 0 : generic_fail(hv, pause ? "pause" : "unpause", domid, r, err);
}

static int xen_watch_fd(struct hv *hv, char **err)
{
        struct xen *x = X(hv);
        int fd;

        if (!x->watching) {
                /* xenstored fires these on every domain creation and death. */
                if (!xs_watch(x->xsh, "@introduceDomain", "assignd-introduce") ||
                    !xs_watch(x->xsh, "@releaseDomain", "assignd-release"))
                        return set_error(err, errno > 0 ? -errno : -EIO,
                                         "cannot watch xenstore for domain changes: %m");
                x->watching = true;
        }
        fd = xs_fileno(x->xsh);
        if (fd < 0)
                return set_error(err, errno > 0 ? -errno : -EIO,
                                 "cannot get xenstore's watch fd: %m");
        return fd;
}

static int xen_watch_drain(struct hv *hv, bool *changed, char **err)
{
        struct xen *x = X(hv);
        bool any = false;

        for (;;) {
                char **v;

                errno = 0;
                v = xs_check_watch(x->xsh);
                if (!v) {
                        if (errno == EAGAIN || errno == 0)
                                break;
                        return set_error(err, -errno, "reading xenstore watch events: %m");
                }
                free(v);
                any = true;
        }
        *changed = any;
        return 0;
}

const struct hv_ops hv_xen_ops = {
        .name = "xen",
        .open = xen_open,
        .close = xen_close,
        .version = xen_version,
        .platform_has_iommu = xen_platform_has_iommu,
        .domain_info = xen_domain_info,
        .list_domains = xen_list_domains,
        .domain_name = xen_domain_name,
        .iomem_permission = xen_iomem_permission,
        .memory_mapping = xen_memory_mapping,
        .irq_permission = xen_irq_permission,
        .dom0_spi_routed = xen_dom0_spi_routed,
        .bind_spi = xen_bind_spi,
        .unbind_spi = xen_unbind_spi,
        .assign_dt = xen_assign_dt,
        .deassign_dt = xen_deassign_dt,
        .test_assign_dt = xen_test_assign_dt,
        .domain_holds = xen_domain_holds,
        .watch_fd = xen_watch_fd,
        .watch_drain = xen_watch_drain,
        .patches = xen_patches,
        .pause_domain = xen_pause_domain,
};
