/* The broker: start and stop, the listener, request dispatch, the group
 * commit (a sync thread that fdatasyncs every dirty log at once while the
 * loop keeps appending), waking parked requests, and the periodic work
 * (group session expiry, retention). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/trace.h"
#include "broker/server.h"
#include "io/transport.h"
#include "kafka/api.h"

#define TICK_MS 100
#define RETENTION_CHECK_MS 30000
#define PRODUCER_ID_BLOCK 1000

static __thread char last_error[256];

const char *tern_broker_last_error(void)
{
    return last_error;
}

static tern_err fail(tern_err e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tern_err fail(tern_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return e;
}

void tern_broker_opts_init(tern_broker_opts *o)
{
    memset(o, 0, sizeof *o);
    o->data_dir = "./tern-data";
    o->listen = "0.0.0.0:9092";
    o->fsync = TERN_FSYNC_BATCH;
    o->fsync_interval_ms = 1000;
    o->auto_create_topics = 1;
    o->default_partitions = 1;
    o->segment_bytes = 1ull << 30;
    o->segment_ms = 7ll * 24 * 3600 * 1000;
    o->retention_bytes = -1;
    o->retention_ms = 7ll * 24 * 3600 * 1000;
    o->max_request_bytes = 100u << 20;
    o->max_batch_bytes = (1u << 20) + 12;
    o->group_initial_delay_ms = 300;
}

tern_err tern_fsync_parse(const char *s, tern_fsync *mode, uint32_t *interval_ms)
{
    if (strcmp(s, "always") == 0)
        *mode = TERN_FSYNC_ALWAYS;
    else if (strcmp(s, "batch") == 0)
        *mode = TERN_FSYNC_BATCH;
    else if (strcmp(s, "never") == 0)
        *mode = TERN_FSYNC_NEVER;
    else if (strncmp(s, "interval=", 9) == 0) {
        char *end;
        unsigned long ms = strtoul(s + 9, &end, 10);
        if (end == s + 9 || *end != '\0' || ms == 0 || ms > 3600000)
            return TERN_EINVAL;
        *mode = TERN_FSYNC_INTERVAL;
        *interval_ms = (uint32_t)ms;
    } else
        return TERN_EINVAL;
    return TERN_OK;
}

int64_t tn_bk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Group sessions run on the monotonic clock; record timestamps on the wall clock. */
int64_t tn_bk_mono_ms(void)
{
    return (int64_t)(tern_clock_ns() / 1000000);
}

void tn_bk_log(tn_broker_impl *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tn_trace(TERN_TRACE_BROKER, "%s", line);
    if (b->opts.log_stderr)
        fprintf(stderr, "tern broker: %s\n", line);
}

void tn_bk_advertised(tn_broker_impl *b, tn_bk_conn *c, const char **host, int32_t *port)
{
    if (b->adv_host[0]) {
        *host = b->adv_host;
        *port = b->adv_port;
    } else {
        *host = c->local_host;
        *port = c->local_port;
    }
}

/* ---- producer ids: handed out in blocks recorded durably ---------------- */

static tern_err producer_ids_reserve(tn_broker_impl *b)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/.meta/producer-ids", b->data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int64_t next = 1;
    FILE *f = fopen(path, "r");
    if (f) {
        long long v;
        if (fscanf(f, "%lld", &v) == 1 && v > 0)
            next = v;
        fclose(f);
    }
    int64_t limit = next + PRODUCER_ID_BLOCK;
    char text[32];
    int n = snprintf(text, sizeof text, "%lld\n", (long long)limit);
    int fd = b->disk->open(b->disk->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tern_err_from_errno(errno);
    int ok = tn_disk_pwrite_all(b->disk, fd, text, (size_t)n, 0) == 0 &&
             b->disk->fdatasync(b->disk->ctx, fd) == 0;
    close(fd);
    if (!ok || b->disk->rename(b->disk->ctx, tmp, path) != 0)
        return tern_err_from_errno(errno);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/.meta", b->data_dir);
    tn_disk_sync_dir(b->disk, dir);
    b->next_producer_id = next;
    b->producer_id_limit = limit;
    return TERN_OK;
}

int64_t tn_bk_new_producer_id(tn_broker_impl *b)
{
    if (b->next_producer_id >= b->producer_id_limit && producer_ids_reserve(b) != TERN_OK)
        return -1;
    return b->next_producer_id++;
}

/* ---- dispatch ----------------------------------------------------------- */

#define API(KEY, fn, name)                                                                         \
    {                                                                                              \
        TN_KAPI_##KEY, TN_KV_##KEY##_MIN, TN_KV_##KEY##_MAX, fn, name                              \
    }
static const struct api_entry {
    int16_t key, min, max;
    tn_bk_handler fn;
    const char *name;
} apis[] = {
    API(PRODUCE, tn_bk_api_produce, "Produce"),
    API(FETCH, tn_bk_api_fetch, "Fetch"),
    API(LIST_OFFSETS, tn_bk_api_list_offsets, "ListOffsets"),
    API(METADATA, tn_bk_api_metadata, "Metadata"),
    API(OFFSET_COMMIT, tn_bk_api_offset_commit, "OffsetCommit"),
    API(OFFSET_FETCH, tn_bk_api_offset_fetch, "OffsetFetch"),
    API(FIND_COORDINATOR, tn_bk_api_find_coordinator, "FindCoordinator"),
    API(JOIN_GROUP, tn_bk_api_join_group, "JoinGroup"),
    API(HEARTBEAT, tn_bk_api_heartbeat, "Heartbeat"),
    API(LEAVE_GROUP, tn_bk_api_leave_group, "LeaveGroup"),
    API(SYNC_GROUP, tn_bk_api_sync_group, "SyncGroup"),
    API(DESCRIBE_GROUPS, tn_bk_api_describe_groups, "DescribeGroups"),
    API(LIST_GROUPS, tn_bk_api_list_groups, "ListGroups"),
    API(API_VERSIONS, tn_bk_api_versions, "ApiVersions"),
    API(CREATE_TOPICS, tn_bk_api_create_topics, "CreateTopics"),
    API(DELETE_TOPICS, tn_bk_api_delete_topics, "DeleteTopics"),
    API(INIT_PRODUCER_ID, tn_bk_api_init_producer_id, "InitProducerId"),
    API(SASL_HANDSHAKE, tn_bk_api_sasl_handshake, "SaslHandshake"),
    API(DESCRIBE_CONFIGS, tn_bk_api_describe_configs, "DescribeConfigs"),
};
#undef API

/* ApiVersions: the table above is the whole answer. An unsupported
 * ApiVersions version gets the v0 layout with UNSUPPORTED_VERSION, as the
 * protocol asks, so the client can retry with one it knows. */
tern_err tn_bk_api_versions(tn_broker_impl *b, tn_bk_req *r, tn_kr *in)
{
    (void)b;
    int flex = r->version >= 3;
    if (flex) {
        (void)tn_kr_str(in, 1); /* client software name */
        (void)tn_kr_str(in, 1); /* and version */
        tn_kr_tags(in, 1);
    }
    if (in->err)
        return TERN_EPROTO;
    tn_kw *w = &r->out;
    tn_kw_i16(w, TN_KE_NONE);
    tn_kw_array(w, flex, (int32_t)(sizeof apis / sizeof apis[0]));
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
        tn_kw_i16(w, apis[i].key);
        tn_kw_i16(w, apis[i].min);
        tn_kw_i16(w, apis[i].max);
        tn_kw_tags(w, flex);
    }
    if (r->version >= 1)
        tn_kw_i32(w, 0); /* throttle */
    tn_kw_tags(w, flex);
    r->state = TN_REQ_READY;
    return TERN_OK;
}

static void unsupported_versions(tn_bk_req *r)
{
    tn_kw *w = &r->out;
    tn_kw_i16(w, TN_KE_UNSUPPORTED_VERSION);
    tn_kw_array(w, 0, (int32_t)(sizeof apis / sizeof apis[0]));
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
        tn_kw_i16(w, apis[i].key);
        tn_kw_i16(w, apis[i].min);
        tn_kw_i16(w, apis[i].max);
    }
    r->flex = 0;
    r->state = TN_REQ_READY;
}

tern_err tn_bk_dispatch(tn_broker_impl *b, tn_bk_req *r)
{
    const struct api_entry *api = NULL;
    for (size_t i = 0; i < sizeof apis / sizeof apis[0] && api == NULL; i++) {
        if (apis[i].key == r->api)
            api = &apis[i];
    }
    if (api && api->key == TN_KAPI_API_VERSIONS && r->version > api->max) {
        unsupported_versions(r);
        return TERN_OK;
    }
    if (api == NULL || r->version < api->min || r->version > api->max) {
        /* Every response body we could send starts differently, so the
         * honest answer is the reason in the log and a closed connection;
         * clients that asked ApiVersions first never get here. */
        tn_bk_log(b, "%s: unsupported request: api %d version %d (%s)", r->conn->peer, r->api,
                  r->version, api ? "version outside the advertised range" : "unknown api key");
        tn_bk_conn_close(r->conn, "unsupported api or version");
        return TERN_OK;
    }
    tn_kr in;
    tn_kr_init(&in, r->buf + r->body, r->len - r->body);
    tern_err e = api->fn(b, r, &in);
    if (e == TERN_OK && r->out.err) {
        tn_bk_log(b, "%s: %s response too large", r->conn->peer, api->name);
        return TERN_ENOMEM;
    }
    if (e != TERN_OK)
        tn_bk_log(b, "%s: malformed %s v%d request", r->conn->peer, api->name, r->version);
    return e;
}

void tn_bk_req_withdraw(tn_broker_impl *b, tn_bk_req *r)
{
    tn_bk_unlist(&b->durable_waiters, r);
    tn_bk_unlist(&b->fetch_waiters, r);
    tn_bk_unlist(&b->fetch_retrying, r);
    if (r->timer.slot)
        tn_timer_cancel(b->loop, &r->timer);
    if (r->state == TN_REQ_PENDING &&
        (r->api == TN_KAPI_JOIN_GROUP || r->api == TN_KAPI_SYNC_GROUP))
        tn_group_forget(b->groups, &r->gw);
}

/* ---- group commit ------------------------------------------------------- */

static void job_add_part(tn_bk_sync_job *j, tn_bk_part *p, int64_t upto)
{
    if (j->nparts == j->cap_parts) {
        int cap = j->cap_parts ? j->cap_parts * 2 : 16;
        tn_bk_wait *n = realloc(j->parts, (size_t)cap * sizeof *n);
        if (n == NULL)
            return; /* its durable offset just does not advance this round */
        j->parts = n;
        j->cap_parts = cap;
    }
    j->parts[j->nparts++] = (tn_bk_wait){p, upto, 0};
}

/* Hands every dirty log's unsynced files to the sync thread. */
static void sync_start(tn_broker_impl *b)
{
    if (b->sync_busy || b->opts.fsync == TERN_FSYNC_NEVER)
        return;
    tn_bk_sync_job *j = &b->job;
    j->nfds = j->nparts = 0;
    j->failed_errno = 0;
    for (tn_bk_topic *t = b->topics; t; t = t->next) {
        for (int32_t i = 0; i < t->nparts; i++) {
            tn_bk_part *p = &t->parts[i];
            if (!p->dirty || t->deleted)
                continue;
            int fds[8];
            int64_t upto;
            int n = tn_log_sync_take(p->log, fds, 8, &upto);
            /* More than 8 unsynced files (a restart marks all of them):
             * the rest go in the next round. */
            p->dirty = n < 0 || (n > 0 && upto < tn_log_end_offset(p->log));
            if (n <= 0)
                continue;
            if (j->nfds + n > j->cap_fds) {
                int cap = (j->cap_fds + n) * 2;
                int *nf = realloc(j->fds, (size_t)cap * sizeof *nf);
                if (nf == NULL) {
                    for (int k = 0; k < n; k++)
                        close(fds[k]);
                    p->dirty = 1;
                    continue;
                }
                j->fds = nf;
                j->cap_fds = cap;
            }
            memcpy(j->fds + j->nfds, fds, (size_t)n * sizeof *fds);
            j->nfds += n;
            job_add_part(j, p, upto);
        }
    }
    if (j->nparts == 0)
        return;
    pthread_mutex_lock(&b->sync_lock);
    b->sync_busy = 1;
    b->job_ready = 1;
    pthread_cond_signal(&b->sync_cond);
    pthread_mutex_unlock(&b->sync_lock);
}

static void *sync_main(void *arg)
{
    tn_broker_impl *b = arg;
    pthread_mutex_lock(&b->sync_lock);
    for (;;) {
        while (!b->job_ready && !b->sync_stop)
            pthread_cond_wait(&b->sync_cond, &b->sync_lock);
        if (b->sync_stop && !b->job_ready)
            break;
        b->job_ready = 0;
        pthread_mutex_unlock(&b->sync_lock);
        tn_bk_sync_job *j = &b->job;
        for (int i = 0; i < j->nfds; i++) {
            if (b->disk->fdatasync(b->disk->ctx, j->fds[i]) != 0 && j->failed_errno == 0)
                j->failed_errno = errno;
            close(j->fds[i]);
        }
        tn_loop_post(b->loop, &b->sync_done_task);
        pthread_mutex_lock(&b->sync_lock);
    }
    pthread_mutex_unlock(&b->sync_lock);
    return NULL;
}

static int waits_met(const tn_bk_req *r)
{
    for (int i = 0; i < r->nwaits; i++) {
        const tn_bk_part *p = r->waits[i].part;
        if (p && !p->sync_failed && tn_log_durable_offset(p->log) < r->waits[i].upto)
            return 0;
    }
    return 1;
}

/* Sets the answer's error code of wait i (a produce never resets its
 * output, so the offset recorded when it was written still holds). */
static void answer_wait(tn_bk_req *r, int i, int16_t code)
{
    tn_put_be16(r->out.p + r->waits[i].err_at, (uint16_t)code);
}

/* A partition whose sync failed turns its answer into KAFKA_STORAGE_ERROR. */
static void patch_failed(tn_bk_req *r)
{
    for (int i = 0; i < r->nwaits; i++) {
        if (r->waits[i].part && r->waits[i].part->sync_failed)
            answer_wait(r, i, TN_KE_KAFKA_STORAGE_ERROR);
    }
}

/* Answers every produce whose data is now durable. A failed sync turns
 * its partitions' answers into KAFKA_STORAGE_ERROR (the produce handler
 * patches them, seeing sync_failed). */
static void wake_durable(tn_broker_impl *b)
{
    tn_bk_req *ready = NULL, **tail = &ready;
    for (tn_bk_req **pp = &b->durable_waiters; *pp;) {
        tn_bk_req *r = *pp;
        if (waits_met(r)) {
            *pp = r->wait_next;
            r->on_list = 0;
            r->wait_next = NULL;
            *tail = r;
            tail = &r->wait_next;
        } else
            pp = &r->wait_next;
    }
    while (ready) {
        tn_bk_req *next = ready->wait_next;
        ready->wait_next = NULL;
        if (ready->timer.slot)
            tn_timer_cancel(b->loop, &ready->timer);
        patch_failed(ready);
        tn_bk_req_ready(ready);
        ready = next;
    }
}

static void sync_done(void *arg)
{
    tn_broker_impl *b = arg;
    tn_bk_sync_job *j = &b->job;
    for (int i = 0; i < j->nparts; i++) {
        tn_bk_part *p = j->parts[i].part;
        if (p->topic->deleted)
            continue; /* its logs are gone; reaped below */
        if (j->failed_errno) {
            if (!p->sync_failed)
                tn_bk_log(b, "fdatasync failed for %s-%d: %s; acks=all produces to it fail",
                          p->topic->name, p->index, strerror(j->failed_errno));
            p->sync_failed = 1;
        } else
            tn_log_sync_done(p->log, j->parts[i].upto);
    }
    b->sync_busy = 0;
    wake_durable(b);
    tn_bk_topics_reap(b);
    if (b->opts.fsync != TERN_FSYNC_INTERVAL)
        sync_start(b);
}

/* The produce's own timeout passed before its sync returned: the
 * partitions still waiting answer REQUEST_TIMED_OUT (the data is in the
 * log; the client may retry, an idempotent one without duplicates). */
static void durable_timeout(void *arg)
{
    tn_bk_req *r = arg;
    tn_broker_impl *b = r->conn->b;
    tn_bk_unlist(&b->durable_waiters, r);
    for (int i = 0; i < r->nwaits; i++) {
        const tn_bk_part *p = r->waits[i].part;
        if (p && tn_log_durable_offset(p->log) < r->waits[i].upto)
            answer_wait(r, i, TN_KE_REQUEST_TIMED_OUT);
    }
    tn_bk_log(b, "%s: a produce timed out waiting for its sync", r->conn->peer);
    tn_bk_req_ready(r);
}

void tn_bk_forget_topic(tn_broker_impl *b, const tn_bk_topic *t)
{
    for (tn_bk_req *r = b->durable_waiters; r; r = r->wait_next) {
        for (int i = 0; i < r->nwaits; i++) {
            if (r->waits[i].part == NULL || r->waits[i].part->topic != t)
                continue;
            r->waits[i].part = NULL;
            answer_wait(r, i, TN_KE_UNKNOWN_TOPIC_OR_PARTITION);
        }
    }
    wake_durable(b);
}

void tn_bk_wait_durable(tn_broker_impl *b, tn_bk_req *r)
{
    if (waits_met(r)) {
        patch_failed(r);
        r->state = TN_REQ_READY;
        return;
    }
    r->wait_next = b->durable_waiters;
    b->durable_waiters = r;
    r->on_list = 1;
    r->timer.fn = durable_timeout;
    r->timer.arg = r;
    tn_timer_arm(b->loop, &r->timer, r->deadline_ns);
}

/* After the handlers of this loop pass: parked fetches look again, and a
 * sync starts if none runs (the appends of the whole pass share it). */
static void data_task(void *arg)
{
    tn_broker_impl *b = arg;
    b->data_arrived = 0;
    if (b->opts.fsync == TERN_FSYNC_ALWAYS || b->opts.fsync == TERN_FSYNC_BATCH)
        sync_start(b);
    /* Parked fetches look again. They move to a list of their own first,
     * which a connection closing meanwhile also unlinks from, and a fetch
     * that must wait on parks anew. */
    b->fetch_retrying = b->fetch_waiters;
    b->fetch_waiters = NULL;
    tn_bk_req *r;
    while ((r = b->fetch_retrying) != NULL) {
        b->fetch_retrying = r->wait_next;
        r->wait_next = NULL;
        r->on_list = 0;
        tn_bk_fetch_retry(b, r, 0);
    }
}

void tn_bk_data_appended(tn_broker_impl *b, tn_bk_part *p)
{
    p->dirty = 1;
    if (!b->data_arrived) {
        b->data_arrived = 1;
        tn_loop_post(b->loop, &b->data_task);
    }
}

static void sync_interval(void *arg)
{
    tn_broker_impl *b = arg;
    sync_start(b);
    tn_timer_arm(b->loop, &b->sync_timer,
                 tern_clock_ns() + (uint64_t)b->opts.fsync_interval_ms * 1000000);
}

static void tick(void *arg)
{
    tn_broker_impl *b = arg;
    int64_t now = tn_bk_mono_ms();
    tn_group_tick(b->groups, now);
    if (now >= b->next_retention_ms) {
        tn_bk_topics_retain(b, tn_bk_now_ms());
        b->next_retention_ms = now + RETENTION_CHECK_MS;
    }
    tn_timer_arm(b->loop, &b->tick_timer, tern_clock_ns() + TICK_MS * 1000000ull);
}

/* ---- start and stop ------------------------------------------------------ */

static void on_listen(void *arg, uint32_t events)
{
    (void)events;
    tn_bk_accept(arg);
}

static void start_task(void *arg)
{
    tn_broker_impl *b = arg;
    if (tn_loop_watch(b->loop, &b->lioh, EPOLLIN) != TERN_OK)
        tn_bk_log(b, "cannot watch the listening socket");
    tn_timer_arm(b->loop, &b->tick_timer, tern_clock_ns() + TICK_MS * 1000000ull);
    if (b->opts.fsync == TERN_FSYNC_INTERVAL)
        tn_timer_arm(b->loop, &b->sync_timer,
                     tern_clock_ns() + (uint64_t)b->opts.fsync_interval_ms * 1000000);
}

static tern_err split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return TERN_EADDRINVAL;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return TERN_EADDRINVAL;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p > 65535)
        return TERN_EADDRINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return TERN_OK;
}

static tern_err open_listener(tn_broker_impl *b)
{
    tn_addr addr, bound;
    if (tn_tcp_transport.resolve(b->opts.listen, 1, &addr) != TERN_OK)
        return fail(TERN_EADDRINVAL, "bad listen address '%s' (want HOST:PORT)", b->opts.listen);
    tern_err e = tn_stream_listen(&tn_tcp_transport, &addr, &b->listen_fd, &bound);
    if (e != TERN_OK)
        return fail(e, "cannot listen on %s: %s", b->opts.listen, tern_strerror(e));
    char host[64];
    (void)tn_addr_host_port(&bound.sa, host, sizeof host, &b->port);
    return TERN_OK;
}

static tern_err make_dirs(tn_broker_impl *b)
{
    char path[4096];
    if (mkdir(b->data_dir, 0755) != 0 && errno != EEXIST)
        return fail(tern_err_from_errno(errno), "cannot create data directory %s: %s", b->data_dir,
                    strerror(errno));
    const char *subs[] = {".meta", ".groups"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", b->data_dir, subs[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return fail(tern_err_from_errno(errno), "cannot create %s: %s", path, strerror(errno));
    }
    return TERN_OK;
}

static void broker_free(tn_broker_impl *b)
{
    if (b->groups)
        tn_groups_close(b->groups);
    tn_bk_topics_close(b);
    if (b->listen_fd >= 0)
        close(b->listen_fd);
    free(b->job.fds);
    free(b->job.parts);
    free(b->data_dir);
    free(b);
}

tern_err tern_broker_start(const tern_broker_opts *opts, tern_broker **out)
{
    last_error[0] = '\0';
    tn_broker_impl *b = calloc(1, sizeof *b);
    if (b == NULL)
        return fail(TERN_ENOMEM, "out of memory");
    if (opts)
        b->opts = *opts;
    else
        tern_broker_opts_init(&b->opts);
    b->listen_fd = -1;
    b->disk = tn_disk_os();
    if (b->opts.default_partitions < 1 || b->opts.max_request_bytes < 64 ||
        b->opts.max_batch_bytes < 64) {
        free(b);
        return fail(TERN_EINVAL, "invalid broker options");
    }
    b->data_dir = strdup(b->opts.data_dir ? b->opts.data_dir : "./tern-data");
    if (b->data_dir == NULL) {
        free(b);
        return fail(TERN_ENOMEM, "out of memory");
    }
    b->opts.data_dir = b->data_dir;
    if (b->opts.advertise &&
        split_hostport(b->opts.advertise, b->adv_host, sizeof b->adv_host, &b->adv_port) != 0) {
        fail(TERN_EADDRINVAL, "bad advertised address '%s' (want HOST:PORT)", b->opts.advertise);
        broker_free(b);
        return TERN_EADDRINVAL;
    }
    b->opts.advertise = NULL;
    tern_err e = make_dirs(b);
    if (e == TERN_OK)
        e = tn_bk_topics_load(b);
    if (e == TERN_OK && producer_ids_reserve(b) != TERN_OK)
        e = fail(TERN_ESYSTEM, "cannot record producer ids in %s/.meta: %s", b->data_dir,
                 strerror(errno));
    if (e == TERN_OK) {
        char gdir[4096];
        tn_groups_conf gc;
        tn_groups_conf_default(&gc);
        gc.sync_commits = b->opts.fsync != TERN_FSYNC_NEVER;
        gc.initial_rebalance_delay_ms =
            b->opts.group_initial_delay_ms < 0 ? 0 : b->opts.group_initial_delay_ms;
        snprintf(gdir, sizeof gdir, "%s/.groups", b->data_dir);
        e = tn_groups_open(b->disk, gdir, &gc, &b->groups);
        if (e != TERN_OK)
            fail(e, "cannot open the consumer offsets in %s: %s", gdir, tern_strerror(e));
    }
    if (e == TERN_OK)
        e = open_listener(b);
    if (e == TERN_OK && (e = tn_loop_start(&b->loop)) != TERN_OK)
        fail(e, "cannot start the I/O thread");
    if (e != TERN_OK) {
        broker_free(b);
        return e;
    }
    pthread_mutex_init(&b->sync_lock, NULL);
    pthread_cond_init(&b->sync_cond, NULL);
    b->sync_done_task = (tn_task){.fn = sync_done, .arg = b};
    b->data_task = (tn_task){.fn = data_task, .arg = b};
    b->sync_timer = (tn_timer){.fn = sync_interval, .arg = b};
    b->tick_timer = (tn_timer){.fn = tick, .arg = b};
    b->accept_timer = (tn_timer){.fn = tn_bk_accept_resume, .arg = b};
    if (pthread_create(&b->sync_thread, NULL, sync_main, b) != 0) {
        tn_loop_stop(b->loop);
        broker_free(b);
        return fail(TERN_ESYSTEM, "cannot start the sync thread");
    }
    b->lioh = (tn_ioh){.fd = b->listen_fd, .fn = on_listen, .arg = b};
    /* Timers and watches belong to the loop thread. */
    b->start_task = (tn_task){.fn = start_task, .arg = b};
    tn_loop_post(b->loop, &b->start_task);
    *out = (tern_broker *)b;
    return TERN_OK;
}

uint16_t tern_broker_port(const tern_broker *broker)
{
    return ((const tn_broker_impl *)broker)->port;
}

static void stop_task(void *arg)
{
    tn_broker_impl *b = arg;
    tn_timer_cancel(b->loop, &b->tick_timer);
    tn_timer_cancel(b->loop, &b->sync_timer);
    tn_timer_cancel(b->loop, &b->accept_timer);
    tn_loop_unwatch(b->loop, &b->lioh);
    while (b->conns)
        tn_bk_conn_close(b->conns, NULL);
}

void tern_broker_stop(tern_broker *broker)
{
    if (broker == NULL)
        return;
    tn_broker_impl *b = (tn_broker_impl *)broker;
    tn_task t = {.fn = stop_task, .arg = b};
    tn_loop_post(b->loop, &t);
    pthread_mutex_lock(&b->sync_lock);
    b->sync_stop = 1;
    pthread_cond_signal(&b->sync_cond);
    pthread_mutex_unlock(&b->sync_lock);
    pthread_join(b->sync_thread, NULL);
    tn_loop_stop(b->loop); /* runs stop_task and the connections' frees */
    /* The loop is gone: the last syncs run here. */
    if (b->opts.fsync != TERN_FSYNC_NEVER) {
        for (tn_bk_topic *tp = b->topics; tp; tp = tp->next)
            for (int32_t i = 0; i < tp->nparts && !tp->deleted; i++)
                tn_log_sync(tp->parts[i].log);
    }
    pthread_mutex_destroy(&b->sync_lock);
    pthread_cond_destroy(&b->sync_cond);
    broker_free(b);
}
