/* tern_poll: sockets and plain descriptors in one wait. The calling
 * thread's eventfd is registered with every polled socket, so any change on
 * any of them wakes one poll(2) that also watches the plain fds. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "msg/sock.h"

#define STACK_ITEMS 32

/* Sets the items' revents; *wake gets the earliest time a socket asked to
 * be looked at again (a REQ's resend), 0 if none. */
static int check(tern_pollitem *items, size_t n, tn_sock **socks, uint64_t *wake)
{
    int ready = 0;
    *wake = 0;
    for (size_t i = 0; i < n; i++) {
        tn_sock *s = socks[i];
        if (s == NULL) {
            /* A closed or unknown handle stays ready with POLLERR. */
            ready += items[i].socket.id != 0;
            continue;
        }
        short rev = 0;
        pthread_mutex_lock(&s->lock);
        s->wake_at = 0;
        if (s->closing)
            rev = TERN_POLLERR;
        else {
            if ((items[i].events & TERN_POLLIN) && tn_sock_can_recv(s))
                rev |= TERN_POLLIN;
            if ((items[i].events & TERN_POLLOUT) && tn_sock_can_send(s))
                rev |= TERN_POLLOUT;
        }
        if (s->wake_at && (*wake == 0 || s->wake_at < *wake))
            *wake = s->wake_at;
        pthread_mutex_unlock(&s->lock);
        items[i].revents = rev;
        ready += rev != 0;
    }
    return ready;
}

tern_err tern_poll(tern_pollitem *items, size_t n, int64_t timeout_ms, size_t *nready)
{
    if ((items == NULL && n > 0) || n > 65536)
        return TERN_EINVAL;
    tn_sock *stack_socks[STACK_ITEMS];
    tn_wnode stack_nodes[STACK_ITEMS];
    struct pollfd stack_pfds[STACK_ITEMS + 1];
    tn_sock **socks = stack_socks;
    tn_wnode *nodes = stack_nodes;
    struct pollfd *pfds = stack_pfds;
    if (n > STACK_ITEMS) {
        socks = calloc(n, sizeof(*socks));
        nodes = calloc(n, sizeof(*nodes));
        pfds = calloc(n + 1, sizeof(*pfds));
        if (socks == NULL || nodes == NULL || pfds == NULL) {
            free(socks);
            free(nodes);
            free(pfds);
            return TERN_ENOMEM;
        }
    }
    int efd = tn_thread_efd();
    tern_err err = efd < 0 ? TERN_ESYSTEM : TERN_OK;
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        items[i].revents = 0;
        socks[i] = NULL;
        if (items[i].socket.id == 0)
            continue;
        socks[i] = tn_sock_pin(items[i].socket);
        if (socks[i] == NULL) {
            items[i].revents = TERN_POLLERR;
            continue;
        }
        nodes[i].efd = efd;
        tn_sock_wait_add(socks[i], &nodes[i]);
    }

    uint64_t deadline = timeout_ms < 0 ? 0 : tern_clock_ns() + (uint64_t)timeout_ms * 1000000u;
    int ready = 0;
    while (err == TERN_OK) {
        uint64_t wake;
        ready = check(items, n, socks, &wake);
        size_t np = 0;
        pfds[np++] = (struct pollfd){.fd = efd, .events = POLLIN};
        for (size_t i = 0; i < n; i++) {
            if (items[i].socket.id != 0)
                continue;
            short ev = (short)(((items[i].events & TERN_POLLIN) ? POLLIN : 0) |
                               ((items[i].events & TERN_POLLOUT) ? POLLOUT : 0));
            pfds[np++] = (struct pollfd){.fd = items[i].fd, .events = ev};
        }
        int ms = -1;
        if (ready > 0 || timeout_ms == 0)
            ms = 0;
        else if (deadline || wake) {
            uint64_t until = wake && (!deadline || wake < deadline) ? wake : deadline;
            uint64_t now = tern_clock_ns();
            ms = now >= until ? 0 : (int)((until - now + 999999) / 1000000);
        }
        int rc = poll(pfds, np, ms);
        if (rc < 0 && errno != EINTR) {
            err = tern_err_from_errno(errno);
            break;
        }
        if (rc < 0)
            continue;
        size_t k = 1;
        for (size_t i = 0; i < n; i++) {
            if (items[i].socket.id != 0)
                continue;
            short r = pfds[k++].revents;
            items[i].revents = (short)(((r & POLLIN) ? TERN_POLLIN : 0) |
                                       ((r & POLLOUT) ? TERN_POLLOUT : 0) |
                                       ((r & (POLLERR | POLLHUP | POLLNVAL)) ? TERN_POLLERR : 0));
            ready += items[i].revents != 0;
        }
        if (pfds[0].revents & POLLIN) {
            uint64_t v;
            while (read(efd, &v, sizeof(v)) > 0) {
            }
            if (ready == 0)
                continue; /* a socket changed: check again */
        }
        if (ready > 0 || ms == 0)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        if (socks[i] != NULL) {
            tn_sock_wait_del(socks[i], &nodes[i]);
            tn_sock_unpin(socks[i]);
        }
    }
    if (n > STACK_ITEMS) {
        free(socks);
        free(nodes);
        free(pfds);
    }
    if (nready != NULL)
        *nready = err == TERN_OK ? (size_t)ready : 0;
    return err;
}
