/*
 * wsk_trace_dispatch.c - traced copies of the provider's dispatch tables
 * for the timeline (kernel/timeline.h).
 *
 * Each wrapper opens the IRP's span (name = the WSK function), calls the
 * real function and records what it returned; IofCompleteRequest closes
 * the span.  Sockets created while tracing get these tables; the real
 * ones stay as they are.
 */
#include "wsk_trace.h"
#include "wsk_internal.h"

#include "kernel/timeline.h"
#include "kernel/verifier.h"

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

typedef union traced_table {
    WSK_PROVIDER_BASIC_DISPATCH basic;
    WSK_PROVIDER_LISTEN_DISPATCH listen;
    WSK_PROVIDER_DATAGRAM_DISPATCH datagram;
    WSK_PROVIDER_CONNECTION_DISPATCH connection;
    WSK_PROVIDER_STREAM_DISPATCH stream;
} traced_table;

/* The verifier's wsk group uses these tables too: it counts the calls
 * running on each socket (WskCloseWhileCallRunning). */
#define TRACED_CALL(name, socket, irp, length, call)                                                                \
    do {                                                                                                            \
        tl_irp_call c_;                                                                                             \
        int v_ = openwsk_verifying(OPENWSK_VERIFY_WSK);                                                             \
        if (v_)                                                                                                     \
            wsk_verify_call_begin((socket), (name));                                                                \
        openwsk_trace_irp_call_begin(&c_, (name), (socket), (irp), (length));                                       \
        NTSTATUS st_ = (call);                                                                                      \
        openwsk_trace_irp_call_end(&c_, st_);                                                                       \
        if (v_)                                                                                                     \
            wsk_verify_call_end((socket));                                                                          \
        return st_;                                                                                                 \
    } while (0)

static ULONG buf_length(PWSK_BUF Buffer)
{
    return Buffer != NULL ? (ULONG)Buffer->Length : 0;
}

static ULONG buf_list_count(PWSK_BUF_LIST List)
{
    ULONG count = 0;
    for (; List != NULL && count < 1u << 20; List = List->Next)
        count++;
    return count;
}

#define TR_FN(cat, name) static __attribute__((unused)) NTSTATUS WSKAPI tr_##cat##_##name

/* ---- socket level ----
 * Each wrapper is made once per category (DEFINE_WRAPPERS below) and calls
 * that category's real function: nothing is read from the socket, which may
 * be NULL or closed when a client gets it wrong. */

#define DEFINE_TR_control_socket(cat)                                                                               \
    TR_FN(cat, control_socket)(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,                             \
        ULONG ControlCode, ULONG Level, SIZE_T InputSize, PVOID InputBuffer, SIZE_T OutputSize,                     \
        PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)                                                   \
    {                                                                                                               \
        TRACED_CALL("WskControlSocket", Socket, Irp, ControlCode,                                                   \
                    real_##cat.control(Socket, RequestType, ControlCode, Level, InputSize, InputBuffer,             \
                        OutputSize, OutputBuffer, OutputSizeReturned, Irp));                                        \
    }

#define DEFINE_TR_close_socket(cat)                                                                                 \
    TR_FN(cat, close_socket)(PWSK_SOCKET Socket, PIRP Irp)                                                          \
    {                                                                                                               \
        if (openwsk_verifying(OPENWSK_VERIFY_WSK))                                                                  \
            wsk_verify_close_while_running(Socket);                                                                 \
        TRACED_CALL("WskCloseSocket", Socket, Irp, 0, real_##cat.close(Socket, Irp));                               \
    }

#define DEFINE_TR_bind(cat)                                                                                         \
    TR_FN(cat, bind)(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)                             \
    {                                                                                                               \
        TRACED_CALL("WskBind", Socket, Irp, 0, real_##cat.bind(Socket, LocalAddress, Flags, Irp));                  \
    }

#define DEFINE_TR_connect(cat)                                                                                      \
    TR_FN(cat, connect)(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)                         \
    {                                                                                                               \
        TRACED_CALL("WskConnect", Socket, Irp, 0, real_##cat.connect(Socket, RemoteAddress, Flags, Irp));           \
    }

#define DEFINE_TR_connect_ex(cat)                                                                                   \
    TR_FN(cat, connect_ex)(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer,                            \
        ULONG Flags, PIRP Irp)                                                                                      \
    {                                                                                                               \
        TRACED_CALL("WskConnectEx", Socket, Irp, buf_length(Buffer),                                                \
                    real_##cat.connect_ex(Socket, RemoteAddress, Buffer, Flags, Irp));                              \
    }

#define DEFINE_TR_local_address(cat)                                                                                \
    TR_FN(cat, local_address)(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp)                                 \
    {                                                                                                               \
        TRACED_CALL("WskGetLocalAddress", Socket, Irp, 0, real_##cat.local_address(Socket, LocalAddress, Irp));     \
    }

#define DEFINE_TR_remote_address(cat)                                                                               \
    TR_FN(cat, remote_address)(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp)                               \
    {                                                                                                               \
        TRACED_CALL("WskGetRemoteAddress", Socket, Irp, 0, real_##cat.remote_address(Socket, RemoteAddress, Irp));  \
    }

#define DEFINE_TR_send(cat)                                                                                         \
    TR_FN(cat, send)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)                                    \
    {                                                                                                               \
        TRACED_CALL("WskSend", Socket, Irp, buf_length(Buffer), real_##cat.send(Socket, Buffer, Flags, Irp));       \
    }

#define DEFINE_TR_send_ex(cat)                                                                                      \
    TR_FN(cat, send_ex)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,                                           \
        ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)                                                    \
    {                                                                                                               \
        TRACED_CALL("WskSendEx", Socket, Irp, buf_length(Buffer),                                                   \
                    real_##cat.send_ex(Socket, Buffer, Flags, ControlInfoLength, ControlInfo, Irp));                \
    }

#define DEFINE_TR_receive(cat)                                                                                      \
    TR_FN(cat, receive)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)                                 \
    {                                                                                                               \
        TRACED_CALL("WskReceive", Socket, Irp, buf_length(Buffer), real_##cat.receive(Socket, Buffer, Flags, Irp)); \
    }

#define DEFINE_TR_receive_ex(cat)                                                                                   \
    TR_FN(cat, receive_ex)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,                                        \
        PULONG ControlInfoLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)                              \
    {                                                                                                               \
        TRACED_CALL("WskReceiveEx", Socket, Irp, buf_length(Buffer),                                                \
                    real_##cat.receive_ex(Socket, Buffer, Flags, ControlInfoLength, ControlInfo, ControlFlags, Irp)); \
    }

#define DEFINE_TR_disconnect(cat)                                                                                   \
    TR_FN(cat, disconnect)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)                              \
    {                                                                                                               \
        TRACED_CALL("WskDisconnect", Socket, Irp, buf_length(Buffer),                                               \
                    real_##cat.disconnect(Socket, Buffer, Flags, Irp));                                             \
    }

#define DEFINE_TR_release(cat)                                                                                      \
    TR_FN(cat, release)(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)                                    \
    {                                                                                                               \
        TRACED_CALL("WskRelease", Socket, NULL, 0, real_##cat.release(Socket, DataIndication));                     \
    }

#define DEFINE_TR_release_datagrams(cat)                                                                            \
    TR_FN(cat, release_datagrams)(PWSK_SOCKET Socket,                                                               \
        PWSK_DATAGRAM_INDICATION DatagramIndication)                                                                \
    {                                                                                                               \
        TRACED_CALL("WskRelease", Socket, NULL, 0, real_##cat.release_datagrams(Socket, DatagramIndication));       \
    }

#define DEFINE_TR_accept(cat)                                                                                       \
    TR_FN(cat, accept)(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,                            \
        const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, PSOCKADDR LocalAddress,                         \
        PSOCKADDR RemoteAddress, PIRP Irp)                                                                          \
    {                                                                                                               \
        TRACED_CALL("WskAccept", ListenSocket, Irp, 0,                                                              \
                    real_##cat.accept(ListenSocket, Flags, AcceptSocketContext, AcceptSocketDispatch,               \
                        LocalAddress, RemoteAddress, Irp));                                                         \
    }

#define DEFINE_TR_listen(cat)                                                                                       \
    TR_FN(cat, listen)(PWSK_SOCKET Socket, PIRP Irp)                                                                \
    {                                                                                                               \
        TRACED_CALL("WskListen", Socket, Irp, 0, real_##cat.listen(Socket, Irp));                                   \
    }

#define DEFINE_TR_inspect_complete(cat)                                                                             \
    TR_FN(cat, inspect_complete)(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,                               \
        WSK_INSPECT_ACTION Action, PIRP Irp)                                                                        \
    {                                                                                                               \
        TRACED_CALL("WskInspectComplete", ListenSocket, Irp, (ULONG)Action,                                         \
                    real_##cat.inspect_complete(ListenSocket, InspectID, Action, Irp));                             \
    }

#define DEFINE_TR_send_to(cat)                                                                                      \
    TR_FN(cat, send_to)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,                                           \
        PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)                           \
    {                                                                                                               \
        TRACED_CALL("WskSendTo", Socket, Irp, buf_length(Buffer),                                                   \
                    real_##cat.send_to(Socket, Buffer, Flags, RemoteAddress, ControlInfoLength, ControlInfo, Irp)); \
    }

#define DEFINE_TR_receive_from(cat)                                                                                 \
    TR_FN(cat, receive_from)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,                                      \
        PSOCKADDR RemoteAddress, PULONG ControlLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)         \
    {                                                                                                               \
        TRACED_CALL("WskReceiveFrom", Socket, Irp, buf_length(Buffer),                                              \
                    real_##cat.receive_from(Socket, Buffer, Flags, RemoteAddress, ControlLength, ControlInfo,       \
                        ControlFlags, Irp));                                                                        \
    }

#define DEFINE_TR_send_messages(cat)                                                                                \
    TR_FN(cat, send_messages)(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,                            \
        PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)                           \
    {                                                                                                               \
        TRACED_CALL("WskSendMessages", Socket, Irp, buf_list_count(BufferList),                                     \
                    real_##cat.send_messages(Socket, BufferList, Flags, RemoteAddress, ControlInfoLength,           \
                        ControlInfo, Irp));                                                                         \
    }

#define DEFINE_WRAPPERS(cat)                                                                                        \
    static wsk_real_fns real_##cat;                                                                                 \
    DEFINE_TR_control_socket(cat)                                                                                   \
    DEFINE_TR_close_socket(cat)                                                                                     \
    DEFINE_TR_bind(cat)                                                                                             \
    DEFINE_TR_connect(cat)                                                                                          \
    DEFINE_TR_connect_ex(cat)                                                                                       \
    DEFINE_TR_local_address(cat)                                                                                    \
    DEFINE_TR_remote_address(cat)                                                                                   \
    DEFINE_TR_send(cat)                                                                                             \
    DEFINE_TR_send_ex(cat)                                                                                          \
    DEFINE_TR_receive(cat)                                                                                          \
    DEFINE_TR_receive_ex(cat)                                                                                       \
    DEFINE_TR_disconnect(cat)                                                                                       \
    DEFINE_TR_release(cat)                                                                                          \
    DEFINE_TR_release_datagrams(cat)                                                                                \
    DEFINE_TR_accept(cat)                                                                                           \
    DEFINE_TR_listen(cat)                                                                                           \
    DEFINE_TR_inspect_complete(cat)                                                                                 \
    DEFINE_TR_send_to(cat)                                                                                          \
    DEFINE_TR_receive_from(cat)                                                                                     \
    DEFINE_TR_send_messages(cat)

DEFINE_WRAPPERS(basic)
DEFINE_WRAPPERS(listen)
DEFINE_WRAPPERS(datagram)
DEFINE_WRAPPERS(connection)
DEFINE_WRAPPERS(stream)

/* ---- the traced socket tables ---- */

static traced_table traced_basic, traced_listen, traced_datagram, traced_connection, traced_stream;
static pthread_once_t traced_once = PTHREAD_ONCE_INIT;

/* One wrapper per real function: where categories share a function
 * (WskBind, WskControlSocket...), their traced tables share its wrapper,
 * as the real tables do.  Called under traced_once only. */
static struct {
    void *real, *wrapper;
} shared[64];

static void *share(void *real, void *wrapper)
{
    for (unsigned i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        if (shared[i].real == real)
            return shared[i].wrapper;
        if (shared[i].real == NULL) {
            shared[i].real = real;
            shared[i].wrapper = wrapper;
            break;
        }
    }
    return wrapper;
}

/* Wraps a slot the real table fills; an empty slot stays empty. */
#define WRAP(cat, slot, field, wrapper)                                                                       \
    do {                                                                                                     \
        real_##cat.field = real->slot;                                                                       \
        if (real->slot != NULL)                                                                              \
            d->slot = (__typeof__(d->slot))share((void *)real->slot, (void *)tr_##cat##_##wrapper);          \
    } while (0)

/* Every slot of a table of the connection layout (basic and connection sockets). */
#define WRAP_CONNECTION_LAYOUT(cat)                                                                           \
    do {                                                                                                     \
        WRAP(cat, WskControlSocket, control, control_socket);                                                \
        WRAP(cat, WskCloseSocket, close, close_socket);                                                      \
        WRAP(cat, WskBind, bind, bind);                                                                      \
        WRAP(cat, WskConnect, connect, connect);                                                             \
        WRAP(cat, WskGetLocalAddress, local_address, local_address);                                         \
        WRAP(cat, WskGetRemoteAddress, remote_address, remote_address);                                      \
        WRAP(cat, WskSend, send, send);                                                                      \
        WRAP(cat, WskReceive, receive, receive);                                                             \
        WRAP(cat, WskDisconnect, disconnect, disconnect);                                                    \
        WRAP(cat, WskRelease, release, release);                                                             \
        WRAP(cat, WskConnectEx, connect_ex, connect_ex);                                                     \
        WRAP(cat, WskSendEx, send_ex, send_ex);                                                              \
        WRAP(cat, WskReceiveEx, receive_ex, receive_ex);                                                     \
    } while (0)

static void build_traced_tables(void)
{
    {
        /* Basic sockets have a table of the connection layout (wsk_socket.c). */
        const WSK_PROVIDER_CONNECTION_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_BASIC);
        WSK_PROVIDER_CONNECTION_DISPATCH *d = &traced_basic.connection;
        WRAP_CONNECTION_LAYOUT(basic);
    }
    {
        const WSK_PROVIDER_LISTEN_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_LISTEN);
        WSK_PROVIDER_LISTEN_DISPATCH *d = &traced_listen.listen;
        WRAP(listen, WskControlSocket, control, control_socket);
        WRAP(listen, WskCloseSocket, close, close_socket);
        WRAP(listen, WskBind, bind, bind);
        WRAP(listen, WskAccept, accept, accept);
        WRAP(listen, WskInspectComplete, inspect_complete, inspect_complete);
        WRAP(listen, WskGetLocalAddress, local_address, local_address);
    }
    {
        const WSK_PROVIDER_DATAGRAM_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_DATAGRAM);
        WSK_PROVIDER_DATAGRAM_DISPATCH *d = &traced_datagram.datagram;
        WRAP(datagram, WskControlSocket, control, control_socket);
        WRAP(datagram, WskCloseSocket, close, close_socket);
        WRAP(datagram, WskBind, bind, bind);
        WRAP(datagram, WskSendTo, send_to, send_to);
        WRAP(datagram, WskReceiveFrom, receive_from, receive_from);
        WRAP(datagram, WskRelease, release_datagrams, release_datagrams);
        WRAP(datagram, WskGetLocalAddress, local_address, local_address);
        WRAP(datagram, WskSendMessages, send_messages, send_messages);
    }
    {
        const WSK_PROVIDER_CONNECTION_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_CONNECTION);
        WSK_PROVIDER_CONNECTION_DISPATCH *d = &traced_connection.connection;
        WRAP_CONNECTION_LAYOUT(connection);
    }
    {
        const WSK_PROVIDER_STREAM_DISPATCH *real = wsk_provider_table_plain(WSK_CATEGORY_STREAM);
        WSK_PROVIDER_STREAM_DISPATCH *d = &traced_stream.stream;
        WRAP(stream, WskControlSocket, control, control_socket);
        WRAP(stream, WskCloseSocket, close, close_socket);
        WRAP(stream, WskBind, bind, bind);
        WRAP(stream, WskAccept, accept, accept);
        WRAP(stream, WskConnect, connect, connect);
        WRAP(stream, WskListen, listen, listen);
        WRAP(stream, WskSend, send, send);
        WRAP(stream, WskReceive, receive, receive);
        WRAP(stream, WskDisconnect, disconnect, disconnect);
        WRAP(stream, WskRelease, release, release);
        WRAP(stream, WskGetLocalAddress, local_address, local_address);
        WRAP(stream, WskGetRemoteAddress, remote_address, remote_address);
        WRAP(stream, WskConnectEx, connect_ex, connect_ex);
        WRAP(stream, WskSendEx, send_ex, send_ex);
        WRAP(stream, WskReceiveEx, receive_ex, receive_ex);
    }
}

const VOID *wsk_provider_table_for(wsk_category category)
{
    if (!openwsk_trace_enabled() && !openwsk_verifying(OPENWSK_VERIFY_WSK))
        return wsk_provider_table_plain(category);
    pthread_once(&traced_once, build_traced_tables);
    switch (category) {
    case WSK_CATEGORY_LISTEN: return &traced_listen;
    case WSK_CATEGORY_DATAGRAM: return &traced_datagram;
    case WSK_CATEGORY_CONNECTION: return &traced_connection;
    case WSK_CATEGORY_STREAM: return &traced_stream;
    default: return &traced_basic;
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
