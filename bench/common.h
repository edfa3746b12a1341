/* Shared helpers for the side-by-side benchmarks: option parsing, clocks,
 * CPU accounting, the result line, and one PUSH/PULL driver that every
 * messaging library plugs into through a small ops table.
 *
 * Measurement rules (the same for every system):
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
    const char *pattern;   /* pushpull; raw: pingpong, stream */
    size_t size;           /* message (or write) size in bytes */
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
};

/* The library under test. Each call prints its own error (with the
 * library's error text) and returns -1 on failure. */
struct bench_ops {
    const char *system;
    /* Per process after fork, or once for both inproc threads. */
    int (*ctx_open)(void);
    void (*ctx_close)(void);
    /* Binds ep ("tcp://127.0.0.1:0", "ipc:///…", "inproc://…") and writes
     * the endpoint a peer should connect to into bound. */
    int (*pull_open)(void **hp, const char *ep, int hwm, char *bound, size_t cap);
    int (*push_open)(void **hp, const char *ep, int hwm);
    int (*send)(void *h, const void *buf, size_t len);
    /* *len gets the message's full size, even past cap. */
    int (*recv)(void *h, void *buf, size_t cap, size_t *len);
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
/* Arms a SIGALRM that ends a stuck run with a message. */
void bench_arm_timeout(int seconds);

/* Full-length pipe I/O; die on error or early EOF. */
void bench_write_all(int fd, const void *buf, size_t len);
void bench_read_all(int fd, void *buf, size_t len);

/* A fresh private directory for ipc endpoints; bench_tmpdir_remove cleans up. */
void bench_tmpdir_make(char *dir, size_t cap);
void bench_tmpdir_remove(const char *dir);

/* Runs the PUSH/PULL throughput case the options describe and prints the
 * result line. Returns the process exit status. */
int bench_pushpull_main(const struct bench_ops *ops, int argc, char **argv);

#endif
