/* The consumer: assignment, positions (committed offsets, else the reset
 * policy, by ListOffsets), fetching from each partition's leader, and
 * handing the fetched records out one at a time. */
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"
#include "kclient/consumer.h"
#include "kclient/kerr.h"
#include "kclient/proto_util.h"

#define NS_PER_MS 1000000ull
/* A fetch asks for at most this much, and accepts a response of at most
 * twice as much (a partition's first batch may exceed the limits). */
#define FETCH_MAX_BYTES (32 << 20)
#define FETCH_MAX_RESPONSE (2u * FETCH_MAX_BYTES)

static const char *codec_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec < 5 ? names[codec] : "an unknown codec";
}

/* ---- assignment ---------------------------------------------------------- */

static void drop_fetched(tern_kafka_consumer *c)
{
    for (size_t i = 0; i < c->nbufs; i++)
        free(c->bufs[i]);
    free((void *)c->bufs);
    free(c->chunks);
    c->bufs = NULL;
    c->chunks = NULL;
    c->nbufs = c->nchunks = c->cur = 0;
}

void tn_kc_consumer_revoke(tern_kafka_consumer *c)
{
    drop_fetched(c);
    for (size_t i = 0; i < c->ntps; i++)
        free(c->tps[i].topic);
    free(c->tps);
    c->tps = NULL;
    c->ntps = 0;
}

tern_err tn_kc_consumer_set(tern_kafka_consumer *c, const tn_kc_preq *parts, size_t n,
                            tern_kafka_start start)
{
    tn_kc_tp *tps = calloc(n ? n : 1, sizeof *tps);
    if (tps == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        tps[i] = (tn_kc_tp){strdup(parts[i].topic), parts[i].partition, -1, -1, start};
        if (tps[i].topic == NULL) {
            for (size_t j = 0; j < i; j++)
                free(tps[j].topic);
            free(tps);
            return TERN_ENOMEM;
        }
    }
    tn_kc_consumer_revoke(c);
    c->tps = tps;
    c->ntps = n;
    return TERN_OK;
}

void tern_kafka_consumer_opts_init(tern_kafka_consumer_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->assignor = "range";
    opts->reset = TERN_KAFKA_LATEST;
    opts->session_timeout_ms = 10000;
    opts->rebalance_timeout_ms = 30000;
    opts->heartbeat_interval_ms = 3000;
    opts->fetch_max_wait_ms = 500;
    opts->partition_max_bytes = 1 << 20;
}

tern_err tern_kafka_consumer_open(tern_kafka *k, const tern_kafka_consumer_opts *opts,
                                  tern_kafka_consumer **out)
{
    tern_kafka_consumer_opts o;
    tern_kafka_consumer_opts_init(&o);
    if (opts)
        o = *opts;
    if (o.assignor == NULL)
        o.assignor = "range";
    if (strcmp(o.assignor, "range") != 0 && strcmp(o.assignor, "roundrobin") != 0)
        return tn_kc_fail(k, TERN_EINVAL, "unknown assignor '%s' (range or roundrobin)",
                          o.assignor);
    if (o.reset != TERN_KAFKA_EARLIEST && o.reset != TERN_KAFKA_LATEST)
        return tn_kc_fail(k, TERN_EINVAL, "reset is EARLIEST or LATEST");
    if (o.session_timeout_ms <= 0 || o.rebalance_timeout_ms <= 0 || o.heartbeat_interval_ms <= 0 ||
        o.heartbeat_interval_ms >= o.session_timeout_ms || o.fetch_max_wait_ms < 0 ||
        o.partition_max_bytes <= 0 || o.partition_max_bytes > FETCH_MAX_BYTES)
        return tn_kc_fail(k, TERN_EINVAL, "bad consumer timeouts or sizes");
    if (o.group && (o.group[0] == '\0' || strlen(o.group) > 255))
        return tn_kc_fail(k, TERN_EINVAL, "a group id is 1 to 255 bytes");
    tern_kafka_consumer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    c->k = k;
    c->o = o;
    c->group = o.group ? strdup(o.group) : NULL;
    c->assignor = strdup(o.assignor);
    c->g.member_id = strdup("");
    c->g.generation = -1;
    c->o.group = NULL;
    c->o.assignor = NULL;
    if ((o.group && c->group == NULL) || c->assignor == NULL || c->g.member_id == NULL) {
        free(c->group);
        free(c->assignor);
        free(c->g.member_id);
        free(c);
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    }
    *out = c;
    return TERN_OK;
}

static bool valid_topic(const char *t)
{
    return t && t[0] != '\0' && strlen(t) <= 249;
}

tern_err tern_kafka_assign(tern_kafka_consumer *c, const tern_kafka_tp *tps, size_t n,
                           tern_kafka_start start)
{
    tern_kafka *k = c->k;
    if (c->nsubs > 0)
        return tn_kc_fail(k, TERN_ESTATE, "a subscribed consumer cannot also assign");
    if (start == TERN_KAFKA_COMMITTED && c->group == NULL)
        return tn_kc_fail(k, TERN_EINVAL, "starting at committed offsets needs a group");
    if (start != TERN_KAFKA_EARLIEST && start != TERN_KAFKA_LATEST && start != TERN_KAFKA_COMMITTED)
        return tn_kc_fail(k, TERN_EINVAL, "bad start");
    tn_kc_preq *q = calloc(n ? n : 1, sizeof *q);
    if (q == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!valid_topic(tps[i].topic) || tps[i].partition < 0) {
            free(q);
            return tn_kc_fail(k, TERN_EINVAL, "bad topic or partition at %zu", i);
        }
        q[i] = (tn_kc_preq){.topic = tps[i].topic, .partition = tps[i].partition};
    }
    tern_err err = tn_kc_consumer_set(c, q, n, start);
    free(q);
    return err == TERN_OK ? TERN_OK : tn_kc_fail(k, err, "out of memory");
}

tern_err tern_kafka_subscribe(tern_kafka_consumer *c, const char *const *topics, size_t n)
{
    tern_kafka *k = c->k;
    if (c->group == NULL)
        return tn_kc_fail(k, TERN_EINVAL, "subscribing needs a group");
    if (c->nsubs > 0 || c->ntps > 0)
        return tn_kc_fail(k, TERN_ESTATE, "already subscribed or assigned");
    if (n == 0)
        return tn_kc_fail(k, TERN_EINVAL, "no topic to subscribe to");
    char **subs = calloc(n, sizeof *subs);
    if (subs == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        subs[i] = valid_topic(topics[i]) ? strdup(topics[i]) : NULL;
        if (subs[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(subs[j]);
            free((void *)subs);
            return tn_kc_fail(k, valid_topic(topics[i]) ? TERN_ENOMEM : TERN_EINVAL,
                              "bad topic name at %zu", i);
        }
    }
    c->subs = subs;
    c->nsubs = n;
    c->g.state = TN_KG_JOIN;
    return TERN_OK;
}

void tern_kafka_assignment(const tern_kafka_consumer *c, tern_kafka_tp *tps, size_t cap, size_t *n)
{
    for (size_t i = 0; i < c->ntps && i < cap; i++)
        tps[i] = (tern_kafka_tp){c->tps[i].topic, c->tps[i].partition};
    *n = c->ntps;
}

/* ---- positions ----------------------------------------------------------- */

/* Refreshes the metadata of the assigned topics. */
static tern_err refresh_assigned(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_kafka *k = c->k;
    if (c->ntps == 0)
        return TERN_OK;
    const char **names = malloc(c->ntps * sizeof *names);
    if (names == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->ntps; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(names[j], c->tps[i].topic) == 0;
        if (!seen)
            names[n++] = c->tps[i].topic;
    }
    tern_err err = tn_kc_refresh(k, names, n, false, false, deadline, NULL, NULL);
    free((void *)names);
    return err;
}

/* Refreshes the metadata of the assigned topics if any partition's
 * leader is unknown. */
static tern_err ensure_leaders(tern_kafka_consumer *c, uint64_t deadline)
{
    for (size_t i = 0; i < c->ntps; i++) {
        tn_kc_topic *t = tn_kc_topic_find(c->k, c->tps[i].topic);
        if (t == NULL || c->tps[i].partition >= t->npart || t->leaders[c->tps[i].partition] < 0)
            return refresh_assigned(c, deadline);
    }
    return TERN_OK;
}

static int32_t leader_of(tern_kafka_consumer *c, const tn_kc_tp *tp)
{
    tn_kc_topic *t = tn_kc_topic_find(c->k, tp->topic);
    if (t == NULL || t->error != 0 || tp->partition >= t->npart)
        return -1;
    return t->leaders[tp->partition];
}

/* Finds the positions still unknown: committed offsets first, then the
 * reset policy. Partitions whose leader is away stay unknown. */
static tern_err resolve_positions(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_kafka *k = c->k;
    size_t n = 0;
    size_t *idx = malloc((c->ntps ? c->ntps : 1) * sizeof *idx);
    if (idx == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->ntps; i++) {
        if (c->tps[i].position < 0 && c->tps[i].start == TERN_KAFKA_COMMITTED)
            idx[n++] = i;
    }
    tern_err err = TERN_OK;
    if (n > 0) {
        err = tn_kc_group_committed(c, idx, n, deadline);
        for (size_t i = 0; err == TERN_OK && i < n; i++) {
            tn_kc_tp *t = &c->tps[idx[i]];
            t->position = t->committed;
            if (t->position < 0)
                t->start = c->o.reset;
        }
    }
    n = 0;
    for (size_t i = 0; err == TERN_OK && i < c->ntps; i++) {
        if (c->tps[i].position < 0 && c->tps[i].start != TERN_KAFKA_COMMITTED)
            idx[n++] = i;
    }
    if (n > 0)
        err = ensure_leaders(c, deadline);
    if (err == TERN_OK && n > 0) {
        tn_kc_preq *q = malloc(n * sizeof *q);
        int64_t *offs = malloc(n * sizeof *offs);
        int16_t *codes = malloc(n * sizeof *codes);
        if (q && offs && codes) {
            for (size_t i = 0; i < n; i++) {
                tn_kc_tp *t = &c->tps[idx[i]];
                q[i] = (tn_kc_preq){.topic = t->topic,
                                    .partition = t->partition,
                                    .value = t->start == TERN_KAFKA_EARLIEST ? TN_KC_TS_EARLIEST
                                                                             : TN_KC_TS_LATEST};
            }
            err = tn_kc_list_offsets(k, q, n, deadline, offs, codes);
            for (size_t i = 0; err == TERN_OK && i < n; i++) {
                tn_kc_tp *t = &c->tps[idx[i]];
                if (codes[i] == 0 && offs[i] >= 0)
                    t->position = offs[i];
                else if (!tn_kc_err_retriable(codes[i]) && codes[i] != TN_KE_NETWORK_EXCEPTION)
                    err = tn_kc_fail(k, tn_kc_err_map(codes[i]),
                                     "cannot find an offset of %s/%ld: %s", t->topic,
                                     (long)t->partition, tern_kafka_error_name(codes[i]));
            }
        } else {
            err = tn_kc_fail(k, TERN_ENOMEM, "out of memory");
        }
        free(q);
        free(offs);
        free(codes);
    }
    free(idx);
    return err;
}

/* ---- fetching ------------------------------------------------------------ */

static tern_err add_chunk(tern_kafka_consumer *c, size_t tp, tn_kstr records)
{
    tn_kc_chunk *g = realloc(c->chunks, (c->nchunks + 1) * sizeof *g);
    if (g == NULL)
        return TERN_ENOMEM;
    c->chunks = g;
    tn_kc_chunk *ch = &c->chunks[c->nchunks++];
    memset(ch, 0, sizeof *ch);
    ch->tp = tp;
    ch->p = (const uint8_t *)records.p;
    ch->n = (size_t)records.len;
    return TERN_OK;
}

/* One leader's Fetch response: records become chunks, errors act on
 * their partition. *stale when metadata should be refreshed. */
static tern_err on_fetch(tern_kafka_consumer *c, tn_kc_conn *conn, tn_kr *r, size_t asked,
                         bool *stale)
{
    tern_kafka *k = c->k;
    tn_kc_pres *res;
    size_t nres;
    int16_t top;
    if (tn_kc_dec_fetch(r, asked, &top, &res, &nres) != TERN_OK)
        return tn_kc_fail(k, TERN_EPROTO, "broker %s: malformed Fetch response", conn->addr);
    tern_err err = TERN_OK;
    if (top != 0) {
        *stale = true;
        tn_kc_fail(k, tn_kc_err_map(top), "broker %s: Fetch refused: %s", conn->addr,
                   tern_kafka_error_name(top));
    }
    bool kept = false;
    for (size_t j = 0; j < nres && err == TERN_OK; j++) {
        for (size_t i = 0; i < c->ntps; i++) {
            tn_kc_tp *t = &c->tps[i];
            if (t->partition != res[j].partition || !tn_kc_kstr_eq(res[j].topic, t->topic))
                continue;
            int16_t code = res[j].error;
            if (code == TN_KE_OFFSET_OUT_OF_RANGE) {
                tn_trace(TERN_TRACE_BROKER, "kafka client: %s/%ld offset %lld out of range: reset",
                         t->topic, (long)t->partition, (long long)t->position);
                t->position = -1;
                t->start = c->o.reset;
            } else if (tn_kc_err_retriable(code)) {
                *stale = true;
            } else if (code != 0) {
                err = tn_kc_fail(k, tn_kc_err_map(code), "cannot fetch %s/%ld: %s", t->topic,
                                 (long)t->partition, tern_kafka_error_name(code));
            } else if (res[j].records.len > 0 && t->position >= 0) {
                if (add_chunk(c, i, res[j].records) != TERN_OK)
                    err = tn_kc_fail(k, TERN_ENOMEM, "out of memory");
                kept = true;
            }
        }
    }
    free(res);
    if (kept) {
        uint8_t **g = realloc((void *)c->bufs, (c->nbufs + 1) * sizeof *g);
        if (g == NULL)
            return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
        c->bufs = g;
        c->bufs[c->nbufs++] = tn_kc_conn_take(conn);
    }
    return err;
}

/* One round of fetches: a request to each leader of a partition with a
 * known position, waiting at most wait_ms for data. Returns a failure
 * that ends the consumer, else the passing one of a leader that could
 * not be asked (the others' records are kept all the same). */
static tern_err fetch(tern_kafka_consumer *c, int32_t wait_ms, uint64_t deadline)
{
    tern_kafka *k = c->k;
    size_t n = c->ntps;
    int32_t *leaders = malloc((n ? n : 1) * sizeof *leaders);
    size_t *asked = malloc((n ? n : 1) * sizeof *asked);
    tn_kc_preq *q = malloc((n ? n : 1) * sizeof *q);
    tn_kc_conn **conns = calloc(n ? n : 1, sizeof *conns);
    tern_err err = leaders && asked && q && conns ? TERN_OK : TERN_ENOMEM;
    tern_err trouble = TERN_OK;
    size_t nsent = 0;
    bool stale = false;
    for (size_t i = 0; err == TERN_OK && i < n; i++) {
        leaders[i] = c->tps[i].position >= 0 ? leader_of(c, &c->tps[i]) : -1;
        stale |= c->tps[i].position >= 0 && leaders[i] < 0;
    }
    for (size_t i = 0; err == TERN_OK && i < n; i++) {
        int32_t leader = leaders[i];
        if (leader < 0)
            continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++) {
            if (leaders[j] != leader)
                continue;
            q[m++] = (tn_kc_preq){.topic = c->tps[j].topic,
                                  .partition = c->tps[j].partition,
                                  .value = c->tps[j].position};
            leaders[j] = -1;
        }
        tn_kc_conn *conn;
        tern_err e = tn_kc_node_conn(k, leader, deadline, &conn);
        if (e != TERN_OK) {
            trouble = e;
            stale = true;
            continue;
        }
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_FETCH, TN_KC_V_FETCH, k->client_id);
        tn_kc_enc_fetch(&w, wait_ms, 1, FETCH_MAX_BYTES, c->o.partition_max_bytes, q, m);
        tn_kc_req_end(&w);
        e = w.err ? TERN_ENOMEM : tn_kc_conn_supports(conn, TN_KAPI_FETCH, TN_KC_V_FETCH);
        if (e == TERN_OK)
            e = tn_kc_conn_send(conn, &w, FETCH_MAX_RESPONSE, deadline);
        tn_kw_free(&w);
        if (e == TERN_ENOMEM || e == TERN_EVERSION) {
            err = e == TERN_ENOMEM ? e : tn_kc_conn_failed(k, conn, e);
        } else if (e != TERN_OK) {
            trouble = tn_kc_conn_failed(k, conn, e);
            stale = true;
        } else {
            asked[nsent] = m;
            conns[nsent++] = conn;
        }
    }
    /* Read every answer, even after a failure: each connection is owed one. */
    for (size_t l = 0; l < nsent; l++) {
        tn_kr r;
        uint64_t until =
            tern_clock_ns() + (uint64_t)wait_ms * NS_PER_MS + (uint64_t)k->timeout_ms * NS_PER_MS;
        tern_err e = tn_kc_conn_recv(conns[l], until, &r);
        if (e != TERN_OK) {
            trouble = tn_kc_conn_failed(k, conns[l], e);
            stale = true;
            continue;
        }
        e = on_fetch(c, conns[l], &r, asked[l], &stale);
        if (err == TERN_OK)
            err = e;
    }
    free(leaders);
    free(asked);
    free(q);
    free((void *)conns);
    if (err == TERN_ENOMEM)
        tn_kc_fail(k, err, "out of memory");
    /* Moved leaders and lost brokers are found again on the next round. */
    if (stale) {
        tn_kc_backoff(deadline);
        (void)refresh_assigned(c, deadline);
    }
    return err != TERN_OK ? err : trouble;
}

/* A failure the cluster may get over (a broker away, a leader moving):
 * the next round tries again. */
static bool passing(tern_err err)
{
    return err == TERN_EUNAVAILABLE || err == TERN_ECONNREFUSED || err == TERN_ETIMEDOUT ||
           err == TERN_EHOSTUNREACH;
}

/* ---- handing records out ------------------------------------------------- */

/* The next record of the fetched chunks: 1 with msg filled, 0 when they
 * are used up, -1 on a batch that cannot be read (reported; *err says
 * how). */
static int next_record(tern_kafka_consumer *c, tern_kafka_message *msg, tern_err *err)
{
    tern_kafka *k = c->k;
    while (c->cur < c->nchunks) {
        tn_kc_chunk *ch = &c->chunks[c->cur];
        tn_kc_tp *t = &c->tps[ch->tp];
        if (ch->in_batch) {
            tn_record rec;
            int r = tn_record_iter_next(&ch->it, &rec);
            if (r > 0) {
                if (rec.offset < t->position)
                    continue;
                t->position = rec.offset + 1;
                *msg = (tern_kafka_message){t->topic,
                                            t->partition,
                                            rec.offset,
                                            rec.timestamp,
                                            rec.key.len >= 0 ? rec.key.p : NULL,
                                            rec.key.len > 0 ? (size_t)rec.key.len : 0,
                                            rec.value.len >= 0 ? rec.value.p : NULL,
                                            rec.value.len > 0 ? (size_t)rec.value.len : 0};
                return 1;
            }
            if (r < 0) {
                *err = tn_kc_fail(k, TERN_EPROTO,
                                  "%s/%ld: a malformed record in the batch at offset %lld",
                                  t->topic, (long)t->partition, (long long)ch->batch.base_offset);
                return -1;
            }
            int64_t end = ch->batch.base_offset + ch->batch.last_offset_delta + 1;
            if (end > t->position)
                t->position = end;
            ch->in_batch = false;
            continue;
        }
        const uint8_t *p = ch->p + ch->off;
        tern_err e = ch->off < ch->n ? tn_batch_parse(p, ch->n - ch->off, INT32_MAX, &ch->batch)
                                     : TERN_EAGAIN;
        if (e == TERN_EAGAIN && ch->off == 0 && ch->n >= (size_t)c->o.partition_max_bytes) {
            *err = tn_kc_fail(k, TERN_EMSGSIZE,
                              "%s/%ld: the batch at offset %lld is larger than a fetch's %ld bytes",
                              t->topic, (long)t->partition, (long long)t->position,
                              (long)c->o.partition_max_bytes);
            return -1;
        }
        if (e == TERN_EAGAIN) { /* used up, or a batch cut at the fetch's size */
            c->cur++;
            continue;
        }
        if (e != TERN_OK) {
            *err = tn_kc_fail(k, TERN_EPROTO, "%s/%ld: a malformed record batch after offset %lld",
                              t->topic, (long)t->partition, (long long)t->position);
            return -1;
        }
        ch->off += tn_batch_size(&ch->batch);
        int64_t end = ch->batch.base_offset + ch->batch.last_offset_delta + 1;
        if (end <= t->position)
            continue; /* all of it read already */
        if (!tn_batch_crc_ok(p, &ch->batch)) {
            *err = tn_kc_fail(k, TERN_ECORRUPT, "%s/%ld: the batch at offset %lld fails its CRC",
                              t->topic, (long)t->partition, (long long)ch->batch.base_offset);
            return -1;
        }
        if (ch->batch.attributes & TN_BATCH_CONTROL) {
            t->position = end; /* transaction markers are not records */
            continue;
        }
        int codec = ch->batch.attributes & TN_BATCH_COMPRESSION;
        if (codec != 0) {
            *err = tn_kc_fail(
                k, TERN_ENOTSUP,
                "%s/%ld: the batch at offset %lld is compressed with %s; tern's client "
                "does not decompress",
                t->topic, (long)t->partition, (long long)ch->batch.base_offset, codec_name(codec));
            return -1;
        }
        tn_record_iter_init(&ch->it, p, &ch->batch);
        ch->in_batch = true;
    }
    return 0;
}

tern_err tern_kafka_poll(tern_kafka_consumer *c, int64_t timeout_ms, tern_kafka_message *msg)
{
    tern_kafka *k = c->k;
    uint64_t deadline = 0;
    /* The records handed out last time are done with. */
    if (c->cur >= c->nchunks)
        drop_fetched(c);
    if (c->nsubs == 0 && c->ntps == 0)
        return tn_kc_fail(k, TERN_ESTATE, "nothing to consume: assign or subscribe first");
    /* A passing failure of the last round, reported if the time runs out
     * with no record: a broker that is down is no mere quiet topic. */
    tern_err trouble = TERN_OK;
    for (bool first = true;; first = false) {
        tern_err bad = TERN_OK;
        int r = next_record(c, msg, &bad);
        if (r > 0)
            return TERN_OK;
        if (r < 0)
            return bad;
        /* The clock only once a record is not at hand: reading it for
         * each record took a third of a consumer's time. */
        if (first)
            deadline = tern_clock_ns() + (timeout_ms > 0 ? (uint64_t)timeout_ms * NS_PER_MS : 0);
        drop_fetched(c);
        if (!first && tn_kc_expired(deadline))
            break;
        trouble = TERN_OK;
        if (c->nsubs > 0) {
            tern_err err = tn_kc_group_step(c, deadline);
            if (err == TERN_EAGAIN)
                break;
            if (err != TERN_OK)
                return err;
        }
        tern_err err = resolve_positions(c, deadline);
        if (err != TERN_OK && !passing(err))
            return err;
        trouble = err;
        /* Wake for the next heartbeat, at the latest. */
        uint64_t now = tern_clock_ns(), until = deadline;
        uint64_t due = tn_kc_group_due(c);
        if (due < until)
            until = due;
        int64_t wait = until > now ? (int64_t)((until - now) / NS_PER_MS) : 0;
        if (wait > c->o.fetch_max_wait_ms)
            wait = c->o.fetch_max_wait_ms;
        bool any = false;
        for (size_t i = 0; i < c->ntps && !any; i++)
            any = c->tps[i].position >= 0;
        if (any) {
            err = fetch(c, (int32_t)wait, deadline);
            if (err != TERN_OK && !passing(err))
                return err;
            if (err != TERN_OK)
                trouble = err;
        } else if (!tn_kc_expired(deadline)) {
            /* Nothing to fetch from yet (no partitions, or no positions). */
            tn_kc_backoff(until);
        }
    }
    if (trouble != TERN_OK && trouble != TERN_ETIMEDOUT)
        return trouble;
    tn_kc_fail(k, TERN_ETIMEDOUT, "no record within %lld ms", (long long)timeout_ms);
    return TERN_ETIMEDOUT;
}

tern_err tern_kafka_commit(tern_kafka_consumer *c)
{
    return tn_kc_group_commit(c, tn_kc_deadline(c->k));
}

tern_err tern_kafka_consumer_close(tern_kafka_consumer *c)
{
    if (c == NULL)
        return TERN_OK;
    tern_err err = TERN_OK;
    if (c->group) {
        uint64_t deadline = tn_kc_deadline(c->k);
        err = tn_kc_group_commit(c, deadline);
        tern_err e = tn_kc_group_leave(c, deadline);
        if (err == TERN_OK)
            err = e;
    }
    tn_kc_consumer_revoke(c);
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i]);
    free((void *)c->subs);
    free(c->group);
    free(c->assignor);
    free(c->g.member_id);
    free(c);
    return err;
}
