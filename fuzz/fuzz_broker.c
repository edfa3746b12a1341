/* Fuzzes the broker's request decoding end to end: one broker (fsync
 * never, a scratch data directory) runs for the whole fuzzing session, and
 * each input is a sequence of requests, every one a 2-byte length and that
 * many bytes, sent as Kafka frames over a fresh TCP connection. The input
 * ends with the write side closed; the broker must answer or close, never
 * crash, and afterwards still answer ApiVersions on a new connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tern/broker.h"

static tern_broker *broker;
static uint16_t port;

static void start(void)
{
    static char dir[] = "/tmp/tern-fuzz-broker-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    tern_broker_opts o;
    tern_broker_opts_init(&o);
    o.data_dir = dir;
    o.listen = "127.0.0.1:0";
    o.fsync = TERN_FSYNC_NEVER;
    o.segment_bytes = 1 << 20;
    o.retention_bytes = 4 << 20;
    o.max_request_bytes = 1 << 20;
    if (tern_broker_start(&o, &broker) != TERN_OK)
        abort();
    port = tern_broker_port(broker);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        abort();
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the broker closed on us: allowed */
        b += w;
        n -= (size_t)w;
    }
}

/* Reads until the broker closes; returns the bytes read. Long polls are
 * cut short by the closed write side, so this never waits long. */
static size_t drain(int fd)
{
    size_t total = 0;
    uint8_t buf[65536];
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int ready = poll(&pfd, 1, 60000);
        if (ready < 0 && errno == EINTR)
            continue; /* libFuzzer's alarm */
        if (ready != 1)
            abort(); /* the broker hung */
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return total;
        total += (size_t)n;
    }
}

static void check_alive(void)
{
    /* ApiVersions v0, correlation id 7, client id "f". */
    static const uint8_t req[] = {0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 7, 0, 1, 'f'};
    int fd = dial();
    send_all(fd, req, sizeof req);
    shutdown(fd, SHUT_WR);
    if (drain(fd) < 10)
        abort(); /* no answer: the broker is wedged */
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (broker == NULL)
        start();
    int fd = dial();
    while (size >= 2) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        uint8_t head[4] = {0, 0, (uint8_t)(len >> 8), (uint8_t)len};
        send_all(fd, head, 4);
        send_all(fd, data, len);
        data += len;
        size -= len;
    }
    shutdown(fd, SHUT_WR);
    drain(fd);
    close(fd);
    check_alive();
    return 0;
}
