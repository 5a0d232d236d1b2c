/*
 * kv_driver.c - a key/value store driver, written the way a WDM driver is:
 * \Device\KvStore with the link \DosDevices\KvStore, IRP_MJ_CREATE, CLOSE,
 * CLEANUP and DEVICE_CONTROL (IOCTLs in kv_ioctl.h), and a DriverUnload
 * that tears everything down.
 *
 * Records live in an RTL_AVL_TABLE (paged pool) guarded by an ERESOURCE:
 * shared for GET and LIST, exclusive for PUT, DELETE and expiry.  A
 * periodic KTIMER queues a KDPC; the DPC runs at DISPATCH_LEVEL, where an
 * ERESOURCE may not be acquired ("ExAcquireResourceExclusiveLite": IRQL <=
 * APC_LEVEL), so it queues an IO_WORKITEM whose routine expires the records
 * whose time is up at PASSIVE_LEVEL and then completes the WAIT_EXPIRY IRPs
 * pended until that pass.
 *
 * State shared with the DPC (the pended IRPs, the statistics, whether the
 * work item is queued) is under a spin lock; the work item's KEVENT is set
 * whenever it is not queued, so DriverUnload can wait for it once the
 * timer is cancelled and the DPCs flushed.
 */
#include <ntddk.h>

#include "kv_ioctl.h"

#define KV_TAG 'vKvK'
#define KV_TIMER_PERIOD_MS 50

typedef KV_RECORD KV_ENTRY; /* the table's element: a record as stored */

static PDEVICE_OBJECT KvDevice;
static RTL_AVL_TABLE Table;     /* under TableLock */
static ERESOURCE TableLock;
static KTIMER ExpiryTimer;
static KDPC ExpiryDpc;
static PIO_WORKITEM ExpiryWorkItem;
static KEVENT WorkItemIdle;     /* signalled while ExpiryWorkItem is not queued */
static volatile LONG SharedHolders;
static volatile LONG Dispatching;       /* DEVICE_CONTROL routines running now */
static volatile LONG RendezvousArrivals; /* odd: the next arrival is the second */
static KEVENT Rendezvous;

static KSPIN_LOCK StateLock;    /* everything below */
static BOOLEAN WorkItemQueued;
static BOOLEAN Unloading;
static LIST_ENTRY ExpiryWaiters; /* pended WAIT_EXPIRY IRPs, by Tail.Overlay.ListEntry */
static KV_STATS Stats;

static DRIVER_UNLOAD KvUnload;
static DRIVER_DISPATCH KvCreateClose;
static DRIVER_DISPATCH KvCleanup;
static DRIVER_DISPATCH KvDeviceControl;
static DRIVER_CANCEL KvCancelWait;
static KDEFERRED_ROUTINE KvTimerDpc;
static IO_WORKITEM_ROUTINE KvExpireWorker;
static RTL_AVL_COMPARE_ROUTINE KvCompare;
static RTL_AVL_ALLOCATE_ROUTINE KvAllocate;
static RTL_AVL_FREE_ROUTINE KvFree;

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* --- the table ---------------------------------------------------------- */

static RTL_GENERIC_COMPARE_RESULTS NTAPI KvCompare(PRTL_AVL_TABLE T, PVOID First, PVOID Second)
{
    UNREFERENCED_PARAMETER(T);
    const UCHAR *a = (const UCHAR *)((KV_ENTRY *)First)->Key;
    const UCHAR *b = (const UCHAR *)((KV_ENTRY *)Second)->Key;
    for (ULONG i = 0; i < KV_KEY_MAX; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? GenericLessThan : GenericGreaterThan;
        if (a[i] == '\0')
            break;
    }
    return GenericEqual;
}

static PVOID NTAPI KvAllocate(PRTL_AVL_TABLE T, CLONG ByteSize)
{
    UNREFERENCED_PARAMETER(T);
    return ExAllocatePool2(POOL_FLAG_PAGED, ByteSize, KV_TAG);
}

static VOID NTAPI KvFree(PRTL_AVL_TABLE T, PVOID Buffer)
{
    UNREFERENCED_PARAMETER(T);
    ExFreePoolWithTag(Buffer, KV_TAG);
}

static void LockShared(void)
{
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&TableLock, TRUE);
    LONG holders = InterlockedIncrement(&SharedHolders);
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    if (holders > Stats.MaxSharedHolders)
        Stats.MaxSharedHolders = holders;
    KeReleaseSpinLock(&StateLock, irql);
}

static void UnlockShared(void)
{
    InterlockedDecrement(&SharedHolders);
    ExReleaseResourceLite(&TableLock);
    KeLeaveCriticalRegion();
}

static void LockExclusive(void)
{
    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(&TableLock, TRUE);
}

static void UnlockExclusive(void)
{
    ExReleaseResourceLite(&TableLock);
    KeLeaveCriticalRegion();
}

static void CountStat(long long *Field)
{
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    (*Field)++;
    KeReleaseSpinLock(&StateLock, irql);
}

/* A key from the caller: non-empty, NUL-terminated within Length bytes. */
static BOOLEAN CaptureKey(PVOID Buffer, ULONG Length, KV_ENTRY *Out)
{
    RtlZeroMemory(Out, sizeof(*Out));
    const char *key = Buffer;
    ULONG limit = Length < KV_KEY_MAX ? Length : KV_KEY_MAX;
    for (ULONG i = 0; i < limit; i++) {
        if (key[i] == '\0')
            return i > 0;
        Out->Key[i] = key[i];
    }
    return FALSE;
}

/* --- pended WAIT_EXPIRY IRPs --------------------------------------------- */

/* The pass a pended WAIT_EXPIRY waits for, kept in the IRP. */
#define WAIT_MIN_PASS(Irp) (*(ULONGLONG *)&(Irp)->Tail.Overlay.DriverContext[0])

/* Takes the waiters of FileObject (all if NULL) that wait for a pass up to
 * PassDone (any if 0) and whose cancel routine has not started; with
 * StateLock held. */
static void TakeWaiters(PFILE_OBJECT FileObject, ULONGLONG PassDone, PLIST_ENTRY Out)
{
    PLIST_ENTRY e = ExpiryWaiters.Flink;
    while (e != &ExpiryWaiters) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        e = e->Flink;
        if (FileObject != NULL && IoGetCurrentIrpStackLocation(irp)->FileObject != FileObject)
            continue;
        if (PassDone != 0 && WAIT_MIN_PASS(irp) > PassDone)
            continue;
        RemoveEntryList(&irp->Tail.Overlay.ListEntry);
        if (IoSetCancelRoutine(irp, NULL) == NULL) {
            /* Its cancel routine runs and unlinks an empty entry. */
            InitializeListHead(&irp->Tail.Overlay.ListEntry);
            continue;
        }
        Stats.Waiting--;
        InsertTailList(Out, &irp->Tail.Overlay.ListEntry);
    }
}

static void CompleteTaken(PLIST_ENTRY Taken, NTSTATUS Status, const KV_EXPIRY_PASS *Pass)
{
    while (!IsListEmpty(Taken)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(Taken), IRP, Tail.Overlay.ListEntry);
        if (NT_SUCCESS(Status)) {
            RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, Pass, sizeof(*Pass));
            Complete(irp, Status, sizeof(*Pass));
        } else {
            Complete(irp, Status, 0);
        }
    }
}

static VOID KvCancelWait(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    Stats.Waiting--;
    Stats.WaitsCancelled++;
    KeReleaseSpinLock(&StateLock, irql);
    Complete(Irp, STATUS_CANCELLED, 0);
}

static NTSTATUS PendWait(PIRP Irp, ULONG In)
{
    /* Read the input before the output overwrites it: one SystemBuffer. */
    ULONGLONG min_pass = 0;
    if (In >= sizeof(ULONGLONG))
        min_pass = *(ULONGLONG *)Irp->AssociatedIrp.SystemBuffer;
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    /* 0 (or no input): the next pass. */
    WAIT_MIN_PASS(Irp) = min_pass != 0 ? min_pass : (ULONGLONG)Stats.Passes + 1;
    if (Unloading) {
        KeReleaseSpinLock(&StateLock, irql);
        return Complete(Irp, STATUS_DELETE_PENDING, 0);
    }
    IoSetCancelRoutine(Irp, KvCancelWait);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        Stats.WaitsCancelled++;
        KeReleaseSpinLock(&StateLock, irql);
        return Complete(Irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(Irp);
    InsertTailList(&ExpiryWaiters, &Irp->Tail.Overlay.ListEntry);
    Stats.Waiting++;
    KeReleaseSpinLock(&StateLock, irql);
    return STATUS_PENDING;
}

/* --- expiry: timer, DPC, work item --------------------------------------- */

static VOID KvTimerDpc(PKDPC Dpc, PVOID DeferredContext, PVOID SystemArgument1, PVOID SystemArgument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(DeferredContext);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);
    BOOLEAN queue = FALSE;
    KeAcquireSpinLockAtDpcLevel(&StateLock);
    Stats.TimerDpcs++;
    Stats.DpcIrql = KeGetCurrentIrql();
    /* One pass at a time: a work item is queued at most once. */
    if (!WorkItemQueued && !Unloading) {
        WorkItemQueued = TRUE;
        KeClearEvent(&WorkItemIdle);
        Stats.WorkItemsQueued++;
        queue = TRUE;
    }
    KeReleaseSpinLockFromDpcLevel(&StateLock);
    if (queue)
        IoQueueWorkItem(ExpiryWorkItem, KvExpireWorker, DelayedWorkQueue, NULL);
}

static VOID KvExpireWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Context);
    KV_EXPIRY_PASS pass;
    RtlZeroMemory(&pass, sizeof(pass));
    int irql_here = KeGetCurrentIrql();

    LockExclusive();
    pass.Now = KeQueryInterruptTime();
    /* Deleting invalidates the enumeration's restart key: start over after
     * each removal (the table is small). */
    PVOID restart = NULL;
    KV_ENTRY *e;
    while ((e = RtlEnumerateGenericTableWithoutSplayingAvl(&Table, &restart)) != NULL) {
        if (e->ExpiresAt == 0 || e->ExpiresAt > pass.Now)
            continue;
        KV_ENTRY key;
        RtlZeroMemory(&key, sizeof(key));
        RtlCopyMemory(key.Key, e->Key, KV_KEY_MAX);
        RtlDeleteElementGenericTableAvl(&Table, &key);
        pass.Expired++;
        restart = NULL;
    }
    pass.Remaining = RtlNumberGenericTableElementsAvl(&Table);
    UnlockExclusive();

    LIST_ENTRY taken;
    InitializeListHead(&taken);
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    Stats.WorkerIrql = irql_here;
    pass.Pass = (unsigned long long)++Stats.Passes;
    Stats.Expired += pass.Expired;
    TakeWaiters(NULL, pass.Pass, &taken);
    for (PLIST_ENTRY w = taken.Flink; w != &taken; w = w->Flink)
        Stats.WaitsCompleted++;
    KeReleaseSpinLock(&StateLock, irql);
    CompleteTaken(&taken, STATUS_SUCCESS, &pass);

    /* Last: DriverUnload may free the work item once the event is set. */
    KeAcquireSpinLock(&StateLock, &irql);
    WorkItemQueued = FALSE;
    KeSetEvent(&WorkItemIdle, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&StateLock, irql);
}

/* --- dispatch ------------------------------------------------------------ */

static NTSTATUS KvCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

/* The handle is closing: this file object's pended WAITs end now. */
static NTSTATUS KvCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    LIST_ENTRY taken;
    InitializeListHead(&taken);
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    TakeWaiters(IoGetCurrentIrpStackLocation(Irp)->FileObject, 0, &taken);
    for (PLIST_ENTRY w = taken.Flink; w != &taken; w = w->Flink)
        Stats.WaitsCancelled++;
    KeReleaseSpinLock(&StateLock, irql);
    CompleteTaken(&taken, STATUS_CANCELLED, NULL);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS KvPut(PIRP Irp, ULONG In, ULONG Out)
{
    PVOID buffer = Irp->AssociatedIrp.SystemBuffer;
    if (In < sizeof(KV_RECORD))
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    KV_RECORD *in = buffer;
    KV_ENTRY entry;
    if (!CaptureKey(in->Key, KV_KEY_MAX, &entry) || in->ValueLength > KV_VALUE_MAX)
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    entry.ValueLength = in->ValueLength;
    entry.TtlMs = in->TtlMs;
    RtlCopyMemory(entry.Value, in->Value, entry.ValueLength);

    BOOLEAN isNew = FALSE;
    LockExclusive();
    /* The time is read under the lock, as the expiry pass reads its own: a
     * pass that finds ExpiresAt <= Now ran after this insertion. */
    entry.ExpiresAt = entry.TtlMs == 0 ? 0 : KeQueryInterruptTime() + (ULONGLONG)entry.TtlMs * 10000;
    KV_ENTRY *stored = RtlInsertElementGenericTableAvl(&Table, &entry, sizeof(entry), &isNew);
    if (stored != NULL && !isNew)
        *stored = entry; /* same key: the new value and time */
    UnlockExclusive();
    if (stored == NULL)
        return Complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);

    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    Stats.Puts++;
    if (!isNew)
        Stats.Replaced++;
    KeReleaseSpinLock(&StateLock, irql);
    if (Out >= sizeof(KV_RECORD)) {
        RtlCopyMemory(buffer, &entry, sizeof(entry));
        return Complete(Irp, STATUS_SUCCESS, sizeof(entry));
    }
    return Complete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS KvGet(PIRP Irp, ULONG In, ULONG Out)
{
    KV_ENTRY key;
    if (!CaptureKey(Irp->AssociatedIrp.SystemBuffer, In, &key))
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    if (Out < sizeof(KV_RECORD))
        return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    LockShared();
    KV_ENTRY *found = RtlLookupElementGenericTableAvl(&Table, &key);
    if (found != NULL)
        RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, found, sizeof(*found));
    UnlockShared();
    CountStat(found != NULL ? &Stats.Gets : &Stats.Misses);
    if (found == NULL)
        return Complete(Irp, STATUS_NOT_FOUND, 0);
    return Complete(Irp, STATUS_SUCCESS, sizeof(KV_RECORD));
}

static NTSTATUS KvDelete(PIRP Irp, ULONG In)
{
    KV_ENTRY key;
    if (!CaptureKey(Irp->AssociatedIrp.SystemBuffer, In, &key))
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    LockExclusive();
    BOOLEAN deleted = RtlDeleteElementGenericTableAvl(&Table, &key);
    UnlockExclusive();
    if (!deleted)
        return Complete(Irp, STATUS_NOT_FOUND, 0);
    CountStat(&Stats.Deletes);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS KvList(PIRP Irp, ULONG Out)
{
    if (Out < sizeof(KV_LIST))
        return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    KV_LIST *list = Irp->AssociatedIrp.SystemBuffer;
    ULONG room = (Out - sizeof(KV_LIST)) / KV_KEY_MAX;
    ULONG n = 0;
    LockShared();
    /* Without splaying: the enumeration's state is ours, not the table's,
     * so concurrent lookups under the shared lock are fine. */
    PVOID restart = NULL;
    KV_ENTRY *e;
    while (n < room && (e = RtlEnumerateGenericTableWithoutSplayingAvl(&Table, &restart)) != NULL)
        RtlCopyMemory(list->Keys[n++], e->Key, KV_KEY_MAX);
    list->Count = n;
    list->Total = RtlNumberGenericTableElementsAvl(&Table);
    UnlockShared();
    CountStat(&Stats.Lists);
    ULONG_PTR bytes = sizeof(KV_LIST) + (ULONG_PTR)n * KV_KEY_MAX;
    return Complete(Irp, n == list->Total ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW, bytes);
}

static NTSTATUS KvStats(PIRP Irp, ULONG Out)
{
    if (Out < sizeof(KV_STATS))
        return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    LockShared();
    ULONG records = RtlNumberGenericTableElementsAvl(&Table);
    UnlockShared();
    KV_STATS copy;
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    copy = Stats;
    KeReleaseSpinLock(&StateLock, irql);
    copy.Records = records;
    RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, &copy, sizeof(copy));
    return Complete(Irp, STATUS_SUCCESS, sizeof(copy));
}

/* Waiting in a dispatch routine is allowed at PASSIVE_LEVEL; the caller's
 * thread waits with it.  The timeout bounds a caller that never meets one. */
static NTSTATUS KvRendezvous(PIRP Irp)
{
    if (InterlockedIncrement(&RendezvousArrivals) % 2 == 0) {
        KeSetEvent(&Rendezvous, IO_NO_INCREMENT, FALSE);
        return Complete(Irp, STATUS_SUCCESS, 0);
    }
    LARGE_INTEGER timeout;
    timeout.QuadPart = -5LL * 1000 * 1000 * 10; /* 5 s, relative */
    NTSTATUS st = KeWaitForSingleObject(&Rendezvous, Executive, KernelMode, FALSE, &timeout);
    return Complete(Irp, st == STATUS_SUCCESS ? STATUS_SUCCESS : STATUS_IO_TIMEOUT, 0);
}

static NTSTATUS KvDispatchIoctl(PIRP Irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
    switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_KV_PUT:
        return KvPut(Irp, in, out);
    case IOCTL_KV_GET:
        return KvGet(Irp, in, out);
    case IOCTL_KV_DELETE:
        return KvDelete(Irp, in);
    case IOCTL_KV_LIST:
        return KvList(Irp, out);
    case IOCTL_KV_STATS:
        return KvStats(Irp, out);
    case IOCTL_KV_WAIT_EXPIRY:
        if (out < sizeof(KV_EXPIRY_PASS))
            return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        return PendWait(Irp, in);
    case IOCTL_KV_RENDEZVOUS:
        return KvRendezvous(Irp);
    default:
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

/* Counts the callers inside at once: on Windows each runs on its own
 * thread, so two handles' requests can be here together. */
static NTSTATUS KvDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    PAGED_CODE();
    LONG now = InterlockedIncrement(&Dispatching);
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    if (now > Stats.MaxDispatching)
        Stats.MaxDispatching = now;
    KeReleaseSpinLock(&StateLock, irql);
    NTSTATUS st = KvDispatchIoctl(Irp);
    InterlockedDecrement(&Dispatching);
    return st;
}

/* --- load and unload ----------------------------------------------------- */

static void FreeTable(void)
{
    KV_ENTRY *e;
    while ((e = RtlGetElementGenericTableAvl(&Table, 0)) != NULL) {
        KV_ENTRY key;
        RtlZeroMemory(&key, sizeof(key));
        RtlCopyMemory(key.Key, e->Key, KV_KEY_MAX);
        RtlDeleteElementGenericTableAvl(&Table, &key);
    }
}

static VOID KvUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    LIST_ENTRY taken;
    InitializeListHead(&taken);
    KIRQL irql;
    KeAcquireSpinLock(&StateLock, &irql);
    Unloading = TRUE; /* the DPC queues no more work */
    TakeWaiters(NULL, 0, &taken);
    KeReleaseSpinLock(&StateLock, irql);
    CompleteTaken(&taken, STATUS_CANCELLED, NULL);

    /* No timer, then no DPC running or queued, then no work item. */
    KeCancelTimer(&ExpiryTimer);
    KeFlushQueuedDpcs();
    KeWaitForSingleObject(&WorkItemIdle, Executive, KernelMode, FALSE, NULL);
    IoFreeWorkItem(ExpiryWorkItem);

    ULONG left = RtlNumberGenericTableElementsAvl(&Table);
    FreeTable();
    ExDeleteResourceLite(&TableLock);

    UNICODE_STRING link = RTL_CONSTANT_STRING(KV_LINK_NAME);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(KvDevice);
    DbgPrint("kv_store: unloaded after %lld puts, %lld expiry passes, %lld expired; freed %lu records\n",
             Stats.Puts, Stats.Passes, Stats.Expired, left);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    UNICODE_STRING name = RTL_CONSTANT_STRING(KV_DEVICE_NAME);
    UNICODE_STRING link = RTL_CONSTANT_STRING(KV_LINK_NAME);

    KeInitializeSpinLock(&StateLock);
    InitializeListHead(&ExpiryWaiters);
    KeInitializeEvent(&WorkItemIdle, NotificationEvent, TRUE);
    KeInitializeEvent(&Rendezvous, SynchronizationEvent, FALSE);
    RtlInitializeGenericTableAvl(&Table, KvCompare, KvAllocate, KvFree, NULL);
    NTSTATUS status = ExInitializeResourceLite(&TableLock);
    if (!NT_SUCCESS(status))
        return status;

    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &KvDevice);
    if (!NT_SUCCESS(status))
        goto fail_resource;
    KvDevice->Flags |= DO_BUFFERED_IO;
    ExpiryWorkItem = IoAllocateWorkItem(KvDevice);
    if (ExpiryWorkItem == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto fail_device;
    }
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        DbgPrint("kv_store: IoCreateSymbolicLink failed: 0x%08X\n", status);
        goto fail_workitem;
    }

    DriverObject->MajorFunction[IRP_MJ_CREATE] = KvCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = KvCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = KvCleanup;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = KvDeviceControl;
    DriverObject->DriverUnload = KvUnload;

    /* The first expiry pass one period from now, then every period. */
    KeInitializeDpc(&ExpiryDpc, KvTimerDpc, NULL);
    KeInitializeTimerEx(&ExpiryTimer, NotificationTimer);
    LARGE_INTEGER due;
    due.QuadPart = -(LONGLONG)KV_TIMER_PERIOD_MS * 10000;
    KeSetTimerEx(&ExpiryTimer, due, KV_TIMER_PERIOD_MS, &ExpiryDpc);
    DbgPrint("kv_store: device ready, expiry every %d ms\n", KV_TIMER_PERIOD_MS);
    return STATUS_SUCCESS;

fail_workitem:
    IoFreeWorkItem(ExpiryWorkItem);
fail_device:
    IoDeleteDevice(KvDevice);
fail_resource:
    ExDeleteResourceLite(&TableLock);
    return status;
}
