/* tern push, pull and pair: send lines, --data or a file; print what
 * arrives.
 *
 * One loop serves all three. It never blocks in a send or receive: it does
 * non-blocking work in batches, and when nothing moves it waits in tern_poll
 * on the socket, stdin (when lines are wanted) and the signal pipe, with a
 * timeout that wakes it for --interval, --timeout and --rate. */
#include <errno.h>
#include <stddef.h>

#include "cli.h"

/* Flag masks: one bit per subcommand (its socket type). */
#define M_PUSH (1u << TERN_PUSH)
#define M_PULL (1u << TERN_PULL)
#define M_PAIR (1u << TERN_PAIR)
#define M_SEND (M_PUSH | M_PAIR)
#define M_RECV (M_PULL | M_PAIR)
#define M_ALL (M_SEND | M_RECV)

/* Messages moved per direction before looking at the clock and signals. */
#define SOCK_BATCH 1024
#define NS_PER_MS 1000000u

struct sock_conf {
    struct cli_list bind, connect, data;
    const char *file, *format;
    bool parts, rate, quiet, print_endpoint;
    int64_t count, interval, timeout, hwm, linger; /* -1: not given */
};

/* Rows: name, letter, kind, where in sock_conf, mask, value placeholder,
 * help, and for CLI_INT the range. */
#define AT(field) offsetof(struct sock_conf, field)
#define MS_MAX (INT64_MAX / NS_PER_MS)

static const struct cli_opt sock_opts[] = {
    {"bind", 0, CLI_LIST, AT(bind), M_ALL, "EP", "bind to EP and accept peers there (repeatable)",
     0, 0},
    {"connect", 0, CLI_LIST, AT(connect), M_ALL, "EP",
     "connect to EP, retrying in the background (repeatable)", 0, 0},
    {"data", 0, CLI_LIST, AT(data), M_SEND, "STR",
     "send STR as one message (repeatable; instead of stdin)", 0, 0},
    {"parts", 0, CLI_BOOL, AT(parts), M_SEND, NULL,
     "send all --data values as one multipart message", 0, 0},
    {"file", 0, CLI_STR, AT(file), M_SEND, "PATH",
     "send the whole file as one message ('-' reads stdin)", 0, 0},
    {"count", 0, CLI_INT, AT(count), M_PUSH, "N",
     "send N messages, repeating --data or --file as needed", 1, INT64_MAX},
    {"count", 0, CLI_INT, AT(count), M_PULL, "N", "exit after receiving N messages", 1, INT64_MAX},
    {"count", 0, CLI_INT, AT(count), M_PAIR, "N",
     "send N as push does; exit once N have also arrived", 1, INT64_MAX},
    {"interval", 0, CLI_INT, AT(interval), M_SEND, "MS", "wait MS milliseconds between sends", 0,
     86400000},
    {"timeout", 0, CLI_INT, AT(timeout), M_PUSH, "MS",
     "exit 3 if no peer takes a message for MS ms", 1, MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), M_PULL, "MS", "exit 3 if nothing arrives for MS ms", 1,
     MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), M_PAIR, "MS",
     "exit 3 if a send waits, or nothing arrives, for MS ms", 1, MS_MAX},
    {"format", 0, CLI_STR, AT(format), M_RECV, "FMT",
     "print arrivals as raw, quoted, hex or len (default raw)", 0, 0},
    {"quiet", 'q', CLI_BOOL, AT(quiet), M_RECV, NULL, "count arrivals without printing them", 0, 0},
    {"rate", 0, CLI_BOOL, AT(rate), M_RECV, NULL,
     "print msgs/s and MB/s (10^6 bytes/s) on stderr every\n"
     "second, and a summary at exit",
     0, 0},
    {"hwm", 0, CLI_INT, AT(hwm), M_ALL, "N",
     "queue at most N messages per peer (library default 1000)", 0, INT32_MAX},
    {"linger", 0, CLI_INT, AT(linger), M_SEND, "MS",
     "wait up to MS ms at exit for queued sends (default 1000)", 0, 3600000},
    {"print-endpoint", 0, CLI_BOOL, AT(print_endpoint), M_ALL, NULL,
     "print each bound endpoint on stderr (port 0 resolved)", 0, 0},
    {0},
};

#undef AT
#undef MS_MAX

static void sock_usage(const struct cli_cmd *cmd, FILE *out)
{
    unsigned mask = 1u << cmd->variant;

    fprintf(out, "usage: tern %s (--bind EP | --connect EP)... [FLAGS]\n\n", cmd->name);
    switch (cmd->variant) {
    case TERN_PUSH:
        fputs("Sends messages over a PUSH socket: each goes to one PULL peer, round-robin.\n"
              "Messages come from --data, --file, or else stdin, one per line (newline\n"
              "stripped). Exits once all are sent, waiting up to --linger for them to leave.\n",
              out);
        break;
    case TERN_PULL:
        fputs("Receives messages over a PULL socket, fair-queued from all PUSH peers, and\n"
              "prints them on stdout. Runs until --count messages have arrived, --timeout\n"
              "passes, or SIGINT/SIGTERM.\n",
              out);
        break;
    default:
        fputs("Talks to one PAIR peer: sends --data, --file or stdin lines as push does,\n"
              "and prints what arrives as pull does. With --count N it exits once it has\n"
              "sent and received N; else it runs until --timeout passes or SIGINT/SIGTERM.\n",
              out);
        break;
    }
    fputs("\nflags:\n", out);
    cli_opts_usage(out, sock_opts, mask);
    if (mask & M_RECV) {
        fputc('\n', out);
        cli_format_usage(out);
    }
    fputs("\nendpoints: tcp://HOST:PORT (port 0: any free port), ipc:///PATH, ipc://@NAME\n"
          "exit status: 0 done, 1 runtime error, 2 usage error, 3 --timeout passed.\n"
          "SIGINT or SIGTERM stops cleanly (exit 0), closing the socket with linger;\n"
          "a second signal ends at once.\n",
          out);
    if (mask & M_RECV)
        fputs("On a stop by signal, a summary of what arrived goes to stderr.\n", out);
}

/* One run's state. */
struct sock_state {
    const struct cli_cmd *cmd;
    const struct sock_conf *conf;
    unsigned mask;
    enum cli_format fmt;
    tern_socket sock;
    bool open;
    int sigfd;
    /* sending */
    struct cli_source src;
    tern_msg *pending; /* made, not yet taken by the socket */
    bool src_wait;     /* the source waits for stdin... */
    bool src_readable; /* ...which poll reported readable */
    bool sent_all;
    bool blocked; /* the socket refused pending at blocked_ns */
    uint64_t blocked_ns;
    uint64_t send_at; /* --interval: no send before this */
    /* receiving */
    struct cli_rate rate;
    bool got_all;
    uint64_t idle_ns; /* the last arrival, or the start */
};

static int sock_check(const struct cli_cmd *cmd, const struct sock_conf *c, enum cli_format *fmt)
{
    if (c->bind.n + c->connect.n == 0)
        return cli_usage_error(cmd, "give at least one --bind or --connect");
    if (c->file && c->data.n > 0)
        return cli_usage_error(cmd, "--file and --data cannot be combined");
    if (c->parts && c->data.n == 0)
        return cli_usage_error(cmd, "--parts needs --data");
    *fmt = CLI_FMT_RAW;
    if (c->format && !cli_format_parse(c->format, fmt))
        return cli_usage_error(cmd, "unknown format '%s' (raw, quoted, hex or len)", c->format);
    return CLI_CONTINUE;
}

static int sock_print_endpoint(struct sock_state *s, const char *ep)
{
    char buf[1024];
    size_t len = sizeof buf;
    tern_err err = tern_getopt_bytes(s->sock, TERN_OPT_LAST_ENDPOINT, buf, &len);
    if (err != TERN_OK)
        return cli_fail(s->cmd, err, "cannot read the endpoint bound for %s", ep);
    fprintf(stderr, "%s\n", buf);
    return CLI_CONTINUE;
}

static int sock_setup(struct sock_state *s, tern_ctx *ctx)
{
    const struct sock_conf *c = s->conf;
    tern_err err = tern_socket_open(ctx, s->cmd->variant, &s->sock);
    if (err != TERN_OK)
        return cli_fail(s->cmd, err, "cannot open a %s socket", s->cmd->name);
    s->open = true;

    if (c->hwm >= 0 && (s->mask & M_SEND))
        err = tern_setopt_int(s->sock, TERN_OPT_SNDHWM, c->hwm);
    if (err == TERN_OK && c->hwm >= 0 && (s->mask & M_RECV))
        err = tern_setopt_int(s->sock, TERN_OPT_RCVHWM, c->hwm);
    if (err != TERN_OK)
        return cli_fail(s->cmd, err, "cannot set --hwm %lld", (long long)c->hwm);
    if (c->linger >= 0 && (err = tern_setopt_int(s->sock, TERN_OPT_LINGER, c->linger)) != TERN_OK)
        return cli_fail(s->cmd, err, "cannot set --linger %lld", (long long)c->linger);

    for (size_t i = 0; i < c->bind.n; i++) {
        err = tern_bind(s->sock, c->bind.v[i]);
        if (err != TERN_OK)
            return cli_fail(s->cmd, err, "cannot bind %s", c->bind.v[i]);
        if (c->print_endpoint && sock_print_endpoint(s, c->bind.v[i]) != CLI_CONTINUE)
            return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < c->connect.n; i++) {
        err = tern_connect(s->sock, c->connect.v[i]);
        if (err != TERN_OK)
            return cli_fail(s->cmd, err, "cannot connect to %s", c->connect.v[i]);
    }
    return CLI_CONTINUE;
}

static int sock_send_some(struct sock_state *s, uint64_t now, bool *progress)
{
    for (int i = 0; i < SOCK_BATCH && !s->sent_all; i++) {
        if (s->pending == NULL) {
            enum cli_next next = cli_source_next(&s->src, s->src_readable, &s->pending);
            s->src_readable = false;
            s->src_wait = next == CLI_NEXT_WAIT;
            if (next == CLI_NEXT_ERR)
                return CLI_EXIT_FAIL;
            if (next == CLI_NEXT_END)
                s->sent_all = true;
            if (next != CLI_NEXT_MSG)
                break;
        }
        if (now < s->send_at)
            break;
        tern_err err = tern_msg_send(s->sock, s->pending, TERN_DONTWAIT);
        if (err == TERN_EAGAIN) {
            if (!s->blocked)
                s->blocked_ns = now;
            s->blocked = true;
            break;
        }
        if (err != TERN_OK)
            return cli_fail(s->cmd, err, "cannot send");
        s->pending = NULL;
        s->blocked = false;
        *progress = true;
        if (s->conf->interval > 0)
            s->send_at = now + (uint64_t)s->conf->interval * NS_PER_MS;
    }
    return CLI_CONTINUE;
}

/* A reader that went away (EPIPE) ends the run quietly, as it would had
 * SIGPIPE not been ignored; other write errors are reported. */
static int sock_flush(struct sock_state *s)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return CLI_CONTINUE;
    if (errno == EPIPE)
        return CLI_EXIT_OK;
    return cli_fail_errno(s->cmd, "cannot write to stdout");
}

static int sock_recv_some(struct sock_state *s, uint64_t now, bool *progress)
{
    const struct sock_conf *c = s->conf;

    for (int i = 0; i < SOCK_BATCH && !s->got_all; i++) {
        tern_msg *msg;
        tern_err err = tern_msg_recv(s->sock, &msg, TERN_DONTWAIT);
        if (err == TERN_EAGAIN)
            break;
        if (err != TERN_OK)
            return cli_fail(s->cmd, err, "cannot receive");
        *progress = true;
        s->idle_ns = now;
        cli_rate_add(&s->rate, tern_msg_total(msg), now);
        if (!c->quiet)
            cli_print_msg(stdout, msg, s->fmt);
        tern_msg_free(msg);
        if (c->count > 0 && s->rate.msgs == (uint64_t)c->count)
            s->got_all = true;
    }
    if (c->rate)
        cli_rate_tick(&s->rate, s->cmd, now);
    /* Under steady traffic the loop never idles to flush, so look here. */
    return ferror(stdout) ? sock_flush(s) : CLI_CONTINUE;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Nothing moved: sleeps until something may, or a deadline passes. */
static int sock_wait(struct sock_state *s, uint64_t now)
{
    const struct sock_conf *c = s->conf;
    uint64_t limit_ns = c->timeout > 0 ? (uint64_t)c->timeout * NS_PER_MS : 0;
    uint64_t wake = UINT64_MAX;
    tern_pollitem items[3];
    size_t n = 0, src_item = 0;
    short events = 0;

    if (s->pending && now < s->send_at)
        wake = s->send_at;
    else if (s->pending)
        events |= TERN_POLLOUT;
    if (s->pending && s->blocked && c->timeout > 0) {
        if (now - s->blocked_ns >= limit_ns) {
            cli_note(s->cmd, "no peer took a message for %lld ms", (long long)c->timeout);
            return CLI_EXIT_TIMEOUT;
        }
        wake = min_u64(wake, s->blocked_ns + limit_ns);
    }
    if ((s->mask & M_RECV) && !s->got_all) {
        events |= TERN_POLLIN;
        if (c->timeout > 0) {
            if (now - s->idle_ns >= limit_ns) {
                cli_note(s->cmd, "nothing arrived for %lld ms", (long long)c->timeout);
                return CLI_EXIT_TIMEOUT;
            }
            wake = min_u64(wake, s->idle_ns + limit_ns);
        }
        if (c->rate)
            wake = min_u64(wake, cli_rate_due(&s->rate));
    }

    if (events)
        items[n++] = (tern_pollitem){.socket = s->sock, .events = events};
    if (s->src_wait) {
        src_item = n;
        items[n++] = (tern_pollitem){.fd = cli_source_fd(&s->src), .events = TERN_POLLIN};
    }
    items[n++] = (tern_pollitem){.fd = s->sigfd, .events = TERN_POLLIN};

    /* Whoever reads our output sees what arrived before we sleep. */
    int rc = sock_flush(s);
    if (rc != CLI_CONTINUE)
        return rc;
    /* Round up, so the wait ends at or after the deadline, not just before. */
    int64_t timeout_ms =
        wake == UINT64_MAX ? -1 : (int64_t)((wake - now + NS_PER_MS - 1) / NS_PER_MS);
    tern_err err = tern_poll(items, n, timeout_ms, NULL);
    if (err == TERN_EINTR)
        return CLI_CONTINUE;
    if (err != TERN_OK)
        return cli_fail(s->cmd, err, "cannot poll");
    if (s->src_wait && items[src_item].revents)
        s->src_readable = true;
    return CLI_CONTINUE;
}

static bool sock_done(const struct sock_state *s)
{
    bool sent = !(s->mask & M_SEND) || s->sent_all;
    bool got = !(s->mask & M_RECV) || s->got_all;
    return sent && got;
}

static int sock_pump(struct sock_state *s)
{
    s->idle_ns = tern_clock_ns();
    for (;;) {
        if (cli_stop_requested())
            return CLI_EXIT_OK;
        uint64_t now = tern_clock_ns();
        bool progress = false;
        int rc = CLI_CONTINUE;
        if (s->mask & M_SEND)
            rc = sock_send_some(s, now, &progress);
        if (rc == CLI_CONTINUE && (s->mask & M_RECV))
            rc = sock_recv_some(s, now, &progress);
        if (rc == CLI_CONTINUE && sock_done(s))
            rc = CLI_EXIT_OK;
        if (rc == CLI_CONTINUE && !progress)
            rc = sock_wait(s, now);
        if (rc != CLI_CONTINUE)
            return rc;
    }
}

static int sock_session(const struct cli_cmd *cmd, const struct sock_conf *c, enum cli_format fmt)
{
    struct sock_state s = {.cmd = cmd, .conf = c, .mask = 1u << cmd->variant, .fmt = fmt};
    tern_ctx *ctx = NULL;
    int rc = CLI_CONTINUE;
    bool pumped = false;

    /* Reads a whole --file before signals are taken over: until then
     * Ctrl-C simply ends the command. */
    if (s.mask & M_SEND)
        rc = cli_source_open(&s.src, cmd, &c->data, c->parts, c->file,
                             c->count > 0 ? (uint64_t)c->count : 0);
    if (rc == CLI_CONTINUE && (s.sigfd = cli_signals_start()) < 0)
        rc = cli_fail_errno(cmd, "cannot set up signal handling");
    if (rc == CLI_CONTINUE) {
        tern_err err = tern_ctx_open(&ctx, 0);
        if (err != TERN_OK)
            rc = cli_fail(cmd, err, "cannot open a context");
    }
    if (rc == CLI_CONTINUE)
        rc = sock_setup(&s, ctx);
    if (rc == CLI_CONTINUE) {
        pumped = true;
        rc = sock_pump(&s);
    }

    if (pumped && (s.mask & M_RECV)) {
        int frc = sock_flush(&s);
        if (rc == CLI_EXIT_OK && frc != CLI_CONTINUE)
            rc = frc;
        if (c->rate || cli_stop_requested())
            cli_rate_summary(&s.rate, cmd);
    }
    tern_msg_free(s.pending);
    if (s.open) {
        tern_err err = tern_socket_close(s.sock);
        if (err != TERN_OK && rc == CLI_EXIT_OK)
            rc = cli_fail(cmd, err, "%s",
                          err == TERN_ETIMEDOUT
                              ? "queued messages were dropped when the linger time ran out"
                              : "cannot close the socket cleanly");
    }
    if (ctx)
        tern_ctx_close(ctx);
    cli_source_fini(&s.src);
    return rc;
}

static int sock_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct sock_conf conf = {.count = -1, .interval = -1, .timeout = -1, .hwm = -1, .linger = -1};
    enum cli_format fmt = CLI_FMT_RAW;
    int rc = cli_parse(cmd, sock_opts, 1u << cmd->variant, &conf, argc, argv, NULL);
    if (rc == CLI_CONTINUE)
        rc = sock_check(cmd, &conf, &fmt);
    if (rc == CLI_CONTINUE)
        rc = sock_session(cmd, &conf, fmt);
    cli_opts_free(sock_opts, &conf);
    return rc;
}

const struct cli_cmd cli_cmd_push = {
    .name = "push",
    .summary = "send lines, data or a file to PULL peers, round-robin",
    .variant = TERN_PUSH,
    .run = sock_run,
    .usage = sock_usage,
};

const struct cli_cmd cli_cmd_pull = {
    .name = "pull",
    .summary = "receive from PUSH peers and print what arrives",
    .variant = TERN_PULL,
    .run = sock_run,
    .usage = sock_usage,
};

const struct cli_cmd cli_cmd_pair = {
    .name = "pair",
    .summary = "send to and receive from one PAIR peer",
    .variant = TERN_PAIR,
    .run = sock_run,
    .usage = sock_usage,
};
