/* The socket types' table, and the simple ones: PAIR talks to one PAIR;
 * PUSH round-robins over its PULL peers; PULL fair-queues from its PUSH
 * peers; DEALER does both, with REP, DEALER and ROUTER peers. */
#include <string.h>

#include "msg/sock.h"

#define BIT(t) (1u << (t))

const tn_pattern tn_pattern_pair = {
    .type = TERN_PAIR, .name = "PAIR", .peers = BIT(TERN_PAIR), .max_peers = 1,
    .send = tn_sock_send_rr, .send_bytes = tn_sock_send_bytes_rr, .recv = tn_sock_recv_fq,
};

const tn_pattern tn_pattern_push = {
    .type = TERN_PUSH, .name = "PUSH", .peers = BIT(TERN_PULL),
    .send = tn_sock_send_rr, .send_bytes = tn_sock_send_bytes_rr, .recv = tn_sock_refuse_recv,
};

const tn_pattern tn_pattern_pull = {
    .type = TERN_PULL, .name = "PULL", .peers = BIT(TERN_PUSH),
    .send = tn_sock_refuse_send, .send_bytes = tn_sock_refuse_send_bytes, .recv = tn_sock_recv_fq,
};

const tn_pattern tn_pattern_dealer = {
    .type = TERN_DEALER, .name = "DEALER", .peers = BIT(TERN_REP) | BIT(TERN_DEALER) | BIT(TERN_ROUTER),
    .send = tn_sock_send_rr, .send_bytes = tn_sock_send_bytes_rr, .recv = tn_sock_recv_fq,
};

static const tn_pattern *const patterns[] = {
    [TERN_PAIR] = &tn_pattern_pair,     [TERN_PUB] = &tn_pattern_pub,
    [TERN_SUB] = &tn_pattern_sub,       [TERN_REQ] = &tn_pattern_req,
    [TERN_REP] = &tn_pattern_rep,       [TERN_DEALER] = &tn_pattern_dealer,
    [TERN_ROUTER] = &tn_pattern_router, [TERN_PULL] = &tn_pattern_pull,
    [TERN_PUSH] = &tn_pattern_push,     [TERN_XPUB] = &tn_pattern_xpub,
    [TERN_XSUB] = &tn_pattern_xsub,
};

#define NTYPES (int)(sizeof(patterns) / sizeof(patterns[0]))

const tn_pattern *tn_pattern_find(int type)
{
    return type >= 0 && type < NTYPES ? patterns[type] : NULL;
}

const char *tn_pattern_type_name(int type)
{
    return type >= 0 && type < NTYPES ? patterns[type]->name : "?";
}

int tn_pattern_type_by_name(const uint8_t *name, size_t len)
{
    for (int t = 0; t < NTYPES; t++) {
        if (strlen(patterns[t]->name) == len && memcmp(patterns[t]->name, name, len) == 0)
            return t;
    }
    return -1;
}
