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

/*
 * Place devs[0..n) in mode.  target NULL: the hypervisor's release,
 * falling back to 4.17's map (which has not moved since) when guest/ does
 * not know it; an explicit target is taken as given (InvalidArgument
 * xen_version when unknown).  GuestAddressConflict names the device that
 * clashes with Xen's guest memory map.
 */
int place_devices(struct engine *e, const struct dt_device *const *devs, size_t n,
                  enum guestcfg_mode mode, const struct guestcfg_target *target,
                  struct guestcfg_layout **ret, struct failure *f);

#endif
