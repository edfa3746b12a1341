/* tern broker: a Kafka-protocol broker with an append-only log
 * (docs/broker.md). Kafka clients (librdkafka, kcat, the Java client)
 * produce to and consume from it unmodified.
 *
 * One broker runs on one I/O thread of its own plus a sync thread that
 * fdatasyncs the logs for everyone at once (group commit). */
#ifndef TERN_BROKER_H
#define TERN_BROKER_H

#include <stdint.h>

#include "tern/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_broker tern_broker;

typedef enum tern_fsync {
    /* Every produce is synced before it is answered, whatever its acks
     * (acks=0 is never answered); concurrent produces share syncs. */
    TERN_FSYNC_ALWAYS = 0,
    /* Syncs run back to back while there is unsynced data; only acks=all
     * waits for them. The default. */
    TERN_FSYNC_BATCH = 1,
    /* A sync every fsync_interval_ms; acks=all waits for the next one. */
    TERN_FSYNC_INTERVAL = 2,
    /* Never synced by the broker (the kernel writes back); acks=all is
     * answered once the data is in the log. */
    TERN_FSYNC_NEVER = 3,
} tern_fsync;

typedef struct tern_broker_opts {
    const char *data_dir;  /* default "./tern-data" */
    const char *listen;    /* HOST:PORT, default "0.0.0.0:9092"; port 0 picks one */
    const char *advertise; /* HOST:PORT clients are told to use; NULL: the address
                              each client connected to */
    tern_fsync fsync;
    uint32_t fsync_interval_ms; /* TERN_FSYNC_INTERVAL; default 1000 */
    int auto_create_topics;     /* default 1 */
    int32_t default_partitions; /* for auto-created topics; default 1 */
    uint64_t segment_bytes;     /* default 1 GiB */
    int64_t segment_ms;         /* default 7 days */
    int64_t retention_bytes;    /* per partition; -1 unlimited (default) */
    int64_t retention_ms;       /* default 7 days; -1 unlimited */
    uint32_t max_request_bytes; /* default 100 MiB */
    uint32_t max_batch_bytes;   /* largest record batch; default 1 MiB + 12 */
    /* How long an empty group waits after its first join for more members
     * before the first generation starts (Kafka's
     * group.initial.rebalance.delay.ms, 3000 there); default 300. */
    int32_t group_initial_delay_ms;
    int log_stderr;             /* print startup, recovery and refusal lines on stderr */
} tern_broker_opts;

TERN_API void tern_broker_opts_init(tern_broker_opts *opts);
/* Opens the data directory (recovering every log in it), binds and starts
 * serving. TERN_EADDRINUSE, TERN_EPERM, TERN_ECORRUPT ... with the reason
 * in tern_broker_last_error(). */
TERN_API tern_err tern_broker_start(const tern_broker_opts *opts, tern_broker **out);
/* The bound port (useful with port 0). */
TERN_API uint16_t tern_broker_port(const tern_broker *b);
/* Stops serving, syncs every log and closes. */
TERN_API void tern_broker_stop(tern_broker *b);
/* The sentence explaining the last failed tern_broker_start on this thread. */
TERN_API const char *tern_broker_last_error(void);
/* Parses "always", "batch", "interval=MS", "never". */
TERN_API tern_err tern_fsync_parse(const char *s, tern_fsync *mode, uint32_t *interval_ms);

#ifdef __cplusplus
}
#endif
#endif
