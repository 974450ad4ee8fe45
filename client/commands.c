/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl's inventory commands: status, list, show and policy.  Each one
 * makes one call and prints either the reply exactly as the daemon sent it
 * (--json, for other tools) or a readable rendering of it.  Values the user
 * types are checked here first so that a typo is a usage error (exit 2)
 * with a clear message and never reaches the daemon.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char *const coverage_values[] = { "protected", "iommu-unsupported", "iommu-disabled", "none", NULL };
static const char *const dma_values[] = { "master", "none", "unknown", NULL };

static bool in_set(const char *v, const char *const *set)
{
        for (; *set; set++)
                if (streq(v, *set))
                        return true;
        return false;
}

/* ---- status ---------------------------------------------------------------- */

enum { STATUS_OPT_HAZARDS };

const struct table_column ctl_hazard_columns[] = {
        { "KIND", "iommu-unsupported (an IOMMU Xen has no driver for) or dma-unknown (an "
          "assignable device that may do DMA with no IOMMU in front)", true, 0, 0,
          TABLE_CUT_END },
        { "PATH", "the node", true, 2, 24, TABLE_CUT_PATH },
        { "MESSAGE", "what it means and what to do", true, 1, 20, TABLE_CUT_END },
        { NULL, NULL, false, 0, 0, TABLE_CUT_END },
};

/* What each kind of hazard is, for the summary line. */
static const char *hazard_gist(const char *kind)
{
        if (streq(kind, "iommu-unsupported"))
                return "IOMMUs Xen has no driver for";
        if (streq(kind, "dma-unknown"))
                return "assignable devices that may do DMA unprotected";
        return NULL;
}

/*
 * "113: 8 iommu-unsupported (...), 105 dma-unknown (...)": the kinds there
 * are, in the daemon's order (hazard_counts).
 */
static void print_hazard_summary(struct json_object *counts, bool listed)
{
        struct json_object_iterator it, end;
        int64_t n = 0;

        if (counts) {
                it = json_object_iter_begin(counts);
                end = json_object_iter_end(counts);
                for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                        n += json_object_get_int64(json_object_iter_peek_value(&it));
        }
        printf("  %-13s %" PRId64 "%s\n", "hazards:", n, n ? "" : " (nothing Xen does not report)");
        if (counts) {
                it = json_object_iter_begin(counts);
                for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                        const char *kind = json_object_iter_peek_name(&it);
                        int64_t c = json_object_get_int64(json_object_iter_peek_value(&it));
                        const char *gist = hazard_gist(kind);

                        if (c > 0)
                                printf("  %-13s %" PRId64 " %s%s%s%s\n", "", c, kind,
                                       gist ? " (" : "", gist ? gist : "", gist ? ")" : "");
                }
        }
        if (n && !listed)
                printf("  %-13s 'assignctl status --hazards' lists them\n", "");
}

static int print_hazards(struct json_object *hazards, const struct ctl_table_opts *o)
{
        size_t n = hazards ? json_object_array_length(hazards) : 0;
        struct table *t = table_new(ctl_hazard_columns);
        int r;

        if (!t)
                return ctl_oom();
        r = table_select(t, o->columns, "status");
        for (size_t i = 0; r == CTL_EXIT_OK && i < n; i++) {
                struct json_object *h = json_object_array_get_idx(hazards, i);
                const char *path = jv_get_str(h, "path", "?");
                const char *msg = jv_get_str(h, "message", "");
                size_t len = strlen(path);
                /* The message starts with the path the next column has already. */
                const char *cells[] = { jv_get_str(h, "kind", "?"), path,
                                        !strncmp(msg, path, len) && msg[len] == ' ' ? msg + len + 1
                                                                                     : msg };

                if (table_add_row(t, cells) < 0)
                        r = ctl_oom();
        }
        if (r == CTL_EXIT_OK) {
                putchar('\n');
                table_print(t, stdout, o->width, o->legend);
        }
        table_free(t);
        return r;
}

int cmd_status(struct ctl *ctl, const struct ctl_args *args)
{
        struct ctl_table_opts o = ctl_table_opts(args, STATUS_OPT_HAZARDS + 1);
        struct json_object *reply = NULL, *dtb, *counts, *leases, *p, *patches;
        bool list_hazards = args->opt[STATUS_OPT_HAZARDS] != NULL;
        char *up, *started;
        int r;

        if (!list_hazards && (o.columns || o.full || !o.legend))
                return ctl_usage_error("status: -o, --full and --no-legend are for the table of "
                                       "--hazards");
        /* The list only where it is shown: with --hazards, and in --json's whole answer. */
        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        if (list_hazards || ctl->json)
                json_object_object_add(p, "hazards", json_object_new_boolean(1));
        r = ctl->offline ? ctl_offline_status(ctl, &reply) : ctl_call(ctl, "GetStatus", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json) {
                r = ctl_print_json(list_hazards ? jv_get_array(reply, "hazards") : reply);
                json_object_put(reply);
                return r;
        }

        dtb = jv_get_object(reply, "dtb");
        counts = jv_get_object(reply, "devices");
        up = fmt_duration(jv_get_int(reply, "uptime_seconds", -1));
        started = fmt_time(jv_get_int(reply, "started_at", -1));

        if (ctl->offline)
                printf("assignctl %s offline: no daemon, no hypervisor", jv_get_str(reply, "version", "?"));
        else
                printf("assignd %s, backend %s", jv_get_str(reply, "version", "?"),
                       jv_get_str(reply, "backend", "?"));
        if (jv_get_str(reply, "xen_version", NULL))
                printf(", Xen %s%s", jv_get_str(reply, "xen_version", ""),
                       streq(jv_get_str(reply, "backend", ""), "sim") ? " (simulated)" : "");
        putchar('\n');
        patches = jv_get_array(reply, "hypervisor_patches");
        printf("  %-13s", "xen patches:");
        for (size_t i = 0; patches && i < json_object_array_length(patches); i++)
                printf("%s %s", i ? "," : "",
                       json_object_get_string(json_object_array_get_idx(patches, i)));
        printf("%s\n", patches && json_object_array_length(patches) ? "" : " none");
        printf("  %-13s %s\n", "device tree:", jv_get_str(dtb, "path", "?"));
        printf("  %-13s %s\n", "model:", jv_get_str(dtb, "model", "-"));
        printf("  %-13s %s\n", "sha256:", jv_get_str(dtb, "sha256", "?"));
        printf("  %-13s %" PRId64 " total, %" PRId64 " assignable, %" PRId64 " protected\n",
               "devices:", jv_get_int(counts, "total", 0), jv_get_int(counts, "assignable", 0),
               jv_get_int(counts, "protected", 0));
        printf("  %-13s %" PRId64 " DMA-capable without IOMMU protection\n", "",
               jv_get_int(counts, "unprotected_dma", 0));
        printf("  %-13s %" PRId64 " assignment group%s, %" PRId64 " IOMMU%s\n", "",
               jv_get_int(counts, "groups", 0), jv_get_int(counts, "groups", 0) == 1 ? "" : "s",
               jv_get_int(counts, "iommus", 0), jv_get_int(counts, "iommus", 0) == 1 ? "" : "s");
        /* Offline there is no daemon to have an uptime, connections or leases. */
        if (!ctl->offline) {
                printf("  %-13s %s (since %s)\n", "uptime:", up ? up : "?", started ? started : "?");
                printf("  %-13s %" PRId64 " (%" PRId64 " monitor%s)\n", "connections:",
                       jv_get_int(reply, "connections", 0), jv_get_int(reply, "monitors", 0),
                       jv_get_int(reply, "monitors", 0) == 1 ? "" : "s");
                leases = jv_get_object(reply, "leases");
                printf("  %-13s %" PRId64 " assigned, %" PRId64 " reserved, %" PRId64
                       " assigning, %" PRId64 " releasing\n", "leases:",
                       jv_get_int(leases, "assigned", 0), jv_get_int(leases, "reserved", 0),
                       jv_get_int(leases, "assigning", 0), jv_get_int(leases, "releasing", 0));
        }
        print_hazard_summary(jv_get_object(reply, "hazard_counts"), list_hazards);
        if (list_hazards)
                r = print_hazards(jv_get_array(reply, "hazards"), &o);
        free(up);
        free(started);
        json_object_put(reply);
        return r;
}

/* ---- list ------------------------------------------------------------------ */

enum { LIST_OPT_COVERAGE, LIST_OPT_DMA, LIST_OPT_ASSIGNABLE, LIST_OPT_OWNER, LIST_N_OPTS };

static int list_params(const struct ctl_args *args, struct json_object **ret)
{
        struct json_object *p;

        if (args->opt[LIST_OPT_COVERAGE] && !in_set(args->opt[LIST_OPT_COVERAGE], coverage_values))
                return ctl_usage_error("list: --coverage must be one of protected, iommu-unsupported, "
                                       "iommu-disabled, none (got '%s')", args->opt[LIST_OPT_COVERAGE]);
        if (args->opt[LIST_OPT_DMA] && !in_set(args->opt[LIST_OPT_DMA], dma_values))
                return ctl_usage_error("list: --dma must be one of master, none, unknown (got '%s')",
                                       args->opt[LIST_OPT_DMA]);
        if (args->opt[LIST_OPT_OWNER] && !args->opt[LIST_OPT_OWNER][0])
                return ctl_usage_error("list: --owner needs a domain name, a domid or \"none\"");

        p = json_object_new_object();
        if (!p)
                goto oom;
        if (args->opt[LIST_OPT_COVERAGE] &&
            json_object_object_add(p, "coverage", json_object_new_string(args->opt[LIST_OPT_COVERAGE])) < 0)
                goto oom;
        if (args->opt[LIST_OPT_DMA] &&
            json_object_object_add(p, "dma", json_object_new_string(args->opt[LIST_OPT_DMA])) < 0)
                goto oom;
        if (args->opt[LIST_OPT_ASSIGNABLE] &&
            json_object_object_add(p, "assignable", json_object_new_boolean(1)) < 0)
                goto oom;
        if (args->opt[LIST_OPT_OWNER] &&
            json_object_object_add(p, "owner", json_object_new_string(args->opt[LIST_OPT_OWNER])) < 0)
                goto oom;
        *ret = p;
        return CTL_EXIT_OK;
oom:
        json_object_put(p);
        return ctl_oom();
}

enum {
        COL_PATH, COL_COVERAGE, COL_DMA, COL_SPIS, COL_GROUP, COL_OWNER_REASON, COL_REGIONS,
        COL_MEMBERS, COL_COMPATIBLE, COL_ASSIGNABLE, COL_OWNER, COL_REASON, N_LIST_COLS
};

/*
 * The default set fits 80 columns on the largest trees: free text gives
 * way first, then the IRQ list, then paths (which keep their node name);
 * the value columns are never cut.
 */
const struct table_column ctl_list_columns[] = {
        [COL_PATH] = { "PATH", "the node's device-tree path", true, 3, 24, TABLE_CUT_PATH },
        [COL_COVERAGE] = { "COVERAGE", "IOMMU coverage: protected, iommu-unsupported, "
                           "iommu-disabled or none", true, 0, 0, TABLE_CUT_END },
        [COL_DMA] = { "DMA", "DMA capability: master, none or unknown", true, 0, 0,
                      TABLE_CUT_END },
        [COL_SPIS] = { "SPIS", "hardware IRQ numbers of its SPIs; ppi:N and not-gic cannot be "
                       "routed to a guest", true, 2, 7, TABLE_CUT_END },
        [COL_GROUP] = { "GROUP", "its assignment group: the rows with the same number share a "
                        "page, an SPI or a stream ID and go to one domain together", true, 0, 0,
                        TABLE_CUT_END },
        [COL_OWNER_REASON] = { "OWNER/REASON", "the domain that holds it, or why it may not be "
                               "assigned", true, 1, 12, TABLE_CUT_END },
        [COL_REGIONS] = { "REGIONS", "its first MMIO region as base+size, and how many more",
                          false, 2, 18, TABLE_CUT_END },
        [COL_MEMBERS] = { "MEMBERS", "the other devices of its group", false, 1, 12,
                          TABLE_CUT_PATHS },
        [COL_COMPATIBLE] = { "COMPATIBLE", "its most specific compatible string", false, 1, 12,
                             TABLE_CUT_END },
        [COL_ASSIGNABLE] = { "ASSIGNABLE", "yes or no", false, 0, 0, TABLE_CUT_END },
        [COL_OWNER] = { "OWNER", "the domain that holds it", false, 1, 12, TABLE_CUT_END },
        [COL_REASON] = { "REASON", "why it may not be assigned", false, 1, 12, TABLE_CUT_END },
        [N_LIST_COLS] = { NULL, NULL, false, 0, 0, TABLE_CUT_END },
};

/*
 * Group numbers in the order the groups first appear: every member lists
 * all the others, so numbering one device's members numbers its group.
 */
static int number_groups(struct json_object *devices, size_t n, unsigned *no)
{
        unsigned next = 0;

        for (size_t i = 0; i < n; i++) {
                struct json_object *g = jv_get_array(json_object_array_get_idx(devices, i), "group");
                size_t ng = g ? json_object_array_length(g) : 0;

                if (no[i] || ng == 0)
                        continue;
                no[i] = ++next;
                for (size_t k = 0; k < ng; k++) {
                        const char *m = json_object_get_string(json_object_array_get_idx(g, k));

                        for (size_t j = 0; m && j < n; j++)
                                if (streq(jv_get_str(json_object_array_get_idx(devices, j), "path",
                                                     ""), m))
                                        no[j] = next;
                }
        }
        return 0;
}

static int add_device_row(struct table *t, struct json_object *dev, unsigned group)
{
        struct json_object *owner = jv_get_object(dev, "owner");
        struct json_object *compat = jv_get_array(dev, "compatible");
        _cleanup_free_ char *regions = fmt_regions_short(dev);
        _cleanup_free_ char *spis = fmt_spis_short(dev);
        _cleanup_free_ char *members = fmt_group_members(dev);
        _cleanup_free_ char *owner_reason = fmt_owner_or_reason(dev);
        _cleanup_free_ char *owner_text = owner ? fmt_owner(owner) : NULL;
        const char *reason = jv_get_str(dev, "reason", NULL);
        char group_no[16] = "-";
        const char *cells[N_LIST_COLS];

        if (!regions || !spis || !members || !owner_reason || (owner && !owner_text))
                return -ENOMEM;
        if (group)
                snprintf(group_no, sizeof(group_no), "%u", group);
        cells[COL_PATH] = jv_get_str(dev, "path", "?");
        cells[COL_COVERAGE] = jv_get_str(jv_get_object(dev, "iommu"), "coverage", "?");
        cells[COL_DMA] = jv_get_str(dev, "dma", "?");
        cells[COL_SPIS] = spis;
        cells[COL_GROUP] = group_no;
        cells[COL_OWNER_REASON] = owner_reason;
        cells[COL_REGIONS] = regions;
        cells[COL_MEMBERS] = members;
        cells[COL_COMPATIBLE] = compat && json_object_array_length(compat)
                                        ? json_object_get_string(json_object_array_get_idx(compat, 0))
                                        : "-";
        cells[COL_ASSIGNABLE] = jv_get_bool(dev, "assignable", false) ? "yes" : "no";
        cells[COL_OWNER] = owner_text ? owner_text : "-";
        cells[COL_REASON] = reason ? reason : "-";
        return table_add_row(t, cells);
}

static int print_device_table(struct json_object *devices, const struct ctl_table_opts *o)
{
        size_t n = json_object_array_length(devices);
        size_t n_assignable = 0, n_protected = 0, n_owned = 0;
        _cleanup_free_ unsigned *group = calloc(n + 1, sizeof(unsigned));
        struct table *t = table_new(ctl_list_columns);
        int r;

        if (!t || !group) {
                table_free(t);
                return ctl_oom();
        }
        r = table_select(t, o->columns, "list");
        if (r != CTL_EXIT_OK) {
                table_free(t);
                return r;
        }
        number_groups(devices, n, group);
        for (size_t i = 0; i < n; i++) {
                struct json_object *dev = json_object_array_get_idx(devices, i);

                if (add_device_row(t, dev, group[i]) < 0) {
                        table_free(t);
                        return ctl_oom();
                }
                n_assignable += jv_get_bool(dev, "assignable", false);
                n_protected += streq(jv_get_str(jv_get_object(dev, "iommu"), "coverage", ""),
                                     "protected");
                n_owned += jv_get_object(dev, "owner") != NULL;
        }
        table_print(t, stdout, o->width, o->legend);
        if (o->legend)
                printf("\n%zu device%s: %zu assignable, %zu protected by an IOMMU, %zu held by a "
                       "domain\n", n, n == 1 ? "" : "s", n_assignable, n_protected, n_owned);
        table_free(t);
        return CTL_EXIT_OK;
}

int cmd_list(struct ctl *ctl, const struct ctl_args *args)
{
        struct ctl_table_opts o = ctl_table_opts(args, LIST_N_OPTS);
        struct json_object *params = NULL, *reply = NULL, *devices;
        int r;

        if (ctl->offline && args->opt[LIST_OPT_OWNER])
                return ctl_usage_error("list: --owner needs the daemon: offline no domain holds "
                                       "anything");
        r = list_params(args, &params);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->offline) {
                /* The same filter, for the engine (the values were checked above). */
                struct engine_device_filter f = {
                        .coverage = args->opt[LIST_OPT_COVERAGE]
                                            ? dt_coverage_from_string(args->opt[LIST_OPT_COVERAGE])
                                            : -1,
                        .dma = args->opt[LIST_OPT_DMA] ? dt_dma_from_string(args->opt[LIST_OPT_DMA])
                                                       : -1,
                        .assignable = args->opt[LIST_OPT_ASSIGNABLE] ? 1 : -1,
                        .owner = args->opt[LIST_OPT_OWNER],
                };

                r = ctl_offline_devices(ctl, &f, &reply);
        } else {
                r = ctl_call(ctl, "ListDevices", params, &reply);
        }
        json_object_put(params);
        if (r != CTL_EXIT_OK)
                return r;

        devices = jv_get_array(reply, "devices");
        if (!devices) {
                fprintf(stderr, "assignctl: ListDevices reply has no devices array\n");
                json_object_put(reply);
                return CTL_EXIT_REFUSED;
        }
        r = ctl->json ? ctl_print_json(devices) : print_device_table(devices, &o);
        json_object_put(reply);
        return r;
}

/* ---- show ------------------------------------------------------------------ */

#define LABEL_WIDTH 16

/* A label on the first line of a field, blank on its continuation lines. */
static void label(const char *name, bool *first)
{
        char buf[LABEL_WIDTH + 2];

        if (*first) {
                snprintf(buf, sizeof(buf), "%s:", name);
                printf("  %-*s ", LABEL_WIDTH, buf);
                *first = false;
        } else {
                printf("  %-*s ", LABEL_WIDTH, "");
        }
}

/* Where the values of show start: after the label column. */
#define VALUE_COLUMN (2 + LABEL_WIDTH + 1)

/*
 * The items of a list after a label, separated by sep and a space and
 * wrapped onto continuation lines at the output width (80 when stdout is
 * not a terminal: show is for people, scripts read --json), indented by
 * hang more than the first; an item is never split, so one longer than a
 * line has a line to itself.
 */
static void show_items(const char *name, bool *first, const char *const *items, size_t n,
                       const char *prefix, size_t hang, const char *sep)
{
        size_t width = ctl_output_width(false), col = VALUE_COLUMN;

        if (width == 0)
                width = 80;
        label(name, first);
        if (prefix) {
                fputs(prefix, stdout);
                col += strlen(prefix);
        }
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(items[i]) + (i + 1 < n ? strlen(sep) : 0);

                if (i && col + 1 + len > width) {
                        putchar('\n');
                        label(name, first);
                        printf("%*s", (int)hang, "");
                        col = VALUE_COLUMN + hang;
                } else if (i) {
                        putchar(' ');
                        col++;
                }
                printf("%s%s", items[i], i + 1 < n ? sep : "");
                col += len;
        }
        printf("%s\n", n || prefix ? "" : "-");
}

static void show_list(const char *name, bool *first, const char *const *items, size_t n,
                      const char *prefix, size_t hang)
{
        show_items(name, first, items, n, prefix, hang, ",");
}

/* A sentence after a label, wrapped at word boundaries like a list. */
static void show_text(const char *name, bool *first, const char *prefix, const char *text)
{
        _cleanup_free_ char *copy = strdup(text);
        _cleanup_free_ const char **words = calloc(strlen(text) / 2 + 2, sizeof(char *));
        size_t n = 0;

        if (!copy || !words) {
                label(name, first);
                printf("%s%s\n", prefix ? prefix : "", text);
                return;
        }
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                words[n++] = w;
        show_items(name, first, words, n, prefix, 0, "");
}

/* The strings of a JSON array, borrowed (NULL when out of memory). */
static const char **strings_of(struct json_object *arr, size_t *n)
{
        const char **v;

        *n = arr ? json_object_array_length(arr) : 0;
        v = calloc(*n + 1, sizeof(*v));
        for (size_t i = 0; v && i < *n; i++)
                v[i] = json_object_get_string(json_object_array_get_idx(arr, i));
        return v;
}

static void show_compatible(struct json_object *dev)
{
        size_t n;
        _cleanup_free_ const char **v = strings_of(jv_get_array(dev, "compatible"), &n);
        bool first = true;

        show_list("compatible", &first, v, v ? n : 0, NULL, 0);
}

static void show_regions(struct json_object *dev)
{
        struct json_object *regions = jv_get_array(dev, "regions");
        size_t n = regions ? json_object_array_length(regions) : 0, i;
        bool first = true;

        for (i = 0; i < n; i++) {
                struct json_object *reg = json_object_array_get_idx(regions, i);
                uint64_t base = (uint64_t)jv_get_int(reg, "base", 0), size = (uint64_t)jv_get_int(reg, "size", 0);

                label("regions", &first);
                if (size)
                        printf("0x%" PRIx64 "-0x%" PRIx64 " (size 0x%" PRIx64 ")\n", base, base + size - 1, size);
                else
                        printf("0x%" PRIx64 " (size 0)\n", base);
        }
        if (n == 0) {
                label("regions", &first);
                printf("-\n");
        }
        if (jv_get_str(dev, "reg_note", NULL)) {
                first = true;
                label("reg note", &first);
                printf("%s\n", jv_get_str(dev, "reg_note", ""));
        }
}

static void show_interrupts(struct json_object *dev)
{
        struct json_object *irqs = jv_get_array(dev, "interrupts");
        size_t n = irqs ? json_object_array_length(irqs) : 0, i;
        bool first = true;

        for (i = 0; i < n; i++) {
                struct json_object *irq = json_object_array_get_idx(irqs, i);
                const char *cls = jv_get_str(irq, "class", "?");
                const char *ctrl = jv_get_str(irq, "controller", "?");
                int64_t hw = jv_get_int(irq, "hwirq", -1);

                label("interrupts", &first);
                if (streq(cls, "spi") && hw >= 32)
                        printf("spi %" PRId64 " (GIC SPI %" PRId64 ") on %s\n", hw, hw - 32, ctrl);
                else if (streq(cls, "ppi") && hw >= 16)
                        printf("ppi %" PRId64 " (GIC PPI %" PRId64 ", not routable) on %s\n", hw, hw - 16, ctrl);
                else if (streq(cls, "not-gic"))
                        printf("not-gic, through %s (not routable to a guest)\n", ctrl);
                else if (hw >= 0)
                        printf("%s %" PRId64 " on %s\n", cls, hw, ctrl);
                else
                        printf("%s on %s\n", cls, ctrl);
        }
        if (n == 0) {
                label("interrupts", &first);
                printf("-\n");
        }
}

static void show_iommu(struct json_object *dev)
{
        struct json_object *iommu = jv_get_object(dev, "iommu");
        struct json_object *links = jv_get_array(iommu, "iommus");
        struct json_object *gaps = jv_get_array(dev, "iommu_map_gaps");
        size_t n = links ? json_object_array_length(links) : 0, i, j;
        bool first = true;

        label("iommu", &first);
        printf("%s\n", jv_get_str(iommu, "coverage", "?"));
        for (i = 0; i < n; i++) {
                struct json_object *link = json_object_array_get_idx(links, i);
                struct json_object *ids = jv_get_array(link, "ids");
                size_t n_ids = ids ? json_object_array_length(ids) : 0;
                _cleanup_free_ char *head = NULL;
                char **text;

                if (n_ids == 0) {
                        /* #iommu-cells = 0: the IOMMU serves this one master, no IDs. */
                        label("iommu", &first);
                        printf("%s, no IDs\n", jv_get_str(link, "iommu", "?"));
                        continue;
                }
                /* DMA engines have a dozen IDs or more: they wrap under the first. */
                text = calloc(n_ids + 1, sizeof(*text));
                head = strdup_printf("%s, id%s ", jv_get_str(link, "iommu", "?"),
                                     n_ids == 1 ? "" : "s");
                for (j = 0; text && j < n_ids; j++)
                        text[j] = strdup_printf("0x%" PRIx64, (uint64_t)json_object_get_int64(
                                                        json_object_array_get_idx(ids, j)));
                for (j = 0; text && j < n_ids && text[j]; j++)
                        ;
                if (text && head && j == n_ids)
                        show_list("iommu", &first, (const char *const *)text, n_ids, head, 3);
                for (j = 0; text && j < n_ids; j++)
                        free(text[j]);
                free(text);
        }

        /* Only PCI host bridges with an iommu-map carry the field at all. */
        if (gaps) {
                size_t n_gaps = json_object_array_length(gaps);

                first = true;
                label("iommu-map gaps", &first);
                if (n_gaps == 0)
                        printf("none (every requester ID is translated)\n");
                for (i = 0; i < n_gaps; i++) {
                        struct json_object *g = json_object_array_get_idx(gaps, i);
                        int64_t base = jv_get_int(g, "rid_base", 0), count = jv_get_int(g, "count", 0);

                        if (i)
                                label("iommu-map gaps", &first);
                        printf("RID 0x%" PRIx64 "-0x%" PRIx64 " (%" PRId64 ", bypass the IOMMU)\n",
                               (uint64_t)base, (uint64_t)(base + (count ? count - 1 : 0)), count);
                }
        }
}

static void show_policy(struct json_object *dev)
{
        struct json_object *policy = jv_get_object(dev, "policy");
        struct json_object *v;
        bool first = true;
        char *when;

        label("policy", &first);
        if (!policy) {
                printf("-\n");
                return;
        }
        if (json_object_object_get_ex(policy, "dma", &v) && json_object_is_type(v, json_type_string))
                printf("dma=%s ", json_object_get_string(v));
        if (json_object_object_get_ex(policy, "assignable", &v) && json_object_is_type(v, json_type_boolean))
                printf("assignable=%s ", json_object_get_boolean(v) ? "yes" : "no");
        when = fmt_time(jv_get_int(policy, "set_at", -1));
        printf("(set by uid %" PRId64 " at %s)\n", jv_get_int(policy, "set_by_uid", -1), when ? when : "?");
        free(when);
        if (jv_get_str(policy, "note", NULL))
                show_text("policy", &first, "note: ", jv_get_str(policy, "note", ""));
}

static void show_device(struct json_object *dev, bool brief)
{
        struct json_object *group = jv_get_array(dev, "group");
        size_t n_group = group ? json_object_array_length(group) : 0, i;
        const char *reason = jv_get_str(dev, "reason", NULL);
        bool first;
        char *owner;

        printf("%s\n", jv_get_str(dev, "path", "?"));
        if (!brief) {
                show_compatible(dev);
                show_regions(dev);
                show_interrupts(dev);
                show_iommu(dev);
        }

        first = true;
        label("dma", &first);
        printf("%s (from %s)\n", jv_get_str(dev, "dma", "?"), jv_get_str(dev, "dma_source", "?"));

        first = true;
        if (jv_get_bool(dev, "assignable", false)) {
                label("assignable", &first);
                printf("yes\n");
        } else {
                show_text("assignable", &first, "no: ", reason ? reason : "no reason given");
        }

        if (!brief) {
                first = true;
                for (i = 0; i < n_group; i++) {
                        label("group", &first);
                        printf("%s\n", json_object_get_string(json_object_array_get_idx(group, i)));
                }
                if (n_group == 0) {
                        label("group", &first);
                        printf("-\n");
                }
        }

        show_policy(dev);

        first = true;
        owner = fmt_owner(jv_get_object(dev, "owner"));
        label("owner", &first);
        printf("%s\n", owner ? owner : "?");
        free(owner);

        if (!brief && jv_get_bool(dev, "xen_passthrough", false)) {
                first = true;
                label("xen,passthrough", &first);
                printf("yes (Xen hides this node from dom0)\n");
        }
        if (!brief && jv_get_bool(dev, "dom0_hidden", false)) {
                first = true;
                label("dom0 view", &first);
                printf("status \"disabled\" in the tree Xen wrote for dom0 (set aside with "
                       "xen,passthrough, or disabled by firmware: see reason)\n");
        }
}

static int get_device(struct ctl *ctl, const char *method, struct json_object *params,
                      struct json_object **reply, struct json_object **dev)
{
        int r;

        if (ctl->offline) {
                r = ctl_offline_check(ctl, method, params);
                if (r == CTL_EXIT_OK)
                        r = ctl_offline_device(ctl, jv_get_str(params, "path", ""), reply);
        }
        else
                r = ctl_call(ctl, method, params, reply);
        if (r != CTL_EXIT_OK)
                return r;
        *dev = jv_get_object(*reply, "device");
        if (!*dev) {
                fprintf(stderr, "assignctl: %s reply has no device object\n", method);
                json_object_put(*reply);
                *reply = NULL;
                return CTL_EXIT_REFUSED;
        }
        return CTL_EXIT_OK;
}

int cmd_show(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *params, *reply = NULL, *dev = NULL;
        int r;

        r = ctl_check_path("show", ctl, args->pos[0]);
        if (r != CTL_EXIT_OK)
                return r;
        params = json_object_new_object();
        if (!params || json_object_object_add(params, "path", json_object_new_string(args->pos[0])) < 0) {
                json_object_put(params);
                fprintf(stderr, "assignctl: out of memory\n");
                return CTL_EXIT_REFUSED;
        }
        r = get_device(ctl, "GetDevice", params, &reply, &dev);
        json_object_put(params);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json)
                r = ctl_print_json(dev);
        else
                show_device(dev, false);
        json_object_put(reply);
        return r;
}

/* ---- policy ---------------------------------------------------------------- */

enum { POLICY_OPT_NOTE };

static int parse_yes_no(const char *v, bool *ret)
{
        if (streq(v, "yes") || streq(v, "true")) {
                *ret = true;
                return 0;
        }
        if (streq(v, "no") || streq(v, "false")) {
                *ret = false;
                return 0;
        }
        return -1;
}

int cmd_policy(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *params = NULL, *reply = NULL, *dev = NULL;
        const char *path = args->pos[0], *dma = NULL, *note = args->opt[POLICY_OPT_NOTE];
        bool assignable = false, have_assignable = false;
        int i, r;

        r = ctl_check_path("policy", ctl, path);
        if (r != CTL_EXIT_OK)
                return r;
        for (i = 1; i < args->n_pos; i++) {
                const char *kv = args->pos[i], *eq = strchr(kv, '=');
                size_t klen = eq ? (size_t)(eq - kv) : 0;

                if (!eq || klen == 0)
                        return ctl_usage_error("policy: expected KEY=VALUE, got '%s' "
                                               "(keys: dma=none|master|unknown, assignable=yes|no)", kv);
                if (klen == 3 && strncmp(kv, "dma", 3) == 0) {
                        if (dma)
                                return ctl_usage_error("policy: dma given twice");
                        if (!in_set(eq + 1, dma_values))
                                return ctl_usage_error("policy: dma must be none, master or unknown (got '%s')",
                                                       eq + 1);
                        dma = eq + 1;
                } else if (klen == 10 && strncmp(kv, "assignable", 10) == 0) {
                        if (have_assignable)
                                return ctl_usage_error("policy: assignable given twice");
                        if (parse_yes_no(eq + 1, &assignable) < 0)
                                return ctl_usage_error("policy: assignable must be yes or no (got '%s')", eq + 1);
                        have_assignable = true;
                } else {
                        return ctl_usage_error("policy: unknown key '%.*s' (keys: dma, assignable)", (int)klen, kv);
                }
        }

        params = json_object_new_object();
        if (!params ||
            json_object_object_add(params, "path", json_object_new_string(path)) < 0 ||
            (dma && json_object_object_add(params, "dma", json_object_new_string(dma)) < 0) ||
            (have_assignable &&
             json_object_object_add(params, "assignable", json_object_new_boolean(assignable)) < 0) ||
            (note && json_object_object_add(params, "note", json_object_new_string(note)) < 0)) {
                json_object_put(params);
                fprintf(stderr, "assignctl: out of memory\n");
                return CTL_EXIT_REFUSED;
        }
        r = get_device(ctl, "SetDevicePolicy", params, &reply, &dev);
        json_object_put(params);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json)
                r = ctl_print_json(dev);
        else
                show_device(dev, true);
        json_object_put(reply);
        return r;
}

/* ---- sim: the simulated hypervisor's toolstack part (demo and tests) -------- */

enum { SIM_OPT_NO_PASSTHROUGH, SIM_OPT_UNPOPULATED, SIM_OPT_NR_SPIS, SIM_OPT_XL_CONFIG };

static int parse_domid_arg(const char *s, int64_t *ret)
{
        char *end = NULL;
        long v = strtol(s, &end, 10);

        if (!*s || *end || v < 0)
                return ctl_usage_error("sim: DOMID must be a number (got '%s')", s);
        *ret = v;
        return CTL_EXIT_OK;
}

int cmd_sim(struct ctl *ctl, const struct ctl_args *args)
{
        const char *sub = args->pos[0];
        struct json_object *p, *reply = NULL;
        const char *method;
        int64_t domid = -1;
        bool passthrough;
        int r;

        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        if (streq(sub, "create")) {
                long nr = -1;

                if (args->n_pos != 2) {
                        json_object_put(p);
                        return ctl_usage_error("sim create takes a domain NAME");
                }
                if (args->opt[SIM_OPT_NR_SPIS]) {
                        char *end = NULL;

                        nr = strtol(args->opt[SIM_OPT_NR_SPIS], &end, 10);
                        if (!*args->opt[SIM_OPT_NR_SPIS] || *end || nr < 0) {
                                json_object_put(p);
                                return ctl_usage_error("sim create: --nr-spis takes a number");
                        }
                }
                method = "io.assignd.Simulator.CreateDomain";
                json_object_object_add(p, "name", json_object_new_string(args->pos[1]));
                json_object_object_add(p, "passthrough",
                                       json_object_new_boolean(!args->opt[SIM_OPT_NO_PASSTHROUGH]));
                json_object_object_add(p, "populated",
                                       json_object_new_boolean(!args->opt[SIM_OPT_UNPOPULATED]));
                if (nr >= 0)
                        json_object_object_add(p, "nr_spis", json_object_new_int64(nr));
                /* The xl.cfg's passthrough setting wins over --no-passthrough. */
                if (args->opt[SIM_OPT_XL_CONFIG]) {
                        r = ctl_xl_grants(args->opt[SIM_OPT_XL_CONFIG], p);
                        if (r != CTL_EXIT_OK) {
                                json_object_put(p);
                                return r;
                        }
                }
        } else if (streq(sub, "destroy") || streq(sub, "unpause") ||
                   streq(sub, "kill")) {
                if (args->n_pos != 2) {
                        json_object_put(p);
                        return ctl_usage_error("sim %s takes a DOMID", sub);
                }
                r = parse_domid_arg(args->pos[1], &domid);
                if (r != CTL_EXIT_OK) {
                        json_object_put(p);
                        return r;
                }
                method = streq(sub, "destroy") ? "io.assignd.Simulator.DestroyDomain"
                         : streq(sub, "kill")  ? "io.assignd.Simulator.KillDomain"
                                                   : "io.assignd.Simulator.UnpauseDomain";
                json_object_object_add(p, "domid", json_object_new_int64(domid));
        } else if (streq(sub, "state")) {
                if (args->n_pos != 1) {
                        json_object_put(p);
                        return ctl_usage_error("sim state takes no argument");
                }
                method = "io.assignd.Simulator.GetState";
        } else {
                json_object_put(p);
                return ctl_usage_error("sim: unknown subcommand '%s' (create, destroy, kill, "
                                       "unpause, state)", sub);
        }
        passthrough = jv_get_bool(p, "passthrough", false);
        r = ctl_call(ctl, method, p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json || streq(sub, "state"))
                r = ctl_print_json(streq(sub, "state") && jv_get_object(reply, "state")
                                           ? jv_get_object(reply, "state") : reply);
        else if (streq(sub, "create"))
                printf("created domain %s: domid %" PRId64 " (paused%s%s)\n", args->pos[1],
                       jv_get_int(reply, "domid", -1),
                       !passthrough ? ", without the IOMMU"
                                                       : ", passthrough=\"enabled\"",
                       args->opt[SIM_OPT_XL_CONFIG] ? ", devices set up as xl would" : "");
        else
                printf("domain %" PRId64 ": %s\n", domid,
                       streq(sub, "destroy") ? "destroyed"
                       : streq(sub, "kill")  ? "dying"
                                                 : "unpaused");
        json_object_put(reply);
        return r;
}
