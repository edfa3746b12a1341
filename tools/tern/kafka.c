/* The Kafka commands' shared pieces. */
#include "kafka.h"

#include <stdlib.h>

const char *cli_kafka_brokers(const char *flag)
{
    if (flag)
        return flag;
    const char *env = getenv("TERN_BROKERS");
    return env && env[0] ? env : "localhost:9092";
}

int cli_kafka_open(const struct cli_cmd *cmd, const char *brokers, tern_kafka **k)
{
    tern_kafka_opts o;
    tern_kafka_opts_init(&o);
    o.brokers = brokers;
    o.client_id = "tern-cli";
    if (tern_kafka_open(&o, k) != TERN_OK) {
        cli_note(cmd, "%s", tern_kafka_last_error(NULL));
        return CLI_EXIT_FAIL;
    }
    return CLI_CONTINUE;
}

int cli_kafka_fail(const struct cli_cmd *cmd, const tern_kafka *k)
{
    cli_note(cmd, "%s", tern_kafka_last_error(k));
    return CLI_EXIT_FAIL;
}
