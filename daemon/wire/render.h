/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's C structs as the wire's JSON objects, in the shapes
 * proto/io.assignd.Broker.varlink declares (the dispatcher validates every
 * reply against it; assignctl --offline prints them as the daemon would
 * have sent them).  Each function returns a new object, or NULL when out
 * of memory.
 */
#ifndef ASSIGND_RENDER_H
#define ASSIGND_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db.h"
#include "dt.h"
#include "engine.h"
#include "events.h"
#include "generate.h"
#include "guestcfg.h"
#include "hazard.h"
#include "plan.h"

struct inventory;

/*
 * GetStatus's dtb and devices members, added to o: the tree the inventory
 * was scanned from (dtb_path as given, may be NULL) and the device counts.
 * Returns 0 or -ENOMEM.
 */
int render_status_inventory(struct json_object *o, struct inventory *inv,
                            const char *dtb_path);
/* Device, with its owner (NULL: nobody holds it). */
struct json_object *render_device(const struct inventory *inv, const struct dt_device *d,
                                  const struct engine_owner *owner);
/* Lease, its layout and steps read from the stored plan. */
struct json_object *render_lease(const struct db_lease *l);
/* []Lease. */
struct json_object *render_leases(const struct db_lease *l, size_t n);
/* []Step (the stored-only "kept" flag is not on the wire). */
struct json_object *render_steps(const struct plan *p);
/* []AuditEntry. */
struct json_object *render_audit(const struct db_audit *a, size_t n);
/* []Hazard. */
struct json_object *render_hazards(const struct hazard *h, size_t n);
/* GetStatus's hazard_counts: every kind of hazard.h, with how many of h are of it. */
struct json_object *render_hazard_counts(const struct hazard *h, size_t n);
/* []string: the hv-patches the hypervisor has (none without an hv). */
struct json_object *render_hv_patches(struct hv *hv);
/* Event, with the bus's boot id. */
struct json_object *render_event(const struct event *ev, const char *boot_id);
/* []GuestPlacement: where each device of a layout lands. */
struct json_object *render_placements(const struct guestcfg_layout *l);
/* "path: why" lines as a []string. */
struct json_object *render_notes(const char *notes);
/*
 * What a guest generator made, as GuestDeviceTree, XlConfig and
 * ImageBuilderConfig reply: {dtb (base64), size, notes, layout, devices[,
 * config]}.
 */
struct json_object *render_generated(const struct generate_output *o);
/* Bytes as base64 text (malloc'd; NULL when out of memory). */
char *render_base64(const uint8_t *p, size_t n);

#endif
