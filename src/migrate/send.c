/* The source side of a migration: rounds of pages, the stop, the switch,
 * post-copy service, and resuming a cut connection.
 *
 * Page frames are numbered and kept until the destination acknowledges
 * them; a reconnect resends exactly the unacknowledged ones. The switch is
 * the commit point: before the SWITCH frame is sent the source's threads
 * may always be released; after it, only the destination's answer (or the
 * operator, tern_arena_resume) decides. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cond.h"
#include "base/endian.h"
#include "base/trace.h"
#include "io/transport.h"
#include "migrate/arena.h"
#include "migrate/bitmap.h"
#include "migrate/frame.h"
#include "migrate/track.h"

#define WINDOW_BYTES (32u << 20)
#define MAX_META (8 + TN_MIG_MAX_RUNS * 16 + TN_MIG_MAX_DATA_PAGES * 4)
#define QUIESCE_MS 2000

/* One page frame, kept until acknowledged. */
typedef struct frame {
    struct frame *next;
    uint64_t seq;
    uint8_t type;
    uint8_t written; /* the writer is done with it: acknowledged, it may go */
    size_t meta_len, data_len;
    uint8_t hdr[TN_MIG_HEADER];
    uint8_t *meta;       /* MAX_META bytes, or a larger block for SWITCH */
    tn_mig_pages *pages; /* PAGES: the runs in meta; the CRCs, once summed */
    uint8_t summed;      /* PAGES: the CRCs are computed and follow meta */
    /* Page images are sent straight from the arena, run by run: no copy.
     * One the threads change between the send and its CRC arrives torn;
     * the destination says so (TORN) and it is sent again. */
    int niov;
    struct iovec iov[TN_MIG_MAX_RUNS];
} frame;

typedef struct source {
    tern_arena *arena;
    uint8_t *base;
    uint64_t npages;
    size_t words; /* of a page bitmap */
    tern_migrate_opts o;
    tern_migrate_stats *st;
    tn_addr addr;
    const tn_stream_transport *tr;
    uint64_t id;
    uint32_t epoch;
    int fd;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    frame *head, *tail; /* sent, not yet acknowledged */
    frame *spare;       /* free frames, reused so buffers stay faulted in */
    size_t unacked;
    uint64_t next_seq, acked;
    int dead;      /* the reader saw the main connection fail */
    int committed; /* the destination runs the computation */
    int verified;
    uint8_t verdict[TN_MIG_VERIFIED_LEN];
    char abort_why[120];
    pthread_t reader;
    int reader_on;

    int switched; /* SWITCH sent */

    /* post-copy: the urgent connection and its server thread */
    int ufd;
    pthread_t urgent;
    int urgent_on;
    int stopping;

    uint64_t cap_start, cap_bytes; /* opts.bandwidth pacing */
    uint64_t *torn;                /* pages the destination got torn, to send again (under mu) */
    uint64_t ntorn;
    uint64_t *sent;  /* pages whose image at the destination may be non-zero */
    uint64_t *dirty; /* scratch */
    tn_tracker *tracker;
    uint64_t last_progress;
    uint64_t t0; /* start */
} source;

static void frame_free(frame *f)
{
    free(f->meta);
    free(f->pages);
    free(f);
}

static void urgent_check(source *s);
static void fail(source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(source *s, const char *fmt, ...)
{
    if (s->st->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->st->error, sizeof(s->st->error), fmt, ap);
    va_end(ap);
    tn_trace(TERN_TRACE_MIGRATE, "source: %s", s->st->error);
}

static void progress(source *s, const char *phase, int force)
{
    uint64_t now = tern_clock_ns();
    if (!s->o.progress || (!force && now - s->last_progress < 100000000u))
        return;
    s->last_progress = now;
    s->o.progress(s->o.progress_arg, phase, s->st);
}

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < TN_MIG_PAGE / 8; i += 8)
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
            return 0;
    return 1;
}

/* ---- connections -------------------------------------------------------- */

static tern_err dial(source *s, uint64_t deadline, int *fdp)
{
    int fd, pending;
    tern_err err = tn_stream_connect(s->tr, &s->addr, &fd, &pending);
    if (err != TERN_OK)
        return err;
    if (pending) {
        for (;;) {
            uint64_t now = tern_clock_ns();
            if (now >= deadline) {
                close(fd);
                return TERN_ETIMEDOUT;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
            if (n > 0)
                break;
        }
        err = tn_stream_connect_result(fd);
        if (err != TERN_OK) {
            close(fd);
            return err;
        }
    }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    *fdp = fd;
    return TERN_OK;
}

/* Connects and says hello; *w gets the destination's answer. */
static tern_err greet(source *s, uint8_t role, int resume, uint64_t deadline, int *fdp,
                      tn_mig_welcome *w)
{
    int fd;
    tern_err err = dial(s, deadline, &fd);
    if (err != TERN_OK)
        return err;
    tn_mig_hello hello = {.role = role,
                          .strategy = (uint8_t)s->st->strategy,
                          .resume = (uint8_t)resume,
                          .page_size = TN_MIG_PAGE,
                          .base = (uint64_t)(uintptr_t)s->base,
                          .size = s->npages * TN_MIG_PAGE};
    uint8_t body[TN_MIG_HELLO_LEN];
    tn_mig_hello_put(body, &hello);
    tn_mig_header h = {.type = TN_MIG_HELLO, .id = s->id, .epoch = s->epoch};
    err = tn_mig_send_frame(fd, &h, body, sizeof(body), NULL, 0, deadline);
    uint8_t reply[160];
    const char *why = "";
    if (err == TERN_OK)
        err = tn_mig_recv_small(fd, &h, reply, sizeof(reply), deadline, &why);
    /* Only the main connection speaks for the migration: a refused urgent
     * re-open is the caller's business, not the migration's error. */
    int main = role == TN_MIG_ROLE_MAIN;
    if (err == TERN_OK && h.type == TN_MIG_ABORT) {
        if (main)
            fail(s, "destination refused: %.*s", (int)h.length, (const char *)reply);
        err = TERN_ECONNREFUSED;
    } else if (err == TERN_OK && (h.type != TN_MIG_WELCOME || h.id != s->id ||
                                  tn_mig_welcome_get(reply, h.length, w))) {
        why = "bad welcome";
        err = TERN_EPROTO;
    }
    if (err == TERN_OK && w->status != TERN_OK) {
        err = (tern_err)w->status;
        if (main)
            fail(s, "destination cannot take the arena (%zu bytes at %p): %s", (size_t)hello.size,
                 (void *)s->base, tern_strerror(err));
    }
    if (err != TERN_OK) {
        tn_trace(TERN_TRACE_MIGRATE, "source: hello failed: %s (%s)", tern_errname(err), why);
        close(fd);
        return err;
    }
    *fdp = fd;
    return TERN_OK;
}

/* ---- acknowledgements --------------------------------------------------- */

static void release_acked(source *s, uint64_t seq)
{
    if (seq > s->acked)
        s->acked = seq;
    while (s->head && s->head->seq <= s->acked && s->head->written) {
        frame *f = s->head;
        s->head = f->next;
        if (!s->head)
            s->tail = NULL;
        s->unacked -= f->meta_len + f->data_len;
        if (f->type == TN_MIG_PAGES) {
            f->next = s->spare;
            s->spare = f;
        } else {
            frame_free(f);
        }
    }
}

static void *reader_main(void *arg)
{
    source *s = arg;
    for (;;) {
        tn_mig_header h;
        uint8_t body[4 + 8 * TN_MIG_TORN_MAX];
        const char *why = "";
        tern_err err = tn_mig_recv_small(s->fd, &h, body, sizeof(body),
                                         tern_clock_ns() + 3600000000000ull, &why);
        pthread_mutex_lock(&s->mu);
        if (err == TERN_OK && h.id != s->id) {
            err = TERN_EPROTO;
            why = "frame of another migration";
        }
        if (err == TERN_OK) {
            switch (h.type) {
            case TN_MIG_ACK:
            case TN_MIG_COMMIT:
                if (h.length == 8) {
                    release_acked(s, tn_get_be64(body));
                    if (h.type == TN_MIG_COMMIT)
                        s->committed = 1;
                } else {
                    err = TERN_EPROTO;
                }
                break;
            case TN_MIG_TORN: {
                uint32_t n = h.length >= 4 ? tn_get_be32(body) : 0;
                if (h.length < 4 || n > TN_MIG_TORN_MAX || h.length != 4 + 8 * (size_t)n) {
                    err = TERN_EPROTO;
                    why = "malformed torn-page report";
                    break;
                }
                for (uint32_t k = 0; k < n && err == TERN_OK; k++) {
                    uint64_t page = tn_get_be64(body + 4 + 8 * k);
                    if (page >= s->npages) {
                        err = TERN_EPROTO;
                        why = "torn page outside the arena";
                    } else if (!tn_bit_get(s->torn, page)) {
                        tn_bit_set(s->torn, page);
                        s->ntorn++;
                    }
                }
                break;
            }
            case TN_MIG_VERIFIED:
                if (h.length == TN_MIG_VERIFIED_LEN) {
                    memcpy(s->verdict, body, TN_MIG_VERIFIED_LEN);
                    s->verified = 1;
                } else {
                    err = TERN_EPROTO;
                }
                break;
            case TN_MIG_ABORT:
                snprintf(s->abort_why, sizeof(s->abort_why), "%.*s", (int)h.length,
                         (const char *)body);
                err = TERN_ECANCELED;
                break;
            default:
                err = TERN_EPROTO;
                why = "unexpected frame type";
            }
        }
        if (err != TERN_OK) {
            if (err != TERN_ECLOSED || !__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
                tn_trace(TERN_TRACE_MIGRATE, "source: main connection: %s (%s)", tern_errname(err),
                         why);
            s->dead = 1;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static void reader_start(source *s)
{
    s->dead = 0;
    s->reader_on = pthread_create(&s->reader, NULL, reader_main, s) == 0;
    if (!s->reader_on)
        s->dead = 1;
}

static void reader_stop(source *s)
{
    if (s->fd >= 0)
        shutdown(s->fd, SHUT_RDWR);
    if (s->reader_on)
        pthread_join(s->reader, NULL);
    s->reader_on = 0;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Bytes of a page frame's trailer (its CRCs); none for other frames. */
static size_t frame_trailer(const frame *f)
{
    return f->type == TN_MIG_PAGES ? (size_t)f->pages->ndata * 4 : 0;
}

/* Computes the CRC of every data page of a frame, in run order, into the
 * trailer after its metadata. */
static void frame_sum(frame *f)
{
    tn_mig_pages *p = f->pages;
    uint32_t k = 0;
    for (int v = 0; v < f->niov; v++)
        for (size_t off = 0; off < f->iov[v].iov_len; off += TN_MIG_PAGE)
            p->crc[k++] = tern_crc32c(0, (const uint8_t *)f->iov[v].iov_base + off, TN_MIG_PAGE);
    tn_mig_pages_crcs_put(f->meta + f->meta_len, p);
    f->summed = 1;
}

/* Writes a frame to fd: its header (CRC over header and metadata), the
 * metadata, the page images straight from the arena, then their CRCs. The
 * images are summed after the send has read them: the send pays for the
 * cold read of the arena and the sums find the pages in cache (before the
 * send, the sums cost a third of the round). A resend reuses the sums. */
static tern_err frame_write(int fd, frame *f, uint64_t id, uint32_t epoch, uint64_t deadline)
{
    size_t trailer = frame_trailer(f);
    tn_mig_header h = {.type = f->type, .id = id, .epoch = epoch, .seq = f->seq};
    h.length = (uint32_t)(f->meta_len + f->data_len + trailer);
    tn_mig_header_put(f->hdr, &h);
    h.crc = tn_mig_crc(f->hdr, f->meta, f->meta_len);
    tn_mig_header_put(f->hdr, &h);
    struct iovec iov[3 + TN_MIG_MAX_RUNS] = {{f->hdr, TN_MIG_HEADER}, {f->meta, f->meta_len}};
    memcpy(iov + 2, f->iov, (size_t)f->niov * sizeof(struct iovec));
    int n = 2 + f->niov;
    if (trailer && f->summed)
        iov[n++] = (struct iovec){f->meta + f->meta_len, trailer};
    tern_err err = tn_mig_writev(fd, iov, n, deadline);
    if (err == TERN_OK && trailer && !f->summed) {
        frame_sum(f);
        err = tn_mig_write(fd, f->meta + f->meta_len, trailer, deadline);
    }
    return err;
}

/* Writes one queued frame on the main connection, with the current epoch. */
static tern_err write_frame(source *s, frame *f, uint64_t deadline)
{
    size_t len = TN_MIG_HEADER + f->meta_len + f->data_len + frame_trailer(f);
    tern_err err = frame_write(s->fd, f, s->id, s->epoch, deadline);
    if (err == TERN_OK)
        __atomic_add_fetch(&s->st->bytes, len, __ATOMIC_RELAXED);
    /* The acknowledgement may beat this thread here; the frame is freed
     * only once both are done with it. */
    pthread_mutex_lock(&s->mu);
    f->written = 1;
    release_acked(s, s->acked);
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* The main connection failed: reconnect within reconnect_ms and resend
 * what the destination has not acknowledged. */
static tern_err reconnect(source *s)
{
    reader_stop(s);
    uint64_t deadline = tn_mig_deadline(s->o.reconnect_ms);
    tern_err err = TERN_ETIMEDOUT;
    while (tern_clock_ns() < deadline) {
        if (s->abort_why[0]) {
            fail(s, "destination aborted: %s", s->abort_why);
            return TERN_ECANCELED;
        }
        tn_mig_welcome w;
        s->epoch++;
        err = greet(s, TN_MIG_ROLE_MAIN, 1, deadline, &s->fd, &w);
        if (err == TERN_OK) {
            tn_trace(TERN_TRACE_MIGRATE, "source: reconnected (epoch %u), destination has %" PRIu64,
                     s->epoch, w.acked);
            s->st->reconnects++;
            pthread_mutex_lock(&s->mu);
            for (frame *f = s->head; f; f = f->next)
                f->written = 1; /* no write is in flight: this thread is the writer */
            release_acked(s, w.acked);
            if (w.running)
                s->committed = 1;
            pthread_mutex_unlock(&s->mu);
            /* Resend what is not acknowledged before the reader runs again,
             * so no acknowledgement frees a frame under this loop. At most
             * a window's worth: the destination's acks fit its buffers. */
            for (frame *f = s->head; f && err == TERN_OK; f = f->next)
                err = write_frame(s, f, deadline);
            if (err == TERN_OK) {
                reader_start(s);
                return TERN_OK;
            }
            close(s->fd);
            s->fd = -1;
        } else if (s->st->error[0]) {
            return err; /* refused for a reason, not just nobody listening */
        }
        struct timespec pause = {0, 100000000};
        nanosleep(&pause, NULL);
    }
    fail(s, "connection to the destination lost and not re-established within %u ms",
         s->o.reconnect_ms);
    return TERN_EUNAVAILABLE;
}

/* Queues and sends a frame, waiting for acknowledgements while the window
 * is full. */
static tern_err push(source *s, frame *f)
{
    pthread_mutex_lock(&s->mu);
    f->seq = ++s->next_seq;
    f->next = NULL;
    f->written = 0;
    if (s->tail)
        s->tail->next = f;
    else
        s->head = f;
    s->tail = f;
    s->unacked += f->meta_len + f->data_len;
    int dead = s->dead;
    pthread_mutex_unlock(&s->mu);
    urgent_check(s);
    if (s->o.bandwidth) { /* sleep until the bytes so far fit the cap */
        if (!s->cap_start)
            s->cap_start = tern_clock_ns();
        s->cap_bytes += f->meta_len + f->data_len;
        uint64_t due = s->cap_start + (uint64_t)((double)s->cap_bytes * 1e9 / s->o.bandwidth);
        uint64_t now = tern_clock_ns();
        if (due > now) {
            struct timespec ts = {(time_t)((due - now) / 1000000000u),
                                  (long)((due - now) % 1000000000u)};
            nanosleep(&ts, NULL);
        }
    }
    tern_err err = dead ? TERN_ECLOSED : write_frame(s, f, tn_mig_deadline(s->o.reconnect_ms));
    if (err != TERN_OK) {
        pthread_mutex_lock(&s->mu);
        int verified = s->verified;
        pthread_mutex_unlock(&s->mu);
        return verified ? TERN_OK : reconnect(s);
    }
    pthread_mutex_lock(&s->mu);
    uint64_t stall = tn_mig_deadline(s->o.reconnect_ms);
    while (s->unacked > WINDOW_BYTES && !s->dead) {
        if (tn_cond_wait_until(&s->cv, &s->mu, stall) == ETIMEDOUT) {
            s->dead = 1; /* connected but silent: treat as cut */
            break;
        }
    }
    /* The destination may answer the last frame and hang up before this
     * thread looks: a verdict received is no cut connection. */
    dead = s->dead && !s->verified;
    pthread_mutex_unlock(&s->mu);
    return dead ? reconnect(s) : TERN_OK;
}

/* Waits until every frame sent so far is acknowledged (or, with commit,
 * until the destination says it runs). */
static tern_err drain(source *s, int commit)
{
    for (;;) {
        pthread_mutex_lock(&s->mu);
        uint64_t stall = tn_mig_deadline(s->o.reconnect_ms);
        while (!s->dead && (commit ? !s->committed : s->acked < s->next_seq)) {
            if (tn_cond_wait_until(&s->cv, &s->mu, stall) == ETIMEDOUT) {
                s->dead = 1;
                break;
            }
        }
        int done = commit ? s->committed : s->acked >= s->next_seq;
        pthread_mutex_unlock(&s->mu);
        if (done)
            return TERN_OK;
        tern_err err = reconnect(s);
        if (err != TERN_OK)
            return err;
    }
}

/* An empty page frame: a spare, or a new one. */
static frame *frame_get(source *s)
{
    pthread_mutex_lock(&s->mu);
    frame *f = s->spare;
    if (f)
        s->spare = f->next;
    pthread_mutex_unlock(&s->mu);
    if (!f && (f = calloc(1, sizeof(*f)))) {
        f->type = TN_MIG_PAGES;
        f->meta = malloc(MAX_META);
        f->pages = malloc(sizeof(*f->pages));
        if (!f->meta || !f->pages) {
            frame_free(f);
            return NULL;
        }
    }
    if (f) {
        f->niov = 0;
        f->summed = 0;
        f->pages->nruns = f->pages->ndata = 0;
    }
    return f;
}

static void frame_spare(source *s, frame *f)
{
    pthread_mutex_lock(&s->mu);
    f->next = s->spare;
    s->spare = f;
    pthread_mutex_unlock(&s->mu);
}

/* ---- page batches ------------------------------------------------------- */

/* Sends the frame being filled (*fp, whose runs and iovecs grow page by
 * page), if it holds any; *fp is then empty. */
static tern_err batch_flush(source *s, frame **fp)
{
    frame *f = *fp;
    if (!f || f->pages->nruns == 0)
        return TERN_OK;
    *fp = NULL;
    f->meta_len = tn_mig_pages_put(f->meta, f->pages);
    f->data_len = (size_t)f->pages->ndata * TN_MIG_PAGE;
    progress(s, "round", 0);
    return push(s, f);
}

/* Ends a run of batches: the last partial frame goes out, or back to the
 * spares after an error. */
static tern_err batch_end(source *s, frame **fp, tern_err err)
{
    if (err == TERN_OK)
        err = batch_flush(s, fp);
    if (*fp)
        frame_spare(s, *fp);
    *fp = NULL;
    return err;
}

/* Appends page i to a frame's runs: a zero page as (part of) a zero run,
 * else an iovec onto the arena, merged with the previous run when they
 * touch. Its CRC is computed once the frame is sent. The caller keeps
 * within the frame's limits. */
static void pages_add(frame *f, uint8_t *base, uint64_t i, int zero)
{
    tn_mig_pages *p = f->pages;
    uint32_t kind = zero ? TN_MIG_RUN_ZERO : TN_MIG_RUN_DATA;
    tn_mig_run *last = p->nruns ? &p->run[p->nruns - 1] : NULL;
    if (last && last->kind == kind && last->first + last->count == i) {
        last->count++;
        if (!zero)
            f->iov[f->niov - 1].iov_len += TN_MIG_PAGE;
    } else {
        p->run[p->nruns++] = (tn_mig_run){.first = i, .count = 1, .kind = kind};
        if (!zero)
            f->iov[f->niov++] =
                (struct iovec){.iov_base = base + i * TN_MIG_PAGE, .iov_len = TN_MIG_PAGE};
    }
    p->ndata += !zero;
}

/* Adds page i (zero: as a zero page) to the frame being filled (*fp), sending a full one. */
static tern_err batch_add(source *s, frame **fp, uint64_t i, int zero, tern_migrate_round *r)
{
    if (!*fp) {
        if (!(*fp = frame_get(s))) {
            fail(s, "out of memory for page frames");
            return TERN_ENOMEM;
        }
    }
    pages_add(*fp, s->base, i, zero);
    if (zero) {
        r->zero_pages++;
    } else {
        r->bytes += TN_MIG_PAGE;
    }
    r->pages++;
    tn_mig_pages *p = (*fp)->pages;
    if (p->nruns == TN_MIG_MAX_RUNS || p->ndata == TN_MIG_MAX_DATA_PAGES)
        return batch_flush(s, fp);
    return TERN_OK;
}

/* Sends the pages set in want (NULL: every page). Zero pages the
 * destination already holds as zero are skipped unless all_zero (post-copy
 * owes every page an answer). */
static tern_err send_pages(source *s, const uint64_t *want, int all_zero, tern_migrate_round *r)
{
    frame *b = NULL;
    tern_err err = TERN_OK;
    uint64_t t0 = tern_clock_ns();
    for (size_t w = 0; w < s->words && err == TERN_OK; w++) {
        uint64_t bits = want ? want[w] : ~0ull;
        while (bits && err == TERN_OK) {
            uint64_t i = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (i >= s->npages)
                break;
            int zero = page_is_zero(s->base + i * TN_MIG_PAGE);
            if (zero && !all_zero && !tn_bit_get(s->sent, i)) {
                r->zero_pages++;
                continue;
            }
            if (zero)
                tn_bit_clear(s->sent, i);
            else
                tn_bit_set(s->sent, i);
            err = batch_add(s, &b, i, zero, r);
            s->st->pages += !zero;
        }
    }
    err = batch_end(s, &b, err);
    r->duration_ns = tern_clock_ns() - t0;
    return err;
}

/* Sends a zero run for every page not set in present (post-copy: pages
 * never touched), as few wide runs. */
static tern_err send_zero_runs(source *s, const uint64_t *present)
{
    uint64_t i = 0;
    frame *b = NULL;
    tern_err err = TERN_OK;
    while (i < s->npages && err == TERN_OK) {
        if (tn_bit_get(present, i)) {
            i++;
            continue;
        }
        uint64_t j = i;
        while (j < s->npages && !tn_bit_get(present, j) && j - i < UINT32_MAX)
            j++;
        if (!b) {
            if (!(b = frame_get(s))) {
                err = TERN_ENOMEM;
                break;
            }
        }
        tn_mig_pages *p = b->pages;
        p->run[p->nruns++] =
            (tn_mig_run){.first = i, .count = (uint32_t)(j - i), .kind = TN_MIG_RUN_ZERO};
        s->st->zero_pages += j - i;
        if (p->nruns == TN_MIG_MAX_RUNS)
            err = batch_flush(s, &b);
        i = j;
    }
    return batch_end(s, &b, err);
}

/* Tells the destination which pages the first round will bring, so it can
 * fault their memory in on another core while the round streams: fresh
 * memory costs about as much as the transfer itself. A hint, outside the
 * sequence: lost with a cut connection, nothing is owed. */
static void send_plan(source *s, const uint64_t *present)
{
    uint8_t *body = malloc(s->words * 8);
    if (!body)
        return;
    for (size_t w = 0; w < s->words; w++)
        tn_put_be64(body + w * 8, present[w]);
    tn_mig_header h = {.type = TN_MIG_PLAN, .id = s->id, .epoch = s->epoch};
    if (tn_mig_send_frame(s->fd, &h, body, s->words * 8, NULL, 0,
                          tn_mig_deadline(s->o.reconnect_ms)) == TERN_OK)
        __atomic_add_fetch(&s->st->bytes, TN_MIG_HEADER + s->words * 8, __ATOMIC_RELAXED);
    free(body);
}

/* ---- post-copy service ------------------------------------------------- */

static void *urgent_main(void *arg)
{
    source *s = arg;
    frame f = {
        .type = TN_MIG_PAGES, .meta = malloc(MAX_META), .pages = malloc(sizeof(tn_mig_pages))};
    while (f.meta && f.pages) {
        tn_mig_header h;
        uint8_t body[TN_MIG_FETCH_LEN];
        const char *why = "";
        tern_err err = tn_mig_recv_small(s->ufd, &h, body, sizeof(body),
                                         tern_clock_ns() + 3600000000000ull, &why);
        if (err == TERN_OK &&
            (h.type != TN_MIG_FETCH || h.length != TN_MIG_FETCH_LEN || h.id != s->id)) {
            err = TERN_EPROTO;
            why = "expected a fetch";
        }
        uint64_t first = 0;
        uint32_t count = 0;
        if (err == TERN_OK) {
            first = tn_get_be64(body);
            count = tn_get_be32(body + 8);
            if (count == 0 || count > TN_MIG_MAX_DATA_PAGES || first >= s->npages ||
                count > s->npages - first) {
                err = TERN_EPROTO;
                why = "fetch outside the arena";
            }
        }
        if (err != TERN_OK) {
            if (!__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
                tn_trace(TERN_TRACE_MIGRATE, "source: urgent connection: %s (%s)",
                         tern_errname(err), why);
            break;
        }
        /* The source is stopped: pages go straight from the arena. */
        f.pages->nruns = f.pages->ndata = 0;
        f.niov = 0;
        f.summed = 0;
        for (uint64_t i = first; i < first + count; i++)
            pages_add(&f, s->base, i, page_is_zero(s->base + i * TN_MIG_PAGE));
        f.meta_len = tn_mig_pages_put(f.meta, f.pages);
        f.data_len = (size_t)f.pages->ndata * TN_MIG_PAGE;
        if (frame_write(s->ufd, &f, s->id, s->epoch, tn_mig_deadline(s->o.reconnect_ms)) != TERN_OK)
            break;
        __atomic_add_fetch(&s->st->bytes,
                           TN_MIG_HEADER + f.meta_len + f.data_len + frame_trailer(&f),
                           __ATOMIC_RELAXED);
    }
    /* Hang up, so urgent_check sees it and opens another. */
    shutdown(s->ufd, SHUT_RDWR);
    free(f.meta);
    free(f.pages);
    return NULL;
}

static tern_err urgent_open(source *s)
{
    tn_mig_welcome w;
    tern_err err = greet(s, TN_MIG_ROLE_URGENT, 0, tn_mig_deadline(s->o.reconnect_ms), &s->ufd, &w);
    if (err != TERN_OK) {
        fail(s, "could not open the urgent connection for post-copy: %s", tern_strerror(err));
        return err;
    }
    if (pthread_create(&s->urgent, NULL, urgent_main, s) != 0) {
        close(s->ufd);
        s->ufd = -1;
        return TERN_ESYSTEM;
    }
    s->urgent_on = 1;
    return TERN_OK;
}

/* Keeps the urgent connection served while the background push runs: if
 * it broke, open another (the destination swaps it in). */
static void urgent_check(source *s)
{
    if (!s->urgent_on)
        return;
    struct pollfd p = {.fd = s->ufd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        pthread_join(s->urgent, NULL);
        close(s->ufd);
        s->ufd = -1;
        s->urgent_on = 0;
        tn_mig_welcome w;
        if (greet(s, TN_MIG_ROLE_URGENT, 1, tn_mig_deadline(s->o.reconnect_ms), &s->ufd, &w) ==
                TERN_OK &&
            pthread_create(&s->urgent, NULL, urgent_main, s) == 0) {
            s->urgent_on = 1;
            s->st->reconnects++;
        }
    }
}

static void urgent_close(source *s)
{
    if (!s->urgent_on)
        return;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
    shutdown(s->ufd, SHUT_RDWR);
    pthread_join(s->urgent, NULL);
    close(s->ufd);
    s->ufd = -1;
    s->urgent_on = 0;
}

/* ---- the switch --------------------------------------------------------- */

/* A frame of metadata only (SWITCH, DIGEST), freed once acknowledged. */
static frame *frame_new(uint8_t type, size_t meta_len)
{
    frame *f = calloc(1, sizeof(*f));
    if (f && !(f->meta = malloc(meta_len))) {
        free(f);
        return NULL;
    }
    if (f) {
        f->type = type;
        f->meta_len = meta_len;
    }
    return f;
}

/* Sends the context and, for post-copy, the pages still owed (needed). */
static tern_err send_switch(source *s, const uint64_t *needed)
{
    size_t ctx_len;
    const void *ctx = tern_arena_context(s->arena, &ctx_len);
    size_t bitmap = needed ? s->words * 8 : 0;
    frame *f = frame_new(TN_MIG_SWITCH, 8 + ctx_len + bitmap);
    if (!f) {
        fail(s, "out of memory for the switch frame");
        return TERN_ENOMEM;
    }
    uint8_t *meta = f->meta;
    tn_put_be32(meta, needed ? 1 : 0);
    tn_put_be32(meta + 4, (uint32_t)ctx_len);
    if (ctx_len)
        memcpy(meta + 8, ctx, ctx_len);
    for (size_t w = 0; w < (needed ? s->words : 0); w++)
        tn_put_be64(meta + 8 + ctx_len + w * 8, needed[w]);
    s->switched = 1;
    return push(s, f);
}

static uint64_t arena_digest(source *s, const uint64_t *present)
{
    uint64_t d = 0, said = tern_clock_ns();
    uint32_t zcrc = tn_mig_zero_page_crc();
    for (uint64_t i = 0; i < s->npages; i++) {
        /* Reading a big arena takes a while: say so (an empty PLAN), or
         * the destination would take the silence for a cut. */
        if (i % 16384 == 0 && tern_clock_ns() - said > (uint64_t)s->o.reconnect_ms * 250000u) {
            tn_mig_header h = {.type = TN_MIG_PLAN, .id = s->id, .epoch = s->epoch};
            tn_mig_send_frame(s->fd, &h, NULL, 0, NULL, 0, tn_mig_deadline(s->o.reconnect_ms));
            said = tern_clock_ns();
        }
        uint32_t c = present && !tn_bit_get(present, i)
                         ? zcrc
                         : tern_crc32c(0, s->base + i * TN_MIG_PAGE, TN_MIG_PAGE);
        d += tn_mig_digest_term(i, c);
    }
    return d;
}

/* After the destination runs: every page is sent; compare digests. */
static tern_err finish(source *s, const uint64_t *present)
{
    s->st->digest = arena_digest(s, present);
    frame *f = frame_new(TN_MIG_DIGEST, 8);
    if (!f)
        return TERN_ENOMEM;
    tn_put_be64(f->meta, s->st->digest);
    tern_err err = push(s, f);
    for (;;) {
        if (err != TERN_OK)
            return err;
        pthread_mutex_lock(&s->mu);
        uint64_t stall = tn_mig_deadline(s->o.reconnect_ms);
        while (!s->dead && !s->verified)
            if (tn_cond_wait_until(&s->cv, &s->mu, stall) == ETIMEDOUT)
                s->dead = 1;
        int ok = s->verified;
        pthread_mutex_unlock(&s->mu);
        if (ok)
            break;
        err = reconnect(s);
    }
    /* Lets the destination go; without it, it waits for a reconnect in
     * case the verdict was lost on the way. */
    tn_mig_header bye = {.type = TN_MIG_BYE, .id = s->id, .epoch = s->epoch};
    tn_mig_send_frame(s->fd, &bye, NULL, 0, NULL, 0, tn_mig_deadline(s->o.reconnect_ms));
    const uint8_t *v = s->verdict;
    s->st->faults = tn_get_be64(v + 16);
    s->st->fault_p50_ns = tn_get_be64(v + 24);
    s->st->fault_p99_ns = tn_get_be64(v + 32);
    s->st->fault_max_ns = tn_get_be64(v + 40);
    if (tn_get_be64(v) != 1 || tn_get_be64(v + 8) != s->st->digest) {
        fail(s, "arena digests differ: source %016" PRIx64 ", destination %016" PRIx64,
             s->st->digest, tn_get_be64(v + 8));
        return TERN_EPROTO;
    }
    return TERN_OK;
}

/* ---- strategies --------------------------------------------------------- */

static tern_err stop(source *s)
{
    /* Within half the reconnect window, or the destination, hearing
     * nothing, would give up on a source that is only waiting. */
    uint32_t ms = s->o.reconnect_ms / 2 < QUIESCE_MS ? s->o.reconnect_ms / 2 : QUIESCE_MS;
    tern_err err = tn_arena_quiesce(s->arena, tn_mig_deadline(ms));
    if (err != TERN_OK) {
        fail(s, "threads did not reach a safepoint within %u ms", ms);
        return err;
    }
    if (s->o.on_quiesce)
        s->o.on_quiesce(s->o.on_quiesce_arg, s->arena);
    progress(s, "stop", 1);
    return TERN_OK;
}

static tern_migrate_round *next_round(source *s)
{
    uint32_t n =
        s->st->nrounds < TERN_MIGRATE_MAX_ROUNDS ? s->st->nrounds++ : TERN_MIGRATE_MAX_ROUNDS - 1;
    return &s->st->round[n];
}

/* ORs the pages the destination got torn into want and forgets them;
 * returns how many. */
static size_t take_torn(source *s, uint64_t *want)
{
    pthread_mutex_lock(&s->mu);
    size_t n = (size_t)s->ntorn;
    if (n) {
        for (size_t w = 0; w < s->words; w++) {
            want[w] |= s->torn[w];
            s->torn[w] = 0;
        }
        s->ntorn = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ORs the pages dirtied since the last collect into s->dirty, which keeps
 * pages collected earlier but not sent yet. */
static size_t collect(source *s, tern_err *err)
{
    size_t n = 0;
    *err = tn_tracker_collect(s->tracker, s->dirty, &n);
    if (*err != TERN_OK)
        fail(s, "dirty tracking failed: %s", tern_strerror(*err));
    n += take_torn(s, s->dirty);
    return n;
}

/* Precopy rounds. Returns with *converged set when the dirty pages left
 * fit the budget; otherwise the rounds ran out or stalled. */
static tern_err precopy_rounds(source *s, tern_migrate_strategy strategy, int *converged)
{
    uint64_t *present = calloc(s->words, 8);
    if (!present)
        return TERN_ENOMEM;
    tern_err err =
        tn_tracker_open(&s->tracker, s->base, s->npages * TN_MIG_PAGE, s->o.tracker, present);
    if (err != TERN_OK) {
        fail(s, "no dirty-page tracking works here (%s)", tern_strerror(err));
        free(present);
        return err;
    }
    s->st->tracker = tn_tracker_kind(s->tracker);
    send_plan(s, present);
    tern_migrate_round *r = next_round(s);
    for (size_t w = 0; w < s->words; w++) /* never touched: zero, not even read */
        r->zero_pages += (uint64_t)(64 - __builtin_popcountll(present[w]));
    r->zero_pages -= s->words * 64 - s->npages;
    uint64_t t0 = tern_clock_ns();
    if (err == TERN_OK)
        err = send_pages(s, present, 0, r);
    free(present);
    if (err == TERN_OK)
        err = drain(s, 0);
    r->duration_ns = tern_clock_ns() - t0;
    uint64_t budget_ns = (uint64_t)s->o.downtime_ms * 1000000u;
    size_t prev = SIZE_MAX;
    int stalls = 0;
    uint32_t throttle = 0;
    *converged = 0;
    while (err == TERN_OK) {
        if (r->duration_ns && r->bytes)
            s->st->bandwidth = (double)r->bytes * 1e9 / (double)r->duration_ns;
        size_t n = collect(s, &err);
        if (err != TERN_OK)
            break;
        r->dirty_pages = n;
        if (r->duration_ns)
            s->st->dirty_rate = (double)n * TN_MIG_PAGE * 1e9 / (double)r->duration_ns;
        progress(s, "round", 1);
        /* Leave half the budget for the stop itself: parking the threads,
         * the last collect and the round trip of the switch. */
        double est_ns = s->st->bandwidth > 0 ? (double)n * TN_MIG_PAGE * 1e9 / s->st->bandwidth : 0;
        if (est_ns <= (double)budget_ns / 2) {
            *converged = 1;
            break;
        }
        stalls = prev != SIZE_MAX && n * 10 >= prev * 9 ? stalls + 1 : 0;
        prev = n;
        if (s->st->nrounds >= s->o.max_rounds || stalls >= 2) {
            if (strategy != TERN_MIGRATE_HYBRID || s->o.fallback != TERN_FALLBACK_THROTTLE ||
                throttle >= 100000)
                break;
            throttle = throttle ? throttle * 2 : 250;
            tn_arena_throttle(s->arena, throttle);
            s->st->throttled = true;
            stalls = 0;
            tn_trace(TERN_TRACE_MIGRATE, "source: not converging; throttling writers to %u us",
                     throttle);
            if (s->st->nrounds >= TERN_MIGRATE_MAX_ROUNDS)
                break;
        }
        /* collect ORs into s->dirty: send from a copy and start it over. */
        r = next_round(s);
        uint64_t t = tern_clock_ns();
        uint64_t *want = malloc(s->words * 8);
        if (!want)
            return TERN_ENOMEM;
        memcpy(want, s->dirty, s->words * 8);
        memset(s->dirty, 0, s->words * 8);
        err = send_pages(s, want, 0, r);
        free(want);
        if (err == TERN_OK)
            err = drain(s, 0);
        r->duration_ns = tern_clock_ns() - t;
    }
    return err;
}

/* Stopped: send the last dirty pages and switch (stop-and-copy ending). */
static tern_err stop_and_switch(source *s, tern_migrate_round *r)
{
    tern_err err = send_pages(s, s->dirty, 0, r);
    /* The threads are stopped, so nothing sent now can tear; what arrived
     * torn was corrupted on the way, or is a resend of a frame from before
     * the stop. Send those pages again until none is torn. */
    for (int tries = 0; err == TERN_OK; tries++) {
        err = drain(s, 0);
        memset(s->dirty, 0, s->words * 8);
        if (err != TERN_OK || take_torn(s, s->dirty) == 0)
            break;
        if (tries == 8) {
            fail(s, "pages keep arriving torn at the destination");
            return TERN_EPROTO;
        }
        err = send_pages(s, s->dirty, 0, r);
    }
    if (err == TERN_OK)
        err = send_switch(s, NULL);
    return err;
}

static tern_err run(source *s, tern_migrate_strategy strategy, uint64_t *stop_at)
{
    tern_err err = TERN_OK;
    int converged = 0;
    uint64_t *present = calloc(s->words, 8);
    if (!present)
        return TERN_ENOMEM;
    /* The urgent connection is opened now, not in the downtime. */
    if (strategy == TERN_MIGRATE_POSTCOPY ||
        (strategy == TERN_MIGRATE_HYBRID && s->o.fallback == TERN_FALLBACK_POSTCOPY))
        err = urgent_open(s);
    if (err == TERN_OK && (strategy == TERN_MIGRATE_PRECOPY || strategy == TERN_MIGRATE_HYBRID))
        err = precopy_rounds(s, strategy, &converged);
    if (err == TERN_OK) {
        *stop_at = tern_clock_ns();
        err = stop(s);
    }
    int postcopy =
        strategy == TERN_MIGRATE_POSTCOPY ||
        (strategy == TERN_MIGRATE_HYBRID && !converged && s->o.fallback == TERN_FALLBACK_POSTCOPY);
    /* The tracker stays armed until the switch is done: closing it lifts
     * the protection of every page, tens of milliseconds per GiB that
     * would count as downtime. Nothing writes meanwhile. */
    if (err == TERN_OK && s->tracker)
        collect(s, &err);
    tn_arena_throttle(s->arena, 0);
    if (err != TERN_OK) {
        free(present);
        return err;
    }
    if (!postcopy) {
        tern_migrate_round *r = next_round(s);
        if (strategy == TERN_MIGRATE_STOP_AND_COPY) {
            err = tn_pages_present(s->base, s->npages * TN_MIG_PAGE, s->dirty);
            if (err == TERN_OK)
                send_plan(s, s->dirty);
            for (size_t w = 0; w < s->words; w++)
                r->zero_pages += (uint64_t)(64 - __builtin_popcountll(s->dirty[w]));
            r->zero_pages -= s->words * 64 - s->npages;
        }
        uint64_t t = tern_clock_ns();
        if (err == TERN_OK)
            err = stop_and_switch(s, r);
        if (err == TERN_OK)
            err = drain(s, 1);
        r->duration_ns = tern_clock_ns() - t;
    } else {
        s->st->switched_to_postcopy = strategy == TERN_MIGRATE_HYBRID;
        uint64_t *needed = s->dirty;
        /* Pure post-copy owes every page; untouched ones go as zero runs. */
        if (strategy == TERN_MIGRATE_POSTCOPY)
            tn_bits_set(needed, 0, s->npages);
        err = send_switch(s, needed);
        if (err == TERN_OK)
            err = drain(s, 1);
        if (err == TERN_OK) {
            s->st->downtime_ns = tern_clock_ns() - *stop_at;
            if (s->tracker) {
                tn_tracker_close(s->tracker);
                s->tracker = NULL;
            }
            tn_arena_moved(s->arena);
            progress(s, "postcopy", 1);
            tern_migrate_round *r = next_round(s);
            err = tn_pages_present(s->base, s->npages * TN_MIG_PAGE, present);
            if (err == TERN_OK && strategy == TERN_MIGRATE_POSTCOPY) {
                err = send_zero_runs(s, present);
                memcpy(needed, present, s->words * 8);
            }
            uint64_t t = tern_clock_ns();
            if (err == TERN_OK)
                err = send_pages(s, needed, 1, r);
            if (err == TERN_OK)
                err = drain(s, 0);
            r->duration_ns = tern_clock_ns() - t;
        }
    }
    if (err == TERN_OK && !s->st->downtime_ns)
        s->st->downtime_ns = tern_clock_ns() - *stop_at;
    /* Done: the destination runs with every page. What follows (lifting
     * the write protection here, the digests) is not the migration's time. */
    uint64_t done = tern_clock_ns();
    if (s->tracker) {
        tn_tracker_close(s->tracker);
        s->tracker = NULL;
    }
    if (err == TERN_OK) {
        s->st->total_ns = done - s->t0;
        tn_arena_moved(s->arena);
        progress(s, "switch", 1);
        if (!postcopy)
            err = tn_pages_present(s->base, s->npages * TN_MIG_PAGE, present);
        if (err == TERN_OK)
            err = finish(s, present);
        s->st->verify_ns = tern_clock_ns() - done;
    }
    free(present);
    return err;
}

tern_err tern_migrate_send(tern_arena *arena, const char *endpoint, tern_migrate_strategy strategy,
                           const tern_migrate_opts *opts, tern_migrate_stats *stats)
{
    tern_migrate_stats scratch;
    if (!stats)
        stats = &scratch;
    memset(stats, 0, sizeof(*stats));
    if (!arena || !endpoint || (unsigned)strategy > TERN_MIGRATE_HYBRID)
        return TERN_EINVAL;
    source s = {.arena = arena, .fd = -1, .ufd = -1, .st = stats};
    if (opts)
        s.o = *opts;
    else
        tern_migrate_opts_init(&s.o);
    if (s.o.max_rounds == 0 || s.o.max_rounds > TERN_MIGRATE_MAX_ROUNDS - 2)
        s.o.max_rounds = TERN_MIGRATE_MAX_ROUNDS - 2;
    if (s.o.reconnect_ms == 0)
        s.o.reconnect_ms = 10000;
    stats->strategy = strategy;
    stats->size = tern_arena_size(arena);
    s.base = tern_arena_base(arena);
    s.npages = stats->size / TN_MIG_PAGE;
    s.words = (size_t)((s.npages + 63) / 64);

    char scheme[16];
    const char *rest;
    tern_err err = tn_endpoint_split(endpoint, scheme, sizeof(scheme), &rest);
    s.tr = err == TERN_OK ? tn_stream_transport_find(scheme) : NULL;
    if (!s.tr || s.tr->resolve(rest, 0, &s.addr) != TERN_OK) {
        snprintf(stats->error, sizeof(stats->error), "cannot use endpoint '%s' (tcp:// or ipc://)",
                 endpoint);
        return TERN_EADDRINVAL;
    }
    err = tn_arena_claim(arena);
    if (err != TERN_OK) {
        snprintf(stats->error, sizeof(stats->error), "the arena is already migrating or gone");
        return err;
    }
    while (s.id == 0)
        if (getrandom(&s.id, sizeof(s.id), 0) != sizeof(s.id))
            s.id = tern_clock_wall_ns() ^ (uint64_t)getpid() << 32;
    pthread_mutex_init(&s.mu, NULL);
    tn_cond_init(&s.cv);
    s.sent = calloc(s.words, 8);
    s.dirty = calloc(s.words, 8);
    s.torn = calloc(s.words, 8);
    uint64_t stop_at = 0;
    s.t0 = tern_clock_ns();
    if (!s.sent || !s.dirty || !s.torn) {
        err = TERN_ENOMEM;
    } else {
        tn_mig_welcome w;
        s.epoch = 1;
        err = greet(&s, TN_MIG_ROLE_MAIN, 0, tn_mig_deadline(s.o.reconnect_ms), &s.fd, &w);
        if (err != TERN_OK)
            fail(&s, "cannot reach the destination at %s: %s", endpoint, tern_strerror(err));
    }
    if (err == TERN_OK) {
        reader_start(&s);
        tn_trace(TERN_TRACE_MIGRATE, "source: migrating %zu bytes at %p to %s (%s)",
                 (size_t)stats->size, (void *)s.base, endpoint,
                 tern_migrate_strategy_name(strategy));
        err = run(&s, strategy, &stop_at);
    }
    if (!stats->total_ns)
        stats->total_ns = tern_clock_ns() - s.t0;
    for (uint32_t i = 0; i < stats->nrounds; i++)
        stats->zero_pages += stats->round[i].zero_pages;
    if (err != TERN_OK && !stats->error[0])
        fail(&s, "migration failed: %s", tern_strerror(err));
    if (s.tracker)
        tn_tracker_close(s.tracker);
    tn_arena_throttle(arena, 0);
    __atomic_store_n(&s.stopping, 1, __ATOMIC_RELEASE);
    urgent_close(&s);
    reader_stop(&s);
    /* Before the switch the source still owns the computation; after it,
     * the destination may run it, and only the operator may say otherwise. */
    stats->switched = s.switched && !(s.abort_why[0] && !s.committed);
    if (err != TERN_OK && !stats->switched)
        tn_arena_release(arena);
    if (err != TERN_OK && s.switched && !s.committed && !s.abort_why[0])
        snprintf(stats->error + strlen(stats->error), sizeof(stats->error) - strlen(stats->error),
                 "; switchover in doubt, the source stays stopped");
    tn_arena_unclaim(arena);
    for (frame *f = s.head; f; f = f->next)
        f->written = 1;
    release_acked(&s, UINT64_MAX);
    for (frame *f = s.spare; f;) {
        frame *n = f->next;
        frame_free(f);
        f = n;
    }
    free(s.sent);
    free(s.dirty);
    free(s.torn);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    progress(&s, "done", 1);
    return err;
}
