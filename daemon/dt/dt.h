/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Device tree scanner: turns a host DTB (hostile input) into the device
 * model every other module works on.  dt.c validates the blob and walks
 * it; classify.c fills in the classification fields afterwards.
 *
 * The model is plain data with owned strings and arrays so that it can be
 * stored in and loaded back from the database (db/) without the blob.
 */
#ifndef ASSIGND_DT_H
#define ASSIGND_DT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * Largest DTB accepted by default.  Real host trees are well under 1 MiB
 * (QEMU pads to 1 MiB); dt_set_max_blob_size() changes it for the process
 * (assignd.conf's MaxDeviceTreeMiB, the benchmarks' generated trees).
 */
#define DT_MAX_BLOB_SIZE (16u * 1024 * 1024)
/* Deepest node nesting we walk; real trees stay below 10. */
#define DT_MAX_DEPTH 64
/* Largest #address-cells / #size-cells we accept (the spec allows 1..4 in practice). */
#define DT_MAX_CELLS 4
/* Most interrupt-map / interrupt-parent hops followed before declaring a loop. */
#define DT_MAX_IRQ_HOPS 16
/* Largest #interrupt-cells accepted (GICv3 uses 4; 0 is meaningless). */
#define DT_MAX_IRQ_CELLS 8
/* Largest #iommu-cells accepted (real IOMMUs use 0..2). */
#define DT_MAX_IOMMU_CELLS 8

enum dt_irq_class {
        DT_IRQ_SPI,
        DT_IRQ_PPI,
        DT_IRQ_NOT_GIC,
};

enum dt_coverage {
        DT_COV_NONE,
        DT_COV_PROTECTED,
        DT_COV_IOMMU_UNSUPPORTED,
        DT_COV_IOMMU_DISABLED,
};

enum dt_dma {
        DT_DMA_UNKNOWN,
        DT_DMA_MASTER,
        DT_DMA_NONE,
};

/* Kinds of IOMMU node, by the driver Xen has (or lacks) for it. */
enum dt_iommu_kind {
        DT_IOMMU_UNSUPPORTED,   /* no Xen driver: exynos sysmmu, rockchip, mediatek, qcom, dart ... */
        DT_IOMMU_SMMU,          /* arm,smmu-v1/v2, arm,mmu-400/401/500 (Xen smmu.c) */
        DT_IOMMU_SMMUV3,        /* arm,smmu-v3 (Xen smmu-v3.c) */
        DT_IOMMU_IPMMU,         /* renesas,ipmmu-* that Xen's ipmmu-vmsa.c lists */
};

struct dt_region {
        uint64_t base;          /* CPU physical address */
        uint64_t size;
};

struct dt_irq {
        enum dt_irq_class cls;
        uint32_t hwirq;         /* GIC INTID (SPI n -> n+32, PPI n -> n+16); 0 for NOT_GIC */
        uint32_t type;          /* trigger flags cell as written (IRQ_TYPE_*), 0 if none */
        char *controller;       /* path of the controller that finally receives it
                                 * (the GIC, or the non-GIC controller it stops at) */
};

struct dt_iommu_link {
        char *iommu;            /* path of the IOMMU node */
        uint32_t *ids;          /* first cell of each specifier (stream ID / uTLB) */
        size_t n_ids;
};

/* One entry of a PCI host bridge's iommu-map: RIDs [rid_base, rid_base+length). */
struct dt_iommu_map_entry {
        uint32_t rid_base;
        char *iommu;
        uint32_t iommu_base;
        uint32_t length;
};

/* Requester IDs the iommu-map does not cover: they bypass translation. */
struct dt_rid_gap {
        uint32_t rid_base;
        uint32_t count;
};

struct dt_iommu {
        char *path;
        char **compatible;      /* NULL-terminated */
        bool enabled;
        enum dt_iommu_kind kind;
        uint32_t iommu_cells;   /* #iommu-cells */
};

struct dt_device {
        char *path;
        char **compatible;      /* NULL-terminated, may be empty */
        char *node_name;        /* last path component */

        struct dt_region *regions;      /* CPU-addressable reg entries, translated */
        size_t n_regions;
        char *reg_note;         /* why reg exists but is not CPU-addressable, or NULL */

        struct dt_irq *irqs;
        size_t n_irqs;

        struct dt_iommu_link *iommus;   /* "iommus" property */
        size_t n_iommus;

        bool pci_host;          /* device_type = "pci" */
        struct dt_iommu_map_entry *iommu_map;
        size_t n_iommu_map;
        bool has_iommu_map_mask;
        uint32_t iommu_map_mask;
        struct dt_rid_gap *rid_gaps;    /* only meaningful when n_iommu_map > 0 */
        size_t n_rid_gaps;

        /*
         * Why the node's properties cannot be read consistently (a
         * dangling phandle in iommus, an interrupt-map that does not
         * resolve, an iommu-map whose target has no #iommu-cells ...), or
         * NULL.  Such a device is recorded with what could be read and is
         * never assignable; every other device is served as usual.
         */
        char *fault;

        /* Node roles found by the scanner, used by the classifier. */
        bool is_interrupt_controller;
        bool is_msi_controller; /* msi-controller or #msi-cells: MSI infrastructure */
        bool is_iommu;
        bool is_xen_console;    /* /chosen/stdout-path (or linux,stdout-path) points here */
        bool xen_passthrough;   /* has the xen,passthrough property */
        /*
         * The tree is the one Xen wrote for dom0 (it has a xen,xen
         * /hypervisor node) and this node says status = "disabled": Xen
         * writes that on every node the host tree marks xen,passthrough
         * (dropping the marker), and firmware writes it on absent hardware.
         * The tree cannot tell which; dom0_verdict holds what the
         * hypervisor could.
         */
        bool dom0_hidden;
        /*
         * Not stored: found at each start (inventory_check_dom0_hidden).
         * Xen maps a disabled node's MMIO into dom0 and routes its SPIs to
         * dom0 as for any device of its own, but for a xen,passthrough node
         * it only grants the rights.  An SPI routed to dom0 therefore marks
         * the device as dom0's (never assignable); no routed SPI marks it
         * set aside; a device without SPIs stays unknown (assignable only
         * when the administrator's policy says so).
         */
        enum dt_dom0_verdict {
                DT_DOM0_UNCHECKED = 0,
                DT_DOM0_SET_ASIDE,
                DT_DOM0_OWNED,
                DT_DOM0_UNKNOWN,
        } dom0_verdict;
        bool is_gpio_controller;        /* gpio-controller: an interrupt controller that a guest may own */
        bool is_memory;         /* device_type = "memory" */
        bool is_bus;            /* has "ranges": its children are separate devices */

        /* Filled in by classify.c (the detected values; admin policy overlays them). */
        enum dt_coverage coverage;
        enum dt_dma dma;
        char *dma_source;       /* why dma has its value: "iommus", "table:<compatible>", ... */
        bool assignable;
        char *reason;           /* why not assignable, or NULL */
        int group;              /* index into dt_inventory.groups, or -1 */
};

/* Devices that can only be assigned together. */
struct dt_group {
        size_t *members;        /* indexes into dt_inventory.devices */
        size_t n_members;
        char *why;              /* e.g. "share page 0xa003000", "share SPI 45" */
};

struct dt_inventory {
        struct dt_device *devices;
        size_t n_devices;
        struct dt_iommu *iommus;
        size_t n_iommus;
        struct dt_group *groups;
        size_t n_groups;
        char *model;            /* root "model" property, or NULL */
        char sha256[65];        /* hex digest of the DTB bytes (totalsize) */
};

/*
 * Check a blob before anything walks it: size cap, magic, header
 * consistency (fdt_check_header), totalsize <= len, and a full structure
 * walk (fdt_check_full where available).  Returns 0 or -EINVAL/-E2BIG with
 * *err describing the problem.
 */
int dt_check_blob(const void *blob, size_t len, char **err);

/* The size cap of every later check and read (0: DT_MAX_BLOB_SIZE); at most 4 GiB - 1. */
void dt_set_max_blob_size(size_t max);
size_t dt_max_blob_size(void);

/*
 * Read a DTB from a file (or sysfs /sys/firmware/fdt, whose size stat()
 * cannot tell) with the size cap (dt_max_blob_size()).  On success *ret is malloc'd.
 */
int dt_read_file(const char *path, void **ret, size_t *ret_len, char **err);

/*
 * Validate and walk blob into an inventory (not yet classified: call
 * classify_inventory()).  A blob that is not a sound device tree (size,
 * header, structure block, nesting deeper than DT_MAX_DEPTH) is an error
 * with a message, and *ret is untouched.  Inconsistent properties of a
 * node (dangling or cyclic phandles, absurd cell counts, an interrupt-map
 * that does not resolve, ...) are not: they are that device's fault
 * (dt_device.fault), naming the node, and every other device is scanned.
 * Never a crash.
 */
int dt_scan(const void *blob, size_t len, struct dt_inventory **ret, char **err);

void dt_inventory_free(struct dt_inventory *inv);
DEFINE_FREE_FUNC(struct dt_inventory, dt_inventory_free)
#define _cleanup_inventory_ _cleanup_(dt_inventory_freep)

/* Lookups. */
struct dt_device *dt_inventory_find(const struct dt_inventory *inv, const char *path);
const struct dt_iommu *dt_inventory_find_iommu(const struct dt_inventory *inv, const char *path);

/* Names used on the wire and in the database. */
const char *dt_coverage_to_string(enum dt_coverage c);
int dt_coverage_from_string(const char *s);     /* -EINVAL if unknown */
const char *dt_dma_to_string(enum dt_dma d);
int dt_dma_from_string(const char *s);
const char *dt_irq_class_to_string(enum dt_irq_class c);
int dt_irq_class_from_string(const char *s);
const char *dt_iommu_kind_to_string(enum dt_iommu_kind k);
int dt_iommu_kind_from_string(const char *s);

/* Free the members of one device (used by db when building inventories). */
void dt_device_clear(struct dt_device *d);

#endif
