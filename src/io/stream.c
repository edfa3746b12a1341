/* Socket calls shared by the stream transports. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/transport.h"

tern_err tn_endpoint_split(const char *endpoint, char *scheme, size_t scheme_cap, const char **rest)
{
    if (endpoint == NULL)
        return TERN_EINVAL;
    const char *sep = strstr(endpoint, "://");
    if (sep == NULL || sep == endpoint || (size_t)(sep - endpoint) >= scheme_cap ||
        strlen(endpoint) >= TN_ENDPOINT_MAX)
        return TERN_EADDRINVAL;
    memcpy(scheme, endpoint, (size_t)(sep - endpoint));
    scheme[sep - endpoint] = '\0';
    *rest = sep + 3;
    return TERN_OK;
}

const tn_stream_transport *tn_stream_transport_find(const char *scheme)
{
    if (strcmp(scheme, "tcp") == 0)
        return &tn_tcp_transport;
    if (strcmp(scheme, "ipc") == 0)
        return &tn_ipc_transport;
    return NULL;
}

tern_err tn_stream_listen(const tn_stream_transport *t, const tn_addr *addr, int *fdp,
                          tn_addr *bound)
{
    tern_err err = t->prepare_bind(addr);
    if (err != TERN_OK)
        return err;
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tern_err_from_errno(errno);
    if (addr->sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 || listen(fd, 256) < 0) {
        err = errno == EADDRNOTAVAIL ? TERN_EADDRINVAL : tern_err_from_errno(errno);
        close(fd);
        return err;
    }
    bound->len = sizeof(bound->sa);
    if (getsockname(fd, (struct sockaddr *)&bound->sa, &bound->len) < 0 || bound->len == 0 ||
        addr->sa.ss_family == AF_UNIX)
        *bound = *addr;
    *fdp = fd;
    return TERN_OK;
}

tern_err tn_stream_connect(const tn_stream_transport *t, const tn_addr *addr, int *fdp,
                           int *in_progress)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tern_err_from_errno(errno);
    t->tune(fd);
    *in_progress = 0;
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            tern_err err = tern_err_from_errno(errno);
            close(fd);
            return err;
        }
        *in_progress = 1;
    }
    *fdp = fd;
    return TERN_OK;
}

tern_err tn_stream_connect_result(int fd)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return tern_err_from_errno(errno);
    return tern_err_from_errno(soerr);
}

void tn_stream_peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    snprintf(out, cap, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    uint16_t port;
    if (tn_addr_host_port(&ss, host, sizeof(host), &port) == TERN_OK) {
        snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
    } else if (ss.ss_family == AF_UNIX) {
        /* Unix peers are unnamed: the process behind it says more. */
        struct ucred cred;
        socklen_t clen = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
            snprintf(out, cap, "pid %d uid %u", (int)cred.pid, (unsigned)cred.uid);
        else
            snprintf(out, cap, "unix peer (fd %d)", fd);
    }
}

tern_err tn_addr_host_port(const struct sockaddr_storage *ss, char *host, size_t cap,
                           uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)cap);
        *port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)cap);
        *port = ntohs(in6->sin6_port);
    } else {
        return TERN_EADDRINVAL;
    }
    return TERN_OK;
}

tern_err tn_stream_local_host_port(int fd, char *host, size_t cap, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return tern_err_from_errno(errno);
    return tn_addr_host_port(&ss, host, cap, port);
}
