/*
 * slist.c - interlocked singly linked lists (SLIST_HEADER), hazard H9.
 *
 * The header keeps the Windows x64 encoding declared in wdm.h, so
 * FirstEntrySList() and QueryDepthSList() read it as drivers expect:
 *   word 0 (Alignment): Depth in bits 0-15, Sequence in bits 16-63;
 *   word 1 (Region):    Reserved in bits 0-3, NextEntry (address >> 4) above,
 *                       i.e. the address of the first entry itself.
 *
 * Windows updates the header with a 16-byte compare-exchange.  A lock-free
 * pop must read first->Next of an entry another thread may already have
 * popped and freed, which Windows survives with a special fault handler and
 * ASan would rightly report; so every operation here runs under one of 64
 * striped spin locks chosen by the header's address.  The header words are
 * still stored atomically so lock-free readers (ExQueryDepthSList) are not
 * data races.
 *
 * Alignment: InitializeSListHead raises STATUS_DATATYPE_MISALIGNMENT for a
 * header that is not 16-byte aligned, as the WDK's inline version does.  The
 * other operations treat a misaligned header or entry (which the x64
 * encoding cannot represent) as an unhandled alignment fault: bug check
 * KMODE_EXCEPTION_NOT_HANDLED (0x1E) with P1 = STATUS_DATATYPE_MISALIGNMENT
 * and P4 = the misaligned address.
 */
#include "ke_internal.h"

#include <sched.h>

#define SLIST_STRIPES 64u
#define SLIST_STRIPE_SHIFT 58 /* 64 - log2(SLIST_STRIPES) */
#define SLIST_PAUSE_ROUNDS 128u
#define SLIST_DEPTH_MASK 0xFFFFULL
#define SLIST_SEQUENCE_SHIFT 16
#define SLIST_REGION_RESERVED 0xFULL

typedef struct slist_stripe {
    ULONG lock;
} __attribute__((aligned(SYSTEM_CACHE_ALIGNMENT_SIZE))) slist_stripe;

static slist_stripe slist_stripes[SLIST_STRIPES];

static slist_stripe *slist_stripe_for(PSLIST_HEADER head)
{
    ULONGLONG key = (ULONGLONG)(ULONG_PTR)head >> 4;
    return &slist_stripes[(key * 0x9E3779B97F4A7C15ULL) >> SLIST_STRIPE_SHIFT];
}

static void slist_lock(slist_stripe *s)
{
    ULONG rounds = 0;
    for (;;) {
        if (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED) != 0) {
            if (rounds < SLIST_PAUSE_ROUNDS) {
                rounds++;
                YieldProcessor();
            } else {
                sched_yield(); /* the holder may have been descheduled */
            }
        }
    }
}

static void slist_unlock(slist_stripe *s)
{
    __atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static void slist_misaligned(const void *address, void *caller)
{
    KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)STATUS_DATATYPE_MISALIGNMENT, (ULONG_PTR)caller, 0,
                 (ULONG_PTR)address);
}

#define SLIST_CHECK_ALIGNED(p)                                          \
    do {                                                                \
        if (((ULONG_PTR)(p) & (MEMORY_ALLOCATION_ALIGNMENT - 1)) != 0)  \
            slist_misaligned((p), __builtin_return_address(0));         \
    } while (0)

static inline ULONGLONG slist_load_word0(PSLIST_HEADER head)
{
    return __atomic_load_n(&head->Alignment, __ATOMIC_RELAXED);
}

static inline ULONGLONG slist_load_word1(PSLIST_HEADER head)
{
    return __atomic_load_n(&head->Region, __ATOMIC_RELAXED);
}

/* Stores a new header: depth and first entry, sequence advanced by one. */
static inline void slist_store(PSLIST_HEADER head, ULONGLONG word0, ULONGLONG word1, ULONGLONG depth,
                               PSLIST_ENTRY first)
{
    ULONGLONG sequence = (word0 >> SLIST_SEQUENCE_SHIFT) + 1;
    __atomic_store_n(&head->Alignment, (depth & SLIST_DEPTH_MASK) | (sequence << SLIST_SEQUENCE_SHIFT),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&head->Region, (ULONGLONG)(ULONG_PTR)first | (word1 & SLIST_REGION_RESERVED),
                     __ATOMIC_RELAXED);
}

static inline PSLIST_ENTRY slist_first(ULONGLONG word1)
{
    return (PSLIST_ENTRY)(ULONG_PTR)(word1 & ~SLIST_REGION_RESERVED);
}

void InitializeSListHead(PSLIST_HEADER SListHead)
{
    if (((ULONG_PTR)SListHead & (MEMORY_ALLOCATION_ALIGNMENT - 1)) != 0)
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
    __atomic_store_n(&SListHead->Alignment, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&SListHead->Region, 0, __ATOMIC_RELAXED);
}

PSLIST_ENTRY InterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry)
{
    SLIST_CHECK_ALIGNED(ListHead);
    SLIST_CHECK_ALIGNED(ListEntry);
    slist_stripe *s = slist_stripe_for(ListHead);
    slist_lock(s);
    ULONGLONG w0 = slist_load_word0(ListHead);
    ULONGLONG w1 = slist_load_word1(ListHead);
    PSLIST_ENTRY first = slist_first(w1);
    ListEntry->Next = first;
    slist_store(ListHead, w0, w1, (w0 & SLIST_DEPTH_MASK) + 1, ListEntry);
    slist_unlock(s);
    return first;
}

PSLIST_ENTRY InterlockedPopEntrySList(PSLIST_HEADER ListHead)
{
    SLIST_CHECK_ALIGNED(ListHead);
    slist_stripe *s = slist_stripe_for(ListHead);
    slist_lock(s);
    ULONGLONG w0 = slist_load_word0(ListHead);
    ULONGLONG w1 = slist_load_word1(ListHead);
    PSLIST_ENTRY first = slist_first(w1);
    if (first != NULL)
        slist_store(ListHead, w0, w1, (w0 & SLIST_DEPTH_MASK) - 1, first->Next);
    slist_unlock(s);
    return first;
}

PSLIST_ENTRY InterlockedFlushSList(PSLIST_HEADER ListHead)
{
    SLIST_CHECK_ALIGNED(ListHead);
    slist_stripe *s = slist_stripe_for(ListHead);
    slist_lock(s);
    ULONGLONG w0 = slist_load_word0(ListHead);
    ULONGLONG w1 = slist_load_word1(ListHead);
    PSLIST_ENTRY first = slist_first(w1);
    if (first != NULL)
        slist_store(ListHead, w0, w1, 0, NULL);
    slist_unlock(s);
    return first;
}

PSLIST_ENTRY InterlockedPushListSListEx(PSLIST_HEADER ListHead, PSLIST_ENTRY List, PSLIST_ENTRY ListEnd,
                                        ULONG Count)
{
    SLIST_CHECK_ALIGNED(ListHead);
    SLIST_CHECK_ALIGNED(List);
    SLIST_CHECK_ALIGNED(ListEnd);
    slist_stripe *s = slist_stripe_for(ListHead);
    slist_lock(s);
    ULONGLONG w0 = slist_load_word0(ListHead);
    ULONGLONG w1 = slist_load_word1(ListHead);
    PSLIST_ENTRY first = slist_first(w1);
    ListEnd->Next = first;
    slist_store(ListHead, w0, w1, (w0 & SLIST_DEPTH_MASK) + Count, List);
    slist_unlock(s);
    return first;
}

USHORT ExQueryDepthSList(PSLIST_HEADER SListHead)
{
    return (USHORT)(slist_load_word0(SListHead) & SLIST_DEPTH_MASK);
}
