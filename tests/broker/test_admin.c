/* The admin APIs over raw sockets: ListGroups and DescribeGroups on a
 * group formed through the real JoinGroup/SyncGroup exchange, and
 * DescribeConfigs on topics and on the broker. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/group.h"
#include "broker/kwire.h"

#define GROUP "admin-group"
#define SESSION_MS 30000

static kw_scratch sb;

static void tune(tern_broker_opts *o)
{
    o->retention_bytes = 1 << 30; /* differs from the default: a broker setting given at start */
}

static int setup(void **state)
{
    (void)state;
    kw_scratch_start(&sb, "admin", tune);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kw_scratch_stop(&sb);
    return 0;
}

static int eq(tn_kstr s, const char *want)
{
    return s.len == (int32_t)strlen(want) && memcmp(s.p, want, (size_t)s.len) == 0;
}

#define assert_kstr(s, want)                                                                       \
    do {                                                                                           \
        tn_kstr s_ = (s);                                                                          \
        if (!eq(s_, want))                                                                         \
            fail_msg("got '%.*s' (%d), expected '%s'", s_.len < 0 ? 0 : (int)s_.len, s_.p,         \
                     (int)s_.len, want);                                                           \
    } while (0)

/* ---- a group formed through the protocol --------------------------------- */

typedef struct member {
    int fd;
    const char *client;
    const char *meta;
    char id[128];
} member;

static void send_join(member *m, int32_t corr)
{
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_cstr(&b, 0, GROUP);
    tn_kw_i32(&b, SESSION_MS);
    tn_kw_i32(&b, 10000);
    tn_kw_cstr(&b, 0, m->id);
    tn_kw_str(&b, 0, NULL, -1);
    tn_kw_cstr(&b, 0, "consumer");
    tn_kw_array(&b, 0, 1);
    tn_kw_cstr(&b, 0, "range");
    tn_kw_bytes(&b, 0, m->meta, (int32_t)strlen(m->meta));
    kw_send_as(m->fd, m->client, TN_KAPI_JOIN_GROUP, 5, corr, &b);
    tn_kw_free(&b);
}

/* Reads a JoinGroup v5 answer: its error; member id into m, leader into
 * leader, the member count the leader is given into *nmembers. */
static int16_t read_join(member *m, int32_t corr, char *leader, int32_t *nmembers)
{
    uint8_t buf[4096];
    int n = kw_read_resp(m->fd, corr, buf, sizeof buf, 5000);
    assert_true(n > 0);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    (void)tn_kr_i32(&r);
    int16_t err = tn_kr_i16(&r);
    int32_t gen = tn_kr_i32(&r);
    (void)tn_kr_str(&r, 0);
    tn_kstr lead = tn_kr_str(&r, 0);
    tn_kstr id = tn_kr_str(&r, 0);
    int32_t nm = tn_kr_array(&r, 0, 8);
    for (int32_t i = 0; i < nm; i++) {
        (void)tn_kr_str(&r, 0);
        (void)tn_kr_str(&r, 0);
        (void)tn_kr_bytes(&r, 0);
    }
    assert_true(tn_kr_done(&r));
    assert_true(id.len > 0 && id.len < (int32_t)sizeof m->id);
    memcpy(m->id, id.p, (size_t)id.len);
    m->id[id.len] = '\0';
    if (err == 0) {
        assert_int_equal(gen, 1);
        assert_true(lead.len > 0 && lead.len < 128);
        memcpy(leader, lead.p, (size_t)lead.len);
        leader[lead.len] = '\0';
        *nmembers = nm;
    }
    return err;
}

static void send_sync(member *m, int32_t corr, member *const *all, int nassign)
{
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_cstr(&b, 0, GROUP);
    tn_kw_i32(&b, 1);
    tn_kw_cstr(&b, 0, m->id);
    tn_kw_str(&b, 0, NULL, -1);
    tn_kw_array(&b, 0, nassign);
    for (int i = 0; i < nassign; i++) {
        char a[64];
        snprintf(a, sizeof a, "assign-%s", all[i]->client);
        tn_kw_cstr(&b, 0, all[i]->id);
        tn_kw_bytes(&b, 0, a, (int32_t)strlen(a));
    }
    kw_send_as(m->fd, m->client, TN_KAPI_SYNC_GROUP, 3, corr, &b);
    tn_kw_free(&b);
}

static void read_sync(member *m, int32_t corr)
{
    uint8_t buf[1024];
    int n = kw_read_resp(m->fd, corr, buf, sizeof buf, 5000);
    assert_true(n > 0);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    (void)tn_kr_i32(&r);
    assert_int_equal(tn_kr_i16(&r), 0);
    char want[64];
    snprintf(want, sizeof want, "assign-%s", m->client);
    assert_kstr(tn_kr_bytes(&r, 0), want);
    assert_true(tn_kr_done(&r));
}

/* Two members join (each first told MEMBER_ID_REQUIRED), the leader
 * assigns, both sync: the group is Stable at generation 1. */
static void form_group(member *a, member *b)
{
    char leader[128] = "";
    int32_t na = -1, nb = -1;
    send_join(a, 1);
    assert_int_equal(read_join(a, 1, leader, &na), TN_KE_MEMBER_ID_REQUIRED);
    send_join(b, 1);
    assert_int_equal(read_join(b, 1, leader, &nb), TN_KE_MEMBER_ID_REQUIRED);
    /* The first rejoin waits: the other handed-out id has not joined yet. */
    send_join(a, 2);
    send_join(b, 2);
    assert_int_equal(read_join(b, 2, leader, &nb), 0);
    assert_int_equal(read_join(a, 2, leader, &na), 0);
    /* Whichever join the broker took first leads; only it gets the members. */
    member *lead = strcmp(leader, a->id) == 0 ? a : b, *follower = lead == a ? b : a;
    assert_string_equal(leader, lead->id);
    assert_int_equal(lead == a ? na : nb, 2);
    assert_int_equal(lead == a ? nb : na, 0);
    member *all[2] = {a, b};
    send_sync(follower, 3, NULL, 0);
    send_sync(lead, 3, all, 2);
    read_sync(lead, 3);
    read_sync(follower, 3);
}

/* ListGroups at version v: whether GROUP is listed with protocol type "consumer". */
static int listed(int v)
{
    int fd = kw_dial(sb.port);
    kw_send_as(fd, "lister", TN_KAPI_LIST_GROUPS, (int16_t)v, 9, NULL);
    uint8_t buf[4096];
    int n = kw_read_resp(fd, 9, buf, sizeof buf, 2000);
    assert_true(n > 0);
    close(fd);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    if (v >= 1)
        assert_int_equal(tn_kr_i32(&r), 0);
    assert_int_equal(tn_kr_i16(&r), 0);
    int32_t count = tn_kr_array(&r, 0, 4);
    int found = 0;
    for (int32_t i = 0; i < count; i++) {
        tn_kstr id = tn_kr_str(&r, 0), type = tn_kr_str(&r, 0);
        if (eq(id, GROUP)) {
            assert_kstr(type, "consumer");
            found++;
        }
    }
    assert_true(tn_kr_done(&r));
    return found == 1;
}

static void expect_member(tn_kr *r, int v, const member *m)
{
    assert_kstr(tn_kr_str(r, 0), m->id);
    if (v >= 4)
        assert_int_equal(tn_kr_str(r, 0).len, -1); /* dynamic member: no instance id */
    assert_kstr(tn_kr_str(r, 0), m->client);
    assert_kstr(tn_kr_str(r, 0), "127.0.0.1");
    assert_kstr(tn_kr_bytes(r, 0), m->meta);
    char want[64];
    snprintf(want, sizeof want, "assign-%s", m->client);
    assert_kstr(tn_kr_bytes(r, 0), want);
}

/* DescribeGroups at version v of GROUP, an unknown group and "". */
static void describe_groups(int v, const member *a, const member *b)
{
    int fd = kw_dial(sb.port);
    tn_kw q;
    tn_kw_init(&q, 0);
    tn_kw_array(&q, 0, 3);
    tn_kw_cstr(&q, 0, GROUP);
    tn_kw_cstr(&q, 0, "no-such-group");
    tn_kw_cstr(&q, 0, "");
    if (v >= 3)
        tn_kw_i8(&q, 1);
    kw_send_as(fd, "describer", TN_KAPI_DESCRIBE_GROUPS, (int16_t)v, 10, &q);
    tn_kw_free(&q);
    uint8_t buf[8192];
    int n = kw_read_resp(fd, 10, buf, sizeof buf, 2000);
    assert_true(n > 0);
    close(fd);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    if (v >= 1)
        assert_int_equal(tn_kr_i32(&r), 0);
    assert_int_equal(tn_kr_array(&r, 0, 1), 3);

    assert_int_equal(tn_kr_i16(&r), 0);
    assert_kstr(tn_kr_str(&r, 0), GROUP);
    assert_kstr(tn_kr_str(&r, 0), "Stable");
    assert_kstr(tn_kr_str(&r, 0), "consumer");
    assert_kstr(tn_kr_str(&r, 0), "range");
    assert_int_equal(tn_kr_array(&r, 0, 1), 2);
    /* In join order: a's rejoin or b's came first, either may lead the list. */
    size_t at = r.off;
    tn_kstr first = tn_kr_str(&r, 0);
    r.off = at;
    const member *m1 = eq(first, a->id) ? a : b, *m2 = m1 == a ? b : a;
    expect_member(&r, v, m1);
    expect_member(&r, v, m2);
    if (v >= 3)
        assert_int_equal(tn_kr_i32(&r), INT32_MIN);

    /* Unknown: no error, Dead, nothing else (as Kafka answers). */
    assert_int_equal(tn_kr_i16(&r), 0);
    assert_kstr(tn_kr_str(&r, 0), "no-such-group");
    assert_kstr(tn_kr_str(&r, 0), "Dead");
    assert_kstr(tn_kr_str(&r, 0), "");
    assert_kstr(tn_kr_str(&r, 0), "");
    assert_int_equal(tn_kr_array(&r, 0, 1), 0);
    if (v >= 3)
        assert_int_equal(tn_kr_i32(&r), INT32_MIN);

    assert_int_equal(tn_kr_i16(&r), TN_KE_INVALID_GROUP_ID);
    assert_kstr(tn_kr_str(&r, 0), "");
    assert_kstr(tn_kr_str(&r, 0), "");
    assert_kstr(tn_kr_str(&r, 0), "");
    assert_kstr(tn_kr_str(&r, 0), "");
    assert_int_equal(tn_kr_array(&r, 0, 1), 0);
    if (v >= 3)
        assert_int_equal(tn_kr_i32(&r), INT32_MIN);
    assert_true(tn_kr_done(&r));
}

/* A third member's join starts a rebalance: the members are listed, but
 * not the protocol, metadata and assignments of the generation ending. */
static void describe_rebalancing(void)
{
    member c = {kw_dial(sb.port), "client-c", "meta-c", ""};
    char leader[128];
    int32_t nm;
    send_join(&c, 1);
    assert_int_equal(read_join(&c, 1, leader, &nm), TN_KE_MEMBER_ID_REQUIRED);
    send_join(&c, 2); /* waits for the others to rejoin */
    int fd = kw_dial(sb.port);
    tn_kw q;
    tn_kw_init(&q, 0);
    tn_kw_array(&q, 0, 1);
    tn_kw_cstr(&q, 0, GROUP);
    tn_kw_i8(&q, 0);
    uint8_t buf[8192];
    tn_kr r;
    /* The join may still be on its way to the broker: ask until it shows. */
    for (int tries = 0;; tries++) {
        assert_true(tries < 100);
        kw_send_as(fd, "describer", TN_KAPI_DESCRIBE_GROUPS, 4, 12, &q);
        int n = kw_read_resp(fd, 12, buf, sizeof buf, 2000);
        assert_true(n > 0);
        tn_kr_init(&r, buf, (size_t)n);
        (void)tn_kr_i32(&r);
        assert_int_equal(tn_kr_array(&r, 0, 1), 1);
        assert_int_equal(tn_kr_i16(&r), 0);
        assert_kstr(tn_kr_str(&r, 0), GROUP);
        if (!eq(tn_kr_str(&r, 0), "Stable"))
            break;
        test_sleep_ms(10);
    }
    tn_kr_init(&r, buf, r.n);
    (void)tn_kr_i32(&r);
    (void)tn_kr_array(&r, 0, 1);
    (void)tn_kr_i16(&r);
    (void)tn_kr_str(&r, 0);
    assert_kstr(tn_kr_str(&r, 0), "PreparingRebalance");
    assert_kstr(tn_kr_str(&r, 0), "consumer");
    assert_kstr(tn_kr_str(&r, 0), "");
    int32_t n = tn_kr_array(&r, 0, 1);
    assert_int_equal(n, 3);
    int saw_c = 0;
    for (int32_t i = 0; i < n; i++) {
        tn_kstr id = tn_kr_str(&r, 0);
        (void)tn_kr_str(&r, 0);
        tn_kstr client = tn_kr_str(&r, 0);
        assert_kstr(tn_kr_str(&r, 0), "127.0.0.1");
        assert_int_equal(tn_kr_bytes(&r, 0).len, 0);
        assert_int_equal(tn_kr_bytes(&r, 0).len, 0);
        if (eq(id, c.id)) {
            assert_kstr(client, "client-c");
            saw_c = 1;
        }
    }
    assert_int_equal(tn_kr_i32(&r), INT32_MIN);
    assert_true(tn_kr_done(&r));
    assert_true(saw_c);
    tn_kw_free(&q);
    close(fd);
    close(c.fd);
}

static void test_groups(void **state)
{
    (void)state;
    member a = {kw_dial(sb.port), "client-a", "meta-a", ""},
           b = {kw_dial(sb.port), "client-b", "meta-b", ""};
    for (int v = 0; v <= 2; v++)
        assert_false(listed(v));
    form_group(&a, &b);
    for (int v = 0; v <= 2; v++)
        assert_true(listed(v));
    for (int v = 0; v <= 4; v++)
        describe_groups(v, &a, &b);
    describe_rebalancing();
    close(a.fd);
    close(b.fd);
}

/* ---- DescribeConfigs ----------------------------------------------------- */

static void create_topic(const char *name, const char *key, const char *value)
{
    int fd = kw_dial(sb.port);
    tn_kw b;
    tn_kw_init(&b, 0);
    tn_kw_array(&b, 0, 1);
    tn_kw_cstr(&b, 0, name);
    tn_kw_i32(&b, 1);
    tn_kw_i16(&b, 1);
    tn_kw_array(&b, 0, 0);
    tn_kw_array(&b, 0, 1);
    tn_kw_cstr(&b, 0, key);
    tn_kw_cstr(&b, 0, value);
    tn_kw_i32(&b, 5000);
    tn_kw_i8(&b, 0);
    kw_send_req(fd, TN_KAPI_CREATE_TOPICS, 4, 1, &b);
    tn_kw_free(&b);
    uint8_t buf[512];
    int n = kw_read_resp(fd, 1, buf, sizeof buf, 5000);
    assert_true(n > 0);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)n);
    (void)tn_kr_i32(&r);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    (void)tn_kr_str(&r, 0);
    assert_int_equal(tn_kr_i16(&r), 0);
    close(fd);
}

typedef struct resource {
    int8_t type;
    const char *name;
    int nkeys; /* -1: null (every config) */
    const char *keys[4];
} resource;

/* Sends DescribeConfigs at version v; the answer is left in buf. */
static int describe_configs(int v, const resource *res, int nres, uint8_t *buf, size_t cap)
{
    int fd = kw_dial(sb.port);
    tn_kw q;
    tn_kw_init(&q, 0);
    tn_kw_array(&q, 0, nres);
    for (int i = 0; i < nres; i++) {
        tn_kw_i8(&q, res[i].type);
        tn_kw_cstr(&q, 0, res[i].name);
        tn_kw_array(&q, 0, res[i].nkeys);
        for (int k = 0; k < res[i].nkeys; k++)
            tn_kw_cstr(&q, 0, res[i].keys[k]);
    }
    if (v >= 1)
        tn_kw_i8(&q, 1);
    kw_send_req(fd, TN_KAPI_DESCRIBE_CONFIGS, (int16_t)v, 11, &q);
    tn_kw_free(&q);
    int n = kw_read_resp(fd, 11, buf, cap, 2000);
    assert_true(n > 0);
    close(fd);
    return n;
}

typedef struct entry {
    char name[64];
    char value[256];
    int8_t read_only;
    int8_t source; /* v0: is_default */
} entry;

/* Reads one resource's result; returns its error, the configs into e. */
static int16_t read_result(tn_kr *r, int v, int8_t type, const char *name, tn_kstr *msg, entry *e,
                           int *n)
{
    int16_t err = tn_kr_i16(r);
    *msg = tn_kr_str(r, 0);
    assert_int_equal(tn_kr_i8(r), type);
    assert_kstr(tn_kr_str(r, 0), name);
    *n = tn_kr_array(r, 0, 6);
    assert_true(*n <= 16);
    for (int i = 0; i < *n; i++) {
        tn_kstr k = tn_kr_str(r, 0), val = tn_kr_str(r, 0);
        assert_true(k.len > 0 && k.len < 64 && val.len >= 0 && val.len < 256);
        memcpy(e[i].name, k.p, (size_t)k.len);
        e[i].name[k.len] = '\0';
        memcpy(e[i].value, val.p, (size_t)val.len);
        e[i].value[val.len] = '\0';
        e[i].read_only = tn_kr_i8(r);
        e[i].source = tn_kr_i8(r);
        assert_int_equal(tn_kr_i8(r), 0); /* is_sensitive */
        if (v >= 1)
            assert_int_equal(tn_kr_array(r, 0, 1), 0); /* synonyms */
    }
    return err;
}

static const entry *find(const entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return &e[i];
    return NULL;
}

static void test_topic_configs(void **state)
{
    (void)state;
    create_topic("cfg", "retention.ms", "12345");
    static uint8_t buf[16384];
    entry e[16];
    int n;
    tn_kstr msg;
    /* Every config, then a filtered list (an unknown key is just absent). */
    resource res[] = {{2, "cfg", -1, {NULL}},
                      {2, "cfg", 3, {"retention.ms", "no.such.key", "cleanup.policy"}}};
    for (int v = 1; v <= 2; v++) {
        int len = describe_configs(v, res, 2, buf, sizeof buf);
        tn_kr r;
        tn_kr_init(&r, buf, (size_t)len);
        assert_int_equal(tn_kr_i32(&r), 0);
        assert_int_equal(tn_kr_array(&r, 0, 1), 2);
        assert_int_equal(read_result(&r, v, 2, "cfg", &msg, e, &n), 0);
        assert_int_equal(msg.len, -1);
        assert_int_equal(n, 7);
        const char *names[] = {"retention.ms",  "retention.bytes",   "segment.bytes",
                               "segment.ms",    "max.message.bytes", "index.interval.bytes",
                               "cleanup.policy"};
        for (int i = 0; i < 7; i++) {
            const entry *x = find(e, n, names[i]);
            assert_non_null(x);
            assert_int_equal(x->read_only, 0);
            /* Only what the topic was created with is its own: DYNAMIC_TOPIC_CONFIG. */
            assert_int_equal(x->source, i == 0 ? 1 : 5);
        }
        assert_string_equal(find(e, n, "retention.ms")->value, "12345");
        assert_string_equal(find(e, n, "segment.bytes")->value, "1073741824");
        assert_string_equal(find(e, n, "cleanup.policy")->value, "delete");
        assert_string_equal(find(e, n, "retention.bytes")->value, "1073741824");

        assert_int_equal(read_result(&r, v, 2, "cfg", &msg, e, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(e[0].name, "retention.ms");
        assert_string_equal(e[0].value, "12345");
        assert_string_equal(e[1].name, "cleanup.policy");
        assert_true(tn_kr_done(&r));
    }
    /* v0 says is_default instead of the source. */
    resource v0[] = {{2, "cfg", 2, {"segment.ms", "retention.ms"}}};
    int len = describe_configs(0, v0, 1, buf, sizeof buf);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)len);
    assert_int_equal(tn_kr_i32(&r), 0);
    assert_int_equal(tn_kr_array(&r, 0, 1), 1);
    assert_int_equal(read_result(&r, 0, 2, "cfg", &msg, e, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, "retention.ms");
    assert_int_equal(e[0].source, 0);
    assert_string_equal(e[1].name, "segment.ms");
    assert_string_equal(e[1].value, "604800000");
    assert_int_equal(e[1].source, 1);
    assert_true(tn_kr_done(&r));
}

static void test_config_errors_and_broker(void **state)
{
    (void)state;
    static uint8_t buf[16384];
    entry e[16];
    int n;
    tn_kstr msg;
    resource res[] = {{2, "no-such-topic", -1, {NULL}},
                      {4, "0", -1, {NULL}},
                      {4, "", 1, {"log.dirs"}},
                      {4, "7", -1, {NULL}},
                      {3, "some-group", -1, {NULL}}};
    int len = describe_configs(2, res, 5, buf, sizeof buf);
    tn_kr r;
    tn_kr_init(&r, buf, (size_t)len);
    assert_int_equal(tn_kr_i32(&r), 0);
    assert_int_equal(tn_kr_array(&r, 0, 1), 5);

    assert_int_equal(read_result(&r, 2, 2, "no-such-topic", &msg, e, &n),
                     TN_KE_UNKNOWN_TOPIC_OR_PARTITION);
    assert_true(msg.len > 0 && memmem(msg.p, (size_t)msg.len, "no-such-topic", 13));
    assert_int_equal(n, 0);

    assert_int_equal(read_result(&r, 2, 4, "0", &msg, e, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal(find(e, n, "log.dirs")->value, sb.dir);
    assert_int_equal(find(e, n, "log.dirs")->source, 4); /* STATIC_BROKER_CONFIG */
    assert_string_equal(find(e, n, "num.partitions")->value, "1");
    assert_int_equal(find(e, n, "num.partitions")->source, 5);
    assert_string_equal(find(e, n, "auto.create.topics.enable")->value, "true");
    assert_string_equal(find(e, n, "log.segment.bytes")->value, "1073741824");
    assert_string_equal(find(e, n, "log.retention.ms")->value, "604800000");
    assert_string_equal(find(e, n, "log.retention.bytes")->value, "1073741824");
    assert_int_equal(find(e, n, "log.retention.bytes")->source, 4);
    for (int i = 0; i < n; i++)
        assert_int_equal(e[i].read_only, 1);

    assert_int_equal(read_result(&r, 2, 4, "", &msg, e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "log.dirs");

    assert_int_equal(read_result(&r, 2, 4, "7", &msg, e, &n), TN_KE_INVALID_REQUEST);
    assert_true(msg.len > 0);
    assert_int_equal(n, 0);
    assert_int_equal(read_result(&r, 2, 3, "some-group", &msg, e, &n), TN_KE_INVALID_REQUEST);
    assert_true(msg.len > 0);
    assert_int_equal(n, 0);
    assert_true(tn_kr_done(&r));
}

/* Counts beyond the frame, and null where a name is required, close the
 * connection; the broker goes on serving. */
static void test_hostile(void **state)
{
    (void)state;
    tn_kw q;
    tn_kw_init(&q, 0);
    tn_kw_i32(&q, 0x7fffffff);
    tn_kw_cstr(&q, 0, "g");
    int fd = kw_dial(sb.port);
    kw_send_req(fd, TN_KAPI_DESCRIBE_GROUPS, 4, 1, &q);
    assert_true(kw_closed(fd));
    close(fd);
    fd = kw_dial(sb.port);
    kw_send_req(fd, TN_KAPI_DESCRIBE_CONFIGS, 2, 1, &q);
    assert_true(kw_closed(fd));
    close(fd);
    tn_kw_reset(&q);
    tn_kw_array(&q, 0, 1);
    tn_kw_i8(&q, 2);
    tn_kw_cstr(&q, 0, "cfg");
    tn_kw_array(&q, 0, 1);
    tn_kw_str(&q, 0, NULL, -1); /* a null key */
    tn_kw_i8(&q, 0);
    fd = kw_dial(sb.port);
    kw_send_req(fd, TN_KAPI_DESCRIBE_CONFIGS, 2, 1, &q);
    assert_true(kw_closed(fd));
    close(fd);
    fd = kw_dial(sb.port);
    kw_send_req(fd, TN_KAPI_LIST_GROUPS, 2, 1, &q); /* ListGroups has no body */
    assert_true(kw_closed(fd));
    close(fd);
    tn_kw_free(&q);
    assert_true(listed(2)); /* still serving, and the group of test_groups is still there */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_topic_configs),
        cmocka_unit_test(test_config_errors_and_broker),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
