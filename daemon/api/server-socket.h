/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file-system side of the server's listening socket (server.c binds
 * it): its directory made on demand, and whether a daemon still listens
 * on a socket file found in the way.  Only server.c uses this.
 */
#ifndef ASSIGND_SERVER_SOCKET_H
#define ASSIGND_SERVER_SOCKET_H

#include <sys/un.h>

/* mkdir -p for the directory of path, 0755 so that any local user can reach the socket. */
int server_socket_mkdir_parents(const char *path);

/* 1 when something accepts connections on sa, 0 when nothing does, or -errno. */
int server_socket_in_use(const struct sockaddr_un *sa);

#endif
