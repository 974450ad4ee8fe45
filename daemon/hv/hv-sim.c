/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated hypervisor: a model of Xen 4.17+ on Arm that enforces the
 * rules and returns the errnos Xen's source does for each passthrough
 * hypercall (see hv.h for the list and where each comes from), so the
 * engine's ordering, rollback and crash recovery can be tested without
 * Xen.  Like Xen, it outlives the daemon: every successful mutating call
 * commits the whole state to a file (hv-sim-state.c), read back at
 * hv_open.  This file is the hypercalls and the ops table; a domain's
 * records are hv-sim-domain.c's, the toolstack's controls
 * hv-sim-control.c's.
 *
 * Simplifications, each deliberate:
 * - dom0 holds iomem permission for everything and IRQ permission for
 *   every platform SPI (Xen gives it its devices' resources plus those
 *   hidden with xen,passthrough).
 * - Every protected device starts unassigned, as if the host DT marked it
 *   xen,passthrough (otherwise Xen would have given it to dom0).
 * - Xen's device tree is not known beyond the protected paths: any other
 *   absolute path is taken to exist, unprotected.
 * - The p2m-populated flag is recorded and reported; Xen's results do not
 *   depend on it because the IOMMU is a creation-time property.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv-explain.h"
#include "hv-sim-private.h"
#include "log.h"

/* dom0 (the caller of every domctl) is permitted each platform SPI. */
static bool caller_irq_permitted(const struct sim *s, uint32_t irq)
{
        return irq >= 32 && irq < 32 + s->platform_spis;
}

static void sim_close(struct hv *hv)
{
        struct sim *s = sim_of(hv);

        if (!s)
                return;
        hv_sim_state_free_domains(s->doms, s->n_doms);
        for (size_t i = 0; i < s->n_protected; i++)
                free(s->protected[i]);
        free(s->protected);
        free(s->state_path);
        free(s->saved);
        if (s->efd >= 0)
                close(s->efd);
        free(s);
        hv_set_priv(hv, NULL);
}

static int sim_open(struct hv *hv, const struct hv_options *o, char **err)
{
        struct sim *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return set_error(err, -ENOMEM, "out of memory");
        s->efd = -1;
        hv_set_priv(hv, s);

        s->major = o->xen_major ? o->xen_major : 4;
        s->minor = o->xen_major ? o->xen_minor : 17;
        s->iommu = o->platform.iommu;
        s->platform_spis = o->platform.spis ? o->platform.spis : HV_MAX_SPIS;
        if (s->platform_spis > HV_MAX_SPIS) {
                sim_close(hv);
                return set_error(err, -EINVAL, "a GIC has at most %u SPIs", HV_MAX_SPIS);
        }
        s->default_nr_spis = o->platform.default_nr_spis < 0 ? s->platform_spis
                                                        : (unsigned)o->platform.default_nr_spis;
        if (s->default_nr_spis > HV_MAX_SPIS) {
                sim_close(hv);
                return set_error(err, -EINVAL, "a domain has at most %u SPIs", HV_MAX_SPIS);
        }
        if (o->platform.n_protected) {
                s->protected = calloc(o->platform.n_protected, sizeof(char *));
                if (!s->protected) {
                        sim_close(hv);
                        return set_error(err, -ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < o->platform.n_protected; i++) {
                        s->protected[i] = strdup(o->platform.protected[i]);
                        if (!s->protected[i]) {
                                sim_close(hv);
                                return set_error(err, -ENOMEM, "out of memory");
                        }
                        s->n_protected++;
                }
        }
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->efd < 0) {
                r = -errno;
                sim_close(hv);
                return set_error(err, r, "cannot create the simulator's watch eventfd: %s",
                                 strerror(-r));
        }

        if (o->state_path) {
                s->state_path = strdup(o->state_path);
                if (!s->state_path) {
                        sim_close(hv);
                        return set_error(err, -ENOMEM, "out of memory");
                }
                hv_sim_state_remove_stale_temps(s->state_path);
                r = hv_sim_state_load(s, err);
                if (r >= 0) {
                        log_debug("hv-sim: loaded %zu domains from %s", s->n_doms,
                                  s->state_path);
                        return 0;
                }
                if (r != -ENOENT) {
                        if (err && !*err)
                                set_error(err, r, "cannot open the simulator state %s: %s",
                                          s->state_path, strerror(-r));
                        sim_close(hv);
                        return r;
                }
        }

        /* A fresh machine: dom0 only, like Xen after boot. */
        r = GROW(s->doms, s->cap_doms, 0);
        if (r >= 0) {
                s->doms[0] = hv_sim_domain_new(0, "Domain-0");
                r = s->doms[0] ? 0 : -ENOMEM;
        }
        if (r < 0) {
                sim_close(hv);
                return set_error(err, r, "out of memory");
        }
        s->n_doms = 1;
        s->doms[0]->has_run = true;
        s->doms[0]->passthrough = s->iommu;
        s->doms[0]->nr_spis = s->platform_spis;
        r = hv_sim_state_save(s, err);
        if (r < 0) {
                sim_close(hv);
                return r;
        }
        return 0;
}

static int sim_version(struct hv *hv, unsigned *major, unsigned *minor, char **err)
{
        *major = sim_of(hv)->major;
        *minor = sim_of(hv)->minor;
        return 0;
}

static int sim_platform_has_iommu(struct hv *hv, bool *ret, char **err)
{
        *ret = sim_of(hv)->iommu;
        return 0;
}

/* The simulated dom0 owns no device, so it has no SPI routed to it. */
static int sim_dom0_spi_routed(struct hv *hv, uint32_t irq, char **err)
{
        struct sim_domain *owner = hv_sim_state_spi_owner(sim_of(hv), irq);

        return owner && owner->domid == 0;
}

static void fill_info(const struct sim_domain *d, struct hv_domain_info *i)
{
        memset(i, 0, sizeof(*i));
        i->domid = d->domid;
        i->dying = d->dying;
        i->building = d->building;
        i->paused = d->paused;
        i->shutdown = false;
        i->has_run = d->has_run ? HV_YES : HV_NO;
        i->passthrough = d->passthrough ? HV_YES : HV_NO;
        i->nr_spis = (int)d->nr_spis;
        snprintf(i->name, sizeof(i->name), "%s", d->name);
}

static int sim_domain_info(struct hv *hv, uint32_t domid, struct hv_domain_info *ret, char **err)
{
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        fill_info(d, ret);
        return 0;
}

static int sim_list_domains(struct hv *hv, struct hv_domain_info **ret, size_t *n, char **err)
{
        struct sim *s = sim_of(hv);
        struct hv_domain_info *v = calloc(s->n_doms ? s->n_doms : 1, sizeof(*v));

        if (!v)
                return set_error(err, -ENOMEM, "out of memory");
        hv_sim_state_sort(s);
        for (size_t i = 0; i < s->n_doms; i++)
                fill_info(s->doms[i], &v[i]);
        *ret = v;
        *n = s->n_doms;
        return 0;
}

static int sim_domain_name(struct hv *hv, uint32_t domid, char **ret, char **err)
{
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);
        char *p;

        if (!d)
                return r;
        if (!d->name[0])
                return set_error(err, -ENOENT, "domain %u has no name", domid);
        p = strdup(d->name);
        if (!p)
                return set_error(err, -ENOMEM, "out of memory");
        *ret = p;
        return 0;
}

static int sim_iomem_permission(struct hv *hv, uint32_t domid, uint64_t mfn, uint64_t nr,
                                bool allow, char **err)
{
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        if (nr == 0 || mfn + nr - 1 < mfn) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "iomem range of %" PRIu64 " frames at 0x%" PRIx64
                                 " is empty or wraps", nr, mfn);
        }
        r = allow ? hv_sim_domain_range_add(&d->iomem, mfn, mfn + nr - 1)
                  : hv_sim_domain_range_remove(&d->iomem, mfn, mfn + nr - 1);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return hv_sim_state_commit(hv, err);
}

static int sim_memory_mapping(struct hv *hv, uint32_t domid, uint64_t gfn, uint64_t mfn,
                              uint64_t nr, bool add, char **err)
{
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);
        uint64_t mend = mfn + nr - 1;

        if (!d)
                return r;
        if (nr == 0 || mend < mfn || ((mfn | mend) >> (SIM_PADDR_BITS - HV_PAGE_SHIFT)) ||
            gfn + nr - 1 < gfn) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "mapping of %" PRIu64 " frames 0x%" PRIx64
                                 " -> 0x%" PRIx64 " is empty, wraps or exceeds %u address bits",
                                 nr, mfn, gfn, SIM_PADDR_BITS);
        }
        /* Xen checks the target's permission when removing too. */
        if (!hv_sim_domain_range_contains(&d->iomem, mfn, mend)) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, -EPERM, "domain %u has no iomem permission for frames "
                                 "0x%" PRIx64 "-0x%" PRIx64 " (%s)", domid, mfn, mend,
                                 add ? "grant iomem_permission first"
                                     : "remove the mapping before revoking the permission");
        }
        r = add ? hv_sim_domain_map_add(d, gfn, mfn, nr) : hv_sim_domain_map_remove(d, gfn, nr);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return hv_sim_state_commit(hv, err);
}

static int sim_irq_permission(struct hv *hv, uint32_t domid, uint32_t irq, bool allow,
                              char **err)
{
        struct sim *s = sim_of(hv);
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        /*
         * Xen 4.20 compiles the handler only where pirqs exist (x86); on
         * Arm the domctl falls through to XSM, which answers EILSEQ.
         */
        if (s->major > 4 || (s->major == 4 && s->minor >= 20)) {
                hv_set_reason(hv, HV_REASON_NOT_IMPLEMENTED);
                return set_error(err, -EILSEQ, "Xen %u.%u has no XEN_DOMCTL_irq_permission on "
                                 "Arm", s->major, s->minor);
        }
        if (irq >= SIM_NR_IRQS) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "IRQ %u is beyond dom0's %u pirqs", irq,
                                 SIM_NR_IRQS);
        }
        if (!caller_irq_permitted(s, irq)) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, -EPERM, "dom0 has no permission over IRQ %u to grant (not "
                                 "an SPI of this platform)", irq);
        }
        r = allow ? hv_sim_domain_range_add(&d->irqs, irq, irq)
                  : hv_sim_domain_range_remove(&d->irqs, irq, irq);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return hv_sim_state_commit(hv, err);
}

/* The checks XEN_DOMCTL_{bind,unbind}_pt_irq share on Arm, in Xen's order. */
static struct sim_domain *spi_domctl_checks(struct hv *hv, uint32_t domid, uint32_t virq,
                                            uint32_t irq, char **err, int *r)
{
        struct sim *s = sim_of(hv);
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, r);

        if (!d)
                return NULL;
        /*
         * Xen 4.17 looks the SPI up through d->vcpu[0], NULL until the
         * toolstack has made the vCPUs: the host crashes.  The simulator
         * refuses loudly instead, so a test catches any such call.
         */
        if (d->building) {
                hv_set_reason(hv, HV_REASON_DOMAIN_BUILDING);
                *r = set_error(err, -EFAULT, "SPI %u on domain %u, which has no vCPU yet: Xen "
                               "would crash here (vgic_get_hw_irq_desc reads d->vcpu[0])", irq,
                               domid);
                return NULL;
        }
        if (virq != irq) {
                hv_set_reason(hv, HV_REASON_NOT_SPI);
                *r = set_error(err, -EINVAL, "Xen on Arm routes SPIs 1:1 only (vIRQ %u != IRQ "
                               "%u)", virq, irq);
                return NULL;
        }
        if (!caller_irq_permitted(s, irq)) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                *r = set_error(err, -EPERM, "IRQ %u is not an SPI dom0 may route (platform "
                               "SPIs are 32-%u)", irq, 31 + s->platform_spis);
                return NULL;
        }
        return d;
}

static int sim_bind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err)
{
        struct sim *s = sim_of(hv);
        struct sim_domain *owner;
        int r = 0;
        struct sim_domain *d = spi_domctl_checks(hv, domid, virq, irq, err, &r);

        if (!d)
                return r;

        owner = hv_sim_state_spi_owner(s, irq);
        {
                struct hv_bind_facts f = {
                        .domid = domid,
                        .irq = irq,
                        .xen_major = s->major,
                        .xen_minor = s->minor,
                        .nr_spis = (int)d->nr_spis,
                        .has_run = d->has_run ? HV_YES : HV_NO,
                        .routed_here = owner == d ? HV_YES : HV_NO,
                        .owner = owner ? (int)owner->domid : -1,
                        .owner_known = HV_YES,
                };
                bool busy = irq >= 32 + d->nr_spis || owner ||
                            (hv_version_routes_only_before_run(s->major, s->minor) &&
                             d->has_run);

                if (busy) {
                        _cleanup_free_ char *why = NULL;

                        hv_set_reason(hv, hv_explain_bind_busy(&f, &why));
                        return set_error(err, -EBUSY, "%s", why ? why : "SPI busy");
                }
        }
        r = hv_sim_domain_spi_add(d, irq);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return hv_sim_state_commit(hv, err);
}

static int sim_unbind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err)
{
        int r = 0;
        struct sim_domain *d = spi_domctl_checks(hv, domid, virq, irq, err, &r);

        if (!d)
                return r;
        if (irq >= 32 + d->nr_spis || !hv_sim_domain_spi_routed(d, irq)) {
                hv_set_reason(hv, HV_REASON_SPI_NOT_ROUTED);
                return set_error(err, -EINVAL, "SPI %u is not routed to domain %u", irq, domid);
        }
        if (!d->dying) {
                hv_set_reason(hv, HV_REASON_UNBIND_LIVE_DOMAIN);
                return set_error(err, -EBUSY, "SPI %u cannot be unbound from domain %u: Xen "
                                 "removes a routed SPI only from a dying domain (it is freed "
                                 "when the domain is destroyed)", irq, domid);
        }
        hv_sim_domain_spi_remove(d, irq);
        return hv_sim_state_commit(hv, err);
}

/* iommu_do_domctl's first check, common to the three DT calls. */
static int dt_iommu_check(struct hv *hv, const struct sim_domain *d, const char *path,
                          const char *what, char **err)
{
        struct sim *s = sim_of(hv);

        if (!s->iommu || !d->passthrough) {
                _cleanup_free_ char *why = NULL;

                hv_set_reason(hv, hv_explain_dt_error(
                        streq(what, "assign") ? HV_STEP_ASSIGN_DT
                        : streq(what, "deassign") ? HV_STEP_DEASSIGN_DT : HV_STEP_TEST_ASSIGN_DT,
                        -EOPNOTSUPP, d->domid, path, s->iommu ? HV_YES : HV_NO, HV_NO, HV_YES,
                        &why));
                return set_error(err, -EOPNOTSUPP, "%s", why ? why : "no IOMMU");
        }
        return 0;
}

static int dt_path_check(struct hv *hv, const char *path, char **err)
{
        if (!path || path[0] != '/') {
                hv_set_reason(hv, HV_REASON_DEVICE_NOT_FOUND);
                return set_error(err, -ESRCH, "Xen's device tree has no node %s",
                                 path ? path : "(null)");
        }
        return 0;
}

static int sim_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        struct sim *s = sim_of(hv);
        struct sim_domain *owner;
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        if ((r = dt_iommu_check(hv, d, path, "assign", err)) < 0)
                return r;
        if (d->dying) {
                hv_set_reason(hv, HV_REASON_DOMAIN_DYING);
                return set_error(err, -EINVAL, "domain %u is dying", domid);
        }
        if ((r = dt_path_check(hv, path, err)) < 0)
                return r;
        if (!hv_sim_state_is_protected(s, path)) {
                hv_set_reason(hv, HV_REASON_DEVICE_UNPROTECTED);
                return set_error(err, -EINVAL, "%s cannot be assigned through the IOMMU: no "
                                 "IOMMU protects it", path);
        }
        owner = hv_sim_state_dt_owner(s, path);
        if (owner) {
                hv_set_reason(hv, HV_REASON_DEVICE_ASSIGNED);
                return set_error(err, -EBUSY, "%s is already assigned to domain %u", path,
                                 owner->domid);
        }
        r = hv_sim_domain_dt_add(d, path);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return hv_sim_state_commit(hv, err);
}

static int sim_deassign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        struct sim *s = sim_of(hv);
        ssize_t idx;
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        if ((r = dt_iommu_check(hv, d, path, "deassign", err)) < 0)
                return r;
        if ((r = dt_path_check(hv, path, err)) < 0)
                return r;
        if (!hv_sim_state_is_protected(s, path)) {
                hv_set_reason(hv, HV_REASON_DEVICE_UNPROTECTED);
                return set_error(err, -EINVAL, "%s is not protected by an IOMMU", path);
        }
        idx = hv_sim_domain_dt_index(d, path);
        if (idx < 0) {
                hv_set_reason(hv, HV_REASON_DEVICE_NOT_ATTACHED);
                return set_error(err, -ESRCH, "%s is not attached to domain %u", path, domid);
        }
        free(d->dt[idx]);
        memmove(&d->dt[idx], &d->dt[idx + 1], (d->n_dt - (size_t)idx - 1) * sizeof(char *));
        d->n_dt--;
        return hv_sim_state_commit(hv, err);
}

static int sim_test_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        struct sim *s = sim_of(hv);
        struct sim_domain *d = NULL, *owner;
        int r = 0;

        if (domid == HV_DOMID_INVALID) {
                if (!s->iommu) {
                        hv_set_reason(hv, HV_REASON_NO_IOMMU);
                        return set_error(err, -EOPNOTSUPP, "Xen has no IOMMU enabled on this "
                                         "platform");
                }
        } else {
                d = hv_sim_state_get(hv, domid, err, &r);
                if (!d)
                        return r;
                if ((r = dt_iommu_check(hv, d, path, "test", err)) < 0)
                        return r;
                if (d->dying) {
                        hv_set_reason(hv, HV_REASON_DOMAIN_DYING);
                        return set_error(err, -EINVAL, "domain %u is dying", domid);
                }
        }
        if ((r = dt_path_check(hv, path, err)) < 0)
                return r;
        /* Xen's quirk: an unprotected device always "can be assigned". */
        owner = hv_sim_state_is_protected(s, path) ? hv_sim_state_dt_owner(s, path) : NULL;
        if (owner) {
                hv_set_reason(hv, HV_REASON_DEVICE_ASSIGNED);
                return set_error(err, -EINVAL, "%s is already assigned to domain %u", path,
                                 owner->domid);
        }
        return 0;
}

/* Every kind is answered from the records, as GetState shows them. */
static int sim_domain_holds(struct hv *hv, uint32_t domid, struct hv_hold *q, size_t n,
                            char **err)
{
        int r = 0;
        struct sim_domain *d = hv_sim_state_get(hv, domid, err, &r);

        if (!d)
                return r;
        for (size_t i = 0; i < n; i++) {
                bool yes = false;

                switch (q[i].kind) {
                case HV_HOLD_IOMEM:
                        yes = hv_sim_domain_iomem_covers(d, q[i].mfn, q[i].nr);
                        break;
                case HV_HOLD_MAPPING:
                        yes = hv_sim_domain_mapped(d, q[i].gfn, q[i].mfn, q[i].nr);
                        break;
                case HV_HOLD_IRQ:
                        yes = hv_sim_domain_range_contains(&d->irqs, q[i].irq, q[i].irq);
                        break;
                case HV_HOLD_SPI:
                        yes = hv_sim_domain_spi_routed(d, q[i].irq);
                        break;
                case HV_HOLD_DT:
                        yes = hv_sim_domain_dt_index(d, q[i].path) >= 0;
                        break;
                case HV_HOLD__MAX:
                        break;
                }
                q[i].answer = yes ? HV_YES : HV_NO;
        }
        return 0;
}

static int sim_watch_fd(struct hv *hv, char **err)
{
        return sim_of(hv)->efd;
}

static int sim_watch_drain(struct hv *hv, bool *changed, char **err)
{
        uint64_t v;
        ssize_t n = read(sim_of(hv)->efd, &v, sizeof(v));

        if (n < 0 && errno != EAGAIN && errno != EINTR)
                return set_error(err, -errno, "cannot read the simulator's watch: %m");
        *changed = n == (ssize_t)sizeof(v) && v > 0;
        return 0;
}

const struct hv_ops hv_sim_ops = {
        .name = "sim",
        .open = sim_open,
        .close = sim_close,
        .version = sim_version,
        .platform_has_iommu = sim_platform_has_iommu,
        .domain_info = sim_domain_info,
        .list_domains = sim_list_domains,
        .domain_name = sim_domain_name,
        .iomem_permission = sim_iomem_permission,
        .memory_mapping = sim_memory_mapping,
        .irq_permission = sim_irq_permission,
        .dom0_spi_routed = sim_dom0_spi_routed,
        .bind_spi = sim_bind_spi,
        .unbind_spi = sim_unbind_spi,
        .assign_dt = sim_assign_dt,
        .deassign_dt = sim_deassign_dt,
        .test_assign_dt = sim_test_assign_dt,
        .domain_holds = sim_domain_holds,
        .watch_fd = sim_watch_fd,
        .watch_drain = sim_watch_drain,
};
