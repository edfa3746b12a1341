/* ConsumerProtocol subscription and assignment encodings. */
#include "kclient/cproto.h"

#include <stdlib.h>

#include "kclient/proto_util.h"

void tn_kc_enc_subscription(tn_kw *w, const char *const *topics, size_t n)
{
    tn_kw_i16(w, 1);
    tn_kw_array(w, 0, (int32_t)n);
    for (size_t i = 0; i < n; i++)
        tn_kw_cstr(w, 0, topics[i]);
    tn_kw_bytes(w, 0, NULL, -1); /* user data */
    tn_kw_array(w, 0, 0);        /* owned partitions */
}

tern_err tn_kc_dec_subscription(const uint8_t *p, size_t n, tn_kstr **topics, int32_t *ntopics)
{
    tn_kr r;
    tn_kr_init(&r, p, n);
    int16_t version = tn_kr_i16(&r);
    /* a topic name is at least one byte */
    int32_t count = tn_kr_array(&r, 0, 3);
    if (r.err || version < 0 || count > TN_KC_MAX_SUBSCRIBED)
        return TERN_EPROTO;
    tn_kstr *t = NULL;
    if (count > 0) {
        t = calloc((size_t)count, sizeof *t);
        if (t == NULL)
            return TERN_ENOMEM;
    }
    for (int32_t i = 0; i < count && !r.err; i++) {
        t[i] = tn_kr_str(&r, 0);
        if (t[i].len <= 0)
            r.err = 1;
    }
    (void)tn_kr_bytes(&r, 0); /* user data */
    if (r.err) {
        free(t);
        return TERN_EPROTO;
    }
    *topics = t;
    *ntopics = count;
    return TERN_OK;
}

static void enc_index(tn_kw *w, const tn_kc_preq *p, const void *arg)
{
    (void)arg;
    tn_kw_i32(w, p->partition);
}

void tn_kc_enc_assignment(tn_kw *w, const tn_kc_preq *parts, size_t n)
{
    tn_kw_i16(w, 0);
    tn_kc_enc_topics(w, parts, n, enc_index, NULL);
    tn_kw_bytes(w, 0, NULL, -1); /* user data */
}

static void dec_nothing(tn_kr *r, tn_kc_pres *e)
{
    (void)r;
    (void)e;
}

tern_err tn_kc_dec_assignment(const uint8_t *p, size_t n, tn_kc_pres **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return TERN_OK;
    tn_kr r;
    tn_kr_init(&r, p, n);
    int16_t version = tn_kr_i16(&r);
    if (r.err || version < 0)
        return TERN_EPROTO;
    tern_err err = tn_kc_dec_topics(&r, TN_KC_MAX_ASSIGNED, 4, dec_nothing, out, nout);
    if (err != TERN_OK)
        return err;
    for (size_t i = 0; i < *nout; i++) {
        if ((*out)[i].topic.len <= 0 || (*out)[i].partition < 0)
            r.err = 1;
    }
    (void)tn_kr_bytes(&r, 0); /* user data */
    if (r.err) {
        free(*out);
        *out = NULL;
        *nout = 0;
        return TERN_EPROTO;
    }
    return TERN_OK;
}
