/* Parses one .tidl file into its syntax tree, reporting every syntax error
 * and carrying on after each (at the next ';' or '}'). Names are left
 * unresolved; imports are only listed (load.c reads them). */
#ifndef TN_IDL_PARSER_H
#define TN_IDL_PARSER_H

#include "ast.h"

/* Fills file->imports and file->iface from file->text. */
void tn_idl_parse(tn_idl_ctx *ctx, tn_idl_file *file);

#endif
