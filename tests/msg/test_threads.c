/* Thread safety: 4 threads send on one PUSH socket while 2 threads receive
 * from one PULL socket. Every message arrives exactly once, multipart
 * messages are never interleaved, and each receiver sees each sender's
 * messages in the order they were sent. */
#include "msgtest.h"

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;
static const int tr_inproc = MT_INPROC;

enum { NSEND = 4, NRECV = 2, PER_SENDER = 20000 };

/* Every part of message (sender, seq) is 16 bytes: sender, seq, part index
 * and part count, so that a part from another message stands out. The
 * part count varies from 1 to 4 with seq. */
struct part_hdr {
    uint32_t sender;
    uint32_t part;
    uint64_t seq;
};

static size_t nparts_of(uint64_t seq)
{
    return 1 + (size_t)(seq % 4);
}

struct shared {
    tern_socket push, pull;
    pthread_mutex_t mu;
    uint8_t seen[NSEND][PER_SENDER];
    atomic_int received;
    atomic_int errors;
    char first_error[256];
};

static void record_error(struct shared *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void record_error(struct shared *sh, const char *fmt, ...)
{
    pthread_mutex_lock(&sh->mu);
    if (atomic_fetch_add(&sh->errors, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->first_error, sizeof sh->first_error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&sh->mu);
}

struct sender {
    struct shared *sh;
    uint32_t id;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    for (uint64_t seq = 0; seq < PER_SENDER; seq++) {
        tern_msg *m = NULL;
        if (tern_msg_new(&m) != TERN_OK) {
            record_error(s->sh, "tern_msg_new failed");
            return NULL;
        }
        size_t n = nparts_of(seq);
        for (size_t p = 0; p < n; p++) {
            struct part_hdr h = {s->id, (uint32_t)p, seq};
            if (tern_msg_append(m, &h, sizeof h) != TERN_OK) {
                record_error(s->sh, "tern_msg_append failed");
                tern_msg_free(m);
                return NULL;
            }
        }
        tern_err e = tern_msg_send(s->sh->push, m, 0);
        if (e != TERN_OK) {
            tern_msg_free(m);
            record_error(s->sh, "sender %u: send %llu failed: %s", s->id, (unsigned long long)seq,
                         tern_errname(e));
            return NULL;
        }
    }
    return NULL;
}

static void *receiver_main(void *arg)
{
    struct shared *sh = arg;
    int64_t last[NSEND];
    for (int i = 0; i < NSEND; i++)
        last[i] = -1;
    int64_t deadline = mt_now_ms() + 120000;
    while (atomic_load(&sh->received) < NSEND * PER_SENDER && atomic_load(&sh->errors) == 0) {
        if (mt_now_ms() > deadline) {
            record_error(sh, "receiver: deadline passed with %d of %d messages",
                         atomic_load(&sh->received), NSEND * PER_SENDER);
            return NULL;
        }
        tern_msg *m = NULL;
        tern_err e = tern_msg_recv(sh->pull, &m, 0);
        if (e == TERN_ETIMEDOUT)
            continue; /* the other receiver may have taken the last ones */
        if (e != TERN_OK) {
            record_error(sh, "receiver: tern_msg_recv: %s", tern_errname(e));
            return NULL;
        }
        size_t n = tern_msg_parts(m);
        struct part_hdr h0;
        if (n == 0 || tern_msg_size(m, 0) != sizeof h0) {
            record_error(sh, "message with %zu parts, first of %zu bytes", n, tern_msg_size(m, 0));
            tern_msg_free(m);
            return NULL;
        }
        memcpy(&h0, tern_msg_data(m, 0), sizeof h0);
        if (h0.sender >= NSEND || h0.seq >= PER_SENDER || n != nparts_of(h0.seq)) {
            record_error(sh, "bad message: sender %u seq %llu with %zu parts", h0.sender,
                         (unsigned long long)h0.seq, n);
            tern_msg_free(m);
            return NULL;
        }
        for (size_t p = 0; p < n; p++) {
            struct part_hdr h;
            if (tern_msg_size(m, p) != sizeof h) {
                record_error(sh, "part %zu has %zu bytes", p, tern_msg_size(m, p));
                break;
            }
            memcpy(&h, tern_msg_data(m, p), sizeof h);
            if (h.sender != h0.sender || h.seq != h0.seq || h.part != p)
                record_error(sh,
                             "interleaved parts: message (%u, %llu) part %zu holds (%u, %llu) "
                             "part %u",
                             h0.sender, (unsigned long long)h0.seq, p, h.sender,
                             (unsigned long long)h.seq, h.part);
        }
        tern_msg_free(m);
        if ((int64_t)h0.seq <= last[h0.sender])
            record_error(sh, "sender %u: seq %llu received after %lld", h0.sender,
                         (unsigned long long)h0.seq, (long long)last[h0.sender]);
        last[h0.sender] = (int64_t)h0.seq;
        pthread_mutex_lock(&sh->mu);
        uint8_t dup = sh->seen[h0.sender][h0.seq]++;
        pthread_mutex_unlock(&sh->mu);
        if (dup)
            record_error(sh, "message (%u, %llu) received twice", h0.sender,
                         (unsigned long long)h0.seq);
        atomic_fetch_add(&sh->received, 1);
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    int tr = *(const int *)*state;
    struct shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    pthread_mutex_init(&sh->mu, NULL);
    tern_ctx *ctx = mt_ctx();
    sh->push = mt_open(ctx, TERN_PUSH);
    sh->pull = mt_open(ctx, TERN_PULL);
    mt_setopt(sh->push, TERN_OPT_SNDTIMEO, 60000);
    mt_setopt(sh->pull, TERN_OPT_RCVTIMEO, 200);
    char ep[MT_EP_MAX];
    mt_bind_fresh(sh->pull, tr, ep, sizeof ep);
    mt_connect(sh->push, ep);
    mt_wait_peers(sh->push, 1);

    pthread_t st[NSEND], rt[NRECV];
    struct sender sa[NSEND];
    int64_t t0 = mt_now_ms();
    for (int i = 0; i < NRECV; i++)
        assert_int_equal(pthread_create(&rt[i], NULL, receiver_main, sh), 0);
    for (int i = 0; i < NSEND; i++) {
        sa[i].sh = sh;
        sa[i].id = (uint32_t)i;
        assert_int_equal(pthread_create(&st[i], NULL, sender_main, &sa[i]), 0);
    }
    bool joined = true;
    for (int i = 0; i < NSEND; i++)
        joined = mt_join(st[i], 150000) && joined;
    for (int i = 0; i < NRECV; i++)
        joined = mt_join(rt[i], 150000) && joined;
    if (!joined)
        fail_msg("threads still running after 150 s (%d received)", atomic_load(&sh->received));
    printf("    %s: %d messages in %lld ms\n", mt_transport_name(tr), atomic_load(&sh->received),
           (long long)(mt_now_ms() - t0));
    if (atomic_load(&sh->errors) > 0)
        fail_msg("%d errors; first: %s", atomic_load(&sh->errors), sh->first_error);
    assert_int_equal(atomic_load(&sh->received), NSEND * PER_SENDER);
    for (int s = 0; s < NSEND; s++)
        for (int q = 0; q < PER_SENDER; q++)
            if (sh->seen[s][q] != 1)
                fail_msg("message (%d, %d) seen %d times", s, q, sh->seen[s][q]);
    char buf[64];
    size_t len;
    check_err(tern_recv(sh->pull, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
    check_ok(tern_socket_close(sh->push));
    check_ok(tern_socket_close(sh->pull));
    tern_ctx_close(ctx);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
    mt_unlink_ipc(ep);
}

/* Closing a socket while 4 threads send on it and 2 receive from its
 * peer: every thread returns (TERN_ECLOSED for the closed socket's users),
 * nothing crashes, and the peer socket stays usable. */
struct churn {
    tern_socket s;
    bool sending;
    atomic_int *done;
    tern_err last;
    uint64_t ops;
};

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    for (;;) {
        tern_err e;
        if (c->sending) {
            static const size_t sz[] = {100, 0, 7};
            tern_msg *m = mt_msg_make_try(3, sz, (uint32_t)c->ops);
            if (!m) {
                e = TERN_ENOMEM;
            } else {
                e = tern_msg_send(c->s, m, 0);
                if (e != TERN_OK)
                    tern_msg_free(m);
            }
        } else {
            tern_msg *m = NULL;
            e = tern_msg_recv(c->s, &m, 0);
            tern_msg_free(m);
        }
        if (e == TERN_OK || e == TERN_ETIMEDOUT) {
            c->ops++;
            continue;
        }
        c->last = e;
        break;
    }
    atomic_fetch_add(c->done, 1);
    return NULL;
}

static void test_close_during_traffic(void **state)
{
    int tr = *(const int *)*state;
    /* Many rounds: a race between the closing thread and the I/O thread's
     * last touch of the socket shows up about once in a few hundred. */
    for (int round = 0; round < 40; round++) {
        tern_ctx *ctx = mt_ctx();
        tern_socket push = mt_open(ctx, TERN_PUSH);
        tern_socket pull = mt_open(ctx, TERN_PULL);
        mt_setopt(push, TERN_OPT_SNDTIMEO, 100);
        mt_setopt(pull, TERN_OPT_RCVTIMEO, 100);
        mt_setopt(push, TERN_OPT_LINGER, 0);
        char ep[MT_EP_MAX];
        mt_bind_fresh(pull, tr, ep, sizeof ep);
        mt_connect(push, ep);
        mt_wait_peers(push, 1);
        atomic_int done;
        atomic_init(&done, 0);
        struct churn c[NSEND + NRECV];
        pthread_t t[NSEND + NRECV];
        for (int i = 0; i < NSEND + NRECV; i++) {
            c[i] = (struct churn){i < NSEND ? push : pull, i < NSEND, &done, TERN_OK, 0};
            assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c[i]), 0);
        }
        mt_sleep_ms(10 + (round % 10) * 5);
        /* Even rounds close the senders' socket, odd rounds the receivers'. */
        tern_socket victim = round % 2 ? pull : push;
        tern_socket other = round % 2 ? push : pull;
        mt_close_lossy(victim);
        int64_t deadline = mt_now_ms() + 10000;
        while (atomic_load(&done) < (round % 2 ? NRECV : NSEND) && mt_now_ms() < deadline)
            mt_sleep_ms(5);
        /* The threads on the closed socket are out; stop the others by
         * closing their socket too. */
        mt_close_lossy(other);
        bool joined = true;
        for (int i = 0; i < NSEND + NRECV; i++)
            joined = mt_join(t[i], 10000) && joined;
        assert_true(joined);
        for (int i = 0; i < NSEND + NRECV; i++) {
            if (c[i].last != TERN_ECLOSED)
                fail_msg("round %d: %s thread %d ended with %s, expected TERN_ECLOSED", round,
                         c[i].sending ? "sender" : "receiver", i, tern_errname(c[i].last));
        }
        tern_ctx_close(ctx);
        mt_unlink_ipc(ep);
    }
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        {"test_many_threads_tcp", test_many_threads, NULL, NULL, (void *)&tr_tcp},
        {"test_many_threads_ipc", test_many_threads, NULL, NULL, (void *)&tr_ipc},
        {"test_many_threads_inproc", test_many_threads, NULL, NULL, (void *)&tr_inproc},
        {"test_close_during_traffic_tcp", test_close_during_traffic, NULL, NULL, (void *)&tr_tcp},
        {"test_close_during_traffic_ipc", test_close_during_traffic, NULL, NULL, (void *)&tr_ipc},
        {"test_close_during_traffic_inproc", test_close_during_traffic, NULL, NULL,
         (void *)&tr_inproc},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
