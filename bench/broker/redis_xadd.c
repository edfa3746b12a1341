/* Redis streams as a peer of the broker: XADD throughput, pipelined, with
 * whatever appendfsync the server was started with.
 *
 * One connection sends batches of N commands `XADD KEY * v VALUE` (VALUE of
 * S bytes) in one write each, then reads the N replies before the next batch:
 * the batch is the unit a Kafka producer hands the broker in one produce
 * request. An untimed warm-up entry goes first. Every reply must be a stream
 * ID (a bulk string); an error reply fails the run, and at the end XLEN must
 * count every entry. The clock runs from the first batch's write to the last
 * batch's last reply. Each value starts with its sequence number; the rest
 * is filler that is not all zeros.
 *
 *   redis_xadd --port P [--key K] --size S --batch N --count M [--json]
 * prints one line: key=value, or a JSON object with --json. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536

const char bk_prog[] = "redis_xadd";

/* A growable byte buffer: the outgoing batch, or replies read so far. */
struct buf {
    char *p;
    size_t len, cap, pos; /* pos: how much of it has been consumed */
};

static void reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    if (!(b->p = realloc(b->p, cap)))
        bk_die("out of memory");
    b->cap = cap;
}

static void append(struct buf *b, const void *p, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Appends a command as a RESP array of bulk strings. */
static void command(struct buf *b, int argc, const char *const *argv, const size_t *lens)
{
    char head[32];
    append(b, head, (size_t)snprintf(head, sizeof head, "*%d\r\n", argc));
    for (int i = 0; i < argc; i++) {
        append(b, head, (size_t)snprintf(head, sizeof head, "$%zu\r\n", lens[i]));
        append(b, argv[i], lens[i]);
        append(b, "\r\n", 2);
    }
}

/* Reads more of the server's replies into b, dropping what was consumed. */
static void fill(int fd, struct buf *b)
{
    if (b->pos > 0) {
        memmove(b->p, b->p + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
    }
    reserve(b, READ_CHUNK);
    for (;;) {
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bk_die("read: %s", strerror(errno));
        if (n == 0)
            bk_die("the server closed the connection");
        b->len += (size_t)n;
        return;
    }
}

/* The next reply line (without CRLF) of b, read from fd as needed. */
static const char *line(int fd, struct buf *b, size_t *len)
{
    for (;;) {
        char *start = b->p + b->pos;
        char *crlf = b->len > b->pos ? memmem(start, b->len - b->pos, "\r\n", 2) : NULL;
        if (crlf) {
            *len = (size_t)(crlf - start);
            b->pos += *len + 2;
            return start;
        }
        fill(fd, b);
    }
}

/* Reads one reply; it must be of the given type ('$' or ':'). Bulk strings
 * are skipped; returns an integer reply's value. */
static long long reply(int fd, struct buf *b, char type)
{
    size_t len;
    const char *l = line(fd, b, &len);
    if (len == 0)
        bk_die("empty reply line");
    if (l[0] == '-')
        bk_die("error reply: %.*s", (int)len, l);
    if (l[0] != type)
        bk_die("unexpected reply: %.*s", (int)(len < 80 ? len : 80), l);
    char *end;
    long long v = strtoll(l + 1, &end, 10);
    if (end != l + len)
        bk_die("bad reply header: %.*s", (int)(len < 80 ? len : 80), l);
    if (type == '$') {
        if (v <= 0)
            bk_die("XADD returned no ID");
        while (b->len - b->pos < (size_t)v + 2)
            fill(fd, b);
        if (memcmp(b->p + b->pos + v, "\r\n", 2) != 0)
            bk_die("bulk reply without CRLF");
        b->pos += (size_t)v + 2;
    }
    return v;
}

static int connect_to(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        bk_die("connect 127.0.0.1:%d: %s", port, strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Appends n XADDs numbered from seq to b. */
static void xadds(struct buf *b, const char *key, char *value, size_t size, uint64_t seq,
                  unsigned long n)
{
    const char *argv[] = {"XADD", key, "*", "v", value};
    size_t lens[] = {4, strlen(key), 1, 1, size};
    for (unsigned long i = 0; i < n; i++) {
        bk_put_be(value, seq + i, 8);
        command(b, 5, argv, lens);
    }
}

static const char usage_text[] =
    "usage: redis_xadd --port P [--key K] [--size S] [--batch N] [--count M] [--json]\n"
    "  --port P    the Redis server on 127.0.0.1\n"
    "  --key K     the stream (default bench)\n"
    "  --size S    value bytes per entry, at least 8 (default 100)\n"
    "  --batch N   XADDs per pipelined write (default 64)\n"
    "  --count M   entries after the warm-up entry (default 200000)\n"
    "  --json      one JSON object instead of key=value\n";

int main(int argc, char **argv)
{
    const char *key = "bench";
    unsigned long port = 0, size = 100, batch = 64, count = 200000;
    int json = 0;

    const struct bk_opt opts[] = {
        {"--port", BK_COUNT, &port, 65535},       {"--key", BK_STR, &key, 0},
        {"--size", BK_COUNT, &size, 1u << 20},    {"--batch", BK_COUNT, &batch, 1000000},
        {"--count", BK_COUNT, &count, 100000000}, {"--json", BK_FLAG, &json, 0},
    };
    bk_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof opts[0], usage_text);
    if (!port || size < 8)
        bk_usage(usage_text, 2);

    int fd = connect_to((int)port);
    struct buf out = {0}, in = {0};
    char *value = malloc(size);
    if (!value)
        bk_die("out of memory");
    for (size_t i = 0; i < size; i++)
        value[i] = (char)(i * 131 + 7);

    xadds(&out, key, value, size, 0, 1);
    bk_write_all(fd, out.p, out.len);
    reply(fd, &in, '$');

    double cpu0 = bk_cpu_s();
    uint64_t t0 = bk_now_ns();
    for (uint64_t seq = 1; seq <= count; seq += batch) {
        unsigned long n = count - seq + 1 < batch ? (unsigned long)(count - seq + 1) : batch;
        out.len = 0;
        xadds(&out, key, value, size, seq, n);
        bk_write_all(fd, out.p, out.len);
        for (unsigned long i = 0; i < n; i++)
            reply(fd, &in, '$');
    }
    double secs = (double)(bk_now_ns() - t0) / 1e9, cpu = bk_cpu_s() - cpu0;

    const char *xlen[] = {"XLEN", key};
    size_t xlen_lens[] = {4, strlen(key)};
    out.len = 0;
    command(&out, 2, xlen, xlen_lens);
    bk_write_all(fd, out.p, out.len);
    long long entries = reply(fd, &in, ':');
    if (entries != (long long)count + 1)
        bk_die("XLEN %s is %lld after %lu entries", key, entries, count + 1);

    struct bk_line l = {json, 0};
    bk_line_num(&l, "size", "%lu", size);
    bk_line_num(&l, "batch", "%lu", batch);
    bk_line_num(&l, "records", "%lu", count);
    bk_line_rate(&l, count, size, secs);
    bk_line_num(&l, "cpu_s", "%.3f", cpu);
    bk_line_end(&l);
    close(fd);
    free(out.p);
    free(in.p);
    free(value);
    return 0;
}
