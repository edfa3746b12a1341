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
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCH_HEADER 61

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("floor: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* User + system CPU seconds of this process. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned long parse_count(const char *opt, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || errno || *end || v == 0 || v > max)
        die("%s wants a number from 1 to %lu, not '%s'", opt, max, s);
    return v;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

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
    put_be(buf + 8, len - 12, 4);     /* batch length: after this field */
    buf[16] = 2;                      /* magic */
    put_be(buf + 23, n - 1, 4);       /* last offset delta */
    put_be(buf + 43, UINT64_MAX, 8);  /* producer id -1 */
    put_be(buf + 51, 0xffff, 2);      /* producer epoch -1 */
    put_be(buf + 53, 0xffffffffu, 4); /* base sequence -1 */
    put_be(buf + 57, n, 4);           /* record count */
    return len;
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fputs("usage: floor --dir DIR [--size S] [--batch N] [--count M] [--nosync] [--json]\n"
          "  --dir DIR     where to write (the broker's filesystem); a fresh file, removed after\n"
          "  --size S      value bytes per record (default 100)\n"
          "  --batch N     records per batch: one write + fdatasync each (default 64)\n"
          "  --count M     records in all (default 200000)\n"
          "  --nosync      write only, no fdatasync\n"
          "  --json        print one JSON object instead of key=value\n",
          f);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned long size = 100, batch = 64, count = 200000;
    int json = 0, sync = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(a, "--size") == 0 && i + 1 < argc)
            size = parse_count(a, argv[++i], 1u << 20);
        else if (strcmp(a, "--batch") == 0 && i + 1 < argc)
            batch = parse_count(a, argv[++i], 1u << 16);
        else if (strcmp(a, "--count") == 0 && i + 1 < argc)
            count = parse_count(a, argv[++i], 1ul << 32);
        else if (strcmp(a, "--nosync") == 0)
            sync = 0;
        else if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }

    unsigned long nbatches = (count + batch - 1) / batch;
    uint8_t *buf = malloc(BATCH_HEADER + batch * (size + 32));
    uint64_t *lat = malloc(nbatches * sizeof *lat);
    char path[4096];
    if (!buf || !lat)
        die("out of memory");
    if ((size_t)snprintf(path, sizeof path, "%s/floor-%ld.log", dir, (long)getpid()) >= sizeof path)
        die("--dir too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));

    size_t full_len = encode_batch(buf, (unsigned)batch, size);
    double cpu0 = cpu_s();
    uint64_t bytes = 0, start = now_ns();
    for (unsigned long b = 0; b < nbatches; b++) {
        unsigned long n = b + 1 < nbatches ? batch : count - b * batch;
        size_t len = n == batch ? full_len : encode_batch(buf, (unsigned)n, size);
        put_be(buf, (uint64_t)b * batch, 8); /* base offset */
        uint64_t t0 = now_ns();
        write_all(fd, buf, len);
        if (sync && fdatasync(fd) != 0)
            die("fdatasync: %s", strerror(errno));
        lat[b] = now_ns() - t0;
        bytes += len;
    }
    double secs = (double)(now_ns() - start) / 1e9, cpu = cpu_s() - cpu0;
    if (close(fd) != 0)
        die("close: %s", strerror(errno));
    if (unlink(path) != 0)
        die("unlink %s: %s", path, strerror(errno));

    qsort(lat, nbatches, sizeof *lat, cmp_u64);
    double p50 = (double)lat[nbatches / 2] / 1e6;
    double p99 = (double)lat[(nbatches * 99) / 100] / 1e6;
    double rate = (double)count / secs;
    double mbs = (double)count * (double)size / secs / 1e6;
    double file_mbs = (double)bytes / secs / 1e6;
    if (json)
        printf("{\"sync\":\"%s\",\"size\":%lu,\"batch\":%lu,\"records\":%lu,\"batches\":%lu,"
               "\"bytes\":%llu,\"seconds\":%.6f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
               "\"file_mb_per_s\":%.3f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"cpu_s\":%.3f}\n",
               sync ? "fdatasync" : "none", size, batch, count, nbatches, (unsigned long long)bytes,
               secs, rate, mbs, file_mbs, p50, p99, cpu);
    else
        printf(
            "sync=%s size=%lu batch=%lu records=%lu batches=%lu bytes=%llu seconds=%.6f "
            "msgs_per_s=%.1f mb_per_s=%.3f file_mb_per_s=%.3f p50_ms=%.4f p99_ms=%.4f cpu_s=%.3f\n",
            sync ? "fdatasync" : "none", size, batch, count, nbatches, (unsigned long long)bytes,
            secs, rate, mbs, file_mbs, p50, p99, cpu);
    free(buf);
    free(lat);
    return 0;
}
