/* One segment of a log (see log.h for the files): the .log file of whole
 * batches, its sparse offset and time indexes, and the in-memory copy of
 * both. Internal to log.c, which keeps the segments in order and decides
 * when to roll, retain and sync. */
#ifndef TN_BROKER_SEGMENT_H
#define TN_BROKER_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/disk.h"
#include "kafka/batch.h"
#include "tern/base.h"

#define TN_SEG_INDEX_ENTRY 8      /* uint32 relative offset, uint32 position */
#define TN_SEG_TIMEINDEX_ENTRY 12 /* int64 timestamp, uint32 relative offset */

/* One index entry: the batch starting at offset base + rel is at pos, and
 * every batch before it has timestamps <= ts (the time index's "max
 * timestamp so far"). rel and pos increase from entry to entry; ts never
 * decreases. The first batch (position 0) needs no entry. */
typedef struct tn_seg_entry {
    uint32_t rel;
    uint32_t pos;
    int64_t ts;
} tn_seg_entry;

typedef struct tn_segment {
    int64_t base;
    int64_t next;       /* offset after the last batch */
    uint64_t size;      /* bytes of whole batches */
    int64_t max_ts;     /* newest batch timestamp; INT64_MIN when empty */
    int64_t first_ms;   /* what its age counts from; INT64_MIN until a batch is in */
    int fd;             /* .log */
    int ifd, tfd;       /* .index, .timeindex: -1 unless the segment is active */
    uint64_t entry_pos; /* position of the newest index entry (0: none) */
    tn_seg_entry *idx;
    uint32_t nidx, cap_idx;
    int64_t dirty_end; /* end offset after the newest unsynced write; -1: synced */
} tn_segment;

/* dir/%020lld.ext into buf; -1 (ENAMETOOLONG) if it does not fit. */
int tn_seg_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext);
/* Creates the three files of a new, empty, active segment. */
tern_err tn_seg_create(const tn_disk *d, const char *dir, int64_t base, tn_segment *s);
/* Opens an existing segment's files (creating missing indexes); *file_size
 * is the .log's size. Nothing is read yet: tn_seg_scan does that. */
tern_err tn_seg_open(const tn_disk *d, const char *dir, int64_t base, tn_segment *s,
                     uint64_t *file_size);
void tn_seg_close(tn_segment *s);
/* Closes the index files once the segment stops being the active one. */
void tn_seg_deactivate(tn_segment *s);
/* Removes the files, .log first (an index without its log is ignored by
 * open and overwritten by create). -1 with errno if the .log stays. */
int tn_seg_unlink(const tn_disk *d, const char *dir, int64_t base);

/* Called for each batch a scan accepts; nonzero stops the scan with
 * TERN_ENOMEM. */
typedef int (*tn_seg_visit)(void *arg, const tn_batch *b);

/* A scratch buffer for whole batches. */
typedef struct tn_seg_buf {
    uint8_t *p;
    size_t cap;
} tn_seg_buf;

/* Walks the .log from the start, batch header by batch header, rebuilding
 * the in-memory state (index, next, size, timestamps) of the batches that
 * are whole, well formed, numbered contiguously from base and, when
 * check_crc, pass their CRC; the walk stops at the first that is not.
 * s->size is then the valid length, file_size - s->size what follows it.
 * Errors: a read failure (TERN_ESYSTEM) or memory. */
tern_err tn_seg_scan(const tn_disk *d, tn_segment *s, uint64_t file_size, int check_crc,
                     uint32_t index_bytes, tn_seg_buf *buf, tn_seg_visit visit, void *arg);
/* Makes the index files hold exactly the in-memory entries, rewriting them
 * if they differ. 1 if rewritten, 0 if they were right. Needs ifd/tfd. */
int tn_seg_sync_index(const tn_disk *d, tn_segment *s);

/* Accounts a batch just written at pos (the segment's end): 1 when it
 * got an index entry, which is entry s->nidx - 1. */
int tn_seg_add(tn_segment *s, const tn_batch *b, uint64_t pos, uint32_t index_bytes);
/* Writes entry k to the index files (failures only cost a rebuild). */
void tn_seg_write_entry(const tn_disk *d, const tn_segment *s, uint32_t k);

/* The batch holding offset (base <= offset < next): its position and header. */
tern_err tn_seg_find(const tn_disk *d, const tn_segment *s, int64_t offset, uint64_t *pos,
                     tn_batch *b);
/* The end of the longest run of whole batches from the batch at pos (of
 * size first) that ends at or before limit; at least pos + first. */
tern_err tn_seg_run_end(const tn_disk *d, const tn_segment *s, uint64_t pos, uint64_t first,
                        uint64_t limit, uint64_t *end);
/* The base offset of the first batch whose max timestamp is >= ts; -1 if
 * none is. */
tern_err tn_seg_find_time(const tn_disk *d, const tn_segment *s, int64_t ts, int64_t *offset);

#endif
