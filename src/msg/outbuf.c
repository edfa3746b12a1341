/* Outgoing byte queue of a ZMTP connection. */
#include <stdlib.h>
#include <string.h>

#include "msg/outbuf.h"
#include "wire/zmtp.h"

static tern_err seg_push(tn_outbuf *o, tn_seg seg)
{
    if (o->nsegs == o->capsegs) {
        size_t ncap = o->capsegs ? o->capsegs * 2 : 64;
        tn_seg *ns = realloc(o->segs, ncap * sizeof(*ns));
        if (ns == NULL)
            return TERN_ENOMEM;
        o->segs = ns;
        o->capsegs = ncap;
    }
    o->segs[o->nsegs++] = seg;
    return TERN_OK;
}

/* Reserves len bytes at the end of the copy buffer, extending the last
 * segment when it is the buffer's tail. */
static uint8_t *reserve(tn_outbuf *o, size_t len)
{
    if (len > o->cap - o->len) {
        size_t ncap = o->cap ? o->cap : 16384;
        while (ncap - o->len < len) {
            if (ncap > SIZE_MAX / 2)
                return NULL;
            ncap *= 2;
        }
        uint8_t *nb = realloc(o->buf, ncap);
        if (nb == NULL)
            return NULL;
        o->buf = nb;
        o->cap = ncap;
    }
    tn_seg *last = o->nsegs ? &o->segs[o->nsegs - 1] : NULL;
    if (last && last->ref == NULL && last->owner == NULL && last->off + last->len == o->len) {
        last->len += len;
    } else if (seg_push(o, (tn_seg){NULL, o->len, len, NULL}) != TERN_OK) {
        return NULL;
    }
    uint8_t *p = o->buf + o->len;
    o->len += len;
    return p;
}

tern_err tn_outbuf_bytes(tn_outbuf *o, const void *data, size_t len)
{
    uint8_t *p = reserve(o, len);
    if (p == NULL)
        return TERN_ENOMEM;
    memcpy(p, data, len);
    return TERN_OK;
}

tern_err tn_outbuf_copy(tn_outbuf *o, const void *data, size_t len)
{
    uint8_t hdr[9];
    size_t hlen = tn_zmtp_frame_header(hdr, 0, len);
    uint8_t *p = reserve(o, hlen + len);
    if (p == NULL)
        return TERN_ENOMEM;
    memcpy(p, hdr, hlen);
    if (len)
        memcpy(p + hlen, data, len);
    o->msgs++;
    return TERN_OK;
}

tern_err tn_outbuf_msg(tn_outbuf *o, tern_msg *m)
{
    size_t last_ref = SIZE_MAX;
    for (uint32_t i = 0; i < m->nparts; i++) {
        const tn_part *part = &m->parts[i];
        uint8_t hdr[9];
        size_t hlen = tn_zmtp_frame_header(hdr, i + 1 < m->nparts ? TN_ZMTP_MORE : 0, part->size);
        if (part->size >= TN_OUTBUF_ZEROCOPY_MIN) {
            if (tn_outbuf_bytes(o, hdr, hlen) != TERN_OK ||
                seg_push(o, (tn_seg){part->data, 0, part->size, NULL}) != TERN_OK)
                return TERN_ENOMEM;
            last_ref = o->nsegs - 1;
        } else {
            uint8_t *p = reserve(o, hlen + part->size);
            if (p == NULL)
                return TERN_ENOMEM;
            memcpy(p, hdr, hlen);
            if (part->size)
                memcpy(p + hlen, part->data, part->size);
        }
    }
    o->msgs++;
    if (last_ref == SIZE_MAX)
        tern_msg_free(m);
    else
        o->segs[last_ref].owner = m;
    return TERN_OK;
}

int tn_outbuf_iov(const tn_outbuf *o, size_t i, size_t off, struct iovec *iov, int max)
{
    int n = 0;
    for (; i < o->nsegs && n < max; i++, off = 0) {
        const tn_seg *s = &o->segs[i];
        const uint8_t *base = s->ref ? s->ref : o->buf + s->off;
        iov[n].iov_base = (void *)(base + off);
        iov[n].iov_len = s->len - off;
        n++;
    }
    return n;
}

void tn_outbuf_consume(tn_outbuf *o, size_t n)
{
    size_t i = 0;
    while (i < o->nsegs && n >= o->segs[i].len) {
        n -= o->segs[i].len;
        tern_msg_free(o->segs[i].owner);
        i++;
    }
    memmove(o->segs, o->segs + i, (o->nsegs - i) * sizeof(*o->segs));
    o->nsegs -= i;
    if (n > 0 && o->nsegs > 0) {
        tn_seg *s = &o->segs[0];
        if (s->ref)
            s->ref += n;
        else
            s->off += n;
        s->len -= n;
    }
}

void tn_outbuf_reset(tn_outbuf *o)
{
    for (size_t i = 0; i < o->nsegs; i++)
        tern_msg_free(o->segs[i].owner);
    o->nsegs = 0;
    o->len = 0;
    o->msgs = 0;
    /* Keep a working buffer (refaulting it costs more than the copy), but
     * give back what a burst of large messages grew. */
    if (o->cap > 2 * TN_OUTBUF_MAX_BYTES) {
        free(o->buf);
        o->buf = NULL;
        o->cap = 0;
    }
}

void tn_outbuf_fini(tn_outbuf *o)
{
    tn_outbuf_reset(o);
    free(o->buf);
    free(o->segs);
    o->buf = NULL;
    o->segs = NULL;
}
