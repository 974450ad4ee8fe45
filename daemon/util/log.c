/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The logger (see log.h): one function formats every line, escapes it,
 * and hands it to the journal's native protocol with its fields, or
 * writes it to stderr as text.  The sink is chosen once, at start-up, from
 * what the service manager says about stderr, so a terminal, a test's log
 * file and the journal each get what suits them from the same binary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",     [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice", [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_parse_level(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
                if (name && strcasecmp(name, level_names[i]) == 0)
                        return (int)i;
        if (name && strcasecmp(name, "err") == 0)
                return LOG_ERR;
        return -EINVAL;
}

const char *log_level_name(int level)
{
        if (level < 0 || (size_t)level >= ARRAY_SIZE(level_names))
                return "unknown";
        return level_names[level];
}

void log_set_level(int level)
{
        max_level = level;
}

int log_get_level(void)
{
        return max_level;
}

/* Whether JOURNAL_STREAM ("DEV:INODE") names the file stderr is. */
static bool stderr_is_journal_stream(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char extra;

        if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &extra) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_open(bool foreground)
{
        journal = !foreground && sd_booted() > 0 && stderr_is_journal_stream();
        return journal;
}

bool log_to_journal(void)
{
        return journal;
}

/* ---- fields ------------------------------------------------------------------ */

static void add_owned(struct log_fields *lf, const char *name, char *value)
{
        if (!value)
                return;
        if (lf->n >= ARRAY_SIZE(lf->f)) {
                lf->truncated = true;
                free(value);
                return;
        }
        lf->f[lf->n].name = name;
        lf->f[lf->n].value = value;
        lf->n++;
}

void log_fields_add(struct log_fields *lf, const char *name, const char *value)
{
        if (lf && value)
                add_owned(lf, name, log_escape(value));
}

void log_fields_addf(struct log_fields *lf, const char *name, const char *fmt, ...)
{
        _cleanup_free_ char *raw = NULL;
        va_list ap;
        int r;

        if (!lf)
                return;
        va_start(ap, fmt);
        r = vasprintf(&raw, fmt, ap);
        va_end(ap);
        if (r >= 0)
                log_fields_add(lf, name, raw);
}

void log_fields_add_int(struct log_fields *lf, const char *name, int64_t value)
{
        log_fields_addf(lf, name, "%" PRId64, value);
}

void log_fields_clear(struct log_fields *lf)
{
        if (!lf)
                return;
        for (size_t i = 0; i < lf->n; i++)
                free(lf->f[i].value);
        lf->n = 0;
        lf->truncated = false;
}

/* ---- text -------------------------------------------------------------------- */

char *log_escape(const char *text)
{
        size_t n = 0;
        char *out, *p;

        for (const unsigned char *s = (const unsigned char *)text; *s; s++)
                n += (*s < 0x20 || *s == 0x7f) ? 4 : *s == '\\' ? 2 : 1;
        out = malloc(n + 1);
        if (!out)
                return NULL;
        p = out;
        for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
                if (*s < 0x20 || *s == 0x7f) {
                        p += sprintf(p, "\\x%02x", *s);
                } else if (*s == '\\') {
                        *p++ = '\\';
                        *p++ = '\\';
                } else {
                        *p++ = (char)*s;
                }
        }
        *p = '\0';
        return out;
}

static void write_stderr(int level, const char *msg)
{
        fprintf(stderr, "assignd: %s: %s\n", log_level_name(level), msg);
}

/* "NAME=value" for one iovec (malloc'd), or NULL. */
static char *field(const char *name, const char *value)
{
        return strdup_printf("%s=%s", name, value);
}

/* The whole event to the journal: 0, or a negative errno (then stderr has it). */
static int send_journal(const char *file, int line, int level, const char *message_id,
                        const struct log_fields *lf, const char *msg)
{
        enum { FIXED = 7 };
        struct iovec iov[FIXED + LOG_MAX_FIELDS];
        char *owned[FIXED + LOG_MAX_FIELDS];
        size_t n = 0;
        int r = 0;

        owned[n++] = field("MESSAGE", msg);
        owned[n++] = strdup_printf("PRIORITY=%d", level);
        owned[n++] = strdup("SYSLOG_IDENTIFIER=assignd");
        owned[n++] = strdup_printf("CODE_FILE=%s", file);
        owned[n++] = strdup_printf("CODE_LINE=%d", line);
        if (message_id)
                owned[n++] = field("MESSAGE_ID", message_id);
        if (lf && lf->truncated)
                owned[n++] = strdup("ASSIGND_FIELDS_DROPPED=1");
        for (size_t i = 0; lf && i < lf->n; i++)
                owned[n++] = field(lf->f[i].name, lf->f[i].value);
        for (size_t i = 0; i < n; i++) {
                if (!owned[i]) {
                        r = -ENOMEM;
                        continue;
                }
                iov[i] = (struct iovec){ .iov_base = owned[i], .iov_len = strlen(owned[i]) };
        }
        if (r >= 0)
                r = sd_journal_sendv(iov, (int)n);
        for (size_t i = 0; i < n; i++)
                free(owned[i]);
        return r;
}

void log_event_at(const char *file, int line, int level, const char *message_id,
                  struct log_fields *fields, const char *fmt, ...)
{
        _cleanup_free_ char *raw = NULL, *msg = NULL;
        int saved = errno;
        va_list ap;

        if (level > max_level)
                goto out;
        va_start(ap, fmt);
        if (vasprintf(&raw, fmt, ap) < 0)
                raw = NULL;
        va_end(ap);
        msg = raw ? log_escape(raw) : NULL;
        if (!msg) {
                write_stderr(level, "(out of memory while logging)");
                goto out;
        }
        if (!journal || send_journal(file, line, level, message_id, fields, msg) < 0)
                write_stderr(level, msg);
out:
        log_fields_clear(fields);
        errno = saved;
}
