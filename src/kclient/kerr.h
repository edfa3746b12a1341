/* Kafka error codes as the client sees them: their names, the tern_err
 * each becomes, and whether a request that got one may simply be retried
 * once the client knows the cluster anew. */
#ifndef TN_KCLIENT_KERR_H
#define TN_KCLIENT_KERR_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka/api.h"
#include "tern/base.h"

/* Codes kafka/api.h does not name, used by the client. */
enum {
    TN_KCE_BROKER_NOT_AVAILABLE = 8,
    TN_KCE_REPLICA_NOT_AVAILABLE = 9,
    TN_KCE_NETWORK_EXCEPTION = 13,
    TN_KCE_COORDINATOR_LOAD_IN_PROGRESS = 14,
    TN_KCE_NOT_COORDINATOR = 16,
    TN_KCE_NOT_ENOUGH_REPLICAS = 19,
    TN_KCE_ILLEGAL_GENERATION = 22,
    TN_KCE_UNKNOWN_MEMBER_ID = 25,
    TN_KCE_REBALANCE_IN_PROGRESS = 27,
    TN_KCE_TOPIC_AUTHORIZATION_FAILED = 29,
    TN_KCE_GROUP_AUTHORIZATION_FAILED = 30,
    TN_KCE_CLUSTER_AUTHORIZATION_FAILED = 31,
    TN_KCE_NOT_CONTROLLER = 41,
    TN_KCE_FENCED_LEADER_EPOCH = 74,
    TN_KCE_UNKNOWN_LEADER_EPOCH = 75,
    TN_KCE_MEMBER_ID_REQUIRED = 79,
    TN_KCE_UNSTABLE_OFFSET_COMMIT = 88,
};

/* The closest tern_err; TERN_OK for 0. */
tern_err tn_kc_err_map(int16_t code);
/* The broker did not act on the request because of where it was sent or
 * a passing state (leadership moving, a topic being created): the same
 * request may go again after a metadata refresh. */
bool tn_kc_err_retriable(int16_t code);
/* A group's coordinator moved or is not ready. */
bool tn_kc_err_coordinator(int16_t code);

#endif
