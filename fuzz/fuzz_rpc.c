/* Fuzzes an RPC server's whole request path: header checks, the reply
 * cache, and the generated Calc skeleton decoding hostile arguments. Each
 * input is split into requests sent over inproc by a plain DEALER to a real
 * server; every request must get exactly one answer (or, for one-way calls
 * and cancels, none), and the server must keep answering a good call.
 *
 * Input: a sequence of records [len:2 BE][bytes]; each record is one
 * request's body. The first byte of a record picks its header: method,
 * flags and call id come from it, the interface and version are Calc's
 * (most of the time) so the fuzzer reaches the decoders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

static tern_ctx *ctx;
static tern_rpc_server *server;
static tern_socket raw;

static tern_err f_add(tern_rpc_call *call, int32_t a, int32_t b, int32_t *ret)
{
    (void)call;
    *ret = (int32_t)((uint32_t)a + (uint32_t)b);
    return TERN_OK;
}

static tern_err f_sum(tern_rpc_call *call, const Calc_double_seq *terms, double *ret)
{
    (void)call;
    double s = 0;
    for (uint32_t i = 0; i < terms->len; i++)
        s += terms->val[i];
    *ret = s;
    return TERN_OK;
}

static tern_err f_scale(tern_rpc_call *call, Calc_double_seq *v, double k)
{
    (void)call;
    for (uint32_t i = 0; i < v->len; i++)
        v->val[i] *= k;
    return TERN_OK;
}

static tern_err f_stats(tern_rpc_call *call, Calc_Stats *s)
{
    (void)call;
    s->calls = 1;
    s->name = "fuzz";
    s->last = Calc_MUL;
    return TERN_OK;
}

static tern_err f_log(tern_rpc_call *call, const char *line)
{
    (void)call;
    return strlen(line) <= 256 ? TERN_OK : TERN_EBADARGS;
}

static tern_err f_find(tern_rpc_call *call, const char *key, Calc_Stats **hit, bool *ret)
{
    *ret = key[0] == 's';
    if (*ret) {
        Calc_Stats *s = tern_rpc_call_alloc(call, sizeof *s);
        if (s == NULL)
            return TERN_ENOMEM;
        f_stats(call, s);
        *hit = s;
    }
    return TERN_OK;
}

static tern_err f_echo(tern_rpc_call *call, const Calc_bytes *data, Calc_bytes *ret)
{
    (void)call;
    *ret = *data;
    return TERN_OK;
}

static tern_err f_count(tern_rpc_call *call, Calc_Op op, uint64_t *ret)
{
    (void)call;
    if (op != Calc_ADD && op != Calc_MUL)
        return tern_rpc_call_fail(call, "bad op %d", (int)op);
    *ret = (uint64_t)op;
    return TERN_OK;
}

static const Calc_server procs = {f_add, f_sum, f_scale, f_stats, f_log, f_find, f_echo, f_count};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (tern_ctx_open(&ctx, 1) != TERN_OK || tern_rpc_server_open(ctx, NULL, &server) != TERN_OK ||
        Calc_serve(server, &procs, NULL) != TERN_OK ||
        tern_rpc_server_bind(server, "inproc://fuzz-rpc") != TERN_OK ||
        tern_socket_open(ctx, TERN_DEALER, &raw) != TERN_OK ||
        tern_connect(raw, "inproc://fuzz-rpc") != TERN_OK) {
        fprintf(stderr, "fuzz_rpc: cannot set up the server\n");
        abort();
    }
    tern_setopt_int(raw, TERN_OPT_RCVTIMEO, 5000);
    return 0;
}

static void header(uint8_t h[64], uint8_t pick, uint64_t call_id)
{
    memset(h, 0, 64);
    h[0] = 'T';
    h[1] = 'R';
    h[2] = 3;
    h[3] = (pick & 0xe0) == 0xe0 ? (uint8_t)(pick & 7) : 1; /* mostly CALL */
    h[7] = (uint8_t)((pick >> 3) & 0x0c);                   /* IDEMPOTENT, RETRY sometimes */
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(call_id >> (56 - 8 * i));
    memcpy(h + 16, Calc_iface.uuid.b, 16);
    if ((pick & 0xf0) == 0xd0)
        h[20] ^= 0x55; /* another interface */
    h[33] = (uint8_t)Calc_iface.major;
    h[35] = (uint8_t)((pick & 0xf0) == 0xc0 ? Calc_iface.minor + 1 : Calc_iface.minor);
    h[39] = (uint8_t)(pick % 9); /* methods 0..7, and one beyond */
    h[45] = 0x4c;                /* 5 s */
    h[46] = 0x4b;
    h[47] = 0x40;
}

/* Out of line (docs/rpc.md; the caller flags it): a body, and after it one part of
 * the input's last bytes, or of an echo-sized run the first byte names
 * (which a short input cannot spell out). */
static void add_ool(tern_msg *m, const uint8_t *in, size_t n)
{
    static uint8_t run[65536 + 256];
    size_t split = 1 + in[0] % (n - 1);
    uint8_t *p;
    if (tern_msg_append(m, in + 1, split - 1) != TERN_OK)
        abort();
    if (in[0] & 0x80) {
        size_t big = 16384 + (size_t)in[1] * 192;
        memset(run, in[1], big);
        p = run;
        n = big;
    } else {
        p = (uint8_t *)in + split;
        n -= split;
    }
    if (tern_msg_append(m, p, n) != TERN_OK)
        abort();
}

static bool answered(uint64_t call_id)
{
    for (;;) {
        tern_msg *m;
        if (tern_msg_recv(raw, &m, 0) != TERN_OK)
            return false;
        const uint8_t *h = tern_msg_data(m, 0);
        uint64_t id = 0;
        for (int i = 0; h && tern_msg_size(m, 0) == 64 && i < 8; i++)
            id = id << 8 | h[8 + i];
        bool ours = h && tern_msg_size(m, 0) == 64 && h[3] == 2 && id == call_id;
        tern_msg_free(m);
        if (ours)
            return true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t next_id = 1;
    size_t at = 0;
    while (at + 2 <= size) {
        size_t len = (size_t)data[at] << 8 | data[at + 1];
        at += 2;
        if (len > size - at)
            len = size - at;
        uint8_t pick = len ? data[at] : 0;
        uint64_t id = next_id++;
        const uint8_t *body = len ? data + at + 1 : NULL;
        size_t blen = len ? len - 1 : 0;
        bool ool = (pick & 3) == 3 && blen >= 2;
        uint8_t h[64];
        header(h, pick, id);
        if (ool)
            h[7] |= 0x10;
        tern_msg *m;
        if (tern_msg_new(&m) != TERN_OK || tern_msg_append(m, h, 64) != TERN_OK)
            abort();
        if (ool)
            add_ool(m, body, blen);
        else if (tern_msg_append(m, body, blen) != TERN_OK)
            abort();
        if (tern_msg_send(raw, m, 0) != TERN_OK)
            abort();
        at += len;
    }
    /* A good call after them all still gets its answer: the server lives,
     * and (inproc keeps order) every earlier request was dealt with. */
    uint64_t id = next_id++;
    uint8_t h[64];
    header(h, 0, id); /* add(0, 0) */
    uint8_t args[8] = {0};
    tern_msg *m;
    if (tern_msg_new(&m) != TERN_OK || tern_msg_append(m, h, 64) != TERN_OK ||
        tern_msg_append(m, args, 8) != TERN_OK || tern_msg_send(raw, m, 0) != TERN_OK)
        abort();
    if (!answered(id)) {
        fprintf(stderr, "fuzz_rpc: the server stopped answering\n");
        abort();
    }
    return 0;
}
