/*
 * test_wsk_accept_inherit.c - events a listening socket gains while its
 * WskAcceptEvent runs (wsk-part-b.md §6.5; SO_WSK_EVENT_CALLBACK and
 * PFN_WSK_ACCEPT_EVENT, Remarks: an accepted socket takes the listening
 * socket's enabled connection events that its dispatch table supports).
 *
 * A driver written like many real ones enables only WSK_EVENT_ACCEPT at
 * first, and enables the connection events on the listener from inside its
 * first WskAcceptEvent (or from another thread while a connection is being
 * offered).  The socket being accepted then inherits events that were not
 * enabled when the provider accepted the connection: WskSendBacklogEvent
 * must be indicated on it, and WskReceiveEvent must see the peer's bytes.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <string.h>

#include "linux_peer.h"
#include "wt_pattern.h"

typedef struct inherit_state {
    PWSK_SOCKET listener;
    ULONG enable_inside;     /* events the accept callback enables on the listener */
    NTSTATUS enable_status;
    PWSK_SOCKET accepted;
    KEVENT accepted_event;
    KEVENT backlog_event;
    KEVENT receive_event;
    volatile LONG received;  /* bytes indicated */
} inherit_state;

static inherit_state st;

static NTSTATUS WSKAPI on_send_backlog(PVOID SocketContext, SIZE_T IdealBacklogSize)
{
    (void)SocketContext;
    (void)IdealBacklogSize;
    KeSetEvent(&st.backlog_event, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI on_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                  SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    if (DataIndication == NULL)
        return STATUS_SUCCESS; /* the end */
    InterlockedExchangeAdd(&st.received, (LONG)BytesIndicated);
    *BytesAccepted = BytesIndicated;
    KeSetEvent(&st.receive_event, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH connection_events = {on_receive, NULL, on_send_backlog};

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    if (AcceptSocket == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    if (st.accepted != NULL)
        return STATUS_REQUEST_NOT_ACCEPTED; /* one connection per case */
    st.enable_status = wp_events(st.listener, st.enable_inside);
    st.accepted = AcceptSocket;
    *AcceptSocketContext = NULL;
    *AcceptSocketDispatch = &connection_events;
    KeSetEvent(&st.accepted_event, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH listen_events = {on_accept, NULL, NULL};

/* One connection to a listener with only WSK_EVENT_ACCEPT enabled, whose
 * accept callback enables `inside` on the listener. */
static void accept_while_enabling(ULONG inside, BOOLEAN expect_backlog, BOOLEAN expect_receive)
{
    wt_wsk t;
    wt_wsk_open(&t);
    memset(&st, 0, sizeof(st));
    st.enable_inside = inside;
    KeInitializeEvent(&st.accepted_event, NotificationEvent, FALSE);
    KeInitializeEvent(&st.backlog_event, NotificationEvent, FALSE);
    KeInitializeEvent(&st.receive_event, NotificationEvent, FALSE);
    NTSTATUS status;
    PWSK_SOCKET l = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL,
                                   &listen_events, &status);
    CHECK_EQ(status, STATUS_SUCCESS);
    st.listener = l;
    SOCKADDR_IN any = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, l, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, l, &local), STATUS_SUCCESS);
    CHECK_EQ(wp_events(l, WSK_EVENT_ACCEPT), STATUS_SUCCESS);

    int peer = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port));
    CHECK(peer >= 0);
    LARGE_INTEGER two_s = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&st.accepted_event, Executive, KernelMode, FALSE, &two_s), STATUS_SUCCESS);
    CHECK_EQ(st.enable_status, STATUS_SUCCESS);
    if (expect_backlog) /* the first indication gives the current value */
        CHECK_EQ(KeWaitForSingleObject(&st.backlog_event, Executive, KernelMode, FALSE, &two_s), STATUS_SUCCESS);
    if (expect_receive) {
        static const char hello[] = "inherited";
        CHECK_EQ(peer_send_all(peer, hello, sizeof(hello)), sizeof(hello));
        for (int i = 0; i < 100 && InterlockedCompareExchange(&st.received, 0, 0) < (LONG)sizeof(hello); i++) {
            (void)KeWaitForSingleObject(&st.receive_event, Executive, KernelMode, FALSE, &two_s);
            KeClearEvent(&st.receive_event);
        }
        CHECK_EQ(InterlockedCompareExchange(&st.received, 0, 0), (LONG)sizeof(hello));
    }
    if (st.accepted != NULL)
        CHECK_EQ(wt_close(&t, st.accepted), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

static void send_backlog_enabled_inside_accept(void)
{
    accept_while_enabling(WSK_EVENT_SEND_BACKLOG, TRUE, FALSE);
}

static void receive_enabled_inside_accept(void)
{
    accept_while_enabling(WSK_EVENT_RECEIVE, FALSE, TRUE);
}

int main(void)
{
    WT_RUN(send_backlog_enabled_inside_accept);
    WT_RUN(receive_enabled_inside_accept);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
