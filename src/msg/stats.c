/* Counters: the socket's totals and a snapshot of each attached peer. */
#include <string.h>

#include "msg/sock.h"
#include "msg/subs.h"

tern_err tern_socket_stats(tern_socket h, tern_sock_stats *st)
{
    if (st == NULL)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&s->lock);
    st->msgs_in = s->msgs_in;
    st->msgs_out = s->msgs_out;
    st->bytes_in = s->bytes_in;
    st->bytes_out = s->bytes_out;
    st->drops = s->drops;
    st->peers = (uint32_t)tn_sock_live(s);
    pthread_mutex_unlock(&s->lock);
    st->accepted = atomic_load(&s->io.accepted);
    st->connected = atomic_load(&s->io.connected);
    st->handshakes = atomic_load(&s->io.handshakes);
    st->handshake_failures = atomic_load(&s->io.handshake_failures);
    st->disconnects = atomic_load(&s->io.disconnects);
    st->reconnects = atomic_load(&s->io.reconnects);
    st->events_dropped = atomic_load(&s->io.events_dropped);
    tn_sock_unpin(s);
    return TERN_OK;
}

tern_err tern_socket_peers(tern_socket h, tern_peer_stats *peers, size_t cap, size_t *n)
{
    if (n == NULL || (peers == NULL && cap > 0))
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    size_t k = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (atomic_load(&p->dead))
            continue;
        if (k < cap) {
            tern_peer_stats *ps = &peers[k];
            memset(ps, 0, sizeof(*ps));
            memcpy(ps->address, p->peer, sizeof(ps->address) - 1);
            ps->type = p->peer_type;
            memcpy(ps->routing_id, p->rid, p->rid_len);
            ps->routing_id_len = p->rid_len;
            ps->msgs_in = p->msgs_in;
            ps->msgs_out = p->msgs_out;
            ps->drops = p->drops;
            ps->queued_out = p->ops->pending(p);
            ps->subscriptions = (int)tn_subs_count(p->subs);
        }
        k++;
    }
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    *n = k;
    return TERN_OK;
}
