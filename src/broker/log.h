/* One partition's log (docs/broker.md): a directory of segment files, each
 * named by the offset of its first record (00000000000000000042.log) and
 * holding whole v2 record batches exactly as producers sent them, with the
 * base offset filled in. Beside each segment a sparse offset index (.index:
 * pairs of uint32 offset-relative-to-segment and uint32 file position, one
 * every index_bytes) and a time index (.timeindex: int64 max timestamp,
 * uint32 relative offset).
 *
 * Invariants: offsets are dense and increasing across segments; every
 * batch in a segment passed its CRC32C when it was appended; after open()
 * every segment ends on a whole, valid batch (a torn tail is truncated
 * away); only the last (active) segment is ever written.
 *
 * A log belongs to one thread (the broker's loop). Syncing is split so it
 * can run elsewhere: tn_log_sync_take hands out dup()ed descriptors of the
 * files with unsynced bytes, any thread fdatasyncs them, and
 * tn_log_sync_done (back on the owner) advances the durable offset. */
#ifndef TN_BROKER_LOG_H
#define TN_BROKER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "broker/disk.h"
#include "tern/base.h"

typedef struct tn_log tn_log;

typedef struct tn_log_conf {
    uint64_t segment_bytes;   /* roll before a segment would pass this (default 1 GiB) */
    int64_t segment_ms;       /* roll when the active segment is older (default 7 days) */
    int64_t retention_bytes;  /* -1: unlimited (default) */
    int64_t retention_ms;     /* -1: unlimited; default 7 days */
    uint32_t index_bytes;     /* an index entry every this many bytes (default 4096) */
    uint32_t max_batch_bytes; /* largest batch accepted (default 1 MiB + 12) */
} tn_log_conf;

void tn_log_conf_default(tn_log_conf *c);

/* What open() found and repaired. */
typedef struct tn_log_recovery {
    uint32_t segments;
    uint64_t truncated_bytes; /* torn or corrupt tail cut from the last segment */
    uint32_t indexes_rebuilt;
} tn_log_recovery;

/* Opens (creating the directory if needed) and recovers a log. rec may be
 * NULL. Errors carry a sentence in tern_last_error-style text via trace. */
tern_err tn_log_open(const tn_disk *disk, const char *dir, const tn_log_conf *conf, tn_log **out,
                     tn_log_recovery *rec);
void tn_log_close(tn_log *log);
/* Closes and deletes every file and the directory. */
tern_err tn_log_destroy(tn_log *log);

typedef struct tn_log_append {
    int64_t base_offset; /* offset given to the first record */
    int64_t log_start;
    int16_t error_code; /* Kafka error code when the append is refused */
    int duplicate;      /* an idempotent retry: nothing written, base_offset is the original */
} tn_log_append;

/* Validates every batch in buf (len bytes: one or more whole v2 batches),
 * checks idempotent-producer sequences, assigns offsets (rewriting the
 * base offsets in buf) and writes them at the end of the active segment,
 * rolling first if needed. All or nothing: on any error nothing is
 * appended and the log is unchanged (a failed write is truncated back).
 * Errors: TERN_ECORRUPT (a CRC mismatch: CORRUPT_MESSAGE), TERN_EPROTO
 * (malformed: CORRUPT_MESSAGE), TERN_EMSGSIZE (MESSAGE_TOO_LARGE), TERN_ESTATE
 * (producer sequence or epoch: OUT_OF_ORDER_SEQUENCE_NUMBER or
 * INVALID_PRODUCER_EPOCH), TERN_ENOSPC / TERN_ESYSTEM (KAFKA_STORAGE_ERROR);
 * res->error_code always says which Kafka code fits. */
tern_err tn_log_append_batches(tn_log *log, uint8_t *buf, size_t len, int64_t now_ms,
                               tn_log_append *res);

int64_t tn_log_start_offset(const tn_log *log);
int64_t tn_log_end_offset(const tn_log *log);     /* the next offset to be assigned */
int64_t tn_log_durable_offset(const tn_log *log); /* every offset below is fsynced */

/* A run of whole batches in one segment file, for pread or sendfile. */
typedef struct tn_log_slice {
    int fd;
    uint64_t pos;
    uint32_t len;
} tn_log_slice;

/* The batches starting with the one holding offset, up to max_bytes (but
 * always at least that whole first batch) and not past end_limit.
 * len == 0 when offset == end offset. TERN_ENOENT: offset outside
 * [start, end] (OFFSET_OUT_OF_RANGE). */
tern_err tn_log_read(tn_log *log, int64_t offset, uint32_t max_bytes, tn_log_slice *s);
/* The first offset whose batch's max timestamp is >= ts; the end offset
 * if there is none. */
int64_t tn_log_offset_for_time(tn_log *log, int64_t ts);

/* Deletes whole non-active segments beyond the retention limits (by bytes,
 * then by the newest timestamp in the segment versus now_ms), and rolls an
 * active segment older than segment_ms. Returns the number deleted. */
int tn_log_retain(tn_log *log, int64_t now_ms);

/* Files with unsynced bytes, as dup()ed descriptors (at most max; the
 * caller closes them), and the end offset they cover. 0 when durable; -1
 * (errno set) when not even one descriptor could be duplicated. */
int tn_log_sync_take(tn_log *log, int *fds, int max, int64_t *upto);
/* After every taken fd was fdatasynced: offsets below upto are durable. */
void tn_log_sync_done(tn_log *log, int64_t upto);
/* Synchronous: fdatasync whatever is unsynced, on this thread. */
tern_err tn_log_sync(tn_log *log);

/* The producer state kept for idempotent producers (rebuilt from the
 * batch headers on open): the last five batches of each producer id. */
int tn_log_producer_count(const tn_log *log);

#endif
