/*
 * test_interlocked.c - the Interlocked* inlines and the ReadNoFence /
 * WriteRelease family of wdm.h against the Windows intrinsics' contracts:
 * which value each call returns (new for Increment/Decrement/Add, old for
 * Exchange/ExchangeAdd/Or/And/Xor, the initial value for CompareExchange
 * whether or not it swapped, the previous bit for BitTestAnd*), their
 * argument order, their result types, two's-complement wrap-around, and
 * atomicity and ordering under several threads.
 */
#include <ntddk.h>

#include <pthread.h>
#include <stdint.h>

#include "wt.h"

/* Result types are those of the WDK prototypes. */
#define IS_TYPE(expr, T) _Generic((expr), T: 1, default: 0)

static void long_increment_decrement_return_new_value(void)
{
    volatile LONG v = 5;
    CHECK_EQ(sizeof(LONG), 4);
    CHECK(IS_TYPE(InterlockedIncrement(&v), LONG));
    v = 5;
    CHECK_EQ(InterlockedIncrement(&v), 6);
    CHECK_EQ(v, 6);
    CHECK_EQ(InterlockedDecrement(&v), 5);
    CHECK_EQ(v, 5);
    v = 1;
    CHECK_EQ(InterlockedDecrement(&v), 0); /* the reference-count idiom: 0 means "last one" */
    CHECK_EQ(InterlockedDecrement(&v), -1);
    /* The intrinsics wrap in two's complement. */
    v = 0x7FFFFFFF;
    CHECK_EQ(InterlockedIncrement(&v), (LONG)INT32_MIN);
    CHECK_EQ(v, (LONG)INT32_MIN);
    CHECK_EQ(InterlockedDecrement(&v), 0x7FFFFFFF);
    /* The Acquire/Release spellings behave the same. */
    v = 10;
    CHECK_EQ(InterlockedIncrementAcquire(&v), 11);
    CHECK_EQ(InterlockedIncrementRelease(&v), 12);
    CHECK_EQ(InterlockedDecrementAcquire(&v), 11);
    CHECK_EQ(InterlockedDecrementRelease(&v), 10);
    CHECK_EQ(v, 10);
}

static void long_exchange_and_add(void)
{
    volatile LONG v = 40;
    /* Exchange returns the old value. */
    CHECK_EQ(InterlockedExchange(&v, 7), 40);
    CHECK_EQ(v, 7);
    /* ExchangeAdd returns the old value, Add the new one. */
    CHECK_EQ(InterlockedExchangeAdd(&v, 10), 7);
    CHECK_EQ(v, 17);
    CHECK_EQ(InterlockedExchangeAdd(&v, -20), 17);
    CHECK_EQ(v, -3);
    CHECK_EQ(InterlockedAdd(&v, 10), 7);
    CHECK_EQ(v, 7);
    CHECK_EQ(InterlockedAdd(&v, -8), -1);
    CHECK_EQ(v, -1);
    v = 0x7FFFFFF0;
    CHECK_EQ(InterlockedAdd(&v, 0x20), (LONG)0x80000010u);
    CHECK(IS_TYPE(InterlockedExchangeAdd(&v, 0), LONG));
    CHECK(IS_TYPE(InterlockedAdd(&v, 0), LONG));
}

static void long_bitwise_return_old_value(void)
{
    volatile LONG v = 0x0F0;
    CHECK_EQ(InterlockedOr(&v, 0x00F), 0x0F0);
    CHECK_EQ(v, 0x0FF);
    CHECK_EQ(InterlockedAnd(&v, 0x03C), 0x0FF);
    CHECK_EQ(v, 0x03C);
    CHECK_EQ(InterlockedXor(&v, 0x0FF), 0x03C);
    CHECK_EQ(v, 0x0C3);
    /* Sign bit in and out. */
    v = 0;
    CHECK_EQ(InterlockedOr(&v, (LONG)0x80000000u), 0);
    CHECK_EQ(v, (LONG)0x80000000u);
    CHECK_EQ(InterlockedXor(&v, -1), (LONG)0x80000000u);
    CHECK_EQ(v, 0x7FFFFFFF);
    CHECK_EQ(InterlockedAnd(&v, 0), 0x7FFFFFFF);
    CHECK_EQ(v, 0);
}

static void long_compare_exchange_returns_initial(void)
{
    volatile LONG v = 100;
    /* Argument order is (Destination, Exchange, Comparand). */
    CHECK_EQ(InterlockedCompareExchange(&v, 200, 100), 100); /* matched: swapped */
    CHECK_EQ(v, 200);
    CHECK_EQ(InterlockedCompareExchange(&v, 300, 100), 200); /* no match: untouched */
    CHECK_EQ(v, 200);
    CHECK_EQ(InterlockedCompareExchange(&v, 200, 200), 200); /* same value: still "swapped" */
    CHECK_EQ(v, 200);
    CHECK_EQ(InterlockedCompareExchangeAcquire(&v, 1, 200), 200);
    CHECK_EQ(v, 1);
    CHECK_EQ(InterlockedCompareExchangeRelease(&v, 2, 9), 1);
    CHECK_EQ(v, 1);
    CHECK_EQ(InterlockedCompareExchangeRelease(&v, 2, 1), 1);
    CHECK_EQ(v, 2);
    v = -1;
    CHECK_EQ(InterlockedCompareExchange(&v, 0, -1), -1);
    CHECK_EQ(v, 0);
}

static void sixteen_bit_operations(void)
{
    volatile SHORT v = 9;
    CHECK(IS_TYPE(InterlockedIncrement16(&v), SHORT));
    CHECK(IS_TYPE(InterlockedCompareExchange16(&v, 0, 0), SHORT));
    v = 9;
    CHECK_EQ(InterlockedIncrement16(&v), 10);
    CHECK_EQ(InterlockedDecrement16(&v), 9);
    CHECK_EQ(v, 9);
    v = 0x7FFF;
    CHECK_EQ((USHORT)InterlockedIncrement16(&v), 0x8000); /* wraps to -32768 */
    CHECK_EQ(v, (SHORT)-32768);
    CHECK_EQ(InterlockedDecrement16(&v), 0x7FFF);
    v = 0;
    CHECK_EQ(InterlockedDecrement16(&v), -1);
    CHECK_EQ(InterlockedCompareExchange16(&v, 5, -1), -1);
    CHECK_EQ(v, 5);
    CHECK_EQ(InterlockedCompareExchange16(&v, 6, 4), 5);
    CHECK_EQ(v, 5);
    /* Only the 16 bits are touched. */
    struct {
        volatile SHORT lo, hi;
    } pair = {0x7FFF, 0x1234};
    InterlockedIncrement16(&pair.lo);
    CHECK_EQ(pair.hi, 0x1234);
}

static void sixty_four_bit_operations(void)
{
    volatile LONG64 v = 0xFFFFFFFFLL;
    CHECK_EQ(sizeof(LONG64), 8);
    CHECK(IS_TYPE(InterlockedIncrement64(&v), LONG64));
    v = 0xFFFFFFFFLL;
    /* Carries across 32 bits: the whole 64-bit value is one operand. */
    CHECK_EQ(InterlockedIncrement64(&v), 0x100000000LL);
    CHECK_EQ(InterlockedDecrement64(&v), 0xFFFFFFFFLL);
    CHECK_EQ(InterlockedExchange64(&v, 0x123456789LL), 0xFFFFFFFFLL);
    CHECK_EQ(v, 0x123456789LL);
    CHECK_EQ(InterlockedExchangeAdd64(&v, 0x100000000LL), 0x123456789LL);
    CHECK_EQ(v, 0x223456789LL);
    CHECK_EQ(InterlockedAdd64(&v, -0x200000000LL), 0x23456789LL);
    CHECK_EQ(v, 0x23456789LL);
    v = 0x0F00000000LL;
    CHECK_EQ(InterlockedOr64(&v, 0xF0), 0x0F00000000LL);
    CHECK_EQ(v, 0x0F000000F0LL);
    CHECK_EQ(InterlockedAnd64(&v, 0x0F00000000LL), 0x0F000000F0LL);
    CHECK_EQ(v, 0x0F00000000LL);
    CHECK_EQ(InterlockedXor64(&v, 0x0F000000FFLL), 0x0F00000000LL);
    CHECK_EQ(v, 0xFF);
    CHECK_EQ(InterlockedCompareExchange64(&v, 0x500000000LL, 0xFF), 0xFF);
    CHECK_EQ(v, 0x500000000LL);
    /* A comparand equal in the low half only does not match. */
    CHECK_EQ(InterlockedCompareExchange64(&v, 1, 0x600000000LL), 0x500000000LL);
    CHECK_EQ(v, 0x500000000LL);
    v = INT64_MAX;
    CHECK_EQ(InterlockedIncrement64(&v), INT64_MIN);
}

static void pointer_exchanges(void)
{
    int a = 1, b = 2, c = 3;
    PVOID volatile p = &a;
    CHECK(IS_TYPE(InterlockedExchangePointer(&p, &a), PVOID));
    CHECK(InterlockedExchangePointer(&p, &b) == &a);
    CHECK(p == &b);
    CHECK(InterlockedCompareExchangePointer(&p, &c, &a) == &b); /* no match */
    CHECK(p == &b);
    CHECK(InterlockedCompareExchangePointer(&p, &c, &b) == &b); /* match */
    CHECK(p == &c);
    CHECK(InterlockedCompareExchangePointer(&p, NULL, &c) == &c);
    CHECK(p == NULL);
    /* The list-push idiom: install only into an empty slot. */
    CHECK(InterlockedCompareExchangePointer(&p, &a, NULL) == NULL);
    CHECK(InterlockedCompareExchangePointer(&p, &b, NULL) == &a);
    CHECK(p == &a);
}

static void size_t_macros(void)
{
    volatile SIZE_T n = 10;
    CHECK(IS_TYPE(InterlockedIncrementSizeT(&n), SIZE_T));
    n = 10;
    CHECK_EQ(InterlockedIncrementSizeT(&n), 11);    /* new value */
    CHECK_EQ(InterlockedDecrementSizeT(&n), 10);    /* new value */
    CHECK_EQ(InterlockedExchangeAddSizeT(&n, 5), 10); /* old value */
    CHECK_EQ(n, 15);
    CHECK_EQ(InterlockedExchangeAddULongPtr(&n, 1), 15);
    CHECK_EQ(n, 16);
    /* Full 64-bit width, unsigned wrap. */
    n = 0xFFFFFFFFu;
    CHECK_EQ(InterlockedIncrementSizeT(&n), 0x100000000ull);
    n = 0;
    CHECK_EQ(InterlockedDecrementSizeT(&n), SIZE_MAX);
    CHECK_EQ(InterlockedExchangeAddSizeT(&n, 2), SIZE_MAX);
    CHECK_EQ(n, 1);
}

static void bit_test_and_set_reset(void)
{
    volatile LONG v = 0;
    CHECK(IS_TYPE(InterlockedBitTestAndSet(&v, 0), BOOLEAN));
    v = 0;
    /* Returns the bit as it was before. */
    CHECK_EQ(InterlockedBitTestAndSet(&v, 3), 0);
    CHECK_EQ(v, 0x8);
    CHECK_EQ(InterlockedBitTestAndSet(&v, 3), 1);
    CHECK_EQ(v, 0x8);
    CHECK_EQ(InterlockedBitTestAndReset(&v, 3), 1);
    CHECK_EQ(v, 0);
    CHECK_EQ(InterlockedBitTestAndReset(&v, 3), 0);
    CHECK_EQ(v, 0);
    /* Bit 31 (the sign bit) and bit 0; other bits untouched. */
    v = 0x12340;
    CHECK_EQ(InterlockedBitTestAndSet(&v, 31), 0);
    CHECK_EQ(v, (LONG)0x80012340u);
    CHECK_EQ(InterlockedBitTestAndSet(&v, 31), 1);
    CHECK_EQ(InterlockedBitTestAndSet(&v, 0), 0);
    CHECK_EQ(v, (LONG)0x80012341u);
    CHECK_EQ(InterlockedBitTestAndReset(&v, 31), 1);
    CHECK_EQ(v, 0x12341);
    CHECK_EQ(InterlockedBitTestAndReset(&v, 6), 1);
    CHECK_EQ(v, 0x12301);
}

static void no_fence_and_acquire_release_accessors(void)
{
    volatile LONG l = 0;
    WriteNoFence(&l, -7);
    CHECK_EQ(ReadNoFence(&l), -7);
    WriteRelease(&l, 0x7FFFFFFF);
    CHECK_EQ(ReadAcquire(&l), 0x7FFFFFFF);
    CHECK(IS_TYPE(ReadNoFence(&l), LONG));

    volatile LONG64 q = 0;
    WriteNoFence64(&q, 0x1122334455667788LL);
    CHECK_EQ(ReadNoFence64(&q), 0x1122334455667788LL);
    WriteRelease64(&q, -2);
    CHECK_EQ(ReadAcquire64(&q), -2);
    CHECK(IS_TYPE(ReadAcquire64(&q), LONG64));

    volatile UCHAR uc = 0xAB;
    CHECK_EQ(ReadUCharNoFence(&uc), 0xAB);
    volatile BOOLEAN bo = FALSE;
    WriteBooleanNoFence(&bo, TRUE);
    CHECK_EQ(ReadBooleanNoFence(&bo), TRUE);
    volatile ULONG ul = 0;
    WriteULongNoFence(&ul, 0xFEEDFACEu);
    CHECK_EQ(ReadULongNoFence(&ul), 0xFEEDFACEu);
    CHECK(IS_TYPE(ReadULongNoFence(&ul), ULONG));

    int target = 0;
    PVOID volatile p = NULL;
    WritePointerNoFence(&p, &target);
    CHECK(ReadPointerNoFence(&p) == &target);
    WritePointerRelease(&p, NULL);
    CHECK(ReadPointerAcquire(&p) == NULL);

    volatile ULONG64 u64 = 0;
    WriteULong64NoFence(&u64, 0xFFFFFFFF00000001ull);
    CHECK_EQ(ReadULong64NoFence(&u64), 0xFFFFFFFF00000001ull);
    CHECK(IS_TYPE(ReadULong64NoFence(&u64), ULONG64));
    volatile SIZE_T sz = 0;
    WriteSizeTNoFence(&sz, SIZE_MAX - 1);
    CHECK_EQ(ReadSizeTNoFence(&sz), SIZE_MAX - 1);
    CHECK(IS_TYPE(ReadSizeTNoFence(&sz), SIZE_T));
}

/* ---- several threads ---- */

enum { THREADS = 4, PER_THREAD = 100000 };

static volatile LONG shared_counter;
static volatile LONG64 shared_counter64;

typedef struct inc_worker {
    pthread_t thread;
    LONG64 sum_of_returns;   /* of InterlockedIncrement's results */
    LONG64 max_return;
    int non_increasing;      /* a thread's own results must rise */
} inc_worker;

static void *increment_worker(void *arg)
{
    inc_worker *w = arg;
    LONG last = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        LONG got = InterlockedIncrement(&shared_counter);
        if (got <= last)
            w->non_increasing++;
        last = got;
        w->sum_of_returns += got;
        if (got > w->max_return)
            w->max_return = got;
        InterlockedExchangeAdd64(&shared_counter64, 3);
    }
    return NULL;
}

static void four_threads_count_exactly(void)
{
    inc_worker w[THREADS];
    memset(w, 0, sizeof(w));
    shared_counter = 0;
    shared_counter64 = 0;
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&w[i].thread, NULL, increment_worker, &w[i]), 0);
    LONG64 sum = 0, max = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].thread, NULL);
        sum += w[i].sum_of_returns;
        if (w[i].max_return > max)
            max = w[i].max_return;
        CHECK_EQ(w[i].non_increasing, 0);
    }
    const LONG64 n = (LONG64)THREADS * PER_THREAD;
    CHECK_EQ(shared_counter, n);
    CHECK_EQ(shared_counter64, 3 * n);
    /* Every increment returned a distinct new value: together exactly 1..n. */
    CHECK_EQ(max, n);
    CHECK_EQ(sum, n * (n + 1) / 2);
}

/* A spin lock built from CompareExchange and WriteRelease guarding a plain
 * counter (TSan sees a race if the acquire/release ordering is missing). */
static volatile LONG spin;
static LONG64 guarded;
static LONG handoff_data;
static volatile LONG handoff_flag;

static void *lock_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD / 4; i++) {
        while (InterlockedCompareExchangeAcquire(&spin, 1, 0) != 0)
            YieldProcessor();
        guarded++;
        WriteRelease(&spin, 0);
    }
    return NULL;
}

static void *handoff_consumer(void *arg)
{
    LONG *seen = arg;
    while (ReadAcquire(&handoff_flag) == 0)
        YieldProcessor();
    *seen = handoff_data; /* published before the release store */
    return NULL;
}

static void acquire_release_publish(void)
{
    pthread_t t[THREADS];
    spin = 0;
    guarded = 0;
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, lock_worker, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(guarded, (LONG64)THREADS * (PER_THREAD / 4));
    CHECK_EQ(spin, 0);

    LONG seen = 0;
    pthread_t c;
    handoff_flag = 0;
    CHECK_EQ(pthread_create(&c, NULL, handoff_consumer, &seen), 0);
    handoff_data = 0x5EED;
    WriteRelease(&handoff_flag, 1);
    pthread_join(c, NULL);
    CHECK_EQ(seen, 0x5EED);
}

/* Bits set by different threads in one word are all kept. */
static volatile LONG bit_word;
static void *bit_worker(void *arg)
{
    LONG base = (LONG)(intptr_t)arg;
    for (int round = 0; round < 2000; round++) {
        for (LONG b = base; b < 32; b += THREADS)
            if (InterlockedBitTestAndSet(&bit_word, b) != 0)
                return (void *)1; /* only this thread touches bit b */
        for (LONG b = base; b < 32; b += THREADS)
            if (InterlockedBitTestAndReset(&bit_word, b) != 1)
                return (void *)1;
    }
    for (LONG b = base; b < 32; b += THREADS)
        InterlockedBitTestAndSet(&bit_word, b);
    return NULL;
}

static void bits_from_four_threads(void)
{
    pthread_t t[THREADS];
    bit_word = 0;
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, bit_worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r = (void *)2;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    CHECK_EQ((ULONG)bit_word, 0xFFFFFFFFu);
}

int main(void)
{
    WT_RUN(long_increment_decrement_return_new_value);
    WT_RUN(long_exchange_and_add);
    WT_RUN(long_bitwise_return_old_value);
    WT_RUN(long_compare_exchange_returns_initial);
    WT_RUN(sixteen_bit_operations);
    WT_RUN(sixty_four_bit_operations);
    WT_RUN(pointer_exchanges);
    WT_RUN(size_t_macros);
    WT_RUN(bit_test_and_set_reset);
    WT_RUN(no_fence_and_acquire_release_accessors);
    WT_RUN(four_threads_count_exactly);
    WT_RUN(acquire_release_publish);
    WT_RUN(bits_from_four_threads);
    return wt_finish();
}
