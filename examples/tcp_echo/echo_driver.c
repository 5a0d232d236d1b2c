/*
 * echo_driver.c - a TCP echo server written as a WSK driver.
 *
 * DriverEntry reads its port from the service key's Parameters (Port,
 * REG_DWORD; 0 or absent: any free port), registers with WSK, enables the
 * accept event statically and listens on a dual-stack [::] socket.
 * WskAcceptEvent takes each connection (at DISPATCH_LEVEL) and queues it to
 * a worker thread, which starts the connection's first receive; from then
 * on every step — receive, send the bytes back, graceful disconnect when
 * the peer is done, close — is started from the previous IRP's completion
 * routine, one IRP per connection.  DriverUnload closes the listener, stops
 * the worker, aborts the connections still open and waits for the last one
 * to be closed before WskDeregister.
 */
#include <ntddk.h>
#include <wsk.h>

#define ECHO_TAG 'ohcE'
#define ECHO_BUFFER_SIZE 16384

typedef struct _ECHO_CONNECTION {
    LIST_ENTRY Link;       /* EchoConnections: every connection not yet freed */
    LIST_ENTRY QueueLink;  /* EchoQueue: accepted, waiting for the worker */
    PWSK_SOCKET Socket;
    PIRP Irp;              /* one IRP, reused for every step */
    PMDL Mdl;
    LONG References;       /* the chain's, plus DriverUnload's while it aborts */
    BOOLEAN InFlight;      /* an operation on Irp is under way */
    BOOLEAN Abort;         /* DriverUnload: close now */
    UCHAR Buffer[ECHO_BUFFER_SIZE];
} ECHO_CONNECTION, *PECHO_CONNECTION;

static WSK_REGISTRATION EchoRegistration;
static WSK_PROVIDER_NPI EchoProvider;
static const WSK_CLIENT_DISPATCH EchoClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static PWSK_SOCKET EchoListener;
static USHORT EchoPort;

/* Connections and the worker's queue; IRPs are started under this lock so
 * that DriverUnload sees each connection either between steps or with an
 * operation in flight. */
static KSPIN_LOCK EchoLock;
static LIST_ENTRY EchoConnections;
static LIST_ENTRY EchoQueue;
static LONG EchoActive;
static BOOLEAN EchoStopping;
static KEVENT EchoQueueReady; /* synchronization: wakes the worker */
static KEVENT EchoAllClosed;  /* notification: EchoActive reached 0 while stopping */
static PETHREAD EchoWorker;

static IO_COMPLETION_ROUTINE EchoReceiveDone;
static IO_COMPLETION_ROUTINE EchoSendDone;
static IO_COMPLETION_ROUTINE EchoDisconnectDone;
static IO_COMPLETION_ROUTINE EchoCloseDone;

static const WSK_PROVIDER_CONNECTION_DISPATCH *EchoDispatch(PECHO_CONNECTION Connection)
{
    return Connection->Socket->Dispatch;
}

static VOID EchoRelease(PECHO_CONNECTION Connection)
{
    KIRQL irql;
    if (InterlockedDecrement(&Connection->References) != 0)
        return;
    KeAcquireSpinLock(&EchoLock, &irql);
    RemoveEntryList(&Connection->Link);
    if (--EchoActive == 0 && EchoStopping)
        KeSetEvent(&EchoAllClosed, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&EchoLock, irql);
    IoFreeMdl(Connection->Mdl);
    IoFreeIrp(Connection->Irp);
    ExFreePoolWithTag(Connection, ECHO_TAG);
}

/* Prepares the connection's IRP for the next step. */
static PIRP EchoNext(PECHO_CONNECTION Connection, PIO_COMPLETION_ROUTINE Done)
{
    IoReuseIrp(Connection->Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(Connection->Irp, Done, Connection, TRUE, TRUE, TRUE);
    return Connection->Irp;
}

static VOID EchoClose(PECHO_CONNECTION Connection)
{
    /* Without a disconnect first, closing resets the connection (abortive). */
    EchoDispatch(Connection)->WskCloseSocket(Connection->Socket, EchoNext(Connection, EchoCloseDone));
}

/* Starts an operation unless DriverUnload asked the connection to stop. */
#define ECHO_START(Connection, Call)                     \
    do {                                                 \
        KIRQL irql_;                                     \
        BOOLEAN abort_;                                  \
        KeAcquireSpinLock(&EchoLock, &irql_);            \
        abort_ = (Connection)->Abort;                    \
        (Connection)->InFlight = !abort_;                \
        if (!abort_)                                     \
            Call;                                        \
        KeReleaseSpinLock(&EchoLock, irql_);             \
        if (abort_)                                      \
            EchoClose(Connection);                       \
    } while (0)

static VOID EchoReceive(PECHO_CONNECTION Connection)
{
    WSK_BUF buf = {Connection->Mdl, 0, ECHO_BUFFER_SIZE};
    ECHO_START(Connection, EchoDispatch(Connection)->WskReceive(Connection->Socket, &buf, 0,
                                                                EchoNext(Connection, EchoReceiveDone)));
}

static VOID EchoLanded(PECHO_CONNECTION Connection)
{
    KIRQL irql;
    KeAcquireSpinLock(&EchoLock, &irql);
    Connection->InFlight = FALSE;
    KeReleaseSpinLock(&EchoLock, irql);
}

static NTSTATUS EchoReceiveDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PECHO_CONNECTION connection = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    EchoLanded(connection);
    if (NT_SUCCESS(Irp->IoStatus.Status) && Irp->IoStatus.Information > 0) {
        /* Send back exactly what arrived; WskSend completes when all of it went. */
        WSK_BUF buf = {connection->Mdl, 0, Irp->IoStatus.Information};
        ECHO_START(connection, EchoDispatch(connection)->WskSend(connection->Socket, &buf, 0,
                                                                 EchoNext(connection, EchoSendDone)));
    } else if (NT_SUCCESS(Irp->IoStatus.Status)) {
        /* The peer finished sending: finish ours, then close. */
        ECHO_START(connection, EchoDispatch(connection)->WskDisconnect(connection->Socket, NULL, 0,
                                                                       EchoNext(connection, EchoDisconnectDone)));
    } else {
        /* A reset by the peer is STATUS_CONNECTION_RESET. */
        DbgPrint("echo: receive failed: 0x%08X\n", Irp->IoStatus.Status);
        EchoClose(connection);
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoSendDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PECHO_CONNECTION connection = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    EchoLanded(connection);
    if (NT_SUCCESS(Irp->IoStatus.Status)) {
        EchoReceive(connection);
    } else {
        DbgPrint("echo: send failed: 0x%08X\n", Irp->IoStatus.Status);
        EchoClose(connection);
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoDisconnectDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    EchoLanded(Context);
    EchoClose(Context);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoCloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    EchoRelease(Context);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Runs at DISPATCH_LEVEL: takes the connection and leaves the rest to the worker. */
static NTSTATUS WSKAPI EchoAcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                       PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                       PVOID *AcceptSocketContext,
                                       const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    PECHO_CONNECTION connection;
    KIRQL irql;
    UNREFERENCED_PARAMETER(SocketContext);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(LocalAddress);
    UNREFERENCED_PARAMETER(RemoteAddress);
    if (AcceptSocket == NULL)
        return STATUS_SUCCESS; /* the listener is going away */
    connection = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*connection), ECHO_TAG);
    if (connection == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    connection->Irp = IoAllocateIrp(1, FALSE);
    connection->Mdl = IoAllocateMdl(connection->Buffer, ECHO_BUFFER_SIZE, FALSE, FALSE, NULL);
    if (connection->Irp == NULL || connection->Mdl == NULL) {
        if (connection->Irp != NULL)
            IoFreeIrp(connection->Irp);
        if (connection->Mdl != NULL)
            IoFreeMdl(connection->Mdl);
        ExFreePoolWithTag(connection, ECHO_TAG);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    MmBuildMdlForNonPagedPool(connection->Mdl);
    connection->Socket = AcceptSocket;
    connection->References = 1;
    KeAcquireSpinLock(&EchoLock, &irql);
    InsertTailList(&EchoConnections, &connection->Link);
    InsertTailList(&EchoQueue, &connection->QueueLink);
    EchoActive++;
    KeReleaseSpinLock(&EchoLock, irql);
    KeSetEvent(&EchoQueueReady, IO_NO_INCREMENT, FALSE);
    *AcceptSocketContext = connection;
    *AcceptSocketDispatch = NULL; /* no events on the connection: it is driven by IRPs */
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH EchoListenDispatch = {EchoAcceptEvent, NULL, NULL};

_Function_class_(KSTART_ROUTINE) static VOID EchoWorkerThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (;;) {
        KIRQL irql;
        PECHO_CONNECTION connection = NULL;
        BOOLEAN stop;
        KeWaitForSingleObject(&EchoQueueReady, Executive, KernelMode, FALSE, NULL);
        for (;;) {
            KeAcquireSpinLock(&EchoLock, &irql);
            stop = EchoStopping;
            connection = IsListEmpty(&EchoQueue)
                             ? NULL
                             : CONTAINING_RECORD(RemoveHeadList(&EchoQueue), ECHO_CONNECTION, QueueLink);
            KeReleaseSpinLock(&EchoLock, irql);
            if (connection == NULL)
                break;
            EchoReceive(connection);
        }
        if (stop)
            break;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Calls a WSK function with a local IRP and waits for it. */
static NTSTATUS EchoSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Event)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP EchoArm(PIRP Irp, PKEVENT Event)
{
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(Event);
    IoSetCompletionRoutine(Irp, EchoSignal, Event, TRUE, TRUE, TRUE);
    return Irp;
}

static NTSTATUS EchoWait(NTSTATUS Status, PIRP Irp, PKEVENT Event)
{
    if (Status == STATUS_PENDING) {
        KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
        Status = Irp->IoStatus.Status;
    }
    return Status;
}

VOID DriverUnload(PDRIVER_OBJECT DriverObject)
{
    KEVENT event;
    KIRQL irql;
    PIRP irp = IoAllocateIrp(1, FALSE);
    PLIST_ENTRY entry;
    UNREFERENCED_PARAMETER(DriverObject);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (EchoListener != NULL && irp != NULL) {
        const WSK_PROVIDER_LISTEN_DISPATCH *listen = EchoListener->Dispatch;
        EchoWait(listen->WskCloseSocket(EchoListener, EchoArm(irp, &event)), irp, &event);
    }
    KeAcquireSpinLock(&EchoLock, &irql);
    EchoStopping = TRUE;
    KeReleaseSpinLock(&EchoLock, irql);
    if (EchoWorker != NULL) {
        KeSetEvent(&EchoQueueReady, IO_NO_INCREMENT, FALSE);
        KeWaitForSingleObject(EchoWorker, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(EchoWorker);
    }
    /* Abort what is still open: an operation in flight is cancelled, a
     * connection between steps sees Abort before its next one. */
    for (;;) {
        PECHO_CONNECTION victim = NULL;
        KeAcquireSpinLock(&EchoLock, &irql);
        for (entry = EchoConnections.Flink; entry != &EchoConnections; entry = entry->Flink) {
            PECHO_CONNECTION c = CONTAINING_RECORD(entry, ECHO_CONNECTION, Link);
            if (!c->Abort) {
                victim = c;
                break;
            }
        }
        if (victim != NULL) {
            victim->Abort = TRUE;
            if (victim->InFlight)
                InterlockedIncrement(&victim->References);
            else
                victim = NULL;
        }
        BOOLEAN more = victim != NULL || entry != &EchoConnections;
        KeReleaseSpinLock(&EchoLock, irql);
        if (victim != NULL) {
            IoCancelIrp(victim->Irp);
            EchoRelease(victim);
        }
        if (!more)
            break;
    }
    KeAcquireSpinLock(&EchoLock, &irql);
    if (EchoActive == 0)
        KeSetEvent(&EchoAllClosed, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&EchoLock, irql);
    KeWaitForSingleObject(&EchoAllClosed, Executive, KernelMode, FALSE, NULL);
    if (irp != NULL)
        IoFreeIrp(irp);
    WskReleaseProviderNPI(&EchoRegistration);
    WskDeregister(&EchoRegistration);
    DbgPrint("echo: unloaded\n");
}

/* Parameters\Port under the driver's service key. */
static NTSTATUS EchoReadParameters(PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING path;
    ULONG port = 0;
    RTL_QUERY_REGISTRY_TABLE table[2];
    NTSTATUS status;
    path.MaximumLength = RegistryPath->Length + sizeof(L"\\Parameters");
    path.Length = 0;
    path.Buffer = ExAllocatePoolWithTag(PagedPool, path.MaximumLength, ECHO_TAG);
    if (path.Buffer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlCopyUnicodeString(&path, RegistryPath);
    RtlAppendUnicodeToString(&path, L"\\Parameters");
    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Port";
    table[0].EntryContext = &port;
    table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_DWORD;
    table[0].DefaultData = &port;
    table[0].DefaultLength = sizeof(port);
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE | RTL_REGISTRY_OPTIONAL, path.Buffer, table, NULL, NULL);
    ExFreePoolWithTag(path.Buffer, ECHO_TAG);
    if (NT_SUCCESS(status) && port > 65535)
        status = STATUS_INVALID_PARAMETER;
    EchoPort = (USHORT)port;
    return status;
}

static NTSTATUS EchoListen(PIRP Irp, PKEVENT Event)
{
    const WSK_PROVIDER_LISTEN_DISPATCH *listen;
    SOCKADDR_IN6 address;
    ULONG v6only = 0; /* IPv4 peers too, as v4-mapped addresses */
    NTSTATUS status =
        EchoWait(EchoProvider.Dispatch->WskSocket(EchoProvider.Client, AF_INET6, SOCK_STREAM, IPPROTO_TCP,
                                                  WSK_FLAG_LISTEN_SOCKET, NULL, &EchoListenDispatch, NULL, NULL,
                                                  NULL, EchoArm(Irp, Event)),
                 Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    EchoListener = (PWSK_SOCKET)Irp->IoStatus.Information;
    listen = EchoListener->Dispatch;
    status = EchoWait(listen->WskControlSocket(EchoListener, WskSetOption, IPV6_V6ONLY, IPPROTO_IPV6, sizeof(v6only),
                                               &v6only, 0, NULL, NULL, EchoArm(Irp, Event)),
                      Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    RtlZeroMemory(&address, sizeof(address));
    address.sin6_family = AF_INET6;
    address.sin6_port = RtlUshortByteSwap(EchoPort);
    status = EchoWait(listen->WskBind(EchoListener, (PSOCKADDR)&address, 0, EchoArm(Irp, Event)), Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    status = EchoWait(listen->WskGetLocalAddress(EchoListener, (PSOCKADDR)&address, EchoArm(Irp, Event)), Irp,
                      Event);
    if (NT_SUCCESS(status))
        EchoPort = RtlUshortByteSwap(address.sin6_port);
    return status;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi = {NULL, &EchoClientDispatch};
    WSK_EVENT_CALLBACK_CONTROL accept = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT};
    NTSTATUS status;
    KEVENT event;
    PIRP irp;
    HANDLE thread;

    KeInitializeSpinLock(&EchoLock);
    InitializeListHead(&EchoConnections);
    InitializeListHead(&EchoQueue);
    KeInitializeEvent(&EchoQueueReady, SynchronizationEvent, FALSE);
    KeInitializeEvent(&EchoAllClosed, NotificationEvent, FALSE);
    status = EchoReadParameters(RegistryPath);
    if (!NT_SUCCESS(status))
        return status;
    status = WskRegister(&npi, &EchoRegistration);
    if (!NT_SUCCESS(status))
        return status;
    status = WskCaptureProviderNPI(&EchoRegistration, WSK_INFINITE_WAIT, &EchoProvider);
    if (!NT_SUCCESS(status)) {
        WskDeregister(&EchoRegistration);
        return status;
    }
    DriverObject->DriverUnload = DriverUnload;
    /* Every listen socket this client makes gets the accept event. */
    status = EchoProvider.Dispatch->WskControlClient(EchoProvider.Client, WSK_SET_STATIC_EVENT_CALLBACKS,
                                                     sizeof(accept), &accept, 0, NULL, NULL, NULL);
    irp = NT_SUCCESS(status) ? IoAllocateIrp(1, FALSE) : NULL;
    if (irp == NULL) {
        DriverUnload(DriverObject);
        return NT_SUCCESS(status) ? STATUS_INSUFFICIENT_RESOURCES : status;
    }
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    status = EchoListen(irp, &event);
    IoFreeIrp(irp);
    if (NT_SUCCESS(status))
        status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, EchoWorkerThread, NULL);
    if (NT_SUCCESS(status)) {
        ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &EchoWorker, NULL);
        ZwClose(thread);
        DbgPrint("echo: listening on [::]:%u (dual stack), port %u\n", EchoPort, EchoPort);
    } else {
        DbgPrint("echo: cannot listen on port %u: 0x%08X\n", EchoPort, status);
        DriverUnload(DriverObject);
    }
    return status;
}
