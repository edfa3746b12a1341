/* Stream transports (tcp://, ipc://): address parsing and the non-blocking
 * socket calls around it. Each transport is a static ops table; adding one
 * is a new file and a line in tn_stream_transport_find(). inproc:// is not a
 * stream transport: it lives in msg/inproc.c. */
#ifndef TN_IO_TRANSPORT_H
#define TN_IO_TRANSPORT_H

#include <stdint.h>
#include <sys/socket.h>

#include "tern/base.h"

#define TN_ENDPOINT_MAX 256

typedef struct tn_addr {
    struct sockaddr_storage sa;
    socklen_t len;
} tn_addr;

typedef struct tn_stream_transport {
    const char *scheme;
    /* Parses the part after "scheme://" (resolving host names). */
    tern_err (*resolve)(const char *addr, int for_bind, tn_addr *out);
    /* Socket options after socket() (TCP_NODELAY, ...). */
    void (*tune)(int fd);
    /* Before bind: refuse a live address or clear a stale one. */
    tern_err (*prepare_bind)(const tn_addr *addr);
    /* After close of a bound socket (unlink an ipc path). */
    void (*unbind)(const tn_addr *addr);
    /* "scheme://..." for an address. */
    void (*format)(const tn_addr *addr, char *out, size_t cap);
} tn_stream_transport;

extern const tn_stream_transport tn_tcp_transport;
extern const tn_stream_transport tn_ipc_transport;

/* Splits "scheme://rest": returns the transport (NULL for non-stream
 * schemes) and points *rest after "://". TERN_EADDRINVAL if malformed. */
tern_err tn_endpoint_split(const char *endpoint, char *scheme, size_t scheme_cap,
                           const char **rest);
const tn_stream_transport *tn_stream_transport_find(const char *scheme);

/* Non-blocking listening socket bound to addr; *bound gets the real address. */
tern_err tn_stream_listen(const tn_stream_transport *t, const tn_addr *addr, int *fdp,
                          tn_addr *bound);
/* Starts a non-blocking connect; *in_progress set if EPOLLOUT must be awaited. */
tern_err tn_stream_connect(const tn_stream_transport *t, const tn_addr *addr, int *fdp,
                           int *in_progress);
/* Result of a finished non-blocking connect. */
tern_err tn_stream_connect_result(int fd);
/* "host:port" of the peer, for traces. */
void tn_stream_peer_name(int fd, char *out, size_t cap);
/* The numeric host (no brackets) and port of an IPv4 or IPv6 address;
 * TERN_EADDRINVAL for other families. */
tern_err tn_addr_host_port(const struct sockaddr_storage *ss, char *host, size_t cap,
                           uint16_t *port);
/* The local address a socket is bound or connected to, as host and port. */
tern_err tn_stream_local_host_port(int fd, char *host, size_t cap, uint16_t *port);

#endif
