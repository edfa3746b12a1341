/* A socket subcommand's run: the flags every one of them shares, opening
 * and attaching its sockets, waiting on them, and what reports on them at
 * the side: --stats at exit and, on a thread of its own, --events. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define M_PUSH CLI_M(TERN_PUSH)
#define M_PULL CLI_M(TERN_PULL)
#define M_PAIR CLI_M(TERN_PAIR)
#define M_REQ CLI_M(TERN_REQ)
#define M_REP CLI_M(TERN_REP)
#define M_DEALER CLI_M(TERN_DEALER)
#define M_ROUTER CLI_M(TERN_ROUTER)
#define M_PUB CLI_M(TERN_PUB)
#define M_SUB CLI_M(TERN_SUB)
#define M_XPUB CLI_M(TERN_XPUB)
#define M_XSUB CLI_M(TERN_XSUB)
#define M_PROXY CLI_M(CLI_PROXY)
#define M_SOCKETS (CLI_M_SENDERS | CLI_M_RECEIVERS)
#define M_ALL (M_SOCKETS | M_PROXY)

#define NS_PER_MS 1000000u
#define MS_MAX (INT64_MAX / NS_PER_MS)

/* ---- flags ------------------------------------------------------------ */

/* Rows: name, letter, kind, where in cli_conf, mask, value placeholder,
 * help, and for CLI_INT the range. A flag whose help differs between
 * subcommands has a row for each. */
#define AT(field) offsetof(struct cli_conf, field)

static const struct cli_opt conf_opts[] = {
    {"bind", 0, CLI_LIST, AT(bind), M_SOCKETS, "EP",
     "bind to EP and accept peers there (repeatable)", 0, 0},
    {"connect", 0, CLI_LIST, AT(connect), M_SOCKETS, "EP",
     "connect to EP, retrying in the background (repeatable)", 0, 0},
    {"data", 0, CLI_LIST, AT(data), CLI_M_SENDERS, "STR",
     "send STR as one message (repeatable; instead of stdin)", 0, 0},
    {"data", 0, CLI_LIST, AT(data), M_REP, "STR",
     "answer each request with STR (repeatable: the\n"
     "values take turns; instead of stdin lines)",
     0, 0},
    {"data", 0, CLI_LIST, AT(data), M_ROUTER, "STR",
     "answer each message with STR, sent to its sender\n"
     "(repeatable: the values take turns)",
     0, 0},
    {"parts", 0, CLI_BOOL, AT(parts), CLI_M_SENDERS | CLI_M_REPLIERS, NULL,
     "make all --data values one multipart message", 0, 0},
    {"file", 0, CLI_STR, AT(file), CLI_M_SENDERS, "PATH",
     "send the whole file as one message ('-' reads stdin)", 0, 0},
    {"file", 0, CLI_STR, AT(file), CLI_M_REPLIERS, "PATH",
     "answer each with the whole file ('-' reads stdin)", 0, 0},
    {"echo", 0, CLI_BOOL, AT(echo), M_REP, NULL, "answer each request with itself", 0, 0},
    {"echo", 0, CLI_BOOL, AT(echo), M_ROUTER, NULL, "send each message back to its sender", 0, 0},
    {"subscribe", 0, CLI_LIST, AT(subscribe), M_SUB, "PREFIX",
     "receive only messages starting with PREFIX\n"
     "(repeatable; default: everything)",
     0, 0},
    {"subscribe", 0, CLI_LIST, AT(subscribe), M_XSUB, "PREFIX",
     "subscribe to PREFIX (repeatable; '' is everything)", 0, 0},
    {"count", 0, CLI_INT, AT(count), M_PUSH | M_PUB | M_XPUB, "N",
     "send N messages, repeating --data or --file as needed", 1, INT64_MAX},
    {"count", 0, CLI_INT, AT(count), M_PULL | M_SUB | M_XSUB | M_ROUTER, "N",
     "exit after receiving N messages", 1, INT64_MAX},
    {"count", 0, CLI_INT, AT(count), M_PAIR | M_DEALER, "N",
     "send N as push does; exit once N have also arrived", 1, INT64_MAX},
    {"count", 0, CLI_INT, AT(count), M_REQ, "N",
     "send N requests, repeating --data or --file as needed", 1, INT64_MAX},
    {"count", 0, CLI_INT, AT(count), M_REP, "N", "exit after answering N requests", 1, INT64_MAX},
    {"interval", 0, CLI_INT, AT(interval), CLI_M_SENDERS, "MS",
     "wait MS milliseconds between sends", 0, 86400000},
    {"timeout", 0, CLI_INT, AT(timeout), M_PUSH, "MS",
     "exit 3 if no peer takes a message for MS ms", 1, MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), M_PUB | M_XPUB, "MS",
     "exit 3 if --wait-peers, --wait-subscriptions or a\n"
     "--lossless send waits MS ms",
     1, MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), M_PULL | M_SUB | M_XSUB, "MS",
     "exit 3 if nothing arrives for MS ms", 1, MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), M_PAIR | M_DEALER, "MS",
     "exit 3 if a send waits, or nothing arrives, for MS ms", 1, MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), M_REQ, "MS",
     "exit 3 if a request waits MS ms for a peer, or\n"
     "(without --rcv-timeout) for its reply",
     1, MS_MAX},
    {"timeout", 0, CLI_INT, AT(timeout), CLI_M_REPLIERS, "MS",
     "exit 3 if nothing arrives, or an answer cannot\n"
     "leave, for MS ms",
     1, MS_MAX},
    {"rcv-timeout", 0, CLI_INT, AT(rcv_timeout), M_REQ, "MS",
     "give up on a reply after MS ms: say so, then send\n"
     "the next request with --relaxed, else exit 3",
     1, MS_MAX},
    {"relaxed", 0, CLI_BOOL, AT(relaxed), M_REQ, NULL,
     "allow a new request before the last one's reply\n"
     "(a late reply is then discarded)",
     0, 0},
    {"correlate", 0, CLI_BOOL, AT(correlate), M_REQ, NULL,
     "tag each request with an id; accept only the reply\n"
     "carrying the current one",
     0, 0},
    {"resend", 0, CLI_INT, AT(resend), M_REQ, "MS",
     "resend an unanswered request every MS ms to the next\n"
     "peer in turn (implies --correlate)",
     1, INT32_MAX},
    {"routing-id", 0, CLI_STR, AT(routing_id), M_REQ | M_REP | M_DEALER | M_ROUTER, "ID",
     "ask ROUTER peers to address us as ID (1-255 bytes)", 0, 0},
    {"lossless", 0, CLI_BOOL, AT(lossless), M_PUB | M_XPUB, NULL,
     "wait for room at every subscriber instead of\n"
     "dropping for those at --hwm",
     0, 0},
    {"lossless", 0, CLI_BOOL, AT(lossless), M_PROXY, NULL,
     "make a PUB or XPUB side wait for room at every\n"
     "subscriber, holding the other side back, instead of\n"
     "dropping for those at --hwm",
     0, 0},
    {"verbose", 0, CLI_BOOL, AT(verbose), M_XPUB, NULL,
     "pass every subscribe and cancel up, not just the\n"
     "first and last of each topic",
     0, 0},
    {"wait-peers", 0, CLI_INT, AT(wait_peers), CLI_M_SENDERS & ~(M_PUB | M_XPUB), "N",
     "send nothing until N peers are connected\n"
     "(bounded by --timeout)",
     1, INT32_MAX},
    {"wait-peers", 0, CLI_INT, AT(wait_peers), M_PUB | M_XPUB, "N",
     "send nothing until N peers have subscribed\n"
     "(bounded by --timeout)",
     1, INT32_MAX},
    {"wait-subscriptions", 0, CLI_INT, AT(wait_subs), M_PUB | M_XPUB, "N",
     "send nothing until the peers hold N subscriptions\n"
     "between them (a proxy passes each topic up once)",
     1, INT32_MAX},
    {"format", 0, CLI_STR, AT(format), CLI_M_RECEIVERS, "FMT",
     "print arrivals as raw, quoted, hex or len (default raw)", 0, 0},
    {"quiet", 'q', CLI_BOOL, AT(quiet), CLI_M_RECEIVERS, NULL,
     "count arrivals without printing them", 0, 0},
    {"rate", 0, CLI_BOOL, AT(rate), CLI_M_RECEIVERS, NULL,
     "print msgs/s and MB/s (10^6 bytes/s) on stderr every\n"
     "second, and a summary at exit",
     0, 0},
    {"capture", 0, CLI_STR, AT(capture), M_PROXY, "SPEC",
     "send a copy of every message to a socket given as\n"
     "TYPE:ENDPOINTS, as the others (without waiting)",
     0, 0},
    {"hwm", 0, CLI_INT, AT(hwm), M_ALL, "N",
     "queue at most N messages per peer (library default 1000)", 0, INT32_MAX},
    {"linger", 0, CLI_INT, AT(linger), CLI_M_SENDERS | CLI_M_REPLIERS | M_PROXY, "MS",
     "wait up to MS ms at exit for queued sends (default 1000)", 0, 3600000},
    {"print-endpoint", 0, CLI_BOOL, AT(print_endpoint), M_ALL, NULL,
     "print each bound endpoint on stderr (port 0 resolved)", 0, 0},
    {"stats", 0, CLI_MODE, AT(stats_flag), M_ALL, "[=json]",
     "at exit, print each socket's counters and peers on\n"
     "stderr (=json: one JSON line per socket)",
     0, 0},
    {"events", 0, CLI_BOOL, AT(events), M_ALL, NULL,
     "print connection events on stderr as they happen", 0, 0},
    {0},
};

#undef AT

static int conf_check(const struct cli_cmd *cmd, struct cli_conf *c)
{
    unsigned mask = CLI_M(cmd->variant);

    if ((mask & M_SOCKETS) && c->bind.n + c->connect.n == 0)
        return cli_usage_error(cmd, "give at least one --bind or --connect");
    if (c->file && c->data.n > 0)
        return cli_usage_error(cmd, "--file and --data cannot be combined");
    if (c->parts && c->data.n == 0)
        return cli_usage_error(cmd, "--parts needs --data");
    if (c->echo && (c->file || c->data.n > 0))
        return cli_usage_error(cmd, "--echo cannot be combined with --data or --file");
    if (c->routing_id && (c->routing_id[0] == '\0' || strlen(c->routing_id) > 255))
        return cli_usage_error(cmd, "--routing-id wants 1 to 255 bytes");
    if (c->format && !cli_format_parse(c->format, &c->fmt))
        return cli_usage_error(cmd, "unknown format '%s' (raw, quoted, hex or len)", c->format);
    if (c->stats_flag && c->stats_flag[0] == '\0')
        c->stats = CLI_STATS_TEXT;
    else if (c->stats_flag && strcmp(c->stats_flag, "json") == 0)
        c->stats = CLI_STATS_JSON;
    else if (c->stats_flag)
        return cli_usage_error(cmd, "--stats takes no value or '=json', not '%s'", c->stats_flag);
    return CLI_CONTINUE;
}

int cli_conf_parse(const struct cli_cmd *cmd, struct cli_conf *conf, int argc, char **argv,
                   int *nargs)
{
    *conf = (struct cli_conf){
        .count = -1,
        .interval = -1,
        .timeout = -1,
        .rcv_timeout = -1,
        .resend = -1,
        .hwm = -1,
        .linger = -1,
        .wait_peers = -1,
        .wait_subs = -1,
        .fmt = CLI_FMT_RAW,
    };
    int rc = cli_parse(cmd, conf_opts, CLI_M(cmd->variant), conf, argc, argv, nargs);
    return rc == CLI_CONTINUE ? conf_check(cmd, conf) : rc;
}

void cli_conf_free(struct cli_conf *conf)
{
    cli_opts_free(conf_opts, conf);
}

void cli_conf_usage(const struct cli_cmd *cmd, FILE *out)
{
    unsigned mask = CLI_M(cmd->variant);

    fputs("\nflags:\n", out);
    cli_opts_usage(out, conf_opts, mask);
    if (mask & CLI_M_RECEIVERS) {
        fputc('\n', out);
        cli_format_usage(out);
    }
    fputs("\nendpoints: tcp://HOST:PORT (port 0: any free port), ipc:///PATH, ipc://@NAME\n", out);
    if (mask & M_PROXY)
        fputs("exit status: 0 stopped by a signal, 1 runtime error, 2 usage error.\n"
              "SIGINT or SIGTERM stops the proxy cleanly, closing the sockets with linger;\n"
              "a second signal ends at once.\n",
              out);
    else
        fputs("exit status: 0 done, 1 runtime error, 2 usage error, 3 --timeout passed.\n"
              "SIGINT or SIGTERM stops cleanly (exit 0), closing the socket with linger;\n"
              "a second signal ends at once.\n",
              out);
    if (mask & CLI_M_RECEIVERS)
        fputs("On a stop by signal, a summary of what arrived goes to stderr.\n", out);
}

/* ---- opening sockets -------------------------------------------------- */

static int set_int(struct cli_run *run, tern_socket sock, int opt, int64_t value, const char *flag)
{
    tern_err err = tern_setopt_int(sock, opt, value);
    if (err != TERN_OK)
        return cli_fail(run->cmd, err, "cannot set %s", flag);
    return CLI_CONTINUE;
}

static int set_bytes(struct cli_run *run, tern_socket sock, int opt, const char *value,
                     const char *flag)
{
    tern_err err = tern_setopt_bytes(sock, opt, value, strlen(value));
    if (err != TERN_OK)
        return cli_fail(run->cmd, err, "cannot set %s '%s'", flag, value);
    return CLI_CONTINUE;
}

/* The flags that become socket options. The flag table gives each only to
 * subcommands whose socket type takes it; a proxy's sockets are of several
 * types, so the flags it takes check the type here. */
static int set_options(struct cli_run *run, tern_socket sock, int type)
{
    const struct cli_conf *c = run->conf;
    int rc = CLI_CONTINUE;

    if (c->hwm >= 0 && cli_type_sends(type))
        rc = set_int(run, sock, TERN_OPT_SNDHWM, c->hwm, "--hwm");
    if (rc == CLI_CONTINUE && c->hwm >= 0 && cli_type_receives(type))
        rc = set_int(run, sock, TERN_OPT_RCVHWM, c->hwm, "--hwm");
    if (rc == CLI_CONTINUE && c->linger >= 0)
        rc = set_int(run, sock, TERN_OPT_LINGER, c->linger, "--linger");
    if (rc == CLI_CONTINUE && c->routing_id)
        rc = set_bytes(run, sock, TERN_OPT_ROUTING_ID, c->routing_id, "--routing-id");
    if (rc == CLI_CONTINUE && c->relaxed)
        rc = set_int(run, sock, TERN_OPT_REQ_RELAXED, 1, "--relaxed");
    if (rc == CLI_CONTINUE && c->correlate)
        rc = set_int(run, sock, TERN_OPT_REQ_CORRELATE, 1, "--correlate");
    if (rc == CLI_CONTINUE && c->resend > 0)
        rc = set_int(run, sock, TERN_OPT_REQ_RESEND_IVL, c->resend, "--resend");
    /* A proxy's --lossless is for its publishing side only. */
    if (rc == CLI_CONTINUE && c->lossless && (type == TERN_PUB || type == TERN_XPUB))
        rc = set_int(run, sock, TERN_OPT_PUB_LOSSLESS, 1, "--lossless");
    if (rc == CLI_CONTINUE && c->verbose)
        rc = set_int(run, sock, TERN_OPT_XPUB_VERBOSE, 1, "--verbose");
    for (size_t i = 0; rc == CLI_CONTINUE && i < c->subscribe.n; i++)
        rc = set_bytes(run, sock, TERN_OPT_SUBSCRIBE, c->subscribe.v[i], "--subscribe");
    /* A SUB that asked for nothing in particular (a proxy's too) gets everything. */
    if (rc == CLI_CONTINUE && type == TERN_SUB && c->subscribe.n == 0)
        rc = set_bytes(run, sock, TERN_OPT_SUBSCRIBE, "", "--subscribe");
    return rc;
}

/* Starts the socket's monitor and connects a PAIR to read it, before the
 * socket binds or connects, so that no event is missed. */
static int monitor(struct cli_run *run, struct cli_run_sock *rs, size_t index)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://tern-cli-events-%zu", index);
    tern_err err = tern_monitor(rs->sock, ep, TERN_EV_ALL);
    if (err == TERN_OK)
        err = tern_socket_open(run->ctx, TERN_PAIR, &rs->monitor);
    if (err == TERN_OK)
        err = tern_connect(rs->monitor, ep);
    if (err != TERN_OK)
        return cli_fail(run->cmd, err, "cannot monitor the %s socket", cli_type_name(rs->type));
    return CLI_CONTINUE;
}

static int print_endpoint(struct cli_run *run, tern_socket sock, const char *ep)
{
    char buf[1024];
    size_t len = sizeof buf;
    tern_err err = tern_getopt_bytes(sock, TERN_OPT_LAST_ENDPOINT, buf, &len);
    if (err != TERN_OK)
        return cli_fail(run->cmd, err, "cannot read the endpoint bound for %s", ep);
    /* Before cli_run_begin: no --events line can cut in yet. */
    fprintf(stderr, "%s\n", buf);
    return CLI_CONTINUE;
}

int cli_run_start(struct cli_run *run, const struct cli_cmd *cmd, const struct cli_conf *conf)
{
    *run = (struct cli_run){.cmd = cmd, .conf = conf, .sigfd = -1, .events_wake = {-1, -1}};
    if ((run->sigfd = cli_signals_start()) < 0)
        return cli_fail_errno(cmd, "cannot set up signal handling");
    tern_err err = tern_ctx_open(&run->ctx, 0);
    if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot open a context");
    return CLI_CONTINUE;
}

int cli_run_socket(struct cli_run *run, int type, const char *role, const struct cli_list *bind,
                   const struct cli_list *connect, tern_socket *sockp)
{
    size_t index = run->nsocks;
    struct cli_run_sock *rs = &run->socks[index];
    tern_err err = tern_socket_open(run->ctx, type, &rs->sock);
    if (err != TERN_OK)
        return cli_fail(run->cmd, err, "cannot open a %s socket", cli_type_name(type));
    rs->type = type;
    rs->role = role;
    run->nsocks++;
    *sockp = rs->sock;

    int rc = set_options(run, rs->sock, type);
    if (rc == CLI_CONTINUE && run->conf->events)
        rc = monitor(run, rs, index);
    for (size_t i = 0; rc == CLI_CONTINUE && i < bind->n; i++) {
        err = tern_bind(rs->sock, bind->v[i]);
        if (err != TERN_OK)
            return cli_fail(run->cmd, err, "cannot bind %s", bind->v[i]);
        if (run->conf->print_endpoint)
            rc = print_endpoint(run, rs->sock, bind->v[i]);
    }
    for (size_t i = 0; rc == CLI_CONTINUE && i < connect->n; i++) {
        err = tern_connect(rs->sock, connect->v[i]);
        if (err != TERN_OK)
            return cli_fail(run->cmd, err, "cannot connect to %s", connect->v[i]);
    }
    return rc;
}

/* ---- waiting ---------------------------------------------------------- */

int cli_run_poll(struct cli_run *run, tern_pollitem *items, size_t n, uint64_t wake_ns)
{
    const struct cli_conf *c = run->conf;

    if (c->rate)
        wake_ns = wake_ns < cli_rate_due(&run->rate) ? wake_ns : cli_rate_due(&run->rate);
    items[n++] = (tern_pollitem){.fd = run->sigfd, .events = TERN_POLLIN};
    /* Whoever reads our output sees what arrived before we sleep. */
    int rc = cli_flush(run->cmd);
    if (rc != CLI_CONTINUE)
        return rc;
    uint64_t now = tern_clock_ns();
    int64_t timeout_ms = -1;
    /* Round up, so the wait ends at or after the deadline, not just before. */
    if (wake_ns != UINT64_MAX)
        timeout_ms = wake_ns <= now ? 0 : (int64_t)((wake_ns - now + NS_PER_MS - 1) / NS_PER_MS);
    tern_err err = tern_poll(items, n, timeout_ms, NULL);
    if (err != TERN_OK && err != TERN_EINTR)
        return cli_fail(run->cmd, err, "cannot poll");
    if (c->rate)
        cli_rate_tick(&run->rate, run->cmd, tern_clock_ns());
    return CLI_CONTINUE;
}

/* The socket's peers, in memory the caller frees; *n of them. */
static tern_err peer_list(tern_socket sock, tern_peer_stats **listp, size_t *n)
{
    tern_peer_stats *list = NULL;
    size_t cap = 0;

    for (;;) {
        size_t got;
        tern_err err = tern_socket_peers(sock, list, cap, &got);
        if (err != TERN_OK || got <= cap) {
            *listp = list;
            *n = err == TERN_OK ? got : 0;
            return err;
        }
        /* Room for a few more, in case peers arrive meanwhile. */
        cap = got + 4;
        tern_peer_stats *bigger = realloc(list, cap * sizeof *list);
        if (bigger == NULL) {
            free(list);
            *listp = NULL;
            return TERN_ENOMEM;
        }
        list = bigger;
    }
}

/* Peers (PUB, XPUB: those that subscribed to something) and subscriptions. */
static tern_err count_peers(tern_socket sock, int type, int64_t *peers, int64_t *subs)
{
    *peers = 0;
    *subs = 0;
    if (type != TERN_PUB && type != TERN_XPUB)
        return tern_getopt_int(sock, TERN_OPT_PEERS, peers);
    tern_peer_stats *list = NULL;
    size_t n = 0;
    tern_err err = peer_list(sock, &list, &n);
    for (size_t i = 0; i < n; i++) {
        *peers += list[i].subscriptions > 0;
        *subs += list[i].subscriptions;
    }
    free(list);
    return err;
}

/* How often the peers are counted while waiting for them. */
#define PEERS_CHECK_NS (10 * NS_PER_MS)

int cli_run_wait_peers(struct cli_run *run, tern_socket sock, int type)
{
    const struct cli_conf *c = run->conf;
    uint64_t start = tern_clock_ns();
    uint64_t limit = c->timeout > 0 ? (uint64_t)c->timeout * NS_PER_MS : UINT64_MAX;

    if (c->wait_peers < 0 && c->wait_subs < 0)
        return CLI_CONTINUE;
    for (;;) {
        int64_t peers, subs;
        tern_err err = count_peers(sock, type, &peers, &subs);
        if (err != TERN_OK)
            return cli_fail(run->cmd, err, "cannot count the peers");
        if (peers >= c->wait_peers && subs >= c->wait_subs)
            return CLI_CONTINUE;
        uint64_t now = tern_clock_ns();
        if (now - start >= limit) {
            if (peers < c->wait_peers)
                cli_note(run->cmd, "%" PRId64 " of %" PRId64 " peers %s after %" PRId64 " ms",
                         peers, c->wait_peers,
                         type == TERN_PUB || type == TERN_XPUB ? "subscribed" : "connected",
                         c->timeout);
            else
                cli_note(run->cmd,
                         "%" PRId64 " of %" PRId64 " subscriptions arrived after %" PRId64 " ms",
                         subs, c->wait_subs, c->timeout);
            return CLI_EXIT_TIMEOUT;
        }
        uint64_t wake = now + PEERS_CHECK_NS;
        if (limit != UINT64_MAX && start + limit < wake)
            wake = start + limit;
        tern_pollitem items[1];
        int rc = cli_run_poll(run, items, 0, wake);
        if (rc != CLI_CONTINUE)
            return rc;
        if (cli_stop_requested())
            return CLI_EXIT_OK;
    }
}

void cli_run_print(struct cli_run *run, const tern_msg *msg, bool with_id, uint64_t now)
{
    const struct cli_conf *c = run->conf;

    cli_rate_add(&run->rate, tern_msg_total(msg), now);
    if (!c->quiet)
        cli_print_msg(stdout, msg, c->fmt, with_id);
    if (c->rate)
        cli_rate_tick(&run->rate, run->cmd, now);
}

/* ---- --events --------------------------------------------------------- */

static void print_event(const struct cli_run *run, const char *role, const tern_event *ev)
{
    flockfile(stderr);
    fprintf(stderr, "tern %s: %s%sevent %s %s", run->cmd->name, role ? role : "", role ? " " : "",
            tern_event_name(ev->event), ev->endpoint);
    if (ev->peer[0])
        fprintf(stderr, " peer=%s", ev->peer);
    if (ev->event == TERN_EV_RECONNECT)
        fprintf(stderr, " in %" PRId64 " ms", ev->value);
    if (ev->detail[0])
        fprintf(stderr, ": %s", ev->detail);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Prints every event waiting at the socket's monitor. */
static void drain_events(const struct cli_run *run, const struct cli_run_sock *rs)
{
    tern_msg *msg;
    while (tern_msg_recv(rs->monitor, &msg, TERN_DONTWAIT) == TERN_OK) {
        tern_event ev;
        if (tern_event_decode(msg, &ev) == TERN_OK)
            print_event(run, rs->role, &ev);
        tern_msg_free(msg);
    }
}

/* The --events thread: prints events until the run's wake pipe is
 * written, then prints those left and ends. */
static void *events_main(void *arg)
{
    const struct cli_run *run = arg;
    tern_pollitem items[CLI_RUN_SOCKETS + 1];
    size_t n = 0;

    for (size_t i = 0; i < run->nsocks; i++)
        items[n++] = (tern_pollitem){.socket = run->socks[i].monitor, .events = TERN_POLLIN};
    items[n] = (tern_pollitem){.fd = run->events_wake[0], .events = TERN_POLLIN};
    for (;;) {
        tern_err err = tern_poll(items, n + 1, -1, NULL);
        if (err != TERN_OK && err != TERN_EINTR) {
            cli_fail(run->cmd, err, "cannot wait for events");
            return NULL;
        }
        for (size_t i = 0; i < run->nsocks; i++)
            drain_events(run, &run->socks[i]);
        if (items[n].revents)
            return NULL;
    }
}

int cli_run_begin(struct cli_run *run)
{
    run->begun = true;
    if (!run->conf->events)
        return CLI_CONTINUE;
    if (pipe(run->events_wake) != 0)
        return cli_fail_errno(run->cmd, "cannot start printing events");
    int err = pthread_create(&run->events_thread, NULL, events_main, run);
    if (err != 0) {
        errno = err;
        return cli_fail_errno(run->cmd, "cannot start printing events");
    }
    run->events_running = true;
    return CLI_CONTINUE;
}

static void events_stop(struct cli_run *run)
{
    if (run->events_running) {
        ssize_t n = write(run->events_wake[1], "", 1);
        (void)n; /* the pipe is empty, so the byte fits */
        pthread_join(run->events_thread, NULL);
        run->events_running = false;
    }
    for (int i = 0; i < 2; i++) {
        if (run->events_wake[i] >= 0)
            close(run->events_wake[i]);
        run->events_wake[i] = -1;
    }
}

/* ---- --stats ---------------------------------------------------------- */

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
}

static void put_json_string(FILE *out, const char *s)
{
    putc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            putc(ch, out);
    }
    putc('"', out);
}

static void stats_text(const struct cli_run *run, const struct cli_run_sock *rs,
                       const tern_sock_stats *st, const tern_peer_stats *peers, size_t n)
{
    bool pub = rs->type == TERN_PUB || rs->type == TERN_XPUB;

    fprintf(stderr, "tern %s: %s%s%s socket stats\n", run->cmd->name, rs->role ? rs->role : "",
            rs->role ? " " : "", cli_type_name(rs->type));
    fprintf(stderr,
            "  messages        in %" PRIu64 ", out %" PRIu64 "\n"
            "  bytes           in %" PRIu64 ", out %" PRIu64 "\n"
            "  drops           %" PRIu64 "\n"
            "  connections     accepted %" PRIu64 ", connected %" PRIu64 "\n"
            "  handshakes      ok %" PRIu64 ", failed %" PRIu64 "\n"
            "  disconnects     %" PRIu64 "\n"
            "  reconnects      %" PRIu64 "\n"
            "  events dropped  %" PRIu64 "\n"
            "  peers           %" PRIu32 "\n",
            st->msgs_in, st->msgs_out, st->bytes_in, st->bytes_out, st->drops, st->accepted,
            st->connected, st->handshakes, st->handshake_failures, st->disconnects, st->reconnects,
            st->events_dropped, st->peers);
    for (size_t i = 0; i < n; i++) {
        const tern_peer_stats *p = &peers[i];
        fprintf(stderr,
                "    %s %s: in %" PRIu64 ", out %" PRIu64 ", drops %" PRIu64 ", queued %" PRIu32,
                cli_type_name(p->type), p->address, p->msgs_in, p->msgs_out, p->drops,
                p->queued_out);
        if (pub)
            fprintf(stderr, ", subscriptions %d", p->subscriptions);
        if (p->routing_id_len > 0) {
            fputs(", id ", stderr);
            put_hex(stderr, p->routing_id, p->routing_id_len);
        }
        fputc('\n', stderr);
    }
}

static void stats_json(const struct cli_run *run, const struct cli_run_sock *rs,
                       const tern_sock_stats *st, const tern_peer_stats *peers, size_t n)
{
    fputs("{\"command\":", stderr);
    put_json_string(stderr, run->cmd->name);
    if (rs->role) {
        fputs(",\"role\":", stderr);
        put_json_string(stderr, rs->role);
    }
    fprintf(stderr,
            ",\"type\":\"%s\",\"msgs_in\":%" PRIu64 ",\"msgs_out\":%" PRIu64
            ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"drops\":%" PRIu64
            ",\"accepted\":%" PRIu64 ",\"connected\":%" PRIu64 ",\"handshakes\":%" PRIu64
            ",\"handshake_failures\":%" PRIu64 ",\"disconnects\":%" PRIu64
            ",\"reconnects\":%" PRIu64 ",\"events_dropped\":%" PRIu64 ",\"peers\":[",
            cli_type_name(rs->type), st->msgs_in, st->msgs_out, st->bytes_in, st->bytes_out,
            st->drops, st->accepted, st->connected, st->handshakes, st->handshake_failures,
            st->disconnects, st->reconnects, st->events_dropped);
    for (size_t i = 0; i < n; i++) {
        const tern_peer_stats *p = &peers[i];
        fputs(i ? ",{\"address\":" : "{\"address\":", stderr);
        put_json_string(stderr, p->address);
        fprintf(stderr, ",\"type\":\"%s\",\"routing_id\":\"", cli_type_name(p->type));
        put_hex(stderr, p->routing_id, p->routing_id_len);
        fprintf(stderr,
                "\",\"msgs_in\":%" PRIu64 ",\"msgs_out\":%" PRIu64 ",\"drops\":%" PRIu64
                ",\"queued_out\":%" PRIu32 ",\"subscriptions\":%d}",
                p->msgs_in, p->msgs_out, p->drops, p->queued_out, p->subscriptions);
    }
    fputs("]}\n", stderr);
}

static void print_stats(const struct cli_run *run, const struct cli_run_sock *rs)
{
    tern_sock_stats st;
    tern_peer_stats *peers = NULL;
    size_t n = 0;
    tern_err err = tern_socket_stats(rs->sock, &st);
    if (err == TERN_OK)
        err = peer_list(rs->sock, &peers, &n);
    if (err != TERN_OK) {
        cli_fail(run->cmd, err, "cannot read the %s socket's stats", cli_type_name(rs->type));
        return;
    }
    flockfile(stderr);
    if (run->conf->stats == CLI_STATS_JSON)
        stats_json(run, rs, &st, peers, n);
    else
        stats_text(run, rs, &st, peers, n);
    funlockfile(stderr);
    free(peers);
}

/* ---- the end ---------------------------------------------------------- */

int cli_run_finish(struct cli_run *run, int rc)
{
    const struct cli_cmd *cmd = run->cmd;
    const struct cli_conf *c = run->conf;

    if (run->begun && (CLI_M(cmd->variant) & CLI_M_RECEIVERS)) {
        int frc = cli_flush(cmd);
        if (rc == CLI_EXIT_OK && frc != CLI_CONTINUE)
            rc = frc;
        if (c->rate || cli_stop_requested())
            cli_rate_summary(&run->rate, cmd);
    }
    for (size_t i = 0; run->begun && c->stats != CLI_STATS_NONE && i < run->nsocks; i++)
        print_stats(run, &run->socks[i]);
    for (size_t i = 0; i < run->nsocks; i++) {
        tern_err err = tern_socket_close(run->socks[i].sock);
        if (err != TERN_OK && rc == CLI_EXIT_OK)
            rc = cli_fail(cmd, err, "%s",
                          err == TERN_ETIMEDOUT
                              ? "queued messages were dropped when the linger time ran out"
                              : "cannot close the socket cleanly");
    }
    /* After the closes, so that their events are printed too. */
    events_stop(run);
    if (run->ctx)
        tern_ctx_close(run->ctx);
    return rc;
}
