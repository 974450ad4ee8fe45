/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host-DTB path as the fuzz targets that take a DTB drive it: the
 * input copied into a buffer of exactly its size (a read past the end is
 * then a read past the input, which ASan and valgrind see), validated,
 * scanned and classified, with the scanner's promises checked on the way:
 * a failure says why, a success leaves no message, classification fails
 * only for want of memory.
 */
#ifndef ASSIGND_FUZZ_SCAN_H
#define ASSIGND_FUZZ_SCAN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "dt.h"

/*
 * The classified inventory of data[0..size), or NULL when the scanner
 * refused it.  *blob receives the copy the inventory was scanned from
 * (the caller frees it, also when NULL is returned).
 */
static inline struct dt_inventory *fuzz_scan(const uint8_t *data, size_t size, void **blob)
{
        static struct classify_tables *tables;
        struct dt_inventory *inv = NULL;
        char *err = NULL;

        if (!tables && classify_tables_new(&tables) < 0)
                abort();
        *blob = malloc(size ? size : 1);
        if (!*blob)
                return NULL;
        if (size)
                memcpy(*blob, data, size);
        if (dt_scan(*blob, size, &inv, &err) < 0) {
                if (!err)
                        abort();        /* every failure must say why */
                free(err);
                return NULL;
        }
        if (err)
                abort();                /* success must not leave a message behind */
        if (classify_inventory(inv, tables) < 0)
                abort();                /* only -ENOMEM could fail, and we do not run out */
        return inv;
}

#endif
