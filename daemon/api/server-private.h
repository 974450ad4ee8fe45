/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The server object as server.c and server-listen.c share it.  Not for
 * use outside them.
 */
#ifndef ASSIGND_SERVER_PRIVATE_H
#define ASSIGND_SERVER_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "server.h"

struct conn;

/*
 * What one read takes from a connection with nothing buffered: a small
 * call whole, and no more than a share of the event loop's time for a
 * peer that pipelines many (a longer message continues in its buffer).
 */
#define SERVER_READ_CHUNK 4096u

struct server {
        struct event_base *base;
        struct server_limits lim;
        server_dispatch_fn dispatch;
        void *userdata;

        int listen_fd;
        struct event *listen_ev;
        struct event *pause_ev;
        bool pause_logged;              /* one warning per run of EMFILE pauses */
        char *bound_path;
        dev_t bound_dev;
        ino_t bound_ino;

        struct conn *conns;
        size_t n_conns;
        /* Connections per uid (few uids connect: a short list, not a walk of every connection). */
        struct server_uid_count {
                uid_t uid;
                size_t n;
        } *uids;
        size_t n_uids, cap_uids;
        unsigned long next_id;
        /* One tokener for every request: a message is parsed whole before the next. */
        struct json_tokener *tok;
        /* Where connections with nothing buffered read into (SERVER_READ_CHUNK bytes). */
        char *scratch;
};

/* Accept connections on fd, a listening socket (taken over). */
int server_start_listening(struct server *s, int fd);

#endif
