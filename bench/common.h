/* Shared helpers for the side-by-side benchmarks: option parsing, clocks,
 * CPU accounting, the result line, and the PUSH/PULL (common.c), REQ/REP
 * (reqrep.c) and PUB/SUB (pubsub.c) drivers that every messaging library
 * plugs into through a small ops table.
 *
 * PUSH/PULL measurement rules (the same for every system; reqrep.c and
 * pubsub.c open with their own):
 *  - tcp and ipc: the receiver and the sender are separate processes (fork
 *    before any library state exists); inproc: two threads in one process.
 *  - Wall time runs at the receiver from the first message received to the
 *    end marker that follows the last one, or until --seconds have passed
 *    since the first message (the sender is then stopped).
 *  - CPU time is user+sys of both sides (all threads) over that same window,
 *    divided by the messages received in it: getrusage for the receiver, the
 *    sender's process CPU clock for a forked sender. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct bench_opts {
    const char *transport; /* tcp, ipc, inproc */
    const char *pattern;   /* pushpull, reqrep, pubsub; raw: pingpong, stream */
    size_t size;           /* message (or write) size in bytes */
    int subs;              /* pubsub: subscriber processes */
    uint64_t count;        /* most messages the sender sends */
    double seconds;        /* sender stops after this long, whichever first */
    int hwm;               /* send and receive high-water marks, messages */
    int timeout;           /* seconds before a stuck run gives up */
    int json;              /* print the result as JSON instead of key=value */
};

struct bench_result {
    const char *system;
    const struct bench_opts *opts;
    uint64_t msgs;  /* messages (or round trips) measured */
    double secs;    /* wall time of the measured window */
    double cpu_ns;  /* user+sys of both sides over the window */
    double p50_us;  /* < 0: does not apply */
    double p99_us;
    int has_bytes;  /* 0: MB/s does not apply (ping-pong) */
    /* pubsub only, < 0 otherwise: msgs / (sent x subscribers), the drops
     * the library counted (< 0 too when it counts none), and sent x
     * subscribers - msgs. */
    double delivery;
    double drops;
    double lost;
};

/* Socket types the ops tables open. */
enum bench_type { BENCH_PUSH, BENCH_PULL, BENCH_REQ, BENCH_REP, BENCH_PUB, BENCH_SUB };

/* The library under test. Each call prints its own error (with the
 * library's error text) and returns -1 on failure. */
struct bench_ops {
    const char *system;
    /* Per process after fork, or once for both inproc threads. */
    int (*ctx_open)(void);
    void (*ctx_close)(void);
    /* Opens a socket of a bench_type. The high-water mark applies to the
     * direction the type queues in (PUSH, PUB: send; PULL, SUB: receive;
     * REQ and REP run in lockstep and keep the default). With bound, binds
     * ep ("tcp://127.0.0.1:0", "ipc:///…", "inproc://…") and writes the
     * endpoint a peer should connect to into bound; without, connects to
     * ep. A SUB subscribes to everything. */
    int (*open)(void **hp, int type, const char *ep, int hwm, char *bound, size_t cap);
    /* Blocking, except that a PUB never waits: it drops at the mark. */
    int (*send)(void *h, const void *buf, size_t len);
    /* *len gets the message's full size, even past cap. */
    int (*recv)(void *h, void *buf, size_t cap, size_t *len);
    /* Messages the socket dropped by design so far; NULL when the library
     * does not count them. */
    int (*drops)(void *h, uint64_t *n);
    void (*close)(void *h);
};

#define BENCH_EP_MAX 512

void bench_opts_parse(struct bench_opts *o, int argc, char **argv, const char *prog);
uint64_t bench_now_ns(void);
/* user+sys of the whole process (every thread), nanoseconds. */
uint64_t bench_cpu_ns(void);
/* user+sys of another live process (every thread), nanoseconds: the sender
 * is sampled while it runs, since it has not exited when the window ends. */
uint64_t bench_peer_cpu_ns(int pid);
void bench_result_print(const struct bench_result *r);

/* Prints to stderr, takes down the peer process if there is one, exits. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The other process of a forked pair; bench_die kills it. */
void bench_set_peer(int pid);
/* In a forked child with several siblings: the parent is the peer, and the
 * child dies with the parent, so no sibling outlives a failed run. */
void bench_child_of(int parent);
/* Arms a SIGALRM that ends a stuck run with a message. */
void bench_arm_timeout(int seconds);

/* Full-length pipe I/O; die on error or early EOF. */
void bench_write_all(int fd, const void *buf, size_t len);
void bench_read_all(int fd, void *buf, size_t len);

/* A fresh private directory for ipc endpoints; bench_tmpdir_remove cleans up. */
void bench_tmpdir_make(char *dir, size_t cap);
void bench_tmpdir_remove(const char *dir);
/* Fills ep with tcp://127.0.0.1:0, or an ipc path in a fresh directory
 * (then dir names it, for bench_tmpdir_remove; else dir is ""). */
void bench_endpoint_make(const char *transport, char *ep, char *dir, size_t cap);
/* Sends and receives an endpoint string over a pipe. */
void bench_endpoint_send(int fd, const char *ep);
void bench_endpoint_recv(int fd, char *ep, size_t cap);

/* Sorts n nanosecond samples in place; the percentile p (0..1) of sorted
 * samples, in microseconds. */
void bench_sort_ns(uint64_t *ns, uint64_t n);
double bench_pct_us(const uint64_t *sorted, uint64_t n, double p);

/* Runs the case the options describe (--pattern pushpull, reqrep or
 * pubsub) and prints the result line. Returns the process exit status. */
int bench_main(const struct bench_ops *ops, int argc, char **argv);
int bench_reqrep_run(const struct bench_ops *ops, const struct bench_opts *o);
int bench_pubsub_run(const struct bench_ops *ops, const struct bench_opts *o);

#endif
