/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging for the daemon.  Messages go to stderr with the "<N>" syslog
 * priority prefix that journald understands when the daemon runs under
 * systemd, and as plain "assignd: level: text" lines in the foreground.
 * Library-like modules (dt, db, proto) only log at debug level; the
 * dispatch layer reports each request's outcome once.
 */
#ifndef ASSIGND_LOG_H
#define ASSIGND_LOG_H

#include <syslog.h>

#include "util.h"

int log_parse_level(const char *name);          /* -EINVAL if unknown */
const char *log_level_name(int level);
void log_set_level(int level);
void log_set_journal_prefix(bool on);           /* "<N>" prefixes for journald */

_printf_(2, 3) void log_msg(int level, const char *fmt, ...);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

/* Log at level and return r (a negative errno), for "log and fail" paths. */
#define log_error_errno(r, ...) ({ log_msg(LOG_ERR, __VA_ARGS__); (r); })

#endif
