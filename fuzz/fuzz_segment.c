/* Fuzzes the segment reader as a restart meets it: the input becomes the
 * files of a log directory and the log is opened, which recovers it.
 *
 * Input: byte 0 picks the layout.
 *  - bit 0 clear: the rest is the only, active segment
 *    00000000000000000000.log.
 *  - bit 0 set: bytes 1-2, 3-4 and 5-6 (big-endian) give the lengths of
 *    an .index, a .timeindex and the offset where an empty active segment
 *    starts; the index bytes follow, then the time index bytes, and the
 *    rest is segment 0, which is then not the active one.
 *  - bit 1 set: the CRC of every batch that parses is made right first,
 *    so mutations inside records get past the CRC check.
 *
 * Checks on every input:
 *  - opening never fails over content and reads nothing out of bounds;
 *  - what is left is whole batches with dense offsets, from the start
 *    offset to the end offset, the active segment's all CRC-valid;
 *  - every batch reads back through tn_log_read and the time lookup stays
 *    within the log; a new batch appends at the end offset;
 *  - tn_batch_parse and the record iterator walk the raw segment bytes
 *    without reading past a batch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/endian.h"
#include "broker/log.h"
#include "kafka/batch.h"

static char base_dir[64];
static char dir[96];
static tn_disk disk;

/* Syncing costs time and proves nothing here. */
static int no_sync(void *ctx, int fd)
{
    (void)ctx;
    (void)fd;
    return 0;
}

static void remove_base(void)
{
    rmdir(base_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct stat st;
    const char *tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(base_dir, sizeof base_dir, "%s/tern-fuzz-seg-XXXXXX", tmp);
    if (mkdtemp(base_dir) == NULL) {
        fprintf(stderr, "fuzz_segment: cannot make a directory: %s\n", strerror(errno));
        abort();
    }
    atexit(remove_base);
    snprintf(dir, sizeof dir, "%s/log", base_dir);
    disk = *tn_disk_os();
    disk.fdatasync = no_sync;
    return 0;
}

static void put_file(int64_t base, const char *ext, const uint8_t *p, size_t n)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".%s", dir, base, ext);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n))
        abort();
    close(fd);
}

/* The raw bytes, batch by batch, as a consumer would walk them. */
static void walk_batches(const uint8_t *p, size_t n)
{
    while (n > 0) {
        tn_batch b;
        if (tn_batch_parse(p, n, SIZE_MAX, &b) != TERN_OK)
            return;
        size_t size = tn_batch_size(&b);
        if (size > n)
            abort();
        (void)tn_batch_crc_ok(p, &b);
        tn_record_iter it;
        tn_record rec;
        tn_record_iter_init(&it, p, &b);
        while (tn_record_iter_next(&it, &rec) == 1) {
            const char *lo = (const char *)p, *hi = lo + size;
            if ((rec.key.len >= 0 && (rec.key.p < lo || rec.key.p + rec.key.len > hi)) ||
                (rec.value.len >= 0 && (rec.value.p < lo || rec.value.p + rec.value.len > hi)) ||
                (const char *)rec.headers < lo || (const char *)rec.headers + rec.headers_len > hi)
                abort();
        }
        p += size;
        n -= size;
    }
}

/* Rewrites the CRC of each batch that parses. */
static void fix_crcs(uint8_t *p, size_t n)
{
    tn_batch b;
    while (tn_batch_parse(p, n, SIZE_MAX, &b) == TERN_OK) {
        size_t size = tn_batch_size(&b);
        tn_put_be32(p + 17, tern_crc32c(0, p + 21, size - 21));
        p += size;
        n -= size;
    }
}

/* A copy of the segment bytes with fixed CRCs (exactly n bytes, so ASan
 * sees a read past them). */
static uint8_t *copy_fixed(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (c == NULL)
        abort();
    memcpy(c, p, n);
    fix_crcs(c, n);
    return c;
}

static int cmp_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_log_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n == 24 && strcmp(d->d_name + 20, ".log") == 0;
}

/* Reads back each remaining segment file: whole batches, dense offsets
 * from start to end, every one found by tn_log_read. */
static void check_files(tn_log *log)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_log_file, cmp_name);
    if (n <= 0)
        abort();
    int64_t expect = tn_log_start_offset(log);
    for (int i = 0; i < n; i++) {
        char path[sizeof dir + 256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0)
            abort();
        size_t len = (size_t)st.st_size;
        uint8_t *p = malloc(len ? len : 1);
        if (p == NULL || (len > 0 && read(fd, p, len) != (ssize_t)len))
            abort();
        close(fd);
        if (strtoll(names[i]->d_name, NULL, 10) != expect)
            abort();
        for (size_t off = 0; off < len;) {
            tn_batch b;
            if (tn_batch_parse(p + off, len - off, SIZE_MAX, &b) != TERN_OK ||
                b.base_offset != expect || (i == n - 1 && !tn_batch_crc_ok(p + off, &b)))
                abort();
            int64_t last = b.base_offset + b.last_offset_delta;
            tn_log_slice s;
            if (tn_log_read(log, last, 1, &s) != TERN_OK || s.pos != off ||
                s.len != tn_batch_size(&b))
                abort();
            if (tn_log_read(log, b.base_offset, 1u << 20, &s) != TERN_OK || s.pos != off ||
                s.len < tn_batch_size(&b) || s.pos + s.len > len)
                abort();
            int64_t at = tn_log_offset_for_time(log, b.max_timestamp);
            if (at < tn_log_start_offset(log) || at > b.base_offset)
                abort();
            expect = last + 1;
            off += tn_batch_size(&b);
        }
        free(p);
        free(names[i]);
    }
    free(names);
    if (expect != tn_log_end_offset(log))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *log_bytes = NULL;
    int layered = data[0] & 1, crcs = data[0] & 2;
    data++;
    size--;
    if (mkdir(dir, 0755) != 0)
        abort();
    if (layered) {
        if (size < 6)
            size = 0;
        size_t ilen = size >= 6 ? tn_get_be16(data) : 0;
        size_t tlen = size >= 6 ? tn_get_be16(data + 2) : 0;
        int64_t next = size >= 6 ? tn_get_be16(data + 4) : 0;
        data += size >= 6 ? 6 : 0;
        size -= size >= 6 ? 6 : 0;
        ilen = ilen < size ? ilen : size;
        put_file(0, "index", data, ilen);
        data += ilen;
        size -= ilen;
        tlen = tlen < size ? tlen : size;
        put_file(0, "timeindex", data, tlen);
        data += tlen;
        size -= tlen;
        if (crcs)
            data = log_bytes = copy_fixed(data, size);
        put_file(0, "log", data, size);
        if (next > 0)
            put_file(next, "log", NULL, 0);
    } else {
        if (crcs)
            data = log_bytes = copy_fixed(data, size);
        put_file(0, "log", data, size);
    }
    walk_batches(data, size);

    tn_log_conf conf;
    tn_log_conf_default(&conf);
    conf.index_bytes = 64;
    tn_log *log;
    tn_log_recovery rec;
    if (tn_log_open(&disk, dir, &conf, &log, &rec) != TERN_OK)
        abort();
    if (tn_log_start_offset(log) > tn_log_end_offset(log) || rec.truncated_bytes > size)
        abort();
    check_files(log);

    /* The recovered log takes new batches at its end. */
    static const tn_record_in one = {"k", 1, "v", 1};
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_batch_build(&w, &one, 1, 1, -1, -1, -1);
    tn_log_append res;
    int64_t end = tn_log_end_offset(log);
    if (w.err || tn_log_append_batches(log, w.p, w.n, 1, &res) != TERN_OK || res.base_offset != end)
        abort();
    tn_kw_free(&w);
    if (tn_log_destroy(log) != TERN_OK)
        abort();
    free(log_bytes);
    return 0;
}
