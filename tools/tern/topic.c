/* tern topic: create, list, describe and delete topics of a Kafka
 * cluster (tern broker, or Kafka itself). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

struct topic_conf {
    const char *brokers;
    int64_t partitions, replication;
    struct cli_list configs;
};

static const struct cli_opt topic_opts[] = {
    {"brokers", 'b', CLI_STR, offsetof(struct topic_conf, brokers), 1, "HOST:PORT[,..]",
     CLI_KAFKA_BROKERS_HELP, 0, 0},
    {"partitions", 'p', CLI_INT, offsetof(struct topic_conf, partitions), 1, "N",
     "create: how many (default: the broker's)", 1, 1000000},
    {"replication-factor", 'r', CLI_INT, offsetof(struct topic_conf, replication), 1, "N",
     "create: copies of each partition (default:\nthe broker's)", 1, 32767},
    {"config", 'c', CLI_LIST, offsetof(struct topic_conf, configs), 1, "KEY=VALUE",
     "create: a topic config, such as\nretention.ms=86400000 (repeatable)", 0, 0},
    {0},
};

static void topic_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern topic create NAME [--partitions N] [--replication-factor N]\n"
          "                        [--config KEY=VALUE]...\n"
          "       tern topic list\n"
          "       tern topic describe NAME\n"
          "       tern topic delete NAME\n\n"
          "Administers the topics of a Kafka cluster: tern broker, or Kafka itself.\n"
          "'list' prints every topic's name, one a line; 'describe' a line per\n"
          "partition: its leader, the first offset kept (START) and the offset the\n"
          "next record gets (END).\n\n"
          "flags:\n",
          out);
    cli_opts_usage(out, topic_opts, 1);
    fputs("\nexit status: 0 done, 1 the cluster refused or could not be reached,\n"
          "2 usage error.\n",
          out);
}

static int create(const struct cli_cmd *cmd, tern_kafka *k, const char *name,
                  const struct topic_conf *conf)
{
    size_t n = conf->configs.n;
    tern_kafka_config *cfg = calloc(n ? n : 1, sizeof *cfg);
    if (cfg == NULL)
        return cli_fail(cmd, TERN_ENOMEM, "cannot create topic %s", name);
    for (size_t i = 0; i < n; i++) {
        char *kv = conf->configs.v[i];
        char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            free(cfg);
            return cli_usage_error(cmd, "--config wants KEY=VALUE, not '%s'", kv);
        }
        *eq = '\0';
        cfg[i] = (tern_kafka_config){kv, eq + 1};
    }
    tern_err err = tern_kafka_topic_create(k, name, (int32_t)conf->partitions,
                                           (int16_t)conf->replication, cfg, n);
    free(cfg);
    if (err != TERN_OK)
        return cli_kafka_fail(cmd, k);
    cli_note(cmd, "created %s", name);
    return CLI_EXIT_OK;
}

static int list(const struct cli_cmd *cmd, tern_kafka *k)
{
    tern_kafka_topics *t;
    if (tern_kafka_topic_list(k, &t) != TERN_OK)
        return cli_kafka_fail(cmd, k);
    for (size_t i = 0; i < t->n; i++)
        printf("%s\n", t->topics[i].name);
    free(t);
    int rc = cli_flush(cmd);
    return rc == CLI_CONTINUE ? CLI_EXIT_OK : rc;
}

static int describe(const struct cli_cmd *cmd, tern_kafka *k, const char *name)
{
    tern_kafka_topic_desc *d;
    if (tern_kafka_topic_describe(k, name, &d) != TERN_OK)
        return cli_kafka_fail(cmd, k);
    int w = (int)strlen(d->name) > 5 ? (int)strlen(d->name) : 5;
    printf("%-*s %9s %6s %-21s %12s %12s %8s %3s\n", w, "TOPIC", "PARTITION", "LEADER", "ADDRESS",
           "START", "END", "REPLICAS", "ISR");
    for (size_t i = 0; i < d->npartitions; i++) {
        const tern_kafka_partition_desc *p = &d->partitions[i];
        printf("%-*s %9ld %6ld %-21s %12lld %12lld %8ld %3ld", w, d->name, (long)p->partition,
               (long)p->leader, p->leader_addr[0] ? p->leader_addr : "-",
               (long long)p->start_offset, (long long)p->end_offset, (long)p->replicas,
               (long)p->isr);
        if (p->error)
            printf(" %s", tern_kafka_error_name(p->error));
        putchar('\n');
    }
    free(d);
    int rc = cli_flush(cmd);
    return rc == CLI_CONTINUE ? CLI_EXIT_OK : rc;
}

static int topic_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct topic_conf conf = {.partitions = -1, .replication = -1};
    int nargs;
    int rc = cli_parse(cmd, topic_opts, 1, &conf, argc, argv, &nargs);
    if (rc != CLI_CONTINUE) {
        cli_opts_free(topic_opts, &conf);
        return rc;
    }
    const char *verb = nargs > 0 ? argv[1] : "";
    bool named =
        strcmp(verb, "create") == 0 || strcmp(verb, "describe") == 0 || strcmp(verb, "delete") == 0;
    if (nargs == 0)
        rc = cli_usage_error(cmd, "which: create, list, describe or delete?");
    else if (!named && strcmp(verb, "list") != 0)
        rc = cli_usage_error(cmd, "unknown verb '%s' (create, list, describe or delete)", verb);
    else if (named && nargs != 2)
        rc = cli_usage_error(cmd, "%s takes one topic NAME", verb);
    else if (!named && nargs != 1)
        rc = cli_usage_error(cmd, "list takes no arguments");
    else if (strcmp(verb, "create") != 0 &&
             (conf.partitions > 0 || conf.replication > 0 || conf.configs.n > 0))
        rc = cli_usage_error(cmd, "--partitions, --replication-factor and --config go with create");
    tern_kafka *k = NULL;
    if (rc == CLI_CONTINUE)
        rc = cli_kafka_open(cmd, cli_kafka_brokers(conf.brokers), &k);
    if (rc == CLI_CONTINUE) {
        if (strcmp(verb, "create") == 0) {
            rc = create(cmd, k, argv[2], &conf);
        } else if (strcmp(verb, "list") == 0) {
            rc = list(cmd, k);
        } else if (strcmp(verb, "describe") == 0) {
            rc = describe(cmd, k, argv[2]);
        } else if (tern_kafka_topic_delete(k, argv[2]) != TERN_OK) {
            rc = cli_kafka_fail(cmd, k);
        } else {
            cli_note(cmd, "deleted %s", argv[2]);
            rc = CLI_EXIT_OK;
        }
    }
    tern_kafka_close(k);
    cli_opts_free(topic_opts, &conf);
    return rc;
}

const struct cli_cmd cli_cmd_topic = {
    .name = "topic",
    .summary = "create, list, describe or delete Kafka topics",
    .run = topic_run,
    .usage = topic_usage,
};
