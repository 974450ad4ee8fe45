/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated hypervisor: a model of Xen 4.17+ on Arm that enforces the
 * rules and returns the errnos Xen's source does for each passthrough
 * hypercall (see hv.h for the list and where each comes from), so the
 * broker's ordering, rollback and crash recovery can be tested without
 * Xen.  Like Xen, it outlives the daemon: after every successful mutating
 * call the whole state is written to a file atomically (temp file, fsync,
 * rename, fsync of the directory) and it is read back at hv_open, so a
 * kill -9 at any point leaves either the state before or after the call.
 *
 * Simplifications, each deliberate:
 * - dom0 holds iomem permission for everything and IRQ permission for
 *   every platform SPI (Xen gives it its devices' resources plus those
 *   hidden with xen,passthrough).
 * - Every protected device starts unassigned, as if the host DT marked it
 *   xen,passthrough (otherwise Xen would have given it to dom0).
 * - Xen's device tree is not known beyond the protected paths: any other
 *   absolute path is taken to exist, unprotected.
 * - The p2m-populated flag is recorded and reported; Xen's results do not
 *   depend on it because the IOMMU is a creation-time property.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv-explain.h"
#include "hv.h"
#include "log.h"

#define SIM_FORMAT 1
#define SIM_DOMID_FIRST_RESERVED 0x7FF0u
#define SIM_NR_IRQS 1024u               /* Arm NR_IRQS: dom0's nr_pirqs */
#define SIM_PADDR_BITS 48u
#define SIM_STATE_MAX (64u << 20)       /* refuse absurd state files */

struct range {
        uint64_t s, e;                  /* inclusive */
};

struct rangeset {
        struct range *v;
        size_t n, cap;
};

struct mapping {
        uint64_t gfn, mfn, nr;
};

struct sim_domain {
        uint32_t domid;
        char name[HV_NAME_MAX + 1];
        bool passthrough;
        bool populated;
        bool paused;
        bool has_run;
        bool dying;
        unsigned nr_spis;
        struct rangeset iomem;
        struct rangeset irqs;
        struct mapping *maps;
        size_t n_maps, cap_maps;
        uint32_t *spis;
        size_t n_spis, cap_spis;
        char **dt;
        size_t n_dt, cap_dt;
};

struct sim {
        char *state_path;
        unsigned major, minor;
        bool iommu;
        char **protected;
        size_t n_protected;
        unsigned platform_spis;
        unsigned default_nr_spis;
        uint32_t rover;
        struct sim_domain **doms;
        size_t n_doms, cap_doms;
        int efd;
};

/* ---- small containers ---- */

static int rs_add(struct rangeset *rs, uint64_t s, uint64_t e)
{
        struct range *v = malloc((rs->n + 1) * sizeof(*v));
        size_t n = 0, i = 0;

        if (!v)
                return -ENOMEM;
        /* Copy the ranges before, merge the touching ones, copy the rest. */
        for (; i < rs->n && rs->v[i].e < s && s - rs->v[i].e > 1; i++)
                v[n++] = rs->v[i];
        for (; i < rs->n && !(rs->v[i].s > e && rs->v[i].s - e > 1); i++) {
                if (rs->v[i].s < s)
                        s = rs->v[i].s;
                if (rs->v[i].e > e)
                        e = rs->v[i].e;
        }
        v[n++] = (struct range){ s, e };
        for (; i < rs->n; i++)
                v[n++] = rs->v[i];
        free(rs->v);
        rs->v = v;
        rs->n = rs->cap = n;
        return 0;
}

static int rs_remove(struct rangeset *rs, uint64_t s, uint64_t e)
{
        struct range *v = malloc((rs->n + 1) * sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < rs->n; i++) {
                struct range r = rs->v[i];

                if (r.e < s || r.s > e) {
                        v[n++] = r;
                        continue;
                }
                if (r.s < s)
                        v[n++] = (struct range){ r.s, s - 1 };
                if (r.e > e)
                        v[n++] = (struct range){ e + 1, r.e };
        }
        free(rs->v);
        rs->v = v;
        rs->n = rs->cap = n;
        return 0;
}

static bool rs_contains(const struct rangeset *rs, uint64_t s, uint64_t e)
{
        /* Ranges are merged, so a covered span lies in a single range. */
        for (size_t i = 0; i < rs->n; i++)
                if (rs->v[i].s <= s && rs->v[i].e >= e)
                        return true;
        return false;
}

static int maps_remove(struct sim_domain *d, uint64_t gfn, uint64_t nr)
{
        uint64_t gend = gfn + nr - 1;
        struct mapping *v = malloc((d->n_maps + 1) * sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_maps; i++) {
                struct mapping m = d->maps[i];
                uint64_t mend = m.gfn + m.nr - 1;

                if (mend < gfn || m.gfn > gend) {
                        v[n++] = m;
                        continue;
                }
                if (m.gfn < gfn)
                        v[n++] = (struct mapping){ m.gfn, m.mfn, gfn - m.gfn };
                if (mend > gend)
                        v[n++] = (struct mapping){ gend + 1, m.mfn + (gend + 1 - m.gfn),
                                                   mend - gend };
        }
        free(d->maps);
        d->maps = v;
        d->n_maps = d->cap_maps = n;
        return 0;
}

static int maps_add(struct sim_domain *d, uint64_t gfn, uint64_t mfn, uint64_t nr)
{
        size_t pos;
        int r;

        /* Like p2m_set_entry, a new mapping replaces what was there. */
        r = maps_remove(d, gfn, nr);
        if (r < 0)
                return r;
        r = GROW(d->maps, d->cap_maps, d->n_maps);
        if (r < 0)
                return r;
        for (pos = 0; pos < d->n_maps && d->maps[pos].gfn < gfn; pos++)
                ;
        memmove(&d->maps[pos + 1], &d->maps[pos], (d->n_maps - pos) * sizeof(*d->maps));
        d->maps[pos] = (struct mapping){ gfn, mfn, nr };
        d->n_maps++;
        return 0;
}

static bool spi_routed(const struct sim_domain *d, uint32_t irq)
{
        for (size_t i = 0; i < d->n_spis; i++)
                if (d->spis[i] == irq)
                        return true;
        return false;
}

static int spi_add(struct sim_domain *d, uint32_t irq)
{
        size_t pos;
        int r = GROW(d->spis, d->cap_spis, d->n_spis);

        if (r < 0)
                return r;
        for (pos = 0; pos < d->n_spis && d->spis[pos] < irq; pos++)
                ;
        memmove(&d->spis[pos + 1], &d->spis[pos], (d->n_spis - pos) * sizeof(*d->spis));
        d->spis[pos] = irq;
        d->n_spis++;
        return 0;
}

static void spi_remove(struct sim_domain *d, uint32_t irq)
{
        for (size_t i = 0; i < d->n_spis; i++) {
                if (d->spis[i] == irq) {
                        memmove(&d->spis[i], &d->spis[i + 1],
                                (d->n_spis - i - 1) * sizeof(*d->spis));
                        d->n_spis--;
                        return;
                }
        }
}

static ssize_t dt_index(const struct sim_domain *d, const char *path)
{
        for (size_t i = 0; i < d->n_dt; i++)
                if (streq(d->dt[i], path))
                        return (ssize_t)i;
        return -1;
}

static int dt_add(struct sim_domain *d, const char *path)
{
        size_t pos;
        char *p;
        int r = GROW(d->dt, d->cap_dt, d->n_dt);

        if (r < 0)
                return r;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* Sorted, so that GetState does not depend on the order of calls. */
        for (pos = 0; pos < d->n_dt && strcmp(d->dt[pos], path) < 0; pos++)
                ;
        memmove(&d->dt[pos + 1], &d->dt[pos], (d->n_dt - pos) * sizeof(char *));
        d->dt[pos] = p;
        d->n_dt++;
        return 0;
}

static void domain_free(struct sim_domain *d)
{
        if (!d)
                return;
        free(d->iomem.v);
        free(d->irqs.v);
        free(d->maps);
        free(d->spis);
        for (size_t i = 0; i < d->n_dt; i++)
                free(d->dt[i]);
        free(d->dt);
        free(d);
}
DEFINE_FREE_FUNC(struct sim_domain, domain_free)

static void doms_free(struct sim_domain **doms, size_t n)
{
        for (size_t i = 0; i < n; i++)
                domain_free(doms[i]);
        free(doms);
}

/* ---- lookups ---- */

static struct sim *S(struct hv *hv)
{
        return hv_priv(hv);
}

static struct sim_domain *find_domain(struct sim *s, uint32_t domid)
{
        for (size_t i = 0; i < s->n_doms; i++)
                if (s->doms[i]->domid == domid)
                        return s->doms[i];
        return NULL;
}

static struct sim_domain *get_domain(struct hv *hv, uint32_t domid, char **err, int *r)
{
        struct sim_domain *d = find_domain(S(hv), domid);

        if (!d) {
                hv_set_reason(hv, HV_REASON_NO_DOMAIN);
                *r = set_error(err, -ESRCH, "domain %u does not exist", domid);
        }
        return d;
}

static bool is_protected(const struct sim *s, const char *path)
{
        for (size_t i = 0; i < s->n_protected; i++)
                if (streq(s->protected[i], path))
                        return true;
        return false;
}

static struct sim_domain *dt_owner(struct sim *s, const char *path)
{
        for (size_t i = 0; i < s->n_doms; i++)
                if (dt_index(s->doms[i], path) >= 0)
                        return s->doms[i];
        return NULL;
}

static struct sim_domain *spi_owner(struct sim *s, uint32_t irq)
{
        for (size_t i = 0; i < s->n_doms; i++)
                if (spi_routed(s->doms[i], irq))
                        return s->doms[i];
        return NULL;
}

/* dom0 (the caller of every domctl) is permitted each platform SPI. */
static bool caller_irq_permitted(const struct sim *s, uint32_t irq)
{
        return irq >= 32 && irq < 32 + s->platform_spis;
}

static void watch_signal(struct sim *s)
{
        uint64_t one = 1;

        if (s->efd >= 0 && write(s->efd, &one, sizeof(one)) < 0)
                log_debug("hv-sim: cannot signal the watch: %m");
}

/* ---- JSON (state file and GetState) ---- */

static int jadd(struct json_object *o, const char *k, struct json_object *v)
{
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, k, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int jpush(struct json_object *a, struct json_object *v)
{
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *domain_to_json(const struct sim_domain *d)
{
        struct json_object *o = json_object_new_object(), *a;
        int r = 0;

        if (!o)
                return NULL;
        r |= jadd(o, "domid", json_object_new_int64(d->domid));
        r |= jadd(o, "name", json_object_new_string(d->name));
        r |= jadd(o, "passthrough", json_object_new_boolean(d->passthrough));
        r |= jadd(o, "populated", json_object_new_boolean(d->populated));
        r |= jadd(o, "nr_spis", json_object_new_int64(d->nr_spis));
        r |= jadd(o, "paused", json_object_new_boolean(d->paused));
        r |= jadd(o, "has_run", json_object_new_boolean(d->has_run));
        r |= jadd(o, "dying", json_object_new_boolean(d->dying));

        a = json_object_new_array();
        for (size_t i = 0; a && i < d->iomem.n; i++) {
                struct json_object *e = json_object_new_object();

                if (e) {
                        r |= jadd(e, "mfn", json_object_new_int64((int64_t)d->iomem.v[i].s));
                        r |= jadd(e, "nr", json_object_new_int64(
                                (int64_t)(d->iomem.v[i].e - d->iomem.v[i].s + 1)));
                }
                r |= jpush(a, e);
        }
        r |= jadd(o, "iomem", a);

        a = json_object_new_array();
        for (size_t i = 0; a && i < d->n_maps; i++) {
                struct json_object *e = json_object_new_object();

                if (e) {
                        r |= jadd(e, "gfn", json_object_new_int64((int64_t)d->maps[i].gfn));
                        r |= jadd(e, "mfn", json_object_new_int64((int64_t)d->maps[i].mfn));
                        r |= jadd(e, "nr", json_object_new_int64((int64_t)d->maps[i].nr));
                }
                r |= jpush(a, e);
        }
        r |= jadd(o, "mappings", a);

        a = json_object_new_array();
        for (size_t i = 0; a && i < d->irqs.n; i++)
                for (uint64_t q = d->irqs.v[i].s; q <= d->irqs.v[i].e; q++)
                        r |= jpush(a, json_object_new_int64((int64_t)q));
        r |= jadd(o, "irqs", a);

        a = json_object_new_array();
        for (size_t i = 0; a && i < d->n_spis; i++)
                r |= jpush(a, json_object_new_int64(d->spis[i]));
        r |= jadd(o, "spis", a);

        a = json_object_new_array();
        for (size_t i = 0; a && i < d->n_dt; i++)
                r |= jpush(a, json_object_new_string(d->dt[i]));
        r |= jadd(o, "dt_devices", a);

        if (r) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int cmp_dom(const void *a, const void *b)
{
        const struct sim_domain *x = *(struct sim_domain *const *)a;
        const struct sim_domain *y = *(struct sim_domain *const *)b;

        return x->domid < y->domid ? -1 : x->domid > y->domid;
}

static struct json_object *domains_to_json(struct sim *s)
{
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        qsort(s->doms, s->n_doms, sizeof(*s->doms), cmp_dom);
        for (size_t i = 0; i < s->n_doms; i++) {
                if (jpush(a, domain_to_json(s->doms[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
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
        _cleanup_(domain_freep) struct sim_domain *d = calloc(1, sizeof(*d));
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
                if ((r = rs_add(&d->iomem, mfn, mfn + nr - 1)) < 0)
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
                if ((r = maps_add(d, gfn, mfn, nr)) < 0)
                        return r;
        }
        if (!jget(o, "irqs", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t q = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || q < 0 || q >= SIM_NR_IRQS)
                        return -EBADMSG;
                if ((r = rs_add(&d->irqs, (uint64_t)q, (uint64_t)q)) < 0)
                        return r;
        }
        if (!jget(o, "spis", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t q = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || q < 32 || q >= SIM_NR_IRQS)
                        return -EBADMSG;
                if ((r = spi_add(d, (uint32_t)q)) < 0)
                        return r;
        }
        if (!jget(o, "dt_devices", json_type_array, &a))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);

                if (!json_object_is_type(e, json_type_string))
                        return -EBADMSG;
                if ((r = dt_add(d, json_object_get_string(e))) < 0)
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

static int sim_save(struct sim *s, char **err)
{
        struct json_object *o;
        _cleanup_free_ char *tmp = NULL, *dircopy = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        const char *text;
        int r;

        if (!s->state_path)
                return 0;
        o = json_object_new_object();
        if (!o)
                return set_error(err, -ENOMEM, "out of memory");
        r = jadd(o, "format", json_object_new_int(SIM_FORMAT));
        r |= jadd(o, "rover", json_object_new_int64(s->rover));
        r |= jadd(o, "domains", domains_to_json(s));
        text = r ? NULL : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (!text) {
                json_object_put(o);
                return set_error(err, -ENOMEM, "out of memory");
        }

        tmp = strdup_printf("%s.tmp.XXXXXX", s->state_path);
        dircopy = strdup(s->state_path);
        if (!tmp || !dircopy) {
                json_object_put(o);
                return set_error(err, -ENOMEM, "out of memory");
        }
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                json_object_put(o);
                return set_error(err, r, "cannot create %s: %s", tmp, strerror(-r));
        }
        r = write_all(fd, text, strlen(text));
        json_object_put(o);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, s->state_path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return set_error(err, r, "cannot write the simulator state %s: %s",
                                 s->state_path, strerror(-r));
        }
        /* The rename is durable only once the directory is synced. */
        dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) {
                r = -errno;
                return set_error(err, r, "cannot sync the directory of %s: %s", s->state_path,
                                 strerror(-r));
        }
        return 0;
}

/* A kill -9 inside sim_save() can leave its temp file: remove such. */
static void remove_stale_temps(const char *state_path)
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

/* Load the state file into fresh arrays; -ENOENT if there is none. */
static int sim_load(struct sim *s, char **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct json_object *o = NULL, *a;
        struct sim_domain **doms = NULL;
        size_t n = 0, cap = 0, len = 0;
        struct stat st;
        uint64_t rover = 0, fmt = 0;
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

        o = json_tokener_parse(buf);
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

        doms_free(s->doms, s->n_doms);
        s->doms = doms;
        s->n_doms = n;
        s->cap_doms = cap;
        s->rover = (uint32_t)rover;
        return 0;
fail:
        json_object_put(o);
        doms_free(doms, n);
        if (r == -ENOMEM)
                return set_error(err, r, "out of memory");
        return set_error(err, r, "simulator state %s is corrupt", s->state_path);
}

/*
 * Persist after a change; if that fails, fall back to the state on disk
 * so that memory never claims what a restart would not find.
 */
static int commit(struct hv *hv, char **err)
{
        struct sim *s = S(hv);
        int r = sim_save(s, err);

        if (r < 0 && s->state_path) {
                int q = sim_load(s, NULL);

                if (q < 0)
                        log_error("hv-sim: cannot restore %s after a failed write", s->state_path);
        }
        return r;
}

/* ---- backend ops ---- */

static struct sim_domain *new_domain(uint32_t domid, const char *name)
{
        struct sim_domain *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        d->domid = domid;
        snprintf(d->name, sizeof(d->name), "%s", name);
        return d;
}

static void sim_close(struct hv *hv)
{
        struct sim *s = S(hv);

        if (!s)
                return;
        doms_free(s->doms, s->n_doms);
        for (size_t i = 0; i < s->n_protected; i++)
                free(s->protected[i]);
        free(s->protected);
        free(s->state_path);
        if (s->efd >= 0)
                close(s->efd);
        free(s);
        hv_set_priv(hv, NULL);
}

static int sim_open(struct hv *hv, const struct hv_options *o, char **err)
{
        struct sim *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return set_error(err, -ENOMEM, "out of memory");
        s->efd = -1;
        hv_set_priv(hv, s);

        s->major = o->sim_xen_major ? o->sim_xen_major : 4;
        s->minor = o->sim_xen_major ? o->sim_xen_minor : 17;
        s->iommu = o->sim_iommu;
        s->platform_spis = o->sim_platform_spis ? o->sim_platform_spis : HV_MAX_SPIS;
        if (s->platform_spis > HV_MAX_SPIS) {
                sim_close(hv);
                return set_error(err, -EINVAL, "a GIC has at most %u SPIs", HV_MAX_SPIS);
        }
        s->default_nr_spis = o->sim_default_nr_spis < 0 ? s->platform_spis
                                                        : (unsigned)o->sim_default_nr_spis;
        if (s->default_nr_spis > HV_MAX_SPIS) {
                sim_close(hv);
                return set_error(err, -EINVAL, "a domain has at most %u SPIs", HV_MAX_SPIS);
        }
        if (o->sim_n_protected) {
                s->protected = calloc(o->sim_n_protected, sizeof(char *));
                if (!s->protected) {
                        sim_close(hv);
                        return set_error(err, -ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < o->sim_n_protected; i++) {
                        s->protected[i] = strdup(o->sim_protected[i]);
                        if (!s->protected[i]) {
                                sim_close(hv);
                                return set_error(err, -ENOMEM, "out of memory");
                        }
                        s->n_protected++;
                }
        }
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->efd < 0) {
                r = -errno;
                sim_close(hv);
                return set_error(err, r, "cannot create the simulator's watch eventfd: %s",
                                 strerror(-r));
        }

        if (o->sim_state_path) {
                s->state_path = strdup(o->sim_state_path);
                if (!s->state_path) {
                        sim_close(hv);
                        return set_error(err, -ENOMEM, "out of memory");
                }
                remove_stale_temps(s->state_path);
                r = sim_load(s, err);
                if (r >= 0) {
                        log_debug("hv-sim: loaded %zu domains from %s", s->n_doms,
                                  s->state_path);
                        return 0;
                }
                if (r != -ENOENT) {
                        if (err && !*err)
                                set_error(err, r, "cannot open the simulator state %s: %s",
                                          s->state_path, strerror(-r));
                        sim_close(hv);
                        return r;
                }
        }

        /* A fresh machine: dom0 only, like Xen after boot. */
        r = GROW(s->doms, s->cap_doms, 0);
        if (r >= 0) {
                s->doms[0] = new_domain(0, "Domain-0");
                r = s->doms[0] ? 0 : -ENOMEM;
        }
        if (r < 0) {
                sim_close(hv);
                return set_error(err, r, "out of memory");
        }
        s->n_doms = 1;
        s->doms[0]->has_run = true;
        s->doms[0]->passthrough = s->iommu;
        s->doms[0]->nr_spis = s->platform_spis;
        r = sim_save(s, err);
        if (r < 0) {
                sim_close(hv);
                return r;
        }
        return 0;
}

static int sim_version(struct hv *hv, unsigned *major, unsigned *minor, char **err)
{
        *major = S(hv)->major;
        *minor = S(hv)->minor;
        return 0;
}

static int sim_platform_has_iommu(struct hv *hv, bool *ret, char **err)
{
        *ret = S(hv)->iommu;
        return 0;
}

/* The simulated dom0 owns no device, so it has no SPI routed to it. */
static int sim_dom0_spi_routed(struct hv *hv, uint32_t irq, char **err)
{
        struct sim_domain *owner = spi_owner(S(hv), irq);

        return owner && owner->domid == 0;
}

static void fill_info(const struct sim_domain *d, struct hv_domain_info *i)
{
        memset(i, 0, sizeof(*i));
        i->domid = d->domid;
        i->dying = d->dying;
        i->paused = d->paused;
        i->shutdown = false;
        i->has_run = d->has_run ? HV_YES : HV_NO;
        i->passthrough = d->passthrough ? HV_YES : HV_NO;
        i->nr_spis = (int)d->nr_spis;
        snprintf(i->name, sizeof(i->name), "%s", d->name);
}

static int sim_domain_info(struct hv *hv, uint32_t domid, struct hv_domain_info *ret, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        fill_info(d, ret);
        return 0;
}

static int sim_list_domains(struct hv *hv, struct hv_domain_info **ret, size_t *n, char **err)
{
        struct sim *s = S(hv);
        struct hv_domain_info *v = calloc(s->n_doms ? s->n_doms : 1, sizeof(*v));

        if (!v)
                return set_error(err, -ENOMEM, "out of memory");
        qsort(s->doms, s->n_doms, sizeof(*s->doms), cmp_dom);
        for (size_t i = 0; i < s->n_doms; i++)
                fill_info(s->doms[i], &v[i]);
        *ret = v;
        *n = s->n_doms;
        return 0;
}

static int sim_domain_name(struct hv *hv, uint32_t domid, char **ret, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);
        char *p;

        if (!d)
                return r;
        if (!d->name[0])
                return set_error(err, -ENOENT, "domain %u has no name", domid);
        p = strdup(d->name);
        if (!p)
                return set_error(err, -ENOMEM, "out of memory");
        *ret = p;
        return 0;
}

static int sim_iomem_permission(struct hv *hv, uint32_t domid, uint64_t mfn, uint64_t nr,
                                bool allow, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if (nr == 0 || mfn + nr - 1 < mfn) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "iomem range of %" PRIu64 " frames at 0x%" PRIx64
                                 " is empty or wraps", nr, mfn);
        }
        r = allow ? rs_add(&d->iomem, mfn, mfn + nr - 1) : rs_remove(&d->iomem, mfn, mfn + nr - 1);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return commit(hv, err);
}

static int sim_memory_mapping(struct hv *hv, uint32_t domid, uint64_t gfn, uint64_t mfn,
                              uint64_t nr, bool add, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);
        uint64_t mend = mfn + nr - 1;

        if (!d)
                return r;
        if (nr == 0 || mend < mfn || ((mfn | mend) >> (SIM_PADDR_BITS - HV_PAGE_SHIFT)) ||
            gfn + nr - 1 < gfn) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "mapping of %" PRIu64 " frames 0x%" PRIx64
                                 " -> 0x%" PRIx64 " is empty, wraps or exceeds %u address bits",
                                 nr, mfn, gfn, SIM_PADDR_BITS);
        }
        /* Xen checks the target's permission when removing too. */
        if (!rs_contains(&d->iomem, mfn, mend)) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, -EPERM, "domain %u has no iomem permission for frames "
                                 "0x%" PRIx64 "-0x%" PRIx64 " (%s)", domid, mfn, mend,
                                 add ? "grant iomem_permission first"
                                     : "remove the mapping before revoking the permission");
        }
        r = add ? maps_add(d, gfn, mfn, nr) : maps_remove(d, gfn, nr);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return commit(hv, err);
}

static int sim_irq_permission(struct hv *hv, uint32_t domid, uint32_t irq, bool allow,
                              char **err)
{
        struct sim *s = S(hv);
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        /*
         * Xen 4.20 compiles the handler only where pirqs exist (x86); on
         * Arm the domctl falls through to XSM, which answers EILSEQ.
         */
        if (s->major > 4 || (s->major == 4 && s->minor >= 20)) {
                hv_set_reason(hv, HV_REASON_NOT_IMPLEMENTED);
                return set_error(err, -EILSEQ, "Xen %u.%u has no XEN_DOMCTL_irq_permission on "
                                 "Arm", s->major, s->minor);
        }
        if (irq >= SIM_NR_IRQS) {
                hv_set_reason(hv, HV_REASON_BAD_RANGE);
                return set_error(err, -EINVAL, "IRQ %u is beyond dom0's %u pirqs", irq,
                                 SIM_NR_IRQS);
        }
        if (!caller_irq_permitted(s, irq)) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                return set_error(err, -EPERM, "dom0 has no permission over IRQ %u to grant (not "
                                 "an SPI of this platform)", irq);
        }
        r = allow ? rs_add(&d->irqs, irq, irq) : rs_remove(&d->irqs, irq, irq);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return commit(hv, err);
}

/* The checks XEN_DOMCTL_{bind,unbind}_pt_irq share on Arm, in Xen's order. */
static struct sim_domain *spi_domctl_checks(struct hv *hv, uint32_t domid, uint32_t virq,
                                            uint32_t irq, char **err, int *r)
{
        struct sim *s = S(hv);
        struct sim_domain *d = get_domain(hv, domid, err, r);

        if (!d)
                return NULL;
        if (virq != irq) {
                hv_set_reason(hv, HV_REASON_NOT_SPI);
                *r = set_error(err, -EINVAL, "Xen on Arm routes SPIs 1:1 only (vIRQ %u != IRQ "
                               "%u)", virq, irq);
                return NULL;
        }
        if (!caller_irq_permitted(s, irq)) {
                hv_set_reason(hv, HV_REASON_NO_PERMISSION);
                *r = set_error(err, -EPERM, "IRQ %u is not an SPI dom0 may route (platform "
                               "SPIs are 32-%u)", irq, 31 + s->platform_spis);
                return NULL;
        }
        return d;
}

static int sim_bind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err)
{
        struct sim *s = S(hv);
        struct sim_domain *owner;
        int r = 0;
        struct sim_domain *d = spi_domctl_checks(hv, domid, virq, irq, err, &r);

        if (!d)
                return r;

        owner = spi_owner(s, irq);
        {
                struct hv_bind_facts f = {
                        .domid = domid,
                        .irq = irq,
                        .xen_major = s->major,
                        .xen_minor = s->minor,
                        .nr_spis = (int)d->nr_spis,
                        .has_run = d->has_run ? HV_YES : HV_NO,
                        .routed_here = owner == d ? HV_YES : HV_NO,
                        .owner = owner ? (int)owner->domid : -1,
                        .owner_known = HV_YES,
                };
                bool busy = irq >= 32 + d->nr_spis || owner ||
                            (hv_version_routes_only_before_run(s->major, s->minor) &&
                             d->has_run);

                if (busy) {
                        _cleanup_free_ char *why = NULL;

                        hv_set_reason(hv, hv_explain_bind_busy(&f, &why));
                        return set_error(err, -EBUSY, "%s", why ? why : "SPI busy");
                }
        }
        r = spi_add(d, irq);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return commit(hv, err);
}

static int sim_unbind_spi(struct hv *hv, uint32_t domid, uint32_t virq, uint32_t irq, char **err)
{
        int r = 0;
        struct sim_domain *d = spi_domctl_checks(hv, domid, virq, irq, err, &r);

        if (!d)
                return r;
        if (irq >= 32 + d->nr_spis || !spi_routed(d, irq)) {
                hv_set_reason(hv, HV_REASON_SPI_NOT_ROUTED);
                return set_error(err, -EINVAL, "SPI %u is not routed to domain %u", irq, domid);
        }
        if (!d->dying) {
                hv_set_reason(hv, HV_REASON_UNBIND_LIVE_DOMAIN);
                return set_error(err, -EBUSY, "SPI %u cannot be unbound from domain %u: Xen "
                                 "removes a routed SPI only from a dying domain (it is freed "
                                 "when the domain is destroyed)", irq, domid);
        }
        spi_remove(d, irq);
        return commit(hv, err);
}

/* iommu_do_domctl's first check, common to the three DT calls. */
static int dt_iommu_check(struct hv *hv, const struct sim_domain *d, const char *path,
                          const char *what, char **err)
{
        struct sim *s = S(hv);

        if (!s->iommu || !d->passthrough) {
                _cleanup_free_ char *why = NULL;

                hv_set_reason(hv, hv_explain_dt_error(
                        streq(what, "assign") ? HV_STEP_ASSIGN_DT
                        : streq(what, "deassign") ? HV_STEP_DEASSIGN_DT : HV_STEP_TEST_ASSIGN_DT,
                        -EOPNOTSUPP, d->domid, path, s->iommu ? HV_YES : HV_NO, HV_NO, HV_YES,
                        &why));
                return set_error(err, -EOPNOTSUPP, "%s", why ? why : "no IOMMU");
        }
        return 0;
}

static int dt_path_check(struct hv *hv, const char *path, char **err)
{
        if (!path || path[0] != '/') {
                hv_set_reason(hv, HV_REASON_DEVICE_NOT_FOUND);
                return set_error(err, -ESRCH, "Xen's device tree has no node %s",
                                 path ? path : "(null)");
        }
        return 0;
}

static int sim_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        struct sim *s = S(hv);
        struct sim_domain *owner;
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if ((r = dt_iommu_check(hv, d, path, "assign", err)) < 0)
                return r;
        if (d->dying) {
                hv_set_reason(hv, HV_REASON_DOMAIN_DYING);
                return set_error(err, -EINVAL, "domain %u is dying", domid);
        }
        if ((r = dt_path_check(hv, path, err)) < 0)
                return r;
        if (!is_protected(s, path)) {
                hv_set_reason(hv, HV_REASON_DEVICE_UNPROTECTED);
                return set_error(err, -EINVAL, "%s cannot be assigned through the IOMMU: no "
                                 "IOMMU protects it", path);
        }
        owner = dt_owner(s, path);
        if (owner) {
                hv_set_reason(hv, HV_REASON_DEVICE_ASSIGNED);
                return set_error(err, -EBUSY, "%s is already assigned to domain %u", path,
                                 owner->domid);
        }
        r = dt_add(d, path);
        if (r < 0)
                return set_error(err, r, "out of memory");
        return commit(hv, err);
}

static int sim_deassign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        struct sim *s = S(hv);
        ssize_t idx;
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if ((r = dt_iommu_check(hv, d, path, "deassign", err)) < 0)
                return r;
        if ((r = dt_path_check(hv, path, err)) < 0)
                return r;
        if (!is_protected(s, path)) {
                hv_set_reason(hv, HV_REASON_DEVICE_UNPROTECTED);
                return set_error(err, -EINVAL, "%s is not protected by an IOMMU", path);
        }
        idx = dt_index(d, path);
        if (idx < 0) {
                hv_set_reason(hv, HV_REASON_DEVICE_NOT_ATTACHED);
                return set_error(err, -ESRCH, "%s is not attached to domain %u", path, domid);
        }
        free(d->dt[idx]);
        memmove(&d->dt[idx], &d->dt[idx + 1], (d->n_dt - (size_t)idx - 1) * sizeof(char *));
        d->n_dt--;
        return commit(hv, err);
}

static int sim_test_assign_dt(struct hv *hv, uint32_t domid, const char *path, char **err)
{
        struct sim *s = S(hv);
        struct sim_domain *d = NULL, *owner;
        int r = 0;

        if (domid == HV_DOMID_INVALID) {
                if (!s->iommu) {
                        hv_set_reason(hv, HV_REASON_NO_IOMMU);
                        return set_error(err, -EOPNOTSUPP, "Xen has no IOMMU enabled on this "
                                         "platform");
                }
        } else {
                d = get_domain(hv, domid, err, &r);
                if (!d)
                        return r;
                if ((r = dt_iommu_check(hv, d, path, "test", err)) < 0)
                        return r;
                if (d->dying) {
                        hv_set_reason(hv, HV_REASON_DOMAIN_DYING);
                        return set_error(err, -EINVAL, "domain %u is dying", domid);
                }
        }
        if ((r = dt_path_check(hv, path, err)) < 0)
                return r;
        /* Xen's quirk: an unprotected device always "can be assigned". */
        owner = is_protected(s, path) ? dt_owner(s, path) : NULL;
        if (owner) {
                hv_set_reason(hv, HV_REASON_DEVICE_ASSIGNED);
                return set_error(err, -EINVAL, "%s is already assigned to domain %u", path,
                                 owner->domid);
        }
        return 0;
}

static int sim_watch_fd(struct hv *hv, char **err)
{
        return S(hv)->efd;
}

static int sim_watch_drain(struct hv *hv, bool *changed, char **err)
{
        uint64_t v;
        ssize_t n = read(S(hv)->efd, &v, sizeof(v));

        if (n < 0 && errno != EAGAIN && errno != EINTR)
                return set_error(err, -errno, "cannot read the simulator's watch: %m");
        *changed = n == (ssize_t)sizeof(v) && v > 0;
        return 0;
}

/* ---- simulator controls ---- */

int sim_create_domain(struct hv *hv, const char *name, bool passthrough, bool populated,
                      int nr_spis, uint32_t *domid, char **err)
{
        struct sim *s = S(hv);
        _cleanup_(domain_freep) struct sim_domain *d = NULL;
        uint32_t id = s->rover;
        int r;

        if (!name || !*name)
                return set_error(err, -EINVAL, "a domain needs a name");
        if (strlen(name) > HV_NAME_MAX)
                return set_error(err, -ENAMETOOLONG, "domain name longer than %u bytes",
                                 HV_NAME_MAX);
        for (size_t i = 0; i < s->n_doms; i++)
                if (streq(s->doms[i]->name, name))
                        return set_error(err, -EEXIST, "a domain named \"%s\" exists (domain %u)",
                                         name, s->doms[i]->domid);
        if (passthrough && !s->iommu) {
                hv_set_reason(hv, HV_REASON_NO_IOMMU);
                return set_error(err, -EINVAL, "cannot create \"%s\" with passthrough: the "
                                 "platform has no IOMMU enabled", name);
        }
        if (nr_spis > (int)HV_MAX_SPIS)
                return set_error(err, -EINVAL, "nr_spis %d exceeds %u", nr_spis, HV_MAX_SPIS);

        /* Xen's rover: next free domid above the last one, wrapping to 1. */
        for (unsigned tries = 0;; tries++) {
                if (tries >= SIM_DOMID_FIRST_RESERVED)
                        return set_error(err, -ENOMEM, "no free domid");
                if (++id >= SIM_DOMID_FIRST_RESERVED)
                        id = 1;
                if (!find_domain(s, id))
                        break;
        }
        d = new_domain(id, name);
        if (!d)
                return set_error(err, -ENOMEM, "out of memory");
        d->passthrough = passthrough;
        d->populated = populated;
        d->paused = true;
        d->nr_spis = nr_spis < 0 ? s->default_nr_spis : (unsigned)nr_spis;
        r = GROW(s->doms, s->cap_doms, s->n_doms);
        if (r < 0)
                return set_error(err, r, "out of memory");
        s->doms[s->n_doms++] = steal_ptr(d);
        s->rover = id;
        r = commit(hv, err);
        if (r < 0)
                return r;
        watch_signal(s);
        *domid = id;
        return 0;
}

int sim_create_domain_xl(struct hv *hv, const char *name, bool passthrough, bool populated,
                         int nr_spis, const struct hv_sim_xl_grants *g, uint32_t *domid,
                         char **err)
{
        _cleanup_free_ char *why = NULL;
        const char *what = NULL;
        uint32_t id;
        int r;

        if (nr_spis < 0) {
                nr_spis = 0;
                for (size_t i = 0; i < g->n_irqs; i++)
                        if (g->irqs[i] >= 32 && (int)(g->irqs[i] - 32 + 1) > nr_spis)
                                nr_spis = (int)(g->irqs[i] - 32 + 1);
        }
        r = sim_create_domain(hv, name, passthrough, populated, nr_spis, &id, err);
        if (r < 0)
                return r;

        /* xl on Arm only binds: Xen checks the caller's IRQ permission, not the target's. */
        for (size_t i = 0; i < g->n_irqs && r >= 0; i++) {
                r = sim_bind_spi(hv, id, g->irqs[i], g->irqs[i], &why);
                what = "irqs";
        }
        for (size_t i = 0; i < g->n_iomem && r >= 0; i++) {
                const struct hv_sim_iomem *m = &g->iomem[i];

                what = "iomem";
                r = sim_iomem_permission(hv, id, m->mfn, m->nr, true, &why);
                if (r >= 0)
                        r = sim_memory_mapping(hv, id, m->gfn, m->mfn, m->nr, true, &why);
        }
        for (size_t i = 0; i < g->n_dtdevs && r >= 0; i++) {
                what = "dtdev";
                r = sim_assign_dt(hv, id, g->dtdevs[i], &why);
        }
        if (r < 0) {
                enum hv_reason reason = hv_last_reason(hv);

                /* xl destroys a domain whose creation failed. */
                sim_destroy_domain(hv, id, NULL);
                hv_set_reason(hv, reason);
                return set_error(err, r, "%s: %s (xl would fail and destroy the domain)", what,
                                 why ? why : strerror(-r));
        }
        *domid = id;
        return 0;
}

int sim_kill_domain(struct hv *hv, uint32_t domid, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if (domid == 0)
                return set_error(err, -EPERM, "dom0 cannot be destroyed");
        if (d->dying)
                return 0;
        d->dying = true;
        r = commit(hv, err);
        if (r >= 0)
                watch_signal(S(hv));
        return r;
}

static int destroy_domain(struct hv *hv, uint32_t domid, bool signal, char **err)
{
        struct sim *s = S(hv);
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if (domid == 0)
                return set_error(err, -EPERM, "dom0 cannot be destroyed");
        /*
         * Everything the domain held goes with it: its IOMMU devices return
         * to DOMID_IO (nobody), its routed SPIs are released.
         */
        for (size_t i = 0; i < s->n_doms; i++) {
                if (s->doms[i] == d) {
                        memmove(&s->doms[i], &s->doms[i + 1],
                                (s->n_doms - i - 1) * sizeof(*s->doms));
                        s->n_doms--;
                        break;
                }
        }
        domain_free(d);
        r = commit(hv, err);
        if (r >= 0 && signal)
                watch_signal(s);
        return r;
}

int sim_destroy_domain(struct hv *hv, uint32_t domid, char **err)
{
        return destroy_domain(hv, domid, true, err);
}

int sim_reap_domain(struct hv *hv, uint32_t domid, char **err)
{
        struct sim_domain *d;
        int r = 0;

        d = get_domain(hv, domid, err, &r);
        if (!d)
                return r;
        if (!d->dying)
                return set_error(err, -EBUSY, "domain %u is not dying: KillDomain first", domid);
        return destroy_domain(hv, domid, false, err);
}

int sim_populate_memory(struct hv *hv, uint32_t domid, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if (d->populated)
                return 0;
        d->populated = true;
        return commit(hv, err);
}

int sim_set_paused(struct hv *hv, uint32_t domid, bool paused, char **err)
{
        int r = 0;
        struct sim_domain *d = get_domain(hv, domid, err, &r);

        if (!d)
                return r;
        if (d->dying)
                return set_error(err, -EINVAL, "domain %u is dying", domid);
        d->paused = paused;
        if (!paused)
                d->has_run = true;      /* Xen: creation_finished */
        return commit(hv, err);
}

int sim_get_state_json(struct hv *hv, struct json_object **ret, char **err)
{
        struct sim *s = S(hv);
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
        } while (find_domain(s, next) && next != s->rover);

        p = json_object_new_object();
        if (p) {
                r |= jadd(p, "xen_version", json_object_new_string(ver));
                r |= jadd(p, "iommu", json_object_new_boolean(s->iommu));
                r |= jadd(p, "platform_spis", json_object_new_int64(s->platform_spis));
                r |= jadd(p, "default_nr_spis", json_object_new_int64(s->default_nr_spis));
                a = json_object_new_array();
                for (size_t i = 0; a && i < s->n_protected; i++)
                        r |= jpush(a, json_object_new_string(s->protected[i]));
                r |= jadd(p, "protected", a);
        }
        r |= jadd(o, "platform", p);
        r |= jadd(o, "next_domid", json_object_new_int64(next));
        r |= jadd(o, "domains", domains_to_json(s));
        owners = json_object_new_object();
        for (size_t i = 0; owners && i < s->n_protected; i++) {
                struct sim_domain *d = dt_owner(s, s->protected[i]);

                /* json-c spells JSON null as a NULL object: nobody owns it. */
                if (d)
                        r |= jadd(owners, s->protected[i], json_object_new_int64(d->domid));
                else if (json_object_object_add(owners, s->protected[i], NULL) < 0)
                        r = -ENOMEM;
        }
        r |= jadd(o, "dt_owners", owners);
        if (r) {
                json_object_put(o);
                return set_error(err, -ENOMEM, "out of memory");
        }
        *ret = o;
        return 0;
}

const struct hv_ops hv_sim_ops = {
        .name = "sim",
        .open = sim_open,
        .close = sim_close,
        .version = sim_version,
        .platform_has_iommu = sim_platform_has_iommu,
        .domain_info = sim_domain_info,
        .list_domains = sim_list_domains,
        .domain_name = sim_domain_name,
        .iomem_permission = sim_iomem_permission,
        .memory_mapping = sim_memory_mapping,
        .irq_permission = sim_irq_permission,
        .dom0_spi_routed = sim_dom0_spi_routed,
        .bind_spi = sim_bind_spi,
        .unbind_spi = sim_unbind_spi,
        .assign_dt = sim_assign_dt,
        .deassign_dt = sim_deassign_dt,
        .test_assign_dt = sim_test_assign_dt,
        .watch_fd = sim_watch_fd,
        .watch_drain = sim_watch_drain,
};
