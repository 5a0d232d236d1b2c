/*
 * interlocked_list.c - ExInterlocked{Insert,Remove}*List and
 * ExInterlocked{Push,Pop}EntryList: the list macros under a caller's spin
 * lock.  Windows takes the lock with interrupts off, so these work at any
 * IRQL; here the lock is taken at DISPATCH_LEVEL, or at the caller's IRQL
 * when that is higher.
 */
#include "ke_internal.h"

static KIRQL ilist_lock(PKSPIN_LOCK Lock)
{
    KIRQL old = KeGetCurrentIrql();
    if (old < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeAcquireSpinLockAtDpcLevel(Lock);
    return old;
}

static void ilist_unlock(PKSPIN_LOCK Lock, KIRQL old)
{
    KeReleaseSpinLockFromDpcLevel(Lock);
    KeLowerIrql(old);
}

PLIST_ENTRY ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    KIRQL old = ilist_lock(Lock);
    PLIST_ENTRY first = ListHead->Flink;
    InsertHeadList(ListHead, ListEntry);
    ilist_unlock(Lock, old);
    return first == ListHead ? NULL : first;
}

PLIST_ENTRY ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    KIRQL old = ilist_lock(Lock);
    PLIST_ENTRY last = ListHead->Blink;
    InsertTailList(ListHead, ListEntry);
    ilist_unlock(Lock, old);
    return last == ListHead ? NULL : last;
}

PLIST_ENTRY ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    KIRQL old = ilist_lock(Lock);
    PLIST_ENTRY entry = IsListEmpty(ListHead) ? NULL : RemoveHeadList(ListHead);
    ilist_unlock(Lock, old);
    return entry;
}

PSINGLE_LIST_ENTRY ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead, PSINGLE_LIST_ENTRY ListEntry,
                                              PKSPIN_LOCK Lock)
{
    KIRQL old = ilist_lock(Lock);
    PSINGLE_LIST_ENTRY first = ListHead->Next;
    PushEntryList(ListHead, ListEntry);
    ilist_unlock(Lock, old);
    return first;
}

PSINGLE_LIST_ENTRY ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    KIRQL old = ilist_lock(Lock);
    PSINGLE_LIST_ENTRY entry = PopEntryList(ListHead);
    ilist_unlock(Lock, old);
    return entry;
}
