/* The "consumer" protocol type's member metadata, as the Java client and
 * librdkafka write it (ConsumerProtocolSubscription and
 * ConsumerProtocolAssignment): what a member subscribes to, sent in
 * JoinGroup, and the partitions the leader gives it, sent in SyncGroup.
 * Newer versions only add fields at the end, so decoders read the fields
 * they know from any version and ignore the rest. */
#ifndef TN_KCLIENT_CPROTO_H
#define TN_KCLIENT_CPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "kclient/proto.h"

/* The most partitions one member's assignment may hold, and topics its
 * subscription may name. */
#define TN_KC_MAX_ASSIGNED 100000
#define TN_KC_MAX_SUBSCRIBED 10000

/* Subscription v1: the topics, no user data, no owned partitions (an
 * eager member gives up its partitions before it joins). */
void tn_kc_enc_subscription(tn_kw *w, const char *const *topics, size_t n);
/* *topics (malloc'd, pointing into p) gets the subscribed topics. */
tern_err tn_kc_dec_subscription(const uint8_t *p, size_t n, tn_kstr **topics, int32_t *ntopics);

/* Assignment v0: parts' topics and partitions. */
void tn_kc_enc_assignment(tn_kw *w, const tn_kc_preq *parts, size_t n);
/* *out (malloc'd, pointing into p) gets the topics and partitions; an
 * empty buffer is an empty assignment. */
tern_err tn_kc_dec_assignment(const uint8_t *p, size_t n, tn_kc_pres **out, size_t *nout);

#endif
