/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the guest generators fed with hostile host DTBs:
 * the input is scanned and classified as the daemon would, then devices
 * are laid out one by one and all together (every layout mode), and each
 * layout that is accepted goes through every generator: the partial DTB
 * (xl and dom0less), the xl.cfg fragment and the ImageBuilder fragment.
 *
 * The oracle (gen-oracle.h), besides the sanitizers: every xl.cfg line is
 * a comment or a setting xl reads as one, every ImageBuilder line a
 * comment or an assignment a shell cannot misread, every note printable
 * ASCII, every DTB accepted by fdt_check_full; and once a layout is
 * accepted, the text generators do not refuse it.  fuzz-guest-mutator.c
 * (linked only into the libFuzzer build) mutates inputs as device trees,
 * so that names, strings and cells change without breaking the structure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-scan.h"
#include "gen-oracle.h"
#include "guestcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Devices tried per input: enough for every shape, few enough to stay fast. */
#define MAX_TRIED 24

static void fail(const char *what, char *why)
{
        fprintf(stderr, "fuzz-guest: %s: %s\n", what, why ? why : "?");
        abort();
}

static void check(const char *what, int r, char *why)
{
        if (r < 0)
                fail(what, why);
        free(why);
}

static void generate(const void *host, const struct guestcfg_layout *l)
{
        for (unsigned flags = 0; flags <= GUESTCFG_DOM0LESS; flags += GUESTCFG_DOM0LESS) {
                void *blob = NULL;
                size_t len = 0;
                char *notes = NULL, *err = NULL, *text = NULL, *why = NULL;
                int r = guestcfg_partial_dtb(host, l, flags, &blob, &len, &notes, &err);

                free(err);
                err = NULL;
                /* A host DT the partial DTB cannot be made from is refused, with a reason. */
                if (r < 0)
                        continue;
                check("partial DTB", oracle_dtb(blob, len, &why), why);
                why = NULL;
                check("notes", oracle_notes(notes, &why), why);
                why = NULL;

                r = guestcfg_xl_config(l, "/var/lib/assignd/guests/fuzz.dtb", notes, &text, &err);
                if (r < 0)
                        fail("xl.cfg refused a layout guestcfg_layout accepted", err);
                check("xl.cfg", oracle_xl_config(text, &why), why);
                why = NULL;
                free(text);
                text = NULL;

                r = guestcfg_imagebuilder(l, 3, "domU3.dtb", "host.dtb", true, &text, &err);
                if (r < 0)
                        fail("ImageBuilder refused a layout guestcfg_layout accepted", err);
                check("ImageBuilder", oracle_imagebuilder(text, &why), why);
                free(text);
                free(notes);
                free(blob);
        }
}

/* Lay devs out in mode and generate everything from it; whether it was accepted. */
static bool lay_out(const void *host, const struct dt_device *const *devs, size_t n,
                    enum guestcfg_mode mode)
{
        struct guestcfg_layout *l = NULL;
        char *err = NULL;
        ssize_t which = -2;
        int r = guestcfg_layout(devs, n, mode, NULL, &l, &which, &err);

        if (r == 0) {
                if (which != -1)
                        fail("layout", "success with a device named as refused");
                generate(host, l);
                guestcfg_layout_free(l);
        } else if (!err && r != -ENOMEM) {
                fail("layout", "a refusal without a reason");
        }
        free(err);
        return r == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct dt_device *tried[MAX_TRIED];
        struct dt_inventory *inv;
        size_t n = 0;
        void *copy = NULL;

        inv = fuzz_scan(data, size, &copy);
        if (!inv) {
                free(copy);
                return 0;
        }
        for (size_t i = 0; i < inv->n_devices && i < 4 * MAX_TRIED && n < MAX_TRIED; i++) {
                const struct dt_device *d = &inv->devices[i];

                if (lay_out(copy, &d, 1, GUESTCFG_AUTO))
                        tried[n++] = d;
        }
        /*
         * Those that fit alone, all at once and in each mode: shared pages,
         * SPIs in common, clashes with Xen's map, the windows filling up.
         */
        if (n > 1)
                for (int mode = GUESTCFG_IDENTITY; mode <= GUESTCFG_AUTO; mode++)
                        lay_out(copy, tried, n, (enum guestcfg_mode)mode);
        dt_inventory_free(inv);
        free(copy);
        return 0;
}
