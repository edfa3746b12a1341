/* ROUTER: every peer has a routing id — the Identity it sent in READY, or
 * one made up here (5 bytes: a zero, then a counter). Received messages get
 * the sender's id as part 0; a sent message's part 0 names its peer. */
#include <stdlib.h>
#include <string.h>

#include "base/endian.h"
#include "base/trace.h"
#include "msg/sock.h"

#define BIT(t) (1u << (t))

/* Gives p a made-up routing id no other pipe has. */
static void make_rid(tn_sock *s, tn_pipe *p)
{
    if (s->next_rid == 0)
        s->next_rid = (uint32_t)tern_clock_ns() | 1;
    uint8_t rid[5] = {0};
    tn_pipe *other;
    do {
        tn_put_be32(rid + 1, s->next_rid++);
        other = tn_sock_find_rid(s, rid, sizeof(rid));
    } while (other != NULL && other != p);
    memcpy(p->rid, rid, sizeof(rid));
    p->rid_len = sizeof(rid);
}

static tern_err router_attach(tn_sock *s, tn_pipe *p)
{
    if (p->rid_len == 0) {
        make_rid(s, p);
        return TERN_OK;
    }
    tn_pipe *old = tn_sock_find_rid(s, p->rid, p->rid_len);
    if (old == NULL)
        return TERN_OK;
    if (!s->opt.router_handover) {
        tn_trace(TERN_TRACE_MSG, "socket %u (ROUTER): %s refused: routing id already in use", s->id,
                 p->peer);
        return TERN_EEXIST;
    }
    /* The newcomer takes the name; the old connection is renamed, so
     * nothing more goes to it, and closed (what it sent stays readable). */
    make_rid(s, old);
    tn_trace(TERN_TRACE_MSG, "socket %u (ROUTER): %s takes over a routing id from %s", s->id,
             p->peer, old->peer);
    old->ops->disconnect(old, "routing id taken over by a new connection");
    return TERN_OK;
}

static tern_err router_send(tn_sock *s, tern_msg *m)
{
    if (m->nparts < 2 || m->parts[0].size > 255)
        return TERN_EINVAL;
    tn_pipe *p = tn_sock_find_rid(s, m->parts[0].data, m->parts[0].size);
    if (p == NULL) {
        if (s->opt.router_mandatory)
            return TERN_EHOSTUNREACH;
        tn_sock_drop(s, NULL, "no peer with that routing id");
        tern_msg_free(m);
        return TERN_OK;
    }
    if (!p->ops->writable(p)) {
        if (s->opt.router_mandatory)
            return TERN_EAGAIN;
        tn_sock_drop(s, p, "peer at its high-water mark");
        tern_msg_free(m);
        return TERN_OK;
    }
    tn_msg_move_front(m, 1, NULL);
    tn_pipe_put(p, m);
    return TERN_OK;
}

static tern_err router_send_bytes(tn_sock *s, const void *data, size_t len)
{
    (void)s;
    (void)data;
    (void)len;
    return TERN_EINVAL; /* one part cannot hold both a routing id and a body */
}

static tern_err router_recv(tn_sock *s, tern_msg **mp)
{
    tern_msg *m;
    tn_pipe *p;
    while ((p = tn_sock_pop(s, &m)) != NULL) {
        s->last_in = p;
        if (tn_msg_push_front(m, p->rid, p->rid_len) == TERN_OK) {
            *mp = m;
            return TERN_OK;
        }
        tn_sock_drop(s, p, "out of memory adding the routing id");
        tern_msg_free(m);
    }
    s->last_in = NULL;
    return TERN_EAGAIN;
}

static int router_can_send(tn_sock *s)
{
    (void)s;
    return 1; /* the destination is only known at send time */
}

const tn_pattern tn_pattern_router = {
    .type = TERN_ROUTER, .name = "ROUTER",
    .peers = BIT(TERN_REQ) | BIT(TERN_DEALER) | BIT(TERN_ROUTER),
    .send = router_send, .send_bytes = router_send_bytes, .recv = router_recv,
    .attach = router_attach, .can_send = router_can_send,
};
