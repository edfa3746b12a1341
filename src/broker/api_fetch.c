/* Fetch (v4-11) and ListOffsets (v1-5).
 *
 * A Fetch answer's record bytes are never copied: each partition's run of
 * batches is a file range spliced into the response and sent with
 * sendfile. A Fetch that finds fewer than min_bytes parks until an append
 * or its max_wait, then is built again from the request. */
#include <string.h>

#include "base/trace.h"
#include "broker/server.h"
#include "kafka/api.h"

typedef struct fetch_head {
    int32_t max_wait_ms, min_bytes, max_bytes;
    size_t topics_at;
} fetch_head;

/* Reads the fields before the topics; the shape of the rest is checked by
 * walk_topics. */
static void read_head(tn_bk_req *r, tn_kr *in, fetch_head *h)
{
    (void)tn_kr_i32(in); /* replica id */
    h->max_wait_ms = tn_kr_i32(in);
    h->min_bytes = tn_kr_i32(in);
    h->max_bytes = tn_kr_i32(in);
    (void)tn_kr_i8(in); /* isolation level: every record is committed here */
    if (r->version >= 7) {
        (void)tn_kr_i32(in); /* session id: sessions are not kept, every fetch is full */
        (void)tn_kr_i32(in); /* session epoch */
    }
    h->topics_at = in->off;
}

static size_t partition_size(int v)
{
    return 4 + (v >= 9 ? 4 : 0) + 8 + (v >= 5 ? 8 : 0) + 4;
}

static void skip_rest(tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    int32_t nt = tn_kr_array(in, 0, 6);
    for (int32_t i = 0; i < nt && !in->err; i++) {
        (void)tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, partition_size(v));
        (void)tn_kr_raw(in, (size_t)np * partition_size(v));
    }
    if (v >= 7) {
        int32_t nf = tn_kr_array(in, 0, 6);
        for (int32_t i = 0; i < nf && !in->err; i++) {
            (void)tn_kr_str(in, 0);
            int32_t np = tn_kr_array(in, 0, 4);
            (void)tn_kr_raw(in, (size_t)np * 4);
        }
    }
    if (v >= 11)
        (void)tn_kr_str(in, 0); /* rack id */
}

static void fetch_timeout(void *arg);

/* Builds the answer; returns 1 when it should be sent now. */
static int fetch_build(tn_broker_impl *b, tn_bk_req *r, int final)
{
    int v = r->version;
    tn_kr in;
    tn_kr_init(&in, r->buf + r->body, r->len - r->body);
    fetch_head h;
    read_head(r, &in, &h);
    tn_bk_req_reset_out(r);
    tn_kw *w = &r->out;
    tn_kw_i32(w, 0); /* throttle */
    if (v >= 7) {
        tn_kw_i16(w, TN_KE_NONE);
        tn_kw_i32(w, 0); /* no session */
    }
    int64_t total = 0;
    int errors = 0;
    int64_t max_total = h.max_bytes > 0 ? h.max_bytes : INT32_MAX;
    int32_t nt = tn_kr_array(&in, 0, 6);
    tn_kw_array(w, 0, nt);
    for (int32_t i = 0; i < nt; i++) {
        tn_kstr name = tn_kr_str(&in, 0);
        tn_kw_str(w, 0, name.p, name.len);
        tn_bk_topic *t = tn_bk_topic_find(b, name);
        int32_t np = tn_kr_array(&in, 0, partition_size(v));
        tn_kw_array(w, 0, np);
        for (int32_t k = 0; k < np; k++) {
            int32_t index = tn_kr_i32(&in);
            if (v >= 9)
                (void)tn_kr_i32(&in); /* current leader epoch */
            int64_t offset = tn_kr_i64(&in);
            if (v >= 5)
                (void)tn_kr_i64(&in); /* the follower's log start: unused */
            int32_t pmax = tn_kr_i32(&in);
            int16_t err = TN_KE_NONE;
            int64_t hw = -1, start = -1;
            tn_log_slice s = {.fd = -1};
            if (t == NULL || index < 0 || index >= t->nparts)
                err = TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
            else {
                tn_log *log = t->parts[index].log;
                hw = tn_log_end_offset(log);
                start = tn_log_start_offset(log);
                int64_t limit = max_total - total;
                if (pmax > 0 && pmax < limit)
                    limit = pmax;
                if (limit > 0) {
                    tern_err e = tn_log_read(log, offset,
                                             (uint32_t)(limit > INT32_MAX ? INT32_MAX : limit), &s);
                    if (e == TERN_ENOENT)
                        err = TN_KE_OFFSET_OUT_OF_RANGE;
                    else if (e != TERN_OK)
                        err = TN_KE_KAFKA_STORAGE_ERROR;
                    else if (s.len > limit && total > 0)
                        s.len = 0; /* only the first partition may exceed the limit */
                }
            }
            errors += err != TN_KE_NONE;
            tn_kw_i32(w, index);
            tn_kw_i16(w, err);
            tn_kw_i64(w, hw);
            tn_kw_i64(w, hw); /* last stable offset: no transactions */
            if (v >= 5)
                tn_kw_i64(w, start);
            tn_kw_array(w, 0, 0); /* aborted transactions */
            if (v >= 11)
                tn_kw_i32(w, -1); /* preferred read replica */
            if (err == TN_KE_NONE && s.len > 0) {
                tn_kw_i32(w, (int32_t)s.len);
                if (tn_bk_req_add_piece(r, s.fd, s.pos, s.len) != 0) {
                    w->err = 1;
                    return 1;
                }
                total += s.len;
            } else
                tn_kw_i32(w, 0);
        }
    }
    if (final || errors || total >= h.min_bytes || h.max_wait_ms <= 0) {
        if (tn_bk_req_keep_pieces(r) != 0)
            w->err = 1; /* out of descriptors: dispatch closes the connection */
        return 1;
    }
    tn_bk_req_reset_out(r);
    return 0;
}

static void park(tn_broker_impl *b, tn_bk_req *r)
{
    r->wait_next = b->fetch_waiters;
    b->fetch_waiters = r;
    r->on_list = 1;
    if (r->timer.slot == 0) {
        r->timer.fn = fetch_timeout;
        r->timer.arg = r;
        tn_timer_arm(b->loop, &r->timer, r->deadline_ns);
    }
}

tern_err tn_bk_api_fetch(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    fetch_head h;
    read_head(r, in, &h);
    skip_rest(r, in);
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    int32_t wait_ms = h.max_wait_ms < 0 ? 0 : h.max_wait_ms > 300000 ? 300000 : h.max_wait_ms;
    r->deadline_ns = tern_clock_ns() + (uint64_t)wait_ms * 1000000;
    if (fetch_build(b, r, 0))
        r->state = TN_REQ_READY;
    else
        park(b, r);
    return TERN_OK;
}

void tn_bk_fetch_retry(tn_broker_impl *b, tn_bk_req *r, int final)
{
    if (r->conn->closing)
        return;
    if (!fetch_build(b, r, final)) {
        park(b, r);
        return;
    }
    if (r->out.err) {
        tn_bk_conn_close(r->conn, "out of memory or descriptors for a fetch response");
        return;
    }
    if (r->timer.slot)
        tn_timer_cancel(b->loop, &r->timer);
    tn_bk_req_ready(r);
}

static void fetch_timeout(void *arg)
{
    tn_bk_req *r = arg;
    tn_broker_impl *b = r->conn->b;
    tn_bk_unlist(&b->fetch_waiters, r);
    tn_bk_fetch_retry(b, r, 1);
}

tern_err tn_bk_api_list_offsets(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    size_t psize = 4 + (v >= 4 ? 4 : 0) + 8;
    (void)tn_kr_i32(in); /* replica id */
    if (v >= 2)
        (void)tn_kr_i8(in);
    size_t at = in->off;
    int32_t nt = tn_kr_array(in, 0, 6);
    for (int32_t i = 0; i < nt && !in->err; i++) {
        (void)tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, psize);
        (void)tn_kr_raw(in, (size_t)np * psize);
    }
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    in->off = at;
    tn_kw *w = &r->out;
    if (v >= 2)
        tn_kw_i32(w, 0);
    nt = tn_kr_array(in, 0, 6);
    tn_kw_array(w, 0, nt);
    for (int32_t i = 0; i < nt; i++) {
        tn_kstr name = tn_kr_str(in, 0);
        tn_kw_str(w, 0, name.p, name.len);
        tn_bk_topic *t = tn_bk_topic_find(b, name);
        int32_t np = tn_kr_array(in, 0, psize);
        tn_kw_array(w, 0, np);
        for (int32_t k = 0; k < np; k++) {
            int32_t index = tn_kr_i32(in);
            if (v >= 4)
                (void)tn_kr_i32(in);
            int64_t ts = tn_kr_i64(in);
            int16_t err = TN_KE_NONE;
            int64_t offset = -1;
            if (t == NULL || index < 0 || index >= t->nparts)
                err = TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
            else if (ts == -1)
                offset = tn_log_end_offset(t->parts[index].log);
            else if (ts == -2)
                offset = tn_log_start_offset(t->parts[index].log);
            else if (ts >= 0)
                offset = tn_log_offset_for_time(t->parts[index].log, ts);
            else
                err = TN_KE_INVALID_REQUEST;
            tn_kw_i32(w, index);
            tn_kw_i16(w, err);
            tn_kw_i64(w, -1); /* timestamp of the found record: not tracked */
            tn_kw_i64(w, offset);
            if (v >= 4)
                tn_kw_i32(w, err ? -1 : 0);
        }
    }
    r->state = TN_REQ_READY;
    return TERN_OK;
}
