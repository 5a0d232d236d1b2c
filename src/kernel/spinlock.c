/*
 * spinlock.c - executive and kernel spin locks and push locks.
 *
 * KSPIN_LOCK: 0 when free, otherwise a per-thread token of the owner, so a
 * recursive acquire (a certain deadlock on Windows) and a release by a
 * thread that does not hold the lock are caught as the bug checks checked
 * Windows builds give (SPIN_LOCK_ALREADY_OWNED, SPIN_LOCK_NOT_OWNED).  The
 * lock is a test-and-test-and-set lock; the in-stack queued variants use
 * the same lock word (no FIFO fairness), which also keeps mixing queued and
 * plain acquisitions of one lock working.
 *
 * In user mode the holder of a "spin lock" can be descheduled, so waiters
 * spin with YieldProcessor() for a bounded number of rounds and then give
 * the CPU away with sched_yield().
 *
 * All lock words are accessed with __atomic builtins (acquire on lock,
 * release on unlock) so that ThreadSanitizer sees the happens-before edges.
 */
#include "ke_internal.h"
#include "verifier.h"

#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "push locks wait on the low 32 bits of a ULONG_PTR: little-endian only"
#endif

#ifndef SPIN_LOCK_ALREADY_OWNED
#define SPIN_LOCK_ALREADY_OWNED 0x0000000F
#endif
#ifndef SPIN_LOCK_NOT_OWNED
#define SPIN_LOCK_NOT_OWNED 0x00000010
#endif

/* Busy-wait rounds before a waiter starts yielding the CPU. */
#define SPIN_PAUSE_ROUNDS 128u

/* Its address identifies the current thread (never 0, 8-byte aligned). */
static __thread ULONG_PTR spin_thread_token;

static inline ULONG_PTR spin_self(void)
{
    return (ULONG_PTR)&spin_thread_token;
}

static inline void spin_backoff(ULONG *rounds)
{
    if (*rounds < SPIN_PAUSE_ROUNDS) {
        (*rounds)++;
        YieldProcessor();
    } else {
        sched_yield();
    }
}

/* ===================================================================== */
/* KSPIN_LOCK                                                            */
/* ===================================================================== */

static inline BOOLEAN spin_try_acquire(PKSPIN_LOCK lock, ULONG_PTR self)
{
    ULONG_PTR expected = 0;
    return __atomic_compare_exchange_n(lock, &expected, self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void spin_acquire(PKSPIN_LOCK lock)
{
    ULONG_PTR self = spin_self();
    if (spin_try_acquire(lock, self))
        return;
    if (__atomic_load_n(lock, __ATOMIC_RELAXED) == self)
        KeBugCheckEx(SPIN_LOCK_ALREADY_OWNED, (ULONG_PTR)lock, 0, 0, 0);
    ULONG rounds = 0;
    for (;;) {
        /* Test before test-and-set: spin on a shared cache line. */
        while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0)
            spin_backoff(&rounds);
        if (spin_try_acquire(lock, self))
            return;
    }
}

static void spin_release(PKSPIN_LOCK lock)
{
    ULONG_PTR owner = __atomic_load_n(lock, __ATOMIC_RELAXED);
    if (owner != spin_self())
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)lock, owner, 0, 0);
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

void KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELAXED);
}

void openwsk_acquire_spin_lock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    spin_acquire(SpinLock);
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_spin_acquired(SpinLock, old);
    *OldIrql = old;
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    spin_acquire(SpinLock);
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_spin_acquired(SpinLock, old);
    return old;
}

/* IrqlKeReleaseSpinLock ("IrqlKeReleaseSpinLock rule (wdm)"): released at
 * DISPATCH_LEVEL, back to the IRQL the acquire raised from. */
static void verify_release_spin_lock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KIRQL irql = KeGetCurrentIrql();
    KIRQL before = openwsk_verify_spin_released(SpinLock);
    char a[8], b[8];
    if (irql != DISPATCH_LEVEL)
        openwsk_verify_fail(&openwsk_rule_irql_ke_release_spin_lock, "KeReleaseSpinLock", (ULONG_PTR)SpinLock, irql,
                            NewIrql, "called at %s (lock %p)", openwsk_irql_name(irql, a), (void *)SpinLock);
    if (before != 0xFF && before != NewIrql)
        openwsk_verify_fail(&openwsk_rule_irql_ke_release_spin_lock, "KeReleaseSpinLock", (ULONG_PTR)SpinLock, before,
                            NewIrql, "NewIrql %s, but KeAcquireSpinLock raised from %s (lock %p)",
                            openwsk_irql_name(NewIrql, a), openwsk_irql_name(before, b), (void *)SpinLock);
}

void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        verify_release_spin_lock(SpinLock, NewIrql);
    spin_release(SpinLock);
    KeLowerIrql(NewIrql);
}

void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    spin_acquire(SpinLock);
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_spin_acquired(SpinLock, 0xFF);
}

void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        (void)openwsk_verify_spin_released(SpinLock);
    spin_release(SpinLock);
}

BOOLEAN KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    BOOLEAN acquired = spin_try_acquire(SpinLock, spin_self());
    if (acquired && openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_spin_acquired(SpinLock, 0xFF);
    return acquired;
}

BOOLEAN KeTestSpinLock(PKSPIN_LOCK SpinLock)
{
    /* TRUE means "available", as on Windows. */
    return __atomic_load_n(SpinLock, __ATOMIC_RELAXED) == 0;
}

void KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    LockHandle->LockQueue.Next = NULL;
    LockHandle->LockQueue.Lock = SpinLock;
    KeRaiseIrql(DISPATCH_LEVEL, &LockHandle->OldIrql);
    spin_acquire(SpinLock);
}

void KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle)
{
    KIRQL old = LockHandle->OldIrql;
    spin_release(LockHandle->LockQueue.Lock);
    KeLowerIrql(old);
}

void KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    LockHandle->LockQueue.Next = NULL;
    LockHandle->LockQueue.Lock = SpinLock;
    spin_acquire(SpinLock);
}

void KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle)
{
    spin_release(LockHandle->LockQueue.Lock);
}

/* ===================================================================== */
/* EX_SPIN_LOCK: a 32-bit reader/writer spin lock                        */
/* ===================================================================== */
/* Bit 31: held exclusive.  Bit 30: an exclusive acquirer is waiting, which
 * keeps new shared acquirers out so writers cannot starve.  Bits 0-29: the
 * number of shared holders.  Zero is free, as drivers zero-initialize. */
#define EXSPIN_EXCLUSIVE 0x80000000u
#define EXSPIN_WAITER 0x40000000u
#define EXSPIN_SHARED_MASK 0x3FFFFFFFu

static inline ULONG *exspin_word(PEX_SPIN_LOCK lock)
{
    return (ULONG *)lock;
}

static void exspin_acquire_shared(PEX_SPIN_LOCK lock)
{
    ULONG *w = exspin_word(lock);
    ULONG rounds = 0;
    ULONG v = __atomic_load_n(w, __ATOMIC_RELAXED);
    for (;;) {
        if ((v & (EXSPIN_EXCLUSIVE | EXSPIN_WAITER)) == 0) {
            if (__atomic_compare_exchange_n(w, &v, v + 1, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return;
            continue;
        }
        spin_backoff(&rounds);
        v = __atomic_load_n(w, __ATOMIC_RELAXED);
    }
}

static void exspin_acquire_exclusive(PEX_SPIN_LOCK lock)
{
    ULONG *w = exspin_word(lock);
    ULONG rounds = 0;
    ULONG v = __atomic_load_n(w, __ATOMIC_RELAXED);
    for (;;) {
        if ((v & ~EXSPIN_WAITER) == 0) {
            /* Taking the lock clears the waiter bit; other waiting writers
             * set it again on their next round. */
            if (__atomic_compare_exchange_n(w, &v, EXSPIN_EXCLUSIVE, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return;
            continue;
        }
        if ((v & EXSPIN_WAITER) == 0)
            __atomic_fetch_or(w, EXSPIN_WAITER, __ATOMIC_RELAXED);
        spin_backoff(&rounds);
        v = __atomic_load_n(w, __ATOMIC_RELAXED);
    }
}

static void exspin_release_shared(PEX_SPIN_LOCK lock)
{
    ULONG old = __atomic_fetch_sub(exspin_word(lock), 1, __ATOMIC_RELEASE);
    if ((old & EXSPIN_SHARED_MASK) == 0)
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)lock, old, 0, 0);
}

static void exspin_release_exclusive(PEX_SPIN_LOCK lock)
{
    ULONG old = __atomic_fetch_and(exspin_word(lock), ~EXSPIN_EXCLUSIVE, __ATOMIC_RELEASE);
    if ((old & EXSPIN_EXCLUSIVE) == 0)
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)lock, old, 0, 0);
}

KIRQL ExAcquireSpinLockShared(PEX_SPIN_LOCK SpinLock)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    exspin_acquire_shared(SpinLock);
    return old;
}

void ExReleaseSpinLockShared(PEX_SPIN_LOCK SpinLock, KIRQL OldIrql)
{
    exspin_release_shared(SpinLock);
    KeLowerIrql(OldIrql);
}

KIRQL ExAcquireSpinLockExclusive(PEX_SPIN_LOCK SpinLock)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    exspin_acquire_exclusive(SpinLock);
    return old;
}

void ExReleaseSpinLockExclusive(PEX_SPIN_LOCK SpinLock, KIRQL OldIrql)
{
    exspin_release_exclusive(SpinLock);
    KeLowerIrql(OldIrql);
}

void ExAcquireSpinLockSharedAtDpcLevel(PEX_SPIN_LOCK SpinLock)
{
    exspin_acquire_shared(SpinLock);
}

void ExReleaseSpinLockSharedFromDpcLevel(PEX_SPIN_LOCK SpinLock)
{
    exspin_release_shared(SpinLock);
}

void ExAcquireSpinLockExclusiveAtDpcLevel(PEX_SPIN_LOCK SpinLock)
{
    exspin_acquire_exclusive(SpinLock);
}

void ExReleaseSpinLockExclusiveFromDpcLevel(PEX_SPIN_LOCK SpinLock)
{
    exspin_release_exclusive(SpinLock);
}

LOGICAL ExTryConvertSharedSpinLockExclusive(PEX_SPIN_LOCK SpinLock)
{
    ULONG *w = exspin_word(SpinLock);
    ULONG v = __atomic_load_n(w, __ATOMIC_RELAXED);
    /* Succeeds only while the caller is the sole shared holder; on failure
     * the caller still holds the lock shared. */
    while ((v & (EXSPIN_EXCLUSIVE | EXSPIN_SHARED_MASK)) == 1) {
        if (__atomic_compare_exchange_n(w, &v, EXSPIN_EXCLUSIVE | (v & EXSPIN_WAITER), 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return TRUE;
    }
    return FALSE;
}

/* ===================================================================== */
/* EX_PUSH_LOCK: pointer-sized reader/writer lock that may block          */
/* ===================================================================== */
/* Bit 0: held exclusive.  Bit 1: some thread sleeps on the futex.  Bit 2:
 * an exclusive acquirer is waiting (new sharers hold off).  Bits 4 and up:
 * shared holders, in units of 16.  Waiters spin briefly, then sleep on a
 * futex over the low 32 bits of Value; a release that ends the last hold
 * wakes every sleeper, which then compete again. */
#define PUSH_EXCLUSIVE ((ULONG_PTR)0x1)
#define PUSH_SLEEPERS ((ULONG_PTR)0x2)
#define PUSH_EXCL_WAITER ((ULONG_PTR)0x4)
#define PUSH_SHARE_INC ((ULONG_PTR)0x10)
#define PUSH_SHARE_MASK (~(ULONG_PTR)0xF)
#define PUSH_SPIN_ROUNDS 256u

static void push_sleep(PEX_PUSH_LOCK lock, ULONG_PTR expected)
{
    /* Returns at once if the low word changed since 'expected' was read. */
    syscall(SYS_futex, (uint32_t *)&lock->Value, FUTEX_WAIT_PRIVATE, (uint32_t)expected, NULL, NULL, 0);
}

static void push_wake_all(PEX_PUSH_LOCK lock)
{
    syscall(SYS_futex, (uint32_t *)&lock->Value, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void ExInitializePushLock(PEX_PUSH_LOCK PushLock)
{
    __atomic_store_n(&PushLock->Value, 0, __ATOMIC_RELAXED);
}

void ExAcquirePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    (void)Flags;
    ULONG rounds = 0;
    ULONG_PTR v = __atomic_load_n(&PushLock->Value, __ATOMIC_RELAXED);
    for (;;) {
        if ((v & (PUSH_EXCLUSIVE | PUSH_SHARE_MASK)) == 0) {
            ULONG_PTR nv = (v & PUSH_SLEEPERS) | PUSH_EXCLUSIVE;
            if (__atomic_compare_exchange_n(&PushLock->Value, &v, nv, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return;
            continue;
        }
        if ((v & PUSH_EXCL_WAITER) == 0) {
            if (!__atomic_compare_exchange_n(&PushLock->Value, &v, v | PUSH_EXCL_WAITER, 1, __ATOMIC_RELAXED,
                                             __ATOMIC_RELAXED))
                continue;
            v |= PUSH_EXCL_WAITER;
        }
        if (rounds < PUSH_SPIN_ROUNDS) {
            rounds++;
            YieldProcessor();
        } else {
            if ((v & PUSH_SLEEPERS) == 0) {
                if (!__atomic_compare_exchange_n(&PushLock->Value, &v, v | PUSH_SLEEPERS, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
                    continue;
                v |= PUSH_SLEEPERS;
            }
            push_sleep(PushLock, v);
        }
        v = __atomic_load_n(&PushLock->Value, __ATOMIC_RELAXED);
    }
}

void ExAcquirePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    (void)Flags;
    ULONG rounds = 0;
    ULONG_PTR v = __atomic_load_n(&PushLock->Value, __ATOMIC_RELAXED);
    for (;;) {
        if ((v & (PUSH_EXCLUSIVE | PUSH_EXCL_WAITER)) == 0) {
            if (__atomic_compare_exchange_n(&PushLock->Value, &v, v + PUSH_SHARE_INC, 1, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return;
            continue;
        }
        if (rounds < PUSH_SPIN_ROUNDS) {
            rounds++;
            YieldProcessor();
        } else {
            if ((v & PUSH_SLEEPERS) == 0) {
                if (!__atomic_compare_exchange_n(&PushLock->Value, &v, v | PUSH_SLEEPERS, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
                    continue;
                v |= PUSH_SLEEPERS;
            }
            push_sleep(PushLock, v);
        }
        v = __atomic_load_n(&PushLock->Value, __ATOMIC_RELAXED);
    }
}

void ExReleasePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    (void)Flags;
    ULONG_PTR old = __atomic_fetch_and(&PushLock->Value, ~(PUSH_EXCLUSIVE | PUSH_SLEEPERS), __ATOMIC_RELEASE);
    if ((old & PUSH_EXCLUSIVE) == 0)
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)PushLock, old, 1, 0);
    if (old & PUSH_SLEEPERS)
        push_wake_all(PushLock);
}

void ExReleasePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    (void)Flags;
    ULONG_PTR v = __atomic_load_n(&PushLock->Value, __ATOMIC_RELAXED);
    ULONG_PTR nv;
    do {
        if ((v & PUSH_SHARE_MASK) == 0 || (v & PUSH_EXCLUSIVE))
            KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)PushLock, v, 2, 0);
        nv = v - PUSH_SHARE_INC;
        if ((nv & PUSH_SHARE_MASK) == 0)
            nv &= ~PUSH_SLEEPERS; /* the last sharer wakes the sleepers */
    } while (!__atomic_compare_exchange_n(&PushLock->Value, &v, nv, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if ((nv & PUSH_SHARE_MASK) == 0 && (v & PUSH_SLEEPERS))
        push_wake_all(PushLock);
}
