/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Classifier: decides, for each scanned device, its IOMMU coverage, its
 * DMA capability, whether it may be assigned at all (and why not), and
 * which devices form an assignment group because they share a 4 KiB page,
 * an SPI, or an IOMMU stream ID.
 *
 * DMA capability is never guessed: it comes from "iommus" or from tables
 * of compatibles known to be (or not be) DMA masters.  The built-in tables
 * can be extended by the administrator with files of the form
 *
 *     # comment
 *     master  vendor,some-dma-engine
 *     none    vendor,some-uart
 *
 * (one entry per line; a later entry for the same compatible wins).
 */
#ifndef ASSIGND_CLASSIFY_H
#define ASSIGND_CLASSIFY_H

#include "dt.h"

struct classify_tables;

/* The built-in tables only. */
int classify_tables_new(struct classify_tables **ret);
/* Add entries from a file in the format above; -EINVAL with *err naming file:line. */
int classify_tables_load_file(struct classify_tables *t, const char *path, char **err);
/* Add every "*.conf" file of a directory in lexical order; a missing directory is not an error. */
int classify_tables_load_dir(struct classify_tables *t, const char *dir, char **err);
/* DT_DMA_UNKNOWN if the compatible is in no table. */
enum dt_dma classify_tables_lookup(const struct classify_tables *t, const char *compatible);
/* A digest of the table contents, so a table change can trigger a rescan. */
const char *classify_tables_digest(const struct classify_tables *t);
void classify_tables_free(struct classify_tables *t);
DEFINE_FREE_FUNC(struct classify_tables, classify_tables_free)

/* Fill coverage, dma, dma_source, assignable, reason, group and inv->groups. */
int classify_inventory(struct dt_inventory *inv, const struct classify_tables *t);

#endif
