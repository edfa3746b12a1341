/* murmur2, 32-bit, as Kafka's partitioner computes it: little-endian
 * 4-byte words, the tail's bytes folded in from the highest down. */
#include "kclient/partitioner.h"

#define M2_SEED 0x9747b28cu
#define M2_M 0x5bd1e995u
#define M2_R 24

uint32_t tn_kc_murmur2(const void *key, size_t len)
{
    const uint8_t *p = key;
    /* Java hashes the length as an int. */
    uint32_t h = M2_SEED ^ (uint32_t)len;
    size_t words = len / 4;
    for (size_t i = 0; i < words; i++, p += 4) {
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= M2_M;
        k ^= k >> M2_R;
        k *= M2_M;
        h *= M2_M;
        h ^= k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[1] << 8;
        /* fall through */
    case 1:
        h ^= p[0];
        h *= M2_M;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= M2_M;
    h ^= h >> 15;
    return h;
}

int32_t tn_kc_partition_for_key(const void *key, size_t len, int32_t npart)
{
    return (int32_t)((tn_kc_murmur2(key, len) & 0x7fffffffu) % (uint32_t)npart);
}
