/* One log segment: its files, the walk that recovers it, its indexes. */
#include "broker/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/trace.h"

#define CHUNK 256 /* index entries per read or write */

int tn_seg_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext)
{
    int len = snprintf(buf, n, "%s/%020" PRId64 ".%s", dir, base, ext);
    if (len < 0 || (size_t)len >= n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static void seg_init(tn_segment *s, int64_t base)
{
    memset(s, 0, sizeof *s);
    s->base = base;
    s->next = base;
    s->max_ts = INT64_MIN;
    s->first_ms = INT64_MIN;
    s->fd = s->ifd = s->tfd = -1;
    s->dirty_end = -1;
}

static int open_file(const tn_disk *d, const char *dir, int64_t base, const char *ext, int flags)
{
    char path[PATH_MAX];
    if (tn_seg_path(path, sizeof path, dir, base, ext) != 0)
        return -1;
    return d->open(d->ctx, path, flags | O_CLOEXEC, 0644);
}

void tn_seg_close(tn_segment *s)
{
    tn_seg_deactivate(s);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->idx);
    s->idx = NULL;
    s->nidx = s->cap_idx = 0;
}

void tn_seg_deactivate(tn_segment *s)
{
    if (s->ifd >= 0)
        close(s->ifd);
    if (s->tfd >= 0)
        close(s->tfd);
    s->ifd = s->tfd = -1;
}

tern_err tn_seg_create(const tn_disk *d, const char *dir, int64_t base, tn_segment *s)
{
    seg_init(s, base);
    /* O_EXCL: a .log of that name would be a segment open() did not see. */
    s->fd = open_file(d, dir, base, "log", O_RDWR | O_CREAT | O_EXCL);
    if (s->fd >= 0)
        s->ifd = open_file(d, dir, base, "index", O_RDWR | O_CREAT | O_TRUNC);
    if (s->ifd >= 0)
        s->tfd = open_file(d, dir, base, "timeindex", O_RDWR | O_CREAT | O_TRUNC);
    if (s->tfd >= 0)
        return TERN_OK;
    tern_err e = tern_err_from_errno(errno);
    int created = s->fd >= 0;
    tn_seg_close(s);
    if (created)
        (void)tn_seg_unlink(d, dir, base);
    tn_trace(TERN_TRACE_BROKER, "cannot create segment %020" PRId64 " in %s: %s", base, dir,
             tern_strerror(e));
    return e;
}

tern_err tn_seg_open(const tn_disk *d, const char *dir, int64_t base, tn_segment *s,
                     uint64_t *file_size)
{
    seg_init(s, base);
    struct stat st;
    s->fd = open_file(d, dir, base, "log", O_RDWR);
    if (s->fd >= 0 && fstat(s->fd, &st) == 0) {
        *file_size = (uint64_t)st.st_size;
        s->ifd = open_file(d, dir, base, "index", O_RDWR | O_CREAT);
        if (s->ifd >= 0)
            s->tfd = open_file(d, dir, base, "timeindex", O_RDWR | O_CREAT);
        if (s->tfd >= 0)
            return TERN_OK;
    }
    tern_err e = tern_err_from_errno(errno);
    tn_trace(TERN_TRACE_BROKER, "cannot open segment %020" PRId64 " in %s: %s", base, dir,
             strerror(errno));
    tn_seg_close(s);
    return e;
}

int tn_seg_unlink(const tn_disk *d, const char *dir, int64_t base)
{
    static const char *const ext[] = {"log", "index", "timeindex"};
    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX];
        if (tn_seg_path(path, sizeof path, dir, base, ext[i]) != 0)
            return -1;
        if (d->unlink(d->ctx, path) != 0 && errno != ENOENT && i == 0)
            return -1;
    }
    return 0;
}

/* Reads exactly n bytes; a file shorter than expected is an I/O error. */
static int pread_full(const tn_disk *d, int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = d->pread(d->ctx, fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* The header of the batch at pos, which must lie within the segment. */
static tern_err read_header(const tn_disk *d, const tn_segment *s, uint64_t pos, tn_batch *b)
{
    uint8_t hdr[TN_BATCH_HEADER];
    if (s->size - pos < TN_BATCH_HEADER)
        return TERN_ECORRUPT;
    if (pread_full(d, s->fd, hdr, sizeof hdr, pos) != 0)
        return TERN_ESYSTEM;
    if (tn_batch_parse_header(hdr, SIZE_MAX, b) != TERN_OK || tn_batch_size(b) > s->size - pos)
        return TERN_ECORRUPT;
    return TERN_OK;
}

int tn_seg_add(tn_segment *s, const tn_batch *b, uint64_t pos, uint32_t index_bytes)
{
    int added = 0;
    if (pos > 0 && pos - s->entry_pos >= index_bytes) {
        if (s->nidx == s->cap_idx) {
            uint32_t cap = s->cap_idx ? s->cap_idx * 2 : 16;
            tn_seg_entry *idx = realloc(s->idx, (size_t)cap * sizeof *idx);
            if (idx != NULL) {
                s->idx = idx;
                s->cap_idx = cap;
            }
        }
        /* Without room the entry is skipped: lookups scan a little further. */
        if (s->nidx < s->cap_idx) {
            s->idx[s->nidx++] =
                (tn_seg_entry){(uint32_t)(b->base_offset - s->base), (uint32_t)pos, s->max_ts};
            s->entry_pos = pos;
            added = 1;
        }
    }
    if (b->max_timestamp > s->max_ts)
        s->max_ts = b->max_timestamp;
    s->next = b->base_offset + b->last_offset_delta + 1;
    s->size = pos + tn_batch_size(b);
    return added;
}

static void encode_entries(const tn_segment *s, uint32_t k, uint32_t m, int time, uint8_t *out)
{
    for (uint32_t i = 0; i < m; i++) {
        const tn_seg_entry *e = &s->idx[k + i];
        if (time) {
            tn_put_be64(out + i * TN_SEG_TIMEINDEX_ENTRY, (uint64_t)e->ts);
            tn_put_be32(out + i * TN_SEG_TIMEINDEX_ENTRY + 8, e->rel);
        } else {
            tn_put_be32(out + i * TN_SEG_INDEX_ENTRY, e->rel);
            tn_put_be32(out + i * TN_SEG_INDEX_ENTRY + 4, e->pos);
        }
    }
}

void tn_seg_write_entry(const tn_disk *d, const tn_segment *s, uint32_t k)
{
    uint8_t e[TN_SEG_INDEX_ENTRY], t[TN_SEG_TIMEINDEX_ENTRY];
    encode_entries(s, k, 1, 0, e);
    encode_entries(s, k, 1, 1, t);
    if (tn_disk_pwrite_all(d, s->ifd, e, sizeof e, (off_t)k * TN_SEG_INDEX_ENTRY) != 0 ||
        tn_disk_pwrite_all(d, s->tfd, t, sizeof t, (off_t)k * TN_SEG_TIMEINDEX_ENTRY) != 0)
        tn_trace(TERN_TRACE_BROKER,
                 "index write of segment %020" PRId64 " failed: %s (rebuilt on open)", s->base,
                 strerror(errno));
}

/* Whether the file holds exactly the in-memory entries. */
static int index_matches(const tn_disk *d, int fd, const tn_segment *s, int time)
{
    size_t esz = time ? TN_SEG_TIMEINDEX_ENTRY : TN_SEG_INDEX_ENTRY;
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != (uint64_t)s->nidx * esz)
        return 0;
    uint8_t want[CHUNK * TN_SEG_TIMEINDEX_ENTRY], have[CHUNK * TN_SEG_TIMEINDEX_ENTRY];
    for (uint32_t k = 0; k < s->nidx; k += CHUNK) {
        uint32_t m = s->nidx - k < CHUNK ? s->nidx - k : CHUNK;
        encode_entries(s, k, m, time, want);
        if (pread_full(d, fd, have, m * esz, (uint64_t)k * esz) != 0 || memcmp(want, have, m * esz))
            return 0;
    }
    return 1;
}

static void index_rewrite(const tn_disk *d, int fd, const tn_segment *s, int time)
{
    size_t esz = time ? TN_SEG_TIMEINDEX_ENTRY : TN_SEG_INDEX_ENTRY;
    uint8_t out[CHUNK * TN_SEG_TIMEINDEX_ENTRY];
    if (d->ftruncate(d->ctx, fd, 0) != 0)
        goto fail;
    for (uint32_t k = 0; k < s->nidx; k += CHUNK) {
        uint32_t m = s->nidx - k < CHUNK ? s->nidx - k : CHUNK;
        encode_entries(s, k, m, time, out);
        if (tn_disk_pwrite_all(d, fd, out, m * esz, (off_t)k * (off_t)esz) != 0)
            goto fail;
    }
    return;
fail:
    tn_trace(TERN_TRACE_BROKER, "rewriting an index of segment %020" PRId64 " failed: %s", s->base,
             strerror(errno));
}

int tn_seg_sync_index(const tn_disk *d, tn_segment *s)
{
    int rewrote = 0;
    for (int time = 0; time < 2; time++) {
        int fd = time ? s->tfd : s->ifd;
        if (!index_matches(d, fd, s, time)) {
            index_rewrite(d, fd, s, time);
            rewrote = 1;
        }
    }
    return rewrote;
}

tern_err tn_seg_scan(const tn_disk *d, tn_segment *s, uint64_t file_size, int check_crc,
                     uint32_t index_bytes, tn_seg_buf *buf, tn_seg_visit visit, void *arg)
{
    int64_t base = s->base;
    s->next = base;
    s->size = 0;
    s->max_ts = INT64_MIN;
    s->first_ms = INT64_MIN;
    s->nidx = 0;
    s->entry_pos = 0;
    uint64_t pos = 0;
    const char *why = NULL;
    /* Positions are uint32 in the index, so a segment ends by 4 GiB. */
    uint64_t limit = file_size < UINT32_MAX ? file_size : UINT32_MAX;
    while (pos < limit) {
        uint8_t hdr[TN_BATCH_HEADER];
        tn_batch b;
        if (limit - pos < TN_BATCH_HEADER) {
            why = "a torn header";
            break;
        }
        if (pread_full(d, s->fd, hdr, sizeof hdr, pos) != 0)
            goto read_failed;
        if (tn_batch_parse_header(hdr, SIZE_MAX, &b) != TERN_OK) {
            why = "a malformed header";
            break;
        }
        size_t size = tn_batch_size(&b);
        if (size > limit - pos) {
            why = "a torn batch";
            break;
        }
        if (b.base_offset != s->next || b.last_offset_delta >= INT64_MAX - s->next ||
            (uint64_t)(s->next - base) + (uint64_t)b.last_offset_delta > UINT32_MAX) {
            why = "an offset out of sequence";
            break;
        }
        if (check_crc) {
            if (size > buf->cap) {
                uint8_t *p = realloc(buf->p, size);
                if (p == NULL)
                    return TERN_ENOMEM;
                buf->p = p;
                buf->cap = size;
            }
            if (pread_full(d, s->fd, buf->p, size, pos) != 0)
                goto read_failed;
            if (!tn_batch_crc_ok(buf->p, &b)) {
                why = "a CRC mismatch";
                break;
            }
        }
        if (pos == 0)
            s->first_ms = b.max_timestamp;
        (void)tn_seg_add(s, &b, pos, index_bytes);
        if (visit != NULL && visit(arg, &b) != 0)
            return TERN_ENOMEM;
        pos += size;
    }
    if (pos < file_size)
        tn_trace(TERN_TRACE_BROKER,
                 "segment %020" PRId64 " ends at byte %" PRIu64 " of %" PRIu64 ": %s", base, pos,
                 file_size, why ? why : "past 4 GiB");
    return TERN_OK;
read_failed:
    tn_trace(TERN_TRACE_BROKER, "reading segment %020" PRId64 " at %" PRIu64 " failed: %s", base,
             pos, strerror(errno));
    return TERN_ESYSTEM;
}

typedef enum seg_key { KEY_REL, KEY_POS, KEY_TS } seg_key;

/* The position of the last indexed batch start whose key is at most v
 * (below v when strict), or 0: where a walk forward to v can begin. */
static uint64_t indexed_start(const tn_segment *s, seg_key key, int64_t v, bool strict)
{
    uint32_t lo = 0, hi = s->nidx;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const tn_seg_entry *e = &s->idx[mid];
        int64_t k = key == KEY_REL ? e->rel : key == KEY_POS ? e->pos : e->ts;
        if (strict ? k < v : k <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? s->idx[lo - 1].pos : 0;
}

tern_err tn_seg_find(const tn_disk *d, const tn_segment *s, int64_t offset, uint64_t *pos,
                     tn_batch *b)
{
    uint64_t p = indexed_start(s, KEY_REL, offset - s->base, false);
    while (p < s->size) {
        tern_err e = read_header(d, s, p, b);
        if (e != TERN_OK)
            return e;
        if (offset <= b->base_offset + b->last_offset_delta) {
            *pos = p;
            return TERN_OK;
        }
        p += tn_batch_size(b);
    }
    return TERN_ECORRUPT;
}

tern_err tn_seg_run_end(const tn_disk *d, const tn_segment *s, uint64_t pos, uint64_t first,
                        uint64_t limit, uint64_t *end)
{
    uint64_t e = pos + first;
    if (limit >= s->size || limit <= e) {
        *end = limit >= s->size ? s->size : e;
        return TERN_OK;
    }
    /* Jump to the last indexed batch start at or before limit. */
    uint64_t jump = indexed_start(s, KEY_POS, (int64_t)limit, false);
    if (jump > e)
        e = jump;
    while (e < s->size) {
        uint8_t head[12];
        if (s->size - e < TN_BATCH_HEADER)
            return TERN_ECORRUPT;
        if (pread_full(d, s->fd, head, sizeof head, e) != 0)
            return TERN_ESYSTEM;
        int32_t length = (int32_t)tn_get_be32(head + 8);
        if (length < TN_BATCH_LENGTH_MIN || (uint64_t)length + 12 > s->size - e)
            return TERN_ECORRUPT;
        if (e + 12 + (uint64_t)length > limit)
            break;
        e += 12 + (uint64_t)length;
    }
    *end = e;
    return TERN_OK;
}

tern_err tn_seg_find_time(const tn_disk *d, const tn_segment *s, int64_t ts, int64_t *offset)
{
    /* Entries whose ts is below the target have no match before them. */
    uint64_t p = indexed_start(s, KEY_TS, ts, true);
    while (p < s->size) {
        tn_batch b;
        tern_err e = read_header(d, s, p, &b);
        if (e != TERN_OK)
            return e;
        if (b.max_timestamp >= ts) {
            *offset = b.base_offset;
            return TERN_OK;
        }
        p += tn_batch_size(&b);
    }
    *offset = -1;
    return TERN_OK;
}
