/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's view of the inventory: scans the host DTB at start-up,
 * stores it in the database when it changed (keeping admin policy by
 * path), loads it back, and overlays the administrator's policy on the
 * detected values.
 */
#ifndef ASSIGND_INVENTORY_H
#define ASSIGND_INVENTORY_H

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
/*
 * Classify the same host DTB again with other tables (dma.d was edited):
 * stored when the verdicts changed (*changed), and served from then on.
 * The dom0 verdicts must be checked again afterwards.  Pointers into the
 * old inventory_dt() are invalid after a success; on a failure the
 * inventory is left as it was.
 */
int inventory_reclassify(struct inventory *inv, const struct classify_tables *tables,
                         bool *changed, char **err);
void inventory_free(struct inventory *inv);

/*
 * Give every dom0_hidden device (dt.h) its dom0_verdict by asking the
 * hypervisor whether its SPIs are routed to dom0.  Run at each start: it is
 * the hypervisor's state, not the tree's, so it is not stored.  hv NULL (no
 * hypervisor to ask) leaves every such device unknown: assignable only by
 * the administrator's policy.
 */
struct hv;
struct inventory_dom0_counts {
        unsigned set_aside, owned, unknown;
};
int inventory_check_dom0_hidden(struct inventory *inv, struct hv *hv,
                                struct inventory_dom0_counts *c, char **err);
DEFINE_FREE_FUNC(struct inventory, inventory_free)

const struct dt_inventory *inventory_dt(const struct inventory *inv);
/* The device with this path, or NULL: a hash lookup (a read may name any device). */
const struct dt_device *inventory_find(const struct inventory *inv, const char *path);
/*
 * A number that changes whenever anything of the inventory a reader sees
 * may have: a reclassification, the dom0 verdicts, a policy change.  What
 * is made of the inventory (hazards, rendered devices) is kept until then.
 */
uint64_t inventory_generation(const struct inventory *inv);
struct db *inventory_db(const struct inventory *inv);
/*
 * The host DTB blob the inventory was scanned from, as read and validated
 * at open (its sha256 is inventory_dt(inv)->sha256).  Borrowed.
 */
const void *inventory_blob(const struct inventory *inv, size_t *len);

/*
 * Effective values: admin policy if set, else detected.  No policy makes
 * Xen's console, a device Xen gave dom0 as its own, or a device whose
 * properties are inconsistent (dt_device.fault) assignable.
 */
enum dt_dma inventory_effective_dma(const struct inventory *inv, const struct dt_device *d);
bool inventory_effective_assignable(const struct inventory *inv, const struct dt_device *d,
                                    const char **reason);

/*
 * Set policy for a device path (must exist in the inventory: -ENOENT
 * otherwise).  dma / assignable take DB_POLICY_UNSET to leave as is.
 */
int inventory_set_policy(struct inventory *inv, const char *path, int dma, int assignable,
                         const char *note, uint32_t uid);

/* The administrator's policy of a path, or NULL. */
const struct db_policy *inventory_policy(const struct inventory *inv, const char *path);

/* Filters for ListDevices; -1 members mean "any". */
struct inventory_filter {
        int coverage;           /* enum dt_coverage or -1 */
        int dma;                /* enum dt_dma (effective) or -1 */
        int assignable;         /* 0/1 (effective) or -1 */
};
/* Whether d passes f (NULL: any). */
bool inventory_matches(const struct inventory *inv, const struct dt_device *d,
                       const struct inventory_filter *f);

/* Counts for GetStatus. */
struct inventory_counts {
        size_t devices, assignable, protected_, groups, iommus;
        size_t unprotected_dma;    /* assignable, not protected, dma not "none" */
};
/* Counted again only when the inventory changed (inventory_generation). */
void inventory_count(struct inventory *inv, struct inventory_counts *c);

#endif
