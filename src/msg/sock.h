/* Internals of message sockets.
 *
 * A socket owns pipes, one per connected peer. A pipe carries messages in
 * (a single-producer/single-consumer ring filled by the peer's side) and out
 * (through its ops: a ZMTP engine's byte queue, or the inproc peer's ring).
 * Socket types are ops tables (tn_pattern) choosing which pipe a message
 * goes to and comes from.
 *
 * Locks: s->lock guards the socket's state and pipe list and serialises
 * calls from application threads; I/O threads take it only to attach or
 * detach pipes. s->wlock (waiters) and each engine's out lock are leaves.
 * The data path between application and I/O thread takes no socket lock. */
#ifndef TN_MSG_SOCK_H
#define TN_MSG_SOCK_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/message.h"
#include "io/loop.h"
#include "io/transport.h"
#include "tern/msg.h"

typedef struct tn_sock tn_sock;
typedef struct tn_pipe tn_pipe;

/* ---- rings ------------------------------------------------------------- */

/* Each side keeps a private copy of the other side's index and rereads the
 * shared one only when the copy says full (or empty), so producer and
 * consumer do not bounce a cache line per message. */
typedef struct tn_ring {
    _Atomic uint64_t head; /* next to pop (consumer) */
    uint64_t tail_seen;    /* consumer's copy of tail */
    char pad1[48];
    _Atomic uint64_t tail; /* next to push (producer) */
    uint64_t head_seen;    /* producer's copy of head */
    char pad2[48];
    uint64_t hwm;
    uint64_t mask;
    tern_msg **slots;
} tn_ring;

tern_err tn_ring_init(tn_ring *r, uint64_t hwm);
/* Frees queued messages; returns how many there were. */
uint64_t tn_ring_fini(tn_ring *r);
/* Producer side. */
int tn_ring_full(tn_ring *r);
/* Either side (reads both shared indices). */
int tn_ring_empty(const tn_ring *r);
uint64_t tn_ring_count(const tn_ring *r);
/* Producer side; the caller checked !full. */
void tn_ring_push(tn_ring *r, tern_msg *m);
/* Consumer side; NULL when empty. */
tern_msg *tn_ring_pop(tn_ring *r);

/* ---- pipes ------------------------------------------------------------- */

typedef struct tn_pipe_ops {
    int (*writable)(tn_pipe *p);
    /* Queues m toward the peer, taking ownership; the caller checked
     * writable. */
    void (*write)(tn_pipe *p, tern_msg *m);
    /* Queues a one-part message copied from data. */
    tern_err (*write_bytes)(tn_pipe *p, const void *data, size_t len);
    /* Messages still queued outbound (linger waits for 0). */
    uint32_t (*pending)(tn_pipe *p);
    /* The consumer made room in p->in: resume a paused producer. */
    void (*read_done)(tn_pipe *p);
    /* Takes back a message read from p->in whose bytes were copied out, to
     * reuse its memory for a later message (or free it). */
    void (*recycle)(tn_pipe *p, tern_msg *m);
    /* The socket lets go of p (p is already unlinked). */
    void (*release)(tn_pipe *p);
    /* Tells the peer we (un)subscribe to topic, in the form it speaks.
     * Never waits: subscriptions are not held back by the high-water mark.
     * Called under s->lock. */
    tern_err (*subscribe)(tn_pipe *p, int on, const uint8_t *topic, size_t len);
    /* Ends the connection from the socket's side (ROUTER handover); what
     * was received stays readable. Called under s->lock. */
    void (*disconnect)(tn_pipe *p, const char *why);
    /* Optional: a consumer waiting in receive reads the connection itself
     * until unpoll (both under s->lock). Returns nonzero if a message
     * arrived in p->in. */
    int (*poll)(tn_pipe *p);
    void (*unpoll)(tn_pipe *p);
    /* Optional: the receiver leaves with the input still taken, for its
     * next receive; the pipe takes it back if none comes soon. */
    void (*lend)(tn_pipe *p);
    /* Optional: takes the input over as poll does and returns the fd a
     * receiver may sleep on until the connection has data, or -1. */
    int (*wait_fd)(tn_pipe *p);
} tn_pipe_ops;

struct tn_pipe {
    const tn_pipe_ops *ops;
    tn_sock *sock;
    tn_ring *in;
    _Atomic int dead; /* peer gone: drain in, then unlink */
    int peer_type;
    char peer[96]; /* who, for traces */
    /* The rest is the socket's, under s->lock. */
    uint8_t rid[255]; /* routing id: the peer's Identity, or one we made */
    uint8_t rid_len;
    struct tn_subs *subs; /* PUB, XPUB: what this peer subscribed to */
    uint64_t msgs_in, msgs_out, drops;
};

/* Hands m to p (the caller checked writable) and counts it. */
static inline void tn_pipe_put(tn_pipe *p, tern_msg *m)
{
    p->msgs_out++;
    p->ops->write(p, m);
}

/* ---- patterns ---------------------------------------------------------- */

typedef struct tn_pattern {
    int type;
    const char *name; /* ZMTP Socket-Type */
    uint32_t peers;   /* bit (1 << type) for each compatible peer type */
    int max_peers;    /* 0: any number */
    int spin_us;      /* a blocked call polls this long before sleeping */
    /* Under s->lock. TERN_EAGAIN when the caller must wait; on any error
     * the caller keeps m. */
    tern_err (*send)(tn_sock *s, tern_msg *m);
    tern_err (*send_bytes)(tn_sock *s, const void *data, size_t len);
    tern_err (*recv)(tn_sock *s, tern_msg **mp);
    /* Optional hooks, under s->lock. attach may refuse the new pipe. */
    tern_err (*attach)(tn_sock *s, tn_pipe *p);
    void (*detach)(tn_sock *s, tn_pipe *p);
    /* A peer (un)subscribed (PUB, XPUB); an error drops that peer. */
    tern_err (*peer_sub)(tn_sock *s, tn_pipe *p, int on, const uint8_t *topic, size_t len);
    /* Readiness for poll, when it is not "some pipe writable" and "some
     * ring not empty". */
    int (*can_send)(tn_sock *s);
    int (*can_recv)(tn_sock *s);
} tn_pattern;

const tn_pattern *tn_pattern_find(int type);
int tn_pattern_type_by_name(const uint8_t *name, size_t len);
const char *tn_pattern_type_name(int type);

/* The patterns, one file per family. */
extern const tn_pattern tn_pattern_pair, tn_pattern_push, tn_pattern_pull;
extern const tn_pattern tn_pattern_req, tn_pattern_rep;
extern const tn_pattern tn_pattern_dealer, tn_pattern_router;
extern const tn_pattern tn_pattern_pub, tn_pattern_sub, tn_pattern_xpub, tn_pattern_xsub;

/* A peer's subscription arrived (from its engine or inproc half). */
tern_err tn_sock_peer_sub(tn_sock *s, tn_pipe *p, int on, const uint8_t *topic, size_t len);
/* A SUB or XSUB changes its own subscriptions (and tells its peers). */
tern_err tn_sock_subscribe(tn_sock *s, int on, const uint8_t *topic, size_t len);
/* A live pipe with p->rid, or NULL. */
tn_pipe *tn_sock_find_rid(tn_sock *s, const uint8_t *rid, size_t len);

/* Round-robin send over writable pipes, and fair-queued receive. */
tn_pipe *tn_sock_next_writable(tn_sock *s);
tern_err tn_sock_send_rr(tn_sock *s, tern_msg *m);
tern_err tn_sock_send_bytes_rr(tn_sock *s, const void *data, size_t len);
tern_err tn_sock_recv_fq(tn_sock *s, tern_msg **mp);
/* Pops the next message in fair-queue order; returns its pipe, which stays
 * linked (and valid) until the next call under the same lock. */
tn_pipe *tn_sock_pop(tn_sock *s, tern_msg **mp);
tern_err tn_sock_refuse_send(tn_sock *s, tern_msg *m);
tern_err tn_sock_refuse_send_bytes(tn_sock *s, const void *data, size_t len);
tern_err tn_sock_refuse_recv(tn_sock *s, tern_msg **mp);

/* ---- sockets ----------------------------------------------------------- */

typedef struct tn_opts {
    int64_t sndhwm, rcvhwm, sndtimeo, rcvtimeo, linger;
    int64_t reconnect_ivl, reconnect_ivl_max, maxmsgsize;
    int64_t heartbeat_ivl, heartbeat_timeout, heartbeat_ttl, handshake_ivl;
    int64_t req_relaxed, req_correlate, req_resend_ivl;
    int64_t router_mandatory, router_handover, pub_lossless, xpub_verbose;
    int64_t busy_poll; /* -1: the type's spin_us */
    uint8_t routing_id[255];
    size_t routing_id_len;
} tn_opts;

/* Per-type state, under s->lock. */
typedef struct tn_reqrep {
    /* REQ */
    int waiting;        /* a request went out, its reply has not come */
    tn_pipe *pipe;      /* REQ: who owes the reply; REP: who gets it */
    int lost;           /* that pipe went away */
    uint32_t id;        /* REQ: current request id (correlate) */
    tern_msg *copy;     /* REQ: the request, for resends */
    uint64_t resend_at; /* ns */
    /* REP */
    tern_msg *env; /* the request's envelope, for its reply */
} tn_reqrep;

typedef struct tn_pubsub {
    struct tn_subs *subs; /* SUB, XSUB: ours; XPUB: the union over peers */
    tern_msg **pend;      /* XPUB: subscription messages for the app */
    size_t pend_head, npend, cappend, pend_bytes;
} tn_pubsub;

/* I/O-side counters (any thread); the application-side ones live in
 * tn_sock under s->lock. */
typedef struct tn_io_stats {
    _Atomic uint64_t accepted, connected, handshakes, handshake_failures;
    _Atomic uint64_t disconnects, reconnects, events_dropped;
} tn_io_stats;

typedef struct tn_wnode {
    struct tn_wnode *next, *prev;
    int efd;
} tn_wnode;

typedef struct tn_ep tn_ep; /* a bind or connect: see endpoint.c */

struct tn_sock {
    tern_ctx *ctx;
    uint32_t id;
    const tn_pattern *pat;
    tn_loop *loop; /* every connection of this socket runs here */
    pthread_mutex_t lock;
    int closing;
    tn_opts opt;
    char last_endpoint[TN_ENDPOINT_MAX];

    tn_pipe **pipes; /* attached pipes, live or draining */
    size_t npipes, cappipes;
    size_t cursor;    /* round-robin / fair-queue position */
    tn_pipe *last_in; /* pipe of the last message received, while linked */

    tn_ep *eps;       /* binds and connects */
    int torn_down;    /* the loop has closed every endpoint and engine */
    uint64_t dropped; /* messages still queued when closing tore down a peer */

    pthread_mutex_t wlock;
    tn_wnode *waiters;
    _Atomic int nwaiters;

    uint64_t wake_at; /* ns: a pattern asks a blocked call to retry then */
    tn_reqrep rr;
    tn_pubsub ps;
    uint32_t next_rid; /* ROUTER: the next routing id it makes up */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out, drops;
    tn_io_stats io;
    _Atomic uint32_t monitor; /* the monitor's PAIR socket id, 0: none */
    _Atomic int monitor_events;
};

/* Counts a message dropped by design, and says why in a trace. */
void tn_sock_drop(tn_sock *s, tn_pipe *p, const char *why);

/* Monitoring (monitor.c): counts the event and publishes it if asked.
 * Callable from any thread, with or without s->lock: publishing never
 * waits, and the monitor's socket never locks the monitored one. */
void tn_sock_event(tn_sock *s, int event, int64_t value, const char *endpoint, const char *peer,
                   const char *detail);
/* Stops the monitor, closing its socket (on close). */
void tn_monitor_stop(tn_sock *s);

/* Wakes every thread blocked on s (send, recv, poll, close). Cheap when
 * nobody waits: callable from any thread, with or without s->lock. */
void tn_sock_notify(tn_sock *s);
void tn_sock_wait_add(tn_sock *s, tn_wnode *w);
void tn_sock_wait_del(tn_sock *s, tn_wnode *w);
/* The calling thread's wake-up eventfd (created once per thread). */
int tn_thread_efd(void);

/* Pipe lifecycle, under s->lock; p->sock must already be s. attach
 * refuses (TERN_ESTATE) when the
 * pattern's max_peers live pipes exist or the socket is closing. A pipe's
 * dead flag may also be set by its inproc peer without s->lock. */
tern_err tn_sock_attach(tn_sock *s, tn_pipe *p);
/* The peer went away; unlinks p at once if nothing is left to read. */
void tn_sock_pipe_dead(tn_sock *s, tn_pipe *p);

/* Readiness for poll, under s->lock. */
int tn_sock_can_send(tn_sock *s);
int tn_sock_can_recv(tn_sock *s);
/* Some pipe has a message queued (before any filtering). */
int tn_sock_any_input(tn_sock *s);

tn_sock *tn_sock_pin(tern_socket h);
void tn_sock_unpin(tn_sock *s);

/* ---- the context's side ------------------------------------------------ */

tn_loop *tn_ctx_pick_loop(tern_ctx *ctx);
tern_err tn_ctx_add_socket(tern_ctx *ctx, tn_sock *s);
size_t tn_sock_live(const tn_sock *s);
void tn_ctx_remove_socket(tern_ctx *ctx, tn_sock *s);

/* inproc:// (inproc.c) */
tern_err tn_inproc_bind(tn_sock *s, const char *name);
tern_err tn_inproc_connect(tn_sock *s, const char *name);
/* Drops s's inproc binds and pending connects. */
void tn_inproc_forget(tn_sock *s);

/* tcp:// and ipc:// (endpoint.c): listeners and reconnecting connectors. */
tern_err tn_stream_bind(tn_sock *s, const tn_stream_transport *t, const char *addr);
tern_err tn_stream_connect_ep(tn_sock *s, const tn_stream_transport *t, const char *addr);
/* On the loop thread: closes every endpoint and engine of s. */
void tn_stream_teardown(tn_sock *s);

/* ZMTP engine (engine.c): runs one connection on the loop thread. */
typedef struct tn_engine tn_engine;
/* On the loop thread; takes fd. ep hears of the end via tn_ep_engine_gone. */
tern_err tn_engine_start(tn_sock *s, int fd, tn_ep *ep, const char *endpoint, int as_server,
                         tn_engine **ep_out);
void tn_engine_kill(tn_engine *e, const char *why);
void tn_ep_engine_gone(tn_ep *ep, tn_engine *e, int was_ready);

#endif
