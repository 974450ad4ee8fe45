/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the host-DTB path: the validator, the scanner and
 * the classifier see exactly what a hostile /sys/firmware/fdt could hold.
 * Any crash, hang, leak or sanitizer report is a bug, and so is a broken
 * promise of the scanner (fuzz-scan.h); keep each crashing input in
 * corpus/dt/ under a name saying what it broke.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz-scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        void *copy = NULL;

        dt_inventory_free(fuzz_scan(data, size, &copy));
        free(copy);
        return 0;
}
