/* Requests about the cluster and its topics: Metadata, CreateTopics,
 * DeleteTopics, FindCoordinator, InitProducerId, and SaslHandshake (to
 * refuse SASL clearly). tern is a cluster of
 * one: node 0 leads every partition, and is its only replica. */
#include <string.h>

#include "broker/server.h"
#include "kafka/api.h"

#define NODE_ID 0
#define CLUSTER_ID "tern-0000000000000000"

static void write_broker(tn_broker_impl *b, tn_bk_req *r, int with_rack)
{
    const char *host;
    int32_t port;
    tn_bk_advertised(b, r->conn, &host, &port);
    tn_kw_i32(&r->out, NODE_ID);
    tn_kw_cstr(&r->out, 0, host);
    tn_kw_i32(&r->out, port);
    if (with_rack)
        tn_kw_str(&r->out, 0, NULL, -1);
}

static void write_topic(tn_bk_req *r, int16_t err, tn_kstr name, const tn_bk_topic *t)
{
    tn_kw *w = &r->out;
    int v = r->version;
    tn_kw_i16(w, err);
    tn_kw_str(w, 0, name.p, name.len);
    if (v >= 1)
        tn_kw_i8(w, 0); /* is_internal */
    int32_t n = t ? t->nparts : 0;
    tn_kw_array(w, 0, n);
    for (int32_t i = 0; i < n; i++) {
        tn_kw_i16(w, TN_KE_NONE);
        tn_kw_i32(w, i);
        tn_kw_i32(w, NODE_ID); /* leader */
        if (v >= 7)
            tn_kw_i32(w, 0); /* leader epoch */
        tn_kw_array(w, 0, 1);
        tn_kw_i32(w, NODE_ID); /* replicas */
        tn_kw_array(w, 0, 1);
        tn_kw_i32(w, NODE_ID); /* in-sync replicas */
        if (v >= 5)
            tn_kw_array(w, 0, 0); /* offline replicas */
    }
    if (v >= 8)
        tn_kw_i32(w, INT32_MIN); /* topic authorized operations: not computed */
}

tern_err tn_bk_api_metadata(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    /* v0: an empty array means every topic; v1+: null means every topic. */
    size_t at = in->off;
    int32_t raw = tn_kr_i32(in);
    in->off = at;
    int32_t n = tn_kr_array(in, 0, 2);
    int all = v == 0 ? n == 0 : raw < 0;
    size_t names_at = in->off;
    for (int32_t i = 0; i < n; i++)
        (void)tn_kr_str(in, 0);
    int auto_create = 1;
    if (v >= 4)
        auto_create = tn_kr_i8(in) != 0;
    if (v >= 8) {
        (void)tn_kr_i8(in);
        (void)tn_kr_i8(in);
    }
    if (!tn_kr_done(in))
        return TERN_EPROTO;

    tn_kw *w = &r->out;
    if (v >= 3)
        tn_kw_i32(w, 0); /* throttle */
    tn_kw_array(w, 0, 1);
    write_broker(b, r, v >= 1);
    if (v >= 2)
        tn_kw_cstr(w, 0, CLUSTER_ID);
    if (v >= 1)
        tn_kw_i32(w, NODE_ID); /* controller */
    if (all) {
        int32_t count = 0;
        for (tn_bk_topic *t = b->topics; t; t = t->next)
            count += !t->deleted;
        tn_kw_array(w, 0, count);
        for (tn_bk_topic *t = b->topics; t; t = t->next) {
            if (!t->deleted)
                write_topic(r, TN_KE_NONE, (tn_kstr){t->name, (int32_t)strlen(t->name)}, t);
        }
    } else {
        tn_kr names;
        tn_kr_init(&names, in->p, in->n);
        names.off = names_at;
        tn_kw_array(w, 0, n);
        for (int32_t i = 0; i < n; i++) {
            tn_kstr name = tn_kr_str(&names, 0);
            tn_bk_topic *t = tn_bk_topic_find(b, name);
            int16_t err = TN_KE_NONE;
            if (t == NULL && !tn_bk_topic_name_ok(name))
                err = TN_KE_INVALID_TOPIC_EXCEPTION;
            else if (t == NULL && auto_create && b->opts.auto_create_topics) {
                const char *why;
                /* Created at once, so unlike Kafka the first answer
                 * already has the partitions (no LEADER_NOT_AVAILABLE). */
                err = tn_bk_topic_create(b, name, b->opts.default_partitions, NULL, &t, &why);
            } else if (t == NULL)
                err = TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
            write_topic(r, err, name, err == TN_KE_NONE ? t : NULL);
        }
    }
    if (v >= 8)
        tn_kw_i32(w, INT32_MIN); /* cluster authorized operations */
    r->state = TN_REQ_READY;
    return TERN_OK;
}

tern_err tn_bk_api_create_topics(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    size_t start = in->off;
    /* First pass: validate the shape, so a malformed request changes nothing. */
    int32_t n = tn_kr_array(in, 0, 14);
    for (int32_t i = 0; i < n && !in->err; i++) {
        (void)tn_kr_str(in, 0);
        (void)tn_kr_i32(in);
        (void)tn_kr_i16(in);
        int32_t na = tn_kr_array(in, 0, 8);
        for (int32_t k = 0; k < na && !in->err; k++) {
            (void)tn_kr_i32(in);
            int32_t nb = tn_kr_array(in, 0, 4);
            (void)tn_kr_raw(in, (size_t)nb * 4);
        }
        int32_t nc = tn_kr_array(in, 0, 4);
        for (int32_t k = 0; k < nc && !in->err; k++) {
            (void)tn_kr_str(in, 0);
            (void)tn_kr_str(in, 0);
        }
    }
    (void)tn_kr_i32(in); /* timeout */
    int validate_only = v >= 1 ? tn_kr_i8(in) != 0 : 0;
    if (!tn_kr_done(in))
        return TERN_EPROTO;

    tn_kr rd;
    tn_kr_init(&rd, in->p, in->n);
    rd.off = start;
    n = tn_kr_array(&rd, 0, 14);
    tn_kw *w = &r->out;
    if (v >= 2)
        tn_kw_i32(w, 0);
    tn_kw_array(w, 0, n);
    for (int32_t i = 0; i < n; i++) {
        tn_kstr name = tn_kr_str(&rd, 0);
        int32_t nparts = tn_kr_i32(&rd);
        int16_t rf = tn_kr_i16(&rd);
        int32_t na = tn_kr_array(&rd, 0, 8);
        for (int32_t k = 0; k < na; k++) {
            (void)tn_kr_i32(&rd);
            int32_t nb = tn_kr_array(&rd, 0, 4);
            (void)tn_kr_raw(&rd, (size_t)nb * 4);
        }
        tn_log_conf conf;
        tn_bk_topic_default_conf(b, &conf);
        int16_t err = TN_KE_NONE;
        const char *why = NULL;
        int32_t nc = tn_kr_array(&rd, 0, 4);
        for (int32_t k = 0; k < nc; k++) {
            tn_kstr key = tn_kr_str(&rd, 0), val = tn_kr_str(&rd, 0);
            if (err == TN_KE_NONE && !tn_bk_topic_config(&conf, key, val)) {
                err = TN_KE_INVALID_CONFIG;
                why = "unsupported config or value (tern accepts retention.ms, retention.bytes, "
                      "segment.bytes, segment.ms, max.message.bytes, cleanup.policy=delete)";
            }
        }
        if (nparts == -1)
            nparts = b->opts.default_partitions;
        if (err == TN_KE_NONE && na > 0) {
            err = TN_KE_INVALID_REQUEST;
            why = "manual replica assignment is not supported by a one-node broker";
        }
        if (err == TN_KE_NONE && rf != -1 && rf != 1) {
            err = TN_KE_INVALID_REPLICATION_FACTOR;
            why = "replication factor must be 1: tern is a one-node cluster";
        }
        if (err == TN_KE_NONE && validate_only) {
            if (!tn_bk_topic_name_ok(name)) {
                err = TN_KE_INVALID_TOPIC_EXCEPTION;
                why = "invalid topic name";
            } else if (tn_bk_topic_find(b, name)) {
                err = TN_KE_TOPIC_ALREADY_EXISTS;
                why = "topic already exists";
            } else if (nparts < 1 || nparts > 1000) {
                err = TN_KE_INVALID_PARTITIONS;
                why = "partition count must be 1..1000";
            }
        } else if (err == TN_KE_NONE)
            err = tn_bk_topic_create(b, name, nparts, &conf, NULL, &why);
        tn_kw_str(w, 0, name.p, name.len);
        tn_kw_i16(w, err);
        if (v >= 1)
            tn_kw_cstr(w, 0, err ? why : NULL);
    }
    r->state = TN_REQ_READY;
    return TERN_OK;
}

tern_err tn_bk_api_delete_topics(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int32_t n = tn_kr_array(in, 0, 2);
    size_t at = in->off;
    for (int32_t i = 0; i < n; i++)
        (void)tn_kr_str(in, 0);
    (void)tn_kr_i32(in);
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    in->off = at;
    tn_kw *w = &r->out;
    if (r->version >= 1)
        tn_kw_i32(w, 0);
    tn_kw_array(w, 0, n);
    for (int32_t i = 0; i < n; i++) {
        tn_kstr name = tn_kr_str(in, 0);
        tn_kw_str(w, 0, name.p, name.len);
        tn_kw_i16(w, tn_bk_topic_delete(b, name));
    }
    r->state = TN_REQ_READY;
    return TERN_OK;
}

tern_err tn_bk_api_find_coordinator(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    (void)tn_kr_str(in, 0); /* key */
    int8_t key_type = v >= 1 ? tn_kr_i8(in) : 0;
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    tn_kw *w = &r->out;
    if (v >= 1)
        tn_kw_i32(w, 0);
    /* Groups (0) are coordinated here; transactions (1) are not supported. */
    int16_t err = key_type == 0 ? TN_KE_NONE : TN_KE_COORDINATOR_NOT_AVAILABLE;
    tn_kw_i16(w, err);
    if (v >= 1)
        tn_kw_cstr(w, 0, err ? "tern does not coordinate transactions" : NULL);
    if (err == TN_KE_NONE)
        write_broker(b, r, 0);
    else {
        tn_kw_i32(w, -1);
        tn_kw_str(w, 0, "", 0);
        tn_kw_i32(w, -1);
    }
    r->state = TN_REQ_READY;
    return TERN_OK;
}

tern_err tn_bk_api_init_producer_id(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    tn_kstr txn = tn_kr_str(in, 0);
    (void)tn_kr_i32(in); /* transaction timeout */
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    int16_t err = TN_KE_NONE;
    int64_t pid = -1;
    if (txn.len >= 0) {
        tn_bk_log(b, "%s: refused InitProducerId: transactions are not supported", r->conn->peer);
        err = TN_KE_COORDINATOR_NOT_AVAILABLE;
    } else if ((pid = tn_bk_new_producer_id(b)) < 0)
        err = TN_KE_KAFKA_STORAGE_ERROR;
    tn_kw *w = &r->out;
    tn_kw_i32(w, 0);
    tn_kw_i16(w, err);
    tn_kw_i64(w, pid);
    tn_kw_i16(w, err ? -1 : 0);
    r->state = TN_REQ_READY;
    return TERN_OK;
}

/* tern has no SASL: a client configured for it learns so from the
 * protocol's own answer (an empty list of enabled mechanisms) instead of
 * a closed connection. */
tern_err tn_bk_api_sasl_handshake(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    tn_kstr mechanism = tn_kr_str(in, 0);
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    tn_bk_log(b, "%s: refused SASL %.*s: this broker has no SASL", r->conn->peer,
              mechanism.len > 0 ? (int)mechanism.len : 0, mechanism.len > 0 ? mechanism.p : "");
    tn_kw_i16(&r->out, TN_KE_UNSUPPORTED_SASL_MECHANISM);
    tn_kw_array(&r->out, 0, 0);
    r->state = TN_REQ_READY;
    return TERN_OK;
}
