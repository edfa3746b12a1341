/* A hostile server against the RPC client: a plain ROUTER speaking the
 * protocol by hand (docs/rpc.md) answers the bind properly, then answers
 * calls with out-of-line opaques that are wrong in every way the client
 * can see. Each wrong reply fails that call alone, with TERN_EPROTO or by
 * being dropped, and a right one after it still works; a reply's large
 * opaque is handed over once. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const tern_rpc_method methods[] = {{"blob", 0}};
static const tern_rpc_iface iface = {
    "Blobs", {{0x1b, 0x2c, 0x3d, 0x4e, 0, 1, 0x40, 2, 0x80, 3, 4, 5, 6, 7, 8, 9}}, 1, 0, 1,
    methods};

/* How the fake server answers the next call. */
enum answer {
    A_RIGHT,       /* flagged, body = length 20000, one part of 20000 bytes */
    A_SHORT_PART,  /* its part one byte short */
    A_NO_PART,     /* flagged, no part */
    A_EXTRA_PART,  /* a second part nobody named */
    A_UNFLAGGED,   /* the right parts without the flag: malformed, dropped */
    A_HUGE_LENGTH, /* a length of 2^32-1 and a small part */
};

enum { BLOB = 20000 };

typedef struct fake {
    tern_socket router;
    pthread_t th;
    _Atomic int answer;
} fake;

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void send_reply(fake *f, tern_msg *req, uint8_t kind, uint32_t flags, uint32_t len,
                       const size_t *parts, int nparts)
{
    const uint8_t *rh = tern_msg_data(req, 1);
    uint8_t h[64] = {'T', 'R', 3, kind};
    put_be(h + 4, flags, 4);
    memcpy(h + 8, rh + 8, 8);    /* call id */
    memcpy(h + 16, rh + 16, 20); /* interface, version */
    put_be(h + 36, 0, 4);        /* status OK */
    put_be(h + 48, 0x1234567, 8);
    tern_msg *m;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, tern_msg_data(req, 0), tern_msg_size(req, 0)));
    check_ok(tern_msg_append(m, h, sizeof h));
    if (kind == 2) {
        uint8_t body[4];
        put_be(body, len, 4);
        check_ok(tern_msg_append(m, body, sizeof body));
    } else {
        check_ok(tern_msg_append(m, NULL, 0));
    }
    for (int i = 0; i < nparts; i++) {
        uint8_t *p = malloc(parts[i]);
        for (size_t k = 0; k < parts[i]; k++)
            p[k] = (uint8_t)(k * 13);
        check_ok(tern_msg_append(m, p, parts[i]));
        free(p);
    }
    check_ok(tern_msg_send(f->router, m, 0));
}

static void *serve(void *arg)
{
    fake *f = arg;
    for (;;) {
        tern_msg *req;
        if (tern_msg_recv(f->router, &req, 0) != TERN_OK)
            return NULL;
        const uint8_t *h = tern_msg_data(req, 1);
        if (tern_msg_parts(req) < 2 || tern_msg_size(req, 1) != 64) {
            tern_msg_free(req);
            continue;
        }
        size_t right = BLOB, short_part = BLOB - 1, two[2] = {BLOB, BLOB}, small = 8;
        if (h[3] == 5) { /* BIND */
            send_reply(f, req, 6, 0, 0, NULL, 0);
        } else if (h[3] == 1) {
            switch ((enum answer)atomic_load(&f->answer)) {
            case A_RIGHT:
                send_reply(f, req, 2, 0x10, BLOB, &right, 1);
                break;
            case A_SHORT_PART:
                send_reply(f, req, 2, 0x10, BLOB, &short_part, 1);
                break;
            case A_NO_PART:
                send_reply(f, req, 2, 0x10, BLOB, NULL, 0);
                break;
            case A_EXTRA_PART:
                send_reply(f, req, 2, 0x10, BLOB, two, 2);
                break;
            case A_UNFLAGGED:
                send_reply(f, req, 2, 0, BLOB, &right, 1);
                break;
            case A_HUGE_LENGTH:
                send_reply(f, req, 2, 0x10, 0xffffffffu, &small, 1);
                break;
            }
        }
        tern_msg_free(req);
    }
}

typedef struct fixture {
    tern_ctx *ctx;
    fake f;
    tern_rpc_client *client;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    check_ok(tern_ctx_open(&fx->ctx, 1));
    check_ok(tern_socket_open(fx->ctx, TERN_ROUTER, &fx->f.router));
    check_ok(tern_bind(fx->f.router, "tcp://127.0.0.1:0"));
    char ep[256];
    size_t eplen = sizeof ep - 1;
    check_ok(tern_getopt_bytes(fx->f.router, TERN_OPT_LAST_ENDPOINT, ep, &eplen));
    ep[eplen] = '\0';
    assert_int_equal(pthread_create(&fx->f.th, NULL, serve, &fx->f), 0);
    check_ok(tern_rpc_client_open(fx->ctx, ep, &iface, NULL, &fx->client));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tern_rpc_client_close(fx->client);
    tern_socket_close(fx->f.router); /* ends the fake server's receive */
    pthread_join(fx->f.th, NULL);
    tern_ctx_close(fx->ctx);
    free(fx);
    return 0;
}

/* One blob call answered as told; its status, and the value when OK. */
static tern_err blob_call(fixture *fx, enum answer a, uint8_t **val, uint32_t *len)
{
    atomic_store(&fx->f.answer, a);
    tern_rpc_opts o = {.timeout_ms = 500};
    tern_xdr_enc args = {0};
    tern_rpc_future *f = NULL;
    tern_xdr_dec d;
    *val = NULL;
    *len = 0;
    tern_err err = tern_rpc_invoke(fx->client, 0, &o, &args, &f, &d);
    if (err == TERN_OK) {
        tern_xdr_get_bytes(&d, val, len, 100000);
        err = tern_xdr_dec_end(&d);
        if (err == TERN_OK) {
            /* A second decode of the same reply: its bytes were handed over. */
            tern_xdr_dec again;
            check_ok(tern_rpc_future_reply(f, &again));
            uint8_t *p = NULL;
            uint32_t n = 0;
            check_err(tern_xdr_get_bytes(&again, &p, &n, 100000), TERN_EPROTO);
            assert_null(p);
        }
    }
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&args);
    if (err != TERN_OK) {
        free(*val);
        *val = NULL;
    }
    return err;
}

static void right_reply_works(fixture *fx)
{
    uint8_t *val;
    uint32_t len;
    check_ok(blob_call(fx, A_RIGHT, &val, &len));
    assert_int_equal(len, BLOB);
    for (size_t k = 0; k < BLOB; k++)
        assert_int_equal(val[k], (uint8_t)(k * 13));
    free(val); /* memory from malloc, as documented */
}

static void wrong_out_of_line_replies(void **state)
{
    fixture *fx = *state;
    uint8_t *val;
    uint32_t len;
    right_reply_works(fx);
    check_err(blob_call(fx, A_SHORT_PART, &val, &len), TERN_EPROTO);
    right_reply_works(fx);
    check_err(blob_call(fx, A_NO_PART, &val, &len), TERN_EPROTO);
    right_reply_works(fx);
    check_err(blob_call(fx, A_EXTRA_PART, &val, &len), TERN_EPROTO);
    right_reply_works(fx);
    /* Parts beyond the body without the flag: not a reply; the call times out. */
    check_err(blob_call(fx, A_UNFLAGGED, &val, &len), TERN_ETIMEDOUT);
    right_reply_works(fx);
    check_err(blob_call(fx, A_HUGE_LENGTH, &val, &len), TERN_EMSGSIZE);
    right_reply_works(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wrong_out_of_line_replies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
