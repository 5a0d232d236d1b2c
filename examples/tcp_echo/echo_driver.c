/*
 * echo_driver.c - a TCP echo server written as a WSK driver.
 *
 * DriverEntry registers with WSK, creates a dual-stack listen socket on
 * [::]:EchoPort (0 = any; the port chosen is left in EchoPort), and starts
 * a system thread that accepts connections and echoes each one until the
 * peer closes.  DriverUnload closes the listener (which cancels the pending
 * WskAccept), waits for the thread and deregisters.  Every call uses the
 * usual IRP + completion routine + event pattern.
 */
#include <ntddk.h>
#include <wsk.h>

#define ECHO_TAG 'ohcE'
#define ECHO_BUFFER_SIZE 4096

USHORT EchoPort; /* in: the port to listen on (host order); out: the port used */

static WSK_REGISTRATION EchoRegistration;
static WSK_PROVIDER_NPI EchoProvider;
static const WSK_CLIENT_DISPATCH EchoClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static PWSK_SOCKET EchoListener;
static PETHREAD EchoThread;
/* Orders the accept loop's WskAccept calls against DriverUnload's
 * WskCloseSocket: WSK forbids calling into a socket once its close began. */
static KSPIN_LOCK EchoLock;
static BOOLEAN EchoStopping;

static NTSTATUS EchoSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PKEVENT Event)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(Event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Arms the IRP, lets `status` be the call's return value, waits if it pended. */
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

static VOID EchoConnection(PWSK_SOCKET Socket, PIRP Irp, PKEVENT Event, PVOID Buffer, PMDL Mdl)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch = Socket->Dispatch;
    NTSTATUS status;
    for (;;) {
        WSK_BUF buf = {Mdl, 0, ECHO_BUFFER_SIZE};
        status = EchoWait(dispatch->WskReceive(Socket, &buf, 0, EchoArm(Irp, Event)), Irp, Event);
        if (!NT_SUCCESS(status) || Irp->IoStatus.Information == 0)
            break; /* error, or the peer closed */
        buf.Length = Irp->IoStatus.Information;
        status = EchoWait(dispatch->WskSend(Socket, &buf, 0, EchoArm(Irp, Event)), Irp, Event);
        if (!NT_SUCCESS(status))
            break;
    }
    UNREFERENCED_PARAMETER(Buffer);
    EchoWait(dispatch->WskDisconnect(Socket, NULL, 0, EchoArm(Irp, Event)), Irp, Event);
    EchoWait(dispatch->WskCloseSocket(Socket, EchoArm(Irp, Event)), Irp, Event);
}

_Function_class_(KSTART_ROUTINE) static VOID EchoAcceptLoop(PVOID Context)
{
    KEVENT event;
    PIRP irp = IoAllocateIrp(1, FALSE);
    PVOID buffer = ExAllocatePoolWithTag(NonPagedPoolNx, ECHO_BUFFER_SIZE, ECHO_TAG);
    PMDL mdl = buffer ? IoAllocateMdl(buffer, ECHO_BUFFER_SIZE, FALSE, FALSE, NULL) : NULL;
    UNREFERENCED_PARAMETER(Context);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (irp != NULL && mdl != NULL) {
        MmBuildMdlForNonPagedPool(mdl);
        const WSK_PROVIDER_LISTEN_DISPATCH *listen = EchoListener->Dispatch;
        for (;;) {
            KIRQL irql;
            NTSTATUS status = STATUS_CANCELLED;
            KeAcquireSpinLock(&EchoLock, &irql);
            if (!EchoStopping)
                status = listen->WskAccept(EchoListener, 0, NULL, NULL, NULL, NULL, EchoArm(irp, &event));
            KeReleaseSpinLock(&EchoLock, irql);
            status = EchoWait(status, irp, &event);
            if (!NT_SUCCESS(status)) {
                DbgPrint("echo: accept loop ends: 0x%08X\n", status);
                break; /* STATUS_CANCELLED when the driver unloads */
            }
            EchoConnection((PWSK_SOCKET)irp->IoStatus.Information, irp, &event, buffer, mdl);
        }
    }
    if (mdl)
        IoFreeMdl(mdl);
    if (buffer)
        ExFreePoolWithTag(buffer, ECHO_TAG);
    if (irp)
        IoFreeIrp(irp);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

VOID DriverUnload(PDRIVER_OBJECT DriverObject)
{
    KEVENT event;
    PIRP irp = IoAllocateIrp(1, FALSE);
    UNREFERENCED_PARAMETER(DriverObject);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (EchoListener != NULL) {
        const WSK_PROVIDER_LISTEN_DISPATCH *listen = EchoListener->Dispatch;
        KIRQL irql;
        KeAcquireSpinLock(&EchoLock, &irql);
        EchoStopping = TRUE;
        NTSTATUS status = listen->WskCloseSocket(EchoListener, EchoArm(irp, &event)); /* cancels a pending accept */
        KeReleaseSpinLock(&EchoLock, irql);
        EchoWait(status, irp, &event);
    }
    if (EchoThread != NULL) {
        KeWaitForSingleObject(EchoThread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(EchoThread);
    }
    IoFreeIrp(irp);
    WskReleaseProviderNPI(&EchoRegistration);
    WskDeregister(&EchoRegistration);
    DbgPrint("echo: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi = {NULL, &EchoClientDispatch};
    NTSTATUS status;
    KEVENT event;
    PIRP irp;
    HANDLE thread;
    UNREFERENCED_PARAMETER(RegistryPath);

    KeInitializeSpinLock(&EchoLock);
    status = WskRegister(&npi, &EchoRegistration);
    if (!NT_SUCCESS(status))
        return status;
    status = WskCaptureProviderNPI(&EchoRegistration, WSK_INFINITE_WAIT, &EchoProvider);
    if (!NT_SUCCESS(status)) {
        WskDeregister(&EchoRegistration);
        return status;
    }
    DriverObject->DriverUnload = DriverUnload;
    irp = IoAllocateIrp(1, FALSE);
    if (irp == NULL) {
        DriverUnload(DriverObject);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    KeInitializeEvent(&event, NotificationEvent, FALSE);

    status = EchoWait(EchoProvider.Dispatch->WskSocket(EchoProvider.Client, AF_INET6, SOCK_STREAM, IPPROTO_TCP,
                                                       WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                                       EchoArm(irp, &event)),
                      irp, &event);
    if (NT_SUCCESS(status)) {
        ULONG v6only = 0; /* accept IPv4 peers too, as v4-mapped addresses */
        EchoListener = (PWSK_SOCKET)irp->IoStatus.Information;
        const WSK_PROVIDER_LISTEN_DISPATCH *listen = EchoListener->Dispatch;
        status = EchoWait(listen->WskControlSocket(EchoListener, WskSetOption, IPV6_V6ONLY, IPPROTO_IPV6,
                                                   sizeof(v6only), &v6only, 0, NULL, NULL, EchoArm(irp, &event)),
                          irp, &event);
        if (NT_SUCCESS(status)) {
            SOCKADDR_IN6 any = {0};
            any.sin6_family = AF_INET6;
            any.sin6_port = RtlUshortByteSwap(EchoPort);
            status = EchoWait(listen->WskBind(EchoListener, (PSOCKADDR)&any, 0, EchoArm(irp, &event)), irp, &event);
        }
        if (NT_SUCCESS(status)) {
            SOCKADDR_IN6 local;
            status = EchoWait(listen->WskGetLocalAddress(EchoListener, (PSOCKADDR)&local, EchoArm(irp, &event)), irp,
                              &event);
            EchoPort = RtlUshortByteSwap(local.sin6_port);
        }
    }
    if (NT_SUCCESS(status))
        status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, EchoAcceptLoop, NULL);
    if (NT_SUCCESS(status)) {
        ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &EchoThread, NULL);
        ZwClose(thread);
        DbgPrint("echo: listening on [::]:%u (dual stack)\n", EchoPort);
    }
    IoFreeIrp(irp);
    if (!NT_SUCCESS(status))
        DriverUnload(DriverObject);
    return status;
}
