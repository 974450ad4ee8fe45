/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Storing a lease's progress (see lease.h), over db/.
 */
#include <errno.h>

#include "lease-state.h"
#include "lease.h"

int lease_begin(struct db *db, const char *domain_name, uint32_t domid, char *const *devices,
                size_t n, bool forced, uint32_t uid, int32_t pid, const struct plan *plan,
                const char *options, int64_t *id)
{
        struct db_lease l = {
                .domain_name = (char *)domain_name,
                .domid = (int)domid,
                .state = DB_LEASE_ASSIGNING,
                .forced = forced,
                .uid = uid,
                .pid = pid,
                .options = (char *)options,
                .devices = (char **)devices,
                .n_devices = n,
        };

        return lease_state_create(db, &l, plan, "Assign recorded its plan", id);
}

int lease_record_step(struct db *db, int64_t id, const struct plan *plan, size_t k)
{
        const struct plan_step *s;

        if (k >= plan->n_steps || k > UINT32_MAX)
                return -EINVAL;
        s = &plan->steps[k];
        return db_lease_mark_step(db, id, (uint32_t)k, s->done, s->undone, s->kept);
}

int lease_bind_domid(struct db *db, int64_t id, int domid)
{
        return db_lease_bind_domid(db, id, domid);
}
