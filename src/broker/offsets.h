/* The committed-offset store of the group coordinator: the last offset
 * each group committed for each partition, kept in memory (hashed by
 * group, then by topic and partition) and in dir/offsets.log.
 *
 * offsets.log is append-only, a sequence of records (big-endian):
 *
 *   u32 length of the payload
 *   u32 crc32c of the payload
 *   payload: u8 kind
 *     kind 0, a commit: u16 len + group, u16 len + topic, i32 partition,
 *                       i64 offset, i32 leader epoch, u16 len + metadata
 *     kind 1, a dropped topic: u16 len + topic
 *
 * Replay on open applies the records in order (the last write wins) and
 * stops at the first torn or corrupt one, cutting the file there. When the
 * file grows past four times the size of its live records it is rewritten
 * with the live records only (offsets.log.tmp, synced, renamed over).
 *
 * Invariant: what tn_offsets_get reports is in the file, and synced when
 * the store syncs; a write that fails changes neither.
 *
 * Single-threaded, like the coordinator that owns it. */
#ifndef TN_BROKER_OFFSETS_H
#define TN_BROKER_OFFSETS_H

#include <stdint.h>

#include "broker/disk.h"
#include "kafka/codec.h"
#include "tern/base.h"

/* Group, topic and metadata are u16-length strings in the file. */
#define TN_OFFSETS_MAX_STR 65535

typedef struct tn_offsets tn_offsets;

/* Opens (creating the directory and file if missing) and replays
 * dir/offsets.log. sync: fdatasync every write before it counts. */
tern_err tn_offsets_open(const tn_disk *disk, const char *dir, int sync, tn_offsets **out);
void tn_offsets_close(tn_offsets *o);

/* Queues one commit for the next tn_offsets_write; it is not visible
 * before. TERN_EINVAL if a string is longer than TN_OFFSETS_MAX_STR or the
 * group is empty. */
tern_err tn_offsets_stage(tn_offsets *o, tn_kstr group, tn_kstr topic, int32_t partition,
                          int64_t offset, int32_t leader_epoch, tn_kstr metadata);
/* Appends every staged commit in one write (then fdatasync when syncing)
 * and only then makes them visible. On failure none is visible and the
 * file is cut back to where it was; if even that fails, the store refuses
 * every later write until reopened. */
tern_err tn_offsets_write(tn_offsets *o);

/* 1 and the values (metadata points into the store, valid until the next
 * write) if the group committed an offset for the partition, else 0. */
int tn_offsets_get(tn_offsets *o, tn_kstr group, tn_kstr topic, int32_t partition, int64_t *offset,
                   int32_t *leader_epoch, tn_kstr *metadata);
void tn_offsets_each(tn_offsets *o, tn_kstr group,
                     void (*fn)(void *arg, tn_kstr topic, int32_t partition, int64_t offset,
                                int32_t leader_epoch, tn_kstr metadata),
                     void *arg);
/* Whether the group has any committed offset. */
int tn_offsets_has_group(tn_offsets *o, tn_kstr group);

/* Forgets every group's offsets for the topic, durably (a tombstone
 * record). The memory forgets them even if the write fails: the next
 * compaction then makes it durable. */
tern_err tn_offsets_drop_topic(tn_offsets *o, tn_kstr topic);

#endif
