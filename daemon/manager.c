/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's objects and their wiring (see manager.h).
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct manager {
        const struct config *cfg;
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
        struct event *tick, *sigterm, *sigint;
        char *guest_dir;
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

static int open_inventory(struct manager *m)
{
        const struct config *cfg = m->cfg;
        _cleanup_free_ char *err = NULL, *dma_dir = NULL;
        bool rescanned = false;
        int r;

        r = make_parent_dir(cfg->db_path);
        if (r < 0)
                return log_error_errno(r, "cannot create the directory of %s: %s", cfg->db_path,
                                       strerror(-r));
        r = db_open(cfg->db_path, &m->db, &err);
        if (r < 0)
                return log_error_errno(r, "cannot open database %s: %s", cfg->db_path,
                                       err ? err : strerror(-r));
        r = classify_tables_new(&m->tables);
        if (r < 0)
                return log_error_errno(r, "cannot build the DMA tables: %s", strerror(-r));
        dma_dir = strdup_printf("%s/dma.d", cfg->config_dir);
        if (!dma_dir)
                return log_error_errno(-ENOMEM, "out of memory");
        r = classify_tables_load_dir(m->tables, dma_dir, &err);
        if (r < 0)
                return log_error_errno(r, "cannot load DMA tables from %s: %s", dma_dir,
                                       err ? err : strerror(-r));
        r = inventory_open(m->db, cfg->dtb_path, m->tables, &m->inv, &rescanned, &err);
        if (r < 0)
                return log_error_errno(r, "cannot build the inventory from %s: %s", cfg->dtb_path,
                                       err ? err : strerror(-r));
        log_info("inventory of %s: %zu devices (%s)", cfg->dtb_path,
                 inventory_dt(m->inv)->n_devices, rescanned ? "rescanned" : "unchanged");
        return rescanned;
}

static int open_hypervisor(struct manager *m)
{
        const struct config *cfg = m->cfg;
        _cleanup_free_ char *state = NULL, *err = NULL;
        _cleanup_free_ const char **protected = NULL;
        struct inventory_dom0_counts c;
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

static int open_engine(struct manager *m, bool rescanned)
{
        _cleanup_free_ char *err = NULL;
        int r;

        r = events_new(LIMIT_EVENT_RING, &m->events);
        if (r < 0)
                return log_error_errno(r, "cannot create the event bus: %s", strerror(-r));
        if (rescanned) {
                struct event ev = EVENT_INIT(EVENT_INVENTORY_CHANGED);

                ev.detail = "the device tree changed and was rescanned";
                events_emit(m->events, &ev);
        }
        m->guest_dir = next_to(m->cfg->db_path, "guests");
        if (!m->guest_dir)
                return log_error_errno(-ENOMEM, "out of memory");
        r = engine_new(m->inv, m->hv,
                       &(struct engine_options){ .forbid_force = m->cfg->forbid_force,
                                                 .guest_dir = m->guest_dir },
                       &m->engine);
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

static int open_api(struct manager *m)
{
        const struct config *cfg = m->cfg;
        _cleanup_free_ char *err = NULL;
        struct server_limits limits;
        struct dispatch_context ctx = {
                .inv = m->inv,
                .engine = m->engine,
                .hv = m->hv,
                .events = m->events,
                .watch = m->watch,
                .backend = hv_backend_name(m->hv),
                .dtb_path = cfg->dtb_path,
                .access_gid = (gid_t)-1,
                .group_may_write = cfg->group_may_write,
                .started_at = time(NULL),
        };
        struct group *gr = getgrnam(cfg->group);
        int r;

        if (gr)
                ctx.access_gid = gr->gr_gid;
        else
                log_notice("group '%s' does not exist: only root may use the socket", cfg->group);
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
        server_limits_default(&limits);
        r = server_new(m->base, &limits, dispatch_call, m->dispatch, &m->server);
        if (r < 0)
                return log_error_errno(r, "cannot create the server: %s", strerror(-r));
        if (sd_listen_fds(0) > 0)
                r = server_listen_systemd(m->server, &err);
        else
                r = server_listen_path(m->server, cfg->socket_path, &err);
        if (r < 0)
                return log_error_errno(r, "cannot listen: %s", err ? err : strerror(-r));
        ctx.server = m->server;
        dispatch_set_context(m->dispatch, &ctx);
        return 0;
}

/* The reservations' clock (see MANAGER_TICK_SECONDS). */
static void on_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct engine *e = userdata;

        /* Outcomes the database refused (disk full, ...) are written again first. */
        engine_record_pending(e);
        if (recovery_waiting_for_dying(e)) {
                recovery_domains_changed(e);
        } else {
                reserve_check_all(e);
                adopt_sweep(e, false);
        }
}

static void on_signal(evutil_socket_t sig, short what, void *userdata)
{
        log_info("received %s, shutting down", strsignal(sig));
        event_base_loopbreak(userdata);
}

static int start_loop_events(struct manager *m)
{
        _cleanup_free_ char *err = NULL;
        int r;

        r = watch_attach(m->watch, m->base, &err);
        if (r < 0)
                log_warning("no domain watch (%s): leases of dead domains are settled at the "
                            "next request", err ? err : strerror(-r));
        m->tick = event_new(m->base, -1, EV_PERSIST, on_tick, m->engine);
        if (!m->tick ||
            event_add(m->tick, &(struct timeval){ .tv_sec = MANAGER_TICK_SECONDS }) < 0)
                return log_error_errno(-ENOMEM, "cannot start the reservation timer");
        m->sigterm = evsignal_new(m->base, SIGTERM, on_signal, m->base);
        m->sigint = evsignal_new(m->base, SIGINT, on_signal, m->base);
        if (!m->sigterm || !m->sigint || evsignal_add(m->sigterm, NULL) < 0 ||
            evsignal_add(m->sigint, NULL) < 0)
                return log_error_errno(-ENOMEM, "cannot install signal handlers");
        signal(SIGPIPE, SIG_IGN);
        return 0;
}

int manager_new(const struct config *cfg, struct manager **ret)
{
        _cleanup_(manager_freep) struct manager *m = calloc(1, sizeof(*m));
        int r, rescanned;

        if (!m)
                return log_error_errno(-ENOMEM, "out of memory");
        m->cfg = cfg;
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
                 m->cfg->socket_path, m->cfg->hypervisor);
        sd_notify(0, "READY=1\nSTATUS=serving");
        if (event_base_dispatch(m->base) < 0)
                return log_error_errno(-EIO, "the event loop failed");
        sd_notify(0, "STOPPING=1");
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
        if (m->tick)
                event_free(m->tick);
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
        free(m);
}
