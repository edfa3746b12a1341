/* The broker's insides shared by server.c (lifecycle, listener, sync
 * thread), conn.c (framing and the in-order response queue), topics.c
 * (the topic registry) and the api_*.c request handlers. Everything runs
 * on the broker's loop thread except the sync thread's fdatasyncs. */
#ifndef TN_BROKER_SERVER_H
#define TN_BROKER_SERVER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>

#include "broker/group.h"
#include "broker/log.h"
#include "io/loop.h"
#include "kafka/codec.h"
#include "tern/broker.h"

typedef struct tn_bk_conn tn_bk_conn;
typedef struct tn_bk_req tn_bk_req;
typedef struct tn_bk_topic tn_bk_topic;

typedef struct tn_bk_part {
    tn_bk_topic *topic;
    int32_t index;
    tn_log *log;
    int dirty;       /* appended since the last sync was taken */
    int sync_failed; /* an fdatasync failed: durability is lost, refuse acks=all */
} tn_bk_part;

struct tn_bk_topic {
    char *name;
    int32_t nparts;
    tn_bk_part *parts;
    tn_log_conf conf;
    int deleted; /* freed once no sync job refers to it */
    tn_bk_topic *next;
};

/* A file range spliced into a response at out offset `at` (Fetch records). */
typedef struct tn_bk_piece {
    size_t at;
    int fd; /* borrowed while building, then a dup (tn_bk_req_keep_pieces) */
    uint64_t pos;
    uint32_t len;
} tn_bk_piece;

typedef struct tn_bk_wait {
    tn_bk_part *part;
    int64_t upto;
    size_t err_at; /* the partition's error code in the response, patched if the sync fails */
} tn_bk_wait;

enum { TN_REQ_PENDING, TN_REQ_READY, TN_REQ_SILENT };

struct tn_bk_req {
    tn_bk_req *next; /* the connection's queue, in arrival order */
    tn_bk_conn *conn;
    int16_t api;
    int16_t version;
    int32_t correlation_id;
    int flex;          /* flexible request (and response header) */
    tn_kstr client_id; /* into buf */
    uint8_t *buf;      /* the whole request frame, owned */
    size_t len;
    size_t cap;  /* bytes buf holds room for (< len while a big frame arrives) */
    size_t body; /* offset of the body in buf */
    int state;
    int dispatching; /* its handler is running */
    tn_kw out;
    tn_bk_piece *pieces;
    int npieces, cap_pieces;
    int pieces_owned; /* their fds are dups to close */
    /* write progress once at the head of the queue */
    uint8_t head[12];
    size_t head_len;
    size_t sent;
    /* durability wait (Produce) */
    tn_bk_wait *waits;
    int nwaits;
    tn_bk_req *wait_next; /* broker's durable-waiters or fetch-waiters list */
    int on_list;
    /* long poll (Fetch) */
    tn_timer timer;
    uint64_t deadline_ns;
    /* group waits (JoinGroup, SyncGroup) */
    tn_group_waiter gw;
};

struct tn_bk_conn {
    struct tn_broker_impl *b;
    tn_ioh ioh;
    char peer[64];
    char local_host[64]; /* advertised when no --advertise is set */
    uint16_t local_port;
    uint8_t *in; /* read buffer */
    size_t in_len, in_cap;
    tn_bk_req *big; /* a frame being read straight into its own buffer */
    size_t big_have;
    tn_bk_req *qhead, *qtail;
    int queued;
    size_t queued_bytes;
    int closing;
    tn_task free_task;
    tn_bk_conn *next;
};

typedef struct tn_bk_sync_job {
    int *fds;
    int nfds, cap_fds;
    tn_bk_wait *parts; /* upto per part */
    int nparts, cap_parts;
    int failed_errno;
} tn_bk_sync_job;

typedef struct tn_broker_impl {
    tern_broker_opts opts;
    char *data_dir;
    char adv_host[256];
    uint16_t adv_port;
    int listen_fd;
    uint16_t port;
    tn_ioh lioh;
    tn_loop *loop;
    tn_bk_conn *conns;
    tn_bk_topic *topics;
    tn_groups *groups;
    const tn_disk *disk;
    int64_t next_producer_id, producer_id_limit;
    /* waiters */
    tn_bk_req *durable_waiters;
    tn_bk_req *fetch_waiters;
    tn_bk_req *fetch_retrying; /* fetch_waiters being looked at again */
    tn_task data_task;         /* appended: re-check parked fetches and start a sync */
    int data_arrived;
    /* group commit */
    pthread_t sync_thread;
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    tn_bk_sync_job job;
    int job_ready, sync_busy, sync_stop;
    tn_task sync_done_task;
    tn_task start_task;
    tn_timer sync_timer;   /* --fsync interval */
    tn_timer tick_timer;   /* groups, retention */
    tn_timer accept_timer; /* the listener rests after EMFILE */
    int64_t next_retention_ms;
} tn_broker_impl;

/* conn.c */
void tn_bk_accept(tn_broker_impl *b);
/* The accept pause after running out of descriptors ends (a timer). */
void tn_bk_accept_resume(void *arg);
void tn_bk_conn_close(tn_bk_conn *c, const char *why);
/* A pending request became ready (or silent): write what can be written. */
void tn_bk_req_ready(tn_bk_req *r);
/* Splices a file range into the response at the current output position;
 * the descriptor is only borrowed until tn_bk_req_keep_pieces. */
int tn_bk_req_add_piece(tn_bk_req *r, int fd, uint64_t pos, uint32_t len);
/* The response will be sent: its pieces take their own descriptors. */
int tn_bk_req_keep_pieces(tn_bk_req *r);
void tn_bk_req_reset_out(tn_bk_req *r);
void tn_bk_unlist(tn_bk_req **list, tn_bk_req *r);

/* server.c */
int64_t tn_bk_now_ms(void);  /* wall clock: record timestamps */
int64_t tn_bk_mono_ms(void); /* monotonic: group sessions */
void tn_bk_data_appended(tn_broker_impl *b, tn_bk_part *p);
void tn_bk_wait_durable(tn_broker_impl *b, tn_bk_req *r);
/* A topic is being deleted: produces waiting on its partitions stop
 * waiting and answer UNKNOWN_TOPIC_OR_PARTITION for them. */
void tn_bk_forget_topic(tn_broker_impl *b, const tn_bk_topic *t);
void tn_bk_log(tn_broker_impl *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t tn_bk_new_producer_id(tn_broker_impl *b);
/* Runs the request's handler; TERN_EPROTO closes the connection. */
tern_err tn_bk_dispatch(tn_broker_impl *b, tn_bk_req *r);
/* The host and port clients are told to use on this connection. */
void tn_bk_advertised(tn_broker_impl *b, tn_bk_conn *c, const char **host, int32_t *port);

/* topics.c */
tern_err tn_bk_topics_load(tn_broker_impl *b);
void tn_bk_topics_close(tn_broker_impl *b);
tn_bk_topic *tn_bk_topic_find(tn_broker_impl *b, tn_kstr name);
int tn_bk_topic_name_ok(tn_kstr name);
/* Creates a topic with its configs (NULL-terminated key/value pairs already
 * validated); returns a Kafka error code. */
int16_t tn_bk_topic_create(tn_broker_impl *b, tn_kstr name, int32_t nparts, const tn_log_conf *conf,
                           tn_bk_topic **out, const char **why);
int16_t tn_bk_topic_delete(tn_broker_impl *b, tn_kstr name);
/* Applies one topic config (retention.ms, segment.bytes ...) to conf;
 * 0 if the name or value is not accepted. */
int tn_bk_topic_config(tn_log_conf *conf, tn_kstr key, tn_kstr value);
/* What a topic created now gets: the log defaults with the broker's options. */
void tn_bk_topic_default_conf(const tn_broker_impl *b, tn_log_conf *conf);
void tn_bk_topics_retain(tn_broker_impl *b, int64_t now_ms);
void tn_bk_topics_reap(tn_broker_impl *b);

/* api_*.c: one handler per API. Each reads r's body and writes r->out
 * (the response body), then marks the request ready or leaves it pending. */
typedef tern_err (*tn_bk_handler)(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_versions(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_metadata(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_create_topics(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_delete_topics(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_find_coordinator(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_init_producer_id(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_sasl_handshake(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_produce(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_fetch(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_list_offsets(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_join_group(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_sync_group(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_heartbeat(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_leave_group(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_offset_commit(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_offset_fetch(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_list_groups(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_describe_groups(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
tern_err tn_bk_api_describe_configs(tn_broker_impl *b, tn_bk_req *r, tn_kr *in);
/* Re-evaluates a parked Fetch (data arrived or its wait ended). */
void tn_bk_fetch_retry(tn_broker_impl *b, tn_bk_req *r, int final);
/* A request being dropped (connection gone) leaves every wait list. */
void tn_bk_req_withdraw(tn_broker_impl *b, tn_bk_req *r);

#endif
