/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * api/: the one table from failure codes to Varlink errors (every code
 * has exactly one name, declared by its interface, whose short name is
 * the code's own name, and what it renders is what the declaration says,
 * less the message org.varlink.service's errors do not carry; every error
 * assignd's interfaces declare is some code's, but the server's own
 * ProtocolError), and the rendering of the engine's structs (a lease, its
 * steps without the stored-only "kept" flag, an event).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "events.h"
#include "jv.h"
#include "render.h"
#include "testlib.h"
#include "varlink.h"

/*
 * The interfaces whose errors failure codes are sent as.  Every error of
 * the first two is some code's; of org.varlink.service, only
 * PermissionDenied is (the others are the dispatcher's own).
 */
static const char *const interfaces[] = { "io.assignd.Broker", "io.assignd.Simulator",
                                          "org.varlink.service" };
#define N_OWN_INTERFACES 2

/* A failure of code with every fact set. */
static void full_failure(struct failure *f, enum failure_code code)
{
        static const char *const missing[] = { "/soc/b" };

        failure_set(f, -EINVAL, code, "the message");
        failure_fact(&f->path, "/soc/a");
        failure_fact(&f->reason, "a reason");
        failure_fact(&f->domain, "guest1");
        failure_fact(&f->field, "devices");
        failure_fact(&f->interrupt, "PPI (INTID 27) of /gic");
        failure_fact(&f->boot_id, "0123456789abcdef0123456789abcdef");
        failure_fact(&f->file, "/var/lib/assignd/inventory.db");
        failure_missing(f, missing, 1);
        f->coverage = "none";
        f->dma = "master";
        f->state = "assigned";
        f->domid = 3;
        f->lease = 7;
        f->oldest = 1;
        f->latest = 9;
        f->step = HV_STEP_BIND_SPI;
        f->error = EBUSY;
        f->hv_reason = HV_REASON_SPI_ROUTED_ELSEWHERE;
}

static struct vl_interface *load(const char *name)
{
        struct vl_interface *iface = NULL;
        const char *text = vl_embedded_find(name);

        CHECK_MSG(text && vl_interface_parse(text, &iface, NULL) == 0, "%s does not load", name);
        return iface;
}

static void test_error_table(void)
{
        struct vl_interface *ifaces[ARRAY_SIZE(interfaces)];
        const char *names[FAILURE__MAX] = { 0 };
        size_t declared = 0;

        for (size_t i = 0; i < ARRAY_SIZE(interfaces); i++)
                ifaces[i] = load(interfaces[i]);
        CHECK_STR(errors_name(FAILURE_NONE), "io.assignd.Broker.InternalError");
        for (int c = FAILURE_NONE + 1; c < FAILURE__MAX; c++) {
                struct failure f = FAILURE_INIT;
                struct json_object *p;
                const char *name = errors_name(c), *dot = strrchr(name, '.');
                struct vl_interface *iface = NULL;
                _cleanup_free_ char *bad = NULL;

                names[c] = name;
                /* Only InternalError's own code falls back to InternalError. */
                CHECK_MSG(c == FAILURE_INTERNAL_ERROR ||
                          !streq(name, "io.assignd.Broker.InternalError"),
                          "%s has no row", failure_code_name(c));
                for (int k = FAILURE_NONE + 1; k < c; k++)
                        CHECK_MSG(!streq(names[k], name), "%s and %s are both %s",
                                  failure_code_name(k), failure_code_name(c), name);
                for (size_t i = 0; i < ARRAY_SIZE(interfaces); i++)
                        if (strlen(interfaces[i]) == (size_t)(dot - name) &&
                            !strncmp(name, interfaces[i], (size_t)(dot - name)))
                                iface = ifaces[i];
                CHECK_MSG(iface && vl_interface_has_error(iface, dot + 1),
                          "%s is not declared", name);
                CHECK_STR(dot + 1, failure_code_name(c));
                full_failure(&f, c);
                p = errors_params(&f);
                /* The dispatcher drops it where the declaration has no room for it. */
                if (p && !strncmp(name, "org.varlink.service.", 20))
                        json_object_object_del(p, "message");
                CHECK_MSG(p && iface && vl_validate_error(iface, dot + 1, p, &bad) == 0,
                          "%s renders %s, which its declaration refuses (%s)", name,
                          p ? json_object_to_json_string(p) : "nothing", bad ? bad : "?");
                json_object_put(p);
                failure_clear(&f);
        }
        /* Every declared error is some code's (ProtocolError is the server's own). */
        for (size_t i = 0; i < N_OWN_INTERFACES; i++) {
                const char *text = vl_embedded_find(interfaces[i]);

                for (const char *e = text ? strstr(text, "\nerror ") : NULL; e;
                     e = strstr(e + 1, "\nerror ")) {
                        char short_name[64] = "";
                        _cleanup_free_ char *q = NULL;
                        bool found = false;

                        sscanf(e + 7, "%63[A-Za-z]", short_name);
                        if (streq(short_name, "ProtocolError"))
                                continue;
                        declared++;
                        q = strdup_printf("%s.%s", interfaces[i], short_name);
                        for (int c = FAILURE_NONE + 1; c < FAILURE__MAX && !found; c++)
                                found = streq(names[c], q);
                        CHECK_MSG(found, "%s has no failure code", q);
                }
        }
        /* ... and the codes sent as standard errors are the rest. */
        for (int c = FAILURE_NONE + 1; c < FAILURE__MAX; c++)
                if (!strncmp(names[c], "org.varlink.service.", 20))
                        declared++;
        CHECK_INT(declared, FAILURE__MAX - 1);
        for (size_t i = 0; i < ARRAY_SIZE(interfaces); i++)
                vl_interface_free(ifaces[i]);
}

static void test_lease(void)
{
        struct plan p = { 0 };
        char *devs[] = { "/soc/sata@9010000" };
        struct db_lease l = {
                .id = 5, .domain_name = "guest1", .domid = 3, .state = DB_LEASE_ASSIGNING,
                .target_state = DB_LEASE_ASSIGNED, .devices = devs, .n_devices = 1,
        };
        _cleanup_free_ char *text = NULL;
        struct json_object *o, *steps;
        const char *s;

        for (int i = 0; i < 4; i++)
                CHECK(plan_add(&p, HV_STEP_IOMEM_PERMISSION, devs[0], 0x9010 + i, 0, 1, 0) == 0);
        p.steps[1].done = p.steps[1].kept = true;
        CHECK(plan_to_string(&p, &text) == 0);
        l.plan = text;
        o = render_lease(&l);
        CHECK(o != NULL);
        steps = jv_get_array(o, "steps");
        CHECK(steps && json_object_array_length(steps) == 4);
        CHECK_INT(jv_get_int(o, "domid", -1), 3);
        CHECK_STR(jv_get_str(o, "target_state", NULL), "assigned");
        CHECK_STR(jv_get_str(o, "layout", NULL), "identity");
        /* "kept" survives the database (plan_to_string), not the wire. */
        CHECK(strstr(text, "kept") != NULL);
        s = json_object_to_json_string(o);
        CHECK(s && !strstr(s, "kept"));
        json_object_put(o);
        plan_clear(&p);
}

static void test_event(void)
{
        char *devs[] = { "/soc/a", "/soc/b" };
        struct event e = EVENT_INIT(EVENT_DEVICE_RELEASED), bare = EVENT_INIT(EVENT_DOMAIN_DIED);
        struct json_object *o;

        e.seq = 4;
        e.time_usec = 1700000000000000LL;
        e.devices = devs;
        e.n_devices = 2;
        e.domid = 3;
        e.lease = 7;
        e.cause = EVENT_CAUSE_DOMAIN_DIED;
        e.state = "free";
        o = render_event(&e, "b00t");
        CHECK_STR(jv_get_str(o, "type", NULL), "device-released");
        CHECK(jv_get_array(o, "devices") &&
              json_object_array_length(jv_get_array(o, "devices")) == 2);
        CHECK_INT(jv_get_int(o, "domid", -1), 3);
        CHECK_INT(jv_get_int(o, "seq", -1), 4);
        CHECK_STR(jv_get_str(o, "cause", NULL), "domain-died");
        CHECK_STR(jv_get_str(o, "boot_id", NULL), "b00t");
        CHECK_INT(jv_get_int(o, "time_usec", 0), 1700000000000000LL);
        CHECK(!json_object_object_get_ex(o, "detail", NULL));
        json_object_put(o);
        /* Absent fields stay absent: no domid -1, no empty devices. */
        o = render_event(&bare, "b00t");
        CHECK(!json_object_object_get_ex(o, "domid", NULL));
        CHECK(!json_object_object_get_ex(o, "devices", NULL));
        CHECK(!json_object_object_get_ex(o, "lease", NULL));
        json_object_put(o);
}

int main(void)
{
        test_error_table();
        test_lease();
        test_event();
        printf("api: ");
        return test_done();
}
