/*
 * dpc.c - deferred procedure calls (KeInitializeDpc, KeInsertQueueDpc,
 * KeRemoveQueueDpc, KeFlushQueuedDpcs).
 *
 * One DPC thread, started by the first KeInsertQueueDpc, runs the queued
 * DPCs one at a time in queue order at DISPATCH_LEVEL (KeInsertQueueDpc,
 * Remarks: a DPC runs at DISPATCH_LEVEL); a HighImportance DPC goes to the
 * head of the queue, any other to its tail (KeSetImportanceDpc, Remarks).
 * Windows has a queue per processor and may run two DPCs at once on two
 * processors; drivers cannot count on either, and one thread keeps it cheap.
 * Threaded DPCs run there too, at DISPATCH_LEVEL, as they do on Windows
 * when threaded DPCs are disabled (KeInitializeThreadedDpc, Remarks): the
 * strictest of the two IRQLs a threaded DPC must be ready for.
 *
 * A queued DPC is linked through DpcListEntry, has DpcData non-NULL and
 * its queue order in ProcessorHistory; KeFlushQueuedDpcs waits until every
 * DPC queued before its call has been run or removed.
 */
#include "timer_internal.h"

#include "perturb.h"
#include "timeline.h"

#include <signal.h>

static pthread_mutex_t dpc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dpc_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t dpc_progress = PTHREAD_COND_INITIALIZER;
static PKDPC dpc_head, dpc_tail;
static ULONG64 dpc_inserted;   /* queue order of the last insertion */
static ULONG64 dpc_running;    /* queue order of the DPC running, 0: none */
static LONG dpc_queued;        /* DPCs in the queue */
static BOOLEAN dpc_started;
/* DpcData of a queued DPC points here (any non-NULL value would do). */
static char dpc_queued_marker;

int openwsk_runtime_thread_spawn(void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static PKDPC dpc_next(PKDPC dpc)
{
    SINGLE_LIST_ENTRY *next = dpc->DpcListEntry.Next;
    return next == NULL ? NULL : CONTAINING_RECORD(next, KDPC, DpcListEntry);
}

/* Called with dpc_lock held. */
static void dpc_unlink(PKDPC dpc)
{
    PKDPC prev = NULL;
    for (PKDPC d = dpc_head; d != NULL; prev = d, d = dpc_next(d)) {
        if (d != dpc)
            continue;
        if (prev == NULL)
            dpc_head = dpc_next(d);
        else
            prev->DpcListEntry.Next = d->DpcListEntry.Next;
        if (dpc_tail == d)
            dpc_tail = prev;
        break;
    }
    dpc->DpcListEntry.Next = NULL;
    dpc->DpcData = NULL;
    dpc_queued--;
}

static void *dpc_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "openwsk-dpc"); /* the timeline's track name */
    pthread_mutex_lock(&dpc_lock);
    for (;;) {
        while (dpc_head == NULL)
            pthread_cond_wait(&dpc_work, &dpc_lock);
        PKDPC dpc = dpc_head;
        ULONG64 order = dpc->ProcessorHistory;
        dpc_unlink(dpc);
        /* Read at dequeue time: once DpcData is NULL the DPC may be queued
         * again (from its own routine, from another thread) with new
         * arguments, which belong to that next run. */
        PKDEFERRED_ROUTINE routine = dpc->DeferredRoutine;
        PVOID context = dpc->DeferredContext;
        PVOID arg1 = dpc->SystemArgument1;
        PVOID arg2 = dpc->SystemArgument2;
        dpc_running = order;
        pthread_mutex_unlock(&dpc_lock);

        openwsk_perturb_point();
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        uint64_t t0 = openwsk_trace_enabled() ? openwsk_trace_now() + 1 : 0;
        routine(dpc, context, arg1, arg2);
        /* dpc may be gone now. */
        if (t0 != 0)
            openwsk_trace_slice("dpc", "DPC", t0 - 1, "routine", TL_ARG_SYM, (uint64_t)(uintptr_t) * (void **)&routine);
        if (KeGetCurrentIrql() != DISPATCH_LEVEL)
            openwsk_log("DPC routine %p returned at IRQL %u instead of DISPATCH_LEVEL", *(void **)&routine,
                        (unsigned)KeGetCurrentIrql());
        KeLowerIrql(old);

        pthread_mutex_lock(&dpc_lock);
        dpc_running = 0;
        pthread_cond_broadcast(&dpc_progress);
    }
    return NULL;
}

static void dpc_init(PRKDPC Dpc, UCHAR type, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    Dpc->Type = type;
    Dpc->Importance = MediumImportance;
    Dpc->Number = 0;
    Dpc->DpcListEntry.Next = NULL;
    Dpc->ProcessorHistory = 0;
    Dpc->DeferredRoutine = DeferredRoutine;
    Dpc->DeferredContext = DeferredContext;
    Dpc->SystemArgument1 = NULL;
    Dpc->SystemArgument2 = NULL;
    Dpc->DpcData = NULL;
}

void KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    dpc_init(Dpc, DpcObject, DeferredRoutine, DeferredContext);
}

void KeInitializeThreadedDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    dpc_init(Dpc, ThreadedDpcObject, DeferredRoutine, DeferredContext);
}

BOOLEAN KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2)
{
    pthread_mutex_lock(&dpc_lock);
    if (Dpc->DpcData != NULL) {
        pthread_mutex_unlock(&dpc_lock);
        return FALSE; /* already queued: KeInsertQueueDpc, Return value */
    }
    if (!dpc_started) {
        if (openwsk_runtime_thread_spawn(dpc_thread, NULL) != 0)
            KeBugCheckEx(0x7D /* INSTALL_MORE_MEMORY */, 0, 0, 0, 0);
        dpc_started = TRUE;
    }
    Dpc->SystemArgument1 = SystemArgument1;
    Dpc->SystemArgument2 = SystemArgument2;
    Dpc->DpcData = &dpc_queued_marker;
    Dpc->ProcessorHistory = ++dpc_inserted;
    Dpc->DpcListEntry.Next = NULL;
    if (dpc_tail == NULL) {
        dpc_head = dpc_tail = Dpc;
    } else if (Dpc->Importance == HighImportance) {
        Dpc->DpcListEntry.Next = &dpc_head->DpcListEntry;
        dpc_head = Dpc;
    } else {
        dpc_tail->DpcListEntry.Next = &Dpc->DpcListEntry;
        dpc_tail = Dpc;
    }
    dpc_queued++;
    pthread_cond_signal(&dpc_work);
    pthread_mutex_unlock(&dpc_lock);
    return TRUE;
}

BOOLEAN KeRemoveQueueDpc(PRKDPC Dpc)
{
    pthread_mutex_lock(&dpc_lock);
    BOOLEAN queued = Dpc->DpcData != NULL;
    if (queued) {
        dpc_unlink(Dpc);
        pthread_cond_broadcast(&dpc_progress);
    }
    pthread_mutex_unlock(&dpc_lock);
    return queued;
}

/* Called with dpc_lock held: has everything queued up to `order` run? */
static BOOLEAN dpc_flushed_through(ULONG64 order)
{
    if (dpc_running != 0 && dpc_running <= order)
        return FALSE;
    for (PKDPC d = dpc_head; d != NULL; d = dpc_next(d))
        if (d->ProcessorHistory <= order)
            return FALSE;
    return TRUE;
}

void KeFlushQueuedDpcs(void)
{
    /* Called at PASSIVE_LEVEL (KeFlushQueuedDpcs, Remarks); from a DPC it
     * would wait for itself forever. */
    KIRQL irql = KeGetCurrentIrql();
    if (irql >= DISPATCH_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)__builtin_return_address(0));
    pthread_mutex_lock(&dpc_lock);
    ULONG64 target = dpc_inserted;
    while (!dpc_flushed_through(target))
        pthread_cond_wait(&dpc_progress, &dpc_lock);
    pthread_mutex_unlock(&dpc_lock);
}

void KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance)
{
    Dpc->Importance = (UCHAR)Importance;
}

void KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number)
{
    Dpc->Number = (USHORT)(UCHAR)Number; /* recorded; there is one DPC thread */
}

NTSTATUS KeSetTargetProcessorDpcEx(PKDPC Dpc, PPROCESSOR_NUMBER ProcNumber)
{
    if (ProcNumber == NULL || ProcNumber->Group != 0)
        return STATUS_INVALID_PARAMETER;
    Dpc->Number = ProcNumber->Number;
    return STATUS_SUCCESS;
}

LONG openwsk_dpc_pending_count(void)
{
    pthread_mutex_lock(&dpc_lock);
    LONG n = dpc_queued + (dpc_running != 0 ? 1 : 0);
    pthread_mutex_unlock(&dpc_lock);
    return n;
}

LONG openwsk_dpc_cancel_all_for_unload(void)
{
    LONG n = 0;
    pthread_mutex_lock(&dpc_lock);
    while (dpc_head != NULL) {
        PKDPC dpc = dpc_head;
        openwsk_log("DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS (0xCE): DPC %p (routine %p) still "
                    "queued after DriverUnload; removed",
                    (void *)dpc, *(void **)&dpc->DeferredRoutine);
        dpc_unlink(dpc);
        n++;
    }
    while (dpc_running != 0)
        pthread_cond_wait(&dpc_progress, &dpc_lock);
    pthread_cond_broadcast(&dpc_progress);
    pthread_mutex_unlock(&dpc_lock);
    return n;
}
