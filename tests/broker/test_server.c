/* The broker over raw sockets: what a hostile or sloppy client sends, and
 * the protocol corners real clients rarely hit (acks=0, long polls, bad
 * CRCs, unknown versions, oversized frames). */
#include <string.h>
#include <unistd.h>

#include "broker/kwire.h"
#include "kafka/batch.h"

static kw_scratch sb;

static void tune(tern_broker_opts *o)
{
    o->max_request_bytes = 1 << 20;
}

static int setup(void **state)
{
    (void)state;
    kw_scratch_start(&sb, "server", tune);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kw_scratch_stop(&sb);
    return 0;
}

static void create_topic(const char *name, int32_t parts)
{
    int fd = kw_dial(sb.port);
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_array(&b, 0, 1);
    tn_kw_cstr(&b, 0, name);
    tn_kw_i32(&b, parts);
    tn_kw_i16(&b, 1);
    tn_kw_array(&b, 0, 0);
    tn_kw_array(&b, 0, 0);
    tn_kw_i32(&b, 5000);
    tn_kw_i8(&b, 0);
    kw_send_req(fd, TN_KAPI_CREATE_TOPICS, 4, 1, &b);
    uint8_t buf[512];
    int n = kw_read_resp(fd, 1, buf, sizeof buf, 5000);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    (void)tn_kr_i32(&r);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    (void)tn_kr_str(&r, 0);
    int16_t err = tn_kr_i16(&r);
    assert_true(err == 0 || err == TN_KE_TOPIC_ALREADY_EXISTS);
    tn_kw_free(&b);
    close(fd);
}

/* A Produce v7 body of one partition holding the given records bytes. */
static void produce_body(tn_kw *b, const char *topic, int16_t acks, const void *recs, size_t n)
{
    tn_kw_str(b, 0, NULL, -1);
    tn_kw_i16(b, acks);
    tn_kw_i32(b, 5000);
    tn_kw_array(b, 0, 1);
    tn_kw_cstr(b, 0, topic);
    tn_kw_array(b, 0, 1);
    tn_kw_i32(b, 0);
    tn_kw_bytes(b, 0, recs, (int32_t)n);
}

/* Sends a produce and returns the partition's error code and base offset. */
static int16_t produce(int fd, const char *topic, const void *recs, size_t n, int64_t *base)
{
    tn_kw b;
    tn_kw_init(&b, 0);
    produce_body(&b, topic, -1, recs, n);
    kw_send_req(fd, TN_KAPI_PRODUCE, 7, 5, &b);
    tn_kw_free(&b);
    uint8_t buf[512];
    int len = kw_read_resp(fd, 5, buf, sizeof buf, 5000);
    assert_true(len > 0);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)len);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    (void)tn_kr_str(&r, 0);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    assert_int_equal(tn_kr_i32(&r), 0);
    int16_t err = tn_kr_i16(&r);
    *base = tn_kr_i64(&r);
    assert_false(r.err);
    return err;
}

static void one_batch(tn_kw *w, const char *value)
{
    tn_record_in rec = {
        .key = NULL, .key_len = -1, .value = value, .value_len = (int32_t)strlen(value)};
    tn_batch_build(w, &rec, 1, 1000, -1, -1, -1);
}

/* Fetch v11 of partition 0 from offset; returns the records bytes length. */
static int fetch(int fd, const char *topic, int64_t offset, int32_t wait_ms, int32_t min_bytes,
                 int16_t *err, int timeout_ms)
{
    tn_kw b;
    tn_kw_init(&b, 0);
    kw_fetch_body(&b, topic, offset, wait_ms, min_bytes);
    kw_send_req(fd, TN_KAPI_FETCH, 11, 6, &b);
    tn_kw_free(&b);
    static uint8_t buf[1 << 20];
    int len = kw_read_resp(fd, 6, buf, sizeof buf, timeout_ms);
    if (len < 0)
        return -1;
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)len);
    (void)tn_kr_i32(&r);
    assert_int_equal(tn_kr_i16(&r), 0);
    (void)tn_kr_i32(&r);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    (void)tn_kr_str(&r, 0);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    (void)tn_kr_i32(&r);
    *err = tn_kr_i16(&r);
    (void)tn_kr_i64(&r);
    (void)tn_kr_i64(&r);
    (void)tn_kr_i64(&r);
    (void)tn_kr_array(&r, 0, 16);
    (void)tn_kr_i32(&r);
    tn_kstr recs = tn_kr_bytes(&r, 0);
    assert_false(r.err);
    return recs.len < 0 ? 0 : recs.len;
}

static void test_oversized_frame(void **state)
{
    (void)state;
    int fd = kw_dial(sb.port);
    /* A 2 GiB frame: refused from its length alone, nothing allocated. */
    kw_send_raw(fd, "\x7f\xff\xff\xff\x00\x12\x00\x00", 8);
    assert_true(kw_closed(fd));
    close(fd);
    fd = kw_dial(sb.port);
    kw_send_raw(fd, "\xff\xff\xff\xff", 4); /* negative */
    assert_true(kw_closed(fd));
    close(fd);
    fd = kw_dial(sb.port);
    kw_send_raw(fd, "\x00\x00\x00\x03\x00\x12\x00", 7); /* shorter than a header */
    assert_true(kw_closed(fd));
    close(fd);
    kw_alive(sb.port);
}

static void test_truncated_and_unknown(void **state)
{
    (void)state;
    /* A Metadata request whose topic array claims more than the frame holds. */
    int fd = kw_dial(sb.port);
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_i32(&b, 1000000);
    tn_kw_cstr(&b, 0, "x");
    kw_send_req(fd, TN_KAPI_METADATA, 8, 2, &b);
    assert_true(kw_closed(fd));
    close(fd);
    /* An API nobody implements, and a version beyond what was advertised. */
    fd = kw_dial(sb.port);
    kw_send_req(fd, 9999, 0, 3, NULL);
    assert_true(kw_closed(fd));
    close(fd);
    fd = kw_dial(sb.port);
    kw_send_req(fd, TN_KAPI_PRODUCE, 99, 4, &b);
    assert_true(kw_closed(fd));
    close(fd);
    tn_kw_free(&b);
    kw_alive(sb.port);
}

static void test_api_versions_unsupported(void **state)
{
    (void)state;
    /* ApiVersions v99: answered in the v0 layout with UNSUPPORTED_VERSION and
     * the real ranges, so a newer client can retry with one we know. */
    int fd = kw_dial(sb.port);
    kw_send_req(fd, TN_KAPI_API_VERSIONS, 99, 7, NULL);
    uint8_t buf[4096];
    int n = kw_read_resp(fd, 7, buf, sizeof buf, 2000);
    assert_true(n > 6);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    assert_int_equal(tn_kr_i16(&r), TN_KE_UNSUPPORTED_VERSION);
    int32_t count = tn_kr_array(&r, 0, 6);
    int saw_versions = 0;
    for (int32_t i = 0; i < count; i++) {
        int16_t key = tn_kr_i16(&r), min = tn_kr_i16(&r), max = tn_kr_i16(&r);
        if (key == TN_KAPI_API_VERSIONS)
            saw_versions = min == 0 && max == 3;
    }
    assert_true(tn_kr_done(&r));
    assert_true(saw_versions);
    close(fd);
}

static void test_bad_crc_refused(void **state)
{
    (void)state;
    create_topic("crc", 1);
    int fd = kw_dial(sb.port);
    tn_kw w;
    tn_kw_init(&w, 0);
    one_batch(&w, "good");
    int64_t base;
    assert_int_equal(produce(fd, "crc", w.p, w.n, &base), 0);
    assert_int_equal(base, 0);
    tn_kw_reset(&w);
    one_batch(&w, "evil");
    w.p[w.n - 2] ^= 0x40; /* a flipped bit in the value */
    assert_int_equal(produce(fd, "crc", w.p, w.n, &base), TN_KE_CORRUPT_MESSAGE);
    /* Truncated batch and garbage: refused too. */
    tn_kw_reset(&w);
    one_batch(&w, "cut");
    assert_int_equal(produce(fd, "crc", w.p, w.n - 3, &base), TN_KE_CORRUPT_MESSAGE);
    assert_int_equal(produce(fd, "crc",
                             "garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage", 64,
                             &base),
                     TN_KE_CORRUPT_MESSAGE);
    /* A header claiming 1000 records around one, its CRC made right:
     * refused, or the offsets would jump past records that do not exist. */
    tn_kw_reset(&w);
    one_batch(&w, "liar");
    tn_put_be32(w.p + 23, 999);  /* lastOffsetDelta */
    tn_put_be32(w.p + 57, 1000); /* records count */
    tn_put_be32(w.p + 17, tern_crc32c(0, w.p + 21, w.n - 21));
    assert_int_equal(produce(fd, "crc", w.p, w.n, &base), TN_KE_CORRUPT_MESSAGE);
    /* Nothing of them was stored: the next good batch gets offset 1. */
    tn_kw_reset(&w);
    one_batch(&w, "next");
    assert_int_equal(produce(fd, "crc", w.p, w.n, &base), 0);
    assert_int_equal(base, 1);
    tn_kw_free(&w);
    close(fd);
}

static void test_acks_zero_silent(void **state)
{
    (void)state;
    create_topic("quiet", 1);
    int fd = kw_dial(sb.port);
    tn_kw w, b;
    tn_kw_init(&w, 0);
    tn_kw_init(&b, 0);
    one_batch(&w, "fire-and-forget");
    produce_body(&b, "quiet", 0, w.p, w.n);
    kw_send_req(fd, TN_KAPI_PRODUCE, 7, 11, &b);
    /* No answer to acks=0; the next request's answer comes first. */
    kw_send_req(fd, TN_KAPI_API_VERSIONS, 0, 12, NULL);
    uint8_t buf[4096];
    assert_true(kw_read_resp(fd, 12, buf, sizeof buf, 2000) > 0);
    int16_t err;
    assert_true(fetch(fd, "quiet", 0, 0, 1, &err, 2000) > 0);
    assert_int_equal(err, 0);
    tn_kw_free(&w);
    tn_kw_free(&b);
    close(fd);
}

static void test_fetch_long_poll(void **state)
{
    (void)state;
    create_topic("poll", 1);
    int fd = kw_dial(sb.port);
    int16_t err;
    /* Nothing there: the fetch waits its max_wait, then answers empty. */
    uint64_t t0 = tern_clock_ns();
    assert_int_equal(fetch(fd, "poll", 0, 300, 1, &err, 3000), 0);
    uint64_t waited = (tern_clock_ns() - t0) / 1000000;
    assert_true(waited >= 250 && waited < 2000);
    /* A parked fetch is answered as soon as a produce arrives. */
    int pfd = kw_dial(sb.port);
    tn_kw w;
    tn_kw_init(&w, 0);
    one_batch(&w, "wake up");
    tn_kw b;
    tn_kw_init(&b, 0);
    kw_fetch_body(&b, "poll", 0, 10000, 1);
    t0 = tern_clock_ns();
    kw_send_req(fd, TN_KAPI_FETCH, 11, 6, &b);
    test_sleep_ms(100);
    int64_t base;
    assert_int_equal(produce(pfd, "poll", w.p, w.n, &base), 0);
    static uint8_t buf[65536];
    int n = kw_read_resp(fd, 6, buf, sizeof buf, 5000);
    uint64_t took = (tern_clock_ns() - t0) / 1000000;
    assert_true(n > 0);
    assert_true(took < 2000); /* not the 10 s max_wait */
    assert_non_null(memmem(buf, (size_t)n, "wake up", 7));
    /* Out of range offsets are an error, not an empty answer. */
    assert_int_equal(fetch(fd, "poll", 5000, 0, 1, &err, 2000), 0);
    assert_int_equal(err, TN_KE_OFFSET_OUT_OF_RANGE);
    tn_kw_free(&w);
    tn_kw_free(&b);
    close(fd);
    close(pfd);
}

static void test_topic_admin_errors(void **state)
{
    (void)state;
    int fd = kw_dial(sb.port);
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_array(&b, 0, 3);
    const char *names[] = {"bad/name", "rf3", "zero"};
    const int32_t parts[] = {1, 1, 0};
    const int16_t rfs[] = {1, 3, 1};
    for (int i = 0; i < 3; i++) {
        tn_kw_cstr(&b, 0, names[i]);
        tn_kw_i32(&b, parts[i]);
        tn_kw_i16(&b, rfs[i]);
        tn_kw_array(&b, 0, 0);
        tn_kw_array(&b, 0, 0);
    }
    tn_kw_i32(&b, 5000);
    tn_kw_i8(&b, 0);
    kw_send_req(fd, TN_KAPI_CREATE_TOPICS, 4, 1, &b);
    uint8_t buf[4096];
    int n = kw_read_resp(fd, 1, buf, sizeof buf, 5000);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    (void)tn_kr_i32(&r);
    assert_int_equal(tn_kr_array(&r, 0, 1), 3);
    const int16_t want[] = {TN_KE_INVALID_TOPIC_EXCEPTION, TN_KE_INVALID_REPLICATION_FACTOR,
                            TN_KE_INVALID_PARTITIONS};
    for (int i = 0; i < 3; i++) {
        (void)tn_kr_str(&r, 0);
        assert_int_equal(tn_kr_i16(&r), want[i]);
        tn_kstr msg = tn_kr_str(&r, 0);
        assert_true(msg.len > 0); /* a sentence saying why */
    }
    assert_true(tn_kr_done(&r));
    tn_kw_free(&b);
    close(fd);
}

/* A client configured for SASL gets the protocol's answer, not a hang-up. */
static void test_sasl_refused(void **state)
{
    (void)state;
    int fd = kw_dial(sb.port);
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_cstr(&b, 0, "PLAIN");
    kw_send_req(fd, TN_KAPI_SASL_HANDSHAKE, 1, 8, &b);
    uint8_t buf[64];
    int n = kw_read_resp(fd, 8, buf, sizeof buf, 2000);
    tn_kr r;
    tn_kr_init(&r, buf, n < 0 ? 0 : (size_t)n);
    assert_int_equal(tn_kr_i16(&r), TN_KE_UNSUPPORTED_SASL_MECHANISM);
    assert_int_equal(tn_kr_array(&r, 0, 2), 0); /* no mechanism is enabled */
    assert_true(tn_kr_done(&r));
    tn_kw_free(&b);
    close(fd);
}

/* Topics deleted while produces to them wait for their sync, over and
 * over: every produce is answered, in order, and the broker lives on. */
static void test_delete_under_load(void **state)
{
    (void)state;
    tn_kw w, b, del;
    tn_kw_init(&w, 0);
    tn_kw_init(&b, 0);
    tn_kw_init(&del, 0);
    one_batch(&w, "churning");
    produce_body(&b, "churn", -1, w.p, w.n);
    tn_kw_array(&del, 0, 1);
    tn_kw_cstr(&del, 0, "churn");
    tn_kw_i32(&del, 5000);
    static uint8_t buf[65536];
    for (int round = 0; round < 20; round++) {
        int p = kw_dial(sb.port), d = kw_dial(sb.port);
        for (int k = 0; k < 10; k++)
            kw_send_req(p, TN_KAPI_PRODUCE, 7, 100 + k, &b);
        kw_send_req(d, TN_KAPI_DELETE_TOPICS, 3, 7, &del);
        assert_true(kw_read_resp(d, 7, buf, sizeof buf, 5000) > 0);
        for (int k = 0; k < 10; k++)
            assert_true(kw_read_resp(p, 100 + k, buf, sizeof buf, 5000) > 0);
        close(p);
        close(d);
    }
    tn_kw_free(&w);
    tn_kw_free(&b);
    tn_kw_free(&del);
    kw_alive(sb.port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_truncated_and_unknown),
        cmocka_unit_test(test_api_versions_unsupported),
        cmocka_unit_test(test_bad_crc_refused),
        cmocka_unit_test(test_acks_zero_silent),
        cmocka_unit_test(test_fetch_long_poll),
        cmocka_unit_test(test_topic_admin_errors),
        cmocka_unit_test(test_delete_under_load),
        cmocka_unit_test(test_sasl_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
