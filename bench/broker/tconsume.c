/* Consume throughput through tern's own Kafka client (include/tern/kafka.h),
 * beside kbench's librdkafka figure: with 100-byte records librdkafka's one
 * consumer thread is the limit, not the broker, and this says how fast the
 * broker serves a client that is not.
 *
 *   tconsume --brokers H:P --topic T --size S --expect M [--passes K] [--json]
 *
 * Reads partition 0 from the beginning, K times in one client (default 2),
 * reporting the last pass (after the first, the broker serves it from the
 * page cache), with the client's default fetch sizes. A pass is timed
 * from its assignment to the last expected record; every record must have
 * the next offset, S bytes, and its offset as sequence number (the first 8
 * bytes, big-endian, as kbench writes them). Prints one line: key=value, or
 * a JSON object with --json. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/kafka.h"

const char bk_prog[] = "tconsume";

#define IDLE_MS 30000

static double consume_pass(tern_kafka_consumer *c, const char *topic, unsigned long size,
                           uint64_t expect)
{
    tern_kafka_tp tp = {topic, 0};
    uint64_t got = 0, t0 = bk_now_ns(), last = t0;
    tern_err err = tern_kafka_assign(c, &tp, 1, TERN_KAFKA_EARLIEST);
    if (err != TERN_OK)
        bk_die("assign: %s", tern_strerror(err));
    while (got < expect) {
        tern_kafka_message m;
        err = tern_kafka_poll(c, 1000, &m);
        if (err == TERN_ETIMEDOUT) {
            if (bk_now_ns() - last > (uint64_t)IDLE_MS * 1000000u)
                bk_die("no record for %d s, %" PRIu64 " of %" PRIu64 " read", IDLE_MS / 1000, got,
                       expect);
            continue;
        }
        if (err != TERN_OK)
            bk_die("poll: %s", tern_strerror(err));
        if (got % 65536 == 0) /* idle time is counted in seconds; no clock per record */
            last = bk_now_ns();
        if (m.offset != (int64_t)got)
            bk_die("offset %" PRId64 " where %" PRIu64 " was next", m.offset, got);
        if (m.value_len != size || !m.value || bk_get_be(m.value, 8) != got)
            bk_die("record at offset %" PRIu64 " has %zu bytes, sequence %" PRIu64, got,
                   m.value_len, m.value && m.value_len >= 8 ? bk_get_be(m.value, 8) : 0);
        got++;
    }
    return (double)(bk_now_ns() - t0) / 1e9;
}

static const char usage_text[] =
    "usage: tconsume --brokers H:P --topic T --size S --expect M [--passes K] [--json]\n";

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL;
    unsigned long size = 0, expect = 0, passes = 2;
    int json = 0;
    const struct bk_opt opts[] = {
        {"--brokers", BK_STR, &brokers, 0},     {"--topic", BK_STR, &topic, 0},
        {"--size", BK_COUNT, &size, 1ul << 30}, {"--expect", BK_COUNT, &expect, ~0ul},
        {"--passes", BK_COUNT, &passes, 100},   {"--json", BK_FLAG, &json, 0},
    };
    bk_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof opts[0], usage_text);
    if (!brokers || !topic || size < 8 || !expect)
        bk_usage(usage_text, 2);

    tern_kafka_opts ko;
    tern_kafka_opts_init(&ko);
    ko.brokers = brokers;
    tern_kafka *k;
    tern_err err = tern_kafka_open(&ko, &k);
    if (err != TERN_OK)
        bk_die("open: %s", tern_strerror(err));
    tern_kafka_consumer_opts co;
    tern_kafka_consumer_opts_init(&co);
    tern_kafka_consumer *c;
    if ((err = tern_kafka_consumer_open(k, &co, &c)) != TERN_OK)
        bk_die("consumer: %s (%s)", tern_strerror(err), tern_kafka_last_error(k));

    double secs = 0, first = 0, cpu = 0;
    for (unsigned long i = 0; i < passes; i++) {
        double cpu0 = bk_cpu_s();
        secs = consume_pass(c, topic, size, expect);
        cpu = bk_cpu_s() - cpu0;
        if (i == 0)
            first = secs;
    }
    bk_consume_line(json, "tern", size, expect, passes, first, secs, cpu);
    tern_kafka_consumer_close(c);
    tern_kafka_close(k);
    return 0;
}
