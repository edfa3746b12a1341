/* The destination side of a migration.
 *
 * The receiving thread applies the main stream: page frames in sequence
 * order, straight into the arena before the switch (or through userfaultfd
 * after it, in post-copy), then the switch and the digest. An acceptor
 * thread takes the connections that come later: the urgent connection of
 * post-copy, and a main connection re-opened after a cut, which it hands
 * to the receiving thread. Anything that does not belong to the migration
 * is refused with a reason. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cond.h"
#include "base/endian.h"
#include "base/trace.h"
#include "io/transport.h"
#include "migrate/arena.h"
#include "migrate/bitmap.h"
#include "migrate/frame.h"
#include "migrate/lazy.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define HELLO_MS 5000
#define POPULATE_CHUNK (4u << 20)
#define DATA_CAP ((size_t)TN_MIG_MAX_DATA_PAGES * TN_MIG_PAGE)
#define MAX_META (8 + TN_MIG_MAX_RUNS * 16 + TN_MIG_MAX_DATA_PAGES * 4)

struct tern_migrate_listener {
    int fd;
    const tn_stream_transport *tr;
    tn_addr bound;
    char endpoint[TN_ENDPOINT_MAX];
    void *reserve; /* memory faulted in ahead, for the next arena */
    size_t reserve_size;
};

/* The urgent connection, as the fault thread's fetch() sees it. On the heap:
 * a post-copy that failed after the switch keeps its fault thread (threads
 * wait on pages rather than read zeros) until the arena is destroyed. */
struct ulink {
    pthread_mutex_t mu;
    int fd;
    uint64_t id;
    uint32_t epoch;
};

typedef struct dest {
    tern_migrate_listener *l;
    tern_migrate_opts o;
    tern_migrate_stats *st;
    uint64_t id;
    uint32_t epoch;
    tn_mig_hello hello;
    tern_arena *arena;
    uint8_t *base;
    uint64_t npages;
    size_t words;
    uint32_t *pcrc; /* CRC of each page's current image */
    uint64_t *torn; /* pages that arrived torn and are owed again */
    uint64_t ntorn;
    uint64_t applied;
    int running;
    int verified; /* digests compared equal: done, once the source hangs up */
    tn_lazy *lazy;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;      /* main connection */
    int next_fd; /* a re-opened main connection, from the acceptor */
    uint32_t next_epoch;
    int stop_pipe[2];
    pthread_t acceptor;
    int acceptor_on;

    struct ulink *link; /* the urgent connection */
    pthread_t ureader;
    int ureader_on;

    uint8_t *scratch;
    uint8_t *meta;
    tn_mig_pages *pages;

    /* Faulting in the planned pages ahead of the stream, on another core,
     * unless the arena took over a reserve that is faulted in already. */
    int prefaulted;
    uint64_t *plan;
    pthread_t populator;
    int populating;
    atomic_int populate_stop;
} dest;

static void fail(dest *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(dest *d, const char *fmt, ...)
{
    if (d->st->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->st->error, sizeof(d->st->error), fmt, ap);
    va_end(ap);
    tn_trace(TERN_TRACE_MIGRATE, "destination: %s", d->st->error);
}

/* ---- listener ----------------------------------------------------------- */

tern_err tern_migrate_listen(tern_migrate_listener **out, const char *endpoint)
{
    if (!out || !endpoint)
        return TERN_EINVAL;
    char scheme[16];
    const char *rest;
    tern_err err = tn_endpoint_split(endpoint, scheme, sizeof(scheme), &rest);
    const tn_stream_transport *tr = err == TERN_OK ? tn_stream_transport_find(scheme) : NULL;
    tn_addr addr;
    if (!tr || tr->resolve(rest, 1, &addr) != TERN_OK)
        return TERN_EADDRINVAL;
    tern_migrate_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return TERN_ENOMEM;
    l->tr = tr;
    err = tn_stream_listen(tr, &addr, &l->fd, &l->bound);
    if (err != TERN_OK) {
        free(l);
        return err;
    }
    tr->format(&l->bound, l->endpoint, sizeof(l->endpoint));
    *out = l;
    return TERN_OK;
}

const char *tern_migrate_listener_endpoint(const tern_migrate_listener *l)
{
    return l ? l->endpoint : NULL;
}

tern_err tern_migrate_listener_reserve(tern_migrate_listener *l, size_t size)
{
    if (!l || size == 0 || size > TN_MIG_MAX_ARENA)
        return TERN_EINVAL;
    size = (size + TN_MIG_PAGE - 1) & ~(size_t)(TN_MIG_PAGE - 1);
    if (l->reserve)
        munmap(l->reserve, l->reserve_size);
    l->reserve = NULL;
    l->reserve_size = 0;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return tern_err_from_errno(errno);
    if (madvise(p, size, MADV_POPULATE_WRITE) != 0) {
        int e = errno;
        if (e != EINVAL) { /* out of memory, most likely: give it back */
            munmap(p, size);
            return tern_err_from_errno(e);
        }
        for (size_t off = 0; off < size; off += TN_MIG_PAGE) /* before 5.14: by hand */
            ((volatile uint8_t *)p)[off] = 0;
    }
    l->reserve = p;
    l->reserve_size = size;
    return TERN_OK;
}

void tern_migrate_listener_close(tern_migrate_listener *l)
{
    if (!l)
        return;
    if (l->reserve)
        munmap(l->reserve, l->reserve_size);
    close(l->fd);
    l->tr->unbind(&l->bound);
    free(l);
}

/* Waits for a connection (stop_fd readable ends the wait: -1). */
static int accept_one(const tn_stream_transport *tr, int lfd, int stop_fd, int timeout_ms)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int n = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (stop_fd >= 0 && p[1].revents)
            return -1;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            tr->tune(fd); /* TCP_NODELAY: acks and commits are small and awaited */
            int buf = 4 << 20;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
            return fd;
        }
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            return -1;
    }
}

static void refuse(int fd, uint64_t id, const char *why)
{
    char peer[96];
    tn_stream_peer_name(fd, peer, sizeof(peer));
    tn_trace(TERN_TRACE_MIGRATE, "destination: refused %s: %s", peer, why);
    tn_mig_header h = {.type = TN_MIG_ABORT, .id = id};
    tn_mig_send_frame(fd, &h, why, strlen(why), NULL, 0, tn_mig_deadline(200));
    close(fd);
}

static tern_err welcome(int fd, uint64_t id, uint32_t epoch, tern_err status, int running,
                        uint64_t acked)
{
    tn_mig_welcome w = {.status = (uint32_t)status, .running = (uint8_t)running, .acked = acked};
    uint8_t body[TN_MIG_WELCOME_LEN];
    tn_mig_welcome_put(body, &w);
    tn_mig_header h = {.type = TN_MIG_WELCOME, .id = id, .epoch = epoch};
    return tn_mig_send_frame(fd, &h, body, sizeof(body), NULL, 0, tn_mig_deadline(HELLO_MS));
}

/* Reads the hello a new connection must start with. */
static tern_err read_hello(int fd, tn_mig_header *h, tn_mig_hello *hello, uint32_t ms,
                           const char **why)
{
    uint8_t body[TN_MIG_HELLO_LEN];
    tern_err err = tn_mig_recv_small(fd, h, body, sizeof(body), tn_mig_deadline(ms), why);
    if (err != TERN_OK)
        return err;
    if (h->type != TN_MIG_HELLO) {
        *why = "a connection must start with a hello";
        return TERN_EPROTO;
    }
    return tn_mig_hello_get(body, h->length, hello, why);
}

/* ---- post-copy: the urgent connection ----------------------------------- */

static tern_err fetch(void *arg, uint64_t first, uint32_t count)
{
    struct ulink *u = arg;
    uint8_t body[TN_MIG_FETCH_LEN];
    tn_put_be64(body, first);
    tn_put_be32(body + 8, count);
    tn_mig_header h = {.type = TN_MIG_FETCH, .id = u->id, .epoch = u->epoch};
    pthread_mutex_lock(&u->mu);
    tern_err err = u->fd < 0 ? TERN_ECLOSED
                             : tn_mig_send_frame(u->fd, &h, body, sizeof(body), NULL, 0,
                                                 tn_mig_deadline(1000));
    pthread_mutex_unlock(&u->mu);
    return err;
}

struct orphan {
    tn_lazy *lazy;
    struct ulink *link;
};

static void orphan_free(void *arg)
{
    struct orphan *o = arg;
    tn_lazy_close(o->lazy);
    pthread_mutex_destroy(&o->link->mu);
    free(o->link);
    free(o);
}

/* Reads a page frame's metadata after its header; checks the CRC. */
static tern_err read_page_meta(dest *d, int fd, const uint8_t hdr[TN_MIG_HEADER],
                               const tn_mig_header *h, uint8_t *meta, tn_mig_pages *p,
                               const char **why)
{
    uint32_t nruns = 0, ndata = 0;
    tern_err err = tn_mig_read(fd, meta, 8, tn_mig_deadline(d->o.reconnect_ms));
    if (err == TERN_OK)
        err = tn_mig_pages_counts(meta, h->length, &nruns, &ndata, why);
    size_t meta_len = tn_mig_pages_meta_len(nruns);
    if (err == TERN_OK)
        err = tn_mig_read(fd, meta + 8, meta_len - 8, tn_mig_deadline(d->o.reconnect_ms));
    if (err == TERN_OK && tn_mig_crc(hdr, meta, meta_len) != h->crc) {
        *why = "frame CRC mismatch";
        err = TERN_EPROTO;
    }
    if (err == TERN_OK)
        err = tn_mig_pages_get(meta, meta_len, d->npages, p, why);
    return err;
}

/* Reads a page frame's trailer, the CRCs of its images, into p (buf: room
 * for them, the metadata buffer). */
static tern_err read_page_crcs(dest *d, int fd, uint8_t *buf, tn_mig_pages *p)
{
    tern_err err = tn_mig_read(fd, buf, (size_t)p->ndata * 4, tn_mig_deadline(d->o.reconnect_ms));
    if (err == TERN_OK)
        tn_mig_pages_crcs_get(buf, p);
    return err;
}

/* Checks each page image against its CRC; keeps the CRCs for the digest. */
static tern_err check_pages(const tn_mig_pages *p, const uint8_t *data, const char **why)
{
    for (uint32_t k = 0; k < p->ndata; k++)
        if (tern_crc32c(0, data + (size_t)k * TN_MIG_PAGE, TN_MIG_PAGE) != p->crc[k]) {
            *why = "page CRC mismatch";
            return TERN_EPROTO;
        }
    return TERN_OK;
}

static tern_err send_small(dest *d, uint8_t type, const void *body, size_t len);

/* Checks the pages a frame wrote into the arena. The source sends them
 * from its running memory, so one written between the send and its CRC
 * arrives torn: that is no error before the switch, the page is owed again
 * and the source is told (TORN, ahead of the ACK). Keeps each page's CRC
 * (of what is stored) for the digest. */
static tern_err apply_checked(dest *d, const tn_mig_pages *p)
{
    uint8_t report[4 + 8 * TN_MIG_TORN_MAX];
    uint32_t n = 0, k = 0, zcrc = tn_mig_zero_page_crc();
    for (uint32_t r = 0; r < p->nruns; r++) {
        const tn_mig_run *run = &p->run[r];
        for (uint32_t j = 0; j < run->count; j++) {
            uint64_t i = run->first + j;
            uint32_t crc = zcrc;
            int torn = 0;
            if (run->kind == TN_MIG_RUN_DATA) {
                crc = tern_crc32c(0, d->base + i * TN_MIG_PAGE, TN_MIG_PAGE);
                torn = crc != p->crc[k++];
            }
            d->pcrc[i] = crc;
            int was = tn_bit_get(d->torn, i);
            if (torn && !was) {
                tn_bit_set(d->torn, i);
                d->ntorn++;
            } else if (!torn && was) {
                tn_bit_clear(d->torn, i);
                d->ntorn--;
            }
            if (torn)
                tn_put_be64(report + 4 + 8 * n++, i);
        }
        if (run->kind == TN_MIG_RUN_DATA)
            d->st->pages += run->count;
        else
            d->st->zero_pages += run->count;
    }
    if (n == 0)
        return TERN_OK;
    tn_trace(TERN_TRACE_MIGRATE, "destination: %u pages arrived torn, asked again", n);
    tn_put_be32(report, n);
    return send_small(d, TN_MIG_TORN, report, 4 + 8 * (size_t)n);
}

/* Records the CRCs of a frame's pages once they are in place. */
static void note_pages(dest *d, const tn_mig_pages *p)
{
    uint32_t k = 0, zcrc = tn_mig_zero_page_crc();
    for (uint32_t r = 0; r < p->nruns; r++) {
        const tn_mig_run *run = &p->run[r];
        for (uint32_t j = 0; j < run->count; j++)
            d->pcrc[run->first + j] = run->kind == TN_MIG_RUN_DATA ? p->crc[k++] : zcrc;
        if (run->kind == TN_MIG_RUN_DATA)
            d->st->pages += run->count;
        else
            d->st->zero_pages += run->count;
    }
}

/* Places a frame's pages through userfaultfd (data: the images, in run
 * order). */
static tern_err place_lazy(dest *d, const tn_mig_pages *p, const uint8_t *data)
{
    size_t off = 0;
    for (uint32_t r = 0; r < p->nruns; r++) {
        const tn_mig_run *run = &p->run[r];
        int zero = run->kind == TN_MIG_RUN_ZERO;
        tern_err err = tn_lazy_place(d->lazy, run->first, run->count, zero ? NULL : data + off);
        if (err != TERN_OK)
            return err;
        if (!zero)
            off += (size_t)run->count * TN_MIG_PAGE;
    }
    return TERN_OK;
}

static void *ureader_main(void *arg)
{
    dest *d = arg;
    uint8_t *meta = malloc(MAX_META), *data = malloc(DATA_CAP);
    tn_mig_pages *p = malloc(sizeof(*p));
    int fd = d->link->fd;
    while (meta && data && p) {
        uint8_t hdr[TN_MIG_HEADER];
        tn_mig_header h;
        const char *why = "connection lost";
        tern_err err = tn_mig_read(fd, hdr, sizeof(hdr), tern_clock_ns() + 3600000000000ull);
        if (err == TERN_OK)
            err = tn_mig_header_get(hdr, &h, &why);
        if (err == TERN_OK && (h.type != TN_MIG_PAGES || h.id != d->id)) {
            err = TERN_EPROTO;
            why = "expected pages on the urgent connection";
        }
        if (err == TERN_OK)
            err = read_page_meta(d, fd, hdr, &h, meta, p, &why);
        if (err == TERN_OK)
            err = tn_mig_read(fd, data, (size_t)p->ndata * TN_MIG_PAGE,
                              tn_mig_deadline(d->o.reconnect_ms));
        if (err == TERN_OK)
            err = read_page_crcs(d, fd, meta, p);
        if (err == TERN_OK)
            err = check_pages(p, data, &why);
        if (err == TERN_OK) {
            /* The same pages may come on the main stream too; the CRCs are
             * of the same stopped source, so either writer may note them. */
            err = place_lazy(d, p, data);
            if (err == TERN_OK) {
                pthread_mutex_lock(&d->mu);
                note_pages(d, p);
                __atomic_add_fetch(&d->st->bytes, TN_MIG_HEADER + h.length, __ATOMIC_RELAXED);
                pthread_mutex_unlock(&d->mu);
            }
        }
        if (err != TERN_OK) {
            if (err != TERN_ECLOSED)
                tn_trace(TERN_TRACE_MIGRATE, "destination: urgent connection: %s (%s)",
                         tern_errname(err), why);
            shutdown(fd, SHUT_RDWR);
            break;
        }
    }
    free(meta);
    free(data);
    free(p);
    return NULL;
}

static void urgent_swap(dest *d, int fd)
{
    struct ulink *u = d->link;
    pthread_mutex_lock(&u->mu);
    int old = u->fd;
    if (old >= 0)
        shutdown(old, SHUT_RDWR);
    pthread_mutex_unlock(&u->mu);
    if (d->ureader_on)
        pthread_join(d->ureader, NULL);
    d->ureader_on = 0;
    pthread_mutex_lock(&u->mu);
    if (old >= 0)
        close(old);
    u->fd = fd;
    u->epoch = d->epoch;
    pthread_mutex_unlock(&u->mu);
    if (fd >= 0)
        d->ureader_on = pthread_create(&d->ureader, NULL, ureader_main, d) == 0;
}

/* ---- acceptor ----------------------------------------------------------- */

static void *acceptor_main(void *arg)
{
    dest *d = arg;
    for (;;) {
        int fd = accept_one(d->l->tr, d->l->fd, d->stop_pipe[0], -1);
        if (fd < 0)
            return NULL;
        tn_mig_header h;
        tn_mig_hello hello;
        const char *why = "";
        /* A silent connection must not hold up the source's own for long. */
        uint32_t ms = d->o.reconnect_ms / 4 < HELLO_MS ? d->o.reconnect_ms / 4 + 1 : HELLO_MS;
        if (read_hello(fd, &h, &hello, ms, &why) != TERN_OK) {
            refuse(fd, 0, why);
            continue;
        }
        if (h.id != d->id) {
            refuse(fd, h.id, "busy with another migration");
            continue;
        }
        if (hello.base != d->hello.base || hello.size != d->hello.size) {
            refuse(fd, h.id, "hello describes another arena");
            continue;
        }
        if (hello.role == TN_MIG_ROLE_URGENT) {
            if (welcome(fd, d->id, h.epoch, TERN_OK, 0, 0) != TERN_OK) {
                close(fd);
                continue;
            }
            urgent_swap(d, fd);
            continue;
        }
        pthread_mutex_lock(&d->mu);
        if (!hello.resume || h.epoch <= d->epoch || h.epoch <= d->next_epoch) {
            pthread_mutex_unlock(&d->mu);
            refuse(fd, h.id, "stale or duplicate main connection");
            continue;
        }
        /* Hand it to the receiving thread, which answers with what it has
         * applied; kick that thread off the old connection. */
        if (d->next_fd >= 0)
            close(d->next_fd);
        d->next_fd = fd;
        d->next_epoch = h.epoch;
        if (d->fd >= 0)
            shutdown(d->fd, SHUT_RDWR);
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
}

/* The main connection broke: wait for the source to come back. */
static tern_err await_reconnect(dest *d, const char *why)
{
    tn_trace(TERN_TRACE_MIGRATE, "destination: main connection lost (%s); waiting %u ms", why,
             d->o.reconnect_ms);
    uint64_t deadline = tn_mig_deadline(d->o.reconnect_ms);
    for (;;) {
        pthread_mutex_lock(&d->mu);
        if (d->fd >= 0)
            close(d->fd);
        d->fd = -1;
        while (d->next_fd < 0)
            if (tn_cond_wait_until(&d->cv, &d->mu, deadline) == ETIMEDOUT && d->next_fd < 0)
                break;
        int fd = d->next_fd;
        d->next_fd = -1;
        if (fd >= 0) {
            d->fd = fd;
            d->epoch = d->next_epoch;
        }
        uint64_t applied = d->applied;
        pthread_mutex_unlock(&d->mu);
        if (fd < 0) {
            if (!d->verified)
                fail(d,
                     "the source did not come back within %u ms after the connection was lost (%s)",
                     d->o.reconnect_ms, why);
            return TERN_EUNAVAILABLE;
        }
        /* A newer connection may already have replaced this one: then
         * the welcome fails and the wait goes on for it. */
        if (welcome(fd, d->id, d->epoch, TERN_OK, d->running, applied) == TERN_OK) {
            d->st->reconnects++;
            return TERN_OK;
        }
    }
}

/* ---- populating ahead ---------------------------------------------------- */

static void *populate_main(void *arg)
{
    dest *d = arg;
    uint64_t i = 0;
    while (i < d->npages && !atomic_load_explicit(&d->populate_stop, memory_order_relaxed)) {
        if (!tn_bit_get(d->plan, i)) {
            i++;
            continue;
        }
        uint64_t j = i;
        while (j < d->npages && j - i < POPULATE_CHUNK / TN_MIG_PAGE && tn_bit_get(d->plan, j))
            j++;
        /* Not there (before 5.14) or refused: the stream faults pages in
         * itself, as it would without a plan. */
        if (madvise(d->base + i * TN_MIG_PAGE, (j - i) * TN_MIG_PAGE, MADV_POPULATE_WRITE) != 0)
            break;
        i = j;
    }
    return NULL;
}

static void populate_stop(dest *d)
{
    if (!d->populating)
        return;
    atomic_store(&d->populate_stop, 1);
    pthread_join(d->populator, NULL);
    d->populating = 0;
}

static tern_err on_plan(dest *d, const uint8_t hdr[TN_MIG_HEADER], const tn_mig_header *h,
                        const char **why)
{
    if (h->length == 0)
        return TERN_OK; /* the source is busy (stopping, digesting) but there */
    if (h->length != d->words * 8 || d->running || d->populating) {
        *why = "unexpected plan";
        return TERN_EPROTO;
    }
    if (!d->plan && !(d->plan = malloc(d->words * 8)))
        return TERN_ENOMEM;
    uint8_t *body = (uint8_t *)d->plan;
    tern_err err = tn_mig_read(d->fd, body, h->length, tn_mig_deadline(d->o.reconnect_ms));
    if (err != TERN_OK)
        return err;
    if (tn_mig_crc(hdr, body, h->length) != h->crc) {
        *why = "frame CRC mismatch";
        return TERN_EPROTO;
    }
    for (size_t w = 0; w < d->words; w++)
        d->plan[w] = tn_get_be64(body + w * 8);
    if (d->prefaulted)
        return TERN_OK;
    atomic_store(&d->populate_stop, 0);
    d->populating = pthread_create(&d->populator, NULL, populate_main, d) == 0;
    return TERN_OK;
}

/* ---- the main stream ---------------------------------------------------- */

static tern_err send_small(dest *d, uint8_t type, const void *body, size_t len)
{
    tn_mig_header h = {.type = type, .id = d->id, .epoch = d->epoch};
    return tn_mig_send_frame(d->fd, &h, body, len, NULL, 0, tn_mig_deadline(d->o.reconnect_ms));
}

static tern_err ack(dest *d, uint8_t type, uint64_t seq)
{
    uint8_t body[8];
    tn_put_be64(body, seq);
    return send_small(d, type, body, sizeof(body));
}

static tern_err on_pages(dest *d, const uint8_t hdr[TN_MIG_HEADER], const tn_mig_header *h,
                         const char **why)
{
    tn_mig_pages *p = d->pages;
    tern_err err = read_page_meta(d, d->fd, hdr, h, d->meta, p, why);
    if (err != TERN_OK)
        return err;
    uint64_t deadline = tn_mig_deadline(d->o.reconnect_ms);
    size_t data_len = (size_t)p->ndata * TN_MIG_PAGE;
    if (h->seq <= d->applied) { /* resent after a reconnect: already here */
        err = tn_mig_read(d->fd, d->scratch, data_len, deadline);
        return err == TERN_OK ? read_page_crcs(d, d->fd, d->meta, p) : err;
    }
    if (d->running && !d->lazy) {
        fail(d, "the source sent pages after the switch");
        *why = "pages after the switch";
        return TERN_EPROTO;
    }
    if (d->lazy) {
        err = tn_mig_read(d->fd, d->scratch, data_len, deadline);
        if (err == TERN_OK)
            err = read_page_crcs(d, d->fd, d->meta, p);
        if (err == TERN_OK)
            err = check_pages(p, d->scratch, why);
        if (err == TERN_OK)
            err = place_lazy(d, p, d->scratch);
        if (err == TERN_OK) {
            pthread_mutex_lock(&d->mu);
            note_pages(d, p);
            pthread_mutex_unlock(&d->mu);
        } else if (err != TERN_ECLOSED) {
            *why = "could not place pages";
        }
    } else {
        /* Before the switch nothing runs here: read the images straight
         * into place. A cut mid-frame is rewritten by the resend. */
        for (uint32_t r = 0; r < p->nruns && err == TERN_OK; r++) {
            const tn_mig_run *run = &p->run[r];
            uint8_t *at = d->base + run->first * TN_MIG_PAGE;
            size_t len = (size_t)run->count * TN_MIG_PAGE;
            if (run->kind == TN_MIG_RUN_DATA)
                err = tn_mig_read(d->fd, at, len, deadline);
            else if (len >= (256u << 10))
                madvise(at, len, MADV_DONTNEED); /* private anonymous: reads back as zero */
            else
                memset(at, 0, len);
        }
        if (err == TERN_OK)
            err = read_page_crcs(d, d->fd, d->meta, p);
        if (err == TERN_OK)
            err = apply_checked(d, p);
    }
    if (err != TERN_OK)
        return err;
    d->applied = h->seq;
    __atomic_add_fetch(&d->st->bytes, TN_MIG_HEADER + h->length, __ATOMIC_RELAXED);
    return ack(d, TN_MIG_ACK, h->seq);
}

static tern_err on_switch(dest *d, const uint8_t hdr[TN_MIG_HEADER], const tn_mig_header *h,
                          tern_migrate_resume_fn *resume, void *arg, const char **why)
{
    if (h->seq <= d->applied) { /* resent: already switched */
        if (!d->running || h->seq == 0) {
            fail(d, "a switch out of sequence");
            return TERN_EPROTO;
        }
        uint8_t skip[4096];
        tern_err err = TERN_OK;
        for (size_t left = h->length; left && err == TERN_OK;) {
            size_t n = left < sizeof(skip) ? left : sizeof(skip);
            err = tn_mig_read(d->fd, skip, n, tn_mig_deadline(d->o.reconnect_ms));
            left -= n;
        }
        return err == TERN_OK ? ack(d, TN_MIG_COMMIT, d->applied) : err;
    }
    if (d->running) {
        fail(d, "the source switched twice");
        *why = "a second switch";
        return TERN_EPROTO;
    }
    size_t max = 8 + TN_MIG_MAX_CONTEXT + d->words * 8;
    if (h->length < 8 || h->length > max) {
        *why = "switch frame of impossible length";
        return TERN_EPROTO;
    }
    uint8_t *body = malloc(h->length);
    if (!body)
        return TERN_ENOMEM;
    tern_err err = tn_mig_read(d->fd, body, h->length, tn_mig_deadline(d->o.reconnect_ms));
    if (err == TERN_OK && tn_mig_crc(hdr, body, h->length) != h->crc) {
        *why = "frame CRC mismatch";
        err = TERN_EPROTO;
    }
    tn_mig_switch sw = {0};
    uint64_t *needed = NULL;
    if (err == TERN_OK && !(needed = malloc(d->words * 8)))
        err = TERN_ENOMEM;
    if (err == TERN_OK)
        err = tn_mig_switch_get(body, h->length, d->npages, &sw, needed, why);
    /* Torn pages must have come again, or be owed through post-copy. */
    if (err == TERN_OK && sw.mode == 1)
        for (size_t w = 0; w < d->words; w++) {
            d->ntorn -= (uint64_t)__builtin_popcountll(d->torn[w] & needed[w]);
            d->torn[w] &= ~needed[w];
        }
    if (err == TERN_OK && d->ntorn) {
        fail(d, "the source switched while %" PRIu64 " pages were still owed after arriving torn",
             d->ntorn);
        *why = "switch while pages are still torn";
        err = TERN_EPROTO;
    }
    if (err == TERN_OK)
        err = tern_arena_set_context(d->arena, sw.ctx, sw.ctx_len);
    if (err == TERN_OK && sw.mode == 1) {
        err = tn_lazy_open(&d->lazy, d->base, d->npages * TN_MIG_PAGE, needed, fetch, d->link);
        if (err != TERN_OK)
            fail(d, "post-copy needs userfaultfd, which this process cannot use (%s)",
                 tern_strerror(err));
    }
    free(needed);
    free(body);
    if (err != TERN_OK)
        return err;
    d->applied = h->seq;
    d->running = 1;
    err = ack(d, TN_MIG_COMMIT, h->seq);
    size_t len;
    const void *ctx = tern_arena_context(d->arena, &len);
    tn_trace(TERN_TRACE_MIGRATE, "destination: switch (%s); resuming",
             sw.mode ? "post-copy" : "complete");
    resume(arg, d->arena, ctx, len);
    /* The computation runs here now, whatever the connection does. */
    return err == TERN_OK ? TERN_OK : TERN_ECLOSED;
}

static tern_err on_digest(dest *d, const tn_mig_header *h, const uint8_t *body)
{
    if (h->length != 8 || !d->running)
        return TERN_EPROTO;
    uint64_t want = tn_get_be64(body);
    uint8_t v[TN_MIG_VERIFIED_LEN] = {0};
    uint64_t missing = d->lazy ? tn_lazy_remaining(d->lazy) : 0;
    if (d->lazy) {
        tn_lazy_stats ls;
        tn_lazy_stats_get(d->lazy, &ls);
        d->st->faults = ls.faults;
        d->st->fault_p50_ns = ls.p50_ns;
        d->st->fault_p99_ns = ls.p99_ns;
        d->st->fault_max_ns = ls.max_ns;
    } /* closed at the end, after the urgent reader that places pages too */
    uint64_t digest = 0;
    for (uint64_t i = 0; i < d->npages; i++)
        digest += tn_mig_digest_term(i, d->pcrc[i]);
    d->st->digest = digest;
    int ok = missing == 0 && digest == want;
    tn_put_be64(v, (uint64_t)ok);
    tn_put_be64(v + 8, digest);
    tn_put_be64(v + 16, d->st->faults);
    tn_put_be64(v + 24, d->st->fault_p50_ns);
    tn_put_be64(v + 32, d->st->fault_p99_ns);
    tn_put_be64(v + 40, d->st->fault_max_ns);
    /* Not counted as applied: a resend after a cut must come again, to be
     * answered again. */
    tern_err err = send_small(d, TN_MIG_VERIFIED, v, sizeof(v));
    if (!ok) {
        if (missing)
            fail(d, "the source finished with %" PRIu64 " pages never sent", missing);
        else
            fail(d, "arena digests differ: source %016" PRIx64 ", here %016" PRIx64, want, digest);
        return TERN_EPROTO;
    }
    d->verified = 1;
    return err;
}

/* Applies the main stream until the digests matched and the source said
 * goodbye: a verdict lost to a cut is asked for again (the DIGEST resent);
 * a source that never comes back leaves a verified migration behind. */
static tern_err stream(dest *d, tern_migrate_resume_fn *resume, void *arg)
{
    for (;;) {
        uint8_t hdr[TN_MIG_HEADER];
        tn_mig_header h;
        const char *why = "connection lost";
        /* A stopped source is silent, not gone: wait as long as a cut. */
        tern_err err = tn_mig_read(d->fd, hdr, sizeof(hdr), tn_mig_deadline(d->o.reconnect_ms));
        if (err == TERN_OK)
            err = tn_mig_header_get(hdr, &h, &why);
        if (err == TERN_OK && (h.id != d->id || h.epoch != d->epoch)) {
            err = TERN_EPROTO;
            why = "frame of another migration or connection";
        }
        /* Frames are applied in order; a resend may repeat old ones. */
        if (err == TERN_OK && h.seq > d->applied + 1) {
            err = TERN_EPROTO;
            why = "sequence gap";
        }
        if (err == TERN_OK) {
            switch (h.type) {
            case TN_MIG_PAGES:
                err = on_pages(d, hdr, &h, &why);
                break;
            case TN_MIG_PLAN:
                err = on_plan(d, hdr, &h, &why);
                break;
            case TN_MIG_SWITCH:
                populate_stop(d); /* userfaultfd may take over the range */
                err = on_switch(d, hdr, &h, resume, arg, &why);
                break;
            case TN_MIG_BYE:
                if (d->verified)
                    return TERN_OK;
                err = TERN_EPROTO;
                why = "goodbye before the verdict";
                break;
            case TN_MIG_DIGEST: {
                uint8_t body[8];
                if (h.length != sizeof(body)) {
                    err = TERN_EPROTO;
                    why = "digest of the wrong length";
                    break;
                }
                err = tn_mig_read(d->fd, body, sizeof(body), tn_mig_deadline(d->o.reconnect_ms));
                if (err == TERN_OK && tn_mig_crc(hdr, body, sizeof(body)) != h.crc) {
                    err = TERN_EPROTO;
                    why = "frame CRC mismatch";
                }
                if (err == TERN_OK)
                    err = on_digest(d, &h, body);
                if (err == TERN_EPROTO && d->st->error[0])
                    return err;
                break;
            }
            default:
                err = TERN_EPROTO;
                why = "unexpected frame type";
            }
        }
        if (err == TERN_ENOMEM || (err != TERN_OK && d->st->error[0]))
            return err;
        if (err != TERN_OK) {
            if (err == TERN_EPROTO)
                tn_trace(TERN_TRACE_MIGRATE, "destination: refused a frame: %s", why);
            err = await_reconnect(d, why);
            if (err != TERN_OK)
                return d->verified ? TERN_OK : err;
        }
    }
}

/* Waits for a connection that starts a new migration; refuses the rest. */
static tern_err first_contact(dest *d)
{
    for (;;) {
        int fd = accept_one(d->l->tr, d->l->fd, -1, -1);
        if (fd < 0)
            return TERN_ESYSTEM;
        tn_mig_header h;
        const char *why = "";
        if (read_hello(fd, &h, &d->hello, HELLO_MS, &why) != TERN_OK) {
            refuse(fd, 0, why);
            continue;
        }
        if (d->hello.role != TN_MIG_ROLE_MAIN || d->hello.resume || h.id == 0) {
            refuse(fd, h.id, "no migration in progress to join");
            continue;
        }
        d->id = h.id;
        d->epoch = h.epoch;
        d->npages = d->hello.size / TN_MIG_PAGE;
        d->words = (size_t)((d->npages + 63) / 64);
        d->st->strategy = (tern_migrate_strategy)d->hello.strategy;
        d->st->size = d->hello.size;
        /* Post-copy wants the pages missing, not faulted in: dropping a
         * reserve's pages at the switch would cost the downtime it saves.
         * Nor is the reserve kept: left mapped beside the arena, it made
         * the placement of post-copy pages 2.7x slower here. */
        int fresh = d->hello.strategy == TERN_MIGRATE_POSTCOPY;
        if (fresh && d->l->reserve) {
            munmap(d->l->reserve, d->l->reserve_size);
            d->l->reserve = NULL;
            d->l->reserve_size = 0;
        }
        int had_reserve = d->l->reserve != NULL;
        tern_err err =
            tn_arena_map(&d->arena, d->hello.size, (void *)(uintptr_t)d->hello.base,
                         fresh ? NULL : &d->l->reserve, fresh ? NULL : &d->l->reserve_size);
        d->prefaulted = had_reserve && !d->l->reserve;
        if (err == TERN_OK) {
            d->base = tern_arena_base(d->arena);
            d->pcrc = malloc(d->npages * sizeof(uint32_t));
            d->torn = calloc(d->words, 8);
            if (!d->pcrc || !d->torn)
                err = TERN_ENOMEM;
        }
        if (err != TERN_OK) {
            fail(d, "cannot map the arena (%" PRIu64 " bytes at 0x%" PRIx64 "): %s", d->hello.size,
                 d->hello.base, tern_strerror(err));
            welcome(fd, h.id, h.epoch, err, 0, 0);
            close(fd);
            return err;
        }
        uint32_t zcrc = tn_mig_zero_page_crc();
        for (uint64_t i = 0; i < d->npages; i++)
            d->pcrc[i] = zcrc;
        d->fd = fd;
        tn_trace(TERN_TRACE_MIGRATE,
                 "destination: migration %016" PRIx64 ": %" PRIu64 " bytes at 0x%" PRIx64 " (%s)",
                 d->id, d->hello.size, d->hello.base, tern_migrate_strategy_name(d->st->strategy));
        return welcome(fd, d->id, d->epoch, TERN_OK, 0, 0);
    }
}

tern_err tern_migrate_receive(tern_migrate_listener *l, tern_migrate_resume_fn *resume, void *arg,
                              const tern_migrate_opts *opts, tern_arena **arena_out,
                              tern_migrate_stats *stats)
{
    tern_migrate_stats scratch;
    if (!stats)
        stats = &scratch;
    memset(stats, 0, sizeof(*stats));
    if (!l || !resume || !arena_out)
        return TERN_EINVAL;
    *arena_out = NULL;
    dest d = {.l = l, .st = stats, .fd = -1, .next_fd = -1, .stop_pipe = {-1, -1}};
    if (opts)
        d.o = *opts;
    else
        tern_migrate_opts_init(&d.o);
    if (d.o.reconnect_ms == 0)
        d.o.reconnect_ms = 10000;
    pthread_mutex_init(&d.mu, NULL);
    tn_cond_init(&d.cv);
    /* The arena is mapped first, before the buffers below, so that they
     * do not take the address it needs. */
    tern_err err = first_contact(&d);
    uint64_t t0 = tern_clock_ns();
    if (err == TERN_OK) {
        d.scratch = malloc(DATA_CAP);
        d.meta = malloc(MAX_META);
        d.pages = malloc(sizeof(*d.pages));
        d.link = calloc(1, sizeof(*d.link));
        if (!d.scratch || !d.meta || !d.pages || !d.link)
            err = TERN_ENOMEM;
        if (d.link) {
            pthread_mutex_init(&d.link->mu, NULL);
            d.link->fd = -1;
        }
    }
    if (err == TERN_OK && pipe2(d.stop_pipe, O_CLOEXEC) != 0)
        err = TERN_ESYSTEM;
    if (err == TERN_OK) {
        d.link->id = d.id;
        d.acceptor_on = pthread_create(&d.acceptor, NULL, acceptor_main, &d) == 0;
        err = d.acceptor_on ? stream(&d, resume, arg) : TERN_ESYSTEM;
    }
    stats->total_ns = tern_clock_ns() - t0;
    if (d.acceptor_on) {
        if (write(d.stop_pipe[1], "x", 1) != 1)
            tn_trace(TERN_TRACE_MIGRATE, "destination: cannot stop the acceptor");
        pthread_join(d.acceptor, NULL);
    }
    populate_stop(&d);
    free(d.plan);
    if (d.link)
        urgent_swap(&d, -1);
    if (err != TERN_OK && !stats->error[0])
        fail(&d, "migration failed: %s", tern_strerror(err));
    if (err != TERN_OK && d.fd >= 0) { /* tell the source why, so it need not guess */
        tn_mig_header h = {.type = TN_MIG_ABORT, .id = d.id, .epoch = d.epoch};
        tn_mig_send_frame(d.fd, &h, stats->error, strlen(stats->error), NULL, 0,
                          tn_mig_deadline(200));
    }
    struct orphan *orphan = NULL;
    if (d.lazy && err != TERN_OK && (orphan = malloc(sizeof(*orphan))) != NULL) {
        /* Pages that never came would read as zero once userfaultfd lets
         * go: threads touching them wait instead, until the arena is
         * destroyed (the process has to give up on this computation). */
        snprintf(stats->error + strlen(stats->error), sizeof(stats->error) - strlen(stats->error),
                 "; %" PRIu64 " pages never arrived and the computation here cannot go on",
                 tn_lazy_remaining(d.lazy));
        *orphan = (struct orphan){.lazy = d.lazy, .link = d.link};
        tn_arena_on_destroy(d.arena, orphan_free, orphan);
        d.lazy = NULL;
        d.link = NULL;
    }
    if (d.lazy)
        tn_lazy_close(d.lazy);
    if (d.link) {
        pthread_mutex_destroy(&d.link->mu);
        free(d.link);
    }
    if (d.fd >= 0)
        close(d.fd);
    if (d.next_fd >= 0)
        close(d.next_fd);
    for (int i = 0; i < 2; i++)
        if (d.stop_pipe[i] >= 0)
            close(d.stop_pipe[i]);
    if (d.running) {
        *arena_out = d.arena; /* it runs here: the caller owns it, even on error */
    } else if (d.arena) {
        tern_arena_destroy(d.arena);
    }
    free(d.pcrc);
    free(d.torn);
    free(d.scratch);
    free(d.meta);
    free(d.pages);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
    return err;
}
