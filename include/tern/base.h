/* tern base layer: errors, clocks, checksums, tracing.
 *
 * Every fallible tern function returns a tern_err; TERN_OK is 0. Values are
 * never renumbered: new codes are only ever appended. */
#ifndef TERN_BASE_H
#define TERN_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TERN_BUILDING)
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif

typedef enum tern_err {
    TERN_OK = 0,
    TERN_EINVAL = 1,        /* invalid argument */
    TERN_ENOMEM = 2,        /* out of memory */
    TERN_EAGAIN = 3,        /* would block (TERN_DONTWAIT) */
    TERN_ETIMEDOUT = 4,     /* deadline passed */
    TERN_ECLOSED = 5,       /* handle closed or never opened */
    TERN_ENOTSUP = 6,       /* not supported by this socket type or build */
    TERN_EADDRINUSE = 7,    /* address already bound */
    TERN_EADDRINVAL = 8,    /* malformed or unresolvable endpoint */
    TERN_ENOENT = 9,        /* no such endpoint, file or object */
    TERN_ECONNREFUSED = 10, /* peer refused the connection */
    TERN_EPROTO = 11,       /* peer violated the protocol */
    TERN_EMSGSIZE = 12,     /* message larger than allowed or than the buffer */
    TERN_EINCOMPAT = 13,    /* peer socket type cannot talk to this one */
    TERN_EINTR = 14,        /* interrupted by a signal */
    TERN_ESTATE = 15,       /* operation not valid in the current state */
    TERN_EHOSTUNREACH = 16, /* no peer to route the message to */
    TERN_ESYSTEM = 17,      /* unexpected operating-system error */
    TERN_EEXIST = 18,       /* already exists */
    TERN_EPERM = 19,        /* permission denied */
    TERN_ECANCELED = 20,    /* cancelled by the caller */
    TERN_EUNAVAILABLE = 21, /* no server reachable, or it went away mid-call */
    TERN_ENOIFACE = 22,     /* the server does not offer the interface */
    TERN_ENOMETHOD = 23,    /* the interface has no such method */
    TERN_EVERSION = 24,     /* interface versions cannot talk */
    TERN_EBADARGS = 25,     /* call arguments did not decode or broke a bound */
    TERN_EAPP = 26,         /* the remote procedure reported a failure */
    TERN_EMOVED = 27,       /* the computation migrated to another process */
    TERN_ECORRUPT = 28,     /* stored or received data failed its checksum */
    TERN_ENOSPC = 29,       /* no space left on the device */
} tern_err;

/* A human-readable sentence for err; never NULL. */
TERN_API const char *tern_strerror(tern_err err);
/* The enum name ("TERN_EAGAIN"); "TERN_E?" for unknown values. Never NULL. */
TERN_API const char *tern_errname(tern_err err);
/* Maps an errno value to the closest tern_err (0 -> TERN_OK). */
TERN_API tern_err tern_err_from_errno(int errnum);

/* The library version, e.g. "0.1.0". */
TERN_API const char *tern_version(void);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC); never goes back. */
TERN_API uint64_t tern_clock_ns(void);
/* Wall clock in nanoseconds since the Unix epoch. */
TERN_API uint64_t tern_clock_wall_ns(void);

/* CRC-32C (Castagnoli, RFC 3720) of len bytes, continuing from crc (pass 0
 * to start). Uses the SSE4.2 crc32 instruction when the CPU has it. */
TERN_API uint32_t tern_crc32c(uint32_t crc, const void *data, size_t len);

/* Tracing: off by default. TERN_TRACE in the environment ("all", or a
 * comma-separated list of topics: io, wire, msg, rpc) turns it on at the first
 * trace point; tern_trace_set() overrides it at any time. Lines go to
 * stderr unless a sink is installed. Safe to call from any thread. */
enum {
    TERN_TRACE_IO = 1u << 0,
    TERN_TRACE_WIRE = 1u << 1,
    TERN_TRACE_MSG = 1u << 2,
    TERN_TRACE_RPC = 1u << 3,
    TERN_TRACE_MIGRATE = 1u << 4,
    TERN_TRACE_BROKER = 1u << 5,
    TERN_TRACE_ALL = 0xffffu,
};
/* spec as TERN_TRACE above; NULL or "" turns tracing off. Returns
 * TERN_EINVAL for an unknown topic (and changes nothing). */
TERN_API tern_err tern_trace_set(const char *spec);
/* The topics currently enabled (a TERN_TRACE_* mask). */
TERN_API unsigned tern_trace_mask(void);
/* A sink receives each finished line (no trailing newline). It runs on the
 * thread that traced, possibly several at once; it must not call tern.
 * Pass NULL to restore stderr. */
typedef void tern_trace_fn(void *arg, const char *topic, const char *line);
TERN_API void tern_trace_sink(tern_trace_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
