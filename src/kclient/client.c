/* The client handle: bootstrap, the node table, metadata and its cache,
 * and the request helpers everything else uses. */
#include "kclient/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/trace.h"
#include "kclient/kerr.h"
#include "kclient/proto_util.h"

#define NS_PER_MS 1000000ull
/* How long an auto-created topic may stay unknown to the metadata. */
#define UNKNOWN_GRACE_MS 2000

/* Why the last tern_kafka_open on this thread failed. */
static _Thread_local char open_err[2 * TN_KC_ERR_MAX];

tern_err tn_kc_fail(tern_kafka *k, tern_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->err, sizeof k->err, fmt, ap);
    va_end(ap);
    return err;
}

uint64_t tn_kc_deadline(const tern_kafka *k)
{
    return tern_clock_ns() + (uint64_t)k->timeout_ms * NS_PER_MS;
}

bool tn_kc_expired(uint64_t deadline)
{
    return tern_clock_ns() >= deadline;
}

void tn_kc_backoff(uint64_t deadline)
{
    uint64_t now = tern_clock_ns();
    uint64_t ns = TN_KC_BACKOFF_MS * NS_PER_MS;
    if (now >= deadline)
        return;
    if (deadline - now < ns)
        ns = deadline - now;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- broker lists -------------------------------------------------------- */

void tn_kc_hostports_free(tn_kc_hostport *hp, size_t n)
{
    for (size_t i = 0; hp && i < n; i++)
        free(hp[i].host);
    free(hp);
}

static tern_err parse_one(const char *s, size_t len, tn_kc_hostport *hp)
{
    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':')
            colon = s + i;
    }
    if (colon == NULL || colon == s || (size_t)(colon - s) + 1 >= len)
        return TERN_EADDRINVAL;
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']')
            return TERN_EADDRINVAL;
        h++;
        hlen -= 2;
    }
    unsigned long port = 0;
    for (const char *p = colon + 1; p < s + len; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return TERN_EADDRINVAL;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535)
        return TERN_EADDRINVAL;
    hp->host = strndup(h, hlen);
    if (hp->host == NULL)
        return TERN_ENOMEM;
    hp->port = (uint16_t)port;
    return TERN_OK;
}

tern_err tn_kc_parse_brokers(const char *list, tn_kc_hostport **out, size_t *n)
{
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    tn_kc_hostport *hp = calloc(count, sizeof *hp);
    if (hp == NULL)
        return TERN_ENOMEM;
    const char *s = list;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        tern_err err = parse_one(s, len, &hp[i]);
        if (err != TERN_OK) {
            tn_kc_hostports_free(hp, count);
            return err;
        }
        s = end ? end + 1 : s + len;
    }
    *out = hp;
    *n = count;
    return TERN_OK;
}

/* ---- connections --------------------------------------------------------- */

static tn_kc_node *node_find(tern_kafka *k, int32_t id)
{
    for (size_t i = 0; i < k->nnodes; i++) {
        if (k->nodes[i].id == id)
            return &k->nodes[i];
    }
    return NULL;
}

const char *tn_kc_node_addr(const tern_kafka *k, int32_t id, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < k->nnodes; i++) {
        if (k->nodes[i].id == id)
            snprintf(buf, cap, strchr(k->nodes[i].host, ':') ? "[%s]:%u" : "%s:%u",
                     k->nodes[i].host, (unsigned)k->nodes[i].port);
    }
    return buf;
}

static tern_err open_conn(tern_kafka *k, const char *host, uint16_t port, uint64_t deadline,
                          tn_kc_conn **out)
{
    char why[TN_KC_ERR_MAX];
    tern_err err = tn_kc_conn_open(host, port, k->client_id, deadline, out, why);
    if (err != TERN_OK)
        tn_kc_fail(k, err,
                   strchr(host, ':') ? "cannot reach broker [%s]:%u: %s"
                                     : "cannot reach broker %s:%u: %s",
                   host, (unsigned)port, why);
    return err;
}

tern_err tn_kc_node_conn(tern_kafka *k, int32_t id, uint64_t deadline, tn_kc_conn **out)
{
    tn_kc_node *n = node_find(k, id);
    if (n == NULL)
        return tn_kc_fail(k, TERN_EUNAVAILABLE, "the cluster's metadata names no broker %ld",
                          (long)id);
    if (n->conn == NULL) {
        tern_err err = open_conn(k, n->host, n->port, deadline, &n->conn);
        if (err != TERN_OK)
            return err;
    }
    *out = n->conn;
    return TERN_OK;
}

tern_err tn_kc_any_conn(tern_kafka *k, uint64_t deadline, tn_kc_conn **out)
{
    for (size_t i = 0; i < k->nnodes; i++) {
        if (k->nodes[i].conn) {
            *out = k->nodes[i].conn;
            return TERN_OK;
        }
    }
    if (k->boot_conn) {
        *out = k->boot_conn;
        return TERN_OK;
    }
    tern_err err = TERN_EUNAVAILABLE;
    for (size_t i = 0; i < k->nnodes && !tn_kc_expired(deadline); i++) {
        err = tn_kc_node_conn(k, k->nodes[i].id, deadline, out);
        if (err == TERN_OK)
            return TERN_OK;
    }
    for (size_t i = 0; i < k->nboot && !tn_kc_expired(deadline); i++) {
        err = open_conn(k, k->boot[i].host, k->boot[i].port, deadline, &k->boot_conn);
        if (err == TERN_OK) {
            *out = k->boot_conn;
            return TERN_OK;
        }
    }
    return err;
}

static void drop_conn(tern_kafka *k, tn_kc_conn *c)
{
    for (size_t i = 0; i < k->nnodes; i++) {
        if (k->nodes[i].conn == c)
            k->nodes[i].conn = NULL;
    }
    if (k->boot_conn == c)
        k->boot_conn = NULL;
    tn_kc_conn_close(c);
}

tern_err tn_kc_conn_failed(tern_kafka *k, tn_kc_conn *c, tern_err err)
{
    tn_kc_fail(k, err, "broker %s: %s", c->addr, c->err);
    tn_trace(TERN_TRACE_BROKER, "kafka client: %s", k->err);
    /* A timed-out call leaves a response on its way: the connection
     * cannot be trusted with the next request either. */
    if (c->broken || err == TERN_ETIMEDOUT)
        drop_conn(k, c);
    return err;
}

tern_err tn_kc_call(tern_kafka *k, tn_kc_conn *c, tn_kw *req, uint64_t deadline, tn_kr *body)
{
    if (req->err)
        return tn_kc_fail(k, TERN_ENOMEM, "cannot build the request");
    int16_t api = (int16_t)(req->p[4] << 8 | req->p[5]);
    int16_t version = (int16_t)(req->p[6] << 8 | req->p[7]);
    tern_err err = tn_kc_conn_supports(c, api, version);
    if (err == TERN_OK)
        err = tn_kc_conn_send(c, req, TN_KC_MAX_RESPONSE, deadline);
    if (err == TERN_OK)
        err = tn_kc_conn_recv(c, deadline, body);
    if (err != TERN_OK)
        return tn_kc_conn_failed(k, c, err);
    return TERN_OK;
}

/* ---- metadata ------------------------------------------------------------ */

static void topic_free(tn_kc_topic *t)
{
    free(t->name);
    free(t->leaders);
}

tn_kc_topic *tn_kc_topic_find(tern_kafka *k, const char *name)
{
    for (size_t i = 0; i < k->ntopics; i++) {
        if (strcmp(k->topics[i].name, name) == 0)
            return &k->topics[i];
    }
    return NULL;
}

/* Replaces the node table with md's brokers, keeping the connections of
 * those that did not move. */
static tern_err update_nodes(tern_kafka *k, const tn_kc_md *md)
{
    tn_kc_node *nodes = calloc(md->nbrokers ? (size_t)md->nbrokers : 1, sizeof *nodes);
    if (nodes == NULL)
        return TERN_ENOMEM;
    size_t n = 0;
    for (int32_t i = 0; i < md->nbrokers; i++) {
        const tn_kc_md_broker *b = &md->brokers[i];
        if (b->host.len <= 0 || b->port <= 0 || b->port > 65535)
            continue;
        nodes[n].id = b->id;
        nodes[n].port = (uint16_t)b->port;
        nodes[n].host = strndup(b->host.p, (size_t)b->host.len);
        if (nodes[n].host == NULL) {
            for (size_t j = 0; j < n; j++)
                free(nodes[j].host);
            free(nodes);
            return TERN_ENOMEM;
        }
        tn_kc_node *old = node_find(k, b->id);
        if (old && old->port == nodes[n].port && strcmp(old->host, nodes[n].host) == 0) {
            nodes[n].conn = old->conn;
            old->conn = NULL;
        }
        n++;
    }
    for (size_t i = 0; i < k->nnodes; i++) {
        tn_kc_conn_close(k->nodes[i].conn);
        free(k->nodes[i].host);
    }
    free(k->nodes);
    k->nodes = nodes;
    k->nnodes = n;
    k->controller = md->controller;
    return TERN_OK;
}

static tern_err update_topic(tern_kafka *k, const tn_kc_md_topic *mt)
{
    if (mt->name.len <= 0)
        return TERN_OK;
    char *name = strndup(mt->name.p, (size_t)mt->name.len);
    if (name == NULL)
        return TERN_ENOMEM;
    int32_t npart = 0;
    for (int32_t i = 0; i < mt->nparts; i++) {
        if (mt->parts[i].partition >= npart && mt->parts[i].partition < mt->nparts)
            npart = mt->parts[i].partition + 1;
    }
    int32_t *leaders = malloc((npart ? (size_t)npart : 1) * sizeof *leaders);
    if (leaders == NULL) {
        free(name);
        return TERN_ENOMEM;
    }
    for (int32_t i = 0; i < npart; i++)
        leaders[i] = -1;
    for (int32_t i = 0; i < mt->nparts; i++) {
        const tn_kc_md_part *p = &mt->parts[i];
        if (p->partition >= 0 && p->partition < npart)
            leaders[p->partition] = p->leader;
    }
    tn_kc_topic *t = tn_kc_topic_find(k, name);
    if (t == NULL) {
        tn_kc_topic *grown = realloc(k->topics, (k->ntopics + 1) * sizeof *grown);
        if (grown == NULL) {
            free(name);
            free(leaders);
            return TERN_ENOMEM;
        }
        k->topics = grown;
        t = &k->topics[k->ntopics++];
    } else {
        topic_free(t);
    }
    t->name = name;
    t->error = mt->error;
    t->npart = npart;
    t->leaders = leaders;
    return TERN_OK;
}

tern_err tn_kc_refresh(tern_kafka *k, const char *const *topics, size_t n, bool all,
                       bool auto_create, uint64_t deadline, tn_kc_md *md, uint8_t **buf)
{
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_METADATA, TN_KC_V_METADATA, k->client_id);
    tn_kc_enc_metadata(&w, topics, n, all, auto_create);
    tn_kc_req_end(&w);
    tn_kc_conn *c;
    tn_kr r;
    tern_err err = tn_kc_any_conn(k, deadline, &c);
    if (err == TERN_OK)
        err = tn_kc_call(k, c, &w, deadline, &r);
    tn_kw_free(&w);
    if (err != TERN_OK)
        return err;
    /* The response outlives the connection's next request. */
    uint8_t *resp = tn_kc_conn_take(c);
    char addr[TN_KC_ADDR_MAX];
    snprintf(addr, sizeof addr, "%s", c->addr);
    tn_kc_md m;
    err = tn_kc_dec_metadata(&r, &m);
    if (err != TERN_OK) {
        free(resp);
        return tn_kc_fail(k, err, "broker %s: malformed Metadata response", addr);
    }
    if (m.nbrokers > 0)
        err = update_nodes(k, &m);
    /* The cache keeps the topics asked for by name, whatever else the
     * response holds: its work is bounded by the request's. */
    for (int32_t i = 0; !all && i < m.ntopics && err == TERN_OK; i++) {
        for (size_t j = 0; j < n; j++) {
            if (tn_kc_kstr_eq(m.topics[i].name, topics[j])) {
                err = update_topic(k, &m.topics[i]);
                break;
            }
        }
    }
    /* Nodes are known now: the bootstrap connection has served. */
    if (err == TERN_OK && k->nnodes > 0 && k->boot_conn) {
        tn_kc_conn_close(k->boot_conn);
        k->boot_conn = NULL;
    }
    if (err != TERN_OK || md == NULL) {
        tn_kc_md_free(&m);
        free(resp);
        return err == TERN_OK ? TERN_OK : tn_kc_fail(k, err, "out of memory");
    }
    *md = m;
    *buf = resp;
    return TERN_OK;
}

static bool topic_usable(const tn_kc_topic *t)
{
    if (t == NULL || t->error != 0 || t->npart <= 0)
        return false;
    for (int32_t i = 0; i < t->npart; i++) {
        if (t->leaders[i] < 0)
            return false;
    }
    return true;
}

tern_err tn_kc_topic_ready(tern_kafka *k, const char *name, bool auto_create, uint64_t deadline,
                           tn_kc_topic **out)
{
    tn_kc_topic *t = tn_kc_topic_find(k, name);
    /* A topic still unknown after this long is not being created: the
     * broker does not auto-create (or not this name). */
    uint64_t unknown_until = tern_clock_ns() + UNKNOWN_GRACE_MS * NS_PER_MS;
    for (;;) {
        if (topic_usable(t)) {
            *out = t;
            return TERN_OK;
        }
        tern_err err = tn_kc_refresh(k, &name, 1, false, auto_create, deadline, NULL, NULL);
        if (err != TERN_OK)
            return err;
        t = tn_kc_topic_find(k, name);
        if (topic_usable(t)) {
            *out = t;
            return TERN_OK;
        }
        int16_t code = t ? t->error : TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
        /* An unknown topic stays unknown unless the broker is creating it. */
        bool wait = code == 0 ||
                    (tn_kc_err_retriable(code) && (code != TN_KE_UNKNOWN_TOPIC_OR_PARTITION ||
                                                   (auto_create && !tn_kc_expired(unknown_until))));
        if (!wait || tn_kc_expired(deadline)) {
            if (code == TN_KE_UNKNOWN_TOPIC_OR_PARTITION)
                return tn_kc_fail(k, TERN_ENOENT, "no topic '%s'", name);
            if (code == 0)
                return tn_kc_fail(k, TERN_EUNAVAILABLE,
                                  "topic '%s' has partitions without a leader", name);
            return tn_kc_fail(k, tn_kc_err_map(code), "topic '%s': %s", name,
                              tern_kafka_error_name(code));
        }
        tn_kc_backoff(deadline);
    }
}

/* ---- the handle ---------------------------------------------------------- */

void tern_kafka_opts_init(tern_kafka_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->brokers = "localhost:9092";
    opts->client_id = "tern";
    opts->timeout_ms = 30000;
}

const char *tern_kafka_last_error(const tern_kafka *k)
{
    return k ? k->err : open_err;
}

void tern_kafka_close(tern_kafka *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->nnodes; i++) {
        tn_kc_conn_close(k->nodes[i].conn);
        free(k->nodes[i].host);
    }
    free(k->nodes);
    for (size_t i = 0; i < k->ntopics; i++)
        topic_free(&k->topics[i]);
    free(k->topics);
    tn_kc_conn_close(k->boot_conn);
    tn_kc_hostports_free(k->boot, k->nboot);
    free(k->client_id);
    free(k);
}

tern_err tern_kafka_open(const tern_kafka_opts *opts, tern_kafka **out)
{
    tern_kafka_opts def;
    if (opts == NULL) {
        tern_kafka_opts_init(&def);
        opts = &def;
    }
    const char *brokers = opts->brokers ? opts->brokers : "localhost:9092";
    tern_kafka *k = calloc(1, sizeof *k);
    if (k == NULL) {
        snprintf(open_err, sizeof open_err, "out of memory");
        return TERN_ENOMEM;
    }
    k->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    k->client_id = strdup(opts->client_id ? opts->client_id : "tern");
    k->controller = -1;
    /* Like the Java client, keyless records start at a random partition,
     * so short-lived producers do not all fill the first one. */
    k->sticky = (uint32_t)(tern_clock_wall_ns() / 1000u) ^ (uint32_t)getpid() * 2654435761u;
    tern_err err = k->client_id ? tn_kc_parse_brokers(brokers, &k->boot, &k->nboot) : TERN_ENOMEM;
    if (err == TERN_EADDRINVAL)
        tn_kc_fail(k, err, "bad broker list '%s' (want HOST:PORT[,HOST:PORT...])", brokers);
    else if (err != TERN_OK)
        tn_kc_fail(k, err, "out of memory");
    /* Metadata without topics: just the brokers. */
    if (err == TERN_OK)
        err = tn_kc_refresh(k, NULL, 0, false, false, tn_kc_deadline(k), NULL, NULL);
    if (err != TERN_OK) {
        snprintf(open_err, sizeof open_err, "%s", k->err);
        tern_kafka_close(k);
        return err;
    }
    *out = k;
    return TERN_OK;
}
