/*
 * counter_driver.c - a driver with an I/O control interface, the way most
 * drivers are driven from user mode: IoCreateDevice + IoCreateSymbolicLink
 * (\DosDevices\IoctlCounter -> \Device\IoctlCounter, DO_BUFFERED_IO) and a
 * second device without a link (\Device\IoctlCounterDirect, DO_DIRECT_IO).
 *
 * Both share a 64-bit counter (IOCTLs in counter_ioctl.h: METHOD_BUFFERED
 * get/set/add, a METHOD_OUT_DIRECT history, a METHOD_IN_DIRECT byte sum, a
 * METHOD_NEITHER statistics call, and a WAIT that pends until the counter
 * changes, with a cancel routine, completed by IRP_MJ_CLEANUP for its file
 * object) and a 4 KiB store read and written at the file's byte offset.
 */
#include <ntddk.h>

#include "counter_ioctl.h"

#define COUNTER_TAG 'tnoC'
#define STORE_SIZE 4096
#define HISTORY_MAX 256

static PDEVICE_OBJECT CounterDevice, CounterDirectDevice;
static KSPIN_LOCK CounterLock; /* everything below */
static LONGLONG Counter;
static LONGLONG History[HISTORY_MAX];
static ULONG HistoryCount;
static LIST_ENTRY Waiters; /* pended WAIT IRPs, by Tail.Overlay.ListEntry */
static COUNTER_STATS Stats;
static UCHAR Store[STORE_SIZE];
static ULONG StoreLength;

static DRIVER_UNLOAD CounterUnload;
static DRIVER_DISPATCH CounterCreateClose;
static DRIVER_DISPATCH CounterCleanup;
static DRIVER_DISPATCH CounterDeviceControl;
static DRIVER_DISPATCH CounterReadWrite;
static DRIVER_CANCEL CounterCancelWait;

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS CounterCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    KIRQL irql;
    KeAcquireSpinLock(&CounterLock, &irql);
    if (sl->MajorFunction == IRP_MJ_CREATE) {
        Stats.Creates++;
        Stats.LastCreateAccess = sl->Parameters.Create.SecurityContext->DesiredAccess;
        Stats.LastCreateSynchronous = (sl->FileObject->Flags & FO_SYNCHRONOUS_IO) != 0;
        /* "\\.\IoctlCounter\sub" arrives as FileName "\sub". */
        PUNICODE_STRING fn = &sl->FileObject->FileName;
        ULONG i = 0;
        for (; i < fn->Length / sizeof(WCHAR) && i + 1 < sizeof(Stats.LastFileName); i++)
            Stats.LastFileName[i] = (char)fn->Buffer[i];
        Stats.LastFileName[i] = '\0';
    } else {
        Stats.Closes++;
    }
    KeReleaseSpinLock(&CounterLock, irql);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

/* Takes the waiters matching FileObject (all if NULL) whose cancel routine
 * has not started; with the lock held. */
static void TakeWaiters(PFILE_OBJECT FileObject, PLIST_ENTRY Out)
{
    PLIST_ENTRY e = Waiters.Flink;
    while (e != &Waiters) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        e = e->Flink;
        if (FileObject != NULL && IoGetCurrentIrpStackLocation(irp)->FileObject != FileObject)
            continue;
        RemoveEntryList(&irp->Tail.Overlay.ListEntry);
        if (IoSetCancelRoutine(irp, NULL) == NULL) {
            /* The cancel routine runs and will unlink an empty entry. */
            InitializeListHead(&irp->Tail.Overlay.ListEntry);
            continue;
        }
        Stats.Waiting--;
        InsertTailList(Out, &irp->Tail.Overlay.ListEntry);
    }
}

static void CompleteTaken(PLIST_ENTRY Taken, NTSTATUS Status, LONGLONG Value)
{
    while (!IsListEmpty(Taken)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(Taken), IRP, Tail.Overlay.ListEntry);
        ULONG_PTR info = 0;
        if (NT_SUCCESS(Status)) {
            *(LONGLONG *)irp->AssociatedIrp.SystemBuffer = Value;
            info = sizeof(LONGLONG);
        }
        Complete(irp, Status, info);
    }
}

static void CounterCancelWait(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    KIRQL irql;
    KeAcquireSpinLock(&CounterLock, &irql);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    Stats.Waiting--;
    Stats.CancelledByRoutine++;
    KeReleaseSpinLock(&CounterLock, irql);
    Complete(Irp, STATUS_CANCELLED, 0);
}

/* IRP_MJ_CLEANUP: the handle is closing; this file object's pended IRPs
 * are completed now ("IRP_MJ_CLEANUP"). */
static NTSTATUS CounterCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    LIST_ENTRY taken;
    InitializeListHead(&taken);
    KIRQL irql;
    KeAcquireSpinLock(&CounterLock, &irql);
    Stats.Cleanups++;
    TakeWaiters(IoGetCurrentIrpStackLocation(Irp)->FileObject, &taken);
    for (PLIST_ENTRY e = taken.Flink; e != &taken; e = e->Flink)
        Stats.CancelledInCleanup++;
    KeReleaseSpinLock(&CounterLock, irql);
    CompleteTaken(&taken, STATUS_CANCELLED, 0);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

/* With the lock held; the caller completes the waiters after releasing it. */
static void SetCounterLocked(LONGLONG Value, PLIST_ENTRY Taken)
{
    Counter = Value;
    if (HistoryCount < HISTORY_MAX)
        History[HistoryCount++] = Value;
    TakeWaiters(NULL, Taken);
}

static NTSTATUS PendWait(PIRP Irp)
{
    KIRQL irql;
    KeAcquireSpinLock(&CounterLock, &irql);
    IoSetCancelRoutine(Irp, CounterCancelWait);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        KeReleaseSpinLock(&CounterLock, irql);
        return Complete(Irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(Irp);
    InsertTailList(&Waiters, &Irp->Tail.Overlay.ListEntry);
    Stats.Waiting++;
    KeReleaseSpinLock(&CounterLock, irql);
    return STATUS_PENDING;
}

static NTSTATUS CounterDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
    PVOID buffer = Irp->AssociatedIrp.SystemBuffer;
    LIST_ENTRY taken;
    InitializeListHead(&taken);
    KIRQL irql;
    LONGLONG value;

    switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_COUNTER_GET:
        if (out < sizeof(LONGLONG))
            return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        KeAcquireSpinLock(&CounterLock, &irql);
        *(LONGLONG *)buffer = Counter;
        KeReleaseSpinLock(&CounterLock, irql);
        return Complete(Irp, STATUS_SUCCESS, sizeof(LONGLONG));

    case IOCTL_COUNTER_SET:
    case IOCTL_COUNTER_ADD:
        if (in < sizeof(LONGLONG))
            return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
        /* Read the input before writing the output: one SystemBuffer. */
        value = *(LONGLONG *)buffer;
        KeAcquireSpinLock(&CounterLock, &irql);
        if (sl->Parameters.DeviceIoControl.IoControlCode == IOCTL_COUNTER_ADD)
            value += Counter;
        SetCounterLocked(value, &taken);
        KeReleaseSpinLock(&CounterLock, irql);
        CompleteTaken(&taken, STATUS_SUCCESS, value);
        if (out >= sizeof(LONGLONG)) {
            *(LONGLONG *)buffer = value;
            return Complete(Irp, STATUS_SUCCESS, sizeof(LONGLONG));
        }
        return Complete(Irp, STATUS_SUCCESS, 0);

    case IOCTL_COUNTER_HISTORY: {
        if (Irp->MdlAddress == NULL || out < sizeof(LONGLONG))
            return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        LONGLONG *dst = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);
        if (dst == NULL)
            return Complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
        ULONG room = MmGetMdlByteCount(Irp->MdlAddress) / sizeof(LONGLONG);
        KeAcquireSpinLock(&CounterLock, &irql);
        ULONG n = HistoryCount < room ? HistoryCount : room;
        RtlCopyMemory(dst, History, n * sizeof(LONGLONG));
        BOOLEAN all = n == HistoryCount;
        KeReleaseSpinLock(&CounterLock, irql);
        return Complete(Irp, all ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW, n * sizeof(LONGLONG));
    }

    case IOCTL_COUNTER_ADD_BYTES: {
        if (in < sizeof(LONGLONG))
            return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
        LONGLONG factor = *(LONGLONG *)buffer;
        LONGLONG sum = 0;
        if (Irp->MdlAddress != NULL) {
            PUCHAR data = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);
            if (data == NULL)
                return Complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
            for (ULONG i = 0; i < MmGetMdlByteCount(Irp->MdlAddress); i++)
                sum += data[i];
        }
        KeAcquireSpinLock(&CounterLock, &irql);
        SetCounterLocked(Counter + sum * factor, &taken);
        value = Counter;
        KeReleaseSpinLock(&CounterLock, irql);
        CompleteTaken(&taken, STATUS_SUCCESS, value);
        return Complete(Irp, STATUS_SUCCESS, 0);
    }

    case IOCTL_COUNTER_WAIT:
        if (out < sizeof(LONGLONG))
            return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        return PendWait(Irp);

    case IOCTL_COUNTER_STATS: {
        /* METHOD_NEITHER: the caller's own buffer, probed. */
        if (out < sizeof(COUNTER_STATS))
            return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        COUNTER_STATS copy;
        KeAcquireSpinLock(&CounterLock, &irql);
        copy = Stats;
        KeReleaseSpinLock(&CounterLock, irql);
        NTSTATUS status = STATUS_SUCCESS;
        __try {
            if (Irp->RequestorMode != KernelMode)
                ProbeForWrite(Irp->UserBuffer, sizeof(copy), sizeof(UCHAR));
            RtlCopyMemory(Irp->UserBuffer, &copy, sizeof(copy));
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            status = GetExceptionCode();
        }
        return Complete(Irp, status, NT_SUCCESS(status) ? sizeof(copy) : 0);
    }

    default:
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

/* The store, at the IRP's byte offset; the buffer per the device's flags. */
static NTSTATUS CounterReadWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    ULONG length = sl->Parameters.Read.Length;
    LONGLONG offset = sl->Parameters.Read.ByteOffset.QuadPart;
    PUCHAR data;
    if (length == 0)
        return Complete(Irp, STATUS_SUCCESS, 0);
    if (DeviceObject->Flags & DO_DIRECT_IO)
        data = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);
    else
        data = Irp->AssociatedIrp.SystemBuffer;
    if (data == NULL)
        return Complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    if (offset < 0 || offset >= STORE_SIZE)
        return Complete(Irp, sl->MajorFunction == IRP_MJ_READ ? STATUS_END_OF_FILE : STATUS_DISK_FULL, 0);
    KIRQL irql;
    KeAcquireSpinLock(&CounterLock, &irql);
    ULONG n;
    NTSTATUS status = STATUS_SUCCESS;
    if (sl->MajorFunction == IRP_MJ_READ) {
        if (offset >= StoreLength) {
            n = 0;
            status = STATUS_END_OF_FILE;
        } else {
            n = (ULONG)((LONGLONG)length < StoreLength - offset ? (LONGLONG)length : StoreLength - offset);
            RtlCopyMemory(data, Store + offset, n);
        }
    } else {
        n = (ULONG)((LONGLONG)length < STORE_SIZE - offset ? (LONGLONG)length : STORE_SIZE - offset);
        RtlCopyMemory(Store + offset, data, n);
        if (offset + n > StoreLength)
            StoreLength = (ULONG)(offset + n);
    }
    KeReleaseSpinLock(&CounterLock, irql);
    return Complete(Irp, status, n);
}

static void CounterUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNICODE_STRING link = RTL_CONSTANT_STRING(COUNTER_LINK_NAME);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(CounterDirectDevice);
    IoDeleteDevice(CounterDevice);
    DbgPrint("ioctl_counter: unloaded after %lld creates, %lld cleanups, %lld closes, %lld cancelled\n",
             Stats.Creates, Stats.Cleanups, Stats.Closes, Stats.CancelledByRoutine + Stats.CancelledInCleanup);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    UNICODE_STRING name = RTL_CONSTANT_STRING(COUNTER_DEVICE_NAME);
    UNICODE_STRING direct = RTL_CONSTANT_STRING(COUNTER_DIRECT_DEVICE_NAME);
    UNICODE_STRING link = RTL_CONSTANT_STRING(COUNTER_LINK_NAME);
    KeInitializeSpinLock(&CounterLock);
    InitializeListHead(&Waiters);

    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                                     &CounterDevice);
    if (!NT_SUCCESS(status))
        return status;
    CounterDevice->Flags |= DO_BUFFERED_IO;
    status = IoCreateDevice(DriverObject, 0, &direct, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &CounterDirectDevice);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(CounterDevice);
        return status;
    }
    CounterDirectDevice->Flags |= DO_DIRECT_IO;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        DbgPrint("ioctl_counter: IoCreateSymbolicLink failed: 0x%08X\n", status);
        IoDeleteDevice(CounterDirectDevice);
        IoDeleteDevice(CounterDevice);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CounterCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CounterCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = CounterCleanup;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = CounterDeviceControl;
    DriverObject->MajorFunction[IRP_MJ_READ] = CounterReadWrite;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = CounterReadWrite;
    DriverObject->DriverUnload = CounterUnload;
    DbgPrint("ioctl_counter: devices ready\n");
    return STATUS_SUCCESS;
}
