/* A consumer's insides, shared by the fetching side (consumer.c) and the
 * group membership (group.c).
 *
 * Group membership, the classic protocol with eager rebalancing:
 *
 *   IDLE --subscribe--> JOIN --JoinGroup sent--> JOINING --answer--> SYNCING
 *                        ^                                             |
 *                        |   REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, | SyncGroup
 *                        |   UNKNOWN_MEMBER_ID (offsets committed and  | answered
 *                        |   partitions given up first)                 v
 *                        +------------------------------------------ STABLE
 *
 * JoinGroup and SyncGroup may be held by the coordinator for as long as
 * the group takes to gather, so they are sent once and their answers
 * awaited across polls; every other group request is a blocking call.
 * The coordinator has a connection of its own, so a held JoinGroup never
 * delays a fetch from the same broker. */
#ifndef TN_KCLIENT_CONSUMER_H
#define TN_KCLIENT_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka/batch.h"
#include "kclient/client.h"

typedef struct tn_kc_tp {
    char *topic;
    int32_t partition;
    int64_t position;       /* the next offset to hand out; -1: not known yet */
    int64_t committed;      /* the last position committed or read from the group; -1: none */
    tern_kafka_start start; /* how to find the position while it is -1 */
} tn_kc_tp;

/* Fetched records of one partition, handed out one by one. */
typedef struct tn_kc_chunk {
    size_t tp; /* index in tps */
    const uint8_t *p;
    size_t n, off; /* the record batches, and how far they are read */
    bool in_batch;
    tn_batch batch;
    tn_record_iter it;
} tn_kc_chunk;

typedef enum tn_kc_gstate {
    TN_KG_IDLE,
    TN_KG_JOIN,
    TN_KG_JOINING,
    TN_KG_SYNCING,
    TN_KG_STABLE,
} tn_kc_gstate;

typedef struct tn_kc_group {
    tn_kc_gstate state;
    tn_kc_conn *coord; /* NULL: to be found */
    char *member_id;   /* "" until the coordinator names one */
    int32_t generation;
    uint64_t sent_ns;      /* when the held JoinGroup or SyncGroup went */
    uint64_t heartbeat_ns; /* when the next heartbeat is due */
    uint64_t retry_ns;     /* no coordinator request before this */
} tn_kc_group;

struct tern_kafka_consumer {
    tern_kafka *k;
    tern_kafka_consumer_opts o;
    char *group;    /* NULL: none */
    char *assignor; /* preferred protocol */
    char **subs;    /* subscribed topics */
    size_t nsubs;
    tn_kc_tp *tps; /* assigned partitions */
    size_t ntps;
    tn_kc_chunk *chunks; /* fetched, being handed out */
    size_t nchunks, cur;
    uint8_t **bufs; /* the responses chunks point into */
    size_t nbufs;
    tn_kc_group g;
};

/* Drops every fetched record and the assignment. */
void tn_kc_consumer_revoke(tern_kafka_consumer *c);
/* Replaces the assignment; topics are copied. Positions start unknown,
 * to be found from start. */
tern_err tn_kc_consumer_set(tern_kafka_consumer *c, const tn_kc_preq *parts, size_t n,
                            tern_kafka_start start);

/* Moves the membership on (see the diagram) until it is STABLE (TERN_OK,
 * with a heartbeat sent if one was due) or deadline passes: TERN_EAGAIN,
 * or the passing failure that held it up (TERN_EUNAVAILABLE ... with a
 * coordinator away). Other errors are the group's refusal: the member
 * cannot go on. */
tern_err tn_kc_group_step(tern_kafka_consumer *c, uint64_t deadline);
/* When the next heartbeat is due (UINT64_MAX if none). */
uint64_t tn_kc_group_due(const tern_kafka_consumer *c);
/* Commits the positions that moved. */
tern_err tn_kc_group_commit(tern_kafka_consumer *c, uint64_t deadline);
/* The committed offsets of tps idx[0..n) into their committed fields (-1
 * for none). */
tern_err tn_kc_group_committed(tern_kafka_consumer *c, const size_t *idx, size_t n,
                               uint64_t deadline);
/* Leaves the group, if a member, and closes the coordinator's connection. */
tern_err tn_kc_group_leave(tern_kafka_consumer *c, uint64_t deadline);

#endif
