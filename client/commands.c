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
#include <sys/ioctl.h>
#include <unistd.h>

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

/* Terminal width when stdout is a terminal; 0 (no limit) otherwise, so pipes get whole lines. */
static size_t output_width(void)
{
        struct winsize ws;

        if (!isatty(STDOUT_FILENO))
                return 0;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

/* ---- status ---------------------------------------------------------------- */

int cmd_status(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *reply = NULL, *dtb, *counts, *leases, *hazards, *patches;
        char *up, *started;
        size_t n_hazards;
        int r;

        r = ctl_call(ctl, "GetStatus", NULL, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json) {
                r = ctl_print_json(reply);
                json_object_put(reply);
                return r;
        }

        dtb = jv_get_object(reply, "dtb");
        counts = jv_get_object(reply, "devices");
        up = fmt_duration(jv_get_int(reply, "uptime_seconds", -1));
        started = fmt_time(jv_get_int(reply, "started_at", -1));

        printf("assignd %s, backend %s", jv_get_str(reply, "version", "?"), jv_get_str(reply, "backend", "?"));
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
        printf("  %-13s %" PRId64 " total, %" PRId64 " assignable, %" PRId64 " protected, %" PRId64
               " DMA-capable without IOMMU protection\n",
               "devices:", jv_get_int(counts, "total", 0), jv_get_int(counts, "assignable", 0),
               jv_get_int(counts, "protected", 0), jv_get_int(counts, "unprotected_dma", 0));
        printf("  %-13s %" PRId64 " assignment group%s, %" PRId64 " IOMMU%s\n", "",
               jv_get_int(counts, "groups", 0), jv_get_int(counts, "groups", 0) == 1 ? "" : "s",
               jv_get_int(counts, "iommus", 0), jv_get_int(counts, "iommus", 0) == 1 ? "" : "s");
        printf("  %-13s %s (since %s)\n", "uptime:", up ? up : "?", started ? started : "?");
        printf("  %-13s %" PRId64 " (%" PRId64 " monitor%s)\n", "connections:",
               jv_get_int(reply, "connections", 0), jv_get_int(reply, "monitors", 0),
               jv_get_int(reply, "monitors", 0) == 1 ? "" : "s");
        leases = jv_get_object(reply, "leases");
        printf("  %-13s %" PRId64 " assigned, %" PRId64 " reserved, %" PRId64 " assigning, %" PRId64
               " releasing\n", "leases:", jv_get_int(leases, "assigned", 0), jv_get_int(leases, "reserved", 0),
               jv_get_int(leases, "assigning", 0), jv_get_int(leases, "releasing", 0));
        hazards = jv_get_array(reply, "hazards");
        n_hazards = hazards ? json_object_array_length(hazards) : 0;
        printf("  %-13s %zu\n", "hazards:", n_hazards);
        for (size_t i = 0; i < n_hazards; i++) {
                struct json_object *h = json_object_array_get_idx(hazards, i);

                printf("    %s %s: %s\n", jv_get_str(h, "kind", "?"), jv_get_str(h, "path", "?"),
                       jv_get_str(h, "message", ""));
        }
        free(up);
        free(started);
        json_object_put(reply);
        return CTL_EXIT_OK;
}

/* ---- list ------------------------------------------------------------------ */

enum { LIST_OPT_COVERAGE, LIST_OPT_DMA, LIST_OPT_ASSIGNABLE, LIST_OPT_OWNER };

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
        fprintf(stderr, "assignctl: out of memory\n");
        return CTL_EXIT_REFUSED;
}

enum { COL_PATH, COL_COVERAGE, COL_DMA, COL_REGIONS, COL_SPIS, COL_GROUP, COL_OWNER, N_COLS };

static int print_device_table(struct json_object *devices)
{
        static const char *const headers[N_COLS] = {
                "PATH", "COVERAGE", "DMA", "REGIONS", "SPIS", "GROUP", "OWNER/REASON",
        };
        size_t n = json_object_array_length(devices), i;
        size_t n_assignable = 0, n_protected = 0, n_owned = 0;
        struct table *t;
        int r = CTL_EXIT_OK;

        t = table_new(N_COLS, headers);
        if (!t)
                goto oom;
        /*
         * On a narrow terminal, cut the free-text column first, then the
         * summaries, and paths last (keeping their tail, where the unit
         * address is); a region keeps at least "0x12345678+0x10000".
         */
        table_set_squeeze(t, COL_OWNER, 16, false);
        table_set_squeeze(t, COL_GROUP, 8, false);
        table_set_squeeze(t, COL_SPIS, 8, false);
        table_set_squeeze(t, COL_REGIONS, 18, false);
        table_set_squeeze(t, COL_PATH, 20, true);

        for (i = 0; i < n; i++) {
                struct json_object *dev = json_object_array_get_idx(devices, i);
                char *regions = fmt_regions_short(dev);
                char *spis = fmt_spis_short(dev);
                char *group = fmt_group_short(dev);
                char *owner = fmt_owner_or_reason(dev);
                const char *cells[N_COLS] = {
                        jv_get_str(dev, "path", "?"),
                        jv_get_str(jv_get_object(dev, "iommu"), "coverage", "?"),
                        jv_get_str(dev, "dma", "?"),
                        regions, spis, group, owner,
                };
                bool ok = regions && spis && group && owner && table_add_row(t, cells) == 0;

                free(regions);
                free(spis);
                free(group);
                free(owner);
                if (!ok)
                        goto oom;
                if (jv_get_bool(dev, "assignable", false))
                        n_assignable++;
                if (streq(cells[COL_COVERAGE], "protected"))
                        n_protected++;
                if (jv_get_object(dev, "owner"))
                        n_owned++;
        }
        table_print(t, stdout, output_width());
        printf("\n%zu device%s: %zu assignable, %zu protected by an IOMMU, %zu held by a domain\n",
               n, n == 1 ? "" : "s", n_assignable, n_protected, n_owned);
        table_free(t);
        return r;
oom:
        table_free(t);
        fprintf(stderr, "assignctl: out of memory\n");
        return CTL_EXIT_REFUSED;
}

int cmd_list(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *params = NULL, *reply = NULL, *devices;
        int r;

        r = list_params(args, &params);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_call(ctl, "ListDevices", params, &reply);
        json_object_put(params);
        if (r != CTL_EXIT_OK)
                return r;

        devices = jv_get_array(reply, "devices");
        if (!devices) {
                fprintf(stderr, "assignctl: ListDevices reply has no devices array\n");
                json_object_put(reply);
                return CTL_EXIT_REFUSED;
        }
        r = ctl->json ? ctl_print_json(devices) : print_device_table(devices);
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

static void show_compatible(struct json_object *dev)
{
        struct json_object *c = jv_get_array(dev, "compatible");
        size_t n = c ? json_object_array_length(c) : 0, i;
        bool first = true;

        label("compatible", &first);
        for (i = 0; i < n; i++)
                printf("%s%s", i ? ", " : "", json_object_get_string(json_object_array_get_idx(c, i)));
        printf("%s\n", n ? "" : "-");
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

#define IDS_PER_LINE 8

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

                label("iommu", &first);
                if (n_ids == 0) {
                        /* #iommu-cells = 0: the IOMMU serves this one master, no IDs. */
                        printf("%s, no IDs\n", jv_get_str(link, "iommu", "?"));
                        continue;
                }
                printf("%s, id%s", jv_get_str(link, "iommu", "?"), n_ids == 1 ? "" : "s");
                for (j = 0; j < n_ids; j++) {
                        /* DMA engines have a dozen IDs or more: keep lines short. */
                        if (j > 0 && j % IDS_PER_LINE == 0) {
                                printf(",\n");
                                label("iommu", &first);
                                printf("   ");
                        } else if (j > 0) {
                                printf(",");
                        }
                        printf(" 0x%" PRIx64,
                               (uint64_t)json_object_get_int64(json_object_array_get_idx(ids, j)));
                }
                putchar('\n');
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
        if (jv_get_str(policy, "note", NULL)) {
                label("policy", &first);
                printf("note: %s\n", jv_get_str(policy, "note", ""));
        }
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
        label("assignable", &first);
        if (jv_get_bool(dev, "assignable", false))
                printf("yes\n");
        else
                printf("no: %s\n", reason ? reason : "no reason given");

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

        if (args->pos[0][0] != '/')
                return ctl_usage_error("show: '%s' is not a device-tree path (they start with '/')",
                                       args->pos[0]);
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

        if (path[0] != '/')
                return ctl_usage_error("policy: '%s' is not a device-tree path (they start with '/')", path);
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

/* ---- assign, release, leases, audit (the assignment engine) ----------------- */

static int oom_exit(void)
{
        fprintf(stderr, "assignctl: out of memory\n");
        return CTL_EXIT_REFUSED;
}

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
                return oom_exit();
        json_object_object_add(p, "domain", json_object_new_string(args->pos[0]));
        json_object_object_add(p, "devices", paths_array(args->pos + 1, args->n_pos - 1));
        if (args->opt[ASSIGN_OPT_FORCE])
                json_object_object_add(p, "force_unprotected", json_object_new_boolean(1));
        if (args->opt[ASSIGN_OPT_DRY_RUN])
                json_object_object_add(p, "dry_run", json_object_new_boolean(1));
        if (layout)
                json_object_object_add(p, "layout", json_object_new_string(layout));
        r = ctl_call(ctl, "Assign", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json) {
                r = ctl_print_json(reply);
                json_object_put(reply);
                return r;
        }
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
                return oom_exit();
        json_object_object_add(p, "domain", json_object_new_string(args->pos[0]));
        if (args->n_pos > 1)
                json_object_object_add(p, "devices", paths_array(args->pos + 1, args->n_pos - 1));
        r = ctl_call(ctl, "Release", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json) {
                r = ctl_print_json(reply);
                json_object_put(reply);
                return r;
        }
        ls = jv_get_array(reply, "leases");
        n = ls ? json_object_array_length(ls) : 0;
        for (size_t i = 0; i < n; i++)
                print_lease_outcome(json_object_array_get_idx(ls, i));
        json_object_put(reply);
        return CTL_EXIT_OK;
}

enum { LEASES_OPT_ALL };

/*
 * The list commands' common part: call method with p (taken over), find
 * the array key in the reply, and with --json print it and return through
 * *printed.  Otherwise *reply holds the reply (the caller puts it), *arr
 * the array (may be NULL) and *t an empty table with these headers.
 */
static int call_for_table(struct ctl *ctl, const char *method, struct json_object *p,
                          const char *key, const char *const *headers, size_t n_headers,
                          struct json_object **reply, struct json_object **arr,
                          struct table **t, bool *printed)
{
        int r;

        *printed = false;
        r = ctl_call(ctl, method, p, reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        *arr = jv_get_array(*reply, key);
        if (ctl->json) {
                r = ctl_print_json(*arr ? *arr : *reply);
                json_object_put(*reply);
                *reply = NULL;
                *printed = true;
                return r;
        }
        *t = table_new(n_headers, headers);
        if (!*t) {
                json_object_put(*reply);
                *reply = NULL;
                return oom_exit();
        }
        return CTL_EXIT_OK;
}

int cmd_leases(struct ctl *ctl, const struct ctl_args *args)
{
        static const char *const headers[] = { "ID", "DOMAIN", "DOMID", "STATE", "DEVICES",
                                               "UPDATED", "ERROR" };
        struct json_object *p, *reply = NULL, *ls = NULL;
        struct table *t = NULL;
        bool printed;
        size_t n;
        int r;

        p = json_object_new_object();
        if (!p)
                return oom_exit();
        if (args->opt[LEASES_OPT_ALL])
                json_object_object_add(p, "all", json_object_new_boolean(1));
        r = call_for_table(ctl, "ListLeases", p, "leases", headers, ARRAY_SIZE(headers),
                           &reply, &ls, &t, &printed);
        if (r != CTL_EXIT_OK || printed)
                return r;
        n = ls ? json_object_array_length(ls) : 0;
        table_set_squeeze(t, 6, 10, false);
        table_set_squeeze(t, 4, 20, true);
        for (size_t i = 0; i < n; i++) {
                struct json_object *l = json_object_array_get_idx(ls, i), *devs = jv_get_array(l, "devices");
                char id[24], domid[24], *updated = fmt_time(jv_get_int(l, "updated_at", 0));
                char *devlist = NULL;
                size_t len = 1, nd = devs ? json_object_array_length(devs) : 0;

                for (size_t k = 0; k < nd; k++)
                        len += strlen(json_object_get_string(json_object_array_get_idx(devs, k))) + 1;
                devlist = calloc(1, len);
                for (size_t k = 0; devlist && k < nd; k++) {
                        if (k)
                                strcat(devlist, " ");
                        strcat(devlist, json_object_get_string(json_object_array_get_idx(devs, k)));
                }
                snprintf(id, sizeof(id), "%" PRId64, jv_get_int(l, "id", 0));
                if (jv_get_int(l, "domid", -1) >= 0)
                        snprintf(domid, sizeof(domid), "%" PRId64, jv_get_int(l, "domid", -1));
                else
                        snprintf(domid, sizeof(domid), "-");
                {
                        const char *cells[] = { id, jv_get_str(l, "domain", "-"), domid,
                                                jv_get_str(l, "state", "?"), devlist ? devlist : "?",
                                                updated ? updated : "?", jv_get_str(l, "error", "-") };

                        table_add_row(t, cells);
                }
                free(devlist);
                free(updated);
        }
        table_print(t, stdout, output_width());
        printf("\n%zu lease%s\n", n, n == 1 ? "" : "s");
        table_free(t);
        json_object_put(reply);
        return CTL_EXIT_OK;
}

enum { AUDIT_OPT_LIMIT };

int cmd_audit(struct ctl *ctl, const struct ctl_args *args)
{
        static const char *const headers[] = { "ID", "TIME", "UID", "PID", "ACTION", "TARGET",
                                               "RESULT", "DETAIL" };
        struct json_object *p, *reply = NULL, *es = NULL;
        const char *limit = args->opt[AUDIT_OPT_LIMIT];
        struct table *t = NULL;
        bool printed;
        char *end = NULL;
        long lim = 20;
        size_t n;
        int r;

        if (limit) {
                lim = strtol(limit, &end, 10);
                if (!*limit || *end || lim < 0)
                        return ctl_usage_error("audit: --limit takes a number >= 0 (got '%s')",
                                               limit);
        }
        p = json_object_new_object();
        if (!p)
                return oom_exit();
        json_object_object_add(p, "limit", json_object_new_int64(lim));
        r = call_for_table(ctl, "GetAuditLog", p, "entries", headers, ARRAY_SIZE(headers),
                           &reply, &es, &t, &printed);
        if (r != CTL_EXIT_OK || printed)
                return r;
        n = es ? json_object_array_length(es) : 0;
        table_set_squeeze(t, 7, 12, false);
        table_set_squeeze(t, 5, 20, true);
        for (size_t i = 0; i < n; i++) {
                struct json_object *a = json_object_array_get_idx(es, i);
                char id[24], uid[24], pid[24], *at = fmt_time(jv_get_int(a, "at", 0));
                char result[96];
                const char *cells[] = { id, at ? at : "?", uid, pid, jv_get_str(a, "action", "?"),
                                        jv_get_str(a, "target", "-"), result, jv_get_str(a, "detail", "-") };

                snprintf(id, sizeof(id), "%" PRId64, jv_get_int(a, "id", 0));
                snprintf(uid, sizeof(uid), "%" PRId64, jv_get_int(a, "uid", 0));
                snprintf(pid, sizeof(pid), "%" PRId64, jv_get_int(a, "pid", 0));
                snprintf(result, sizeof(result), "%s%s", jv_get_str(a, "result", "?"),
                         streq(jv_get_str(a, "severity", ""), "warning") ? " (WARNING)" : "");
                table_add_row(t, cells);
                free(at);
        }
        table_print(t, stdout, output_width());
        table_free(t);
        json_object_put(reply);
        return CTL_EXIT_OK;
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
                return oom_exit();
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
