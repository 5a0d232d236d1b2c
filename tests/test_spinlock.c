/*
 * test_spinlock.c - KSPIN_LOCK (plain and in-stack queued), EX_SPIN_LOCK
 * and EX_PUSH_LOCK: IRQL effects, try/test semantics, mutual exclusion
 * under contention, shared versus exclusive, misuse bug checks.
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

/* Waits up to ~2 s for *f to become v. */
static int flag_wait(int *f, int v)
{
    for (int i = 0; i < 2000; i++) {
        if (flag_get(f) == v)
            return 1;
        sleep_ms(1);
    }
    return flag_get(f) == v;
}

static void run_threads(void *(*fn)(void *), void *arg, int n)
{
    pthread_t t[THREADS * 2];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, arg);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* ---- KSPIN_LOCK ---------------------------------------------------- */

static void spin_lock_raises_to_dispatch(void)
{
    KSPIN_LOCK lock;
    KIRQL old = 0xFF;
    KeInitializeSpinLock(&lock);
    CHECK_EQ(lock, 0);
    CHECK(KeTestSpinLock(&lock));
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeAcquireSpinLock(&lock, &old);
    CHECK_EQ(old, PASSIVE_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(!KeTestSpinLock(&lock));
    KeReleaseSpinLock(&lock, old);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK(KeTestSpinLock(&lock));

    /* From APC_LEVEL the old IRQL is APC_LEVEL and is restored. */
    KIRQL passive;
    KeRaiseIrql(APC_LEVEL, &passive);
    old = KeAcquireSpinLockRaiseToDpc(&lock);
    CHECK_EQ(old, APC_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(passive);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void at_dpc_level_leaves_irql_alone(void)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KIRQL old = KeRaiseIrqlToDpcLevel();
    KeAcquireSpinLockAtDpcLevel(&lock);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(!KeTestSpinLock(&lock));
    KeReleaseSpinLockFromDpcLevel(&lock);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(KeTestSpinLock(&lock));
    CHECK(KeTryToAcquireSpinLockAtDpcLevel(&lock));
    CHECK(!KeTestSpinLock(&lock));
    KeReleaseSpinLockFromDpcLevel(&lock);
    KeLowerIrql(old);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static int try_result;

static void *try_acquire_thread(void *arg)
{
    PKSPIN_LOCK lock = arg;
    KIRQL old = KeRaiseIrqlToDpcLevel();
    BOOLEAN got = KeTryToAcquireSpinLockAtDpcLevel(lock);
    if (got)
        KeReleaseSpinLockFromDpcLevel(lock);
    KeLowerIrql(old);
    __atomic_store_n(&try_result, got ? 1 : 0, __ATOMIC_RELEASE);
    return NULL;
}

static void try_acquire_fails_while_held(void)
{
    KSPIN_LOCK lock;
    KIRQL old;
    pthread_t t;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    try_result = -1;
    pthread_create(&t, NULL, try_acquire_thread, &lock);
    pthread_join(t, NULL);
    CHECK_EQ(try_result, 0);
    KeReleaseSpinLock(&lock, old);
    try_result = -1;
    pthread_create(&t, NULL, try_acquire_thread, &lock);
    pthread_join(t, NULL);
    CHECK_EQ(try_result, 1);
}

static void queued_lock_handle(void)
{
    KSPIN_LOCK lock;
    KLOCK_QUEUE_HANDLE h;
    KeInitializeSpinLock(&lock);
    memset(&h, 0xCC, sizeof(h));
    KeAcquireInStackQueuedSpinLock(&lock, &h);
    CHECK(h.LockQueue.Lock == &lock);
    CHECK(h.LockQueue.Next == NULL);
    CHECK_EQ(h.OldIrql, PASSIVE_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(!KeTestSpinLock(&lock));
    KeReleaseInStackQueuedSpinLock(&h);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK(KeTestSpinLock(&lock));

    KIRQL old = KeRaiseIrqlToDpcLevel();
    KeAcquireInStackQueuedSpinLockAtDpcLevel(&lock, &h);
    CHECK(h.LockQueue.Lock == &lock);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(!KeTestSpinLock(&lock));
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&h);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(KeTestSpinLock(&lock));
    KeLowerIrql(old);
}

static KSPIN_LOCK counter_lock;
static long plain_counter;
static int irql_violations;

static void *spin_increment_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        KIRQL old;
        KeAcquireSpinLock(&counter_lock, &old);
        plain_counter++;
        if (KeGetCurrentIrql() != DISPATCH_LEVEL)
            __atomic_add_fetch(&irql_violations, 1, __ATOMIC_RELAXED);
        KeReleaseSpinLock(&counter_lock, old);
    }
    return NULL;
}

static void *queued_increment_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        KLOCK_QUEUE_HANDLE h;
        KeAcquireInStackQueuedSpinLock(&counter_lock, &h);
        plain_counter++;
        KeReleaseInStackQueuedSpinLock(&h);
    }
    return NULL;
}

static void spin_lock_mutual_exclusion(void)
{
    KeInitializeSpinLock(&counter_lock);
    plain_counter = 0;
    irql_violations = 0;
    run_threads(spin_increment_thread, NULL, THREADS);
    CHECK_EQ(plain_counter, (long)THREADS * ITERATIONS);
    CHECK_EQ(irql_violations, 0);
    CHECK(KeTestSpinLock(&counter_lock));

    plain_counter = 0;
    run_threads(queued_increment_thread, NULL, THREADS);
    CHECK_EQ(plain_counter, (long)THREADS * ITERATIONS);
    CHECK(KeTestSpinLock(&counter_lock));
}

/* ---- EX_SPIN_LOCK -------------------------------------------------- */

static void ex_spin_lock_irql(void)
{
    EX_SPIN_LOCK lock = 0;
    KIRQL old = ExAcquireSpinLockShared(&lock);
    CHECK_EQ(old, PASSIVE_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(lock != 0);
    ExReleaseSpinLockShared(&lock, old);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK_EQ(lock, 0);

    old = ExAcquireSpinLockExclusive(&lock);
    CHECK_EQ(old, PASSIVE_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    CHECK(lock != 0);
    ExReleaseSpinLockExclusive(&lock, old);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK_EQ(lock, 0);

    old = KeRaiseIrqlToDpcLevel();
    ExAcquireSpinLockSharedAtDpcLevel(&lock);
    ExReleaseSpinLockSharedFromDpcLevel(&lock);
    ExAcquireSpinLockExclusiveAtDpcLevel(&lock);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    ExReleaseSpinLockExclusiveFromDpcLevel(&lock);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
    CHECK_EQ(lock, 0);
}

typedef struct holder {
    EX_SPIN_LOCK *lock;
    int exclusive;
    int acquired; /* set once the lock is held */
    int release;  /* set by the main thread to make the holder release */
} holder;

static void *ex_spin_holder_thread(void *arg)
{
    holder *h = arg;
    KIRQL old = h->exclusive ? ExAcquireSpinLockExclusive(h->lock) : ExAcquireSpinLockShared(h->lock);
    flag_set(&h->acquired, 1);
    while (!flag_get(&h->release))
        sleep_ms(1);
    if (h->exclusive)
        ExReleaseSpinLockExclusive(h->lock, old);
    else
        ExReleaseSpinLockShared(h->lock, old);
    return NULL;
}

static void ex_spin_lock_shared_vs_exclusive(void)
{
    EX_SPIN_LOCK lock = 0;
    pthread_t t;

    /* Two shared holders at once. */
    KIRQL old = ExAcquireSpinLockShared(&lock);
    holder reader = {&lock, 0, 0, 0};
    pthread_create(&t, NULL, ex_spin_holder_thread, &reader);
    CHECK(flag_wait(&reader.acquired, 1));
    flag_set(&reader.release, 1);
    pthread_join(t, NULL);

    /* An exclusive acquirer waits for the shared holder. */
    holder writer = {&lock, 1, 0, 0};
    pthread_create(&t, NULL, ex_spin_holder_thread, &writer);
    sleep_ms(20);
    CHECK_EQ(flag_get(&writer.acquired), 0);
    ExReleaseSpinLockShared(&lock, old);
    CHECK(flag_wait(&writer.acquired, 1));

    /* While the writer holds it, a shared acquire waits too. */
    holder reader2 = {&lock, 0, 0, 0};
    pthread_t t2;
    pthread_create(&t2, NULL, ex_spin_holder_thread, &reader2);
    sleep_ms(20);
    CHECK_EQ(flag_get(&reader2.acquired), 0);
    flag_set(&writer.release, 1);
    pthread_join(t, NULL);
    CHECK(flag_wait(&reader2.acquired, 1));
    flag_set(&reader2.release, 1);
    pthread_join(t2, NULL);
    CHECK_EQ(lock, 0);
}

static void ex_spin_lock_try_convert(void)
{
    EX_SPIN_LOCK lock = 0;
    pthread_t t;

    /* Sole shared holder: converts, and is then exclusive. */
    KIRQL old = ExAcquireSpinLockShared(&lock);
    CHECK(ExTryConvertSharedSpinLockExclusive(&lock));
    holder reader = {&lock, 0, 0, 0};
    pthread_create(&t, NULL, ex_spin_holder_thread, &reader);
    sleep_ms(20);
    CHECK_EQ(flag_get(&reader.acquired), 0); /* kept out by the converted lock */
    ExReleaseSpinLockExclusive(&lock, old);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK(flag_wait(&reader.acquired, 1));

    /* With a second shared holder the conversion fails and the caller
     * keeps its shared hold. */
    old = ExAcquireSpinLockShared(&lock);
    CHECK(!ExTryConvertSharedSpinLockExclusive(&lock));
    flag_set(&reader.release, 1);
    pthread_join(t, NULL);
    ExReleaseSpinLockShared(&lock, old);
    CHECK_EQ(lock, 0);
}

static EX_SPIN_LOCK rw_lock;
static long rw_a, rw_b;
static int rw_torn;

static void *ex_spin_writer_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS / 2; i++) {
        KIRQL old = ExAcquireSpinLockExclusive(&rw_lock);
        rw_a++;
        rw_b++;
        ExReleaseSpinLockExclusive(&rw_lock, old);
    }
    return NULL;
}

static void *ex_spin_reader_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS / 2; i++) {
        KIRQL old = ExAcquireSpinLockShared(&rw_lock);
        if (rw_a != rw_b)
            __atomic_add_fetch(&rw_torn, 1, __ATOMIC_RELAXED);
        ExReleaseSpinLockShared(&rw_lock, old);
    }
    return NULL;
}

static void *ex_spin_mixed_thread(void *arg)
{
    return ((long)arg & 1) ? ex_spin_reader_thread(NULL) : ex_spin_writer_thread(NULL);
}

static void ex_spin_lock_readers_and_writers(void)
{
    pthread_t t[THREADS];
    rw_lock = 0;
    rw_a = rw_b = 0;
    rw_torn = 0;
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, ex_spin_mixed_thread, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(rw_a, (long)(THREADS / 2) * (ITERATIONS / 2));
    CHECK_EQ(rw_b, rw_a);
    CHECK_EQ(rw_torn, 0);
    CHECK_EQ(rw_lock, 0);
}

/* ---- EX_PUSH_LOCK -------------------------------------------------- */

typedef struct push_holder {
    EX_PUSH_LOCK *lock;
    int exclusive;
    int acquired;
} push_holder;

static void *push_acquire_thread(void *arg)
{
    push_holder *h = arg;
    if (h->exclusive)
        ExAcquirePushLockExclusive(h->lock);
    else
        ExAcquirePushLockShared(h->lock);
    flag_set(&h->acquired, 1);
    if (h->exclusive)
        ExReleasePushLockExclusive(h->lock);
    else
        ExReleasePushLockShared(h->lock);
    return NULL;
}

static void push_lock_blocks_and_wakes(void)
{
    EX_PUSH_LOCK lock;
    pthread_t t1, t2;
    ExInitializePushLock(&lock);
    CHECK_EQ(lock.Value, 0);

    /* Exclusive holder: a sharer and a writer both wait (long enough to go
     * to sleep on the futex) and are woken by the release. */
    ExAcquirePushLockExclusive(&lock);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    push_holder r = {&lock, 0, 0}, w = {&lock, 1, 0};
    pthread_create(&t1, NULL, push_acquire_thread, &r);
    pthread_create(&t2, NULL, push_acquire_thread, &w);
    sleep_ms(30);
    CHECK_EQ(flag_get(&r.acquired), 0);
    CHECK_EQ(flag_get(&w.acquired), 0);
    ExReleasePushLockExclusive(&lock);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_EQ(r.acquired, 1);
    CHECK_EQ(w.acquired, 1);
    CHECK_EQ(lock.Value, 0);

    /* Shared holders coexist; a writer waits for the last one. */
    ExAcquirePushLockShared(&lock);
    push_holder r2 = {&lock, 0, 0};
    pthread_create(&t1, NULL, push_acquire_thread, &r2);
    pthread_join(t1, NULL);
    CHECK_EQ(r2.acquired, 1);
    ExAcquirePushLockShared(&lock); /* second shared hold, no writer waiting */
    push_holder w2 = {&lock, 1, 0};
    pthread_create(&t2, NULL, push_acquire_thread, &w2);
    sleep_ms(30);
    CHECK_EQ(flag_get(&w2.acquired), 0);
    ExReleasePushLockShared(&lock);
    sleep_ms(10);
    CHECK_EQ(flag_get(&w2.acquired), 0); /* one shared hold left */
    ExReleasePushLockShared(&lock);
    pthread_join(t2, NULL);
    CHECK_EQ(w2.acquired, 1);
    CHECK_EQ(lock.Value, 0);
}

static EX_PUSH_LOCK push_counter_lock;

static void *push_increment_thread(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        if ((id & 1) && (i & 3) == 0) {
            ExAcquirePushLockShared(&push_counter_lock);
            if (rw_a != rw_b)
                __atomic_add_fetch(&rw_torn, 1, __ATOMIC_RELAXED);
            ExReleasePushLockShared(&push_counter_lock);
        } else {
            ExAcquirePushLockExclusive(&push_counter_lock);
            rw_a++;
            rw_b++;
            ExReleasePushLockExclusive(&push_counter_lock);
        }
    }
    return NULL;
}

static void push_lock_mutual_exclusion(void)
{
    pthread_t t[THREADS];
    ExInitializePushLock(&push_counter_lock);
    rw_a = rw_b = 0;
    rw_torn = 0;
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, push_increment_thread, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* Even threads only write; odd ones read on every fourth round. */
    long expected = (long)(THREADS / 2) * ITERATIONS + (long)(THREADS / 2) * (ITERATIONS - ITERATIONS / 4);
    CHECK_EQ(rw_a, expected);
    CHECK_EQ(rw_b, expected);
    CHECK_EQ(rw_torn, 0);
    CHECK_EQ(push_counter_lock.Value, 0);
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

static void recursive_acquire_child(void)
{
    KSPIN_LOCK lock;
    KIRQL old1, old2;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old1);
    KeAcquireSpinLock(&lock, &old2);
}

static void release_not_owned_child(void)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
}

static void acquire_above_dispatch_child(void)
{
    KSPIN_LOCK lock;
    KIRQL old;
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAcquireSpinLock(&lock, &old);
}

static void misuse_bug_checks(void)
{
    CHECK(child_dies_with(recursive_acquire_child, "STOP: 0x0000000F"));
    CHECK(child_dies_with(release_not_owned_child, "STOP: 0x00000010"));
    CHECK(child_dies_with(acquire_above_dispatch_child, "STOP: 0x00000009"));
}

int main(void)
{
    /* Forks first, while the process is still single-threaded. */
    WT_RUN(misuse_bug_checks);
    WT_RUN(spin_lock_raises_to_dispatch);
    WT_RUN(at_dpc_level_leaves_irql_alone);
    WT_RUN(try_acquire_fails_while_held);
    WT_RUN(queued_lock_handle);
    WT_RUN(spin_lock_mutual_exclusion);
    WT_RUN(ex_spin_lock_irql);
    WT_RUN(ex_spin_lock_shared_vs_exclusive);
    WT_RUN(ex_spin_lock_try_convert);
    WT_RUN(ex_spin_lock_readers_and_writers);
    WT_RUN(push_lock_blocks_and_wakes);
    WT_RUN(push_lock_mutual_exclusion);
    return wt_finish();
}
