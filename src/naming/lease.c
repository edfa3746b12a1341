/* Registrations kept alive: a thread per lease renews it every third of its
 * length, and registers again if the directory forgot it (it restarted, or
 * the lease ran out while the directory was unreachable). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cond.h"
#include "base/trace.h"
#include "naming/directory.h"
#include "naming/naming.h"

struct tn_naming_lease {
    tern_ctx *ctx;
    char dir[256];
    char *name, *endpoint, *attrs;
    const tern_rpc_iface *iface;
    uint32_t lease_ms;
    uint64_t id;
    tern_rpc_client *client; /* to the directory; NULL while unreachable */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool closing;
};

tern_err tn_naming_dir_endpoint(const char *dir, char *out, size_t cap)
{
    if (dir == NULL || dir[0] == '\0')
        dir = "127.0.0.1";
    if (strncmp(dir, "tcp://", 6) == 0)
        dir += 6;
    else if (strncmp(dir, "tern://", 7) == 0)
        dir += 7;
    size_t len = strcspn(dir, "/");
    if (len == 0 || len > 200)
        return TERN_EADDRINVAL;
    /* A port is there unless the last colon is inside [IPv6] brackets. */
    const char *colon = memrchr(dir, ':', len);
    const char *bracket = memrchr(dir, ']', len);
    bool has_port = colon && (!bracket || colon > bracket);
    int n = has_port ? snprintf(out, cap, "tcp://%.*s", (int)len, dir)
                     : snprintf(out, cap, "tcp://%.*s:%d", (int)len, dir, 7350);
    return n > 0 && (size_t)n < cap ? TERN_OK : TERN_EADDRINVAL;
}

static tern_err connect_dir(tn_naming_lease *l, char *why, size_t cap)
{
    if (l->client)
        return TERN_OK;
    tern_rpc_client_opts o = {.timeout_ms = 2000};
    tern_err err = tern_rpc_client_open(l->ctx, l->dir, &Directory_iface, &o, &l->client);
    /* A sentence cut short at cap is still the reason. */
    if (err != TERN_OK && snprintf(why, cap, "directory %s: %s", l->dir, tern_rpc_last_error()) < 0)
        why[0] = '\0';
    return err;
}

static tern_err do_register(tn_naming_lease *l, char *why, size_t cap)
{
    tern_err err = connect_dir(l, why, cap);
    if (err != TERN_OK)
        return err;
    err = Directory_add(l->client, NULL, l->name, l->iface->uuid.b, l->iface->major,
                        l->iface->minor, l->endpoint, l->attrs, l->lease_ms, &l->id);
    if (err != TERN_OK)
        snprintf(why, cap, "directory %s refused %s: %s", l->dir, l->name,
                 tern_rpc_last_error()[0] ? tern_rpc_last_error() : tern_strerror(err));
    return err;
}

static void *renewer(void *arg)
{
    tn_naming_lease *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->closing) {
        uint64_t at = tern_clock_ns() + (uint64_t)l->lease_ms * 1000000u / 3u;
        while (!l->closing && tn_cond_wait_until(&l->cond, &l->lock, at) == 0) {
        }
        if (l->closing)
            break;
        pthread_mutex_unlock(&l->lock);
        char why[256] = "";
        bool known = false;
        tern_err err = connect_dir(l, why, sizeof why);
        if (err == TERN_OK)
            err = Directory_renew(l->client, NULL, l->id, l->lease_ms, &known);
        if (err == TERN_OK && !known) {
            tn_trace(TERN_TRACE_RPC, "directory %s forgot %s: registering again", l->dir, l->name);
            err = do_register(l, why, sizeof why);
        }
        if (err != TERN_OK) {
            tn_trace(TERN_TRACE_RPC, "renewing %s at %s: %s %s", l->name, l->dir, tern_errname(err),
                     why);
            /* Start afresh next time: the directory may be another process now. */
            tern_rpc_client_close(l->client);
            l->client = NULL;
        }
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static void lease_free(tn_naming_lease *l)
{
    tern_rpc_client_close(l->client);
    free(l->name);
    free(l->endpoint);
    free(l->attrs);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

tern_err tn_naming_lease_open(tern_ctx *ctx, const char *dir, const char *name,
                              const tern_rpc_iface *iface, const char *endpoint, const char *attrs,
                              uint32_t lease_ms, tn_naming_lease **lp, char *why, size_t why_cap)
{
    tn_naming_lease *l = calloc(1, sizeof *l);
    if (l == NULL)
        return TERN_ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    tn_cond_init(&l->cond);
    l->ctx = ctx;
    l->iface = iface;
    l->lease_ms = lease_ms;
    l->name = strdup(name);
    l->endpoint = strdup(endpoint);
    l->attrs = strdup(attrs ? attrs : "");
    tern_err err = l->name && l->endpoint && l->attrs ? TERN_OK : TERN_ENOMEM;
    if (err == TERN_OK) {
        err = tn_naming_dir_endpoint(dir, l->dir, sizeof l->dir);
        if (err != TERN_OK)
            snprintf(why, why_cap, "bad directory address: %s", dir);
    }
    if (err == TERN_OK)
        err = do_register(l, why, why_cap);
    if (err == TERN_OK && pthread_create(&l->thread, NULL, renewer, l) != 0)
        err = TERN_ESYSTEM;
    if (err != TERN_OK) {
        lease_free(l);
        return err;
    }
    *lp = l;
    return TERN_OK;
}

void tn_naming_lease_close(tn_naming_lease *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    l->closing = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    if (l->client) {
        tern_rpc_opts quick = {.timeout_ms = 500};
        if (Directory_remove(l->client, &quick, l->id) != TERN_OK)
            tn_trace(TERN_TRACE_RPC, "unregistering %s at %s: %s", l->name, l->dir,
                     tern_rpc_last_error());
    }
    lease_free(l);
}
