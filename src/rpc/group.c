/* Multicast RPC: one call to every member of a group of servers, the
 * replies collected as the mode says (first, all, quorum). Each member is an
 * ordinary client; completions arrive through future callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/client.h"
#include "rpc/resolve.h"

#define MAX_MEMBERS 1024

typedef struct member {
    char endpoint[256];
    tern_rpc_client *client; /* NULL: could not be bound */
    tern_err bind_err;
    char why[256];
} member;

struct tern_rpc_group {
    member *members;
    size_t n;
};

typedef struct slot {
    char endpoint[256]; /* the member's, copied: the group may close first */
    tern_rpc_future *f;
    tern_err status;
    char *error;
    bool finished;
} slot;

struct tern_rpc_multi {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    slot *slots;
    size_t n, finished, ok;
};

static tern_err add_member(tern_rpc_group *g, const char *endpoint)
{
    if (g->n >= MAX_MEMBERS)
        return TERN_EMSGSIZE;
    member *more = realloc(g->members, (g->n + 1) * sizeof *more);
    if (more == NULL)
        return TERN_ENOMEM;
    g->members = more;
    member *m = &g->members[g->n++];
    memset(m, 0, sizeof *m);
    snprintf(m->endpoint, sizeof m->endpoint, "%s", endpoint);
    return TERN_OK;
}

tern_err tern_rpc_group_open(tern_ctx *ctx, const char *const *targets, size_t n, const tern_rpc_iface *iface,
                             const tern_rpc_client_opts *opts, tern_rpc_group **gp)
{
    if (ctx == NULL || targets == NULL || n == 0 || iface == NULL || gp == NULL)
        return TERN_EINVAL;
    *gp = NULL;
    tern_rpc_group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return TERN_ENOMEM;
    tern_err err = TERN_OK;
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        if (targets[i] == NULL) {
            err = TERN_EINVAL;
        } else if (strncmp(targets[i], "tern://", 7) == 0) {
            /* Every registration of the name is a member. */
            char (*eps)[256] = malloc(64 * sizeof *eps);
            size_t found = 0;
            char why[256] = "";
            if (eps == NULL) {
                err = TERN_ENOMEM;
                break;
            }
            err = tn_rpc_resolve(ctx, targets[i], iface, eps, 64, &found, why, sizeof why);
            for (size_t k = 0; err == TERN_OK && k < found && k < 64; k++)
                err = add_member(g, eps[k]);
            if (err != TERN_OK)
                tn_rpc_set_last_error(why);
            free(eps);
        } else {
            err = add_member(g, targets[i]);
        }
    }
    if (err != TERN_OK) {
        tern_rpc_group_close(g);
        return err;
    }
    for (size_t i = 0; i < g->n; i++) {
        member *m = &g->members[i];
        m->bind_err = tern_rpc_client_open(ctx, m->endpoint, iface, opts, &m->client);
        if (m->bind_err != TERN_OK)
            snprintf(m->why, sizeof m->why, "%s", tern_rpc_last_error());
    }
    *gp = g;
    return TERN_OK;
}

void tern_rpc_group_close(tern_rpc_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++)
        tern_rpc_client_close(g->members[i].client);
    free(g->members);
    free(g);
}

size_t tern_rpc_group_size(const tern_rpc_group *g)
{
    return g ? g->n : 0;
}

typedef struct done_arg {
    tern_rpc_multi *m;
    size_t i;
} done_arg;

static void member_done(tern_rpc_future *f, void *arg)
{
    done_arg *d = arg;
    tern_rpc_multi *m = d->m;
    pthread_mutex_lock(&m->lock);
    slot *s = &m->slots[d->i];
    if (!s->finished) {
        s->finished = true;
        s->status = f->status;
        m->finished++;
        if (s->status == TERN_OK)
            m->ok++;
    }
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

static bool satisfied(const tern_rpc_multi *m, int mode, size_t quorum)
{
    if (m->finished == m->n)
        return true;
    if (mode == TERN_RPC_FIRST)
        return m->ok >= 1;
    if (mode == TERN_RPC_QUORUM)
        return m->ok >= quorum || m->n - m->finished + m->ok < quorum; /* met, or cannot be */
    return false;
}

/* The error a failed multicall reports: the most telling member status. */
static tern_err summary(const tern_rpc_multi *m)
{
    static const tern_err rank[] = {TERN_EAPP, TERN_EBADARGS, TERN_ENOMETHOD, TERN_EVERSION,
                                    TERN_ENOIFACE, TERN_ETIMEDOUT, TERN_EUNAVAILABLE};
    for (size_t r = 0; r < sizeof rank / sizeof rank[0]; r++) {
        for (size_t i = 0; i < m->n; i++) {
            if (m->slots[i].status == rank[r])
                return rank[r];
        }
    }
    for (size_t i = 0; i < m->n; i++) {
        if (m->slots[i].status != TERN_OK)
            return m->slots[i].status;
    }
    return TERN_EUNAVAILABLE;
}

tern_err tern_rpc_multicall(tern_rpc_group *g, uint32_t method, const tern_rpc_opts *opts, int mode, size_t quorum,
                            const tern_xdr_enc *const *args, size_t nargs, tern_rpc_multi **mp)
{
    if (g == NULL || mp == NULL || (nargs != 1 && nargs != g->n) || args == NULL ||
        (mode != TERN_RPC_FIRST && mode != TERN_RPC_ALL && mode != TERN_RPC_QUORUM) ||
        (mode == TERN_RPC_QUORUM && (quorum == 0 || quorum > g->n)))
        return TERN_EINVAL;
    *mp = NULL;
    tern_rpc_multi *m = calloc(1, sizeof *m);
    done_arg *dargs = calloc(g->n, sizeof *dargs);
    if (m == NULL || dargs == NULL || (m->slots = calloc(g->n, sizeof *m->slots)) == NULL) {
        free(m);
        free(dargs);
        return TERN_ENOMEM;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->n = g->n;
    for (size_t i = 0; i < g->n; i++)
        memcpy(m->slots[i].endpoint, g->members[i].endpoint, sizeof m->slots[i].endpoint);

    /* One body per distinct argument encoding, shared by the members'
     * requests rather than copied for each. */
    tern_msg **bodies = calloc(nargs, sizeof *bodies);
    if (bodies == NULL) {
        tern_rpc_multi_free(m);
        free(dargs);
        return TERN_ENOMEM;
    }
    for (size_t k = 0; k < nargs; k++) {
        if (tern_msg_new(&bodies[k]) != TERN_OK ||
            tern_msg_append(bodies[k], args[k]->buf, args[k]->len) != TERN_OK) {
            for (size_t j = 0; j <= k; j++)
                tern_msg_free(bodies[j]);
            free(bodies);
            tern_rpc_multi_free(m);
            free(dargs);
            return TERN_ENOMEM;
        }
    }
    /* Start every member's call first, so they all run at once. */
    for (size_t i = 0; i < g->n; i++) {
        slot *s = &m->slots[i];
        const member *mb = &g->members[i];
        const tern_msg *body = bodies[nargs == 1 ? 0 : i];
        tern_err err = args[nargs == 1 ? 0 : i]->err;
        if (err == TERN_OK)
            err = mb->client ? tn_rpc_start_body(mb->client, method, opts, tern_msg_data(body, 0),
                                                 tern_msg_size(body, 0), body, &s->f)
                             : mb->bind_err;
        if (err == TERN_OK && s->f == NULL) { /* oneway: nothing comes back */
            s->finished = true;
            m->finished++;
            m->ok++;
            continue;
        }
        if (err != TERN_OK) {
            s->finished = true;
            s->status = err;
            s->error = strdup(mb->client ? tern_strerror(err) : mb->why);
            m->finished++;
        }
    }
    for (size_t k = 0; k < nargs; k++)
        tern_msg_free(bodies[k]);
    free(bodies);
    for (size_t i = 0; i < g->n; i++) {
        if (m->slots[i].f) {
            dargs[i] = (done_arg){m, i};
            tern_err err = tern_rpc_future_on_done(m->slots[i].f, member_done, &dargs[i]);
            if (err != TERN_OK) {
                /* Nobody would report this member: give up on it now. */
                tern_rpc_future_cancel(m->slots[i].f);
                pthread_mutex_lock(&m->lock);
                if (!m->slots[i].finished) {
                    m->slots[i].finished = true;
                    m->slots[i].status = err;
                    m->finished++;
                }
                pthread_mutex_unlock(&m->lock);
            }
        }
    }
    pthread_mutex_lock(&m->lock);
    while (!satisfied(m, mode, quorum))
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);

    /* Stop what is no longer needed, then collect every member's outcome. */
    for (size_t i = 0; i < g->n; i++) {
        if (m->slots[i].f)
            tern_rpc_future_cancel(m->slots[i].f);
    }
    pthread_mutex_lock(&m->lock);
    while (m->finished < m->n)
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < g->n; i++) {
        slot *s = &m->slots[i];
        if (s->f && s->error == NULL && s->status != TERN_OK)
            s->error = strdup(tern_rpc_future_error(s->f)[0] ? tern_rpc_future_error(s->f) : tern_strerror(s->status));
    }
    free(dargs);
    *mp = m;
    if (mode == TERN_RPC_ALL)
        return TERN_OK;
    size_t need = mode == TERN_RPC_FIRST ? 1 : quorum;
    return m->ok >= need ? TERN_OK : summary(m);
}

size_t tern_rpc_multi_count(const tern_rpc_multi *m)
{
    return m ? m->n : 0;
}

tern_err tern_rpc_multi_status(const tern_rpc_multi *m, size_t i)
{
    return m && i < m->n ? m->slots[i].status : TERN_EINVAL;
}

const char *tern_rpc_multi_error(const tern_rpc_multi *m, size_t i)
{
    return m && i < m->n && m->slots[i].error ? m->slots[i].error : "";
}

const char *tern_rpc_multi_endpoint(const tern_rpc_multi *m, size_t i)
{
    return m && i < m->n ? m->slots[i].endpoint : "";
}

tern_err tern_rpc_multi_reply(const tern_rpc_multi *m, size_t i, tern_xdr_dec *d)
{
    if (m == NULL || i >= m->n || d == NULL)
        return TERN_EINVAL;
    if (m->slots[i].status != TERN_OK)
        return m->slots[i].status;
    if (m->slots[i].f == NULL) { /* oneway */
        tern_xdr_dec_init(d, NULL, 0);
        return TERN_OK;
    }
    /* A member's reply may be decoded again: its bytes stay in it. */
    return tn_rpc_future_decoder(m->slots[i].f, d, false);
}

void tern_rpc_multi_free(tern_rpc_multi *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        tern_rpc_future_free(m->slots[i].f);
        free(m->slots[i].error);
    }
    free(m->slots);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
