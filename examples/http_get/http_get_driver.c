/*
 * http_get_driver.c - fetches one document over HTTP/1.1 as a WSK client.
 *
 * DriverEntry reads its parameters from the service key's Parameters
 * subkey — Host (REG_SZ, default "localhost"), Port (REG_DWORD, default 80)
 * and Path (REG_SZ, default "/") — registers with WSK and starts a system
 * thread that does the whole fetch, one WSK call at a time on a single IRP:
 *
 *   WskGetAddressInfo   Host, with the port as the service name
 *   WskSocketConnect    to each address returned, in order, until one answers
 *   WskSend             GET <Path> HTTP/1.1, Host, Connection: close
 *   WskReceive          until the server closes (a receive of 0 bytes)
 *   WskDisconnect, WskCloseSocket, WskFreeAddressInfo
 *
 * The results go to the debugger: the address connected to, the status
 * line, the length of the body and its checksum (the sum of its bytes
 * modulo 2^32), and last "http_get: done status=NNN body=N bytes" or
 * "http_get: failed 0xXXXXXXXX".  The body is counted as it arrives (a
 * chunked body is counted as sent, chunk headers included).
 *
 * Every call is waited for with a timeout; DriverUnload sets HttpStop, which
 * makes the thread cancel the call in progress and finish, then waits for
 * the thread before it leaves WSK.
 */
#include <ntddk.h>
#include <wsk.h>
#include <ip2string.h>
#include <ntstrsafe.h>

#define HTTP_TAG 'pttH'
#define HTTP_BUFFER_SIZE 16384 /* the request, and the response's headers, must fit */
#define HTTP_HOST_CHARS 256    /* a DNS name has at most 253 */
#define HTTP_PATH_CHARS 2048
#define HTTP_CALL_TIMEOUT_SECONDS 30

/* Parameters.  The buffers are ours: RtlQueryRegistryValues copies the
 * values into them, so nothing is allocated and a value that does not fit
 * is refused (STATUS_BUFFER_TOO_SMALL) rather than truncated. */
static WCHAR HttpHostBuffer[HTTP_HOST_CHARS];
static WCHAR HttpPathBuffer[HTTP_PATH_CHARS];
static UNICODE_STRING HttpHost = {0, sizeof(HttpHostBuffer), HttpHostBuffer};
static UNICODE_STRING HttpPath = {0, sizeof(HttpPathBuffer), HttpPathBuffer};
static ULONG HttpPort = 80;

static WSK_REGISTRATION HttpRegistration;
static WSK_PROVIDER_NPI HttpProvider;
static const WSK_CLIENT_DISPATCH HttpClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static PETHREAD HttpThread;
static KEVENT HttpStop; /* notification: DriverUnload wants the fetch to end */

/* One fetch: the IRP that every call uses in turn, and one buffer (with its
 * MDL) for the request first and then the response. */
typedef struct _HTTP_FETCH {
    PIRP Irp;
    KEVENT Done; /* notification, set by HttpCallDone */
    PWSK_SOCKET Socket;
    PMDL Mdl;
    ULONG StatusCode;
    BOOLEAN HaveContentLength;
    ULONGLONG ContentLength;
    ULONGLONG BodyLength;
    ULONG BodySum;
    CHAR StatusLine[128];
    UCHAR Buffer[HTTP_BUFFER_SIZE];
} HTTP_FETCH, *PHTTP_FETCH;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD HttpUnload;
static KSTART_ROUTINE HttpGetThread;
static IO_COMPLETION_ROUTINE HttpCallDone;

/* ---- one WSK call at a time on the fetch's IRP ---- */

static NTSTATUS HttpCallDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(&((PHTTP_FETCH)Context)->Done, IO_NO_INCREMENT, FALSE);
    /* The IRP is ours: the I/O manager must leave it alone. */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Readies the IRP for the next call. */
static PIRP HttpArm(PHTTP_FETCH Fetch)
{
    IoReuseIrp(Fetch->Irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(&Fetch->Done);
    IoSetCompletionRoutine(Fetch->Irp, HttpCallDone, Fetch, TRUE, TRUE, TRUE);
    return Fetch->Irp;
}

/* Waits for the call that returned Status.  A call still pending when
 * DriverUnload asks us to stop, or after HTTP_CALL_TIMEOUT_SECONDS, is
 * cancelled; either way the IRP is ours again only once the completion
 * routine has run, so that is always waited for. */
static NTSTATUS HttpWait(PHTTP_FETCH Fetch, NTSTATUS Status)
{
    PVOID objects[2] = {&Fetch->Done, &HttpStop};
    LARGE_INTEGER timeout;
    NTSTATUS wait;

    if (Status != STATUS_PENDING)
        return Status; /* completed already, with this status */
    timeout.QuadPart = -10000000LL * HTTP_CALL_TIMEOUT_SECONDS; /* relative, in 100 ns */
    wait = KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &timeout, NULL);
    if (wait != STATUS_WAIT_0) {
        /* Safe even if the IRP completed meanwhile: the completion routine
         * returned STATUS_MORE_PROCESSING_REQUIRED, so it still exists. */
        IoCancelIrp(Fetch->Irp);
        KeWaitForSingleObject(&Fetch->Done, Executive, KernelMode, FALSE, NULL);
        if (wait == STATUS_TIMEOUT && Fetch->Irp->IoStatus.Status == STATUS_CANCELLED)
            return STATUS_IO_TIMEOUT;
    }
    return Fetch->Irp->IoStatus.Status;
}

/* ---- the steps ---- */

static NTSTATUS HttpResolve(PHTTP_FETCH Fetch, PADDRINFOEXW *Addresses)
{
    WCHAR portText[8];
    UNICODE_STRING service = {0, sizeof(portText), portText};
    ADDRINFOEXW hints;
    NTSTATUS status;

    /* The service name is the port in decimal, NUL-terminated (the 8
     * characters leave room for it). */
    status = RtlIntegerToUnicodeString(HttpPort, 10, &service);
    if (!NT_SUCCESS(status))
        return status;
    /* Any family: Host may have IPv4 addresses, IPv6 ones or both.  No
     * AI_ADDRCONFIG, which would hide loopback addresses on a host whose
     * only configured interface is loopback. */
    RtlZeroMemory(&hints, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    return HttpWait(Fetch, HttpProvider.Dispatch->WskGetAddressInfo(HttpProvider.Client, &HttpHost, &service, NS_ALL,
                                                                    NULL, &hints, Addresses, NULL, NULL,
                                                                    HttpArm(Fetch)));
}

/* "a.b.c.d:port" or "[v6%scope]:port". */
static VOID HttpAddressToString(PSOCKADDR Address, PSTR Text, ULONG Size)
{
    ULONG length = Size;
    NTSTATUS status;
    if (Address->sa_family == AF_INET) {
        PSOCKADDR_IN in = (PSOCKADDR_IN)Address;
        status = RtlIpv4AddressToStringExA(&in->sin_addr, in->sin_port, Text, &length);
    } else {
        PSOCKADDR_IN6 in6 = (PSOCKADDR_IN6)Address;
        status = RtlIpv6AddressToStringExA(&in6->sin6_addr, in6->sin6_scope_id, in6->sin6_port, Text, &length);
    }
    if (!NT_SUCCESS(status))
        RtlStringCbCopyA(Text, Size, "?");
}

/* Tries the addresses in the order the resolver ranked them. */
static NTSTATUS HttpConnect(PHTTP_FETCH Fetch, PADDRINFOEXW Addresses)
{
    NTSTATUS status = STATUS_NOT_FOUND; /* no IPv4 or IPv6 address at all */
    PADDRINFOEXW address;

    for (address = Addresses; address != NULL; address = address->ai_next) {
        SOCKADDR_STORAGE local;
        CHAR text[64];

        if (address->ai_family != AF_INET && address->ai_family != AF_INET6)
            continue;
        HttpAddressToString(address->ai_addr, text, sizeof(text));
        /* The wildcard address of the same family, any port: WskSocketConnect
         * takes the socket's family from the local address. */
        RtlZeroMemory(&local, sizeof(local));
        local.ss_family = (ADDRESS_FAMILY)address->ai_family;
        status = HttpWait(Fetch, HttpProvider.Dispatch->WskSocketConnect(
                                     HttpProvider.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&local,
                                     address->ai_addr, 0, NULL, NULL, NULL, NULL, NULL, HttpArm(Fetch)));
        if (NT_SUCCESS(status)) {
            Fetch->Socket = (PWSK_SOCKET)Fetch->Irp->IoStatus.Information;
            DbgPrint("http_get: connected to %s\n", text);
            return status;
        }
        DbgPrint("http_get: cannot connect to %s: 0x%08X\n", text, status);
        if (status == STATUS_CANCELLED)
            break; /* unloading */
    }
    return status;
}

static const WSK_PROVIDER_CONNECTION_DISPATCH *HttpDispatch(PHTTP_FETCH Fetch)
{
    return Fetch->Socket->Dispatch;
}

static NTSTATUS HttpSendRequest(PHTTP_FETCH Fetch)
{
    PSTR request = (PSTR)Fetch->Buffer;
    BOOLEAN literal6 = FALSE; /* an IPv6 address goes in brackets */
    CHAR port[8] = "";
    size_t length;
    WSK_BUF buffer;
    NTSTATUS status = STATUS_SUCCESS;
    USHORT i;

    for (i = 0; i < HttpHost.Length / sizeof(WCHAR); i++)
        literal6 |= HttpHost.Buffer[i] == L':';
    /* The port goes into Host only when it is not HTTP's own (RFC 9110 7.2). */
    if (HttpPort != 80)
        status = RtlStringCbPrintfA(port, sizeof(port), ":%lu", HttpPort);
    if (NT_SUCCESS(status))
        status = RtlStringCbPrintfA(request, sizeof(Fetch->Buffer),
                                    "GET %wZ HTTP/1.1\r\nHost: %s%wZ%s%s\r\nConnection: close\r\n\r\n", &HttpPath,
                                    literal6 ? "[" : "", &HttpHost, literal6 ? "]" : "", port);
    if (NT_SUCCESS(status))
        status = RtlStringCbLengthA(request, sizeof(Fetch->Buffer), &length);
    if (!NT_SUCCESS(status))
        return status;
    buffer.Mdl = Fetch->Mdl;
    buffer.Offset = 0;
    buffer.Length = length;
    status = HttpWait(Fetch, HttpDispatch(Fetch)->WskSend(Fetch->Socket, &buffer, 0, HttpArm(Fetch)));
    /* WskSend completes only once all of it went. */
    if (NT_SUCCESS(status) && Fetch->Irp->IoStatus.Information != length)
        status = STATUS_UNSUCCESSFUL;
    return status;
}

/* Where the headers end ("\r\n\r\n" included), or 0 if they do not yet;
 * only the bytes from From on are new. */
static ULONG HttpHeadersEnd(const UCHAR *Data, ULONG Length, ULONG From)
{
    ULONG i = From >= 3 ? From - 3 : 0;
    for (; i + 4 <= Length; i++)
        if (Data[i] == '\r' && Data[i + 1] == '\n' && Data[i + 2] == '\r' && Data[i + 3] == '\n')
            return i + 4;
    return 0;
}

/* Does the header line start with Name (any case) and a colon? */
static BOOLEAN HttpIsHeader(const UCHAR *Line, ULONG Length, PCSTR Name, ULONG *ValueAt)
{
    ULONG i;
    for (i = 0; Name[i] != '\0'; i++) {
        UCHAR c = i < Length ? Line[i] : 0;
        if (c >= 'A' && c <= 'Z')
            c = (UCHAR)(c - 'A' + 'a');
        if (c != (UCHAR)Name[i])
            return FALSE;
    }
    if (i >= Length || Line[i] != ':')
        return FALSE;
    for (i++; i < Length && (Line[i] == ' ' || Line[i] == '\t'); i++)
        ;
    *ValueAt = i;
    return TRUE;
}

/* The status line ("HTTP/1.1 200 OK") and Content-Length, if any. */
static NTSTATUS HttpParseHeaders(PHTTP_FETCH Fetch, ULONG End)
{
    const UCHAR *data = Fetch->Buffer;
    ULONG line = 0;

    while (line + 2 < End) {
        ULONG next = line, length, value;
        while (!(data[next] == '\r' && data[next + 1] == '\n'))
            next++; /* stops at the "\r\n" that ends the line, at worst the last one */
        length = next - line;
        if (line == 0) {
            ULONG copy = length < sizeof(Fetch->StatusLine) ? length : sizeof(Fetch->StatusLine) - 1;
            if (length < 12 || !RtlEqualMemory(data, "HTTP/1.", 7) || data[8] != ' ' || data[9] < '1' ||
                data[9] > '5' || data[10] < '0' || data[10] > '9' || data[11] < '0' || data[11] > '9')
                return STATUS_INVALID_NETWORK_RESPONSE;
            Fetch->StatusCode = (data[9] - '0') * 100u + (data[10] - '0') * 10u + (data[11] - '0');
            RtlCopyMemory(Fetch->StatusLine, data, copy);
            Fetch->StatusLine[copy] = '\0';
        } else if (HttpIsHeader(data + line, length, "content-length", &value)) {
            ULONGLONG n = 0;
            if (value >= length)
                return STATUS_INVALID_NETWORK_RESPONSE;
            for (; value < length && data[line + value] >= '0' && data[line + value] <= '9'; value++) {
                if (n > (MAXULONGLONG - 9) / 10)
                    return STATUS_INVALID_NETWORK_RESPONSE;
                n = n * 10 + (data[line + value] - '0');
            }
            Fetch->HaveContentLength = TRUE;
            Fetch->ContentLength = n;
        }
        line = next + 2;
    }
    return STATUS_SUCCESS;
}

static VOID HttpCountBody(PHTTP_FETCH Fetch, const UCHAR *Data, ULONG Length)
{
    ULONG i;
    for (i = 0; i < Length; i++)
        Fetch->BodySum += Data[i]; /* modulo 2^32 by ULONG arithmetic */
    Fetch->BodyLength += Length;
}

/* Receives until the server closes.  The headers are gathered at the start
 * of the buffer (each receive goes after what came before, WSK_BUF.Offset);
 * once they are complete, every receive fills the whole buffer again. */
static NTSTATUS HttpReceiveResponse(PHTTP_FETCH Fetch)
{
    ULONG used = 0, end = 0;
    NTSTATUS status;

    for (;;) {
        WSK_BUF buffer;
        ULONG received;

        buffer.Mdl = Fetch->Mdl;
        buffer.Offset = end != 0 ? 0 : used;
        buffer.Length = end != 0 ? sizeof(Fetch->Buffer) : sizeof(Fetch->Buffer) - used;
        if (buffer.Length == 0)
            return STATUS_INVALID_NETWORK_RESPONSE; /* headers larger than the buffer */
        status = HttpWait(Fetch, HttpDispatch(Fetch)->WskReceive(Fetch->Socket, &buffer, 0, HttpArm(Fetch)));
        if (!NT_SUCCESS(status))
            return status;
        received = (ULONG)Fetch->Irp->IoStatus.Information;
        if (received == 0)
            break; /* graceful close by the server: the body is complete */
        if (end != 0) {
            HttpCountBody(Fetch, Fetch->Buffer, received);
            continue;
        }
        used += received;
        end = HttpHeadersEnd(Fetch->Buffer, used, used - received);
        if (end != 0) {
            status = HttpParseHeaders(Fetch, end);
            if (!NT_SUCCESS(status))
                return status;
            DbgPrint("http_get: %s\n", Fetch->StatusLine);
            HttpCountBody(Fetch, Fetch->Buffer + end, used - end);
        }
    }
    if (end == 0)
        return STATUS_INVALID_NETWORK_RESPONSE; /* closed before the headers ended */
    DbgPrint("http_get: body %I64u bytes, checksum 0x%08X\n", Fetch->BodyLength, Fetch->BodySum);
    if (Fetch->HaveContentLength && Fetch->BodyLength != Fetch->ContentLength) {
        DbgPrint("http_get: Content-Length was %I64u\n", Fetch->ContentLength);
        return STATUS_INVALID_NETWORK_RESPONSE;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS HttpDisconnect(PHTTP_FETCH Fetch)
{
    /* Graceful: our FIN after everything sent; the server's came already. */
    return HttpWait(Fetch, HttpDispatch(Fetch)->WskDisconnect(Fetch->Socket, NULL, 0, HttpArm(Fetch)));
}

/* Without a WskDisconnect first (after an error), this resets the connection. */
static VOID HttpClose(PHTTP_FETCH Fetch)
{
    /* Not cancellable and never failing: wait for it whatever happens. */
    if (HttpDispatch(Fetch)->WskCloseSocket(Fetch->Socket, HttpArm(Fetch)) == STATUS_PENDING)
        KeWaitForSingleObject(&Fetch->Done, Executive, KernelMode, FALSE, NULL);
    Fetch->Socket = NULL;
}

static NTSTATUS HttpFetch(PHTTP_FETCH Fetch)
{
    PADDRINFOEXW addresses = NULL;
    NTSTATUS status = HttpResolve(Fetch, &addresses);
    if (!NT_SUCCESS(status)) {
        DbgPrint("http_get: cannot resolve %wZ: 0x%08X\n", &HttpHost, status);
        return status;
    }
    status = HttpConnect(Fetch, addresses);
    if (NT_SUCCESS(status)) {
        status = HttpSendRequest(Fetch);
        if (NT_SUCCESS(status))
            status = HttpReceiveResponse(Fetch);
        if (NT_SUCCESS(status))
            status = HttpDisconnect(Fetch);
        HttpClose(Fetch);
    }
    if (addresses != NULL)
        HttpProvider.Dispatch->WskFreeAddressInfo(HttpProvider.Client, addresses);
    return status;
}

static VOID HttpGetThread(PVOID Context)
{
    PHTTP_FETCH fetch;
    NTSTATUS status = STATUS_INSUFFICIENT_RESOURCES;
    UNREFERENCED_PARAMETER(Context);

    /* Nonpaged: the MDL built below describes the buffer inside it. */
    fetch = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*fetch), HTTP_TAG);
    if (fetch != NULL) {
        KeInitializeEvent(&fetch->Done, NotificationEvent, FALSE);
        fetch->Irp = IoAllocateIrp(1, FALSE);
        fetch->Mdl = IoAllocateMdl(fetch->Buffer, sizeof(fetch->Buffer), FALSE, FALSE, NULL);
        if (fetch->Irp != NULL && fetch->Mdl != NULL) {
            MmBuildMdlForNonPagedPool(fetch->Mdl);
            status = HttpFetch(fetch);
        }
    }
    if (NT_SUCCESS(status))
        DbgPrint("http_get: done status=%03u body=%I64u bytes\n", fetch->StatusCode, fetch->BodyLength);
    else
        DbgPrint("http_get: failed 0x%08X\n", status);
    if (fetch != NULL) {
        if (fetch->Mdl != NULL)
            IoFreeMdl(fetch->Mdl);
        if (fetch->Irp != NULL)
            IoFreeIrp(fetch->Irp);
        ExFreePoolWithTag(fetch, HTTP_TAG);
    }
    PsTerminateSystemThread(status);
}

/* ---- loading and unloading ---- */

static VOID HttpUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeSetEvent(&HttpStop, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(HttpThread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(HttpThread);
    WskReleaseProviderNPI(&HttpRegistration);
    WskDeregister(&HttpRegistration); /* returns once nothing of ours is left in WSK */
    DbgPrint("http_get: unloaded\n");
}

/* Printable ASCII without spaces: what goes into the request line and the
 * Host header as it is (no CR or LF that would start a header of its own). */
static BOOLEAN HttpIsToken(PCUNICODE_STRING Text)
{
    USHORT i;
    if (Text->Length == 0)
        return FALSE;
    for (i = 0; i < Text->Length / sizeof(WCHAR); i++)
        if (Text->Buffer[i] <= L' ' || Text->Buffer[i] >= 0x7F)
            return FALSE;
    return TRUE;
}

/* Parameters\Host, Port and Path under the driver's service key. */
static NTSTATUS HttpReadParameters(PUNICODE_STRING RegistryPath)
{
    RTL_QUERY_REGISTRY_TABLE table[4];
    UNICODE_STRING path;
    NTSTATUS status;

    /* The defaults, which stay where a value is absent (REG_NONE defaults). */
    RtlStringCbCopyW(HttpHostBuffer, sizeof(HttpHostBuffer), L"localhost");
    RtlStringCbCopyW(HttpPathBuffer, sizeof(HttpPathBuffer), L"/");
    RtlInitUnicodeString(&HttpHost, HttpHostBuffer);
    HttpHost.MaximumLength = sizeof(HttpHostBuffer);
    RtlInitUnicodeString(&HttpPath, HttpPathBuffer);
    HttpPath.MaximumLength = sizeof(HttpPathBuffer);
    HttpPort = 80;

    path.Length = 0;
    path.MaximumLength = RegistryPath->Length + sizeof(L"\\Parameters");
    path.Buffer = ExAllocatePoolWithTag(PagedPool, path.MaximumLength, HTTP_TAG);
    if (path.Buffer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlCopyUnicodeString(&path, RegistryPath);
    RtlAppendUnicodeToString(&path, L"\\Parameters");

    /* TYPECHECK: a value of another type is refused instead of being
     * written over our variables. */
    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Host";
    table[0].EntryContext = &HttpHost;
    table[0].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[1].Name = L"Port";
    table[1].EntryContext = &HttpPort;
    table[1].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[2].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[2].Name = L"Path";
    table[2].EntryContext = &HttpPath;
    table[2].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE | RTL_REGISTRY_OPTIONAL, path.Buffer, table, NULL, NULL);
    ExFreePoolWithTag(path.Buffer, HTTP_TAG);
    if (!NT_SUCCESS(status))
        return status;
    if (HttpPort == 0 || HttpPort > 65535 || !HttpIsToken(&HttpHost) || !HttpIsToken(&HttpPath) ||
        HttpPath.Buffer[0] != L'/')
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WSK_CLIENT_NPI npi = {NULL, &HttpClientDispatch};
    HANDLE thread;
    NTSTATUS status;

    KeInitializeEvent(&HttpStop, NotificationEvent, FALSE);
    status = HttpReadParameters(RegistryPath);
    if (!NT_SUCCESS(status)) {
        DbgPrint("http_get: bad parameters: 0x%08X\n", status);
        return status;
    }
    DbgPrint("http_get: fetching http://%wZ:%lu%wZ\n", &HttpHost, HttpPort, &HttpPath);
    status = WskRegister(&npi, &HttpRegistration);
    if (!NT_SUCCESS(status))
        return status;
    status = WskCaptureProviderNPI(&HttpRegistration, WSK_INFINITE_WAIT, &HttpProvider);
    if (!NT_SUCCESS(status)) {
        WskDeregister(&HttpRegistration);
        return status;
    }
    /* Resolving and connecting block: they are done on a thread of ours,
     * not in DriverEntry. */
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, HttpGetThread, NULL);
    if (!NT_SUCCESS(status)) {
        WskReleaseProviderNPI(&HttpRegistration);
        WskDeregister(&HttpRegistration);
        return status;
    }
    /* DriverUnload waits on the thread object itself; the handle can go.
     * (A kernel-mode reference through the handle just returned.) */
    ObReferenceObjectByHandle(thread, SYNCHRONIZE, *PsThreadType, KernelMode, &HttpThread, NULL);
    ZwClose(thread);
    DriverObject->DriverUnload = HttpUnload;
    return STATUS_SUCCESS;
}
