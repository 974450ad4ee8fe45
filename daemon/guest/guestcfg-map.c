/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Xen's guest memory map on Arm: the guest physical ranges Xen and the
 * toolstack reserve for themselves (virtual GIC, PL011, grant table, RAM
 * banks, ...), which a device mapped 1:1 must not touch, and the holes
 * left between them, where the layout puts relocated devices.  Which Xen
 * releases the map is known for is decided here too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "guestcfg-internal.h"
#include "util.h"

/*
 * Reserved guest physical ranges of Xen 4.17 on Arm, from
 * xen/include/public/arch-arm.h (GUEST_*), checked against the 4.17 headers
 * Debian ships.  arch-arm.h warns that the layout is not stable; later
 * releases are assumed to keep these ranges (they only proposed additions
 * in holes we do not relocate into), and releases before 4.17 are refused.
 */
static const struct guestcfg_map_range xen_map_4_17[] = {
        /* libxl and dom0less place virtio-mmio transports here. */
        { 0x02000000, 0x020fffff, "GUEST_VIRTIO_MMIO (virtio-mmio transports)" },
        /* vGICv2 GICD 0x03001000+4K and GICC 0x03002000+8K; vGICv3 GICD +64K. */
        { 0x03001000, 0x03010fff, "GUEST_GICD/GUEST_GICC/GUEST_GICV3_GICD (virtual GIC)" },
        { 0x03020000, 0x0401ffff, "GUEST_GICV3_GICR0 (virtual GICv3 redistributors)" },
        { 0x10000000, 0x1fffffff, "GUEST_VPCI_ECAM (virtual PCI configuration space)" },
        { 0x20000000, 0x21ffffff, "GUEST_ACPI (guest ACPI tables)" },
        { 0x22000000, 0x22000fff, "GUEST_PL011 (virtual PL011 console)" },
        { 0x23000000, 0x32ffffff, "GUEST_VPCI_MEM (virtual PCI memory window)" },
        { 0x38000000, 0x38ffffff, "GUEST_GNTTAB (grant table)" },
        { 0x39000000, 0x39ffffff, "GUEST_MAGIC (console/xenstore/... pages)" },
        /* RAM banks: guest RAM, and the unused rest becomes extended regions. */
        { 0x40000000, 0xffffffff, "GUEST_RAM0 (guest RAM bank 0)" },
        { UINT64_C(0x100000000), UINT64_C(0x1ffffffff),
          "GUEST_VPCI_PREFETCH_MEM (virtual PCI prefetchable window)" },
        { UINT64_C(0x200000000), UINT64_C(0xffffffffff), "GUEST_RAM1 (guest RAM bank 1)" },
        /* A guest's IPA space may be only 40 bits (1 TiB) wide. */
        { UINT64_C(0x10000000000), UINT64_MAX, "space above 1 TiB (beyond a 40-bit guest IPA size)" },
};

/*
 * Where relocated devices go: holes of the 4.17 map that no libxl or
 * dom0less feature uses.  Extended regions are carved out of the RAM banks
 * only (arch-arm.h says so above GUEST_RAM0), so a device here never meets
 * guest RAM or a foreign mapping.  Low addresses are avoided on purpose
 * (some drivers treat address 0 as "unset").  Ascending, so that regions of
 * one device stay in order.
 */
static const struct guestcfg_map_range reloc_windows_4_17[] = {
        { 0x04020000, 0x0fffffff, "hole between GUEST_GICV3_GICR0 and GUEST_VPCI_ECAM" },
        { 0x3a000000, 0x3fffffff, "hole between GUEST_MAGIC and GUEST_RAM0" },
};

int guestcfg_map_check_target(const struct guestcfg_target *t, char **err)
{
        if (t->xen_major != 4 || t->xen_minor < 17)
                return set_error(err, -EOPNOTSUPP,
                                 "Xen %u.%u: guest memory map not known (assignd knows Xen 4.17 and later)",
                                 t->xen_major, t->xen_minor);
        return 0;
}

const struct guestcfg_map_range *guestcfg_map_clash(uint64_t first, uint64_t last)
{
        for (size_t i = 0; i < ARRAY_SIZE(xen_map_4_17); i++)
                if (first <= xen_map_4_17[i].last && last >= xen_map_4_17[i].first)
                        return &xen_map_4_17[i];
        return NULL;
}

const struct guestcfg_map_range *guestcfg_map_windows(size_t *n)
{
        *n = ARRAY_SIZE(reloc_windows_4_17);
        return reloc_windows_4_17;
}

int guestcfg_map_check_range(const struct guestcfg_target *target, uint64_t gaddr, uint64_t size,
                             char **err)
{
        const struct guestcfg_map_range *x;
        int r;

        r = guestcfg_map_check_target(target, err);
        if (r < 0)
                return r;
        if (size == 0 || gaddr + size - 1 < gaddr)
                return set_error(err, -EINVAL, "guest range 0x%" PRIx64 "+0x%" PRIx64 " is empty or wraps",
                                 gaddr, size);
        x = guestcfg_map_clash(gaddr, gaddr + size - 1);
        if (x)
                return set_error(err, -EADDRINUSE,
                                 "guest range 0x%" PRIx64 "-0x%" PRIx64 " overlaps Xen %u.%u's %s at 0x%" PRIx64
                                 "-0x%" PRIx64,
                                 gaddr, gaddr + size - 1, target->xen_major, target->xen_minor, x->name,
                                 x->first, x->last);
        return 0;
}
