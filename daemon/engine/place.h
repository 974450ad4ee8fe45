/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Placing devices in a guest's physical address space, with the refusals
 * named for the device the layout concerns (guest/ does the placing).
 */
#ifndef ASSIGND_PLACE_H
#define ASSIGND_PLACE_H

#include <stddef.h>

#include "dt.h"
#include "failure.h"
#include "guestcfg.h"

struct engine;
struct place_taken;

/*
 * Place devs[0..n) in mode.  target NULL: the hypervisor's release,
 * falling back to 4.17's map (which has not moved since) when guest/ does
 * not know it; an explicit target is taken as given (InvalidArgument
 * xen_version when unknown).  GuestAddressConflict names the device that
 * clashes with Xen's guest memory map.
 */
int place_devices(struct engine *e, const struct dt_device *const *devs, size_t n,
                  enum guestcfg_mode mode, const struct guestcfg_target *target,
                  const struct place_taken *taken, struct guestcfg_layout **ret,
                  struct failure *f);

/*
 * The guest pages a domain's other leases map (or will map, for a
 * reservation): every memory mapping step not undone of the non-final
 * leases bound to domid, or recorded for the domain name (either may be
 * -1 / NULL).  A new placement must land around them: Xen replaces a
 * mapping on the same guest page, which would cut a hole in the other
 * lease.
 */
struct place_taken {
        struct guestcfg_taken *v;
        size_t n, cap;
};
int place_taken_of(struct engine *e, int64_t domid, const char *name, struct place_taken *ret,
                   struct failure *f);
void place_taken_clear(struct place_taken *t);

#endif
