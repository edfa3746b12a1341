/* The topic registry. A topic is a file DATA/.meta/NAME.topic (its
 * partition count and configs, written atomically) plus one log directory
 * per partition, DATA/NAME-N, as Kafka lays them out. The .topic file is
 * the commit point: created before the logs and removed before them, so a
 * crash leaves either a whole topic or leftover log directories, which
 * the next start removes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/server.h"
#include "kafka/api.h"

/* Creating a partition costs ~1.5 ms of file and directory syncs on the
 * loop thread; a bound keeps one CreateTopics from stalling every client. */
#define MAX_PARTITIONS 1000
#define NAME_MAX_LEN 249

int tn_bk_topic_name_ok(tn_kstr name)
{
    if (name.len <= 0 || name.len > NAME_MAX_LEN)
        return 0;
    if ((name.len == 1 && name.p[0] == '.') ||
        (name.len == 2 && name.p[0] == '.' && name.p[1] == '.'))
        return 0;
    for (int32_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

tn_bk_topic *tn_bk_topic_find(tn_broker_impl *b, tn_kstr name)
{
    if (name.len <= 0)
        return NULL;
    for (tn_bk_topic *t = b->topics; t; t = t->next) {
        if (!t->deleted && (int32_t)strlen(t->name) == name.len &&
            memcmp(t->name, name.p, (size_t)name.len) == 0)
            return t;
    }
    return NULL;
}

static int parse_i64(tn_kstr v, int64_t min, int64_t *out)
{
    char buf[32];
    if (v.len <= 0 || v.len >= (int32_t)sizeof buf)
        return 0;
    memcpy(buf, v.p, (size_t)v.len);
    buf[v.len] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end != '\0' || x < min)
        return 0;
    *out = x;
    return 1;
}

static int key_is(tn_kstr k, const char *s)
{
    return k.len == (int32_t)strlen(s) && memcmp(k.p, s, (size_t)k.len) == 0;
}

int tn_bk_topic_config(tn_log_conf *c, tn_kstr key, tn_kstr value)
{
    int64_t v;
    if (key_is(key, "cleanup.policy"))
        return value.len == 6 && memcmp(value.p, "delete", 6) == 0;
    if (key_is(key, "retention.ms") && parse_i64(value, -1, &v))
        c->retention_ms = v;
    else if (key_is(key, "retention.bytes") && parse_i64(value, -1, &v))
        c->retention_bytes = v;
    else if (key_is(key, "segment.bytes") && parse_i64(value, 14, &v) && v <= INT32_MAX)
        c->segment_bytes = (uint64_t)v;
    else if (key_is(key, "segment.ms") && parse_i64(value, 1, &v))
        c->segment_ms = v;
    else if (key_is(key, "max.message.bytes") && parse_i64(value, 64, &v) && v <= INT32_MAX)
        c->max_batch_bytes = (uint32_t)v;
    else if (key_is(key, "segment.index.bytes") || key_is(key, "index.interval.bytes")) {
        if (!parse_i64(value, 1, &v) || v > INT32_MAX)
            return 0;
        if (key_is(key, "index.interval.bytes"))
            c->index_bytes = (uint32_t)v;
    } else
        return 0;
    return 1;
}

void tn_bk_topic_default_conf(const tn_broker_impl *b, tn_log_conf *c)
{
    tn_log_conf_default(c);
    c->segment_bytes = b->opts.segment_bytes;
    c->segment_ms = b->opts.segment_ms;
    c->retention_bytes = b->opts.retention_bytes;
    c->retention_ms = b->opts.retention_ms;
    c->max_batch_bytes = b->opts.max_batch_bytes;
}

static int write_meta(tn_broker_impl *b, const char *name, int32_t nparts, const tn_log_conf *c)
{
    char path[4096], tmp[4200], text[512];
    snprintf(path, sizeof path, "%s/.meta/%s.topic", b->data_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text,
                     "partitions=%d\nsegment.bytes=%" PRIu64 "\nsegment.ms=%" PRId64
                     "\nretention.bytes=%" PRId64 "\nretention.ms=%" PRId64
                     "\nmax.message.bytes=%u\nindex.interval.bytes=%u\n",
                     nparts, c->segment_bytes, c->segment_ms, c->retention_bytes, c->retention_ms,
                     c->max_batch_bytes, c->index_bytes);
    const tn_disk *d = b->disk;
    int fd = d->open(d->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = tn_disk_pwrite_all(d, fd, text, (size_t)n, 0) == 0 && d->fdatasync(d->ctx, fd) == 0;
    close(fd);
    if (!ok || d->rename(d->ctx, tmp, path) != 0) {
        d->unlink(d->ctx, tmp);
        return -1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/.meta", b->data_dir);
    return tn_disk_sync_dir(d, dir);
}

static void topic_free(tn_bk_topic *t)
{
    for (int32_t i = 0; i < t->nparts; i++)
        if (t->parts[i].log)
            tn_log_close(t->parts[i].log);
    free(t->parts);
    free(t->name);
    free(t);
}

/* Opens (or creates) the partition logs of a topic and links it in. */
static tern_err topic_open(tn_broker_impl *b, const char *name, int32_t nparts,
                           const tn_log_conf *conf, tn_bk_topic **out)
{
    tn_bk_topic *t = calloc(1, sizeof *t);
    if (t == NULL)
        return TERN_ENOMEM;
    t->name = strdup(name);
    t->parts = calloc((size_t)nparts, sizeof *t->parts);
    if (t->name == NULL || t->parts == NULL) {
        topic_free(t);
        return TERN_ENOMEM;
    }
    t->conf = *conf;
    t->nparts = nparts;
    for (int32_t i = 0; i < nparts; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s-%d", b->data_dir, name, i);
        tn_log_recovery rec = {0};
        tn_bk_part *p = &t->parts[i];
        p->topic = t;
        p->index = i;
        tern_err e = tn_log_open(b->disk, dir, conf, &p->log, &rec);
        if (e != TERN_OK) {
            tn_bk_log(b, "cannot open the log %s: %s", dir, tern_strerror(e));
            topic_free(t);
            return e;
        }
        if (rec.truncated_bytes || rec.indexes_rebuilt)
            tn_bk_log(b, "recovered %s-%d: cut %" PRIu64 " torn bytes, rebuilt %u indexes", name, i,
                      rec.truncated_bytes, rec.indexes_rebuilt);
    }
    t->next = b->topics;
    b->topics = t;
    if (out)
        *out = t;
    return TERN_OK;
}

int16_t tn_bk_topic_create(tn_broker_impl *b, tn_kstr name, int32_t nparts, const tn_log_conf *conf,
                           tn_bk_topic **out, const char **why)
{
    *why = NULL;
    if (!tn_bk_topic_name_ok(name)) {
        *why = "topic names are 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'";
        return TN_KE_INVALID_TOPIC_EXCEPTION;
    }
    if (tn_bk_topic_find(b, name)) {
        *why = "topic already exists";
        return TN_KE_TOPIC_ALREADY_EXISTS;
    }
    if (nparts < 1 || nparts > MAX_PARTITIONS) {
        *why = "partition count must be 1..1000";
        return TN_KE_INVALID_PARTITIONS;
    }
    tn_log_conf c;
    if (conf)
        c = *conf;
    else
        tn_bk_topic_default_conf(b, &c);
    char cname[NAME_MAX_LEN + 1];
    memcpy(cname, name.p, (size_t)name.len);
    cname[name.len] = '\0';
    if (write_meta(b, cname, nparts, &c) != 0) {
        tn_bk_log(b, "cannot record topic %s: %s", cname, strerror(errno));
        *why = "the broker could not write the topic to disk";
        return TN_KE_KAFKA_STORAGE_ERROR;
    }
    if (topic_open(b, cname, nparts, &c, out) != TERN_OK) {
        *why = "the broker could not create the partition logs";
        return TN_KE_KAFKA_STORAGE_ERROR;
    }
    tn_bk_log(b, "created topic %s with %d partition%s", cname, nparts, nparts == 1 ? "" : "s");
    return TN_KE_NONE;
}

int16_t tn_bk_topic_delete(tn_broker_impl *b, tn_kstr name)
{
    tn_bk_topic *t = tn_bk_topic_find(b, name);
    if (t == NULL)
        return TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
    char path[4096];
    snprintf(path, sizeof path, "%s/.meta/%s.topic", b->data_dir, t->name);
    if (b->disk->unlink(b->disk->ctx, path) != 0) {
        tn_bk_log(b, "cannot delete topic %s: %s", t->name, strerror(errno));
        return TN_KE_KAFKA_STORAGE_ERROR;
    }
    snprintf(path, sizeof path, "%s/.meta", b->data_dir);
    tn_disk_sync_dir(b->disk, path);
    t->deleted = 1;
    tn_bk_forget_topic(b, t);
    for (int32_t i = 0; i < t->nparts; i++) {
        tn_log_destroy(t->parts[i].log);
        t->parts[i].log = NULL;
    }
    tn_kstr n = {t->name, (int32_t)strlen(t->name)};
    tn_groups_drop_topic(b->groups, n);
    tn_bk_log(b, "deleted topic %s", t->name);
    tn_bk_topics_reap(b);
    return TN_KE_NONE;
}

/* Deleted topics stay in memory while a sync job may still point at them. */
void tn_bk_topics_reap(tn_broker_impl *b)
{
    if (b->sync_busy)
        return;
    for (tn_bk_topic **pp = &b->topics; *pp;) {
        tn_bk_topic *t = *pp;
        if (t->deleted) {
            *pp = t->next;
            topic_free(t);
        } else
            pp = &t->next;
    }
}

static int load_meta(const char *path, int32_t *nparts, tn_log_conf *c)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    *nparts = 0;
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        char *v = eq + 1;
        v[strcspn(v, "\n")] = '\0';
        tn_kstr key = {line, (int32_t)strlen(line)}, val = {v, (int32_t)strlen(v)};
        int64_t n;
        if (strcmp(line, "partitions") == 0 && parse_i64(val, 1, &n) && n <= MAX_PARTITIONS)
            *nparts = (int32_t)n;
        else
            (void)tn_bk_topic_config(c, key, val);
    }
    fclose(f);
    return *nparts > 0 ? 0 : -1;
}

static void remove_dir(tn_broker_impl *b, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[8192];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            b->disk->unlink(b->disk->ctx, path);
    }
    closedir(d);
    b->disk->rmdir(b->disk->ctx, dir);
}

tern_err tn_bk_topics_load(tn_broker_impl *b)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/.meta", b->data_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return TERN_OK;
    struct dirent *e;
    tern_err err = TERN_OK;
    while (err == TERN_OK && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || strcmp(e->d_name + len - 6, ".topic") != 0 || len - 6 > NAME_MAX_LEN)
            continue;
        char name[NAME_MAX_LEN + 1], path[4400];
        memcpy(name, e->d_name, len - 6);
        name[len - 6] = '\0';
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tn_log_conf c;
        tn_bk_topic_default_conf(b, &c);
        int32_t nparts;
        if (load_meta(path, &nparts, &c) != 0) {
            tn_bk_log(b, "ignoring unreadable topic file %s", path);
            continue;
        }
        err = topic_open(b, name, nparts, &c, NULL);
    }
    closedir(d);
    if (err != TERN_OK)
        return err;
    /* Log directories of topics that no longer exist: a deletion the
     * previous run did not finish. */
    d = opendir(b->data_dir);
    if (d == NULL)
        return TERN_OK;
    while ((e = readdir(d)) != NULL) {
        char *dash = strrchr(e->d_name, '-');
        if (e->d_name[0] == '.' || dash == NULL || dash == e->d_name || dash[1] == '\0' ||
            strspn(dash + 1, "0123456789") != strlen(dash + 1))
            continue;
        tn_kstr n = {e->d_name, (int32_t)(dash - e->d_name)};
        tn_bk_topic *t = tn_bk_topic_find(b, n);
        long idx = strtol(dash + 1, NULL, 10);
        if (t && idx < t->nparts)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", b->data_dir, e->d_name);
        tn_bk_log(b, "removing %s: left over from a deleted topic", path);
        remove_dir(b, path);
    }
    closedir(d);
    int ntopics = 0;
    for (tn_bk_topic *t = b->topics; t; t = t->next)
        ntopics++;
    if (ntopics)
        tn_bk_log(b, "loaded %d topic%s from %s", ntopics, ntopics == 1 ? "" : "s", b->data_dir);
    return TERN_OK;
}

void tn_bk_topics_close(tn_broker_impl *b)
{
    while (b->topics) {
        tn_bk_topic *t = b->topics;
        b->topics = t->next;
        topic_free(t);
    }
}

void tn_bk_topics_retain(tn_broker_impl *b, int64_t now_ms)
{
    for (tn_bk_topic *t = b->topics; t; t = t->next) {
        if (t->deleted)
            continue;
        for (int32_t i = 0; i < t->nparts; i++) {
            int n = tn_log_retain(t->parts[i].log, now_ms);
            if (n > 0)
                tn_bk_log(b, "retention removed %d segment%s of %s-%d", n, n == 1 ? "" : "s",
                          t->name, i);
        }
    }
}
