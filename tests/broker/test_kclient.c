/* tern's Kafka client without a broker: the Java partitioner's murmur2,
 * request encodings byte for byte, response decoders on good, cut and
 * hostile input, the consumer protocol's member metadata, the range and
 * roundrobin assignors, and the connection against a scripted fake
 * broker that answers with hostile frames. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/endian.h"
#include "kafka/batch.h"
#include "kclient/assign.h"
#include "kclient/client.h"
#include "kclient/conn.h"
#include "kclient/cproto.h"
#include "kclient/partitioner.h"
#include "kclient/proto.h"
#include "testutil.h"

/* ---- murmur2 ------------------------------------------------------------- */

static void test_murmur2(void **state)
{
    (void)state;
    /* The Java client's Utils.murmur2 on these keys (its own unit test's
     * values), as signed ints. */
    static const struct {
        const char *key;
        int32_t hash;
    } known[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_int_equal((int32_t)tn_kc_murmur2(known[i].key, strlen(known[i].key)), known[i].hash);
    /* toPositive(hash) % n: "foobar" -> 1357151166 % 10 */
    assert_int_equal(tn_kc_partition_for_key("foobar", 6, 10), 6);
    assert_int_equal(tn_kc_partition_for_key("21", 2, 3),
                     (int32_t)((uint32_t)-973932308 & 0x7fffffff) % 3);
    /* Every tail length folds in. */
    assert_int_not_equal(tn_kc_murmur2("abcd", 4), tn_kc_murmur2("abcde", 5));
    assert_int_not_equal(tn_kc_murmur2("abcde", 5), tn_kc_murmur2("abcdf", 5));
    for (int32_t n = 1; n < 50; n++) {
        int32_t p = tn_kc_partition_for_key("k", 1, n);
        assert_true(p >= 0 && p < n);
    }
}

/* ---- encoders ------------------------------------------------------------ */

static void test_request_header(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_METADATA, 8, "tern");
    tn_kc_enc_metadata(&w, NULL, 0, true, false);
    tn_kc_req_end(&w);
    static const uint8_t want[] = {
        0,    0,    0,    21,             /* size */
        0,    3,    0,    8,              /* Metadata v8 */
        0,    0,    0,    0,              /* correlation id */
        0,    4,    't',  'e',  'r', 'n', /* client id */
        0xff, 0xff, 0xff, 0xff,           /* topics: null, all */
        0,    0,    0,                    /* auto-create, authorized operations x2 */
    };
    assert_int_equal(w.n, sizeof want);
    assert_memory_equal(w.p, want, sizeof want);
    tn_kw_reset(&w);
    const char *topics[] = {"a", "bc"};
    tn_kc_enc_metadata(&w, topics, 2, false, true);
    static const uint8_t want2[] = {0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c', 1, 0, 0};
    assert_int_equal(w.n, sizeof want2);
    assert_memory_equal(w.p, want2, sizeof want2);
    tn_kw_free(&w);
    assert_string_equal(tn_kc_api_name(TN_KAPI_JOIN_GROUP), "JoinGroup");
}

/* The topics of interleaved partitions come out grouped. */
static void test_produce_request(void **state)
{
    (void)state;
    const uint8_t b1[] = {1, 2, 3}, b2[] = {4}, b3[] = {5, 6};
    tn_kc_preq parts[] = {
        {.topic = "x", .partition = 0, .data = b1, .len = 3},
        {.topic = "y", .partition = 2, .data = b2, .len = 1},
        {.topic = "x", .partition = 1, .data = b3, .len = 2},
    };
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_enc_produce(&w, -1, 1500, parts, 3);
    static const uint8_t want[] = {
        0xff, 0xff,                      /* transactional id: null */
        0xff, 0xff,                      /* acks -1 */
        0,    0,    0x05, 0xdc,          /* timeout 1500 */
        0,    0,    0,    2,             /* two topics */
        0,    1,    'x',  0,    0, 0, 2, /* x: two partitions */
        0,    0,    0,    0,    0, 0, 0, 3, 1, 2,   3, 0, 0, 0,
        1,    0,    0,    0,    2, 5, 6, 0, 1, 'y', 0, 0, 0, 1, /* y: one */
        0,    0,    0,    2,    0, 0, 0, 1, 4,
    };
    assert_int_equal(w.n, sizeof want);
    assert_memory_equal(w.p, want, sizeof want);
    tn_kw_free(&w);
}

static void test_fetch_request(void **state)
{
    (void)state;
    tn_kc_preq parts[] = {{.topic = "t", .partition = 3, .value = 0x0102030405060708ll}};
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_enc_fetch(&w, 500, 1, 1000, 2000, parts, 1);
    static const uint8_t want[] = {
        0xff, 0xff, 0xff, 0xff,                                              /* replica id */
        0,    0,    0x01, 0xf4,                                              /* max wait 500 */
        0,    0,    0,    1,                                                 /* min bytes */
        0,    0,    0x03, 0xe8,                                              /* max bytes */
        0,                                                                   /* read uncommitted */
        0,    0,    0,    0,                                                 /* session id */
        0xff, 0xff, 0xff, 0xff,                                              /* session epoch */
        0,    0,    0,    1,    0,    1,    't',  0,    0, 0, 1, 0, 0, 0, 3, /* partition */
        0xff, 0xff, 0xff, 0xff,                         /* current leader epoch */
        1,    2,    3,    4,    5,    6,    7,    8,    /* fetch offset */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* log start offset */
        0,    0,    0x07, 0xd0,                         /* partition max bytes */
        0,    0,    0,    0,                            /* forgotten topics */
        0,    0,                                        /* rack id "" */
    };
    assert_int_equal(w.n, sizeof want);
    assert_memory_equal(w.p, want, sizeof want);
    tn_kw_free(&w);
}

static void test_group_requests(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    const uint8_t meta[] = {9};
    tn_kc_protocol protos[] = {{"range", meta, 1}};
    tn_kc_enc_join(&w, "g", 10000, 30000, "", protos, 1);
    static const uint8_t join[] = {
        0,    1,    'g', 0,   0,   0x27, 0x10, 0,   0,   0x75, 0x30, /* group, session, rebalance */
        0,    0,                                                     /* member id "" */
        0xff, 0xff,                                                  /* instance id null */
        0,    8,    'c', 'o', 'n', 's',  'u',  'm', 'e', 'r',        /* protocol type */
        0,    0,    0,   1,   0,   5,    'r',  'a', 'n', 'g',  'e',  0, 0, 0, 1, 9,
    };
    assert_int_equal(w.n, sizeof join);
    assert_memory_equal(w.p, join, sizeof join);
    tn_kw_reset(&w);
    tn_kc_preq parts[] = {{.topic = "t", .partition = 1, .value = 42}};
    tn_kc_enc_offset_commit(&w, "g", 7, "m", parts, 1);
    static const uint8_t commit[] = {
        0,    1,    'g',  0,    0, 0, 7,   0,  1, 'm', 0xff, 0xff, /* group, generation, member,
                                                                      instance */
        0,    0,    0,    1,    0, 1, 't', 0,  0, 0,   1,    0,    0, 0, 1, /* t, partition 1 */
        0,    0,    0,    0,    0, 0, 0,   42,                              /* offset */
        0xff, 0xff, 0xff, 0xff,                                             /* leader epoch */
        0,    0,                                                            /* metadata "" */
    };
    assert_int_equal(w.n, sizeof commit);
    assert_memory_equal(w.p, commit, sizeof commit);
    tn_kw_reset(&w);
    tn_kc_enc_leave(&w, "g", "m");
    static const uint8_t leave[] = {0, 1, 'g', 0, 0, 0, 1, 0, 1, 'm', 0xff, 0xff};
    assert_int_equal(w.n, sizeof leave);
    assert_memory_equal(w.p, leave, sizeof leave);
    tn_kw_free(&w);
}

/* ---- decoders ------------------------------------------------------------ */

/* A response body, built field by field. */
static void metadata_response(tn_kw *w)
{
    tn_kw_i32(w, 0); /* throttle */
    tn_kw_array(w, 0, 2);
    tn_kw_i32(w, 1);
    tn_kw_cstr(w, 0, "h1");
    tn_kw_i32(w, 9092);
    tn_kw_cstr(w, 0, NULL);
    tn_kw_i32(w, 2);
    tn_kw_cstr(w, 0, "h2");
    tn_kw_i32(w, 9093);
    tn_kw_cstr(w, 0, "rack");
    tn_kw_cstr(w, 0, "cluster");
    tn_kw_i32(w, 2); /* controller */
    tn_kw_array(w, 0, 1);
    tn_kw_i16(w, 0);
    tn_kw_cstr(w, 0, "t");
    tn_kw_i8(w, 0);
    tn_kw_array(w, 0, 2);
    for (int p = 0; p < 2; p++) {
        tn_kw_i16(w, 0);
        tn_kw_i32(w, p);
        tn_kw_i32(w, p + 1); /* leader */
        tn_kw_i32(w, 0);
        tn_kw_array(w, 0, 2);
        tn_kw_i32(w, 1);
        tn_kw_i32(w, 2);
        tn_kw_array(w, 0, 1);
        tn_kw_i32(w, p + 1);
        tn_kw_array(w, 0, 0);
    }
    tn_kw_i32(w, 0);
    tn_kw_i32(w, 0);
}

static void test_metadata_decode(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    metadata_response(&w);
    tn_kr r;
    tn_kr_init(&r, w.p, w.n);
    tn_kc_md md;
    check_ok(tn_kc_dec_metadata(&r, &md));
    assert_true(tn_kr_done(&r));
    assert_int_equal(md.nbrokers, 2);
    assert_int_equal(md.brokers[1].id, 2);
    assert_int_equal(md.brokers[1].port, 9093);
    assert_memory_equal(md.brokers[1].host.p, "h2", 2);
    assert_int_equal(md.controller, 2);
    assert_int_equal(md.ntopics, 1);
    assert_int_equal(md.topics[0].nparts, 2);
    assert_int_equal(md.topics[0].parts[1].leader, 2);
    assert_int_equal(md.topics[0].parts[1].replicas, 2);
    assert_int_equal(md.topics[0].parts[1].isr, 1);
    tn_kc_md_free(&md);
    /* Every cut is refused, and so is a count of 2^31 - 1 brokers. */
    for (size_t cut = 0; cut < w.n; cut++) {
        tn_kr_init(&r, w.p, cut);
        assert_int_equal(tn_kc_dec_metadata(&r, &md), TERN_EPROTO);
    }
    tn_put_be32(w.p + 4, 0x7fffffff);
    tn_kr_init(&r, w.p, w.n);
    assert_int_equal(tn_kc_dec_metadata(&r, &md), TERN_EPROTO);
    tn_kw_free(&w);
}

static void produce_response(tn_kw *w, int nparts)
{
    tn_kw_array(w, 0, 1);
    tn_kw_cstr(w, 0, "t");
    tn_kw_array(w, 0, nparts);
    for (int p = 0; p < nparts; p++) {
        tn_kw_i32(w, p);
        tn_kw_i16(w, p == 1 ? TN_KE_NOT_LEADER_OR_FOLLOWER : 0);
        tn_kw_i64(w, 100 * p);
        tn_kw_i64(w, -1);
        tn_kw_i64(w, 0);
    }
    tn_kw_i32(w, 0); /* throttle, last in Produce */
}

static void test_produce_decode(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    produce_response(&w, 2);
    tn_kr r;
    tn_kc_pres *res;
    size_t n;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_produce(&r, 2, &res, &n));
    assert_int_equal(n, 2);
    assert_int_equal(res[0].error, 0);
    assert_int_equal(res[1].error, TN_KE_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(res[1].offset, 100);
    assert_memory_equal(res[1].topic.p, "t", 1);
    free(res);
    /* More partitions than were asked for is hostile. */
    tn_kr_init(&r, w.p, w.n);
    assert_int_equal(tn_kc_dec_produce(&r, 1, &res, &n), TERN_EPROTO);
    for (size_t cut = 0; cut < w.n; cut++) {
        tn_kr_init(&r, w.p, cut);
        assert_int_equal(tn_kc_dec_produce(&r, 2, &res, &n), TERN_EPROTO);
    }
    tn_kw_free(&w);
}

static void fetch_response(tn_kw *w, const uint8_t *records, int32_t len)
{
    tn_kw_i32(w, 0);
    tn_kw_i16(w, 0);
    tn_kw_i32(w, 0);
    tn_kw_array(w, 0, 1);
    tn_kw_cstr(w, 0, "t");
    tn_kw_array(w, 0, 2);
    tn_kw_i32(w, 0);
    tn_kw_i16(w, 0);
    tn_kw_i64(w, 10); /* high watermark */
    tn_kw_i64(w, 10);
    tn_kw_i64(w, 3); /* log start */
    tn_kw_array(w, 0, 1);
    tn_kw_i64(w, 77);
    tn_kw_i64(w, 5);
    tn_kw_i32(w, -1);
    tn_kw_bytes(w, 0, records, len);
    tn_kw_i32(w, 1);
    tn_kw_i16(w, TN_KE_OFFSET_OUT_OF_RANGE);
    tn_kw_i64(w, -1);
    tn_kw_i64(w, -1);
    tn_kw_i64(w, -1);
    tn_kw_array(w, 0, -1); /* aborted transactions: null */
    tn_kw_i32(w, -1);
    tn_kw_bytes(w, 0, NULL, -1);
}

static void test_fetch_decode(void **state)
{
    (void)state;
    tn_kw batch;
    tn_kw_init(&batch, 0);
    tn_record_in in[2] = {{"k", 1, "v1", 2}, {NULL, -1, "v2", 2}};
    tn_batch_build(&batch, in, 2, 1700000000000, -1, -1, -1);
    tn_kw w;
    tn_kw_init(&w, 0);
    fetch_response(&w, batch.p, (int32_t)batch.n);
    tn_kr r;
    tn_kc_pres *res;
    size_t n;
    int16_t top;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_fetch(&r, 2, &top, &res, &n));
    assert_true(tn_kr_done(&r));
    assert_int_equal(n, 2);
    assert_int_equal(res[0].offset, 10);
    assert_int_equal(res[0].start, 3);
    assert_int_equal(res[0].records.len, (int32_t)batch.n);
    assert_memory_equal(res[0].records.p, batch.p, batch.n);
    assert_int_equal(res[1].error, TN_KE_OFFSET_OUT_OF_RANGE);
    assert_true(res[1].records.len < 0);
    free(res);
    for (size_t cut = 0; cut < w.n; cut++) {
        tn_kr_init(&r, w.p, cut);
        assert_int_equal(tn_kc_dec_fetch(&r, 2, &top, &res, &n), TERN_EPROTO);
    }
    tn_kw_free(&w);
    tn_kw_free(&batch);
}

static void test_group_decode(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kw_i32(&w, 0);
    tn_kw_i16(&w, 0);
    tn_kw_i32(&w, 4); /* generation */
    tn_kw_cstr(&w, 0, "range");
    tn_kw_cstr(&w, 0, "m1");
    tn_kw_cstr(&w, 0, "m2");
    tn_kw_array(&w, 0, 2);
    tn_kw_cstr(&w, 0, "m1");
    tn_kw_cstr(&w, 0, NULL);
    tn_kw_bytes(&w, 0, "ab", 2);
    tn_kw_cstr(&w, 0, "m2");
    tn_kw_cstr(&w, 0, "i2");
    tn_kw_bytes(&w, 0, "", 0);
    tn_kr r;
    tn_kc_join j;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_join(&r, &j));
    assert_int_equal(j.generation, 4);
    assert_int_equal(j.nmembers, 2);
    assert_true(j.members[0].instance.len < 0);
    assert_int_equal(j.members[1].instance.len, 2);
    assert_int_equal(j.members[0].meta.len, 2);
    tn_kc_join_free(&j);
    for (size_t cut = 0; cut < w.n; cut++) {
        tn_kr_init(&r, w.p, cut);
        assert_int_equal(tn_kc_dec_join(&r, &j), TERN_EPROTO);
    }
    /* OffsetFetch: the group's error comes after the topics. */
    tn_kw_reset(&w);
    tn_kw_i32(&w, 0);
    tn_kw_array(&w, 0, 1);
    tn_kw_cstr(&w, 0, "t");
    tn_kw_array(&w, 0, 1);
    tn_kw_i32(&w, 0);
    tn_kw_i64(&w, 12);
    tn_kw_i32(&w, -1);
    tn_kw_cstr(&w, 0, NULL);
    tn_kw_i16(&w, 0);
    tn_kw_i16(&w, 14);
    tn_kc_pres *res;
    size_t n;
    int16_t top;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_offset_fetch(&r, 1, &top, &res, &n));
    assert_int_equal(top, 14);
    assert_int_equal(n, 1);
    assert_int_equal(res[0].offset, 12);
    free(res);
    tn_kr_init(&r, w.p, w.n - 1);
    assert_int_equal(tn_kc_dec_offset_fetch(&r, 1, &top, &res, &n), TERN_EPROTO);
    /* FindCoordinator, Sync, Heartbeat, Leave. */
    tn_kw_reset(&w);
    tn_kw_i32(&w, 0);
    tn_kw_i16(&w, 0);
    tn_kw_cstr(&w, 0, NULL);
    tn_kw_i32(&w, 3);
    tn_kw_cstr(&w, 0, "host");
    tn_kw_i32(&w, 9999);
    tn_kc_coord co;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_find_coordinator(&r, &co));
    assert_int_equal(co.node, 3);
    assert_int_equal(co.port, 9999);
    tn_kw_reset(&w);
    tn_kw_i32(&w, 0);
    tn_kw_i16(&w, 0);
    tn_kw_array(&w, 0, 1);
    tn_kw_cstr(&w, 0, "m");
    tn_kw_cstr(&w, 0, NULL);
    tn_kw_i16(&w, TN_KE_GROUP_ID_NOT_FOUND);
    int16_t code;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_leave(&r, &code));
    assert_int_equal(code, TN_KE_GROUP_ID_NOT_FOUND);
    tn_kw_free(&w);
}

static void test_admin_decode(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kw_i32(&w, 0);
    tn_kw_array(&w, 0, 2);
    tn_kw_cstr(&w, 0, "other");
    tn_kw_i16(&w, 0);
    tn_kw_cstr(&w, 0, NULL);
    tn_kw_cstr(&w, 0, "t");
    tn_kw_i16(&w, TN_KE_TOPIC_ALREADY_EXISTS);
    tn_kw_cstr(&w, 0, "Topic 't' already exists.");
    tn_kr r;
    int16_t code;
    tn_kstr msg;
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_create_topic(&r, "t", &code, &msg));
    assert_int_equal(code, TN_KE_TOPIC_ALREADY_EXISTS);
    assert_int_equal(msg.len, 25);
    /* A response that does not name the topic asked about is malformed. */
    tn_kr_init(&r, w.p, w.n);
    assert_int_equal(tn_kc_dec_create_topic(&r, "u", &code, &msg), TERN_EPROTO);
    tn_kw_reset(&w);
    tn_kw_i16(&w, 0);
    tn_kw_array(&w, 0, 3);
    const int16_t keys[][3] = {{1, 4, 11}, {18, 0, 3}, {900, 0, 1}};
    for (int i = 0; i < 3; i++) {
        tn_kw_i16(&w, keys[i][0]);
        tn_kw_i16(&w, keys[i][1]);
        tn_kw_i16(&w, keys[i][2]);
    }
    tn_kw_i32(&w, 0); /* a newer version's throttle time: ignored */
    tn_kc_range ranges[TN_KC_NAPI];
    tn_kr_init(&r, w.p, w.n);
    check_ok(tn_kc_dec_api_versions(&r, &code, ranges));
    assert_int_equal(ranges[1].min, 4);
    assert_int_equal(ranges[1].max, 11);
    assert_int_equal(ranges[2].min, -1);
    tn_kw_free(&w);
}

/* Flipping bytes of valid responses: decoders fail or succeed, never
 * crash or read out of bounds (ASan watches). */
static void test_hostile_flips(void **state)
{
    (void)state;
    tn_kw batch;
    tn_kw_init(&batch, 0);
    tn_record_in in = {"k", 1, "v", 1};
    tn_batch_build(&batch, &in, 1, 1, -1, -1, -1);
    tn_kw ws[3];
    for (int i = 0; i < 3; i++)
        tn_kw_init(&ws[i], 0);
    metadata_response(&ws[0]);
    produce_response(&ws[1], 3);
    fetch_response(&ws[2], batch.p, (int32_t)batch.n);
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        tn_kw *w = &ws[round % 3];
        uint8_t *copy = malloc(w->n);
        memcpy(copy, w->p, w->n);
        for (int f = 0; f < 3; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % w->n;
            copy[at] = (uint8_t)(seed >> 3);
        }
        tn_kr r;
        tn_kr_init(&r, copy, w->n);
        tn_kc_pres *res = NULL;
        size_t n;
        int16_t top;
        if (round % 3 == 0) {
            tn_kc_md md;
            if (tn_kc_dec_metadata(&r, &md) == TERN_OK)
                tn_kc_md_free(&md);
        } else if (round % 3 == 1) {
            if (tn_kc_dec_produce(&r, 3, &res, &n) == TERN_OK)
                free(res);
        } else if (tn_kc_dec_fetch(&r, 2, &top, &res, &n) == TERN_OK) {
            free(res);
        }
        free(copy);
    }
    for (int i = 0; i < 3; i++)
        tn_kw_free(&ws[i]);
    tn_kw_free(&batch);
}

/* ---- consumer protocol --------------------------------------------------- */

static void test_subscription(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    const char *topics[] = {"a", "bb"};
    tn_kc_enc_subscription(&w, topics, 2);
    static const uint8_t want[] = {0,   1,   0,    0,    0,    2,    0, 1, 'a', 0, 2,
                                   'b', 'b', 0xff, 0xff, 0xff, 0xff, 0, 0, 0,   0};
    assert_int_equal(w.n, sizeof want);
    assert_memory_equal(w.p, want, sizeof want);
    tn_kstr *t;
    int32_t n;
    check_ok(tn_kc_dec_subscription(w.p, w.n, &t, &n));
    assert_int_equal(n, 2);
    assert_int_equal(t[1].len, 2);
    assert_memory_equal(t[1].p, "bb", 2);
    free(t);
    /* Version 0 (librdkafka's older members), and a future version with
     * fields this client does not know. */
    static const uint8_t v0[] = {0, 0, 0, 0, 0, 1, 0, 1, 'x', 0, 0, 0, 0};
    check_ok(tn_kc_dec_subscription(v0, sizeof v0, &t, &n));
    assert_int_equal(n, 1);
    free(t);
    static const uint8_t v9[] = {0,    9, 0, 0, 0, 1, 0, 1, 'x', 0xff, 0xff, 0xff,
                                 0xff, 0, 0, 0, 0, 0, 0, 0, 7,   1,    2,    3};
    check_ok(tn_kc_dec_subscription(v9, sizeof v9, &t, &n));
    assert_int_equal(n, 1);
    free(t);
    for (size_t cut = 0; cut < sizeof v0; cut++)
        assert_int_equal(tn_kc_dec_subscription(v0, cut, &t, &n), TERN_EPROTO);
    static const uint8_t huge[] = {0, 0, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(tn_kc_dec_subscription(huge, sizeof huge, &t, &n), TERN_EPROTO);
    tn_kw_free(&w);
}

static void test_assignment_codec(void **state)
{
    (void)state;
    tn_kc_preq parts[] = {{.topic = "t", .partition = 2},
                          {.topic = "u", .partition = 0},
                          {.topic = "t", .partition = 5}};
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_enc_assignment(&w, parts, 3);
    static const uint8_t want[] = {0, 0, 0, 0, 0, 2, 0, 1, 't',  0,    0,    0,
                                   2, 0, 0, 0, 2, 0, 0, 0, 5,    0,    1,    'u',
                                   0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(w.n, sizeof want);
    assert_memory_equal(w.p, want, sizeof want);
    tn_kc_pres *res;
    size_t n;
    check_ok(tn_kc_dec_assignment(w.p, w.n, &res, &n));
    assert_int_equal(n, 3);
    assert_int_equal(res[1].partition, 5);
    assert_memory_equal(res[2].topic.p, "u", 1);
    free(res);
    /* An empty buffer is an empty assignment; cuts and negative
     * partitions are refused. */
    check_ok(tn_kc_dec_assignment(w.p, 0, &res, &n));
    assert_int_equal(n, 0);
    for (size_t cut = 1; cut < w.n; cut++)
        assert_int_equal(tn_kc_dec_assignment(w.p, cut, &res, &n), TERN_EPROTO);
    w.p[13] = 0xff; /* partition 2 becomes negative */
    assert_int_equal(tn_kc_dec_assignment(w.p, w.n, &res, &n), TERN_EPROTO);
    tn_kw_free(&w);
}

/* ---- assignors ----------------------------------------------------------- */

static tn_kstr ks(const char *s)
{
    return (tn_kstr){s, s ? (int32_t)strlen(s) : -1};
}

/* "t0:0 t0:1 t1:2" for a share, in the order given. */
static void share_text(const tn_kc_share *s, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s:%d", i ? " " : "", s->parts[i].topic,
                              s->parts[i].partition);
}

static void expect_shares(const char *protocol, const tn_kc_member *m, size_t n,
                          const tn_kc_topic_count *t, size_t nt, const char *const *want)
{
    tn_kc_share shares[4];
    check_ok(tn_kc_assign(protocol, m, n, t, nt, shares));
    for (size_t i = 0; i < n; i++) {
        char got[256];
        share_text(&shares[i], got, sizeof got);
        if (strcmp(got, want[i]) != 0)
            fail_msg("%s: member %zu got '%s', expected '%s'", protocol, i, got, want[i]);
    }
    tn_kc_shares_free(shares, n);
}

static void test_range(void **state)
{
    (void)state;
    tn_kstr both[] = {ks("t0"), ks("t1")};
    /* Given out of order: the assignor sorts members by id. */
    tn_kc_member m[] = {
        {ks("c1"), ks(NULL), both, 2},
        {ks("c0"), ks(NULL), both, 2},
    };
    tn_kc_topic_count t[] = {{"t1", 3}, {"t0", 3}};
    /* The Java documentation's example: C0 t0p0 t0p1 t1p0 t1p1, C1 t0p2 t1p2. */
    const char *want[] = {"t0:2 t1:2", "t0:0 t0:1 t1:0 t1:1"};
    expect_shares("range", m, 2, t, 2, want);
    /* Three members, seven partitions: 3, 2, 2. */
    tn_kstr one[] = {ks("t")};
    tn_kc_member m3[] = {
        {ks("a"), ks(NULL), one, 1}, {ks("b"), ks(NULL), one, 1}, {ks("c"), ks(NULL), one, 1}};
    tn_kc_topic_count t7[] = {{"t", 7}};
    const char *want3[] = {"t:0 t:1 t:2", "t:3 t:4", "t:5 t:6"};
    expect_shares("range", m3, 3, t7, 1, want3);
    /* More members than partitions: the last get nothing; a topic with
     * unknown partitions is not assigned. */
    tn_kc_topic_count t2[] = {{"t", 2}, {"gone", 0}};
    const char *want4[] = {"t:0", "t:1", ""};
    expect_shares("range", m3, 3, t2, 2, want4);
    /* Members with an instance id come first, by it. */
    tn_kc_member st[] = {
        {ks("a"), ks(NULL), one, 1}, {ks("b"), ks("zz"), one, 1}, {ks("c"), ks("yy"), one, 1}};
    const char *want5[] = {"t:5 t:6", "t:3 t:4", "t:0 t:1 t:2"};
    expect_shares("range", st, 3, t7, 1, want5);
}

static void test_roundrobin(void **state)
{
    (void)state;
    tn_kstr both[] = {ks("t0"), ks("t1")};
    tn_kc_member m[] = {{ks("c0"), ks(NULL), both, 2}, {ks("c1"), ks(NULL), both, 2}};
    tn_kc_topic_count t[] = {{"t0", 3}, {"t1", 3}};
    /* Java's example: C0 t0p0 t0p2 t1p1, C1 t0p1 t1p0 t1p2. */
    const char *want[] = {"t0:0 t0:2 t1:1", "t0:1 t1:0 t1:2"};
    expect_shares("roundrobin", m, 2, t, 2, want);
    /* Different subscriptions (Java's second example): C0 t0; C1 t0 t1;
     * C2 t0 t1 t2, with 1, 2 and 3 partitions. */
    tn_kstr s0[] = {ks("t0")}, s1[] = {ks("t0"), ks("t1")}, s2[] = {ks("t0"), ks("t1"), ks("t2")};
    tn_kc_member m3[] = {
        {ks("C2"), ks(NULL), s2, 3}, {ks("C0"), ks(NULL), s0, 1}, {ks("C1"), ks(NULL), s1, 2}};
    tn_kc_topic_count t3[] = {{"t2", 3}, {"t1", 2}, {"t0", 1}};
    const char *want3[] = {"t1:1 t2:0 t2:1 t2:2", "t0:0", "t1:0"};
    expect_shares("roundrobin", m3, 3, t3, 3, want3);
    tn_kc_share s[1];
    assert_int_equal(tn_kc_assign("sticky", m, 1, t, 2, s), TERN_ENOTSUP);
}

/* ---- connections against a scripted fake broker ----------------------- */

/* The fake answers ApiVersions, then each later request with one of
 * these. */
enum fake_mode {
    FAKE_METADATA, /* a proper Metadata response */
    FAKE_HUGE,     /* a frame announcing 2 GiB */
    FAKE_PROMISE,  /* a frame announcing 1 MiB, then a hang-up */
    FAKE_WRONGID,  /* the right size, another correlation id */
    FAKE_CLUSTER,  /* a one-broker cluster with topic t: Metadata, ListOffsets, Fetch */
};

struct fake {
    int lfd;
    uint16_t port;
    enum fake_mode mode;
    const uint8_t *records; /* FAKE_CLUSTER: what every Fetch of t/0 returns */
    size_t nrecords;
    pthread_t thread;
};

/* FAKE_CLUSTER's answers: node 1 is the fake itself, leading t/0. */
static void cluster_answer(const struct fake *f, int16_t api, tn_kw *w)
{
    tn_kw_i32(w, 0); /* throttle, first in each of these */
    if (api == TN_KAPI_METADATA) {
        tn_kw_array(w, 0, 1);
        tn_kw_i32(w, 1);
        tn_kw_cstr(w, 0, "127.0.0.1");
        tn_kw_i32(w, f->port);
        tn_kw_cstr(w, 0, NULL);
        tn_kw_cstr(w, 0, NULL);
        tn_kw_i32(w, 1);
        tn_kw_array(w, 0, 1);
        tn_kw_i16(w, 0);
        tn_kw_cstr(w, 0, "t");
        tn_kw_i8(w, 0);
        tn_kw_array(w, 0, 1);
        tn_kw_i16(w, 0);
        tn_kw_i32(w, 0);
        tn_kw_i32(w, 1);
        tn_kw_i32(w, 0);
        tn_kw_array(w, 0, 0);
        tn_kw_array(w, 0, 0);
        tn_kw_array(w, 0, 0);
        tn_kw_i32(w, 0);
        tn_kw_i32(w, 0);
    } else if (api == TN_KAPI_LIST_OFFSETS) {
        tn_kw_array(w, 0, 1);
        tn_kw_cstr(w, 0, "t");
        tn_kw_array(w, 0, 1);
        tn_kw_i32(w, 0);
        tn_kw_i16(w, 0);
        tn_kw_i64(w, -1);
        tn_kw_i64(w, 0); /* earliest and latest alike: 0 */
        tn_kw_i32(w, -1);
    } else {
        tn_kw_i16(w, 0);
        tn_kw_i32(w, 0);
        tn_kw_array(w, 0, 1);
        tn_kw_cstr(w, 0, "t");
        tn_kw_array(w, 0, 1);
        tn_kw_i32(w, 0);
        tn_kw_i16(w, 0);
        tn_kw_i64(w, 3);
        tn_kw_i64(w, 3);
        tn_kw_i64(w, 0);
        tn_kw_array(w, 0, -1);
        tn_kw_i32(w, -1);
        tn_kw_bytes(w, 0, f->records, (int32_t)f->nrecords);
    }
}

static int read_full(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static void reply(int fd, int32_t corr, const tn_kw *body)
{
    uint8_t hdr[8];
    tn_put_be32(hdr, (uint32_t)(body->n + 4));
    tn_put_be32(hdr + 4, (uint32_t)corr);
    assert_int_equal(write(fd, hdr, 8), 8);
    assert_int_equal(write(fd, body->p, body->n), (ssize_t)body->n);
}

/* Serves one connection until the client hangs up. */
static void fake_serve(struct fake *f, int fd)
{
    for (;;) {
        uint8_t size[4];
        if (read_full(fd, size, 4) != 0)
            break;
        uint32_t len = tn_get_be32(size);
        uint8_t *req = malloc(len);
        if (req == NULL || read_full(fd, req, len) != 0) {
            free(req);
            break;
        }
        int16_t api = (int16_t)tn_get_be16(req);
        int32_t corr = (int32_t)tn_get_be32(req + 4);
        free(req);
        tn_kw w;
        tn_kw_init(&w, 0);
        if (api == TN_KAPI_API_VERSIONS) {
            bool cluster = f->mode == FAKE_CLUSTER;
            tn_kw_i16(&w, 0);
            tn_kw_array(&w, 0, cluster ? 3 : 2);
            tn_kw_i16(&w, TN_KAPI_METADATA);
            tn_kw_i16(&w, 0);
            tn_kw_i16(&w, 12);
            tn_kw_i16(&w, TN_KAPI_LIST_OFFSETS);
            tn_kw_i16(&w, cluster ? 1 : 6);
            tn_kw_i16(&w, 9);
            if (cluster) {
                tn_kw_i16(&w, TN_KAPI_FETCH);
                tn_kw_i16(&w, 4);
                tn_kw_i16(&w, 13);
            }
            reply(fd, corr, &w);
        } else if (f->mode == FAKE_CLUSTER) {
            cluster_answer(f, api, &w);
            reply(fd, corr, &w);
        } else if (f->mode == FAKE_METADATA) {
            metadata_response(&w);
            reply(fd, corr, &w);
        } else if (f->mode == FAKE_HUGE || f->mode == FAKE_PROMISE) {
            uint8_t hdr[8];
            tn_put_be32(hdr, f->mode == FAKE_HUGE ? 0x7fffffffu : 1u << 20);
            tn_put_be32(hdr + 4, (uint32_t)corr);
            assert_int_equal(write(fd, hdr, 8), 8);
            tn_kw_free(&w);
            break;
        } else {
            tn_kw_i32(&w, 0);
            reply(fd, corr + 1, &w);
        }
        tn_kw_free(&w);
    }
    close(fd);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        fake_serve(f, fd);
    }
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->thread, NULL);
    close(f->lfd);
}

static tern_err fake_call(enum fake_mode mode, char *why)
{
    struct fake f;
    fake_start(&f, mode);
    tn_kc_conn *c;
    char err[TN_KC_ERR_MAX];
    check_ok(
        tn_kc_conn_open("127.0.0.1", f.port, "test", tern_clock_ns() + 5000000000ull, &c, err));
    /* The broker said it speaks Metadata 0..12 and ListOffsets 6..9. */
    check_ok(tn_kc_conn_supports(c, TN_KAPI_METADATA, 8));
    check_err(tn_kc_conn_supports(c, TN_KAPI_LIST_OFFSETS, 5), TERN_EVERSION);
    assert_non_null(strstr(c->err, "v6 to v9"));
    check_err(tn_kc_conn_supports(c, TN_KAPI_FETCH, 11), TERN_EVERSION);
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_METADATA, 8, "test");
    tn_kc_enc_metadata(&w, NULL, 0, true, false);
    tn_kc_req_end(&w);
    tern_err e = tn_kc_conn_send(c, &w, TN_KC_MAX_RESPONSE, tern_clock_ns() + 5000000000ull);
    tn_kr r;
    if (e == TERN_OK)
        e = tn_kc_conn_recv(c, tern_clock_ns() + 5000000000ull, &r);
    if (e == TERN_OK) {
        tn_kc_md md;
        check_ok(tn_kc_dec_metadata(&r, &md));
        assert_int_equal(md.nbrokers, 2);
        tn_kc_md_free(&md);
    } else {
        assert_true(c->broken);
        /* A hostile size never became an allocation of that size. */
        assert_true(c->cap <= (64u << 10));
    }
    snprintf(why, TN_KC_ERR_MAX, "%s", c->err);
    tn_kw_free(&w);
    tn_kc_conn_close(c);
    fake_stop(&f);
    return e;
}

static void test_conn_hostile(void **state)
{
    (void)state;
    char why[TN_KC_ERR_MAX];
    check_ok(fake_call(FAKE_METADATA, why));
    check_err(fake_call(FAKE_HUGE, why), TERN_EPROTO);
    assert_non_null(strstr(why, "2147483647-byte frame"));
    check_err(fake_call(FAKE_PROMISE, why), TERN_EUNAVAILABLE);
    assert_non_null(strstr(why, "closed by the broker"));
    check_err(fake_call(FAKE_WRONGID, why), TERN_EPROTO);
    assert_non_null(strstr(why, "response to"));
}

/* The client handle bootstraps from the fake, and says who it could not
 * reach and why. */
static void test_client_open(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, FAKE_METADATA);
    char brokers[64];
    snprintf(brokers, sizeof brokers, " 127.0.0.1:%u ", (unsigned)f.port);
    tern_kafka_opts o;
    tern_kafka_opts_init(&o);
    o.brokers = brokers;
    o.timeout_ms = 5000;
    tern_kafka *k;
    check_ok(tern_kafka_open(&o, &k));
    assert_int_equal(k->nnodes, 2);
    assert_int_equal(k->controller, 2);
    char addr[TN_KC_ADDR_MAX];
    assert_string_equal(tn_kc_node_addr(k, 2, addr, sizeof addr), "h2:9093");
    tern_kafka_close(k);
    fake_stop(&f);

    /* Nobody listens on a port just closed. */
    o.brokers = brokers;
    check_err(tern_kafka_open(&o, &k), TERN_ECONNREFUSED);
    char want[80];
    snprintf(want, sizeof want, "cannot reach broker 127.0.0.1:%u: connection refused",
             (unsigned)f.port);
    assert_string_equal(tern_kafka_last_error(NULL), want);
    o.brokers = "localhost";
    check_err(tern_kafka_open(&o, &k), TERN_EADDRINVAL);
    assert_non_null(strstr(tern_kafka_last_error(NULL), "bad broker list"));
    o.brokers = "a:1,[::1]:99999";
    check_err(tern_kafka_open(&o, &k), TERN_EADDRINVAL);
    assert_string_equal(tern_kafka_error_name(27), "REBALANCE_IN_PROGRESS");
    assert_string_equal(tern_kafka_error_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_string_equal(tern_kafka_error_name(30000), "UNKNOWN");
}

/* A batch at base: values vals[0..n), with the given attributes and a
 * CRC to match them. */
static void batch_at(tn_kw *w, int64_t base, const char *const *vals, size_t n, int16_t attrs)
{
    tn_record_in in[4];
    for (size_t i = 0; i < n; i++)
        in[i] = (tn_record_in){NULL, -1, vals[i], (int32_t)strlen(vals[i])};
    size_t at = w->n;
    tn_batch_build(w, in, n, 1000, -1, -1, -1);
    uint8_t *b = w->p + at;
    tn_batch_set_base_offset(b, base);
    tn_put_be16(b + 21, (uint16_t)attrs);
    tn_put_be32(b + 17, tern_crc32c(0, b + 21, w->n - at - 21));
}

/* Polls a standalone consumer of t/0 from the fake, whose every Fetch
 * returns records: the values seen, then the error that ended them. */
static tern_err consume_fake(const uint8_t *records, size_t n, char *seen, size_t cap, char *why)
{
    struct fake f;
    fake_start(&f, FAKE_CLUSTER);
    f.records = records;
    f.nrecords = n;
    char brokers[32];
    snprintf(brokers, sizeof brokers, "127.0.0.1:%u", (unsigned)f.port);
    tern_kafka_opts o;
    tern_kafka_opts_init(&o);
    o.brokers = brokers;
    o.timeout_ms = 5000;
    tern_kafka *k;
    check_ok(tern_kafka_open(&o, &k));
    tern_kafka_consumer *c;
    check_ok(tern_kafka_consumer_open(k, NULL, &c));
    tern_kafka_tp tp = {"t", 0};
    check_ok(tern_kafka_assign(c, &tp, 1, TERN_KAFKA_EARLIEST));
    seen[0] = '\0';
    tern_kafka_message m;
    tern_err err;
    while ((err = tern_kafka_poll(c, 200, &m)) == TERN_OK) {
        size_t len = strlen(seen);
        snprintf(seen + len, cap - len, "%lld=%.*s ", (long long)m.offset, (int)m.value_len,
                 (const char *)m.value);
    }
    snprintf(why, TN_KC_ERR_MAX, "%s", tern_kafka_last_error(k));
    check_ok(tern_kafka_consumer_close(c));
    tern_kafka_close(k);
    fake_stop(&f);
    return err;
}

static void test_consume_batches(void **state)
{
    (void)state;
    char seen[256], why[TN_KC_ERR_MAX];
    tn_kw w;
    tn_kw_init(&w, 0);
    /* A transaction marker at 0 is skipped; the records at 1 and 2 come. */
    const char *marker[] = {"m"}, *xy[] = {"x", "y"};
    batch_at(&w, 0, marker, 1, TN_BATCH_CONTROL | TN_BATCH_TRANSACTIONAL);
    batch_at(&w, 1, xy, 2, 0);
    check_err(consume_fake(w.p, w.n, seen, sizeof seen, why), TERN_ETIMEDOUT);
    assert_string_equal(seen, "1=x 2=y ");
    /* A fetch may end inside a batch: the whole ones before it count. */
    check_err(consume_fake(w.p, w.n - 5, seen, sizeof seen, why), TERN_ETIMEDOUT);
    assert_string_equal(seen, "");
    tn_kw_reset(&w);
    batch_at(&w, 1, xy, 2, 0);
    batch_at(&w, 3, marker, 1, 0);
    check_err(consume_fake(w.p, w.n - 5, seen, sizeof seen, why), TERN_ETIMEDOUT);
    assert_string_equal(seen, "1=x 2=y ");
    /* Compressed batches are named, not decompressed. */
    tn_kw_reset(&w);
    batch_at(&w, 0, xy, 2, 2);
    check_err(consume_fake(w.p, w.n, seen, sizeof seen, why), TERN_ENOTSUP);
    assert_non_null(strstr(why, "compressed with snappy"));
    /* A bad CRC, and garbage instead of a batch. */
    tn_kw_reset(&w);
    batch_at(&w, 0, xy, 2, 0);
    w.p[w.n - 1] ^= 1;
    check_err(consume_fake(w.p, w.n, seen, sizeof seen, why), TERN_ECORRUPT);
    assert_non_null(strstr(why, "CRC"));
    memset(w.p, 0x41, w.n);
    check_err(consume_fake(w.p, w.n, seen, sizeof seen, why), TERN_EPROTO);
    tn_kw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2),          cmocka_unit_test(test_request_header),
        cmocka_unit_test(test_produce_request),  cmocka_unit_test(test_fetch_request),
        cmocka_unit_test(test_group_requests),   cmocka_unit_test(test_metadata_decode),
        cmocka_unit_test(test_produce_decode),   cmocka_unit_test(test_fetch_decode),
        cmocka_unit_test(test_group_decode),     cmocka_unit_test(test_admin_decode),
        cmocka_unit_test(test_hostile_flips),    cmocka_unit_test(test_subscription),
        cmocka_unit_test(test_assignment_codec), cmocka_unit_test(test_range),
        cmocka_unit_test(test_roundrobin),       cmocka_unit_test(test_conn_hostile),
        cmocka_unit_test(test_client_open),      cmocka_unit_test(test_consume_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
