/* The kv server: a key-value store in memory behind the KV interface
 * (kv.tidl), registered in a tern directory under "kv".
 *
 *   kv_server [--directory HOST:PORT] [--listen ENDPOINT] [--name NAME]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv.h"

typedef struct entry {
    char *key;
    uint8_t *value;
    uint32_t len;
    uint64_t version;
} entry;

/* Kept sorted by key, so lookups are binary searches and keys() comes out
 * in order. */
typedef struct store {
    pthread_rwlock_t lock;
    entry *v;
    size_t n, cap;
    uint64_t puts;
} store;

/* Index of key, or where it would go (*found false). */
static size_t find(const store *s, const char *key, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->v[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static tern_err kv_get(tern_rpc_call *call, const char *key, KV_Item **item, bool *ret)
{
    store *s = tern_rpc_call_app(call);
    pthread_rwlock_rdlock(&s->lock);
    bool found;
    size_t i = find(s, key, &found);
    tern_err err = TERN_OK;
    *item = NULL;
    *ret = found;
    if (found) {
        /* Copied into the call's memory: the store may change once unlocked. */
        KV_Item *it = tern_rpc_call_alloc(call, sizeof *it);
        uint8_t *val = tern_rpc_call_alloc(call, s->v[i].len ? s->v[i].len : 1);
        if (it == NULL || val == NULL) {
            err = TERN_ENOMEM;
        } else {
            memcpy(val, s->v[i].value, s->v[i].len);
            it->key = (char *)key; /* the request's memory outlives the reply */
            it->value = (KV_bytes){s->v[i].len, val};
            it->version = s->v[i].version;
            *item = it;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return err;
}

static bool grow(store *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    entry *v = realloc(s->v, cap * sizeof *v);
    if (v == NULL)
        return false;
    s->v = v;
    s->cap = cap;
    return true;
}

/* Stores value under key if its version is expected (UINT64_MAX: any). */
static tern_err store_put(tern_rpc_call *call, const char *key, const KV_bytes *value, uint64_t expected,
                          uint64_t *version)
{
    store *s = tern_rpc_call_app(call);
    uint8_t *copy = malloc(value->len ? value->len : 1);
    if (copy == NULL)
        return TERN_ENOMEM;
    memcpy(copy, value->val, value->len);
    pthread_rwlock_wrlock(&s->lock);
    bool found;
    size_t i = find(s, key, &found);
    uint64_t now = found ? s->v[i].version : 0;
    tern_err err = TERN_OK;
    if (expected != UINT64_MAX && expected != now) {
        *version = 0;
        free(copy);
    } else if (found) {
        free(s->v[i].value);
        s->v[i].value = copy;
        s->v[i].len = value->len;
        *version = ++s->v[i].version;
    } else if (s->n == s->cap && !grow(s)) {
        err = TERN_ENOMEM;
        free(copy);
    } else {
        char *k = strdup(key);
        if (k == NULL) {
            free(copy);
            pthread_rwlock_unlock(&s->lock);
            return TERN_ENOMEM;
        }
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
        s->v[i] = (entry){k, copy, value->len, 1};
        s->n++;
        *version = 1;
    }
    s->puts++;
    pthread_rwlock_unlock(&s->lock);
    return err;
}

static tern_err kv_put(tern_rpc_call *call, const char *key, const KV_bytes *value, uint64_t *ret)
{
    return store_put(call, key, value, UINT64_MAX, ret);
}

static tern_err kv_put_if(tern_rpc_call *call, const char *key, const KV_bytes *value, uint64_t expected,
                          bool *ret)
{
    uint64_t version;
    tern_err err = store_put(call, key, value, expected, &version);
    *ret = err == TERN_OK && version != 0;
    return err;
}

static tern_err kv_del(tern_rpc_call *call, const char *key, bool *ret)
{
    store *s = tern_rpc_call_app(call);
    pthread_rwlock_wrlock(&s->lock);
    bool found;
    size_t i = find(s, key, &found);
    if (found) {
        free(s->v[i].key);
        free(s->v[i].value);
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
        s->n--;
    }
    *ret = found;
    pthread_rwlock_unlock(&s->lock);
    return TERN_OK;
}

static tern_err kv_keys(tern_rpc_call *call, const char *prefix, KV_Key_seq *names)
{
    store *s = tern_rpc_call_app(call);
    size_t plen = strlen(prefix);
    tern_err err = TERN_OK;
    pthread_rwlock_rdlock(&s->lock);
    bool found;
    size_t first = find(s, prefix, &found), n = 0;
    while (first + n < s->n && strncmp(s->v[first + n].key, prefix, plen) == 0 && n < KV_MAX_KEYS)
        n++;
    names->len = 0;
    names->val = n ? tern_rpc_call_alloc(call, n * sizeof *names->val) : NULL;
    for (size_t i = 0; i < n && names->val; i++) {
        size_t len = strlen(s->v[first + i].key) + 1;
        char *k = tern_rpc_call_alloc(call, len);
        if (k == NULL) {
            err = TERN_ENOMEM;
            break;
        }
        memcpy(k, s->v[first + i].key, len);
        names->val[names->len++] = k;
    }
    if (n && names->val == NULL)
        err = TERN_ENOMEM;
    pthread_rwlock_unlock(&s->lock);
    return err;
}

static tern_err kv_present(tern_rpc_call *call, const KV_Key_seq *keys, uint32_t *ret)
{
    store *s = tern_rpc_call_app(call);
    pthread_rwlock_rdlock(&s->lock);
    uint32_t n = 0;
    for (uint32_t i = 0; i < keys->len; i++) {
        bool found;
        find(s, keys->val[i], &found);
        n += found;
    }
    pthread_rwlock_unlock(&s->lock);
    *ret = n;
    return TERN_OK;
}

static const KV_server procedures = {.get = kv_get,
                                     .put = kv_put,
                                     .put_if = kv_put_if,
                                     .del = kv_del,
                                     .keys = kv_keys,
                                     .present = kv_present};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *directory = "127.0.0.1:7350", *listen = "tcp://127.0.0.1:0", *name = "kv";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--directory") == 0)
            directory = argv[i + 1];
        else if (strcmp(argv[i], "--listen") == 0)
            listen = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
        else {
            fprintf(stderr, "usage: kv_server [--directory HOST:PORT] [--listen EP] [--name NAME]\n");
            return 2;
        }
    }
    store s = {.lock = PTHREAD_RWLOCK_INITIALIZER};
    tern_ctx *ctx;
    tern_rpc_server *server;
    tern_err err = tern_ctx_open(&ctx, 1);
    if (err == TERN_OK)
        err = tern_rpc_server_open(ctx, NULL, &server);
    if (err == TERN_OK)
        err = KV_serve(server, &procedures, &s);
    if (err == TERN_OK)
        err = tern_rpc_server_bind(server, listen);
    if (err == TERN_OK)
        err = tern_rpc_server_register(server, directory, name, NULL, "example=kv");
    if (err != TERN_OK) {
        fprintf(stderr, "kv_server: %s (%s)\n", tern_strerror(err), tern_rpc_last_error());
        return 1;
    }
    char ep[256];
    tern_rpc_server_endpoint(server, ep, sizeof ep);
    printf("kv_server: serving at %s, registered as %s at %s\n", ep, name, directory);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop)
        pause();
    tern_rpc_server_close(server);
    tern_ctx_close(ctx);
    for (size_t i = 0; i < s.n; i++) {
        free(s.v[i].key);
        free(s.v[i].value);
    }
    free(s.v);
    return 0;
}
