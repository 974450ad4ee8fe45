/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's objects and their wiring (see manager.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "adopt.h"
#include "broker.h"
#include "build-config.h"
#include "classify.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "events.h"
#include "hv.h"
#include "inventory.h"
#include "lease-state.h"
#include "limit.h"
#include "log.h"
#include "manager.h"
#include "monitor.h"
#include "recovery.h"
#include "reserve.h"
#include "server.h"
#include "service.h"
#include "simulator.h"
#include "watch.h"

/*
 * The daemon's clock: it writes again lease outcomes the database refused;
 * it looks at reservations (the domain watch takes them up at once; the
 * tick drops expired ones and catches a domain xl finished granting
 * devices to after it was announced), and, while a held domain is dying,
 * at the end Xen may not signal.
 */
#define MANAGER_TICK_SECONDS 1
/*
 * The history's retention ([History] of assignd.conf) is applied at
 * start-up and then every minute, a batch at a time: a backlog (a lowered
 * limit, a long stop) goes a batch per tick without stalling the loop.
 */
#define MANAGER_PRUNE_TICKS 60
#define MANAGER_PRUNE_BATCH 1000

struct manager {
        /* The settings, and the command line to read them again with (SIGHUP). */
        struct config cfg;
        int argc;
        char **argv;
        /* In the order they are made; freed in reverse. */
        struct db *db;
        struct classify_tables *tables;
        struct inventory *inv;
        struct hv *hv;
        struct events *events;
        struct engine *engine;
        struct watch *watch;
        struct event_base *base;
        struct dispatch *dispatch;
        struct server *server;
        struct event *tick, *sigterm, *sigint, *sighup, *watchdog;
        char *guest_dir;
        char *serving;          /* the socket's path, as bound or as systemd passed it */
        char *status;           /* the last STATUS= sent */
        uint64_t watchdog_usec; /* WatchdogSec= of the unit; 0: none */
        time_t started_at;
        unsigned prune_in;      /* ticks until the history is pruned again */
};

/* "<directory of path>/name" (malloc'd). */
static char *next_to(const char *path, const char *name)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return NULL;
        return strdup_printf("%s/%s", dirname(copy), name);
}

static int make_parent_dir(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        if (mkdir(dirname(copy), 0750) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* The DMA tables: the built-in ones and <config dir>/dma.d/NAME.conf. */
static int load_tables(const struct config *cfg, struct classify_tables **ret)
{
        _cleanup_(classify_tables_freep) struct classify_tables *t = NULL;
        _cleanup_free_ char *err = NULL, *dma_dir = NULL;
        int r;

        r = classify_tables_new(&t);
        if (r < 0)
                return log_error_errno(r, "cannot build the DMA tables: %s", strerror(-r));
        dma_dir = strdup_printf("%s/dma.d", cfg->config_dir);
        if (!dma_dir)
                return log_error_errno(-ENOMEM, "out of memory");
        r = classify_tables_load_dir(t, dma_dir, &err);
        if (r < 0)
                return log_error_errno(r, "cannot load DMA tables from %s: %s", dma_dir,
                                       err ? err : strerror(-r));
        *ret = steal_ptr(t);
        return 0;
}

static int open_inventory(struct manager *m)
{
        const struct config *cfg = &m->cfg;
        _cleanup_free_ char *err = NULL;
        struct log_fields lf = LOG_FIELDS_INIT;
        bool rescanned = false;
        int r;

        r = make_parent_dir(cfg->db_path);
        if (r < 0)
                return log_error_errno(r, "cannot create the directory of %s: %s", cfg->db_path,
                                       strerror(-r));
        dt_set_max_blob_size((size_t)cfg->max_device_tree_mib << 20);
        r = db_open(cfg->db_path, &m->db, &err);
        if (r < 0) {
                log_fields_add(&lf, LOG_FIELD_ERROR, strerror(-r));
                log_event(LOG_ERR, LOG_MESSAGE_STORAGE_ERROR, &lf, "cannot open database %s: %s",
                          cfg->db_path, err ? err : strerror(-r));
                return r;
        }
        r = load_tables(cfg, &m->tables);
        if (r < 0)
                return r;
        r = inventory_open(m->db, cfg->dtb_path, m->tables, &m->inv, &rescanned, &err);
        if (r < 0)
                return log_error_errno(r, "cannot build the inventory from %s: %s", cfg->dtb_path,
                                       err ? err : strerror(-r));
        log_info("inventory of %s: %zu devices (%s)", cfg->dtb_path,
                 inventory_dt(m->inv)->n_devices, rescanned ? "rescanned" : "unchanged");
        return rescanned;
}

/* Ask Xen which disabled nodes of dom0's tree it set aside (again after a reclassification). */
static int check_dom0_hidden(struct manager *m)
{
        _cleanup_free_ char *err = NULL;
        struct inventory_dom0_counts c;
        int r;

        r = inventory_check_dom0_hidden(m->inv, m->hv, &c, &err);
        if (r < 0)
                return log_error_errno(r, "cannot tell the devices Xen set aside for passthrough "
                                       "from dom0's own: %s", err ? err : strerror(-r));
        if (c.set_aside + c.owned + c.unknown)
                log_info("disabled in dom0's tree: %u set aside for passthrough, %u dom0's own "
                         "(SPI routed to dom0), %u without an SPI to tell (need policy)",
                         c.set_aside, c.owned, c.unknown);
        return 0;
}

static int open_hypervisor(struct manager *m)
{
        const struct config *cfg = &m->cfg;
        _cleanup_free_ char *state = NULL, *err = NULL;
        _cleanup_free_ const char **protected = NULL;
        struct hv_options o;
        int r;

        hv_options_init(&o);
        /* A backend that keeps state of its own (the simulator) keeps it next to the database. */
        state = cfg->sim_state ? strdup(cfg->sim_state) : next_to(cfg->db_path, "sim-state.json");
        if (!state)
                return log_error_errno(-ENOMEM, "out of memory");
        o.state_path = state;
        sscanf(cfg->sim_xen_version, "%u.%u", &o.xen_major, &o.xen_minor);
        r = hv_options_set_platform_from_dt(&o, inventory_dt(m->inv), &protected);
        if (r < 0)
                return log_error_errno(r, "out of memory");
        r = hv_open(cfg->hypervisor, &o, &m->hv, &err);
        if (r < 0)
                return log_error_errno(r, "cannot open the %s hypervisor backend: %s",
                                       cfg->hypervisor, err ? err : strerror(-r));
        /*
         * The benchmarks measure what synced commits cost against the
         * durability before them; only with the simulator, never with Xen.
         */
        if (streq(cfg->hypervisor, "sim") && streq(getenv("ASSIGND_BENCH_SYNCHRONOUS") ?: "",
                                                   "normal")) {
                r = db_set_synchronous_normal(m->db);
                if (r < 0)
                        return log_error_errno(r, "cannot set synchronous=NORMAL");
                log_warning("benchmark setting: the database runs with synchronous=NORMAL, a "
                            "commit does not survive a power loss");
        }
        return check_dom0_hidden(m);
}

static void emit_inventory_changed(struct manager *m, const char *why)
{
        struct event ev = EVENT_INIT(EVENT_INVENTORY_CHANGED);

        ev.detail = why;
        events_emit(m->events, &ev);
}

static struct engine_options engine_options_of(const struct config *cfg, const char *guest_dir)
{
        return (struct engine_options){
                .forbid_force = cfg->forbid_force,
                .reservation_ttl = cfg->reservation_ttl,
                .guest_dir = guest_dir,
                .retention = {
                        .max_age = (int64_t)cfg->history_max_age_days * 86400,
                        .max_leases = cfg->history_max_leases,
                        .max_audit = cfg->history_max_audit,
                },
        };
}

static int open_engine(struct manager *m, bool rescanned)
{
        _cleanup_free_ char *err = NULL;
        struct engine_options o;
        int r;

        r = events_new(LIMIT_EVENT_RING, &m->events);
        if (r < 0)
                return log_error_errno(r, "cannot create the event bus: %s", strerror(-r));
        if (rescanned)
                emit_inventory_changed(m, "the device tree changed and was rescanned");
        m->guest_dir = next_to(m->cfg.db_path, "guests");
        if (!m->guest_dir)
                return log_error_errno(-ENOMEM, "out of memory");
        o = engine_options_of(&m->cfg, m->guest_dir);
        r = engine_new(m->inv, m->hv, &o, &m->engine);
        if (r < 0)
                return log_error_errno(r, "cannot create the engine: %s", strerror(-r));
        engine_set_events(m->engine, m->events);
        /* Before serving: no request may see a lease a crash left half-done. */
        r = recovery_reconcile(m->engine, &err);
        if (r < 0)
                return log_error_errno(r, "cannot reconcile the leases: %s",
                                       err ? err : strerror(-r));
        log_info("reconciled leases with the hypervisor: %d changed", r);
        /* Reservations whose domain appeared, or that expired, while we were down. */
        r = reserve_check_all(m->engine);
        if (r > 0)
                log_info("reservations: %d changed at start-up", r);
        /* What live domains (dom0less ones, those of a lost database) hold without a lease. */
        r = adopt_sweep(m->engine, true);
        if (r > 0)
                log_warning("%d device%s held outside assignd at start-up: recorded as adopted "
                            "leases", r, r == 1 ? "" : "s");
        /* After the reconciliation: deaths before it are not news to anyone. */
        r = watch_new(m->hv, m->engine, m->events, &m->watch, &err);
        if (r < 0)
                return log_error_errno(r, "cannot list the domains: %s",
                                       err ? err : strerror(-r));
        return 0;
}

static void server_limits_of(const struct config *cfg, struct server_limits *l)
{
        server_limits_default(l);
        l->connections = cfg->max_connections;
        l->connections_per_uid = cfg->max_connections_per_user;
        l->idle_timeout_msec = cfg->idle_timeout_sec * 1000u;
}

/*
 * Room for MaxConnections descriptors and the daemon's own: the soft limit
 * is raised as far as the hard one allows (systemd's default soft limit is
 * 1024; the unit sets LimitNOFILE=, and its system call filter may refuse
 * setrlimit).  Too few is a warning: past them accepting pauses (EMFILE).
 */
static void raise_fd_limit(const struct config *cfg)
{
        rlim_t want = (rlim_t)cfg->max_connections + LIMIT_FDS_OWN;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
                want = rl.rlim_max;
        if (want > rl.rlim_cur) {
                rl.rlim_cur = want;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur < (rlim_t)cfg->max_connections + LIMIT_FDS_OWN)
                log_warning("only %llu file descriptors may be open (RLIMIT_NOFILE): past about "
                            "%llu connections, accepting pauses instead of reaching "
                            "MaxConnections=%u; raise LimitNOFILE= of assignd.service",
                            (unsigned long long)rl.rlim_cur,
                            rl.rlim_cur > LIMIT_FDS_OWN
                                    ? (unsigned long long)(rl.rlim_cur - LIMIT_FDS_OWN) : 0ull,
                            cfg->max_connections);
}

/* The context the handlers see, from the current objects and settings. */
static void set_dispatch_context(struct manager *m)
{
        struct dispatch_context ctx = {
                .inv = m->inv,
                .engine = m->engine,
                .hv = m->hv,
                .events = m->events,
                .watch = m->watch,
                .server = m->server,
                .backend = hv_backend_name(m->hv),
                .dtb_path = m->cfg.dtb_path,
                .started_at = m->started_at,
        };

        config_grants(&m->cfg, ctx.grants);
        dispatch_set_context(m->dispatch, &ctx);
}

/* The path of the listening UNIX socket fd, for the log (malloc'd, NULL if unnamed). */
static char *socket_path_of(int fd)
{
        struct sockaddr_un sa = { 0 };
        socklen_t len = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
            len <= offsetof(struct sockaddr_un, sun_path) || !sa.sun_path[0])
                return NULL;
        return strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
}

static int open_api(struct manager *m)
{
        const struct config *cfg = &m->cfg;
        _cleanup_free_ char *err = NULL;
        struct server_limits limits;
        struct dispatch_context ctx = { .engine = m->engine };
        int r;

        r = dispatch_new(&ctx, &m->dispatch, &err);
        if (r >= 0)
                r = service_register(m->dispatch, &err);
        if (r >= 0)
                r = broker_register(m->dispatch, &err);
        if (r >= 0)
                r = monitor_register(m->dispatch, &err);
        if (r >= 0)
                r = simulator_register(m->dispatch, m->hv, &err);
        if (r < 0)
                return log_error_errno(r, "cannot set up the Varlink methods: %s",
                                       err ? err : strerror(-r));
        server_limits_of(cfg, &limits);
        raise_fd_limit(cfg);
        r = server_new(m->base, &limits, dispatch_call, m->dispatch, &m->server);
        if (r < 0)
                return log_error_errno(r, "cannot create the server: %s", strerror(-r));
        if (sd_listen_fds(0) > 0) {
                m->serving = socket_path_of(SD_LISTEN_FDS_START);
                r = server_listen_systemd(m->server, &err);
        } else {
                m->serving = strdup(cfg->socket_path);
                r = server_listen_path(m->server, cfg->socket_path, &err);
        }
        if (r < 0)
                return log_error_errno(r, "cannot listen: %s", err ? err : strerror(-r));
        m->started_at = time(NULL);
        set_dispatch_context(m);
        return 0;
}

/* ---- the service manager ----------------------------------------------------- */

/*
 * The counts systemctl status shows: devices, leases by state, monitors,
 * connections.  Returns a negative errno when the database does not
 * answer, which is what makes the daemon unhealthy for the watchdog.
 */
static int status_text(struct manager *m, char **ret)
{
        size_t counts[_DB_LEASE_STATE_MAX];
        struct failure f = FAILURE_INIT;
        int r;

        r = engine_lease_counts(m->engine, counts, &f);
        if (r < 0) {
                *ret = strdup_printf("unhealthy: %s", f.message ? f.message : strerror(-r));
                failure_clear(&f);
                return r;
        }
        *ret = strdup_printf("%zu devices; leases: %zu assigned, %zu reserved, %zu assigning, "
                             "%zu releasing; %zu monitors, %zu connections",
                             inventory_dt(m->inv)->n_devices, counts[DB_LEASE_ASSIGNED],
                             counts[DB_LEASE_RESERVED], counts[DB_LEASE_ASSIGNING],
                             counts[DB_LEASE_RELEASING], events_n_subscribers(m->events),
                             server_n_connections(m->server));
        return *ret ? 0 : -ENOMEM;
}

/* Send STATUS= when it changed (and with extra, e.g. READY=1, always); <0 when unhealthy. */
static int notify_status(struct manager *m, const char *extra)
{
        _cleanup_free_ char *text = NULL;
        int r = status_text(m, &text);

        if (!text)
                return -ENOMEM;
        if (extra)
                sd_notifyf(0, "%s\nSTATUS=%s", extra, text);
        else if (!m->status || !streq(m->status, text))
                sd_notifyf(0, "STATUS=%s", text);
        free(m->status);
        m->status = steal_ptr(text);
        return r;
}

/*
 * WatchdogSec=: pinged at half the interval from the event loop, so a
 * loop that is stuck stops the pings; and only while the database
 * answers, so a daemon that can no longer record anything is restarted.
 */
static void on_watchdog(evutil_socket_t fd, short what, void *userdata)
{
        struct manager *m = userdata;

        if (notify_status(m, NULL) >= 0)
                sd_notify(0, "WATCHDOG=1");
        else
                log_error("not pinging the watchdog: %s", m->status ? m->status : "unhealthy");
}

static int start_watchdog(struct manager *m)
{
        struct timeval tv;
        int r;

        r = sd_watchdog_enabled(0, &m->watchdog_usec);
        if (r <= 0) {
                m->watchdog_usec = 0;
                return 0;
        }
        tv.tv_sec = (time_t)(m->watchdog_usec / 2 / 1000000);
        tv.tv_usec = (suseconds_t)(m->watchdog_usec / 2 % 1000000);
        m->watchdog = event_new(m->base, -1, EV_PERSIST, on_watchdog, m);
        if (!m->watchdog || event_add(m->watchdog, &tv) < 0)
                return log_error_errno(-ENOMEM, "cannot start the watchdog timer");
        log_debug("watchdog: pinging every %" PRIu64 " ms", m->watchdog_usec / 2000);
        return 0;
}

/* ---- reloading --------------------------------------------------------------- */

/* Keep a setting that cannot change while running, saying so when the files changed it. */
static void keep_setting(char **now, char **loaded, const char *what)
{
        if (!streq(*now, *loaded))
                log_warning("reload: %s changed from %s to %s: that takes a restart; still "
                            "using %s", what, *now, *loaded, *now);
        free(*loaded);
        *loaded = steal_ptr(*now);
}

static void swap_config(struct config *a, struct config *b)
{
        struct config t = *a;

        *a = *b;
        *b = t;
}

/*
 * SIGHUP: read assignd.conf, its drop-ins and dma.d again, with the same
 * command line on top, and apply them.  Connections, leases and the
 * event bus stay; a configuration that does not load leaves the running
 * one in force.
 */
static int reload(struct manager *m)
{
        _cleanup_(classify_tables_freep) struct classify_tables *tables = NULL;
        _cleanup_(config_clear) struct config next = { 0 };
        _cleanup_free_ char *err = NULL;
        struct engine_options o;
        struct server_limits limits;
        bool changed = false;
        int r;

        /* config_load prints its reasons on stderr, which is the journal's stream too. */
        r = config_load(&next, m->argc, m->argv);
        if (r != 0)
                return log_error_errno(r < 0 ? r : -EINVAL, "reload: the configuration does not "
                                       "load; keeping the running one");
        r = config_resolve(&next, &err);
        if (r < 0)
                return log_error_errno(r, "reload: %s; keeping the running configuration", err);
        r = load_tables(&next, &tables);
        if (r < 0)
                return r;
        r = inventory_reclassify(m->inv, tables, &changed, &err);
        if (r < 0)
                return log_error_errno(r, "reload: cannot classify the inventory with the new "
                                       "DMA tables: %s", err ? err : strerror(-r));
        /* The reclassified inventory is a fresh copy: Xen's dom0 verdicts are asked again. */
        check_dom0_hidden(m);
        classify_tables_free(m->tables);
        m->tables = steal_ptr(tables);

        keep_setting(&m->cfg.db_path, &next.db_path, "Paths.Database");
        keep_setting(&m->cfg.socket_path, &next.socket_path, "Paths.Socket");
        keep_setting(&m->cfg.dtb_path, &next.dtb_path, "the device tree");
        keep_setting(&m->cfg.config_dir, &next.config_dir, "the configuration directory");
        swap_config(&m->cfg, &next);

        o = engine_options_of(&m->cfg, m->guest_dir);
        engine_set_policy_options(m->engine, &o);
        server_limits_of(&m->cfg, &limits);
        raise_fd_limit(&m->cfg);
        server_set_limits(m->server, &limits);
        set_dispatch_context(m);
        if (changed)
                emit_inventory_changed(m, "the DMA tables (dma.d) changed and the inventory was "
                                          "classified again");
        log_info("reloaded the configuration from %s%s", m->cfg.config_dir,
                 changed ? "; the DMA tables changed the inventory" : "");
        return 0;
}

static void on_sighup(evutil_socket_t sig, short what, void *userdata)
{
        struct manager *m = userdata;
        struct timespec ts;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(0, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%" PRIu64,
                   (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
        r = reload(m);
        free(m->status);
        m->status = NULL;
        notify_status(m, "READY=1");
        if (r < 0)
                sd_notifyf(0, "STATUS=reload failed (%s); %s", strerror(-r),
                           m->status ? m->status : "");
}

/* ---- the loop ---------------------------------------------------------------- */

/* The reservations' clock (see MANAGER_TICK_SECONDS), and the status. */
static void on_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct manager *m = userdata;

        /* Outcomes the database refused (disk full, ...) are written again first. */
        engine_record_pending(m->engine);
        if (m->prune_in == 0 || --m->prune_in == 0)
                m->prune_in = engine_prune_history(m->engine, MANAGER_PRUNE_BATCH) >=
                                              MANAGER_PRUNE_BATCH ? 1 : MANAGER_PRUNE_TICKS;
        if (recovery_waiting_for_dying(m->engine)) {
                recovery_domains_changed(m->engine);
        } else {
                reserve_check_all(m->engine);
                adopt_sweep(m->engine, false);
        }
        notify_status(m, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *userdata)
{
        struct manager *m = userdata;

        log_info("received %s, shutting down", strsignal((int)sig));
        sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
        event_base_loopbreak(m->base);
}

static int start_loop_events(struct manager *m)
{
        _cleanup_free_ char *err = NULL;
        int r;

        r = watch_attach(m->watch, m->base, &err);
        if (r < 0)
                log_warning("no domain watch (%s): leases of dead domains are settled at the "
                            "next request", err ? err : strerror(-r));
        m->tick = event_new(m->base, -1, EV_PERSIST, on_tick, m);
        if (!m->tick ||
            event_add(m->tick, &(struct timeval){ .tv_sec = MANAGER_TICK_SECONDS }) < 0)
                return log_error_errno(-ENOMEM, "cannot start the reservation timer");
        m->sigterm = evsignal_new(m->base, SIGTERM, on_signal, m);
        m->sigint = evsignal_new(m->base, SIGINT, on_signal, m);
        m->sighup = evsignal_new(m->base, SIGHUP, on_sighup, m);
        if (!m->sigterm || !m->sigint || !m->sighup || evsignal_add(m->sigterm, NULL) < 0 ||
            evsignal_add(m->sigint, NULL) < 0 || evsignal_add(m->sighup, NULL) < 0)
                return log_error_errno(-ENOMEM, "cannot install signal handlers");
        signal(SIGPIPE, SIG_IGN);
        return start_watchdog(m);
}

int manager_new(struct config *cfg, int argc, char **argv, struct manager **ret)
{
        _cleanup_(manager_freep) struct manager *m = calloc(1, sizeof(*m));
        _cleanup_free_ char *err = NULL;
        int r, rescanned;

        if (!m)
                return log_error_errno(-ENOMEM, "out of memory");
        m->cfg = *cfg;
        *cfg = (struct config){ 0 };
        m->argc = argc;
        m->argv = argv;
        r = config_resolve(&m->cfg, &err);
        if (r < 0)
                return log_error_errno(r, "%s", err ? err : strerror(-r));
        rescanned = open_inventory(m);
        if (rescanned < 0)
                return rescanned;
        r = open_hypervisor(m);
        if (r >= 0)
                r = open_engine(m, rescanned > 0);
        if (r < 0)
                return r;
        m->base = event_base_new();
        if (!m->base)
                return log_error_errno(-ENOMEM, "cannot create the event loop");
        r = open_api(m);
        if (r >= 0)
                r = start_loop_events(m);
        if (r < 0)
                return r;
        *ret = steal_ptr(m);
        return 0;
}

int manager_run(struct manager *m)
{
        log_info("assignd %s serving on %s with the %s backend", ASSIGND_VERSION,
                 m->serving ? m->serving : "the socket systemd passed", m->cfg.hypervisor);
        notify_status(m, "READY=1");
        if (event_base_dispatch(m->base) < 0)
                return log_error_errno(-EIO, "the event loop failed");
        return 0;
}

void manager_free(struct manager *m)
{
        if (!m)
                return;
        /* The server's and the watch's events live in the base: they go first. */
        if (m->sigterm)
                event_free(m->sigterm);
        if (m->sigint)
                event_free(m->sigint);
        if (m->sighup)
                event_free(m->sighup);
        if (m->tick)
                event_free(m->tick);
        if (m->watchdog)
                event_free(m->watchdog);
        server_free(m->server);
        dispatch_free(m->dispatch);
        watch_free(m->watch);
        if (m->base)
                event_base_free(m->base);
        engine_free(m->engine);
        events_free(m->events);
        hv_free(m->hv);
        inventory_free(m->inv);
        classify_tables_free(m->tables);
        db_close(m->db);
        free(m->guest_dir);
        free(m->serving);
        free(m->status);
        config_clear(&m->cfg);
        free(m);
}
