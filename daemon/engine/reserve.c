/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations (see reserve.h): recording, cancelling, taking up,
 * verifying and taking back.
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

#include <json-c/json.h>

#include "audit.h"
#include "engine-private.h"
#include "generate.h"
#include "jv.h"
#include "lease-state.h"
#include "lease.h"
#include "log.h"
#include "plan-exec.h"
#include "recovery.h"
#include "reserve.h"
#include "strbuf.h"

void reserve_result_clear(struct reserve_result *r)
{
        if (!r)
                return;
        db_lease_clear(&r->lease);
        free(r->config);
        free(r->notes);
        free(r->device_tree);
        *r = (struct reserve_result){ 0 };
}

/* A domain name Reserve accepts: it also names a file. */
static bool name_ok(const char *n)
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

/* The partial DTB a reservation wrote (from its stored options), or NULL. */
static char *reservation_file(const struct db_lease *l)
{
        struct json_object *o = l->options ? json_tokener_parse(l->options) : NULL;
        const char *v = jv_get_str(o, "device_tree", NULL);
        char *path = v ? strdup(v) : NULL;

        json_object_put(o);
        return path;
}

static void remove_reservation_file(const struct db_lease *l)
{
        _cleanup_free_ char *path = reservation_file(l);

        if (path && unlink(path) < 0 && errno != ENOENT)
                log_warning("cannot remove %s: %m", path);
}

/*
 * ReservationExists when domain name already has a pending reservation or
 * a standing one (whatever its state: it outlives the domain's runs).
 */
static int check_no_reservation(struct engine *e, const char *name, struct failure *f)
{
        struct db_lease_filter lf = { .state = DB_LEASE_NONE, .domid = -1, .domain_name = name };
        struct db_lease *ls = NULL;
        size_t nl = 0, k = 0;
        int r;

        r = db_lease_list(e->db, &lf, &ls, &nl);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot read the leases");
        for (size_t i = 0; i < nl; i++)
                if (ls[i].standing || (ls[i].state == DB_LEASE_RESERVED && ls[i].domid < 0))
                        ls[k++] = ls[i];
                else
                        db_lease_clear(&ls[i]);
        nl = k;
        if (nl) {
                r = failure_set(f, -EEXIST, FAILURE_RESERVATION_EXISTS,
                                "%s lease %" PRId64 " already reserves devices for domain %s: "
                                "cancel it first", ls[0].standing ? "standing" : "pending",
                                ls[0].id, name);
                if (f) {
                        failure_fact(&f->domain, name);
                        f->lease = ls[0].id;
                }
        }
        db_lease_array_free(ls, nl);
        return r < 0 ? r : 0;
}

/* The refusals of Reserve that come before the devices' own. */
static int check_reserve(struct engine *e, const struct reserve_request *req, int64_t ttl,
                         struct failure *f)
{
        uint32_t domid;

        if (!name_ok(req->domain_name))
                return failure_invalid(f, "domain_name", "a reserved domain's name must be 1-%u "
                                       "characters of A-Z a-z 0-9 _ . - and not start with . or "
                                       "- (it also names its partial DTB)", HV_NAME_MAX);
        if (!req->standing && (ttl <= 0 || ttl > RESERVE_TTL_MAX))
                return failure_invalid(f, "ttl_seconds", "ttl_seconds must be 1..%d",
                                       RESERVE_TTL_MAX);
        if (req->free_while_down && !req->standing)
                return failure_invalid(f, "exclusive", "only a standing (persistent) "
                                       "reservation can leave its devices free while its domain "
                                       "is down");
        if (!e->opts.guest_dir)
                return failure_set(f, -EOPNOTSUPP, FAILURE_INTERNAL_ERROR,
                                   "the daemon has no directory for partial device trees");
        if (hv_domid_by_name(e->hv, req->domain_name, &domid, NULL) >= 0) {
                failure_invalid(f, "domain_name", "domain %s exists already (domid %u): a "
                                "reservation is for a domain about to be created; use Assign for "
                                "a running one", req->domain_name, domid);
                return -EEXIST;
        }
        return check_no_reservation(e, req->domain_name, f);
}

/* What Reserve stores as the lease's options (JSON text). */
static char *reserve_options(const struct reserve_request *req, enum guestcfg_mode mode,
                             const char *path, int64_t ttl)
{
        struct json_object *o = json_object_new_object();
        char *s = NULL;
        int r = 0;

        r |= jv_set_bool(o, "force_unprotected", req->force_unprotected);
        r |= jv_set_str(o, "layout", guestcfg_mode_to_string(mode));
        r |= jv_set_str(o, "device_tree", path);
        if (req->standing) {
                r |= jv_set_bool(o, "standing", true);
                r |= jv_set_bool(o, "exclusive", !req->free_while_down);
        } else {
                r |= jv_set_int(o, "ttl_seconds", ttl);
        }
        if (!r)
                s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return s;
}

static int do_reserve(struct engine *e, const struct engine_caller *who,
                      const struct reserve_request *req, struct reserve_result *ret,
                      struct failure *f)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_(place_taken_clear) struct place_taken taken = { 0 };
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_(reserve_result_clear) struct reserve_result res = { 0 };
        _cleanup_free_ void *blob = NULL;
        _cleanup_free_ char *err = NULL, *options = NULL;
        struct check_request c = {
                .devices = req->devices,
                .n_devices = req->n_devices,
                .force_unprotected = req->force_unprotected,
                /* Devices free while the domain is down may be anybody's now. */
                .busy = !req->free_while_down,
        };
        int64_t ttl = req->ttl_seconds ? req->ttl_seconds
                      : e->opts.reservation_ttl ? e->opts.reservation_ttl : RESERVE_TTL_DEFAULT;
        size_t len = 0;
        int64_t id = 0;
        bool forced;
        int r;

        r = check_reserve(e, req, ttl, f);
        if (r < 0)
                return r;
        r = place_taken_of(e, -1, req->domain_name, &taken, f);
        if (r >= 0)
                r = generate_layout(e, &c, req->layout, NULL, &taken, &l, &forced, f);
        if (r >= 0)
                r = plan_from_layout(l, false, &plan, f);
        if (r >= 0)
                r = generate_dtb(e, l, false, &blob, &len, &res.notes, f);
        if (r < 0)
                return r;
        res.device_tree = strdup_printf("%s/%s.dtb", e->opts.guest_dir, req->domain_name);
        if (!res.device_tree)
                return failure_oom(f);
        r = guestcfg_xl_config(l, res.device_tree, res.notes, &res.config, &err);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                   "cannot write the xl.cfg fragment: %s",
                                   err ? err : strerror(-r));
        r = write_guest_file(e->opts.guest_dir, res.device_tree, blob, len, &err);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "%s", err ? err : strerror(-r));
        options = reserve_options(req, l->mode, res.device_tree, ttl);
        if (!options) {
                unlink(res.device_tree);
                return failure_oom(f);
        }
        res.expires_at = req->standing ? 0 : (int64_t)time(NULL) + ttl;
        r = lease_state_create(e->db, &(struct db_lease){
                                       .domain_name = (char *)req->domain_name,
                                       .domid = -1,
                                       .state = DB_LEASE_RESERVED,
                                       .forced = forced,
                                       .uid = (uint32_t)who->uid,
                                       .pid = (int32_t)who->pid,
                                       .expires_at = res.expires_at,
                                       .standing = req->standing,
                                       .free_while_down = req->free_while_down,
                                       .options = options,
                                       .devices = (char **)req->devices,
                                       .n_devices = req->n_devices,
                               }, &plan, "Reserve recorded a reservation", &id);
        if (r < 0) {
                unlink(res.device_tree);
                return engine_fail_storage(e, f, r, "cannot record the reservation");
        }
        log_info("lease %" PRId64 ": %zu device%s reserved for domain %s %s (partial DTB %s)", id,
                 req->n_devices, req->n_devices == 1 ? "" : "s", req->domain_name,
                 req->standing ? "until cancelled (standing)" : "for a limited time",
                 res.device_tree);
        r = db_lease_get(e->db, id, &res.lease);
        if (r < 0)
                return engine_fail_storage(e, f, r, "lease %" PRId64 " was recorded but cannot "
                                           "be read back", id);
        *ret = res;
        res = (struct reserve_result){ 0 };
        return 0;
}

int reserve_devices(struct engine *e, const struct engine_caller *who,
                    const struct reserve_request *req, struct reserve_result *ret,
                    struct failure *f)
{
        int r;

        recovery_domains_changed(e);
        r = engine_refuse_while_pending(e, f);
        if (r >= 0)
                r = do_reserve(e, who, req, ret, f);
        audit_request(e->db, who, "Reserve", req->domain_name, req->devices, req->n_devices, r, f,
                      NULL);
        return r;
}

/* ---- cancelling ------------------------------------------------------------ */

static void emit_reservation_end(struct engine *e, const struct db_lease *l, const char *detail)
{
        struct event ev = EVENT_INIT(EVENT_RESERVATION_EXPIRED);

        ev.devices = l->devices;
        ev.n_devices = l->n_devices;
        ev.domain = l->domain_name;
        ev.lease = l->id;
        ev.state = "free";
        ev.detail = detail;
        events_emit(e->events, &ev);
}

static int not_pending(struct failure *f, const char *name, int64_t id)
{
        int r;

        if (name)
                r = failure_set(f, -ENOENT, FAILURE_RESERVATION_NOT_FOUND,
                                "no pending or standing reservation for domain %s", name);
        else
                r = failure_set(f, -ENOENT, FAILURE_RESERVATION_NOT_FOUND,
                                "lease %" PRId64 " is not a pending or standing reservation", id);
        if (f) {
                failure_fact(&f->domain, name);
                f->lease = id > 0 ? id : -1;
        }
        return r;
}

/* Whether cancel may look at l: a pending reservation, or a standing one in any state. */
static bool cancellable(const struct db_lease *l, int64_t id)
{
        if (id > 0 && l->id != id)
                return false;
        return l->standing || l->state == DB_LEASE_RESERVED;
}

static int do_cancel(struct engine *e, const char *name, int64_t id, struct db_lease *ret,
                     struct failure *f)
{
        struct db_lease_filter lf = { .state = DB_LEASE_NONE, .domid = -1, .domain_name = name };
        struct db_lease *ls = NULL, *l = NULL;
        size_t n = 0;
        int r;

        r = db_lease_list(e->db, &lf, &ls, &n);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot read the leases");
        for (size_t i = 0; i < n && !l; i++)
                if (cancellable(&ls[i], id))
                        l = &ls[i];
        if (!l) {
                r = not_pending(f, name, id);
        } else if (l->standing && (l->domid >= 0 || l->state != DB_LEASE_RESERVED)) {
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, l->devices[0],
                                     "domain %s is running (domid %d) with standing lease %"
                                     PRId64 "'s devices: shut it down or destroy it first, "
                                     "then cancel (the lease is %s)",
                                     l->domain_name ? l->domain_name : "?", l->domid, l->id,
                                     db_lease_state_to_string(l->state));
                if (f) {
                        f->domid = l->domid;
                        f->state = db_lease_state_to_string(l->state);
                        f->lease = l->id;
                }
        } else if (l->domid >= 0) {
                r = failure_set_path(f, -EBUSY, FAILURE_DEVICE_BUSY, l->devices[0],
                                     "domain %s (domid %d) has been created with lease %" PRId64
                                     "'s devices and is being verified: release the domain's "
                                     "devices with Release, or destroy it",
                                     l->domain_name ? l->domain_name : "?", l->domid, l->id);
                if (f) {
                        f->domid = l->domid;
                        f->state = "reserved";
                        f->lease = l->id;
                }
        } else {
                r = lease_state_change(e->db, l->id, DB_LEASE_FREE, NULL,
                                       l->standing ? "standing reservation cancelled"
                                                   : "reservation cancelled",
                                       "CancelReservation");
                if (r < 0)
                        r = engine_fail_storage(e, f, r, "cannot cancel lease %" PRId64, l->id);
        }
        if (r >= 0) {
                remove_reservation_file(l);
                emit_reservation_end(e, l, "reservation cancelled");
                r = db_lease_get(e->db, l->id, ret);
                if (r < 0)
                        r = engine_fail_storage(e, f, r, "lease %" PRId64 " was cancelled but "
                                                "cannot be read back", l->id);
        }
        db_lease_array_free(ls, n);
        return r < 0 ? r : 0;
}

int reserve_cancel(struct engine *e, const struct engine_caller *who, const char *domain_name,
                   int64_t id, struct db_lease *ret, struct failure *f)
{
        _cleanup_free_ char *target = NULL;
        int r;

        if (!domain_name && id <= 0)
                return failure_invalid(f, "domain_name", "name the reservation by domain_name "
                                       "or by lease");
        r = engine_refuse_while_pending(e, f);
        if (r >= 0)
                r = do_cancel(e, domain_name, id, ret, f);
        target = domain_name ? strdup_printf("domain %s", domain_name)
                             : strdup_printf("lease %" PRId64, id);
        audit_append(e->db, who, "CancelReservation", target,
                     r < 0 ? failure_code_name(f ? f->code : FAILURE_INTERNAL_ERROR) : "ok",
                     r < 0 && f ? f->message : NULL, false);
        return r;
}

/* ---- verifying ---------------------------------------------------------------- */

/* The question domain_holds answers for a plan step. */
static struct hv_hold query_of(const struct plan_step *s)
{
        struct hv_hold q = { .answer = HV_UNKNOWN };

        switch (s->step) {
        case HV_STEP_IOMEM_PERMISSION:
                q.kind = HV_HOLD_IOMEM;
                break;
        case HV_STEP_MEMORY_MAPPING:
                q.kind = HV_HOLD_MAPPING;
                break;
        case HV_STEP_IRQ_PERMISSION:
                q.kind = HV_HOLD_IRQ;
                break;
        case HV_STEP_BIND_SPI:
                q.kind = HV_HOLD_SPI;
                break;
        default:
                q.kind = HV_HOLD_DT;
                break;
        }
        q.mfn = s->mfn;
        q.gfn = s->gfn;
        q.nr = s->nr;
        q.irq = s->irq;
        q.path = s->device;
        return q;
}

/* One line of a mismatch, for the step the domain does not hold. */
static void mismatch(struct strbuf *b, const struct plan_step *s)
{
        switch (s->step) {
        case HV_STEP_IOMEM_PERMISSION:
                strbuf_printf(b, "%s: no iomem permission for MFN 0x%" PRIx64 "+%" PRIu64 "\n",
                              s->device, s->mfn, s->nr);
                break;
        case HV_STEP_MEMORY_MAPPING:
                strbuf_printf(b, "%s: MFN 0x%" PRIx64 "+%" PRIu64 " is not mapped at GFN 0x%" PRIx64
                              "\n", s->device, s->mfn, s->nr, s->gfn);
                break;
        case HV_STEP_BIND_SPI:
                strbuf_printf(b, "%s: SPI %u (INTID %u) is not routed to it\n", s->device,
                              s->irq - 32, s->irq);
                break;
        case HV_STEP_ASSIGN_DT:
                strbuf_printf(b, "%s: not assigned to it through the IOMMU (dtdev)\n", s->device);
                break;
        default:
                break;
        }
}

/* What verification checked (asked and answered), in words, for the audit row. */
static char *checked_words(const bool asked[HV_HOLD__MAX], const bool seen[HV_HOLD__MAX])
{
        static const struct {
                enum hv_hold_kind kind;
                const char *words;
        } kinds[] = {
                { HV_HOLD_DT, "IOMMU assignments" }, { HV_HOLD_IOMEM, "iomem permissions" },
                { HV_HOLD_MAPPING, "mappings" },     { HV_HOLD_SPI, "SPIs" },
        };
        const char *yes[ARRAY_SIZE(kinds)], *no[ARRAY_SIZE(kinds)];
        struct strbuf b = STRBUF_INIT;
        size_t ny = 0, nn = 0;
        char *s = NULL;

        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                if (seen[kinds[i].kind])
                        yes[ny++] = kinds[i].words;
                else if (asked[kinds[i].kind])
                        no[nn++] = kinds[i].words;
        }
        for (size_t i = 0; i < ny; i++)
                strbuf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == ny ? " and " : ", ", yes[i]);
        strbuf_append(&b, ny ? " checked" : "nothing could be checked");
        for (size_t i = 0; i < nn; i++)
                strbuf_printf(&b, "%s%s", i == 0 ? " (Xen cannot report " : i + 1 == nn ? " or "
                                                                                  : ", ",
                              no[i]);
        if (nn)
                strbuf_append(&b, ")");
        return strbuf_steal(&b, &s) < 0 ? NULL : s;
}

/*
 * Check that domain info->domid holds what the reservation's fragment
 * grants, as far as the backend can tell (hv_domain_holds): what it cannot
 * see counts as held.  Marks in plan the steps found done.  Returns 0
 * when everything matches, 1 with *why (one line per mismatch) when not,
 * or a negative errno; *checked (may be NULL) says what was checked.
 */
static int verify(struct engine *e, const struct hv_domain_info *info, struct plan *plan,
                  char **why, char **checked)
{
        _cleanup_free_ struct hv_hold *q = calloc(plan->n_steps + 1, sizeof(*q));
        struct strbuf b = STRBUF_INIT;
        bool bad = false, protected_ = false;
        bool asked[HV_HOLD__MAX] = { false }, seen[HV_HOLD__MAX] = { false };
        int r;

        if (!q)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_steps; i++)
                q[i] = query_of(&plan->steps[i]);
        r = hv_domain_holds(e->hv, info->domid, q, plan->n_steps, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < plan->n_steps; i++) {
                struct plan_step *s = &plan->steps[i];
                /* What the backend cannot see is assumed there, so a release revokes it. */
                bool ok = q[i].answer != HV_NO;

                asked[q[i].kind] = true;
                if (q[i].answer != HV_UNKNOWN)
                        seen[q[i].kind] = true;
                s->done = ok;
                /*
                 * xl on Arm binds SPIs without granting the domain the IRQ
                 * (Xen checks only dom0's permission): not a mismatch.
                 */
                if (s->step == HV_STEP_IRQ_PERMISSION)
                        continue;
                if (s->step == HV_STEP_ASSIGN_DT)
                        protected_ = true;
                if (!ok)
                        mismatch(&b, s);
                bad |= !ok;
        }
        if (protected_ && info->passthrough == HV_NO) {
                strbuf_append(&b, "the domain was created without the IOMMU "
                                  "(passthrough=\"enabled\" missing)\n");
                bad = true;
        }
        if (checked)
                *checked = checked_words(asked, seen);
        if (strbuf_steal(&b, why) < 0)
                return -ENOMEM;
        if (!bad) {
                free(*why);
                *why = NULL;
                return 0;
        }
        if (**why && (*why)[strlen(*why) - 1] == '\n')
                (*why)[strlen(*why) - 1] = 0;
        return 1;
}

/* ---- taking up and taking back ---------------------------------------------- */

/*
 * A live domain holds part of what its reservation grants (the steps of
 * plan marked done by verify()).  Failing the lease would free devices
 * the domain can still reach, so it is released as a live domain is:
 * mappings, permissions and IOMMU assignments are revoked now, SPIs stay
 * routed until the domain dies, and since a hand-edited xl.cfg may have
 * granted more than the plan records (another guest address, say), the
 * lease stays "releasing", bound to the domid, until the domain is gone
 * (plan->hold).  Returns 1 (the lease changed) or a negative errno.
 */
static int take_back(struct engine *e, const struct db_lease *l, uint32_t domid,
                     struct plan *plan, const char *mismatch_text, const char *target,
                     bool requested)
{
        struct log_fields lf = LOG_FIELDS_INIT;
        _cleanup_free_ char *msg = NULL, *left = NULL, *intent = NULL;
        struct plan_undo u = { 0 };
        int r;

        plan->hold = true;
        /*
         * Intent first, worded so that it stays true if a crash leaves the
         * rest to reconciliation.
         */
        intent = strdup_printf("%s; what it does hold is revoked and its devices stay held "
                               "until it dies", mismatch_text);
        r = lease_state_change(e->db, l->id, DB_LEASE_RELEASING, plan,
                               intent ? intent : mismatch_text,
                               requested ? "Release took back a reservation before it was "
                                           "verified"
                                         : "the domain holds only part of its reservation");
        if (r < 0)
                return r;
        plan_exec_undo(e, l->id, domid, plan, -1, &u);
        if (u.r < 0)
                left = strdup_printf(" (%s for %s failed with %s: %s; that goes only when the "
                                     "domain does)", hv_step_name(u.step),
                                     u.device ? u.device : "?",
                                     strerrorname_np(-u.r) ? strerrorname_np(-u.r) : "?",
                                     u.message ? u.message : strerror(-u.r));
        msg = strdup_printf("%s; what it does hold was revoked%s and its devices stay held until "
                            "it dies%s", mismatch_text,
                            u.stuck ? " (its routed SPIs only when it dies: Xen unbinds them "
                                      "from a dying domain only)" : "",
                            left ? left : "");
        r = lease_state_change(e->db, l->id, DB_LEASE_RELEASING, plan,
                               msg ? msg : mismatch_text, "what the domain held was revoked");
        if (r < 0)
                engine_hold_outcome(e, l->id, DB_LEASE_RELEASING, plan, msg ? msg : mismatch_text,
                                    "what the domain held was revoked", r);
        plan_undo_clear(&u);
        /* A Release is audited and announced by its caller. */
        if (requested) {
                log_info("%s: %s", target ? target : "lease", msg ? msg : mismatch_text);
                return 1;
        }
        audit_lease_fields(&lf, l, NULL);
        log_fields_add_int(&lf, LOG_FIELD_DOMID, domid);
        log_event(LOG_WARNING, LOG_MESSAGE_RESERVATION_MISMATCH, &lf, "%s: %s",
                  target ? target : "lease", msg ? msg : mismatch_text);
        audit_append(e->db, NULL, "ReservationFailed", target, "VerificationFailed",
                     msg ? msg : mismatch_text, true);
        engine_emit_lease(e, EVENT_DEVICE_RELEASED, l->id, EVENT_CAUSE_VERIFICATION_FAILED,
                          msg ? msg : mismatch_text);
        return 1;
}

/* Whether info is the domain the reservation l was bound to (not gone, not a reused domid). */
static bool same_domain(const struct db_lease *l, int r, const struct hv_domain_info *info)
{
        return r != -ESRCH &&
               !(r >= 0 && info->name[0] && l->domain_name && !streq(info->name, l->domain_name));
}

/* A reservation no domain took up: expired, or still waiting (0). */
static int expire(struct engine *e, const struct db_lease *l, bool expired, const char *target)
{
        struct log_fields lf = LOG_FIELDS_INIT;
        _cleanup_free_ char *msg = NULL;
        int r;

        if (!expired)
                return 0;
        msg = strdup_printf("reservation expired: no domain named %s appeared",
                            l->domain_name ? l->domain_name : "?");
        r = lease_state_change(e->db, l->id, DB_LEASE_FREE, NULL, msg, "it expired with no domain");
        if (r < 0)
                return r;
        remove_reservation_file(l);
        audit_lease_fields(&lf, l, NULL);
        log_event(LOG_INFO, LOG_MESSAGE_RESERVATION_EXPIRED, &lf, "%s: %s",
                  target ? target : "lease", msg ? msg : "expired");
        audit_append(e->db, NULL, "ReservationExpired", target, "ok", msg, false);
        emit_reservation_end(e, l, msg);
        return 1;
}

/*
 * A standing reservation whose domain is gone goes back to reserved,
 * unbound, its plan as new: it waits for the next domain of its name (and
 * an exclusive one keeps its devices meanwhile).  Returns 1 (changed) or a
 * negative errno.
 */
int reserve_standing_rest(struct engine *e, const struct db_lease *l, const char *why)
{
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *target = NULL;
        int r;

        r = plan_from_lease(l, &plan, NULL);
        if (r < 0)
                return r;
        plan.hold = false;
        for (size_t i = 0; i < plan.n_steps; i++)
                plan.steps[i].done = plan.steps[i].undone = plan.steps[i].kept = false;
        r = lease_state_change(e->db, l->id, DB_LEASE_RESERVED, &plan, why,
                               "a standing reservation's domain is gone: it waits for the next "
                               "one");
        /* Unbound after the state: a crash between leaves it bound to a dead domid, which
         * the next look unbinds again. */
        if (r >= 0 && l->domid >= 0)
                r = lease_bind_domid(e->db, l->id, -1);
        if (r < 0)
                return r;
        target = strdup_printf("lease %" PRId64 " (domain %s)", l->id,
                               l->domain_name ? l->domain_name : "?");
        log_info("%s: %s; standing: reserved for the next domain of that name%s",
                 target ? target : "lease", why,
                 l->free_while_down ? " (its devices are free meanwhile)" : "");
        audit_append(e->db, NULL, "StandingReserved", target, "ok", why, false);
        engine_emit_lease(e, EVENT_DEVICE_RELEASED, l->id, EVENT_CAUSE_DOMAIN_DIED, why);
        return 1;
}

/*
 * A non-exclusive standing reservation's domain appeared while another
 * lease holds one of its devices: the binding is refused (the index's
 * constraint), said once per domain with a warning, an audit row and an
 * event; the lease waits for the next domain.
 */
static int refuse_bind(struct engine *e, const struct db_lease *l, uint32_t domid,
                       const char *target)
{
        _cleanup_free_ char *msg = NULL, *holders = NULL;
        struct strbuf b = STRBUF_INIT;
        struct event ev = EVENT_INIT(EVENT_RESERVATION_REFUSED);
        struct log_fields lf = LOG_FIELDS_INIT;
        int r;

        msg = strdup_printf("refused at bind of domid %u:", domid);
        if (msg && l->error && startswith(l->error, msg))
                return 0;       /* said already for this domain */
        for (size_t i = 0; i < l->n_devices; i++) {
                struct db_lease h = { 0 };

                if (db_lease_find_by_device(e->db, l->devices[i], &h) == 0 && h.id != l->id)
                        strbuf_printf(&b, "%s%s (lease %" PRId64 ", domain %s)",
                                      b.len ? ", " : "", l->devices[i], h.id,
                                      h.domain_name ? h.domain_name : "?");
                db_lease_clear(&h);
        }
        if (strbuf_steal(&b, &holders) < 0)
                holders = NULL;
        free(msg);
        msg = strdup_printf("refused at bind of domid %u: domain %s appeared while %s %s held "
                            "by another lease; the domain runs without them",
                            domid, l->domain_name ? l->domain_name : "?",
                            holders && *holders ? holders : "its devices",
                            holders && strchr(holders, ',') ? "are" : "is");
        r = lease_state_change(e->db, l->id, DB_LEASE_RESERVED, NULL, msg,
                               "a non-exclusive standing reservation could not take its devices");
        if (r < 0)
                return r;
        audit_lease_fields(&lf, l, NULL);
        log_fields_add_int(&lf, LOG_FIELD_DOMID, domid);
        log_event(LOG_WARNING, LOG_MESSAGE_STANDING_REFUSED, &lf, "%s: %s",
                  target ? target : "lease", msg ? msg : "refused at bind");
        audit_append(e->db, NULL, "StandingRefused", target, "DeviceBusy", msg, true);
        ev.devices = l->devices;
        ev.n_devices = l->n_devices;
        ev.domid = domid;
        ev.domain = l->domain_name;
        ev.lease = l->id;
        ev.state = "reserved";
        ev.detail = msg;
        events_emit(e->events, &ev);
        return 1;
}

/* Bind l to the domain of its name when it appeared: 1 bound, 0 not there, or -errno. */
static int bind_domain(struct engine *e, const struct db_lease *l, const char *target,
                       uint32_t *domid)
{
        struct log_fields lf = LOG_FIELDS_INIT;
        _cleanup_free_ char *msg = NULL;
        int r;

        r = l->domain_name ? hv_domid_by_name(e->hv, l->domain_name, domid, NULL) : -ENOENT;
        /*
         * Only a domain known not to exist lets an expired reservation go: if
         * xenstore cannot be read, the domain may be there with its grants.
         */
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = lease_bind_domid(e->db, l->id, (int)*domid);
        if (r < 0)
                return r;       /* -EEXIST: a standing lease's device is held by another */
        audit_lease_fields(&lf, l, NULL);
        log_fields_add_int(&lf, LOG_FIELD_DOMID, *domid);
        log_event(LOG_INFO, LOG_MESSAGE_RESERVATION_BOUND, &lf,
                  "%s: domain %s appeared as domid %u", target ? target : "lease",
                  l->domain_name, *domid);
        msg = strdup_printf("domid %u", *domid);
        audit_append(e->db, NULL, "ReservationBound", target, "ok", msg, false);
        engine_emit_lease(e, EVENT_RESERVATION_BOUND, l->id, NULL, NULL);
        return 1;
}

/* The reservation's domain does not hold it all: wait, take back, or fail. */
static int unverified(struct engine *e, const struct db_lease *l, const struct hv_domain_info *info,
                      struct plan *plan, const char *why, bool expired, const char *target)
{
        struct log_fields lf = LOG_FIELDS_INIT;
        _cleanup_free_ char *msg = NULL;
        int r;

        /*
         * xl announces the domain before it grants its devices: a domain that
         * has not run may still be being built.  Wait for it to run, or for
         * the reservation to expire.
         */
        if (info->has_run != HV_YES && !info->dying && !expired) {
                log_debug("%s: domid %u does not hold everything yet: %s",
                          target ? target : "lease", info->domid, why);
                return 0;
        }
        msg = strdup_printf("domain %s (domid %u) does not hold what its reservation grants: %s",
                            l->domain_name ? l->domain_name : "?", info->domid, why);
        /* A standing reservation outlives this domain: it waits for the next one. */
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].done || l->standing)
                        return take_back(e, l, info->domid, plan, msg ? msg : why, target,
                                         false);
        /* It got none of it: the database and Xen agree that the devices are free. */
        r = lease_state_change(e->db, l->id, DB_LEASE_FAILED, plan, msg ? msg : why,
                               "the domain holds none of its reservation");
        if (r < 0)
                return r;
        audit_lease_fields(&lf, l, NULL);
        log_fields_add_int(&lf, LOG_FIELD_DOMID, info->domid);
        log_event(LOG_WARNING, LOG_MESSAGE_RESERVATION_MISMATCH, &lf, "%s: %s",
                  target ? target : "lease", msg ? msg : why);
        audit_append(e->db, NULL, "ReservationFailed", target, "VerificationFailed",
                     msg ? msg : why, true);
        engine_emit_lease(e, EVENT_DEVICE_RELEASED, l->id, EVENT_CAUSE_VERIFICATION_FAILED,
                          msg ? msg : why);
        return 1;
}

/* Try to take up one reservation; returns 1 if it changed. */
static int check_reservation(struct engine *e, const struct db_lease *l, time_t now)
{
        struct log_fields lf = LOG_FIELDS_INIT;
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *why = NULL, *perr = NULL, *target = NULL, *msg = NULL;
        _cleanup_free_ char *checked = NULL;
        struct hv_domain_info info;
        bool expired = l->expires_at > 0 && now >= l->expires_at;
        uint32_t domid;
        int r;

        target = strdup_printf("lease %" PRId64 " (domain %s)", l->id,
                               l->domain_name ? l->domain_name : "?");
        if (l->domid < 0) {
                r = bind_domain(e, l, target, &domid);
                if (r == -EEXIST)
                        return refuse_bind(e, l, domid, target);
                if (r <= 0)
                        return r < 0 ? r : expire(e, l, expired, target);
        } else {
                domid = (uint32_t)l->domid;
        }

        r = hv_domain_info(e->hv, domid, &info, NULL);
        if (!same_domain(l, r, &info)) {
                msg = strdup_printf("domain %s (domid %u) went away before its devices were "
                                    "verified", l->domain_name ? l->domain_name : "?", domid);
                if (l->standing)
                        return reserve_standing_rest(e, l, msg ? msg : "domain gone");
                r = lease_state_change(e->db, l->id, DB_LEASE_FAILED, NULL, msg,
                                       "the domain went away before it was verified");
                if (r < 0)
                        return r;
                audit_lease_fields(&lf, l, NULL);
                log_fields_add_int(&lf, LOG_FIELD_DOMID, domid);
                log_event(LOG_WARNING, LOG_MESSAGE_RESERVATION_MISMATCH, &lf, "%s: %s",
                          target ? target : "lease", msg ? msg : "domain gone");
                audit_append(e->db, NULL, "ReservationFailed", target, "DomainNotFound", msg,
                             true);
                engine_emit_lease(e, EVENT_DEVICE_RELEASED, l->id, EVENT_CAUSE_DOMAIN_DIED, NULL);
                return 1;
        }
        if (r < 0)
                return r;
        r = plan_from_lease(l, &plan, &perr);
        if (r < 0)
                return r;
        r = verify(e, &info, &plan, &why, &checked);
        if (r < 0)
                return r;
        if (r > 0)
                return unverified(e, l, &info, &plan, why, expired, target);
        r = lease_state_change(e->db, l->id, DB_LEASE_ASSIGNED, &plan, "",
                               "the domain holds its reservation");
        if (r < 0)
                return r;
        audit_lease_fields(&lf, l, NULL);
        log_fields_add_int(&lf, LOG_FIELD_DOMID, domid);
        log_event(LOG_INFO, LOG_MESSAGE_ASSIGNED, &lf, "%s: verified: domid %u holds its devices",
                  target ? target : "lease", domid);
        audit_append(e->db, NULL, "ReservationVerified", target, "ok", checked, false);
        engine_emit_lease(e, EVENT_DEVICE_ASSIGNED, l->id, NULL, NULL);
        return 1;
}

int reserve_check_all(struct engine *e)
{
        struct db_lease_filter lf = { .state = DB_LEASE_RESERVED, .domid = -1 };
        struct db_lease *ls = NULL;
        time_t now = time(NULL);
        size_t n = 0;
        int r, changed = 0;

        r = db_lease_list(e->db, &lf, &ls, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = check_reservation(e, &ls[i], now);
                if (r < 0)
                        log_warning("lease %" PRId64 ": cannot check the reservation: %s",
                                    ls[i].id, strerror(-r));
                else
                        changed += r;
        }
        db_lease_array_free(ls, n);
        return changed;
}

int reserve_release(struct engine *e, const struct db_lease *l, struct failure *f)
{
        _cleanup_(plan_clear) struct plan plan = { 0 };
        _cleanup_free_ char *perr = NULL, *why = NULL, *msg = NULL, *target = NULL;
        struct hv_domain_info info;
        int r;

        r = hv_domain_info(e->hv, (uint32_t)l->domid, &info, NULL);
        if (!same_domain(l, r, &info)) {
                /* Gone: Xen dropped whatever xl had granted. */
                r = lease_state_change(e->db, l->id, DB_LEASE_FREE, NULL,
                                       "released before verification; the domain is gone",
                                       "Release of a reservation whose domain is gone");
                return r < 0 ? engine_fail_storage(e, f, r, "cannot record the release")
                             : 0;
        }
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                   "cannot get the domain's state: %s", strerror(-r));
        r = plan_from_lease(l, &plan, &perr);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR, "lease %" PRId64 ": %s", l->id,
                                   perr ? perr : strerror(-r));
        /* Marks what the domain was found to hold: steps xl never made are left alone. */
        r = verify(e, &info, &plan, &why, NULL);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                   "cannot read what domain %u holds: %s", info.domid,
                                   strerror(-r));
        msg = strdup_printf("released on request before domain %s (domid %u) was verified",
                            l->domain_name ? l->domain_name : "?", info.domid);
        target = strdup_printf("lease %" PRId64 " (domain %s)", l->id,
                               l->domain_name ? l->domain_name : "?");
        r = take_back(e, l, info.domid, &plan, msg ? msg : "released before verification",
                      target, true);
        return r < 0 ? engine_fail_storage(e, f, r, "cannot record the release")
                     : 0;
}
