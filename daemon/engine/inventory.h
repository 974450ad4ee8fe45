/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's view of the inventory: scans the host DTB at start-up,
 * stores it in the database when it changed (keeping admin policy by
 * path), loads it back, overlays the administrator's policy on the
 * detected values, and renders devices as the JSON objects the wire API
 * and assignctl use.
 */
#ifndef ASSIGND_INVENTORY_H
#define ASSIGND_INVENTORY_H

#include <json-c/json.h>

#include "classify.h"
#include "db.h"
#include "dt.h"

struct inventory;

/*
 * Read and scan dtb_path, classify it with tables, and bring the database
 * up to date: the stored inventory is replaced only if the DTB's sha256 or
 * the tables' digest changed (*rescanned tells which happened).  The
 * database must stay open for the inventory's lifetime.
 */
int inventory_open(struct db *db, const char *dtb_path, const struct classify_tables *tables,
                   struct inventory **ret, bool *rescanned, char **err);
void inventory_free(struct inventory *inv);

/*
 * Give every dom0_hidden device (dt.h) its dom0_verdict by asking the
 * hypervisor whether its SPIs are routed to dom0.  Run at each start: it is
 * the hypervisor's state, not the tree's, so it is not stored.
 */
struct hv;
struct inventory_dom0_counts {
        unsigned set_aside, owned, unknown;
};
int inventory_check_dom0_hidden(struct inventory *inv, struct hv *hv,
                                struct inventory_dom0_counts *c, char **err);
DEFINE_FREE_FUNC(struct inventory, inventory_free)

const struct dt_inventory *inventory_dt(const struct inventory *inv);
struct db *inventory_db(const struct inventory *inv);
/*
 * The host DTB blob the inventory was scanned from, as read and validated
 * at open (its sha256 is inventory_dt(inv)->sha256).  Borrowed.
 */
const void *inventory_blob(const struct inventory *inv, size_t *len);

/* Effective values: admin policy if set, else detected. */
enum dt_dma inventory_effective_dma(const struct inventory *inv, const struct dt_device *d);
bool inventory_effective_assignable(const struct inventory *inv, const struct dt_device *d,
                                    const char **reason);

/*
 * Set policy for a device path (must exist in the inventory: -ENOENT
 * otherwise).  dma / assignable take DB_POLICY_UNSET to leave as is.
 */
int inventory_set_policy(struct inventory *inv, const char *path, int dma, int assignable,
                         const char *note, uint32_t uid);

/* Filters for ListDevices; NULL / -1 members mean "any". */
struct inventory_filter {
        int coverage;           /* enum dt_coverage or -1 */
        int dma;                /* enum dt_dma (effective) or -1 */
        int assignable;         /* 0/1 (effective) or -1 */
        const char *owner;      /* domain name or domid as text; "none" for unowned; NULL any */
};

/*
 * Who holds a device, supplied by the lease engine.  Returns a new JSON
 * object ({"domid":..,"domain":..,"state":..}) or NULL for "nobody".
 */
typedef struct json_object *(*inventory_owner_fn)(void *userdata, const char *path);
void inventory_set_owner_fn(struct inventory *inv, inventory_owner_fn fn, void *userdata);

/* One device as the wire object documented in proto/io.assignd.Broker.varlink. */
struct json_object *inventory_device_to_json(const struct inventory *inv,
                                             const struct dt_device *d);
/* Array of device objects matching f (NULL: all). */
int inventory_list_json(const struct inventory *inv, const struct inventory_filter *f,
                        struct json_object **ret);

/* Counts for GetStatus. */
struct inventory_counts {
        size_t devices, assignable, protected_, groups, iommus;
        size_t unprotected_dma;    /* assignable, not protected, dma not "none" */
};
void inventory_count(const struct inventory *inv, struct inventory_counts *c);

#endif
