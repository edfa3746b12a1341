/* The group coordinator with a driven clock: Kafka's join/sync/heartbeat
 * flow (KIP-394 member ids, rebalances on join, leave, expiry and
 * timeout), waiters, and the durable committed-offset store (reopen, torn
 * tail, compaction, a failing disk, dropped topics). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/group.h"
#include "broker/offsets.h"
#include "testutil.h"

#define GROUP "g1"
#define SESSION 10000
#define REBALANCE 30000

static int64_t now;
static char dir[64];

static tn_kstr S(const char *s)
{
    return (tn_kstr){s, (int32_t)strlen(s)};
}

/* ---- a disk that fails on demand ---- */

typedef struct tdisk {
    tn_disk d;
    int fail_pwrite; /* 1: ENOSPC at once; 2: half written, then ENOSPC */
    int fail_syncs;  /* the next this many fdatasyncs fail with EIO */
    int renames;
} tdisk;

static int t_open(void *ctx, const char *path, int flags, mode_t mode)
{
    (void)ctx;
    return tn_disk_os()->open(NULL, path, flags, mode);
}

static ssize_t t_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
    tdisk *t = ctx;
    if (t->fail_pwrite == 2 && n > 1) {
        t->fail_pwrite = 1;
        return tn_disk_os()->pwrite(NULL, fd, buf, n / 2, off);
    }
    if (t->fail_pwrite) {
        errno = ENOSPC;
        return -1;
    }
    return tn_disk_os()->pwrite(NULL, fd, buf, n, off);
}

static ssize_t t_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
    (void)ctx;
    return tn_disk_os()->pread(NULL, fd, buf, n, off);
}

static int t_fdatasync(void *ctx, int fd)
{
    tdisk *t = ctx;
    if (t->fail_syncs > 0) {
        t->fail_syncs--;
        errno = EIO;
        return -1;
    }
    return tn_disk_os()->fdatasync(NULL, fd);
}

static int t_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return tn_disk_os()->ftruncate(NULL, fd, len);
}

static int t_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return tn_disk_os()->unlink(NULL, path);
}

static int t_rename(void *ctx, const char *from, const char *to)
{
    tdisk *t = ctx;
    t->renames++;
    return tn_disk_os()->rename(NULL, from, to);
}

static int t_mkdir(void *ctx, const char *path, mode_t mode)
{
    (void)ctx;
    return tn_disk_os()->mkdir(NULL, path, mode);
}

static int t_rmdir(void *ctx, const char *path)
{
    (void)ctx;
    return tn_disk_os()->rmdir(NULL, path);
}

static tdisk tdisk_make(void)
{
    tdisk t = {.d = {t_open, t_pwrite, t_pread, t_fdatasync, t_ftruncate, t_unlink, t_rename,
                     t_mkdir, t_rmdir, NULL}};
    return t;
}

static char *log_path(void)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/offsets.log", dir);
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tern-group-XXXXXX");
    now = 1000000;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/offsets.log.tmp", dir);
    unlink(p);
    unlink(log_path());
    return rmdir(dir);
}

static tn_groups *open_groups(const tn_disk *d, const tn_groups_conf *conf)
{
    tn_groups *g;
    check_ok(tn_groups_open(d ? d : tn_disk_os(), dir, conf, &g));
    return g;
}

/* ---- clients: a member id and the last answers ---- */

typedef struct client {
    tn_group_waiter jw, sw;
    int joins, syncs; /* answers received */
    int16_t jerr, serr;
    int32_t gen;
    char id[128];
    char leader[128];
    char protocol[32];
    int nmembers;
    char members[8][128];
    char metas[8][32];
    char assignment[64];
    tn_group_protocol protos[2];
    int nprotos;
    char meta[32];
} client;

static void copy_kstr(char *dst, size_t n, tn_kstr s)
{
    assert_true(s.len < (int32_t)n);
    size_t len = s.len > 0 ? (size_t)s.len : 0;
    memcpy(dst, s.p ? s.p : "", len);
    dst[len] = '\0';
}

static void on_join(tn_group_waiter *w, const tn_join_resp *r)
{
    client *c = w->arg;
    c->joins++;
    c->jerr = r->error_code;
    c->gen = r->generation_id;
    if (r->member_id.len > 0)
        copy_kstr(c->id, sizeof c->id, r->member_id);
    copy_kstr(c->leader, sizeof c->leader, r->leader);
    copy_kstr(c->protocol, sizeof c->protocol, r->protocol_name);
    assert_true(r->nmembers <= 8);
    c->nmembers = r->nmembers;
    for (int32_t i = 0; i < r->nmembers; i++) {
        copy_kstr(c->members[i], sizeof c->members[i], r->members[i].member_id);
        copy_kstr(c->metas[i], sizeof c->metas[i], r->members[i].metadata);
    }
}

static void on_sync(tn_group_waiter *w, const tn_sync_resp *r)
{
    client *c = w->arg;
    c->syncs++;
    c->serr = r->error_code;
    copy_kstr(c->assignment, sizeof c->assignment, r->assignment);
}

static void fail_join(tn_group_waiter *w, const tn_join_resp *r)
{
    (void)w;
    (void)r;
    fail_msg("a forgotten join waiter was called");
}

static void fail_sync(tn_group_waiter *w, const tn_sync_resp *r)
{
    (void)w;
    (void)r;
    fail_msg("a forgotten sync waiter was called");
}

/* One protocol, "range", with the client's name as its metadata. */
static void client_init(client *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->meta, sizeof c->meta, "%s", name);
    c->protos[0] = (tn_group_protocol){S("range"), S(c->meta)};
    c->nprotos = 1;
    c->jw = (tn_group_waiter){.join_done = on_join, .sync_done = fail_sync, .arg = c};
    c->sw = (tn_group_waiter){.join_done = fail_join, .sync_done = on_sync, .arg = c};
}

static tn_join_req join_req(client *c, const char *ptype, int32_t rebalance_ms)
{
    return (tn_join_req){.group_id = S(GROUP),
                         .session_timeout_ms = SESSION,
                         .rebalance_timeout_ms = rebalance_ms,
                         .member_id = S(c->id),
                         .group_instance_id = {NULL, -1},
                         .protocol_type = S(ptype),
                         .nprotocols = c->nprotos,
                         .protocols = c->protos,
                         .require_known_member_id = 1};
}

/* Sends a JoinGroup; a first join goes through MEMBER_ID_REQUIRED. */
static void join_rb(tn_groups *g, client *c, int32_t rebalance_ms)
{
    int first = c->id[0] == '\0';
    c->joins = 0;
    tn_join_req req = join_req(c, "consumer", rebalance_ms);
    tn_group_join(g, &req, &c->jw, now);
    if (first) {
        assert_int_equal(c->joins, 1);
        assert_int_equal(c->jerr, TN_KE_MEMBER_ID_REQUIRED);
        assert_int_equal(c->gen, -1);
        assert_true(strlen(c->id) > 8);
        c->joins = 0;
        req = join_req(c, "consumer", rebalance_ms);
        tn_group_join(g, &req, &c->jw, now);
    }
}

static void join(tn_groups *g, client *c)
{
    join_rb(g, c, REBALANCE);
}

static void sync_with(tn_groups *g, client *c, const tn_sync_assignment *a, int32_t n)
{
    c->syncs = 0;
    tn_sync_req req = {.group_id = S(GROUP),
                       .generation_id = c->gen,
                       .member_id = S(c->id),
                       .group_instance_id = {NULL, -1},
                       .nassignments = n,
                       .assignments = a};
    tn_group_sync(g, &req, &c->sw, now);
}

static void sync_(tn_groups *g, client *c)
{
    sync_with(g, c, NULL, 0);
}

static int16_t heartbeat(tn_groups *g, client *c)
{
    return tn_group_heartbeat(g, S(GROUP), c->gen, S(c->id), now);
}

static void assert_state(tn_groups *g, const char *state, int32_t gen, int32_t members)
{
    int32_t gg = -2, mm = -2;
    const char *s = tn_group_state(g, S(GROUP), &gg, &mm);
    assert_non_null(s);
    assert_string_equal(s, state);
    assert_int_equal(gg, gen);
    assert_int_equal(mm, members);
}

static int has_member(const client *leader, const client *c)
{
    for (int i = 0; i < leader->nmembers; i++)
        if (strcmp(leader->members[i], c->id) == 0)
            return strcmp(leader->metas[i], c->meta) == 0;
    return 0;
}

/* Joins a and b (a first) and syncs them to a stable generation 1. */
static void form_group(tn_groups *g, client *a, client *b)
{
    client_init(a, "A");
    client_init(b, "B");
    /* Both get their ids first, as two consumers starting together do. */
    tn_join_req ra = join_req(a, "consumer", REBALANCE), rb = join_req(b, "consumer", REBALANCE);
    tn_group_join(g, &ra, &a->jw, now);
    tn_group_join(g, &rb, &b->jw, now);
    assert_int_equal(a->jerr, TN_KE_MEMBER_ID_REQUIRED);
    assert_int_equal(b->jerr, TN_KE_MEMBER_ID_REQUIRED);
    assert_string_not_equal(a->id, b->id);
    join(g, a);
    assert_int_equal(a->joins, 0); /* b's id is pending: wait for it */
    assert_state(g, "PreparingRebalance", 0, 1);
    now += 10;
    join(g, b);
    assert_int_equal(a->joins, 1);
    assert_int_equal(b->joins, 1);
    assert_int_equal(a->jerr, TN_KE_NONE);
    assert_int_equal(b->jerr, TN_KE_NONE);
    assert_int_equal(a->gen, 1);
    assert_int_equal(b->gen, 1);
    assert_string_equal(a->protocol, "range");
    assert_string_equal(a->leader, a->id);
    assert_string_equal(b->leader, a->id);
    assert_int_equal(a->nmembers, 2);
    assert_true(has_member(a, a) && has_member(a, b));
    assert_int_equal(b->nmembers, 0);
    assert_state(g, "CompletingRebalance", 1, 2);

    /* The follower's sync waits for the leader's. */
    sync_(g, b);
    assert_int_equal(b->syncs, 0);
    assert_int_equal(heartbeat(g, b), TN_KE_NONE);
    tn_sync_assignment as[] = {{S(a->id), S("parts-A")}, {S(b->id), S("parts-B")}};
    sync_with(g, a, as, 2);
    assert_int_equal(a->syncs, 1);
    assert_int_equal(b->syncs, 1);
    assert_int_equal(a->serr, TN_KE_NONE);
    assert_int_equal(b->serr, TN_KE_NONE);
    assert_string_equal(a->assignment, "parts-A");
    assert_string_equal(b->assignment, "parts-B");
    assert_state(g, "Stable", 1, 2);
}

/* ---- membership ---- */

static void test_join_sync_rebalance(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b, c;
    form_group(g, &a, &b);
    now += 1000;
    assert_int_equal(heartbeat(g, &a), TN_KE_NONE);
    assert_int_equal(heartbeat(g, &b), TN_KE_NONE);
    /* A sync in Stable answers at once with the stored assignment. */
    sync_(g, &b);
    assert_int_equal(b.syncs, 1);
    assert_string_equal(b.assignment, "parts-B");

    /* A third member: the others learn of the rebalance by heartbeat. */
    client_init(&c, "C");
    join(g, &c);
    assert_int_equal(c.joins, 0);
    assert_state(g, "PreparingRebalance", 1, 3);
    assert_int_equal(heartbeat(g, &a), TN_KE_REBALANCE_IN_PROGRESS);
    assert_int_equal(heartbeat(g, &b), TN_KE_REBALANCE_IN_PROGRESS);
    sync_(g, &b);
    assert_int_equal(b.serr, TN_KE_REBALANCE_IN_PROGRESS);
    now += 100;
    join(g, &b);
    assert_int_equal(b.joins, 0);
    join(g, &a);
    assert_int_equal(a.joins + b.joins + c.joins, 3);
    assert_int_equal(a.gen, 2);
    assert_int_equal(c.gen, 2);
    assert_string_equal(c.leader, a.id); /* the leader rejoined: it stays */
    assert_int_equal(a.nmembers, 3);
    assert_true(has_member(&a, &c));

    /* The old generation is refused everywhere. */
    assert_int_equal(tn_group_heartbeat(g, S(GROUP), 1, S(b.id), now), TN_KE_ILLEGAL_GENERATION);
    b.gen = 1;
    sync_(g, &b);
    assert_int_equal(b.serr, TN_KE_ILLEGAL_GENERATION);
    b.gen = 2;
    /* The leader's sync gives no assignment to c: it gets empty bytes. */
    sync_(g, &c);
    tn_sync_assignment as[] = {{S(a.id), S("x")}, {S(b.id), S("y")}};
    sync_with(g, &a, as, 2);
    assert_int_equal(c.syncs, 1);
    assert_int_equal(c.serr, TN_KE_NONE);
    assert_string_equal(c.assignment, "");
    sync_(g, &b);
    assert_string_equal(b.assignment, "y");

    /* A follower rejoining unchanged in Stable just gets the generation. */
    join(g, &b);
    assert_int_equal(b.joins, 1);
    assert_int_equal(b.gen, 2);
    assert_state(g, "Stable", 2, 3);
    /* The leader rejoining forces a rebalance (e.g. partitions changed). */
    join(g, &a);
    assert_int_equal(a.joins, 0);
    assert_state(g, "PreparingRebalance", 2, 3);
    tn_groups_close(g);
}

static void test_session_expiry(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b;
    form_group(g, &a, &b);
    int64_t t0 = now;
    /* The tick asks to be called when the first session may end. */
    assert_true(tn_group_tick(g, now) == t0 + SESSION);
    /* b stops heartbeating; a keeps on. */
    for (int i = 0; i < 4; i++) {
        now += 3000;
        assert_int_equal(heartbeat(g, &a), TN_KE_NONE);
        tn_group_tick(g, now);
    }
    assert_state(g, "PreparingRebalance", 1, 1);
    assert_int_equal(heartbeat(g, &b), TN_KE_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(g, &a), TN_KE_REBALANCE_IN_PROGRESS);
    join(g, &a);
    assert_int_equal(a.joins, 1);
    assert_int_equal(a.gen, 2);
    assert_int_equal(a.nmembers, 1);
    assert_false(has_member(&a, &b));
    /* b comes back with its old id: unknown, so it starts over. */
    tn_join_req rb = join_req(&b, "consumer", REBALANCE);
    tn_group_join(g, &rb, &b.jw, now);
    assert_int_equal(b.jerr, TN_KE_UNKNOWN_MEMBER_ID);
    tn_groups_close(g);
}

static void test_leave(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b;
    form_group(g, &a, &b);
    /* The leader leaves: b becomes leader of generation 2. */
    assert_int_equal(tn_group_leave(g, S(GROUP), S(a.id), now), TN_KE_NONE);
    assert_int_equal(tn_group_leave(g, S(GROUP), S(a.id), now), TN_KE_UNKNOWN_MEMBER_ID);
    assert_state(g, "PreparingRebalance", 1, 1);
    assert_int_equal(heartbeat(g, &b), TN_KE_REBALANCE_IN_PROGRESS);
    join(g, &b);
    assert_int_equal(b.joins, 1);
    assert_int_equal(b.gen, 2);
    assert_string_equal(b.leader, b.id);
    sync_(g, &b);
    assert_int_equal(b.serr, TN_KE_NONE);
    /* The last one leaves: Empty, the generation kept. */
    assert_int_equal(tn_group_leave(g, S(GROUP), S(b.id), now), TN_KE_NONE);
    assert_state(g, "Empty", 2, 0);
    /* A pending id (MEMBER_ID_REQUIRED, never rejoined) may leave too. */
    client c;
    client_init(&c, "C");
    tn_join_req rc = join_req(&c, "consumer", REBALANCE);
    tn_group_join(g, &rc, &c.jw, now);
    assert_int_equal(c.jerr, TN_KE_MEMBER_ID_REQUIRED);
    assert_int_equal(tn_group_leave(g, S(GROUP), S(c.id), now), TN_KE_NONE);
    assert_int_equal(tn_group_leave(g, S("nope"), S(c.id), now), TN_KE_UNKNOWN_MEMBER_ID);
    /* Nothing left to remember, no offsets: the tick drops the group. */
    tn_group_tick(g, now);
    assert_null(tn_group_state(g, S(GROUP), NULL, NULL));
    tn_groups_close(g);
}

static void test_rebalance_timeout(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b, c;
    form_group(g, &a, &b);
    client_init(&c, "C");
    join_rb(g, &c, 5000);
    join(g, &a);
    /* b heartbeats (so its session lives) but never rejoins. */
    int64_t start = now;
    /* The first deadline is b's session (its last request was at start). */
    assert_true(tn_group_tick(g, now) == start + SESSION);
    while (now + 2000 < start + REBALANCE) {
        now += 2000;
        assert_int_equal(heartbeat(g, &b), TN_KE_REBALANCE_IN_PROGRESS);
        tn_group_tick(g, now);
    }
    assert_int_equal(a.joins + c.joins, 0);
    now = start + REBALANCE;
    tn_group_tick(g, now);
    assert_int_equal(a.joins, 1);
    assert_int_equal(c.joins, 1);
    assert_int_equal(a.gen, 2);
    assert_int_equal(a.nmembers, 2);
    assert_false(has_member(&a, &b));
    assert_true(has_member(&a, &c));
    assert_int_equal(heartbeat(g, &b), TN_KE_UNKNOWN_MEMBER_ID);
    assert_state(g, "CompletingRebalance", 2, 2);
    /* Heartbeats while the leader computes are fine. */
    assert_int_equal(heartbeat(g, &c), TN_KE_NONE);
    tn_groups_close(g);
}

static void test_protocols(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b, c, d;
    client_init(&a, "A");
    a.protos[0] = (tn_group_protocol){S("range"), S("A")};
    a.protos[1] = (tn_group_protocol){S("roundrobin"), S("A2")};
    a.nprotos = 2;
    join(g, &a);
    assert_int_equal(a.jerr, TN_KE_NONE);
    sync_(g, &a);
    /* Another protocol type, or no protocol in common, is refused. */
    client_init(&b, "B");
    tn_join_req rb = join_req(&b, "connect", REBALANCE);
    tn_group_join(g, &rb, &b.jw, now);
    assert_int_equal(b.jerr, TN_KE_INCONSISTENT_GROUP_PROTOCOL);
    b.protos[0] = (tn_group_protocol){S("sticky"), S("B")};
    rb = join_req(&b, "consumer", REBALANCE);
    tn_group_join(g, &rb, &b.jw, now);
    assert_int_equal(b.jerr, TN_KE_INCONSISTENT_GROUP_PROTOCOL);
    assert_state(g, "Stable", 1, 1);
    /* Votes: a prefers range, c and d roundrobin; roundrobin wins. */
    client_init(&c, "C");
    c.protos[0] = (tn_group_protocol){S("roundrobin"), S("C")};
    c.protos[1] = (tn_group_protocol){S("range"), S("C1")};
    c.nprotos = 2;
    client_init(&d, "D");
    d.protos[0] = (tn_group_protocol){S("roundrobin"), S("D")};
    d.protos[1] = (tn_group_protocol){S("range"), S("D1")};
    d.nprotos = 2;
    join(g, &c);
    join(g, &d);
    join(g, &a);
    assert_int_equal(a.jerr, TN_KE_NONE);
    assert_string_equal(a.protocol, "roundrobin");
    assert_string_equal(d.protocol, "roundrobin");
    /* The leader gets each member's metadata for roundrobin. */
    for (int i = 0; i < a.nmembers; i++) {
        const char *want = strcmp(a.members[i], a.id) == 0   ? "A2"
                           : strcmp(a.members[i], c.id) == 0 ? "C"
                                                             : "D";
        assert_string_equal(a.metas[i], want);
    }
    /* With c and d in, a cannot switch to a protocol they lack. */
    a.protos[0] = (tn_group_protocol){S("sticky"), S("A3")};
    a.nprotos = 1;
    tn_join_req ra = join_req(&a, "consumer", REBALANCE);
    tn_group_join(g, &ra, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_INCONSISTENT_GROUP_PROTOCOL);
    tn_groups_close(g);
}

static void test_bad_requests(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a;
    client_init(&a, "A");
    tn_join_req r = join_req(&a, "consumer", REBALANCE);
    r.group_id = S("");
    tn_group_join(g, &r, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_INVALID_GROUP_ID);
    r = join_req(&a, "consumer", REBALANCE);
    r.session_timeout_ms = 10;
    tn_group_join(g, &r, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_INVALID_SESSION_TIMEOUT);
    r.session_timeout_ms = 1800001;
    tn_group_join(g, &r, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_INVALID_SESSION_TIMEOUT);
    r = join_req(&a, "consumer", REBALANCE);
    r.nprotocols = 0;
    tn_group_join(g, &r, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_INCONSISTENT_GROUP_PROTOCOL);
    /* A made-up member id, in a group that does not exist or does. */
    strcpy(a.id, "member-made-up");
    r = join_req(&a, "consumer", REBALANCE);
    tn_group_join(g, &r, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_UNKNOWN_MEMBER_ID);
    assert_int_equal(a.joins, 4 + 1);
    sync_(g, &a);
    assert_int_equal(a.serr, TN_KE_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(g, &a), TN_KE_UNKNOWN_MEMBER_ID);
    assert_int_equal(tn_group_heartbeat(g, S(""), 0, S("x"), now), TN_KE_INVALID_GROUP_ID);
    client b;
    client_init(&b, "B");
    join(g, &b);
    assert_int_equal(b.jerr, TN_KE_NONE);
    a.joins = 0;
    r = join_req(&a, "consumer", REBALANCE);
    tn_group_join(g, &r, &a.jw, now);
    assert_int_equal(a.jerr, TN_KE_UNKNOWN_MEMBER_ID);
    /* v3 and older: no MEMBER_ID_REQUIRED round, the member is in at once. */
    client c;
    client_init(&c, "C");
    r = join_req(&c, "consumer", REBALANCE);
    r.require_known_member_id = 0;
    tn_group_join(g, &r, &c.jw, now);
    assert_int_equal(c.joins, 0);
    assert_state(g, "PreparingRebalance", 1, 2);
    tn_groups_close(g);
}

static void test_max_group_size(void **state)
{
    (void)state;
    tn_groups_conf conf;
    tn_groups_conf_default(&conf);
    conf.max_group_size = 1;
    tn_groups *g = open_groups(NULL, &conf);
    client a, b;
    client_init(&a, "A");
    client_init(&b, "B");
    join(g, &a);
    assert_int_equal(a.jerr, TN_KE_NONE);
    tn_join_req r = join_req(&b, "consumer", REBALANCE);
    tn_group_join(g, &r, &b.jw, now);
    assert_int_equal(b.jerr, TN_KE_GROUP_MAX_SIZE_REACHED);
    tn_groups_close(g);
}

static void test_initial_delay(void **state)
{
    (void)state;
    tn_groups_conf conf;
    tn_groups_conf_default(&conf);
    conf.initial_rebalance_delay_ms = 3000;
    tn_groups *g = open_groups(NULL, &conf);
    client a, b;
    client_init(&a, "A");
    client_init(&b, "B");
    join(g, &a);
    assert_int_equal(a.joins, 0);
    assert_true(tn_group_tick(g, now) == now + 3000);
    now += 1000;
    join(g, &b);
    assert_int_equal(a.joins + b.joins, 0);
    now += 1999;
    tn_group_tick(g, now);
    assert_int_equal(a.joins + b.joins, 0);
    now += 1;
    tn_group_tick(g, now);
    assert_int_equal(a.joins + b.joins, 2);
    assert_int_equal(a.gen, 1);
    assert_int_equal(a.nmembers, 2);
    tn_groups_close(g);
}

/* A waiter whose owner is freed by its own callback. */
typedef struct owned {
    tn_group_waiter w;
    int *calls;
} owned;

static void owned_join(tn_group_waiter *w, const tn_join_resp *r)
{
    owned *o = w->arg;
    assert_int_equal(r->error_code, TN_KE_NONE);
    (*o->calls)++;
    free(o);
}

static void test_waiters(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b, c;
    form_group(g, &a, &b);
    /* c joins, then its connection closes: its answer must never come. */
    client_init(&c, "C");
    join(g, &c);
    assert_int_equal(c.joins, 0);
    /* A retry replaces the waiting join, which is told so. */
    tn_group_waiter retry = {.join_done = fail_join, .sync_done = fail_sync};
    tn_join_req rc = join_req(&c, "consumer", REBALANCE);
    tn_group_join(g, &rc, &retry, now);
    assert_int_equal(c.joins, 1);
    assert_int_equal(c.jerr, TN_KE_REBALANCE_IN_PROGRESS);
    tn_group_forget(g, &retry);
    tn_group_forget(g, &retry); /* twice is harmless */
    /* a's and b's joins complete at the rebalance timeout, without c. */
    int calls = 0;
    owned *oa = malloc(sizeof *oa);
    assert_non_null(oa);
    *oa = (owned){.w = {.join_done = owned_join, .sync_done = fail_sync}, .calls = &calls};
    oa->w.arg = oa;
    tn_join_req ra = join_req(&a, "consumer", REBALANCE);
    tn_group_join(g, &ra, &oa->w, now);
    join(g, &b);
    assert_int_equal(calls + b.joins, 0);
    now += REBALANCE;
    tn_group_tick(g, now);
    assert_int_equal(calls, 1);
    assert_int_equal(b.joins, 1);
    assert_int_equal(b.gen, 2);
    /* A follower's sync withdrawn before the leader's sync. */
    b.sw.sync_done = fail_sync;
    sync_(g, &b);
    tn_group_forget(g, &b.sw);
    a.gen = 2;
    sync_(g, &a);
    assert_int_equal(a.syncs, 1);
    assert_state(g, "Stable", 2, 2);
    /* b's session still runs: it expires like any silent member. */
    now += SESSION;
    assert_int_equal(heartbeat(g, &a), TN_KE_NONE);
    tn_group_tick(g, now);
    assert_state(g, "PreparingRebalance", 2, 1);
    tn_groups_close(g);
}

/* A pending sync is answered REBALANCE_IN_PROGRESS when the group leaves
 * CompletingRebalance. */
static void test_sync_interrupted(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b;
    client_init(&a, "A");
    client_init(&b, "B");
    join(g, &a);
    sync_(g, &a); /* Stable, generation 1 */
    join(g, &b);
    join(g, &a);
    assert_int_equal(b.gen, 2);
    sync_(g, &b);
    assert_int_equal(b.syncs, 0);
    /* The leader goes silent; its session ends and the group rebalances. */
    for (int i = 0; i < 2; i++) {
        now += SESSION / 2;
        tn_group_tick(g, now);
    }
    assert_int_equal(b.syncs, 1);
    assert_int_equal(b.serr, TN_KE_REBALANCE_IN_PROGRESS);
    assert_state(g, "PreparingRebalance", 2, 1);
    join(g, &b);
    assert_int_equal(b.gen, 3);
    assert_string_equal(b.leader, b.id);
    tn_groups_close(g);
}

/* ---- committed offsets ---- */

static tn_offset_commit oc(const char *topic, int32_t p, int64_t off, const char *meta)
{
    return (tn_offset_commit){.topic = S(topic),
                              .partition = p,
                              .offset = off,
                              .leader_epoch = 3,
                              .metadata = meta ? S(meta) : (tn_kstr){NULL, -1}};
}

static int64_t fetch(tn_groups *g, const char *group, const char *topic, int32_t p)
{
    int64_t off;
    int32_t epoch;
    tn_kstr meta;
    if (!tn_group_fetch_offset(g, S(group), S(topic), p, &off, &epoch, &meta))
        return -1;
    return off;
}

static int16_t simple_commit(tn_groups *g, const char *group, tn_offset_commit *o, int32_t n)
{
    return tn_group_commit(g, S(group), -1, S(""), o, n, now);
}

static void count_each(void *arg, tn_kstr topic, int32_t partition, int64_t offset,
                       int32_t leader_epoch, tn_kstr metadata)
{
    (void)topic;
    (void)partition;
    (void)leader_epoch;
    (void)metadata;
    int64_t *sum = arg;
    *sum += offset;
}

static void test_commit_fetch(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    char big[5000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tn_offset_commit o[] = {oc("t", 0, 10, "hello"), oc("t", 1, 20, NULL), oc("u", 0, 5, big)};
    assert_int_equal(simple_commit(g, "solo", o, 3), TN_KE_NONE);
    assert_int_equal(o[0].error_code, TN_KE_NONE);
    assert_int_equal(o[1].error_code, TN_KE_NONE);
    assert_int_equal(o[2].error_code, TN_KE_OFFSET_METADATA_TOO_LARGE);
    int64_t off;
    int32_t epoch;
    tn_kstr meta;
    assert_true(tn_group_fetch_offset(g, S("solo"), S("t"), 0, &off, &epoch, &meta));
    assert_true(off == 10 && epoch == 3 && meta.len == 5 && memcmp(meta.p, "hello", 5) == 0);
    assert_true(tn_group_fetch_offset(g, S("solo"), S("t"), 1, &off, &epoch, &meta));
    assert_true(off == 20 && meta.len == 0);
    assert_int_equal(fetch(g, "solo", "u", 0), -1);
    assert_int_equal(fetch(g, "other", "t", 0), -1);
    int64_t sum = 0;
    tn_group_each_offset(g, S("solo"), count_each, &sum);
    assert_int_equal(sum, 30);
    /* The simple commit made the group known, as Empty. */
    int32_t gen = -2, members = -2;
    const char *st = tn_group_state(g, S("solo"), &gen, &members);
    assert_non_null(st);
    assert_string_equal(st, "Empty");
    assert_true(gen == 0 && members == 0);
    tn_groups_close(g);
}

static void test_commit_membership(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    client a, b;
    form_group(g, &a, &b);
    tn_offset_commit o[] = {oc("t", 0, 7, NULL)};
    /* A simple commit against an active group is refused. */
    assert_int_equal(simple_commit(g, GROUP, o, 1), TN_KE_ILLEGAL_GENERATION);
    assert_int_equal(o[0].error_code, TN_KE_ILLEGAL_GENERATION);
    assert_int_equal(tn_group_commit(g, S(GROUP), 1, S("stranger"), o, 1, now),
                     TN_KE_UNKNOWN_MEMBER_ID);
    assert_int_equal(tn_group_commit(g, S(GROUP), 0, S(a.id), o, 1, now), TN_KE_ILLEGAL_GENERATION);
    assert_int_equal(tn_group_commit(g, S("nosuch"), 4, S(a.id), o, 1, now),
                     TN_KE_ILLEGAL_GENERATION);
    assert_int_equal(tn_group_commit(g, S(""), -1, S(""), o, 1, now), TN_KE_INVALID_GROUP_ID);
    assert_int_equal(fetch(g, GROUP, "t", 0), -1);
    assert_int_equal(tn_group_commit(g, S(GROUP), 1, S(b.id), o, 1, now), TN_KE_NONE);
    assert_int_equal(fetch(g, GROUP, "t", 0), 7);
    /* A commit is a sign of life: b only commits, and stays. */
    for (int i = 0; i < 4; i++) {
        now += SESSION / 2;
        o[0].offset = 8 + i;
        assert_int_equal(tn_group_commit(g, S(GROUP), 1, S(b.id), o, 1, now), TN_KE_NONE);
        assert_int_equal(heartbeat(g, &a), TN_KE_NONE);
        tn_group_tick(g, now);
    }
    assert_state(g, "Stable", 1, 2);
    /* While rebalancing, the old generation may still commit (what it
     * consumed before rejoining); once the new one is handed out and not
     * yet synced, commits wait for the sync. */
    join(g, &a);
    o[0].offset = 50;
    assert_int_equal(tn_group_commit(g, S(GROUP), 1, S(b.id), o, 1, now), TN_KE_NONE);
    assert_int_equal(fetch(g, GROUP, "t", 0), 50);
    join(g, &b);
    assert_int_equal(b.gen, 2);
    o[0].offset = 60;
    assert_int_equal(tn_group_commit(g, S(GROUP), 2, S(b.id), o, 1, now),
                     TN_KE_REBALANCE_IN_PROGRESS);
    assert_int_equal(fetch(g, GROUP, "t", 0), 50);
    /* Everyone gone: simple commits are allowed again. */
    assert_int_equal(tn_group_leave(g, S(GROUP), S(a.id), now), TN_KE_NONE);
    assert_int_equal(tn_group_leave(g, S(GROUP), S(b.id), now), TN_KE_NONE);
    assert_int_equal(simple_commit(g, GROUP, o, 1), TN_KE_NONE);
    assert_int_equal(fetch(g, GROUP, "t", 0), 60);
    /* A group with offsets outlives its members. */
    tn_group_tick(g, now);
    assert_state(g, "Empty", 2, 0);
    tn_groups_close(g);
}

static void test_reopen_and_torn_tail(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    tn_offset_commit o[] = {oc("t", 0, 1, "m"), oc("t", 1, 2, NULL)};
    assert_int_equal(simple_commit(g, "a", o, 2), TN_KE_NONE);
    o[0].offset = 100;
    assert_int_equal(simple_commit(g, "a", o, 1), TN_KE_NONE);
    tn_offset_commit p[] = {oc("t", 0, 9, "x")};
    assert_int_equal(simple_commit(g, "b", p, 1), TN_KE_NONE);
    tn_groups_close(g);
    off_t whole = file_size(log_path());

    g = open_groups(NULL, NULL);
    assert_int_equal(fetch(g, "a", "t", 0), 100);
    assert_int_equal(fetch(g, "a", "t", 1), 2);
    assert_int_equal(fetch(g, "b", "t", 0), 9);
    /* The group exists again for listing: it has offsets. */
    tn_groups_close(g);

    /* Every cut inside the last record loses that record only. */
    p[0].offset = 10;
    g = open_groups(NULL, NULL);
    assert_int_equal(simple_commit(g, "b", p, 1), TN_KE_NONE);
    tn_groups_close(g);
    off_t longer = file_size(log_path());
    for (off_t cut = longer - 1; cut > whole; cut -= 3) {
        assert_int_equal(truncate(log_path(), cut), 0);
        g = open_groups(NULL, NULL);
        assert_int_equal(fetch(g, "b", "t", 0), 9);
        assert_int_equal(fetch(g, "a", "t", 0), 100);
        tn_groups_close(g);
        assert_true(file_size(log_path()) == whole);
        /* Put the record back for the next cut. */
        g = open_groups(NULL, NULL);
        assert_int_equal(simple_commit(g, "b", p, 1), TN_KE_NONE);
        tn_groups_close(g);
        assert_true(file_size(log_path()) == longer);
    }
    /* A flipped byte in the last record: cut there too; garbage after the
     * last record: cut. */
    int fd = open(log_path(), O_RDWR);
    assert_true(fd >= 0);
    char ch;
    assert_int_equal(pread(fd, &ch, 1, longer - 3), 1);
    ch ^= 0x40;
    assert_int_equal(pwrite(fd, &ch, 1, longer - 3), 1);
    assert_int_equal(pwrite(fd, "\0\0\0\x10garbage", 11, longer), 11);
    close(fd);
    g = open_groups(NULL, NULL);
    assert_int_equal(fetch(g, "b", "t", 0), 9);
    /* And the store goes on from there. */
    assert_int_equal(simple_commit(g, "b", p, 1), TN_KE_NONE);
    tn_groups_close(g);
    g = open_groups(NULL, NULL);
    assert_int_equal(fetch(g, "b", "t", 0), 10);
    tn_groups_close(g);
}

static void test_compaction(void **state)
{
    (void)state;
    tdisk td = tdisk_make();
    td.d.ctx = &td;
    tn_groups_conf conf;
    tn_groups_conf_default(&conf);
    conf.sync_commits = 0; /* thousands of commits; durability is not the point here */
    tn_groups *g = open_groups(&td.d, &conf);
    tn_offset_commit keep[] = {oc("keep", 0, 42, "k")};
    assert_int_equal(simple_commit(g, "g", keep, 1), TN_KE_NONE);
    for (int i = 0; i < 5000; i++) {
        tn_offset_commit o[] = {oc("t", i % 4, i, "meta")};
        assert_int_equal(simple_commit(g, "g", o, 1), TN_KE_NONE);
    }
    /* ~5000 records of ~40 bytes were appended; a few live ones remain. */
    assert_true(td.renames >= 1);
    assert_true(file_size(log_path()) < 64 * 1024);
    tn_groups_close(g);
    g = open_groups(&td.d, &conf);
    assert_int_equal(fetch(g, "g", "keep", 0), 42);
    for (int p = 0; p < 4; p++)
        assert_int_equal(fetch(g, "g", "t", p), 4996 + p);
    tn_groups_close(g);
}

static void test_failing_disk(void **state)
{
    (void)state;
    tdisk td = tdisk_make();
    td.d.ctx = &td;
    tn_groups *g = open_groups(&td.d, NULL);
    tn_offset_commit o[] = {oc("t", 0, 1, NULL), oc("t", 1, 1, NULL)};
    assert_int_equal(simple_commit(g, "g", o, 2), TN_KE_NONE);
    off_t good = file_size(log_path());

    o[0].offset = o[1].offset = 2;
    td.fail_pwrite = 1;
    assert_int_equal(simple_commit(g, "g", o, 2), TN_KE_KAFKA_STORAGE_ERROR);
    assert_int_equal(o[0].error_code, TN_KE_KAFKA_STORAGE_ERROR);
    assert_int_equal(o[1].error_code, TN_KE_KAFKA_STORAGE_ERROR);
    assert_int_equal(fetch(g, "g", "t", 0), 1);
    /* Half written, then the disk is full: the half is cut away. */
    td.fail_pwrite = 2;
    assert_int_equal(simple_commit(g, "g", o, 2), TN_KE_KAFKA_STORAGE_ERROR);
    assert_true(file_size(log_path()) == good);
    assert_int_equal(fetch(g, "g", "t", 1), 1);
    /* Written but not synced: not acknowledged either. */
    td.fail_pwrite = 0;
    td.fail_syncs = 1;
    assert_int_equal(simple_commit(g, "g", o, 2), TN_KE_KAFKA_STORAGE_ERROR);
    assert_int_equal(fetch(g, "g", "t", 0), 1);
    assert_true(file_size(log_path()) == good);
    /* Space again: commits work, and what failed never comes back. */
    o[0].offset = 3;
    assert_int_equal(simple_commit(g, "g", o, 1), TN_KE_NONE);
    off_t good3 = file_size(log_path());
    /* The cut itself cannot be synced: the store refuses every later
     * commit, since it no longer knows what the file holds. */
    o[0].offset = 4;
    td.fail_syncs = 2;
    assert_int_equal(simple_commit(g, "g", o, 1), TN_KE_KAFKA_STORAGE_ERROR);
    assert_int_equal(simple_commit(g, "g", o, 1), TN_KE_KAFKA_STORAGE_ERROR);
    assert_int_equal(fetch(g, "g", "t", 0), 3);
    tn_groups_close(g);
    assert_true(file_size(log_path()) == good3);
    g = open_groups(&td.d, NULL);
    assert_int_equal(fetch(g, "g", "t", 0), 3);
    assert_int_equal(fetch(g, "g", "t", 1), 1);
    assert_int_equal(simple_commit(g, "g", o, 1), TN_KE_NONE);
    assert_int_equal(fetch(g, "g", "t", 0), 4);
    tn_groups_close(g);
}

static void test_drop_topic(void **state)
{
    (void)state;
    tn_groups *g = open_groups(NULL, NULL);
    tn_offset_commit o[] = {oc("gone", 0, 1, NULL), oc("gone", 1, 2, NULL), oc("kept", 0, 3, NULL)};
    assert_int_equal(simple_commit(g, "g1", o, 3), TN_KE_NONE);
    assert_int_equal(simple_commit(g, "g2", o, 1), TN_KE_NONE);
    tn_groups_drop_topic(g, S("gone"));
    assert_int_equal(fetch(g, "g1", "gone", 0), -1);
    assert_int_equal(fetch(g, "g1", "gone", 1), -1);
    assert_int_equal(fetch(g, "g2", "gone", 0), -1);
    assert_int_equal(fetch(g, "g1", "kept", 0), 3);
    tn_groups_close(g);
    g = open_groups(NULL, NULL);
    assert_int_equal(fetch(g, "g1", "gone", 0), -1);
    assert_int_equal(fetch(g, "g2", "gone", 0), -1);
    assert_int_equal(fetch(g, "g1", "kept", 0), 3);
    /* A topic of the same name starts from nothing, and is kept again. */
    assert_int_equal(simple_commit(g, "g2", o, 1), TN_KE_NONE);
    tn_groups_close(g);
    g = open_groups(NULL, NULL);
    assert_int_equal(fetch(g, "g2", "gone", 0), 1);
    tn_groups_close(g);
}

static void test_many_partitions(void **state)
{
    (void)state;
    tn_groups_conf conf;
    tn_groups_conf_default(&conf);
    conf.sync_commits = 0;
    tn_groups *g = open_groups(NULL, &conf);
    enum { N = 20000 };
    tn_offset_commit *o = calloc(N, sizeof *o);
    assert_non_null(o);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            o[i] = oc(i % 2 ? "odd" : "even", i, (int64_t)i * 10 + round, NULL);
        uint64_t t0 = tern_clock_ns();
        assert_int_equal(simple_commit(g, "big", o, N), TN_KE_NONE);
        uint64_t dt = tern_clock_ns() - t0;
        /* Linear work: well under a second even under sanitizers. */
        assert_true(dt < 2000000000ull);
    }
    tn_groups_close(g);
    g = open_groups(NULL, &conf);
    for (int i = 0; i < N; i++)
        assert_int_equal(fetch(g, "big", i % 2 ? "odd" : "even", i), (int64_t)i * 10 + 2);
    free(o);
    tn_groups_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_sync_rebalance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocols, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_group_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initial_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_partitions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
