/* The disk floor of a durable broker: how fast this machine can append
 * record batches to a file and make each one durable, measured in the same
 * run, on the same filesystem, as the broker it is compared with.
 *
 * Each batch holds N records of S value bytes framed as librdkafka frames
 * them for a produce request (Kafka v2: a 61-byte batch header, then per
 * record a varint length, attributes, timestamp and offset deltas, a null
 * key, the value length and value, no headers), so the file grows by as
 * many bytes as the broker's log does for the same records. The CRC field
 * is left zero: the floor is the disk alone, not the broker's CPU work.
 *
 * Every batch is one write() appended to a fresh file in DIR, followed by
 * fdatasync() (none with --nosync: the fsync=never comparison). The file
 * grows as it is written, as a log segment does, so each fdatasync also
 * commits the new size. The clock runs from the first write to the return
 * of the last fdatasync; each batch's write+sync time gives p50/p99.
 *
 *   floor --dir DIR --size S --batch N --count M [--nosync] [--json]
 * prints one line: key=value, or a JSON object with --json. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_HEADER 61

const char bk_prog[] = "floor";

/* Kafka's signed varint (zigzag, 7 bits a byte); returns bytes written. */
static size_t put_varint(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

/* Encodes a batch of n records of size value bytes into buf (large enough:
 * BATCH_HEADER + n * (size + 32)); returns its length. */
static size_t encode_batch(uint8_t *buf, unsigned n, size_t size)
{
    uint8_t *p = buf + BATCH_HEADER, body[32];
    for (unsigned i = 0; i < n; i++) {
        size_t b = 0;
        body[b++] = 0;                            /* attributes */
        b += put_varint(body + b, 0);             /* timestamp delta */
        b += put_varint(body + b, (int64_t)i);    /* offset delta */
        b += put_varint(body + b, -1);            /* null key */
        b += put_varint(body + b, (int64_t)size); /* value length */
        p += put_varint(p, (int64_t)(b + size + 1));
        memcpy(p, body, b);
        p += b;
        /* Not zeros: no layer below gets to shortcut them. */
        for (size_t j = 0; j < size; j++)
            p[j] = (uint8_t)(i * 131 + j * 7 + 1);
        p += size;
        *p++ = 0; /* no headers */
    }
    size_t len = (size_t)(p - buf);
    memset(buf, 0, BATCH_HEADER);
    bk_put_be(buf + 8, len - 12, 4);     /* batch length: after this field */
    buf[16] = 2;                         /* magic */
    bk_put_be(buf + 23, n - 1, 4);       /* last offset delta */
    bk_put_be(buf + 43, UINT64_MAX, 8);  /* producer id -1 */
    bk_put_be(buf + 51, 0xffff, 2);      /* producer epoch -1 */
    bk_put_be(buf + 53, 0xffffffffu, 4); /* base sequence -1 */
    bk_put_be(buf + 57, n, 4);           /* record count */
    return len;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static const char usage_text[] =
    "usage: floor --dir DIR [--size S] [--batch N] [--count M] [--nosync] [--json]\n"
    "  --dir DIR     where to write (the broker's filesystem); a fresh file, removed after\n"
    "  --size S      value bytes per record (default 100)\n"
    "  --batch N     records per batch: one write + fdatasync each (default 64)\n"
    "  --count M     records in all (default 200000)\n"
    "  --nosync      write only, no fdatasync\n"
    "  --json        print one JSON object instead of key=value\n";

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned long size = 100, batch = 64, count = 200000;
    int json = 0, nosync = 0;
    const struct bk_opt opts[] = {
        {"--dir", BK_STR, &dir, 0},
        {"--size", BK_COUNT, &size, 1u << 20},
        {"--batch", BK_COUNT, &batch, 1u << 16},
        {"--count", BK_COUNT, &count, 1ul << 32},
        {"--nosync", BK_FLAG, &nosync, 0},
        {"--json", BK_FLAG, &json, 0},
    };
    bk_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof opts[0], usage_text);
    int sync = !nosync;
    if (!dir)
        bk_usage(usage_text, 2);

    unsigned long nbatches = (count + batch - 1) / batch;
    uint8_t *buf = malloc(BATCH_HEADER + batch * (size + 32));
    uint64_t *lat = malloc(nbatches * sizeof *lat);
    char path[4096];
    if (!buf || !lat)
        bk_die("out of memory");
    if ((size_t)snprintf(path, sizeof path, "%s/floor-%ld.log", dir, (long)getpid()) >= sizeof path)
        bk_die("--dir too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        bk_die("open %s: %s", path, strerror(errno));

    size_t full_len = encode_batch(buf, (unsigned)batch, size);
    double cpu0 = bk_cpu_s();
    uint64_t bytes = 0, start = bk_now_ns();
    for (unsigned long b = 0; b < nbatches; b++) {
        unsigned long n = b + 1 < nbatches ? batch : count - b * batch;
        size_t len = n == batch ? full_len : encode_batch(buf, (unsigned)n, size);
        bk_put_be(buf, (uint64_t)b * batch, 8); /* base offset */
        uint64_t t0 = bk_now_ns();
        bk_write_all(fd, buf, len);
        if (sync && fdatasync(fd) != 0)
            bk_die("fdatasync: %s", strerror(errno));
        lat[b] = bk_now_ns() - t0;
        bytes += len;
    }
    double secs = (double)(bk_now_ns() - start) / 1e9, cpu = bk_cpu_s() - cpu0;
    if (close(fd) != 0)
        bk_die("close: %s", strerror(errno));
    if (unlink(path) != 0)
        bk_die("unlink %s: %s", path, strerror(errno));

    qsort(lat, nbatches, sizeof *lat, cmp_u64);
    double p50 = (double)lat[nbatches / 2] / 1e6;
    double p99 = (double)lat[(nbatches * 99) / 100] / 1e6;
    double file_mbs = (double)bytes / secs / 1e6;
    struct bk_line l = {json, 0};
    bk_line_str(&l, "sync", sync ? "fdatasync" : "none");
    bk_line_num(&l, "size", "%lu", size);
    bk_line_num(&l, "batch", "%lu", batch);
    bk_line_num(&l, "records", "%lu", count);
    bk_line_num(&l, "batches", "%lu", nbatches);
    bk_line_num(&l, "bytes", "%llu", (unsigned long long)bytes);
    bk_line_rate(&l, count, size, secs);
    bk_line_num(&l, "file_mb_per_s", "%.3f", file_mbs);
    bk_line_num(&l, "p50_ms", "%.4f", p50);
    bk_line_num(&l, "p99_ms", "%.4f", p99);
    bk_line_num(&l, "cpu_s", "%.3f", cpu);
    bk_line_end(&l);
    free(buf);
    free(lat);
    return 0;
}
