/* Tracing: topic parsing, sinks, the stderr line format and TERN_TRACE.
 *
 * TERN_TRACE is read once per process, so the environment tests re-run
 * this binary in a child ("--child MODE") with the variable set. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/trace.h"
#include "testutil.h"

struct capture {
    int n;
    char topic[32];
    char line[2048];
};

static void capture_sink(void *arg, const char *topic, const char *line)
{
    struct capture *c = arg;
    c->n++;
    snprintf(c->topic, sizeof c->topic, "%s", topic);
    snprintf(c->line, sizeof c->line, "%s", line);
}

static int teardown(void **state)
{
    (void)state;
    tern_trace_sink(NULL, NULL);
    tern_trace_set(NULL);
    return 0;
}

static void sink_gets_enabled_topics(void **state)
{
    struct capture c = {0};
    (void)state;

    check_ok(tern_trace_set("io"));
    tern_trace_sink(capture_sink, &c);
    tn_trace(TERN_TRACE_IO, "hello %d", 42);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.topic, "io");
    assert_string_equal(c.line, "io: hello 42");

    tn_trace(TERN_TRACE_WIRE, "not enabled");
    tn_trace(TERN_TRACE_MSG, "not enabled");
    assert_int_equal(c.n, 1);

    check_ok(tern_trace_set("wire,msg"));
    tn_trace(TERN_TRACE_MSG, "frame %s", "x");
    assert_int_equal(c.n, 2);
    assert_string_equal(c.topic, "msg");
    assert_string_equal(c.line, "msg: frame x");
    /* A point under several topics is named after the lowest one. */
    tn_trace(TERN_TRACE_WIRE | TERN_TRACE_MSG, "both");
    assert_int_equal(c.n, 3);
    assert_string_equal(c.topic, "wire");
    assert_string_equal(c.line, "wire: both");
    tn_trace(TERN_TRACE_IO, "not enabled");
    assert_int_equal(c.n, 3);
}

static void nothing_when_disabled(void **state)
{
    struct capture c = {0};
    (void)state;

    tern_trace_sink(capture_sink, &c);
    check_ok(tern_trace_set(NULL));
    assert_int_equal(tern_trace_mask(), 0);
    tn_trace(TERN_TRACE_IO, "off");
    tn_trace(TERN_TRACE_WIRE, "off");
    tn_trace(TERN_TRACE_MSG, "off");
    tn_trace(TERN_TRACE_ALL, "off");
    check_ok(tern_trace_set("all"));
    check_ok(tern_trace_set(""));
    assert_int_equal(tern_trace_mask(), 0);
    tn_trace(TERN_TRACE_IO, "off");
    check_ok(tern_trace_set(" , "));
    assert_int_equal(tern_trace_mask(), 0);
    tn_trace(TERN_TRACE_IO, "off");
    assert_int_equal(c.n, 0);
}

static void set_parses_and_rejects(void **state)
{
    static const struct {
        const char *spec;
        unsigned mask;
    } good[] = {
        {"io", TERN_TRACE_IO},
        {"wire", TERN_TRACE_WIRE},
        {"msg", TERN_TRACE_MSG},
        {"all", TERN_TRACE_ALL},
        {" IO ,\twire ", TERN_TRACE_IO | TERN_TRACE_WIRE},
        {"msg,,io,", TERN_TRACE_MSG | TERN_TRACE_IO},
        {"io,all", TERN_TRACE_ALL},
    };
    static const char *const bad[] = {
        "bogus", "io,bogus", "i o", "iowire", "io;wire", "al", "alll", "io,wire,x",
    };
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        check_ok(tern_trace_set(good[i].spec));
        if (tern_trace_mask() != good[i].mask)
            fail_msg("\"%s\" gave mask 0x%x, expected 0x%x", good[i].spec, tern_trace_mask(),
                     good[i].mask);
    }
    check_ok(tern_trace_set("wire"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check_err(tern_trace_set(bad[i]), TERN_EINVAL);
        /* A rejected spec changes nothing. */
        if (tern_trace_mask() != TERN_TRACE_WIRE)
            fail_msg("\"%s\" was rejected but changed the mask to 0x%x", bad[i], tern_trace_mask());
    }
}

static void long_lines_are_cut(void **state)
{
    struct capture c = {0};
    static char big[5000];
    (void)state;

    memset(big, 'x', sizeof big - 1);
    check_ok(tern_trace_set("io"));
    tern_trace_sink(capture_sink, &c);
    tn_trace(TERN_TRACE_IO, "%s", big);
    assert_int_equal(c.n, 1);
    size_t len = strlen(c.line);
    assert_true(len > 900 && len < 1100);
    assert_memory_equal(c.line, "io: xxx", 7);
    assert_string_equal(c.line + len - 3, "...");
}

static void one_line_per_call(void **state)
{
    struct capture c = {0};
    (void)state;

    check_ok(tern_trace_set("io"));
    tern_trace_sink(capture_sink, &c);
    tn_trace(TERN_TRACE_IO, "a\nb\r\n");
    assert_string_equal(c.line, "io: a b");
    tn_trace(TERN_TRACE_IO, "%s", "");
    assert_string_equal(c.line, "io: ");
}

/* Trace points often sit between a system call and the errno check. */
static void errno_is_kept(void **state)
{
    struct capture c = {0};
    (void)state;

    check_ok(tern_trace_set("io"));
    tern_trace_sink(capture_sink, &c);
    errno = EAGAIN;
    tn_trace(TERN_TRACE_IO, "x");
    assert_int_equal(errno, EAGAIN);
    tern_trace_sink(NULL, NULL);
    check_ok(tern_trace_set(NULL));
}

/* ---- sinks under concurrency ----------------------------------------- */

#define NTHREADS 4
#define NLINES 2000

struct counting_sink {
    atomic_int inside;
    atomic_int calls;
    atomic_int bad;
};

static void counting_fn(void *arg, const char *topic, const char *line)
{
    struct counting_sink *s = arg;
    atomic_fetch_add(&s->inside, 1);
    if (strcmp(topic, "msg") != 0 || strncmp(line, "msg: n=", 7) != 0)
        atomic_fetch_add(&s->bad, 1);
    atomic_fetch_add(&s->calls, 1);
    atomic_fetch_sub(&s->inside, 1);
}

static void *tracer(void *arg)
{
    (void)arg;
    for (int i = 0; i < NLINES; i++)
        tn_trace(TERN_TRACE_MSG, "n=%d", i);
    return NULL;
}

/* Lines are never lost or misdelivered while the sink changes, and once
 * tern_trace_sink() returns nobody is still inside the old sink. */
static void sink_swaps_while_tracing(void **state)
{
    struct counting_sink a = {0}, b = {0};
    pthread_t th[NTHREADS];
    (void)state;

    check_ok(tern_trace_set("msg"));
    tern_trace_sink(counting_fn, &a);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, tracer, NULL), 0);
    for (int round = 0; round < 200; round++) {
        tern_trace_sink(counting_fn, &b);
        assert_int_equal(atomic_load(&a.inside), 0);
        tern_trace_sink(counting_fn, &a);
        assert_int_equal(atomic_load(&b.inside), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    tern_trace_sink(NULL, NULL);
    assert_int_equal(atomic_load(&a.calls) + atomic_load(&b.calls), NTHREADS * NLINES);
    assert_int_equal(atomic_load(&a.bad) + atomic_load(&b.bad), 0);
}

/* ---- TERN_TRACE and stderr, in child processes ------------------------ */

struct child {
    pid_t pid;
    int status;
    char out[4096];
    char err[4096];
};

static void read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n > 0)
            len += (size_t)n;
        else if (n == 0 || errno != EINTR)
            break;
    }
    buf[len] = '\0';
}

/* Runs this binary as "--child MODE" with TERN_TRACE set to env (NULL:
 * unset). Outputs are small, so waiting before reading cannot deadlock. */
static void run_child(const char *mode, const char *env, struct child *c)
{
    int out[2], err[2];

    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        if (env)
            setenv("TERN_TRACE", env, 1);
        else
            unsetenv("TERN_TRACE");
        execl("/proc/self/exe", "test_trace", "--child", mode, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    while (waitpid(c->pid, &c->status, 0) < 0)
        assert_int_equal(errno, EINTR);
    read_all(out[0], c->out, sizeof c->out);
    read_all(err[0], c->err, sizeof c->err);
    close(out[0]);
    close(err[0]);
    if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)
        fail_msg("child %s (TERN_TRACE=%s) failed, status 0x%x, stderr: %s", mode,
                 env ? env : "(unset)", c->status, c->err);
}

static int child_main(const char *mode)
{
    if (strcmp(mode, "mask") == 0) {
        printf("%u\n", tern_trace_mask());
    } else if (strcmp(mode, "emit") == 0) {
        /* The first trace point is what reads TERN_TRACE. */
        tn_trace(TERN_TRACE_WIRE, "wire line");
        tn_trace(TERN_TRACE_IO, "hello %d", 42);
        printf("%u\n", tern_trace_mask());
    } else if (strcmp(mode, "set-first") == 0) {
        if (tern_trace_set("msg") != TERN_OK)
            return 1;
        tn_trace(TERN_TRACE_IO, "io line");
        printf("%u\n", tern_trace_mask());
    } else {
        return 2;
    }
    return 0;
}

static unsigned child_mask(const char *mode, const char *env, struct child *c)
{
    run_child(mode, env, c);
    return (unsigned)strtoul(c->out, NULL, 10);
}

static void env_sets_the_mask(void **state)
{
    struct child c;
    (void)state;

    assert_int_equal(child_mask("mask", NULL, &c), 0);
    assert_int_equal(child_mask("mask", "", &c), 0);
    assert_int_equal(child_mask("mask", "io", &c), TERN_TRACE_IO);
    assert_int_equal(child_mask("mask", " wire , msg ", &c), TERN_TRACE_WIRE | TERN_TRACE_MSG);
    assert_int_equal(child_mask("mask", "all", &c), TERN_TRACE_ALL);
    assert_string_equal(c.err, "");
}

static void env_bad_value_warns(void **state)
{
    struct child c;
    (void)state;

    assert_int_equal(child_mask("mask", "io,bogus", &c), 0);
    if (strstr(c.err, "TERN_TRACE") == NULL || strstr(c.err, "io,bogus") == NULL)
        fail_msg("no warning about TERN_TRACE on stderr: \"%s\"", c.err);
}

/* An explicit setting made before the first trace point beats the env. */
static void set_beats_env(void **state)
{
    struct child c;
    (void)state;

    assert_int_equal(child_mask("set-first", "all", &c), TERN_TRACE_MSG);
    assert_string_equal(c.err, "");
}

/* Skips a run of decimal digits; NULL if there are none. */
static const char *digits(const char *p, unsigned long long *val, int *count)
{
    *val = 0;
    *count = 0;
    while (*p >= '0' && *p <= '9') {
        *val = *val * 10 + (unsigned)(*p++ - '0');
        (*count)++;
    }
    return *count ? p : NULL;
}

/* Without a sink: exactly one line "tern[<pid>] <s>.<us> io: hello 42". */
static void stderr_line_format(void **state)
{
    struct child c;
    unsigned long long pid, sec, usec;
    int n;
    (void)state;

    assert_int_equal(child_mask("emit", "io", &c), TERN_TRACE_IO);
    const char *p = c.err;
    if (strncmp(p, "tern[", 5) != 0)
        goto bad;
    if ((p = digits(p + 5, &pid, &n)) == NULL || pid != (unsigned long long)c.pid)
        goto bad;
    if (strncmp(p, "] ", 2) != 0 || (p = digits(p + 2, &sec, &n)) == NULL || *p != '.')
        goto bad;
    if ((p = digits(p + 1, &usec, &n)) == NULL || n != 6)
        goto bad;
    if (strcmp(p, " io: hello 42\n") != 0)
        goto bad;
    /* CLOCK_MONOTONIC is shared by the whole system. */
    unsigned long long now = tern_clock_ns() / 1000000000u;
    assert_true(sec <= now && now - sec < 60);
    return;
bad:
    fail_msg("unexpected stderr from child %lld: \"%s\"", (long long)c.pid, c.err);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(sink_gets_enabled_topics, teardown),
        cmocka_unit_test_teardown(nothing_when_disabled, teardown),
        cmocka_unit_test_teardown(set_parses_and_rejects, teardown),
        cmocka_unit_test_teardown(long_lines_are_cut, teardown),
        cmocka_unit_test_teardown(one_line_per_call, teardown),
        cmocka_unit_test_teardown(errno_is_kept, teardown),
        cmocka_unit_test_teardown(sink_swaps_while_tracing, teardown),
        cmocka_unit_test(env_sets_the_mask),
        cmocka_unit_test(env_bad_value_warns),
        cmocka_unit_test(set_beats_env),
        cmocka_unit_test(stderr_line_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
