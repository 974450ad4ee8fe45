/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease state machine (engine/lease-state.c) over a scratch database:
 * every transition the table allows is taken and leaves the lease in the
 * new state with the right target; every other one, creations included,
 * is refused with -EPROTO and leaves the lease as it was.  The table
 * printed in daemon/README.md must be exactly this one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease-state.h"
#include "log.h"
#include "testlib.h"

static char dir[] = "/tmp/test-lease-state-XXXXXX";

static const enum db_lease_state states[] = {
        DB_LEASE_RESERVED, DB_LEASE_ASSIGNING, DB_LEASE_ASSIGNED,
        DB_LEASE_RELEASING, DB_LEASE_FREE, DB_LEASE_FAILED,
};

/* A lease put straight into state s by the database, behind the state machine's back. */
static int64_t lease_in(struct db *db, enum db_lease_state s, int n)
{
        char path[64];
        char *devs[] = { path };
        struct db_lease l = {
                .domain_name = "g",
                .domid = 3,
                .state = s,
                .target_state = DB_LEASE_NONE,
                .devices = devs,
                .n_devices = 1,
                .plan = "{\"layout\":\"identity\",\"steps\":[]}",
        };
        int64_t id = 0;

        snprintf(path, sizeof(path), "/soc/dev@%d", n);
        CHECK_INT(db_lease_create(db, &l, &id), 0);
        return id;
}

static enum db_lease_state state_of(struct db *db, int64_t id)
{
        enum db_lease_state s = DB_LEASE_NONE;

        CHECK_INT(db_lease_get_state(db, id, &s), 0);
        return s;
}

static void test_transitions(struct db *db)
{
        struct plan plan = { 0 };
        size_t taken = 0;
        int n = 0;

        for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
                for (size_t j = 0; j < ARRAY_SIZE(states); j++) {
                        enum db_lease_state from = states[i], to = states[j];
                        bool ok = lease_state_allowed(from, to);
                        int64_t id = lease_in(db, from, n++);
                        struct db_lease l = { 0 };
                        int r = lease_state_change(db, id, to, NULL, "why", "test");

                        if (!ok) {
                                CHECK_MSG(r == -EPROTO, "%s -> %s: %d, expected -EPROTO",
                                          lease_state_name(from), lease_state_name(to), r);
                                CHECK_INT(state_of(db, id), from);
                                continue;
                        }
                        CHECK_MSG(r == 0, "%s -> %s: %d", lease_state_name(from),
                                  lease_state_name(to), r);
                        CHECK(db_lease_get(db, id, &l) == 0);
                        CHECK_INT(l.state, to);
                        CHECK_INT(l.target_state,
                                  to == DB_LEASE_RELEASING ? DB_LEASE_FREE
                                  : to == DB_LEASE_RESERVED || to == DB_LEASE_ASSIGNING
                                          ? DB_LEASE_ASSIGNED
                                          : DB_LEASE_NONE);
                        CHECK_STR(l.error, "why");
                        db_lease_clear(&l);
                        taken++;
                }
        }
        /* Creations: the two ways a lease begins. */
        for (size_t j = 0; j < ARRAY_SIZE(states); j++) {
                char path[64];
                char *devs[] = { path };
                struct db_lease l = { .domain_name = "g", .domid = -1, .state = states[j],
                                      .devices = devs, .n_devices = 1 };
                int64_t id = 0;
                int r;

                snprintf(path, sizeof(path), "/soc/new@%zu", j);
                r = lease_state_create(db, &l, &plan, "test", &id);
                if (lease_state_allowed(LEASE_STATE_NEW, states[j])) {
                        CHECK_MSG(r == 0, "new -> %s: %d", lease_state_name(states[j]), r);
                        CHECK_INT(state_of(db, id), states[j]);
                        taken++;
                } else {
                        CHECK_MSG(r == -EPROTO, "new -> %s: %d, expected -EPROTO",
                                  lease_state_name(states[j]), r);
                }
        }
        /* Every row of the table was taken exactly once: no row is a duplicate. */
        CHECK_INT(taken, lease_state_table_size);
        /* A lease that does not exist has no state to change. */
        CHECK_INT(lease_state_change(db, 12345, DB_LEASE_FREE, NULL, NULL, "test"), -ENOENT);
}

/* daemon/README.md prints the table: "| from | to | why |" rows, exactly these. */
static void test_documented(void)
{
        const char *src = getenv("TEST_SRC_DIR");
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t rows = 0, len = 0;
        FILE *f;

        if (!src) {
                printf("# TEST_SRC_DIR not set: the documented table is not checked\n");
                return;
        }
        path = strdup_printf("%s/../daemon/README.md", src);
        f = path ? fopen(path, "r") : NULL;
        CHECK_MSG(f != NULL, "cannot open %s", path ? path : "daemon/README.md");
        if (!f)
                return;
        text = calloc(1, 256 * 1024);
        len = fread(text, 1, 256 * 1024 - 1, f);
        fclose(f);
        CHECK(len > 0);
        for (size_t i = 0; i < lease_state_table_size; i++) {
                const struct lease_transition *t = &lease_state_table[i];
                _cleanup_free_ char *row = strdup_printf("| %s | %s | %s |",
                                                         lease_state_name(t->from),
                                                         lease_state_name(t->to), t->why);

                CHECK_MSG(row && strstr(text, row), "daemon/README.md lacks the row \"%s\"",
                          row ? row : "?");
        }
        /* And no other transition row: count the rows of the table's section. */
        for (const char *p = strstr(text, "\n| new | "); p; p = strchr(p + 1, '\n')) {
                if (p[1] != '|')
                        break;
                rows++;
        }
        CHECK_MSG(rows == lease_state_table_size, "daemon/README.md has %zu transition rows, "
                  "the table %zu", rows, lease_state_table_size);
}

int main(void)
{
        _cleanup_free_ char *path = NULL, *err = NULL;
        struct db *db = NULL;

        log_set_level(LOG_EMERG);
        if (!mkdtemp(dir))
                TEST_SKIP("cannot create a scratch directory");
        path = strdup_printf("%s/leases.db", dir);
        CHECK_INT(db_open(path, &db, &err), 0);
        if (db) {
                test_transitions(db);
                db_close(db);
        }
        test_documented();
        {
                _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", dir);

                if (cmd && system(cmd) != 0)
                        fprintf(stderr, "# could not remove %s\n", dir);
        }
        printf("lease-state: ");
        return test_done();
}
