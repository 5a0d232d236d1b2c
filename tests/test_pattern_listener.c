/*
 * test_pattern_listener.c - listener and unload patterns of production
 * drivers (wsk-part-a.md §1.4, §4.3, §6.4; wsk-part-b.md §6.5, §10.3).
 *
 *  8. Unload with a peer still connected: DriverUnload (a system thread)
 *     calls WskReleaseProviderNPI and WskDeregister while a connection with
 *     a pending receive is open; the driver's worker closes the connection
 *     a little later (or the peer resets and the receive completion has the
 *     worker close it).  WskDeregister, Remarks: it returns only once every
 *     socket is closed, so when it returns the close completion (and the
 *     receive's) must have finished.
 *  9. A WskAcceptEvent listener is told its listening socket died
 *     (AcceptSocket == NULL, PFN_WSK_ACCEPT_EVENT) and re-creates the
 *     listener on the same port from its worker thread; it keeps serving
 *     connections, and each dead listener is indicated once.  The death is
 *     provoked by shutting the provider's Linux listening socket down (the
 *     test hook test_wsk_event_control.c uses too).
 * 10. A listener closed while its accept callback runs (from inside the
 *     callback, or from the worker while the callback is still running,
 *     or on the NULL indication), after which the confused driver enables
 *     WSK_EVENT_ACCEPT again: PFN_WSK_CLOSE_SOCKET forbids any call after
 *     the close, so the provider must refuse it (not STATUS_SUCCESS), and
 *     the close must still complete promptly (within 1 s of the callback's
 *     return) without another connection arriving; WskDeregister afterwards
 *     must not hang.
 */
#include "kernel/verifier.h"
#include "wt_pattern.h"

#include <openwsk_runtime.h>

#include "wsk/wsk_internal.h" /* the Linux fd of a listener, to kill it */

static WP_WORKER ls_worker;
static int rounds;

/* Makes the provider's Linux listening socket stop accepting.  The fd is
 * read under the socket's lock: the failure this causes reaches the close
 * (and the free) through the kernel, which TSan does not see as ordering. */
static int ls_kill_listener(PWSK_SOCKET listener)
{
    wsk_socket *s = (wsk_socket *)listener;
    pthread_mutex_lock(&s->lock);
    int fd = s->fd;
    pthread_mutex_unlock(&s->lock);
    return peer_shutdown_both(fd);
}

/* ==================================================================== */
/* 8. unload while a peer is connected                                   */
/* ==================================================================== */

typedef struct U8_RESULT {
    KEVENT Closed;
    WP_IRP_LOG Receive;
    WP_IRP_LOG Close;
    volatile LONG ReceiveFinished;  /* set as the receive routine's last act */
    volatile LONG CloseFinished;    /* set as the close routine's last act */
    LONGLONG CloseDoneUs;
} U8_RESULT;

typedef struct U8_CONNECTION {
    WP_WORK Work;
    PWSK_SOCKET Socket;
    U8_RESULT *Result;
    PIRP ReceiveIrp;
    PIRP CloseIrp;
    PMDL Mdl;
    LONGLONG CloseDelayUs;          /* the worker waits this long before closing */
    BOOLEAN CloseOnReceive;         /* the receive completion triggers the close */
    UCHAR Buffer[256];
} U8_CONNECTION;

typedef struct U8_UNLOAD {
    WSK_REGISTRATION *Registration;
    U8_RESULT *Result;
    KEVENT Started;
    volatile LONG Returned;
    LONGLONG ReturnedUs;
    LONG CloseFinishedAtReturn;
    LONG ReceiveFinishedAtReturn;
} U8_UNLOAD;

static IO_COMPLETION_ROUTINE U8CloseDone;

static VOID U8CloseWork(WP_WORK *Work)
{
    U8_CONNECTION *c = CONTAINING_RECORD(Work, U8_CONNECTION, Work);
    U8_RESULT *result = c->Result;
    if (c->CloseDelayUs > 0)
        wp_sleep_us(c->CloseDelayUs);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->Socket->Dispatch;
    IoSetCompletionRoutine(c->CloseIrp, U8CloseDone, c, TRUE, TRUE, TRUE);
    wp_log_issued(&result->Close, d->WskCloseSocket(c->Socket, c->CloseIrp));
}

static NTSTATUS U8ReceiveDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    U8_CONNECTION *c = Context;
    U8_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&result->Receive, Irp);
    wp_log_leave(&result->Receive);
    if (c->CloseOnReceive) {
        InterlockedExchange(&result->ReceiveFinished, 1);
        wp_worker_queue(&ls_worker, &c->Work, U8CloseWork);
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    InterlockedExchange(&result->ReceiveFinished, 1); /* last touch of c */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS U8CloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    U8_CONNECTION *c = Context;
    U8_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&result->Close, Irp);
    IoFreeIrp(c->ReceiveIrp);
    IoFreeIrp(c->CloseIrp);
    IoFreeMdl(c->Mdl);
    ExFreePoolWithTag(c, WP_TAG);
    result->CloseDoneUs = wp_now_us();
    wp_log_leave(&result->Close);
    KeSetEvent(&result->Closed, IO_NO_INCREMENT, FALSE);
    /* Give a WskDeregister that returned too early the chance to look. */
    KeStallExecutionProcessor(200);
    InterlockedExchange(&result->CloseFinished, 1);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* DriverUnload, as a system thread. */
static VOID U8UnloadThread(PVOID Context)
{
    U8_UNLOAD *u = Context;
    KeSetEvent(&u->Started, IO_NO_INCREMENT, FALSE);
    WskReleaseProviderNPI(u->Registration);
    WskDeregister(u->Registration);
    u->ReturnedUs = wp_now_us();
    u->CloseFinishedAtReturn = InterlockedCompareExchange(&u->Result->CloseFinished, 0, 0);
    u->ReceiveFinishedAtReturn = InterlockedCompareExchange(&u->Result->ReceiveFinished, 0, 0);
    InterlockedExchange(&u->Returned, 1);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* FALSE: WskDeregister is stuck (the registration cannot be reused). */
static BOOLEAN u8_round(ULONG round)
{
    static U8_RESULT result;
    static U8_UNLOAD unload;
    memset(&result, 0, sizeof(result));
    memset(&unload, 0, sizeof(unload));
    KeInitializeEvent(&result.Closed, NotificationEvent, FALSE);
    static wt_wsk t;
    wt_wsk_open(&t);
    U8_CONNECTION *c = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*c), WP_TAG);
    c->Result = &result;
    c->ReceiveIrp = IoAllocateIrp(1, FALSE);
    c->CloseIrp = IoAllocateIrp(1, FALSE);
    c->Mdl = wp_mdl(c->Buffer, sizeof(c->Buffer));
    BOOLEAN peer_resets = round % 2 == 1;
    c->CloseOnReceive = peer_resets;
    LONGLONG delay_us = 5000 + (LONGLONG)(round % 4) * 5000; /* 5..20 ms */
    c->CloseDelayUs = peer_resets ? 0 : delay_us;
    int peer;
    PWSK_SOCKET s = round % 4 < 2 ? wp_connect(&t, c, NULL, &peer) : wp_accept(&t, c, NULL, &peer);
    if (s == NULL)
        return TRUE;
    wt_irp_free(&t.irp); /* the unload below is the driver's */
    c->Socket = s;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    WSK_BUF b = {c->Mdl, 0, sizeof(c->Buffer)};
    IoSetCompletionRoutine(c->ReceiveIrp, U8ReceiveDone, c, TRUE, TRUE, TRUE);
    wp_log_issued(&result.Receive, d->WskReceive(s, &b, 0, c->ReceiveIrp));

    /* DriverUnload starts; the connection is still open. */
    unload.Registration = &t.registration;
    unload.Result = &result;
    KeInitializeEvent(&unload.Started, NotificationEvent, FALSE);
    HANDLE h;
    PETHREAD thread = NULL;
    CHECK_EQ(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, U8UnloadThread, &unload), STATUS_SUCCESS);
    CHECK_EQ(ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &thread, NULL),
             STATUS_SUCCESS);
    ZwClose(h);
    wp_wait(&unload.Started, WP_TIMEOUT_MS);
    LONGLONG started = wp_now_us();
    if (peer_resets) {
        wp_sleep_us(delay_us);
        peer_reset_on_close(peer);
        peer_close(peer);
        peer = -1;
    } else {
        wp_worker_queue(&ls_worker, &c->Work, U8CloseWork);
    }
    /* c belongs to the driver now. */
    wp_sleep_us(delay_us / 2);
    if (InterlockedCompareExchange(&unload.Returned, 0, 0) && !InterlockedCompareExchange(&result.CloseFinished, 0, 0))
        WT_FAIL("WskDeregister returned %lld µs after it was called, with the connection still open",
                (long long)(unload.ReturnedUs - started));
    BOOLEAN closed = wp_wait(&result.Closed, WP_TIMEOUT_MS);
    LARGE_INTEGER timeout = {.QuadPart = -(LONGLONG)WP_TIMEOUT_MS * 10000};
    BOOLEAN returned = KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS;
    if (peer >= 0)
        peer_close(peer);
    if (!closed)
        WT_FAIL("%s: the close never completed (receive completed %d times)",
                peer_resets ? "the peer reset" : "the worker closed", (int)result.Receive.Completions);
    if (!returned) {
        WT_FAIL("%s: WskDeregister has not returned 10 s after the close",
                peer_resets ? "the peer reset" : "the worker closed");
        return FALSE; /* the thread stays blocked */
    }
    ObDereferenceObject(thread);
    if (!unload.CloseFinishedAtReturn)
        WT_FAIL("%s: WskDeregister returned %lld µs before the close completion had finished (close completed %d "
                "times)",
                peer_resets ? "the peer reset" : "the worker closed",
                (long long)(result.CloseDoneUs ? result.CloseDoneUs - unload.ReturnedUs : 0),
                (int)result.Close.Completions);
    if (!unload.ReceiveFinishedAtReturn)
        WT_FAIL("WskDeregister returned before the receive's completion routine had finished");
    NTSTATUS rx = wp_log_check(&result.Receive, "the pending receive");
    if (peer_resets ? NT_SUCCESS(rx) && result.Receive.Information != 0 : rx != STATUS_CANCELLED)
        WT_FAIL("%s: the receive completed with 0x%x (%s), %lu bytes",
                peer_resets ? "the peer reset" : "the worker closed", (unsigned)rx, wp_status_name(rx),
                (unsigned long)result.Receive.Information);
    CHECK_EQ(wp_log_check(&result.Close, "close"), STATUS_SUCCESS);
    return TRUE;
}

static void unload_waits_for_open_connection(void)
{
    CHECK_EQ(wp_worker_start(&ls_worker), STATUS_SUCCESS);
    const char *name = "unload with a connection open";
    int n = wp_fraction(rounds, 2);
    wp_case_begin();
    for (int round = 0; round < n; round++) {
        wp_round_begin(name, round, n);
        BOOLEAN ok = u8_round((ULONG)round);
        wp_round_end(round);
        if (!ok) {
            WT_FAIL("stopping the case: WskDeregister is stuck");
            break;
        }
    }
    wp_case_end(name, n);
    wp_worker_stop(&ls_worker);
}

/* ==================================================================== */
/* 9. the listener dies; the driver re-creates it and keeps serving      */
/* ==================================================================== */

#define L9_GREETING 1000

typedef struct L9_DRIVER L9_DRIVER;

typedef struct L9_LISTENER {
    WP_WORK Work;
    L9_DRIVER *Driver;
    PWSK_SOCKET Socket;
    ULONG Generation;
    volatile LONG NullIndications;
    volatile LONG Accepts;
} L9_LISTENER;

struct L9_DRIVER {
    wt_wsk *Wsk;
    KSPIN_LOCK Lock;
    L9_LISTENER *Listener;      /* the current one, under Lock */
    USHORT Port;
    KEVENT Recreated;           /* synchronization */
    KEVENT Killed;              /* synchronization: the test is done with the listener it killed */
    KEVENT Idle;                /* notification: no connection open */
    volatile LONG Open;         /* connections not yet freed */
    volatile LONG Served;       /* greeting sent, FIN seen, closed */
    volatile LONG Failed;       /* a step failed */
    NTSTATUS FirstFailure;
    volatile LONG ExtraNull;    /* a dead listener indicated more than once */
    volatile LONG RecreateFailures;
    NTSTATUS RecreateStatus;
    volatile LONG BindRetries;
};

typedef struct L9_CONNECTION {
    WP_WORK Work;
    L9_DRIVER *Driver;
    PWSK_SOCKET Socket;
    PIRP Irp;
    PMDL Mdl;
    USHORT PeerPort;
    UCHAR Buffer[L9_GREETING];
} L9_CONNECTION;

static L9_DRIVER l9;

static IO_COMPLETION_ROUTINE L9SendDone, L9DisconnectDone, L9ReceiveDone, L9CloseDone;

static const WSK_PROVIDER_CONNECTION_DISPATCH *L9Dispatch(L9_CONNECTION *c)
{
    return c->Socket->Dispatch;
}

static PIRP L9Next(L9_CONNECTION *c, PIO_COMPLETION_ROUTINE routine)
{
    IoReuseIrp(c->Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(c->Irp, routine, c, TRUE, TRUE, TRUE);
    return c->Irp;
}

static VOID L9Fail(L9_CONNECTION *c, NTSTATUS status)
{
    if (InterlockedIncrement(&c->Driver->Failed) == 1)
        c->Driver->FirstFailure = status;
    L9Dispatch(c)->WskCloseSocket(c->Socket, L9Next(c, L9CloseDone));
}

/* Worker: send the greeting (pattern bytes seeded with the peer's port). */
static VOID L9ServeWork(WP_WORK *Work)
{
    L9_CONNECTION *c = CONTAINING_RECORD(Work, L9_CONNECTION, Work);
    WSK_BUF b = {c->Mdl, 0, L9_GREETING};
    wp_fill(c->Buffer, L9_GREETING, 0, c->PeerPort);
    L9Dispatch(c)->WskSend(c->Socket, &b, 0, L9Next(c, L9SendDone));
}

static NTSTATUS L9SendDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    L9_CONNECTION *c = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (Irp->IoStatus.Status != STATUS_SUCCESS || Irp->IoStatus.Information != L9_GREETING)
        L9Fail(c, Irp->IoStatus.Status);
    else
        L9Dispatch(c)->WskDisconnect(c->Socket, NULL, 0, L9Next(c, L9DisconnectDone));
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS L9DisconnectDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    L9_CONNECTION *c = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (Irp->IoStatus.Status != STATUS_SUCCESS) {
        L9Fail(c, Irp->IoStatus.Status);
    } else {
        WSK_BUF b = {c->Mdl, 0, L9_GREETING};
        L9Dispatch(c)->WskReceive(c->Socket, &b, 0, L9Next(c, L9ReceiveDone));
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS L9ReceiveDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    L9_CONNECTION *c = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (Irp->IoStatus.Status != STATUS_SUCCESS || Irp->IoStatus.Information != 0) {
        L9Fail(c, Irp->IoStatus.Status != STATUS_SUCCESS ? Irp->IoStatus.Status : STATUS_UNSUCCESSFUL);
    } else {
        InterlockedIncrement(&c->Driver->Served);
        L9Dispatch(c)->WskCloseSocket(c->Socket, L9Next(c, L9CloseDone));
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS L9CloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    L9_CONNECTION *c = Context;
    L9_DRIVER *driver = c->Driver;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KIRQL irql;
    IoFreeIrp(c->Irp);
    IoFreeMdl(c->Mdl);
    ExFreePoolWithTag(c, WP_TAG);
    KeAcquireSpinLock(&driver->Lock, &irql);
    if (InterlockedDecrement(&driver->Open) == 0)
        KeSetEvent(&driver->Idle, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&driver->Lock, irql);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID L9RecreateWork(WP_WORK *Work);

static NTSTATUS WSKAPI L9AcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                     PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                     const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    L9_LISTENER *listener = SocketContext;
    L9_DRIVER *driver = listener->Driver;
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(LocalAddress);
    if (AcceptSocket == NULL) {
        /* PFN_WSK_ACCEPT_EVENT: the listening socket no longer works; close
         * it and start over, at PASSIVE_LEVEL on the worker. */
        if (InterlockedIncrement(&listener->NullIndications) == 1)
            wp_worker_queue(&ls_worker, &listener->Work, L9RecreateWork);
        else
            InterlockedIncrement(&driver->ExtraNull);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    L9_CONNECTION *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*c), WP_TAG);
    if (c == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    c->Irp = IoAllocateIrp(1, FALSE);
    c->Mdl = wp_mdl(c->Buffer, L9_GREETING);
    c->Driver = driver;
    c->Socket = AcceptSocket;
    c->PeerPort = RtlUshortByteSwap(((PSOCKADDR_IN)RemoteAddress)->sin_port);
    InterlockedIncrement(&listener->Accepts);
    KIRQL irql;
    KeAcquireSpinLock(&driver->Lock, &irql);
    if (InterlockedIncrement(&driver->Open) == 1)
        KeClearEvent(&driver->Idle);
    KeReleaseSpinLock(&driver->Lock, irql);
    *AcceptSocketContext = c;
    *AcceptSocketDispatch = NULL;
    wp_worker_queue(&ls_worker, &c->Work, L9ServeWork);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH l9_dispatch = {L9AcceptEvent, NULL, NULL};

/* PASSIVE_LEVEL: a listener on 127.0.0.1:Port with accept events. */
static L9_LISTENER *L9Listen(L9_DRIVER *driver, ULONG generation, NTSTATUS *status)
{
    wt_irp w = {0};
    L9_LISTENER *listener = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*listener), WP_TAG);
    listener->Driver = driver;
    listener->Generation = generation;
    wt_wsk *t = driver->Wsk;
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                 WSK_FLAG_LISTEN_SOCKET, listener, &l9_dispatch, NULL, NULL, NULL,
                                                 wt_irp_arm(&w));
    *status = wt_irp_result(&w, r);
    if (!NT_SUCCESS(*status)) {
        ExFreePoolWithTag(listener, WP_TAG);
        wt_irp_free(&w);
        return NULL;
    }
    listener->Socket = (PWSK_SOCKET)w.irp->IoStatus.Information;
    const WSK_PROVIDER_LISTEN_DISPATCH *d = listener->Socket->Dispatch;
    SOCKADDR_IN a = wt_in4("127.0.0.1", driver->Port);
    for (int attempt = 0;; attempt++) {
        r = d->WskBind(listener->Socket, (PSOCKADDR)&a, 0, wt_irp_arm(&w));
        *status = wt_irp_result(&w, r);
        if (NT_SUCCESS(*status) || attempt == 100)
            break;
        InterlockedIncrement(&driver->BindRetries); /* the port may still be held a moment */
        wp_sleep_us(10000);
    }
    if (NT_SUCCESS(*status) && driver->Port == 0) {
        r = d->WskGetLocalAddress(listener->Socket, (PSOCKADDR)&a, wt_irp_arm(&w));
        *status = wt_irp_result(&w, r);
        driver->Port = RtlUshortByteSwap(a.sin_port);
    }
    if (NT_SUCCESS(*status))
        *status = wp_events(listener->Socket, WSK_EVENT_ACCEPT);
    if (!NT_SUCCESS(*status)) {
        r = d->WskCloseSocket(listener->Socket, wt_irp_arm(&w));
        wt_irp_result(&w, r);
        ExFreePoolWithTag(listener, WP_TAG);
        listener = NULL;
    }
    wt_irp_free(&w);
    return listener;
}

/* Closes a listener and frees its context (PASSIVE_LEVEL, waits). */
static VOID L9CloseListener(L9_LISTENER *listener)
{
    wt_irp w = {0};
    const WSK_PROVIDER_LISTEN_DISPATCH *d = listener->Socket->Dispatch;
    NTSTATUS r = d->WskCloseSocket(listener->Socket, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    wt_irp_free(&w);
    /* The close is complete: no more callbacks for this listener. */
    if (listener->NullIndications > 1)
        InterlockedIncrement(&listener->Driver->ExtraNull);
    ExFreePoolWithTag(listener, WP_TAG);
}

static VOID L9RecreateWork(WP_WORK *Work)
{
    L9_LISTENER *dead = CONTAINING_RECORD(Work, L9_LISTENER, Work);
    L9_DRIVER *driver = dead->Driver;
    ULONG generation = dead->Generation + 1;
    KIRQL irql;
    KeAcquireSpinLock(&driver->Lock, &irql);
    driver->Listener = NULL;
    KeReleaseSpinLock(&driver->Lock, irql);
    /* Not driver logic: the test's thread that shut the socket down has
     * let go of it (its hand-off reaches us through the Linux socket,
     * which ThreadSanitizer cannot see). */
    wp_wait(&driver->Killed, WP_TIMEOUT_MS);
    L9CloseListener(dead);
    NTSTATUS status;
    L9_LISTENER *fresh = L9Listen(driver, generation, &status);
    if (fresh == NULL) {
        driver->RecreateStatus = status;
        InterlockedIncrement(&driver->RecreateFailures);
    }
    KeAcquireSpinLock(&driver->Lock, &irql);
    driver->Listener = fresh;
    KeReleaseSpinLock(&driver->Lock, irql);
    KeSetEvent(&driver->Recreated, IO_NO_INCREMENT, FALSE);
}

/* The peer side of one connection: the greeting, then EOF. */
static void l9_visit(ULONG generation, int k)
{
    int peer = peer_tcp_connect(4, "127.0.0.1", l9.Port);
    if (peer < 0) {
        WT_FAIL("listener #%u, connection %d: connect failed (%d)", generation, k, peer);
        return;
    }
    wp_reader r;
    wp_reader_start(&r, peer, peer_local_port(peer), L9_GREETING, 0);
    wp_reader_join(&r);
    wp_reader_expect(&r, L9_GREETING, "listener #%u, connection %d: the greeting", generation, k);
    peer_close(peer);
}

static void listener_recreated_after_it_died(void)
{
    static wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(wp_worker_start(&ls_worker), STATUS_SUCCESS);
    memset(&l9, 0, sizeof(l9));
    l9.Wsk = &t;
    KeInitializeSpinLock(&l9.Lock);
    KeInitializeEvent(&l9.Recreated, SynchronizationEvent, FALSE);
    KeInitializeEvent(&l9.Killed, SynchronizationEvent, FALSE);
    KeInitializeEvent(&l9.Idle, NotificationEvent, TRUE);
    NTSTATUS st;
    l9.Listener = L9Listen(&l9, 0, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    const char *name = "listener re-created after it died";
    int n = wp_fraction(rounds, 2);
    wp_case_begin();
    for (int round = 0; round < n && l9.Listener != NULL; round++) {
        wp_round_begin(name, round, n);
        ULONG generation = l9.Listener->Generation;
        LONG served = InterlockedCompareExchange(&l9.Served, 0, 0);
        for (int k = 0; k < 3; k++)
            l9_visit(generation, k);
        if (!wp_wait(&l9.Idle, WP_TIMEOUT_MS))
            WT_FAIL("listener #%u: %d connections still open 10 s after their peers left", generation,
                    (int)InterlockedCompareExchange(&l9.Open, 0, 0));
        LONG got = InterlockedCompareExchange(&l9.Served, 0, 0) - served;
        if (got != 3)
            WT_FAIL("listener #%u: %d of 3 connections served (%d failed, first 0x%x)", generation, (int)got,
                    (int)InterlockedCompareExchange(&l9.Failed, 0, 0), (unsigned)l9.FirstFailure);
        /* The listening socket dies under the driver. */
        KIRQL irql;
        KeAcquireSpinLock(&l9.Lock, &irql);
        L9_LISTENER *victim = l9.Listener;
        KeReleaseSpinLock(&l9.Lock, irql);
        CHECK_EQ(ls_kill_listener(victim->Socket), 0);
        KeSetEvent(&l9.Killed, IO_NO_INCREMENT, FALSE);
        if (!wp_wait(&l9.Recreated, WP_TIMEOUT_MS)) {
            WT_FAIL("listener #%u was shut down and no NULL WskAcceptEvent came within 10 s", generation);
            wp_round_end(round);
            break;
        }
        if (l9.Listener == NULL) {
            WT_FAIL("listener #%u died and could not be re-created on port %u: 0x%x (%d bind retries)", generation,
                    l9.Port, (unsigned)l9.RecreateStatus, (int)l9.BindRetries);
        } else if (l9.Listener->Generation != generation + 1) {
            WT_FAIL("listener #%u re-created as #%u", generation, l9.Listener->Generation);
        }
        if (l9.ExtraNull > 0)
            WT_FAIL("a dead listener was indicated %d extra times (PFN_WSK_ACCEPT_EVENT: once)", (int)l9.ExtraNull);
        wp_round_end(round);
    }
    wp_case_end(name, n);
    /* The new listener still works after the last round. */
    ULONG listeners = 0;
    if (l9.Listener != NULL) {
        listeners = l9.Listener->Generation + 1;
        l9_visit(l9.Listener->Generation, 0);
        wp_wait(&l9.Idle, WP_TIMEOUT_MS);
        L9CloseListener(l9.Listener);
        l9.Listener = NULL;
    }
    if (l9.ExtraNull > 0)
        WT_FAIL("a dead listener was indicated %d extra times", (int)l9.ExtraNull);
    fprintf(stderr, "  %d connections served by %u listeners (%d bind retries)\n",
            (int)InterlockedCompareExchange(&l9.Served, 0, 0),
            listeners, (int)l9.BindRetries);
    wp_worker_stop(&ls_worker);
    wp_wsk_close(&t, WP_TIMEOUT_MS);
}

/* ==================================================================== */
/* 10. close the listener from (or during) its accept callback, then      */
/*     enable accept events again                                        */
/* ==================================================================== */

typedef enum l10_mode {
    L10_INSIDE,  /* close + enable inside WskAcceptEvent of a real connection */
    L10_WORKER,  /* close + enable from the worker while WskAcceptEvent runs */
    L10_DEAD,    /* close + enable inside the NULL WskAcceptEvent of a dead listener */
    L10_ACCEPT,  /* no accept events; the close cancels a pending WskAccept, whose
                  * completion routine falls back to enabling accept events */
    L10_AFTER,   /* no accept events; the worker closes (a pending WskAccept, whose
                  * routine takes its time, keeps the close pending) and then
                  * enables accept events */
    L10_MODES
} l10_mode;

static const char *l10_name(l10_mode m)
{
    return m == L10_INSIDE   ? "inside the accept callback"
           : m == L10_WORKER ? "from the worker during the accept callback"
           : m == L10_DEAD   ? "inside the dead-listener callback"
           : m == L10_ACCEPT ? "from the cancelled WskAccept's completion routine"
                             : "from the worker right after WskCloseSocket returned";
}

typedef struct L10_LISTENER {
    WP_WORK Work;
    l10_mode Mode;
    PWSK_SOCKET Socket;
    PIRP CloseIrp;
    WP_IRP_LOG Close;
    PIRP AcceptIrp;               /* L10_ACCEPT */
    WP_IRP_LOG Accept;
    KEVENT Closed;
    KEVENT CallbackReturned;
    volatile LONG Calls;          /* WskAcceptEvent calls */
    volatile LONG WorkerDone;     /* L10_WORKER: the worker has closed and enabled */
    volatile LONG Closed_;        /* mirror of Closed for DISPATCH_LEVEL code */
    LONG CallsAtClose;            /* WskAcceptEvent calls when the close completed */
    BOOLEAN SpinTimedOut;         /* L10_WORKER: the worker's calls did not return during the callback */
    BOOLEAN CloseDoneBeforeEnable; /* the close had completed when the driver enabled */
    NTSTATUS EnableStatus;
    BOOLEAN Enabled;              /* the enable was attempted */
    LONGLONG CallbackReturnUs;
    LONGLONG CloseDoneUs;
} L10_LISTENER;

static NTSTATUS L10CloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    L10_LISTENER *l = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&l->Close, Irp);
    l->CloseDoneUs = wp_now_us();
    l->CallsAtClose = InterlockedCompareExchange(&l->Calls, 0, 0);
    InterlockedExchange(&l->Closed_, 1);
    wp_log_leave(&l->Close);
    KeSetEvent(&l->Closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* The misuse: close, then enable accept events on the closed listener. */
static VOID L10CloseThenEnable(L10_LISTENER *l)
{
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Socket->Dispatch;
    IoSetCompletionRoutine(l->CloseIrp, L10CloseDone, l, TRUE, TRUE, TRUE);
    wp_log_issued(&l->Close, d->WskCloseSocket(l->Socket, l->CloseIrp));
    /* PFN_WSK_CLOSE_SOCKET: the close waits for the callback in progress,
     * so the socket still exists here; if the close completed anyway, the
     * call below would touch a freed socket: don't. */
    if (InterlockedCompareExchange(&l->Closed_, 0, 0)) {
        l->CloseDoneBeforeEnable = TRUE;
        return;
    }
    l->Enabled = TRUE;
    l->EnableStatus = wp_events(l->Socket, WSK_EVENT_ACCEPT);
}

static VOID L10Work(WP_WORK *Work)
{
    L10_LISTENER *l = CONTAINING_RECORD(Work, L10_LISTENER, Work);
    L10CloseThenEnable(l);
    InterlockedExchange(&l->WorkerDone, 1);
}

static IO_COMPLETION_ROUTINE L10AcceptDone;

static NTSTATUS WSKAPI L10AcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                      PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                      const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    L10_LISTENER *l = SocketContext;
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(LocalAddress);
    UNREFERENCED_PARAMETER(RemoteAddress);
    UNREFERENCED_PARAMETER(AcceptSocket);
    UNREFERENCED_PARAMETER(AcceptSocketContext);
    UNREFERENCED_PARAMETER(AcceptSocketDispatch);
    if (InterlockedIncrement(&l->Calls) == 1) {
        if (l->Mode == L10_WORKER) {
            wp_worker_queue(&ls_worker, &l->Work, L10Work);
            /* DISPATCH_LEVEL: spin, don't wait.  The provider must not
             * hold up the worker's calls while this callback runs. */
            l->SpinTimedOut = !wp_spin_until(&l->WorkerDone, 2000);
        } else {
            L10CloseThenEnable(l);
        }
    }
    l->CallbackReturnUs = wp_now_us();
    KeSetEvent(&l->CallbackReturned, IO_NO_INCREMENT, FALSE);
    return STATUS_REQUEST_NOT_ACCEPTED; /* a real connection is reset; a NULL one needs this answer */
}

static const WSK_CLIENT_LISTEN_DISPATCH l10_dispatch = {L10AcceptEvent, NULL, NULL};

/* L10_ACCEPT: the WskAccept the close cancels.  Its routine runs while the
 * close is in progress (the close cannot complete before it returns), so
 * the listener still exists here. */
static NTSTATUS L10AcceptDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    L10_LISTENER *l = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&l->Accept, Irp);
    if (l->Mode == L10_AFTER) {
        /* Slow teardown at DISPATCH_LEVEL; the worker goes on meanwhile
         * (unless this runs inside its WskCloseSocket call). */
        wp_spin_until(&l->WorkerDone, 300);
    } else if (!NT_SUCCESS(Irp->IoStatus.Status)) {
        /* "No more accept IRPs: let the event deliver connections." */
        if (InterlockedCompareExchange(&l->Closed_, 0, 0)) {
            l->CloseDoneBeforeEnable = TRUE;
        } else {
            l->Enabled = TRUE;
            l->EnableStatus = wp_events(l->Socket, WSK_EVENT_ACCEPT);
        }
    }
    l->CallbackReturnUs = wp_now_us();
    wp_log_leave(&l->Accept);
    KeSetEvent(&l->CallbackReturned, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS l10_seen[8];
static int l10_skipped;
static int l10_seen_count[8];

static BOOLEAN l10_round(wt_wsk *t, l10_mode mode, ULONG round)
{
    static L10_LISTENER l;
    memset(&l, 0, sizeof(l));
    l.Mode = mode;
    KeInitializeEvent(&l.Closed, NotificationEvent, FALSE);
    KeInitializeEvent(&l.CallbackReturned, NotificationEvent, FALSE);
    l.CloseIrp = IoAllocateIrp(1, FALSE);
    wt_irp w = {0};
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                 WSK_FLAG_LISTEN_SOCKET, &l, &l10_dispatch, NULL, NULL, NULL,
                                                 wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    l.Socket = (PWSK_SOCKET)w.irp->IoStatus.Information;
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l.Socket->Dispatch;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0);
    r = d->WskBind(l.Socket, (PSOCKADDR)&a, 0, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    r = d->WskGetLocalAddress(l.Socket, (PSOCKADDR)&a, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    wt_irp_free(&w);
    USHORT port = RtlUshortByteSwap(a.sin_port);
    int peer = -1;
    if (mode == L10_ACCEPT || mode == L10_AFTER) {
        l.AcceptIrp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(l.AcceptIrp, L10AcceptDone, &l, TRUE, TRUE, TRUE);
        wp_log_issued(&l.Accept, d->WskAccept(l.Socket, 0, NULL, NULL, NULL, NULL, l.AcceptIrp));
        CHECK_EQ(l.Accept.Returned, STATUS_PENDING);
        if (mode == L10_AFTER) {
            wp_worker_queue(&ls_worker, &l.Work, L10Work);
        } else {
            IoSetCompletionRoutine(l.CloseIrp, L10CloseDone, &l, TRUE, TRUE, TRUE);
            wp_log_issued(&l.Close, d->WskCloseSocket(l.Socket, l.CloseIrp));
        }
    } else {
        CHECK_EQ(wp_events(l.Socket, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
        if (mode == L10_DEAD)
            CHECK_EQ(ls_kill_listener(l.Socket), 0);
        else
            peer = peer_tcp_connect(4, "127.0.0.1", port);
    }
    (void)round;
    const char *how = l10_name(mode);
    if (!wp_wait(&l.CallbackReturned, WP_TIMEOUT_MS)) {
        WT_FAIL("%s: WskAcceptEvent never called", how);
        if (peer >= 0)
            peer_close(peer);
        return FALSE;
    }
    BOOLEAN prompt = wp_wait(&l.Closed, 1000);
    BOOLEAN closed = prompt;
    int rescue = -1;
    if (!prompt) {
        /* Would another connection release it? */
        rescue = peer_tcp_connect(4, "127.0.0.1", port);
        closed = wp_wait(&l.Closed, WP_TIMEOUT_MS);
        WT_FAIL("%s: the close was still pending 1 s after the callback returned%s (close returned 0x%x, enable "
                "returned 0x%x %s)",
                how,
                closed ? "; it completed once another connection arrived" : ", and 10 s later, after another "
                                                                             "connection, still",
                (unsigned)l.Close.Returned, (unsigned)l.EnableStatus, wp_status_name(l.EnableStatus));
    }
    if (peer >= 0)
        peer_close(peer);
    if (rescue >= 0)
        peer_close(rescue);
    if (!closed)
        return FALSE;
    if (l.CloseDoneBeforeEnable && mode == L10_AFTER)
        l10_skipped++; /* the close was already complete: nothing to misuse */
    else if (l.CloseDoneBeforeEnable)
        WT_FAIL("%s: the close completed while the accept callback was still running (PFN_WSK_CLOSE_SOCKET: it "
                "waits for callbacks in progress)",
                how);
    if (l.Enabled) {
        int k = 0;
        while (k < 7 && l10_seen_count[k] > 0 && l10_seen[k] != l.EnableStatus)
            k++;
        l10_seen[k] = l.EnableStatus;
        l10_seen_count[k]++;
        if (NT_SUCCESS(l.EnableStatus))
            WT_FAIL("%s: enabling WSK_EVENT_ACCEPT after WskCloseSocket returned 0x%x: the closed listener took it",
                    how, (unsigned)l.EnableStatus);
    }
    CHECK_EQ(wp_log_check(&l.Close, "%s: close", how), STATUS_SUCCESS);
    if (prompt && l.CloseDoneUs - l.CallbackReturnUs > 1000000)
        WT_FAIL("%s: the close took %lld ms after the callback returned", how,
                (long long)(l.CloseDoneUs - l.CallbackReturnUs) / 1000);
    if (l.SpinTimedOut)
        WT_FAIL("%s: WskCloseSocket + SO_WSK_EVENT_CALLBACK on the worker did not return within 2 s while the "
                "accept callback was running",
                how);
    /* PFN_WSK_CLOSE_SOCKET: once the close has completed the listener is
     * gone: its port refuses connections and no callback comes. */
    usleep(20000);
    int probe = peer_tcp_connect(4, "127.0.0.1", port);
    if (probe >= 0) {
        usleep(20000);
        WT_FAIL("%s: 20 ms after the close completed, a connection to the listener's port %u was accepted by the "
                "system (the Linux listening socket is still open)",
                how, port);
        peer_close(probe);
    }
    LONG calls = InterlockedCompareExchange(&l.Calls, 0, 0);
    if (calls != l.CallsAtClose)
        WT_FAIL("%s: WskAcceptEvent was called %d times after the close completed (its listener context may be "
                "freed by then)",
                how, (int)(calls - l.CallsAtClose));
    if ((mode == L10_ACCEPT || mode == L10_AFTER) &&
        wp_log_check(&l.Accept, "%s: the WskAccept", how) != STATUS_CANCELLED)
        WT_FAIL("%s: the pending WskAccept completed with 0x%x (%s), expected STATUS_CANCELLED", how,
                (unsigned)l.Accept.Status, wp_status_name(l.Accept.Status));
    if ((mode == L10_ACCEPT || mode == L10_AFTER) && l.CallsAtClose != 0)
        WT_FAIL("%s: WskAcceptEvent called %d times", how, (int)l.CallsAtClose);
    if ((mode == L10_INSIDE || mode == L10_WORKER) && l.CallsAtClose != 1)
        WT_FAIL("%s: WskAcceptEvent called %d times before the close completed, expected 1", how,
                (int)l.CallsAtClose);
    IoFreeIrp(l.CloseIrp);
    if (l.AcceptIrp != NULL)
        IoFreeIrp(l.AcceptIrp);
    return TRUE;
}

static void closed_listener_refuses_accept_events(void)
{
    if (openwsk_verify_enabled_groups() & OPENWSK_VERIFY_WSK) {
        fprintf(stderr, "  skipped: it calls a closing socket on purpose, which the verifier's wsk group stops\n");
        return;
    }
    static wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(wp_worker_start(&ls_worker), STATUS_SUCCESS);
    memset(l10_seen_count, 0, sizeof(l10_seen_count));
    l10_skipped = 0;
    const char *name = "enable accept events on a closed listener";
    int n = wp_fraction(rounds, 2);
    wp_case_begin();
    BOOLEAN wedged = FALSE;
    for (int round = 0; round < n && !wedged; round++) {
        wp_round_begin(name, round, n);
        wedged = !l10_round(&t, (l10_mode)(round % L10_MODES), (ULONG)round);
        wp_round_end(round);
    }
    wp_case_end(name, n);
    for (int k = 0; k < 8 && l10_seen_count[k] > 0; k++)
        fprintf(stderr, "  the enable returned 0x%x (%s) %d times\n", (unsigned)l10_seen[k],
                wp_status_name(l10_seen[k]), l10_seen_count[k]);
    if (l10_skipped > 0)
        fprintf(stderr, "  %d rounds of \"%s\" found the close complete before the enable (not tried)\n",
                l10_skipped, l10_name(L10_AFTER));
    wp_worker_stop(&ls_worker);
    /* WskDeregister, Remarks: it waits for the sockets; they are all
     * closed, so it must return. */
    if (!wedged)
        wp_wsk_close(&t, WP_TIMEOUT_MS);
    else
        WT_FAIL("not deregistering: a listener's close never completed");
}

int main(void)
{
    wp_install_crash_note();
    rounds = wp_rounds(60);
    fprintf(stderr, "%d rounds (OPENWSK_PATTERN_ROUNDS)\n", rounds);
    WP_RUN(unload_waits_for_open_connection);
    WP_RUN(listener_recreated_after_it_died);
    WP_RUN(closed_listener_refuses_accept_events);
    if (wt_cases_failed == 0)
        CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
