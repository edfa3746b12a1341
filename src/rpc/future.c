/* Futures: one call in flight, waited on, polled, cancelled or called back. */
#include <stdlib.h>

#include "rpc/client.h"
#include "rpc/ool.h"

/* Finishes a call whose deadline passed even if nobody is reading (lock held). */
static void check_deadline(tern_rpc_client *c, tern_rpc_future *f)
{
    if (!f->done && tern_clock_ns() >= f->deadline_ns)
        tn_rpc_finish(c, f, TERN_ETIMEDOUT, "deadline passed before a reply came");
}

bool tern_rpc_future_done(tern_rpc_future *f)
{
    if (f == NULL)
        return true;
    tern_rpc_client *c = f->client;
    if (c == NULL)
        return true;
    pthread_mutex_lock(&c->lock);
    /* Polling drives the call when no one else reads: take what arrived. */
    if (!f->done && !c->reading)
        tn_rpc_client_wait(c, f, false, tern_clock_ns());
    check_deadline(c, f);
    bool done = f->done;
    tn_rpc_client_unlock(c);
    return done;
}

tern_err tern_rpc_future_wait(tern_rpc_future *f, int64_t timeout_ms)
{
    if (f == NULL)
        return TERN_EINVAL;
    tern_rpc_client *c = f->client;
    if (c == NULL)
        return f->status;
    pthread_mutex_lock(&c->lock);
    uint64_t until = timeout_ms < 0 ? 0 : tern_clock_ns() + tn_rpc_ms_to_ns(timeout_ms);
    if (timeout_ms == 0)
        until = tern_clock_ns();
    tn_rpc_client_wait(c, f, false, until);
    tern_err err = f->done ? f->status : TERN_EAGAIN;
    tn_rpc_client_unlock(c);
    return err;
}

bool tern_rpc_future_accepted(tern_rpc_future *f)
{
    if (f == NULL)
        return false;
    tern_rpc_client *c = f->client;
    if (c == NULL)
        return f->accepted || f->done;
    pthread_mutex_lock(&c->lock);
    if (!f->done && !f->accepted && !c->reading)
        tn_rpc_client_wait(c, f, true, tern_clock_ns());
    bool ok = f->accepted || f->done;
    tn_rpc_client_unlock(c);
    return ok;
}

tern_err tern_rpc_future_status(tern_rpc_future *f)
{
    if (f == NULL)
        return TERN_EINVAL;
    return tern_rpc_future_done(f) ? f->status : TERN_EAGAIN;
}

const char *tern_rpc_future_error(tern_rpc_future *f)
{
    if (f == NULL || !f->done || f->error == NULL)
        return "";
    return f->error;
}

tern_err tn_rpc_future_decoder(tern_rpc_future *f, tern_xdr_dec *d, bool take)
{
    if (f == NULL || d == NULL)
        return TERN_EINVAL;
    if (!f->done)
        return TERN_EAGAIN;
    if (f->status != TERN_OK)
        return f->status;
    tn_rpc_ool_decoder(d, f->reply, 1, tn_rpc_ool_flagged(f->reply, 0), take);
    return TERN_OK;
}

tern_err tern_rpc_future_reply(tern_rpc_future *f, tern_xdr_dec *d)
{
    return tn_rpc_future_decoder(f, d, true);
}

void tern_rpc_future_cancel(tern_rpc_future *f)
{
    if (f == NULL || f->client == NULL)
        return;
    tern_rpc_client *c = f->client;
    pthread_mutex_lock(&c->lock);
    if (!f->done) {
        tn_rpc_forget(c, f, true);
        /* Forgotten from the table already: finish by hand. */
        f->done = true;
        f->status = TERN_ECANCELED;
        tern_msg_free(f->request);
        f->request = NULL;
        if (f->done_fn) {
            f->next = c->callbacks;
            c->callbacks = f;
        }
        pthread_cond_broadcast(&c->cond);
    }
    tn_rpc_client_unlock(c);
}

tern_err tern_rpc_future_on_done(tern_rpc_future *f, tern_rpc_done_fn *fn, void *arg)
{
    if (f == NULL || fn == NULL)
        return TERN_EINVAL;
    tern_rpc_client *c = f->client;
    if (c == NULL || f->done) {
        fn(f, arg);
        return TERN_OK;
    }
    pthread_mutex_lock(&c->lock);
    if (f->done) {
        pthread_mutex_unlock(&c->lock);
        fn(f, arg);
        return TERN_OK;
    }
    tern_err err = tn_rpc_client_background(c);
    if (err == TERN_OK) {
        f->done_fn = fn;
        f->done_arg = arg;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

void tern_rpc_future_free(tern_rpc_future *f)
{
    if (f == NULL)
        return;
    tern_rpc_client *c = f->client;
    if (c != NULL) {
        pthread_mutex_lock(&c->lock);
        if (!f->done)
            tn_rpc_forget(c, f, true);
        /* Finished but its callback not yet run: it must not run now. */
        for (tern_rpc_future **pp = &c->callbacks; *pp; pp = &(*pp)->next) {
            if (*pp == f) {
                *pp = f->next;
                break;
            }
        }
        pthread_mutex_unlock(&c->lock);
        tn_rpc_client_unref(c);
    }
    tern_msg_free(f->request);
    tern_msg_free(f->reply);
    free(f->error);
    free(f);
}
