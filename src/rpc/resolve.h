/* Binding through the directory: the runtime's one call into naming/. */
#ifndef TN_RPC_RESOLVE_H
#define TN_RPC_RESOLVE_H

#include "tern/rpc.h"

/* Parses "tern://HOST[:PORT]/NAME" into the directory's endpoint
 * ("tcp://HOST:PORT", port 7350 by default) and NAME. TERN_EADDRINVAL if
 * malformed. */
tern_err tn_rpc_parse_url(const char *url, char *dir, size_t dir_cap, char *name, size_t name_cap);

/* Looks NAME up at the directory and fills up to cap endpoints of live
 * registrations offering a version of iface the client can bind to; *n
 * gets how many there are. TERN_ENOENT if none, TERN_EUNAVAILABLE if the
 * directory does not answer. why explains a failure. */
tern_err tn_rpc_resolve(tern_ctx *ctx, const char *url, const tern_rpc_iface *iface,
                        char (*endpoints)[256], size_t cap, size_t *n, char *why, size_t why_cap);

#endif
