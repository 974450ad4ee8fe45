/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager owns every object of the daemon and wires them together in
 * order: the database, the DMA tables, the inventory, the hypervisor
 * backend, the event bus, the engine (reconciled before anything is
 * served), the domain watch, the dispatcher with its handlers, the
 * server, the clock and the signal handlers.  main.c only parses the
 * command line and runs it.
 */
#ifndef ASSIGND_MANAGER_H
#define ASSIGND_MANAGER_H

#include "config.h"
#include "util.h"

struct manager;

/* Build everything cfg asks for; failures are logged, naming what failed. */
int manager_new(const struct config *cfg, struct manager **ret);
void manager_free(struct manager *m);
DEFINE_FREE_FUNC(struct manager, manager_free)

/* Serve until SIGTERM or SIGINT. */
int manager_run(struct manager *m);

#endif
