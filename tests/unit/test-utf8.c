/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the protocol's rules for strings (proto/utf8.c and their
 * use in varlink.c and varlink-idl.c): the strict decoder against the
 * forms RFC 3629 forbids, messages that are not JSON texts (not UTF-8, a
 * raw control character in a string, an unpaired surrogate escape) refused
 * whole without their bytes in the error, strings of a call refused one
 * parameter at a time (the cases are with the validator's in
 * test-varlink.c; here what only the process can build), replies that
 * carry bytes which are not UTF-8 repaired into valid JSON, and a client
 * that does not send what the daemon would refuse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib.h"
#include "utf8.h"
#include "util.h"
#include "varlink.h"

static void test_decode(void)
{
        static const struct {
                const char *bytes;
                size_t len;
                size_t want;            /* 0: invalid */
                uint32_t cp;
        } cases[] = {
                { "A", 1, 1, 0x41 },
                { "\x7f", 1, 1, 0x7f },
                { "\xc2\x80", 2, 2, 0x80 },
                { "\xc3\xa9", 2, 2, 0xe9 },
                { "\xdf\xbf", 2, 2, 0x7ff },
                { "\xe0\xa0\x80", 3, 3, 0x800 },
                { "\xe2\x80\xa8", 3, 3, 0x2028 },
                { "\xed\x9f\xbf", 3, 3, 0xd7ff },
                { "\xee\x80\x80", 3, 3, 0xe000 },
                { "\xef\xbf\xbd", 3, 3, 0xfffd },
                { "\xf0\x90\x80\x80", 4, 4, 0x10000 },
                { "\xf0\x9f\x98\x80", 4, 4, 0x1f600 },
                { "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
                /* what RFC 3629 forbids */
                { "\x80", 1, 0, 0 },                    /* continuation byte first */
                { "\xbf", 1, 0, 0 },
                { "\xc0\xaf", 2, 0, 0 },                /* overlong "/" */
                { "\xc1\xbf", 2, 0, 0 },
                { "\xe0\x80\xaf", 3, 0, 0 },            /* overlong */
                { "\xe0\x9f\xbf", 3, 0, 0 },
                { "\xed\xa0\x80", 3, 0, 0 },            /* U+D800 */
                { "\xed\xbf\xbf", 3, 0, 0 },            /* U+DFFF */
                { "\xf0\x8f\xbf\xbf", 4, 0, 0 },        /* overlong */
                { "\xf4\x90\x80\x80", 4, 0, 0 },        /* U+110000 */
                { "\xf5\x80\x80\x80", 4, 0, 0 },
                { "\xff", 1, 0, 0 },
                { "\xfe", 1, 0, 0 },
                { "\xc3", 1, 0, 0 },                    /* truncated */
                { "\xe2\x80", 2, 0, 0 },
                { "\xf0\x9f\x98", 3, 0, 0 },
                { "\xc3\x28", 2, 0, 0 },                /* bad continuation */
                { "\xe2\x28\xa1", 3, 0, 0 },
                { "\xf0\x9f\x28\x80", 4, 0, 0 },
                { "", 0, 0, 0 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint32_t cp = 0xdeadbeef;
                size_t n = utf8_decode(cases[i].bytes, cases[i].len, &cp);

                CHECK_MSG(n == cases[i].want, "case %zu: length %zu, want %zu", i, n,
                          cases[i].want);
                if (n && n == cases[i].want)
                        CHECK_MSG(cp == cases[i].cp, "case %zu: U+%X, want U+%X", i,
                                  (unsigned)cp, (unsigned)cases[i].cp);
                CHECK_MSG(utf8_valid(cases[i].bytes, cases[i].len) ==
                                  (cases[i].want == cases[i].len),
                          "case %zu: utf8_valid disagrees", i);
        }
        CHECK_INT(utf8_invalid_at("ab\xc3\xa9\xff", 5), 4);
        CHECK_INT(utf8_invalid_at("ab\xc3\xa9", 4), 4);
}

static void test_control(void)
{
        CHECK_INT(utf8_control_at("plain text, caf\xc3\xa9", 17), 17);
        CHECK_INT(utf8_control_at("a\nb", 3), 1);
        CHECK_INT(utf8_control_at("a\tb", 3), 1);
        CHECK_INT(utf8_control_at("ab\x7f", 3), 2);
        CHECK_INT(utf8_control_at("a\xc2\x85", 3), 1);          /* NEL, a C1 control */
        CHECK_INT(utf8_control_at("a\xc2\xa0", 3), 3);          /* NBSP is not one */
        CHECK_INT(utf8_control_at("a\x1b[2J", 5), 1);           /* ESC */
        CHECK_INT(utf8_control_at("ab\xff", 3), 2);             /* invalid counts too */
        CHECK(utf8_is_control(0) && utf8_is_control(0x1f) && utf8_is_control(0x9f));
        CHECK(!utf8_is_control(0x20) && !utf8_is_control(0xa0) && !utf8_is_control(0x2028));
}

static void test_sanitize(void)
{
        size_t n = 0;
        char *s = utf8_sanitize("a\xff" "b\xc3\xa9\xed\xa0\x80" "c", 9, &n);

        /* \xff, and each of the three bytes of the encoded surrogate, become U+FFFD. */
        CHECK_STR(s, "a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "c");
        CHECK_INT(n, strlen(s ? s : ""));
        CHECK(s && utf8_valid(s, n));
        free(s);
        s = utf8_sanitize("", 0, &n);
        CHECK_STR(s, "");
        CHECK_INT(n, 0);
        free(s);
}

/* Messages that are not JSON texts: refused whole, and the error quotes none of their bytes. */
static void test_message_text(void)
{
        static const struct {
                const char *msg;
                const char *want;
        } bad[] = {
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"x\xff\"}}", "not valid UTF-8" },
                { "{\"method\": \"a.B\xc0\xaf\"}", "not valid UTF-8" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\xed\xa0\x80\"}}",
                  "not valid UTF-8" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\xf4\x90\x80\x80\"}}",
                  "not valid UTF-8" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\xfe\": 1}}", "not valid UTF-8" },
                { "{\"method\": \"a.B\"}\xff", "not valid UTF-8" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"a\nb\"}}", "control character" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"a\x1b" "b\"}}",
                  "control character" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\ud800\"}}", "surrogate" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\ud800x\"}}", "surrogate" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\udc00\"}}", "surrogate" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\ud800\\u0041\"}}",
                  "surrogate" },
                { "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\uDBFF\\uD800\"}}",
                  "surrogate" },
        };
        static const char *const good[] = {
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"}}",
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\ud83d\\ude00\"}}",
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\uD83D\\uDE00\"}}",
                /* escapes the JSON grammar allows: refused later, per parameter */
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\u0000\"}}",
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"a\\nb\\u001b\"}}",
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\\\\ud800 \\\"\"}}",
                "{\"method\": \"a.B\", \"parameters\": {\"p\": \"\x7f\"}}",
        };
        struct vl_request req = { 0 };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *err = NULL;
                int r = vl_request_parse(bad[i].msg, &req, &err);

                CHECK_MSG(r == -EBADMSG, "bad case %zu: r=%d", i, r);
                CHECK_MSG(err && strstr(err, bad[i].want), "bad case %zu: got \"%s\", want \"%s\"",
                          i, err ? err : "(null)", bad[i].want);
                CHECK_MSG(err && utf8_control_at(err, strlen(err)) == strlen(err),
                          "bad case %zu: the error holds a raw byte of the message", i);
                CHECK(req.method == NULL);
                free(err);
        }
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                char *err = NULL;
                int r = vl_request_parse(good[i], &req, &err);

                CHECK_MSG(r == 0, "good case %zu: %s", i, err ? err : "?");
                vl_request_clear(&req);
                free(err);
        }
}

/*
 * The rule for a call's strings is checked case by case with the other
 * validator cases (test-varlink.c); here what a parsed message cannot
 * carry: bytes that are not UTF-8 in an object built in the process, and
 * a reply's newlines, which are allowed.
 */
static void test_call_strings(void)
{
        static const char iface_text[] =
                "interface org.example.text\n"
                "method Call(name: string, note: ?string) -> (text: string)\n";
        struct vl_interface *iface = NULL;
        struct json_object *o;
        const struct vl_method *m;
        char *err = NULL, *bad = NULL;

        CHECK_INT(vl_interface_parse(iface_text, &iface, &err), 0);
        if (!iface) {
                fprintf(stderr, "test interface: %s\n", err);
                free(err);
                return;
        }
        m = vl_interface_method(iface, "Call");
        o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string("ok"));
        json_object_object_add(o, "note", json_object_new_string("bad\xff"));
        CHECK_INT(vl_validate_input(iface, m, o, &bad), -EINVAL);
        CHECK_STR(bad, "note");
        free(bad);
        json_object_put(o);
        o = json_tokener_parse("{\"text\": \"line 1\\nline 2\\n\"}");
        CHECK_INT(vl_validate_output(iface, m, o, NULL), 0);
        json_object_put(o);
        vl_interface_free(iface);
}

/* Bytes a reply carries from outside that are not UTF-8 never make it invalid JSON. */
static void test_reply_repair(void)
{
        struct json_object *p = json_object_new_object();
        struct json_object *list = json_object_new_array();
        struct json_object *inner = json_object_new_object();
        struct json_object *back = NULL;
        char *s;

        json_object_object_add(p, "path", json_object_new_string("/soc/uart\xff\xfe@1"));
        json_object_array_add(list, json_object_new_string("vendor,\xc0\xaf"));
        json_object_array_add(list, json_object_new_string("fine"));
        json_object_object_add(p, "compatible", list);
        json_object_object_add(inner, "key\xff", json_object_new_string("v\xed\xa0\x80"));
        json_object_object_add(inner, "n", json_object_new_int(3));
        json_object_object_add(p, "inner", inner);
        json_object_object_add(p, "ctl", json_object_new_string("a\nb"));

        s = vl_reply_serialize(p, false);
        CHECK(s && utf8_valid(s, strlen(s)));
        CHECK(s && vl_parse_json(s, &back, NULL) == 0);
        if (back) {
                struct json_object *params = json_object_object_get(back, "parameters");
                struct json_object *in = json_object_object_get(params, "inner");

                CHECK_STR(json_object_get_string(json_object_object_get(params, "path")),
                          "/soc/uart\xef\xbf\xbd\xef\xbf\xbd@1");
                CHECK_STR(json_object_get_string(json_object_array_get_idx(
                                  json_object_object_get(params, "compatible"), 0)),
                          "vendor,\xef\xbf\xbd\xef\xbf\xbd");
                CHECK_STR(json_object_get_string(json_object_array_get_idx(
                                  json_object_object_get(params, "compatible"), 1)),
                          "fine");
                CHECK(json_object_object_get(in, "key\xef\xbf\xbd") != NULL);
                CHECK_INT(json_object_get_int(json_object_object_get(in, "n")), 3);
                CHECK_STR(json_object_get_string(json_object_object_get(params, "ctl")), "a\nb");
                json_object_put(back);
        }
        free(s);
        /* The caller's object is left as it was. */
        CHECK_STR(json_object_get_string(json_object_object_get(p, "path")), "/soc/uart\xff\xfe@1");

        s = vl_error_serialize("org.example.Bad", p);
        CHECK(s && utf8_valid(s, strlen(s)));
        free(s);
        json_object_put(p);
}

/* The client does not send a call the daemon would refuse as not UTF-8. */
static void test_client_refuses(void)
{
        struct vl_client *c = NULL;
        struct json_object *p = json_object_new_object();
        char dir[] = "/tmp/test-utf8-XXXXXX", path[64];
        int lfd;

        if (!mkdtemp(dir)) {
                CHECK(false);
                json_object_put(p);
                return;
        }
        snprintf(path, sizeof(path), "%s/s", dir);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                memcpy(sa.sun_path, path, strlen(path) + 1);
                CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
                CHECK_INT(listen(lfd, 1), 0);
        }
        CHECK_INT(vl_client_connect(path, &c), 0);
        json_object_object_add(p, "name", json_object_new_string("dom\xff"));
        CHECK_INT(vl_client_send(c, "org.example.text.Call", p, 0), -EILSEQ);
        CHECK_INT(vl_client_send(c, "org.example.text.Call\xff", NULL, 0), -EILSEQ);
        vl_client_free(c);
        json_object_put(p);
        close(lfd);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        test_decode();
        test_control();
        test_sanitize();
        test_message_text();
        test_call_strings();
        test_reply_repair();
        test_client_refuses();
        return test_done();
}
