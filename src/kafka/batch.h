/* Kafka record batches, message format v2 (magic 2): the unit the broker
 * stores, indexes and serves, byte for byte as the producer sent it.
 *
 *   0  baseOffset int64          21 attributes int16      51 producerEpoch int16
 *   8  batchLength int32         23 lastOffsetDelta int32 53 baseSequence int32
 *  12  partitionLeaderEpoch int32 27 baseTimestamp int64  57 records count int32
 *  16  magic int8                35 maxTimestamp int64    61 records ...
 *  17  crc uint32 (CRC32C of bytes 21..end) 43 producerId int64
 *
 * batchLength counts the bytes after itself, so a batch is 12 + batchLength
 * bytes. baseOffset and partitionLeaderEpoch are outside the CRC: the broker
 * rewrites the base offset when it appends. */
#ifndef TN_KAFKA_BATCH_H
#define TN_KAFKA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kafka/codec.h"
#include "tern/base.h"

#define TN_BATCH_HEADER 61
#define TN_BATCH_LENGTH_MIN (TN_BATCH_HEADER - 12)

/* attributes */
#define TN_BATCH_COMPRESSION 0x07 /* 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd */
#define TN_BATCH_LOG_APPEND_TIME 0x08
#define TN_BATCH_TRANSACTIONAL 0x10
#define TN_BATCH_CONTROL 0x20

typedef struct tn_batch {
    int64_t base_offset;
    int32_t length; /* batchLength: bytes after this field */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t count;
} tn_batch;

static inline size_t tn_batch_size(const tn_batch *b)
{
    return 12 + (size_t)b->length;
}

/* Parses the header of the batch at p (n bytes available). TERN_EAGAIN:
 * fewer than the whole batch's bytes are there (a truncated tail);
 * TERN_EPROTO: not a v2 batch or impossible fields (length below the
 * header, above max_size, a negative record count or offset delta, count
 * not lastOffsetDelta + 1). Does not check the CRC. */
tern_err tn_batch_parse(const uint8_t *p, size_t n, size_t max_size, tn_batch *b);
/* The same checks on the TN_BATCH_HEADER bytes at hdr alone, for walking a
 * file header by header: EPROTO as above, never EAGAIN. */
tern_err tn_batch_parse_header(const uint8_t *hdr, size_t max_size, tn_batch *b);
/* Whether the stored CRC matches bytes 21..end of a parsed batch. */
int tn_batch_crc_ok(const uint8_t *p, const tn_batch *b);
void tn_batch_set_base_offset(uint8_t *p, int64_t base);

/* One record of an uncompressed batch. Pointers are into the batch. */
typedef struct tn_record {
    int64_t offset;
    int64_t timestamp;
    tn_kstr key;   /* len < 0: null */
    tn_kstr value; /* len < 0: null */
    int32_t header_count;
    const uint8_t *headers; /* header_count encoded headers */
    size_t headers_len;
} tn_record;

typedef struct tn_record_iter {
    tn_kr r;
    const tn_batch *b;
    int32_t left;
} tn_record_iter;

/* Iterates the records of an uncompressed, parsed batch. next returns 1
 * with a record, 0 at the end, -1 on malformed records. */
void tn_record_iter_init(tn_record_iter *it, const uint8_t *p, const tn_batch *b);
int tn_record_iter_next(tn_record_iter *it, tn_record *rec);

/* Whether an uncompressed batch's records really are what its header
 * says: count records, offset deltas 0, 1, 2 ... in order, every byte
 * accounted for. Compressed batches pass (they are stored as sent). */
int tn_batch_records_ok(const uint8_t *p, const tn_batch *b);

/* What a producer puts in a batch. */
typedef struct tn_record_in {
    const void *key;
    int32_t key_len; /* < 0: null key */
    const void *value;
    int32_t value_len; /* < 0: null value */
} tn_record_in;

/* Appends one uncompressed v2 batch of n records (base offset 0, CRC
 * filled in) to w. producer_id -1 for a non-idempotent producer. */
void tn_batch_build(tn_kw *w, const tn_record_in *recs, size_t n, int64_t timestamp_ms,
                    int64_t producer_id, int16_t producer_epoch, int32_t base_sequence);

#endif
