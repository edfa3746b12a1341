/* Kafka error codes as the client sees them: their names, the tern_err
 * each becomes, and whether a request that got one may simply be retried
 * once the client knows the cluster anew. */
#ifndef TN_KCLIENT_KERR_H
#define TN_KCLIENT_KERR_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka/api.h"
#include "tern/base.h"

/* The closest tern_err; TERN_OK for 0. */
tern_err tn_kc_err_map(int16_t code);
/* The broker did not act on the request because of where it was sent or
 * a passing state (leadership moving, a topic being created): the same
 * request may go again after a metadata refresh. */
bool tn_kc_err_retriable(int16_t code);
/* A group's coordinator moved or is not ready. */
bool tn_kc_err_coordinator(int16_t code);

#endif
