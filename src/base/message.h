/* Internal view of tern_msg: a list of parts whose bodies are refcounted.
 *
 * A part's bytes live in one of three places: inside the message's own
 * allocation (part 0 of a small message: no second malloc on the hot path),
 * in a refcounted body allocated with the data behind it, or in user memory
 * referenced by a body with a free function (zero-copy). */
#ifndef TN_BASE_MESSAGE_H
#define TN_BASE_MESSAGE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tern/msg.h"

/* Part 0 up to this size is stored inside the message allocation. */
#define TN_MSG_INLINE_MAX 64
/* What a part costs beyond its bytes, charged against size limits so that a
 * peer cannot make us allocate much with many empty parts. */
#define TN_MSG_PART_OVERHEAD 64

typedef struct tn_body {
    _Atomic uint32_t refs;
    tern_free_fn *free_fn; /* NULL: nothing to release but the body itself */
    void *arg;
    void *data;
    size_t size; /* pooled: how many bytes start the block */
    bool pooled; /* the tail of a tn_pool_alloc block whose start is data */
} tn_body;

typedef struct tn_part {
    uint8_t *data;
    size_t size;
    tn_body *body; /* NULL for inline or empty parts */
} tn_part;

#define TN_MSG_INLINE_PARTS 2

struct tern_msg {
    uint32_t nparts;
    uint32_t cap;
    size_t total;
    tn_part *parts; /* inl while cap == TN_MSG_INLINE_PARTS */
    tn_part inl[TN_MSG_INLINE_PARTS];
    /* up to TN_MSG_INLINE_MAX bytes of part 0 may follow */
};

/* Appends an uninitialised part of size bytes; *datap points at it. */
tern_err tn_msg_append_alloc(tern_msg *msg, size_t size, uint8_t **datap);

/* Envelope handling (routing ids, delimiters): part bodies change hands
 * without copying, except inline ones. On TERN_ENOMEM nothing changed. */
/* Inserts a copy of data as part 0. */
tern_err tn_msg_push_front(tern_msg *m, const void *data, size_t size);
/* Removes the first k parts of src; appends them to dst, or frees them when
 * dst is NULL. */
tern_err tn_msg_move_front(tern_msg *src, size_t k, tern_msg *dst);
/* Puts every part of front ahead of dst's parts and frees front. */
tern_err tn_msg_prepend_msg(tern_msg *dst, tern_msg *front);

/* A "shell" is a one-part message whose bytes live inline: every message
 * allocated with at most TN_MSG_INLINE_MAX bytes is one, and its memory can
 * be reused for another such message instead of going back to malloc. */
int tn_msg_is_shell(const tern_msg *msg);
/* Whether part's bytes are the message's alone: in its own memory (not a
 * caller's, through tern_msg_append_ref) and shared with no other message,
 * so they may be read and changed for as long as the message lives. */
bool tn_msg_part_private(const tern_msg *msg, size_t part);
/* Takes a private part's bytes out of msg, which keeps an empty part in
 * its place: they are then the caller's, to release with free(). NULL
 * (and msg unchanged) when the part is shared, or its bytes are not a
 * block of their own. */
void *tn_msg_part_steal(tern_msg *msg, size_t part);
/* Appends data[size], which lies inside src's part, as a part of dst that
 * shares its body (a copy if the part has none). */
tern_err tn_msg_append_share(tern_msg *dst, const tern_msg *src, size_t part, const void *data,
                             size_t size);
/* Swaps msg's last part with other's only part when both are bodies of
 * their own of the same size; false (nothing changed) otherwise. */
bool tn_msg_swap_last(tern_msg *msg, tern_msg *other);
/* Turns a shell back into a one-part message of size bytes (size must be at
 * most TN_MSG_INLINE_MAX). */
void tn_msg_shell_reuse(tern_msg *msg, size_t size);

#endif
