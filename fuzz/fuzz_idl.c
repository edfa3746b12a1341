/* Fuzzes the IDL compiler: the input is a .tidl file, compiled through
 * every check and, when it has no errors, generated into memory. An import
 * of "common.tidl" finds a small fixed interface, so the paths through
 * imported types run too; every other import is missing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

static const char common[] =
    "[uuid(0b7e4a10-2f6c-4d3e-9a81-5c2d7e9f1a04), version(1.0)]\n"
    "interface Common {\n"
    "    const uint32 N = 4;\n"
    "    enum Kind { A = 1, B };\n"
    "    struct Point { float x; float y; string<N> tag; };\n"
    "    union Shape switch (Kind k) { case A: Point p; case B: Point ps<N>; };\n"
    "    typedef context_handle Handle;\n"
    "};\n";

typedef struct input {
    const uint8_t *data;
    size_t size;
} input;

static tern_err read_input(void *arg, const char *path, char **text, size_t *len)
{
    const input *in = arg;
    const char *src;
    size_t n;
    if (strcmp(path, "fuzz.tidl") == 0) {
        src = (const char *)in->data;
        n = in->size;
    } else if (strcmp(path, "common.tidl") == 0) {
        src = common;
        n = sizeof common - 1;
    } else {
        return TERN_ENOENT;
    }
    *text = malloc(n > 0 ? n : 1);
    if (*text == NULL)
        return TERN_ENOMEM;
    memcpy(*text, src, n);
    *len = n;
    return TERN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    tern_idl_opts opts = {.read = read_input, .read_arg = &in};
    tn_idl_ctx ctx;
    tn_idl_output out[TN_IDL_NOUTPUTS];
    tn_idl_ctx_init(&ctx, &opts);
    tn_idl_translate(&ctx, "fuzz.tidl", out);
    tn_idl_ctx_fini(&ctx);
    return 0;
}
