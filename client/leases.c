/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl's lease commands: assign and release (direct mode), and what
 * the owner of record remembers: leases, the audit log, and the history of
 * one device (every lease that had it and the audit entries about it).
 * The tables share their columns between leases, audit and history, so a
 * device's history reads like the two logs it is cut from.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strbuf.h"

/* ---- assign and release ---------------------------------------------------- */

static struct json_object *paths_array(char **paths, int n)
{
        struct json_object *a = json_object_new_array();

        for (int i = 0; a && i < n; i++)
                if (json_object_array_add(a, json_object_new_string(paths[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

/* "iomem_permission  /soc/x  mfn 0x9010 +1" lines, with a done mark unless a plan. */
static void print_steps(struct json_object *steps, bool plan)
{
        size_t n = steps ? json_object_array_length(steps) : 0;

        for (size_t i = 0; i < n; i++) {
                struct json_object *s = json_object_array_get_idx(steps, i);
                const char *step = jv_get_str(s, "step", "?");
                char args[96] = "";

                if (jv_get_int(s, "nr", -1) >= 0 && jv_get_int(s, "gfn", -1) >= 0)
                        snprintf(args, sizeof(args), "mfn 0x%" PRIx64 " -> gfn 0x%" PRIx64 ", %" PRId64
                                 " page%s", (uint64_t)jv_get_int(s, "mfn", 0), (uint64_t)jv_get_int(s, "gfn", 0),
                                 jv_get_int(s, "nr", 0), jv_get_int(s, "nr", 0) == 1 ? "" : "s");
                else if (jv_get_int(s, "nr", -1) >= 0)
                        snprintf(args, sizeof(args), "mfn 0x%" PRIx64 ", %" PRId64 " page%s",
                                 (uint64_t)jv_get_int(s, "mfn", 0), jv_get_int(s, "nr", 0),
                                 jv_get_int(s, "nr", 0) == 1 ? "" : "s");
                else if (jv_get_int(s, "irq", -1) >= 0)
                        snprintf(args, sizeof(args), "IRQ %" PRId64 " (guest IRQ %" PRId64 ")",
                                 jv_get_int(s, "irq", 0), jv_get_int(s, "irq", 0));
                printf("  %2zu. %-17s %-32s %s%s\n", i + 1, step, jv_get_str(s, "device", "?"), args,
                       plan ? "" : jv_get_bool(s, "undone", false) ? "  [undone]"
                                   : jv_get_bool(s, "done", false) ? "" : "  [not done]");
        }
}

enum { ASSIGN_OPT_FORCE, ASSIGN_OPT_DRY_RUN, ASSIGN_OPT_LAYOUT };

int cmd_assign(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL, *lease;
        const char *layout = args->opt[ASSIGN_OPT_LAYOUT];
        int r;

        if (layout && !streq(layout, "identity") && !streq(layout, "auto"))
                return ctl_usage_error("assign: --layout must be identity or auto (got '%s')",
                                       layout);
        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        json_object_object_add(p, "domain", json_object_new_string(args->pos[0]));
        json_object_object_add(p, "devices", paths_array(args->pos + 1, args->n_pos - 1));
        if (args->opt[ASSIGN_OPT_FORCE])
                json_object_object_add(p, "force_unprotected", json_object_new_boolean(1));
        if (args->opt[ASSIGN_OPT_DRY_RUN])
                json_object_object_add(p, "dry_run", json_object_new_boolean(1));
        if (layout)
                json_object_object_add(p, "layout", json_object_new_string(layout));
        r = ctl_call_or_print(ctl, "Assign", p, &reply);
        if (r != CTL_EXIT_OK || !reply)
                return r;
        lease = jv_get_object(reply, "lease");
        if (!lease) {
                printf("dry run: nothing was done; the assignment would make these calls:\n");
                print_steps(jv_get_array(reply, "steps"), true);
        } else {
                printf("lease %" PRId64 ": %d device%s assigned to %s (domid %" PRId64 ")%s\n",
                       jv_get_int(lease, "id", 0), args->n_pos - 1, args->n_pos == 2 ? "" : "s",
                       jv_get_str(lease, "domain", "?"), jv_get_int(lease, "domid", -1),
                       jv_get_bool(lease, "forced", false)
                               ? ", FORCED: unprotected DMA (logged as a warning)" : "");
                print_steps(jv_get_array(lease, "steps"), false);
        }
        json_object_put(reply);
        return CTL_EXIT_OK;
}

static void print_lease_outcome(struct json_object *l)
{
        const char *st = jv_get_str(l, "state", "?");

        printf("lease %" PRId64 " (%s, domid %" PRId64 "): %s", jv_get_int(l, "id", 0),
               jv_get_str(l, "domain", "?"), jv_get_int(l, "domid", -1), st);
        if (streq(st, "releasing"))
                printf(": MMIO unmapped, permissions revoked and IOMMU released; its SPIs stay "
                       "routed until the domain dies, and its devices are held until then");
        printf("\n");
}

int cmd_release(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL, *ls;
        size_t n;
        int r;

        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        json_object_object_add(p, "domain", json_object_new_string(args->pos[0]));
        if (args->n_pos > 1)
                json_object_object_add(p, "devices", paths_array(args->pos + 1, args->n_pos - 1));
        r = ctl_call_or_print(ctl, "Release", p, &reply);
        if (r != CTL_EXIT_OK || !reply)
                return r;
        ls = jv_get_array(reply, "leases");
        n = ls ? json_object_array_length(ls) : 0;
        for (size_t i = 0; i < n; i++)
                print_lease_outcome(json_object_array_get_idx(ls, i));
        json_object_put(reply);
        return CTL_EXIT_OK;
}

/* ---- leases ------------------------------------------------------------------ */

enum {
        LCOL_ID, LCOL_DOMAIN, LCOL_DOMID, LCOL_STATE, LCOL_KIND, LCOL_DEVICES, LCOL_UPDATED,
        LCOL_ERROR,
        LCOL_TARGET, LCOL_CREATED, LCOL_EXPIRES, LCOL_FORCED, LCOL_LAYOUT, LCOL_UID, LCOL_PID,
        N_LEASE_COLS
};

const struct table_column ctl_lease_columns[] = {
        [LCOL_ID] = { "ID", "the lease's number", true, 0, 0, TABLE_CUT_END },
        [LCOL_DOMAIN] = { "DOMAIN", "the domain's name", true, 3, 8, TABLE_CUT_END },
        [LCOL_DOMID] = { "DOMID", "the domain's id, - while a reservation waits for it", true, 0,
                         0, TABLE_CUT_END },
        [LCOL_STATE] = { "STATE", "reserved, assigning, assigned, releasing, free or failed",
                         true, 0, 0, TABLE_CUT_END },
        [LCOL_KIND] = { "KIND", "standing (a persistent reservation; standing,free: free while "
                        "its domain is down), adopted (found held outside assignd) or -",
                        true, 0, 0, TABLE_CUT_END },
        [LCOL_DEVICES] = { "DEVICES", "the devices it holds", true, 2, 16, TABLE_CUT_PATHS },
        [LCOL_UPDATED] = { "UPDATED", "when its state last changed (local time)", true, 0, 0,
                           TABLE_CUT_END },
        [LCOL_ERROR] = { "ERROR", "why it failed or is held, if it did or is", true, 1, 5,
                         TABLE_CUT_END },
        [LCOL_TARGET] = { "TARGET", "the state it is going to", false, 0, 0, TABLE_CUT_END },
        [LCOL_CREATED] = { "CREATED", "when it was made (local time)", false, 0, 0,
                           TABLE_CUT_END },
        [LCOL_EXPIRES] = { "EXPIRES", "when a reservation no domain took up is dropped", false, 0,
                           0, TABLE_CUT_END },
        [LCOL_FORCED] = { "FORCED", "yes when unprotected devices were assigned by force", false,
                          0, 0, TABLE_CUT_END },
        [LCOL_LAYOUT] = { "LAYOUT", "identity, relocate or auto", false, 0, 0, TABLE_CUT_END },
        [LCOL_UID] = { "UID", "who asked for it", false, 0, 0, TABLE_CUT_END },
        [LCOL_PID] = { "PID", "the process that asked", false, 0, 0, TABLE_CUT_END },
        [N_LEASE_COLS] = { NULL, NULL, false, 0, 0, TABLE_CUT_END },
};

/* "2026-11-20 23:40" in local time: a table has no room for seconds and zone. */
static void short_time(int64_t epoch, char *buf, size_t len)
{
        struct tm tm;
        time_t t = (time_t)epoch;

        if (epoch <= 0 || !localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
                snprintf(buf, len, "-");
}

static int add_lease_row(struct table *t, struct json_object *l)
{
        struct json_object *devs = jv_get_array(l, "devices");
        struct strbuf d = STRBUF_INIT;
        char id[24], domid[24] = "-", uid[24], pid[24], updated[32], created[32], expires[32];
        const char *cells[N_LEASE_COLS];
        char *devices = NULL;
        int r;

        for (size_t k = 0; devs && k < json_object_array_length(devs); k++)
                strbuf_printf(&d, "%s%s", k ? " " : "",
                              json_object_get_string(json_object_array_get_idx(devs, k)));
        if (strbuf_steal(&d, &devices) < 0)
                return -ENOMEM;
        snprintf(id, sizeof(id), "%" PRId64, jv_get_int(l, "id", 0));
        if (jv_get_int(l, "domid", -1) >= 0)
                snprintf(domid, sizeof(domid), "%" PRId64, jv_get_int(l, "domid", -1));
        snprintf(uid, sizeof(uid), "%" PRId64, jv_get_int(l, "uid", 0));
        snprintf(pid, sizeof(pid), "%" PRId64, jv_get_int(l, "pid", 0));
        short_time(jv_get_int(l, "updated_at", 0), updated, sizeof(updated));
        short_time(jv_get_int(l, "created_at", 0), created, sizeof(created));
        short_time(jv_get_int(l, "expires_at", 0), expires, sizeof(expires));
        cells[LCOL_ID] = id;
        cells[LCOL_DOMAIN] = jv_get_str(l, "domain", "-");
        cells[LCOL_DOMID] = domid;
        cells[LCOL_STATE] = jv_get_str(l, "state", "?");
        cells[LCOL_KIND] = streq(jv_get_str(l, "origin", "request"), "external") ? "adopted"
                           : !jv_get_bool(l, "standing", false)          ? "-"
                           : jv_get_bool(l, "exclusive", true)           ? "standing"
                                                                          : "standing,free";
        cells[LCOL_DEVICES] = devices[0] ? devices : "-";
        cells[LCOL_UPDATED] = updated;
        cells[LCOL_ERROR] = jv_get_str(l, "error", "-");
        cells[LCOL_TARGET] = jv_get_str(l, "target_state", "-");
        cells[LCOL_CREATED] = created;
        cells[LCOL_EXPIRES] = expires;
        cells[LCOL_FORCED] = jv_get_bool(l, "forced", false) ? "yes" : "no";
        cells[LCOL_LAYOUT] = jv_get_str(l, "layout", "-");
        cells[LCOL_UID] = uid;
        cells[LCOL_PID] = pid;
        r = table_add_row(t, cells);
        free(devices);
        return r;
}

/* ---- the audit log ------------------------------------------------------------- */

enum {
        ACOL_ID, ACOL_TIME, ACOL_UID, ACOL_ACTION, ACOL_TARGET, ACOL_RESULT, ACOL_DETAIL,
        ACOL_PID, ACOL_SEVERITY, N_AUDIT_COLS
};

const struct table_column ctl_audit_columns[] = {
        [ACOL_ID] = { "ID", "the entry's number", true, 0, 0, TABLE_CUT_END },
        [ACOL_TIME] = { "TIME", "when (local time)", true, 0, 0, TABLE_CUT_END },
        [ACOL_UID] = { "UID", "who asked (0 for the daemon's own changes)", true, 0, 0,
                       TABLE_CUT_END },
        [ACOL_ACTION] = { "ACTION", "what was asked or done: Assign, Release, Reserve, ...", true,
                          0, 0, TABLE_CUT_END },
        [ACOL_TARGET] = { "TARGET", "the domain, devices or lease it concerned", true, 2, 14,
                          TABLE_CUT_PATHS },
        [ACOL_RESULT] = { "RESULT", "ok or the error's name; (WARNING) marks forced assignments "
                          "and failed reconciliations", true, 0, 0, TABLE_CUT_END },
        [ACOL_DETAIL] = { "DETAIL", "more about the outcome", true, 1, 6, TABLE_CUT_END },
        [ACOL_PID] = { "PID", "the process that asked", false, 0, 0, TABLE_CUT_END },
        [ACOL_SEVERITY] = { "SEVERITY", "info or warning", false, 0, 0, TABLE_CUT_END },
        [N_AUDIT_COLS] = { NULL, NULL, false, 0, 0, TABLE_CUT_END },
};

static int add_audit_row(struct table *t, struct json_object *a)
{
        char id[24], uid[24], pid[24], at[32], result[96];
        const char *cells[N_AUDIT_COLS];

        snprintf(id, sizeof(id), "%" PRId64, jv_get_int(a, "id", 0));
        snprintf(uid, sizeof(uid), "%" PRId64, jv_get_int(a, "uid", 0));
        snprintf(pid, sizeof(pid), "%" PRId64, jv_get_int(a, "pid", 0));
        short_time(jv_get_int(a, "at", 0), at, sizeof(at));
        snprintf(result, sizeof(result), "%s%s", jv_get_str(a, "result", "?"),
                 streq(jv_get_str(a, "severity", ""), "warning") ? " (WARNING)" : "");
        cells[ACOL_ID] = id;
        cells[ACOL_TIME] = at;
        cells[ACOL_UID] = uid;
        cells[ACOL_ACTION] = jv_get_str(a, "action", "?");
        cells[ACOL_TARGET] = jv_get_str(a, "target", "-");
        cells[ACOL_RESULT] = result;
        cells[ACOL_DETAIL] = jv_get_str(a, "detail", "-");
        cells[ACOL_PID] = pid;
        cells[ACOL_SEVERITY] = jv_get_str(a, "severity", "?");
        return table_add_row(t, cells);
}

/* ---- printing them ------------------------------------------------------------- */

/* A table of the array's rows; the caller prints what follows it. */
static int print_rows(struct json_object *arr, const struct table_column *cols,
                      int (*add)(struct table *, struct json_object *),
                      const struct ctl_table_opts *o, const char *cmd)
{
        size_t n = arr ? json_object_array_length(arr) : 0;
        struct table *t = table_new(cols);
        int r;

        if (!t)
                return ctl_oom();
        r = table_select(t, o->columns, cmd);
        for (size_t i = 0; r == CTL_EXIT_OK && i < n; i++)
                if (add(t, json_object_array_get_idx(arr, i)) < 0)
                        r = ctl_oom();
        if (r == CTL_EXIT_OK)
                table_print(t, stdout, o->width, o->legend);
        table_free(t);
        return r;
}

/* --limit N and the cursors: a number >= 0, or the default. */
static int parse_number(const char *cmd, const char *opt, const char *value, long dflt,
                        long *ret)
{
        char *end = NULL;

        *ret = dflt;
        if (!value)
                return CTL_EXIT_OK;
        errno = 0;
        *ret = strtol(value, &end, 10);
        if (!*value || *end || *ret < 0 || errno)
                return ctl_usage_error("%s: --%s takes a number >= 0 (got '%s')", cmd, opt,
                                       value);
        return CTL_EXIT_OK;
}

static int parse_limit(const char *cmd, const char *limit, long dflt, long *ret)
{
        return parse_number(cmd, "limit", limit, dflt, ret);
}

/* The daemon's largest page (ListLeases, GetAuditLog). */
#define PAGE_MAX 1000

/*
 * The rows of a list the daemon answers a page at a time (ListLeases,
 * GetAuditLog): pages are asked for, from cursor value from (0: the
 * start), until want rows are there (0: all of them) or the daemon has no
 * more.  GetAuditLog's pages go back in time (older: each is put before
 * the rows already there).  p holds the other parameters (taken over);
 * *next is the cursor of what is left (0: nothing).
 */
static int fetch_pages(struct ctl *ctl, const char *method, struct json_object *p,
                       const char *key, const char *cursor, bool older, long from, size_t want,
                       struct json_object **ret, int64_t *next)
{
        struct json_object *all = json_object_new_array();
        int64_t at = from;
        int r = CTL_EXIT_OK;

        *next = 0;
        if (!all) {
                json_object_put(p);
                return ctl_oom();
        }
        for (;;) {
                struct json_object *reply = NULL, *arr, *nx;
                size_t have = json_object_array_length(all), n;
                size_t ask = want ? want - have : PAGE_MAX;

                json_object_object_add(p, "limit",
                                       json_object_new_int64(ask > PAGE_MAX ? PAGE_MAX
                                                                            : (int64_t)ask));
                if (at > 0)
                        json_object_object_add(p, cursor, json_object_new_int64(at));
                r = ctl_call(ctl, method, p, &reply);
                if (r != CTL_EXIT_OK)
                        break;
                arr = jv_get_array(reply, key);
                n = arr ? json_object_array_length(arr) : 0;
                if (older) {
                        struct json_object *merged = json_object_new_array();

                        for (size_t i = 0; merged && i < n; i++)
                                json_object_array_add(merged, json_object_get(
                                                              json_object_array_get_idx(arr, i)));
                        for (size_t i = 0; merged && i < have; i++)
                                json_object_array_add(merged, json_object_get(
                                                              json_object_array_get_idx(all, i)));
                        json_object_put(all);
                        all = merged;
                } else {
                        for (size_t i = 0; i < n; i++)
                                json_object_array_add(all, json_object_get(
                                                              json_object_array_get_idx(arr, i)));
                }
                at = json_object_object_get_ex(reply, "next", &nx) && nx
                             ? json_object_get_int64(nx) : 0;
                json_object_put(reply);
                if (!all) {
                        r = ctl_oom();
                        break;
                }
                if (at <= 0 || n == 0 || (want && json_object_array_length(all) >= want))
                        break;
        }
        json_object_put(p);
        if (r != CTL_EXIT_OK) {
                json_object_put(all);
                return r;
        }
        *next = at > 0 ? at : 0;
        *ret = all;
        return CTL_EXIT_OK;
}

/* Print the rows of a paged list: the array with --json, else the table. */
static int print_list(struct ctl *ctl, struct json_object *arr, const struct table_column *cols,
                      int (*add)(struct table *, struct json_object *),
                      const struct ctl_table_opts *o)
{
        return ctl->json ? ctl_print_json(arr) : print_rows(arr, cols, add, o, ctl->cmd->name);
}

enum { LEASES_OPT_ALL, LEASES_OPT_AFTER, LEASES_OPT_LIMIT, LEASES_N_OPTS };

int cmd_leases(struct ctl *ctl, const struct ctl_args *args)
{
        struct ctl_table_opts o = ctl_table_opts(args, LEASES_N_OPTS);
        struct json_object *p, *arr = NULL;
        int64_t next = 0;
        long after, lim;
        size_t n;
        int r;

        r = parse_number("leases", "after", args->opt[LEASES_OPT_AFTER], 0, &after);
        if (r == CTL_EXIT_OK)
                r = parse_limit("leases", args->opt[LEASES_OPT_LIMIT], 0, &lim);
        if (r != CTL_EXIT_OK)
                return r;
        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        if (args->opt[LEASES_OPT_ALL])
                json_object_object_add(p, "all", json_object_new_boolean(1));
        r = fetch_pages(ctl, "ListLeases", p, "leases", "after", false, after, (size_t)lim, &arr,
                        &next);
        if (r != CTL_EXIT_OK)
                return r;
        n = json_object_array_length(arr);
        r = print_list(ctl, arr, ctl_lease_columns, add_lease_row, &o);
        json_object_put(arr);
        if (r == CTL_EXIT_OK && !ctl->json && o.legend) {
                printf("\n%zu lease%s%s\n", n, n == 1 ? "" : "s",
                       args->opt[LEASES_OPT_ALL] ? "" : " not final (--all: also free and failed)");
                if (next)
                        printf("more after lease %" PRId64 ": --after %" PRId64 "\n", next, next);
        }
        return r;
}

enum { AUDIT_OPT_LIMIT, AUDIT_OPT_BEFORE, AUDIT_N_OPTS };

int cmd_audit(struct ctl *ctl, const struct ctl_args *args)
{
        struct ctl_table_opts o = ctl_table_opts(args, AUDIT_N_OPTS);
        struct json_object *p, *arr = NULL;
        int64_t next = 0;
        long lim, before;
        size_t n;
        int r;

        r = parse_limit("audit", args->opt[AUDIT_OPT_LIMIT], 20, &lim);
        if (r == CTL_EXIT_OK)
                r = parse_number("audit", "before", args->opt[AUDIT_OPT_BEFORE], 0, &before);
        if (r != CTL_EXIT_OK)
                return r;
        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        r = fetch_pages(ctl, "GetAuditLog", p, "entries", "before", true, before, (size_t)lim,
                        &arr, &next);
        if (r != CTL_EXIT_OK)
                return r;
        n = json_object_array_length(arr);
        r = print_list(ctl, arr, ctl_audit_columns, add_audit_row, &o);
        json_object_put(arr);
        if (r == CTL_EXIT_OK && !ctl->json && o.legend && n == 0)
                printf("the audit log is empty\n");
        else if (r == CTL_EXIT_OK && !ctl->json && o.legend && next)
                printf("\nolder entries: --before %" PRId64 "\n", next);
        return r;
}

/* ---- history of one device ------------------------------------------------------ */

enum { HISTORY_OPT_LIMIT, HISTORY_OPT_FULL, HISTORY_OPT_NO_LEGEND };

int cmd_history(struct ctl *ctl, const struct ctl_args *args)
{
        struct ctl_table_opts o = {
                .width = ctl_output_width(args->opt[HISTORY_OPT_FULL] != NULL),
                .legend = !args->opt[HISTORY_OPT_NO_LEGEND],
        };
        const char *path = args->pos[0];
        struct json_object *p, *reply = NULL, *leases, *entries;
        size_t nl, ne;
        long lim;
        int r;

        r = ctl_check_path("history", ctl, path);
        if (r != CTL_EXIT_OK)
                return r;
        r = parse_limit("history", args->opt[HISTORY_OPT_LIMIT], 20, &lim);
        if (r != CTL_EXIT_OK)
                return r;
        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        json_object_object_add(p, "path", json_object_new_string(path));
        json_object_object_add(p, "limit", json_object_new_int64(lim));
        r = ctl_call_or_print(ctl, "GetDeviceHistory", p, &reply);
        if (r != CTL_EXIT_OK || !reply)
                return r;
        leases = jv_get_array(reply, "leases");
        entries = jv_get_array(reply, "entries");
        nl = leases ? json_object_array_length(leases) : 0;
        ne = entries ? json_object_array_length(entries) : 0;
        if (o.legend)
                printf("%s: %zu lease%s\n", path, nl, nl == 1 ? "" : "s");
        if (nl)
                r = print_rows(leases, ctl_lease_columns, add_lease_row, &o, "history");
        if (r == CTL_EXIT_OK && o.legend)
                printf("\n%s: %zu audit entr%s%s\n", path, ne, ne == 1 ? "y" : "ies",
                       ne && (size_t)lim == ne ? " (the newest; --limit 0 shows all)" : "");
        if (r == CTL_EXIT_OK && ne)
                r = print_rows(entries, ctl_audit_columns, add_audit_row, &o, "history");
        json_object_put(reply);
        return r;
}
