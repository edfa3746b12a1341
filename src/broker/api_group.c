/* The consumer-group requests: JoinGroup (v0-5), SyncGroup (v0-3),
 * Heartbeat (v0-3), LeaveGroup (v0-3), OffsetCommit (v2-7) and
 * OffsetFetch (v1-5). Decoding and encoding only: the membership state
 * machine and the committed offsets are group.c's. */
#include <stdlib.h>
#include <string.h>

#include "broker/server.h"
#include "kafka/api.h"

static void join_done(tn_group_waiter *gw, const tn_join_resp *resp)
{
    tn_bk_req *r = gw->arg;
    int v = r->version;
    tn_kw *w = &r->out;
    if (v >= 2)
        tn_kw_i32(w, 0);
    tn_kw_i16(w, resp->error_code);
    tn_kw_i32(w, resp->generation_id);
    tn_kw_str(w, 0, resp->protocol_name.p,
              resp->protocol_name.len < 0 ? 0 : resp->protocol_name.len);
    tn_kw_str(w, 0, resp->leader.p, resp->leader.len < 0 ? 0 : resp->leader.len);
    tn_kw_str(w, 0, resp->member_id.p, resp->member_id.len < 0 ? 0 : resp->member_id.len);
    tn_kw_array(w, 0, resp->nmembers);
    for (int32_t i = 0; i < resp->nmembers; i++) {
        const tn_join_member *m = &resp->members[i];
        tn_kw_str(w, 0, m->member_id.p, m->member_id.len);
        if (v >= 5)
            tn_kw_str(w, 0, m->group_instance_id.p, m->group_instance_id.len);
        tn_kw_bytes(w, 0, m->metadata.p, m->metadata.len < 0 ? 0 : m->metadata.len);
    }
    tn_bk_req_ready(r);
}

static void sync_done(tn_group_waiter *gw, const tn_sync_resp *resp)
{
    tn_bk_req *r = gw->arg;
    tn_kw *w = &r->out;
    if (r->version >= 1)
        tn_kw_i32(w, 0);
    tn_kw_i16(w, resp->error_code);
    tn_kw_bytes(w, 0, resp->assignment.p, resp->assignment.len < 0 ? 0 : resp->assignment.len);
    tn_bk_req_ready(r);
}

tern_err tn_bk_api_join_group(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    tn_join_req q = {0};
    q.group_id = tn_kr_str(in, 0);
    q.session_timeout_ms = tn_kr_i32(in);
    q.rebalance_timeout_ms = v >= 1 ? tn_kr_i32(in) : q.session_timeout_ms;
    q.member_id = tn_kr_str(in, 0);
    q.group_instance_id = v >= 5 ? tn_kr_str(in, 0) : (tn_kstr){NULL, -1};
    q.protocol_type = tn_kr_str(in, 0);
    q.nprotocols = tn_kr_array(in, 0, 6);
    tn_group_protocol *protos = calloc(q.nprotocols ? (size_t)q.nprotocols : 1, sizeof *protos);
    if (protos == NULL)
        return TERN_ENOMEM;
    for (int32_t i = 0; i < q.nprotocols; i++) {
        protos[i].name = tn_kr_str(in, 0);
        protos[i].metadata = tn_kr_bytes(in, 0);
    }
    if (!tn_kr_done(in) || q.group_id.len < 0 || q.member_id.len < 0 || q.protocol_type.len < 0) {
        free(protos);
        return TERN_EPROTO;
    }
    q.protocols = protos;
    q.require_known_member_id = v >= 4;
    q.client_id = r->client_id.len < 0 ? (tn_kstr){"", 0} : r->client_id;
    /* peer is "HOST:PORT"; the host alone, as DescribeGroups shows it */
    const char *colon = strrchr(r->conn->peer, ':');
    q.client_host = (tn_kstr){r->conn->peer, colon ? (int32_t)(colon - r->conn->peer)
                                                   : (int32_t)strlen(r->conn->peer)};
    r->gw.join_done = join_done;
    r->gw.sync_done = sync_done;
    r->gw.arg = r;
    tn_group_join(b->groups, &q, &r->gw, tn_bk_mono_ms());
    free(protos);
    return TERN_OK;
}

tern_err tn_bk_api_sync_group(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    tn_sync_req q = {0};
    q.group_id = tn_kr_str(in, 0);
    q.generation_id = tn_kr_i32(in);
    q.member_id = tn_kr_str(in, 0);
    q.group_instance_id = v >= 3 ? tn_kr_str(in, 0) : (tn_kstr){NULL, -1};
    q.nassignments = tn_kr_array(in, 0, 6);
    tn_sync_assignment *as = calloc(q.nassignments ? (size_t)q.nassignments : 1, sizeof *as);
    if (as == NULL)
        return TERN_ENOMEM;
    for (int32_t i = 0; i < q.nassignments; i++) {
        as[i].member_id = tn_kr_str(in, 0);
        as[i].assignment = tn_kr_bytes(in, 0);
    }
    if (!tn_kr_done(in) || q.group_id.len < 0 || q.member_id.len < 0) {
        free(as);
        return TERN_EPROTO;
    }
    q.assignments = as;
    r->gw.join_done = join_done;
    r->gw.sync_done = sync_done;
    r->gw.arg = r;
    tn_group_sync(b->groups, &q, &r->gw, tn_bk_mono_ms());
    free(as);
    return TERN_OK;
}

tern_err tn_bk_api_heartbeat(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    tn_kstr group = tn_kr_str(in, 0);
    int32_t gen = tn_kr_i32(in);
    tn_kstr member = tn_kr_str(in, 0);
    if (r->version >= 3)
        (void)tn_kr_str(in, 0);
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    int16_t err = tn_group_heartbeat(b->groups, group, gen, member, tn_bk_mono_ms());
    if (r->version >= 1)
        tn_kw_i32(&r->out, 0);
    tn_kw_i16(&r->out, err);
    r->state = TN_REQ_READY;
    return TERN_OK;
}

tern_err tn_bk_api_leave_group(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    tn_kstr group = tn_kr_str(in, 0);
    tn_kw *w = &r->out;
    if (v < 3) {
        tn_kstr member = tn_kr_str(in, 0);
        if (!tn_kr_done(in))
            return TERN_EPROTO;
        int16_t err = tn_group_leave(b->groups, group, member, tn_bk_mono_ms());
        if (v >= 1)
            tn_kw_i32(w, 0);
        tn_kw_i16(w, err);
        r->state = TN_REQ_READY;
        return TERN_OK;
    }
    size_t at = in->off;
    int32_t n = tn_kr_array(in, 0, 4);
    for (int32_t i = 0; i < n; i++) {
        (void)tn_kr_str(in, 0);
        (void)tn_kr_str(in, 0);
    }
    if (!tn_kr_done(in))
        return TERN_EPROTO;
    in->off = at;
    n = tn_kr_array(in, 0, 4);
    tn_kw_i32(w, 0);
    tn_kw_i16(w, TN_KE_NONE);
    tn_kw_array(w, 0, n);
    for (int32_t i = 0; i < n; i++) {
        tn_kstr member = tn_kr_str(in, 0), instance = tn_kr_str(in, 0);
        tn_kw_str(w, 0, member.p, member.len);
        tn_kw_str(w, 0, instance.p, instance.len);
        tn_kw_i16(w, tn_group_leave(b->groups, group, member, tn_bk_mono_ms()));
    }
    r->state = TN_REQ_READY;
    return TERN_OK;
}

tern_err tn_bk_api_offset_commit(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    tn_kstr group = tn_kr_str(in, 0);
    int32_t gen = tn_kr_i32(in);
    tn_kstr member = tn_kr_str(in, 0);
    if (v <= 4)
        (void)tn_kr_i64(in); /* retention: offsets are kept until the topic goes */
    if (v >= 7)
        (void)tn_kr_str(in, 0);
    size_t psize = 4 + 8 + (v >= 6 ? 4 : 0) + 2;
    size_t at = in->off;
    int32_t nt = tn_kr_array(in, 0, 6);
    size_t total = 0;
    for (int32_t i = 0; i < nt && !in->err; i++) {
        (void)tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, psize);
        total += (size_t)np;
        for (int32_t k = 0; k < np && !in->err; k++) {
            (void)tn_kr_raw(in, psize - 2);
            (void)tn_kr_str(in, 0);
        }
    }
    if (!tn_kr_done(in) || group.len < 0)
        return TERN_EPROTO;
    tn_offset_commit *offs = calloc(total ? total : 1, sizeof *offs);
    if (offs == NULL)
        return TERN_ENOMEM;
    in->off = at;
    nt = tn_kr_array(in, 0, 6);
    size_t j = 0;
    for (int32_t i = 0; i < nt; i++) {
        tn_kstr topic = tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, psize);
        for (int32_t k = 0; k < np; k++, j++) {
            offs[j].topic = topic;
            offs[j].partition = tn_kr_i32(in);
            offs[j].offset = tn_kr_i64(in);
            offs[j].leader_epoch = v >= 6 ? tn_kr_i32(in) : -1;
            offs[j].metadata = tn_kr_str(in, 0);
        }
    }
    if (member.len < 0)
        member = (tn_kstr){"", 0};
    (void)tn_group_commit(b->groups, group, gen, member, offs, (int32_t)total, tn_bk_mono_ms());
    tn_kw *w = &r->out;
    if (v >= 3)
        tn_kw_i32(w, 0);
    in->off = at;
    nt = tn_kr_array(in, 0, 6);
    tn_kw_array(w, 0, nt);
    j = 0;
    for (int32_t i = 0; i < nt; i++) {
        tn_kstr topic = tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, psize);
        tn_kw_str(w, 0, topic.p, topic.len);
        tn_kw_array(w, 0, np);
        for (int32_t k = 0; k < np; k++, j++) {
            (void)tn_kr_raw(in, psize - 2);
            (void)tn_kr_str(in, 0);
            tn_kw_i32(w, offs[j].partition);
            tn_kw_i16(w, offs[j].error_code);
        }
    }
    free(offs);
    r->state = TN_REQ_READY;
    return TERN_OK;
}

static void write_offset(tn_kw *w, int v, int32_t partition, int64_t offset, int32_t epoch,
                         tn_kstr meta)
{
    tn_kw_i32(w, partition);
    tn_kw_i64(w, offset);
    if (v >= 5)
        tn_kw_i32(w, epoch);
    tn_kw_str(w, 0, meta.p, meta.len < 0 ? 0 : meta.len);
    tn_kw_i16(w, TN_KE_NONE);
}

/* OffsetFetch with null topics: every committed offset of the group,
 * grouped by topic as the response wants. */
typedef struct all_offsets {
    struct one {
        tn_kstr topic;
        int32_t partition;
        int64_t offset;
        int32_t epoch;
        tn_kstr meta;
    } * v;
    size_t n, cap;
    int failed;
} all_offsets;

static void collect(void *arg, tn_kstr topic, int32_t partition, int64_t offset, int32_t epoch,
                    tn_kstr meta)
{
    all_offsets *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct one *n = realloc(a->v, cap * sizeof *n);
        if (n == NULL) {
            a->failed = 1;
            return;
        }
        a->v = n;
        a->cap = cap;
    }
    a->v[a->n++] = (struct one){topic, partition, offset, epoch, meta};
}

static int same(tn_kstr a, tn_kstr b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

static void write_all(tn_bk_req *r, all_offsets *a)
{
    tn_kw *w = &r->out;
    int v = r->version;
    /* Topics in order of first appearance; each topic's partitions after it. */
    int32_t ntopics = 0;
    for (size_t i = 0; i < a->n; i++) {
        size_t k = 0;
        while (k < i && !same(a->v[k].topic, a->v[i].topic))
            k++;
        ntopics += k == i;
    }
    tn_kw_array(w, 0, ntopics);
    for (size_t i = 0; i < a->n; i++) {
        size_t k = 0;
        while (k < i && !same(a->v[k].topic, a->v[i].topic))
            k++;
        if (k != i)
            continue;
        int32_t np = 0;
        for (size_t m = i; m < a->n; m++)
            np += same(a->v[m].topic, a->v[i].topic);
        tn_kw_str(w, 0, a->v[i].topic.p, a->v[i].topic.len);
        tn_kw_array(w, 0, np);
        for (size_t m = i; m < a->n; m++) {
            if (same(a->v[m].topic, a->v[i].topic))
                write_offset(w, v, a->v[m].partition, a->v[m].offset, a->v[m].epoch, a->v[m].meta);
        }
    }
}

tern_err tn_bk_api_offset_fetch(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    int v = r->version;
    tn_kstr group = tn_kr_str(in, 0);
    size_t at = in->off;
    int32_t raw = tn_kr_i32(in);
    in->off = at;
    int32_t nt = tn_kr_array(in, 0, 6);
    for (int32_t i = 0; i < nt && !in->err; i++) {
        (void)tn_kr_str(in, 0);
        int32_t np = tn_kr_array(in, 0, 4);
        (void)tn_kr_raw(in, (size_t)np * 4);
    }
    if (!tn_kr_done(in) || group.len < 0)
        return TERN_EPROTO;
    tn_kw *w = &r->out;
    if (v >= 3)
        tn_kw_i32(w, 0);
    if (raw < 0 && v >= 2) {
        all_offsets a = {0};
        tn_group_each_offset(b->groups, group, collect, &a);
        if (a.failed) {
            free(a.v);
            return TERN_ENOMEM;
        }
        write_all(r, &a);
        free(a.v);
    } else {
        in->off = at;
        nt = tn_kr_array(in, 0, 6);
        tn_kw_array(w, 0, nt);
        for (int32_t i = 0; i < nt; i++) {
            tn_kstr topic = tn_kr_str(in, 0);
            int32_t np = tn_kr_array(in, 0, 4);
            tn_kw_str(w, 0, topic.p, topic.len);
            tn_kw_array(w, 0, np);
            for (int32_t k = 0; k < np; k++) {
                int32_t partition = tn_kr_i32(in);
                int64_t offset = -1;
                int32_t epoch = -1;
                tn_kstr meta = {"", 0};
                if (!tn_group_fetch_offset(b->groups, group, topic, partition, &offset, &epoch,
                                           &meta)) {
                    offset = -1;
                    epoch = -1;
                    meta = (tn_kstr){"", 0};
                }
                write_offset(w, v, partition, offset, epoch, meta);
            }
        }
    }
    if (v >= 2)
        tn_kw_i16(w, TN_KE_NONE);
    r->state = TN_REQ_READY;
    return TERN_OK;
}
