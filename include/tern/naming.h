/* tern naming: the directory where RPC servers register what they offer
 * and clients find them (the DCE binding model). `tern directory` runs one;
 * tern_rpc_server_register keeps a registration alive under a lease;
 * tern_rpc_client_open("tern://HOST[:PORT]/NAME") resolves through it.
 * The directory's own interface is src/naming/directory.tidl, served by the
 * tern RPC runtime like any other. */
#ifndef TERN_NAMING_H
#define TERN_NAMING_H

#include "rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_DIRECTORY_PORT 7350

typedef struct tern_directory tern_directory;

/* Serves a directory on endpoint ("tcp://0.0.0.0:7350" when NULL). Its
 * registrations live in memory and expire unless renewed. */
TERN_API tern_err tern_directory_open(tern_ctx *ctx, const char *endpoint, tern_directory **dirp);
/* The endpoint it listens on, resolved. */
TERN_API tern_err tern_directory_endpoint(tern_directory *dir, char *buf, size_t cap);
TERN_API void tern_directory_close(tern_directory *dir);

/* One registration. */
typedef struct tern_dir_entry {
    uint64_t id;
    char name[129];
    tern_rpc_uuid iface;
    uint32_t major, minor;
    char endpoint[257];
    char attrs[1025];
    uint32_t expires_ms; /* lease time left */
} tern_dir_entry;

/* Asks the directory at dir ("tcp://HOST:PORT", "HOST[:PORT]" or
 * "tern://HOST[:PORT]"; NULL: 127.0.0.1:7350) for the live registrations of
 * name (every one when name is NULL or ""). *entries is malloc'd (free it);
 * TERN_EUNAVAILABLE if the directory does not answer. */
TERN_API tern_err tern_directory_lookup(tern_ctx *ctx, const char *dir, const char *name,
                                        tern_dir_entry **entries, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
