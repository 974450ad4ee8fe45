/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small blocking Varlink client for assignctl and the tests: one socket,
 * one call at a time (or a "more" stream read reply by reply).  It applies
 * the same size cap as the server, so a broken or hostile server cannot
 * make it allocate without bound either.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "utf8.h"
#include "util.h"
#include "varlink.h"

struct vl_client {
        int fd;
        struct vl_rbuf rb;
};

void vl_client_free(struct vl_client *c)
{
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd);
        vl_rbuf_clear(&c->rb);
        free(c);
}

DEFINE_FREE_FUNC(struct vl_client, vl_client_free)

int vl_client_connect(const char *path, struct vl_client **ret)
{
        _cleanup_(vl_client_freep) struct vl_client *c = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (!path || strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        vl_rbuf_init_max(&c->rb, VL_MAX_REPLY);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        do
                r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;

        *ret = steal_ptr(c);
        return 0;
}

int vl_client_fd(const struct vl_client *c)
{
        return c->fd;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

int vl_client_send(struct vl_client *c, const char *method, struct json_object *params,
                   unsigned flags)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        const char *s;
        size_t len;

        if (!method || ((flags & VL_CALL_MORE) && (flags & VL_CALL_ONEWAY)))
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (json_object_object_add(o, "method", json_object_new_string(method)) < 0)
                return -ENOMEM;
        if (params && json_object_object_add(o, "parameters", json_object_get(params)) < 0)
                return -ENOMEM;
        if ((flags & VL_CALL_MORE) &&
            json_object_object_add(o, "more", json_object_new_boolean(1)) < 0)
                return -ENOMEM;
        if ((flags & VL_CALL_ONEWAY) &&
            json_object_object_add(o, "oneway", json_object_new_boolean(1)) < 0)
                return -ENOMEM;

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        len = strlen(s);
        if (!utf8_valid(s, len))
                return -EILSEQ;
        if (len > VL_MAX_MESSAGE)
                return -EMSGSIZE;
        /* The terminating NUL of the C string is the message delimiter. */
        return write_all(c->fd, s, len + 1);
}

static int parse_reply(const char *msg, struct json_object **params, char **error,
                       bool *continues)
{
        _cleanup_(vl_json_unrefp) struct json_object *o = NULL;
        struct json_object *v;
        _cleanup_(vl_json_unrefp) struct json_object *p = NULL;
        _cleanup_free_ char *e = NULL;
        bool cont = false;

        if (vl_parse_json(msg, &o, NULL) < 0 || !json_object_is_type(o, json_type_object))
                return -EBADMSG;

        if (json_object_object_get_ex(o, "parameters", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return -EBADMSG;
                p = json_object_get(v);
        } else {
                p = json_object_new_object();
                if (!p)
                        return -ENOMEM;
        }
        if (json_object_object_get_ex(o, "error", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                e = strdup(json_object_get_string(v));
                if (!e)
                        return -ENOMEM;
        }
        if (json_object_object_get_ex(o, "continues", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return -EBADMSG;
                cont = json_object_get_boolean(v);
        }

        *params = steal_ptr(p);
        *error = steal_ptr(e);
        *continues = cont;
        return 0;
}

int vl_client_recv(struct vl_client *c, struct json_object **params, char **error,
                   bool *continues)
{
        for (;;) {
                _cleanup_free_ char *msg = NULL;
                int r = vl_rbuf_next(&c->rb, &msg);

                if (r < 0)
                        return r;
                if (r > 0)
                        return parse_reply(msg, params, error, continues);

                r = vl_rbuf_read(&c->rb, c->fd);
                if (r == 0)
                        return -ECONNRESET;
                if (r == -EMSGSIZE)
                        return -EBADMSG;
                /* Only a receive timeout set on the socket makes a blocking read say this. */
                if (r == -EAGAIN)
                        return -ETIMEDOUT;
                if (r < 0)
                        return r;
        }
}

int vl_client_call(struct vl_client *c, const char *method, struct json_object *params,
                   struct json_object **reply, char **error)
{
        _cleanup_(vl_json_unrefp) struct json_object *p = NULL;
        _cleanup_free_ char *e = NULL;
        bool continues = false;
        int r;

        r = vl_client_send(c, method, params, 0);
        if (r < 0)
                return r;
        r = vl_client_recv(c, &p, &e, &continues);
        if (r < 0)
                return r;
        /* A plain call must get exactly one reply. */
        if (continues)
                return -EBADMSG;
        *reply = steal_ptr(p);
        *error = steal_ptr(e);
        return 0;
}
