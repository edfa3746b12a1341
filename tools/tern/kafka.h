/* What tern topic, produce and consume share: where the cluster is and
 * opening a client to it. */
#ifndef TERN_CLI_KAFKA_H
#define TERN_CLI_KAFKA_H

#include "cli.h"

/* The help line of each command's --brokers flag. */
#define CLI_KAFKA_BROKERS_HELP                                                                     \
    "brokers to bootstrap from (default\n$TERN_BROKERS, else localhost:9092)"

/* flag if given, else $TERN_BROKERS if set, else "localhost:9092". */
const char *cli_kafka_brokers(const char *flag);
/* Opens a client with the default timeout. Returns CLI_CONTINUE, or
 * CLI_EXIT_FAIL once the reason is printed ("tern topic: cannot reach
 * broker localhost:9092: connection refused"). */
int cli_kafka_open(const struct cli_cmd *cmd, const char *brokers, tern_kafka **k);
/* Prints k's last error as the command's; returns CLI_EXIT_FAIL. */
int cli_kafka_fail(const struct cli_cmd *cmd, const tern_kafka *k);

#endif
