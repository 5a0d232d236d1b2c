/*
 * udp_echo_driver.c - a UDP echo server written as a WSK driver.
 *
 * DriverEntry reads Parameters\Port (REG_DWORD; 0 or absent: any port),
 * opens a dual-stack datagram socket on [::]:Port and enables
 * WskReceiveFromEvent.  Each indicated datagram is sent back to its sender
 * straight from the provider's buffer: the callback keeps the indication
 * (STATUS_PENDING), starts WskSendTo, and the send's completion routine
 * hands the indication back with WskRelease — no copy.  DriverUnload
 * disables the event, waits for the sends still in flight, then closes.
 */
#include <ntddk.h>
#include <wsk.h>

#define UDP_ECHO_TAG 'ohcU'

typedef struct _UDP_ECHO_SEND {
    PWSK_DATAGRAM_INDICATION Indication; /* retained until the send completes */
    PIRP Irp;
} UDP_ECHO_SEND, *PUDP_ECHO_SEND;

static WSK_REGISTRATION UdpRegistration;
static WSK_PROVIDER_NPI UdpProvider;
static const WSK_CLIENT_DISPATCH UdpClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static PWSK_SOCKET UdpSocket;
static USHORT UdpPort;
static volatile LONG UdpSendsInFlight = 1; /* 1: the driver's own reference, dropped by DriverUnload */
static KEVENT UdpSendsDone;

static VOID UdpSendFinished(VOID)
{
    if (InterlockedDecrement(&UdpSendsInFlight) == 0)
        KeSetEvent(&UdpSendsDone, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS UdpEchoSent(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PUDP_ECHO_SEND send = Context;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dispatch = UdpSocket->Dispatch;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (!NT_SUCCESS(Irp->IoStatus.Status))
        DbgPrint("udp_echo: WskSendTo failed: 0x%08X\n", Irp->IoStatus.Status);
    dispatch->WskRelease(UdpSocket, send->Indication);
    IoFreeIrp(Irp);
    ExFreePoolWithTag(send, UDP_ECHO_TAG);
    UdpSendFinished();
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* DISPATCH_LEVEL.  Every datagram of the list is echoed and released on
 * its own, so each is cut from the list before it is sent; the whole list
 * is kept (STATUS_PENDING), and what cannot be echoed is released here. */
static NTSTATUS WSKAPI UdpReceiveFromEvent(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dispatch = UdpSocket->Dispatch;
    PWSK_DATAGRAM_INDICATION next, dropped = NULL;
    UNREFERENCED_PARAMETER(SocketContext);
    UNREFERENCED_PARAMETER(Flags);
    if (DataIndication == NULL)
        return STATUS_SUCCESS; /* the socket is going away */
    for (; DataIndication != NULL; DataIndication = next) {
        PUDP_ECHO_SEND send = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*send), UDP_ECHO_TAG);
        PIRP irp = send != NULL ? IoAllocateIrp(1, FALSE) : NULL;
        next = DataIndication->Next;
        if (irp == NULL) {
            /* Out of memory: this datagram is dropped, as UDP may drop it. */
            if (send != NULL)
                ExFreePoolWithTag(send, UDP_ECHO_TAG);
            DataIndication->Next = dropped;
            dropped = DataIndication;
            continue;
        }
        DataIndication->Next = NULL;
        send->Indication = DataIndication;
        send->Irp = irp;
        InterlockedIncrement(&UdpSendsInFlight);
        IoSetCompletionRoutine(irp, UdpEchoSent, send, TRUE, TRUE, TRUE);
        dispatch->WskSendTo(UdpSocket, &DataIndication->Buffer, 0, DataIndication->RemoteAddress, 0, NULL, irp);
    }
    if (dropped != NULL)
        dispatch->WskRelease(UdpSocket, dropped);
    return STATUS_PENDING;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH UdpDatagramDispatch = {UdpReceiveFromEvent};

static NTSTATUS UdpSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Event)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP UdpArm(PIRP Irp, PKEVENT Event)
{
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(Event);
    IoSetCompletionRoutine(Irp, UdpSignal, Event, TRUE, TRUE, TRUE);
    return Irp;
}

static NTSTATUS UdpWait(NTSTATUS Status, PIRP Irp, PKEVENT Event)
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
    PIRP irp = IoAllocateIrp(1, FALSE);
    UNREFERENCED_PARAMETER(DriverObject);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (UdpSocket != NULL && irp != NULL) {
        const WSK_PROVIDER_DATAGRAM_DISPATCH *dispatch = UdpSocket->Dispatch;
        WSK_EVENT_CALLBACK_CONTROL off = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE_FROM};
        /* Completes once no WskReceiveFromEvent is running any more. */
        UdpWait(dispatch->WskControlSocket(UdpSocket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(off),
                                           &off, 0, NULL, NULL, UdpArm(irp, &event)),
                irp, &event);
        UdpSendFinished(); /* the driver's own reference */
        KeWaitForSingleObject(&UdpSendsDone, Executive, KernelMode, FALSE, NULL);
        UdpWait(dispatch->WskCloseSocket(UdpSocket, UdpArm(irp, &event)), irp, &event);
    }
    if (irp != NULL)
        IoFreeIrp(irp);
    WskReleaseProviderNPI(&UdpRegistration);
    WskDeregister(&UdpRegistration);
    DbgPrint("udp_echo: unloaded\n");
}

static NTSTATUS UdpReadPort(PUNICODE_STRING RegistryPath)
{
    OBJECT_ATTRIBUTES attributes;
    UNICODE_STRING parameters, port;
    HANDLE service, key;
    UCHAR buffer[FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + sizeof(ULONG)];
    PKEY_VALUE_PARTIAL_INFORMATION value = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
    ULONG length;
    NTSTATUS status;
    /* The ZwOpenKey / ZwQueryValueKey way (echo_driver.c shows RtlQueryRegistryValues). */
    InitializeObjectAttributes(&attributes, RegistryPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwOpenKey(&service, KEY_READ, &attributes);
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&parameters, L"Parameters");
    InitializeObjectAttributes(&attributes, &parameters, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, service, NULL);
    status = ZwOpenKey(&key, KEY_READ, &attributes);
    ZwClose(service);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND)
        return STATUS_SUCCESS; /* no parameters: any port */
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&port, L"Port");
    status = ZwQueryValueKey(key, &port, KeyValuePartialInformation, value, sizeof(buffer), &length);
    ZwClose(key);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND)
        return STATUS_SUCCESS;
    if (!NT_SUCCESS(status) || value->Type != REG_DWORD || value->DataLength != sizeof(ULONG) ||
        *(ULONG *)value->Data > 65535)
        return NT_SUCCESS(status) ? STATUS_INVALID_PARAMETER : status;
    UdpPort = (USHORT)*(ULONG *)value->Data;
    return STATUS_SUCCESS;
}

static NTSTATUS UdpOpen(PIRP Irp, PKEVENT Event)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dispatch;
    WSK_EVENT_CALLBACK_CONTROL on = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    SOCKADDR_IN6 address;
    ULONG v6only = 0; /* IPv4 senders too, as v4-mapped addresses */
    NTSTATUS status = UdpWait(UdpProvider.Dispatch->WskSocket(UdpProvider.Client, AF_INET6, SOCK_DGRAM, IPPROTO_UDP,
                                                              WSK_FLAG_DATAGRAM_SOCKET, NULL, &UdpDatagramDispatch,
                                                              NULL, NULL, NULL, UdpArm(Irp, Event)),
                              Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    UdpSocket = (PWSK_SOCKET)Irp->IoStatus.Information;
    dispatch = UdpSocket->Dispatch;
    status = UdpWait(dispatch->WskControlSocket(UdpSocket, WskSetOption, IPV6_V6ONLY, IPPROTO_IPV6, sizeof(v6only),
                                                &v6only, 0, NULL, NULL, UdpArm(Irp, Event)),
                     Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    RtlZeroMemory(&address, sizeof(address));
    address.sin6_family = AF_INET6;
    address.sin6_port = RtlUshortByteSwap(UdpPort);
    status = UdpWait(dispatch->WskBind(UdpSocket, (PSOCKADDR)&address, 0, UdpArm(Irp, Event)), Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    status = UdpWait(dispatch->WskGetLocalAddress(UdpSocket, (PSOCKADDR)&address, UdpArm(Irp, Event)), Irp, Event);
    if (!NT_SUCCESS(status))
        return status;
    UdpPort = RtlUshortByteSwap(address.sin6_port);
    /* Enabled once bound (a datagram socket has no receive before that). */
    return UdpWait(dispatch->WskControlSocket(UdpSocket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(on),
                                              &on, 0, NULL, NULL, UdpArm(Irp, Event)),
                   Irp, Event);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi = {NULL, &UdpClientDispatch};
    NTSTATUS status;
    KEVENT event;
    PIRP irp;

    KeInitializeEvent(&UdpSendsDone, NotificationEvent, FALSE);
    status = UdpReadPort(RegistryPath);
    if (!NT_SUCCESS(status))
        return status;
    status = WskRegister(&npi, &UdpRegistration);
    if (!NT_SUCCESS(status))
        return status;
    status = WskCaptureProviderNPI(&UdpRegistration, WSK_INFINITE_WAIT, &UdpProvider);
    if (!NT_SUCCESS(status)) {
        WskDeregister(&UdpRegistration);
        return status;
    }
    DriverObject->DriverUnload = DriverUnload;
    irp = IoAllocateIrp(1, FALSE);
    if (irp == NULL) {
        DriverUnload(DriverObject);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    status = UdpOpen(irp, &event);
    IoFreeIrp(irp);
    if (!NT_SUCCESS(status)) {
        DbgPrint("udp_echo: cannot serve on port %u: 0x%08X\n", UdpPort, status);
        DriverUnload(DriverObject);
        return status;
    }
    DbgPrint("udp_echo: listening on [::]:%u (dual stack), port %u\n", UdpPort, UdpPort);
    return STATUS_SUCCESS;
}
