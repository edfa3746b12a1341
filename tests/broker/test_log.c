/* The partition log: appends and offsets, index lookups, rolls, retention,
 * time lookups, reopening, recovery from every truncation point and from
 * flipped bytes, refused input, idempotent producers, a disk that fails
 * writes, truncates or syncs, and the durable offset. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/endian.h"
#include "broker/log.h"
#include "kafka/batch.h"
#include "testutil.h"

static char root[64];
static char dir[128];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/tern-log-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- a disk that fails on demand ---- */

typedef struct fault {
    tn_disk d;
    int fail_writes;    /* the next this many writes to a .log fail */
    size_t short_write; /* ... the first after writing this many bytes */
    int write_errno;
    int fail_syncs;     /* the next this many fdatasyncs fail with EIO */
    int fail_truncates; /* the next this many ftruncates fail with EIO */
    int syncs;
} fault;

static int is_log(int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 4)
        return 0;
    path[n] = '\0';
    return strcmp(path + n - 4, ".log") == 0;
}

static int f_open(void *ctx, const char *path, int flags, mode_t mode)
{
    (void)ctx;
    return tn_disk_os()->open(NULL, path, flags, mode);
}

static ssize_t f_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
    fault *f = ctx;
    if (f->fail_writes > 0 && is_log(fd)) {
        if (f->short_write > 0) {
            size_t k = f->short_write < n ? f->short_write : n - 1;
            f->short_write = 0;
            return tn_disk_os()->pwrite(NULL, fd, buf, k, off);
        }
        f->fail_writes--;
        errno = f->write_errno;
        return -1;
    }
    return tn_disk_os()->pwrite(NULL, fd, buf, n, off);
}

static ssize_t f_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
    (void)ctx;
    return tn_disk_os()->pread(NULL, fd, buf, n, off);
}

static int f_fdatasync(void *ctx, int fd)
{
    fault *f = ctx;
    f->syncs++;
    if (f->fail_syncs > 0) {
        f->fail_syncs--;
        errno = EIO;
        return -1;
    }
    return tn_disk_os()->fdatasync(NULL, fd);
}

static int f_ftruncate(void *ctx, int fd, off_t len)
{
    fault *f = ctx;
    if (f->fail_truncates > 0) {
        f->fail_truncates--;
        errno = EIO;
        return -1;
    }
    return tn_disk_os()->ftruncate(NULL, fd, len);
}

static int f_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return tn_disk_os()->unlink(NULL, path);
}

static int f_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return tn_disk_os()->rename(NULL, from, to);
}

static int f_mkdir(void *ctx, const char *path, mode_t mode)
{
    (void)ctx;
    return tn_disk_os()->mkdir(NULL, path, mode);
}

static int f_rmdir(void *ctx, const char *path)
{
    (void)ctx;
    return tn_disk_os()->rmdir(NULL, path);
}

static void fault_init(fault *f)
{
    memset(f, 0, sizeof *f);
    f->d = (tn_disk){f_open,   f_pwrite, f_pread, f_fdatasync, f_ftruncate,
                     f_unlink, f_rename, f_mkdir, f_rmdir,     f};
    f->write_errno = ENOSPC;
}

/* ---- helpers ---- */

static tn_log_conf conf_small(void)
{
    tn_log_conf c;
    tn_log_conf_default(&c);
    c.index_bytes = 256;
    return c;
}

static tn_log *open_log(const tn_disk *d, const tn_log_conf *c, tn_log_recovery *rec)
{
    tn_log *log = NULL;
    check_ok(tn_log_open(d ? d : tn_disk_os(), dir, c, &log, rec));
    return log;
}

/* A batch of n records with values of vsize bytes (appended to w). */
static void make_batch(tn_kw *w, int n, size_t vsize, int64_t ts, int64_t pid, int16_t epoch,
                       int32_t seq)
{
    static char value[4096];
    tn_record_in recs[64];
    assert_true(n > 0 && n <= 64 && vsize <= sizeof value);
    memset(value, 'v', vsize);
    for (int i = 0; i < n; i++)
        recs[i] = (tn_record_in){"key", 3, value, (int32_t)vsize};
    tn_batch_build(w, recs, (size_t)n, ts, pid, epoch, seq);
    assert_int_equal(w->err, 0);
}

/* Appends one batch; returns its base offset. */
static int64_t append(tn_log *log, int n, size_t vsize, int64_t ts, int64_t now)
{
    tn_kw w;
    tn_kw_init(&w, 0);
    make_batch(&w, n, vsize, ts, -1, -1, -1);
    tn_log_append res;
    int64_t end = tn_log_end_offset(log);
    check_ok(tn_log_append_batches(log, w.p, w.n, now, &res));
    assert_int_equal(res.base_offset, end);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(tn_log_end_offset(log), end + n);
    tn_kw_free(&w);
    return res.base_offset;
}

/* An idempotent append: the tern_err, with *res filled. */
static tern_err append_idem(tn_log *log, int n, int64_t pid, int16_t epoch, int32_t seq,
                            tn_log_append *res)
{
    tn_kw w;
    tn_kw_init(&w, 0);
    make_batch(&w, n, 10, 1000, pid, epoch, seq);
    tern_err e = tn_log_append_batches(log, w.p, w.n, 1000, res);
    tn_kw_free(&w);
    return e;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static void seg_path(char *buf, size_t n, int64_t base, const char *ext)
{
    snprintf(buf, n, "%s/%020" PRId64 ".%s", dir, base, ext);
}

static uint64_t seg_size(int64_t base)
{
    char p[PATH_MAX];
    seg_path(p, sizeof p, base, "log");
    return file_size(p);
}

static int count_files(const char *ext)
{
    int n = 0;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '\\.%s$'", dir, ext);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    return n;
}

/* Reads at offset and checks the slice: whole, valid, contiguous batches,
 * the first holding offset, within max_bytes unless it is one batch.
 * Returns the first batch's base offset. */
static int64_t check_read(tn_log *log, int64_t offset, uint32_t max_bytes)
{
    tn_log_slice s;
    check_ok(tn_log_read(log, offset, max_bytes, &s));
    assert_true(s.len > 0);
    uint8_t *buf = malloc(s.len);
    assert_non_null(buf);
    assert_int_equal(pread(s.fd, buf, s.len, (off_t)s.pos), (ssize_t)s.len);
    size_t off = 0;
    int64_t first = -1, expect = -1;
    int batches = 0;
    while (off < s.len) {
        tn_batch b;
        check_ok(tn_batch_parse(buf + off, s.len - off, SIZE_MAX, &b));
        assert_true(tn_batch_crc_ok(buf + off, &b));
        if (first < 0) {
            first = b.base_offset;
            assert_true(b.base_offset <= offset && offset <= b.base_offset + b.last_offset_delta);
        } else {
            assert_int_equal(b.base_offset, expect);
        }
        expect = b.base_offset + b.last_offset_delta + 1;
        tn_record_iter it;
        tn_record rec;
        tn_record_iter_init(&it, buf + off, &b);
        int64_t o = b.base_offset;
        while (tn_record_iter_next(&it, &rec) == 1)
            assert_int_equal(rec.offset, o++);
        assert_int_equal(o, expect);
        off += tn_batch_size(&b);
        batches++;
    }
    assert_true(batches == 1 || s.len <= max_bytes);
    free(buf);
    return first;
}

/* Every offset of the log reads back, one batch at a time and in runs. */
static void check_all(tn_log *log)
{
    int64_t end = tn_log_end_offset(log);
    for (int64_t o = tn_log_start_offset(log); o < end; o++) {
        check_read(log, o, 1);
        check_read(log, o, 700);
        check_read(log, o, 1u << 20);
    }
    tn_log_slice s;
    check_ok(tn_log_read(log, end, 100, &s));
    assert_int_equal(s.len, 0);
    check_err(tn_log_read(log, end + 1, 100, &s), TERN_ENOENT);
    check_err(tn_log_read(log, tn_log_start_offset(log) - 1, 100, &s), TERN_ENOENT);
}

/* Reads a whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

/* ---- tests ---- */

static void test_append_and_read(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    tn_log_recovery rec;
    tn_log *log = open_log(NULL, &c, &rec);
    assert_true(rec.segments == 1 && rec.truncated_bytes == 0);
    assert_true(tn_log_start_offset(log) == 0 && tn_log_end_offset(log) == 0);
    assert_int_equal(tn_log_durable_offset(log), 0);
    int64_t expect = 0;
    for (int i = 0; i < 60; i++) {
        int n = 1 + i % 7;
        assert_int_equal(append(log, n, (size_t)(i * 13) % 200, 1000 + i, 5000), expect);
        expect += n;
    }
    assert_int_equal(tn_log_end_offset(log), expect);
    check_all(log);
    /* The index files grow with the data, one entry per index_bytes. */
    char p[PATH_MAX];
    seg_path(p, sizeof p, 0, "index");
    uint64_t isize = file_size(p);
    seg_path(p, sizeof p, 0, "timeindex");
    uint64_t tsize = file_size(p);
    assert_true(isize > 0 && isize % 8 == 0 && tsize == isize / 8 * 12);
    assert_true(isize / 8 <= seg_size(0) / c.index_bytes);
    tn_log_close(log);
}

static void test_roll_by_size(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 2000;
    tn_log *log = open_log(NULL, &c, NULL);
    int64_t bases[64];
    for (int i = 0; i < 40; i++)
        bases[i] = append(log, 2, 100, 1000, 5000);
    assert_true(count_files("log") >= 5);
    for (int i = 0; i < 40; i++) {
        uint64_t size = seg_size(bases[i]);
        if (size != UINT64_MAX)
            assert_true(size <= c.segment_bytes && size > 0);
    }
    /* A batch larger than a segment gets one of its own. */
    int segs = count_files("log");
    int64_t big = append(log, 10, 400, 1000, 5000);
    assert_int_equal(count_files("log"), segs + 1);
    assert_true(seg_size(big) > c.segment_bytes);
    append(log, 1, 10, 1000, 5000);
    assert_int_equal(count_files("log"), segs + 2);
    check_all(log);
    tn_log_close(log);
}

static void test_roll_by_age(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_ms = 1000;
    tn_log *log = open_log(NULL, &c, NULL);
    /* Age counts from the first append into the segment. */
    append(log, 1, 10, 1, 5000);
    append(log, 1, 10, 1, 6000);
    assert_int_equal(count_files("log"), 1);
    int64_t b = append(log, 1, 10, 1, 6001);
    assert_int_equal(count_files("log"), 2);
    assert_int_not_equal(seg_size(b), UINT64_MAX);
    /* retain rolls an old active segment too, and never an empty one. */
    assert_int_equal(tn_log_retain(log, 7001), 0);
    assert_int_equal(count_files("log"), 2);
    assert_int_equal(tn_log_retain(log, 7002), 0);
    assert_int_equal(count_files("log"), 3);
    assert_int_not_equal(seg_size(tn_log_end_offset(log)), UINT64_MAX);
    assert_int_equal(tn_log_retain(log, 100000), 0);
    assert_int_equal(count_files("log"), 3);
    check_all(log);
    tn_log_close(log);
}

static void test_retention_by_bytes(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 1000;
    tn_log *log = open_log(NULL, &c, NULL);
    for (int i = 0; i < 30; i++)
        append(log, 1, 200, 1000, 5000);
    /* Segments of three ~280-byte batches: 10 of them. */
    int segs = count_files("log");
    assert_int_equal(segs, 10);
    uint64_t total = 0, first = seg_size(0);
    for (int64_t o = 0; o < 30; o += 3)
        total += seg_size(o);
    tn_log_close(log);

    /* Exactly the oldest segment's worth over: one goes. */
    c.retention_bytes = (int64_t)(total - first);
    log = open_log(NULL, &c, NULL);
    assert_int_equal(tn_log_retain(log, 5000), 1);
    assert_int_equal(tn_log_start_offset(log), 3);
    assert_int_equal(seg_size(0), UINT64_MAX);
    tn_log_slice s;
    check_err(tn_log_read(log, 2, 100, &s), TERN_ENOENT);
    assert_int_equal(check_read(log, 3, 1), 3);
    /* One byte short of dropping another: it stays. */
    assert_int_equal(tn_log_retain(log, 5000), 0);
    tn_log_close(log);

    /* Retention 0 empties everything but the active segment. */
    c.retention_bytes = 0;
    log = open_log(NULL, &c, NULL);
    assert_int_equal(tn_log_retain(log, 5000), 8);
    assert_int_equal(count_files("log"), 1);
    assert_int_equal(count_files("index"), 1);
    assert_int_equal(count_files("timeindex"), 1);
    assert_int_equal(tn_log_start_offset(log), 27);
    assert_int_equal(tn_log_end_offset(log), 30);
    check_all(log);
    append(log, 1, 10, 1000, 5000);
    tn_log_close(log);
    log = open_log(NULL, &c, NULL);
    assert_true(tn_log_start_offset(log) == 27 && tn_log_end_offset(log) == 31);
    tn_log_close(log);
}

static void test_retention_by_time(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 1000;
    c.retention_ms = 10000;
    tn_log *log = open_log(NULL, &c, NULL);
    /* Three batches a segment; segment k holds timestamps 3k..3k+2 s. */
    for (int i = 0; i < 30; i++)
        append(log, 1, 200, 1000 * (int64_t)i, 5000);
    /* now - retention = 12000: segments whose newest is below go (0..3). */
    assert_int_equal(tn_log_retain(log, 22000), 4);
    assert_int_equal(tn_log_start_offset(log), 12);
    /* Nothing else is that old; then all but the active segment is. */
    assert_int_equal(tn_log_retain(log, 22000), 0);
    assert_int_equal(tn_log_retain(log, 1000000), 5);
    assert_int_equal(tn_log_start_offset(log), 27);
    check_all(log);
    tn_log_close(log);
}

static void test_offset_for_time(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.index_bytes = 100;
    c.segment_bytes = 1500;
    tn_log *log = open_log(NULL, &c, NULL);
    assert_int_equal(tn_log_offset_for_time(log, 0), 0);
    /* Mostly rising, with stragglers. */
    int64_t ts[80], base[80];
    for (int i = 0; i < 80; i++) {
        ts[i] = 100 * i + (i % 5 == 3 ? -450 : 0);
        base[i] = append(log, 1 + i % 3, 60, ts[i], 5000);
    }
    for (int64_t t = -100; t <= 8100; t += 7) {
        int64_t want = tn_log_end_offset(log);
        for (int i = 0; i < 80; i++) {
            if (ts[i] >= t) {
                want = base[i];
                break;
            }
        }
        if (tn_log_offset_for_time(log, t) != want)
            fail_msg("offset for time %" PRId64 ": got %" PRId64 ", want %" PRId64, t,
                     tn_log_offset_for_time(log, t), want);
    }
    tn_log_close(log);
}

static void test_reopen(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 3000;
    tn_log *log = open_log(NULL, &c, NULL);
    tn_log_append res;
    for (int i = 0; i < 50; i++) {
        append(log, 1 + i % 4, 50, 1000 + i, 5000);
        check_ok(append_idem(log, 2, 100 + i % 3, 0, 2 * (i / 3), &res));
    }
    int64_t end = tn_log_end_offset(log);
    int segs = count_files("log");
    assert_true(segs > 3);
    assert_int_equal(tn_log_producer_count(log), 3);
    tn_log_close(log);

    tn_log_recovery rec;
    log = open_log(NULL, &c, &rec);
    assert_int_equal(rec.segments, (uint32_t)segs);
    assert_true(rec.truncated_bytes == 0 && rec.indexes_rebuilt == 0);
    assert_true(tn_log_start_offset(log) == 0 && tn_log_end_offset(log) == end);
    assert_int_equal(tn_log_producer_count(log), 3);
    /* Whatever a crashed run left is not known to be durable. */
    assert_int_equal(tn_log_durable_offset(log), 0);
    check_ok(tn_log_sync(log));
    assert_int_equal(tn_log_durable_offset(log), end);
    check_all(log);
    assert_int_equal(append(log, 1, 10, 1, 5000), end);
    tn_log_close(log);
}

/* Builds a log of several segments; the last holds `tail` batches. */
static int64_t build_segments(const tn_log_conf *c, int tail, int64_t *last_base)
{
    tn_log *log = open_log(NULL, c, NULL);
    for (int i = 0; i < 12; i++)
        append(log, 1 + i % 3, 120, 1000 + i, 5000);
    check_ok(tn_log_sync(log));
    /* Force a roll, then fill the last segment, which holds the whole tail. */
    tn_log_close(log);
    tn_log_conf aged = *c;
    aged.segment_ms = 0;
    aged.segment_bytes = 1u << 20;
    log = open_log(NULL, &aged, NULL);
    *last_base = tn_log_end_offset(log);
    for (int i = 0; i < tail; i++) {
        int64_t b = append(log, 1 + i % 4, 30 + 20 * i, 2000 + i, 9000000000000LL);
        if (i == 0)
            assert_int_equal(b, *last_base);
    }
    int64_t end = tn_log_end_offset(log);
    tn_log_close(log);
    return end;
}

static void test_every_truncation_point(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 700;
    c.index_bytes = 100;
    int64_t last_base;
    int64_t end = build_segments(&c, 6, &last_base);
    char path[PATH_MAX];
    seg_path(path, sizeof path, last_base, "log");
    size_t size;
    uint8_t *orig = slurp(path, &size);
    /* Batch boundaries of the last segment and the offsets they end. */
    size_t bound[16] = {0};
    int64_t bend[16] = {last_base};
    int nb = 0;
    for (size_t off = 0; off < size; nb++) {
        tn_batch b;
        check_ok(tn_batch_parse(orig + off, size - off, SIZE_MAX, &b));
        off += tn_batch_size(&b);
        bound[nb + 1] = off;
        bend[nb + 1] = b.base_offset + b.last_offset_delta + 1;
    }
    assert_int_equal(nb, 6);
    assert_int_equal(bend[nb], end);
    /* The appends below must not roll, or the next cut meets a new segment. */
    tn_log_conf keep = c;
    keep.segment_ms = -1;
    keep.segment_bytes = 1u << 20;

    for (size_t cut = 0; cut <= size; cut++) {
        spit(path, orig, cut);
        int k = 0;
        while (k < nb && bound[k + 1] <= cut)
            k++;
        tn_log_recovery rec;
        tn_log *log = open_log(NULL, &keep, &rec);
        if (tn_log_end_offset(log) != bend[k] || rec.truncated_bytes != cut - bound[k])
            fail_msg("cut at %zu: end %" PRId64 " (want %" PRId64 "), cut %" PRIu64 " bytes", cut,
                     tn_log_end_offset(log), bend[k], rec.truncated_bytes);
        assert_int_equal(file_size(path), bound[k]);
        assert_int_equal(tn_log_start_offset(log), 0);
        /* Everything before the cut is there and readable. */
        for (int64_t o = 0; o < tn_log_end_offset(log); o++)
            check_read(log, o, 1);
        assert_int_equal(append(log, 1, 10, 1, 9000000000000LL), bend[k]);
        tn_log_close(log);
    }
    free(orig);
}

static void test_flipped_byte(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 700;
    int64_t last_base;
    int64_t end = build_segments(&c, 3, &last_base);
    char path[PATH_MAX];
    seg_path(path, sizeof path, last_base, "log");
    size_t size;
    uint8_t *orig = slurp(path, &size);
    /* The tail batch starts after the first two. */
    size_t tail = 0;
    int64_t tail_base = 0;
    for (int i = 0; i < 2; i++) {
        tn_batch b;
        check_ok(tn_batch_parse(orig + tail, size - tail, SIZE_MAX, &b));
        tail += tn_batch_size(&b);
        tail_base = b.base_offset + b.last_offset_delta + 1;
    }
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    for (size_t i = tail; i < size; i++) {
        /* The leader epoch is outside the CRC and ignored by the log. */
        if (i - tail >= 12 && i - tail < 16)
            continue;
        memcpy(copy, orig, size);
        copy[i] ^= 0x04;
        spit(path, copy, size);
        tn_log_recovery rec;
        tn_log *log = open_log(NULL, &c, &rec);
        if (tn_log_end_offset(log) != tail_base || rec.truncated_bytes != size - tail)
            fail_msg("flip at %zu: end %" PRId64 ", cut %" PRIu64, i - tail, tn_log_end_offset(log),
                     rec.truncated_bytes);
        tn_log_close(log);
    }
    spit(path, orig, size);
    tn_log *log = open_log(NULL, &c, NULL);
    assert_int_equal(tn_log_end_offset(log), end);
    check_all(log);
    tn_log_close(log);
    free(copy);
    free(orig);
}

static void test_damaged_middle_segment(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 700;
    int64_t last_base;
    build_segments(&c, 3, &last_base);
    int segs = count_files("log");
    assert_true(segs >= 3);
    /* Cut the segment before the last in the middle of its last batch. */
    tn_log *log = open_log(NULL, &c, NULL);
    int64_t prev = check_read(log, last_base - 1, 1);
    tn_log_close(log);
    char path[PATH_MAX];
    int64_t prev_seg = prev;
    while (seg_size(prev_seg) == UINT64_MAX)
        prev_seg--;
    seg_path(path, sizeof path, prev_seg, "log");
    uint64_t size = file_size(path), last_size = seg_size(last_base);
    assert_int_equal(truncate(path, (off_t)size - 5), 0);

    tn_log_recovery rec;
    log = open_log(NULL, &c, &rec);
    assert_int_equal(tn_log_end_offset(log), prev);
    assert_int_equal(rec.segments, (uint32_t)segs - 1);
    assert_int_equal(rec.truncated_bytes, size - 5 - (seg_size(prev_seg)) + last_size);
    assert_int_equal(seg_size(last_base), UINT64_MAX);
    check_all(log);
    assert_int_equal(append(log, 1, 10, 1, 5000), prev);
    tn_log_close(log);
}

static void test_index_rebuild(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 1500;
    c.index_bytes = 100;
    tn_log *log = open_log(NULL, &c, NULL);
    for (int i = 0; i < 30; i++)
        append(log, 2, 100, 1000 + i, 5000);
    tn_log_close(log);
    /* Segment 0 loses its index, the next has a garbled time index, and a
     * stray index without a log lies about. */
    char p[PATH_MAX];
    seg_path(p, sizeof p, 0, "index");
    assert_int_equal(unlink(p), 0);
    int64_t second = 2;
    while (seg_size(second) == UINT64_MAX)
        second += 2;
    seg_path(p, sizeof p, second, "timeindex");
    uint64_t tsize = file_size(p);
    assert_true(tsize > 0);
    int fd = open(p, O_WRONLY);
    assert_int_equal(pwrite(fd, "garbage!", 8, 4), 8);
    close(fd);
    seg_path(p, sizeof p, 999999, "index");
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
    snprintf(p, sizeof p, "%s/notasegment.log", dir);
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);

    tn_log_recovery rec;
    log = open_log(NULL, &c, &rec);
    assert_int_equal(rec.indexes_rebuilt, 2);
    assert_int_equal(rec.truncated_bytes, 0);
    seg_path(p, sizeof p, second, "timeindex");
    assert_int_equal(file_size(p), tsize);
    check_all(log);
    tn_log_close(log);
    log = open_log(NULL, &c, &rec);
    assert_int_equal(rec.indexes_rebuilt, 0);
    tn_log_close(log);
}

static void test_refused_input(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.max_batch_bytes = 600;
    tn_log *log = open_log(NULL, &c, NULL);
    append(log, 3, 10, 1, 5000);
    uint64_t size = seg_size(0);
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_log_append res;

    /* A flipped bit in the records: CORRUPT_MESSAGE, nothing stored. */
    make_batch(&w, 2, 20, 1, -1, -1, -1);
    w.p[w.n - 3] ^= 1;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ECORRUPT);
    assert_int_equal(res.error_code, 2);
    /* The bad one second in a buffer: the good first is not stored either. */
    tn_kw_reset(&w);
    make_batch(&w, 2, 20, 1, -1, -1, -1);
    size_t first = w.n;
    make_batch(&w, 2, 20, 1, -1, -1, -1);
    w.p[first + 30] ^= 1;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ECORRUPT);
    /* Malformed: torn, trailing bytes, bad magic, empty. */
    tn_kw_reset(&w);
    make_batch(&w, 2, 20, 1, -1, -1, -1);
    check_err(tn_log_append_batches(log, w.p, w.n - 1, 5000, &res), TERN_EPROTO);
    assert_int_equal(res.error_code, 2);
    tn_kw_raw(&w, "xyz", 3);
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_EPROTO);
    w.n -= 3;
    w.p[16] = 1;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_EPROTO);
    check_err(tn_log_append_batches(log, w.p, 0, 5000, &res), TERN_EPROTO);
    /* Too large. */
    tn_kw_reset(&w);
    make_batch(&w, 2, 400, 1, -1, -1, -1);
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_EMSGSIZE);
    assert_int_equal(res.error_code, 10);
    assert_int_equal(res.base_offset, -1);

    assert_int_equal(tn_log_end_offset(log), 3);
    assert_int_equal(seg_size(0), size);
    /* Several good batches in one buffer are stored together. */
    tn_kw_reset(&w);
    make_batch(&w, 2, 20, 1, -1, -1, -1);
    make_batch(&w, 3, 20, 1, -1, -1, -1);
    check_ok(tn_log_append_batches(log, w.p, w.n, 5000, &res));
    assert_int_equal(res.base_offset, 3);
    assert_int_equal(tn_log_end_offset(log), 8);
    assert_int_equal(check_read(log, 5, 1), 5);
    tn_kw_free(&w);
    tn_log_close(log);
}

static void test_idempotent_producer(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    tn_log *log = open_log(NULL, &c, NULL);
    tn_log_append res;
    check_ok(append_idem(log, 5, 7, 0, 0, &res)); /* seq 0..4 at 0..4 */
    assert_true(res.base_offset == 0 && !res.duplicate);
    uint64_t size = seg_size(0);
    /* A retry: the original offset, nothing written. */
    check_ok(append_idem(log, 5, 7, 0, 0, &res));
    assert_true(res.base_offset == 0 && res.duplicate == 1);
    assert_true(tn_log_end_offset(log) == 5 && seg_size(0) == size);
    check_ok(append_idem(log, 3, 7, 0, 5, &res)); /* seq 5..7 at 5..7 */
    assert_true(res.base_offset == 5 && !res.duplicate);
    /* Gaps and overlaps that are not retries. */
    check_err(append_idem(log, 1, 7, 0, 9, &res), TERN_ESTATE);
    assert_int_equal(res.error_code, 45);
    check_err(append_idem(log, 2, 7, 0, 7, &res), TERN_ESTATE);
    assert_int_equal(res.error_code, 45);
    check_err(append_idem(log, 1, 7, 0, -1, &res), TERN_ESTATE);
    assert_int_equal(tn_log_end_offset(log), 8);
    /* Five batches are remembered, the sixth newest is not. */
    for (int i = 0; i < 5; i++)
        check_ok(append_idem(log, 1, 7, 0, 8 + i, &res));
    check_ok(append_idem(log, 1, 7, 0, 8, &res));
    assert_true(res.duplicate && res.base_offset == 8);
    check_err(append_idem(log, 3, 7, 0, 5, &res), TERN_ESTATE);
    /* Epochs: an older one is fenced, a newer one starts afresh. */
    check_err(append_idem(log, 1, 7, -1, 13, &res), TERN_ESTATE);
    assert_int_equal(res.error_code, 47);
    check_ok(append_idem(log, 1, 7, 1, 0, &res));
    assert_int_equal(res.base_offset, 13);
    check_err(append_idem(log, 1, 7, 0, 13, &res), TERN_ESTATE);
    assert_int_equal(res.error_code, 47);
    /* Another producer, first seen mid-sequence, wrapping past INT32_MAX. */
    check_ok(append_idem(log, 3, 9, 4, INT32_MAX - 1, &res)); /* ends at 0 */
    check_ok(append_idem(log, 2, 9, 4, 1, &res));
    check_ok(append_idem(log, 2, 9, 4, 1, &res));
    assert_true(res.duplicate && res.base_offset == 17);
    assert_int_equal(tn_log_producer_count(log), 2);
    /* Two batches of one producer in one buffer chain; a retry in a
     * buffer with others is refused. */
    tn_kw w;
    tn_kw_init(&w, 0);
    make_batch(&w, 2, 10, 1, 9, 4, 3);
    make_batch(&w, 2, 10, 1, 9, 4, 5);
    check_ok(tn_log_append_batches(log, w.p, w.n, 1000, &res));
    assert_true(res.base_offset == 19 && !res.duplicate && tn_log_end_offset(log) == 23);
    tn_kw_reset(&w);
    make_batch(&w, 2, 10, 1, 9, 4, 5);
    make_batch(&w, 2, 10, 1, 9, 4, 7);
    check_err(tn_log_append_batches(log, w.p, w.n, 1000, &res), TERN_ESTATE);
    tn_kw_reset(&w);
    make_batch(&w, 2, 10, 1, 9, 4, 7);
    make_batch(&w, 2, 10, 1, 9, 4, 10);
    check_err(tn_log_append_batches(log, w.p, w.n, 1000, &res), TERN_ESTATE);
    assert_int_equal(tn_log_end_offset(log), 23);
    tn_kw_free(&w);
    tn_log_close(log);

    /* The state comes back from the batches on disk. */
    log = open_log(NULL, &c, NULL);
    assert_int_equal(tn_log_producer_count(log), 2);
    check_ok(append_idem(log, 2, 9, 4, 5, &res));
    assert_true(res.duplicate && res.base_offset == 21);
    check_err(append_idem(log, 2, 9, 4, 8, &res), TERN_ESTATE);
    check_err(append_idem(log, 1, 7, 0, 14, &res), TERN_ESTATE);
    assert_int_equal(res.error_code, 47);
    check_ok(append_idem(log, 1, 7, 1, 0, &res));
    assert_true(res.duplicate && res.base_offset == 13);
    check_ok(append_idem(log, 1, 7, 1, 1, &res));
    assert_int_equal(res.base_offset, 23);
    tn_log_close(log);
}

static void test_producers_expire(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 400;
    c.retention_bytes = 0;
    tn_log *log = open_log(NULL, &c, NULL);
    tn_log_append res;
    for (int i = 0; i < 10; i++)
        check_ok(append_idem(log, 2, 100 + i, 0, 0, &res));
    assert_int_equal(tn_log_producer_count(log), 10);
    assert_true(tn_log_retain(log, 5000) > 0);
    /* Those whose batches retention deleted are forgotten. */
    int64_t start = tn_log_start_offset(log);
    assert_int_equal(tn_log_producer_count(log), (int)(10 - start / 2));
    tn_log_close(log);
}

static void test_disk_full(void **state)
{
    (void)state;
    fault f;
    fault_init(&f);
    tn_log_conf c = conf_small();
    tn_log *log = open_log(&f.d, &c, NULL);
    append(log, 2, 50, 1, 5000);
    uint64_t size = seg_size(0);
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_log_append res;

    /* ENOSPC at once. */
    make_batch(&w, 3, 500, 1, -1, -1, -1);
    f.fail_writes = 1;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ENOSPC);
    assert_int_equal(res.error_code, 56);
    assert_true(tn_log_end_offset(log) == 2 && seg_size(0) == size);
    /* Half written, then ENOSPC: cut back. */
    f.fail_writes = 1;
    f.short_write = 700;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ENOSPC);
    assert_true(tn_log_end_offset(log) == 2 && seg_size(0) == size);
    /* EIO is a storage error of another kind. */
    f.fail_writes = 1;
    f.write_errno = EIO;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ESYSTEM);
    assert_int_equal(res.error_code, 56);
    /* Still valid and appendable. */
    check_ok(tn_log_append_batches(log, w.p, w.n, 5000, &res));
    assert_int_equal(res.base_offset, 2);
    append(log, 1, 10, 1, 5000);
    check_all(log);
    tn_log_close(log);
    tn_log_recovery rec;
    log = open_log(&f.d, &c, &rec);
    assert_true(rec.truncated_bytes == 0 && tn_log_end_offset(log) == 6);

    /* A write that fails and cannot be cut back closes the log to appends. */
    f.fail_writes = 1;
    f.short_write = 100;
    f.write_errno = ENOSPC;
    f.fail_truncates = 1;
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ESYSTEM);
    assert_int_equal(res.error_code, 56);
    check_err(tn_log_append_batches(log, w.p, w.n, 5000, &res), TERN_ESYSTEM);
    assert_int_equal(res.error_code, 56);
    tn_log_close(log);
    /* The next open cuts the torn bytes. */
    log = open_log(&f.d, &c, &rec);
    assert_true(rec.truncated_bytes == 100 && tn_log_end_offset(log) == 6);
    check_all(log);
    tn_kw_free(&w);
    tn_log_close(log);
}

static void test_sync(void **state)
{
    (void)state;
    fault f;
    fault_init(&f);
    tn_log_conf c = conf_small();
    c.segment_bytes = 1000;
    tn_log *log = open_log(&f.d, &c, NULL);
    int fds[8];
    int64_t upto;
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 0);
    append(log, 2, 100, 1, 5000);
    assert_int_equal(tn_log_durable_offset(log), 0);
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 1);
    assert_int_equal(upto, 2);
    assert_int_equal(fdatasync(fds[0]), 0);
    close(fds[0]);
    /* A write racing the sync stays unsynced. */
    append(log, 2, 100, 1, 5000);
    tn_log_sync_done(log, upto);
    assert_int_equal(tn_log_durable_offset(log), 2);
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 1);
    assert_int_equal(upto, 4);
    close(fds[0]);
    tn_log_sync_done(log, upto);
    assert_int_equal(tn_log_durable_offset(log), 4);
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 0);

    /* A rolled, unsynced segment stays in the set (285-byte batches, three
     * to a segment). */
    for (int i = 0; i < 3; i++)
        append(log, 2, 100, 1, 5000);
    int64_t end = tn_log_end_offset(log);
    assert_int_equal(count_files("log"), 2);
    int64_t second = 4;
    while (seg_size(second) == UINT64_MAX)
        second += 2;
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 2);
    assert_int_equal(upto, end);
    close(fds[0]);
    close(fds[1]);
    /* With room for one: what it covers ends where the next begins. */
    assert_int_equal(tn_log_sync_take(log, fds, 1, &upto), 1);
    assert_int_equal(upto, second);
    close(fds[0]);
    tn_log_sync_done(log, upto);
    assert_int_equal(tn_log_durable_offset(log), second);
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 1);
    assert_int_equal(upto, end);
    close(fds[0]);

    /* A failed fdatasync is reported and changes nothing. */
    f.fail_syncs = 1;
    check_err(tn_log_sync(log), TERN_ESYSTEM);
    assert_int_equal(tn_log_durable_offset(log), second);
    int before = f.syncs;
    check_ok(tn_log_sync(log));
    assert_int_equal(f.syncs, before + 1);
    assert_int_equal(tn_log_durable_offset(log), end);
    check_ok(tn_log_sync(log));
    assert_int_equal(f.syncs, before + 1);
    tn_log_close(log);

    /* Reopened, every segment is to be synced once more. */
    log = open_log(&f.d, &c, NULL);
    assert_int_equal(tn_log_durable_offset(log), 0);
    assert_int_equal(tn_log_sync_take(log, fds, 8, &upto), 2);
    assert_int_equal(upto, end);
    close(fds[0]);
    close(fds[1]);
    tn_log_sync_done(log, upto);
    assert_int_equal(tn_log_durable_offset(log), end);
    tn_log_close(log);
}

static void test_destroy(void **state)
{
    (void)state;
    tn_log_conf c = conf_small();
    c.segment_bytes = 500;
    tn_log *log = open_log(NULL, &c, NULL);
    for (int i = 0; i < 10; i++)
        append(log, 1, 100, 1, 5000);
    /* An index a crash orphaned goes too. */
    char p[PATH_MAX];
    seg_path(p, sizeof p, 12345, "index");
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    check_ok(tn_log_destroy(log));
    struct stat st;
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_by_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_middle_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_rebuild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producers_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
