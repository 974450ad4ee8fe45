/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine object as its own files see it.  Not for use outside
 * daemon/engine/.
 */
#ifndef ASSIGND_ENGINE_PRIVATE_H
#define ASSIGND_ENGINE_PRIVATE_H

#include "engine.h"
#include "events.h"

struct engine {
        struct inventory *inv;
        struct hv *hv;
        struct db *db;
        struct engine_options opts;
        struct events *events;
        bool dying_domains;     /* a lease's domain was dying at the last settle */
};

/*
 * Tell monitors about lease id as it is now in the database: its devices,
 * domain and state, with cause and detail (either may be NULL).
 */
void engine_emit_lease(struct engine *e, enum event_type type, int64_t id, const char *cause,
                       const char *detail);

#endif
