/* The directory: registration under leases that expire, lookups, binding
 * by name (tern://HOST:PORT/NAME), version filtering, re-resolving when a
 * server goes away, multicast to every registration of a name, and
 * servers registering again after the directory restarts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static const tern_rpc_method methods[] = {{"who", 0}};
static const tern_rpc_iface iface = {
    "Who", {{0x0d, 0x1e, 0x2f, 0x30, 0x41, 0x52, 0x43, 0x74, 0x85, 0x96, 0xa7, 0xb8, 0xc9, 0xda, 0xeb, 0xfc}},
    2, 1, 1, methods};

static tern_err dispatch(tern_rpc_call *call, uint32_t method, tern_xdr_dec *in, tern_xdr_enc *out,
                         const void *impl)
{
    (void)method, (void)in, (void)impl;
    return tern_xdr_put_i32(out, *(int *)tern_rpc_call_app(call));
}

typedef struct fixture {
    tern_ctx *ctx;
    tern_directory *dir;
    char dir_ep[256];
    char url[300];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    check_ok(tern_ctx_open(&fx->ctx, 1));
    check_ok(tern_directory_open(fx->ctx, "tcp://127.0.0.1:0", &fx->dir));
    check_ok(tern_directory_endpoint(fx->dir, fx->dir_ep, sizeof fx->dir_ep));
    snprintf(fx->url, sizeof fx->url, "tern://%s/who", fx->dir_ep + strlen("tcp://"));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tern_directory_close(fx->dir);
    tern_ctx_close(fx->ctx);
    free(fx);
    return 0;
}

typedef struct server {
    tern_rpc_server *s;
    int id;
} server;

static void server_up(fixture *fx, server *sv, int id, const tern_rpc_iface *ifc, int64_t lease_ms)
{
    sv->id = id;
    tern_rpc_server_opts o = {.workers = 1, .lease_ms = lease_ms};
    check_ok(tern_rpc_server_open(fx->ctx, &o, &sv->s));
    check_ok(tern_rpc_server_add(sv->s, ifc, dispatch, NULL, &sv->id));
    check_ok(tern_rpc_server_bind(sv->s, "tcp://127.0.0.1:0"));
    char attrs[32];
    snprintf(attrs, sizeof attrs, "id=%d", id);
    check_ok(tern_rpc_server_register(sv->s, fx->dir_ep, "who", NULL, attrs));
}

static int who(tern_rpc_client *c, tern_err *errp)
{
    tern_xdr_enc e = {0};
    tern_rpc_future *f = NULL;
    tern_xdr_dec d;
    int32_t v = -1;
    tern_err err = tern_rpc_invoke(c, 0, NULL, &e, &f, &d);
    if (err == TERN_OK)
        err = tern_xdr_get_i32(&d, &v);
    tern_rpc_future_free(f);
    if (errp)
        *errp = err;
    return v;
}

static void register_lookup_bind_unregister(void **state)
{
    fixture *fx = *state;
    server a;
    server_up(fx, &a, 7, &iface, 0);
    tern_dir_entry *es;
    size_t n;
    check_ok(tern_directory_lookup(fx->ctx, fx->dir_ep, "who", &es, &n));
    assert_int_equal(n, 1);
    assert_string_equal(es[0].name, "who");
    assert_int_equal(es[0].major, 2);
    assert_int_equal(es[0].minor, 1);
    assert_memory_equal(es[0].iface.b, iface.uuid.b, 16);
    assert_string_equal(es[0].attrs, "id=7");
    char ep[256];
    check_ok(tern_rpc_server_endpoint(a.s, ep, sizeof ep));
    assert_string_equal(es[0].endpoint, ep);
    assert_true(es[0].expires_ms > 0 && es[0].expires_ms <= 10000);
    free(es);
    /* Every name, through the other spellings of the directory address. */
    check_ok(tern_directory_lookup(fx->ctx, fx->dir_ep + strlen("tcp://"), NULL, &es, &n));
    assert_int_equal(n, 1);
    free(es);

    tern_rpc_client *c;
    check_ok(tern_rpc_client_open(fx->ctx, fx->url, &iface, NULL, &c));
    char bound[256];
    check_ok(tern_rpc_client_endpoint(c, bound, sizeof bound));
    assert_string_equal(bound, ep);
    assert_int_equal(who(c, NULL), 7);
    tern_rpc_client_close(c);

    /* Closing unregisters at once. */
    tern_rpc_server_close(a.s);
    check_ok(tern_directory_lookup(fx->ctx, fx->dir_ep, "who", &es, &n));
    assert_int_equal(n, 0);
    free(es);
    check_err(tern_rpc_client_open(fx->ctx, fx->url, &iface, NULL, &c), TERN_ENOENT);
    assert_non_null(strstr(tern_rpc_last_error(), "not registered"));
}

static void versions_filtered(void **state)
{
    fixture *fx = *state;
    server a;
    server_up(fx, &a, 1, &iface, 0);
    tern_rpc_iface newer = iface;
    newer.minor = 2; /* the registration offers 2.1 */
    tern_rpc_client *c;
    check_err(tern_rpc_client_open(fx->ctx, fx->url, &newer, NULL, &c), TERN_EVERSION);
    tern_rpc_iface other = iface;
    other.uuid.b[0] ^= 1;
    check_err(tern_rpc_client_open(fx->ctx, fx->url, &other, NULL, &c), TERN_ENOENT);
    tern_rpc_iface older = iface;
    older.minor = 0;
    check_ok(tern_rpc_client_open(fx->ctx, fx->url, &older, NULL, &c));
    tern_rpc_client_close(c);
    tern_rpc_server_close(a.s);
}

static void bad_names(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c;
    check_err(tern_rpc_client_open(fx->ctx, "tern://", &iface, NULL, &c), TERN_EADDRINVAL);
    check_err(tern_rpc_client_open(fx->ctx, "tern://host-only", &iface, NULL, &c), TERN_EADDRINVAL);
    check_err(tern_rpc_client_open(fx->ctx, "tern://127.0.0.1:1/", &iface, NULL, &c), TERN_EADDRINVAL);
    tern_rpc_client_opts o = {.timeout_ms = 300, .bind_timeout_ms = 300};
    check_err(tern_rpc_client_open(fx->ctx, "tern://127.0.0.1:1/who", &iface, &o, &c), TERN_EUNAVAILABLE);
    /* A server cannot register with a directory that is not there. */
    tern_rpc_server *s;
    check_ok(tern_rpc_server_open(fx->ctx, NULL, &s));
    check_ok(tern_rpc_server_add(s, &iface, dispatch, NULL, NULL));
    check_err(tern_rpc_server_register(s, NULL, "who", NULL, NULL), TERN_ESTATE); /* nothing bound */
    check_ok(tern_rpc_server_bind(s, "tcp://127.0.0.1:0"));
    check_err(tern_rpc_server_register(s, "tcp://127.0.0.1:1", "who", NULL, NULL), TERN_EUNAVAILABLE);
    tern_rpc_server_close(s);
}

/* (A lease that is not renewed running out: test_kill.c, with a server
 * process killed.) */
static void lease_renewed(void **state)
{
    fixture *fx = *state;
    server kept;
    server_up(fx, &kept, 2, &iface, 300); /* renewed every 100 ms */
    tern_dir_entry *es;
    size_t n;
    check_ok(tern_directory_lookup(fx->ctx, fx->dir_ep, "who", &es, &n));
    assert_int_equal(n, 1);
    assert_true(es[0].expires_ms <= 300);
    free(es);
    test_sleep_ms(700);
    check_ok(tern_directory_lookup(fx->ctx, fx->dir_ep, "who", &es, &n));
    assert_int_equal(n, 1); /* still there: renewed */
    free(es);
    tern_rpc_server_close(kept.s);
}

static void rebinds_when_server_goes(void **state)
{
    fixture *fx = *state;
    server a, b;
    server_up(fx, &a, 1, &iface, 0);
    server_up(fx, &b, 2, &iface, 0);
    tern_rpc_client_opts o = {.timeout_ms = 3000};
    tern_rpc_client *c;
    check_ok(tern_rpc_client_open(fx->ctx, fx->url, &iface, &o, &c));
    int first = who(c, NULL);
    assert_true(first == 1 || first == 2);
    server *gone = first == 1 ? &a : &b;
    int other = first == 1 ? 2 : 1;
    tern_rpc_server_close(gone->s);
    /* The next calls fail while the client notices, then it asks the
     * directory again and reaches the server still there. */
    int got = -1;
    for (int i = 0; i < 20 && got != other; i++) {
        tern_err err;
        got = who(c, &err);
        if (err != TERN_OK)
            assert_true(err == TERN_EUNAVAILABLE || err == TERN_ETIMEDOUT);
    }
    assert_int_equal(got, other);
    tern_rpc_client_close(c);
    tern_rpc_server_close((first == 1 ? &b : &a)->s);
}

static void multicast_to_every_registration(void **state)
{
    fixture *fx = *state;
    server s[3];
    for (int i = 0; i < 3; i++)
        server_up(fx, &s[i], 10 + i, &iface, 0);
    const char *targets[] = {fx->url};
    tern_rpc_group *g;
    check_ok(tern_rpc_group_open(fx->ctx, targets, 1, &iface, NULL, &g));
    assert_int_equal(tern_rpc_group_size(g), 3);
    tern_xdr_enc e = {0};
    const tern_xdr_enc *args[] = {&e};
    tern_rpc_multi *m;
    check_ok(tern_rpc_multicall(g, 0, NULL, TERN_RPC_ALL, 0, args, 1, &m));
    int seen = 0;
    for (size_t i = 0; i < 3; i++) {
        tern_xdr_dec d;
        check_ok(tern_rpc_multi_reply(m, i, &d));
        int32_t v;
        check_ok(tern_xdr_get_i32(&d, &v));
        assert_true(v >= 10 && v <= 12);
        seen |= 1 << (v - 10);
    }
    assert_int_equal(seen, 7);
    tern_rpc_multi_free(m);
    tern_rpc_group_close(g);
    for (int i = 0; i < 3; i++)
        tern_rpc_server_close(s[i].s);
}

static void directory_restart_reregisters(void **state)
{
    fixture *fx = *state;
    server a;
    server_up(fx, &a, 5, &iface, 300);
    tern_directory_close(fx->dir);
    check_ok(tern_directory_open(fx->ctx, fx->dir_ep, &fx->dir)); /* same port, empty */
    tern_dir_entry *es = NULL;
    size_t n = 0;
    for (int i = 0; i < 100 && n == 0; i++) {
        free(es);
        test_sleep_ms(20);
        check_ok(tern_directory_lookup(fx->ctx, fx->dir_ep, "who", &es, &n));
    }
    assert_int_equal(n, 1);
    assert_string_equal(es[0].attrs, "id=5");
    free(es);
    tern_rpc_server_close(a.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(register_lookup_bind_unregister, setup, teardown),
        cmocka_unit_test_setup_teardown(versions_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(lease_renewed, setup, teardown),
        cmocka_unit_test_setup_teardown(rebinds_when_server_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(multicast_to_every_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(directory_restart_reregisters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
