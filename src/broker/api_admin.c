/* The admin requests operators' tools send: ListGroups (v0-2),
 * DescribeGroups (v0-4) and DescribeConfigs (v0-2) for topics and the
 * broker. Read-only: the groups come from the coordinator's views
 * (group.h), the configs from the topic registry and the broker options. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/server.h"
#include "kafka/api.h"

/* ---- ListGroups ---------------------------------------------------------- */

typedef struct group_list {
    tn_kw *w;
    int32_t n;
} group_list;

static void list_one(void *arg, const tn_group_info *info)
{
    group_list *l = arg;
    tn_kw_str(l->w, 0, info->group_id.p, info->group_id.len);
    tn_kw_str(l->w, 0, info->protocol_type.p, info->protocol_type.len);
    l->n++;
}

tern_err tn_bk_api_list_groups(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    tn_kw *w = &r->out;
    if (r->version >= 1)
        tn_kw_i32(w, 0);
    tn_kw_i16(w, TN_KE_NONE);
    /* The count is known once every group has been written. */
    size_t count_at = tn_kw_skip(w, 4);
    group_list l = {w, 0};
    tn_groups_each(b->groups, list_one, &l);
    tn_kw_put_i32(w, count_at, l.n);
    r->state = TN_REQ_READY;
    return TERN_OK;
}

/* ---- DescribeGroups ------------------------------------------------------ */

typedef struct member_writer {
    tn_kw *w;
    int version;
    int stable;
} member_writer;

/* Kafka shows a member's metadata and assignment only while the group is
 * Stable: in a rebalance they belong to a generation being replaced. */
static void write_member(void *arg, const tn_group_member_info *m)
{
    member_writer *mw = arg;
    tn_kw *w = mw->w;
    tn_kw_str(w, 0, m->member_id.p, m->member_id.len);
    if (mw->version >= 4)
        tn_kw_str(w, 0, m->group_instance_id.p, m->group_instance_id.len);
    tn_kw_str(w, 0, m->client_id.p, m->client_id.len);
    tn_kw_str(w, 0, m->client_host.p, m->client_host.len);
    tn_kw_bytes(w, 0, m->metadata.p, mw->stable ? m->metadata.len : 0);
    tn_kw_bytes(w, 0, m->assignment.p, mw->stable ? m->assignment.len : 0);
}

static void describe_group(tn_broker_impl *b, tn_kw *w, int v, tn_kstr id)
{
    tn_group_info info;
    int16_t err = TN_KE_NONE;
    if (id.len == 0) {
        err = TN_KE_INVALID_GROUP_ID;
        info = (tn_group_info){.state = ""};
    } else if (!tn_group_describe(b->groups, id, &info)) {
        /* What Kafka answers for a group it does not know. */
        info = (tn_group_info){.state = "Dead"};
    }
    int stable = strcmp(info.state, "Stable") == 0;
    tn_kw_i16(w, err);
    tn_kw_str(w, 0, id.p, id.len);
    tn_kw_cstr(w, 0, info.state);
    tn_kw_str(w, 0, info.protocol_type.p, info.protocol_type.len);
    tn_kw_str(w, 0, info.protocol_name.p, stable ? info.protocol_name.len : 0);
    tn_kw_array(w, 0, info.nmembers);
    member_writer mw = {w, v, stable};
    if (info.nmembers > 0)
        tn_group_each_member(b->groups, id, write_member, &mw);
    if (v >= 3)
        tn_kw_i32(w, INT32_MIN); /* authorized operations: no ACLs here */
}

tern_err tn_bk_api_describe_groups(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    size_t at = in->off;
    int32_t n = tn_kr_array(in, 0, 2);
    for (int32_t i = 0; i < n && !in->err; i++)
        if (tn_kr_str(in, 0).len < 0)
            return TERN_EPROTO;
    if (v >= 3)
        (void)tn_kr_i8(in); /* include_authorized_operations */
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    in->off = at;
    n = tn_kr_array(in, 0, 2);
    tn_kw *w = &r->out;
    if (v >= 1)
        tn_kw_i32(w, 0);
    tn_kw_array(w, 0, n);
    for (int32_t i = 0; i < n; i++)
        describe_group(b, w, v, tn_kr_str(in, 0));
    r->state = TN_REQ_READY;
    return TERN_OK;
}

/* ---- DescribeConfigs ----------------------------------------------------- */

enum { RES_TOPIC = 2, RES_BROKER = 4 };
enum { SRC_DYNAMIC_TOPIC = 1, SRC_STATIC_BROKER = 4, SRC_DEFAULT = 5 };

/* api_meta.c's node id: the only broker of the cluster. */
#define BROKER_ID "0"
#define MAX_CONFIGS 8

typedef struct config {
    const char *name;
    const char *value;
    int8_t source;
    int read_only;
    char buf[24]; /* value, when it is a number */
} config;

typedef struct config_set {
    config c[MAX_CONFIGS];
    int n;
} config_set;

static config *add(config_set *s, const char *name, int8_t source, int read_only)
{
    config *c = &s->c[s->n++];
    c->name = name;
    c->value = c->buf;
    c->source = source;
    c->read_only = read_only;
    return c;
}

static void add_i64(config_set *s, const char *name, int64_t v, int is_default, int8_t set_source,
                    int read_only)
{
    config *c = add(s, name, is_default ? SRC_DEFAULT : set_source, read_only);
    snprintf(c->buf, sizeof c->buf, "%" PRId64, v);
}

/* A topic's configs are fixed when it is created (the .topic file keeps
 * them all), so "set for this topic" is told from "what a topic created
 * now would get": a value equal to the broker's default reads as DEFAULT,
 * as if it had not been given. */
static void topic_configs(tn_broker_impl *b, const tn_bk_topic *t, config_set *s)
{
    tn_log_conf d;
    tn_bk_topic_default_conf(b, &d);
    const tn_log_conf *c = &t->conf;
    add_i64(s, "retention.ms", c->retention_ms, c->retention_ms == d.retention_ms,
            SRC_DYNAMIC_TOPIC, 0);
    add_i64(s, "retention.bytes", c->retention_bytes, c->retention_bytes == d.retention_bytes,
            SRC_DYNAMIC_TOPIC, 0);
    add_i64(s, "segment.bytes", (int64_t)c->segment_bytes, c->segment_bytes == d.segment_bytes,
            SRC_DYNAMIC_TOPIC, 0);
    add_i64(s, "segment.ms", c->segment_ms, c->segment_ms == d.segment_ms, SRC_DYNAMIC_TOPIC, 0);
    add_i64(s, "max.message.bytes", c->max_batch_bytes, c->max_batch_bytes == d.max_batch_bytes,
            SRC_DYNAMIC_TOPIC, 0);
    add_i64(s, "index.interval.bytes", c->index_bytes, c->index_bytes == d.index_bytes,
            SRC_DYNAMIC_TOPIC, 0);
    add(s, "cleanup.policy", SRC_DEFAULT, 0)->value = "delete";
}

/* The broker's settings come from its command line and cannot change
 * while it runs (read-only); those differing from the built-in defaults
 * were given at start. */
static void broker_configs(tn_broker_impl *b, config_set *s)
{
    tern_broker_opts d;
    tern_broker_opts_init(&d);
    const tern_broker_opts *o = &b->opts;
    config *c = add(s, "log.dirs",
                    strcmp(b->data_dir, d.data_dir) == 0 ? SRC_DEFAULT : SRC_STATIC_BROKER, 1);
    c->value = b->data_dir;
    add_i64(s, "num.partitions", o->default_partitions,
            o->default_partitions == d.default_partitions, SRC_STATIC_BROKER, 1);
    c = add(s, "auto.create.topics.enable",
            !o->auto_create_topics == !d.auto_create_topics ? SRC_DEFAULT : SRC_STATIC_BROKER, 1);
    c->value = o->auto_create_topics ? "true" : "false";
    add_i64(s, "log.segment.bytes", (int64_t)o->segment_bytes, o->segment_bytes == d.segment_bytes,
            SRC_STATIC_BROKER, 1);
    add_i64(s, "log.retention.ms", o->retention_ms, o->retention_ms == d.retention_ms,
            SRC_STATIC_BROKER, 1);
    add_i64(s, "log.retention.bytes", o->retention_bytes, o->retention_bytes == d.retention_bytes,
            SRC_STATIC_BROKER, 1);
}

/* Whether the request's key list (nkeys names at keys) asks for name; an
 * empty or null list asks for every config, as in Kafka. */
static int wanted(tn_kr keys, int32_t nkeys, const char *name)
{
    if (nkeys == 0)
        return 1;
    size_t len = strlen(name);
    for (int32_t i = 0; i < nkeys; i++) {
        tn_kstr k = tn_kr_str(&keys, 0);
        if (k.len >= 0 && (size_t)k.len == len && memcmp(k.p, name, len) == 0)
            return 1;
    }
    return 0;
}

static void write_result(tn_kw *w, int16_t err, const char *msg, int8_t type, tn_kstr name)
{
    tn_kw_i16(w, err);
    tn_kw_cstr(w, 0, msg);
    tn_kw_i8(w, type);
    tn_kw_str(w, 0, name.p, name.len);
}

static void describe_resource(tn_broker_impl *b, tn_kw *w, int v, tn_kr *in)
{
    int8_t type = tn_kr_i8(in);
    tn_kstr name = tn_kr_str(in, 0);
    int32_t nkeys = tn_kr_array(in, 0, 2);
    tn_kr keys = *in;
    for (int32_t i = 0; i < nkeys; i++)
        (void)tn_kr_str(in, 0);
    config_set s = {.n = 0};
    char msg[320];
    if (type == RES_TOPIC) {
        tn_bk_topic *t = tn_bk_topic_find(b, name);
        if (t == NULL) {
            snprintf(msg, sizeof msg, "The topic '%.*s' does not exist.",
                     name.len > 256 ? 256 : (int)name.len, name.p);
            write_result(w, TN_KE_UNKNOWN_TOPIC_OR_PARTITION, msg, type, name);
            tn_kw_array(w, 0, 0);
            return;
        }
        topic_configs(b, t, &s);
    } else if (type == RES_BROKER) {
        if (!(name.len == 0 || (name.len == 1 && name.p[0] == BROKER_ID[0]))) {
            snprintf(msg, sizeof msg,
                     "Unexpected broker id, expected " BROKER_ID
                     " or an empty string, but received '%.*s'",
                     name.len > 256 ? 256 : (int)name.len, name.p);
            write_result(w, TN_KE_INVALID_REQUEST, msg, type, name);
            tn_kw_array(w, 0, 0);
            return;
        }
        broker_configs(b, &s);
    } else {
        snprintf(msg, sizeof msg,
                 "resource type %d is not supported: only topics (2) and the broker (4) have "
                 "configs",
                 type);
        write_result(w, TN_KE_INVALID_REQUEST, msg, type, name);
        tn_kw_array(w, 0, 0);
        return;
    }
    write_result(w, TN_KE_NONE, NULL, type, name);
    int32_t n = 0;
    for (int i = 0; i < s.n; i++)
        n += wanted(keys, nkeys, s.c[i].name);
    tn_kw_array(w, 0, n);
    for (int i = 0; i < s.n; i++) {
        const config *c = &s.c[i];
        if (!wanted(keys, nkeys, c->name))
            continue;
        tn_kw_cstr(w, 0, c->name);
        tn_kw_cstr(w, 0, c->value);
        tn_kw_i8(w, (int8_t)c->read_only);
        if (v == 0)
            tn_kw_i8(w, c->source == SRC_DEFAULT); /* is_default */
        else
            tn_kw_i8(w, c->source);
        tn_kw_i8(w, 0); /* is_sensitive */
        if (v >= 1)
            tn_kw_array(w, 0, 0); /* synonyms: none are kept */
    }
}

tern_err tn_bk_api_describe_configs(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    size_t at = in->off;
    int32_t n = tn_kr_array(in, 0, 1 + 2 + 4);
    for (int32_t i = 0; i < n && !in->err; i++) {
        (void)tn_kr_i8(in);
        if (tn_kr_str(in, 0).len < 0)
            return TERN_EPROTO;
        int32_t nkeys = tn_kr_array(in, 0, 2);
        for (int32_t k = 0; k < nkeys && !in->err; k++)
            if (tn_kr_str(in, 0).len < 0)
                return TERN_EPROTO;
    }
    if (v >= 1)
        (void)tn_kr_i8(in); /* include_synonyms: there are none to include */
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    in->off = at;
    n = tn_kr_array(in, 0, 1 + 2 + 4);
    tn_kw *w = &r->out;
    tn_kw_i32(w, 0);
    tn_kw_array(w, 0, n);
    for (int32_t i = 0; i < n; i++)
        describe_resource(b, w, v, in);
    r->state = TN_REQ_READY;
    return TERN_OK;
}
