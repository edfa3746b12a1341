/* Prefix subscriptions: an open-addressing hash table of topics, plus the
 * sorted distinct topic lengths that matching probes. */
#include <stdlib.h>
#include <string.h>

#include "msg/subs.h"

typedef struct sub_entry {
    uint64_t hash;
    uint8_t *topic; /* NULL: empty slot */
    size_t len;
    uint32_t count;
} sub_entry;

typedef struct len_count {
    size_t len;
    size_t topics;
} len_count;

struct tn_subs {
    sub_entry *slots;
    size_t cap, used, tombs, bytes;
    len_count *lens; /* ascending len */
    size_t nlens, caplens;
};

/* A tombstone keeps probe chains intact after a removal. */
static uint8_t tomb_mark;
#define TOMB (&tomb_mark)

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t hash_step(uint64_t h, uint8_t b)
{
    return (h ^ b) * FNV_PRIME;
}

/* Mixes in the length, so a prefix and a longer topic sharing its running
 * hash differ. */
static uint64_t hash_final(uint64_t h, size_t len)
{
    h ^= (uint64_t)len * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return h ? h : 1;
}

static uint64_t hash_of(const uint8_t *t, size_t len)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < len; i++)
        h = hash_step(h, t[i]);
    return hash_final(h, len);
}

tn_subs *tn_subs_new(void)
{
    return calloc(1, sizeof(tn_subs));
}

void tn_subs_free(tn_subs *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].topic != NULL && s->slots[i].topic != TOMB)
            free(s->slots[i].topic);
    }
    free(s->slots);
    free(s->lens);
    free(s);
}

static sub_entry *find(const tn_subs *s, uint64_t h, const uint8_t *t, size_t len)
{
    if (s->cap == 0)
        return NULL;
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        sub_entry *e = &s->slots[i];
        if (e->topic == NULL)
            return NULL;
        if (e->topic != TOMB && e->hash == h && e->len == len && (len == 0 || memcmp(e->topic, t, len) == 0))
            return e;
    }
}

static int grow(tn_subs *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 16;
    if (s->used * 2 < s->cap)
        ncap = s->cap; /* mostly tombstones: rehash in place */
    sub_entry *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        sub_entry *e = &s->slots[i];
        if (e->topic == NULL || e->topic == TOMB)
            continue;
        size_t j = e->hash & (ncap - 1);
        while (ns[j].topic != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = *e;
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    s->tombs = 0;
    return 0;
}

static int len_add(tn_subs *s, size_t len)
{
    size_t i = 0;
    while (i < s->nlens && s->lens[i].len < len)
        i++;
    if (i < s->nlens && s->lens[i].len == len) {
        s->lens[i].topics++;
        return 0;
    }
    if (s->nlens == s->caplens) {
        size_t ncap = s->caplens ? s->caplens * 2 : 8;
        len_count *nl = realloc(s->lens, ncap * sizeof(*nl));
        if (nl == NULL)
            return -1;
        s->lens = nl;
        s->caplens = ncap;
    }
    memmove(&s->lens[i + 1], &s->lens[i], (s->nlens - i) * sizeof(*s->lens));
    s->lens[i] = (len_count){len, 1};
    s->nlens++;
    return 0;
}

static void len_remove(tn_subs *s, size_t len)
{
    for (size_t i = 0; i < s->nlens; i++) {
        if (s->lens[i].len == len) {
            if (--s->lens[i].topics == 0) {
                memmove(&s->lens[i], &s->lens[i + 1], (s->nlens - i - 1) * sizeof(*s->lens));
                s->nlens--;
            }
            return;
        }
    }
}

int tn_subs_add(tn_subs *s, const uint8_t *t, size_t len)
{
    uint64_t h = hash_of(t, len);
    sub_entry *e = find(s, h, t, len);
    if (e != NULL) {
        if (e->count == UINT32_MAX)
            return -1;
        e->count++;
        return 0;
    }
    if ((s->used + s->tombs + 1) * 4 > s->cap * 3 && grow(s) != 0)
        return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL || len_add(s, len) != 0) {
        free(copy);
        return -1;
    }
    if (len)
        memcpy(copy, t, len);
    size_t i = h & (s->cap - 1);
    while (s->slots[i].topic != NULL && s->slots[i].topic != TOMB)
        i = (i + 1) & (s->cap - 1);
    if (s->slots[i].topic == TOMB)
        s->tombs--;
    s->slots[i] = (sub_entry){h, copy, len, 1};
    s->used++;
    s->bytes += len;
    return 1;
}

int tn_subs_remove(tn_subs *s, const uint8_t *t, size_t len)
{
    sub_entry *e = find(s, hash_of(t, len), t, len);
    if (e == NULL)
        return -1;
    if (--e->count > 0)
        return 0;
    free(e->topic);
    e->topic = TOMB;
    s->used--;
    s->tombs++;
    s->bytes -= len;
    len_remove(s, len);
    return 1;
}

int tn_subs_match(const tn_subs *s, const uint8_t *data, size_t len)
{
    if (s == NULL || s->nlens == 0)
        return 0;
    uint64_t h = FNV_OFFSET;
    size_t done = 0;
    for (size_t k = 0; k < s->nlens; k++) {
        size_t want = s->lens[k].len;
        if (want > len)
            return 0;
        for (; done < want; done++)
            h = hash_step(h, data[done]);
        if (find(s, hash_final(h, want), data, want) != NULL)
            return 1;
    }
    return 0;
}

size_t tn_subs_count(const tn_subs *s)
{
    return s ? s->used : 0;
}

size_t tn_subs_bytes(const tn_subs *s)
{
    return s ? s->bytes : 0;
}

void tn_subs_each(const tn_subs *s, void (*fn)(void *arg, const uint8_t *topic, size_t len), void *arg)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++) {
        const sub_entry *e = &s->slots[i];
        if (e->topic != NULL && e->topic != TOMB)
            fn(arg, e->topic, e->len);
    }
}
