/* The client's requests and responses, one exact version each (all
 * non-flexible): encoders write a request's body after tn_kc_req_begin;
 * decoders read a response's body (after the correlation id). Decoders
 * are bounded: every count is checked against the bytes left, and every
 * partition list against the most the request could have asked for, so a
 * hostile response costs at most a small multiple of its own size. What
 * they return points into the response, which must outlive it. */
#ifndef TN_KCLIENT_PROTO_H
#define TN_KCLIENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/api.h"
#include "kafka/codec.h"
#include "tern/base.h"
#include "tern/kafka.h"

/* The versions the client speaks. */
#define TN_KC_V_API_VERSIONS 0
#define TN_KC_V_METADATA 8
#define TN_KC_V_PRODUCE 7
#define TN_KC_V_FETCH 11
#define TN_KC_V_LIST_OFFSETS 5
#define TN_KC_V_CREATE_TOPICS 4
#define TN_KC_V_DELETE_TOPICS 3
#define TN_KC_V_FIND_COORDINATOR 2
#define TN_KC_V_JOIN_GROUP 5
#define TN_KC_V_SYNC_GROUP 3
#define TN_KC_V_HEARTBEAT 3
#define TN_KC_V_LEAVE_GROUP 3
#define TN_KC_V_OFFSET_COMMIT 7
#define TN_KC_V_OFFSET_FETCH 5

/* API keys below this are remembered from ApiVersions. */
#define TN_KC_NAPI 32

/* ListOffsets timestamps. */
#define TN_KC_TS_LATEST (-1)
#define TN_KC_TS_EARLIEST (-2)

/* ---- framing ------------------------------------------------------------ */

/* Request header v1: size (patched by tn_kc_req_end), api key, version,
 * correlation id (patched by the connection), client id. */
#define TN_KC_REQ_CORR_AT 8
void tn_kc_req_begin(tn_kw *w, int16_t api, int16_t version, const char *client_id);
void tn_kc_req_end(tn_kw *w);
/* The name of an API key ("Fetch"), for messages. */
const char *tn_kc_api_name(int16_t api);

/* ---- partition lists ---------------------------------------------------- */

/* One partition of a request. Entries of one topic need not be adjacent:
 * the encoders group them. */
typedef struct tn_kc_preq {
    const char *topic;
    int32_t partition;
    int64_t value;       /* ListOffsets: timestamp; Fetch: fetch offset; OffsetCommit: offset */
    const uint8_t *data; /* Produce: the record batch */
    size_t len;
} tn_kc_preq;

/* One partition of a response. */
typedef struct tn_kc_pres {
    tn_kstr topic;
    int32_t partition;
    int16_t error;
    int64_t offset;  /* Produce: base offset; ListOffsets: offset; OffsetFetch: committed;
                        Fetch: high watermark */
    int64_t start;   /* Fetch: log start offset; else -1 */
    tn_kstr records; /* Fetch: the records (len < 0: none) */
} tn_kc_pres;

/* ---- ApiVersions v0 ------------------------------------------------------ */

typedef struct tn_kc_range {
    int16_t min, max; /* -1, -1: not offered */
} tn_kc_range;

tern_err tn_kc_dec_api_versions(tn_kr *r, int16_t *error, tn_kc_range ranges[TN_KC_NAPI]);

/* ---- Metadata v8 --------------------------------------------------------- */

/* all: every topic (n ignored); else exactly topics[0..n) (none: brokers
 * only). */
void tn_kc_enc_metadata(tn_kw *w, const char *const *topics, size_t n, bool all, bool auto_create);

typedef struct tn_kc_md_broker {
    int32_t id;
    tn_kstr host;
    int32_t port;
} tn_kc_md_broker;

typedef struct tn_kc_md_part {
    int16_t error;
    int32_t partition;
    int32_t leader;
    int32_t replicas, isr;
} tn_kc_md_part;

typedef struct tn_kc_md_topic {
    int16_t error;
    tn_kstr name;
    bool internal;
    int32_t nparts;
    tn_kc_md_part *parts;
} tn_kc_md_topic;

typedef struct tn_kc_md {
    int32_t controller;
    int32_t nbrokers;
    tn_kc_md_broker *brokers;
    int32_t ntopics;
    tn_kc_md_topic *topics;
} tn_kc_md;

tern_err tn_kc_dec_metadata(tn_kr *r, tn_kc_md *md);
void tn_kc_md_free(tn_kc_md *md);

/* ---- Produce v7 ---------------------------------------------------------- */

void tn_kc_enc_produce(tn_kw *w, int16_t acks, int32_t timeout_ms, const tn_kc_preq *parts,
                       size_t n);
/* *out holds at most max entries (malloc'd; free it). */
tern_err tn_kc_dec_produce(tn_kr *r, size_t max, tn_kc_pres **out, size_t *n);

/* ---- Fetch v11 ----------------------------------------------------------- */

void tn_kc_enc_fetch(tn_kw *w, int32_t max_wait_ms, int32_t min_bytes, int32_t max_bytes,
                     int32_t partition_max_bytes, const tn_kc_preq *parts, size_t n);
tern_err tn_kc_dec_fetch(tn_kr *r, size_t max, int16_t *error, tn_kc_pres **out, size_t *n);

/* ---- ListOffsets v5 ------------------------------------------------------ */

void tn_kc_enc_list_offsets(tn_kw *w, const tn_kc_preq *parts, size_t n);
tern_err tn_kc_dec_list_offsets(tn_kr *r, size_t max, tn_kc_pres **out, size_t *n);

/* ---- CreateTopics v4, DeleteTopics v3 ------------------------------------ */

void tn_kc_enc_create_topic(tn_kw *w, const char *topic, int32_t partitions, int16_t replication,
                            const tern_kafka_config *configs, size_t nconfigs, int32_t timeout_ms);
/* The result for topic: its error code and message (len < 0: none).
 * TERN_EPROTO if the response does not name it. */
tern_err tn_kc_dec_create_topic(tn_kr *r, const char *topic, int16_t *error, tn_kstr *message);
void tn_kc_enc_delete_topic(tn_kw *w, const char *topic, int32_t timeout_ms);
tern_err tn_kc_dec_delete_topic(tn_kr *r, const char *topic, int16_t *error);

/* ---- FindCoordinator v2 -------------------------------------------------- */

void tn_kc_enc_find_coordinator(tn_kw *w, const char *group);

typedef struct tn_kc_coord {
    int16_t error;
    tn_kstr message;
    int32_t node;
    tn_kstr host;
    int32_t port;
} tn_kc_coord;

tern_err tn_kc_dec_find_coordinator(tn_kr *r, tn_kc_coord *out);

/* ---- JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3 ------------- */

typedef struct tn_kc_protocol {
    const char *name;
    const uint8_t *meta;
    size_t len;
} tn_kc_protocol;

void tn_kc_enc_join(tn_kw *w, const char *group, int32_t session_timeout_ms,
                    int32_t rebalance_timeout_ms, const char *member_id,
                    const tn_kc_protocol *protocols, size_t n);

typedef struct tn_kc_join_member {
    tn_kstr id;
    tn_kstr instance; /* len < 0: none */
    tn_kstr meta;
} tn_kc_join_member;

typedef struct tn_kc_join {
    int16_t error;
    int32_t generation;
    tn_kstr protocol;
    tn_kstr leader;
    tn_kstr member_id;
    int32_t nmembers;
    tn_kc_join_member *members; /* malloc'd: tn_kc_join_free */
} tn_kc_join;

/* The most members a JoinGroup response may list. */
#define TN_KC_MAX_MEMBERS 100000

tern_err tn_kc_dec_join(tn_kr *r, tn_kc_join *out);
void tn_kc_join_free(tn_kc_join *j);

typedef struct tn_kc_sync_assignment {
    const char *member_id;
    const uint8_t *data;
    size_t len;
} tn_kc_sync_assignment;

void tn_kc_enc_sync(tn_kw *w, const char *group, int32_t generation, const char *member_id,
                    const tn_kc_sync_assignment *as, size_t n);
tern_err tn_kc_dec_sync(tn_kr *r, int16_t *error, tn_kstr *assignment);
void tn_kc_enc_heartbeat(tn_kw *w, const char *group, int32_t generation, const char *member_id);
tern_err tn_kc_dec_heartbeat(tn_kr *r, int16_t *error);
void tn_kc_enc_leave(tn_kw *w, const char *group, const char *member_id);
/* error: the group's, else the member's. */
tern_err tn_kc_dec_leave(tn_kr *r, int16_t *error);

/* ---- OffsetCommit v7, OffsetFetch v5 ------------------------------------- */

/* generation -1 and member "" for a consumer outside the group's
 * membership (standalone). */
void tn_kc_enc_offset_commit(tn_kw *w, const char *group, int32_t generation, const char *member_id,
                             const tn_kc_preq *parts, size_t n);
tern_err tn_kc_dec_offset_commit(tn_kr *r, size_t max, tn_kc_pres **out, size_t *n);
void tn_kc_enc_offset_fetch(tn_kw *w, const char *group, const tn_kc_preq *parts, size_t n);
tern_err tn_kc_dec_offset_fetch(tn_kr *r, size_t max, int16_t *error, tn_kc_pres **out, size_t *n);

#endif
