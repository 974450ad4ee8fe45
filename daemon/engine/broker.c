/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The assignment engine (see broker.h for the model).  Everything that can
 * be refused is refused before the first hypercall; everything after that
 * is recorded in the lease's plan one step at a time, so that a failure is
 * undone from the plan in memory and a crash is undone from the plan in
 * the database, by the same code (undo_steps).
 *
 * Undoing is tolerant of steps that never happened, because a crash right
 * after a hypercall leaves one step done in Xen but not in the plan:
 * revoking a permission that is not granted and removing a mapping that
 * is not there succeed in Xen; unbinding an SPI that is not routed is
 * -EINVAL (checked before the live-domain -EBUSY, release_guest_irq), and
 * deassigning a device that is not attached is -ESRCH.  Those answers mark
 * the step undone; -EBUSY from unbind on a live domain leaves the SPI to
 * the domain's death.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "events.h"
#include "db.h"
#include "guestcfg.h"
#include "lease.h"
#include "log.h"
#include "strbuf.h"

struct broker {
        struct inventory *inv;
        struct hv *hv;
        struct db *db;
        struct broker_options opts;
        struct events *events;
        bool dying_domains;     /* a lease's domain was dying at the last settle */
};

/* Where undoing a plan got to. */
struct undo_result {
        bool stuck;             /* an SPI stays routed until the domain dies */
        int r;                  /* first failure, or 0 */
        enum hv_step step;      /* the release-side step that failed */
        const char *device;
        enum hv_reason reason;
        char *message;
        size_t changed;         /* steps newly marked undone or kept */
};

static void undo_result_clear(struct undo_result *u)
{
        free(u->message);
        *u = (struct undo_result){ 0 };
}

void broker_error_clear(struct broker_error *e)
{
        if (!e)
                return;
        free(e->message);
        json_object_put(e->fields);
        *e = (struct broker_error){ 0 };
}

/* Fill e (fields is taken over; may be NULL) and return r. */
_printf_(5, 6) static int fail(struct broker_error *e, int r, const char *name,
                               struct json_object *fields, const char *fmt, ...)
{
        va_list ap;
        char *msg = NULL;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!e) {
                free(msg);
                json_object_put(fields);
                return r;
        }
        broker_error_clear(e);
        e->name = name;
        e->message = msg;
        e->fields = fields ? fields : json_object_new_object();
        return r;
}

/* Build an object from key/value pairs: "s" string, "i" int64, "n" null, "j" json. */
static struct json_object *fields(const char *spec, ...)
{
        struct json_object *o = json_object_new_object();
        va_list ap;

        if (!o)
                return NULL;
        va_start(ap, spec);
        for (const char *c = spec; *c; c++) {
                const char *k = va_arg(ap, const char *);
                struct json_object *v = NULL;

                switch (*c) {
                case 's': {
                        const char *s = va_arg(ap, const char *);
                        v = s ? json_object_new_string(s) : NULL;
                        break;
                }
                case 'i':
                        v = json_object_new_int64(va_arg(ap, int64_t));
                        break;
                case 'j':
                        v = va_arg(ap, struct json_object *);
                        break;
                case 'n':
                        break;
                }
                json_object_object_add(o, k, v);
        }
        va_end(ap);
        return o;
}

static int oom(struct broker_error *e)
{
        return fail(e, -ENOMEM, "InternalError", NULL, "out of memory");
}

/* ---- lifetime ------------------------------------------------------------ */

int broker_new(struct inventory *inv, struct hv *hv, const struct broker_options *o,
               struct broker **ret)
{
        struct broker *b;

        if (!inv || !hv)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->inv = inv;
        b->hv = hv;
        b->db = inventory_db(inv);
        if (o)
                b->opts = *o;
        *ret = b;
        return 0;
}

void broker_free(struct broker *b)
{
        free(b);
}

struct hv *broker_hv(const struct broker *b)
{
        return b->hv;
}

void broker_set_events(struct broker *b, struct events *ev)
{
        b->events = ev;
}

struct events *broker_events(const struct broker *b)
{
        return b->events;
}

/* Tell monitors about a lease as it is now in the database, with detail (may be NULL). */
static void emit_lease_detail(struct broker *b, const char *type, int64_t id, const char *cause,
                              const char *detail)
{
        struct db_lease l = { 0 };

        if (!b->events || db_lease_get(b->db, id, &l) < 0)
                return;
        events_emit_lease(b->events, type, (const char *const *)l.devices, l.n_devices, l.domid,
                          l.domain_name, l.id, cause, db_lease_state_to_string(l.state), detail);
        db_lease_clear(&l);
}

static void emit_lease(struct broker *b, const char *type, int64_t id, const char *cause)
{
        emit_lease_detail(b, type, id, cause, NULL);
}

/* ---- audit --------------------------------------------------------------- */

int broker_audit(struct broker *b, const struct broker_caller *who, const char *action,
                 const char *target, const char *result, const char *detail, bool warning)
{
        struct db_audit a = {
                .uid = who ? (uint32_t)who->uid : 0,
                .pid = who ? (int32_t)who->pid : (int32_t)getpid(),
                .action = (char *)action,
                .target = (char *)target,
                .result = (char *)result,
                .detail = (char *)detail,
                .severity = warning ? "warning" : "info",
        };
        int r = db_audit_append(b->db, &a);

        if (r < 0)
                log_error("cannot append to the audit log (%s %s): %s", action,
                          target ? target : "", strerror(-r));
        return r;
}

static char *join_paths(const char *const *paths, size_t n)
{
        size_t len = 1;
        char *s, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(paths[i]) + 1;
        s = p = malloc(len);
        if (!s)
                return NULL;
        *s = 0;
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "%s%s", i ? " " : "", paths[i]);
        return s;
}

static void audit_call(struct broker *b, const struct broker_caller *who, const char *action,
                       const char *domain, const char *const *paths, size_t n, int r,
                       const struct broker_error *e, const char *ok_detail)
{
        _cleanup_free_ char *devs = join_paths(paths, n);
        _cleanup_free_ char *target = strdup_printf("domain %s%s%s", domain ? domain : "?",
                                                    n ? ": " : "", devs ? devs : "");

        broker_audit(b, who, action, target, r < 0 ? (e && e->name ? e->name : "InternalError")
                                                   : "ok",
                     r < 0 ? (e ? e->message : NULL) : ok_detail, false);
}

/* ---- the hypervisor side ------------------------------------------------- */

static enum hv_step undo_of(enum hv_step s)
{
        return (enum hv_step)hv_step_undo(s);
}

/* Make one assign-side step. */
static int do_step(struct broker *b, uint32_t domid, const struct lease_step *s, char **err)
{
        switch (s->step) {
        case HV_STEP_IOMEM_PERMISSION:
                return hv_iomem_permission(b->hv, domid, s->mfn, s->nr, true, err);
        case HV_STEP_MEMORY_MAPPING:
                return hv_memory_mapping(b->hv, domid, s->gfn, s->mfn, s->nr, true, err);
        case HV_STEP_IRQ_PERMISSION:
                return hv_irq_permission(b->hv, domid, s->irq, true, err);
        case HV_STEP_BIND_SPI:
                return hv_bind_spi(b->hv, domid, s->irq, s->irq, err);
        case HV_STEP_ASSIGN_DT:
                return hv_assign_dt(b->hv, domid, s->device, err);
        default:
                return set_error(err, -EINVAL, "step %s is not an assignment step",
                                 hv_step_name(s->step));
        }
}

/*
 * Undo one step.  Returns 1 when it is undone (or was never there), 0 when
 * the SPI stays routed until the domain dies, or a negative errno.
 */
static int undo_step(struct broker *b, uint32_t domid, const struct lease_step *s, char **err)
{
        enum hv_reason why;
        int r;

        switch (s->step) {
        case HV_STEP_IOMEM_PERMISSION:
                r = hv_iomem_permission(b->hv, domid, s->mfn, s->nr, false, err);
                break;
        case HV_STEP_MEMORY_MAPPING:
                r = hv_memory_mapping(b->hv, domid, s->gfn, s->mfn, s->nr, false, err);
                break;
        case HV_STEP_IRQ_PERMISSION:
                /* Only leases planned before the step was dropped have it. */
                r = hv_irq_permission(b->hv, domid, s->irq, false, err);
                if (r < 0 && hv_last_reason(b->hv) == HV_REASON_NOT_IMPLEMENTED)
                        r = 0;
                break;
        case HV_STEP_BIND_SPI:
                r = hv_unbind_spi(b->hv, domid, s->irq, s->irq, err);
                why = hv_last_reason(b->hv);
                if (r == -EINVAL && why == HV_REASON_SPI_NOT_ROUTED)
                        r = 0;
                else if (r == -EBUSY && why != HV_REASON_FAILPOINT)
                        return 0;
                break;
        case HV_STEP_ASSIGN_DT:
                r = hv_deassign_dt(b->hv, domid, s->device, err);
                why = hv_last_reason(b->hv);
                if (r == -ESRCH && why == HV_REASON_DEVICE_NOT_ATTACHED)
                        r = 0;
                break;
        default:
                return set_error(err, -EINVAL, "step %s cannot be undone",
                                 hv_step_name(s->step));
        }
        return r < 0 ? r : 1;
}

/*
 * Undo, in reverse, every step of plan that is done and not undone, and
 * also step maybe (the first step not marked done of an interrupted
 * assignment; -1: none).  Each success is written to the lease (id > 0)
 * before the next call.  Stops at the first failure, except in a held plan:
 * there the lease keeps its devices until the domain is gone anyway, so a
 * step that cannot be undone is marked kept (left to Xen's teardown of the
 * domain, never retried) and the rest is still revoked.
 */
static void undo_steps(struct broker *b, int64_t id, uint32_t domid, struct lease_plan *plan,
                       ssize_t maybe, struct undo_result *u)
{
        for (size_t k = plan->n_steps; k-- > 0;) {
                struct lease_step *s = &plan->steps[k];
                _cleanup_free_ char *err = NULL;
                int r;

                if (s->undone || s->kept || !(s->done || (ssize_t)k == maybe))
                        continue;
                r = undo_step(b, domid, s, &err);
                if (r == 0) {
                        u->stuck = true;
                        log_debug("lease %" PRId64 ": SPI %u stays routed to domain %u until it "
                                  "dies", id, s->irq, domid);
                        continue;
                }
                if (r < 0) {
                        if (u->r == 0) {
                                u->r = r;
                                u->step = undo_of(s->step);
                                u->device = s->device;
                                u->reason = hv_last_reason(b->hv);
                                u->message = err ? steal_ptr(err) : strdup(strerror(-r));
                        }
                        if (!plan->hold)
                                return;
                        s->kept = true;
                } else {
                        s->undone = true;
                }
                u->changed++;
                if (id > 0) {
                        r = lease_save_plan(b->db, id, plan);
                        if (r < 0) {
                                if (u->r == 0) {
                                        u->r = r;
                                        u->step = undo_of(s->step);
                                        u->device = s->device;
                                        u->reason = HV_REASON_NONE;
                                        u->message = strdup_printf("cannot record the step in "
                                                                   "the database: %s",
                                                                   strerror(-r));
                                }
                                return;
                        }
                }
        }
}

/* Whether the plan still has steps the hypervisor may hold. */
static bool plan_outstanding(const struct lease_plan *p)
{
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].done && !p->steps[i].undone)
                        return true;
        return false;
}

/* ---- domains ------------------------------------------------------------- */

static bool parse_domid(const char *s, uint32_t *ret)
{
        char *end;
        unsigned long v;

        if (!s || !*s || strspn(s, "0123456789") != strlen(s))
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || v >= HV_DOMID_IO)
                return false;
        *ret = (uint32_t)v;
        return true;
}

/* Resolve "7" or "guest1" to a live domain. */
static int resolve_domain(struct broker *b, const char *text, struct hv_domain_info *info,
                          struct broker_error *e)
{
        _cleanup_free_ char *err = NULL;
        uint32_t domid;
        int r;

        if (!text || !*text)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "domain"),
                            "no domain given");
        if (!parse_domid(text, &domid)) {
                r = hv_domid_by_name(b->hv, text, &domid, &err);
                if (r == -ENOENT)
                        return fail(e, -ESRCH, "DomainNotFound", fields("s", "domain", text),
                                    "no live domain is named \"%s\"", text);
                if (r < 0)
                        return fail(e, r, "InternalError", NULL, "cannot look up domain %s: %s",
                                    text, err ? err : strerror(-r));
        }
        r = hv_domain_info(b->hv, domid, info, &err);
        if (r == -ESRCH)
                return fail(e, -ESRCH, "DomainNotFound", fields("s", "domain", text),
                            "domain %s does not exist", text);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot get the state of domain %s: %s",
                            text, err ? err : strerror(-r));
        return 0;
}

/*
 * The state of a lease's domain: 1 alive, 0 gone (or its domid now names
 * another domain), or a negative errno.  *dying is set for a live one.
 */
static int lease_domain_state(struct broker *b, const struct db_lease *l, bool *dying)
{
        struct hv_domain_info info;
        int r;

        *dying = false;
        if (l->domid < 0)
                return 1;
        r = hv_domain_info(b->hv, (uint32_t)l->domid, &info, NULL);
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        if (l->domain_name && info.name[0] && !streq(info.name, l->domain_name))
                return 0;
        *dying = info.dying;
        return 1;
}

/* ---- settling leases (reconcile, domain death, retried releases) --------- */

/*
 * Finish or undo one non-final lease.  Returns 1 if the lease changed, 0
 * if not, negative on failure (*u says which step).
 */
static int settle_lease(struct broker *b, const struct db_lease *l, struct undo_result *u,
                        const char **outcome)
{
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        _cleanup_free_ char *perr = NULL;
        bool dying = false;
        ssize_t maybe = -1;
        int r, alive;

        *outcome = NULL;
        if (l->state != DB_LEASE_ASSIGNING && l->state != DB_LEASE_ASSIGNED &&
            l->state != DB_LEASE_RELEASING)
                return 0;       /* reservations wait for their domain elsewhere */

        alive = lease_domain_state(b, l, &dying);
        if (alive < 0)
                return alive;
        if (!alive) {
                /* Xen dropped the domain's permissions, mappings, SPIs and devices. */
                r = lease_set_state(b->db, l->id, DB_LEASE_FREE, NULL,
                                    "the domain is gone; Xen released its resources");
                *outcome = "domain gone: free";
                return r < 0 ? r : 1;
        }
        if (l->state == DB_LEASE_ASSIGNED)
                return 0;
        r = lease_plan_from_string(l->plan, &plan, &perr);
        if (r < 0) {
                u->r = r;
                u->message = steal_ptr(perr);
                return r;
        }
        if (plan.hold) {
                /*
                 * The domain took up its reservation only in part, so it may hold
                 * what no step records (a mapping at another address, an SPI xl
                 * routed from a hand-edited irqs=): only its end frees the lease.
                 * Revoke what is still outstanding (a crash may have cut the first
                 * attempt short); a step that fails is kept, not retried.
                 */
                undo_steps(b, l->id, (uint32_t)l->domid, &plan, -1, u);
                if (u->r < 0) {
                        _cleanup_free_ char *m = strdup_printf(
                                "%s; %s for %s failed (%s): left until the domain is gone",
                                l->error ? l->error : "held until the domain is gone",
                                hv_step_name(u->step), u->device ? u->device : "?",
                                u->message ? u->message : strerror(-u->r));

                        lease_set_state(b->db, l->id, DB_LEASE_RELEASING, NULL, m);
                        return u->r;
                }
                if (!u->changed)
                        return 0;
                *outcome = "what it held was revoked; releasing until the domain is gone";
                return 1;
        }
        if (l->state == DB_LEASE_ASSIGNING) {
                /* The first step not marked done may have run before a crash. */
                for (size_t i = 0; i < plan.n_steps; i++)
                        if (!plan.steps[i].done) {
                                maybe = (ssize_t)i;
                                break;
                        }
                /* From now on it is a release: a second crash carries it forward. */
                if (maybe >= 0 && !plan.steps[maybe].undone) {
                        /* Record the possibly-run step as done so the release covers it. */
                        plan.steps[maybe].done = true;
                        maybe = -1;
                }
                r = lease_set_state(b->db, l->id, DB_LEASE_RELEASING, &plan,
                                    "interrupted assignment rolled back");
                if (r < 0)
                        return r;
        }
        undo_steps(b, l->id, (uint32_t)l->domid, &plan, maybe, u);
        if (u->r < 0)
                return u->r;
        if (u->stuck || plan_outstanding(&plan)) {
                *outcome = dying ? "releasing (SPI still routed)"
                                 : "releasing until the domain dies";
                return 1;
        }
        r = lease_set_state(b->db, l->id,
                            l->state == DB_LEASE_ASSIGNING ? DB_LEASE_FAILED : DB_LEASE_FREE,
                            &plan, NULL);
        *outcome = l->state == DB_LEASE_ASSIGNING ? "rolled back: failed" : "released: free";
        return r < 0 ? r : 1;
}

/*
 * Settle every non-final lease; only_changed_domains limits the work to
 * leases whose domain is gone or dying (the cheap check before requests).
 */
static int settle_all(struct broker *b, bool only_changed_domains, const char *action)
{
        struct db_lease *ls = NULL;
        size_t n = 0;
        int r, changed = 0;

        r = db_lease_list(b->db, NULL, &ls, &n);
        if (r < 0)
                return r;
        b->dying_domains = false;
        for (size_t i = 0; i < n; i++) {
                struct undo_result u = { 0 };
                const char *outcome = NULL;
                bool dying = false;
                int alive;

                alive = lease_domain_state(b, &ls[i], &dying);
                /*
                 * Xen's domain watch fires when a domain starts dying; whether
                 * another fires when it is finally gone depends on Xen's
                 * version and timing (4.20 under load often sends none), so
                 * the broker keeps looking while a held domain is dying.
                 */
                if (alive > 0 && dying && ls[i].state != DB_LEASE_FREE &&
                    ls[i].state != DB_LEASE_FAILED)
                        b->dying_domains = true;
                if (only_changed_domains &&
                    (alive < 0 || (alive && !(dying && ls[i].state == DB_LEASE_RELEASING))))
                        continue;
                r = settle_lease(b, &ls[i], &u, &outcome);
                if (r < 0) {
                        _cleanup_free_ char *t = strdup_printf("lease %" PRId64, ls[i].id);
                        _cleanup_free_ char *d = strdup_printf(
                                "%s failed on %s: %s", hv_step_name(u.step),
                                u.device ? u.device : "?",
                                u.message ? u.message : strerror(-r));

                        log_warning("%s of lease %" PRId64 ": %s", action, ls[i].id,
                                    d ? d : "failed");
                        broker_audit(b, NULL, action, t, "HypervisorError", d, true);
                        undo_result_clear(&u);
                        continue;
                }
                if (r > 0) {
                        _cleanup_free_ char *t = strdup_printf(
                                "lease %" PRId64 " (domain %d)", ls[i].id, ls[i].domid);

                        changed++;
                        log_info("%s: lease %" PRId64 " of domain %d: %s", action, ls[i].id,
                                 ls[i].domid, outcome ? outcome : "changed");
                        broker_audit(b, NULL, action, t, "ok", outcome, false);
                        emit_lease(b, EVENT_DEVICE_RELEASED, ls[i].id,
                                   only_changed_domains ? EVENT_CAUSE_DOMAIN_DIED
                                                        : EVENT_CAUSE_RECONCILE);
                }
                undo_result_clear(&u);
        }
        db_lease_array_free(ls, n);
        return changed;
}

int broker_reconcile(struct broker *b, char **err)
{
        int r = settle_all(b, false, "Reconcile");

        if (r < 0)
                return set_error(err, r, "cannot read the leases: %s", strerror(-r));
        return r;
}

bool broker_waiting_for_dying(const struct broker *b)
{
        return b->dying_domains;
}

int broker_domains_changed(struct broker *b)
{
        int r = settle_all(b, true, "DomainChanged");
        int q = broker_reservations_check(b);

        if (r < 0)
                return r;
        return q < 0 ? q : r + q;
}

/* ---- assign -------------------------------------------------------------- */

static struct json_object *json_strv(char **v, size_t n)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static char *irq_text(const struct dt_irq *q)
{
        switch (q->cls) {
        case DT_IRQ_PPI:
                return strdup_printf("PPI (INTID %u) of %s", q->hwirq,
                                     q->controller ? q->controller : "?");
        case DT_IRQ_NOT_GIC:
                return strdup_printf("an interrupt of %s, which is not the GIC",
                                     q->controller ? q->controller : "?");
        default:
                return strdup_printf("SPI %u", q->hwirq);
        }
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

/* DeviceBusy for a device some lease holds. */
static int busy_error(const struct db_lease *l, const char *path, struct broker_error *e)
{
        const char *st = db_lease_state_to_string(l->state);
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        const char *why = "";

        if (l->state == DB_LEASE_RELEASING) {
                /* A held plan waits for the domain's end, not just for its SPIs. */
                if (lease_plan_from_string(l->plan, &plan, NULL) >= 0 && plan.hold)
                        why = ": it took up its reservation only in part, what it held was "
                              "revoked, and its devices stay held until that domain is gone";
                else
                        why = ": it is being released and stays held until its SPIs are "
                              "unbound, which Xen allows only once that domain is dying";
        }

        if (l->state == DB_LEASE_RESERVED && l->domid >= 0)
                return fail(e, -EBUSY, "DeviceBusy",
                            fields("sisi", "path", path, "domid", (int64_t)l->domid, "state", st,
                                   "lease", (int64_t)l->id),
                            "%s is reserved for domain %s by lease %" PRId64 " (created as domid "
                            "%d, being verified): release that domain's devices with Release, "
                            "or destroy it", path, l->domain_name ? l->domain_name : "?", l->id,
                            l->domid);
        if (l->state == DB_LEASE_RESERVED)
                return fail(e, -EBUSY, "DeviceBusy",
                            fields("snsi", "path", path, "domid", "state", st, "lease",
                                   (int64_t)l->id),
                            "%s is reserved for domain %s by lease %" PRId64 " (domain not "
                            "created yet, expires in %" PRId64 " s): cancel the reservation "
                            "first", path, l->domain_name ? l->domain_name : "?", l->id,
                            l->expires_at > time(NULL) ? l->expires_at - (int64_t)time(NULL)
                                                       : (int64_t)0);

        return fail(e, -EBUSY, "DeviceBusy",
                    fields("sjsi", "path", path, "domid",
                           l->domid >= 0 ? json_object_new_int(l->domid) : NULL, "state", st,
                           "lease", (int64_t)l->id),
                    "%s is held by domain %s%s%d%s (lease %" PRId64 ", %s)%s", path,
                    l->domain_name ? l->domain_name : "", l->domain_name ? " (" : "", l->domid,
                    l->domain_name ? ")" : "", l->id, st, why);
}

static int plan_from_layout(const struct guestcfg_layout *l, const char *layout_name,
                            struct lease_plan *plan, struct broker_error *e);

/* The Xen release guest layouts are made for: the hypervisor's, else 4.17. */
static struct guestcfg_target hv_target(struct broker *b)
{
        unsigned maj, min;

        if (hv_version(b->hv, &maj, &min, NULL) >= 0)
                return (struct guestcfg_target){ maj, min };
        return GUESTCFG_TARGET_DEFAULT;
}

/*
 * Place the devices in the guest address space.  target NULL: the
 * hypervisor's release, falling back to 4.17's map (which has not moved
 * since) when guestcfg does not know it; an explicit target is taken as
 * given.
 */
static int place_devices(struct broker *b, const struct dt_device *const *devs, size_t n,
                         enum guestcfg_mode mode, const struct guestcfg_target *target,
                         struct guestcfg_layout **ret, struct broker_error *e)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_free_ char *err = NULL;
        struct guestcfg_target t = target ? *target : hv_target(b);
        const char *named;
        ssize_t which = -1;
        int r;

        r = guestcfg_layout(devs, n, mode, &t, &l, &which, &err);
        if (r == -EOPNOTSUPP && !target && (t.xen_major != 4 || t.xen_minor != 17)) {
                free(err);
                err = NULL;
                t = GUESTCFG_TARGET_DEFAULT;
                r = guestcfg_layout(devs, n, mode, &t, &l, &which, &err);
        }
        /* The device a refusal is about, as the layout names it (NULL: none). */
        named = r < 0 && which >= 0 ? devs[which]->path : NULL;
        if (r == -EADDRINUSE)
                return fail(e, r, "GuestAddressConflict", fields("s", "path", named),
                            "%s; use layout \"auto\" to relocate the device in the guest",
                            err ? err : "a 1:1 guest address clashes with Xen's guest memory map");
        if (r == -EOPNOTSUPP && target)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "xen_version"),
                            "%s", err ? err : "no guest memory map is known for that Xen");
        if (r < 0)
                return fail(e, r, r == -EINVAL ? "DeviceNotAssignable" : "InternalError",
                            r == -EINVAL ? fields("ss", "path", named ? named : n ? devs[0]->path : "",
                                                  "reason", err ? err : "cannot be placed")
                                         : NULL,
                            "cannot place the devices in the guest: %s",
                            err ? err : strerror(-r));
        *ret = steal_ptr(l);
        return 0;
}

/* Place the devices and turn the layout into the ordered step plan. */
static int build_plan(struct broker *b, const struct dt_device *const *devs, size_t n,
                      enum broker_layout layout, struct lease_plan *plan,
                      struct broker_error *e)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        int r;

        r = place_devices(b, devs, n, layout == BROKER_LAYOUT_AUTO ? GUESTCFG_AUTO
                                                                   : GUESTCFG_IDENTITY,
                          NULL, &l, e);
        if (r < 0)
                return r;
        return plan_from_layout(l, layout == BROKER_LAYOUT_AUTO ? "auto" : "identity", plan, e);
}

/* The ordered hypercalls that give a guest the devices of layout l. */
static int plan_from_layout(const struct guestcfg_layout *l, const char *layout_name,
                            struct lease_plan *plan, struct broker_error *e)
{
        _cleanup_free_ bool *claimed = NULL;
        _cleanup_free_ uint32_t *spis = NULL;
        _cleanup_free_ const char **spi_dev = NULL;
        size_t n_spis = 0, cap = 0;

        claimed = calloc(l->n_mappings + 1, sizeof(*claimed));
        if (!claimed)
                return oom(e);
        plan->layout = strdup(layout_name);
        if (!plan->layout)
                return oom(e);
        for (size_t i = 0; i < l->n_devices; i++) {
                const struct guestcfg_device *gd = &l->devices[i];
                const struct dt_device *d = gd->dev;

                for (size_t j = 0; j < gd->n_regions; j++) {
                        uint64_t first, nr;

                        if (hv_region_to_frames(gd->regions[j].host, gd->regions[j].size, &first,
                                                &nr) < 0)
                                continue;
                        for (size_t m = 0; m < l->n_mappings; m++) {
                                const struct guestcfg_mapping *mp = &l->mappings[m];

                                if (claimed[m] || mp->host_pfn + mp->nr_pages <= first ||
                                    mp->host_pfn >= first + nr)
                                        continue;
                                claimed[m] = true;
                                if (lease_plan_add(plan, HV_STEP_IOMEM_PERMISSION, d->path,
                                                   mp->host_pfn, 0, mp->nr_pages, 0) < 0 ||
                                    lease_plan_add(plan, HV_STEP_MEMORY_MAPPING, d->path,
                                                   mp->host_pfn, mp->guest_pfn, mp->nr_pages,
                                                   0) < 0)
                                        return oom(e);
                        }
                }
                for (size_t j = 0; j < d->n_irqs; j++) {
                        uint32_t irq = d->irqs[j].hwirq;
                        bool seen = false;

                        if (d->irqs[j].cls != DT_IRQ_SPI)
                                continue;
                        for (size_t k = 0; k < n_spis; k++)
                                seen |= spis[k] == irq;
                        if (seen)
                                continue;
                        if (GROW(spis, cap, n_spis) < 0)
                                return oom(e);
                        {
                                const char **t = realloc(spi_dev, cap * sizeof(*spi_dev));

                                if (!t)
                                        return oom(e);
                                spi_dev = t;
                        }
                        /*
                         * No irq_permission step: on Arm Xen checks the
                         * caller's (dom0's) right to the SPI when binding
                         * and never reads a guest's IRQ rights; Xen 4.20
                         * does not even have the domctl there.  xl binds
                         * only, too.
                         */
                        spi_dev[n_spis] = d->path;
                        spis[n_spis++] = irq;
                }
                if (d->coverage == DT_COV_PROTECTED &&
                    lease_plan_add(plan, HV_STEP_ASSIGN_DT, d->path, 0, 0, 0, 0) < 0)
                        return oom(e);
        }
        /* Binding last: the one step a live domain cannot give back. */
        for (size_t k = 0; k < n_spis; k++)
                if (lease_plan_add(plan, HV_STEP_BIND_SPI, spi_dev[k], 0, 0, 0, spis[k]) < 0)
                        return oom(e);
        return 0;
}

/* What check_devices() checks besides the devices themselves. */
struct device_checks {
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        bool busy;              /* refuse devices another lease holds */
};

/*
 * Every refusal that needs no domain, in the documented order: unknown,
 * not assignable, busy (if asked), group incomplete, not an SPI,
 * unprotected without force.  devs[] receives the devices.
 */
static int check_devices(struct broker *b, const struct device_checks *req,
                         const struct dt_device **devs, bool *any_protected, bool *forced,
                         struct broker_error *e)
{
        const struct dt_inventory *dt = inventory_dt(b->inv);
        int r;

        *forced = false;
        *any_protected = false;
        if (req->n_devices == 0)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "devices"),
                            "no device given");
        for (size_t i = 0; i < req->n_devices; i++)
                for (size_t j = 0; j < i; j++)
                        if (streq(req->devices[i], req->devices[j]))
                                return fail(e, -EINVAL, "InvalidArgument",
                                            fields("s", "field", "devices"),
                                            "%s is listed twice", req->devices[i]);

        for (size_t i = 0; i < req->n_devices; i++) {
                devs[i] = dt_inventory_find(dt, req->devices[i]);
                if (!devs[i])
                        return fail(e, -ENOENT, "DeviceNotFound",
                                    fields("s", "path", req->devices[i]),
                                    "no device has the path %s", req->devices[i]);
        }
        for (size_t i = 0; i < req->n_devices; i++) {
                const char *why = NULL;

                if (!inventory_effective_assignable(b->inv, devs[i], &why))
                        return fail(e, -EPERM, "DeviceNotAssignable",
                                    fields("ss", "path", devs[i]->path, "reason",
                                           why ? why : "not assignable"),
                                    "%s may not be assigned: %s", devs[i]->path,
                                    why ? why : "not assignable");
        }
        for (size_t i = 0; i < req->n_devices && req->busy; i++) {
                struct db_lease l = { 0 };

                r = db_lease_find_by_device(b->db, devs[i]->path, &l);
                if (r == 0) {
                        r = busy_error(&l, devs[i]->path, e);
                        db_lease_clear(&l);
                        return r;
                }
                if (r != -ENOENT)
                        return fail(e, r, "InternalError", NULL, "cannot read the leases: %s",
                                    strerror(-r));
        }
        for (size_t i = 0; i < req->n_devices; i++) {
                const struct dt_group *g;
                _cleanup_free_ char **missing = NULL;
                _cleanup_free_ char *list = NULL;
                size_t n_missing = 0;

                if (devs[i]->group < 0 || (size_t)devs[i]->group >= dt->n_groups)
                        continue;
                g = &dt->groups[devs[i]->group];
                missing = calloc(g->n_members + 1, sizeof(*missing));
                if (!missing)
                        return oom(e);
                for (size_t k = 0; k < g->n_members; k++) {
                        const char *p = dt->devices[g->members[k]].path;

                        if (!in_list(req->devices, req->n_devices, p))
                                missing[n_missing++] = (char *)p;
                }
                if (!n_missing)
                        continue;
                list = join_paths((const char *const *)missing, n_missing);
                return fail(e, -EINVAL, "GroupIncomplete",
                            fields("sj", "path", devs[i]->path, "missing",
                                   json_strv(missing, n_missing)),
                            "%s must be assigned together with %s (%s)", devs[i]->path,
                            list ? list : "the rest of its group", g->why ? g->why : "group");
        }
        for (size_t i = 0; i < req->n_devices; i++)
                for (size_t k = 0; k < devs[i]->n_irqs; k++) {
                        _cleanup_free_ char *t = NULL;

                        if (devs[i]->irqs[k].cls == DT_IRQ_SPI)
                                continue;
                        t = irq_text(&devs[i]->irqs[k]);
                        return fail(e, -EINVAL, "InterruptNotRoutable",
                                    fields("ss", "path", devs[i]->path, "interrupt", t ? t : "?"),
                                    "%s uses %s: Xen on Arm can route only GIC SPIs to a guest",
                                    devs[i]->path, t ? t : "an interrupt that is not an SPI");
                }
        for (size_t i = 0; i < req->n_devices; i++) {
                const struct dt_device *d = devs[i];
                enum dt_dma dma = inventory_effective_dma(b->inv, d);

                if (d->coverage == DT_COV_PROTECTED) {
                        *any_protected = true;
                        continue;
                }
                if (dma == DT_DMA_NONE)
                        continue;
                if (req->force_unprotected && !b->opts.forbid_force) {
                        *forced = true;
                        continue;
                }
                return fail(e, -EPERM, "UnprotectedDevice",
                            fields("sss", "path", d->path, "coverage",
                                   dt_coverage_to_string(d->coverage), "dma",
                                   dt_dma_to_string(dma)),
                            "%s is not protected by an IOMMU Xen drives (coverage %s) and its "
                            "DMA capability is \"%s\": a guest could read and write any host "
                            "memory through it. %s",
                            d->path, dt_coverage_to_string(d->coverage), dt_dma_to_string(dma),
                            req->force_unprotected
                                    ? "force_unprotected is refused: the daemon runs with "
                                      "--forbid-force."
                                    : "Declare dma=none if it cannot do DMA, or pass "
                                      "force_unprotected to take the risk.");
        }
        return 0;
}

/* Every refusal, in the documented order, before anything is changed. */
static int check_request(struct broker *b, const struct broker_assign_request *req,
                         const struct dt_device **devs, struct hv_domain_info *info,
                         bool *forced, struct broker_error *e)
{
        struct device_checks dc = {
                .devices = req->devices,
                .n_devices = req->n_devices,
                .force_unprotected = req->force_unprotected,
                .busy = true,
        };
        bool any_protected;
        int r;

        r = check_devices(b, &dc, devs, &any_protected, forced, e);
        if (r < 0)
                return r;
        r = resolve_domain(b, req->domain, info, e);
        if (r < 0)
                return r;
        if (info->domid == 0)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "domain"),
                            "domain 0 is the hardware domain: its devices are not leased");
        if (info->dying)
                return fail(e, -ESRCH, "DomainNotFound", fields("s", "domain", req->domain),
                            "domain %s (%u) is dying", req->domain, info->domid);
        if (any_protected && info->passthrough == HV_NO) {
                const char *p = NULL;

                for (size_t i = 0; i < req->n_devices && !p; i++)
                        if (devs[i]->coverage == DT_COV_PROTECTED)
                                p = devs[i]->path;
                return fail(e, -EOPNOTSUPP, "IommuNotEnabled",
                            fields("is", "domid", (int64_t)info->domid, "path", p),
                            "domain %s%s%u%s was created without the IOMMU, so %s "
                            "(IOMMU-protected) cannot be assigned to it: on Arm the IOMMU "
                            "shares the domain's p2m from creation and cannot be turned on "
                            "later; recreate the domain with passthrough=\"enabled\" in its "
                            "xl.cfg (Reserve yields that fragment)",
                            info->name, info->name[0] ? " (" : "", info->domid,
                            info->name[0] ? ")" : "", p);
        }
        return 0;
}

/* The error for a failed step, after the rollback. */
static int step_error(struct broker *b, int r, const struct lease_step *s, uint32_t domid,
                      enum hv_reason why, const char *msg, int64_t id,
                      const struct undo_result *u, struct broker_error *e)
{
        const char *ename = strerrorname_np(-r);
        _cleanup_free_ char *rb = NULL;

        if (u->r < 0)
                rb = strdup_printf(" Rolling back failed too: %s on %s: %s; the lease stays "
                                   "\"releasing\" and is retried by Release and at start-up.",
                                   hv_step_name(u->step), u->device ? u->device : "?",
                                   u->message ? u->message : "?");
        else if (u->stuck)
                rb = strdup(" Its SPIs cannot be unbound from a live domain: the lease stays "
                            "\"releasing\" until the domain dies.");
        else
                rb = strdup(" Every finished step was undone.");

        if (s->step == HV_STEP_ASSIGN_DT && why == HV_REASON_DOMAIN_NO_IOMMU) {
                /* Found out only now (the backend could not tell beforehand): name the domain. */
                _cleanup_free_ char *name = NULL;

                hv_domain_name(b->hv, domid, &name, NULL);
                return fail(e, -EOPNOTSUPP, "IommuNotEnabled",
                            fields("is", "domid", (int64_t)domid, "path", s->device),
                            "domain %s%s%u%s was created without the IOMMU, so %s cannot be "
                            "assigned to it: on Arm that is fixed at creation; recreate the "
                            "domain with passthrough=\"enabled\".%s",
                            name ? name : "", name ? " (" : "", domid, name ? ")" : "",
                            s->device, rb ? rb : "");
        }
        return fail(e, r, "HypervisorError",
                    fields("ssisij", "step", hv_step_name(s->step), "device", s->device, "errno",
                           (int64_t)-r, "errno_name", ename ? ename : "?", "lease", (int64_t)id,
                           "reason", json_object_new_string(hv_reason_name(why))),
                    "%s for %s failed with %s: %s.%s", hv_step_name(s->step), s->device,
                    ename ? ename : "?", msg ? msg : strerror(-r), rb ? rb : "");
}

static double now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static struct json_object *lease_json_by_id(struct broker *b, int64_t id)
{
        struct db_lease l = { 0 };
        struct json_object *o;

        if (db_lease_get(b->db, id, &l) < 0)
                return NULL;
        o = lease_to_json(&l);
        db_lease_clear(&l);
        return o;
}

static int do_assign(struct broker *b, const struct broker_caller *who,
                     const struct broker_assign_request *req, struct json_object **ret,
                     struct broker_error *e)
{
        _cleanup_free_ const struct dt_device **devs = NULL;
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        _cleanup_free_ char *options = NULL;
        struct hv_domain_info info;
        struct json_object *o;
        double t_writes = 0;
        int64_t id = 0;
        bool forced;
        int r;

        devs = calloc(req->n_devices + 1, sizeof(*devs));
        if (!devs)
                return oom(e);
        r = check_request(b, req, devs, &info, &forced, e);
        if (r < 0)
                return r;
        r = build_plan(b, devs, req->n_devices, req->layout, &plan, e);
        if (r < 0)
                return r;

        if (req->dry_run) {
                o = fields("nj", "lease", "steps", lease_plan_steps_json(&plan));
                if (!o)
                        return oom(e);
                *ret = o;
                return 0;
        }

        options = strdup_printf("{\"force_unprotected\":%s,\"layout\":\"%s\"}",
                                req->force_unprotected ? "true" : "false", plan.layout);
        r = lease_begin(b->db, info.name[0] ? info.name : NULL, info.domid,
                        (char *const *)req->devices, req->n_devices, forced, (uint32_t)who->uid,
                        (int32_t)who->pid, &plan, options, &id);
        if (r == -EEXIST) {
                /* Another lease took a device between the check and here. */
                for (size_t i = 0; i < req->n_devices; i++) {
                        struct db_lease l = { 0 };

                        if (db_lease_find_by_device(b->db, req->devices[i], &l) == 0) {
                                r = busy_error(&l, req->devices[i], e);
                                db_lease_clear(&l);
                                return r;
                        }
                }
                return fail(e, -EBUSY, "DeviceBusy", fields("snsn", "path", req->devices[0],
                                                          "domid", "state", "assigning", "lease"),
                            "a device is held by another lease");
        }
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot record the lease: %s",
                            strerror(-r));

        for (size_t i = 0; i < plan.n_steps; i++) {
                struct lease_step *s = &plan.steps[i];
                _cleanup_free_ char *err = NULL;
                double t0;

                r = do_step(b, info.domid, s, &err);
                if (r >= 0) {
                        s->done = true;
                        t0 = now_ms();
                        r = lease_save_plan(b->db, id, &plan);
                        t_writes += now_ms() - t0;
                        if (r < 0) {
                                free(err);
                                err = strdup_printf("the step succeeded but cannot be recorded: %s",
                                                    strerror(-r));
                        }
                }
                if (r < 0) {
                        struct undo_result u = { 0 };
                        enum hv_reason why = hv_last_reason(b->hv);

                        undo_steps(b, id, info.domid, &plan, -1, &u);
                        step_error(b, r, s, info.domid, why, err, id, &u, e);
                        if (u.r < 0 || u.stuck)
                                lease_set_state(b->db, id, DB_LEASE_RELEASING, &plan, e->message);
                        else
                                lease_set_state(b->db, id, DB_LEASE_FAILED, &plan, e->message);
                        undo_result_clear(&u);
                        return r;
                }
        }
        r = lease_set_state(b->db, id, DB_LEASE_ASSIGNED, &plan, "");
        if (r < 0)
                return fail(e, r, "InternalError", NULL,
                            "the devices are assigned but the lease cannot be marked so: %s "
                            "(start-up reconciliation will roll it back)", strerror(-r));
        /* Forced devices are named in a warning once they really are in the guest. */
        for (size_t i = 0; i < req->n_devices; i++)
                if (forced && devs[i]->coverage != DT_COV_PROTECTED &&
                    inventory_effective_dma(b->inv, devs[i]) != DT_DMA_NONE) {
                        _cleanup_free_ char *d = strdup_printf(
                                "forced assignment of %s (coverage %s, dma %s) to domain %u: "
                                "its DMA is not confined",
                                devs[i]->path, dt_coverage_to_string(devs[i]->coverage),
                                dt_dma_to_string(inventory_effective_dma(b->inv, devs[i])),
                                info.domid);

                        log_warning("%s", d ? d : "forced assignment");
                        broker_audit(b, who, "ForceUnprotected", devs[i]->path, "ok", d, true);
                }

        emit_lease(b, EVENT_DEVICE_ASSIGNED, id, NULL);
        log_debug("lease %" PRId64 ": %zu steps, %.3f ms of plan writes (%.3f ms per step)", id,
                  plan.n_steps, t_writes, plan.n_steps ? t_writes / (double)plan.n_steps : 0.0);
        o = fields("jj", "lease", lease_json_by_id(b, id), "steps", lease_plan_steps_json(&plan));
        if (!o)
                return oom(e);
        *ret = o;
        return 0;
}

int broker_assign(struct broker *b, const struct broker_caller *who,
                  const struct broker_assign_request *req, struct json_object **ret,
                  struct broker_error *e)
{
        int r;

        broker_domains_changed(b);
        r = do_assign(b, who, req, ret, e);
        if (!req->dry_run)
                audit_call(b, who, "Assign", req->domain, req->devices, req->n_devices, r, e,
                           NULL);
        return r;
}

/* ---- release ------------------------------------------------------------- */

static int verify_reservation(struct broker *b, const struct hv_domain_info *info,
                              struct lease_plan *plan, char **checked, char **why);
static int take_back_reservation(struct broker *b, const struct db_lease *l, uint32_t domid,
                                 struct lease_plan *plan, const char *mismatch,
                                 const char *target, bool requested);

/*
 * Release of a reservation whose domain exists but is not verified yet:
 * xl may be granting its devices right now, so whatever it holds is
 * revoked and the lease waits for the domain's end, as for a domain that
 * took its reservation up only in part.
 */
static int release_reservation(struct broker *b, const struct db_lease *l,
                               struct broker_error *e)
{
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        _cleanup_free_ char *perr = NULL, *why = NULL, *msg = NULL, *target = NULL;
        struct hv_domain_info info;
        int r;

        r = hv_domain_info(b->hv, (uint32_t)l->domid, &info, NULL);
        if (r == -ESRCH || (r >= 0 && info.name[0] && l->domain_name &&
                            !streq(info.name, l->domain_name))) {
                /* Gone: Xen dropped whatever xl had granted. */
                r = lease_set_state(b->db, l->id, DB_LEASE_FREE, NULL,
                                    "released before verification; the domain is gone");
                return r < 0 ? fail(e, r, "InternalError", NULL, "cannot record the release: "
                                    "%s", strerror(-r)) : 0;
        }
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot get the domain's state: %s",
                            strerror(-r));
        r = lease_plan_from_string(l->plan, &plan, &perr);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "lease %" PRId64 ": %s", l->id,
                            perr ? perr : strerror(-r));
        /* Marks what the domain was found to hold: steps xl never made are left alone. */
        r = verify_reservation(b, &info, &plan, NULL, &why);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot read what domain %u holds: %s",
                            info.domid, strerror(-r));
        msg = strdup_printf("released on request before domain %s (domid %u) was verified",
                            l->domain_name ? l->domain_name : "?", info.domid);
        target = strdup_printf("lease %" PRId64 " (domain %s)", l->id,
                               l->domain_name ? l->domain_name : "?");
        r = take_back_reservation(b, l, info.domid, &plan,
                                  msg ? msg : "released before verification", target, true);
        return r < 0 ? fail(e, r, "InternalError", NULL, "cannot record the release: %s",
                            strerror(-r)) : 0;
}

static int release_lease(struct broker *b, const struct db_lease *l, struct broker_error *e)
{
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        _cleanup_free_ char *perr = NULL;
        struct undo_result u = { 0 };
        const char *outcome;
        bool dying;
        int r, alive;

        if (l->state == DB_LEASE_RESERVED)
                return release_reservation(b, l, e);
        alive = l->state == DB_LEASE_ASSIGNED ? lease_domain_state(b, l, &dying) : 0;
        if (alive < 0)
                return fail(e, alive, "InternalError", NULL, "cannot get the domain's state: %s",
                            strerror(-alive));
        if (!alive) {
                /* Unfinished leases, and leases of dead domains, are settled, not redone. */
                r = settle_lease(b, l, &u, &outcome);
                goto out;
        }
        if (l->state != DB_LEASE_ASSIGNED)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "domain"),
                            "lease %" PRId64 " is %s, not assigned", l->id,
                            db_lease_state_to_string(l->state));
        r = lease_plan_from_string(l->plan, &plan, &perr);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "lease %" PRId64 ": %s", l->id,
                            perr ? perr : strerror(-r));
        /* Intent first: from here on a crash carries the release forward. */
        r = lease_set_state(b->db, l->id, DB_LEASE_RELEASING, &plan, "");
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot record the release: %s",
                            strerror(-r));
        undo_steps(b, l->id, (uint32_t)l->domid, &plan, -1, &u);
        r = u.r;
        if (r >= 0 && !u.stuck && !plan_outstanding(&plan))
                r = lease_set_state(b->db, l->id, DB_LEASE_FREE, &plan, NULL);
out:
        if (r < 0 && u.r < 0) {
                const char *ename = strerrorname_np(-u.r);

                lease_set_state(b->db, l->id, DB_LEASE_RELEASING, NULL, u.message);
                r = fail(e, u.r, "HypervisorError",
                         fields("ssisij", "step", hv_step_name(u.step), "device", u.device,
                                "errno", (int64_t)-u.r, "errno_name", ename ? ename : "?",
                                "lease", (int64_t)l->id, "reason",
                                json_object_new_string(hv_reason_name(u.reason))),
                         "%s for %s failed with %s: %s. The lease stays \"releasing\"; call "
                         "Release again to carry it forward.",
                         hv_step_name(u.step), u.device ? u.device : "?", ename ? ename : "?",
                         u.message ? u.message : "?");
        } else if (r < 0) {
                r = fail(e, r, "InternalError", NULL, "releasing lease %" PRId64 ": %s", l->id,
                         strerror(-r));
        }
        undo_result_clear(&u);
        return r < 0 ? r : 0;
}

static int do_release(struct broker *b, const char *domain, const char *const *devices,
                      size_t n, struct json_object **ret, struct broker_error *e)
{
        struct hv_domain_info info;
        struct db_lease *ls = NULL;
        size_t nl = 0;
        _cleanup_free_ bool *pick = NULL;
        struct json_object *arr = NULL;
        bool by_domid = parse_domid(domain, &info.domid);
        size_t n_pick = 0;
        int64_t reserved = 0;
        int r;

        /* A dead domain may be released by domid or by the name its leases carry. */
        r = resolve_domain(b, domain, &info, NULL);
        if (r < 0 && !by_domid)
                info.domid = UINT32_MAX;
        r = db_lease_list(b->db, NULL, &ls, &nl);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot read the leases: %s",
                            strerror(-r));
        pick = calloc(nl + 1, sizeof(*pick));
        if (!pick) {
                r = oom(e);
                goto out;
        }
        for (size_t i = 0; i < nl; i++) {
                bool mine = (ls[i].domid >= 0 && (uint32_t)ls[i].domid == info.domid) ||
                            (!by_domid && streq(ls[i].domain_name, domain));

                if (!mine)
                        continue;
                /*
                 * A pending reservation is dropped with CancelReservation; once
                 * its domain exists, Release takes back what it holds.
                 */
                if (ls[i].state == DB_LEASE_RESERVED && ls[i].domid < 0) {
                        reserved = ls[i].id;
                        continue;
                }
                if (n == 0) {
                        pick[i] = true;
                        continue;
                }
                for (size_t k = 0; k < ls[i].n_devices; k++)
                        if (in_list(devices, n, ls[i].devices[k]))
                                pick[i] = true;
        }
        for (size_t k = 0; k < n; k++) {
                bool held = false;

                for (size_t i = 0; i < nl; i++)
                        if (pick[i] && in_list((const char *const *)ls[i].devices,
                                               ls[i].n_devices, devices[k]))
                                held = true;
                if (held)
                        continue;
                if (!dt_inventory_find(inventory_dt(b->inv), devices[k]))
                        r = fail(e, -ENOENT, "DeviceNotFound", fields("s", "path", devices[k]),
                                 "no device has the path %s", devices[k]);
                else
                        r = fail(e, -ENOENT, "NotAssigned",
                                 fields("ss", "path", devices[k], "domain", domain),
                                 "%s is not held by domain %s", devices[k], domain);
                goto out;
        }
        /* A lease goes whole: naming part of one would split a group or an assignment. */
        for (size_t i = 0; i < nl && n; i++) {
                _cleanup_free_ char **missing = NULL;
                size_t nm = 0;

                if (!pick[i])
                        continue;
                missing = calloc(ls[i].n_devices + 1, sizeof(*missing));
                if (!missing) {
                        r = oom(e);
                        goto out;
                }
                for (size_t k = 0; k < ls[i].n_devices; k++)
                        if (!in_list(devices, n, ls[i].devices[k]))
                                missing[nm++] = ls[i].devices[k];
                if (nm) {
                        _cleanup_free_ char *list = join_paths((const char *const *)missing, nm);

                        r = fail(e, -EINVAL, "GroupIncomplete",
                                 fields("sj", "path", ls[i].devices[0], "missing",
                                        json_strv(missing, nm)),
                                 "lease %" PRId64 " assigned %s together with %s: release them "
                                 "together", ls[i].id, ls[i].devices[0], list ? list : "others");
                        goto out;
                }
        }
        for (size_t i = 0; i < nl; i++)
                n_pick += pick[i];
        if (!n_pick) {
                r = fail(e, -ENOENT, "NotAssigned", fields("ns", "path", "domain", domain),
                         "domain %s holds no device%s", domain,
                         reserved ? " (it has a pending reservation: drop it with "
                                    "CancelReservation)" : "");
                goto out;
        }
        arr = json_object_new_array();
        if (!arr) {
                r = oom(e);
                goto out;
        }
        for (size_t i = 0; i < nl; i++) {
                if (!pick[i])
                        continue;
                r = release_lease(b, &ls[i], e);
                if (r < 0)
                        goto out;
                emit_lease(b, EVENT_DEVICE_RELEASED, ls[i].id, EVENT_CAUSE_REQUEST);
                json_object_array_add(arr, lease_json_by_id(b, ls[i].id));
        }
        *ret = fields("j", "leases", steal_ptr(arr));
        r = *ret ? 0 : oom(e);
out:
        json_object_put(arr);
        db_lease_array_free(ls, nl);
        return r;
}

int broker_release(struct broker *b, const struct broker_caller *who, const char *domain,
                   const char *const *devices, size_t n_devices, struct json_object **ret,
                   struct broker_error *e)
{
        int r;

        /* No sweep first: do_release settles the domain's unfinished leases itself. */
        r = do_release(b, domain, devices, n_devices, ret, e);
        audit_call(b, who, "Release", domain, devices, n_devices, r, e, NULL);
        return r;
}

/* ---- reading ------------------------------------------------------------- */

int broker_list_leases(struct broker *b, bool all, struct json_object **ret,
                       struct broker_error *e)
{
        struct db_lease_filter f = { .state = DB_LEASE_NONE, .domid = -1, .include_final = all };
        struct db_lease *ls = NULL;
        struct json_object *arr;
        size_t n = 0;
        int r;

        broker_domains_changed(b);
        r = db_lease_list(b->db, &f, &ls, &n);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot read the leases: %s",
                            strerror(-r));
        arr = json_object_new_array();
        for (size_t i = 0; arr && i < n; i++) {
                struct json_object *o = lease_to_json(&ls[i]);

                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        json_object_put(arr);
                        arr = NULL;
                }
        }
        db_lease_array_free(ls, n);
        if (!arr || !(*ret = fields("j", "leases", arr)))
                return oom(e);
        return 0;
}

int broker_audit_log(struct broker *b, size_t limit, struct json_object **ret,
                     struct broker_error *e)
{
        struct db_audit *a = NULL;
        struct json_object *arr;
        size_t n = 0;
        int r;

        r = db_audit_tail(b->db, limit, &a, &n);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot read the audit log: %s",
                            strerror(-r));
        arr = json_object_new_array();
        for (size_t i = 0; arr && i < n; i++) {
                struct json_object *o = fields("iiiisssss", "id", a[i].id, "at", a[i].at, "uid",
                                               (int64_t)a[i].uid, "pid", (int64_t)a[i].pid,
                                               "action", a[i].action, "target", a[i].target,
                                               "result", a[i].result, "detail", a[i].detail,
                                               "severity",
                                               a[i].severity ? a[i].severity : "info");

                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        json_object_put(arr);
                        arr = NULL;
                }
        }
        db_audit_array_free(a, n);
        if (!arr || !(*ret = fields("j", "entries", arr)))
                return oom(e);
        return 0;
}

/* ---- guest side: generators and reservations ---------------------------- */

static char *base64_encode(const uint8_t *p, size_t n)
{
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                *o++ = tab[(v >> 18) & 63];
                *o++ = tab[(v >> 12) & 63];
                *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? tab[v & 63] : '=';
        }
        *o = 0;
        return out;
}

/* "path: why" lines (guestcfg's notes) as a []string. */
static struct json_object *notes_json(const char *notes)
{
        struct json_object *a = json_object_new_array();

        for (const char *p = notes; a && p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t k = nl ? (size_t)(nl - p) : strlen(p);

                if (k)
                        json_object_array_add(a, json_object_new_string_len(p, (int)k));
                p += k + (nl ? 1 : 0);
        }
        return a;
}

/* Where each device lands: [{path, relocated, regions: [{host, size, guest}]}]. */
static struct json_object *placements_json(const struct guestcfg_layout *l)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < l->n_devices; i++) {
                const struct guestcfg_device *gd = &l->devices[i];
                struct json_object *regs = json_object_new_array();

                for (size_t j = 0; regs && j < gd->n_regions; j++)
                        json_object_array_add(regs, fields("iii", "host",
                                                           (int64_t)gd->regions[j].host, "size",
                                                           (int64_t)gd->regions[j].size, "guest",
                                                           (int64_t)gd->regions[j].guest));
                json_object_array_add(a, fields("sjj", "path", gd->dev->path, "relocated",
                                                json_object_new_boolean(gd->relocated),
                                                "regions", regs));
        }
        return a;
}

/* Check the devices (busy only if asked) and place them. */
static int guest_layout(struct broker *b, const struct device_checks *dc,
                        enum guestcfg_mode mode, const struct guestcfg_target *target,
                        struct guestcfg_layout **ret, bool *forced, struct broker_error *e)
{
        _cleanup_free_ const struct dt_device **devs = NULL;
        bool any_protected;
        int r;

        devs = calloc(dc->n_devices + 1, sizeof(*devs));
        if (!devs)
                return oom(e);
        r = check_devices(b, dc, devs, &any_protected, forced, e);
        if (r < 0)
                return r;
        return place_devices(b, devs, dc->n_devices, mode, target, ret, e);
}

/* The partial DTB of a layout from the blob the inventory was scanned from. */
static int guest_dtb(struct broker *b, const struct guestcfg_layout *l, bool dom0less,
                     void **blob, size_t *len, char **notes, struct broker_error *e)
{
        _cleanup_free_ char *err = NULL;
        const void *host;
        size_t host_len = 0;
        int r;

        host = inventory_blob(b->inv, &host_len);
        if (!host || !host_len)
                return fail(e, -ENODATA, "InternalError", NULL,
                            "the host device tree the inventory was built from is not loaded");
        r = guestcfg_partial_dtb(host, l, dom0less ? GUESTCFG_DOM0LESS : 0, blob, len, notes,
                                 &err);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot build the partial DTB: %s",
                            err ? err : strerror(-r));
        return 0;
}

static bool config_safe(const char *s)
{
        return !strpbrk(s, "\"\\\n\r");
}

int broker_guest_config(struct broker *b, enum broker_guest_output what,
                        const struct broker_guest_request *req, struct json_object **ret,
                        struct broker_error *e)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_free_ void *blob = NULL;
        _cleanup_free_ char *notes = NULL, *cfg = NULL, *b64 = NULL, *err = NULL;
        _cleanup_free_ char *dtb_file = NULL;
        struct device_checks dc = {
                .devices = req->devices,
                .n_devices = req->n_devices,
                .force_unprotected = req->force_unprotected,
        };
        struct json_object *o;
        size_t len = 0;
        bool forced;
        int r;

        if (req->name && (!*req->name || !config_safe(req->name)))
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "name"),
                            "the domain name must be non-empty without quotes, backslashes or "
                            "newlines");
        if (req->device_tree && (!*req->device_tree || !config_safe(req->device_tree)))
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "device_tree"),
                            "device_tree must be a path without quotes, backslashes or "
                            "newlines");
        r = guest_layout(b, &dc, req->layout, req->target, &l, &forced, e);
        if (r < 0)
                return r;
        /* ImageBuilder is dom0less: its partial DTB needs xen,reg and xen,path. */
        r = guest_dtb(b, l, req->dom0less || what == BROKER_GUEST_IMAGEBUILDER, &blob, &len,
                      &notes, e);
        if (r < 0)
                return r;
        if (what == BROKER_GUEST_XL) {
                _cleanup_free_ char *body = NULL;

                r = guestcfg_xl_config(l, req->device_tree, notes, &body, &err);
                if (r < 0)
                        return fail(e, r, r == -EINVAL ? "InvalidArgument" : "InternalError",
                                    r == -EINVAL ? fields("s", "field", "device_tree") : NULL,
                                    "cannot write the xl.cfg fragment: %s",
                                    err ? err : strerror(-r));
                cfg = req->name ? strdup_printf("name = \"%s\"\n%s", req->name, body)
                                : steal_ptr(body);
                if (!cfg)
                        return oom(e);
        } else if (what == BROKER_GUEST_IMAGEBUILDER) {
                if (req->dtb_file)
                        dtb_file = strdup(req->dtb_file);
                else
                        dtb_file = strdup_printf("domU%u-passthrough.dtb", req->index);
                if (!dtb_file)
                        return oom(e);
                r = guestcfg_imagebuilder(l, req->index, dtb_file, req->host_dtb_file, &cfg,
                                          &err);
                if (r < 0)
                        return fail(e, r, r == -EINVAL ? "InvalidArgument" : "InternalError",
                                    r == -EINVAL ? fields("s", "field", "dtb_file") : NULL,
                                    "cannot write the ImageBuilder fragment: %s",
                                    err ? err : strerror(-r));
        }
        b64 = base64_encode(blob, len);
        if (!b64)
                return oom(e);
        o = fields("siijsjs", "dtb", b64, "size", (int64_t)len, "forced", (int64_t)forced,
                   "notes", notes_json(notes), "layout", guestcfg_mode_to_string(l->mode),
                   "devices", placements_json(l), "config", cfg);
        if (!o)
                return oom(e);
        /* "forced" is internal: whether force_unprotected was needed. */
        json_object_object_del(o, "forced");
        if (!cfg)
                json_object_object_del(o, "config");
        *ret = o;
        return 0;
}

/* ---- reservations ---- */

/* A domain name Reserve accepts: it also names a file. */
static bool reservation_name_ok(const char *n)
{
        size_t len = n ? strlen(n) : 0;

        if (len == 0 || len > HV_NAME_MAX || n[0] == '.' || n[0] == '-')
                return false;
        return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
               len;
}

/* Write blob to path atomically, mode 0644 whatever the umask. */
static int write_guest_file(const char *dir, const char *path, const void *blob, size_t len,
                            char **err)
{
        _cleanup_free_ char *tmp = strdup_printf("%s.tmp.%d", path, (int)getpid());
        const uint8_t *p = blob;
        int fd, r = 0;

        if (!tmp)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return set_error(err, -errno, "cannot create %s: %m", dir);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return set_error(err, -errno, "cannot create %s: %m", tmp);
        while (len > 0 && r == 0) {
                ssize_t k = write(fd, p, len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        r = -(k < 0 ? errno : EIO);
                else {
                        p += k;
                        len -= (size_t)k;
                }
        }
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return set_error(err, r, "cannot write %s: %s", path, strerror(-r));
        }
        return 0;
}

/* The partial DTB a reservation wrote (from its options), or NULL. */
static char *reservation_file(const struct db_lease *l)
{
        struct json_object *o, *v;
        char *path = NULL;

        if (!l->options || !(o = json_tokener_parse(l->options)))
                return NULL;
        if (json_object_object_get_ex(o, "device_tree", &v) && json_object_is_type(v, json_type_string))
                path = strdup(json_object_get_string(v));
        json_object_put(o);
        return path;
}

static void remove_reservation_file(const struct db_lease *l)
{
        _cleanup_free_ char *path = reservation_file(l);

        if (path && unlink(path) < 0 && errno != ENOENT)
                log_warning("cannot remove %s: %m", path);
}

static int do_reserve(struct broker *b, const struct broker_caller *who,
                      const struct broker_reserve_request *req, struct json_object **ret,
                      struct broker_error *e)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        _cleanup_free_ void *blob = NULL;
        _cleanup_free_ char *notes = NULL, *cfg = NULL, *err = NULL, *path = NULL;
        _cleanup_free_ char *plan_text = NULL;
        struct db_lease_filter f = { .state = DB_LEASE_NONE, .domid = -1 };
        struct device_checks dc = {
                .devices = req->devices,
                .n_devices = req->n_devices,
                .force_unprotected = req->force_unprotected,
                .busy = true,
        };
        struct json_object *opts = NULL, *o;
        struct db_lease *ls = NULL;
        size_t nl = 0, len = 0;
        int64_t ttl = req->ttl_seconds ? req->ttl_seconds : BROKER_RESERVATION_TTL_DEFAULT;
        int64_t id = 0, expires;
        uint32_t domid;
        bool forced;
        int r;

        if (!reservation_name_ok(req->domain_name))
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "domain_name"),
                            "a reserved domain's name must be 1-%u characters of A-Z a-z 0-9 "
                            "_ . - and not start with . or - (it also names its partial DTB)",
                            HV_NAME_MAX);
        if (ttl <= 0 || ttl > BROKER_RESERVATION_TTL_MAX)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "ttl_seconds"),
                            "ttl_seconds must be 1..%d", BROKER_RESERVATION_TTL_MAX);
        if (!b->opts.guest_dir)
                return fail(e, -EOPNOTSUPP, "InternalError", NULL,
                            "the daemon has no directory for partial device trees");
        if (hv_domid_by_name(b->hv, req->domain_name, &domid, NULL) >= 0)
                return fail(e, -EEXIST, "InvalidArgument", fields("s", "field", "domain_name"),
                            "domain %s exists already (domid %u): a reservation is for a domain "
                            "about to be created; use Assign for a running one",
                            req->domain_name, domid);
        f.domain_name = req->domain_name;
        f.state = DB_LEASE_RESERVED;
        r = db_lease_list(b->db, &f, &ls, &nl);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot read the leases: %s",
                            strerror(-r));
        if (nl) {
                r = fail(e, -EEXIST, "ReservationExists",
                         fields("si", "domain", req->domain_name, "lease", (int64_t)ls[0].id),
                         "lease %" PRId64 " already reserves devices for domain %s: cancel it "
                         "first", ls[0].id, req->domain_name);
                db_lease_array_free(ls, nl);
                return r;
        }
        db_lease_array_free(ls, nl);

        r = guest_layout(b, &dc, req->layout, NULL, &l, &forced, e);
        if (r < 0)
                return r;
        r = plan_from_layout(l, guestcfg_mode_to_string(l->mode), &plan, e);
        if (r < 0)
                return r;
        r = guest_dtb(b, l, false, &blob, &len, &notes, e);
        if (r < 0)
                return r;
        path = strdup_printf("%s/%s.dtb", b->opts.guest_dir, req->domain_name);
        if (!path)
                return oom(e);
        r = guestcfg_xl_config(l, path, notes, &cfg, &err);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot write the xl.cfg fragment: %s",
                            err ? err : strerror(-r));

        r = write_guest_file(b->opts.guest_dir, path, blob, len, &err);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "%s", err ? err : strerror(-r));
        r = lease_plan_to_string(&plan, &plan_text);
        opts = fields("jssi", "force_unprotected", json_object_new_boolean(req->force_unprotected),
                      "layout", guestcfg_mode_to_string(l->mode), "device_tree", path,
                      "ttl_seconds", ttl);
        if (r < 0 || !opts) {
                json_object_put(opts);
                unlink(path);
                return oom(e);
        }
        expires = (int64_t)time(NULL) + ttl;
        {
                struct db_lease nlease = {
                        .domain_name = (char *)req->domain_name,
                        .domid = -1,
                        .state = DB_LEASE_RESERVED,
                        .target_state = DB_LEASE_ASSIGNED,
                        .forced = forced,
                        .uid = (uint32_t)who->uid,
                        .pid = (int32_t)who->pid,
                        .expires_at = expires,
                        .plan = plan_text,
                        .options = (char *)json_object_to_json_string_ext(opts,
                                                                         JSON_C_TO_STRING_PLAIN),
                        .devices = (char **)req->devices,
                        .n_devices = req->n_devices,
                };

                r = db_lease_create(b->db, &nlease, &id);
        }
        json_object_put(opts);
        if (r < 0) {
                unlink(path);
                return fail(e, r, "InternalError", NULL, "cannot record the reservation: %s",
                            strerror(-r));
        }
        log_info("lease %" PRId64 ": %zu device%s reserved for domain %s until %" PRId64
                 " (partial DTB %s)", id, req->n_devices, req->n_devices == 1 ? "" : "s",
                 req->domain_name, expires, path);
        o = fields("jsjsi", "lease", lease_json_by_id(b, id), "config", cfg, "notes",
                   notes_json(notes), "device_tree", path, "expires_at", expires);
        if (!o)
                return oom(e);
        *ret = o;
        return 0;
}

int broker_reserve(struct broker *b, const struct broker_caller *who,
                   const struct broker_reserve_request *req, struct json_object **ret,
                   struct broker_error *e)
{
        int r;

        broker_domains_changed(b);
        r = do_reserve(b, who, req, ret, e);
        audit_call(b, who, "Reserve", req->domain_name, req->devices, req->n_devices, r, e,
                   NULL);
        return r;
}

static int do_cancel(struct broker *b, const char *name, int64_t id, struct json_object **ret,
                     struct broker_error *e)
{
        struct db_lease_filter f = { .state = DB_LEASE_RESERVED, .domid = -1,
                                     .domain_name = name };
        struct db_lease *ls = NULL;
        size_t n = 0;
        ssize_t pick = -1;
        int r;

        r = db_lease_list(b->db, &f, &ls, &n);
        if (r < 0)
                return fail(e, r, "InternalError", NULL, "cannot read the leases: %s",
                            strerror(-r));
        for (size_t i = 0; i < n && pick < 0; i++)
                if (id <= 0 || ls[i].id == id)
                        pick = (ssize_t)i;
        if (pick < 0) {
                r = fail(e, -ENOENT, "ReservationNotFound",
                         fields("sj", "domain", name, "lease",
                                id > 0 ? json_object_new_int64(id) : NULL),
                         "no pending reservation %s%s", name ? "for domain " : "lease ",
                         name ? name : "");
                if (!name && e && e->message) {
                        free(e->message);
                        e->message = strdup_printf("lease %" PRId64 " is not a pending "
                                                   "reservation", id);
                }
                goto out;
        }
        if (ls[pick].domid >= 0) {
                r = fail(e, -EBUSY, "DeviceBusy",
                         fields("sisi", "path", ls[pick].devices[0], "domid",
                                (int64_t)ls[pick].domid, "state", "reserved", "lease",
                                ls[pick].id),
                         "domain %s (domid %d) has been created with lease %" PRId64 "'s "
                         "devices and is being verified: release the domain's devices with "
                         "Release, or destroy it", ls[pick].domain_name ? ls[pick].domain_name
                                                                        : "?",
                         ls[pick].domid, ls[pick].id);
                goto out;
        }
        r = lease_set_state(b->db, ls[pick].id, DB_LEASE_FREE, NULL, "reservation cancelled");
        if (r < 0) {
                r = fail(e, r, "InternalError", NULL, "cannot cancel lease %" PRId64 ": %s",
                         ls[pick].id, strerror(-r));
                goto out;
        }
        remove_reservation_file(&ls[pick]);
        if (b->events)
                events_emit_lease(b->events, EVENT_RESERVATION_EXPIRED,
                                  (const char *const *)ls[pick].devices, ls[pick].n_devices, -1,
                                  ls[pick].domain_name, ls[pick].id, NULL, "free",
                                  "reservation cancelled");
        *ret = fields("j", "lease", lease_json_by_id(b, ls[pick].id));
        r = *ret ? 0 : oom(e);
out:
        db_lease_array_free(ls, n);
        return r;
}

int broker_cancel_reservation(struct broker *b, const struct broker_caller *who,
                              const char *domain_name, int64_t id, struct json_object **ret,
                              struct broker_error *e)
{
        _cleanup_free_ char *target = NULL;
        int r;

        if (!domain_name && id <= 0)
                return fail(e, -EINVAL, "InvalidArgument", fields("s", "field", "domain_name"),
                            "name the reservation by domain_name or by lease");
        r = do_cancel(b, domain_name, id, ret, e);
        target = domain_name ? strdup_printf("domain %s", domain_name)
                             : strdup_printf("lease %" PRId64, id);
        broker_audit(b, who, "CancelReservation", target, r < 0 ? e->name : "ok",
                     r < 0 ? e->message : NULL, false);
        return r;
}

/* The question a plan step asks of the hypervisor; -1 for a step that asks none. */
static int hold_kind(enum hv_step step)
{
        switch (step) {
        case HV_STEP_IOMEM_PERMISSION:
                return HV_HOLD_IOMEM;
        case HV_STEP_MEMORY_MAPPING:
                return HV_HOLD_MAPPING;
        case HV_STEP_IRQ_PERMISSION:
                return HV_HOLD_IRQ;
        case HV_STEP_BIND_SPI:
                return HV_HOLD_SPI;
        case HV_STEP_ASSIGN_DT:
                return HV_HOLD_DT;
        default:
                return -1;
        }
}

/*
 * For the audit: what could be checked (some answer was not HV_UNKNOWN),
 * and what the hypervisor could not report.
 */
static char *checked_text(const bool asked[HV_HOLD__MAX], const bool known[HV_HOLD__MAX])
{
        static const enum hv_hold_kind order[] = { HV_HOLD_DT, HV_HOLD_IOMEM, HV_HOLD_MAPPING,
                                                   HV_HOLD_SPI };
        static const char *const names[HV_HOLD__MAX] = {
                [HV_HOLD_DT] = "IOMMU assignments", [HV_HOLD_IOMEM] = "iomem permissions",
                [HV_HOLD_MAPPING] = "mappings", [HV_HOLD_SPI] = "SPIs",
        };
        const char *yes[ARRAY_SIZE(order)], *no[ARRAY_SIZE(order)];
        size_t n_yes = 0, n_no = 0;
        struct strbuf t = STRBUF_INIT;
        char *ret = NULL;

        for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
                if (known[order[i]])
                        yes[n_yes++] = names[order[i]];
                else if (asked[order[i]])
                        no[n_no++] = names[order[i]];
        }
        for (size_t i = 0; i < n_yes; i++)
                strbuf_printf(&t, "%s%s", i == 0 ? "" : i + 1 == n_yes ? " and " : ", ", yes[i]);
        strbuf_append(&t, n_yes ? " checked" : "nothing could be checked");
        for (size_t i = 0; i < n_no; i++)
                strbuf_printf(&t, "%s%s", i == 0 ? " (the hypervisor cannot report "
                                                 : i + 1 == n_no ? " or " : ", ", no[i]);
        if (n_no)
                strbuf_append(&t, ")");
        return strbuf_steal(&t, &ret) < 0 ? NULL : ret;
}

/*
 * Check that domain domid holds what the reservation's fragment grants, as
 * far as the backend can tell (hv_domain_holds: what it cannot tell counts
 * as held).  Marks in plan the steps found done.  *checked (if non-NULL)
 * gets a line for the audit saying what could be checked.  Returns 0 when
 * everything matches, 1 with *why (one line per mismatch) when not, or a
 * negative errno.
 */
static int verify_reservation(struct broker *b, const struct hv_domain_info *info,
                              struct lease_plan *plan, char **checked, char **why)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct hv_hold *q = calloc(plan->n_steps + 1, sizeof(*q));
        _cleanup_free_ size_t *at = calloc(plan->n_steps + 1, sizeof(*at));
        bool asked[HV_HOLD__MAX] = { false }, known[HV_HOLD__MAX] = { false };
        size_t len = 0, n = 0;
        FILE *f;
        bool bad = false, protected_ = false;
        int r;

        if (!q || !at)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const struct lease_step *s = &plan->steps[i];
                int kind = hold_kind(s->step);

                if (kind < 0)
                        continue;
                at[n] = i;
                q[n++] = (struct hv_hold){ .kind = (enum hv_hold_kind)kind, .mfn = s->mfn,
                                           .gfn = s->gfn, .nr = s->nr, .irq = s->irq,
                                           .path = s->device };
        }
        r = hv_domain_holds(b->hv, info->domid, q, n, NULL);
        if (r < 0)
                return r;

        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                struct lease_step *s = &plan->steps[at[k]];
                /* What the hypervisor cannot report is taken as held. */
                bool ok = q[k].answer != HV_NO;

                asked[q[k].kind] = true;
                known[q[k].kind] |= q[k].answer != HV_UNKNOWN;
                switch (q[k].kind) {
                case HV_HOLD_IOMEM:
                        if (!ok)
                                fprintf(f, "%s: no iomem permission for MFN 0x%" PRIx64
                                           "+%" PRIu64 "\n", s->device, s->mfn, s->nr);
                        break;
                case HV_HOLD_MAPPING:
                        if (!ok)
                                fprintf(f, "%s: MFN 0x%" PRIx64 "+%" PRIu64 " is not "
                                           "mapped at GFN 0x%" PRIx64 "\n", s->device,
                                        s->mfn, s->nr, s->gfn);
                        break;
                case HV_HOLD_IRQ:
                        /*
                         * xl on Arm binds SPIs without granting the domain the
                         * IRQ (Xen checks only dom0's permission): not a mismatch.
                         * Unseen (real Xen): assumed granted, so a release revokes it.
                         */
                        s->done = ok;
                        continue;
                case HV_HOLD_SPI:
                        if (!ok)
                                fprintf(f, "%s: SPI %u (INTID %u) is not routed to it\n",
                                        s->device, s->irq - 32, s->irq);
                        break;
                case HV_HOLD_DT:
                        protected_ = true;
                        if (!ok)
                                fprintf(f, "%s: not assigned to it through the IOMMU (dtdev)\n",
                                        s->device);
                        break;
                case HV_HOLD__MAX:
                        break;
                }
                s->done = ok;
                bad |= !ok;
        }
        if (protected_ && info->passthrough == HV_NO) {
                fprintf(f, "the domain was created without the IOMMU (passthrough=\"enabled\" "
                           "missing)\n");
                bad = true;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (checked) {
                *checked = checked_text(asked, known);
                if (!*checked)
                        return -ENOMEM;
        }
        if (!bad)
                return 0;
        if (len && text[len - 1] == '\n')
                text[len - 1] = 0;
        *why = steal_ptr(text);
        return 1;
}

/*
 * A live domain holds part of what its reservation grants (the steps of
 * plan marked done by verify_reservation).  Failing the lease would free
 * devices the domain can still reach, so it is released as a live domain
 * is: mappings, permissions and IOMMU assignments are revoked now, SPIs
 * stay routed until the domain dies, and since a hand-edited xl.cfg may
 * have granted more than the plan records (another guest address, say),
 * the lease stays "releasing", bound to the domid, until the domain is
 * gone (plan->hold).  Returns 1 (the lease changed) or a negative errno.
 */
static int take_back_reservation(struct broker *b, const struct db_lease *l, uint32_t domid,
                                 struct lease_plan *plan, const char *mismatch,
                                 const char *target, bool requested)
{
        _cleanup_free_ char *msg = NULL, *left = NULL, *intent = NULL;
        struct undo_result u = { 0 };
        int r;

        plan->hold = true;
        /*
         * Intent first, worded so that it stays true if a crash leaves the
         * rest to reconciliation.
         */
        intent = strdup_printf("%s; what it does hold is revoked and its devices stay held "
                               "until it dies", mismatch);
        r = lease_set_state(b->db, l->id, DB_LEASE_RELEASING, plan, intent ? intent : mismatch);
        if (r < 0)
                return r;
        undo_steps(b, l->id, domid, plan, -1, &u);
        if (u.r < 0)
                left = strdup_printf(" (%s for %s failed with %s: %s; that goes only when the "
                                     "domain does)", hv_step_name(u.step),
                                     u.device ? u.device : "?",
                                     strerrorname_np(-u.r) ? strerrorname_np(-u.r) : "?",
                                     u.message ? u.message : strerror(-u.r));
        msg = strdup_printf("%s; what it does hold was revoked%s and its devices stay held until "
                            "it dies%s", mismatch,
                            u.stuck ? " (its routed SPIs only when it dies: Xen unbinds them "
                                      "from a dying domain only)" : "",
                            left ? left : "");
        r = lease_set_state(b->db, l->id, DB_LEASE_RELEASING, NULL, msg ? msg : mismatch);
        if (r < 0)
                log_error("%s: cannot record the outcome: %s", target ? target : "lease",
                          strerror(-r));
        undo_result_clear(&u);
        /* A Release is audited and announced by its caller. */
        if (requested) {
                log_info("%s: %s", target ? target : "lease", msg ? msg : mismatch);
                return 1;
        }
        log_warning("%s: %s", target ? target : "lease", msg ? msg : mismatch);
        broker_audit(b, NULL, "ReservationFailed", target, "VerificationFailed",
                     msg ? msg : mismatch, true);
        emit_lease_detail(b, EVENT_DEVICE_RELEASED, l->id, "verification-failed",
                          msg ? msg : mismatch);
        return 1;
}

/* Try to take up one reservation; returns 1 if it changed. */
static int check_reservation(struct broker *b, const struct db_lease *l, time_t now)
{
        _cleanup_(lease_plan_clear) struct lease_plan plan = { 0 };
        _cleanup_free_ char *why = NULL, *perr = NULL, *target = NULL, *msg = NULL;
        _cleanup_free_ char *checked = NULL;
        struct hv_domain_info info;
        bool expired = l->expires_at > 0 && now >= l->expires_at;
        uint32_t domid;
        int r;

        target = strdup_printf("lease %" PRId64 " (domain %s)", l->id,
                               l->domain_name ? l->domain_name : "?");
        if (l->domid < 0) {
                r = l->domain_name ? hv_domid_by_name(b->hv, l->domain_name, &domid, NULL)
                                   : -ENOENT;
                /*
                 * Only a domain known not to exist lets an expired reservation
                 * go: if xenstore cannot be read, the domain may be there with
                 * its grants.
                 */
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r < 0) {
                        if (!expired)
                                return 0;
                        msg = strdup_printf("reservation expired: no domain named %s appeared",
                                            l->domain_name ? l->domain_name : "?");
                        r = lease_set_state(b->db, l->id, DB_LEASE_FREE, NULL, msg);
                        if (r < 0)
                                return r;
                        remove_reservation_file(l);
                        log_info("%s: %s", target ? target : "lease", msg ? msg : "expired");
                        broker_audit(b, NULL, "ReservationExpired", target, "ok", msg, false);
                        if (b->events)
                                events_emit_lease(b->events, EVENT_RESERVATION_EXPIRED,
                                                  (const char *const *)l->devices, l->n_devices,
                                                  -1, l->domain_name, l->id, NULL, "free", msg);
                        return 1;
                }
                r = db_lease_bind_domid(b->db, l->id, (int)domid);
                if (r < 0)
                        return r;
                log_info("%s: domain %s appeared as domid %u", target ? target : "lease",
                         l->domain_name, domid);
                msg = strdup_printf("domid %u", domid);
                broker_audit(b, NULL, "ReservationBound", target, "ok", msg, false);
                free(msg);
                msg = NULL;
                emit_lease(b, EVENT_RESERVATION_BOUND, l->id, NULL);
        } else {
                domid = (uint32_t)l->domid;
        }

        r = hv_domain_info(b->hv, domid, &info, NULL);
        if (r == -ESRCH || (r >= 0 && info.name[0] && l->domain_name &&
                            !streq(info.name, l->domain_name))) {
                msg = strdup_printf("domain %s (domid %u) went away before its devices were "
                                    "verified", l->domain_name ? l->domain_name : "?", domid);
                r = lease_set_state(b->db, l->id, DB_LEASE_FAILED, NULL, msg);
                if (r < 0)
                        return r;
                log_warning("%s: %s", target ? target : "lease", msg ? msg : "domain gone");
                broker_audit(b, NULL, "ReservationFailed", target, "DomainNotFound", msg, true);
                emit_lease(b, EVENT_DEVICE_RELEASED, l->id, EVENT_CAUSE_DOMAIN_DIED);
                return 1;
        }
        if (r < 0)
                return r;
        r = lease_plan_from_string(l->plan, &plan, &perr);
        if (r < 0)
                return r;
        r = verify_reservation(b, &info, &plan, &checked, &why);
        if (r < 0)
                return r;
        if (r == 0) {
                r = lease_set_state(b->db, l->id, DB_LEASE_ASSIGNED, &plan, "");
                if (r < 0)
                        return r;
                log_info("%s: verified: domid %u holds its devices", target ? target : "lease",
                         domid);
                broker_audit(b, NULL, "ReservationVerified", target, "ok", checked, false);
                emit_lease(b, EVENT_DEVICE_ASSIGNED, l->id, NULL);
                return 1;
        }
        /*
         * xl announces the domain before it grants its devices: a domain that
         * has not run may still be being built.  Wait for it to run, or for
         * the reservation to expire.
         */
        if (info.has_run != HV_YES && !info.dying && !expired) {
                log_debug("%s: domid %u does not hold everything yet: %s",
                          target ? target : "lease", domid, why);
                return 0;
        }
        msg = strdup_printf("domain %s (domid %u) does not hold what its reservation grants: %s",
                            l->domain_name ? l->domain_name : "?", domid, why);
        for (size_t i = 0; i < plan.n_steps; i++)
                if (plan.steps[i].done)
                        return take_back_reservation(b, l, domid, &plan, msg ? msg : why,
                                                     target, false);
        /* It got none of it: the database and Xen agree that the devices are free. */
        r = lease_set_state(b->db, l->id, DB_LEASE_FAILED, &plan, msg ? msg : why);
        if (r < 0)
                return r;
        log_warning("%s: %s", target ? target : "lease", msg ? msg : why);
        broker_audit(b, NULL, "ReservationFailed", target, "VerificationFailed", msg ? msg : why,
                     true);
        emit_lease_detail(b, EVENT_DEVICE_RELEASED, l->id, "verification-failed", msg ? msg : why);
        return 1;
}

int broker_reservations_check(struct broker *b)
{
        struct db_lease_filter f = { .state = DB_LEASE_RESERVED, .domid = -1 };
        struct db_lease *ls = NULL;
        time_t now = time(NULL);
        size_t n = 0;
        int r, changed = 0;

        r = db_lease_list(b->db, &f, &ls, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = check_reservation(b, &ls[i], now);
                if (r < 0)
                        log_warning("lease %" PRId64 ": cannot check the reservation: %s",
                                    ls[i].id, strerror(-r));
                else
                        changed += r;
        }
        db_lease_array_free(ls, n);
        return changed;
}

struct json_object *broker_owner(void *userdata, const char *path)
{
        struct broker *b = userdata;
        struct db_lease l = { 0 };
        struct json_object *o;

        if (db_lease_find_by_device(b->db, path, &l) < 0)
                return NULL;
        o = fields("jss", "domid", l.domid >= 0 ? json_object_new_int(l.domid) : NULL, "domain",
                   l.domain_name, "state", db_lease_state_to_string(l.state));
        db_lease_clear(&l);
        return o;
}
