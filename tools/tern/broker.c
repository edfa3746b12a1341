/* tern broker: a Kafka-protocol broker with an append-only log. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct broker_conf {
    const char *data, *listen, *advertise, *fsync;
    int64_t partitions, segment_bytes, retention_ms, retention_bytes, group_delay;
    bool no_auto;
};

static const struct cli_opt broker_opts[] = {
    {"data", 'd', CLI_STR, offsetof(struct broker_conf, data), 1, "DIR",
     "where the logs live (default ./tern-data)", 0, 0},
    {"listen", 'l', CLI_STR, offsetof(struct broker_conf, listen), 1, "HOST:PORT",
     "where to listen (default 0.0.0.0:9092)", 0, 0},
    {"advertise", 0, CLI_STR, offsetof(struct broker_conf, advertise), 1, "HOST:PORT",
     "the address clients are told to use\n(default: the one each client connected to)", 0, 0},
    {"fsync", 0, CLI_STR, offsetof(struct broker_conf, fsync), 1, "MODE",
     "always: every produce synced before its answer\nbatch (default): acks=all waits for a "
     "shared sync\ninterval=MS: a sync every MS; acks=all waits\nnever: the kernel writes back",
     0, 0},
    {"partitions", 'p', CLI_INT, offsetof(struct broker_conf, partitions), 1, "N",
     "partitions of auto-created topics (default 1)", 1, 1000},
    {"no-auto-create", 0, CLI_BOOL, offsetof(struct broker_conf, no_auto), 1, NULL,
     "unknown topics are errors, not created on use", 0, 0},
    {"group-delay", 0, CLI_INT, offsetof(struct broker_conf, group_delay), 1, "MS",
     "a new group waits MS after its first member\nfor others before starting (default 300)", 0,
     600000},
    {"segment-bytes", 0, CLI_INT, offsetof(struct broker_conf, segment_bytes), 1, "N",
     "roll segments at N bytes (default 1 GiB)", 1024, INT32_MAX},
    {"retention-ms", 0, CLI_INT, offsetof(struct broker_conf, retention_ms), 1, "MS",
     "delete segments older than MS (default 7 days;\n-1: keep)", -1, INT64_MAX},
    {"retention-bytes", 0, CLI_INT, offsetof(struct broker_conf, retention_bytes), 1, "N",
     "keep at most N bytes per partition (default -1:\nunlimited)", -1, INT64_MAX},
    {0},
};

static void usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern broker [flags]\n\n"
          "Runs a broker that speaks the Kafka protocol: kcat, librdkafka, the Java\n"
          "client and `tern topic|produce|consume` work against it unmodified.\n"
          "Records are kept in an append-only log per partition and survive restarts\n"
          "and crashes; so do consumer groups' committed offsets. SIGINT or SIGTERM\n"
          "stops it cleanly, every log synced.\n\n"
          "flags:\n",
          out);
    cli_opts_usage(out, broker_opts, 1);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct broker_conf conf = {
        .data = "./tern-data",
        .listen = "0.0.0.0:9092",
        .fsync = "batch",
        .partitions = 1,
        .segment_bytes = 1ll << 30,
        .retention_ms = 7ll * 24 * 3600 * 1000,
        .retention_bytes = -1,
        .group_delay = 300,
    };
    int rc = cli_parse(cmd, broker_opts, 1, &conf, argc, argv, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    tern_broker_opts o;
    tern_broker_opts_init(&o);
    if (tern_fsync_parse(conf.fsync, &o.fsync, &o.fsync_interval_ms) != TERN_OK)
        return cli_usage_error(cmd, "--fsync wants always, batch, interval=MS or never, not '%s'",
                               conf.fsync);
    o.data_dir = conf.data;
    o.listen = conf.listen;
    o.advertise = conf.advertise;
    o.default_partitions = (int32_t)conf.partitions;
    o.auto_create_topics = !conf.no_auto;
    o.segment_bytes = (uint64_t)conf.segment_bytes;
    o.retention_ms = conf.retention_ms;
    o.retention_bytes = conf.retention_bytes;
    o.group_initial_delay_ms = (int32_t)conf.group_delay;
    o.log_stderr = 1;
    /* Blocked here, so the broker's threads inherit the mask and sigwait gets them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    tern_broker *b;
    tern_err e = tern_broker_start(&o, &b);
    if (e != TERN_OK) {
        cli_note(cmd, "%s", tern_broker_last_error());
        return CLI_EXIT_FAIL;
    }
    const char *colon = strrchr(conf.listen, ':');
    int hostlen = colon ? (int)(colon - conf.listen) : 0;
    cli_note(cmd, "listening on %.*s:%u, data in %s, fsync %s", hostlen, conf.listen,
             tern_broker_port(b), conf.data, conf.fsync);
    int sig = 0;
    sigwait(&set, &sig);
    cli_note(cmd, "%s: syncing the logs and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    tern_broker_stop(b);
    cli_note(cmd, "stopped");
    return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_broker = {
    .name = "broker",
    .summary = "run a Kafka-protocol broker with a persistent log",
    .run = run,
    .usage = usage,
};
