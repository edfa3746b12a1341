/* The raw-socket floor: what the kernel's loopback gives a program that
 * does nothing but read and write. Two patterns:
 *   pingpong  blocking round trips of --size bytes over tcp (TCP_NODELAY) or
 *             ipc (a Unix stream socket); msgs/s is round trips per second,
 *             with p50/p99 of the round-trip time
 *   stream    --size-byte write() calls over tcp, read at the other end into
 *             a 256 KiB buffer; MB/s is the ceiling for large messages
 * The parent measures; a forked child is the echo server or the writer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WARMUP_MAX 100

/* Where the child connects: a loopback port, or s.ipc in a directory. */
struct addr {
    int port;
    char dir[BENCH_EP_MAX];
};

static void unix_addr(struct sockaddr_un *sa, const char *dir)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if ((size_t)snprintf(sa->sun_path, sizeof sa->sun_path, "%s/s.ipc", dir) >= sizeof sa->sun_path)
        bench_die("TMPDIR too long for a Unix socket path");
}

static int listen_unix(struct addr *a)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    bench_tmpdir_make(a->dir, sizeof a->dir);
    unix_addr(&sa, a->dir);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0)
        bench_die("listen %s: %s", sa.sun_path, strerror(errno));
    return fd;
}

static int listen_any(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        bench_die("listen: %s", strerror(errno));
    *port = ntohs(sa.sin_port);
    return fd;
}

static void nodelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        bench_die("TCP_NODELAY: %s", strerror(errno));
}

static int connect_unix(const char *dir)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unix_addr(&sa, dir);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        bench_die("connect %s: %s", sa.sun_path, strerror(errno));
    return fd;
}

static int connect_to(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        bench_die("connect: %s", strerror(errno));
    return fd;
}

static int accept_one(int lfd)
{
    int fd;
    while ((fd = accept(lfd, NULL, NULL)) < 0) {
        if (errno != EINTR)
            bench_die("accept: %s", strerror(errno));
    }
    close(lfd);
    return fd;
}

/* Reads exactly len bytes; returns 0 on a clean EOF before the first byte. */
static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("read: %s", strerror(errno));
        if (n == 0) {
            if (got == 0)
                return 0;
            bench_die("short read: EOF after %zu of %zu bytes", got, len);
        }
        got += (size_t)n;
    }
    return 1;
}

static void echo_server(const struct addr *a, size_t size)
{
    char *buf = malloc(size);
    int fd = a->dir[0] ? connect_unix(a->dir) : connect_to(a->port);
    if (!a->dir[0])
        nodelay(fd);
    while (buf && read_full(fd, buf, size))
        bench_write_all(fd, buf, size);
    close(fd);
    _exit(0);
}

static void stream_writer(const struct addr *a, const struct bench_opts *o)
{
    char *buf = malloc(o->size);
    int fd = connect_to(a->port);
    if (buf == NULL)
        bench_die("out of memory");
    memset(buf, 0xa5, o->size);
    /* The parent kills us when its time budget ends first. */
    for (uint64_t i = 0; i < o->count; i++)
        bench_write_all(fd, buf, o->size);
    close(fd);
    _exit(0);
}

static void run_pingpong(const struct bench_opts *o, int fd, int child)
{
    uint64_t budget = (uint64_t)(o->seconds * 1e9), warmup = o->count / 10, n = 0;
    uint64_t *rtt = malloc(o->count * sizeof *rtt);
    char *buf = calloc(1, o->size);
    uint64_t t0 = 0, cpu0 = 0, peer0 = 0;

    if (rtt == NULL || buf == NULL)
        bench_die("out of memory");
    if (strcmp(o->transport, "tcp") == 0)
        nodelay(fd);
    if (warmup > WARMUP_MAX)
        warmup = WARMUP_MAX;
    /* A few round trips first: the connection's first packets are slow. */
    for (uint64_t i = 0; i < warmup; i++) {
        bench_write_all(fd, buf, o->size);
        if (!read_full(fd, buf, o->size))
            bench_die("echo server went away");
    }
    t0 = bench_now_ns();
    cpu0 = bench_cpu_ns();
    peer0 = bench_peer_cpu_ns(child);
    uint64_t now = t0;
    while (n < o->count - warmup && now - t0 < budget) {
        uint64_t start = now;
        bench_write_all(fd, buf, o->size);
        if (!read_full(fd, buf, o->size))
            bench_die("echo server went away");
        now = bench_now_ns();
        rtt[n++] = now - start;
    }
    uint64_t peer1 = bench_peer_cpu_ns(child), cpu1 = bench_cpu_ns();
    close(fd);
    if (n == 0)
        bench_die("no round trips measured (raise --count)");
    bench_sort_ns(rtt, n);
    struct bench_result r = {
        .system = "raw",
        .opts = o,
        .msgs = n,
        .secs = (double)(now - t0) / 1e9,
        .cpu_ns = (double)(cpu1 - cpu0) + (double)(peer1 - peer0),
        .p50_us = bench_pct_us(rtt, n, 0.50),
        .p99_us = bench_pct_us(rtt, n, 0.99),
        .has_bytes = 0,
    };
    bench_result_print(&r);
    free(rtt);
    free(buf);
}

static void run_stream(const struct bench_opts *o, int fd, int child)
{
    size_t cap = o->size > 256 * 1024 ? o->size : 256 * 1024;
    uint64_t budget = (uint64_t)(o->seconds * 1e9), bytes = 0;
    uint64_t t0 = 0, t1 = 0, cpu0 = 0, peer0 = 0, peer1;
    char *buf = malloc(cap);
    int timed_out = 0;

    if (buf == NULL)
        bench_die("out of memory");
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("read: %s", strerror(errno));
        if (n == 0)
            break;
        t1 = bench_now_ns();
        if (bytes == 0) {
            peer0 = bench_peer_cpu_ns(child);
            cpu0 = bench_cpu_ns();
            t0 = t1;
        }
        bytes += (uint64_t)n;
        if (t1 - t0 >= budget) {
            timed_out = 1;
            break;
        }
    }
    uint64_t cpu1 = bench_cpu_ns();
    if (bytes == 0)
        bench_die("stream: no data");
    if (timed_out) {
        peer1 = bench_peer_cpu_ns(child);
        kill(child, SIGKILL);
        if (waitpid(child, NULL, 0) < 0)
            bench_die("waitpid: %s", strerror(errno));
    } else {
        /* The writer has finished (EOF), so its CPU clock may be gone:
         * take its total from the exit status instead. */
        struct rusage ru;
        int st;
        if (wait4(child, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bench_die("stream writer failed");
        peer1 = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
                (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
    }
    bench_set_peer(0);
    struct bench_result r = {
        .system = "raw",
        .opts = o,
        .msgs = bytes / o->size,
        .secs = (double)(t1 - t0) / 1e9,
        .cpu_ns = (double)(cpu1 - cpu0) + (double)(peer1 - peer0),
        .p50_us = -1,
        .p99_us = -1,
        .has_bytes = 1,
    };
    bench_result_print(&r);
    close(fd);
    free(buf);
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct addr a = {0, ""};
    int pingpong, ipc, lfd;

    bench_opts_parse(&o, argc, argv, argv[0]);
    pingpong = strcmp(o.pattern, "pingpong") == 0;
    if (!pingpong && strcmp(o.pattern, "stream") != 0)
        bench_die("raw: --pattern pingpong or stream");
    ipc = strcmp(o.transport, "ipc") == 0;
    if (!(strcmp(o.transport, "tcp") == 0 || (ipc && pingpong)))
        bench_die("raw: --transport tcp, or ipc for pingpong");
    bench_arm_timeout(o.timeout);
    lfd = ipc ? listen_unix(&a) : listen_any(&a.port);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(lfd);
        bench_set_peer((int)getppid());
        bench_arm_timeout(o.timeout);
        if (pingpong)
            echo_server(&a, o.size);
        stream_writer(&a, &o);
    }
    bench_set_peer((int)pid);
    int fd = accept_one(lfd);
    if (!pingpong) {
        run_stream(&o, fd, (int)pid);
        return 0;
    }
    run_pingpong(&o, fd, (int)pid);
    if (waitpid(pid, NULL, 0) < 0)
        bench_die("waitpid: %s", strerror(errno));
    if (ipc)
        bench_tmpdir_remove(a.dir);
    return 0;
}
