/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration (see config.h): defaults, assignd.conf and its
 * drop-ins read with libinih, the command line, and --print-config.
 *
 * libinih hands over each "Key = value" with its section but not its line
 * number, so the files are fed to it through a reader that counts lines:
 * the handler runs right after the line it is about was read, and an error
 * can name the file and the line.  A line libinih itself cannot parse (no
 * '=', an unclosed '[') is reported with the line it returns.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <ini.h>

#include "config.h"
#include "dt.h"
#include "engine.h"
#include "hv.h"
#include "limit.h"
#include "log.h"
#include "reserve.h"
#include "strbuf.h"
#include "util.h"

#include "build-config.h"

#define ORIGIN_DEFAULT "built-in"
#define ORIGIN_CMDLINE "command line"
/* The group the packaging creates (sysusers.d) and the socket belongs to. */
#define DEFAULT_GROUP "assignd"

enum setting_type {
        T_GROUPS,
        T_USERS,
        T_UNPROTECTED,
        T_UINT,
        T_PATH,
};

static const struct setting {
        const char *section, *key;
        enum setting_type type;
        int right;                      /* T_GROUPS, T_USERS: enum dispatch_right */
        size_t offset;                  /* T_UINT, T_PATH: in struct config */
        unsigned min, max;              /* T_UINT */
} settings[_CONFIG_SETTING_MAX] = {
        [CONFIG_READ_GROUPS] = { "Access", "ReadGroups", T_GROUPS, DISPATCH_READ },
        [CONFIG_READ_USERS] = { "Access", "ReadUsers", T_USERS, DISPATCH_READ },
        [CONFIG_WATCH_GROUPS] = { "Access", "WatchGroups", T_GROUPS, DISPATCH_WATCH },
        [CONFIG_WATCH_USERS] = { "Access", "WatchUsers", T_USERS, DISPATCH_WATCH },
        [CONFIG_WRITE_GROUPS] = { "Access", "WriteGroups", T_GROUPS, DISPATCH_WRITE },
        [CONFIG_WRITE_USERS] = { "Access", "WriteUsers", T_USERS, DISPATCH_WRITE },
        [CONFIG_UNPROTECTED] = { "Policy", "Unprotected", T_UNPROTECTED },
        [CONFIG_RESERVATION_TTL] = { "Policy", "ReservationTTLSec", T_UINT, 0,
                                     offsetof(struct config, reservation_ttl), 1,
                                     RESERVE_TTL_MAX },
        /* Above the root reserve, so that someone besides root can connect. */
        [CONFIG_MAX_CONNECTIONS] = { "Limits", "MaxConnections", T_UINT, 0,
                                     offsetof(struct config, max_connections),
                                     LIMIT_CONNECTIONS_ROOT_RESERVE + 1, 65536 },
        [CONFIG_MAX_CONNECTIONS_PER_USER] = { "Limits", "MaxConnectionsPerUser", T_UINT, 0,
                                              offsetof(struct config, max_connections_per_user),
                                              1, 65536 },
        [CONFIG_IDLE_TIMEOUT] = { "Limits", "IdleTimeoutSec", T_UINT, 0,
                                  offsetof(struct config, idle_timeout_sec), 1, 86400 },
        [CONFIG_MAX_DEVICE_TREE] = { "Limits", "MaxDeviceTreeMiB", T_UINT, 0,
                                     offsetof(struct config, max_device_tree_mib), 1, 1024 },
        [CONFIG_HISTORY_MAX_AGE] = { "History", "MaxAgeDays", T_UINT, 0,
                                     offsetof(struct config, history_max_age_days), 0, 36500 },
        [CONFIG_HISTORY_MAX_LEASES] = { "History", "MaxFinishedLeases", T_UINT, 0,
                                        offsetof(struct config, history_max_leases), 0,
                                        100000000 },
        [CONFIG_HISTORY_MAX_AUDIT] = { "History", "MaxAuditEntries", T_UINT, 0,
                                       offsetof(struct config, history_max_audit), 0,
                                       1000000000 },
        [CONFIG_DATABASE] = { "Paths", "Database", T_PATH, 0, offsetof(struct config, db_path) },
        [CONFIG_SOCKET] = { "Paths", "Socket", T_PATH, 0, offsetof(struct config, socket_path) },
};

static const char *const unprotected_names[] = { "allow-with-force", "refuse" };

const char *config_setting_name(enum config_setting s)
{
        static char buf[_CONFIG_SETTING_MAX][48];

        if ((unsigned)s >= _CONFIG_SETTING_MAX)
                return "?";
        if (!buf[s][0])
                snprintf(buf[s], sizeof(buf[s]), "%s.%s", settings[s].section, settings[s].key);
        return buf[s];
}

/* ---- values ------------------------------------------------------------------ */

static char **strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
        return NULL;
}

static int strv_push(char ***v, const char *s)
{
        size_t n = strv_length(*v);
        char **nv = realloc(*v, (n + 2) * sizeof(*nv));

        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[n] = strdup(s);
        nv[n + 1] = NULL;
        return nv[n] ? 0 : -ENOMEM;
}

static int set_origin(struct config *cfg, enum config_setting s, const char *origin)
{
        char *o = strdup(origin);

        if (!o)
                return -ENOMEM;
        free(cfg->origin[s]);
        cfg->origin[s] = o;
        return 0;
}

static int set_string(char **field, const char *value)
{
        char *v = strdup(value);

        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

/* A user or group token: a name of the usual characters, or a number. */
static bool valid_token(const char *t)
{
        if (!*t || strlen(t) > 64 || *t == '-')
                return false;
        for (const char *p = t; *p; p++)
                if (!(isalnum((unsigned char)*p) || strchr("._-", *p)))
                        return false;
        return true;
}

/*
 * Apply one value to setting s; *why gets a sentence when it is not
 * acceptable (-EINVAL).  Lists take whitespace-separated names or
 * numbers: the first line replaces the default, later ones add to it,
 * and an empty value empties the list.
 */
static int apply(struct config *cfg, enum config_setting s, const char *value, const char **why)
{
        const struct setting *st = &settings[s];
        char ***list;
        unsigned long long n;
        char *end;
        int r;

        switch (st->type) {
        case T_GROUPS:
        case T_USERS: {
                _cleanup_free_ char *copy = strdup(value);
                char *save = NULL;

                if (!copy)
                        return -ENOMEM;
                list = st->type == T_GROUPS ? &cfg->groups[st->right] : &cfg->users[st->right];
                /* The first line that sets a list replaces the built-in default. */
                if (cfg->origin[s] && streq(cfg->origin[s], ORIGIN_DEFAULT))
                        *list = strv_free(*list);
                if (!*value) {
                        *list = strv_free(*list);
                        return 0;
                }
                for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
                        if (!valid_token(t)) {
                                *why = st->type == T_GROUPS ? "takes group names or numbers"
                                                            : "takes user names or numbers";
                                return -EINVAL;
                        }
                        r = strv_push(list, t);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case T_UNPROTECTED:
                for (size_t i = 0; i < ARRAY_SIZE(unprotected_names); i++)
                        if (streq(value, unprotected_names[i])) {
                                cfg->forbid_force = i == 1;
                                return 0;
                        }
                *why = "takes allow-with-force or refuse";
                return -EINVAL;
        case T_UINT:
                errno = 0;
                n = strtoull(value, &end, 10);
                if (!*value || *end || errno || *value == '-' || n < st->min || n > st->max) {
                        static char buf[64];

                        snprintf(buf, sizeof(buf), "takes a whole number from %u to %u",
                                 st->min, st->max);
                        *why = buf;
                        return -EINVAL;
                }
                *(unsigned *)((char *)cfg + st->offset) = (unsigned)n;
                return 0;
        case T_PATH:
                if (value[0] != '/' || strlen(value) >= PATH_MAX) {
                        *why = "takes an absolute path";
                        return -EINVAL;
                }
                return set_string((char **)((char *)cfg + st->offset), value);
        }
        return -EINVAL;
}

/* ---- files ------------------------------------------------------------------- */

struct file_state {
        struct config *cfg;
        const char *path;
        FILE *f;
        int line;               /* of the line libinih works on */
        int err_line;           /* the first error's line, 0: none */
        char *err;              /* and what it was */
};

static void file_error(struct file_state *fs, const char *fmt, ...) _printf_(2, 3);
static void file_error(struct file_state *fs, const char *fmt, ...)
{
        va_list ap;

        if (fs->err_line)
                return;
        va_start(ap, fmt);
        if (vasprintf(&fs->err, fmt, ap) < 0)
                fs->err = NULL;
        va_end(ap);
        fs->err_line = fs->line;
}

/* libinih's reader: one line, counted; an overlong line is an error of its own. */
static char *read_line(char *buf, int size, void *userdata)
{
        struct file_state *fs = userdata;
        size_t len;
        int c;

        if (!fgets(buf, size, fs->f))
                return NULL;
        fs->line++;
        len = strlen(buf);
        if (len > 0 && buf[len - 1] != '\n' && !feof(fs->f)) {
                file_error(fs, "line longer than %d characters", size - 3);
                while ((c = fgetc(fs->f)) != EOF && c != '\n')
                        ;
                buf[0] = '\0';
        } else if (memchr(buf, '\0', len + 1) != buf + len) {
                file_error(fs, "NUL byte in the line");
        }
        return buf;
}

static int on_value(void *userdata, const char *section, const char *name, const char *value)
{
        struct file_state *fs = userdata;
        _cleanup_free_ char *origin = NULL;
        const char *why = NULL;
        bool known_section = false;
        int r;

        for (size_t i = 0; i < _CONFIG_SETTING_MAX; i++) {
                if (!streq(settings[i].section, section))
                        continue;
                known_section = true;
                if (!streq(settings[i].key, name))
                        continue;
                r = apply(fs->cfg, (enum config_setting)i, value, &why);
                if (r == -EINVAL) {
                        file_error(fs, "%s= %s, not '%s'", name, why, value);
                        return 0;
                }
                origin = strdup_printf("%s:%d", fs->path, fs->line);
                if (r < 0 || !origin || set_origin(fs->cfg, (enum config_setting)i, origin) < 0) {
                        file_error(fs, "out of memory");
                        return 0;
                }
                return 1;
        }
        if (!*section)
                file_error(fs, "'%s' is outside any [section]", name);
        else if (known_section)
                file_error(fs, "unknown key '%s' in [%s]", name, section);
        else
                file_error(fs, "unknown section [%s]", section);
        return 0;
}

/* Read one file into cfg: 0, -ENOENT when it does not exist, or -errno with *err. */
static int load_file(struct config *cfg, const char *path, char **err)
{
        struct file_state fs = { .cfg = cfg, .path = path };
        int r;

        fs.f = fopen(path, "re");
        if (!fs.f) {
                r = -errno;
                if (r != -ENOENT)
                        set_error(err, r, "%s: %s", path, strerror(-r));
                return r;
        }
        r = ini_parse_stream(read_line, &fs, on_value, &fs);
        fclose(fs.f);
        if (r == -2 || (fs.err_line && !fs.err)) {
                r = set_error(err, -ENOMEM, "%s: out of memory", path);
        } else if (fs.err_line && (r <= 0 || fs.err_line <= r)) {
                r = set_error(err, -EINVAL, "%s:%d: %s", path, fs.err_line, fs.err);
        } else if (r > 0) {
                r = set_error(err, -EINVAL, "%s:%d: not a 'Key = value' line, a [Section] "
                              "header or a comment", path, r);
        } else {
                r = 0;
        }
        free(fs.err);
        return r;
}

static int conf_filter(const struct dirent *d)
{
        size_t n = strlen(d->d_name);

        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".conf");
}

/* assignd.conf, then assignd.conf.d/ in name order. */
static int load_files(struct config *cfg, char **err)
{
        _cleanup_free_ char *main_file = strdup_printf("%s/assignd.conf", cfg->config_dir);
        _cleanup_free_ char *dir = strdup_printf("%s/assignd.conf.d", cfg->config_dir);
        struct dirent **names = NULL;
        int n, r;

        if (!main_file || !dir)
                return -ENOMEM;
        r = load_file(cfg, main_file, err);
        if (r < 0 && r != -ENOENT)
                return r;
        n = scandir(dir, &names, conf_filter, alphasort);
        if (n < 0) {
                r = -errno;
                if (r == -ENOENT || r == -ENOTDIR)
                        return 0;
                return set_error(err, r, "%s: %s", dir, strerror(-r));
        }
        r = 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = strdup_printf("%s/%s", dir, names[i]->d_name);

                if (r >= 0)
                        r = path ? load_file(cfg, path, err) : -ENOMEM;
                /* A drop-in that vanished between the listing and the reading is no error. */
                if (r == -ENOENT)
                        r = 0;
                free(names[i]);
        }
        free(names);
        return r;
}

/* ---- command line ------------------------------------------------------------ */

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
        OPT_UNPROTECTED,
        OPT_LOG_LEVEL,
        OPT_PRINT_CONFIG,
};

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
        { "unprotected", required_argument, NULL, OPT_UNPROTECTED },
        { "foreground", no_argument, NULL, 'f' },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "print-config", no_argument, NULL, OPT_PRINT_CONFIG },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {}
};

void config_print_help(const char *argv0)
{
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "Device-assignment broker for Xen on Arm: keeps an inventory of the host's\n"
               "devices and serves assign/release requests over Varlink.\n"
               "\n"
               "Settings come from CONFIG_DIR/assignd.conf, then CONFIG_DIR/assignd.conf.d/*.conf\n"
               "in name order, then these options (see assignd.conf(5)).\n"
               "\n"
               "Options:\n"
               "  --dtb PATH              host device tree (default %s)\n"
               "  --db PATH               inventory database (Paths.Database, default %s)\n"
               "  --socket PATH           Varlink socket (Paths.Socket, default %s)\n"
               "  --hypervisor xen|sim    hypervisor backend (default xen)\n"
               "  --sim-state PATH        state file of the simulated hypervisor\n"
               "                          (default: sim-state.json next to the database)\n"
               "  --sim-xen-version X.Y   Xen version the simulator models (default 4.17)\n"
               "  --config-dir DIR        directory of assignd.conf, assignd.conf.d/ and\n"
               "                          dma.d/ (default %s)\n"
               "  --group NAME            the group whose members may read and watch\n"
               "                          (Access.WatchGroups, default %s)\n"
               "  --group-may-write       let the watch groups also assign, release and set\n"
               "                          policy (Access.WriteGroups)\n"
               "  --unprotected POLICY    allow-with-force or refuse: whether Assign's\n"
               "                          force_unprotected may hand out a device no IOMMU\n"
               "                          confines (Policy.Unprotected, default allow-with-force)\n"
               "  --forbid-force          the same as --unprotected refuse\n"
               "  --print-config          print the effective configuration and exit\n"
               "  --foreground            log to stderr in plain text, not to the journal\n"
               "  --log-level LEVEL       error, warning, notice, info or debug (default info)\n"
               "  -h, --help              show this help\n"
               "  --version               show the version\n",
               argv0, DEFAULT_DTB, DEFAULT_DB, DEFAULT_SOCKET, DEFAULT_CONFDIR, DEFAULT_GROUP);
}

static int set_unprotected(struct config *cfg, const char *value)
{
        const char *why = NULL;
        int r = apply(cfg, CONFIG_UNPROTECTED, value, &why);

        if (r == -EINVAL)
                fprintf(stderr, "assignd: --unprotected %s, not '%s'\n", why, value);
        if (r >= 0)
                r = set_origin(cfg, CONFIG_UNPROTECTED, ORIGIN_CMDLINE);
        return r;
}

/* The command line takes relative paths too (tests, the demo); the files do not. */
static int set_cmdline_path(struct config *cfg, enum config_setting s, const char *value)
{
        int r = set_string((char **)((char *)cfg + settings[s].offset), value);

        if (r >= 0)
                r = set_origin(cfg, s, ORIGIN_CMDLINE);
        return r;
}

/* One option of the second pass; 1: --help/--version printed. */
static int apply_option(struct config *cfg, int c, const char *arg, const char *argv0,
                        bool *group_may_write)
{
        unsigned maj, min;
        char extra;
        int lvl, r;

        switch (c) {
        case OPT_DTB:
                return set_string(&cfg->dtb_path, arg);
        case OPT_DB:
                return set_cmdline_path(cfg, CONFIG_DATABASE, arg);
        case OPT_SOCKET:
                return set_cmdline_path(cfg, CONFIG_SOCKET, arg);
        case OPT_HYPERVISOR:
                if (!hv_backend_known(arg)) {
                        _cleanup_free_ char *names = hv_backend_known_names();

                        fprintf(stderr, "assignd: --hypervisor takes %s, not '%s'\n",
                                names ? names : "a known backend", arg);
                        return -EINVAL;
                }
                return set_string(&cfg->hypervisor, arg);
        case OPT_SIM_STATE:
                return set_string(&cfg->sim_state, arg);
        case OPT_SIM_XEN_VERSION:
                if (sscanf(arg, "%u.%u%c", &maj, &min, &extra) != 2) {
                        fprintf(stderr, "assignd: --sim-xen-version takes MAJOR.MINOR, not '%s'\n",
                                arg);
                        return -EINVAL;
                }
                return set_string(&cfg->sim_xen_version, arg);
        case OPT_CONFIG_DIR:
                return 0;       /* taken in the first pass */
        case OPT_GROUP:
                if (!valid_token(arg)) {
                        fprintf(stderr, "assignd: --group takes a group name or number, not '%s'\n",
                                arg);
                        return -EINVAL;
                }
                cfg->groups[DISPATCH_WATCH] = strv_free(cfg->groups[DISPATCH_WATCH]);
                r = strv_push(&cfg->groups[DISPATCH_WATCH], arg);
                return r < 0 ? r : set_origin(cfg, CONFIG_WATCH_GROUPS, ORIGIN_CMDLINE);
        case OPT_GROUP_MAY_WRITE:
                *group_may_write = true;
                return 0;
        case OPT_FORBID_FORCE:
                return set_unprotected(cfg, "refuse");
        case OPT_UNPROTECTED:
                return set_unprotected(cfg, arg);
        case 'f':
                cfg->foreground = true;
                return 0;
        case OPT_LOG_LEVEL:
                lvl = log_parse_level(arg);
                if (lvl < 0) {
                        fprintf(stderr, "assignd: unknown log level '%s'\n", arg);
                        return -EINVAL;
                }
                cfg->log_level = lvl;
                return 0;
        case OPT_PRINT_CONFIG:
                cfg->print_config = true;
                return 0;
        case 'h':
                config_print_help(argv0);
                return 1;
        case 'V':
                printf("assignd %s\n", ASSIGND_VERSION);
                return 1;
        default:
                fprintf(stderr, "Try '%s --help'.\n", argv0);
                return -EINVAL;
        }
}

/* The defaults, each marked built-in. */
static int config_init(struct config *cfg)
{
        int r = 0;

        *cfg = (struct config){
                .log_level = LOG_INFO,
                .reservation_ttl = RESERVE_TTL_DEFAULT,
                .max_connections = LIMIT_CONNECTIONS,
                .max_connections_per_user = LIMIT_CONNECTIONS_PER_UID,
                .idle_timeout_sec = LIMIT_IDLE_TIMEOUT_SEC,
                .max_device_tree_mib = DT_MAX_BLOB_SIZE >> 20,
                .history_max_age_days = HISTORY_MAX_AGE_DAYS,
                .history_max_leases = HISTORY_MAX_FINISHED_LEASES,
                .history_max_audit = HISTORY_MAX_AUDIT_ENTRIES,
        };
        r |= set_string(&cfg->dtb_path, DEFAULT_DTB);
        r |= set_string(&cfg->db_path, DEFAULT_DB);
        r |= set_string(&cfg->socket_path, DEFAULT_SOCKET);
        r |= set_string(&cfg->hypervisor, "xen");
        r |= set_string(&cfg->sim_xen_version, "4.17");
        r |= set_string(&cfg->config_dir, DEFAULT_CONFDIR);
        r |= strv_push(&cfg->groups[DISPATCH_WATCH], DEFAULT_GROUP);
        for (size_t i = 0; i < _CONFIG_SETTING_MAX; i++)
                r |= set_origin(cfg, (enum config_setting)i, ORIGIN_DEFAULT);
        return r < 0 ? -ENOMEM : 0;
}

int config_load(struct config *cfg, int argc, char **argv)
{
        _cleanup_free_ char *err = NULL;
        bool group_may_write = false;
        int c, r;

        r = config_init(cfg);
        if (r < 0) {
                fprintf(stderr, "assignd: out of memory\n");
                return r;
        }
        /* First pass: only where the files are, and whether the options parse at all. */
        opterr = 1;
        optind = 1;
        while ((c = getopt_long(argc, argv, "hf", options, NULL)) >= 0) {
                if (c == '?') {
                        fprintf(stderr, "Try '%s --help'.\n", argv[0]);
                        return -EINVAL;
                }
                if (c == OPT_CONFIG_DIR && set_string(&cfg->config_dir, optarg) < 0)
                        return -ENOMEM;
        }
        if (optind < argc) {
                fprintf(stderr, "assignd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        r = load_files(cfg, &err);
        if (r < 0) {
                fprintf(stderr, "assignd: %s\n", err ? err : strerror(-r));
                return r;
        }
        /* Second pass: the command line overrides the files. */
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, "hf", options, NULL)) >= 0) {
                r = apply_option(cfg, c, optarg, argv[0], &group_may_write);
                if (r != 0)
                        return r;
        }
        if (group_may_write) {
                cfg->groups[DISPATCH_WRITE] = strv_free(cfg->groups[DISPATCH_WRITE]);
                for (size_t i = 0; cfg->groups[DISPATCH_WATCH] && cfg->groups[DISPATCH_WATCH][i]; i++)
                        if (strv_push(&cfg->groups[DISPATCH_WRITE],
                                      cfg->groups[DISPATCH_WATCH][i]) < 0)
                                return -ENOMEM;
                if (set_origin(cfg, CONFIG_WRITE_GROUPS, ORIGIN_CMDLINE) < 0)
                        return -ENOMEM;
        }
        return 0;
}

void config_clear(struct config *cfg)
{
        free(cfg->dtb_path);
        free(cfg->hypervisor);
        free(cfg->sim_state);
        free(cfg->sim_xen_version);
        free(cfg->config_dir);
        free(cfg->db_path);
        free(cfg->socket_path);
        for (size_t i = 0; i < _DISPATCH_RIGHT_MAX; i++) {
                strv_free(cfg->groups[i]);
                strv_free(cfg->users[i]);
                free(cfg->gids[i]);
                free(cfg->uids[i]);
        }
        for (size_t i = 0; i < _CONFIG_SETTING_MAX; i++)
                free(cfg->origin[i]);
        *cfg = (struct config){ 0 };
}

/* ---- resolving and printing -------------------------------------------------- */

static bool parse_id(const char *t, unsigned *ret)
{
        unsigned long n;
        char *end;

        errno = 0;
        n = strtoul(t, &end, 10);
        if (errno || *end || end == t || n >= (unsigned long)UINT32_MAX)
                return false;
        *ret = (unsigned)n;
        return true;
}

int config_resolve(struct config *cfg, char **err)
{
        static const enum config_setting group_setting[] = {
                CONFIG_READ_GROUPS, CONFIG_WATCH_GROUPS, CONFIG_WRITE_GROUPS };
        static const enum config_setting user_setting[] = {
                CONFIG_READ_USERS, CONFIG_WATCH_USERS, CONFIG_WRITE_USERS };

        for (size_t right = 0; right < _DISPATCH_RIGHT_MAX; right++) {
                size_t ng = strv_length(cfg->groups[right]), nu = strv_length(cfg->users[right]);

                free(cfg->gids[right]);
                free(cfg->uids[right]);
                cfg->gids[right] = calloc(ng + 1, sizeof(gid_t));
                cfg->uids[right] = calloc(nu + 1, sizeof(uid_t));
                cfg->n_gids[right] = cfg->n_uids[right] = 0;
                if (!cfg->gids[right] || !cfg->uids[right])
                        return -ENOMEM;
                for (size_t i = 0; i < ng; i++) {
                        const char *t = cfg->groups[right][i];
                        const char *origin = cfg->origin[group_setting[right]];
                        struct group *gr;
                        unsigned id;

                        if (parse_id(t, &id)) {
                                cfg->gids[right][cfg->n_gids[right]++] = (gid_t)id;
                                continue;
                        }
                        gr = getgrnam(t);
                        if (gr) {
                                cfg->gids[right][cfg->n_gids[right]++] = gr->gr_gid;
                        } else if (streq(origin, ORIGIN_DEFAULT)) {
                                log_notice("group '%s' does not exist: only root may use the "
                                           "socket until it does (systemd-sysusers creates it)",
                                           t);
                        } else {
                                return set_error(err, -ENOENT, "%s: %s: no group named '%s'",
                                                 origin, config_setting_name(group_setting[right]),
                                                 t);
                        }
                }
                for (size_t i = 0; i < nu; i++) {
                        const char *t = cfg->users[right][i];
                        struct passwd *pw;
                        unsigned id;

                        if (parse_id(t, &id)) {
                                cfg->uids[right][cfg->n_uids[right]++] = (uid_t)id;
                                continue;
                        }
                        pw = getpwnam(t);
                        if (!pw)
                                return set_error(err, -ENOENT, "%s: %s: no user named '%s'",
                                                 cfg->origin[user_setting[right]],
                                                 config_setting_name(user_setting[right]), t);
                        cfg->uids[right][cfg->n_uids[right]++] = pw->pw_uid;
                }
        }
        return 0;
}

void config_grants(const struct config *cfg, struct dispatch_grant grants[_DISPATCH_RIGHT_MAX])
{
        for (size_t i = 0; i < _DISPATCH_RIGHT_MAX; i++)
                grants[i] = (struct dispatch_grant){
                        .gids = cfg->gids[i], .n_gids = cfg->n_gids[i],
                        .uids = cfg->uids[i], .n_uids = cfg->n_uids[i],
                };
}

void config_print(const struct config *cfg, FILE *out)
{
        const char *section = NULL;

        fprintf(out, "# assignd %s: the effective configuration (%s/assignd.conf,\n"
                "# %s/assignd.conf.d/*.conf, then the command line); after each\n"
                "# value, where it was set.\n",
                ASSIGND_VERSION, cfg->config_dir, cfg->config_dir);
        for (size_t i = 0; i < _CONFIG_SETTING_MAX; i++) {
                const struct setting *st = &settings[i];
                _cleanup_free_ char *value = NULL;

                if (!section || !streq(section, st->section)) {
                        section = st->section;
                        fprintf(out, "\n[%s]\n", section);
                }
                switch (st->type) {
                case T_GROUPS:
                case T_USERS: {
                        char **v = st->type == T_GROUPS ? cfg->groups[st->right]
                                                        : cfg->users[st->right];

                        value = strv_join((const char *const *)v, strv_length(v), " ");
                        break;
                }
                case T_UNPROTECTED:
                        value = strdup(unprotected_names[cfg->forbid_force ? 1 : 0]);
                        break;
                case T_UINT:
                        value = strdup_printf("%u",
                                              *(const unsigned *)((const char *)cfg + st->offset));
                        break;
                case T_PATH:
                        value = strdup(*(char *const *)((const char *)cfg + st->offset));
                        break;
                }
                fprintf(out, "%s = %s ; %s\n", st->key, value ? value : "",
                        cfg->origin[i] ? cfg->origin[i] : "?");
        }
}
