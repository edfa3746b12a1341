/* REQ/REP round-trip latency, the messaging twin of bench_raw's ping-pong.
 *
 *  - tcp and ipc only. The parent binds a REP socket and echoes every
 *    request; a forked child connects a REQ socket and measures, so the
 *    measuring side is the one that pays for a request's whole path.
 *  - The first round trips (a tenth of --count, at most 100) are not timed:
 *    they cover the handshake and the connection's slow first packets.
 *  - Then one request at a time, each timed from before its send to after
 *    its reply, for --seconds or --count round trips, whichever ends first.
 *    Each request carries its sequence number and the reply must echo the
 *    request byte for byte, so a mixed-up reply fails the run.
 *  - CPU is user+sys of both processes over the timed window, per round
 *    trip: the child's getrusage and the parent's process CPU clock.
 *  - A 1-byte request ends the echo loop; the child waits for its reply
 *    before reporting, so neither side closes with a message in flight. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WARMUP_MAX 100

/* What the child measured, sent to the parent through a pipe. */
struct report {
    uint64_t trips;
    uint64_t ns;
    uint64_t cpu_ns;
    double p50_us, p99_us;
};

static void round_trip(const struct bench_ops *ops, void *h, unsigned char *req,
                       unsigned char *rep, size_t size, uint64_t seq)
{
    size_t len;
    memcpy(req, &seq, 8);
    if (ops->send(h, req, size) != 0)
        bench_die("%s: request %llu: send failed", ops->system, (unsigned long long)seq);
    if (ops->recv(h, rep, size + 64, &len) != 0)
        bench_die("%s: request %llu: receive failed", ops->system, (unsigned long long)seq);
    if (len != size || memcmp(req, rep, size) != 0)
        bench_die("%s: the reply to request %llu does not echo it", ops->system,
                  (unsigned long long)seq);
}

static void client(const struct bench_ops *ops, const struct bench_opts *o, const char *ep,
                   int report_fd)
{
    uint64_t budget = (uint64_t)(o->seconds * 1e9), warmup = o->count / 10, n = 0;
    uint64_t *rtt = malloc(o->count * sizeof *rtt);
    unsigned char *req = malloc(o->size), *rep = malloc(o->size + 64);
    int parent = (int)getppid();
    void *h;

    if (rtt == NULL || req == NULL || rep == NULL)
        bench_die("out of memory");
    memset(req, 0xa5, o->size);
    if (warmup > WARMUP_MAX)
        warmup = WARMUP_MAX;
    if (ops->ctx_open() != 0 || ops->open(&h, BENCH_REQ, ep, o->hwm, NULL, 0) != 0)
        bench_die("%s: REQ setup failed", ops->system);
    for (uint64_t i = 0; i < warmup; i++)
        round_trip(ops, h, req, rep, o->size, i);

    uint64_t peer0 = bench_peer_cpu_ns(parent), cpu0 = bench_cpu_ns();
    uint64_t t0 = bench_now_ns(), now = t0;
    while (n < o->count - warmup && now - t0 < budget) {
        uint64_t start = now;
        round_trip(ops, h, req, rep, o->size, warmup + n);
        now = bench_now_ns();
        rtt[n++] = now - start;
    }
    uint64_t cpu1 = bench_cpu_ns(), peer1 = bench_peer_cpu_ns(parent);
    if (n == 0)
        bench_die("no round trips measured (raise --count)");

    size_t len;
    if (ops->send(h, req, 1) != 0 || ops->recv(h, rep, o->size + 64, &len) != 0 || len != 1)
        bench_die("%s: the end request was not echoed", ops->system);
    bench_sort_ns(rtt, n);
    struct report r = {
        .trips = n,
        .ns = now - t0,
        .cpu_ns = (cpu1 - cpu0) + (peer1 - peer0),
        .p50_us = bench_pct_us(rtt, n, 0.50),
        .p99_us = bench_pct_us(rtt, n, 0.99),
    };
    bench_write_all(report_fd, &r, sizeof r);
    ops->close(h);
    ops->ctx_close();
    free(rtt);
    free(req);
    free(rep);
}

int bench_reqrep_run(const struct bench_ops *ops, const struct bench_opts *o)
{
    char dir[BENCH_EP_MAX], ep[BENCH_EP_MAX], bound[BENCH_EP_MAX];
    int ep_pipe[2], report_pipe[2];

    if (strcmp(o->transport, "inproc") == 0)
        bench_die("reqrep: --transport tcp or ipc");
    if (o->size < 8)
        bench_die("reqrep: --size 8 or more (requests carry a sequence number)");
    bench_endpoint_make(o->transport, ep, dir, sizeof ep);
    if (pipe(ep_pipe) || pipe(report_pipe))
        bench_die("pipe: %s", strerror(errno));
    /* Fork before any library state exists: none of them survive fork. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        bench_set_peer((int)getppid());
        bench_arm_timeout(o->timeout);
        bench_endpoint_recv(ep_pipe[0], bound, sizeof bound);
        client(ops, o, bound, report_pipe[1]);
        _exit(0);
    }
    close(report_pipe[1]);
    bench_set_peer((int)pid);
    bench_arm_timeout(o->timeout);

    size_t cap = o->size + 64, len;
    unsigned char *buf = malloc(cap);
    void *h;
    if (buf == NULL)
        bench_die("out of memory");
    if (ops->ctx_open() != 0 || ops->open(&h, BENCH_REP, ep, o->hwm, bound, sizeof bound) != 0)
        bench_die("%s: REP setup failed", ops->system);
    bench_endpoint_send(ep_pipe[1], bound);
    do {
        if (ops->recv(h, buf, cap, &len) != 0)
            bench_die("%s: REP receive failed", ops->system);
        if (len > cap)
            bench_die("%s: a %zu-byte request, want %zu", ops->system, len, o->size);
        if (ops->send(h, buf, len) != 0)
            bench_die("%s: REP send failed", ops->system);
    } while (len != 1);

    struct report r;
    int st;
    bench_read_all(report_pipe[0], &r, sizeof r);
    if (waitpid(pid, &st, 0) < 0)
        bench_die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        bench_die("REQ process failed");
    bench_set_peer(0);
    struct bench_result res = {
        .system = ops->system,
        .opts = o,
        .msgs = r.trips,
        .secs = (double)r.ns / 1e9,
        .cpu_ns = (double)r.cpu_ns,
        .p50_us = r.p50_us,
        .p99_us = r.p99_us,
        .has_bytes = 0,
    };
    bench_result_print(&res);
    ops->close(h);
    ops->ctx_close();
    free(buf);
    if (dir[0])
        bench_tmpdir_remove(dir);
    return 0;
}
