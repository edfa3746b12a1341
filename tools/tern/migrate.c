/* tern migrate: live migration of a running worker between two processes
 * (demo: both here) or two hosts (listen / send). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mworker.h"

struct mig_conf {
    const char *strategy, *size, *rate, *tracker, *fallback, *listen, *reserve;
    int64_t budget, run_after, warmup, reconnect, seed;
    bool json, quiet;
};

static const struct cli_opt mig_opts[] = {
    {"strategy", 's', CLI_STR, offsetof(struct mig_conf, strategy), 1, "NAME",
     "precopy, stop-and-copy, postcopy or hybrid\n(default hybrid)", 0, 0},
    {"size", 0, CLI_STR, offsetof(struct mig_conf, size), 1, "BYTES",
     "arena size, K/M/G suffixes (default 256M)", 0, 0},
    {"dirty-rate", 'r', CLI_STR, offsetof(struct mig_conf, rate), 1, "BYTES/S",
     "how fast the worker dirties pages, K/M/G\nsuffixes; 0 = idle (default 50M)", 0, 0},
    {"downtime-budget", 'b', CLI_INT, offsetof(struct mig_conf, budget), 1, "MS",
     "downtime budget (default 10)", 1, 60000},
    {"tracker", 0, CLI_STR, offsetof(struct mig_conf, tracker), 1, "NAME",
     "auto, pagemap_scan, uffd_wp or mprotect\n(default auto)", 0, 0},
    {"fallback", 0, CLI_STR, offsetof(struct mig_conf, fallback), 1, "NAME",
     "hybrid, if the budget cannot be met:\npostcopy or throttle (default postcopy)", 0, 0},
    {"listen", 'l', CLI_STR, offsetof(struct mig_conf, listen), 1, "HOST:PORT",
     "listen: where (default 0.0.0.0:7351)", 0, 0},
    {"reserve", 0, CLI_STR, offsetof(struct mig_conf, reserve), 1, "BYTES",
     "listen: fault in this much memory before\nwaiting, for the arena (demo: its size)", 0, 0},
    {"run-after", 0, CLI_INT, offsetof(struct mig_conf, run_after), 1, "MS",
     "destination: run the worker this long after\nthe switch, then verify (default 300)", 0, 3600000},
    {"warmup", 0, CLI_INT, offsetof(struct mig_conf, warmup), 1, "MS",
     "source: run the worker this long before\nmigrating (default 200)", 0, 3600000},
    {"reconnect", 0, CLI_INT, offsetof(struct mig_conf, reconnect), 1, "MS",
     "how long a cut connection is waited for\n(default 10000)", 1, 3600000},
    {"seed", 0, CLI_INT, offsetof(struct mig_conf, seed), 1, "N", "worker seed (default 1)", 0, INT64_MAX},
    {"json", 0, CLI_BOOL, offsetof(struct mig_conf, json), 1, NULL, "one JSON object with the stats", 0, 0},
    {"quiet", 'q', CLI_BOOL, offsetof(struct mig_conf, quiet), 1, NULL, "no progress or startup line", 0, 0},
    {0},
};

static void mig_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern migrate demo [flags]\n"
          "       tern migrate listen [--listen HOST:PORT] [flags]\n"
          "       tern migrate send HOST:PORT [flags]\n\n"
          "Live migration of a running computation. The worker mutates an arena at\n"
          "--dirty-rate; it is moved with --strategy while it runs, goes on at the\n"
          "destination for --run-after ms, and the destination then replays every\n"
          "step from scratch to check that the state continued exactly.\n"
          "'demo' runs source and destination as two processes on this machine;\n"
          "'listen' and 'send' are the two halves, for two hosts.\n\n"
          "flags:\n",
          out);
    cli_opts_usage(out, mig_opts, 1);
}

static bool parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return false;
    double mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024.0; end++; break;
    case 'm': case 'M': mult = 1048576.0; end++; break;
    case 'g': case 'G': mult = 1073741824.0; end++; break;
    default: break;
    }
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    if (*end || v * mult > 1e15)
        return false;
    *out = (uint64_t)(v * mult);
    return true;
}

/* ---- progress and reports ---------------------------------------------- */

static void on_progress(void *arg, const char *phase, const tern_migrate_stats *st)
{
    (void)arg;
    uint64_t sent = 0;
    for (uint32_t i = 0; i < st->nrounds; i++)
        sent += st->round[i].bytes;
    int width = 30, fill = st->size ? (int)(width * (sent > st->size ? st->size : sent) / st->size) : 0;
    fprintf(stderr, "\r[%-*.*s] %-8s round %-2u %8.1f MiB sent  %7.0f MB/s  ", width, fill,
            "##############################", phase, st->nrounds, (double)st->bytes / 1048576.0,
            st->bandwidth / 1e6);
    if (strcmp(phase, "done") == 0)
        fputc('\n', stderr);
    fflush(stderr);
}

static void print_json(FILE *out, const tern_migrate_stats *st, double rate, uint32_t budget, bool ok,
                       bool verified)
{
    fprintf(out,
            "{\"strategy\":\"%s\",\"tracker\":\"%s\",\"size\":%" PRIu64 ",\"dirty_rate\":%.0f,"
            "\"downtime_budget_ms\":%u,\"ok\":%s,\"verified\":%s,\"total_ms\":%.3f,\"downtime_ms\":%.3f,\"verify_ms\":%.3f,"
            "\"bytes\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"zero_pages\":%" PRIu64 ",\"rounds\":%u,"
            "\"bandwidth_mbs\":%.1f,\"dirty_rate_mbs\":%.1f,\"switched_to_postcopy\":%s,\"throttled\":%s,"
            "\"faults\":%" PRIu64 ",\"fault_p50_us\":%.1f,\"fault_p99_us\":%.1f,\"reconnects\":%u,\"round\":[",
            tern_migrate_strategy_name(st->strategy), tern_migrate_tracker_name(st->tracker), st->size, rate,
            budget, ok ? "true" : "false", verified ? "true" : "false", st->total_ns / 1e6,
            st->downtime_ns / 1e6, st->verify_ns / 1e6, st->bytes, st->pages, st->zero_pages, st->nrounds, st->bandwidth / 1e6,
            st->dirty_rate / 1e6, st->switched_to_postcopy ? "true" : "false", st->throttled ? "true" : "false",
            st->faults, st->fault_p50_ns / 1e3, st->fault_p99_ns / 1e3, st->reconnects);
    for (uint32_t i = 0; i < st->nrounds; i++) {
        const tern_migrate_round *r = &st->round[i];
        fprintf(out, "%s{\"pages\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"zero_pages\":%" PRIu64
                     ",\"ms\":%.3f,\"dirty_pages\":%" PRIu64 "}",
                i ? "," : "", r->pages, r->bytes, r->zero_pages, r->duration_ns / 1e6, r->dirty_pages);
    }
    fprintf(out, "]");
    if (st->error[0]) {
        fputs(",\"error\":\"", out);
        for (const char *p = st->error; *p; p++)
            fprintf(out, *p == '"' || *p == '\\' ? "\\%c" : (unsigned char)*p < 0x20 ? "?" : "%c", *p);
        fputc('"', out);
    }
    fputs("}\n", out);
    fflush(out);
}

/* replayed: the destination replayed the worker (demo); else only the
 * digests were compared (send: the replay happens over there). */
static void print_text(FILE *out, const tern_migrate_stats *st, bool verified, bool replayed)
{
    fprintf(out, "strategy %s, tracker %s, %.0f MiB arena\n", tern_migrate_strategy_name(st->strategy),
            tern_migrate_tracker_name(st->tracker), (double)st->size / 1048576.0);
    fprintf(out, "%5s %10s %10s %10s %10s\n", "round", "pages", "MiB", "ms", "dirtied");
    for (uint32_t i = 0; i < st->nrounds; i++) {
        const tern_migrate_round *r = &st->round[i];
        fprintf(out, "%5u %10" PRIu64 " %10.1f %10.1f %10" PRIu64 "\n", i, r->pages, r->bytes / 1048576.0,
                r->duration_ns / 1e6, r->dirty_pages);
    }
    fprintf(out,
            "downtime %.2f ms, total %.1f ms (then %.1f ms to compare digests), %.1f MiB sent, %" PRIu64
            " zero pages skipped, %.0f MB/s%s%s\n",
            st->downtime_ns / 1e6, st->total_ns / 1e6, st->verify_ns / 1e6, st->bytes / 1048576.0, st->zero_pages,
            st->bandwidth / 1e6, st->switched_to_postcopy ? ", switched to post-copy" : "",
            st->throttled ? ", writers throttled" : "");
    if (st->faults)
        fprintf(out, "post-copy: %" PRIu64 " pages fetched on demand, p50 %.0f us, p99 %.0f us\n", st->faults,
                st->fault_p50_ns / 1e3, st->fault_p99_ns / 1e3);
    if (st->reconnects)
        fprintf(out, "%u cut connections resumed\n", st->reconnects);
    if (replayed)
        fprintf(out, "digest %016" PRIx64 "; worker state %s\n", st->digest,
                verified ? "continued exactly (verified by replay)" : "NOT verified");
    else
        fprintf(out, "digest %016" PRIx64 " equal on both sides; the destination checks the worker\n",
                st->digest);
}

/* ---- destination -------------------------------------------------------- */

struct dest_run {
    const struct cli_cmd *cmd;
    struct mworker w;
    uint64_t run_after_ns;
    bool resumed, bad_context;
};

static void on_resume(void *arg, tern_arena *arena, const void *ctx, size_t len)
{
    struct dest_run *d = arg;
    struct mworker_ctx c;
    if (len != sizeof(c)) {
        d->bad_context = true;
        return;
    }
    memcpy(&c, ctx, sizeof(c));
    if (c.magic != 0x746d776b72ull || c.npages * 4096 != tern_arena_size(arena)) {
        d->bad_context = true;
        return;
    }
    d->w = (struct mworker){.arena = arena, .seed = c.seed, .npages = c.npages, .steps = c.steps,
                            .rate = (double)c.rate, .stop_after = d->run_after_ns};
    d->resumed = mworker_start(&d->w) == 0;
}

static int listen_run(const struct cli_cmd *cmd, const struct mig_conf *conf, tern_migrate_opts *opts)
{
    char ep[300];
    const char *where = conf->listen ? conf->listen : "0.0.0.0:7351";
    snprintf(ep, sizeof ep, "%s%s", strstr(where, "://") ? "" : "tcp://", where);
    tern_migrate_listener *l;
    tern_err err = tern_migrate_listen(&l, ep);
    if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot listen on %s", ep);
    uint64_t reserve = 0;
    if (conf->reserve && (!parse_bytes(conf->reserve, &reserve) || reserve == 0)) {
        tern_migrate_listener_close(l);
        return cli_usage_error(cmd, "--reserve wants a byte count like 1G, not '%s'", conf->reserve);
    }
    if (reserve && (err = tern_migrate_listener_reserve(l, reserve)) != TERN_OK) {
        tern_migrate_listener_close(l);
        return cli_fail(cmd, err, "cannot reserve %" PRIu64 " bytes", reserve);
    }
    printf("tern migrate listening on %s\n", tern_migrate_listener_endpoint(l));
    fflush(stdout);
    struct dest_run d = {.cmd = cmd, .run_after_ns = (uint64_t)conf->run_after * 1000000u};
    tern_arena *arena = NULL;
    tern_migrate_stats st;
    err = tern_migrate_receive(l, on_resume, &d, opts, &arena, &st);
    tern_migrate_listener_close(l);
    if (err != TERN_OK || !d.resumed) {
        /* A worker blocked on pages that never came ends with the process. */
        if (err == TERN_OK)
            snprintf(st.error, sizeof st.error, "%s",
                     d.bad_context ? "the context is not this demo's worker" : "could not start the worker");
        if (conf->json)
            print_json(stdout, &st, 0, opts->downtime_ms, false, false);
        cli_note(cmd, "migration failed: %s", st.error);
        return CLI_EXIT_FAIL;
    }
    /* The worker goes on for --run-after, then its whole state is replayed
     * from scratch and compared. */
    pthread_join(d.w.thread, NULL);
    d.w.running = false;
    bool verified = d.w.result == TERN_OK &&
                    mworker_verify(tern_arena_base(arena), d.w.npages, d.w.seed, d.w.steps);
    if (conf->json)
        print_json(stdout, &st, d.w.rate, opts->downtime_ms, true, verified);
    else
        printf("received %.0f MiB, worker ran to step %" PRIu64 "; state %s\n", st.size / 1048576.0,
               d.w.steps, verified ? "continued exactly (verified by replay)" : "DIFFERS from the replay");
    fflush(stdout);
    tern_arena_destroy(arena);
    return verified ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---- source ------------------------------------------------------------- */

struct src_run {
    struct mworker w;
};

static void on_quiesce(void *arg, tern_arena *arena)
{
    struct src_run *s = arg;
    struct mworker_ctx c;
    mworker_context(&s->w, &c);
    tern_arena_set_context(arena, &c, sizeof(c));
}

static int send_run(const struct cli_cmd *cmd, const struct mig_conf *conf, tern_migrate_opts *opts,
                    tern_migrate_strategy strategy, uint64_t size, double rate, const char *to,
                    tern_migrate_stats *st)
{
    tern_arena *arena;
    tern_err err = tern_arena_create(&arena, size, NULL);
    if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot map a %" PRIu64 "-byte arena", size);
    struct src_run s = {.w = {.arena = arena, .seed = (uint64_t)conf->seed, .npages = tern_arena_size(arena) / 4096,
                              .rate = rate}};
    mworker_fill(tern_arena_base(arena), s.w.npages, s.w.seed);
    if (mworker_start(&s.w) != 0) {
        tern_arena_destroy(arena);
        return cli_fail(cmd, TERN_ESYSTEM, "cannot start the worker");
    }
    struct timespec warm = {conf->warmup / 1000, (conf->warmup % 1000) * 1000000L};
    nanosleep(&warm, NULL);
    opts->on_quiesce = on_quiesce;
    opts->on_quiesce_arg = &s;
    char ep[300];
    snprintf(ep, sizeof ep, "%s%s", strstr(to, "://") ? "" : "tcp://", to);
    err = tern_migrate_send(arena, ep, strategy, opts, st);
    if (err != TERN_OK) {
        cli_note(cmd, "migration failed: %s", st->error);
        if (conf->json)
            print_json(stdout, st, rate, opts->downtime_ms, false, false);
        if (st->switched) {
            /* The worker stays parked: it may be running over there, and
             * only an operator who knows it is not may resume it. This
             * command ends here, the worker with it. */
            fflush(NULL);
            _exit(CLI_EXIT_FAIL);
        }
        /* Before the switch the worker ran on here all along. */
        mworker_stop(&s.w);
        tern_arena_destroy(arena);
        return CLI_EXIT_FAIL;
    }
    mworker_stop(&s.w);
    tern_arena_destroy(arena);
    return CLI_EXIT_OK;
}

/* demo: the destination is this same program, `tern migrate listen`, in a
 * child process; its stdout comes back through a pipe. */
static int demo_run(const struct cli_cmd *cmd, const struct mig_conf *conf, tern_migrate_opts *opts,
                    tern_migrate_strategy strategy, uint64_t size, double rate)
{
    int out[2];
    if (pipe(out) != 0)
        return cli_fail_errno(cmd, "pipe");
    char run_after[32], reconnect[32], reserve[32];
    snprintf(run_after, sizeof run_after, "%lld", (long long)conf->run_after);
    snprintf(reserve, sizeof reserve, "%" PRIu64, size);
    snprintf(reconnect, sizeof reconnect, "%lld", (long long)conf->reconnect);
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail_errno(cmd, "fork");
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        /* Post-copy takes no reserve: its pages arrive through userfaultfd. */
        int no_reserve = strategy == TERN_MIGRATE_POSTCOPY;
        char *args[] = {"tern",      "migrate",   "listen",    "--listen",  "127.0.0.1:0", "--json",
                        "--run-after", run_after, "--reconnect", reconnect, no_reserve ? NULL : "--reserve",
                        reserve,     NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(out[1]);
    FILE *child = fdopen(out[0], "r");
    char line[8192];
    char ep[300] = "";
    if (child && fgets(line, sizeof line, child) && sscanf(line, "tern migrate listening on %299s", ep) == 1) {
        if (!conf->quiet && !conf->json)
            printf("destination (pid %d) listening on %s\n", (int)pid, ep);
    }
    int rc;
    tern_migrate_stats st;
    if (!ep[0]) {
        rc = cli_fail(cmd, TERN_ESYSTEM, "the destination process did not start");
    } else {
        rc = send_run(cmd, conf, opts, strategy, size, rate, ep, &st);
    }
    /* The destination's verdict: its JSON line. */
    bool verified = false;
    char *dline = child ? fgets(line, sizeof line, child) : NULL;
    if (dline && strstr(dline, "\"verified\":true"))
        verified = true;
    int status = 0;
    if (rc != CLI_EXIT_OK)
        kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    if (child)
        fclose(child);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (conf->json)
        print_json(stdout, &st, rate, opts->downtime_ms, true, verified);
    else
        print_text(stdout, &st, verified, true);
    if (!verified)
        cli_note(cmd, "the destination did not verify the worker's state%s%s", dline ? ": " : "",
                 dline ? dline : "");
    return verified && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int mig_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct mig_conf conf = {.budget = 10, .run_after = 300, .warmup = 200, .reconnect = 10000, .seed = 1};
    int nargs = 0;
    int rc = cli_parse(cmd, mig_opts, 1, &conf, argc, argv, &nargs);
    if (rc != CLI_CONTINUE)
        return rc;
    if (nargs < 1)
        return cli_usage_error(cmd, "say demo, listen or send");
    const char *verb = argv[1];
    tern_migrate_opts opts;
    tern_migrate_opts_init(&opts);
    opts.downtime_ms = (uint32_t)conf.budget;
    opts.reconnect_ms = (uint32_t)conf.reconnect;
    tern_migrate_strategy strategy = TERN_MIGRATE_HYBRID;
    if (conf.strategy && tern_migrate_strategy_parse(conf.strategy, &strategy) != TERN_OK)
        return cli_usage_error(cmd, "unknown strategy '%s'", conf.strategy);
    if (conf.tracker && tern_migrate_tracker_parse(conf.tracker, &opts.tracker) != TERN_OK)
        return cli_usage_error(cmd, "unknown tracker '%s'", conf.tracker);
    if (conf.fallback && strcmp(conf.fallback, "postcopy") != 0) {
        if (strcmp(conf.fallback, "throttle") != 0)
            return cli_usage_error(cmd, "--fallback is postcopy or throttle, not '%s'", conf.fallback);
        opts.fallback = TERN_FALLBACK_THROTTLE;
    }
    uint64_t size = 256u << 20, rate = 50u << 20;
    if (conf.size && (!parse_bytes(conf.size, &size) || size == 0))
        return cli_usage_error(cmd, "--size wants a byte count like 256M, not '%s'", conf.size);
    if (conf.rate && !parse_bytes(conf.rate, &rate))
        return cli_usage_error(cmd, "--dirty-rate wants bytes per second like 50M, not '%s'", conf.rate);
    if (!conf.quiet && !conf.json && isatty(2)) {
        opts.progress = on_progress;
        opts.progress_arg = NULL;
    }
    if (strcmp(verb, "listen") == 0 && nargs == 1)
        return listen_run(cmd, &conf, &opts);
    if (strcmp(verb, "demo") == 0 && nargs == 1)
        return demo_run(cmd, &conf, &opts, strategy, size, (double)rate);
    if (strcmp(verb, "send") == 0 && nargs == 2) {
        tern_migrate_stats st;
        rc = send_run(cmd, &conf, &opts, strategy, size, (double)rate, argv[2], &st);
        if (rc == CLI_EXIT_OK) {
            if (conf.json)
                print_json(stdout, &st, (double)rate, opts.downtime_ms, true, true);
            else
                print_text(stdout, &st, true, false);
        }
        return rc;
    }
    return cli_usage_error(cmd, "usage: tern migrate demo | listen | send HOST:PORT");
}

const struct cli_cmd cli_cmd_migrate = {
    .name = "migrate",
    .summary = "live-migrate a running worker (demo, listen, send)",
    .run = mig_run,
    .usage = mig_usage,
};
