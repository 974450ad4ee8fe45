/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SHA-256 (FIPS 180-4), used to recognise an unchanged DTB across restarts
 * without pulling in a crypto library for one digest.
 */
#ifndef ASSIGND_SHA256_H
#define ASSIGND_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
        uint32_t h[8];
        uint64_t len;
        uint8_t buf[64];
        size_t fill;
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);
/* Hex digest of a buffer into out (65 bytes with the NUL). */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
