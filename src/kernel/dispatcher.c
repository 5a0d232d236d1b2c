/*
 * dispatcher.c - dispatcher objects (events, semaphores, threads; timers
 * are set and expired in timer.c) and the KeWaitFor* family, on futexes.
 *
 * A single-object wait sleeps on the object's own SignalState word.  A
 * multi-object wait sleeps on one global sequence word that every signal
 * bumps while multi-object waiters exist.  The waiter count of an object
 * lives in the first word of its WaitListHead (drivers never touch it).
 * Ordering argument: a waiter publishes itself (seq_cst increment) before
 * re-checking the state; a signaller publishes the state (seq_cst RMW)
 * before reading the waiter count; so one of them always sees the other.
 *
 * Events are signalled without the dispatcher lock (KeSetEvent is on
 * every IRP a driver waits for; one process-wide lock there serialised
 * every engine thread): a signaller counts itself in the object's second
 * WaitListHead word while it touches the object, and a satisfied waiter
 * returns once that count is zero, which gives the lock's guarantee below
 * for events.
 */
#include "ke_internal.h"
#include "verifier.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WINDOWS_TO_UNIX_EPOCH_100NS 116444736000000000LL

static int multi_seq;
static int multi_waiters;

/* Signalling happens under this lock, and a waiter passes through it before
 * returning: the waiter may free or reuse its KEVENT (often on its stack)
 * the moment it returns, so the signaller must be done with the object by
 * then - NT's dispatcher lock gives the same guarantee.  Recursive, because
 * a thread object's last dereference can happen while signalling it. */
static pthread_mutex_t disp_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

void openwsk_dispatcher_lock(void)
{
    pthread_mutex_lock(&disp_lock);
}

void openwsk_dispatcher_unlock(void)
{
    pthread_mutex_unlock(&disp_lock);
}

/* A satisfied waiter waits here until its signaller has let go of the object. */
static NTSTATUS disp_return(NTSTATUS status)
{
    pthread_mutex_lock(&disp_lock);
    pthread_mutex_unlock(&disp_lock);
    return status;
}

typedef struct wait_deadline {
    BOOLEAN infinite;
    BOOLEAN poll;
    clockid_t clock;
    struct timespec at;
} wait_deadline;

static LONG *disp_waiter_count(PDISPATCHER_HEADER h)
{
    return (LONG *)(void *)&h->WaitListHead;
}

/* Signallers touching an event now (second word; see the top comment). */
static LONG *disp_event_signallers(PDISPATCHER_HEADER h)
{
    return (LONG *)(void *)&h->WaitListHead.Blink;
}

static BOOLEAN disp_is_event(PDISPATCHER_HEADER h)
{
    return h->Type == EventNotificationObject || h->Type == EventSynchronizationObject;
}

/* A satisfied waiter of h returns once h's signallers are done with it:
 * the waiter may free or reuse h (a KEVENT on its stack) at once. */
static NTSTATUS disp_return_from(PDISPATCHER_HEADER h, NTSTATUS status)
{
    if (!disp_is_event(h))
        return disp_return(status);
    LONG n;
    while ((n = __atomic_load_n(disp_event_signallers(h), __ATOMIC_ACQUIRE)) != 0) {
        /* Below zero only when the driver re-initialised the event while
         * another thread signalled it: its own race, which would make every
         * later wait spin (or, ignored, free the event under a signaller).
         * Stop at once, as for any other corrupt dispatcher object. */
        if (n < 0)
            KeBugCheckEx(0x0000000A, (ULONG_PTR)h, (ULONG_PTR)n, 0, 0);
        sched_yield(); /* a signaller between its state change and its futex wake */
    }
    return status;
}

static void disp_init_header(PDISPATCHER_HEADER h, UCHAR type, UCHAR size_in_longs, LONG state)
{
    h->Type = type;
    h->Signalling = 0;
    h->Size = size_in_longs;
    h->Reserved1 = 0;
    h->WaitListHead.Flink = NULL;
    h->WaitListHead.Blink = NULL;
    __atomic_store_n(&h->SignalState, state, __ATOMIC_SEQ_CST);
}

static long futex_wait_until(volatile LONG *word, LONG expected, const wait_deadline *d)
{
    int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;
    if (!d->infinite && d->clock == CLOCK_REALTIME)
        op |= FUTEX_CLOCK_REALTIME;
    return syscall(SYS_futex, word, op, expected, d->infinite ? NULL : &d->at, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(volatile LONG *word, int count)
{
    syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count, NULL, NULL, 0);
}

static void deadline_from_timeout(PLARGE_INTEGER Timeout, wait_deadline *d)
{
    d->infinite = Timeout == NULL;
    d->poll = Timeout != NULL && Timeout->QuadPart == 0;
    /* Set even when unused: gcc -O2 folds futex_wait_until's "!infinite &&
     * clock == CLOCK_REALTIME" into one 8-byte compare that reads clock too,
     * and valgrind memcheck then reports the futex op as uninitialised. */
    d->clock = CLOCK_MONOTONIC;
    d->at.tv_sec = 0;
    d->at.tv_nsec = 0;
    if (d->infinite || d->poll)
        return;
    LONGLONG q = Timeout->QuadPart;
    if (q < 0) {
        /* Relative interval, in 100 ns units, on a clock that doesn't jump. */
        d->clock = CLOCK_MONOTONIC;
        clock_gettime(CLOCK_MONOTONIC, &d->at);
        LONGLONG ns = d->at.tv_nsec + (-q % 10000000) * 100;
        d->at.tv_sec += (time_t)(-q / 10000000) + (time_t)(ns / 1000000000);
        d->at.tv_nsec = (long)(ns % 1000000000);
    } else {
        /* Absolute system time since 1601: follows changes of the wall clock. */
        d->clock = CLOCK_REALTIME;
        LONGLONG unix100 = q - WINDOWS_TO_UNIX_EPOCH_100NS;
        if (unix100 < 0)
            unix100 = 0;
        d->at.tv_sec = (time_t)(unix100 / 10000000);
        d->at.tv_nsec = (long)(unix100 % 10000000) * 100;
    }
}

static void check_wait_irql(const wait_deadline *d)
{
    KIRQL irql = KeGetCurrentIrql();
    if ((irql > DISPATCH_LEVEL || (irql == DISPATCH_LEVEL && !d->poll)) && openwsk_verifying(OPENWSK_VERIFY_IRQL)) {
        char b[8];
        openwsk_verify_fail(&openwsk_rule_irql_ke_wait, "KeWaitForSingleObject / KeWaitForMultipleObjects", irql, 0, 0,
                            "a wait with %s timeout at %s", d->poll ? "a zero" : "a non-zero or no",
                            openwsk_irql_name(irql, b));
    }
    if (irql > DISPATCH_LEVEL || (irql == DISPATCH_LEVEL && !d->poll))
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)__builtin_return_address(0));
}

/* Consumes the signal where the object type says a satisfied wait does. */
static BOOLEAN disp_try_acquire(PDISPATCHER_HEADER h)
{
    switch (h->Type) {
    case EventSynchronizationObject:
    case TimerSynchronizationObject: {
        LONG one = 1;
        return __atomic_compare_exchange_n(&h->SignalState, &one, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    case SemaphoreObject: {
        LONG v = __atomic_load_n(&h->SignalState, __ATOMIC_SEQ_CST);
        while (v > 0)
            if (__atomic_compare_exchange_n(&h->SignalState, &v, v - 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                return TRUE;
        return FALSE;
    }
    default:
        return __atomic_load_n(&h->SignalState, __ATOMIC_SEQ_CST) > 0;
    }
}

/* Gives back what disp_try_acquire took (a WaitAll that could not finish). */
static void disp_undo_acquire(PDISPATCHER_HEADER h)
{
    if (h->Type != EventSynchronizationObject && h->Type != TimerSynchronizationObject && h->Type != SemaphoreObject)
        return;
    BOOLEAN event = disp_is_event(h);
    if (event)
        __atomic_add_fetch(disp_event_signallers(h), 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&disp_lock);
    if (h->Type != SemaphoreObject)
        __atomic_store_n(&h->SignalState, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_add_fetch(&h->SignalState, 1, __ATOMIC_SEQ_CST);
    openwsk_dispatcher_wake(h, 1);
    pthread_mutex_unlock(&disp_lock);
    if (event)
        __atomic_sub_fetch(disp_event_signallers(h), 1, __ATOMIC_RELEASE);
}

/* Called after the state change, with the dispatcher lock held or, for an
 * event, counted among its signallers. */
void openwsk_dispatcher_wake(PDISPATCHER_HEADER h, int count)
{
    if (__atomic_load_n(disp_waiter_count(h), __ATOMIC_SEQ_CST) > 0)
        futex_wake(&h->SignalState, count);
    if (__atomic_load_n(&multi_waiters, __ATOMIC_SEQ_CST) > 0) {
        __atomic_add_fetch(&multi_seq, 1, __ATOMIC_SEQ_CST);
        futex_wake((volatile LONG *)&multi_seq, INT_MAX);
    }
}

static void disp_check_object(PVOID Object)
{
    PDISPATCHER_HEADER h = Object;
    if (Object == NULL || (h->Type != EventNotificationObject && h->Type != EventSynchronizationObject &&
                           h->Type != SemaphoreObject && h->Type != ThreadObject && h->Type != ProcessObject &&
                           h->Type != TimerNotificationObject && h->Type != TimerSynchronizationObject))
        KeBugCheckEx(0x0000000A, (ULONG_PTR)Object, 0, 0, 0);
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                               PLARGE_INTEGER Timeout)
{
    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable; /* no APCs are ever queued, so an alertable wait is never alerted */
    PDISPATCHER_HEADER h = Object;
    disp_check_object(Object);
    wait_deadline d;
    deadline_from_timeout(Timeout, &d);
    check_wait_irql(&d);
    for (;;) {
        if (disp_try_acquire(h))
            return disp_return_from(h, STATUS_SUCCESS);
        if (d.poll)
            return STATUS_TIMEOUT;
        __atomic_add_fetch(disp_waiter_count(h), 1, __ATOMIC_SEQ_CST);
        if (disp_try_acquire(h)) {
            __atomic_sub_fetch(disp_waiter_count(h), 1, __ATOMIC_SEQ_CST);
            return disp_return_from(h, STATUS_SUCCESS);
        }
        LONG seen = __atomic_load_n(&h->SignalState, __ATOMIC_SEQ_CST);
        /* Sleep only while the object looks unsignalled; otherwise retry. */
        long r = seen > 0 ? 0 : futex_wait_until(&h->SignalState, seen, &d);
        int err = r < 0 ? errno : 0;
        __atomic_sub_fetch(disp_waiter_count(h), 1, __ATOMIC_SEQ_CST);
        if (err == ETIMEDOUT)
            return disp_try_acquire(h) ? disp_return_from(h, STATUS_SUCCESS) : STATUS_TIMEOUT;
    }
}

static BOOLEAN disp_try_acquire_all(ULONG Count, PVOID Object[])
{
    for (ULONG i = 0; i < Count; i++)
        if (__atomic_load_n(&((PDISPATCHER_HEADER)Object[i])->SignalState, __ATOMIC_SEQ_CST) <= 0)
            return FALSE;
    for (ULONG i = 0; i < Count; i++) {
        if (!disp_try_acquire(Object[i])) {
            while (i-- > 0)
                disp_undo_acquire(Object[i]);
            return FALSE;
        }
    }
    return TRUE;
}

NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON WaitReason,
                                  KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                  PKWAIT_BLOCK WaitBlockArray)
{
    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable;
    if (Count > MAXIMUM_WAIT_OBJECTS || (Count > THREAD_WAIT_OBJECTS && WaitBlockArray == NULL))
        KeBugCheckEx(0x0000000C /* MAXIMUM_WAIT_OBJECTS_EXCEEDED */, Count, 0, 0, 0);
    if (WaitType != WaitAll && WaitType != WaitAny)
        return STATUS_INVALID_PARAMETER;
    for (ULONG i = 0; i < Count; i++)
        disp_check_object(Object[i]);
    wait_deadline d;
    deadline_from_timeout(Timeout, &d);
    check_wait_irql(&d);
    for (;;) {
        __atomic_add_fetch(&multi_waiters, 1, __ATOMIC_SEQ_CST);
        int seq = __atomic_load_n(&multi_seq, __ATOMIC_SEQ_CST);
        NTSTATUS result = STATUS_PENDING;
        if (WaitType == WaitAny) {
            for (ULONG i = 0; i < Count && result == STATUS_PENDING; i++)
                if (disp_try_acquire(Object[i]))
                    result = (NTSTATUS)(STATUS_WAIT_0 + i);
        } else if (disp_try_acquire_all(Count, Object)) {
            result = STATUS_SUCCESS;
        }
        if (result == STATUS_PENDING && d.poll)
            result = STATUS_TIMEOUT;
        if (result != STATUS_PENDING) {
            __atomic_sub_fetch(&multi_waiters, 1, __ATOMIC_SEQ_CST);
            if (result == STATUS_TIMEOUT)
                return result;
            for (ULONG i = 0; i < Count; i++) /* the signallers of its events, then the lock's */
                if (disp_is_event(Object[i]))
                    (void)disp_return_from(Object[i], result);
            return disp_return(result);
        }
        long r = futex_wait_until((volatile LONG *)&multi_seq, seq, &d);
        int err = r < 0 ? errno : 0;
        __atomic_sub_fetch(&multi_waiters, 1, __ATOMIC_SEQ_CST);
        if (err == ETIMEDOUT)
            d.poll = TRUE; /* one last look, then STATUS_TIMEOUT */
    }
}

NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval)
{
    (void)WaitMode;
    (void)Alertable;
    wait_deadline d;
    deadline_from_timeout(Interval, &d);
    check_wait_irql(&d);
    if (d.poll) {
        sched_yield();
        return STATUS_SUCCESS;
    }
    if (d.infinite)
        for (;;)
            pause();
    while (clock_nanosleep(d.clock, TIMER_ABSTIME, &d.at, NULL) == EINTR)
        ;
    return STATUS_SUCCESS;
}

/* ---- events ---- */

void KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    disp_init_header(&Event->Header,
                     Type == SynchronizationEvent ? EventSynchronizationObject : EventNotificationObject,
                     sizeof(KEVENT) / sizeof(LONG), State ? 1 : 0);
}

LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    (void)Increment;
    (void)Wait;
    int wake = Event->Header.Type == EventSynchronizationObject ? 1 : INT_MAX;
    LONG *signallers = disp_event_signallers(&Event->Header);
    __atomic_add_fetch(signallers, 1, __ATOMIC_SEQ_CST);
    LONG old = __atomic_exchange_n(&Event->Header.SignalState, 1, __ATOMIC_SEQ_CST);
    openwsk_dispatcher_wake(&Event->Header, wake);
    __atomic_sub_fetch(signallers, 1, __ATOMIC_RELEASE); /* the last touch: a waiter may free it now */
    return old;
}

LONG KeResetEvent(PRKEVENT Event)
{
    return __atomic_exchange_n(&Event->Header.SignalState, 0, __ATOMIC_SEQ_CST);
}

void KeClearEvent(PRKEVENT Event)
{
    __atomic_store_n(&Event->Header.SignalState, 0, __ATOMIC_SEQ_CST);
}

LONG KeReadStateEvent(PRKEVENT Event)
{
    return __atomic_load_n(&Event->Header.SignalState, __ATOMIC_SEQ_CST);
}

LONG KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    LONG old = KeSetEvent(Event, Increment, Wait);
    KeResetEvent(Event);
    return old;
}

/* ---- semaphores ---- */

void KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit)
{
    disp_init_header(&Semaphore->Header, SemaphoreObject, sizeof(KSEMAPHORE) / sizeof(LONG), Count);
    Semaphore->Limit = Limit;
}

LONG KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment, BOOLEAN Wait)
{
    (void)Increment;
    (void)Wait;
    pthread_mutex_lock(&disp_lock);
    LONG old = __atomic_load_n(&Semaphore->Header.SignalState, __ATOMIC_SEQ_CST);
    do {
        if (Adjustment <= 0 || old + Adjustment > Semaphore->Limit || old + Adjustment < old) {
            pthread_mutex_unlock(&disp_lock);
            ExRaiseStatus(STATUS_SEMAPHORE_LIMIT_EXCEEDED);
        }
    } while (!__atomic_compare_exchange_n(&Semaphore->Header.SignalState, &old, old + Adjustment, 0,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    openwsk_dispatcher_wake(&Semaphore->Header, Adjustment);
    pthread_mutex_unlock(&disp_lock);
    return old;
}

LONG KeReadStateSemaphore(PRKSEMAPHORE Semaphore)
{
    return __atomic_load_n(&Semaphore->Header.SignalState, __ATOMIC_SEQ_CST);
}
