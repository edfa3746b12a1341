/* Migration frames: encoding, bounded decoding and blocking socket I/O. */
#include "migrate/frame.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/endian.h"

void tn_mig_header_put(uint8_t out[TN_MIG_HEADER], const tn_mig_header *h)
{
    tn_put_be32(out, TN_MIG_MAGIC);
    out[4] = TN_MIG_VERSION;
    out[5] = h->type;
    tn_put_be16(out + 6, 0);
    tn_put_be64(out + 8, h->id);
    tn_put_be32(out + 16, h->epoch);
    tn_put_be32(out + 20, h->length);
    tn_put_be64(out + 24, h->seq);
    tn_put_be32(out + 32, h->crc);
    tn_put_be32(out + 36, 0);
}

tern_err tn_mig_header_get(const uint8_t in[TN_MIG_HEADER], tn_mig_header *h, const char **why)
{
    if (tn_get_be32(in) != TN_MIG_MAGIC) {
        *why = "not a tern migration stream (bad magic)";
        return TERN_EPROTO;
    }
    if (in[4] != TN_MIG_VERSION) {
        *why = "unsupported migration protocol version";
        return TERN_EPROTO;
    }
    if (in[5] < TN_MIG_HELLO || in[5] > TN_MIG_BYE) {
        *why = "unknown frame type";
        return TERN_EPROTO;
    }
    h->type = in[5];
    h->id = tn_get_be64(in + 8);
    h->epoch = tn_get_be32(in + 16);
    h->length = tn_get_be32(in + 20);
    h->seq = tn_get_be64(in + 24);
    h->crc = tn_get_be32(in + 32);
    return TERN_OK;
}

uint32_t tn_mig_crc(const uint8_t header[TN_MIG_HEADER], const void *meta, size_t meta_len)
{
    uint32_t crc = tern_crc32c(0, header, 32);
    return meta_len ? tern_crc32c(crc, meta, meta_len) : crc;
}

void tn_mig_hello_put(uint8_t out[TN_MIG_HELLO_LEN], const tn_mig_hello *h)
{
    out[0] = h->role;
    out[1] = h->strategy;
    out[2] = h->resume;
    out[3] = 0;
    tn_put_be32(out + 4, h->page_size);
    tn_put_be64(out + 8, h->base);
    tn_put_be64(out + 16, h->size);
}

tern_err tn_mig_hello_get(const uint8_t *in, size_t len, tn_mig_hello *h, const char **why)
{
    if (len != TN_MIG_HELLO_LEN) {
        *why = "hello has the wrong length";
        return TERN_EPROTO;
    }
    h->role = in[0];
    h->strategy = in[1];
    h->resume = in[2];
    h->page_size = tn_get_be32(in + 4);
    h->base = tn_get_be64(in + 8);
    h->size = tn_get_be64(in + 16);
    if (h->role > TN_MIG_ROLE_URGENT || h->strategy > TERN_MIGRATE_HYBRID || h->resume > 1) {
        *why = "hello carries an unknown role, strategy or flag";
        return TERN_EPROTO;
    }
    if (h->page_size != TN_MIG_PAGE) {
        *why = "the source's page size differs from this machine's";
        return TERN_EPROTO;
    }
    if (h->size == 0 || h->size > TN_MIG_MAX_ARENA || h->size % TN_MIG_PAGE != 0 ||
        h->base % TN_MIG_PAGE != 0 || h->base == 0 || h->base + h->size < h->base) {
        *why = "hello describes an impossible arena";
        return TERN_EPROTO;
    }
    return TERN_OK;
}

void tn_mig_welcome_put(uint8_t out[TN_MIG_WELCOME_LEN], const tn_mig_welcome *w)
{
    tn_put_be32(out, w->status);
    out[4] = w->running;
    memset(out + 5, 0, 3);
    tn_put_be64(out + 8, w->acked);
}

tern_err tn_mig_welcome_get(const uint8_t *in, size_t len, tn_mig_welcome *w)
{
    if (len != TN_MIG_WELCOME_LEN || in[4] > 1)
        return TERN_EPROTO;
    w->status = tn_get_be32(in);
    w->running = in[4];
    w->acked = tn_get_be64(in + 8);
    return TERN_OK;
}

size_t tn_mig_pages_meta_len(uint32_t nruns)
{
    return 8 + (size_t)nruns * 16;
}

size_t tn_mig_pages_put(uint8_t *out, const tn_mig_pages *p)
{
    uint8_t *o = out;
    tn_put_be32(o, p->nruns);
    tn_put_be32(o + 4, p->ndata);
    o += 8;
    for (uint32_t i = 0; i < p->nruns; i++, o += 16) {
        tn_put_be64(o, p->run[i].first);
        tn_put_be32(o + 8, p->run[i].count);
        tn_put_be32(o + 12, p->run[i].kind);
    }
    return (size_t)(o - out);
}

void tn_mig_pages_crcs_put(uint8_t *out, const tn_mig_pages *p)
{
    for (uint32_t i = 0; i < p->ndata; i++)
        tn_put_be32(out + 4 * (size_t)i, p->crc[i]);
}

void tn_mig_pages_crcs_get(const uint8_t *in, tn_mig_pages *p)
{
    for (uint32_t i = 0; i < p->ndata; i++)
        p->crc[i] = tn_get_be32(in + 4 * (size_t)i);
}

tern_err tn_mig_pages_counts(const uint8_t in[8], uint32_t length, uint32_t *nruns, uint32_t *ndata,
                             const char **why)
{
    *nruns = tn_get_be32(in);
    *ndata = tn_get_be32(in + 4);
    if (*nruns == 0 || *nruns > TN_MIG_MAX_RUNS || *ndata > TN_MIG_MAX_DATA_PAGES) {
        *why = "page frame with too many runs or pages";
        return TERN_EPROTO;
    }
    if ((uint64_t)length != tn_mig_pages_meta_len(*nruns) + (uint64_t)*ndata * (TN_MIG_PAGE + 4)) {
        *why = "page frame length does not match its runs";
        return TERN_EPROTO;
    }
    return TERN_OK;
}

tern_err tn_mig_pages_get(const uint8_t *in, size_t len, uint64_t npages, tn_mig_pages *p,
                          const char **why)
{
    if (len < 8)
        goto bad;
    p->nruns = tn_get_be32(in);
    p->ndata = tn_get_be32(in + 4);
    if (p->nruns == 0 || p->nruns > TN_MIG_MAX_RUNS || p->ndata > TN_MIG_MAX_DATA_PAGES ||
        len != tn_mig_pages_meta_len(p->nruns))
        goto bad;
    const uint8_t *o = in + 8;
    uint64_t data = 0;
    for (uint32_t i = 0; i < p->nruns; i++, o += 16) {
        tn_mig_run *r = &p->run[i];
        r->first = tn_get_be64(o);
        r->count = tn_get_be32(o + 8);
        r->kind = tn_get_be32(o + 12);
        if (r->count == 0 || r->kind > TN_MIG_RUN_ZERO || r->first >= npages ||
            r->count > npages - r->first) {
            *why = "page run outside the arena";
            return TERN_EPROTO;
        }
        /* Runs overlapping within a frame would make the page CRCs
         * ambiguous; the source never sends them. */
        for (uint32_t j = 0; j < i; j++) {
            const tn_mig_run *q = &p->run[j];
            if (r->first < q->first + q->count && q->first < r->first + r->count) {
                *why = "overlapping page runs";
                return TERN_EPROTO;
            }
        }
        if (r->kind == TN_MIG_RUN_DATA)
            data += r->count;
    }
    if (data != p->ndata)
        goto bad;
    return TERN_OK;
bad:
    *why = "malformed page frame";
    return TERN_EPROTO;
}

tern_err tn_mig_switch_get(const uint8_t *in, size_t len, uint64_t npages, tn_mig_switch *sw,
                           uint64_t *needed, const char **why)
{
    size_t words = (size_t)((npages + 63) / 64);
    if (len < 8)
        goto bad;
    sw->mode = tn_get_be32(in);
    sw->ctx_len = tn_get_be32(in + 4);
    sw->ctx = in + 8;
    if (sw->mode > 1 || sw->ctx_len > TN_MIG_MAX_CONTEXT ||
        len != 8 + (size_t)sw->ctx_len + (sw->mode ? words * 8 : 0))
        goto bad;
    if (sw->mode == 1) {
        const uint8_t *b = in + 8 + sw->ctx_len;
        for (size_t w = 0; w < words; w++)
            needed[w] = tn_get_be64(b + w * 8);
        unsigned tail = (unsigned)(npages % 64);
        if (tail && (needed[words - 1] >> tail)) {
            *why = "switch owes pages outside the arena";
            return TERN_EPROTO;
        }
    }
    return TERN_OK;
bad:
    *why = "malformed switch frame";
    return TERN_EPROTO;
}

uint64_t tn_mig_digest_term(uint64_t page, uint32_t crc)
{
    /* splitmix64 finaliser: spreads (page, crc) so that swapped pages or
     * cancelling CRCs do not sum to the same digest. */
    uint64_t z = page * 0x9e3779b97f4a7c15ull ^ ((uint64_t)crc << 17 | crc);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t tn_mig_zero_page_crc(void)
{
    static const uint8_t zero[TN_MIG_PAGE];
    static uint32_t crc;
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&crc, tern_crc32c(0, zero, sizeof(zero)), __ATOMIC_RELAXED);
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&crc, __ATOMIC_RELAXED);
}

static tern_err wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = tern_clock_ns();
        if (now >= deadline)
            return TERN_ETIMEDOUT;
        uint64_t ms = (deadline - now + 999999) / 1000000;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (n > 0)
            return TERN_OK;
        if (n < 0 && errno != EINTR)
            return tern_err_from_errno(errno);
    }
}

tern_err tn_mig_writev(int fd, struct iovec *iov, int iovcnt, uint64_t deadline)
{
    while (iovcnt > 0) {
        ssize_t n = writev(fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                tern_err err = wait_fd(fd, POLLOUT, deadline);
                if (err != TERN_OK)
                    return err;
                continue;
            }
            return errno == EPIPE || errno == ECONNRESET ? TERN_ECLOSED
                                                         : tern_err_from_errno(errno);
        }
        size_t left = (size_t)n;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return TERN_OK;
}

tern_err tn_mig_write(int fd, const void *buf, size_t len, uint64_t deadline)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return tn_mig_writev(fd, &iov, 1, deadline);
}

tern_err tn_mig_read(int fd, void *buf, size_t len, uint64_t deadline)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return TERN_ECLOSED;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET ? TERN_ECLOSED : tern_err_from_errno(errno);
        tern_err err = wait_fd(fd, POLLIN, deadline);
        if (err != TERN_OK)
            return err;
    }
    return TERN_OK;
}

tern_err tn_mig_send_frame(int fd, tn_mig_header *h, const void *meta, size_t meta_len,
                           const void *data, size_t data_len, uint64_t deadline)
{
    uint8_t hdr[TN_MIG_HEADER];
    h->length = (uint32_t)(meta_len + data_len);
    h->crc = 0;
    tn_mig_header_put(hdr, h);
    h->crc = tn_mig_crc(hdr, meta, meta_len);
    tn_mig_header_put(hdr, h);
    struct iovec iov[3] = {{hdr, sizeof(hdr)}, {(void *)meta, meta_len}, {(void *)data, data_len}};
    return tn_mig_writev(fd, iov, 3, deadline);
}

tern_err tn_mig_recv_small(int fd, tn_mig_header *h, uint8_t *payload, size_t cap,
                           uint64_t deadline, const char **why)
{
    uint8_t hdr[TN_MIG_HEADER];
    tern_err err = tn_mig_read(fd, hdr, sizeof(hdr), deadline);
    if (err != TERN_OK) {
        *why = "connection lost";
        return err;
    }
    err = tn_mig_header_get(hdr, h, why);
    if (err != TERN_OK)
        return err;
    if (h->length > cap) {
        *why = "frame longer than its type allows";
        return TERN_EPROTO;
    }
    err = tn_mig_read(fd, payload, h->length, deadline);
    if (err != TERN_OK) {
        *why = "connection lost";
        return err;
    }
    if (tn_mig_crc(hdr, payload, h->length) != h->crc) {
        *why = "frame CRC mismatch";
        return TERN_EPROTO;
    }
    return TERN_OK;
}
