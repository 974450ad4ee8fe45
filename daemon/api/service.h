/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * org.varlink.service: GetInfo and GetInterfaceDescription, so that any
 * Varlink client can introspect the daemon.
 */
#ifndef ASSIGND_SERVICE_H
#define ASSIGND_SERVICE_H

struct dispatch;

int service_register(struct dispatch *d, char **err);

#endif
