/* Contexts own the I/O threads; sockets are spread over them round-robin. */
#include <stdlib.h>

#include "msg/ctx.h"

tern_err tern_ctx_open(tern_ctx **ctxp, int io_threads)
{
    if (ctxp == NULL || io_threads < 0 || io_threads > 64)
        return TERN_EINVAL;
    if (io_threads == 0)
        io_threads = 1;
    tern_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->loops = calloc((size_t)io_threads, sizeof(*c->loops))) == NULL) {
        free(c);
        return TERN_ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->inproc_lock, NULL);
    for (; c->nloops < io_threads; c->nloops++) {
        tern_err err = tn_loop_start(&c->loops[c->nloops]);
        if (err != TERN_OK) {
            tern_ctx_close(c);
            return err;
        }
    }
    *ctxp = c;
    return TERN_OK;
}

void tern_ctx_close(tern_ctx *c)
{
    if (c == NULL)
        return;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        tern_socket h = {c->nsocks ? c->socks[c->nsocks - 1]->id : 0};
        pthread_mutex_unlock(&c->lock);
        if (h.id == 0)
            break;
        /* Another thread may be closing it too; either way it goes. */
        if (tern_socket_close(h) == TERN_ECLOSED) {
            pthread_mutex_lock(&c->lock);
            int still = c->nsocks && c->socks[c->nsocks - 1]->id == h.id;
            pthread_mutex_unlock(&c->lock);
            if (still)
                sched_yield();
        }
    }
    for (int i = 0; i < c->nloops; i++)
        tn_loop_stop(c->loops[i]);
    free(c->loops);
    free(c->socks);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->inproc_lock);
    free(c);
}

tn_loop *tn_ctx_pick_loop(tern_ctx *c)
{
    unsigned i = atomic_fetch_add(&c->next_loop, 1);
    return c->loops[i % (unsigned)c->nloops];
}

tern_err tn_ctx_add_socket(tern_ctx *c, tn_sock *s)
{
    tern_err err = TERN_OK;
    pthread_mutex_lock(&c->lock);
    if (c->nsocks == c->capsocks) {
        size_t ncap = c->capsocks ? c->capsocks * 2 : 16;
        tn_sock **ns = realloc(c->socks, ncap * sizeof(*ns));
        if (ns == NULL)
            err = TERN_ENOMEM;
        else {
            c->socks = ns;
            c->capsocks = ncap;
        }
    }
    if (err == TERN_OK)
        c->socks[c->nsocks++] = s;
    pthread_mutex_unlock(&c->lock);
    return err;
}

void tn_ctx_remove_socket(tern_ctx *c, tn_sock *s)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nsocks; i++) {
        if (c->socks[i] == s) {
            c->socks[i] = c->socks[--c->nsocks];
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
}
