/* The consumer group messages: FindCoordinator v2, JoinGroup v5,
 * SyncGroup v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v7 and
 * OffsetFetch v5. No member uses a group instance id (static
 * membership), so every one of those fields is null. */
#include "kclient/proto.h"

#include <stdlib.h>
#include <string.h>

#include "kclient/proto_util.h"

/* ---- FindCoordinator v2 -------------------------------------------------- */

void tn_kc_enc_find_coordinator(tn_kw *w, const char *group)
{
    tn_kw_cstr(w, 0, group);
    tn_kw_i8(w, 0); /* key type: a group */
}

tern_err tn_kc_dec_find_coordinator(tn_kr *r, tn_kc_coord *out)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    out->error = tn_kr_i16(r);
    out->message = tn_kr_str(r, 0);
    out->node = tn_kr_i32(r);
    out->host = tn_kr_str(r, 0);
    out->port = tn_kr_i32(r);
    return r->err ? TERN_EPROTO : TERN_OK;
}

/* ---- JoinGroup v5 -------------------------------------------------------- */

void tn_kc_enc_join(tn_kw *w, const char *group, int32_t session_timeout_ms,
                    int32_t rebalance_timeout_ms, const char *member_id,
                    const tn_kc_protocol *protocols, size_t n)
{
    tn_kw_cstr(w, 0, group);
    tn_kw_i32(w, session_timeout_ms);
    tn_kw_i32(w, rebalance_timeout_ms);
    tn_kw_cstr(w, 0, member_id);
    tn_kw_cstr(w, 0, NULL); /* group instance id */
    tn_kw_cstr(w, 0, "consumer");
    tn_kw_array(w, 0, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        tn_kw_cstr(w, 0, protocols[i].name);
        tn_kw_bytes(w, 0, protocols[i].meta, (int32_t)protocols[i].len);
    }
}

void tn_kc_join_free(tn_kc_join *j)
{
    free(j->members);
    j->members = NULL;
    j->nmembers = 0;
}

tern_err tn_kc_dec_join(tn_kr *r, tn_kc_join *out)
{
    memset(out, 0, sizeof *out);
    (void)tn_kr_i32(r); /* throttle_time_ms */
    out->error = tn_kr_i16(r);
    out->generation = tn_kr_i32(r);
    out->protocol = tn_kr_str(r, 0);
    out->leader = tn_kr_str(r, 0);
    out->member_id = tn_kr_str(r, 0);
    /* member id, instance id, metadata */
    out->nmembers = tn_kr_array(r, 0, 8);
    if (out->nmembers > TN_KC_MAX_MEMBERS)
        r->err = 1;
    if (out->nmembers > 0 && !r->err) {
        out->members = calloc((size_t)out->nmembers, sizeof *out->members);
        if (out->members == NULL)
            return TERN_ENOMEM;
    }
    for (int32_t i = 0; i < out->nmembers && !r->err; i++) {
        out->members[i].id = tn_kr_str(r, 0);
        out->members[i].instance = tn_kr_str(r, 0);
        out->members[i].meta = tn_kr_bytes(r, 0);
        if (out->members[i].id.len < 0 || out->members[i].meta.len < 0)
            r->err = 1;
    }
    if (r->err) {
        tn_kc_join_free(out);
        return TERN_EPROTO;
    }
    return TERN_OK;
}

/* ---- SyncGroup v3, Heartbeat v3, LeaveGroup v3 --------------------------- */

static void enc_member(tn_kw *w, const char *group, int32_t generation, const char *member_id)
{
    tn_kw_cstr(w, 0, group);
    tn_kw_i32(w, generation);
    tn_kw_cstr(w, 0, member_id);
    tn_kw_cstr(w, 0, NULL); /* group instance id */
}

void tn_kc_enc_sync(tn_kw *w, const char *group, int32_t generation, const char *member_id,
                    const tn_kc_sync_assignment *as, size_t n)
{
    enc_member(w, group, generation, member_id);
    tn_kw_array(w, 0, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        tn_kw_cstr(w, 0, as[i].member_id);
        tn_kw_bytes(w, 0, as[i].data, (int32_t)as[i].len);
    }
}

tern_err tn_kc_dec_sync(tn_kr *r, int16_t *error, tn_kstr *assignment)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    *error = tn_kr_i16(r);
    *assignment = tn_kr_bytes(r, 0);
    return r->err ? TERN_EPROTO : TERN_OK;
}

void tn_kc_enc_heartbeat(tn_kw *w, const char *group, int32_t generation, const char *member_id)
{
    enc_member(w, group, generation, member_id);
}

tern_err tn_kc_dec_heartbeat(tn_kr *r, int16_t *error)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    *error = tn_kr_i16(r);
    return r->err ? TERN_EPROTO : TERN_OK;
}

void tn_kc_enc_leave(tn_kw *w, const char *group, const char *member_id)
{
    tn_kw_cstr(w, 0, group);
    tn_kw_array(w, 0, 1);
    tn_kw_cstr(w, 0, member_id);
    tn_kw_cstr(w, 0, NULL); /* group instance id */
}

tern_err tn_kc_dec_leave(tn_kr *r, int16_t *error)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    *error = tn_kr_i16(r);
    /* member id, instance id, error */
    int32_t n = tn_kr_array(r, 0, 6);
    for (int32_t i = 0; i < n && !r->err; i++) {
        (void)tn_kr_str(r, 0);
        (void)tn_kr_str(r, 0);
        int16_t code = tn_kr_i16(r);
        if (*error == 0)
            *error = code;
    }
    return r->err ? TERN_EPROTO : TERN_OK;
}

/* ---- OffsetCommit v7, OffsetFetch v5 ------------------------------------- */

static void enc_commit_part(tn_kw *w, const tn_kc_preq *p, const void *arg)
{
    (void)arg;
    tn_kw_i32(w, p->partition);
    tn_kw_i64(w, p->value);
    tn_kw_i32(w, -1);     /* committed leader epoch: unknown */
    tn_kw_cstr(w, 0, ""); /* metadata */
}

void tn_kc_enc_offset_commit(tn_kw *w, const char *group, int32_t generation, const char *member_id,
                             const tn_kc_preq *parts, size_t n)
{
    enc_member(w, group, generation, member_id);
    tn_kc_enc_topics(w, parts, n, enc_commit_part, NULL);
}

static void dec_commit_part(tn_kr *r, tn_kc_pres *e)
{
    e->error = tn_kr_i16(r);
}

tern_err tn_kc_dec_offset_commit(tn_kr *r, size_t max, tn_kc_pres **out, size_t *n)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    return tn_kc_dec_topics(r, max, 6, dec_commit_part, out, n);
}

static void enc_fetch_index(tn_kw *w, const tn_kc_preq *p, const void *arg)
{
    (void)arg;
    tn_kw_i32(w, p->partition);
}

void tn_kc_enc_offset_fetch(tn_kw *w, const char *group, const tn_kc_preq *parts, size_t n)
{
    tn_kw_cstr(w, 0, group);
    tn_kc_enc_topics(w, parts, n, enc_fetch_index, NULL);
}

static void dec_offset_part(tn_kr *r, tn_kc_pres *e)
{
    e->offset = tn_kr_i64(r);
    (void)tn_kr_i32(r);    /* committed leader epoch */
    (void)tn_kr_str(r, 0); /* metadata */
    e->error = tn_kr_i16(r);
}

tern_err tn_kc_dec_offset_fetch(tn_kr *r, size_t max, int16_t *error, tn_kc_pres **out, size_t *n)
{
    (void)tn_kr_i32(r); /* throttle_time_ms */
    tern_err err = tn_kc_dec_topics(r, max, 20, dec_offset_part, out, n);
    if (err != TERN_OK)
        return err;
    *error = tn_kr_i16(r); /* the group's, after the topics */
    if (r->err) {
        free(*out);
        *out = NULL;
        return TERN_EPROTO;
    }
    return TERN_OK;
}
