/* The committed-offset store (offsets.h): chained hash tables in memory,
 * an append-only record file on disk, compaction by rewrite. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/trace.h"
#include "broker/offsets.h"

#define REC_HEAD 8 /* u32 length, u32 crc32c */
#define KIND_COMMIT 0
#define KIND_DROP 1
#define MAX_PAYLOAD (1 + 3 * (2 + TN_OFFSETS_MAX_STR) + 16)
/* Below this the file is left alone whatever its live share. */
#define COMPACT_MIN_BYTES (64 * 1024)
#define COMPACT_RATIO 4

/* Intrusive chained hash table; capacity a power of two, load <= 1. */
typedef struct hnode {
    struct hnode *next;
    uint64_t hash;
} hnode;

typedef struct htab {
    hnode **b;
    size_t cap;
    size_t n;
} htab;

/* One partition's committed offset; topic then metadata in s. */
typedef struct oent {
    hnode h;
    int32_t partition;
    int32_t leader_epoch;
    int64_t offset;
    uint16_t tlen;
    uint16_t mlen;
    char s[];
} oent;

/* One group's offsets. */
typedef struct ogrp {
    hnode h;
    htab ents;
    uint16_t nlen;
    char name[];
} ogrp;

struct tn_offsets {
    const tn_disk *disk;
    char *dir;
    char *path;
    char *tmp_path;
    int fd;
    int sync;
    tern_err failed; /* a failed write could not be undone: refuse the rest */
    uint64_t seed;
    htab groups;
    uint64_t file_bytes;
    uint64_t live_bytes; /* what a compacted file would hold */
    uint8_t *stage;
    size_t nstage;
    size_t capstage;
};

/* A decoded record; strings point into the buffer. */
typedef struct orec {
    uint8_t kind;
    const char *group;
    uint16_t glen;
    const char *topic;
    uint16_t tlen;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *meta;
    uint16_t mlen;
} orec;

static tern_err errno_err(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return TERN_ENOSPC;
    case ENOMEM:
        return TERN_ENOMEM;
    default:
        return TERN_ESYSTEM;
    }
}

static size_t kstr_len(tn_kstr s)
{
    return s.len > 0 ? (size_t)s.len : 0;
}

/* Never NULL, so memcmp and memcpy of zero bytes stay defined. */
static const char *kstr_ptr(tn_kstr s)
{
    return s.len > 0 ? s.p : "";
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
    return h;
}

/* Finalizer so the low bits (the bucket) depend on every input bit. */
static uint64_t hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t group_hash(const tn_offsets *o, const char *p, size_t n)
{
    return hash_mix(hash_bytes(o->seed ^ 0xcbf29ce484222325ull, p, n));
}

static uint64_t ent_hash(const tn_offsets *o, const char *topic, size_t tlen, int32_t partition)
{
    uint8_t pb[4];
    tn_put_be32(pb, (uint32_t)partition);
    uint64_t h = hash_bytes(o->seed ^ 0x84222325cbf29ce4ull, topic, tlen);
    return hash_mix(hash_bytes(h, pb, sizeof pb));
}

/* Makes room for one more node. */
static tern_err htab_reserve(htab *t)
{
    if (t->n < t->cap)
        return TERN_OK;
    size_t cap = t->cap ? t->cap * 2 : 8;
    hnode **b = calloc(cap, sizeof *b);
    if (!b)
        return TERN_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        for (hnode *x = t->b[i], *next; x; x = next) {
            next = x->next;
            x->next = b[x->hash & (cap - 1)];
            b[x->hash & (cap - 1)] = x;
        }
    }
    free(t->b);
    t->b = b;
    t->cap = cap;
    return TERN_OK;
}

static void htab_add(htab *t, hnode *x)
{
    hnode **slot = &t->b[x->hash & (t->cap - 1)];
    x->next = *slot;
    *slot = x;
    t->n++;
}

static void htab_unlink(htab *t, hnode *x)
{
    hnode **pp = &t->b[x->hash & (t->cap - 1)];
    while (*pp != x)
        pp = &(*pp)->next;
    *pp = x->next;
    t->n--;
}

static uint64_t rec_size(size_t glen, size_t tlen, size_t mlen)
{
    return REC_HEAD + 1 + 2 + glen + 2 + tlen + 4 + 8 + 4 + 2 + mlen;
}

static ogrp *group_find(tn_offsets *o, const char *name, size_t len)
{
    if (!o->groups.cap)
        return NULL;
    uint64_t h = group_hash(o, name, len);
    for (hnode *x = o->groups.b[h & (o->groups.cap - 1)]; x; x = x->next) {
        ogrp *gr = (ogrp *)x;
        if (x->hash == h && gr->nlen == len && memcmp(gr->name, name, len) == 0)
            return gr;
    }
    return NULL;
}

/* The slot holding the entry's pointer, or NULL. */
static hnode **ent_find(tn_offsets *o, ogrp *gr, const char *topic, size_t tlen, int32_t partition)
{
    if (!gr->ents.cap)
        return NULL;
    uint64_t h = ent_hash(o, topic, tlen, partition);
    for (hnode **pp = &gr->ents.b[h & (gr->ents.cap - 1)]; *pp; pp = &(*pp)->next) {
        oent *e = (oent *)*pp;
        if (e->h.hash == h && e->partition == partition && e->tlen == tlen &&
            memcmp(e->s, topic, tlen) == 0)
            return pp;
    }
    return NULL;
}

static void group_free(ogrp *gr)
{
    for (size_t i = 0; i < gr->ents.cap; i++) {
        for (hnode *x = gr->ents.b[i], *next; x; x = next) {
            next = x->next;
            free(x);
        }
    }
    free(gr->ents.b);
    free(gr);
}

static void group_drop_if_empty(tn_offsets *o, ogrp *gr)
{
    if (gr->ents.n)
        return;
    htab_unlink(&o->groups, &gr->h);
    group_free(gr);
}

static tern_err apply_commit(tn_offsets *o, const orec *r)
{
    ogrp *gr = group_find(o, r->group, r->glen);
    if (!gr) {
        if (htab_reserve(&o->groups) != TERN_OK || !(gr = calloc(1, sizeof *gr + r->glen)))
            return TERN_ENOMEM;
        gr->h.hash = group_hash(o, r->group, r->glen);
        gr->nlen = r->glen;
        memcpy(gr->name, r->group, r->glen);
        htab_add(&o->groups, &gr->h);
    }
    hnode **pp = ent_find(o, gr, r->topic, r->tlen, r->partition);
    oent *e = pp ? (oent *)*pp : NULL;
    if (e && e->mlen == r->mlen) {
        /* The common case: a new offset, same metadata size. */
        e->offset = r->offset;
        e->leader_epoch = r->leader_epoch;
        memcpy(e->s + e->tlen, r->meta, r->mlen);
        return TERN_OK;
    }
    oent *ne = malloc(sizeof *ne + r->tlen + r->mlen);
    if (!ne || (!e && htab_reserve(&gr->ents) != TERN_OK)) {
        free(ne);
        group_drop_if_empty(o, gr);
        return TERN_ENOMEM;
    }
    ne->h.hash = ent_hash(o, r->topic, r->tlen, r->partition);
    ne->partition = r->partition;
    ne->leader_epoch = r->leader_epoch;
    ne->offset = r->offset;
    ne->tlen = r->tlen;
    ne->mlen = r->mlen;
    memcpy(ne->s, r->topic, r->tlen);
    memcpy(ne->s + r->tlen, r->meta, r->mlen);
    if (e) {
        ne->h.next = e->h.next;
        *pp = &ne->h;
        o->live_bytes -= rec_size(gr->nlen, e->tlen, e->mlen);
        free(e);
    } else {
        /* The table may have grown: ent_find's slot is stale. */
        htab_add(&gr->ents, &ne->h);
    }
    o->live_bytes += rec_size(gr->nlen, ne->tlen, ne->mlen);
    return TERN_OK;
}

/* Removes every group's offsets for the topic; how many went. */
static size_t apply_drop(tn_offsets *o, const char *topic, size_t tlen)
{
    size_t dropped = 0;
    for (size_t i = 0; i < o->groups.cap; i++) {
        for (hnode *gx = o->groups.b[i], *gnext; gx; gx = gnext) {
            gnext = gx->next;
            ogrp *gr = (ogrp *)gx;
            for (size_t j = 0; j < gr->ents.cap; j++) {
                for (hnode **pp = &gr->ents.b[j]; *pp;) {
                    oent *e = (oent *)*pp;
                    if (e->tlen == tlen && memcmp(e->s, topic, tlen) == 0) {
                        *pp = e->h.next;
                        gr->ents.n--;
                        o->live_bytes -= rec_size(gr->nlen, e->tlen, e->mlen);
                        free(e);
                        dropped++;
                    } else {
                        pp = &e->h.next;
                    }
                }
            }
            group_drop_if_empty(o, gr);
        }
    }
    return dropped;
}

/* A bounded big-endian reader over one payload. */
typedef struct cur {
    const uint8_t *p;
    size_t n;
    size_t off;
    int bad;
} cur;

static const uint8_t *cur_take(cur *c, size_t n)
{
    if (c->bad || c->n - c->off < n) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *p = c->p + c->off;
    c->off += n;
    return p;
}

static uint16_t cur_str(cur *c, const char **s)
{
    const uint8_t *lp = cur_take(c, 2);
    uint16_t len = lp ? tn_get_be16(lp) : 0;
    *s = (const char *)cur_take(c, len);
    return len;
}

/* Decodes the record at p: its whole size, or 0 if it is torn, fails its
 * checksum or does not parse exactly. */
static size_t rec_decode(const uint8_t *p, size_t n, orec *r)
{
    if (n < REC_HEAD)
        return 0;
    uint32_t len = tn_get_be32(p);
    if (len < 1 || len > MAX_PAYLOAD || len > n - REC_HEAD)
        return 0;
    if (tern_crc32c(0, p + REC_HEAD, len) != tn_get_be32(p + 4))
        return 0;
    cur c = {p + REC_HEAD, len, 0, 0};
    memset(r, 0, sizeof *r);
    r->kind = *cur_take(&c, 1);
    if (r->kind == KIND_COMMIT) {
        r->glen = cur_str(&c, &r->group);
        r->tlen = cur_str(&c, &r->topic);
        const uint8_t *f = cur_take(&c, 16);
        if (f) {
            r->partition = (int32_t)tn_get_be32(f);
            r->offset = (int64_t)tn_get_be64(f + 4);
            r->leader_epoch = (int32_t)tn_get_be32(f + 12);
        }
        r->mlen = cur_str(&c, &r->meta);
        if (r->glen == 0)
            c.bad = 1;
    } else if (r->kind == KIND_DROP) {
        r->tlen = cur_str(&c, &r->topic);
    } else {
        c.bad = 1;
    }
    if (c.bad || c.off != len)
        return 0;
    return REC_HEAD + len;
}

static tern_err rec_apply(tn_offsets *o, const orec *r)
{
    if (r->kind == KIND_DROP) {
        apply_drop(o, r->topic, r->tlen);
        return TERN_OK;
    }
    return apply_commit(o, r);
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t len)
{
    tn_put_be16(p, (uint16_t)len);
    if (len)
        memcpy(p + 2, s, len);
    return p + 2 + len;
}

/* Writes a commit record at out (rec_size bytes). */
static void rec_put_commit(uint8_t *out, const char *group, size_t glen, const char *topic,
                           size_t tlen, int32_t partition, int64_t offset, int32_t leader_epoch,
                           const char *meta, size_t mlen)
{
    uint8_t *p = out + REC_HEAD;
    *p++ = KIND_COMMIT;
    p = put_str(p, group, glen);
    p = put_str(p, topic, tlen);
    tn_put_be32(p, (uint32_t)partition);
    tn_put_be64(p + 4, (uint64_t)offset);
    tn_put_be32(p + 12, (uint32_t)leader_epoch);
    p = put_str(p + 16, meta, mlen);
    uint32_t len = (uint32_t)(p - out - REC_HEAD);
    tn_put_be32(out, len);
    tn_put_be32(out + 4, tern_crc32c(0, out + REC_HEAD, len));
}

static tern_err stage_reserve(tn_offsets *o, size_t n)
{
    if (o->capstage - o->nstage >= n)
        return TERN_OK;
    size_t cap = o->capstage ? o->capstage : 256;
    while (cap - o->nstage < n)
        cap *= 2;
    uint8_t *p = realloc(o->stage, cap);
    if (!p)
        return TERN_ENOMEM;
    o->stage = p;
    o->capstage = cap;
    return TERN_OK;
}

tern_err tn_offsets_stage(tn_offsets *o, tn_kstr group, tn_kstr topic, int32_t partition,
                          int64_t offset, int32_t leader_epoch, tn_kstr metadata)
{
    size_t glen = kstr_len(group), tlen = kstr_len(topic), mlen = kstr_len(metadata);
    if (glen == 0 || glen > TN_OFFSETS_MAX_STR || tlen > TN_OFFSETS_MAX_STR ||
        mlen > TN_OFFSETS_MAX_STR)
        return TERN_EINVAL;
    size_t n = (size_t)rec_size(glen, tlen, mlen);
    tern_err err = stage_reserve(o, n);
    if (err != TERN_OK)
        return err;
    rec_put_commit(o->stage + o->nstage, group.p, glen, kstr_ptr(topic), tlen, partition, offset,
                   leader_epoch, kstr_ptr(metadata), mlen);
    o->nstage += n;
    return TERN_OK;
}

/* Appends buf at the end of the file (synced when the store syncs); on
 * failure cuts the file back, or fails the store if it cannot. */
static tern_err append(tn_offsets *o, const void *buf, size_t n)
{
    if (o->failed != TERN_OK)
        return o->failed;
    const tn_disk *d = o->disk;
    off_t at = (off_t)o->file_bytes;
    if (tn_disk_pwrite_all(d, o->fd, buf, n, at) == 0 &&
        (!o->sync || d->fdatasync(d->ctx, o->fd) == 0)) {
        o->file_bytes += n;
        return TERN_OK;
    }
    int e = errno;
    tern_err err = errno_err(e);
    tn_trace(TERN_TRACE_BROKER, "offsets: writing %zu bytes to %s failed: %s", n, o->path,
             strerror(e));
    if (d->ftruncate(d->ctx, o->fd, at) != 0 || (o->sync && d->fdatasync(d->ctx, o->fd) != 0)) {
        tn_trace(TERN_TRACE_BROKER,
                 "offsets: cannot cut %s back to %lld bytes: %s; refusing "
                 "further commits",
                 o->path, (long long)at, strerror(errno));
        o->failed = err;
    }
    return err;
}

/* Rewrites the file with the live records only. Failures leave the old
 * file in use (it holds the same state), so they are only traced. */
static void compact(tn_offsets *o)
{
    const tn_disk *d = o->disk;
    uint8_t *buf = malloc(o->live_bytes ? o->live_bytes : 1);
    if (!buf)
        return;
    size_t n = 0;
    for (size_t i = 0; i < o->groups.cap; i++) {
        for (hnode *gx = o->groups.b[i]; gx; gx = gx->next) {
            ogrp *gr = (ogrp *)gx;
            for (size_t j = 0; j < gr->ents.cap; j++) {
                for (hnode *x = gr->ents.b[j]; x; x = x->next) {
                    oent *e = (oent *)x;
                    rec_put_commit(buf + n, gr->name, gr->nlen, e->s, e->tlen, e->partition,
                                   e->offset, e->leader_epoch, e->s + e->tlen, e->mlen);
                    n += rec_size(gr->nlen, e->tlen, e->mlen);
                }
            }
        }
    }
    int fd = d->open(d->ctx, o->tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        tn_trace(TERN_TRACE_BROKER, "offsets: cannot create %s: %s", o->tmp_path, strerror(errno));
        free(buf);
        return;
    }
    /* Synced whatever o->sync says: the rename must not expose an empty file. */
    if (tn_disk_pwrite_all(d, fd, buf, n, 0) != 0 || d->fdatasync(d->ctx, fd) != 0 ||
        d->rename(d->ctx, o->tmp_path, o->path) != 0) {
        tn_trace(TERN_TRACE_BROKER, "offsets: compacting %s failed: %s", o->path, strerror(errno));
        close(fd);
        d->unlink(d->ctx, o->tmp_path);
        free(buf);
        return;
    }
    free(buf);
    tn_trace(TERN_TRACE_BROKER, "offsets: compacted %s from %llu to %zu bytes", o->path,
             (unsigned long long)o->file_bytes, n);
    close(o->fd);
    o->fd = fd;
    o->file_bytes = n;
    if (tn_disk_sync_dir(d, o->dir) != 0)
        tn_trace(TERN_TRACE_BROKER, "offsets: syncing %s failed: %s", o->dir, strerror(errno));
}

static void maybe_compact(tn_offsets *o)
{
    if (o->file_bytes >= COMPACT_MIN_BYTES && o->file_bytes > COMPACT_RATIO * o->live_bytes)
        compact(o);
}

tern_err tn_offsets_write(tn_offsets *o)
{
    if (!o->nstage)
        return TERN_OK;
    tern_err err = append(o, o->stage, o->nstage);
    /* Visible only now that they are in the file: replay our own records. */
    for (size_t off = 0; err == TERN_OK && off < o->nstage;) {
        orec r = {0};
        size_t n = rec_decode(o->stage + off, o->nstage - off, &r);
        err = rec_apply(o, &r);
        off += n;
    }
    o->nstage = 0;
    if (err == TERN_OK)
        maybe_compact(o);
    return err;
}

int tn_offsets_get(tn_offsets *o, tn_kstr group, tn_kstr topic, int32_t partition, int64_t *offset,
                   int32_t *leader_epoch, tn_kstr *metadata)
{
    ogrp *gr = group_find(o, kstr_ptr(group), kstr_len(group));
    hnode **pp = gr ? ent_find(o, gr, kstr_ptr(topic), kstr_len(topic), partition) : NULL;
    if (!pp)
        return 0;
    oent *e = (oent *)*pp;
    *offset = e->offset;
    *leader_epoch = e->leader_epoch;
    *metadata = (tn_kstr){e->s + e->tlen, e->mlen};
    return 1;
}

void tn_offsets_each(tn_offsets *o, tn_kstr group,
                     void (*fn)(void *arg, tn_kstr topic, int32_t partition, int64_t offset,
                                int32_t leader_epoch, tn_kstr metadata),
                     void *arg)
{
    ogrp *gr = group_find(o, kstr_ptr(group), kstr_len(group));
    if (!gr)
        return;
    for (size_t i = 0; i < gr->ents.cap; i++) {
        for (hnode *x = gr->ents.b[i]; x; x = x->next) {
            oent *e = (oent *)x;
            fn(arg, (tn_kstr){e->s, e->tlen}, e->partition, e->offset, e->leader_epoch,
               (tn_kstr){e->s + e->tlen, e->mlen});
        }
    }
}

int tn_offsets_has_group(tn_offsets *o, tn_kstr group)
{
    return group_find(o, kstr_ptr(group), kstr_len(group)) != NULL;
}

tern_err tn_offsets_drop_topic(tn_offsets *o, tn_kstr topic)
{
    size_t tlen = kstr_len(topic);
    if (tlen > TN_OFFSETS_MAX_STR)
        return TERN_EINVAL;
    if (!apply_drop(o, kstr_ptr(topic), tlen))
        return TERN_OK;
    size_t n = REC_HEAD + 1 + 2 + tlen;
    uint8_t *rec = malloc(n);
    if (!rec)
        return TERN_ENOMEM;
    rec[REC_HEAD] = KIND_DROP;
    put_str(rec + REC_HEAD + 1, kstr_ptr(topic), tlen);
    tn_put_be32(rec, (uint32_t)(n - REC_HEAD));
    tn_put_be32(rec + 4, tern_crc32c(0, rec + REC_HEAD, n - REC_HEAD));
    tern_err err = append(o, rec, n);
    free(rec);
    if (err == TERN_OK)
        maybe_compact(o);
    return err;
}

/* Reads the whole file (it is kept within a few times its live size). */
static tern_err read_all(tn_offsets *o, uint8_t **out, size_t *outn)
{
    size_t n = 0, cap = 64 * 1024;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return TERN_ENOMEM;
    for (;;) {
        if (cap - n < 4096) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return TERN_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = o->disk->pread(o->disk->ctx, o->fd, buf + n, cap - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            tn_trace(TERN_TRACE_BROKER, "offsets: reading %s: %s", o->path, strerror(e));
            return errno_err(e);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *outn = n;
    return TERN_OK;
}

/* Applies every whole record; cuts the file at the first bad one. */
static tern_err replay(tn_offsets *o)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    tern_err err = read_all(o, &buf, &n);
    if (err != TERN_OK)
        return err;
    size_t off = 0;
    uint64_t records = 0;
    while (off < n) {
        orec r = {0};
        size_t sz = rec_decode(buf + off, n - off, &r);
        if (!sz)
            break;
        if ((err = rec_apply(o, &r)) != TERN_OK) {
            free(buf);
            return err;
        }
        off += sz;
        records++;
    }
    free(buf);
    o->file_bytes = off;
    tn_trace(TERN_TRACE_BROKER, "offsets: %s: %llu records, %zu bytes", o->path,
             (unsigned long long)records, off);
    if (off < n) {
        const tn_disk *d = o->disk;
        tn_trace(TERN_TRACE_BROKER, "offsets: %s: cutting %zu bytes of torn or corrupt tail",
                 o->path, n - off);
        if (d->ftruncate(d->ctx, o->fd, (off_t)off) != 0 || d->fdatasync(d->ctx, o->fd) != 0) {
            int e = errno;
            tn_trace(TERN_TRACE_BROKER, "offsets: cutting %s: %s", o->path, strerror(e));
            return errno_err(e);
        }
    }
    maybe_compact(o);
    return TERN_OK;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

tern_err tn_offsets_open(const tn_disk *disk, const char *dir, int sync, tn_offsets **out)
{
    *out = NULL;
    tn_offsets *o = calloc(1, sizeof *o);
    if (!o)
        return TERN_ENOMEM;
    o->disk = disk;
    o->sync = sync;
    o->fd = -1;
    o->dir = strdup(dir);
    o->path = path_join(dir, "offsets.log");
    o->tmp_path = path_join(dir, "offsets.log.tmp");
    tern_err err = TERN_OK;
    if (!o->dir || !o->path || !o->tmp_path) {
        err = TERN_ENOMEM;
        goto fail;
    }
    if (getrandom(&o->seed, sizeof o->seed, 0) != (ssize_t)sizeof o->seed) {
        err = TERN_ESYSTEM;
        goto fail;
    }
    if (disk->mkdir(disk->ctx, dir, 0755) != 0 && errno != EEXIST) {
        err = errno_err(errno);
        tn_trace(TERN_TRACE_BROKER, "offsets: cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    /* A leftover of a compaction cut short; the log itself is intact. */
    disk->unlink(disk->ctx, o->tmp_path);
    o->fd = disk->open(disk->ctx, o->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (o->fd < 0 || tn_disk_sync_dir(disk, dir) != 0) {
        err = errno_err(errno);
        tn_trace(TERN_TRACE_BROKER, "offsets: cannot open %s: %s", o->path, strerror(errno));
        goto fail;
    }
    if ((err = replay(o)) != TERN_OK)
        goto fail;
    *out = o;
    return TERN_OK;
fail:
    tn_offsets_close(o);
    return err;
}

void tn_offsets_close(tn_offsets *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->groups.cap; i++) {
        for (hnode *x = o->groups.b[i], *next; x; x = next) {
            next = x->next;
            group_free((ogrp *)x);
        }
    }
    free(o->groups.b);
    if (o->fd >= 0)
        close(o->fd);
    free(o->stage);
    free(o->dir);
    free(o->path);
    free(o->tmp_path);
    free(o);
}
