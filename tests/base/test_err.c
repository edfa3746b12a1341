/* Error names, sentences and the errno mapping. */
#include <errno.h>
#include <string.h>

#include "testutil.h"

#define NCODES 30 /* TERN_OK .. TERN_ENOSPC */

static void names_and_sentences(void **state)
{
    (void)state;
    for (int i = 0; i < NCODES; i++) {
        const char *name = tern_errname((tern_err)i);
        const char *text = tern_strerror((tern_err)i);
        assert_non_null(name);
        assert_non_null(text);
        if (strncmp(name, "TERN_", 5) != 0 || strcmp(name, "TERN_E?") == 0)
            fail_msg("code %d has name \"%s\"", i, name);
        if (text[0] == '\0')
            fail_msg("code %d (%s) has an empty sentence", i, name);
        for (int j = 0; j < i; j++) {
            if (strcmp(name, tern_errname((tern_err)j)) == 0)
                fail_msg("codes %d and %d share the name %s", j, i, name);
            if (strcmp(text, tern_strerror((tern_err)j)) == 0)
                fail_msg("codes %d and %d share the sentence \"%s\"", j, i, text);
        }
    }
}

/* The names must spell the enum, or asserts that print them would lie. */
static void names_match_enum(void **state)
{
    static const struct {
        tern_err err;
        const char *name;
    } want[] = {
#define E(x) {x, #x}
        E(TERN_OK),           E(TERN_EINVAL),    E(TERN_ENOMEM),       E(TERN_EAGAIN),
        E(TERN_ETIMEDOUT),    E(TERN_ECLOSED),   E(TERN_ENOTSUP),      E(TERN_EADDRINUSE),
        E(TERN_EADDRINVAL),   E(TERN_ENOENT),    E(TERN_ECONNREFUSED), E(TERN_EPROTO),
        E(TERN_EMSGSIZE),     E(TERN_EINCOMPAT), E(TERN_EINTR),        E(TERN_ESTATE),
        E(TERN_EHOSTUNREACH), E(TERN_ESYSTEM),   E(TERN_EEXIST),       E(TERN_EPERM),
        E(TERN_ECANCELED),    E(TERN_EUNAVAILABLE), E(TERN_ENOIFACE),   E(TERN_ENOMETHOD),
        E(TERN_EVERSION),     E(TERN_EBADARGS),  E(TERN_EAPP), E(TERN_EMOVED), E(TERN_ECORRUPT), E(TERN_ENOSPC),
#undef E
    };
    (void)state;
    assert_int_equal(sizeof want / sizeof want[0], NCODES);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(tern_errname(want[i].err), want[i].name);
}

static void unknown_values(void **state)
{
    static const int bad[] = {NCODES, NCODES + 1, 1000, -1, -1000, 0x7fffffff};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tern_err e = (tern_err)bad[i];
        assert_string_equal(tern_errname(e), "TERN_E?");
        assert_non_null(tern_strerror(e));
        assert_true(tern_strerror(e)[0] != '\0');
    }
}

static void from_errno(void **state)
{
    static const struct {
        int errnum;
        tern_err want;
    } cases[] = {
        {0, TERN_OK},
        {EAGAIN, TERN_EAGAIN},
        {EWOULDBLOCK, TERN_EAGAIN},
        {EINVAL, TERN_EINVAL},
        {ENOMEM, TERN_ENOMEM},
        {ETIMEDOUT, TERN_ETIMEDOUT},
        {EADDRINUSE, TERN_EADDRINUSE},
        {EADDRNOTAVAIL, TERN_EADDRINVAL},
        {ENOENT, TERN_ENOENT},
        {ECONNREFUSED, TERN_ECONNREFUSED},
        {EPROTO, TERN_EPROTO},
        {EMSGSIZE, TERN_EMSGSIZE},
        {EINTR, TERN_EINTR},
        {EHOSTUNREACH, TERN_EHOSTUNREACH},
        {ENETUNREACH, TERN_EHOSTUNREACH},
        {EEXIST, TERN_EEXIST},
        {EACCES, TERN_EPERM},
        {EPERM, TERN_EPERM},
        {ECANCELED, TERN_ECANCELED},
        {ENOSPC, TERN_ENOSPC},
        {EDQUOT, TERN_ENOSPC},
        /* Everything else is an unexpected system error. */
        {EBADF, TERN_ESYSTEM},
        {EIO, TERN_ESYSTEM},
        {-1, TERN_ESYSTEM},
        {99999, TERN_ESYSTEM},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tern_err got = tern_err_from_errno(cases[i].errnum);
        if (got != cases[i].want)
            fail_msg("errno %d (%s) -> %s, expected %s", cases[i].errnum, strerror(cases[i].errnum),
                     tern_errname(got), tern_errname(cases[i].want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_sentences),
        cmocka_unit_test(names_match_enum),
        cmocka_unit_test(unknown_values),
        cmocka_unit_test(from_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
