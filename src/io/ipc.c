/* ipc:// — a Unix domain socket path ("ipc:///tmp/x") or an abstract name
 * ("ipc://@name", Linux). A stale socket file left by a dead process is
 * replaced on bind; a live one is refused with TERN_EADDRINUSE. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/transport.h"

static tern_err ipc_resolve(const char *addr, int for_bind, tn_addr *out)
{
    (void)for_bind;
    size_t len = strlen(addr);
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= sizeof(un->sun_path) || (addr[0] == '@' && len < 2))
        return TERN_EADDRINVAL;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, addr, len);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    if (addr[0] == '@') {
        un->sun_path[0] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return TERN_OK;
}

static void ipc_tune(int fd)
{
    (void)fd;
}

static int is_abstract(const tn_addr *a)
{
    return ((const struct sockaddr_un *)&a->sa)->sun_path[0] == '\0';
}

static tern_err ipc_prepare_bind(const tn_addr *addr)
{
    if (is_abstract(addr))
        return TERN_OK;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tern_err_from_errno(errno);
    int live = connect(fd, (const struct sockaddr *)&addr->sa, addr->len) == 0;
    int stale = !live && errno == ECONNREFUSED;
    close(fd);
    if (live)
        return TERN_EADDRINUSE;
    if (stale)
        unlink(((const struct sockaddr_un *)&addr->sa)->sun_path);
    return TERN_OK;
}

static void ipc_unbind(const tn_addr *addr)
{
    if (!is_abstract(addr))
        unlink(((const struct sockaddr_un *)&addr->sa)->sun_path);
}

static void ipc_format(const tn_addr *a, char *out, size_t cap)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    if (is_abstract(a)) {
        size_t n = a->len - offsetof(struct sockaddr_un, sun_path) - 1;
        snprintf(out, cap, "ipc://@%.*s", (int)n, un->sun_path + 1);
    } else {
        snprintf(out, cap, "ipc://%s", un->sun_path);
    }
}

const tn_stream_transport tn_ipc_transport = {
    .scheme = "ipc",
    .resolve = ipc_resolve,
    .tune = ipc_tune,
    .prepare_bind = ipc_prepare_bind,
    .unbind = ipc_unbind,
    .format = ipc_format,
};
