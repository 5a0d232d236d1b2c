/*
 * test_lookaside.c - NPAGED/PAGED lookaside lists and LOOKASIDE_LIST_EX:
 * block reuse, allocate/free routines and their arguments, statistics,
 * the depth limit, delete/flush, initialization statuses, failure
 * injection and raising, and concurrent use.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>

#include "wt.h"

#define TAG_LA TAG_FROM_CHARS('L', 'k', 'A', 's')
#define TAG_LB TAG_FROM_CHARS('L', 'k', 'B', 's')

static void npaged_reuses_blocks(void)
{
    NPAGED_LOOKASIDE_LIST la;
    memset(&la, 0xCC, sizeof(la));
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 100, TAG_LA, 0);
    CHECK_EQ(la.L.Type, NonPagedPool);
    CHECK_EQ(la.L.Tag, TAG_LA);
    CHECK_EQ(la.L.Size, 100);
    CHECK_EQ(la.L.TotalAllocates, 0);
    CHECK_EQ(la.L.AllocateMisses, 0);
    CHECK_EQ(la.L.TotalFrees, 0);
    CHECK_EQ(la.L.FreeMisses, 0);
    CHECK_EQ(la.L.MaximumDepth, EX_MAXIMUM_LOOKASIDE_DEPTH_BASE);
    CHECK(la.L.Depth >= 4 && la.L.Depth <= la.L.MaximumDepth);
    CHECK(la.L.Allocate == ExAllocatePoolWithTag);
    CHECK(la.L.Free == ExFreePool);
    CHECK_EQ(ExQueryDepthSList(&la.L.ListHead), 0);

    unsigned char *p1 = ExAllocateFromNPagedLookasideList(&la);
    CHECK(p1 != NULL);
    if (p1 == NULL)
        return;
    CHECK_EQ((ULONG_PTR)p1 % MEMORY_ALLOCATION_ALIGNMENT, 0);
    memset(p1, 0x77, 100);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 1);
    CHECK_EQ(la.L.TotalAllocates, 1);
    CHECK_EQ(la.L.AllocateMisses, 1);

    ExFreeToNPagedLookasideList(&la, p1);
    CHECK_EQ(la.L.TotalFrees, 1);
    CHECK_EQ(la.L.FreeMisses, 0);
    CHECK_EQ(ExQueryDepthSList(&la.L.ListHead), 1);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 1); /* cached, not freed */

    unsigned char *p2 = ExAllocateFromNPagedLookasideList(&la);
    CHECK(p2 == p1);
    CHECK_EQ(la.L.TotalAllocates, 2);
    CHECK_EQ(la.L.AllocateMisses, 1);
    CHECK_EQ(ExQueryDepthSList(&la.L.ListHead), 0);

    unsigned char *p3 = ExAllocateFromNPagedLookasideList(&la);
    CHECK(p3 != NULL && p3 != p2);
    CHECK_EQ(la.L.AllocateMisses, 2);
    ExFreeToNPagedLookasideList(&la, p2);
    ExFreeToNPagedLookasideList(&la, p3);
    CHECK_EQ(la.L.TotalFrees, 3);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 2);

    ExDeleteNPagedLookasideList(&la);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
}

static void small_sizes_round_up_to_an_slist_entry(void)
{
    PAGED_LOOKASIDE_LIST la;
    ExInitializePagedLookasideList(&la, NULL, NULL, 0, 4, TAG_LA, 0);
    CHECK_EQ(la.L.Type, PagedPool);
    CHECK_EQ(la.L.Size, sizeof(SLIST_ENTRY));
    PVOID p = ExAllocateFromPagedLookasideList(&la);
    CHECK(p != NULL);
    CHECK_EQ(openwsk_pool_outstanding_bytes(TAG_LA), sizeof(SLIST_ENTRY));
    ExFreeToPagedLookasideList(&la, p);
    CHECK(ExAllocateFromPagedLookasideList(&la) == p);
    ExFreeToPagedLookasideList(&la, p);
    ExDeletePagedLookasideList(&la);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
}

/* ---- custom routines ---- */

static struct {
    int allocs, frees;
    POOL_TYPE type;
    SIZE_T size;
    ULONG tag;
    PVOID last_freed;
} calls;

static PVOID custom_allocate(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    calls.allocs++;
    calls.type = PoolType;
    calls.size = NumberOfBytes;
    calls.tag = Tag;
    return ExAllocatePoolWithTag(NonPagedPool, NumberOfBytes, TAG_LB);
}

static void custom_free(PVOID Buffer)
{
    calls.frees++;
    calls.last_freed = Buffer;
    ExFreePoolWithTag(Buffer, TAG_LB);
}

static void custom_routines_get_type_size_tag(void)
{
    memset(&calls, 0, sizeof(calls));
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, custom_allocate, custom_free, POOL_NX_ALLOCATION, 200, TAG_LA, 0);
    CHECK(la.L.Allocate == custom_allocate);
    CHECK(la.L.Free == custom_free);
    PVOID p = ExAllocateFromNPagedLookasideList(&la);
    CHECK(p != NULL);
    CHECK_EQ(calls.allocs, 1);
    CHECK_EQ(calls.type, NonPagedPool | POOL_NX_ALLOCATION);
    CHECK_EQ(calls.size, 200);
    CHECK_EQ(calls.tag, TAG_LA);
    ExFreeToNPagedLookasideList(&la, p);
    CHECK_EQ(calls.frees, 0); /* cached */
    CHECK(ExAllocateFromNPagedLookasideList(&la) == p);
    CHECK_EQ(calls.allocs, 1);
    ExFreeToNPagedLookasideList(&la, p);
    ExDeleteNPagedLookasideList(&la);
    CHECK_EQ(calls.frees, 1);
    CHECK(calls.last_freed == p);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LB), 0);

    memset(&calls, 0, sizeof(calls));
    PAGED_LOOKASIDE_LIST pl;
    ExInitializePagedLookasideList(&pl, custom_allocate, custom_free, 0, 64, TAG_LA, 0);
    p = ExAllocateFromPagedLookasideList(&pl);
    CHECK_EQ(calls.type, PagedPool);
    CHECK_EQ(calls.size, 64);
    ExFreeToPagedLookasideList(&pl, p);
    ExDeletePagedLookasideList(&pl);
    CHECK_EQ(calls.frees, 1);
}

static void free_beyond_depth_goes_to_free_routine(void)
{
    enum { N = 300 };
    static PVOID blocks[N];
    memset(&calls, 0, sizeof(calls));
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, custom_allocate, custom_free, 0, 32, TAG_LA, 0);
    for (int i = 0; i < N; i++) {
        blocks[i] = ExAllocateFromNPagedLookasideList(&la);
        CHECK(blocks[i] != NULL);
    }
    CHECK_EQ(calls.allocs, N);
    CHECK_EQ(la.L.AllocateMisses, N);
    for (int i = 0; i < N; i++)
        ExFreeToNPagedLookasideList(&la, blocks[i]);
    USHORT cached = ExQueryDepthSList(&la.L.ListHead);
    CHECK_EQ(cached, la.L.Depth);
    CHECK(cached <= la.L.MaximumDepth);
    CHECK_EQ(la.L.TotalFrees, N);
    CHECK_EQ(la.L.FreeMisses, N - cached);
    CHECK_EQ(calls.frees, N - cached);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LB), cached);
    ExDeleteNPagedLookasideList(&la);
    CHECK_EQ(calls.frees, N);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LB), 0);
}

static void classic_list_raise_flag(void)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, POOL_RAISE_IF_ALLOCATION_FAILURE, 48, TAG_LA, 0);
    CHECK_EQ(la.L.Type, NonPagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE);
    volatile NTSTATUS code = STATUS_SUCCESS;
    PVOID volatile p = (PVOID)1;
    openwsk_fault_fail_allocation(1);
    __try {
        p = ExAllocateFromNPagedLookasideList(&la);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    openwsk_fault_fail_allocation(0);
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);
    CHECK(p == (PVOID)1);
    ExDeleteNPagedLookasideList(&la);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
}

/* ---- LOOKASIDE_LIST_EX ---- */

typedef struct my_private_data {
    LONG allocations;
    LONG frees;
    POOL_TYPE last_type;
    SIZE_T last_size;
    ULONG last_tag;
    int wrong_lookaside;
    LOOKASIDE_LIST_EX lookaside;
} my_private_data;

static PVOID my_allocate_ex(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, PLOOKASIDE_LIST_EX Lookaside)
{
    my_private_data *ctx = CONTAINING_RECORD(Lookaside, my_private_data, lookaside);
    ctx->allocations++;
    ctx->last_type = PoolType;
    ctx->last_size = NumberOfBytes;
    ctx->last_tag = Tag;
    return ExAllocatePoolWithTag(PoolType & ~POOL_RAISE_IF_ALLOCATION_FAILURE, NumberOfBytes, Tag);
}

static void my_free_ex(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside)
{
    my_private_data *ctx = CONTAINING_RECORD(Lookaside, my_private_data, lookaside);
    ctx->frees++;
    ExFreePool(Buffer);
}

static void ex_init_statuses(void)
{
    LOOKASIDE_LIST_EX la;
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx, 0, 64, TAG_LA, 0), STATUS_SUCCESS);
    ExDeleteLookasideListEx(&la);
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, PagedPool, 0, 64, TAG_LA, 0), STATUS_SUCCESS);
    ExDeleteLookasideListEx(&la);
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNxCacheAligned, 0, 64, TAG_LA, 0),
             STATUS_SUCCESS);
    ExDeleteLookasideListEx(&la);

    /* Flags: unknown bits, or both mutually exclusive ones. */
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx, 4, 64, TAG_LA, 0),
             STATUS_INVALID_PARAMETER_5);
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx, 0x80000000u, 64, TAG_LA, 0),
             STATUS_INVALID_PARAMETER_5);
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx,
                                         EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL |
                                             EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE,
                                         64, TAG_LA, 0),
             STATUS_INVALID_PARAMETER_5);
    /* Pool types. */
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, DontUseThisType, 0, 64, TAG_LA, 0),
             STATUS_INVALID_PARAMETER_4);
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, MaxPoolType, 0, 64, TAG_LA, 0),
             STATUS_INVALID_PARAMETER_4);
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, (POOL_TYPE)0x10000, 0, 64, TAG_LA, 0),
             STATUS_INVALID_PARAMETER_4);

    /* The flags are folded into the pool type the routine receives. */
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL,
                                         64, TAG_LA, 0),
             STATUS_SUCCESS);
    CHECK_EQ(la.L.Type, NonPagedPoolNx | POOL_RAISE_IF_ALLOCATION_FAILURE);
    ExDeleteLookasideListEx(&la);
    CHECK_EQ(ExInitializeLookasideListEx(&la, my_allocate_ex, my_free_ex, NonPagedPoolNx,
                                         EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE, 64, TAG_LA, 0),
             STATUS_SUCCESS);
    CHECK_EQ(la.L.Type, NonPagedPoolNx | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE);
    ExDeleteLookasideListEx(&la);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
}

static void ex_routines_get_the_lookaside(void)
{
    my_private_data *ctx = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*ctx), TAG_LB);
    CHECK(ctx != NULL);
    if (ctx == NULL)
        return;
    CHECK_EQ((ULONG_PTR)&ctx->lookaside % 16, 0);
    CHECK_EQ(ExInitializeLookasideListEx(&ctx->lookaside, my_allocate_ex, my_free_ex, NonPagedPoolNx, 0, 256,
                                         TAG_LA, 0),
             STATUS_SUCCESS);
    CHECK(ctx->lookaside.L.AllocateEx == my_allocate_ex);
    CHECK(ctx->lookaside.L.FreeEx == my_free_ex);
    PVOID a = ExAllocateFromLookasideListEx(&ctx->lookaside);
    PVOID b = ExAllocateFromLookasideListEx(&ctx->lookaside);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK_EQ(ctx->allocations, 2);
    CHECK_EQ(ctx->last_type, NonPagedPoolNx);
    CHECK_EQ(ctx->last_size, 256);
    CHECK_EQ(ctx->last_tag, TAG_LA);
    ExFreeToLookasideListEx(&ctx->lookaside, a);
    ExFreeToLookasideListEx(&ctx->lookaside, b);
    CHECK_EQ(ctx->frees, 0);
    CHECK(ExAllocateFromLookasideListEx(&ctx->lookaside) == b); /* LIFO reuse */
    CHECK_EQ(ctx->allocations, 2);
    CHECK_EQ(ctx->lookaside.L.TotalAllocates, 3);
    CHECK_EQ(ctx->lookaside.L.AllocateMisses, 2);
    CHECK_EQ(ctx->lookaside.L.TotalFrees, 2);
    ExFreeToLookasideListEx(&ctx->lookaside, b);

    /* Flush frees every cached entry through FreeEx and empties the list. */
    ExFlushLookasideListEx(&ctx->lookaside);
    CHECK_EQ(ctx->frees, 2);
    CHECK_EQ(ExQueryDepthSList(&ctx->lookaside.L.ListHead), 0);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
    PVOID c = ExAllocateFromLookasideListEx(&ctx->lookaside);
    CHECK_EQ(ctx->allocations, 3); /* a miss after the flush */
    ExFreeToLookasideListEx(&ctx->lookaside, c);
    ExDeleteLookasideListEx(&ctx->lookaside);
    CHECK_EQ(ctx->frees, 3);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
    ExFreePoolWithTag(ctx, TAG_LB);
}

static void ex_failure_injection(void)
{
    LOOKASIDE_LIST_EX la;
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx, 0, 128, TAG_LA, 0), STATUS_SUCCESS);

    /* A miss that fails returns NULL (statistics still count it). */
    openwsk_fault_fail_allocation(1);
    CHECK(ExAllocateFromLookasideListEx(&la) == NULL);
    openwsk_fault_fail_allocation(0);
    CHECK_EQ(la.L.TotalAllocates, 1);
    CHECK_EQ(la.L.AllocateMisses, 1);

    /* A hit never reaches the pool, so injected failures do not apply. */
    PVOID p = ExAllocateFromLookasideListEx(&la);
    CHECK(p != NULL);
    ExFreeToLookasideListEx(&la, p);
    openwsk_fault_fail_allocation(1);
    CHECK(ExAllocateFromLookasideListEx(&la) == p);
    CHECK(ExAllocateFromLookasideListEx(&la) == NULL); /* the next miss takes the injected failure */
    openwsk_fault_fail_allocation(0);
    ExFreeToLookasideListEx(&la, p);
    ExDeleteLookasideListEx(&la);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);

    /* EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL: the default routine raises. */
    CHECK_EQ(ExInitializeLookasideListEx(&la, NULL, NULL, NonPagedPoolNx, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL,
                                         128, TAG_LA, 0),
             STATUS_SUCCESS);
    volatile NTSTATUS code = STATUS_SUCCESS;
    PVOID volatile q = (PVOID)1;
    openwsk_fault_fail_allocation(1);
    __try {
        q = ExAllocateFromLookasideListEx(&la);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    openwsk_fault_fail_allocation(0);
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);
    CHECK(q == (PVOID)1);
    q = ExAllocateFromLookasideListEx(&la); /* without injection it works */
    CHECK(q != NULL);
    ExFreeToLookasideListEx(&la, q);
    ExDeleteLookasideListEx(&la);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
}

/* ---- concurrency ---- */

#define THREADS 4
#define ROUNDS 20000

static LOOKASIDE_LIST_EX shared_la;
static NPAGED_LOOKASIDE_LIST shared_npla;
static int corrupted;

static void *lookaside_thread(void *arg)
{
    int me = (int)(long)arg;
    PVOID held[4];
    for (int i = 0; i < ROUNDS; i++) {
        int n = 1 + (i & 3);
        for (int k = 0; k < n; k++) {
            held[k] = (i & 1) ? ExAllocateFromLookasideListEx(&shared_la)
                              : ExAllocateFromNPagedLookasideList(&shared_npla);
            if (held[k] != NULL)
                memset(held[k], me, 64); /* plain writes: TSan checks hand-over */
        }
        for (int k = 0; k < n; k++) {
            if (held[k] == NULL)
                continue;
            if (((unsigned char *)held[k])[63] != (unsigned char)me)
                __atomic_add_fetch(&corrupted, 1, __ATOMIC_RELAXED);
            if (i & 1)
                ExFreeToLookasideListEx(&shared_la, held[k]);
            else
                ExFreeToNPagedLookasideList(&shared_npla, held[k]);
        }
    }
    return NULL;
}

static void concurrent_use(void)
{
    pthread_t t[THREADS];
    CHECK_EQ(ExInitializeLookasideListEx(&shared_la, NULL, NULL, NonPagedPoolNx, 0, 64, TAG_LA, 0),
             STATUS_SUCCESS);
    ExInitializeNPagedLookasideList(&shared_npla, NULL, NULL, 0, 64, TAG_LA, 0);
    corrupted = 0;
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, lookaside_thread, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(corrupted, 0);
    /* Odd rounds use the Ex list with n = 2 or 4 blocks, even rounds the
     * classic one with n = 1 or 3. */
    ULONG ex_total = (ULONG)THREADS * (ROUNDS / 4) * (2 + 4);
    ULONG classic_total = (ULONG)THREADS * (ROUNDS / 4) * (1 + 3);
    CHECK_EQ(shared_la.L.TotalAllocates, ex_total);
    CHECK_EQ(shared_la.L.TotalFrees, ex_total);
    CHECK_EQ(shared_npla.L.TotalAllocates, classic_total);
    CHECK_EQ(shared_npla.L.TotalFrees, classic_total);
    CHECK(shared_la.L.AllocateMisses <= THREADS * 4 + shared_la.L.FreeMisses);
    ExDeleteLookasideListEx(&shared_la);
    ExDeleteNPagedLookasideList(&shared_npla);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_LA), 0);
}

int main(void)
{
    WT_RUN(npaged_reuses_blocks);
    WT_RUN(small_sizes_round_up_to_an_slist_entry);
    WT_RUN(custom_routines_get_type_size_tag);
    WT_RUN(free_beyond_depth_goes_to_free_routine);
    WT_RUN(classic_list_raise_flag);
    WT_RUN(ex_init_statuses);
    WT_RUN(ex_routines_get_the_lookaside);
    WT_RUN(ex_failure_injection);
    WT_RUN(concurrent_use);
    return wt_finish();
}
