/* tern produce: each line of stdin becomes a record of a Kafka topic.
 * Lines are gathered while more are at hand and sent together, up to
 * about 1 MiB at a time, so a pipe is sent in large batches and a person
 * typing sees each line go at once. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"

#define FLUSH_BYTES (1u << 20)
#define READ_CHUNK 65536

struct produce_conf {
    const char *brokers, *acks, *key, *separator;
    int64_t partition;
};

static const struct cli_opt produce_opts[] = {
    {"brokers", 'b', CLI_STR, offsetof(struct produce_conf, brokers), 1, "HOST:PORT[,..]",
     CLI_KAFKA_BROKERS_HELP, 0, 0},
    {"acks", 'a', CLI_STR, offsetof(struct produce_conf, acks), 1, "0|1|all",
     "0: do not wait; 1: the leader has it;\nall: every in-sync replica has it (default)", 0, 0},
    {"key", 'k', CLI_STR, offsetof(struct produce_conf, key), 1, "KEY", "every record's key", 0, 0},
    {"key-separator", 's', CLI_STR, offsetof(struct produce_conf, separator), 1, "SEP",
     "each line is KEY SEP VALUE (a line without\nSEP has no key)", 0, 0},
    {"partition", 'p', CLI_INT, offsetof(struct produce_conf, partition), 1, "N",
     "write to partition N (default: by key, and\nkeyless lines spread over the partitions)", 0,
     INT32_MAX},
    {0},
};

static void produce_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern produce TOPIC [--acks 0|1|all] [--key KEY | --key-separator SEP]\n"
          "                    [--partition N]\n\n"
          "Sends each line of stdin (newline stripped) as a record to TOPIC of a Kafka\n"
          "cluster: tern broker, or Kafka itself. A keyed record goes to the partition\n"
          "the Java client would choose. At the end, a line on stderr says how many\n"
          "records went where, and their offsets. SIGINT or SIGTERM sends what was\n"
          "read and stops.\n\n"
          "flags:\n",
          out);
    cli_opts_usage(out, produce_opts, 1);
    fputs("\nexit status: 0 every record acknowledged, 1 a failure, 2 usage error.\n", out);
}

/* One line waiting to be sent: offsets into the input buffer, which may
 * move until the send. */
struct line {
    size_t key, key_len; /* key_len SIZE_MAX: no key */
    size_t value, value_len;
};

/* Offsets acknowledged per partition, for the summary. */
struct span {
    int32_t partition;
    int64_t first, last;
    uint64_t count;
};

struct producer {
    const struct cli_cmd *cmd;
    const struct produce_conf *conf;
    tern_kafka *k;
    const char *topic;
    int acks;
    char *buf;
    size_t len, cap, scan; /* bytes read; bytes already split into lines */
    struct line *lines;
    size_t nlines, linecap;
    size_t pending; /* bytes in the lines */
    tern_kafka_record *recs;
    struct span *spans;
    size_t nspans;
    uint64_t sent;
};

static int add_line(struct producer *p, size_t start, size_t len)
{
    if (p->nlines == p->linecap) {
        size_t cap = p->linecap ? 2 * p->linecap : 1024;
        struct line *l = realloc(p->lines, cap * sizeof *l);
        tern_kafka_record *r = realloc(p->recs, cap * sizeof *r);
        if (l)
            p->lines = l;
        if (r)
            p->recs = r;
        if (l == NULL || r == NULL)
            return cli_fail(p->cmd, TERN_ENOMEM, "cannot buffer the input");
        p->linecap = cap;
    }
    struct line *l = &p->lines[p->nlines++];
    *l = (struct line){0, SIZE_MAX, start, len};
    const char *sep = p->conf->separator;
    if (sep && sep[0]) {
        size_t sl = strlen(sep);
        const char *at = memmem(p->buf + start, len, sep, sl);
        if (at) {
            size_t klen = (size_t)(at - (p->buf + start));
            *l = (struct line){start, klen, start + klen + sl, len - klen - sl};
        }
    }
    p->pending += len;
    return CLI_CONTINUE;
}

static void count(struct producer *p, const tern_kafka_record *r)
{
    struct span *s = NULL;
    for (size_t i = 0; i < p->nspans && !s; i++) {
        if (p->spans[i].partition == r->partition)
            s = &p->spans[i];
    }
    if (s == NULL) {
        struct span *g = realloc(p->spans, (p->nspans + 1) * sizeof *g);
        if (g == NULL)
            return; /* the summary misses a partition; the records went */
        p->spans = g;
        s = &p->spans[p->nspans++];
        *s = (struct span){r->partition, r->offset, r->offset, 0};
    }
    if (r->offset >= 0 && (s->first < 0 || r->offset < s->first))
        s->first = r->offset;
    if (r->offset > s->last)
        s->last = r->offset;
    s->count++;
}

/* Sends the lines gathered so far. */
static int flush_lines(struct producer *p)
{
    if (p->nlines == 0)
        return CLI_CONTINUE;
    const char *key = p->conf->key;
    for (size_t i = 0; i < p->nlines; i++) {
        const struct line *l = &p->lines[i];
        tern_kafka_record *r = &p->recs[i];
        memset(r, 0, sizeof *r);
        if (key) {
            r->key = key;
            r->key_len = strlen(key);
        } else if (l->key_len != SIZE_MAX) {
            r->key = p->buf + l->key;
            r->key_len = l->key_len;
        }
        r->value = p->buf + l->value;
        r->value_len = l->value_len;
        r->partition =
            p->conf->partition >= 0 ? (int32_t)p->conf->partition : TERN_KAFKA_ANY_PARTITION;
    }
    tern_err err = tern_kafka_produce(p->k, p->topic, p->acks, p->recs, p->nlines);
    for (size_t i = 0; i < p->nlines; i++) {
        if (p->recs[i].err == TERN_OK) {
            count(p, &p->recs[i]);
            p->sent++;
        }
    }
    /* Drop the sent lines' bytes. */
    memmove(p->buf, p->buf + p->scan, p->len - p->scan);
    p->len -= p->scan;
    p->scan = 0;
    p->nlines = 0;
    p->pending = 0;
    return err == TERN_OK ? CLI_CONTINUE : cli_kafka_fail(p->cmd, p->k);
}

/* Splits what was read into lines; at eof the last line may lack its
 * newline. */
static int split(struct producer *p, bool eof)
{
    for (;;) {
        char *start = p->buf + p->scan;
        size_t avail = p->len - p->scan;
        char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl == NULL && !(eof && avail > 0))
            return CLI_CONTINUE;
        size_t len = nl ? (size_t)(nl - start) : avail;
        int rc = add_line(p, p->scan, len);
        if (rc != CLI_CONTINUE)
            return rc;
        p->scan += len + (nl != NULL);
        if (p->pending >= FLUSH_BYTES) {
            rc = flush_lines(p);
            if (rc != CLI_CONTINUE)
                return rc;
        }
    }
}

static void summary(const struct producer *p)
{
    if (p->acks == 0) {
        cli_note(p->cmd, "%llu records sent to %s (acks=0: no offsets)",
                 (unsigned long long)p->sent, p->topic);
        return;
    }
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line, "%llu records to %s",
                                (unsigned long long)p->sent, p->topic);
    for (size_t i = 0; i < p->nspans && n < sizeof line; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%s partition %ld offsets %lld-%lld",
                              i ? "," : ":", (long)p->spans[i].partition,
                              (long long)p->spans[i].first, (long long)p->spans[i].last);
    cli_note(p->cmd, "%s", line);
}

/* Reads stdin to its end (or a signal), sending as it goes. */
static int pump(struct producer *p, int sigfd)
{
    for (;;) {
        struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = sigfd, .events = POLLIN}};
        /* Lines in hand and nothing more to read right now: send them. */
        int n = poll(fds, 2, p->nlines > 0 ? 0 : -1);
        if (n < 0 && errno != EINTR)
            return cli_fail_errno(p->cmd, "cannot wait for stdin");
        if (cli_stop_requested())
            return split(p, true) == CLI_CONTINUE ? flush_lines(p) : CLI_EXIT_FAIL;
        if (n == 0) {
            int rc = flush_lines(p);
            if (rc != CLI_CONTINUE)
                return rc;
            continue;
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (p->cap - p->len < READ_CHUNK) {
            size_t cap = p->cap ? 2 * p->cap : 4 * READ_CHUNK;
            char *b = realloc(p->buf, cap);
            if (b == NULL)
                return cli_fail(p->cmd, TERN_ENOMEM, "cannot buffer the input");
            p->buf = b;
            p->cap = cap;
        }
        ssize_t got = read(STDIN_FILENO, p->buf + p->len, p->cap - p->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return cli_fail_errno(p->cmd, "cannot read stdin");
        p->len += (size_t)got;
        int rc = split(p, got == 0);
        if (rc != CLI_CONTINUE)
            return rc;
        if (got == 0)
            return flush_lines(p);
    }
}

static int produce_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct produce_conf conf = {.acks = "all", .partition = -1};
    int nargs;
    int rc = cli_parse(cmd, produce_opts, 1, &conf, argc, argv, &nargs);
    if (rc != CLI_CONTINUE)
        return rc;
    if (nargs != 1)
        return cli_usage_error(cmd, "produce takes one TOPIC");
    if (conf.key && conf.separator)
        return cli_usage_error(cmd, "--key and --key-separator do not go together");
    if (conf.separator && conf.separator[0] == '\0')
        return cli_usage_error(cmd, "--key-separator wants at least one character");
    int acks;
    if (strcmp(conf.acks, "0") == 0)
        acks = TERN_KAFKA_ACKS_NONE;
    else if (strcmp(conf.acks, "1") == 0)
        acks = TERN_KAFKA_ACKS_LEADER;
    else if (strcmp(conf.acks, "all") == 0 || strcmp(conf.acks, "-1") == 0)
        acks = TERN_KAFKA_ACKS_ALL;
    else
        return cli_usage_error(cmd, "--acks wants 0, 1 or all, not '%s'", conf.acks);
    int sigfd = cli_signals_start();
    if (sigfd < 0)
        return cli_fail_errno(cmd, "cannot watch for signals");
    struct producer p = {.cmd = cmd, .conf = &conf, .topic = argv[1], .acks = acks};
    rc = cli_kafka_open(cmd, cli_kafka_brokers(conf.brokers), &p.k);
    if (rc == CLI_CONTINUE) {
        rc = pump(&p, sigfd);
        if (rc == CLI_CONTINUE)
            rc = CLI_EXIT_OK;
        summary(&p);
    }
    tern_kafka_close(p.k);
    free(p.buf);
    free(p.lines);
    free(p.recs);
    free(p.spans);
    return rc;
}

const struct cli_cmd cli_cmd_produce = {
    .name = "produce",
    .summary = "send lines of stdin to a Kafka topic",
    .run = produce_run,
    .usage = produce_usage,
};
