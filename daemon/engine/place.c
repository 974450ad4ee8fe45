/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Placing devices in a guest (see place.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "place.h"
#include "plan.h"

/* The Xen release guest layouts are made for: the hypervisor's, else 4.17. */
static struct guestcfg_target hv_target(struct engine *e)
{
        unsigned maj, min;

        if (e->hv && hv_version(e->hv, &maj, &min, NULL) >= 0)
                return (struct guestcfg_target){ maj, min };
        return GUESTCFG_TARGET_DEFAULT;
}

void place_taken_clear(struct place_taken *t)
{
        for (size_t i = 0; i < t->n; i++)
                free((char *)t->v[i].owner);
        free(t->v);
        *t = (struct place_taken){ 0 };
}

/* Add lease l's mapped guest pages to t. */
static int add_lease_pages(struct place_taken *t, const struct db_lease *l)
{
        _cleanup_(plan_clear) struct plan p = { 0 };

        if (plan_from_lease(l, &p, NULL) < 0)
                return 0;       /* reconciliation reports a plan that does not decode */
        for (size_t i = 0; i < p.n_steps; i++) {
                const struct plan_step *s = &p.steps[i];
                char *owner;

                if (s->step != HV_STEP_MEMORY_MAPPING || s->undone)
                        continue;
                owner = strdup_printf("lease %" PRId64 " (%s)", l->id, s->device);
                if (!owner || GROW(t->v, t->cap, t->n) < 0) {
                        free(owner);
                        return -ENOMEM;
                }
                t->v[t->n++] = (struct guestcfg_taken){
                        .guest_pfn = s->gfn, .nr_pages = s->nr, .owner = owner,
                };
        }
        return 0;
}

int place_taken_of(struct engine *e, int64_t domid, const char *name, struct place_taken *ret,
                   struct failure *f)
{
        struct place_taken t = { 0 };
        struct db_lease *ls = NULL;
        size_t n = 0;
        int r;

        r = db_lease_list(e->db, NULL, &ls, &n);
        if (r < 0)
                return engine_fail_storage(e, f, r, "cannot read the leases");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                bool mine = (domid >= 0 && ls[i].domid == domid) ||
                            (name && streq(ls[i].domain_name, name));

                if (mine)
                        r = add_lease_pages(&t, &ls[i]);
        }
        db_lease_array_free(ls, n);
        if (r < 0) {
                place_taken_clear(&t);
                return failure_oom(f);
        }
        *ret = t;
        return 0;
}

int place_devices(struct engine *e, const struct dt_device *const *devs, size_t n,
                  enum guestcfg_mode mode, const struct guestcfg_target *target,
                  const struct place_taken *taken, struct guestcfg_layout **ret,
                  struct failure *f)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_free_ char *err = NULL;
        struct guestcfg_target t = target ? *target : hv_target(e);
        const struct guestcfg_taken *tv = taken ? taken->v : NULL;
        size_t tn = taken ? taken->n : 0;
        ssize_t which = -1;
        const char *path;
        int r;

        r = guestcfg_layout_around(devs, n, mode, &t, tv, tn, &l, &which, &err);
        if (r == -EOPNOTSUPP && !target && (t.xen_major != 4 || t.xen_minor != 17)) {
                free(err);
                err = NULL;
                t = GUESTCFG_TARGET_DEFAULT;
                r = guestcfg_layout_around(devs, n, mode, &t, tv, tn, &l, &which, &err);
        }
        path = which >= 0 && (size_t)which < n ? devs[which]->path : NULL;
        if (r == -EADDRINUSE)
                return failure_set_path(f, r, FAILURE_GUEST_ADDRESS_CONFLICT, path,
                                        "%s; use layout \"auto\" to relocate the device in the "
                                        "guest",
                                        err ? err : "a 1:1 guest address clashes with Xen's "
                                                    "guest memory map");
        /* A request too big for the guest's free windows: the request's fault, not ours. */
        if (r == -ENOSPC)
                return failure_set_path(f, r, FAILURE_GUEST_ADDRESS_CONFLICT, path,
                                        "%s", err ? err : "no room in the guest's free windows");
        if (r == -EOPNOTSUPP && target)
                return failure_invalid(f, "xen_version", "%s",
                                       err ? err : "no guest memory map is known for that Xen");
        if (r == -EINVAL) {
                r = failure_set_path(f, r, FAILURE_DEVICE_NOT_ASSIGNABLE,
                                     path ? path : (n ? devs[0]->path : ""),
                                     "cannot place the devices in the guest: %s",
                                     err ? err : strerror(-r));
                if (f)
                        failure_fact(&f->reason, err ? err : "cannot be placed");
                return r;
        }
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                   "cannot place the devices in the guest: %s",
                                   err ? err : strerror(-r));
        *ret = steal_ptr(l);
        return 0;
}
