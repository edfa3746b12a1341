/* Fuzzes the socket types' handling of what a peer controls: envelopes
 * (REP, ROUTER, REQ replies), routing ids, and subscriptions (XSUB to
 * XPUB, SUB filtering). Peers are inproc sockets, so an input runs in
 * microseconds and deterministically; the engine's side (bytes to
 * messages) is fuzz_zmtp's.
 *
 * Input: a list of steps, each [op][nparts][len part]... with op choosing
 * which pair of sockets the message travels between. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tern/tern.h"

enum { OP_TO_REP, OP_TO_ROUTER, OP_FROM_ROUTER, OP_XSUB_UP, OP_XPUB_DOWN, OP_REPLY_TO_REQ, OP_COUNT };

typedef struct rig {
    tern_socket rep, dealer, router, dealer2, xpub, xsub, sub, req, router2;
} rig;

static tern_ctx *ctx;
static unsigned generation;

static tern_socket open_sock(int type)
{
    tern_socket s = {0};
    if (tern_socket_open(ctx, type, &s) == TERN_OK)
        tern_setopt_int(s, TERN_OPT_LINGER, 0);
    return s;
}

static void link_pair(tern_socket binder, tern_socket connector, const char *what)
{
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://fuzz-%s-%u", what, generation);
    tern_bind(binder, ep);
    tern_connect(connector, ep);
}

static void rig_open(rig *r)
{
    generation++;
    r->rep = open_sock(TERN_REP);
    r->dealer = open_sock(TERN_DEALER);
    r->router = open_sock(TERN_ROUTER);
    r->dealer2 = open_sock(TERN_DEALER);
    tern_setopt_bytes(r->dealer2, TERN_OPT_ROUTING_ID, "peer", 4);
    tern_setopt_int(r->router, TERN_OPT_ROUTER_MANDATORY, generation & 1);
    r->xpub = open_sock(TERN_XPUB);
    tern_setopt_int(r->xpub, TERN_OPT_XPUB_VERBOSE, generation & 1);
    r->xsub = open_sock(TERN_XSUB);
    r->sub = open_sock(TERN_SUB);
    tern_setopt_bytes(r->sub, TERN_OPT_SUBSCRIBE, "a", 1);
    r->req = open_sock(TERN_REQ);
    tern_setopt_int(r->req, TERN_OPT_REQ_RELAXED, 1);
    r->router2 = open_sock(TERN_ROUTER);
    link_pair(r->rep, r->dealer, "rep");
    link_pair(r->router, r->dealer2, "router");
    link_pair(r->xpub, r->xsub, "xpub");
    link_pair(r->xpub, r->sub, "xpub2");
    link_pair(r->router2, r->req, "req");
}

static void rig_close(rig *r)
{
    tern_socket all[] = {r->rep, r->dealer, r->router, r->dealer2, r->xpub,
                         r->xsub, r->sub, r->req, r->router2};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        tern_socket_close(all[i]);
}

static void drain(tern_socket s)
{
    tern_msg *m;
    while (tern_msg_recv(s, &m, TERN_DONTWAIT) == TERN_OK)
        tern_msg_free(m);
}

static void send_or_free(tern_socket s, tern_msg *m)
{
    if (tern_msg_send(s, m, TERN_DONTWAIT) != TERN_OK)
        tern_msg_free(m);
}

/* Reads one message off the input; NULL when the input runs out. */
static tern_msg *take_msg(const uint8_t **data, size_t *size)
{
    if (*size < 1)
        return NULL;
    size_t nparts = (size_t)(*data)[0] % 6 + 1;
    (*data)++;
    (*size)--;
    tern_msg *m;
    if (tern_msg_new(&m) != TERN_OK)
        return NULL;
    for (size_t i = 0; i < nparts && *size > 0; i++) {
        size_t len = (*data)[0];
        (*data)++;
        (*size)--;
        if (len > *size)
            len = *size;
        tern_msg_append(m, *data, len);
        *data += len;
        *size -= len;
    }
    if (tern_msg_parts(m) == 0) {
        tern_msg_free(m);
        return NULL;
    }
    return m;
}

static void step(rig *r, int op, tern_msg *m)
{
    tern_msg *got;
    switch (op) {
    case OP_TO_REP: /* any envelope at all reaches a REP */
        send_or_free(r->dealer, m);
        if (tern_msg_recv(r->rep, &got, TERN_DONTWAIT) == TERN_OK)
            send_or_free(r->rep, got); /* echo: the envelope goes back */
        drain(r->dealer);
        break;
    case OP_TO_ROUTER:
        send_or_free(r->dealer2, m);
        if (tern_msg_recv(r->router, &got, TERN_DONTWAIT) == TERN_OK)
            send_or_free(r->router, got);
        drain(r->dealer2);
        break;
    case OP_FROM_ROUTER: /* part 0 names any peer, known or not */
        send_or_free(r->router, m);
        drain(r->dealer2);
        break;
    case OP_XSUB_UP: /* subscriptions and other messages upstream */
        send_or_free(r->xsub, m);
        drain(r->xpub);
        break;
    case OP_XPUB_DOWN:
        send_or_free(r->xpub, m);
        drain(r->xsub);
        drain(r->sub);
        break;
    case OP_REPLY_TO_REQ: /* the REQ's peer answers with anything */
        tern_send(r->req, "q", 1, TERN_DONTWAIT);
        if (tern_msg_recv(r->router2, &got, TERN_DONTWAIT) == TERN_OK && tern_msg_parts(got) > 0) {
            tern_msg *reply;
            if (tern_msg_new(&reply) == TERN_OK) {
                tern_msg_append(reply, tern_msg_data(got, 0), tern_msg_size(got, 0));
                for (size_t i = 0; i < tern_msg_parts(m); i++)
                    tern_msg_append(reply, tern_msg_data(m, i), tern_msg_size(m, i));
                send_or_free(r->router2, reply);
            }
            tern_msg_free(got);
        }
        tern_msg_free(m);
        drain(r->req);
        break;
    default:
        tern_msg_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx == NULL && tern_ctx_open(&ctx, 1) != TERN_OK)
        return 0;
    rig r;
    rig_open(&r);
    while (size > 1) {
        int op = data[0] % OP_COUNT;
        data++;
        size--;
        tern_msg *m = take_msg(&data, &size);
        if (m == NULL)
            break;
        step(&r, op, m);
    }
    rig_close(&r);
    return 0;
}
