/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated machine's state as a whole: finding domains and who
 * holds a device or an SPI, and keeping the state where it survives the
 * daemon the way Xen's does.  After every successful mutating call the
 * whole state is written to a file atomically and it is read back at
 * hv_open, so a kill -9 at any point leaves either the state before or
 * after the call.  A state of up to a page is written over the old one in
 * place, blank-padded, by one write within the file's first page (which
 * a dying writer never leaves half done); a larger one, or one that no
 * longer fits, goes to a temp file renamed over the old.  Nothing is
 * fsynced: Xen's state survives a crash of the daemon, not a power loss of
 * the machine, and neither need the simulator's (the kernel keeps written
 * data across the death of the process that wrote it).  The simulator
 * owns the file while the daemon runs; edit it only while it is stopped.
 *
 * A call whose state cannot be written (disk full, out of descriptors)
 * fails, and the state goes back to what was last written, kept in memory
 * as its text: reading the file back could fail for the same reason, and
 * the daemon must find the machine as the failed call left it, unchanged.
 * The same JSON form, with the platform added, is what GetState shows.
 */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv-sim-private.h"
#include "jv.h"
#include "log.h"
#include "strbuf.h"

/* ---- lookups ---- */

void hv_sim_state_free_domains(struct sim_domain **doms, size_t n)
{
        for (size_t i = 0; i < n; i++)
                hv_sim_domain_free(doms[i]);
        free(doms);
}

struct sim_domain *hv_sim_state_find(struct sim *s, uint32_t domid)
{
        for (size_t i = 0; i < s->n_doms; i++)
                if (s->doms[i]->domid == domid)
                        return s->doms[i];
        return NULL;
}

struct sim_domain *hv_sim_state_get(struct hv *hv, uint32_t domid, char **err, int *r)
{
        struct sim_domain *d = hv_sim_state_find(sim_of(hv), domid);

        if (!d) {
                hv_set_reason(hv, HV_REASON_NO_DOMAIN);
                *r = set_error(err, -ESRCH, "domain %u does not exist", domid);
        }
        return d;
}

bool hv_sim_state_is_protected(const struct sim *s, const char *path)
{
        for (size_t i = 0; i < s->n_protected; i++)
                if (streq(s->protected[i], path))
                        return true;
        return false;
}

struct sim_domain *hv_sim_state_dt_owner(struct sim *s, const char *path)
{
        for (size_t i = 0; i < s->n_doms; i++)
                if (hv_sim_domain_dt_index(s->doms[i], path) >= 0)
                        return s->doms[i];
        return NULL;
}

struct sim_domain *hv_sim_state_spi_owner(struct sim *s, uint32_t irq)
{
        for (size_t i = 0; i < s->n_doms; i++)
                if (hv_sim_domain_spi_routed(s->doms[i], irq))
                        return s->doms[i];
        return NULL;
}

/* ---- JSON (state file and GetState) ---- */

static void put_key(struct strbuf *b, const char *k)
{
        strbuf_append_len(b, ",\"", 2);
        strbuf_append(b, k);
        strbuf_append_len(b, "\":", 2);
}

static void put_u64(struct strbuf *b, const char *k, uint64_t v)
{
        put_key(b, k);
        strbuf_append_u64(b, v);
}

static void put_bool(struct strbuf *b, const char *k, bool v)
{
        put_key(b, k);
        strbuf_append(b, v ? "true" : "false");
}

/* One domain as an object; the first member has no comma before it. */
static void domain_text(struct strbuf *b, const struct sim_domain *d)
{
        strbuf_append(b, "{\"domid\":");
        strbuf_append_u64(b, d->domid);
        put_key(b, "name");
        strbuf_append_json_string(b, d->name, strlen(d->name));
        put_bool(b, "passthrough", d->passthrough);
        put_bool(b, "populated", d->populated);
        put_u64(b, "nr_spis", d->nr_spis);
        put_bool(b, "paused", d->paused);
        put_bool(b, "has_run", d->has_run);
        put_bool(b, "dying", d->dying);
        put_bool(b, "building", d->building);

        put_key(b, "iomem");
        for (size_t i = 0; i < d->iomem.n; i++) {
                strbuf_append(b, i ? ",{\"mfn\":" : "[{\"mfn\":");
                strbuf_append_u64(b, d->iomem.v[i].s);
                put_u64(b, "nr", d->iomem.v[i].e - d->iomem.v[i].s + 1);
                strbuf_append_len(b, "}", 1);
        }
        strbuf_append(b, d->iomem.n ? "]" : "[]");

        put_key(b, "mappings");
        for (size_t i = 0; i < d->n_maps; i++) {
                strbuf_append(b, i ? ",{\"gfn\":" : "[{\"gfn\":");
                strbuf_append_u64(b, d->maps[i].gfn);
                put_u64(b, "mfn", d->maps[i].mfn);
                put_u64(b, "nr", d->maps[i].nr);
                strbuf_append_len(b, "}", 1);
        }
        strbuf_append(b, d->n_maps ? "]" : "[]");

        put_key(b, "irqs");
        strbuf_append_len(b, "[", 1);
        for (size_t i = 0, k = 0; i < d->irqs.n; i++)
                for (uint64_t q = d->irqs.v[i].s; q <= d->irqs.v[i].e; q++) {
                        if (k++)
                                strbuf_append_len(b, ",", 1);
                        strbuf_append_u64(b, q);
                }
        strbuf_append_len(b, "]", 1);

        put_key(b, "spis");
        for (size_t i = 0; i < d->n_spis; i++) {
                strbuf_append_len(b, i ? "," : "[", 1);
                strbuf_append_u64(b, d->spis[i]);
        }
        strbuf_append(b, d->n_spis ? "]" : "[]");

        put_key(b, "dt_devices");
        for (size_t i = 0; i < d->n_dt; i++) {
                strbuf_append_len(b, i ? "," : "[", 1);
                strbuf_append_json_string(b, d->dt[i], strlen(d->dt[i]));
        }
        strbuf_append(b, d->n_dt ? "]}" : "[]}");
}

static int cmp_dom(const void *a, const void *b)
{
        const struct sim_domain *x = *(struct sim_domain *const *)a;
        const struct sim_domain *y = *(struct sim_domain *const *)b;

        return x->domid < y->domid ? -1 : x->domid > y->domid;
}

void hv_sim_state_sort(struct sim *s)
{
        qsort(s->doms, s->n_doms, sizeof(*s->doms), cmp_dom);
}

/*
 * The state file's text: written directly, as it is written after every
 * mutating call (GetState reads the domains back from it with json-c).
 */
static int state_text(struct sim *s, char **ret)
{
        struct strbuf b = STRBUF_INIT;

        hv_sim_state_sort(s);
        strbuf_append(&b, "{\"format\":");
        strbuf_append_u64(&b, SIM_FORMAT);
        put_u64(&b, "rover", s->rover);
        put_key(&b, "domains");
        strbuf_append_len(&b, "[", 1);
        for (size_t i = 0; i < s->n_doms; i++) {
                if (i)
                        strbuf_append_len(&b, ",", 1);
                domain_text(&b, s->doms[i]);
        }
        strbuf_append(&b, "]}");
        return strbuf_steal(&b, ret);
}

static bool jget(struct json_object *o, const char *k, json_type t, struct json_object **v)
{
        return json_object_object_get_ex(o, k, v) && json_object_is_type(*v, t);
}

static int jget_u64(struct json_object *o, const char *k, uint64_t max, uint64_t *ret)
{
        struct json_object *v;
        int64_t x;

        if (!jget(o, k, json_type_int, &v))
                return -EBADMSG;
        x = json_object_get_int64(v);
        if (x < 0 || (uint64_t)x > max)
                return -EBADMSG;
        *ret = (uint64_t)x;
        return 0;
}

static int jget_bool(struct json_object *o, const char *k, bool *ret)
{
        struct json_object *v;

        if (!jget(o, k, json_type_boolean, &v))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

static int domain_from_json(struct json_object *o, struct sim_domain **ret)
{
        _cleanup_(hv_sim_domain_freep) struct sim_domain *d = calloc(1, sizeof(*d));
        struct json_object *v, *a;
        const char *name;
        uint64_t x;
        int r;

        if (!d)
                return -ENOMEM;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if ((r = jget_u64(o, "domid", SIM_DOMID_FIRST_RESERVED - 1, &x)) < 0)
                return r;
        d->domid = (uint32_t)x;
        if (!jget(o, "name", json_type_string, &v))
                return -EBADMSG;
        name = json_object_get_string(v);
        if (strlen(name) > HV_NAME_MAX)
                return -EBADMSG;
        strcpy(d->name, name);
        if ((r = jget_bool(o, "passthrough", &d->passthrough)) < 0 ||
            (r = jget_bool(o, "populated", &d->populated)) < 0 ||
            (r = jget_bool(o, "paused", &d->paused)) < 0 ||
            (r = jget_bool(o, "has_run", &d->has_run)) < 0 ||
            (r = jget_bool(o, "dying", &d->dying)) < 0)
                return r;
        /* Absent in state files written before domains could be building. */
        if (json_object_object_get_ex(o, "building", &v) &&
            (r = jget_bool(o, "building", &d->building)) < 0)
                return r;
        if ((r = jget_u64(o, "nr_spis", HV_MAX_SPIS, &x)) < 0)
                return r;
        d->nr_spis = (unsigned)x;

        if (!jget(o, "iomem", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                uint64_t mfn, nr;

                if (jget_u64(e, "mfn", UINT64_MAX >> 1, &mfn) < 0 ||
                    jget_u64(e, "nr", UINT64_MAX >> 1, &nr) < 0 || nr == 0)
                        return -EBADMSG;
                if ((r = hv_sim_domain_range_add(&d->iomem, mfn, mfn + nr - 1)) < 0)
                        return r;
        }
        if (!jget(o, "mappings", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                uint64_t gfn, mfn, nr;

                if (jget_u64(e, "gfn", UINT64_MAX >> 1, &gfn) < 0 ||
                    jget_u64(e, "mfn", UINT64_MAX >> 1, &mfn) < 0 ||
                    jget_u64(e, "nr", UINT64_MAX >> 1, &nr) < 0 || nr == 0)
                        return -EBADMSG;
                if ((r = hv_sim_domain_map_add(d, gfn, mfn, nr)) < 0)
                        return r;
        }
        if (!jget(o, "irqs", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t q = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || q < 0 || q >= SIM_NR_IRQS)
                        return -EBADMSG;
                if ((r = hv_sim_domain_range_add(&d->irqs, (uint64_t)q, (uint64_t)q)) < 0)
                        return r;
        }
        if (!jget(o, "spis", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t q = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || q < 32 || q >= SIM_NR_IRQS)
                        return -EBADMSG;
                if ((r = hv_sim_domain_spi_add(d, (uint32_t)q)) < 0)
                        return r;
        }
        if (!jget(o, "dt_devices", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);

                if (!json_object_is_type(e, json_type_string))
                        return -EBADMSG;
                if ((r = hv_sim_domain_dt_add(d, json_object_get_string(e))) < 0)
                        return r;
        }
        *ret = steal_ptr(d);
        return 0;
}

/* ---- persistence ---- */

static int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/*
 * A new file in the state's place: a temp file renamed over it, with room
 * (trailing blanks) for later states to be written in place.
 */
static int replace_file(struct sim *s, const char *text, size_t len, char **err)
{
        _cleanup_free_ char *tmp = NULL, *buf = NULL;
        _cleanup_close_ int fd = -1;
        size_t room = len + 1;
        int r;

        if (room <= SIM_STATE_IN_PLACE_MAX)
                room = (room + SIM_STATE_ROOM - 1) / SIM_STATE_ROOM * SIM_STATE_ROOM;
        buf = malloc(room);
        tmp = strdup_printf("%s.tmp.XXXXXX", s->state_path);
        if (!buf || !tmp)
                return set_error(err, -ENOMEM, "out of memory");
        memcpy(buf, text, len);
        memset(buf + len, ' ', room - len - 1);
        buf[room - 1] = '\n';
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                return set_error(err, r, "cannot create %s: %s", tmp, strerror(-r));
        }
        r = write_all(fd, buf, room);
        if (r >= 0 && rename(tmp, s->state_path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return set_error(err, r, "cannot write the simulator state %s: %s",
                                 s->state_path, strerror(-r));
        }
        s->file_len = room;
        return 0;
}

/*
 * The new state over the old one, blank-padded to the file's length, in
 * one write at offset 0 of at most SIM_STATE_IN_PLACE_MAX bytes: that lies
 * in the file's first page, which the kernel copies whole before it looks
 * at a signal again, so a kill -9 leaves the old state or the new one.
 * The file never grows here, so a full disk cannot cut the write short.
 * It is opened by its name each time, as a replaced file would be: what
 * the path names is what is written.
 */
static int write_in_place(struct sim *s, const char *text, size_t len, char **err)
{
        char buf[SIM_STATE_IN_PLACE_MAX];
        _cleanup_close_ int fd = -1;
        ssize_t n;
        int r;

        memcpy(buf, text, len);
        memset(buf + len, ' ', s->file_len - len - 1);
        buf[s->file_len - 1] = '\n';
        fd = open(s->state_path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return set_error(err, -errno, "cannot open the simulator state %s: %m",
                                 s->state_path);
        do
                n = pwrite(fd, buf, s->file_len, 0);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)s->file_len)
                return 0;
        r = set_error(err, n < 0 ? -errno : -EIO, "cannot write the simulator state %s: %s",
                      s->state_path, n < 0 ? strerror(errno) : "short write");
        /*
         * The write may have changed part of the file: put the state last
         * written back in a file of its own, so that the file says what
         * memory will say once the caller has gone back to it.
         */
        if (s->saved && replace_file(s, s->saved, strlen(s->saved), NULL) < 0)
                log_error("hv-sim: %s may hold part of a state that was not kept; it is "
                          "corrupt if it does not parse at the next start", s->state_path);
        return r;
}

int hv_sim_state_save(struct sim *s, char **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        if (!s->state_path)
                return 0;
        if (state_text(s, &text) < 0)
                return set_error(err, -ENOMEM, "out of memory");
        len = strlen(text);
        if (len < s->file_len && s->file_len <= SIM_STATE_IN_PLACE_MAX)
                r = write_in_place(s, text, len, err);
        else
                r = replace_file(s, text, len, err);
        if (r < 0)
                return r;
        free(s->saved);
        s->saved = steal_ptr(text);
        s->writes++;
        return 0;
}

/* A kill -9 inside hv_sim_state_save() can leave its temp file: remove such. */
void hv_sim_state_remove_stale_temps(const char *state_path)
{
        _cleanup_free_ char *dcopy = strdup(state_path), *bcopy = strdup(state_path);
        _cleanup_free_ char *prefix = NULL;
        const char *dir;
        DIR *dp;
        struct dirent *de;

        if (!dcopy || !bcopy)
                return;
        prefix = strdup_printf("%s.tmp.", basename(bcopy));
        dir = dirname(dcopy);
        if (!prefix || !(dp = opendir(dir)))
                return;
        while ((de = readdir(dp))) {
                if (!startswith(de->d_name, prefix) || strlen(de->d_name) != strlen(prefix) + 6)
                        continue;
                if (unlinkat(dirfd(dp), de->d_name, 0) < 0)
                        log_debug("hv-sim: cannot remove %s/%s: %m", dir, de->d_name);
        }
        closedir(dp);
}

static int parse_state(struct sim *s, const char *text, char **err);

/* Load the state file into fresh arrays; -ENOENT if there is none. */
int hv_sim_state_load(struct sim *s, char **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct stat st;
        int r;

        fd = open(s->state_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return set_error(err, -errno, "cannot stat %s: %m", s->state_path);
        if (st.st_size > SIM_STATE_MAX)
                return set_error(err, -EFBIG, "simulator state %s is too large", s->state_path);
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return set_error(err, -ENOMEM, "out of memory");
        while (len < (size_t)st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t)st.st_size - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return set_error(err, -errno, "cannot read %s: %m", s->state_path);
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        buf[len] = '\0';
        r = parse_state(s, buf, err);
        if (r < 0)
                return r;
        free(s->saved);
        s->saved = steal_ptr(buf);
        s->file_len = len;
        return 0;
}

/* Replace the domains with those of a state's text; on failure they are untouched. */
static int parse_state(struct sim *s, const char *text, char **err)
{
        struct json_object *o = NULL, *a;
        struct sim_domain **doms = NULL;
        size_t n = 0, cap = 0;
        uint64_t rover = 0, fmt = 0;
        int r;

        o = json_tokener_parse(text);
        r = -EBADMSG;
        if (!o || !json_object_is_type(o, json_type_object))
                goto fail;
        if (jget_u64(o, "format", 1000, &fmt) < 0 || fmt != SIM_FORMAT)
                goto fail;
        if (jget_u64(o, "rover", SIM_DOMID_FIRST_RESERVED - 1, &rover) < 0)
                goto fail;
        if (!jget(o, "domains", json_type_array, &a))
                goto fail;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct sim_domain *d = NULL;

                r = GROW(doms, cap, n);
                if (r < 0)
                        goto fail;
                r = domain_from_json(json_object_array_get_idx(a, i), &d);
                if (r < 0)
                        goto fail;
                doms[n++] = d;
        }
        json_object_put(o);

        hv_sim_state_free_domains(s->doms, s->n_doms);
        s->doms = doms;
        s->n_doms = n;
        s->cap_doms = cap;
        s->rover = (uint32_t)rover;
        return 0;
fail:
        json_object_put(o);
        hv_sim_state_free_domains(doms, n);
        if (r == -ENOMEM)
                return set_error(err, r, "out of memory");
        return set_error(err, r, "simulator state %s is corrupt", s->state_path);
}

/*
 * Persist after a change; if that fails, go back to the state last
 * written, so that memory never claims what a restart would not find and
 * the caller, told the call failed, finds nothing of it done.
 */
int hv_sim_state_commit(struct hv *hv, char **err)
{
        struct sim *s = sim_of(hv);
        int r = hv_sim_state_save(s, err);

        if (r < 0 && s->saved && parse_state(s, s->saved, NULL) < 0)
                log_error("hv-sim: cannot go back to the last state written to %s after a "
                          "failed write", s->state_path);
        return r;
}

/* The domains as json-c values, read back from the state's text: one writer for both. */
static struct json_object *domains_json(struct sim *s)
{
        _cleanup_free_ char *text = NULL;
        struct json_object *o, *a = NULL;

        if (state_text(s, &text) < 0 || !(o = json_tokener_parse(text)))
                return NULL;
        if (json_object_object_get_ex(o, "domains", &a))
                json_object_get(a);
        json_object_put(o);
        return a;
}

int hv_sim_state_to_json(struct sim *s, struct json_object **ret, char **err)
{
        struct json_object *o = json_object_new_object(), *p, *a, *owners;
        _cleanup_free_ char *ver = strdup_printf("%u.%u", s->major, s->minor);
        uint32_t next = s->rover;
        int r = 0;

        if (!o || !ver) {
                json_object_put(o);
                return set_error(err, -ENOMEM, "out of memory");
        }
        /* The domid the next CreateDomain will get. */
        do {
                if (++next >= SIM_DOMID_FIRST_RESERVED)
                        next = 1;
        } while (hv_sim_state_find(s, next) && next != s->rover);

        p = json_object_new_object();
        if (p) {
                r |= jv_set_str(p, "xen_version", ver);
                r |= jv_set_bool(p, "iommu", s->iommu);
                r |= jv_set_int(p, "platform_spis", s->platform_spis);
                r |= jv_set_int(p, "default_nr_spis", s->default_nr_spis);
                a = json_object_new_array();
                for (size_t i = 0; a && i < s->n_protected; i++)
                        r |= jv_push_str(a, s->protected[i]);
                r |= jv_set_obj(p, "protected", a);
        }
        r |= jv_set_obj(o, "platform", p);
        r |= jv_set_int(o, "next_domid", next);
        r |= jv_set_obj(o, "domains", domains_json(s));
        owners = json_object_new_object();
        for (size_t i = 0; owners && i < s->n_protected; i++) {
                struct sim_domain *d = hv_sim_state_dt_owner(s, s->protected[i]);

                /* json-c spells JSON null as a NULL object: nobody owns it. */
                if (d)
                        r |= jv_set_int(owners, s->protected[i], d->domid);
                else
                        r |= jv_set_null(owners, s->protected[i]);
        }
        r |= jv_set_obj(o, "dt_owners", owners);
        if (r) {
                json_object_put(o);
                return set_error(err, -ENOMEM, "out of memory");
        }
        *ret = o;
        return 0;
}
