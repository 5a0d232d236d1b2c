/*
 * wsk_trace_dispatch.c - traced copies of the provider's dispatch tables
 * for the timeline (kernel/timeline.h).
 *
 * Each wrapper opens the IRP's span (name = the WSK function), calls the
 * real function and records what it returned; IofCompleteRequest closes
 * the span.  A socket's traced table sits in a traced_table right after
 * the real functions of its category, so a wrapper finds them from
 * Socket->Dispatch - the pointer the client itself just called through.
 */
#include "wsk_trace.h"

#include "kernel/timeline.h"

#include <stddef.h>

typedef struct wsk_real_fns {
    PFN_WSK_CONTROL_SOCKET control;
    PFN_WSK_CLOSE_SOCKET close;
    PFN_WSK_BIND bind;
    PFN_WSK_CONNECT connect;
    PFN_WSK_CONNECT_EX connect_ex;
    PFN_WSK_GET_LOCAL_ADDRESS local_address;
    PFN_WSK_GET_REMOTE_ADDRESS remote_address;
    PFN_WSK_SEND send;
    PFN_WSK_SEND_EX send_ex;
    PFN_WSK_RECEIVE receive;
    PFN_WSK_RECEIVE_EX receive_ex;
    PFN_WSK_DISCONNECT disconnect;
    PFN_WSK_RELEASE_DATA_INDICATION_LIST release;
    PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST release_datagrams;
    PFN_WSK_ACCEPT accept;
    PFN_WSK_LISTEN listen;
    PFN_WSK_INSPECT_COMPLETE inspect_complete;
    PFN_WSK_SEND_TO send_to;
    PFN_WSK_RECEIVE_FROM receive_from;
    PFN_WSK_SEND_MESSAGES send_messages;
} wsk_real_fns;

typedef struct traced_table {
    wsk_real_fns real;
    union {
        WSK_PROVIDER_BASIC_DISPATCH basic;
        WSK_PROVIDER_LISTEN_DISPATCH listen;
        WSK_PROVIDER_DATAGRAM_DISPATCH datagram;
        WSK_PROVIDER_CONNECTION_DISPATCH connection;
        WSK_PROVIDER_STREAM_DISPATCH stream;
    } d;
} traced_table;

static const wsk_real_fns *real_of(PWSK_SOCKET Socket)
{
    return &((const traced_table *)((const char *)Socket->Dispatch - offsetof(traced_table, d)))->real;
}

#define TRACED_CALL(name, socket, irp, length, call)                                                         \
    do {                                                                                                     \
        tl_irp_call c_;                                                                                      \
        openwsk_trace_irp_call_begin(&c_, (name), (socket), (irp), (length));                                \
        NTSTATUS st_ = (call);                                                                               \
        openwsk_trace_irp_call_end(&c_, st_);                                                                \
        return st_;                                                                                          \
    } while (0)

static ULONG buf_length(PWSK_BUF Buffer)
{
    return Buffer != NULL ? (ULONG)Buffer->Length : 0;
}

/* ---- socket level ---- */

static NTSTATUS WSKAPI tr_control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType, ULONG ControlCode,
                                         ULONG Level, SIZE_T InputSize, PVOID InputBuffer, SIZE_T OutputSize,
                                         PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
    TRACED_CALL("WskControlSocket", Socket, Irp, ControlCode,
                real_of(Socket)->control(Socket, RequestType, ControlCode, Level, InputSize, InputBuffer, OutputSize,
                                         OutputBuffer, OutputSizeReturned, Irp));
}

static NTSTATUS WSKAPI tr_close_socket(PWSK_SOCKET Socket, PIRP Irp)
{
    TRACED_CALL("WskCloseSocket", Socket, Irp, 0, real_of(Socket)->close(Socket, Irp));
}

static NTSTATUS WSKAPI tr_bind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)
{
    TRACED_CALL("WskBind", Socket, Irp, 0, real_of(Socket)->bind(Socket, LocalAddress, Flags, Irp));
}

static NTSTATUS WSKAPI tr_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
    TRACED_CALL("WskConnect", Socket, Irp, 0, real_of(Socket)->connect(Socket, RemoteAddress, Flags, Irp));
}

static NTSTATUS WSKAPI tr_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer, ULONG Flags,
                                     PIRP Irp)
{
    TRACED_CALL("WskConnectEx", Socket, Irp, buf_length(Buffer),
                real_of(Socket)->connect_ex(Socket, RemoteAddress, Buffer, Flags, Irp));
}

static NTSTATUS WSKAPI tr_local_address(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp)
{
    TRACED_CALL("WskGetLocalAddress", Socket, Irp, 0, real_of(Socket)->local_address(Socket, LocalAddress, Irp));
}

static NTSTATUS WSKAPI tr_remote_address(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp)
{
    TRACED_CALL("WskGetRemoteAddress", Socket, Irp, 0, real_of(Socket)->remote_address(Socket, RemoteAddress, Irp));
}

static NTSTATUS WSKAPI tr_send(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    TRACED_CALL("WskSend", Socket, Irp, buf_length(Buffer), real_of(Socket)->send(Socket, Buffer, Flags, Irp));
}

static NTSTATUS WSKAPI tr_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, ULONG ControlInfoLength,
                                  PCMSGHDR ControlInfo, PIRP Irp)
{
    TRACED_CALL("WskSendEx", Socket, Irp, buf_length(Buffer),
                real_of(Socket)->send_ex(Socket, Buffer, Flags, ControlInfoLength, ControlInfo, Irp));
}

static NTSTATUS WSKAPI tr_receive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    TRACED_CALL("WskReceive", Socket, Irp, buf_length(Buffer), real_of(Socket)->receive(Socket, Buffer, Flags, Irp));
}

static NTSTATUS WSKAPI tr_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PULONG ControlInfoLength,
                                     PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    TRACED_CALL("WskReceiveEx", Socket, Irp, buf_length(Buffer),
                real_of(Socket)->receive_ex(Socket, Buffer, Flags, ControlInfoLength, ControlInfo, ControlFlags, Irp));
}

static NTSTATUS WSKAPI tr_disconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    TRACED_CALL("WskDisconnect", Socket, Irp, buf_length(Buffer),
                real_of(Socket)->disconnect(Socket, Buffer, Flags, Irp));
}

static NTSTATUS WSKAPI tr_release(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)
{
    TRACED_CALL("WskRelease", Socket, NULL, 0, real_of(Socket)->release(Socket, DataIndication));
}

static NTSTATUS WSKAPI tr_release_datagrams(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication)
{
    TRACED_CALL("WskRelease", Socket, NULL, 0, real_of(Socket)->release_datagrams(Socket, DatagramIndication));
}

static NTSTATUS WSKAPI tr_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, PSOCKADDR LocalAddress,
                                 PSOCKADDR RemoteAddress, PIRP Irp)
{
    TRACED_CALL("WskAccept", ListenSocket, Irp, 0,
                real_of(ListenSocket)->accept(ListenSocket, Flags, AcceptSocketContext, AcceptSocketDispatch,
                                              LocalAddress, RemoteAddress, Irp));
}

static NTSTATUS WSKAPI tr_listen(PWSK_SOCKET Socket, PIRP Irp)
{
    TRACED_CALL("WskListen", Socket, Irp, 0, real_of(Socket)->listen(Socket, Irp));
}

static NTSTATUS WSKAPI tr_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                           WSK_INSPECT_ACTION Action, PIRP Irp)
{
    TRACED_CALL("WskInspectComplete", ListenSocket, Irp, (ULONG)Action,
                real_of(ListenSocket)->inspect_complete(ListenSocket, InspectID, Action, Irp));
}

static NTSTATUS WSKAPI tr_send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                  ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
    TRACED_CALL("WskSendTo", Socket, Irp, buf_length(Buffer),
                real_of(Socket)->send_to(Socket, Buffer, Flags, RemoteAddress, ControlInfoLength, ControlInfo, Irp));
}

static NTSTATUS WSKAPI tr_receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                       PULONG ControlLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    TRACED_CALL("WskReceiveFrom", Socket, Irp, buf_length(Buffer),
                real_of(Socket)->receive_from(Socket, Buffer, Flags, RemoteAddress, ControlLength, ControlInfo,
                                              ControlFlags, Irp));
}

static NTSTATUS WSKAPI tr_send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                        PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                        PIRP Irp)
{
    ULONG count = 0;
    for (PWSK_BUF_LIST b = BufferList; b != NULL && count < 1u << 20; b = b->Next)
        count++;
    TRACED_CALL("WskSendMessages", Socket, Irp, count,
                real_of(Socket)->send_messages(Socket, BufferList, Flags, RemoteAddress, ControlInfoLength, ControlInfo,
                                               Irp));
}

/* ---- the traced socket tables ---- */

static traced_table traced_basic, traced_listen, traced_datagram, traced_connection, traced_stream;
static pthread_once_t traced_once = PTHREAD_ONCE_INIT;

/* Wraps a slot the real table fills; an empty slot stays empty. */
#define WRAP(table, slot, field, wrapper)                                                                     \
    do {                                                                                                     \
        (table)->real.field = real->slot;                                                                    \
        if (real->slot != NULL)                                                                              \
            d->slot = wrapper;                                                                               \
    } while (0)

static void build_traced_tables(void)
{
    {
        /* Basic sockets have a table of the connection layout (wsk_socket.c). */
        const WSK_PROVIDER_CONNECTION_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_BASIC);
        WSK_PROVIDER_CONNECTION_DISPATCH *d = &traced_basic.d.connection;
        WRAP(&traced_basic, WskControlSocket, control, tr_control_socket);
        WRAP(&traced_basic, WskCloseSocket, close, tr_close_socket);
        WRAP(&traced_basic, WskBind, bind, tr_bind);
        WRAP(&traced_basic, WskConnect, connect, tr_connect);
        WRAP(&traced_basic, WskGetLocalAddress, local_address, tr_local_address);
        WRAP(&traced_basic, WskGetRemoteAddress, remote_address, tr_remote_address);
        WRAP(&traced_basic, WskSend, send, tr_send);
        WRAP(&traced_basic, WskReceive, receive, tr_receive);
        WRAP(&traced_basic, WskDisconnect, disconnect, tr_disconnect);
        WRAP(&traced_basic, WskRelease, release, tr_release);
        WRAP(&traced_basic, WskConnectEx, connect_ex, tr_connect_ex);
        WRAP(&traced_basic, WskSendEx, send_ex, tr_send_ex);
        WRAP(&traced_basic, WskReceiveEx, receive_ex, tr_receive_ex);
    }
    {
        const WSK_PROVIDER_LISTEN_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_LISTEN);
        WSK_PROVIDER_LISTEN_DISPATCH *d = &traced_listen.d.listen;
        WRAP(&traced_listen, WskControlSocket, control, tr_control_socket);
        WRAP(&traced_listen, WskCloseSocket, close, tr_close_socket);
        WRAP(&traced_listen, WskBind, bind, tr_bind);
        WRAP(&traced_listen, WskAccept, accept, tr_accept);
        WRAP(&traced_listen, WskInspectComplete, inspect_complete, tr_inspect_complete);
        WRAP(&traced_listen, WskGetLocalAddress, local_address, tr_local_address);
    }
    {
        const WSK_PROVIDER_DATAGRAM_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_DATAGRAM);
        WSK_PROVIDER_DATAGRAM_DISPATCH *d = &traced_datagram.d.datagram;
        WRAP(&traced_datagram, WskControlSocket, control, tr_control_socket);
        WRAP(&traced_datagram, WskCloseSocket, close, tr_close_socket);
        WRAP(&traced_datagram, WskBind, bind, tr_bind);
        WRAP(&traced_datagram, WskSendTo, send_to, tr_send_to);
        WRAP(&traced_datagram, WskReceiveFrom, receive_from, tr_receive_from);
        WRAP(&traced_datagram, WskRelease, release_datagrams, tr_release_datagrams);
        WRAP(&traced_datagram, WskGetLocalAddress, local_address, tr_local_address);
        WRAP(&traced_datagram, WskSendMessages, send_messages, tr_send_messages);
    }
    {
        const WSK_PROVIDER_CONNECTION_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_CONNECTION);
        WSK_PROVIDER_CONNECTION_DISPATCH *d = &traced_connection.d.connection;
        WRAP(&traced_connection, WskControlSocket, control, tr_control_socket);
        WRAP(&traced_connection, WskCloseSocket, close, tr_close_socket);
        WRAP(&traced_connection, WskBind, bind, tr_bind);
        WRAP(&traced_connection, WskConnect, connect, tr_connect);
        WRAP(&traced_connection, WskGetLocalAddress, local_address, tr_local_address);
        WRAP(&traced_connection, WskGetRemoteAddress, remote_address, tr_remote_address);
        WRAP(&traced_connection, WskSend, send, tr_send);
        WRAP(&traced_connection, WskReceive, receive, tr_receive);
        WRAP(&traced_connection, WskDisconnect, disconnect, tr_disconnect);
        WRAP(&traced_connection, WskRelease, release, tr_release);
        WRAP(&traced_connection, WskConnectEx, connect_ex, tr_connect_ex);
        WRAP(&traced_connection, WskSendEx, send_ex, tr_send_ex);
        WRAP(&traced_connection, WskReceiveEx, receive_ex, tr_receive_ex);
    }
    {
        const WSK_PROVIDER_STREAM_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_STREAM);
        WSK_PROVIDER_STREAM_DISPATCH *d = &traced_stream.d.stream;
        WRAP(&traced_stream, WskControlSocket, control, tr_control_socket);
        WRAP(&traced_stream, WskCloseSocket, close, tr_close_socket);
        WRAP(&traced_stream, WskBind, bind, tr_bind);
        WRAP(&traced_stream, WskAccept, accept, tr_accept);
        WRAP(&traced_stream, WskConnect, connect, tr_connect);
        WRAP(&traced_stream, WskListen, listen, tr_listen);
        WRAP(&traced_stream, WskSend, send, tr_send);
        WRAP(&traced_stream, WskReceive, receive, tr_receive);
        WRAP(&traced_stream, WskDisconnect, disconnect, tr_disconnect);
        WRAP(&traced_stream, WskRelease, release, tr_release);
        WRAP(&traced_stream, WskGetLocalAddress, local_address, tr_local_address);
        WRAP(&traced_stream, WskGetRemoteAddress, remote_address, tr_remote_address);
        WRAP(&traced_stream, WskConnectEx, connect_ex, tr_connect_ex);
        WRAP(&traced_stream, WskSendEx, send_ex, tr_send_ex);
        WRAP(&traced_stream, WskReceiveEx, receive_ex, tr_receive_ex);
    }
}

const VOID *wsk_provider_table_for(wsk_category category)
{
    if (!openwsk_trace_enabled())
        return wsk_provider_table_plain(category);
    pthread_once(&traced_once, build_traced_tables);
    switch (category) {
    case WSK_CATEGORY_LISTEN: return &traced_listen.d;
    case WSK_CATEGORY_DATAGRAM: return &traced_datagram.d;
    case WSK_CATEGORY_CONNECTION: return &traced_connection.d;
    case WSK_CATEGORY_STREAM: return &traced_stream.d;
    default: return &traced_basic.d;
    }
}

const char *wsk_trace_category_name(wsk_category category)
{
    switch (category) {
    case WSK_CATEGORY_LISTEN: return "listen";
    case WSK_CATEGORY_DATAGRAM: return "datagram";
    case WSK_CATEGORY_CONNECTION: return "connection";
    case WSK_CATEGORY_STREAM: return "stream";
    default: return "basic";
    }
}

/* ---- client level ---- */

static NTSTATUS WSKAPI tr_socket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                                 ULONG Protocol, ULONG Flags, PVOID SocketContext, const VOID *Dispatch,
                                 PEPROCESS OwningProcess, PETHREAD OwningThread,
                                 PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    TRACED_CALL("WskSocket", NULL, Irp, 0,
                wsk_provider_dispatch.WskSocket(Client, AddressFamily, SocketType, Protocol, Flags, SocketContext,
                                                Dispatch, OwningProcess, OwningThread, SecurityDescriptor, Irp));
}

static NTSTATUS WSKAPI tr_socket_connect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                         PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                         PVOID SocketContext, const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                         PEPROCESS OwningProcess, PETHREAD OwningThread,
                                         PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    TRACED_CALL("WskSocketConnect", NULL, Irp, 0,
                wsk_provider_dispatch.WskSocketConnect(Client, SocketType, Protocol, LocalAddress, RemoteAddress,
                                                       Flags, SocketContext, Dispatch, OwningProcess, OwningThread,
                                                       SecurityDescriptor, Irp));
}

static NTSTATUS WSKAPI tr_control_client(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer,
                                         SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
    TRACED_CALL("WskControlClient", NULL, Irp, ControlCode,
                wsk_provider_dispatch.WskControlClient(Client, ControlCode, InputSize, InputBuffer, OutputSize,
                                                       OutputBuffer, OutputSizeReturned, Irp));
}

static NTSTATUS WSKAPI tr_get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                           PUNICODE_STRING ServiceName, ULONG NameSpace, GUID *Provider,
                                           PADDRINFOEXW Hints, PADDRINFOEXW *Result, PEPROCESS OwningProcess,
                                           PETHREAD OwningThread, PIRP Irp)
{
    TRACED_CALL("WskGetAddressInfo", NULL, Irp, 0,
                wsk_provider_dispatch.WskGetAddressInfo(Client, NodeName, ServiceName, NameSpace, Provider, Hints,
                                                        Result, OwningProcess, OwningThread, Irp));
}

static VOID WSKAPI tr_free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo)
{
    tl_irp_call c;
    openwsk_trace_irp_call_begin(&c, "WskFreeAddressInfo", NULL, NULL, 0);
    wsk_provider_dispatch.WskFreeAddressInfo(Client, AddrInfo);
    openwsk_trace_irp_call_end(&c, STATUS_SUCCESS);
}

static NTSTATUS WSKAPI tr_get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                        PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName, ULONG Flags,
                                        PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp)
{
    TRACED_CALL("WskGetNameInfo", NULL, Irp, 0,
                wsk_provider_dispatch.WskGetNameInfo(Client, SockAddr, SockAddrLength, NodeName, ServiceName, Flags,
                                                     OwningProcess, OwningThread, Irp));
}

static const WSK_PROVIDER_DISPATCH traced_provider_dispatch = {
    .Version = MAKE_WSK_VERSION(1, 0),
    .Reserved = 0,
    .WskSocket = tr_socket,
    .WskSocketConnect = tr_socket_connect,
    .WskControlClient = tr_control_client,
    .WskGetAddressInfo = tr_get_address_info,
    .WskFreeAddressInfo = tr_free_address_info,
    .WskGetNameInfo = tr_get_name_info,
};

const WSK_PROVIDER_DISPATCH *wsk_provider_dispatch_for_capture(void)
{
    _Static_assert(sizeof traced_provider_dispatch == sizeof wsk_provider_dispatch, "same table");
    return openwsk_trace_enabled() ? &traced_provider_dispatch : &wsk_provider_dispatch;
}
