/* The runtime's side of the directory: registrations under a lease, kept
 * alive in the background (used by tern_rpc_server_register), and lookups
 * (rpc/resolve.h). */
#ifndef TN_NAMING_H
#define TN_NAMING_H

#include "tern/rpc.h"

typedef struct tn_naming_lease tn_naming_lease;

/* Registers (name, iface UUID and version, endpoint, attrs) at the
 * directory dir ("tcp://HOST:PORT") and keeps renewing the lease until
 * closed, re-registering if the directory forgot it (say, it restarted).
 * Fails with TERN_EUNAVAILABLE if the directory does not answer; why says
 * what went wrong. */
tern_err tn_naming_lease_open(tern_ctx *ctx, const char *dir, const char *name,
                              const tern_rpc_iface *iface, const char *endpoint, const char *attrs,
                              uint32_t lease_ms, tn_naming_lease **leasep, char *why, size_t why_cap);

/* "tcp://HOST:PORT", "HOST[:PORT]" or "tern://HOST[:PORT]" (NULL: the local
 * default) -> "tcp://HOST:PORT" with port 7350 by default. */
tern_err tn_naming_dir_endpoint(const char *dir, char *out, size_t cap);
/* Unregisters (best effort, bounded wait) and stops renewing. */
void tn_naming_lease_close(tn_naming_lease *lease);

#endif
