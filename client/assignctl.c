/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl: the command-line client of assignd.  This file holds the
 * command table, the command-line parser driven by it, and the one place
 * where a Varlink call is made and its failure turned into a message on
 * stderr and an exit status (1 refused, 2 usage, 3 daemon unreachable), so
 * that every command reports errors the same way and scripts can rely on
 * the statuses.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "ctl.h"
#include "strbuf.h"

static const struct ctl_option status_options[] = {
        { "hazards", NULL, "list the hazards one by one, as a table" },
        CTL_TABLE_OPTIONS,
        { NULL, NULL, NULL },
};

static const struct ctl_option list_options[] = {
        { "coverage", "C", "only devices with this IOMMU coverage: protected, iommu-unsupported, iommu-disabled, none" },
        { "dma", "D", "only devices with this DMA capability: master, none, unknown" },
        { "assignable", NULL, "only devices that may be assigned to a guest" },
        { "owner", "O", "only devices held by this domain (name or domid), or \"none\" for free ones" },
        CTL_TABLE_OPTIONS,
        { NULL, NULL, NULL },
};

static const struct ctl_option policy_options[] = {
        { "note", "TEXT", "why the declaration was made (kept with it)" },
        { NULL, NULL, NULL },
};

static const struct ctl_option assign_options[] = {
        { "force-unprotected", NULL, "also assign devices no IOMMU protects that may do DMA (logged as a warning; refused with assignd --forbid-force)" },
        { "dry-run", NULL, "check everything and print the hypercalls, without making them" },
        { "layout", "L", "identity (default: guest address = host address) or auto (relocate what clashes with Xen's guest map)" },
        { NULL, NULL, NULL },
};

static const struct ctl_option leases_options[] = {
        { "all", NULL, "also list free and failed leases" },
        { "after", "ID", "only leases with a larger id (where a listing cut by --limit ended)" },
        { "limit", "N", "at most N leases (default 0: all of them, a page of 1000 at a time)" },
        CTL_TABLE_OPTIONS,
        { NULL, NULL, NULL },
};

static const struct ctl_option audit_options[] = {
        { "limit", "N", "show the newest N entries (default 20, 0: all)" },
        { "before", "ID", "only entries with a smaller id (where an earlier listing began)" },
        CTL_TABLE_OPTIONS,
        { NULL, NULL, NULL },
};

static const struct ctl_option history_options[] = {
        { "limit", "N", "show the newest N audit entries (default 20, 0: all)" },
        { "full", NULL, "print cells whole, however wide the tables get" },
        { "no-legend", NULL, "print neither the header lines nor the counts" },
        { NULL, NULL, NULL },
};

static const struct ctl_option sim_options[] = {
        { "no-passthrough", NULL, "create: without the IOMMU (xl passthrough not enabled)" },
        { "unpopulated", NULL, "create: leave the domain's RAM unpopulated" },
        { "nr-spis", "N", "create: SPIs of the domain's virtual GIC" },
        { "xl-config", "FILE", "create: set the domain up as xl create would from FILE's passthrough, irqs, iomem and dtdev" },
        { NULL, NULL, NULL },
};

static const struct ctl_option dtb_options[] = {
        { "output", "FILE", "write the partial device tree to FILE (mode 0644); required", 'o' },
        { "dom0less", NULL, "the dom0less flavour: xen,reg, xen,path and the force flag on unprotected devices" },
        { "layout", "L", "identity (default: guest address = host address), relocate (move every device) or auto (move only what clashes with Xen's guest map)" },
        { "force-unprotected", NULL, "accept devices no IOMMU protects that may do DMA (refused with assignd --forbid-force)" },
        { "xen-version", "X.Y", "the Xen the guest will run on (default: the running hypervisor's)" },
        { NULL, NULL, NULL },
};

static const struct ctl_option xl_config_options[] = {
        { "name", "NAME", "add name = \"NAME\" to the fragment" },
        { "device-tree", "FILE", "the path device_tree = names (default: the --dtb-out file, if any)" },
        { "output", "FILE", "write the fragment to FILE instead of standard output", 'o' },
        { "dtb-out", "FILE", "also write the partial device tree to FILE (mode 0644)" },
        { "layout", "L", "identity (default), relocate or auto, as for dtb" },
        { "force-unprotected", NULL, "accept devices no IOMMU protects that may do DMA" },
        { "xen-version", "X.Y", "the Xen the guest will run on (default: the running hypervisor's)" },
        { NULL, NULL, NULL },
};

static const struct ctl_option imagebuilder_options[] = {
        { "index", "N", "the (first) dom0less domU's number, 0 to 255 (default 0)" },
        { "dtb-file", "FILE", "the name DOMU_PASSTHROUGH_DTB gives the partial DTB (default domU<N>-passthrough.dtb; one domU only)" },
        { "dtb-out", "FILE", "also write the dom0less partial device tree to FILE (mode 0644; one domU only)" },
        { "dtb-dir", "DIR", "also write each domU's partial device tree into DIR, under the name DOMU_PASSTHROUGH_DTB gives it" },
        { "host-dtb", "FILE", "the host DTB named in the fdtput hints" },
        { "layout", "L", "identity (default), relocate or auto, as for dtb" },
        { "force-unprotected", NULL, "accept devices no IOMMU protects that may do DMA" },
        { "xen-version", "X.Y", "the Xen the guest will run on (default: the running hypervisor's)" },
        { NULL, NULL, NULL },
};

static const struct ctl_option reserve_options[] = {
        { "force-unprotected", NULL, "also reserve devices no IOMMU protects that may do DMA (refused with assignd --forbid-force)" },
        { "layout", "L", "identity (default), relocate or auto, as for dtb" },
        { "ttl", "S", "drop the reservation if no domain by that name appears within S seconds (default 600)" },
        { "output", "FILE", "write the xl.cfg fragment to FILE instead of standard output", 'o' },
        { "persistent", NULL, "a standing reservation: the devices stay dedicated to NAME across its boots until cancelled (no --ttl)" },
        { "exclusive", "yes|no", "with --persistent: no leaves the devices free while no domain NAME runs (default yes)" },
        { NULL, NULL, NULL },
};

static const struct ctl_option cancel_options[] = {
        { "lease", NULL, "NAME is a lease id, not a domain name" },
        { NULL, NULL, NULL },
};

static const struct ctl_option monitor_options[] = {
        { "since", "N", "first replay the events after number N, if the daemon still has them" },
        { "boot-id", "ID", "with --since: the boot ID N came with (a restarted daemon numbers anew)" },
        { NULL, NULL, NULL },
};

const struct ctl_command ctl_commands[] = {
        { "status", "", "show the daemon's version, backend, device tree and device counts",
          "Hazards (what makes assignment unsafe in ways Xen does not report) are counted by "
          "kind; --hazards lists them.",
          0, 0, status_options, cmd_status, ctl_hazard_columns, true },
        { "list", "", "list the host's devices as a table",
          "Filters combine. The table fits the terminal: free text gives way first, paths "
          "keep their node name; --full prints everything, and a pipe gets whole lines.",
          0, 0, list_options, cmd_list, ctl_list_columns, true },
        { "show", "PATH", "show everything known about one device",
          "PATH is the device's full device-tree path, as 'list' shows it.",
          1, 1, NULL, cmd_show, NULL, true },
        { "history", "PATH", "show what happened to one device: its leases and audit entries",
          "Every lease that held the device, in any state, and the audit entries that name "
          "it or one of those leases. A device a rescan removed still has its history.",
          1, 1, history_options, cmd_history },
        { "policy", "PATH KEY=VALUE...", "declare a device's DMA capability or whether it may be assigned",
          "KEY=VALUE is dma=none|master|unknown or assignable=yes|no; at least one is "
          "needed. The declaration overrides what assignd detected and survives restarts "
          "and rescans.",
          2, 3, policy_options, cmd_policy },
        { "assign", "DOMAIN PATH...", "assign devices to a running domain (domid or name)",
          "Every check is made before the first hypercall; a refusal names the device and "
          "why. Then, per device, iomem permission and mapping and IOMMU assignment, and last "
          "the SPI bindings (Xen on Arm checks dom0's right to an SPI, not the guest's, so "
          "there is no IRQ-permission step); a failure undoes what was done.",
          2, -1, assign_options, cmd_assign },
        { "release", "DOMAIN [PATH...]", "take devices back from a domain (all of them without PATH)",
          "On a live domain the MMIO, permissions and IOMMU assignment go at once, but Xen "
          "keeps the SPIs routed until the domain dies: the lease stays 'releasing' and the "
          "devices are held until then.",
          1, -1, NULL, cmd_release },
        { "leases", "", "list the leases (who holds which devices)", NULL,
          0, 0, leases_options, cmd_leases, ctl_lease_columns },
        { "audit", "", "show the audit log of writes (who, what, when, result)", NULL,
          0, 0, audit_options, cmd_audit, ctl_audit_columns },
        { "dtb", "PATH...", "write the partial device tree a guest needs for these devices",
          "Every check of assign that needs no domain is made (unknown device, not "
          "assignable, group incomplete, interrupt not an SPI, unprotected DMA without "
          "--force-unprotected, guest address clash with the identity layout). Notes say "
          "what the guest will miss.",
          1, -1, dtb_options, cmd_dtb, NULL, true },
        { "xl-config", "PATH...", "print the xl.cfg lines (passthrough, dtdev, irqs, iomem, device_tree) for these devices",
          "With --dtb-out the partial device tree is written too, and device_tree names it: "
          "add the lines to the domain's xl.cfg and run xl create. Nothing is reserved; "
          "use reserve to hold the devices until the domain exists.",
          1, -1, xl_config_options, cmd_xl_config, NULL, true },
        { "imagebuilder", "PATH... [+ PATH...]...", "print the ImageBuilder lines for dom0less domUs with these devices",
          "Each + starts the next domU (numbered from --index on). Per domU: NUM_DOMUS "
          "raised to cover it, DOMU_PASSTHROUGH_DTB[N] and DOMU_PASSTHROUGH_PATHS[N], after "
          "the checks of assign; a device may go to one domU only. --dtb-out (one domU) or "
          "--dtb-dir writes the dom0less partial device trees they name.",
          1, -1, imagebuilder_options, cmd_imagebuilder, NULL, true },
        { "reserve", "NAME PATH...", "reserve devices for the domain NAME that xl is about to create",
          "Prints the xl.cfg lines (device_tree names the partial DTB the daemon wrote). "
          "When a domain NAME appears the reservation binds to it and is verified against "
          "the hypervisor; one nobody takes up expires. With --persistent it binds to every "
          "domain NAME, goes back to reserved when that domain is gone, and lasts until "
          "cancelled.",
          2, -1, reserve_options, cmd_reserve },
        { "cancel", "NAME", "drop the pending or standing reservation of domain NAME (or lease NAME with --lease)",
          NULL, 1, 1, cancel_options, cmd_cancel },
        { "sim", "create NAME | destroy DOMID | kill DOMID | unpause DOMID | state",
          "drive the simulated hypervisor (assignd --hypervisor sim only)",
          "create makes a paused domain as 'xl create -p' would; destroy removes it (Xen "
          "takes its devices back); kill leaves it dying; unpause runs it; state prints "
          "the hypervisor's own view as JSON.",
          1, 2, sim_options, cmd_sim },
        { "monitor", "", "print events as they happen, until interrupted",
          "One line per event: its number, time (UTC), type (device-assigned, "
          "device-released, reservation-bound, reservation-expired, inventory-changed, "
          "domain-died), domain, lease, cause, state and devices. With --json, one JSON "
          "object per line. If events after --since are gone, or the daemon restarted, it "
          "says so (exit 1): re-read the state with 'list' and 'leases'. A monitor that "
          "does not keep up is dropped by the daemon (exit 1).",
          0, 0, monitor_options, cmd_monitor },
};
const size_t ctl_n_commands = sizeof(ctl_commands) / sizeof(ctl_commands[0]);

/* Global options; their getopt codes lie above any short option character. */
enum {
        OPT_SOCKET = 1000,
        OPT_JSON,
        OPT_VERSION,
        OPT_OFFLINE,
        OPT_DTB,
        OPT_DB,
        OPT_DMA_TABLE,
        OPT_HELP = 'h',
        OPT_COMMAND_BASE = 2000,
};

static const struct option global_longopts[] = {
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "json", no_argument, NULL, OPT_JSON },
        { "help", no_argument, NULL, OPT_HELP },
        { "version", no_argument, NULL, OPT_VERSION },
        { "offline", no_argument, NULL, OPT_OFFLINE },
        { "dtb", required_argument, NULL, OPT_DTB },
        { "db", required_argument, NULL, OPT_DB },
        { "dma-table", required_argument, NULL, OPT_DMA_TABLE },
};
#define N_GLOBAL_OPTS (sizeof(global_longopts) / sizeof(global_longopts[0]))

int ctl_usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("assignctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return CTL_EXIT_USAGE;
}

static void print_wrapped(const char *text, size_t indent);

static void print_global_help(void)
{
        size_t i;

        printf("Usage: assignctl [--socket PATH] [--json] COMMAND [ARGUMENTS...]\n"
               "       assignctl --offline [--dtb FILE] [--db FILE] [--dma-table FILE]...\n"
               "                 COMMAND [ARGUMENTS...]\n"
               "\n"
               "Query and control assignd, the device-assignment broker for Xen on Arm.\n"
               "\n"
               "Commands:\n");
        for (i = 0; i < ctl_n_commands; i++) {
                printf("  %-12s ", ctl_commands[i].name);
                print_wrapped(ctl_commands[i].summary, 15);
        }
        printf("\n"
               "Global options:\n"
               "  --socket PATH  the daemon's socket (default: $ASSIGND_SOCKET, else\n"
               "                 %s)\n"
               "  --json         print the daemon's answer as JSON\n"
               "  -h, --help     show this help, or a command's with COMMAND --help\n"
               "  --version      show the version\n"
               "\n"
               "Offline (no daemon: the daemon's own scanner, policy and generators):\n"
               "  --offline      run status, list, show, dtb, xl-config or imagebuilder\n"
               "                 on a device tree file\n"
               "  --dtb FILE     the host (board) device tree (default %s)\n"
               "  --db FILE      apply the administrator's policy stored in assignd's\n"
               "                 database FILE (read, never written)\n"
               "  --dma-table FILE\n"
               "                 add DMA declarations in the dma.d format (repeatable)\n"
               "\n"
               "Exit status: 0 success, 1 request refused, 2 usage error, 3 daemon unreachable.\n",
               DEFAULT_SOCKET, DEFAULT_DTB);
}

#define HELP_WIDTH 79

/* Print text from column indent on, wrapped at word boundaries before HELP_WIDTH. */
static void print_wrapped(const char *text, size_t indent)
{
        size_t col = indent;
        const char *p = text;

        while (*p) {
                size_t word = strcspn(p, " ");

                if (col > indent && col + 1 + word > HELP_WIDTH) {
                        printf("\n%*s", (int)indent, "");
                        col = indent;
                } else if (col > indent) {
                        putchar(' ');
                        col++;
                }
                printf("%.*s", (int)word, p);
                col += word;
                p += word;
                while (*p == ' ')
                        p++;
        }
        putchar('\n');
}

static void print_command_help(const struct ctl_command *cmd)
{
        const struct ctl_option *o;

        printf("Usage: assignctl %s%s%s%s\n\n", cmd->name,
               cmd->options ? " [OPTIONS]" : "",
               cmd->synopsis[0] ? " " : "", cmd->synopsis);
        {
                /* The summary as a sentence: capitalised, with a full stop. */
                _cleanup_free_ char *sentence = strdup_printf("%s.", cmd->summary);

                if (sentence && 'a' <= sentence[0] && sentence[0] <= 'z')
                        sentence[0] = (char)(sentence[0] - 'a' + 'A');
                print_wrapped(sentence ? sentence : cmd->summary, 0);
        }
        if (cmd->details) {
                putchar('\n');
                print_wrapped(cmd->details, 0);
        }
        printf("\nOptions:\n");
        for (o = cmd->options; o && o->name; o++) {
                char head[64];

                if (o->short_name)
                        snprintf(head, sizeof(head), "-%c, --%s%s%s", o->short_name, o->name,
                                 o->arg ? " " : "", o->arg ? o->arg : "");
                else
                        snprintf(head, sizeof(head), "--%s%s%s", o->name, o->arg ? " " : "",
                                 o->arg ? o->arg : "");
                /* A long option head gets its help on the next line, aligned. */
                if (strlen(head) > 16)
                        printf("  %s\n%19s", head, "");
                else
                        printf("  %-16s ", head);
                print_wrapped(o->help, 19);
        }
        printf("  %-16s %s\n", "--json", "print the daemon's answer as JSON");
        printf("  %-16s %s\n", "-h, --help", "show this help");
        if (cmd->columns) {
                printf("\nColumns (for -o; * marks those shown by default):\n");
                for (const struct table_column *c = cmd->columns; c->name; c++) {
                        char head[32];

                        snprintf(head, sizeof(head), "%s%s", c->name, c->show ? "*" : "");
                        printf("  %-16s ", head);
                        print_wrapped(c->help, 19);
                }
        }
}

/*
 * The command is the first argument that is neither an option nor the
 * value of a global option taking one; found before parsing so that the
 * command's own options can be merged into one getopt pass (options may
 * then come before or after the command name).
 */
static int find_command_arg(int argc, char **argv)
{
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (streq(a, "--"))
                        return i + 1 < argc ? i + 1 : -1;
                if (streq(a, "--socket") || streq(a, "--dtb") || streq(a, "--db") ||
                    streq(a, "--dma-table")) {
                        i++;
                        continue;
                }
                if (a[0] == '-' && a[1] != '\0')
                        continue;
                return i;
        }
        return -1;
}

static const struct ctl_command *lookup_command(const char *name)
{
        size_t i;

        for (i = 0; i < ctl_n_commands; i++)
                if (streq(ctl_commands[i].name, name))
                        return &ctl_commands[i];
        return NULL;
}

/* "unknown command 'stauts' (did you mean status?)". */
static int unknown_command(const char *name)
{
        const char *names[64];
        _cleanup_free_ char *near = NULL;
        size_t n;

        for (n = 0; n < ctl_n_commands && n < ARRAY_SIZE(names); n++)
                names[n] = ctl_commands[n].name;
        near = suggest_nearest(name, names, n, false);
        return ctl_usage_error("unknown command '%s'%s%s%s; see 'assignctl --help'", name,
                               near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
}

/* "unknown option '--ful'" and the option of the command it is nearest to. */
static int unknown_option(const char *arg, const struct ctl_command *cmd,
                          const struct option *longopts)
{
        _cleanup_free_ char *word = strndup(arg, strcspn(arg, "="));
        const char *names[N_GLOBAL_OPTS + CTL_MAX_OPTIONS];
        _cleanup_free_ char *near = NULL;
        size_t n = 0;

        for (; longopts[n].name && n < ARRAY_SIZE(names); n++)
                names[n] = longopts[n].name;
        if (word && strncmp(word, "--", 2) == 0)
                near = suggest_nearest(word + 2, names, n, false);
        /* Only one option is named: "--a or b" would not read. */
        if (near && strstr(near, " or "))
                near[0] = '\0';
        return ctl_usage_error("unknown option '%s'%s%s%s; see 'assignctl%s%s --help'", arg,
                               near && *near ? " (did you mean --" : "", near ? near : "",
                               near && *near ? "?)" : "", cmd ? " " : "", cmd ? cmd->name : "");
}

static size_t count_options(const struct ctl_option *opts)
{
        size_t n = 0;

        while (opts && opts[n].name)
                n++;
        return n;
}

/* Wire fields whose option is not the field with '-' for '_'. */
static const struct {
        const char *field, *option;
} option_aliases[] = {
        { "ttl_seconds", "ttl" },
        { "host_dtb_file", "host-dtb" },
};

/*
 * The running command's option for a wire field ("force_unprotected" ->
 * "--force-unprotected") into buf, or false when it has none: messages
 * for people name what they can type.
 */
static bool field_option(const struct ctl_command *cmd, const char *field, size_t len, char *buf,
                         size_t size)
{
        char name[64];

        if (!cmd || len == 0 || len >= sizeof(name))
                return false;
        for (size_t i = 0; i < len; i++)
                name[i] = field[i] == '_' ? '-' : field[i];
        name[len] = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(option_aliases); i++)
                if (strlen(option_aliases[i].field) == len &&
                    !strncmp(option_aliases[i].field, field, len))
                        snprintf(name, sizeof(name), "%s", option_aliases[i].option);
        for (const struct ctl_option *o = cmd->options; o && o->name; o++)
                if (streq(o->name, name)) {
                        snprintf(buf, size, "--%s", name);
                        return true;
                }
        return false;
}

static bool word_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
}

/*
 * The daemon's sentence with its wire field names replaced by the
 * command's options: every word with an underscore the command has an
 * option for, and the field an InvalidArgument names.  Words inside paths
 * ("/soc/usb_phy@0") are left alone.
 */
static char *people_words(const struct ctl_command *cmd, const char *msg, const char *field)
{
        struct strbuf b = STRBUF_INIT;
        char *out = NULL;

        for (const char *p = msg; *p;) {
                bool start = p == msg || (!word_char(p[-1]) && !strchr("/@-.,", p[-1]));
                size_t len = 0;
                char opt[72];

                while (word_char(p[len]))
                        len++;
                if (start && len &&
                    (memchr(p, '_', len) || (field && strlen(field) == len && !strncmp(p, field, len))) &&
                    field_option(cmd, p, len, opt, sizeof(opt))) {
                        strbuf_append(&b, opt);
                        p += len;
                } else if (len) {
                        strbuf_append_len(&b, p, len);
                        p += len;
                } else {
                        strbuf_append_len(&b, p++, 1);
                }
        }
        if (strbuf_steal(&b, &out) < 0)
                return NULL;
        return out;
}

/*
 * The error on stderr as one line for people, and with --json also as
 * {"error": NAME, "parameters": {...}} on stdout, the daemon's parameters
 * untouched, for scripts.  The message parameter is the daemon's sentence;
 * other string or number parameters are added when the message does not
 * carry them already (the standard org.varlink.service errors have no
 * message at all).  A path the daemon does not know gets the nearest one
 * it does.
 */
int ctl_report_error(struct ctl *ctl, const char *method, const char *name,
                     struct json_object *params)
{
        const char *field = jv_get_str(params, "field", NULL);
        const char *raw = jv_get_str(params, "message", NULL);
        _cleanup_free_ char *message = raw ? people_words(ctl->cmd, raw, field) : NULL;
        _cleanup_free_ char *near = NULL;
        bool first = true;

        if (ctl->json) {
                struct json_object *o = json_object_new_object();

                if (o && jv_set_str(o, "error", name) == 0 &&
                    json_object_object_add(o, "parameters", json_object_get(params)) == 0)
                        ctl_print_json(o);
                json_object_put(o);
        }
        if (streq(name, VL_ERR_PERMISSION_DENIED)) {
                fprintf(stderr, "assignctl: %s: uid %u may not call %s: changes are for root, "
                        "reading for root and members of the daemon's access group\n", name,
                        (unsigned)getuid(), method);
                return CTL_EXIT_REFUSED;
        }
        if (streq(name, "io.assignd.Broker.DeviceNotFound") && jv_get_str(params, "path", NULL))
                near = ctl_suggest_device(ctl, jv_get_str(params, "path", NULL));

        fprintf(stderr, "assignctl: %s", name);
        if (message || raw)
                fprintf(stderr, ": %s", message ? message : raw);
        if (params && json_object_is_type(params, json_type_object)) {
                json_object_object_foreach(params, key, val) {
                        const char *v;

                        if (streq(key, "message") || !val)
                                continue;
                        if (!json_object_is_type(val, json_type_string) &&
                            !json_object_is_type(val, json_type_int))
                                continue;
                        v = json_object_get_string(val);
                        if (raw && strstr(raw, v))
                                continue;
                        fprintf(stderr, "%s%s: %s", first ? (raw ? " (" : ": ") : ", ", key, v);
                        first = false;
                }
        }
        if (!first && raw)
                fputc(')', stderr);
        if (near)
                fprintf(stderr, "; did you mean %s?", near);
        fputc('\n', stderr);
        return CTL_EXIT_REFUSED;
}

static int connect_quietly(struct ctl *ctl)
{
        return ctl->client ? 0 : vl_client_connect(ctl->socket, &ctl->client);
}

char *ctl_suggest_device(struct ctl *ctl, const char *path)
{
        struct json_object *reply = NULL, *devs;
        char *error = NULL;
        const char **paths = NULL;
        const char *same = NULL, *tail = strrchr(path, '/');
        char *ret = NULL;
        size_t n = 0, same_tail = 0;

        tail = tail ? tail + 1 : path;
        if (ctl->offline) {
                if (ctl_offline_devices(ctl, NULL, &reply) != CTL_EXIT_OK)
                        goto out;
        } else if (connect_quietly(ctl) < 0 ||
                   vl_client_call(ctl->client, CTL_INTERFACE ".ListDevices", NULL, &reply,
                                  &error) < 0 ||
                   error) {
                goto out;
        }
        devs = jv_get_array(reply, "devices");
        n = devs ? json_object_array_length(devs) : 0;
        paths = calloc(n + 1, sizeof(*paths));
        if (!paths)
                goto out;
        for (size_t i = 0; i < n; i++) {
                const char *p = jv_get_str(json_object_array_get_idx(devs, i), "path", NULL);
                const char *slash = p ? strrchr(p, '/') : NULL;

                paths[i] = p;
                /* The node named by its last component alone ("serial@9000000"). */
                if (slash && *tail && streq(slash + 1, tail)) {
                        same_tail++;
                        same = p;
                }
        }
        if (path[0] == '/')
                ret = suggest_nearest(path, paths, n, false);
        if (!ret && same_tail == 1)
                ret = strdup(same);
out:
        free(paths);
        free(error);
        json_object_put(reply);
        return ret;
}

int ctl_check_path(const char *cmd, struct ctl *ctl, const char *path)
{
        _cleanup_free_ char *near = NULL;

        if (path[0] == '/')
                return CTL_EXIT_OK;
        near = ctl_suggest_device(ctl, path);
        return ctl_usage_error("%s: '%s' is not a device-tree path (they start with '/')%s%s%s",
                               cmd, path, near ? "; did you mean " : "", near ? near : "",
                               near ? "?" : "");
}

int ctl_oom(void)
{
        fprintf(stderr, "assignctl: out of memory\n");
        return CTL_EXIT_REFUSED;
}

struct ctl_table_opts ctl_table_opts(const struct ctl_args *args, size_t first)
{
        bool full = args->opt[first + CTL_TABLE_OPT_FULL] != NULL;

        return (struct ctl_table_opts){
                .columns = args->opt[first + CTL_TABLE_OPT_COLUMNS],
                .width = ctl_output_width(full),
                .full = full,
                .legend = args->opt[first + CTL_TABLE_OPT_NO_LEGEND] == NULL,
        };
}

static int ensure_connected(struct ctl *ctl)
{
        int r;

        if (ctl->client)
                return CTL_EXIT_OK;
        r = vl_client_connect(ctl->socket, &ctl->client);
        if (r < 0) {
                /* The likely fix differs: start the daemon, or get access to its socket. */
                fprintf(stderr, "assignctl: cannot connect to %s: %s; %s\n", ctl->socket, strerror(-r),
                        r == -EACCES || r == -EPERM ? "is the caller root or in assignd's group?"
                                                    : "is assignd running?");
                return CTL_EXIT_UNREACHABLE;
        }
        return CTL_EXIT_OK;
}

int ctl_stream(struct ctl *ctl, const char *method, struct json_object *params, bool *more,
               struct json_object **reply)
{
        struct json_object *out = NULL;
        char *error = NULL;
        char qualified[128];
        int r;

        if (method) {
                r = ensure_connected(ctl);
                if (r != CTL_EXIT_OK)
                        return r;
                snprintf(qualified, sizeof(qualified), "%s.%s", CTL_INTERFACE, method);
                r = vl_client_send(ctl->client, qualified, params, VL_CALL_MORE);
                if (r < 0) {
                        fprintf(stderr, "assignctl: cannot send %s to %s: %s\n", method,
                                ctl->socket, strerror(-r));
                        return CTL_EXIT_UNREACHABLE;
                }
                *more = true;
                return CTL_EXIT_OK;
        }
        *reply = NULL;
        if (!*more)
                return CTL_EXIT_OK;
        r = vl_client_recv(ctl->client, &out, &error, more);
        if (r == -EBADMSG) {
                fprintf(stderr, "assignctl: malformed message from %s\n", ctl->socket);
                return CTL_EXIT_REFUSED;
        }
        if (r < 0) {
                fprintf(stderr, "assignctl: lost connection to %s: %s\n", ctl->socket,
                        r == -ECONNRESET ? "the daemon closed it" : strerror(-r));
                return CTL_EXIT_UNREACHABLE;
        }
        if (error) {
                r = ctl_report_error(ctl, method ? method : "Monitor", error, out);
                free(error);
                json_object_put(out);
                return r;
        }
        *reply = out;
        return CTL_EXIT_OK;
}

int ctl_call(struct ctl *ctl, const char *method, struct json_object *params,
             struct json_object **reply)
{
        struct json_object *out = NULL;
        char *error = NULL;
        char qualified[128];
        void (*old_pipe)(int);
        int r;

        /* Offline nothing is sent: main() lets through only the commands that need no daemon. */
        if (ctl->offline)
                abort();
        r = ensure_connected(ctl);
        if (r != CTL_EXIT_OK)
                return r;

        if (strchr(method, '.'))
                snprintf(qualified, sizeof(qualified), "%s", method);
        else
                snprintf(qualified, sizeof(qualified), "%s.%s", CTL_INTERFACE, method);
        /* A daemon that goes away mid-call must give an error, not kill us with SIGPIPE. */
        old_pipe = signal(SIGPIPE, SIG_IGN);
        r = vl_client_call(ctl->client, qualified, params, &out, &error);
        signal(SIGPIPE, old_pipe);

        if (r == -EBADMSG) {
                fprintf(stderr, "assignctl: malformed reply from %s to %s\n", ctl->socket, method);
                return CTL_EXIT_REFUSED;
        }
        if (r < 0) {
                fprintf(stderr, "assignctl: lost connection to %s during %s: %s\n", ctl->socket,
                        method, strerror(-r));
                return CTL_EXIT_UNREACHABLE;
        }
        if (error) {
                r = ctl_report_error(ctl, method, error, out);
                free(error);
                json_object_put(out);
                return r;
        }
        if (!out || !json_object_is_type(out, json_type_object)) {
                fprintf(stderr, "assignctl: reply to %s is not an object\n", method);
                json_object_put(out);
                return CTL_EXIT_REFUSED;
        }
        *reply = out;
        return CTL_EXIT_OK;
}

int ctl_call_or_print(struct ctl *ctl, const char *method, struct json_object *params,
                      struct json_object **reply)
{
        int r;

        *reply = NULL;
        r = ctl_call(ctl, method, params, reply);
        json_object_put(params);
        if (r != CTL_EXIT_OK || !ctl->json)
                return r;
        r = ctl_print_json(*reply);
        json_object_put(*reply);
        *reply = NULL;
        return r;
}

int ctl_print_json(struct json_object *o)
{
        const char *s;

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s) {
                fprintf(stderr, "assignctl: cannot serialise the reply\n");
                return CTL_EXIT_REFUSED;
        }
        puts(s);
        return CTL_EXIT_OK;
}

/* --offline and its options together, and only for a command that needs no daemon. */
static int check_offline(struct ctl *ctl, const struct ctl_command *cmd, bool socket_given)
{
        if (!ctl->offline) {
                if (ctl->dtb || ctl->db || ctl->n_dma_tables)
                        return ctl_usage_error("--dtb, --db and --dma-table go with --offline");
                return CTL_EXIT_OK;
        }
        if (socket_given)
                return ctl_usage_error("--offline talks to no daemon: drop --socket");
        if (!cmd->offline)
                return ctl_usage_error("%s needs the daemon (and its hypervisor); --offline runs "
                                       "status, list, show, dtb, xl-config and imagebuilder "
                                       "only", cmd->name);
        if (!ctl->dtb)
                ctl->dtb = DEFAULT_DTB;
        return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
        struct ctl ctl = { .socket = NULL, .json = false, .client = NULL };
        _cleanup_free_ const char **dma_tables = NULL;
        bool socket_given = false;
        struct option longopts[N_GLOBAL_OPTS + CTL_MAX_OPTIONS + 1];
        const struct ctl_command *cmd = NULL;
        struct ctl_args args;
        char shortopts[3 + 2 * CTL_MAX_OPTIONS];
        size_t n_cmd_opts, n_short, i, n_dma_cap = 0;
        int cmd_index, c, r;
        bool want_help = false;

        memset(&args, 0, sizeof(args));
        ctl.socket = getenv("ASSIGND_SOCKET");
        if (!ctl.socket || !ctl.socket[0])
                ctl.socket = DEFAULT_SOCKET;

        cmd_index = find_command_arg(argc, argv);
        if (cmd_index > 0) {
                cmd = lookup_command(argv[cmd_index]);
                if (!cmd)
                        return unknown_command(argv[cmd_index]);
        }

        n_cmd_opts = cmd ? count_options(cmd->options) : 0;
        if (n_cmd_opts > CTL_MAX_OPTIONS)
                abort();        /* a table row broke the limit: a programming error */
        memcpy(longopts, global_longopts, sizeof(global_longopts));
        for (i = 0; i < n_cmd_opts; i++) {
                longopts[N_GLOBAL_OPTS + i] = (struct option) {
                        .name = cmd->options[i].name,
                        .has_arg = cmd->options[i].arg ? required_argument : no_argument,
                        .flag = NULL,
                        .val = OPT_COMMAND_BASE + (int)i,
                };
        }
        memset(&longopts[N_GLOBAL_OPTS + n_cmd_opts], 0, sizeof(struct option));
        shortopts[0] = ':';
        shortopts[1] = 'h';
        n_short = 2;
        for (i = 0; i < n_cmd_opts; i++) {
                if (!cmd->options[i].short_name)
                        continue;
                shortopts[n_short++] = cmd->options[i].short_name;
                if (cmd->options[i].arg)
                        shortopts[n_short++] = ':';
        }
        shortopts[n_short] = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
                /* A command's one-letter alias stands for its long option. */
                for (i = 0; c > 0 && c < 256 && c != 'h' && i < n_cmd_opts; i++)
                        if (cmd->options[i].short_name == c)
                                c = OPT_COMMAND_BASE + (int)i;
                switch (c) {
                case OPT_SOCKET:
                        if (!optarg[0])
                                return ctl_usage_error("--socket needs a path");
                        ctl.socket = optarg;
                        socket_given = true;
                        break;
                case OPT_OFFLINE:
                        ctl.offline = true;
                        break;
                case OPT_DTB:
                case OPT_DB:
                case OPT_DMA_TABLE:
                        if (!optarg[0])
                                return ctl_usage_error("%s needs a file name", argv[optind - 1]);
                        if (c == OPT_DTB)
                                ctl.dtb = optarg;
                        else if (c == OPT_DB)
                                ctl.db = optarg;
                        else if (GROW(dma_tables, n_dma_cap, ctl.n_dma_tables) < 0)
                                return ctl_oom();
                        else
                                dma_tables[ctl.n_dma_tables++] = optarg;
                        break;
                case OPT_JSON:
                        ctl.json = true;
                        break;
                case OPT_HELP:
                        want_help = true;
                        break;
                case OPT_VERSION:
                        printf("assignctl %s\n", ASSIGND_VERSION);
                        return CTL_EXIT_OK;
                case ':':
                        return ctl_usage_error("option '%s' needs a value; see 'assignctl%s%s --help'",
                                               argv[optind - 1], cmd ? " " : "", cmd ? cmd->name : "");
                case '?':
                        if (optopt > 0 && optopt < 256)
                                return ctl_usage_error("unknown option '-%c'; see 'assignctl%s%s --help'",
                                                       optopt, cmd ? " " : "", cmd ? cmd->name : "");
                        return unknown_option(argv[optind - 1], cmd, longopts);
                default:
                        if (c >= OPT_COMMAND_BASE && c < OPT_COMMAND_BASE + (int)n_cmd_opts)
                                args.opt[c - OPT_COMMAND_BASE] = optarg ? optarg : "";
                        else
                                abort();
                }
        }

        if (!cmd) {
                if (want_help) {
                        print_global_help();
                        return CTL_EXIT_OK;
                }
                if (optind < argc)
                        return unknown_command(argv[optind]);
                return ctl_usage_error("no command given; see 'assignctl --help'");
        }
        if (want_help) {
                print_command_help(cmd);
                return CTL_EXIT_OK;
        }

        /* getopt moved the operands to the end, the command name first among them. */
        args.pos = argv + optind + 1;
        args.n_pos = argc - optind - 1;
        if (args.n_pos < cmd->min_args)
                return ctl_usage_error("%s: missing argument; usage: assignctl %s %s", cmd->name,
                                       cmd->name, cmd->synopsis);
        if (cmd->max_args >= 0 && args.n_pos > cmd->max_args)
                return ctl_usage_error("%s: unexpected argument '%s'; see 'assignctl %s --help'",
                                       cmd->name, args.pos[cmd->max_args], cmd->name);

        r = check_offline(&ctl, cmd, socket_given);
        if (r != CTL_EXIT_OK)
                return r;
        ctl.dma_tables = dma_tables;
        ctl.cmd = cmd;
        r = cmd->run(&ctl, &args);
        vl_client_free(ctl.client);
        ctl_offline_free(&ctl);

        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "assignctl: cannot write output: %s\n", strerror(errno));
                if (r == CTL_EXIT_OK)
                        r = CTL_EXIT_REFUSED;
        }
        return r;
}
