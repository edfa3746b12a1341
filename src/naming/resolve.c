/* Lookups: tern://HOST[:PORT]/NAME to endpoints, and the public lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "naming/directory.h"
#include "naming/naming.h"
#include "rpc/resolve.h"
#include "tern/naming.h"

tern_err tn_rpc_parse_url(const char *url, char *dir, size_t dir_cap, char *name, size_t name_cap)
{
    if (url == NULL || strncmp(url, "tern://", 7) != 0)
        return TERN_EADDRINVAL;
    const char *slash = strchr(url + 7, '/');
    if (slash == NULL || slash == url + 7 || slash[1] == '\0' || strlen(slash + 1) >= name_cap ||
        strlen(slash + 1) > Directory_MAX_NAME)
        return TERN_EADDRINVAL;
    char host[256];
    size_t len = (size_t)(slash - (url + 7));
    if (len >= sizeof host)
        return TERN_EADDRINVAL;
    memcpy(host, url + 7, len);
    host[len] = '\0';
    tern_err err = tn_naming_dir_endpoint(host, dir, dir_cap);
    if (err == TERN_OK)
        snprintf(name, name_cap, "%s", slash + 1);
    return err;
}

/* Asks the directory dir for name's registrations. */
static tern_err lookup(tern_ctx *ctx, const char *dir, const char *name, Directory_Entry_seq *seq, char *why,
                       size_t why_cap)
{
    tern_rpc_client_opts o = {.timeout_ms = 2000};
    tern_rpc_client *c;
    tern_err err = tern_rpc_client_open(ctx, dir, &Directory_iface, &o, &c);
    if (err != TERN_OK) {
        snprintf(why, why_cap, "directory %s: %s", dir, tern_rpc_last_error());
        return err;
    }
    err = Directory_lookup(c, NULL, name, seq);
    if (err != TERN_OK)
        snprintf(why, why_cap, "lookup of %s at %s: %s", name, dir,
                 tern_rpc_last_error()[0] ? tern_rpc_last_error() : tern_strerror(err));
    tern_rpc_client_close(c);
    return err;
}

tern_err tn_rpc_resolve(tern_ctx *ctx, const char *url, const tern_rpc_iface *iface, char (*endpoints)[256],
                        size_t cap, size_t *n, char *why, size_t why_cap)
{
    char dir[256], name[256];
    *n = 0;
    if (tn_rpc_parse_url(url, dir, sizeof dir, name, sizeof name) != TERN_OK) {
        snprintf(why, why_cap, "not a directory name: %s (want tern://HOST[:PORT]/NAME)", url);
        return TERN_EADDRINVAL;
    }
    Directory_Entry_seq seq = {0};
    tern_err err = lookup(ctx, dir, name, &seq, why, why_cap);
    if (err != TERN_OK)
        return err;
    /* Only servers this client can bind to: same interface and major, a
     * minor at least the client's. Start at a random one, so clients spread
     * over the servers of a name. */
    uint32_t start = 0;
    if (seq.len > 1 && getrandom(&start, sizeof start, 0) == (ssize_t)sizeof start)
        start %= seq.len;
    size_t found = 0, wrong_version = 0;
    for (uint32_t k = 0; k < seq.len; k++) {
        const Directory_Entry *e = &seq.val[(start + k) % seq.len];
        if (memcmp(e->iface, iface->uuid.b, 16) != 0)
            continue;
        if (e->major != iface->major || e->minor < iface->minor) {
            wrong_version++;
            continue;
        }
        if (found < cap)
            snprintf(endpoints[found], 256, "%s", e->endpoint);
        found++;
    }
    Directory_lookup_free(&seq);
    *n = found < cap ? found : cap;
    if (found == 0) {
        if (wrong_version)
            snprintf(why, why_cap, "%s at %s: %zu server(s), none with a version %s %u.%u can use", name,
                     dir, wrong_version, iface->name, iface->major, iface->minor);
        else
            snprintf(why, why_cap, "%s is not registered at %s for interface %s", name, dir, iface->name);
        return wrong_version ? TERN_EVERSION : TERN_ENOENT;
    }
    return TERN_OK;
}

tern_err tern_directory_lookup(tern_ctx *ctx, const char *dir, const char *name, tern_dir_entry **entries,
                               size_t *n)
{
    if (ctx == NULL || entries == NULL || n == NULL)
        return TERN_EINVAL;
    *entries = NULL;
    *n = 0;
    char ep[256], why[256];
    tern_err err = tn_naming_dir_endpoint(dir, ep, sizeof ep);
    if (err != TERN_OK)
        return err;
    if (name && strlen(name) > Directory_MAX_NAME)
        return TERN_EINVAL;
    Directory_Entry_seq seq = {0};
    err = lookup(ctx, ep, name ? name : "", &seq, why, sizeof why);
    if (err != TERN_OK)
        return err;
    tern_dir_entry *out = seq.len ? calloc(seq.len, sizeof *out) : NULL;
    if (seq.len && out == NULL) {
        Directory_lookup_free(&seq);
        return TERN_ENOMEM;
    }
    for (uint32_t i = 0; i < seq.len; i++) {
        const Directory_Entry *e = &seq.val[i];
        tern_dir_entry *o = &out[i];
        o->id = e->id;
        snprintf(o->name, sizeof o->name, "%s", e->name);
        memcpy(o->iface.b, e->iface, 16);
        o->major = e->major;
        o->minor = e->minor;
        snprintf(o->endpoint, sizeof o->endpoint, "%s", e->endpoint);
        snprintf(o->attrs, sizeof o->attrs, "%s", e->attrs);
        o->expires_ms = e->expires_ms;
    }
    *n = seq.len;
    *entries = out;
    Directory_lookup_free(&seq);
    return TERN_OK;
}
