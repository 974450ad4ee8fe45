/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Release: take devices back from a domain.
 *
 * A named device must be held by that domain, and a lease is released
 * whole (naming part of one is GroupIncomplete).  On a live domain its
 * MMIO is unmapped, its permissions revoked and its IOMMU assignment
 * removed at once, but its SPIs stay routed until the domain dies (Xen
 * unbinds SPIs only from a dying domain), so the lease stays "releasing"
 * with its devices held until then; on a dying or dead domain everything
 * goes at once.  A reservation whose domain exists but is not verified is
 * taken back as reserve.h says.
 */
#ifndef ASSIGND_RELEASE_H
#define ASSIGND_RELEASE_H

#include <stddef.h>

#include "engine.h"

/*
 * Release the named devices of domain (every lease of the domain when n
 * is 0), audited.  *ret (n_ret of them) are the leases as they are
 * afterwards.
 */
int release_devices(struct engine *e, const struct engine_caller *who, const char *domain,
                    const char *const *devices, size_t n, struct db_lease **ret,
                    size_t *n_ret, struct failure *f);

#endif
