/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the host-DTB path: the validator, the scanner and
 * the classifier see exactly what a hostile /sys/firmware/fdt could hold.
 * Any crash, hang, leak or sanitizer report is a bug; keep each crashing
 * input in corpus/ under a name saying what it broke.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "classify.h"
#include "dt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct classify_tables *tables;
        struct dt_inventory *inv = NULL;
        char *err = NULL;
        void *copy;

        if (!tables && classify_tables_new(&tables) < 0)
                abort();
        /* A private, exactly sized copy so reads past the end are caught. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                __builtin_memcpy(copy, data, size);
        if (dt_scan(copy, size, &inv, &err) == 0) {
                if (err)
                        abort();        /* success must not leave a message behind */
                if (classify_inventory(inv, tables) < 0)
                        abort();        /* only -ENOMEM could fail, and we do not run out */
                dt_inventory_free(inv);
        } else if (!err) {
                abort();                /* every failure must say why */
        }
        free(err);
        free(copy);
        return 0;
}
