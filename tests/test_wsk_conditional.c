/*
 * test_wsk_conditional.c - conditional accept (SO_CONDITIONAL_ACCEPT,
 * WskInspectEvent, WskInspectComplete, SIO_WSK_QUERY_INSPECT_ID;
 * wsk-part-a.md §6.5).  On Linux the handshake has completed before the
 * client is asked (docs/decisions.md): a rejected connection is reset.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wsk/wsk_internal.h"
#include "wsk/wsk_linux.h"
#include "wt_wsk.h"

typedef struct inspect_log {
    pthread_mutex_t mu;
    KEVENT asked;
    WSK_INSPECT_ACTION answer;
    WSK_INSPECT_ID last_id;
    USHORT last_remote_port;
    int calls;
    int aborts;
    WSK_INSPECT_ID aborted_id;
} inspect_log;

static inspect_log ilog;

static WSK_INSPECT_ACTION WSKAPI on_inspect(PVOID SocketContext, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                            PWSK_INSPECT_ID InspectID)
{
    (void)SocketContext;
    (void)LocalAddress;
    pthread_mutex_lock(&ilog.mu);
    ilog.last_id = *InspectID;
    ilog.last_remote_port = RtlUshortByteSwap(((PSOCKADDR_IN)RemoteAddress)->sin_port);
    ilog.calls++;
    WSK_INSPECT_ACTION a = ilog.answer;
    pthread_mutex_unlock(&ilog.mu);
    KeSetEvent(&ilog.asked, IO_NO_INCREMENT, FALSE);
    return a;
}

static NTSTATUS WSKAPI on_abort(PVOID SocketContext, PWSK_INSPECT_ID InspectID)
{
    (void)SocketContext;
    pthread_mutex_lock(&ilog.mu);
    ilog.aborts++;
    ilog.aborted_id = *InspectID;
    pthread_mutex_unlock(&ilog.mu);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH conditional_events = {NULL, on_inspect, on_abort};

static void set_answer(WSK_INSPECT_ACTION a)
{
    pthread_mutex_lock(&ilog.mu);
    ilog.answer = a;
    pthread_mutex_unlock(&ilog.mu);
}

static inspect_log snapshot(void)
{
    inspect_log copy;
    pthread_mutex_lock(&ilog.mu);
    copy = ilog;
    pthread_mutex_unlock(&ilog.mu);
    return copy;
}

static BOOLEAN asked(void)
{
    LARGE_INTEGER t = {.QuadPart = -2000LL * 10000};
    return KeWaitForSingleObject(&ilog.asked, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

static PWSK_SOCKET conditional_listener(wt_wsk *t, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket_with(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL,
                                   &conditional_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    CHECK_EQ(wt_set_ulong(t, l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_SUCCESS);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(t, l, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(t, l, &local), STATUS_SUCCESS);
    *port = RtlUshortByteSwap(local.sin_port);
    return l;
}

static PWSK_SOCKET accept_one(wt_wsk *t, PWSK_SOCKET l)
{
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    NTSTATUS r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t->irp));
    if (wt_irp_result(&t->irp, r) != STATUS_SUCCESS)
        return NULL;
    return (PWSK_SOCKET)t->irp.irp->IoStatus.Information;
}

static void inspect_then_accept_reject_pend(void)
{
    memset(&ilog, 0, sizeof(ilog));
    pthread_mutex_init(&ilog.mu, NULL);
    KeInitializeEvent(&ilog.asked, SynchronizationEvent, FALSE);
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = conditional_listener(&t, &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;

    /* Accepted at inspection: WskAccept then hands it over. */
    set_answer(WskInspectAccept);
    int p1 = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    CHECK_EQ(snapshot().last_remote_port, peer_local_port(p1));
    PWSK_SOCKET a1 = accept_one(&t, l);
    CHECK(a1 != NULL);
    WSK_INSPECT_ID id = {0, 0};
    SIZE_T got = 0;
    const WSK_PROVIDER_CONNECTION_DISPATCH *c = a1->Dispatch;
    CHECK_EQ(c->WskControlSocket(a1, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL, sizeof(id), &id, &got, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(got, sizeof(id));
    CHECK_EQ(id.Key, snapshot().last_id.Key);
    CHECK_EQ(id.SerialNumber, snapshot().last_id.SerialNumber);
    /* The IRP must be NULL: one given anyway fails the call, through the IRP. */
    WSK_INSPECT_ID untouched = {0, 0};
    got = 0;
    NTSTATUS r = c->WskControlSocket(a1, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL, sizeof(untouched),
                                     &untouched, &got, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    CHECK(untouched.Key == 0 && untouched.SerialNumber == 0 && got == 0);

    /* Rejected: the peer is reset and nothing reaches WskAccept. */
    set_answer(WskInspectReject);
    int p2 = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    if (p2 >= 0)
        CHECK_EQ(peer_drain(p2, 2000), -ECONNRESET);

    /* Pended: decided later with WskInspectComplete. */
    set_answer(WskInspectPend);
    int p3 = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    WSK_INSPECT_ID pended = snapshot().last_id;
    wt_irp waiting = {0};
    r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&waiting));
    CHECK_EQ(r, STATUS_PENDING);
    usleep(30 * 1000);
    CHECK_EQ(InterlockedCompareExchange(&waiting.completions, 0, 0), 0); /* still being inspected */
    WSK_INSPECT_ID bogus = {12345, 1};
    r = d->WskInspectComplete(l, &bogus, WskInspectAccept, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = d->WskInspectComplete(l, &pended, WskInspectPend, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER); /* Accept or Reject only */
    r = d->WskInspectComplete(l, &pended, WskInspectAccept, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&waiting, STATUS_PENDING), STATUS_SUCCESS);
    PWSK_SOCKET a3 = (PWSK_SOCKET)waiting.irp->IoStatus.Information;
    CHECK(a3 != NULL);
    /* The accepted connection carries data. */
    CHECK_EQ(peer_send_all(p3, "ok", 2), 2);
    char buf[2];
    PMDL m = IoAllocateMdl(buf, 2, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, 2};
    const WSK_PROVIDER_CONNECTION_DISPATCH *c3 = a3->Dispatch;
    r = c3->WskReceive(a3, &b, WSK_FLAG_WAITALL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_MEM(buf, "ok", 2);
    IoFreeMdl(m);

    /* A pended connection still undecided when the listener closes is reset;
     * a WskAccept waiting then is cancelled. */
    int p4 = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&waiting));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&waiting, STATUS_PENDING), STATUS_CANCELLED);
    if (p4 >= 0)
        CHECK_EQ(peer_drain(p4, 2000), -ECONNRESET);

    wt_irp_free(&waiting);
    r = c->WskCloseSocket(a1, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    r = c3->WskCloseSocket(a3, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    peer_close(p1);
    peer_close(p2);
    peer_close(p3);
    peer_close(p4);
    wt_wsk_close(&t);
}

static void inspect_id_only_for_conditional_sockets(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    WSK_INSPECT_ID id;
    SIZE_T got = 0;
    const WSK_PROVIDER_BASIC_DISPATCH *b = s->Dispatch;
    CHECK_EQ(b->WskControlSocket(s, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL, sizeof(id), &id, &got, NULL),
             STATUS_INVALID_DEVICE_REQUEST);
    wt_close(&t, s);
    /* WskInspectComplete on a listener without conditional accept. */
    PWSK_SOCKET l = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0);
    CHECK_EQ(wt_bind(&t, l, &addr), STATUS_SUCCESS);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    NTSTATUS r = d->WskInspectComplete(l, &id, WskInspectAccept, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_DEVICE_STATE);
    CHECK_EQ(d->WskInspectComplete(l, &id, WskInspectAccept, NULL), STATUS_INVALID_PARAMETER);
    wt_close(&t, l);
    wt_wsk_close(&t);
}

static void log_reset(void)
{
    memset(&ilog, 0, sizeof(ilog));
    pthread_mutex_init(&ilog.mu, NULL);
    KeInitializeEvent(&ilog.asked, SynchronizationEvent, FALSE);
}

/* Waits (up to 2 s) until the listener holds a connection in `list` whose
 * WskInspectEvent has returned and whose reset the provider's side has
 * received: loopback delivers a reset asynchronously under load, and these
 * tests are about what happens after it. */
static BOOLEAN wait_dead_in(PWSK_SOCKET listen_socket, BOOLEAN ready_list)
{
    wsk_socket *s = (wsk_socket *)listen_socket;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&s->lock);
        PLIST_ENTRY list = ready_list ? &s->ready : &s->inspecting;
        wsk_socket *child = IsListEmpty(list) ? NULL : CONTAINING_RECORD(list->Flink, wsk_socket, cond_link);
        BOOLEAN dead = child != NULL && !child->inspect_in_callback && lx_connection_gone(child->fd);
        pthread_mutex_unlock(&s->lock);
        if (dead)
            return TRUE;
        usleep(1000);
    }
    return FALSE;
}

/* The peer gives up (resets) while the client inspects: accepting it
 * later raises WskAbortEvent with its id and no connection is handed out. */
static void pended_connection_that_dies_is_aborted(void)
{
    log_reset();
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = conditional_listener(&t, &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    set_answer(WskInspectPend);
    int p = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    WSK_INSPECT_ID pended = snapshot().last_id;
    peer_reset_on_close(p);
    peer_close(p);
    CHECK(wait_dead_in(l, FALSE));
    NTSTATUS r = d->WskInspectComplete(l, &pended, WskInspectAccept, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(snapshot().aborts, 1);
    CHECK_EQ(snapshot().aborted_id.Key, pended.Key);
    CHECK_EQ(snapshot().aborted_id.SerialNumber, pended.SerialNumber);
    /* Nothing reaches WskAccept; the id is no longer pended. */
    wt_irp waiting = {0};
    r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&waiting));
    CHECK_EQ(r, STATUS_PENDING);
    usleep(30 * 1000);
    CHECK_EQ(InterlockedCompareExchange(&waiting.completions, 0, 0), 0);
    r = d->WskInspectComplete(l, &pended, WskInspectAccept, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    IoCancelIrp(waiting.irp);
    CHECK_EQ(wt_irp_result(&waiting, STATUS_PENDING), STATUS_CANCELLED);
    wt_irp_free(&waiting);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    CHECK_EQ(snapshot().aborts, 1);
    wt_wsk_close(&t);
}

/* Accepted at inspection, then reset before any WskAccept took it: the
 * next WskAccept raises WskAbortEvent and waits for a live connection. */
static void ready_connection_that_dies_is_aborted(void)
{
    log_reset();
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = conditional_listener(&t, &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    set_answer(WskInspectAccept);
    int dead = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    WSK_INSPECT_ID dead_id = snapshot().last_id;
    peer_reset_on_close(dead);
    peer_close(dead);
    CHECK(wait_dead_in(l, TRUE));
    wt_irp waiting = {0};
    NTSTATUS r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&waiting));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(snapshot().aborts, 1);
    CHECK_EQ(snapshot().aborted_id.SerialNumber, dead_id.SerialNumber);
    usleep(30 * 1000);
    CHECK_EQ(InterlockedCompareExchange(&waiting.completions, 0, 0), 0);
    /* A live connection completes the waiting WskAccept. */
    int live = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(asked());
    CHECK_EQ(wt_irp_result(&waiting, STATUS_PENDING), STATUS_SUCCESS);
    PWSK_SOCKET a = (PWSK_SOCKET)waiting.irp->IoStatus.Information;
    CHECK(a != NULL);
    SOCKADDR_IN remote;
    const WSK_PROVIDER_CONNECTION_DISPATCH *c = a->Dispatch;
    r = c->WskGetRemoteAddress(a, (PSOCKADDR)&remote, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(RtlUshortByteSwap(remote.sin_port), peer_local_port(live));
    r = c->WskCloseSocket(a, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    wt_irp_free(&waiting);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    CHECK_EQ(snapshot().aborts, 1);
    peer_close(live);
    wt_wsk_close(&t);
}

static KEVENT offered;
static PWSK_SOCKET offered_socket;
static USHORT offered_port;

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    (void)AcceptSocketContext;
    (void)AcceptSocketDispatch;
    pthread_mutex_lock(&ilog.mu);
    offered_socket = AcceptSocket;
    offered_port = RemoteAddress != NULL ? RtlUshortByteSwap(((PSOCKADDR_IN)RemoteAddress)->sin_port) : 0;
    pthread_mutex_unlock(&ilog.mu);
    KeSetEvent(&offered, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH conditional_with_accept_event = {on_accept, on_inspect, on_abort};

/* With accept events enabled, a connection accepted later through
 * WskInspectComplete reaches WskAcceptEvent (not a WskAccept queue). */
static void pended_then_accepted_goes_to_accept_event(void)
{
    log_reset();
    KeInitializeEvent(&offered, SynchronizationEvent, FALSE);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL,
                                   &conditional_with_accept_event, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    CHECK_EQ(wt_set_ulong(&t, l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_SUCCESS);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, l, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, l, &local), STATUS_SUCCESS);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT};
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    CHECK_EQ(d->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                 NULL, NULL, NULL),
             STATUS_SUCCESS);
    set_answer(WskInspectPend);
    int p = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port));
    CHECK(asked());
    WSK_INSPECT_ID pended = snapshot().last_id;
    LARGE_INTEGER short_wait = {.QuadPart = -30LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&offered, Executive, KernelMode, FALSE, &short_wait), STATUS_TIMEOUT);
    NTSTATUS r = d->WskInspectComplete(l, &pended, WskInspectAccept, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    LARGE_INTEGER wait = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&offered, Executive, KernelMode, FALSE, &wait), STATUS_SUCCESS);
    pthread_mutex_lock(&ilog.mu);
    PWSK_SOCKET a = offered_socket;
    USHORT port = offered_port;
    pthread_mutex_unlock(&ilog.mu);
    CHECK(a != NULL);
    CHECK_EQ(port, peer_local_port(p));
    /* The offered connection carries data to the peer. */
    char msg[3] = "hi!";
    PMDL m = IoAllocateMdl(msg, 3, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, 3};
    const WSK_PROVIDER_CONNECTION_DISPATCH *c = a->Dispatch;
    r = c->WskSend(a, &b, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    char got[3];
    CHECK_EQ(peer_recv_exact(p, got, 3, 2000), 3);
    CHECK_MEM(got, "hi!", 3);
    IoFreeMdl(m);
    r = c->WskCloseSocket(a, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    peer_close(p);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(inspect_then_accept_reject_pend);
    WT_RUN(inspect_id_only_for_conditional_sockets);
    WT_RUN(pended_connection_that_dies_is_aborted);
    WT_RUN(ready_connection_that_dies_is_aborted);
    WT_RUN(pended_then_accepted_goes_to_accept_event);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
