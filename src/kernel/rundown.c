/*
 * rundown.c - run-down protection (EX_RUNDOWN_REF).
 *
 * Count encodes, as on Windows: bit 0 = run-down active (EX_RUNDOWN_ACTIVE),
 * references in units of 2 above it.  Unlike Windows, the waiter does not
 * park a wait-block pointer in Count; it sleeps on a futex over the low 32
 * bits of Count (little-endian), and the release that brings the count to
 * "active, no references" wakes it.
 *
 * After ExWaitForRundownProtectionRelease returns Count is EX_RUNDOWN_ACTIVE,
 * so every further acquire fails until ExReInitializeRundownProtection.
 */
#include "ke_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rundown waits on the low 32 bits of a ULONG_PTR: little-endian only"
#endif

#define RUNDOWN_ACTIVE ((ULONG_PTR)1)
#define RUNDOWN_COUNT_SHIFT 1
#define RUNDOWN_SPIN_ROUNDS 128u

static uint32_t *rundown_futex_word(PEX_RUNDOWN_REF RunRef)
{
    return (uint32_t *)&RunRef->Count;
}

void ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_RELAXED);
}

void ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_RELEASE);
}

BOOLEAN ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ULONG_PTR add = (ULONG_PTR)Count << RUNDOWN_COUNT_SHIFT;
    ULONG_PTR v = __atomic_load_n(&RunRef->Count, __ATOMIC_RELAXED);
    for (;;) {
        if (v & RUNDOWN_ACTIVE)
            return FALSE;
        if (__atomic_compare_exchange_n(&RunRef->Count, &v, v + add, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return TRUE;
    }
}

BOOLEAN ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    return ExAcquireRundownProtectionEx(RunRef, 1);
}

void ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ULONG_PTR sub = (ULONG_PTR)Count << RUNDOWN_COUNT_SHIFT;
    ULONG_PTR v = __atomic_load_n(&RunRef->Count, __ATOMIC_RELAXED);
    ULONG_PTR nv;
    do {
        /* Releasing more than was acquired: what a checked kernel asserts.
         * Letting it wrap would make the next wait hang forever. */
        if ((v >> RUNDOWN_COUNT_SHIFT) < Count)
            RtlAssert((PVOID) "run-down reference released more often than acquired", (PVOID)__FILE__, __LINE__,
                      NULL);
        nv = v - sub;
    } while (!__atomic_compare_exchange_n(&RunRef->Count, &v, nv, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (nv == RUNDOWN_ACTIVE && sub != 0)
        syscall(SYS_futex, rundown_futex_word(RunRef), FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ExReleaseRundownProtectionEx(RunRef, 1);
}

void ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef)
{
    /* Acquire ordering: the protected object may be torn down once we
     * return, so every holder's accesses must happen before. */
    ULONG_PTR v = __atomic_or_fetch(&RunRef->Count, RUNDOWN_ACTIVE, __ATOMIC_ACQ_REL);
    ULONG rounds = 0;
    while (v != RUNDOWN_ACTIVE) {
        if (rounds < RUNDOWN_SPIN_ROUNDS) {
            rounds++;
            YieldProcessor();
        } else {
            /* Returns at once if Count changed since v was read. */
            syscall(SYS_futex, rundown_futex_word(RunRef), FUTEX_WAIT_PRIVATE, (uint32_t)v, NULL, NULL, 0);
        }
        v = __atomic_load_n(&RunRef->Count, __ATOMIC_ACQUIRE);
    }
}

void ExRundownCompleted(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, RUNDOWN_ACTIVE, __ATOMIC_RELEASE);
}
