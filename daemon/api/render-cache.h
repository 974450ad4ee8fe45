/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What reads send most, kept as validated text (proto's vl_text) until
 * what it shows changes: each device as GetDevice and ListDevices show
 * it, the whole device list, and the hazard list of GetStatus.  Building a
 * device's JSON, validating it against the interface and serialising it
 * was most of a GetDevice and all but a sliver of a ListDevices; now a
 * device is rendered once per change of the inventory (a rescan, a
 * policy, the dom0 verdicts: inventory_generation) or of its owner (the
 * owner map's version), validated against the interface's Device type
 * then, and sent as it is: the reply's validation takes such text where
 * that type is expected and nowhere else.  GetStatus's parts that change
 * only with the inventory or the hazards are kept the same way.
 */
#ifndef ASSIGND_RENDER_CACHE_H
#define ASSIGND_RENDER_CACHE_H

#include <json-c/json.h>

#include "dt.h"
#include "engine.h"
#include "inventory.h"
#include "varlink.h"

struct render_cache;

int render_cache_new(struct render_cache **ret);
void render_cache_free(struct render_cache *c);

/*
 * A node for device d of inv, as the interface's Device type (iface);
 * NULL when out of memory or when the rendering does not match the
 * interface (a bug: logged).
 */
struct json_object *render_cache_device(struct render_cache *c, const struct vl_interface *iface,
                                        struct engine *e, const struct inventory *inv,
                                        const struct dt_device *d);
/* A node for every device of inv, in inventory order ([]Device). */
struct json_object *render_cache_devices(struct render_cache *c,
                                         const struct vl_interface *iface, struct engine *e,
                                         const struct inventory *inv);
/* A node for the engine's hazard list ([]Hazard). */
struct json_object *render_cache_hazards(struct render_cache *c,
                                         const struct vl_interface *iface, struct engine *e);

/* A node for the counts of the engine's hazards by kind ([string]int). */
struct json_object *render_cache_hazard_counts(struct render_cache *c,
                                               const struct vl_interface *iface, struct engine *e);
/*
 * GetStatus's dtb and devices members (wire's render_status_inventory),
 * added to o; made again when the inventory changed.  0 or -ENOMEM.
 */
int render_cache_status_inventory(struct render_cache *c, const struct vl_interface *iface,
                                  struct inventory *inv, const char *dtb_path,
                                  struct json_object *o);

#endif
