/* NNG side of the PUSH/PULL benchmark: nng_push0/nng_pull0 with
 * nng_send/nng_recv, buffers set to the same depth as the other HWMs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

struct nsock {
    nng_socket s;
};

static int fail(const char *what, int rv)
{
    fprintf(stderr, "nng: %s: %s\n", what, nng_strerror(rv));
    return -1;
}

static int nctx_open(void)
{
    return 0; /* NNG keeps one global state, started by the first socket */
}

static void nctx_close(void)
{
    nng_fini();
}

static int nsock_open(void **hp, int push, int hwm)
{
    struct nsock *n = calloc(1, sizeof *n);
    int rv;
    if (n == NULL)
        return fail("calloc", NNG_ENOMEM);
    rv = push ? nng_push0_open(&n->s) : nng_pull0_open(&n->s);
    if (rv != 0)
        return fail("open", rv);
    rv = nng_socket_set_int(n->s, push ? NNG_OPT_SENDBUF : NNG_OPT_RECVBUF, hwm);
    if (rv != 0)
        return fail(push ? "NNG_OPT_SENDBUF" : "NNG_OPT_RECVBUF", rv);
    *hp = n;
    return 0;
}

static int npull_open(void **hp, const char *ep, int hwm, char *bound, size_t cap)
{
    nng_listener l;
    int rv;
    if (nsock_open(hp, 0, hwm) != 0)
        return -1;
    struct nsock *n = *hp;
    if ((rv = nng_listener_create(&l, n->s, ep)) != 0 || (rv = nng_listener_start(l, 0)) != 0)
        return fail(ep, rv);
    if (strncmp(ep, "tcp://", 6) == 0) {
        int port;
        if ((rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0)
            return fail("NNG_OPT_TCP_BOUND_PORT", rv);
        snprintf(bound, cap, "tcp://127.0.0.1:%d", port);
    } else {
        snprintf(bound, cap, "%s", ep);
    }
    return 0;
}

static int npush_open(void **hp, const char *ep, int hwm)
{
    if (nsock_open(hp, 1, hwm) != 0)
        return -1;
    struct nsock *n = *hp;
    /* Non-blocking dial retries in the background, as the others connect. */
    int rv = nng_dial(n->s, ep, NULL, NNG_FLAG_NONBLOCK);
    return rv == 0 ? 0 : fail(ep, rv);
}

static int nsend(void *h, const void *buf, size_t len)
{
    struct nsock *n = h;
    int rv = nng_send(n->s, (void *)buf, len, 0);
    return rv == 0 ? 0 : fail("nng_send", rv);
}

static int nrecv(void *h, void *buf, size_t cap, size_t *len)
{
    struct nsock *n = h;
    size_t sz = cap;
    int rv = nng_recv(n->s, buf, &sz, 0);
    if (rv != 0)
        return fail("nng_recv", rv);
    *len = sz;
    return 0;
}

static void nclose(void *h)
{
    struct nsock *n = h;
    nng_close(n->s);
    free(n);
}

static const struct bench_ops nng_ops = {
    "nng", nctx_open, nctx_close, npull_open, npush_open, nsend, nrecv, nclose,
};

int main(int argc, char **argv)
{
    return bench_pushpull_main(&nng_ops, argc, argv);
}
