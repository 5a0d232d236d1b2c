/*
 * test_wsk_accept_ahead.c - a WskAcceptEvent listener whose engine takes
 * connections ahead of the provider's next accept (io_uring: one multishot
 * accept; io_engine.h, io_op.accept_ahead), driven the way drivers drive
 * listeners (wsk-part-a.md §6):
 *  - closed while connections keep arriving, from the driver's thread or
 *    from inside WskAcceptEvent: once the close IRP has completed nothing
 *    listens on the port any more (PFN_WSK_CLOSE_SOCKET: the socket is
 *    closed when the IRP completes);
 *  - WSK_EVENT_ACCEPT disabled, then connections arrive: WskAccept gets
 *    every one, in the order they connected, each with its own peer's
 *    address (PFN_WSK_ACCEPT, RemoteAddress); enabled again, the events
 *    resume;
 *  - bursts of connections while WskAcceptEvent is slow, so that the
 *    engine takes several in one wait: each indication's RemoteAddress is
 *    its own peer's, every peer's exactly once (PFN_WSK_ACCEPT_EVENT,
 *    RemoteAddress; the io_uring backend reads it from the multishot's
 *    one address buffer for the last connection of a wait).
 * Every case passes on both backends.  (An end of the multishot that is
 * not synchronous leaves too small a window for these; test_io_engine's
 * accept-ahead cases catch it.)
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <string.h>

#include "linux_peer.h"
#include "wt_pattern.h"

enum { MAX_ACCEPTED = 64 };

typedef struct ahead_state {
    PWSK_SOCKET listener;
    BOOLEAN close_inside;  /* the first WskAcceptEvent closes the listener */
    BOOLEAN slow;          /* every WskAcceptEvent takes a millisecond */
    wt_irp close_irp;
    NTSTATUS close_returned;
    PWSK_SOCKET accepted[MAX_ACCEPTED];
    USHORT remote_port[MAX_ACCEPTED]; /* network order, as indicated */
    volatile LONG count;
    KEVENT accepted_event;
} ahead_state;

static ahead_state st;

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    if (AcceptSocket == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    /* One feeder: the listener's indications never overlap. */
    LONG i = InterlockedCompareExchange(&st.count, 0, 0);
    if (i >= MAX_ACCEPTED)
        return STATUS_REQUEST_NOT_ACCEPTED;
    st.accepted[i] = AcceptSocket;
    st.remote_port[i] = ((PSOCKADDR_IN)RemoteAddress)->sin_port;
    if (st.slow)
        KeStallExecutionProcessor(1000); /* connections pile up meanwhile */
    if (i == 0 && st.close_inside) {
        const WSK_PROVIDER_LISTEN_DISPATCH *d = st.listener->Dispatch;
        st.close_returned = d->WskCloseSocket(st.listener, wt_irp_arm(&st.close_irp));
    }
    InterlockedIncrement(&st.count); /* publishes the entry (and the close's status) */
    *AcceptSocketContext = NULL;
    *AcceptSocketDispatch = NULL;
    KeSetEvent(&st.accepted_event, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH listen_events = {on_accept, NULL, NULL};

static void state_reset(void)
{
    wt_irp_free(&st.close_irp);
    memset(&st, 0, sizeof(st));
    KeInitializeEvent(&st.accepted_event, NotificationEvent, FALSE);
}

/* A listener on 127.0.0.1 with WSK_EVENT_ACCEPT enabled; its port. */
static USHORT listen_with_events(wt_wsk *t)
{
    NTSTATUS status;
    st.listener = wt_socket_with(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, &listen_events,
                                 &status);
    CHECK_EQ(status, STATUS_SUCCESS);
    SOCKADDR_IN any = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(t, st.listener, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(t, st.listener, &local), STATUS_SUCCESS);
    CHECK_EQ(wp_events(st.listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
    return RtlUshortByteSwap(local.sin_port);
}

static BOOLEAN wait_accepted(LONG n)
{
    for (int i = 0; i < 200 && InterlockedCompareExchange(&st.count, 0, 0) < n; i++) {
        (void)wp_wait(&st.accepted_event, 10);
        KeClearEvent(&st.accepted_event);
    }
    return InterlockedCompareExchange(&st.count, 0, 0) >= n;
}

/* Nothing listens on the port any more.  (Binding the port again is not
 * checked: the suite runs in parallel, and another test's bind to port 0
 * may take the number as soon as it is free.) */
static void expect_refused(USHORT port)
{
    CHECK_EQ(peer_tcp_connect(4, "127.0.0.1", port), -ECONNREFUSED);
}

static void close_accepted(wt_wsk *t)
{
    for (LONG i = 0; i < InterlockedCompareExchange(&st.count, 0, 0); i++)
        CHECK_EQ(wt_close(t, st.accepted[i]), STATUS_SUCCESS);
}

/* The driver's thread closes the listener while connections arrive. */
static void close_while_connections_arrive(void)
{
    for (int round = 0; round < 10; round++) {
        wt_wsk t;
        wt_wsk_open(&t);
        state_reset();
        USHORT port = listen_with_events(&t);
        int peers[4];
        peers[0] = peer_tcp_connect(4, "127.0.0.1", port);
        CHECK(peers[0] >= 0);
        CHECK(wait_accepted(1));
        for (int i = 1; i < 4; i++)
            peers[i] = peer_tcp_connect(4, "127.0.0.1", port);
        CHECK_EQ(wt_close(&t, st.listener), STATUS_SUCCESS);
        expect_refused(port);
        close_accepted(&t);
        for (int i = 0; i < 4; i++)
            if (peers[i] >= 0)
                peer_close(peers[i]);
        wt_wsk_close(&t);
    }
    wt_irp_free(&st.close_irp);
}

/* WskAcceptEvent closes its listener (on the engine thread); once that
 * close has completed, the port is free. */
static void close_inside_accept_event(void)
{
    for (int round = 0; round < 10; round++) {
        wt_wsk t;
        wt_wsk_open(&t);
        state_reset();
        st.close_inside = TRUE;
        USHORT port = listen_with_events(&t);
        int peer = peer_tcp_connect(4, "127.0.0.1", port);
        CHECK(peer >= 0);
        CHECK(wait_accepted(1));
        CHECK_EQ(wt_irp_result(&st.close_irp, st.close_returned), STATUS_SUCCESS);
        expect_refused(port);
        close_accepted(&t);
        if (peer >= 0)
            peer_close(peer);
        wt_wsk_close(&t);
    }
    wt_irp_free(&st.close_irp);
}

/* Accept events off: WskAccept takes the connections that arrive, in
 * order, each with its own peer's address; events on again: indicated. */
static void disabled_events_leave_connections_to_wsk_accept(void)
{
    enum { N = 20 };
    wt_wsk t;
    wt_wsk_open(&t);
    state_reset();
    USHORT port = listen_with_events(&t);
    int first = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(first >= 0);
    CHECK(wait_accepted(1));
    CHECK_EQ(wp_events(st.listener, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE), STATUS_SUCCESS);
    int peers[N];
    for (int i = 0; i < N; i++) {
        peers[i] = peer_tcp_connect(4, "127.0.0.1", port);
        CHECK(peers[i] >= 0);
    }
    const WSK_PROVIDER_LISTEN_DISPATCH *d = st.listener->Dispatch;
    for (int i = 0; i < N; i++) {
        SOCKADDR_IN remote;
        memset(&remote, 0, sizeof(remote));
        NTSTATUS status = wt_irp_result(&t.irp, d->WskAccept(st.listener, 0, NULL, NULL, NULL, (PSOCKADDR)&remote,
                                                             wt_irp_arm(&t.irp)));
        CHECK_EQ(status, STATUS_SUCCESS);
        if (status != STATUS_SUCCESS)
            continue;
        CHECK_EQ(remote.sin_family, AF_INET);
        CHECK_EQ(RtlUshortByteSwap(remote.sin_port), peers[i] >= 0 ? peer_local_port(peers[i]) : 0);
        CHECK_EQ(wt_close(&t, (PWSK_SOCKET)t.irp.irp->IoStatus.Information), STATUS_SUCCESS);
    }
    /* Events on again: the next connection is indicated. */
    CHECK_EQ(wp_events(st.listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
    int last = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(last >= 0);
    CHECK(wait_accepted(2));
    if (InterlockedCompareExchange(&st.count, 0, 0) >= 2 && last >= 0)
        CHECK_EQ(RtlUshortByteSwap(st.remote_port[1]), peer_local_port(last));
    CHECK_EQ(wt_close(&t, st.listener), STATUS_SUCCESS);
    expect_refused(port);
    close_accepted(&t);
    for (int i = 0; i < N; i++)
        if (peers[i] >= 0)
            peer_close(peers[i]);
    peer_close(first);
    if (last >= 0)
        peer_close(last);
    wt_wsk_close(&t);
    wt_irp_free(&st.close_irp);
}

/* Peers connect in bursts while each indication takes a millisecond:
 * the engine takes several connections per wait, and each indication
 * still carries its own peer's address. */
static void bursts_keep_each_remote_address(void)
{
    enum { BURSTS = 4, PER_BURST = 12, N = BURSTS * PER_BURST };
    _Static_assert((int)N <= (int)MAX_ACCEPTED, "room for every connection");
    wt_wsk t;
    wt_wsk_open(&t);
    state_reset();
    st.slow = TRUE;
    USHORT port = listen_with_events(&t);
    int peers[N];
    for (int b = 0; b < BURSTS; b++) {
        for (int i = 0; i < PER_BURST; i++) {
            peers[b * PER_BURST + i] = peer_tcp_connect(4, "127.0.0.1", port);
            CHECK(peers[b * PER_BURST + i] >= 0);
        }
        CHECK(wait_accepted((b + 1) * PER_BURST));
    }
    LONG got = InterlockedCompareExchange(&st.count, 0, 0);
    CHECK_EQ(got, N);
    int matched = 0;
    for (int p = 0; p < N; p++) {
        if (peers[p] < 0)
            continue;
        int seen = 0;
        for (LONG i = 0; i < got; i++)
            seen += RtlUshortByteSwap(st.remote_port[i]) == peer_local_port(peers[p]);
        CHECK_EQ(seen, 1);
        matched += seen == 1;
    }
    CHECK_EQ(matched, N);
    CHECK_EQ(wt_close(&t, st.listener), STATUS_SUCCESS);
    close_accepted(&t);
    for (int p = 0; p < N; p++)
        if (peers[p] >= 0)
            peer_close(peers[p]);
    wt_wsk_close(&t);
    wt_irp_free(&st.close_irp);
}

int main(void)
{
    WT_RUN(close_while_connections_arrive);
    WT_RUN(close_inside_accept_event);
    WT_RUN(disabled_events_leave_connections_to_wsk_accept);
    WT_RUN(bursts_keep_each_remote_address);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
