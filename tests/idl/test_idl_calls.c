/* Every method of every.tidl through the generated client stubs and server
 * skeleton and the real RPC runtime, over inproc: sync, async, one-way,
 * copy-restore of [in, out], optional values, context handles and their
 * rundown, multicast, and scatter-gather with each reducer. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#include "every.h"

/* ---- the server ------------------------------------------------------------------ */

typedef struct server_app {
    int member; /* which server of a group */
    atomic_int notes, session_rundowns, canvas_rundowns;
} server_app;

typedef struct session {
    char name[33];
    uint32_t touches;
} session;

static server_app *app_of(tern_rpc_call *call)
{
    return tern_rpc_call_app(call);
}

static tern_err do_add(tern_rpc_call *call, int32_t a, int32_t b, int32_t *ret)
{
    (void)call;
    *ret = (int32_t)((uint32_t)a + (uint32_t)b);
    return TERN_OK;
}

static tern_err do_nothing(tern_rpc_call *call)
{
    (void)call;
    return TERN_OK;
}

/* The in-values live in the call's memory until the reply is sent. */
static tern_err do_echo_all(tern_rpc_call *call, const Every_All *a, Every_All *ret)
{
    (void)call;
    *ret = *a;
    return TERN_OK;
}

/* Changes every [in, out] value without making anything longer, except
 * when n is 999: then the text grows, which the client must refuse. */
static tern_err do_inout(tern_rpc_call *call, Every_All *a, char **text, int32_t *n,
                         Every_double_seq *v, uint8_t tag[4], Every_Key key, Every_Value *val)
{
    (void)call;
    a->u32s[1] = 77;
    if (a->i32s.len > 0)
        a->i32s.len--;
    if (a->any[0] != '\0')
        a->any[0] = 'A';
    /* In place: over tcp the bytes lie in the request itself. */
    for (uint32_t i = 0; i < a->blob.len; i++)
        a->blob.val[i] ^= 0x5a;
    /* Large enough to come back out of line. */
    for (uint32_t i = 0; i < a->raw.len; i++)
        a->raw.val[i] = (uint8_t)~a->raw.val[i];
    for (char *p = *text; *p != '\0'; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    if (*n == 999)
        *text = "this is longer than what came";
    *n *= 2;
    for (uint32_t i = 0; i < v->len; i++)
        v->val[i] *= 2;
    if (v->len > 0)
        v->len--;
    uint8_t t = tag[0];
    tag[0] = tag[3];
    tag[3] = t;
    for (unsigned i = 0; i < Every_KEYLEN; i++)
        key[i] ^= 0xff;
    if (val->color != Every_RED && val->u.s[0] != '\0')
        val->u.s[1] = '\0';
    return TERN_OK;
}

static tern_err do_fixed(tern_rpc_call *call, const uint8_t digest[4], int16_t pair[2],
                         const Every_Small *maybe, char **label)
{
    (void)call;
    pair[0] = (int16_t)(digest[0] + digest[1]);
    pair[1] = (int16_t)(digest[2] - digest[3]);
    *label = maybe != NULL ? "some" : "none";
    return TERN_OK;
}

static tern_err do_find(tern_rpc_call *call, const char *key, Every_Small **hit, bool *ret)
{
    *ret = strcmp(key, "yes") == 0;
    if (!*ret)
        return TERN_OK;
    *hit = tern_rpc_call_alloc(call, sizeof **hit);
    if (*hit == NULL)
        return TERN_ENOMEM;
    **hit = (Every_Small){.c = 'y', .i8 = -1, .u16 = 65535, .f = 0.5f, .b = true};
    return TERN_OK;
}

/* A typedef of an optional travels as a pointer to it. */
static tern_err do_present(tern_rpc_call *call, const Every_MaybeSmall *m, Every_MaybeSmall *same,
                           bool *ret)
{
    (void)call;
    *ret = *m != NULL;
    *same = *m;
    return TERN_OK;
}

static tern_err do_blob(tern_rpc_call *call, const Every_bytes *data, Every_bytes *ret)
{
    ret->val = tern_rpc_call_alloc(call, data->len + 1);
    if (ret->val == NULL)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < data->len; i++)
        ret->val[i] = data->val[data->len - 1 - i];
    ret->len = data->len;
    return TERN_OK;
}

/* The result is b itself (over tcp: bytes in the request, which the reply
 * shares), made is new memory (copied into the reply). */
static tern_err do_big(tern_rpc_call *call, const Every_bytes *a, const Every_bytes *b,
                       Every_bytes *made, Every_bytes *ret)
{
    *ret = *b;
    made->len = a->len / 2 + 1;
    made->val = tern_rpc_call_alloc(call, made->len);
    if (made->val == NULL)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < made->len; i++)
        made->val[i] = i < a->len ? a->val[i] ^ 0x5a : 0;
    return TERN_OK;
}

static tern_err do_open(tern_rpc_call *call, const char *who, void **ret)
{
    (void)call;
    session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TERN_ENOMEM;
    snprintf(s->name, sizeof s->name, "%s", who);
    *ret = s;
    return TERN_OK;
}

static tern_err do_touch(tern_rpc_call *call, void *state, char **who, uint32_t *ret)
{
    (void)call;
    session *s = state;
    *who = s->name;
    *ret = ++s->touches;
    return TERN_OK;
}

static tern_err do_close(tern_rpc_call *call, void **state)
{
    (void)call;
    free(*state);
    *state = NULL;
    return TERN_OK;
}

static tern_err do_draw(tern_rpc_call *call, const Shapes_Shape *shape, void **ret)
{
    (void)call;
    double *area = malloc(sizeof *area);
    if (area == NULL)
        return TERN_ENOMEM;
    *area = shape->kind == Shapes_CIRCLE ? 3 * shape->u.radius * shape->u.radius : 0;
    *ret = area;
    return TERN_OK;
}

static tern_err do_note(tern_rpc_call *call, const char *msg)
{
    (void)msg;
    atomic_fetch_add(&app_of(call)->notes, 1);
    return TERN_OK;
}

static tern_err do_pick(tern_rpc_call *call, Every_Color c, Shapes_Kind k, Every_Color *ret)
{
    (void)call;
    *ret = k == Shapes_POLYGON ? Every_BLUE : c;
    return TERN_OK;
}

static tern_err do_total(tern_rpc_call *call, const Every_double_seq *xs, double *ret)
{
    (void)call;
    for (uint32_t i = 0; i < xs->len; i++)
        *ret += xs->val[i];
    return TERN_OK;
}

static tern_err do_squares(tern_rpc_call *call, const Every_double_seq *xs, double k,
                           Every_Vec *ret)
{
    ret->val = tern_rpc_call_alloc(call, (xs->len + 1) * sizeof *ret->val);
    if (ret->val == NULL)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < xs->len; i++)
        ret->val[i] = k * xs->val[i] * xs->val[i];
    ret->len = xs->len;
    return TERN_OK;
}

/* The item with the largest i16, and a label per item naming the member. */
static tern_err do_biggest(tern_rpc_call *call, const Every_Small_seq *items, Every_Name_seq *seen,
                           Every_Small *ret)
{
    seen->val = tern_rpc_call_alloc(call, (items->len + 1) * sizeof *seen->val);
    if (seen->val == NULL)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < items->len; i++) {
        if (i == 0 || items->val[i].i16 > ret->i16)
            *ret = items->val[i];
        char *label = tern_rpc_call_alloc(call, 16);
        if (label == NULL)
            return TERN_ENOMEM;
        snprintf(label, 16, "m%d:%d", app_of(call)->member, items->val[i].i16);
        seen->val[i] = label;
    }
    seen->len = items->len;
    return TERN_OK;
}

/* Rundowns run without a call: the states know their server's counters. */
static server_app *rundown_app;

static void rundown_session(void *state)
{
    atomic_fetch_add(&rundown_app->session_rundowns, 1);
    free(state);
}

static void rundown_canvas(void *state)
{
    atomic_fetch_add(&rundown_app->canvas_rundowns, 1);
    free(state);
}

static const Every_server procedures = {
    .add = do_add,
    .nothing = do_nothing,
    .echo_all = do_echo_all,
    .inout = do_inout,
    .fixed = do_fixed,
    .find = do_find,
    .present = do_present,
    .blob = do_blob,
    .big = do_big,
    .open = do_open,
    .touch = do_touch,
    .close = do_close,
    .draw = do_draw,
    .note = do_note,
    .pick = do_pick,
    .total = do_total,
    .squares = do_squares,
    .biggest = do_biggest,
    .rundown_Session = rundown_session,
    .rundown_Canvas = rundown_canvas,
};

/* ---- fixture: three servers, a client of the first, a group of all ------------------ */

enum { NSERVERS = 3 };

typedef struct fixture {
    tern_ctx *ctx;
    tern_rpc_server *servers[NSERVERS];
    server_app apps[NSERVERS];
    tern_rpc_client *client;
    tern_rpc_group *group;
} fixture;

static const char *const endpoints[NSERVERS] = {"inproc://every-0", "inproc://every-1",
                                                "inproc://every-2"};

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    check_ok(tern_ctx_open(&fx->ctx, 1));
    tern_rpc_server_opts so = {.workers = 2, .rundown_ms = 200};
    for (int i = 0; i < NSERVERS; i++) {
        fx->apps[i].member = i;
        check_ok(tern_rpc_server_open(fx->ctx, &so, &fx->servers[i]));
        check_ok(Every_serve(fx->servers[i], &procedures, &fx->apps[i]));
        check_ok(tern_rpc_server_bind(fx->servers[i], endpoints[i]));
    }
    rundown_app = &fx->apps[0];
    check_ok(tern_rpc_client_open(fx->ctx, endpoints[0], &Every_iface, NULL, &fx->client));
    check_ok(tern_rpc_group_open(fx->ctx, endpoints, NSERVERS, &Every_iface, NULL, &fx->group));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tern_rpc_group_close(fx->group);
    if (fx->client != NULL)
        tern_rpc_client_close(fx->client);
    for (int i = 0; i < NSERVERS; i++)
        tern_rpc_server_close(fx->servers[i]);
    tern_ctx_close(fx->ctx);
    free(fx);
    return 0;
}

/* Waits up to 3 s for *n to reach want. */
static void wait_for(atomic_int *n, int want)
{
    for (int i = 0; i < 300 && atomic_load(n) < want; i++)
        test_sleep_ms(10);
    assert_int_equal(atomic_load(n), want);
}

/* ---- calls ----------------------------------------------------------------------------- */

static void test_simple_calls(void **state)
{
    fixture *fx = *state;
    int32_t sum = 0;
    check_ok(Every_add(fx->client, NULL, 40, 2, &sum));
    assert_int_equal(sum, 42);
    check_ok(Every_add(fx->client, NULL, INT32_MAX, 1, &sum));
    assert_int_equal(sum, INT32_MIN);
    check_ok(Every_nothing(fx->client, NULL));

    Every_Color c = Every_RED;
    check_ok(Every_pick(fx->client, NULL, Every_GREEN, Shapes_CIRCLE, &c));
    assert_int_equal(c, Every_GREEN);
    check_ok(Every_pick(fx->client, NULL, Every_GREEN, Shapes_POLYGON, &c));
    assert_int_equal(c, Every_BLUE);

    uint8_t bytes[5] = {1, 2, 3, 4, 5};
    Every_bytes in = {5, bytes}, out;
    check_ok(Every_blob(fx->client, NULL, &in, &out));
    assert_int_equal(out.len, 5);
    assert_int_equal(out.val[0], 5);
    assert_int_equal(out.val[4], 1);
    Every_blob_free(&out);

    /* Bounds are checked before anything is sent. */
    uint8_t big[1025] = {0};
    in = (Every_bytes){sizeof big, big};
    check_err(Every_blob(fx->client, NULL, &in, &out), TERN_EMSGSIZE);
}

static void test_optional_and_fixed(void **state)
{
    fixture *fx = *state;
    Every_Small *hit = NULL;
    bool found = false;
    check_ok(Every_find(fx->client, NULL, "yes", &hit, &found));
    assert_true(found);
    assert_non_null(hit);
    assert_int_equal(hit->c, 'y');
    assert_int_equal(hit->u16, 65535);
    Every_find_free(&hit);
    check_ok(Every_find(fx->client, NULL, "no", &hit, &found));
    assert_false(found);
    assert_null(hit);

    Every_Small sm = {.c = 'p'};
    Every_MaybeSmall m = &sm, back = NULL;
    check_ok(Every_present(fx->client, NULL, &m, &back, &found));
    assert_true(found);
    assert_int_equal(back->c, 'p');
    Every_present_free(&back);
    m = NULL;
    check_ok(Every_present(fx->client, NULL, &m, &back, &found));
    assert_false(found);
    assert_null(back);

    const uint8_t digest[4] = {10, 20, 30, 5};
    int16_t pair[2] = {0, 0};
    char *label = NULL;
    Every_Small maybe = {.c = 'm'};
    check_ok(Every_fixed(fx->client, NULL, digest, pair, &maybe, &label));
    assert_int_equal(pair[0], 30);
    assert_int_equal(pair[1], 25);
    assert_string_equal(label, "some");
    Every_fixed_free(&label);
    check_ok(Every_fixed(fx->client, NULL, digest, pair, NULL, &label));
    assert_string_equal(label, "none");
    Every_fixed_free(&label);
}

/* A value with something in every member, which the server sends back. */
static void test_echo_all(void **state)
{
    fixture *fx = *state;
    Every_Small many[2] = {{.c = 'a'}, {.c = 'b', .i8 = -128}};
    char *lines[2] = {"one", "two"};
    double vec[3] = {1, 2, 3};
    Every_Node tail = {2, NULL}, head = {1, &tail};
    Every_All a = {
        .many = {2, many},
        .names = {"x", "y", "z"},
        .any = "any",
        .lines = {2, lines},
        .vec = {3, vec},
        .who = "me",
        .maybe = {.tag = 1, .u.small = {.c = 's'}},
        .flag = {.set = true, .u.bits = 9},
        .list = &head,
        .tree = {"t", {0, NULL}},
        .shape = {.kind = Shapes_CIRCLE, .u.radius = 2},
        .kind = Shapes_CIRCLE,
    };
    Every_All back;
    check_ok(Every_echo_all(fx->client, NULL, &a, &back));
    assert_int_equal(back.many.val[1].i8, -128);
    assert_string_equal(back.names[2], "z");
    assert_string_equal(back.lines.val[1], "two");
    assert_true(back.vec.val[2] == 3);
    assert_int_equal(back.maybe.u.small.c, 's');
    assert_int_equal(back.list->next->value, 2);
    assert_null(back.opt_small);
    assert_true(back.shape.u.radius == 2);
    Every_echo_all_free(&back);
}

/* [in, out] values come back into the caller's own memory, or not at all. */
static void copy_restore(tern_rpc_client *client)
{
    int32_t i32s[3] = {1, 2, 3};
    char any[] = "any";
    uint8_t blob[3] = {1, 2, 3};
    enum { RAW = 3 * TERN_XDR_OOL_MIN };
    uint8_t *raw = malloc(RAW);
    assert_non_null(raw);
    for (uint32_t i = 0; i < RAW; i++)
        raw[i] = (uint8_t)(i % 251);
    Every_All a = {.i32s = {3, i32s},
                   .blob = {3, blob},
                   .raw = {RAW, raw},
                   .any = any,
                   .names = {"", "", ""},
                   .who = "",
                   .tree = {"", {0, NULL}},
                   .shape = {.kind = Shapes_CIRCLE},
                   .kind = Shapes_POLYGON};
    char text[] = "shout";
    int32_t n = 21;
    double vals[3] = {1, 2, 3};
    Every_double_seq v = {3, vals};
    uint8_t tag[4] = {1, 2, 3, 4};
    Every_Key key = {0};
    char s[] = "green";
    Every_Value val = {.color = Every_GREEN, .u.s = s};

    check_ok(Every_inout(client, NULL, &a, text, &n, &v, tag, key, &val));
    assert_int_equal(a.u32s[1], 77);
    assert_int_equal(a.i32s.len, 2);
    assert_ptr_equal(a.i32s.val, i32s); /* restored in place */
    assert_ptr_equal(a.any, any);
    assert_string_equal(any, "Any");
    assert_string_equal(text, "SHOUT");
    assert_int_equal(n, 42);
    assert_ptr_equal(v.val, vals);
    assert_int_equal(v.len, 2);
    assert_true(vals[0] == 2 && vals[1] == 4);
    assert_int_equal(tag[0], 4);
    assert_int_equal(tag[3], 1);
    assert_int_equal(key[5], 0xff);
    assert_ptr_equal(a.blob.val, blob);
    assert_int_equal(a.blob.len, 3);
    assert_true(blob[0] == (1 ^ 0x5a) && blob[2] == (3 ^ 0x5a));
    assert_ptr_equal(a.raw.val, raw);
    assert_int_equal(a.raw.len, RAW);
    for (uint32_t i = 0; i < RAW; i++)
        assert_int_equal(raw[i], (uint8_t) ~(i % 251));
    assert_ptr_equal(val.u.s, s);
    assert_string_equal(s, "g");

    /* A text that comes back longer fails the call; nothing is touched. */
    n = 999;
    strcpy(text, "quiet");
    check_err(Every_inout(client, NULL, &a, text, &n, &v, tag, key, &val), TERN_EPROTO);
    assert_string_equal(text, "quiet");
    assert_int_equal(n, 999);
    assert_int_equal(v.len, 2);
    assert_int_equal(tag[0], 4);
    free(raw);
}

static void test_copy_restore(void **state)
{
    fixture *fx = *state;
    copy_restore(fx->client);
}

/* A server of Every on tcp (ep[256]: where) and a client of it. */
static tern_rpc_server *tcp_server(fixture *fx, char ep[256], tern_rpc_client **client)
{
    tern_rpc_server *server;
    check_ok(tern_rpc_server_open(fx->ctx, NULL, &server));
    check_ok(Every_serve(server, &procedures, &fx->apps[0]));
    check_ok(tern_rpc_server_bind(server, "tcp://127.0.0.1:0"));
    check_ok(tern_rpc_server_endpoint(server, ep, 256));
    check_ok(tern_rpc_client_open(fx->ctx, ep, &Every_iface, NULL, client));
    return server;
}

/* Over tcp the server decodes opaques as views into the request, which a
 * procedure may change in place; over inproc the client shares the
 * request's bytes (it keeps them to resend), so the server copies. */
static void test_copy_restore_tcp(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *client;
    char ep[256];
    tern_rpc_server *server = tcp_server(fx, ep, &client);
    copy_restore(client);
    tern_rpc_client_close(client);
    tern_rpc_server_close(server);
}

/* ---- large opaques, out of line ------------------------------------------------------- */

static uint8_t *pattern(uint32_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * seed + seed);
    return p;
}

/* What do_big answers for a and b. */
static void check_big(const Every_bytes *a, const Every_bytes *b, const Every_bytes *made,
                      const Every_bytes *ret)
{
    assert_int_equal(ret->len, b->len);
    assert_memory_equal(ret->val, b->val, b->len);
    assert_int_equal(made->len, a->len / 2 + 1);
    for (uint32_t i = 0; i < made->len; i++)
        assert_int_equal(made->val[i], i < a->len ? a->val[i] ^ 0x5a : 0);
}

/* Opaques either side of TERN_XDR_OOL_MIN, synchronously (the values are
 * plain malloc memory, freed here with free), asynchronously, and through
 * a multicall whose replies decode twice each. */
static void big_calls(tern_rpc_client *client, tern_rpc_group *group)
{
    static const uint32_t sizes[][2] = {
        {10, 20}, {TERN_XDR_OOL_MIN - 1, TERN_XDR_OOL_MIN}, {40000, 70000}, {0, 200000}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        Every_bytes a = {sizes[k][0], pattern(sizes[k][0], 3)};
        Every_bytes b = {sizes[k][1], pattern(sizes[k][1], 5)};
        Every_bytes made, ret;
        check_ok(Every_big(client, NULL, &a, &b, &made, &ret));
        check_big(&a, &b, &made, &ret);
        free(made.val);
        free(ret.val);

        tern_rpc_future *f;
        check_ok(Every_big_async(client, NULL, &a, &b, &f));
        check_ok(Every_big_finish(f, &made, &ret));
        check_big(&a, &b, &made, &ret);
        Every_big_free(&made, &ret);

        if (group) {
            tern_rpc_multi *m;
            check_ok(Every_big_multi(group, NULL, TERN_RPC_ALL, 0, &a, &b, &m));
            for (size_t i = 0; i < tern_rpc_multi_count(m); i++) {
                for (int twice = 0; twice < 2; twice++) {
                    check_ok(Every_big_multi_reply(m, i, &made, &ret));
                    check_big(&a, &b, &made, &ret);
                    Every_big_free(&made, &ret);
                }
            }
            tern_rpc_multi_free(m);
        }
        free(a.val);
        free(b.val);
    }
}

static void test_big_inproc(void **state)
{
    fixture *fx = *state;
    big_calls(fx->client, fx->group);
}

/* Over tcp the result is the request's own bytes, shared by the reply. */
static void test_big_tcp(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *client;
    tern_rpc_group *group;
    char ep[256];
    tern_rpc_server *server = tcp_server(fx, ep, &client);
    const char *eps[] = {ep};
    check_ok(tern_rpc_group_open(fx->ctx, eps, 1, &Every_iface, NULL, &group));
    big_calls(client, group);
    tern_rpc_group_close(group);
    tern_rpc_client_close(client);
    tern_rpc_server_close(server);
}

static void test_async(void **state)
{
    fixture *fx = *state;
    tern_rpc_future *f[4];
    for (int i = 0; i < 4; i++)
        check_ok(Every_add_async(fx->client, NULL, i, 100, &f[i]));
    for (int i = 3; i >= 0; i--) {
        int32_t sum = 0;
        check_ok(Every_add_finish(f[i], &sum));
        assert_int_equal(sum, 100 + i);
    }
    double vals[2] = {5, 6};
    Every_double_seq v = {2, vals};
    uint8_t tag[4] = {0};
    Every_Key key = {0};
    char any[] = "";
    Every_All a = {.any = any,
                   .names = {"", "", ""},
                   .who = "",
                   .tree = {"", {0, NULL}},
                   .shape = {.kind = Shapes_CIRCLE},
                   .kind = Shapes_CIRCLE};
    char text[] = "ab";
    Every_Value val = {.color = Every_RED, .u.i = 1};
    tern_rpc_future *g;
    check_ok(Every_inout_async(fx->client, NULL, &a, text, 4, &v, tag, key, &val, &g));
    int32_t n = 0;
    check_ok(Every_inout_finish(g, &a, text, &n, &v, tag, key, &val));
    assert_int_equal(n, 8);
    assert_string_equal(text, "AB");
    assert_true(vals[0] == 10);
}

static void test_oneway(void **state)
{
    fixture *fx = *state;
    for (int i = 0; i < 3; i++)
        check_ok(Every_note(fx->client, NULL, "noted"));
    wait_for(&fx->apps[0].notes, 3);
}

/* Context handles: opaque to the client, state to the server, closed by
 * [in, out], run down when their client goes away. */
static void test_handles(void **state)
{
    fixture *fx = *state;
    tern_rpc_handle s, zero;
    memset(&zero, 0, sizeof zero);
    check_ok(Every_open(fx->client, NULL, "alice", &s));
    assert_memory_not_equal(&s, &zero, sizeof s);
    char *who = NULL;
    uint32_t touches = 0;
    check_ok(Every_touch(fx->client, NULL, &s, &who, &touches));
    assert_string_equal(who, "alice");
    assert_int_equal(touches, 1);
    Every_touch_free(&who);
    check_ok(Every_touch(fx->client, NULL, &s, &who, &touches));
    assert_int_equal(touches, 2);
    Every_touch_free(&who);

    tern_rpc_handle old = s;
    check_ok(Every_close(fx->client, NULL, &s));
    assert_memory_equal(&s, &zero, sizeof s); /* closed: all zeros */
    check_err(Every_touch(fx->client, NULL, &old, &who, &touches), TERN_EBADARGS);
    check_err(Every_touch(fx->client, NULL, &zero, &who, &touches), TERN_EBADARGS);
    assert_int_equal(atomic_load(&fx->apps[0].session_rundowns), 0);

    /* Handles left open run down once their client is gone. */
    tern_rpc_handle canvas;
    Shapes_Shape circle = {.kind = Shapes_CIRCLE, .u.radius = 1};
    check_ok(Every_draw(fx->client, NULL, &circle, &canvas));
    check_ok(Every_open(fx->client, NULL, "bob", &s));
    tern_rpc_client_close(fx->client);
    fx->client = NULL;
    wait_for(&fx->apps[0].canvas_rundowns, 1);
    wait_for(&fx->apps[0].session_rundowns, 1);
}

/* ---- groups ------------------------------------------------------------------------------ */

static void test_multi(void **state)
{
    fixture *fx = *state;
    tern_rpc_multi *m;
    check_ok(Every_add_multi(fx->group, NULL, TERN_RPC_ALL, 0, 1, 2, &m));
    assert_int_equal(tern_rpc_multi_count(m), NSERVERS);
    for (size_t i = 0; i < NSERVERS; i++) {
        int32_t sum = 0;
        check_ok(Every_add_multi_reply(m, i, &sum));
        assert_int_equal(sum, 3);
    }
    tern_rpc_multi_free(m);

    check_ok(Every_note_multi(fx->group, NULL, TERN_RPC_ALL, 0, "all", &m));
    tern_rpc_multi_free(m);
    for (int i = 0; i < NSERVERS; i++)
        wait_for(&fx->apps[i].notes, 1);

    Every_Small *hit;
    bool found;
    check_ok(Every_find_multi(fx->group, NULL, TERN_RPC_FIRST, 0, "yes", &m));
    size_t winners = 0;
    for (size_t i = 0; i < NSERVERS; i++) {
        if (Every_find_multi_reply(m, i, &hit, &found) != TERN_OK)
            continue;
        winners++;
        assert_true(found);
        assert_int_equal(hit->c, 'y');
        Every_find_free(&hit);
    }
    assert_true(winners >= 1);
    tern_rpc_multi_free(m);
}

static void sum_fn(double *acc, const double *part)
{
    *acc = *acc * 10 + *part; /* order-sensitive, so the test sees member order */
}

static void biggest_fn(Every_Small *acc, const Every_Small *part)
{
    if (part->i16 > acc->i16)
        *acc = *part;
}

/* [scatter]: the array split across the servers, the replies merged in
 * member order. */
static void test_scatter(void **state)
{
    fixture *fx = *state;
    double xs[10];
    for (int i = 0; i < 10; i++)
        xs[i] = i + 1;
    Every_double_seq all = {10, xs};
    double total = 0;
    check_ok(Every_total_scatter(fx->group, NULL, &all, TERN_RPC_REDUCE_SUM, NULL, &total));
    assert_true(total == 55);
    /* Shares of 10 over 3 members: 4, 3, 3 -> sums 10, 18, 27. */
    check_ok(Every_total_scatter(fx->group, NULL, &all, TERN_RPC_REDUCE_MIN, NULL, &total));
    assert_true(total == 10);
    check_ok(Every_total_scatter(fx->group, NULL, &all, TERN_RPC_REDUCE_MAX, NULL, &total));
    assert_true(total == 27);
    check_ok(Every_total_scatter(fx->group, NULL, &all, TERN_RPC_REDUCE_FN, sum_fn, &total));
    assert_true(total == (10 * 10 + 18) * 10 + 27);
    /* A reducer that does not fit is refused before anything is sent. */
    check_err(Every_total_scatter(fx->group, NULL, &all, TERN_RPC_REDUCE_FN, NULL, &total),
              TERN_EINVAL);
    check_err(Every_total_scatter(fx->group, NULL, &all, TERN_RPC_REDUCE_SUM, sum_fn, &total),
              TERN_EINVAL);
    check_err(Every_total_scatter(fx->group, NULL, &all, 99, NULL, &total), TERN_EINVAL);

    /* Concatenated in member order; fewer elements than members. */
    Every_double_seq two = {2, xs};
    Every_Vec sq;
    check_ok(Every_squares_scatter(fx->group, NULL, &two, 2, &sq));
    assert_int_equal(sq.len, 2);
    assert_true(sq.val[0] == 2 && sq.val[1] == 8);
    Every_squares_free(&sq);
    check_ok(Every_squares_scatter(fx->group, NULL, &all, 1, &sq));
    assert_int_equal(sq.len, 10);
    for (int i = 0; i < 10; i++)
        assert_true(sq.val[i] == xs[i] * xs[i]);
    Every_squares_free(&sq);

    Every_Small items[7];
    for (int i = 0; i < 7; i++)
        items[i] = (Every_Small){.i16 = (int16_t)(i * 37 % 11)};
    Every_Small_seq seq = {7, items};
    Every_Name_seq seen;
    Every_Small big;
    check_err(Every_biggest_scatter(fx->group, NULL, &seq, TERN_RPC_REDUCE_MAX, NULL, &seen, &big),
              TERN_EINVAL); /* only a function reduces a struct */
    check_ok(
        Every_biggest_scatter(fx->group, NULL, &seq, TERN_RPC_REDUCE_FN, biggest_fn, &seen, &big));
    assert_int_equal(big.i16, 9);
    assert_int_equal(seen.len, 7);
    assert_string_equal(seen.val[0], "m0:0");
    assert_string_equal(seen.val[2], "m0:8");
    assert_string_equal(seen.val[3], "m1:1");
    assert_string_equal(seen.val[6], "m2:2");
    Every_biggest_free(&seen);
}

/* A server without a procedure answers TERN_ENOMETHOD. */
static void test_missing_procedure(void **state)
{
    fixture *fx = *state;
    const Every_server only_add = {.add = do_add};
    tern_rpc_server *server;
    tern_rpc_client *client;
    check_ok(tern_rpc_server_open(fx->ctx, NULL, &server));
    check_ok(Every_serve(server, &only_add, NULL));
    check_ok(tern_rpc_server_bind(server, "inproc://every-partial"));
    check_ok(tern_rpc_client_open(fx->ctx, "inproc://every-partial", &Every_iface, NULL, &client));
    int32_t sum;
    check_ok(Every_add(client, NULL, 1, 1, &sum));
    check_err(Every_nothing(client, NULL), TERN_ENOMETHOD);
    tern_rpc_client_close(client);
    tern_rpc_server_close(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_simple_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optional_and_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_restore_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_inproc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scatter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_procedure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
