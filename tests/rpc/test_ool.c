/* Unit tests of out-of-line opaques (src/rpc/ool.c) at the level where
 * copies can be seen: an encoded opaque that lies in the request is the
 * request's own bytes in the reply, and a decoded one is the received
 * frame itself, unless it may be decoded again. */
#include <stdlib.h>
#include <string.h>

#include "base/message.h"
#include "rpc/ool.h"
#include "rpc/proto.h"
#include "testutil.h"

enum { BIG = 3 * TERN_XDR_OOL_MIN };

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + 1);
    return p;
}

/* In the request: shared; elsewhere: copied; small: in line. */
static void test_encoder_shares_request_bytes(void **state)
{
    (void)state;
    uint8_t *bytes = pattern(BIG);
    tern_msg *req;
    check_ok(tern_msg_new(&req));
    check_ok(tern_msg_append(req, bytes, BIG));
    const uint8_t *in_req = tern_msg_data(req, 0);

    tern_xdr_enc x = {0};
    tn_rpc_ool_out ool;
    tn_rpc_ool_encoder(&x, &ool, req);
    check_ok(tern_xdr_put_bytes(&x, in_req + 8, TERN_XDR_OOL_MIN, UINT32_MAX));
    check_ok(tern_xdr_put_bytes(&x, bytes, TERN_XDR_OOL_MIN, UINT32_MAX));
    check_ok(tern_xdr_put_bytes(&x, bytes, 100, UINT32_MAX));
    assert_int_equal(x.len, 4 + 4 + 4 + 100);
    assert_int_equal(tern_msg_parts(ool.parts), 2);
    assert_ptr_equal(tern_msg_data(ool.parts, 0), in_req + 8); /* no copy */
    assert_false(tn_msg_part_private(req, 0));
    assert_ptr_not_equal(tern_msg_data(ool.parts, 1), bytes); /* a copy */
    assert_memory_equal(tern_msg_data(ool.parts, 1), bytes, TERN_XDR_OOL_MIN);
    tern_msg_free(req); /* the shared bytes live on in the part */
    assert_memory_equal(tern_msg_data(ool.parts, 0), bytes + 8, TERN_XDR_OOL_MIN);
    tern_msg_free(ool.parts);
    tern_xdr_enc_free(&x);
    free(bytes);
}

/* [header flagged OOL, body: one length, the frame]. */
static tern_msg *reply_with_frame(const uint8_t *bytes, bool flagged)
{
    tn_rpc_hdr h = {.kind = TN_RPC_REPLY, .flags = flagged ? TN_RPC_F_OOL : 0};
    uint8_t hdr[TN_RPC_HDR_SIZE],
        len[4] = {0, (uint8_t)(BIG >> 16), (uint8_t)(BIG >> 8), (uint8_t)BIG};
    tn_rpc_hdr_encode(&h, hdr);
    tern_msg *m;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, hdr, sizeof hdr));
    check_ok(tern_msg_append(m, len, sizeof len));
    check_ok(tern_msg_append(m, bytes, BIG));
    return m;
}

static void test_decoder_takes_or_copies(void **state)
{
    (void)state;
    uint8_t *bytes = pattern(BIG);
    tern_xdr_dec d;
    uint8_t *v;
    uint32_t n;

    tern_msg *m = reply_with_frame(bytes, true);
    assert_true(tn_rpc_ool_flagged(m, 0));
    const uint8_t *frame = tern_msg_data(m, 2);
    /* Decoded again and again: a copy each time. */
    for (int i = 0; i < 2; i++) {
        tn_rpc_ool_decoder(&d, m, 1, true, false);
        check_ok(tern_xdr_get_bytes(&d, &v, &n, UINT32_MAX));
        check_ok(tern_xdr_dec_end(&d));
        assert_ptr_not_equal(v, frame);
        assert_memory_equal(v, bytes, BIG);
        free(v);
    }
    /* A view, when the decoder may point into its input. */
    tn_rpc_ool_decoder(&d, m, 1, true, false);
    d.view = true;
    check_ok(tern_xdr_get_bytes(&d, &v, &n, UINT32_MAX));
    assert_ptr_equal(v, frame);
    /* Decoded once: the frame itself, memory from malloc; then it is gone. */
    tn_rpc_ool_decoder(&d, m, 1, true, true);
    check_ok(tern_xdr_get_bytes(&d, &v, &n, UINT32_MAX));
    assert_ptr_equal(v, frame);
    assert_int_equal(n, BIG);
    free(v);
    tn_rpc_ool_decoder(&d, m, 1, true, true);
    check_err(tern_xdr_get_bytes(&d, &v, &n, UINT32_MAX), TERN_EPROTO);
    tern_msg_free(m);

    /* Unflagged: the length says the bytes are in the body, which is short. */
    m = reply_with_frame(bytes, false);
    assert_false(tn_rpc_ool_flagged(m, 0));
    tn_rpc_ool_decoder(&d, m, 1, false, true);
    check_err(tern_xdr_get_bytes(&d, &v, &n, UINT32_MAX), TERN_EPROTO);
    tern_msg_free(m);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_shares_request_bytes),
        cmocka_unit_test(test_decoder_takes_or_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
