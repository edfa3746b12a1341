/* Placeholder until the directory lands (this session): every directory
 * operation fails clearly. Replaced by naming/'s real client. */
#include <stdio.h>

#include "naming/naming.h"
#include "rpc/resolve.h"

tern_err tn_naming_lease_open(tern_ctx *ctx, const char *dir, const char *name, const tern_rpc_iface *iface,
                              const char *endpoint, const char *attrs, tn_naming_lease **leasep, char *why,
                              size_t why_cap)
{
    (void)ctx, (void)dir, (void)name, (void)iface, (void)endpoint, (void)attrs, (void)leasep;
    snprintf(why, why_cap, "directory registration is not built yet");
    return TERN_ENOTSUP;
}

void tn_naming_lease_close(tn_naming_lease *lease)
{
    (void)lease;
}

tern_err tn_rpc_resolve(tern_ctx *ctx, const char *url, const tern_rpc_iface *iface, char (*endpoints)[256],
                        size_t cap, size_t *n, char *why, size_t why_cap)
{
    (void)ctx, (void)url, (void)iface, (void)endpoints, (void)cap;
    *n = 0;
    snprintf(why, why_cap, "directory lookups are not built yet");
    return TERN_ENOTSUP;
}
