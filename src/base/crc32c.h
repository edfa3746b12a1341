/* CRC-32C internals, exposed so tests can check both paths against each
 * other. Library code calls tern_crc32c(), which picks one at run time. */
#ifndef TN_BASE_CRC32C_H
#define TN_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Same contract as tern_crc32c(). The software path works everywhere. */
uint32_t tn_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* The SSE4.2 path; only call it when tn_crc32c_hw_available() says so.
 * On non-x86 builds it is the software path. */
uint32_t tn_crc32c_hw(uint32_t crc, const void *data, size_t len);
/* 1 if this CPU has the crc32 instruction, else 0. */
int tn_crc32c_hw_available(void);

#endif
