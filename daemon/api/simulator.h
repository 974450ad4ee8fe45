/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.assignd.Simulator: the controls of the simulated hypervisor (create,
 * destroy and run domains as the toolstack would, arm failpoints, read
 * its state), served only when the daemon runs on the simulator.
 */
#ifndef ASSIGND_SIMULATOR_H
#define ASSIGND_SIMULATOR_H

struct dispatch;
struct hv;

/* Serve the interface and its methods if hv is the simulator; else do nothing. */
int simulator_register(struct dispatch *d, struct hv *hv, char **err);

#endif
