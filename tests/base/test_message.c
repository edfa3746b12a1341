/* Unit tests of the envelope operations on messages (src/base/message.c):
 * routing ids and delimiters go on and off without copying bodies. */
#include <string.h>

#include "base/message.h"
#include "testutil.h"

static tern_msg *make(const char *const *parts, size_t n)
{
    tern_msg *m;
    check_ok(tern_msg_new(&m));
    for (size_t i = 0; i < n; i++)
        check_ok(tern_msg_append(m, parts[i], strlen(parts[i])));
    return m;
}

static void expect(const tern_msg *m, const char *const *parts, size_t n)
{
    assert_int_equal(tern_msg_parts(m), n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tern_msg_size(m, i), strlen(parts[i]));
        if (strlen(parts[i]))
            assert_memory_equal(tern_msg_data(m, i), parts[i], strlen(parts[i]));
        total += strlen(parts[i]);
    }
    assert_int_equal(tern_msg_total(m), total);
}

static void test_push_front(void **state)
{
    (void)state;
    tern_msg *m;
    check_ok(tern_msg_alloc(&m, 5)); /* inline part 0 */
    memcpy(tern_msg_data(m, 0), "hello", 5);
    check_ok(tn_msg_push_front(m, NULL, 0));
    check_ok(tn_msg_push_front(m, "id", 2));
    expect(m, (const char *const[]){"id", "", "hello"}, 3);
    tern_msg_free(m);
}

static void test_move_front(void **state)
{
    (void)state;
    tern_msg *m = make((const char *const[]){"a", "bb", "", "body", "tail"}, 5);
    tern_msg *env;
    check_ok(tern_msg_new(&env));
    check_ok(tn_msg_move_front(m, 3, env));
    expect(env, (const char *const[]){"a", "bb", ""}, 3);
    expect(m, (const char *const[]){"body", "tail"}, 2);
    check_ok(tn_msg_prepend_msg(m, env)); /* env is consumed */
    expect(m, (const char *const[]){"a", "bb", "", "body", "tail"}, 5);
    check_ok(tn_msg_move_front(m, 2, NULL));
    expect(m, (const char *const[]){"", "body", "tail"}, 3);
    tern_msg_free(m);
}

/* An inline part 0 moved out must be copied: its bytes live inside the
 * source message, which is freed first here. */
static void test_move_inline(void **state)
{
    (void)state;
    tern_msg *m;
    check_ok(tern_msg_alloc(&m, 3));
    memcpy(tern_msg_data(m, 0), "rid", 3);
    check_ok(tern_msg_append(m, "x", 1));
    tern_msg *env;
    check_ok(tern_msg_new(&env));
    check_ok(tn_msg_move_front(m, 1, env));
    tern_msg_free(m);
    expect(env, (const char *const[]){"rid"}, 1);
    tern_msg *big = make((const char *const[]){"p", "q", "r", "s", "t", "u", "v", "w", "x", "y"}, 10);
    check_ok(tn_msg_prepend_msg(big, env));
    expect(big, (const char *const[]){"rid", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y"}, 11);
    tern_msg_free(big);
}

/* A dup shares bodies; moving parts between messages must keep the
 * references straight (ASan catches a double free or a leak). */
static void test_shared_bodies(void **state)
{
    (void)state;
    tern_msg *m = make((const char *const[]){"routing", "", "payload"}, 3);
    tern_msg *d;
    check_ok(tern_msg_dup(m, &d));
    tern_msg *env;
    check_ok(tern_msg_new(&env));
    check_ok(tn_msg_move_front(d, 2, env));
    tern_msg_free(m);
    expect(d, (const char *const[]){"payload"}, 1);
    check_ok(tn_msg_prepend_msg(d, env));
    expect(d, (const char *const[]){"routing", "", "payload"}, 3);
    tern_msg_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_front),
        cmocka_unit_test(test_move_front),
        cmocka_unit_test(test_move_inline),
        cmocka_unit_test(test_shared_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
