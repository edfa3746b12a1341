/* Splits .tidl text into tokens. Comments run from // to the end of the
 * line, or between slash-star and star-slash as in C. Keywords come out as
 * names; tn_idl_is_keyword tells them apart. */
#ifndef TN_IDL_LEXER_H
#define TN_IDL_LEXER_H

#include "ast.h"

typedef enum tn_idl_tok_kind {
    TN_TOK_EOF,
    TN_TOK_NAME,   /* [A-Za-z_][A-Za-z0-9_]* */
    TN_TOK_NUMBER, /* decimal or 0x hexadecimal, unsigned */
    TN_TOK_STRING, /* "..." with \" and \\ escapes */
    TN_TOK_PUNCT,  /* one of { } ( ) [ ] < > ; , = * : - */
} tn_idl_tok_kind;

typedef struct tn_idl_tok {
    tn_idl_tok_kind kind;
    tn_idl_loc loc;
    const char *text; /* as written (NUL-terminated copy) */
    char punct;
    uint64_t number;
    const char *str; /* STRING: the unescaped contents */
    bool broken;     /* a string that never ended (reported) */
} tn_idl_tok;

typedef struct tn_idl_lexer {
    tn_idl_ctx *ctx;
    const char *path;
    const char *p, *end;
    const char *line_start;
    uint32_t line;
} tn_idl_lexer;

void tn_idl_lex_init(tn_idl_lexer *lx, tn_idl_ctx *ctx, const char *path, const char *text,
                     size_t len);
/* The next token; lexical errors are reported and skipped. */
void tn_idl_lex_next(tn_idl_lexer *lx, tn_idl_tok *tok);
/* The raw text up to the next ')', trimmed, for attribute arguments such as
 * uuid(6f1c...) and version(1.2); the ')' is left for tn_idl_lex_next.
 * false if the file ends first (all of the rest is consumed). */
bool tn_idl_lex_raw(tn_idl_lexer *lx, const char **text, tn_idl_loc *loc);

/* Whether name is a reserved word of the language. */
bool tn_idl_is_keyword(const char *name);

#endif
