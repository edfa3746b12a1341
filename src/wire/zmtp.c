/* ZMTP 3.1 codec. Every length read from the wire is checked against what
 * is left in the buffer and against the configured limits before anything
 * is allocated. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/copy.h"
#include "base/endian.h"
#include "base/message.h"
#include "wire/zmtp.h"

void tn_zmtp_greeting_build(uint8_t out[TN_ZMTP_GREETING_SIZE], const char *mechanism,
                            int as_server)
{
    memset(out, 0, TN_ZMTP_GREETING_SIZE);
    out[0] = 0xff;
    out[9] = 0x7f;
    out[10] = 3;
    out[11] = 1;
    memcpy(out + 12, mechanism, strnlen(mechanism, 20));
    out[32] = as_server ? 1 : 0;
}

tern_err tn_zmtp_greeting_check(const uint8_t *buf, size_t len, tn_zmtp_greeting *g,
                                const char **why)
{
    if (len >= 1 && buf[0] != 0xff) {
        *why = "not a ZMTP 3 peer: bad signature (first byte is not 0xFF)";
        return TERN_EPROTO;
    }
    if (len >= 10 && buf[9] != 0x7f) {
        *why = "not a ZMTP 3 peer: bad signature (byte 10 is not 0x7F; ZMTP 1.0?)";
        return TERN_EPROTO;
    }
    if (len >= 11 && buf[10] < 3) {
        *why = "peer speaks ZMTP 1.x/2.x; tern speaks ZMTP 3.x only";
        return TERN_EPROTO;
    }
    if (len < TN_ZMTP_GREETING_SIZE)
        return TERN_EAGAIN;
    const uint8_t *mech = buf + 12;
    size_t mlen = strnlen((const char *)mech, 20);
    for (size_t i = mlen; i < 20; i++) {
        if (mech[i] != 0) {
            *why = "malformed mechanism name in greeting";
            return TERN_EPROTO;
        }
    }
    if (mlen != 4 || memcmp(mech, "NULL", 4) != 0) {
        *why = "unsupported security mechanism (tern speaks NULL)";
        return TERN_ENOTSUP;
    }
    g->major = buf[10];
    g->minor = buf[11];
    memcpy(g->mechanism, mech, mlen);
    g->mechanism[mlen] = '\0';
    g->as_server = buf[32];
    return TERN_OK;
}

size_t tn_zmtp_frame_header(uint8_t out[9], uint8_t flags, uint64_t size)
{
    if (size > 255) {
        out[0] = flags | TN_ZMTP_LONG;
        tn_put_be64(out + 1, size);
        return 9;
    }
    out[0] = flags;
    out[1] = (uint8_t)size;
    return 2;
}

tern_err tn_zmtp_command_parse(const uint8_t *body, size_t len, tn_zmtp_command *cmd)
{
    if (len < 1 || body[0] == 0 || (size_t)body[0] + 1 > len)
        return TERN_EPROTO;
    cmd->name = (const char *)body + 1;
    cmd->name_len = body[0];
    cmd->data = body + 1 + body[0];
    cmd->data_len = len - 1 - body[0];
    return TERN_OK;
}

int tn_zmtp_command_is(const tn_zmtp_command *cmd, const char *name)
{
    size_t n = strlen(name);
    return cmd->name_len == n && memcmp(cmd->name, name, n) == 0;
}

tern_err tn_zmtp_props_parse(const uint8_t *p, size_t len, tn_zmtp_props *props, const char **why)
{
    memset(props, 0, sizeof(*props));
    while (len > 0) {
        size_t nlen = p[0];
        if (nlen == 0 || 1 + nlen + 4 > len) {
            *why = "malformed property in READY";
            return TERN_EPROTO;
        }
        const char *name = (const char *)p + 1;
        uint32_t vlen = tn_get_be32(p + 1 + nlen);
        size_t head = 1 + nlen + 4;
        if (vlen > len - head) {
            *why = "property value runs past the end of READY";
            return TERN_EPROTO;
        }
        const uint8_t *val = p + head;
        if (nlen == 11 && strncasecmp(name, "Socket-Type", 11) == 0) {
            props->socket_type = val;
            props->socket_type_len = vlen;
        } else if (nlen == 8 && strncasecmp(name, "Identity", 8) == 0) {
            if (vlen > 255) {
                *why = "Identity longer than 255 bytes";
                return TERN_EPROTO;
            }
            props->identity = val;
            props->identity_len = vlen;
        }
        p += head + vlen;
        len -= head + vlen;
    }
    if (props->socket_type == NULL) {
        *why = "READY without Socket-Type";
        return TERN_EPROTO;
    }
    return TERN_OK;
}

/* Writes a command frame whose body is name + the given pieces. */
static size_t command_build(uint8_t *out, size_t cap, const char *name, const void *a, size_t alen,
                            const void *b, size_t blen)
{
    size_t nlen = strlen(name);
    uint64_t body = 1 + nlen + alen + blen;
    uint8_t hdr[9];
    size_t hlen = tn_zmtp_frame_header(hdr, TN_ZMTP_COMMAND, body);
    if (hlen + body > cap)
        return 0;
    memcpy(out, hdr, hlen);
    uint8_t *p = out + hlen;
    *p++ = (uint8_t)nlen;
    memcpy(p, name, nlen);
    p += nlen;
    if (alen)
        memcpy(p, a, alen);
    p += alen;
    if (blen)
        memcpy(p, b, blen);
    return hlen + body;
}

static size_t prop_build(uint8_t *out, const char *name, const void *val, size_t vlen)
{
    size_t nlen = strlen(name);
    out[0] = (uint8_t)nlen;
    memcpy(out + 1, name, nlen);
    tn_put_be32(out + 1 + nlen, (uint32_t)vlen);
    if (vlen)
        memcpy(out + 1 + nlen + 4, val, vlen);
    return 1 + nlen + 4 + vlen;
}

size_t tn_zmtp_ready_build(uint8_t *out, size_t cap, const char *socket_type, const void *identity,
                           size_t identity_len)
{
    uint8_t props[16 + 32 + 16 + 255];
    size_t n = prop_build(props, "Socket-Type", socket_type, strlen(socket_type));
    if (identity_len > 255)
        return 0;
    if (identity_len > 0)
        n += prop_build(props + n, "Identity", identity, identity_len);
    return command_build(out, cap, "READY", props, n, NULL, 0);
}

size_t tn_zmtp_error_build(uint8_t *out, size_t cap, const char *reason)
{
    uint8_t len = (uint8_t)strnlen(reason, 255);
    return command_build(out, cap, "ERROR", &len, 1, reason, len);
}

size_t tn_zmtp_ping_build(uint8_t *out, size_t cap, uint16_t ttl, const void *ctx, size_t ctx_len)
{
    uint8_t t[2];
    if (ctx_len > TN_ZMTP_PING_CONTEXT_MAX)
        return 0;
    tn_put_be16(t, ttl);
    return command_build(out, cap, "PING", t, 2, ctx, ctx_len);
}

size_t tn_zmtp_pong_build(uint8_t *out, size_t cap, const void *ctx, size_t ctx_len)
{
    if (ctx_len > TN_ZMTP_PING_CONTEXT_MAX)
        return 0;
    return command_build(out, cap, "PONG", ctx, ctx_len, NULL, 0);
}

/* ---- decoder ----------------------------------------------------------- */

void tn_zmtp_dec_init(tn_zmtp_dec *d, uint64_t max_msg)
{
    memset(d, 0, sizeof(*d));
    d->max_msg = max_msg;
    d->cmd_max = TN_ZMTP_COMMAND_MAX;
}

void tn_zmtp_dec_fini(tn_zmtp_dec *d)
{
    tern_msg_free(d->msg);
    free(d->cmd);
    d->msg = NULL;
    d->cmd = NULL;
}

static tern_err fail(tn_zmtp_dec *d, tern_err err, const char *why)
{
    d->why = why;
    return err;
}

/* A header is complete: check it and make room for the body. */
static tern_err frame_start(tn_zmtp_dec *d, const tn_zmtp_sink *sink, uint8_t flags, uint64_t size)
{
    if (flags & 0xf8)
        return fail(d, TERN_EPROTO, "reserved bits set in frame flags");
    d->flags = flags;
    d->size = size;
    d->got = 0;
    d->in_body = 1;
    if (flags & TN_ZMTP_COMMAND) {
        if (flags & TN_ZMTP_MORE)
            return fail(d, TERN_EPROTO, "command frame with MORE set");
        if (d->msg != NULL)
            return fail(d, TERN_EPROTO, "command frame inside a multipart message");
        if (size == 0)
            return fail(d, TERN_EPROTO, "empty command frame");
        if (size > d->cmd_max)
            return fail(d, TERN_EMSGSIZE, "command frame larger than allowed");
        d->cmd = malloc(size);
        if (d->cmd == NULL)
            return fail(d, TERN_ENOMEM, "out of memory for a command");
        return TERN_OK;
    }
    /* The payload may reach the limit exactly; parts are bounded too, at
     * one per TN_MSG_PART_OVERHEAD bytes of the limit, so a flood of empty
     * parts cannot cost more memory than a full message. */
    if (size > d->max_msg - d->charged)
        return fail(d, TERN_EMSGSIZE, "message larger than the maximum message size");
    if ((uint64_t)(d->msg ? d->msg->nparts + 1 : 1) > d->max_msg / TN_MSG_PART_OVERHEAD + 1)
        return fail(d, TERN_EMSGSIZE, "message with too many parts for the maximum message size");
    d->charged += size;
    tern_err err;
    if (d->msg == NULL) {
        d->msg = size <= TN_MSG_INLINE_MAX && sink->shell ? sink->shell(sink->arg) : NULL;
        if (d->msg != NULL) {
            tn_msg_shell_reuse(d->msg, (size_t)size);
            err = TERN_OK;
        } else {
            err = tern_msg_alloc(&d->msg, (size_t)size);
        }
        if (err == TERN_OK)
            d->dst = d->msg->parts[0].data;
    } else {
        err = tn_msg_append_alloc(d->msg, (size_t)size, &d->dst);
    }
    if (err != TERN_OK)
        return fail(d, TERN_ENOMEM, "out of memory for a message");
    return TERN_OK;
}

/* A body is complete: hand over the command or (last part) the message. */
static tern_err frame_end(tn_zmtp_dec *d, const tn_zmtp_sink *sink, int *paused)
{
    d->in_body = 0;
    if (d->flags & TN_ZMTP_COMMAND) {
        uint8_t *cmd = d->cmd;
        d->cmd = NULL;
        tern_err err = sink->command(sink->arg, cmd, (size_t)d->size);
        free(cmd);
        if (err != TERN_OK)
            return fail(d, err, "command refused");
        return TERN_OK;
    }
    if (d->flags & TN_ZMTP_MORE)
        return TERN_OK;
    tern_msg *m = d->msg;
    d->msg = NULL;
    d->charged = 0;
    if (sink->message(sink->arg, m))
        *paused = 1;
    return TERN_OK;
}

tern_err tn_zmtp_dec_feed(tn_zmtp_dec *d, const uint8_t *buf, size_t len, size_t *used,
                          const tn_zmtp_sink *sink, int *paused)
{
    size_t i = 0;
    tern_err err = TERN_OK;
    *paused = 0;
    while (i < len && !*paused) {
        if (!d->in_body) {
            uint8_t flags;
            uint64_t size;
            if (d->hlen == 0 && len - i >= 2 && !(buf[i] & TN_ZMTP_LONG)) {
                /* Fast path: a whole short header in the buffer. */
                flags = buf[i];
                size = buf[i + 1];
                i += 2;
            } else {
                d->hdr[d->hlen++] = buf[i++];
                size_t need = (d->hdr[0] & TN_ZMTP_LONG) ? 9 : 2;
                if (d->hlen < need)
                    continue;
                flags = d->hdr[0];
                size = need == 9 ? tn_get_be64(d->hdr + 1) : d->hdr[1];
                d->hlen = 0;
            }
            flags &= (uint8_t)~TN_ZMTP_LONG;
            err = frame_start(d, sink, flags, size);
            if (err != TERN_OK)
                break;
        }
        size_t n = len - i;
        if (n > d->size - d->got)
            n = (size_t)(d->size - d->got);
        if (n > 0) {
            uint8_t *dst = (d->flags & TN_ZMTP_COMMAND) ? d->cmd : d->dst;
            tn_copy(dst + d->got, buf + i, n);
            d->got += n;
            i += n;
        }
        if (d->got == d->size) {
            err = frame_end(d, sink, paused);
            if (err != TERN_OK)
                break;
        }
    }
    *used = i;
    return err;
}

size_t tn_zmtp_dec_direct(const tn_zmtp_dec *d, uint8_t **dst)
{
    if (!d->in_body || (d->flags & TN_ZMTP_COMMAND) || d->got == d->size)
        return 0;
    *dst = d->dst + d->got;
    return (size_t)(d->size - d->got);
}

tern_err tn_zmtp_dec_wrote(tn_zmtp_dec *d, size_t n, const tn_zmtp_sink *sink, int *paused)
{
    *paused = 0;
    d->got += n;
    if (d->got == d->size)
        return frame_end(d, sink, paused);
    return TERN_OK;
}

bool tn_zmtp_dec_between(const tn_zmtp_dec *d)
{
    return !d->in_body && d->hlen == 0 && d->msg == NULL;
}

bool tn_zmtp_dec_adopt(tn_zmtp_dec *d, tern_msg *spare)
{
    if (!d->in_body || (d->flags & TN_ZMTP_COMMAND) || d->got != 0 || d->msg == NULL ||
        !tn_msg_swap_last(d->msg, spare))
        return false;
    d->dst = tern_msg_data(d->msg, tern_msg_parts(d->msg) - 1);
    return true;
}
