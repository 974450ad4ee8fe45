/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.assignd.Broker.Monitor: the Varlink side of the event bus.  Each
 * Monitor call subscribes to the bus and streams every event as a
 * "continues" reply, after replaying what the client missed ("since")
 * when the ring still has it.  A monitor that lets more than
 * LIMIT_MONITOR_BACKLOG bytes pile up unread is dropped (MonitorOverflow,
 * then the connection is closed) instead of growing the daemon's memory
 * or holding up anybody else.
 */
#ifndef ASSIGND_MONITOR_H
#define ASSIGND_MONITOR_H

#include "dispatch.h"

/* Register Monitor with the dispatcher; it uses the context's event bus. */
int monitor_register(struct dispatch *d, char **err);

#endif
