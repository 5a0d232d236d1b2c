/*
 * echo_sample_driver.c - a TCP echo server written the way WSK sample and
 * production drivers are written, from Microsoft's WSK documentation only.
 *
 * Shape of the driver:
 *   - DriverEntry reads Parameters\Port (REG_DWORD, 0 or absent: any free
 *     port) with ZwOpenKey/ZwQueryValueKey, registers as a WSK application,
 *     starts one worker thread and opens a dual-stack listening socket whose
 *     WskAcceptEvent callback is enabled with SO_WSK_EVENT_CALLBACK.
 *   - WskAcceptEvent allocates the connection's context from non-paged pool
 *     (two receive IRPs with their MDLs and buffers, one IRP for the
 *     disconnect, one for the close) and queues it to the worker.
 *   - Every WSK call on a connection is made by the worker thread.
 *     Completion routines only record the result and queue a work item
 *     ("Using IRPs with Winsock Kernel Functions" advises against calling
 *     WSK from a completion routine).
 *   - Two receives are kept outstanding per connection.  Their data is
 *     echoed in the order the receives were queued, which is the order in
 *     which the provider fills them; each receive is queued again as soon as
 *     its data has been handed to a send.
 *   - Sends are fire and forget: the data is copied into a send context of
 *     its own (IRP, MDL, buffer) and the send completion routine frees it.
 *   - A receive that completes with STATUS_SUCCESS and no data means the
 *     peer has shut down its side: the driver answers with a graceful
 *     WskDisconnect without waiting for its sends (the provider sends queued
 *     data before the FIN: PFN_WSK_DISCONNECT, Remarks), and closes the
 *     socket when the disconnect completes.  Any error closes the socket.
 *   - The close completion routine frees the whole context: after
 *     WskCloseSocket's IRP completes, the provider makes no more calls and
 *     completes no more IRPs for the socket (PFN_WSK_CLOSE_SOCKET, Remarks).
 *   - DriverUnload closes the listener (no more WskAcceptEvent calls once
 *     that close has completed), has the worker close every connection still
 *     open, waits for the last close to complete, stops the worker, then
 *     WskReleaseProviderNPI and WskDeregister.
 *
 * The driver checks the provider's side of the contract as it goes and
 * stops the machine (NT_FRE_ASSERT, active in free builds) if it is broken:
 * a close completing while another IRP of the socket is still outstanding
 * or while another completion routine of the socket is still running.
 */
#include <ntddk.h>
#include <wsk.h>

#define SAMPLE_TAG 'pSoE'
#define SAMPLE_RECEIVE_SIZE 4096
#define SAMPLE_RECEIVES 2

typedef struct _SAMPLE_CONNECTION SAMPLE_CONNECTION, *PSAMPLE_CONNECTION;

/* A unit of work for the worker thread; embedded in what it refers to. */
typedef enum _SAMPLE_WORK_KIND { SampleWorkControl, SampleWorkReceive } SAMPLE_WORK_KIND;

typedef struct _SAMPLE_WORK {
    LIST_ENTRY Link; /* SampleWorkQueue */
    SAMPLE_WORK_KIND Kind;
    BOOLEAN Queued;
    PSAMPLE_CONNECTION Connection;
} SAMPLE_WORK, *PSAMPLE_WORK;

typedef struct _SAMPLE_RECEIVE {
    SAMPLE_WORK Work; /* first: a PSAMPLE_WORK of kind SampleWorkReceive is a PSAMPLE_RECEIVE */
    PIRP Irp;
    PMDL Mdl;
    PUCHAR Buffer;
    WSK_BUF WskBuffer;   /* stays valid while the receive is pending */
    ULONG Sequence;      /* the order in which it was queued to WSK */
    BOOLEAN WithWsk;     /* queued to WSK, completion routine not yet run */
    BOOLEAN Completed;   /* result recorded, waiting for its turn to be echoed */
    NTSTATUS Status;
    ULONG_PTR Bytes;
} SAMPLE_RECEIVE, *PSAMPLE_RECEIVE;

/* What the worker has been asked to do with a connection (Control work). */
#define SAMPLE_CONTROL_START 0x1           /* accepted: queue the receives */
#define SAMPLE_CONTROL_DISCONNECT_DONE 0x2 /* the graceful disconnect completed */
#define SAMPLE_CONTROL_SEND_FAILED 0x4     /* a send completed with an error */
#define SAMPLE_CONTROL_ABORT 0x8           /* DriverUnload: close now */

typedef enum _SAMPLE_STATE { SampleOpen, SampleDisconnecting, SampleClosing } SAMPLE_STATE;

struct _SAMPLE_CONNECTION {
    LIST_ENTRY Link; /* SampleConnections, until the close completes */
    PWSK_SOCKET Socket;
    const WSK_PROVIDER_CONNECTION_DISPATCH *Dispatch;
    SAMPLE_WORK Control;
    ULONG ControlFlags;  /* SAMPLE_CONTROL_*, under SampleLock */
    SAMPLE_STATE State;  /* changed by the worker under SampleLock */
    SAMPLE_RECEIVE Receive[SAMPLE_RECEIVES];
    ULONG NextPostSequence;
    ULONG NextEchoSequence;
    PIRP DisconnectIrp;
    BOOLEAN DisconnectWithWsk;
    NTSTATUS DisconnectStatus;
    PIRP CloseIrp;
    LONG SendsWithWsk;        /* sends queued to WSK and not yet completed */
    LONG CompletionsRunning;  /* completion routines of this socket now running */
    ULONG64 BytesEchoed;
};

/* One fire-and-forget send: freed by its completion routine. */
typedef struct _SAMPLE_SEND {
    PSAMPLE_CONNECTION Connection;
    PIRP Irp;
    PMDL Mdl;
    WSK_BUF WskBuffer;
    UCHAR Data[];
} SAMPLE_SEND, *PSAMPLE_SEND;

static WSK_REGISTRATION SampleRegistration;
static WSK_PROVIDER_NPI SampleProvider;
static BOOLEAN SampleRegistered, SampleCaptured;
static const WSK_CLIENT_DISPATCH SampleClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static PWSK_SOCKET SampleListener;
static USHORT SamplePort;

/* SampleLock protects the work queue, the connection list, the counters
 * below and the fields of each connection marked "under SampleLock". */
static KSPIN_LOCK SampleLock;
static LIST_ENTRY SampleWorkQueue;
static LIST_ENTRY SampleConnections;
static LONG SampleLive;           /* contexts not yet freed */
static BOOLEAN SampleStopping;    /* DriverUnload is closing everything */
static BOOLEAN SampleWorkerStop;  /* the worker may exit */
static KEVENT SampleWorkReady;    /* synchronization event: wakes the worker */
static KEVENT SampleAllClosed;    /* notification event: SampleLive reached 0 while stopping */
static PETHREAD SampleWorker;

/* Statistics, printed at unload. */
static LONG SampleAccepted, SampleGraceful, SampleErrors, SampleAborted;
static LONG64 SampleBytes;

static IO_COMPLETION_ROUTINE SampleReceiveComplete;
static IO_COMPLETION_ROUTINE SampleSendComplete;
static IO_COMPLETION_ROUTINE SampleDisconnectComplete;
static IO_COMPLETION_ROUTINE SampleCloseComplete;
static KSTART_ROUTINE SampleWorkerThread;
static DRIVER_UNLOAD SampleUnload;

/* Queues work for the worker; caller holds SampleLock.  Returns TRUE if the
 * worker has to be woken. */
static BOOLEAN SampleQueueLocked(PSAMPLE_WORK Work)
{
    if (Work->Queued)
        return FALSE;
    Work->Queued = TRUE;
    InsertTailList(&SampleWorkQueue, &Work->Link);
    return TRUE;
}

static VOID SampleUnqueueLocked(PSAMPLE_WORK Work)
{
    if (Work->Queued) {
        RemoveEntryList(&Work->Link);
        Work->Queued = FALSE;
    }
}

static VOID SampleWake(VOID)
{
    KeSetEvent(&SampleWorkReady, IO_NO_INCREMENT, FALSE);
}

/* Frees a context and everything hanging off it (IRPs, MDLs, buffers). */
static VOID SampleFreeConnection(PSAMPLE_CONNECTION Connection)
{
    ULONG i;
    for (i = 0; i < SAMPLE_RECEIVES; i++) {
        PSAMPLE_RECEIVE receive = &Connection->Receive[i];
        if (receive->Mdl != NULL)
            IoFreeMdl(receive->Mdl);
        if (receive->Buffer != NULL)
            ExFreePoolWithTag(receive->Buffer, SAMPLE_TAG);
        if (receive->Irp != NULL)
            IoFreeIrp(receive->Irp);
    }
    if (Connection->DisconnectIrp != NULL)
        IoFreeIrp(Connection->DisconnectIrp);
    if (Connection->CloseIrp != NULL)
        IoFreeIrp(Connection->CloseIrp);
    ExFreePoolWithTag(Connection, SAMPLE_TAG);
}

static PSAMPLE_CONNECTION SampleAllocateConnection(PWSK_SOCKET Socket)
{
    ULONG i;
    /* ExAllocatePool2 returns zeroed memory (ExAllocatePool2, Remarks). */
    PSAMPLE_CONNECTION connection = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*connection), SAMPLE_TAG);
    if (connection == NULL)
        return NULL;
    connection->Socket = Socket;
    connection->Dispatch = Socket->Dispatch;
    connection->Control.Kind = SampleWorkControl;
    connection->Control.Connection = connection;
    connection->State = SampleOpen;
    for (i = 0; i < SAMPLE_RECEIVES; i++) {
        PSAMPLE_RECEIVE receive = &connection->Receive[i];
        receive->Work.Kind = SampleWorkReceive;
        receive->Work.Connection = connection;
        /* WSK needs one stack location of its own in every IRP it is given
         * ("Using IRPs with Winsock Kernel Functions"). */
        receive->Irp = IoAllocateIrp(1, FALSE);
        receive->Buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, SAMPLE_RECEIVE_SIZE, SAMPLE_TAG);
        if (receive->Irp == NULL || receive->Buffer == NULL)
            goto fail;
        receive->Mdl = IoAllocateMdl(receive->Buffer, SAMPLE_RECEIVE_SIZE, FALSE, FALSE, NULL);
        if (receive->Mdl == NULL)
            goto fail;
        MmBuildMdlForNonPagedPool(receive->Mdl);
    }
    connection->DisconnectIrp = IoAllocateIrp(1, FALSE);
    connection->CloseIrp = IoAllocateIrp(1, FALSE);
    if (connection->DisconnectIrp == NULL || connection->CloseIrp == NULL)
        goto fail;
    return connection;
fail:
    SampleFreeConnection(connection);
    return NULL;
}

/* ---- completion routines: record, queue for the worker, return ---- */

/* Completion routines run at IRQL <= DISPATCH_LEVEL in an arbitrary thread
 * (IO_COMPLETION_ROUTINE, Remarks); for IRPs the driver allocated they
 * return STATUS_MORE_PROCESSING_REQUIRED so that the I/O manager leaves the
 * IRP alone ("Using IRPs with Winsock Kernel Functions"). */
static NTSTATUS SampleReceiveComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PSAMPLE_RECEIVE receive = Context;
    PSAMPLE_CONNECTION connection = receive->Work.Connection;
    KIRQL irql;
    BOOLEAN wake = FALSE;
    UNREFERENCED_PARAMETER(DeviceObject);

    InterlockedIncrement(&connection->CompletionsRunning);
    KeAcquireSpinLock(&SampleLock, &irql);
    NT_FRE_ASSERT(receive->WithWsk);
    receive->WithWsk = FALSE;
    receive->Status = Irp->IoStatus.Status;
    receive->Bytes = Irp->IoStatus.Information;
    /* Once the worker has started closing, nothing more is echoed. */
    if (connection->State != SampleClosing)
        wake = SampleQueueLocked(&receive->Work);
    /* Inside the lock: once it is released the worker may take the work
     * and close the socket, so the context is not touched after it. */
    InterlockedDecrement(&connection->CompletionsRunning);
    KeReleaseSpinLock(&SampleLock, irql);
    if (wake)
        SampleWake();
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS SampleSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PSAMPLE_SEND send = Context;
    PSAMPLE_CONNECTION connection = send->Connection;
    NTSTATUS status = Irp->IoStatus.Status;
    KIRQL irql;
    BOOLEAN wake = FALSE;
    UNREFERENCED_PARAMETER(DeviceObject);

    InterlockedIncrement(&connection->CompletionsRunning);
    /* A successful send took all of the buffer (PFN_WSK_SEND, Remarks). */
    NT_FRE_ASSERT(!NT_SUCCESS(status) || Irp->IoStatus.Information == send->WskBuffer.Length);
    IoFreeMdl(send->Mdl);
    IoFreeIrp(Irp);
    ExFreePoolWithTag(send, SAMPLE_TAG);
    KeAcquireSpinLock(&SampleLock, &irql);
    connection->SendsWithWsk--;
    if (!NT_SUCCESS(status) && connection->State != SampleClosing) {
        connection->ControlFlags |= SAMPLE_CONTROL_SEND_FAILED;
        wake = SampleQueueLocked(&connection->Control);
    }
    InterlockedDecrement(&connection->CompletionsRunning);
    KeReleaseSpinLock(&SampleLock, irql);
    if (wake)
        SampleWake();
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS SampleDisconnectComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PSAMPLE_CONNECTION connection = Context;
    KIRQL irql;
    BOOLEAN wake = FALSE;
    UNREFERENCED_PARAMETER(DeviceObject);

    InterlockedIncrement(&connection->CompletionsRunning);
    KeAcquireSpinLock(&SampleLock, &irql);
    NT_FRE_ASSERT(connection->DisconnectWithWsk);
    connection->DisconnectWithWsk = FALSE;
    connection->DisconnectStatus = Irp->IoStatus.Status;
    if (connection->State != SampleClosing) {
        connection->ControlFlags |= SAMPLE_CONTROL_DISCONNECT_DONE;
        wake = SampleQueueLocked(&connection->Control);
    }
    InterlockedDecrement(&connection->CompletionsRunning);
    KeReleaseSpinLock(&SampleLock, irql);
    if (wake)
        SampleWake();
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS SampleCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PSAMPLE_CONNECTION connection = Context;
    KIRQL irql;
    ULONG i;
    UNREFERENCED_PARAMETER(DeviceObject);

    /* Closing a socket cancels its pending IRPs, and the close IRP completes
     * after they have (PFN_WSK_CLOSE_SOCKET, Remarks; "Closing a Socket"):
     * nothing of this socket may still be with WSK or running here. */
    NT_FRE_ASSERT(NT_SUCCESS(Irp->IoStatus.Status));
    KeAcquireSpinLock(&SampleLock, &irql);
    NT_FRE_ASSERT(connection->CompletionsRunning == 0);
    NT_FRE_ASSERT(connection->SendsWithWsk == 0);
    NT_FRE_ASSERT(!connection->DisconnectWithWsk);
    for (i = 0; i < SAMPLE_RECEIVES; i++)
        NT_FRE_ASSERT(!connection->Receive[i].WithWsk);
    NT_FRE_ASSERT(!connection->Control.Queued);
    RemoveEntryList(&connection->Link);
    SampleBytes += (LONG64)connection->BytesEchoed;
    if (--SampleLive == 0 && SampleStopping)
        KeSetEvent(&SampleAllClosed, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&SampleLock, irql);
    /* The close IRP is freed with the rest; the I/O manager does not touch
     * it again because of STATUS_MORE_PROCESSING_REQUIRED. */
    SampleFreeConnection(connection);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* ---- the worker's side: every WSK call on a connection is made here ---- */

static VOID SampleClose(PSAMPLE_CONNECTION Connection)
{
    KIRQL irql;
    ULONG i;
    KeAcquireSpinLock(&SampleLock, &irql);
    if (Connection->State == SampleClosing) {
        KeReleaseSpinLock(&SampleLock, irql);
        return;
    }
    Connection->State = SampleClosing;
    /* Completion routines queue nothing more for a closing connection;
     * withdraw what is already queued so that no work refers to the
     * context once the close has freed it. */
    SampleUnqueueLocked(&Connection->Control);
    Connection->ControlFlags = 0;
    for (i = 0; i < SAMPLE_RECEIVES; i++)
        SampleUnqueueLocked(&Connection->Receive[i].Work);
    KeReleaseSpinLock(&SampleLock, irql);

    /* Without a completed graceful disconnect, closing a connection-oriented
     * socket aborts the connection (PFN_WSK_CLOSE_SOCKET, Remarks). */
    IoReuseIrp(Connection->CloseIrp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(Connection->CloseIrp, SampleCloseComplete, Connection, TRUE, TRUE, TRUE);
    Connection->Dispatch->WskCloseSocket(Connection->Socket, Connection->CloseIrp);
    /* Whatever it returned, the close completion routine runs: the context
     * must not be touched any more. */
}

static VOID SamplePostReceive(PSAMPLE_CONNECTION Connection, PSAMPLE_RECEIVE Receive)
{
    KIRQL irql;
    /* IoReuseIrp readies an IRP the driver allocated for another request
     * (IoReuseIrp, Remarks); the completion routine goes into the next
     * stack location, the only setup a WSK client does. */
    IoReuseIrp(Receive->Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(Receive->Irp, SampleReceiveComplete, Receive, TRUE, TRUE, TRUE);
    Receive->WskBuffer.Mdl = Receive->Mdl;
    Receive->WskBuffer.Offset = 0;
    Receive->WskBuffer.Length = SAMPLE_RECEIVE_SIZE;
    Receive->Sequence = Connection->NextPostSequence++;
    Receive->Completed = FALSE;
    KeAcquireSpinLock(&SampleLock, &irql);
    Receive->WithWsk = TRUE;
    KeReleaseSpinLock(&SampleLock, irql);
    /* No flags: complete as soon as some data is there (PFN_WSK_RECEIVE). */
    Connection->Dispatch->WskReceive(Connection->Socket, &Receive->WskBuffer, 0, Receive->Irp);
}

/* Copies the data into a send of its own and hands it to WSK without
 * waiting.  FALSE if out of memory. */
static BOOLEAN SampleSend(PSAMPLE_CONNECTION Connection, const UCHAR *Data, ULONG Length)
{
    KIRQL irql;
    PSAMPLE_SEND send =
        ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, sizeof(*send) + Length, SAMPLE_TAG);
    if (send == NULL)
        return FALSE;
    send->Connection = Connection;
    send->Irp = IoAllocateIrp(1, FALSE);
    send->Mdl = IoAllocateMdl(send->Data, Length, FALSE, FALSE, NULL);
    if (send->Irp == NULL || send->Mdl == NULL) {
        if (send->Irp != NULL)
            IoFreeIrp(send->Irp);
        if (send->Mdl != NULL)
            IoFreeMdl(send->Mdl);
        ExFreePoolWithTag(send, SAMPLE_TAG);
        return FALSE;
    }
    MmBuildMdlForNonPagedPool(send->Mdl);
    RtlCopyMemory(send->Data, Data, Length);
    send->WskBuffer.Mdl = send->Mdl;
    send->WskBuffer.Offset = 0;
    send->WskBuffer.Length = Length;
    IoSetCompletionRoutine(send->Irp, SampleSendComplete, send, TRUE, TRUE, TRUE);
    KeAcquireSpinLock(&SampleLock, &irql);
    Connection->SendsWithWsk++;
    KeReleaseSpinLock(&SampleLock, irql);
    Connection->BytesEchoed += Length;
    /* Several sends may be outstanding; WSK does not buffer, so each
     * completes when its data has gone (PFN_WSK_SEND, Remarks). */
    Connection->Dispatch->WskSend(Connection->Socket, &send->WskBuffer, 0, send->Irp);
    return TRUE;
}

static VOID SampleDisconnect(PSAMPLE_CONNECTION Connection)
{
    KIRQL irql;
    IoReuseIrp(Connection->DisconnectIrp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(Connection->DisconnectIrp, SampleDisconnectComplete, Connection, TRUE, TRUE, TRUE);
    KeAcquireSpinLock(&SampleLock, &irql);
    Connection->State = SampleDisconnecting;
    Connection->DisconnectWithWsk = TRUE;
    KeReleaseSpinLock(&SampleLock, irql);
    /* Graceful (no WSK_FLAG_ABORTIVE): the sends still outstanding go out
     * first, then the transport shuts down our direction; the IRP completes
     * when the disconnect is done (PFN_WSK_DISCONNECT, Remarks). */
    Connection->Dispatch->WskDisconnect(Connection->Socket, NULL, 0, Connection->DisconnectIrp);
}

/* Echoes completed receives in the order they were queued; stops at the
 * first one that has not completed yet. */
static VOID SampleEchoInOrder(PSAMPLE_CONNECTION Connection)
{
    while (Connection->State == SampleOpen) {
        PSAMPLE_RECEIVE receive = NULL;
        ULONG i;
        for (i = 0; i < SAMPLE_RECEIVES; i++) {
            PSAMPLE_RECEIVE r = &Connection->Receive[i];
            if (r->Completed && r->Sequence == Connection->NextEchoSequence)
                receive = r;
        }
        if (receive == NULL)
            return;
        receive->Completed = FALSE;
        Connection->NextEchoSequence++;
        if (!NT_SUCCESS(receive->Status)) {
            InterlockedIncrement(&SampleErrors);
            SampleClose(Connection);
        } else if (receive->Bytes == 0) {
            /* Success with no data: the peer has shut down its sending
             * side (PFN_WSK_RECEIVE).  The other receive completes the same
             * way and is not queued again. */
            InterlockedIncrement(&SampleGraceful);
            SampleDisconnect(Connection);
        } else if (!SampleSend(Connection, receive->Buffer, (ULONG)receive->Bytes)) {
            InterlockedIncrement(&SampleErrors);
            SampleClose(Connection);
        } else {
            SamplePostReceive(Connection, receive);
        }
    }
}

static VOID SampleDoControl(PSAMPLE_CONNECTION Connection, ULONG Flags)
{
    ULONG i;
    if (Connection->State == SampleClosing)
        return;
    if (Flags & SAMPLE_CONTROL_ABORT) {
        InterlockedIncrement(&SampleAborted);
        SampleClose(Connection);
    } else if (Flags & SAMPLE_CONTROL_SEND_FAILED) {
        InterlockedIncrement(&SampleErrors);
        SampleClose(Connection);
    } else if (Flags & SAMPLE_CONTROL_DISCONNECT_DONE) {
        /* Done or failed, the connection is finished either way. */
        if (!NT_SUCCESS(Connection->DisconnectStatus))
            InterlockedIncrement(&SampleErrors);
        SampleClose(Connection);
    } else if (Flags & SAMPLE_CONTROL_START) {
        for (i = 0; i < SAMPLE_RECEIVES; i++)
            SamplePostReceive(Connection, &Connection->Receive[i]);
    }
}

static VOID SampleWorkerThread(PVOID StartContext)
{
    UNREFERENCED_PARAMETER(StartContext);
    for (;;) {
        BOOLEAN stop = FALSE;
        KeWaitForSingleObject(&SampleWorkReady, Executive, KernelMode, FALSE, NULL);
        for (;;) {
            KIRQL irql;
            PSAMPLE_WORK work;
            ULONG flags = 0;
            KeAcquireSpinLock(&SampleLock, &irql);
            if (IsListEmpty(&SampleWorkQueue)) {
                stop = SampleWorkerStop;
                KeReleaseSpinLock(&SampleLock, irql);
                break;
            }
            work = CONTAINING_RECORD(RemoveHeadList(&SampleWorkQueue), SAMPLE_WORK, Link);
            work->Queued = FALSE;
            if (work->Kind == SampleWorkControl) {
                flags = work->Connection->ControlFlags;
                work->Connection->ControlFlags = 0;
            }
            KeReleaseSpinLock(&SampleLock, irql);
            if (work->Kind == SampleWorkControl) {
                SampleDoControl(work->Connection, flags);
            } else {
                PSAMPLE_RECEIVE receive = CONTAINING_RECORD(work, SAMPLE_RECEIVE, Work);
                receive->Completed = TRUE;
                SampleEchoInOrder(work->Connection);
            }
        }
        if (stop)
            break;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* ---- listening ---- */

/* WskAcceptEvent runs at IRQL <= DISPATCH_LEVEL and must not wait
 * (PFN_WSK_ACCEPT_EVENT, Remarks): allocate, queue, return. */
static NTSTATUS WSKAPI SampleAcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                         PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                         PVOID *AcceptSocketContext,
                                         const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    PSAMPLE_CONNECTION connection;
    KIRQL irql;
    BOOLEAN wake;
    UNREFERENCED_PARAMETER(SocketContext);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(LocalAddress);
    UNREFERENCED_PARAMETER(RemoteAddress);

    /* A NULL socket says the listening socket no longer works
     * (PFN_WSK_ACCEPT_EVENT, Parameters). */
    if (AcceptSocket == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    connection = SampleAllocateConnection(AcceptSocket);
    if (connection == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED; /* WSK closes the socket */
    KeAcquireSpinLock(&SampleLock, &irql);
    InsertTailList(&SampleConnections, &connection->Link);
    SampleLive++;
    connection->ControlFlags = SAMPLE_CONTROL_START;
    wake = SampleQueueLocked(&connection->Control);
    KeReleaseSpinLock(&SampleLock, irql);
    InterlockedIncrement(&SampleAccepted);
    if (wake)
        SampleWake();
    *AcceptSocketContext = connection;
    /* No event callbacks on the connection: it is driven by IRPs alone. */
    *AcceptSocketDispatch = NULL;
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH SampleListenDispatch = {SampleAcceptEvent, NULL, NULL};

/* Waits for an IRP the driver set up with SampleSyncIrp. */
static NTSTATUS SampleSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP SampleSyncIrp(PIRP Irp, PKEVENT Event)
{
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(Event);
    IoSetCompletionRoutine(Irp, SampleSignal, Event, TRUE, TRUE, TRUE);
    return Irp;
}

static NTSTATUS SampleSyncWait(NTSTATUS Status, PIRP Irp, PKEVENT Event)
{
    if (Status == STATUS_PENDING) {
        KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
        Status = Irp->IoStatus.Status;
    }
    return Status;
}

static NTSTATUS SampleStartListening(VOID)
{
    const WSK_PROVIDER_LISTEN_DISPATCH *dispatch;
    WSK_EVENT_CALLBACK_CONTROL callback;
    SOCKADDR_IN6 address;
    ULONG v6only = 0;
    KEVENT event;
    NTSTATUS status;
    PIRP irp = IoAllocateIrp(1, FALSE);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&event, NotificationEvent, FALSE);

    status = SampleSyncWait(SampleProvider.Dispatch->WskSocket(SampleProvider.Client, AF_INET6, SOCK_STREAM,
                                                               IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL,
                                                               &SampleListenDispatch, NULL, NULL, NULL,
                                                               SampleSyncIrp(irp, &event)),
                            irp, &event);
    if (!NT_SUCCESS(status))
        goto out;
    SampleListener = (PWSK_SOCKET)irp->IoStatus.Information;
    dispatch = SampleListener->Dispatch;

    /* IPv4 peers too, as v4-mapped addresses; must be set before the bind
     * ("Dual-Stack Sockets"). */
    status = SampleSyncWait(dispatch->WskControlSocket(SampleListener, WskSetOption, IPV6_V6ONLY, IPPROTO_IPV6,
                                                       sizeof(v6only), &v6only, 0, NULL, NULL,
                                                       SampleSyncIrp(irp, &event)),
                            irp, &event);
    if (!NT_SUCCESS(status))
        goto out;

    RtlZeroMemory(&address, sizeof(address));
    address.sin6_family = AF_INET6;
    address.sin6_port = RtlUshortByteSwap(SamplePort);
    /* A listening socket listens once it is bound ("Listening for and
     * Accepting Incoming Connections"). */
    status = SampleSyncWait(dispatch->WskBind(SampleListener, (PSOCKADDR)&address, 0, SampleSyncIrp(irp, &event)),
                            irp, &event);
    if (!NT_SUCCESS(status))
        goto out;

    /* Listening sockets may enable events only after the bind; enabling
     * takes no IRP (SO_WSK_EVENT_CALLBACK). */
    callback.NpiId = &NPI_WSK_INTERFACE_ID;
    callback.EventMask = WSK_EVENT_ACCEPT;
    status = dispatch->WskControlSocket(SampleListener, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                                        sizeof(callback), &callback, 0, NULL, NULL, NULL);
    if (!NT_SUCCESS(status))
        goto out;

    status = SampleSyncWait(dispatch->WskGetLocalAddress(SampleListener, (PSOCKADDR)&address,
                                                         SampleSyncIrp(irp, &event)),
                            irp, &event);
    if (NT_SUCCESS(status))
        SamplePort = RtlUshortByteSwap(address.sin6_port);
out:
    IoFreeIrp(irp);
    return status;
}

static VOID SampleCloseListener(VOID)
{
    KEVENT event;
    PIRP irp;
    if (SampleListener == NULL)
        return;
    irp = IoAllocateIrp(1, FALSE);
    if (irp == NULL) {
        /* Cannot happen on a healthy system; without the close WskDeregister
         * would wait forever, so stop here. */
        KeBugCheckEx(0xDEAD0001, (ULONG_PTR)SampleListener, 0, 0, 0);
    }
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    /* After the close has completed, WskAcceptEvent is no longer called
     * (PFN_WSK_CLOSE_SOCKET, Remarks). */
    SampleSyncWait(((const WSK_PROVIDER_LISTEN_DISPATCH *)SampleListener->Dispatch)
                       ->WskCloseSocket(SampleListener, SampleSyncIrp(irp, &event)),
                   irp, &event);
    IoFreeIrp(irp);
    SampleListener = NULL;
}

static VOID SampleUnload(PDRIVER_OBJECT DriverObject)
{
    KIRQL irql;
    PLIST_ENTRY entry;
    BOOLEAN wait, wake = FALSE;
    UNREFERENCED_PARAMETER(DriverObject);

    /* 1. Stop accepting. */
    SampleCloseListener();

    /* 2. Have the worker close every connection still open. */
    KeAcquireSpinLock(&SampleLock, &irql);
    SampleStopping = TRUE;
    for (entry = SampleConnections.Flink; entry != &SampleConnections; entry = entry->Flink) {
        PSAMPLE_CONNECTION connection = CONTAINING_RECORD(entry, SAMPLE_CONNECTION, Link);
        if (connection->State != SampleClosing) {
            connection->ControlFlags |= SAMPLE_CONTROL_ABORT;
            wake |= SampleQueueLocked(&connection->Control);
        }
    }
    wait = SampleLive != 0;
    KeReleaseSpinLock(&SampleLock, irql);
    if (wake)
        SampleWake();

    /* 3. Wait for the last close to complete. */
    if (wait)
        KeWaitForSingleObject(&SampleAllClosed, Executive, KernelMode, FALSE, NULL);

    /* 4. Stop the worker. */
    if (SampleWorker != NULL) {
        KeAcquireSpinLock(&SampleLock, &irql);
        SampleWorkerStop = TRUE;
        KeReleaseSpinLock(&SampleLock, irql);
        SampleWake();
        KeWaitForSingleObject(SampleWorker, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(SampleWorker);
        SampleWorker = NULL;
    }

    /* 5. Give WSK back: WskDeregister returns once every socket is closed
     * and the provider NPI released (WskDeregister, Remarks). */
    if (SampleCaptured)
        WskReleaseProviderNPI(&SampleRegistration);
    if (SampleRegistered)
        WskDeregister(&SampleRegistration);
    SampleCaptured = SampleRegistered = FALSE;
    DbgPrint("echo_sample: unloaded: %ld connections, %ld graceful, %ld errors, %ld closed at unload, "
             "%I64d bytes echoed\n",
             SampleAccepted, SampleGraceful, SampleErrors, SampleAborted, SampleBytes);
}

/* Parameters\Port under the driver's service key. */
static NTSTATUS SampleReadPort(PUNICODE_STRING RegistryPath)
{
    static const WCHAR suffix[] = L"\\Parameters";
    UNICODE_STRING path, name;
    OBJECT_ATTRIBUTES attributes;
    HANDLE key;
    UCHAR buffer[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + sizeof(ULONG)];
    PKEY_VALUE_PARTIAL_INFORMATION value = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
    ULONG length, port;
    NTSTATUS status;

    SamplePort = 0;
    path.Length = 0;
    path.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
    path.Buffer = ExAllocatePool2(POOL_FLAG_PAGED, path.MaximumLength, SAMPLE_TAG);
    if (path.Buffer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlCopyUnicodeString(&path, RegistryPath);
    RtlAppendUnicodeToString(&path, suffix);
    InitializeObjectAttributes(&attributes, &path, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwOpenKey(&key, KEY_READ, &attributes);
    ExFreePoolWithTag(path.Buffer, SAMPLE_TAG);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND)
        return STATUS_SUCCESS; /* no Parameters key: any port */
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&name, L"Port");
    status = ZwQueryValueKey(key, &name, KeyValuePartialInformation, value, sizeof(buffer), &length);
    ZwClose(key);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND)
        return STATUS_SUCCESS;
    if (!NT_SUCCESS(status))
        return status;
    if (value->Type != REG_DWORD || value->DataLength != sizeof(ULONG))
        return STATUS_INVALID_PARAMETER;
    RtlCopyMemory(&port, value->Data, sizeof(ULONG));
    if (port > 65535)
        return STATUS_INVALID_PARAMETER;
    SamplePort = (USHORT)port;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi;
    HANDLE thread;
    NTSTATUS status;

    KeInitializeSpinLock(&SampleLock);
    InitializeListHead(&SampleWorkQueue);
    InitializeListHead(&SampleConnections);
    KeInitializeEvent(&SampleWorkReady, SynchronizationEvent, FALSE);
    KeInitializeEvent(&SampleAllClosed, NotificationEvent, FALSE);

    status = SampleReadPort(RegistryPath);
    if (!NT_SUCCESS(status)) {
        DbgPrint("echo_sample: bad Parameters\\Port: 0x%08X\n", status);
        return status;
    }

    npi.ClientContext = NULL;
    npi.Dispatch = &SampleClientDispatch;
    status = WskRegister(&npi, &SampleRegistration);
    if (!NT_SUCCESS(status))
        return status;
    SampleRegistered = TRUE;
    /* A bounded wait: DriverEntry should not block indefinitely
     * ("Registering a Winsock Kernel Application"). */
    status = WskCaptureProviderNPI(&SampleRegistration, 10000, &SampleProvider);
    if (NT_SUCCESS(status))
        SampleCaptured = TRUE;

    if (NT_SUCCESS(status))
        status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, SampleWorkerThread, NULL);
    if (NT_SUCCESS(status)) {
        /* Keep a pointer to wait on at unload, then drop the handle. */
        status = ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &SampleWorker,
                                           NULL);
        ZwClose(thread);
    }
    if (NT_SUCCESS(status))
        status = SampleStartListening();
    if (!NT_SUCCESS(status)) {
        DbgPrint("echo_sample: cannot start on port %u: 0x%08X\n", SamplePort, status);
        SampleUnload(DriverObject);
        return status;
    }
    DriverObject->DriverUnload = SampleUnload;
    DbgPrint("echo_sample: listening on [::]:%u (dual stack), port %u\n", SamplePort, SamplePort);
    return STATUS_SUCCESS;
}
