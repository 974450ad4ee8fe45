/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The refusals every way of handing out devices shares, made before
 * anything is changed, each naming the device and the reason.
 */
#ifndef ASSIGND_CHECK_H
#define ASSIGND_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "dt.h"
#include "failure.h"

struct engine;

struct check_request {
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        bool busy;              /* refuse devices another lease holds */
};

/*
 * In the documented order: none given or one listed twice, unknown, not
 * assignable, busy (if asked), group incomplete, an interrupt that is not
 * an SPI, unprotected without force.  devs[] receives the devices (room
 * for n_devices); *any_protected and *forced tell what the set needs.
 */
int check_devices(struct engine *e, const struct check_request *req,
                  const struct dt_device **devs, bool *any_protected, bool *forced,
                  struct failure *f);

/* DeviceBusy for path, which lease l holds, saying why it is still held. */
int check_busy(const struct db_lease *l, const char *path, struct failure *f);

#endif
