/* NNG side of the benchmarks: push0/pull0, req0/rep0 and pub0/sub0 with
 * nng_send/nng_recv, buffers set to the same depth as the other HWMs. NNG
 * does not count what pub0 (or a full sub0) drops. */
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
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

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

static int (*const openers[])(nng_socket *) = {
    [BENCH_PUSH] = nng_push0_open, [BENCH_PULL] = nng_pull0_open, [BENCH_REQ] = nng_req0_open,
    [BENCH_REP] = nng_rep0_open,   [BENCH_PUB] = nng_pub0_open,   [BENCH_SUB] = nng_sub0_open,
};

static int nopen(void **hp, int type, const char *ep, int hwm, char *bound, size_t cap)
{
    struct nsock *n = calloc(1, sizeof *n);
    const char *opt = NULL;
    nng_listener l;
    int rv;
    if (n == NULL)
        return fail("calloc", NNG_ENOMEM);
    *hp = n;
    if ((rv = openers[type](&n->s)) != 0)
        return fail("open", rv);
    if (type == BENCH_PUSH || type == BENCH_PUB)
        opt = NNG_OPT_SENDBUF;
    else if (type == BENCH_PULL || type == BENCH_SUB)
        opt = NNG_OPT_RECVBUF;
    if (opt && (rv = nng_socket_set_int(n->s, opt, hwm)) != 0)
        return fail(opt, rv);
    if (type == BENCH_SUB && (rv = nng_socket_set(n->s, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0)
        return fail("NNG_OPT_SUB_SUBSCRIBE", rv);
    if (bound == NULL) {
        /* Non-blocking dial retries in the background, as the others connect. */
        rv = nng_dial(n->s, ep, NULL, NNG_FLAG_NONBLOCK);
        return rv == 0 ? 0 : fail(ep, rv);
    }
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
    "nng", nctx_open, nctx_close, nopen, nsend, nrecv, NULL, nclose,
};

int main(int argc, char **argv)
{
    return bench_main(&nng_ops, argc, argv);
}
