/*
 * fast_mutex.c - FAST_MUTEX, KGUARDED_MUTEX (same layout and lock) and the
 * critical and guarded regions.
 *
 * Count keeps the Windows convention: 1 = free, 0 = owned.  While owned,
 * -1 means "owned and somebody may sleep on it": a three-state futex mutex
 * (Drepper, "Futexes Are Tricky", mutex #2) on the 32-bit Count field.  The
 * embedded KEVENT is not used for waiting; it is initialized so the
 * structure looks like a Windows one.
 *
 * ExAcquireFastMutex raises to APC_LEVEL (KeRaiseIrql bug-checks a caller
 * above APC_LEVEL, as Windows does) and remembers the previous IRQL in
 * OldIrql, which ExReleaseFastMutex restores.  The Unsafe variants leave the
 * IRQL alone.  Acquiring a fast mutex the thread already owns would hang
 * forever on Windows; here it is the MUTEX_ALREADY_OWNED bug check.
 */
#include "ke_internal.h"

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MUTEX_ALREADY_OWNED
#define MUTEX_ALREADY_OWNED 0x000000BF
#endif

#define FMUTEX_FREE 1
#define FMUTEX_OWNED 0
#define FMUTEX_CONTENDED (-1)
#define FMUTEX_SPIN_ROUNDS 100u

/* Its address identifies the owning thread in FAST_MUTEX.Owner. */
static __thread char fmutex_thread_token;

static inline PVOID fmutex_self(void)
{
    return &fmutex_thread_token;
}

static void fmutex_futex_wait(PFAST_MUTEX m, LONG expected)
{
    syscall(SYS_futex, (uint32_t *)&m->Count, FUTEX_WAIT_PRIVATE, (uint32_t)expected, NULL, NULL, 0);
}

static void fmutex_futex_wake_one(PFAST_MUTEX m)
{
    syscall(SYS_futex, (uint32_t *)&m->Count, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline BOOLEAN fmutex_try_lock(PFAST_MUTEX m)
{
    LONG expected = FMUTEX_FREE;
    return __atomic_compare_exchange_n(&m->Count, &expected, FMUTEX_OWNED, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void fmutex_set_owner(PFAST_MUTEX m)
{
    /* Atomic only so that the recursion check below may read it racily. */
    __atomic_store_n(&m->Owner, fmutex_self(), __ATOMIC_RELAXED);
}

static void fmutex_lock(PFAST_MUTEX m)
{
    if (fmutex_try_lock(m)) {
        fmutex_set_owner(m);
        return;
    }
    if (__atomic_load_n(&m->Owner, __ATOMIC_RELAXED) == fmutex_self())
        KeBugCheckEx(MUTEX_ALREADY_OWNED, (ULONG_PTR)m, (ULONG_PTR)fmutex_self(), 0, 0);
    /* A short spin catches the common case of a holder that is about to
     * release, without a system call. */
    for (ULONG i = 0; i < FMUTEX_SPIN_ROUNDS; i++) {
        YieldProcessor();
        if (__atomic_load_n(&m->Count, __ATOMIC_RELAXED) == FMUTEX_FREE && fmutex_try_lock(m)) {
            fmutex_set_owner(m);
            return;
        }
    }
    __atomic_add_fetch(&m->Contention, 1, __ATOMIC_RELAXED);
    /* From here on the mutex is marked contended, so whoever releases it
     * wakes a sleeper; we may over-report contention, never lose a wake. */
    LONG c = __atomic_exchange_n(&m->Count, FMUTEX_CONTENDED, __ATOMIC_ACQUIRE);
    while (c != FMUTEX_FREE) {
        fmutex_futex_wait(m, FMUTEX_CONTENDED);
        c = __atomic_exchange_n(&m->Count, FMUTEX_CONTENDED, __ATOMIC_ACQUIRE);
    }
    fmutex_set_owner(m);
}

static void fmutex_unlock(PFAST_MUTEX m)
{
    __atomic_store_n(&m->Owner, NULL, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&m->Count, FMUTEX_FREE, __ATOMIC_RELEASE) == FMUTEX_CONTENDED)
        fmutex_futex_wake_one(m);
}

void ExInitializeFastMutex(PFAST_MUTEX FastMutex)
{
    __atomic_store_n(&FastMutex->Count, FMUTEX_FREE, __ATOMIC_RELAXED);
    __atomic_store_n(&FastMutex->Owner, NULL, __ATOMIC_RELAXED);
    FastMutex->Contention = 0;
    FastMutex->OldIrql = PASSIVE_LEVEL;
    /* A non-signalled synchronization event, as Windows leaves it. */
    __builtin_memset(&FastMutex->Event, 0, sizeof(FastMutex->Event));
    FastMutex->Event.Header.Type = EventSynchronizationObject;
    FastMutex->Event.Header.Size = (UCHAR)(sizeof(KEVENT) / sizeof(LONG));
    FastMutex->Event.Header.WaitListHead.Flink = &FastMutex->Event.Header.WaitListHead;
    FastMutex->Event.Header.WaitListHead.Blink = &FastMutex->Event.Header.WaitListHead;
}

void ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    fmutex_lock(FastMutex);
    FastMutex->OldIrql = old;
}

void ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    /* Read before releasing: the next owner overwrites it. */
    KIRQL old = (KIRQL)FastMutex->OldIrql;
    fmutex_unlock(FastMutex);
    KeLowerIrql(old);
}

BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    if (fmutex_try_lock(FastMutex)) {
        fmutex_set_owner(FastMutex);
        FastMutex->OldIrql = old;
        return TRUE;
    }
    KeLowerIrql(old);
    return FALSE;
}

void ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    fmutex_lock(FastMutex);
}

void ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    fmutex_unlock(FastMutex);
}

/* ---- critical and guarded regions ---- */

/* Per-thread counts, what KernelApcDisable and SpecialApcDisable are on
 * Windows.  No APC is ever delivered in this runtime, so the regions only
 * matter to KeAreApcsDisabled and to the checks below. */
static __thread LONG critical_region_depth;
static __thread LONG guarded_region_depth;

void KeEnterCriticalRegion(void)
{
    critical_region_depth++;
}

void KeLeaveCriticalRegion(void)
{
    critical_region_depth--;
}

void KeEnterGuardedRegion(void)
{
    guarded_region_depth++;
}

void KeLeaveGuardedRegion(void)
{
    guarded_region_depth--;
}

BOOLEAN KeAreApcsDisabled(void)
{
    return critical_region_depth != 0 || guarded_region_depth != 0;
}

BOOLEAN KeAreAllApcsDisabled(void)
{
    return guarded_region_depth != 0 || KeGetCurrentIrql() >= APC_LEVEL;
}

/* ---- guarded mutexes ---- */

/* Same lock as FAST_MUTEX, but acquiring enters a guarded region rather than
 * raising the IRQL, so KeGetCurrentIrql stays where it was
 * (KeAcquireGuardedMutex, Remarks).  Callers run at IRQL <= APC_LEVEL. */
static void gmutex_check_irql(void)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > APC_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)__builtin_return_address(0));
}

void KeInitializeGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    ExInitializeFastMutex(Mutex);
}

void KeAcquireGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    gmutex_check_irql();
    KeEnterGuardedRegion();
    fmutex_lock(Mutex);
    Mutex->OldIrql = KeGetCurrentIrql(); /* unchanged; kept for a debugger's eye */
}

void KeReleaseGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    fmutex_unlock(Mutex);
    KeLeaveGuardedRegion();
}

BOOLEAN KeTryToAcquireGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    gmutex_check_irql();
    KeEnterGuardedRegion();
    if (fmutex_try_lock(Mutex)) {
        fmutex_set_owner(Mutex);
        Mutex->OldIrql = KeGetCurrentIrql();
        return TRUE;
    }
    KeLeaveGuardedRegion();
    return FALSE;
}

void KeAcquireGuardedMutexUnsafe(PKGUARDED_MUTEX FastMutex)
{
    fmutex_lock(FastMutex);
}

void KeReleaseGuardedMutexUnsafe(PKGUARDED_MUTEX FastMutex)
{
    fmutex_unlock(FastMutex);
}
