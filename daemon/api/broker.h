/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.assignd.Broker: the inventory, device policy, assignment, release,
 * leases, the audit log, guest configuration and reservations (Monitor
 * is monitor.c's).  Each handler reads its parameters, calls the engine
 * and renders what it returns.
 */
#ifndef ASSIGND_API_BROKER_H
#define ASSIGND_API_BROKER_H

struct dispatch;

int broker_register(struct dispatch *d, char **err);

#endif
