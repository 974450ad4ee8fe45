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

struct ctl {
        const char *socket;
        bool json;
        struct vl_client *client;       /* connected on first call */
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

/* Print a JSON value on stdout as the sole output of a --json command. */
int ctl_print_json(struct json_object *o);

/* ---- commands (commands.c) ------------------------------------------------ */

int cmd_status(struct ctl *ctl, const struct ctl_args *args);
int cmd_list(struct ctl *ctl, const struct ctl_args *args);
int cmd_show(struct ctl *ctl, const struct ctl_args *args);
int cmd_policy(struct ctl *ctl, const struct ctl_args *args);
int cmd_assign(struct ctl *ctl, const struct ctl_args *args);
int cmd_release(struct ctl *ctl, const struct ctl_args *args);
int cmd_leases(struct ctl *ctl, const struct ctl_args *args);
int cmd_audit(struct ctl *ctl, const struct ctl_args *args);
int cmd_sim(struct ctl *ctl, const struct ctl_args *args);
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
char *fmt_group_short(struct json_object *dev);
char *fmt_owner(struct json_object *owner);     /* "guest1 (domid 3, assigned)" */
char *fmt_owner_or_reason(struct json_object *dev);

/* "1h 02m 03s" style durations. */
char *fmt_duration(int64_t seconds);
/* Local time of an epoch second, "2026-11-20 23:40:00 UTC" style. */
char *fmt_time(int64_t epoch);

/* An aligned text table, sized to its content. */
struct table;

struct table *table_new(size_t n_cols, const char *const *headers);
/* Append a row of n_cols strings (copied). */
int table_add_row(struct table *t, const char *const *cells);
/*
 * Let a column be squeezed when the table is wider than the terminal: down
 * to min_width, keeping the end of a cut cell (paths) rather than its start
 * if keep_tail.  Columns give up width in the order of these calls.
 */
void table_set_squeeze(struct table *t, size_t col, size_t min_width, bool keep_tail);
/* Print; width 0 means no limit. */
void table_print(struct table *t, FILE *f, size_t width);
void table_free(struct table *t);

#endif
