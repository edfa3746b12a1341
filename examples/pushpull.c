/* A PULL sink and a PUSH source in one process over tcp, with errors
 * checked the way a real program should. Build: cc pushpull.c $(pkg-config
 * --cflags --libs tern). */
#include <stdio.h>
#include <string.h>

#include <tern/tern.h>

static int check(tern_err err, const char *what)
{
    if (err != TERN_OK)
        fprintf(stderr, "%s: %s (%s)\n", what, tern_errname(err), tern_strerror(err));
    return err != TERN_OK;
}

int main(void)
{
    tern_ctx *ctx;
    tern_socket pull, push;
    char endpoint[256];
    size_t len = sizeof(endpoint);

    if (check(tern_ctx_open(&ctx, 1), "tern_ctx_open"))
        return 1;
    if (check(tern_socket_open(ctx, TERN_PULL, &pull), "open PULL") ||
        check(tern_bind(pull, "tcp://127.0.0.1:0"), "bind") ||
        check(tern_getopt_bytes(pull, TERN_OPT_LAST_ENDPOINT, endpoint, &len), "endpoint") ||
        check(tern_socket_open(ctx, TERN_PUSH, &push), "open PUSH") ||
        check(tern_connect(push, endpoint), "connect") ||
        check(tern_setopt_int(pull, TERN_OPT_RCVTIMEO, 5000), "RCVTIMEO")) {
        tern_ctx_close(ctx);
        return 1;
    }
    printf("PULL bound to %s\n", endpoint);

    /* A two-part message: both parts arrive together or not at all. */
    tern_msg *msg;
    if (check(tern_msg_new(&msg), "tern_msg_new") ||
        check(tern_msg_append(msg, "greeting", 8), "append") ||
        check(tern_msg_append(msg, "hello, tern", 11), "append")) {
        tern_ctx_close(ctx);
        return 1;
    }
    if (check(tern_msg_send(push, msg, 0), "send")) {
        tern_msg_free(msg); /* still ours on error */
        tern_ctx_close(ctx);
        return 1;
    }

    tern_msg *got;
    if (check(tern_msg_recv(pull, &got, 0), "recv")) {
        tern_ctx_close(ctx);
        return 1;
    }
    for (size_t i = 0; i < tern_msg_parts(got); i++)
        printf("part %zu: %.*s\n", i, (int)tern_msg_size(got, i), (const char *)tern_msg_data(got, i));
    tern_msg_free(got);
    tern_ctx_close(ctx);
    return 0;
}
