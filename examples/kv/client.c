/* The kv client: finds "kv" in a tern directory and runs one command.
 *
 *   kv_client [--directory HOST:PORT] [--name NAME] put KEY VALUE
 *                                                   get KEY
 *                                                   del KEY
 *                                                   keys [PREFIX]
 *                                                   present KEY...
 *
 * Every kv server registered under the name is a replica: put and del go
 * to all of them at once (multicast ALL), get and keys take the first
 * answer (FIRST), and present gives each replica a share of the keys to
 * check (scatter-gather) and sums their counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static int usage(void)
{
    fprintf(stderr, "usage: kv_client [--directory HOST:PORT] [--name NAME] "
                    "put KEY VALUE | get KEY | del KEY | keys [PREFIX] | present KEY...\n");
    return 2;
}

static int failed(const char *what, tern_err err)
{
    fprintf(stderr, "kv_client: %s: %s (%s)\n", what, tern_strerror(err), tern_rpc_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *directory = "127.0.0.1:7350", *name = "kv";
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--directory") == 0)
            directory = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
        else
            return usage();
    }
    if (i >= argc)
        return usage();
    const char *cmd = argv[i];
    char **args = argv + i + 1;
    int nargs = argc - i - 1;

    char url[512];
    snprintf(url, sizeof url, "tern://%s/%s", directory, name);
    tern_ctx *ctx;
    if (tern_ctx_open(&ctx, 1) != TERN_OK)
        return 1;
    /* Every server registered under the name is a replica of the store. */
    const char *targets[] = {url};
    tern_rpc_group *g;
    tern_err err = tern_rpc_group_open(ctx, targets, 1, &KV_iface, NULL, &g);
    if (err != TERN_OK)
        return failed(url, err);
    size_t replicas = tern_rpc_group_size(g);
    int rc = 0;
    tern_rpc_multi *m = NULL;
    if (strcmp(cmd, "put") == 0 && nargs == 2) {
        /* Writes go to every replica at once (multicast, ALL). */
        KV_bytes value = {(uint32_t)strlen(args[1]), (uint8_t *)args[1]};
        err = KV_put_multi(g, NULL, TERN_RPC_ALL, 0, args[0], &value, &m);
        for (size_t r = 0; err == TERN_OK && r < replicas; r++) {
            uint64_t version = 0;
            tern_err e = KV_put_multi_reply(m, r, &version);
            printf("%s: %s version %llu%s%s\n", tern_rpc_multi_endpoint(m, r), args[0],
                   (unsigned long long)version, e ? " FAILED: " : "", e ? tern_rpc_multi_error(m, r) : "");
            rc |= e != TERN_OK;
        }
    } else if (strcmp(cmd, "del") == 0 && nargs == 1) {
        err = KV_del_multi(g, NULL, TERN_RPC_ALL, 0, args[0], &m);
        size_t had = 0;
        for (size_t r = 0; err == TERN_OK && r < replicas; r++) {
            bool found = false;
            rc |= KV_del_multi_reply(m, r, &found) != TERN_OK;
            had += found;
        }
        if (err == TERN_OK && had == 0) {
            fprintf(stderr, "kv_client: %s: no such key\n", args[0]);
            rc = 1;
        }
    } else if (strcmp(cmd, "get") == 0 && nargs == 1) {
        /* Reads take the first replica to answer. */
        err = KV_get_multi(g, NULL, TERN_RPC_FIRST, 0, args[0], &m);
        for (size_t r = 0; err == TERN_OK && r < replicas; r++) {
            KV_Item *item = NULL;
            bool found = false;
            if (KV_get_multi_reply(m, r, &item, &found) != TERN_OK)
                continue;
            if (found)
                printf("%.*s\n", (int)item->value.len, (const char *)item->value.val);
            else {
                fprintf(stderr, "kv_client: %s: no such key\n", args[0]);
                rc = 1;
            }
            KV_get_free(&item);
            break;
        }
    } else if (strcmp(cmd, "keys") == 0 && nargs <= 1) {
        err = KV_keys_multi(g, NULL, TERN_RPC_FIRST, 0, nargs ? args[0] : "", &m);
        for (size_t r = 0; err == TERN_OK && r < replicas; r++) {
            KV_Key_seq names = {0};
            if (KV_keys_multi_reply(m, r, &names) != TERN_OK)
                continue;
            for (uint32_t k = 0; k < names.len; k++)
                printf("%s\n", names.val[k]);
            KV_keys_free(&names);
            break;
        }
    } else if (strcmp(cmd, "present") == 0 && nargs > 0) {
        /* Divide and conquer: each replica checks its share of the keys. */
        KV_Key_seq keys = {(uint32_t)nargs, args};
        uint32_t n = 0;
        err = KV_present_scatter(g, NULL, &keys, TERN_RPC_REDUCE_SUM, NULL, &n);
        if (err == TERN_OK)
            printf("%u of %d present (asked %zu replicas, a share each)\n", n, nargs, replicas);
    } else {
        rc = usage();
    }
    if (err != TERN_OK)
        rc = failed(cmd, err);
    tern_rpc_multi_free(m);
    tern_rpc_group_close(g);
    tern_ctx_close(ctx);
    return rc;
}
