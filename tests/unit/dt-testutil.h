/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loading and looking up device trees in the scanner and classifier tests:
 * a failure to read or scan is a failed check that names the file, and a
 * missing device a failed check that names the path, so each test reads as
 * its expectations only.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "dt.h"
#include "testlib.h"

/* Read and scan path; NULL (after a failed check) if either fails. */
static inline struct dt_inventory *dt_test_scan_file(const char *path)
{
        struct dt_inventory *inv = NULL;
        char *err = NULL;
        void *blob = NULL;
        size_t len = 0;
        int r;

        r = dt_read_file(path, &blob, &len, &err);
        if (r == 0)
                r = dt_scan(blob, len, &inv, &err);
        CHECK_MSG(r == 0, "%s: %s", path, err ? err : "?");
        free(blob);
        free(err);
        return r == 0 ? inv : NULL;
}

/* dir/name scanned, as above. */
static inline struct dt_inventory *dt_test_scan_in(const char *dir, const char *name)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return dt_test_scan_file(path);
}

/* A tree of the project's own (tests/data, compiled into $TEST_DATA_DIR) scanned, as above. */
static inline struct dt_inventory *dt_test_scan_data(const char *name)
{
        const char *dir = getenv("TEST_DATA_DIR");

        if (!dir) {
                CHECK_MSG(0, "TEST_DATA_DIR unset: %s not checked", name);
                return NULL;
        }
        return dt_test_scan_in(dir, name);
}

/* The device at path, or NULL after a failed check. */
static inline const struct dt_device *dt_test_dev(const struct dt_inventory *inv,
                                                  const char *path)
{
        const struct dt_device *d = dt_inventory_find(inv, path);

        CHECK_MSG(d != NULL, "device %s not found", path);
        return d;
}
