/* The RPC wire protocol: a fixed 64-byte header frame ahead of an XDR body
 * frame, and the out-of-line opaques after it (docs/rpc.md has the bytes).
 * Pure functions, no I/O. */
#ifndef TN_RPC_PROTO_H
#define TN_RPC_PROTO_H

#include "tern/rpc.h"

#define TN_RPC_HDR_SIZE 64
#define TN_RPC_VERSION 3
/* No deadline is longer than a day: no overflow, no call held forever. */
#define TN_RPC_MAX_DEADLINE_MS 86400000

/* What a message is. */
enum {
    TN_RPC_CALL = 1,       /* client -> server: run method */
    TN_RPC_REPLY = 2,      /* server -> client: status + out-parameters or error text */
    TN_RPC_ACCEPT = 3,     /* server -> client: the call arrived (asked with TN_RPC_F_ACCEPT) */
    TN_RPC_CANCEL = 4,     /* client -> server: give up call_id */
    TN_RPC_BIND = 5,       /* client -> server: is this interface and version here? */
    TN_RPC_BIND_REPLY = 6, /* server -> client: status */
};

/* Header flags. */
enum {
    TN_RPC_F_ONEWAY = 1u << 0,     /* no reply wanted */
    TN_RPC_F_ACCEPT = 1u << 1,     /* send TN_RPC_ACCEPT on arrival */
    TN_RPC_F_IDEMPOTENT = 1u << 2, /* the method may run more than once */
    TN_RPC_F_RETRY = 1u << 3,      /* a resend of an earlier attempt (same call_id) */
    TN_RPC_F_OOL = 1u << 4,        /* large opaques follow the body (rpc/ool.h) */
};

typedef struct tn_rpc_hdr {
    uint8_t kind;
    uint32_t flags;
    uint64_t call_id;
    tern_rpc_uuid iface;
    uint16_t major, minor;
    uint32_t method;      /* CALL: method number; REPLY, BIND_REPLY: wire status */
    uint64_t deadline_us; /* CALL: time left when sent */
    /* CALL: the server instance the client bound to (a resend must not run
     * on a restarted server: its reply cache is gone); replies: the
     * server's instance. */
    uint64_t instance;
    /* CALL: every call of this client with a lower id has its answer (or
     * was given up), so the server may forget their replies now rather
     * than keep them for resends that cannot come. */
    uint64_t acked;
} tn_rpc_hdr;

void tn_rpc_hdr_encode(const tn_rpc_hdr *h, uint8_t out[TN_RPC_HDR_SIZE]);
/* TERN_EPROTO unless p[len] is a well-formed header of this version. */
tern_err tn_rpc_hdr_decode(const void *p, size_t len, tn_rpc_hdr *h);

/* Statuses on the wire are their own small fixed set, so that tern_err
 * can grow without changing the protocol. */
uint32_t tn_rpc_status_to_wire(tern_err err);
tern_err tn_rpc_status_from_wire(uint32_t status);

#endif
