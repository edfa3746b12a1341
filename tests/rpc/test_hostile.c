/* Hostile and broken requests against an RPC server, sent as raw frames
 * from a plain DEALER: each gets an error status (or is ignored when it
 * cannot be answered), and the server keeps serving well-behaved clients.
 * Also checks at-most-once at the wire level: a resent call id is answered
 * from the reply cache and never run twice. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { M_ADD, M_NAME, M_SUM, M_BUMP, M_BLOB, N_METHODS };

static const tern_rpc_method methods[N_METHODS] = {
    {"add", 0}, {"name", 0}, {"sum", 0}, {"bump", 0}, {"blob", 0}};
static const tern_rpc_iface iface = {
    "Hostile", {{0xa1, 0xb2, 0xc3, 0xd4, 0, 1, 0x40, 2, 0x80, 3, 4, 5, 6, 7, 8, 9}},
    3,         1,
    N_METHODS, methods};

static atomic_int bumps;

static tern_err dispatch(tern_rpc_call *call, uint32_t method, tern_xdr_dec *in, tern_xdr_enc *out,
                         const void *impl)
{
    (void)call, (void)impl;
    switch (method) {
    case M_ADD: {
        int32_t a, b;
        tern_xdr_get_i32(in, &a);
        tern_xdr_get_i32(in, &b);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        return tern_xdr_put_i32(out, a + b);
    }
    case M_NAME: { /* string<16> */
        char *s;
        tern_xdr_get_string(in, &s, 16);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        return tern_xdr_put_u32(out, (uint32_t)strlen(s));
    }
    case M_SUM: { /* uint32 v<1000> */
        uint32_t n;
        tern_xdr_get_count(in, &n, 1000, 4);
        uint64_t total = 0;
        for (uint32_t i = 0; i < n && in->err == TERN_OK; i++) {
            uint32_t v = 0;
            tern_xdr_get_u32(in, &v);
            total += v;
        }
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        return tern_xdr_put_u64(out, total);
    }
    case M_BUMP:
        atomic_fetch_add(&bumps, 1);
        return tern_xdr_put_u32(out, (uint32_t)atomic_load(&bumps));
    case M_BLOB: { /* opaque<70000>, handed back */
        uint8_t *p;
        uint32_t n;
        tern_xdr_get_bytes(in, &p, &n, 70000);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        return tern_xdr_put_bytes(out, p, n, 70000);
    }
    default:
        return TERN_ENOMETHOD;
    }
}

typedef struct fixture {
    tern_ctx *ctx;
    tern_rpc_server *server;
    char endpoint[256];
    tern_socket raw; /* a DEALER speaking the protocol by hand */
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    check_ok(tern_ctx_open(&fx->ctx, 1));
    check_ok(tern_rpc_server_open(fx->ctx, NULL, &fx->server));
    check_ok(tern_rpc_server_add(fx->server, &iface, dispatch, NULL, NULL));
    check_ok(tern_rpc_server_bind(fx->server, "tcp://127.0.0.1:0"));
    check_ok(tern_rpc_server_endpoint(fx->server, fx->endpoint, sizeof fx->endpoint));
    check_ok(tern_socket_open(fx->ctx, TERN_DEALER, &fx->raw));
    check_ok(tern_setopt_int(fx->raw, TERN_OPT_RCVTIMEO, 3000));
    check_ok(tern_setopt_int(fx->raw, TERN_OPT_LINGER, 0));
    check_ok(tern_connect(fx->raw, fx->endpoint));
    atomic_store(&bumps, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tern_socket_close(fx->raw);
    tern_rpc_server_close(fx->server);
    tern_ctx_close(fx->ctx);
    free(fx);
    return 0;
}

/* The 64-byte header of docs/rpc.md. */
static void header(uint8_t h[64], uint8_t kind, uint32_t flags, uint64_t call_id, uint32_t method)
{
    memset(h, 0, 64);
    h[0] = 'T';
    h[1] = 'R';
    h[2] = 3;
    h[3] = kind;
    for (int i = 0; i < 4; i++)
        h[4 + i] = (uint8_t)(flags >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(call_id >> (56 - 8 * i));
    memcpy(h + 16, iface.uuid.b, 16);
    h[33] = 3; /* major */
    h[35] = 1; /* minor */
    for (int i = 0; i < 4; i++)
        h[36 + i] = (uint8_t)(method >> (24 - 8 * i));
    h[45] = 0x4c; /* 5 s left: 0x4c4b40 us */
    h[46] = 0x4b;
    h[47] = 0x40;
}

static void send_raw(fixture *fx, const uint8_t *h, size_t hlen, const void *body, size_t blen,
                     int parts)
{
    tern_msg *m;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, h, hlen));
    if (parts >= 2)
        check_ok(tern_msg_append(m, body, blen));
    if (parts >= 3)
        check_ok(tern_msg_append(m, "extra", 5));
    check_ok(tern_msg_send(fx->raw, m, 0));
}

/* Receives one reply of parts parts; returns its wire status and call id,
 * and the message. */
static uint32_t recv_parts(fixture *fx, size_t parts, uint64_t *call_id, tern_msg **msgp)
{
    tern_msg *m;
    check_ok(tern_msg_recv(fx->raw, &m, 0));
    assert_int_equal(tern_msg_parts(m), parts);
    assert_int_equal(tern_msg_size(m, 0), 64);
    const uint8_t *h = tern_msg_data(m, 0);
    assert_int_equal(h[3], 2); /* REPLY */
    *call_id = 0;
    for (int i = 0; i < 8; i++)
        *call_id = *call_id << 8 | h[8 + i];
    uint32_t status = (uint32_t)h[36] << 24 | (uint32_t)h[37] << 16 | (uint32_t)h[38] << 8 | h[39];
    if (msgp)
        *msgp = m;
    else
        tern_msg_free(m);
    return status;
}

/* One reply without out-of-line parts. */
static uint32_t recv_reply(fixture *fx, uint64_t *call_id, tern_msg **msgp)
{
    return recv_parts(fx, 2, call_id, msgp);
}

enum { W_OK = 0, W_NOIFACE = 4, W_NOMETHOD = 5, W_VERSION = 6, W_BADARGS = 7, W_PROTO = 9 };

/* A good call still works: the server kept serving. */
static void still_serving(fixture *fx)
{
    tern_rpc_client *c;
    check_ok(tern_rpc_client_open(fx->ctx, fx->endpoint, &iface, NULL, &c));
    tern_xdr_enc e = {0};
    tern_xdr_put_i32(&e, 40);
    tern_xdr_put_i32(&e, 2);
    tern_rpc_future *f;
    tern_xdr_dec d;
    check_ok(tern_rpc_invoke(c, M_ADD, NULL, &e, &f, &d));
    int32_t v;
    check_ok(tern_xdr_get_i32(&d, &v));
    assert_int_equal(v, 42);
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    tern_rpc_client_close(c);
}

static void bad_headers(void **state)
{
    fixture *fx = *state;
    uint8_t h[64];
    uint64_t id;
    /* Wrong magic, wrong version, short, long, unknown kind. */
    header(h, 1, 0, 7, M_ADD);
    h[0] = 'X';
    send_raw(fx, h, 64, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    header(h, 1, 0, 7, M_ADD);
    h[2] = 9;
    send_raw(fx, h, 64, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    send_raw(fx, h, 20, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    uint8_t longer[72] = {'T', 'R', 3, 1};
    send_raw(fx, longer, sizeof longer, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    header(h, 99, 0, 7, M_ADD);
    send_raw(fx, h, 64, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    /* A call without its body part, and one with a part too many. */
    header(h, 1, 0, 8, M_ADD);
    send_raw(fx, h, 64, "", 0, 1);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    send_raw(fx, h, 64, "12345678", 8, 3);
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    still_serving(fx);
}

static void unknown_interface_method_version(void **state)
{
    fixture *fx = *state;
    uint8_t h[64];
    uint64_t id;
    int32_t args[2] = {0, 0};
    header(h, 1, 0, 11, 77);
    send_raw(fx, h, 64, args, 8, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_NOMETHOD);
    assert_int_equal(id, 11);
    header(h, 1, 0, 12, M_ADD);
    h[20] ^= 1; /* another interface */
    send_raw(fx, h, 64, args, 8, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_NOIFACE);
    header(h, 1, 0, 13, M_ADD);
    h[35] = 2; /* minor 2 > the server's 1 */
    send_raw(fx, h, 64, args, 8, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_VERSION);
    header(h, 1, 0, 14, M_ADD);
    h[33] = 4; /* major 4 */
    send_raw(fx, h, 64, args, 8, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_VERSION);
    still_serving(fx);
}

static void bad_bodies(void **state)
{
    fixture *fx = *state;
    uint8_t h[64];
    uint64_t id;
    /* Truncated: one int of two. */
    header(h, 1, 0, 21, M_ADD);
    send_raw(fx, h, 64, "\0\0\0\1", 4, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* Trailing garbage. */
    header(h, 1, 0, 22, M_ADD);
    send_raw(fx, h, 64, "\0\0\0\1\0\0\0\2\0\0\0\3", 12, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* A string over its bound of 16. */
    uint8_t s[4 + 20] = {0, 0, 0, 20};
    memset(s + 4, 'a', 20);
    header(h, 1, 0, 23, M_NAME);
    send_raw(fx, h, 64, s, sizeof s, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* Lengths of 2^32-1 for a string and an array: nothing allocated. */
    uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'};
    header(h, 1, 0, 24, M_NAME);
    send_raw(fx, h, 64, huge, sizeof huge, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    header(h, 1, 0, 25, M_SUM);
    send_raw(fx, h, 64, huge, sizeof huge, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* An array whose count is within bound but whose elements are missing. */
    uint8_t short_array[8] = {0, 0, 0x03, 0xe8, 0, 0, 0, 1};
    header(h, 1, 0, 26, M_SUM);
    send_raw(fx, h, 64, short_array, sizeof short_array, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* And the error text explains. */
    tern_msg *m;
    header(h, 1, 0, 27, M_ADD);
    send_raw(fx, h, 64, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, &m), W_BADARGS);
    assert_true(tern_msg_size(m, 1) > 8);
    tern_msg_free(m);
    still_serving(fx);
}

static void set_acked(uint8_t h[64], uint64_t acked)
{
    for (int i = 0; i < 8; i++)
        h[56 + i] = (uint8_t)(acked >> (56 - 8 * i));
}

/* Sends call_id as a bump with flags (8 is RETRY), saying the calls below
 * acked are answered (0: says nothing); returns the reply's status, *id
 * its call id and, if m, the reply itself. */
static uint32_t bump(fixture *fx, uint64_t call_id, uint32_t flags, uint64_t acked, uint64_t *id,
                     tern_msg **m)
{
    uint8_t h[64];
    header(h, 1, flags, call_id, M_BUMP);
    set_acked(h, acked);
    send_raw(fx, h, 64, "", 0, 2);
    return recv_reply(fx, id, m);
}

static void resent_call_answered_from_cache(void **state)
{
    fixture *fx = *state;
    uint8_t h[64];
    uint64_t id;
    tern_msg *m1, *m2;
    assert_int_equal(bump(fx, 31, 0, 0, &id, &m1), W_OK);
    assert_int_equal(bump(fx, 31, 8, 0, &id, &m2), W_OK);
    assert_int_equal(atomic_load(&bumps), 1); /* ran once */
    assert_int_equal(tern_msg_size(m1, 1), tern_msg_size(m2, 1));
    assert_memory_equal(tern_msg_data(m1, 1), tern_msg_data(m2, 1), tern_msg_size(m1, 1));
    tern_msg_free(m1);
    tern_msg_free(m2);
    /* Even without the flag, the same call id is the same call. */
    assert_int_equal(bump(fx, 31, 0, 0, &id, NULL), W_OK);
    assert_int_equal(atomic_load(&bumps), 1);
    /* A resend aimed at another server instance is refused, not run. */
    header(h, 1, 8, 32, M_BUMP);
    h[55] = 0x77;
    send_raw(fx, h, 64, "", 0, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), 3 /* UNAVAILABLE */);
    assert_int_equal(atomic_load(&bumps), 1);
}

/* A call that says the client has the answers below it frees those
 * replies: a resend of one afterwards is refused, never run again. */
static void acknowledged_reply_is_forgotten(void **state)
{
    fixture *fx = *state;
    uint64_t id;
    assert_int_equal(bump(fx, 51, 0, 0, &id, NULL), W_OK);
    assert_int_equal(bump(fx, 52, 0, 0, &id, NULL), W_OK);
    assert_int_equal(atomic_load(&bumps), 2);
    /* Call 53 acknowledges 51 only: 52 is still answered from the cache. */
    assert_int_equal(bump(fx, 53, 0, 52, &id, NULL), W_OK);
    assert_int_equal(bump(fx, 52, 8, 0, &id, NULL), W_OK);
    assert_int_equal(id, 52);
    assert_int_equal(bump(fx, 51, 8, 0, &id, NULL), 3 /* UNAVAILABLE: it may have run */);
    assert_int_equal(id, 51);
    assert_int_equal(atomic_load(&bumps), 3);
    /* An acknowledgement far ahead, or of calls never made, harms only the
     * client that sent it. */
    assert_int_equal(bump(fx, 54, 0, UINT64_MAX, &id, NULL), W_OK);
    assert_int_equal(atomic_load(&bumps), 4);
    still_serving(fx);
}

/* A blob call flagged out of line (docs/rpc.md): the body has the
 * opaque's length (and its bytes, when below TERN_XDR_OOL_MIN); the parts
 * after it hold ool[0..nool) bytes of a pattern. */
static void send_ool(fixture *fx, uint64_t call_id, uint32_t len, const size_t *ool, int nool)
{
    uint8_t h[64];
    header(h, 1, 0x10 /* OOL */, call_id, M_BLOB);
    tern_xdr_enc body = {0};
    tern_xdr_put_u32(&body, len);
    static uint8_t inl[TERN_XDR_OOL_MIN];
    if (len < TERN_XDR_OOL_MIN)
        tern_xdr_put_fixed(&body, memset(inl, 'i', len), len);
    tern_msg *m;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, h, 64));
    check_ok(tern_msg_append(m, body.buf, body.len));
    for (int i = 0; i < nool; i++) {
        uint8_t *p = malloc(ool[i]);
        for (size_t k = 0; k < ool[i]; k++)
            p[k] = (uint8_t)(k * 7 + (size_t)i);
        check_ok(tern_msg_append(m, p, ool[i]));
        free(p);
    }
    tern_xdr_enc_free(&body);
    check_ok(tern_msg_send(fx->raw, m, 0));
}

/* Out-of-line opaques: one that fits is read from its own part and comes
 * back in one; a missing, short, surplus or unflagged part fails the call
 * (or the message) alone. */
static void out_of_line_opaques(void **state)
{
    fixture *fx = *state;
    uint64_t id;
    tern_msg *m;
    size_t right = 20000, one_short = 19999, small = 100;
    send_ool(fx, 61, 20000, &right, 1);
    assert_int_equal(recv_parts(fx, 3, &id, &m), W_OK);
    const uint8_t *h = tern_msg_data(m, 0);
    assert_int_equal(h[7] & 0x10, 0x10); /* the reply is flagged too */
    assert_int_equal(tern_msg_size(m, 1), 4);
    assert_int_equal(tern_msg_size(m, 2), 20000);
    const uint8_t *back = tern_msg_data(m, 2);
    for (size_t k = 0; k < 20000; k += 999)
        assert_int_equal(back[k], (uint8_t)(k * 7));
    tern_msg_free(m);
    send_ool(fx, 62, 20000, NULL, 0); /* its part is missing */
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    send_ool(fx, 63, 20000, &one_short, 1);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    size_t two[2] = {20000, 20000}; /* a part nobody named */
    send_ool(fx, 64, 20000, two, 2);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    send_ool(fx, 65, 0xffffffffu, &right, 1); /* over the bound of 70000 */
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* Below TERN_XDR_OOL_MIN an opaque stays in the body: a part of 100
     * bytes for a length of 100 is one too many. */
    send_ool(fx, 66, 100, &small, 1);
    assert_int_equal(recv_reply(fx, &id, NULL), W_BADARGS);
    /* Parts beyond the body without the flag: not a call. */
    uint8_t h2[64];
    header(h2, 1, 0, 67, M_BLOB);
    tern_msg *bad;
    check_ok(tern_msg_new(&bad));
    check_ok(tern_msg_append(bad, h2, 64));
    check_ok(tern_msg_append(bad, "\0\0\0\0", 4));
    check_ok(tern_msg_append(bad, "x", 1));
    check_ok(tern_msg_append(bad, "y", 1));
    check_ok(tern_msg_send(fx->raw, bad, 0));
    assert_int_equal(recv_reply(fx, &id, NULL), W_PROTO);
    still_serving(fx);
}

static void oversized_request_drops_only_its_connection(void **state)
{
    fixture *fx = *state;
    uint8_t h[64];
    header(h, 1, 0, 41, M_NAME);
    size_t big = (16u << 20) + 4096;
    uint8_t *body = calloc(1, big);
    send_raw(fx, h, 64, body, big, 2);
    free(body);
    /* No answer comes to the oversized call: its connection was dropped. */
    check_ok(tern_setopt_int(fx->raw, TERN_OPT_RCVTIMEO, 500));
    tern_msg *m;
    check_err(tern_msg_recv(fx->raw, &m, 0), TERN_ETIMEDOUT);
    still_serving(fx);
}

static void flood_of_garbage(void **state)
{
    fixture *fx = *state;
    uint8_t junk[300];
    unsigned seed = 12345;
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof junk);
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)rand_r(&seed);
        if (n >= 4) {
            junk[0] = 'T';
            junk[1] = 'R';
            junk[2] = 3;
        }
        tern_msg *m;
        check_ok(tern_msg_new(&m));
        check_ok(tern_msg_append(m, junk, n > 64 ? 64 : n));
        check_ok(tern_msg_append(m, junk, n));
        check_ok(tern_msg_send(fx->raw, m, 0));
    }
    still_serving(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bad_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_interface_method_version, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(resent_call_answered_from_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(acknowledged_reply_is_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_line_opaques, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_request_drops_only_its_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(flood_of_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
