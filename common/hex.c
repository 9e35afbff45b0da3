#include "hex.h"

#include <errno.h>

void bfs_hex_encode(const void *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ssize_t bfs_hex_decode(const char *in, size_t inlen, void *out, size_t cap)
{
    if (inlen % 2)
        return -EINVAL;
    if (inlen / 2 > cap)
        return -ENOSPC;
    unsigned char *o = out;
    for (size_t i = 0; i < inlen; i += 2) {
        int hi = nibble(in[i]), lo = nibble(in[i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        o[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (ssize_t)(inlen / 2);
}
