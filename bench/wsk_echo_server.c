/*
 * wsk_echo_server.c - the WSK side of the benchmarks: a TCP and UDP echo
 * server on 127.0.0.1:PORT written as WSK driver code, hosted directly by
 * this program (no wskhost: the benchmark measures the provider, not the
 * loader).
 *
 *   wsk_echo_server --port N [--threads T]
 *
 * T is the number of engine threads (OPENWSK_IO_THREADS), the threads on
 * which completion routines and events run.  Per thread, like the native
 * servers, one TCP listener and one UDP socket share the port
 * (SO_REUSEADDR); Linux spreads connections and datagrams across them.
 * TCP: WskAcceptEvent starts each connection's two IRP chains right away
 * (receive -> send what came -> receive ..., two receives in flight;
 * disconnect and close when the peer is done).  UDP: WskReceiveFromEvent -> WskSendTo from the
 * indication -> WskRelease when it completes.  Prints "READY port=N
 * threads=T" once everything is bound; exits on SIGTERM / SIGINT.
 */
#include <ntddk.h>
#include <wsk.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_TAG 'hcnB'
#define BUFFER_SIZE 65536
#define MAX_THREADS 16

/* Two receives in flight per connection, each with its own buffer and
 * IRP (a slot: receive -> send what came -> receive again), so that data
 * arriving while one slot sends goes straight into the other's posted
 * receive, as Microsoft's echo sample does with its two receives.
 * Receives complete in the order issued and each slot sends from its
 * completion routine, so the sends go out in the order the bytes came. */
#define SLOTS 2

struct connection;

typedef struct slot {
    struct connection *conn;
    PIRP irp;
    PMDL mdl;
    UCHAR buffer[BUFFER_SIZE];
} slot;

typedef struct connection {
    SLIST_ENTRY link;     /* first, 16-byte aligned: on spare_connections between uses */
    PWSK_SOCKET socket;
    PIRP irp;             /* disconnect and close */
    volatile LONG busy;   /* slots with a receive or send in flight */
    volatile LONG ended;  /* the peer finished, or a call failed: slots stop */
    volatile LONG failed; /* ... by a failure: close without a disconnect */
    slot slots[SLOTS];
} connection;

/* One WskSendTo in flight, with its IRP; kept on spare_sends for the next
 * datagram instead of freed, as a driver's lookaside would (the first
 * version allocated both per datagram: 21 % of the server's user time). */
typedef struct datagram_send {
    SLIST_ENTRY link; /* first: 16-byte aligned, as the pool gives */
    PIRP irp;
    PWSK_SOCKET socket;
    PWSK_DATAGRAM_INDICATION indication;
} datagram_send;

static SLIST_HEADER spare_sends;

static WSK_REGISTRATION registration;
static WSK_PROVIDER_NPI provider;
static const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static volatile LONG live_connections;
static volatile LONG live_sends;

static IO_COMPLETION_ROUTINE received, sent, closed, disconnected;

/* Closed connections, IRPs and MDLs included, kept for the next accept as
 * a driver's lookaside list would: a connection is 128 KiB, which the C
 * library maps and unmaps for each allocation (3x fewer connections per
 * second when every accept allocated one). */
static SLIST_HEADER spare_connections;

static PIRP next_step(PIRP irp, PIO_COMPLETION_ROUTINE done, PVOID context)
{
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, done, context, TRUE, TRUE, TRUE);
    return irp;
}

static const WSK_PROVIDER_CONNECTION_DISPATCH *connection_dispatch(connection *c)
{
    return c->socket->Dispatch;
}

static void start_receive(slot *sl)
{
    WSK_BUF b = {sl->mdl, 0, BUFFER_SIZE};
    connection_dispatch(sl->conn)->WskReceive(sl->conn->socket, &b, 0, next_step(sl->irp, received, sl));
}

/* A slot stops; the last one ends the connection: a graceful disconnect
 * (the provider sends it after every send issued before it), then the
 * close; after a failure, the close alone. */
static void slot_done(slot *sl, BOOLEAN failure)
{
    connection *c = sl->conn;
    if (failure)
        InterlockedExchange(&c->failed, 1);
    InterlockedExchange(&c->ended, 1);
    if (InterlockedDecrement(&c->busy) != 0)
        return;
    if (InterlockedCompareExchange(&c->failed, 0, 0))
        connection_dispatch(c)->WskCloseSocket(c->socket, next_step(c->irp, closed, c));
    else
        connection_dispatch(c)->WskDisconnect(c->socket, NULL, 0, next_step(c->irp, disconnected, c));
}

static NTSTATUS received(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    slot *sl = context;
    (void)device;
    if (NT_SUCCESS(irp->IoStatus.Status) && irp->IoStatus.Information > 0) {
        WSK_BUF b = {sl->mdl, 0, irp->IoStatus.Information};
        connection_dispatch(sl->conn)->WskSend(sl->conn->socket, &b, 0, next_step(sl->irp, sent, sl));
    } else {
        slot_done(sl, !NT_SUCCESS(irp->IoStatus.Status)); /* 0 bytes: the peer is done */
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS sent(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    slot *sl = context;
    (void)device;
    if (!NT_SUCCESS(irp->IoStatus.Status))
        slot_done(sl, TRUE);
    else if (InterlockedCompareExchange(&sl->conn->ended, 0, 0))
        slot_done(sl, FALSE);
    else
        start_receive(sl);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS disconnected(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    connection *c = context;
    (void)device;
    (void)irp;
    connection_dispatch(c)->WskCloseSocket(c->socket, next_step(c->irp, closed, c));
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Only a connection whose accept failed halfway has NULL members. */
static void connection_free(connection *c)
{
    for (int i = 0; i < SLOTS; i++) {
        if (c->slots[i].mdl != NULL)
            IoFreeMdl(c->slots[i].mdl);
        if (c->slots[i].irp != NULL)
            IoFreeIrp(c->slots[i].irp);
    }
    if (c->irp != NULL)
        IoFreeIrp(c->irp);
    ExFreePoolWithTag(c, BENCH_TAG);
}

static NTSTATUS closed(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    connection *c = context;
    (void)device;
    (void)irp;
    InterlockedPushEntrySList(&spare_connections, &c->link);
    InterlockedDecrement(&live_connections);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI accept_event(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                    PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                    const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    if (AcceptSocket == NULL)
        return STATUS_SUCCESS;
    PSLIST_ENTRY spare = InterlockedPopEntrySList(&spare_connections);
    connection *c = spare != NULL ? CONTAINING_RECORD(spare, connection, link) : NULL;
    if (c == NULL) {
        c = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*c), BENCH_TAG);
        if (c == NULL)
            return STATUS_REQUEST_NOT_ACCEPTED;
        c->irp = IoAllocateIrp(1, FALSE);
        BOOLEAN ok = c->irp != NULL;
        for (int i = 0; i < SLOTS; i++) {
            slot *sl = &c->slots[i];
            sl->conn = c;
            sl->irp = ok ? IoAllocateIrp(1, FALSE) : NULL;
            sl->mdl = sl->irp != NULL ? IoAllocateMdl(sl->buffer, BUFFER_SIZE, FALSE, FALSE, NULL) : NULL;
            ok = sl->mdl != NULL;
            if (ok)
                MmBuildMdlForNonPagedPool(sl->mdl);
        }
        if (!ok) {
            connection_free(c);
            return STATUS_REQUEST_NOT_ACCEPTED;
        }
    }
    c->socket = AcceptSocket;
    c->ended = 0;
    c->failed = 0;
    c->busy = SLOTS;
    InterlockedIncrement(&live_connections);
    *AcceptSocketContext = c;
    *AcceptSocketDispatch = NULL;
    for (int i = 0; i < SLOTS; i++)
        start_receive(&c->slots[i]); /* WskReceive may be called at DISPATCH_LEVEL */
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH listen_dispatch = {accept_event, NULL, NULL};

static NTSTATUS datagram_sent(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    datagram_send *d = context;
    (void)device;
    (void)irp;
    ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)d->socket->Dispatch)->WskRelease(d->socket, d->indication);
    InterlockedPushEntrySList(&spare_sends, &d->link);
    InterlockedDecrement(&live_sends);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI receive_from_event(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION indication)
{
    PWSK_SOCKET s = *(PWSK_SOCKET *)SocketContext; /* its slot in udp[], filled before the bind */
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dispatch = s->Dispatch;
    PWSK_DATAGRAM_INDICATION next;
    (void)Flags;
    if (indication == NULL)
        return STATUS_SUCCESS;
    for (; indication != NULL; indication = next) {
        PSLIST_ENTRY spare = InterlockedPopEntrySList(&spare_sends);
        datagram_send *d = spare != NULL ? CONTAINING_RECORD(spare, datagram_send, link)
                                         : ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*d), BENCH_TAG);
        next = indication->Next;
        indication->Next = NULL;
        if (d != NULL && spare == NULL)
            d->irp = IoAllocateIrp(1, FALSE);
        if (d == NULL || d->irp == NULL) {
            if (d != NULL)
                ExFreePoolWithTag(d, BENCH_TAG);
            dispatch->WskRelease(s, indication);
            continue;
        }
        PIRP irp = d->irp;
        if (spare != NULL)
            IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
        d->socket = s;
        d->indication = indication;
        InterlockedIncrement(&live_sends);
        IoSetCompletionRoutine(irp, datagram_sent, d, TRUE, TRUE, TRUE);
        dispatch->WskSendTo(s, &indication->Buffer, 0, indication->RemoteAddress, 0, NULL, irp);
    }
    return STATUS_PENDING;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH datagram_dispatch = {receive_from_event};

/* ---- synchronous calls for setup and teardown ---- */

static NTSTATUS signal_event(PDEVICE_OBJECT device, PIRP irp, PVOID event)
{
    (void)device;
    (void)irp;
    KeSetEvent(event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

typedef struct sync_call {
    PIRP irp;
    KEVENT done;
} sync_call;

static PIRP arm(sync_call *c)
{
    IoReuseIrp(c->irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(&c->done);
    IoSetCompletionRoutine(c->irp, signal_event, &c->done, TRUE, TRUE, TRUE);
    return c->irp;
}

static NTSTATUS finish(sync_call *c, NTSTATUS returned)
{
    if (returned == STATUS_PENDING) {
        KeWaitForSingleObject(&c->done, Executive, KernelMode, FALSE, NULL);
        returned = c->irp->IoStatus.Status;
    }
    return returned;
}

static NTSTATUS set_ulong(sync_call *c, PWSK_SOCKET s, ULONG level, ULONG option, ULONG value)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    return finish(c, d->WskControlSocket(s, WskSetOption, option, level, sizeof(value), &value, 0, NULL, NULL,
                                         arm(c)));
}

/* A listener on 127.0.0.1:port, sharing the port with its siblings (one
 * per engine thread). */
static PWSK_SOCKET open_shared(sync_call *c, USHORT type, ULONG protocol, ULONG flags, const void *dispatch,
                               USHORT port)
{
    NTSTATUS st = finish(c, provider.Dispatch->WskSocket(provider.Client, AF_INET, type, protocol, flags, NULL,
                                                         dispatch, NULL, NULL, NULL, arm(c)));
    if (!NT_SUCCESS(st))
        return NULL;
    PWSK_SOCKET s = (PWSK_SOCKET)c->irp->IoStatus.Information;
    const WSK_PROVIDER_BASIC_DISPATCH *basic = s->Dispatch;
    st = set_ulong(c, s, SOL_SOCKET, SO_REUSEADDR, 1);
    if (NT_SUCCESS(st) && type == SOCK_STREAM)
        st = set_ulong(c, s, IPPROTO_TCP, TCP_NODELAY, 1); /* inherited by accepted connections */
    SOCKADDR_IN a = {0};
    a.sin_family = AF_INET;
    a.sin_port = RtlUshortByteSwap(port);
    a.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001);
    if (NT_SUCCESS(st))
        st = finish(c, ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)->WskBind(s, (PSOCKADDR)&a, 0, arm(c)));
    if (!NT_SUCCESS(st)) {
        fprintf(stderr, "wsk_echo_server: socket on port %u: 0x%08X\n", port, (unsigned)st);
        finish(c, basic->WskCloseSocket(s, arm(c)));
        return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    int port = 0, threads = 1;
    InitializeSListHead(&spare_sends);
    InitializeSListHead(&spare_connections);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: wsk_echo_server --port N [--threads T]\n");
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "usage: wsk_echo_server --port N [--threads T]  (T: 1..%d)\n", MAX_THREADS);
        return 2;
    }
    char count[16];
    snprintf(count, sizeof(count), "%d", threads);
    setenv("OPENWSK_IO_THREADS", count, 1);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts */

    WSK_CLIENT_NPI npi = {NULL, &client_dispatch};
    if (!NT_SUCCESS(WskRegister(&npi, &registration)) ||
        !NT_SUCCESS(WskCaptureProviderNPI(&registration, WSK_INFINITE_WAIT, &provider))) {
        fprintf(stderr, "wsk_echo_server: WSK registration failed\n");
        return 1;
    }
    WSK_EVENT_CALLBACK_CONTROL events = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE_FROM};
    provider.Dispatch->WskControlClient(provider.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(events), &events, 0,
                                        NULL, NULL, NULL);
    sync_call c;
    c.irp = IoAllocateIrp(1, FALSE);
    KeInitializeEvent(&c.done, NotificationEvent, FALSE);
    PWSK_SOCKET listeners[MAX_THREADS] = {0}, udp[MAX_THREADS] = {0};
    int ok = 1;
    /* All listeners first, then all datagram sockets: the engine gives an
     * fd, at its first use (the bind), to the thread serving the fewest, so
     * this order puts one socket of each kind on each thread, as the
     * native servers do by construction. */
    for (int i = 0; i < threads && ok; i++) {
        listeners[i] = open_shared(&c, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &listen_dispatch,
                                   (USHORT)port);
        ok = listeners[i] != NULL;
    }
    for (int i = 0; i < threads && ok; i++) {
        /* Datagram sockets: created with their own address as context. */
        NTSTATUS st = finish(&c, provider.Dispatch->WskSocket(provider.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP,
                                                               WSK_FLAG_DATAGRAM_SOCKET, &udp[i], &datagram_dispatch,
                                                               NULL, NULL, NULL, arm(&c)));
        ok = NT_SUCCESS(st);
        if (!ok)
            break;
        udp[i] = (PWSK_SOCKET)c.irp->IoStatus.Information;
        ok = 0;
        if (NT_SUCCESS(set_ulong(&c, udp[i], SOL_SOCKET, SO_REUSEADDR, 1))) {
            SOCKADDR_IN a = {0};
            a.sin_family = AF_INET;
            a.sin_port = RtlUshortByteSwap((USHORT)port);
            a.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001);
            const WSK_PROVIDER_DATAGRAM_DISPATCH *d = udp[i]->Dispatch;
            ok = NT_SUCCESS(finish(&c, d->WskBind(udp[i], (PSOCKADDR)&a, 0, arm(&c))));
        }
    }
    int sig = 0;
    if (ok) {
        printf("READY port=%d threads=%d\n", port, threads);
        fflush(stdout);
        sigwait(&stop, &sig);
    }
    for (int i = 0; i < threads; i++) {
        if (listeners[i] != NULL)
            finish(&c, ((const WSK_PROVIDER_LISTEN_DISPATCH *)listeners[i]->Dispatch)
                           ->WskCloseSocket(listeners[i], arm(&c)));
        if (udp[i] != NULL) {
            const WSK_PROVIDER_DATAGRAM_DISPATCH *d = udp[i]->Dispatch;
            WSK_EVENT_CALLBACK_CONTROL off = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE_FROM};
            finish(&c, d->WskControlSocket(udp[i], WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(off), &off,
                                           0, NULL, NULL, arm(&c)));
        }
    }
    /* Connections still open end when their peers go; sends in flight complete. */
    while (InterlockedCompareExchange(&live_sends, 0, 0) != 0 ||
           InterlockedCompareExchange(&live_connections, 0, 0) != 0) {
        LARGE_INTEGER t = {.QuadPart = -10 * 1000 * 10}; /* 10 ms */
        KeDelayExecutionThread(KernelMode, FALSE, &t);
        if (sig != 0 && InterlockedCompareExchange(&live_sends, 0, 0) == 0)
            break; /* connections are the peers' to end; do not wait for them */
    }
    for (int i = 0; i < threads; i++)
        if (udp[i] != NULL)
            finish(&c, ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)udp[i]->Dispatch)->WskCloseSocket(udp[i], arm(&c)));
    for (PSLIST_ENTRY e; (e = InterlockedPopEntrySList(&spare_connections)) != NULL;)
        connection_free(CONTAINING_RECORD(e, connection, link));
    for (PSLIST_ENTRY e; (e = InterlockedPopEntrySList(&spare_sends)) != NULL;) {
        datagram_send *d = CONTAINING_RECORD(e, datagram_send, link);
        IoFreeIrp(d->irp);
        ExFreePoolWithTag(d, BENCH_TAG);
    }
    IoFreeIrp(c.irp);
    WskReleaseProviderNPI(&registration);
    if (InterlockedCompareExchange(&live_connections, 0, 0) == 0)
        WskDeregister(&registration); /* would wait for the open connections otherwise */
    return ok ? 0 : 1;
}
