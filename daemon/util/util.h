/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers shared by every module: scope-bound cleanup, ownership
 * transfer and bounded string building.  Kept header-only so that the
 * library-like modules (dt, db, proto) can use them without pulling in
 * anything else.
 */
#ifndef ASSIGND_UTIL_H
#define ASSIGND_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand an owned pointer out of a cleanup scope. */
#define steal_ptr(p)                              \
        ({                                        \
                __typeof__(p) _tmp_ = (p);        \
                (p) = NULL;                       \
                _tmp_;                            \
        })

#define steal_fd(fd)                              \
        ({                                        \
                int _tmpfd_ = (fd);               \
                (fd) = -1;                        \
                _tmpfd_;                          \
        })

/* Declare a NULL-safe cleanup wrapper for a type's _free() function. */
#define DEFINE_FREE_FUNC(type, func)                       \
        static inline void func##p(type **p)               \
        {                                                  \
                if (*p)                                    \
                        func(*p);                          \
        }

static inline bool streq(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

static inline bool startswith(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* asprintf that returns NULL instead of leaving the pointer undefined. */
_printf_(1, 2) static inline char *strdup_printf(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

/*
 * Set *err to a newly allocated message (if err is non-NULL and no message
 * is set yet) and return r, which must be a negative errno.  Used by
 * library-like modules that report "what went wrong" to the caller
 * instead of logging.
 */
_printf_(3, 4) static inline int set_error(char **err, int r, const char *fmt, ...)
{
        va_list ap;

        if (err && !*err) {
                va_start(ap, fmt);
                if (vasprintf(err, fmt, ap) < 0)
                        *err = NULL;
                va_end(ap);
        }
        return r;
}

/* Grow an array of n elements to hold at least one more; -ENOMEM on failure. */
static inline int grow_array(void **arr, size_t *cap, size_t n, size_t elsz)
{
        size_t ncap;
        void *p;

        if (n < *cap)
                return 0;
        ncap = *cap ? *cap * 2 : 8;
        if (ncap > SIZE_MAX / elsz)
                return -ENOMEM;
        p = realloc(*arr, ncap * elsz);
        if (!p)
                return -ENOMEM;
        *arr = p;
        *cap = ncap;
        return 0;
}
#define GROW(arr, cap, n) grow_array((void **)&(arr), &(cap), (n), sizeof(*(arr)))

#endif
