/* Servers that die under a client: the server runs as a separate process
 * (this binary, re-executed with "serve PORT"), is killed with SIGKILL in
 * the middle of a call, and perhaps restarted on the same port. The client
 * must fail the call promptly with TERN_EUNAVAILABLE, never run it twice on
 * the restarted server, and keep working once a server is back. */
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

enum { M_SLEEP, M_RUNS, N_METHODS };
static const tern_rpc_method methods[N_METHODS] = {{"sleep", 0}, {"runs", TERN_RPC_IDEMPOTENT}};
static const tern_rpc_iface iface = {
    "Kill", {{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x47, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}},
    1, 0, N_METHODS, methods};

static atomic_int runs;
static const char *self;

static tern_err dispatch(tern_rpc_call *call, uint32_t method, tern_xdr_dec *in, tern_xdr_enc *out,
                         const void *impl)
{
    (void)impl;
    if (method == M_SLEEP) {
        uint32_t ms;
        tern_xdr_get_u32(in, &ms);
        atomic_fetch_add(&runs, 1);
        uint64_t until = tern_clock_ns() + (uint64_t)ms * 1000000u;
        while (tern_clock_ns() < until && !tern_rpc_call_cancelled(call))
            test_sleep_ms(2);
        return TERN_OK;
    }
    return tern_xdr_put_u32(out, (uint32_t)atomic_load(&runs));
}

/* The child: serve on the port (registered at dir, if given, under a
 * 300 ms lease), print the endpoint, run until killed. */
static int serve(const char *port, const char *dir)
{
    tern_ctx *ctx;
    tern_rpc_server *s;
    char ep[256];
    tern_rpc_server_opts o = {.lease_ms = 300};
    if (tern_ctx_open(&ctx, 1) != TERN_OK || tern_rpc_server_open(ctx, &o, &s) != TERN_OK ||
        tern_rpc_server_add(s, &iface, dispatch, NULL, NULL) != TERN_OK)
        return 1;
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%s", port);
    /* The port may still be held by the process just killed: retry. */
    tern_err err;
    for (int i = 0; (err = tern_rpc_server_bind(s, ep)) == TERN_EADDRINUSE && i < 200; i++)
        test_sleep_ms(10);
    if (err != TERN_OK || tern_rpc_server_endpoint(s, ep, sizeof ep) != TERN_OK)
        return 1;
    if (dir && tern_rpc_server_register(s, dir, "kill", NULL, NULL) != TERN_OK)
        return 1;
    printf("%s\n", ep);
    fflush(stdout);
    for (;;)
        pause();
}

typedef struct child {
    pid_t pid;
    char endpoint[256];
} child;

static void start_server_at(child *c, const char *port, const char *dir)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)self, "serve", (char *)port, (char *)dir, NULL};
    assert_int_equal(posix_spawn(&c->pid, self, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(fgets(c->endpoint, sizeof c->endpoint, f));
    fclose(f);
    c->endpoint[strcspn(c->endpoint, "\n")] = '\0';
}

static void start_server(child *c, const char *port)
{
    start_server_at(c, port, NULL);
}

static void kill_server(child *c)
{
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
}

static tern_err call_sleep(tern_rpc_client *cl, uint32_t ms, tern_rpc_future **fp)
{
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, ms);
    tern_err err = tern_rpc_start(cl, M_SLEEP, NULL, &e, fp);
    tern_xdr_enc_free(&e);
    return err;
}

static uint32_t server_runs(tern_rpc_client *cl)
{
    tern_xdr_enc e = {0};
    tern_rpc_future *f;
    tern_xdr_dec d;
    check_ok(tern_rpc_invoke(cl, M_RUNS, NULL, &e, &f, &d));
    uint32_t n;
    check_ok(tern_xdr_get_u32(&d, &n));
    tern_rpc_future_free(f);
    return n;
}

static void killed_mid_call_fails_promptly(void **state)
{
    (void)state;
    tern_ctx *ctx;
    check_ok(tern_ctx_open(&ctx, 1));
    child srv;
    start_server(&srv, "0");
    tern_rpc_client_opts o = {.timeout_ms = 20000};
    tern_rpc_client *cl;
    check_ok(tern_rpc_client_open(ctx, srv.endpoint, &iface, &o, &cl));
    tern_rpc_future *f;
    check_ok(call_sleep(cl, 10000, &f));
    test_sleep_ms(200);
    uint64_t t0 = tern_clock_ns();
    kill_server(&srv);
    check_err(tern_rpc_future_wait(f, -1), TERN_EUNAVAILABLE);
    uint64_t ms = (tern_clock_ns() - t0) / 1000000u;
    assert_true(ms < 5000); /* not the 20 s deadline */
    assert_true(strlen(tern_rpc_future_error(f)) > 0);
    tern_rpc_future_free(f);
    /* With no server, new calls fail too; deadline bounded. */
    tern_rpc_opts quick = {.timeout_ms = 300};
    tern_xdr_enc e = {0};
    tern_rpc_future *g = NULL;
    tern_err err = tern_rpc_invoke(cl, M_RUNS, &quick, &e, &g, NULL);
    assert_true(err == TERN_EUNAVAILABLE || err == TERN_ETIMEDOUT);
    tern_rpc_future_free(g);
    tern_rpc_client_close(cl);
    tern_ctx_close(ctx);
}

static void restarted_server_never_reruns(void **state)
{
    (void)state;
    tern_ctx *ctx;
    check_ok(tern_ctx_open(&ctx, 1));
    child a;
    start_server(&a, "0");
    const char *port = strrchr(a.endpoint, ':') + 1;
    tern_rpc_client_opts o = {.timeout_ms = 20000};
    tern_rpc_client *cl;
    check_ok(tern_rpc_client_open(ctx, a.endpoint, &iface, &o, &cl));
    tern_rpc_future *f;
    check_ok(call_sleep(cl, 3000, &f));
    test_sleep_ms(200);
    kill_server(&a);
    /* A new instance on the same port, at once: the client reconnects and
     * sends the call again, which the new instance must refuse. */
    child b;
    start_server(&b, port);
    check_err(tern_rpc_future_wait(f, -1), TERN_EUNAVAILABLE);
    tern_rpc_future_free(f);
    /* The client works against the new instance, which never ran sleep. */
    uint32_t n = 0;
    for (int i = 0; i < 50; i++) {
        tern_xdr_enc e = {0};
        tern_rpc_future *g = NULL;
        tern_xdr_dec d;
        tern_err err = tern_rpc_invoke(cl, M_RUNS, NULL, &e, &g, &d);
        if (err == TERN_OK) {
            check_ok(tern_xdr_get_u32(&d, &n));
            tern_rpc_future_free(g);
            break;
        }
        tern_rpc_future_free(g);
        test_sleep_ms(100);
    }
    assert_int_equal(n, 0);
    assert_int_equal(server_runs(cl), 0);
    kill_server(&b);
    tern_rpc_client_close(cl);
    tern_ctx_close(ctx);
}

/* A registered server killed without unregistering leaves the directory
 * once its lease runs out. */
static void killed_server_leaves_directory(void **state)
{
    (void)state;
    tern_ctx *ctx;
    check_ok(tern_ctx_open(&ctx, 1));
    tern_directory *dir;
    check_ok(tern_directory_open(ctx, "tcp://127.0.0.1:0", &dir));
    char dir_ep[256];
    check_ok(tern_directory_endpoint(dir, dir_ep, sizeof dir_ep));
    child srv;
    start_server_at(&srv, "0", dir_ep);
    tern_dir_entry *es;
    size_t n;
    check_ok(tern_directory_lookup(ctx, dir_ep, "kill", &es, &n));
    assert_int_equal(n, 1);
    free(es);
    test_sleep_ms(500); /* renewed meanwhile */
    check_ok(tern_directory_lookup(ctx, dir_ep, "kill", &es, &n));
    assert_int_equal(n, 1);
    free(es);
    kill_server(&srv);
    test_sleep_ms(600);
    check_ok(tern_directory_lookup(ctx, dir_ep, "kill", &es, &n));
    assert_int_equal(n, 0);
    free(es);
    tern_directory_close(dir);
    tern_ctx_close(ctx);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argc > 3 ? argv[3] : NULL);
    self = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_mid_call_fails_promptly),
        cmocka_unit_test(restarted_server_never_reruns),
        cmocka_unit_test(killed_server_leaves_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
