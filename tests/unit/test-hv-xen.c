/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the real-Xen backend's logic that needs no hypervisor: turning
 * libxenctrl's -1/errno into -errno, telling Xen's four EBUSY cases of
 * bind_pt_spi_irq apart from what dom0 can learn, explaining the
 * EOPNOTSUPP/EINVAL/ESRCH/EBUSY answers of the DT assignment domctls, and
 * the order of the hypercalls.  Then hv_open("xen"): on a machine without
 * Xen it must fail with a message and no crash; on a Xen dom0 a few
 * read-only calls are made.  Only that last part needs Xen; without it the
 * part is reported as skipped and the rest still counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv-explain.h"
#include "hv-sim.h"
#include "hv.h"
#include "testlib.h"

static void test_errno_from_xc(void)
{
        CHECK_INT(hv_errno_from_xc(-1, EBUSY), -EBUSY);
        CHECK_INT(hv_errno_from_xc(-1, EOPNOTSUPP), -EOPNOTSUPP);
        CHECK_INT(hv_errno_from_xc(-1, 0), -EIO);       /* never -1 */
        CHECK_INT(hv_errno_from_xc(0, EBUSY), 0);
        CHECK_INT(hv_errno_from_xc(3, EBUSY), 3);       /* counts pass through */
        CHECK_INT(hv_errno_from_xc(-EINVAL, 0), -EINVAL);
}

static struct hv_bind_facts facts_as_xen(unsigned major, unsigned minor, int has_run)
{
        /* What hv-xen.c knows after an EBUSY: version and has_run only. */
        struct hv_bind_facts f = {
                .domid = 3,
                .irq = 34,
                .xen_major = major,
                .xen_minor = minor,
                .nr_spis = -1,
                .has_run = has_run,
                .routed_here = HV_UNKNOWN,
                .owner = -1,
                .owner_known = HV_NO,
        };
        return f;
}

static void test_bind_busy(void)
{
        struct hv_bind_facts f;
        char *why = NULL;

        /* A domain that has run, on 4.17: that is the answer. */
        f = facts_as_xen(4, 17, HV_YES);
        CHECK_INT(hv_explain_bind_busy(&f, &why), HV_REASON_SPI_DOMAIN_HAS_RUN);
        CHECK_MSG(why && strstr(why, "SPI 34 cannot be bound: domain 3 has already run and Xen "
                                     "4.17 only routes SPIs before the first unpause"),
                  "why: %s", why);
        free(why);
        why = NULL;

        /* The same on 4.19: running no longer matters, other causes remain. */
        f = facts_as_xen(4, 19, HV_YES);
        CHECK_INT(hv_explain_bind_busy(&f, &why), HV_REASON_SPI_BUSY_UNKNOWN);
        CHECK_MSG(why && strstr(why, "nr_spis") && !strstr(why, "may have run"), "why: %s", why);
        free(why);
        why = NULL;

        /* Paused and never run on 4.17: nr_spis or another user. */
        f = facts_as_xen(4, 17, HV_NO);
        CHECK_INT(hv_explain_bind_busy(&f, &why), HV_REASON_SPI_BUSY_UNKNOWN);
        CHECK_MSG(why && strstr(why, "nr_spis") && strstr(why, "another domain") &&
                  !strstr(why, "may have run"), "why: %s", why);
        free(why);
        why = NULL;

        /* has_run unknown: listed among the candidates. */
        f = facts_as_xen(4, 17, HV_UNKNOWN);
        CHECK_INT(hv_explain_bind_busy(&f, &why), HV_REASON_SPI_BUSY_UNKNOWN);
        CHECK_MSG(why && strstr(why, "may have run"), "why: %s", why);
        free(why);
        why = NULL;

        /* Xen checks nr_spis (vgic_reserve_virq) before creation_finished. */
        f = facts_as_xen(4, 17, HV_YES);
        f.nr_spis = 2;
        CHECK_INT(hv_explain_bind_busy(&f, &why), HV_REASON_SPI_BEYOND_NR_SPIS);
        CHECK_MSG(why && strstr(why, "created with 2 SPIs"), "why: %s", why);
        free(why);
        why = NULL;
        f.nr_spis = 3;          /* vIRQ 34 = 32 + 2 < 32 + 3: fits */
        CHECK_INT(hv_explain_bind_busy(&f, NULL), HV_REASON_SPI_DOMAIN_HAS_RUN);

        /* Then an owner (route_irq_to_guest), before creation_finished. */
        f = facts_as_xen(4, 17, HV_YES);
        f.owner = 5;
        f.owner_known = HV_YES;
        CHECK_INT(hv_explain_bind_busy(&f, &why), HV_REASON_SPI_ROUTED_ELSEWHERE);
        CHECK_MSG(why && strstr(why, "routed to domain 5"), "why: %s", why);
        free(why);
        why = NULL;
        f.owner = 3;            /* the domain itself is not "elsewhere" */
        f.routed_here = HV_YES;
        CHECK_INT(hv_explain_bind_busy(&f, NULL), HV_REASON_SPI_ROUTED_HERE);

        CHECK(hv_version_routes_only_before_run(4, 17));
        CHECK(hv_version_routes_only_before_run(4, 18));
        CHECK(!hv_version_routes_only_before_run(4, 19));
        CHECK(!hv_version_routes_only_before_run(4, 20));
}

static void test_dt_errors(void)
{
        char *why = NULL;

        /* EOPNOTSUPP: no IOMMU on the platform (XEN-IN-QEMU.md case)... */
        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -EOPNOTSUPP, 2, "/pl031@9010000", HV_NO,
                                      HV_NO, HV_YES, &why), HV_REASON_NO_IOMMU);
        CHECK_MSG(why && strstr(why, "no IOMMU enabled"), "why: %s", why);
        free(why);
        why = NULL;
        /* ...or a domain created without XEN_DOMCTL_CDF_iommu. */
        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -EOPNOTSUPP, 2, "/soc/dma", HV_YES,
                                      HV_UNKNOWN, HV_YES, &why), HV_REASON_DOMAIN_NO_IOMMU);
        CHECK_MSG(why && strstr(why, "passthrough=\"enabled\""), "why: %s", why);
        free(why);
        why = NULL;
        CHECK_INT(hv_explain_dt_error(HV_STEP_TEST_ASSIGN_DT, -EOPNOTSUPP, HV_DOMID_INVALID,
                                      "/soc/dma", HV_UNKNOWN, HV_UNKNOWN, HV_UNKNOWN, NULL),
                  HV_REASON_NO_IOMMU);

        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -ESRCH, 9, "/soc/dma", HV_YES,
                                      HV_UNKNOWN, HV_NO, NULL), HV_REASON_NO_DOMAIN);
        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -ESRCH, 9, "/nope", HV_YES, HV_YES,
                                      HV_YES, NULL), HV_REASON_DEVICE_NOT_FOUND);
        CHECK_INT(hv_explain_dt_error(HV_STEP_DEASSIGN_DT, -ESRCH, 9, "/soc/dma", HV_YES, HV_YES,
                                      HV_YES, NULL), HV_REASON_DEVICE_NOT_ATTACHED);
        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -EINVAL, 9, "/soc/uart", HV_YES, HV_YES,
                                      HV_YES, &why), HV_REASON_DEVICE_UNPROTECTED);
        CHECK_MSG(why && strstr(why, "no IOMMU protects it"), "why: %s", why);
        free(why);
        why = NULL;
        CHECK_INT(hv_explain_dt_error(HV_STEP_TEST_ASSIGN_DT, -EINVAL, 9, "/soc/dma", HV_YES,
                                      HV_YES, HV_YES, NULL), HV_REASON_DEVICE_ASSIGNED);
        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -EBUSY, 9, "/soc/dma", HV_YES, HV_YES,
                                      HV_YES, &why), HV_REASON_DEVICE_ASSIGNED);
        CHECK_MSG(why && strstr(why, "xen,passthrough"), "why: %s", why);
        free(why);
        why = NULL;
        CHECK_INT(hv_explain_dt_error(HV_STEP_ASSIGN_DT, -ENOMEM, 9, "/soc/dma", HV_YES, HV_YES,
                                      HV_YES, &why), HV_REASON_NONE);
        CHECK(why != NULL);
        free(why);
}

static void test_ordering(void)
{
        static const char *const assign[] = { "iomem_permission", "memory_mapping",
                                              "irq_permission", "bind_spi", "assign_dt" };
        static const char *const release[] = { "deassign_dt", "unbind_spi", "irq_revoke",
                                               "unmap", "iomem_revoke" };

        for (size_t i = 0; i < 5; i++) {
                CHECK_STR(hv_step_name(hv_assign_order[i]), assign[i]);
                CHECK_STR(hv_step_name(hv_release_order[i]), release[i]);
                CHECK_INT(hv_step_rank(hv_assign_order[i]), i);
                CHECK_INT(hv_step_rank(hv_release_order[i]), i);
                CHECK_INT(hv_step_undo(hv_step_undo(hv_assign_order[i])), hv_assign_order[i]);
        }
        CHECK_INT(hv_step_rank(HV_STEP_TEST_ASSIGN_DT), -EINVAL);
        CHECK_STR(hv_reason_name(HV_REASON_SPI_DOMAIN_HAS_RUN), "spi-domain-has-run");
        CHECK_STR(hv_reason_name(HV_REASON__MAX), "invalid");
        /* The patches by the names of their directories in hv-patches/. */
        CHECK_STR(hv_patch_name(HV_PATCH_OWNER_OF_RECORD), "owner-of-record");
        CHECK_STR(hv_patch_name(HV_PATCH_TEST_ASSIGN), "test-assign");
        CHECK_STR(hv_patch_name(HV_PATCH_LIVE_SPI_RELEASE), "live-spi-release");
        CHECK_STR(hv_patch_name(HV_PATCH_IOMMU_FLAG), "iommu-flag");
        CHECK_STR(hv_patch_name(HV_PATCH_IOMMU_FLAG << 1), "invalid");
        /* The explanations of test-assign's answers. */
        CHECK_INT(hv_explain_dt_error(HV_STEP_TEST_ASSIGN_DT, -EEXIST, 3, "/rtc", HV_NO, HV_NO,
                                      HV_YES, NULL), HV_REASON_DEVICE_HELD_HERE);
        CHECK_INT(hv_explain_dt_error(HV_STEP_TEST_ASSIGN_DT, -ENXIO, 3, "/rtc", HV_NO, HV_NO,
                                      HV_YES, NULL), HV_REASON_DEVICE_UNPROTECTED);
}

/* Returns false when there is no Xen to talk to. */
static bool test_open_xen(void)
{
        struct hv *hv = NULL;
        char *err = NULL;
        int r;

        CHECK(hv_backend_available("xen"));
        r = hv_open("xen", NULL, &hv, &err);
        if (r < 0) {
                /* The machine is not a Xen dom0: a clear refusal, no crash. */
                CHECK(hv == NULL);
                CHECK_MSG(err && (strstr(err, "Xen control interface") ||
                                  strstr(err, "xenstore")), "err: %s", err);
                printf("hv_open(xen) without Xen: %d (%s)\n", r, err ? err : "");
                free(err);
                return false;
        }

        /* A real dom0: read-only calls only. */
        {
                struct hv_domain_info info, *list = NULL;
                unsigned major = 0, minor = 0;
                size_t n = 0;
                uint32_t id = 99;

                CHECK_INT(hv_version(hv, &major, &minor, NULL), 0);
                CHECK(major >= 4);
                CHECK_INT(hv_domain_info(hv, 0, &info, NULL), 0);
                CHECK_INT(info.domid, 0);
                CHECK_INT(info.nr_spis, -1);
                CHECK_INT(hv_list_domains(hv, &list, &n, NULL), 0);
                CHECK(n >= 1 && list[0].domid == 0);
                free(list);
                CHECK_INT(hv_domid_by_name(hv, "Domain-0", &id, NULL), 0);
                CHECK_INT(id, 0);
                CHECK_INT(hv_domain_info(hv, 0x7FEF, &info, NULL), -ESRCH);
                {
                        /* Xen has no query for permissions or mappings: unknown. */
                        struct hv_hold q[] = {
                                { .kind = HV_HOLD_IOMEM, .mfn = 0, .nr = 1 },
                                { .kind = HV_HOLD_MAPPING, .gfn = 0, .mfn = 0, .nr = 1 },
                                { .kind = HV_HOLD_IRQ, .irq = 40 },
                        };

                        CHECK_INT(hv_domain_holds(hv, 0, q, ARRAY_SIZE(q), NULL), 0);
                        for (size_t i = 0; i < ARRAY_SIZE(q); i++)
                                CHECK_INT(q[i].answer, HV_UNKNOWN);
                        CHECK_INT(hv_domain_holds(hv, 0x7FEF, q, 1, NULL), -ESRCH);
                }
                CHECK(!hv_sim_present(hv));
                CHECK(hv_watch_fd(hv, NULL) >= 0);
                CHECK_INT(hv_sim_create_domain(hv, "x", false, false, -1, &id, NULL),
                          -EOPNOTSUPP);
        }
        hv_free(hv);
        return true;
}

int main(void)
{
        bool live;

        test_errno_from_xc();
        test_bind_busy();
        test_dt_errors();
        test_ordering();
        live = test_open_xen();
        if (!live)
                printf("SKIP (part): read-only calls on a running Xen need a Xen dom0\n");
        return test_done();
}
