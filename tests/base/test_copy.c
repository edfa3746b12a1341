/* tn_copy against byte-by-byte expectations: every size around the loop's
 * threshold and its 64-byte steps, at every alignment of source and
 * destination within a cache line, touching nothing outside the target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/copy.h"
#include "testutil.h"

#define GUARD 80

static void check_one(uint8_t *src, uint8_t *dst, size_t n, size_t so, size_t doff)
{
    size_t span = n + 2 * GUARD;
    memset(dst, 0xee, span + 64);
    for (size_t i = 0; i < n; i++)
        src[so + i] = (uint8_t)(i * 131 + n + so);
    tn_copy(dst + GUARD + doff, src + so, n);
    for (size_t i = 0; i < GUARD + doff; i++)
        assert_int_equal(dst[i], 0xee);
    for (size_t i = 0; i < n; i++) {
        if (dst[GUARD + doff + i] != (uint8_t)(i * 131 + n + so))
            fail_msg("size %zu, source offset %zu, destination offset %zu: byte %zu differs", n, so,
                     doff, i);
    }
    for (size_t i = GUARD + doff + n; i < span + 64; i++)
        assert_int_equal(dst[i], 0xee);
}

static void sizes_and_alignments(void **state)
{
    (void)state;
    const size_t sizes[] = {0,    1,    63,   64,   4031,  4095,  4096,  4097,      4159,
                            4160, 4161, 8191, 8192, 65535, 65536, 65537, 65536 + 63};
    size_t max = 65536 + 63;
    uint8_t *src = malloc(max + 64);
    uint8_t *dst = malloc(max + 2 * GUARD + 128);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (size_t so = 0; so < 64; so += 7) {
            for (size_t doff = 0; doff < 64; doff += 5)
                check_one(src, dst, sizes[k], so, doff);
        }
    }
    free(src);
    free(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_and_alignments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
