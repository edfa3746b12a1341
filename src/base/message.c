/* tern_msg: multipart messages with refcounted, optionally zero-copy parts. */
#include <stdlib.h>
#include <string.h>

#include "base/copy.h"
#include "base/message.h"
#include "base/pool.h"

static tern_msg *msg_new(size_t inline_bytes)
{
    tern_msg *m = malloc(sizeof(*m) + inline_bytes);
    if (m == NULL)
        return NULL;
    m->nparts = 0;
    m->cap = TN_MSG_INLINE_PARTS;
    m->total = 0;
    m->parts = m->inl;
    return m;
}

tern_err tern_msg_new(tern_msg **msgp)
{
    if (msgp == NULL)
        return TERN_EINVAL;
    *msgp = msg_new(0);
    return *msgp ? TERN_OK : TERN_ENOMEM;
}

tern_err tern_msg_alloc(tern_msg **msgp, size_t size)
{
    if (msgp == NULL)
        return TERN_EINVAL;
    if (size > TN_MSG_INLINE_MAX) {
        tern_msg *m = msg_new(0);
        uint8_t *data;
        if (m == NULL)
            return TERN_ENOMEM;
        if (tn_msg_append_alloc(m, size, &data) != TERN_OK) {
            free(m);
            return TERN_ENOMEM;
        }
        *msgp = m;
        return TERN_OK;
    }
    /* Always the full inline size, so the memory can serve any small
     * message later (see tn_msg_shell_reuse). */
    tern_msg *m = msg_new(TN_MSG_INLINE_MAX);
    if (m == NULL)
        return TERN_ENOMEM;
    tn_msg_shell_reuse(m, size);
    *msgp = m;
    return TERN_OK;
}

int tn_msg_is_shell(const tern_msg *m)
{
    return m->nparts == 1 && m->parts == m->inl && m->inl[0].body == NULL &&
           m->inl[0].data == (uint8_t *)(m + 1);
}

void tn_msg_shell_reuse(tern_msg *m, size_t size)
{
    m->nparts = 1;
    m->total = size;
    m->parts[0] = (tn_part){(uint8_t *)(m + 1), size, NULL};
}

static tern_err grow_parts(tern_msg *m)
{
    if (m->nparts < m->cap)
        return TERN_OK;
    if (m->cap > UINT32_MAX / 2)
        return TERN_ENOMEM;
    uint32_t ncap = m->cap * 2;
    tn_part *np;
    if (m->parts == m->inl) {
        np = malloc(ncap * sizeof(*np));
        if (np != NULL)
            memcpy(np, m->inl, sizeof(m->inl));
    } else {
        np = realloc(m->parts, ncap * sizeof(*np));
    }
    if (np == NULL)
        return TERN_ENOMEM;
    m->parts = np;
    m->cap = ncap;
    return TERN_OK;
}

/* Where a pooled body's header sits in its block: after the bytes, so
 * that the bytes start the block and can be handed out as memory from
 * malloc (tn_msg_part_steal). */
static size_t body_offset(size_t size)
{
    return (size + _Alignof(tn_body) - 1) & ~(size_t)(_Alignof(tn_body) - 1);
}

/* A refcounted body holding size bytes of its own, or NULL. */
static tn_body *body_alloc(size_t size)
{
    if (size > SIZE_MAX - sizeof(tn_body) - _Alignof(tn_body))
        return NULL;
    uint8_t *block = tn_pool_alloc(body_offset(size) + sizeof(tn_body));
    if (block == NULL)
        return NULL;
    tn_body *b = (tn_body *)(block + body_offset(size));
    atomic_init(&b->refs, 1);
    b->free_fn = NULL;
    b->arg = NULL;
    b->data = block;
    b->size = size;
    b->pooled = true;
    return b;
}

tern_err tn_msg_append_alloc(tern_msg *m, size_t size, uint8_t **datap)
{
    if (grow_parts(m) != TERN_OK)
        return TERN_ENOMEM;
    tn_part *p = &m->parts[m->nparts];
    if (size == 0) {
        *p = (tn_part){NULL, 0, NULL};
    } else {
        tn_body *b = body_alloc(size);
        if (b == NULL)
            return TERN_ENOMEM;
        *p = (tn_part){b->data, size, b};
    }
    m->nparts++;
    m->total += size;
    if (datap != NULL)
        *datap = p->data;
    return TERN_OK;
}

tern_err tern_msg_append(tern_msg *m, const void *data, size_t size)
{
    uint8_t *dst;
    if (m == NULL || (data == NULL && size > 0))
        return TERN_EINVAL;
    tern_err err = tn_msg_append_alloc(m, size, &dst);
    if (err == TERN_OK && size > 0)
        tn_copy(dst, data, size);
    return err;
}

tern_err tern_msg_append_ref(tern_msg *m, void *data, size_t size, tern_free_fn *free_fn, void *arg)
{
    if (m == NULL || (data == NULL && size > 0))
        return TERN_EINVAL;
    if (grow_parts(m) != TERN_OK)
        return TERN_ENOMEM;
    tn_body *b = malloc(sizeof(*b));
    if (b == NULL)
        return TERN_ENOMEM;
    atomic_init(&b->refs, 1);
    b->free_fn = free_fn;
    b->arg = arg;
    b->data = data;
    b->pooled = false;
    m->parts[m->nparts++] = (tn_part){data, size, b};
    m->total += size;
    return TERN_OK;
}

static void body_release(tn_body *b)
{
    if (b == NULL || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->free_fn != NULL)
        b->free_fn(b->data, b->arg);
    if (b->pooled)
        tn_pool_free(b->data, body_offset(b->size) + sizeof(*b));
    else
        free(b);
}

void tern_msg_free(tern_msg *m)
{
    if (m == NULL)
        return;
    for (uint32_t i = 0; i < m->nparts; i++)
        body_release(m->parts[i].body);
    if (m->parts != m->inl)
        free(m->parts);
    free(m);
}

tern_err tern_msg_dup(const tern_msg *m, tern_msg **dupp)
{
    if (m == NULL || dupp == NULL)
        return TERN_EINVAL;
    tern_msg *d;
    uint32_t first = 0;
    /* An inline part 0 cannot be shared: copy it inline again. */
    if (m->nparts > 0 && m->parts[0].size > 0 && m->parts[0].body == NULL) {
        if (tern_msg_alloc(&d, m->parts[0].size) != TERN_OK)
            return TERN_ENOMEM;
        memcpy(d->parts[0].data, m->parts[0].data, m->parts[0].size);
        first = 1;
    } else if (tern_msg_new(&d) != TERN_OK) {
        return TERN_ENOMEM;
    }
    for (uint32_t i = first; i < m->nparts; i++) {
        if (grow_parts(d) != TERN_OK) {
            tern_msg_free(d);
            return TERN_ENOMEM;
        }
        const tn_part *p = &m->parts[i];
        if (p->body == NULL && p->size > 0) {
            /* Bytes inside m's own allocation: copy, never share. */
            if (tern_msg_append(d, p->data, p->size) != TERN_OK) {
                tern_msg_free(d);
                return TERN_ENOMEM;
            }
            continue;
        }
        if (p->body != NULL)
            atomic_fetch_add_explicit(&p->body->refs, 1, memory_order_relaxed);
        d->parts[d->nparts++] = *p;
        d->total += p->size;
    }
    *dupp = d;
    return TERN_OK;
}

size_t tern_msg_parts(const tern_msg *m)
{
    return m ? m->nparts : 0;
}

void *tern_msg_data(const tern_msg *m, size_t part)
{
    return (m && part < m->nparts) ? m->parts[part].data : NULL;
}

bool tn_msg_part_private(const tern_msg *m, size_t part)
{
    if (m == NULL || part >= m->nparts)
        return false;
    const tn_body *b = m->parts[part].body;
    return b == NULL ||
           (b->free_fn == NULL && atomic_load_explicit(&b->refs, memory_order_acquire) == 1);
}

void *tn_msg_part_steal(tern_msg *m, size_t part)
{
    if (!tn_msg_part_private(m, part))
        return NULL;
    tn_part *p = &m->parts[part];
    tn_body *b = p->body;
    /* Only a pooled block that starts with exactly this part's bytes can
     * leave as memory from malloc; inline parts live in the message. */
    if (b == NULL || !b->pooled || p->data != b->data || p->size != b->size)
        return NULL;
    void *bytes = b->data; /* the header inside goes with it */
    m->total -= p->size;
    *p = (tn_part){NULL, 0, NULL};
    return bytes;
}

tern_err tn_msg_append_share(tern_msg *dst, const tern_msg *src, size_t part, const void *data,
                             size_t size)
{
    const tn_part *p = &src->parts[part];
    if (p->body == NULL)
        return tern_msg_append(dst, data, size);
    if (grow_parts(dst) != TERN_OK)
        return TERN_ENOMEM;
    atomic_fetch_add_explicit(&p->body->refs, 1, memory_order_relaxed);
    dst->parts[dst->nparts++] = (tn_part){(uint8_t *)data, size, p->body};
    dst->total += size;
    return TERN_OK;
}

bool tn_msg_swap_last(tern_msg *m, tern_msg *other)
{
    if (m->nparts == 0 || other->nparts != 1)
        return false;
    tn_part *a = &m->parts[m->nparts - 1], *b = &other->parts[0];
    if (a->body == NULL || b->body == NULL || a->size != b->size)
        return false;
    tn_part t = *a;
    *a = *b;
    *b = t;
    return true;
}

size_t tern_msg_size(const tern_msg *m, size_t part)
{
    return (m && part < m->nparts) ? m->parts[part].size : 0;
}

size_t tern_msg_total(const tern_msg *m)
{
    return m ? m->total : 0;
}

/* A body holding a copy of part p, for moving it out of its message. */
static tern_err part_detach(const tn_part *p, tn_part *out)
{
    if (p->body != NULL || p->size == 0) {
        *out = *p;
        return TERN_OK;
    }
    tn_body *b = body_alloc(p->size);
    if (b == NULL)
        return TERN_ENOMEM;
    tn_copy(b->data, p->data, p->size);
    *out = (tn_part){b->data, p->size, b};
    return TERN_OK;
}

static tern_err reserve_parts(tern_msg *m, uint32_t extra)
{
    while (m->cap - m->nparts < extra) {
        uint32_t n = m->nparts;
        m->nparts = m->cap; /* grow_parts doubles a full array */
        tern_err err = grow_parts(m);
        m->nparts = n;
        if (err != TERN_OK)
            return err;
    }
    return TERN_OK;
}

/* Part 0 may live inside the message's own allocation, which only index 0
 * may do (tern_msg_dup relies on it): give it a body before it moves. */
static tern_err detach_inline_front(tern_msg *m)
{
    if (m->nparts == 0 || m->parts[0].body != NULL || m->parts[0].size == 0)
        return TERN_OK;
    return part_detach(&m->parts[0], &m->parts[0]);
}

tern_err tn_msg_push_front(tern_msg *m, const void *data, size_t size)
{
    tern_err err = detach_inline_front(m);
    if (err != TERN_OK)
        return err;
    err = tern_msg_append(m, data, size);
    if (err != TERN_OK)
        return err;
    tn_part p = m->parts[m->nparts - 1];
    memmove(&m->parts[1], &m->parts[0], (m->nparts - 1) * sizeof(*m->parts));
    m->parts[0] = p;
    return TERN_OK;
}

tern_err tn_msg_move_front(tern_msg *src, size_t k, tern_msg *dst)
{
    if (k > src->nparts)
        k = src->nparts;
    if (dst != NULL) {
        if (k > UINT32_MAX - dst->nparts || reserve_parts(dst, (uint32_t)k) != TERN_OK)
            return TERN_ENOMEM;
        for (size_t i = 0; i < k; i++) {
            tn_part p;
            if (part_detach(&src->parts[i], &p) != TERN_OK) {
                while (i-- > 0) { /* undo: the copies go, src keeps its parts */
                    tn_part *q = &dst->parts[--dst->nparts];
                    dst->total -= q->size;
                    if (src->parts[i].body == NULL)
                        body_release(q->body);
                }
                return TERN_ENOMEM;
            }
            dst->parts[dst->nparts++] = p;
            dst->total += p.size;
        }
    }
    for (size_t i = 0; i < k; i++) {
        src->total -= src->parts[i].size;
        if (dst == NULL)
            body_release(src->parts[i].body);
    }
    memmove(&src->parts[0], &src->parts[k], (src->nparts - k) * sizeof(*src->parts));
    src->nparts -= (uint32_t)k;
    return TERN_OK;
}

tern_err tn_msg_prepend_msg(tern_msg *dst, tern_msg *front)
{
    uint32_t k = front->nparts;
    if (k > UINT32_MAX - dst->nparts || reserve_parts(dst, k) != TERN_OK ||
        detach_inline_front(dst) != TERN_OK)
        return TERN_ENOMEM;
    tn_part *moved = k <= 8 ? (tn_part[8]){{0}} : malloc(k * sizeof(*moved));
    if (moved == NULL)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < k; i++) {
        if (part_detach(&front->parts[i], &moved[i]) != TERN_OK) {
            while (i-- > 0) {
                if (front->parts[i].body == NULL)
                    body_release(moved[i].body);
            }
            if (k > 8)
                free(moved);
            return TERN_ENOMEM;
        }
    }
    memmove(&dst->parts[k], &dst->parts[0], dst->nparts * sizeof(*dst->parts));
    memcpy(&dst->parts[0], moved, k * sizeof(*moved));
    dst->nparts += k;
    dst->total += front->total;
    if (k > 8)
        free(moved);
    /* Bodies now belong to dst: free front without releasing them. */
    for (uint32_t i = 0; i < k; i++) {
        if (front->parts[i].body == NULL)
            continue;
        front->parts[i].body = NULL;
    }
    front->nparts = 0;
    tern_msg_free(front);
    return TERN_OK;
}
