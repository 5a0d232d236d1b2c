/*
 * test_wsk_alloc_sweep.c - every pool allocation of a flow, made to fail in
 * turn (issue 11).
 *
 * Each flow runs start to end against a real Linux peer over loopback: once
 * clean to count the allocations A it makes, then with the N-th allocation
 * failing, for N in 1..A plus a margin (the count differs between backends
 * and runs: the sweep goes to the largest count seen).  An allocation that
 * fails inside the provider must surface: the flow either succeeds byte-exact
 * or a failure arrives through a documented channel (a failed IRP, a NULL
 * AcceptSocket to WskAcceptEvent, an abortive disconnect event, a reset the
 * peer sees) within a bounded time.  Every wait is bounded (SWEEP_WAIT_MS):
 * a wait that runs out fails the test naming the flow, N and the step.
 * After each run the pool is back to its baseline, and the Linux peer's
 * side of every connection has ended (EOF or reset).
 *
 * Every IRP, MDL and buffer the test itself uses is allocated before the
 * fault is armed, so the N-th allocation is always the provider's.
 *
 * OPENWSK_ALLOC_SWEEP_WIDE=1 widens the sweep (more data, more clean runs,
 * a larger margin); the default keeps CI to seconds.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

#define SWEEP_WAIT_MS 2000
#define SWEEP_IRPS 8
#define SWEEP_BUFS 4
#define SWEEP_HELD_MAX 64

static int sweep_wide;
static size_t stream_len;  /* bytes each way on a TCP connection */

/* ---- one run of a flow ---- */

typedef enum outcome { OUT_OK, OUT_SURFACED, OUT_STALLED } outcome;

typedef struct sweep_buf {
    UCHAR *memory;
    SIZE_T size;
    PMDL mdl;
} sweep_buf;

typedef struct run {
    const char *flow;
    long n;              /* the failing allocation; 0 for a clean run */
    const char *step;    /* what the flow is doing now */
    const char *surfaced; /* the channel a failure came through, if any */
    const char *surfaced_step;
    NTSTATUS surfaced_status;
    BOOLEAN stalled;
    BOOLEAN close_stalled; /* then the client cannot deregister either */
    wt_irp irps[SWEEP_IRPS];
    sweep_buf bufs[SWEEP_BUFS];
} run;

static void run_stall(run *r, const char *what)
{
    if (!r->stalled)
        WT_FAIL("flow %s, N=%ld: stalled at step '%s' (%s): no completion, event or error within %d ms", r->flow,
                r->n, r->step, what, SWEEP_WAIT_MS);
    r->stalled = TRUE;
}

static void run_surface(run *r, const char *channel)
{
    if (r->surfaced == NULL) {
        r->surfaced = channel;
        r->surfaced_step = r->step;
    }
}

static LONGLONG now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (LONGLONG)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static BOOLEAN wait_event_ms(PKEVENT e, int ms)
{
    LARGE_INTEGER timeout = {.QuadPart = -(LONGLONG)ms * 10000};
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS;
}

/* Waits for an IRP handed to the provider; checks the completion contract.
 * STATUS_PENDING back means it stalled. */
static NTSTATUS irp_wait(run *r, wt_irp *w, NTSTATUS returned)
{
    if (!wait_event_ms(&w->done, SWEEP_WAIT_MS)) {
        run_stall(r, "IRP never completed");
        return STATUS_PENDING;
    }
    if (w->completions != 1)
        WT_FAIL("flow %s, N=%ld, step '%s': IRP completed %d times", r->flow, r->n, r->step, (int)w->completions);
    if (returned != STATUS_PENDING && w->irp->IoStatus.Status != returned)
        WT_FAIL("flow %s, N=%ld, step '%s': returned 0x%x, IRP has 0x%x", r->flow, r->n, r->step, (unsigned)returned,
                (unsigned)w->irp->IoStatus.Status);
    return w->irp->IoStatus.Status;
}

/* An IRP status: success goes on, a failure is a surfaced one (must be a
 * real failure status, never a stall). */
static BOOLEAN irp_ok(run *r, NTSTATUS st)
{
    if (st == STATUS_PENDING)
        return FALSE; /* stalled, reported */
    if (NT_SUCCESS(st))
        return TRUE;
    run_surface(r, "failed IRP");
    if (r->surfaced_status == 0)
        r->surfaced_status = st;
    return FALSE;
}

static void run_setup(run *r, const char *flow, long n)
{
    memset(r, 0, sizeof(*r));
    r->flow = flow;
    r->n = n;
    r->step = "setup";
    for (int i = 0; i < SWEEP_IRPS; i++)
        r->irps[i].irp = IoAllocateIrp(1, FALSE);
    for (int i = 0; i < SWEEP_BUFS; i++) {
        r->bufs[i].size = stream_len;
        r->bufs[i].memory = malloc(stream_len);
        r->bufs[i].mdl = IoAllocateMdl(r->bufs[i].memory, (ULONG)stream_len, FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(r->bufs[i].mdl);
    }
}

static void run_teardown(run *r)
{
    if (r->stalled)
        return; /* the provider may still own them */
    for (int i = 0; i < SWEEP_IRPS; i++)
        wt_irp_free(&r->irps[i]);
    for (int i = 0; i < SWEEP_BUFS; i++) {
        IoFreeMdl(r->bufs[i].mdl);
        free(r->bufs[i].memory);
    }
}

static WSK_BUF wbuf(run *r, int i, SIZE_T len)
{
    WSK_BUF b = {r->bufs[i].mdl, 0, len};
    return b;
}

static void fill_pattern(UCHAR *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = peer_pattern(i);
}

static BOOLEAN is_pattern(const UCHAR *p, size_t offset, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != peer_pattern(offset + i))
            return FALSE;
    return TRUE;
}

/* The peer's side must end once the driver closed: EOF or a reset. */
static void peer_must_end(run *r, int fd, const char *what)
{
    if (fd < 0)
        return;
    long got = peer_drain(fd, SWEEP_WAIT_MS);
    if (got == -ETIMEDOUT)
        WT_FAIL("flow %s, N=%ld: the Linux peer's %s never ended after the driver closed", r->flow, r->n, what);
    peer_close(fd);
}

/* ---- registration ---- */

static const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

typedef struct client {
    WSK_REGISTRATION registration;
    WSK_PROVIDER_NPI provider;
    BOOLEAN registered, captured;
} client;

static BOOLEAN client_open(run *r, client *c)
{
    WSK_CLIENT_NPI npi = {NULL, &client_dispatch};
    memset(c, 0, sizeof(*c));
    r->step = "WskRegister";
    NTSTATUS st = WskRegister(&npi, &c->registration);
    if (!NT_SUCCESS(st)) {
        CHECK_EQ(st, STATUS_INSUFFICIENT_RESOURCES);
        run_surface(r, "WskRegister");
        return FALSE;
    }
    c->registered = TRUE;
    r->step = "WskCaptureProviderNPI";
    st = WskCaptureProviderNPI(&c->registration, WSK_INFINITE_WAIT, &c->provider);
    if (!NT_SUCCESS(st)) {
        run_surface(r, "WskCaptureProviderNPI");
        return FALSE;
    }
    c->captured = TRUE;
    return TRUE;
}

static void client_close(run *r, client *c)
{
    r->step = "deregister";
    if (r->close_stalled)
        return; /* it would wait for the socket forever */
    if (c->captured)
        WskReleaseProviderNPI(&c->registration);
    if (c->registered)
        WskDeregister(&c->registration);
}

/* ---- socket helpers (IRP i of the run) ---- */

static PWSK_SOCKET make_socket(run *r, client *c, int irp, USHORT type, ULONG protocol, ULONG flags, PVOID context,
                               const VOID *dispatch)
{
    r->step = "WskSocket";
    wt_irp *w = &r->irps[irp];
    NTSTATUS ret = c->provider.Dispatch->WskSocket(c->provider.Client, AF_INET, type, protocol, flags, context,
                                                   dispatch, NULL, NULL, NULL, wt_irp_arm(w));
    if (!irp_ok(r, irp_wait(r, w, ret)))
        return NULL;
    return (PWSK_SOCKET)w->irp->IoStatus.Information;
}

/* Binds to 127.0.0.1:0; returns the port chosen, 0 on failure.  WskBind
 * has the same slot in every table, WskGetLocalAddress does not. */
static USHORT bind_loopback(run *r, PWSK_SOCKET s, ULONG category, int irp)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    wt_irp *w = &r->irps[irp];
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0);
    r->step = "WskBind";
    if (!irp_ok(r, irp_wait(r, w, d->WskBind(s, (PSOCKADDR)&a, 0, wt_irp_arm(w)))))
        return 0;
    PFN_WSK_GET_LOCAL_ADDRESS get =
        category == WSK_FLAG_LISTEN_SOCKET     ? ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)->WskGetLocalAddress
        : category == WSK_FLAG_DATAGRAM_SOCKET ? ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->Dispatch)->WskGetLocalAddress
                                               : d->WskGetLocalAddress;
    r->step = "WskGetLocalAddress";
    SOCKADDR_IN local;
    memset(&local, 0, sizeof(local));
    if (!irp_ok(r, irp_wait(r, w, get(s, (PSOCKADDR)&local, wt_irp_arm(w)))))
        return 0;
    return RtlUshortByteSwap(local.sin_port);
}

/* Closes a socket with an IRP of its own (the others may be stuck in the
 * provider after a stall); the close must complete, and cannot fail. */
static void close_socket(run *r, PWSK_SOCKET s, int irp)
{
    if (s == NULL || r->close_stalled)
        return;
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    wt_irp *w = &r->irps[SWEEP_IRPS / 2 + irp];
    const char *was = r->step;
    r->step = "WskCloseSocket";
    BOOLEAN before = r->stalled;
    r->stalled = FALSE;
    NTSTATUS st = irp_wait(r, w, d->WskCloseSocket(s, wt_irp_arm(w)));
    if (st != STATUS_PENDING)
        CHECK_EQ(st, STATUS_SUCCESS);
    else
        r->close_stalled = TRUE;
    if (before) {
        r->stalled = TRUE;
        r->step = was;
    }
}

static BOOLEAN set_events(run *r, PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    r->step = "SO_WSK_EVENT_CALLBACK";
    NTSTATUS st = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                      NULL, NULL, NULL);
    if (NT_SUCCESS(st))
        return TRUE;
    CHECK_EQ(st, STATUS_INSUFFICIENT_RESOURCES);
    run_surface(r, "event enable failed");
    return FALSE;
}

/* Sends len pattern bytes from buffer b over a connection. */
static BOOLEAN conn_send(run *r, PWSK_SOCKET s, int irp, int b, size_t len)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    wt_irp *w = &r->irps[irp];
    fill_pattern(r->bufs[b].memory, len);
    WSK_BUF wb = wbuf(r, b, len);
    r->step = "WskSend";
    if (!irp_ok(r, irp_wait(r, w, d->WskSend(s, &wb, 0, wt_irp_arm(w)))))
        return FALSE;
    CHECK_EQ(w->irp->IoStatus.Information, len);
    return TRUE;
}

/* Receives exactly len pattern bytes (WSK_FLAG_WAITALL) into buffer b. */
static BOOLEAN conn_receive(run *r, PWSK_SOCKET s, int irp, int b, size_t len)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    wt_irp *w = &r->irps[irp];
    memset(r->bufs[b].memory, 0, len);
    WSK_BUF wb = wbuf(r, b, len);
    r->step = "WskReceive";
    if (!irp_ok(r, irp_wait(r, w, d->WskReceive(s, &wb, WSK_FLAG_WAITALL, wt_irp_arm(w)))))
        return FALSE;
    CHECK_EQ(w->irp->IoStatus.Information, len);
    if (w->irp->IoStatus.Information == len && !is_pattern(r->bufs[b].memory, 0, len))
        WT_FAIL("flow %s, N=%ld: received bytes differ from what the peer sent", r->flow, r->n);
    return TRUE;
}

static BOOLEAN conn_disconnect(run *r, PWSK_SOCKET s, int irp)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    wt_irp *w = &r->irps[irp];
    r->step = "WskDisconnect";
    return irp_ok(r, irp_wait(r, w, d->WskDisconnect(s, NULL, 0, wt_irp_arm(w))));
}

/* The peer's half of an exchange: it receives len pattern bytes, then
 * sends len pattern bytes. */
static BOOLEAN peer_take(run *r, int fd, size_t len)
{
    UCHAR *got = malloc(len);
    r->step = "peer receive";
    long n = peer_recv_exact(fd, got, len, SWEEP_WAIT_MS);
    BOOLEAN ok = n == (long)len;
    if (ok && !is_pattern(got, 0, len))
        WT_FAIL("flow %s, N=%ld: the peer received bytes that differ from what was sent", r->flow, r->n);
    if (!ok)
        WT_FAIL("flow %s, N=%ld: the peer received %ld of %zu bytes after a successful send", r->flow, r->n, n, len);
    free(got);
    return ok;
}

static void peer_give(int fd, size_t len)
{
    UCHAR *p = malloc(len);
    fill_pattern(p, len);
    peer_send_all(fd, p, len);
    free(p);
}

/* ---- flow: IRP-driven TCP ---- */

static void flow_tcp_irp(run *r)
{
    client c;
    PWSK_SOCKET l = NULL, a = NULL, s = NULL;
    int pa = -1, plisten = -1, pc = -1;
    if (!client_open(r, &c))
        goto out;
    /* A listener and WskAccept, against a Linux client. */
    l = make_socket(r, &c, 0, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
    if (l == NULL)
        goto out;
    USHORT port = bind_loopback(r, l, WSK_FLAG_LISTEN_SOCKET, 0);
    if (port == 0)
        goto out;
    pa = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(pa >= 0);
    r->step = "WskAccept";
    const WSK_PROVIDER_LISTEN_DISPATCH *ld = l->Dispatch;
    wt_irp *w = &r->irps[1];
    if (!irp_ok(r, irp_wait(r, w, ld->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(w)))))
        goto out;
    a = (PWSK_SOCKET)w->irp->IoStatus.Information;
    if (!conn_send(r, a, 1, 0, stream_len) || !peer_take(r, pa, stream_len))
        goto out;
    peer_give(pa, stream_len);
    if (!conn_receive(r, a, 1, 1, stream_len) || !conn_disconnect(r, a, 1))
        goto out;
    /* A connection socket and WskConnect, against a Linux listener. */
    plisten = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(plisten >= 0);
    s = make_socket(r, &c, 2, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
    if (s == NULL || bind_loopback(r, s, WSK_FLAG_CONNECTION_SOCKET, 2) == 0)
        goto out;
    SOCKADDR_IN remote = wt_in4("127.0.0.1", peer_local_port(plisten));
    const WSK_PROVIDER_CONNECTION_DISPATCH *cd = s->Dispatch;
    w = &r->irps[2];
    r->step = "WskConnect";
    if (!irp_ok(r, irp_wait(r, w, cd->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(w)))))
        goto out;
    pc = peer_accept(plisten, SWEEP_WAIT_MS);
    CHECK(pc >= 0);
    if (!conn_send(r, s, 2, 2, stream_len) || !peer_take(r, pc, stream_len))
        goto out;
    peer_give(pc, stream_len);
    if (!conn_receive(r, s, 2, 3, stream_len) || !conn_disconnect(r, s, 2))
        goto out;
out:
    close_socket(r, s, 2);
    close_socket(r, a, 1);
    close_socket(r, l, 0);
    client_close(r, &c);
    peer_must_end(r, pa, "accepted connection");
    peer_must_end(r, pc, "connection to its listener");
    if (plisten >= 0)
        peer_close(plisten);
}

/* ---- flow: event-driven TCP ---- */

typedef struct tcp_events {
    pthread_mutex_t mu;
    KEVENT accepted;      /* WskAcceptEvent ran */
    KEVENT progress;      /* data or a disconnect arrived */
    PWSK_SOCKET socket;   /* the accepted socket */
    BOOLEAN null_accept;  /* WskAcceptEvent(AcceptSocket = NULL): the listener stopped */
    int accepts;
    size_t received;
    BOOLEAN mismatch;
    BOOLEAN disconnected;
    ULONG disconnect_flags;
    int indications;
    PWSK_DATA_INDICATION held[SWEEP_HELD_MAX];
    int nheld;
} tcp_events;

static NTSTATUS WSKAPI tcp_on_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                      SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesAccepted;
    tcp_events *e = SocketContext;
    pthread_mutex_lock(&e->mu);
    SIZE_T n = 0;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority);
        if (!is_pattern(va + i->Buffer.Offset, e->received + n, i->Buffer.Length))
            e->mismatch = TRUE;
        n += i->Buffer.Length;
    }
    if (n != BytesIndicated)
        e->mismatch = TRUE;
    e->received += n;
    /* Every other indication is retained and released later from the
     * test's thread, so the provider needs fresh blocks meanwhile. */
    NTSTATUS answer = STATUS_SUCCESS;
    if ((e->indications++ & 1) == 0 && e->nheld < SWEEP_HELD_MAX) {
        e->held[e->nheld++] = DataIndication;
        answer = STATUS_PENDING;
    }
    pthread_mutex_unlock(&e->mu);
    KeSetEvent(&e->progress, IO_NO_INCREMENT, FALSE);
    return answer;
}

static NTSTATUS WSKAPI tcp_on_disconnect(PVOID SocketContext, ULONG Flags)
{
    tcp_events *e = SocketContext;
    pthread_mutex_lock(&e->mu);
    e->disconnected = TRUE;
    e->disconnect_flags = Flags;
    pthread_mutex_unlock(&e->mu);
    KeSetEvent(&e->progress, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH tcp_conn_events = {tcp_on_receive, tcp_on_disconnect, NULL};

static NTSTATUS WSKAPI tcp_on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                     PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                     const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    tcp_events *e = SocketContext;
    pthread_mutex_lock(&e->mu);
    NTSTATUS answer = STATUS_SUCCESS;
    if (AcceptSocket == NULL) {
        e->null_accept = TRUE;
    } else if (e->socket != NULL) {
        answer = STATUS_REQUEST_NOT_ACCEPTED; /* only one connection is expected */
    } else {
        e->socket = AcceptSocket;
        *AcceptSocketContext = e;
        *AcceptSocketDispatch = &tcp_conn_events;
    }
    e->accepts++;
    pthread_mutex_unlock(&e->mu);
    KeSetEvent(&e->accepted, IO_NO_INCREMENT, FALSE);
    return answer;
}

static const WSK_CLIENT_LISTEN_DISPATCH tcp_listen_events = {tcp_on_accept, NULL, NULL};

static void tcp_release_held(tcp_events *e)
{
    for (;;) {
        pthread_mutex_lock(&e->mu);
        PWSK_DATA_INDICATION i = e->nheld > 0 ? e->held[--e->nheld] : NULL;
        PWSK_SOCKET s = e->socket;
        pthread_mutex_unlock(&e->mu);
        if (i == NULL)
            return;
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        NTSTATUS st = d->WskRelease(s, i);
        if (st != STATUS_SUCCESS)
            WT_FAIL("WskRelease of a retained indication: 0x%x", (unsigned)st);
    }
}

/* Has the peer's connection been reset (the provider refused it)? */
static BOOLEAN peer_was_reset(int fd)
{
    UCHAR b;
    long n = peer_recv(fd, &b, 1, 0);
    return n == -ECONNRESET || n == 0;
}

static void flow_tcp_events(run *r)
{
    client c;
    tcp_events e;
    memset(&e, 0, sizeof(e));
    pthread_mutex_init(&e.mu, NULL);
    KeInitializeEvent(&e.accepted, NotificationEvent, FALSE);
    KeInitializeEvent(&e.progress, SynchronizationEvent, FALSE);
    PWSK_SOCKET l = NULL, a = NULL;
    int p = -1;
    if (!client_open(r, &c))
        goto out;
    l = make_socket(r, &c, 0, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &e, &tcp_listen_events);
    if (l == NULL)
        goto out;
    USHORT port = bind_loopback(r, l, WSK_FLAG_LISTEN_SOCKET, 0);
    if (port == 0 || !set_events(r, l, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT))
        goto out;
    p = peer_tcp_connect(4, "127.0.0.1", port);
    if (p == -ECONNRESET) {
        /* The provider took the connection and reset it before the
         * handshake's last word reached the peer's connect. */
        run_surface(r, "connection reset");
        goto out;
    }
    if (p < 0) {
        WT_FAIL("flow %s, N=%ld: the peer could not connect to the listener: %d", r->flow, r->n, p);
        goto out;
    }
    peer_give(p, stream_len); /* fits in the kernel's buffers on loopback */
    peer_shutdown_write(p);
    /* The connection comes to WskAcceptEvent, or is reset, or the listener
     * reports it stopped. */
    r->step = "WskAcceptEvent";
    LONGLONG deadline = now_ms() + SWEEP_WAIT_MS;
    for (;;) {
        if (wait_event_ms(&e.accepted, 10)) {
            pthread_mutex_lock(&e.mu);
            a = e.socket;
            BOOLEAN stopped = e.null_accept;
            pthread_mutex_unlock(&e.mu);
            if (a != NULL)
                break;
            if (stopped) {
                run_surface(r, "WskAcceptEvent(NULL)");
                goto out;
            }
        }
        if (peer_was_reset(p)) {
            run_surface(r, "connection reset");
            goto out;
        }
        if (now_ms() > deadline) {
            run_stall(r, "no accept event, no reset");
            goto out;
        }
    }
    /* All the data through WskReceiveEvent, then the peer's FIN through
     * WskDisconnectEvent. */
    r->step = "WskReceiveEvent";
    deadline = now_ms() + SWEEP_WAIT_MS;
    size_t seen = 0;
    for (;;) {
        (void)wait_event_ms(&e.progress, 10);
        tcp_release_held(&e);
        pthread_mutex_lock(&e.mu);
        size_t got = e.received;
        BOOLEAN done = e.disconnected;
        ULONG flags = e.disconnect_flags;
        BOOLEAN mismatch = e.mismatch;
        pthread_mutex_unlock(&e.mu);
        if (mismatch) {
            WT_FAIL("flow %s, N=%ld: indicated bytes differ from what the peer sent", r->flow, r->n);
            goto out;
        }
        if (done) {
            if (flags & WSK_FLAG_ABORTIVE) {
                run_surface(r, "abortive disconnect event");
                goto out;
            }
            if (got != stream_len)
                WT_FAIL("flow %s, N=%ld: graceful disconnect after %zu of %zu bytes", r->flow, r->n, got,
                        stream_len);
            break;
        }
        if (got != seen) {
            seen = got;
            deadline = now_ms() + SWEEP_WAIT_MS;
        }
        if (now_ms() > deadline) {
            r->step = got == stream_len ? "WskDisconnectEvent" : "WskReceiveEvent";
            run_stall(r, "no indication, no disconnect event");
            goto out;
        }
    }
    /* And back. */
    if (!conn_send(r, a, 1, 0, stream_len) || !peer_take(r, p, stream_len))
        goto out;
out:
    tcp_release_held(&e);
    close_socket(r, a, 1);
    close_socket(r, l, 0);
    client_close(r, &c);
    peer_must_end(r, p, "connection to the event listener");
    pthread_mutex_destroy(&e.mu);
}

/* ---- flow: UDP with IRPs ---- */

static void flow_udp_irp(run *r)
{
    client c;
    PWSK_SOCKET d = NULL;
    int u = peer_udp_bind(4, "127.0.0.1", 0);
    CHECK(u >= 0);
    if (!client_open(r, &c))
        goto out;
    d = make_socket(r, &c, 0, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL);
    if (d == NULL)
        goto out;
    USHORT port = bind_loopback(r, d, WSK_FLAG_DATAGRAM_SOCKET, 0);
    if (port == 0)
        goto out;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dd = d->Dispatch;
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(u));
    for (int i = 0; i < 3; i++) {
        size_t len = 100 + (size_t)i * 500;
        fill_pattern(r->bufs[0].memory, len);
        WSK_BUF b = wbuf(r, 0, len);
        wt_irp *w = &r->irps[1];
        r->step = "WskSendTo";
        if (!irp_ok(r, irp_wait(r, w, dd->WskSendTo(d, &b, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(w)))))
            goto out;
        UCHAR got[2048];
        unsigned short from = 0;
        r->step = "peer receive";
        long n = peer_udp_recv(u, got, sizeof(got), &from, SWEEP_WAIT_MS);
        if (n != (long)len || !is_pattern(got, 0, len) || from != port)
            WT_FAIL("flow %s, N=%ld: the peer got %ld bytes from %u for a %zu-byte datagram", r->flow, r->n, n,
                    from, len);
        /* The peer answers; the datagram waits in Linux until received. */
        peer_udp_send_from(u, 4, "127.0.0.1", port, got, len > 0 && n > 0 ? (size_t)n : len);
        SOCKADDR_IN from_addr;
        ULONG control_len = 0, flags = 0;
        memset(r->bufs[1].memory, 0, len);
        b = wbuf(r, 1, 2048);
        r->step = "WskReceiveFrom";
        if (!irp_ok(r, irp_wait(r, w, dd->WskReceiveFrom(d, &b, 0, (PSOCKADDR)&from_addr, &control_len, NULL, &flags,
                                                         wt_irp_arm(w)))))
            goto out;
        CHECK_EQ(w->irp->IoStatus.Information, len);
        if (!is_pattern(r->bufs[1].memory, 0, len))
            WT_FAIL("flow %s, N=%ld: WskReceiveFrom bytes differ", r->flow, r->n);
    }
out:
    close_socket(r, d, 0);
    client_close(r, &c);
    if (u >= 0)
        peer_close(u);
}

/* ---- flow: UDP with WskReceiveFromEvent ---- */

typedef struct udp_events {
    pthread_mutex_t mu;
    KEVENT arrived;
    PWSK_SOCKET socket;
    int indications;
    ULONG seen;           /* bit i: datagram i was indicated */
    BOOLEAN mismatch;
    PWSK_DATAGRAM_INDICATION held[SWEEP_HELD_MAX];
    int nheld;
} udp_events;

#define UDP_DATAGRAMS 6

static size_t udp_len(int i)
{
    return 50 + (size_t)i * 300;
}

static NTSTATUS WSKAPI udp_on_receive_from(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    (void)Flags;
    udp_events *e = SocketContext;
    pthread_mutex_lock(&e->mu);
    NTSTATUS answer = STATUS_SUCCESS;
    for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority);
        SIZE_T len = i->Buffer.Length;
        int which = -1;
        for (int k = 0; k < UDP_DATAGRAMS; k++)
            if (udp_len(k) == len)
                which = k;
        /* Datagram k is the pattern of its length, with byte 0 = k. */
        if (which < 0 || va[i->Buffer.Offset] != (UCHAR)which ||
            !is_pattern(va + i->Buffer.Offset + 1, 1, len - 1))
            e->mismatch = TRUE;
        else
            e->seen |= 1u << which;
    }
    if ((e->indications++ & 1) == 0 && e->nheld < SWEEP_HELD_MAX) {
        e->held[e->nheld++] = DataIndication;
        answer = STATUS_PENDING;
    }
    pthread_mutex_unlock(&e->mu);
    KeSetEvent(&e->arrived, IO_NO_INCREMENT, FALSE);
    return answer;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH udp_dispatch = {udp_on_receive_from};

static void udp_release_held(udp_events *e)
{
    for (;;) {
        pthread_mutex_lock(&e->mu);
        PWSK_DATAGRAM_INDICATION i = e->nheld > 0 ? e->held[--e->nheld] : NULL;
        PWSK_SOCKET s = e->socket;
        pthread_mutex_unlock(&e->mu);
        if (i == NULL)
            return;
        const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
        CHECK_EQ(d->WskRelease(s, i), STATUS_SUCCESS);
    }
}

static void flow_udp_events(run *r)
{
    client c;
    udp_events e;
    memset(&e, 0, sizeof(e));
    pthread_mutex_init(&e.mu, NULL);
    KeInitializeEvent(&e.arrived, SynchronizationEvent, FALSE);
    PWSK_SOCKET d = NULL;
    int u = peer_udp_bind(4, "127.0.0.1", 0);
    CHECK(u >= 0);
    if (!client_open(r, &c))
        goto out;
    d = make_socket(r, &c, 0, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &e, &udp_dispatch);
    if (d == NULL)
        goto out;
    pthread_mutex_lock(&e.mu);
    e.socket = d;
    pthread_mutex_unlock(&e.mu);
    USHORT port = bind_loopback(r, d, WSK_FLAG_DATAGRAM_SOCKET, 0);
    if (port == 0 || !set_events(r, d, WSK_EVENT_RECEIVE_FROM))
        goto out;
    /* Datagrams may be dropped (UDP: that is no stall), so the peer sends
     * each again until it was indicated; a reader that died never
     * indicates one again. */
    UCHAR dg[2048];
    for (int i = 0; i < UDP_DATAGRAMS; i++) {
        size_t len = udp_len(i);
        fill_pattern(dg, len);
        dg[0] = (UCHAR)i;
        r->step = "WskReceiveFromEvent";
        LONGLONG deadline = now_ms() + SWEEP_WAIT_MS;
        for (;;) {
            peer_udp_send_from(u, 4, "127.0.0.1", port, dg, len);
            (void)wait_event_ms(&e.arrived, 20);
            udp_release_held(&e);
            pthread_mutex_lock(&e.mu);
            BOOLEAN got = (e.seen >> i) & 1;
            BOOLEAN bad = e.mismatch;
            pthread_mutex_unlock(&e.mu);
            if (bad) {
                WT_FAIL("flow %s, N=%ld: an indicated datagram differs from what the peer sent", r->flow, r->n);
                goto out;
            }
            if (got)
                break;
            if (now_ms() > deadline) {
                run_stall(r, "no datagram indicated");
                goto out;
            }
        }
    }
    /* One datagram back. */
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dd = d->Dispatch;
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(u));
    fill_pattern(r->bufs[0].memory, 700);
    WSK_BUF b = wbuf(r, 0, 700);
    wt_irp *w = &r->irps[1];
    r->step = "WskSendTo";
    if (!irp_ok(r, irp_wait(r, w, dd->WskSendTo(d, &b, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(w)))))
        goto out;
    UCHAR got[2048];
    unsigned short from = 0;
    long n;
    do /* resent datagrams may still be queued at the peer: skip them */
        n = peer_udp_recv(u, got, sizeof(got), &from, SWEEP_WAIT_MS);
    while (n > 0 && n != 700);
    if (n != 700 || !is_pattern(got, 0, 700))
        WT_FAIL("flow %s, N=%ld: the peer got %ld bytes for a 700-byte datagram", r->flow, r->n, n);
out:
    udp_release_held(&e);
    close_socket(r, d, 0);
    client_close(r, &c);
    if (u >= 0)
        peer_close(u);
    pthread_mutex_destroy(&e.mu);
}

/* ---- flow: register, deregister ---- */

static void flow_register(run *r)
{
    client c;
    if (client_open(r, &c)) {
        /* A second capture and release, as a client on another thread would. */
        WSK_PROVIDER_NPI again;
        r->step = "WskCaptureProviderNPI (again)";
        NTSTATUS st = WskCaptureProviderNPI(&c.registration, WSK_NO_WAIT, &again);
        if (NT_SUCCESS(st))
            WskReleaseProviderNPI(&c.registration);
        else
            run_surface(r, "WskCaptureProviderNPI");
    }
    client_close(r, &c);
}

/* ---- the sweep ---- */

typedef void (*flow_fn)(run *r);

typedef struct tally {
    int ok, surfaced, stalled;
} tally;

/* Runs the flow once with the n-th allocation failing (0: none); returns
 * the allocations it made. */
static ULONGLONG run_once(const char *name, flow_fn fn, long n, tally *t)
{
    SIZE_T baseline = openwsk_pool_outstanding_count(0);
    run *r = malloc(sizeof(*r));
    run_setup(r, name, n);
    int failed_before = wt_case_failed;
    wt_case_failed = 0;
    ULONGLONG start = openwsk_allocation_count();
    openwsk_fault_fail_allocation((LONG)n);
    fn(r);
    openwsk_fault_fail_allocation(0);
    ULONGLONG made = openwsk_allocation_count() - start;
    BOOLEAN stalled = r->stalled;
    if (n == 0 && r->surfaced != NULL)
        WT_FAIL("flow %s: clean run failed at step '%s' (%s)", name, r->step, r->surfaced);
    run_teardown(r);
    if (!stalled) {
        /* Frees may trail the last completion by a moment. */
        LONGLONG deadline = now_ms() + SWEEP_WAIT_MS;
        while (openwsk_pool_outstanding_count(0) != baseline && now_ms() < deadline) {
            LARGE_INTEGER d = {.QuadPart = -10LL * 10000};
            KeDelayExecutionThread(KernelMode, FALSE, &d);
        }
        SIZE_T left = openwsk_pool_outstanding_count(0);
        if (left != baseline) {
            WT_FAIL("flow %s, N=%ld: %zd pool allocations outstanding after the flow ended", name, n,
                    (ssize_t)(left - baseline));
            openwsk_leak_report();
        }
    }
    if (t != NULL) {
        if (stalled)
            t->stalled++;
        else if (r->surfaced != NULL)
            t->surfaced++;
        else
            t->ok++;
    }
    if (getenv("OPENWSK_ALLOC_SWEEP_VERBOSE") != NULL)
        fprintf(stderr, "  %s N=%ld: %s%s%s%s (0x%x; %llu allocations)\n", name, n,
                stalled ? "STALLED at " : r->surfaced ? "surfaced: " : "ok",
                stalled ? r->step : r->surfaced ? r->surfaced : "", r->surfaced ? " at " : "",
                r->surfaced ? r->surfaced_step : "", (unsigned)r->surfaced_status, made);
    free(r);
    wt_case_failed |= failed_before;
    return made;
}

static void sweep(const char *name, flow_fn fn)
{
    ULONGLONG most = 0;
    int clean_runs = sweep_wide ? 5 : 2;
    for (int i = 0; i < clean_runs; i++) {
        ULONGLONG made = run_once(name, fn, 0, NULL);
        if (made > most)
            most = made;
    }
    /* The count varies with the backend and timing: sweep past the most seen. */
    long upto = (long)most + (sweep_wide ? 10 + (long)most / 2 : 4);
    tally t = {0, 0, 0};
    const char *one = getenv("OPENWSK_ALLOC_SWEEP_N"); /* debugging: just this N */
    for (long n = one != NULL ? atol(one) : 1; n <= (one != NULL ? atol(one) : upto); n++)
        run_once(name, fn, n, &t);
    fprintf(stderr, "  %s: %llu allocations at most; N=1..%ld: %d succeeded, %d surfaced, %d stalled\n", name, most,
            upto, t.ok, t.surfaced, t.stalled);
}

static void sweep_tcp_irp(void)
{
    sweep("tcp-irp", flow_tcp_irp);
}

static void sweep_tcp_events(void)
{
    sweep("tcp-events", flow_tcp_events);
}

static void sweep_udp_irp(void)
{
    sweep("udp-irp", flow_udp_irp);
}

static void sweep_udp_events(void)
{
    sweep("udp-events", flow_udp_events);
}

static void sweep_register(void)
{
    sweep("register", flow_register);
}

/* A reader whose allocation failed waits for the retry timer holding its
 * socket; a close issued meanwhile must still complete, promptly, with
 * nothing leaked, and no callback may follow it. */
static void close_while_a_retry_waits(void)
{
    for (int kind = 0; kind < 3; kind++) {
        SIZE_T baseline = openwsk_pool_outstanding_count(0);
        run *r = malloc(sizeof(*r));
        run_setup(r, kind == 0 ? "retry-close-listener" : kind == 1 ? "retry-close-connection" : "retry-close-udp", 0);
        client c;
        tcp_events e;
        udp_events u;
        memset(&e, 0, sizeof(e));
        memset(&u, 0, sizeof(u));
        pthread_mutex_init(&e.mu, NULL);
        pthread_mutex_init(&u.mu, NULL);
        KeInitializeEvent(&e.accepted, NotificationEvent, FALSE);
        KeInitializeEvent(&e.progress, SynchronizationEvent, FALSE);
        KeInitializeEvent(&u.arrived, SynchronizationEvent, FALSE);
        PWSK_SOCKET s = NULL;
        int peer = -1, plisten = -1;
        CHECK(client_open(r, &c));
        if (kind == 0) {
            s = make_socket(r, &c, 0, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &e, &tcp_listen_events);
            CHECK(s != NULL && bind_loopback(r, s, WSK_FLAG_LISTEN_SOCKET, 0) != 0);
        } else if (kind == 1) {
            plisten = peer_tcp_listen(4, "127.0.0.1", 0);
            s = make_socket(r, &c, 0, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &e, &tcp_conn_events);
            CHECK(s != NULL && bind_loopback(r, s, WSK_FLAG_CONNECTION_SOCKET, 0) != 0);
            SOCKADDR_IN remote = wt_in4("127.0.0.1", peer_local_port(plisten));
            const WSK_PROVIDER_CONNECTION_DISPATCH *cd = s->Dispatch;
            wt_irp *w = &r->irps[1];
            CHECK(irp_ok(r, irp_wait(r, w, cd->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(w)))));
            peer = peer_accept(plisten, SWEEP_WAIT_MS);
            CHECK(peer >= 0);
            pthread_mutex_lock(&e.mu);
            e.socket = s;
            pthread_mutex_unlock(&e.mu);
        } else {
            s = make_socket(r, &c, 0, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &u, &udp_dispatch);
            CHECK(s != NULL && bind_loopback(r, s, WSK_FLAG_DATAGRAM_SOCKET, 0) != 0);
        }
        if (s == NULL || r->surfaced != NULL) {
            WT_FAIL("%s: setup failed at %s", r->flow, r->step);
            break;
        }
        /* The reader's first allocation fails: a retry is scheduled.  (The
         * enable's own allocation, the socket's post blocks, comes first.) */
        ULONGLONG before = openwsk_allocation_count();
        openwsk_fault_fail_allocation(2);
        CHECK(set_events(r, s, kind == 0 ? WSK_EVENT_ACCEPT
                               : kind == 1 ? WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT
                                           : WSK_EVENT_RECEIVE_FROM));
        openwsk_fault_fail_allocation(0);
        /* The enable asked for memory (and was refused): the retry waits. */
        CHECK(openwsk_allocation_count() > before);
        LONGLONG start = now_ms();
        close_socket(r, s, 0);
        if (now_ms() - start > 500)
            WT_FAIL("%s: the close took %lld ms", r->flow, now_ms() - start);
        /* No callback after the close: nothing may arrive later. */
        if (peer >= 0)
            peer_give(peer, 100);
        LARGE_INTEGER d = {.QuadPart = -50LL * 10000};
        KeDelayExecutionThread(KernelMode, FALSE, &d);
        pthread_mutex_lock(&e.mu);
        CHECK_EQ(e.indications + e.accepts, 0);
        pthread_mutex_unlock(&e.mu);
        pthread_mutex_lock(&u.mu);
        CHECK_EQ(u.indications, 0);
        pthread_mutex_unlock(&u.mu);
        client_close(r, &c);
        peer_must_end(r, peer, "connection");
        if (plisten >= 0)
            peer_close(plisten);
        run_teardown(r);
        free(r);
        pthread_mutex_destroy(&e.mu);
        pthread_mutex_destroy(&u.mu);
        CHECK_EQ(openwsk_pool_outstanding_count(0), baseline);
    }
}

/* Out of file descriptors, Linux's accept fails (EMFILE) and leaves the
 * connection in the backlog.  The accept-event feeder must wait for the
 * retry timer instead of trying again at once, which would spin an engine
 * thread for as long as the shortage lasts; once descriptors return, the
 * connection reaches WskAcceptEvent. */
static void accept_out_of_descriptors_backs_off(void)
{
    run *r = malloc(sizeof(*r));
    run_setup(r, "accept-emfile", 0);
    client c;
    tcp_events e;
    memset(&e, 0, sizeof(e));
    pthread_mutex_init(&e.mu, NULL);
    KeInitializeEvent(&e.accepted, NotificationEvent, FALSE);
    KeInitializeEvent(&e.progress, SynchronizationEvent, FALSE);
    PWSK_SOCKET l = NULL;
    int p = -1;
    struct rlimit saved;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    BOOLEAN limited = FALSE;
    CHECK(client_open(r, &c));
    l = make_socket(r, &c, 0, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &e, &tcp_listen_events);
    USHORT port = l != NULL ? bind_loopback(r, l, WSK_FLAG_LISTEN_SOCKET, 0) : 0;
    CHECK(port != 0);
    if (port == 0)
        goto out;
    /* The connection waits in the backlog: nothing accepts yet. */
    p = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(p >= 0);
    /* No descriptor above the lowest free one may be made now, and the
     * free ones below it are taken. */
    int lowest = dup(0);
    CHECK(lowest >= 0);
    close(lowest);
    struct rlimit tight = saved;
    tight.rlim_cur = (rlim_t)lowest + 8;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    limited = TRUE;
    int fillers[64], nfill = 0;
    while (nfill < 64 && (fillers[nfill] = dup(0)) >= 0)
        nfill++;
    CHECK(nfill < 64);
    long cpu_before = peer_process_cpu_ms();
    CHECK(set_events(r, l, WSK_EVENT_ACCEPT));
    LARGE_INTEGER d = {.QuadPart = -400LL * 10000};
    KeDelayExecutionThread(KernelMode, FALSE, &d);
    long spent = peer_process_cpu_ms() - cpu_before;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    limited = FALSE;
    while (nfill > 0)
        close(fillers[--nfill]);
    if (spent > 150)
        WT_FAIL("%ld ms of CPU in 400 ms while accept failed with EMFILE: the feeder spins", spent);
    CHECK_EQ(KeReadStateEvent(&e.accepted), 0); /* nothing could be accepted meanwhile */
    /* Descriptors are back: the retry accepts the waiting connection. */
    CHECK(wait_event_ms(&e.accepted, SWEEP_WAIT_MS));
    pthread_mutex_lock(&e.mu);
    PWSK_SOCKET a = e.socket;
    pthread_mutex_unlock(&e.mu);
    CHECK(a != NULL);
    close_socket(r, a, 1);
out:
    if (limited)
        setrlimit(RLIMIT_NOFILE, &saved);
    close_socket(r, l, 0);
    client_close(r, &c);
    peer_must_end(r, p, "connection");
    run_teardown(r);
    free(r);
    pthread_mutex_destroy(&e.mu);
}

int main(void)
{
    sweep_wide = getenv("OPENWSK_ALLOC_SWEEP_WIDE") != NULL && atoi(getenv("OPENWSK_ALLOC_SWEEP_WIDE")) > 0;
    /* Several receive blocks' worth, so retained indications need new ones. */
    stream_len = sweep_wide ? 1024 * 1024 : 200 * 1000;
    const char *only = getenv("OPENWSK_ALLOC_SWEEP_FLOW");
#define SWEEP_CASE(fn, name)                                   \
    do {                                                       \
        if (only == NULL || strcmp(only, name) == 0)           \
            WT_RUN(fn);                                        \
    } while (0)
    SWEEP_CASE(sweep_register, "register");
    SWEEP_CASE(sweep_tcp_irp, "tcp-irp");
    SWEEP_CASE(sweep_udp_irp, "udp-irp");
    SWEEP_CASE(sweep_tcp_events, "tcp-events");
    SWEEP_CASE(sweep_udp_events, "udp-events");
    SWEEP_CASE(close_while_a_retry_waits, "retry-close");
    SWEEP_CASE(accept_out_of_descriptors_backs_off, "accept-emfile");
    return wt_finish();
}
