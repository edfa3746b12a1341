/* Clocks: the monotonic one never goes back, the wall one tells the time. */
#include <errno.h>
#include <time.h>

#include "testutil.h"

static void monotonic_never_goes_back(void **state)
{
    (void)state;
    uint64_t prev = tern_clock_ns();
    assert_true(prev > 0);
    for (int i = 0; i < 200000; i++) {
        uint64_t now = tern_clock_ns();
        if (now < prev)
            fail_msg("clock went back from %llu to %llu", (unsigned long long)prev,
                     (unsigned long long)now);
        prev = now;
    }
}

/* It measures real time: a 20 ms sleep shows up as at least 20 ms. */
static void monotonic_advances(void **state)
{
    (void)state;
    struct timespec ts = {0, 20 * 1000 * 1000};
    uint64_t before = tern_clock_ns();
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    uint64_t elapsed = tern_clock_ns() - before;
    assert_true(elapsed >= 20u * 1000 * 1000);
    /* Loose bound; a loaded machine can oversleep a lot. */
    assert_true(elapsed < 10ull * 1000 * 1000 * 1000);
}

static void wall_clock_near_time(void **state)
{
    (void)state;
    time_t before = time(NULL);
    uint64_t wall = tern_clock_wall_ns();
    time_t after = time(NULL);
    uint64_t sec = wall / 1000000000u;
    /* time() may lag the real-time clock by up to one tick. */
    if (sec + 1 < (uint64_t)before || sec > (uint64_t)after + 1)
        fail_msg("wall clock %llu s, time() %lld..%lld", (unsigned long long)sec, (long long)before,
                 (long long)after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(monotonic_never_goes_back),
        cmocka_unit_test(monotonic_advances),
        cmocka_unit_test(wall_clock_near_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
