/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one table from the engine's failure codes (engine/failure.h) to the
 * Varlink errors declared in proto/io.assignd.Broker.varlink and
 * io.assignd.Simulator.varlink, with the facts each error carries and the
 * level its log line has.  Nothing else in the daemon names an error of
 * those interfaces.
 */
#ifndef ASSIGND_ERRORS_H
#define ASSIGND_ERRORS_H

#include <json-c/json.h>

#include "failure.h"

/* The fully qualified error name of code (InternalError for FAILURE_NONE). */
const char *errors_name(enum failure_code code);
/* The syslog level of the log line of a call that failed with code. */
int errors_log_level(enum failure_code code);
/*
 * The error's parameters: message and the facts the error declares (a
 * fact that is unset is null).  NULL when out of memory.
 */
struct json_object *errors_params(const struct failure *f);

#endif
