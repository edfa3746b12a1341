/* tern messaging: contexts, message sockets (ZMTP 3.1 on the wire), messages
 * and polling.
 *
 * Thread safety: a tern_ctx and every tern_socket may be used from any number
 * of threads at once; each call on a socket is atomic with respect to the
 * others (a multipart message is sent and received whole, never interleaved).
 * A tern_msg belongs to one thread at a time. A tern_socket is a typed id:
 * using it after tern_socket_close() returns TERN_ECLOSED, never a crash. */
#ifndef TERN_MSG_H
#define TERN_MSG_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- messages --------------------------------------------------------- */

/* A message is an ordered list of one or more parts (ZMTP frames). Part
 * bodies are refcounted: tern_msg_dup shares them instead of copying. */
typedef struct tern_msg tern_msg;
/* Releases zero-copy data handed to tern_msg_*_ref; runs on whichever thread
 * drops the last reference (possibly an I/O thread). */
typedef void tern_free_fn(void *data, void *arg);

/* A message with no parts. */
TERN_API tern_err tern_msg_new(tern_msg **msgp);
/* A message with one part of size bytes, uninitialised. */
TERN_API tern_err tern_msg_alloc(tern_msg **msgp, size_t size);
/* Appends a part holding a copy of data. */
TERN_API tern_err tern_msg_append(tern_msg *msg, const void *data, size_t size);
/* Appends a part that refers to data without copying; free_fn(data, arg) is
 * called when the last reference goes (free_fn may be NULL for static data).
 * On error free_fn is not called and the caller keeps data. */
TERN_API tern_err tern_msg_append_ref(tern_msg *msg, void *data, size_t size, tern_free_fn *free_fn,
                                      void *arg);
/* A new message sharing msg's part bodies. */
TERN_API tern_err tern_msg_dup(const tern_msg *msg, tern_msg **dupp);
/* Frees msg and drops its references; NULL is allowed. */
TERN_API void tern_msg_free(tern_msg *msg);

TERN_API size_t tern_msg_parts(const tern_msg *msg);
/* Part i's bytes; NULL if i is out of range or the part is empty.
 * Writable unless shared by dup. */
TERN_API void *tern_msg_data(const tern_msg *msg, size_t part);
/* Part i's size; 0 if i is out of range. */
TERN_API size_t tern_msg_size(const tern_msg *msg, size_t part);
/* The sum of all part sizes. */
TERN_API size_t tern_msg_total(const tern_msg *msg);

/* ---- contexts --------------------------------------------------------- */

typedef struct tern_ctx tern_ctx;

/* Opens a context with io_threads I/O threads (0 means the default, 1). */
TERN_API tern_err tern_ctx_open(tern_ctx **ctxp, int io_threads);
/* Closes every socket still open (each lingers as its TERN_OPT_LINGER says),
 * stops the I/O threads and frees ctx. Blocks at most the longest linger. */
TERN_API void tern_ctx_close(tern_ctx *ctx);

/* ---- sockets ---------------------------------------------------------- */

typedef struct tern_socket {
    uint32_t id;
} tern_socket;

/* Socket types; numbers match ZeroMQ's. */
enum {
    TERN_PAIR = 0,
    TERN_PUB = 1,
    TERN_SUB = 2,
    TERN_REQ = 3,
    TERN_REP = 4,
    TERN_DEALER = 5,
    TERN_ROUTER = 6,
    TERN_PULL = 7,
    TERN_PUSH = 8,
    TERN_XPUB = 9,
    TERN_XSUB = 10,
};

/* What each type does (peers in brackets):
 *  PAIR [PAIR]          one peer, both directions.
 *  PUSH [PULL]          round-robin send.      PULL [PUSH] fair-queued receive.
 *  REQ [REP, ROUTER]    send a request, then receive its reply (lockstep by
 *                       default; see TERN_OPT_REQ_*). An empty delimiter
 *                       frame travels ahead of the body; the API hides it.
 *  REP [REQ, DEALER]    receive a request, then send its reply, which goes
 *                       back to the requester whatever the path it came by.
 *  DEALER [REP, DEALER, ROUTER]  round-robin send, fair-queued receive.
 *  ROUTER [REQ, DEALER, ROUTER]  receive prefixes the sender's routing id
 *                       as part 0; send takes part 0 as the destination.
 *  PUB [SUB, XSUB]      send to every subscriber whose subscriptions match
 *                       (filtered at the publisher); receive refused.
 *  SUB [PUB, XPUB]      receive what TERN_OPT_SUBSCRIBE asked for.
 *  XPUB [SUB, XSUB]     PUB that also receives subscriptions as messages:
 *                       "\x01topic" (subscribe) or "\x00topic" (cancel).
 *  XSUB [PUB, XPUB]     SUB that subscribes by sending such messages. */
TERN_API tern_err tern_socket_open(tern_ctx *ctx, int type, tern_socket *sockp);
/* Stops accepting and connecting, lets queued outgoing messages drain for up
 * to TERN_OPT_LINGER ms, then frees the socket. Blocks at most the linger
 * time. Other threads blocked on the socket return TERN_ECLOSED. Returns
 * TERN_ETIMEDOUT if the linger ran out with messages still queued (they are
 * dropped and traced; the socket is closed all the same). */
TERN_API tern_err tern_socket_close(tern_socket sock);

/* Endpoints: "tcp://HOST:PORT" (IPv4, [IPv6], host name; bind to "*" or
 * port 0 for any; read the result back with TERN_OPT_LAST_ENDPOINT),
 * "ipc:///path" or "ipc://@abstract", "inproc://name" (same context only).
 * A socket may bind and connect many endpoints, in any order. Connects
 * never fail for an absent peer: they retry with exponential backoff from
 * TERN_OPT_RECONNECT_IVL up to TERN_OPT_RECONNECT_IVL_MAX. */
TERN_API tern_err tern_bind(tern_socket sock, const char *endpoint);
TERN_API tern_err tern_connect(tern_socket sock, const char *endpoint);

/* Socket options. Times are milliseconds; -1 means "no limit" where allowed. */
enum {
    TERN_OPT_SNDHWM = 1,            /* int: messages queued per peer for sending (1000) */
    TERN_OPT_RCVHWM = 2,            /* int: messages queued per peer for receiving (1000) */
    TERN_OPT_SNDTIMEO = 3,          /* int: blocking send limit, -1 forever (-1) */
    TERN_OPT_RCVTIMEO = 4,          /* int: blocking receive limit, -1 forever (-1) */
    TERN_OPT_LINGER = 5,            /* int: close waits this long to flush, 0..3600000 (1000) */
    TERN_OPT_RECONNECT_IVL = 6,     /* int: first reconnect delay (100) */
    TERN_OPT_RECONNECT_IVL_MAX = 7, /* int: backoff ceiling (5000) */
    TERN_OPT_MAXMSGSIZE = 8,        /* int: largest message accepted, bytes (64 MiB) */
    TERN_OPT_HEARTBEAT_IVL = 9,     /* int: send PING this often, 0 off (0) */
    TERN_OPT_HEARTBEAT_TIMEOUT = 10, /* int: drop a silent peer after this (3 x IVL) */
    TERN_OPT_HEARTBEAT_TTL = 11,    /* int: TTL we ask peers to apply to us (0) */
    TERN_OPT_HANDSHAKE_IVL = 12,    /* int: greeting+READY must finish within (10000) */
    TERN_OPT_ROUTING_ID = 13,       /* bytes: Identity sent in READY, 0..255 bytes */
    TERN_OPT_LAST_ENDPOINT = 14,    /* bytes, read-only: last bound endpoint, resolved */
    TERN_OPT_TYPE = 15,             /* int, read-only: socket type */
    TERN_OPT_PEERS = 16,            /* int, read-only: peers with a finished handshake */
    /* SUB, XSUB: add or remove a prefix subscription (bytes, may be empty:
     * everything). Subscriptions are counted: subscribing twice needs two
     * unsubscribes. Sent to every peer, and again to each new one. */
    TERN_OPT_SUBSCRIBE = 17,
    TERN_OPT_UNSUBSCRIBE = 18,
    /* REQ: 1 lets a new request be sent before the last one's reply came
     * (say after a receive timed out); the old request is abandoned and its
     * late reply discarded. Implies CORRELATE (0). */
    TERN_OPT_REQ_RELAXED = 19,
    /* REQ: 1 puts a request id frame ahead of the delimiter and accepts
     * only the reply carrying the current id (0). Peers echo it unchanged. */
    TERN_OPT_REQ_CORRELATE = 20,
    /* REQ: resend an unanswered request after this many ms, to the next
     * peer in turn, while a receive waits; 0 never (0). Implies CORRELATE,
     * and the first reply to any copy is the one received. */
    TERN_OPT_REQ_RESEND_IVL = 21,
    /* ROUTER: 1 makes a send to an unknown or gone peer fail with
     * TERN_EHOSTUNREACH; 0 drops it and counts it in the drops (1). */
    TERN_OPT_ROUTER_MANDATORY = 22,
    /* ROUTER: 1 lets a new connection take over a routing id already in
     * use (the old one is disconnected); 0 refuses the newcomer (0). */
    TERN_OPT_ROUTER_HANDOVER = 23,
    /* PUB, XPUB: 1 makes a send wait (TERN_OPT_SNDTIMEO, TERN_DONTWAIT
     * apply) until every matching subscriber has room; 0 never waits and
     * drops for a subscriber at its high-water mark, counting it; a send
     * that every subscriber dropped yields the CPU once, so a publisher
     * outrunning subscribers on the same machine does not starve them (0). */
    TERN_OPT_PUB_LOSSLESS = 24,
    /* XPUB: 1 passes every subscribe and cancel up, not only the first
     * subscribe and last cancel of a topic across all peers (0). */
    TERN_OPT_XPUB_VERBOSE = 25,
    /* int: a blocked send or receive polls this many microseconds before
     * sleeping, trading CPU for latency (waking a sleeping thread costs tens
     * of microseconds on a VM); -1: the type's default, 50 for REQ and REP,
     * 0 for the others (-1). A socket that busy-polls also writes a lone
     * message to tcp/ipc from the sending thread instead of waking its I/O
     * thread. Takes effect for connections made after it is set. */
    TERN_OPT_BUSY_POLL = 26,
};
TERN_API tern_err tern_setopt_int(tern_socket sock, int opt, int64_t value);
TERN_API tern_err tern_getopt_int(tern_socket sock, int opt, int64_t *value);
TERN_API tern_err tern_setopt_bytes(tern_socket sock, int opt, const void *value, size_t len);
/* *len is the capacity of buf on entry and the value's length on return;
 * string values are NUL-terminated (the NUL is not counted). TERN_EMSGSIZE
 * if buf is too small (then *len is the size needed). */
TERN_API tern_err tern_getopt_bytes(tern_socket sock, int opt, void *buf, size_t *len);

/* Flags for send and receive. */
enum {
    TERN_DONTWAIT = 1, /* return TERN_EAGAIN instead of blocking */
};

/* Sends msg whole; on TERN_OK the socket owns msg, on error the caller
 * still does. Messages go only to peers whose handshake has finished: with
 * no such peer, or every eligible peer at its high-water mark (or 1 MiB of
 * copied bytes queued), the call blocks up to TERN_OPT_SNDTIMEO (then
 * TERN_ETIMEDOUT), or not at all with TERN_DONTWAIT (TERN_EAGAIN). Never
 * drops silently: where a type drops by design (PUB at a subscriber's
 * high-water mark, ROUTER without MANDATORY, REP replying to a requester
 * that left) the drop is counted in tern_socket_stats and traced. A PUB
 * with no matching subscriber sends to nobody; that is not a drop.
 * TERN_ESTATE: REQ/REP out of turn. TERN_EHOSTUNREACH: ROUTER to an
 * unknown peer. TERN_EINVAL: ROUTER without a routing id and a body. */
TERN_API tern_err tern_msg_send(tern_socket sock, tern_msg *msg, int flags);
/* Receives one whole message into *msgp (the caller frees it). Blocks up to
 * TERN_OPT_RCVTIMEO, or TERN_EAGAIN with TERN_DONTWAIT. TERN_ESTATE: REQ
 * with no request out, REP owing a reply. TERN_EHOSTUNREACH: REQ whose
 * peer owing the reply went away (the request is lost; send again). */
TERN_API tern_err tern_msg_recv(tern_socket sock, tern_msg **msgp, int flags);
/* Sends a one-part message holding a copy of data. */
TERN_API tern_err tern_send(tern_socket sock, const void *data, size_t len, int flags);
/* Receives one message and copies its parts, concatenated, into buf; *len
 * is set to the full length even if it exceeded cap (then the copy is
 * truncated and TERN_EMSGSIZE returned; the message is consumed). */
TERN_API tern_err tern_recv(tern_socket sock, void *buf, size_t cap, size_t *len, int flags);

/* ---- counters ---------------------------------------------------------- */

/* Totals since the socket opened. Messages and bytes count what the
 * application sent and received, as it saw them (a ROUTER's routing id
 * part counts; the envelope REQ and REP add and strip does not). */
typedef struct tern_sock_stats {
    uint64_t msgs_in, msgs_out;
    uint64_t bytes_in, bytes_out;
    /* Messages dropped by design, never silently: a PUB at a subscriber's
     * high-water mark, a non-mandatory ROUTER send to an unknown peer, a
     * reply whose requester is gone, malformed envelopes, subscription
     * messages an XPUB had no room for, messages queued to a peer whose
     * connection died before they were written. Each is also traced. */
    uint64_t drops;
    uint64_t accepted, connected; /* connections made (handshake started) */
    uint64_t handshakes;          /* handshakes finished */
    uint64_t handshake_failures;
    uint64_t disconnects;         /* peers lost after a finished handshake */
    uint64_t reconnects;          /* connect attempts scheduled after a failure or loss */
    uint64_t events_dropped;      /* monitor events the monitor had no room for */
    uint32_t peers;               /* peers attached now */
} tern_sock_stats;
TERN_API tern_err tern_socket_stats(tern_socket sock, tern_sock_stats *stats);

/* One attached peer. */
typedef struct tern_peer_stats {
    char address[96]; /* tcp: the remote address; ipc: "pid N uid N"; inproc: the endpoint */
    int type;         /* the peer's socket type */
    uint8_t routing_id[255];
    size_t routing_id_len;
    uint64_t msgs_in, msgs_out, drops;
    uint32_t queued_out; /* messages waiting to be written to it */
    int subscriptions;   /* PUB, XPUB: topics the peer subscribed to */
} tern_peer_stats;
/* Fills up to cap entries; *n gets the number of peers (may exceed cap). */
TERN_API tern_err tern_socket_peers(tern_socket sock, tern_peer_stats *peers, size_t cap, size_t *n);

/* ---- monitoring -------------------------------------------------------- */

enum {
    TERN_EV_LISTENING = 1 << 0,        /* a bind is accepting (value: 0) */
    TERN_EV_ACCEPTED = 1 << 1,         /* a connection came in */
    TERN_EV_CONNECTED = 1 << 2,        /* an outgoing connection is up */
    TERN_EV_HANDSHAKE_OK = 1 << 3,     /* the peer is ready; messages flow */
    TERN_EV_HANDSHAKE_FAILED = 1 << 4, /* detail says why */
    TERN_EV_DISCONNECTED = 1 << 5,     /* a ready peer went away; detail says why,
                                          value counts messages queued to it that were
                                          lost with the connection (also in drops) */
    TERN_EV_RECONNECT = 1 << 6,        /* a connect is retried in value ms */
    TERN_EV_CLOSED = 1 << 7,           /* a bind or connect stopped */
    TERN_EV_ALL = 0xff,
};
/* Events concern tcp and ipc connections; an inproc link reports only
 * HANDSHAKE_OK when it forms and HANDSHAKE_FAILED when the types cannot
 * talk (a connect made before the bind learns it no other way).
 * Starts publishing the socket's events in the mask on a PAIR socket bound
 * at endpoint ("inproc://name" of the socket's context): connect a PAIR
 * there and receive messages that tern_event_decode understands. Events are
 * sent without waiting; the ones the monitor has no room for are counted
 * in events_dropped. A NULL endpoint stops monitoring. */
TERN_API tern_err tern_monitor(tern_socket sock, const char *endpoint, int events);

typedef struct tern_event {
    int event;         /* one TERN_EV_* */
    int64_t value;     /* RECONNECT: delay in ms; DISCONNECTED: messages lost; else 0 */
    char endpoint[256]; /* the bind or connect it concerns */
    char peer[96];     /* remote address, when there is one */
    char detail[160];  /* reason, when there is one */
} tern_event;
/* TERN_EPROTO if msg is not an event message. */
TERN_API tern_err tern_event_decode(const tern_msg *msg, tern_event *ev);
/* "LISTENING", "HANDSHAKE_FAILED", ...; "UNKNOWN" for anything else. */
TERN_API const char *tern_event_name(int event);

/* ---- proxy ------------------------------------------------------------ */

/* Forwards messages both ways between frontend and backend until one of
 * them is closed (TERN_ECLOSED) or control (id 0: none) receives
 * "TERMINATE" (TERN_OK). capture (id 0: none) gets a copy of every message,
 * sent without waiting. Typical: XSUB <-> XPUB (a forwarder, subscriptions
 * flow upstream), ROUTER <-> DEALER (a shared queue for REQ/REP). */
TERN_API tern_err tern_proxy(tern_socket frontend, tern_socket backend, tern_socket capture,
                             tern_socket control);

/* ---- polling ---------------------------------------------------------- */

enum {
    TERN_POLLIN = 1,
    TERN_POLLOUT = 2,
    TERN_POLLERR = 4, /* socket closed, or fd error/hangup */
};
typedef struct tern_pollitem {
    tern_socket socket; /* id 0: poll fd instead */
    int fd;
    short events;  /* TERN_POLLIN | TERN_POLLOUT */
    short revents; /* set by tern_poll */
} tern_pollitem;
/* Waits until some item is ready or timeout_ms passes (-1 forever, 0 just
 * checks). *nready (may be NULL) gets the number of ready items; TERN_OK
 * with *nready == 0 on timeout. */
TERN_API tern_err tern_poll(tern_pollitem *items, size_t n, int64_t timeout_ms, size_t *nready);

#ifdef __cplusplus
}
#endif
#endif
