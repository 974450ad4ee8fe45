/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the lease plan (plan.c), its storage (lease.c,
 * lease-state.c) and of the engine run in-process on the demo board with
 * the simulated hypervisor kept in memory: the plan's stored round trip
 * and its refusal of stored plans that do not decode, the lease helpers
 * over a scratch database (including the one-lease-per-device guard), the
 * cost of the one write per hypercall step (printed as a figure), and
 * reconciliation of a lease whose hypercalls were made behind the
 * engine's back (a crash right after a step), which must be undone
 * exactly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "assign.h"
#include "classify.h"
#include "db.h"
#include "hv-sim.h"
#include "hv.h"
#include "inventory.h"
#include "hv-sim.h"
#include "lease-state.h"
#include "lease.h"
#include "adopt.h"
#include "recovery.h"
#include "release.h"
#include "reserve.h"
#include "testlib.h"

#define SATA "/soc/sata@9010000"
#define UART "/soc/serial@9000000"

static char dir[] = "/tmp/test-lease-XXXXXX";

static void test_plan_roundtrip(void)
{
        _cleanup_(plan_clear) struct plan p = { 0 }, q = { 0 };
        _cleanup_free_ char *s = NULL, *s2 = NULL, *err = NULL;
        struct plan bad = { 0 };

        p.layout = strdup("auto");
        CHECK(plan_add(&p, HV_STEP_IOMEM_PERMISSION, SATA, 0x9010, 0, 1, 0) == 0);
        CHECK(plan_add(&p, HV_STEP_MEMORY_MAPPING, SATA, 0x9010, 0x80000, 1, 0) == 0);
        CHECK(plan_add(&p, HV_STEP_IRQ_PERMISSION, SATA, 0, 0, 0, 39) == 0);
        CHECK(plan_add(&p, HV_STEP_ASSIGN_DT, SATA, 0, 0, 0, 0) == 0);
        CHECK(plan_add(&p, HV_STEP_BIND_SPI, SATA, 0, 0, 0, 39) == 0);
        p.steps[1].done = true;
        p.steps[4].undone = true;
        CHECK(plan_to_string(&p, &s) == 0);
        CHECK(plan_from_string(s, &q, &err) == 0);
        CHECK_STR(q.layout, "auto");
        CHECK_INT(q.n_steps, 5);
        CHECK_INT(q.steps[1].gfn, 0x80000);
        CHECK_INT(q.steps[1].mfn, 0x9010);
        CHECK(q.steps[1].done && !q.steps[0].done && q.steps[4].undone);
        CHECK_INT(q.steps[4].irq, 39);
        CHECK_STR(q.steps[3].device, SATA);
        CHECK(plan_to_string(&q, &s2) == 0);
        CHECK_STR(s, s2);
        /* Unset, neither flag is written: plans stored before they existed read the same. */
        CHECK(!strstr(s, "hold") && !strstr(s, "kept") && !q.hold && !q.steps[0].kept);

        /* A held plan and a kept step survive the database, not the wire. */
        plan_clear(&q);
        free(s2);
        s2 = NULL;
        p.hold = true;
        p.steps[3].done = true;
        p.steps[3].kept = true;
        free(s);
        s = NULL;
        CHECK(plan_to_string(&p, &s) == 0);
        CHECK(plan_from_string(s, &q, &err) == 0);
        CHECK(q.hold && q.steps[3].kept && q.steps[3].done && !q.steps[3].undone &&
              !q.steps[1].kept);
        /* (That the wire's Step never shows "kept" is test-api's to check.) */

        /*
         * A plan just written is read back from a memo of its text: it must
         * be what decoding the text gives (the text with a blank after it is
         * not in the memo), hostile paths and the default layout included.
         */
        {
                _cleanup_(plan_clear) struct plan h = { 0 }, m = { 0 }, d = { 0 };
                _cleanup_free_ char *t = NULL, *spaced = NULL, *tm = NULL, *td = NULL;

                CHECK(plan_add(&h, HV_STEP_ASSIGN_DT, "/soc/a\"b\\c\n\xff", 0, 0, 0, 0) == 0);
                CHECK(plan_add(&h, HV_STEP_BIND_SPI, SATA, 0, 0, 0, 1019) == 0);
                h.steps[0].done = h.steps[0].kept = true;
                CHECK(plan_to_string(&h, &t) == 0);
                spaced = strdup_printf("%s ", t);
                CHECK(spaced && plan_from_string(t, &m, &err) == 0 &&
                      plan_from_string(spaced, &d, &err) == 0);
                CHECK(plan_to_string(&m, &tm) == 0 && plan_to_string(&d, &td) == 0);
                CHECK_STR(tm, t);
                CHECK_STR(td, t);
                CHECK_STR(m.layout, "identity");
                CHECK_STR(d.layout, "identity");
                CHECK_STR(d.steps[0].device, "/soc/a\"b\\c\n\xff");
                CHECK(d.steps[0].kept && m.steps[0].kept && d.steps[1].irq == 1019);
        }

        /* Stored plans that do not decode are refused, never guessed. */
        static const char *const broken[] = {
                "", "[]", "{\"steps\": 3}", "{\"steps\": [{\"step\": \"nope\", \"device\": \"x\"}]}",
                "{\"steps\": [{\"step\": \"unmap\", \"device\": \"x\"}]}",
                "{\"steps\": [{\"step\": \"memory_mapping\", \"device\": \"x\", \"mfn\": 1}]}",
                "{\"steps\": [{\"step\": \"bind_spi\", \"device\": \"x\", \"irq\": -4}]}",
                "{\"steps\": [{\"step\": \"bind_spi\", \"device\": \"x\", \"irq\": \"39\"}]}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(broken); i++) {
                free(err);
                err = NULL;
                CHECK_MSG(plan_from_string(broken[i], &bad, &err) == -EUCLEAN, "plan %zu", i);
                CHECK(err != NULL);
                CHECK(bad.steps == NULL);
        }
}

static void test_lease_storage(void)
{
        _cleanup_(db_closep) struct db *db = NULL;
        _cleanup_(plan_clear) struct plan p = { 0 };
        _cleanup_free_ char *path = strdup_printf("%s/leases.db", dir), *err = NULL;
        char *devs[] = { SATA, UART };
        struct db_lease l = { 0 };
        _cleanup_(plan_clear) struct plan q = { 0 };
        int64_t id = 0, id2 = 0;
        struct timespec t0, t1;
        double ms;
        const int writes = 500;

        CHECK(db_open(path, &db, &err) == 0);
        if (!db)
                return;
        for (int i = 0; i < 4; i++)
                CHECK(plan_add(&p, HV_STEP_IOMEM_PERMISSION, SATA, 0x9010 + i, 0, 1, 0) == 0);
        CHECK(lease_begin(db, "guest1", 3, devs, 2, false, 0, 42, &p, NULL, &id) == 0);
        CHECK(id > 0);
        /* The owner-of-record guard: a second lease on a held device. */
        CHECK_INT(lease_begin(db, "guest2", 4, devs + 1, 1, false, 0, 43, &p, NULL, &id2), -EEXIST);

        CHECK(db_lease_get(db, id, &l) == 0);
        CHECK_INT(l.state, DB_LEASE_ASSIGNING);
        CHECK_INT(l.target_state, DB_LEASE_ASSIGNED);
        CHECK(plan_from_string(l.plan, &q, NULL) == 0 && q.n_steps == 4);
        CHECK_INT(l.domid, 3);
        db_lease_clear(&l);

        /* One small write per hypercall step: what it costs. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < writes; i++) {
                p.steps[i % p.n_steps].done = !p.steps[i % p.n_steps].done;
                CHECK(lease_record_step(db, id, &p, (size_t)i % p.n_steps) == 0);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("# lease_record_step: %d writes of one step of a %zu-step plan, %.3f ms per "
               "write (WAL, synchronous=FULL)\n", writes, p.n_steps, ms / writes);
        CHECK_INT(lease_record_step(db, id, &p, p.n_steps), -EINVAL);

        /* What is read back is the plan with the steps recorded since laid over it. */
        p.steps[1].undone = true;
        p.steps[2].kept = true;
        CHECK(lease_record_step(db, id, &p, 1) == 0);
        CHECK(lease_record_step(db, id, &p, 2) == 0);
        CHECK(db_lease_get(db, id, &l) == 0);
        CHECK_INT(l.n_marks, 4);
        plan_clear(&q);
        CHECK(plan_from_lease(&l, &q, NULL) == 0 && q.n_steps == 4);
        for (size_t i = 0; i < q.n_steps && i < p.n_steps; i++)
                CHECK(q.steps[i].done == p.steps[i].done &&
                      q.steps[i].undone == p.steps[i].undone && q.steps[i].kept == p.steps[i].kept);
        /* The text alone is the plan as it was created. */
        plan_clear(&q);
        CHECK(plan_from_string(l.plan, &q, NULL) == 0 && !q.steps[1].undone);
        /* A mark for a step the plan lacks is a damaged record. */
        l.marks[0].idx = 9;
        plan_clear(&q);
        CHECK_INT(plan_from_lease(&l, &q, NULL), -EUCLEAN);
        db_lease_clear(&l);

        /* A state change writes the plan whole: the marks go. */
        CHECK(lease_state_change(db, id, DB_LEASE_RELEASING, &p, "why", "test") == 0);
        CHECK(db_lease_get(db, id, &l) == 0);
        CHECK_INT(l.target_state, DB_LEASE_FREE);
        CHECK_STR(l.error, "why");
        CHECK_INT(l.n_marks, 0);
        plan_clear(&q);
        CHECK(plan_from_lease(&l, &q, NULL) == 0 && q.steps[1].undone && q.steps[2].kept);
        db_lease_clear(&l);
        CHECK(lease_state_change(db, id, DB_LEASE_FREE, NULL, "", "test") == 0);
        CHECK(db_lease_get(db, id, &l) == 0);
        CHECK_INT(l.target_state, DB_LEASE_NONE);
        CHECK(l.error == NULL);
        db_lease_clear(&l);
        /* Freed: the device can be leased again. */
        CHECK(lease_begin(db, "guest2", 4, devs + 1, 1, false, 0, 43, &p, NULL, &id2) == 0);
}

struct world {
        struct db *db;
        struct classify_tables *tables;
        struct inventory *inv;
        struct hv *hv;
        struct engine *e;
};

static void world_free(struct world *w)
{
        engine_free(w->e);
        hv_free(w->hv);
        inventory_free(w->inv);
        classify_tables_free(w->tables);
        db_close(w->db);
}

static int world_open_named(struct world *w, const char *dtb, const char *name,
                            const struct engine_options *eo)
{
        _cleanup_free_ char *path = strdup_printf("%s/%s", dir, name), *err = NULL;
        static const char *const protected[] = { SATA, "/soc/dma-controller@9011000",
                                                 "/soc/ethernet@9020000" };
        struct hv_options o;
        bool rescanned;

        *w = (struct world){ 0 };
        hv_options_init(&o);
        o.platform.protected = protected;
        o.platform.n_protected = ARRAY_SIZE(protected);
        if (db_open(path, &w->db, &err) < 0 || classify_tables_new(&w->tables) < 0 ||
            inventory_open(w->db, dtb, w->tables, &w->inv, &rescanned, &err) < 0 ||
            hv_open("sim", &o, &w->hv, &err) < 0 || engine_new(w->inv, w->hv, eo, &w->e) < 0) {
                fprintf(stderr, "# set-up failed: %s\n", err ? err : "?");
                return -1;
        }
        return 0;
}

static int world_open(struct world *w, const char *dtb)
{
        return world_open_named(w, dtb, "engine.db", NULL);
}

static struct json_object *domain_state(struct hv *hv, uint32_t domid)
{
        struct json_object *st = NULL, *doms, *d;

        if (hv_sim_get_state_json(hv, &st, NULL) < 0)
                return NULL;
        json_object_object_get_ex(st, "domains", &doms);
        for (size_t i = 0; i < json_object_array_length(doms); i++) {
                d = json_object_array_get_idx(doms, i);
                if (json_object_get_int(json_object_object_get(d, "domid")) == (int)domid) {
                        json_object_get(d);
                        json_object_put(st);
                        return d;
                }
        }
        json_object_put(st);
        return NULL;
}

static size_t held(struct hv *hv, uint32_t domid, const char *key)
{
        struct json_object *d = domain_state(hv, domid), *v;
        size_t n = 0;

        if (d && json_object_object_get_ex(d, key, &v))
                n = json_object_array_length(v);
        json_object_put(d);
        return n;
}

static void test_engine_reconcile(const char *dtb)
{
        struct world w;
        struct failure f = FAILURE_INIT;
        struct engine_caller who = { 0, getpid() };
        const char *devs[] = { SATA, UART };
        struct assign_request req = { .domain = "g", .devices = devs, .n_devices = 2 };
        struct assign_result res = { 0 };
        struct db_lease *ls = NULL;
        struct engine_owner owner = { .domid = -1 };
        size_t nl = 0;
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *err = NULL;
        struct db_lease l = { 0 };
        uint32_t domid;
        int64_t id;
        size_t k;

        if (world_open(&w, dtb) < 0) {
                CHECK(false);
                world_free(&w);
                return;
        }
        CHECK(hv_sim_create_domain(w.hv, "g", true, false, -1, &domid, &err) == 0);

        /* A dry run gives the plan and makes nothing. */
        req.dry_run = true;
        CHECK(assign_devices(w.e, &who, &req, &res, &f) == 0);
        CHECK(!res.has_lease);
        CHECK_INT(res.plan.n_steps, 7);
        assign_result_clear(&res);
        CHECK_INT(held(w.hv, domid, "iomem"), 0);

        /*
         * A crash right after the third hypercall: the lease says two steps
         * are done; the hypervisor has three.  Build exactly that by hand.
         */
        CHECK(plan_add(&plan, HV_STEP_IOMEM_PERMISSION, SATA, 0x9010, 0, 1, 0) == 0);
        CHECK(plan_add(&plan, HV_STEP_MEMORY_MAPPING, SATA, 0x9010, 0x9010, 1, 0) == 0);
        CHECK(plan_add(&plan, HV_STEP_IRQ_PERMISSION, SATA, 0, 0, 0, 39) == 0);
        CHECK(plan_add(&plan, HV_STEP_ASSIGN_DT, SATA, 0, 0, 0, 0) == 0);
        CHECK(plan_add(&plan, HV_STEP_BIND_SPI, SATA, 0, 0, 0, 39) == 0);
        plan.steps[0].done = plan.steps[1].done = true;
        CHECK(lease_begin(w.db, "g", domid, (char *[]){ SATA }, 1, false, 0, 1, &plan, NULL,
                          &id) == 0);
        CHECK(hv_iomem_permission(w.hv, domid, 0x9010, 1, true, NULL) == 0);
        CHECK(hv_memory_mapping(w.hv, domid, 0x9010, 0x9010, 1, true, NULL) == 0);
        CHECK(hv_irq_permission(w.hv, domid, 39, true, NULL) == 0);

        /* While it is unsettled, nobody else gets the device. */
        req.dry_run = false;
        CHECK_INT(assign_devices(w.e, &who, &req, &res, &f), -EBUSY);
        CHECK_STR(failure_code_name(f.code), "DeviceBusy");
        failure_clear(&f);

        CHECK_INT(recovery_reconcile(w.e, &err), 1);
        CHECK(db_lease_get(w.db, id, &l) == 0);
        CHECK_STR(db_lease_state_to_string(l.state), "failed");
        db_lease_clear(&l);
        CHECK_INT(held(w.hv, domid, "iomem"), 0);
        CHECK_INT(held(w.hv, domid, "mappings"), 0);
        CHECK_INT(held(w.hv, domid, "irqs"), 0);
        /* Idempotent. */
        CHECK_INT(recovery_reconcile(w.e, &err), 0);

        /* Now the real thing, then its release on a dying domain. */
        CHECK(assign_devices(w.e, &who, &req, &res, &f) == 0);
        assign_result_clear(&res);
        CHECK_INT(held(w.hv, domid, "spis"), 2);
        CHECK_INT(held(w.hv, domid, "dt_devices"), 1);
        CHECK(hv_sim_kill_domain(w.hv, domid, NULL) == 0);
        /* A dying domain has no name to look up any more, but its leases carry it. */
        CHECK(release_devices(w.e, &who, "g", NULL, 0, &ls, &nl, &f) == 0);
        db_lease_array_free(ls, nl);
        for (k = 0; k < 5; k++)
                CHECK_INT(held(w.hv, domid, (const char *[]){ "iomem", "mappings", "irqs", "spis",
                                                             "dt_devices" }[k]), 0);
        CHECK_INT(engine_owner(w.e, SATA, &owner), 0);
        failure_clear(&f);
        world_free(&w);
}

/* How many devices the engine's owner map and the database disagree on. */
static int owners_disagree(struct world *w, const char *when)
{
        const struct dt_inventory *dt = inventory_dt(w->inv);
        int bad = 0;

        for (size_t i = 0; i < dt->n_devices; i++) {
                const char *path = dt->devices[i].path;
                struct engine_owner o = { .domid = -1 };
                struct db_lease l = { 0 };
                int r = engine_owner(w->e, path, &o), q = db_lease_find_by_device(w->db, path, &l);
                bool same = r == 0 ? q == -ENOENT
                                   : r == 1 && q == 0 && o.lease == l.id && o.state == l.state &&
                                             o.domid == l.domid && o.standing == l.standing &&
                                             o.adopted == l.adopted &&
                                             o.since == l.created_at &&
                                             streq(o.domain ?: "", l.domain_name ?: "");

                if (!same) {
                        fprintf(stderr, "# %s: %s: map says lease %" PRId64 " (%d), database "
                                "lease %" PRId64 " (%d)\n", when, path, r > 0 ? o.lease : 0, r,
                                q == 0 ? l.id : 0, q);
                        bad++;
                }
                engine_owner_clear(&o);
                db_lease_clear(&l);
        }
        return bad;
}

/*
 * The owner map follows every change of who holds what: assignments,
 * releases, a domain's death, a lease written behind the engine's back,
 * a standing reservation that takes its devices when its domain appears
 * and lets them go when it dies, adoption, and writes the database
 * refuses.
 */
static void test_owner_map(const char *dtb)
{
        struct engine_options eo = { .guest_dir = dir };
        struct world w;
        struct failure f = FAILURE_INIT;
        struct engine_caller who = { 0, getpid() };
        const char *uart[] = { UART }, *sata[] = { SATA }, *rtc[] = { "/soc/rtc@9003000" };
        struct assign_request req = { .domain = "g", .devices = uart, .n_devices = 1 };
        struct reserve_request rr = { .domain_name = "s", .devices = rtc, .n_devices = 1,
                                      .standing = true, .free_while_down = true };
        struct reserve_result rres = { 0 };
        struct assign_result res = { 0 };
        struct engine_owner o = { .domid = -1 };
        _cleanup_(plan_clear) struct plan plan = { 0 };
        struct db_lease *ls = NULL;
        size_t nl = 0;
        uint32_t g, s, x;
        int64_t id;

        if (world_open_named(&w, dtb, "owners.db", &eo) < 0) {
                CHECK(false);
                world_free(&w);
                return;
        }
        CHECK_INT(owners_disagree(&w, "at start"), 0);
        CHECK(hv_sim_create_domain(w.hv, "g", true, false, -1, &g, NULL) == 0);
        CHECK(assign_devices(w.e, &who, &req, &res, &f) == 0);
        CHECK_INT(engine_owner(w.e, UART, &o), 1);
        CHECK(o.lease == res.lease.id && o.state == DB_LEASE_ASSIGNED && o.domid == (int)g);
        engine_owner_clear(&o);
        assign_result_clear(&res);
        CHECK_INT(owners_disagree(&w, "assigned"), 0);
        /* Released on a live domain: releasing, still held (its SPI stays routed). */
        CHECK(release_devices(w.e, &who, "g", NULL, 0, &ls, &nl, &f) == 0);
        db_lease_array_free(ls, nl);
        CHECK_INT(owners_disagree(&w, "releasing"), 0);
        CHECK(hv_sim_destroy_domain(w.hv, g, NULL) == 0);
        CHECK(recovery_domains_changed(w.e) >= 0);
        CHECK_INT(engine_owner(w.e, UART, &o), 0);
        CHECK_INT(owners_disagree(&w, "the domain is gone"), 0);

        /* A lease written without the engine: the database tells the map. */
        CHECK(plan_add(&plan, HV_STEP_ASSIGN_DT, SATA, 0, 0, 0, 0) == 0);
        CHECK(hv_sim_create_domain(w.hv, "h", true, false, -1, &x, NULL) == 0);
        CHECK(lease_begin(w.db, "h", x, (char *[]){ SATA }, 1, false, 0, 1, &plan, NULL, &id) ==
              0);
        CHECK_INT(engine_owner(w.e, SATA, &o), 1);
        CHECK(o.lease == id && o.state == DB_LEASE_ASSIGNING);
        engine_owner_clear(&o);
        CHECK(lease_state_change(w.db, id, DB_LEASE_FAILED, NULL, "test", "test") == 0);
        CHECK_INT(owners_disagree(&w, "a lease written directly"), 0);

        /* A standing reservation that lets its device go while its domain is down. */
        CHECK(reserve_devices(w.e, &who, &rr, &rres, &f) == 0);
        reserve_result_clear(&rres);
        CHECK_INT(engine_owner(w.e, rr.devices[0], &o), 0);
        CHECK_INT(owners_disagree(&w, "reserved, not exclusive"), 0);
        CHECK(hv_sim_create_domain(w.hv, "s", true, false, -1, &s, NULL) == 0);
        CHECK(reserve_check_all(w.e) >= 0);
        CHECK_INT(engine_owner(w.e, rr.devices[0], &o), 1);
        CHECK(o.domid == (int)s && o.standing);
        engine_owner_clear(&o);
        CHECK_INT(owners_disagree(&w, "bound"), 0);
        CHECK(hv_sim_destroy_domain(w.hv, s, NULL) == 0);
        CHECK(recovery_domains_changed(w.e) >= 0);
        CHECK_INT(engine_owner(w.e, rr.devices[0], &o), 0);
        CHECK_INT(owners_disagree(&w, "unbound"), 0);

        /* What a domain holds outside any lease is adopted: held at once. */
        CHECK(hv_sim_create_domain_xl(w.hv, "a", true, false, -1,
                                      &(struct hv_sim_xl_grants){ .dtdevs = sata, .n_dtdevs = 1 },
                                      &x, NULL) == 0);
        CHECK(adopt_sweep(w.e, true) >= 0);
        CHECK_INT(engine_owner(w.e, SATA, &o), 1);
        CHECK(o.adopted && o.domid == (int)x);
        engine_owner_clear(&o);
        CHECK_INT(owners_disagree(&w, "adopted"), 0);

        /* A refused write: the map reads the database again and still agrees. */
        CHECK(hv_sim_create_domain(w.hv, "g2", true, false, -1, &g, NULL) == 0);
        req.domain = "g2";
        db_set_failpoint(w.db, 1, ENOSPC);
        CHECK(assign_devices(w.e, &who, &req, &res, &f) < 0);
        failure_clear(&f);
        db_set_failpoint(w.db, 0, 0);
        CHECK_INT(engine_owner(w.e, UART, &o), 0);
        CHECK_INT(owners_disagree(&w, "a refused commit"), 0);
        db_set_failpoint(w.db, 3, ENOSPC);      /* the lease and one step, then full */
        CHECK(assign_devices(w.e, &who, &req, &res, &f) < 0);
        failure_clear(&f);
        db_set_failpoint(w.db, 0, 0);
        CHECK_INT(owners_disagree(&w, "a step that could not be recorded"), 0);
        engine_record_pending(w.e);
        CHECK_INT(owners_disagree(&w, "the outcome recorded later"), 0);
        assign_result_clear(&res);
        world_free(&w);
}

int main(void)
{
        const char *data = getenv("TEST_DATA_DIR");
        _cleanup_free_ char *dtb = NULL;

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_plan_roundtrip();
        test_lease_storage();
        if (data) {
                dtb = strdup_printf("%s/demo-board.dtb", data);
                test_engine_reconcile(dtb);
                test_owner_map(dtb);
        } else {
                printf("# TEST_DATA_DIR not set: engine tests not run\n");
        }
        {
                _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", dir);

                if (cmd && system(cmd) != 0)
                        fprintf(stderr, "# could not remove %s\n", dir);
        }
        return test_done();
}
