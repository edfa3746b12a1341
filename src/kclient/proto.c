/* Request framing, the partition-list helpers every topic-keyed request
 * and response shares, and the cluster-level messages: ApiVersions,
 * Metadata, ListOffsets, CreateTopics, DeleteTopics. */
#include "kclient/proto.h"

#include <stdlib.h>
#include <string.h>

#include "kclient/proto_util.h"

void tn_kc_req_begin(tn_kw *w, int16_t api, int16_t version, const char *client_id)
{
    tn_kw_i32(w, 0); /* size, patched by tn_kc_req_end */
    tn_kw_i16(w, api);
    tn_kw_i16(w, version);
    tn_kw_i32(w, 0); /* correlation id, patched by the connection */
    tn_kw_cstr(w, 0, client_id);
}

void tn_kc_req_end(tn_kw *w)
{
    if (!w->err)
        tn_kw_put_i32(w, 0, (int32_t)(w->n - 4));
}

const char *tn_kc_api_name(int16_t api)
{
    switch (api) {
    case TN_KAPI_PRODUCE:
        return "Produce";
    case TN_KAPI_FETCH:
        return "Fetch";
    case TN_KAPI_LIST_OFFSETS:
        return "ListOffsets";
    case TN_KAPI_METADATA:
        return "Metadata";
    case TN_KAPI_OFFSET_COMMIT:
        return "OffsetCommit";
    case TN_KAPI_OFFSET_FETCH:
        return "OffsetFetch";
    case TN_KAPI_FIND_COORDINATOR:
        return "FindCoordinator";
    case TN_KAPI_JOIN_GROUP:
        return "JoinGroup";
    case TN_KAPI_HEARTBEAT:
        return "Heartbeat";
    case TN_KAPI_LEAVE_GROUP:
        return "LeaveGroup";
    case TN_KAPI_SYNC_GROUP:
        return "SyncGroup";
    case TN_KAPI_API_VERSIONS:
        return "ApiVersions";
    case TN_KAPI_CREATE_TOPICS:
        return "CreateTopics";
    case TN_KAPI_DELETE_TOPICS:
        return "DeleteTopics";
    default:
        return "?";
    }
}

/* ---- partition lists ---------------------------------------------------- */

static bool seen_before(const tn_kc_preq *parts, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(parts[j].topic, parts[i].topic) == 0)
            return true;
    }
    return false;
}

void tn_kc_enc_topics(tn_kw *w, const tn_kc_preq *parts, size_t n, tn_kc_enc_part_fn *part,
                      const void *arg)
{
    size_t ntopics = 0;
    for (size_t i = 0; i < n; i++)
        ntopics += !seen_before(parts, i);
    tn_kw_array(w, 0, (int32_t)ntopics);
    for (size_t i = 0; i < n; i++) {
        if (seen_before(parts, i))
            continue;
        size_t count = 0;
        for (size_t j = i; j < n; j++)
            count += strcmp(parts[j].topic, parts[i].topic) == 0;
        tn_kw_cstr(w, 0, parts[i].topic);
        tn_kw_array(w, 0, (int32_t)count);
        for (size_t j = i; j < n; j++) {
            if (strcmp(parts[j].topic, parts[i].topic) == 0)
                part(w, &parts[j], arg);
        }
    }
}

tern_err tn_kc_dec_topics(tn_kr *r, size_t max, size_t min_part, tn_kc_dec_part_fn *part,
                          tn_kc_pres **out, size_t *n)
{
    tn_kc_pres *res = NULL;
    size_t count = 0;
    /* A topic is at least its name's length and its partition count. */
    int32_t ntopics = tn_kr_array(r, 0, 6);
    for (int32_t t = 0; t < ntopics && !r->err; t++) {
        tn_kstr topic = tn_kr_str(r, 0);
        int32_t nparts = tn_kr_array(r, 0, min_part);
        if (r->err || (size_t)nparts > max - count) {
            r->err = 1;
            break;
        }
        if (nparts == 0)
            continue;
        tn_kc_pres *grown = realloc(res, (count + (size_t)nparts) * sizeof *res);
        if (grown == NULL) {
            free(res);
            return TERN_ENOMEM;
        }
        res = grown;
        for (int32_t p = 0; p < nparts && !r->err; p++) {
            tn_kc_pres *e = &res[count++];
            memset(e, 0, sizeof *e);
            e->topic = topic;
            e->partition = tn_kr_i32(r);
            e->offset = -1;
            e->start = -1;
            e->records.len = -1;
            part(r, e);
        }
    }
    if (r->err) {
        free(res);
        return TERN_EPROTO;
    }
    *out = res;
    *n = count;
    return TERN_OK;
}

bool tn_kc_kstr_eq(tn_kstr s, const char *c)
{
    size_t len = strlen(c);
    return s.len >= 0 && (size_t)s.len == len && memcmp(s.p, c, len) == 0;
}

/* ---- ApiVersions v0 ------------------------------------------------------ */

tern_err tn_kc_dec_api_versions(tn_kr *r, int16_t *error, tn_kc_range ranges[TN_KC_NAPI])
{
    for (int i = 0; i < TN_KC_NAPI; i++)
        ranges[i].min = ranges[i].max = -1;
    *error = tn_kr_i16(r);
    int32_t n = tn_kr_array(r, 0, 6);
    for (int32_t i = 0; i < n && !r->err; i++) {
        int16_t key = tn_kr_i16(r);
        int16_t min = tn_kr_i16(r);
        int16_t max = tn_kr_i16(r);
        if (key >= 0 && key < TN_KC_NAPI && min >= 0 && min <= max) {
            ranges[key].min = min;
            ranges[key].max = max;
        }
    }
    /* Newer versions of the response add fields after these: ignore them. */
    return r->err ? TERN_EPROTO : TERN_OK;
}

/* ---- Metadata v8 --------------------------------------------------------- */

void tn_kc_enc_metadata(tn_kw *w, const char *const *topics, size_t n, bool all, bool auto_create)
{
    tn_kw_array(w, 0, all ? -1 : (int32_t)n);
    for (size_t i = 0; !all && i < n; i++)
        tn_kw_cstr(w, 0, topics[i]);
    tn_kw_i8(w, auto_create);
    tn_kw_i8(w, 0); /* include_cluster_authorized_operations */
    tn_kw_i8(w, 0); /* include_topic_authorized_operations */
}

void tn_kc_md_free(tn_kc_md *md)
{
    for (int32_t i = 0; md->topics && i < md->ntopics; i++)
        free(md->topics[i].parts);
    free(md->topics);
    free(md->brokers);
    memset(md, 0, sizeof *md);
}

/* An int32 array whose elements are not needed: its count. */
static int32_t skip_i32s(tn_kr *r)
{
    int32_t n = tn_kr_array(r, 0, 4);
    (void)tn_kr_raw(r, (size_t)n * 4);
    return n;
}

tern_err tn_kc_dec_metadata(tn_kr *r, tn_kc_md *md)
{
    memset(md, 0, sizeof *md);
    (void)tn_kr_i32(r); /* throttle_time_ms */
    /* node id, host, port, rack: at least 4 + 2 + 4 + 2 bytes */
    md->nbrokers = tn_kr_array(r, 0, 12);
    if (md->nbrokers > 0) {
        md->brokers = calloc((size_t)md->nbrokers, sizeof *md->brokers);
        if (md->brokers == NULL)
            return TERN_ENOMEM;
    }
    for (int32_t i = 0; i < md->nbrokers && !r->err; i++) {
        md->brokers[i].id = tn_kr_i32(r);
        md->brokers[i].host = tn_kr_str(r, 0);
        md->brokers[i].port = tn_kr_i32(r);
        (void)tn_kr_str(r, 0); /* rack */
    }
    (void)tn_kr_str(r, 0); /* cluster id */
    md->controller = tn_kr_i32(r);
    /* error, name, internal, partitions, authorized operations */
    md->ntopics = tn_kr_array(r, 0, 13);
    if (md->ntopics > 0 && !r->err) {
        md->topics = calloc((size_t)md->ntopics, sizeof *md->topics);
        if (md->topics == NULL) {
            tn_kc_md_free(md);
            return TERN_ENOMEM;
        }
    }
    for (int32_t i = 0; i < md->ntopics && !r->err; i++) {
        tn_kc_md_topic *t = &md->topics[i];
        t->error = tn_kr_i16(r);
        t->name = tn_kr_str(r, 0);
        t->internal = tn_kr_i8(r) != 0;
        /* error, index, leader, epoch, three arrays */
        t->nparts = tn_kr_array(r, 0, 26);
        if (t->nparts > 0 && !r->err) {
            t->parts = calloc((size_t)t->nparts, sizeof *t->parts);
            if (t->parts == NULL) {
                tn_kc_md_free(md);
                return TERN_ENOMEM;
            }
        }
        for (int32_t p = 0; p < t->nparts && !r->err; p++) {
            tn_kc_md_part *mp = &t->parts[p];
            mp->error = tn_kr_i16(r);
            mp->partition = tn_kr_i32(r);
            mp->leader = tn_kr_i32(r);
            (void)tn_kr_i32(r); /* leader epoch */
            mp->replicas = skip_i32s(r);
            mp->isr = skip_i32s(r);
            (void)skip_i32s(r); /* offline replicas */
        }
        (void)tn_kr_i32(r); /* topic authorized operations */
    }
    (void)tn_kr_i32(r); /* cluster authorized operations */
    if (r->err) {
        tn_kc_md_free(md);
        return TERN_EPROTO;
    }
    return TERN_OK;
}

/* ---- ListOffsets v5 ------------------------------------------------------ */

static void enc_list_part(tn_kw *w, const tn_kc_preq *p, const void *arg)
{
    (void)arg;
    tn_kw_i32(w, p->partition);
    tn_kw_i32(w, -1); /* current leader epoch: unknown */
    tn_kw_i64(w, p->value);
}

void tn_kc_enc_list_offsets(tn_kw *w, const tn_kc_preq *parts, size_t n)
{
    tn_kw_i32(w, -1); /* replica id: a consumer */
    tn_kw_i8(w, 0);   /* isolation level: read uncommitted */
    tn_kc_enc_topics(w, parts, n, enc_list_part, NULL);
}

static void dec_list_part(tn_kr *r, tn_kc_pres *e)
{
    e->error = tn_kr_i16(r);
    (void)tn_kr_i64(r); /* timestamp */
    e->offset = tn_kr_i64(r);
    (void)tn_kr_i32(r); /* leader epoch */
}

tern_err tn_kc_dec_list_offsets(tn_kr *r, size_t max, tn_kc_pres **out, size_t *n)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    return tn_kc_dec_topics(r, max, 22, dec_list_part, out, n);
}

/* ---- CreateTopics v4, DeleteTopics v3 ------------------------------------ */

void tn_kc_enc_create_topic(tn_kw *w, const char *topic, int32_t partitions, int16_t replication,
                            const tern_kafka_config *configs, size_t nconfigs, int32_t timeout_ms)
{
    tn_kw_array(w, 0, 1);
    tn_kw_cstr(w, 0, topic);
    tn_kw_i32(w, partitions);
    tn_kw_i16(w, replication);
    tn_kw_array(w, 0, 0); /* manual assignments */
    tn_kw_array(w, 0, (int32_t)nconfigs);
    for (size_t i = 0; i < nconfigs; i++) {
        tn_kw_cstr(w, 0, configs[i].name);
        tn_kw_cstr(w, 0, configs[i].value);
    }
    tn_kw_i32(w, timeout_ms);
    tn_kw_i8(w, 0); /* validate only */
}

tern_err tn_kc_dec_create_topic(tn_kr *r, const char *topic, int16_t *error, tn_kstr *message)
{
    bool found = false;
    (void)tn_kr_i32(r); /* throttle_time_ms */
    int32_t n = tn_kr_array(r, 0, 6);
    for (int32_t i = 0; i < n && !r->err; i++) {
        tn_kstr name = tn_kr_str(r, 0);
        int16_t code = tn_kr_i16(r);
        tn_kstr msg = tn_kr_str(r, 0);
        if (!r->err && !found && tn_kc_kstr_eq(name, topic)) {
            found = true;
            *error = code;
            *message = msg;
        }
    }
    return r->err || !found ? TERN_EPROTO : TERN_OK;
}

void tn_kc_enc_delete_topic(tn_kw *w, const char *topic, int32_t timeout_ms)
{
    tn_kw_array(w, 0, 1);
    tn_kw_cstr(w, 0, topic);
    tn_kw_i32(w, timeout_ms);
}

tern_err tn_kc_dec_delete_topic(tn_kr *r, const char *topic, int16_t *error)
{
    bool found = false;
    (void)tn_kr_i32(r); /* throttle_time_ms */
    int32_t n = tn_kr_array(r, 0, 4);
    for (int32_t i = 0; i < n && !r->err; i++) {
        tn_kstr name = tn_kr_str(r, 0);
        int16_t code = tn_kr_i16(r);
        if (!r->err && !found && tn_kc_kstr_eq(name, topic)) {
            found = true;
            *error = code;
        }
    }
    return r->err || !found ? TERN_EPROTO : TERN_OK;
}
