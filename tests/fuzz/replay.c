/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replays a fuzz target's corpus without libFuzzer, so that the normal
 * build (gcc, no -Dfuzz) runs every seed and every named crash input
 * through the same entry point on every test run: a regression brings
 * back the crash, the abort or the sanitizer report it first gave (under
 * valgrind in the valgrind suite).  Arguments are files or directories
 * (their files in name order); an empty corpus is an error, as it would
 * prove nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, n;

        if (!f) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        do {
                if (len == cap) {
                        uint8_t *nb = realloc(buf, cap ? cap * 2 : 65536);

                        if (!nb) {
                                fclose(f);
                                free(buf);
                                return -1;
                        }
                        buf = nb;
                        cap = cap ? cap * 2 : 65536;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
        } while (n > 0);
        fclose(f);
        /* Like libFuzzer: an exactly sized copy, so a read past the end is a read past the input. */
        {
                uint8_t *exact = malloc(len ? len : 1);

                if (!exact) {
                        free(buf);
                        return -1;
                }
                memcpy(exact, buf, len);
                free(buf);
                printf("replaying %s (%zu bytes)\n", path, len);
                fflush(stdout);
                LLVMFuzzerTestOneInput(exact, len);
                free(exact);
        }
        return 0;
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, size_t *count)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0;
        int r = 0;

        if (!d) {
                fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
                return -1;
        }
        while ((e = readdir(d))) {
                char **nn;

                if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)
                        continue;
                nn = realloc(names, (n + 1) * sizeof(*names));
                if (!nn || !(nn[n] = malloc(strlen(dir) + strlen(e->d_name) + 2))) {
                        free(nn ? nn : names);
                        closedir(d);
                        return -1;
                }
                names = nn;
                sprintf(names[n++], "%s/%s", dir, e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), by_name);
        for (size_t i = 0; i < n; i++) {
                if (r == 0 && replay_file(names[i]) == 0)
                        (*count)++;
                else
                        r = -1;
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv)
{
        size_t count = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) < 0
                                        : replay_file(argv[i]) < 0)
                        return 1;
                if (!S_ISDIR(st.st_mode))
                        count++;
        }
        if (count == 0) {
                fprintf(stderr, "replay: no inputs: a corpus must not be empty\n");
                return 1;
        }
        printf("%zu inputs replayed\n", count);
        return 0;
}
