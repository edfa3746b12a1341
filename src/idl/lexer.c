/* The .tidl lexer. */
#include "lexer.h"

#include <ctype.h>
#include <string.h>

static const char *const keywords[] = {
    "bool",    "case",      "char",   "const",  "context_handle", "default", "double",
    "enum",    "false",     "float",  "import", "int16",          "int32",   "int64",
    "int8",    "interface", "opaque", "string", "struct",         "switch",  "true",
    "typedef", "uint16",    "uint32", "uint64", "uint8",          "union",   "void",
};

bool tn_idl_is_keyword(const char *name)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (strcmp(keywords[i], name) == 0)
            return true;
    }
    return false;
}

void tn_idl_lex_init(tn_idl_lexer *lx, tn_idl_ctx *ctx, const char *path, const char *text,
                     size_t len)
{
    lx->ctx = ctx;
    lx->path = path;
    lx->p = text;
    lx->end = text + len;
    lx->line_start = text;
    lx->line = 1;
}

static tn_idl_loc here(const tn_idl_lexer *lx)
{
    return (tn_idl_loc){lx->path, lx->line, (uint32_t)(lx->p - lx->line_start) + 1};
}

static void newline(tn_idl_lexer *lx)
{
    lx->p++;
    lx->line++;
    lx->line_start = lx->p;
}

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Skips blanks and comments. */
static void skip_space(tn_idl_lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            newline(lx);
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '/' && lx->end - lx->p > 1 && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->end - lx->p > 1 && lx->p[1] == '*') {
            tn_idl_loc start = here(lx);
            lx->p += 2;
            for (;;) {
                if (lx->p >= lx->end) {
                    tn_idl_error(lx->ctx, &start, "unterminated comment");
                    return;
                }
                if (*lx->p == '*' && lx->end - lx->p > 1 && lx->p[1] == '/') {
                    lx->p += 2;
                    break;
                }
                if (*lx->p == '\n')
                    newline(lx);
                else
                    lx->p++;
            }
        } else {
            return;
        }
    }
}

/* 12, 0x1F; a name character right after the digits makes it malformed. */
static void lex_number(tn_idl_lexer *lx, tn_idl_tok *tok)
{
    const char *start = lx->p;
    unsigned base = 10;
    if (lx->end - lx->p > 1 && lx->p[0] == '0' && (lx->p[1] == 'x' || lx->p[1] == 'X')) {
        base = 16;
        lx->p += 2;
    }
    const char *digits = lx->p;
    uint64_t v = 0;
    bool overflow = false;
    while (lx->p < lx->end && is_name_char(*lx->p)) {
        char c = *lx->p;
        unsigned d = isdigit((unsigned char)c) ? (unsigned)(c - '0')
                     : isxdigit((unsigned char)c) && base == 16
                         ? (unsigned)(tolower((unsigned char)c) - 'a' + 10)
                         : 99;
        if (d >= base) {
            /* Take the whole malformed word so it is reported once. */
            while (lx->p < lx->end && is_name_char(*lx->p))
                lx->p++;
            tok->text = tn_idl_strndup(lx->ctx, start, (size_t)(lx->p - start));
            tn_idl_error(lx->ctx, &tok->loc, "malformed number '%s'", tok->text);
            return;
        }
        if (v > (UINT64_MAX - d) / base)
            overflow = true;
        v = v * base + d;
        lx->p++;
    }
    tok->text = tn_idl_strndup(lx->ctx, start, (size_t)(lx->p - start));
    if (lx->p == digits)
        tn_idl_error(lx->ctx, &tok->loc, "malformed number '%s'", tok->text);
    else if (overflow)
        tn_idl_error(lx->ctx, &tok->loc, "number '%s' does not fit in 64 bits", tok->text);
    tok->number = overflow ? 0 : v;
}

static void lex_string(tn_idl_lexer *lx, tn_idl_tok *tok)
{
    const char *start = lx->p++;
    tn_idl_buf s = {0};
    tn_idl_buf_add(lx->ctx, &s, "", 0);
    for (;;) {
        if (lx->p >= lx->end || *lx->p == '\n') {
            tn_idl_error(lx->ctx, &tok->loc, "unterminated string");
            tok->broken = true;
            break;
        }
        char c = *lx->p++;
        if (c == '"')
            break;
        if (c == '\\' && lx->p < lx->end && (*lx->p == '"' || *lx->p == '\\'))
            c = *lx->p++;
        tn_idl_buf_add(lx->ctx, &s, &c, 1);
    }
    tok->text = tn_idl_strndup(lx->ctx, start, (size_t)(lx->p - start));
    tok->str = s.p;
}

void tn_idl_lex_next(tn_idl_lexer *lx, tn_idl_tok *tok)
{
    for (;;) {
        skip_space(lx);
        memset(tok, 0, sizeof *tok);
        tok->loc = here(lx);
        if (lx->p >= lx->end) {
            tok->kind = TN_TOK_EOF;
            tok->text = "";
            return;
        }
        char c = *lx->p;
        if (is_name_start(c)) {
            const char *start = lx->p;
            while (lx->p < lx->end && is_name_char(*lx->p))
                lx->p++;
            tok->kind = TN_TOK_NAME;
            tok->text = tn_idl_strndup(lx->ctx, start, (size_t)(lx->p - start));
            return;
        }
        if (isdigit((unsigned char)c)) {
            tok->kind = TN_TOK_NUMBER;
            lex_number(lx, tok);
            return;
        }
        if (c == '"') {
            tok->kind = TN_TOK_STRING;
            lex_string(lx, tok);
            return;
        }
        if (c != '\0' && strchr("{}()[]<>;,=*:-", c) != NULL) {
            lx->p++;
            tok->kind = TN_TOK_PUNCT;
            tok->punct = c;
            tok->text = tn_idl_strndup(lx->ctx, &c, 1);
            return;
        }
        if (isprint((unsigned char)c))
            tn_idl_error(lx->ctx, &tok->loc, "unexpected character '%c'", c);
        else
            tn_idl_error(lx->ctx, &tok->loc, "unexpected character '\\x%02x'", (unsigned char)c);
        lx->p++;
    }
}

bool tn_idl_lex_raw(tn_idl_lexer *lx, const char **text, tn_idl_loc *loc)
{
    const char *p = lx->p;
    while (p < lx->end && isspace((unsigned char)*p))
        p++;
    const char *start = p;
    while (p < lx->end && *p != ')')
        p++;
    if (p >= lx->end) {
        lx->p = lx->end; /* the rest is not worth lexing */
        return false;
    }
    const char *stop = p;
    while (stop > start && isspace((unsigned char)stop[-1]))
        stop--;
    /* Through the text, counting its lines. */
    while (lx->p < start) {
        if (*lx->p == '\n')
            newline(lx);
        else
            lx->p++;
    }
    *loc = here(lx);
    *text = tn_idl_strndup(lx->ctx, start, (size_t)(stop - start));
    while (lx->p < p) {
        if (*lx->p == '\n')
            newline(lx);
        else
            lx->p++;
    }
    return true;
}
