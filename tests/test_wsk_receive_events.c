/*
 * test_wsk_receive_events.c - WskReceiveEvent and WskDisconnectEvent on
 * connection sockets (wsk-part-b.md §6): the return-code state machine
 * (all accepted, partly accepted, STATUS_DATA_NOT_ACCEPTED, STATUS_PENDING
 * with WskRelease), precedence of queued receives, graceful and abortive
 * disconnect indications, sending from inside the callback, inheritance
 * from a listener, and close cancelling queued receives.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "kernel/verifier.h"
#include "linux_peer.h"
#include "wt_wsk.h"

/* Callbacks run on engine threads; the test reads what they saw under
 * `mu` (data reaches them through the kernel's sockets, which ThreadSanitizer
 * cannot see, so plain reads would look racy). */
typedef struct events_log {
    pthread_mutex_t mu;
    KEVENT data;          /* set after each receive indication */
    KEVENT disconnect;
    volatile LONG indications;
    ULONG last_flags;
    KIRQL irql;
    char got[256];
    SIZE_T got_len;
    NTSTATUS answer;      /* what WskReceiveEvent returns */
    SIZE_T accept_bytes;  /* with STATUS_SUCCESS: how many bytes to accept */
    PWSK_DATA_INDICATION retained;
    ULONG disconnect_flags;
    PWSK_SOCKET echo_to;  /* if set, the callback sends what it got back on this socket */
    PIRP echo_irp;
    PMDL echo_mdl;
    char echo_buf[256];
} events_log;

static NTSTATUS echo_done(PDEVICE_OBJECT d, PIRP irp, PVOID ctx)
{
    (void)d;
    (void)irp;
    KeSetEvent((PKEVENT)ctx, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static KEVENT echo_sent;

static NTSTATUS WSKAPI on_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                  SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    events_log *log = SocketContext;
    pthread_mutex_lock(&log->mu);
    log->last_flags = Flags;
    log->irql = KeGetCurrentIrql();
    SIZE_T n = 0;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority);
        SIZE_T len = i->Buffer.Length;
        if (log->got_len + len > sizeof(log->got))
            len = sizeof(log->got) - log->got_len;
        memcpy(log->got + log->got_len, va + i->Buffer.Offset, len);
        log->got_len += len;
        n += i->Buffer.Length;
    }
    CHECK_EQ(n, BytesIndicated);
    NTSTATUS answer = log->answer;
    if (answer == STATUS_SUCCESS && log->accept_bytes < BytesIndicated) {
        *BytesAccepted = log->accept_bytes;
        log->got_len -= BytesIndicated - log->accept_bytes; /* only the accepted part counts as seen */
    }
    if (answer == STATUS_PENDING)
        log->retained = DataIndication;
    if (log->echo_to != NULL) {
        /* Calls back into the provider from the callback: a send of what arrived. */
        memcpy(log->echo_buf, log->got, log->got_len);
        WSK_BUF b = {log->echo_mdl, 0, log->got_len};
        IoReuseIrp(log->echo_irp, STATUS_UNSUCCESSFUL);
        IoSetCompletionRoutine(log->echo_irp, echo_done, &echo_sent, TRUE, TRUE, TRUE);
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = log->echo_to->Dispatch;
        d->WskSend(log->echo_to, &b, 0, log->echo_irp);
        log->got_len = 0;
    }
    InterlockedIncrement(&log->indications);
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->data, IO_NO_INCREMENT, FALSE);
    return answer;
}

static NTSTATUS WSKAPI on_disconnect(PVOID SocketContext, ULONG Flags)
{
    events_log *log = SocketContext;
    pthread_mutex_lock(&log->mu);
    log->disconnect_flags = Flags;
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->disconnect, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH conn_events = {on_receive, on_disconnect, NULL};

static void log_init(events_log *log)
{
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->mu, NULL);
    KeInitializeEvent(&log->data, SynchronizationEvent, FALSE);
    KeInitializeEvent(&log->disconnect, NotificationEvent, FALSE);
    log->answer = STATUS_SUCCESS;
    log->accept_bytes = (SIZE_T)-1;
}

/* A consistent copy of what the callbacks recorded. */
static events_log view(events_log *log)
{
    events_log copy;
    pthread_mutex_lock(&log->mu);
    copy = *log;
    pthread_mutex_unlock(&log->mu);
    return copy;
}

static void set_answer(events_log *log, NTSTATUS answer, SIZE_T accept_bytes)
{
    pthread_mutex_lock(&log->mu);
    log->answer = answer;
    log->accept_bytes = accept_bytes;
    pthread_mutex_unlock(&log->mu);
}

static BOOLEAN wait_for(PKEVENT e, int ms)
{
    LARGE_INTEGER t = {.QuadPart = -(LONGLONG)ms * 10000};
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

static NTSTATUS enable(wt_wsk *t, PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                               NULL, NULL, NULL);
}

/* A connection socket with an event dispatch table, connected to a Linux listener. */
static PWSK_SOCKET connected_with(wt_wsk *t, events_log *log, const WSK_CLIENT_CONNECTION_DISPATCH *events,
                                  int *peer, int *lfd)
{
    *lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                 WSK_FLAG_CONNECTION_SOCKET, log, events, NULL, NULL, NULL,
                                                 wt_irp_arm(&t->irp));
    CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)t->irp.irp->IoStatus.Information;
    CHECK_EQ(enable(t, s, WSK_EVENT_RECEIVE), STATUS_INVALID_DEVICE_STATE); /* not connected yet */
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(*lfd));
    CHECK_EQ(wt_bind(t, s, &any), STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    r = d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t->irp));
    CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
    *peer = peer_accept(*lfd, 2000);
    CHECK(*peer >= 0);
    return s;
}

static PWSK_SOCKET connected_with_events(wt_wsk *t, events_log *log, int *peer, int *lfd)
{
    return connected_with(t, log, &conn_events, peer, lfd);
}

static NTSTATUS receive_into(wt_wsk *t, PWSK_SOCKET s, char *buf, ULONG len, ULONG flags)
{
    PMDL m = IoAllocateMdl(buf, len, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, len};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskReceive(s, &b, flags, wt_irp_arm(&t->irp));
    NTSTATUS st = wt_irp_result(&t->irp, r);
    IoFreeMdl(m);
    return st;
}

static void indications_accepted_whole(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    CHECK(wait_for(&log.data, 2000));
    CHECK_EQ(view(&log).got_len, 5);
    CHECK_MEM(view(&log).got, "hello", 5);
    CHECK_EQ(view(&log).last_flags & WSK_FLAG_AT_DISPATCH_LEVEL, WSK_FLAG_AT_DISPATCH_LEVEL);
    CHECK_EQ(view(&log).irql, DISPATCH_LEVEL);
    CHECK_EQ(peer_send_all(peer, " world", 6), 6);
    CHECK(wait_for(&log.data, 2000));
    CHECK_EQ(view(&log).got_len, 11);
    CHECK_MEM(view(&log).got, "hello world", 11);
    /* The peer closes: a graceful disconnect indication. */
    peer_shutdown_write(peer);
    CHECK(wait_for(&log.disconnect, 2000));
    CHECK_EQ(view(&log).disconnect_flags & WSK_FLAG_ABORTIVE, 0);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void partial_and_declined_indications_pause(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    set_answer(&log, view(&log).answer, 2);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "abcdef", 6), 6);
    CHECK(wait_for(&log.data, 2000));
    CHECK_MEM(view(&log).got, "ab", 2);
    /* Paused: new data is not indicated until a WskReceive completes. */
    set_answer(&log, view(&log).answer, (SIZE_T)-1);
    CHECK_EQ(peer_send_all(peer, "XYZ", 3), 3);
    CHECK(!wait_for(&log.data, 100));
    CHECK_EQ(view(&log).indications, 1);
    char buf[16] = {0};
    CHECK_EQ(receive_into(&t, s, buf, sizeof(buf), 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 4);
    CHECK_MEM(buf, "cdef", 4); /* the unaccepted tail comes first */
    /* Resumed. */
    CHECK(wait_for(&log.data, 2000));
    CHECK_MEM(view(&log).got + 2, "XYZ", 3);
    /* STATUS_DATA_NOT_ACCEPTED: nothing taken, the data waits for a receive. */
    set_answer(&log, STATUS_DATA_NOT_ACCEPTED, view(&log).accept_bytes);
    CHECK_EQ(peer_send_all(peer, "later", 5), 5);
    CHECK(wait_for(&log.data, 2000));
    set_answer(&log, STATUS_SUCCESS, view(&log).accept_bytes);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(receive_into(&t, s, buf, 5, WSK_FLAG_WAITALL), STATUS_SUCCESS);
    CHECK_MEM(buf, "later", 5);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void retained_indications_and_release(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    set_answer(&log, STATUS_PENDING, view(&log).accept_bytes);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "keep", 4), 4);
    CHECK(wait_for(&log.data, 2000));
    PWSK_DATA_INDICATION first = view(&log).retained;
    CHECK(first != NULL);
    /* Retained data stays readable until released; indications go on. */
    PUCHAR va = MmGetSystemAddressForMdlSafe(first->Buffer.Mdl, NormalPagePriority);
    CHECK_MEM(va + first->Buffer.Offset, "keep", 4);
    CHECK_EQ(peer_send_all(peer, "more", 4), 4);
    CHECK(wait_for(&log.data, 2000));
    PWSK_DATA_INDICATION second = view(&log).retained;
    CHECK(second != first);
    usleep(20 * 1000); /* the list is the client's once the callback has returned */
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    /* Released in any order; a second release of the same list is refused. */
    CHECK_EQ(d->WskRelease(s, second), STATUS_SUCCESS);
    CHECK_EQ(d->WskRelease(s, first), STATUS_SUCCESS);
    /* A second release is refused (the verifier's wsk group stops it instead). */
    if (!(openwsk_verify_enabled_groups() & OPENWSK_VERIFY_WSK))
        CHECK_EQ(d->WskRelease(s, first), STATUS_INVALID_PARAMETER);
    CHECK_EQ(d->WskRelease(s, NULL), STATUS_INVALID_PARAMETER);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* A client may hand a retained indication to another thread before its
 * callback returns STATUS_PENDING; that thread's WskRelease counts (as for
 * datagram indications, docs/decisions.md).  Fields under `mu`: the test
 * thread and the callbacks meet through the kernel's sockets, which
 * ThreadSanitizer cannot see. */
typedef struct early_release {
    pthread_mutex_t mu;
    PWSK_SOCKET socket;
    PWSK_DATA_INDICATION indication;
    NTSTATUS status;
    LONG calls;
} early_release;

static early_release early = {.mu = PTHREAD_MUTEX_INITIALIZER};

static NTSTATUS early_status(void)
{
    pthread_mutex_lock(&early.mu);
    NTSTATUS st = early.status;
    pthread_mutex_unlock(&early.mu);
    return st;
}

static void *early_release_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&early.mu);
    PWSK_SOCKET s = early.socket;
    PWSK_DATA_INDICATION i = early.indication;
    pthread_mutex_unlock(&early.mu);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS st = d->WskRelease(s, i);
    pthread_mutex_lock(&early.mu);
    early.status = st;
    pthread_mutex_unlock(&early.mu);
    return NULL;
}

static NTSTATUS WSKAPI on_receive_release_early(PVOID SocketContext, ULONG Flags,
                                                PWSK_DATA_INDICATION DataIndication, SIZE_T BytesIndicated,
                                                SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    events_log *log = SocketContext;
    pthread_mutex_lock(&early.mu);
    early.indication = DataIndication;
    early.status = STATUS_PENDING;
    pthread_mutex_unlock(&early.mu);
    pthread_t t;
    pthread_create(&t, NULL, early_release_thread, NULL);
    pthread_join(t, NULL); /* released before this callback returns */
    pthread_mutex_lock(&early.mu);
    early.calls++;
    pthread_mutex_unlock(&early.mu);
    KeSetEvent(&log->data, IO_NO_INCREMENT, FALSE);
    return STATUS_PENDING;
}

static const WSK_CLIENT_CONNECTION_DISPATCH release_early_events = {on_receive_release_early, NULL, NULL};

static void release_before_the_callback_returns(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with(&t, &log, &release_early_events, &peer, &lfd);
    pthread_mutex_lock(&early.mu);
    early.socket = s;
    early.status = STATUS_PENDING;
    early.calls = 0;
    pthread_mutex_unlock(&early.mu);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(peer_send_all(peer, "early", 5), 5);
        CHECK(wait_for(&log.data, 2000));
        CHECK_EQ(early_status(), STATUS_SUCCESS);
    }
    pthread_mutex_lock(&early.mu);
    LONG calls = early.calls;
    pthread_mutex_unlock(&early.mu);
    CHECK_EQ(calls, 3);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void queued_receives_come_first_and_close_cancels(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    /* A receive waiting when data arrives gets it; no indication. */
    char buf[8] = {0};
    PMDL m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, 3};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskReceive(s, &b, WSK_FLAG_WAITALL, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(peer_send_all(peer, "irp", 3), 3);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_MEM(buf, "irp", 3);
    CHECK_EQ(view(&log).indications, 0);
    /* Two queued receives, then close: both cancelled. */
    wt_irp a = {0}, c = {0};
    CHECK_EQ(d->WskReceive(s, &b, 0, wt_irp_arm(&a)), STATUS_PENDING);
    CHECK_EQ(d->WskReceive(s, &b, 0, wt_irp_arm(&c)), STATUS_PENDING);
    r = d->WskCloseSocket(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&a, STATUS_PENDING), STATUS_CANCELLED);
    CHECK_EQ(wt_irp_result(&c, STATUS_PENDING), STATUS_CANCELLED);
    CHECK_EQ(a.irp->IoStatus.Information, 0);
    wt_irp_free(&a);
    wt_irp_free(&c);
    IoFreeMdl(m);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void reset_is_an_abortive_disconnect(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    CHECK_EQ(enable(&t, s, WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    peer_reset_on_close(peer);
    peer_close(peer);
    CHECK(wait_for(&log.disconnect, 2000));
    CHECK_EQ(view(&log).disconnect_flags & WSK_FLAG_ABORTIVE, WSK_FLAG_ABORTIVE);
    wt_close(&t, s);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* After the socket's own abortive WskDisconnect neither send nor receive is
 * possible (PFN_WSK_DISCONNECT): with receive and disconnect events on, the
 * data the provider held is dropped, receives fail as they do without
 * events, and no WskDisconnectEvent reports the abort as the peer's close. */
static void own_abort_ends_receives_as_without_events(void)
{
    NTSTATUS seen[2][2] = {{0}};
    for (int events = 1; events >= 0; events--) {
        wt_wsk t;
        wt_wsk_open(&t);
        events_log log;
        log_init(&log);
        int peer, lfd;
        PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
        if (events) {
            set_answer(&log, STATUS_DATA_NOT_ACCEPTED, (SIZE_T)-1);
            CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
        }
        CHECK_EQ(peer_send_all(peer, "data", 4), 4);
        if (events)
            CHECK(wait_for(&log.data, 2000)); /* declined: the provider holds it */
        else
            usleep(50 * 1000); /* in the Linux socket */
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        NTSTATUS r = d->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&t.irp));
        CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
        for (int i = 0; i < 2; i++) {
            char buf[16] = {0};
            seen[events][i] = receive_into(&t, s, buf, sizeof(buf), 0);
            CHECK(!NT_SUCCESS(seen[events][i]));
            CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
        }
        CHECK(!wait_for(&log.disconnect, 100)); /* our own abort, not the peer's doing */
        CHECK_EQ(peer_drain(peer, 2000), -ECONNRESET);
        wt_close(&t, s);
        peer_close(peer);
        peer_close(lfd);
        wt_wsk_close(&t);
    }
    CHECK_EQ(seen[1][0], seen[0][0]);
    CHECK_EQ(seen[1][1], seen[0][1]);
    CHECK_EQ(seen[0][0], STATUS_CONNECTION_ABORTED);
    CHECK_EQ(seen[0][1], STATUS_CONNECTION_ABORTED);
}

/* Events enabled after the socket's own abort start no reader: the engine
 * stays idle (it read in a loop before), a receive fails as aborted and no
 * WskDisconnectEvent comes. */
static void events_after_own_abort_stay_idle(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    usleep(50 * 1000);
    long before = peer_process_cpu_ms();
    usleep(400 * 1000); /* this thread sleeps: the time is the engine's */
    long used = peer_process_cpu_ms() - before;
    CHECK(used < 100);
    char buf[16];
    CHECK_EQ(receive_into(&t, s, buf, sizeof(buf), 0), STATUS_CONNECTION_ABORTED);
    CHECK(!wait_for(&log.disconnect, 100));
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* A WskReceiveEvent running across the socket's own abort declines its
 * data after it: those bytes are dropped with the rest, and the receive
 * queued meanwhile fails as aborted, holding nothing. */
static volatile LONG hold_in, hold_go;

static NTSTATUS WSKAPI on_receive_held(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                       SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    (void)DataIndication;
    (void)BytesIndicated;
    (void)BytesAccepted;
    InterlockedExchange(&hold_in, 1);
    while (InterlockedCompareExchange(&hold_go, 0, 0) == 0)
        usleep(1000);
    return STATUS_DATA_NOT_ACCEPTED;
}

static const WSK_CLIENT_CONNECTION_DISPATCH held_events = {on_receive_held, on_disconnect, NULL};

static void indication_across_own_abort(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    hold_in = hold_go = 0;
    PWSK_SOCKET s = connected_with(&t, &log, &held_events, &peer, &lfd);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "data", 4), 4);
    for (int i = 0; i < 2000 && !InterlockedCompareExchange(&hold_in, 0, 0); i++)
        usleep(1000);
    CHECK(hold_in);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    char buf[16] = {0};
    PMDL m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(buf)};
    wt_irp rx = {0};
    NTSTATUS rr = d->WskReceive(s, &b, 0, wt_irp_arm(&rx)); /* waits behind the indication */
    CHECK_EQ(rr, STATUS_PENDING);
    NTSTATUS r = d->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    InterlockedExchange(&hold_go, 1); /* it declines now, after the abort */
    CHECK_EQ(wt_irp_result(&rx, rr), STATUS_CONNECTION_ABORTED);
    CHECK_EQ(rx.irp->IoStatus.Information, 0);
    CHECK(!wait_for(&log.disconnect, 100));
    wt_irp_free(&rx);
    IoFreeMdl(m);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* The peer's data, declined, then its FIN, read while indications wait;
 * a zero-length receive resumes them and, inside that indication, the
 * driver posts a receive and aborts its socket.  The receive fails as
 * aborted: after the socket's own abort the FIN seen before is not what
 * ends it (a success with 0 bytes would say the peer closed). */
static PWSK_SOCKET fin_abort_socket;
static volatile LONG fin_abort_calls;
static wt_irp fin_abort_rx, fin_abort_irp;
static NTSTATUS fin_abort_rx_ret, fin_abort_ret;
static char fin_abort_buf[16];
static PMDL fin_abort_mdl;

static NTSTATUS WSKAPI on_receive_abort_second(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                               SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    if (DataIndication != NULL && InterlockedIncrement(&fin_abort_calls) == 2) {
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = fin_abort_socket->Dispatch;
        WSK_BUF b = {fin_abort_mdl, 0, sizeof(fin_abort_buf)};
        fin_abort_rx_ret = d->WskReceive(fin_abort_socket, &b, 0, wt_irp_arm(&fin_abort_rx));
        fin_abort_ret = d->WskDisconnect(fin_abort_socket, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&fin_abort_irp));
    }
    return STATUS_DATA_NOT_ACCEPTED;
}

static const WSK_CLIENT_CONNECTION_DISPATCH abort_second_events = {on_receive_abort_second, on_disconnect, NULL};

static void own_abort_after_the_peers_fin(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    fin_abort_calls = 0;
    fin_abort_mdl = IoAllocateMdl(fin_abort_buf, sizeof(fin_abort_buf), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(fin_abort_mdl);
    fin_abort_socket = connected_with(&t, &log, &abort_second_events, &peer, &lfd);
    CHECK_EQ(enable(&t, fin_abort_socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "data", 4), 4);
    for (int i = 0; i < 2000 && InterlockedCompareExchange(&fin_abort_calls, 0, 0) == 0; i++)
        usleep(1000);
    CHECK_EQ(InterlockedCompareExchange(&fin_abort_calls, 0, 0), 1); /* declined: indications wait */
    CHECK_EQ(peer_shutdown_write(peer), 0);
    usleep(100 * 1000); /* the reader, armed for the disconnect event, reads the FIN */
    CHECK(!wait_for(&log.disconnect, 0)); /* the data comes first */
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = fin_abort_socket->Dispatch;
    wt_irp zero = {0};
    WSK_BUF none = {NULL, 0, 0};
    NTSTATUS z = d->WskReceive(fin_abort_socket, &none, 0, wt_irp_arm(&zero)); /* resumes indications */
    CHECK_EQ(wt_irp_result(&zero, z), STATUS_SUCCESS);
    CHECK_EQ(InterlockedCompareExchange(&fin_abort_calls, 0, 0), 2);
    CHECK_EQ(wt_irp_result(&fin_abort_irp, fin_abort_ret), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&fin_abort_rx, fin_abort_rx_ret), STATUS_CONNECTION_ABORTED);
    CHECK_EQ(fin_abort_rx.irp->IoStatus.Information, 0);
    CHECK(!wait_for(&log.disconnect, 100));
    wt_irp_free(&zero);
    wt_irp_free(&fin_abort_rx);
    wt_irp_free(&fin_abort_irp);
    wt_close(&t, fin_abort_socket);
    IoFreeMdl(fin_abort_mdl);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* A receive callback that closes its own socket: the close pends until the
 * callback has returned, then completes; nothing deadlocks. */
static wt_irp self_close_irp;
static PWSK_SOCKET self_close_socket;
static NTSTATUS self_close_returned;
static KEVENT self_close_issued; /* the callback has called WskCloseSocket */

static NTSTATUS WSKAPI on_receive_close(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                        SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    (void)DataIndication;
    (void)BytesIndicated;
    (void)BytesAccepted;
    const WSK_PROVIDER_BASIC_DISPATCH *d = self_close_socket->Dispatch;
    self_close_returned = d->WskCloseSocket(self_close_socket, wt_irp_arm(&self_close_irp));
    usleep(10 * 1000); /* the close must not complete while we are still here */
    CHECK_EQ(self_close_irp.completions, 0);
    KeSetEvent(&self_close_issued, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH close_events = {on_receive_close, NULL, NULL};

static void callback_closes_its_own_socket(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS r = t.provider.Dispatch->WskSocket(t.provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                WSK_FLAG_CONNECTION_SOCKET, NULL, &close_events, NULL, NULL, NULL,
                                                wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)t.irp.irp->IoStatus.Information;
    self_close_socket = s;
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(lfd));
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    r = d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    memset(&self_close_irp, 0, sizeof(self_close_irp));
    KeInitializeEvent(&self_close_issued, NotificationEvent, FALSE);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "bye", 3), 3);
    CHECK(wait_for(&self_close_issued, 2000));
    CHECK_EQ(wt_irp_result(&self_close_irp, STATUS_PENDING), STATUS_SUCCESS);
    CHECK_EQ(self_close_returned, STATUS_PENDING);
    CHECK_EQ(peer_drain(peer, 2000), -ECONNRESET); /* closed without a disconnect: reset */
    wt_irp_free(&self_close_irp);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void drain_after_declined_data(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    events_log log;
    log_init(&log);
    int peer, lfd;
    PWSK_SOCKET s = connected_with_events(&t, &log, &peer, &lfd);
    set_answer(&log, STATUS_DATA_NOT_ACCEPTED, (SIZE_T)-1);
    CHECK_EQ(enable(&t, s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "declined", 8), 8);
    CHECK(wait_for(&log.data, 2000));
    WSK_BUF none = {NULL, 0, 0};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskReceive(s, &none, WSK_FLAG_DRAIN, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(peer_send_all(peer, "and more", 8), 8);
    peer_shutdown_write(peer);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 16);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* ---- the asynchronous echo server of the WDK samples, in miniature ---- */

static events_log server_log;

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    server_log.echo_to = AcceptSocket;
    *AcceptSocketContext = &server_log;
    *AcceptSocketDispatch = &conn_events;
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH listen_events = {on_accept, NULL, NULL};

static void listener_events_are_inherited_and_callbacks_send(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    log_init(&server_log);
    KeInitializeEvent(&echo_sent, SynchronizationEvent, FALSE);
    server_log.echo_irp = IoAllocateIrp(1, FALSE);
    server_log.echo_mdl = IoAllocateMdl(server_log.echo_buf, sizeof(server_log.echo_buf), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(server_log.echo_mdl);
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, &listen_events,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, l, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, l, &local), STATUS_SUCCESS);
    CHECK_EQ(enable(&t, l, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    int peer = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port));
    CHECK(peer >= 0);
    CHECK_EQ(peer_send_all(peer, "echo me", 7), 7);
    CHECK(wait_for(&echo_sent, 2000));
    CHECK_EQ(server_log.echo_irp->IoStatus.Status, STATUS_SUCCESS);
    char back[8];
    CHECK_EQ(peer_recv_exact(peer, back, 7, 2000), 7);
    CHECK_MEM(back, "echo me", 7);
    peer_shutdown_write(peer);
    CHECK(wait_for(&server_log.disconnect, 2000));
    wt_close(&t, server_log.echo_to);
    peer_close(peer);
    wt_close(&t, l);
    IoFreeMdl(server_log.echo_mdl);
    IoFreeIrp(server_log.echo_irp);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(indications_accepted_whole);
    WT_RUN(partial_and_declined_indications_pause);
    WT_RUN(retained_indications_and_release);
    WT_RUN(release_before_the_callback_returns);
    WT_RUN(queued_receives_come_first_and_close_cancels);
    WT_RUN(reset_is_an_abortive_disconnect);
    WT_RUN(own_abort_ends_receives_as_without_events);
    WT_RUN(events_after_own_abort_stay_idle);
    WT_RUN(indication_across_own_abort);
    WT_RUN(own_abort_after_the_peers_fin);
    WT_RUN(listener_events_are_inherited_and_callbacks_send);
    WT_RUN(callback_closes_its_own_socket);
    WT_RUN(drain_after_declined_data);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
