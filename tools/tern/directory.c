/* tern directory: runs the directory RPC servers register with, or asks one
 * what is registered (list, lookup NAME). */
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct dir_conf {
    const char *listen; /* serve: where */
    const char *at;     /* list, lookup: which directory */
    bool json, quiet;
};

static const struct cli_opt dir_opts[] = {
    {"listen", 'l', CLI_STR, offsetof(struct dir_conf, listen), 1, "HOST:PORT",
     "serve here (default 0.0.0.0:7350)", 0, 0},
    {"at", 'a', CLI_STR, offsetof(struct dir_conf, at), 1, "HOST[:PORT]",
     "list, lookup: the directory to ask\n(default 127.0.0.1:7350)", 0, 0},
    {"json", 0, CLI_BOOL, offsetof(struct dir_conf, json), 1, NULL, "list, lookup: one JSON object per line",
     0, 0},
    {"quiet", 'q', CLI_BOOL, offsetof(struct dir_conf, quiet), 1, NULL,
     "serve: no startup line", 0, 0},
    {0},
};

static void dir_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern directory [--listen HOST:PORT]\n"
          "       tern directory list [--at HOST[:PORT]] [--json]\n"
          "       tern directory lookup NAME [--at HOST[:PORT]] [--json]\n\n"
          "The directory RPC servers register with (tern_rpc_server_register) and clients\n"
          "bind through (tern://HOST[:PORT]/NAME). Without a verb it serves until SIGINT or\n"
          "SIGTERM; registrations live in memory and expire unless their servers renew\n"
          "them. 'list' shows every live registration, 'lookup' those of one name.\n\n"
          "flags:\n",
          out);
    cli_opts_usage(out, dir_opts, 1);
}

static int serve(const struct cli_cmd *cmd, const struct dir_conf *conf)
{
    char ep[300];
    const char *listen = conf->listen ? conf->listen : "0.0.0.0:7350";
    if (strstr(listen, "://"))
        snprintf(ep, sizeof ep, "%s", listen);
    else if (strchr(listen, ':'))
        snprintf(ep, sizeof ep, "tcp://%s", listen);
    else
        snprintf(ep, sizeof ep, "tcp://%s:%d", listen, TERN_DIRECTORY_PORT);
    int sigfd = cli_signals_start();
    if (sigfd < 0)
        return cli_fail_errno(cmd, "cannot watch for signals");
    tern_ctx *ctx;
    tern_err err = tern_ctx_open(&ctx, 1);
    if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot start");
    tern_directory *dir;
    err = tern_directory_open(ctx, ep, &dir);
    if (err != TERN_OK) {
        tern_ctx_close(ctx);
        return cli_fail(cmd, err, "cannot listen on %s", ep);
    }
    char bound[300];
    if (tern_directory_endpoint(dir, bound, sizeof bound) != TERN_OK)
        snprintf(bound, sizeof bound, "%s", ep);
    if (!conf->quiet) {
        printf("tern directory listening on %s\n", bound);
        fflush(stdout);
    }
    while (!cli_stop_requested()) {
        struct pollfd p = {.fd = sigfd, .events = POLLIN};
        poll(&p, 1, 1000);
    }
    tern_directory_close(dir);
    tern_ctx_close(ctx);
    if (!conf->quiet)
        cli_note(cmd, "stopped");
    return CLI_EXIT_OK;
}

static void print_entry(const tern_dir_entry *e, bool json)
{
    char uuid[37];
    tern_rpc_uuid_format(&e->iface, uuid);
    if (!json) {
        printf("%-20s %-36s %u.%-4u %-28s %6.1fs %s\n", e->name, uuid, e->major, e->minor, e->endpoint,
               e->expires_ms / 1000.0, e->attrs);
        return;
    }
    /* Names, endpoints and attributes are printable text by construction
     * of the IDL strings, but escape quotes and backslashes all the same. */
    const char *fields[3] = {e->name, e->endpoint, e->attrs};
    char esc[3][2100];
    for (int f = 0; f < 3; f++) {
        size_t k = 0;
        for (const char *p = fields[f]; *p && k + 7 < sizeof esc[f]; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\')
                k += (size_t)snprintf(esc[f] + k, sizeof esc[f] - k, "\\%c", ch);
            else if (ch < 0x20)
                k += (size_t)snprintf(esc[f] + k, sizeof esc[f] - k, "\\u%04x", ch);
            else
                esc[f][k++] = (char)ch;
        }
        esc[f][k] = '\0';
    }
    printf("{\"id\":%llu,\"name\":\"%s\",\"interface\":\"%s\",\"version\":\"%u.%u\",\"endpoint\":\"%s\","
           "\"attrs\":\"%s\",\"expires_ms\":%u}\n",
           (unsigned long long)e->id, esc[0], uuid, e->major, e->minor, esc[1], esc[2], e->expires_ms);
}

static int query(const struct cli_cmd *cmd, const struct dir_conf *conf, const char *name)
{
    tern_ctx *ctx;
    tern_err err = tern_ctx_open(&ctx, 1);
    if (err != TERN_OK)
        return cli_fail(cmd, err, "cannot start");
    tern_dir_entry *es;
    size_t n;
    err = tern_directory_lookup(ctx, conf->at, name, &es, &n);
    int rc = CLI_EXIT_OK;
    if (err != TERN_OK) {
        rc = cli_fail(cmd, err, "cannot ask the directory at %s (%s)", conf->at ? conf->at : "127.0.0.1:7350",
                      tern_rpc_last_error());
    } else {
        if (!conf->json && n > 0)
            printf("%-20s %-36s %-6s %-28s %7s %s\n", "NAME", "INTERFACE", "VER", "ENDPOINT", "LEASE",
                   "ATTRS");
        for (size_t i = 0; i < n; i++)
            print_entry(&es[i], conf->json);
        if (name && n == 0) {
            cli_note(cmd, "%s is not registered", name);
            rc = CLI_EXIT_FAIL;
        }
        free(es);
    }
    tern_ctx_close(ctx);
    return rc;
}

static int dir_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct dir_conf conf = {0};
    int nargs;
    int rc = cli_parse(cmd, dir_opts, 1, &conf, argc, argv, &nargs);
    if (rc != CLI_CONTINUE)
        return rc;
    if (nargs == 0) {
        if (conf.at || conf.json)
            return cli_usage_error(cmd, "--at and --json go with list or lookup");
        return serve(cmd, &conf);
    }
    if (conf.listen)
        return cli_usage_error(cmd, "--listen is for serving, not for %s", argv[1]);
    if (strcmp(argv[1], "list") == 0) {
        if (nargs != 1)
            return cli_usage_error(cmd, "list takes no arguments");
        return query(cmd, &conf, NULL);
    }
    if (strcmp(argv[1], "lookup") == 0) {
        if (nargs != 2)
            return cli_usage_error(cmd, "lookup takes one NAME");
        if (strlen(argv[2]) > 128 || argv[2][0] == '\0')
            return cli_usage_error(cmd, "a name is 1 to 128 bytes");
        return query(cmd, &conf, argv[2]);
    }
    return cli_usage_error(cmd, "unknown verb '%s' (list or lookup)", argv[1]);
}

const struct cli_cmd cli_cmd_directory = {
    .name = "directory",
    .summary = "run the RPC directory, or list and look up its names",
    .run = dir_run,
    .usage = dir_usage,
};
