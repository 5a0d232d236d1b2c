/*
 * eresource.c - executive resources (ERESOURCE): a reader/writer lock with
 * recursion, owned by threads.
 *
 * Windows' rules (ExAcquireResourceSharedLite, ExAcquireResourceExclusiveLite,
 * ExAcquireSharedStarveExclusive, ExAcquireSharedWaitForExclusive, Remarks):
 * an exclusive owner may acquire again, shared or exclusive (both count as
 * exclusive recursion); a shared owner may acquire shared again even while
 * exclusive waiters queue (except through ...WaitForExclusive); a new shared
 * request waits while a thread waits for exclusive access (except through
 * ...StarveExclusive).  A shared owner asking for exclusive access waits for
 * ever, as on Windows.  Releasing a resource the thread does not own is the
 * RESOURCE_NOT_OWNED bug check; acquiring above APC_LEVEL is
 * IRQL_NOT_LESS_OR_EQUAL, like the runtime's other waits.
 *
 * Everything lives in the caller's ERESOURCE, with Windows' layout: the low
 * word of SpinLock is a three-state futex lock guarding the state, the low
 * word of SharedWaiters a sequence number every waiter sleeps on (bumped
 * whenever an owner leaves), OwnerEntry the exclusive owner or a first
 * shared owner, OwnerTable more shared owners (OwnerTable[0].TableSize is
 * its length, as on Windows; allocated outside the pool: it is the
 * runtime's, and a resource deleted properly gives it back).
 */
#include "ke_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { ACQUIRE_SHARED, ACQUIRE_STARVE_EXCLUSIVE, ACQUIRE_WAIT_FOR_EXCLUSIVE };

static LONG *res_lock_word(PERESOURCE r)
{
    return (LONG *)(void *)&r->SpinLock;
}

static LONG *res_wake_word(PERESOURCE r)
{
    return (LONG *)(void *)&r->SharedWaiters;
}

static void res_futex_wait(LONG *word, LONG expected)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, (uint32_t)expected, NULL, NULL, 0);
}

static void res_futex_wake(LONG *word, int count)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

/* 0 free, 1 held, 2 held and maybe contended. */
static void res_lock(PERESOURCE r)
{
    LONG *w = res_lock_word(r);
    LONG c = 0;
    if (__atomic_compare_exchange_n(w, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    if (c != 2)
        c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
        res_futex_wait(w, 2);
        c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
    }
}

static void res_unlock(PERESOURCE r)
{
    LONG *w = res_lock_word(r);
    if (__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2)
        res_futex_wake(w, 1);
}

static BOOLEAN res_exclusive(PERESOURCE r)
{
    return (r->Flag & ResourceOwnedExclusive) != 0;
}

/* With the lock held: the thread's owner entry, or NULL. */
static POWNER_ENTRY res_find(PERESOURCE r, ERESOURCE_THREAD thread)
{
    if (r->OwnerEntry.OwnerThread == thread)
        return &r->OwnerEntry;
    if (r->OwnerTable != NULL)
        for (ULONG i = 1; i < r->OwnerTable[0].TableSize; i++)
            if (r->OwnerTable[i].OwnerThread == thread)
                return &r->OwnerTable[i];
    return NULL;
}

/* With the lock held: a free entry for a new shared owner. */
static POWNER_ENTRY res_new_entry(PERESOURCE r)
{
    if (r->OwnerEntry.OwnerThread == 0)
        return &r->OwnerEntry;
    ULONG size = r->OwnerTable != NULL ? r->OwnerTable[0].TableSize : 1;
    for (ULONG i = 1; i < size; i++)
        if (r->OwnerTable[i].OwnerThread == 0)
            return &r->OwnerTable[i];
    ULONG grown = size < 4 ? 4 : size * 2;
    POWNER_ENTRY t = realloc(r->OwnerTable, grown * sizeof(OWNER_ENTRY));
    if (t == NULL)
        KeBugCheckEx(0x7D /* INSTALL_MORE_MEMORY */, 0, 0, 0, 0);
    __builtin_memset(t + size, 0, (grown - size) * sizeof(OWNER_ENTRY));
    if (size == 1)
        __builtin_memset(t, 0, sizeof(OWNER_ENTRY));
    t[0].TableSize = grown;
    r->OwnerTable = t;
    return &t[size];
}

/* With the lock held, after an owner left: wakes every waiter, which then
 * re-examines the state. */
static void res_wake_waiters(PERESOURCE r)
{
    if (r->NumberOfSharedWaiters + r->NumberOfExclusiveWaiters == 0)
        return;
    __atomic_add_fetch(res_wake_word(r), 1, __ATOMIC_RELEASE);
    res_futex_wake(res_wake_word(r), INT_MAX);
}

/* Drops the lock, sleeps until an owner leaves, takes the lock again. */
static void res_wait(PERESOURCE r, ULONG *waiters)
{
    (*waiters)++;
    r->ContentionCount++;
    LONG seq = __atomic_load_n(res_wake_word(r), __ATOMIC_RELAXED);
    res_unlock(r);
    res_futex_wait(res_wake_word(r), seq);
    res_lock(r);
    (*waiters)--;
}

static void res_check_acquire_irql(void)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > APC_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)__builtin_return_address(0));
}

static BOOLEAN res_acquire_shared(PERESOURCE r, BOOLEAN wait, int mode)
{
    res_check_acquire_irql();
    ERESOURCE_THREAD self = ExGetCurrentResourceThread();
    res_lock(r);
    for (;;) {
        BOOLEAN excl_waiting = r->NumberOfExclusiveWaiters != 0 && mode != ACQUIRE_STARVE_EXCLUSIVE;
        if (res_exclusive(r)) {
            if (r->OwnerEntry.OwnerThread == self) {
                r->OwnerEntry.OwnerCount++; /* recursion of the exclusive owner */
                break;
            }
        } else {
            POWNER_ENTRY e = res_find(r, self);
            if (e != NULL && (mode != ACQUIRE_WAIT_FOR_EXCLUSIVE || !excl_waiting)) {
                e->OwnerCount++;
                break;
            }
            if (e == NULL && !excl_waiting) {
                e = res_new_entry(r);
                e->OwnerThread = self;
                e->OwnerCount = 1;
                r->ActiveCount++;
                r->ActiveEntries++;
                break;
            }
        }
        if (!wait) {
            res_unlock(r);
            return FALSE;
        }
        res_wait(r, &r->NumberOfSharedWaiters);
    }
    res_unlock(r);
    return TRUE;
}

static BOOLEAN res_acquire_exclusive(PERESOURCE r, BOOLEAN wait)
{
    res_check_acquire_irql();
    ERESOURCE_THREAD self = ExGetCurrentResourceThread();
    res_lock(r);
    for (;;) {
        if (r->ActiveCount == 0) {
            r->Flag |= ResourceOwnedExclusive;
            r->OwnerEntry.OwnerThread = self;
            r->OwnerEntry.OwnerCount = 1;
            r->ActiveCount = 1;
            r->ActiveEntries = 1;
            break;
        }
        if (res_exclusive(r) && r->OwnerEntry.OwnerThread == self) {
            r->OwnerEntry.OwnerCount++;
            break;
        }
        if (!wait) {
            res_unlock(r);
            return FALSE;
        }
        res_wait(r, &r->NumberOfExclusiveWaiters);
    }
    res_unlock(r);
    return TRUE;
}

static void res_not_owned(PERESOURCE r, ERESOURCE_THREAD thread)
{
    KeBugCheckEx(RESOURCE_NOT_OWNED, (ULONG_PTR)r, thread, (ULONG_PTR)r->OwnerTable, 0);
}

static void res_release(PERESOURCE r, ERESOURCE_THREAD thread)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > DISPATCH_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)__builtin_return_address(0));
    res_lock(r);
    if (res_exclusive(r)) {
        if (r->OwnerEntry.OwnerThread != thread)
            res_not_owned(r, thread);
        if (--r->OwnerEntry.OwnerCount == 0) {
            r->Flag &= (USHORT)~ResourceOwnedExclusive;
            r->OwnerEntry.OwnerThread = 0;
            r->ActiveCount = 0;
            r->ActiveEntries = 0;
            res_wake_waiters(r);
        }
    } else {
        POWNER_ENTRY e = thread != 0 ? res_find(r, thread) : NULL;
        if (e == NULL || e->OwnerCount == 0)
            res_not_owned(r, thread);
        if (--e->OwnerCount == 0) {
            e->OwnerThread = 0;
            r->ActiveCount--;
            r->ActiveEntries--;
            if (r->ActiveCount == 0)
                res_wake_waiters(r);
        }
    }
    res_unlock(r);
}

NTSTATUS ExInitializeResourceLite(PERESOURCE Resource)
{
    __builtin_memset(Resource, 0, sizeof(*Resource));
    InitializeListHead(&Resource->SystemResourcesList);
    return STATUS_SUCCESS;
}

NTSTATUS ExReinitializeResourceLite(PERESOURCE Resource)
{
    free(Resource->OwnerTable);
    return ExInitializeResourceLite(Resource);
}

NTSTATUS ExDeleteResourceLite(PERESOURCE Resource)
{
    free(Resource->OwnerTable);
    Resource->OwnerTable = NULL;
    return STATUS_SUCCESS;
}

BOOLEAN ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait)
{
    return res_acquire_shared(Resource, Wait, ACQUIRE_SHARED);
}

BOOLEAN ExAcquireSharedStarveExclusive(PERESOURCE Resource, BOOLEAN Wait)
{
    return res_acquire_shared(Resource, Wait, ACQUIRE_STARVE_EXCLUSIVE);
}

BOOLEAN ExAcquireSharedWaitForExclusive(PERESOURCE Resource, BOOLEAN Wait)
{
    return res_acquire_shared(Resource, Wait, ACQUIRE_WAIT_FOR_EXCLUSIVE);
}

BOOLEAN ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait)
{
    return res_acquire_exclusive(Resource, Wait);
}

BOOLEAN ExTryToAcquireResourceExclusiveLite(PERESOURCE Resource)
{
    return res_acquire_exclusive(Resource, FALSE);
}

void ExReleaseResourceLite(PERESOURCE Resource)
{
    res_release(Resource, ExGetCurrentResourceThread());
}

void ExReleaseResourceForThreadLite(PERESOURCE Resource, ERESOURCE_THREAD ResourceThreadId)
{
    res_release(Resource, ResourceThreadId);
}

void ExConvertExclusiveToSharedLite(PERESOURCE Resource)
{
    ERESOURCE_THREAD self = ExGetCurrentResourceThread();
    res_lock(Resource);
    if (!res_exclusive(Resource) || Resource->OwnerEntry.OwnerThread != self)
        res_not_owned(Resource, self);
    /* The owner keeps its recursion count, now as shared acquisitions. */
    Resource->Flag &= (USHORT)~ResourceOwnedExclusive;
    res_wake_waiters(Resource);
    res_unlock(Resource);
}

BOOLEAN ExIsResourceAcquiredExclusiveLite(PERESOURCE Resource)
{
    ERESOURCE_THREAD self = ExGetCurrentResourceThread();
    res_lock(Resource);
    BOOLEAN owned = res_exclusive(Resource) && Resource->OwnerEntry.OwnerThread == self;
    res_unlock(Resource);
    return owned;
}

ULONG ExIsResourceAcquiredSharedLite(PERESOURCE Resource)
{
    ERESOURCE_THREAD self = ExGetCurrentResourceThread();
    res_lock(Resource);
    POWNER_ENTRY e = res_find(Resource, self);
    ULONG count = e != NULL ? e->OwnerCount : 0;
    res_unlock(Resource);
    return count;
}

ULONG ExGetExclusiveWaiterCount(PERESOURCE Resource)
{
    res_lock(Resource);
    ULONG n = Resource->NumberOfExclusiveWaiters;
    res_unlock(Resource);
    return n;
}

ULONG ExGetSharedWaiterCount(PERESOURCE Resource)
{
    res_lock(Resource);
    ULONG n = Resource->NumberOfSharedWaiters;
    res_unlock(Resource);
    return n;
}

/* These return the thread's Win32Thread pointer on Windows, which kernel
 * drivers have no use for and this runtime does not have: NULL. */
PVOID ExEnterCriticalRegionAndAcquireResourceExclusive(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(Resource, TRUE);
    return NULL;
}

PVOID ExEnterCriticalRegionAndAcquireResourceShared(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(Resource, TRUE);
    return NULL;
}

PVOID ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    ExAcquireSharedWaitForExclusive(Resource, TRUE);
    return NULL;
}

void ExReleaseResourceAndLeaveCriticalRegion(PERESOURCE Resource)
{
    ExReleaseResourceLite(Resource);
    KeLeaveCriticalRegion();
}
