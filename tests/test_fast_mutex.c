/*
 * test_fast_mutex.c - FAST_MUTEX / KGUARDED_MUTEX: IRQL effects, the Count
 * convention, try-acquire, the Unsafe variants, blocking and mutual
 * exclusion, misuse bug checks.
 */
#include <ntddk.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wt.h"

#define THREADS 4
#define ITERATIONS 100000

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

static int flag_wait(int *f, int v)
{
    for (int i = 0; i < 2000; i++) {
        if (flag_get(f) == v)
            return 1;
        sleep_ms(1);
    }
    return flag_get(f) == v;
}

static void acquire_raises_to_apc_and_restores(void)
{
    FAST_MUTEX m;
    memset(&m, 0xCC, sizeof(m));
    ExInitializeFastMutex(&m);
    CHECK_EQ(m.Count, 1);
    CHECK(m.Owner == NULL);
    CHECK_EQ(m.Contention, 0);
    CHECK_EQ(m.Event.Header.Type, EventSynchronizationObject);
    CHECK_EQ(m.Event.Header.SignalState, 0);

    ExAcquireFastMutex(&m);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    CHECK_EQ(m.OldIrql, PASSIVE_LEVEL);
    CHECK(m.Count != 1);
    CHECK(m.Owner != NULL);
    ExReleaseFastMutex(&m);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK_EQ(m.Count, 1);
    CHECK(m.Owner == NULL);

    /* Acquired at APC_LEVEL, the IRQL stays APC_LEVEL afterwards. */
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    KeAcquireGuardedMutex(&m);
    CHECK_EQ(m.OldIrql, APC_LEVEL);
    KeReleaseGuardedMutex(&m);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(old);
}

static void unsafe_variants_leave_irql_alone(void)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    ExAcquireFastMutexUnsafe(&m);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    CHECK_EQ(m.Count, 0);
    CHECK(m.Owner != NULL);
    ExReleaseFastMutexUnsafe(&m);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    CHECK_EQ(m.Count, 1);
    KeLowerIrql(old);

    /* Also usable at PASSIVE_LEVEL (inside a critical region on Windows). */
    ExAcquireFastMutexUnsafe(&m);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    ExReleaseFastMutexUnsafe(&m);
    CHECK_EQ(m.Count, 1);
}

typedef struct holder {
    FAST_MUTEX *m;
    int acquired;
    int release;
    int released;
} holder;

static void *holder_thread(void *arg)
{
    holder *h = arg;
    ExAcquireFastMutex(h->m);
    flag_set(&h->acquired, 1);
    while (!flag_get(&h->release))
        sleep_ms(1);
    flag_set(&h->released, 1);
    ExReleaseFastMutex(h->m);
    return NULL;
}

static void try_acquire(void)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    CHECK(ExTryToAcquireFastMutex(&m));
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    CHECK_EQ(m.OldIrql, PASSIVE_LEVEL);
    ExReleaseFastMutex(&m);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);

    /* Held by another thread: FALSE, and the IRQL is unchanged. */
    pthread_t t;
    holder h = {&m, 0, 0, 0};
    pthread_create(&t, NULL, holder_thread, &h);
    CHECK(flag_wait(&h.acquired, 1));
    CHECK(!KeTryToAcquireGuardedMutex(&m));
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    flag_set(&h.release, 1);
    pthread_join(t, NULL);
    CHECK(ExTryToAcquireFastMutex(&m));
    ExReleaseFastMutex(&m);
    CHECK_EQ(m.Count, 1);
}

typedef struct blocked_waiter {
    FAST_MUTEX *m;
    holder *h;
    int acquired;
    int saw_release; /* the holder had released when we got the mutex */
    int irql;
} blocked_waiter;

static void *blocked_waiter_thread(void *arg)
{
    blocked_waiter *w = arg;
    ExAcquireFastMutex(w->m);
    w->saw_release = flag_get(&w->h->released);
    w->irql = KeGetCurrentIrql();
    flag_set(&w->acquired, 1);
    ExReleaseFastMutex(w->m);
    return NULL;
}

static void acquire_blocks_until_release(void)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    pthread_t t, tw;
    holder h = {&m, 0, 0, 0};
    pthread_create(&t, NULL, holder_thread, &h);
    CHECK(flag_wait(&h.acquired, 1));
    blocked_waiter w = {&m, &h, 0, 0, -1};
    pthread_create(&tw, NULL, blocked_waiter_thread, &w);
    /* The waiter records contention once it stops spinning and goes to
     * sleep on the futex; it must stay blocked until the holder lets go. */
    for (int i = 0; i < 2000 && __atomic_load_n(&m.Contention, __ATOMIC_RELAXED) == 0; i++)
        sleep_ms(1);
    CHECK(__atomic_load_n(&m.Contention, __ATOMIC_RELAXED) >= 1);
    sleep_ms(10);
    CHECK_EQ(flag_get(&w.acquired), 0);
    flag_set(&h.release, 1);
    pthread_join(t, NULL);
    pthread_join(tw, NULL);
    CHECK_EQ(w.acquired, 1);
    CHECK_EQ(w.saw_release, 1);
    CHECK_EQ(w.irql, APC_LEVEL);
    CHECK_EQ(m.Count, 1);
    CHECK(m.Owner == NULL);
}

static FAST_MUTEX counter_mutex;
static long plain_counter;
static int irql_violations;

static void *increment_thread(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        if (id & 1) {
            ExAcquireFastMutex(&counter_mutex);
            if (KeGetCurrentIrql() != APC_LEVEL)
                __atomic_add_fetch(&irql_violations, 1, __ATOMIC_RELAXED);
            plain_counter++;
            ExReleaseFastMutex(&counter_mutex);
        } else {
            ExAcquireFastMutexUnsafe(&counter_mutex);
            plain_counter++;
            ExReleaseFastMutexUnsafe(&counter_mutex);
        }
    }
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        __atomic_add_fetch(&irql_violations, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void mutual_exclusion(void)
{
    pthread_t t[THREADS];
    ExInitializeFastMutex(&counter_mutex);
    plain_counter = 0;
    irql_violations = 0;
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, increment_thread, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(plain_counter, (long)THREADS * ITERATIONS);
    CHECK_EQ(irql_violations, 0);
    CHECK_EQ(counter_mutex.Count, 1);
    CHECK(counter_mutex.Owner == NULL);
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

static void acquire_at_dispatch_child(void)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    KeRaiseIrqlToDpcLevel();
    ExAcquireFastMutex(&m);
}

static void recursive_acquire_child(void)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    ExAcquireFastMutex(&m);
    ExAcquireFastMutexUnsafe(&m);
}

static void misuse_bug_checks(void)
{
    CHECK(child_dies_with(acquire_at_dispatch_child, "STOP: 0x00000009"));
    CHECK(child_dies_with(recursive_acquire_child, "STOP: 0x000000BF"));
}

int main(void)
{
    /* Forks first, while the process is still single-threaded. */
    WT_RUN(misuse_bug_checks);
    WT_RUN(acquire_raises_to_apc_and_restores);
    WT_RUN(unsafe_variants_leave_irql_alone);
    WT_RUN(try_acquire);
    WT_RUN(acquire_blocks_until_release);
    WT_RUN(mutual_exclusion);
    return wt_finish();
}
