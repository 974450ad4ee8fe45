/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's settings: command-line options with their defaults.  Kept
 * apart from main.c so the integration of options and their documentation
 * (assignd(8), --help) has one place to look.
 */
#ifndef ASSIGND_CONFIG_H
#define ASSIGND_CONFIG_H

#include <stdbool.h>

struct config {
        const char *dtb_path;
        const char *db_path;
        const char *socket_path;
        const char *hypervisor;         /* "xen" or "sim" */
        const char *sim_state;          /* NULL: <db directory>/sim-state.json */
        const char *sim_xen_version;    /* "4.17" */
        const char *config_dir;         /* dma.d/ tables live here */
        const char *group;              /* members may read and watch */
        bool group_may_write;
        bool forbid_force;              /* refuse Assign's force_unprotected */
        bool foreground;
        int log_level;
};

/* Fill cfg with the built-in defaults. */
void config_init(struct config *cfg);

/*
 * Parse the command line.  Returns 0 to run, 1 when --help or --version
 * was printed (exit 0), -EINVAL on a usage error (message printed).
 */
int config_parse_args(struct config *cfg, int argc, char **argv);

/* The --help text (also checked against assignd(8) by the tests). */
void config_print_help(const char *argv0);

#endif
