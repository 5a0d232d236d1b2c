/*
 * record_sum_driver.c - a record server written the way drivers often are,
 * with a bug that only legal adversity shows (docs/adversity.md).
 *
 * It listens on 127.0.0.1 (port from Parameters\Port, default: any) and
 * serves one connection at a time from a system thread.  A client sends
 * records, each a 4-byte little-endian length L (1..RECORD_MAX) followed by
 * L bytes; for each the driver answers 8 bytes: the sum of the bytes and L
 * (both 32-bit little-endian).  The client half-closes when done.
 *
 * THE BUG: each record is read with two WskReceive calls, the header and
 * then the body, and each is assumed to return as many bytes as asked.  On
 * loopback, with the client writing a record at once, that is what happens
 * in practice; on Windows a stream receive may complete with fewer bytes
 * than asked whenever the data arrives in pieces, and then the body is
 * short, the sum is wrong and the next "header" is taken from the middle
 * of the body.  Built with RECORD_SUM_FIXED defined, both receives use
 * WSK_FLAG_WAITALL, which is the fix.
 */
#include <ntddk.h>
#include <wsk.h>

#define RECORD_TAG 'mSeR'
#define RECORD_MAX 4096

#ifdef RECORD_SUM_FIXED
#define RECORD_RECEIVE_FLAGS WSK_FLAG_WAITALL
#define RECORD_NAME "record_sum_fixed"
#else
#define RECORD_RECEIVE_FLAGS 0 /* the bug: a receive may return fewer bytes */
#define RECORD_NAME "record_sum"
#endif

typedef struct _RECORD_CALL {
    PIRP Irp;
    KEVENT Done;
    PMDL Mdl;
    UCHAR Buffer[RECORD_MAX];
} RECORD_CALL, *PRECORD_CALL;

static WSK_REGISTRATION RecordRegistration;
static WSK_PROVIDER_NPI RecordProvider;
static const WSK_CLIENT_DISPATCH RecordClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static PWSK_SOCKET RecordListener;
static PETHREAD RecordThread;
static KEVENT RecordStop;
static PRECORD_CALL RecordCall;
static ULONG RecordPort;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD RecordUnload;
static KSTART_ROUTINE RecordServe;
static IO_COMPLETION_ROUTINE RecordCallDone;

static NTSTATUS RecordCallDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(&((PRECORD_CALL)Context)->Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP RecordArm(PRECORD_CALL Call)
{
    IoReuseIrp(Call->Irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(&Call->Done);
    IoSetCompletionRoutine(Call->Irp, RecordCallDone, Call, TRUE, TRUE, TRUE);
    return Call->Irp;
}

/* Waits for the call; DriverUnload's stop cancels it. */
static NTSTATUS RecordWait(PRECORD_CALL Call, NTSTATUS Status)
{
    PVOID objects[2] = {&Call->Done, &RecordStop};
    if (Status != STATUS_PENDING)
        return Status;
    if (KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL) != STATUS_WAIT_0) {
        IoCancelIrp(Call->Irp);
        KeWaitForSingleObject(&Call->Done, Executive, KernelMode, FALSE, NULL);
    }
    return Call->Irp->IoStatus.Status;
}

/* One WskReceive into the buffer; *Received is what it says it got. */
static NTSTATUS RecordReceive(PWSK_SOCKET Socket, PRECORD_CALL Call, ULONG Length, PULONG Received)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch = Socket->Dispatch;
    WSK_BUF buf = {Call->Mdl, 0, Length};
    NTSTATUS status = RecordWait(Call, dispatch->WskReceive(Socket, &buf, RECORD_RECEIVE_FLAGS, RecordArm(Call)));
    *Received = (ULONG)Call->Irp->IoStatus.Information;
    return status;
}

static NTSTATUS RecordSend(PWSK_SOCKET Socket, PRECORD_CALL Call, ULONG Length)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch = Socket->Dispatch;
    WSK_BUF buf = {Call->Mdl, 0, Length};
    return RecordWait(Call, dispatch->WskSend(Socket, &buf, 0, RecordArm(Call)));
}

/* Serves one connection until the client's half-close or an error. */
static VOID RecordServeConnection(PWSK_SOCKET Socket, PRECORD_CALL Call)
{
    ULONG records = 0;
    for (;;) {
        ULONG got, length, sum = 0, i;
        NTSTATUS status = RecordReceive(Socket, Call, 4, &got);
        if (!NT_SUCCESS(status) || got == 0)
            break; /* the client is done */
        length = Call->Buffer[0] | (ULONG)Call->Buffer[1] << 8 | (ULONG)Call->Buffer[2] << 16 |
                 (ULONG)Call->Buffer[3] << 24;
        if (length == 0 || length > RECORD_MAX) {
            DbgPrint(RECORD_NAME ": bad record length %lu after %lu records: closing\n", length, records);
            break;
        }
        status = RecordReceive(Socket, Call, length, &got); /* assumed to be the whole body */
        if (!NT_SUCCESS(status) || got == 0)
            break;
        for (i = 0; i < length; i++)
            sum += Call->Buffer[i];
        for (i = 0; i < 4; i++) {
            Call->Buffer[i] = (UCHAR)(sum >> (8 * i));
            Call->Buffer[4 + i] = (UCHAR)(length >> (8 * i));
        }
        if (!NT_SUCCESS(RecordSend(Socket, Call, 8)))
            break;
        records++;
    }
    DbgPrint(RECORD_NAME ": connection done after %lu records\n", records);
}

static VOID RecordServe(PVOID Context)
{
    PRECORD_CALL call = Context;
    const WSK_PROVIDER_LISTEN_DISPATCH *listen = RecordListener->Dispatch;
    for (;;) {
        NTSTATUS status = RecordWait(call, listen->WskAccept(RecordListener, 0, NULL, NULL, NULL, NULL,
                                                             RecordArm(call)));
        PWSK_SOCKET socket;
        if (!NT_SUCCESS(status))
            break; /* unloading */
        socket = (PWSK_SOCKET)call->Irp->IoStatus.Information;
        RecordServeConnection(socket, call);
        {
            const WSK_PROVIDER_BASIC_DISPATCH *basic = socket->Dispatch;
            /* Not cancellable: a close always completes. */
            IoReuseIrp(call->Irp, STATUS_UNSUCCESSFUL);
            KeClearEvent(&call->Done);
            IoSetCompletionRoutine(call->Irp, RecordCallDone, call, TRUE, TRUE, TRUE);
            if (basic->WskCloseSocket(socket, call->Irp) == STATUS_PENDING)
                KeWaitForSingleObject(&call->Done, Executive, KernelMode, FALSE, NULL);
        }
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static NTSTATUS RecordListen(PRECORD_CALL Call)
{
    SOCKADDR_IN local = {0};
    NTSTATUS status = RecordWait(Call, RecordProvider.Dispatch->WskSocket(
                                           RecordProvider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                           WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL, RecordArm(Call)));
    const WSK_PROVIDER_LISTEN_DISPATCH *listen;
    if (!NT_SUCCESS(status))
        return status;
    RecordListener = (PWSK_SOCKET)Call->Irp->IoStatus.Information;
    listen = RecordListener->Dispatch;
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001); /* 127.0.0.1 */
    local.sin_port = RtlUshortByteSwap((USHORT)RecordPort);
    status = RecordWait(Call, listen->WskBind(RecordListener, (PSOCKADDR)&local, 0, RecordArm(Call)));
    if (NT_SUCCESS(status))
        status = RecordWait(Call, listen->WskGetLocalAddress(RecordListener, (PSOCKADDR)&local, RecordArm(Call)));
    if (NT_SUCCESS(status))
        DbgPrint(RECORD_NAME ": listening on 127.0.0.1 port %u\n", RtlUshortByteSwap(local.sin_port));
    return status;
}

static VOID RecordCloseListener(VOID)
{
    const WSK_PROVIDER_BASIC_DISPATCH *basic;
    if (RecordListener == NULL)
        return;
    basic = RecordListener->Dispatch;
    KeClearEvent(&RecordStop); /* the close must be waited for, not cancelled */
    RecordWait(RecordCall, basic->WskCloseSocket(RecordListener, RecordArm(RecordCall)));
    RecordListener = NULL;
}

static VOID RecordCleanup(VOID)
{
    RecordCloseListener();
    if (RecordCall != NULL) {
        if (RecordCall->Irp != NULL)
            IoFreeIrp(RecordCall->Irp);
        if (RecordCall->Mdl != NULL)
            IoFreeMdl(RecordCall->Mdl);
        ExFreePoolWithTag(RecordCall, RECORD_TAG);
        RecordCall = NULL;
    }
    WskReleaseProviderNPI(&RecordRegistration);
    WskDeregister(&RecordRegistration);
}

static VOID RecordUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeSetEvent(&RecordStop, IO_NO_INCREMENT, FALSE);
    if (RecordThread != NULL) {
        KeWaitForSingleObject(RecordThread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(RecordThread);
    }
    RecordCleanup();
    DbgPrint(RECORD_NAME ": unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi = {NULL, &RecordClientDispatch};
    RTL_QUERY_REGISTRY_TABLE table[2];
    ULONG defaultPort = 0;
    HANDLE thread;
    NTSTATUS status;

    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[0].Name = L"Port";
    table[0].EntryContext = &RecordPort;
    table[0].DefaultType = REG_DWORD;
    table[0].DefaultData = &defaultPort;
    table[0].DefaultLength = sizeof(ULONG);
    {
        WCHAR path[256];
        UNICODE_STRING parameters = {0, sizeof(path), path};
        RtlCopyUnicodeString(&parameters, RegistryPath);
        RtlAppendUnicodeToString(&parameters, L"\\Parameters");
        if (!NT_SUCCESS(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, path, table, NULL, NULL)))
            RecordPort = 0;
    }
    KeInitializeEvent(&RecordStop, NotificationEvent, FALSE);
    RecordCall = ExAllocatePoolZero(NonPagedPoolNx, sizeof(RECORD_CALL), RECORD_TAG);
    if (RecordCall == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&RecordCall->Done, NotificationEvent, FALSE);
    RecordCall->Irp = IoAllocateIrp(1, FALSE);
    RecordCall->Mdl = IoAllocateMdl(RecordCall->Buffer, RECORD_MAX, FALSE, FALSE, NULL);
    if (RecordCall->Irp == NULL || RecordCall->Mdl == NULL) {
        if (RecordCall->Irp != NULL)
            IoFreeIrp(RecordCall->Irp);
        if (RecordCall->Mdl != NULL)
            IoFreeMdl(RecordCall->Mdl);
        ExFreePoolWithTag(RecordCall, RECORD_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmBuildMdlForNonPagedPool(RecordCall->Mdl);
    status = WskRegister(&npi, &RecordRegistration);
    if (!NT_SUCCESS(status)) {
        IoFreeIrp(RecordCall->Irp);
        IoFreeMdl(RecordCall->Mdl);
        ExFreePoolWithTag(RecordCall, RECORD_TAG);
        return status;
    }
    status = WskCaptureProviderNPI(&RecordRegistration, WSK_INFINITE_WAIT, &RecordProvider);
    if (!NT_SUCCESS(status)) {
        WskDeregister(&RecordRegistration);
        return status;
    }
    status = RecordListen(RecordCall);
    if (NT_SUCCESS(status))
        status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, RecordServe, RecordCall);
    if (!NT_SUCCESS(status)) {
        RecordCleanup();
        return status;
    }
    ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, (PVOID *)&RecordThread, NULL);
    ZwClose(thread);
    DriverObject->DriverUnload = RecordUnload;
    return STATUS_SUCCESS;
}
