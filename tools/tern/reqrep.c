/* tern req, rep and router: requests and their answers. Each step waits
 * on the one before (a reply on its request, an answer on its arrival), so
 * these loops go one message at a time: try without blocking, else sleep
 * in tern_poll beside the signal pipe until ready or a deadline. */
#include <inttypes.h>

#include "cli.h"

#define NS_PER_MS 1000000u

/* ---- waiting for one thing -------------------------------------------- */

/* now + ms, or UINT64_MAX for a limit not given (ms <= 0). */
static uint64_t deadline_after(uint64_t now, int64_t ms)
{
    return ms > 0 ? now + (uint64_t)ms * NS_PER_MS : UINT64_MAX;
}

/* The source's next message in *msgp, waiting for stdin; NULL at its end
 * or when a signal asked to stop. */
static int next_msg(struct cli_run *run, struct cli_source *src, tern_msg **msgp)
{
    bool readable = false;

    *msgp = NULL;
    for (;;) {
        enum cli_next next = cli_source_next(src, readable, msgp);
        if (next == CLI_NEXT_MSG || next == CLI_NEXT_END)
            return CLI_CONTINUE;
        if (next == CLI_NEXT_ERR)
            return CLI_EXIT_FAIL;
        tern_pollitem items[2] = {{.fd = cli_source_fd(src), .events = TERN_POLLIN}};
        int rc = cli_run_poll(run, items, 1, UINT64_MAX);
        if (rc != CLI_CONTINUE || cli_stop_requested())
            return rc;
        readable = items[0].revents != 0;
    }
}

/* Sleeps until the clock reaches when, or a signal. */
static int sleep_until(struct cli_run *run, uint64_t when)
{
    while (tern_clock_ns() < when && !cli_stop_requested()) {
        tern_pollitem items[1];
        int rc = cli_run_poll(run, items, 0, when);
        if (rc != CLI_CONTINUE)
            return rc;
    }
    return CLI_CONTINUE;
}

/* Waits until sock is ready for events, the deadline passes or a signal
 * comes; the caller tells which by trying again. */
static int await_socket(struct cli_run *run, tern_socket sock, short events, uint64_t deadline)
{
    tern_pollitem items[2] = {{.socket = sock, .events = events}};
    return cli_run_poll(run, items, 1, deadline);
}

/* Sends msg, waiting for room until the deadline. *errp: TERN_OK once the
 * socket took msg; else msg is freed and *errp says why (TERN_ETIMEDOUT,
 * TERN_ECLOSED for a signal, or the send's error for the caller to
 * report). */
static int send_until(struct cli_run *run, tern_socket sock, tern_msg *msg, uint64_t deadline,
                      tern_err *errp)
{
    for (;;) {
        tern_err err = tern_msg_send(sock, msg, TERN_DONTWAIT);
        if (err == TERN_EAGAIN && tern_clock_ns() >= deadline)
            err = TERN_ETIMEDOUT;
        if (err == TERN_EAGAIN && cli_stop_requested())
            err = TERN_ECLOSED;
        if (err != TERN_EAGAIN) {
            if (err != TERN_OK)
                tern_msg_free(msg);
            *errp = err;
            return CLI_CONTINUE;
        }
        int rc = await_socket(run, sock, TERN_POLLOUT, deadline);
        if (rc != CLI_CONTINUE) {
            tern_msg_free(msg);
            return rc;
        }
    }
}

/* Receives into *msgp, waiting until the deadline; NULL if it passed, a
 * signal came or (*errp, when not TERN_OK) the receive failed. */
static int recv_until(struct cli_run *run, tern_socket sock, uint64_t deadline, tern_msg **msgp,
                      tern_err *errp)
{
    /* A REQ resends from inside a receive only, never from tern_poll: with
     * --resend, try again at least every quarter interval. */
    uint64_t retry_ns = run->conf->resend > 0 ? (uint64_t)run->conf->resend * NS_PER_MS / 4 : 0;

    for (;;) {
        tern_err err = tern_msg_recv(sock, msgp, TERN_DONTWAIT);
        *errp = err == TERN_EAGAIN ? TERN_OK : err;
        if (err == TERN_OK)
            return CLI_CONTINUE;
        *msgp = NULL;
        uint64_t now = tern_clock_ns();
        if (err != TERN_EAGAIN || now >= deadline || cli_stop_requested())
            return CLI_CONTINUE;
        uint64_t wake = retry_ns && now + retry_ns < deadline ? now + retry_ns : deadline;
        int rc = await_socket(run, sock, TERN_POLLIN, wake);
        if (rc != CLI_CONTINUE)
            return rc;
    }
}

/* ---- req -------------------------------------------------------------- */

static void req_usage(const struct cli_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: tern %s (--bind EP | --connect EP)... [FLAGS]\n\n", cmd->name);
    fputs("Sends requests over a REQ socket, one at a time, each to the next REP or\n"
          "ROUTER peer in turn, and prints each reply on stdout. Requests come from\n"
          "--data, --file, or else stdin, one per line. Exits once every request was\n"
          "answered. A reply that does not come within --rcv-timeout, or whose peer\n"
          "went away, is reported on stderr; with --relaxed the next request still\n"
          "goes and the exit status is 3 at the end; without it the run ends there\n"
          "with 3.\n",
          out);
    cli_conf_usage(cmd, out);
}

struct req_state {
    struct cli_run *run;
    const struct cli_conf *conf;
    tern_socket sock;
    struct cli_source src;
    uint64_t sent;       /* requests sent */
    uint64_t unanswered; /* given up on after --rcv-timeout, with --relaxed */
};

/* Sends one request and prints its reply. */
static int req_one(struct req_state *s, tern_msg *req)
{
    const struct cli_conf *c = s->conf;
    const struct cli_cmd *cmd = s->run->cmd;
    tern_err err;

    int rc = send_until(s->run, s->sock, req, deadline_after(tern_clock_ns(), c->timeout), &err);
    if (rc != CLI_CONTINUE || err == TERN_ECLOSED)
        return rc;
    if (err == TERN_ETIMEDOUT) {
        cli_note(cmd, "no peer took request %" PRIu64 " for %" PRId64 " ms", s->sent + 1,
                 c->timeout);
        return CLI_EXIT_TIMEOUT;
    }
    if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot send request %" PRIu64, s->sent + 1);
    s->sent++;

    int64_t reply_ms = c->rcv_timeout > 0 ? c->rcv_timeout : c->timeout;
    tern_msg *reply;
    rc = recv_until(s->run, s->sock, deadline_after(tern_clock_ns(), reply_ms), &reply, &err);
    if (rc != CLI_CONTINUE || cli_stop_requested()) {
        tern_msg_free(reply);
        return rc;
    }
    if (reply) {
        cli_run_print(s->run, reply, false, tern_clock_ns());
        tern_msg_free(reply);
        return CLI_CONTINUE;
    }
    /* A peer that leaves owing the reply loses the request: as good as
     * a timeout, and handled the same way. */
    if (err == TERN_EHOSTUNREACH)
        cli_note(cmd, "no reply to request %" PRIu64 ": its peer went away", s->sent);
    else if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot receive the reply to request %" PRIu64, s->sent);
    else
        cli_note(cmd, "no reply to request %" PRIu64 " within %" PRId64 " ms", s->sent, reply_ms);
    /* --timeout alone ends the run at its first miss. */
    if (!c->relaxed || (err == TERN_OK && c->rcv_timeout <= 0))
        return CLI_EXIT_TIMEOUT;
    s->unanswered++;
    return CLI_CONTINUE;
}

static int req_pump(struct req_state *s)
{
    const struct cli_conf *c = s->conf;
    uint64_t send_at = 0;

    int rc = cli_run_wait_peers(s->run, s->sock, TERN_REQ);
    while (rc == CLI_CONTINUE && !cli_stop_requested()) {
        tern_msg *req;
        rc = next_msg(s->run, &s->src, &req);
        if (rc == CLI_CONTINUE && req == NULL)
            break;
        if (rc == CLI_CONTINUE)
            rc = sleep_until(s->run, send_at);
        if (rc != CLI_CONTINUE || cli_stop_requested()) {
            tern_msg_free(req);
            break;
        }
        if (c->interval > 0)
            send_at = deadline_after(tern_clock_ns(), c->interval);
        rc = req_one(s, req);
    }
    if (rc == CLI_CONTINUE)
        rc = s->unanswered > 0 && !cli_stop_requested() ? CLI_EXIT_TIMEOUT : CLI_EXIT_OK;
    if (s->unanswered > 0)
        cli_note(s->run->cmd, "%" PRIu64 " of %" PRIu64 " requests got no reply", s->unanswered,
                 s->sent);
    return rc;
}

static int req_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_conf conf;
    struct req_state s = {.conf = &conf};
    struct cli_run run;

    int rc = cli_conf_parse(cmd, &conf, argc, argv, NULL);
    if (rc == CLI_CONTINUE)
        rc = cli_source_open(&s.src, cmd, &conf.data, conf.parts, conf.file,
                             conf.count > 0 ? (uint64_t)conf.count : 0);
    if (rc == CLI_CONTINUE) {
        s.run = &run;
        rc = cli_run_start(&run, cmd, &conf);
        if (rc == CLI_CONTINUE)
            rc = cli_run_socket(&run, TERN_REQ, NULL, &conf.bind, &conf.connect, &s.sock);
        if (rc == CLI_CONTINUE)
            rc = cli_run_begin(&run);
        if (rc == CLI_CONTINUE)
            rc = req_pump(&s);
        rc = cli_run_finish(&run, rc);
    }
    cli_source_fini(&s.src);
    cli_conf_free(&conf);
    return rc;
}

const struct cli_cmd cli_cmd_req = {
    .name = "req",
    .summary = "send requests to REP/ROUTER peers and print the replies",
    .variant = TERN_REQ,
    .run = req_run,
    .usage = req_usage,
};

/* ---- rep and router --------------------------------------------------- */

static void serve_usage(const struct cli_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: tern %s (--bind EP | --connect EP)... [FLAGS]\n\n", cmd->name);
    if (cmd->variant == TERN_REP)
        fputs("Answers requests from REQ and DEALER peers over a REP socket: prints each on\n"
              "stdout, then replies with it (--echo), the next --data value, the --file, or\n"
              "else the next line of stdin (exiting at its end). Each reply goes back to\n"
              "its requester. Runs until --count requests are answered, --timeout passes,\n"
              "or SIGINT/SIGTERM.\n",
              out);
    else
        fputs("Receives from REQ, DEALER and ROUTER peers over a ROUTER socket and prints\n"
              "each message with the sender's routing id as its first part, in hex whatever\n"
              "the --format (a REQ's message then has an empty delimiter part). --echo sends\n"
              "each back to its sender; --data or --file answers each with that, behind the\n"
              "same envelope (the id, and any parts up to the first empty one, which a REQ\n"
              "needs). Runs until --count messages have arrived, --timeout passes, or\n"
              "SIGINT/SIGTERM.\n",
              out);
    cli_conf_usage(cmd, out);
}

struct serve_state {
    struct cli_run *run;
    const struct cli_conf *conf;
    tern_socket sock;
    bool router;
    bool answers; /* rep always; router with --echo, --data or --file */
    struct cli_source src;
    uint64_t handled;
};

/* A ROUTER's answer to msg: msg's envelope (the routing id, and any parts
 * up to and including the first empty one, if a body follows it), then
 * body's parts. */
static tern_err envelope_reply(const tern_msg *msg, const tern_msg *body, tern_msg **replyp)
{
    size_t parts = tern_msg_parts(msg), envelope = 1;
    for (size_t i = 1; i + 1 < parts; i++) {
        if (tern_msg_size(msg, i) == 0) {
            envelope = i + 1;
            break;
        }
    }
    tern_msg *reply;
    tern_err err = tern_msg_new(&reply);
    for (size_t i = 0; i < envelope && err == TERN_OK; i++)
        err = tern_msg_append(reply, tern_msg_data(msg, i), tern_msg_size(msg, i));
    for (size_t i = 0; i < tern_msg_parts(body) && err == TERN_OK; i++)
        err = tern_msg_append(reply, tern_msg_data(body, i), tern_msg_size(body, i));
    if (err != TERN_OK) {
        tern_msg_free(reply);
        return err;
    }
    *replyp = reply;
    return TERN_OK;
}

/* The answer to msg (taking msg), in *replyp; NULL when there is none. */
static int serve_answer(struct serve_state *s, tern_msg *msg, tern_msg **replyp)
{
    const struct cli_cmd *cmd = s->run->cmd;

    *replyp = NULL;
    if (s->conf->echo) {
        *replyp = msg;
        return CLI_CONTINUE;
    }
    tern_msg *body = NULL;
    int rc = s->answers ? next_msg(s->run, &s->src, &body) : CLI_CONTINUE;
    if (rc == CLI_CONTINUE && s->answers && body == NULL && !cli_stop_requested()) {
        cli_note(cmd, "stdin ended: request %" PRIu64 " is left unanswered", s->handled + 1);
        rc = CLI_EXIT_OK;
    }
    if (rc == CLI_CONTINUE && body && !s->router) {
        *replyp = body;
        body = NULL;
    }
    if (rc == CLI_CONTINUE && body) {
        tern_err err = envelope_reply(msg, body, replyp);
        if (err != TERN_OK)
            rc = cli_fail(cmd, err, "cannot make an answer");
    }
    tern_msg_free(body);
    if (*replyp != msg)
        tern_msg_free(msg);
    return rc;
}

/* Sends an answer, waiting for room up to --timeout. A ROUTER's peer may
 * have gone meanwhile: that is reported, and the run goes on. */
static int serve_send(struct serve_state *s, tern_msg *reply)
{
    const struct cli_conf *c = s->conf;
    const struct cli_cmd *cmd = s->run->cmd;
    tern_err err;

    int rc = send_until(s->run, s->sock, reply, deadline_after(tern_clock_ns(), c->timeout), &err);
    if (rc != CLI_CONTINUE || err == TERN_OK || err == TERN_ECLOSED)
        return rc;
    if (err == TERN_ETIMEDOUT) {
        cli_note(cmd, "an answer could not leave for %" PRId64 " ms", c->timeout);
        return CLI_EXIT_TIMEOUT;
    }
    if (err == TERN_EHOSTUNREACH && s->router) {
        cli_note(cmd, "cannot answer message %" PRIu64 ": its sender is gone", s->handled + 1);
        return CLI_CONTINUE;
    }
    return cli_fail(cmd, err, "cannot answer");
}

static int serve_pump(struct serve_state *s)
{
    const struct cli_conf *c = s->conf;
    uint64_t idle_ns = tern_clock_ns();

    while (!cli_stop_requested()) {
        if (c->count > 0 && s->handled == (uint64_t)c->count)
            return CLI_EXIT_OK;
        tern_msg *msg, *reply;
        tern_err err;
        int rc = recv_until(s->run, s->sock, deadline_after(idle_ns, c->timeout), &msg, &err);
        if (rc == CLI_CONTINUE && err != TERN_OK)
            rc = cli_fail(s->run->cmd, err, "cannot receive");
        if (rc == CLI_CONTINUE && cli_stop_requested())
            rc = CLI_EXIT_OK;
        if (rc != CLI_CONTINUE) {
            tern_msg_free(msg);
            return rc;
        }
        if (msg == NULL) {
            cli_note(s->run->cmd, "nothing arrived for %" PRId64 " ms", c->timeout);
            return CLI_EXIT_TIMEOUT;
        }
        cli_run_print(s->run, msg, s->router, tern_clock_ns());
        rc = serve_answer(s, msg, &reply);
        if (rc == CLI_CONTINUE && reply)
            rc = serve_send(s, reply);
        if (rc != CLI_CONTINUE)
            return rc;
        s->handled++;
        idle_ns = tern_clock_ns();
    }
    return CLI_EXIT_OK;
}

static int serve_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_conf conf;
    struct serve_state s = {.conf = &conf, .router = cmd->variant == TERN_ROUTER};
    struct cli_run run;

    int rc = cli_conf_parse(cmd, &conf, argc, argv, NULL);
    s.answers = !s.router || conf.data.n > 0 || conf.file;
    /* Answers from --data or --file take turns for as long as it runs. */
    if (rc == CLI_CONTINUE && s.answers && !conf.echo)
        rc = cli_source_open(&s.src, cmd, &conf.data, conf.parts, conf.file,
                             conf.data.n > 0 || conf.file ? UINT64_MAX : 0);
    if (rc == CLI_CONTINUE) {
        s.run = &run;
        rc = cli_run_start(&run, cmd, &conf);
        if (rc == CLI_CONTINUE)
            rc = cli_run_socket(&run, cmd->variant, NULL, &conf.bind, &conf.connect, &s.sock);
        if (rc == CLI_CONTINUE)
            rc = cli_run_begin(&run);
        if (rc == CLI_CONTINUE)
            rc = serve_pump(&s);
        rc = cli_run_finish(&run, rc);
    }
    cli_source_fini(&s.src);
    cli_conf_free(&conf);
    return rc;
}

const struct cli_cmd cli_cmd_rep = {
    .name = "rep",
    .summary = "answer REQ peers' requests: echo, data, a file or stdin lines",
    .variant = TERN_REP,
    .run = serve_run,
    .usage = serve_usage,
};

const struct cli_cmd cli_cmd_router = {
    .name = "router",
    .summary = "print messages with their sender's id; echo or answer them",
    .variant = TERN_ROUTER,
    .run = serve_run,
    .usage = serve_usage,
};
