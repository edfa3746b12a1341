/* tcp:// — "HOST:PORT", "[IPv6]:PORT", "*:PORT" (bind only); host names are
 * resolved with getaddrinfo (the first address wins). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/transport.h"

static tern_err tcp_resolve(const char *addr, int for_bind, tn_addr *out)
{
    char host[TN_ENDPOINT_MAX];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || colon[1] == '\0')
        return TERN_EADDRINVAL;
    size_t hlen = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (hlen < 3 || addr[hlen - 1] != ']')
            return TERN_EADDRINVAL;
        memcpy(host, addr + 1, hlen - 2);
        host[hlen - 2] = '\0';
    } else {
        memcpy(host, addr, hlen);
        host[hlen] = '\0';
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return TERN_EADDRINVAL;
    if (port == 0 && !for_bind)
        return TERN_EADDRINVAL;

    memset(out, 0, sizeof(*out));
    if (strcmp(host, "*") == 0) {
        if (!for_bind)
            return TERN_EADDRINVAL;
        struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        in->sin_port = htons((uint16_t)port);
        out->len = sizeof(*in);
        return TERN_OK;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    if (host[0] == '\0' || getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return TERN_EADDRINVAL;
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    if (out->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&out->sa)->sin_port = htons((uint16_t)port);
    else if (out->sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&out->sa)->sin6_port = htons((uint16_t)port);
    else
        return TERN_EADDRINVAL;
    return TERN_OK;
}

static void tcp_tune(int fd)
{
    int one = 1;
    /* ZMTP frames are batched by the sender; Nagle would only add latency. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static tern_err tcp_prepare_bind(const tn_addr *addr)
{
    (void)addr;
    return TERN_OK;
}

static void tcp_unbind(const tn_addr *addr)
{
    (void)addr;
}

static void tcp_format(const tn_addr *a, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    (void)tn_addr_host_port(&a->sa, host, sizeof(host), &port);
    snprintf(out, cap, a->sa.ss_family == AF_INET6 ? "tcp://[%s]:%u" : "tcp://%s:%u", host, port);
}

const tn_stream_transport tn_tcp_transport = {
    .scheme = "tcp",
    .resolve = tcp_resolve,
    .tune = tcp_tune,
    .prepare_bind = tcp_prepare_bind,
    .unbind = tcp_unbind,
    .format = tcp_format,
};
