/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/: the text buffer (growth across many appends, "" for nothing,
 * joins, JSON strings and integers written directly) and the typed JSON
 * helpers (what each setter writes, null for a NULL string, -ENOMEM for a
 * value whose allocation failed, readers that fall back on absent, null
 * and mistyped members).
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "jv.h"
#include "strbuf.h"
#include "strmap.h"
#include "testlib.h"
#include "util.h"

/* Stored forms and replies are written with these: what json-c reads back is what went in. */
static void test_strbuf_json(void)
{
        static const char raw[] = "a\"b\\c/d\n\x01\x1f\xff\x7f";
        static const uint64_t nums[] = { 0, 7, 10, 4294967295u, UINT64_MAX };
        struct strbuf b = STRBUF_INIT;
        struct json_object *o;
        char *s = NULL;

        strbuf_append_json_string(&b, raw, sizeof(raw) - 1);
        CHECK_STR(strbuf_str(&b), "\"a\\\"b\\\\c/d\\n\\u0001\\u001f\xff\x7f\"");
        o = json_tokener_parse(strbuf_str(&b));
        CHECK(o && json_object_get_string_len(o) == (int)sizeof(raw) - 1 &&
              memcmp(json_object_get_string(o), raw, sizeof(raw) - 1) == 0);
        json_object_put(o);
        strbuf_clear(&b);

        strbuf_append_json_string(&b, "x\0y", 3);     /* an embedded NUL is escaped too */
        CHECK_STR(strbuf_str(&b), "\"x\\u0000y\"");
        strbuf_clear(&b);

        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
                char want[32];

                snprintf(want, sizeof(want), "%" PRIu64, nums[i]);
                strbuf_append_u64(&b, nums[i]);
                CHECK_STR(strbuf_str(&b), want);
                strbuf_clear(&b);
        }
        CHECK_INT(strbuf_steal(&b, &s), 0);
        free(s);
}

static void test_strbuf(void)
{
        struct strbuf b = STRBUF_INIT;
        const char *v[] = { "/soc/a", "/soc/b", "/soc/c" };
        char *s = NULL;

        CHECK_STR(strbuf_str(&b), "");
        CHECK_INT(strbuf_steal(&b, &s), 0);
        CHECK_STR(s, "");
        free(s);

        /* Many appends of every size, checked against the expected length and text. */
        for (int i = 0; i < 2000; i++)
                strbuf_printf(&b, "%d,", i);
        strbuf_append(&b, "end");
        strbuf_append_len(&b, "xyz", 1);
        CHECK_INT(strbuf_steal(&b, &s), 0);
        CHECK_INT(strlen(s), 8890 + 4);
        CHECK(strncmp(s, "0,1,2,", 6) == 0);
        CHECK_STR(s + strlen(s) - 9, "1999,endx");
        free(s);
        CHECK(!b.s && b.len == 0);

        s = strv_join(v, 3, " ");
        CHECK_STR(s, "/soc/a /soc/b /soc/c");
        free(s);
        s = strv_join(v, 0, " ");
        CHECK_STR(s, "");
        free(s);
        CHECK(strv_contains(v, 3, "/soc/b"));
        CHECK(!strv_contains(v, 2, "/soc/c"));
}

static void test_jv(void)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        const char *paths[] = { "/x", "/y" };
        int r = 0;

        r |= jv_set_str(o, "s", "text");
        r |= jv_set_str(o, "nul", NULL);
        r |= jv_set_int(o, "i", -5);
        r |= jv_set_bool(o, "b", true);
        r |= jv_set_strv(o, "v", paths, 2);
        r |= jv_push_int(a, 7);
        r |= jv_push_str(a, "z");
        r |= jv_set_obj(o, "a", a);
        CHECK_INT(r, 0);
        CHECK_STR(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                  "{\"s\":\"text\",\"nul\":null,\"i\":-5,\"b\":true,\"v\":[\"\\/x\",\"\\/y\"],"
                  "\"a\":[7,\"z\"]}");
        /* A value whose allocation failed is reported, not stored. */
        CHECK_INT(jv_set_obj(o, "lost", NULL), -ENOMEM);
        CHECK_INT(jv_push_obj(a, NULL), -ENOMEM);
        CHECK(!json_object_object_get_ex(o, "lost", NULL));

        CHECK_STR(jv_get_str(o, "s", "-"), "text");
        CHECK_STR(jv_get_str(o, "nul", "-"), "-");
        CHECK_STR(jv_get_str(o, "i", "-"), "-");
        CHECK_STR(jv_get_str(NULL, "s", "-"), "-");
        CHECK_INT(jv_get_int(o, "i", 0), -5);
        CHECK_INT(jv_get_int(o, "s", 42), 42);
        CHECK(jv_get_bool(o, "b", false));
        CHECK(jv_get_bool(o, "missing", true));
        CHECK(jv_get_array(o, "v") && json_object_array_length(jv_get_array(o, "v")) == 2);
        CHECK(!jv_get_array(o, "s"));
        CHECK(!jv_get_object(o, "a"));
        json_object_put(o);
}

/*
 * The map against a plain array, through many insertions and removals in
 * a pseudo-random order (removals shift entries back across the end of
 * the table too).
 */
static void test_strmap(void)
{
        enum { N = 3000 };
        static char keys[N][24];
        static bool in[N];
        struct strmap m = STRMAP_INIT;
        uint32_t x = 12345;
        size_t count = 0;
        bool ok = true;

        for (int i = 0; i < N; i++)
                snprintf(keys[i], sizeof(keys[i]), "/soc/dev@%x", i * 4096);
        CHECK(strmap_get(&m, "/none") == NULL);
        CHECK(strmap_remove(&m, "/none") == NULL);
        for (int round = 0; round < 40000; round++) {
                int k;

                x = x * 1103515245u + 12345u;
                k = (int)((x >> 8) % N);
                if (in[k] && (x & 1)) {
                        ok &= strmap_remove(&m, keys[k]) == keys[k];
                        in[k] = false;
                        count--;
                } else {
                        if (!in[k])
                                count++;
                        ok &= strmap_put(&m, keys[k], keys[k]) == 0;
                        in[k] = true;
                }
                if (round % 997 == 0)
                        for (int i = 0; i < N; i++)
                                ok &= strmap_get(&m, keys[i]) == (in[i] ? keys[i] : NULL);
        }
        CHECK(ok);
        CHECK_INT(m.n, count);
        for (int i = 0; i < N; i++)
                if (in[i])
                        CHECK(strmap_remove(&m, keys[i]) == keys[i]);
        CHECK_INT(m.n, 0);
        for (size_t i = 0; i < m.cap; i++)
                CHECK(m.v[i].key == NULL);
        strmap_clear(&m);
}

int main(void)
{
        test_strbuf();
        test_strbuf_json();
        test_jv();
        test_strmap();
        printf("util: ");
        return test_done();
}
