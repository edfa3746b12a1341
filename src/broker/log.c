/* A partition's log: the ordered segments, appends with their validation
 * and idempotent-producer checks, reads, retention, and the durable offset.
 *
 * Kafka error codes given in tn_log_append.error_code: CRC mismatches and
 * malformed batches both answer CORRUPT_MESSAGE (2), as log.h promises
 * (INVALID_RECORD is not used); MESSAGE_TOO_LARGE (10); OUT_OF_ORDER_SEQUENCE_NUMBER (45);
 * INVALID_PRODUCER_EPOCH (47); KAFKA_STORAGE_ERROR (56) for failed writes;
 * UNKNOWN_SERVER_ERROR (-1) when memory runs out. */
#include "broker/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/trace.h"
#include "broker/producer.h"
#include "broker/segment.h"
#include "kafka/api.h"
#include "kafka/batch.h"

/* An idempotent batch of the buffer being appended, applied to the
 * producer table once the write succeeded. */
typedef struct pending {
    int64_t id;
    int16_t epoch;
    tn_pbatch b;
} pending;

struct tn_log {
    const tn_disk *disk;
    char *dir;
    tn_log_conf conf;
    tn_segment *segs; /* oldest first; the last is active */
    int nsegs, cap_segs;
    int64_t durable;
    int failed; /* a failed write could not be undone: refuse appends */
    tn_producers prod;
    pending *pend;
    size_t npend, cap_pend;
};

void tn_log_conf_default(tn_log_conf *c)
{
    c->segment_bytes = 1ull << 30;
    c->segment_ms = 7LL * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->retention_ms = 7LL * 24 * 3600 * 1000;
    c->index_bytes = 4096;
    c->max_batch_bytes = (1u << 20) + 12;
}

static tn_segment *active(const tn_log *log)
{
    return &log->segs[log->nsegs - 1];
}

static int grow_segs(tn_log *log, int want)
{
    if (want <= log->cap_segs)
        return 0;
    int cap = log->cap_segs ? log->cap_segs : 8;
    while (cap < want)
        cap *= 2;
    tn_segment *segs = realloc(log->segs, (size_t)cap * sizeof *segs);
    if (segs == NULL)
        return -1;
    log->segs = segs;
    log->cap_segs = cap;
    return 0;
}

/* The directory holding dir, fsynced so a created or removed dir stays so. */
static int sync_parent(const tn_disk *d, const char *dir)
{
    char parent[PATH_MAX];
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    while (n > 0 && dir[n - 1] != '/')
        n--;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0)
        return tn_disk_sync_dir(d, ".");
    if (n >= sizeof parent) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(parent, dir, n);
    parent[n] = '\0';
    return tn_disk_sync_dir(d, parent);
}

/* 1 and the base offset if name is a segment file "%020lld.<ext>". */
static int segment_name(const char *name, const char *ext, int64_t *base)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != 21 + e || name[20] != '.' || strcmp(name + 21, ext) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
        if (v > INT64_MAX)
            return 0;
    }
    *base = (int64_t)v;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The bases of the .log files in dir, sorted. */
static tern_err list_segments(const char *dir, int64_t **out, int *count)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return tern_err_from_errno(errno);
    int64_t *bases = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        int64_t base;
        if (!segment_name(de->d_name, "log", &base))
            continue;
        if (n == cap) {
            if (cap > INT_MAX / 4)
                break;
            int ncap = cap ? cap * 2 : 16;
            int64_t *nb = realloc(bases, (size_t)ncap * sizeof *nb);
            if (nb == NULL) {
                free(bases);
                closedir(dp);
                return TERN_ENOMEM;
            }
            bases = nb;
            cap = ncap;
        }
        bases[n++] = base;
    }
    closedir(dp);
    if (n > 0)
        qsort(bases, (size_t)n, sizeof *bases, cmp_i64);
    *out = bases;
    *count = n;
    return TERN_OK;
}

static int visit_producer(void *arg, const tn_batch *b)
{
    tn_producers *ps = arg;
    if (b->producer_id < 0)
        return 0;
    if (tn_producers_reserve(ps, 1) != 0)
        return -1;
    tn_pbatch pb = {b->base_sequence, tn_seq_last(b->base_sequence, b->last_offset_delta),
                    b->base_offset, b->base_offset + b->last_offset_delta};
    tn_producers_add(ps, b->producer_id, b->producer_epoch, &pb);
    return 0;
}

/* Deletes the segments from index `from` on, newest first, so a crash in
 * between leaves the same cut to make. */
static tern_err drop_from(tn_log *log, int from, int64_t *bases, int n, tn_log_recovery *r)
{
    for (int j = n - 1; j >= from; j--) {
        char path[PATH_MAX];
        struct stat st;
        if (tn_seg_path(path, sizeof path, log->dir, bases[j], "log") == 0 && stat(path, &st) == 0)
            r->truncated_bytes += (uint64_t)st.st_size;
        if (tn_seg_unlink(log->disk, log->dir, bases[j]) != 0) {
            tn_trace(TERN_TRACE_BROKER, "cannot remove segment %020" PRId64 " of %s: %s", bases[j],
                     log->dir, strerror(errno));
            return TERN_ESYSTEM;
        }
    }
    return TERN_OK;
}

/* Opens and checks every segment. Every segment but the last is walked by
 * headers; the last, or one whose walk breaks (it then becomes the last,
 * and the segments after it go), is also CRC-checked and cut to its valid
 * part. */
static tern_err load(tn_log *log, int64_t *bases, int n, tn_log_recovery *r)
{
    const tn_disk *d = log->disk;
    tn_seg_buf buf = {NULL, 0};
    tern_err e = TERN_OK;
    if (grow_segs(log, n) != 0)
        return TERN_ENOMEM;
    for (int i = 0; i < n && e == TERN_OK; i++) {
        tn_segment *s = &log->segs[i];
        uint64_t file_size;
        e = tn_seg_open(d, log->dir, bases[i], s, &file_size);
        if (e != TERN_OK)
            break;
        log->nsegs = i + 1;
        int last = i == n - 1;
        e = tn_seg_scan(d, s, file_size, last, log->conf.index_bytes, &buf, visit_producer,
                        &log->prod);
        if (e != TERN_OK)
            break;
        if (!last && (s->size < file_size || s->next != bases[i + 1])) {
            tn_trace(TERN_TRACE_BROKER,
                     "%s: segment %020" PRId64 " is %s; dropping the %d after it", log->dir,
                     bases[i], s->size < file_size ? "damaged" : "not followed contiguously",
                     n - 1 - i);
            e = drop_from(log, i + 1, bases, n, r);
            if (e != TERN_OK)
                break;
            n = i + 1;
            last = 1;
            /* Now the last: CRC-checked, and the producer state replayed
             * without what the header walk had counted past the cut. */
            e = tn_seg_scan(d, s, file_size, 1, log->conf.index_bytes, &buf, NULL, NULL);
            tn_producers_clear(&log->prod);
            for (int j = 0; j <= i && e == TERN_OK; j++)
                e = tn_seg_scan(d, &log->segs[j], log->segs[j].size, 0, log->conf.index_bytes, &buf,
                                visit_producer, &log->prod);
            if (e != TERN_OK)
                break;
        }
        if (last && s->size < file_size) {
            if (d->ftruncate(d->ctx, s->fd, (off_t)s->size) != 0) {
                e = tern_err_from_errno(errno);
                tn_trace(TERN_TRACE_BROKER, "cannot cut the torn tail of %s: %s", log->dir,
                         strerror(errno));
                break;
            }
            r->truncated_bytes += file_size - s->size;
        }
        if (tn_seg_sync_index(d, s))
            r->indexes_rebuilt++;
        if (!last)
            tn_seg_deactivate(s);
        /* What a crashed run left may sit in the page cache only. */
        if (s->size > 0)
            s->dirty_end = s->next;
    }
    free(buf.p);
    r->segments = (uint32_t)log->nsegs;
    return e;
}

tern_err tn_log_open(const tn_disk *disk, const char *dir, const tn_log_conf *conf, tn_log **out,
                     tn_log_recovery *rec)
{
    tn_log_recovery r = {0, 0, 0};
    *out = NULL;
    tn_log *log = calloc(1, sizeof *log);
    if (log == NULL)
        return TERN_ENOMEM;
    log->disk = disk;
    log->conf = *conf;
    /* Index positions are uint32: no segment grows past 4 GiB. */
    if (log->conf.segment_bytes > UINT32_MAX)
        log->conf.segment_bytes = UINT32_MAX;
    tn_producers_init(&log->prod);
    log->dir = strdup(dir);
    if (log->dir == NULL) {
        free(log);
        return TERN_ENOMEM;
    }
    tern_err e = TERN_OK;
    if (disk->mkdir(disk->ctx, dir, 0755) == 0) {
        if (sync_parent(disk, dir) != 0)
            e = tern_err_from_errno(errno);
    } else if (errno != EEXIST) {
        e = tern_err_from_errno(errno);
    }
    int64_t *bases = NULL;
    int n = 0;
    if (e == TERN_OK)
        e = list_segments(dir, &bases, &n);
    if (e == TERN_OK && n > 0)
        e = load(log, bases, n, &r);
    free(bases);
    if (e == TERN_OK && n == 0) {
        if (grow_segs(log, 1) != 0)
            e = TERN_ENOMEM;
        else if ((e = tn_seg_create(disk, dir, 0, &log->segs[0])) == TERN_OK) {
            log->nsegs = 1;
            if (tn_disk_sync_dir(disk, dir) != 0)
                e = tern_err_from_errno(errno);
        }
        r.segments = (uint32_t)log->nsegs;
    }
    if (e != TERN_OK) {
        tn_trace(TERN_TRACE_BROKER, "cannot open the log %s: %s", dir, tern_strerror(e));
        tn_log_close(log);
        return e;
    }
    log->durable = tn_log_start_offset(log);
    tn_trace(TERN_TRACE_BROKER,
             "opened %s: %u segments, offsets %" PRId64 "..%" PRId64 ", %" PRIu64
             " torn bytes cut, %u indexes rebuilt",
             dir, r.segments, tn_log_start_offset(log), tn_log_end_offset(log), r.truncated_bytes,
             r.indexes_rebuilt);
    if (rec != NULL)
        *rec = r;
    *out = log;
    return TERN_OK;
}

void tn_log_close(tn_log *log)
{
    if (log == NULL)
        return;
    for (int i = 0; i < log->nsegs; i++)
        tn_seg_close(&log->segs[i]);
    tn_producers_free(&log->prod);
    free(log->segs);
    free(log->pend);
    free(log->dir);
    free(log);
}

tern_err tn_log_destroy(tn_log *log)
{
    const tn_disk *d = log->disk;
    for (int i = 0; i < log->nsegs; i++)
        tn_seg_close(&log->segs[i]);
    log->nsegs = 0;
    tern_err e = TERN_OK;
    /* Every segment file, also an index whose log a crash already took. */
    DIR *dp = opendir(log->dir);
    if (dp == NULL)
        e = tern_err_from_errno(errno);
    struct dirent *de;
    while (dp != NULL && (de = readdir(dp)) != NULL) {
        int64_t base;
        if (segment_name(de->d_name, "log", &base) || segment_name(de->d_name, "index", &base) ||
            segment_name(de->d_name, "timeindex", &base)) {
            char path[PATH_MAX];
            int len = snprintf(path, sizeof path, "%s/%s", log->dir, de->d_name);
            if (len < 0 || (size_t)len >= sizeof path || d->unlink(d->ctx, path) != 0)
                e = TERN_ESYSTEM;
        }
    }
    if (dp != NULL)
        closedir(dp);
    if (e == TERN_OK && d->rmdir(d->ctx, log->dir) != 0)
        e = tern_err_from_errno(errno);
    if (e == TERN_OK && sync_parent(d, log->dir) != 0)
        e = tern_err_from_errno(errno);
    if (e != TERN_OK)
        tn_trace(TERN_TRACE_BROKER, "cannot delete the log %s: %s", log->dir, tern_strerror(e));
    tn_log_close(log);
    return e;
}

int64_t tn_log_start_offset(const tn_log *log)
{
    return log->segs[0].base;
}
int64_t tn_log_end_offset(const tn_log *log)
{
    return active(log)->next;
}
int64_t tn_log_durable_offset(const tn_log *log)
{
    return log->durable;
}
int tn_log_producer_count(const tn_log *log)
{
    return (int)log->prod.count;
}

/* Whether more than limit ms passed from since to now (no overflow). */
static int older(int64_t now, int64_t since, int64_t limit)
{
    return since != INT64_MIN && limit >= 0 && now > since &&
           (uint64_t)now - (uint64_t)since > (uint64_t)limit;
}

/* Starts a new active segment at the end offset. */
static tern_err roll(tn_log *log)
{
    if (grow_segs(log, log->nsegs + 1) != 0)
        return TERN_ENOMEM;
    int64_t base = active(log)->next;
    tn_segment *s = &log->segs[log->nsegs];
    tern_err e = tn_seg_create(log->disk, log->dir, base, s);
    if (e != TERN_OK)
        return e;
    /* The new name must survive a crash before anything is acked from it. */
    if (tn_disk_sync_dir(log->disk, log->dir) != 0) {
        e = tern_err_from_errno(errno);
        tn_trace(TERN_TRACE_BROKER, "%s: syncing the directory failed: %s", log->dir,
                 strerror(errno));
        tn_seg_close(s);
        (void)tn_seg_unlink(log->disk, log->dir, base);
        return e;
    }
    tn_seg_deactivate(active(log));
    log->nsegs++;
    tn_trace(TERN_TRACE_BROKER, "%s: rolled to segment %020" PRId64, log->dir, base);
    return TERN_OK;
}

static tern_err refuse(tn_log_append *res, tern_err e, int16_t code)
{
    res->error_code = code;
    return e;
}

static int16_t storage_code(tern_err e)
{
    return e == TERN_ENOMEM ? TN_KE_UNKNOWN_SERVER_ERROR : TN_KE_KAFKA_STORAGE_ERROR;
}

/* Judges an idempotent batch against the batches before it in the same
 * buffer, else against the producer table. */
static int check_sequence(const tn_log *log, const tn_batch *b, int32_t last, int64_t *dup)
{
    for (size_t i = log->npend; i-- > 0;) {
        const pending *p = &log->pend[i];
        if (p->id != b->producer_id)
            continue;
        if (b->base_sequence < 0)
            return TN_SEQ_OUT_OF_ORDER;
        if (b->producer_epoch != p->epoch)
            return b->producer_epoch > p->epoch ? TN_SEQ_OK : TN_SEQ_FENCED;
        return b->base_sequence == tn_seq_next(p->b.last_seq) ? TN_SEQ_OK : TN_SEQ_OUT_OF_ORDER;
    }
    return tn_producer_check(tn_producers_find(&log->prod, b->producer_id), b->producer_epoch,
                             b->base_sequence, last, dup);
}

static int push_pending(tn_log *log, const tn_batch *b, int32_t last, int64_t base)
{
    if (log->npend == log->cap_pend) {
        size_t cap = log->cap_pend ? log->cap_pend * 2 : 4;
        pending *p = realloc(log->pend, cap * sizeof *p);
        if (p == NULL)
            return -1;
        log->pend = p;
        log->cap_pend = cap;
    }
    log->pend[log->npend++] =
        (pending){b->producer_id,
                  b->producer_epoch,
                  {b->base_sequence, last, base, base + b->last_offset_delta}};
    return 0;
}

tern_err tn_log_append_batches(tn_log *log, uint8_t *buf, size_t len, int64_t now_ms,
                               tn_log_append *res)
{
    memset(res, 0, sizeof *res);
    res->base_offset = -1;
    res->log_start = tn_log_start_offset(log);
    if (log->failed)
        return refuse(res, TERN_ESYSTEM, TN_KE_KAFKA_STORAGE_ERROR);
    if (len == 0)
        return refuse(res, TERN_EPROTO, TN_KE_CORRUPT_MESSAGE);
    if (len > UINT32_MAX)
        return refuse(res, TERN_EMSGSIZE, TN_KE_MESSAGE_TOO_LARGE);

    /* Everything is checked before anything is written. */
    int64_t end = tn_log_end_offset(log), next = end;
    log->npend = 0;
    for (size_t off = 0; off < len;) {
        tn_batch b;
        if (tn_batch_parse(buf + off, len - off, SIZE_MAX, &b) != TERN_OK)
            return refuse(res, TERN_EPROTO, TN_KE_CORRUPT_MESSAGE);
        size_t size = tn_batch_size(&b);
        if (size > log->conf.max_batch_bytes)
            return refuse(res, TERN_EMSGSIZE, TN_KE_MESSAGE_TOO_LARGE);
        if (!tn_batch_crc_ok(buf + off, &b))
            return refuse(res, TERN_ECORRUPT, TN_KE_CORRUPT_MESSAGE);
        /* A header that claims records the batch does not hold would
         * leave holes in the offsets consumers walk. */
        if (!tn_batch_records_ok(buf + off, &b))
            return refuse(res, TERN_EPROTO, TN_KE_CORRUPT_MESSAGE);
        int64_t span = (int64_t)b.last_offset_delta + 1;
        /* All of one append goes in one segment, whose offsets are uint32. */
        if (next > INT64_MAX - span || next - end + span > (int64_t)UINT32_MAX + 1)
            return refuse(res, TERN_EPROTO, TN_KE_CORRUPT_MESSAGE);
        if (b.producer_id >= 0) {
            int32_t last = tn_seq_last(b.base_sequence, b.last_offset_delta);
            int64_t dup = -1;
            switch (check_sequence(log, &b, last, &dup)) {
            case TN_SEQ_DUPLICATE:
                /* Only a whole retried append can be answered as done. */
                if (off != 0 || size != len)
                    return refuse(res, TERN_ESTATE, TN_KE_OUT_OF_ORDER_SEQUENCE_NUMBER);
                res->base_offset = dup;
                res->duplicate = 1;
                return TERN_OK;
            case TN_SEQ_OUT_OF_ORDER:
                return refuse(res, TERN_ESTATE, TN_KE_OUT_OF_ORDER_SEQUENCE_NUMBER);
            case TN_SEQ_FENCED:
                return refuse(res, TERN_ESTATE, TN_KE_INVALID_PRODUCER_EPOCH);
            default:
                break;
            }
            if (push_pending(log, &b, last, next) != 0)
                return refuse(res, TERN_ENOMEM, TN_KE_UNKNOWN_SERVER_ERROR);
        }
        next += span;
        off += size;
    }
    /* Room for the producer state now, so nothing can fail after the write. */
    if (tn_producers_reserve(&log->prod, log->npend) != 0)
        return refuse(res, TERN_ENOMEM, TN_KE_UNKNOWN_SERVER_ERROR);

    tn_segment *s = active(log);
    if (s->size > 0 && (s->size + len > log->conf.segment_bytes ||
                        older(now_ms, s->first_ms, log->conf.segment_ms) ||
                        (uint64_t)(next - 1 - s->base) > UINT32_MAX)) {
        tern_err e = roll(log);
        if (e != TERN_OK)
            return refuse(res, e, storage_code(e));
        s = active(log);
    }

    int64_t o = end;
    for (size_t off = 0; off < len;) {
        tn_batch_set_base_offset(buf + off, o);
        o += (int64_t)tn_get_be32(buf + off + 23) + 1;
        off += 12 + (size_t)tn_get_be32(buf + off + 8);
    }
    const tn_disk *d = log->disk;
    uint64_t at = s->size;
    if (tn_disk_pwrite_all(d, s->fd, buf, len, (off_t)at) != 0) {
        tern_err e = tern_err_from_errno(errno);
        int saved = errno;
        if (d->ftruncate(d->ctx, s->fd, (off_t)at) != 0) {
            /* Garbage past the end would be served or built on: stop here. */
            log->failed = 1;
            tn_trace(TERN_TRACE_BROKER,
                     "%s: write failed (%s) and cutting it back failed (%s); log closed to appends",
                     log->dir, strerror(saved), strerror(errno));
            return refuse(res, TERN_ESYSTEM, TN_KE_KAFKA_STORAGE_ERROR);
        }
        tn_trace(TERN_TRACE_BROKER, "%s: append of %zu bytes failed: %s", log->dir, len,
                 strerror(saved));
        return refuse(res, e == TERN_ENOSPC ? e : TERN_ESYSTEM, TN_KE_KAFKA_STORAGE_ERROR);
    }
    if (s->size == 0)
        s->first_ms = now_ms;
    for (size_t off = 0; off < len;) {
        tn_batch b;
        (void)tn_batch_parse_header(buf + off, SIZE_MAX, &b);
        if (tn_seg_add(s, &b, at + off, log->conf.index_bytes))
            tn_seg_write_entry(d, s, s->nidx - 1);
        off += tn_batch_size(&b);
    }
    for (size_t i = 0; i < log->npend; i++)
        tn_producers_add(&log->prod, log->pend[i].id, log->pend[i].epoch, &log->pend[i].b);
    s->dirty_end = s->next;
    res->base_offset = end;
    return TERN_OK;
}

/* The segment holding offset (start <= offset < end). */
static const tn_segment *segment_of(const tn_log *log, int64_t offset)
{
    int lo = 0, hi = log->nsegs;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid].base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* An empty active segment shares its base with the end offset, so the
     * one found holds offset unless offset is past every batch. */
    return &log->segs[lo - 1];
}

tern_err tn_log_read(tn_log *log, int64_t offset, uint32_t max_bytes, tn_log_slice *sl)
{
    if (offset < tn_log_start_offset(log) || offset > tn_log_end_offset(log))
        return TERN_ENOENT;
    if (offset == tn_log_end_offset(log)) {
        sl->fd = active(log)->fd;
        sl->pos = active(log)->size;
        sl->len = 0;
        return TERN_OK;
    }
    const tn_segment *s = segment_of(log, offset);
    uint64_t pos, end;
    tn_batch b;
    tern_err e = tn_seg_find(log->disk, s, offset, &pos, &b);
    if (e == TERN_OK)
        e = tn_seg_run_end(log->disk, s, pos, tn_batch_size(&b), pos + max_bytes, &end);
    if (e != TERN_OK) {
        tn_trace(TERN_TRACE_BROKER, "%s: reading offset %" PRId64 " failed: %s", log->dir, offset,
                 tern_strerror(e));
        return e;
    }
    sl->fd = s->fd;
    sl->pos = pos;
    sl->len = (uint32_t)(end - pos);
    return TERN_OK;
}

int64_t tn_log_offset_for_time(tn_log *log, int64_t ts)
{
    for (int i = 0; i < log->nsegs; i++) {
        const tn_segment *s = &log->segs[i];
        int64_t offset = -1;
        if (s->size == 0 || s->max_ts < ts)
            continue;
        if (tn_seg_find_time(log->disk, s, ts, &offset) != TERN_OK)
            tn_trace(TERN_TRACE_BROKER, "%s: time lookup in segment %020" PRId64 " failed",
                     log->dir, s->base);
        if (offset >= 0)
            return offset;
    }
    return tn_log_end_offset(log);
}

/* Deletes the oldest segment; -1 if its files could not be removed. */
static int drop_oldest(tn_log *log)
{
    tn_segment *s = &log->segs[0];
    if (tn_seg_unlink(log->disk, log->dir, s->base) != 0) {
        tn_trace(TERN_TRACE_BROKER, "%s: cannot delete segment %020" PRId64 ": %s", log->dir,
                 s->base, strerror(errno));
        return -1;
    }
    tn_trace(TERN_TRACE_BROKER, "%s: retention deleted segment %020" PRId64, log->dir, s->base);
    tn_seg_close(s);
    memmove(&log->segs[0], &log->segs[1], (size_t)(log->nsegs - 1) * sizeof *log->segs);
    log->nsegs--;
    return 0;
}

int tn_log_retain(tn_log *log, int64_t now_ms)
{
    const tn_log_conf *c = &log->conf;
    tn_segment *a = active(log);
    if (a->size > 0 && older(now_ms, a->first_ms, c->segment_ms) && roll(log) != TERN_OK)
        tn_trace(TERN_TRACE_BROKER, "%s: time roll failed", log->dir);
    int deleted = 0;
    if (c->retention_bytes >= 0) {
        uint64_t total = 0;
        for (int i = 0; i < log->nsegs; i++)
            total += log->segs[i].size;
        while (log->nsegs > 1 && total - log->segs[0].size >= (uint64_t)c->retention_bytes) {
            uint64_t size = log->segs[0].size;
            if (drop_oldest(log) != 0)
                break;
            total -= size;
            deleted++;
        }
    }
    if (c->retention_ms >= 0) {
        int64_t cutoff =
            now_ms < INT64_MIN + c->retention_ms ? INT64_MIN : now_ms - c->retention_ms;
        while (log->nsegs > 1 && log->segs[0].max_ts < cutoff && drop_oldest(log) == 0)
            deleted++;
    }
    if (deleted > 0)
        tn_producers_expire(&log->prod, tn_log_start_offset(log));
    return deleted;
}

int tn_log_sync_take(tn_log *log, int *fds, int max, int64_t *upto)
{
    int n = 0;
    *upto = tn_log_end_offset(log);
    for (int i = 0; i < log->nsegs; i++) {
        const tn_segment *s = &log->segs[i];
        if (s->dirty_end < 0)
            continue;
        int fd = n < max ? fcntl(s->fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (fd < 0) {
            /* What is taken covers everything before this segment. */
            *upto = s->base;
            if (n == 0 && max > 0)
                return -1;
            break;
        }
        fds[n++] = fd;
    }
    return n;
}

void tn_log_sync_done(tn_log *log, int64_t upto)
{
    int64_t end = tn_log_end_offset(log);
    if (upto > end)
        upto = end;
    if (upto > log->durable)
        log->durable = upto;
    /* A segment written after the take has a later end: it stays unsynced. */
    for (int i = 0; i < log->nsegs; i++) {
        tn_segment *s = &log->segs[i];
        if (s->dirty_end >= 0 && s->dirty_end <= upto)
            s->dirty_end = -1;
    }
}

tern_err tn_log_sync(tn_log *log)
{
    const tn_disk *d = log->disk;
    for (int i = 0; i < log->nsegs; i++) {
        tn_segment *s = &log->segs[i];
        if (s->dirty_end < 0)
            continue;
        if (d->fdatasync(d->ctx, s->fd) != 0) {
            tern_err e = tern_err_from_errno(errno);
            tn_trace(TERN_TRACE_BROKER, "%s: fdatasync of segment %020" PRId64 " failed: %s",
                     log->dir, s->base, strerror(errno));
            if (s->base > log->durable)
                log->durable = s->base;
            return e == TERN_ENOMEM ? TERN_ESYSTEM : e;
        }
        s->dirty_end = -1;
    }
    int64_t end = tn_log_end_offset(log);
    if (end > log->durable)
        log->durable = end;
    return TERN_OK;
}
