/* Out-of-line opaques (docs/rpc.md): in a message flagged TN_RPC_F_OOL,
 * each variable-length opaque of TERN_XDR_OOL_MIN bytes or more leaves
 * only its length in the XDR body; its bytes follow the body as a frame of
 * their own, in the order the body names them. A reply can then share the
 * bytes of the request it echoes, and a client can hand a received frame
 * to the caller as the value itself: no copy either way. */
#ifndef TN_RPC_OOL_H
#define TN_RPC_OOL_H

#include <stdbool.h>

#include "tern/msg.h"
#include "tern/xdr.h"

/* Whether the message whose RPC header is part hdr is flagged out of line. */
bool tn_rpc_ool_flagged(const tern_msg *m, size_t hdr);

/* Points d at part body of m. With ool, large opaques come from the parts
 * after it; with steal they may take those parts' bytes instead of copying
 * them, so m decodes once (a second decode fails with TERN_EPROTO). */
void tn_rpc_ool_decoder(tern_xdr_dec *d, tern_msg *m, size_t body, bool ool, bool steal);

typedef struct tn_rpc_ool_out {
    const tern_msg *src; /* bytes inside it are shared, not copied; may be NULL */
    tern_msg *parts;     /* the out-of-line parts so far, or NULL */
} tn_rpc_ool_out;

/* Makes x send large opaques out of line into o->parts, sharing bytes that
 * lie in src (which must then outlive x's use). */
void tn_rpc_ool_encoder(tern_xdr_enc *x, tn_rpc_ool_out *o, const tern_msg *src);

#endif
