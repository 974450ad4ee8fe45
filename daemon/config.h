/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's settings and where each came from: built-in defaults, then
 * <config dir>/assignd.conf, then <config dir>/assignd.conf.d/NAME.conf in
 * name order, then the command line, each overriding the one before.  The
 * files are INI, read with libinih; assignd.conf(5) documents every key.
 * Loading is repeatable with the same command line, which is how SIGHUP
 * re-reads the files without losing what the command line said.
 */
#ifndef ASSIGND_CONFIG_H
#define ASSIGND_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "dispatch.h"

/* The settings the files may set, in the order --print-config shows them. */
enum config_setting {
        CONFIG_READ_GROUPS,
        CONFIG_READ_USERS,
        CONFIG_WATCH_GROUPS,
        CONFIG_WATCH_USERS,
        CONFIG_WRITE_GROUPS,
        CONFIG_WRITE_USERS,
        CONFIG_UNPROTECTED,
        CONFIG_RESERVATION_TTL,
        CONFIG_MAX_CONNECTIONS,
        CONFIG_MAX_CONNECTIONS_PER_USER,
        CONFIG_IDLE_TIMEOUT,
        CONFIG_MAX_DEVICE_TREE,
        CONFIG_HISTORY_MAX_AGE,
        CONFIG_HISTORY_MAX_LEASES,
        CONFIG_HISTORY_MAX_AUDIT,
        CONFIG_DATABASE,
        CONFIG_SOCKET,
        _CONFIG_SETTING_MAX,
};

struct config {
        /* Command line only. */
        char *dtb_path;
        char *hypervisor;               /* "xen" or "sim" */
        char *sim_state;                /* NULL: <db directory>/sim-state.json */
        char *sim_xen_version;          /* "4.17" */
        char *config_dir;               /* assignd.conf, assignd.conf.d/, dma.d/ */
        bool foreground;
        bool print_config;
        int log_level;

        /* Files, then the command line. */
        char *db_path;
        char *socket_path;
        /* Who may read, watch, write (indexed by enum dispatch_right): names or numbers. */
        char **groups[_DISPATCH_RIGHT_MAX];
        char **users[_DISPATCH_RIGHT_MAX];
        bool forbid_force;              /* Unprotected=refuse: no force_unprotected */
        unsigned reservation_ttl;       /* seconds, when Reserve does not say */
        unsigned max_connections;
        unsigned max_connections_per_user;
        unsigned idle_timeout_sec;
        unsigned max_device_tree_mib;   /* the DTB size cap */
        unsigned history_max_age_days;  /* retention of final leases and audit entries; 0: none */
        unsigned history_max_leases;
        unsigned history_max_audit;
        /* Where each setting came from: "built-in", "FILE:LINE", "command line". */
        char *origin[_CONFIG_SETTING_MAX];

        /* The lists resolved to ids (config_resolve). */
        gid_t *gids[_DISPATCH_RIGHT_MAX];
        size_t n_gids[_DISPATCH_RIGHT_MAX];
        uid_t *uids[_DISPATCH_RIGHT_MAX];
        size_t n_uids[_DISPATCH_RIGHT_MAX];
};

/*
 * Load the settings: defaults, files, then argv.  Returns 0 to run, 1 when
 * --help or --version was printed (exit 0), or a negative errno with the
 * reason printed to stderr (a file's error names the file and the line).
 * cfg is always initialized and must be given to config_clear().
 */
int config_load(struct config *cfg, int argc, char **argv);
void config_clear(struct config *cfg);

/*
 * Turn the access lists into ids.  A name that does not resolve is an
 * error naming where it was set, except the built-in default group, which
 * may not exist yet (then only root may use the socket, with a notice).
 */
int config_resolve(struct config *cfg, char **err);

/* The grants of cfg for the dispatcher (pointing into cfg). */
void config_grants(const struct config *cfg, struct dispatch_grant grants[_DISPATCH_RIGHT_MAX]);

/* The effective configuration as an INI file, each value with its origin. */
void config_print(const struct config *cfg, FILE *out);

/* The --help text (also checked against assignd(8) by the tests). */
void config_print_help(const char *argv0);

/* The name a setting has in the files ("Access.ReadGroups"), for messages. */
const char *config_setting_name(enum config_setting s);

#endif
