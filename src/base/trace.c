/* Tracing: the topic mask, TERN_TRACE parsing and line output.
 *
 * The mask is one atomic word so a disabled trace point costs a single
 * relaxed load. Bit 31 means TERN_TRACE has not been read yet; the first
 * trace point reads it once. An explicit tern_trace_set() always wins over
 * the environment, even if the two race. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/trace.h"

#define MASK_UNREAD 0x80000000u
/* Longer lines are cut and end in "..."; tracing must never allocate. */
#define TRACE_LINE_MAX 1024

_Atomic unsigned tn_trace_mask_ = MASK_UNREAD;

static const struct {
    const char *name;
    unsigned bit;
} topics[] = {
    {"io", TERN_TRACE_IO},
    {"wire", TERN_TRACE_WIRE},
    {"msg", TERN_TRACE_MSG},
    {"rpc", TERN_TRACE_RPC},
    {"migrate", TERN_TRACE_MIGRATE},
    {"broker", TERN_TRACE_BROKER},
};

#define NTOPICS (sizeof topics / sizeof topics[0])

static unsigned topic_bits(const char *tok, size_t len)
{
    if (len == 3 && strncasecmp(tok, "all", 3) == 0)
        return TERN_TRACE_ALL;
    for (size_t i = 0; i < NTOPICS; i++) {
        if (strlen(topics[i].name) == len && strncasecmp(tok, topics[i].name, len) == 0)
            return topics[i].bit;
    }
    return 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* "io, wire" -> mask. Empty items are skipped, so NULL, "" and " , " all
 * mean off. Returns -1 on an unknown topic and leaves *maskp alone. */
static int parse_spec(const char *spec, unsigned *maskp)
{
    unsigned mask = 0;
    const char *p = spec ? spec : "";

    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *tok = p;

        p = comma ? comma + 1 : p + len;
        while (len > 0 && is_space(*tok)) {
            tok++;
            len--;
        }
        while (len > 0 && is_space(tok[len - 1]))
            len--;
        if (len == 0)
            continue;
        unsigned bits = topic_bits(tok, len);
        if (bits == 0)
            return -1;
        mask |= bits;
    }
    *maskp = mask;
    return 0;
}

/* One write() per line so lines from several threads or processes sharing
 * stderr do not interleave. */
static void write_stderr(const char *buf, size_t len)
{
    ssize_t r;
    do
        r = write(STDERR_FILENO, buf, len);
    while (r < 0 && errno == EINTR);
}

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void env_load(void)
{
    const char *spec = getenv("TERN_TRACE");
    unsigned mask = 0;
    unsigned unread = MASK_UNREAD;

    if (parse_spec(spec, &mask) != 0) {
        /* The user asked for tracing and would otherwise see nothing and
         * not know why. */
        char msg[256];
        int n = snprintf(msg, sizeof msg,
                         "tern: ignoring TERN_TRACE=\"%s\": topics are all, io, wire, msg\n", spec);
        if (n > 0 && (size_t)n >= sizeof msg) {
            n = (int)sizeof msg - 1;
            msg[n - 1] = '\n';
        }
        if (n > 0)
            write_stderr(msg, (size_t)n);
        mask = 0;
    }
    atomic_compare_exchange_strong(&tn_trace_mask_, &unread, mask);
}

unsigned tn_trace_load(void)
{
    pthread_once(&env_once, env_load);
    return atomic_load_explicit(&tn_trace_mask_, memory_order_relaxed);
}

tern_err tern_trace_set(const char *spec)
{
    unsigned mask;

    if (parse_spec(spec, &mask) != 0)
        return TERN_EINVAL;
    atomic_store_explicit(&tn_trace_mask_, mask, memory_order_relaxed);
    return TERN_OK;
}

unsigned tern_trace_mask(void)
{
    unsigned m = atomic_load_explicit(&tn_trace_mask_, memory_order_relaxed);
    if (m & MASK_UNREAD)
        m = tn_trace_load();
    return m;
}

/* Emitters hold the read lock while calling the sink, so sinks run
 * concurrently, and tern_trace_sink() returns only once no thread is still
 * inside the old sink: its arg may be freed right after. Where available,
 * waiting writers go first so busy tracing cannot starve a sink change;
 * that is safe because sinks must not call tern, so never take the read
 * lock twice. */
#ifdef PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
static pthread_rwlock_t sink_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#else
static pthread_rwlock_t sink_lock = PTHREAD_RWLOCK_INITIALIZER;
#endif
static tern_trace_fn *sink_fn;
static void *sink_arg;

void tern_trace_sink(tern_trace_fn *fn, void *arg)
{
    pthread_rwlock_wrlock(&sink_lock);
    sink_fn = fn;
    sink_arg = fn ? arg : NULL;
    pthread_rwlock_unlock(&sink_lock);
}

static const char *topic_name(unsigned topic)
{
    unsigned lowest = topic & (0u - topic);
    for (size_t i = 0; i < NTOPICS; i++) {
        if (topics[i].bit == lowest)
            return topics[i].name;
    }
    return "trace";
}

void tn_trace_emit(unsigned topic, const char *fmt, ...)
{
    /* Trace points sit between a system call and the check of errno. */
    int saved_errno = errno;
    const char *name = topic_name(topic);
    char line[TRACE_LINE_MAX];
    size_t len;
    va_list ap;

    int head = snprintf(line, sizeof line, "%s: ", name);
    len = head > 0 ? (size_t)head : 0;
    va_start(ap, fmt);
    int n = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        line[len] = '\0';
    } else if ((size_t)n >= sizeof line - len) {
        len = sizeof line - 1;
        memcpy(line + len - 3, "...", 3);
    } else {
        len += (size_t)n;
    }
    /* The contract is one line per call: drop a trailing newline, flatten
     * any inside. */
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }

    pthread_rwlock_rdlock(&sink_lock);
    if (sink_fn != NULL) {
        sink_fn(sink_arg, name, line);
        pthread_rwlock_unlock(&sink_lock);
        errno = saved_errno;
        return;
    }
    pthread_rwlock_unlock(&sink_lock);

    uint64_t ns = tern_clock_ns();
    char out[TRACE_LINE_MAX + 64];
    int outlen = snprintf(out, sizeof out, "tern[%ld] %llu.%06llu %s\n", (long)getpid(),
                          (unsigned long long)(ns / 1000000000u),
                          (unsigned long long)(ns % 1000000000u / 1000u), line);
    if (outlen > 0) {
        size_t olen = (size_t)outlen;
        if (olen >= sizeof out) {
            olen = sizeof out - 1;
            out[olen - 1] = '\n';
        }
        write_stderr(out, olen);
    }
    errno = saved_errno;
}
