/* The messages that carry records: Produce v7 and Fetch v11. */
#include "kclient/proto.h"

#include <stdlib.h>

#include "kclient/proto_util.h"

/* ---- Produce v7 ---------------------------------------------------------- */

static void enc_produce_part(tn_kw *w, const tn_kc_preq *p, const void *arg)
{
    (void)arg;
    tn_kw_i32(w, p->partition);
    tn_kw_bytes(w, 0, p->data, (int32_t)p->len);
}

void tn_kc_enc_produce(tn_kw *w, int16_t acks, int32_t timeout_ms, const tn_kc_preq *parts,
                       size_t n)
{
    tn_kw_cstr(w, 0, NULL); /* transactional id */
    tn_kw_i16(w, acks);
    tn_kw_i32(w, timeout_ms);
    tn_kc_enc_topics(w, parts, n, enc_produce_part, NULL);
}

static void dec_produce_part(tn_kr *r, tn_kc_pres *e)
{
    e->error = tn_kr_i16(r);
    e->offset = tn_kr_i64(r);
    (void)tn_kr_i64(r); /* log append time */
    e->start = tn_kr_i64(r);
}

tern_err tn_kc_dec_produce(tn_kr *r, size_t max, tn_kc_pres **out, size_t *n)
{
    tern_err err = tn_kc_dec_topics(r, max, 30, dec_produce_part, out, n);
    if (err != TERN_OK)
        return err;
    (void)tn_kr_i32(r); /* throttle_time_ms, after the topics in this API */
    if (r->err) {
        free(*out);
        *out = NULL;
        return TERN_EPROTO;
    }
    return TERN_OK;
}

/* ---- Fetch v11 ----------------------------------------------------------- */

static void enc_fetch_part(tn_kw *w, const tn_kc_preq *p, const void *arg)
{
    tn_kw_i32(w, p->partition);
    tn_kw_i32(w, -1); /* current leader epoch: unknown */
    tn_kw_i64(w, p->value);
    tn_kw_i64(w, -1); /* log start offset: a follower's field */
    tn_kw_i32(w, *(const int32_t *)arg);
}

void tn_kc_enc_fetch(tn_kw *w, int32_t max_wait_ms, int32_t min_bytes, int32_t max_bytes,
                     int32_t partition_max_bytes, const tn_kc_preq *parts, size_t n)
{
    tn_kw_i32(w, -1); /* replica id: a consumer */
    tn_kw_i32(w, max_wait_ms);
    tn_kw_i32(w, min_bytes);
    tn_kw_i32(w, max_bytes);
    tn_kw_i8(w, 0);   /* isolation level: read uncommitted */
    tn_kw_i32(w, 0);  /* session id: none, a full fetch */
    tn_kw_i32(w, -1); /* session epoch: none */
    tn_kc_enc_topics(w, parts, n, enc_fetch_part, &partition_max_bytes);
    tn_kw_array(w, 0, 0); /* forgotten topics */
    tn_kw_cstr(w, 0, ""); /* rack id */
}

static void dec_fetch_part(tn_kr *r, tn_kc_pres *e)
{
    e->error = tn_kr_i16(r);
    e->offset = tn_kr_i64(r); /* high watermark */
    (void)tn_kr_i64(r);       /* last stable offset */
    e->start = tn_kr_i64(r);
    /* aborted transactions: producer id, first offset */
    int32_t naborted = tn_kr_array(r, 0, 16);
    (void)tn_kr_raw(r, (size_t)naborted * 16);
    (void)tn_kr_i32(r); /* preferred read replica */
    e->records = tn_kr_bytes(r, 0);
}

tern_err tn_kc_dec_fetch(tn_kr *r, size_t max, int16_t *error, tn_kc_pres **out, size_t *n)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    *error = tn_kr_i16(r);
    (void)tn_kr_i32(r); /* session id */
    if (r->err)
        return TERN_EPROTO;
    return tn_kc_dec_topics(r, max, 42, dec_fetch_part, out, n);
}
