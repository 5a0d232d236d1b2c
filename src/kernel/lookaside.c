/*
 * lookaside.c - lookaside lists: NPAGED_LOOKASIDE_LIST, PAGED_LOOKASIDE_LIST
 * and LOOKASIDE_LIST_EX.
 *
 * Free blocks are cached on the list's SLIST_HEADER (the block itself is the
 * SLIST_ENTRY, so blocks are at least sizeof(SLIST_ENTRY) and 16-byte
 * aligned, which pool allocations are).  Allocation and free follow the WDK
 * inline routines, statistics included:
 *   allocate: TotalAllocates++; pop; if empty, AllocateMisses++ and call the
 *             allocate routine with (Type, Size, Tag[, Lookaside]);
 *   free:     TotalFrees++; if the cached depth >= Depth, FreeMisses++ and
 *             call the free routine, else push.
 * Windows starts Depth at 4 and lets its balance-set manager move it between
 * 4 and MaximumDepth (256) every second.  No such thread exists here, so
 * Depth starts at, and stays, MaximumDepth; the Depth argument is ignored,
 * as on Windows.
 *
 * Statistics are updated with relaxed atomic adds: exact under concurrency
 * and not reported as races by ThreadSanitizer.
 */
#include "ke_internal.h"

#define LOOKASIDE_MAXIMUM_DEPTH EX_MAXIMUM_LOOKASIDE_DEPTH_BASE

/* Pool types ExInitializeLookasideListEx accepts: a base type that is not
 * a must-succeed or invalid one, plus the documented modifier bits. */
#define LOOKASIDE_POOL_BASE_MASK 0x7
#define LOOKASIDE_POOL_MODIFIERS                                                                    \
    (POOL_QUOTA_FAIL_INSTEAD_OF_RAISE | POOL_RAISE_IF_ALLOCATION_FAILURE | 32 /* session */ |       \
     POOL_COLD_ALLOCATION | POOL_NX_ALLOCATION)
#define LOOKASIDE_EX_FLAGS (EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)

static inline void lookaside_count(ULONG *field)
{
    __atomic_add_fetch(field, 1, __ATOMIC_RELAXED);
}

static ULONG lookaside_block_size(SIZE_T size)
{
    if (size < sizeof(SLIST_ENTRY))
        size = sizeof(SLIST_ENTRY);
    return size > MAXULONG ? MAXULONG : (ULONG)size;
}

/* Everything but the allocate and free routines.  A macro because it fills
 * both GENERAL_LOOKASIDE and GENERAL_LOOKASIDE_POOL, which share their
 * member list but are distinct types.  Windows links ListEntry into a
 * system-wide list for the balance-set manager; here it is self-linked. */
#define LOOKASIDE_INIT_COMMON(l, type, size, tag)                                        \
    do {                                                                                 \
        InitializeSListHead(&(l)->ListHead);                                             \
        (l)->Depth = LOOKASIDE_MAXIMUM_DEPTH;                                            \
        (l)->MaximumDepth = LOOKASIDE_MAXIMUM_DEPTH;                                     \
        (l)->TotalAllocates = 0;                                                         \
        (l)->AllocateMisses = 0;                                                         \
        (l)->TotalFrees = 0;                                                             \
        (l)->FreeMisses = 0;                                                             \
        (l)->Type = (type);                                                              \
        (l)->Tag = (tag);                                                                \
        (l)->Size = lookaside_block_size(size);                                          \
        InitializeListHead(&(l)->ListEntry);                                             \
        (l)->LastTotalAllocates = 0;                                                     \
        (l)->LastAllocateMisses = 0;                                                     \
        (l)->Future[0] = 0;                                                              \
        (l)->Future[1] = 0;                                                              \
    } while (0)

/* ---- classic lists ---- */

static void lookaside_init_classic(PGENERAL_LOOKASIDE l, POOL_TYPE base, PALLOCATE_FUNCTION allocate,
                                   PFREE_FUNCTION free_routine, ULONG flags, SIZE_T size, ULONG tag)
{
    /* Since Windows 8 Flags may carry POOL_RAISE_IF_ALLOCATION_FAILURE and
     * POOL_NX_ALLOCATION; both become part of the pool type. */
    LOOKASIDE_INIT_COMMON(l, (POOL_TYPE)(base | flags), size, tag);
    l->Allocate = allocate != NULL ? allocate : ExAllocatePoolWithTag;
    l->Free = free_routine != NULL ? free_routine : ExFreePool;
}

static PVOID lookaside_allocate_classic(PGENERAL_LOOKASIDE l)
{
    lookaside_count(&l->TotalAllocates);
    PVOID entry = InterlockedPopEntrySList(&l->ListHead);
    if (entry == NULL) {
        lookaside_count(&l->AllocateMisses);
        entry = l->Allocate(l->Type, l->Size, l->Tag);
    }
    return entry;
}

static void lookaside_free_classic(PGENERAL_LOOKASIDE l, PVOID entry)
{
    lookaside_count(&l->TotalFrees);
    if (ExQueryDepthSList(&l->ListHead) >= l->Depth) {
        lookaside_count(&l->FreeMisses);
        l->Free(entry);
    } else {
        InterlockedPushEntrySList(&l->ListHead, (PSLIST_ENTRY)entry);
    }
}

static void lookaside_delete_classic(PGENERAL_LOOKASIDE l)
{
    PSLIST_ENTRY entry;
    while ((entry = InterlockedPopEntrySList(&l->ListHead)) != NULL)
        l->Free(entry);
}

void ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                     PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    (void)Depth;
    lookaside_init_classic(&Lookaside->L, NonPagedPool, Allocate, Free, Flags, Size, Tag);
}

void ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    lookaside_delete_classic(&Lookaside->L);
}

PVOID ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    return lookaside_allocate_classic(&Lookaside->L);
}

void ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    lookaside_free_classic(&Lookaside->L, Entry);
}

void ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                    PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    (void)Depth;
    lookaside_init_classic(&Lookaside->L, PagedPool, Allocate, Free, Flags, Size, Tag);
}

void ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    lookaside_delete_classic(&Lookaside->L);
}

PVOID ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    return lookaside_allocate_classic(&Lookaside->L);
}

void ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    lookaside_free_classic(&Lookaside->L, Entry);
}

/* ---- LOOKASIDE_LIST_EX ---- */

static PVOID lookaside_default_allocate_ex(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                           PLOOKASIDE_LIST_EX Lookaside)
{
    (void)Lookaside;
    /* Raises when PoolType carries POOL_RAISE_IF_ALLOCATION_FAILURE. */
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static void lookaside_default_free_ex(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside)
{
    (void)Lookaside;
    ExFreePool(Buffer);
}

static BOOLEAN lookaside_pool_type_valid(POOL_TYPE type)
{
    ULONG t = (ULONG)type;
    ULONG base = t & LOOKASIDE_POOL_BASE_MASK;
    if ((t & ~(ULONG)(LOOKASIDE_POOL_BASE_MASK | LOOKASIDE_POOL_MODIFIERS)) != 0)
        return FALSE;
    return base == NonPagedPool || base == PagedPool || base == NonPagedPoolCacheAligned ||
           base == PagedPoolCacheAligned;
}

NTSTATUS ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                     PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags, SIZE_T Size,
                                     ULONG Tag, USHORT Depth)
{
    (void)Depth;
    if (!lookaside_pool_type_valid(PoolType))
        return STATUS_INVALID_PARAMETER_4;
    /* Unknown bits, or both mutually exclusive flags. */
    if ((Flags & ~LOOKASIDE_EX_FLAGS) != 0 || Flags == LOOKASIDE_EX_FLAGS)
        return STATUS_INVALID_PARAMETER_5;
    if (Size > MAXULONG)
        return STATUS_INVALID_PARAMETER_6;
    /* The flags reach the allocate routine through its PoolType argument. */
    ULONG type = (ULONG)PoolType;
    if (Flags & EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL)
        type |= POOL_RAISE_IF_ALLOCATION_FAILURE;
    if (Flags & EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)
        type |= POOL_QUOTA_FAIL_INSTEAD_OF_RAISE;
    PGENERAL_LOOKASIDE_POOL l = &Lookaside->L;
    LOOKASIDE_INIT_COMMON(l, (POOL_TYPE)type, Size, Tag);
    l->AllocateEx = Allocate != NULL ? Allocate : lookaside_default_allocate_ex;
    l->FreeEx = Free != NULL ? Free : lookaside_default_free_ex;
    return STATUS_SUCCESS;
}

void ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    PGENERAL_LOOKASIDE_POOL l = &Lookaside->L;
    PSLIST_ENTRY entry = InterlockedFlushSList(&l->ListHead);
    while (entry != NULL) {
        PSLIST_ENTRY next = entry->Next;
        l->FreeEx(entry, Lookaside);
        entry = next;
    }
}

void ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    ExFlushLookasideListEx(Lookaside);
}

PVOID ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    PGENERAL_LOOKASIDE_POOL l = &Lookaside->L;
    lookaside_count(&l->TotalAllocates);
    PVOID entry = InterlockedPopEntrySList(&l->ListHead);
    if (entry == NULL) {
        lookaside_count(&l->AllocateMisses);
        entry = l->AllocateEx(l->Type, l->Size, l->Tag, Lookaside);
    }
    return entry;
}

void ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry)
{
    PGENERAL_LOOKASIDE_POOL l = &Lookaside->L;
    lookaside_count(&l->TotalFrees);
    if (ExQueryDepthSList(&l->ListHead) >= l->Depth) {
        lookaside_count(&l->FreeMisses);
        l->FreeEx(Entry, Lookaside);
    } else {
        InterlockedPushEntrySList(&l->ListHead, (PSLIST_ENTRY)Entry);
    }
}
