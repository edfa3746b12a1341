/* Shared helpers for tern's cmocka tests: asserts that print error names. */
#ifndef TERN_TESTUTIL_H
#define TERN_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include <tern/tern.h>

#define check_ok(expr)                                                                             \
    do {                                                                                           \
        tern_err e_ = (expr);                                                                      \
        if (e_ != TERN_OK)                                                                         \
            fail_msg("%s failed: %s (%s)", #expr, tern_errname(e_), tern_strerror(e_));            \
    } while (0)

#define check_err(expr, want)                                                                      \
    do {                                                                                           \
        tern_err e_ = (expr);                                                                      \
        if (e_ != (want))                                                                          \
            fail_msg("%s returned %s, expected %s", #expr, tern_errname(e_), tern_errname(want));  \
    } while (0)

/* Sleeps ms milliseconds, through signals. */
static inline void test_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#endif
