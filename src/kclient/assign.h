/* The client-side partition assignors a group's leader runs, as the Java
 * client defines them so that members of any client agree:
 *
 *   range       per topic, its subscribers in member order each take a
 *               contiguous run of partitions; the first (count mod
 *               members) take one more.
 *   roundrobin  every subscribed partition, ordered by topic then number,
 *               dealt in turn to the members in order, skipping those not
 *               subscribed to its topic.
 *
 * Member order: members with a group instance id first, by it; then by
 * member id (byte order). */
#ifndef TN_KCLIENT_ASSIGN_H
#define TN_KCLIENT_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "kclient/proto.h"

typedef struct tn_kc_member {
    tn_kstr id;
    tn_kstr instance; /* len < 0: none */
    tn_kstr *topics;  /* its subscription */
    int32_t ntopics;
} tn_kc_member;

typedef struct tn_kc_topic_count {
    const char *name;
    int32_t partitions; /* <= 0: unknown, not assigned */
} tn_kc_topic_count;

/* One member's share: topic names point into the topic table. */
typedef struct tn_kc_share {
    tn_kc_preq *parts; /* malloc'd */
    size_t n;
} tn_kc_share;

/* protocol "range" or "roundrobin" (else TERN_ENOTSUP). out has a share
 * per member; free them with tn_kc_shares_free. */
tern_err tn_kc_assign(const char *protocol, const tn_kc_member *members, size_t nmembers,
                      const tn_kc_topic_count *topics, size_t ntopics, tn_kc_share *out);
void tn_kc_shares_free(tn_kc_share *shares, size_t n);

#endif
