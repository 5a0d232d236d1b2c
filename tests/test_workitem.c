/*
 * test_workitem.c - work items: IoQueueWorkItem and IoQueueWorkItemEx run
 * their routine once, at PASSIVE_LEVEL, on a system worker thread, with the
 * IoObject and context given; the item may be freed, uninitialized or
 * queued again from its own routine; ExQueueWorkItem with every queue type;
 * the device object stays referenced (and in memory after IoDeleteDevice)
 * until the routine has returned; a host's wait for a driver's work items
 * returns only after the last routine has; many items queued at
 * DISPATCH_LEVEL from several threads; an item that waits for a later one;
 * misuse bug checks.  No assertion depends on timing.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "wt.h"
#include "wt_bugcheck.h"

static DRIVER_OBJECT driver = {.Type = IO_TYPE_DRIVER, .Size = sizeof(DRIVER_OBJECT)};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static PDEVICE_OBJECT make_device(void)
{
    PDEVICE_OBJECT dev = NULL;
    CHECK_EQ(IoCreateDevice(&driver, 64, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev), STATUS_SUCCESS);
    return dev;
}

static void wait_event(PKEVENT e)
{
    CHECK_EQ(KeWaitForSingleObject(e, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
}

/* What a routine saw. */
typedef struct seen {
    KEVENT done;
    PVOID io_object;
    PVOID context;
    PIO_WORKITEM item;
    KIRQL irql;
    BOOLEAN system_thread;
    BOOLEAN other_thread;
    LONG runs;
    PETHREAD caller;
} seen;

static void seen_init(seen *s)
{
    memset(s, 0, sizeof(*s));
    KeInitializeEvent(&s->done, NotificationEvent, FALSE);
    s->caller = PsGetCurrentThread();
}

static void seen_record(seen *s, PVOID io_object, PVOID context)
{
    s->io_object = io_object;
    s->context = context;
    s->irql = KeGetCurrentIrql();
    s->system_thread = PsIsSystemThread(PsGetCurrentThread());
    s->other_thread = PsGetCurrentThread() != s->caller;
    __atomic_add_fetch(&s->runs, 1, __ATOMIC_RELAXED);
}

static void routine_frees_its_item(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    seen *s = Context;
    seen_record(s, DeviceObject, Context);
    IoFreeWorkItem(s->item); /* allowed: dequeued before the routine runs */
    KeSetEvent(&s->done, IO_NO_INCREMENT, FALSE);
}

static void io_queue_work_item_runs_at_passive_on_a_worker(void)
{
    PDEVICE_OBJECT dev = make_device();
    SIZE_T pool_before = openwsk_pool_outstanding_count(0);
    seen s;
    seen_init(&s);
    s.item = IoAllocateWorkItem(dev);
    CHECK(s.item != NULL);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old); /* callable up to DISPATCH_LEVEL */
    IoQueueWorkItem(s.item, routine_frees_its_item, DelayedWorkQueue, &s);
    KeLowerIrql(old);
    wait_event(&s.done);
    openwsk_io_wait_for_work_items(&driver);
    CHECK(s.io_object == dev);
    CHECK(s.context == &s);
    CHECK_EQ(s.irql, PASSIVE_LEVEL);
    CHECK(s.system_thread);
    CHECK(s.other_thread);
    CHECK_EQ(s.runs, 1);
    CHECK_EQ(openwsk_io_work_items_outstanding(&driver), 0);
    CHECK_EQ(openwsk_pool_outstanding_count(0), pool_before); /* the item is gone */
    IoDeleteDevice(dev);
}

static void routine_ex_uninitializes(PVOID IoObject, PVOID Context, PIO_WORKITEM IoWorkItem)
{
    seen *s = Context;
    seen_record(s, IoObject, Context);
    CHECK(IoWorkItem == s->item);
    IoUninitializeWorkItem(IoWorkItem);
    KeSetEvent(&s->done, IO_NO_INCREMENT, FALSE);
}

static void io_queue_work_item_ex_passes_the_io_object_and_item(void)
{
    CHECK_EQ(IoSizeofWorkItem(), 0x58);
    PDEVICE_OBJECT dev = make_device();
    seen s;
    seen_init(&s);
    s.item = ExAllocatePool2(POOL_FLAG_NON_PAGED, IoSizeofWorkItem(), 'tseT');
    IoInitializeWorkItem(dev, s.item);
    IoQueueWorkItemEx(s.item, routine_ex_uninitializes, CriticalWorkQueue, &s);
    wait_event(&s.done);
    openwsk_io_wait_for_work_items(&driver);
    CHECK(s.io_object == dev);
    CHECK_EQ(s.irql, PASSIVE_LEVEL);
    CHECK(s.other_thread);
    ExFreePoolWithTag(s.item, 'tseT');

    /* A work item may belong to the driver object itself (Ex routine only). */
    seen_init(&s);
    s.item = ExAllocatePool2(POOL_FLAG_NON_PAGED, IoSizeofWorkItem(), 'tseT');
    IoInitializeWorkItem(&driver, s.item);
    IoQueueWorkItemEx(s.item, routine_ex_uninitializes, DelayedWorkQueue, &s);
    wait_event(&s.done);
    openwsk_io_wait_for_work_items(&driver);
    CHECK(s.io_object == &driver);
    ExFreePoolWithTag(s.item, 'tseT');
    IoDeleteDevice(dev);
}

static LONG requeue_left;

static void routine_requeues(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    seen *s = Context;
    seen_record(s, DeviceObject, Context);
    if (__atomic_sub_fetch(&requeue_left, 1, __ATOMIC_RELAXED) > 0)
        IoQueueWorkItem(s->item, routine_requeues, DelayedWorkQueue, s);
    else
        KeSetEvent(&s->done, IO_NO_INCREMENT, FALSE);
}

static void an_item_may_queue_itself_again(void)
{
    PDEVICE_OBJECT dev = make_device();
    seen s;
    seen_init(&s);
    s.item = IoAllocateWorkItem(dev);
    requeue_left = 5;
    IoQueueWorkItem(s.item, routine_requeues, DelayedWorkQueue, &s);
    wait_event(&s.done);
    openwsk_io_wait_for_work_items(&driver);
    CHECK_EQ(s.runs, 5);
    IoFreeWorkItem(s.item);
    IoDeleteDevice(dev);
}

typedef struct ex_item {
    WORK_QUEUE_ITEM item;
    seen s;
} ex_item;

static void ex_routine(PVOID Parameter)
{
    ex_item *x = Parameter;
    seen_record(&x->s, NULL, Parameter);
    KeSetEvent(&x->s.done, IO_NO_INCREMENT, FALSE);
}

static void ex_queue_work_item_every_queue_type(void)
{
    WORK_QUEUE_TYPE types[] = {CriticalWorkQueue, DelayedWorkQueue, HyperCriticalWorkQueue};
    CHECK_EQ(sizeof(WORK_QUEUE_ITEM), 0x20);
    for (int i = 0; i < 3; i++) {
        ex_item x;
        seen_init(&x.s);
        memset(&x.item, 0xCC, sizeof(x.item));
        ExInitializeWorkItem(&x.item, ex_routine, &x);
        CHECK(x.item.List.Flink == NULL);
        CHECK(x.item.WorkerRoutine == ex_routine);
        CHECK(x.item.Parameter == &x);
        ExQueueWorkItem(&x.item, types[i]);
        wait_event(&x.s.done);
        openwsk_io_wait_for_work_items(NULL);
        CHECK_EQ(x.s.runs, 1);
        CHECK_EQ(x.s.irql, PASSIVE_LEVEL);
        CHECK(x.s.other_thread);
        CHECK(x.s.system_thread);
    }
}

/* The routine blocks until told; meanwhile the device is deleted. */
static KEVENT gate;
static int saw_extension_intact;
static int routine_finished;

static void routine_waits_at_gate(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIO_WORKITEM item = Context;
    KeWaitForSingleObject(&gate, Executive, KernelMode, FALSE, NULL);
    sleep_ms(20); /* makes an early host wait likely to be caught, not required */
    saw_extension_intact = memcmp(DeviceObject->DeviceExtension, "extension", 10) == 0 &&
                           DeviceObject->DriverObject == &driver;
    IoFreeWorkItem(item);
    __atomic_store_n(&routine_finished, 1, __ATOMIC_RELEASE);
}

static void device_stays_referenced_until_the_routine_returned(void)
{
    SIZE_T objects_before = openwsk_pool_outstanding_count(OPENWSK_TAG_OBJECT);
    PDEVICE_OBJECT dev = make_device();
    memcpy(dev->DeviceExtension, "extension", 10);
    KeInitializeEvent(&gate, NotificationEvent, FALSE);
    routine_finished = 0;
    PIO_WORKITEM item = IoAllocateWorkItem(dev);
    IoQueueWorkItem(item, routine_waits_at_gate, DelayedWorkQueue, item);
    CHECK_EQ(openwsk_io_work_items_outstanding(&driver), 1);
    /* Deleted while its work item is queued or running: unlinked now, freed
     * once the work item lets go (ASan catches a use after free). */
    IoDeleteDevice(dev);
    CHECK(driver.DeviceObject == NULL);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_OBJECT), objects_before + 1);
    KeSetEvent(&gate, IO_NO_INCREMENT, FALSE);
    /* What wskhost does after DriverUnload: returns only once the routine has. */
    openwsk_io_wait_for_work_items(&driver);
    CHECK_EQ(__atomic_load_n(&routine_finished, __ATOMIC_ACQUIRE), 1);
    CHECK_EQ(saw_extension_intact, 1);
    CHECK_EQ(openwsk_io_work_items_outstanding(&driver), 0);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_OBJECT), objects_before);
}

/* Many items from several threads at DISPATCH_LEVEL: each runs once. */
#define QUEUERS 4
#define PER_QUEUER 100
static PDEVICE_OBJECT many_dev;
static LONG many_runs[QUEUERS * PER_QUEUER];

static PIO_WORKITEM many_items[QUEUERS * PER_QUEUER];

static void routine_counts_index(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    (void)DeviceObject;
    long i = (long)(ULONG_PTR)Context;
    __atomic_add_fetch(&many_runs[i], 1, __ATOMIC_RELAXED);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    IoFreeWorkItem(many_items[i]);
}

static void *queuer_main(void *arg)
{
    long base = (long)(ULONG_PTR)arg * PER_QUEUER;
    for (long i = base; i < base + PER_QUEUER; i++) {
        many_items[i] = IoAllocateWorkItem(many_dev);
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        IoQueueWorkItem(many_items[i], routine_counts_index, DelayedWorkQueue, (PVOID)(ULONG_PTR)i);
        KeLowerIrql(old);
    }
    return NULL;
}

static void many_items_from_many_threads_run_once_each(void)
{
    many_dev = make_device();
    memset(many_runs, 0, sizeof(many_runs));
    pthread_t t[QUEUERS];
    for (long i = 0; i < QUEUERS; i++)
        pthread_create(&t[i], NULL, queuer_main, (void *)i);
    for (int i = 0; i < QUEUERS; i++)
        pthread_join(t[i], NULL);
    openwsk_io_wait_for_work_items(&driver);
    int wrong = 0;
    for (int i = 0; i < QUEUERS * PER_QUEUER; i++)
        if (__atomic_load_n(&many_runs[i], __ATOMIC_RELAXED) != 1)
            wrong++;
    CHECK_EQ(wrong, 0);
    IoDeleteDevice(many_dev);
}

/* An item that waits for an item queued after it: the pool must not run
 * out of workers (each worker would be stuck in an earlier item). */
#define CHAIN 6
static KEVENT chain_events[CHAIN + 1];
static PIO_WORKITEM chain_items[CHAIN];
static PDEVICE_OBJECT chain_dev;

static void routine_waits_for_next(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    (void)DeviceObject;
    long i = (long)(ULONG_PTR)Context;
    if (i + 1 < CHAIN) {
        IoQueueWorkItem(chain_items[i + 1], routine_waits_for_next, DelayedWorkQueue, (PVOID)(ULONG_PTR)(i + 1));
        KeWaitForSingleObject(&chain_events[i + 1], Executive, KernelMode, FALSE, NULL);
    }
    KeSetEvent(&chain_events[i], IO_NO_INCREMENT, FALSE);
}

static void an_item_may_wait_for_a_later_one(void)
{
    chain_dev = make_device();
    for (int i = 0; i <= CHAIN; i++)
        KeInitializeEvent(&chain_events[i], NotificationEvent, FALSE);
    for (int i = 0; i < CHAIN; i++)
        chain_items[i] = IoAllocateWorkItem(chain_dev);
    IoQueueWorkItem(chain_items[0], routine_waits_for_next, DelayedWorkQueue, (PVOID)0);
    wait_event(&chain_events[0]);
    openwsk_io_wait_for_work_items(&driver);
    for (int i = 0; i < CHAIN; i++)
        IoFreeWorkItem(chain_items[i]);
    IoDeleteDevice(chain_dev);
}

/* ---- misuse ---- */

static void never_returns(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    (void)DeviceObject;
    KeWaitForSingleObject(Context, Executive, KernelMode, FALSE, NULL);
}

/* Keeps every worker busy for ever (the pool has far fewer than 64), so
 * that an item queued after these stays in the queue. */
static KEVENT never;

static void occupy_all_workers(PDEVICE_OBJECT dev)
{
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    for (int i = 0; i < 64; i++)
        IoQueueWorkItem(IoAllocateWorkItem(dev), never_returns, DelayedWorkQueue, &never);
}

static void queue_twice(void *arg)
{
    (void)arg;
    PDEVICE_OBJECT dev = make_device();
    occupy_all_workers(dev);
    PIO_WORKITEM w = IoAllocateWorkItem(dev);
    IoQueueWorkItem(w, never_returns, DelayedWorkQueue, &never);
    IoQueueWorkItem(w, never_returns, DelayedWorkQueue, &never);
}

static void free_queued(void *arg)
{
    (void)arg;
    PDEVICE_OBJECT dev = make_device();
    occupy_all_workers(dev);
    PIO_WORKITEM w = IoAllocateWorkItem(dev);
    IoQueueWorkItem(w, never_returns, DelayedWorkQueue, &never);
    IoFreeWorkItem(w);
}

static void raise_and_return(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    (void)DeviceObject;
    (void)Context;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
}

static void return_at_dispatch(void *arg)
{
    (void)arg;
    PDEVICE_OBJECT dev = make_device();
    PIO_WORKITEM w = IoAllocateWorkItem(dev);
    IoQueueWorkItem(w, raise_and_return, DelayedWorkQueue, NULL);
    openwsk_io_wait_for_work_items(&driver);
}

static void queue_above_dispatch(void *arg)
{
    (void)arg;
    PDEVICE_OBJECT dev = make_device();
    PIO_WORKITEM w = IoAllocateWorkItem(dev);
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL, &old);
    IoQueueWorkItem(w, raise_and_return, DelayedWorkQueue, NULL);
}

static void misuse_bug_checks(void)
{
    CHECK(wt_bugchecks(queue_twice, NULL, WORKER_INVALID));
    CHECK(wt_aborts_with(queue_twice, NULL, "STOP: 0x000000E4 (0x0000000000000001"));
    CHECK(wt_aborts_with(free_queued, NULL, "STOP: 0x000000E4 (0x0000000000000002"));
    CHECK(wt_bugchecks(return_at_dispatch, NULL, WORKER_THREAD_RETURNED_AT_BAD_IRQL));
    CHECK(wt_bugchecks(queue_above_dispatch, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

int main(void)
{
    /* First, while the process has one thread: the bug-check children start
     * workers, which TSan refuses after a multi-threaded fork. */
    WT_RUN(misuse_bug_checks);
    WT_RUN(io_queue_work_item_runs_at_passive_on_a_worker);
    WT_RUN(io_queue_work_item_ex_passes_the_io_object_and_item);
    WT_RUN(an_item_may_queue_itself_again);
    WT_RUN(ex_queue_work_item_every_queue_type);
    WT_RUN(device_stays_referenced_until_the_routine_returned);
    WT_RUN(many_items_from_many_threads_run_once_each);
    WT_RUN(an_item_may_wait_for_a_later_one);
    return wt_finish();
}
