/* libzmq side of the PUSH/PULL benchmark: zmq_send/zmq_recv, default
 * one I/O thread, equal high-water marks on both sides. */
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

static int zsock(void **hp, int type, int hwm)
{
    void *s = zmq_socket(ctx, type);
    if (s == NULL)
        return fail("zmq_socket");
    int opt = type == ZMQ_PUSH ? ZMQ_SNDHWM : ZMQ_RCVHWM;
    if (zmq_setsockopt(s, opt, &hwm, sizeof hwm) != 0)
        return fail("zmq_setsockopt HWM");
    *hp = s;
    return 0;
}

static int zpull_open(void **hp, const char *ep, int hwm, char *bound, size_t cap)
{
    char buf[BENCH_EP_MAX];
    size_t len = sizeof buf;
    if (zsock(hp, ZMQ_PULL, hwm) != 0)
        return -1;
    if (zmq_bind(*hp, ep) != 0)
        return fail(ep);
    if (zmq_getsockopt(*hp, ZMQ_LAST_ENDPOINT, buf, &len) != 0)
        return fail("ZMQ_LAST_ENDPOINT");
    snprintf(bound, cap, "%s", buf);
    return 0;
}

static int zpush_open(void **hp, const char *ep, int hwm)
{
    if (zsock(hp, ZMQ_PUSH, hwm) != 0)
        return -1;
    return zmq_connect(*hp, ep) == 0 ? 0 : fail(ep);
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
    /* The receiver already has every message: nothing left to flush. */
    zmq_setsockopt(h, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(h);
}

static const struct bench_ops zmq_ops = {
    "zmq", zctx_open, zctx_close, zpull_open, zpush_open, zsend, zrecv, zclose,
};

int main(int argc, char **argv)
{
    return bench_pushpull_main(&zmq_ops, argc, argv);
}
