/* Fuzzes the XDR decoder as generated coders drive it: the input's first
 * bytes are a little program of typed gets (with bounds), the rest is the
 * XDR they read. Checks on every input:
 *  - no allocation is larger than the input (plus a string's NUL), so a
 *    hostile length never buys memory the peer did not send;
 *  - errors are sticky: a get after a failure returns the same error and
 *    consumes nothing;
 *  - what decodes is canonical: re-encoding every value read gives back
 *    exactly the bytes consumed;
 *  - everything allocated is freed (libFuzzer's leak check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tern/xdr.h>

#define MAXOPS 32

/* Bounds a generated coder might use, the last ones loose. */
static const uint32_t bounds[16] = {0,  1,  2,  3,   4,    5,    7,        8,
                                    15, 16, 64, 255, 1024, 4096, 1u << 20, UINT32_MAX};

typedef struct budget {
    size_t limit;           /* the largest allocation allowed */
    size_t outstanding;     /* allocations not freed yet */
    const uint8_t *lo, *hi; /* the input: where viewed opaques must lie */
} budget;

static void *budget_alloc(void *arg, size_t n)
{
    budget *b = arg;
    if (n > b->limit)
        abort(); /* a length was trusted beyond the bytes present */
    b->outstanding++;
    return malloc(n);
}

static void budget_free(budget *b, void *p)
{
    if (p != NULL)
        b->outstanding--;
    free(p);
}

/* Runs one op; what it read is re-encoded into e. */
static void run_op(tern_xdr_dec *d, tern_xdr_enc *e, budget *b, uint8_t op)
{
    uint32_t bound = bounds[op >> 4];
    uint32_t u;
    uint64_t h;

    switch (op & 15) {
    case 0:
        if (tern_xdr_get_u32(d, &u) == TERN_OK)
            tern_xdr_put_u32(e, u);
        break;
    case 1: {
        int32_t v;
        if (tern_xdr_get_i32(d, &v) == TERN_OK)
            tern_xdr_put_i32(e, v);
        break;
    }
    case 2:
        if (tern_xdr_get_u64(d, &h) == TERN_OK)
            tern_xdr_put_u64(e, h);
        break;
    case 3: {
        int64_t v;
        if (tern_xdr_get_i64(d, &v) == TERN_OK)
            tern_xdr_put_i64(e, v);
        break;
    }
    case 4: {
        bool v;
        if (tern_xdr_get_bool(d, &v) == TERN_OK)
            tern_xdr_put_bool(e, v);
        break;
    }
    case 5: {
        float v;
        if (tern_xdr_get_float(d, &v) == TERN_OK)
            tern_xdr_put_float(e, v);
        break;
    }
    case 6: {
        double v;
        if (tern_xdr_get_double(d, &v) == TERN_OK)
            tern_xdr_put_double(e, v);
        break;
    }
    case 7: {
        uint8_t fixed[15];
        size_t n = op >> 4;
        if (n == 15)
            n = 0; /* an empty fixed opaque as well */
        if (tern_xdr_get_fixed(d, fixed, n) == TERN_OK)
            tern_xdr_put_fixed(e, fixed, n);
        break;
    }
    case 8: {
        uint8_t *p = NULL;
        if (tern_xdr_get_bytes(d, &p, &u, bound) == TERN_OK) {
            if ((p == NULL) != (u == 0))
                abort();
            if (d->view && p != NULL && (p < b->lo || p + u > b->hi))
                abort(); /* a view reaching outside the input */
            tern_xdr_put_bytes(e, p, u, bound);
        }
        if (!d->view)
            budget_free(b, p);
        break;
    }
    case 9: {
        char *s = NULL;
        if (tern_xdr_get_string(d, &s, bound) == TERN_OK)
            tern_xdr_put_string(e, s, bound);
        budget_free(b, s);
        break;
    }
    case 10: /* an array of zero-size elements: the count is all */
        if (tern_xdr_get_count(d, &u, bound, 0) == TERN_OK)
            tern_xdr_put_count(e, u, bound);
        break;
    case 11: /* an int array, read in one go */
        if (tern_xdr_get_count(d, &u, bound, 4) == TERN_OK) {
            tern_xdr_put_count(e, u, bound);
            const uint8_t *src = tern_xdr_get_space(d, (size_t)u * 4);
            uint8_t *dst = src != NULL ? tern_xdr_put_space(e, (size_t)u * 4) : NULL;
            if (dst != NULL && u > 0)
                memcpy(dst, src, (size_t)u * 4);
        }
        break;
    case 12: /* a hyper array, element by element */
        if (tern_xdr_get_count(d, &u, bound, 8) == TERN_OK) {
            tern_xdr_put_count(e, u, bound);
            for (uint32_t i = 0; i < u && tern_xdr_get_u64(d, &h) == TERN_OK; i++)
                tern_xdr_put_u64(e, h);
        }
        break;
    case 13: /* an array of strings, each at most 8 bytes */
        if (tern_xdr_get_count(d, &u, bound, 4) == TERN_OK) {
            tern_xdr_put_count(e, u, bound);
            for (uint32_t i = 0; i < u && d->err == TERN_OK; i++) {
                char *s = NULL;
                if (tern_xdr_get_string(d, &s, 8) == TERN_OK)
                    tern_xdr_put_string(e, s, 8);
                budget_free(b, s);
            }
        }
        break;
    case 14: { /* raw space of whole words */
        size_t n = (size_t)(op >> 4) * 4;
        const uint8_t *src = tern_xdr_get_space(d, n);
        uint8_t *dst = src != NULL ? tern_xdr_put_space(e, n) : NULL;
        if (dst != NULL && n > 0)
            memcpy(dst, src, n);
        break;
    }
    default: /* the caller's own allocation through the decoder */
        budget_free(b, tern_xdr_alloc(d, op >> 4));
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nops = (size_t)data[0] % MAXOPS + 1;
    if (nops > size - 1)
        nops = size - 1;
    const uint8_t *ops = data + 1;
    const uint8_t *wire = ops + nops;
    size_t len = size - 1 - nops;

    budget b = {
        .limit = len + 1 > 16 ? len + 1 : 16, .outstanding = 0, .lo = wire, .hi = wire + len};
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, wire, len);
    d.view = (data[0] & 0x80) != 0; /* opaques as views into the input, as the RPC server does */
    d.alloc = budget_alloc;
    d.alloc_arg = &b;
    tern_xdr_enc e = {0};

    /* Where the last op that succeeded left the input and the copy. */
    size_t consumed = 0, copied = 0;
    for (size_t i = 0; i < nops; i++) {
        run_op(&d, &e, &b, ops[i]);
        if (d.err != TERN_OK) {
            /* Sticky: nothing moves, the same error comes back. */
            const uint8_t *at = d.p;
            tern_err first = d.err;
            uint32_t u;
            if (tern_xdr_get_u32(&d, &u) != first || tern_xdr_get_space(&d, 0) != NULL ||
                tern_xdr_dec_end(&d) != first || d.p != at || d.left != 0)
                abort();
            break;
        }
        consumed = (size_t)(d.p - wire);
        copied = e.len;
    }
    if (e.err != TERN_OK)
        abort(); /* what decoded under a bound encodes under it */
    /* Canonical: the values read re-encode to exactly the bytes consumed. */
    if (copied != consumed || (consumed > 0 && memcmp(e.buf, wire, consumed) != 0))
        abort();
    if (d.err == TERN_OK && (tern_xdr_dec_end(&d) == TERN_OK) != (consumed == len))
        abort();
    if (b.outstanding != 0)
        abort();
    tern_xdr_enc_free(&e);
    return 0;
}
