/*
 * time.c - system time, tick counts, performance counter, processors.
 *
 * Windows system time counts 100 ns intervals since 1601-01-01 UTC;
 * interrupt time counts 100 ns since boot.  The clock tick is 15.625 ms,
 * the common Windows default.
 */
#include "ke_internal.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#define WINDOWS_TO_UNIX_EPOCH_100NS 116444736000000000LL
#define TIME_INCREMENT_100NS 156250u

static LONGLONG time_read(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (LONGLONG)ts.tv_sec * 10000000 + ts.tv_nsec / 100;
}

LONGLONG openwsk_system_time_now(void)
{
    return time_read(CLOCK_REALTIME) + WINDOWS_TO_UNIX_EPOCH_100NS;
}

LONGLONG openwsk_interrupt_time_now(void)
{
    return time_read(CLOCK_MONOTONIC);
}

void KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime)
{
    CurrentTime->QuadPart = openwsk_system_time_now();
}

void openwsk_query_system_time(PLARGE_INTEGER CurrentTime)
{
    CurrentTime->QuadPart = openwsk_system_time_now();
}

void openwsk_query_tick_count(PLARGE_INTEGER TickCount)
{
    TickCount->QuadPart = openwsk_interrupt_time_now() / TIME_INCREMENT_100NS;
}

ULONG KeQueryTimeIncrement(void)
{
    return TIME_INCREMENT_100NS;
}

ULONGLONG KeQueryInterruptTime(void)
{
    return (ULONGLONG)openwsk_interrupt_time_now();
}

ULONGLONG KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp)
{
    ULONGLONG t = (ULONGLONG)openwsk_interrupt_time_now();
    if (QpcTimeStamp != NULL)
        *QpcTimeStamp = t;
    return t;
}

LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)
{
    LARGE_INTEGER now;
    if (PerformanceFrequency != NULL)
        PerformanceFrequency->QuadPart = 10000000; /* 10 MHz, as on current Windows */
    now.QuadPart = openwsk_interrupt_time_now();
    return now;
}

void KeStallExecutionProcessor(ULONG MicroSeconds)
{
    LONGLONG until = openwsk_interrupt_time_now() + (LONGLONG)MicroSeconds * 10;
    while (openwsk_interrupt_time_now() < until)
        YieldProcessor();
}

ULONG KeGetCurrentProcessorNumber(void)
{
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : (ULONG)cpu;
}

ULONG KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber)
{
    ULONG n = KeGetCurrentProcessorNumber();
    if (ProcNumber != NULL) {
        ProcNumber->Group = 0;
        ProcNumber->Number = (UCHAR)n;
        ProcNumber->Reserved = 0;
    }
    return n;
}

ULONG KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 64)
        n = 64;
    if (ActiveProcessors != NULL)
        *ActiveProcessors = n == 64 ? ~(KAFFINITY)0 : (((KAFFINITY)1 << n) - 1);
    return (ULONG)n;
}

ULONG KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    (void)GroupNumber;
    return KeQueryActiveProcessorCount(NULL);
}
