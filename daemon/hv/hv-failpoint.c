/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Failpoints, for tests on either backend: make a hypercall step fail
 * with a chosen errno, or end the process (as kill -9 would) just before
 * the call or just after it succeeded, every time or on its Nth call
 * only.  Armed through the API or from ASSIGND_FAILPOINTS at hv_open(),
 * checked by hv.c's dispatch around each step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv-explain.h"
#include "hv-failpoint.h"
#include "log.h"

/* Report which argument was wrong, then the error. */
static int bad(const char **bad_field, const char *field, int r)
{
        if (bad_field)
                *bad_field = field;
        return r;
}

int hv_set_failpoint(struct hv *hv, const char *step, const char *action,
                     const char **bad_field, char **err)
{
        struct hv_failpoint fp = { 0 };
        _cleanup_free_ char *name = NULL;
        char *colon;
        int s;

        if (!step || !action)
                return bad(bad_field, step ? "action" : "step",
                           set_error(err, -EINVAL, "failpoint needs a step and an action"));
        name = strdup(step);
        if (!name)
                return set_error(err, -ENOMEM, "out of memory");
        colon = strchr(name, ':');
        if (colon) {
                char *end;
                unsigned long n;

                *colon = '\0';
                errno = 0;
                n = strtoul(colon + 1, &end, 10);
                if (*end || errno || n == 0 || n > 1000000)
                        return bad(bad_field, "step",
                                   set_error(err, -EINVAL, "failpoint \"%s\": bad call count",
                                             step));
                fp.nth = (unsigned)n;
        }
        s = hv_step_from_name(name);
        if (s < 0)
                return bad(bad_field, "step",
                           set_error(err, -EINVAL, "unknown failpoint step \"%s\"", name));

        if (streq(action, "off"))
                fp.action = HV_FAILPOINT_OFF;
        else if (streq(action, "crash-before"))
                fp.action = HV_FAILPOINT_CRASH_BEFORE;
        else if (streq(action, "crash-after"))
                fp.action = HV_FAILPOINT_CRASH_AFTER;
        else if (startswith(action, "error:")) {
                int e = hv_errno_from_name(action + 6);

                if (e < 0)
                        return bad(bad_field, "action",
                                   set_error(err, -EINVAL,
                                             "failpoint action \"%s\": unknown errno", action));
                fp.action = HV_FAILPOINT_ERROR;
                fp.err = e;
        } else
                return bad(bad_field, "action",
                           set_error(err, -EINVAL,
                                     "unknown failpoint action \"%s\" (error:ENAME, "
                                     "crash-before, crash-after, off)", action));

        hv_failpoints_of(hv)->step[s] = fp;
        log_debug("hv: failpoint %s%s%u = %s", name, fp.nth ? ":" : "", fp.nth, action);
        return 0;
}

int hv_set_failpoints_from_string(struct hv *hv, const char *spec, char **err)
{
        _cleanup_free_ char *copy = strdup(spec ? spec : "");
        char *save = NULL;

        if (!copy)
                return set_error(err, -ENOMEM, "out of memory");
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(tok, '=');
                int r;

                if (!eq)
                        return set_error(err, -EINVAL, "failpoint \"%s\": expected step=action",
                                         tok);
                *eq = '\0';
                r = hv_set_failpoint(hv, tok, eq + 1, NULL, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int hv_failpoint_enter(struct hv_failpoints *f, enum hv_step s, bool *crash_after, char **err)
{
        struct hv_failpoint *fp = &f->step[s];

        *crash_after = false;
        if (fp->action == HV_FAILPOINT_OFF)
                return 0;
        fp->calls++;
        if (fp->nth && fp->calls != fp->nth)
                return 0;
        switch (fp->action) {
        case HV_FAILPOINT_ERROR:
                return set_error(err, -fp->err, "%s failed: injected %s by a failpoint",
                                 hv_step_name(s), strerrorname_np(fp->err) ?: "error");
        case HV_FAILPOINT_CRASH_BEFORE:
                fflush(NULL);
                _exit(137);
        case HV_FAILPOINT_CRASH_AFTER:
                *crash_after = true;
                return 0;
        case HV_FAILPOINT_OFF:
                break;
        }
        return 0;
}

int hv_failpoint_leave(int r, bool crash_after)
{
        if (crash_after && r >= 0) {
                fflush(NULL);
                _exit(137);
        }
        return r;
}
