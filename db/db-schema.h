/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ordered migrations that db_open() applies; see db-schema.c.
 */
#ifndef ASSIGND_DB_SCHEMA_H
#define ASSIGND_DB_SCHEMA_H

#include <stddef.h>

extern const char *const db_migrations[];
extern const size_t db_n_migrations;

#endif
