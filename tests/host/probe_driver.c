/*
 * probe_driver.c - a driver for testing wskhost itself (test_wskhost.sh).
 *
 * Parameters\Mode chooses what it does:
 *   serve     (default) print what the host gave it (names, RegistryPath,
 *             parameters of each registry type), exchange a UDP datagram
 *             between two of its own WSK sockets, unload cleanly;
 *   leak      keep a pool allocation and an IRP past DriverUnload;
 *   nodereg   unload without WskDeregister;
 *   fail      DriverEntry fails with STATUS_DEVICE_CONFIGURATION_ERROR;
 *   nounload  set no DriverUnload;
 *   thread    run a system thread that DriverUnload stops and waits for,
 *             and that ends with PsTerminateSystemThread from a nested
 *             call: the host unmaps the driver right after the wait;
 *   sockets   open Count WSK datagram sockets at once, say how many it
 *             got, close them (a server driver holds thousands);
 *   timer     run a 1 ms periodic timer with a DPC, and leave it set at
 *             DriverUnload (Windows: bug check 0xCE once it fires);
 *   timerok   the same timer, cancelled and flushed by DriverUnload;
 *   irqlbug   allocate paged pool while holding a spin lock in DriverEntry:
 *             runs on Windows without Driver Verifier, caught by
 *             wskhost --verify irql (rule IrqlExAllocatePool).
 * It also defines functions named like the libc socket calls the runtime
 * makes (socket, bind, connect, sendmsg, recvmsg, close): the runtime must
 * never call them, and the driver's own calls must reach its own.
 */
#include <ntddk.h>
#include <wsk.h>

/* WPP tracing, as a WDK driver sets it up; openwsk_add_driver(... WPP ...)
 * generates the .tmh. */
#define WPP_CONTROL_GUIDS                                                                \
    WPP_DEFINE_CONTROL_GUID(ProbeTrace, (0c4bd0e2, 5a6f, 4e21, 8b3d, 7f10a2c4e955),      \
                            WPP_DEFINE_BIT(TRACE_DRIVER))
#include "probe_driver.tmh"

#define PROBE_TAG 'borP'

/* Same names as libc's, different meaning: all hidden inside the module. */
int socket(int a, int b, int c)
{
    UNREFERENCED_PARAMETER(a);
    UNREFERENCED_PARAMETER(b);
    UNREFERENCED_PARAMETER(c);
    return -77;
}
int bind(int a) { UNREFERENCED_PARAMETER(a); return -77; }
int connect(void) { return 4242; }
long sendmsg(int a) { UNREFERENCED_PARAMETER(a); return -77; }
long recvmsg(int a) { UNREFERENCED_PARAMETER(a); return -77; }
int close(int a) { UNREFERENCED_PARAMETER(a); return -77; }

static WSK_REGISTRATION ProbeRegistration;
static WSK_PROVIDER_NPI ProbeProvider;
static const WSK_CLIENT_DISPATCH ProbeClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WCHAR ProbeModeBuffer[32];
static UNICODE_STRING ProbeMode = {0, sizeof(ProbeModeBuffer), ProbeModeBuffer};
static ULONG ProbeCount; /* Parameters\Count */
static PVOID ProbeLeak;
static PIRP ProbeLeakedIrp;
static PETHREAD ProbeThread;
static KEVENT ProbeStop;
static KTIMER ProbeTimer;
static KDPC ProbeTimerDpc;
static volatile LONG ProbeTimerFires;

static VOID ProbeTimerRoutine(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    InterlockedIncrement(&ProbeTimerFires);
}

static DECLSPEC_NOINLINE VOID ProbeThreadEnd(ULONG Depth)
{
    if (Depth > 0)
        ProbeThreadEnd(Depth - 1);
    PsTerminateSystemThread(STATUS_SUCCESS); /* does not return */
}

static VOID ProbeThreadRoutine(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&ProbeStop, Executive, KernelMode, FALSE, NULL);
    ProbeThreadEnd(8);
}

static BOOLEAN ModeIs(PCWSTR Name)
{
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, Name);
    return RtlEqualUnicodeString(&ProbeMode, &name, TRUE);
}

static NTSTATUS ProbeSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Event)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP ProbeArm(PIRP Irp, PKEVENT Event)
{
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(Event);
    IoSetCompletionRoutine(Irp, ProbeSignal, Event, TRUE, TRUE, TRUE);
    return Irp;
}

static NTSTATUS ProbeWait(NTSTATUS Status, PIRP Irp, PKEVENT Event)
{
    if (Status == STATUS_PENDING) {
        KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
        Status = Irp->IoStatus.Status;
    }
    return Status;
}

static PWSK_SOCKET ProbeUdpSocket(PIRP Irp, PKEVENT Event, USHORT *Port)
{
    SOCKADDR_IN address = {0};
    PWSK_SOCKET socket;
    NTSTATUS status = ProbeWait(ProbeProvider.Dispatch->WskSocket(ProbeProvider.Client, AF_INET, SOCK_DGRAM,
                                                                  IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL,
                                                                  NULL, NULL, NULL, ProbeArm(Irp, Event)),
                                Irp, Event);
    if (!NT_SUCCESS(status))
        return NULL;
    socket = (PWSK_SOCKET)Irp->IoStatus.Information;
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = socket->Dispatch;
    status = ProbeWait(d->WskBind(socket, (PSOCKADDR)&address, 0, ProbeArm(Irp, Event)), Irp, Event);
    if (NT_SUCCESS(status))
        status = ProbeWait(d->WskGetLocalAddress(socket, (PSOCKADDR)&address, ProbeArm(Irp, Event)), Irp, Event);
    *Port = RtlUshortByteSwap(address.sin_port);
    if (!NT_SUCCESS(status)) {
        ProbeWait(d->WskCloseSocket(socket, ProbeArm(Irp, Event)), Irp, Event);
        return NULL;
    }
    return socket;
}

/* One datagram from one of our sockets to the other, through the runtime's
 * real sendmsg/recvmsg, never the driver's functions of the same name. */
static NTSTATUS ProbeExchange(VOID)
{
    KEVENT event;
    PIRP irp = IoAllocateIrp(1, FALSE);
    UCHAR out[8] = "probe!!", in[16] = {0};
    PMDL out_mdl = IoAllocateMdl(out, sizeof(out), FALSE, FALSE, NULL);
    PMDL in_mdl = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    USHORT a_port = 0, b_port = 0;
    NTSTATUS status = STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (irp != NULL && out_mdl != NULL && in_mdl != NULL) {
        PWSK_SOCKET a, b;
        MmBuildMdlForNonPagedPool(out_mdl);
        MmBuildMdlForNonPagedPool(in_mdl);
        a = ProbeUdpSocket(irp, &event, &a_port);
        b = a != NULL ? ProbeUdpSocket(irp, &event, &b_port) : NULL;
        status = STATUS_UNSUCCESSFUL;
        if (b != NULL) {
            const WSK_PROVIDER_DATAGRAM_DISPATCH *d = a->Dispatch;
            SOCKADDR_IN to = {0};
            WSK_BUF send = {out_mdl, 0, sizeof(out)}, receive = {in_mdl, 0, sizeof(in)};
            to.sin_family = AF_INET;
            to.sin_port = RtlUshortByteSwap(b_port);
            to.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001);
            status = ProbeWait(d->WskSendTo(a, &send, 0, (PSOCKADDR)&to, 0, NULL, ProbeArm(irp, &event)), irp, &event);
            if (NT_SUCCESS(status))
                status = ProbeWait(d->WskReceiveFrom(b, &receive, 0, NULL, NULL, NULL, NULL, ProbeArm(irp, &event)),
                                   irp, &event);
            if (NT_SUCCESS(status) && (irp->IoStatus.Information != sizeof(out) || RtlCompareMemory(in, out, 8) != 8))
                status = STATUS_DATA_ERROR;
        }
        if (b != NULL)
            ProbeWait(((const WSK_PROVIDER_DATAGRAM_DISPATCH *)b->Dispatch)->WskCloseSocket(b, ProbeArm(irp, &event)),
                      irp, &event);
        if (a != NULL)
            ProbeWait(((const WSK_PROVIDER_DATAGRAM_DISPATCH *)a->Dispatch)->WskCloseSocket(a, ProbeArm(irp, &event)),
                      irp, &event);
    }
    if (in_mdl != NULL)
        IoFreeMdl(in_mdl);
    if (out_mdl != NULL)
        IoFreeMdl(out_mdl);
    if (irp != NULL)
        IoFreeIrp(irp);
    return status;
}

/* Count sockets open at the same time, then all closed. */
static VOID ProbeManySockets(ULONG Count)
{
    KEVENT event;
    PIRP irp = IoAllocateIrp(1, FALSE);
    PWSK_SOCKET *sockets = ExAllocatePoolZero(NonPagedPoolNx, (SIZE_T)Count * sizeof(PWSK_SOCKET) + 1, PROBE_TAG);
    NTSTATUS status = STATUS_INSUFFICIENT_RESOURCES;
    ULONG opened = 0;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (irp != NULL && sockets != NULL) {
        status = STATUS_SUCCESS;
        while (opened < Count) {
            status = ProbeWait(ProbeProvider.Dispatch->WskSocket(ProbeProvider.Client, AF_INET, SOCK_DGRAM,
                                                                 IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL,
                                                                 NULL, NULL, NULL, ProbeArm(irp, &event)),
                               irp, &event);
            if (!NT_SUCCESS(status))
                break;
            sockets[opened++] = (PWSK_SOCKET)irp->IoStatus.Information;
        }
    }
    DbgPrint("probe: %lu of %lu WSK sockets open at once (last status 0x%08X)\n", opened, Count, status);
    while (opened > 0) {
        PWSK_SOCKET s = sockets[--opened];
        ProbeWait(((const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->Dispatch)->WskCloseSocket(s, ProbeArm(irp, &event)),
                  irp, &event);
    }
    if (sockets != NULL)
        ExFreePoolWithTag(sockets, PROBE_TAG);
    if (irp != NULL)
        IoFreeIrp(irp);
}

static VOID ProbeUnload(PDRIVER_OBJECT DriverObject)
{
    if (ProbeThread != NULL) {
        KeSetEvent(&ProbeStop, IO_NO_INCREMENT, FALSE);
        KeWaitForSingleObject(ProbeThread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(ProbeThread);
    }
    if (ModeIs(L"timerok")) {
        KeCancelTimer(&ProbeTimer);
        KeFlushQueuedDpcs();
    }
    if (ModeIs(L"timer") || ModeIs(L"timerok"))
        DbgPrint("probe: timer fired %s\n", InterlockedCompareExchange(&ProbeTimerFires, 0, 0) > 0 ? "yes" : "no");
    WskReleaseProviderNPI(&ProbeRegistration);
    if (!ModeIs(L"nodereg"))
        WskDeregister(&ProbeRegistration);
    DbgPrint("probe: unloaded\n");
    WPP_CLEANUP(DriverObject);
}

/* Each parameter read the way drivers do; what is absent keeps its default. */
static NTSTATUS ProbeReadParameters(PUNICODE_STRING RegistryPath)
{
    ULONG count = 0;
    LONG big[2] = {-(LONG)sizeof(ULONGLONG), 0};
    WCHAR greeting_buffer[64];
    UNICODE_STRING greeting = {0, sizeof(greeting_buffer), greeting_buffer};
    RTL_QUERY_REGISTRY_TABLE table[5];
    OBJECT_ATTRIBUTES attributes;
    HANDLE service;
    NTSTATUS status;
    ULONGLONG big_value;

    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_SUBKEY;
    table[0].Name = L"Parameters";
    table[1].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[1].Name = L"Mode";
    table[1].EntryContext = &ProbeMode;
    table[1].DefaultType = REG_SZ;
    table[1].DefaultData = L"serve";
    table[2].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[2].Name = L"Count";
    table[2].EntryContext = &count;
    table[3].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[3].Name = L"Greeting";
    table[3].EntryContext = &greeting;
    table[3].DefaultType = REG_SZ;
    table[3].DefaultData = L"(none)";
    /* Through a handle to the service key, with Parameters as a subkey. */
    InitializeObjectAttributes(&attributes, RegistryPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwOpenKey(&service, KEY_READ, &attributes);
    if (!NT_SUCCESS(status))
        return status;
    status = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)service, table, NULL, NULL);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND) { /* no Parameters key at all: the defaults */
        ProbeMode.Length = 0;
        RtlAppendUnicodeToString(&ProbeMode, L"serve");
        RtlInitUnicodeString(&greeting, L"(none)");
        status = STATUS_SUCCESS;
    }
    if (NT_SUCCESS(status)) {
        RtlZeroMemory(table, sizeof(table));
        table[0].Flags = RTL_QUERY_REGISTRY_SUBKEY;
        table[0].Name = L"Parameters";
        table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
        table[1].Name = L"Big";
        table[1].EntryContext = big;
        table[1].DefaultType = REG_QWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;
        if (!NT_SUCCESS(RtlQueryRegistryValues(RTL_REGISTRY_HANDLE | RTL_REGISTRY_OPTIONAL, (PCWSTR)service, table,
                                               NULL, NULL)))
            big[0] = big[1] = 0;
    }
    ZwClose(service);
    RtlCopyMemory(&big_value, big, sizeof(big_value));
    if ((LONG)big_value == -(LONG)sizeof(ULONGLONG) && big[1] == 0)
        big_value = 0; /* absent: the buffer is as we left it */
    DbgPrint("probe: Mode=%wZ Count=%lu Greeting=%wZ Big=0x%I64x\n", &ProbeMode, count, &greeting, big_value);
    ProbeCount = count;
    return status;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi = {NULL, &ProbeClientDispatch};
    NTSTATUS status;

    WPP_INIT_TRACING(DriverObject, RegistryPath);
    TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_DRIVER, "probe: traced through WPP from %!FUNC!");
    DbgPrint("probe: DriverName=%wZ ServiceKeyName=%wZ\n", &DriverObject->DriverName,
             &DriverObject->DriverExtension->ServiceKeyName);
    DbgPrint("probe: RegistryPath=%wZ\n", RegistryPath);
    status = ProbeReadParameters(RegistryPath);
    if (!NT_SUCCESS(status))
        return status;
    DbgPrint("probe: own connect() = %d\n", connect());
    if (ModeIs(L"fail"))
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    if (ModeIs(L"irqlbug")) {
        KSPIN_LOCK lock;
        KIRQL old;
        KeInitializeSpinLock(&lock);
        KeAcquireSpinLock(&lock, &old);
        PVOID p = ExAllocatePoolWithTag(PagedPool, 48, PROBE_TAG); /* BUG: paged pool at DISPATCH_LEVEL */
        KeReleaseSpinLock(&lock, old);
        if (p != NULL)
            ExFreePoolWithTag(p, PROBE_TAG);
        DbgPrint("probe: irqlbug ran through\n");
    }
    status = WskRegister(&npi, &ProbeRegistration);
    if (!NT_SUCCESS(status))
        return status;
    status = WskCaptureProviderNPI(&ProbeRegistration, WSK_INFINITE_WAIT, &ProbeProvider);
    if (!NT_SUCCESS(status)) {
        WskDeregister(&ProbeRegistration);
        return status;
    }
    status = ProbeExchange();
    DbgPrint("probe: datagram between two WSK sockets: %s (0x%08X)\n", NT_SUCCESS(status) ? "ok" : "FAILED",
             status);
    if (ModeIs(L"leak")) {
        ProbeLeak = ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'kaeL');
        ProbeLeakedIrp = IoAllocateIrp(2, FALSE);
    }
    if (ModeIs(L"sockets"))
        ProbeManySockets(ProbeCount);
    if (ModeIs(L"thread")) {
        HANDLE thread;
        KeInitializeEvent(&ProbeStop, NotificationEvent, FALSE);
        status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, ProbeThreadRoutine, NULL);
        if (NT_SUCCESS(status)) {
            ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &ProbeThread, NULL);
            ZwClose(thread);
        }
    }
    if (ModeIs(L"timer") || ModeIs(L"timerok")) {
        LARGE_INTEGER due;
        due.QuadPart = -10000; /* 1 ms */
        KeInitializeTimerEx(&ProbeTimer, NotificationTimer);
        KeInitializeDpc(&ProbeTimerDpc, ProbeTimerRoutine, NULL);
        KeSetTimerEx(&ProbeTimer, due, 1, &ProbeTimerDpc);
    }
    if (!ModeIs(L"nounload"))
        DriverObject->DriverUnload = ProbeUnload;
    DbgPrint("probe: ready port 0\n");
    return STATUS_SUCCESS;
}
