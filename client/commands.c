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
                if (ctl_streq(v, *set))
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
        struct json_object *reply = NULL, *dtb, *counts;
        char *up, *started;
        int r;

        r = ctl_call(ctl, "GetStatus", NULL, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl->json) {
                r = ctl_print_json(reply);
                json_object_put(reply);
                return r;
        }

        dtb = jobj(reply, "dtb");
        counts = jobj(reply, "devices");
        up = fmt_duration(jint(reply, "uptime_seconds", -1));
        started = fmt_time(jint(reply, "started_at", -1));

        printf("assignd %s, backend %s\n", jstr(reply, "version", "?"), jstr(reply, "backend", "?"));
        printf("  %-13s %s\n", "device tree:", jstr(dtb, "path", "?"));
        printf("  %-13s %s\n", "model:", jstr(dtb, "model", "-"));
        printf("  %-13s %s\n", "sha256:", jstr(dtb, "sha256", "?"));
        printf("  %-13s %" PRId64 " total, %" PRId64 " assignable, %" PRId64 " protected, %" PRId64
               " DMA-capable without IOMMU protection\n",
               "devices:", jint(counts, "total", 0), jint(counts, "assignable", 0),
               jint(counts, "protected", 0), jint(counts, "unprotected_dma", 0));
        printf("  %-13s %" PRId64 " assignment group%s, %" PRId64 " IOMMU%s\n", "",
               jint(counts, "groups", 0), jint(counts, "groups", 0) == 1 ? "" : "s",
               jint(counts, "iommus", 0), jint(counts, "iommus", 0) == 1 ? "" : "s");
        printf("  %-13s %s (since %s)\n", "uptime:", up ? up : "?", started ? started : "?");
        printf("  %-13s %" PRId64 "\n", "connections:", jint(reply, "connections", 0));
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
                        jstr(dev, "path", "?"),
                        jstr(jobj(dev, "iommu"), "coverage", "?"),
                        jstr(dev, "dma", "?"),
                        regions, spis, group, owner,
                };
                bool ok = regions && spis && group && owner && table_add_row(t, cells) == 0;

                free(regions);
                free(spis);
                free(group);
                free(owner);
                if (!ok)
                        goto oom;
                if (jbool(dev, "assignable", false))
                        n_assignable++;
                if (ctl_streq(cells[COL_COVERAGE], "protected"))
                        n_protected++;
                if (jobj(dev, "owner"))
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

        devices = jarr(reply, "devices");
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
        struct json_object *c = jarr(dev, "compatible");
        size_t n = c ? json_object_array_length(c) : 0, i;
        bool first = true;

        label("compatible", &first);
        for (i = 0; i < n; i++)
                printf("%s%s", i ? ", " : "", json_object_get_string(json_object_array_get_idx(c, i)));
        printf("%s\n", n ? "" : "-");
}

static void show_regions(struct json_object *dev)
{
        struct json_object *regions = jarr(dev, "regions");
        size_t n = regions ? json_object_array_length(regions) : 0, i;
        bool first = true;

        for (i = 0; i < n; i++) {
                struct json_object *reg = json_object_array_get_idx(regions, i);
                uint64_t base = (uint64_t)jint(reg, "base", 0), size = (uint64_t)jint(reg, "size", 0);

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
        if (jstr(dev, "reg_note", NULL)) {
                first = true;
                label("reg note", &first);
                printf("%s\n", jstr(dev, "reg_note", ""));
        }
}

static void show_interrupts(struct json_object *dev)
{
        struct json_object *irqs = jarr(dev, "interrupts");
        size_t n = irqs ? json_object_array_length(irqs) : 0, i;
        bool first = true;

        for (i = 0; i < n; i++) {
                struct json_object *irq = json_object_array_get_idx(irqs, i);
                const char *cls = jstr(irq, "class", "?");
                const char *ctrl = jstr(irq, "controller", "?");
                int64_t hw = jint(irq, "hwirq", -1);

                label("interrupts", &first);
                if (ctl_streq(cls, "spi") && hw >= 32)
                        printf("spi %" PRId64 " (GIC SPI %" PRId64 ") on %s\n", hw, hw - 32, ctrl);
                else if (ctl_streq(cls, "ppi") && hw >= 16)
                        printf("ppi %" PRId64 " (GIC PPI %" PRId64 ", not routable) on %s\n", hw, hw - 16, ctrl);
                else if (ctl_streq(cls, "not-gic"))
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
        struct json_object *iommu = jobj(dev, "iommu");
        struct json_object *links = jarr(iommu, "iommus");
        struct json_object *gaps = jarr(dev, "iommu_map_gaps");
        size_t n = links ? json_object_array_length(links) : 0, i, j;
        bool first = true;

        label("iommu", &first);
        printf("%s\n", jstr(iommu, "coverage", "?"));
        for (i = 0; i < n; i++) {
                struct json_object *link = json_object_array_get_idx(links, i);
                struct json_object *ids = jarr(link, "ids");
                size_t n_ids = ids ? json_object_array_length(ids) : 0;

                label("iommu", &first);
                printf("%s, id%s", jstr(link, "iommu", "?"), n_ids == 1 ? "" : "s");
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
                printf("%s\n", n_ids ? "" : " -");
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
                        int64_t base = jint(g, "rid_base", 0), count = jint(g, "count", 0);

                        if (i)
                                label("iommu-map gaps", &first);
                        printf("RID 0x%" PRIx64 "-0x%" PRIx64 " (%" PRId64 ", bypass the IOMMU)\n",
                               (uint64_t)base, (uint64_t)(base + (count ? count - 1 : 0)), count);
                }
        }
}

static void show_policy(struct json_object *dev)
{
        struct json_object *policy = jobj(dev, "policy");
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
        when = fmt_time(jint(policy, "set_at", -1));
        printf("(set by uid %" PRId64 " at %s)\n", jint(policy, "set_by_uid", -1), when ? when : "?");
        free(when);
        if (jstr(policy, "note", NULL)) {
                label("policy", &first);
                printf("note: %s\n", jstr(policy, "note", ""));
        }
}

static void show_device(struct json_object *dev, bool brief)
{
        struct json_object *group = jarr(dev, "group");
        size_t n_group = group ? json_object_array_length(group) : 0, i;
        const char *reason = jstr(dev, "reason", NULL);
        bool first;
        char *owner;

        printf("%s\n", jstr(dev, "path", "?"));
        if (!brief) {
                show_compatible(dev);
                show_regions(dev);
                show_interrupts(dev);
                show_iommu(dev);
        }

        first = true;
        label("dma", &first);
        printf("%s (from %s)\n", jstr(dev, "dma", "?"), jstr(dev, "dma_source", "?"));

        first = true;
        label("assignable", &first);
        if (jbool(dev, "assignable", false))
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
        owner = fmt_owner(jobj(dev, "owner"));
        label("owner", &first);
        printf("%s\n", owner ? owner : "?");
        free(owner);

        if (!brief && jbool(dev, "xen_passthrough", false)) {
                first = true;
                label("xen,passthrough", &first);
                printf("yes (Xen hides this node from dom0)\n");
        }
}

static int get_device(struct ctl *ctl, const char *method, struct json_object *params,
                      struct json_object **reply, struct json_object **dev)
{
        int r;

        r = ctl_call(ctl, method, params, reply);
        if (r != CTL_EXIT_OK)
                return r;
        *dev = jobj(*reply, "device");
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
        if (ctl_streq(v, "yes") || ctl_streq(v, "true")) {
                *ret = true;
                return 0;
        }
        if (ctl_streq(v, "no") || ctl_streq(v, "false")) {
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
