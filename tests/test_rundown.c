/*
 * test_rundown.c - run-down protection: acquire/release, the wait blocking
 * until the last release, failure after run-down, re-initialization, and a
 * tear-down race checked by ThreadSanitizer.
 */
#include <ntddk.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wt.h"

#define THREADS 4

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int flag_get(int *f)
{
    return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void flag_set(int *f, int v)
{
    __atomic_store_n(f, v, __ATOMIC_RELEASE);
}

static void acquire_and_release(void)
{
    EX_RUNDOWN_REF ref;
    memset(&ref, 0xCC, sizeof(ref));
    ExInitializeRundownProtection(&ref);
    CHECK_EQ(ref.Count, 0);
    CHECK(ExAcquireRundownProtection(&ref));
    CHECK(ExAcquireRundownProtection(&ref));
    CHECK_EQ(ref.Count, 4); /* references count in units of 2 */
    ExReleaseRundownProtection(&ref);
    ExReleaseRundownProtection(&ref);
    CHECK_EQ(ref.Count, 0);

    CHECK(ExAcquireRundownProtectionEx(&ref, 3));
    CHECK_EQ(ref.Count, 6);
    ExReleaseRundownProtectionEx(&ref, 2);
    CHECK_EQ(ref.Count, 2);
    ExReleaseRundownProtection(&ref);
    CHECK_EQ(ref.Count, 0);
}

static void wait_without_references_returns_at_once(void)
{
    EX_RUNDOWN_REF ref;
    ExInitializeRundownProtection(&ref);
    ExWaitForRundownProtectionRelease(&ref);
    CHECK_EQ(ref.Count, 1); /* EX_RUNDOWN_ACTIVE */
    CHECK(!ExAcquireRundownProtection(&ref));
    CHECK(!ExAcquireRundownProtectionEx(&ref, 2));
    CHECK_EQ(ref.Count, 1);
    ExRundownCompleted(&ref);
    CHECK_EQ(ref.Count, 1);
    CHECK(!ExAcquireRundownProtection(&ref));
}

typedef struct waiter {
    EX_RUNDOWN_REF *ref;
    int done;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    ExWaitForRundownProtectionRelease(w->ref);
    flag_set(&w->done, 1);
    return NULL;
}

static void wait_blocks_until_last_release(void)
{
    EX_RUNDOWN_REF ref;
    ExInitializeRundownProtection(&ref);
    CHECK(ExAcquireRundownProtection(&ref));
    CHECK(ExAcquireRundownProtectionEx(&ref, 2));

    waiter w = {&ref, 0};
    pthread_t t;
    pthread_create(&t, NULL, wait_thread, &w);
    sleep_ms(20);
    CHECK_EQ(flag_get(&w.done), 0);
    /* Run-down has started: new acquires fail, existing ones stay valid. */
    CHECK(!ExAcquireRundownProtection(&ref));
    ExReleaseRundownProtectionEx(&ref, 2);
    sleep_ms(20);
    CHECK_EQ(flag_get(&w.done), 0);
    ExReleaseRundownProtection(&ref);
    pthread_join(t, NULL);
    CHECK_EQ(w.done, 1);
    CHECK_EQ(ref.Count, 1);
    CHECK(!ExAcquireRundownProtection(&ref));
}

static void reinitialize_makes_it_usable_again(void)
{
    EX_RUNDOWN_REF ref;
    ExInitializeRundownProtection(&ref);
    ExWaitForRundownProtectionRelease(&ref);
    ExRundownCompleted(&ref);
    CHECK(!ExAcquireRundownProtection(&ref));
    ExReInitializeRundownProtection(&ref);
    CHECK_EQ(ref.Count, 0);
    CHECK(ExAcquireRundownProtection(&ref));
    ExReleaseRundownProtection(&ref);

    /* And it can be run down a second time. */
    CHECK(ExAcquireRundownProtection(&ref));
    waiter w = {&ref, 0};
    pthread_t t;
    pthread_create(&t, NULL, wait_thread, &w);
    sleep_ms(10);
    CHECK_EQ(flag_get(&w.done), 0);
    ExReleaseRundownProtection(&ref);
    pthread_join(t, NULL);
    CHECK_EQ(w.done, 1);
    CHECK(!ExAcquireRundownProtection(&ref));
}

/* Threads use a plainly accessed object while they hold a reference; the
 * main thread tears it down after the wait.  ThreadSanitizer reports a race
 * unless every release happens before the wait returns. */
static EX_RUNDOWN_REF race_ref;
static long object_value;
static int object_alive;
static int inside;
static int failed_uses;
static long uses;

static int started;

static void *user_thread(void *arg)
{
    (void)arg;
    long mine = 0;
    while (ExAcquireRundownProtection(&race_ref)) {
        if (mine == 0)
            __atomic_add_fetch(&started, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&inside, 1, __ATOMIC_RELAXED);
        if (!object_alive || object_value != 12345)
            __atomic_add_fetch(&failed_uses, 1, __ATOMIC_RELAXED);
        mine++;
        __atomic_sub_fetch(&inside, 1, __ATOMIC_RELAXED);
        ExReleaseRundownProtection(&race_ref);
        if ((mine & 255) == 0)
            sched_yield();
    }
    __atomic_add_fetch(&uses, mine, __ATOMIC_RELAXED);
    return NULL;
}

static void teardown_race(void)
{
    pthread_t t[THREADS];
    ExInitializeRundownProtection(&race_ref);
    object_value = 12345;
    object_alive = 1;
    inside = 0;
    failed_uses = 0;
    uses = 0;
    started = 0;
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, user_thread, NULL);
    /* Run down while every thread is busy using the object. */
    for (int i = 0; i < 2000 && __atomic_load_n(&started, __ATOMIC_RELAXED) < THREADS; i++)
        sleep_ms(1);
    CHECK_EQ(__atomic_load_n(&started, __ATOMIC_RELAXED), THREADS);
    sleep_ms(5);
    ExWaitForRundownProtectionRelease(&race_ref);
    CHECK_EQ(__atomic_load_n(&inside, __ATOMIC_RELAXED), 0);
    object_alive = 0; /* "free" the object */
    object_value = 0;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(failed_uses, 0);
    CHECK(uses > 0);
    CHECK_EQ(race_ref.Count, 1);
}

/* ---- misuse -------------------------------------------------------- */

static int child_dies_with(void (*fn)(void), const char *expect)
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
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, expect) != NULL;
}

static void over_release_child(void)
{
    EX_RUNDOWN_REF ref;
    ExInitializeRundownProtection(&ref);
    ExAcquireRundownProtection(&ref);
    ExReleaseRundownProtectionEx(&ref, 2);
}

static void over_release_asserts(void)
{
    CHECK(child_dies_with(over_release_child, "Assertion failed"));
}

int main(void)
{
    /* Forks first, while the process is still single-threaded. */
    WT_RUN(over_release_asserts);
    WT_RUN(acquire_and_release);
    WT_RUN(wait_without_references_returns_at_once);
    WT_RUN(wait_blocks_until_last_release);
    WT_RUN(reinitialize_makes_it_usable_again);
    WT_RUN(teardown_race);
    return wt_finish();
}
