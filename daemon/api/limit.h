/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every resource limit of assignd's socket server, as named constants in
 * one place, so that what a client can make the daemon spend is visible at
 * a glance and each limit is checked before the memory or descriptor it
 * guards is allocated.  A client that exceeds one loses its own connection
 * (or is refused one) and nothing else.
 */
#ifndef ASSIGND_LIMIT_H
#define ASSIGND_LIMIT_H

#include "varlink.h"

/* Largest request, without its NUL (the Varlink framing cap). */
#define LIMIT_MESSAGE_SIZE VL_MAX_MESSAGE

/* Largest single reply the daemon sends; a bigger one becomes InternalError. */
#define LIMIT_REPLY_SIZE VL_MAX_REPLY

/*
 * Connections open at once, over all callers, and per uid: sd-varlink's
 * figures.  An idle connection costs under 1 KiB (its events and itself:
 * no buffer is kept between calls) and a descriptor (the daemon raises its
 * descriptor limit to fit; the unit sets LimitNOFILE=).
 */
#define LIMIT_CONNECTIONS 4096

/*
 * Of LIMIT_CONNECTIONS, how many only uid 0 may use, so that other users
 * filling the daemon up cannot lock the administrator out.
 */
#define LIMIT_CONNECTIONS_ROOT_RESERVE 16

/* Connections open at once by one uid (root included: a runaway script is still one). */
#define LIMIT_CONNECTIONS_PER_UID 1024

/* Descriptors the daemon keeps for itself beyond its connections (database, watch, log ...). */
#define LIMIT_FDS_OWN 64

/*
 * Requests a connection may have queued behind the one in progress (Varlink
 * answers calls on one connection in order).  Past this the server stops
 * reading from that connection until the queue drains.
 */
#define LIMIT_PENDING_CALLS 16

/*
 * Bytes of replies waiting to be written to one connection.  A reply that
 * would take the backlog past this closes the connection (its client is
 * not reading), except that one reply always fits into an empty backlog.
 */
#define LIMIT_OUTPUT_BACKLOG (4u * 1024 * 1024)

/*
 * While more than this is waiting to be written, no further queued call is
 * started on that connection: a client pipelining requests it reads slowly
 * is slowed down rather than disconnected.
 */
#define LIMIT_OUTPUT_LOW_WATER (256u * 1024)

/*
 * Seconds a connection may stay open with no call in progress, no "more"
 * stream and no complete request (a half-sent request does not count as
 * activity, so trickling bytes does not keep a connection alive).
 */
#define LIMIT_IDLE_TIMEOUT_SEC 60

/* How long accepting pauses after EMFILE/ENFILE/ENOBUFS/ENOMEM, in milliseconds. */
#define LIMIT_ACCEPT_PAUSE_MSEC 250

/* Supplementary groups recorded per peer (SO_PEERGROUPS); more are ignored. */
#define LIMIT_PEER_GROUPS 256

/* Backlog of the listening socket. */
#define LIMIT_LISTEN_BACKLOG 64

/*
 * Bytes of events a Monitor stream may have waiting in the daemon (beyond
 * what the kernel's socket buffer holds) before the monitor is dropped
 * with MonitorOverflow.  Far below LIMIT_OUTPUT_BACKLOG so that the error
 * itself still fits, and a few hundred events, fewer than LIMIT_EVENT_RING,
 * so that a dropped monitor can come back with "since" and miss nothing.
 */
#define LIMIT_MONITOR_BACKLOG (64u * 1024)

/*
 * Most leases (ListLeases) or audit entries (GetAuditLog) in one reply:
 * the history is read a page at a time, so no reply grows with it.
 */
#define LIMIT_PAGE 1000

/* GetAuditLog's page when the call does not say. */
#define LIMIT_AUDIT_PAGE_DEFAULT 100

/* Events kept in memory for Monitor's "since" (the ring of events.c). */
#define LIMIT_EVENT_RING 1024

/*
 * Milliseconds a connection that is being closed after a final error (a
 * dropped monitor) gets to read what is queued for it before it is cut.
 */
#define LIMIT_DRAIN_TIMEOUT_MSEC 2000

#endif
