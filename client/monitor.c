/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl monitor: follow the daemon's event stream (Monitor with
 * "more") until interrupted, one line per event for people or one JSON
 * object per line with --json, flushed at once so a pipe sees each event
 * when it happens.  The stream ends only when the daemon ends it: with an
 * error (ResyncRequired, MonitorOverflow: exit 1, the message says what to
 * do) or by going away (exit 3).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

enum { MON_OPT_SINCE, MON_OPT_BOOT_ID };

/* "2026-11-21 00:01:02.123" in UTC, from microseconds since the epoch. */
static void fmt_usec(int64_t usec, char *buf, size_t len)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        size_t n;

        if (usec < 0 || !gmtime_r(&t, &tm) ||
            (n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
                snprintf(buf, len, "?");
                return;
        }
        snprintf(buf + n, len - n, ".%03dZ", (int)(usec % 1000000 / 1000));
}

static void print_event(struct json_object *ev)
{
        struct json_object *devs = jv_get_array(ev, "devices");
        const char *domain = jv_get_str(ev, "domain", NULL);
        int64_t domid = jv_get_int(ev, "domid", -1), lease = jv_get_int(ev, "lease", -1);
        char when[48];

        fmt_usec(jv_get_int(ev, "time_usec", -1), when, sizeof(when));
        printf("#%" PRId64 " %s %s", jv_get_int(ev, "seq", 0), when, jv_get_str(ev, "type", "?"));
        if (domain && domid >= 0)
                printf(" domain %s (%" PRId64 ")", domain, domid);
        else if (domain)
                printf(" domain %s", domain);
        else if (domid >= 0)
                printf(" domain %" PRId64, domid);
        if (lease >= 0)
                printf(" lease %" PRId64, lease);
        if (jv_get_str(ev, "cause", NULL))
                printf(" cause %s", jv_get_str(ev, "cause", ""));
        if (jv_get_str(ev, "state", NULL))
                printf(" state %s", jv_get_str(ev, "state", ""));
        for (size_t i = 0; devs && i < json_object_array_length(devs); i++)
                printf("%s%s", i ? ", " : ": ",
                       json_object_get_string(json_object_array_get_idx(devs, i)));
        if (jv_get_str(ev, "detail", NULL))
                printf(" (%s)", jv_get_str(ev, "detail", ""));
        putchar('\n');
}

int cmd_monitor(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *params = json_object_new_object();
        const char *since = args->opt[MON_OPT_SINCE];
        bool more = false;
        int r;

        if (!params) {
                fprintf(stderr, "assignctl: out of memory\n");
                return CTL_EXIT_REFUSED;
        }
        if (since) {
                char *end;
                long long n;

                errno = 0;
                n = strtoll(since, &end, 10);
                if (!*since || *end || errno || n < 0) {
                        json_object_put(params);
                        return ctl_usage_error("monitor: --since needs an event number "
                                               "(0 or more), not '%s'", since);
                }
                json_object_object_add(params, "since", json_object_new_int64(n));
        }
        if (args->opt[MON_OPT_BOOT_ID])
                json_object_object_add(params, "boot_id",
                                       json_object_new_string(args->opt[MON_OPT_BOOT_ID]));

        /* The daemon going away must end the stream with a message, not SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        r = ctl_stream(ctl, "Monitor", params, &more, NULL);
        json_object_put(params);
        if (r != CTL_EXIT_OK)
                return r;
        for (;;) {
                struct json_object *reply = NULL, *ev;

                r = ctl_stream(ctl, NULL, NULL, &more, &reply);
                if (r != CTL_EXIT_OK)
                        return r;
                if (!reply) {
                        fprintf(stderr, "assignctl: the daemon ended the event stream\n");
                        return CTL_EXIT_OK;
                }
                ev = jv_get_object(reply, "event");
                if (!ev) {
                        /* The opening reply: where the stream starts. */
                        if (!ctl->json)
                                fprintf(stderr, "monitoring events after #%" PRId64
                                        " (boot ID %s); interrupt to stop\n",
                                        jv_get_int(reply, "latest", 0), jv_get_str(reply, "boot_id", "?"));
                } else if (ctl->json) {
                        /* Like every other output: a path keeps its slashes unescaped. */
                        puts(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
                } else {
                        print_event(ev);
                }
                fflush(stdout);
                json_object_put(reply);
        }
}
