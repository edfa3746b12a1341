/* Migration options: defaults and the names the CLI and JSON use. */
#include <string.h>

#include "tern/migrate.h"

void tern_migrate_opts_init(tern_migrate_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->downtime_ms = 10;
    o->max_rounds = 30;
    o->reconnect_ms = 10000;
}

static const char *const strategies[] = {"precopy", "stop-and-copy", "postcopy", "hybrid"};
static const char *const trackers[] = {"auto", "pagemap_scan", "uffd_wp", "mprotect"};

const char *tern_migrate_strategy_name(tern_migrate_strategy s)
{
    return (unsigned)s < 4 ? strategies[s] : "?";
}

tern_err tern_migrate_strategy_parse(const char *name, tern_migrate_strategy *s)
{
    for (unsigned i = 0; name && i < 4; i++)
        if (strcmp(name, strategies[i]) == 0) {
            *s = (tern_migrate_strategy)i;
            return TERN_OK;
        }
    return TERN_EINVAL;
}

const char *tern_migrate_tracker_name(tern_migrate_tracker t)
{
    return (unsigned)t < 4 ? trackers[t] : "?";
}

tern_err tern_migrate_tracker_parse(const char *name, tern_migrate_tracker *t)
{
    for (unsigned i = 0; name && i < 4; i++)
        if (strcmp(name, trackers[i]) == 0) {
            *t = (tern_migrate_tracker)i;
            return TERN_OK;
        }
    return TERN_EINVAL;
}
