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
} tn_pipe_ops;

struct tn_pipe {
    const tn_pipe_ops *ops;
    tn_sock *sock;
    tn_ring *in;
    _Atomic int dead;   /* peer gone: drain in, then unlink */
    int peer_type;
    char peer[96];      /* who, for traces */
};

/* ---- patterns ---------------------------------------------------------- */

typedef struct tn_pattern {
    int type;
    const char *name; /* ZMTP Socket-Type */
    uint32_t peers;   /* bit (1 << type) for each compatible peer type */
    int max_peers;    /* 0: any number */
    /* Under s->lock. TERN_EAGAIN when the caller must wait. */
    tern_err (*send)(tn_sock *s, tern_msg *m);
    tern_err (*send_bytes)(tn_sock *s, const void *data, size_t len);
    tern_err (*recv)(tn_sock *s, tern_msg **mp);
} tn_pattern;

const tn_pattern *tn_pattern_find(int type);
int tn_pattern_type_by_name(const uint8_t *name, size_t len);

/* Round-robin send over writable pipes, and fair-queued receive. */
tern_err tn_sock_send_rr(tn_sock *s, tern_msg *m);
tern_err tn_sock_send_bytes_rr(tn_sock *s, const void *data, size_t len);
tern_err tn_sock_recv_fq(tn_sock *s, tern_msg **mp);
tern_err tn_sock_refuse_send(tn_sock *s, tern_msg *m);
tern_err tn_sock_refuse_send_bytes(tn_sock *s, const void *data, size_t len);
tern_err tn_sock_refuse_recv(tn_sock *s, tern_msg **mp);

/* ---- sockets ----------------------------------------------------------- */

typedef struct tn_opts {
    int64_t sndhwm, rcvhwm, sndtimeo, rcvtimeo, linger;
    int64_t reconnect_ivl, reconnect_ivl_max, maxmsgsize;
    int64_t heartbeat_ivl, heartbeat_timeout, heartbeat_ttl, handshake_ivl;
    uint8_t routing_id[255];
    size_t routing_id_len;
} tn_opts;

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
    size_t cursor;   /* round-robin / fair-queue position */
    tn_pipe *last_in; /* pipe of the last message received, while linked */

    tn_ep *eps;      /* binds and connects */
    int torn_down;   /* the loop has closed every endpoint and engine */
    uint64_t dropped; /* messages still queued when closing tore down a peer */

    pthread_mutex_t wlock;
    tn_wnode *waiters;
    _Atomic int nwaiters;
};

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
