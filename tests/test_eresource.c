/*
 * test_eresource.c - ERESOURCE (layout, recursion, shared readers in
 * parallel, exclusive exclusion, waiter counts, the three shared-acquire
 * flavours against a queued exclusive waiter, release for another thread,
 * conversion, misuse bug checks), guarded mutexes and critical/guarded
 * regions, and the ExInterlocked list routines.
 *
 * No assertion depends on timing: a thread that must be blocked is observed
 * through the waiter counts, and waits for a state that must come are
 * unbounded (a broken lock hangs the test until CTest's timeout).
 */
#include <ntddk.h>

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "wt.h"
#include "wt_bugcheck.h"

#define THREADS 4
#define ITERATIONS 20000

static int flag_get(int *f)
{
    return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void flag_set(int *f, int v)
{
    __atomic_store_n(f, v, __ATOMIC_RELEASE);
}

static void pause_a_little(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

static void until_flag(int *f, int v)
{
    while (flag_get(f) != v)
        pause_a_little();
}

static void until_exclusive_waiters(PERESOURCE r, ULONG n)
{
    while (ExGetExclusiveWaiterCount(r) != n)
        pause_a_little();
}

static void until_shared_waiters(PERESOURCE r, ULONG n)
{
    while (ExGetSharedWaiterCount(r) != n)
        pause_a_little();
}

static void layout_is_windows_x64(void)
{
    CHECK_EQ(sizeof(ERESOURCE), 0x68);
    CHECK_EQ(sizeof(OWNER_ENTRY), 0x10);
    CHECK_EQ(offsetof(ERESOURCE, OwnerTable), 0x10);
    CHECK_EQ(offsetof(ERESOURCE, ActiveCount), 0x18);
    CHECK_EQ(offsetof(ERESOURCE, Flag), 0x1a);
    CHECK_EQ(offsetof(ERESOURCE, SharedWaiters), 0x20);
    CHECK_EQ(offsetof(ERESOURCE, ExclusiveWaiters), 0x28);
    CHECK_EQ(offsetof(ERESOURCE, OwnerEntry), 0x30);
    CHECK_EQ(offsetof(ERESOURCE, ActiveEntries), 0x40);
    CHECK_EQ(offsetof(ERESOURCE, ContentionCount), 0x44);
    CHECK_EQ(offsetof(ERESOURCE, NumberOfSharedWaiters), 0x48);
    CHECK_EQ(offsetof(ERESOURCE, NumberOfExclusiveWaiters), 0x4c);
    CHECK_EQ(offsetof(ERESOURCE, SpinLock), 0x60);
}

static void exclusive_owner_recurses_shared_and_exclusive(void)
{
    ERESOURCE r;
    memset(&r, 0xCC, sizeof(r));
    CHECK_EQ(ExInitializeResourceLite(&r), STATUS_SUCCESS);
    CHECK(!ExIsResourceAcquiredExclusiveLite(&r));
    CHECK_EQ(ExIsResourceAcquiredSharedLite(&r), 0);
    KeEnterCriticalRegion();
    CHECK(ExAcquireResourceExclusiveLite(&r, TRUE));
    CHECK(ExAcquireResourceExclusiveLite(&r, FALSE));
    CHECK(ExAcquireResourceSharedLite(&r, FALSE));
    CHECK(ExAcquireSharedWaitForExclusive(&r, FALSE));
    CHECK(ExIsResourceAcquiredExclusiveLite(&r));
    CHECK_EQ(ExIsResourceAcquiredSharedLite(&r), 4);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    for (int i = 0; i < 4; i++)
        ExReleaseResourceLite(&r);
    CHECK(!ExIsResourceAcquiredExclusiveLite(&r));
    CHECK_EQ(ExIsResourceAcquiredSharedLite(&r), 0);
    KeLeaveCriticalRegion();
    CHECK_EQ(ExDeleteResourceLite(&r), STATUS_SUCCESS);
}

static void shared_owner_recurses_shared_only(void)
{
    ERESOURCE r;
    ExInitializeResourceLite(&r);
    CHECK(ExAcquireResourceSharedLite(&r, TRUE));
    CHECK(ExAcquireResourceSharedLite(&r, TRUE));
    CHECK(ExAcquireSharedStarveExclusive(&r, FALSE));
    CHECK_EQ(ExIsResourceAcquiredSharedLite(&r), 3);
    CHECK(!ExIsResourceAcquiredExclusiveLite(&r));
    /* A shared owner cannot become exclusive (with Wait it would wait for
     * ever, as on Windows). */
    CHECK(!ExAcquireResourceExclusiveLite(&r, FALSE));
    CHECK(!ExTryToAcquireResourceExclusiveLite(&r));
    for (int i = 0; i < 3; i++)
        ExReleaseResourceLite(&r);
    CHECK(ExTryToAcquireResourceExclusiveLite(&r));
    ExReleaseResourceLite(&r);
    ExDeleteResourceLite(&r);
}

/* Every reader holds the resource shared until all of them are inside at
 * once: only possible if shared owners really run in parallel. */
static ERESOURCE readers_res;
static int readers_inside;

static void *reader_main(void *arg)
{
    (void)arg;
    CHECK(ExAcquireResourceSharedLite(&readers_res, TRUE));
    __atomic_add_fetch(&readers_inside, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&readers_inside, __ATOMIC_ACQUIRE) < THREADS)
        pause_a_little();
    ExReleaseResourceLite(&readers_res);
    return NULL;
}

static void shared_readers_run_in_parallel(void)
{
    ExInitializeResourceLite(&readers_res);
    readers_inside = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, reader_main, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(readers_inside, THREADS);
    CHECK(ExTryToAcquireResourceExclusiveLite(&readers_res));
    ExReleaseResourceLite(&readers_res);
    ExDeleteResourceLite(&readers_res);
}

/* Writers keep two plain counters equal under the exclusive lock; readers
 * check them under the shared lock.  TSan sees any overlap as a race. */
static ERESOURCE rw_res;
static long rw_a, rw_b;
static int rw_torn;

static void *writer_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        KeEnterCriticalRegion();
        ExAcquireResourceExclusiveLite(&rw_res, TRUE);
        rw_a++;
        sched_yield();
        rw_b++;
        ExReleaseResourceLite(&rw_res);
        KeLeaveCriticalRegion();
    }
    return NULL;
}

static void *checker_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        ExEnterCriticalRegionAndAcquireResourceShared(&rw_res);
        if (rw_a != rw_b)
            __atomic_store_n(&rw_torn, 1, __ATOMIC_RELAXED);
        ExReleaseResourceAndLeaveCriticalRegion(&rw_res);
    }
    return NULL;
}

static void exclusive_excludes_everyone(void)
{
    ExInitializeResourceLite(&rw_res);
    rw_a = rw_b = 0;
    rw_torn = 0;
    pthread_t w[2], c[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&w[i], NULL, writer_main, NULL);
        pthread_create(&c[i], NULL, checker_main, NULL);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i], NULL);
        pthread_join(c[i], NULL);
    }
    CHECK_EQ(rw_a, 2L * ITERATIONS);
    CHECK_EQ(rw_b, 2L * ITERATIONS);
    CHECK_EQ(rw_torn, 0);
    ExDeleteResourceLite(&rw_res);
}

/* A thread that runs one acquisition (and keeps the resource until told). */
typedef struct job {
    PERESOURCE r;
    int kind; /* 0 shared, 1 exclusive, 2 starve-exclusive, 3 wait-for-exclusive */
    BOOLEAN wait;
    BOOLEAN got;
    int acquired;
    int release;
    ERESOURCE_THREAD self;
    BOOLEAN release_self;
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    j->self = ExGetCurrentResourceThread();
    switch (j->kind) {
    case 0: j->got = ExAcquireResourceSharedLite(j->r, j->wait); break;
    case 1: j->got = ExAcquireResourceExclusiveLite(j->r, j->wait); break;
    case 2: j->got = ExAcquireSharedStarveExclusive(j->r, j->wait); break;
    default: j->got = ExAcquireSharedWaitForExclusive(j->r, j->wait); break;
    }
    flag_set(&j->acquired, 1);
    if (j->got) {
        until_flag(&j->release, 1);
        if (j->release_self)
            ExReleaseResourceLite(j->r);
    }
    return NULL;
}

static void job_start(pthread_t *t, job *j, PERESOURCE r, int kind, BOOLEAN wait)
{
    memset(j, 0, sizeof(*j));
    j->r = r;
    j->kind = kind;
    j->wait = wait;
    j->release_self = TRUE;
    pthread_create(t, NULL, job_main, j);
}

/* Try an acquisition from a fresh thread; returns whether it was granted. */
static BOOLEAN try_from_other_thread(PERESOURCE r, int kind)
{
    pthread_t t;
    job j;
    job_start(&t, &j, r, kind, FALSE);
    until_flag(&j.acquired, 1);
    flag_set(&j.release, 1);
    pthread_join(t, NULL);
    return j.got;
}

static void waiter_counts_and_wakeups(void)
{
    ERESOURCE r;
    ExInitializeResourceLite(&r);
    CHECK(ExAcquireResourceExclusiveLite(&r, TRUE));
    CHECK_EQ(ExGetSharedWaiterCount(&r), 0);
    CHECK_EQ(ExGetExclusiveWaiterCount(&r), 0);
    pthread_t ts, tx;
    job js, jx;
    job_start(&ts, &js, &r, 0, TRUE);
    until_shared_waiters(&r, 1);
    job_start(&tx, &jx, &r, 1, TRUE);
    until_exclusive_waiters(&r, 1);
    CHECK_EQ(flag_get(&js.acquired), 0);
    CHECK_EQ(flag_get(&jx.acquired), 0);
    CHECK(r.ContentionCount >= 2);
    /* Each waiter gets it in turn once the owner leaves. */
    flag_set(&js.release, 1);
    flag_set(&jx.release, 1);
    ExReleaseResourceLite(&r);
    pthread_join(ts, NULL);
    pthread_join(tx, NULL);
    CHECK(js.got);
    CHECK(jx.got);
    CHECK_EQ(ExGetSharedWaiterCount(&r), 0);
    CHECK_EQ(ExGetExclusiveWaiterCount(&r), 0);
    CHECK(ExTryToAcquireResourceExclusiveLite(&r));
    ExReleaseResourceLite(&r);
    ExDeleteResourceLite(&r);
}

/* With the resource owned shared and a thread waiting for exclusive access:
 * a new shared request waits (SharedLite, WaitForExclusive) unless it
 * starves the exclusive waiter; the owner itself may recurse with
 * SharedLite but not with WaitForExclusive. */
static void exclusive_waiter_holds_back_new_readers(void)
{
    ERESOURCE r;
    ExInitializeResourceLite(&r);
    CHECK(ExAcquireResourceSharedLite(&r, TRUE));
    pthread_t tx;
    job jx;
    job_start(&tx, &jx, &r, 1, TRUE);
    until_exclusive_waiters(&r, 1);

    CHECK(!try_from_other_thread(&r, 0));
    CHECK(!try_from_other_thread(&r, 3));
    CHECK(try_from_other_thread(&r, 2));
    CHECK(ExAcquireResourceSharedLite(&r, FALSE));
    CHECK(!ExAcquireSharedWaitForExclusive(&r, FALSE));
    CHECK(ExAcquireSharedStarveExclusive(&r, FALSE));
    CHECK_EQ(ExIsResourceAcquiredSharedLite(&r), 3);
    CHECK_EQ(flag_get(&jx.acquired), 0);

    for (int i = 0; i < 3; i++)
        ExReleaseResourceLite(&r);
    until_flag(&jx.acquired, 1);
    CHECK(jx.got);
    CHECK_EQ(ExGetExclusiveWaiterCount(&r), 0);
    flag_set(&jx.release, 1);
    pthread_join(tx, NULL);
    ExDeleteResourceLite(&r);
}

static void release_for_another_thread(void)
{
    ERESOURCE r;
    ExInitializeResourceLite(&r);
    pthread_t t;
    job j;
    job_start(&t, &j, &r, 0, TRUE);
    j.release_self = FALSE;
    until_flag(&j.acquired, 1);
    CHECK(j.got);
    CHECK(!ExTryToAcquireResourceExclusiveLite(&r));
    ExReleaseResourceForThreadLite(&r, j.self);
    CHECK(ExTryToAcquireResourceExclusiveLite(&r));
    ExReleaseResourceLite(&r);
    flag_set(&j.release, 1);
    pthread_join(t, NULL);
    ExDeleteResourceLite(&r);
}

static void many_shared_owners_grow_the_table(void)
{
    enum { N = 9 };
    ERESOURCE r;
    ExInitializeResourceLite(&r);
    pthread_t t[N];
    job j[N];
    for (int i = 0; i < N; i++) {
        job_start(&t[i], &j[i], &r, 0, TRUE);
        until_flag(&j[i].acquired, 1);
        CHECK(j[i].got);
    }
    CHECK_EQ(r.ActiveEntries, N);
    CHECK(r.OwnerTable != NULL);
    CHECK(!ExTryToAcquireResourceExclusiveLite(&r));
    for (int i = 0; i < N; i++) {
        flag_set(&j[i].release, 1);
        pthread_join(t[i], NULL);
    }
    CHECK_EQ(r.ActiveCount, 0);
    CHECK(ExTryToAcquireResourceExclusiveLite(&r));
    ExReleaseResourceLite(&r);
    ExDeleteResourceLite(&r);
}

static void convert_exclusive_to_shared_lets_readers_in(void)
{
    ERESOURCE r;
    ExInitializeResourceLite(&r);
    CHECK(ExAcquireResourceExclusiveLite(&r, TRUE));
    pthread_t t;
    job j;
    job_start(&t, &j, &r, 0, TRUE);
    until_shared_waiters(&r, 1);
    ExConvertExclusiveToSharedLite(&r);
    until_flag(&j.acquired, 1);
    CHECK(j.got);
    CHECK(!ExIsResourceAcquiredExclusiveLite(&r));
    CHECK_EQ(ExIsResourceAcquiredSharedLite(&r), 1);
    flag_set(&j.release, 1);
    pthread_join(t, NULL);
    ExReleaseResourceLite(&r);
    ExDeleteResourceLite(&r);
}

static void release_unowned(void *arg)
{
    (void)arg;
    static ERESOURCE r;
    ExInitializeResourceLite(&r);
    ExReleaseResourceLite(&r);
}

static void acquire_at_dispatch(void *arg)
{
    (void)arg;
    static ERESOURCE r;
    ExInitializeResourceLite(&r);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAcquireResourceSharedLite(&r, TRUE);
}

static void misuse_bug_checks(void)
{
    CHECK(wt_bugchecks(release_unowned, NULL, RESOURCE_NOT_OWNED));
    CHECK(wt_bugchecks(acquire_at_dispatch, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

static void critical_and_guarded_regions(void)
{
    CHECK(!KeAreApcsDisabled());
    KeEnterCriticalRegion();
    CHECK(KeAreApcsDisabled());
    CHECK(!KeAreAllApcsDisabled());
    KeEnterCriticalRegion();
    KeLeaveCriticalRegion();
    CHECK(KeAreApcsDisabled());
    KeLeaveCriticalRegion();
    CHECK(!KeAreApcsDisabled());
    KeEnterGuardedRegion();
    CHECK(KeAreApcsDisabled());
    CHECK(KeAreAllApcsDisabled());
    KeLeaveGuardedRegion();
    CHECK(!KeAreAllApcsDisabled());

    ERESOURCE r;
    ExInitializeResourceLite(&r);
    ExEnterCriticalRegionAndAcquireResourceExclusive(&r);
    CHECK(KeAreApcsDisabled());
    CHECK(ExIsResourceAcquiredExclusiveLite(&r));
    ExReleaseResourceAndLeaveCriticalRegion(&r);
    CHECK(!KeAreApcsDisabled());
    CHECK(!ExIsResourceAcquiredExclusiveLite(&r));
    ExDeleteResourceLite(&r);
}

static KGUARDED_MUTEX gm;
static int gm_try_result;

static void *gm_try_main(void *arg)
{
    (void)arg;
    gm_try_result = KeTryToAcquireGuardedMutex(&gm);
    if (gm_try_result)
        KeReleaseGuardedMutex(&gm);
    return NULL;
}

static void guarded_mutex_enters_a_guarded_region(void)
{
    KeInitializeGuardedMutex(&gm);
    KeAcquireGuardedMutex(&gm);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK(KeAreApcsDisabled());
    CHECK(KeAreAllApcsDisabled());
    pthread_t t;
    pthread_create(&t, NULL, gm_try_main, NULL);
    pthread_join(t, NULL);
    CHECK_EQ(gm_try_result, 0);
    KeReleaseGuardedMutex(&gm);
    CHECK(!KeAreApcsDisabled());
    pthread_create(&t, NULL, gm_try_main, NULL);
    pthread_join(t, NULL);
    CHECK_EQ(gm_try_result, 1);

    CHECK(KeTryToAcquireGuardedMutex(&gm));
    CHECK(KeAreAllApcsDisabled());
    KeReleaseGuardedMutex(&gm);

    KeEnterGuardedRegion();
    KeAcquireGuardedMutexUnsafe(&gm);
    CHECK_EQ(gm.Count, 0);
    KeReleaseGuardedMutexUnsafe(&gm);
    KeLeaveGuardedRegion();
    CHECK_EQ(gm.Count, 1);
}

static void guarded_mutex_at_dispatch(void *arg)
{
    (void)arg;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeAcquireGuardedMutex(&gm);
}

static void guarded_mutex_irql_bug_check(void)
{
    KeInitializeGuardedMutex(&gm);
    CHECK(wt_bugchecks(guarded_mutex_at_dispatch, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

static void interlocked_lists_return_the_old_ends(void)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    LIST_ENTRY head, a, b, c;
    InitializeListHead(&head);
    CHECK(ExInterlockedInsertHeadList(&head, &a, &lock) == NULL);
    CHECK(ExInterlockedInsertHeadList(&head, &b, &lock) == &a);
    CHECK(ExInterlockedInsertTailList(&head, &c, &lock) == &a);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK(ExInterlockedRemoveHeadList(&head, &lock) == &b);
    CHECK(ExInterlockedRemoveHeadList(&head, &lock) == &a);
    CHECK(ExInterlockedRemoveHeadList(&head, &lock) == &c);
    CHECK(ExInterlockedRemoveHeadList(&head, &lock) == NULL);
    CHECK(ExInterlockedInsertTailList(&head, &a, &lock) == NULL);
    CHECK(ExInterlockedInsertTailList(&head, &b, &lock) == &a);

    SINGLE_LIST_ENTRY shead = {NULL}, s1, s2;
    CHECK(ExInterlockedPushEntryList(&shead, &s1, &lock) == NULL);
    CHECK(ExInterlockedPushEntryList(&shead, &s2, &lock) == &s1);
    /* Callable above DISPATCH_LEVEL too. */
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL, &old);
    CHECK(ExInterlockedPopEntryList(&shead, &lock) == &s2);
    CHECK_EQ(KeGetCurrentIrql(), HIGH_LEVEL);
    KeLowerIrql(old);
    CHECK(ExInterlockedPopEntryList(&shead, &lock) == &s1);
    CHECK(ExInterlockedPopEntryList(&shead, &lock) == NULL);
    CHECK_EQ(lock, 0);
}

int main(void)
{
    WT_RUN(layout_is_windows_x64);
    WT_RUN(exclusive_owner_recurses_shared_and_exclusive);
    WT_RUN(shared_owner_recurses_shared_only);
    WT_RUN(shared_readers_run_in_parallel);
    WT_RUN(exclusive_excludes_everyone);
    WT_RUN(waiter_counts_and_wakeups);
    WT_RUN(exclusive_waiter_holds_back_new_readers);
    WT_RUN(release_for_another_thread);
    WT_RUN(many_shared_owners_grow_the_table);
    WT_RUN(convert_exclusive_to_shared_lets_readers_in);
    WT_RUN(misuse_bug_checks);
    WT_RUN(critical_and_guarded_regions);
    WT_RUN(guarded_mutex_enters_a_guarded_region);
    WT_RUN(guarded_mutex_irql_bug_check);
    WT_RUN(interlocked_lists_return_the_old_ends);
    return wt_finish();
}
