/* tern_poll over tern sockets and plain file descriptors: POLLIN, POLLOUT,
 * POLLERR, and timeouts of 0, a positive value and -1. */
#include "msgtest.h"

#include <fcntl.h>

static tern_pollitem sock_item(tern_socket s, short events)
{
    tern_pollitem it;
    memset(&it, 0, sizeof it);
    it.socket = s;
    it.fd = -1;
    it.events = events;
    it.revents = (short)0x7f; /* must be overwritten */
    return it;
}

static tern_pollitem fd_item(int fd, short events)
{
    tern_pollitem it;
    memset(&it, 0, sizeof it);
    it.fd = fd;
    it.events = events;
    it.revents = (short)0x7f;
    return it;
}

struct env {
    tern_ctx *ctx;
    tern_socket push, pull;
    int pfd[2];
};

static void env_open(struct env *e, int tr)
{
    e->ctx = mt_ctx();
    e->push = mt_open(e->ctx, TERN_PUSH);
    e->pull = mt_open(e->ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(e->pull, tr, ep, sizeof ep);
    mt_connect(e->push, ep);
    mt_wait_peers(e->push, 1);
    assert_int_equal(pipe(e->pfd), 0);
}

static void env_close(struct env *e)
{
    mt_setopt(e->push, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(e->push));
    check_ok(tern_socket_close(e->pull));
    tern_ctx_close(e->ctx);
    close(e->pfd[0]);
    close(e->pfd[1]);
}

/* Timeout 0 checks and returns at once; a positive timeout waits about
 * that long when nothing happens. */
static void test_timeouts(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, MT_TCP);
    tern_pollitem items[2] = {sock_item(e.pull, TERN_POLLIN), fd_item(e.pfd[0], TERN_POLLIN)};
    size_t nready = 99;
    int64_t t0 = mt_now_ms();
    check_ok(tern_poll(items, 2, 0, &nready));
    assert_true(mt_now_ms() - t0 < 500);
    assert_int_equal(nready, 0);
    assert_int_equal(items[0].revents, 0);
    assert_int_equal(items[1].revents, 0);

    nready = 99;
    t0 = mt_now_ms();
    check_ok(tern_poll(items, 2, 300, &nready));
    int64_t dt = mt_now_ms() - t0;
    printf("    empty poll(300) returned after %lld ms\n", (long long)dt);
    assert_int_equal(nready, 0);
    assert_true(dt >= 250 && dt <= 3000);

    /* nready may be NULL. */
    check_ok(tern_poll(items, 2, 0, NULL));
    env_close(&e);
}

/* POLLIN on a socket and on a pipe, separately and together. */
static void test_pollin(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, MT_TCP);
    tern_pollitem items[2];
    size_t nready = 0;

    check_ok(tern_send(e.push, "m1", 2, 0));
    items[0] = sock_item(e.pull, TERN_POLLIN);
    items[1] = fd_item(e.pfd[0], TERN_POLLIN);
    check_ok(tern_poll(items, 2, 10000, &nready));
    assert_int_equal(nready, 1);
    assert_int_equal(items[0].revents, TERN_POLLIN);
    assert_int_equal(items[1].revents, 0);
    /* Still readable until received (level-triggered). */
    items[0] = sock_item(e.pull, TERN_POLLIN);
    check_ok(tern_poll(items, 1, 0, &nready));
    assert_int_equal(nready, 1);
    char buf[8];
    size_t len;
    check_ok(tern_recv(e.pull, buf, sizeof buf, &len, TERN_DONTWAIT));
    items[0] = sock_item(e.pull, TERN_POLLIN);
    check_ok(tern_poll(items, 1, 0, &nready));
    assert_int_equal(nready, 0);
    assert_int_equal(items[0].revents, 0);

    /* Only the pipe. */
    assert_int_equal(write(e.pfd[1], "x", 1), 1);
    items[0] = sock_item(e.pull, TERN_POLLIN);
    items[1] = fd_item(e.pfd[0], TERN_POLLIN);
    check_ok(tern_poll(items, 2, 10000, &nready));
    assert_int_equal(nready, 1);
    assert_int_equal(items[0].revents, 0);
    assert_int_equal(items[1].revents, TERN_POLLIN);

    /* Both. */
    check_ok(tern_send(e.push, "m2", 2, 0));
    int64_t deadline = mt_now_ms() + 10000;
    do {
        items[0] = sock_item(e.pull, TERN_POLLIN);
        items[1] = fd_item(e.pfd[0], TERN_POLLIN);
        check_ok(tern_poll(items, 2, 1000, &nready));
    } while (nready < 2 && mt_now_ms() < deadline);
    assert_int_equal(nready, 2);
    assert_int_equal(items[0].revents, TERN_POLLIN);
    assert_int_equal(items[1].revents, TERN_POLLIN);
    assert_int_equal(read(e.pfd[0], buf, 1), 1);
    check_ok(tern_recv(e.pull, buf, sizeof buf, &len, TERN_DONTWAIT));
    assert_int_equal(len, 2);
    assert_memory_equal(buf, "m2", 2);
    env_close(&e);
}

/* POLLOUT: a pipe's write end is writable; a PUSH with a peer and room is
 * writable, one with no peer or at its HWM is not, until drained. */
static void test_pollout(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, MT_INPROC);
    size_t nready = 0;
    tern_pollitem items[2] = {sock_item(e.push, TERN_POLLOUT), fd_item(e.pfd[1], TERN_POLLOUT)};
    check_ok(tern_poll(items, 2, 10000, &nready));
    assert_int_equal(nready, 2);
    assert_int_equal(items[0].revents, TERN_POLLOUT);
    assert_int_equal(items[1].revents, TERN_POLLOUT);

    /* A PULL asked for POLLIN|POLLOUT is never writable. */
    items[0] = sock_item(e.pull, TERN_POLLIN | TERN_POLLOUT);
    check_ok(tern_poll(items, 1, 0, &nready));
    assert_int_equal(nready, 0);

    /* A PUSH with no peer. */
    tern_socket lone = mt_open(e.ctx, TERN_PUSH);
    items[0] = sock_item(lone, TERN_POLLOUT);
    check_ok(tern_poll(items, 1, 200, &nready));
    assert_int_equal(nready, 0);
    assert_int_equal(items[0].revents, 0);
    check_ok(tern_socket_close(lone));

    /* Fill the PUSH up to its HWM. */
    int sent = 0;
    while (tern_send(e.push, "fill", 4, TERN_DONTWAIT) == TERN_OK) {
        sent++;
        assert_true(sent < 100000);
    }
    items[0] = sock_item(e.push, TERN_POLLOUT);
    check_ok(tern_poll(items, 1, 0, &nready));
    assert_int_equal(nready, 0);
    assert_int_equal(items[0].revents, 0);
    /* Drain everything: writable again. */
    char buf[8];
    size_t len;
    for (int i = 0; i < sent; i++)
        check_ok(tern_recv(e.pull, buf, sizeof buf, &len, 0));
    items[0] = sock_item(e.push, TERN_POLLOUT);
    check_ok(tern_poll(items, 1, 10000, &nready));
    assert_int_equal(nready, 1);
    assert_int_equal(items[0].revents, TERN_POLLOUT);
    env_close(&e);
}

struct later {
    tern_socket push;
    int fd;
    int delay_ms;
    tern_err err;
};

static void *later_main(void *arg)
{
    struct later *l = arg;
    mt_sleep_ms(l->delay_ms);
    if (l->fd >= 0) {
        l->err = write(l->fd, "w", 1) == 1 ? TERN_OK : TERN_ESYSTEM;
    } else {
        l->err = tern_send(l->push, "late", 4, 0);
    }
    return NULL;
}

/* Timeout -1 waits until another thread makes something ready: first a
 * message, then a pipe write. */
static void test_infinite(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, MT_TCP);
    for (int round = 0; round < 2; round++) {
        struct later l = {e.push, round == 0 ? -1 : e.pfd[1], 300, TERN_EINVAL};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, later_main, &l), 0);
        tern_pollitem items[2] = {sock_item(e.pull, TERN_POLLIN), fd_item(e.pfd[0], TERN_POLLIN)};
        size_t nready = 0;
        int64_t t0 = mt_now_ms();
        check_ok(tern_poll(items, 2, -1, &nready));
        int64_t dt = mt_now_ms() - t0;
        assert_true(mt_join(t, 10000));
        check_ok(l.err);
        printf("    round %d: poll(-1) woke after %lld ms\n", round, (long long)dt);
        assert_int_equal(nready, 1);
        assert_true(dt >= 200);
        if (round == 0) {
            assert_int_equal(items[0].revents, TERN_POLLIN);
            assert_int_equal(items[1].revents, 0);
            char buf[8];
            size_t len;
            check_ok(tern_recv(e.pull, buf, sizeof buf, &len, TERN_DONTWAIT));
            assert_int_equal(len, 4);
        } else {
            assert_int_equal(items[0].revents, 0);
            assert_int_equal(items[1].revents, TERN_POLLIN);
        }
    }
    env_close(&e);
}

/* A closed socket, or a pipe whose writer went away, reports POLLERR. */
static void test_pollerr(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, MT_INPROC);
    tern_socket gone = mt_open(e.ctx, TERN_PULL);
    check_ok(tern_socket_close(gone));
    tern_pollitem items[2] = {sock_item(gone, TERN_POLLIN), sock_item(e.pull, TERN_POLLIN)};
    size_t nready = 0;
    tern_err err = tern_poll(items, 2, 1000, &nready);
    if (err == TERN_OK) {
        assert_int_equal(nready, 1);
        assert_true(items[0].revents & TERN_POLLERR);
        assert_int_equal(items[1].revents, 0);
    } else {
        check_err(err, TERN_ECLOSED);
    }

    /* Hang-up on a pipe. */
    close(e.pfd[1]);
    e.pfd[1] = open("/dev/null", O_WRONLY);
    items[0] = fd_item(e.pfd[0], TERN_POLLIN);
    check_ok(tern_poll(items, 1, 1000, &nready));
    assert_int_equal(nready, 1);
    assert_true(items[0].revents & (TERN_POLLERR | TERN_POLLIN));
    env_close(&e);
}

struct closer {
    tern_socket s;
    int delay_ms;
    tern_err err;
};

static void *closer_main(void *arg)
{
    struct closer *c = arg;
    mt_sleep_ms(c->delay_ms);
    c->err = tern_socket_close(c->s);
    return NULL;
}

/* A socket closed by another thread while polled wakes the poller. */
static void test_close_while_polling(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    struct closer c = {pull, 300, TERN_EINVAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, closer_main, &c), 0);
    tern_pollitem items[1] = {sock_item(pull, TERN_POLLIN)};
    size_t nready = 0;
    int64_t t0 = mt_now_ms();
    tern_err err = tern_poll(items, 1, 10000, &nready);
    int64_t dt = mt_now_ms() - t0;
    assert_true(mt_join(t, 10000));
    check_ok(c.err);
    printf("    poll returned %s after %lld ms, revents %d\n", tern_errname(err), (long long)dt,
           items[0].revents);
    assert_true(dt < 5000);
    if (err == TERN_OK) {
        assert_int_equal(nready, 1);
        assert_true(items[0].revents & TERN_POLLERR);
    } else {
        check_err(err, TERN_ECLOSED);
    }
    tern_ctx_close(ctx);
}

/* Many sockets and fds in one call: only the ready ones are flagged. */
static void test_many_items(void **state)
{
    (void)state;
    enum { NS = 40 }; /* more than fit in tern_poll's stack arrays */
    tern_ctx *ctx = mt_ctx();
    tern_socket push[NS], pull[NS];
    for (int i = 0; i < NS; i++) {
        char ep[MT_EP_MAX];
        push[i] = mt_open(ctx, TERN_PUSH);
        pull[i] = mt_open(ctx, TERN_PULL);
        mt_bind_fresh(pull[i], i % 2 ? MT_INPROC : MT_TCP, ep, sizeof ep);
        mt_connect(push[i], ep);
        mt_wait_peers(push[i], 1);
    }
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    for (int i = 0; i < NS; i += 3)
        check_ok(tern_send(push[i], "r", 1, 0));
    tern_pollitem items[NS + 1];
    size_t nready = 0;
    int want = (NS + 2) / 3;
    int64_t deadline = mt_now_ms() + 10000;
    do {
        for (int i = 0; i < NS; i++)
            items[i] = sock_item(pull[i], TERN_POLLIN);
        items[NS] = fd_item(pfd[0], TERN_POLLIN);
        check_ok(tern_poll(items, NS + 1, 500, &nready));
    } while ((int)nready < want && mt_now_ms() < deadline);
    assert_int_equal(nready, want);
    for (int i = 0; i < NS; i++)
        assert_int_equal(items[i].revents, i % 3 == 0 ? TERN_POLLIN : 0);
    assert_int_equal(items[NS].revents, 0);
    for (int i = 0; i < NS; i++) {
        check_ok(tern_socket_close(push[i]));
        check_ok(tern_socket_close(pull[i]));
    }
    close(pfd[0]);
    close(pfd[1]);
    tern_ctx_close(ctx);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeouts),   cmocka_unit_test(test_pollin),
        cmocka_unit_test(test_pollout),    cmocka_unit_test(test_infinite),
        cmocka_unit_test(test_pollerr),    cmocka_unit_test(test_close_while_polling),
        cmocka_unit_test(test_many_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
