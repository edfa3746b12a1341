/* The group coordinator (group.h): Kafka's classic group membership state
 * machine over a hash table of groups, with committed offsets kept by
 * offsets.c.
 *
 * Waiters: a pending JoinGroup or SyncGroup is attached to its member
 * (join_w, sync_w) with w->group pointing to the group; it is detached
 * (both cleared) before its callback runs, and the callback is the last
 * time the coordinator touches it, so a callback may free the waiter's
 * owner. Callbacks must not call into the coordinator, except
 * tn_group_forget for other waiters (it only clears attachments).
 *
 * Invariants: a group has members exactly when it is not EMPTY; every
 * member supports at least one protocol that all the others support
 * (checked on each join), so a protocol can always be chosen. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/trace.h"
#include "broker/group.h"
#include "broker/offsets.h"

/* Real clients offer one to three; bounding it bounds protocol choice. */
#define MAX_PROTOCOLS 64
#define MEMBER_ID_MAX 128

enum { ST_EMPTY, ST_PREPARING, ST_AWAITING_SYNC, ST_STABLE };

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                          "Stable"};

/* An owned copy of a string or byte array; len < 0 is null. */
typedef struct own {
    char *p;
    int32_t len;
} own;

typedef struct proto {
    own name;
    own meta;
} proto;

typedef struct member {
    struct member *next; /* join order */
    own id;
    own instance;
    own client_id; /* of its latest join */
    own client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    int64_t seen_ms; /* last request; the session ends session_ms later */
    int32_t nprotos;
    proto *protos;
    tn_group_waiter *join_w;
    tn_group_waiter *sync_w;
    tn_kstr assignment; /* into the group's assign block */
} member;

/* A member id handed out with MEMBER_ID_REQUIRED, not yet joined. */
typedef struct pending {
    struct pending *next;
    own id;
    int64_t deadline;
} pending;

typedef struct group {
    struct group *hnext;
    uint64_t hash;
    own id;
    int state;
    int32_t generation;
    own ptype;    /* the members' protocol type */
    own protocol; /* chosen for the current generation */
    member *members;
    int32_t nmembers;
    member *leader;
    pending *pending;
    int64_t prepare_ms;  /* when PREPARING began */
    int64_t delay_until; /* initial rebalance delay */
    char *assign_block;  /* the leader's assignments, one allocation */
} group;

struct tn_groups {
    tn_groups_conf conf;
    tn_offsets *offsets;
    group **tab;
    size_t cap;
    size_t n;
    uint64_t seed;
    uint64_t key[2];
    uint64_t counter;
    tn_join_member *scratch; /* the leader's member list */
    size_t scratch_cap;
};

static const char empty_bytes[1] = "";

void tn_groups_conf_default(tn_groups_conf *c)
{
    c->min_session_timeout_ms = 6000;
    c->max_session_timeout_ms = 1800000;
    c->initial_rebalance_delay_ms = 0;
    c->max_group_size = 1000;
    c->max_metadata_bytes = 4096;
    c->sync_commits = 1;
}

static tn_kstr ks(own o)
{
    return (tn_kstr){o.p, o.len};
}

static int ks_eq(tn_kstr a, tn_kstr b)
{
    if (a.len < 0 || b.len < 0)
        return a.len < 0 && b.len < 0;
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* Copies s; 0 on allocation failure. */
static int own_set(own *o, tn_kstr s)
{
    if (s.len < 0) {
        *o = (own){NULL, -1};
        return 1;
    }
    char *p = malloc((size_t)s.len + 1);
    if (!p)
        return 0;
    if (s.len)
        memcpy(p, s.p, (size_t)s.len);
    p[s.len] = '\0';
    *o = (own){p, s.len};
    return 1;
}

static void own_free(own *o)
{
    free(o->p);
    *o = (own){NULL, -1};
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t id_hash(const tn_groups *g, tn_kstr id)
{
    uint64_t h = 0xcbf29ce484222325ull ^ g->seed;
    for (int32_t i = 0; i < id.len; i++)
        h = (h ^ (uint8_t)id.p[i]) * 0x100000001b3ull;
    return mix64(h);
}

/* ---- the table of groups ---- */

static group *group_find(tn_groups *g, tn_kstr id)
{
    if (id.len <= 0 || !g->cap)
        return NULL;
    uint64_t h = id_hash(g, id);
    for (group *gr = g->tab[h & (g->cap - 1)]; gr; gr = gr->hnext)
        if (gr->hash == h && ks_eq(ks(gr->id), id))
            return gr;
    return NULL;
}

static group *group_new(tn_groups *g, tn_kstr id)
{
    if (g->n >= g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        group **tab = calloc(cap, sizeof *tab);
        if (!tab)
            return NULL;
        for (size_t i = 0; i < g->cap; i++) {
            for (group *gr = g->tab[i], *next; gr; gr = next) {
                next = gr->hnext;
                gr->hnext = tab[gr->hash & (cap - 1)];
                tab[gr->hash & (cap - 1)] = gr;
            }
        }
        free(g->tab);
        g->tab = tab;
        g->cap = cap;
    }
    group *gr = calloc(1, sizeof *gr);
    if (!gr || !own_set(&gr->id, id)) {
        free(gr);
        return NULL;
    }
    gr->hash = id_hash(g, id);
    gr->state = ST_EMPTY;
    gr->ptype = (own){NULL, -1};
    gr->protocol = (own){NULL, -1};
    gr->hnext = g->tab[gr->hash & (g->cap - 1)];
    g->tab[gr->hash & (g->cap - 1)] = gr;
    g->n++;
    return gr;
}

/* ---- members ---- */

static void protos_free(proto *p, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        own_free(&p[i].name);
        own_free(&p[i].meta);
    }
    free(p);
}

static proto *protos_copy(const tn_group_protocol *src, int32_t n)
{
    proto *p = calloc((size_t)n, sizeof *p);
    if (!p)
        return NULL;
    for (int32_t i = 0; i < n; i++) {
        if (!own_set(&p[i].name, src[i].name) || !own_set(&p[i].meta, src[i].metadata)) {
            protos_free(p, i + 1);
            return NULL;
        }
    }
    return p;
}

static void member_free(member *m)
{
    own_free(&m->id);
    own_free(&m->instance);
    own_free(&m->client_id);
    own_free(&m->client_host);
    protos_free(m->protos, m->nprotos);
    free(m);
}

static member *member_find(group *gr, tn_kstr id)
{
    for (member *m = gr->members; m; m = m->next)
        if (ks_eq(ks(m->id), id))
            return m;
    return NULL;
}

static pending **pending_find(group *gr, tn_kstr id)
{
    for (pending **pp = &gr->pending; *pp; pp = &(*pp)->next)
        if (ks_eq(ks((*pp)->id), id))
            return pp;
    return NULL;
}

static void pending_remove(pending **pp)
{
    pending *p = *pp;
    *pp = p->next;
    own_free(&p->id);
    free(p);
}

static int32_t npending(const group *gr)
{
    int32_t n = 0;
    for (const pending *p = gr->pending; p; p = p->next)
        n++;
    return n;
}

/* Takes the protocols, timeouts and client of a join (the group takes
 * its protocol type); 0 on allocation failure, with nothing changed. */
static int member_update(group *gr, member *m, const tn_join_req *req)
{
    proto *p = protos_copy(req->protocols, req->nprotocols);
    own ptype = {NULL, -1}, cid = {NULL, -1}, chost = {NULL, -1};
    if (!p || !own_set(&ptype, req->protocol_type) || !own_set(&cid, req->client_id) ||
        !own_set(&chost, req->client_host)) {
        if (p)
            protos_free(p, req->nprotocols);
        own_free(&ptype);
        own_free(&cid);
        own_free(&chost);
        return 0;
    }
    own_free(&m->client_id);
    own_free(&m->client_host);
    m->client_id = cid;
    m->client_host = chost;
    protos_free(m->protos, m->nprotos);
    m->protos = p;
    m->nprotos = req->nprotocols;
    m->session_ms = req->session_timeout_ms;
    m->rebalance_ms = req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms : 0;
    own_free(&gr->ptype);
    gr->ptype = ptype;
    return 1;
}

/* Appends a member (join order); NULL on allocation failure. */
static member *member_add(tn_groups *g, group *gr, tn_kstr id, const tn_join_req *req)
{
    if ((size_t)gr->nmembers + 1 > g->scratch_cap) {
        size_t cap = g->scratch_cap ? g->scratch_cap * 2 : 16;
        tn_join_member *s = realloc(g->scratch, cap * sizeof *s);
        if (!s)
            return NULL;
        g->scratch = s;
        g->scratch_cap = cap;
    }
    member *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->instance = m->client_id = m->client_host = (own){NULL, -1};
    if (!own_set(&m->id, id) || !own_set(&m->instance, req->group_instance_id) ||
        !member_update(gr, m, req)) {
        member_free(m);
        return NULL;
    }
    m->assignment = (tn_kstr){empty_bytes, 0};
    member **pp = &gr->members;
    while (*pp)
        pp = &(*pp)->next;
    *pp = m;
    gr->nmembers++;
    return m;
}

/* Whether a join repeats what the member already sent. */
static int same_join(const group *gr, const member *m, const tn_join_req *req)
{
    if (!ks_eq(ks(gr->ptype), req->protocol_type) || m->nprotos != req->nprotocols)
        return 0;
    for (int32_t i = 0; i < m->nprotos; i++)
        if (!ks_eq(ks(m->protos[i].name), req->protocols[i].name) ||
            !ks_eq(ks(m->protos[i].meta), req->protocols[i].metadata))
            return 0;
    return 1;
}

static const proto *member_proto(const member *m, tn_kstr name)
{
    for (int32_t i = 0; i < m->nprotos; i++)
        if (ks_eq(ks(m->protos[i].name), name))
            return &m->protos[i];
    return NULL;
}

/* Whether a join fits the group: the same protocol type as the other
 * members and a protocol all of them support. */
static int protocols_fit(group *gr, const member *self, const tn_join_req *req)
{
    if (gr->nmembers - (self ? 1 : 0) == 0)
        return 1;
    if (!ks_eq(ks(gr->ptype), req->protocol_type))
        return 0;
    for (int32_t i = 0; i < req->nprotocols; i++) {
        int all = 1;
        for (member *m = gr->members; m && all; m = m->next)
            if (m != self && !member_proto(m, req->protocols[i].name))
                all = 0;
        if (all)
            return 1;
    }
    return 0;
}

static int supported_by_all(group *gr, tn_kstr name)
{
    for (member *m = gr->members; m; m = m->next)
        if (!member_proto(m, name))
            return 0;
    return 1;
}

/* Kafka's choice: among the protocols every member supports, each member
 * votes for the first in its own order; most votes wins, ties going to
 * the first member's order. */
static tn_kstr choose_protocol(group *gr)
{
    const member *first = gr->members;
    int32_t votes[MAX_PROTOCOLS] = {0};
    int common[MAX_PROTOCOLS];
    for (int32_t i = 0; i < first->nprotos; i++)
        common[i] = supported_by_all(gr, ks(first->protos[i].name));
    for (member *m = gr->members; m; m = m->next) {
        for (int32_t j = 0; j < m->nprotos; j++) {
            int32_t i = 0;
            while (i < first->nprotos &&
                   !(common[i] && ks_eq(ks(first->protos[i].name), ks(m->protos[j].name))))
                i++;
            if (i < first->nprotos) {
                votes[i]++;
                break;
            }
        }
    }
    int32_t best = 0;
    for (int32_t i = 1; i < first->nprotos; i++)
        if (votes[i] > votes[best])
            best = i;
    return ks(first->protos[best].name);
}

static int32_t max_rebalance_ms(const group *gr)
{
    int32_t t = 0;
    for (const member *m = gr->members; m; m = m->next)
        if (m->rebalance_ms > t)
            t = m->rebalance_ms;
    return t;
}

/* ---- answers ---- */

static void join_fail(tn_group_waiter *w, int16_t err, tn_kstr member_id)
{
    tn_join_resp r = {.error_code = err,
                      .generation_id = -1,
                      .protocol_type = {NULL, -1},
                      .protocol_name = {empty_bytes, 0},
                      .leader = {empty_bytes, 0},
                      .member_id = member_id.len < 0 ? (tn_kstr){empty_bytes, 0} : member_id};
    w->group = NULL;
    w->join_done(w, &r);
}

/* The current generation as member m sees it; the leader gets the
 * members and their metadata for the chosen protocol. */
static void join_answer(tn_groups *g, group *gr, member *m, tn_group_waiter *w)
{
    tn_join_resp r = {.error_code = TN_KE_NONE,
                      .generation_id = gr->generation,
                      .protocol_type = ks(gr->ptype),
                      .protocol_name = ks(gr->protocol),
                      .leader = ks(gr->leader->id),
                      .member_id = ks(m->id)};
    if (m == gr->leader) {
        int32_t i = 0;
        for (member *x = gr->members; x; x = x->next, i++) {
            const proto *p = member_proto(x, ks(gr->protocol));
            tn_kstr meta = p ? ks(p->meta) : (tn_kstr){empty_bytes, 0};
            g->scratch[i] = (tn_join_member){ks(x->id), ks(x->instance), meta};
        }
        r.nmembers = i;
        r.members = g->scratch;
    }
    w->group = NULL;
    w->join_done(w, &r);
}

static void sync_fail(tn_group_waiter *w, int16_t err)
{
    tn_sync_resp r = {.error_code = err,
                      .protocol_type = {NULL, -1},
                      .protocol_name = {NULL, -1},
                      .assignment = {empty_bytes, 0}};
    w->group = NULL;
    w->sync_done(w, &r);
}

static void sync_answer(group *gr, member *m, tn_group_waiter *w)
{
    tn_sync_resp r = {.error_code = TN_KE_NONE,
                      .protocol_type = ks(gr->ptype),
                      .protocol_name = ks(gr->protocol),
                      .assignment = m->assignment};
    w->group = NULL;
    w->sync_done(w, &r);
}

/* Detaches and answers a member's pending join, if any. */
static void fail_join_of(member *m, int16_t err, tn_kstr member_id)
{
    tn_group_waiter *w = m->join_w;
    if (w) {
        m->join_w = NULL;
        join_fail(w, err, member_id);
    }
}

static void fail_sync_of(member *m, int16_t err)
{
    tn_group_waiter *w = m->sync_w;
    if (w) {
        m->sync_w = NULL;
        sync_fail(w, err);
    }
}

/* ---- the state machine ---- */

static void clear_assignments(group *gr)
{
    for (member *m = gr->members; m; m = m->next)
        m->assignment = (tn_kstr){empty_bytes, 0};
    free(gr->assign_block);
    gr->assign_block = NULL;
}

static void go_empty(group *gr)
{
    gr->state = ST_EMPTY;
    gr->leader = NULL;
    own_free(&gr->protocol);
    own_free(&gr->ptype);
    clear_assignments(gr);
    tn_trace(TERN_TRACE_BROKER, "group %s: empty at generation %" PRId32, gr->id.p, gr->generation);
}

static void prepare(tn_groups *g, group *gr, int64_t now, const char *why)
{
    int was = gr->state;
    gr->state = ST_PREPARING;
    gr->prepare_ms = now;
    gr->delay_until = was == ST_EMPTY ? now + g->conf.initial_rebalance_delay_ms : now;
    tn_trace(TERN_TRACE_BROKER, "group %s: rebalancing from generation %" PRId32 " (%s)", gr->id.p,
             gr->generation, why);
    if (was == ST_AWAITING_SYNC) {
        clear_assignments(gr);
        for (member *m = gr->members; m; m = m->next)
            fail_sync_of(m, TN_KE_REBALANCE_IN_PROGRESS);
    }
}

/* Unlinks *pp, answers its waiters with UNKNOWN_MEMBER_ID and frees it. */
static void member_remove(group *gr, member **pp)
{
    member *m = *pp;
    *pp = m->next;
    gr->nmembers--;
    if (gr->leader == m)
        gr->leader = NULL;
    tn_trace(TERN_TRACE_BROKER, "group %s: member %s removed", gr->id.p, m->id.p);
    fail_join_of(m, TN_KE_UNKNOWN_MEMBER_ID, (tn_kstr){empty_bytes, 0});
    fail_sync_of(m, TN_KE_UNKNOWN_MEMBER_ID);
    member_free(m);
}

static void complete(tn_groups *g, group *gr, int64_t now)
{
    /* Members that did not rejoin in time are out. */
    for (member **pp = &gr->members; *pp;) {
        if (!(*pp)->join_w)
            member_remove(gr, pp);
        else
            pp = &(*pp)->next;
    }
    if (!gr->nmembers) {
        go_empty(gr);
        return;
    }
    own protocol;
    if (!own_set(&protocol, choose_protocol(gr))) {
        /* Try again on the next tick. */
        tn_trace(TERN_TRACE_BROKER, "group %s: out of memory completing the rebalance", gr->id.p);
        return;
    }
    own_free(&gr->protocol);
    gr->protocol = protocol;
    gr->generation++;
    if (!gr->leader)
        gr->leader = gr->members;
    gr->state = ST_AWAITING_SYNC;
    tn_trace(TERN_TRACE_BROKER,
             "group %s: generation %" PRId32 ", %" PRId32 " members, protocol %s, leader %s",
             gr->id.p, gr->generation, gr->nmembers, gr->protocol.p, gr->leader->id.p);
    for (member *m = gr->members; m; m = m->next) {
        tn_group_waiter *w = m->join_w;
        m->join_w = NULL;
        m->seen_ms = now;
        join_answer(g, gr, m, w);
    }
}

static int all_joined(const group *gr)
{
    if (gr->pending)
        return 0;
    for (const member *m = gr->members; m; m = m->next)
        if (!m->join_w)
            return 0;
    return 1;
}

static int64_t rebalance_deadline(const group *gr)
{
    int64_t t = gr->prepare_ms + max_rebalance_ms(gr);
    return t > gr->delay_until ? t : gr->delay_until;
}

static void try_complete(tn_groups *g, group *gr, int64_t now)
{
    if (gr->state != ST_PREPARING || now < gr->delay_until)
        return;
    if (all_joined(gr) || now >= rebalance_deadline(gr))
        complete(g, gr, now);
}

/* After members left or expired. */
static void after_removal(tn_groups *g, group *gr, int64_t now, const char *why)
{
    if (!gr->nmembers) {
        go_empty(gr);
        return;
    }
    if (gr->state != ST_PREPARING)
        prepare(g, gr, now, why);
    try_complete(g, gr, now);
}

/* Builds "<prefix>-<uuid-like>": unique through the counter, unguessable
 * through the key. */
static void new_member_id(tn_groups *g, tn_kstr instance, char *out, size_t n)
{
    uint64_t c = ++g->counter;
    uint64_t a = mix64(g->key[0] + c), b = mix64(g->key[1] ^ c);
    int plen = instance.len > 0 ? (instance.len < 64 ? instance.len : 64) : 6;
    const char *prefix = instance.len > 0 ? instance.p : "member";
    snprintf(out, n, "%.*s-%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             plen, prefix, (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffffu,
             (uint32_t)a & 0xffffu, (uint32_t)(b >> 48), (uint64_t)(b & 0xffffffffffffull));
}

/* A known member's join. */
static void join_known(tn_groups *g, group *gr, member *m, const tn_join_req *req,
                       tn_group_waiter *w, int64_t now)
{
    m->seen_ms = now;
    int same = same_join(gr, m, req);
    if ((gr->state == ST_AWAITING_SYNC && same) ||
        (gr->state == ST_STABLE && same && m != gr->leader)) {
        /* It missed the answer, or rejoins unchanged: nothing to redo. */
        m->session_ms = req->session_timeout_ms;
        m->rebalance_ms = req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms : 0;
        join_answer(g, gr, m, w);
        return;
    }
    if (!member_update(gr, m, req)) {
        join_fail(w, TN_KE_UNKNOWN_SERVER_ERROR, req->member_id);
        return;
    }
    /* A retried join replaces the one still waiting. */
    fail_join_of(m, TN_KE_REBALANCE_IN_PROGRESS, ks(m->id));
    m->join_w = w;
    w->group = gr;
    if (gr->state != ST_PREPARING)
        prepare(g, gr, now, m == gr->leader ? "the leader rejoined" : "a member changed");
    try_complete(g, gr, now);
}

/* A new member's join (with a fresh or a pending id). */
static void join_new(tn_groups *g, group *gr, tn_kstr id, const tn_join_req *req,
                     tn_group_waiter *w, int64_t now)
{
    member *m = member_add(g, gr, id, req);
    if (!m) {
        join_fail(w, TN_KE_UNKNOWN_SERVER_ERROR, id);
        return;
    }
    tn_trace(TERN_TRACE_BROKER, "group %s: member %s joins", gr->id.p, m->id.p);
    m->seen_ms = now;
    m->join_w = w;
    w->group = gr;
    if (gr->state != ST_PREPARING)
        prepare(g, gr, now, "a member joined");
    try_complete(g, gr, now);
}

void tn_group_join(tn_groups *g, const tn_join_req *req, tn_group_waiter *w, int64_t now_ms)
{
    w->next = NULL;
    w->group = NULL;
    const tn_groups_conf *c = &g->conf;
    if (req->group_id.len <= 0) {
        join_fail(w, TN_KE_INVALID_GROUP_ID, req->member_id);
        return;
    }
    if (req->session_timeout_ms < c->min_session_timeout_ms ||
        req->session_timeout_ms > c->max_session_timeout_ms) {
        join_fail(w, TN_KE_INVALID_SESSION_TIMEOUT, req->member_id);
        return;
    }
    if (req->protocol_type.len <= 0 || req->nprotocols <= 0 || req->nprotocols > MAX_PROTOCOLS) {
        join_fail(w, TN_KE_INCONSISTENT_GROUP_PROTOCOL, req->member_id);
        return;
    }
    int known = req->member_id.len > 0;
    group *gr = group_find(g, req->group_id);
    if (!gr && known) {
        join_fail(w, TN_KE_UNKNOWN_MEMBER_ID, req->member_id);
        return;
    }
    if (!gr && !(gr = group_new(g, req->group_id))) {
        join_fail(w, TN_KE_UNKNOWN_SERVER_ERROR, req->member_id);
        return;
    }
    if (known) {
        member *m = member_find(gr, req->member_id);
        pending **pp = m ? NULL : pending_find(gr, req->member_id);
        if (!m && !pp) {
            join_fail(w, TN_KE_UNKNOWN_MEMBER_ID, req->member_id);
        } else if (!protocols_fit(gr, m, req)) {
            join_fail(w, TN_KE_INCONSISTENT_GROUP_PROTOCOL, req->member_id);
        } else if (m) {
            join_known(g, gr, m, req, w, now_ms);
        } else {
            /* The pending entry's id is the one to keep; the request's
             * copy is the caller's. */
            own id = (*pp)->id;
            (*pp)->id = (own){NULL, -1};
            pending_remove(pp);
            join_new(g, gr, ks(id), req, w, now_ms);
            own_free(&id);
        }
        return;
    }
    if (!protocols_fit(gr, NULL, req)) {
        join_fail(w, TN_KE_INCONSISTENT_GROUP_PROTOCOL, req->member_id);
        return;
    }
    if (gr->nmembers + npending(gr) >= c->max_group_size) {
        join_fail(w, TN_KE_GROUP_MAX_SIZE_REACHED, req->member_id);
        return;
    }
    char idbuf[MEMBER_ID_MAX];
    new_member_id(g, req->group_instance_id, idbuf, sizeof idbuf);
    tn_kstr id = {idbuf, (int32_t)strlen(idbuf)};
    if (!req->require_known_member_id) {
        join_new(g, gr, id, req, w, now_ms);
        return;
    }
    /* KIP-394: hand out the id first, so a client that never gets the
     * answer leaves no member behind. */
    pending *p = calloc(1, sizeof *p);
    if (!p || !own_set(&p->id, id)) {
        free(p);
        join_fail(w, TN_KE_UNKNOWN_SERVER_ERROR, req->member_id);
        return;
    }
    p->deadline = now_ms + req->session_timeout_ms;
    p->next = gr->pending;
    gr->pending = p;
    join_fail(w, TN_KE_MEMBER_ID_REQUIRED, id);
}

/* Copies the leader's assignments into one block; 0 on allocation failure. */
static int store_assignments(group *gr, const tn_sync_req *req)
{
    size_t total = 1;
    for (int32_t i = 0; i < req->nassignments; i++)
        if (req->assignments[i].assignment.len > 0)
            total += (size_t)req->assignments[i].assignment.len;
    char *block = malloc(total);
    if (!block)
        return 0;
    clear_assignments(gr);
    gr->assign_block = block;
    size_t off = 0;
    for (int32_t i = 0; i < req->nassignments; i++) {
        const tn_sync_assignment *a = &req->assignments[i];
        member *m = member_find(gr, a->member_id);
        if (!m)
            continue;
        int32_t len = a->assignment.len > 0 ? a->assignment.len : 0;
        if (len)
            memcpy(block + off, a->assignment.p, (size_t)len);
        m->assignment = (tn_kstr){block + off, len};
        off += (size_t)len;
    }
    return 1;
}

void tn_group_sync(tn_groups *g, const tn_sync_req *req, tn_group_waiter *w, int64_t now_ms)
{
    w->next = NULL;
    w->group = NULL;
    if (req->group_id.len <= 0) {
        sync_fail(w, TN_KE_INVALID_GROUP_ID);
        return;
    }
    group *gr = group_find(g, req->group_id);
    member *m = gr ? member_find(gr, req->member_id) : NULL;
    if (!m) {
        sync_fail(w, TN_KE_UNKNOWN_MEMBER_ID);
        return;
    }
    if (req->generation_id != gr->generation) {
        sync_fail(w, TN_KE_ILLEGAL_GENERATION);
        return;
    }
    m->seen_ms = now_ms;
    if (gr->state == ST_PREPARING) {
        sync_fail(w, TN_KE_REBALANCE_IN_PROGRESS);
        return;
    }
    if (gr->state == ST_STABLE) {
        sync_answer(gr, m, w);
        return;
    }
    /* AWAITING_SYNC: a retried sync replaces the one still waiting. */
    fail_sync_of(m, TN_KE_REBALANCE_IN_PROGRESS);
    if (m != gr->leader) {
        m->sync_w = w;
        w->group = gr;
        return;
    }
    if (!store_assignments(gr, req)) {
        sync_fail(w, TN_KE_UNKNOWN_SERVER_ERROR);
        return;
    }
    m->sync_w = w;
    gr->state = ST_STABLE;
    tn_trace(TERN_TRACE_BROKER, "group %s: stable at generation %" PRId32, gr->id.p,
             gr->generation);
    for (member *x = gr->members; x; x = x->next) {
        tn_group_waiter *xw = x->sync_w;
        if (xw) {
            x->sync_w = NULL;
            x->seen_ms = now_ms;
            sync_answer(gr, x, xw);
        }
    }
}

int16_t tn_group_heartbeat(tn_groups *g, tn_kstr group_id, int32_t generation_id, tn_kstr member_id,
                           int64_t now_ms)
{
    if (group_id.len <= 0)
        return TN_KE_INVALID_GROUP_ID;
    group *gr = group_find(g, group_id);
    member *m = gr ? member_find(gr, member_id) : NULL;
    if (!m)
        return TN_KE_UNKNOWN_MEMBER_ID;
    if (generation_id != gr->generation)
        return TN_KE_ILLEGAL_GENERATION;
    m->seen_ms = now_ms;
    return gr->state == ST_PREPARING ? TN_KE_REBALANCE_IN_PROGRESS : TN_KE_NONE;
}

int16_t tn_group_leave(tn_groups *g, tn_kstr group_id, tn_kstr member_id, int64_t now_ms)
{
    if (group_id.len <= 0)
        return TN_KE_INVALID_GROUP_ID;
    group *gr = group_find(g, group_id);
    if (!gr)
        return TN_KE_UNKNOWN_MEMBER_ID;
    pending **pp = pending_find(gr, member_id);
    if (pp) {
        pending_remove(pp);
        try_complete(g, gr, now_ms);
        return TN_KE_NONE;
    }
    member **mp = &gr->members;
    while (*mp && !ks_eq(ks((*mp)->id), member_id))
        mp = &(*mp)->next;
    if (!*mp)
        return TN_KE_UNKNOWN_MEMBER_ID;
    member_remove(gr, mp);
    after_removal(g, gr, now_ms, "a member left");
    return TN_KE_NONE;
}

void tn_group_forget(tn_groups *g, tn_group_waiter *w)
{
    (void)g;
    group *gr = w->group;
    if (!gr)
        return;
    for (member *m = gr->members; m; m = m->next) {
        if (m->join_w == w)
            m->join_w = NULL;
        if (m->sync_w == w)
            m->sync_w = NULL;
    }
    w->group = NULL;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Expires one group's pending ids and sessions, completes its rebalance
 * if due; returns when it next needs a tick. */
static int64_t group_tick(tn_groups *g, group *gr, int64_t now)
{
    for (pending **pp = &gr->pending; *pp;) {
        if ((*pp)->deadline <= now)
            pending_remove(pp);
        else
            pp = &(*pp)->next;
    }
    int expired = 0;
    for (member **mp = &gr->members; *mp;) {
        member *m = *mp;
        /* A member waiting on the coordinator cannot heartbeat. */
        if (!m->join_w && !m->sync_w && m->seen_ms + m->session_ms <= now) {
            tn_trace(TERN_TRACE_BROKER, "group %s: session of %s expired", gr->id.p, m->id.p);
            member_remove(gr, mp);
            expired = 1;
        } else {
            mp = &m->next;
        }
    }
    if (expired)
        after_removal(g, gr, now, "a session expired");
    /* A rebalance whose timeout passed, or whose last pending id expired. */
    try_complete(g, gr, now);

    int64_t next = INT64_MAX;
    for (pending *p = gr->pending; p; p = p->next)
        next = min64(next, p->deadline);
    for (member *m = gr->members; m; m = m->next)
        if (!m->join_w && !m->sync_w)
            next = min64(next, m->seen_ms + m->session_ms);
    if (gr->state == ST_PREPARING)
        next = min64(next, all_joined(gr) ? gr->delay_until : rebalance_deadline(gr));
    return next;
}

static void group_free(group *gr)
{
    for (member *m = gr->members, *next; m; m = next) {
        next = m->next;
        member_free(m);
    }
    while (gr->pending)
        pending_remove(&gr->pending);
    own_free(&gr->id);
    own_free(&gr->ptype);
    own_free(&gr->protocol);
    free(gr->assign_block);
    free(gr);
}

int64_t tn_group_tick(tn_groups *g, int64_t now_ms)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < g->cap; i++) {
        for (group **pp = &g->tab[i]; *pp;) {
            group *gr = *pp;
            next = min64(next, group_tick(g, gr, now_ms));
            /* Nothing left to remember: drop it (Kafka's Dead). */
            if (gr->state == ST_EMPTY && !gr->pending &&
                !tn_offsets_has_group(g->offsets, ks(gr->id))) {
                *pp = gr->hnext;
                g->n--;
                group_free(gr);
            } else {
                pp = &gr->hnext;
            }
        }
    }
    return next;
}

int16_t tn_group_commit(tn_groups *g, tn_kstr group_id, int32_t generation_id, tn_kstr member_id,
                        tn_offset_commit *offsets, int32_t n, int64_t now_ms)
{
    int16_t err = TN_KE_NONE;
    group *gr = group_id.len > 0 ? group_find(g, group_id) : NULL;
    if (group_id.len <= 0) {
        err = TN_KE_INVALID_GROUP_ID;
    } else if (generation_id < 0 && (!gr || gr->state == ST_EMPTY)) {
        /* A simple commit: offsets stored for a group not managed here. */
        if (!gr)
            group_new(g, group_id); /* listed as Empty; the offsets do not need it */
    } else if (!gr || (generation_id < 0 && member_id.len <= 0)) {
        err = TN_KE_ILLEGAL_GENERATION;
    } else {
        member *m = member_find(gr, member_id);
        if (!m)
            err = TN_KE_UNKNOWN_MEMBER_ID;
        else if (generation_id != gr->generation)
            err = TN_KE_ILLEGAL_GENERATION;
        else if (gr->state == ST_AWAITING_SYNC)
            err = TN_KE_REBALANCE_IN_PROGRESS;
        else
            m->seen_ms = now_ms;
        /* PREPARING still takes commits, as Kafka does: members commit
         * what they consumed before they rejoin. */
    }
    if (err != TN_KE_NONE) {
        for (int32_t i = 0; i < n; i++)
            offsets[i].error_code = err;
        return err;
    }
    int32_t limit = g->conf.max_metadata_bytes < TN_OFFSETS_MAX_STR
                        ? (int32_t)g->conf.max_metadata_bytes
                        : TN_OFFSETS_MAX_STR;
    int32_t failed = 0;
    for (int32_t i = 0; i < n; i++) {
        tn_offset_commit *o = &offsets[i];
        if (o->metadata.len > limit) {
            o->error_code = TN_KE_OFFSET_METADATA_TOO_LARGE;
        } else if (tn_offsets_stage(g->offsets, group_id, o->topic, o->partition, o->offset,
                                    o->leader_epoch, o->metadata) != TERN_OK) {
            o->error_code = TN_KE_UNKNOWN_SERVER_ERROR;
        } else {
            o->error_code = TN_KE_NONE;
            continue;
        }
        failed++;
    }
    tern_err werr = tn_offsets_write(g->offsets);
    if (werr != TERN_OK) {
        tn_trace(TERN_TRACE_BROKER, "group %.*s: storing offsets failed: %s", (int)group_id.len,
                 group_id.p, tern_errname(werr));
        for (int32_t i = 0; i < n; i++) {
            if (offsets[i].error_code == TN_KE_NONE) {
                offsets[i].error_code = TN_KE_KAFKA_STORAGE_ERROR;
                failed++;
            }
        }
    }
    return n > 0 && failed == n ? offsets[0].error_code : TN_KE_NONE;
}

int tn_group_fetch_offset(tn_groups *g, tn_kstr group_id, tn_kstr topic, int32_t partition,
                          int64_t *offset, int32_t *leader_epoch, tn_kstr *metadata)
{
    return tn_offsets_get(g->offsets, group_id, topic, partition, offset, leader_epoch, metadata);
}

void tn_group_each_offset(tn_groups *g, tn_kstr group_id,
                          void (*fn)(void *arg, tn_kstr topic, int32_t partition, int64_t offset,
                                     int32_t leader_epoch, tn_kstr metadata),
                          void *arg)
{
    tn_offsets_each(g->offsets, group_id, fn, arg);
}

void tn_groups_drop_topic(tn_groups *g, tn_kstr topic)
{
    tern_err err = tn_offsets_drop_topic(g->offsets, topic);
    if (err != TERN_OK)
        tn_trace(TERN_TRACE_BROKER, "offsets of deleted topic %.*s: %s", (int)topic.len, topic.p,
                 tern_errname(err));
}

/* A string for the read-only views: never null. */
static tn_kstr view(own o)
{
    return o.len < 0 ? (tn_kstr){empty_bytes, 0} : ks(o);
}

static void group_info(const group *gr, tn_group_info *info)
{
    int chosen = gr->state == ST_AWAITING_SYNC || gr->state == ST_STABLE;
    *info =
        (tn_group_info){.group_id = ks(gr->id),
                        .state = state_names[gr->state],
                        .protocol_type = view(gr->ptype),
                        .protocol_name = chosen ? view(gr->protocol) : (tn_kstr){empty_bytes, 0},
                        .generation_id = gr->generation,
                        .nmembers = gr->nmembers};
}

void tn_groups_each(tn_groups *g, void (*fn)(void *arg, const tn_group_info *info), void *arg)
{
    for (size_t i = 0; i < g->cap; i++) {
        for (group *gr = g->tab[i]; gr; gr = gr->hnext) {
            tn_group_info info;
            group_info(gr, &info);
            fn(arg, &info);
        }
    }
}

int tn_group_describe(tn_groups *g, tn_kstr group_id, tn_group_info *info)
{
    group *gr = group_find(g, group_id);
    if (!gr)
        return 0;
    group_info(gr, info);
    return 1;
}

void tn_group_each_member(tn_groups *g, tn_kstr group_id,
                          void (*fn)(void *arg, const tn_group_member_info *m), void *arg)
{
    group *gr = group_find(g, group_id);
    if (!gr)
        return;
    int chosen = gr->state == ST_AWAITING_SYNC || gr->state == ST_STABLE;
    for (member *m = gr->members; m; m = m->next) {
        const proto *p = chosen ? member_proto(m, ks(gr->protocol)) : NULL;
        tn_group_member_info mi = {.member_id = ks(m->id),
                                   .group_instance_id = ks(m->instance),
                                   .client_id = view(m->client_id),
                                   .client_host = view(m->client_host),
                                   .metadata = p ? view(p->meta) : (tn_kstr){empty_bytes, 0},
                                   .assignment = m->assignment};
        fn(arg, &mi);
    }
}

const char *tn_group_state(tn_groups *g, tn_kstr group_id, int32_t *generation_id, int32_t *members)
{
    group *gr = group_find(g, group_id);
    if (!gr)
        return NULL;
    if (generation_id)
        *generation_id = gr->generation;
    if (members)
        *members = gr->nmembers;
    return state_names[gr->state];
}

tern_err tn_groups_open(const tn_disk *disk, const char *dir, const tn_groups_conf *conf,
                        tn_groups **out)
{
    *out = NULL;
    tn_groups *g = calloc(1, sizeof *g);
    if (!g)
        return TERN_ENOMEM;
    if (conf)
        g->conf = *conf;
    else
        tn_groups_conf_default(&g->conf);
    uint64_t rnd[3];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        free(g);
        return TERN_ESYSTEM;
    }
    g->seed = rnd[0];
    g->key[0] = rnd[1];
    g->key[1] = rnd[2];
    tern_err err = tn_offsets_open(disk, dir, g->conf.sync_commits, &g->offsets);
    if (err != TERN_OK) {
        free(g);
        return err;
    }
    *out = g;
    return TERN_OK;
}

void tn_groups_close(tn_groups *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->cap; i++) {
        for (group *gr = g->tab[i], *next; gr; gr = next) {
            next = gr->hnext;
            group_free(gr);
        }
    }
    free(g->tab);
    free(g->scratch);
    tn_offsets_close(g->offsets);
    free(g);
}
