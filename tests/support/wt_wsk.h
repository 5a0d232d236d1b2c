/*
 * wt_wsk.h - helpers for WSK conformance tests: a registered client, and
 * IRPs used the way WSK clients use them (IoAllocateIrp(1), a completion
 * routine that returns STATUS_MORE_PROCESSING_REQUIRED, IoReuseIrp), with
 * the IRP contract itself checked on every call:
 *  - STATUS_PENDING returned  => the routine runs once, PendingReturned TRUE;
 *  - any other status         => the routine already ran once, with that
 *                                status and PendingReturned FALSE.
 */
#ifndef OPENWSK_TEST_WT_WSK_H
#define OPENWSK_TEST_WT_WSK_H

#include <ntddk.h>
#include <wsk.h>

#include "linux_peer.h"
#include "wt.h"

typedef struct wt_irp {
    PIRP irp;
    KEVENT done;
    volatile LONG completions;
    BOOLEAN pending_returned;
} wt_irp;

static inline NTSTATUS wt_irp_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    wt_irp *w = context;
    (void)device;
    w->pending_returned = irp->PendingReturned;
    InterlockedIncrement(&w->completions);
    KeSetEvent(&w->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Prepares the IRP for one call (allocating it the first time). */
static inline PIRP wt_irp_arm(wt_irp *w)
{
    if (w->irp == NULL)
        w->irp = IoAllocateIrp(1, FALSE);
    IoReuseIrp(w->irp, STATUS_UNSUCCESSFUL);
    w->irp->IoStatus.Information = 0xDEADBEEF; /* as the Wine test seeds it: nothing may rely on it */
    KeInitializeEvent(&w->done, NotificationEvent, FALSE);
    w->completions = 0;
    w->pending_returned = 0xFF;
    IoSetCompletionRoutine(w->irp, wt_irp_routine, w, TRUE, TRUE, TRUE);
    return w->irp;
}

/* Waits for the call's completion and checks the contract; returns the
 * final IoStatus.Status. */
#define wt_irp_result(w, returned) wt_irp_result_at((w), (returned), __FILE__, __LINE__)
static inline NTSTATUS wt_irp_result_at(wt_irp *w, NTSTATUS returned, const char *file, int line)
{
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    if (KeWaitForSingleObject(&w->done, Executive, KernelMode, FALSE, &timeout) != STATUS_SUCCESS) {
        fprintf(stderr, "  FAIL %s:%d: IRP never completed (returned 0x%x)\n", file, line, (unsigned)returned);
        wt_case_failed = 1;
        return STATUS_PENDING;
    }
    if (w->completions != 1) {
        fprintf(stderr, "  FAIL %s:%d: IRP completed %d times\n", file, line, (int)w->completions);
        wt_case_failed = 1;
    }
    if (returned == STATUS_PENDING) {
        if (w->pending_returned != TRUE) {
            fprintf(stderr, "  FAIL %s:%d: STATUS_PENDING returned but PendingReturned is FALSE\n", file, line);
            wt_case_failed = 1;
        }
    } else {
        if (w->pending_returned != FALSE || w->irp->IoStatus.Status != returned) {
            fprintf(stderr, "  FAIL %s:%d: returned 0x%x but IRP has 0x%x, PendingReturned %d\n", file, line,
                    (unsigned)returned, (unsigned)w->irp->IoStatus.Status, w->pending_returned);
            wt_case_failed = 1;
        }
    }
    return w->irp->IoStatus.Status;
}

static inline void wt_irp_free(wt_irp *w)
{
    if (w->irp != NULL)
        IoFreeIrp(w->irp);
    w->irp = NULL;
}

/* A registered client with a captured provider NPI. */
typedef struct wt_wsk {
    WSK_REGISTRATION registration;
    WSK_PROVIDER_NPI provider;
    wt_irp irp;
    /* Category of each socket made by wt_socket: the helpers need it to pick
     * the right dispatch-table layout. */
    struct {
        PWSK_SOCKET socket;
        ULONG flags;
    } made[64];
} wt_wsk;

static inline ULONG wt_category_of(wt_wsk *t, PWSK_SOCKET s)
{
    for (int i = 0; i < 64; i++)
        if (t->made[i].socket == s)
            return t->made[i].flags;
    return WSK_FLAG_CONNECTION_SOCKET;
}

static const WSK_CLIENT_DISPATCH wt_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

static inline void wt_wsk_open(wt_wsk *t)
{
    WSK_CLIENT_NPI npi = {NULL, &wt_client_dispatch};
    __builtin_memset(t, 0, sizeof(*t));
    CHECK_EQ(WskRegister(&npi, &t->registration), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&t->registration, WSK_INFINITE_WAIT, &t->provider), STATUS_SUCCESS);
}

static inline void wt_wsk_close(wt_wsk *t)
{
    wt_irp_free(&t->irp);
    WskReleaseProviderNPI(&t->registration);
    WskDeregister(&t->registration);
}

/* WskSocket through the provider table, with a socket context and event
 * dispatch table; returns the socket or NULL and leaves the final status in
 * *status.  The socket's category is recorded for the helpers below. */
static inline PWSK_SOCKET wt_socket_with(wt_wsk *t, ADDRESS_FAMILY family, USHORT type, ULONG protocol, ULONG flags,
                                         PVOID context, const VOID *dispatch, NTSTATUS *status)
{
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, family, type, protocol, flags, context, dispatch,
                                                 NULL, NULL, NULL, wt_irp_arm(&t->irp));
    NTSTATUS s = wt_irp_result(&t->irp, r);
    if (status != NULL)
        *status = s;
    PWSK_SOCKET made = NT_SUCCESS(s) ? (PWSK_SOCKET)t->irp.irp->IoStatus.Information : NULL;
    for (int i = 0; made != NULL && i < 64; i++) {
        if (t->made[i].socket == NULL || t->made[i].socket == made) {
            t->made[i].socket = made;
            t->made[i].flags = flags;
            break;
        }
    }
    return made;
}

/* The same without events. */
static inline PWSK_SOCKET wt_socket(wt_wsk *t, ADDRESS_FAMILY family, USHORT type, ULONG protocol, ULONG flags,
                                    NTSTATUS *status)
{
    return wt_socket_with(t, family, type, protocol, flags, NULL, NULL, status);
}

static inline NTSTATUS wt_bind(wt_wsk *t, PWSK_SOCKET s, const void *addr)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch; /* WskBind is at the same slot in every table */
    NTSTATUS r = d->WskBind(s, (PSOCKADDR)addr, 0, wt_irp_arm(&t->irp));
    NTSTATUS st = wt_irp_result(&t->irp, r);
    CHECK_EQ(t->irp.irp->IoStatus.Information, 0);
    return st;
}

static inline NTSTATUS wt_close(wt_wsk *t, PWSK_SOCKET s)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    for (int i = 0; i < 64; i++)
        if (t->made[i].socket == s)
            t->made[i].socket = NULL;
    NTSTATUS r = d->WskCloseSocket(s, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static inline NTSTATUS wt_local_address(wt_wsk *t, PWSK_SOCKET s, void *addr)
{
    PFN_WSK_GET_LOCAL_ADDRESS get;
    switch (wt_category_of(t, s)) {
    case WSK_FLAG_LISTEN_SOCKET: get = ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)->WskGetLocalAddress; break;
    case WSK_FLAG_DATAGRAM_SOCKET: get = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->Dispatch)->WskGetLocalAddress; break;
    case WSK_FLAG_STREAM_SOCKET: get = ((const WSK_PROVIDER_STREAM_DISPATCH *)s->Dispatch)->WskGetLocalAddress; break;
    default: get = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)s->Dispatch)->WskGetLocalAddress; break;
    }
    NTSTATUS r = get(s, (PSOCKADDR)addr, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static inline NTSTATUS wt_set_ulong(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG option, ULONG value)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, option, level, sizeof(value), &value, 0, NULL, NULL,
                                     wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static inline SOCKADDR_IN wt_in4(const char *dotted, USHORT port);
static inline SOCKADDR_IN6 wt_in6(const char *text, USHORT port);

/* A UDP datagram socket bound to ip:0; *port receives the port chosen. */
static inline PWSK_SOCKET wt_datagram_socket(wt_wsk *t, ADDRESS_FAMILY family, const char *ip, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(t, family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    if (family == AF_INET) {
        SOCKADDR_IN a = wt_in4(ip, 0), local;
        CHECK_EQ(wt_bind(t, s, &a), STATUS_SUCCESS);
        CHECK_EQ(wt_local_address(t, s, &local), STATUS_SUCCESS);
        *port = RtlUshortByteSwap(local.sin_port);
    } else {
        SOCKADDR_IN6 a = wt_in6(ip, 0), local;
        CHECK_EQ(wt_bind(t, s, &a), STATUS_SUCCESS);
        CHECK_EQ(wt_local_address(t, s, &local), STATUS_SUCCESS);
        *port = RtlUshortByteSwap(local.sin6_port);
    }
    return s;
}

static inline SOCKADDR_IN wt_in4(const char *dotted, USHORT port)
{
    SOCKADDR_IN a;
    __builtin_memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = RtlUshortByteSwap(port);
    unsigned b[4] = {0, 0, 0, 0};
    sscanf(dotted, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
    UCHAR *p = (UCHAR *)&a.sin_addr;
    for (int i = 0; i < 4; i++)
        p[i] = (UCHAR)b[i];
    return a;
}

/* "::", "::1" or "::ffff:a.b.c.d" (the forms the tests need). */
static inline SOCKADDR_IN6 wt_in6(const char *text, USHORT port)
{
    SOCKADDR_IN6 a;
    __builtin_memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_port = RtlUshortByteSwap(port);
    if (strcmp(text, "::1") == 0) {
        a.sin6_addr.u.Byte[15] = 1;
    } else if (strncmp(text, "::ffff:", 7) == 0) {
        SOCKADDR_IN v4 = wt_in4(text + 7, 0);
        a.sin6_addr.u.Byte[10] = 0xff;
        a.sin6_addr.u.Byte[11] = 0xff;
        __builtin_memcpy(&a.sin6_addr.u.Byte[12], &v4.sin_addr, 4);
    }
    return a;
}

/* A connection socket (with this context and event dispatch table, either
 * may be NULL) connected to a Linux listener on 127.0.0.1; `events`
 * (WSK_EVENT_RECEIVE...; 0 for none) are enabled before the Linux side
 * accepts.  *peer receives the Linux end; the listener is closed. */
static inline PWSK_SOCKET wt_connect_to_linux(wt_wsk *t, PVOID context, const VOID *dispatch, ULONG events, int *peer)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(lfd >= 0);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, context, dispatch,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    SOCKADDR_IN any = wt_in4("127.0.0.1", 0), remote = wt_in4("127.0.0.1", peer_local_port(lfd));
    CHECK_EQ(wt_bind(t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&t->irp, d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t->irp))), STATUS_SUCCESS);
    if (events != 0) {
        WSK_EVENT_CALLBACK_CONTROL control = {&NPI_WSK_INTERFACE_ID, events};
        CHECK_EQ(d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                     NULL, NULL, NULL),
                 STATUS_SUCCESS);
    }
    *peer = peer_accept(lfd, 2000);
    CHECK(*peer >= 0);
    peer_close(lfd);
    return s;
}

#endif /* OPENWSK_TEST_WT_WSK_H */
