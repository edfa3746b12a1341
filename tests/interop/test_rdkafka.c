/* Interop with librdkafka, the C client most Kafka users have: a tern
 * broker runs in this process and librdkafka (default settings unless a
 * case says otherwise) produces to and consumes from it over loopback. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/kwire.h"

static kw_scratch sb;
static char bootstrap[64];

static void tune(tern_broker_opts *o)
{
    o->default_partitions = 4;
}

static int setup(void **state)
{
    (void)state;
    kw_scratch_start(&sb, "rdkafka", tune);
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%u", sb.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kw_scratch_stop(&sb);
    return 0;
}

static rd_kafka_conf_t *conf_new(void)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    /* e.g. TERN_TEST_RDKAFKA_DEBUG=protocol,msg to see librdkafka's side */
    const char *debug = getenv("TERN_TEST_RDKAFKA_DEBUG");
    if (debug)
        rd_kafka_conf_set(c, "debug", debug, err, sizeof err);
    return c;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        fail_msg("%s=%s: %s", k, v, err);
}

struct delivery {
    int ok, failed;
    int64_t offsets[4096];
    int32_t partitions[4096];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct delivery *d = opaque;
    if (m->err) {
        d->failed++;
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        return;
    }
    int i = (int)(intptr_t)m->_private;
    if (i >= 0 && i < 4096) {
        d->offsets[i] = m->offset;
        d->partitions[i] = m->partition;
    }
    d->ok++;
}

/* Produces n records "key-i" / "value-i" to topic and waits for every report. */
static void produce(const char *topic, int first, int n, const char *acks, int idempotent,
                    struct delivery *d)
{
    rd_kafka_conf_t *c = conf_new();
    set(c, "acks", acks);
    if (idempotent)
        set(c, "enable.idempotence", "true");
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, d);
    char err[256];
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(p);
    for (int i = first; i < first + n; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "key-%d", i);
        snprintf(val, sizeof val, "value-%d", i);
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                  RD_KAFKA_V_VALUE(val, strlen(val)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE((void *)(intptr_t)(i - first)), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* Records seen by consumers, by value index. */
struct seen {
    int count[4096];
    int total;
};

static int poll_into(rd_kafka_t *k, struct seen *s, int timeout_ms)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k, timeout_ms);
    if (m == NULL)
        return 0;
    int got = 0;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int i;
        char val[32] = {0};
        memcpy(val, m->payload, m->len < 31 ? m->len : 31);
        if (sscanf(val, "value-%d", &i) == 1 && i >= 0 && i < 4096) {
            s->count[i]++;
            s->total++;
            got = 1;
        }
        char key[32] = {0};
        memcpy(key, m->key, m->key_len < 31 ? m->key_len : 31);
        char want[32];
        snprintf(want, sizeof want, "key-%d", i);
        assert_string_equal(key, want);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
    return got;
}

/* Polls until want records were seen or 20 s passed. */
static void read_until(rd_kafka_t *k, struct seen *s, int want)
{
    uint64_t end = tern_clock_ns() + 20000000000ull;
    while (s->total < want && tern_clock_ns() < end)
        poll_into(k, s, 50);
}

static rd_kafka_t *consumer(const char *group, const char *topic, const char *strategy)
{
    rd_kafka_conf_t *c = conf_new();
    set(c, "group.id", group);
    set(c, "auto.offset.reset", "earliest");
    set(c, "session.timeout.ms", "6000");
    set(c, "heartbeat.interval.ms", "300");
    if (strategy)
        set(c, "partition.assignment.strategy", strategy);
    char err[256];
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    assert_non_null(k);
    rd_kafka_poll_set_consumer(k);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(k, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    return k;
}

static int assigned(rd_kafka_t *k)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(k, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    int n = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    return n;
}

static void test_produce_consume_keys(void **state)
{
    (void)state;
    static struct delivery d;
    memset(&d, 0, sizeof d);
    produce("keys", 0, 200, "all", 0, &d);
    assert_int_equal(d.ok, 200);
    assert_int_equal(d.failed, 0);
    /* The default partitioner hashes keys: the same key lands on the same
     * partition, and offsets are dense per partition. */
    int per[4] = {0};
    for (int i = 0; i < 200; i++) {
        assert_in_range(d.partitions[i], 0, 3);
        per[d.partitions[i]]++;
    }
    for (int p = 0; p < 4; p++) {
        int64_t max = -1;
        for (int i = 0; i < 200; i++)
            if (d.partitions[i] == p && d.offsets[i] > max)
                max = d.offsets[i];
        assert_int_equal(max + 1, per[p]);
    }
    static struct seen s;
    memset(&s, 0, sizeof s);
    rd_kafka_t *k = consumer("keys-reader", "keys", NULL);
    read_until(k, &s, 200);
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
    assert_int_equal(s.total, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(s.count[i], 1);
}

static void test_group_rebalance(void **state)
{
    (void)state;
    static struct delivery d;
    memset(&d, 0, sizeof d);
    produce("groups", 0, 400, "all", 0, &d);
    assert_int_equal(d.ok, 400);
    rd_kafka_t *a = consumer("two", "groups", "range");
    rd_kafka_t *b = consumer("two", "groups", "range");
    static struct seen s;
    memset(&s, 0, sizeof s);
    /* Both members join; the 4 partitions are split between them. */
    int split = 0;
    for (int i = 0; i < 400 && !split; i++) {
        poll_into(a, &s, 20);
        poll_into(b, &s, 20);
        split = assigned(a) == 2 && assigned(b) == 2;
    }
    assert_true(split);
    uint64_t end = tern_clock_ns() + 20000000000ull;
    while (s.total < 400 && tern_clock_ns() < end) {
        poll_into(a, &s, 20);
        poll_into(b, &s, 20);
    }
    assert_int_equal(s.total, 400);
    rd_kafka_commit(a, NULL, 0);
    rd_kafka_commit(b, NULL, 0);
    /* One leaves: the other takes over every partition. */
    rd_kafka_consumer_close(b);
    rd_kafka_destroy(b);
    int all = 0;
    for (int i = 0; i < 600 && !all; i++) {
        poll_into(a, &s, 20);
        all = assigned(a) == 4;
    }
    assert_true(all);
    /* New records reach the remaining member only, each once. */
    memset(&d, 0, sizeof d);
    produce("groups", 400, 100, "1", 0, &d);
    read_until(a, &s, 500);
    assert_int_equal(s.total, 500);
    for (int i = 0; i < 500; i++)
        assert_int_equal(s.count[i], 1);
    rd_kafka_consumer_close(a);
    rd_kafka_destroy(a);
}

static void test_offsets_survive_restart(void **state)
{
    (void)state;
    static struct delivery d;
    memset(&d, 0, sizeof d);
    produce("resume", 0, 100, "all", 0, &d);
    static struct seen s;
    memset(&s, 0, sizeof s);
    rd_kafka_t *k = consumer("resumer", "resume", NULL);
    read_until(k, &s, 100);
    assert_int_equal(s.total, 100);
    assert_int_equal(rd_kafka_commit(k, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);

    kw_scratch_restart(&sb); /* on the same port: clients keep the address */
    memset(&d, 0, sizeof d);
    produce("resume", 100, 50, "all", 0, &d);
    assert_int_equal(d.ok, 50);
    memset(&s, 0, sizeof s);
    k = consumer("resumer", "resume", NULL);
    read_until(k, &s, 50);
    /* a little longer: anything older than the commit would show up now */
    for (int i = 0; i < 10; i++)
        poll_into(k, &s, 50);
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
    assert_int_equal(s.total, 50);
    for (int i = 100; i < 150; i++)
        assert_int_equal(s.count[i], 1);
}

static void test_idempotent_producer(void **state)
{
    (void)state;
    static struct delivery d;
    memset(&d, 0, sizeof d);
    produce("idem", 0, 1000, "all", 1, &d);
    assert_int_equal(d.ok, 1000);
    assert_int_equal(d.failed, 0);
    static struct seen s;
    memset(&s, 0, sizeof s);
    rd_kafka_t *k = consumer("idem-reader", "idem", NULL);
    read_until(k, &s, 1000);
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
    assert_int_equal(s.total, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_consume_keys),
        cmocka_unit_test(test_group_rebalance),
        cmocka_unit_test(test_offsets_survive_restart),
        cmocka_unit_test(test_idempotent_producer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
