/* Endpoints: tcp over IPv4, IPv6 and host names, port 0 and
 * TERN_OPT_LAST_ENDPOINT, addresses in use, malformed endpoints, unknown
 * schemes, ipc and inproc names. */
#include "msgtest.h"

/* Sends one message push -> pull and checks it. */
static void one_message(tern_socket push, tern_socket pull)
{
    static const size_t sz[] = {300, 0, 5};
    mt_wait_peers(push, 1);
    mt_send_parts(push, 3, sz, 42);
    mt_recv_parts(pull, 3, sz, 42);
}

/* The port in "tcp://host:port", or -1. */
static int port_of(const char *ep)
{
    const char *colon = strrchr(ep, ':');
    if (!colon || strncmp(ep, "tcp://", 6) != 0)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    return *end == '\0' && p > 0 && p < 65536 ? (int)p : -1;
}

static void test_tcp4_port0(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_bind(pull, "tcp://127.0.0.1:0");
    char ep[MT_EP_MAX];
    mt_last_endpoint(pull, ep, sizeof ep);
    printf("    bound %s\n", ep);
    assert_true(strncmp(ep, "tcp://127.0.0.1:", 16) == 0);
    assert_true(port_of(ep) > 0);
    mt_connect(push, ep);
    one_message(push, pull);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
}

/* "*" binds every interface; connecting through 127.0.0.1 works. */
static void test_tcp_wildcard(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_bind(pull, "tcp://*:0");
    char ep[MT_EP_MAX];
    mt_last_endpoint(pull, ep, sizeof ep);
    printf("    bound %s\n", ep);
    int port = port_of(ep);
    assert_true(port > 0);
    char conn[MT_EP_MAX];
    snprintf(conn, sizeof conn, "tcp://127.0.0.1:%d", port);
    mt_connect(push, conn);
    one_message(push, pull);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
}

static bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void test_tcp6(void **state)
{
    (void)state;
    if (!have_ipv6_loopback()) {
        printf("    skipped: this host has no IPv6 loopback (bind to [::1] failed)\n");
        skip();
    }
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_bind(pull, "tcp://[::1]:0");
    char ep[MT_EP_MAX];
    mt_last_endpoint(pull, ep, sizeof ep);
    printf("    bound %s\n", ep);
    assert_true(strncmp(ep, "tcp://[::1]:", 12) == 0);
    assert_true(port_of(ep) > 0);
    mt_connect(push, ep);
    one_message(push, pull);

    /* Connect first, bind later, over IPv6 too. */
    tern_socket pull2 = mt_open(ctx, TERN_PULL);
    tern_socket push2 = mt_open(ctx, TERN_PUSH);
    char ep2[MT_EP_MAX];
    mt_endpoint(MT_TCP6, false, ep2, sizeof ep2);
    mt_connect(push2, ep2);
    mt_sleep_ms(200);
    mt_bind(pull2, ep2);
    one_message(push2, pull2);

    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    check_ok(tern_socket_close(push2));
    check_ok(tern_socket_close(pull2));
    tern_ctx_close(ctx);
}

/* Host names resolve, for connect and for bind. */
static void test_tcp_hostname(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_bind(pull, "tcp://127.0.0.1:0");
    char ep[MT_EP_MAX];
    mt_last_endpoint(pull, ep, sizeof ep);
    char conn[MT_EP_MAX];
    snprintf(conn, sizeof conn, "tcp://localhost:%d", port_of(ep));
    mt_connect(push, conn);
    one_message(push, pull);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));

    pull = mt_open(ctx, TERN_PULL);
    push = mt_open(ctx, TERN_PUSH);
    mt_bind(pull, "tcp://localhost:0");
    mt_last_endpoint(pull, ep, sizeof ep);
    printf("    bound tcp://localhost:0 as %s\n", ep);
    assert_true(port_of(ep) > 0);
    snprintf(conn, sizeof conn, "tcp://localhost:%d", port_of(ep));
    mt_connect(push, conn);
    one_message(push, pull);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
}

/* LAST_ENDPOINT: a too-small buffer gives TERN_EMSGSIZE and the size
 * needed; ipc and inproc endpoints read back as bound; the last bind
 * wins. */
static void test_last_endpoint(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket s = mt_open(ctx, TERN_PULL);
    char ipc[MT_EP_MAX], abs[MT_EP_MAX], inp[MT_EP_MAX], got[MT_EP_MAX];
    mt_endpoint(MT_IPC, true, ipc, sizeof ipc);
    mt_bind(s, ipc);
    mt_last_endpoint(s, got, sizeof got);
    assert_string_equal(got, ipc);

    mt_endpoint(MT_IPC_ABSTRACT, true, abs, sizeof abs);
    mt_bind(s, abs);
    mt_last_endpoint(s, got, sizeof got);
    assert_string_equal(got, abs);

    mt_endpoint(MT_INPROC, true, inp, sizeof inp);
    mt_bind(s, inp);
    mt_last_endpoint(s, got, sizeof got);
    assert_string_equal(got, inp);

    mt_bind(s, "tcp://127.0.0.1:0");
    mt_last_endpoint(s, got, sizeof got);
    size_t full = strlen(got);
    char small[8];
    size_t len = sizeof small;
    check_err(tern_getopt_bytes(s, TERN_OPT_LAST_ENDPOINT, small, &len), TERN_EMSGSIZE);
    assert_true(len >= full);

    /* A fresh socket has no endpoint: an empty string, or a plain error. */
    tern_socket fresh = mt_open(ctx, TERN_PUSH);
    len = sizeof got;
    got[0] = 'x';
    tern_err e = tern_getopt_bytes(fresh, TERN_OPT_LAST_ENDPOINT, got, &len);
    if (e == TERN_OK) {
        assert_int_equal(len, 0);
        assert_string_equal(got, "");
    } else {
        assert_true(e == TERN_ENOENT || e == TERN_ESTATE);
    }

    check_ok(tern_socket_close(fresh));
    check_ok(tern_socket_close(s));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ipc);
}

static void test_addr_in_use(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_PULL);
    tern_socket b = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];

    mt_bind_fresh(a, MT_TCP, ep, sizeof ep);
    check_err(tern_bind(b, ep), TERN_EADDRINUSE);
    check_err(tern_bind(a, ep), TERN_EADDRINUSE);

    /* A port held by a plain socket, not by tern. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char held[MT_EP_MAX];
    snprintf(held, sizeof held, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    check_err(tern_bind(b, held), TERN_EADDRINUSE);
    close(fd);

    mt_bind_fresh(a, MT_IPC_ABSTRACT, ep, sizeof ep);
    check_err(tern_bind(b, ep), TERN_EADDRINUSE);

    mt_bind_fresh(a, MT_INPROC, ep, sizeof ep);
    check_err(tern_bind(b, ep), TERN_EADDRINUSE);

    /* The socket that failed to bind is still usable. */
    mt_bind_fresh(b, MT_TCP, ep, sizeof ep);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_connect(push, ep);
    one_message(push, b);

    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(a));
    check_ok(tern_socket_close(b));
    tern_ctx_close(ctx);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "tcp",
        "tcp:",
        "tcp://",
        "tcp:/127.0.0.1:5555",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:",
        "tcp://127.0.0.1:abc",
        "tcp://127.0.0.1:5x",
        "tcp://127.0.0.1:-1",
        "tcp://127.0.0.1:65536",
        "tcp://127.0.0.1:99999999999999999999",
        "tcp://[::1:5555",
        "tcp://[::1]",
        "tcp://[::1]5555",
        "tcp://[zz::1]:5555",
        "ipc://",
        "ipc://@",
        "inproc://",
        "127.0.0.1:5555",
        "://127.0.0.1:5555",
        NULL,
    };
    tern_ctx *ctx = mt_ctx();
    tern_socket s = mt_open(ctx, TERN_PULL);
    for (const char *const *p = bad; *p; p++) {
        tern_err eb = tern_bind(s, *p);
        tern_err ec = tern_connect(s, *p);
        printf("    \"%s\": bind %s, connect %s\n", *p, tern_errname(eb), tern_errname(ec));
        if (eb != TERN_EADDRINVAL || ec != TERN_EADDRINVAL)
            fail_msg("endpoint \"%s\": bind gave %s, connect gave %s, expected TERN_EADDRINVAL", *p,
                     tern_errname(eb), tern_errname(ec));
    }

    /* An ipc path longer than sun_path can hold. */
    char longpath[400] = "ipc:///tmp/";
    size_t n = strlen(longpath);
    memset(longpath + n, 'x', sizeof longpath - n - 1);
    longpath[sizeof longpath - 1] = '\0';
    check_err(tern_bind(s, longpath), TERN_EADDRINVAL);
    check_err(tern_connect(s, longpath), TERN_EADDRINVAL);

    /* NULL is refused, not dereferenced. */
    tern_err e = tern_bind(s, NULL);
    assert_true(e == TERN_EINVAL || e == TERN_EADDRINVAL);
    e = tern_connect(s, NULL);
    assert_true(e == TERN_EINVAL || e == TERN_EADDRINVAL);

    /* The socket still works. */
    char ep[MT_EP_MAX];
    mt_bind_fresh(s, MT_TCP, ep, sizeof ep);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_connect(push, ep);
    one_message(push, s);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(s));
    tern_ctx_close(ctx);
}

static void test_unknown_scheme(void **state)
{
    (void)state;
    static const char *const eps[] = {
        "udp://127.0.0.1:5555",   "pgm://eth0;239.192.1.1:5555",
        "ws://127.0.0.1:5555",    "foo://bar",
        "TCP-x://127.0.0.1:5555", NULL,
    };
    tern_ctx *ctx = mt_ctx();
    tern_socket s = mt_open(ctx, TERN_PUSH);
    for (const char *const *p = eps; *p; p++) {
        tern_err eb = tern_bind(s, *p);
        tern_err ec = tern_connect(s, *p);
        printf("    \"%s\": bind %s, connect %s\n", *p, tern_errname(eb), tern_errname(ec));
        assert_true(eb == TERN_EADDRINVAL || eb == TERN_ENOTSUP);
        assert_true(ec == TERN_EADDRINVAL || ec == TERN_ENOTSUP);
    }
    check_ok(tern_socket_close(s));
    tern_ctx_close(ctx);
}

/* inproc: connect before the name is bound; names are per context. */
static void test_inproc_late_bind(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_endpoint(MT_INPROC, true, ep, sizeof ep);
    mt_connect(push, ep);
    mt_sleep_ms(100);
    mt_bind(pull, ep);
    one_message(push, pull);

    /* Another context does not see this context's inproc names. */
    tern_ctx *other = mt_ctx();
    tern_socket stranger = mt_open(other, TERN_PUSH);
    mt_connect(stranger, ep);
    mt_sleep_ms(300);
    assert_int_equal(mt_getopt(stranger, TERN_OPT_PEERS), 0);
    assert_int_equal(mt_getopt(pull, TERN_OPT_PEERS), 1);
    mt_setopt(stranger, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(stranger));
    tern_ctx_close(other);

    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
}

/* An ipc path: the file exists while bound; a second tern socket binding
 * the same live path is refused; after close a new bind works. */
static void test_ipc_path(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(a, MT_IPC, ep, sizeof ep);
    const char *path = ep + strlen("ipc://");
    assert_int_equal(access(path, F_OK), 0);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_connect(push, ep);
    one_message(push, a);
    check_ok(tern_socket_close(a));
    /* The PUSH notices before the new PULL appears (else a message could
     * go to the dying connection). */
    mt_wait_peers_cmp(push, '=', 0, 5000);

    /* Rebinding the same path after close. */
    tern_socket b = mt_open(ctx, TERN_PULL);
    mt_bind(b, ep);
    mt_wait_peers(push, 1);
    one_message(push, b);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(b));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp4_port0),
        cmocka_unit_test(test_tcp_wildcard),
        cmocka_unit_test(test_tcp6),
        cmocka_unit_test(test_tcp_hostname),
        cmocka_unit_test(test_last_endpoint),
        cmocka_unit_test(test_addr_in_use),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unknown_scheme),
        cmocka_unit_test(test_inproc_late_bind),
        cmocka_unit_test(test_ipc_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
