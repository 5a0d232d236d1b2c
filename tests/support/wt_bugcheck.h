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

/* Runs fn(arg) in a fork()ed child with its stderr captured in out (cap
 * bytes, NUL-terminated; what does not fit is read and dropped, so that a
 * long report does not kill the child with SIGPIPE before its bug check).
 * Returns the child's wait status, or -1 if no child could be started. */
static inline int wt_child_output(void (*fn)(void *), void *arg, char *out, size_t cap)
{
    int fds[2];
    out[0] = '\0';
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(arg);
        _exit(0); /* returned: no bug check */
    }
    close(fds[1]);
    size_t used = 0;
    char scratch[4096];
    for (;;) {
        ssize_t n = used + 1 < cap ? read(fds[0], out + used, cap - 1 - used) : read(fds[0], scratch, sizeof(scratch));
        if (n <= 0)
            break;
        if (used + 1 < cap)
            used += (size_t)n;
    }
    out[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

/* Runs fn(arg) in a child; returns 1 if it aborted after writing `text`
 * to stderr (a bug check, or an assertion failure). */
static inline int wt_aborts_with(void (*fn)(void *), void *arg, const char *text)
{
    static char out[65536];
    int status = wt_child_output(fn, arg, out, sizeof(out));
    int ok = status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, text) != NULL;
    if (!ok)
        fprintf(stderr, "  child status 0x%x, output: %s\n", status, out);
    return ok;
}

/* Runs fn(arg) in a child; returns 1 if it returned with no failed CHECK
 * (its stderr is left alone). */
static inline int wt_runs_clean(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        fn(arg);
        if (wt_case_failed)
            fprintf(stderr, "  (a check in the child failed: see above)\n");
        _exit(wt_case_failed ? 3 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  child status 0x%x\n", status);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Runs fn(arg) in a child; returns 1 if it bug-checked with `code`. */
static inline int wt_bugchecks(void (*fn)(void *), void *arg, unsigned code)
{
    char expect[32];
    snprintf(expect, sizeof(expect), "STOP: 0x%08X", code);
    return wt_aborts_with(fn, arg, expect);
}

#endif /* OPENWSK_TEST_WT_BUGCHECK_H */
