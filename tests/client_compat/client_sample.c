/*
 * client_sample.c - driver code written the way the WSK clients of
 * wsk-clients.md write it (Microsoft's echo sample, KSOCKET, the Wine netio
 * test), built only with `pkg-config --cflags --libs openwsk`: no edits, no
 * extra flags.  It exercises pool tags, IRPs with a completion routine that
 * takes a typed PKEVENT context (H5), MDLs probed inside __try/__except
 * (H3), events, a system thread waited on through its object, SLISTs whose
 * push result says "the list was empty" (H9), DbgPrint with Microsoft
 * format extensions (H10) and L"" strings (H4).
 *
 * main() plays the host: DriverEntry, then DriverUnload, then a leak check.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#define SAMPLE_TAG 'pmSW' /* shows as "WSmp" */

typedef struct _WORK_ITEM {
    SLIST_ENTRY Link;
    ULONG Sequence;
} WORK_ITEM, *PWORK_ITEM;

typedef struct _SAMPLE_GLOBALS {
    SLIST_HEADER Queue;
    KEVENT WorkReady;
    KEVENT Stop;
    PETHREAD Worker;
    volatile LONG Processed;
    ULONG Expected;
} SAMPLE_GLOBALS;

static SAMPLE_GLOBALS Globals;
static int Failures;

#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "FAILED: %s (line %d)\n", #cond, __LINE__); \
            Failures++;                                                                    \
        }                                                                                  \
    } while (0)

_Function_class_(KSTART_ROUTINE) static VOID WorkerThread(_In_ PVOID Context)
{
    SAMPLE_GLOBALS *g = (SAMPLE_GLOBALS *)Context;
    PVOID waits[2] = {&g->Stop, &g->WorkReady};
    for (;;) {
        NTSTATUS status = KeWaitForMultipleObjects(2, waits, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
        PSLIST_ENTRY entry = InterlockedFlushSList(&g->Queue);
        while (entry != NULL) {
            PWORK_ITEM item = CONTAINING_RECORD(entry, WORK_ITEM, Link);
            entry = entry->Next;
            InterlockedIncrement(&g->Processed);
            ExFreePoolWithTag(item, SAMPLE_TAG);
        }
        if (status == STATUS_WAIT_0)
            break;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Typed context, as KSOCKET writes it: the header's cast makes it compile. */
static NTSTATUS SyncCompletion(_In_ PDEVICE_OBJECT DeviceObject, _In_ PIRP Irp, _In_ PKEVENT Event)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    if (Irp->PendingReturned)
        KeSetEvent(Event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID TestIrpRoundTrip(VOID)
{
    KEVENT event;
    PIRP irp = IoAllocateIrp(1, FALSE);
    EXPECT(irp != NULL);
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    IoSetCompletionRoutine(irp, SyncCompletion, &event, TRUE, TRUE, TRUE);
    /* A provider takes the IRP, pends it and completes it. */
    IoSetNextIrpStackLocation(irp);
    IoMarkIrpPending(irp);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 1234;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
    LARGE_INTEGER timeout;
    timeout.QuadPart = -2000 * 10000; /* 2 s, as the Wine test waits */
    EXPECT(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS);
    EXPECT(irp->IoStatus.Information == 1234);
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    EXPECT(irp->IoStatus.Status == STATUS_UNSUCCESSFUL);
    IoFreeIrp(irp);
}

static VOID TestMdls(VOID)
{
    CHAR stackBuffer[100];
    PMDL mdl = IoAllocateMdl(stackBuffer, sizeof(stackBuffer), FALSE, FALSE, NULL);
    NTSTATUS status = STATUS_SUCCESS;
    EXPECT(mdl != NULL);
    __try {
        MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    EXPECT(status == STATUS_SUCCESS);
    EXPECT(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute) == stackBuffer);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);

    PVOID pool = ExAllocatePoolZero(NonPagedPoolNx, 4096, SAMPLE_TAG);
    WSK_BUF buf;
    buf.Mdl = IoAllocateMdl(pool, 4096, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(buf.Mdl);
    buf.Offset = 16;
    buf.Length = 4096 - 16;
    EXPECT(MmGetMdlByteCount(buf.Mdl) == 4096);
    EXPECT(MmGetMdlVirtualAddress(buf.Mdl) == pool);
    IoFreeMdl(buf.Mdl);
    ExFreePoolWithTag(pool, SAMPLE_TAG);

    status = STATUS_SUCCESS;
    mdl = IoAllocateMdl((PVOID)(ULONG_PTR)0x1000, 64, FALSE, FALSE, NULL);
    __try {
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    EXPECT(status == STATUS_ACCESS_VIOLATION);
    IoFreeMdl(mdl);
}

static VOID DriverUnload(_In_ PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeSetEvent(&Globals.Stop, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(Globals.Worker, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(Globals.Worker);
    DbgPrint("unload: %d items processed\n", Globals.Processed);
}

NTSTATUS DriverEntry(_In_ PDRIVER_OBJECT DriverObject, _In_ PUNICODE_STRING RegistryPath)
{
    HANDLE threadHandle;
    NTSTATUS status;
    ULONG i;

    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "DriverEntry: %wZ, %ls, %I64u, %Iu, 0x%08lx\n", RegistryPath,
               L"wide", (ULONGLONG)1 << 40, (SIZE_T)sizeof(IRP), (ULONG)STATUS_PENDING);
    DriverObject->DriverUnload = DriverUnload;

    InitializeSListHead(&Globals.Queue);
    KeInitializeEvent(&Globals.WorkReady, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Globals.Stop, NotificationEvent, FALSE);
    status = PsCreateSystemThread(&threadHandle, THREAD_ALL_ACCESS, NULL, NULL, NULL, WorkerThread, &Globals);
    if (!NT_SUCCESS(status))
        return status;
    status = ObReferenceObjectByHandle(threadHandle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                       (PVOID *)&Globals.Worker, NULL);
    ZwClose(threadHandle);
    if (!NT_SUCCESS(status))
        return status;

    for (i = 0; i < 100; i++) {
        PWORK_ITEM item = (PWORK_ITEM)ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(WORK_ITEM), SAMPLE_TAG);
        if (item == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        item->Sequence = i;
        /* The echo sample's idiom: wake the worker only when the list was empty. */
        if (InterlockedPushEntrySList(&Globals.Queue, &item->Link) == NULL)
            KeSetEvent(&Globals.WorkReady, IO_NO_INCREMENT, FALSE);
        Globals.Expected++;
    }

    TestIrpRoundTrip();
    TestMdls();
    return STATUS_SUCCESS;
}

int main(void)
{
    DRIVER_OBJECT driver = {0};
    UNICODE_STRING path;
    RtlInitUnicodeString(&path, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\sample");
    EXPECT(DriverEntry(&driver, &path) == STATUS_SUCCESS);
    driver.DriverUnload(&driver);
    EXPECT(Globals.Processed == (LONG)Globals.Expected);
    EXPECT(openwsk_leak_report() == 0);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "client sample: %s\n", Failures ? "FAILED" : "OK");
    return Failures ? 1 : 0;
}
