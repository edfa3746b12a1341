/* The producer call: records to partitions (given, by key hash, or one
 * partition per call for keyless records), partitions to batches of
 * about 1 MiB, batches to one Produce request per leader and round. A
 * partition has one batch in flight at a time, so its records keep their
 * order; a batch the leader refused without storing it is sent again in
 * the next round, once the metadata is fresh. */
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"
#include "kafka/batch.h"
#include "kclient/client.h"
#include "kclient/kerr.h"
#include "kclient/partitioner.h"
#include "kclient/proto_util.h"

/* Records' bytes per batch, counted with each record's largest framing:
 * the broker's and Kafka's default limit is 1 MiB + 12 per batch. */
#define BATCH_BUDGET 1000000u
#define RECORD_OVERHEAD 32u
/* Marks a record not yet acknowledged. */
#define PENDING TERN_EAGAIN

/* A run of one partition's records bound for its leader this round. */
typedef struct chunk {
    int32_t partition;
    int32_t leader;
    size_t first, count; /* in the round's order[] */
    tn_kw batch;
} chunk;

typedef struct round {
    size_t *order; /* pending records, by partition, then as given */
    chunk *chunks;
    size_t nchunks;
} round;

static size_t record_cost(const tern_kafka_record *r)
{
    return RECORD_OVERHEAD + (r->key ? r->key_len : 0) + (r->value ? r->value_len : 0);
}

static int cmp_partition(const tern_kafka_record *recs, size_t a, size_t b)
{
    if (recs[a].partition != recs[b].partition)
        return recs[a].partition < recs[b].partition ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Sorts the pending records' indexes by partition, keeping each
 * partition's order (insertion into runs: records usually come in long
 * runs of one partition, so this is near linear). */
static size_t pending_order(const tern_kafka_record *recs, size_t n, size_t *order)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].err != PENDING)
            continue;
        size_t j = m++;
        while (j > 0 && cmp_partition(recs, order[j - 1], i) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return m;
}

static tern_err build_batch(chunk *c, const tern_kafka_record *recs, const size_t *order,
                            int64_t now_ms)
{
    tn_record_in *in = malloc(c->count * sizeof *in);
    if (in == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < c->count; i++) {
        const tern_kafka_record *r = &recs[order[c->first + i]];
        in[i] = (tn_record_in){r->key, r->key ? (int32_t)r->key_len : -1, r->value,
                               r->value ? (int32_t)r->value_len : -1};
    }
    tn_kw_init(&c->batch, 0);
    tn_batch_build(&c->batch, in, c->count, now_ms, -1, -1, -1);
    free(in);
    return c->batch.err ? TERN_ENOMEM : TERN_OK;
}

/* The first batch of each partition's pending records. */
static tern_err plan(round *rd, const tern_kafka_record *recs, size_t n, const tn_kc_topic *t)
{
    size_t m = pending_order(recs, n, rd->order);
    int64_t now_ms = (int64_t)(tern_clock_wall_ns() / 1000000u);
    rd->nchunks = 0;
    for (size_t i = 0; i < m;) {
        int32_t p = recs[rd->order[i]].partition;
        chunk *c = &rd->chunks[rd->nchunks++];
        memset(c, 0, sizeof *c);
        c->partition = p;
        c->leader = t->leaders[p];
        c->first = i;
        size_t bytes = 0;
        while (i < m && recs[rd->order[i]].partition == p &&
               (c->count == 0 || bytes + record_cost(&recs[rd->order[i]]) <= BATCH_BUDGET)) {
            bytes += record_cost(&recs[rd->order[i]]);
            c->count++;
            i++;
        }
        /* The rest of the partition waits for the next round. */
        while (i < m && recs[rd->order[i]].partition == p)
            i++;
        if (build_batch(c, recs, rd->order, now_ms) != TERN_OK)
            return TERN_ENOMEM;
    }
    return TERN_OK;
}

static void settle(tern_kafka_record *recs, const size_t *order, const chunk *c, tern_err err,
                   int64_t base)
{
    for (size_t i = 0; i < c->count; i++) {
        tern_kafka_record *r = &recs[order[c->first + i]];
        r->err = err;
        r->offset = err == TERN_OK && base >= 0 ? base + (int64_t)i : -1;
    }
}

/* Applies one leader's response to its chunks; *retry when one may go
 * again. */
static tern_err apply(tern_kafka *k, const char *topic, tn_kr *r, round *rd, int32_t leader,
                      size_t nsent, tern_kafka_record *recs, bool *retry)
{
    tn_kc_pres *res;
    size_t nres;
    if (tn_kc_dec_produce(r, nsent, &res, &nres) != TERN_OK)
        return TERN_EPROTO;
    for (size_t i = 0; i < rd->nchunks; i++) {
        chunk *c = &rd->chunks[i];
        if (c->leader != leader)
            continue;
        int16_t code = TN_KE_UNKNOWN_SERVER_ERROR;
        int64_t base = -1;
        for (size_t j = 0; j < nres; j++) {
            if (res[j].partition == c->partition && tn_kc_kstr_eq(res[j].topic, topic)) {
                code = res[j].error;
                base = res[j].offset;
            }
        }
        if (code == 0) {
            settle(recs, rd->order, c, TERN_OK, base);
        } else if (tn_kc_err_retriable(code)) {
            *retry = true;
            tn_kc_fail(k, tn_kc_err_map(code), "cannot produce to %s/%ld: %s", topic,
                       (long)c->partition, tern_kafka_error_name(code));
        } else {
            settle(recs, rd->order, c, tn_kc_err_map(code), -1);
            tn_kc_fail(k, tn_kc_err_map(code), "cannot produce to %s/%ld: %s", topic,
                       (long)c->partition, tern_kafka_error_name(code));
        }
    }
    free(res);
    return TERN_OK;
}

/* Sends this round's chunks, a request per leader, then reads the
 * answers. */
static tern_err send_round(tern_kafka *k, const char *topic, int16_t acks, round *rd,
                           tern_kafka_record *recs, uint64_t deadline, bool *retry)
{
    int32_t timeout = k->timeout_ms > INT32_MAX ? INT32_MAX : (int32_t)k->timeout_ms;
    tn_kc_preq *q = malloc(rd->nchunks * sizeof *q);
    int32_t *leaders = malloc(rd->nchunks * sizeof *leaders);
    size_t *counts = malloc(rd->nchunks * sizeof *counts);
    tn_kc_conn **conns = calloc(rd->nchunks, sizeof *conns);
    size_t nleaders = 0;
    tern_err err = TERN_OK;
    if (q == NULL || leaders == NULL || counts == NULL || conns == NULL)
        err = tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    /* Send to each leader. */
    for (size_t i = 0; err == TERN_OK && i < rd->nchunks; i++) {
        int32_t leader = rd->chunks[i].leader;
        bool seen = false;
        for (size_t j = 0; j < nleaders; j++)
            seen |= leaders[j] == leader;
        if (seen)
            continue;
        size_t nq = 0;
        for (size_t j = i; j < rd->nchunks; j++) {
            if (rd->chunks[j].leader == leader)
                q[nq++] = (tn_kc_preq){.topic = topic,
                                       .partition = rd->chunks[j].partition,
                                       .data = rd->chunks[j].batch.p,
                                       .len = rd->chunks[j].batch.n};
        }
        leaders[nleaders] = leader;
        counts[nleaders] = nq;
        tn_kc_conn *c;
        if (tn_kc_node_conn(k, leader, deadline, &c) != TERN_OK) {
            *retry = true; /* nothing was sent: the leader may have moved */
            conns[nleaders++] = NULL;
            continue;
        }
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_PRODUCE, TN_KC_V_PRODUCE, k->client_id);
        tn_kc_enc_produce(&w, acks, timeout, q, nq);
        tn_kc_req_end(&w);
        tern_err e = w.err ? TERN_ENOMEM : tn_kc_conn_supports(c, TN_KAPI_PRODUCE, TN_KC_V_PRODUCE);
        if (e == TERN_OK)
            e = tn_kc_conn_send(c, &w, acks == 0 ? 0 : TN_KC_MAX_RESPONSE, deadline);
        tn_kw_free(&w);
        conns[nleaders] = c;
        if (e != TERN_OK) {
            tn_kc_conn_failed(k, c, e);
            conns[nleaders] = NULL;
            for (size_t j = 0; j < rd->nchunks; j++) {
                if (rd->chunks[j].leader == leader)
                    settle(recs, rd->order, &rd->chunks[j], e, -1);
            }
        }
        nleaders++;
    }
    /* Read each leader's answer (none with acks 0). */
    for (size_t l = 0; err == TERN_OK && l < nleaders; l++) {
        tn_kc_conn *c = conns[l];
        if (c == NULL)
            continue;
        tern_err e = TERN_OK;
        tn_kr r;
        if (acks != 0) {
            e = tn_kc_conn_recv(c, deadline, &r);
            if (e == TERN_OK &&
                apply(k, topic, &r, rd, leaders[l], counts[l], recs, retry) != TERN_OK)
                e = TERN_EPROTO;
            if (e == TERN_EPROTO)
                tn_kc_fail(k, e, "broker %s: malformed Produce response", c->addr);
            else if (e != TERN_OK)
                tn_kc_conn_failed(k, c, e);
        }
        if (acks != 0 && e == TERN_OK)
            continue;
        for (size_t j = 0; j < rd->nchunks; j++) {
            if (rd->chunks[j].leader == leaders[l])
                settle(recs, rd->order, &rd->chunks[j], e, -1);
        }
    }
    free(q);
    free(leaders);
    free(counts);
    free((void *)conns);
    return err;
}

static tern_err check_records(tern_kafka *k, const tn_kc_topic *t, tern_kafka_record *recs,
                              size_t n)
{
    /* Keyless records of one call share a partition; the next call takes
     * the next one. */
    int32_t sticky = (int32_t)(k->sticky++ % (uint32_t)t->npart);
    for (size_t i = 0; i < n; i++) {
        tern_kafka_record *r = &recs[i];
        r->offset = -1;
        r->err = PENDING;
        if ((r->key && r->key_len > INT32_MAX / 2) || (r->value && r->value_len > INT32_MAX / 2))
            return tn_kc_fail(k, TERN_EMSGSIZE, "record %zu is larger than 1 GiB", i);
        if (r->partition == TERN_KAFKA_ANY_PARTITION)
            r->partition = r->key ? tn_kc_partition_for_key(r->key, r->key_len, t->npart) : sticky;
        else if (r->partition < 0 || r->partition >= t->npart)
            return tn_kc_fail(k, TERN_EINVAL, "record %zu: topic %s has no partition %ld", i,
                              t->name, (long)r->partition);
    }
    return TERN_OK;
}

tern_err tern_kafka_produce(tern_kafka *k, const char *topic, int acks, tern_kafka_record *recs,
                            size_t n)
{
    if (acks != TERN_KAFKA_ACKS_NONE && acks != TERN_KAFKA_ACKS_LEADER &&
        acks != TERN_KAFKA_ACKS_ALL)
        return tn_kc_fail(k, TERN_EINVAL, "acks is 0, 1 or -1 (all), not %d", acks);
    if (topic == NULL || topic[0] == '\0')
        return tn_kc_fail(k, TERN_EINVAL, "no topic");
    if (n == 0)
        return TERN_OK;
    uint64_t deadline = tn_kc_deadline(k);
    tn_kc_topic *t;
    tern_err err = tn_kc_topic_ready(k, topic, true, deadline, &t);
    if (err == TERN_OK)
        err = check_records(k, t, recs, n);
    if (err != TERN_OK) {
        for (size_t i = 0; i < n; i++)
            recs[i].err = err;
        return err;
    }
    round rd = {malloc(n * sizeof *rd.order), NULL, 0};
    /* At most one chunk per partition and round. */
    rd.chunks = malloc((size_t)t->npart * sizeof *rd.chunks);
    if (rd.order == NULL || rd.chunks == NULL)
        err = tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    while (err == TERN_OK) {
        bool retry = false;
        err = plan(&rd, recs, n, t);
        if (err != TERN_OK)
            err = tn_kc_fail(k, err, "out of memory");
        if (err == TERN_OK && rd.nchunks == 0)
            break;
        if (err == TERN_OK)
            err = send_round(k, topic, (int16_t)acks, &rd, recs, deadline, &retry);
        for (size_t i = 0; i < rd.nchunks; i++)
            tn_kw_free(&rd.chunks[i].batch);
        if (err != TERN_OK || !retry)
            continue;
        if (tn_kc_expired(deadline)) {
            tn_kc_fail(k, TERN_ETIMEDOUT, "%s (still, at the deadline)", k->err);
            break;
        }
        tn_trace(TERN_TRACE_BROKER, "kafka client: produce to %s retries: %s", topic, k->err);
        tn_kc_backoff(deadline);
        /* Fresh leaders; a failed refresh leaves the old ones to try. */
        int32_t npart = t->npart;
        (void)tn_kc_refresh(k, &topic, 1, false, true, deadline, NULL, NULL);
        t = tn_kc_topic_find(k, topic);
        if (t == NULL || t->npart < npart)
            err = tn_kc_fail(k, TERN_ENOENT, "topic %s lost partitions while producing", topic);
    }
    free(rd.order);
    free(rd.chunks);
    tern_err first = err;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].err == PENDING)
            recs[i].err = err != TERN_OK ? err : TERN_ETIMEDOUT;
        if (first == TERN_OK)
            first = recs[i].err;
    }
    return first;
}
