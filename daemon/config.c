/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command-line parsing for assignd.  Every option has a default suitable
 * for a dom0 run by systemd; tests and the demo override paths to keep
 * everything in a scratch directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "hv.h"
#include "log.h"
#include "util.h"

#include "build-config.h"

enum {
        OPT_DTB = 0x100,
        OPT_DB,
        OPT_SOCKET,
        OPT_HYPERVISOR,
        OPT_SIM_STATE,
        OPT_SIM_XEN_VERSION,
        OPT_CONFIG_DIR,
        OPT_GROUP,
        OPT_GROUP_MAY_WRITE,
        OPT_FORBID_FORCE,
        OPT_LOG_LEVEL,
};

void config_init(struct config *cfg)
{
        *cfg = (struct config){
                .dtb_path = DEFAULT_DTB,
                .db_path = DEFAULT_DB,
                .socket_path = DEFAULT_SOCKET,
                .hypervisor = "xen",
                .sim_xen_version = "4.17",
                .config_dir = DEFAULT_CONFDIR,
                .group = "assignd",
                .log_level = LOG_INFO,
        };
}

void config_print_help(const char *argv0)
{
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "Device-assignment broker for Xen on Arm: keeps an inventory of the host's\n"
               "devices and serves assign/release requests over Varlink.\n"
               "\n"
               "Options:\n"
               "  --dtb PATH              host device tree (default %s)\n"
               "  --db PATH               inventory database (default %s)\n"
               "  --socket PATH           Varlink socket (default %s)\n"
               "  --hypervisor xen|sim    hypervisor backend (default xen)\n"
               "  --sim-state PATH        state file of the simulated hypervisor\n"
               "                          (default: sim-state.json next to the database)\n"
               "  --sim-xen-version X.Y   Xen version the simulator models (default 4.17)\n"
               "  --config-dir DIR        configuration directory with dma.d/*.conf\n"
               "                          (default %s)\n"
               "  --group NAME            group whose members may read and watch (default assignd)\n"
               "  --group-may-write       also let that group assign, release and set policy\n"
               "  --forbid-force          refuse force_unprotected: no device without IOMMU\n"
               "                          protection that may do DMA is ever assigned\n"
               "  --foreground            log to stderr in plain text instead of journal format\n"
               "  --log-level LEVEL       error, warning, notice, info or debug (default info)\n"
               "  -h, --help              show this help\n"
               "  --version               show the version\n",
               argv0, DEFAULT_DTB, DEFAULT_DB, DEFAULT_SOCKET, DEFAULT_CONFDIR);
}

int config_parse_args(struct config *cfg, int argc, char **argv)
{
        static const struct option options[] = {
                { "dtb", required_argument, NULL, OPT_DTB },
                { "db", required_argument, NULL, OPT_DB },
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "hypervisor", required_argument, NULL, OPT_HYPERVISOR },
                { "sim-state", required_argument, NULL, OPT_SIM_STATE },
                { "sim-xen-version", required_argument, NULL, OPT_SIM_XEN_VERSION },
                { "config-dir", required_argument, NULL, OPT_CONFIG_DIR },
                { "group", required_argument, NULL, OPT_GROUP },
                { "group-may-write", no_argument, NULL, OPT_GROUP_MAY_WRITE },
                { "forbid-force", no_argument, NULL, OPT_FORBID_FORCE },
                { "foreground", no_argument, NULL, 'f' },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int c, lvl;
        unsigned maj, min;
        char extra;

        optind = 1;
        while ((c = getopt_long(argc, argv, "hf", options, NULL)) >= 0) {
                switch (c) {
                case OPT_DTB:
                        cfg->dtb_path = optarg;
                        break;
                case OPT_DB:
                        cfg->db_path = optarg;
                        break;
                case OPT_SOCKET:
                        cfg->socket_path = optarg;
                        break;
                case OPT_HYPERVISOR:
                        if (!hv_backend_known(optarg)) {
                                _cleanup_free_ char *names = hv_backend_known_names();

                                fprintf(stderr, "assignd: --hypervisor takes %s, not '%s'\n",
                                        names ? names : "a known backend", optarg);
                                return -EINVAL;
                        }
                        cfg->hypervisor = optarg;
                        break;
                case OPT_SIM_STATE:
                        cfg->sim_state = optarg;
                        break;
                case OPT_SIM_XEN_VERSION:
                        if (sscanf(optarg, "%u.%u%c", &maj, &min, &extra) != 2) {
                                fprintf(stderr, "assignd: --sim-xen-version takes MAJOR.MINOR, not '%s'\n", optarg);
                                return -EINVAL;
                        }
                        cfg->sim_xen_version = optarg;
                        break;
                case OPT_CONFIG_DIR:
                        cfg->config_dir = optarg;
                        break;
                case OPT_GROUP:
                        cfg->group = optarg;
                        break;
                case OPT_GROUP_MAY_WRITE:
                        cfg->group_may_write = true;
                        break;
                case OPT_FORBID_FORCE:
                        cfg->forbid_force = true;
                        break;
                case 'f':
                        cfg->foreground = true;
                        break;
                case OPT_LOG_LEVEL:
                        lvl = log_parse_level(optarg);
                        if (lvl < 0) {
                                fprintf(stderr, "assignd: unknown log level '%s'\n", optarg);
                                return -EINVAL;
                        }
                        cfg->log_level = lvl;
                        break;
                case 'h':
                        config_print_help(argv[0]);
                        return 1;
                case 'V':
                        printf("assignd %s\n", ASSIGND_VERSION);
                        return 1;
                default:
                        fprintf(stderr, "Try '%s --help'.\n", argv[0]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "assignd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 0;
}
