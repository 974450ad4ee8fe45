/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of proto/: the IDL parser on the real interface files and on
 * broken ones (each error must carry the right line), the validator's
 * accept/reject rules, framing across and within reads including the exact
 * size cap, request parsing, reply serialisation and the blocking client
 * against a forked echo server.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "testlib.h"
#include "varlink.h"

static struct json_object *J(const char *s)
{
        struct json_object *o = json_tokener_parse(s);

        if (!o) {
                fprintf(stderr, "bad test JSON: %s\n", s);
                abort();
        }
        return o;
}

static void test_embedded(void)
{
        bool have_broker = false, have_service = false;

        CHECK(vl_n_embedded_interfaces >= 2);
        for (size_t i = 0; i < vl_n_embedded_interfaces; i++) {
                struct vl_interface *iface = NULL;
                char *err = NULL;
                int r = vl_interface_parse(vl_embedded_interfaces[i].text, &iface, &err);

                CHECK_MSG(r == 0, "%s: %s", vl_embedded_interfaces[i].name, err ? err : "?");
                if (r == 0) {
                        CHECK_STR(vl_interface_name(iface), vl_embedded_interfaces[i].name);
                        CHECK_STR(vl_interface_text(iface), vl_embedded_interfaces[i].text);
                }
                vl_interface_free(iface);
                free(err);
                have_broker |= streq(vl_embedded_interfaces[i].name, "io.assignd.Broker");
                have_service |= streq(vl_embedded_interfaces[i].name, "org.varlink.service");
        }
        CHECK(have_broker);
        CHECK(have_service);
        CHECK(vl_embedded_find("io.assignd.Broker") != NULL);
        CHECK(vl_embedded_find("io.assignd.Nope") == NULL);
}

static void test_broker_interface(void)
{
        struct vl_interface *iface = NULL;
        char *err = NULL, *bad = NULL;
        const struct vl_method *m;
        struct json_object *o;

        CHECK_INT(vl_interface_parse(vl_embedded_find("io.assignd.Broker"), &iface, &err), 0);
        if (!iface)
                return;
        /* The inventory methods; later issues add more. */
        CHECK(vl_interface_n_methods(iface) >= 4);
        CHECK(vl_interface_method(iface, "ListDevices") != NULL);
        CHECK(vl_interface_method(iface, "GetDevice") != NULL);
        CHECK(vl_interface_method(iface, "SetDevicePolicy") != NULL);
        for (size_t i = 0; i < vl_interface_n_methods(iface); i++)
                CHECK(vl_interface_method(iface, vl_method_name(vl_interface_method_at(iface, i))) ==
                      vl_interface_method_at(iface, i));
        CHECK(vl_interface_method_at(iface, 99) == NULL);
        CHECK(vl_interface_method(iface, "GetStatus") != NULL);
        CHECK(vl_interface_method(iface, "Nope") == NULL);
        CHECK(vl_interface_has_error(iface, "DeviceNotFound"));
        CHECK(vl_interface_has_error(iface, "UnprotectedDevice"));
        /* Refusals by permission are the standard org.varlink.service error. */
        CHECK(!vl_interface_has_error(iface, "PermissionDenied"));
        CHECK(!vl_interface_has_error(iface, "Device"));

        m = vl_interface_method(iface, "ListDevices");
        o = J("{\"coverage\": \"protected\", \"assignable\": true, \"owner\": null}");
        CHECK_INT(vl_validate_input(iface, m, o, &bad), 0);
        CHECK_INT(vl_validate_input(iface, m, NULL, &bad), 0);
        json_object_put(o);

        /* A realistic Device reply, then one broken deep inside. */
        m = vl_interface_method(iface, "GetDevice");
        o = J("{\"device\": {\"path\": \"/soc/dma@1000\", \"compatible\": [\"a,b\"],"
              " \"regions\": [{\"base\": 4096, \"size\": 4096}],"
              " \"interrupts\": [{\"class\": \"spi\", \"hwirq\": 42, \"controller\": \"/gic\"},"
              "  {\"class\": \"not-gic\", \"hwirq\": null, \"controller\": \"/gpc\"}],"
              " \"iommu\": {\"coverage\": \"protected\", \"iommus\": [{\"iommu\": \"/smmu\", \"ids\": [1, 2]}]},"
              " \"dma\": \"master\", \"dma_source\": \"iommus\", \"assignable\": true, \"reason\": null,"
              " \"group\": [], \"policy\": {\"dma\": null, \"assignable\": false, \"note\": \"x\","
              "  \"set_by_uid\": 0, \"set_at\": 1700000000}, \"owner\": null, \"xen_passthrough\": false,"
              " \"dom0_hidden\": false}}");
        CHECK_INT(vl_validate_output(iface, m, o, &bad), 0);
        CHECK(bad == NULL);
        json_object_object_add(json_object_array_get_idx(json_object_object_get(
                                       json_object_object_get(json_object_object_get(o, "device"),
                                                              "iommu"),
                                       "iommus"),
                                                         0),
                               "ids", J("[1, \"2\"]"));
        CHECK_INT(vl_validate_output(iface, m, o, &bad), -EINVAL);
        CHECK_STR(bad, "device.iommu.iommus[0].ids[1]");
        free(bad);
        bad = NULL;
        json_object_put(o);

        o = J("{\"message\": \"no such device\", \"path\": \"/x\"}");
        CHECK_INT(vl_validate_error(iface, "DeviceNotFound", o, &bad), 0);
        CHECK_INT(vl_validate_error(iface, "NoSuchError", o, &bad), -ENOENT);
        json_object_put(o);
        o = J("{\"message\": \"no such device\"}");
        CHECK_INT(vl_validate_error(iface, "DeviceNotFound", o, &bad), -EINVAL);
        CHECK_STR(bad, "path");
        free(bad);
        json_object_put(o);
        vl_interface_free(iface);
        free(err);
}

static void test_broken_interfaces(void)
{
        static const struct {
                const char *text;
                const char *want; /* substring of the error, including "line N:" */
        } cases[] = {
                { "", "line 1: expected 'interface'" },
                { "# only a comment\n", "line 2: expected 'interface', found end of file" },
                { "interface foo\nmethod A() -> ()\n", "line 1: expected an interface name" },
                { "interface org.example\n", "declares no members" },
                { "interface org.example\nmethod A() -> ()\nmethod A() -> ()\n",
                  "line 3: 'A' is defined twice" },
                { "interface org.example\ntype T (a: int)\nerror T ()\n",
                  "line 3: 'T' is defined twice" },
                { "interface org.example\n\n# doc\nmethod A(x: Missing) -> ()\n",
                  "line 4: unknown type 'Missing'" },
                { "interface org.example\ntype T (\n  a: int,\n  b: []Nope\n)\n",
                  "line 4: unknown type 'Nope'" },
                { "interface org.example\nmethod A(x: int, x: int) -> ()\n",
                  "line 2: duplicate field 'x'" },
                { "interface org.example\ntype E (a, b, a)\n", "line 2: duplicate enum value 'a'" },
                { "interface org.example\nmethod a() -> ()\n", "line 2: expected a method name" },
                { "interface org.example\nmethod A() ()\n", "line 2: expected '->'" },
                { "interface org.example\nmethod A(x: ??int) -> ()\n",
                  "line 2: a type cannot be nullable twice" },
                { "interface org.example\nmethod A(x int) -> ()\n",
                  "line 2: expected ':' after the field name" },
                { "interface org.example\nmethod A(x, y) -> ()\n",
                  "line 2: expected ':' after the field name" },
                { "interface org.example\ntype T (a: int,)\n", "line 2: expected a field name" },
                { "interface org.example\ntype T (a: int\n", "line 3: expected ','" },
                { "interface org.example\ntype T (a: [int]string)\n", "line 2: expected ']'" },
                { "interface org.example\nfunction A() -> ()\n",
                  "line 2: expected 'type', 'method' or 'error'" },
                { "interface org.example\nmethod A() -> ()\n%\n", "line 3: expected 'type'" },
                { "interface org.example\ntype T (a__b: int)\n", "line 2: expected a field name" },
                { "interface org.example\ntype T (a: int, b: (c, d: int))\n",
                  "line 2: expected ',' or ')' in an enum" },
                { "interface org.example\n\n\n\nerror E (a: )\n", "line 5: expected a type" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vl_interface *iface = NULL;
                char *err = NULL;
                int r = vl_interface_parse(cases[i].text, &iface, &err);

                CHECK_MSG(r == -EINVAL, "case %zu: r=%d", i, r);
                CHECK(iface == NULL);
                CHECK_MSG(err && strstr(err, cases[i].want), "case %zu: got \"%s\", want \"%s\"", i,
                          err ? err : "(null)", cases[i].want);
                free(err);
        }
}

static const char test_iface[] =
        "# A test interface using every kind of type.\n"
        "interface org.example.test\n"
        "\n"
        "type Color (red, green, blue)\n"
        "\n"
        "# recursive on purpose\n"
        "type Node (name: string, children: ?[]Node)\n"
        "\n"
        "type Inner (n: int, f: float, b: bool, s: ?string)\n"
        "\n"
        "method Call(\n"
        "  i: int,\n"
        "  f: ?float,\n"
        "  color: ?Color,\n"
        "  mode: ?(fast, slow),\n"
        "  inner: ?Inner,\n"
        "  list: ?[]int,\n"
        "  nlist: ?[]?string,\n"
        "  map: ?[string]Inner,\n"
        "  anon: ?(x: int, y: ?(z: bool)),\n"
        "  obj: ?object,\n"
        "  tree: ?Node\n"
        ") -> ()\n"
        "\n"
        "error Oops (why: string)\n";

static void test_validator(void)
{
        static const struct {
                const char *params;
                const char *bad; /* NULL: accepted */
        } cases[] = {
                { "{\"i\": 1}", NULL },
                { "{\"i\": -9223372036854775807, \"f\": 1}", NULL },
                { "{\"i\": 1, \"f\": 1.5, \"color\": \"green\", \"mode\": \"slow\"}", NULL },
                { "{\"i\": 1, \"inner\": {\"n\": 1, \"f\": 2, \"b\": false}}", NULL },
                { "{\"i\": 1, \"inner\": {\"n\": 1, \"f\": 2, \"b\": false, \"s\": null}}", NULL },
                { "{\"i\": 1, \"list\": [], \"nlist\": [\"a\", null]}", NULL },
                { "{\"i\": 1, \"map\": {\"k\": {\"n\": 1, \"f\": 0.5, \"b\": true}}}", NULL },
                { "{\"i\": 1, \"map\": {}}", NULL },
                { "{\"i\": 1, \"anon\": {\"x\": 2, \"y\": {\"z\": true}}}", NULL },
                { "{\"i\": 1, \"obj\": {\"anything\": [1, \"x\"]}}", NULL },
                { "{\"i\": 1, \"tree\": {\"name\": \"r\", \"children\": [{\"name\": \"c\"},"
                  " {\"name\": \"d\", \"children\": []}]}}",
                  NULL },
                { "{\"i\": 1, \"f\": null, \"color\": null}", NULL },
                /* strings beyond ASCII that are no control characters */
                { "{\"i\": 1, \"nlist\": [\"caf\\u00e9 \\ud83d\\ude00\", \"\\u00a0\\u2028\"]}", NULL },
                /* rejections */
                { "{}", "i" },
                { "{\"i\": null}", "i" },
                { "{\"i\": 1.0}", "i" },
                { "{\"i\": \"1\"}", "i" },
                { "{\"i\": true}", "i" },
                { "{\"i\": 1, \"extra\": 1}", "extra" },
                { "{\"i\": 1, \"f\": \"1.5\"}", "f" },
                { "{\"i\": 1, \"color\": \"purple\"}", "color" },
                { "{\"i\": 1, \"color\": 0}", "color" },
                { "{\"i\": 1, \"mode\": \"medium\"}", "mode" },
                { "{\"i\": 1, \"inner\": {\"n\": 1, \"f\": 2}}", "inner.b" },
                { "{\"i\": 1, \"inner\": {\"n\": 1, \"f\": 2, \"b\": 0}}", "inner.b" },
                { "{\"i\": 1, \"inner\": {\"n\": 1, \"f\": 2, \"b\": true, \"q\": 1}}", "inner.q" },
                { "{\"i\": 1, \"inner\": []}", "inner" },
                { "{\"i\": 1, \"list\": [1, 2, 3.5]}", "list[2]" },
                { "{\"i\": 1, \"list\": {}}", "list" },
                { "{\"i\": 1, \"list\": [null]}", "list[0]" },
                { "{\"i\": 1, \"nlist\": [\"a\", 1]}", "nlist[1]" },
                { "{\"i\": 1, \"map\": {\"k\": {\"n\": 1, \"f\": 0.5}}}", "map.k.b" },
                { "{\"i\": 1, \"map\": [1]}", "map" },
                { "{\"i\": 1, \"anon\": {\"x\": 2, \"y\": {\"z\": 1}}}", "anon.y.z" },
                { "{\"i\": 1, \"obj\": [1]}", "obj" },
                { "{\"i\": 1, \"tree\": {\"name\": \"r\", \"children\": [{\"name\": 5}]}}",
                  "tree.children[0].name" },
                /* strings of a call: no NUL, no control character (C0, DEL, C1), anywhere */
                { "{\"i\": 1, \"nlist\": [\"ok\", \"x\\u0000y\"]}", "nlist[1]" },
                { "{\"i\": 1, \"nlist\": [\"x\\ny\"]}", "nlist[0]" },
                { "{\"i\": 1, \"nlist\": [\"x\\ty\"]}", "nlist[0]" },
                { "{\"i\": 1, \"nlist\": [\"x\\u001b[31m\"]}", "nlist[0]" },
                { "{\"i\": 1, \"nlist\": [\"x\\u007f\"]}", "nlist[0]" },
                { "{\"i\": 1, \"nlist\": [\"x\\u0085\"]}", "nlist[0]" },
                { "{\"i\": 1, \"inner\": {\"n\": 1, \"f\": 2, \"b\": true, \"s\": \"a\\r\\nb\"}}",
                  "inner.s" },
                { "{\"i\": 1, \"tree\": {\"name\": \"r\", \"children\": [{\"name\": \"\\u0007\"}]}}",
                  "tree.children[0].name" },
                { "{\"i\": 1, \"map\": {\"b\\nad\": {\"n\": 1, \"f\": 0.5, \"b\": true}}}", "map" },
                { "{\"i\": 1, \"obj\": {\"k\": [\"\\u0000\"]}}", "obj.k[0]" },
        };
        struct vl_interface *iface = NULL;
        const struct vl_method *m;
        char *err = NULL;

        CHECK_INT(vl_interface_parse(test_iface, &iface, &err), 0);
        if (!iface) {
                fprintf(stderr, "test interface: %s\n", err);
                free(err);
                return;
        }
        CHECK_STR(vl_interface_name(iface), "org.example.test");
        m = vl_interface_method(iface, "Call");
        CHECK(m != NULL);

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct json_object *o = J(cases[i].params);
                char *bad = NULL;
                int r = vl_validate_input(iface, m, o, &bad);

                if (!cases[i].bad) {
                        CHECK_MSG(r == 0, "case %zu (%s): rejected at %s", i, cases[i].params,
                                  bad ? bad : "?");
                } else {
                        CHECK_MSG(r == -EINVAL, "case %zu (%s): accepted", i, cases[i].params);
                        CHECK_MSG(bad && streq(bad, cases[i].bad),
                                  "case %zu: bad param \"%s\", want \"%s\"", i,
                                  bad ? bad : "(null)", cases[i].bad);
                }
                free(bad);
                json_object_put(o);
        }

        /* Output of "() -> ()" is the empty struct: {} only. */
        {
                struct json_object *o = J("{\"x\": 1}");
                char *bad = NULL;

                CHECK_INT(vl_validate_output(iface, m, NULL, NULL), 0);
                CHECK_INT(vl_validate_output(iface, m, o, &bad), -EINVAL);
                CHECK_STR(bad, "x");
                free(bad);
                json_object_put(o);
        }
        vl_interface_free(iface);
}

static void write_all(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n > 0) {
                ssize_t w = write(fd, c, n);

                if (w <= 0) {
                        perror("write");
                        abort();
                }
                c += w;
                n -= (size_t)w;
        }
}

static void test_framing(void)
{
        struct vl_rbuf b;
        int sv[2];
        char *msg = NULL;

        CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        vl_rbuf_init(&b);

        CHECK_INT(vl_rbuf_read(&b, sv[0]), -EAGAIN);
        CHECK_INT(vl_rbuf_next(&b, &msg), 0);

        /* One message split over three reads. */
        write_all(sv[1], "{\"me", 4);
        CHECK_INT(vl_rbuf_read(&b, sv[0]), 4);
        CHECK_INT(vl_rbuf_next(&b, &msg), 0);
        write_all(sv[1], "thod\":", 6);
        CHECK_INT(vl_rbuf_read(&b, sv[0]), 6);
        CHECK_INT(vl_rbuf_next(&b, &msg), 0);
        write_all(sv[1], "1}\0", 3);
        CHECK_INT(vl_rbuf_read(&b, sv[0]), 3);
        CHECK_INT(vl_rbuf_next(&b, &msg), 1);
        CHECK_STR(msg, "{\"method\":1}");
        free(msg);
        CHECK_INT(b.len, 0);

        /* Three in one read, the last one incomplete. */
        write_all(sv[1], "a\0bb\0\0cc", 8);
        CHECK_INT(vl_rbuf_read(&b, sv[0]), 8);
        CHECK_INT(vl_rbuf_next(&b, &msg), 1);
        CHECK_STR(msg, "a");
        free(msg);
        CHECK_INT(vl_rbuf_next(&b, &msg), 1);
        CHECK_STR(msg, "bb");
        free(msg);
        CHECK_INT(vl_rbuf_next(&b, &msg), 1);
        CHECK_STR(msg, "");
        free(msg);
        CHECK_INT(vl_rbuf_next(&b, &msg), 0);
        CHECK(b.len > 0);
        write_all(sv[1], "c\0", 2);
        CHECK_INT(vl_rbuf_read(&b, sv[0]), 2);
        CHECK_INT(vl_rbuf_next(&b, &msg), 1);
        CHECK_STR(msg, "ccc");
        free(msg);
        CHECK_INT(b.len, 0);

        /* EOF */
        vl_rbuf_clear(&b);
        close(sv[1]);
        CHECK_INT(vl_rbuf_read(&b, sv[0]), 0);
        close(sv[0]);
        vl_rbuf_clear(&b);
}

/*
 * Feed n message bytes (and a NUL if nul) through a socket with a writer
 * child, reading until a message comes out or an error: returns the
 * message length or the error.
 */
static long feed_big_max(size_t n, bool nul, bool then_small, size_t max)
{
        struct vl_rbuf b;
        int sv[2];
        pid_t pid;
        long result = -1000;
        char *msg = NULL;

        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid == 0) {
                char *buf = malloc(n + 8);
                size_t len = n;

                close(sv[0]);
                memset(buf, 'x', n);
                if (nul)
                        buf[len++] = '\0';
                if (then_small) {
                        memcpy(buf + len, "ok", 3);
                        len += 3;
                }
                /* The reader stops early on purpose when the cap is hit. */
                for (size_t off = 0; off < len;) {
                        ssize_t w = write(sv[1], buf + off, len - off);

                        if (w <= 0)
                                break;
                        off += (size_t)w;
                }
                free(buf);
                _exit(0);
        }
        close(sv[1]);
        vl_rbuf_init_max(&b, max);
        for (;;) {
                int r = vl_rbuf_next(&b, &msg);

                if (r > 0) {
                        result = (long)strlen(msg);
                        /* Only the bytes of one message plus its NUL were ever held. */
                        if (b.cap > (max ? max : VL_MAX_MESSAGE) + 1)
                                result = -2000;
                        free(msg);
                        if (then_small) {
                                while ((r = vl_rbuf_next(&b, &msg)) == 0)
                                        if (vl_rbuf_read(&b, sv[0]) <= 0)
                                                break;
                                if (r != 1 || !streq(msg, "ok"))
                                        result = -3000;
                                free(msg);
                        }
                        break;
                }
                r = vl_rbuf_read(&b, sv[0]);
                if (r <= 0) {
                        result = r;
                        break;
                }
        }
        vl_rbuf_clear(&b);
        close(sv[0]);
        waitpid(pid, NULL, 0);
        return result;
}

static long feed_big(size_t n, bool nul, bool then_small)
{
        return feed_big_max(n, nul, then_small, 0);
}

static void test_size_cap(void)
{
        CHECK_INT(feed_big(VL_MAX_MESSAGE, true, false), VL_MAX_MESSAGE);
        CHECK_INT(feed_big(VL_MAX_MESSAGE, true, true), VL_MAX_MESSAGE);
        CHECK_INT(feed_big(VL_MAX_MESSAGE + 1, true, false), -EMSGSIZE);
        CHECK_INT(feed_big(VL_MAX_MESSAGE + 1, false, false), -EMSGSIZE);
        CHECK_INT(feed_big(10 * VL_MAX_MESSAGE, false, false), -EMSGSIZE);
        CHECK_INT(feed_big(VL_MAX_MESSAGE - 1, true, true), VL_MAX_MESSAGE - 1);
        /* The client's buffer takes replies beyond the request cap, up to its own. */
        CHECK_INT(feed_big_max(3 * VL_MAX_MESSAGE, true, true, 4 * VL_MAX_MESSAGE),
                  3 * VL_MAX_MESSAGE);
        CHECK_INT(feed_big_max(4 * VL_MAX_MESSAGE, true, false, 4 * VL_MAX_MESSAGE),
                  4 * VL_MAX_MESSAGE);
        CHECK_INT(feed_big_max(4 * VL_MAX_MESSAGE + 1, true, false, 4 * VL_MAX_MESSAGE),
                  -EMSGSIZE);
}

static void test_request_parse(void)
{
        static const struct {
                const char *msg;
                const char *want; /* substring of the error */
        } bad[] = {
                { "", "invalid JSON" },
                { "{", "invalid JSON" },
                { "{\"method\": \"a.B\"} x", "invalid JSON" },
                { "{\"method\": \"a.B\"}{}", "invalid JSON" },
                { "{'method': 'a.B'}", "invalid JSON" },
                { "[1]", "must be a JSON object" },
                { "\"a.B\"", "must be a JSON object" },
                { "null", "invalid JSON" },
                { "{}", "no \"method\"" },
                { "{\"method\": 1}", "must be a string" },
                { "{\"method\": \"Ping\"}", "interface.Method" },
                { "{\"method\": \"a.b.\"}", "interface.Method" },
                { "{\"method\": \".Ping\"}", "interface.Method" },
                { "{\"method\": \"a.B\", \"parameters\": []}", "\"parameters\" must be an object" },
                { "{\"method\": \"a.B\", \"parameters\": \"x\"}", "\"parameters\" must be an object" },
                { "{\"method\": \"a.B\", \"more\": 1}", "\"more\" must be a boolean" },
                { "{\"method\": \"a.B\", \"oneway\": \"yes\"}", "\"oneway\" must be a boolean" },
                { "{\"method\": \"a.B\", \"oneway\": true, \"more\": true}", "exclude" },
                { "{\"method\": \"a.B\", \"id\": 1}", "unknown request field \"id\"" },
        };
        struct vl_request req = { 0 };
        char *err = NULL;
        const char *method;
        char *iface = NULL;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = vl_request_parse(bad[i].msg, &req, &err);

                CHECK_MSG(r == -EBADMSG, "case %zu (%s): r=%d", i, bad[i].msg, r);
                CHECK_MSG(err && strstr(err, bad[i].want), "case %zu: got \"%s\", want \"%s\"", i,
                          err ? err : "(null)", bad[i].want);
                CHECK(req.method == NULL);
                free(err);
                err = NULL;
        }

        CHECK_INT(vl_request_parse(" {\"method\": \"io.assignd.Broker.GetDevice\", "
                                   "\"parameters\": {\"path\": \"/a\"}, \"more\": true}\n",
                                   &req, &err),
                  0);
        CHECK_STR(req.method, "io.assignd.Broker.GetDevice");
        CHECK(req.more && !req.oneway && !req.upgrade);
        CHECK_STR(json_object_get_string(json_object_object_get(req.parameters, "path")), "/a");
        vl_request_clear(&req);

        CHECK_INT(vl_request_parse("{\"method\": \"a.B\", \"oneway\": true}", &req, &err), 0);
        CHECK(req.oneway && req.parameters && json_object_is_type(req.parameters, json_type_object));
        vl_request_clear(&req);

        /* null parameters (Go's varlink library sends them) are an empty object. */
        CHECK_INT(vl_request_parse("{\"method\": \"a.B\", \"parameters\": null}", &req, &err), 0);
        CHECK(req.parameters && json_object_is_type(req.parameters, json_type_object) &&
              json_object_object_length(req.parameters) == 0);
        vl_request_clear(&req);
        vl_request_clear(&req);

        CHECK_INT(vl_split_method("io.assignd.Broker.GetDevice", &iface, &method), 0);
        CHECK_STR(iface, "io.assignd.Broker");
        CHECK_STR(method, "GetDevice");
        free(iface);
        iface = NULL;
        CHECK_INT(vl_split_method("GetDevice", &iface, &method), -EINVAL);
        CHECK(iface == NULL);
}

static void test_serialize(void)
{
        struct json_object *p = J("{\"path\": \"/a/b\", \"n\": 1}");
        char *s;

        s = vl_reply_serialize(p, false);
        CHECK_STR(s, "{\"parameters\":{\"path\":\"/a/b\",\"n\":1}}");
        free(s);
        s = vl_reply_serialize(NULL, true);
        CHECK_STR(s, "{\"parameters\":{},\"continues\":true}");
        free(s);
        s = vl_error_serialize(VL_ERR_METHOD_NOT_FOUND, p);
        CHECK_STR(s, "{\"parameters\":{\"path\":\"/a/b\",\"n\":1},"
                     "\"error\":\"org.varlink.service.MethodNotFound\"}");
        free(s);
        json_object_put(p);
}

/* A child that answers each call with its parameters, twice for "more". */
static void echo_server(int lfd)
{
        int fd = accept(lfd, NULL, NULL);
        struct vl_rbuf b;
        char *msg;

        vl_rbuf_init(&b);
        for (;;) {
                struct vl_request req;
                int r = vl_rbuf_next(&b, &msg);

                if (r == 0) {
                        if (vl_rbuf_read(&b, fd) <= 0)
                                _exit(0);
                        continue;
                }
                if (vl_request_parse(msg, &req, NULL) < 0)
                        _exit(2);
                free(msg);
                if (streq(req.method, "org.example.Close"))
                        _exit(0);
                if (streq(req.method, "org.example.Fail"))
                        msg = vl_error_serialize("org.example.Oops", req.parameters);
                else
                        msg = vl_reply_serialize(req.parameters, req.more);
                if (!req.oneway)
                        write_all(fd, msg, strlen(msg) + 1);
                free(msg);
                if (req.more) {
                        msg = vl_reply_serialize(NULL, false);
                        write_all(fd, msg, strlen(msg) + 1);
                        free(msg);
                }
                vl_request_clear(&req);
        }
}

static void test_client(void)
{
        char dir[] = "/tmp/test-varlink-XXXXXX", path[64];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct vl_client *c = NULL;
        struct json_object *p = NULL, *reply = NULL;
        char *error = NULL;
        bool continues;
        int lfd;
        pid_t pid;

        if (!mkdtemp(dir)) {
                CHECK(false);
                return;
        }
        snprintf(path, sizeof(path), "%s/sock", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        CHECK_INT(listen(lfd, 4), 0);
        pid = fork();
        if (pid == 0)
                echo_server(lfd);
        close(lfd);

        CHECK_INT(vl_client_connect("/nonexistent/sock", &c), -ENOENT);
        CHECK(c == NULL);
        CHECK_INT(vl_client_connect(path, &c), 0);
        if (!c)
                goto out;
        CHECK(vl_client_fd(c) >= 0);

        p = J("{\"a\": [1, 2]}");
        CHECK_INT(vl_client_call(c, "org.example.Echo", p, &reply, &error), 0);
        CHECK(error == NULL);
        CHECK(reply && json_object_equal(reply, p));
        json_object_put(reply);

        CHECK_INT(vl_client_call(c, "org.example.Fail", p, &reply, &error), 0);
        CHECK_STR(error, "org.example.Oops");
        CHECK(reply && json_object_equal(reply, p));
        json_object_put(reply);
        free(error);
        error = NULL;

        CHECK_INT(vl_client_send(c, "org.example.Echo", NULL, VL_CALL_ONEWAY), 0);
        CHECK_INT(vl_client_send(c, "org.example.Echo", p, VL_CALL_MORE), 0);
        CHECK_INT(vl_client_recv(c, &reply, &error, &continues), 0);
        CHECK(continues && error == NULL && json_object_equal(reply, p));
        json_object_put(reply);
        CHECK_INT(vl_client_recv(c, &reply, &error, &continues), 0);
        CHECK(!continues && error == NULL && json_object_object_length(reply) == 0);
        json_object_put(reply);
        CHECK_INT(vl_client_send(c, "org.example.Echo", NULL, VL_CALL_ONEWAY | VL_CALL_MORE),
                  -EINVAL);

        /* The server closing the connection is an error, not an empty reply. */
        reply = NULL;
        CHECK_INT(vl_client_call(c, "org.example.Close", NULL, &reply, &error), -ECONNRESET);
        CHECK(reply == NULL);
out:
        json_object_put(p);
        vl_client_free(c);
        vl_client_free(NULL);
        waitpid(pid, NULL, 0);
        unlink(path);
        rmdir(dir);
}

/* Replies are written as json-c would write them: every kind of value, every escape. */
static void test_serialize_like_json_c(void)
{
        static const char *const docs[] = {
                "{}",
                "{\"a\":[1,-2,9223372036854775807,-9223372036854775808,18446744073709551615,"
                "0.5,1e300,true,false,null,\"\"],\"b\":{\"c\":{}}}",
                "{\"s\":\"quote \\\" back \\\\ slash / tab \\t nl \\n cr \\r ff \\f bs \\b "
                "\\u0001 \\u001f \\u007f \\u00e9 \\u20ac\",\"k\\n\\\"ey\":[[],{}]}",
        };

        for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
                struct json_object *o = J(docs[i]), *env = json_object_new_object();
                char *ours = vl_reply_serialize(o, false);
                const char *theirs;

                json_object_object_add(env, "parameters", json_object_get(o));
                theirs = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
                CHECK_MSG(ours && streq(ours, theirs), "\n  ours   %s\n  json-c %s", ours, theirs);
                free(ours);
                json_object_put(env);
                json_object_put(o);
        }
}

/*
 * Validated text: checked once against its type when made, spliced into
 * replies as it is, accepted by the validator where that type is expected
 * and nowhere else.
 */
static void test_text(void)
{
        static const char idl[] =
                "interface org.example.text\n"
                "type Item (name: string, n: int)\n"
                "method Get() -> (item: Item, items: []Item, maybe: ?Item, other: ?[]Item, "
                "m: ?[string]Item)\n";
        struct vl_interface *iface = NULL;
        struct vl_text *item = NULL, *items = NULL, *bad_t = NULL;
        const struct vl_method *m;
        char *bad = NULL, *out;
        struct json_object *o;
        size_t len = 0;

        CHECK_INT(vl_interface_parse(idl, &iface, NULL), 0);
        if (!iface)
                return;
        m = vl_interface_method(iface, "Get");
        o = J("{\"name\":\"a\",\"n\":1}");
        CHECK_INT(vl_text_new(iface, "Item", o, &item, NULL), 0);
        json_object_put(o);
        CHECK(item && streq(vl_text_json(item, &len), "{\"name\":\"a\",\"n\":1}") && len == 18);
        o = J("[{\"name\":\"b\",\"n\":2}]");
        CHECK_INT(vl_text_new(iface, "[]Item", o, &items, NULL), 0);
        json_object_put(o);
        /* Checked when made: a bad value, an unknown type, a spelling that is not a type. */
        o = J("{\"name\":\"a\",\"n\":\"x\"}");
        CHECK_INT(vl_text_new(iface, "Item", o, &bad_t, &bad), -EINVAL);
        CHECK_STR(bad, "n");
        free(bad);
        bad = NULL;
        CHECK_INT(vl_text_new(iface, "Nope", o, &bad_t, NULL), -ENOENT);
        CHECK_INT(vl_text_new(iface, "Item junk", o, &bad_t, NULL), -EINVAL);
        json_object_put(o);
        CHECK(bad_t == NULL);
        if (!item || !items) {
                vl_interface_free(iface);
                return;
        }

        /* Right where its type is expected ... */
        o = json_object_new_object();
        json_object_object_add(o, "item", vl_text_node(item));
        json_object_object_add(o, "items", vl_text_node(items));
        json_object_object_add(o, "maybe", vl_text_node(item));
        json_object_object_add(o, "other", vl_text_node(items));
        CHECK_INT(vl_validate_output(iface, m, o, NULL), 0);
        /* ... and the reply carries the text as it is, also once the makers let go of it. */
        vl_text_unref(item);
        vl_text_unref(items);
        out = vl_reply_serialize(o, false);
        CHECK_STR(out, "{\"parameters\":{\"item\":{\"name\":\"a\",\"n\":1},\"items\":"
                       "[{\"name\":\"b\",\"n\":2}],\"maybe\":{\"name\":\"a\",\"n\":1},"
                       "\"other\":[{\"name\":\"b\",\"n\":2}]}}");
        free(out);
        /* Wrong elsewhere: an item where a list is expected, and in a map. */
        json_object_object_add(o, "items", json_object_get(json_object_object_get(o, "item")));
        CHECK_INT(vl_validate_output(iface, m, o, &bad), -EINVAL);
        CHECK_STR(bad, "items");
        free(bad);
        bad = NULL;
        json_object_object_del(o, "items");
        json_object_object_add(o, "items", json_object_new_array());
        json_object_object_add(o, "m", json_object_get(json_object_object_get(o, "other")));
        CHECK_INT(vl_validate_output(iface, m, o, &bad), -EINVAL);
        CHECK_STR(bad, "m");
        free(bad);
        json_object_put(o);
        vl_interface_free(iface);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        test_embedded();
        test_broker_interface();
        test_broken_interfaces();
        test_validator();
        test_framing();
        test_size_cap();
        test_request_parse();
        test_serialize();
        test_serialize_like_json_c();
        test_text();
        test_client();
        return test_done();
}
