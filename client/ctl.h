/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared pieces of assignctl: the per-invocation context, the command
 * table's row type, the call helper that turns Varlink errors into the
 * documented exit statuses, and the formatting helpers the commands use.
 *
 * A command is one row of ctl_commands[] (assignctl.c): its name, the
 * positional arguments it takes, its options and a handler.  Option parsing,
 * --help output and argument-count checks are done once from that row, so
 * adding a command means adding a row and a handler, nothing else.
 */
#ifndef ASSIGNCTL_CTL_H
#define ASSIGNCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "engine.h"
#include "generate.h"
#include "jv.h"
#include "util.h"
#include "varlink.h"

/* Exit statuses, documented in assignctl(1). */
#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1      /* the daemon answered with an error, or the reply was unusable */
#define CTL_EXIT_USAGE 2        /* bad command line; nothing was sent */
#define CTL_EXIT_UNREACHABLE 3  /* no daemon on the socket, or the connection broke */

#define CTL_INTERFACE "io.assignd.Broker"

/* Most options one command may declare (besides the global ones). */
#define CTL_MAX_OPTIONS 16

struct ctl_command;
struct table_column;

struct ctl_offline;

struct ctl {
        const char *socket;
        bool json;
        struct vl_client *client;       /* connected on first call */
        const struct ctl_command *cmd;  /* what runs, for messages that name its options */
        /* --offline: the core libraries on a device tree file, no daemon (offline.c). */
        bool offline;
        const char *dtb;                /* --dtb */
        const char *db;                 /* --db: whose policy applies; NULL: none */
        const char **dma_tables;        /* --dma-table files, in order */
        size_t n_dma_tables;
        struct ctl_offline *off;        /* opened on first use */
};

struct ctl_option {
        const char *name;       /* long name without "--" */
        const char *arg;        /* metavariable for the value; NULL for a flag */
        const char *help;
        char short_name;        /* one-letter alias ("-o"), or 0 */
};

/* What the generic parser hands a command handler. */
struct ctl_args {
        /* opt[i] is the value of the command's i-th option, "" for a set flag, NULL if absent. */
        const char *opt[CTL_MAX_OPTIONS];
        char **pos;
        int n_pos;
};

struct ctl_command {
        const char *name;
        const char *synopsis;   /* positional part of the usage line, "" if none */
        const char *summary;    /* one line for the command list */
        const char *details;    /* more for the command's --help, or NULL */
        int min_args;
        int max_args;           /* -1: no upper bound */
        const struct ctl_option *options;       /* terminated by a row with name NULL; may be NULL */
        int (*run)(struct ctl *ctl, const struct ctl_args *args);
        const struct table_column *columns;     /* what -o can show (name NULL ends it), or NULL */
        bool offline;           /* also runs with --offline (needs no daemon nor hypervisor) */
};

extern const struct ctl_command ctl_commands[];
extern const size_t ctl_n_commands;

/* "assignctl: " + message on stderr; returns CTL_EXIT_USAGE for convenience. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Call io.assignd.Broker.<method> (a method name with a dot is taken as
 * fully qualified, e.g. "io.assignd.Simulator.GetState").  On success returns CTL_EXIT_OK and
 * *reply (owned by the caller).  Otherwise prints the error on stderr
 * ("assignctl: NAME: message") and returns the exit status to use.
 */
int ctl_call(struct ctl *ctl, const char *method, struct json_object *params,
             struct json_object **reply);

/*
 * A call with "more": with method set, send it (params may be NULL) and
 * set *more; with method NULL, read the next reply into *reply (owned by
 * the caller) and update *more, or set *reply to NULL when the previous
 * reply was the last one.  An error reply is printed as ctl_call does and
 * gives its exit status.
 */
int ctl_stream(struct ctl *ctl, const char *method, struct json_object *params, bool *more,
               struct json_object **reply);

/*
 * ctl_call for a command whose --json output is the reply as it came:
 * params are taken over (put here); with --json the reply is printed and
 * *reply is NULL, otherwise *reply is the reply to render (the caller's).
 */
int ctl_call_or_print(struct ctl *ctl, const char *method, struct json_object *params,
                      struct json_object **reply);

/*
 * An error as assignctl reports the daemon's: "assignctl: NAME: message
 * (facts)" on stderr (and with --json the error object on stdout), with a
 * suggestion for an unknown path.  Returns CTL_EXIT_REFUSED.
 */
int ctl_report_error(struct ctl *ctl, const char *method, const char *name,
                     struct json_object *params);

/* Print a JSON value on stdout as the sole output of a --json command. */
int ctl_print_json(struct json_object *o);

/* "assignctl: out of memory" on stderr; returns CTL_EXIT_REFUSED. */
int ctl_oom(void);

/*
 * A usage error unless path is a device-tree path (starts with '/'); a
 * node name ("serial@9000000") gets the path of the device it names, if
 * the daemon has exactly one.
 */
int ctl_check_path(const char *cmd, struct ctl *ctl, const char *path);

/* ---- offline (offline.c) ------------------------------------------------------ */

/*
 * The reply the daemon's GetStatus, ListDevices, GetDevice and guest
 * generators would give, made from ctl->dtb by the core libraries; a
 * refusal is printed as the daemon's would be.  Each returns an exit
 * status and on success *reply (the caller's).
 */
int ctl_offline_status(struct ctl *ctl, struct json_object **reply);
int ctl_offline_devices(struct ctl *ctl, const struct engine_device_filter *filter,
                        struct json_object **reply);
int ctl_offline_device(struct ctl *ctl, const char *path, struct json_object **reply);
/*
 * The daemon's check of the parameters of Broker method (the interface's
 * types, and no control character in any string): CTL_EXIT_OK, or the
 * same InvalidParameter reported.
 */
int ctl_offline_check(struct ctl *ctl, const char *method, struct json_object *params);
int ctl_offline_generate(struct ctl *ctl, enum generate_what what,
                         const struct generate_request *req, struct json_object **reply);
void ctl_offline_free(struct ctl *ctl);

/* ---- commands (commands.c, leases.c) ----------------------------------------- */

int cmd_status(struct ctl *ctl, const struct ctl_args *args);
int cmd_list(struct ctl *ctl, const struct ctl_args *args);
int cmd_show(struct ctl *ctl, const struct ctl_args *args);
int cmd_policy(struct ctl *ctl, const struct ctl_args *args);
int cmd_assign(struct ctl *ctl, const struct ctl_args *args);
int cmd_release(struct ctl *ctl, const struct ctl_args *args);
int cmd_leases(struct ctl *ctl, const struct ctl_args *args);
int cmd_audit(struct ctl *ctl, const struct ctl_args *args);
int cmd_history(struct ctl *ctl, const struct ctl_args *args);
int cmd_sim(struct ctl *ctl, const struct ctl_args *args);       /* commands.c */
int cmd_monitor(struct ctl *ctl, const struct ctl_args *args);    /* monitor.c */

/* ---- guest side (guest.c) ---------------------------------------------------- */

int cmd_dtb(struct ctl *ctl, const struct ctl_args *args);
int cmd_xl_config(struct ctl *ctl, const struct ctl_args *args);
int cmd_imagebuilder(struct ctl *ctl, const struct ctl_args *args);
int cmd_reserve(struct ctl *ctl, const struct ctl_args *args);
int cmd_cancel(struct ctl *ctl, const struct ctl_args *args);
/*
 * Read passthrough, irqs, iomem and dtdev from an xl.cfg into CreateDomain
 * parameters (sim create --xl-config).  Returns an exit status.
 */
int ctl_xl_grants(const char *path, struct json_object *params);

/* ---- formatting (format.c) ------------------------------------------------ */

/* Last path component ("/soc/serial@1000" -> "serial@1000"). */
const char *short_name(const char *path);

/* Short summaries of one device, each malloc'd (NULL only on ENOMEM). */
char *fmt_regions_short(struct json_object *dev);
char *fmt_spis_short(struct json_object *dev);
char *fmt_group_members(struct json_object *dev);       /* the other members' paths */
char *fmt_owner(struct json_object *owner);     /* "guest1 (domid 3, assigned)" */
char *fmt_owner_or_reason(struct json_object *dev);

/* "1h 02m 03s" style durations. */
char *fmt_duration(int64_t seconds);
/* Local time of an epoch second, "2026-11-20 23:40:00 UTC" style. */
char *fmt_time(int64_t epoch);

/*
 * The width tables and lists are fitted to: 0 (no limit) with full; else
 * $COLUMNS when it is a number, the terminal's width when stdout is one,
 * and no limit when it is a pipe or a file, so scripts get whole lines.
 */
size_t ctl_output_width(bool full);

/* ---- tables (table.c) ------------------------------------------------------ */

/* How a column's cells give up width when the table must fit. */
enum table_cut {
        TABLE_CUT_END,          /* "text tha..." */
        TABLE_CUT_PATH,         /* a device-tree path keeps its last component */
        TABLE_CUT_PATHS,        /* words, of which paths shrink to node names first */
};

/* Squeeze ranks: columns give up width in rank order, 1 first. */
#define TABLE_MAX_SQUEEZE 4

struct table_column {
        const char *name;       /* header, and its name for -o (any case) */
        const char *help;       /* what it shows, for --help */
        bool show;              /* in the default set */
        int squeeze;            /* rank in which it gives up width; 0: never */
        size_t min_width;       /* how far it gives before the next rank does */
        enum table_cut cut;
};

/* The columns of each table, for -o and --help. */
extern const struct table_column ctl_hazard_columns[];
extern const struct table_column ctl_list_columns[];
extern const struct table_column ctl_lease_columns[];
extern const struct table_column ctl_audit_columns[];

struct table;

/* A table of the columns cols (ended by name NULL; must outlive it), showing the default set. */
struct table *table_new(const struct table_column *cols);
void table_free(struct table *t);
/* Append a row: one string per declared column, shown or not (copied; NULL is "-"). */
int table_add_row(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/*
 * Show the columns of list ("PATH,DMA", any case; NULL: the default set),
 * in that order.  A usage error names the unknown column and the nearest
 * known one (the exit status is returned).
 */
int table_select(struct table *t, const char *list, const char *cmd);
/*
 * Print, fitted to width (0: no limit): the squeezable columns give up
 * width in their rank order, paths keeping their last component; legend
 * false leaves out the header line.
 */
void table_print(const struct table *t, FILE *f, size_t width, bool legend);

/* The options every table command has, after its own (see CTL_TABLE_OPTIONS). */
enum { CTL_TABLE_OPT_COLUMNS, CTL_TABLE_OPT_FULL, CTL_TABLE_OPT_NO_LEGEND, CTL_N_TABLE_OPTS };
#define CTL_TABLE_OPTIONS                                                                  \
        { "columns", "LIST", "show these columns, comma-separated, in this order (see " \
          "Columns)", 'o' },                                                               \
        { "full", NULL, "print cells whole, however wide the table gets" },               \
        { "no-legend", NULL, "print neither the header line nor the summary after the table" }

/* The table options of a command whose own options number first. */
struct ctl_table_opts {
        const char *columns;
        size_t width;
        bool full;
        bool legend;
};
struct ctl_table_opts ctl_table_opts(const struct ctl_args *args, size_t first);

/* ---- suggestions (suggest.c) ------------------------------------------------ */

/* Edit distance (a swap of neighbours counts one); SIZE_MAX for very long words. */
size_t suggest_distance(const char *a, const char *b, bool nocase);
/*
 * The candidate near enough to word to be what was meant ("A", or "A or
 * B" when equally near; malloc'd), or NULL.
 */
char *suggest_nearest(const char *word, const char *const *cands, size_t n, bool nocase);
/* The device path the daemon has that path was probably meant to be (malloc'd), or NULL. */
char *ctl_suggest_device(struct ctl *ctl, const char *path);

#endif
