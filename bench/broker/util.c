/* Shared helpers of the broker benchmark programs; see util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void bk_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bk_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

uint64_t bk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bk_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void bk_usage(const char *text, int status)
{
    fputs(text, status == 0 ? stdout : stderr);
    exit(status);
}

unsigned long bk_parse_count(const char *opt, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || errno || *end || v == 0 || v > max)
        bk_die("%s wants a number from 1 to %lu, not '%s'", opt, max, s);
    return v;
}

void bk_parse_opts(int argc, char **argv, int first, const struct bk_opt *opts, size_t n,
                   const char *usage)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            bk_usage(usage, 0);
        const struct bk_opt *o = NULL;
        for (size_t k = 0; k < n && !o; k++)
            if (strcmp(a, opts[k].name) == 0)
                o = &opts[k];
        if (!o || (o->kind != BK_FLAG && i + 1 >= argc))
            bk_usage(usage, 2);
        if (o->kind == BK_FLAG)
            *(int *)o->to = 1;
        else if (o->kind == BK_STR)
            *(const char **)o->to = argv[++i];
        else
            *(unsigned long *)o->to = bk_parse_count(a, argv[++i], o->max);
    }
}

void bk_write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            bk_die("write: %s", n < 0 ? strerror(errno) : "nothing written");
        c += n;
        len -= (size_t)n;
    }
}

void bk_put_be(void *p, uint64_t v, int bytes)
{
    uint8_t *b = p;
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

uint64_t bk_get_be(const void *p, int bytes)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | b[i];
    return v;
}

/* The separator before the next field: the object's opening brace first. */
static void field_start(struct bk_line *l)
{
    if (l->fields++ > 0)
        putchar(l->json ? ',' : ' ');
    else if (l->json)
        putchar('{');
}

void bk_line_str(struct bk_line *l, const char *key, const char *val)
{
    field_start(l);
    printf(l->json ? "\"%s\":\"%s\"" : "%s=%s", key, val);
}

void bk_line_num(struct bk_line *l, const char *key, const char *fmt, ...)
{
    va_list ap;
    field_start(l);
    printf(l->json ? "\"%s\":" : "%s=", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void bk_line_rate(struct bk_line *l, unsigned long records, unsigned long size, double secs)
{
    bk_line_num(l, "seconds", "%.6f", secs);
    bk_line_num(l, "msgs_per_s", "%.1f", (double)records / secs);
    bk_line_num(l, "mb_per_s", "%.3f", (double)records * (double)size / secs / 1e6);
}

void bk_line_end(struct bk_line *l)
{
    fputs(l->json ? "}\n" : "\n", stdout);
}

void bk_consume_line(int json, const char *client, unsigned long size, unsigned long records,
                     unsigned long passes, double first, double secs, double cpu)
{
    struct bk_line l = {json, 0};
    bk_line_str(&l, "mode", "consume");
    bk_line_str(&l, "client", client);
    bk_line_num(&l, "size", "%lu", size);
    bk_line_num(&l, "records", "%lu", records);
    bk_line_num(&l, "passes", "%lu", passes);
    bk_line_num(&l, "first_seconds", "%.6f", first);
    bk_line_rate(&l, records, size, secs);
    bk_line_num(&l, "cpu_s", "%.3f", cpu);
    bk_line_end(&l);
}
