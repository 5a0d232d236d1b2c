/*
 * wt_bugcheck.h - asserting that code bug-checks.
 *
 * A bug check or a failed assertion ends the process (abort), so the code
 * runs in a fork()ed child whose stderr is captured; the parent checks that
 * the child died of SIGABRT after printing the expected stop code or text.
 */
#ifndef OPENWSK_TEST_WT_BUGCHECK_H
#define OPENWSK_TEST_WT_BUGCHECK_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wt.h"

/* Runs fn(arg) in a child; returns 1 if it aborted after writing `text`
 * to stderr (a bug check, or an assertion failure). */
static inline int wt_aborts_with(void (*fn)(void *), void *arg, const char *text)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(arg);
        _exit(0); /* returned: no bug check */
    }
    close(fds[1]);
    static char out[65536];
    size_t used = 0;
    ssize_t n;
    /* Read to the end even past the buffer: a child whose report is longer
     * (sanitizer builds print deeper stacks) would otherwise die of SIGPIPE
     * instead of its bug check. */
    char scratch[4096];
    for (;;) {
        if (used < sizeof(out) - 1)
            n = read(fds[0], out + used, sizeof(out) - 1 - used);
        else
            n = read(fds[0], scratch, sizeof(scratch));
        if (n <= 0)
            break;
        if (used < sizeof(out) - 1)
            used += (size_t)n;
    }
    out[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, text) != NULL;
    if (!ok)
        fprintf(stderr, "  child status 0x%x, output: %s\n", status, out);
    return ok;
}

/* Runs fn(arg) in a child; returns 1 if it bug-checked with `code`. */
static inline int wt_bugchecks(void (*fn)(void *), void *arg, unsigned code)
{
    char expect[32];
    snprintf(expect, sizeof(expect), "STOP: 0x%08X", code);
    return wt_aborts_with(fn, arg, expect);
}

#endif /* OPENWSK_TEST_WT_BUGCHECK_H */
