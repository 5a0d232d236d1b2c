/*
 * test_seh.c - the __try/__except/__finally shim of openwsk_seh.h.
 */
#include <ntddk.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wt.h"

/* Runs fn in a child process with stderr captured; returns 1 if the child
 * died of SIGABRT and its stderr contains every string of expect[]. */
static int child_dies_with(void (*fn)(void), const char *const *expect, size_t nexpect)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    char buf[8192];
    size_t used = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + used, sizeof(buf) - 1 - used)) > 0)
        used += (size_t)r;
    buf[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        return 0;
    for (size_t i = 0; i < nexpect; i++)
        if (strstr(buf, expect[i]) == NULL)
            return 0;
    return 1;
}

static void raise_access_violation(void)
{
    ExRaiseStatus(STATUS_ACCESS_VIOLATION);
}

static void raise_is_caught_with_its_code(void)
{
    volatile int after_raise = 0, handled = 0;
    volatile NTSTATUS code = 0;
    __try {
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
        after_raise = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        handled = 1;
        code = GetExceptionCode();
    }
    CHECK_EQ(after_raise, 0);
    CHECK_EQ(handled, 1);
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);

    /* From a called function, and with the filter reading the code. */
    handled = 0;
    __try {
        raise_access_violation();
    } __except (GetExceptionCode() == STATUS_ACCESS_VIOLATION ? EXCEPTION_EXECUTE_HANDLER
                                                               : EXCEPTION_CONTINUE_SEARCH) {
        handled = 1;
        code = _exception_code();
    }
    CHECK_EQ(handled, 1);
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);
}

static void no_raise_skips_the_handler(void)
{
    volatile int body = 0, handled = 0;
    __try {
        body = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        handled = 1;
    }
    CHECK_EQ(body, 1);
    CHECK_EQ(handled, 0);
}

static void continue_search_reaches_outer_frame(void)
{
    volatile int inner_handler = 0, after_inner = 0, outer_handler = 0, inner_filter_ran = 0;
    volatile NTSTATUS code = 0;
    __try {
        __try {
            ExRaiseStatus(STATUS_INVALID_PARAMETER);
        } __except ((inner_filter_ran = 1, EXCEPTION_CONTINUE_SEARCH)) {
            inner_handler = 1;
        }
        after_inner = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer_handler = 1;
        code = GetExceptionCode();
    }
    CHECK_EQ(inner_filter_ran, 1);
    CHECK_EQ(inner_handler, 0);
    CHECK_EQ(after_inner, 0);
    CHECK_EQ(outer_handler, 1);
    CHECK_EQ(code, STATUS_INVALID_PARAMETER);
}

static void inner_frame_handles_and_outer_is_untouched(void)
{
    volatile int inner_handler = 0, after_inner = 0, outer_handler = 0;
    __try {
        __try {
            ExRaiseStatus(STATUS_INVALID_PARAMETER);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            inner_handler = 1;
        }
        after_inner = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer_handler = 1;
    }
    CHECK_EQ(inner_handler, 1);
    CHECK_EQ(after_inner, 1);
    CHECK_EQ(outer_handler, 0);
}

static int return_from_inside_try(void)
{
    __try {
        return 42;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        return -1;
    }
    return 0;
}

static void return_inside_try_pops_the_frame(void)
{
    volatile int outer_handler = 0, value = 0;
    __try {
        value = return_from_inside_try();
        /* A stale frame left by the return would receive this raise (and
         * longjmp into a dead stack frame). */
        ExRaiseStatus(STATUS_UNSUCCESSFUL);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer_handler = 1;
    }
    CHECK_EQ(value, 42);
    CHECK_EQ(outer_handler, 1);

    /* Same with goto and break out of a loop. */
    volatile int loops = 0;
    outer_handler = 0;
    __try {
        for (volatile int i = 0; i < 3; i++) {
            __try {
                loops++;
                if (i == 1)
                    goto out_of_try;
            } __except (EXCEPTION_EXECUTE_HANDLER) {
            }
        }
    out_of_try:
        ExRaiseStatus(STATUS_UNSUCCESSFUL);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer_handler = 1;
    }
    CHECK_EQ(loops, 2);
    CHECK_EQ(outer_handler, 1);
}

static void leave_exits_the_body(void)
{
    volatile int before = 0, after = 0, handled = 0;
    __try {
        before = 1;
        __leave;
        after = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        handled = 1;
    }
    CHECK_EQ(before, 1);
    CHECK_EQ(after, 0);
    CHECK_EQ(handled, 0);

    volatile int finally_ran = 0;
    after = 0;
    __try {
        __leave;
        after = 1;
    } __finally {
        finally_ran = 1;
    }
    CHECK_EQ(after, 0);
    CHECK_EQ(finally_ran, 1);
}

static void finally_runs_on_normal_exit(void)
{
    volatile int body = 0, finally_ran = 0;
    __try {
        body = 1;
    } __finally {
        finally_ran = body + 1;
    }
    CHECK_EQ(body, 1);
    CHECK_EQ(finally_ran, 2);
}

static void finally_passes_raise_to_outer_frame(void)
{
    volatile int handled = 0;
    volatile NTSTATUS code = 0;
    __try {
        __try {
            ExRaiseStatus(STATUS_NOT_SUPPORTED);
        } __finally {
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        handled = 1;
        code = GetExceptionCode();
    }
    CHECK_EQ(handled, 1);
    CHECK_EQ(code, STATUS_NOT_SUPPORTED);
}

static void many_raises_in_sequence(void)
{
    volatile int caught = 0;
    for (volatile int i = 0; i < 1000; i++) {
        __try {
            ExRaiseStatus(STATUS_TIMEOUT);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            caught++;
        }
    }
    CHECK_EQ(caught, 1000);
}

static void try_except_keywords(void)
{
    volatile int handled = 0;
    try {
        ExRaiseStatus(STATUS_CANCELLED);
    } except (EXCEPTION_EXECUTE_HANDLER) {
        handled = GetExceptionCode() == STATUS_CANCELLED;
    }
    CHECK_EQ(handled, 1);
}

static void uncaught_raise_child(void)
{
    ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
}

static void uncaught_after_continue_search_child(void)
{
    __try {
        ExRaiseStatus(STATUS_ACCESS_VIOLATION);
    } __except (EXCEPTION_CONTINUE_SEARCH) {
    }
}

static void uncaught_raise_bug_checks(void)
{
    static const char *const expect[] = {"STOP: 0x0000001E", "0x00000000C000009A"};
    CHECK(child_dies_with(uncaught_raise_child, expect, 2));
    static const char *const expect2[] = {"STOP: 0x0000001E", "0x00000000C0000005"};
    CHECK(child_dies_with(uncaught_after_continue_search_child, expect2, 2));
}

int main(void)
{
    WT_RUN(raise_is_caught_with_its_code);
    WT_RUN(no_raise_skips_the_handler);
    WT_RUN(continue_search_reaches_outer_frame);
    WT_RUN(inner_frame_handles_and_outer_is_untouched);
    WT_RUN(return_inside_try_pops_the_frame);
    WT_RUN(leave_exits_the_body);
    WT_RUN(finally_runs_on_normal_exit);
    WT_RUN(finally_passes_raise_to_outer_frame);
    WT_RUN(many_raises_in_sequence);
    WT_RUN(try_except_keywords);
    WT_RUN(uncaught_raise_bug_checks);
    return wt_finish();
}
