/* The calc server: implements the Calc interface (calc.tidl), serves it on
 * a port of its own and registers it in a tern directory under "calc".
 *
 *   calc_server [--directory HOST:PORT] [--listen ENDPOINT] [--name NAME]
 *
 * Runs until SIGINT or SIGTERM, then unregisters. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc.h"

/* What the server remembers between calls. */
typedef struct calc_state {
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t adds, muls;
    pthread_mutex_t lock; /* sum_total, sums, last */
    double sum_total;
    uint64_t sums;
    Calc_Op last;
} calc_state;

static calc_state *state_of(tern_rpc_call *call)
{
    calc_state *st = tern_rpc_call_app(call);
    atomic_fetch_add(&st->calls, 1);
    return st;
}

static tern_err calc_add(tern_rpc_call *call, int32_t a, int32_t b, int32_t *ret)
{
    calc_state *st = state_of(call);
    atomic_fetch_add(&st->adds, 1);
    int64_t r = (int64_t)a + b;
    if (r > INT32_MAX || r < INT32_MIN)
        return tern_rpc_call_fail(call, "%d + %d overflows int32", a, b);
    *ret = (int32_t)r;
    return TERN_OK;
}

static tern_err calc_sum(tern_rpc_call *call, const Calc_double_seq *terms, double *ret)
{
    calc_state *st = state_of(call);
    double s = 0;
    for (uint32_t i = 0; i < terms->len; i++)
        s += terms->val[i];
    *ret = s;
    pthread_mutex_lock(&st->lock);
    st->sum_total += s;
    st->sums++;
    st->last = Calc_ADD;
    pthread_mutex_unlock(&st->lock);
    return TERN_OK;
}

/* [in, out]: the client's array comes in, is scaled in place, goes back. */
static tern_err calc_scale(tern_rpc_call *call, Calc_double_seq *v, double k)
{
    calc_state *st = state_of(call);
    atomic_fetch_add(&st->muls, 1);
    for (uint32_t i = 0; i < v->len; i++)
        v->val[i] *= k;
    pthread_mutex_lock(&st->lock);
    st->last = Calc_MUL;
    pthread_mutex_unlock(&st->lock);
    return TERN_OK;
}

static tern_err calc_stats(tern_rpc_call *call, Calc_Stats *s)
{
    calc_state *st = state_of(call);
    pthread_mutex_lock(&st->lock);
    s->calls = atomic_load(&st->calls);
    s->mean = st->sums ? st->sum_total / (double)st->sums : 0;
    s->last = st->last;
    pthread_mutex_unlock(&st->lock);
    s->name = "calc"; /* static: outlives the call, never freed */
    return TERN_OK;
}

static tern_err calc_log(tern_rpc_call *call, const char *line)
{
    state_of(call);
    printf("calc_server: log: %s\n", line);
    fflush(stdout);
    return TERN_OK;
}

/* [out] Stats *hit: NULL when there is nothing to report. */
static tern_err calc_find(tern_rpc_call *call, const char *key, Calc_Stats **hit, bool *ret)
{
    if (strcmp(key, "stats") != 0) {
        state_of(call);
        *hit = NULL;
        *ret = false;
        return TERN_OK;
    }
    Calc_Stats *s = tern_rpc_call_alloc(call, sizeof *s);
    if (s == NULL)
        return TERN_ENOMEM;
    calc_stats(call, s);
    *hit = s;
    *ret = true;
    return TERN_OK;
}

static tern_err calc_echo(tern_rpc_call *call, const Calc_bytes *data, Calc_bytes *ret)
{
    state_of(call);
    *ret = *data; /* the request's memory lives until the reply is sent */
    return TERN_OK;
}

static tern_err calc_count(tern_rpc_call *call, Calc_Op op, uint64_t *ret)
{
    calc_state *st = state_of(call);
    switch (op) {
    case Calc_ADD: *ret = atomic_load(&st->adds); return TERN_OK;
    case Calc_MUL: *ret = atomic_load(&st->muls); return TERN_OK;
    }
    return tern_rpc_call_fail(call, "no such operation %d", (int)op);
}

static const Calc_server procedures = {
    .add = calc_add,
    .sum = calc_sum,
    .scale = calc_scale,
    .stats = calc_stats,
    .log = calc_log,
    .find = calc_find,
    .echo = calc_echo,
    .count = calc_count,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *directory = "127.0.0.1:7350", *listen = "tcp://127.0.0.1:0", *name = "calc";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--directory") == 0)
            directory = argv[i + 1];
        else if (strcmp(argv[i], "--listen") == 0)
            listen = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
        else {
            fprintf(stderr, "usage: calc_server [--directory HOST:PORT] [--listen EP] [--name NAME]\n");
            return 2;
        }
    }
    calc_state st = {.lock = PTHREAD_MUTEX_INITIALIZER, .last = Calc_ADD};
    tern_ctx *ctx;
    tern_rpc_server *server;
    tern_err err = tern_ctx_open(&ctx, 1);
    if (err == TERN_OK)
        err = tern_rpc_server_open(ctx, NULL, &server);
    if (err == TERN_OK)
        err = Calc_serve(server, &procedures, &st);
    if (err == TERN_OK)
        err = tern_rpc_server_bind(server, listen);
    if (err != TERN_OK) {
        fprintf(stderr, "calc_server: cannot serve on %s: %s\n", listen, tern_strerror(err));
        return 1;
    }
    char ep[256];
    tern_rpc_server_endpoint(server, ep, sizeof ep);
    err = tern_rpc_server_register(server, directory, name, NULL, "example=calc");
    if (err != TERN_OK) {
        fprintf(stderr, "calc_server: cannot register at %s: %s (%s)\n", directory, tern_strerror(err),
                tern_rpc_last_error());
        return 1;
    }
    printf("calc_server: serving %s at %s, registered as %s at %s\n", Calc_iface.name, ep, name, directory);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop)
        pause();
    tern_rpc_server_close(server); /* unregisters */
    tern_ctx_close(ctx);
    printf("calc_server: %llu calls served\n", (unsigned long long)atomic_load(&st.calls));
    return 0;
}
