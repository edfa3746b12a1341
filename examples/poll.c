/* tern_poll over a socket and standard input at once: lines typed on stdin
 * are pushed over inproc and printed when they come back out of the PULL. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tern/tern.h>

int main(void)
{
    tern_ctx *ctx;
    tern_socket pull, push;
    if (tern_ctx_open(&ctx, 1) != TERN_OK)
        return 1;
    if (tern_socket_open(ctx, TERN_PULL, &pull) != TERN_OK ||
        tern_socket_open(ctx, TERN_PUSH, &push) != TERN_OK ||
        tern_bind(pull, "inproc://echo") != TERN_OK || tern_connect(push, "inproc://echo") != TERN_OK) {
        fprintf(stderr, "setup failed\n");
        tern_ctx_close(ctx);
        return 1;
    }
    tern_pollitem items[2] = {
        {.socket = pull, .events = TERN_POLLIN},
        {.fd = STDIN_FILENO, .events = TERN_POLLIN},
    };
    for (;;) {
        size_t ready;
        if (tern_poll(items, 2, 10000, &ready) != TERN_OK || ready == 0)
            break; /* error, or ten quiet seconds */
        if (items[0].revents & TERN_POLLIN) {
            char buf[512];
            size_t len;
            if (tern_recv(pull, buf, sizeof(buf), &len, TERN_DONTWAIT) == TERN_OK)
                printf("came back: %.*s", (int)len, buf);
        }
        if (items[1].revents & (TERN_POLLIN | TERN_POLLERR)) {
            char line[512];
            ssize_t n = read(STDIN_FILENO, line, sizeof(line));
            if (n <= 0)
                break;
            tern_send(push, line, (size_t)n, 0);
        }
    }
    tern_ctx_close(ctx);
    return 0;
}
