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
#include "strbuf.h"


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

/*
 * What every generator is asked (devices, layout, force, Xen release),
 * from the command line, in the engine's own terms: sent to the daemon as
 * the method's parameters, or offline handed to the engine as it is.
 * Returns an exit status (a usage error is printed).
 */
struct guest_req {
        struct generate_request g;
        struct guestcfg_target target;
};

static int guest_request(const char *cmd, char **paths, int n, const char *layout,
                         const char *force, const char *xen_version, struct guest_req *ret)
{
        int mode = GUESTCFG_IDENTITY;

        if (layout && (mode = guestcfg_mode_from_string(layout)) < 0)
                return ctl_usage_error("%s: --layout must be identity, relocate or auto (got "
                                       "'%s')", cmd, layout);
        *ret = (struct guest_req){
                .g = {
                        .devices = (const char *const *)paths,
                        .n_devices = (size_t)n,
                        .force_unprotected = force != NULL,
                        .layout = (enum guestcfg_mode)mode,
                },
        };
        if (xen_version) {
                unsigned maj, min;
                char c;

                if (sscanf(xen_version, "%u.%u%c", &maj, &min, &c) != 2)
                        return ctl_usage_error("%s: --xen-version takes MAJOR.MINOR, e.g. 4.17 (got "
                                               "'%s')", cmd, xen_version);
                ret->target = (struct guestcfg_target){ maj, min };
                ret->g.target = &ret->target;
        }
        return CTL_EXIT_OK;
}

/* The parameters every generator method and Reserve take, from a request. */
static struct json_object *guest_json(const struct generate_request *g)
{
        struct json_object *p = json_object_new_object(), *devs = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < g->n_devices; i++)
                r |= jv_push_str(devs, g->devices[i]);
        r |= jv_set_obj(p, "devices", devs);
        if (g->layout != GUESTCFG_IDENTITY)
                r |= jv_set_str(p, "layout", guestcfg_mode_to_string(g->layout));
        if (g->force_unprotected)
                r |= jv_set_bool(p, "force_unprotected", true);
        if (g->target) {
                char v[32];

                snprintf(v, sizeof(v), "%u.%u", g->target->xen_major, g->target->xen_minor);
                r |= jv_set_str(p, "xen_version", v);
        }
        if (r) {
                json_object_put(p);
                return NULL;
        }
        return p;
}

/*
 * Run generator what: the daemon's method, or offline the engine.  The
 * parameters a method takes beyond the common ones are set from g.
 */
static int guest_generate(struct ctl *ctl, enum generate_what what,
                          const struct generate_request *g, struct json_object **reply)
{
        static const char *const methods[] = {
                [GENERATE_DTB] = "GuestDeviceTree",
                [GENERATE_XL] = "XlConfig",
                [GENERATE_IMAGEBUILDER] = "ImageBuilderConfig",
        };
        struct json_object *p;
        int r = 0;

        p = guest_json(g);
        if (!p)
                return ctl_oom();
        if (what == GENERATE_DTB && g->dom0less)
                r |= jv_set_bool(p, "dom0less", true);
        if (what == GENERATE_XL && g->device_tree)
                r |= jv_set_str(p, "device_tree", g->device_tree);
        if (what == GENERATE_XL && g->name)
                r |= jv_set_str(p, "name", g->name);
        if (what == GENERATE_IMAGEBUILDER) {
                r |= jv_set_int(p, "index", g->index);
                if (g->dtb_file)
                        r |= jv_set_str(p, "dtb_file", g->dtb_file);
                if (g->host_dtb_file)
                        r |= jv_set_str(p, "host_dtb_file", g->host_dtb_file);
        }
        if (r) {
                json_object_put(p);
                return ctl_oom();
        }
        if (ctl->offline) {
                r = ctl_offline_check(ctl, methods[what], p);
                if (r == CTL_EXIT_OK)
                        r = ctl_offline_generate(ctl, what, g, reply);
        } else {
                r = ctl_call(ctl, methods[what], p, reply);
        }
        json_object_put(p);
        return r;
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
        struct json_object *reply = NULL;
        const char *out = args->opt[DTB_OPT_OUTPUT];
        struct guest_req q;
        int r;

        if (!out || !*out)
                return ctl_usage_error("dtb: -o FILE is required (a DTB is not for a terminal)");
        r = guest_request("dtb", args->pos, args->n_pos, args->opt[DTB_OPT_LAYOUT],
                          args->opt[DTB_OPT_FORCE], args->opt[DTB_OPT_XEN], &q);
        if (r != CTL_EXIT_OK)
                return r;
        q.g.dom0less = args->opt[DTB_OPT_DOM0LESS] != NULL;
        r = guest_generate(ctl, GENERATE_DTB, &q.g, &reply);
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
        struct json_object *reply = NULL;
        const char *dtb_out = args->opt[XL_OPT_DTB_OUT];
        _cleanup_free_ char *device_tree = NULL;
        struct guest_req q;
        int r;

        if (dtb_out && !*dtb_out)
                return ctl_usage_error("xl-config: --dtb-out needs a file name");
        r = guest_request("xl-config", args->pos, args->n_pos, args->opt[XL_OPT_LAYOUT],
                          args->opt[XL_OPT_FORCE], args->opt[XL_OPT_XEN], &q);
        if (r != CTL_EXIT_OK)
                return r;
        if (args->opt[XL_OPT_DEVICE_TREE])
                device_tree = strdup(args->opt[XL_OPT_DEVICE_TREE]);
        else if (dtb_out)
                device_tree = absolute(dtb_out);
        if ((args->opt[XL_OPT_DEVICE_TREE] || dtb_out) && !device_tree)
                return ctl_oom();
        q.g.device_tree = device_tree;
        q.g.name = args->opt[XL_OPT_NAME];
        r = guest_generate(ctl, GENERATE_XL, &q.g, &reply);
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

enum { IB_OPT_INDEX, IB_OPT_DTB_FILE, IB_OPT_DTB_OUT, IB_OPT_DTB_DIR, IB_OPT_HOST_DTB,
       IB_OPT_LAYOUT, IB_OPT_FORCE, IB_OPT_XEN };

/* One domU of an imagebuilder command: its paths, and what was made for it. */
struct ib_domu {
        char **paths;
        int n;
        char *dtb_file;         /* the name DOMU_PASSTHROUGH_DTB gives, when we choose it */
        struct json_object *reply;
};

/*
 * Split the arguments at each "+" into domUs; a usage error (printed) for
 * an empty list or a device given to two of them, which no domain could
 * have at once.
 */
static int ib_split(char **pos, int n_pos, unsigned base, struct ib_domu *d, size_t *n_d)
{
        size_t k = 0;

        d[0] = (struct ib_domu){ .paths = pos };
        for (int i = 0; i < n_pos; i++) {
                if (!streq(pos[i], "+")) {
                        d[k].n++;
                        continue;
                }
                if (!d[k].n || i + 1 == n_pos)
                        return ctl_usage_error("imagebuilder: '+' goes between two lists of "
                                               "device paths, one per domU");
                d[++k] = (struct ib_domu){ .paths = pos + i + 1 };
        }
        *n_d = k + 1;
        if (base + k > GENERATE_MAX_DOMU)
                return ctl_usage_error("imagebuilder: domU %u is past the last one, %d",
                                       base + (unsigned)k, GENERATE_MAX_DOMU);
        for (size_t a = 0; a < *n_d; a++)
                for (size_t b = a + 1; b < *n_d; b++)
                        for (int i = 0; i < d[b].n; i++)
                                if (strv_contains((const char *const *)d[a].paths, (size_t)d[a].n,
                                                  d[b].paths[i]))
                                        return ctl_usage_error("imagebuilder: %s is given to domU "
                                                               "%zu and domU %zu; a device goes "
                                                               "to one domain", d[b].paths[i],
                                                               base + a, base + b);
        return CTL_EXIT_OK;
}

/* The domUs' partial DTBs to --dtb-out or into --dtb-dir, once every one was made. */
static int ib_write(const struct ib_domu *d, size_t n, const char *dtb_out, const char *dir)
{
        int r = CTL_EXIT_OK;

        if (dtb_out)
                return write_dtb(d[0].reply, dtb_out);
        for (size_t k = 0; dir && r == CTL_EXIT_OK && k < n; k++) {
                _cleanup_free_ char *path = strdup_printf("%s/%s", dir, d[k].dtb_file);

                r = path ? write_dtb(d[k].reply, path) : ctl_oom();
        }
        return r;
}

int cmd_imagebuilder(struct ctl *ctl, const struct ctl_args *args)
{
        const char *index = args->opt[IB_OPT_INDEX];
        const char *dtb_out = args->opt[IB_OPT_DTB_OUT];
        const char *dtb_dir = args->opt[IB_OPT_DTB_DIR];
        const char *dtb_file = args->opt[IB_OPT_DTB_FILE];
        _cleanup_free_ struct ib_domu *d = calloc((size_t)args->n_pos + 1, sizeof(*d));
        size_t n = 0;
        long idx = 0;
        int r;

        if (!d)
                return ctl_oom();
        if (index) {
                char *end = NULL;

                idx = strtol(index, &end, 10);
                if (!*index || *end || idx < 0 || idx > GENERATE_MAX_DOMU)
                        return ctl_usage_error("imagebuilder: --index takes 0..%d (got '%s')",
                                               GENERATE_MAX_DOMU, index);
        }
        if ((dtb_out && !*dtb_out) || (dtb_dir && !*dtb_dir) || (dtb_file && !*dtb_file))
                return ctl_usage_error("imagebuilder: --dtb-out, --dtb-dir and --dtb-file need a "
                                       "name");
        if (dtb_out && dtb_dir)
                return ctl_usage_error("imagebuilder: --dtb-out or --dtb-dir, not both");
        r = ib_split(args->pos, args->n_pos, (unsigned)idx, d, &n);
        if (r != CTL_EXIT_OK)
                return r;
        if (n > 1 && (dtb_out || dtb_file))
                return ctl_usage_error("imagebuilder: --dtb-out and --dtb-file name one domU's "
                                       "file; with several, use --dtb-dir");

        for (size_t k = 0; r == CTL_EXIT_OK && k < n; k++) {
                struct guest_req q;

                r = guest_request("imagebuilder", d[k].paths, d[k].n, args->opt[IB_OPT_LAYOUT],
                                  args->opt[IB_OPT_FORCE], args->opt[IB_OPT_XEN], &q);
                if (r != CTL_EXIT_OK)
                        break;
                q.g.index = (unsigned)idx + (unsigned)k;
                q.g.host_dtb_file = args->opt[IB_OPT_HOST_DTB];
                /* ImageBuilder's config names files relative to its directory. */
                if (dtb_file)
                        q.g.dtb_file = dtb_file;
                else if (dtb_out)
                        q.g.dtb_file = short_name(dtb_out);
                else if (dtb_dir) {
                        d[k].dtb_file = strdup_printf(GENERATE_DTB_FILE_FORMAT, q.g.index);
                        if (!d[k].dtb_file) {
                                r = ctl_oom();
                                break;
                        }
                        q.g.dtb_file = d[k].dtb_file;
                }
                r = guest_generate(ctl, GENERATE_IMAGEBUILDER, &q.g, &d[k].reply);
        }
        if (r == CTL_EXIT_OK)
                r = ib_write(d, n, dtb_out, dtb_dir);
        if (r == CTL_EXIT_OK && ctl->json && n == 1) {
                r = ctl_print_json(d[0].reply);
        } else if (r == CTL_EXIT_OK && ctl->json) {
                struct json_object *all = json_object_new_array();

                for (size_t k = 0; all && k < n; k++)
                        json_object_array_add(all, json_object_get(d[k].reply));
                r = all ? ctl_print_json(all) : ctl_oom();
                json_object_put(all);
        } else if (r == CTL_EXIT_OK) {
                /* One fragment after another: each stands alone in ImageBuilder's config. */
                for (size_t k = 0; k < n; k++)
                        printf("%s%s", k ? "\n" : "", jv_get_str(d[k].reply, "config", ""));
        }
        for (size_t k = 0; k < n; k++) {
                json_object_put(d[k].reply);
                free(d[k].dtb_file);
        }
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
        struct guest_req q;
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
        r = guest_request("reserve", args->pos + 1, args->n_pos - 1, args->opt[RES_OPT_LAYOUT],
                          args->opt[RES_OPT_FORCE], NULL, &q);
        if (r != CTL_EXIT_OK)
                return r;
        p = guest_json(&q.g);
        if (!p)
                return ctl_oom();
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
