/*
 * test_dpc.c - deferred procedure calls: KeInitialize(Threaded)Dpc,
 * KeInsertQueueDpc (FALSE while queued), KeRemoveQueueDpc, the queue order
 * (HighImportance first), KeFlushQueuedDpcs, and the IRQL a DPC runs at.
 *
 * A "gate" DPC spins on the DPC thread until the test opens it, so that
 * the DPCs queued meanwhile stay queued: no assertion depends on timing.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <sched.h>

#include "kernel/perturb.h"
#include "wt.h"
#include "wt_bugcheck.h"

static volatile LONG gate_open;
static volatile LONG gate_entered;

static void gate_routine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)Dpc;
    (void)Context;
    (void)A1;
    (void)A2;
    __atomic_store_n(&gate_entered, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&gate_open, __ATOMIC_SEQ_CST))
        sched_yield(); /* spinning is what a DPC may do */
}

static KDPC gate;

/* Holds the DPC thread in gate_routine until gate_release(). */
static void gate_hold(void)
{
    __atomic_store_n(&gate_open, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_entered, 0, __ATOMIC_SEQ_CST);
    KeInitializeDpc(&gate, gate_routine, NULL);
    CHECK(KeInsertQueueDpc(&gate, NULL, NULL));
    while (!__atomic_load_n(&gate_entered, __ATOMIC_SEQ_CST))
        sched_yield();
}

static void gate_release(void)
{
    __atomic_store_n(&gate_open, 1, __ATOMIC_SEQ_CST);
}

typedef struct record {
    volatile LONG runs;
    KIRQL irql;
    PVOID context;
    PVOID arg1, arg2;
    PKDPC dpc;
} record;

/* Order in which recording DPCs ran. */
static volatile LONG order_next;
static LONG order_of[8];

static void record_routine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    record *r = Context;
    r->irql = KeGetCurrentIrql();
    r->context = Context;
    r->arg1 = A1;
    r->arg2 = A2;
    r->dpc = Dpc;
    __atomic_add_fetch(&r->runs, 1, __ATOMIC_SEQ_CST);
}

static void ordered_routine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)Dpc;
    (void)A2;
    (void)Context;
    order_of[__atomic_fetch_add(&order_next, 1, __ATOMIC_SEQ_CST)] = (LONG)(LONG_PTR)A1;
}

static void initialize_sets_fields(void)
{
    KDPC d, t;
    record r = {0};
    memset(&d, 0xAB, sizeof(d));
    KeInitializeDpc(&d, record_routine, &r);
    CHECK_EQ(d.Type, DpcObject);
    CHECK_EQ(d.Importance, MediumImportance);
    CHECK(d.DeferredRoutine == record_routine);
    CHECK(d.DeferredContext == &r);
    CHECK(d.DpcData == NULL);
    KeInitializeThreadedDpc(&t, record_routine, &r);
    CHECK_EQ(t.Type, ThreadedDpcObject);
    CHECK(t.DpcData == NULL);
}

static void runs_at_dispatch_level_with_arguments(void)
{
    record r = {0};
    KDPC d;
    KeInitializeDpc(&d, record_routine, &r);
    CHECK(KeInsertQueueDpc(&d, (PVOID)0x11, (PVOID)0x22));
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 1);
    CHECK_EQ(r.irql, DISPATCH_LEVEL);
    CHECK(r.dpc == &d);
    CHECK(r.context == &r);
    CHECK(r.arg1 == (PVOID)0x11);
    CHECK(r.arg2 == (PVOID)0x22);
    CHECK(d.DpcData == NULL);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void threaded_dpc_runs(void)
{
    record r = {0};
    KDPC d;
    KeInitializeThreadedDpc(&d, record_routine, &r);
    CHECK(KeInsertQueueDpc(&d, NULL, NULL));
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 1);
    CHECK_EQ(r.irql, DISPATCH_LEVEL); /* as with threaded DPCs disabled */
}

static void insert_twice_returns_false(void)
{
    record r = {0};
    KDPC d;
    KeInitializeDpc(&d, record_routine, &r);
    gate_hold();
    CHECK_EQ(KeInsertQueueDpc(&d, (PVOID)1, (PVOID)2), TRUE);
    CHECK(d.DpcData != NULL);
    CHECK_EQ(KeInsertQueueDpc(&d, (PVOID)3, (PVOID)4), FALSE); /* already queued: arguments unchanged */
    gate_release();
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 1);
    CHECK(r.arg1 == (PVOID)1);
    CHECK(r.arg2 == (PVOID)2);
    /* Once it has run it can be queued again. */
    CHECK_EQ(KeInsertQueueDpc(&d, (PVOID)5, NULL), TRUE);
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 2);
    CHECK(r.arg1 == (PVOID)5);
}

static void remove_unqueues(void)
{
    record r = {0}, other = {0};
    KDPC d, o;
    KeInitializeDpc(&d, record_routine, &r);
    KeInitializeDpc(&o, record_routine, &other);
    CHECK_EQ(KeRemoveQueueDpc(&d), FALSE); /* never queued */
    gate_hold();
    CHECK(KeInsertQueueDpc(&o, NULL, NULL));
    CHECK(KeInsertQueueDpc(&d, NULL, NULL));
    CHECK_EQ(KeRemoveQueueDpc(&d), TRUE);
    CHECK_EQ(KeRemoveQueueDpc(&d), FALSE);
    CHECK(d.DpcData == NULL);
    gate_release();
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 0);
    CHECK_EQ(other.runs, 1);
}

static void queue_order_and_high_importance(void)
{
    KDPC d[4];
    order_next = 0;
    for (int i = 0; i < 4; i++)
        KeInitializeDpc(&d[i], ordered_routine, NULL);
    KeSetImportanceDpc(&d[3], HighImportance);
    KeSetImportanceDpc(&d[1], LowImportance);
    gate_hold();
    for (int i = 0; i < 4; i++)
        CHECK(KeInsertQueueDpc(&d[i], (PVOID)(LONG_PTR)i, NULL));
    gate_release();
    KeFlushQueuedDpcs();
    CHECK_EQ(order_next, 4);
    CHECK_EQ(order_of[0], 3); /* HighImportance: head of the queue */
    CHECK_EQ(order_of[1], 0);
    CHECK_EQ(order_of[2], 1);
    CHECK_EQ(order_of[3], 2);
}

static volatile LONG slow_runs;

static void slow_routine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)Dpc;
    (void)Context;
    (void)A1;
    (void)A2;
    KeStallExecutionProcessor(200);
    __atomic_add_fetch(&slow_runs, 1, __ATOMIC_SEQ_CST);
}

static void flush_waits_for_all_queued(void)
{
    enum { N = 40 };
    static KDPC d[N];
    slow_runs = 0;
    for (int i = 0; i < N; i++) {
        KeInitializeDpc(&d[i], slow_routine, NULL);
        CHECK(KeInsertQueueDpc(&d[i], NULL, NULL));
    }
    KeFlushQueuedDpcs();
    CHECK_EQ(__atomic_load_n(&slow_runs, __ATOMIC_SEQ_CST), N);
    KeFlushQueuedDpcs(); /* nothing queued: returns at once */
}

static volatile LONG requeue_left;

static void requeue_routine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    (void)A1;
    (void)A2;
    record *r = Context;
    __atomic_add_fetch(&r->runs, 1, __ATOMIC_SEQ_CST);
    if (__atomic_sub_fetch(&requeue_left, 1, __ATOMIC_SEQ_CST) > 0)
        CHECK(KeInsertQueueDpc(Dpc, NULL, NULL)); /* from its own routine */
}

static void requeue_from_own_routine(void)
{
    record r = {0};
    KDPC d;
    requeue_left = 5;
    KeInitializeDpc(&d, requeue_routine, &r);
    CHECK(KeInsertQueueDpc(&d, NULL, NULL));
    for (int spins = 0; __atomic_load_n(&r.runs, __ATOMIC_SEQ_CST) < 5 && spins < 30000; spins++) {
        LARGE_INTEGER ms = {.QuadPart = -10000};
        KeDelayExecutionThread(KernelMode, FALSE, &ms);
    }
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 5);
    CHECK(d.DpcData == NULL);
}

static void target_processor_accepted(void)
{
    record r = {0};
    KDPC d;
    KeInitializeDpc(&d, record_routine, &r);
    KeSetTargetProcessorDpc(&d, 0);
    PROCESSOR_NUMBER p = {.Group = 0, .Number = 0};
    CHECK_EQ(KeSetTargetProcessorDpcEx(&d, &p), STATUS_SUCCESS);
    CHECK(KeInsertQueueDpc(&d, NULL, NULL));
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 1);
}

static void flush_at_dispatch(void *arg)
{
    (void)arg;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeFlushQueuedDpcs();
}

static void flush_at_dispatch_level_bugchecks(void)
{
    CHECK(wt_bugchecks(flush_at_dispatch, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

static void *cancel_all_thread(void *arg)
{
    (void)arg;
    return (void *)(LONG_PTR)openwsk_timer_cancel_all_for_unload();
}

static void unload_removes_queued_dpcs(void)
{
    record r = {0};
    KDPC d;
    KeInitializeDpc(&d, record_routine, &r);
    gate_hold();
    CHECK(KeInsertQueueDpc(&d, NULL, NULL));
    CHECK_EQ(openwsk_timer_pending_count(), 2); /* the gate, running, and d */
    /* Removes d (logged as 0xCE), then waits for the running gate: the gate
     * opens only once d is gone, or the DPC thread could run d first. */
    pthread_t canceller;
    CHECK_EQ(pthread_create(&canceller, NULL, cancel_all_thread, NULL), 0);
    for (int i = 0; i < 100000 && openwsk_timer_pending_count() != 1; i++)
        sched_yield();
    gate_release();
    void *removed;
    pthread_join(canceller, &removed);
    CHECK_EQ((LONG)(LONG_PTR)removed, 1);
    KeFlushQueuedDpcs();
    CHECK_EQ(r.runs, 0);
    CHECK_EQ(openwsk_timer_pending_count(), 0);
}

int main(void)
{
    openwsk_perturb_init_from_env();
    WT_RUN(initialize_sets_fields);
    WT_RUN(runs_at_dispatch_level_with_arguments);
    WT_RUN(threaded_dpc_runs);
    WT_RUN(insert_twice_returns_false);
    WT_RUN(remove_unqueues);
    WT_RUN(queue_order_and_high_importance);
    WT_RUN(flush_waits_for_all_queued);
    WT_RUN(requeue_from_own_routine);
    WT_RUN(target_processor_accepted);
    WT_RUN(flush_at_dispatch_level_bugchecks);
    WT_RUN(unload_removes_queued_dpcs);
    CHECK_EQ(openwsk_leak_report(), 0);
    return wt_finish();
}
