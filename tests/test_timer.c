/*
 * test_timer.c - kernel and executive timers: one-shot and periodic expiry,
 * the return values of KeSetTimerEx/KeCancelTimer/ExSetTimer/ExCancelTimer/
 * ExDeleteTimer, waiting on notification and synchronization timers, a
 * timer's DPC at DISPATCH_LEVEL, and what a host finds at unload.
 *
 * Timing: only lower bounds (a timer never expires before its due time)
 * and generous upper bounds (30 s waits); counts are compared after a
 * cancel and KeFlushQueuedDpcs, never against a clock.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <time.h>

#include "kernel/perturb.h"
#include "wt.h"
#include "wt_bugcheck.h"

#define MS(n) (-(LONGLONG)(n) * 10000) /* relative due time in 100 ns units */
#define EX_TIMER_TAG TAG_FROM_CHARS('E', 'x', 'T', 'm')

static LARGE_INTEGER rel(LONGLONG ms)
{
    LARGE_INTEGER t = {.QuadPart = MS(ms)};
    return t;
}

static LONGLONG now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (LONGLONG)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static NTSTATUS wait_ms(PVOID object, LONGLONG ms)
{
    LARGE_INTEGER t = rel(ms);
    return KeWaitForSingleObject(object, Executive, KernelMode, FALSE, &t);
}

static void sleep_ms(LONGLONG ms)
{
    LARGE_INTEGER t = rel(ms);
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

static void initialize_state(void)
{
    KTIMER n, s, d;
    KeInitializeTimer(&d);
    CHECK_EQ(d.Header.Type, TimerNotificationObject);
    KeInitializeTimerEx(&n, NotificationTimer);
    CHECK_EQ(n.Header.Type, TimerNotificationObject);
    KeInitializeTimerEx(&s, SynchronizationTimer);
    CHECK_EQ(s.Header.Type, TimerSynchronizationObject);
    CHECK_EQ(KeReadStateTimer(&n), FALSE);
    CHECK_EQ(KeCancelTimer(&n), FALSE); /* never set */
    CHECK_EQ(wait_ms(&n, 0), STATUS_TIMEOUT);
}

static void one_shot_notification_timer(void)
{
    KTIMER t;
    KeInitializeTimerEx(&t, NotificationTimer);
    LONGLONG start = now_ms();
    CHECK_EQ(KeSetTimer(&t, rel(20), NULL), FALSE);
    CHECK_EQ(KeReadStateTimer(&t), FALSE);
    CHECK_EQ(KeWaitForSingleObject(&t, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    CHECK(now_ms() - start >= 19); /* never early */
    CHECK_EQ(KeReadStateTimer(&t), TRUE);
    /* A notification timer stays signalled: every later wait is satisfied. */
    CHECK_EQ(wait_ms(&t, 0), STATUS_SUCCESS);
    CHECK_EQ(wait_ms(&t, 10), STATUS_SUCCESS);
    CHECK_EQ(KeCancelTimer(&t), FALSE); /* expired: no longer set */
    CHECK_EQ(KeReadStateTimer(&t), TRUE);
    /* Setting it again makes it not signalled until it expires. */
    CHECK_EQ(KeSetTimer(&t, rel(10000), NULL), FALSE);
    CHECK_EQ(KeReadStateTimer(&t), FALSE);
    CHECK_EQ(KeCancelTimer(&t), TRUE);
}

static void cancel_return_values(void)
{
    KTIMER t;
    KeInitializeTimer(&t);
    CHECK_EQ(KeSetTimer(&t, rel(10000), NULL), FALSE);
    CHECK_EQ(KeCancelTimer(&t), TRUE);
    CHECK_EQ(KeCancelTimer(&t), FALSE);
    CHECK_EQ(KeReadStateTimer(&t), FALSE);
    CHECK_EQ(wait_ms(&t, 20), STATUS_TIMEOUT); /* cancelled: never signalled */
}

static void reset_of_a_queued_timer(void)
{
    KTIMER t;
    KeInitializeTimer(&t);
    CHECK_EQ(KeSetTimer(&t, rel(10000), NULL), FALSE);
    /* Still in the queue: TRUE, and the new due time replaces the old. */
    CHECK_EQ(KeSetTimerEx(&t, rel(10), 0, NULL), TRUE);
    CHECK_EQ(wait_ms(&t, 30000), STATUS_SUCCESS);
    CHECK_EQ(KeSetTimer(&t, rel(10000), NULL), FALSE); /* had expired */
    CHECK_EQ(KeSetTimer(&t, rel(10000), NULL), TRUE);
    CHECK_EQ(KeCancelTimer(&t), TRUE);
}

static void timeout_on_a_timer_not_yet_due(void)
{
    KTIMER t;
    KeInitializeTimer(&t);
    KeSetTimer(&t, rel(10000), NULL);
    CHECK_EQ(wait_ms(&t, 20), STATUS_TIMEOUT);
    CHECK_EQ(wait_ms(&t, 0), STATUS_TIMEOUT);
    CHECK_EQ(KeCancelTimer(&t), TRUE);
}

static void synchronization_timer_releases_one_wait(void)
{
    KTIMER t;
    KeInitializeTimerEx(&t, SynchronizationTimer);
    KeSetTimer(&t, rel(10), NULL);
    CHECK_EQ(wait_ms(&t, 30000), STATUS_SUCCESS);
    CHECK_EQ(KeReadStateTimer(&t), FALSE); /* the satisfied wait reset it */
    CHECK_EQ(wait_ms(&t, 0), STATUS_TIMEOUT);
    CHECK_EQ(wait_ms(&t, 20), STATUS_TIMEOUT);
}

typedef struct waiter {
    PKTIMER timer;
    volatile LONG *done;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    if (KeWaitForSingleObject(w->timer, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS)
        __atomic_add_fetch(w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static LONG wait_for_count(volatile LONG *count, LONG at_least)
{
    for (int i = 0; i < 3000 && __atomic_load_n(count, __ATOMIC_SEQ_CST) < at_least; i++)
        sleep_ms(10);
    return __atomic_load_n(count, __ATOMIC_SEQ_CST);
}

/* Two threads wait; a notification timer releases both, a synchronization
 * timer one per expiry. */
static void waiters_released(TIMER_TYPE type, LONG after_first)
{
    KTIMER t;
    volatile LONG done = 0;
    KeInitializeTimerEx(&t, type);
    waiter w = {&t, &done};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, waiter_main, &w);
    sleep_ms(20); /* let them block (not needed for correctness) */
    KeSetTimer(&t, rel(10), NULL);
    CHECK_EQ(wait_for_count(&done, after_first), after_first);
    sleep_ms(50);
    CHECK_EQ(done, after_first); /* a synchronization timer released only one */
    if (after_first < 2) {
        KeSetTimer(&t, rel(10), NULL);
        CHECK_EQ(wait_for_count(&done, 2), 2);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
}

static void notification_timer_releases_all_waiters(void)
{
    waiters_released(NotificationTimer, 2);
}

static void synchronization_timer_releases_one_waiter(void)
{
    waiters_released(SynchronizationTimer, 1);
}

static void wait_any_on_event_and_timer(void)
{
    KEVENT e;
    KTIMER t;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    KeInitializeTimer(&t);
    PVOID objects[2] = {&e, &t};
    KeSetTimer(&t, rel(10), NULL);
    LARGE_INTEGER timeout = rel(30000);
    CHECK_EQ(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &timeout, NULL),
             STATUS_WAIT_1);
    KeSetEvent(&e, 0, FALSE);
    CHECK_EQ(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &timeout, NULL),
             STATUS_SUCCESS);
}

static void absolute_due_time(void)
{
    KTIMER t;
    KeInitializeTimer(&t);
    LARGE_INTEGER due;
    KeQuerySystemTime(&due);
    due.QuadPart += 20 * 10000;
    KeSetTimer(&t, due, NULL);
    CHECK_EQ(wait_ms(&t, 30000), STATUS_SUCCESS);
    LARGE_INTEGER now;
    KeQuerySystemTime(&now);
    CHECK(now.QuadPart >= due.QuadPart - 10000); /* within the two clocks' drift */
    /* A time already past expires at once. */
    LARGE_INTEGER past = {.QuadPart = 1};
    KeSetTimer(&t, past, NULL);
    CHECK_EQ(wait_ms(&t, 30000), STATUS_SUCCESS);
}

typedef struct fire_log {
    volatile LONG fires;
    KIRQL irql;
    LONGLONG system_time;
    KEVENT reached;
    LONG target;
} fire_log;

static void timer_dpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)Dpc;
    fire_log *log = Context;
    log->irql = KeGetCurrentIrql();
    LARGE_INTEGER when;
    when.LowPart = (ULONG)(ULONG_PTR)A1;
    when.HighPart = (LONG)(LONG_PTR)A2;
    log->system_time = when.QuadPart;
    if (__atomic_add_fetch(&log->fires, 1, __ATOMIC_SEQ_CST) == log->target)
        KeSetEvent(&log->reached, 0, FALSE);
}

static void timer_dpc_runs_at_dispatch_level(void)
{
    fire_log log = {.target = 1};
    KeInitializeEvent(&log.reached, NotificationEvent, FALSE);
    KTIMER t;
    KDPC d;
    KeInitializeTimer(&t);
    KeInitializeDpc(&d, timer_dpc, &log);
    LARGE_INTEGER before, after;
    KeQuerySystemTime(&before);
    CHECK_EQ(KeSetTimer(&t, rel(10), &d), FALSE);
    CHECK_EQ(wait_ms(&log.reached, 30000), STATUS_SUCCESS);
    KeQuerySystemTime(&after);
    KeFlushQueuedDpcs();
    CHECK_EQ(log.fires, 1);
    CHECK_EQ(log.irql, DISPATCH_LEVEL);
    /* SystemArgument1/2: the system time of the expiry, low and high parts. */
    CHECK(log.system_time >= before.QuadPart && log.system_time <= after.QuadPart);
    CHECK_EQ(KeReadStateTimer(&t), TRUE);
}

static void periodic_timer_fires_until_cancelled(void)
{
    fire_log log = {.target = 5};
    KeInitializeEvent(&log.reached, NotificationEvent, FALSE);
    KTIMER t;
    KDPC d;
    KeInitializeTimerEx(&t, SynchronizationTimer);
    KeInitializeDpc(&d, timer_dpc, &log);
    LONGLONG start = now_ms();
    CHECK_EQ(KeSetTimerEx(&t, rel(10), 10, &d), FALSE);
    CHECK_EQ(wait_ms(&log.reached, 30000), STATUS_SUCCESS);
    CHECK(now_ms() - start >= 45); /* 5 expiries 10 ms apart, the first at 10 ms */
    CHECK_EQ(KeCancelTimer(&t), TRUE); /* a periodic timer stays set */
    KeFlushQueuedDpcs();
    LONG fired = log.fires;
    CHECK(fired >= 5);
    sleep_ms(50);
    CHECK_EQ(log.fires, fired); /* none after cancel + flush */
    CHECK_EQ(KeCancelTimer(&t), FALSE);
}

/* ---- executive timers ---- */

typedef struct ex_log {
    volatile LONG calls;
    KIRQL irql;
    PEX_TIMER timer;
    PVOID context;
    KEVENT reached;
    LONG target;
    BOOLEAN delete_in_callback;
    BOOLEAN stall_at_target; /* keeps the callback running a while after `reached` */
    volatile LONG returned;
    volatile LONG deleted;
    KEVENT deleted_event;
} ex_log;

static void ex_callback(PEX_TIMER Timer, PVOID Context)
{
    ex_log *log = Context;
    log->irql = KeGetCurrentIrql();
    log->timer = Timer;
    log->context = Context;
    if (log->delete_in_callback)
        ExDeleteTimer(Timer, TRUE, FALSE, NULL); /* Wait must be FALSE here */
    if (__atomic_add_fetch(&log->calls, 1, __ATOMIC_SEQ_CST) == log->target) {
        KeSetEvent(&log->reached, 0, FALSE);
        if (log->stall_at_target)
            KeStallExecutionProcessor(50000);
    }
    __atomic_add_fetch(&log->returned, 1, __ATOMIC_SEQ_CST);
}

static void ex_delete_callback(PVOID Context)
{
    ex_log *log = Context;
    __atomic_add_fetch(&log->deleted, 1, __ATOMIC_SEQ_CST);
    KeSetEvent(&log->deleted_event, 0, FALSE);
}

static void ex_log_init(ex_log *log, LONG target)
{
    memset(log, 0, sizeof(*log));
    log->target = target;
    KeInitializeEvent(&log->reached, NotificationEvent, FALSE);
    KeInitializeEvent(&log->deleted_event, NotificationEvent, FALSE);
}

static void ex_timer_one_shot_lifecycle(void)
{
    ex_log log;
    ex_log_init(&log, 1);
    PEX_TIMER t = ExAllocateTimer(ex_callback, &log, 0);
    CHECK(t != NULL);
    CHECK_EQ(openwsk_pool_outstanding_count(EX_TIMER_TAG), 1);
    CHECK_EQ(ExSetTimer(t, MS(10), 0, NULL), FALSE);
    CHECK_EQ(wait_ms(&log.reached, 30000), STATUS_SUCCESS);
    KeFlushQueuedDpcs();
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(log.irql, DISPATCH_LEVEL);
    CHECK(log.timer == t);
    CHECK(log.context == &log);
    CHECK_EQ(ExCancelTimer(t, NULL), FALSE); /* expired */
    EXT_SET_PARAMETERS p;
    ExInitializeSetTimerParameters(&p);
    CHECK_EQ(ExSetTimer(t, MS(10000), 0, &p), FALSE);
    CHECK_EQ(ExSetTimer(t, MS(10000), 0, &p), TRUE); /* cancelled the pending one */
    CHECK_EQ(ExCancelTimer(t, NULL), TRUE);
    CHECK_EQ(ExCancelTimer(t, NULL), FALSE);
    EXT_DELETE_PARAMETERS dp;
    ExInitializeDeleteTimerParameters(&dp);
    dp.DeleteCallback = ex_delete_callback;
    dp.DeleteContext = &log;
    CHECK_EQ(ExDeleteTimer(t, TRUE, TRUE, &dp), FALSE); /* was not set */
    CHECK_EQ(log.deleted, 1);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(openwsk_pool_outstanding_count(EX_TIMER_TAG), 0);
}

static void ex_timer_periodic_then_delete_waits(void)
{
    ex_log log;
    ex_log_init(&log, 3);
    log.stall_at_target = TRUE;
    PEX_TIMER t = ExAllocateTimer(ex_callback, &log, EX_TIMER_HIGH_RESOLUTION);
    CHECK(t != NULL);
    CHECK_EQ(ExSetTimer(t, MS(5), MS(-5) /* 5 ms in 100 ns units */, NULL), FALSE);
    CHECK_EQ(wait_ms(&log.reached, 30000), STATUS_SUCCESS);
    /* Cancel + Wait: no callback runs once ExDeleteTimer has returned. */
    CHECK_EQ(ExDeleteTimer(t, TRUE, TRUE, NULL), TRUE);
    LONG calls = log.calls;
    CHECK_EQ(log.returned, calls); /* it waited for the running (stalled) callback */
    CHECK(calls >= 3);
    KeFlushQueuedDpcs();
    sleep_ms(30);
    CHECK_EQ(log.calls, calls);
    CHECK_EQ(openwsk_pool_outstanding_count(EX_TIMER_TAG), 0);
}

static void ex_timer_waitable(void)
{
    PEX_TIMER n = ExAllocateTimer(NULL, NULL, EX_TIMER_NOTIFICATION | EX_TIMER_NO_WAKE);
    PEX_TIMER s = ExAllocateTimer(NULL, NULL, 0);
    CHECK(n != NULL && s != NULL);
    ExSetTimer(n, MS(10), 0, NULL);
    ExSetTimer(s, MS(10), 0, NULL);
    CHECK_EQ(wait_ms(n, 30000), STATUS_SUCCESS);
    CHECK_EQ(wait_ms(n, 0), STATUS_SUCCESS); /* notification: stays signalled */
    CHECK_EQ(wait_ms(s, 30000), STATUS_SUCCESS);
    CHECK_EQ(wait_ms(s, 0), STATUS_TIMEOUT); /* synchronization: reset by the wait */
    CHECK_EQ(ExDeleteTimer(n, TRUE, FALSE, NULL), FALSE);
    CHECK_EQ(ExDeleteTimer(s, TRUE, TRUE, NULL), FALSE);
    CHECK_EQ(openwsk_pool_outstanding_count(EX_TIMER_TAG), 0);
}

static void ex_timer_deleted_from_its_callback(void)
{
    ex_log log;
    ex_log_init(&log, 1);
    log.delete_in_callback = TRUE;
    PEX_TIMER t = ExAllocateTimer(ex_callback, &log, 0);
    ExSetTimer(t, MS(5), 0, NULL);
    CHECK_EQ(wait_ms(&log.reached, 30000), STATUS_SUCCESS);
    KeFlushQueuedDpcs(); /* the timer is freed once its callback returned */
    CHECK_EQ(openwsk_pool_outstanding_count(EX_TIMER_TAG), 0);
}

static void ex_timer_deleted_without_cancel_expires_first(void)
{
    ex_log log;
    ex_log_init(&log, 1);
    PEX_TIMER t = ExAllocateTimer(ex_callback, &log, 0);
    ExSetTimer(t, MS(10), MS(-10), NULL);
    EXT_DELETE_PARAMETERS dp;
    ExInitializeDeleteTimerParameters(&dp);
    dp.DeleteCallback = ex_delete_callback;
    dp.DeleteContext = &log;
    CHECK_EQ(ExDeleteTimer(t, FALSE, FALSE, &dp), FALSE); /* Cancel FALSE: always FALSE */
    /* It still expires, once (the period ends with the deletion), then goes. */
    CHECK_EQ(wait_ms(&log.deleted_event, 30000), STATUS_SUCCESS);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(log.deleted, 1);
    CHECK_EQ(openwsk_pool_outstanding_count(EX_TIMER_TAG), 0);
}

static void high_resolution_absolute(void *arg)
{
    (void)arg;
    PEX_TIMER t = ExAllocateTimer(NULL, NULL, EX_TIMER_HIGH_RESOLUTION);
    ExSetTimer(t, 1, 0, NULL);
}

static void high_resolution_and_no_wake(void *arg)
{
    (void)arg;
    ExAllocateTimer(NULL, NULL, EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE);
}

static void wait_without_cancel(void *arg)
{
    (void)arg;
    PEX_TIMER t = ExAllocateTimer(NULL, NULL, 0);
    ExDeleteTimer(t, FALSE, TRUE, NULL);
}

static void ex_timer_misuse_bugchecks(void)
{
    CHECK(wt_bugchecks(high_resolution_absolute, NULL, 0x139));
    CHECK(wt_bugchecks(high_resolution_and_no_wake, NULL, 0x139));
    CHECK(wt_bugchecks(wait_without_cancel, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

/* ---- unload ---- */

static void unload_cancels_timers_left_set(void)
{
    /* Earlier cases may leave an expiry or a DPC still on its way (an Ex
     * timer deleted without cancel expires once more): let them finish, so
     * the counts below are this case's own. */
    for (int i = 0; i < 500 && openwsk_timer_pending_count() != 0; i++)
        sleep_ms(10);
    CHECK_EQ(openwsk_timer_pending_count(), 0);
    fire_log log = {.target = 1};
    KeInitializeEvent(&log.reached, NotificationEvent, FALSE);
    KTIMER t, plain;
    KDPC d;
    KeInitializeTimer(&t);
    KeInitializeTimer(&plain);
    KeInitializeDpc(&d, timer_dpc, &log);
    KeSetTimerEx(&t, rel(10000), 50, &d);
    KeSetTimer(&plain, rel(10000), NULL);
    CHECK_EQ(openwsk_timer_pending_count(), 2);
    /* What wskhost does after DriverUnload: logs 0xCE for each, cancels. */
    CHECK_EQ(openwsk_timer_cancel_all_for_unload(), 2);
    CHECK_EQ(openwsk_timer_pending_count(), 0);
    CHECK_EQ(KeCancelTimer(&t), FALSE);
    CHECK_EQ(KeCancelTimer(&plain), FALSE);
    sleep_ms(100);
    KeFlushQueuedDpcs();
    CHECK_EQ(log.fires, 0);
}

int main(void)
{
    openwsk_perturb_init_from_env();
    WT_RUN(initialize_state);
    WT_RUN(one_shot_notification_timer);
    WT_RUN(cancel_return_values);
    WT_RUN(reset_of_a_queued_timer);
    WT_RUN(timeout_on_a_timer_not_yet_due);
    WT_RUN(synchronization_timer_releases_one_wait);
    WT_RUN(notification_timer_releases_all_waiters);
    WT_RUN(synchronization_timer_releases_one_waiter);
    WT_RUN(wait_any_on_event_and_timer);
    WT_RUN(absolute_due_time);
    WT_RUN(timer_dpc_runs_at_dispatch_level);
    WT_RUN(periodic_timer_fires_until_cancelled);
    WT_RUN(ex_timer_one_shot_lifecycle);
    WT_RUN(ex_timer_periodic_then_delete_waits);
    WT_RUN(ex_timer_waitable);
    WT_RUN(ex_timer_deleted_from_its_callback);
    WT_RUN(ex_timer_deleted_without_cancel_expires_first);
    WT_RUN(ex_timer_misuse_bugchecks);
    WT_RUN(unload_cancels_timers_left_set);
    CHECK_EQ(openwsk_leak_report(), 0);
    return wt_finish();
}
