/* The bytes queued for one ZMTP connection: small frames are copied into
 * one growing buffer, large bodies are referenced in place (zero-copy) and
 * their message freed once written. A list of segments keeps the order. */
#ifndef TN_MSG_OUTBUF_H
#define TN_MSG_OUTBUF_H

#include <sys/uio.h>

#include "base/message.h"

/* Parts at least this large are sent from the message, not copied. */
#define TN_OUTBUF_ZEROCOPY_MIN 8192
/* Copied bytes a connection may queue before senders wait (besides the
 * message high-water mark); buffers up to this size are kept for reuse, since
 * faulting fresh pages in costs more than the copy itself. */
#define TN_OUTBUF_MAX_BYTES (1u << 20)

typedef struct tn_seg {
    const uint8_t *ref; /* NULL: bytes at buf + off */
    size_t off;
    size_t len;
    tern_msg *owner;    /* freed when this segment is written */
} tn_seg;

typedef struct tn_outbuf {
    uint8_t *buf;
    size_t len, cap;
    tn_seg *segs;
    size_t nsegs, capsegs;
    uint32_t msgs; /* whole messages queued here */
} tn_outbuf;

tern_err tn_outbuf_bytes(tn_outbuf *o, const void *data, size_t len);
/* Appends m's frames and takes ownership of m. */
tern_err tn_outbuf_msg(tn_outbuf *o, tern_msg *m);
/* Appends a one-part message copied from data. */
tern_err tn_outbuf_copy(tn_outbuf *o, const void *data, size_t len);
/* Fills iov from segment i at offset off; returns the count. */
int tn_outbuf_iov(const tn_outbuf *o, size_t i, size_t off, struct iovec *iov, int max);
/* Drops the first n bytes (already written elsewhere); o->msgs is left
 * for the caller to account. */
void tn_outbuf_consume(tn_outbuf *o, size_t n);
/* Empties o, freeing owners not yet written. */
void tn_outbuf_reset(tn_outbuf *o);
void tn_outbuf_fini(tn_outbuf *o);

#endif
