/* CRC-32C: published vectors, and the hardware and software paths checked
 * against each other and against a bit-at-a-time reference. */
#include <string.h>

#include "base/crc32c.h"
#include "testutil.h"

typedef uint32_t crc_fn(uint32_t crc, const void *data, size_t len);

static const struct {
    const char *name;
    crc_fn *fn;
} impls[] = {
    {"tern_crc32c", tern_crc32c},
    {"sw", tn_crc32c_sw},
    {"hw", tn_crc32c_hw},
};

#define NIMPLS (sizeof impls / sizeof impls[0])

/* The hw entry may only run on CPUs that have the instruction. */
static int impl_usable(size_t i)
{
    return impls[i].fn != tn_crc32c_hw || tn_crc32c_hw_available();
}

/* Straight from the definition, one bit at a time: no tables, no
 * instruction, so it shares no code with what it checks. Works on the raw
 * register (preset and final complement left to the caller). */
static uint32_t ref_update(uint32_t reg, const uint8_t *p, size_t len)
{
    while (len--) {
        reg ^= *p++;
        for (int bit = 0; bit < 8; bit++)
            reg = (reg & 1u) ? (reg >> 1) ^ 0x82f63b78u : reg >> 1;
    }
    return reg;
}

static uint32_t ref_crc(const void *data, size_t len)
{
    return ~ref_update(0xffffffffu, data, len);
}

static void check_all(const char *what, const void *data, size_t len, uint32_t want)
{
    for (size_t i = 0; i < NIMPLS; i++) {
        if (!impl_usable(i))
            continue;
        uint32_t got = impls[i].fn(0, data, len);
        if (got != want)
            fail_msg("%s: %s gave 0x%08x, expected 0x%08x", what, impls[i].name, got, want);
    }
    if (ref_crc(data, len) != want)
        fail_msg("%s: the reference gave 0x%08x, expected 0x%08x", what, ref_crc(data, len), want);
}

static void check_value(void **state)
{
    (void)state;
    check_all("\"123456789\"", "123456789", 9, 0xe3069283u);
    check_all("empty", "", 0, 0);
}

/* RFC 3720 appendix B.4. The RFC prints each CRC as the bytes sent on the
 * wire, least significant first; the constants here are the values. */
static void rfc3720_vectors(void **state)
{
    uint8_t buf[32];
    (void)state;

    memset(buf, 0x00, sizeof buf);
    check_all("32 zero bytes", buf, sizeof buf, 0x8a9136aau);
    memset(buf, 0xff, sizeof buf);
    check_all("32 bytes of 0xff", buf, sizeof buf, 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    check_all("32 ascending bytes", buf, sizeof buf, 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    check_all("32 descending bytes", buf, sizeof buf, 0x113fdb5cu);

    /* "An iSCSI - SCSI Read (10) Command PDU", laid out as the RFC prints
     * it: four bytes per row, the row's byte offset on the left. */
    static const uint8_t read10_pdu[48] = {
        /*  0 */ 0x01, 0xc0, 0x00, 0x00,
        /*  4 */ 0x00, 0x00, 0x00, 0x00,
        /*  8 */ 0x00, 0x00, 0x00, 0x00,
        /* 12 */ 0x00, 0x00, 0x00, 0x00,
        /* 16 */ 0x14, 0x00, 0x00, 0x00,
        /* 20 */ 0x00, 0x00, 0x04, 0x00,
        /* 24 */ 0x00, 0x00, 0x00, 0x14,
        /* 28 */ 0x00, 0x00, 0x00, 0x18,
        /* 32 */ 0x28, 0x00, 0x00, 0x00,
        /* 36 */ 0x00, 0x00, 0x00, 0x00,
        /* 40 */ 0x02, 0x00, 0x00, 0x00,
        /* 44 */ 0x00, 0x00, 0x00, 0x00,
    };
    check_all("iSCSI Read(10) PDU", read10_pdu, sizeof read10_pdu, 0xd9963a56u);
}

/* xorshift64: reproducible bytes without depending on libc's rand(). */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint8_t rng_byte(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint8_t)(rng_state >> 32);
}

#define MAXLEN 1024
#define MAXALIGN 16

/* Long buffers (pages and more) at a few offsets, whole and split. */
static void long_buffers(void **state)
{
    static uint8_t data[3 * 4080 + 64 + 8];
    const size_t lens[] = {4079, 4080, 4081, 4096, 8159, 8160, 8161, 12240, 12241, 3 * 4080 + 64};
    (void)state;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = rng_byte();
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
        for (size_t off = 0; off < 8; off++) {
            uint32_t want = ref_crc(data + off, lens[l]);
            for (size_t i = 0; i < NIMPLS; i++) {
                if (!impl_usable(i))
                    continue;
                uint32_t got = impls[i].fn(0, data + off, lens[l]);
                if (got != want)
                    fail_msg("%s: len %zu offset %zu: 0x%08x, expected 0x%08x", impls[i].name, lens[l], off,
                             got, want);
                /* Continuing across a split gives the same. */
                uint32_t half = impls[i].fn(impls[i].fn(0, data + off, lens[l] / 3), data + off + lens[l] / 3,
                                            lens[l] - lens[l] / 3);
                if (half != want)
                    fail_msg("%s: len %zu split: 0x%08x, expected 0x%08x", impls[i].name, lens[l], half, want);
            }
        }
}

/* Every length 0..MAXLEN at every start offset 0..15, so each path's
 * head, word loop and tail all get exercised in every combination. */
static void lengths_and_alignments(void **state)
{
    static uint8_t data[MAXLEN];
    static uint32_t want[MAXLEN + 1];
    /* Over-aligned so offset 0 really is 16-byte aligned. */
    static _Alignas(64) uint8_t buf[MAXLEN + MAXALIGN];
    (void)state;

    for (size_t i = 0; i < MAXLEN; i++)
        data[i] = rng_byte();
    uint32_t reg = 0xffffffffu;
    want[0] = 0;
    for (size_t len = 1; len <= MAXLEN; len++) {
        reg = ref_update(reg, data + len - 1, 1);
        want[len] = ~reg;
    }

    for (size_t align = 0; align < MAXALIGN; align++) {
        memset(buf, 0xa5, sizeof buf);
        memcpy(buf + align, data, MAXLEN);
        for (size_t len = 0; len <= MAXLEN; len++) {
            for (size_t i = 0; i < NIMPLS; i++) {
                if (!impl_usable(i))
                    continue;
                uint32_t got = impls[i].fn(0, buf + align, len);
                if (got != want[len])
                    fail_msg("%s: length %zu at offset %zu gave 0x%08x, expected 0x%08x",
                             impls[i].name, len, align, got, want[len]);
            }
        }
    }
}

/* crc(crc(0, a), b) == crc(0, a || b) at every split point, and across
 * paths: a run started in hardware may be finished in software. */
static void continuation(void **state)
{
    uint8_t data[300];
    (void)state;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = rng_byte();
    uint32_t whole = ref_crc(data, sizeof data);
    for (size_t split = 0; split <= sizeof data; split++) {
        for (size_t i = 0; i < NIMPLS; i++) {
            if (!impl_usable(i))
                continue;
            for (size_t j = 0; j < NIMPLS; j++) {
                if (!impl_usable(j))
                    continue;
                uint32_t a = impls[i].fn(0, data, split);
                uint32_t ab = impls[j].fn(a, data + split, sizeof data - split);
                if (ab != whole)
                    fail_msg("split at %zu, %s then %s: 0x%08x, expected 0x%08x", split,
                             impls[i].name, impls[j].name, ab, whole);
            }
        }
    }

    /* Many small pieces of varied size. */
    for (size_t i = 0; i < NIMPLS; i++) {
        if (!impl_usable(i))
            continue;
        uint32_t c = 0;
        size_t off = 0, step = 0;
        while (off < sizeof data) {
            size_t n = step++ % 11;
            if (n > sizeof data - off)
                n = sizeof data - off;
            c = impls[i].fn(c, data + off, n);
            off += n;
        }
        if (c != whole)
            fail_msg("%s in pieces: 0x%08x, expected 0x%08x", impls[i].name, c, whole);
    }
}

/* An empty update leaves any value alone, and needs no data pointer. */
static void empty_update(void **state)
{
    static const uint32_t vals[] = {0, 1, 0xe3069283u, 0xffffffffu};
    (void)state;
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
        for (size_t i = 0; i < NIMPLS; i++) {
            if (impl_usable(i))
                assert_int_equal(impls[i].fn(vals[v], NULL, 0), vals[v]);
        }
    }
}

static void hw_presence(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    if (!tn_crc32c_hw_available())
        print_message("note: no SSE4.2 on this CPU; only the software path was tested\n");
#else
    assert_int_equal(tn_crc32c_hw_available(), 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_value),
        cmocka_unit_test(rfc3720_vectors),
        cmocka_unit_test(lengths_and_alignments),
        cmocka_unit_test(long_buffers),
        cmocka_unit_test(continuation),
        cmocka_unit_test(empty_update),
        cmocka_unit_test(hw_presence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
