/* The ZMTP engine: runs one tcp/ipc connection on its socket's I/O thread.
 *
 * States: GREETING (64-byte greetings cross) -> HANDSHAKE (READY crosses,
 * socket types checked) -> ACTIVE (messages, PING/PONG) -> DEAD. Our
 * greeting and READY are queued at once, saving a round trip.
 *
 * The engine is also the pipe its socket sees. It is refcounted: one ref
 * for the I/O side until the connection dies, one for the socket while the
 * pipe is attached. The memory is always freed by a task on the loop, so
 * every task posted for the engine before the last ref went runs first.
 *
 * Reading belongs to whoever holds rlock: the loop, or (latency mode) an
 * application thread waiting in receive, which reads the connection
 * itself instead of waiting to be woken (pipe_poll). That thread only
 * decodes and queues; anything else the input asks for (a kill, a pause,
 * a timer) it leaves to the loop through reread_task. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/trace.h"
#include "msg/outbuf.h"
#include "msg/sock.h"
#include "wire/zmtp.h"

#define RBUF_SIZE 65536
/* Bodies at least this large are read straight into the message. */
#define DIRECT_READ_MIN 16384
/* After a message ending in such a body, the next read takes only this
 * much: enough for the next message's small frames and the big frame's
 * header, so its body is read straight into the message too instead of
 * into the read buffer and copied (one more read, one less 64 KiB copy).
 * When that message's layout is guessed (guess_layout), one readv does
 * both. */
#define HEADER_READ 512
/* After a layout guess missed, this many big messages go without one. */
#define GUESS_BACK_OFF 16
/* Bodies guessed at most this large: the body kept ready for the guess
 * stays with the connection for good. */
#define GUESS_MAX (256u << 10)
/* Bytes read per readiness event before yielding to other connections. */
#define READ_BUDGET (1u << 20)
/* Sends closer together than this are a burst: the loop batches them. */
#define DIRECT_GAP_NS 10000u

enum { ST_GREETING, ST_HANDSHAKE, ST_ACTIVE, ST_DEAD };

struct tn_engine {
    tn_pipe pipe; /* first: the socket's view */
    tn_ring ring;
    _Atomic int refs;
    tn_sock *sock;
    tn_loop *loop;
    tn_ep *ep;
    tn_ioh ioh;
    /* Under watchlock, a leaf: what the loop wants to hear about (written
     * by the loop only), whether the fd is in the loop's set, and whether a
     * waiting thread owns the input (then EPOLLIN is left out). */
    pthread_mutex_t watchlock;
    uint32_t want;
    int in_epoll;
    _Atomic int app_owned; /* read without watchlock by receivers */
    /* While the input is owned, the loop looks every LEND_CHECK_NS whether
     * the receiver left it unread for LEND_MAX_NS, and takes it back. */
    int lend_armed;
    tn_timer lend_timer;
    tn_task lend_task;
    /* When the last receiver left with the input still owned; 0 while one
     * reads it (or it is the loop's). */
    _Atomic uint64_t lent_ns;
    int state;
    int as_server;
    int attached;
    uint8_t greeting[TN_ZMTP_GREETING_SIZE];
    size_t greeting_got;
    int peer_minor;
    const char *why; /* set by sink callbacks on a protocol error */

    /* Recursive: the loop kills the engine from inside its own reads. */
    pthread_mutex_t rlock;
    uint8_t *rbuf;
    size_t roff, rlen;
    int big_last; /* the last message ended in a body of DIRECT_READ_MIN or more */
    /* The guess that the next message is laid out like that last one:
     * guess_prefix bytes of small frames and headers, then a last body of
     * guess_size bytes. In latency mode one readv then fills the read
     * buffer with the prefix and spare (one part of guess_size) with the
     * body, which the decoder adopts if the guess was right: one read per
     * message instead of two. (Streams keep two: reading exactly one
     * message per call there cost PUSH/PULL of 64 KiB a third of its rate,
     * in page faults.) 0: no guess. */
    size_t guess_prefix, guess_size;
    unsigned guess_off; /* big messages to go before guessing again */
    tern_msg *spare;
    size_t xoff, xlen; /* bytes read into spare and not yet fed */
    int x_fresh;       /* spare was just filled: the decoder may adopt it */
    int app_reading;   /* an application thread holds rlock (pipe_poll) */
    tern_err read_err; /* its decode failed: the loop reports it */
    tn_task reread_task;
    tn_task hb_arm_task;
    tn_zmtp_dec dec;
    tn_zmtp_sink sink; /* where the decoder hands messages and commands */
    uint64_t pushed;   /* messages handed to the socket since last notify */
    _Atomic int in_paused;
    _Atomic int resume_posted;
    int unwatched; /* removed from epoll while paused after HUP/ERR */
    tn_task resume_task;
    tn_ring shells; /* message memory handed back by the socket for reuse */

    pthread_mutex_t outlock;
    tn_outbuf fill;    /* application threads append here */
    tn_outbuf sending; /* the loop writes from here */
    size_t seg_i, seg_off;
    /* Messages queued minus messages written: each counter has one writer
     * (queued: application threads under the socket lock; sent: the loop),
     * so neither needs a read-modify-write. */
    _Atomic uint32_t out_queued;
    _Atomic uint32_t out_sent;
    _Atomic int flush_posted;
    int out_broken;
    /* Under outlock: the loop holds bytes to write (sending is not empty),
     * and the fd is still open. */
    int io_writing;
    int fd_open;
    int direct;              /* application threads may write to the fd themselves */
    uint64_t last_direct_ns; /* when a message last went that way (outlock) */
    tn_task flush_task;
    uint32_t hwm_out;
    tn_task kick_task;
    _Atomic int kicked;
    const char *kick_why;

    tn_timer handshake_timer;
    tn_timer hb_timer;
    uint64_t last_recv;
    uint64_t hb_ivl, hb_timeout, peer_ttl; /* ns; 0 = off */
    uint16_t ttl_ds;
    uint64_t handshake_ms;
    _Atomic unsigned pongs; /* PONGs queued since the last completed write */

    tn_task free_task;
    char endpoint[TN_ENDPOINT_MAX];
};

static void do_flush(tn_engine *e);
static int do_read(tn_engine *e);
static int pipe_poll(tn_pipe *p);
static void pipe_unpoll(tn_pipe *p);
static void pipe_lend(tn_pipe *p);
static int pipe_wait_fd(tn_pipe *p);
static void reread_task(void *arg);
static void hb_arm_task(void *arg);

static uint32_t out_pending(tn_engine *e)
{
    return atomic_load_explicit(&e->out_queued, memory_order_relaxed) -
           atomic_load_explicit(&e->out_sent, memory_order_relaxed);
}

/* ---- what the loop watches --------------------------------------------- */

static void apply_watch(tn_engine *e)
{
    if (e->in_epoll)
        tn_loop_rewatch(e->loop, &e->ioh, e->want & ~(e->app_owned ? (uint32_t)EPOLLIN : 0u));
}

/* The loop changes the events it wants. */
static void set_want(tn_engine *e, uint32_t want)
{
    pthread_mutex_lock(&e->watchlock);
    e->want = want;
    apply_watch(e);
    pthread_mutex_unlock(&e->watchlock);
}

/* Puts the fd in the loop's set (at start, and again after a HUP). */
static tern_err watch_fd(tn_engine *e, uint32_t want)
{
    pthread_mutex_lock(&e->watchlock);
    tern_err err = tn_loop_watch(e->loop, &e->ioh, want & ~(e->app_owned ? (uint32_t)EPOLLIN : 0u));
    if (err == TERN_OK) {
        e->want = want;
        e->in_epoll = 1;
    }
    pthread_mutex_unlock(&e->watchlock);
    return err;
}

static void unwatch_fd(tn_engine *e)
{
    pthread_mutex_lock(&e->watchlock);
    if (e->in_epoll)
        tn_loop_unwatch(e->loop, &e->ioh);
    e->in_epoll = 0;
    pthread_mutex_unlock(&e->watchlock);
}

/* A waiting thread takes the input over (the loop stops being woken for
 * data it would only find gone) or hands it back. Taking it starts the
 * loop's lend timer. Returns whether the fd is still in the loop's set
 * (alive): a dead one is not taken. */
static int own_input(tn_engine *e, int own)
{
    pthread_mutex_lock(&e->watchlock);
    int live = e->in_epoll, arm = 0;
    if (!own || live) {
        e->app_owned = own;
        apply_watch(e);
        arm = own && !e->lend_armed;
        if (arm)
            e->lend_armed = 1;
    }
    pthread_mutex_unlock(&e->watchlock);
    if (arm)
        tn_loop_post(e->loop, &e->lend_task);
    return live;
}

/* Receivers keep the input between calls (no epoll_ctl per call), but one
 * that does not come back must not leave PINGs and the end of the stream
 * unread: the loop takes the input back after LEND_MAX_NS. */
#define LEND_CHECK_NS 20000000u
#define LEND_MAX_NS 20000000u

static void lend_timer_fn(void *arg)
{
    tn_engine *e = arg;
    uint64_t now = tern_clock_ns();
    pthread_mutex_lock(&e->watchlock);
    uint64_t lent = atomic_load(&e->lent_ns);
    if (e->app_owned && lent && now - lent >= LEND_MAX_NS) {
        e->app_owned = 0;
        atomic_store(&e->lent_ns, 0);
        apply_watch(e);
    }
    int again = e->app_owned && e->state != ST_DEAD;
    if (!again)
        e->lend_armed = 0;
    pthread_mutex_unlock(&e->watchlock);
    if (again)
        tn_timer_arm(e->loop, &e->lend_timer, now + LEND_CHECK_NS);
}

static void lend_task(void *arg)
{
    tn_engine *e = arg;
    if (e->state != ST_DEAD && !e->lend_timer.slot)
        tn_timer_arm(e->loop, &e->lend_timer, tern_clock_ns() + LEND_CHECK_NS);
}

/* ---- lifetime ---------------------------------------------------------- */

static void engine_free(void *arg)
{
    tn_engine *e = arg;
    if (e->direct)
        tn_loop_spin(e->loop, -1);
    tn_zmtp_dec_fini(&e->dec);
    tn_ring_fini(&e->ring);
    tn_ring_fini(&e->shells);
    tn_outbuf_fini(&e->fill);
    tn_outbuf_fini(&e->sending);
    pthread_mutex_destroy(&e->outlock);
    pthread_mutex_destroy(&e->rlock);
    pthread_mutex_destroy(&e->watchlock);
    free(e->rbuf);
    tern_msg_free(e->spare);
    free(e);
}

static void engine_unref(tn_engine *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1)
        tn_loop_post(e->loop, &e->free_task);
}

void tn_engine_kill(tn_engine *e, const char *why)
{
    if (e->state == ST_DEAD)
        return;
    int was_ready = e->state == ST_ACTIVE;
    /* A waiting thread may be reading the fd: it must see the engine dead
     * before the fd number can be reused. */
    pthread_mutex_lock(&e->rlock);
    e->state = ST_DEAD;
    unwatch_fd(e);
    pthread_mutex_lock(&e->outlock);
    e->fd_open = 0;
    pthread_mutex_unlock(&e->outlock);
    close(e->ioh.fd);
    pthread_mutex_unlock(&e->rlock);
    tn_timer_cancel(e->loop, &e->handshake_timer);
    tn_timer_cancel(e->loop, &e->hb_timer);
    tn_timer_cancel(e->loop, &e->lend_timer);
    uint32_t lost = out_pending(e);
    if (lost > 0)
        tn_trace(TERN_TRACE_MSG, "%s: peer %s: %u queued message(s) not delivered", e->endpoint,
                 e->pipe.peer, lost);
    tn_trace(TERN_TRACE_WIRE, "%s: peer %s dropped%s: %s", e->endpoint, e->pipe.peer,
             was_ready ? "" : " during the handshake", why);
    /* Counted before the peer leaves the socket's list, so a caller that
     * sees one peer fewer also sees the disconnect. */
    tn_sock_event(e->sock, was_ready ? TERN_EV_DISCONNECTED : TERN_EV_HANDSHAKE_FAILED, lost,
                  e->endpoint, e->pipe.peer, why);
    if (e->attached) {
        pthread_mutex_lock(&e->sock->lock);
        if (e->sock->closing) {
            e->sock->dropped += lost;
        } else if (lost > 0) {
            /* Lost with the connection: counted, never silent. */
            e->sock->drops += lost;
            e->pipe.drops += lost;
        }
        tn_sock_pipe_dead(e->sock, &e->pipe);
        pthread_mutex_unlock(&e->sock->lock);
    }
    tn_ep_engine_gone(e->ep, e, was_ready);
    engine_unref(e);
}

/* ---- the pipe the socket sees ------------------------------------------ */

static int pipe_writable(tn_pipe *p)
{
    return out_pending((tn_engine *)p) < ((tn_engine *)p)->hwm_out;
}

/* After appending under outlock: count it and make sure a flush runs. */
static void queued(tn_engine *e, uint32_t msgs)
{
    if (msgs) {
        uint32_t q = atomic_load_explicit(&e->out_queued, memory_order_relaxed);
        atomic_store_explicit(&e->out_queued, q + msgs, memory_order_relaxed);
    }
    /* Plain load first: while a flush is pending this costs no atomic RMW. */
    if (!atomic_load_explicit(&e->flush_posted, memory_order_relaxed) &&
        !atomic_exchange(&e->flush_posted, 1))
        tn_loop_post(e->loop, &e->flush_task);
}

/* REQ and REP have one message in flight per peer, so nothing is gained
 * by batching (nor for sockets set to busy-poll, which ask for latency):
 * when the loop has nothing left to write, the caller writes the message
 * itself, saving the I/O thread's wake-up (a third of the latency of a
 * round trip). Under outlock; returns the messages still
 * queued for the loop (0 when all went out). */
static uint32_t write_direct(tn_engine *e)
{
    uint32_t msgs = e->fill.msgs;
    /* Only the caller's own message: others queued before it are counted
     * for the loop, which must be the one to account for them. */
    if (!e->fd_open || e->io_writing || e->out_broken || msgs != 1)
        return msgs;
    /* Messages closer together than this are a burst, which the loop
     * writes in batches far cheaper than a syscall each. */
    uint64_t now = tern_clock_ns();
    uint64_t last = e->last_direct_ns;
    e->last_direct_ns = now;
    if (now - last < DIRECT_GAP_NS)
        return msgs;
    struct iovec iov[16];
    int n = tn_outbuf_iov(&e->fill, 0, 0, iov, 16);
    if ((size_t)n != e->fill.nsegs)
        return msgs;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(e->ioh.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w <= 0)
        return msgs; /* the loop will retry and report errors */
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if ((size_t)w == total) {
        tn_outbuf_reset(&e->fill);
        atomic_store(&e->pongs, 0); /* any PONG queued went out too */
        return 0;
    }
    tn_outbuf_consume(&e->fill, (size_t)w);
    return msgs;
}

static void pipe_write(tn_pipe *p, tern_msg *m)
{
    tn_engine *e = (tn_engine *)p;
    uint32_t msgs = 1;
    pthread_mutex_lock(&e->outlock);
    if (tn_outbuf_msg(&e->fill, m) != TERN_OK) {
        e->out_broken = 1;
        tern_msg_free(m);
    } else if (e->direct) {
        msgs = write_direct(e);
    }
    pthread_mutex_unlock(&e->outlock);
    if (msgs)
        queued(e, 1);
}

static tern_err pipe_write_bytes(tn_pipe *p, const void *data, size_t len)
{
    tn_engine *e = (tn_engine *)p;
    pthread_mutex_lock(&e->outlock);
    /* Wait (the flush of those messages will notify) rather than grow the
     * copy buffer without bound; protocol bytes alone never make us wait. */
    tern_err err = e->fill.msgs > 0 && e->fill.len + len > TN_OUTBUF_MAX_BYTES
                       ? TERN_EAGAIN
                       : tn_outbuf_copy(&e->fill, data, len);
    uint32_t msgs = 1;
    if (err == TERN_OK && e->direct)
        msgs = write_direct(e);
    pthread_mutex_unlock(&e->outlock);
    if (err != TERN_OK)
        return err;
    if (msgs)
        queued(e, 1);
    return TERN_OK;
}

static uint32_t pipe_pending(tn_pipe *p)
{
    return out_pending((tn_engine *)p);
}

static void pipe_read_done(tn_pipe *p)
{
    tn_engine *e = (tn_engine *)p;
    /* Pairs with the engine storing in_paused before re-reading head. */
    atomic_thread_fence(memory_order_seq_cst);
    /* Resume at half the mark, not per message: one wake-up per batch. */
    if (atomic_load_explicit(&e->in_paused, memory_order_relaxed) &&
        tn_ring_count(&e->ring) <= e->ring.hwm / 2 && !atomic_exchange(&e->resume_posted, 1))
        tn_loop_post(e->loop, &e->resume_task);
}

static void pipe_recycle(tn_pipe *p, tern_msg *m)
{
    tn_engine *e = (tn_engine *)p;
    if (tn_msg_is_shell(m) && !tn_ring_full(&e->shells))
        tn_ring_push(&e->shells, m);
    else
        tern_msg_free(m);
}

static tern_msg *take_shell(void *arg)
{
    return tn_ring_pop(&((tn_engine *)arg)->shells);
}

static void pipe_release(tn_pipe *p)
{
    engine_unref((tn_engine *)p);
}

/* To a ZMTP 3.1 peer a SUBSCRIBE or CANCEL command; to a 3.0 peer the
 * message form, "\x01topic" or "\x00topic". */
static tern_err pipe_subscribe(tn_pipe *p, int on, const uint8_t *topic, size_t len)
{
    tn_engine *e = (tn_engine *)p;
    uint8_t hdr[9 + 1 + 9];
    size_t hl;
    if (e->peer_minor >= 1) {
        const char *name = on ? "SUBSCRIBE" : "CANCEL";
        size_t nl = strlen(name);
        hl = tn_zmtp_frame_header(hdr, TN_ZMTP_COMMAND, 1 + nl + len);
        hdr[hl++] = (uint8_t)nl;
        memcpy(hdr + hl, name, nl);
        hl += nl;
    } else {
        hl = tn_zmtp_frame_header(hdr, 0, 1 + len);
        hdr[hl++] = (uint8_t)(on != 0);
    }
    pthread_mutex_lock(&e->outlock);
    tern_err err = tn_outbuf_bytes(&e->fill, hdr, hl);
    if (err == TERN_OK && len > 0)
        err = tn_outbuf_bytes(&e->fill, topic, len);
    if (err != TERN_OK)
        e->out_broken = 1;
    pthread_mutex_unlock(&e->outlock);
    queued(e, 0);
    return err;
}

static void kick_task(void *arg)
{
    tn_engine *e = arg;
    tn_engine_kill(e, e->kick_why);
}

static void pipe_disconnect(tn_pipe *p, const char *why)
{
    tn_engine *e = (tn_engine *)p;
    /* The socket's ref keeps e alive until this task has run: the free
     * task is posted after it. */
    if (!atomic_exchange(&e->kicked, 1)) {
        e->kick_why = why;
        tn_loop_post(e->loop, &e->kick_task);
    }
}

static const tn_pipe_ops engine_pipe_ops = {
    .writable = pipe_writable,
    .write = pipe_write,
    .write_bytes = pipe_write_bytes,
    .pending = pipe_pending,
    .read_done = pipe_read_done,
    .recycle = pipe_recycle,
    .release = pipe_release,
    .subscribe = pipe_subscribe,
    .disconnect = pipe_disconnect,
    .poll = pipe_poll,
    .unpoll = pipe_unpoll,
    .lend = pipe_lend,
    .wait_fd = pipe_wait_fd,
};

/* ---- writing ----------------------------------------------------------- */

/* Queues protocol bytes (greeting, commands) from the loop thread. */
static void queue_control(tn_engine *e, const void *data, size_t len)
{
    pthread_mutex_lock(&e->outlock);
    if (tn_outbuf_bytes(&e->fill, data, len) != TERN_OK)
        e->out_broken = 1;
    pthread_mutex_unlock(&e->outlock);
    queued(e, 0);
}

static void watch_out(tn_engine *e, int on)
{
    if (e->unwatched) {
        /* Writing still matters after HUP (it reports the error). */
        if (on && watch_fd(e, EPOLLOUT) == TERN_OK)
            e->unwatched = 0;
        return;
    }
    set_want(e, (e->want & ~(uint32_t)EPOLLOUT) | (on ? EPOLLOUT : 0));
}

static void sent_all(tn_engine *e)
{
    uint32_t msgs = e->sending.msgs;
    if (e->sending.nsegs > 0)
        atomic_store(&e->pongs, 0);
    tn_outbuf_reset(&e->sending);
    e->seg_i = e->seg_off = 0;
    if (msgs > 0) {
        atomic_store_explicit(&e->out_sent, atomic_load(&e->out_sent) + msgs, memory_order_release);
        tn_sock_notify(e->sock);
    }
}

static void do_flush(tn_engine *e)
{
    struct iovec iov[64];
    int wrote = 0, yielded = 0;
    while (e->state != ST_DEAD) {
        if (e->seg_i == e->sending.nsegs) {
            sent_all(e);
            pthread_mutex_lock(&e->outlock);
            tn_outbuf swap = e->fill;
            e->fill = e->sending;
            e->sending = swap;
            e->io_writing = e->sending.nsegs > 0;
            int broken = e->out_broken;
            pthread_mutex_unlock(&e->outlock);
            if (broken) {
                tn_engine_kill(e, "out of memory queueing a message");
                return;
            }
            if (e->sending.nsegs == 0 && wrote && !yielded) {
                /* A producer that is streaming will have queued more by the
                 * time we are scheduled again: one yield here saves it a
                 * wake-up (a syscall and a context switch) per batch. */
                yielded = 1;
                sched_yield();
                continue;
            }
            if (e->sending.nsegs == 0) {
                atomic_store(&e->flush_posted, 0);
                pthread_mutex_lock(&e->outlock);
                int more = e->fill.nsegs > 0;
                pthread_mutex_unlock(&e->outlock);
                if (!more || atomic_exchange(&e->flush_posted, 1)) {
                    watch_out(e, 0);
                    return;
                }
                continue;
            }
        }
        int n = tn_outbuf_iov(&e->sending, e->seg_i, e->seg_off, iov, 64);
        /* sendmsg, not writev: a peer that reset must not raise SIGPIPE. */
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(e->ioh.fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                watch_out(e, 1);
                return;
            }
            char why[96];
            snprintf(why, sizeof(why), "write failed: %s", strerror(errno));
            tn_engine_kill(e, why);
            return;
        }
        size_t left = (size_t)w;
        wrote = 1;
        while (left > 0) {
            tn_seg *s = &e->sending.segs[e->seg_i];
            size_t rem = s->len - e->seg_off;
            if (left < rem) {
                e->seg_off += left;
                break;
            }
            left -= rem;
            tern_msg_free(s->owner);
            s->owner = NULL;
            e->seg_i++;
            e->seg_off = 0;
        }
    }
}

static void flush_task(void *arg)
{
    tn_engine *e = arg;
    if (e->state == ST_DEAD) {
        atomic_store(&e->flush_posted, 0);
        return;
    }
    /* While EPOLLOUT is armed the loop resumes the flush itself. */
    if (!(e->want & EPOLLOUT))
        do_flush(e);
}

/* ---- handshake and commands -------------------------------------------- */

static int type_ok(const tn_pattern *pat, int peer)
{
    return peer >= 0 && (pat->peers & (1u << peer));
}

static void refuse(tn_engine *e, const char *error, const char *why)
{
    uint8_t buf[300];
    size_t n = tn_zmtp_error_build(buf, sizeof(buf), error);
    queue_control(e, buf, n);
    do_flush(e);
    tn_engine_kill(e, why);
}

static int is_publisher(const tn_engine *e)
{
    return e->sock->pat->type == TERN_PUB || e->sock->pat->type == TERN_XPUB;
}

static tern_err on_ready(tn_engine *e, const tn_zmtp_command *cmd)
{
    tn_zmtp_props props;
    const char *why = NULL;
    if (tn_zmtp_props_parse(cmd->data, cmd->data_len, &props, &why) != TERN_OK) {
        e->why = why;
        return TERN_EPROTO;
    }
    int peer = tn_pattern_type_by_name(props.socket_type, props.socket_type_len);
    const tn_pattern *pat = e->sock->pat;
    if (!type_ok(pat, peer)) {
        char reason[128];
        snprintf(reason, sizeof(reason),
                 "handshake failed: peer socket type %.*s cannot talk to %s",
                 (int)(props.socket_type_len > 16 ? 16 : props.socket_type_len),
                 (const char *)props.socket_type, pat->name);
        refuse(e, "Invalid socket type", reason);
        return TERN_EINCOMPAT;
    }
    e->pipe.peer_type = peer;
    e->pipe.rid_len = (uint8_t)props.identity_len;
    if (props.identity_len)
        memcpy(e->pipe.rid, props.identity, props.identity_len);
    pthread_mutex_lock(&e->sock->lock);
    tern_err err = tn_sock_attach(e->sock, &e->pipe);
    if (err == TERN_OK) {
        atomic_fetch_add(&e->refs, 1);
        e->attached = 1;
        /* Counted with the attach, so peers and handshakes agree. */
        tn_sock_event(e->sock, TERN_EV_HANDSHAKE_OK, 0, e->endpoint, e->pipe.peer, NULL);
        /* A SUBSCRIBE may carry a topic as long as a message; before the
         * handshake, and for other types, commands stay small. */
        if (is_publisher(e))
            e->dec.cmd_max = e->dec.max_msg + TN_ZMTP_COMMAND_NAME_MAX;
    }
    pthread_mutex_unlock(&e->sock->lock);
    if (err != TERN_OK) {
        const char *error = "Socket closing", *reason = "handshake failed: socket is closing";
        if (err == TERN_ESTATE) {
            error = "Socket already has a peer";
            reason = "handshake failed: socket already has its one peer";
        } else if (err == TERN_EEXIST) {
            error = "Routing id in use";
            reason = "handshake failed: routing id already in use";
        } else if (err == TERN_ENOMEM) {
            error = "Out of memory";
            reason = "handshake failed: out of memory";
        }
        refuse(e, error, reason);
        return err;
    }
    e->state = ST_ACTIVE;
    tn_timer_cancel(e->loop, &e->handshake_timer);
    if (e->hb_ivl && e->peer_minor >= 1)
        tn_timer_arm(e->loop, &e->hb_timer, tern_clock_ns() + e->hb_ivl);
    tn_trace(TERN_TRACE_WIRE, "%s: peer %s ready (ZMTP 3.%d, %s)", e->endpoint, e->pipe.peer,
             e->peer_minor, pat->name);
    return TERN_OK;
}

/* A peer's subscription, in either form. */
static tern_err peer_subscribed(tn_engine *e, int on, const uint8_t *topic, size_t len)
{
    pthread_mutex_lock(&e->sock->lock);
    tern_err err = tn_sock_peer_sub(e->sock, &e->pipe, on, topic, len);
    pthread_mutex_unlock(&e->sock->lock);
    if (err == TERN_EMSGSIZE)
        e->why = "subscriptions exceed 16 MiB";
    else if (err != TERN_OK)
        e->why = "out of memory storing a subscription";
    return err;
}

static tern_err on_command(void *arg, const uint8_t *body, size_t len)
{
    tn_engine *e = arg;
    tn_zmtp_command cmd;
    if (tn_zmtp_command_parse(body, len, &cmd) != TERN_OK) {
        e->why = "malformed command name";
        return TERN_EPROTO;
    }
    if (tn_zmtp_command_is(&cmd, "ERROR")) {
        e->why = "peer sent ERROR";
        return TERN_EPROTO;
    }
    if (e->state == ST_HANDSHAKE) {
        if (!tn_zmtp_command_is(&cmd, "READY")) {
            e->why = "expected READY during the handshake";
            return TERN_EPROTO;
        }
        return on_ready(e, &cmd);
    }
    if (tn_zmtp_command_is(&cmd, "PING")) {
        if (cmd.data_len < 2) {
            e->why = "malformed PING";
            return TERN_EPROTO;
        }
        uint16_t ttl = (uint16_t)(cmd.data[0] << 8 | cmd.data[1]);
        e->peer_ttl = (uint64_t)ttl * 100000000u;
        size_t clen = cmd.data_len - 2;
        /* A peer that pings without reading must not grow our memory: past a
         * few unanswered PONGs, further PINGs only count as liveness. */
        if (atomic_fetch_add(&e->pongs, 1) >= 16)
            return TERN_OK;
        uint8_t pong[32];
        size_t n =
            tn_zmtp_pong_build(pong, sizeof(pong), cmd.data + 2,
                               clen > TN_ZMTP_PING_CONTEXT_MAX ? TN_ZMTP_PING_CONTEXT_MAX : clen);
        queue_control(e, pong, n);
        if (e->app_reading)
            tn_loop_post(e->loop, &e->hb_arm_task); /* timers are the loop's */
        else if (e->peer_ttl && !e->hb_timer.slot)
            tn_timer_arm(e->loop, &e->hb_timer, tern_clock_ns() + e->peer_ttl);
    } else if (tn_zmtp_command_is(&cmd, "READY")) {
        e->why = "READY after the handshake";
        return TERN_EPROTO;
    } else if (is_publisher(e) &&
               (tn_zmtp_command_is(&cmd, "SUBSCRIBE") || tn_zmtp_command_is(&cmd, "CANCEL"))) {
        return peer_subscribed(e, tn_zmtp_command_is(&cmd, "SUBSCRIBE"), cmd.data, cmd.data_len);
    }
    /* PONG only proves liveness (any input does); unknown commands are
     * ignored as the spec asks, for forward compatibility. */
    return TERN_OK;
}

/* Bytes of a frame header for a body of size bytes. */
static size_t frame_header(size_t size)
{
    return size > 255 ? 9 : 2;
}

/* Remembers how m lay on the wire, if it ended in a big body. */
static void guess_layout(tn_engine *e, const tern_msg *m)
{
    size_t last = m->parts[m->nparts - 1].size;
    e->big_last = last >= DIRECT_READ_MIN;
    e->guess_prefix = 0;
    if (!e->big_last || !e->direct || last > GUESS_MAX)
        return;
    if (e->guess_off > 0) {
        e->guess_off--;
        return;
    }
    size_t prefix = frame_header(last);
    for (uint32_t i = 0; i + 1 < m->nparts && prefix <= HEADER_READ; i++)
        prefix += frame_header(m->parts[i].size) + m->parts[i].size;
    if (prefix > HEADER_READ)
        return;
    e->guess_prefix = prefix;
    e->guess_size = last;
}

static int on_message(void *arg, tern_msg *m)
{
    tn_engine *e = arg;
    if (e->state != ST_ACTIVE) {
        tern_msg_free(m);
        e->why = "message before the handshake finished";
        return 1;
    }
    if (is_publisher(e)) {
        const tn_part *p0 = &m->parts[0];
        if (m->nparts == 1 && p0->size >= 1 && p0->data[0] <= 1) {
            tern_err err = peer_subscribed(e, p0->data[0], p0->data + 1, p0->size - 1);
            tern_msg_free(m);
            return err != TERN_OK;
        }
        if (e->sock->pat->type == TERN_PUB) {
            /* A PUB has nobody to hand it to. */
            tn_trace(TERN_TRACE_MSG, "%s: peer %s: message to a PUB ignored", e->endpoint,
                     e->pipe.peer);
            tern_msg_free(m);
            return 0;
        }
    }
    guess_layout(e, m);
    tn_ring_push(&e->ring, m);
    e->pushed++;
    return tn_ring_full(&e->ring);
}

static void hb_arm_task(void *arg)
{
    tn_engine *e = arg;
    pthread_mutex_lock(&e->rlock);
    if (e->state != ST_DEAD && e->peer_ttl && !e->hb_timer.slot)
        tn_timer_arm(e->loop, &e->hb_timer, tern_clock_ns() + e->peer_ttl);
    pthread_mutex_unlock(&e->rlock);
}

static void hb_check(tn_engine *e)
{
    uint64_t now = tern_clock_ns();
    uint64_t limit = 0;
    if (e->hb_ivl && e->hb_timeout)
        limit = e->hb_timeout;
    if (e->peer_ttl && (limit == 0 || e->peer_ttl < limit))
        limit = e->peer_ttl;
    /* While paused we do not read, so silence proves nothing. */
    if (atomic_load(&e->in_paused))
        e->last_recv = now;
    if (limit && now - e->last_recv > limit) {
        char why[80];
        snprintf(why, sizeof(why), "heartbeat timeout (peer silent for %llu ms)",
                 (unsigned long long)((now - e->last_recv) / 1000000));
        tn_engine_kill(e, why);
        return;
    }
    uint64_t next = limit ? e->last_recv + limit + 1 : now + e->hb_ivl;
    if (e->hb_ivl && e->peer_minor >= 1) {
        uint8_t ping[32];
        size_t n = tn_zmtp_ping_build(ping, sizeof(ping), e->ttl_ds, NULL, 0);
        queue_control(e, ping, n);
        if (now + e->hb_ivl < next)
            next = now + e->hb_ivl;
    }
    tn_timer_arm(e->loop, &e->hb_timer, next);
}

static void hb_timer_fn(void *arg)
{
    tn_engine *e = arg;
    pthread_mutex_lock(&e->rlock); /* last_recv and peer_ttl are the reader's */
    hb_check(e);
    pthread_mutex_unlock(&e->rlock);
}

static void handshake_timer_fn(void *arg)
{
    tn_engine *e = arg;
    char why[64];
    snprintf(why, sizeof(why), "handshake not finished within %llu ms",
             (unsigned long long)e->handshake_ms);
    tn_engine_kill(e, why);
}

/* ---- reading ----------------------------------------------------------- */

/* Stops reading while the ring is full. Returns 0 if reading stays paused,
 * 1 if the consumer made room meanwhile (then reading goes on). */
static int pause_reading(tn_engine *e)
{
    if (e->app_reading) {
        /* Only the loop may stop watching the fd. */
        tn_loop_post(e->loop, &e->reread_task);
        return 0;
    }
    atomic_store(&e->in_paused, 1);
    set_want(e, e->want & ~(uint32_t)EPOLLIN);
    /* The consumer may have drained the ring before it could see the flag. */
    if (tn_ring_full(&e->ring))
        return 0;
    atomic_store(&e->in_paused, 0);
    set_want(e, e->want | EPOLLIN);
    return 1;
}

static void decode_failed(tn_engine *e, tern_err err)
{
    if (e->app_reading) {
        e->read_err = err;
        tn_loop_post(e->loop, &e->reread_task);
        return;
    }
    char why[160];
    if (err == TERN_EMSGSIZE && e->why == NULL)
        snprintf(why, sizeof(why), "frame of %llu bytes exceeds the maximum message size (%llu)",
                 (unsigned long long)e->dec.size, (unsigned long long)e->dec.max_msg);
    else
        snprintf(why, sizeof(why), "%s: %s", tern_errname(err), e->why ? e->why : e->dec.why);
    if (e->state != ST_DEAD)
        tn_engine_kill(e, why);
}

/* Decodes buf[*off, len), moving *off. Returns 0 if reading should stop
 * (paused, or the engine died). */
static int feed_from(tn_engine *e, const uint8_t *buf, size_t *off, size_t len)
{
    while (*off < len) {
        size_t used;
        int paused;
        tern_err err = tn_zmtp_dec_feed(&e->dec, buf + *off, len - *off, &used, &e->sink, &paused);
        *off += used;
        if (e->state == ST_DEAD)
            return 0;
        if (err != TERN_OK || e->why) {
            decode_failed(e, err != TERN_OK ? err : TERN_EPROTO);
            return 0;
        }
        if (paused && !pause_reading(e))
            return 0;
    }
    return 1;
}

/* Bytes a guessed read put into spare: adopted as the body they were
 * guessed to be, or else fed like any others. Returns 0 if reading should
 * stop (paused, or the engine died). */
static int feed_spare(tn_engine *e)
{
    if (e->x_fresh) {
        e->x_fresh = 0;
        if (tn_zmtp_dec_adopt(&e->dec, e->spare)) {
            int paused;
            tn_zmtp_dec_wrote(&e->dec, e->xlen, &e->sink, &paused);
            e->xoff = e->xlen;
            if (e->why) {
                decode_failed(e, TERN_EPROTO);
                return 0;
            }
            return !paused || pause_reading(e);
        }
        e->guess_off = GUESS_BACK_OFF;
    }
    return feed_from(e, tern_msg_data(e->spare, 0), &e->xoff, e->xlen);
}

/* Feeds buffered bytes to the decoder: the read buffer's, then spare's.
 * Returns 0 if reading should stop (paused, or the engine died). */
static int feed(tn_engine *e)
{
    if (e->read_err) {
        decode_failed(e, e->read_err);
        return 0;
    }
    return feed_from(e, e->rbuf, &e->roff, e->rlen) && (e->xoff == e->xlen || feed_spare(e));
}

/* The read after a big message, when its layout is guessed: the prefix
 * into the read buffer, the big body into spare. */
static ssize_t read_guessed(tn_engine *e)
{
    if (e->spare != NULL && tern_msg_size(e->spare, 0) != e->guess_size) {
        tern_msg_free(e->spare);
        e->spare = NULL;
    }
    if (e->spare == NULL && (tern_msg_new(&e->spare) != TERN_OK ||
                             tn_msg_append_alloc(e->spare, e->guess_size, NULL) != TERN_OK)) {
        tern_msg_free(e->spare);
        e->spare = NULL;
        return read(e->ioh.fd, e->rbuf, HEADER_READ);
    }
    struct iovec iov[2] = {{e->rbuf, e->guess_prefix}, {tern_msg_data(e->spare, 0), e->guess_size}};
    ssize_t n = readv(e->ioh.fd, iov, 2);
    if (n > (ssize_t)e->guess_prefix) {
        e->xoff = 0;
        e->xlen = (size_t)n - e->guess_prefix;
        e->x_fresh = 1;
    }
    return n > (ssize_t)e->guess_prefix ? (ssize_t)e->guess_prefix : n;
}

static int greeting_step(tn_engine *e, const uint8_t *data, size_t len, size_t *used)
{
    size_t n = TN_ZMTP_GREETING_SIZE - e->greeting_got;
    if (n > len)
        n = len;
    memcpy(e->greeting + e->greeting_got, data, n);
    e->greeting_got += n;
    *used = n;
    tn_zmtp_greeting g;
    const char *why = NULL;
    tern_err err = tn_zmtp_greeting_check(e->greeting, e->greeting_got, &g, &why);
    if (err == TERN_EAGAIN)
        return 1;
    if (err != TERN_OK) {
        char buf[128];
        snprintf(buf, sizeof(buf), "bad greeting: %s", why);
        tn_engine_kill(e, buf);
        return 0;
    }
    /* A newer major version must talk 3.1 to us; 3.0 lacks heartbeats. */
    e->peer_minor = g.major > 3 ? 1 : g.minor;
    e->state = ST_HANDSHAKE;
    return 1;
}

/* The input ended or failed. A waiting thread leaves it to the loop, which
 * reads the same end again (a reset reads as a close the second time). */
static void input_lost(tn_engine *e, const char *why)
{
    if (e->app_reading)
        tn_loop_post(e->loop, &e->reread_task);
    else
        tn_engine_kill(e, why);
}

/* Wakes the socket's waiters once for the messages just queued; returns
 * nonzero if there were any. */
static int announce(tn_engine *e)
{
    if (!e->pushed)
        return 0;
    e->pushed = 0;
    tn_sock_notify(e->sock);
    return 1;
}

/* Reads and decodes until the fd runs dry, the ring fills or the budget is
 * spent; a waiting thread stops at its first message. Only read_input
 * calls it, after feed (which reports a failed decode). Under rlock.
 * Returns nonzero if a message was queued. */
static int do_read(tn_engine *e)
{
    size_t total = 0;
    while (e->state != ST_DEAD && !atomic_load(&e->in_paused) && total < READ_BUDGET &&
           !(e->app_reading && e->pushed)) {
        uint8_t *dst;
        size_t want =
            e->roff == e->rlen && e->xoff == e->xlen ? tn_zmtp_dec_direct(&e->dec, &dst) : 0;
        ssize_t n;
        if (want >= DIRECT_READ_MIN) {
            n = read(e->ioh.fd, dst, want);
            if (n > 0) {
                int paused;
                tn_zmtp_dec_wrote(&e->dec, (size_t)n, &e->sink, &paused);
                if (e->why) {
                    decode_failed(e, TERN_EPROTO);
                    break;
                }
                if (paused && !pause_reading(e))
                    break;
            }
        } else {
            if (e->roff == e->rlen)
                e->roff = e->rlen = 0;
            size_t room = RBUF_SIZE - e->rlen;
            if (e->big_last && e->rlen == 0)
                room = HEADER_READ;
            if (e->guess_prefix && e->rlen == 0 && e->state == ST_ACTIVE &&
                tn_zmtp_dec_between(&e->dec))
                n = read_guessed(e);
            else
                n = read(e->ioh.fd, e->rbuf + e->rlen, room);
            if (n > 0) {
                e->rlen += (size_t)n;
                if (e->state == ST_GREETING) {
                    size_t used;
                    if (!greeting_step(e, e->rbuf + e->roff, e->rlen - e->roff, &used))
                        break;
                    e->roff += used;
                }
                if (e->state != ST_GREETING && !feed(e))
                    break;
            }
        }
        if (n == 0) {
            input_lost(e, "connection closed by peer");
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                char why[96];
                snprintf(why, sizeof(why), "read failed: %s", strerror(errno));
                input_lost(e, why);
            }
            break;
        }
        total += (size_t)n;
        e->last_recv = tern_clock_ns();
    }
    return announce(e);
}

/* Every read starts here (under rlock): a full ring pauses first (the
 * other reader may have filled it), bytes left in the read buffer are fed
 * before more are read, and whatever was queued is announced. Returns
 * nonzero if a message was queued. */
static int read_input(tn_engine *e)
{
    if (e->state == ST_DEAD)
        return 0;
    if ((!tn_ring_full(&e->ring) || pause_reading(e)) && feed(e))
        return do_read(e);
    return announce(e);
}

/* The loop takes over input a waiting thread left to it: a failed decode
 * to report, a full ring to pause on, an end of stream to see. */
static void reread_task(void *arg)
{
    tn_engine *e = arg;
    pthread_mutex_lock(&e->rlock);
    if (!atomic_load(&e->in_paused))
        read_input(e);
    pthread_mutex_unlock(&e->rlock);
}

/* Latency mode: the thread waiting in receive reads the connection itself,
 * saving the I/O thread's read and the wake-up that hands the message
 * over (two threads spinning on the CPUs instead of four). Called under
 * s->lock, which the loop may be waiting for while it holds rlock: hence
 * trylock. Returns nonzero if a message was queued. */
static int pipe_poll(tn_pipe *p)
{
    tn_engine *e = (tn_engine *)p;
    /* A publisher's input changes subscriptions under s->lock. */
    if (!e->direct || is_publisher(e) || pthread_mutex_trylock(&e->rlock) != 0)
        return 0;
    int got = 0;
    if (e->state == ST_ACTIVE && !e->read_err && !atomic_load(&e->in_paused) &&
        !tn_ring_full(&e->ring)) {
        atomic_store_explicit(&e->lent_ns, 0, memory_order_relaxed);
        if (!e->app_owned)
            own_input(e, 1);
        e->app_reading = 1;
        got = read_input(e);
        e->app_reading = 0;
    }
    pthread_mutex_unlock(&e->rlock);
    return got;
}

static int pipe_wait_fd(tn_pipe *p)
{
    tn_engine *e = (tn_engine *)p;
    if (!e->direct || is_publisher(e))
        return -1;
    /* Not while paused (the fd would stay readable and the sleeper awake)
     * or failed: the loop reads then. */
    if (e->read_err || atomic_load(&e->in_paused)) {
        if (e->app_owned)
            own_input(e, 0);
        return -1;
    }
    atomic_store_explicit(&e->lent_ns, 0, memory_order_relaxed);
    return own_input(e, 1) ? e->ioh.fd : -1;
}

/* The waiting thread stops reading: the loop watches the input again. */
static void pipe_unpoll(tn_pipe *p)
{
    tn_engine *e = (tn_engine *)p;
    if (e->app_owned)
        own_input(e, 0);
}

/* The receiver leaves with a message: it keeps the input for its next
 * receive, and the loop takes it back if that does not come soon. */
static void pipe_lend(tn_pipe *p)
{
    tn_engine *e = (tn_engine *)p;
    if (e->app_owned)
        atomic_store_explicit(&e->lent_ns, tern_clock_ns(), memory_order_relaxed);
}

static void resume_reading(tn_engine *e)
{
    if (e->state == ST_DEAD || !atomic_load(&e->in_paused) || tn_ring_full(&e->ring))
        return;
    atomic_store(&e->in_paused, 0);
    e->last_recv = tern_clock_ns();
    if (e->unwatched) {
        e->unwatched = 0;
        if (watch_fd(e, EPOLLIN) != TERN_OK) {
            tn_engine_kill(e, "cannot watch the connection again");
            return;
        }
    } else {
        set_want(e, e->want | EPOLLIN);
    }
    read_input(e);
}

static void resume_task(void *arg)
{
    tn_engine *e = arg;
    atomic_store(&e->resume_posted, 0);
    pthread_mutex_lock(&e->rlock);
    resume_reading(e);
    pthread_mutex_unlock(&e->rlock);
}

static void on_io(void *arg, uint32_t events)
{
    tn_engine *e = arg;
    if ((events & (EPOLLHUP | EPOLLERR)) && atomic_load(&e->in_paused) && !(events & EPOLLOUT)) {
        /* Level-triggered HUP/ERR would fire forever while we cannot read:
         * stop watching until the application makes room. */
        unwatch_fd(e);
        e->unwatched = 1;
        return;
    }
    if (events & EPOLLOUT)
        do_flush(e);
    if (e->state != ST_DEAD && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        pthread_mutex_lock(&e->rlock);
        if (!atomic_load(&e->in_paused))
            read_input(e);
        pthread_mutex_unlock(&e->rlock);
    }
}

/* ---- start ------------------------------------------------------------- */

tern_err tn_engine_start(tn_sock *s, int fd, tn_ep *ep, const char *endpoint, int as_server,
                         tn_engine **ep_out)
{
    tn_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        close(fd);
        return TERN_ENOMEM;
    }
    e->rbuf = malloc(RBUF_SIZE);
    pthread_mutex_lock(&s->lock);
    tn_opts o = s->opt;
    pthread_mutex_unlock(&s->lock);
    if (e->rbuf == NULL || tn_ring_init(&e->ring, (uint64_t)o.rcvhwm) != TERN_OK) {
        free(e->rbuf);
        free(e);
        close(fd);
        return TERN_ENOMEM;
    }
    /* As many shells as messages can be in flight, so the decoder does not
     * run dry while the application still holds a full ring. */
    if (tn_ring_init(&e->shells, (uint64_t)o.rcvhwm) != TERN_OK) {
        tn_ring_fini(&e->ring);
        free(e->rbuf);
        free(e);
        close(fd);
        return TERN_ENOMEM;
    }
    e->pipe.ops = &engine_pipe_ops;
    e->pipe.sock = s;
    e->pipe.in = &e->ring;
    e->pipe.peer_type = -1;
    tn_stream_peer_name(fd, e->pipe.peer, sizeof(e->pipe.peer));
    atomic_init(&e->refs, 1);
    e->sock = s;
    e->loop = s->loop;
    e->ep = ep;
    e->as_server = as_server;
    e->state = ST_GREETING;
    snprintf(e->endpoint, sizeof(e->endpoint), "%s", endpoint);
    tn_zmtp_dec_init(&e->dec, (uint64_t)o.maxmsgsize);
    e->sink =
        (tn_zmtp_sink){.message = on_message, .command = on_command, .shell = take_shell, .arg = e};
    pthread_mutex_init(&e->outlock, NULL);
    pthread_mutexattr_t ra;
    pthread_mutexattr_init(&ra);
    pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&e->rlock, &ra);
    pthread_mutexattr_destroy(&ra);
    pthread_mutex_init(&e->watchlock, NULL);
    e->hwm_out = (uint32_t)o.sndhwm;
    e->fd_open = 1;
    /* Latency over batching: REQ and REP, and any socket asked to busy-poll. */
    e->direct = o.busy_poll > 0 || (o.busy_poll < 0 && s->pat->spin_us > 0);
    e->hb_ivl = (uint64_t)o.heartbeat_ivl * 1000000u;
    e->hb_timeout =
        o.heartbeat_timeout < 0 ? 3 * e->hb_ivl : (uint64_t)o.heartbeat_timeout * 1000000u;
    e->ttl_ds = (uint16_t)(o.heartbeat_ttl / 100);
    e->handshake_ms = (uint64_t)o.handshake_ivl;
    e->last_recv = tern_clock_ns();
    e->flush_task = (tn_task){.fn = flush_task, .arg = e};
    e->resume_task = (tn_task){.fn = resume_task, .arg = e};
    e->reread_task = (tn_task){.fn = reread_task, .arg = e};
    e->hb_arm_task = (tn_task){.fn = hb_arm_task, .arg = e};
    e->lend_task = (tn_task){.fn = lend_task, .arg = e};
    e->lend_timer = (tn_timer){.fn = lend_timer_fn, .arg = e};
    e->kick_task = (tn_task){.fn = kick_task, .arg = e};
    e->free_task = (tn_task){.fn = engine_free, .arg = e};
    e->handshake_timer = (tn_timer){.fn = handshake_timer_fn, .arg = e};
    e->hb_timer = (tn_timer){.fn = hb_timer_fn, .arg = e};
    e->ioh = (tn_ioh){.fd = fd, .fn = on_io, .arg = e};

    tern_err err = watch_fd(e, EPOLLIN);
    if (err != TERN_OK) {
        close(fd);
        e->direct = 0;
        engine_free(e);
        return err;
    }
    if (e->direct)
        tn_loop_spin(e->loop, 1);
    uint8_t hello[TN_ZMTP_GREETING_SIZE + 512]; /* READY with a 255-byte Identity fits */
    /* 23/ZMTP: with the NULL mechanism as-server is always 0. */
    tn_zmtp_greeting_build(hello, "NULL", 0);
    size_t n =
        tn_zmtp_ready_build(hello + TN_ZMTP_GREETING_SIZE, sizeof(hello) - TN_ZMTP_GREETING_SIZE,
                            s->pat->name, o.routing_id, o.routing_id_len);
    queue_control(e, hello, TN_ZMTP_GREETING_SIZE + n);
    tn_timer_arm(e->loop, &e->handshake_timer, tern_clock_ns() + e->handshake_ms * 1000000u);
    tn_trace(TERN_TRACE_WIRE, "%s: %s %s, handshaking", e->endpoint,
             e->as_server ? "accepted" : "connected to", e->pipe.peer);
    tn_sock_event(s, e->as_server ? TERN_EV_ACCEPTED : TERN_EV_CONNECTED, 0, e->endpoint,
                  e->pipe.peer, NULL);
    *ep_out = e;
    return TERN_OK;
}
