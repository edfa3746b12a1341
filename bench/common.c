/* Shared benchmark helpers; see common.h for what is measured and how. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t peer_pid;
static int peer_is_parent;

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--transport tcp|ipc|inproc] [--pattern P] [--size BYTES]\n"
            "          [--count N] [--seconds S] [--hwm N] [--subs N] [--timeout S] [--json]\n"
            "Patterns: pushpull, reqrep, pubsub; bench_raw: pingpong, stream.\n"
            "Prints one result line (key=value, or JSON with --json).\n",
            prog);
    exit(2);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        bench_die("bad %s: %s", what, s);
    return v;
}

void bench_opts_parse(struct bench_opts *o, int argc, char **argv, const char *prog)
{
    o->transport = "tcp";
    o->pattern = "pushpull";
    o->size = 16;
    o->count = 1000000;
    o->seconds = 1.0;
    o->hwm = 1000;
    o->subs = 1;
    o->timeout = 60;
    o->json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || v == NULL)
            usage(prog);
        i++;
        if (strcmp(a, "--transport") == 0)
            o->transport = v;
        else if (strcmp(a, "--pattern") == 0)
            o->pattern = v;
        else if (strcmp(a, "--size") == 0)
            o->size = (size_t)parse_u64(v, "size");
        else if (strcmp(a, "--count") == 0)
            o->count = parse_u64(v, "count");
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = atof(v);
        else if (strcmp(a, "--hwm") == 0)
            o->hwm = (int)parse_u64(v, "hwm");
        else if (strcmp(a, "--subs") == 0)
            o->subs = (int)parse_u64(v, "subs");
        else if (strcmp(a, "--timeout") == 0)
            o->timeout = (int)parse_u64(v, "timeout");
        else
            usage(prog);
    }
    if (strcmp(o->transport, "tcp") != 0 && strcmp(o->transport, "ipc") != 0 &&
        strcmp(o->transport, "inproc") != 0)
        bench_die("unknown transport %s", o->transport);
    if (o->size == 0 || o->count < 1 || o->seconds <= 0 || o->subs < 1)
        bench_die("size, count, seconds and subs must be positive");
    /* A dead peer must show up as EPIPE and a message, not a silent kill. */
    signal(SIGPIPE, SIG_IGN);
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    uint64_t us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return us * 1000u;
}

/* Counts print whole (%.0f): drops and losses must add up exactly. */
static void put_val(const char *key, double v, int json, int last, int count)
{
    if (v < 0)
        printf(json ? "\"%s\":null" : "%s=null", key);
    else if (count)
        printf(json ? "\"%s\":%.0f" : "%s=%.0f", key, v);
    else
        printf(json ? "\"%s\":%.6g" : "%s=%.6g", key, v);
    fputs(last ? (json ? "}\n" : "\n") : (json ? "," : " "), stdout);
}

static void put_num(const char *key, double v, int json, int last)
{
    put_val(key, v, json, last, 0);
}

uint64_t bench_peer_cpu_ns(int pid)
{
    clockid_t cid;
    struct timespec ts;
    if (clock_getcpuclockid((pid_t)pid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        bench_die("cannot read the CPU clock of process %d", pid);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_result_print(const struct bench_result *r)
{
    const struct bench_opts *o = r->opts;
    double rate = r->secs > 0 ? (double)r->msgs / r->secs : 0;
    int js = o->json;
    if (js)
        printf("{\"system\":\"%s\",\"transport\":\"%s\",\"pattern\":\"%s\",\"size\":%zu,"
               "\"msgs\":%llu,",
               r->system, o->transport, o->pattern, o->size, (unsigned long long)r->msgs);
    else
        printf("system=%s transport=%s pattern=%s size=%zu msgs=%llu ", r->system, o->transport,
               o->pattern, o->size, (unsigned long long)r->msgs);
    put_num("secs", r->secs, js, 0);
    put_num("msgs_per_s", rate, js, 0);
    put_num("mb_per_s", r->has_bytes ? rate * (double)o->size / 1e6 : -1, js, 0);
    put_num("cpu_ns_per_msg", r->msgs ? r->cpu_ns / (double)r->msgs : -1, js, 0);
    put_num("p50_us", r->p50_us, js, 0);
    put_num("p99_us", r->p99_us, js, 0);
    int ps = strcmp(o->pattern, "pubsub") == 0;
    put_val("subscribers", ps ? o->subs : -1, js, 0, 1);
    put_num("delivery", ps ? r->delivery : -1, js, 0);
    put_val("drops", ps ? r->drops : -1, js, 0, 1);
    put_val("lost", ps ? r->lost : -1, js, 1, 1);
    fflush(stdout);
}

void bench_set_peer(int pid)
{
    peer_pid = pid;
    peer_is_parent = pid == getppid();
}

void bench_child_of(int parent)
{
    bench_set_peer(parent);
    /* The parent may have died before the request took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        bench_die("parent process gone");
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench[%d]: ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    /* Neither side may wait forever for a partner that is gone. */
    if (peer_pid > 0)
        kill(peer_pid, peer_is_parent ? SIGTERM : SIGKILL);
    exit(1);
}

static void on_alarm(int sig)
{
    static const char msg[] = "bench: timed out\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to say */
    }
    if (peer_pid > 0)
        kill(peer_pid, peer_is_parent ? SIGTERM : SIGKILL);
    _exit(3);
}

void bench_arm_timeout(int seconds)
{
    signal(SIGALRM, on_alarm);
    alarm((unsigned)seconds);
}

void bench_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

void bench_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("read: %s", strerror(errno));
        if (n == 0)
            bench_die("peer process ended early");
        p += n;
        len -= (size_t)n;
    }
}

void bench_tmpdir_make(char *dir, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    if ((size_t)snprintf(dir, cap, "%s/tern-bench.XXXXXX", base) >= cap)
        bench_die("TMPDIR too long");
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp %s: %s", dir, strerror(errno));
}

void bench_tmpdir_remove(const char *dir)
{
    char path[BENCH_EP_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/s.ipc", dir) < sizeof path)
        unlink(path);
    rmdir(dir);
}

void bench_endpoint_make(const char *transport, char *ep, char *dir, size_t cap)
{
    dir[0] = '\0';
    if (strcmp(transport, "tcp") == 0) {
        snprintf(ep, cap, "tcp://127.0.0.1:0");
        return;
    }
    bench_tmpdir_make(dir, cap);
    if ((size_t)snprintf(ep, cap, "ipc://%s/s.ipc", dir) >= cap)
        bench_die("TMPDIR too long");
}

void bench_endpoint_send(int fd, const char *ep)
{
    uint32_t n = (uint32_t)strlen(ep);
    bench_write_all(fd, &n, sizeof n);
    bench_write_all(fd, ep, n);
}

void bench_endpoint_recv(int fd, char *ep, size_t cap)
{
    uint32_t n;
    bench_read_all(fd, &n, sizeof n);
    if (n >= cap)
        bench_die("endpoint too long");
    bench_read_all(fd, ep, n);
    ep[n] = '\0';
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void bench_sort_ns(uint64_t *ns, uint64_t n)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
}

double bench_pct_us(const uint64_t *sorted, uint64_t n, double p)
{
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1e3;
}

/* ---- PUSH/PULL throughput ---------------------------------------------- */

/* The end marker differs from the payload only in length, so every
 * library carries it like any other message. */
static size_t end_size(size_t size)
{
    return size == 1 ? 2 : 1;
}

struct sender {
    const struct bench_ops *ops;
    const struct bench_opts *o;
    const char *ep;
    int done_fd;        /* one byte arrives when the receiver is finished */
    atomic_int *stop;   /* inproc: set when the receiver's window is over */
};

/* Dies on failure so that the receiver never waits for a dead sender. */
static void sender_run(struct sender *s)
{
    const struct bench_ops *ops = s->ops;
    size_t size = s->o->size;
    unsigned char *buf = malloc(size > 8 ? size : 8);
    void *h;
    char done;

    if (buf == NULL)
        bench_die("out of memory");
    memset(buf, 0xa5, size);
    if (ops->open(&h, BENCH_PUSH, s->ep, s->o->hwm, NULL, 0) != 0)
        bench_die("%s: cannot connect to %s", ops->system, s->ep);
    for (uint64_t n = 0; n < s->o->count; n++) {
        if ((n & 63) == 0 && s->stop && atomic_load_explicit(s->stop, memory_order_relaxed))
            break;
        /* A sequence number lets the receiver catch loss or reordering:
         * a broken build must fail here, not post a fast number. */
        if (size >= 8)
            memcpy(buf, &n, 8);
        if (ops->send(h, buf, size) != 0)
            bench_die("%s: send failed after %llu messages", ops->system, (unsigned long long)n);
    }
    if (ops->send(h, buf, end_size(size)) != 0)
        bench_die("%s: sending the end marker failed", ops->system);
    /* Closing before the receiver has all would measure each library's
     * linger policy (NNG drops on close), not its throughput. */
    bench_read_all(s->done_fd, &done, 1);
    ops->close(h);
    free(buf);
}

static void *sender_thread(void *arg)
{
    sender_run(arg);
    return NULL;
}

struct window {
    uint64_t msgs;
    uint64_t t_first, t_last;
    uint64_t cpu_first, cpu_last;   /* this process */
    uint64_t peer_first, peer_last; /* the sender process, if forked */
    int timed_out;                  /* the window ended on the time budget */
};

static void mark(uint64_t *t, uint64_t *cpu, uint64_t *peer_cpu, int peer)
{
    *peer_cpu = peer > 0 ? bench_peer_cpu_ns(peer) : 0;
    *cpu = bench_cpu_ns();
    *t = bench_now_ns();
}

/* Receives until the end marker, or until the time budget has passed since
 * the first message: slow receivers must not spend minutes draining what
 * the sender queued in socket buffers. */
static void receive_window(const struct bench_ops *ops, void *h, const struct bench_opts *o,
                           int peer, struct window *w)
{
    size_t size = o->size, cap = size + 64, len;
    uint64_t budget = (uint64_t)(o->seconds * 1e9);
    unsigned char *buf = malloc(cap);

    if (buf == NULL)
        bench_die("out of memory");
    memset(w, 0, sizeof *w);
    for (;;) {
        if (ops->recv(h, buf, cap, &len) != 0)
            bench_die("%s: receive failed after %llu messages", ops->system,
                      (unsigned long long)w->msgs);
        if (len == end_size(size))
            break;
        if (len != size)
            bench_die("%s: got a %zu-byte message, want %zu", ops->system, len, size);
        if (w->msgs == 0)
            mark(&w->t_first, &w->cpu_first, &w->peer_first, peer);
        if (size >= 8) {
            uint64_t seq;
            memcpy(&seq, buf, 8);
            if (seq != w->msgs)
                bench_die("%s: message %llu arrived as number %llu", ops->system,
                          (unsigned long long)seq, (unsigned long long)w->msgs);
        }
        w->msgs++;
        if ((w->msgs & 63) == 0 && bench_now_ns() - w->t_first >= budget) {
            w->timed_out = 1;
            break;
        }
    }
    mark(&w->t_last, &w->cpu_last, &w->peer_last, peer);
    if (w->msgs == 0)
        bench_die("%s: end marker before any message", ops->system);
    if (!w->timed_out && w->msgs != o->count)
        bench_die("%s: sent %llu, received %llu", ops->system, (unsigned long long)o->count,
                  (unsigned long long)w->msgs);
    free(buf);
}

static void print_window(const struct bench_ops *ops, const struct bench_opts *o,
                         const struct window *w)
{
    struct bench_result r = {
        .system = ops->system,
        .opts = o,
        .msgs = w->msgs,
        .secs = (double)(w->t_last - w->t_first) / 1e9,
        .cpu_ns = (double)(w->cpu_last - w->cpu_first) + (double)(w->peer_last - w->peer_first),
        .p50_us = -1,
        .p99_us = -1,
        .has_bytes = 1,
    };
    bench_result_print(&r);
}

static int run_forked(const struct bench_ops *ops, const struct bench_opts *o)
{
    char dir[BENCH_EP_MAX], ep[BENCH_EP_MAX], bound[BENCH_EP_MAX];
    int ep_pipe[2], done_pipe[2];

    bench_endpoint_make(o->transport, ep, dir, sizeof ep);
    if (pipe(ep_pipe) || pipe(done_pipe))
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
        if (ops->ctx_open() != 0)
            bench_die("%s: sender setup failed", ops->system);
        struct sender s = {ops, o, bound, done_pipe[0], NULL};
        sender_run(&s);
        ops->ctx_close();
        _exit(0);
    }
    bench_set_peer((int)pid);
    bench_arm_timeout(o->timeout);
    void *h;
    if (ops->ctx_open() != 0 || ops->open(&h, BENCH_PULL, ep, o->hwm, bound, sizeof bound) != 0)
        bench_die("%s: receiver setup failed", ops->system);
    bench_endpoint_send(ep_pipe[1], bound);

    struct window w;
    receive_window(ops, h, o, (int)pid, &w);
    /* A sender that is still pushing may sit in a blocking send forever
     * once we stop reading; its CPU is already sampled, so end it. */
    if (w.timed_out)
        kill(pid, SIGKILL);
    else
        bench_write_all(done_pipe[1], "x", 1);
    int st;
    if (waitpid(pid, &st, 0) < 0)
        bench_die("waitpid: %s", strerror(errno));
    if (!w.timed_out && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        bench_die("sender process failed");
    bench_set_peer(0);
    print_window(ops, o, &w);
    ops->close(h);
    ops->ctx_close();
    if (dir[0])
        bench_tmpdir_remove(dir);
    return 0;
}

static int run_threads(const struct bench_ops *ops, const struct bench_opts *o)
{
    char ep[BENCH_EP_MAX], bound[BENCH_EP_MAX];
    int done_pipe[2];
    atomic_int stop = 0;
    pthread_t tid;
    void *h;

    bench_arm_timeout(o->timeout);
    snprintf(ep, sizeof ep, "inproc://tern-bench-%d", (int)getpid());
    if (pipe(done_pipe))
        bench_die("pipe: %s", strerror(errno));
    if (ops->ctx_open() != 0 || ops->open(&h, BENCH_PULL, ep, o->hwm, bound, sizeof bound) != 0)
        bench_die("%s: receiver setup failed", ops->system);

    struct sender s = {ops, o, bound, done_pipe[0], &stop};
    if (pthread_create(&tid, NULL, sender_thread, &s) != 0)
        bench_die("pthread_create failed");
    /* One process: its CPU clock already covers both threads. */
    struct window w;
    receive_window(ops, h, o, 0, &w);
    if (w.timed_out) {
        /* Only a queue's worth is left in memory: drain it so the sender
         * can see the flag and finish. */
        size_t cap = o->size + 64, len = 0;
        void *buf = malloc(cap);
        atomic_store(&stop, 1);
        while (buf && len != end_size(o->size)) {
            if (ops->recv(h, buf, cap, &len) != 0)
                bench_die("%s: receive failed while draining", ops->system);
        }
        free(buf);
    }
    bench_write_all(done_pipe[1], "x", 1);
    pthread_join(tid, NULL);
    print_window(ops, o, &w);
    ops->close(h);
    ops->ctx_close();
    return 0;
}

int bench_main(const struct bench_ops *ops, int argc, char **argv)
{
    struct bench_opts o;
    bench_opts_parse(&o, argc, argv, argv[0]);
    if (strcmp(o.pattern, "reqrep") == 0)
        return bench_reqrep_run(ops, &o);
    if (strcmp(o.pattern, "pubsub") == 0)
        return bench_pubsub_run(ops, &o);
    if (strcmp(o.pattern, "pushpull") != 0)
        bench_die("%s: --pattern pushpull, reqrep or pubsub", ops->system);
    if (strcmp(o.transport, "inproc") == 0)
        return run_threads(ops, &o);
    return run_forked(ops, &o);
}
