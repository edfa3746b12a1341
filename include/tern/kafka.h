/* tern kafka: a client of the Kafka wire protocol, for tern's own broker
 * (tern broker) and for Apache Kafka 3.x and 4.x alike.
 *
 * A client (tern_kafka) is bootstrapped from "host:port[,host:port...]"
 * and learns the cluster from Metadata: it talks to each partition's
 * leader and to a group's coordinator over one connection per broker.
 * With it: topic administration, a producer call, and consumers, either
 * standalone (partitions assigned by hand) or members of a consumer group
 * (the classic group protocol with the "consumer" protocol type, so they
 * share a group with Java and librdkafka consumers; the "range" and
 * "roundrobin" assignors run in the group's leader).
 *
 * Every call blocks, bounded by a deadline: the client's timeout, or the
 * poll's own. No threads: a group member heartbeats from
 * tern_kafka_poll, so poll at least every heartbeat interval.
 *
 * A client and its consumers are used by one thread at a time. A failed
 * call returns a tern_err and leaves a sentence in
 * tern_kafka_last_error(). Produced batches are uncompressed; a consumer
 * that meets a compressed batch fails with TERN_ENOTSUP naming the codec. */
#ifndef TERN_KAFKA_H
#define TERN_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- client ----------------------------------------------------------- */

typedef struct tern_kafka tern_kafka;

typedef struct tern_kafka_opts {
    const char *brokers;   /* "host:port[,host:port...]"; default "localhost:9092" */
    const char *client_id; /* sent with every request; default "tern" */
    int64_t timeout_ms;    /* deadline of each blocking call; default 30000 */
} tern_kafka_opts;

TERN_API void tern_kafka_opts_init(tern_kafka_opts *opts);
/* Connects to the first bootstrap broker that answers and reads the
 * cluster's metadata. TERN_EADDRINVAL for a malformed broker list,
 * TERN_ECONNREFUSED, TERN_EUNAVAILABLE or TERN_ETIMEDOUT when no broker
 * answers (tern_kafka_last_error(NULL) says why). */
TERN_API tern_err tern_kafka_open(const tern_kafka_opts *opts, tern_kafka **out);
/* Closes the connections. Consumers of the client must be closed first. */
TERN_API void tern_kafka_close(tern_kafka *k);
/* The sentence explaining the last failed call on k ("cannot reach broker
 * localhost:9092: connection refused"); with k NULL, the last failed
 * tern_kafka_open on this thread. Never NULL. */
TERN_API const char *tern_kafka_last_error(const tern_kafka *k);

/* ---- topics ----------------------------------------------------------- */

typedef struct tern_kafka_config {
    const char *name; /* "retention.ms", "cleanup.policy", ... */
    const char *value;
} tern_kafka_config;

/* partitions and replication_factor -1 take the broker's defaults.
 * TERN_EEXIST if the topic exists, TERN_EINVAL for a refused name, count
 * or config. */
TERN_API tern_err tern_kafka_topic_create(tern_kafka *k, const char *topic, int32_t partitions,
                                          int16_t replication_factor,
                                          const tern_kafka_config *configs, size_t nconfigs);
/* TERN_ENOENT if there is no such topic. */
TERN_API tern_err tern_kafka_topic_delete(tern_kafka *k, const char *topic);

typedef struct tern_kafka_topic_entry {
    const char *name;
    int32_t partitions;
    bool internal; /* a broker's own topic, such as __consumer_offsets */
} tern_kafka_topic_entry;

/* Every topic, sorted by name. *out is malloc'd in one block: free() it. */
typedef struct tern_kafka_topics {
    size_t n;
    tern_kafka_topic_entry *topics;
} tern_kafka_topics;

TERN_API tern_err tern_kafka_topic_list(tern_kafka *k, tern_kafka_topics **out);

typedef struct tern_kafka_partition_desc {
    int32_t partition;
    int16_t error;           /* the Kafka error code for the partition; 0 when fine */
    int32_t leader;          /* node id; -1 when it has none */
    const char *leader_addr; /* "host:port"; "" when unknown */
    int32_t replicas, isr;   /* how many of each */
    int64_t start_offset;    /* the earliest offset kept; -1 when unknown */
    int64_t end_offset;      /* the offset the next record gets; -1 when unknown */
} tern_kafka_partition_desc;

typedef struct tern_kafka_topic_desc {
    const char *name;
    bool internal;
    size_t npartitions;
    tern_kafka_partition_desc *partitions; /* by partition number */
} tern_kafka_topic_desc;

/* A topic's partitions, their leaders and offsets (asked of each leader).
 * TERN_ENOENT if there is no such topic. *out is malloc'd in one block:
 * free() it. */
TERN_API tern_err tern_kafka_topic_describe(tern_kafka *k, const char *topic,
                                            tern_kafka_topic_desc **out);
/* The Kafka protocol's name of an error code ("NOT_LEADER_OR_FOLLOWER");
 * "UNKNOWN" for codes it does not know. Never NULL. */
TERN_API const char *tern_kafka_error_name(int16_t code);

/* ---- producing -------------------------------------------------------- */

#define TERN_KAFKA_ACKS_NONE 0   /* no answer: offsets stay -1 */
#define TERN_KAFKA_ACKS_LEADER 1 /* the leader has it in its log */
#define TERN_KAFKA_ACKS_ALL (-1) /* every in-sync replica has it */
#define TERN_KAFKA_ANY_PARTITION (-1)

typedef struct tern_kafka_record {
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: a null value (a tombstone) */
    size_t value_len;
    /* In: the partition, or TERN_KAFKA_ANY_PARTITION to choose one: the
     * Java client's murmur2 hash of the key, and for keyless records of one
     * call a single partition, the next one on each call. Out: the
     * partition written. */
    int32_t partition;
    int64_t offset; /* out: the record's offset; -1 with acks 0 or on failure */
    tern_err err;   /* out: TERN_OK once acknowledged (sent, with acks 0) */
} tern_kafka_record;

/* Sends the records to topic, in order per partition, with acks
 * TERN_KAFKA_ACKS_NONE, _LEADER or _ALL. A topic the broker does not know
 * is created if its broker auto-creates topics. Records go in one batch per
 * partition and request (several requests for more than about 1 MiB), to
 * each partition's leader; a request the leader refused without storing
 * it (leadership moved) is retried until the deadline. Returns TERN_OK when
 * every record was acknowledged, else the first record's failure (each
 * record's err says which). */
TERN_API tern_err tern_kafka_produce(tern_kafka *k, const char *topic, int acks,
                                     tern_kafka_record *recs, size_t n);

/* ---- consuming -------------------------------------------------------- */

typedef struct tern_kafka_consumer tern_kafka_consumer;

typedef enum tern_kafka_start {
    TERN_KAFKA_EARLIEST = 0,  /* the first offset kept */
    TERN_KAFKA_LATEST = 1,    /* only records produced from now on */
    TERN_KAFKA_COMMITTED = 2, /* the group's committed offset, else opts.reset */
} tern_kafka_start;

typedef struct tern_kafka_consumer_opts {
    const char *group;    /* the group id; NULL for none (no subscribe, no commits) */
    const char *assignor; /* "range" (default) or "roundrobin"; the other is offered too */
    /* Where to start without a committed offset, and after an offset out
     * of range: EARLIEST or LATEST (default). */
    tern_kafka_start reset;
    int32_t session_timeout_ms;    /* default 10000 */
    int32_t rebalance_timeout_ms;  /* default 30000 */
    int32_t heartbeat_interval_ms; /* default 3000 */
    int32_t fetch_max_wait_ms;     /* longest a fetch waits for data; default 500 */
    int32_t partition_max_bytes;   /* per partition and fetch; default 1 MiB */
} tern_kafka_consumer_opts;

TERN_API void tern_kafka_consumer_opts_init(tern_kafka_consumer_opts *opts);
TERN_API tern_err tern_kafka_consumer_open(tern_kafka *k, const tern_kafka_consumer_opts *opts,
                                           tern_kafka_consumer **out);
/* Commits the group's offsets (as tern_kafka_commit), leaves the group and
 * frees the consumer. Returns the commit's or the leave's failure, if any;
 * the consumer is freed whatever it returns. */
TERN_API tern_err tern_kafka_consumer_close(tern_kafka_consumer *c);

typedef struct tern_kafka_tp {
    const char *topic;
    int32_t partition;
} tern_kafka_tp;

/* Standalone: reads exactly these partitions, each from start
 * (TERN_KAFKA_COMMITTED needs a group). Replaces any earlier assignment;
 * not with subscribe. */
TERN_API tern_err tern_kafka_assign(tern_kafka_consumer *c, const tern_kafka_tp *tps, size_t n,
                                    tern_kafka_start start);
/* Joins the group (opts.group) with a subscription to topics; the group's
 * leader assigns partitions, which start at the committed offsets. The
 * join itself happens in tern_kafka_poll. */
TERN_API tern_err tern_kafka_subscribe(tern_kafka_consumer *c, const char *const *topics, size_t n);

typedef struct tern_kafka_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: a null value */
    size_t value_len;
} tern_kafka_message;

/* The next record, waiting up to timeout_ms for one (0: only what is at
 * hand or comes back from one fetch that does not wait). TERN_ETIMEDOUT
 * when none came; TERN_EUNAVAILABLE or TERN_ECONNREFUSED when a broker
 * could not be asked (polling again tries again). msg's pointers stay
 * valid until the next poll or close.
 * Heartbeats, rebalances and leader changes are handled in here; a join
 * or a request to a slow broker may overrun timeout_ms by the client's
 * timeout at most. */
TERN_API tern_err tern_kafka_poll(tern_kafka_consumer *c, int64_t timeout_ms,
                                  tern_kafka_message *msg);
/* Commits, for the group, the position (the offset after the last record
 * polled) of each assigned partition that moved since its last commit. */
TERN_API tern_err tern_kafka_commit(tern_kafka_consumer *c);
/* The partitions assigned now (a member's change with rebalances): up to
 * cap of them into tps, their count in *n. Topic names stay valid until
 * the next poll, assign or close. */
TERN_API void tern_kafka_assignment(const tern_kafka_consumer *c, tern_kafka_tp *tps, size_t cap,
                                    size_t *n);

#ifdef __cplusplus
}
#endif
#endif
