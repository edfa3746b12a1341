/* Socket types as ops tables. PAIR talks to one PAIR; PUSH round-robins
 * over its PULL peers; PULL fair-queues from its PUSH peers. */
#include <string.h>

#include "msg/sock.h"

#define BIT(t) (1u << (t))

static const tn_pattern patterns[] = {
    {TERN_PAIR, "PAIR", BIT(TERN_PAIR), 1, tn_sock_send_rr, tn_sock_send_bytes_rr, tn_sock_recv_fq},
    {TERN_PUSH, "PUSH", BIT(TERN_PULL), 0, tn_sock_send_rr, tn_sock_send_bytes_rr,
     tn_sock_refuse_recv},
    {TERN_PULL, "PULL", BIT(TERN_PUSH), 0, tn_sock_refuse_send, tn_sock_refuse_send_bytes,
     tn_sock_recv_fq},
};

/* Every ZMTP socket type name, implemented here or not, so a peer of a
 * known but incompatible type is told so by name. */
static const char *const type_names[] = {
    [TERN_PAIR] = "PAIR",     [TERN_PUB] = "PUB",   [TERN_SUB] = "SUB",   [TERN_REQ] = "REQ",
    [TERN_REP] = "REP",       [TERN_DEALER] = "DEALER", [TERN_ROUTER] = "ROUTER",
    [TERN_PULL] = "PULL",     [TERN_PUSH] = "PUSH", [TERN_XPUB] = "XPUB", [TERN_XSUB] = "XSUB",
};

const tn_pattern *tn_pattern_find(int type)
{
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (patterns[i].type == type)
            return &patterns[i];
    }
    return NULL;
}

int tn_pattern_type_by_name(const uint8_t *name, size_t len)
{
    for (int t = 0; t < (int)(sizeof(type_names) / sizeof(type_names[0])); t++) {
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
            return t;
    }
    return -1;
}
