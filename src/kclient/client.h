/* The client handle's insides: the brokers it knows (one connection per
 * node id, opened when first needed), the topics' partitions and leaders
 * as the last Metadata said, and the last error's sentence. The admin,
 * producer and consumer code builds on these calls.
 *
 * A connection pointer is good until the next metadata refresh, which
 * may close connections to brokers that moved or left. */
#ifndef TN_KCLIENT_CLIENT_H
#define TN_KCLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kclient/conn.h"
#include "kclient/proto.h"
#include "tern/kafka.h"

/* Largest response accepted to anything but a Fetch. */
#define TN_KC_MAX_RESPONSE (16u << 20)
/* Pause between retries of a request the cluster was not ready for. */
#define TN_KC_BACKOFF_MS 100

typedef struct tn_kc_node {
    int32_t id;
    char *host;
    uint16_t port;
    tn_kc_conn *conn; /* NULL until needed */
} tn_kc_node;

typedef struct tn_kc_topic {
    char *name;
    int16_t error; /* the topic's error in the last Metadata */
    int32_t npart;
    int32_t *leaders; /* by partition; -1: none */
} tn_kc_topic;

typedef struct tn_kc_hostport {
    char *host;
    uint16_t port;
} tn_kc_hostport;

struct tern_kafka {
    char *client_id;
    int64_t timeout_ms;
    tn_kc_hostport *boot;
    size_t nboot;
    tn_kc_conn *boot_conn; /* to a bootstrap address, until nodes are known */
    tn_kc_node *nodes;
    size_t nnodes;
    int32_t controller;
    tn_kc_topic *topics;
    size_t ntopics;
    uint32_t sticky; /* partition counter for keyless records */
    char err[2 * TN_KC_ERR_MAX];
};

/* Sets k->err; returns err. */
__attribute__((format(printf, 3, 4))) tern_err tn_kc_fail(tern_kafka *k, tern_err err,
                                                          const char *fmt, ...);
uint64_t tn_kc_deadline(const tern_kafka *k);
/* deadline (ns) has passed. */
bool tn_kc_expired(uint64_t deadline);
/* Sleeps TN_KC_BACKOFF_MS, or until deadline if sooner. */
void tn_kc_backoff(uint64_t deadline);

/* Parses "host:port[,host:port...]" ("[v6]:port" too). */
tern_err tn_kc_parse_brokers(const char *list, tn_kc_hostport **out, size_t *n);
void tn_kc_hostports_free(tn_kc_hostport *hp, size_t n);

/* The connection to node id, opened if need be. */
tern_err tn_kc_node_conn(tern_kafka *k, int32_t id, uint64_t deadline, tn_kc_conn **out);
/* A connection to any broker: one already open, else the nodes and the
 * bootstrap addresses in turn. */
tern_err tn_kc_any_conn(tern_kafka *k, uint64_t deadline, tn_kc_conn **out);
/* "host:port" of node id, or "" if unknown. */
const char *tn_kc_node_addr(const tern_kafka *k, int32_t id, char *buf, size_t cap);
/* Records a failed send or receive on c in k->err ("broker H:P: ...")
 * and closes c if it broke. Returns err. */
tern_err tn_kc_conn_failed(tern_kafka *k, tn_kc_conn *c, tern_err err);
/* Sends req (built with tn_kc_req_begin/end) on c and waits for its
 * response. */
tern_err tn_kc_call(tern_kafka *k, tn_kc_conn *c, tn_kw *req, uint64_t deadline, tn_kr *body);

/* Asks for metadata (topics as tn_kc_enc_metadata) and updates the node
 * table, and the topic cache with the topics named. With md non-NULL the
 * decoded response is handed over too: it points into *buf (free both
 * after). */
tern_err tn_kc_refresh(tern_kafka *k, const char *const *topics, size_t n, bool all,
                       bool auto_create, uint64_t deadline, tn_kc_md *md, uint8_t **buf);
/* The cached topic, or NULL. */
tn_kc_topic *tn_kc_topic_find(tern_kafka *k, const char *name);
/* The topic with a leader for every partition: from the cache, else
 * refreshed (and retried while the cluster settles, as after an
 * auto-creation) until deadline. */
tern_err tn_kc_topic_ready(tern_kafka *k, const char *name, bool auto_create, uint64_t deadline,
                           tn_kc_topic **out);

/* ListOffsets for parts (value: TN_KC_TS_EARLIEST or _LATEST; each
 * partition at most once: a request may not name one twice), each sent
 * to its partition's leader; offsets[i] and errors[i] get each one's
 * answer (-1 and the Kafka error code when it failed). Fails only when
 * no leader could be asked. */
tern_err tn_kc_list_offsets(tern_kafka *k, const tn_kc_preq *parts, size_t n, uint64_t deadline,
                            int64_t *offsets, int16_t *errors);

#endif
