/* The tern command's shared pieces: the subcommand table, flag parsing,
 * message sources and output formats, signals, rate meters and error
 * reporting. Subcommands use only <tern/tern.h> and this header.
 *
 * Everything here runs on the command's one thread; nothing is thread-safe. */
#ifndef TERN_CLI_H
#define TERN_CLI_H

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
    int variant;         /* family-specific: the socket type for push/pull/pair */
    /* argv[0] is the subcommand's name; returns an exit status. */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
    /* Writes the full text of `tern help NAME`. */
    void (*usage)(const struct cli_cmd *cmd, FILE *out);
};

/* Every subcommand, in `tern help` order. Adding one: define
 * `const struct cli_cmd cli_cmd_NAME` in its file and list it here. */
#define CLI_COMMANDS(X) X(push) X(pull) X(pair) X(help) X(version)

#define CLI_DECLARE(name) extern const struct cli_cmd cli_cmd_##name;
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

/* ---- flags ------------------------------------------------------------ */

enum cli_kind {
    CLI_BOOL, /* bool: set when present */
    CLI_STR,  /* const char *: the last one given wins */
    CLI_LIST, /* struct cli_list: every value, in order */
    CLI_INT,  /* int64_t within [min, max] */
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
    unsigned mask;    /* which subcommands of a family take it */
    const char *arg;  /* value placeholder for help ("EP"); NULL for CLI_BOOL */
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
void cli_print_msg(FILE *out, const tern_msg *msg, enum cli_format fmt);

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

#endif
