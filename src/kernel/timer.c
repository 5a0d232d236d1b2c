/*
 * timer.c - kernel timers (KeSetTimerEx and friends) and executive timers
 * (ExAllocateTimer, ExSetTimer, ExCancelTimer, ExDeleteTimer).
 *
 * A set KTIMER is linked, through TimerListEntry, into one list sorted by
 * DueTime, which holds the expiry in interrupt time (100 ns units on
 * CLOCK_MONOTONIC).  One timer thread, started by the first set, sleeps
 * until the earliest expiry, then signals the timer as a dispatcher object
 * (dispatcher.c: a notification timer stays signalled, a synchronization
 * timer releases one waiter and resets) and queues its DPC, if any, with
 * the expiry's system time as SystemArgument1/2 (low and high parts).
 * A periodic timer goes back in the list one period after the previous
 * expiry; when the timer thread has fallen behind by more than a period it
 * re-arms one period from now rather than firing a burst to catch up.
 *
 * An absolute DueTime (system time) is converted to interrupt time when
 * the timer is set: a later change of the wall clock does not move it.
 *
 * Executive timers are a KTIMER plus a KDPC that calls the driver's
 * EXT_CALLBACK; Header.Reserved1 marks them, so that the timer thread can
 * take their period (in 100 ns units, not milliseconds) from the wrapper.
 */
#include "timer_internal.h"

#include "perturb.h"

#include <limits.h>
#include <time.h>

#define TIMER_FLAG_EX 0x1
#define MS_100NS 10000LL

static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static LIST_ENTRY timer_list;
static BOOLEAN timer_started;

struct _EX_TIMER {
    KTIMER Timer; /* first: an EX_TIMER is waited on as its KTIMER */
    KDPC Dpc;
    PEXT_CALLBACK Callback;
    PVOID CallbackContext;
    ULONG Attributes;
    LONGLONG Period; /* 100 ns units */
    /* Guarded by timer_lock: */
    BOOLEAN Deleted; /* ExDeleteTimer was called */
    LONG Runs;       /* callbacks queued or running */
    BOOLEAN Waiting; /* ExDeleteTimer(Wait = TRUE) will free it */
    PEXT_DELETE_CALLBACK DeleteCallback;
    PVOID DeleteContext;
};

#define EX_TIMER_TAG TAG_FROM_CHARS('E', 'x', 'T', 'm')

/* ---- the timer list and thread ---- */

static void *timer_thread(void *arg);

/* Called with timer_lock held. */
static void timer_start_locked(void)
{
    if (timer_started)
        return;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&timer_cond, &attr);
    pthread_condattr_destroy(&attr);
    InitializeListHead(&timer_list);
    if (openwsk_runtime_thread_spawn(timer_thread, NULL) != 0)
        KeBugCheckEx(0x7D /* INSTALL_MORE_MEMORY */, 0, 0, 0, 0);
    timer_started = TRUE;
}

static BOOLEAN timer_is_set(PKTIMER t)
{
    return t->TimerListEntry.Flink != NULL;
}

/* Called with timer_lock held. */
static void timer_unlink(PKTIMER t)
{
    RemoveEntryList(&t->TimerListEntry);
    t->TimerListEntry.Flink = NULL;
    t->TimerListEntry.Blink = NULL;
}

/* Called with timer_lock held: sorted insert, after timers due at the
 * same time (they expire in the order they were set). */
static void timer_link(PKTIMER t)
{
    PLIST_ENTRY e = timer_list.Blink;
    while (e != &timer_list && CONTAINING_RECORD(e, KTIMER, TimerListEntry)->DueTime.QuadPart > t->DueTime.QuadPart)
        e = e->Blink;
    /* insert after e */
    t->TimerListEntry.Flink = e->Flink;
    t->TimerListEntry.Blink = e;
    e->Flink->Blink = &t->TimerListEntry;
    e->Flink = &t->TimerListEntry;
    if (timer_list.Flink == &t->TimerListEntry)
        pthread_cond_signal(&timer_cond); /* a new earliest expiry */
}

static LONGLONG timer_period_100ns(PKTIMER t)
{
    if (t->Header.Reserved1 & TIMER_FLAG_EX)
        return CONTAINING_RECORD(t, struct _EX_TIMER, Timer)->Period;
    return (LONGLONG)t->Period * MS_100NS;
}

/* Called with timer_lock held; the timer is already unlinked. */
static void timer_expire(PKTIMER t, LONGLONG now)
{
    LONGLONG period = timer_period_100ns(t);
    struct _EX_TIMER *x = (t->Header.Reserved1 & TIMER_FLAG_EX) ? CONTAINING_RECORD(t, struct _EX_TIMER, Timer) : NULL;
    if (x != NULL && x->Deleted)
        period = 0; /* deleted without cancelling: this expiry is its last */
    if (period > 0) {
        LONGLONG due = (LONGLONG)t->DueTime.QuadPart;
        LONGLONG next = due > LLONG_MAX - period ? LLONG_MAX : due + period;
        t->DueTime.QuadPart = (ULONGLONG)(next > now ? next : now + period);
        timer_link(t);
    }
    int wake = t->Header.Type == TimerSynchronizationObject ? 1 : INT_MAX;
    /* Under the dispatcher lock: a waiter of the timer may free or reuse
     * its KTIMER as soon as it passed through the lock after the signal.
     * The DPC goes in last: its routine may set an event whose waiter
     * (events do not pass through the lock, see dispatcher.c) frees the
     * KTIMER at once, so the timer is not touched after the insertion. */
    openwsk_dispatcher_lock();
    __atomic_store_n(&t->Header.SignalState, 1, __ATOMIC_SEQ_CST);
    PKDPC dpc = t->Dpc;
    openwsk_dispatcher_wake(&t->Header, wake);
    if (dpc != NULL) {
        LARGE_INTEGER system_time;
        system_time.QuadPart = openwsk_system_time_now();
        if (KeInsertQueueDpc(dpc, (PVOID)(ULONG_PTR)system_time.LowPart, (PVOID)(LONG_PTR)system_time.HighPart) &&
            x != NULL)
            x->Runs++; /* x is the provider's: freed only under timer_lock, which the caller holds */
    }
    openwsk_dispatcher_unlock();
}

static void *timer_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timer_lock);
    for (;;) {
        if (IsListEmpty(&timer_list)) {
            pthread_cond_wait(&timer_cond, &timer_lock);
            continue;
        }
        PKTIMER t = CONTAINING_RECORD(timer_list.Flink, KTIMER, TimerListEntry);
        LONGLONG now = openwsk_interrupt_time_now();
        LONGLONG due = (LONGLONG)t->DueTime.QuadPart;
        if (due > now) {
            struct timespec at;
            at.tv_sec = (time_t)(due / 10000000);
            at.tv_nsec = (long)(due % 10000000) * 100;
            pthread_cond_timedwait(&timer_cond, &timer_lock, &at);
            continue;
        }
        timer_unlink(t);
        timer_expire(t, now);
        if (openwsk_perturb_enabled() && openwsk_perturb_one_in(4)) {
            pthread_mutex_unlock(&timer_lock);
            openwsk_perturb_delay();
            pthread_mutex_lock(&timer_lock);
        }
    }
    return NULL;
}

/* ---- kernel timers ---- */

static void timer_check_irql(void *object)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > DISPATCH_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)object, irql, 0, (ULONG_PTR)__builtin_return_address(0));
}

static void timer_init(PKTIMER Timer, UCHAR type, UCHAR flags)
{
    Timer->Header.Type = type;
    Timer->Header.Signalling = 0;
    Timer->Header.Size = sizeof(KTIMER) / sizeof(LONG);
    Timer->Header.Reserved1 = flags;
    Timer->Header.WaitListHead.Flink = NULL; /* its first word: the waiter count */
    Timer->Header.WaitListHead.Blink = NULL;
    Timer->DueTime.QuadPart = 0;
    Timer->TimerListEntry.Flink = NULL;
    Timer->TimerListEntry.Blink = NULL;
    Timer->Dpc = NULL;
    Timer->Processor = 0;
    Timer->Period = 0;
    __atomic_store_n(&Timer->Header.SignalState, 0, __ATOMIC_SEQ_CST);
}

void KeInitializeTimer(PKTIMER Timer)
{
    timer_init(Timer, TimerNotificationObject, 0);
}

void KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)
{
    timer_init(Timer, Type == SynchronizationTimer ? TimerSynchronizationObject : TimerNotificationObject, 0);
}

/* DueTime (negative: relative, positive: absolute system time) as
 * interrupt time. */
static LONGLONG timer_due_from(LONGLONG DueTime)
{
    LONGLONG now = openwsk_interrupt_time_now();
    if (DueTime < 0)
        return DueTime < -(LLONG_MAX - now) ? LLONG_MAX : now - DueTime;
    LONGLONG ahead = DueTime - openwsk_system_time_now();
    return ahead > 0 ? now + ahead : now;
}

/* Sets the timer (period in 100 ns units, 0: one-shot); TRUE if it was
 * already set.  Setting resets the timer to not signalled. */
static BOOLEAN timer_set(PKTIMER Timer, LONGLONG DueTime, ULONG PeriodMs, PKDPC Dpc)
{
    LONGLONG due = timer_due_from(DueTime);
    pthread_mutex_lock(&timer_lock);
    timer_start_locked();
    BOOLEAN was_set = timer_is_set(Timer);
    if (was_set)
        timer_unlink(Timer);
    __atomic_store_n(&Timer->Header.SignalState, 0, __ATOMIC_SEQ_CST);
    Timer->DueTime.QuadPart = (ULONGLONG)due;
    Timer->Period = PeriodMs;
    Timer->Dpc = Dpc;
    timer_link(Timer);
    pthread_mutex_unlock(&timer_lock);
    return was_set;
}

BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc)
{
    return KeSetTimerEx(Timer, DueTime, 0, Dpc);
}

BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)
{
    timer_check_irql(Timer);
    /* A negative Period is not documented (KeSetTimerEx, Parameters): taken
     * as 0, a one-shot timer. */
    return timer_set(Timer, DueTime.QuadPart, Period > 0 ? (ULONG)Period : 0, Dpc);
}

BOOLEAN KeSetCoalescableTimer(PKTIMER Timer, LARGE_INTEGER DueTime, ULONG Period, ULONG TolerableDelay, PKDPC Dpc)
{
    (void)TolerableDelay; /* expiring on time is within any tolerance */
    timer_check_irql(Timer);
    return timer_set(Timer, DueTime.QuadPart, Period, Dpc);
}

BOOLEAN KeCancelTimer(PKTIMER Timer)
{
    timer_check_irql(Timer);
    pthread_mutex_lock(&timer_lock);
    BOOLEAN was_set = timer_started && timer_is_set(Timer);
    if (was_set)
        timer_unlink(Timer);
    pthread_mutex_unlock(&timer_lock);
    return was_set;
}

BOOLEAN KeReadStateTimer(PKTIMER Timer)
{
    return __atomic_load_n(&Timer->Header.SignalState, __ATOMIC_SEQ_CST) != 0;
}

/* ---- executive timers ---- */

static void ex_timer_free(struct _EX_TIMER *x)
{
    PEXT_DELETE_CALLBACK done = x->DeleteCallback;
    PVOID context = x->DeleteContext;
    openwsk_pool_free(x);
    if (done != NULL)
        done(context);
}

static void ex_timer_dpc(PKDPC Dpc, PVOID DeferredContext, PVOID SystemArgument1, PVOID SystemArgument2)
{
    (void)Dpc;
    (void)SystemArgument1;
    (void)SystemArgument2;
    struct _EX_TIMER *x = DeferredContext;
    x->Callback(x, x->CallbackContext);
    pthread_mutex_lock(&timer_lock);
    BOOLEAN free_now = --x->Runs == 0 && x->Deleted && !x->Waiting && !timer_is_set(&x->Timer);
    /* ExDeleteTimer(Wait = TRUE) waits on the timer thread's condition. */
    pthread_cond_broadcast(&timer_cond);
    pthread_mutex_unlock(&timer_lock);
    if (free_now)
        ex_timer_free(x);
}

PEX_TIMER ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext, ULONG Attributes)
{
    if ((Attributes & EX_TIMER_HIGH_RESOLUTION) && (Attributes & EX_TIMER_NO_WAKE))
        KeBugCheckEx(0x139 /* KERNEL_SECURITY_CHECK_FAILURE */, 0, Attributes, 0, 0);
    struct _EX_TIMER *x = openwsk_pool_alloc(sizeof(*x), EX_TIMER_TAG, TRUE);
    if (x == NULL)
        return NULL;
    timer_init(&x->Timer, (Attributes & EX_TIMER_NOTIFICATION) ? TimerNotificationObject : TimerSynchronizationObject,
               TIMER_FLAG_EX);
    x->Callback = Callback;
    x->CallbackContext = CallbackContext;
    x->Attributes = Attributes;
    if (Callback != NULL)
        KeInitializeDpc(&x->Dpc, ex_timer_dpc, x);
    return x;
}

BOOLEAN ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period, PEXT_SET_PARAMETERS Parameters)
{
    timer_check_irql(Timer);
    /* ExSetTimer, Parameters: a high-resolution timer takes a relative
     * DueTime; Period is at most MAXLONG; NoWakeTolerance is not negative
     * unless EX_TIMER_UNLIMITED_TOLERANCE.  Anything else bug-checks. */
    if (((Timer->Attributes & EX_TIMER_HIGH_RESOLUTION) && DueTime > 0) || Period < 0 || Period > MAXLONG ||
        (Parameters != NULL && Parameters->NoWakeTolerance < 0 &&
         Parameters->NoWakeTolerance != EX_TIMER_UNLIMITED_TOLERANCE))
        KeBugCheckEx(0x139 /* KERNEL_SECURITY_CHECK_FAILURE */, (ULONG_PTR)Timer, (ULONG_PTR)DueTime,
                     (ULONG_PTR)Period, 0);
    pthread_mutex_lock(&timer_lock);
    BOOLEAN deleted = Timer->Deleted;
    Timer->Period = Period;
    pthread_mutex_unlock(&timer_lock);
    if (deleted)
        KeBugCheckEx(BAD_POOL_CALLER, 0x99, (ULONG_PTR)Timer, 0, 0); /* a deleted timer */
    return timer_set(&Timer->Timer, DueTime, 0, Timer->Callback != NULL ? &Timer->Dpc : NULL);
}

BOOLEAN ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters)
{
    (void)Parameters;
    return KeCancelTimer(&Timer->Timer);
}

BOOLEAN ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait, PEXT_DELETE_PARAMETERS Parameters)
{
    KIRQL irql = KeGetCurrentIrql();
    /* ExDeleteTimer, Parameters and Remarks: Wait needs Cancel, and an IRQL
     * at most APC_LEVEL; otherwise at most DISPATCH_LEVEL. */
    if ((Wait && !Cancel) || irql > (Wait ? APC_LEVEL : DISPATCH_LEVEL))
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)Timer, irql, Cancel, Wait);
    struct _EX_TIMER *x = Timer;
    pthread_mutex_lock(&timer_lock);
    if (x->Deleted)
        KeBugCheckEx(BAD_POOL_CALLER, 0x99, (ULONG_PTR)Timer, 0, 0); /* deleted twice */
    x->Deleted = TRUE;
    if (Parameters != NULL) {
        x->DeleteCallback = Parameters->DeleteCallback;
        x->DeleteContext = Parameters->DeleteContext;
    }
    BOOLEAN cancelled = FALSE;
    if (Cancel && timer_started && timer_is_set(&x->Timer)) {
        timer_unlink(&x->Timer);
        cancelled = TRUE;
    }
    if (Wait) {
        /* "Finish expiring": a callback already queued or running. */
        x->Waiting = TRUE;
        while (x->Runs > 0)
            pthread_cond_wait(&timer_cond, &timer_lock);
    }
    /* Freed here when nothing refers to it any more; otherwise by the last
     * callback (a queued or running one, or the expiry of a timer still set
     * after ExDeleteTimer(Cancel = FALSE)). */
    BOOLEAN free_now = x->Runs == 0 && !timer_is_set(&x->Timer);
    if (!free_now && x->Callback == NULL) {
        /* Set, without a callback to free it on expiry: stop it now. */
        timer_unlink(&x->Timer);
        free_now = TRUE;
    }
    pthread_mutex_unlock(&timer_lock);
    if (free_now)
        ex_timer_free(x);
    return cancelled;
}

/* ---- unload ---- */

LONG openwsk_timer_pending_count(void)
{
    LONG n = 0;
    pthread_mutex_lock(&timer_lock);
    if (timer_started)
        for (PLIST_ENTRY e = timer_list.Flink; e != &timer_list; e = e->Flink)
            n++;
    pthread_mutex_unlock(&timer_lock);
    return n + openwsk_dpc_pending_count();
}

LONG openwsk_timer_cancel_all_for_unload(void)
{
    LONG n = 0;
    pthread_mutex_lock(&timer_lock);
    while (timer_started && !IsListEmpty(&timer_list)) {
        PKTIMER t = CONTAINING_RECORD(timer_list.Flink, KTIMER, TimerListEntry);
        openwsk_log("DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS (0xCE): timer %p (DPC %p) still set "
                    "after DriverUnload; cancelled",
                    (void *)t, (void *)t->Dpc);
        timer_unlink(t);
        n++;
    }
    pthread_mutex_unlock(&timer_lock);
    return n + openwsk_dpc_cancel_all_for_unload();
}
