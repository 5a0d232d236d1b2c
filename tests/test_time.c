/*
 * test_time.c - system time (100 ns since 1601), tick count, interrupt time,
 * performance counter, processor queries.
 */
#include <ntddk.h>

#include <time.h>
#include <unistd.h>

#include "wt.h"

static void system_time_counts_from_1601(void)
{
    LARGE_INTEGER st;
    KeQuerySystemTime(&st);
    time_t unix_now = time(NULL);
    /* 11644473600 seconds separate 1601-01-01 from 1970-01-01. */
    LONGLONG unix_from_st = st.QuadPart / 10000000 - 11644473600LL;
    CHECK(unix_from_st - unix_now <= 2 && unix_now - unix_from_st <= 2);
    LARGE_INTEGER p1, p2;
    KeQuerySystemTimePrecise(&p1);
    KeQuerySystemTimePrecise(&p2);
    CHECK(p2.QuadPart >= p1.QuadPart);
}

static void ticks_and_interrupt_time_advance(void)
{
    CHECK_EQ(KeQueryTimeIncrement(), 156250);
    LARGE_INTEGER t1, t2;
    KeQueryTickCount(&t1);
    ULONGLONG i1 = KeQueryInterruptTime();
    usleep(100 * 1000);
    KeQueryTickCount(&t2);
    ULONGLONG i2 = KeQueryInterruptTime();
    LONGLONG ticks = t2.QuadPart - t1.QuadPart;
    CHECK(ticks >= 5 && ticks <= 60); /* 100 ms / 15.625 ms = 6.4 */
    CHECK(i2 - i1 >= 990000);
}

static void performance_counter_runs_at_10mhz(void)
{
    LARGE_INTEGER f1, f2;
    LARGE_INTEGER c1 = KeQueryPerformanceCounter(&f1);
    usleep(20 * 1000);
    LARGE_INTEGER c2 = KeQueryPerformanceCounter(&f2);
    CHECK_EQ(f1.QuadPart, 10000000);
    CHECK(c2.QuadPart - c1.QuadPart >= 190000);
    ULONGLONG before = KeQueryInterruptTime();
    KeStallExecutionProcessor(500);
    CHECK(KeQueryInterruptTime() - before >= 5000);
}

static void processors(void)
{
    KAFFINITY mask = 0;
    ULONG n = KeQueryActiveProcessorCount(&mask);
    CHECK(n >= 1);
    CHECK_EQ((ULONG)__builtin_popcountll(mask), n);
    CHECK(KeGetCurrentProcessorNumber() < 1024);
    CHECK_EQ(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), n);
}

int main(void)
{
    WT_RUN(system_time_counts_from_1601);
    WT_RUN(ticks_and_interrupt_time_advance);
    WT_RUN(performance_counter_runs_at_10mhz);
    WT_RUN(processors);
    return wt_finish();
}
