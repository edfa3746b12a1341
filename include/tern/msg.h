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

/* Returns TERN_ENOTSUP for a type this build does not implement yet. */
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
 * drops silently. */
TERN_API tern_err tern_msg_send(tern_socket sock, tern_msg *msg, int flags);
/* Receives one whole message into *msgp (the caller frees it). Blocks up to
 * TERN_OPT_RCVTIMEO, or TERN_EAGAIN with TERN_DONTWAIT. */
TERN_API tern_err tern_msg_recv(tern_socket sock, tern_msg **msgp, int flags);
/* Sends a one-part message holding a copy of data. */
TERN_API tern_err tern_send(tern_socket sock, const void *data, size_t len, int flags);
/* Receives one message and copies its parts, concatenated, into buf; *len
 * is set to the full length even if it exceeded cap (then the copy is
 * truncated and TERN_EMSGSIZE returned; the message is consumed). */
TERN_API tern_err tern_recv(tern_socket sock, void *buf, size_t cap, size_t *len, int flags);

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
