/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Looking domains up for requests and leases (see domain.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "engine-private.h"

bool domain_parse_id(const char *s, uint32_t *ret)
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

/* DomainNotFound for the domain as the request named it. */
static int not_found(struct failure *f, const char *text, bool by_name)
{
        int r = by_name ? failure_set(f, -ESRCH, FAILURE_DOMAIN_NOT_FOUND,
                                      "no live domain is named \"%s\"", text)
                        : failure_set(f, -ESRCH, FAILURE_DOMAIN_NOT_FOUND,
                                      "domain %s does not exist", text);

        if (f)
                failure_fact(&f->domain, text);
        return r;
}

int domain_resolve(struct engine *e, const char *text, struct hv_domain_info *info,
                   struct failure *f)
{
        _cleanup_free_ char *err = NULL;
        uint32_t domid;
        int r;

        if (!text || !*text)
                return failure_invalid(f, "domain", "no domain given");
        if (!domain_parse_id(text, &domid)) {
                r = hv_domid_by_name(e->hv, text, &domid, &err);
                if (r == -ENOENT)
                        return not_found(f, text, true);
                if (r < 0)
                        return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                           "cannot look up domain %s: %s", text,
                                           err ? err : strerror(-r));
        }
        r = hv_domain_info(e->hv, domid, info, &err);
        if (r == -ESRCH)
                return not_found(f, text, false);
        if (r < 0)
                return failure_set(f, r, FAILURE_INTERNAL_ERROR,
                                   "cannot get the state of domain %s: %s", text,
                                   err ? err : strerror(-r));
        return 0;
}

int domain_of_lease(struct engine *e, const struct db_lease *l, bool *dying)
{
        struct hv_domain_info info;
        int r;

        *dying = false;
        if (l->domid < 0)
                return 1;
        r = hv_domain_info(e->hv, (uint32_t)l->domid, &info, NULL);
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        if (l->domain_name && info.name[0] && !streq(info.name, l->domain_name))
                return 0;
        *dying = info.dying;
        return 1;
}
