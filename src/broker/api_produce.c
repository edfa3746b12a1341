/* Produce (v3-8): append each partition's record batches to its log, then
 * answer at once (acks=1, or acks=all without syncing), after the group
 * commit covering them (acks=all; acks=1 too under --fsync always), or
 * never (acks=0). */
#include <stdlib.h>
#include <string.h>

#include "base/endian.h"
#include "broker/server.h"
#include "kafka/api.h"

static int add_wait(tn_bk_req *r, tn_bk_part *p, int64_t upto, size_t err_at, int *cap)
{
    if (r->nwaits == *cap) {
        int n = *cap ? *cap * 2 : 4;
        tn_bk_wait *w = realloc(r->waits, (size_t)n * sizeof *w);
        if (w == NULL)
            return -1;
        r->waits = w;
        *cap = n;
    }
    r->waits[r->nwaits++] = (tn_bk_wait){p, upto, err_at};
    return 0;
}

tern_err tn_bk_api_produce(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    tn_kstr txn = tn_kr_str(in, 0);
    int16_t acks = tn_kr_i16(in);
    int32_t timeout_ms = tn_kr_i32(in); /* how long a durable answer may wait */
    size_t topics_at = in->off;
    int32_t nt = tn_kr_array(in, 0, 6);
    for (int32_t i = 0; i < nt && !in->err; i++) {
        (void)tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, 8);
        for (int32_t k = 0; k < np && !in->err; k++) {
            (void)tn_kr_i32(in);
            (void)tn_kr_bytes(in, 0);
        }
    }
    if (!tn_kr_done(in))
        return TERN_EPROTO;

    int wait = (acks == -1 && b->opts.fsync != TERN_FSYNC_NEVER) ||
               (acks == 1 && b->opts.fsync == TERN_FSYNC_ALWAYS);
    int16_t request_err = TN_KE_NONE;
    if (acks != 0 && acks != 1 && acks != -1)
        request_err = TN_KE_INVALID_REQUIRED_ACKS;
    else if (txn.len >= 0)
        request_err = TN_KE_INVALID_REQUEST; /* no transactions here */

    int64_t now = tn_bk_now_ms();
    int wait_cap = 0;
    tn_kr rd;
    tn_kr_init(&rd, in->p, in->n);
    rd.off = topics_at;
    nt = tn_kr_array(&rd, 0, 6);
    tn_kw *w = &r->out;
    tn_kw_array(w, 0, nt);
    for (int32_t i = 0; i < nt; i++) {
        tn_kstr name = tn_kr_str(&rd, 0);
        tn_kw_str(w, 0, name.p, name.len);
        tn_bk_topic *t = tn_bk_topic_find(b, name);
        if (t == NULL && request_err == TN_KE_NONE && b->opts.auto_create_topics &&
            tn_bk_topic_name_ok(name)) {
            const char *why;
            (void)tn_bk_topic_create(b, name, b->opts.default_partitions, NULL, &t, &why);
        }
        int32_t np = tn_kr_array(&rd, 0, 8);
        tn_kw_array(w, 0, np);
        for (int32_t k = 0; k < np; k++) {
            int32_t index = tn_kr_i32(&rd);
            tn_kstr records = tn_kr_bytes(&rd, 0);
            tn_log_append res = {.base_offset = -1, .log_start = -1};
            int16_t err = request_err;
            tn_bk_part *p = NULL;
            if (err == TN_KE_NONE && (t == NULL || index < 0 || index >= t->nparts))
                err = TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
            else if (err == TN_KE_NONE && records.len <= 0)
                err = TN_KE_INVALID_RECORD;
            else if (err == TN_KE_NONE) {
                p = &t->parts[index];
                if (wait && p->sync_failed)
                    err = TN_KE_KAFKA_STORAGE_ERROR;
            }
            if (err == TN_KE_NONE) {
                tern_err e = tn_log_append_batches(p->log, (uint8_t *)records.p,
                                                   (size_t)records.len, now, &res);
                if (e != TERN_OK) {
                    err = res.error_code; /* the log always says which Kafka code fits */
                    tn_bk_log(b, "%s: refused a produce to %s-%d: %s (Kafka error %d)",
                              r->conn->peer, t->name, index, tern_strerror(e), err);
                } else {
                    /* A duplicate too: after a restart what it duplicates
                     * may not be synced yet, and its answer waits for that. */
                    tn_bk_data_appended(b, p);
                }
            }
            tn_kw_i32(w, index);
            size_t err_at = w->n;
            tn_kw_i16(w, err);
            tn_kw_i64(w, err ? -1 : res.base_offset);
            tn_kw_i64(w, -1); /* log append time: producers' create time is kept */
            if (v >= 5)
                tn_kw_i64(w, err ? -1 : res.log_start);
            if (v >= 8) {
                tn_kw_array(w, 0, 0);
                tn_kw_str(w, 0, NULL, -1);
            }
            if (err == TN_KE_NONE && wait &&
                add_wait(r, p, tn_log_end_offset(p->log), err_at, &wait_cap) != 0)
                return TERN_ENOMEM;
        }
    }
    tn_kw_i32(w, 0); /* throttle */
    if (acks == 0)
        r->state = TN_REQ_SILENT;
    else if (r->nwaits) {
        if (timeout_ms < 1000)
            timeout_ms = 1000; /* a sync can take that long on a busy disk */
        r->deadline_ns = tern_clock_ns() + (uint64_t)timeout_ms * 1000000;
        tn_bk_wait_durable(b, r);
    } else
        r->state = TN_REQ_READY;
    return TERN_OK;
}
