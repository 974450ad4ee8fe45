/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignd's entry point: parse options, open the database, bring the
 * inventory up to date with the host device tree, open the hypervisor
 * backend, and serve Varlink until SIGTERM.  Everything it wires together
 * lives in the core library, so the tests exercise the same code.
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

#include "broker.h"
#include "classify.h"
#include "config.h"
#include "db.h"
#include "events.h"
#include "hv.h"
#include "inventory.h"
#include "log.h"
#include "limit.h"
#include "methods.h"
#include "monitor.h"
#include "server.h"
#include "watch.h"

#include "build-config.h"

/*
 * How often reservations are looked at: the domain watch takes them up at
 * once; the tick drops expired ones and catches a domain xl finished
 * granting devices to after it was announced, and, while a held domain is
 * dying, the end Xen may not signal.
 */
#define RESERVATION_TICK_SECONDS 1

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
        struct event_base *base = arg;

        log_info("received %s, shutting down", strsignal(sig));
        event_base_loopbreak(base);
}

static void event_base_freep(struct event_base **b)
{
        if (*b)
                event_base_free(*b);
}

static void event_freep(struct event **e)
{
        if (*e)
                event_free(*e);
}

/* The simulator's default state file sits next to the database. */
static char *default_sim_state(const char *db_path)
{
        _cleanup_free_ char *copy = strdup(db_path);

        if (!copy)
                return NULL;
        return strdup_printf("%s/sim-state.json", dirname(copy));
}

static int open_hypervisor(const struct config *cfg, const struct inventory *inv,
                           struct hv **ret)
{
        _cleanup_free_ const char **protected = NULL;
        _cleanup_free_ char *state = NULL, *err = NULL;
        unsigned maj = 4, min = 17;
        struct hv_options o;
        int r;

        /* What a backend keeps or models; one that asks Xen ignores it. */
        hv_options_init(&o);
        if (!cfg->sim_state) {
                state = default_sim_state(cfg->db_path);
                if (!state)
                        return -ENOMEM;
        }
        sscanf(cfg->sim_xen_version, "%u.%u", &maj, &min);
        o.state_path = cfg->sim_state ? cfg->sim_state : state;
        o.xen_major = maj;
        o.xen_minor = min;
        r = hv_options_set_platform_from_dt(&o, inventory_dt(inv), &protected);
        if (r < 0)
                return r;
        r = hv_open(cfg->hypervisor, &o, ret, &err);
        if (r < 0)
                return log_error_errno(r, "cannot open the %s hypervisor backend: %s",
                                       cfg->hypervisor, err ? err : strerror(-r));
        return 0;
}

/* The reservations' clock: take up or drop reservations (see broker.h). */
static void on_reservation_tick(evutil_socket_t fd, short events, void *arg)
{
        if (broker_waiting_for_dying(arg))
                broker_domains_changed(arg);
        else
                broker_reservations_check(arg);
}

/* Where Reserve writes partial device trees: next to the database. */
static char *default_guest_dir(const char *db_path)
{
        _cleanup_free_ char *copy = strdup(db_path);

        if (!copy)
                return NULL;
        return strdup_printf("%s/guests", dirname(copy));
}

static int make_parent_dir(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        char *dir;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int run(const struct config *cfg)
{
        /* Declared first so it is freed last: the server's events live in it. */
        _cleanup_(event_base_freep) struct event_base *base = NULL;
        _cleanup_(db_closep) struct db *db = NULL;
        _cleanup_(classify_tables_freep) struct classify_tables *tables = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_(hv_freep) struct hv *hv = NULL;
        _cleanup_(events_freep) struct events *events = NULL;
        _cleanup_(broker_freep) struct broker *broker = NULL;
        _cleanup_(watch_freep) struct watch *watch = NULL;
        _cleanup_(methods_freep) struct methods *methods = NULL;
        _cleanup_(server_freep) struct server *server = NULL;
        _cleanup_(event_freep) struct event *sigterm = NULL, *sigint = NULL, *tick = NULL;
        _cleanup_free_ char *err = NULL, *dma_dir = NULL, *guest_dir = NULL;
        struct server_limits limits;
        struct methods_context ctx = {
                .backend = cfg->hypervisor,
                .dtb_path = cfg->dtb_path,
                .access_gid = (gid_t)-1,
                .group_may_write = cfg->group_may_write,
                .started_at = time(NULL),
        };
        struct group *gr;
        bool rescanned = false;
        int r;

        r = make_parent_dir(cfg->db_path);
        if (r < 0)
                return log_error_errno(r, "cannot create the directory of %s: %s", cfg->db_path,
                                       strerror(-r));
        r = db_open(cfg->db_path, &db, &err);
        if (r < 0)
                return log_error_errno(r, "cannot open database %s: %s", cfg->db_path,
                                       err ? err : strerror(-r));

        r = classify_tables_new(&tables);
        if (r < 0)
                return log_error_errno(r, "cannot build the DMA tables: %s", strerror(-r));
        dma_dir = strdup_printf("%s/dma.d", cfg->config_dir);
        if (!dma_dir)
                return -ENOMEM;
        r = classify_tables_load_dir(tables, dma_dir, &err);
        if (r < 0)
                return log_error_errno(r, "cannot load DMA tables from %s: %s", dma_dir,
                                       err ? err : strerror(-r));

        r = inventory_open(db, cfg->dtb_path, tables, &inv, &rescanned, &err);
        if (r < 0)
                return log_error_errno(r, "cannot build the inventory from %s: %s", cfg->dtb_path,
                                       err ? err : strerror(-r));
        log_info("inventory of %s: %zu devices (%s)", cfg->dtb_path,
                 inventory_dt(inv)->n_devices, rescanned ? "rescanned" : "unchanged");

        r = open_hypervisor(cfg, inv, &hv);
        if (r < 0)
                return r;
        {
                struct inventory_dom0_counts c;

                r = inventory_check_dom0_hidden(inv, hv, &c, &err);
                if (r < 0)
                        return log_error_errno(r, "cannot tell the devices Xen set aside for "
                                               "passthrough from dom0's own: %s",
                                               err ? err : strerror(-r));
                if (c.set_aside + c.owned + c.unknown)
                        log_info("disabled in dom0's tree: %u set aside for passthrough, %u "
                                 "dom0's own (SPI routed to dom0), %u without an SPI to tell "
                                 "(need policy)", c.set_aside, c.owned, c.unknown);
        }

        r = events_new(LIMIT_EVENT_RING, &events);
        if (r < 0)
                return log_error_errno(r, "cannot create the event bus: %s", strerror(-r));
        if (rescanned)
                events_emit_lease(events, EVENT_INVENTORY_CHANGED, NULL, 0, -1, NULL, -1, NULL,
                                  NULL, "the device tree changed and was rescanned");

        guest_dir = default_guest_dir(cfg->db_path);
        if (!guest_dir)
                return log_error_errno(-ENOMEM, "out of memory");
        r = broker_new(inv, hv,
                       &(struct broker_options){ .forbid_force = cfg->forbid_force,
                                                 .guest_dir = guest_dir },
                       &broker);
        if (r < 0)
                return log_error_errno(r, "cannot create the broker: %s", strerror(-r));
        broker_set_events(broker, events);
        /* Before serving: no request may see a lease a crash left half-done. */
        r = broker_reconcile(broker, &err);
        if (r < 0)
                return log_error_errno(r, "cannot reconcile the leases: %s",
                                       err ? err : strerror(-r));
        log_info("reconciled leases with the hypervisor: %d changed", r);
        /* Reservations whose domain appeared, or that expired, while we were down. */
        r = broker_reservations_check(broker);
        if (r > 0)
                log_info("reservations: %d changed at start-up", r);
        inventory_set_owner_fn(inv, broker_owner, broker);
        /* After the reconciliation: deaths before it are not news to anyone. */
        r = watch_new(hv, broker, events, &watch, &err);
        if (r < 0)
                return log_error_errno(r, "cannot list the domains: %s",
                                       err ? err : strerror(-r));

        gr = getgrnam(cfg->group);
        if (gr)
                ctx.access_gid = gr->gr_gid;
        else
                log_notice("group '%s' does not exist: only root may use the socket", cfg->group);

        base = event_base_new();
        if (!base)
                return log_error_errno(-ENOMEM, "cannot create the event loop");

        ctx.inv = inv;
        ctx.hv = hv;
        ctx.broker = broker;
        ctx.events = events;
        ctx.watch = watch;
        r = methods_new(&ctx, &methods, &err);
        if (r >= 0)
                r = monitor_register(methods, &err);
        if (r < 0)
                return log_error_errno(r, "cannot set up the Varlink methods: %s",
                                       err ? err : strerror(-r));

        server_limits_default(&limits);
        r = server_new(base, &limits, methods_dispatch, methods, &server);
        if (r < 0)
                return log_error_errno(r, "cannot create the server: %s", strerror(-r));
        if (sd_listen_fds(0) > 0)
                r = server_listen_systemd(server, &err);
        else
                r = server_listen_path(server, cfg->socket_path, &err);
        if (r < 0)
                return log_error_errno(r, "cannot listen: %s", err ? err : strerror(-r));
        ctx.server = server;
        methods_set_context(methods, &ctx);

        r = watch_attach(watch, base, &err);
        if (r < 0) {
                log_warning("no domain watch (%s): leases of dead domains are settled at the "
                            "next request", err ? err : strerror(-r));
                free(err);
                err = NULL;
        }

        tick = event_new(base, -1, EV_PERSIST, on_reservation_tick, broker);
        if (!tick ||
            event_add(tick, &(struct timeval){ .tv_sec = RESERVATION_TICK_SECONDS }) < 0)
                return log_error_errno(-ENOMEM, "cannot start the reservation timer");

        sigterm = evsignal_new(base, SIGTERM, on_signal, base);
        sigint = evsignal_new(base, SIGINT, on_signal, base);
        if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0)
                return log_error_errno(-ENOMEM, "cannot install signal handlers");
        signal(SIGPIPE, SIG_IGN);

        log_info("assignd %s serving on %s with the %s backend", ASSIGND_VERSION,
                 cfg->socket_path, cfg->hypervisor);
        sd_notify(0, "READY=1\nSTATUS=serving");

        if (event_base_dispatch(base) < 0)
                return log_error_errno(-EIO, "the event loop failed");
        sd_notify(0, "STOPPING=1");
        return 0;
}

int main(int argc, char **argv)
{
        struct config cfg;
        int r;

        config_init(&cfg);
        r = config_parse_args(&cfg, argc, argv);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        log_set_level(cfg.log_level);
        log_set_journal_prefix(!cfg.foreground && getenv("JOURNAL_STREAM"));

        r = run(&cfg);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
