/* tern_proxy: shuttles messages between two sockets. A side is read only
 * while the other can take what is read, so a slow or absent consumer
 * holds messages back in the sockets' queues (their high-water marks
 * apply) instead of blocking the other direction. */
#include <string.h>

#include "tern/msg.h"

/* Messages moved per direction before looking at the other one. */
#define BATCH 256

static tern_err forward(tern_socket from, tern_socket to, tern_socket capture)
{
    for (int i = 0; i < BATCH; i++) {
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
        err = tern_msg_send(to, m, TERN_DONTWAIT);
        if (err == TERN_EAGAIN) /* room vanished (another thread?): wait for it */
            err = tern_msg_send(to, m, 0);
        if (err != TERN_OK) {
            tern_msg_free(m);
            /* An unroutable ROUTER reply is the sender's problem, not the
             * proxy's: it is counted in that socket's drops. */
            if (err != TERN_EHOSTUNREACH && err != TERN_EINVAL)
                return err;
        }
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

tern_err tern_proxy(tern_socket front, tern_socket back, tern_socket capture, tern_socket control)
{
    tern_socket side[2] = {front, back};
    for (;;) {
        /* Which sides could take a message now? */
        tern_pollitem out[2] = {{.socket = front, .events = TERN_POLLOUT},
                                {.socket = back, .events = TERN_POLLOUT}};
        tern_err err = tern_poll(out, 2, 0, NULL);
        if (err != TERN_OK)
            return err;
        tern_pollitem it[3];
        size_t n = 0;
        for (int i = 0; i < 2; i++) {
            if (out[i].revents & TERN_POLLERR)
                return TERN_ECLOSED;
            /* Read side i when the other side has room, else wait for room. */
            int room = out[1 - i].revents & TERN_POLLOUT;
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
            if ((it[i].revents & TERN_POLLIN) && (err = forward(side[i], side[1 - i], capture)) != TERN_OK)
                return err;
        }
    }
}
