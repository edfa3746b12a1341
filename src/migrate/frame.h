/* The migration stream's frames (docs/migration.md has the bytes).
 *
 * Every frame starts with a 40-byte header: magic "TMIG", version, type,
 * the migration id, the connection epoch, the payload length, a sequence
 * number (page frames on the main connection count 1, 2, 3 ...) and a
 * CRC32C over the header and the frame's metadata. Page data is covered
 * page by page: each page image has its own CRC32C, in a trailer after the
 * images (the source sums a page after the send has read it into cache),
 * which the destination checks against the bytes it stored and which also
 * feed the arena digest. The decoders here only parse and bound; nothing
 * allocates more than a length the caller has already limited. */
#ifndef TN_MIGRATE_FRAME_H
#define TN_MIGRATE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tern/migrate.h"

#define TN_MIG_MAGIC 0x544d4947u /* "TMIG" */
#define TN_MIG_VERSION 2
#define TN_MIG_HEADER 40
#define TN_MIG_PAGE 4096u
/* Per page frame: at most this many runs and data pages (1 MiB). */
#define TN_MIG_MAX_RUNS 256u
#define TN_MIG_MAX_DATA_PAGES 256u
#define TN_MIG_MAX_CONTEXT (1u << 20)
/* 1 TiB: keeps the page bitmap a switch frame carries under 32 MiB. */
#define TN_MIG_MAX_ARENA (1ull << 40)

typedef enum tn_mig_type {
    TN_MIG_HELLO = 1,    /* source -> destination: who, what, where */
    TN_MIG_WELCOME = 2,  /* destination: accepted, and the last sequence applied */
    TN_MIG_PAGES = 3,    /* source: runs of page images or zero pages */
    TN_MIG_SWITCH = 4,   /* source: context (+ the pages still owed); run there */
    TN_MIG_COMMIT = 5,   /* destination: it runs now */
    TN_MIG_ACK = 6,      /* destination: every frame up to seq is applied */
    TN_MIG_FETCH = 7,    /* destination (urgent connection): send these pages now */
    TN_MIG_DIGEST = 8,   /* source: every page sent; the arena's digest */
    TN_MIG_VERIFIED = 9, /* destination: digest compared; fault stats */
    TN_MIG_ABORT = 10,   /* either side: giving up, with a reason */
    TN_MIG_PLAN = 11,    /* source: the pages that will come (a hint) */
    TN_MIG_TORN = 12,    /* destination: these pages arrived torn; send them again */
    TN_MIG_BYE = 13,     /* source: it has the verdict; the destination may go */
} tn_mig_type;

enum { TN_MIG_ROLE_MAIN = 0, TN_MIG_ROLE_URGENT = 1 };
enum { TN_MIG_RUN_DATA = 0, TN_MIG_RUN_ZERO = 1 };

typedef struct tn_mig_header {
    uint8_t type;
    uint64_t id;
    uint32_t epoch;
    uint32_t length; /* payload bytes after the header */
    uint64_t seq;
    uint32_t crc; /* header bytes 0..31 and the frame's metadata */
} tn_mig_header;

void tn_mig_header_put(uint8_t out[TN_MIG_HEADER], const tn_mig_header *h);
/* Checks magic, version and type; does not check the CRC (it also covers
 * metadata that follows). TERN_EPROTO with why in *why. */
tern_err tn_mig_header_get(const uint8_t in[TN_MIG_HEADER], tn_mig_header *h, const char **why);
/* CRC over the header's first 32 bytes, then meta. */
uint32_t tn_mig_crc(const uint8_t header[TN_MIG_HEADER], const void *meta, size_t meta_len);

typedef struct tn_mig_hello {
    uint8_t role;     /* TN_MIG_ROLE_* */
    uint8_t strategy; /* tern_migrate_strategy */
    uint8_t resume;   /* 1: a reconnect of a migration already started */
    uint32_t page_size;
    uint64_t base, size;
} tn_mig_hello;
#define TN_MIG_HELLO_LEN 24
void tn_mig_hello_put(uint8_t out[TN_MIG_HELLO_LEN], const tn_mig_hello *h);
tern_err tn_mig_hello_get(const uint8_t *in, size_t len, tn_mig_hello *h, const char **why);

typedef struct tn_mig_welcome {
    uint32_t status; /* tern_err; non-zero refuses */
    uint8_t running; /* the destination already runs the computation */
    uint64_t acked;  /* last page-frame sequence applied */
} tn_mig_welcome;
#define TN_MIG_WELCOME_LEN 16
void tn_mig_welcome_put(uint8_t out[TN_MIG_WELCOME_LEN], const tn_mig_welcome *w);
tern_err tn_mig_welcome_get(const uint8_t *in, size_t len, tn_mig_welcome *w);

/* A page frame: its metadata (the runs), the page images in run order,
 * then the trailer: one CRC per data page. */
typedef struct tn_mig_run {
    uint64_t first;
    uint32_t count;
    uint32_t kind; /* TN_MIG_RUN_* */
} tn_mig_run;
typedef struct tn_mig_pages {
    uint32_t nruns;
    uint32_t ndata; /* data pages in all runs */
    tn_mig_run run[TN_MIG_MAX_RUNS];
    uint32_t crc[TN_MIG_MAX_DATA_PAGES];
} tn_mig_pages;
/* Bytes of metadata for nruns runs. */
size_t tn_mig_pages_meta_len(uint32_t nruns);
/* Writes the metadata; returns its length. */
size_t tn_mig_pages_put(uint8_t *out, const tn_mig_pages *p);
/* The trailer: p->ndata CRCs, 4 bytes each. */
void tn_mig_pages_crcs_put(uint8_t *out, const tn_mig_pages *p);
void tn_mig_pages_crcs_get(const uint8_t *in, tn_mig_pages *p);
/* Parses the fixed count words at the start of the payload (8 bytes) so the
 * reader knows how much metadata to read; checks them against the limits
 * and the payload length. */
tern_err tn_mig_pages_counts(const uint8_t in[8], uint32_t length, uint32_t *nruns, uint32_t *ndata,
                             const char **why);
/* Parses the whole metadata; every run must lie inside npages pages, runs
 * must not overlap earlier runs of the frame, and data pages must add up.
 * The CRCs come later, from the trailer. */
tern_err tn_mig_pages_get(const uint8_t *in, size_t len, uint64_t npages, tn_mig_pages *p,
                          const char **why);

/* A switch frame's payload: mode (0: every page sent; 1: post-copy, a
 * bitmap of the pages still owed follows), the context. *needed (words
 * words, the caller's) is filled in post-copy mode. */
typedef struct tn_mig_switch {
    uint32_t mode;
    uint32_t ctx_len;
    const uint8_t *ctx; /* into the payload */
} tn_mig_switch;
tern_err tn_mig_switch_get(const uint8_t *in, size_t len, uint64_t npages, tn_mig_switch *sw,
                           uint64_t *needed, const char **why);

/* The arena digest: a sum over pages of a mix of the page number and the
 * page's CRC32C, so it can be updated page by page in any order. */
uint64_t tn_mig_digest_term(uint64_t page, uint32_t crc);
uint32_t tn_mig_zero_page_crc(void);

/* Small fixed payloads: ACK / COMMIT (seq), FETCH (first, count), DIGEST
 * (digest), VERIFIED (ok, digest, faults, p50, p99, max). */
#define TN_MIG_FETCH_LEN 12
#define TN_MIG_VERIFIED_LEN 48
#define TN_MIG_TORN_MAX TN_MIG_MAX_DATA_PAGES /* pages per TORN report: one frame's */

/* The tern_clock_ns time ms milliseconds from now. */
static inline uint64_t tn_mig_deadline(uint32_t ms)
{
    return tern_clock_ns() + (uint64_t)ms * 1000000u;
}

/* Blocking I/O on a socket with an absolute deadline (tern_clock_ns);
 * TERN_ETIMEDOUT, TERN_ECLOSED on EOF, else the errno's mapping. */
tern_err tn_mig_write(int fd, const void *buf, size_t len, uint64_t deadline);
tern_err tn_mig_writev(int fd, struct iovec *iov, int iovcnt, uint64_t deadline);
tern_err tn_mig_read(int fd, void *buf, size_t len, uint64_t deadline);

/* Sends one frame whose payload is meta (covered by the header CRC) then
 * data (not covered: page data has its own CRCs). */
tern_err tn_mig_send_frame(int fd, tn_mig_header *h, const void *meta, size_t meta_len,
                           const void *data, size_t data_len, uint64_t deadline);
/* Reads a header and a whole small payload (at most cap bytes) and checks
 * the CRC over all of it. */
tern_err tn_mig_recv_small(int fd, tn_mig_header *h, uint8_t *payload, size_t cap,
                           uint64_t deadline, const char **why);

#endif
