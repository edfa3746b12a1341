/* One TCP connection to a Kafka broker: a blocking request and response
 * at a time, each bounded by a deadline (tern_clock_ns nanoseconds).
 *
 * Opening one resolves the host, tries each of its addresses, and asks
 * the broker which versions of each API it speaks (ApiVersions v0).
 * Receiving is resumable: a receive that reaches its deadline keeps what
 * arrived, and a later call goes on from there (a JoinGroup may take as
 * long as the group's rebalance). A response's size is checked before it
 * is read, and its buffer grows only as its bytes arrive. Any failure but
 * a receive's timeout leaves the connection broken: close it. */
#ifndef TN_KCLIENT_CONN_H
#define TN_KCLIENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/codec.h"
#include "kclient/proto.h"

#define TN_KC_ADDR_MAX 300
#define TN_KC_ERR_MAX 400

typedef struct tn_kc_conn {
    int fd;
    char addr[TN_KC_ADDR_MAX]; /* "host:port", for messages */
    bool broken;
    int32_t next_corr;
    /* the request in flight */
    bool busy;
    int32_t corr;
    int16_t api;
    size_t max_resp;
    /* its response, as it arrives */
    uint8_t hdr[4];
    size_t hdr_got;
    uint8_t *buf;
    size_t len, got, cap;
    tn_kc_range ranges[TN_KC_NAPI]; /* from ApiVersions */
    char err[TN_KC_ERR_MAX];        /* why the last call failed */
} tn_kc_conn;

/* err (TN_KC_ERR_MAX bytes) gets the reason on failure ("connection
 * refused"). */
tern_err tn_kc_conn_open(const char *host, uint16_t port, const char *client_id, uint64_t deadline,
                         tn_kc_conn **out, char *err);
void tn_kc_conn_close(tn_kc_conn *c);
/* TERN_EVERSION, with the reason in c->err, when the broker does not
 * speak this version of api. */
tern_err tn_kc_conn_supports(tn_kc_conn *c, int16_t api, int16_t version);
/* Sends a request built with tn_kc_req_begin/end (its correlation id is
 * set here). With max_resp 0 no response is expected (Produce with acks
 * 0); else one of at most max_resp bytes is. */
tern_err tn_kc_conn_send(tn_kc_conn *c, tn_kw *req, size_t max_resp, uint64_t deadline);
/* Waits for the response to the request in flight; body reads it after
 * the correlation id, valid until the next send or tn_kc_conn_take.
 * TERN_ETIMEDOUT keeps the connection usable: call again to go on. */
tern_err tn_kc_conn_recv(tn_kc_conn *c, uint64_t deadline, tn_kr *body);
/* Hands over the last response's buffer (free it); body pointers into it
 * stay valid. */
uint8_t *tn_kc_conn_take(tn_kc_conn *c);

#endif
