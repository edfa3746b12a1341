/* Out-of-line opaques: the XDR hooks over message parts (see ool.h). */
#include <stdint.h>

#include "base/copy.h"
#include "base/message.h"
#include "rpc/ool.h"
#include "rpc/proto.h"

bool tn_rpc_ool_flagged(const tern_msg *m, size_t hdr)
{
    tn_rpc_hdr h;
    return tn_rpc_hdr_decode(tern_msg_data(m, hdr), tern_msg_size(m, hdr), &h) == TERN_OK &&
           (h.flags & TN_RPC_F_OOL) != 0;
}

/* The next out-of-line part, which must hold exactly n bytes. */
static tern_err ool_get(tern_xdr_dec *x, uint32_t n, uint8_t **p, bool steal)
{
    tern_msg *m = x->ool_arg;
    size_t k = x->ool_next;
    if (tern_msg_size(m, k) != n)
        return TERN_EPROTO;
    x->ool_next++;
    if (x->view && tn_msg_part_private(m, k)) {
        *p = tern_msg_data(m, k);
        return TERN_OK;
    }
    /* A block of its own goes to the caller as it is, when the caller
     * wants memory from malloc. */
    if (steal && x->alloc == NULL && (*p = tn_msg_part_steal(m, k)) != NULL)
        return TERN_OK;
    if ((*p = tern_xdr_alloc(x, n)) == NULL)
        return x->err;
    tn_copy(*p, tern_msg_data(m, k), n);
    return TERN_OK;
}

static tern_err ool_take(tern_xdr_dec *x, uint32_t n, uint8_t **p)
{
    return ool_get(x, n, p, true);
}

static tern_err ool_copy(tern_xdr_dec *x, uint32_t n, uint8_t **p)
{
    return ool_get(x, n, p, false);
}

void tn_rpc_ool_decoder(tern_xdr_dec *d, tern_msg *m, size_t body, bool ool, bool steal)
{
    tern_xdr_dec_init(d, tern_msg_data(m, body), tern_msg_size(m, body));
    size_t parts = tern_msg_parts(m);
    if (!ool || parts <= body)
        return;
    d->ool = steal ? ool_take : ool_copy;
    d->ool_arg = m;
    d->ool_next = (uint32_t)body + 1;
    d->ool_left = (uint32_t)(parts - body - 1);
}

static tern_err ool_put(tern_xdr_enc *x, const void *p, size_t n)
{
    tn_rpc_ool_out *o = x->ool_arg;
    if (o->parts == NULL && tern_msg_new(&o->parts) != TERN_OK)
        return TERN_ENOMEM;
    uintptr_t at = (uintptr_t)p;
    for (size_t k = 0; o->src && k < tern_msg_parts(o->src); k++) {
        uintptr_t start = (uintptr_t)tern_msg_data(o->src, k);
        size_t size = tern_msg_size(o->src, k);
        if (size >= n && at >= start && at - start <= size - n)
            return tn_msg_append_share(o->parts, o->src, k, p, n);
    }
    return tern_msg_append(o->parts, p, n);
}

void tn_rpc_ool_encoder(tern_xdr_enc *x, tn_rpc_ool_out *o, const tern_msg *src)
{
    o->src = src;
    o->parts = NULL;
    x->ool = ool_put;
    x->ool_arg = o;
}
