/* The physical floor of a migration: how long loopback TCP takes to move
 * SIZE bytes on this machine, measured in the same run as the migrations
 * it is compared with.
 *
 * The parent listens on 127.0.0.1, a forked child connects and reads until
 * end of stream into a 4 MiB buffer; the parent sends SIZE bytes in 1 MiB
 * send() calls from one buffer (no page of an arena to read: the floor is
 * the wire alone). Both sides time on CLOCK_MONOTONIC, which is shared
 * between processes: the clock starts just before the first send(); the
 * sender's time ends when its last send() returns, the receiver's when the
 * last byte arrives. The receiver's time is the one reported: bytes sitting
 * in socket buffers have not moved yet. The child hands its timestamp and
 * byte count back through a pipe.
 *
 *   floor --size 1G [--json] [--timeout S]
 * prints one line: key=value, or a JSON object with --json. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEND_CHUNK (1u << 20)
#define RECV_BUF (4u << 20)

/* What the receiver reports. */
struct recv_report {
    uint64_t bytes;
    uint64_t last_ns; /* CLOCK_MONOTONIC when the last byte arrived */
};

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

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "256M", "1G", "4096": suffixes K, M, G are powers of 2^10. */
static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    static const char units[] = "KMG";
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    unsigned shift = u ? 10u * (unsigned)(u - units + 1) : 0;
    if (u)
        end++;
    if (!isdigit((unsigned char)*s) || errno || *end || v == 0 || v > (UINT64_MAX >> shift))
        die("bad size '%s' (bytes, or a number with K, M or G)", s);
    return (uint64_t)v << shift;
}

/* Writes all of buf, or dies. */
static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
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

static void receiver(int port, int report_fd)
{
    struct sockaddr_in sa;
    struct recv_report r = {0, 0};
    char *buf = malloc(RECV_BUF);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (!buf)
        die("out of memory");
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect: %s", strerror(errno));
    for (;;) {
        ssize_t n = recv(fd, buf, RECV_BUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("recv: %s", strerror(errno));
        if (n == 0)
            break;
        r.last_ns = now_ns();
        r.bytes += (uint64_t)n;
    }
    write_all(report_fd, &r, sizeof r);
    free(buf);
    close(fd);
}

static int listen_loopback(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        die("listen: %s", strerror(errno));
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Sends size bytes; returns the sender's start and end times. */
static void sender(int fd, uint64_t size, uint64_t *start_ns, uint64_t *end_ns)
{
    char *buf = malloc(SEND_CHUNK);
    uint64_t left = size;
    if (!buf)
        die("out of memory");
    /* Not zeros: no layer below gets to shortcut them. */
    for (size_t i = 0; i < SEND_CHUNK; i++)
        buf[i] = (char)(i * 131 + 7);
    *start_ns = now_ns();
    while (left > 0) {
        size_t want = left < SEND_CHUNK ? (size_t)left : SEND_CHUNK;
        ssize_t n = send(fd, buf, want, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("send: %s", strerror(errno));
        left -= (uint64_t)n;
    }
    *end_ns = now_ns();
    free(buf);
}

static void usage(FILE *f)
{
    fputs("usage: floor [--size SIZE] [--json] [--timeout S]\n"
          "  --size SIZE   bytes to move, K/M/G suffixes are powers of 2^10 (default 256M)\n"
          "  --json        print one JSON object instead of key=value\n"
          "  --timeout S   give up after S seconds (default 120)\n",
          f);
}

int main(int argc, char **argv)
{
    uint64_t size = 256u << 20, start = 0, sent = 0;
    int json = 0, timeout = 120, port, lfd, fd, pipefd[2], status;
    struct recv_report r;
    pid_t pid;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            size = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = atoi(argv[++i]);
            if (timeout <= 0)
                die("--timeout must be a positive number of seconds");
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    lfd = listen_loopback(&port);
    if (pipe(pipefd) != 0)
        die("pipe: %s", strerror(errno));
    /* A stuck run ends on SIGALRM; alarms are not inherited, so the child
     * sets its own. */
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        alarm((unsigned)timeout);
        close(lfd);
        close(pipefd[0]);
        receiver(port, pipefd[1]);
        _exit(0);
    }
    alarm((unsigned)timeout);
    close(pipefd[1]);
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("accept: %s", strerror(errno));
    close(lfd);
    sender(fd, size, &start, &sent);
    /* End of stream tells the receiver the last byte is in. */
    close(fd);

    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(pipefd[0], (char *)&r + got, sizeof r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("the receiver did not report (it failed; see above)");
        got += (size_t)n;
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the receiver failed");
    if (r.bytes != size)
        die("received %llu bytes of %llu", (unsigned long long)r.bytes, (unsigned long long)size);

    double recv_ms = (double)(r.last_ns - start) / 1e6;
    double send_ms = (double)(sent - start) / 1e6;
    double bps = (double)size / (recv_ms / 1e3);
    if (json)
        printf("{\"strategy\":\"floor\",\"size\":%llu,\"bytes\":%llu,\"total_ms\":%.3f,"
               "\"send_ms\":%.3f,\"bytes_per_s\":%.0f,\"bandwidth_mbs\":%.1f}\n",
               (unsigned long long)size, (unsigned long long)r.bytes, recv_ms, send_ms, bps,
               bps / 1e6);
    else
        printf("size=%llu bytes=%llu total_ms=%.3f send_ms=%.3f bytes_per_s=%.0f "
               "bandwidth_mbs=%.1f\n",
               (unsigned long long)size, (unsigned long long)r.bytes, recv_ms, send_ms, bps,
               bps / 1e6);
    return 0;
}
