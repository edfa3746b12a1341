/* PUB/SUB delivered throughput with drops accounted for.
 *
 *  - The parent binds a PUB socket; --subs forked children each connect a
 *    SUB socket and subscribe to everything. Each subscriber is a process
 *    with its own context, as separate subscribers are in practice, so no
 *    library gets to share an I/O thread or a lock between them.
 *  - Handshake: the publisher sends a 1-byte warm-up message every 100 us
 *    until every subscriber has received one and said so through its pipe.
 *    Only then does the clock start, so a slow connect or subscription
 *    cannot pass for a drop.
 *  - Measure: the publisher sends --size-byte messages numbered from 0, as
 *    fast as the PUB takes them, for --seconds (or --count messages). A
 *    default PUB never waits: at a subscriber's high-water mark the message
 *    is dropped for that subscriber.
 *  - End: the publisher repeats a 2-byte end marker, which may be dropped
 *    too, every 100 us until every subscriber has reported. Per-peer order
 *    means a subscriber's first end marker follows all it will ever get.
 *  - Every subscriber checks that numbers only increase: a gap is a drop, a
 *    repeat or a step back fails the run.
 *  - Delivered msgs/s: messages received by all subscribers, divided by the
 *    time from the first send to the last subscriber's end marker (one
 *    CLOCK_MONOTONIC across the processes). lost = sent x subs - delivered.
 *    A library that counts its drops (tern) must have counted exactly lost
 *    during the measured sends, or the run fails.
 *  - CPU: the publisher from its first send until the last report, each
 *    subscriber from its first message to its end marker, per delivered
 *    message. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SUBS_MAX 64
#define WARMUP_SIZE 1
#define END_SIZE 2

/* What a subscriber saw, sent to the parent through its pipe. */
struct report {
    uint64_t msgs;
    uint64_t last_seq;
    uint64_t t_end;  /* CLOCK_MONOTONIC at the end marker */
    uint64_t cpu_ns; /* from the first message to the end marker */
};

static void subscriber(const struct bench_ops *ops, const struct bench_opts *o, const char *ep,
                       int fd)
{
    size_t cap = o->size + 64, len;
    unsigned char *buf = malloc(cap);
    struct report r = {0, 0, 0, 0};
    uint64_t cpu0 = 0, seq;
    void *h;

    if (buf == NULL)
        bench_die("out of memory");
    if (ops->ctx_open() != 0 || ops->open(&h, BENCH_SUB, ep, o->hwm, NULL, 0) != 0)
        bench_die("%s: SUB setup failed", ops->system);
    /* Nothing but warm-up messages flows until every subscriber is ready. */
    do {
        if (ops->recv(h, buf, cap, &len) != 0)
            bench_die("%s: SUB receive failed during the handshake", ops->system);
    } while (len != WARMUP_SIZE);
    bench_write_all(fd, "r", 1);
    for (;;) {
        if (ops->recv(h, buf, cap, &len) != 0)
            bench_die("%s: SUB receive failed after %llu messages", ops->system,
                      (unsigned long long)r.msgs);
        if (len == WARMUP_SIZE)
            continue; /* sent before the last subscriber was ready */
        if (len == END_SIZE)
            break;
        if (len != o->size)
            bench_die("%s: got a %zu-byte message, want %zu", ops->system, len, o->size);
        memcpy(&seq, buf, 8);
        if (r.msgs == 0)
            cpu0 = bench_cpu_ns();
        else if (seq <= r.last_seq)
            bench_die("%s: message %llu arrived after %llu", ops->system, (unsigned long long)seq,
                      (unsigned long long)r.last_seq);
        r.last_seq = seq;
        r.msgs++;
    }
    r.t_end = bench_now_ns();
    r.cpu_ns = r.msgs ? bench_cpu_ns() - cpu0 : 0;
    bench_write_all(fd, &r, sizeof r);
    /* The process exits without closing: NNG 1.5's nng_close on a sub0
     * sometimes never returns (nanomsg/nng#1543), and nothing is left to
     * measure. */
    free(buf);
}

/* Sends msg (len bytes) every 100 us until each pipe in fds has delivered
 * len_each bytes into out[i]. A pipe that has is taken out of the poll by
 * complementing its fd (poll skips negative ones), restored at the end. */
static void send_until_all(const struct bench_ops *ops, void *h, const void *msg, size_t len,
                           struct pollfd *fds, int n, void *out, size_t len_each)
{
    const struct timespec tick = {0, 100000};
    int left = n;
    for (int i = 0; i < n; i++)
        fds[i].events = POLLIN;
    while (left > 0) {
        if (ops->send(h, msg, len) != 0)
            bench_die("%s: PUB send failed", ops->system);
        int ready = ppoll(fds, (nfds_t)n, &tick, NULL);
        if (ready < 0 && errno != EINTR)
            bench_die("poll: %s", strerror(errno));
        for (int i = 0; ready > 0 && i < n; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            /* A subscriber writes its reply at once: the read cannot stall. */
            bench_read_all(fds[i].fd, (char *)out + (size_t)i * len_each, len_each);
            fds[i].fd = ~fds[i].fd;
            left--;
        }
    }
    for (int i = 0; i < n; i++)
        fds[i].fd = ~fds[i].fd;
}

int bench_pubsub_run(const struct bench_ops *ops, const struct bench_opts *o)
{
    char dir[BENCH_EP_MAX], ep[BENCH_EP_MAX], bound[BENCH_EP_MAX];
    int ep_fds[SUBS_MAX], subs = o->subs;
    struct pollfd fds[SUBS_MAX];
    pid_t pids[SUBS_MAX];

    if (strcmp(o->transport, "inproc") == 0)
        bench_die("pubsub: --transport tcp or ipc");
    if (o->size < 8 || subs > SUBS_MAX)
        bench_die("pubsub: --size 8 or more (a sequence number), --subs %d at most", SUBS_MAX);
    bench_endpoint_make(o->transport, ep, dir, sizeof ep);
    /* Fork before any library state exists: none of them survive fork. */
    fflush(NULL);
    for (int i = 0; i < subs; i++) {
        int to_child[2], to_parent[2];
        if (pipe(to_child) || pipe(to_parent))
            bench_die("pipe: %s", strerror(errno));
        pids[i] = fork();
        if (pids[i] < 0)
            bench_die("fork: %s", strerror(errno));
        if (pids[i] == 0) {
            for (int j = 0; j < i; j++) {
                close(ep_fds[j]);
                close(fds[j].fd);
            }
            close(to_child[1]);
            close(to_parent[0]);
            bench_child_of((int)getppid());
            bench_arm_timeout(o->timeout);
            bench_endpoint_recv(to_child[0], bound, sizeof bound);
            subscriber(ops, o, bound, to_parent[1]);
            _exit(0);
        }
        /* Only the child holds the write end: its death reads as EOF. */
        close(to_child[0]);
        close(to_parent[1]);
        ep_fds[i] = to_child[1];
        fds[i].fd = to_parent[0];
    }
    bench_arm_timeout(o->timeout);

    void *h;
    if (ops->ctx_open() != 0 || ops->open(&h, BENCH_PUB, ep, o->hwm, bound, sizeof bound) != 0)
        bench_die("%s: PUB setup failed", ops->system);
    for (int i = 0; i < subs; i++)
        bench_endpoint_send(ep_fds[i], bound);

    unsigned char *buf = calloc(1, o->size);
    char ready[SUBS_MAX];
    struct report reps[SUBS_MAX];
    uint64_t drops0 = 0, drops1 = 0;
    if (buf == NULL)
        bench_die("out of memory");
    send_until_all(ops, h, buf, WARMUP_SIZE, fds, subs, ready, 1);
    if (ops->drops && ops->drops(h, &drops0) != 0)
        bench_die("%s: cannot read the drop count", ops->system);

    uint64_t budget = (uint64_t)(o->seconds * 1e9), cpu0 = bench_cpu_ns();
    uint64_t t0 = bench_now_ns(), sent;
    memset(buf, 0xa5, o->size);
    for (sent = 0; sent < o->count; sent++) {
        if ((sent & 63) == 0 && bench_now_ns() - t0 >= budget)
            break;
        memcpy(buf, &sent, 8);
        if (ops->send(h, buf, o->size) != 0)
            bench_die("%s: PUB send failed after %llu messages", ops->system,
                      (unsigned long long)sent);
    }
    /* Before the end markers, whose own drops must not count. */
    if (ops->drops && ops->drops(h, &drops1) != 0)
        bench_die("%s: cannot read the drop count", ops->system);
    memset(buf, 0, END_SIZE);
    send_until_all(ops, h, buf, END_SIZE, fds, subs, reps, sizeof *reps);
    uint64_t cpu1 = bench_cpu_ns();

    uint64_t delivered = 0, t_end = t0, cpu = cpu1 - cpu0;
    for (int i = 0; i < subs; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) < 0)
            bench_die("waitpid: %s", strerror(errno));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bench_die("subscriber process %d failed", i);
        if (reps[i].msgs > 0 && reps[i].last_seq >= sent)
            bench_die("%s: subscriber %d got message %llu of %llu sent", ops->system, i,
                      (unsigned long long)reps[i].last_seq, (unsigned long long)sent);
        delivered += reps[i].msgs;
        cpu += reps[i].cpu_ns;
        if (reps[i].t_end > t_end)
            t_end = reps[i].t_end;
        close(ep_fds[i]);
        close(fds[i].fd);
    }
    uint64_t expected = sent * (uint64_t)subs, lost = expected - delivered;
    if (delivered == 0)
        bench_die("%s: no message delivered", ops->system);
    if (ops->drops && drops1 - drops0 != lost)
        bench_die("%s: %llu messages lost but %llu drops counted", ops->system,
                  (unsigned long long)lost, (unsigned long long)(drops1 - drops0));
    struct bench_result r = {
        .system = ops->system,
        .opts = o,
        .msgs = delivered,
        .secs = (double)(t_end - t0) / 1e9,
        .cpu_ns = (double)cpu,
        .p50_us = -1,
        .p99_us = -1,
        .has_bytes = 1,
        .delivery = (double)delivered / (double)expected,
        .drops = ops->drops ? (double)(drops1 - drops0) : -1,
        .lost = (double)lost,
    };
    bench_result_print(&r);
    ops->close(h);
    ops->ctx_close();
    free(buf);
    if (dir[0])
        bench_tmpdir_remove(dir);
    return 0;
}
