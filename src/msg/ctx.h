/* The context: I/O threads, the sockets it opened, the inproc registry. */
#ifndef TN_MSG_CTX_H
#define TN_MSG_CTX_H

#include "msg/sock.h"

typedef struct tn_inproc_entry {
    struct tn_inproc_entry *next;
    tn_sock *sock;
    int bound; /* 1: a bind, 0: a connect waiting for or linked to binds */
    char name[TN_ENDPOINT_MAX];
} tn_inproc_entry;

struct tern_ctx {
    tn_loop **loops;
    int nloops;
    _Atomic unsigned next_loop;
    pthread_mutex_t lock; /* sockets */
    tn_sock **socks;
    size_t nsocks, capsocks;
    pthread_mutex_t inproc_lock; /* taken before any socket lock */
    tn_inproc_entry *inproc;
};

#endif
