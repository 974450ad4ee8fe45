/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager owns every object of the daemon and wires them together in
 * order: the database, the DMA tables, the inventory, the hypervisor
 * backend, the event bus, the engine (reconciled before anything is
 * served), the domain watch, the dispatcher with its handlers, the
 * server, the clock, the watchdog and the signal handlers.  main.c only
 * loads the configuration and runs it.
 */
#ifndef ASSIGND_MANAGER_H
#define ASSIGND_MANAGER_H

#include "config.h"
#include "util.h"

struct manager;

/*
 * Build everything cfg asks for, taking cfg over (it is left empty);
 * argc and argv are kept to read the configuration again on SIGHUP.
 * Failures are logged, naming what failed.
 */
int manager_new(struct config *cfg, int argc, char **argv, struct manager **ret);
void manager_free(struct manager *m);
DEFINE_FREE_FUNC(struct manager, manager_free)

/*
 * Serve until SIGTERM or SIGINT, telling the service manager (sd_notify)
 * READY=1, STATUS= with the counts, WATCHDOG=1 while healthy,
 * RELOADING=1 and READY=1 around a reload on SIGHUP, and STOPPING=1.
 */
int manager_run(struct manager *m);

#endif
