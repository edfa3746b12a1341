/* The migration stream's frames: encodings round-trip, and each decoder
 * refuses what a hostile or broken peer could send. */
#include <string.h>

#include "base/endian.h"
#include "migrate/frame.h"
#include "testutil.h"

static void test_header(void **state)
{
    (void)state;
    uint8_t b[TN_MIG_HEADER];
    tn_mig_header h = {.type = TN_MIG_PAGES,
                       .id = 0x0102030405060708ull,
                       .epoch = 3,
                       .length = 99,
                       .seq = 42,
                       .crc = 0xdeadbeef};
    tn_mig_header_put(b, &h);
    assert_memory_equal(b, "TMIG\x02\x03", 6);
    tn_mig_header g;
    const char *why = NULL;
    check_ok(tn_mig_header_get(b, &g, &why));
    assert_true(g.type == h.type && g.id == h.id && g.epoch == 3 && g.length == 99 && g.seq == 42 &&
                g.crc == 0xdeadbeef);
    b[0] = 'X';
    check_err(tn_mig_header_get(b, &g, &why), TERN_EPROTO);
    assert_non_null(strstr(why, "magic"));
    b[0] = 'T';
    b[4] = 1; /* version 1 put the page CRCs before the images */
    check_err(tn_mig_header_get(b, &g, &why), TERN_EPROTO);
    assert_non_null(strstr(why, "version"));
    b[4] = 2;
    b[5] = 0;
    check_err(tn_mig_header_get(b, &g, &why), TERN_EPROTO);
    b[5] = 14;
    check_err(tn_mig_header_get(b, &g, &why), TERN_EPROTO);
}

static void test_hello(void **state)
{
    (void)state;
    tn_mig_hello h = {.role = 1,
                      .strategy = 3,
                      .resume = 1,
                      .page_size = 4096,
                      .base = 0x7f0000000000ull,
                      .size = 1ull << 30};
    uint8_t b[TN_MIG_HELLO_LEN];
    tn_mig_hello_put(b, &h);
    tn_mig_hello g;
    const char *why;
    check_ok(tn_mig_hello_get(b, sizeof b, &g, &why));
    assert_true(g.role == 1 && g.strategy == 3 && g.resume == 1 && g.base == h.base &&
                g.size == h.size);
    check_err(tn_mig_hello_get(b, sizeof b - 1, &g, &why), TERN_EPROTO);
    const struct {
        tn_mig_hello h;
        const char *why;
    } bad[] = {
        {{.role = 2, .page_size = 4096, .base = 4096, .size = 4096}, "unknown"},
        {{.strategy = 4, .page_size = 4096, .base = 4096, .size = 4096}, "unknown"},
        {{.page_size = 65536, .base = 4096, .size = 4096}, "page size"},
        {{.page_size = 4096, .base = 4096, .size = 0}, "impossible"},
        {{.page_size = 4096, .base = 4096, .size = 4097}, "impossible"},
        {{.page_size = 4096, .base = 4097, .size = 4096}, "impossible"},
        {{.page_size = 4096, .base = 0, .size = 4096}, "impossible"},
        {{.page_size = 4096, .base = 4096, .size = 1ull << 41}, "impossible"},
        {{.page_size = 4096, .base = ~0ull - 4095, .size = 8192}, "impossible"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tn_mig_hello_put(b, &bad[i].h);
        check_err(tn_mig_hello_get(b, sizeof b, &g, &why), TERN_EPROTO);
        assert_non_null(strstr(why, bad[i].why));
    }
}

static void test_pages(void **state)
{
    (void)state;
    static tn_mig_pages p, g;
    static uint8_t b[8 + TN_MIG_MAX_RUNS * 16 + TN_MIG_MAX_DATA_PAGES * 4];
    p.nruns = 3;
    p.ndata = 3;
    p.run[0] = (tn_mig_run){.first = 0, .count = 2, .kind = TN_MIG_RUN_DATA};
    p.run[1] = (tn_mig_run){.first = 5, .count = 100, .kind = TN_MIG_RUN_ZERO};
    p.run[2] = (tn_mig_run){.first = 999, .count = 1, .kind = TN_MIG_RUN_DATA};
    p.crc[0] = 1, p.crc[1] = 2, p.crc[2] = 3;
    size_t len = tn_mig_pages_put(b, &p);
    assert_int_equal(len, tn_mig_pages_meta_len(3));
    const char *why;
    check_ok(tn_mig_pages_get(b, len, 1000, &g, &why));
    assert_int_equal(g.nruns, 3);
    assert_int_equal(g.ndata, 3);
    assert_int_equal(g.run[1].count, 100);
    /* The CRCs travel in the trailer, after the images. */
    uint8_t trailer[12];
    tn_mig_pages_crcs_put(trailer, &p);
    assert_int_equal(tn_get_be32(trailer + 8), 3);
    tn_mig_pages_crcs_get(trailer, &g);
    assert_int_equal(g.crc[0], 1);
    assert_int_equal(g.crc[2], 3);
    /* The counts must agree with the whole payload: images and trailer. */
    uint32_t nr, nd;
    check_ok(tn_mig_pages_counts(b, (uint32_t)(len + 3 * (TN_MIG_PAGE + 4)), &nr, &nd, &why));
    check_err(tn_mig_pages_counts(b, (uint32_t)(len + 3 * TN_MIG_PAGE), &nr, &nd, &why),
              TERN_EPROTO);
    check_err(tn_mig_pages_counts(b, (uint32_t)(len + 2 * TN_MIG_PAGE), &nr, &nd, &why),
              TERN_EPROTO);
    check_err(tn_mig_pages_counts(b, UINT32_MAX, &nr, &nd, &why), TERN_EPROTO);
    /* A run past the end of a 1000-page arena. */
    check_err(tn_mig_pages_get(b, len, 999, &g, &why), TERN_EPROTO);
    assert_non_null(strstr(why, "outside"));
    /* first + count overflowing 64 bits. */
    p.run[2] = (tn_mig_run){.first = ~0ull, .count = 2, .kind = TN_MIG_RUN_DATA};
    len = tn_mig_pages_put(b, &p);
    check_err(tn_mig_pages_get(b, len, 1000, &g, &why), TERN_EPROTO);
    /* Overlapping runs. */
    p.run[2] = (tn_mig_run){.first = 1, .count = 1, .kind = TN_MIG_RUN_DATA};
    len = tn_mig_pages_put(b, &p);
    check_err(tn_mig_pages_get(b, len, 1000, &g, &why), TERN_EPROTO);
    assert_non_null(strstr(why, "overlap"));
    /* Data pages that do not add up, a zero-length run, an unknown kind. */
    p.run[2] = (tn_mig_run){.first = 999, .count = 1, .kind = TN_MIG_RUN_ZERO};
    len = tn_mig_pages_put(b, &p);
    check_err(tn_mig_pages_get(b, len, 1000, &g, &why), TERN_EPROTO);
    p.run[2] = (tn_mig_run){.first = 999, .count = 0, .kind = TN_MIG_RUN_DATA};
    len = tn_mig_pages_put(b, &p);
    check_err(tn_mig_pages_get(b, len, 1000, &g, &why), TERN_EPROTO);
    p.run[2] = (tn_mig_run){.first = 999, .count = 1, .kind = 2};
    len = tn_mig_pages_put(b, &p);
    check_err(tn_mig_pages_get(b, len, 1000, &g, &why), TERN_EPROTO);
    /* Too many runs or pages for one frame. */
    tn_put_be32(b, TN_MIG_MAX_RUNS + 1);
    check_err(tn_mig_pages_counts(b, 1 << 20, &nr, &nd, &why), TERN_EPROTO);
    tn_put_be32(b, 1);
    tn_put_be32(b + 4, TN_MIG_MAX_DATA_PAGES + 1);
    check_err(tn_mig_pages_counts(b, 1 << 20, &nr, &nd, &why), TERN_EPROTO);
}

static void test_switch(void **state)
{
    (void)state;
    uint8_t b[8 + 5 + 2 * 8];
    uint64_t needed[2];
    tn_mig_switch sw;
    const char *why;
    tn_put_be32(b, 1);
    tn_put_be32(b + 4, 5);
    memcpy(b + 8, "hello", 5);
    tn_put_be64(b + 13, ~0ull);
    tn_put_be64(b + 21, (1ull << 36) - 1); /* 100 pages: 64 + 36 */
    check_ok(tn_mig_switch_get(b, sizeof b, 100, &sw, needed, &why));
    assert_int_equal(sw.mode, 1);
    assert_memory_equal(sw.ctx, "hello", 5);
    assert_true(needed[0] == ~0ull && needed[1] == (1ull << 36) - 1);
    tn_put_be64(b + 21, 1ull << 36); /* page 100 of 100 */
    check_err(tn_mig_switch_get(b, sizeof b, 100, &sw, needed, &why), TERN_EPROTO);
    check_err(tn_mig_switch_get(b, sizeof b - 1, 100, &sw, needed, &why), TERN_EPROTO);
    tn_put_be32(b + 4, UINT32_MAX);
    check_err(tn_mig_switch_get(b, sizeof b, 100, &sw, needed, &why), TERN_EPROTO);
    tn_put_be32(b, 0);
    tn_put_be32(b + 4, 5);
    check_ok(tn_mig_switch_get(b, 13, 100, &sw, needed, &why));
    tn_put_be32(b, 2);
    check_err(tn_mig_switch_get(b, 13, 100, &sw, needed, &why), TERN_EPROTO);
}

static void test_digest(void **state)
{
    (void)state;
    /* Order-free, but not blind to which page holds what. */
    uint64_t a = tn_mig_digest_term(1, 10) + tn_mig_digest_term(2, 20);
    uint64_t b = tn_mig_digest_term(2, 20) + tn_mig_digest_term(1, 10);
    uint64_t c = tn_mig_digest_term(1, 20) + tn_mig_digest_term(2, 10);
    assert_true(a == b);
    assert_true(a != c);
    uint8_t zero[TN_MIG_PAGE] = {0};
    assert_int_equal(tn_mig_zero_page_crc(), tern_crc32c(0, zero, sizeof zero));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header), cmocka_unit_test(test_hello),  cmocka_unit_test(test_pages),
        cmocka_unit_test(test_switch), cmocka_unit_test(test_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
