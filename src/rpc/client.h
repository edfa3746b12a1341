/* Client side of the RPC runtime: a client is one DEALER bound to one
 * server; a future is one call in flight on it. Shared by client.c
 * (binding, sending, receiving), future.c (the future API) and group.c
 * (multicast). */
#ifndef TN_RPC_CLIENT_H
#define TN_RPC_CLIENT_H

#include <pthread.h>

#include "rpc/proto.h"

struct tern_rpc_future {
    tern_rpc_client *client; /* kept alive by the future until it is freed */
    tern_rpc_future *next;   /* hash chain, or the callback list once done */
    uint64_t call_id;
    uint32_t method;
    uint32_t flags;       /* header flags of the request */
    uint64_t deadline_ns; /* the call's whole deadline */
    uint64_t resend_ns;   /* idempotent: resend if nothing came back by then (0: never) */
    int attempts_left;    /* idempotent resends still allowed */
    tern_msg *request;    /* kept while running, for resends */
    bool done, accepted;
    bool resend; /* to be sent again as soon as the socket takes it */
    tern_err status;
    char *error;     /* why it failed, malloc'd; NULL: none */
    tern_msg *reply; /* TERN_OK: [header, body, out-of-line parts] */
    tern_rpc_done_fn *done_fn;
    void *done_arg;
};

struct tern_rpc_client {
    tern_ctx *ctx;
    const tern_rpc_iface *iface;
    tern_socket sock;   /* DEALER (lock: rebinding replaces it) */
    char target[256];   /* as opened: an endpoint or tern://DIR/NAME */
    char endpoint[256]; /* the server it is bound to (lock) */
    uint8_t id[16];     /* routing id: the server's key for at-most-once */
    uint64_t instance;  /* the server's, from its bind reply */
    bool resolved;      /* target is a tern:// name */
    bool rebind;        /* the server went away: resolve again before the next call */
    bool rebinding;     /* a thread is doing that now, without the lock */
    int64_t timeout_ms, bind_timeout_ms;
    int retries;

    pthread_mutex_t lock;
    pthread_mutex_t send_lock; /* the socket's send timeout and the send that uses it */
    size_t refs;               /* the handle, and each future not yet freed (lock) */
    pthread_cond_t cond;       /* a call finished or was accepted, or the reader left */
    uint64_t next_call;
    uint64_t answered;       /* every call below this id has its answer or was given up */
    tern_rpc_future **table; /* running calls by call_id, chained */
    size_t table_cap, running;
    bool reading;               /* a thread is receiving replies for everyone */
    int64_t rcvtimeo_ms;        /* the socket's receive timeout as the reader last set it */
    uint64_t disconnects;       /* the socket's count when last looked at */
    uint64_t lost_since_ns;     /* when the server was found gone (0: connected) */
    tern_rpc_future *callbacks; /* finished futures whose done_fn is due */

    pthread_t bg; /* receives when no caller does (started on demand) */
    bool bg_started, closing;
};

/* Under client->lock: receives and handles replies until pred(f) holds, the
 * call's deadline passes (then it finishes TERN_ETIMEDOUT) or until_ns
 * (0: no limit of its own). Returns with the lock held. */
void tn_rpc_client_wait(tern_rpc_client *c, tern_rpc_future *f, bool want_accept,
                        uint64_t until_ns);
/* Under client->lock: finishes f with status (and a copy of why, may be NULL). */
void tn_rpc_finish(tern_rpc_client *c, tern_rpc_future *f, tern_err status, const char *why);
/* Unlocks client->lock and runs the done callbacks that came due. */
void tn_rpc_client_unlock(tern_rpc_client *c);
/* Starts the background receiver, if not already running (lock held). */
tern_err tn_rpc_client_background(tern_rpc_client *c);
/* Under client->lock: tells the server to stop f and forgets f. */
void tn_rpc_forget(tern_rpc_client *c, tern_rpc_future *f, bool tell_server);

/* Starts a call whose in-parameters are body[body_len], copied, or shared
 * with owner (a message holding them as its first part) when not NULL. */
tern_err tn_rpc_start_body(tern_rpc_client *c, uint32_t method, const tern_rpc_opts *o,
                           const void *body, size_t body_len, const tern_msg *owner,
                           tern_rpc_future **fp);

/* tern_rpc_future_reply; take: large opaques may take the reply's bytes
 * (it decodes once), else they are copied (it decodes again and again). */
tern_err tn_rpc_future_decoder(tern_rpc_future *f, tern_xdr_dec *d, bool take);

/* Drops a reference to the client; the last frees it. */
void tn_rpc_client_unref(tern_rpc_client *c);

/* Milliseconds to nanoseconds, at most a day: no overflow, no forever. */
static inline uint64_t tn_rpc_ms_to_ns(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms > TN_RPC_MAX_DEADLINE_MS)
        ms = TN_RPC_MAX_DEADLINE_MS;
    return (uint64_t)ms * 1000000u;
}

/* Records why on this thread for tern_rpc_last_error. */
void tn_rpc_set_last_error(const char *why);

#endif
