/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging for the daemon.  Under systemd, when stderr is the journal's
 * stream (JOURNAL_STREAM names it), every line goes to the journal through
 * its native protocol with a priority and, for the events an administrator
 * looks for, a MESSAGE_ID and ASSIGND_* fields (log_event); anywhere else
 * it is a plain "assignd: level: text" line on stderr.  The callers do not
 * know which: the engine and the api describe events in C and never talk
 * to the journal themselves.  Control characters in any text are escaped,
 * so a device path or domain name cannot forge a log line.
 *
 * Library-like modules (dt, db, proto) only log at debug level; the
 * dispatch layer reports each request's outcome once.
 */
#ifndef ASSIGND_LOG_H
#define ASSIGND_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#include "util.h"

/*
 * The MESSAGE_ID of each kind of event, one per line of the journal
 * catalog (systemd/assignd.catalog, which a test checks against this list).
 */
#define LOG_MESSAGE_ASSIGNED "97750e0d0f01488c9a83cfe0a1d84b14"
#define LOG_MESSAGE_RELEASED "67bdea89f2a74c308efb4f9a81d2325e"
#define LOG_MESSAGE_REFUSED "b7278fab4341465191b8a8aa0fb2c5a3"
#define LOG_MESSAGE_FORCED_UNPROTECTED "a5fa8640db7e40babbc390c04b0ef49c"
#define LOG_MESSAGE_RESERVATION_BOUND "edb31efcbf8f48cbbbd2a8b530c3a170"
#define LOG_MESSAGE_RESERVATION_EXPIRED "82bb29c6c42c49abb6821ca28b6635d8"
#define LOG_MESSAGE_RESERVATION_MISMATCH "a6d101bf97634b2f9888a5877caa8827"
#define LOG_MESSAGE_DOMAIN_DIED "10cff2743e1e4f33a973c65dbc841791"
#define LOG_MESSAGE_RECONCILED "2014c386c14b48daa13e1abeb19ebd71"
#define LOG_MESSAGE_PERMISSION_DENIED "b8aafd5a8cd049128050e3e14bf69334"
#define LOG_MESSAGE_STORAGE_ERROR "70bbd56710f644f2a8403470d5bc1790"
#define LOG_MESSAGE_HELD_OUTSIDE "0871527aeb4248e287aef3c1258c6deb"
#define LOG_MESSAGE_STANDING_REFUSED "d9bd8efaed5c45619090e3db6e8643e3"

/* The structured fields events carry (journalctl ASSIGND_DOMID=3 ...). */
#define LOG_FIELD_DEVICE "ASSIGND_DEVICE"
#define LOG_FIELD_DOMID "ASSIGND_DOMID"
#define LOG_FIELD_DOMAIN "ASSIGND_DOMAIN"
#define LOG_FIELD_LEASE "ASSIGND_LEASE"
#define LOG_FIELD_UID "ASSIGND_UID"
#define LOG_FIELD_ERROR "ASSIGND_ERROR"

/* At most this many fields per event; more are dropped (and said so). */
#define LOG_MAX_FIELDS 64

/*
 * The fields of one event, filled with log_fields_add*; a field with no
 * value (NULL text) is left out, and a name may repeat (one
 * ASSIGND_DEVICE= per device).  Values are copied.
 */
struct log_fields {
        size_t n;
        bool truncated;
        struct {
                const char *name;       /* a string literal */
                char *value;
        } f[LOG_MAX_FIELDS];
};
#define LOG_FIELDS_INIT { .n = 0 }
void log_fields_add(struct log_fields *lf, const char *name, const char *value);
_printf_(3, 4) void log_fields_addf(struct log_fields *lf, const char *name, const char *fmt, ...);
void log_fields_add_int(struct log_fields *lf, const char *name, int64_t value);
void log_fields_clear(struct log_fields *lf);

int log_parse_level(const char *name);          /* -EINVAL if unknown */
const char *log_level_name(int level);
void log_set_level(int level);
int log_get_level(void);

/*
 * Choose the sink: the journal when not forced to the foreground, booted
 * with systemd (sd_booted) and stderr is the stream JOURNAL_STREAM names;
 * stderr text otherwise.  Returns true when the journal was chosen.
 */
bool log_open(bool foreground);
bool log_to_journal(void);

/*
 * An event: message_id one of LOG_MESSAGE_* (NULL: a plain message),
 * fields its ASSIGND_* fields (NULL: none; cleared afterwards).  Logged
 * when level passes the threshold; a journal write that fails falls back
 * to stderr.  errno is preserved.
 */
_printf_(6, 7) void log_event_at(const char *file, int line, int level, const char *message_id,
                                 struct log_fields *fields, const char *fmt, ...);
#define log_event(level, message_id, fields, ...) \
        log_event_at(__FILE__, __LINE__, (level), (message_id), (fields), __VA_ARGS__)

#define log_msg(level, ...) log_event_at(__FILE__, __LINE__, (level), NULL, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

/* Log at level and return r (a negative errno), for "log and fail" paths. */
#define log_error_errno(r, ...) ({ log_msg(LOG_ERR, __VA_ARGS__); (r); })

/*
 * text with every control character (and DEL) written as \xNN and a
 * backslash as \\, so one log line stays one line whatever a request
 * carried (malloc'd; NULL when out of memory).
 */
char *log_escape(const char *text);

#endif
