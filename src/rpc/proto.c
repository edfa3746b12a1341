/* RPC header codec, wire statuses and interface UUIDs. */
#include <stdio.h>
#include <string.h>

#include "base/endian.h"
#include "rpc/proto.h"

void tn_rpc_hdr_encode(const tn_rpc_hdr *h, uint8_t out[TN_RPC_HDR_SIZE])
{
    out[0] = 'T';
    out[1] = 'R';
    out[2] = TN_RPC_VERSION;
    out[3] = h->kind;
    tn_put_be32(out + 4, h->flags);
    tn_put_be64(out + 8, h->call_id);
    memcpy(out + 16, h->iface.b, 16);
    tn_put_be16(out + 32, h->major);
    tn_put_be16(out + 34, h->minor);
    tn_put_be32(out + 36, h->method);
    tn_put_be64(out + 40, h->deadline_us);
    tn_put_be64(out + 48, h->instance);
    tn_put_be64(out + 56, h->acked);
}

tern_err tn_rpc_hdr_decode(const void *p, size_t len, tn_rpc_hdr *h)
{
    const uint8_t *b = p;
    if (len != TN_RPC_HDR_SIZE || b[0] != 'T' || b[1] != 'R' || b[2] != TN_RPC_VERSION)
        return TERN_EPROTO;
    h->kind = b[3];
    if (h->kind < TN_RPC_CALL || h->kind > TN_RPC_BIND_REPLY)
        return TERN_EPROTO;
    h->flags = tn_get_be32(b + 4);
    h->call_id = tn_get_be64(b + 8);
    memcpy(h->iface.b, b + 16, 16);
    h->major = tn_get_be16(b + 32);
    h->minor = tn_get_be16(b + 34);
    h->method = tn_get_be32(b + 36);
    h->deadline_us = tn_get_be64(b + 40);
    h->instance = tn_get_be64(b + 48);
    h->acked = tn_get_be64(b + 56);
    return TERN_OK;
}

/* Index = wire status. Never reorder: append. */
static const tern_err wire_status[] =
    {
        TERN_OK,       TERN_ETIMEDOUT, TERN_ECANCELED, TERN_EUNAVAILABLE,
        TERN_ENOIFACE, TERN_ENOMETHOD, TERN_EVERSION,  TERN_EBADARGS,
        TERN_EAPP,     TERN_EPROTO,    TERN_ENOMEM, /* the server ran out of memory or room */
};
#define N_WIRE (sizeof wire_status / sizeof wire_status[0])

uint32_t tn_rpc_status_to_wire(tern_err err)
{
    for (uint32_t i = 0; i < N_WIRE; i++) {
        if (wire_status[i] == err)
            return i;
    }
    return 8; /* anything else a procedure returned is an application error */
}

tern_err tn_rpc_status_from_wire(uint32_t status)
{
    return status < N_WIRE ? wire_status[status] : TERN_EPROTO;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

tern_err tern_rpc_uuid_parse(const char *text, tern_rpc_uuid *uuid)
{
    if (text == NULL || uuid == NULL || strlen(text) != 36)
        return TERN_EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return TERN_EINVAL;
            continue;
        }
        int hi = hexval(text[i]), lo = hexval(text[i + 1]);
        if (hi < 0 || lo < 0)
            return TERN_EINVAL;
        uuid->b[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return TERN_OK;
}

void tern_rpc_uuid_format(const tern_rpc_uuid *uuid, char buf[37])
{
    const uint8_t *b = uuid->b;
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}
