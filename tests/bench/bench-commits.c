/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark floor (not a test): what N durable SQLite commits cost a bare
 * program, with the daemon's connection settings (WAL, foreign keys, the
 * synchronous level asked for, a busy timeout) on the file system of
 * DIR.  Each commit is one small row inserted into an indexed table
 * through prepared statements, BEGIN IMMEDIATE and COMMIT included: the
 * least a commit the daemon makes can cost.  bench-pair compares an
 * Assign+Release pair with the commits it makes.
 *
 * Usage: bench-commits DIR N full|normal
 * Prints: "commits N total_us T per_commit_us C synchronous S".
 */
#include <sqlite3.h>

#include "bench-util.h"

static void must(sqlite3 *db, int rc, const char *what)
{
        if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
                bench_die("%s: %s", what, sqlite3_errmsg(db));
}

static void exec(sqlite3 *db, const char *sql)
{
        must(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql);
}

static void step(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
        must(db, sqlite3_step(s), what);
        sqlite3_reset(s);
}

int main(int argc, char **argv)
{
        char path[512], sql[128], side[600];
        sqlite3_stmt *begin, *insert, *commit;
        sqlite3 *db;
        long n;
        double t0 = 0, t;

        if (argc != 4 || (n = atol(argv[2])) < 1 ||
            (strcmp(argv[3], "full") && strcmp(argv[3], "normal"))) {
                fprintf(stderr, "usage: %s DIR N full|normal\n", argv[0]);
                return 2;
        }
        snprintf(path, sizeof(path), "%s/bare-commits.db", argv[1]);
        unlink(path);
        must(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                     SQLITE_OPEN_NOMUTEX, NULL), "open");
        sqlite3_busy_timeout(db, 500);
        exec(db, "PRAGMA journal_mode = WAL");
        snprintf(sql, sizeof(sql), "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s",
                 argv[3]);
        exec(db, sql);
        exec(db, "CREATE TABLE rows (id INTEGER PRIMARY KEY, lease INTEGER NOT NULL, "
                 "what TEXT NOT NULL); CREATE INDEX rows_lease ON rows(lease)");
        must(db, sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT,
                                    &begin, NULL), "prepare");
        must(db, sqlite3_prepare_v3(db, "INSERT INTO rows (lease, what) VALUES (?1, ?2)", -1,
                                    SQLITE_PREPARE_PERSISTENT, &insert, NULL), "prepare");
        must(db, sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &commit, NULL),
             "prepare");
        for (long i = -50; i < n; i++) {
                if (i == 0)
                        t0 = bench_now_us();
                step(db, begin, "begin");
                sqlite3_bind_int64(insert, 1, i / 40);
                sqlite3_bind_text(insert, 2, "step 12 of lease 345 done", -1, SQLITE_STATIC);
                step(db, insert, "insert");
                step(db, commit, "commit");
        }
        t = bench_now_us() - t0;
        printf("commits %ld total_us %.1f per_commit_us %.2f synchronous %s\n", n, t,
               t / (double)n, argv[3]);
        sqlite3_finalize(begin);
        sqlite3_finalize(insert);
        sqlite3_finalize(commit);
        sqlite3_close(db);
        unlink(path);
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
        return 0;
}
