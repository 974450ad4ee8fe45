/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Minimal leveled logger.  stderr is the only sink: under systemd it is
 * connected to the journal, which reads the "<N>" prefix as the priority,
 * so no direct journal API is needed and the same binary logs sensibly in
 * a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal_prefix;

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

void log_set_journal_prefix(bool on)
{
        journal_prefix = on;
}

void log_msg(int level, const char *fmt, ...)
{
        va_list ap;
        int saved = errno;

        if (level > max_level)
                return;
        if (journal_prefix)
                fprintf(stderr, "<%d>", level);
        else
                fprintf(stderr, "assignd: %s: ", log_level_name(level));
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        errno = saved;
}
