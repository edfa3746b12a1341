/* Topic administration: create and delete (sent to the controller, or to
 * any broker, which forwards them in a KRaft cluster), list, describe. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "kclient/client.h"
#include "kclient/kerr.h"
#include "kclient/proto_util.h"

/* The controller's connection, else any broker's. */
static tern_err controller_conn(tern_kafka *k, uint64_t deadline, tn_kc_conn **c)
{
    if (k->controller >= 0 && tn_kc_node_conn(k, k->controller, deadline, c) == TERN_OK)
        return TERN_OK;
    return tn_kc_any_conn(k, deadline, c);
}

/* Sends the request in w (then freed) to the controller, c; the answer in r. */
static tern_err controller_call(tern_kafka *k, tn_kw *w, uint64_t deadline, tn_kc_conn **c,
                                tn_kr *r)
{
    tern_err err = controller_conn(k, deadline, c);
    if (err == TERN_OK)
        err = tn_kc_call(k, *c, w, deadline, r);
    tn_kw_free(w);
    return err;
}

/* The request's own timeout, the client's, as the protocol's int32. */
static int32_t request_timeout(const tern_kafka *k)
{
    return k->timeout_ms > INT32_MAX ? INT32_MAX : (int32_t)k->timeout_ms;
}

/* Whether code says the request went to a broker that is no longer the
 * controller and time is left to ask the new one; *err gets a failed
 * metadata refresh. */
static bool controller_moved(tern_kafka *k, int16_t code, uint64_t deadline, tern_err *err)
{
    if (code != TN_KE_NOT_CONTROLLER || tn_kc_expired(deadline))
        return false;
    *err = tn_kc_refresh(k, NULL, 0, false, false, deadline, NULL, NULL);
    return true;
}

static bool valid_name(const char *topic)
{
    size_t len = strlen(topic);
    return len > 0 && len <= 249;
}

tern_err tern_kafka_topic_create(tern_kafka *k, const char *topic, int32_t partitions,
                                 int16_t replication_factor, const tern_kafka_config *configs,
                                 size_t nconfigs)
{
    if (!valid_name(topic))
        return tn_kc_fail(k, TERN_EINVAL, "a topic name is 1 to 249 bytes");
    if (partitions == 0 || partitions < -1 || replication_factor == 0 || replication_factor < -1)
        return tn_kc_fail(k, TERN_EINVAL, "partitions and replication factor are positive (or -1)");
    for (size_t i = 0; i < nconfigs; i++) {
        if (configs[i].name == NULL || configs[i].name[0] == '\0')
            return tn_kc_fail(k, TERN_EINVAL, "a config entry without a name");
    }
    uint64_t deadline = tn_kc_deadline(k);
    int32_t timeout = request_timeout(k);
    for (;;) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_CREATE_TOPICS, TN_KC_V_CREATE_TOPICS, k->client_id);
        tn_kc_enc_create_topic(&w, topic, partitions, replication_factor, configs, nconfigs,
                               timeout);
        tn_kc_req_end(&w);
        tn_kc_conn *c;
        tn_kr r;
        tern_err err = controller_call(k, &w, deadline, &c, &r);
        if (err != TERN_OK)
            return err;
        int16_t code;
        tn_kstr msg;
        if (tn_kc_dec_create_topic(&r, topic, &code, &msg) != TERN_OK)
            return tn_kc_fail(k, TERN_EPROTO, "broker %s: malformed CreateTopics response",
                              c->addr);
        if (code == 0)
            return TERN_OK;
        if (controller_moved(k, code, deadline, &err)) {
            if (err != TERN_OK)
                return err;
            continue;
        }
        if (msg.len > 0)
            return tn_kc_fail(k, tn_kc_err_map(code), "cannot create topic %s: %s (%.*s)", topic,
                              tern_kafka_error_name(code), (int)msg.len, msg.p);
        return tn_kc_fail(k, tn_kc_err_map(code), "cannot create topic %s: %s", topic,
                          tern_kafka_error_name(code));
    }
}

tern_err tern_kafka_topic_delete(tern_kafka *k, const char *topic)
{
    if (!valid_name(topic))
        return tn_kc_fail(k, TERN_EINVAL, "a topic name is 1 to 249 bytes");
    uint64_t deadline = tn_kc_deadline(k);
    int32_t timeout = request_timeout(k);
    for (;;) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kc_req_begin(&w, TN_KAPI_DELETE_TOPICS, TN_KC_V_DELETE_TOPICS, k->client_id);
        tn_kc_enc_delete_topic(&w, topic, timeout);
        tn_kc_req_end(&w);
        tn_kc_conn *c;
        tn_kr r;
        tern_err err = controller_call(k, &w, deadline, &c, &r);
        if (err != TERN_OK)
            return err;
        int16_t code;
        if (tn_kc_dec_delete_topic(&r, topic, &code) != TERN_OK)
            return tn_kc_fail(k, TERN_EPROTO, "broker %s: malformed DeleteTopics response",
                              c->addr);
        if (code == 0) {
            tn_kc_topic *t = tn_kc_topic_find(k, topic);
            if (t)
                t->error = TN_KE_UNKNOWN_TOPIC_OR_PARTITION;
            return TERN_OK;
        }
        if (controller_moved(k, code, deadline, &err)) {
            if (err != TERN_OK)
                return err;
            continue;
        }
        if (code == TN_KE_UNKNOWN_TOPIC_OR_PARTITION)
            return tn_kc_fail(k, TERN_ENOENT, "no topic '%s'", topic);
        return tn_kc_fail(k, tn_kc_err_map(code), "cannot delete topic %s: %s", topic,
                          tern_kafka_error_name(code));
    }
}

/* Rounds n up for the next piece of a one-block result. */
static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const tern_kafka_topic_entry *)a)->name,
                  ((const tern_kafka_topic_entry *)b)->name);
}

tern_err tern_kafka_topic_list(tern_kafka *k, tern_kafka_topics **out)
{
    tn_kc_md md;
    uint8_t *buf;
    tern_err err = tn_kc_refresh(k, NULL, 0, true, false, tn_kc_deadline(k), &md, &buf);
    if (err != TERN_OK)
        return err;
    size_t n = 0, strings = 0;
    for (int32_t i = 0; i < md.ntopics; i++) {
        if (md.topics[i].error == 0 && md.topics[i].name.len > 0) {
            n++;
            strings += (size_t)md.topics[i].name.len + 1;
        }
    }
    size_t head = align_up(sizeof(tern_kafka_topics));
    size_t entries = align_up(n * sizeof(tern_kafka_topic_entry));
    tern_kafka_topics *list = malloc(head + entries + strings);
    if (list == NULL) {
        tn_kc_md_free(&md);
        free(buf);
        return tn_kc_fail(k, TERN_ENOMEM, "out of memory");
    }
    list->n = n;
    list->topics = (tern_kafka_topic_entry *)((char *)list + head);
    char *s = (char *)list + head + entries;
    size_t j = 0;
    for (int32_t i = 0; i < md.ntopics; i++) {
        const tn_kc_md_topic *t = &md.topics[i];
        if (t->error != 0 || t->name.len <= 0)
            continue;
        memcpy(s, t->name.p, (size_t)t->name.len);
        s[t->name.len] = '\0';
        list->topics[j].name = s;
        list->topics[j].partitions = t->nparts;
        list->topics[j].internal = t->internal;
        s += t->name.len + 1;
        j++;
    }
    qsort(list->topics, n, sizeof *list->topics, entry_cmp);
    tn_kc_md_free(&md);
    free(buf);
    *out = list;
    return TERN_OK;
}

static int part_cmp(const void *a, const void *b)
{
    int32_t x = ((const tern_kafka_partition_desc *)a)->partition;
    int32_t y = ((const tern_kafka_partition_desc *)b)->partition;
    return (x > y) - (x < y);
}

/* The one-block description of mt, with offsets from ListOffsets. */
static tern_err describe_block(tern_kafka *k, const char *topic, const tn_kc_md_topic *mt,
                               uint64_t deadline, tern_kafka_topic_desc **out)
{
    size_t n = (size_t)mt->nparts;
    char(*addrs)[TN_KC_ADDR_MAX] = calloc(n ? n : 1, sizeof *addrs);
    /* Earliest then latest: a request names each partition once. */
    tn_kc_preq *q = calloc(2 * n + 1, sizeof *q);
    int64_t *offs = calloc(2 * n + 1, sizeof *offs);
    int16_t *errs = calloc(2 * n + 1, sizeof *errs);
    tern_kafka_topic_desc *d = NULL;
    tern_err err = TERN_ENOMEM;
    if (addrs == NULL || q == NULL || offs == NULL || errs == NULL)
        goto done;
    size_t strings = strlen(topic) + 1;
    for (size_t i = 0; i < n; i++) {
        tn_kc_node_addr(k, mt->parts[i].leader, addrs[i], sizeof addrs[i]);
        strings += strlen(addrs[i]) + 1;
        q[i] = (tn_kc_preq){
            .topic = topic, .partition = mt->parts[i].partition, .value = TN_KC_TS_EARLIEST};
        q[n + i] = q[i];
        q[n + i].value = TN_KC_TS_LATEST;
    }
    /* Leaders that cannot be asked leave their partitions' offsets -1. */
    (void)tn_kc_list_offsets(k, q, n, deadline, offs, errs);
    (void)tn_kc_list_offsets(k, q + n, n, deadline, offs + n, errs + n);
    size_t head = align_up(sizeof *d);
    size_t parts = align_up(n * sizeof(tern_kafka_partition_desc));
    d = malloc(head + parts + strings);
    if (d == NULL)
        goto done;
    d->npartitions = n;
    d->internal = mt->internal;
    d->partitions = (tern_kafka_partition_desc *)((char *)d + head);
    char *s = (char *)d + head + parts;
    d->name = strcpy(s, topic);
    s += strlen(topic) + 1;
    for (size_t i = 0; i < n; i++) {
        const tn_kc_md_part *mp = &mt->parts[i];
        tern_kafka_partition_desc *pd = &d->partitions[i];
        pd->partition = mp->partition;
        pd->error = mp->error ? mp->error : errs[i] ? errs[i] : errs[n + i];
        pd->leader = mp->leader;
        pd->leader_addr = strcpy(s, addrs[i]);
        s += strlen(addrs[i]) + 1;
        pd->replicas = mp->replicas;
        pd->isr = mp->isr;
        pd->start_offset = offs[i];
        pd->end_offset = offs[n + i];
    }
    qsort(d->partitions, n, sizeof *d->partitions, part_cmp);
    *out = d;
    err = TERN_OK;
done:
    free(addrs);
    free(q);
    free(offs);
    free(errs);
    return err == TERN_OK ? TERN_OK : tn_kc_fail(k, err, "out of memory");
}

tern_err tern_kafka_topic_describe(tern_kafka *k, const char *topic, tern_kafka_topic_desc **out)
{
    if (!valid_name(topic))
        return tn_kc_fail(k, TERN_EINVAL, "a topic name is 1 to 249 bytes");
    uint64_t deadline = tn_kc_deadline(k);
    tn_kc_md md;
    uint8_t *buf;
    tern_err err = tn_kc_refresh(k, &topic, 1, false, false, deadline, &md, &buf);
    if (err != TERN_OK)
        return err;
    const tn_kc_md_topic *mt = NULL;
    for (int32_t i = 0; i < md.ntopics; i++) {
        if (tn_kc_kstr_eq(md.topics[i].name, topic))
            mt = &md.topics[i];
    }
    if (mt == NULL || mt->error == TN_KE_UNKNOWN_TOPIC_OR_PARTITION)
        err = tn_kc_fail(k, TERN_ENOENT, "no topic '%s'", topic);
    else if (mt->error != 0)
        err = tn_kc_fail(k, tn_kc_err_map(mt->error), "topic '%s': %s", topic,
                         tern_kafka_error_name(mt->error));
    else
        err = describe_block(k, topic, mt, deadline, out);
    tn_kc_md_free(&md);
    free(buf);
    return err;
}
