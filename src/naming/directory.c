/* The directory server: registrations in memory, each under a lease that
 * runs out unless renewed, served through the generated Directory skeleton. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/trace.h"
#include "naming/directory.h"
#include "naming/naming.h"
#include "tern/naming.h"

#define MIN_LEASE_MS 100u
#define MAX_LEASE_MS 3600000u
#define MAX_REGISTRATIONS 65536

typedef struct reg {
    uint64_t id;
    char *name, *endpoint, *attrs;
    uint8_t iface[16];
    uint32_t major, minor;
    uint64_t expires_ns;
} reg;

struct tern_directory {
    tern_rpc_server *server;
    pthread_mutex_t lock;
    reg *regs; /* in registration order */
    size_t n, cap;
    uint64_t id_key; /* random: registration ids cannot be guessed */
    uint64_t next_id;
};

static void reg_free(reg *r)
{
    free(r->name);
    free(r->endpoint);
    free(r->attrs);
}

static uint64_t lease_end(uint32_t lease_ms)
{
    if (lease_ms < MIN_LEASE_MS)
        lease_ms = MIN_LEASE_MS;
    if (lease_ms > MAX_LEASE_MS)
        lease_ms = MAX_LEASE_MS;
    return tern_clock_ns() + (uint64_t)lease_ms * 1000000u;
}

/* Drops registrations whose lease ran out (lock held). */
static void expire(tern_directory *d, uint64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->regs[i].expires_ns <= now) {
            tn_trace(TERN_TRACE_RPC, "directory: lease of %s at %s ran out", d->regs[i].name,
                     d->regs[i].endpoint);
            reg_free(&d->regs[i]);
        } else {
            d->regs[k++] = d->regs[i];
        }
    }
    d->n = k;
}

/* Ids are what renew and remove act on, so they must not be guessable
 * from another registration's: a counter mixed with a random key, unique
 * because the mix is a bijection. */
static uint64_t registration_id(tern_directory *d)
{
    uint64_t x = ++d->next_id ^ d->id_key;
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

static tern_err dir_add(tern_rpc_call *call, const char *name, const uint8_t iface[16], uint32_t major,
                        uint32_t minor, const char *endpoint, const char *attrs, uint32_t lease_ms,
                        uint64_t *ret)
{
    tern_directory *d = tern_rpc_call_app(call);
    if (name[0] == '\0')
        return tern_rpc_call_fail(call, "a registration needs a name");
    if (endpoint[0] == '\0')
        return tern_rpc_call_fail(call, "a registration needs an endpoint");
    if (major > UINT16_MAX || minor > UINT16_MAX)
        return tern_rpc_call_fail(call, "version %u.%u out of range", major, minor);
    pthread_mutex_lock(&d->lock);
    expire(d, tern_clock_ns());
    tern_err err = TERN_OK;
    if (d->n >= MAX_REGISTRATIONS) {
        err = tern_rpc_call_fail(call, "directory full (%d registrations)", MAX_REGISTRATIONS);
    } else if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        reg *more = realloc(d->regs, cap * sizeof *more);
        if (more == NULL)
            err = TERN_ENOMEM;
        else {
            d->regs = more;
            d->cap = cap;
        }
    }
    if (err == TERN_OK) {
        reg r = {.id = registration_id(d),
                 .name = strdup(name),
                 .endpoint = strdup(endpoint),
                 .attrs = strdup(attrs),
                 .major = major,
                 .minor = minor,
                 .expires_ns = lease_end(lease_ms)};
        memcpy(r.iface, iface, 16);
        if (r.name == NULL || r.endpoint == NULL || r.attrs == NULL) {
            reg_free(&r);
            err = TERN_ENOMEM;
        } else {
            d->regs[d->n++] = r;
            *ret = r.id;
            tn_trace(TERN_TRACE_RPC, "directory: %s at %s registered (id %llu)", name, endpoint,
                     (unsigned long long)r.id);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return err;
}

static reg *find(tern_directory *d, uint64_t id)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->regs[i].id == id)
            return &d->regs[i];
    }
    return NULL;
}

static tern_err dir_renew(tern_rpc_call *call, uint64_t id, uint32_t lease_ms, bool *ret)
{
    tern_directory *d = tern_rpc_call_app(call);
    pthread_mutex_lock(&d->lock);
    expire(d, tern_clock_ns());
    reg *r = find(d, id);
    if (r)
        r->expires_ns = lease_end(lease_ms);
    *ret = r != NULL;
    pthread_mutex_unlock(&d->lock);
    return TERN_OK;
}

static tern_err dir_remove(tern_rpc_call *call, uint64_t id)
{
    tern_directory *d = tern_rpc_call_app(call);
    pthread_mutex_lock(&d->lock);
    reg *r = find(d, id);
    if (r) {
        tn_trace(TERN_TRACE_RPC, "directory: %s at %s unregistered", r->name, r->endpoint);
        reg_free(r);
        size_t at = (size_t)(r - d->regs);
        memmove(r, r + 1, (d->n - at - 1) * sizeof *r); /* keeps registration order */
        d->n--;
    }
    pthread_mutex_unlock(&d->lock);
    return TERN_OK;
}

/* A copy in the call's memory: the table may change once we unlock. */
static char *call_strdup(tern_rpc_call *call, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = tern_rpc_call_alloc(call, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static tern_err dir_lookup(tern_rpc_call *call, const char *name, Directory_Entry_seq *entries)
{
    tern_directory *d = tern_rpc_call_app(call);
    tern_err err = TERN_OK;
    pthread_mutex_lock(&d->lock);
    uint64_t now = tern_clock_ns();
    expire(d, now);
    size_t count = 0;
    for (size_t i = 0; i < d->n; i++)
        count += name[0] == '\0' || strcmp(d->regs[i].name, name) == 0;
    if (count > Directory_MAX_ENTRIES)
        count = Directory_MAX_ENTRIES;
    entries->len = 0;
    entries->val = count ? tern_rpc_call_alloc(call, count * sizeof *entries->val) : NULL;
    if (count && entries->val == NULL)
        err = TERN_ENOMEM;
    for (size_t i = 0; err == TERN_OK && i < d->n && entries->len < count; i++) {
        const reg *r = &d->regs[i];
        if (name[0] != '\0' && strcmp(r->name, name) != 0)
            continue;
        Directory_Entry *e = &entries->val[entries->len++];
        e->id = r->id;
        e->name = call_strdup(call, r->name);
        e->endpoint = call_strdup(call, r->endpoint);
        e->attrs = call_strdup(call, r->attrs);
        memcpy(e->iface, r->iface, 16);
        e->major = r->major;
        e->minor = r->minor;
        e->expires_ms = (uint32_t)((r->expires_ns - now) / 1000000u);
        if (!e->name || !e->endpoint || !e->attrs)
            err = TERN_ENOMEM;
    }
    pthread_mutex_unlock(&d->lock);
    return err;
}

static const Directory_server procedures = {
    .add = dir_add, .renew = dir_renew, .remove = dir_remove, .lookup = dir_lookup};

tern_err tern_directory_open(tern_ctx *ctx, const char *endpoint, tern_directory **dp)
{
    if (ctx == NULL || dp == NULL)
        return TERN_EINVAL;
    *dp = NULL;
    tern_directory *d = calloc(1, sizeof *d);
    if (d == NULL)
        return TERN_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    if (getrandom(&d->id_key, sizeof d->id_key, 0) != (ssize_t)sizeof d->id_key)
        d->id_key = tern_clock_wall_ns() ^ (uint64_t)(uintptr_t)d;
    /* Registrations and lookups are quick: two workers are plenty. */
    tern_rpc_server_opts so = {.workers = 2};
    tern_err err = tern_rpc_server_open(ctx, &so, &d->server);
    if (err == TERN_OK)
        err = Directory_serve(d->server, &procedures, d);
    if (err == TERN_OK)
        err = tern_rpc_server_bind(d->server, endpoint ? endpoint : "tcp://0.0.0.0:7350");
    if (err != TERN_OK) {
        tern_directory_close(d);
        return err;
    }
    *dp = d;
    return TERN_OK;
}

tern_err tern_directory_endpoint(tern_directory *d, char *buf, size_t cap)
{
    return d ? tern_rpc_server_endpoint(d->server, buf, cap) : TERN_EINVAL;
}

void tern_directory_close(tern_directory *d)
{
    if (d == NULL)
        return;
    tern_rpc_server_close(d->server);
    for (size_t i = 0; i < d->n; i++)
        reg_free(&d->regs[i]);
    free(d->regs);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
