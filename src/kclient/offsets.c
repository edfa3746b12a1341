/* ListOffsets across leaders: the earliest or latest offset of each
 * partition, asked of the broker that leads it. */
#include <stdlib.h>

#include "kclient/client.h"
#include "kclient/kerr.h"
#include "kclient/proto_util.h"

static int32_t leader_of(tern_kafka *k, const tn_kc_preq *p)
{
    tn_kc_topic *t = tn_kc_topic_find(k, p->topic);
    if (t == NULL || p->partition < 0 || p->partition >= t->npart)
        return -1;
    return t->leaders[p->partition];
}

/* Asks leader for the parts whose index is in idx[0..n). */
static tern_err ask(tern_kafka *k, int32_t leader, const tn_kc_preq *parts, const size_t *idx,
                    size_t n, uint64_t deadline, int64_t *offsets, int16_t *errors)
{
    tn_kc_preq *sub = malloc(n * sizeof *sub);
    if (sub == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        sub[i] = parts[idx[i]];
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_LIST_OFFSETS, TN_KC_V_LIST_OFFSETS, k->client_id);
    tn_kc_enc_list_offsets(&w, sub, n);
    tn_kc_req_end(&w);
    free(sub);
    tn_kc_conn *c;
    tn_kr r;
    tern_err err = tn_kc_node_conn(k, leader, deadline, &c);
    if (err == TERN_OK)
        err = tn_kc_call(k, c, &w, deadline, &r);
    tn_kw_free(&w);
    if (err != TERN_OK)
        return err;
    tn_kc_pres *res;
    size_t nres;
    if (tn_kc_dec_list_offsets(&r, n, &res, &nres) != TERN_OK)
        return tn_kc_fail(k, TERN_EPROTO, "broker %s: malformed ListOffsets response", c->addr);
    for (size_t j = 0; j < nres; j++) {
        for (size_t i = 0; i < n; i++) {
            const tn_kc_preq *p = &parts[idx[i]];
            if (res[j].partition == p->partition && tn_kc_kstr_eq(res[j].topic, p->topic)) {
                errors[idx[i]] = res[j].error;
                offsets[idx[i]] = res[j].error ? -1 : res[j].offset;
            }
        }
    }
    free(res);
    return TERN_OK;
}

tern_err tn_kc_list_offsets(tern_kafka *k, const tn_kc_preq *parts, size_t n, uint64_t deadline,
                            int64_t *offsets, int16_t *errors)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    int32_t *leaders = malloc((n ? n : 1) * sizeof *leaders);
    if (idx == NULL || leaders == NULL) {
        free(idx);
        free(leaders);
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        offsets[i] = -1;
        /* Until a leader answers for it. */
        errors[i] = TN_KE_NETWORK_EXCEPTION;
        leaders[i] = leader_of(k, &parts[i]);
        if (leaders[i] < 0)
            errors[i] = TN_KE_LEADER_NOT_AVAILABLE;
    }
    tern_err err = TERN_OK;
    bool answered = false, asked = false;
    for (size_t i = 0; i < n; i++) {
        if (leaders[i] < 0)
            continue;
        /* Every part led by this one's leader, once. */
        int32_t leader = leaders[i];
        size_t m = 0;
        for (size_t j = i; j < n; j++) {
            if (leaders[j] == leader) {
                idx[m++] = j;
                leaders[j] = -1;
            }
        }
        asked = true;
        tern_err e = ask(k, leader, parts, idx, m, deadline, offsets, errors);
        if (e == TERN_OK)
            answered = true;
        else
            err = e;
    }
    free(idx);
    free(leaders);
    if (!asked && n > 0)
        return tn_kc_fail(k, TERN_EUNAVAILABLE, "no partition has a leader");
    return answered || n == 0 ? TERN_OK : err;
}
