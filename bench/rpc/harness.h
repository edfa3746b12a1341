/* The RPC benchmark harness: every system (tern, ONC RPC, gRPC) plugs a
 * server and a client into it through a small ops table, and the harness
 * runs the same measurement on each.
 *
 *  - Methods: null (no arguments, no result), add (two int32 in, their sum
 *    out), echo (--size bytes of opaque data in, the same bytes out).
 *  - Processes: the parent forks the server, then --clients client
 *    processes, each with its own connection (its own CLIENT, channel or
 *    tern_rpc_client), before any library state exists. The parent only
 *    coordinates; it makes no calls.
 *  - Warm-up: each client makes a tenth of --count calls, at most 100, one
 *    at a time (pipelined mode: then two windows' worth pipelined). None is
 *    timed: they cover the connection set-up and the first slow packets.
 *  - Start: once every client is warm, the parent reads the CPU clocks of
 *    all processes and tells the clients to go, together.
 *  - sync: each client makes one call at a time for --seconds (or --count
 *    calls), each timed from before the call to after its result was
 *    checked. p50/p99 come from every timed call of every client.
 *  - pipelined: each client keeps --window calls outstanding on its one
 *    connection, starting a new one as each finishes, until --seconds have
 *    passed or --count calls were started; then it collects the rest. Only
 *    calls/s is reported.
 *  - calls/s is the sum over clients of each client's calls divided by its
 *    own measured time. CPU is user+sys of the server and every client, all
 *    threads, from the start to the last report, per call.
 *  - Every reply is checked: add must return the sum; echo must return a
 *    reply of the right length whose first and last 16 bytes match the
 *    request, which carries the call's sequence number in its first bytes.
 *    A mixed-up or truncated reply fails the run. (Comparing the whole
 *    64 KiB on every call would time memcmp, not the RPC.)
 *
 * Each program also runs standalone: --serve starts only the server and
 * prints the endpoint; --connect EP runs only the clients against it (no
 * CPU figure then: the server's is out of reach). */
#ifndef BENCH_RPC_HARNESS_H
#define BENCH_RPC_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../common.h"

enum rpc_method { RPC_NULL, RPC_ADD, RPC_ECHO };

/* One call's input. For echo, payload holds size bytes whose first bytes
 * are the sequence number; for add, the arguments derive from seq. */
struct rpc_req {
    enum rpc_method method;
    uint64_t seq;
    uint8_t *payload;
    size_t size;
};

/* A pipelined run: start calls seq first_seq, first_seq + 1, ... keeping
 * window of them outstanding, until count were started or rpc_job_more
 * says the time is up; then collect every outstanding call. */
struct rpc_job {
    enum rpc_method method;
    size_t size;
    uint64_t first_seq;
    uint64_t count;
    uint64_t deadline_ns; /* bench_now_ns() scale */
    int window;
};

/* The system under test. Every function prints its own error (with the
 * library's words) and returns -1 on failure, 0 on success. */
struct rpc_peer {
    const char *system;
    /* In the server process: serve on loopback (any free port) and write
     * the endpoint a client passes to connect into ep[cap]. */
    int (*serve)(char *ep, size_t cap);
    /* Then serve until the process is killed; returns only on failure. */
    void (*serve_forever)(void);
    int (*connect)(void **clientp, const char *ep);
    /* One synchronous call; checks the reply with rpc_add_ok/rpc_echo_ok. */
    int (*call)(void *client, const struct rpc_req *req);
    /* NULL when the system has no asynchronous client calls. *done gets the
     * number of calls that finished (all of them, on success). */
    int (*pipeline)(void *client, const struct rpc_job *job, uint64_t *done);
    void (*disconnect)(void *client);
};

/* add's arguments for call number seq. */
void rpc_add_args(uint64_t seq, int32_t *a, int32_t *b);
/* 1 if sum is right for call seq; prints why not and returns 0 otherwise. */
int rpc_add_ok(const char *system, uint64_t seq, int32_t sum);
/* Writes seq into the first bytes of payload[size] (as many as fit). */
void rpc_payload_stamp(uint8_t *payload, size_t size, uint64_t seq);
/* A buffer of size bytes (at least 1) filled with the echo pattern;
 * dies when out of memory. */
uint8_t *rpc_payload_alloc(size_t size);
/* 1 if reply[len] echoes the request; prints why not and returns 0. */
int rpc_echo_ok(const char *system, const struct rpc_req *req, const void *reply, size_t len);
/* 1 while a pipelined run should start call number started (counted from
 * the job's first): below count and before the deadline. */
int rpc_job_more(const struct rpc_job *job, uint64_t started);
/* "null", "add", "echo". */
const char *rpc_method_name(enum rpc_method m);

/* Parses the command line, runs what it asks and prints the result line.
 * Returns the process exit status. */
int rpc_bench_main(const struct rpc_peer *peer, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
