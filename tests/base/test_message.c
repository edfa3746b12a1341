/* Unit tests of the internal operations on messages (src/base/message.c):
 * routing ids and delimiters go on and off without copying bodies, and
 * bodies are shared and handed out without copying either. */
#include <stdlib.h>
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
    tern_msg *big =
        make((const char *const[]){"p", "q", "r", "s", "t", "u", "v", "w", "x", "y"}, 10);
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

/* A private part's bytes leave as memory from malloc; shared parts,
 * inline ones and the caller's own memory stay where they are. */
static void test_steal(void **state)
{
    (void)state;
    tern_msg *m;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, "head", 4));
    uint8_t *big = malloc(70000);
    memset(big, 'b', 70000);
    check_ok(tern_msg_append(m, big, 70000));
    check_ok(tern_msg_append_ref(m, big, 100, NULL, NULL));
    assert_int_equal(tern_msg_total(m), 70104);

    tern_msg *d;
    check_ok(tern_msg_dup(m, &d));
    assert_null(tn_msg_part_steal(m, 1)); /* shared with d */
    tern_msg_free(d);
    assert_null(tn_msg_part_steal(m, 2)); /* the caller's memory */
    assert_null(tn_msg_part_steal(m, 3)); /* no such part */
    uint8_t *got = tn_msg_part_steal(m, 1);
    assert_non_null(got);
    assert_memory_equal(got, big, 70000);
    got = realloc(got, 80000); /* it is malloc's: realloc works too */
    assert_non_null(got);
    free(got);
    assert_int_equal(tern_msg_parts(m), 3);
    assert_int_equal(tern_msg_size(m, 1), 0);
    assert_int_equal(tern_msg_total(m), 104);
    assert_null(tn_msg_part_steal(m, 1)); /* nothing left to take */
    tern_msg_free(m);

    tern_msg *small;
    check_ok(tern_msg_alloc(&small, 8)); /* inline in the message */
    assert_null(tn_msg_part_steal(small, 0));
    tern_msg_free(small);
    free(big);
}

/* A shared slice keeps its body alive after the source message is gone;
 * a part without a body is copied. */
static void test_share(void **state)
{
    (void)state;
    tern_msg *src = make((const char *const[]){"0123456789"}, 1), *inl, *dst;
    check_ok(tern_msg_alloc(&inl, 2));
    memcpy(tern_msg_data(inl, 0), "ab", 2);
    check_ok(tern_msg_new(&dst));
    check_ok(tn_msg_append_share(dst, src, 0, (uint8_t *)tern_msg_data(src, 0) + 3, 4));
    check_ok(tn_msg_append_share(dst, inl, 0, tern_msg_data(inl, 0), 2));
    assert_false(tn_msg_part_private(src, 0));
    tern_msg_free(src);
    tern_msg_free(inl);
    expect(dst, (const char *const[]){"3456", "ab"}, 2);
    tern_msg_free(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_front),  cmocka_unit_test(test_move_front),
        cmocka_unit_test(test_move_inline), cmocka_unit_test(test_shared_bodies),
        cmocka_unit_test(test_steal),       cmocka_unit_test(test_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
