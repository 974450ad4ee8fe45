/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal assertion helper for the C unit tests.  Each CHECK prints the
 * failing expression with its location and counts; test_done() turns the
 * count into the exit status meson reads (0 pass, 1 fail, 77 skip).
 */
#ifndef ASSIGND_TESTLIB_H
#define ASSIGND_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                              \
        do {                                                                     \
                test_checks++;                                                   \
                if (!(cond)) {                                                   \
                        test_failures++;                                         \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,   \
                                __LINE__, #cond);                                \
                }                                                                \
        } while (0)

#define CHECK_MSG(cond, ...)                                                     \
        do {                                                                     \
                test_checks++;                                                   \
                if (!(cond)) {                                                   \
                        test_failures++;                                         \
                        fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__,   \
                                __LINE__, #cond);                                \
                        fprintf(stderr, __VA_ARGS__);                            \
                        fputc('\n', stderr);                                     \
                }                                                                \
        } while (0)

#define CHECK_INT(a, b)                                                          \
        do {                                                                     \
                long long _a = (long long)(a), _b = (long long)(b);              \
                CHECK_MSG(_a == _b, "%s = %lld, expected %lld", #a, _a, _b);     \
        } while (0)

#define CHECK_STR(a, b)                                                          \
        do {                                                                     \
                const char *_a = (a), *_b = (b);                                 \
                CHECK_MSG(_a && _b && strcmp(_a, _b) == 0, "%s = \"%s\", expected \"%s\"", \
                          #a, _a ? _a : "(null)", _b ? _b : "(null)");           \
        } while (0)

/* Exit 77 (meson's "skipped") with a reason. */
#define TEST_SKIP(...)                                                           \
        do {                                                                     \
                printf("SKIP: ");                                                \
                printf(__VA_ARGS__);                                             \
                printf("\n");                                                    \
                exit(77);                                                        \
        } while (0)

static inline int test_done(void)
{
        printf("%d checks, %d failed\n", test_checks, test_failures);
        return test_failures ? 1 : 0;
}

#endif
