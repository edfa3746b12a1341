/* Produce and consume throughput against any Kafka-protocol broker, through
 * librdkafka: the one client library every broker row of bench/broker/run
 * is measured with.
 *
 *   kbench create  --brokers H:P --topic T [--size S --batch N]
 *   kbench produce --brokers H:P --topic T --size S --batch N --count M
 *                  [--acks all|1] [--linger MS] [--json]
 *   kbench consume --brokers H:P --topic T --size S --expect M [--passes K] [--json]
 *
 * create makes a topic of one partition (CreateTopics through the admin API)
 * whose max.message.bytes takes a batch of N records of S bytes.
 *
 * produce sends one untimed warm-up record (connection, metadata and the
 * partition leader are settled by then), then M records of S bytes to
 * partition 0 as fast as librdkafka takes them, and stops the clock when the
 * delivery report of the last one has arrived. librdkafka is set up so its
 * batches (one per produce request) hold N records: batch.num.messages=N,
 * batch.size and message.max.bytes large enough for them, a local queue that
 * holds all M, a short linger, no compression, no idempotence. Statistics
 * report how many records the batches actually held. Every record carries
 * its sequence number (the warm-up record is 0); every delivery report must
 * succeed and name the offset equal to its sequence number, so a lost,
 * duplicated or reordered record fails the run.
 *
 * consume reads partition 0 from the beginning, with fetches of up to 50 MB
 * (the broker may hold one for up to 500 ms when there is nothing new),
 * the partition assigned rather than subscribed to (no rebalance), nothing
 * committed; K times in one client (default 2), reporting the last pass:
 * after the first, the broker serves it from the page cache. A pass is timed
 * from its assign() to the last expected record; every record must have the
 * next offset, S bytes, and its offset as sequence number.
 *
 * Prints one line: key=value, or a JSON object with --json. Any error exits 1
 * with librdkafka's words on stderr. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_KBYTES 1048576 /* 1 GiB: queued.max.messages.kbytes */
#define CONSUME_BATCH 4096
#define IDLE_MS 30000     /* a consume pass with nothing new for this long fails */
#define FETCH_WAIT_MS 500 /* fetch.wait.max.ms: the broker's long poll at the end */

const char bk_prog[] = "kbench";

static void set(rd_kafka_conf_t *conf, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set(rd_kafka_conf_t *conf, const char *key, const char *fmt, ...)
{
    char val[64], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (rd_kafka_conf_set(conf, key, val, err, sizeof err) != RD_KAFKA_CONF_OK)
        bk_die("%s=%s: %s", key, val, err);
}

/* Errors librdkafka reports outside any one record (connection refused,
 * broker down, ...) are printed. A fatal error ends the run, and so does
 * losing the one broker: a crashed broker fails the run at once instead of
 * after the message timeout. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "%s: librdkafka: %s: %s\n", bk_prog,
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        bk_die("lost the broker: %s", reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        bk_die("fatal error %s: %s", rd_kafka_err2name(orig), why);
    }
}

static const char *debug; /* librdkafka's debug contexts, for a look inside */

static rd_kafka_conf_t *base_conf(const char *brokers)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", "%s", brokers);
    if (debug)
        set(conf, "debug", "%s", debug);
    set(conf, "client.id", "kbench");
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        bk_die("rd_kafka_new: %s", err);
    return rk;
}

/* The largest produce batch of n records of size bytes: a record takes at
 * most size + 16 bytes in a v2 batch, the header 61. librdkafka's
 * batch.size; message.max.bytes and the topic's max.message.bytes add room
 * for the request around it. */
static unsigned long batch_bytes(unsigned long size, unsigned long n)
{
    return n * (size + 32) + 4096;
}

#define REQUEST_ROOM 65536

/* ---- create -------------------------------------------------------------- */

static void create_topic(const char *brokers, const char *topic, unsigned long size,
                         unsigned long batch)
{
    char err[512], max[32];
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, base_conf(brokers));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof err);
    if (!nt)
        bk_die("NewTopic %s: %s", topic, err);
    /* Kafka refuses batches above max.message.bytes (default 1 MiB + 12):
     * the topic takes the batches the producer is set to send. */
    snprintf(max, sizeof max, "%lu", batch_bytes(size, batch) + REQUEST_ROOM);
    if (rd_kafka_NewTopic_set_config(nt, "max.message.bytes", max))
        bk_die("NewTopic %s: max.message.bytes=%s refused", topic, max);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_operation_timeout(opt, 10000, err, sizeof err))
        bk_die("operation_timeout: %s", err);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev)
        bk_die("CreateTopics %s: no answer in 30 s", topic);
    if (rd_kafka_event_error(ev))
        bk_die("CreateTopics %s: %s", topic, rd_kafka_event_error_string(ev));
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n != 1)
        bk_die("CreateTopics %s: %zu results for one topic", topic, n);
    if (rd_kafka_topic_result_error(res[0]))
        bk_die("CreateTopics %s: %s: %s", topic,
               rd_kafka_err2name(rd_kafka_topic_result_error(res[0])),
               rd_kafka_topic_result_error_string(res[0])
                   ? rd_kafka_topic_result_error_string(res[0])
                   : "");
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

/* ---- produce ------------------------------------------------------------- */

struct prod {
    int check_offsets; /* acks >= 1: the broker names each offset */
    uint64_t delivered, errors, misplaced;
    char first_err[512], first_misplaced[128];
    /* Sums over the statistics windows since the last reset: records and
     * bytes in the produced batches, and how many batches. */
    double batched_records, batched_bytes, batches;
    unsigned stats_seen;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct prod *p = opaque;
    (void)rk;
    if (m->err) {
        if (p->errors++ == 0)
            snprintf(p->first_err, sizeof p->first_err, "%s: %s", rd_kafka_err2name(m->err),
                     rd_kafka_message_errstr(m));
        return;
    }
    uint64_t seq = bk_get_be(m->payload, 8);
    if (p->check_offsets && m->offset != (int64_t)seq && p->misplaced++ == 0)
        snprintf(p->first_misplaced, sizeof p->first_misplaced,
                 "record %" PRIu64 " acknowledged at offset %" PRId64, seq, m->offset);
    p->delivered++;
}

/* The "sum" and "cnt" of the window object that follows "key": in the
 * statistics JSON; 0 when absent. */
static void window_sum(const char *json, const char *key, double *sum, double *cnt)
{
    const char *o = strstr(json, key), *end, *s, *c;
    *sum = *cnt = 0;
    if (!o || !(end = strchr(o, '}')))
        return;
    s = strstr(o, "\"sum\":");
    c = strstr(o, "\"cnt\":");
    if (s && s < end)
        *sum = strtod(s + 6, NULL);
    if (c && c < end)
        *cnt = strtod(c + 6, NULL);
}

/* Statistics windows are reset at every emission: summing them over the
 * run gives every batch exactly once. One topic, so the first "batchcnt"
 * and "batchsize" are ours. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct prod *p = opaque;
    double sum, cnt;
    (void)rk;
    (void)len;
    window_sum(json, "\"batchcnt\":", &sum, &cnt);
    p->batched_records += sum;
    p->batches += cnt;
    window_sum(json, "\"batchsize\":", &sum, &cnt);
    p->batched_bytes += sum;
    p->stats_seen++;
    return 0;
}

/* Serves callbacks until a statistics window has closed after this call. */
static void next_stats(rd_kafka_t *rk, struct prod *p)
{
    unsigned seen = p->stats_seen;
    while (p->stats_seen < seen + 2)
        rd_kafka_poll(rk, 50);
}

static void produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, void *buf, size_t size, uint64_t seq)
{
    bk_put_be(buf, seq, 8);
    while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, buf, size, NULL, 0, NULL) != 0) {
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            bk_die("produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(rk, 10);
    }
}

static void flush_all(rd_kafka_t *rk, struct prod *p, uint64_t want)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, 120000);
    if (err)
        bk_die("flush: %s (%d records still queued)", rd_kafka_err2str(err), rd_kafka_outq_len(rk));
    if (p->errors || p->misplaced)
        bk_die("%" PRIu64 " records failed (first: %s), %" PRIu64
               " at the wrong offset (first: %s)",
               p->errors, p->errors ? p->first_err : "-", p->misplaced,
               p->misplaced ? p->first_misplaced : "-");
    if (p->delivered != want)
        bk_die("%" PRIu64 " delivery reports for %" PRIu64 " records", p->delivered, want);
}

static void produce(const char *brokers, const char *topic, unsigned long size, unsigned long batch,
                    unsigned long count, const char *acks, unsigned long linger, int json)
{
    struct prod p;
    memset(&p, 0, sizeof p);
    p.check_offsets = strcmp(acks, "0") != 0;
    unsigned long bytes = batch_bytes(size, batch);

    rd_kafka_conf_t *conf = base_conf(brokers);
    set(conf, "acks", "%s", acks);
    set(conf, "batch.num.messages", "%lu", batch);
    set(conf, "batch.size", "%lu", bytes);
    set(conf, "message.max.bytes", "%lu", bytes + REQUEST_ROOM);
    set(conf, "linger.ms", "%lu", linger);
    set(conf, "queue.buffering.max.messages", "%lu", count + 1);
    set(conf, "queue.buffering.max.kbytes", "%d", 2097151);
    set(conf, "compression.type", "none");
    set(conf, "enable.idempotence", "false");
    set(conf, "message.timeout.ms", "120000");
    set(conf, "statistics.interval.ms", "100");
    rd_kafka_conf_set_opaque(conf, &p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt)
        bk_die("topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));

    char *buf = malloc(size);
    if (!buf)
        bk_die("out of memory");
    for (unsigned long i = 0; i < size; i++)
        buf[i] = (char)(i * 131 + 7);

    produce_one(rk, rkt, buf, size, 0);
    flush_all(rk, &p, 1);
    next_stats(rk, &p);
    p.batched_records = p.batched_bytes = p.batches = 0;

    double cpu0 = bk_cpu_s();
    uint64_t t0 = bk_now_ns();
    for (uint64_t seq = 1; seq <= count; seq++) {
        produce_one(rk, rkt, buf, size, seq);
        if (seq % 1024 == 0)
            rd_kafka_poll(rk, 0);
    }
    flush_all(rk, &p, count + 1);
    double secs = (double)(bk_now_ns() - t0) / 1e9, cpu = bk_cpu_s() - cpu0;
    next_stats(rk, &p);
    if (p.batched_records != (double)count)
        bk_die("statistics counted %.0f records in batches, %lu were sent", p.batched_records,
               count);

    double avg_recs = p.batches > 0 ? p.batched_records / p.batches : 0;
    double avg_bytes = p.batches > 0 ? p.batched_bytes / p.batches : 0;
    struct bk_line l = {json, 0};
    bk_line_str(&l, "mode", "produce");
    bk_line_str(&l, "acks", acks);
    bk_line_num(&l, "size", "%lu", size);
    bk_line_num(&l, "batch", "%lu", batch);
    bk_line_num(&l, "records", "%lu", count);
    bk_line_rate(&l, count, size, secs);
    bk_line_num(&l, "batches", "%.0f", p.batches);
    bk_line_num(&l, "batch_records_avg", "%.1f", avg_recs);
    bk_line_num(&l, "batch_bytes_avg", "%.0f", avg_bytes);
    bk_line_num(&l, "cpu_s", "%.3f", cpu);
    bk_line_end(&l);
    free(buf);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* ---- consume ------------------------------------------------------------- */

/* Reads the partition from offset 0 to expect - 1, checking every record;
 * returns the pass's seconds. */
static double consume_pass(rd_kafka_t *rk, rd_kafka_queue_t *q,
                           rd_kafka_topic_partition_list_t *parts, unsigned long size,
                           uint64_t expect)
{
    rd_kafka_message_t *msgs[CONSUME_BATCH];
    uint64_t got = 0, t0 = bk_now_ns(), last = t0;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    if (err)
        bk_die("assign: %s", rd_kafka_err2str(err));
    while (got < expect) {
        /* A batch call returns when it has all it asked for or at its
         * timeout: never ask for more than is left. */
        size_t want = expect - got < CONSUME_BATCH ? (size_t)(expect - got) : CONSUME_BATCH;
        ssize_t n = rd_kafka_consume_batch_queue(q, 1000, msgs, want);
        if (n < 0)
            bk_die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        if (n > 0)
            last = bk_now_ns();
        else if (bk_now_ns() - last > (uint64_t)IDLE_MS * 1000000u)
            bk_die("no record for %d s, %" PRIu64 " of %" PRIu64 " read", IDLE_MS / 1000, got,
                   expect);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && got == expect) {
                rd_kafka_message_destroy(m);
                continue;
            }
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                bk_die("end of partition after %" PRIu64 " of %" PRIu64 " records", got, expect);
            if (m->err)
                bk_die("consume: %s: %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
            if (got == expect)
                bk_die("a record at offset %" PRId64 " after the %" PRIu64 " expected", m->offset,
                       expect);
            if (m->offset != (int64_t)got)
                bk_die("offset %" PRId64 " where %" PRIu64 " was next", m->offset, got);
            if (m->len != size || bk_get_be(m->payload, 8) != got)
                bk_die("record at offset %" PRIu64 " has %zu bytes, sequence %" PRIu64, got, m->len,
                       m->len >= 8 ? bk_get_be(m->payload, 8) : 0);
            got++;
            rd_kafka_message_destroy(m);
        }
    }
    double secs = (double)(bk_now_ns() - t0) / 1e9;
    if ((err = rd_kafka_assign(rk, NULL)))
        bk_die("unassign: %s", rd_kafka_err2str(err));
    return secs;
}

static void consume(const char *brokers, const char *topic, unsigned long size,
                    unsigned long expect, unsigned long passes, int json)
{
    rd_kafka_conf_t *conf = base_conf(brokers);
    /* librdkafka's consumer queue needs a group; it is never joined (assign,
     * not subscribe) and nothing is committed. */
    set(conf, "group.id", "kbench-%ld", (long)getpid());
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.partition.eof", "true");
    /* Fetch sizes stay librdkafka's defaults (1 MB per partition, 50 MB per
     * fetch): larger ones make it fault in a fresh receive buffer for every
     * response, which halved the rate. Its queue may hold a whole pass, so
     * the fetcher never pauses for the application (it looks again only a
     * second later): queued.min.messages (default 100000) and
     * queued.max.messages.kbytes (default 64 MB) raised. */
    set(conf, "queued.min.messages", "%d", 10000000);
    set(conf, "queued.max.messages.kbytes", "%d", QUEUE_KBYTES);
    set(conf, "fetch.wait.max.ms", "%d", FETCH_WAIT_MS);
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    if (!q)
        bk_die("no consumer queue");
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;

    double secs = 0, first = 0, cpu = 0;
    for (unsigned long i = 0; i < passes; i++) {
        /* The last pass left a fetch waiting at the end of the log, and
         * librdkafka has one fetch at a time per broker: let it come back
         * (untimed) before the next pass starts. */
        if (i > 0)
            nanosleep(&(struct timespec){0, (FETCH_WAIT_MS + 200) * 1000000L}, NULL);
        double cpu0 = bk_cpu_s();
        secs = consume_pass(rk, q, parts, size, expect);
        cpu = bk_cpu_s() - cpu0;
        if (i == 0)
            first = secs;
    }
    bk_consume_line(json, "librdkafka", size, expect, passes, first, secs, cpu);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static const char usage_text[] =
    "usage: kbench create  --brokers H:P --topic T [--size S] [--batch N]\n"
    "       kbench produce --brokers H:P --topic T [--size S] [--batch N] [--count M]\n"
    "                      [--acks all|1|0] [--linger MS] [--json]\n"
    "       kbench consume --brokers H:P --topic T [--size S] --expect M [--passes K]\n"
    "                      [--json]\n"
    "  --size S     record value bytes, at least 8 (default 100)\n"
    "  --batch N    records per produce batch (default 64)\n"
    "  --count M    records to produce after the warm-up record (default 200000)\n"
    "  --acks A     all, 1 or 0 (default all)\n"
    "  --linger MS  linger.ms (default 5)\n"
    "  --expect M   records in the partition (the warm-up record included)\n"
    "  --passes K   consume passes; the last is reported (default 2)\n"
    "  --timeout S  give up after S seconds (default 600)\n"
    "  --debug CTX  librdkafka's debug contexts (e.g. fetch,msg,protocol) on stderr\n"
    "  --json       one JSON object instead of key=value\n";

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *acks = "all";
    unsigned long size = 100, batch = 64, count = 200000, expect = 0, passes = 2, linger = 5;
    unsigned long timeout = 600;
    int json = 0;

    if (argc < 2)
        bk_usage(usage_text, 2);
    const char *mode = argv[1];
    if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0)
        bk_usage(usage_text, 0);
    const struct bk_opt opts[] = {
        {"--brokers", BK_STR, &brokers, 0},
        {"--topic", BK_STR, &topic, 0},
        {"--acks", BK_STR, &acks, 0},
        {"--size", BK_COUNT, &size, 1u << 20},
        {"--batch", BK_COUNT, &batch, 1000000},
        {"--count", BK_COUNT, &count, 100000000},
        {"--expect", BK_COUNT, &expect, 100000001},
        {"--passes", BK_COUNT, &passes, 100},
        {"--linger", BK_COUNT, &linger, 10000},
        {"--debug", BK_STR, &debug, 0},
        {"--timeout", BK_COUNT, &timeout, 86400},
        {"--json", BK_FLAG, &json, 0},
    };
    bk_parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], usage_text);
    if (!brokers || !topic)
        bk_die("--brokers and --topic are needed");
    if (size < 8)
        bk_die("--size must be at least 8: each record carries its sequence number");
    if (strcmp(acks, "all") != 0 && strcmp(acks, "1") != 0 && strcmp(acks, "0") != 0)
        bk_die("--acks is all, 1 or 0");
    /* A hung broker ends the run here rather than stalling the benchmark. */
    alarm((unsigned)timeout);

    if (strcmp(mode, "create") == 0)
        create_topic(brokers, topic, size, batch);
    else if (strcmp(mode, "produce") == 0)
        produce(brokers, topic, size, batch, count, acks, linger, json);
    else if (strcmp(mode, "consume") == 0) {
        if (!expect)
            bk_die("consume needs --expect");
        consume(brokers, topic, size, expect, passes, json);
    } else
        bk_usage(usage_text, 2);
    return 0;
}
