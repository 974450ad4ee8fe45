/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The comment block each device gets at the top of the xl.cfg and
 * ImageBuilder fragments: its host path and compatible strings, whether an
 * IOMMU Xen drives protects it and whether it can do DMA, and where each
 * region and interrupt goes.  It is what a reader checks before booting the
 * guest, so it says in words what the lists below it say in numbers.  The
 * host's strings in it are escaped (guestcfg-text.c): a comment line must
 * stay one line.
 */
#include <inttypes.h>

#include "guestcfg-internal.h"
#include "strbuf.h"

static const char *coverage_words(enum dt_coverage c)
{
        switch (c) {
        case DT_COV_PROTECTED:
                return "protected: its IOMMU is one Xen drives, so it goes through dtdev";
        case DT_COV_IOMMU_UNSUPPORTED:
                return "NOT protected: its IOMMU has no Xen driver, so DMA is untranslated";
        case DT_COV_IOMMU_DISABLED:
                return "NOT protected: its IOMMU is disabled in the host DT";
        case DT_COV_NONE:
                return "NOT protected: no IOMMU in front of it";
        }
        return "coverage unknown";
}

static const char *dma_words(enum dt_dma d)
{
        switch (d) {
        case DT_DMA_MASTER:
                return "a DMA master";
        case DT_DMA_NONE:
                return "not a DMA master";
        case DT_DMA_UNKNOWN:
                return "DMA capability unknown";
        }
        return "DMA capability unknown";
}

void guestcfg_comment_device(struct strbuf *b, const struct guestcfg_device *gd)
{
        const struct dt_device *d = gd->dev;

        /* Path, compatibles and the DMA tag come from the host DT: one line each, whatever they hold. */
        strbuf_append(b, "# ");
        guestcfg_text_append(b, d->path);
        strbuf_append(b, "\n#   compatible:");
        if (d->compatible && d->compatible[0])
                for (char **c = d->compatible; *c; c++) {
                        strbuf_append(b, " \"");
                        guestcfg_text_append(b, *c);
                        strbuf_append(b, "\"");
                }
        else
                strbuf_append(b, " (none)");
        strbuf_printf(b, "\n#   %s; %s", coverage_words(d->coverage), dma_words(d->dma));
        if (d->dma_source) {
                strbuf_append(b, " (");
                guestcfg_text_append(b, d->dma_source);
                strbuf_append(b, ")");
        }
        strbuf_append(b, "\n");
        for (size_t i = 0; i < gd->n_regions; i++)
                strbuf_printf(b, "#   region %zu: host 0x%" PRIx64 "+0x%" PRIx64 " -> guest 0x%" PRIx64 "%s\n", i,
                              gd->regions[i].host, gd->regions[i].size, gd->regions[i].guest,
                              gd->regions[i].host == gd->regions[i].guest ? " (1:1)" : " (relocated)");
        for (size_t i = 0; i < d->n_irqs; i++)
                strbuf_printf(b, "#   interrupt %zu: SPI %u = INTID %u\n", i, d->irqs[i].hwirq - 32, d->irqs[i].hwirq);
}
