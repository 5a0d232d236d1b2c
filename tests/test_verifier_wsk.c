/*
 * test_verifier_wsk.c - the driver verifier's WSK rules (OPENWSK_VERIFY=wsk,
 * docs/verifier.md), each with a buggy client fragment the rule catches
 * and, where there is one, the fixed fragment, which runs clean.
 *
 * Each fragment runs in a fork()ed child that registers its own client
 * (the parent never starts the provider).
 */
#include <ntddk.h>
#include <openwsk_runtime.h>
#include <wsk.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "linux_peer.h"
#include "wt.h"
#include "wt_verifier.h"
#include "wt_wsk.h"

/* The report of `rule` and the stop 0xC4; `also` (or NULL) must be in it too. */
static int caught_with(void (*fn)(void *), const char *rule, unsigned id, const char *also)
{
    return wt_verifier_caught(fn, rule, id, 0xC4, also);
}

static int caught(void (*fn)(void *), const char *rule, unsigned id)
{
    return caught_with(fn, rule, id, NULL);
}

static int runs_clean(void (*fn)(void *))
{
    return wt_runs_clean(fn, NULL);
}

static wt_wsk t;

/* ---- calls after close ---- */

static void bind_after_close(void *unused)
{
    (void)unused;
    USHORT port;
    wt_wsk_open(&t);
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0);
    (void)wt_bind(&t, s, &a); /* BUG: s is gone */
}

static void close_twice(void *unused)
{
    (void)unused;
    USHORT port;
    wt_wsk_open(&t);
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    (void)wt_close(&t, s); /* BUG */
}

static void control_after_close(void *unused)
{
    (void)unused;
    USHORT port;
    wt_wsk_open(&t);
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    (void)wt_set_ulong(&t, s, SOL_SOCKET, SO_RCVBUF, 4096); /* BUG */
}

static void close_once(void *unused)
{
    (void)unused;
    USHORT port;
    wt_wsk_open(&t);
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_RCVBUF, 4096), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* ---- a close racing a call that still runs ---- */

typedef struct racing {
    KEVENT inside, go;
    PWSK_SOCKET socket;
    BOOLEAN close_inside; /* the fix: the close comes from the routine itself, on the call's thread */
    PIRP close_irp;
} racing;

static IO_COMPLETION_ROUTINE set_option_done;
static NTSTATUS set_option_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    racing *r = context;
    KeSetEvent(&r->inside, IO_NO_INCREMENT, FALSE);
    if (r->close_inside) {
        const WSK_PROVIDER_BASIC_DISPATCH *b = r->socket->Dispatch;
        (void)b->WskCloseSocket(r->socket, r->close_irp);
    } else {
        /* The routine runs inside WskControlSocket (completed inline): the
         * call is still running while it waits here. */
        KeWaitForSingleObject(&r->go, Executive, KernelMode, FALSE, NULL);
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void *set_option_thread(void *arg)
{
    racing *r = arg;
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, set_option_done, r, TRUE, TRUE, TRUE);
    ULONG value = 1;
    const WSK_PROVIDER_BASIC_DISPATCH *b = r->socket->Dispatch;
    (void)b->WskControlSocket(r->socket, WskSetOption, SO_REUSEADDR, SOL_SOCKET, sizeof(value), &value, 0, NULL,
                              NULL, irp);
    IoFreeIrp(irp);
    return NULL;
}

static void race(BOOLEAN close_inside)
{
    static racing r;
    NTSTATUS st;
    wt_wsk_open(&t);
    KeInitializeEvent(&r.inside, NotificationEvent, FALSE);
    KeInitializeEvent(&r.go, NotificationEvent, FALSE);
    r.socket = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    r.close_inside = close_inside;
    r.close_irp = wt_irp_arm(&t.irp);
    pthread_t other;
    pthread_create(&other, NULL, set_option_thread, &r);
    KeWaitForSingleObject(&r.inside, Executive, KernelMode, FALSE, NULL);
    if (!close_inside) {
        const WSK_PROVIDER_BASIC_DISPATCH *b = r.socket->Dispatch;
        (void)b->WskCloseSocket(r.socket, r.close_irp); /* BUG: WskControlSocket still runs in the other thread */
        KeSetEvent(&r.go, IO_NO_INCREMENT, FALSE);
    }
    pthread_join(other, NULL);
    CHECK_EQ(wt_irp_result(&t.irp, STATUS_PENDING), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void close_racing_a_call(void *unused)
{
    (void)unused;
    race(FALSE);
}

static void close_from_the_calls_own_routine(void *unused)
{
    (void)unused;
    race(TRUE);
}

/* ---- a listener's table used for another socket ---- */

static void accept_on_a_datagram_socket(void *unused)
{
    (void)unused;
    USHORT port;
    NTSTATUS st;
    wt_wsk_open(&t);
    PWSK_SOCKET listener = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *listen = listener->Dispatch;
    (void)listen->WskAccept(s, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp)); /* BUG: s is no listener */
}

/* ---- indications retained at close, released twice ---- */

typedef struct retained {
    KEVENT got;
    PWSK_DATA_INDICATION held;
    BOOLEAN linger; /* the callback waits a while before it returns STATUS_PENDING */
} retained;

static NTSTATUS WSKAPI keep_indication(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                       SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    retained *r = SocketContext;
    if (DataIndication == NULL || r->held != NULL)
        return STATUS_SUCCESS;
    r->held = DataIndication;
    KeSetEvent(&r->got, IO_NO_INCREMENT, FALSE);
    if (r->linger) /* 200 ms, busy (a wait is not allowed at DISPATCH_LEVEL): the close comes meanwhile */
        for (int i = 0; i < 4000; i++)
            KeStallExecutionProcessor(50);
    return STATUS_PENDING;
}

static const WSK_CLIENT_CONNECTION_DISPATCH keeping_events = {keep_indication, NULL, NULL};

/* A connection whose receive event retains the first indication. */
static PWSK_SOCKET connection_with_retained(retained *r, int *peer)
{
    KeInitializeEvent(&r->got, NotificationEvent, FALSE);
    r->held = NULL;
    wt_wsk_open(&t);
    PWSK_SOCKET s = wt_connect_to_linux(&t, r, &keeping_events, WSK_EVENT_RECEIVE, peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    CHECK_EQ(peer_send_all(*peer, "hello", 5), 5);
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&r->got, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    /* Disabling the event completes only once the running callback's
     * answer took effect: from here the indication is retained. */
    WSK_EVENT_CALLBACK_CONTROL off = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE};
    NTSTATUS r_ = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(off), &off, 0, NULL,
                                      NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r_), STATUS_SUCCESS);
    return s;
}

static void close_with_retained_indication(void *unused)
{
    (void)unused;
    static retained r;
    int peer;
    PWSK_SOCKET s = connection_with_retained(&r, &peer);
    (void)wt_close(&t, s); /* BUG: r.held was never given back */
}

/* The close comes while the callback runs; the callback then retains. */
static void close_while_callback_retains(void *unused)
{
    (void)unused;
    static retained r;
    r.linger = TRUE;
    KeInitializeEvent(&r.got, NotificationEvent, FALSE);
    r.held = NULL;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, &r, &keeping_events, WSK_EVENT_RECEIVE, &peer);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&r.got, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    (void)wt_close(&t, s); /* BUG, with the callback's: it retains what it can no longer give back */
}

static void release_then_close(void *unused)
{
    (void)unused;
    static retained r;
    int peer;
    PWSK_SOCKET s = connection_with_retained(&r, &peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    CHECK_EQ(d->WskRelease(s, r.held), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

static void release_twice(void *unused)
{
    (void)unused;
    static retained r;
    int peer;
    PWSK_SOCKET s = connection_with_retained(&r, &peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    CHECK_EQ(d->WskRelease(s, r.held), STATUS_SUCCESS);
    (void)d->WskRelease(s, r.held); /* BUG */
}

/* ---- what event callbacks return, and how ---- */

typedef struct misbehaving {
    KEVENT got;
    int how; /* 0: a status the page does not allow, 1: keeps a spin lock, 2: lowers the IRQL */
} misbehaving;

static KSPIN_LOCK callback_lock;

static NTSTATUS WSKAPI misbehaving_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                           SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    misbehaving *m = SocketContext;
    if (DataIndication == NULL)
        return STATUS_SUCCESS;
    KeSetEvent(&m->got, IO_NO_INCREMENT, FALSE);
    if (m->how == 1)
        KeAcquireSpinLockAtDpcLevel(&callback_lock); /* BUG: never released */
    if (m->how == 2)
        KeLowerIrql(PASSIVE_LEVEL); /* BUG: the provider called it at DISPATCH_LEVEL */
    if (m->how == 0)
        return STATUS_INVALID_PARAMETER; /* BUG: not a value WskReceiveEvent may return */
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH misbehaving_events = {misbehaving_receive, NULL, NULL};

static void receive_event_that(int how)
{
    static misbehaving m;
    KeInitializeSpinLock(&callback_lock);
    KeInitializeEvent(&m.got, NotificationEvent, FALSE);
    m.how = how;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, &m, &misbehaving_events, WSK_EVENT_RECEIVE, &peer);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&m.got, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    LARGE_INTEGER pause = {.QuadPart = -200LL * 10000}; /* the verdict comes as the callback returns */
    KeDelayExecutionThread(KernelMode, FALSE, &pause);
    if (how == 3) { /* the well-behaved one: close cleanly */
        CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
        peer_close(peer);
        wt_wsk_close(&t);
    }
}

static void returns_invalid_status(void *unused)
{
    (void)unused;
    receive_event_that(0);
}

static void keeps_spin_lock(void *unused)
{
    (void)unused;
    receive_event_that(1);
}

static void lowers_irql(void *unused)
{
    (void)unused;
    receive_event_that(2);
}

static void behaves(void *unused)
{
    (void)unused;
    receive_event_that(3);
}

/* ---- the provider NPI ---- */

static const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

static void deregister_holding_capture(void *unused)
{
    (void)unused;
    static WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI npi;
    WSK_CLIENT_NPI client = {NULL, &client_dispatch};
    CHECK_EQ(WskRegister(&client, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_INFINITE_WAIT, &npi), STATUS_SUCCESS);
    WskDeregister(&reg); /* BUG: this thread still holds the capture: it would wait forever */
}

static WSK_REGISTRATION forgotten_reg;

static void *capture_and_forget(void *unused)
{
    (void)unused;
    WSK_PROVIDER_NPI npi;
    CHECK_EQ(WskCaptureProviderNPI(&forgotten_reg, WSK_INFINITE_WAIT, &npi), STATUS_SUCCESS);
    return NULL; /* BUG: never WskReleaseProviderNPI */
}

static void capture_never_released(void *unused)
{
    (void)unused;
    WSK_CLIENT_NPI client = {NULL, &client_dispatch};
    CHECK_EQ(WskRegister(&client, &forgotten_reg), STATUS_SUCCESS);
    pthread_t worker;
    pthread_create(&worker, NULL, capture_and_forget, NULL);
    pthread_join(worker, NULL);
    WskDeregister(&forgotten_reg);
}

static void capture_released(void *unused)
{
    (void)unused;
    static WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI npi;
    WSK_CLIENT_NPI client = {NULL, &client_dispatch};
    CHECK_EQ(WskRegister(&client, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_INFINITE_WAIT, &npi), STATUS_SUCCESS);
    WskReleaseProviderNPI(&reg);
    WskDeregister(&reg);
}

/* ---- cases ---- */

static void call_after_close(void)
{
    CHECK(caught_with(bind_after_close, "WskCallAfterClose", 0xA0301, "the close completed: the pointer is dangling"));
    CHECK(caught_with(bind_after_close, "WskCallAfterClose", 0xA0301, "WskCloseSocket called at:"));
    CHECK(caught(close_twice, "WskCallAfterClose", 0xA0301));
    CHECK(caught(control_after_close, "WskCallAfterClose", 0xA0301));
    CHECK(runs_clean(close_once));
}

static void close_while_call_running(void)
{
    CHECK(caught_with(close_racing_a_call, "WskCloseWhileCallRunning", 0xA0302, "(the latest: WskControlSocket)"));
    CHECK(runs_clean(close_from_the_calls_own_routine));
}

static void wrong_category(void)
{
    CHECK(caught(accept_on_a_datagram_socket, "WskWrongDispatchCategory", 0xA0304));
}

static void indications(void)
{
    CHECK(caught(close_with_retained_indication, "WskIndicationNotReleasedBeforeClose", 0xA0303));
    CHECK(caught(close_while_callback_retains, "WskIndicationNotReleasedBeforeClose", 0xA0303));
    CHECK(caught(release_twice, "WskReleaseNotRetained", 0xA0306));
    CHECK(runs_clean(release_then_close));
}

static void event_callbacks(void)
{
    CHECK(caught_with(returns_invalid_status, "WskEventCallbackStatus", 0xA0308, "returned 0xC000000D"));
    CHECK(caught(keeps_spin_lock, "EventCallbackSpinLock", 0xA0007));
    CHECK(caught_with(lowers_irql, "EventCallbackIrql", 0xA0006, "called at DISPATCH_LEVEL and returned at PASSIVE_LEVEL"));
    CHECK(runs_clean(behaves));
}

static void provider_npi(void)
{
    CHECK(caught(deregister_holding_capture, "WskDeregisterHoldingNpi", 0xA0305));
    CHECK(caught(capture_never_released, "WskNpiNeverReleased", 0xA0307));
    CHECK(runs_clean(capture_released));
}

int main(void)
{
    if (openwsk_verify_configure("wsk,irql") != 0)
        return 1;
    WT_RUN(call_after_close);
    WT_RUN(close_while_call_running);
    WT_RUN(wrong_category);
    WT_RUN(indications);
    WT_RUN(event_callbacks);
    WT_RUN(provider_npi);
    openwsk_verify_configure("");
    return wt_finish();
}
