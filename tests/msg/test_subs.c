/* Unit tests of the prefix subscription set (src/msg/subs.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/subs.h"
#include "testutil.h"

#define S(str) (const uint8_t *)(str), strlen(str)

static void test_prefix_match(void **state)
{
    (void)state;
    tn_subs *s = tn_subs_new();
    assert_non_null(s);
    assert_false(tn_subs_match(s, S("anything")));
    assert_int_equal(tn_subs_add(s, S("ab")), 1);
    assert_int_equal(tn_subs_add(s, S("xyz")), 1);
    assert_true(tn_subs_match(s, S("ab")));
    assert_true(tn_subs_match(s, S("abc")));
    assert_true(tn_subs_match(s, S("xyz and more")));
    assert_false(tn_subs_match(s, S("a")));
    assert_false(tn_subs_match(s, S("xy")));
    assert_false(tn_subs_match(s, S("ba")));
    assert_false(tn_subs_match(s, (const uint8_t *)"", 0));
    /* The empty subscription matches everything, the empty message too. */
    assert_int_equal(tn_subs_add(s, (const uint8_t *)"", 0), 1);
    assert_true(tn_subs_match(s, (const uint8_t *)"", 0));
    assert_true(tn_subs_match(s, S("q")));
    assert_int_equal(tn_subs_count(s), 3);
    assert_int_equal(tn_subs_bytes(s), 5);
    tn_subs_free(s);
}

static void test_counts(void **state)
{
    (void)state;
    tn_subs *s = tn_subs_new();
    assert_int_equal(tn_subs_add(s, S("t")), 1);
    assert_int_equal(tn_subs_add(s, S("t")), 0);
    assert_int_equal(tn_subs_remove(s, S("t")), 0);
    assert_true(tn_subs_match(s, S("top")));
    assert_int_equal(tn_subs_remove(s, S("t")), 1);
    assert_false(tn_subs_match(s, S("top")));
    assert_int_equal(tn_subs_remove(s, S("t")), -1);
    assert_int_equal(tn_subs_remove(s, S("never")), -1);
    assert_int_equal(tn_subs_count(s), 0);
    tn_subs_free(s);
}

static void count_topic(void *arg, const uint8_t *topic, size_t len)
{
    (void)topic;
    size_t *n = arg;
    *n += len + 1;
}

/* Many topics of many lengths, removed and re-added: the table rehashes
 * and keeps tombstones from breaking lookups. */
static void test_many(void **state)
{
    (void)state;
    tn_subs *s = tn_subs_new();
    char t[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(t, sizeof(t), "topic.%d;", i);
        assert_int_equal(tn_subs_add(s, S(t)), 1);
    }
    for (int i = 0; i < 20000; i += 2) {
        snprintf(t, sizeof(t), "topic.%d;", i);
        assert_int_equal(tn_subs_remove(s, S(t)), 1);
    }
    assert_int_equal(tn_subs_count(s), 10000);
    for (int i = 0; i < 20000; i++) {
        snprintf(t, sizeof(t), "topic.%d;", i);
        assert_int_equal(tn_subs_match(s, S(t)), i % 2);
    }
    /* Prefixes: anything after a subscribed topic matches. */
    assert_true(tn_subs_match(s, S("topic.1;x")));
    assert_false(tn_subs_match(s, S("topic.")));
    size_t seen = 0;
    tn_subs_each(s, count_topic, &seen);
    assert_int_equal(seen, tn_subs_bytes(s) + tn_subs_count(s));
    tn_subs_free(s);
}

static void test_binary_topics(void **state)
{
    (void)state;
    tn_subs *s = tn_subs_new();
    uint8_t a[3] = {0, 1, 0}, b[4] = {0, 1, 0, 2}, c[2] = {0, 2};
    assert_int_equal(tn_subs_add(s, a, 3), 1);
    assert_true(tn_subs_match(s, b, 4));
    assert_false(tn_subs_match(s, c, 2));
    tn_subs_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_match),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_binary_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
