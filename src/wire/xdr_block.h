/* The encoder's heap blocks, for the RPC runtime: a message can carry an
 * encoder's block instead of a copy of it, and give it back when sent.
 * Each thread keeps its last freed block as a spare, so a thread encoding
 * large values call after call reuses warm memory instead of faulting in
 * fresh pages. */
#ifndef TN_WIRE_XDR_BLOCK_H
#define TN_WIRE_XDR_BLOCK_H

#include <stddef.h>

#include <tern/xdr.h>

/* A block of at least cap bytes (*got: its size): the spare if it is big
 * enough. NULL when out of memory. */
void *tn_xdr_block_get(size_t cap, size_t *got);
/* Gives a block of cap bytes back: it becomes this thread's spare if that
 * is missing or smaller, else it is freed. */
void tn_xdr_block_give(void *buf, size_t cap);
/* tern_xdr_enc_take, also saying the block's size (0: not a heap block). */
void *tn_xdr_enc_take_block(tern_xdr_enc *x, size_t *len, size_t *cap);

#endif
