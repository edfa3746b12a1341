/* ZMTP 3.1 codec (rfc.zeromq.org 23/ZMTP and 37/ZMTP): greeting, frame
 * headers, commands, READY properties, and an incremental message decoder.
 * Pure functions over bytes: no I/O, no locks, fuzzed by fuzz/fuzz_zmtp.c. */
#ifndef TN_WIRE_ZMTP_H
#define TN_WIRE_ZMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/msg.h"

#define TN_ZMTP_GREETING_SIZE 64
#define TN_ZMTP_MORE 0x01
#define TN_ZMTP_LONG 0x02
#define TN_ZMTP_COMMAND 0x04
/* Commands are small; anything larger is hostile or a bug. */
/* Commands up to this size are accepted; an engine may raise its
 * decoder's cmd_max once a peer may send long SUBSCRIBEs. */
#define TN_ZMTP_COMMAND_MAX 65536
#define TN_ZMTP_COMMAND_NAME_MAX 256
#define TN_ZMTP_PING_CONTEXT_MAX 16

typedef struct tn_zmtp_greeting {
    uint8_t major;
    uint8_t minor;
    char mechanism[21];
    uint8_t as_server;
} tn_zmtp_greeting;

void tn_zmtp_greeting_build(uint8_t out[TN_ZMTP_GREETING_SIZE], const char *mechanism, int as_server);
/* Checks the first len bytes of a peer's greeting as they arrive, so a
 * non-ZMTP peer is refused after its first byte. TERN_EAGAIN: good so far;
 * TERN_OK: all 64 bytes valid, *g filled; TERN_EPROTO/TERN_ENOTSUP: *why
 * says why (static string). */
tern_err tn_zmtp_greeting_check(const uint8_t *buf, size_t len, tn_zmtp_greeting *g, const char **why);

/* Writes a frame header; returns its length (2 or 9). */
size_t tn_zmtp_frame_header(uint8_t out[9], uint8_t flags, uint64_t size);

/* Splits a command body into name and data. */
typedef struct tn_zmtp_command {
    const char *name; /* not NUL-terminated */
    size_t name_len;
    const uint8_t *data;
    size_t data_len;
} tn_zmtp_command;
tern_err tn_zmtp_command_parse(const uint8_t *body, size_t len, tn_zmtp_command *cmd);
int tn_zmtp_command_is(const tn_zmtp_command *cmd, const char *name);

/* Metadata of READY (and later INITIATE/HELLO). */
typedef struct tn_zmtp_props {
    const uint8_t *socket_type;
    size_t socket_type_len;
    const uint8_t *identity;
    size_t identity_len;
} tn_zmtp_props;
tern_err tn_zmtp_props_parse(const uint8_t *data, size_t len, tn_zmtp_props *props, const char **why);

/* Encoders return the bytes written (frame header included), or 0 if cap
 * is too small. */
size_t tn_zmtp_ready_build(uint8_t *out, size_t cap, const char *socket_type, const void *identity,
                           size_t identity_len);
size_t tn_zmtp_error_build(uint8_t *out, size_t cap, const char *reason);
size_t tn_zmtp_ping_build(uint8_t *out, size_t cap, uint16_t ttl_deciseconds, const void *ctx,
                          size_t ctx_len);
size_t tn_zmtp_pong_build(uint8_t *out, size_t cap, const void *ctx, size_t ctx_len);

/* Incremental decoder of frames into whole messages and commands. */
typedef struct tn_zmtp_sink {
    /* Takes ownership of m. Returns nonzero to pause the decoder after it. */
    int (*message)(void *arg, tern_msg *m);
    /* A command frame's body; an error aborts decoding with that error. */
    tern_err (*command)(void *arg, const uint8_t *body, size_t len);
    /* Optional: a recycled message shell for a small first part, or NULL. */
    tern_msg *(*shell)(void *arg);
    void *arg;
} tn_zmtp_sink;

typedef struct tn_zmtp_dec {
    uint64_t max_msg; /* limit on a message's payload bytes */
    uint64_t cmd_max; /* limit on a command's body (TN_ZMTP_COMMAND_MAX) */
    uint8_t hdr[9];
    uint8_t hlen;   /* header bytes collected */
    uint8_t flags;  /* current frame */
    int in_body;    /* header done, collecting body */
    uint64_t size;  /* current frame body size */
    uint64_t got;   /* body bytes collected */
    uint64_t charged; /* payload bytes of the message so far */
    tern_msg *msg;  /* message being assembled */
    uint8_t *dst;   /* current data frame's destination */
    uint8_t *cmd;   /* command body buffer, TN_ZMTP_COMMAND_MAX */
    const char *why;
} tn_zmtp_dec;

void tn_zmtp_dec_init(tn_zmtp_dec *d, uint64_t max_msg);
void tn_zmtp_dec_fini(tn_zmtp_dec *d);
/* Consumes bytes until they run out, the sink pauses, or an error.
 * *used gets the bytes consumed; *paused is set if the sink paused. On
 * error d->why says why and the decoder must not be fed again. */
tern_err tn_zmtp_dec_feed(tn_zmtp_dec *d, const uint8_t *buf, size_t len, size_t *used,
                          const tn_zmtp_sink *sink, int *paused);
/* While a data frame's body is incomplete: where its remaining bytes go, so
 * large bodies can be read straight from the socket. Returns how many bytes
 * remain (0 when not in a data body). Report bytes written there with
 * tn_zmtp_dec_wrote(), which may complete the message. */
size_t tn_zmtp_dec_direct(const tn_zmtp_dec *d, uint8_t **dst);
tern_err tn_zmtp_dec_wrote(tn_zmtp_dec *d, size_t n, const tn_zmtp_sink *sink, int *paused);
/* Whether the decoder is between messages (nothing of the next one read). */
bool tn_zmtp_dec_between(const tn_zmtp_dec *d);
/* At the very start of a data frame's body (its header just read): when
 * spare (a one-part message) has a body of exactly the frame's size, the
 * frame takes that body and spare gets the one made for the frame, so
 * bytes already read into spare can be reported with tn_zmtp_dec_wrote. */
bool tn_zmtp_dec_adopt(tn_zmtp_dec *d, tern_msg *spare);

#endif
