/* Range and round-robin assignment. */
#include "kclient/assign.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kclient/proto_util.h"

static int kstr_cmp(tn_kstr a, tn_kstr b)
{
    size_t la = a.len > 0 ? (size_t)a.len : 0, lb = b.len > 0 ? (size_t)b.len : 0;
    int c = memcmp(a.p ? a.p : "", b.p ? b.p : "", la < lb ? la : lb);
    if (c != 0)
        return c;
    return la < lb ? -1 : la > lb;
}

static int member_cmp(const tn_kc_member *a, const tn_kc_member *b)
{
    bool ia = a->instance.len >= 0, ib = b->instance.len >= 0;
    if (ia && ib)
        return kstr_cmp(a->instance, b->instance);
    if (ia != ib)
        return ia ? -1 : 1;
    return kstr_cmp(a->id, b->id);
}

static int member_ptr_cmp(const void *a, const void *b)
{
    return member_cmp(*(const tn_kc_member *const *)a, *(const tn_kc_member *const *)b);
}

static int topic_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const tn_kc_topic_count *const *)a)->name,
                  (*(const tn_kc_topic_count *const *)b)->name);
}

static bool subscribes(const tn_kc_member *m, const char *topic)
{
    for (int32_t i = 0; i < m->ntopics; i++) {
        if (tn_kc_kstr_eq(m->topics[i], topic))
            return true;
    }
    return false;
}

static tern_err give(tn_kc_share *s, const char *topic, int32_t partition)
{
    if ((s->n & (s->n - 1)) == 0) { /* grow at powers of two */
        tn_kc_preq *p = realloc(s->parts, (s->n ? 2 * s->n : 1) * sizeof *p);
        if (p == NULL)
            return TERN_ENOMEM;
        s->parts = p;
    }
    memset(&s->parts[s->n], 0, sizeof s->parts[s->n]);
    s->parts[s->n].topic = topic;
    s->parts[s->n].partition = partition;
    s->n++;
    return TERN_OK;
}

/* order: the members sorted; torder: the topics sorted. */
static tern_err assign_range(const tn_kc_member *members, const tn_kc_member *const *order,
                             size_t nmembers, const tn_kc_topic_count *const *torder,
                             size_t ntopics, tn_kc_share *out, size_t *subs)
{
    for (size_t ti = 0; ti < ntopics; ti++) {
        const tn_kc_topic_count *t = torder[ti];
        if (t->partitions <= 0)
            continue;
        size_t nsubs = 0;
        for (size_t i = 0; i < nmembers; i++) {
            if (subscribes(order[i], t->name))
                subs[nsubs++] = (size_t)(order[i] - members);
        }
        if (nsubs == 0)
            continue;
        size_t per = (size_t)t->partitions / nsubs, extra = (size_t)t->partitions % nsubs;
        for (size_t i = 0; i < nsubs; i++) {
            size_t start = per * i + (i < extra ? i : extra);
            size_t len = per + (i < extra);
            for (size_t p = start; p < start + len; p++) {
                if (give(&out[subs[i]], t->name, (int32_t)p) != TERN_OK)
                    return TERN_ENOMEM;
            }
        }
    }
    return TERN_OK;
}

static tern_err assign_roundrobin(const tn_kc_member *members, const tn_kc_member *const *order,
                                  size_t nmembers, const tn_kc_topic_count *const *torder,
                                  size_t ntopics, tn_kc_share *out)
{
    size_t next = 0; /* in member order */
    for (size_t ti = 0; ti < ntopics; ti++) {
        const tn_kc_topic_count *t = torder[ti];
        bool any = false;
        for (size_t i = 0; i < nmembers && !any; i++)
            any = subscribes(&members[i], t->name);
        if (t->partitions <= 0 || !any)
            continue;
        for (int32_t p = 0; p < t->partitions; p++) {
            while (!subscribes(order[next], t->name))
                next = (next + 1) % nmembers;
            if (give(&out[order[next] - members], t->name, p) != TERN_OK)
                return TERN_ENOMEM;
            next = (next + 1) % nmembers;
        }
    }
    return TERN_OK;
}

void tn_kc_shares_free(tn_kc_share *shares, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(shares[i].parts);
        shares[i].parts = NULL;
        shares[i].n = 0;
    }
}

tern_err tn_kc_assign(const char *protocol, const tn_kc_member *members, size_t nmembers,
                      const tn_kc_topic_count *topics, size_t ntopics, tn_kc_share *out)
{
    bool range = strcmp(protocol, "range") == 0;
    if (!range && strcmp(protocol, "roundrobin") != 0)
        return TERN_ENOTSUP;
    memset(out, 0, nmembers * sizeof *out);
    if (nmembers == 0)
        return TERN_OK;
    const tn_kc_member **order = malloc(nmembers * sizeof *order);
    size_t *subs = malloc(nmembers * sizeof *subs);
    const tn_kc_topic_count **torder = malloc((ntopics ? ntopics : 1) * sizeof *torder);
    tern_err err = TERN_ENOMEM;
    if (order && subs && torder) {
        for (size_t i = 0; i < nmembers; i++)
            order[i] = &members[i];
        for (size_t i = 0; i < ntopics; i++)
            torder[i] = &topics[i];
        qsort(order, nmembers, sizeof *order, member_ptr_cmp);
        qsort(torder, ntopics, sizeof *torder, topic_ptr_cmp);
        err = range ? assign_range(members, order, nmembers, torder, ntopics, out, subs)
                    : assign_roundrobin(members, order, nmembers, torder, ntopics, out);
    }
    free((void *)order);
    free(subs);
    free((void *)torder);
    if (err != TERN_OK)
        tn_kc_shares_free(out, nmembers);
    return err;
}
