/*
 * test_wsk_events.c - SO_WSK_EVENT_CALLBACK on listen sockets and
 * WskAcceptEvent (wsk-part-a.md §6, wsk-part-b.md §6.5), and WskSocketConnect.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

typedef struct accept_log {
    KEVENT arrived;
    volatile LONG calls;
    ULONG flags;
    KIRQL irql;
    SOCKADDR_STORAGE remote;
    PWSK_SOCKET socket;
    NTSTATUS answer;
    PVOID context_seen;
} accept_log;

static accept_log the_log;

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    accept_log *log = &the_log;
    log->context_seen = SocketContext;
    log->flags = Flags;
    log->irql = KeGetCurrentIrql();
    CHECK(LocalAddress != NULL);
    if (RemoteAddress != NULL)
        memcpy(&log->remote, RemoteAddress, sizeof(SOCKADDR_IN6));
    if (log->answer == STATUS_SUCCESS) {
        log->socket = AcceptSocket;
        *AcceptSocketContext = log;
        *AcceptSocketDispatch = NULL;
    }
    InterlockedIncrement(&log->calls);
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return log->answer;
}

static const WSK_CLIENT_LISTEN_DISPATCH listen_events = {on_accept, NULL, NULL};

static NTSTATUS set_events(wt_wsk *t, PWSK_SOCKET s, ULONG mask, BOOLEAN with_irp)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    if (!with_irp)
        return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                   NULL, NULL, NULL);
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                     NULL, NULL, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static PWSK_SOCKET event_listener(wt_wsk *t, USHORT *port)
{
    PWSK_SOCKET l;
    NTSTATUS st;
    l = wt_socket_with(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &the_log, &listen_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    /* Events are for bound sockets only. */
    CHECK_EQ(set_events(t, l, WSK_EVENT_ACCEPT, FALSE), STATUS_INVALID_DEVICE_STATE);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(t, l, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(t, l, &local), STATUS_SUCCESS);
    *port = RtlUshortByteSwap(local.sin_port);
    return l;
}

static void accept_event_delivers_connections(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    memset(&the_log, 0, sizeof(the_log));
    KeInitializeEvent(&the_log.arrived, SynchronizationEvent, FALSE);
    the_log.answer = STATUS_SUCCESS;
    USHORT port;
    PWSK_SOCKET l = event_listener(&t, &port);
    CHECK_EQ(set_events(&t, l, WSK_EVENT_ACCEPT, FALSE), STATUS_SUCCESS); /* enabling needs no IRP */
    int peer = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(peer >= 0);
    LARGE_INTEGER timeout = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&the_log.arrived, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    CHECK_EQ(the_log.calls, 1);
    CHECK(the_log.context_seen == &the_log);
    CHECK_EQ(the_log.flags & WSK_FLAG_AT_DISPATCH_LEVEL, WSK_FLAG_AT_DISPATCH_LEVEL);
    CHECK_EQ(the_log.irql, DISPATCH_LEVEL);
    CHECK_EQ(RtlUshortByteSwap(((SOCKADDR_IN *)&the_log.remote)->sin_port), peer_local_port(peer));
    /* The accepted socket works. */
    PWSK_SOCKET s = the_log.socket;
    CHECK(s != NULL);
    UCHAR data[8];
    PMDL mdl = IoAllocateMdl(data, sizeof(data), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    WSK_BUF buf = {mdl, 0, 5};
    CHECK_EQ(peer_send_all(peer, "ping!", 5), 5);
    const WSK_PROVIDER_CONNECTION_DISPATCH *c = s->Dispatch;
    NTSTATUS r = c->WskReceive(s, &buf, WSK_FLAG_WAITALL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_MEM(data, "ping!", 5);
    IoFreeMdl(mdl);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);

    /* Disabled (with an IRP this time): a new connection waits unseen. */
    CHECK_EQ(set_events(&t, l, WSK_EVENT_DISABLE | WSK_EVENT_ACCEPT, TRUE), STATUS_SUCCESS);
    usleep(20 * 1000);
    peer = peer_tcp_connect(4, "127.0.0.1", port);
    usleep(50 * 1000);
    CHECK_EQ(the_log.calls, 1);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void refused_connection_is_reset(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    memset(&the_log, 0, sizeof(the_log));
    KeInitializeEvent(&the_log.arrived, SynchronizationEvent, FALSE);
    the_log.answer = STATUS_REQUEST_NOT_ACCEPTED;
    USHORT port;
    PWSK_SOCKET l = event_listener(&t, &port);
    CHECK_EQ(set_events(&t, l, WSK_EVENT_ACCEPT, FALSE), STATUS_SUCCESS);
    int peer = peer_tcp_connect(4, "127.0.0.1", port);
    LARGE_INTEGER timeout = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&the_log.arrived, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    /* The reset can beat the client's own connect check: either way it is a reset. */
    if (peer != -ECONNRESET) {
        CHECK(peer >= 0);
        CHECK_EQ(peer_drain(peer, 2000), -ECONNRESET);
        peer_close(peer);
    }
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    CHECK_EQ(openwsk_pool_outstanding_count(0) > 0, TRUE); /* the registration still lives */
    wt_wsk_close(&t);
}

static void bad_event_requests(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    memset(&the_log, 0, sizeof(the_log));
    PWSK_SOCKET l = event_listener(&t, &port);
    CHECK_EQ(set_events(&t, l, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_INVALID_PARAMETER); /* not a listener event */
    CHECK_EQ(set_events(&t, l, 0, FALSE), STATUS_INVALID_PARAMETER);
    CHECK_EQ(set_events(&t, l, WSK_EVENT_DISABLE | WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE, FALSE),
             STATUS_INVALID_PARAMETER); /* disable names one event */
    GUID other = {1, 2, 3, {4, 5, 6, 7, 8, 9, 10, 11}};
    WSK_EVENT_CALLBACK_CONTROL control = {&other, WSK_EVENT_ACCEPT};
    const WSK_PROVIDER_BASIC_DISPATCH *d = l->Dispatch;
    CHECK_EQ(d->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                 NULL, NULL, NULL),
             STATUS_INVALID_PARAMETER);
    CHECK_EQ(d->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 4, &control, 0, NULL, NULL,
                                 NULL),
             STATUS_INVALID_PARAMETER);
    wt_close(&t, l);
    /* A listener created without a client dispatch cannot take accept events. */
    NTSTATUS st;
    PWSK_SOCKET bare = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_IN any = wt_in4("127.0.0.1", 0);
    CHECK_EQ(wt_bind(&t, bare, &any), STATUS_SUCCESS);
    CHECK_EQ(set_events(&t, bare, WSK_EVENT_ACCEPT, FALSE), STATUS_INVALID_PARAMETER);
    wt_close(&t, bare);
    wt_wsk_close(&t);
}

static void socket_connect_in_one_irp(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    USHORT port = peer_local_port(lfd);
    wt_wsk t;
    wt_wsk_open(&t);
    SOCKADDR_IN local = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", port);
    NTSTATUS r = t.provider.Dispatch->WskSocketConnect(t.provider.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&local,
                                                       (PSOCKADDR)&remote, 0, NULL, NULL, NULL, NULL, NULL,
                                                       wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)t.irp.irp->IoStatus.Information;
    CHECK(s != NULL);
    int peer = peer_accept(lfd, 2000);
    CHECK(peer >= 0);
    const WSK_PROVIDER_CONNECTION_DISPATCH *c = s->Dispatch;
    UCHAR hi[2] = {'h', 'i'};
    PMDL mdl = IoAllocateMdl(hi, 2, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    WSK_BUF buf = {mdl, 0, 2};
    r = c->WskSend(s, &buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    char got[2];
    CHECK_EQ(peer_recv_exact(peer, got, 2, 2000), 2);
    CHECK_MEM(got, "hi", 2);
    IoFreeMdl(mdl);
    r = c->WskCloseSocket(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    peer_close(peer);
    peer_close(lfd);

    /* Refused: no socket comes back, nothing is left behind. */
    SIZE_T before = openwsk_pool_outstanding_count(0);
    USHORT closed = peer_free_port();
    SOCKADDR_IN nowhere = wt_in4("127.0.0.1", closed);
    r = t.provider.Dispatch->WskSocketConnect(t.provider.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&local,
                                              (PSOCKADDR)&nowhere, 0, NULL, NULL, NULL, NULL, NULL,
                                              wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CONNECTION_REFUSED);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    CHECK_EQ(openwsk_pool_outstanding_count(0), before);

    /* Bad inputs. */
    r = t.provider.Dispatch->WskSocketConnect(t.provider.Client, SOCK_STREAM, IPPROTO_TCP, NULL, (PSOCKADDR)&remote, 0,
                                              NULL, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = t.provider.Dispatch->WskSocketConnect(t.provider.Client, SOCK_DGRAM, IPPROTO_UDP, (PSOCKADDR)&local,
                                              (PSOCKADDR)&remote, 0, NULL, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_NOT_SUPPORTED);
    CHECK_EQ(t.provider.Dispatch->WskSocketConnect(t.provider.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&local,
                                                   (PSOCKADDR)&remote, 0, NULL, NULL, NULL, NULL, NULL, NULL),
             STATUS_INVALID_PARAMETER);
    wt_wsk_close(&t);
}

static void client_control_static_events_and_transports(void)
{
    WSK_CLIENT_NPI npi = {NULL, &wt_client_dispatch};
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI p;
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &p), STATUS_SUCCESS);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT};
    wt_irp irp = {0};
    /* The IRP must be NULL (one given anyway fails the request, through the
     * IRP); the request comes before any socket, once. */
    NTSTATUS r = p.Dispatch->WskControlClient(p.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(control), &control, 0,
                                              NULL, NULL, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(control), &control, 0,
                                          NULL, NULL, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(control), &control, 0,
                                          NULL, NULL, NULL),
             STATUS_INVALID_DEVICE_STATE);

    /* A listener gets accept events without asking, as soon as it is bound. */
    memset(&the_log, 0, sizeof(the_log));
    KeInitializeEvent(&the_log.arrived, SynchronizationEvent, FALSE);
    the_log.answer = STATUS_REQUEST_NOT_ACCEPTED;
    r = p.Dispatch->WskSocket(p.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &the_log,
                              &listen_events, NULL, NULL, NULL, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    PWSK_SOCKET l = (PWSK_SOCKET)irp.irp->IoStatus.Information;
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    r = d->WskBind(l, (PSOCKADDR)&addr, 0, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    r = d->WskGetLocalAddress(l, (PSOCKADDR)&local, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    int peer = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port));
    LARGE_INTEGER timeout = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&the_log.arrived, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    if (peer >= 0)
        peer_close(peer);
    /* Static events can be neither disabled nor re-enabled. */
    WSK_EVENT_CALLBACK_CONTROL off = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_DISABLE | WSK_EVENT_ACCEPT};
    CHECK_EQ(d->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(off), &off, 0, NULL,
                                 NULL, NULL),
             STATUS_INVALID_PARAMETER);
    r = d->WskCloseSocket(l, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);

    /* The transport list: the size first, then TCP and UDP over IPv4 and IPv6. */
    SIZE_T needed = 0;
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, 0, NULL, &needed, NULL),
             STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(needed, 4 * sizeof(WSK_TRANSPORT));
    WSK_TRANSPORT list[4];
    SIZE_T got = 0;
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(list), list, &got, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(got, sizeof(list));
    int tcp4 = 0, udp6 = 0;
    for (int i = 0; i < 4; i++) {
        tcp4 += list[i].SocketType == SOCK_STREAM && list[i].Protocol == IPPROTO_TCP && list[i].AddressFamily == AF_INET;
        udp6 += list[i].SocketType == SOCK_DGRAM && list[i].Protocol == IPPROTO_UDP && list[i].AddressFamily == AF_INET6;
    }
    CHECK_EQ(tcp4, 1);
    CHECK_EQ(udp6, 1);
    ULONG bypass = WSK_TDI_BEHAVIOR_BYPASS_TDI, bogus = 0x10;
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_TDI_BEHAVIOR, sizeof(bypass), &bypass, 0, NULL, NULL, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_TDI_BEHAVIOR, sizeof(bogus), &bogus, 0, NULL, NULL, NULL),
             STATUS_INVALID_PARAMETER);
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, 99, 0, NULL, 0, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(p.Dispatch->WskControlClient(NULL, WSK_TDI_BEHAVIOR, sizeof(bypass), &bypass, 0, NULL, NULL, NULL),
             STATUS_INVALID_HANDLE);
    wt_irp_free(&irp);
    WskReleaseProviderNPI(&reg);
    WskDeregister(&reg);
}

int main(void)
{
    WT_RUN(accept_event_delivers_connections);
    WT_RUN(refused_connection_is_reset);
    WT_RUN(bad_event_requests);
    WT_RUN(socket_connect_in_one_irp);
    WT_RUN(client_control_static_events_and_transports);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
