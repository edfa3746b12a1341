/* libzmq side of the benchmarks: zmq_send/zmq_recv on PUSH/PULL, REQ/REP
 * and PUB/SUB sockets, default one I/O thread, equal high-water marks on
 * both sides. libzmq does not count what a PUB drops at the mark. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static void *ctx;

static int fail(const char *what)
{
    fprintf(stderr, "zmq: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return -1;
}

static int zctx_open(void)
{
    ctx = zmq_ctx_new();
    return ctx ? 0 : fail("zmq_ctx_new");
}

static void zctx_close(void)
{
    zmq_ctx_term(ctx);
    ctx = NULL;
}

static const int types[] = {
    [BENCH_PUSH] = ZMQ_PUSH, [BENCH_PULL] = ZMQ_PULL, [BENCH_REQ] = ZMQ_REQ,
    [BENCH_REP] = ZMQ_REP,   [BENCH_PUB] = ZMQ_PUB,   [BENCH_SUB] = ZMQ_SUB,
};

static int zopen(void **hp, int type, const char *ep, int hwm, char *bound, size_t cap)
{
    void *s = zmq_socket(ctx, types[type]);
    int opt = -1;
    if (s == NULL)
        return fail("zmq_socket");
    *hp = s;
    if (type == BENCH_PUSH || type == BENCH_PUB)
        opt = ZMQ_SNDHWM;
    else if (type == BENCH_PULL || type == BENCH_SUB)
        opt = ZMQ_RCVHWM;
    if (opt >= 0 && zmq_setsockopt(s, opt, &hwm, sizeof hwm) != 0)
        return fail("zmq_setsockopt HWM");
    if (type == BENCH_SUB && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0)
        return fail("ZMQ_SUBSCRIBE");
    if (bound == NULL)
        return zmq_connect(s, ep) == 0 ? 0 : fail(ep);
    char buf[BENCH_EP_MAX];
    size_t len = sizeof buf;
    if (zmq_bind(s, ep) != 0)
        return fail(ep);
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len) != 0)
        return fail("ZMQ_LAST_ENDPOINT");
    snprintf(bound, cap, "%s", buf);
    return 0;
}

static int zsend(void *h, const void *buf, size_t len)
{
    while (zmq_send(h, buf, len, 0) < 0) {
        if (zmq_errno() != EINTR)
            return fail("zmq_send");
    }
    return 0;
}

static int zrecv(void *h, void *buf, size_t cap, size_t *len)
{
    int n;
    while ((n = zmq_recv(h, buf, cap, 0)) < 0) {
        if (zmq_errno() != EINTR)
            return fail("zmq_recv");
    }
    *len = (size_t)n;
    return 0;
}

static void zclose(void *h)
{
    int zero = 0;
    /* The peer already has every message: nothing left to flush. */
    zmq_setsockopt(h, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(h);
}

static const struct bench_ops zmq_ops = {
    "zmq", zctx_open, zctx_close, zopen, zsend, zrecv, NULL, zclose,
};

int main(int argc, char **argv)
{
    return bench_main(&zmq_ops, argc, argv);
}
