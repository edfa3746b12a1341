/* Helpers the broker benchmark programs (floor.c, redis_xadd.c, kbench.c)
 * share: dying with the program's name, clocks, option numbers, full
 * writes, big-endian stores, and the one result line each prints. */
#ifndef BENCH_BROKER_UTIL_H
#define BENCH_BROKER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Each program defines its name; bk_die prints it first. */
extern const char bk_prog[];

/* Prints "PROG: message" to stderr and exits 1. */
void bk_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* CLOCK_MONOTONIC, nanoseconds. */
uint64_t bk_now_ns(void);
/* User + system CPU seconds of the whole process, every thread. */
double bk_cpu_s(void);

/* Prints a program's usage text, to stdout for --help (status 0) or to
 * stderr after a mistake, and exits with status. */
void bk_usage(const char *text, int status) __attribute__((noreturn));

/* The decimal value s of option opt, from 1 to max; dies otherwise. */
unsigned long bk_parse_count(const char *opt, const char *s, unsigned long max);

/* One command-line option: a flag (sets *(int *)to = 1), a string (const
 * char **) or a count (unsigned long *, from 1 to max). */
struct bk_opt {
    const char *name;
    enum { BK_FLAG, BK_STR, BK_COUNT } kind;
    void *to;
    unsigned long max;
};

/* Parses argv[first..] against opts (n of them); -h/--help prints usage
 * and exits 0, anything unknown or a missing value exits 2 with usage. */
void bk_parse_opts(int argc, char **argv, int first, const struct bk_opt *opts, size_t n,
                   const char *usage);

/* Writes all of p to fd (retrying EINTR), or dies. */
void bk_write_all(int fd, const void *p, size_t len);

/* Stores the low bytes of v at p, most significant first. */
void bk_put_be(void *p, uint64_t v, int bytes);
/* Reads them back. */
uint64_t bk_get_be(const void *p, int bytes);

/* The result line: key=value pairs separated by spaces, or with json one
 * object ("key":value, strings quoted); bk_line_end ends it. */
struct bk_line {
    int json;
    int fields; /* printed so far */
};

void bk_line_str(struct bk_line *l, const char *key, const char *val);
void bk_line_num(struct bk_line *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* seconds, msgs_per_s and mb_per_s (value bytes, 10^6) of records of size
 * bytes moved in secs. */
void bk_line_rate(struct bk_line *l, unsigned long records, unsigned long size, double secs);
void bk_line_end(struct bk_line *l);

/* The consume programs' result line: which client, the record size and
 * count, the passes, the first pass's seconds, and the rate, seconds and
 * client CPU seconds of the last. */
void bk_consume_line(int json, const char *client, unsigned long size, unsigned long records,
                     unsigned long passes, double first, double secs, double cpu);

#endif
