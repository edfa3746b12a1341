/* Runs a fuzz target over saved inputs, for builds without libFuzzer: the
 * checked-in corpora then run as ordinary tests.
 *
 * Usage: fuzz_NAME PATH...  where each PATH is a file or a directory whose
 * regular files (not recursing, skipping dot-files such as .gitkeep) run in
 * name order. A PATH that yields no inputs is an error, so an empty or
 * misspelt corpus fails loudly instead of passing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target; weak so it is NULL when the target lacks it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Present only in sanitizer builds. */
__attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

/* The input being run, reported if the target dies on it. */
static const char *volatile current;

static void say_current(void)
{
    const char *path = current;
    if (path == NULL)
        return;
    /* Only async-signal-safe calls: this may run in a signal handler. */
    static const char msg[] = "replay: died on input ";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    r = write(STDERR_FILENO, path, strlen(path));
    r = write(STDERR_FILENO, "\n", 1);
    (void)r;
}

/* Installed with SA_RESETHAND, so re-raising gets the default action. */
static void on_fatal_signal(int sig)
{
    say_current();
    raise(sig);
}

static void watch_for_crashes(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

    /* Sanitizers report their own crashes and call this back before
     * exiting; leave alone the signals they took, or their report is
     * lost, and catch the rest ourselves. */
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(say_current);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Reads the whole file into a buffer of exactly its size, so the
 * sanitizers catch a target reading one byte too far. */
static int read_file(const char *path, uint8_t **datap, size_t *sizep)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n > 0) {
            len += (size_t)n;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            int saved = errno;
            free(buf);
            close(fd);
            errno = saved;
            return -1;
        }
    }
    close(fd);
    /* Shrink to fit; an empty input still gets a valid pointer. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        errno = ENOMEM;
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    *datap = exact;
    *sizep = len;
    return 0;
}

static int run_file(const char *path)
{
    uint8_t *data;
    size_t size;

    if (read_file(path, &data, &size) != 0) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    current = path;
    LLVMFuzzerTestOneInput(data, size);
    current = NULL;
    free(data);
    return 0;
}

static int not_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Joins dir and name; NULL when out of memory. */
static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s/%s", dir, name);
    return path;
}

/* Returns the number of inputs run, or -1 after printing why. */
static long run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, not_hidden, alphasort);
    long count = 0;

    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n && count >= 0; i++) {
        char *path = join(dir, names[i]->d_name);
        struct stat st;

        if (path == NULL) {
            fprintf(stderr, "replay: out of memory\n");
            count = -1;
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            /* Checked with stat: d_type is not filled in on every file
             * system. Subdirectories and the like are not inputs. */
            count = run_file(path) == 0 ? count + 1 : -1;
        }
        free(path);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 1;
    }
    watch_for_crashes();

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        struct stat st;
        long count;

        if (stat(arg, &st) != 0) {
            fprintf(stderr, "replay: cannot read %s: %s\n", arg, strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode))
            count = run_dir(arg);
        else
            count = run_file(arg) == 0 ? 1 : -1;
        if (count < 0)
            return 1;
        if (count == 0) {
            fprintf(stderr, "replay: no inputs in %s\n", arg);
            return 1;
        }
        printf("replayed %ld inputs from %s\n", count, arg);
    }
    return 0;
}
