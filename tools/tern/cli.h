/* The tern command's shared pieces: the subcommand table, flag parsing,
 * message sources and output formats, signals, rate meters and error
 * reporting; and a socket subcommand's run (run.c): the flags all of them
 * share, opening sockets, waiting, --stats and --events. Subcommands use
 * only <tern/tern.h> and this header.
 *
 * Everything here runs on the command's main thread and is not thread-safe,
 * except where said: --events and the signal hook run on threads of their
 * own, and every cli_note-style line is written whole. */
#ifndef TERN_CLI_H
#define TERN_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <tern/tern.h>

/* Exit statuses, the same for every subcommand. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,    /* runtime error: bind failed, file unreadable ... */
    CLI_EXIT_USAGE = 2,   /* bad flags or arguments */
    CLI_EXIT_TIMEOUT = 3, /* --timeout passed */
};
/* Not an exit status: "carry on". Returned by steps that may end the run. */
#define CLI_CONTINUE (-1)

struct cli_cmd {
    const char *name;
    const char *summary; /* one line, for `tern help` */
    int variant;         /* the socket type (TERN_PUSH...); CLI_PROXY for proxy */
    /* argv[0] is the subcommand's name; returns an exit status. */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
    /* Writes the full text of `tern help NAME`. */
    void (*usage)(const struct cli_cmd *cmd, FILE *out);
};

/* Every subcommand, in `tern help` order. Adding one: define
 * `const struct cli_cmd cli_cmd_NAME` in its file and list it here. */
#define CLI_COMMANDS(X)                                                                            \
    X(push)                                                                                        \
    X(pull)                                                                                        \
    X(pair)                                                                                        \
    X(req)                                                                                         \
    X(rep)                                                                                         \
    X(dealer)                                                                                      \
    X(router)                                                                                      \
    X(pub)                                                                                         \
    X(sub)                                                                                         \
    X(xpub)                                                                                        \
    X(xsub)                                                                                        \
    X(proxy)                                                                                       \
    X(idl)                                                                                         \
    X(directory)                                                                                   \
    X(migrate)                                                                                     \
    X(broker)                                                                                      \
    X(topic)                                                                                       \
    X(produce)                                                                                     \
    X(consume)                                                                                     \
    X(help)                                                                                        \
    X(version)

#define CLI_DECLARE(name) extern const struct cli_cmd cli_cmd_##name;
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

/* ---- flags ------------------------------------------------------------ */

enum cli_kind {
    CLI_BOOL, /* bool: set when present */
    CLI_STR,  /* const char *: the last one given wins */
    CLI_LIST, /* struct cli_list: every value, in order */
    CLI_INT,  /* int64_t within [min, max] */
    CLI_MODE, /* const char *: "" when given alone; a value only as --name=VALUE */
};

/* Values of a repeatable flag; the strings are argv's. */
struct cli_list {
    size_t n;
    char **v;
};

/* One flag. A table of them ends with an entry whose name is NULL. */
struct cli_opt {
    const char *name; /* long form, without "--" */
    char letter;      /* short form ("-q"), or 0 */
    enum cli_kind kind;
    size_t offset;    /* where the value goes in the subcommand's config */
    unsigned mask;    /* which subcommands take it: CLI_M(variant) bits */
    const char *arg;  /* value placeholder for help ("EP", "[=json]"); NULL for CLI_BOOL */
    const char *help; /* "\n" between lines; each under 56 columns */
    int64_t min, max; /* CLI_INT bounds */
};

/* Parses argv[1..argc) into conf (already holding the defaults) by the flags
 * of opts whose mask meets mask. Accepts "--name value", "--name=value",
 * "-l" and "--" (ends the flags). Positional arguments are moved to
 * argv[1..*nargs] (nargs may be NULL if none are allowed). -h and --help
 * print cmd's usage to stdout. Returns CLI_CONTINUE to go on, else the exit
 * status (after printing the error). cli_opts_free releases the lists. */
int cli_parse(const struct cli_cmd *cmd, const struct cli_opt *opts, unsigned mask, void *conf,
              int argc, char **argv, int *nargs);
void cli_opts_free(const struct cli_opt *opts, void *conf);
/* The lines describing each flag of opts that meets mask, for usage text. */
void cli_opts_usage(FILE *out, const struct cli_opt *opts, unsigned mask);

/* ---- errors ----------------------------------------------------------- */

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* "tern NAME: ..." on stderr (cmd NULL: "tern: ..."). */
CLI_PRINTF(2, 3) void cli_note(const struct cli_cmd *cmd, const char *fmt, ...);
/* The note, then "see 'tern help NAME'"; returns CLI_EXIT_USAGE. */
CLI_PRINTF(2, 3) int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...);
/* "tern NAME: <what>: TERN_EXXX (sentence)"; returns CLI_EXIT_FAIL. */
CLI_PRINTF(3, 4) int cli_fail(const struct cli_cmd *cmd, tern_err err, const char *fmt, ...);
/* As cli_fail, with errno's sentence instead of a tern_err. */
CLI_PRINTF(2, 3) int cli_fail_errno(const struct cli_cmd *cmd, const char *fmt, ...);

/* ---- signals ---------------------------------------------------------- */

/* Makes the first SIGINT or SIGTERM request a clean stop: it sets a flag
 * and makes the returned fd readable (poll it beside sockets). A second
 * signal kills as usual. One ignored at start stays ignored (a script's
 * background job ignores SIGINT). SIGPIPE is ignored: writes to a closed stdout
 * fail with EPIPE instead. Returns -1 with errno set on failure. */
int cli_signals_start(void);
bool cli_stop_requested(void);
/* Has the first SIGINT or SIGTERM also call fn(arg), on the signal thread
 * (fn may call the thread-safe tern functions); NULL stops that. Call
 * cli_stop_requested after setting it: a signal may have come before. */
typedef void cli_stop_fn(void *arg);
void cli_signals_on_stop(cli_stop_fn *fn, void *arg);

/* ---- message sources -------------------------------------------------- */

/* Where a sender's messages come from: each --data value is one message
 * (or all of them one multipart message, with parts), or a whole file is
 * one message, or else each line of stdin is one (newline stripped). With
 * count > 0 the source ends after count messages, cycling through the data
 * or file as often as needed; with 0 it sends each once (stdin: to EOF). */
struct cli_source {
    const struct cli_cmd *cmd;
    const struct cli_list *data;
    bool parts;
    uint64_t count, made;
    size_t next; /* next --data value */
    int fd;      /* stdin lines: the fd read; -1 otherwise */
    bool eof;
    char *buf; /* the file's bytes, or stdin not yet turned into lines */
    size_t len, cap, scan;
};

enum cli_next {
    CLI_NEXT_MSG,  /* *msgp is the next message */
    CLI_NEXT_WAIT, /* wait for cli_source_fd to be readable, then pass may_read */
    CLI_NEXT_END,  /* no more messages */
    CLI_NEXT_ERR,  /* reported on stderr */
};

/* file is a path, "-" for stdin, or NULL; data may be empty. A file is read
 * whole here (blocking). Returns CLI_CONTINUE or an exit status. */
int cli_source_open(struct cli_source *src, const struct cli_cmd *cmd, const struct cli_list *data,
                    bool parts, const char *file, uint64_t count);
/* may_read: the fd was reported readable, so one read() will not block. */
enum cli_next cli_source_next(struct cli_source *src, bool may_read, tern_msg **msgp);
/* The fd to poll on CLI_NEXT_WAIT. */
int cli_source_fd(const struct cli_source *src);
/* Messages made from --data and --file refer to the source's memory, so
 * call this only once they are gone: after tern_ctx_close. */
void cli_source_fini(struct cli_source *src);

/* ---- output ----------------------------------------------------------- */

enum cli_format {
    CLI_FMT_RAW,    /* each part's bytes, then '\n' */
    CLI_FMT_QUOTED, /* one line per message: parts as C strings, space separated */
    CLI_FMT_HEX,    /* one line per message: parts in lowercase hex, space separated */
    CLI_FMT_LEN,    /* each part: decimal length, '+' if more parts follow, ' ', bytes, '\n' */
};

/* "raw", "quoted", "hex" or "len"; false for anything else. */
bool cli_format_parse(const char *name, enum cli_format *fmt);
/* The help text describing the formats exactly. */
void cli_format_usage(FILE *out);
/* with_id: part 0 is a routing id, printed in hex whatever the format. */
void cli_print_msg(FILE *out, const tern_msg *msg, enum cli_format fmt, bool with_id);
/* Flushes stdout. A reader that went away (EPIPE) ends the run quietly:
 * CLI_EXIT_OK, as had SIGPIPE not been ignored. Else CLI_CONTINUE, or
 * CLI_EXIT_FAIL once reported. */
int cli_flush(const struct cli_cmd *cmd);

/* ---- socket types ----------------------------------------------------- */

/* "REQ", "XPUB"...; "?" for an unknown type. */
const char *cli_type_name(int type);
/* A type by name, any case ("xsub"); false if there is none. */
bool cli_type_parse(const char *name, size_t len, int *type);
/* Whether a socket of the type can send, and receive, messages at all. */
bool cli_type_sends(int type);
bool cli_type_receives(int type);

/* ---- rate meter ------------------------------------------------------- */

/* Counts received messages and bytes; with --rate it prints a line per
 * second (only for seconds with traffic) and a summary at the end. */
struct cli_rate {
    uint64_t msgs, bytes;           /* totals */
    uint64_t first_ns, last_ns;     /* first and latest message */
    uint64_t tick_ns;               /* start of the current one-second window */
    uint64_t tick_msgs, tick_bytes; /* in the current window */
};

void cli_rate_add(struct cli_rate *r, size_t bytes, uint64_t now_ns);
/* Prints the window's line if a second has passed since it began. */
void cli_rate_tick(struct cli_rate *r, const struct cli_cmd *cmd, uint64_t now_ns);
/* When cli_rate_tick next has something to print; UINT64_MAX if never. */
uint64_t cli_rate_due(const struct cli_rate *r);
void cli_rate_summary(const struct cli_rate *r, const struct cli_cmd *cmd);

/* ---- socket runs (run.c) ---------------------------------------------- */

/* tern proxy's variant: a mask bit past every socket type's. */
#define CLI_PROXY 11
/* Flag masks: one bit per subcommand, its variant. */
#define CLI_M(variant) (1u << (variant))
/* Send --data, --file or stdin lines. */
#define CLI_M_SENDERS                                                                              \
    (CLI_M(TERN_PUSH) | CLI_M(TERN_PAIR) | CLI_M(TERN_REQ) | CLI_M(TERN_DEALER) |                  \
     CLI_M(TERN_PUB) | CLI_M(TERN_XPUB) | CLI_M(TERN_XSUB))
/* Answer what arrives, from --data, --file, stdin lines or --echo. */
#define CLI_M_REPLIERS (CLI_M(TERN_REP) | CLI_M(TERN_ROUTER))
/* Print what arrives. */
#define CLI_M_RECEIVERS                                                                            \
    (CLI_M(TERN_PULL) | CLI_M(TERN_PAIR) | CLI_M(TERN_REQ) | CLI_M(TERN_REP) |                     \
     CLI_M(TERN_DEALER) | CLI_M(TERN_ROUTER) | CLI_M(TERN_SUB) | CLI_M(TERN_XPUB) |                \
     CLI_M(TERN_XSUB))

enum cli_stats {
    CLI_STATS_NONE,
    CLI_STATS_TEXT, /* --stats: a block per socket */
    CLI_STATS_JSON, /* --stats=json: a JSON line per socket */
};

/* The flags of every socket subcommand; each takes those its mask meets. */
struct cli_conf {
    struct cli_list bind, connect, data, subscribe;
    const char *file, *format, *stats_flag, *routing_id, *capture;
    bool parts, echo, quiet, rate, print_endpoint, events;
    bool relaxed, correlate, lossless, verbose;
    /* -1: not given */
    int64_t count, interval, timeout, rcv_timeout, resend, hwm, linger, wait_peers, wait_subs;
    /* set by cli_conf_parse from the flags above */
    enum cli_format fmt;
    enum cli_stats stats;
};

/* Parses and checks cmd's flags into conf (cleared here to the defaults);
 * nargs as for cli_parse. Returns CLI_CONTINUE or an exit status. */
int cli_conf_parse(const struct cli_cmd *cmd, struct cli_conf *conf, int argc, char **argv,
                   int *nargs);
void cli_conf_free(struct cli_conf *conf);
/* Everything in `tern help CMD` after the description: the flags, the
 * formats for receivers, endpoints and exit statuses. */
void cli_conf_usage(const struct cli_cmd *cmd, FILE *out);

/* The most sockets one run holds: a proxy's frontend, backend and capture. */
#define CLI_RUN_SOCKETS 3

/* One run of a socket subcommand: its context, the signal fd, its sockets
 * and what watches them. Lifecycle: cli_run_start, cli_run_socket for each
 * socket, cli_run_begin, the subcommand's own loop, then cli_run_finish,
 * whichever step failed (it undoes what was done). */
struct cli_run {
    const struct cli_cmd *cmd;
    const struct cli_conf *conf;
    tern_ctx *ctx;
    int sigfd;
    struct cli_rate rate; /* what arrived, counted by cli_run_print */
    bool begun;
    size_t nsocks;
    struct cli_run_sock {
        tern_socket sock;
        int type;
        const char *role;    /* "frontend"...; NULL for a command's one socket */
        tern_socket monitor; /* --events: the PAIR reading its monitor, else id 0 */
    } socks[CLI_RUN_SOCKETS];
    /* --events: a thread prints the monitors' events as they come */
    pthread_t events_thread;
    int events_wake[2]; /* written to stop it */
    bool events_running;
};

/* Takes over signals and opens the context. */
int cli_run_start(struct cli_run *run, const struct cli_cmd *cmd, const struct cli_conf *conf);
/* Opens a socket of type with the flags' options (--hwm, --linger,
 * --subscribe, ...), monitors it for --events, then binds and connects
 * (with --print-endpoint). role names it in --stats and --events when the
 * run has several. */
int cli_run_socket(struct cli_run *run, int type, const char *role, const struct cli_list *bind,
                   const struct cli_list *connect, tern_socket *sockp);
/* Every socket is open: --events output starts. */
int cli_run_begin(struct cli_run *run);
/* Flushes stdout, then sleeps in tern_poll on items[0..n) and the signal fd
 * until one is ready or the clock (tern_clock_ns) reaches wake_ns
 * (UINT64_MAX: no limit). items needs room for n + 1. Returns CLI_CONTINUE
 * or an exit status. */
int cli_run_poll(struct cli_run *run, tern_pollitem *items, size_t n, uint64_t wake_ns);
/* --wait-peers and --wait-subscriptions: waits until sock has that many
 * peers (or subscriptions), bounded by --timeout. Returns CLI_CONTINUE, or
 * the exit status of a timeout, a signal or an error. */
int cli_run_wait_peers(struct cli_run *run, tern_socket sock, int type);
/* Counts an arrival (at now, tern_clock_ns) for --rate and prints it
 * unless --quiet; with_id as for cli_print_msg. */
void cli_run_print(struct cli_run *run, const tern_msg *msg, bool with_id, uint64_t now);
/* Ends the run whose loop returned rc: the arrivals' summary (with --rate,
 * or after a signal), --stats, closing each socket with its linger, the
 * last --events, the context. Returns the exit status. */
int cli_run_finish(struct cli_run *run, int rc);

#endif
