/* tern consume: prints the records of a Kafka topic, one value a line,
 * alone or as a member of a consumer group. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

#define NS_PER_MS 1000000ull
/* How often a group's offsets are committed while records come. */
#define COMMIT_EVERY_NS (5000ull * NS_PER_MS)
/* Longest a single poll blocks, so a signal is noticed soon. */
#define SLICE_MS 200

struct consume_conf {
    const char *brokers, *group, *timeout, *assignor;
    int64_t partition, count;
    bool from_beginning, print_key, print_offset;
};

static const struct cli_opt consume_opts[] = {
    {"brokers", 'b', CLI_STR, offsetof(struct consume_conf, brokers), 1, "HOST:PORT[,..]",
     CLI_KAFKA_BROKERS_HELP, 0, 0},
    {"group", 'g', CLI_STR, offsetof(struct consume_conf, group), 1, "G",
     "consume as a member of group G: partitions\nshared with its other members, offsets\n"
     "committed every 5 s and at exit",
     0, 0},
    {"from-beginning", 0, CLI_BOOL, offsetof(struct consume_conf, from_beginning), 1, NULL,
     "start at the first record kept (a group: where\nit has no committed offset); default: only\n"
     "records that come from now on",
     0, 0},
    {"partition", 'p', CLI_INT, offsetof(struct consume_conf, partition), 1, "N",
     "read only partition N (with --group: from\nits committed offset, no group membership)", 0,
     INT32_MAX},
    {"count", 'n', CLI_INT, offsetof(struct consume_conf, count), 1, "N", "exit after N records", 1,
     INT64_MAX},
    {"timeout", 't', CLI_STR, offsetof(struct consume_conf, timeout), 1, "SECONDS",
     "exit (status 3) once nothing has arrived for\nthis long", 0, 0},
    {"print-key", 'K', CLI_BOOL, offsetof(struct consume_conf, print_key), 1, NULL,
     "print KEY<tab> before each value", 0, 0},
    {"print-offset", 'O', CLI_BOOL, offsetof(struct consume_conf, print_offset), 1, NULL,
     "print PARTITION:OFFSET<tab> first", 0, 0},
    {"assignor", 0, CLI_STR, offsetof(struct consume_conf, assignor), 1, "NAME",
     "with --group, the assignor this member prefers\nif it leads: range (default) or roundrobin",
     0, 0},
    {0},
};

static void consume_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern consume TOPIC [--group G] [--from-beginning] [--partition N]\n"
          "                    [--count N] [--timeout SECONDS] [--print-key]\n"
          "                    [--print-offset]\n\n"
          "Prints the records of TOPIC of a Kafka cluster (tern broker, or Kafka\n"
          "itself), one value a line, until --count records, --timeout seconds without\n"
          "one, or SIGINT or SIGTERM. With --group it joins the consumer group G and\n"
          "reads the partitions the group gives it, from the group's committed offsets.\n\n"
          "flags:\n",
          out);
    cli_opts_usage(out, consume_opts, 1);
    fputs("\nexit status: 0 done, 1 a failure, 2 usage error, 3 --timeout passed.\n", out);
}

static void print_record(const struct consume_conf *conf, const tern_kafka_message *m)
{
    if (conf->print_offset)
        printf("%ld:%lld\t", (long)m->partition, (long long)m->offset);
    if (conf->print_key) {
        if (m->key_len)
            fwrite(m->key, 1, m->key_len, stdout);
        putchar('\t');
    }
    if (m->value_len)
        fwrite(m->value, 1, m->value_len, stdout);
    putchar('\n');
}

/* The consumer, with its partitions assigned or its group subscribed. */
static int start(const struct cli_cmd *cmd, const struct consume_conf *conf, tern_kafka *k,
                 const char *topic, tern_kafka_consumer **cp)
{
    tern_kafka_consumer_opts o;
    tern_kafka_consumer_opts_init(&o);
    o.group = conf->group;
    o.reset = conf->from_beginning ? TERN_KAFKA_EARLIEST : TERN_KAFKA_LATEST;
    if (conf->assignor)
        o.assignor = conf->assignor;
    tern_kafka_consumer *c;
    if (tern_kafka_consumer_open(k, &o, &c) != TERN_OK)
        return cli_kafka_fail(cmd, k);
    *cp = c;
    tern_err err;
    if (conf->partition >= 0) {
        tern_kafka_tp tp = {topic, (int32_t)conf->partition};
        err = tern_kafka_assign(c, &tp, 1, conf->group ? TERN_KAFKA_COMMITTED : o.reset);
    } else if (conf->group) {
        err = tern_kafka_subscribe(c, &topic, 1);
    } else {
        /* Alone: every partition the topic has now. */
        tern_kafka_topic_desc *d;
        err = tern_kafka_topic_describe(k, topic, &d);
        if (err == TERN_OK) {
            tern_kafka_tp *tps = calloc(d->npartitions ? d->npartitions : 1, sizeof *tps);
            err = tps ? TERN_OK : TERN_ENOMEM;
            for (size_t i = 0; tps && i < d->npartitions; i++)
                tps[i] = (tern_kafka_tp){topic, d->partitions[i].partition};
            if (err == TERN_OK)
                err = tern_kafka_assign(c, tps, d->npartitions, o.reset);
            free(tps);
            free(d);
        }
    }
    return err == TERN_OK ? CLI_CONTINUE : cli_kafka_fail(cmd, k);
}

static int loop(const struct cli_cmd *cmd, const struct consume_conf *conf, tern_kafka *k,
                tern_kafka_consumer *c, uint64_t idle_ns)
{
    uint64_t got = 0, now = tern_clock_ns();
    uint64_t last = now, committed = now, flushed = now, warned = 0;
    while (!cli_stop_requested()) {
        tern_kafka_message m;
        tern_err err = tern_kafka_poll(c, SLICE_MS, &m);
        now = tern_clock_ns();
        if (err == TERN_OK) {
            print_record(conf, &m);
            last = now;
            if (conf->count > 0 && ++got >= (uint64_t)conf->count)
                break;
        } else if (err == TERN_EUNAVAILABLE || err == TERN_ECONNREFUSED ||
                   err == TERN_EHOSTUNREACH) {
            /* A broker away: say so now and then, and keep trying. */
            if (warned == 0 || now - warned >= COMMIT_EVERY_NS) {
                cli_note(cmd, "%s (retrying)", tern_kafka_last_error(k));
                warned = now;
            }
        } else if (err != TERN_ETIMEDOUT) {
            return cli_kafka_fail(cmd, k);
        }
        /* Flush when idle, and at least every SLICE_MS while busy. */
        if (err != TERN_OK || now - flushed >= SLICE_MS * NS_PER_MS) {
            int rc = cli_flush(cmd);
            if (rc != CLI_CONTINUE)
                return rc;
            flushed = now;
        }
        if (conf->group && now - committed >= COMMIT_EVERY_NS) {
            if (tern_kafka_commit(c) != TERN_OK)
                cli_note(cmd, "%s (will retry)", tern_kafka_last_error(k));
            committed = now;
        }
        if (idle_ns && now - last >= idle_ns) {
            (void)cli_flush(cmd);
            cli_note(cmd, "nothing arrived for %s s", conf->timeout);
            return CLI_EXIT_TIMEOUT;
        }
    }
    return CLI_CONTINUE;
}

static int consume_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct consume_conf conf = {.partition = -1};
    int nargs;
    int rc = cli_parse(cmd, consume_opts, 1, &conf, argc, argv, &nargs);
    if (rc != CLI_CONTINUE)
        return rc;
    if (nargs != 1)
        return cli_usage_error(cmd, "consume takes one TOPIC");
    uint64_t idle_ns = 0;
    if (conf.timeout) {
        char *end;
        errno = 0;
        double s = strtod(conf.timeout, &end);
        if (errno || end == conf.timeout || *end || !(s > 0) || s > 1e6)
            return cli_usage_error(cmd, "--timeout wants a number of seconds, not '%s'",
                                   conf.timeout);
        idle_ns = (uint64_t)(s * 1e9);
    }
    if (conf.assignor && !conf.group)
        return cli_usage_error(cmd, "--assignor goes with --group");
    int sigfd = cli_signals_start();
    if (sigfd < 0)
        return cli_fail_errno(cmd, "cannot watch for signals");
    tern_kafka *k = NULL;
    tern_kafka_consumer *c = NULL;
    rc = cli_kafka_open(cmd, cli_kafka_brokers(conf.brokers), &k);
    if (rc == CLI_CONTINUE)
        rc = start(cmd, &conf, k, argv[1], &c);
    if (rc == CLI_CONTINUE)
        rc = loop(cmd, &conf, k, c, idle_ns);
    int frc = cli_flush(cmd);
    if (rc == CLI_CONTINUE)
        rc = frc == CLI_CONTINUE ? CLI_EXIT_OK : frc;
    /* Commits the group's offsets and leaves it. */
    if (c && tern_kafka_consumer_close(c) != TERN_OK) {
        cli_kafka_fail(cmd, k);
        if (rc == CLI_EXIT_OK || rc == CLI_EXIT_TIMEOUT)
            rc = CLI_EXIT_FAIL;
    }
    tern_kafka_close(k);
    return rc;
}

const struct cli_cmd cli_cmd_consume = {
    .name = "consume",
    .summary = "print the records of a Kafka topic",
    .run = consume_run,
    .usage = consume_usage,
};
