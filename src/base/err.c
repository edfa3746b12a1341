/* Error names, sentences and the errno mapping. */
#include <errno.h>

#include "tern/base.h"

struct err_info {
    const char *name;
    const char *text;
};

/* Indexed by code. Designated initialisers keep each entry beside its code,
 * so a gap shows up as a NULL name rather than a shifted table. */
static const struct err_info errs[] = {
    [TERN_OK] = {"TERN_OK", "success"},
    [TERN_EINVAL] = {"TERN_EINVAL", "invalid argument"},
    [TERN_ENOMEM] = {"TERN_ENOMEM", "out of memory"},
    [TERN_EAGAIN] = {"TERN_EAGAIN", "operation would block"},
    [TERN_ETIMEDOUT] = {"TERN_ETIMEDOUT", "operation timed out"},
    [TERN_ECLOSED] = {"TERN_ECLOSED", "handle is closed"},
    [TERN_ENOTSUP] = {"TERN_ENOTSUP", "operation not supported"},
    [TERN_EADDRINUSE] = {"TERN_EADDRINUSE", "address already in use"},
    [TERN_EADDRINVAL] = {"TERN_EADDRINVAL", "invalid or unresolvable address"},
    [TERN_ENOENT] = {"TERN_ENOENT", "no such endpoint, file or object"},
    [TERN_ECONNREFUSED] = {"TERN_ECONNREFUSED", "connection refused"},
    [TERN_EPROTO] = {"TERN_EPROTO", "protocol error"},
    [TERN_EMSGSIZE] = {"TERN_EMSGSIZE", "message too large"},
    [TERN_EINCOMPAT] = {"TERN_EINCOMPAT", "incompatible peer socket type"},
    [TERN_EINTR] = {"TERN_EINTR", "interrupted by a signal"},
    [TERN_ESTATE] = {"TERN_ESTATE", "operation not valid in the current state"},
    [TERN_EHOSTUNREACH] = {"TERN_EHOSTUNREACH", "no route to a peer"},
    [TERN_ESYSTEM] = {"TERN_ESYSTEM", "unexpected operating-system error"},
    [TERN_EEXIST] = {"TERN_EEXIST", "already exists"},
    [TERN_EPERM] = {"TERN_EPERM", "permission denied"},
    [TERN_ECANCELED] = {"TERN_ECANCELED", "cancelled"},
    [TERN_EUNAVAILABLE] = {"TERN_EUNAVAILABLE", "service unavailable"},
    [TERN_ENOIFACE] = {"TERN_ENOIFACE", "no such interface"},
    [TERN_ENOMETHOD] = {"TERN_ENOMETHOD", "no such method"},
    [TERN_EVERSION] = {"TERN_EVERSION", "interface version mismatch"},
    [TERN_EBADARGS] = {"TERN_EBADARGS", "bad call arguments"},
    [TERN_EAPP] = {"TERN_EAPP", "remote procedure failed"},
    [TERN_EMOVED] = {"TERN_EMOVED", "the computation migrated elsewhere"},
    [TERN_ECORRUPT] = {"TERN_ECORRUPT", "data failed its checksum"},
    [TERN_ENOSPC] = {"TERN_ENOSPC", "no space left on device"},
};

#define NERRS (sizeof errs / sizeof errs[0])

/* The enum's underlying type may be unsigned or int; going through long
 * catches negative values either way. */
static const struct err_info *err_lookup(tern_err err)
{
    long i = (long)err;
    if (i < 0 || (unsigned long)i >= NERRS || errs[i].name == NULL)
        return NULL;
    return &errs[i];
}

const char *tern_strerror(tern_err err)
{
    const struct err_info *e = err_lookup(err);
    return e ? e->text : "unknown error";
}

const char *tern_errname(tern_err err)
{
    const struct err_info *e = err_lookup(err);
    return e ? e->name : "TERN_E?";
}

static const struct {
    int errnum;
    tern_err err;
} errno_map[] = {
    {EAGAIN, TERN_EAGAIN},
    /* Equal to EAGAIN on Linux; a duplicate row is harmless. */
    {EWOULDBLOCK, TERN_EAGAIN},
    {EINVAL, TERN_EINVAL},
    {ENOMEM, TERN_ENOMEM},
    {ETIMEDOUT, TERN_ETIMEDOUT},
    {EADDRINUSE, TERN_EADDRINUSE},
    {EADDRNOTAVAIL, TERN_EADDRINVAL},
    {ENOENT, TERN_ENOENT},
    {ECONNREFUSED, TERN_ECONNREFUSED},
    {EPROTO, TERN_EPROTO},
    {EMSGSIZE, TERN_EMSGSIZE},
    {EINTR, TERN_EINTR},
    {EHOSTUNREACH, TERN_EHOSTUNREACH},
    {ENETUNREACH, TERN_EHOSTUNREACH},
    {EEXIST, TERN_EEXIST},
    {EACCES, TERN_EPERM},
    {EPERM, TERN_EPERM},
    {ECANCELED, TERN_ECANCELED},
    {ENOSPC, TERN_ENOSPC},
    {EDQUOT, TERN_ENOSPC},
};

tern_err tern_err_from_errno(int errnum)
{
    if (errnum == 0)
        return TERN_OK;
    for (size_t i = 0; i < sizeof errno_map / sizeof errno_map[0]; i++) {
        if (errno_map[i].errnum == errnum)
            return errno_map[i].err;
    }
    return TERN_ESYSTEM;
}
