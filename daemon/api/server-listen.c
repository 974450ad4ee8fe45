/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the server listens (see server.h): a socket systemd passed, one
 * passed as a descriptor, or a path it binds itself, replacing a stale
 * socket only when nothing answers on it (the file-system helpers are
 * server-socket.c's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "limit.h"
#include "log.h"
#include "server-private.h"
#include "server-socket.h"

int server_listen_fd(struct server *s, int fd, char **err)
{
        int flags, r;

        if (s->listen_fd >= 0)
                return set_error(err, -EBUSY, "the server is already listening");
        r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
        if (r < 0)
                return set_error(err, r, "fd %d: %s", fd, strerror(-r));
        if (r == 0)
                return set_error(err, -ENOTSOCK, "fd %d is not a listening UNIX stream socket",
                                 fd);
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return set_error(err, -errno, "fd %d: %s", fd, strerror(errno));
        r = server_start_listening(s, fd);
        if (r < 0)
                return set_error(err, r, "cannot watch fd %d", fd);
        return 0;
}

int server_listen_systemd(struct server *s, char **err)
{
        int n, r;

        n = sd_listen_fds(1);
        if (n < 0)
                return set_error(err, n, "sd_listen_fds: %s", strerror(-n));
        if (n == 0)
                return 0;
        if (n > 1)
                return set_error(err, -EINVAL,
                                 "systemd passed %d sockets; assignd.socket must have exactly one",
                                 n);
        r = server_listen_fd(s, SD_LISTEN_FDS_START, err);
        return r < 0 ? r : 1;
}

int server_listen_path(struct server *s, const char *path, char **err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (s->listen_fd >= 0)
                return set_error(err, -EBUSY, "the server is already listening");
        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
                return set_error(err, -ENAMETOOLONG, "socket path \"%s\" is too long (max %zu)",
                                 path ? path : "", sizeof(sa.sun_path) - 1);
        memcpy(sa.sun_path, path, strlen(path) + 1);

        r = server_socket_mkdir_parents(path);
        if (r < 0)
                return set_error(err, r, "cannot create the directory of %s: %s", path,
                                 strerror(-r));

        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return set_error(err, -EEXIST, "%s exists and is not a socket", path);
                r = server_socket_in_use(&sa);
                if (r < 0)
                        return set_error(err, r, "cannot probe %s: %s", path, strerror(-r));
                if (r > 0)
                        return set_error(err, -EADDRINUSE,
                                         "%s: another process is listening on it (is assignd "
                                         "already running?)",
                                         path);
                if (unlink(path) < 0 && errno != ENOENT)
                        return set_error(err, -errno, "cannot remove stale socket %s: %s", path,
                                         strerror(errno));
                log_info("removed stale socket %s", path);
        } else if (errno != ENOENT) {
                return set_error(err, -errno, "%s: %s", path, strerror(errno));
        }

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return set_error(err, -errno, "socket: %s", strerror(errno));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return set_error(err, -errno, "bind %s: %s", path, strerror(errno));
        if (chmod(path, 0666) < 0 || lstat(path, &st) < 0) {
                r = -errno;
                unlink(path);
                return set_error(err, r, "%s: %s", path, strerror(-r));
        }
        if (listen(fd, LIMIT_LISTEN_BACKLOG) < 0) {
                r = -errno;
                unlink(path);
                return set_error(err, r, "listen %s: %s", path, strerror(-r));
        }

        s->bound_path = strdup(path);
        if (!s->bound_path) {
                unlink(path);
                return -ENOMEM;
        }
        s->bound_dev = st.st_dev;
        s->bound_ino = st.st_ino;
        r = server_start_listening(s, fd);
        if (r < 0) {
                unlink(path);
                free(s->bound_path);
                s->bound_path = NULL;
                return set_error(err, r, "cannot watch the socket");
        }
        fd = -1;
        return 0;
}
