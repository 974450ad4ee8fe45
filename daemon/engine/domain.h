/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domains as requests name them ("7" or "guest1") and as leases remember
 * them (a domid and the name it had).
 */
#ifndef ASSIGND_DOMAIN_H
#define ASSIGND_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "failure.h"
#include "hv.h"

struct engine;

/* A domid written as decimal digits below DOMID_IO. */
bool domain_parse_id(const char *s, uint32_t *ret);

/* Resolve "7" or "guest1" to a live domain (DomainNotFound otherwise). */
int domain_resolve(struct engine *e, const char *text, struct hv_domain_info *info,
                   struct failure *f);

/*
 * The state of a lease's domain: 1 alive, 0 gone (or its domid now names
 * another domain), or a negative errno.  *dying is set for a live one.  A
 * lease not bound to a domid counts as alive.
 */
int domain_of_lease(struct engine *e, const struct db_lease *l, bool *dying);

#endif
