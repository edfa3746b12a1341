/* tern proxy: tern_proxy between two sockets, each given on the command
 * line as TYPE:ENDPOINTS, until a signal. tern_proxy blocks this thread,
 * so a signal stops it the way the library offers: the signal thread
 * sends "TERMINATE" on a control PAIR. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CONTROL_EP "inproc://tern-cli-proxy-control"

static void proxy_usage(const struct cli_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: tern %s FRONTEND BACKEND [FLAGS]\n\n", cmd->name);
    fputs("Forwards messages both ways between two sockets until SIGINT or SIGTERM.\n"
          "Each is given as TYPE:ENDPOINTS: a socket type (xsub, xpub, router, dealer,\n"
          "pull, push, sub, pub, pair...) and a comma-separated list of endpoints,\n"
          "each bound unless it starts with '>', which connects instead (quote it for\n"
          "the shell). A SUB frontend subscribes to everything. --print-endpoint\n"
          "prints the frontend's endpoints first, then the backend's.\n"
          "\n"
          "examples:\n"
          "  tern proxy xsub:tcp://*:5555 xpub:tcp://*:5556\n"
          "      a forwarder: publishers connect to 5555, subscribers to 5556, and the\n"
          "      subscriptions flow up to the publishers\n"
          "  tern proxy router:tcp://*:5559 dealer:tcp://*:5560\n"
          "      a shared queue: REQ clients connect to 5559, REP servers to 5560\n"
          "  tern proxy 'xsub:>tcp://feed:5555' xpub:ipc:///tmp/feed\n"
          "      connects to a publisher and serves its subscribers over ipc\n",
          out);
    cli_conf_usage(cmd, out);
}

/* One side of the proxy, from a TYPE:ENDPOINTS argument. */
struct proxy_end {
    int type;
    struct cli_list bind, connect;
    char *endpoints; /* the argument's copy, split in place at the commas */
};

static int end_add(const struct cli_cmd *cmd, struct cli_list *list, char *ep)
{
    char **v = realloc(list->v, (list->n + 1) * sizeof *v);
    if (v == NULL)
        return cli_fail(cmd, TERN_ENOMEM, "cannot parse the arguments");
    v[list->n++] = ep;
    list->v = v;
    return CLI_CONTINUE;
}

static int end_parse(const struct cli_cmd *cmd, const char *role, const char *arg,
                     struct proxy_end *end)
{
    const char *colon = strchr(arg, ':');
    if (colon == NULL || !cli_type_parse(arg, (size_t)(colon - arg), &end->type))
        return cli_usage_error(cmd, "the %s '%s' is not TYPE:ENDPOINTS (xsub:tcp://*:5555)", role,
                               arg);
    end->endpoints = strdup(colon + 1);
    if (end->endpoints == NULL)
        return cli_fail(cmd, TERN_ENOMEM, "cannot parse the arguments");
    int rc = CLI_CONTINUE;
    char *save;
    for (char *ep = strtok_r(end->endpoints, ",", &save); ep && rc == CLI_CONTINUE;
         ep = strtok_r(NULL, ",", &save)) {
        if (ep[0] == '>')
            rc = end_add(cmd, &end->connect, ep + 1);
        else
            rc = end_add(cmd, &end->bind, ep);
    }
    if (rc == CLI_CONTINUE && end->bind.n + end->connect.n == 0)
        return cli_usage_error(cmd, "the %s '%s' names no endpoint", role, arg);
    return rc;
}

static void end_free(struct proxy_end *end)
{
    free(end->bind.v);
    free(end->connect.v);
    free(end->endpoints);
}

/* The signal thread's end of the control PAIR; static, as that thread may
 * use it until the process exits (a closed socket only gives an error). */
static tern_socket control_sender;

static void proxy_terminate(void *arg)
{
    const tern_socket *sender = arg;
    tern_send(*sender, "TERMINATE", strlen("TERMINATE"), TERN_DONTWAIT);
}

static int control_open(struct cli_run *run, tern_socket *controlp)
{
    tern_err err = tern_socket_open(run->ctx, TERN_PAIR, controlp);
    if (err == TERN_OK)
        err = tern_bind(*controlp, CONTROL_EP);
    if (err == TERN_OK)
        err = tern_socket_open(run->ctx, TERN_PAIR, &control_sender);
    if (err == TERN_OK)
        err = tern_connect(control_sender, CONTROL_EP);
    if (err != TERN_OK)
        return cli_fail(run->cmd, err, "cannot open the proxy's control socket");
    return CLI_CONTINUE;
}

static int proxy_session(const struct cli_cmd *cmd, const struct cli_conf *conf,
                         const struct proxy_end *ends, size_t nends)
{
    static const char *const roles[] = {"frontend", "backend", "capture"};
    tern_socket socks[CLI_RUN_SOCKETS] = {{0}}, control = {0};
    struct cli_run run;

    int rc = cli_run_start(&run, cmd, conf);
    for (size_t i = 0; i < nends && rc == CLI_CONTINUE; i++)
        rc = cli_run_socket(&run, ends[i].type, roles[i], &ends[i].bind, &ends[i].connect,
                            &socks[i]);
    /* The control sockets stay out of the run: ctx_close closes them. */
    if (rc == CLI_CONTINUE)
        rc = control_open(&run, &control);
    if (rc == CLI_CONTINUE)
        rc = cli_run_begin(&run);
    if (rc == CLI_CONTINUE) {
        cli_signals_on_stop(proxy_terminate, &control_sender);
        /* A signal that came before the hook was set is seen here. */
        tern_err err =
            cli_stop_requested() ? TERN_OK : tern_proxy(socks[0], socks[1], socks[2], control);
        cli_signals_on_stop(NULL, NULL);
        rc = err == TERN_OK ? CLI_EXIT_OK : cli_fail(cmd, err, "the proxy stopped");
    }
    return cli_run_finish(&run, rc);
}

static int proxy_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_conf conf;
    struct proxy_end ends[CLI_RUN_SOCKETS] = {{0}};
    size_t nends = 2;
    int nargs;

    int rc = cli_conf_parse(cmd, &conf, argc, argv, &nargs);
    if (rc == CLI_CONTINUE && nargs != 2)
        rc = cli_usage_error(cmd, "give a FRONTEND and a BACKEND, as TYPE:ENDPOINTS");
    if (rc == CLI_CONTINUE)
        rc = end_parse(cmd, "frontend", argv[1], &ends[0]);
    if (rc == CLI_CONTINUE)
        rc = end_parse(cmd, "backend", argv[2], &ends[1]);
    if (rc == CLI_CONTINUE && conf.capture)
        rc = end_parse(cmd, "capture", conf.capture, &ends[nends++]);
    if (rc == CLI_CONTINUE)
        rc = proxy_session(cmd, &conf, ends, nends);
    for (size_t i = 0; i < CLI_RUN_SOCKETS; i++)
        end_free(&ends[i]);
    cli_conf_free(&conf);
    return rc;
}

const struct cli_cmd cli_cmd_proxy = {
    .name = "proxy",
    .summary = "forward between two sockets: xsub/xpub, router/dealer...",
    .variant = CLI_PROXY,
    .run = proxy_run,
    .usage = proxy_usage,
};
