/* Internal tracing. tn_trace() costs one relaxed atomic load when off. */
#ifndef TN_BASE_TRACE_H
#define TN_BASE_TRACE_H

#include <stdatomic.h>

#include "tern/base.h"

/* Bit 31 set means "not yet read from TERN_TRACE". */
extern _Atomic unsigned tn_trace_mask_;
unsigned tn_trace_load(void);

static inline int tn_trace_enabled(unsigned topic)
{
    unsigned m = atomic_load_explicit(&tn_trace_mask_, memory_order_relaxed);
    if (m & 0x80000000u)
        m = tn_trace_load();
    return (m & topic) != 0;
}

/* Formats one line "<topic>: <text>" and hands it to the sink (stderr by
 * default, prefixed there with "tern[pid] <seconds>"). */
void tn_trace_emit(unsigned topic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tn_trace(topic, ...)                                                                       \
    do {                                                                                           \
        if (tn_trace_enabled(topic))                                                               \
            tn_trace_emit(topic, __VA_ARGS__);                                                     \
    } while (0)

#endif
