/* tern push, pull, pair, dealer, pub, sub, xpub and xsub: send lines,
 * --data or a file; print what arrives. These sockets never tie a send to
 * an arrival, so one loop serves them all.
 *
 * It never blocks in a send or receive: it does non-blocking work in
 * batches, and when nothing moves it waits in tern_poll on the socket,
 * stdin (when lines are wanted) and the signal pipe, with a timeout that
 * wakes it for --interval, --timeout and --rate. */
#include "cli.h"

#define M_PUSH CLI_M(TERN_PUSH)
#define M_PULL CLI_M(TERN_PULL)
#define M_PAIR CLI_M(TERN_PAIR)
#define M_DEALER CLI_M(TERN_DEALER)
#define M_PUB CLI_M(TERN_PUB)
#define M_SUB CLI_M(TERN_SUB)
#define M_XPUB CLI_M(TERN_XPUB)
#define M_XSUB CLI_M(TERN_XSUB)
/* What ends a run: everything sent, --count arrivals, or (pair, dealer)
 * both. An XPUB's arrivals (subscriptions) and an XSUB's sends are asides. */
#define M_ENDS_SENT (M_PUSH | M_PAIR | M_DEALER | M_PUB | M_XPUB)
#define M_ENDS_GOT (M_PULL | M_PAIR | M_DEALER | M_SUB | M_XSUB)

/* Messages moved per direction before looking at the clock and signals. */
#define SOCK_BATCH 1024
#define NS_PER_MS 1000000u

static void sock_usage(const struct cli_cmd *cmd, FILE *out)
{
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
    case TERN_PAIR:
        fputs("Talks to one PAIR peer: sends --data, --file or stdin lines as push does,\n"
              "and prints what arrives as pull does. With --count N it exits once it has\n"
              "sent and received N; else it runs until --timeout passes or SIGINT/SIGTERM.\n",
              out);
        break;
    case TERN_DEALER:
        fputs("Talks to REP, ROUTER and DEALER peers over a DEALER socket: sends --data,\n"
              "--file or stdin lines round-robin as push does, and prints what arrives,\n"
              "fair-queued, as pull does. With --count N it exits once it has sent and\n"
              "received N; else it runs until --timeout passes or SIGINT/SIGTERM.\n"
              "A REP peer wants an empty part ahead of the body: --parts --data '' --data X.\n",
              out);
        break;
    case TERN_PUB:
        fputs("Publishes messages over a PUB socket to every SUB peer subscribed to a prefix\n"
              "of them: --data, --file, or else stdin lines. A subscriber that has not yet\n"
              "connected and subscribed misses what is sent before, so --wait-peers (or\n"
              "--wait-subscriptions) holds the first send back. Without --lossless a\n"
              "subscriber at --hwm misses messages (counted in --stats drops).\n",
              out);
        break;
    case TERN_SUB:
        fputs("Receives, over a SUB socket, the messages of PUB peers that start with one of\n"
              "the --subscribe prefixes (default: all), and prints them on stdout. Runs\n"
              "until --count messages have arrived, --timeout passes, or SIGINT/SIGTERM.\n",
              out);
        break;
    case TERN_XPUB:
        fputs("Publishes as pub does, over an XPUB socket, and prints the subscriptions that\n"
              "arrive: a message of byte 1 then the prefix (subscribe), or byte 0 then the\n"
              "prefix (cancel); --format quoted shows them as \"\\x01topic\". Exits once all\n"
              "is sent.\n",
              out);
        break;
    default:
        fputs("Receives as sub does, over an XSUB socket, subscribed to each --subscribe\n"
              "prefix (default: nothing). It also sends --data, --file or stdin lines: a\n"
              "message of byte 1 then a prefix subscribes, byte 0 then a prefix cancels.\n"
              "Runs until --count messages have arrived, --timeout passes, or a signal.\n",
              out);
        break;
    }
    cli_conf_usage(cmd, out);
}

/* One run's state. */
struct sock_state {
    struct cli_run *run;
    const struct cli_conf *conf;
    unsigned mask;
    tern_socket sock;
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
    bool got_all;
    uint64_t idle_ns; /* the last arrival, or the start */
};

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
            return cli_fail(s->run->cmd, err, "cannot send");
        s->pending = NULL;
        s->blocked = false;
        *progress = true;
        if (s->conf->interval > 0)
            s->send_at = now + (uint64_t)s->conf->interval * NS_PER_MS;
    }
    return CLI_CONTINUE;
}

static int sock_recv_some(struct sock_state *s, uint64_t now, bool *progress)
{
    const struct cli_conf *c = s->conf;

    for (int i = 0; i < SOCK_BATCH && !s->got_all; i++) {
        tern_msg *msg;
        tern_err err = tern_msg_recv(s->sock, &msg, TERN_DONTWAIT);
        if (err == TERN_EAGAIN)
            break;
        if (err != TERN_OK)
            return cli_fail(s->run->cmd, err, "cannot receive");
        *progress = true;
        s->idle_ns = now;
        cli_run_print(s->run, msg, false, now);
        tern_msg_free(msg);
        if ((s->mask & M_ENDS_GOT) && c->count > 0 && s->run->rate.msgs == (uint64_t)c->count)
            s->got_all = true;
    }
    /* Under steady traffic the loop never idles to flush, so look here. */
    return ferror(stdout) ? cli_flush(s->run->cmd) : CLI_CONTINUE;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Nothing moved: sleeps until something may, or a deadline passes. */
static int sock_wait(struct sock_state *s, uint64_t now)
{
    const struct cli_conf *c = s->conf;
    const struct cli_cmd *cmd = s->run->cmd;
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
            cli_note(cmd, "no peer took a message for %lld ms", (long long)c->timeout);
            return CLI_EXIT_TIMEOUT;
        }
        wake = min_u64(wake, s->blocked_ns + limit_ns);
    }
    if (s->mask & CLI_M_RECEIVERS)
        events |= TERN_POLLIN;
    /* Only a run that ends by its arrivals times out waiting for them. */
    if ((s->mask & M_ENDS_GOT) && !s->got_all && c->timeout > 0) {
        if (now - s->idle_ns >= limit_ns) {
            cli_note(cmd, "nothing arrived for %lld ms", (long long)c->timeout);
            return CLI_EXIT_TIMEOUT;
        }
        wake = min_u64(wake, s->idle_ns + limit_ns);
    }

    if (events)
        items[n++] = (tern_pollitem){.socket = s->sock, .events = events};
    if (s->src_wait) {
        src_item = n;
        items[n++] = (tern_pollitem){.fd = cli_source_fd(&s->src), .events = TERN_POLLIN};
    }
    int rc = cli_run_poll(s->run, items, n, wake);
    if (rc == CLI_CONTINUE && s->src_wait && items[src_item].revents)
        s->src_readable = true;
    return rc;
}

static bool sock_done(const struct sock_state *s)
{
    bool sent = !(s->mask & M_ENDS_SENT) || s->sent_all;
    bool got = !(s->mask & M_ENDS_GOT) || s->got_all;
    return sent && got;
}

static int sock_pump(struct sock_state *s)
{
    int rc = CLI_CONTINUE;

    if (s->mask & CLI_M_SENDERS)
        rc = cli_run_wait_peers(s->run, s->sock, s->run->cmd->variant);
    s->idle_ns = tern_clock_ns();
    while (rc == CLI_CONTINUE) {
        if (cli_stop_requested())
            return CLI_EXIT_OK;
        uint64_t now = tern_clock_ns();
        bool progress = false;
        if (s->mask & CLI_M_SENDERS)
            rc = sock_send_some(s, now, &progress);
        if (rc == CLI_CONTINUE && (s->mask & CLI_M_RECEIVERS))
            rc = sock_recv_some(s, now, &progress);
        if (rc == CLI_CONTINUE && sock_done(s))
            rc = CLI_EXIT_OK;
        if (rc == CLI_CONTINUE && !progress)
            rc = sock_wait(s, now);
    }
    return rc;
}

static int sock_session(const struct cli_cmd *cmd, const struct cli_conf *c)
{
    struct sock_state s = {.conf = c, .mask = CLI_M(cmd->variant)};
    struct cli_run run;
    int rc = CLI_CONTINUE;

    /* Reads a whole --file before signals are taken over: until then
     * Ctrl-C simply ends the command. --count counts the sends only of
     * runs that end when all is sent. */
    if (s.mask & CLI_M_SENDERS) {
        uint64_t count = (s.mask & M_ENDS_SENT) && c->count > 0 ? (uint64_t)c->count : 0;
        rc = cli_source_open(&s.src, cmd, &c->data, c->parts, c->file, count);
        if (rc != CLI_CONTINUE) {
            cli_source_fini(&s.src);
            return rc;
        }
    }
    s.run = &run;
    rc = cli_run_start(&run, cmd, c);
    if (rc == CLI_CONTINUE)
        rc = cli_run_socket(&run, cmd->variant, NULL, &c->bind, &c->connect, &s.sock);
    if (rc == CLI_CONTINUE)
        rc = cli_run_begin(&run);
    if (rc == CLI_CONTINUE)
        rc = sock_pump(&s);
    tern_msg_free(s.pending);
    rc = cli_run_finish(&run, rc);
    cli_source_fini(&s.src);
    return rc;
}

static int sock_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_conf conf;
    int rc = cli_conf_parse(cmd, &conf, argc, argv, NULL);
    if (rc == CLI_CONTINUE)
        rc = sock_session(cmd, &conf);
    cli_conf_free(&conf);
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

const struct cli_cmd cli_cmd_dealer = {
    .name = "dealer",
    .summary = "send round-robin to and receive from REP/ROUTER/DEALER peers",
    .variant = TERN_DEALER,
    .run = sock_run,
    .usage = sock_usage,
};

const struct cli_cmd cli_cmd_pub = {
    .name = "pub",
    .summary = "publish lines, data or a file to SUB peers",
    .variant = TERN_PUB,
    .run = sock_run,
    .usage = sock_usage,
};

const struct cli_cmd cli_cmd_sub = {
    .name = "sub",
    .summary = "subscribe to prefixes and print what PUB peers publish",
    .variant = TERN_SUB,
    .run = sock_run,
    .usage = sock_usage,
};

const struct cli_cmd cli_cmd_xpub = {
    .name = "xpub",
    .summary = "publish as pub, printing the subscriptions that arrive",
    .variant = TERN_XPUB,
    .run = sock_run,
    .usage = sock_usage,
};

const struct cli_cmd cli_cmd_xsub = {
    .name = "xsub",
    .summary = "receive as sub, subscribing by sending messages",
    .variant = TERN_XSUB,
    .run = sock_run,
    .usage = sock_usage,
};
