/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The names of the layout modes, as the Varlink API, assignctl and the
 * generated xl.cfg comment spell them ("1:1" is read as "identity").
 */
#include <errno.h>

#include "guestcfg.h"
#include "util.h"

const char *guestcfg_mode_to_string(enum guestcfg_mode m)
{
        switch (m) {
        case GUESTCFG_IDENTITY:
                return "identity";
        case GUESTCFG_RELOCATE:
                return "relocate";
        case GUESTCFG_AUTO:
                return "auto";
        }
        return NULL;
}

int guestcfg_mode_from_string(const char *s)
{
        if (streq(s, "identity") || streq(s, "1:1"))
                return GUESTCFG_IDENTITY;
        if (streq(s, "relocate"))
                return GUESTCFG_RELOCATE;
        if (streq(s, "auto"))
                return GUESTCFG_AUTO;
        return -EINVAL;
}
