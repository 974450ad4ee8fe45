/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "Did you mean ...?": the candidate nearest to what the user typed, by
 * edit distance (insertions, deletions, substitutions and swaps of two
 * neighbouring characters each count one), for subcommands, column names
 * and device paths.  A suggestion is made only when it is close enough to
 * be a typo, never merely the least bad of unrelated words; equally near
 * candidates are all named ("/soc/serial@9000000 or /soc/serial@9001000").
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strbuf.h"

/* Longest word compared; longer ones are not typos of anything we know. */
#define SUGGEST_MAX_LEN 255
/* Equally near candidates named at most. */
#define SUGGEST_MAX_TIED 3

static char fold(char c, bool nocase)
{
        return nocase ? (char)tolower((unsigned char)c) : c;
}

size_t suggest_distance(const char *a, const char *b, bool nocase)
{
        size_t la = strlen(a), lb = strlen(b);
        _cleanup_free_ size_t *rows = NULL;
        size_t *prev2, *prev, *cur;

        if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
                return SIZE_MAX;
        /* Three rows of the (la + 1) x (lb + 1) matrix: swaps look two rows back. */
        rows = calloc(3 * (lb + 1), sizeof(size_t));
        if (!rows)
                return SIZE_MAX;
        prev2 = rows;
        prev = prev2 + lb + 1;
        cur = prev + lb + 1;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = fold(a[i - 1], nocase) != fold(b[j - 1], nocase);
                        size_t v = prev[j - 1] + cost;

                        if (prev[j] + 1 < v)
                                v = prev[j] + 1;
                        if (cur[j - 1] + 1 < v)
                                v = cur[j - 1] + 1;
                        if (i > 1 && j > 1 && fold(a[i - 1], nocase) == fold(b[j - 2], nocase) &&
                            fold(a[i - 2], nocase) == fold(b[j - 1], nocase) &&
                            prev2[j - 2] + 1 < v)
                                v = prev2[j - 2] + 1;
                        cur[j] = v;
                }
                /* Rotate the rows: cur becomes prev, prev becomes prev2. */
                {
                        size_t *t = prev2;

                        prev2 = prev;
                        prev = cur;
                        cur = t;
                }
        }
        return prev[lb];
}

char *suggest_nearest(const char *word, const char *const *cands, size_t n, bool nocase)
{
        /* A third of the word may be wrong (two letters of "stauts"), and at least one. */
        size_t limit = strlen(word) / 3 > 1 ? strlen(word) / 3 : 1;
        size_t best = SIZE_MAX, k = 0;
        const char *pick[SUGGEST_MAX_TIED];
        struct strbuf b = STRBUF_INIT;
        char *out = NULL;

        for (size_t i = 0; i < n; i++) {
                size_t d;

                if (!cands[i])
                        continue;
                d = suggest_distance(word, cands[i], nocase);
                if (d < best) {
                        best = d;
                        k = 0;
                }
                if (d == best) {
                        if (k < SUGGEST_MAX_TIED)
                                pick[k] = cands[i];
                        k++;
                }
        }
        /* More equally near candidates than a sentence can name: none is meant. */
        if (k == 0 || k > SUGGEST_MAX_TIED || best == 0 || best > limit)
                return NULL;
        for (size_t i = 0; i < k; i++)
                strbuf_printf(&b, "%s%s", i == 0 ? "" : i + 1 < k ? ", " : " or ", pick[i]);
        if (strbuf_steal(&b, &out) < 0)
                return NULL;
        return out;
}
