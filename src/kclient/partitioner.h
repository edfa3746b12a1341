/* The Java client's default partitioner for keyed records: murmur2 of the
 * key bytes (seed 0x9747b28c), sign bit cleared, modulo the partition
 * count. Keys land where the Java client and librdkafka's
 * "murmur2_random" partitioner put them. */
#ifndef TN_KCLIENT_PARTITIONER_H
#define TN_KCLIENT_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

/* The hash as the Java code's int, bit for bit. */
uint32_t tn_kc_murmur2(const void *key, size_t len);
/* npart > 0. */
int32_t tn_kc_partition_for_key(const void *key, size_t len, int32_t npart);

#endif
