/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Failpoints between hv.c and hv-failpoint.c: the per-hv table hv.c keeps
 * in struct hv, and the two calls its dispatch makes around every
 * hypercall step.  The API that arms them (hv_set_failpoint and friends)
 * is in hv.h; nothing outside hv.c and hv-failpoint.c includes this file.
 */
#ifndef ASSIGND_HV_FAILPOINT_H
#define ASSIGND_HV_FAILPOINT_H

#include <stdbool.h>

#include "hv.h"

enum hv_failpoint_action {
        HV_FAILPOINT_OFF,
        HV_FAILPOINT_ERROR,
        HV_FAILPOINT_CRASH_BEFORE,
        HV_FAILPOINT_CRASH_AFTER,
};

struct hv_failpoint {
        enum hv_failpoint_action action;
        int err;                /* positive errno for HV_FAILPOINT_ERROR */
        unsigned nth;           /* 0: every call; else only the nth */
        unsigned calls;         /* calls seen since armed */
};

struct hv_failpoints {
        struct hv_failpoint step[HV_STEP__MAX];
};

/* The table of hv (hv.c owns it). */
struct hv_failpoints *hv_failpoints_of(struct hv *hv);

/*
 * Called before each step.  Returns 0 to go on, or the injected negative
 * errno to fail without calling the backend; *crash_after tells the
 * caller to pass the call's result through hv_failpoint_leave().
 */
int hv_failpoint_enter(struct hv_failpoints *f, enum hv_step s, bool *crash_after, char **err);
/* Exit as a crash would if the step's call succeeded and crash_after is set; else r. */
int hv_failpoint_leave(int r, bool crash_after);

#endif
