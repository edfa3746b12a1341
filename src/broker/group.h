/* The group coordinator: Kafka's classic consumer-group protocol
 * (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the committed offsets
 * (OffsetCommit, OffsetFetch), with no I/O of its own except the offsets
 * file. docs/broker.md has the state diagram:
 *
 *   EMPTY --join--> PREPARING --all rejoined or rebalance timeout--> AWAITING_SYNC
 *   AWAITING_SYNC --leader's SyncGroup--> STABLE
 *   STABLE --join of a new member, leave, session expiry--> PREPARING
 *   any --last member gone--> EMPTY
 *
 * The broker does not choose assignments: the group leader (a client)
 * computes them with the protocol every member supports (range,
 * roundrobin...) and hands them over in SyncGroup.
 *
 * Requests that must wait (a JoinGroup until the rebalance completes, a
 * follower's SyncGroup until the leader's arrives) complete through a
 * tn_group_waiter the caller owns: its done callback runs later, from
 * tn_group_tick or from another request's call. A waiter whose connection
 * goes away is withdrawn with tn_group_forget. Responses handed to a
 * callback point into coordinator memory valid only during the call.
 *
 * Single-threaded: the broker's loop thread only. Times are milliseconds
 * of a monotonic clock passed in by the caller (tests drive time). */
#ifndef TN_BROKER_GROUP_H
#define TN_BROKER_GROUP_H

#include <stdint.h>

#include "broker/disk.h"
#include "kafka/api.h"
#include "kafka/codec.h"
#include "tern/base.h"

typedef struct tn_groups tn_groups;

typedef struct tn_group_protocol {
    tn_kstr name;     /* "range", "roundrobin", "cooperative-sticky" ... */
    tn_kstr metadata; /* opaque to the broker */
} tn_group_protocol;

typedef struct tn_join_req {
    tn_kstr group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: same as the session timeout */
    tn_kstr member_id;            /* empty on a first join */
    tn_kstr group_instance_id;    /* null unless static membership (accepted, treated as dynamic) */
    tn_kstr protocol_type;        /* "consumer" */
    int32_t nprotocols;
    const tn_group_protocol *protocols;
    int require_known_member_id; /* JoinGroup v4+: answer MEMBER_ID_REQUIRED first */
    tn_kstr client_id;           /* the request header's; DescribeGroups shows them */
    tn_kstr client_host;         /* the peer's address, without the port */
} tn_join_req;

typedef struct tn_join_member {
    tn_kstr member_id;
    tn_kstr group_instance_id;
    tn_kstr metadata; /* for the chosen protocol */
} tn_join_member;

typedef struct tn_join_resp {
    int16_t error_code;
    int32_t generation_id;
    tn_kstr protocol_type;
    tn_kstr protocol_name;
    tn_kstr leader;
    tn_kstr member_id;
    int32_t nmembers; /* only the leader gets the member list */
    const tn_join_member *members;
} tn_join_resp;

typedef struct tn_sync_assignment {
    tn_kstr member_id;
    tn_kstr assignment;
} tn_sync_assignment;

typedef struct tn_sync_req {
    tn_kstr group_id;
    int32_t generation_id;
    tn_kstr member_id;
    tn_kstr group_instance_id;
    int32_t nassignments; /* the leader's; 0 from followers */
    const tn_sync_assignment *assignments;
} tn_sync_req;

typedef struct tn_sync_resp {
    int16_t error_code;
    tn_kstr protocol_type;
    tn_kstr protocol_name;
    tn_kstr assignment;
} tn_sync_resp;

typedef struct tn_group_waiter tn_group_waiter;
struct tn_group_waiter {
    void (*join_done)(tn_group_waiter *w, const tn_join_resp *resp);
    void (*sync_done)(tn_group_waiter *w, const tn_sync_resp *resp);
    void *arg;
    /* coordinator-private below */
    tn_group_waiter *next;
    void *group;
};

typedef struct tn_groups_conf {
    int32_t min_session_timeout_ms;     /* default 6000 */
    int32_t max_session_timeout_ms;     /* default 1800000 */
    int32_t initial_rebalance_delay_ms; /* default 0: a first member starts at once */
    int32_t max_group_size;             /* default 1000 */
    uint32_t max_metadata_bytes;        /* commit metadata limit, default 4096 */
    int sync_commits; /* fdatasync the offsets file before answering (default 1) */
} tn_groups_conf;

void tn_groups_conf_default(tn_groups_conf *c);

/* Opens the coordinator and loads committed offsets from dir/offsets.log
 * (created if missing; a torn tail is ignored and truncated). */
tern_err tn_groups_open(const tn_disk *disk, const char *dir, const tn_groups_conf *conf,
                        tn_groups **out);
void tn_groups_close(tn_groups *g);

/* Starts a join; the answer comes through w->join_done, possibly before
 * this returns. */
void tn_group_join(tn_groups *g, const tn_join_req *req, tn_group_waiter *w, int64_t now_ms);
void tn_group_sync(tn_groups *g, const tn_sync_req *req, tn_group_waiter *w, int64_t now_ms);
int16_t tn_group_heartbeat(tn_groups *g, tn_kstr group_id, int32_t generation_id, tn_kstr member_id,
                           int64_t now_ms);
int16_t tn_group_leave(tn_groups *g, tn_kstr group_id, tn_kstr member_id, int64_t now_ms);
/* Withdraws a pending waiter (its connection closed); no callback runs. */
void tn_group_forget(tn_groups *g, tn_group_waiter *w);
/* Expires sessions and rebalance timeouts; returns the next time (ms) it
 * wants to be called, or INT64_MAX. */
int64_t tn_group_tick(tn_groups *g, int64_t now_ms);

/* One partition's committed offset. */
typedef struct tn_offset_commit {
    tn_kstr topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 if unknown */
    tn_kstr metadata;
    int16_t error_code; /* out */
} tn_offset_commit;

/* Checks membership (generation -1 with an empty member id is a simple,
 * group-less commit, allowed when the group has no members), stores
 * every offset durably, fills each error_code and returns the
 * request-level error (0 unless none could be stored). */
int16_t tn_group_commit(tn_groups *g, tn_kstr group_id, int32_t generation_id, tn_kstr member_id,
                        tn_offset_commit *offsets, int32_t n, int64_t now_ms);

/* The committed offset of one partition: 1 found (offset, leader_epoch,
 * metadata pointing into coordinator memory), 0 none. */
int tn_group_fetch_offset(tn_groups *g, tn_kstr group_id, tn_kstr topic, int32_t partition,
                          int64_t *offset, int32_t *leader_epoch, tn_kstr *metadata);
/* Calls fn for every committed offset of a group (OffsetFetch with null topics). */
void tn_group_each_offset(tn_groups *g, tn_kstr group_id,
                          void (*fn)(void *arg, tn_kstr topic, int32_t partition, int64_t offset,
                                     int32_t leader_epoch, tn_kstr metadata),
                          void *arg);
/* Forgets every committed offset of a deleted topic. */
void tn_groups_drop_topic(tn_groups *g, tn_kstr topic);

/* Read-only views for ListGroups and DescribeGroups. Every string points
 * into coordinator memory (state to a constant) and stays valid until the
 * next call that changes the coordinator (join, sync, heartbeat, leave,
 * forget, tick, commit, drop_topic, close); callbacks must not make such
 * calls. A null string (len < 0) is never handed out: absent values are
 * empty, except group_instance_id, null for dynamic members. */
typedef struct tn_group_info {
    tn_kstr group_id;
    const char *state;     /* as tn_group_state names it */
    tn_kstr protocol_type; /* empty while the group has no members */
    tn_kstr protocol_name; /* chosen for the current generation; empty in Empty and
                              PreparingRebalance, when none is */
    int32_t generation_id;
    int32_t nmembers;
} tn_group_info;

typedef struct tn_group_member_info {
    tn_kstr member_id;
    tn_kstr group_instance_id;
    tn_kstr client_id;
    tn_kstr client_host;
    tn_kstr metadata;   /* for protocol_name; empty when none is chosen */
    tn_kstr assignment; /* the leader's last for this member (kept through a rebalance
                           begun from Stable); empty before the leader's SyncGroup */
} tn_group_member_info;

/* Calls fn for every group the coordinator knows, in no particular order. */
void tn_groups_each(tn_groups *g, void (*fn)(void *arg, const tn_group_info *info), void *arg);
/* 1 with *info filled if the group is known, 0 if not. */
int tn_group_describe(tn_groups *g, tn_kstr group_id, tn_group_info *info);
/* Calls fn for each member of a group in join order (nothing if unknown). */
void tn_group_each_member(tn_groups *g, tn_kstr group_id,
                          void (*fn)(void *arg, const tn_group_member_info *m), void *arg);

/* For tests and quick checks: the group's state name
 * ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead")
 * and generation; NULL if unknown. */
const char *tn_group_state(tn_groups *g, tn_kstr group_id, int32_t *generation_id,
                           int32_t *members);

#endif
