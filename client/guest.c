/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignctl's guest-side commands: dtb, xl-config and imagebuilder (which
 * only generate files from the daemon's inventory) and reserve and cancel
 * (toolstack mode: hold devices for a domain xl is about to create).
 *
 * They exist so that going from "assignctl list" to a booting guest takes
 * two commands: "assignctl reserve NAME PATH... >> NAME.cfg" (or xl-config
 * with --dtb-out, which reserves nothing) and "xl create NAME.cfg".  The
 * daemon sends the partial device tree in base64; the files written here
 * get mode 0644 whatever the umask, because xl reads them as root and the
 * user inspects them as anyone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

static const char *const layouts[] = { "identity", "relocate", "auto", NULL };

static int b64_value(int c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Decode standard base64 (with padding); NULL if it is not that. */
static uint8_t *b64_decode(const char *s, size_t *ret_len)
{
        size_t n = strlen(s), len = 0;
        uint8_t *out;

        if (n % 4)
                return NULL;
        out = malloc(n / 4 * 3 + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 4) {
                int v[4];

                for (int k = 0; k < 4; k++) {
                        v[k] = s[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64_value(s[i + k]);
                        if (v[k] < 0) {
                                free(out);
                                return NULL;
                        }
                }
                out[len++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
                if (s[i + 2] != '=')
                        out[len++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
                if (s[i + 3] != '=')
                        out[len++] = (uint8_t)(v[2] << 6 | v[3]);
        }
        *ret_len = len;
        return out;
}

/* Write data to path with mode 0644 (not subject to the umask). */
static int write_file(const char *path, const void *data, size_t len)
{
        const uint8_t *p = data;
        int fd, err = 0;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                fprintf(stderr, "assignctl: cannot create %s: %s\n", path, strerror(errno));
                return CTL_EXIT_REFUSED;
        }
        while (len > 0 && !err) {
                ssize_t k = write(fd, p, len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        err = k < 0 ? errno : EIO;
                else {
                        p += k;
                        len -= (size_t)k;
                }
        }
        if (!err && fchmod(fd, 0644) < 0)
                err = errno;
        if (close(fd) < 0 && !err)
                err = errno;
        if (err) {
                fprintf(stderr, "assignctl: cannot write %s: %s\n", path, strerror(err));
                return CTL_EXIT_REFUSED;
        }
        return CTL_EXIT_OK;
}

/* The reply's base64 "dtb" written to path. */
static int write_dtb(struct json_object *reply, const char *path)
{
        size_t len = 0;
        uint8_t *blob = b64_decode(jv_get_str(reply, "dtb", ""), &len);
        int r;

        if (!blob || len == 0 || (int64_t)len != jv_get_int(reply, "size", -1)) {
                free(blob);
                fprintf(stderr, "assignctl: the daemon's device tree does not decode\n");
                return CTL_EXIT_REFUSED;
        }
        r = write_file(path, blob, len);
        free(blob);
        return r;
}

static struct json_object *paths_json(char **paths, int n)
{
        struct json_object *a = json_object_new_array();

        for (int i = 0; a && i < n; i++)
                json_object_array_add(a, json_object_new_string(paths[i]));
        return a;
}

static bool in_set(const char *v, const char *const *set)
{
        for (; *set; set++)
                if (streq(v, *set))
                        return true;
        return false;
}

/* Parameters every generator takes; NULL after a usage error (printed). */
static struct json_object *guest_params(const char *cmd, char **paths, int n, const char *layout,
                                        const char *force, const char *xen_version)
{
        struct json_object *p;

        if (layout && !in_set(layout, layouts)) {
                ctl_usage_error("%s: --layout must be identity, relocate or auto (got '%s')", cmd,
                                layout);
                return NULL;
        }
        if (xen_version) {
                unsigned maj, min;
                char c;

                if (sscanf(xen_version, "%u.%u%c", &maj, &min, &c) != 2) {
                        ctl_usage_error("%s: --xen-version takes MAJOR.MINOR, e.g. 4.17 (got "
                                        "'%s')", cmd, xen_version);
                        return NULL;
                }
        }
        p = json_object_new_object();
        if (!p)
                return NULL;
        json_object_object_add(p, "devices", paths_json(paths, n));
        if (layout)
                json_object_object_add(p, "layout", json_object_new_string(layout));
        if (force)
                json_object_object_add(p, "force_unprotected", json_object_new_boolean(1));
        if (xen_version)
                json_object_object_add(p, "xen_version", json_object_new_string(xen_version));
        return p;
}

static void print_notes(FILE *f, struct json_object *reply)
{
        struct json_object *notes = jv_get_array(reply, "notes");
        size_t n = notes ? json_object_array_length(notes) : 0;

        for (size_t i = 0; i < n; i++)
                fprintf(f, "note: %s\n", json_object_get_string(json_object_array_get_idx(notes, i)));
}

static void print_placements(FILE *f, struct json_object *reply)
{
        struct json_object *devs = jv_get_array(reply, "devices");
        size_t n = devs ? json_object_array_length(devs) : 0;

        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(devs, i);
                struct json_object *regs = jv_get_array(d, "regions");
                size_t nr = regs ? json_object_array_length(regs) : 0;

                fprintf(f, "  %s%s\n", jv_get_str(d, "path", "?"),
                        jv_get_bool(d, "relocated", false) ? " (relocated)" : "");
                for (size_t k = 0; k < nr; k++) {
                        struct json_object *g = json_object_array_get_idx(regs, k);

                        fprintf(f, "    host 0x%" PRIx64 "+0x%" PRIx64 " -> guest 0x%" PRIx64 "\n",
                                (uint64_t)jv_get_int(g, "host", 0), (uint64_t)jv_get_int(g, "size", 0),
                                (uint64_t)jv_get_int(g, "guest", 0));
                }
        }
}

/* An absolute form of path (the daemon-side xl reads it from anywhere). */
static char *absolute(const char *path)
{
        char cwd[PATH_MAX];
        char *r;

        if (path[0] == '/')
                return strdup(path);
        if (!getcwd(cwd, sizeof(cwd)))
                return strdup(path);
        if (asprintf(&r, "%s/%s", cwd, path) < 0)
                return NULL;
        return r;
}

/* Print text to path, or to stdout when path is NULL. */
static int emit_text(const char *text, const char *path)
{
        if (path)
                return write_file(path, text, strlen(text));
        fputs(text, stdout);
        return CTL_EXIT_OK;
}

/* ---- sim create --xl-config ---------------------------------------------- */

/* The items of an xl.cfg list value "[ a, "b", ... ]" as JSON (ints or strings). */
static struct json_object *xl_list(const char *v)
{
        struct json_object *a = json_object_new_array();
        const char *p = v + 1;

        while (a && *p) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (*p == ']' || !*p)
                        break;
                if (*p == '"') {
                        const char *q = strchr(p + 1, '"');

                        if (!q)
                                goto bad;
                        json_object_array_add(a, json_object_new_string_len(p + 1, (int)(q - p - 1)));
                        p = q + 1;
                } else {
                        char *end;
                        long long n = strtoll(p, &end, 0);

                        if (end == p)
                                goto bad;
                        json_object_array_add(a, json_object_new_int64(n));
                        p = end;
                }
        }
        if (*p == ']')
                return a;
bad:
        json_object_put(a);
        return NULL;
}

int ctl_xl_grants(const char *path, struct json_object *params)
{
        static const char *const keys[] = { "irqs", "iomem", "dtdev", NULL };
        char line[8192];
        FILE *f = fopen(path, "re");
        int r = CTL_EXIT_OK;

        if (!f) {
                fprintf(stderr, "assignctl: cannot read %s: %s\n", path, strerror(errno));
                return CTL_EXIT_USAGE;
        }
        json_object_object_add(params, "passthrough", json_object_new_boolean(0));
        while (r == CTL_EXIT_OK && fgets(line, sizeof(line), f)) {
                char *eq, *key = line, *val, *e;

                line[strcspn(line, "\n")] = 0;
                while (*key == ' ' || *key == '\t')
                        key++;
                if (*key == '#' || !(eq = strchr(key, '=')))
                        continue;
                val = eq + 1;
                for (e = eq; e > key && (e[-1] == ' ' || e[-1] == '\t'); e--)
                        ;
                *e = 0;
                while (*val == ' ' || *val == '\t')
                        val++;
                for (e = val + strlen(val); e > val && (e[-1] == ' ' || e[-1] == '\t'); e--)
                        ;
                *e = 0;
                if (streq(key, "passthrough")) {
                        json_object_object_add(params, "passthrough",
                                               json_object_new_boolean(streq(val, "\"enabled\"")));
                        continue;
                }
                for (const char *const *k = keys; *k; k++) {
                        struct json_object *a;

                        if (!streq(key, *k))
                                continue;
                        a = val[0] == '[' ? xl_list(val) : NULL;
                        if (!a) {
                                fprintf(stderr, "assignctl: %s: %s is not a list xl reads\n", path,
                                        key);
                                r = CTL_EXIT_USAGE;
                                break;
                        }
                        json_object_object_add(params, *k, a);
                }
        }
        fclose(f);
        return r;
}

/* ---- dtb ----------------------------------------------------------------- */

enum { DTB_OPT_OUTPUT, DTB_OPT_DOM0LESS, DTB_OPT_LAYOUT, DTB_OPT_FORCE, DTB_OPT_XEN };

int cmd_dtb(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL;
        const char *out = args->opt[DTB_OPT_OUTPUT];
        int r;

        if (!out || !*out)
                return ctl_usage_error("dtb: -o FILE is required (a DTB is not for a terminal)");
        p = guest_params("dtb", args->pos, args->n_pos, args->opt[DTB_OPT_LAYOUT],
                         args->opt[DTB_OPT_FORCE], args->opt[DTB_OPT_XEN]);
        if (!p)
                return CTL_EXIT_USAGE;
        if (args->opt[DTB_OPT_DOM0LESS])
                json_object_object_add(p, "dom0less", json_object_new_boolean(1));
        r = ctl_call(ctl, "GuestDeviceTree", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        r = write_dtb(reply, out);
        if (r == CTL_EXIT_OK && ctl->json)
                r = ctl_print_json(reply);
        else if (r == CTL_EXIT_OK) {
                printf("wrote %s: %" PRId64 " bytes, %s layout%s\n", out, jv_get_int(reply, "size", 0),
                       jv_get_str(reply, "layout", "?"),
                       args->opt[DTB_OPT_DOM0LESS] ? ", dom0less" : "");
                print_placements(stdout, reply);
                print_notes(stdout, reply);
        }
        json_object_put(reply);
        return r;
}

/* ---- xl-config ----------------------------------------------------------- */

enum { XL_OPT_NAME, XL_OPT_DEVICE_TREE, XL_OPT_OUTPUT, XL_OPT_DTB_OUT, XL_OPT_LAYOUT,
       XL_OPT_FORCE, XL_OPT_XEN };

int cmd_xl_config(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL;
        const char *dtb_out = args->opt[XL_OPT_DTB_OUT];
        char *device_tree = NULL;
        int r;

        if (dtb_out && !*dtb_out)
                return ctl_usage_error("xl-config: --dtb-out needs a file name");
        p = guest_params("xl-config", args->pos, args->n_pos, args->opt[XL_OPT_LAYOUT],
                         args->opt[XL_OPT_FORCE], args->opt[XL_OPT_XEN]);
        if (!p)
                return CTL_EXIT_USAGE;
        if (args->opt[XL_OPT_DEVICE_TREE])
                device_tree = strdup(args->opt[XL_OPT_DEVICE_TREE]);
        else if (dtb_out)
                device_tree = absolute(dtb_out);
        if ((args->opt[XL_OPT_DEVICE_TREE] || dtb_out) && !device_tree) {
                json_object_put(p);
                return ctl_oom();
        }
        if (device_tree)
                json_object_object_add(p, "device_tree", json_object_new_string(device_tree));
        if (args->opt[XL_OPT_NAME])
                json_object_object_add(p, "name", json_object_new_string(args->opt[XL_OPT_NAME]));
        free(device_tree);
        r = ctl_call(ctl, "XlConfig", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        if (dtb_out)
                r = write_dtb(reply, dtb_out);
        if (r == CTL_EXIT_OK)
                r = ctl->json ? ctl_print_json(reply)
                              : emit_text(jv_get_str(reply, "config", ""), args->opt[XL_OPT_OUTPUT]);
        json_object_put(reply);
        return r;
}

/* ---- imagebuilder -------------------------------------------------------- */

enum { IB_OPT_INDEX, IB_OPT_DTB_FILE, IB_OPT_DTB_OUT, IB_OPT_HOST_DTB, IB_OPT_LAYOUT,
       IB_OPT_FORCE, IB_OPT_XEN };

int cmd_imagebuilder(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL;
        const char *index = args->opt[IB_OPT_INDEX];
        const char *dtb_out = args->opt[IB_OPT_DTB_OUT];
        long idx = 0;
        int r;

        if (index) {
                char *end = NULL;

                idx = strtol(index, &end, 10);
                if (!*index || *end || idx < 0 || idx > 255)
                        return ctl_usage_error("imagebuilder: --index takes 0..255 (got '%s')",
                                               index);
        }
        if (dtb_out && !*dtb_out)
                return ctl_usage_error("imagebuilder: --dtb-out needs a file name");
        p = guest_params("imagebuilder", args->pos, args->n_pos, args->opt[IB_OPT_LAYOUT],
                         args->opt[IB_OPT_FORCE], args->opt[IB_OPT_XEN]);
        if (!p)
                return CTL_EXIT_USAGE;
        json_object_object_add(p, "index", json_object_new_int64(idx));
        if (args->opt[IB_OPT_DTB_FILE])
                json_object_object_add(p, "dtb_file",
                                       json_object_new_string(args->opt[IB_OPT_DTB_FILE]));
        else if (dtb_out)
                /* ImageBuilder's config names files relative to its directory. */
                json_object_object_add(p, "dtb_file", json_object_new_string(short_name(dtb_out)));
        if (args->opt[IB_OPT_HOST_DTB])
                json_object_object_add(p, "host_dtb_file",
                                       json_object_new_string(args->opt[IB_OPT_HOST_DTB]));
        r = ctl_call(ctl, "ImageBuilderConfig", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        if (dtb_out)
                r = write_dtb(reply, dtb_out);
        if (r == CTL_EXIT_OK)
                r = ctl->json ? ctl_print_json(reply) : emit_text(jv_get_str(reply, "config", ""), NULL);
        json_object_put(reply);
        return r;
}

/* ---- reserve, cancel ----------------------------------------------------- */

enum { RES_OPT_FORCE, RES_OPT_LAYOUT, RES_OPT_TTL, RES_OPT_OUTPUT, RES_OPT_PERSISTENT,
       RES_OPT_EXCLUSIVE };

int cmd_reserve(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL, *lease;
        const char *ttl = args->opt[RES_OPT_TTL], *excl = args->opt[RES_OPT_EXCLUSIVE];
        bool persistent = args->opt[RES_OPT_PERSISTENT] != NULL;
        char *when;
        long secs = 0;
        int r;

        if (ttl) {
                char *end = NULL;

                secs = strtol(ttl, &end, 10);
                if (!*ttl || *end || secs <= 0)
                        return ctl_usage_error("reserve: --ttl takes a number of seconds > 0 "
                                               "(got '%s')", ttl);
        }
        if (excl && !streq(excl, "yes") && !streq(excl, "no"))
                return ctl_usage_error("reserve: --exclusive takes yes or no (got '%s')", excl);
        if (excl && !persistent)
                return ctl_usage_error("reserve: --exclusive goes with --persistent (a one-shot "
                                       "reservation always holds its devices)");
        if (persistent && ttl)
                return ctl_usage_error("reserve: a --persistent reservation does not expire: "
                                       "drop --ttl");
        p = guest_params("reserve", args->pos + 1, args->n_pos - 1, args->opt[RES_OPT_LAYOUT],
                         args->opt[RES_OPT_FORCE], NULL);
        if (!p)
                return CTL_EXIT_USAGE;
        json_object_object_add(p, "domain_name", json_object_new_string(args->pos[0]));
        if (secs)
                json_object_object_add(p, "ttl_seconds", json_object_new_int64(secs));
        if (persistent)
                json_object_object_add(p, "persistent", json_object_new_boolean(true));
        if (excl)
                json_object_object_add(p, "exclusive", json_object_new_boolean(streq(excl, "yes")));
        r = ctl_call_or_print(ctl, "Reserve", p, &reply);
        if (r != CTL_EXIT_OK || !reply)
                return r;
        lease = jv_get_object(reply, "lease");
        if (persistent)
                when = strdup(excl && streq(excl, "no")
                                      ? "until cancelled (standing; free while it is not running)"
                                      : "until cancelled (standing; held while it is not running)");
        else
                when = fmt_time(jv_get_int(reply, "expires_at", 0));
        /* stderr, so that stdout is the fragment alone and can be appended to an xl.cfg. */
        fprintf(stderr, "lease %" PRId64 ": %d device%s reserved for domain %s %s%s%s\n"
                        "partial device tree: %s\n",
                jv_get_int(lease, "id", 0), args->n_pos - 1, args->n_pos == 2 ? "" : "s", args->pos[0],
                persistent ? "" : "until ", when ? when : "?",
                jv_get_bool(lease, "forced", false) ? " (FORCED: unprotected DMA)" : "",
                jv_get_str(reply, "device_tree", "?"));
        free(when);
        r = emit_text(jv_get_str(reply, "config", ""), args->opt[RES_OPT_OUTPUT]);
        json_object_put(reply);
        return r;
}

enum { CANCEL_OPT_LEASE };

int cmd_cancel(struct ctl *ctl, const struct ctl_args *args)
{
        struct json_object *p, *reply = NULL, *lease;
        int r;

        p = json_object_new_object();
        if (!p)
                return ctl_oom();
        if (args->opt[CANCEL_OPT_LEASE]) {
                char *end = NULL;
                long id = strtol(args->pos[0], &end, 10);

                if (!*args->pos[0] || *end || id <= 0) {
                        json_object_put(p);
                        return ctl_usage_error("cancel --lease takes a lease id (got '%s')",
                                               args->pos[0]);
                }
                json_object_object_add(p, "lease", json_object_new_int64(id));
        } else {
                json_object_object_add(p, "domain_name", json_object_new_string(args->pos[0]));
        }
        r = ctl_call(ctl, "CancelReservation", p, &reply);
        json_object_put(p);
        if (r != CTL_EXIT_OK)
                return r;
        lease = jv_get_object(reply, "lease");
        if (ctl->json)
                r = ctl_print_json(reply);
        else
                printf("lease %" PRId64 " (domain %s): reservation cancelled, devices free\n",
                       jv_get_int(lease, "id", 0), jv_get_str(lease, "domain", "?"));
        json_object_put(reply);
        return r;
}
