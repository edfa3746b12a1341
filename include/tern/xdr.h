/* tern XDR (RFC 4506): the machine-independent format RPC arguments travel
 * in. Big-endian, every item padded to a multiple of 4 bytes, strings,
 * opaques and variable arrays preceded by their length. The bytes equal what
 * libtirpc's xdr_* routines produce for the same values (unless the RPC
 * runtime set the out-of-line hooks below).
 *
 * Errors are sticky: after the first failure every call returns the same
 * tern_err and does nothing, so a generated coder can run a sequence of
 * puts or gets and check once at the end. */
#ifndef TERN_XDR_H
#define TERN_XDR_H

#include <stdbool.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- encoding ---------------------------------------------------------- */

/* Variable-length opaques of this many bytes or more may travel out of
 * line: the RPC runtime sends their bytes as frames of their own after the
 * XDR body, leaving only the length in it (docs/rpc.md), so that large
 * values are neither copied into the body nor out of it. */
#define TERN_XDR_OOL_MIN 16384

typedef struct tern_xdr_enc tern_xdr_enc;
/* Takes the n bytes at p out of line (keeping a reference or a copy). */
typedef tern_err tern_xdr_ool_put_fn(tern_xdr_enc *x, const void *p, size_t n);

/* A growable output buffer. Zero-initialise it, or point it at caller
 * memory with tern_xdr_enc_init (it moves to the heap if it outgrows it). */
struct tern_xdr_enc {
    uint8_t *buf;
    size_t len, cap;
    size_t max;   /* largest encoding allowed; 0: 64 MiB */
    bool owned;   /* buf was malloc'd by the encoder */
    tern_err err; /* first failure, sticky */
    /* Set by the RPC runtime (NULL after init: plain XDR): where opaques
     * of TERN_XDR_OOL_MIN bytes or more put with tern_xdr_put_bytes go. */
    tern_xdr_ool_put_fn *ool;
    void *ool_arg;
    size_t ool_len; /* bytes sent out of line, counted against max */
};

/* Starts encoding into buf[cap] (buf may be NULL, cap 0). */
TERN_API void tern_xdr_enc_init(tern_xdr_enc *x, void *buf, size_t cap);
/* Frees what the encoder allocated; x can be initialised again. */
TERN_API void tern_xdr_enc_free(tern_xdr_enc *x);
/* Hands the encoder's heap buffer to the caller (NULL if it never left the
 * caller's memory; then copy x->buf) and resets x. */
TERN_API void *tern_xdr_enc_take(tern_xdr_enc *x, size_t *len);

TERN_API tern_err tern_xdr_put_u32(tern_xdr_enc *x, uint32_t v);
TERN_API tern_err tern_xdr_put_i32(tern_xdr_enc *x, int32_t v);
TERN_API tern_err tern_xdr_put_u64(tern_xdr_enc *x, uint64_t v); /* unsigned hyper */
TERN_API tern_err tern_xdr_put_i64(tern_xdr_enc *x, int64_t v);  /* hyper */
TERN_API tern_err tern_xdr_put_bool(tern_xdr_enc *x, bool v);
TERN_API tern_err tern_xdr_put_float(tern_xdr_enc *x, float v);
TERN_API tern_err tern_xdr_put_double(tern_xdr_enc *x, double v);
/* Fixed-length opaque: n bytes, zero-padded to a multiple of 4. */
TERN_API tern_err tern_xdr_put_fixed(tern_xdr_enc *x, const void *p, size_t n);
/* Variable-length opaque: length, bytes, padding. TERN_EMSGSIZE if n > max. */
TERN_API tern_err tern_xdr_put_bytes(tern_xdr_enc *x, const void *p, size_t n, uint32_t max);
/* String (NUL-terminated; NULL encodes as ""). TERN_EMSGSIZE if longer than
 * max bytes. */
TERN_API tern_err tern_xdr_put_string(tern_xdr_enc *x, const char *s, uint32_t max);
/* A variable array's element count; TERN_EMSGSIZE if n > max. */
TERN_API tern_err tern_xdr_put_count(tern_xdr_enc *x, size_t n, uint32_t max);
/* Reserves n bytes (a multiple of 4) and returns where they go; NULL on
 * error. For coders that write many elements at once. */
TERN_API uint8_t *tern_xdr_put_space(tern_xdr_enc *x, size_t n);

/* ---- decoding ---------------------------------------------------------- */

/* Allocates n bytes for a decoded value; NULL when out of memory. */
typedef void *tern_xdr_alloc_fn(void *arg, size_t n);
typedef struct tern_xdr_dec tern_xdr_dec;
/* The bytes of the next out-of-line opaque, which must be n long: a view,
 * a block handed over, or a copy from the decoder's allocator. */
typedef tern_err tern_xdr_ool_get_fn(tern_xdr_dec *x, uint32_t n, uint8_t **p);

/* Reads from p[len]. Memory for strings, opaques and arrays comes from
 * alloc (malloc when NULL). Every length is checked against its bound and
 * against the bytes left before anything is allocated, so a hostile length
 * of 2^32-1 allocates nothing. */
struct tern_xdr_dec {
    const uint8_t *p;
    size_t left;
    tern_xdr_alloc_fn *alloc;
    void *alloc_arg;
    tern_err err; /* first failure, sticky: TERN_EPROTO (truncated or bad
                     value), TERN_EMSGSIZE (over a bound), TERN_ENOMEM */
    /* Variable-length opaques point into the input instead of being copied
     * (false after init): the input must outlive them, and be writable if
     * they may be changed in place. The RPC server decodes requests it
     * holds alone this way. */
    bool view;
    /* Set by the RPC runtime (NULL after init): opaques of TERN_XDR_OOL_MIN
     * bytes or more read with tern_xdr_get_bytes come from ool. ool_left of
     * them are expected, and tern_xdr_dec_end fails unless all were read;
     * ool_arg and ool_next are the runtime's (what and where). */
    tern_xdr_ool_get_fn *ool;
    void *ool_arg;
    uint32_t ool_next, ool_left;
};

TERN_API void tern_xdr_dec_init(tern_xdr_dec *x, const void *p, size_t len);
/* TERN_EPROTO unless every byte was consumed (trailing garbage). */
TERN_API tern_err tern_xdr_dec_end(tern_xdr_dec *x);
/* Allocates through the decoder's allocator; sets err on failure. */
TERN_API void *tern_xdr_alloc(tern_xdr_dec *x, size_t n);

TERN_API tern_err tern_xdr_get_u32(tern_xdr_dec *x, uint32_t *v);
TERN_API tern_err tern_xdr_get_i32(tern_xdr_dec *x, int32_t *v);
TERN_API tern_err tern_xdr_get_u64(tern_xdr_dec *x, uint64_t *v);
TERN_API tern_err tern_xdr_get_i64(tern_xdr_dec *x, int64_t *v);
/* Refuses anything but 0 and 1 (TERN_EPROTO). */
TERN_API tern_err tern_xdr_get_bool(tern_xdr_dec *x, bool *v);
TERN_API tern_err tern_xdr_get_float(tern_xdr_dec *x, float *v);
TERN_API tern_err tern_xdr_get_double(tern_xdr_dec *x, double *v);
/* Fixed-length opaque into p[n]; the padding must be zero. */
TERN_API tern_err tern_xdr_get_fixed(tern_xdr_dec *x, void *p, size_t n);
/* Variable-length opaque, allocated (NULL when empty). */
TERN_API tern_err tern_xdr_get_bytes(tern_xdr_dec *x, uint8_t **p, uint32_t *n, uint32_t max);
/* String, allocated and NUL-terminated; an embedded NUL is TERN_EPROTO. */
TERN_API tern_err tern_xdr_get_string(tern_xdr_dec *x, char **s, uint32_t max);
/* A variable array's count: TERN_EMSGSIZE over max, TERN_EPROTO when
 * n * min_elem_size exceeds the bytes left (min_elem_size: the fewest
 * bytes one element can take on the wire, at least 4 unless it is a
 * zero-size type). */
TERN_API tern_err tern_xdr_get_count(tern_xdr_dec *x, uint32_t *n, uint32_t max,
                                     size_t min_elem_size);
/* Consumes n bytes (a multiple of 4) and returns them; NULL on error. */
TERN_API const uint8_t *tern_xdr_get_space(tern_xdr_dec *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif
