/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The owner map: who holds each device, in memory, so that a read
 * (GetDevice, ListDevices, adoption's sweep of a new domain) needs no
 * database query per device: that was a read transaction of its own per
 * device, a seventh of a GetDevice and a fifth of a ListDevices.
 *
 * The database stays the record and the map only follows it: it is read
 * whole at the first lookup; every commit that changes which lease holds a
 * device, or how (a lease created, a state change, a domid bound or
 * unbound: the database tells, db_set_lease_watch), has the leases
 * concerned read again before the next lookup; a write to the leases that
 * failed or was rolled back has the map read again whole.  When the
 * database cannot be read, a lookup asks it directly, as before, and the
 * map is read again at the next one.
 *
 * Each device's answer carries a version that changes whenever the answer
 * may have, so that what is shown of a device can be kept until then.
 */
#ifndef ASSIGND_OWNERS_H
#define ASSIGND_OWNERS_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "engine.h"

struct owners;

/* A map over db (it watches db's lease writes until freed). */
int owners_new(struct db *db, struct owners **ret);
void owners_free(struct owners *o);

/*
 * 1 and *ret (borrowed until the next call) when some lease holds path, 0
 * when nobody does, or a negative errno when the database cannot say.
 * *version (may be NULL): 0 when the answer came from the database
 * directly (nothing may be kept), else a number that changes whenever
 * path's answer may change.
 */
int owners_find(struct owners *o, const char *path, const struct engine_owner **ret,
                uint64_t *version);

/*
 * How many times the database told of lease writes (commits that created a
 * lease, changed its state or domid, and writes that failed): what is
 * counted from the leases is counted again when it changed.
 */
uint64_t owners_writes(const struct owners *o);

/* A number that changes whenever any answer may change; 0 when the map cannot be read now. */
uint64_t owners_version(struct owners *o);

#endif
