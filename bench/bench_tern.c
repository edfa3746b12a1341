/* tern side of the benchmarks: tern_send/tern_recv on PUSH/PULL, REQ/REP
 * and PUB/SUB sockets, one context per process (default one I/O thread, as
 * libzmq), the same high-water marks as the others, default options
 * otherwise (a PUB drops at the mark and counts it). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <tern/tern.h>

static tern_ctx *ctx;

static int fail(const char *what, tern_err e)
{
    fprintf(stderr, "tern: %s: %s (%s)\n", what, tern_errname(e), tern_strerror(e));
    return -1;
}

static int tctx_open(void)
{
    tern_err e = tern_ctx_open(&ctx, 0);
    return e == TERN_OK ? 0 : fail("tern_ctx_open", e);
}

static void tctx_close(void)
{
    tern_ctx_close(ctx);
    ctx = NULL;
}

static const int types[] = {
    [BENCH_PUSH] = TERN_PUSH, [BENCH_PULL] = TERN_PULL, [BENCH_REQ] = TERN_REQ,
    [BENCH_REP] = TERN_REP,   [BENCH_PUB] = TERN_PUB,   [BENCH_SUB] = TERN_SUB,
};

/* The socket id travels through the void * handle of the ops table. */
static int topen(void **hp, int type, const char *ep, int hwm, char *bound, size_t cap)
{
    tern_socket *s = malloc(sizeof *s);
    tern_err e;
    if (s == NULL)
        return fail("malloc", TERN_ENOMEM);
    *hp = s;
    if ((e = tern_socket_open(ctx, types[type], s)) != TERN_OK)
        return fail("tern_socket_open", e);
    if (type == BENCH_PUSH || type == BENCH_PUB)
        e = tern_setopt_int(*s, TERN_OPT_SNDHWM, hwm);
    else if (type == BENCH_PULL || type == BENCH_SUB)
        e = tern_setopt_int(*s, TERN_OPT_RCVHWM, hwm);
    if (e != TERN_OK)
        return fail("HWM", e);
    if (type == BENCH_SUB && (e = tern_setopt_bytes(*s, TERN_OPT_SUBSCRIBE, "", 0)) != TERN_OK)
        return fail("TERN_OPT_SUBSCRIBE", e);
    if (bound) {
        size_t len = cap;
        if ((e = tern_bind(*s, ep)) != TERN_OK)
            return fail(ep, e);
        if ((e = tern_getopt_bytes(*s, TERN_OPT_LAST_ENDPOINT, bound, &len)) != TERN_OK)
            return fail("TERN_OPT_LAST_ENDPOINT", e);
        return 0;
    }
    if ((e = tern_connect(*s, ep)) != TERN_OK)
        return fail(ep, e);
    /* Start once the handshake is done, whatever a send to no peer does;
     * the clock only starts after the first message anyway. */
    for (int i = 0; i < 5000; i++) {
        int64_t peers = 0;
        if (tern_getopt_int(*s, TERN_OPT_PEERS, &peers) != TERN_OK || peers > 0)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return 0;
}

static int tsend(void *h, const void *buf, size_t len)
{
    tern_socket *s = h;
    tern_err e;
    while ((e = tern_send(*s, buf, len, 0)) == TERN_EINTR) {
        /* retry */
    }
    return e == TERN_OK ? 0 : fail("tern_send", e);
}

static int trecv(void *h, void *buf, size_t cap, size_t *len)
{
    tern_socket *s = h;
    tern_err e;
    while ((e = tern_recv(*s, buf, cap, len, 0)) == TERN_EINTR) {
        /* retry */
    }
    /* A message larger than cap still reports its size; the caller rejects it. */
    return e == TERN_OK || e == TERN_EMSGSIZE ? 0 : fail("tern_recv", e);
}

static int tdrops(void *h, uint64_t *n)
{
    tern_socket *s = h;
    tern_sock_stats st;
    tern_err e = tern_socket_stats(*s, &st);
    if (e != TERN_OK)
        return fail("tern_socket_stats", e);
    *n = st.drops;
    return 0;
}

static void tclose(void *h)
{
    tern_socket *s = h;
    /* The peer already has every message: nothing left to flush. */
    tern_setopt_int(*s, TERN_OPT_LINGER, 0);
    tern_socket_close(*s);
    free(s);
}

static const struct bench_ops tern_ops = {
    "tern", tctx_open, tctx_close, topen, tsend, trecv, tdrops, tclose,
};

int main(int argc, char **argv)
{
    return bench_main(&tern_ops, argc, argv);
}
