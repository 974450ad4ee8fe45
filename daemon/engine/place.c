/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Placing devices in a guest (see place.h).
 */
#include <errno.h>
#include <string.h>

#include "engine-private.h"
#include "place.h"

/* The Xen release guest layouts are made for: the hypervisor's, else 4.17. */
static struct guestcfg_target hv_target(struct engine *e)
{
        unsigned maj, min;

        if (hv_version(e->hv, &maj, &min, NULL) >= 0)
                return (struct guestcfg_target){ maj, min };
        return GUESTCFG_TARGET_DEFAULT;
}

int place_devices(struct engine *e, const struct dt_device *const *devs, size_t n,
                  enum guestcfg_mode mode, const struct guestcfg_target *target,
                  struct guestcfg_layout **ret, struct failure *f)
{
        _cleanup_(guestcfg_layout_freep) struct guestcfg_layout *l = NULL;
        _cleanup_free_ char *err = NULL;
        struct guestcfg_target t = target ? *target : hv_target(e);
        ssize_t which = -1;
        const char *path;
        int r;

        r = guestcfg_layout(devs, n, mode, &t, &l, &which, &err);
        if (r == -EOPNOTSUPP && !target && (t.xen_major != 4 || t.xen_minor != 17)) {
                free(err);
                err = NULL;
                t = GUESTCFG_TARGET_DEFAULT;
                r = guestcfg_layout(devs, n, mode, &t, &l, &which, &err);
        }
        path = which >= 0 && (size_t)which < n ? devs[which]->path : NULL;
        if (r == -EADDRINUSE)
                return failure_set_path(f, r, FAILURE_GUEST_ADDRESS_CONFLICT, path,
                                        "%s; use layout \"auto\" to relocate the device in the "
                                        "guest",
                                        err ? err : "a 1:1 guest address clashes with Xen's "
                                                    "guest memory map");
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
