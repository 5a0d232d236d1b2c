/*
 * test_wsk_event_control.c - the event rules around the callbacks
 * themselves (wsk-part-b.md §6.4-§6.6, wsk-part-a.md §6): disabling an
 * event while its callback runs (STATUS_EVENT_PENDING without an IRP, the
 * IRP held until the callback returns with one), WskSendBacklogEvent, and
 * the one-time WskAcceptEvent(AcceptSocket = NULL) of a listener that
 * stopped working.
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
#include "wt_wsk.h"

typedef struct cb_log {
    pthread_mutex_t mu;
    KEVENT called;
    LONG calls;
    /* receive callback: disable WSK_EVENT_RECEIVE from inside */
    PWSK_SOCKET self;
    BOOLEAN disable_with_irp;
    NTSTATUS disable_status;
    LONG irp_completions_inside; /* completions of the disable IRP seen inside the callback */
    /* send backlog */
    SIZE_T last_backlog;
    /* accept */
    LONG null_accepts;
    LONG real_accepts;
} cb_log;

/* The disable IRP lives outside cb_log: its completion routine writes it
 * while the test copies the log. */
static wt_irp disable_irp;

static void log_init(cb_log *log)
{
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->mu, NULL);
    KeInitializeEvent(&log->called, SynchronizationEvent, FALSE);
}

static cb_log view(cb_log *log)
{
    cb_log copy;
    pthread_mutex_lock(&log->mu);
    copy = *log;
    pthread_mutex_unlock(&log->mu);
    return copy;
}

static BOOLEAN wait_for(PKEVENT e, int ms)
{
    LARGE_INTEGER t = {.QuadPart = -(LONGLONG)ms * 10000};
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

static NTSTATUS set_events(PWSK_SOCKET s, ULONG mask, PIRP irp)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                               NULL, NULL, irp);
}

static NTSTATUS WSKAPI on_receive_disable(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                          SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)DataIndication;
    (void)BytesIndicated;
    (void)BytesAccepted;
    cb_log *log = SocketContext;
    pthread_mutex_lock(&log->mu);
    PIRP irp = log->disable_with_irp ? wt_irp_arm(&disable_irp) : NULL;
    log->disable_status = set_events(log->self, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, irp);
    log->irp_completions_inside = disable_irp.completions;
    log->calls++;
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->called, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS; /* consumed */
}

static NTSTATUS WSKAPI on_backlog(PVOID SocketContext, SIZE_T IdealBacklogSize)
{
    cb_log *log = SocketContext;
    pthread_mutex_lock(&log->mu);
    log->last_backlog = IdealBacklogSize;
    log->calls++;
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->called, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH receive_disabler = {on_receive_disable, NULL, NULL};
static const WSK_CLIENT_CONNECTION_DISPATCH backlog_events = {NULL, NULL, on_backlog};

/* A connection socket with the given event table, connected to a Linux listener. */
static PWSK_SOCKET connected(wt_wsk *t, cb_log *log, const WSK_CLIENT_CONNECTION_DISPATCH *events, int *peer,
                             int *lfd)
{
    *lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                 WSK_FLAG_CONNECTION_SOCKET, log, events, NULL, NULL, NULL,
                                                 wt_irp_arm(&t->irp));
    CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)t->irp.irp->IoStatus.Information;
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(*lfd));
    CHECK_EQ(wt_bind(t, s, &any), STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    r = d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t->irp));
    CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
    *peer = peer_accept(*lfd, 2000);
    CHECK(*peer >= 0);
    return s;
}

static NTSTATUS receive_some(wt_wsk *t, PWSK_SOCKET s, char *buf, ULONG len)
{
    PMDL m = IoAllocateMdl(buf, len, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, len};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskReceive(s, &b, 0, wt_irp_arm(&t->irp));
    NTSTATUS st = wt_irp_result(&t->irp, r);
    IoFreeMdl(m);
    return st;
}

/* Disabling the receive event from inside its own callback: the call is
 * running, so Windows reports STATUS_EVENT_PENDING (no IRP) or pends the
 * IRP until the callback returns; no indication follows either way. */
static void disable_inside_running_callback(BOOLEAN with_irp)
{
    wt_wsk t;
    wt_wsk_open(&t);
    cb_log log;
    log_init(&log);
    log.disable_with_irp = with_irp;
    int peer, lfd;
    PWSK_SOCKET s = connected(&t, &log, &receive_disabler, &peer, &lfd);
    log.self = s;
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE, NULL), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "first", 5), 5);
    CHECK(wait_for(&log.called, 2000));
    if (with_irp) {
        CHECK_EQ(view(&log).disable_status, STATUS_PENDING);
        CHECK_EQ(view(&log).irp_completions_inside, 0); /* held while the callback ran */
        CHECK_EQ(wt_irp_result(&disable_irp, STATUS_PENDING), STATUS_SUCCESS);
    } else {
        CHECK_EQ(view(&log).disable_status, STATUS_EVENT_PENDING);
    }
    /* Disabled: new data waits for a WskReceive instead of being indicated. */
    CHECK_EQ(peer_send_all(peer, "second", 6), 6);
    char buf[16];
    CHECK_EQ(receive_some(&t, s, buf, sizeof(buf)), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 6);
    CHECK_MEM(buf, "second", 6);
    CHECK_EQ(view(&log).calls, 1);
    /* Disabling again, with nothing running: immediate success. */
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, NULL), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_irp_free(&disable_irp);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void disable_running_event_without_irp(void)
{
    disable_inside_running_callback(FALSE);
}

static void disable_running_event_with_irp(void)
{
    disable_inside_running_callback(TRUE);
}

/* WskSendBacklogEvent: a first indication with the current ideal backlog
 * when enabled, another when it changes (here: a new send buffer size),
 * none once disabled. */
static void send_backlog_indications(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    cb_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected(&t, &log, &backlog_events, &peer, &lfd);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE, NULL), STATUS_INVALID_PARAMETER); /* no WskReceiveEvent in the table */
    CHECK_EQ(set_events(s, WSK_EVENT_SEND_BACKLOG, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&log.called, 2000));
    CHECK(view(&log).last_backlog > 0);
    /* The value indicated is the one SIO_WSK_QUERY_IDEAL_SEND_BACKLOG reports (no traffic moved it yet). */
    SIZE_T queried = 0;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL, sizeof(queried),
                                     &queried, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(queried, view(&log).last_backlog);

    /* A smaller send buffer changes the ideal backlog: the next send
     * completion indicates the new value. */
    SIZE_T first = view(&log).last_backlog;
    const SIZE_T total = 256 * 1024;
    PUCHAR data = ExAllocatePool2(POOL_FLAG_NON_PAGED, total, 'tseT');
    for (SIZE_T i = 0; i < total; i++)
        data[i] = peer_pattern(i);
    PMDL m = IoAllocateMdl(data, (ULONG)total, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_SNDBUF, 32 * 1024), STATUS_SUCCESS);
    peer_job *reader = peer_job_verify_reader(peer, total);
    WSK_BUF b = {m, 0, total};
    r = d->WskSend(s, &b, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_job_join(reader), (long)total);
    CHECK(wait_for(&log.called, 2000));
    /* (Not compared with a new query: the window moves with every ACK.) */
    CHECK(view(&log).last_backlog != first);
    CHECK(view(&log).last_backlog > 0);

    /* Disabled: the value changes again, nothing is indicated.  With an
     * IRP, so that an indication still running (one per send completion)
     * is waited for instead of answered with STATUS_EVENT_PENDING. */
    r = set_events(s, WSK_EVENT_SEND_BACKLOG | WSK_EVENT_DISABLE, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    LONG calls = view(&log).calls;
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_SNDBUF, 1024 * 1024), STATUS_SUCCESS);
    reader = peer_job_verify_reader(peer, total);
    r = d->WskSend(s, &b, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_job_join(reader), (long)total);
    usleep(50 * 1000); /* a late indication would have run by now */
    CHECK_EQ(view(&log).calls, calls);
    IoFreeMdl(m);
    ExFreePool(data);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)Flags;
    (void)AcceptSocketContext;
    (void)AcceptSocketDispatch;
    cb_log *log = SocketContext;
    pthread_mutex_lock(&log->mu);
    if (AcceptSocket == NULL) {
        CHECK(LocalAddress == NULL && RemoteAddress == NULL);
        log->null_accepts++;
    } else {
        log->real_accepts++;
    }
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->called, IO_NO_INCREMENT, FALSE);
    /* Declining resets an accepted connection; it is Microsoft's answer to the NULL indication. */
    return STATUS_REQUEST_NOT_ACCEPTED;
}

static const WSK_CLIENT_LISTEN_DISPATCH accept_events = {on_accept, NULL, NULL};

static PWSK_SOCKET listener(wt_wsk *t, cb_log *log, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket_with(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, log, &accept_events,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(t, l, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(t, l, &local), STATUS_SUCCESS);
    *port = RtlUshortByteSwap(local.sin_port);
    return l;
}

/* The transport stops a listener under the client (here: Linux shut the
 * listening socket down): one WskAcceptEvent with AcceptSocket == NULL,
 * then WskAccept fails with STATUS_FILE_FORCED_CLOSED. */
static void dead_listener_is_indicated_once(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    cb_log log;
    log_init(&log);
    USHORT port;
    PWSK_SOCKET l = listener(&t, &log, &port);
    CHECK_EQ(set_events(l, WSK_EVENT_ACCEPT, NULL), STATUS_SUCCESS);
    int p1 = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(wait_for(&log.called, 2000));
    CHECK_EQ(view(&log).real_accepts, 1);
    /* Declined: reset (the reset may already have failed the peer's connect). */
    if (p1 >= 0)
        CHECK_EQ(peer_drain(p1, 2000), -ECONNRESET);
    peer_close(p1);

    CHECK_EQ(peer_shutdown_both(((wsk_socket *)l)->fd), 0);
    CHECK(wait_for(&log.called, 2000));
    usleep(50 * 1000); /* room for a second indication, which must not come */
    CHECK_EQ(view(&log).null_accepts, 1);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    NTSTATUS r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_FILE_FORCED_CLOSED);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    CHECK_EQ(view(&log).null_accepts, 1);
    wt_wsk_close(&t);
}

/* Without accept events, a WskAccept waiting on the dead listener fails. */
static void pending_accept_fails_on_dead_listener(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    cb_log log;
    log_init(&log);
    USHORT port;
    PWSK_SOCKET l = listener(&t, &log, &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    wt_irp pending = {0};
    NTSTATUS r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&pending));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(peer_shutdown_both(((wsk_socket *)l)->fd), 0);
    CHECK_EQ(wt_irp_result(&pending, r), STATUS_FILE_FORCED_CLOSED);
    r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_FILE_FORCED_CLOSED);
    CHECK_EQ(view(&log).null_accepts, 0); /* accept events were never enabled */
    wt_irp_free(&pending);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(disable_running_event_without_irp);
    WT_RUN(disable_running_event_with_irp);
    WT_RUN(send_backlog_indications);
    WT_RUN(dead_listener_is_indicated_once);
    WT_RUN(pending_accept_fails_on_dead_listener);
    return wt_finish();
}
