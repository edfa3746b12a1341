/* tern_proxy: shuttles messages between two sockets. A side is read only
 * while the other can take what is read; a message the other side refuses
 * for now is held, and the proxy waits for room there while still serving
 * the opposite direction and the control socket. So a slow or absent
 * consumer holds messages back in the sockets' queues (their high-water
 * marks apply) and never blocks the other direction. */
#include <string.h>

#include "tern/msg.h"

/* Messages moved per direction before looking at the other one. */
#define BATCH 256

/* Sends m on to, or keeps it in *held when to has no room now. */
static tern_err pass_on(tern_socket to, tern_msg *m, tern_msg **held)
{
    tern_err err = tern_msg_send(to, m, TERN_DONTWAIT);
    if (err == TERN_EAGAIN) {
        *held = m;
        return TERN_OK;
    }
    if (err != TERN_OK) {
        tern_msg_free(m);
        /* An unroutable ROUTER reply is the sender's problem, not the
         * proxy's: it is counted in that socket's drops. */
        if (err == TERN_EHOSTUNREACH || err == TERN_EINVAL)
            err = TERN_OK;
    }
    return err;
}

static tern_err forward(tern_socket from, tern_socket to, tern_socket capture, tern_msg **held)
{
    for (int i = 0; i < BATCH && *held == NULL; i++) {
        tern_msg *m;
        tern_err err = tern_msg_recv(from, &m, TERN_DONTWAIT);
        if (err == TERN_EAGAIN)
            return TERN_OK;
        if (err != TERN_OK)
            return err;
        if (capture.id != 0) {
            tern_msg *copy;
            if (tern_msg_dup(m, &copy) == TERN_OK && tern_msg_send(capture, copy, TERN_DONTWAIT) != TERN_OK)
                tern_msg_free(copy);
        }
        err = pass_on(to, m, held);
        if (err != TERN_OK)
            return err;
    }
    return TERN_OK;
}

static int is_terminate(tern_socket control)
{
    char buf[16];
    size_t len;
    tern_err err = tern_recv(control, buf, sizeof(buf), &len, TERN_DONTWAIT);
    return err == TERN_ECLOSED || (err == TERN_OK && len == 9 && memcmp(buf, "TERMINATE", 9) == 0);
}

static tern_err run(tern_socket side[2], tern_socket capture, tern_socket control, tern_msg *held[2])
{
    for (;;) {
        /* Which sides could take a message now? */
        tern_pollitem out[2] = {{.socket = side[0], .events = TERN_POLLOUT},
                                {.socket = side[1], .events = TERN_POLLOUT}};
        tern_err err = tern_poll(out, 2, 0, NULL);
        if (err != TERN_OK)
            return err;
        tern_pollitem it[3];
        size_t n = 0;
        for (int i = 0; i < 2; i++) {
            if (out[i].revents & TERN_POLLERR)
                return TERN_ECLOSED;
            /* Direction i (side i to the other): read side i when the other
             * has room and nothing is held for it, else wait for room. */
            int room = (out[1 - i].revents & TERN_POLLOUT) && held[i] == NULL;
            it[n++] = (tern_pollitem){.socket = room ? side[i] : side[1 - i],
                                      .events = room ? TERN_POLLIN : TERN_POLLOUT};
        }
        if (control.id != 0)
            it[n++] = (tern_pollitem){.socket = control, .events = TERN_POLLIN};
        err = tern_poll(it, n, -1, NULL);
        if (err != TERN_OK)
            return err;
        for (size_t i = 0; i < n; i++) {
            if (it[i].revents & TERN_POLLERR)
                return it[i].socket.id == control.id ? TERN_OK : TERN_ECLOSED;
        }
        if (control.id != 0 && (it[n - 1].revents & TERN_POLLIN) && is_terminate(control))
            return TERN_OK;
        for (int i = 0; i < 2; i++) {
            if (held[i] != NULL && (it[i].revents & TERN_POLLOUT)) {
                tern_msg *m = held[i];
                held[i] = NULL;
                if ((err = pass_on(side[1 - i], m, &held[i])) != TERN_OK)
                    return err;
            }
            if (held[i] == NULL && (it[i].revents & TERN_POLLIN) &&
                (err = forward(side[i], side[1 - i], capture, &held[i])) != TERN_OK)
                return err;
        }
    }
}

tern_err tern_proxy(tern_socket front, tern_socket back, tern_socket capture, tern_socket control)
{
    tern_socket side[2] = {front, back};
    tern_msg *held[2] = {NULL, NULL};
    tern_err err = run(side, capture, control, held);
    /* Messages still held were taken off one socket and never reached the
     * other; the sockets are closing or the proxy was told to stop. */
    tern_msg_free(held[0]);
    tern_msg_free(held[1]);
    return err;
}
