/* Shared pieces of the tern command: flags, errors, signals, message
 * sources, output formats, socket type names and rate meters. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- flags ------------------------------------------------------------ */

static const struct cli_opt *find_long(const struct cli_opt *opts, unsigned mask, const char *name,
                                       size_t len)
{
    for (const struct cli_opt *o = opts; o->name; o++) {
        if ((o->mask & mask) && strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, unsigned mask, char letter)
{
    for (const struct cli_opt *o = opts; o->name; o++) {
        if ((o->mask & mask) && o->letter == letter)
            return o;
    }
    return NULL;
}

static int set_value(const struct cli_cmd *cmd, const struct cli_opt *o, void *conf, char *val)
{
    char *dst = (char *)conf + o->offset;
    switch (o->kind) {
    case CLI_BOOL:
        *(bool *)dst = true;
        break;
    case CLI_STR:
    case CLI_MODE:
        *(const char **)dst = val;
        break;
    case CLI_LIST: {
        struct cli_list *l = (struct cli_list *)dst;
        char **v = realloc(l->v, (l->n + 1) * sizeof *v);
        if (v == NULL)
            return cli_fail(cmd, TERN_ENOMEM, "cannot parse --%s", o->name);
        v[l->n++] = val;
        l->v = v;
        break;
    }
    case CLI_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(val, &end, 10);
        if (errno != 0 || end == val || *end != '\0' || n < o->min || n > o->max) {
            if (o->max == INT64_MAX)
                return cli_usage_error(cmd,
                                       "--%s wants an integer of at least %" PRId64 ", not '%s'",
                                       o->name, o->min, val);
            return cli_usage_error(
                cmd, "--%s wants an integer from %" PRId64 " to %" PRId64 ", not '%s'", o->name,
                o->min, o->max, val);
        }
        *(int64_t *)dst = n;
        break;
    }
    }
    return CLI_CONTINUE;
}

int cli_parse(const struct cli_cmd *cmd, const struct cli_opt *opts, unsigned mask, void *conf,
              int argc, char **argv, int *nargs)
{
    int npos = 0;
    bool flags_done = false;

    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        /* A lone "-" is an argument (stdin), not a flag. Positional
         * arguments move down over the flags already consumed. */
        if (flags_done || a[0] != '-' || a[1] == '\0') {
            argv[1 + npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cmd->usage(cmd, stdout);
            return CLI_EXIT_OK;
        }
        const struct cli_opt *o;
        char *val = NULL;
        if (a[1] == '-') {
            char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(opts, mask, a + 2, len);
            if (o == NULL)
                return cli_usage_error(cmd, "unknown flag '%.*s'", (int)len + 2, a);
            if (eq && o->kind == CLI_BOOL)
                return cli_usage_error(cmd, "--%s takes no value", o->name);
            if (eq)
                val = eq + 1;
        } else {
            o = a[2] == '\0' ? find_short(opts, mask, a[1]) : NULL;
            if (o == NULL)
                return cli_usage_error(cmd, "unknown flag '%s'", a);
        }
        if (o->kind == CLI_MODE && val == NULL)
            val = "";
        if (o->kind != CLI_BOOL && val == NULL) {
            if (i + 1 == argc)
                return cli_usage_error(cmd, "--%s needs a value (%s)", o->name, o->arg);
            val = argv[++i];
        }
        int rc = set_value(cmd, o, conf, val);
        if (rc != CLI_CONTINUE)
            return rc;
    }
    if (nargs)
        *nargs = npos;
    else if (npos > 0)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
    return CLI_CONTINUE;
}

void cli_opts_free(const struct cli_opt *opts, void *conf)
{
    for (const struct cli_opt *o = opts; o->name; o++) {
        if (o->kind != CLI_LIST)
            continue;
        struct cli_list *l = (struct cli_list *)((char *)conf + o->offset);
        free(l->v);
        l->v = NULL;
        l->n = 0;
    }
}

/* Help text starts at this column. */
#define HELP_COL 24

void cli_opts_usage(FILE *out, const struct cli_opt *opts, unsigned mask)
{
    for (const struct cli_opt *o = opts; o->name; o++) {
        if (!(o->mask & mask))
            continue;
        int n;
        if (o->letter)
            n = fprintf(out, "  -%c, --%s", o->letter, o->name);
        else
            n = fprintf(out, "      --%s", o->name);
        if (o->arg)
            n += fprintf(out, "%s%s", o->kind == CLI_MODE ? "" : " ", o->arg);
        if (n >= HELP_COL - 1) {
            fputc('\n', out);
            n = 0;
        }
        /* Help may run over several lines, each starting at HELP_COL. */
        for (const char *line = o->help; line; n = 0) {
            const char *nl = strchr(line, '\n');
            int len = nl ? (int)(nl - line) : (int)strlen(line);
            fprintf(out, "%*s%.*s\n", HELP_COL - n, "", len, line);
            line = nl ? nl + 1 : NULL;
        }
    }
}

/* ---- errors ----------------------------------------------------------- */

/* Each note is written under stderr's lock, so a line from the --events
 * thread never lands in the middle of one. */
CLI_PRINTF(2, 0) static void vnote(const struct cli_cmd *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "tern%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
    vfprintf(stderr, fmt, ap);
}

void cli_note(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    vnote(cmd, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    vnote(cmd, fmt, ap);
    fprintf(stderr, "\nsee 'tern help%s%s'\n", cmd ? " " : "", cmd ? cmd->name : "");
    funlockfile(stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_fail(const struct cli_cmd *cmd, tern_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    vnote(cmd, fmt, ap);
    fprintf(stderr, ": %s (%s)\n", tern_errname(err), tern_strerror(err));
    funlockfile(stderr);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

int cli_fail_errno(const struct cli_cmd *cmd, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    vnote(cmd, fmt, ap);
    fprintf(stderr, ": %s\n", strerror(saved));
    funlockfile(stderr);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

/* ---- signals ---------------------------------------------------------- */

/* SIGINT and SIGTERM stay blocked in every thread but one that waits for
 * them, so the library's threads (which inherit the mask) never see a
 * signal and no system call anywhere fails with EINTR. */
static atomic_bool stop_requested;
static int stop_pipe[2] = {-1, -1};
static sigset_t stop_signals;
static _Atomic(cli_stop_fn *) stop_fn;
static void *_Atomic stop_arg;

static void *signal_main(void *arg)
{
    int sig;
    (void)arg;
    if (sigwait(&stop_signals, &sig) != 0)
        return NULL;
    atomic_store(&stop_requested, true);
    ssize_t n = write(stop_pipe[1], "", 1);
    (void)n; /* the pipe is empty, so the byte fits */
    cli_stop_fn *fn = atomic_load(&stop_fn);
    if (fn)
        fn(atomic_load(&stop_arg));

    /* A second signal means "now": let it act as though never caught. */
    if (sigwait(&stop_signals, &sig) != 0)
        return NULL;
    signal(sig, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    raise(sig);
    return NULL;
}

int cli_signals_start(void)
{
    pthread_t tid;
    int err = 0;
    bool any = false;

    signal(SIGPIPE, SIG_IGN);
    if (pipe(stop_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        fcntl(stop_pipe[i], F_SETFD, FD_CLOEXEC);
    /* A signal ignored at start (SIGINT in a script's background job)
     * stays ignored, as the shell intended. */
    sigemptyset(&stop_signals);
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
            sigaddset(&stop_signals, sigs[i]);
            any = true;
        }
    }
    if (any)
        err = pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    if (any && err == 0)
        err = pthread_create(&tid, NULL, signal_main, NULL);
    if (any && err == 0)
        err = pthread_detach(tid);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return stop_pipe[0];
}

bool cli_stop_requested(void)
{
    return atomic_load(&stop_requested);
}

void cli_signals_on_stop(cli_stop_fn *fn, void *arg)
{
    /* The signal thread loads fn, then arg: an arg stored first is never
     * paired with the previous fn, and a cleared fn keeps its arg. */
    if (fn)
        atomic_store(&stop_arg, arg);
    atomic_store(&stop_fn, fn);
}

/* ---- message sources -------------------------------------------------- */

#define READ_CHUNK 65536

/* Makes room for at least one more read of READ_CHUNK bytes. */
static int source_grow(struct cli_source *src)
{
    if (src->cap - src->len >= READ_CHUNK)
        return CLI_CONTINUE;
    size_t cap = src->cap ? src->cap * 2 : READ_CHUNK;
    while (cap - src->len < READ_CHUNK)
        cap *= 2;
    char *buf = realloc(src->buf, cap);
    if (buf == NULL)
        return cli_fail(src->cmd, TERN_ENOMEM, "cannot buffer the input");
    src->buf = buf;
    src->cap = cap;
    return CLI_CONTINUE;
}

static int source_read_file(struct cli_source *src, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    int rc = CLI_CONTINUE;

    if (fd < 0)
        return cli_fail_errno(src->cmd, "cannot open %s", path);
    while (rc == CLI_CONTINUE) {
        rc = source_grow(src);
        if (rc != CLI_CONTINUE)
            break;
        ssize_t n = read(fd, src->buf + src->len, src->cap - src->len);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            rc = cli_fail_errno(src->cmd, "cannot read %s", is_stdin ? "stdin" : path);
        if (n > 0)
            src->len += (size_t)n;
    }
    if (!is_stdin)
        close(fd);
    return rc;
}

int cli_source_open(struct cli_source *src, const struct cli_cmd *cmd, const struct cli_list *data,
                    bool parts, const char *file, uint64_t count)
{
    memset(src, 0, sizeof *src);
    src->cmd = cmd;
    src->data = data;
    src->parts = parts;
    src->fd = -1;
    /* Without a count: every --data value once, the file once, stdin to EOF. */
    src->count = count;
    if (count == 0 && (file || parts))
        src->count = 1;
    else if (count == 0)
        src->count = data->n;
    if (file)
        return source_read_file(src, file);
    if (data->n > 0)
        return CLI_CONTINUE;
    src->fd = STDIN_FILENO;
    return source_grow(src);
}

static enum cli_next source_made(struct cli_source *src, tern_err err, tern_msg *msg,
                                 tern_msg **msgp)
{
    if (err != TERN_OK) {
        tern_msg_free(msg);
        cli_fail(src->cmd, err, "cannot make a message");
        return CLI_NEXT_ERR;
    }
    src->made++;
    *msgp = msg;
    return CLI_NEXT_MSG;
}

/* The next line of stdin as a message, reading more if may_read. */
static enum cli_next source_line(struct cli_source *src, bool may_read, tern_msg **msgp)
{
    for (;;) {
        size_t avail = src->len - src->scan;
        char *start = src->buf + src->scan;
        char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl || (src->eof && avail > 0)) {
            /* The last line may lack its newline; it is still a message. */
            size_t size = nl ? (size_t)(nl - start) : avail;
            tern_msg *msg = NULL;
            tern_err err = tern_msg_alloc(&msg, size);
            if (err == TERN_OK && size > 0)
                memcpy(tern_msg_data(msg, 0), start, size);
            src->scan += size + (nl != NULL);
            return source_made(src, err, msg, msgp);
        }
        if (src->eof)
            return CLI_NEXT_END;
        if (!may_read)
            return CLI_NEXT_WAIT;
        may_read = false;
        memmove(src->buf, start, avail);
        src->len = avail;
        src->scan = 0;
        if (source_grow(src) != CLI_CONTINUE)
            return CLI_NEXT_ERR;
        ssize_t n = read(src->fd, src->buf + src->len, src->cap - src->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return CLI_NEXT_WAIT;
        if (n < 0) {
            cli_fail_errno(src->cmd, "cannot read stdin");
            return CLI_NEXT_ERR;
        }
        if (n == 0)
            src->eof = true;
        src->len += (size_t)n;
    }
}

enum cli_next cli_source_next(struct cli_source *src, bool may_read, tern_msg **msgp)
{
    if (src->count > 0 && src->made == src->count)
        return CLI_NEXT_END;
    if (src->fd >= 0)
        return source_line(src, may_read, msgp);

    /* --data and --file bytes outlive the messages (see cli_source_fini),
     * so the messages refer to them instead of copying. */
    tern_msg *msg = NULL;
    tern_err err = tern_msg_new(&msg);
    if (src->data->n == 0) {
        if (err == TERN_OK)
            err = tern_msg_append_ref(msg, src->buf, src->len, NULL, NULL);
    } else if (src->parts) {
        for (size_t i = 0; i < src->data->n && err == TERN_OK; i++) {
            char *s = src->data->v[i];
            err = tern_msg_append_ref(msg, s, strlen(s), NULL, NULL);
        }
    } else {
        char *s = src->data->v[src->next];
        src->next = (src->next + 1) % src->data->n;
        if (err == TERN_OK)
            err = tern_msg_append_ref(msg, s, strlen(s), NULL, NULL);
    }
    return source_made(src, err, msg, msgp);
}

int cli_source_fd(const struct cli_source *src)
{
    return src->fd;
}

void cli_source_fini(struct cli_source *src)
{
    free(src->buf);
    src->buf = NULL;
}

/* ---- output ----------------------------------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

static void put_hex(FILE *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        putc(hexdigits[p[i] >> 4], out);
        putc(hexdigits[p[i] & 15], out);
    }
}

static void put_quoted(FILE *out, const unsigned char *p, size_t n)
{
    putc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        switch (c) {
        case '"':
        case '\\':
            putc('\\', out);
            putc(c, out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                putc(c, out);
            } else {
                fputs("\\x", out);
                put_hex(out, &c, 1);
            }
        }
    }
    putc('"', out);
}

static const char *const format_names[] = {
    [CLI_FMT_RAW] = "raw",
    [CLI_FMT_QUOTED] = "quoted",
    [CLI_FMT_HEX] = "hex",
    [CLI_FMT_LEN] = "len",
};

bool cli_format_parse(const char *name, enum cli_format *fmt)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *fmt = (enum cli_format)i;
            return true;
        }
    }
    return false;
}

void cli_format_usage(FILE *out)
{
    fputs("formats (--format):\n"
          "  raw     each part's bytes followed by a newline (a 2-part message is 2 lines)\n"
          "  quoted  one line per message: each part as a C string in double quotes,\n"
          "          parts separated by one space; \\\" \\\\ \\n \\r \\t are escaped, other\n"
          "          bytes outside 0x20..0x7e are \\xHH (always two lowercase hex digits)\n"
          "  hex     one line per message: each part as lowercase hex, parts separated\n"
          "          by one space (an empty part is empty)\n"
          "  len     each part as: its length in decimal, '+' if more parts of the same\n"
          "          message follow, one space, the bytes, a newline\n",
          out);
}

/* An empty part's data may be NULL, which fwrite must not see even for 0 bytes. */
static void put_raw(FILE *out, const unsigned char *p, size_t n)
{
    if (n > 0)
        fwrite(p, 1, n, out);
}

/* A routing id in the len format: its hex text's length, then the text. */
static void put_len_hex(FILE *out, const unsigned char *p, size_t n, bool more)
{
    fprintf(out, "%zu%s ", 2 * n, more ? "+" : "");
    put_hex(out, p, n);
    putc('\n', out);
}

void cli_print_msg(FILE *out, const tern_msg *msg, enum cli_format fmt, bool with_id)
{
    size_t parts = tern_msg_parts(msg);
    for (size_t i = 0; i < parts; i++) {
        const unsigned char *p = tern_msg_data(msg, i);
        size_t n = tern_msg_size(msg, i);
        if (with_id && i == 0) {
            /* Ids are often binary (a ROUTER makes up 5 bytes), so hex. */
            if (fmt == CLI_FMT_LEN)
                put_len_hex(out, p, n, parts > 1);
            else
                put_hex(out, p, n);
            if (fmt == CLI_FMT_RAW)
                putc('\n', out);
            continue;
        }
        switch (fmt) {
        case CLI_FMT_RAW:
            put_raw(out, p, n);
            putc('\n', out);
            break;
        case CLI_FMT_QUOTED:
        case CLI_FMT_HEX:
            if (i > 0)
                putc(' ', out);
            if (fmt == CLI_FMT_QUOTED)
                put_quoted(out, p, n);
            else
                put_hex(out, p, n);
            break;
        case CLI_FMT_LEN:
            fprintf(out, "%zu%s ", n, i + 1 < parts ? "+" : "");
            put_raw(out, p, n);
            putc('\n', out);
            break;
        }
    }
    if (fmt == CLI_FMT_QUOTED || fmt == CLI_FMT_HEX)
        putc('\n', out);
}

int cli_flush(const struct cli_cmd *cmd)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return CLI_CONTINUE;
    if (errno == EPIPE)
        return CLI_EXIT_OK;
    return cli_fail_errno(cmd, "cannot write to stdout");
}

/* ---- socket types ----------------------------------------------------- */

static const char *const type_names[] = {
    [TERN_PAIR] = "PAIR", [TERN_PUB] = "PUB",       [TERN_SUB] = "SUB",       [TERN_REQ] = "REQ",
    [TERN_REP] = "REP",   [TERN_DEALER] = "DEALER", [TERN_ROUTER] = "ROUTER", [TERN_PULL] = "PULL",
    [TERN_PUSH] = "PUSH", [TERN_XPUB] = "XPUB",     [TERN_XSUB] = "XSUB",
};

#define NTYPES (int)(sizeof type_names / sizeof type_names[0])

const char *cli_type_name(int type)
{
    return type >= 0 && type < NTYPES ? type_names[type] : "?";
}

bool cli_type_parse(const char *name, size_t len, int *type)
{
    for (int t = 0; t < NTYPES; t++) {
        if (strlen(type_names[t]) == len && strncasecmp(type_names[t], name, len) == 0) {
            *type = t;
            return true;
        }
    }
    return false;
}

bool cli_type_sends(int type)
{
    return type != TERN_PULL && type != TERN_SUB;
}

bool cli_type_receives(int type)
{
    return type != TERN_PUSH && type != TERN_PUB;
}

/* ---- rate meter ------------------------------------------------------- */

#define NS_PER_S 1000000000u

void cli_rate_add(struct cli_rate *r, size_t bytes, uint64_t now_ns)
{
    if (r->msgs == 0)
        r->first_ns = now_ns;
    /* A window starts with its first message, so idle time is not counted. */
    if (r->tick_msgs == 0)
        r->tick_ns = now_ns;
    r->msgs++;
    r->bytes += bytes;
    r->tick_msgs++;
    r->tick_bytes += bytes;
    r->last_ns = now_ns;
}

void cli_rate_tick(struct cli_rate *r, const struct cli_cmd *cmd, uint64_t now_ns)
{
    if (r->tick_msgs == 0 || now_ns - r->tick_ns < NS_PER_S)
        return;
    double secs = (double)(now_ns - r->tick_ns) / NS_PER_S;
    cli_note(cmd, "%.0f msgs/s, %.2f MB/s (%" PRIu64 " in total)", (double)r->tick_msgs / secs,
             (double)r->tick_bytes / 1e6 / secs, r->msgs);
    r->tick_msgs = 0;
    r->tick_bytes = 0;
}

uint64_t cli_rate_due(const struct cli_rate *r)
{
    return r->tick_msgs ? r->tick_ns + NS_PER_S : UINT64_MAX;
}

void cli_rate_summary(const struct cli_rate *r, const struct cli_cmd *cmd)
{
    double secs = (double)(r->last_ns - r->first_ns) / NS_PER_S;
    if (r->msgs < 2 || secs <= 0) {
        cli_note(cmd, "received %" PRIu64 " msgs, %" PRIu64 " bytes", r->msgs, r->bytes);
        return;
    }
    cli_note(cmd, "received %" PRIu64 " msgs, %" PRIu64 " bytes in %.3f s: %.0f msgs/s, %.2f MB/s",
             r->msgs, r->bytes, secs, (double)r->msgs / secs, (double)r->bytes / 1e6 / secs);
}
