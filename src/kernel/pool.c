/*
 * pool.c - executive pool: tagged allocations with per-tag accounting,
 * leak reporting and failure injection.
 *
 * Every block carries a 16-byte header just before the caller's pointer,
 * which keeps the 16-byte alignment Windows guarantees on x64.  Blocks of a
 * page or more, and cache-aligned requests, get a larger alignment by
 * placing the header at the end of a padding area.
 */
#include "ke_internal.h"
#include "verifier.h"
#include "adversity.h"
#include "timeline.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>

#define POOL_MAGIC_LIVE 0x504Fu /* "OP" */
#define POOL_MAGIC_FREED 0xDEADu
#define POOL_MAGIC_SPECIAL 0x5350u /* "PS": a special pool block (verifier_pool.c) */
#define POOL_TAG_SLOTS 4096u /* distinct tags tracked; more are folded into one slot */

typedef struct pool_header {
    ULONG tag;
    USHORT magic;
    USHORT offset16; /* distance from the malloc'd base to the caller's pointer, in 16-byte units */
    SIZE_T size;
} pool_header;
_Static_assert(sizeof(pool_header) == 16, "pool header must keep 16-byte alignment");

typedef struct pool_tag_stats {
    ULONG tag;          /* 0 = empty slot; tag 0 itself is stored as POOL_TAG_ZERO */
    LONGLONG count;     /* outstanding allocations */
    LONGLONG bytes;     /* outstanding bytes */
} pool_tag_stats;

#define POOL_TAG_ZERO 0xFFFFFFFFu

static pool_tag_stats pool_tags[POOL_TAG_SLOTS];
static ULONGLONG pool_allocations;
static LONG pool_fail_countdown;

static pool_tag_stats *pool_stats_for(ULONG tag)
{
    ULONG key = tag ? tag : POOL_TAG_ZERO;
    ULONG h = (key * 2654435761u) % POOL_TAG_SLOTS;
    for (ULONG probe = 0; probe < POOL_TAG_SLOTS; probe++) {
        pool_tag_stats *s = &pool_tags[(h + probe) % POOL_TAG_SLOTS];
        ULONG cur = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
        if (cur == key)
            return s;
        if (cur == 0) {
            ULONG expected = 0;
            if (__atomic_compare_exchange_n(&s->tag, &expected, key, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
                expected == key)
                return s;
        }
    }
    return &pool_tags[0]; /* table full: accounting degrades, allocation still works */
}

static BOOLEAN pool_should_fail(void)
{
    __atomic_add_fetch(&pool_allocations, 1, __ATOMIC_RELAXED);
    LONG n = __atomic_load_n(&pool_fail_countdown, __ATOMIC_ACQUIRE);
    while (n > 0) {
        if (__atomic_compare_exchange_n(&pool_fail_countdown, &n, n - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return n == 1;
    }
    return FALSE;
}

/* driver: an ExAllocatePool* call of the driver's, which the verifier's
 * pool group places in special pool. */
static void *pool_alloc_aligned(SIZE_T bytes, ULONG tag, BOOLEAN zero, SIZE_T align, BOOLEAN driver)
{
    if (pool_should_fail())
        return NULL;
    if (bytes > ((SIZE_T)1 << 46))
        return NULL;
    if (align < 16)
        align = 16;
    if (driver && openwsk_verifying(OPENWSK_VERIFY_POOL)) {
        unsigned char *user = openwsk_verify_pool_map(bytes, align, tag); /* zero-filled */
        if (user == NULL)
            return NULL;
        pool_header *h = (pool_header *)user - 1;
        h->tag = tag;
        h->magic = POOL_MAGIC_SPECIAL;
        h->offset16 = 0;
        h->size = bytes;
        pool_tag_stats *s = pool_stats_for(tag);
        __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->bytes, (LONGLONG)bytes, __ATOMIC_RELAXED);
        openwsk_trace_pool_changed();
        return user;
    }
    unsigned char *base;
    if (align == 16) {
        base = malloc(bytes + 16);
    } else {
        void *p = NULL;
        base = posix_memalign(&p, align, bytes + align) == 0 ? p : NULL;
    }
    if (base == NULL)
        return NULL;
    unsigned char *user = base + align;
    pool_header *h = (pool_header *)user - 1;
    h->tag = tag;
    h->magic = POOL_MAGIC_LIVE;
    h->offset16 = (USHORT)(align / 16);
    h->size = bytes;
    if (zero)
        __builtin_memset(user, 0, bytes);
    pool_tag_stats *s = pool_stats_for(tag);
    __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->bytes, (LONGLONG)bytes, __ATOMIC_RELAXED);
    openwsk_trace_pool_changed();
    return user;
}

void *openwsk_pool_alloc(SIZE_T bytes, ULONG tag, BOOLEAN zero)
{
    return pool_alloc_aligned(bytes, tag, zero, bytes >= PAGE_SIZE ? PAGE_SIZE : 16, FALSE);
}

static pool_header *pool_header_of(void *p)
{
    pool_header *h = (pool_header *)p - 1;
    if (((ULONG_PTR)p & 15) != 0 || (h->magic != POOL_MAGIC_LIVE && h->magic != POOL_MAGIC_SPECIAL))
        KeBugCheckEx(BAD_POOL_CALLER, h->magic == POOL_MAGIC_FREED ? 0x07 : 0x46, (ULONG_PTR)p, 0, 0);
    return h;
}

/* No sibling calls: the verifier's free stack must keep the caller's frame. */
__attribute__((optimize("no-optimize-sibling-calls"))) static void pool_free_checked(void *p, BOOLEAN check_tag,
                                                                                      ULONG tag)
{
    if (p == NULL)
        KeBugCheckEx(BAD_POOL_CALLER, 0x46, 0, 0, 0);
    BOOLEAN verify = openwsk_verifying(OPENWSK_VERIFY_POOL);
    if (verify) /* before the header is read: a freed special block is no-access */
        openwsk_verify_pool_check_free(p, "ExFreePool*");
    pool_header *h = pool_header_of(p);
    if (check_tag && h->tag != tag) {
        if (verify)
            openwsk_verify_pool_wrong_tag(p, h->tag, tag, "ExFreePoolWithTag");
        KeBugCheckEx(BAD_POOL_CALLER, 0x0A, (ULONG_PTR)p, h->tag, tag);
    }
    pool_tag_stats *s = pool_stats_for(h->tag);
    __atomic_sub_fetch(&s->count, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&s->bytes, (LONGLONG)h->size, __ATOMIC_RELAXED);
    openwsk_trace_pool_changed();
    if (h->magic == POOL_MAGIC_SPECIAL) {
        openwsk_verify_pool_unmap(p, "ExFreePool*");
        return;
    }
    h->magic = POOL_MAGIC_FREED;
    free((unsigned char *)p - (SIZE_T)h->offset16 * 16);
}

/* The verifier keeps some runtime objects past their free (a closed
 * socket, so that a call through a dangling pointer is recognised): their
 * block leaves the accounting now and is freed later. */
#define POOL_MAGIC_FORGOTTEN 0x4F46u /* "FO" */

void openwsk_pool_forget(void *p)
{
    pool_header *h = pool_header_of(p);
    pool_tag_stats *s = pool_stats_for(h->tag);
    __atomic_sub_fetch(&s->count, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&s->bytes, (LONGLONG)h->size, __ATOMIC_RELAXED);
    openwsk_trace_pool_changed();
    h->magic = POOL_MAGIC_FORGOTTEN;
}

void openwsk_pool_free_forgotten(void *p)
{
    pool_header *h = (pool_header *)p - 1;
    if (h->magic != POOL_MAGIC_FORGOTTEN)
        KeBugCheckEx(BAD_POOL_CALLER, 0x46, (ULONG_PTR)p, 0, 0);
    h->magic = POOL_MAGIC_FREED;
    free((unsigned char *)p - (SIZE_T)h->offset16 * 16);
}

void openwsk_pool_free(void *p)
{
    pool_free_checked(p, FALSE, 0);
}

static SIZE_T pool_type_alignment(POOL_TYPE type, SIZE_T bytes)
{
    if (bytes >= PAGE_SIZE)
        return PAGE_SIZE;
    if ((type & 7) == NonPagedPoolCacheAligned || (type & 7) == PagedPoolCacheAligned)
        return SYSTEM_CACHE_ALIGNMENT_SIZE;
    return 16;
}

/* IrqlExAllocatePool: paged pool at IRQL <= APC_LEVEL, any pool at IRQL
 * <= DISPATCH_LEVEL ("IrqlExAllocatePool rule (wdm)"). */
static void pool_verify_irql(BOOLEAN paged, SIZE_T bytes, ULONG tag, const char *call)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > DISPATCH_LEVEL || (paged && irql > APC_LEVEL)) {
        char t[5], b[8];
        openwsk_format_tag(tag, t);
        openwsk_verify_fail(&openwsk_rule_irql_ex_allocate_pool, call, irql, paged, bytes,
                            "called at %s for %s pool, %zu bytes, tag '%s'", openwsk_irql_name(irql, b),
                            paged ? "paged" : "non-paged", (size_t)bytes, t);
    }
}

static PVOID pool_alloc_typed(POOL_TYPE type, SIZE_T bytes, ULONG tag, BOOLEAN zero)
{
    if (openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES) && openwsk_adversity_fail_allocation("ExAllocatePool*", bytes)) {
        if (type & POOL_RAISE_IF_ALLOCATION_FAILURE)
            ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
        return NULL;
    }
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        pool_verify_irql((type & 1) != 0 /* PagedPool and its variants */, bytes, tag, "ExAllocatePool*(PoolType)");
    void *p = pool_alloc_aligned(bytes, tag, zero || (type & POOL_ZERO_ALLOCATION), pool_type_alignment(type, bytes),
                                 TRUE);
    if (p == NULL && (type & POOL_RAISE_IF_ALLOCATION_FAILURE))
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
    return p;
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc_typed(PoolType, NumberOfBytes, Tag, FALSE);
}

PVOID ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    /* Quota allocations raise on failure unless told not to. */
    PVOID p = pool_alloc_typed(PoolType & ~POOL_RAISE_IF_ALLOCATION_FAILURE, NumberOfBytes, Tag, FALSE);
    if (p == NULL && !(PoolType & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE))
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES); /* System is never charged quota: a pool failure */
    return p;
}

PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, EX_POOL_PRIORITY Priority)
{
    (void)Priority;
    return pool_alloc_typed(PoolType, NumberOfBytes, Tag, FALSE);
}

PVOID openwsk_allocate_pool_untagged(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return pool_alloc_typed(PoolType, NumberOfBytes, OPENWSK_TAG_UNTAGGED, FALSE);
}

PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc_typed(PoolType, NumberOfBytes, Tag, TRUE);
}

PVOID ExAllocatePoolUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc_typed(PoolType, NumberOfBytes, Tag, FALSE);
}

PVOID ExAllocatePoolQuotaZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc_typed(PoolType | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, NumberOfBytes, Tag, TRUE);
}

PVOID ExAllocatePoolQuotaUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_alloc_typed(PoolType | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, NumberOfBytes, Tag, FALSE);
}

#define POOL2_KNOWN_REQUIRED                                                                                  \
    (POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION | POOL_FLAG_CACHE_ALIGNED |            \
     POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED)

PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    /* Unknown required flags, a missing or ambiguous pool type, and tag 0
     * are invalid requests: Windows fails them (or raises if asked to). */
    POOL_FLAGS required = Flags & 0xFFFFFFFFULL;
    POOL_FLAGS kind = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    BOOLEAN valid = (required & ~POOL2_KNOWN_REQUIRED) == 0 && kind != 0 && (kind & (kind - 1)) == 0 && Tag != 0;
    PVOID p = NULL;
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        pool_verify_irql((Flags & POOL_FLAG_PAGED) != 0, NumberOfBytes, Tag, "ExAllocatePool2");
    BOOLEAN starved = valid && openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES) &&
                      openwsk_adversity_fail_allocation("ExAllocatePool2", NumberOfBytes);
    if (valid && !starved) {
        SIZE_T align = NumberOfBytes >= PAGE_SIZE ? PAGE_SIZE
                       : (Flags & POOL_FLAG_CACHE_ALIGNED) ? SYSTEM_CACHE_ALIGNMENT_SIZE
                                                           : 16;
        p = pool_alloc_aligned(NumberOfBytes, Tag, !(Flags & POOL_FLAG_UNINITIALIZED), align, TRUE);
    }
    if (p == NULL && (Flags & POOL_FLAG_RAISE_ON_FAILURE))
        ExRaiseStatus(valid ? STATUS_INSUFFICIENT_RESOURCES : STATUS_INVALID_PARAMETER);
    return p;
}

__attribute__((optimize("no-optimize-sibling-calls"))) void ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    pool_free_checked(P, TRUE, Tag);
}

__attribute__((optimize("no-optimize-sibling-calls"))) void ExFreePool(PVOID P)
{
    pool_free_checked(P, FALSE, 0);
}

__attribute__((optimize("no-optimize-sibling-calls"))) void ExFreePool2(PVOID P, ULONG Tag, PVOID ExtendedParameters, ULONG ExtendedParametersCount)
{
    (void)ExtendedParameters;
    (void)ExtendedParametersCount;
    pool_free_checked(P, TRUE, Tag);
}

/* ---- accounting ---- */

void openwsk_format_tag(ULONG Tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(Tag >> (8 * i));
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    out[4] = '\0';
}

static SIZE_T pool_sum(ULONG tag, BOOLEAN bytes)
{
    LONGLONG total = 0;
    for (ULONG i = 0; i < POOL_TAG_SLOTS; i++) {
        ULONG t = __atomic_load_n(&pool_tags[i].tag, __ATOMIC_ACQUIRE);
        if (t == 0)
            continue;
        if (tag != 0 && t != tag)
            continue;
        total += __atomic_load_n(bytes ? &pool_tags[i].bytes : &pool_tags[i].count, __ATOMIC_RELAXED);
    }
    return total > 0 ? (SIZE_T)total : 0;
}

SIZE_T openwsk_pool_outstanding_bytes(ULONG Tag)
{
    return pool_sum(Tag, TRUE);
}

SIZE_T openwsk_pool_outstanding_count(ULONG Tag)
{
    return pool_sum(Tag, FALSE);
}

SIZE_T openwsk_leak_report(void)
{
    SIZE_T leaked = 0;
    for (ULONG i = 0; i < POOL_TAG_SLOTS; i++) {
        ULONG t = __atomic_load_n(&pool_tags[i].tag, __ATOMIC_ACQUIRE);
        LONGLONG count = __atomic_load_n(&pool_tags[i].count, __ATOMIC_RELAXED);
        if (t == 0 || count <= 0)
            continue;
        char name[5];
        openwsk_format_tag(t == POOL_TAG_ZERO ? 0 : t, name);
        fprintf(stderr, "openwsk: leak: pool tag '%s': %lld allocations, %lld bytes\n", name, count,
                __atomic_load_n(&pool_tags[i].bytes, __ATOMIC_RELAXED));
        leaked += (SIZE_T)count;
    }
    if (leaked > 0 && openwsk_verifying(OPENWSK_VERIFY_POOL))
        openwsk_verify_pool_report_leaks(20);
    return leaked;
}

void openwsk_fault_fail_allocation(LONG Nth)
{
    __atomic_store_n(&pool_fail_countdown, Nth > 0 ? Nth : 0, __ATOMIC_RELEASE);
}

ULONGLONG openwsk_allocation_count(void)
{
    return __atomic_load_n(&pool_allocations, __ATOMIC_RELAXED);
}

/* ---- timeline counters (timeline.h) ---- */

static LONGLONG pool_trace_sampled[POOL_TAG_SLOTS]; /* under pool_trace_lock */
static pthread_mutex_t pool_trace_lock = PTHREAD_MUTEX_INITIALIZER;

void openwsk_pool_trace_sample(int all)
{
    if (!openwsk_trace_enabled())
        return;
    /* One sampler at a time; a periodic sample finding another running skips. */
    if (pthread_mutex_trylock(&pool_trace_lock) != 0) {
        if (!all)
            return;
        pthread_mutex_lock(&pool_trace_lock);
    }
    uint64_t now = openwsk_trace_now();
    for (ULONG i = 0; i < POOL_TAG_SLOTS; i++) {
        ULONG t = __atomic_load_n(&pool_tags[i].tag, __ATOMIC_ACQUIRE);
        if (t == 0)
            continue;
        LONGLONG bytes = __atomic_load_n(&pool_tags[i].bytes, __ATOMIC_RELAXED);
        if (!all && bytes == pool_trace_sampled[i])
            continue;
        pool_trace_sampled[i] = bytes;
        tl_rec r = {.ts = now, .id = t == POOL_TAG_ZERO ? 0 : t, .ph = 'C', .cat = "pool"};
        tl_arg(&r, "bytes", TL_ARG_I64, (uint64_t)bytes);
        openwsk_trace_put(&r);
    }
    pthread_mutex_unlock(&pool_trace_lock);
}
