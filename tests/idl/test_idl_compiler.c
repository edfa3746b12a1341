/* The IDL compiler from source text to syntax tree and diagnostics: every
 * construct parses and checks into what the generator expects, and every
 * error message comes out exactly, with its place, all of them in one run.
 * The generated C itself is compiled and run by test_idl_xdr.c and
 * test_idl_calls.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "compile.h"

#define HEAD "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70), version(1.0)]\ninterface T {\n"

/* ---- running the compiler on files in memory ------------------------------- */

/* path -> text; the list ends with a NULL path. A NULL text reads as an
 * I/O error rather than a missing file. */
typedef struct vfile {
    const char *path;
    const char *text;
} vfile;

static tern_err read_mem(void *arg, const char *path, char **text, size_t *len)
{
    for (const vfile *f = arg; f->path != NULL; f++) {
        if (strcmp(f->path, path) != 0)
            continue;
        if (f->text == NULL)
            return TERN_ESYSTEM;
        *len = strlen(f->text);
        *text = malloc(*len + 1);
        if (*text == NULL)
            return TERN_ENOMEM;
        memcpy(*text, f->text, *len + 1);
        return TERN_OK;
    }
    return TERN_ENOENT;
}

typedef struct run {
    tn_idl_ctx ctx;
    tn_idl_output out[TN_IDL_NOUTPUTS];
    tern_err err;
} run;

static void compile_opts(run *r, const char *root, const tern_idl_opts *opts)
{
    tn_idl_ctx_init(&r->ctx, opts);
    r->err = tn_idl_translate(&r->ctx, root, r->out);
}

static void compile_files(run *r, const vfile *files, const char *root)
{
    tern_idl_opts opts = {.read = read_mem, .read_arg = (void *)files};
    compile_opts(r, root, &opts);
}

static void compile_text(run *r, const char *text)
{
    const vfile files[] = {{"t.tidl", text}, {NULL, NULL}};
    compile_files(r, files, "t.tidl");
}

static const char *diags(const run *r)
{
    return r->ctx.diags.p != NULL ? r->ctx.diags.p : "";
}

static void run_fini(run *r)
{
    tn_idl_ctx_fini(&r->ctx);
}

static const tn_idl_iface *root_iface(const run *r)
{
    assert_true(r->ctx.nfiles > 0);
    assert_non_null(r->ctx.files[0]->iface);
    return r->ctx.files[0]->iface;
}

static const tn_idl_def *def_named(const tn_idl_iface *iface, const char *name)
{
    for (size_t i = 0; i < iface->ndefs; i++) {
        if (strcmp(iface->defs[i]->name, name) == 0)
            return iface->defs[i];
    }
    fail_msg("no definition '%s'", name);
    return NULL;
}

static const char *output(const run *r, const char *name)
{
    for (int i = 0; i < TN_IDL_NOUTPUTS; i++) {
        if (strcmp(r->out[i].name, name) == 0)
            return r->out[i].text.p;
    }
    fail_msg("no output '%s'", name);
    return NULL;
}

#define assert_contains(text, needle)                                                              \
    do {                                                                                           \
        if (strstr((text), (needle)) == NULL)                                                      \
            fail_msg("expected to find: %s", (needle));                                            \
    } while (0)

#define assert_clean(r)                                                                            \
    do {                                                                                           \
        if ((r)->err != TERN_OK)                                                                   \
            fail_msg("compile failed (%s):\n%s", tern_errname((r)->err), diags(r));                \
    } while (0)

/* ---- every construct -------------------------------------------------------------- */

/* The interface of the issue, as examples/calc/calc.tidl has it. */
static void test_calc(void **state)
{
    (void)state;
    run r;
    tern_idl_opts opts = {0};
    compile_opts(&r, CALC_TIDL, &opts);
    assert_clean(&r);
    const tn_idl_iface *i = root_iface(&r);
    assert_string_equal(i->name, "Calc");
    static const uint8_t uuid[16] = {0x6f, 0x1c, 0x2a, 0x8e, 0x7c, 0x1d, 0x4a, 0x53,
                                     0x9a, 0x0b, 0x2f, 0x3c, 0x4d, 0x5e, 0x6f, 0x70};
    assert_memory_equal(i->uuid, uuid, 16);
    assert_int_equal(i->major, 1);
    assert_int_equal(i->minor, 2);
    assert_int_equal(i->nmethods, 8);

    const tn_idl_def *max = def_named(i, "MAX_TERMS");
    assert_int_equal(max->kind, TN_D_CONST);
    assert_int_equal(max->ctype.kind, TN_T_UINT32);
    assert_int_equal(max->value.mag, 1024);

    const tn_idl_def *op = def_named(i, "Op");
    assert_int_equal(op->kind, TN_D_ENUM);
    assert_int_equal(op->nvals, 2);
    assert_string_equal(op->vals[1]->name, "MUL");
    assert_int_equal(op->vals[1]->value.mag, 2);

    const tn_idl_def *stats = def_named(i, "Stats");
    assert_int_equal(stats->nfields, 4);
    assert_int_equal(stats->fields[0]->type.kind, TN_T_UINT64);
    assert_int_equal(stats->fields[2]->type.kind, TN_T_STRING);
    assert_int_equal(stats->fields[2]->type.size, 64);
    assert_ptr_equal(stats->fields[3]->type.def, op);
    assert_true(stats->heap);
    assert_int_equal(stats->min_size, 8 + 8 + 4 + 4);

    static const char *const names[] = {"add", "sum",  "scale", "stats",
                                        "log", "find", "echo",  "count"};
    for (uint32_t n = 0; n < 8; n++)
        assert_int_equal(def_named(i, names[n])->number, n);
    const tn_idl_def *sum = def_named(i, "sum");
    assert_int_equal(sum->params[0]->decl.array, TN_A_VAR);
    assert_int_equal(sum->params[0]->decl.n, 1024);
    assert_ptr_equal(sum->params[0]->decl.count->def, max);
    const tn_idl_def *scale = def_named(i, "scale");
    assert_int_equal(scale->params[0]->dir, TN_DIR_IN | TN_DIR_OUT);
    assert_int_equal(scale->params[1]->dir, TN_DIR_IN);
    assert_int_equal(def_named(i, "stats")->params[0]->dir, TN_DIR_OUT);
    assert_int_equal(def_named(i, "log")->flags, TERN_RPC_ONEWAY);
    assert_int_equal(def_named(i, "count")->flags, TERN_RPC_IDEMPOTENT);
    const tn_idl_def *find = def_named(i, "find");
    assert_true(find->params[1]->decl.optional);
    assert_int_equal(find->result.kind, TN_T_BOOL);
    const tn_idl_def *echo = def_named(i, "echo");
    assert_int_equal(echo->result.kind, TN_T_OPAQUE_VAR);
    assert_int_equal(echo->result.size, 65536);
    run_fini(&r);
}

/* tests/idl/every.tidl: each construct the language has, the imported
 * shapes.tidl too. */
static void test_every(void **state)
{
    (void)state;
    run r;
    tern_idl_opts opts = {0};
    compile_opts(&r, IDL_DIR "/every.tidl", &opts);
    assert_clean(&r);
    assert_int_equal(r.ctx.nfiles, 2);
    assert_string_equal(r.ctx.files[1]->base, "shapes");
    const tn_idl_iface *i = root_iface(&r);
    assert_int_equal(i->major, 2);
    assert_int_equal(i->minor, 1);

    const tn_idl_def *neg = def_named(i, "NEG");
    assert_true(neg->value.neg);
    assert_int_equal(neg->value.mag, 7);
    assert_int_equal(def_named(i, "HIGHEST")->value.mag, UINT64_MAX);
    const tn_idl_def *color = def_named(i, "Color");
    assert_int_equal(color->vals[0]->value.mag, 0);
    assert_int_equal(color->vals[1]->value.mag, 5);
    assert_int_equal(color->vals[2]->value.mag, 6); /* after 5 comes 6 */

    const tn_idl_def *key = def_named(i, "Key");
    assert_int_equal(key->kind, TN_D_TYPEDEF);
    assert_int_equal(key->alias.type.kind, TN_T_OPAQUE_FIXED); /* opaque Key[KEYLEN] */
    assert_int_equal(key->alias.type.size, 16);
    assert_true(key->is_array);
    assert_true(def_named(i, "Pair")->is_array);
    assert_true(def_named(i, "MaybeSmall")->alias.optional);
    assert_int_equal(def_named(i, "Session")->kind, TN_D_HANDLE);

    assert_true(def_named(i, "Node")->recursive);
    assert_true(def_named(i, "Tree")->recursive);
    assert_false(def_named(i, "Small")->recursive);
    assert_false(def_named(i, "Small")->heap);
    assert_int_equal(def_named(i, "Small")->min_size, 7 * 4);

    const tn_idl_def *value = def_named(i, "Value");
    assert_int_equal(value->ncases, 3);
    assert_int_equal(value->cases[1]->nvalues, 2);
    assert_true(value->cases[2]->is_default);
    assert_null(value->cases[2]->arm);
    assert_int_equal(value->min_size, 4); /* the void default */
    const tn_idl_def *maybe = def_named(i, "Maybe");
    assert_true(maybe->cases[2]->values[0]->value.neg); /* case NEG */
    const tn_idl_def *flag = def_named(i, "Flag");
    assert_int_equal(flag->cases[0]->values[0]->kind, TN_E_BOOL);

    const tn_idl_def *all = def_named(i, "All");
    const tn_idl_decl *lines = all->fields[16];
    assert_string_equal(lines->name, "lines");
    assert_int_equal(lines->array, TN_A_VAR); /* string<> lines<>: an array of strings */
    assert_int_equal(lines->type.kind, TN_T_STRING);
    const tn_idl_decl *raw = all->fields[19];
    assert_string_equal(raw->name, "raw");
    assert_int_equal(raw->array, TN_A_NONE); /* opaque raw<>: one opaque */
    assert_int_equal(raw->type.kind, TN_T_OPAQUE_VAR);
    const tn_idl_decl *origin = all->fields[34];
    assert_string_equal(origin->name, "origin");
    assert_string_equal(origin->type.def->iface->name, "Shapes");

    const tn_idl_def *total = def_named(i, "total");
    assert_true(total->params[0]->scatter);
    const tn_idl_def *draw = def_named(i, "draw");
    assert_int_equal(draw->result.def->kind, TN_D_HANDLE);
    assert_string_equal(draw->result.def->iface->name, "Shapes");
    assert_int_equal(def_named(i, "note")->flags, TERN_RPC_ONEWAY);
    run_fini(&r);
}

/* RFC 4506 spells bounds on the declarator: a bare string or opaque takes
 * them; an explicit string<> keeps them for the array. */
static void test_xdr_spelling(void **state)
{
    (void)state;
    run r;
    compile_text(&r, HEAD "    struct S { opaque id[16]; opaque data<8>; string name<4>;\n"
                          "               string<> names<2>; string free[3]; };\n"
                          "};\n");
    assert_clean(&r);
    const tn_idl_def *s = def_named(root_iface(&r), "S");
    assert_int_equal(s->fields[0]->type.kind, TN_T_OPAQUE_FIXED);
    assert_int_equal(s->fields[0]->type.size, 16);
    assert_int_equal(s->fields[0]->array, TN_A_NONE);
    assert_int_equal(s->fields[1]->type.kind, TN_T_OPAQUE_VAR);
    assert_int_equal(s->fields[1]->type.size, 8);
    assert_int_equal(s->fields[2]->type.kind, TN_T_STRING);
    assert_int_equal(s->fields[2]->type.size, 4);
    assert_int_equal(s->fields[2]->array, TN_A_NONE);
    assert_int_equal(s->fields[3]->array, TN_A_VAR);
    assert_int_equal(s->fields[3]->n, 2);
    assert_int_equal(s->fields[4]->array, TN_A_FIXED); /* three unbounded strings */
    run_fini(&r);
}

/* Names resolve in any order; constants through constants and enum values. */
static void test_forward_references(void **state)
{
    (void)state;
    run r;
    compile_text(&r, HEAD "    struct A { B b; C c<N>; };\n"
                          "    struct B { int32 x; };\n"
                          "    typedef B C;\n"
                          "    const uint32 N = M;\n"
                          "    const uint32 M = E_TWO;\n"
                          "    enum E { E_ONE = 1, E_TWO };\n"
                          "};\n");
    assert_clean(&r);
    const tn_idl_iface *i = root_iface(&r);
    assert_int_equal(def_named(i, "N")->value.mag, 2);
    assert_int_equal(def_named(i, "A")->fields[1]->n, 2);
    /* B comes out before A in the header, which needs it complete. */
    const char *h = output(&r, "t.h");
    assert_true(strstr(h, "struct T_B {") < strstr(h, "struct T_A {"));
    run_fini(&r);
}

/* ---- the generated text ------------------------------------------------------------ */

static void test_generated_calc(void **state)
{
    (void)state;
    run r;
    tern_idl_opts opts = {0};
    compile_opts(&r, CALC_TIDL, &opts);
    assert_clean(&r);
    assert_string_equal(r.out[0].name, "calc.h");
    assert_string_equal(r.out[1].name, "calc_xdr.c");
    assert_string_equal(r.out[2].name, "calc_client.c");
    assert_string_equal(r.out[3].name, "calc_server.c");
    const char *top =
        "/* Generated by tern idl " TERN_IDL_VERSION " from calc.tidl \xe2\x80\x94 do not edit.\n";
    for (int n = 0; n < TN_IDL_NOUTPUTS; n++)
        assert_memory_equal(r.out[n].text.p, top, strlen(top));

    const char *h = output(&r, "calc.h");
    assert_contains(h, "#define Calc_MAX_TERMS 1024u");
    assert_contains(h, "    Calc_ADD = 1,\n    Calc_MUL = 2,\n} Calc_Op;");
    assert_contains(
        h, "typedef struct Calc_bytes {\n    uint32_t len;\n    uint8_t *val;\n} Calc_bytes;");
    assert_contains(h, "typedef struct Calc_double_seq {\n    uint32_t len;\n    double *val;\n}");
    assert_contains(h, "extern const tern_rpc_iface Calc_iface;");
    assert_contains(h, "Calc_METHOD_count = 7,");
    assert_contains(h, "tern_err Calc_add(tern_rpc_client *client, const tern_rpc_opts *opts, "
                       "int32_t a, int32_t b,\n                  int32_t *ret);");
    assert_contains(h, "tern_err Calc_scale(tern_rpc_client *client, const tern_rpc_opts *opts, "
                       "Calc_double_seq *v,");
    assert_contains(h, "tern_err Calc_log(tern_rpc_client *client, const tern_rpc_opts *opts, "
                       "const char *line);");
    assert_null(strstr(h, "Calc_log_async")); /* oneway: sent, never waited for */
    assert_contains(h, "void Calc_find_free(Calc_Stats **hit);");
    assert_contains(h, "void Calc_echo_free(Calc_bytes *ret);");
    assert_null(strstr(h, "Calc_add_free"));
    assert_contains(h,
                    "    tern_err (*find)(tern_rpc_call *call, const char *key, Calc_Stats **hit, "
                    "bool *ret);");
    assert_contains(
        h, "tern_err Calc_serve(tern_rpc_server *server, const Calc_server *impl, void *app);");

    const char *x = output(&r, "calc_xdr.c");
    assert_contains(x, "    .uuid = {{0x6f, 0x1c, 0x2a, 0x8e, 0x7c, 0x1d, 0x4a, 0x53,");
    assert_contains(x, "    {\"log\", TERN_RPC_ONEWAY},\n");
    assert_contains(x, "    {\"count\", TERN_RPC_IDEMPOTENT},\n");
    /* A hostile count allocates nothing: the minimum element size goes in. */
    const char *c = output(&r, "calc_client.c");
    assert_contains(c, "tern_xdr_get_count(xdr, &n, max, 8)");
    assert_contains(c, "tern_xdr_put_space(xdr, n * 8)");
    assert_contains(
        c, "err = tern_rpc_invoke(client, Calc_METHOD_add, opts, &args, &future, &reply);");
    assert_contains(c, "err = tern_rpc_start(client, Calc_METHOD_log, opts, &args, &future);");
    const char *s = output(&r, "calc_server.c");
    assert_contains(s, "return tern_rpc_server_add(server, &Calc_iface, dispatch, impl, app);");
    assert_contains(s, "    default:\n        return TERN_ENOMETHOD;");
    run_fini(&r);
}

/* Constants keep their C type, and the extremes stay valid C. */
static void test_generated_constants(void **state)
{
    (void)state;
    run r;
    compile_text(&r, HEAD "    const int32 A = -2147483648;\n"
                          "    const int64 B = -9223372036854775808;\n"
                          "    const uint64 C = 0xffffffffffffffff;\n"
                          "    const int8 D = -5;\n"
                          "    const int64 E = 7;\n"
                          "};\n");
    assert_clean(&r);
    const char *h = output(&r, "t.h");
    assert_contains(h, "#define T_A (-2147483647 - 1) /* int32 */");
    assert_contains(h, "#define T_B (-INT64_C(9223372036854775807) - 1) /* int64 */");
    assert_contains(h, "#define T_C UINT64_C(18446744073709551615) /* uint64 */");
    assert_contains(h, "#define T_D (-5) /* int8 */");
    assert_contains(h, "#define T_E INT64_C(7) /* int64 */");
    run_fini(&r);
}

/* ---- every error message ---------------------------------------------------------- */

static const struct error_case {
    const char *name, *source, *expected;
} error_cases[] = {
    {"bad_number",
     HEAD "    const uint32 A = 0x;\n"
          "    const uint32 B = 12ab;\n"
          "};\n",
     "t.tidl:3:22: error: malformed number '0x'\n"
     "t.tidl:4:22: error: malformed number '12ab'\n"},
    {"number_too_big",
     HEAD "    const uint64 C = 99999999999999999999;\n"
          "};\n",
     "t.tidl:3:22: error: number '99999999999999999999' does not fit in 64 bits\n"},
    {"bad_characters",
     HEAD "    @ $\n"
          "    const uint8 \x01 = 1;\n"
          "};\n",
     "t.tidl:3:5: error: unexpected character '@'\n"
     "t.tidl:3:7: error: unexpected character '$'\n"
     "t.tidl:4:17: error: unexpected character '\\x01'\n"
     "t.tidl:4:19: error: expected a name, found '='\n"},
    {"unterminated_comment",
     HEAD "    /* never closed\n"
          "};\n",
     "t.tidl:3:5: error: unterminated comment\n"
     "t.tidl:5:1: error: expected '}', found end of file\n"},
    {"unterminated_string",
     "import \"never closed\n"
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70), version(1.0)]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:1:8: error: unterminated string\n"},
    {"syntax_recovery",
     HEAD "    struct S { int32 a int32 b; };\n"
          "    const uint32 = 5;\n"
          "    enum E { A B };\n"
          "    int32 f([in] int32 a b);\n"
          "    union U switch int32 x) { };\n"
          "    union V switch (int32 x) { int32 y; };\n"
          "    typedef string<> ;\n"
          "    int32 good();\n"
          "};\n",
     "t.tidl:3:24: error: expected ';', found 'int32'\n"
     "t.tidl:4:18: error: expected a name, found '='\n"
     "t.tidl:5:16: error: expected ',' or '}', found 'B'\n"
     "t.tidl:6:26: error: expected ')', found 'b'\n"
     "t.tidl:7:20: error: expected '(', found 'int32'\n"
     "t.tidl:8:32: error: expected 'case' or 'default', found 'int32'\n"
     "t.tidl:9:22: error: expected a name, found ';'\n"},
    {"missing_brace",
     HEAD "    struct S { int32 a;\n"
          "    struct S2 { int32 b; };\n"
          "};\n",
     "t.tidl:4:5: error: expected '}', found 'struct'\n"},
    {"missing_semicolon",
     HEAD "    struct S { int32 a; }\n"
          "};\n"
          "\n",
     "t.tidl:4:1: error: expected ';', found '}'\n"},
    {"end_of_file", HEAD "    void f(\n",
     "t.tidl:4:1: error: expected a type, found end of file\n"
     "t.tidl:4:1: error: expected '}', found end of file\n"},
    {"bad_definition",
     HEAD "    5;\n"
          "    import \"x.tidl\";\n"
          "};\n",
     "t.tidl:3:5: error: expected a definition, found '5'\n"
     "t.tidl:4:5: error: imports go before the interface\n"},
    {"bad_expressions",
     HEAD "    struct S { string<-> s; opaque[] o; };\n"
          "};\n",
     "t.tidl:3:24: error: expected a number, found '>'\n"
     "t.tidl:3:36: error: expected a constant, found ']'\n"},
    {"optional_result",
     HEAD "    int32 *f();\n"
          "};\n",
     "t.tidl:3:11: error: a result cannot be optional; use an [out] parameter 'T *name'\n"},
    {"unsized_opaque",
     HEAD "    opaque f();\n"
          "    struct S { opaque x; int32 y; };\n"
          "};\n",
     "t.tidl:3:5: error: opaque needs a size: opaque[N] or opaque<N>, or name[N] or name<N>\n"
     "t.tidl:4:16: error: opaque needs a size: opaque[N] or opaque<N>, or name[N] or name<N>\n"},
    {"bad_top_level",
     "foo\n"
     "[oneway] bar;\n"
     "import x;\n"
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70), version(1.0)]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:1:1: error: expected 'import' or 'interface', found 'foo'\n"
     "t.tidl:3:8: error: expected a file name in quotes, found 'x'\n"},
    {"attrs_then_junk",
     "[oneway] struct\n"
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70), version(1.0)]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:1:10: error: expected 'interface', found 'struct'\n"},
    {"unterminated_argument", "[uuid(6f1c2a8e\n",
     "t.tidl:1:6: error: expected ')' closing the argument of 'uuid'\n"},
    {"two_interfaces",
     HEAD "};\n"
          "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\n"
          "interface U {\n"
          "};\n",
     "t.tidl:5:11: error: a file holds one interface; put 'U' in a file of its own\n"},
    {"no_interface", "// nothing here\n", "t.tidl:2:1: error: no interface in this file\n"},
    {"undefined_type",
     HEAD "    Foo f();\n"
          "    struct S { Bar b; };\n"
          "};\n",
     "t.tidl:3:5: error: undefined type 'Foo'\n"
     "t.tidl:4:16: error: undefined type 'Bar'\n"},
    {"duplicate_name",
     HEAD "    struct S { int32 a; };\n"
          "    enum S { X };\n"
          "    const uint32 X = 1;\n"
          "};\n",
     "t.tidl:4:10: error: duplicate name 'S'\n"
     "t.tidl:3:12: note: 'S' was first defined here\n"
     "t.tidl:5:18: error: duplicate name 'X'\n"
     "t.tidl:4:14: note: 'X' was first defined here\n"},
    {"not_a_type",
     HEAD "    const uint32 N = 4;\n"
          "    N f();\n"
          "};\n",
     "t.tidl:4:5: error: 'N' is not a type\n"
     "t.tidl:3:18: note: 'N' is defined here\n"},
    {"undefined_constant",
     HEAD "    struct S { string<N> s; };\n"
          "};\n",
     "t.tidl:3:23: error: undefined constant 'N'\n"},
    {"not_a_constant",
     HEAD "    struct S { int32 a; };\n"
          "    struct U { string<S> s; };\n"
          "};\n",
     "t.tidl:4:23: error: 'S' is not a constant\n"
     "t.tidl:3:12: note: 'S' is defined here\n"},
    {"constant_cycle",
     HEAD "    const uint32 A = B;\n"
          "    const uint32 B = A;\n"
          "};\n",
     "t.tidl:3:18: error: constant 'A' is defined in terms of itself\n"},
    {"constant_type",
     HEAD "    const string S = 1;\n"
          "    const double D = 2;\n"
          "};\n",
     "t.tidl:3:11: error: a constant must have an integer type, not 'string'\n"
     "t.tidl:4:11: error: a constant must have an integer type, not 'double'\n"},
    {"constant_bool",
     HEAD "    const uint32 A = true;\n"
          "};\n",
     "t.tidl:3:22: error: expected an integer, found 'true'\n"},
    {"constant_range",
     HEAD "    const uint8 A = 256;\n"
          "    const int8 B = -129;\n"
          "    const uint32 C = -1;\n"
          "};\n",
     "t.tidl:3:21: error: value 256 does not fit in uint8\n"
     "t.tidl:4:20: error: value -129 does not fit in int8\n"
     "t.tidl:5:22: error: value -1 does not fit in uint32\n"},
    {"enum_range",
     HEAD "    enum E { A = 2147483648, B = -2147483649 };\n"
          "};\n",
     "t.tidl:3:18: error: enum value 2147483648 is out of range (int32)\n"
     "t.tidl:3:34: error: enum value -2147483649 is out of range (int32)\n"},
    {"enum_repeat",
     HEAD "    enum E { A = 1, B = 1, C = 0, D };\n"
          "};\n",
     "t.tidl:3:21: error: 'B' repeats the value 1 of 'A'\n"
     "t.tidl:3:35: error: 'D' repeats the value 1 of 'A'\n"},
    {"enum_forward",
     HEAD "    enum E { A = B, B = 1 };\n"
          "};\n",
     "t.tidl:3:18: error: 'B' is used before it has a value\n"},
    {"bound_not_positive",
     HEAD "    const int32 Z = 0;\n"
          "    const int32 M = -1;\n"
          "    struct S { string<0> a; double b<Z>; opaque c[M]; int32 d[false]; };\n"
          "};\n",
     "t.tidl:5:23: error: bound must be a positive constant, not 0\n"
     "t.tidl:5:38: error: bound must be a positive constant, not Z (0)\n"
     "t.tidl:5:51: error: size must be a positive constant, not M (-1)\n"
     "t.tidl:5:63: error: expected an integer, found 'false'\n"},
    {"bound_too_big",
     HEAD "    struct S { string<4294967296> a; int32 b[16777217]; opaque[16777217] c; };\n"
          "};\n",
     "t.tidl:3:23: error: bound 4294967296 does not fit in 32 bits\n"
     "t.tidl:3:46: error: size 16777217 is too large (at most 16777216)\n"
     "t.tidl:3:64: error: size 16777217 is too large (at most 16777216)\n"},
    {"recursion_by_value",
     HEAD "    struct A { B b; };\n"
          "    struct B { A a; };\n"
          "    struct C { C c[2]; };\n"
          "    union U switch (int32 k) { case 1: U u; };\n"
          "};\n",
     "t.tidl:3:12: error: 'A' contains itself (A -> B -> A); make the link optional (T *) or a "
     "variable-length array\n"
     "t.tidl:5:12: error: 'C' contains itself (C -> C); make the link optional (T *) or a "
     "variable-length array\n"
     "t.tidl:6:11: error: 'U' contains itself (U -> U); make the link optional (T *) or a "
     "variable-length array\n"},
    {"typedef_cycle",
     HEAD "    typedef B *A;\n"
          "    typedef A *B;\n"
          "};\n",
     "t.tidl:3:16: error: typedef 'A' is defined in terms of itself (A -> B -> A)\n"},
    {"too_big_for_a_message",
     HEAD "    struct S { opaque[16777216] a; opaque[16777216] b; opaque[16777216] c; "
          "opaque[16777216] d; opaque[16777216] e; };\n"
          "};\n",
     "t.tidl:3:12: error: 'S' takes at least 83886080 bytes on the wire, more than a message can "
     "hold (67108864)\n"},
    {"handle_placement",
     HEAD "    typedef context_handle H;\n"
          "    struct S { H h; };\n"
          "    typedef H H2;\n"
          "    void f([in] H *h, [in] H hs[2]);\n"
          "};\n",
     "t.tidl:4:16: error: context handle 'H' can only be a parameter or a result\n"
     "t.tidl:5:13: error: context handle 'H' can only be a parameter or a result\n"
     "t.tidl:6:20: error: a context handle cannot be optional or an array\n"
     "t.tidl:6:30: error: a context handle cannot be optional or an array\n"},
    {"optional_array",
     HEAD "    struct S { int32 *a<4>; };\n"
          "};\n",
     "t.tidl:3:23: error: 'a' cannot be both optional and an array; use a typedef\n"},
    {"arrays_of_arrays",
     HEAD "    typedef opaque K[4];\n"
          "    struct S { K ks[2]; opaque[4] x<3>; K *p; };\n"
          "};\n",
     "t.tidl:4:18: error: 'ks' is an array of arrays; wrap the inner array in a struct\n"
     "t.tidl:4:35: error: 'x' is an array of arrays; wrap the inner array in a struct\n"
     "t.tidl:4:44: error: 'p' points to an array; wrap the array in a struct\n"},
    {"c_keywords",
     HEAD "    struct S { int32 int; };\n"
          "    union U switch (int32 long) { case 1: int32 for; };\n"
          "    void f([in] int32 while);\n"
          "};\n",
     "t.tidl:3:22: error: 'int' is a C keyword; choose another name\n"
     "t.tidl:4:27: error: 'long' is a C keyword; choose another name\n"
     "t.tidl:4:49: error: 'for' is a C keyword; choose another name\n"
     "t.tidl:5:23: error: 'while' is a C keyword; choose another name\n"},
    {"duplicate_fields",
     HEAD "    struct S { int32 a; double a; };\n"
          "    union U switch (int32 a) { case 1: int32 a; };\n"
          "};\n",
     "t.tidl:3:32: error: duplicate field 'a'\n"
     "t.tidl:3:22: note: 'a' was first declared here\n"
     "t.tidl:4:46: error: duplicate field 'a'\n"
     "t.tidl:4:27: note: 'a' was first declared here\n"},
    {"empty_definitions",
     HEAD "    struct S { };\n"
          "    enum E { };\n"
          "    union U switch (int32 k) { };\n"
          "};\n",
     "t.tidl:3:12: error: struct 'S' has no fields\n"
     "t.tidl:4:10: error: enum 'E' has no values\n"
     "t.tidl:5:11: error: union 'U' has no cases\n"},
    {"union_cases",
     HEAD
     "    enum E { A, B };\n"
     "    enum F { C };\n"
     "    union U switch (E e) { case C: void; case 1: void; };\n"
     "    union V switch (bool b) { case 1: void; };\n"
     "    union W switch (uint8 x) { case 256: void; case true: void; case -1: void; };\n"
     "    union X switch (int32 x) { case 1: void; case 1: void; default: void; default: void; };\n"
     "};\n",
     "t.tidl:5:33: error: 'C' is not a value of enum 'E'\n"
     "t.tidl:5:47: error: '1' is not a value of enum 'E'\n"
     "t.tidl:6:36: error: a case of a bool discriminant must be true or false\n"
     "t.tidl:7:37: error: case value 256 does not fit in uint8\n"
     "t.tidl:7:53: error: expected an integer, found 'true'\n"
     "t.tidl:7:70: error: case value -1 does not fit in uint8\n"
     "t.tidl:8:51: error: duplicate case value '1'\n"
     "t.tidl:8:37: note: first used here\n"
     "t.tidl:8:75: error: more than one default\n"
     "t.tidl:8:60: note: the first default is here\n"},
    {"union_discriminant",
     HEAD "    union U switch (int64 k) { case 1: void; };\n"
          "    union V switch (string s) { case 1: void; };\n"
          "};\n",
     "t.tidl:3:21: error: a union discriminant must be an enum, a bool or an integer of at most 32 "
     "bits\n"
     "t.tidl:4:21: error: a union discriminant must be an enum, a bool or an integer of at most 32 "
     "bits\n"},
    {"attributes",
     HEAD "    [oneway, bogus] void f();\n"
          "    [in] void g();\n"
          "    [idempotent, idempotent] void h();\n"
          "    [oneway(3)] void i();\n"
          "    void j([oneway] int32 a, [in, in] int32 b);\n"
          "};\n",
     "t.tidl:3:14: error: unknown attribute 'bogus'\n"
     "t.tidl:4:6: error: attribute 'in' does not apply to a method\n"
     "t.tidl:5:18: error: duplicate attribute 'idempotent'\n"
     "t.tidl:6:13: error: attribute 'oneway' takes no argument\n"
     "t.tidl:7:13: error: attribute 'oneway' does not apply to a parameter\n"
     "t.tidl:7:35: error: duplicate attribute 'in'\n"},
    {"missing_uuid",
     "[version(1.0)]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:2:11: error: interface 'T' needs a uuid(...) attribute\n"},
    {"missing_version",
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70)]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:2:11: error: interface 'T' needs a version(MAJOR.MINOR) attribute\n"},
    {"no_attributes",
     "interface T {\n"
     "};\n",
     "t.tidl:1:11: error: interface 'T' needs a uuid(...) attribute\n"
     "t.tidl:1:11: error: interface 'T' needs a version(MAJOR.MINOR) attribute\n"},
    {"bad_uuid_and_version",
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f7), version(1.x), oneway]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:1:59: error: attribute 'oneway' does not apply to an interface\n"
     "t.tidl:1:7: error: bad uuid '6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f7' (want 8-4-4-4-12 "
     "hexadecimal digits)\n"
     "t.tidl:1:53: error: bad version '1.x' (want MAJOR.MINOR, each 0 to 65535)\n"},
    {"attribute_without_argument",
     "[uuid, version]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:1:2: error: bad uuid '' (want 8-4-4-4-12 hexadecimal digits)\n"
     "t.tidl:1:8: error: bad version '' (want MAJOR.MINOR, each 0 to 65535)\n"},
    {"version_range",
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70), version(65536.0)]\n"
     "interface T {\n"
     "};\n",
     "t.tidl:1:54: error: bad version '65536.0' (want MAJOR.MINOR, each 0 to 65535)\n"},
    {"reserved_interface_name",
     "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70), version(1.0)]\n"
     "interface put_it {\n"
     "};\n",
     "t.tidl:2:11: error: interface name 'put_it' is reserved by the generated code\n"},
    {"parameter_names",
     HEAD
     "    void f([in] int32 xdr, [in] int32 a, [out] int32 a, [in] int32 size_t, [in] int32 T_x,\n"
     "           [in] int32 put_x, [in] int32 tern_x);\n"
     "};\n",
     "t.tidl:3:23: error: parameter name 'xdr' is reserved by the generated code\n"
     "t.tidl:3:54: error: duplicate parameter 'a'\n"
     "t.tidl:3:68: error: parameter name 'size_t' is reserved by the generated code\n"
     "t.tidl:3:87: error: parameter name 'T_x' is reserved by the generated code\n"
     "t.tidl:4:23: error: parameter name 'put_x' is reserved by the generated code\n"
     "t.tidl:4:41: error: parameter name 'tern_x' is reserved by the generated code\n"},
    {"inout_optional",
     HEAD "    struct S { int32 a; };\n"
          "    void g([in, out] S *p);\n"
          "};\n",
     "t.tidl:4:25: error: [in, out] parameter 'p' cannot be optional: copy-restore has nowhere to "
     "put a value that was absent\n"},
    {"oneway_rules",
     HEAD "    [oneway] int32 f([out] int32 a, [in, out] int32 b);\n"
          "};\n",
     "t.tidl:3:14: error: [oneway] method 'f' must return void\n"
     "t.tidl:3:34: error: [oneway] method 'f' cannot have [out] parameter 'a'\n"
     "t.tidl:3:53: error: [oneway] method 'f' cannot have [out] parameter 'b'\n"},
    {"scatter_rules",
     HEAD "    typedef context_handle H;\n"
          "    void a([scatter] int32 x);\n"
          "    void b([in, out, scatter] int32 x<4>);\n"
          "    void c([scatter] int32 x<4>, [scatter] int32 y<4>);\n"
          "    [oneway] void d([scatter] int32 x<4>);\n"
          "    void e([scatter] int32 x<4>, [in, out] int32 y);\n"
          "    H f([scatter] int32 x<4>);\n"
          "    int32 g([scatter] int32 x<4>, [out] double d);\n"
          "    void h([scatter] int32 x<4>, [out] double d[2]);\n"
          "};\n",
     "t.tidl:4:28: error: [scatter] parameter 'x' must be a variable-length array\n"
     "t.tidl:5:37: error: [scatter] parameter 'x' must be [in] only\n"
     "t.tidl:6:50: error: only one [scatter] parameter per method\n"
     "t.tidl:7:19: error: [scatter] cannot be used in a [oneway] method\n"
     "t.tidl:8:50: error: [scatter] method 'e' cannot have [in, out] parameter 'y'\n"
     "t.tidl:9:5: error: [scatter] method 'f' cannot return a context handle\n"
     "t.tidl:10:5: error: [scatter] method 'g' has more than one out-value to reduce ('d' and the "
     "result)\n"
     "t.tidl:11:47: error: [scatter] method 'h' cannot merge 'd', a fixed-size array (only "
     "variable-length ones are concatenated)\n"},
    {"generated_name_clash",
     HEAD "    void add();\n"
          "    struct add_async { int32 x; };\n"
          "    struct bytes { int32 x; };\n"
          "    typedef context_handle H;\n"
          "    void rundown_H([in] H h);\n"
          "};\n",
     "t.tidl:4:12: error: 'add' and 'add_async' both generate the C name 'T_add_async'\n"
     "t.tidl:3:10: note: 'add' is defined here\n"
     "t.tidl:5:12: error: the C name 'T_bytes' generated for 'bytes' is already used by the "
     "generated code\n"
     "t.tidl:6:28: error: 'rundown_H' and 'H' both generate the server member 'rundown_H'\n"
     "t.tidl:7:10: note: 'rundown_H' is defined here\n"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof error_cases / sizeof error_cases[0]; n++) {
        const struct error_case *k = &error_cases[n];
        run r;
        compile_text(&r, k->source);
        if (strcmp(diags(&r), k->expected) != 0)
            fail_msg("%s: got\n%s\nexpected\n%s", k->name, diags(&r), k->expected);
        if (r.err != TERN_EINVAL)
            fail_msg("%s: %s, expected TERN_EINVAL", k->name, tern_errname(r.err));
        run_fini(&r);
    }
}

/* ---- imports ----------------------------------------------------------------------- */

#define SHAPES                                                                                     \
    "[uuid(0b7e4a10-2f6c-4d3e-9a81-5c2d7e9f1a04), version(1.0)]\n"                                 \
    "interface Shapes { struct Point { float x; float y; }; const uint32 N = 3; };\n"

/* Next to the importer first, then the import directories; each file is
 * read once however many paths lead to it. */
static void test_import_paths(void **state)
{
    (void)state;
    const vfile files[] = {
        {"dir/main.tidl", "import \"sub/mid.tidl\";\nimport \"shapes.tidl\";\n" HEAD
                          "    struct S { Point p[N]; Mid m; };\n};\n"},
        {"dir/sub/mid.tidl", "import \"../../lib/shapes.tidl\";\n"
                             "[uuid(1b7e4a10-2f6c-4d3e-9a81-5c2d7e9f1a04), version(1.0)]\n"
                             "interface Middle { struct Mid { Point p; }; };\n"},
        {"lib/shapes.tidl", SHAPES},
        {NULL, NULL},
    };
    const char *const dirs[] = {"nowhere", "lib"};
    tern_idl_opts opts = {
        .read = read_mem, .read_arg = (void *)files, .import_dirs = dirs, .nimport_dirs = 2};
    run r;
    compile_opts(&r, "dir/./main.tidl", &opts);
    assert_clean(&r);
    assert_int_equal(r.ctx.nfiles, 3);
    assert_string_equal(r.ctx.files[0]->path, "dir/main.tidl");
    assert_string_equal(r.ctx.files[1]->path, "dir/sub/mid.tidl");
    assert_string_equal(r.ctx.files[2]->path, "lib/shapes.tidl");
    const char *h = output(&r, "main.h");
    assert_contains(h, "#include \"mid.h\"\n#include \"shapes.h\"\n");
    assert_contains(h, "    Shapes_Point p[Shapes_N];\n    Middle_Mid m;\n");
    run_fini(&r);
}

static void check_import_error(const vfile *files, const char *expected)
{
    run r;
    compile_files(&r, files, "a.tidl");
    if (strcmp(diags(&r), expected) != 0)
        fail_msg("got\n%s\nexpected\n%s", diags(&r), expected);
    assert_int_equal(r.err, TERN_EINVAL);
    run_fini(&r);
}

static void test_import_errors(void **state)
{
    (void)state;
    const vfile missing[] = {{"a.tidl", "import \"none.tidl\";\n" HEAD "};\n"}, {NULL, NULL}};
    check_import_error(missing, "a.tidl:1:8: error: cannot find import 'none.tidl'\n");

    const vfile unreadable[] = {
        {"a.tidl", "import \"b.tidl\";\n" HEAD "};\n"}, {"b.tidl", NULL}, {NULL, NULL}};
    check_import_error(unreadable, "a.tidl:1:8: error: cannot read 'b.tidl': cannot read it\n");

    const vfile cycle[] = {
        {"a.tidl", "import \"b.tidl\";\n" HEAD "};\n"},
        {"b.tidl",
         "import \"c.tidl\";\n[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\n"
         "interface B { };\n"},
        {"c.tidl",
         "import \"a.tidl\";\n[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f72), version(1.0)]\n"
         "interface C { };\n"},
        {NULL, NULL},
    };
    check_import_error(cycle,
                       "c.tidl:1:8: error: import cycle: a.tidl -> b.tidl -> c.tidl -> a.tidl\n");

    const vfile twice[] = {
        {"a.tidl",
         "import \"b.tidl\";\nimport \"c.tidl\";\n" HEAD "    struct P { int32 x; };\n};\n"},
        {"b.tidl", "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\n"
                   "interface B { struct P { int32 x; }; };\n"},
        {"c.tidl", "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f72), version(1.0)]\n"
                   "interface C { struct P { int32 x; }; };\n"},
        {NULL, NULL},
    };
    check_import_error(twice,
                       "a.tidl:2:8: error: import 'c.tidl' brings 'P', which is already defined\n"
                       "b.tidl:2:22: note: 'P' was first defined here\n"
                       "a.tidl:5:12: error: duplicate name 'P'\n"
                       "b.tidl:2:22: note: 'P' was first defined here\n");

    const vfile same_base[] = {
        {"a.tidl", "import \"x/b.tidl\";\nimport \"y/b.tidl\";\n" HEAD "};\n"},
        {"x/b.tidl",
         "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\ninterface B1 { };\n"},
        {"y/b.tidl",
         "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f72), version(1.0)]\ninterface B2 { };\n"},
        {NULL, NULL},
    };
    check_import_error(same_base,
                       "y/b.tidl:2:11: error: 'x/b.tidl' and 'y/b.tidl' would both generate "
                       "'b.h'; rename one\n");

    const vfile same_iface[] = {
        {"a.tidl", "import \"b.tidl\";\n" HEAD "};\n"},
        {"b.tidl",
         "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\ninterface T { };\n"},
        {NULL, NULL},
    };
    check_import_error(same_iface,
                       "b.tidl:2:11: error: interface name 'T' is already used by 'a.tidl'\n");

    const vfile prefix[] = {
        {"a.tidl", "import \"b.tidl\";\n" HEAD "    struct B_Point { int32 x; };\n};\n"},
        {"b.tidl",
         "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\ninterface B { };\n"},
        {NULL, NULL},
    };
    check_import_error(prefix, "a.tidl:4:12: error: 'B_Point' starts with the name of imported "
                               "interface 'B' and could clash with its C names\n");

    /* Errors in an imported file are its own, with its name. */
    const vfile broken[] = {
        {"a.tidl", "import \"b.tidl\";\n" HEAD "};\n"},
        {"b.tidl", "[uuid(6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f71), version(1.0)]\n"
                   "interface B { Nope f(); };\n"},
        {NULL, NULL},
    };
    check_import_error(broken, "b.tidl:2:15: error: undefined type 'Nope'\n");
}

static void test_missing_root(void **state)
{
    (void)state;
    const vfile none[] = {{NULL, NULL}};
    run r;
    compile_files(&r, none, "x.tidl");
    assert_int_equal(r.err, TERN_ENOENT);
    assert_string_equal(diags(&r), "x.tidl: error: cannot read the file: no such file\n");
    run_fini(&r);
}

/* Beyond 100 errors the rest are counted, not shown. */
static void test_too_many_errors(void **state)
{
    (void)state;
    char *text = malloc(150 * 8 + 1);
    assert_non_null(text);
    text[0] = '\0';
    for (int n = 0; n < 150; n++)
        strcat(text, "@@@@@@@\n");
    run r;
    compile_text(&r, text);
    assert_int_equal(r.err, TERN_EINVAL);
    assert_int_equal(r.ctx.nerrors, 150 * 7); /* "no interface" only comes alone */
    size_t lines = 0;
    for (const char *p = diags(&r); *p != '\0'; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 101);
    assert_contains(diags(&r), "t.tidl:15:2: error: unexpected character '@'\n"
                               "error: too many errors; showing the first 100\n");
    run_fini(&r);
    free(text);
}

/* ---- tern_idl_compile: files on disk ------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    if (text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n)
        text[n] = '\0';
    fclose(f);
    return text;
}

static void test_compile_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/tern-idl-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char src[256], out[256], dep[256], path[2048];
    snprintf(src, sizeof src, "%s/it.tidl", dir);
    snprintf(out, sizeof out, "%s/gen/deeper", dir);
    snprintf(dep, sizeof dep, "%s/it.d", dir);
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    fputs(HEAD "    int32 twice([in] int32 x);\n};\n", f);
    fclose(f);

    FILE *diag = tmpfile();
    assert_non_null(diag);
    tern_idl_opts opts = {.out_dir = out, .depfile = dep, .diag = diag};
    check_ok(tern_idl_compile(src, &opts));
    static const char *const names[] = {"it.h", "it_xdr.c", "it_client.c", "it_server.c"};
    for (int n = 0; n < 4; n++) {
        snprintf(path, sizeof path, "%s/%s", out, names[n]);
        char *text = slurp(path);
        assert_non_null(text);
        assert_contains(text, "Generated by tern idl");
        free(text);
        unlink(path);
    }
    char *rule = slurp(dep);
    assert_non_null(rule);
    snprintf(path, sizeof path, "%s/it.h %s/it_xdr.c %s/it_client.c %s/it_server.c: %s\n", out, out,
             out, out, src);
    assert_string_equal(rule, path);
    free(rule);
    assert_int_equal(ftell(diag), 0);

    /* With errors nothing is written, and a count ends the report. */
    f = fopen(src, "w");
    assert_non_null(f);
    fputs(HEAD "    Nope twice([in] int32 x);\n};\n", f);
    fclose(f);
    check_err(tern_idl_compile(src, &opts), TERN_EINVAL);
    snprintf(path, sizeof path, "%s/it.h", out);
    assert_int_equal(access(path, F_OK), -1);
    rewind(diag);
    char report[512] = {0};
    assert_true(fread(report, 1, sizeof report - 1, diag) > 0);
    snprintf(path, sizeof path, "%s:3:5: error: undefined type 'Nope'\n1 error\n", src);
    assert_string_equal(report, path);
    fclose(diag);

    check_err(tern_idl_compile("/nonexistent/x.tidl", &(tern_idl_opts){.diag = stderr}),
              TERN_ENOENT);
    unlink(src);
    unlink(dep);
    snprintf(path, sizeof path, "%s/gen/deeper", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/gen", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calc),
        cmocka_unit_test(test_every),
        cmocka_unit_test(test_xdr_spelling),
        cmocka_unit_test(test_forward_references),
        cmocka_unit_test(test_generated_calc),
        cmocka_unit_test(test_generated_constants),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_import_paths),
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_missing_root),
        cmocka_unit_test(test_too_many_errors),
        cmocka_unit_test(test_compile_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
