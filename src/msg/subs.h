/* A set of prefix subscriptions with counts: what one subscriber asked a
 * publisher for, or what a SUB socket asked its publishers for.
 *
 * Matching hashes the message's leading bytes once, looking the running
 * hash up at each distinct subscription length, so it costs one pass over
 * at most the longest prefix whatever the number of topics. */
#ifndef TN_MSG_SUBS_H
#define TN_MSG_SUBS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tn_subs tn_subs;

tn_subs *tn_subs_new(void);
void tn_subs_free(tn_subs *s);
/* 1: the topic is new; 0: its count went up; -1: out of memory. */
int tn_subs_add(tn_subs *s, const uint8_t *topic, size_t len);
/* 1: the last count went (topic gone); 0: its count went down; -1: absent. */
int tn_subs_remove(tn_subs *s, const uint8_t *topic, size_t len);
int tn_subs_match(const tn_subs *s, const uint8_t *data, size_t len);
/* Distinct topics, and the bytes they hold (a bound against floods). */
size_t tn_subs_count(const tn_subs *s);
size_t tn_subs_bytes(const tn_subs *s);
/* Calls fn for each topic; fn must not change s. */
void tn_subs_each(const tn_subs *s, void (*fn)(void *arg, const uint8_t *topic, size_t len), void *arg);

#endif
