/*
 * workitem.c - system worker threads: IoQueueWorkItem(Ex) and
 * ExQueueWorkItem ("System Worker Threads").
 *
 * One queue served by a small pool of pthreads that grows on demand (a
 * thread is added when an item is queued and no worker is idle, up to
 * WQ_MAX_THREADS), so a work item that waits for another one to run does
 * not deadlock the pool.  The queue types are accepted and all go to the same
 * queue: priorities mean little to a user-mode scheduler.  Workers are
 * system threads at PASSIVE_LEVEL; one that comes back from a routine at
 * another IRQL is the WORKER_THREAD_RETURNED_AT_BAD_IRQL bug check.
 *
 * References.  On Windows an IO_WORKITEM holds a reference on its device
 * object while queued or running, and the device object one on its driver
 * object, whose image is unmapped only when its last reference goes
 * ("IoQueueWorkItem ... ensure[s] that the device object associated with
 * the work item remains available": ExQueueWorkItem, Remarks).  DriverUnload
 * itself is not delayed.  Here the device object (an object of object.c)
 * is referenced the same way, and the runtime counts, per driver object,
 * the work items queued or running: a host waits for that count to reach
 * zero after DriverUnload and before unmapping the driver
 * (openwsk_io_wait_for_work_items).  ExQueueWorkItem items are counted under
 * no driver: Windows gives them no protection.
 */
#include "ke_internal.h"
#include "perturb.h"
#include "timeline.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#define WQ_MAX_THREADS 16
#define IOWI_MAGIC 0x49576F49u /* "IoWI" */
#define IOWI_FREED 0x64656546u

/* Windows x64's IO_WORKITEM is 0x58 bytes; ours has the same size. */
struct _IO_WORKITEM {
    WORK_QUEUE_ITEM WorkItem; /* queued through the executive queue */
    PVOID Routine;            /* PIO_WORKITEM_ROUTINE or PIO_WORKITEM_ROUTINE_EX */
    PVOID IoObject;           /* the device (or driver) object */
    PVOID Context;
    PDRIVER_OBJECT Driver; /* whose image the item keeps loaded */
    ULONG Type;            /* 0: IoQueueWorkItem, 1: IoQueueWorkItemEx */
    ULONG Magic;
    volatile LONG Queued; /* queued, not yet handed to its routine */
    BOOLEAN Allocated;    /* by IoAllocateWorkItem */
    UCHAR Reserved[11];
};
_Static_assert(sizeof(struct _IO_WORKITEM) == 0x58, "IO_WORKITEM size of Windows x64");

/* Items queued or running, per driver (NULL: ExQueueWorkItem items). */
typedef struct wq_driver_count {
    struct wq_driver_count *next;
    PDRIVER_OBJECT driver;
    LONG count;
} wq_driver_count;

static pthread_mutex_t wq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wq_work = PTHREAD_COND_INITIALIZER; /* workers sleep here */
static pthread_cond_t wq_done = PTHREAD_COND_INITIALIZER; /* hosts wait here */
static LIST_ENTRY wq_queue = {&wq_queue, &wq_queue};
static int wq_threads;
static int wq_idle;
static int wq_pending;
static wq_driver_count *wq_counts;

static void io_item_run(PVOID Parameter);

/* With wq_lock held. */
static wq_driver_count *wq_count_of(PDRIVER_OBJECT driver, BOOLEAN create)
{
    for (wq_driver_count *c = wq_counts; c != NULL; c = c->next)
        if (c->driver == driver)
            return c;
    if (!create)
        return NULL;
    wq_driver_count *c = calloc(1, sizeof(*c));
    if (c == NULL)
        KeBugCheckEx(0x7D /* INSTALL_MORE_MEMORY */, 0, 0, 0, 0);
    c->driver = driver;
    c->next = wq_counts;
    wq_counts = c;
    return c;
}

/* With wq_lock held: one item of `driver` finished. */
static void wq_count_drop(PDRIVER_OBJECT driver)
{
    wq_driver_count **link = &wq_counts;
    while (*link != NULL && (*link)->driver != driver)
        link = &(*link)->next;
    wq_driver_count *c = *link;
    if (c == NULL || c->count <= 0)
        KeBugCheckEx(WORKER_INVALID, 0x100, (ULONG_PTR)driver, 0, 0); /* runtime bug */
    if (--c->count == 0) {
        *link = c->next;
        free(c);
        pthread_cond_broadcast(&wq_done);
    }
}

static void *wq_worker(void *arg)
{
    (void)arg;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    ((struct _ETHREAD *)PsGetCurrentThread())->SystemThread = TRUE;
    pthread_setname_np(pthread_self(), "openwsk-worker"); /* the timeline's track name */

    pthread_mutex_lock(&wq_lock);
    for (;;) {
        while (IsListEmpty(&wq_queue)) {
            wq_idle++;
            pthread_cond_wait(&wq_work, &wq_lock);
            wq_idle--;
        }
        PWORK_QUEUE_ITEM item = CONTAINING_RECORD(RemoveHeadList(&wq_queue), WORK_QUEUE_ITEM, List);
        wq_pending--;
        /* Read everything now: the routine may free or requeue the item. */
        PWORKER_THREAD_ROUTINE routine = item->WorkerRoutine;
        PVOID parameter = item->Parameter;
        PDRIVER_OBJECT driver = NULL;
        if (routine == io_item_run)
            driver = ((PIO_WORKITEM)parameter)->Driver;
        item->List.Flink = NULL; /* no longer queued: may be queued again */
        pthread_mutex_unlock(&wq_lock);

        /* Timeline: the driver's routine, also behind an IO_WORKITEM. */
        uint64_t t0 = 0;
        PVOID traced = NULL;
        if (openwsk_trace_enabled()) {
            t0 = openwsk_trace_now() + 1;
            traced = routine == io_item_run ? ((PIO_WORKITEM)parameter)->Routine : *(PVOID *)&routine;
        }
        openwsk_perturb_point();
        routine(parameter);
        if (t0 != 0)
            openwsk_trace_slice("workitem", routine == io_item_run ? "IoWorkItem" : "WorkItem", t0 - 1, "routine",
                                TL_ARG_SYM, (uint64_t)(uintptr_t)traced);
        KIRQL irql = KeGetCurrentIrql();
        if (irql != PASSIVE_LEVEL)
            KeBugCheckEx(WORKER_THREAD_RETURNED_AT_BAD_IRQL, (ULONG_PTR)(void *)routine, irql,
                         (ULONG_PTR)parameter, (ULONG_PTR)item);

        pthread_mutex_lock(&wq_lock);
        wq_count_drop(driver);
    }
    return NULL;
}

/* A fork()ed child (the bug-check tests) has none of the workers: it starts
 * a pool of its own. */
static void wq_prepare_fork(void)
{
    pthread_mutex_lock(&wq_lock);
}

static void wq_parent_after_fork(void)
{
    pthread_mutex_unlock(&wq_lock);
}

static void wq_child_after_fork(void)
{
    wq_threads = 0;
    wq_idle = 0;
    /* The parent's sleepers are not here: fresh condition variables. */
    pthread_cond_init(&wq_work, NULL);
    pthread_cond_init(&wq_done, NULL);
    pthread_mutex_unlock(&wq_lock);
}

static void wq_register_fork_handlers(void)
{
    pthread_atfork(wq_prepare_fork, wq_parent_after_fork, wq_child_after_fork);
}

/* With wq_lock held. */
static void wq_insert(PWORK_QUEUE_ITEM item, PDRIVER_OBJECT driver)
{
    static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
    pthread_once(&fork_once, wq_register_fork_handlers);
    wq_count_of(driver, TRUE)->count++;
    InsertTailList(&wq_queue, &item->List);
    wq_pending++;
    if (wq_pending > wq_idle && wq_threads < WQ_MAX_THREADS) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t tid;
        if (pthread_create(&tid, &attr, wq_worker, NULL) == 0)
            wq_threads++;
        else if (wq_threads == 0)
            KeBugCheckEx(0x7D /* INSTALL_MORE_MEMORY */, 0, 0, 0, 0);
        pthread_attr_destroy(&attr);
    }
    pthread_cond_signal(&wq_work);
}

static void wq_check_queue_call(PVOID item, PVOID routine, WORK_QUEUE_TYPE type)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > DISPATCH_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)__builtin_return_address(0));
    if ((ULONG)type >= (ULONG)MaximumWorkQueue && type != CustomPriorityWorkQueue)
        KeBugCheckEx(WORKER_INVALID, 0x6, (ULONG_PTR)item, (ULONG_PTR)type, 0);
    if (routine == NULL)
        KeBugCheckEx(WORKER_INVALID, 0x7, (ULONG_PTR)item, (ULONG_PTR)type, 0);
}

void ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType)
{
    wq_check_queue_call(WorkItem, (PVOID)WorkItem->WorkerRoutine, QueueType);
    pthread_mutex_lock(&wq_lock);
    /* ExInitializeWorkItem leaves Flink NULL and a worker resets it before
     * the routine runs: anything else is an item still in the queue. */
    if (WorkItem->List.Flink != NULL)
        KeBugCheckEx(WORKER_INVALID, 0x1, (ULONG_PTR)WorkItem, (ULONG_PTR)QueueType, 0);
    wq_insert(WorkItem, NULL);
    pthread_mutex_unlock(&wq_lock);
}

/* ---- IO_WORKITEM ---- */

/* The worker routine of every IO_WORKITEM: calls the driver's routine, then
 * drops the device object reference the queueing took. */
static void io_item_run(PVOID Parameter)
{
    PIO_WORKITEM w = Parameter;
    PVOID routine = w->Routine;
    PVOID io_object = w->IoObject;
    PVOID context = w->Context;
    ULONG type = w->Type;
    __atomic_store_n(&w->Queued, 0, __ATOMIC_RELEASE);
    /* From here on the routine may free, uninitialize or requeue w. */
    if (type == 1)
        ((PIO_WORKITEM_ROUTINE_EX)routine)(io_object, context, w);
    else
        ((PIO_WORKITEM_ROUTINE)routine)((PDEVICE_OBJECT)io_object, context);
    if (((PDEVICE_OBJECT)io_object)->Type == IO_TYPE_DEVICE)
        ObfDereferenceObject(io_object);
}

static PDRIVER_OBJECT io_object_driver(PVOID IoObject)
{
    PDEVICE_OBJECT dev = IoObject;
    if (dev->Type == IO_TYPE_DEVICE)
        return dev->DriverObject;
    return (PDRIVER_OBJECT)IoObject;
}

void IoInitializeWorkItem(PVOID IoObject, PIO_WORKITEM IoWorkItem)
{
    CSHORT type = IoObject != NULL ? ((PDEVICE_OBJECT)IoObject)->Type : 0;
    if (type != IO_TYPE_DEVICE && type != IO_TYPE_DRIVER)
        KeBugCheckEx(WORKER_INVALID, 0x3, (ULONG_PTR)IoWorkItem, (ULONG_PTR)IoObject, 0);
    __builtin_memset(IoWorkItem, 0, sizeof(*IoWorkItem));
    IoWorkItem->IoObject = IoObject;
    IoWorkItem->Driver = io_object_driver(IoObject);
    IoWorkItem->Magic = IOWI_MAGIC;
}

void IoUninitializeWorkItem(PIO_WORKITEM IoWorkItem)
{
    if (__atomic_load_n(&IoWorkItem->Queued, __ATOMIC_ACQUIRE))
        KeBugCheckEx(WORKER_INVALID, 0x2, (ULONG_PTR)IoWorkItem, (ULONG_PTR)IoWorkItem->Routine, 0);
    IoWorkItem->Magic = IOWI_FREED;
}

ULONG IoSizeofWorkItem(void)
{
    return (ULONG)sizeof(struct _IO_WORKITEM);
}

PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject)
{
    PIO_WORKITEM w = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*w), 'iwOI');
    if (w == NULL)
        return NULL;
    IoInitializeWorkItem(DeviceObject, w);
    w->Allocated = TRUE;
    return w;
}

void IoFreeWorkItem(PIO_WORKITEM IoWorkItem)
{
    IoUninitializeWorkItem(IoWorkItem);
    ExFreePoolWithTag(IoWorkItem, 'iwOI');
}

static void io_queue(PIO_WORKITEM w, PVOID routine, ULONG type, WORK_QUEUE_TYPE QueueType, PVOID Context)
{
    wq_check_queue_call(w, routine, QueueType);
    if (w->Magic != IOWI_MAGIC)
        KeBugCheckEx(WORKER_INVALID, 0x3, (ULONG_PTR)w, (ULONG_PTR)w->IoObject, 0);
    pthread_mutex_lock(&wq_lock);
    if (__atomic_load_n(&w->Queued, __ATOMIC_RELAXED))
        KeBugCheckEx(WORKER_INVALID, 0x1, (ULONG_PTR)w, (ULONG_PTR)QueueType, 0);
    __atomic_store_n(&w->Queued, 1, __ATOMIC_RELAXED);
    w->Routine = routine;
    w->Type = type;
    w->Context = Context;
    if (((PDEVICE_OBJECT)w->IoObject)->Type == IO_TYPE_DEVICE)
        ObfReferenceObject(w->IoObject);
    ExInitializeWorkItem(&w->WorkItem, io_item_run, w);
    wq_insert(&w->WorkItem, w->Driver);
    pthread_mutex_unlock(&wq_lock);
}

void IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                     PVOID Context)
{
    io_queue(IoWorkItem, (PVOID)WorkerRoutine, 0, QueueType, Context);
}

void IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                       PVOID Context)
{
    io_queue(IoWorkItem, (PVOID)WorkerRoutine, 1, QueueType, Context);
}

/* ---- for hosts ---- */

LONG openwsk_io_work_items_outstanding(struct _DRIVER_OBJECT *Driver)
{
    pthread_mutex_lock(&wq_lock);
    wq_driver_count *c = wq_count_of(Driver, FALSE);
    LONG n = c != NULL ? c->count : 0;
    pthread_mutex_unlock(&wq_lock);
    return n;
}

void openwsk_io_wait_for_work_items(struct _DRIVER_OBJECT *Driver)
{
    pthread_mutex_lock(&wq_lock);
    while (wq_count_of(Driver, FALSE) != NULL)
        pthread_cond_wait(&wq_done, &wq_lock);
    pthread_mutex_unlock(&wq_lock);
}
