/* Socket events: counted always, published to a monitor PAIR socket when
 * one is set. An event message is four parts: [event u16 BE, value i64 BE]
 * [endpoint] [peer] [detail]; tern_event_decode reads it back. */
#include <string.h>

#include "base/endian.h"
#include "msg/sock.h"

#define EVENT_HEAD 10

static const struct {
    int event;
    const char *name;
} names[] = {
    {TERN_EV_LISTENING, "LISTENING"},
    {TERN_EV_ACCEPTED, "ACCEPTED"},
    {TERN_EV_CONNECTED, "CONNECTED"},
    {TERN_EV_HANDSHAKE_OK, "HANDSHAKE_OK"},
    {TERN_EV_HANDSHAKE_FAILED, "HANDSHAKE_FAILED"},
    {TERN_EV_DISCONNECTED, "DISCONNECTED"},
    {TERN_EV_RECONNECT, "RECONNECT"},
    {TERN_EV_CLOSED, "CLOSED"},
};

const char *tern_event_name(int event)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].event == event)
            return names[i].name;
    }
    return "UNKNOWN";
}

static void count(tn_sock *s, int event)
{
    tn_io_stats *io = &s->io;
    switch (event) {
    case TERN_EV_ACCEPTED: atomic_fetch_add(&io->accepted, 1); break;
    case TERN_EV_CONNECTED: atomic_fetch_add(&io->connected, 1); break;
    case TERN_EV_HANDSHAKE_OK: atomic_fetch_add(&io->handshakes, 1); break;
    case TERN_EV_HANDSHAKE_FAILED: atomic_fetch_add(&io->handshake_failures, 1); break;
    case TERN_EV_DISCONNECTED: atomic_fetch_add(&io->disconnects, 1); break;
    case TERN_EV_RECONNECT: atomic_fetch_add(&io->reconnects, 1); break;
    default: break;
    }
}

static tern_err append_str(tern_msg *m, const char *str)
{
    return tern_msg_append(m, str ? str : "", str ? strlen(str) : 0);
}

void tn_sock_event(tn_sock *s, int event, int64_t value, const char *endpoint, const char *peer,
                   const char *detail)
{
    count(s, event);
    tern_socket mon = {atomic_load(&s->monitor)};
    if (mon.id == 0 || !(atomic_load(&s->monitor_events) & event))
        return;
    tern_msg *m;
    uint8_t *head;
    if (tern_msg_alloc(&m, EVENT_HEAD) != TERN_OK) {
        atomic_fetch_add(&s->io.events_dropped, 1);
        return;
    }
    head = tern_msg_data(m, 0);
    tn_put_be16(head, (uint16_t)event);
    tn_put_be64(head + 2, (uint64_t)value);
    tern_err err = append_str(m, endpoint);
    if (err == TERN_OK)
        err = append_str(m, peer);
    if (err == TERN_OK)
        err = append_str(m, detail);
    if (err == TERN_OK)
        err = tern_msg_send(mon, m, TERN_DONTWAIT);
    if (err != TERN_OK) {
        tern_msg_free(m);
        if (err != TERN_ECLOSED)
            atomic_fetch_add(&s->io.events_dropped, 1);
    }
}

void tn_monitor_stop(tn_sock *s)
{
    uint32_t old = atomic_exchange(&s->monitor, 0);
    if (old != 0)
        tern_socket_close((tern_socket){old});
}

tern_err tern_monitor(tern_socket h, const char *endpoint, int events)
{
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    tern_err err = TERN_OK;
    tern_socket mon = {0};
    if (endpoint != NULL) {
        if (strncmp(endpoint, "inproc://", 9) != 0 || (events & ~TERN_EV_ALL) || events == 0) {
            tn_sock_unpin(s);
            return TERN_EINVAL;
        }
        err = tern_socket_open(s->ctx, TERN_PAIR, &mon);
        if (err == TERN_OK)
            err = tern_setopt_int(mon, TERN_OPT_LINGER, 0);
        if (err == TERN_OK)
            err = tern_bind(mon, endpoint);
        if (err != TERN_OK && mon.id != 0) {
            tern_socket_close(mon);
            mon.id = 0;
        }
    }
    if (err == TERN_OK) {
        atomic_store(&s->monitor_events, events);
        uint32_t old = atomic_exchange(&s->monitor, mon.id);
        if (old != 0)
            tern_socket_close((tern_socket){old});
    }
    tn_sock_unpin(s);
    return err;
}

static void copy_part(const tern_msg *m, size_t i, char *out, size_t cap)
{
    size_t n = tern_msg_size(m, i);
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, tern_msg_data(m, i), n);
    out[n] = '\0';
}

tern_err tern_event_decode(const tern_msg *m, tern_event *ev)
{
    if (m == NULL || ev == NULL)
        return TERN_EINVAL;
    if (tern_msg_parts(m) != 4 || tern_msg_size(m, 0) != EVENT_HEAD)
        return TERN_EPROTO;
    const uint8_t *head = tern_msg_data(m, 0);
    ev->event = tn_get_be16(head);
    ev->value = (int64_t)tn_get_be64(head + 2);
    copy_part(m, 1, ev->endpoint, sizeof(ev->endpoint));
    copy_part(m, 2, ev->peer, sizeof(ev->peer));
    copy_part(m, 3, ev->detail, sizeof(ev->detail));
    return TERN_OK;
}
