/* The RPC benchmark harness; harness.h says what is measured and how. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WARMUP_MAX 100
#define CLIENTS_MAX 16
#define CHECK_BYTES 16
/* Filled into echo payloads: no byte is zero, so a reply of zeroes fails. */
#define PATTERN 0xa5

struct rpc_opts {
    enum rpc_method method;
    size_t size; /* echo payload bytes */
    int pipelined;
    int clients;
    int window;
    uint64_t count; /* most timed calls per client */
    double seconds;
    int timeout;
    int json;
    int serve_only;
    const char *connect; /* an existing server, or NULL */
};

/* What a client measured; its latency samples follow on the pipe. */
struct client_report {
    uint64_t calls;
    uint64_t ns;
    uint64_t samples;
};

/* ---- helpers for the peers ---------------------------------------------- */

const char *rpc_method_name(enum rpc_method m)
{
    return m == RPC_NULL ? "null" : m == RPC_ADD ? "add" : "echo";
}

void rpc_add_args(uint64_t seq, int32_t *a, int32_t *b)
{
    *a = (int32_t)(seq & 0x3fffffff);
    *b = 7;
}

int rpc_add_ok(const char *system, uint64_t seq, int32_t sum)
{
    int32_t a, b;
    rpc_add_args(seq, &a, &b);
    if (sum == a + b)
        return 1;
    fprintf(stderr, "%s: add call %llu returned %d, want %d\n", system, (unsigned long long)seq,
            (int)sum, (int)(a + b));
    return 0;
}

void rpc_payload_stamp(uint8_t *payload, size_t size, uint64_t seq)
{
    memcpy(payload, &seq, size < sizeof seq ? size : sizeof seq);
}

uint8_t *rpc_payload_alloc(size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (p == NULL)
        bench_die("out of memory");
    memset(p, PATTERN, size ? size : 1);
    return p;
}

int rpc_echo_ok(const char *system, const struct rpc_req *req, const void *reply, size_t len)
{
    size_t n = req->size < CHECK_BYTES ? req->size : CHECK_BYTES;
    const uint8_t *r = reply;
    if (len != req->size) {
        fprintf(stderr, "%s: echo call %llu: %zu bytes back, %zu sent\n", system,
                (unsigned long long)req->seq, len, req->size);
        return 0;
    }
    if (n > 0 &&
        (memcmp(r, req->payload, n) != 0 || memcmp(r + len - n, req->payload + len - n, n) != 0)) {
        fprintf(stderr, "%s: the reply to echo call %llu does not echo it\n", system,
                (unsigned long long)req->seq);
        return 0;
    }
    return 1;
}

int rpc_job_more(const struct rpc_job *job, uint64_t started)
{
    /* Reading the clock costs more than a fast call's share of a window. */
    if (started >= job->count)
        return 0;
    return (started & 15) != 0 || bench_now_ns() < job->deadline_ns;
}

/* ---- options ------------------------------------------------------------ */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--method null|add|echo] [--size BYTES] [--mode sync|pipelined]\n"
            "          [--clients N] [--window N] [--count N] [--seconds S] [--timeout S]\n"
            "          [--json] [--serve | --connect ENDPOINT]\n"
            "Forks a server and N client processes and prints one result line\n"
            "(key=value, or JSON with --json). --serve only serves and prints the\n"
            "endpoint; --connect only runs the clients against a running server.\n",
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

static void opts_parse(struct rpc_opts *o, int argc, char **argv)
{
    const char *method = "null", *mode = "sync";
    *o = (struct rpc_opts){
        .size = 64,
        .clients = 1,
        .window = 256,
        .count = 1000000,
        .seconds = 1.0,
        .timeout = 60,
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--serve") == 0) {
            o->serve_only = 1;
            continue;
        }
        if (v == NULL)
            usage(argv[0]);
        i++;
        if (strcmp(a, "--method") == 0)
            method = v;
        else if (strcmp(a, "--mode") == 0)
            mode = v;
        else if (strcmp(a, "--size") == 0)
            o->size = (size_t)parse_u64(v, "size");
        else if (strcmp(a, "--clients") == 0)
            o->clients = (int)parse_u64(v, "clients");
        else if (strcmp(a, "--window") == 0)
            o->window = (int)parse_u64(v, "window");
        else if (strcmp(a, "--count") == 0)
            o->count = parse_u64(v, "count");
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = atof(v);
        else if (strcmp(a, "--timeout") == 0)
            o->timeout = (int)parse_u64(v, "timeout");
        else if (strcmp(a, "--connect") == 0)
            o->connect = v;
        else
            usage(argv[0]);
    }
    if (strcmp(method, "null") == 0)
        o->method = RPC_NULL;
    else if (strcmp(method, "add") == 0)
        o->method = RPC_ADD;
    else if (strcmp(method, "echo") == 0)
        o->method = RPC_ECHO;
    else
        bench_die("--method null, add or echo");
    if (strcmp(mode, "pipelined") == 0)
        o->pipelined = 1;
    else if (strcmp(mode, "sync") != 0)
        bench_die("--mode sync or pipelined");
    if (o->method != RPC_ECHO)
        o->size = 0;
    if (o->clients < 1 || o->clients > CLIENTS_MAX || o->window < 1 || o->count < 1 ||
        o->seconds <= 0 || o->timeout < 1)
        bench_die("clients (1..%d), window, count, seconds and timeout must be positive",
                  CLIENTS_MAX);
    /* A dead peer must show up as EPIPE and a message, not a silent kill. */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- the two sides ------------------------------------------------------ */

static void serve(const struct rpc_peer *peer, int ep_fd)
{
    char ep[BENCH_EP_MAX];
    if (peer->serve(ep, sizeof ep) != 0)
        bench_die("%s: the server did not start", peer->system);
    if (ep_fd >= 0) {
        bench_endpoint_send(ep_fd, ep);
    } else {
        printf("%s\n", ep);
        fflush(stdout);
    }
    peer->serve_forever();
    bench_die("%s: the server stopped", peer->system);
}

static void call_or_die(const struct rpc_peer *peer, void *c, struct rpc_req *req, uint64_t seq)
{
    req->seq = seq;
    if (req->method == RPC_ECHO)
        rpc_payload_stamp(req->payload, req->size, seq);
    if (peer->call(c, req) != 0)
        bench_die("%s: %s call %llu failed", peer->system, rpc_method_name(req->method),
                  (unsigned long long)seq);
}

/* Returns the number of calls made: all of job->count unless the deadline
 * came first. */
static uint64_t pipeline_or_die(const struct rpc_peer *peer, void *c, const struct rpc_job *job)
{
    uint64_t done = 0;
    if (peer->pipeline(c, job, &done) != 0)
        bench_die("%s: pipelined %s calls failed after %llu", peer->system,
                  rpc_method_name(job->method), (unsigned long long)done);
    return done;
}

static void samples_push(uint64_t **ns, uint64_t *cap, uint64_t n, uint64_t v)
{
    if (n == *cap) {
        *cap = *cap ? 2 * *cap : 65536;
        if ((*ns = realloc(*ns, *cap * sizeof **ns)) == NULL)
            bench_die("out of memory");
    }
    (*ns)[n] = v;
}

/* Warms up, waits for the go, measures, reports, then waits to be told to
 * leave so that the parent can still read its CPU clock. */
static void client(const struct rpc_peer *peer, const struct rpc_opts *o, const char *ep,
                   const int fds[3])
{
    uint64_t warmup = o->count / 10, budget = (uint64_t)(o->seconds * 1e9);
    uint64_t *ns = NULL, cap = 0, n = 0, t0, now;
    struct rpc_req req = {o->method, 0, rpc_payload_alloc(o->size), o->size};
    struct client_report r;
    void *c;
    char byte;

    if (warmup > WARMUP_MAX)
        warmup = WARMUP_MAX;
    if (peer->connect(&c, ep) != 0)
        bench_die("%s: cannot connect to %s", peer->system, ep);
    for (uint64_t i = 0; i < warmup; i++)
        call_or_die(peer, c, &req, i);
    struct rpc_job job = {
        .method = o->method,
        .size = o->size,
        .first_seq = warmup,
        .count = 2 * (uint64_t)o->window,
        .deadline_ns = UINT64_MAX,
        .window = o->window,
    };
    if (o->pipelined)
        pipeline_or_die(peer, c, &job);
    bench_write_all(fds[0], "r", 1);
    bench_read_all(fds[1], &byte, 1);

    t0 = now = bench_now_ns();
    if (o->pipelined) {
        job.first_seq += job.count;
        job.count = o->count;
        job.deadline_ns = t0 + budget;
        n = pipeline_or_die(peer, c, &job);
        now = bench_now_ns();
    } else {
        while (n < o->count && now - t0 < budget) {
            uint64_t start = now;
            call_or_die(peer, c, &req, warmup + n);
            now = bench_now_ns();
            samples_push(&ns, &cap, n++, now - start);
        }
    }
    r = (struct client_report){n, now - t0, o->pipelined ? 0 : n};
    bench_write_all(fds[2], &r, sizeof r);
    bench_write_all(fds[2], ns, r.samples * sizeof *ns);
    bench_read_all(fds[1], &byte, 1);
    peer->disconnect(c);
    free(ns);
    free(req.payload);
}

/* ---- the parent ---------------------------------------------------------- */

static uint64_t cpu_of(const pid_t *pids, int n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += bench_peer_cpu_ns((int)pids[i]);
    return sum;
}

static pid_t fork_or_die(void)
{
    /* No library state exists yet in this process: none survives fork. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0)
        bench_child_of((int)getppid());
    return pid;
}

static void print_result(const struct rpc_peer *peer, const struct rpc_opts *o, uint64_t calls,
                         double secs, double rate, double cpu_ns, double p50, double p99)
{
    const char *mode = o->pipelined ? "pipelined" : "sync";
    char window[16] = "null";
    if (o->pipelined)
        snprintf(window, sizeof window, "%d", o->window);
    size_t size = o->method == RPC_ADD ? 2 * sizeof(int32_t) : o->size;
    double mb = o->method == RPC_ECHO ? rate * (double)o->size / 1e6 : -1;
    double cpu = o->connect || calls == 0 ? -1 : cpu_ns / (double)calls;
    printf(o->json ? "{\"system\":\"%s\",\"transport\":\"tcp\",\"method\":\"%s\",\"mode\":\"%s\","
                     "\"clients\":%d,\"window\":%s,\"size\":%zu,\"calls\":%llu,\"secs\":%.6g,"
                     "\"msgs_per_s\":%.6g,"
                   : "system=%s transport=tcp method=%s mode=%s clients=%d window=%s size=%zu "
                     "calls=%llu secs=%.6g msgs_per_s=%.6g ",
           peer->system, rpc_method_name(o->method), mode, o->clients, window, size,
           (unsigned long long)calls, secs, rate);
    const char *keys[] = {"mb_per_s", "cpu_ns_per_msg", "p50_us", "p99_us"};
    double vals[] = {mb, cpu, p50, p99};
    for (int i = 0; i < 4; i++) {
        if (vals[i] < 0)
            printf(o->json ? "\"%s\":null" : "%s=null", keys[i]);
        else
            printf(o->json ? "\"%s\":%.6g" : "%s=%.6g", keys[i], vals[i]);
        fputs(i < 3 ? (o->json ? "," : " ") : (o->json ? "}\n" : "\n"), stdout);
    }
    fflush(stdout);
}

int rpc_bench_main(const struct rpc_peer *peer, int argc, char **argv)
{
    struct rpc_opts o;
    char ep[BENCH_EP_MAX];
    pid_t server = 0, pids[CLIENTS_MAX + 1];
    int fds[CLIENTS_MAX][3], npids = 0;

    opts_parse(&o, argc, argv);
    if (o.serve_only) {
        serve(peer, -1);
        return 1;
    }
    if (o.pipelined && peer->pipeline == NULL)
        bench_die("%s: no asynchronous client calls, so no pipelined mode", peer->system);
    bench_arm_timeout(o.timeout);
    if (o.connect) {
        snprintf(ep, sizeof ep, "%s", o.connect);
    } else {
        int ep_pipe[2];
        if (pipe(ep_pipe) != 0)
            bench_die("pipe: %s", strerror(errno));
        if ((server = fork_or_die()) == 0)
            serve(peer, ep_pipe[1]);
        pids[npids++] = server;
        bench_endpoint_recv(ep_pipe[0], ep, sizeof ep);
    }
    for (int i = 0; i < o.clients; i++) {
        int up[2], down[2], report[2];
        if (pipe(up) != 0 || pipe(down) != 0 || pipe(report) != 0)
            bench_die("pipe: %s", strerror(errno));
        pid_t pid = fork_or_die();
        if (pid == 0) {
            int mine[3] = {up[1], down[0], report[1]};
            bench_arm_timeout(o.timeout);
            client(peer, &o, ep, mine);
            _exit(0);
        }
        pids[npids++] = pid;
        fds[i][0] = up[0];
        fds[i][1] = down[1];
        fds[i][2] = report[0];
        close(up[1]);
        close(down[0]);
        close(report[1]);
    }

    char byte;
    for (int i = 0; i < o.clients; i++)
        bench_read_all(fds[i][0], &byte, 1);
    uint64_t cpu0 = cpu_of(pids, npids);
    for (int i = 0; i < o.clients; i++)
        bench_write_all(fds[i][1], "g", 1);

    uint64_t calls = 0, total = 0, longest = 0, *all = NULL;
    double rate = 0;
    for (int i = 0; i < o.clients; i++) {
        struct client_report r;
        bench_read_all(fds[i][2], &r, sizeof r);
        if (r.calls == 0 || r.ns == 0)
            bench_die("%s: client %d measured no calls (raise --count)", peer->system, i);
        calls += r.calls;
        longest = r.ns > longest ? r.ns : longest;
        rate += (double)r.calls * 1e9 / (double)r.ns;
        if (r.samples == 0)
            continue;
        if ((all = realloc(all, (total + r.samples) * sizeof *all)) == NULL)
            bench_die("out of memory");
        bench_read_all(fds[i][2], all + total, r.samples * sizeof *all);
        total += r.samples;
    }
    uint64_t cpu1 = cpu_of(pids, npids);

    for (int i = 0; i < o.clients; i++)
        bench_write_all(fds[i][1], "x", 1);
    for (int i = server ? 1 : 0; i < npids; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) < 0)
            bench_die("waitpid: %s", strerror(errno));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bench_die("%s: a client process failed", peer->system);
    }
    if (server) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }

    double p50 = -1, p99 = -1;
    if (total > 0) {
        bench_sort_ns(all, total);
        p50 = bench_pct_us(all, total, 0.50);
        p99 = bench_pct_us(all, total, 0.99);
    }
    print_result(peer, &o, calls, (double)longest / 1e9, rate, (double)(cpu1 - cpu0), p50, p99);
    free(all);
    return 0;
}
