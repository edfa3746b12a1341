/* The calc client: finds "calc" in a tern directory and calls it in every
 * mode the runtime offers, checking each answer.
 *
 *   calc_client [--directory HOST:PORT] [--name NAME]
 *
 * Exits 0 if every answer was right. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("  FAILED: " __VA_ARGS__);                                                     \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void show(const char *mode, tern_err err, const char *what)
{
    printf("  %-12s %-44s %s%s%s\n", mode, what, err == TERN_OK ? "ok" : tern_errname(err),
           err == TERN_OK ? "" : ": ", err == TERN_OK ? "" : tern_rpc_last_error());
    if (err != TERN_OK)
        failures++;
}

int main(int argc, char **argv)
{
    const char *directory = "127.0.0.1:7350", *name = "calc";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--directory") == 0)
            directory = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
        else {
            fprintf(stderr, "usage: calc_client [--directory HOST:PORT] [--name NAME]\n");
            return 2;
        }
    }
    char url[512];
    snprintf(url, sizeof url, "tern://%s/%s", directory, name);
    tern_ctx *ctx;
    tern_rpc_client *c;
    tern_err err = tern_ctx_open(&ctx, 1);
    if (err == TERN_OK)
        err = tern_rpc_client_open(ctx, url, &Calc_iface, NULL, &c);
    if (err != TERN_OK) {
        fprintf(stderr, "calc_client: cannot bind %s: %s (%s)\n", url, tern_strerror(err),
                tern_rpc_last_error());
        return 1;
    }
    char ep[256];
    tern_rpc_client_endpoint(c, ep, sizeof ep);
    printf("calc_client: %s resolved to %s\n", url, ep);

    /* Synchronous calls: they look local. */
    int32_t sum32;
    err = Calc_add(c, NULL, 40, 2, &sum32);
    show("sync", err, "add(40, 2)");
    CHECK(err != TERN_OK || sum32 == 42, "add gave %d", sum32);

    double terms[5] = {1.5, 2.5, 3, 4, 5};
    Calc_double_seq seq = {5, terms};
    double total = 0;
    err = Calc_sum(c, NULL, &seq, &total);
    show("sync", err, "sum(1.5, 2.5, 3, 4, 5)");
    CHECK(err != TERN_OK || total == 16, "sum gave %g", total);

    /* [in, out]: copy-restore into our own array. */
    err = Calc_scale(c, NULL, &seq, 2.0);
    show("sync", err, "scale(v, 2) in place");
    CHECK(err != TERN_OK || (terms[0] == 3 && terms[4] == 10), "scale gave %g..%g", terms[0], terms[4]);

    Calc_Stats stats = {0};
    err = Calc_stats(c, NULL, &stats);
    show("sync", err, "stats()");
    if (err == TERN_OK) {
        printf("               calls=%llu mean=%g name=%s\n", (unsigned long long)stats.calls, stats.mean,
               stats.name);
        Calc_stats_free(&stats);
    }

    /* [out] Stats *hit: optional, NULL when absent. */
    Calc_Stats *hit = NULL;
    bool found = true;
    err = Calc_find(c, NULL, "nothing", &hit, &found);
    show("sync", err, "find(\"nothing\") -> absent");
    CHECK(err != TERN_OK || (!found && hit == NULL), "find nothing gave %d %p", found, (void *)hit);
    Calc_find_free(&hit);
    err = Calc_find(c, NULL, "stats", &hit, &found);
    show("sync", err, "find(\"stats\") -> present");
    CHECK(err != TERN_OK || (found && hit != NULL), "find stats gave nothing");
    Calc_find_free(&hit);

    uint8_t blob[4096];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 7);
    Calc_bytes data = {sizeof blob, blob}, back = {0};
    err = Calc_echo(c, NULL, &data, &back);
    show("sync", err, "echo(4 KiB)");
    CHECK(err != TERN_OK || (back.len == data.len && memcmp(back.val, blob, data.len) == 0), "echo differs");
    Calc_echo_free(&back);

    /* Errors come back as errors, with the server's reason. */
    err = Calc_add(c, NULL, INT32_MAX, 1, &sum32);
    printf("  %-12s %-44s %s: %s\n", "sync", "add(INT32_MAX, 1)", tern_errname(err), tern_rpc_last_error());
    CHECK(err == TERN_EAPP, "overflow was not refused");

    /* One-way: returns once the request is handed to the transport. */
    err = Calc_log(c, NULL, "hello from calc_client");
    show("oneway", err, "log(\"hello from calc_client\")");

    /* Accepted (deferred synchronous): returns when the server has it. */
    tern_rpc_opts accepted = {.flags = TERN_RPC_WAIT_ACCEPTED};
    tern_rpc_future *f;
    err = Calc_add_async(c, &accepted, 1, 2, &f);
    show("accepted", err, "add(1, 2) acknowledged");
    if (err == TERN_OK) {
        err = Calc_add_finish(f, &sum32);
        show("accepted", err, "...and its result");
        CHECK(err != TERN_OK || sum32 == 3, "add gave %d", sum32);
    }

    /* Futures, pipelined: many calls out at once on one connection. */
    enum { N = 1000 };
    tern_rpc_future *fs[N];
    uint64_t t0 = tern_clock_ns();
    for (int i = 0; i < N; i++)
        Calc_add_async(c, NULL, i, i, &fs[i]);
    int right = 0;
    for (int i = 0; i < N; i++) {
        int32_t r;
        if (Calc_add_finish(fs[i], &r) == TERN_OK && r == 2 * i)
            right++;
    }
    double ms = (double)(tern_clock_ns() - t0) / 1e6;
    printf("  %-12s %-44s %d/%d right in %.1f ms\n", "pipelined", "1000 x add(i, i)", right, N, ms);
    CHECK(right == N, "%d of %d pipelined calls right", right, N);

    /* A deadline of our own: idempotent count is retried if need be. */
    tern_rpc_opts quick = {.timeout_ms = 500};
    uint64_t adds = 0;
    err = Calc_count(c, &quick, Calc_ADD, &adds);
    show("deadline", err, "count(ADD) within 500 ms");
    printf("               adds so far: %llu\n", (unsigned long long)adds);

    /* Multicast: every registration of the name at once. */
    const char *targets[] = {url};
    tern_rpc_group *g;
    err = tern_rpc_group_open(ctx, targets, 1, &Calc_iface, NULL, &g);
    show("multicast", err, "group of every calc in the directory");
    if (err == TERN_OK) {
        tern_rpc_multi *m;
        err = Calc_count_multi(g, NULL, TERN_RPC_ALL, 0, Calc_ADD, &m);
        show("multicast", err, "count(ADD) on ALL");
        for (size_t i = 0; err == TERN_OK && i < tern_rpc_multi_count(m); i++) {
            uint64_t n = 0;
            tern_err e = Calc_count_multi_reply(m, i, &n);
            printf("               %-28s %s adds=%llu\n", tern_rpc_multi_endpoint(m, i), tern_errname(e),
                   (unsigned long long)n);
        }
        tern_rpc_multi_free(m);
        err = Calc_add_multi(g, NULL, TERN_RPC_FIRST, 0, 20, 22, &m);
        show("multicast", err, "add(20, 22), FIRST answer wins");
        tern_rpc_multi_free(m);
        tern_rpc_group_close(g);
    }

    tern_rpc_client_close(c);
    tern_ctx_close(ctx);
    printf("calc_client: %s\n", failures ? "SOME CALLS FAILED" : "every call answered right");
    return failures ? 1 : 0;
}
