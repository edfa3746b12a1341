/* Consumer group membership: finding the coordinator, joining, the
 * leader's assignment, syncing, heartbeats, commits, offsets, leaving
 * (the state diagram is in consumer.h). */
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"
#include "kclient/assign.h"
#include "kclient/consumer.h"
#include "kclient/cproto.h"
#include "kclient/kerr.h"
#include "kclient/proto_util.h"

#define NS_PER_MS 1000000ull

static const char *other_assignor(const char *name)
{
    return strcmp(name, "range") == 0 ? "roundrobin" : "range";
}

static void close_coord(tern_kafka_consumer *c)
{
    tn_kc_conn_close(c->g.coord);
    c->g.coord = NULL;
}

/* A coordinator request failed at the connection: say so, drop it, and
 * come back after a pause. */
static tern_err coord_failed(tern_kafka_consumer *c, tern_err err)
{
    tn_kc_fail(c->k, err, "group %s: coordinator %s: %s", c->group, c->g.coord->addr,
               c->g.coord->err);
    close_coord(c);
    c->g.retry_ns = tern_clock_ns() + TN_KC_BACKOFF_MS * NS_PER_MS;
    return err;
}

static bool transient(tern_err err)
{
    return err == TERN_EUNAVAILABLE || err == TERN_ECONNREFUSED || err == TERN_ETIMEDOUT ||
           err == TERN_EAGAIN || err == TERN_EADDRINVAL || err == TERN_EHOSTUNREACH;
}

static void set_member(tern_kafka_consumer *c, tn_kstr id)
{
    char *s = strndup(id.len > 0 ? id.p : "", id.len > 0 ? (size_t)id.len : 0);
    if (s == NULL)
        return; /* keeps the old id: the coordinator asks again */
    free(c->g.member_id);
    c->g.member_id = s;
}

/* Waits until the pause after a failure is over, or deadline. */
static bool wait_retry(tern_kafka_consumer *c, uint64_t deadline)
{
    while (tern_clock_ns() < c->g.retry_ns) {
        if (tn_kc_expired(deadline))
            return false;
        tn_kc_backoff(c->g.retry_ns < deadline ? c->g.retry_ns : deadline);
    }
    return true;
}

/* One FindCoordinator and a connection to the answer. */
static tern_err find_once(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_kafka *k = c->k;
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_FIND_COORDINATOR, TN_KC_V_FIND_COORDINATOR, k->client_id);
    tn_kc_enc_find_coordinator(&w, c->group);
    tn_kc_req_end(&w);
    tn_kc_conn *conn;
    tn_kr r;
    tern_err err = tn_kc_any_conn(k, deadline, &conn);
    if (err == TERN_OK)
        err = tn_kc_call(k, conn, &w, deadline, &r);
    tn_kw_free(&w);
    if (err != TERN_OK)
        return err;
    tn_kc_coord co;
    if (tn_kc_dec_find_coordinator(&r, &co) != TERN_OK || (co.error == 0 && co.host.len <= 0))
        return tn_kc_fail(k, TERN_EPROTO, "broker %s: malformed FindCoordinator response",
                          conn->addr);
    if (co.error != 0) {
        tn_kc_fail(k, tn_kc_err_map(co.error), "group %s: no coordinator: %s", c->group,
                   tern_kafka_error_name(co.error));
        return tn_kc_err_coordinator(co.error) ? TERN_EUNAVAILABLE : tn_kc_err_map(co.error);
    }
    if (co.port <= 0 || co.port > 65535 || co.host.len >= TN_KC_ADDR_MAX)
        return tn_kc_fail(k, TERN_EPROTO, "group %s: coordinator at a bad address", c->group);
    char host[TN_KC_ADDR_MAX];
    memcpy(host, co.host.p, (size_t)co.host.len);
    host[co.host.len] = '\0';
    char why[TN_KC_ERR_MAX];
    err = tn_kc_conn_open(host, (uint16_t)co.port, k->client_id, deadline, &c->g.coord, why);
    if (err != TERN_OK)
        return tn_kc_fail(k, err, "group %s: cannot reach coordinator %s:%ld: %s", c->group, host,
                          (long)co.port, why);
    tn_trace(TERN_TRACE_BROKER, "kafka client: group %s coordinator is node %ld at %s", c->group,
             (long)co.node, c->g.coord->addr);
    return TERN_OK;
}

/* The coordinator's connection, looked for until deadline. */
static tern_err ensure_coord(tern_kafka_consumer *c, uint64_t deadline)
{
    for (;;) {
        if (c->g.coord)
            return TERN_OK;
        if (!wait_retry(c, deadline))
            return tn_kc_fail(c->k, TERN_ETIMEDOUT, "group %s: no coordinator in time", c->group);
        tern_err err = find_once(c, deadline);
        if (err == TERN_OK)
            return TERN_OK;
        if (!transient(err) || tn_kc_expired(deadline))
            return err;
        c->g.retry_ns = tern_clock_ns() + TN_KC_BACKOFF_MS * NS_PER_MS;
    }
}

/* A blocking request to the coordinator. */
static tern_err coord_call(tern_kafka_consumer *c, tn_kw *w, uint64_t deadline, tn_kr *r)
{
    tern_err err = ensure_coord(c, deadline);
    if (err != TERN_OK)
        return err;
    if (w->err)
        return tn_kc_fail(c->k, TERN_ENOMEM, "cannot build the request");
    int16_t api = (int16_t)(w->p[4] << 8 | w->p[5]);
    int16_t version = (int16_t)(w->p[6] << 8 | w->p[7]);
    err = tn_kc_conn_supports(c->g.coord, api, version);
    if (err == TERN_OK)
        err = tn_kc_conn_send(c->g.coord, w, TN_KC_MAX_RESPONSE, deadline);
    if (err == TERN_OK)
        err = tn_kc_conn_recv(c->g.coord, deadline, r);
    return err == TERN_OK ? TERN_OK : coord_failed(c, err);
}

/* ---- commits and committed offsets ---------------------------------------- */

tern_err tn_kc_group_commit(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_kafka *k = c->k;
    if (c->group == NULL)
        return tn_kc_fail(k, TERN_EINVAL, "committing needs a group");
    /* A member owns its partitions only while the group is stable. */
    bool member = c->nsubs > 0;
    if (member && c->g.state != TN_KG_STABLE)
        return TERN_OK;
    tn_kc_preq *q = malloc((c->ntps ? c->ntps : 1) * sizeof *q);
    if (q == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->ntps; i++) {
        const tn_kc_tp *t = &c->tps[i];
        if (t->position >= 0 && t->position != t->committed)
            q[n++] =
                (tn_kc_preq){.topic = t->topic, .partition = t->partition, .value = t->position};
    }
    tern_err err = TERN_OK;
    for (int attempt = 0; n > 0 && attempt < 3; attempt++) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_OFFSET_COMMIT, TN_KC_V_OFFSET_COMMIT, k->client_id);
        tn_kc_enc_offset_commit(&w, c->group, member ? c->g.generation : -1,
                                member ? c->g.member_id : "", q, n);
        tn_kc_req_end(&w);
        tn_kr r;
        err = coord_call(c, &w, deadline, &r);
        tn_kw_free(&w);
        if (err != TERN_OK)
            break;
        tn_kc_pres *res;
        size_t nres;
        if (tn_kc_dec_offset_commit(&r, n, &res, &nres) != TERN_OK) {
            err = coord_failed(c, TERN_EPROTO);
            break;
        }
        int16_t bad = 0;
        for (size_t j = 0; j < nres; j++) {
            for (size_t i = 0; i < c->ntps; i++) {
                tn_kc_tp *t = &c->tps[i];
                if (t->partition != res[j].partition || !tn_kc_kstr_eq(res[j].topic, t->topic))
                    continue;
                if (res[j].error == 0) {
                    for (size_t x = 0; x < n; x++) {
                        if (q[x].partition == t->partition && strcmp(q[x].topic, t->topic) == 0)
                            t->committed = q[x].value;
                    }
                } else if (bad == 0) {
                    bad = res[j].error;
                }
            }
        }
        free(res);
        if (bad == 0)
            break;
        err = tn_kc_fail(k, tn_kc_err_map(bad), "group %s: commit refused: %s", c->group,
                         tern_kafka_error_name(bad));
        if (!tn_kc_err_coordinator(bad))
            break;
        close_coord(c);
    }
    free(q);
    return err;
}

tern_err tn_kc_group_committed(tern_kafka_consumer *c, const size_t *idx, size_t n,
                               uint64_t deadline)
{
    tern_kafka *k = c->k;
    tn_kc_preq *q = malloc((n ? n : 1) * sizeof *q);
    if (q == NULL)
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        q[i] = (tn_kc_preq){.topic = c->tps[idx[i]].topic, .partition = c->tps[idx[i]].partition};
    tern_err err;
    for (;;) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_OFFSET_FETCH, TN_KC_V_OFFSET_FETCH, k->client_id);
        tn_kc_enc_offset_fetch(&w, c->group, q, n);
        tn_kc_req_end(&w);
        tn_kr r;
        err = coord_call(c, &w, deadline, &r);
        tn_kw_free(&w);
        if (err != TERN_OK)
            break;
        tn_kc_pres *res;
        size_t nres;
        int16_t top;
        if (tn_kc_dec_offset_fetch(&r, n, &top, &res, &nres) != TERN_OK) {
            err = coord_failed(c, TERN_EPROTO);
            break;
        }
        for (size_t j = 0; j < nres && top == 0; j++) {
            for (size_t i = 0; i < n; i++) {
                tn_kc_tp *t = &c->tps[idx[i]];
                if (t->partition != res[j].partition || !tn_kc_kstr_eq(res[j].topic, t->topic))
                    continue;
                if (res[j].error != 0)
                    top = res[j].error;
                else
                    t->committed = res[j].offset >= 0 ? res[j].offset : -1;
            }
        }
        free(res);
        if (top == 0)
            break;
        err = tn_kc_fail(k, tn_kc_err_map(top), "group %s: cannot read committed offsets: %s",
                         c->group, tern_kafka_error_name(top));
        bool again = tn_kc_err_coordinator(top) || top == TN_KE_UNSTABLE_OFFSET_COMMIT;
        if (!again || tn_kc_expired(deadline))
            break;
        if (top != TN_KE_COORDINATOR_LOAD_IN_PROGRESS && top != TN_KE_UNSTABLE_OFFSET_COMMIT)
            close_coord(c);
        tn_kc_backoff(deadline);
    }
    free(q);
    return err;
}

/* ---- joining ------------------------------------------------------------- */

/* Gives up the partitions, after committing them if asked, and joins
 * again. */
static void rejoin(tern_kafka_consumer *c, bool commit, const char *why)
{
    tn_trace(TERN_TRACE_BROKER, "kafka client: group %s: rejoining (%s)", c->group, why);
    if (commit && c->g.state == TN_KG_STABLE)
        (void)tn_kc_group_commit(c, tn_kc_deadline(c->k));
    tn_kc_consumer_revoke(c);
    c->g.state = TN_KG_JOIN;
}

static tern_err send_held(tern_kafka_consumer *c, tn_kw *w, uint64_t deadline, tn_kc_gstate next)
{
    if (w->err)
        return tn_kc_fail(c->k, TERN_ENOMEM, "cannot build the request");
    int16_t api = (int16_t)(w->p[4] << 8 | w->p[5]);
    int16_t version = (int16_t)(w->p[6] << 8 | w->p[7]);
    tern_err err = tn_kc_conn_supports(c->g.coord, api, version);
    if (err == TERN_OK)
        err = tn_kc_conn_send(c->g.coord, w, TN_KC_MAX_RESPONSE, deadline);
    if (err != TERN_OK)
        return coord_failed(c, err);
    c->g.state = next;
    c->g.sent_ns = tern_clock_ns();
    return TERN_OK;
}

static tern_err send_join(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_kafka *k = c->k;
    tn_kw meta;
    tn_kw_init(&meta, 0);
    tn_kc_enc_subscription(&meta, (const char *const *)c->subs, c->nsubs);
    tn_kc_protocol protos[2] = {
        {c->assignor, meta.p, meta.n},
        {other_assignor(c->assignor), meta.p, meta.n},
    };
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_JOIN_GROUP, TN_KC_V_JOIN_GROUP, k->client_id);
    tn_kc_enc_join(&w, c->group, c->o.session_timeout_ms, c->o.rebalance_timeout_ms, c->g.member_id,
                   protos, 2);
    tn_kc_req_end(&w);
    if (meta.err)
        w.err = 1;
    tern_err err = send_held(c, &w, deadline, TN_KG_JOINING);
    tn_kw_free(&w);
    tn_kw_free(&meta);
    return err;
}

static int kstr_ptr_cmp(const void *a, const void *b)
{
    const tn_kstr *x = *(const tn_kstr *const *)a, *y = *(const tn_kstr *const *)b;
    size_t lx = (size_t)x->len, ly = (size_t)y->len;
    int c = memcmp(x->p, y->p, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

/* The subscribed topics of every member, once each, as C strings
 * (sorted, then deduplicated: a big group costs n log n). */
static tern_err topic_union(const tn_kc_member *m, size_t n, tn_kc_topic_count **out, size_t *nout)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (size_t)m[i].ntopics;
    const tn_kstr **all = malloc((total ? total : 1) * sizeof *all);
    tn_kc_topic_count *t = calloc(total ? total : 1, sizeof *t);
    if (all == NULL || t == NULL) {
        free((void *)all);
        free(t);
        return TERN_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < m[i].ntopics; j++)
            all[k++] = &m[i].topics[j];
    }
    qsort((void *)all, total, sizeof *all, kstr_ptr_cmp);
    size_t count = 0;
    for (size_t i = 0; i < total; i++) {
        if (i > 0 && kstr_ptr_cmp(&all[i - 1], &all[i]) == 0)
            continue;
        t[count].name = strndup(all[i]->p, (size_t)all[i]->len);
        if (t[count].name == NULL) {
            for (size_t x = 0; x < count; x++)
                free((char *)t[x].name);
            free((void *)all);
            free(t);
            return TERN_ENOMEM;
        }
        count++;
    }
    free((void *)all);
    *out = t;
    *nout = count;
    return TERN_OK;
}

/* The leader's part: every member's share, encoded into as[i]. */
static tern_err lead(tern_kafka_consumer *c, const tn_kc_join *j, const char *protocol,
                     uint64_t deadline, tn_kc_sync_assignment *as, tn_kw *bufs)
{
    tern_kafka *k = c->k;
    size_t n = (size_t)j->nmembers;
    tn_kc_member *m = calloc(n, sizeof *m);
    tn_kc_share *shares = calloc(n, sizeof *shares);
    tn_kc_topic_count *topics = NULL;
    size_t ntopics = 0;
    tern_err err = m && shares ? TERN_OK : TERN_ENOMEM;
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        m[i].id = j->members[i].id;
        m[i].instance = j->members[i].instance;
        /* A member whose subscription does not decode subscribes to nothing. */
        if (tn_kc_dec_subscription((const uint8_t *)j->members[i].meta.p,
                                   (size_t)j->members[i].meta.len, &m[i].topics,
                                   &m[i].ntopics) != TERN_OK) {
            m[i].topics = NULL;
            m[i].ntopics = 0;
        }
    }
    if (err == TERN_OK)
        err = topic_union(m, n, &topics, &ntopics);
    if (err == TERN_OK && ntopics > 0) {
        err = tn_kc_refresh(k, (const char *const *)topics, ntopics, false, false, deadline, NULL,
                            NULL);
        for (size_t i = 0; err == TERN_OK && i < ntopics; i++) {
            tn_kc_topic *t = tn_kc_topic_find(k, topics[i].name);
            topics[i].partitions = t && t->error == 0 ? t->npart : 0;
        }
    }
    if (err == TERN_OK)
        err = tn_kc_assign(protocol, m, n, topics, ntopics, shares);
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        tn_kw_init(&bufs[i], 0);
        tn_kc_enc_assignment(&bufs[i], shares[i].parts, shares[i].n);
        if (bufs[i].err)
            err = TERN_ENOMEM;
        as[i].member_id = NULL; /* set by the caller, which owns the ids */
        as[i].data = bufs[i].p;
        as[i].len = bufs[i].n;
        tn_trace(TERN_TRACE_BROKER, "kafka client: group %s: member %.*s gets %zu partitions",
                 c->group, (int)m[i].id.len, m[i].id.p, shares[i].n);
    }
    if (shares)
        tn_kc_shares_free(shares, n);
    for (size_t i = 0; m && i < n; i++)
        free(m[i].topics);
    for (size_t i = 0; i < ntopics; i++)
        free((char *)topics[i].name);
    free(topics);
    free(m);
    free(shares);
    if (err == TERN_ENOMEM)
        tn_kc_fail(k, err, "out of memory");
    else if (err == TERN_ENOTSUP)
        tn_kc_fail(k, err, "group %s: the coordinator chose assignor '%s', which tern lacks",
                   c->group, protocol);
    return err;
}

/* Sends SyncGroup: the leader with everyone's share, the others empty. */
static tern_err send_sync(tern_kafka_consumer *c, const tn_kc_join *j, uint64_t deadline)
{
    tern_kafka *k = c->k;
    bool leader = j->leader.len >= 0 && tn_kc_kstr_eq(j->leader, c->g.member_id);
    size_t n = leader ? (size_t)j->nmembers : 0;
    tn_kc_sync_assignment *as = calloc(n ? n : 1, sizeof *as);
    tn_kw *bufs = calloc(n ? n : 1, sizeof *bufs);
    char **ids = calloc(n ? n : 1, sizeof *ids);
    char protocol[32];
    tern_err err = as && bufs && ids ? TERN_OK : tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    if (err == TERN_OK && leader) {
        if (j->protocol.len <= 0 || (size_t)j->protocol.len >= sizeof protocol) {
            err = tn_kc_fail(k, TERN_ENOTSUP, "group %s: no assignor chosen", c->group);
        } else {
            memcpy(protocol, j->protocol.p, (size_t)j->protocol.len);
            protocol[j->protocol.len] = '\0';
            err = lead(c, j, protocol, deadline, as, bufs);
        }
    }
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        ids[i] = strndup(j->members[i].id.p, (size_t)j->members[i].id.len);
        if (ids[i] == NULL)
            err = tn_kc_fail(k, TERN_ENOMEM, "out of memory");
        as[i].member_id = ids[i];
    }
    if (err == TERN_OK) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_SYNC_GROUP, TN_KC_V_SYNC_GROUP, k->client_id);
        tn_kc_enc_sync(&w, c->group, c->g.generation, c->g.member_id, as, n);
        tn_kc_req_end(&w);
        err = send_held(c, &w, deadline, TN_KG_SYNCING);
        tn_kw_free(&w);
    }
    for (size_t i = 0; bufs && ids && i < n; i++) {
        tn_kw_free(&bufs[i]);
        free(ids[i]);
    }
    free(as);
    free(bufs);
    free((void *)ids);
    return err;
}

/* What a JoinGroup or SyncGroup error means for the membership; TERN_OK
 * when it only asks to join again. */
static tern_err on_group_error(tern_kafka_consumer *c, int16_t code, const char *api)
{
    if (code == TN_KE_UNKNOWN_MEMBER_ID) {
        set_member(c, (tn_kstr){"", 0});
        rejoin(c, false, "unknown member");
        return TERN_OK;
    }
    if (code == TN_KE_REBALANCE_IN_PROGRESS || code == TN_KE_ILLEGAL_GENERATION) {
        rejoin(c, false, tern_kafka_error_name(code));
        return TERN_OK;
    }
    if (tn_kc_err_coordinator(code)) {
        close_coord(c);
        c->g.retry_ns = tern_clock_ns() + TN_KC_BACKOFF_MS * NS_PER_MS;
        rejoin(c, false, tern_kafka_error_name(code));
        return TERN_OK;
    }
    return tn_kc_fail(c->k, tn_kc_err_map(code), "group %s: %s refused: %s", c->group, api,
                      tern_kafka_error_name(code));
}

static tern_err on_join(tern_kafka_consumer *c, tn_kr *r, uint64_t deadline)
{
    tn_kc_join j;
    if (tn_kc_dec_join(r, &j) != TERN_OK) {
        c->g.state = TN_KG_JOIN;
        return coord_failed(c, TERN_EPROTO);
    }
    tern_err err = TERN_OK;
    if (j.error == TN_KE_MEMBER_ID_REQUIRED) {
        /* KIP-394: join again with the id the coordinator chose. */
        set_member(c, j.member_id);
        c->g.state = TN_KG_JOIN;
    } else if (j.error != 0) {
        err = on_group_error(c, j.error, "JoinGroup");
    } else {
        set_member(c, j.member_id);
        c->g.generation = j.generation;
        tn_trace(TERN_TRACE_BROKER, "kafka client: group %s generation %ld, member %s%s", c->group,
                 (long)j.generation, c->g.member_id,
                 tn_kc_kstr_eq(j.leader, c->g.member_id) ? " (leader)" : "");
        err = send_sync(c, &j, deadline);
        if (transient(err)) {
            c->g.state = TN_KG_JOIN;
            err = TERN_OK;
        }
    }
    tn_kc_join_free(&j);
    return err;
}

static tern_err on_sync(tern_kafka_consumer *c, tn_kr *r)
{
    int16_t code;
    tn_kstr data;
    if (tn_kc_dec_sync(r, &code, &data) != TERN_OK) {
        c->g.state = TN_KG_JOIN;
        return coord_failed(c, TERN_EPROTO);
    }
    if (code != 0)
        return on_group_error(c, code, "SyncGroup");
    tn_kc_pres *parts;
    size_t n;
    tern_err err = tn_kc_dec_assignment((const uint8_t *)data.p,
                                        data.len > 0 ? (size_t)data.len : 0, &parts, &n);
    if (err != TERN_OK)
        return tn_kc_fail(c->k, err, "group %s: the leader's assignment does not decode", c->group);
    tn_kc_preq *q = malloc((n ? n : 1) * sizeof *q);
    char **names = calloc(n ? n : 1, sizeof *names);
    err = q && names ? TERN_OK : TERN_ENOMEM;
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        names[i] = strndup(parts[i].topic.p, (size_t)parts[i].topic.len);
        q[i] = (tn_kc_preq){.topic = names[i], .partition = parts[i].partition};
        if (names[i] == NULL)
            err = TERN_ENOMEM;
    }
    if (err == TERN_OK)
        err = tn_kc_consumer_set(c, q, n, TERN_KAFKA_COMMITTED);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free((void *)names);
    free(q);
    free(parts);
    if (err != TERN_OK)
        return tn_kc_fail(c->k, err, "out of memory");
    c->g.state = TN_KG_STABLE;
    c->g.heartbeat_ns = tern_clock_ns() + (uint64_t)c->o.heartbeat_interval_ms * NS_PER_MS;
    tn_trace(TERN_TRACE_BROKER, "kafka client: group %s: assigned %zu partitions", c->group, n);
    return TERN_OK;
}

static tern_err heartbeat(tern_kafka_consumer *c)
{
    tern_kafka *k = c->k;
    uint64_t limit = (uint64_t)c->o.session_timeout_ms * NS_PER_MS;
    uint64_t deadline =
        tern_clock_ns() +
        ((uint64_t)k->timeout_ms * NS_PER_MS < limit ? (uint64_t)k->timeout_ms * NS_PER_MS : limit);
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_HEARTBEAT, TN_KC_V_HEARTBEAT, k->client_id);
    tn_kc_enc_heartbeat(&w, c->group, c->g.generation, c->g.member_id);
    tn_kc_req_end(&w);
    tn_kr r;
    tern_err err = coord_call(c, &w, deadline, &r);
    tn_kw_free(&w);
    if (err != TERN_OK)
        return err;
    int16_t code;
    if (tn_kc_dec_heartbeat(&r, &code) != TERN_OK)
        return coord_failed(c, TERN_EPROTO);
    if (code == 0) {
        c->g.heartbeat_ns = tern_clock_ns() + (uint64_t)c->o.heartbeat_interval_ms * NS_PER_MS;
        return TERN_OK;
    }
    if (code == TN_KE_REBALANCE_IN_PROGRESS) {
        /* Eager: commit what was read, give everything up, join again. */
        rejoin(c, true, "rebalance");
        return TERN_OK;
    }
    return on_group_error(c, code, "Heartbeat");
}

uint64_t tn_kc_group_due(const tern_kafka_consumer *c)
{
    return c->g.state == TN_KG_STABLE ? c->g.heartbeat_ns : UINT64_MAX;
}

/* How long a held JoinGroup or SyncGroup may take before the coordinator
 * is taken for lost. */
static uint64_t held_limit(const tern_kafka_consumer *c)
{
    return ((uint64_t)c->o.rebalance_timeout_ms + (uint64_t)c->o.session_timeout_ms) * NS_PER_MS +
           (uint64_t)c->k->timeout_ms * NS_PER_MS;
}

tern_err tn_kc_group_step(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_err last = TERN_OK; /* the latest passing failure, reported at the deadline */
    for (;;) {
        tern_err err = TERN_OK;
        switch (c->g.state) {
        case TN_KG_IDLE:
            return tn_kc_fail(c->k, TERN_ESTATE, "not subscribed");
        case TN_KG_STABLE:
            if (tern_clock_ns() < c->g.heartbeat_ns)
                return TERN_OK;
            err = heartbeat(c);
            if (err == TERN_OK && c->g.state == TN_KG_STABLE)
                return TERN_OK;
            break;
        case TN_KG_JOIN:
            err = ensure_coord(c, deadline);
            if (err == TERN_OK)
                err = send_join(c, deadline);
            break;
        case TN_KG_JOINING:
        case TN_KG_SYNCING: {
            uint64_t limit = c->g.sent_ns + held_limit(c);
            tn_kr r;
            err = tn_kc_conn_recv(c->g.coord, deadline < limit ? deadline : limit, &r);
            if (err == TERN_ETIMEDOUT && !tn_kc_expired(limit))
                return last != TERN_OK ? last : TERN_EAGAIN;
            if (err != TERN_OK) {
                c->g.state = TN_KG_JOIN;
                err = coord_failed(c, err);
                break;
            }
            err = c->g.state == TN_KG_JOINING ? on_join(c, &r, deadline) : on_sync(c, &r);
            break;
        }
        }
        if (err != TERN_OK && !transient(err))
            return err;
        if (err != TERN_OK) {
            last = err;
            if (c->g.state == TN_KG_STABLE)
                return TERN_OK; /* a missed heartbeat: the next poll tries again */
            if (c->g.retry_ns < tern_clock_ns() + TN_KC_BACKOFF_MS * NS_PER_MS)
                c->g.retry_ns = tern_clock_ns() + TN_KC_BACKOFF_MS * NS_PER_MS;
        }
        if (tn_kc_expired(deadline))
            return last != TERN_OK ? last : TERN_EAGAIN;
        if (c->g.state == TN_KG_JOIN && !wait_retry(c, deadline))
            return last != TERN_OK ? last : TERN_EAGAIN;
    }
}

tern_err tn_kc_group_leave(tern_kafka_consumer *c, uint64_t deadline)
{
    tern_err err = TERN_OK;
    /* A held JoinGroup or SyncGroup would answer before the LeaveGroup. */
    if (c->g.state == TN_KG_JOINING || c->g.state == TN_KG_SYNCING)
        close_coord(c);
    if (c->nsubs > 0 && c->g.member_id && c->g.member_id[0] != '\0') {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_LEAVE_GROUP, TN_KC_V_LEAVE_GROUP, c->k->client_id);
        tn_kc_enc_leave(&w, c->group, c->g.member_id);
        tn_kc_req_end(&w);
        tn_kr r;
        c->g.retry_ns = 0;
        err = coord_call(c, &w, deadline, &r);
        tn_kw_free(&w);
        int16_t code = 0;
        if (err == TERN_OK && tn_kc_dec_leave(&r, &code) != TERN_OK)
            err =
                tn_kc_fail(c->k, TERN_EPROTO, "group %s: malformed LeaveGroup response", c->group);
        /* Already gone is as good as leaving. */
        if (err == TERN_OK && code != 0 && code != TN_KE_UNKNOWN_MEMBER_ID)
            err = tn_kc_fail(c->k, tn_kc_err_map(code), "group %s: LeaveGroup refused: %s",
                             c->group, tern_kafka_error_name(code));
    }
    close_coord(c);
    c->g.state = TN_KG_IDLE;
    c->g.generation = -1;
    return err;
}
