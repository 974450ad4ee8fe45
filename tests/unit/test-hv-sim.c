/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the simulated hypervisor and of the backend-independent layer
 * of hv.h: every Xen rule the simulator models, with the exact errno and
 * reason; that its state survives closing and reopening and a kill in the
 * middle of a sequence; failpoints (error, Nth call, crash before and after
 * a call, from the API and from ASSIGND_FAILPOINTS); version-dependent SPI
 * binding; and what destroying a domain releases.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "classify.h"
#include "dt-testutil.h"
#include "hv-explain.h"
#include "hv-sim.h"
#include "hv.h"
#include "testlib.h"

static const char *const protected_paths[] = { "/soc/dma@1000", "/soc/gpu@2000", "/soc/usb@3000" };

static char tmpdir[] = "/tmp/test-hv-sim.XXXXXX";

static struct hv *open_sim(const char *state, unsigned major, unsigned minor, bool iommu)
{
        struct hv_options o;
        struct hv *hv = NULL;
        char *err = NULL;
        int r;

        hv_options_init(&o);
        o.state_path = state;
        o.xen_major = major;
        o.xen_minor = minor;
        o.platform.iommu = iommu;
        o.platform.protected = protected_paths;
        o.platform.n_protected = ARRAY_SIZE(protected_paths);
        o.platform.spis = 200;
        r = hv_open("sim", &o, &hv, &err);
        CHECK_MSG(r == 0, "hv_open(sim): %d %s", r, err ? err : "");
        free(err);
        if (r < 0) {
                fprintf(stderr, "cannot continue without a simulator\n");
                exit(1);
        }
        return hv;
}

static uint32_t create(struct hv *hv, const char *name, bool passthrough, int nr_spis)
{
        uint32_t domid = 0;
        char *err = NULL;
        int r = hv_sim_create_domain(hv, name, passthrough, false, nr_spis, &domid, &err);

        CHECK_MSG(r == 0, "create %s: %d %s", name, r, err ? err : "");
        free(err);
        return domid;
}

/* Run a call, check its errno and, when given, its reason; free the message. */
#define EXPECT(call, want_r, want_reason)                                                  \
        do {                                                                               \
                char *err = NULL;                                                          \
                int _r = (call);                                                           \
                CHECK_MSG(_r == (want_r), "%s = %d (%s), expected %d", #call, _r,          \
                          err ? err : "", (int)(want_r));                                  \
                if ((want_reason) >= 0)                                                    \
                        CHECK_MSG(hv_last_reason(hv) == (enum hv_reason)(want_reason),     \
                                  "%s: reason %s, expected %s", #call,                     \
                                  hv_reason_name(hv_last_reason(hv)),                      \
                                  hv_reason_name((enum hv_reason)(want_reason)));          \
                if (_r < 0)                                                                \
                        CHECK_MSG(err && *err, "%s: no message", #call);                   \
                free(err);                                                                 \
        } while (0)
#define ANY -1

static struct json_object *state_of(struct hv *hv)
{
        struct json_object *s = NULL;
        char *err = NULL;
        int r = hv_sim_get_state_json(hv, &s, &err);

        CHECK_MSG(r == 0, "GetState: %d %s", r, err ? err : "");
        free(err);
        return s;
}

static struct json_object *dom_state(struct json_object *state, uint32_t domid)
{
        struct json_object *doms, *d, *id;

        if (!json_object_object_get_ex(state, "domains", &doms))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(doms); i++) {
                d = json_object_array_get_idx(doms, i);
                if (json_object_object_get_ex(d, "domid", &id) &&
                    json_object_get_int64(id) == domid)
                        return d;
        }
        return NULL;
}

static size_t dom_array_len(struct json_object *state, uint32_t domid, const char *key)
{
        struct json_object *d = dom_state(state, domid), *a;

        if (!d || !json_object_object_get_ex(d, key, &a))
                return (size_t)-1;
        return json_object_array_length(a);
}

static void test_pure_helpers(void)
{
        uint64_t first = 0, nr = 0;

        CHECK_STR(hv_step_name(HV_STEP_UNMAP), "unmap");
        CHECK_INT(hv_step_from_name("bind_spi"), HV_STEP_BIND_SPI);
        CHECK_INT(hv_step_from_name("nope"), -EINVAL);
        CHECK_INT(hv_step_undo(HV_STEP_IOMEM_PERMISSION), HV_STEP_IOMEM_REVOKE);
        CHECK_INT(hv_step_undo(HV_STEP_MEMORY_MAPPING), HV_STEP_UNMAP);
        CHECK_INT(hv_step_undo(HV_STEP_BIND_SPI), HV_STEP_UNBIND_SPI);
        CHECK_INT(hv_step_undo(HV_STEP_DEASSIGN_DT), HV_STEP_ASSIGN_DT);
        CHECK_INT(hv_step_undo(HV_STEP_TEST_ASSIGN_DT), -EINVAL);
        /* Release is assign reversed; unmap precedes iomem_revoke. */
        for (size_t i = 0; i < 5; i++)
                CHECK_INT(hv_release_order[i], hv_step_undo(hv_assign_order[4 - i]));
        CHECK(hv_step_rank(HV_STEP_UNMAP) < hv_step_rank(HV_STEP_IOMEM_REVOKE));
        CHECK(hv_step_rank(HV_STEP_IOMEM_PERMISSION) < hv_step_rank(HV_STEP_MEMORY_MAPPING));

        CHECK_INT(hv_region_to_frames(0x9010000, 0x1000, &first, &nr), 0);
        CHECK_INT(first, 0x9010);
        CHECK_INT(nr, 1);
        CHECK_INT(hv_region_to_frames(0x9010800, 0x1000, &first, &nr), 0);
        CHECK_INT(nr, 2);       /* straddles a page boundary */
        CHECK_INT(hv_region_to_frames(0x1000, 0, &first, &nr), -EINVAL);
        CHECK_INT(hv_region_to_frames(UINT64_MAX, 2, &first, &nr), -EINVAL);

        CHECK_INT(hv_errno_from_name("EBUSY"), EBUSY);
        CHECK_INT(hv_errno_from_name("EOPNOTSUPP"), EOPNOTSUPP);
        CHECK_INT(hv_errno_from_name("16"), 16);
        CHECK_INT(hv_errno_from_name("EWHATEVER"), -EINVAL);
        CHECK(hv_backend_available("sim"));
        CHECK(!hv_backend_available("kvm"));
        /* Known to the project, whether this build has it or not. */
        CHECK(hv_backend_known("sim"));
        CHECK(hv_backend_known("xen"));
        CHECK(!hv_backend_known("kvm"));
        CHECK(!hv_backend_known(""));
        CHECK(!hv_backend_known(NULL));
        {
                char *names = hv_backend_known_names();

                CHECK_STR(names, "xen or sim");
                free(names);
        }
}

static void test_open_errors(void)
{
        struct hv *hv = NULL;
        char *err = NULL;
        char path[256];
        int fd;

        CHECK_INT(hv_open("kvm", NULL, &hv, &err), -EINVAL);
        CHECK(hv == NULL && err != NULL);
        CHECK_MSG(err && strstr(err, "unknown hypervisor backend \"kvm\" (use xen or sim)"),
                  "err: %s", err);
        free(err);
        err = NULL;
        /* A known backend this build lacks is told apart from an unknown one. */
        if (!hv_backend_available("xen")) {
                CHECK_INT(hv_open("xen", NULL, &hv, &err), -EOPNOTSUPP);
                CHECK_MSG(err && strstr(err, "built without the xen backend (libxenctrl"),
                          "err: %s", err);
                free(err);
                err = NULL;
        }

        /* A corrupt state file is refused with a message, not loaded. */
        snprintf(path, sizeof(path), "%s/corrupt.json", tmpdir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0 && write(fd, "{\"format\":1,\"rover\":", 20) == 20);
        close(fd);
        {
                struct hv_options o;

                hv_options_init(&o);
                o.state_path = path;
                CHECK_INT(hv_open("sim", &o, &hv, &err), -EBADMSG);
                CHECK(hv == NULL);
                CHECK(err && strstr(err, "corrupt"));
                free(err);
        }
}

static void test_domains(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        struct hv_domain_info info;
        struct hv_domain_info *list = NULL;
        size_t n = 0;
        uint32_t a, b, c, id = 0;
        char *name = NULL;
        unsigned major = 0, minor = 0;
        bool iommu = false;

        CHECK_INT(hv_version(hv, &major, &minor, NULL), 0);
        CHECK_INT(major, 4);
        CHECK_INT(minor, 17);
        CHECK_INT(hv_platform_has_iommu(hv, &iommu, NULL), 0);
        CHECK(iommu);
        CHECK_STR(hv_backend_name(hv), "sim");
        CHECK(hv_sim_present(hv));

        a = create(hv, "guest-a", true, -1);
        b = create(hv, "guest-b", false, 4);
        CHECK_INT(a, 1);
        CHECK_INT(b, 2);
        EXPECT(hv_sim_create_domain(hv, "guest-a", false, false, -1, &id, &err), -EEXIST, ANY);
        EXPECT(hv_sim_create_domain(hv, "", false, false, -1, &id, &err), -EINVAL, ANY);
        EXPECT(hv_sim_create_domain(hv, "x", false, false, 5000, &id, &err), -EINVAL, ANY);

        CHECK_INT(hv_domain_info(hv, a, &info, NULL), 0);
        CHECK_STR(info.name, "guest-a");
        CHECK(info.paused && !info.dying);
        CHECK_INT(info.has_run, HV_NO);
        CHECK_INT(info.passthrough, HV_YES);
        CHECK_INT(info.nr_spis, 200);   /* default: every platform SPI */
        CHECK_INT(hv_domain_info(hv, b, &info, NULL), 0);
        CHECK_INT(info.passthrough, HV_NO);
        CHECK_INT(info.nr_spis, 4);
        EXPECT(hv_domain_info(hv, 77, &info, &err), -ESRCH, HV_REASON_NO_DOMAIN);

        CHECK_INT(hv_sim_unpause(hv, a, NULL), 0);
        CHECK_INT(hv_domain_info(hv, a, &info, NULL), 0);
        CHECK(!info.paused);
        CHECK_INT(info.has_run, HV_YES);
        CHECK_INT(hv_sim_pause(hv, a, NULL), 0);
        CHECK_INT(hv_domain_info(hv, a, &info, NULL), 0);
        CHECK(info.paused);
        CHECK_INT(info.has_run, HV_YES);        /* once run, always run */

        CHECK_INT(hv_domid_by_name(hv, "guest-b", &id, NULL), 0);
        CHECK_INT(id, b);
        EXPECT(hv_domid_by_name(hv, "nobody", &id, &err), -ENOENT, ANY);
        CHECK_INT(hv_domain_name(hv, 0, &name, NULL), 0);
        CHECK_STR(name, "Domain-0");
        free(name);

        CHECK_INT(hv_list_domains(hv, &list, &n, NULL), 0);
        CHECK_INT(n, 3);
        CHECK(n == 3 && list[0].domid == 0 && list[1].domid == a && list[2].domid == b);
        free(list);

        /* domids are not reused: Xen's rover moves on past live domains. */
        EXPECT(hv_sim_destroy_domain(hv, a, &err), 0, ANY);
        c = create(hv, "guest-c", false, -1);
        CHECK_INT(c, 3);
        EXPECT(hv_sim_destroy_domain(hv, 0, &err), -EPERM, ANY);
        EXPECT(hv_sim_destroy_domain(hv, a, &err), -ESRCH, ANY);
        hv_free(hv);

        /* Without an IOMMU Xen refuses XEN_DOMCTL_CDF_iommu at creation. */
        hv = open_sim(NULL, 4, 17, false);
        EXPECT(hv_sim_create_domain(hv, "pt", true, false, -1, &id, &err), -EINVAL,
               HV_REASON_NO_IOMMU);
        CHECK_INT(hv_platform_has_iommu(hv, &iommu, NULL), 0);
        CHECK(!iommu);
        hv_free(hv);
}

static void test_iomem(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t d = create(hv, "io", false, -1);
        struct json_object *st;

        /* Mapping needs the domain's permission for every page. */
        EXPECT(hv_memory_mapping(hv, d, 0x9010, 0x9010, 1, true, &err), -EPERM,
               HV_REASON_NO_PERMISSION);
        EXPECT(hv_iomem_permission(hv, d, 0x9010, 2, true, &err), 0, HV_REASON_NONE);
        EXPECT(hv_memory_mapping(hv, d, 0x9010, 0x9010, 3, true, &err), -EPERM,
               HV_REASON_NO_PERMISSION);
        EXPECT(hv_memory_mapping(hv, d, 0x9010, 0x9010, 2, true, &err), 0, HV_REASON_NONE);
        /* Adjacent grants merge into one permitted span. */
        EXPECT(hv_iomem_permission(hv, d, 0x9012, 1, true, &err), 0, ANY);
        EXPECT(hv_memory_mapping(hv, d, 0x40000, 0x9010, 3, true, &err), 0, ANY);
        /* Bad ranges. */
        EXPECT(hv_iomem_permission(hv, d, 0x9010, 0, true, &err), -EINVAL, HV_REASON_BAD_RANGE);
        EXPECT(hv_iomem_permission(hv, d, UINT64_MAX, 2, true, &err), -EINVAL,
               HV_REASON_BAD_RANGE);
        EXPECT(hv_memory_mapping(hv, d, 0x1, 1ull << 36, 1, true, &err), -EINVAL,
               HV_REASON_BAD_RANGE);
        EXPECT(hv_iomem_permission(hv, 55, 0x9010, 1, true, &err), -ESRCH, HV_REASON_NO_DOMAIN);

        st = state_of(hv);
        CHECK_INT(dom_array_len(st, d, "iomem"), 1);
        CHECK_INT(dom_array_len(st, d, "mappings"), 2);
        json_object_put(st);

        /* Xen checks the permission on removal too: unmap, then revoke. */
        EXPECT(hv_iomem_permission(hv, d, 0x9010, 3, false, &err), 0, ANY);
        EXPECT(hv_memory_mapping(hv, d, 0x9010, 0x9010, 2, false, &err), -EPERM,
               HV_REASON_NO_PERMISSION);
        EXPECT(hv_iomem_permission(hv, d, 0x9010, 3, true, &err), 0, ANY);
        EXPECT(hv_memory_mapping(hv, d, 0x9010, 0x9010, 2, false, &err), 0, ANY);
        /* Removing part of a mapping leaves the rest. */
        EXPECT(hv_memory_mapping(hv, d, 0x40001, 0x9011, 1, false, &err), 0, ANY);
        st = state_of(hv);
        CHECK_INT(dom_array_len(st, d, "mappings"), 2);
        json_object_put(st);
        EXPECT(hv_memory_mapping(hv, d, 0x40000, 0x9010, 3, false, &err), 0, ANY);
        EXPECT(hv_iomem_permission(hv, d, 0x9010, 3, false, &err), 0, ANY);
        st = state_of(hv);
        CHECK_INT(dom_array_len(st, d, "mappings"), 0);
        CHECK_INT(dom_array_len(st, d, "iomem"), 0);
        json_object_put(st);
        hv_free(hv);
}

static void test_irqs(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t a = create(hv, "a", false, -1);
        uint32_t b = create(hv, "b", false, -1);
        uint32_t small = create(hv, "small", false, 2);  /* vIRQs 32-33 only */
        struct json_object *st;

        EXPECT(hv_irq_permission(hv, a, 1024, true, &err), -EINVAL, HV_REASON_BAD_RANGE);
        EXPECT(hv_irq_permission(hv, a, 27, true, &err), -EPERM, HV_REASON_NO_PERMISSION);
        EXPECT(hv_irq_permission(hv, a, 232, true, &err), -EPERM, HV_REASON_NO_PERMISSION);
        EXPECT(hv_irq_permission(hv, a, 34, true, &err), 0, ANY);

        /* SPIs only, 1:1, that dom0 holds. */
        EXPECT(hv_bind_spi(hv, a, 35, 34, &err), -EINVAL, HV_REASON_NOT_SPI);
        EXPECT(hv_bind_spi(hv, a, 27, 27, &err), -EPERM, HV_REASON_NO_PERMISSION);
        EXPECT(hv_bind_spi(hv, 99, 34, 34, &err), -ESRCH, HV_REASON_NO_DOMAIN);
        EXPECT(hv_bind_spi(hv, a, 34, 34, &err), 0, HV_REASON_NONE);
        EXPECT(hv_bind_spi(hv, a, 34, 34, &err), -EBUSY, HV_REASON_SPI_ROUTED_HERE);

        /* Another domain has it. */
        EXPECT(hv_irq_permission(hv, b, 34, true, &err), 0, ANY);
        {
                char *err = NULL;
                int r = hv_bind_spi(hv, b, 34, 34, &err);

                CHECK_INT(r, -EBUSY);
                CHECK_INT(hv_last_reason(hv), HV_REASON_SPI_ROUTED_ELSEWHERE);
                CHECK_MSG(err && strstr(err, "routed to domain 1"), "message: %s", err);
                free(err);
        }

        /* Beyond the nr_spis fixed at creation. */
        EXPECT(hv_irq_permission(hv, small, 34, true, &err), 0, ANY);
        EXPECT(hv_irq_permission(hv, small, 33, true, &err), 0, ANY);
        EXPECT(hv_bind_spi(hv, small, 34, 34, &err), -EBUSY, HV_REASON_SPI_BEYOND_NR_SPIS);
        EXPECT(hv_bind_spi(hv, small, 33, 33, &err), 0, ANY);

        /* Revoking the permission of a routed SPI works on a live domain. */
        EXPECT(hv_irq_permission(hv, b, 34, false, &err), 0, ANY);

        /* Unbind: -EINVAL if not routed there, -EBUSY unless dying. */
        EXPECT(hv_unbind_spi(hv, b, 34, 34, &err), -EINVAL, HV_REASON_SPI_NOT_ROUTED);
        EXPECT(hv_unbind_spi(hv, a, 34, 35, &err), -EINVAL, HV_REASON_NOT_SPI);
        EXPECT(hv_unbind_spi(hv, a, 34, 34, &err), -EBUSY, HV_REASON_UNBIND_LIVE_DOMAIN);
        EXPECT(hv_sim_kill_domain(hv, a, &err), 0, ANY);
        EXPECT(hv_unbind_spi(hv, a, 34, 34, &err), 0, HV_REASON_NONE);
        st = state_of(hv);
        CHECK_INT(dom_array_len(st, a, "spis"), 0);
        CHECK_INT(dom_array_len(st, small, "spis"), 1);
        json_object_put(st);
        hv_free(hv);

        /* Only dom0's permission counts (xen/arch/arm/domctl.c): none given to g. */
        {
                struct hv_options o;
                struct hv *h2 = NULL;
                uint32_t id = 0;

                hv_options_init(&o);
                CHECK_INT(hv_open("sim", &o, &h2, NULL), 0);
                CHECK_INT(hv_sim_create_domain(h2, "g", false, false, -1, &id, NULL), 0);
                CHECK_INT(hv_bind_spi(h2, id, 40, 40, NULL), 0);
                hv_free(h2);
        }
}

static void test_bind_versions(void)
{
        /* Xen 4.17: no SPI routing after the first unpause. */
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t d = create(hv, "run", false, -1);
        char *err = NULL;

        CHECK_INT(hv_irq_permission(hv, d, 40, true, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, d, 41, true, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, d, 40, 40, NULL), 0);
        CHECK_INT(hv_sim_unpause(hv, d, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, d, 41, 41, &err), -EBUSY);
        CHECK_INT(hv_last_reason(hv), HV_REASON_SPI_DOMAIN_HAS_RUN);
        CHECK_MSG(err && strstr(err, "has already run") && strstr(err, "4.17"), "message: %s",
                  err);
        free(err);
        hv_free(hv);

        /* Xen 4.20 (commit 1c77496bc8, 4.19+) routes to running domains. */
        hv = open_sim(NULL, 4, 20, true);
        d = create(hv, "run", false, -1);
        /* and has no irq_permission on Arm: XSM's catch-all answers EILSEQ. */
        err = NULL;
        CHECK_INT(hv_irq_permission(hv, d, 41, true, &err), -EILSEQ);
        CHECK_INT(hv_last_reason(hv), HV_REASON_NOT_IMPLEMENTED);
        CHECK_MSG(err && strstr(err, "irq_permission"), "message: %s", err);
        free(err);
        CHECK_INT(hv_sim_unpause(hv, d, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, d, 41, 41, NULL), 0);
        hv_free(hv);

        /* 4.18 still refuses, 4.19 allows. */
        CHECK(hv_version_routes_only_before_run(4, 18));
        CHECK(!hv_version_routes_only_before_run(4, 19));
        CHECK(!hv_version_routes_only_before_run(5, 0));
}

static void test_dt(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t pt = create(hv, "pt", true, -1);
        uint32_t pt2 = create(hv, "pt2", true, -1);
        uint32_t nopt = create(hv, "nopt", false, -1);
        struct json_object *st, *owners, *o;

        EXPECT(hv_assign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP,
               HV_REASON_DOMAIN_NO_IOMMU);
        EXPECT(hv_test_assign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP,
               HV_REASON_DOMAIN_NO_IOMMU);
        /*
         * Populating its memory changes nothing: on Arm the IOMMU is a
         * creation flag (iommu_do_domctl checks is_iommu_enabled(d) first
         * and answers -EOPNOTSUPP), and no later call turns it on.
         */
        CHECK_INT(hv_sim_populate_memory(hv, nopt, NULL), 0);
        EXPECT(hv_assign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP,
               HV_REASON_DOMAIN_NO_IOMMU);
        EXPECT(hv_assign_dt(hv, pt, "/soc/uart@5000", &err), -EINVAL,
               HV_REASON_DEVICE_UNPROTECTED);
        EXPECT(hv_assign_dt(hv, pt, "soc/dma", &err), -ESRCH, HV_REASON_DEVICE_NOT_FOUND);
        EXPECT(hv_assign_dt(hv, 42, "/soc/dma@1000", &err), -ESRCH, HV_REASON_NO_DOMAIN);
        /* test_assign's quirk: an unprotected device is "assignable". */
        EXPECT(hv_test_assign_dt(hv, pt, "/soc/uart@5000", &err), 0, ANY);
        EXPECT(hv_test_assign_dt(hv, HV_DOMID_INVALID, "/soc/uart@5000", &err), 0, ANY);
        EXPECT(hv_test_assign_dt(hv, pt, "/soc/dma@1000", &err), 0, ANY);

        EXPECT(hv_assign_dt(hv, pt, "/soc/dma@1000", &err), 0, HV_REASON_NONE);
        EXPECT(hv_assign_dt(hv, pt2, "/soc/dma@1000", &err), -EBUSY, HV_REASON_DEVICE_ASSIGNED);
        EXPECT(hv_assign_dt(hv, pt, "/soc/dma@1000", &err), -EBUSY, HV_REASON_DEVICE_ASSIGNED);
        /* Xen's test_assign says EINVAL (not EBUSY) for an assigned device. */
        EXPECT(hv_test_assign_dt(hv, pt2, "/soc/dma@1000", &err), -EINVAL,
               HV_REASON_DEVICE_ASSIGNED);
        EXPECT(hv_test_assign_dt(hv, HV_DOMID_INVALID, "/soc/dma@1000", &err), -EINVAL,
               HV_REASON_DEVICE_ASSIGNED);

        /* Deassign: the SMMU drivers answer ESRCH for a device not attached. */
        EXPECT(hv_deassign_dt(hv, pt2, "/soc/dma@1000", &err), -ESRCH,
               HV_REASON_DEVICE_NOT_ATTACHED);
        EXPECT(hv_deassign_dt(hv, pt, "/soc/uart@5000", &err), -EINVAL,
               HV_REASON_DEVICE_UNPROTECTED);
        EXPECT(hv_deassign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP,
               HV_REASON_DOMAIN_NO_IOMMU);
        EXPECT(hv_deassign_dt(hv, pt, "/soc/dma@1000", &err), 0, ANY);
        EXPECT(hv_assign_dt(hv, pt2, "/soc/dma@1000", &err), 0, ANY);

        /* A dying domain takes no device. */
        EXPECT(hv_sim_kill_domain(hv, pt, &err), 0, ANY);
        EXPECT(hv_assign_dt(hv, pt, "/soc/gpu@2000", &err), -EINVAL, HV_REASON_DOMAIN_DYING);
        EXPECT(hv_test_assign_dt(hv, pt, "/soc/gpu@2000", &err), -EINVAL, HV_REASON_DOMAIN_DYING);

        st = state_of(hv);
        CHECK(json_object_object_get_ex(st, "dt_owners", &owners));
        CHECK(json_object_object_get_ex(owners, "/soc/dma@1000", &o) &&
              json_object_get_int64(o) == pt2);
        CHECK(json_object_object_get_ex(owners, "/soc/gpu@2000", &o) && o == NULL);
        json_object_put(st);
        hv_free(hv);

        /* No IOMMU on the platform: EOPNOTSUPP for all three. */
        hv = open_sim(NULL, 4, 17, false);
        nopt = create(hv, "d", false, -1);
        EXPECT(hv_assign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP, HV_REASON_NO_IOMMU);
        EXPECT(hv_test_assign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP,
               HV_REASON_NO_IOMMU);
        EXPECT(hv_test_assign_dt(hv, HV_DOMID_INVALID, "/soc/uart@5000", &err), -EOPNOTSUPP,
               HV_REASON_NO_IOMMU);
        EXPECT(hv_deassign_dt(hv, nopt, "/soc/dma@1000", &err), -EOPNOTSUPP, HV_REASON_NO_IOMMU);
        hv_free(hv);
}

static void test_destroy(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t a = create(hv, "a", true, -1);
        uint32_t b = create(hv, "b", true, -1);
        struct json_object *st;

        CHECK_INT(hv_iomem_permission(hv, a, 0x1000, 1, true, NULL), 0);
        CHECK_INT(hv_memory_mapping(hv, a, 0x1000, 0x1000, 1, true, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, a, 50, true, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, a, 50, 50, NULL), 0);
        CHECK_INT(hv_assign_dt(hv, a, "/soc/usb@3000", NULL), 0);

        CHECK_INT(hv_irq_permission(hv, b, 50, true, NULL), 0);
        EXPECT(hv_bind_spi(hv, b, 50, 50, &err), -EBUSY, HV_REASON_SPI_ROUTED_ELSEWHERE);
        EXPECT(hv_assign_dt(hv, b, "/soc/usb@3000", &err), -EBUSY, HV_REASON_DEVICE_ASSIGNED);

        CHECK_INT(hv_sim_destroy_domain(hv, a, NULL), 0);
        /* Everything a held is free again. */
        EXPECT(hv_bind_spi(hv, b, 50, 50, &err), 0, ANY);
        EXPECT(hv_test_assign_dt(hv, b, "/soc/usb@3000", &err), 0, ANY);
        EXPECT(hv_assign_dt(hv, b, "/soc/usb@3000", &err), 0, ANY);
        st = state_of(hv);
        CHECK(dom_state(st, a) == NULL);
        CHECK_INT(dom_array_len(st, b, "spis"), 1);
        json_object_put(st);
        hv_free(hv);
}

/* CreateDomain with xl's options: xl's hypercalls, its nr_spis, and its undo on failure. */
static void test_create_xl(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        const uint32_t irqs[] = { 40, 50 };
        const struct hv_sim_iomem iomem[] = { { 0x1000, 2, 0x1000 }, { 0x3000, 1, 0x5000 } };
        const char *const dtdevs[] = { "/soc/usb@3000" };
        struct hv_sim_xl_grants g = { irqs, 2, iomem, 2, dtdevs, 1 };
        struct json_object *st, *d, *v;
        struct hv_domain_info info;
        uint32_t a = 0, b = 0;
        char *err = NULL;
        int r;

        r = hv_sim_create_domain_xl(hv, "xl1", true, false, -1, &g, &a, &err);
        CHECK_MSG(r == 0, "xl create: %d %s", r, err ? err : "");
        free(err);
        err = NULL;
        st = state_of(hv);
        d = dom_state(st, a);
        CHECK(d != NULL);
        /* libxl_arm.c: nr_spis = highest SPI + 1 = 50 - 32 + 1. */
        CHECK(d && json_object_object_get_ex(d, "nr_spis", &v) && json_object_get_int(v) == 19);
        CHECK_INT(dom_array_len(st, a, "spis"), 2);
        /* xl binds without granting the domain the IRQs: Xen checks dom0's permission. */
        CHECK_INT(dom_array_len(st, a, "irqs"), 0);
        CHECK_INT(dom_array_len(st, a, "mappings"), 2);
        CHECK_INT(dom_array_len(st, a, "dt_devices"), 1);
        CHECK(d && json_object_object_get_ex(d, "paused", &v) && json_object_get_boolean(v));
        json_object_put(st);

        /* A second "xl create" of the same SPIs fails and leaves no domain behind. */
        r = hv_sim_create_domain_xl(hv, "xl2", true, false, -1, &g, &b, &err);
        CHECK_INT(r, -EBUSY);
        CHECK(err && strstr(err, "irqs") && strstr(err, "destroy"));
        free(err);
        err = NULL;
        CHECK_INT(hv_domid_by_name(hv, "xl2", &b, NULL), -ENOENT);
        /* Assigning a protected device to a domain without the IOMMU fails the same way. */
        g = (struct hv_sim_xl_grants){ .dtdevs = (const char *const[]){ "/soc/gpu@2000" },
                                       .n_dtdevs = 1 };
        r = hv_sim_create_domain_xl(hv, "xl3", false, false, -1, &g, &b, &err);
        CHECK_INT(r, -EOPNOTSUPP);
        CHECK(err && strstr(err, "dtdev"));
        free(err);
        CHECK_INT(hv_domid_by_name(hv, "xl3", &b, NULL), -ENOENT);
        CHECK_INT(hv_domain_info(hv, a, &info, NULL), 0);
        hv_free(hv);
}

static void test_watch(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        int fd = hv_watch_fd(hv, NULL);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        bool changed = true;
        uint32_t d;

        CHECK(fd >= 0);
        CHECK_INT(hv_watch_drain(hv, &changed, NULL), 0);
        CHECK(!changed);
        d = create(hv, "w", false, -1);
        CHECK_INT(poll(&p, 1, 0), 1);
        CHECK_INT(hv_watch_drain(hv, &changed, NULL), 0);
        CHECK(changed);
        CHECK_INT(hv_watch_drain(hv, &changed, NULL), 0);
        CHECK(!changed);
        CHECK_INT(hv_sim_destroy_domain(hv, d, NULL), 0);
        CHECK_INT(hv_watch_drain(hv, &changed, NULL), 0);
        CHECK(changed);
        hv_free(hv);
}

static void test_failpoints(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t d = create(hv, "fp", false, -1);
        struct json_object *before, *after;
        char *msg = NULL;

        EXPECT(hv_set_failpoint(hv, "bogus", "error:EIO", NULL, &err), -EINVAL, ANY);
        EXPECT(hv_set_failpoint(hv, "unmap", "explode", NULL, &err), -EINVAL, ANY);
        EXPECT(hv_set_failpoint(hv, "unmap", "error:ENOTANERRNO", NULL, &err), -EINVAL, ANY);
        EXPECT(hv_set_failpoint(hv, "unmap:0", "error:EIO", NULL, &err), -EINVAL, ANY);
        {
                /* The caller is told which argument was wrong, without parsing the message. */
                static const struct {
                        const char *step, *action, *field;
                } cases[] = {
                        { "bogus", "off", "step" },
                        { "unmap:0", "off", "step" },
                        { "unmap:x", "error:EIO", "step" },
                        { "unmap", "explode", "action" },
                        { "unmap", "error:ENOTANERRNO", "action" },
                        { NULL, "off", "step" },
                        { "unmap", NULL, "action" },
                        /* Both wrong: the step is the first one read. */
                        { "action", "explode", "step" },
                };
                const char *field;

                for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                        field = NULL;
                        CHECK_INT(hv_set_failpoint(hv, cases[i].step, cases[i].action, &field,
                                                   NULL), -EINVAL);
                        CHECK_STR(field, cases[i].field);
                }
                field = "untouched";
                CHECK_INT(hv_set_failpoint(hv, "unmap", "off", &field, NULL), 0);
                CHECK_STR(field, "untouched");
        }

        /* An injected error changes nothing in the hypervisor. */
        before = state_of(hv);
        CHECK_INT(hv_set_failpoint(hv, "iomem_permission", "error:EBUSY", NULL, NULL), 0);
        CHECK_INT(hv_iomem_permission(hv, d, 0x10, 1, true, &msg), -EBUSY);
        CHECK_INT(hv_last_reason(hv), HV_REASON_FAILPOINT);
        CHECK(msg && strstr(msg, "EBUSY"));
        free(msg);
        CHECK_INT(hv_iomem_permission(hv, d, 0x10, 1, true, NULL), -EBUSY);  /* every call */
        after = state_of(hv);
        CHECK(json_object_equal(before, after));
        json_object_put(before);
        json_object_put(after);
        /* The release side is a different step. */
        CHECK_INT(hv_iomem_permission(hv, d, 0x10, 1, false, NULL), 0);
        CHECK_INT(hv_set_failpoint(hv, "iomem_permission", "off", NULL, NULL), 0);
        CHECK_INT(hv_iomem_permission(hv, d, 0x10, 1, true, NULL), 0);

        /* ":N" fires on the Nth call only. */
        CHECK_INT(hv_set_failpoint(hv, "irq_permission:2", "error:EIO", NULL, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, d, 40, true, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, d, 41, true, NULL), -EIO);
        CHECK_INT(hv_irq_permission(hv, d, 42, true, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, d, 41, true, NULL), 0);

        /* Several at once from a string, as ASSIGND_FAILPOINTS gives them. */
        CHECK_INT(hv_set_failpoints_from_string(hv, "bind_spi=error:EPERM,unmap:1=error:ENOENT",
                                                NULL), 0);
        CHECK_INT(hv_bind_spi(hv, d, 40, 40, NULL), -EPERM);
        CHECK_INT(hv_memory_mapping(hv, d, 0x10, 0x10, 1, false, NULL), -ENOENT);
        CHECK_INT(hv_memory_mapping(hv, d, 0x10, 0x10, 1, false, NULL), 0);
        EXPECT(hv_set_failpoints_from_string(hv, "bind_spi", &err), -EINVAL, ANY);
        hv_free(hv);

        /* From the environment at hv_open. */
        setenv("ASSIGND_FAILPOINTS", "assign_dt=error:ENOSPC", 1);
        hv = open_sim(NULL, 4, 17, true);
        unsetenv("ASSIGND_FAILPOINTS");
        d = create(hv, "env", true, -1);
        CHECK_INT(hv_assign_dt(hv, d, "/soc/dma@1000", NULL), -ENOSPC);
        hv_free(hv);
        {
                struct hv *h2 = NULL;

                setenv("ASSIGND_FAILPOINTS", "assign_dt=maybe", 1);
                CHECK_INT(hv_open("sim", NULL, &h2, NULL), -EINVAL);
                CHECK(h2 == NULL);
                unsetenv("ASSIGND_FAILPOINTS");
        }
}

/* Fork a child that runs fn on a simulator over state and return its exit status. */
static int in_child(const char *state, void (*fn)(struct hv *hv))
{
        pid_t pid;
        int status = 0;

        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                struct hv *hv = open_sim(state, 4, 17, true);

                fn(hv);
                hv_free(hv);
                _exit(test_failures ? 1 : 0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void child_crash_before_mapping(struct hv *hv)
{
        uint32_t d = create(hv, "victim", true, -1);

        hv_iomem_permission(hv, d, 0x9010, 1, true, NULL);
        hv_set_failpoint(hv, "memory_mapping", "crash-before", NULL, NULL);
        hv_memory_mapping(hv, d, 0x9010, 0x9010, 1, true, NULL);
        _exit(3);       /* not reached if the failpoint works */
}

static void child_crash_after_bind(struct hv *hv)
{
        hv_irq_permission(hv, 1, 34, true, NULL);
        hv_set_failpoint(hv, "bind_spi", "crash-after", NULL, NULL);
        hv_bind_spi(hv, 1, 34, 34, NULL);
        _exit(3);
}

static void child_crash_after_failed_call(struct hv *hv)
{
        /* crash-after fires only when the call succeeded. */
        hv_set_failpoint(hv, "assign_dt", "crash-after", NULL, NULL);
        if (hv_assign_dt(hv, 1, "/soc/uart@5000", NULL) == -EINVAL)
                _exit(4);
        _exit(3);
}

static void child_sigkill_mid_sequence(struct hv *hv)
{
        uint32_t d = create(hv, "killed", false, -1);

        hv_iomem_permission(hv, d, 0x2000, 4, true, NULL);
        hv_memory_mapping(hv, d, 0x2000, 0x2000, 4, true, NULL);
        kill(getpid(), SIGKILL);
}

static void test_persistence(void)
{
        char state[256];
        struct hv *hv;
        struct json_object *s1, *s2, *dom;
        uint32_t a, b;
        int status;

        snprintf(state, sizeof(state), "%s/state.json", tmpdir);

        /* Open, mutate, close, reopen: the same state. */
        hv = open_sim(state, 4, 17, true);
        a = create(hv, "persist-a", true, 8);
        b = create(hv, "persist-b", false, -1);
        CHECK_INT(hv_iomem_permission(hv, a, 0x9010, 1, true, NULL), 0);
        CHECK_INT(hv_memory_mapping(hv, a, 0x9010, 0x9010, 1, true, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, a, 36, true, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, a, 36, 36, NULL), 0);
        CHECK_INT(hv_assign_dt(hv, a, "/soc/usb@3000", NULL), 0);
        CHECK_INT(hv_assign_dt(hv, a, "/soc/gpu@2000", NULL), 0);
        CHECK_INT(hv_sim_populate_memory(hv, a, NULL), 0);
        CHECK_INT(hv_sim_unpause(hv, b, NULL), 0);
        CHECK_INT(hv_sim_destroy_domain(hv, b, NULL), 0);
        s1 = state_of(hv);
        hv_free(hv);
        {
                /* Devices are listed sorted, whatever the order of calls. */
                struct json_object *devs = NULL;

                CHECK(json_object_object_get_ex(dom_state(s1, a), "dt_devices", &devs));
                CHECK(devs && json_object_array_length(devs) == 2 &&
                      streq(json_object_get_string(json_object_array_get_idx(devs, 0)),
                            "/soc/gpu@2000"));
        }

        hv = open_sim(state, 4, 17, true);
        s2 = state_of(hv);
        CHECK_MSG(json_object_equal(s1, s2), "state differs after reopen:\n%s\n%s",
                  json_object_to_json_string(s1), json_object_to_json_string(s2));
        json_object_put(s2);
        /* The rover survived: the destroyed domain's id is not handed out. */
        CHECK_INT(create(hv, "persist-c", false, -1), 3);
        /* Xen's rules still hold on the reloaded state. */
        EXPECT(hv_assign_dt(hv, 3, "/soc/gpu@2000", &err), -EOPNOTSUPP, ANY);
        EXPECT(hv_bind_spi(hv, a, 36, 36, &err), -EBUSY, HV_REASON_SPI_ROUTED_HERE);
        hv_free(hv);
        json_object_put(s1);

        /* A crash before the mapping leaves the permission and no mapping. */
        CHECK_INT(unlink(state), 0);
        status = in_child(state, child_crash_before_mapping);
        CHECK_INT(status, 137);
        hv = open_sim(state, 4, 17, true);
        s1 = state_of(hv);
        dom = dom_state(s1, 1);
        CHECK(dom != NULL);
        CHECK_INT(dom_array_len(s1, 1, "iomem"), 1);
        CHECK_INT(dom_array_len(s1, 1, "mappings"), 0);
        json_object_put(s1);
        hv_free(hv);

        /* A crash right after the bind: the SPI stays routed, as in Xen. */
        status = in_child(state, child_crash_after_bind);
        CHECK_INT(status, 137);
        hv = open_sim(state, 4, 17, true);
        s1 = state_of(hv);
        CHECK_INT(dom_array_len(s1, 1, "spis"), 1);
        CHECK_INT(dom_array_len(s1, 1, "irqs"), 1);
        json_object_put(s1);
        hv_free(hv);

        CHECK_INT(in_child(state, child_crash_after_failed_call), 4);

        /* kill -9 in the middle of a sequence: every finished call is kept. */
        status = in_child(state, child_sigkill_mid_sequence);
        CHECK_INT(status, 128 + SIGKILL);
        {
                /* As if killed inside a save: the temp file is cleaned up. */
                char stale[300];
                int fd;

                snprintf(stale, sizeof(stale), "%s.tmp.AbC123", state);
                fd = open(stale, O_WRONLY | O_CREAT, 0600);
                CHECK(fd >= 0);
                if (fd >= 0)
                        close(fd);
        }
        hv = open_sim(state, 4, 17, true);
        s1 = state_of(hv);
        CHECK(dom_state(s1, 2) != NULL);
        CHECK_INT(dom_array_len(s1, 2, "mappings"), 1);
        json_object_put(s1);
        hv_free(hv);

        /* No temp file is left behind. */
        {
                char cmd[512];

                snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", tmpdir);
                CHECK(system(cmd) != 0);
        }
}

static void file_of(const char *path, struct stat *st, struct json_object **parsed)
{
        CHECK_INT(stat(path, st), 0);
        *parsed = json_object_from_file(path);
        CHECK_MSG(*parsed != NULL, "%s does not parse", path);
}

/*
 * The state file: rewritten in place (same inode, same length, blanks
 * after the text) while the state fits the room the file has; replaced
 * when it outgrows it, and on every write once it is larger than a page;
 * a file written by hand, without room, is read and then replaced.  Each
 * form reloads as it was.
 */
static void test_state_file(void)
{
        char state[256], name[64];
        struct json_object *before, *after, *f;
        struct stat a, b;
        struct hv *hv;
        uint32_t d;
        FILE *fp;

        snprintf(state, sizeof(state), "%s/file.json", tmpdir);
        unlink(state);
        hv = open_sim(state, 4, 17, true);
        d = create(hv, "file-a", true, 8);
        file_of(state, &a, &f);
        json_object_put(f);
        CHECK(a.st_size % 1024 == 0 && a.st_size <= 4096);
        CHECK_INT(hv_iomem_permission(hv, d, 0x9010, 1, true, NULL), 0);
        file_of(state, &b, &f);
        CHECK_MSG(a.st_ino == b.st_ino && a.st_size == b.st_size,
                  "a small change is written in place (%ld/%ld bytes)", (long)a.st_size,
                  (long)b.st_size);
        CHECK_INT(dom_array_len(f, d, "iomem"), 1);
        json_object_put(f);

        /* Outgrowing the room replaces the file, with room again. */
        for (int i = 0; i < 12; i++) {
                snprintf(name, sizeof(name), "file-grows-%02d-with-a-long-name-to-fill", i);
                create(hv, name, false, -1);
        }
        file_of(state, &a, &f);
        json_object_put(f);
        CHECK(a.st_ino != b.st_ino && a.st_size > b.st_size && a.st_size % 1024 == 0);

        /* Past a page, every write replaces it. */
        for (int i = 0; i < 40; i++) {
                snprintf(name, sizeof(name), "file-page-%02d-with-a-long-name-to-fill", i);
                create(hv, name, false, -1);
        }
        file_of(state, &a, &f);
        json_object_put(f);
        CHECK(a.st_size > 4096);
        CHECK_INT(hv_iomem_permission(hv, d, 0x9020, 1, true, NULL), 0);
        file_of(state, &b, &f);
        json_object_put(f);
        CHECK(a.st_ino != b.st_ino);
        before = state_of(hv);
        hv_free(hv);
        hv = open_sim(state, 4, 17, true);
        after = state_of(hv);
        CHECK(json_object_equal(before, after));
        json_object_put(before);
        json_object_put(after);
        hv_free(hv);

        /*
         * A write in place that fails (the path now leads to /dev/full):
         * the call fails, memory goes back, and the file is put back to the
         * state last written, so that a restart finds what memory says.
         */
        snprintf(state, sizeof(state), "%s/fail.json", tmpdir);
        unlink(state);
        hv = open_sim(state, 4, 17, true);
        d = create(hv, "file-c", true, 8);
        before = state_of(hv);
        CHECK_INT(unlink(state), 0);
        CHECK_INT(symlink("/dev/full", state), 0);
        EXPECT(hv_iomem_permission(hv, d, 0x9030, 1, true, &err), -ENOSPC, ANY);
        after = state_of(hv);
        CHECK_MSG(json_object_equal(before, after), "memory kept the failed call");
        json_object_put(after);
        CHECK_INT(lstat(state, &a), 0);
        CHECK_MSG(S_ISREG(a.st_mode), "the state file was not put back");
        hv_free(hv);
        hv = open_sim(state, 4, 17, true);
        after = state_of(hv);
        CHECK_MSG(json_object_equal(before, after), "the file does not hold the state last written");
        json_object_put(before);
        json_object_put(after);
        hv_free(hv);

        /* Written by hand with no room (as the integration tests edit it): read, then replaced. */
        CHECK((fp = fopen(state, "w")) != NULL);
        if (fp) {
                fputs("{\"format\":1,\"rover\":0,\"domains\":[{\"domid\":0,\"name\":"
                      "\"Domain-0\",\"passthrough\":true,\"populated\":false,\"nr_spis\":200,"
                      "\"paused\":false,\"has_run\":true,\"dying\":false,\"iomem\":[],"
                      "\"mappings\":[],\"irqs\":[],\"spis\":[],\"dt_devices\":[]}]}", fp);
                fclose(fp);
        }
        CHECK_INT(stat(state, &a), 0);
        hv = open_sim(state, 4, 17, true);
        d = create(hv, "file-b", true, 8);
        file_of(state, &b, &f);
        CHECK(a.st_ino != b.st_ino && b.st_size % 1024 == 0);
        CHECK(dom_state(f, d) != NULL);
        json_object_put(f);
        hv_free(hv);
}

#define IOMEM(m, n) { .kind = HV_HOLD_IOMEM, .mfn = (m), .nr = (n) }
#define MAPPING(g, m, n) { .kind = HV_HOLD_MAPPING, .gfn = (g), .mfn = (m), .nr = (n) }
#define IRQ(i) { .kind = HV_HOLD_IRQ, .irq = (i) }
#define SPI(i) { .kind = HV_HOLD_SPI, .irq = (i) }
#define DT(p) { .kind = HV_HOLD_DT, .path = (p) }

/* What a domain holds, asked as the engine verifies a reservation. */
static void test_domain_holds(void)
{
        struct hv *hv = open_sim(NULL, 4, 17, true);
        uint32_t a = create(hv, "holder", true, -1), b = create(hv, "other", true, -1);
        struct hv_hold q[] = {
                IOMEM(0x100, 6),                /* 0: two grants, merged */
                IOMEM(0x104, 4),                /* 1: partly covered */
                IOMEM(0x200, 1),                /* 2: never granted */
                IOMEM(0x100, 0),                /* 3: nothing asked, nothing missing */
                MAPPING(0x500, 0x100, 4),       /* 4: across two adjacent mappings */
                MAPPING(0x600, 0x100, 2),       /* 5: mapped, but at another gfn */
                MAPPING(0x500, 0x101, 1),       /* 6: that gfn maps another mfn */
                MAPPING(0x502, 0x102, 4),       /* 7: partly mapped */
                IRQ(40),                        /* 8 */
                IRQ(41),                        /* 9: only bound, as xl does */
                SPI(40),                        /* 10 */
                SPI(41),                        /* 11: another domain's */
                SPI(42),                        /* 12: nobody's */
                DT("/soc/dma@1000"),            /* 13 */
                DT("/soc/gpu@2000"),            /* 14: another domain's */
                DT("/soc/usb@3000"),            /* 15: nobody's */
        };
        static const enum hv_tristate want[] = {
                HV_YES, HV_NO, HV_NO, HV_YES, HV_YES, HV_NO, HV_NO, HV_NO,
                HV_YES, HV_NO, HV_YES, HV_NO, HV_NO, HV_YES, HV_NO, HV_NO,
        };
        struct hv_hold other[] = { SPI(41), SPI(40), DT("/soc/gpu@2000"), IRQ(40) };

        _Static_assert(ARRAY_SIZE(q) == ARRAY_SIZE(want), "one answer per query");
        CHECK_INT(hv_iomem_permission(hv, a, 0x100, 4, true, NULL), 0);
        CHECK_INT(hv_iomem_permission(hv, a, 0x104, 2, true, NULL), 0);
        CHECK_INT(hv_memory_mapping(hv, a, 0x500, 0x100, 2, true, NULL), 0);
        CHECK_INT(hv_memory_mapping(hv, a, 0x502, 0x102, 2, true, NULL), 0);
        CHECK_INT(hv_irq_permission(hv, a, 40, true, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, a, 40, 40, NULL), 0);
        CHECK_INT(hv_bind_spi(hv, b, 41, 41, NULL), 0);
        CHECK_INT(hv_assign_dt(hv, a, "/soc/dma@1000", NULL), 0);
        CHECK_INT(hv_assign_dt(hv, b, "/soc/gpu@2000", NULL), 0);

        /* A question is no step: failpoints neither fire nor count it. */
        CHECK_INT(hv_set_failpoint(hv, "test_assign_dt:1", "error:EIO", NULL, NULL), 0);
        /* The reason of an earlier refusal does not stick to the answers. */
        EXPECT(hv_bind_spi(hv, a, 41, 41, &err), -EBUSY, HV_REASON_SPI_ROUTED_ELSEWHERE);
        for (size_t i = 0; i < ARRAY_SIZE(q); i++)
                q[i].answer = HV_UNKNOWN;
        EXPECT(hv_domain_holds(hv, a, q, ARRAY_SIZE(q), &err), 0, HV_REASON_NONE);
        for (size_t i = 0; i < ARRAY_SIZE(q); i++)
                CHECK_MSG(q[i].answer == want[i], "query %zu: %d, expected %d", i,
                          (int)q[i].answer, (int)want[i]);
        CHECK_INT(hv_test_assign_dt(hv, a, "/soc/usb@3000", NULL), -EIO);

        EXPECT(hv_domain_holds(hv, b, other, ARRAY_SIZE(other), &err), 0, HV_REASON_NONE);
        CHECK_INT(other[0].answer, HV_YES);
        CHECK_INT(other[1].answer, HV_NO);
        CHECK_INT(other[2].answer, HV_YES);
        CHECK_INT(other[3].answer, HV_NO);
        CHECK_INT(hv_domain_holds(hv, b, NULL, 0, NULL), 0);

        /* Failures leave the answers as they were. */
        q[1].answer = HV_UNKNOWN;
        EXPECT(hv_domain_holds(hv, 99, q, ARRAY_SIZE(q), &err), -ESRCH, HV_REASON_NO_DOMAIN);
        CHECK_INT(q[0].answer, HV_YES);
        CHECK_INT(q[1].answer, HV_UNKNOWN);
        {
                struct hv_hold bad[] = { SPI(40), DT(NULL) };

                bad[0].answer = HV_UNKNOWN;
                EXPECT(hv_domain_holds(hv, a, bad, ARRAY_SIZE(bad), &err), -EINVAL, ANY);
                CHECK_INT(bad[0].answer, HV_UNKNOWN);
                bad[1] = (struct hv_hold){ .kind = HV_HOLD__MAX };
                EXPECT(hv_domain_holds(hv, a, bad, ARRAY_SIZE(bad), &err), -EINVAL, ANY);
                CHECK_INT(bad[0].answer, HV_UNKNOWN);
        }

        /* A dying domain still holds what it held; the simulator reads its records. */
        CHECK_INT(hv_sim_kill_domain(hv, a, NULL), 0);
        EXPECT(hv_domain_holds(hv, a, q, ARRAY_SIZE(q), &err), 0, HV_REASON_NONE);
        CHECK_INT(q[10].answer, HV_YES);
        CHECK_INT(q[13].answer, HV_YES);
        /* Destroyed: it holds nothing, and is no more. */
        CHECK_INT(hv_sim_destroy_domain(hv, a, NULL), 0);
        EXPECT(hv_domain_holds(hv, a, q, ARRAY_SIZE(q), &err), -ESRCH, HV_REASON_NO_DOMAIN);
        hv_free(hv);
}

/* A host tree scanned and classified, as the inventory has it. */
static struct dt_inventory *classified(const char *dir, const char *name)
{
        struct classify_tables *t = NULL;
        struct dt_inventory *dt = dt_test_scan_in(dir, name);

        CHECK_INT(classify_tables_new(&t), 0);
        if (dt && t)
                CHECK_INT(classify_inventory(dt, t), 0);
        classify_tables_free(t);
        return dt;
}

/* The platform a host tree describes, as the simulator then models it. */
static void test_platform_from_dt(void)
{
        const char *dir = getenv("TEST_DATA_DIR");
        struct dt_inventory *dt;
        struct hv_options o;
        const char **protected = NULL;

        if (!dir) {
                printf("TEST_DATA_DIR unset: platform-from-DT cases skipped\n");
                return;
        }
        dt = classified(dir, "demo-board.dtb");
        if (dt) {
                struct hv *hv = NULL;
                struct json_object *st, *plat, *prot;

                hv_options_init(&o);
                o.platform.spis = 100;
                CHECK_INT(hv_options_set_platform_from_dt(&o, dt, &protected), 0);
                CHECK(o.platform.iommu);        /* an enabled MMU-500 */
                CHECK_INT(o.platform.n_protected, 3);
                CHECK(o.platform.protected == protected);
                CHECK_INT(o.platform.spis, 100);        /* left as it was */
                CHECK_INT(o.platform.default_nr_spis, -1);
                CHECK_INT(hv_open("sim", &o, &hv, NULL), 0);
                free(protected);
                protected = NULL;
                st = hv ? state_of(hv) : NULL;
                plat = json_object_object_get(st, "platform");
                prot = json_object_object_get(plat, "protected");
                CHECK(json_object_get_boolean(json_object_object_get(plat, "iommu")));
                CHECK_INT(json_object_array_length(prot), 3);
                CHECK_STR(json_object_get_string(json_object_array_get_idx(prot, 0)),
                          "/soc/sata@9010000");
                CHECK_STR(json_object_get_string(json_object_array_get_idx(prot, 1)),
                          "/soc/dma-controller@9011000");
                CHECK_STR(json_object_get_string(json_object_array_get_idx(prot, 2)),
                          "/soc/ethernet@9020000");
                json_object_put(st);
                hv_free(hv);
                dt_inventory_free(dt);
        }
        /* dom0's view of a board: no IOMMU Xen drives, so nothing it protects. */
        dt = classified(dir, "dom0-view.dtb");
        if (dt) {
                hv_options_init(&o);
                CHECK(o.platform.iommu);
                CHECK_INT(hv_options_set_platform_from_dt(&o, dt, &protected), 0);
                CHECK(!o.platform.iommu);
                CHECK_INT(o.platform.n_protected, 0);
                free(protected);
                dt_inventory_free(dt);
        }
}

/*
 * A domain xl has created but not given its vCPUs: reported as building,
 * an SPI call on it refused (Xen 4.17 would crash), the rest as usual;
 * once built, the watch fires and SPIs bind.  The flag survives a reopen.
 */
static void test_building(void)
{
        char state[600];
        struct hv *hv;
        struct hv_domain_info info;
        uint32_t b = 0;

        snprintf(state, sizeof(state), "%s/building.json", tmpdir);
        hv = open_sim(state, 4, 17, true);
        CHECK_INT(hv_sim_create_building_domain(hv, "b", true, -1, &b, NULL), 0);
        CHECK_INT(hv_domain_info(hv, b, &info, NULL), 0);
        CHECK(info.building && info.paused && !info.dying);
        EXPECT(hv_bind_spi(hv, b, 40, 40, &err), -EFAULT, HV_REASON_DOMAIN_BUILDING);
        EXPECT(hv_unbind_spi(hv, b, 40, 40, &err), -EFAULT, HV_REASON_DOMAIN_BUILDING);
        EXPECT(hv_iomem_permission(hv, b, 0x9010, 1, true, &err), 0, -1);
        hv_free(hv);

        hv = open_sim(state, 4, 17, true);
        CHECK_INT(hv_domain_info(hv, b, &info, NULL), 0);
        CHECK_MSG(info.building, "building lost across a reopen");
        CHECK_INT(hv_sim_finish_building(hv, b, NULL), 0);
        CHECK_INT(hv_domain_info(hv, b, &info, NULL), 0);
        CHECK(!info.building);
        EXPECT(hv_bind_spi(hv, b, 40, 40, &err), 0, -1);
        CHECK_INT(hv_sim_finish_building(hv, b, NULL), 0);
        hv_free(hv);
}

static void test_not_sim(void)
{
        /* The sim-only calls on a non-sim backend need a non-sim hv; the
         * xen backend test covers that.  Here: NULL-safety of hv_free. */
        hv_free(NULL);
        CHECK(!hv_sim_present(NULL));
}

int main(void)
{
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        test_pure_helpers();
        test_open_errors();
        test_domains();
        test_iomem();
        test_irqs();
        test_bind_versions();
        test_dt();
        test_destroy();
        test_create_xl();
        test_watch();
        test_failpoints();
        test_persistence();
        test_state_file();
        test_platform_from_dt();
        test_domain_holds();
        test_building();
        test_not_sim();

        {
                char cmd[512];

                snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "cannot remove %s\n", tmpdir);
        }
        return test_done();
}
