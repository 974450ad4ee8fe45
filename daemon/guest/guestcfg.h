/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest-side generators: where a set of host devices lands in a guest's
 * physical address space (the layout), the partial device tree that
 * describes them to the guest (xl's device_tree= and dom0less), and the
 * xl.cfg and ImageBuilder fragments that go with it.
 *
 * This is a pure library over the device model of dt.h and the host DTB:
 * no hypervisor calls, no logging above debug.  Everything it produces is
 * deterministic (same input, same bytes), so the daemon can regenerate a
 * reservation's files and compare them.
 *
 * Xen facts behind it (checked in Xen's source, 4.17):
 * - the guest memory map is xen/include/public/arch-arm.h (GUEST_*);
 *   guestcfg-map.c carries it as a table of reserved ranges;
 * - libxl copies only /passthrough and /aliases from the partial DT
 *   (libxl_arm.c, copy_partial_fdt) after checking magic, header and
 *   totalsize; the guest GIC's phandle is GUEST_PHANDLE_GIC (65000);
 * - dom0less reads /gic (its phandle becomes the guest GIC's), /aliases and
 *   /passthrough; in /passthrough, xen,reg is <paddr size gaddr> read with
 *   the #address-cells/#size-cells of the node's parent in the partial DT
 *   (so 2+2+2 here), and every value must be page aligned.
 */
#ifndef ASSIGND_GUESTCFG_H
#define ASSIGND_GUESTCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dt.h"

/* Phandle Xen gives the guest's GIC (device_tree_defs.h GUEST_PHANDLE_GIC). */
#define GUESTCFG_PHANDLE_GIC 65000u
/* Largest partial DTB we build; real ones are a few KiB. */
#define GUESTCFG_MAX_DTB_SIZE (4u * 1024 * 1024)
/* Most devices in one layout (each costs a node and a few iomem lines). */
#define GUESTCFG_MAX_DEVICES 256

enum guestcfg_mode {
        GUESTCFG_IDENTITY,      /* guest address = host address, or refuse */
        GUESTCFG_RELOCATE,      /* every device moved into a free guest window */
        GUESTCFG_AUTO,          /* 1:1 where free, relocate the rest */
};

/* The Xen release the guest will run on; decides the memory map and nr_spis. */
struct guestcfg_target {
        unsigned int xen_major;
        unsigned int xen_minor;
};
#define GUESTCFG_TARGET_DEFAULT ((struct guestcfg_target){ 4, 17 })

struct guestcfg_region {
        uint64_t host;          /* CPU physical address from the host DT */
        uint64_t size;
        uint64_t guest;         /* guest physical address (same offset in its page) */
};

struct guestcfg_device {
        const struct dt_device *dev;    /* borrowed: must outlive the layout */
        struct guestcfg_region *regions;        /* same order as dev->regions */
        size_t n_regions;
        bool relocated;
};

/* One run of 4 KiB pages mapped into the guest (what iomem= / memory_mapping take). */
struct guestcfg_mapping {
        uint64_t host_pfn;
        uint64_t guest_pfn;
        uint64_t nr_pages;
};

struct guestcfg_layout {
        enum guestcfg_mode mode;
        struct guestcfg_target target;
        struct guestcfg_device *devices;
        size_t n_devices;
        struct guestcfg_mapping *mappings;      /* sorted by host_pfn, no overlaps */
        size_t n_mappings;
        uint32_t *spis;         /* GIC INTIDs (SPI n = 32 + n), sorted, unique */
        size_t n_spis;
};

/* Flags of guestcfg_partial_dtb(). */
#define GUESTCFG_DOM0LESS (1u << 0)     /* add xen,reg / xen,path / force flag */

/*
 * Place devs[0..n) in the guest address space.  Refuses (-EINVAL) devices
 * with an interrupt that is not a GIC SPI, without anything to map, listed
 * twice, or whose path has a character the Devicetree Specification does
 * not allow in node names (every generated file names devices by path); refuses (-EADDRINUSE) a 1:1 region that overlaps Xen's
 * guest map, naming the device, the range and the Xen region; -ENOSPC when
 * the relocation windows are full; -EOPNOTSUPP for a Xen release whose map
 * is not known.  *which (may be NULL) receives the index in devs[] of the
 * device a refusal is about (the second listing of a duplicate), or -1
 * when it is about no single device (and on success); callers name the
 * device from it, never by searching *err.  The layout borrows the device
 * pointers.
 */
int guestcfg_layout(const struct dt_device *const *devs, size_t n, enum guestcfg_mode mode,
                    const struct guestcfg_target *target, struct guestcfg_layout **ret,
                    ssize_t *which, char **err);

/* Guest pages a domain's other leases map already, and what maps them (for messages). */
struct guestcfg_taken {
        uint64_t guest_pfn;
        uint64_t nr_pages;
        const char *owner;      /* e.g. "lease 4 (/soc/dma@e6700000)"; borrowed */
};

/*
 * The same, for a guest that already has taken[0..n_taken) mapped: no
 * device lands on those pages.  A 1:1 region that overlaps them is
 * refused (-EADDRINUSE, naming the owner) in the identity layout and
 * relocated in auto; relocation windows steer around them.
 */
int guestcfg_layout_around(const struct dt_device *const *devs, size_t n,
                           enum guestcfg_mode mode, const struct guestcfg_target *target,
                           const struct guestcfg_taken *taken, size_t n_taken,
                           struct guestcfg_layout **ret, ssize_t *which, char **err);
void guestcfg_layout_free(struct guestcfg_layout *l);
DEFINE_FREE_FUNC(struct guestcfg_layout, guestcfg_layout_free)
#define _cleanup_guestcfg_layout_ _cleanup_(guestcfg_layout_freep)

/*
 * Check that [gaddr, gaddr+size) is free in Xen's guest map for target.
 * Returns 0, -EADDRINUSE with *err naming the Xen region, or -EOPNOTSUPP.
 */
int guestcfg_map_check_range(const struct guestcfg_target *target, uint64_t gaddr, uint64_t size,
                             char **err);

/*
 * Build the partial DTB for layout from the host blob (already validated
 * with dt_check_blob).  *ret_notes (may be NULL) receives one line per
 * thing the guest will miss ("path: why", printable ASCII: host strings in
 * it are escaped as \xNN), or NULL when there is none.
 * The blob is checked with fdt_check_full and libxl's own checks before it
 * is handed out.
 */
int guestcfg_partial_dtb(const void *host_blob, const struct guestcfg_layout *layout,
                         unsigned int flags, void **ret_blob, size_t *ret_len,
                         char **ret_notes, char **err);

/*
 * xl.cfg fragment (malloc'd text): passthrough, dtdev, irqs, iomem,
 * device_tree (when device_tree_path is non-NULL), nr_spis on Xen >= 4.19,
 * one comment block per device, and notes (from guestcfg_partial_dtb) as
 * comments.  Every line is a comment or "key = value": host strings in
 * comments are escaped, and a device path that is not a plain device-tree
 * path, or a device_tree path with quotes, backslashes or control
 * characters, is refused (-EINVAL).
 */
int guestcfg_xl_config(const struct guestcfg_layout *layout, const char *device_tree_path,
                       const char *notes, char **ret, char **err);

/*
 * ImageBuilder fragment for dom0less domU number domu_index: NUM_DOMUS
 * raised to domu_index + 1 when lower, DOMU_PASSTHROUGH_DTB[n],
 * DOMU_PASSTHROUGH_PATHS[n], and the fdtput commands marking the host nodes
 * xen,passthrough (as comments: ImageBuilder does it itself from
 * DOMU_PASSTHROUGH_PATHS).  dma_forced: DMA-capable devices no IOMMU
 * protects were accepted with force; a comment says the domain's RAM must
 * then be 1:1 (DOMU_STATIC_MEM, DOMU_DIRECT_MAP).
 */
int guestcfg_imagebuilder(const struct guestcfg_layout *layout, unsigned int domu_index,
                          const char *dtb_file, const char *host_dtb_file, bool dma_forced,
                          char **ret, char **err);

const char *guestcfg_mode_to_string(enum guestcfg_mode m);
int guestcfg_mode_from_string(const char *s);   /* -EINVAL if unknown */

#endif
