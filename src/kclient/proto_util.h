/* What the message encoders and decoders share: the [topic [partition]]
 * arrays nearly every topic-keyed request and response carries. */
#ifndef TN_KCLIENT_PROTO_UTIL_H
#define TN_KCLIENT_PROTO_UTIL_H

#include <stdbool.h>

#include "kclient/proto.h"

/* Writes one partition's fields (its index included). */
typedef void tn_kc_enc_part_fn(tn_kw *w, const tn_kc_preq *p, const void *arg);
/* Reads one partition's fields after its index into e. */
typedef void tn_kc_dec_part_fn(tn_kr *r, tn_kc_pres *e);

/* The topics array of parts: each topic once, in order of first
 * appearance, with its partitions. */
void tn_kc_enc_topics(tn_kw *w, const tn_kc_preq *parts, size_t n, tn_kc_enc_part_fn *part,
                      const void *arg);
/* Reads a topics array whose partitions take at least min_part bytes each
 * (index included) into *out (malloc'd), failing with TERN_EPROTO past max
 * partitions or on malformed input. */
tern_err tn_kc_dec_topics(tn_kr *r, size_t max, size_t min_part, tn_kc_dec_part_fn *part,
                          tn_kc_pres **out, size_t *n);
/* s equals the C string c (a null s equals nothing). */
bool tn_kc_kstr_eq(tn_kstr s, const char *c);

#endif
