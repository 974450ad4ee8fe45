/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest generators on a host device tree with hostile names
 * (tests/data/hostile/names.dts): a node named `serial\n"evil="`, names
 * that are not UTF-8 or hold shell syntax, compatible strings with a
 * newline, a child and a property whose names hold control characters.
 * Each device is laid out alone; a device whose path is not a plain
 * device-tree path must be refused by name, every other one must give an
 * xl.cfg and an ImageBuilder fragment whose every line is a comment or a
 * setting (tests/fuzz/gen-oracle.h), notes of printable ASCII and DTBs that
 * fdt_check_full() accepts.  The generators' own checks are tried with a
 * layout that did not come from guestcfg_layout, and the oracle itself on
 * the injections it must catch.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "dt.h"
#include "fuzz/gen-oracle.h"
#include "guestcfg.h"
#include "testlib.h"

/* Whether the fixture's device at path may be named in a generated file. */
static bool expect_safe(const char *path)
{
        static const char *const safe[] = {
                "/soc/serial@9000000", "/soc/rtc@9050000", "/soc/gpio@9060000",
        };

        for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
                if (strcmp(safe[i], path) == 0)
                        return true;
        return false;
}

static void check_text(const char *what, const char *path, int (*oracle)(const char *, char **),
                       const char *text)
{
        char *why = NULL;

        CHECK_MSG(oracle(text, &why) == 0, "%s of %s: %s", what, path, why ? why : "?");
        free(why);
}

static void check_dtb(const char *path, const void *blob, size_t len)
{
        char *why = NULL;

        CHECK_MSG(oracle_dtb(blob, len, &why) == 0, "partial DTB of %s: %s", path,
                  why ? why : "?");
        free(why);
}

/* Everything generated for one device must pass the oracle. */
static void generate_all(const void *host, const struct guestcfg_layout *l, const char *path,
                         char **xl_out)
{
        for (unsigned flags = 0; flags <= GUESTCFG_DOM0LESS; flags += GUESTCFG_DOM0LESS) {
                void *blob = NULL;
                size_t len = 0;
                char *notes = NULL, *err = NULL, *xl = NULL, *ib = NULL;
                int r = guestcfg_partial_dtb(host, l, flags, &blob, &len, &notes, &err);

                CHECK_MSG(r == 0, "%s: partial DTB: %s", path, err ? err : "?");
                if (r == 0) {
                        check_dtb(path, blob, len);
                        check_text("notes", path, oracle_notes, notes);
                        r = guestcfg_xl_config(l, "/var/lib/assignd/guests/g.dtb", notes, &xl,
                                               &err);
                        CHECK_MSG(r == 0, "%s: xl.cfg: %s", path, err ? err : "?");
                        if (r == 0)
                                check_text("xl.cfg", path, oracle_xl_config, xl);
                        r = guestcfg_imagebuilder(l, 1, "domU1.dtb", "host.dtb", false, &ib, &err);
                        CHECK_MSG(r == 0, "%s: ImageBuilder: %s", path, err ? err : "?");
                        if (r == 0)
                                check_text("ImageBuilder", path, oracle_imagebuilder, ib);
                }
                if (flags == 0 && xl_out && xl) {
                        *xl_out = xl;
                        xl = NULL;
                }
                free(blob);
                free(notes);
                free(err);
                free(xl);
                free(ib);
        }
}

/* The escaped host strings are in the comments, each on its own line. */
static void check_escapes(const char *path, const char *xl)
{
        if (strcmp(path, "/soc/rtc@9050000") == 0) {
                CHECK_MSG(strstr(xl, "\"arm,pl031\\x0a[evil]=1\" \"vendor,\\xff\\xfe\\xc0\\xaf\""),
                          "rtc: compatible strings not escaped in:\n%s", xl);
        }
        if (strcmp(path, "/soc/gpio@9060000") == 0) {
                CHECK_MSG(strstr(xl, "#   /soc/gpio@9060000/hog\\x0a#x=1\\x1b: interrupts dropped"),
                          "gpio: the child's note is not escaped in:\n%s", xl);
                CHECK_MSG(strstr(xl, "pinctrl-\\x1b[2J"), "gpio: property name not escaped in:\n%s",
                          xl);
        }
}

static void test_each_device(const void *host, const struct dt_inventory *inv)
{
        size_t refused = 0, generated = 0;

        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct dt_device *d = &inv->devices[i];
                const struct dt_device *devs[1] = { d };
                struct guestcfg_layout *l = NULL;
                char *err = NULL, *xl = NULL;
                ssize_t which = -2;
                int r;

                if (d->is_interrupt_controller || strncmp(d->path, "/soc/", 5) != 0)
                        continue;
                r = guestcfg_layout(devs, 1, GUESTCFG_AUTO, NULL, &l, &which, &err);
                if (!expect_safe(d->path)) {
                        refused++;
                        CHECK_MSG(r == -EINVAL, "device %zu with a hostile path was laid out", i);
                        CHECK_INT(which, 0);
                        CHECK_MSG(err && strstr(err, "characters a device-tree node name may not") &&
                                          oracle_printable(err, strlen(err)),
                                  "device %zu: refusal \"%s\" does not say why in ASCII", i,
                                  err ? err : "(null)");
                } else {
                        generated++;
                        CHECK_MSG(r == 0, "%s: %s", d->path, err ? err : "?");
                        if (r == 0)
                                generate_all(host, l, d->path, &xl);
                        if (xl)
                                check_escapes(d->path, xl);
                }
                guestcfg_layout_free(l);
                free(err);
                free(xl);
        }
        CHECK_INT(refused, 5);          /* four hostile device names, and the hog child */
        CHECK_INT(generated, 3);
}

/* One hostile device in a set: the set is refused and the device named by its index. */
static void test_in_a_set(const struct dt_inventory *inv)
{
        const struct dt_device *devs[3] = {
                dt_inventory_find(inv, "/soc/serial@9000000"),
                dt_inventory_find(inv, "/soc/gpio$(reboot)@9030000"),
                dt_inventory_find(inv, "/soc/rtc@9050000"),
        };
        struct guestcfg_layout *l = NULL;
        char *err = NULL;
        ssize_t which = -2;

        CHECK(devs[0] && devs[1] && devs[2]);
        if (!devs[0] || !devs[1] || !devs[2])
                return;
        CHECK_INT(guestcfg_layout(devs, 3, GUESTCFG_RELOCATE, NULL, &l, &which, &err), -EINVAL);
        CHECK_INT(which, 1);
        CHECK(l == NULL);
        free(err);
}

/*
 * The generators do not rely on the layout having refused: a layout whose
 * device was swapped for one with a hostile path is refused by each.
 */
static void test_generators_check(const struct dt_inventory *inv)
{
        const struct dt_device *good = dt_inventory_find(inv, "/soc/serial@9000000");
        const struct dt_device *devs[1] = { good };
        struct dt_device evil;
        struct guestcfg_layout *l = NULL;
        char *err = NULL, *out = NULL;

        CHECK(good != NULL);
        if (!good || guestcfg_layout(devs, 1, GUESTCFG_AUTO, NULL, &l, NULL, &err) < 0) {
                CHECK_MSG(false, "layout of the plain pl011: %s", err ? err : "?");
                free(err);
                return;
        }
        evil = *good;
        evil.path = "/soc/serial\n\"evil=\"";
        evil.coverage = DT_COV_PROTECTED;       /* so that xl.cfg would list it in dtdev */
        l->devices[0].dev = &evil;
        CHECK_INT(guestcfg_xl_config(l, NULL, NULL, &out, &err), -EINVAL);
        CHECK(out == NULL);
        CHECK_MSG(err && !strchr(err, '\n'), "xl.cfg refusal: \"%s\"", err ? err : "(null)");
        free(err);
        err = NULL;
        evil.path = "/soc/gpio$(reboot)@9030000";
        CHECK_INT(guestcfg_imagebuilder(l, 0, "d.dtb", NULL, false, &out, &err), -EINVAL);
        CHECK(out == NULL);
        free(err);
        err = NULL;

        /* File names from the caller: the same rules. */
        l->devices[0].dev = good;
        CHECK_INT(guestcfg_xl_config(l, "/g/x\r.dtb", NULL, &out, &err), -EINVAL);
        free(err);
        err = NULL;
        CHECK_INT(guestcfg_xl_config(l, "/g/x\".dtb", NULL, &out, &err), -EINVAL);
        free(err);
        err = NULL;
        CHECK_INT(guestcfg_imagebuilder(l, 0, "my domU.dtb", NULL, false, &out, &err), -EINVAL);
        free(err);
        err = NULL;
        CHECK_INT(guestcfg_imagebuilder(l, 0, "d.dtb", "host\t.dtb", false, &out, &err), -EINVAL);
        free(err);
        err = NULL;
        /* Notes handed in with a newline and raw bytes still come out as comment lines. */
        CHECK_INT(guestcfg_xl_config(l, NULL, "a: one\nb: two\x1b]0;\xff\n", &out, &err), 0);
        check_text("xl.cfg with raw notes", "(notes)", oracle_xl_config, out);
        free(out);
        free(err);
        guestcfg_layout_free(l);
}

/* The oracle catches what it is there to catch. */
static void test_oracle(void)
{
        static const char *const bad_xl[] = {
                "irqs = [ 33 ]\n\"evil=\"\n",
                "# /soc/serial\n\"evil=\"\n",
                "evil = \"x\"\n",
                "irqs = [ 33 ]\nirqs = [ 34 ]\n",
                "dtdev = [ \"/soc/a\\\"\" ]\n",
                "dtdev = [ \"/a\" \"/b\" ]\n",
                "device_tree = \"/g/x.dtb\n",
                "# comment with \x1b[2J\n",
                "iomem = [ \"0x1,0x1@0x1\" ]",
                "nr_spis = 1x\n",
        };
        static const char *const bad_ib[] = {
                "DOMU_PASSTHROUGH_PATHS[0]=\"/soc/$(reboot)\"\n",
                "DOMU_PASSTHROUGH_DTB[0]=\"a\" ; reboot\n",
                "reboot\n",
                "DOMU_PASSTHROUGH_DTB[]=\"a\"\n",
        };
        char *why = NULL;

        CHECK_INT(oracle_xl_config("# x\n\npassthrough = \"enabled\"\ndtdev = [ \"/a\", \"/b@1\" ]\n"
                                   "irqs = [ 33, 34 ]\niomem = [ \"0x9000,0x1@0x9000\" ]\n"
                                   "nr_spis = 3\nname = \"caf\xc3\xa9\"\n",
                                   &why),
                  0);
        free(why);
        why = NULL;
        for (size_t i = 0; i < sizeof(bad_xl) / sizeof(bad_xl[0]); i++) {
                CHECK_MSG(oracle_xl_config(bad_xl[i], &why) < 0, "xl oracle took case %zu", i);
                free(why);
                why = NULL;
        }
        CHECK_INT(oracle_imagebuilder("# c\nDOMU_PASSTHROUGH_DTB[12]=\"d.dtb\"\n"
                                      "DOMU_PASSTHROUGH_PATHS[12]=\"/a /b@1\"\n",
                                      &why),
                  0);
        free(why);
        why = NULL;
        for (size_t i = 0; i < sizeof(bad_ib) / sizeof(bad_ib[0]); i++) {
                CHECK_MSG(oracle_imagebuilder(bad_ib[i], &why) < 0, "ImageBuilder oracle took case %zu",
                          i);
                free(why);
                why = NULL;
        }
}

int main(void)
{
        const char *dir = getenv("TEST_DATA_DIR");
        char path[4096];
        struct classify_tables *tables = NULL;
        struct dt_inventory *inv = NULL;
        void *blob = NULL;
        size_t len = 0;
        char *err = NULL;

        test_oracle();
        if (!dir)
                TEST_SKIP("TEST_DATA_DIR is not set (run through meson test)");
        snprintf(path, sizeof(path), "%s/hostile-names.dtb", dir);
        CHECK_MSG(dt_read_file(path, &blob, &len, &err) == 0, "%s: %s", path, err ? err : "?");
        CHECK_MSG(blob && dt_scan(blob, len, &inv, &err) == 0, "%s: %s", path, err ? err : "?");
        CHECK(classify_tables_new(&tables) == 0);
        if (inv && tables && classify_inventory(inv, tables) == 0) {
                check_dtb("the host fixture", blob, len);
                test_each_device(blob, inv);
                test_in_a_set(inv);
                test_generators_check(inv);
        }
        dt_inventory_free(inv);
        classify_tables_free(tables);
        free(blob);
        free(err);
        return test_done();
}
