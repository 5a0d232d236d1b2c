/*
 * test_layout_wsk.c - pins the Windows x64 ABI of the Winsock / WSK headers:
 * structure sizes and member offsets, dispatch table member order, the
 * constants whose values differ from Linux, and the prototype of every
 * PFN_WSK_* type (assigning a function with the documented parameter list
 * must compile without a diagnostic under -Werror).
 *
 * The ws2def/ws2ipdef numbers were cross-checked against the mingw-w64
 * Windows headers compiled for x86_64-w64-mingw32; the WSK ones follow the
 * WDK's wsk.h (offset = 8 * index for the dispatch tables).
 */
#include <ntddk.h>
#include <wsk.h>

#include "wt.h"

#define CHECK_SIZE(type, expected) CHECK_EQ(sizeof(type), (expected))
#define CHECK_OFF(type, member, expected) CHECK_EQ(offsetof(type, member), (expected))

/* ---- socket addresses ---- */

static void test_sockaddr_layouts(void)
{
    CHECK_SIZE(ADDRESS_FAMILY, 2);

    CHECK_SIZE(SOCKADDR, 16);
    CHECK_OFF(SOCKADDR, sa_family, 0);
    CHECK_OFF(SOCKADDR, sa_data, 2);

    CHECK_SIZE(IN_ADDR, 4);
    CHECK_EQ(_Alignof(IN_ADDR), 4);
    CHECK_SIZE(IN6_ADDR, 16);
    CHECK_EQ(_Alignof(IN6_ADDR), 2);

    CHECK_SIZE(SOCKADDR_IN, 16);
    CHECK_OFF(SOCKADDR_IN, sin_family, 0);
    CHECK_OFF(SOCKADDR_IN, sin_port, 2);
    CHECK_OFF(SOCKADDR_IN, sin_addr, 4);
    CHECK_OFF(SOCKADDR_IN, sin_zero, 8);

    CHECK_SIZE(SCOPE_ID, 4);
    CHECK_SIZE(SOCKADDR_IN6, 28);
    CHECK_SIZE(SOCKADDR_IN6_LH, 28);
    CHECK_EQ(_Alignof(SOCKADDR_IN6), 4);
    CHECK_OFF(SOCKADDR_IN6, sin6_family, 0);
    CHECK_OFF(SOCKADDR_IN6, sin6_port, 2);
    CHECK_OFF(SOCKADDR_IN6, sin6_flowinfo, 4);
    CHECK_OFF(SOCKADDR_IN6, sin6_addr, 8);
    CHECK_OFF(SOCKADDR_IN6, sin6_scope_id, 24);
    CHECK_OFF(SOCKADDR_IN6, sin6_scope_struct, 24);

    CHECK_SIZE(SOCKADDR_STORAGE, 128);
    CHECK_EQ(_Alignof(SOCKADDR_STORAGE), 8);
    CHECK_OFF(SOCKADDR_STORAGE, ss_family, 0);
    CHECK_OFF(SOCKADDR_STORAGE, __ss_pad1, 2);
    CHECK_OFF(SOCKADDR_STORAGE, __ss_align, 8);
    CHECK_OFF(SOCKADDR_STORAGE, __ss_pad2, 16);
    CHECK_EQ(sizeof(((SOCKADDR_STORAGE *)0)->__ss_pad2), 112);

    CHECK_SIZE(SOCKADDR_INET, 28);
    CHECK_EQ(_Alignof(SOCKADDR_INET), 4);
    CHECK_OFF(SOCKADDR_INET, Ipv4, 0);
    CHECK_OFF(SOCKADDR_INET, Ipv6, 0);
    CHECK_OFF(SOCKADDR_INET, si_family, 0);

    CHECK_SIZE(SOCKADDR_IN6_PAIR, 16);
    CHECK_SIZE(SOCKET_ADDRESS, 16);
    CHECK_OFF(SOCKET_ADDRESS, iSockaddrLength, 8);
    CHECK_SIZE(SOCKET_ADDRESS_LIST, 24);
    CHECK_OFF(SOCKET_ADDRESS_LIST, Address, 8);
}

static void test_ip_option_structs(void)
{
    CHECK_SIZE(IN_PKTINFO, 8);
    CHECK_OFF(IN_PKTINFO, ipi_addr, 0);
    CHECK_OFF(IN_PKTINFO, ipi_ifindex, 4);
    CHECK_SIZE(IN6_PKTINFO, 20);
    CHECK_OFF(IN6_PKTINFO, ipi6_addr, 0);
    CHECK_OFF(IN6_PKTINFO, ipi6_ifindex, 16);
    CHECK_SIZE(IN_PKTINFO_EX, 12);
    CHECK_SIZE(IN6_PKTINFO_EX, 24);

    CHECK_SIZE(IP_MREQ, 8);
    CHECK_OFF(IP_MREQ, imr_interface, 4);
    CHECK_SIZE(IP_MREQ_SOURCE, 12);
    CHECK_OFF(IP_MREQ_SOURCE, imr_sourceaddr, 4);
    CHECK_OFF(IP_MREQ_SOURCE, imr_interface, 8);
    CHECK_SIZE(IPV6_MREQ, 20);
    CHECK_OFF(IPV6_MREQ, ipv6mr_interface, 16);
    CHECK_SIZE(GROUP_REQ, 136);
    CHECK_SIZE(GROUP_SOURCE_REQ, 264);

    CHECK_SIZE(struct tcp_keepalive, 12);
    CHECK_SIZE(RSS_SCALABILITY_INFO, 1);
    CHECK_SIZE(TCP_INFO_v0, 88);
}

/* ---- ancillary data ---- */

static void test_cmsg_layout(void)
{
    CHECK_SIZE(WSACMSGHDR, 16);
    CHECK_SIZE(CMSGHDR, 16);
    CHECK_OFF(WSACMSGHDR, cmsg_len, 0);
    CHECK_OFF(WSACMSGHDR, cmsg_level, 8);
    CHECK_OFF(WSACMSGHDR, cmsg_type, 12);
    CHECK_EQ(sizeof(((WSACMSGHDR *)0)->cmsg_len), 8);

    /* Data starts 16 bytes after the header; objects are padded to 8. */
    CHECK_EQ(WSA_CMSG_LEN(0), 16);
    CHECK_EQ(WSA_CMSG_LEN(sizeof(IN_PKTINFO)), 24);
    CHECK_EQ(WSA_CMSG_LEN(sizeof(IN6_PKTINFO)), 36);
    CHECK_EQ(CMSG_LEN(4), 20);
    CHECK_EQ(WSA_CMSG_SPACE(4), 24);
    CHECK_EQ(WSA_CMSG_SPACE(sizeof(IN_PKTINFO)), 24);
    CHECK_EQ(CMSG_SPACE(sizeof(IN6_PKTINFO)), 40);
    CHECK_EQ(WSA_CMSGHDR_ALIGN(13), 16);
    CHECK_EQ(WSA_CMSGDATA_ALIGN(17), 24);

    /* Walk a control buffer holding IN_PKTINFO then IN6_PKTINFO. */
    UCHAR control[64] __attribute__((aligned(8)));
    memset(control, 0, sizeof(control));
    WSABUF payload = {0, NULL};
    WSAMSG msg;
    memset(&msg, 0, sizeof(msg));
    msg.lpBuffers = &payload;
    msg.Control.buf = (CHAR *)control;
    msg.Control.len = (ULONG)(CMSG_SPACE(sizeof(IN_PKTINFO)) + CMSG_SPACE(sizeof(IN6_PKTINFO)));

    PWSACMSGHDR first = WSA_CMSG_FIRSTHDR(&msg);
    CHECK(first == (PWSACMSGHDR)control);
    first->cmsg_len = WSA_CMSG_LEN(sizeof(IN_PKTINFO));
    first->cmsg_level = IPPROTO_IP;
    first->cmsg_type = IP_PKTINFO;
    CHECK(WSA_CMSG_DATA(first) == control + 16);

    PWSACMSGHDR second = CMSG_NXTHDR(&msg, first);
    CHECK(second == (PWSACMSGHDR)(control + 24));
    if (second != NULL) {
        second->cmsg_len = WSA_CMSG_LEN(sizeof(IN6_PKTINFO));
        second->cmsg_level = IPPROTO_IPV6;
        second->cmsg_type = IPV6_PKTINFO;
        CHECK(CMSG_NXTHDR(&msg, second) == NULL);
    }
    PWSACMSGHDR none = NULL; /* a NULL cursor restarts at the first object */
    CHECK(WSA_CMSG_NXTHDR(&msg, none) == first);

    msg.Control.len = sizeof(WSACMSGHDR) - 1;
    CHECK(CMSG_FIRSTHDR(&msg) == NULL);
}

/* ---- name resolution ---- */

static void test_addrinfo_layouts(void)
{
    CHECK_SIZE(ADDRINFOEXW, 72);
    CHECK_OFF(ADDRINFOEXW, ai_flags, 0);
    CHECK_OFF(ADDRINFOEXW, ai_family, 4);
    CHECK_OFF(ADDRINFOEXW, ai_socktype, 8);
    CHECK_OFF(ADDRINFOEXW, ai_protocol, 12);
    CHECK_OFF(ADDRINFOEXW, ai_addrlen, 16);
    CHECK_OFF(ADDRINFOEXW, ai_canonname, 24);
    CHECK_OFF(ADDRINFOEXW, ai_addr, 32);
    CHECK_OFF(ADDRINFOEXW, ai_blob, 40);
    CHECK_OFF(ADDRINFOEXW, ai_bloblen, 48);
    CHECK_OFF(ADDRINFOEXW, ai_provider, 56);
    CHECK_OFF(ADDRINFOEXW, ai_next, 64);
    CHECK_EQ(sizeof(*((ADDRINFOEXW *)0)->ai_canonname), 2); /* UTF-16 */

    CHECK_SIZE(ADDRINFOEXA, 72);
    CHECK_SIZE(ADDRINFOEX2W, 88);
    CHECK_OFF(ADDRINFOEX2W, ai_version, 72);
    CHECK_OFF(ADDRINFOEX2W, ai_fqdn, 80);

    CHECK_SIZE(ADDRINFOW, 48);
    CHECK_OFF(ADDRINFOW, ai_canonname, 24);
    CHECK_OFF(ADDRINFOW, ai_addr, 32);
    CHECK_OFF(ADDRINFOW, ai_next, 40);
    CHECK_SIZE(ADDRINFOA, 48);
    CHECK_OFF(ADDRINFOA, ai_canonname, 24);

    CHECK_SIZE(WSABUF, 16);
    CHECK_OFF(WSABUF, buf, 8);
    CHECK_SIZE(WSAMSG, 56);
    CHECK_OFF(WSAMSG, namelen, 8);
    CHECK_OFF(WSAMSG, lpBuffers, 16);
    CHECK_OFF(WSAMSG, dwBufferCount, 24);
    CHECK_OFF(WSAMSG, Control, 32);
    CHECK_OFF(WSAMSG, dwFlags, 48);
}

/* ---- WSK data structures ---- */

static void test_wsk_buffers(void)
{
    CHECK_SIZE(WSK_BUF, 24);
    CHECK_OFF(WSK_BUF, Mdl, 0);
    CHECK_OFF(WSK_BUF, Offset, 8);
    CHECK_OFF(WSK_BUF, Length, 16);

    CHECK_SIZE(WSK_DATA_INDICATION, 32);
    CHECK_OFF(WSK_DATA_INDICATION, Next, 0);
    CHECK_OFF(WSK_DATA_INDICATION, Buffer, 8);

    CHECK_SIZE(WSK_DATAGRAM_INDICATION, 56);
    CHECK_OFF(WSK_DATAGRAM_INDICATION, Next, 0);
    CHECK_OFF(WSK_DATAGRAM_INDICATION, Buffer, 8);
    CHECK_OFF(WSK_DATAGRAM_INDICATION, ControlInfo, 32);
    CHECK_OFF(WSK_DATAGRAM_INDICATION, ControlInfoLength, 40);
    CHECK_OFF(WSK_DATAGRAM_INDICATION, RemoteAddress, 48);

    CHECK_SIZE(WSK_BUF_LIST, 32);
    CHECK_OFF(WSK_BUF_LIST, Next, 0);
    CHECK_OFF(WSK_BUF_LIST, Buffer, 8);

    CHECK_SIZE(WSK_SOCKET, 8);
    CHECK_OFF(WSK_SOCKET, Dispatch, 0);
}

static void test_wsk_misc_structs(void)
{
    CHECK_SIZE(WSK_EVENT_CALLBACK_CONTROL, 16);
    CHECK_OFF(WSK_EVENT_CALLBACK_CONTROL, NpiId, 0);
    CHECK_OFF(WSK_EVENT_CALLBACK_CONTROL, EventMask, 8);

    CHECK_SIZE(WSK_INSPECT_ID, 16);
    CHECK_OFF(WSK_INSPECT_ID, Key, 0);
    CHECK_OFF(WSK_INSPECT_ID, SerialNumber, 8);

    CHECK_SIZE(WSK_TRANSPORT, 28);
    CHECK_OFF(WSK_TRANSPORT, Version, 0);
    CHECK_OFF(WSK_TRANSPORT, SocketType, 2);
    CHECK_OFF(WSK_TRANSPORT, Protocol, 4);
    CHECK_OFF(WSK_TRANSPORT, AddressFamily, 8);
    CHECK_OFF(WSK_TRANSPORT, ProviderId, 12);

    CHECK_SIZE(WSK_EXTENSION_CONTROL_IN, 24);
    CHECK_OFF(WSK_EXTENSION_CONTROL_IN, ClientContext, 8);
    CHECK_OFF(WSK_EXTENSION_CONTROL_IN, ClientDispatch, 16);
    CHECK_SIZE(WSK_EXTENSION_CONTROL_OUT, 16);
    CHECK_OFF(WSK_EXTENSION_CONTROL_OUT, ProviderDispatch, 8);

    CHECK_SIZE(WSK_TDI_MAP, 16);
    CHECK_OFF(WSK_TDI_MAP, AddressFamily, 2);
    CHECK_OFF(WSK_TDI_MAP, Protocol, 4);
    CHECK_OFF(WSK_TDI_MAP, TdiDeviceName, 8);
    CHECK_SIZE(WSK_TDI_MAP_INFO, 16);
    CHECK_OFF(WSK_TDI_MAP_INFO, Map, 8);

    CHECK_SIZE(WSK_CONTROL_SOCKET_TYPE, 4);
    CHECK_SIZE(WSK_INSPECT_ACTION, 4);
    CHECK_SIZE(NPIID, 16);
}

static void test_wsk_registration_structs(void)
{
    CHECK_SIZE(WSK_CLIENT_DISPATCH, 16);
    CHECK_OFF(WSK_CLIENT_DISPATCH, Version, 0);
    CHECK_OFF(WSK_CLIENT_DISPATCH, Reserved, 2);
    CHECK_OFF(WSK_CLIENT_DISPATCH, WskClientEvent, 8);

    CHECK_SIZE(WSK_CLIENT_NPI, 16);
    CHECK_OFF(WSK_CLIENT_NPI, ClientContext, 0);
    CHECK_OFF(WSK_CLIENT_NPI, Dispatch, 8);

    CHECK_SIZE(WSK_PROVIDER_NPI, 16);
    CHECK_OFF(WSK_PROVIDER_NPI, Client, 0);
    CHECK_OFF(WSK_PROVIDER_NPI, Dispatch, 8);
    CHECK_SIZE(PWSK_CLIENT, 8);

    CHECK_SIZE(WSK_REGISTRATION, 24);
    CHECK_OFF(WSK_REGISTRATION, ReservedRegistrationState, 0);
    CHECK_OFF(WSK_REGISTRATION, ReservedRegistrationContext, 8);
    CHECK_OFF(WSK_REGISTRATION, ReservedRegistrationLock, 16);

    CHECK_SIZE(WSK_PROVIDER_CHARACTERISTICS, 4);
    CHECK_OFF(WSK_PROVIDER_CHARACTERISTICS, HighestVersion, 0);
    CHECK_OFF(WSK_PROVIDER_CHARACTERISTICS, LowestVersion, 2);

    CHECK_SIZE(WSK_PROVIDER_DISPATCH, 56);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, Version, 0);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, Reserved, 2);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, WskSocket, 8);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, WskSocketConnect, 16);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, WskControlClient, 24);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, WskGetAddressInfo, 32);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, WskFreeAddressInfo, 40);
    CHECK_OFF(WSK_PROVIDER_DISPATCH, WskGetNameInfo, 48);
}

static void test_client_dispatch_tables(void)
{
    CHECK_SIZE(WSK_CLIENT_LISTEN_DISPATCH, 24);
    CHECK_OFF(WSK_CLIENT_LISTEN_DISPATCH, WskAcceptEvent, 0);
    CHECK_OFF(WSK_CLIENT_LISTEN_DISPATCH, WskInspectEvent, 8);
    CHECK_OFF(WSK_CLIENT_LISTEN_DISPATCH, WskAbortEvent, 16);

    CHECK_SIZE(WSK_CLIENT_DATAGRAM_DISPATCH, 8);
    CHECK_OFF(WSK_CLIENT_DATAGRAM_DISPATCH, WskReceiveFromEvent, 0);

    CHECK_SIZE(WSK_CLIENT_CONNECTION_DISPATCH, 24);
    CHECK_OFF(WSK_CLIENT_CONNECTION_DISPATCH, WskReceiveEvent, 0);
    CHECK_OFF(WSK_CLIENT_CONNECTION_DISPATCH, WskDisconnectEvent, 8);
    CHECK_OFF(WSK_CLIENT_CONNECTION_DISPATCH, WskSendBacklogEvent, 16);

    CHECK_SIZE(WSK_CLIENT_STREAM_DISPATCH, 16);
    CHECK_OFF(WSK_CLIENT_STREAM_DISPATCH, Listen, 0);
    CHECK_OFF(WSK_CLIENT_STREAM_DISPATCH, Connect, 8);
}

/* Member at slot i of a table of function pointers sits at 8 * i. */
#define CHECK_SLOT(type, member, index) CHECK_OFF(type, member, 8 * (index))

static void test_provider_socket_tables(void)
{
    CHECK_SIZE(WSK_PROVIDER_BASIC_DISPATCH, 16);
    CHECK_SLOT(WSK_PROVIDER_BASIC_DISPATCH, WskControlSocket, 0);
    CHECK_SLOT(WSK_PROVIDER_BASIC_DISPATCH, WskCloseSocket, 1);

    CHECK_SIZE(WSK_PROVIDER_LISTEN_DISPATCH, 48);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, Basic, 0);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskControlSocket, 0);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskCloseSocket, 1);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskBind, 2);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskAccept, 3);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskInspectComplete, 4);
    CHECK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskGetLocalAddress, 5);

    CHECK_SIZE(WSK_PROVIDER_DATAGRAM_DISPATCH, 64);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, Basic, 0);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskControlSocket, 0);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskCloseSocket, 1);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskBind, 2);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskSendTo, 3);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskReceiveFrom, 4);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskRelease, 5);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskGetLocalAddress, 6);
    CHECK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskSendMessages, 7);

    CHECK_SIZE(WSK_PROVIDER_CONNECTION_DISPATCH, 104);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, Basic, 0);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskControlSocket, 0);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskCloseSocket, 1);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskBind, 2);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskConnect, 3);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskGetLocalAddress, 4);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskGetRemoteAddress, 5);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskSend, 6);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskReceive, 7);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskDisconnect, 8);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskRelease, 9);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskConnectEx, 10);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskSendEx, 11);
    CHECK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskReceiveEx, 12);

    CHECK_SIZE(WSK_PROVIDER_STREAM_DISPATCH, 120);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, Basic, 0);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskControlSocket, 0);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskCloseSocket, 1);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskBind, 2);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskAccept, 3);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskConnect, 4);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskListen, 5);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskSend, 6);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskReceive, 7);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskDisconnect, 8);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskRelease, 9);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskGetLocalAddress, 10);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskGetRemoteAddress, 11);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskConnectEx, 12);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskSendEx, 13);
    CHECK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskReceiveEx, 14);

    /* WskBind is at +16 in every bindable table: clients rely on that. */
    CHECK_EQ(offsetof(WSK_PROVIDER_LISTEN_DISPATCH, WskBind),
             offsetof(WSK_PROVIDER_CONNECTION_DISPATCH, WskBind));
    CHECK_EQ(offsetof(WSK_PROVIDER_DATAGRAM_DISPATCH, WskBind),
             offsetof(WSK_PROVIDER_STREAM_DISPATCH, WskBind));
}

/* ---- both spellings of the basic members (hazard H2) ---- */

static NTSTATUS WSKAPI stub_control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,
                                           ULONG ControlCode, ULONG Level, SIZE_T InputSize,
                                           PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                           SIZE_T *OutputSizeReturned, PIRP Irp)
{
    (void)Socket, (void)RequestType, (void)ControlCode, (void)Level, (void)InputSize;
    (void)InputBuffer, (void)OutputSize, (void)OutputBuffer, (void)OutputSizeReturned, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}

static int close_calls;

static NTSTATUS WSKAPI stub_close_socket(PWSK_SOCKET Socket, PIRP Irp)
{
    (void)Socket, (void)Irp;
    close_calls++;
    return STATUS_SUCCESS;
}

static void test_basic_member_aliases(void)
{
    CHECK_EQ(offsetof(WSK_PROVIDER_CONNECTION_DISPATCH, WskCloseSocket),
             offsetof(WSK_PROVIDER_CONNECTION_DISPATCH, Basic) +
                 offsetof(WSK_PROVIDER_BASIC_DISPATCH, WskCloseSocket));
    CHECK_EQ(offsetof(WSK_PROVIDER_CONNECTION_DISPATCH, WskControlSocket),
             offsetof(WSK_PROVIDER_CONNECTION_DISPATCH, Basic) +
                 offsetof(WSK_PROVIDER_BASIC_DISPATCH, WskControlSocket));
    CHECK_EQ(sizeof(((WSK_PROVIDER_CONNECTION_DISPATCH *)0)->Basic), sizeof(WSK_PROVIDER_BASIC_DISPATCH));

    /* Written through one name, read through the other. */
    WSK_PROVIDER_CONNECTION_DISPATCH conn;
    memset(&conn, 0, sizeof(conn));
    conn.WskCloseSocket = stub_close_socket;
    conn.Basic.WskControlSocket = stub_control_socket;
    CHECK(conn.Basic.WskCloseSocket == stub_close_socket);
    CHECK(conn.WskControlSocket == stub_control_socket);

    /* WDK-style positional initializers still fill the two basic slots. */
    static const WSK_PROVIDER_LISTEN_DISPATCH listen_table = {
        {{stub_control_socket, stub_close_socket}}, NULL, NULL, NULL, NULL};
    CHECK(listen_table.WskCloseSocket == stub_close_socket);
    CHECK(listen_table.Basic.WskControlSocket == stub_control_socket);
    static const WSK_PROVIDER_STREAM_DISPATCH stream_table = {.WskCloseSocket = stub_close_socket};
    CHECK(stream_table.Basic.WskCloseSocket == stub_close_socket);

    /* The way clients call through a socket's Dispatch pointer. */
    WSK_SOCKET socket = {&conn};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = (const WSK_PROVIDER_CONNECTION_DISPATCH *)socket.Dispatch;
    close_calls = 0;
    CHECK_EQ(d->WskCloseSocket(&socket, NULL), STATUS_SUCCESS);
    CHECK_EQ(d->Basic.WskCloseSocket(&socket, NULL), STATUS_SUCCESS);
    CHECK_EQ(((const WSK_PROVIDER_BASIC_DISPATCH *)socket.Dispatch)->WskCloseSocket(&socket, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(close_calls, 3);
}

/* ---- prototypes: functions with the documented parameter lists ---- */

static NTSTATUS WSKAPI f_client_event(PVOID ClientContext, ULONG EventType, PVOID Information,
                                      SIZE_T InformationLength)
{
    (void)ClientContext, (void)EventType, (void)Information, (void)InformationLength;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_receive_from_event(PVOID SocketContext, ULONG Flags,
                                            PWSK_DATAGRAM_INDICATION DataIndication)
{
    (void)SocketContext, (void)Flags, (void)DataIndication;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_accept_event(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                      PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                      PVOID *AcceptSocketContext,
                                      const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext, (void)Flags, (void)LocalAddress, (void)RemoteAddress, (void)AcceptSocket;
    *AcceptSocketContext = NULL;
    *AcceptSocketDispatch = NULL;
    return STATUS_SUCCESS;
}
static WSK_INSPECT_ACTION WSKAPI f_inspect_event(PVOID SocketContext, PSOCKADDR LocalAddress,
                                                 PSOCKADDR RemoteAddress, PWSK_INSPECT_ID InspectID)
{
    (void)SocketContext, (void)LocalAddress, (void)RemoteAddress, (void)InspectID;
    return WskInspectAccept;
}
static NTSTATUS WSKAPI f_abort_event(PVOID SocketContext, PWSK_INSPECT_ID InspectID)
{
    (void)SocketContext, (void)InspectID;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_send_backlog_event(PVOID SocketContext, SIZE_T IdealBacklogSize)
{
    (void)SocketContext, (void)IdealBacklogSize;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_receive_event(PVOID SocketContext, ULONG Flags,
                                       PWSK_DATA_INDICATION DataIndication, SIZE_T BytesIndicated,
                                       SIZE_T *BytesAccepted)
{
    (void)SocketContext, (void)Flags, (void)DataIndication, (void)BytesIndicated, (void)BytesAccepted;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_receive_ex_event(PVOID SocketContext, ULONG Flags,
                                          PWSK_DATA_INDICATION DataIndication, PCMSGHDR ControlInfo,
                                          ULONG ControlInfoLength, SIZE_T BytesIndicated,
                                          SIZE_T *BytesAccepted)
{
    (void)SocketContext, (void)Flags, (void)DataIndication, (void)ControlInfo;
    (void)ControlInfoLength, (void)BytesIndicated, (void)BytesAccepted;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_disconnect_event(PVOID SocketContext, ULONG Flags)
{
    (void)SocketContext, (void)Flags;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_socket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                                ULONG Protocol, ULONG Flags, PVOID SocketContext, const VOID *Dispatch,
                                PEPROCESS OwningProcess, PETHREAD OwningThread,
                                PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    (void)Client, (void)AddressFamily, (void)SocketType, (void)Protocol, (void)Flags;
    (void)SocketContext, (void)Dispatch, (void)OwningProcess, (void)OwningThread;
    (void)SecurityDescriptor, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_socket_connect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                        PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                        PVOID SocketContext,
                                        const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                        PEPROCESS OwningProcess, PETHREAD OwningThread,
                                        PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    (void)Client, (void)SocketType, (void)Protocol, (void)LocalAddress, (void)RemoteAddress;
    (void)Flags, (void)SocketContext, (void)Dispatch, (void)OwningProcess, (void)OwningThread;
    (void)SecurityDescriptor, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_control_client(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                                        PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                        SIZE_T *OutputSizeReturned, PIRP Irp)
{
    (void)Client, (void)ControlCode, (void)InputSize, (void)InputBuffer, (void)OutputSize;
    (void)OutputBuffer, (void)OutputSizeReturned, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                          PUNICODE_STRING ServiceName, ULONG NameSpace, GUID *Provider,
                                          PADDRINFOEXW Hints, PADDRINFOEXW *Result,
                                          PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp)
{
    (void)Client, (void)NodeName, (void)ServiceName, (void)NameSpace, (void)Provider, (void)Hints;
    (void)Result, (void)OwningProcess, (void)OwningThread, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static VOID WSKAPI f_free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo)
{
    (void)Client, (void)AddrInfo;
}
static NTSTATUS WSKAPI f_get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                       PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
                                       ULONG Flags, PEPROCESS OwningProcess, PETHREAD OwningThread,
                                       PIRP Irp)
{
    (void)Client, (void)SockAddr, (void)SockAddrLength, (void)NodeName, (void)ServiceName;
    (void)Flags, (void)OwningProcess, (void)OwningThread, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_bind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)
{
    (void)Socket, (void)LocalAddress, (void)Flags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
    (void)Socket, (void)RemoteAddress, (void)Flags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer,
                                    ULONG Flags, PIRP Irp)
{
    (void)Socket, (void)RemoteAddress, (void)Buffer, (void)Flags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                                const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
                                PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, PIRP Irp)
{
    (void)ListenSocket, (void)Flags, (void)AcceptSocketContext, (void)AcceptSocketDispatch;
    (void)LocalAddress, (void)RemoteAddress, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                          WSK_INSPECT_ACTION Action, PIRP Irp)
{
    (void)ListenSocket, (void)InspectID, (void)Action, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                 PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                                 PCMSGHDR ControlInfo, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)RemoteAddress, (void)ControlInfoLength;
    (void)ControlInfo, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                       PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                                       PCMSGHDR ControlInfo, PIRP Irp)
{
    (void)Socket, (void)BufferList, (void)Flags, (void)RemoteAddress, (void)ControlInfoLength;
    (void)ControlInfo, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                      PSOCKADDR RemoteAddress, PULONG ControlLength,
                                      PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)RemoteAddress, (void)ControlLength;
    (void)ControlInfo, (void)ControlFlags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_get_local_address(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp)
{
    (void)Socket, (void)LocalAddress, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_get_remote_address(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp)
{
    (void)Socket, (void)RemoteAddress, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_release_data(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)
{
    (void)Socket, (void)DataIndication;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_release_datagram(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication)
{
    (void)Socket, (void)DatagramIndication;
    return STATUS_SUCCESS;
}
static NTSTATUS WSKAPI f_send(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                 ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)ControlInfoLength, (void)ControlInfo, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_receive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                    PULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                    PULONG ControlFlags, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)ControlInfoLength, (void)ControlInfo;
    (void)ControlFlags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_disconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    (void)Socket, (void)Buffer, (void)Flags, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS WSKAPI f_listen(PWSK_SOCKET Socket, PIRP Irp)
{
    (void)Socket, (void)Irp;
    return STATUS_NOT_IMPLEMENTED;
}

static void test_prototypes(void)
{
    /* Each initializer is type-checked against the PFN_WSK_* member type. */
    static const WSK_CLIENT_DISPATCH client = {MAKE_WSK_VERSION(1, 0), 0, f_client_event};
    static const WSK_CLIENT_LISTEN_DISPATCH client_listen = {f_accept_event, f_inspect_event,
                                                             f_abort_event};
    static const WSK_CLIENT_DATAGRAM_DISPATCH client_datagram = {f_receive_from_event};
    static const WSK_CLIENT_CONNECTION_DISPATCH client_connection = {
        f_receive_event, f_disconnect_event, f_send_backlog_event};
    static const WSK_CLIENT_STREAM_DISPATCH client_stream = {&client_listen, &client_connection};
    PFN_WSK_RECEIVE_EX_EVENT receive_ex_event = f_receive_ex_event;

    static const WSK_PROVIDER_DISPATCH provider = {
        MAKE_WSK_VERSION(1, 0), 0,      f_socket,           f_socket_connect,
        f_control_client,       f_get_address_info, f_free_address_info, f_get_name_info};
    static const WSK_PROVIDER_BASIC_DISPATCH basic = {stub_control_socket, stub_close_socket};
    static const WSK_PROVIDER_LISTEN_DISPATCH listen_table = {
        .Basic = {stub_control_socket, stub_close_socket},
        .WskBind = f_bind,
        .WskAccept = f_accept,
        .WskInspectComplete = f_inspect_complete,
        .WskGetLocalAddress = f_get_local_address,
    };
    static const WSK_PROVIDER_DATAGRAM_DISPATCH datagram_table = {
        .WskControlSocket = stub_control_socket,
        .WskCloseSocket = stub_close_socket,
        .WskBind = f_bind,
        .WskSendTo = f_send_to,
        .WskReceiveFrom = f_receive_from,
        .WskRelease = f_release_datagram,
        .WskGetLocalAddress = f_get_local_address,
        .WskSendMessages = f_send_messages,
    };
    static const WSK_PROVIDER_CONNECTION_DISPATCH connection_table = {
        .WskControlSocket = stub_control_socket,
        .WskCloseSocket = stub_close_socket,
        .WskBind = f_bind,
        .WskConnect = f_connect,
        .WskGetLocalAddress = f_get_local_address,
        .WskGetRemoteAddress = f_get_remote_address,
        .WskSend = f_send,
        .WskReceive = f_receive,
        .WskDisconnect = f_disconnect,
        .WskRelease = f_release_data,
        .WskConnectEx = f_connect_ex,
        .WskSendEx = f_send_ex,
        .WskReceiveEx = f_receive_ex,
    };
    static const WSK_PROVIDER_STREAM_DISPATCH stream_table = {
        .WskControlSocket = stub_control_socket,
        .WskCloseSocket = stub_close_socket,
        .WskBind = f_bind,
        .WskAccept = f_accept,
        .WskConnect = f_connect,
        .WskListen = f_listen,
        .WskSend = f_send,
        .WskReceive = f_receive,
        .WskDisconnect = f_disconnect,
        .WskRelease = f_release_data,
        .WskGetLocalAddress = f_get_local_address,
        .WskGetRemoteAddress = f_get_remote_address,
        .WskConnectEx = f_connect_ex,
        .WskSendEx = f_send_ex,
        .WskReceiveEx = f_receive_ex,
    };
    WSK_CLIENT_NPI client_npi = {NULL, &client};
    WSK_PROVIDER_NPI provider_npi = {NULL, &provider};

    CHECK(client_npi.Dispatch->WskClientEvent == f_client_event);
    CHECK(provider_npi.Dispatch->WskGetNameInfo == f_get_name_info);
    CHECK(client_stream.Connect->WskDisconnectEvent == f_disconnect_event);
    CHECK(client_datagram.WskReceiveFromEvent == f_receive_from_event);
    CHECK(receive_ex_event == f_receive_ex_event);
    CHECK(basic.WskCloseSocket == stub_close_socket);
    CHECK(listen_table.WskCloseSocket == stub_close_socket);
    CHECK(datagram_table.Basic.WskControlSocket == stub_control_socket);
    CHECK(connection_table.WskReceiveEx == f_receive_ex);
    CHECK(stream_table.WskListen == f_listen);

    /*
     * The exported registration functions keep their documented types.
     * _Generic does not evaluate its operand, so nothing here needs the
     * library at link time.
     */
    CHECK(_Generic(&WskRegister, NTSTATUS(*)(PWSK_CLIENT_NPI, PWSK_REGISTRATION): 1, default: 0));
    CHECK(_Generic(&WskCaptureProviderNPI,
                   NTSTATUS(*)(PWSK_REGISTRATION, ULONG, PWSK_PROVIDER_NPI): 1, default: 0));
    CHECK(_Generic(&WskReleaseProviderNPI, VOID(*)(PWSK_REGISTRATION): 1, default: 0));
    CHECK(_Generic(&WskQueryProviderCharacteristics,
                   NTSTATUS(*)(PWSK_REGISTRATION, PWSK_PROVIDER_CHARACTERISTICS): 1, default: 0));
    CHECK(_Generic(&WskDeregister, VOID(*)(PWSK_REGISTRATION): 1, default: 0));
    CHECK(_Generic(&NPI_WSK_INTERFACE_ID, const NPIID *: 1, default: 0));
    CHECK(_Generic(&in6addr_any, const IN6_ADDR *: 1, default: 0));
}

/* ---- constants that differ from Linux ---- */

static void test_windows_abi_constants(void)
{
    CHECK_EQ(AF_UNSPEC, 0);
    CHECK_EQ(AF_INET, 2);
    CHECK_EQ(AF_INET6, 23);
    CHECK_EQ(SOCK_STREAM, 1);
    CHECK_EQ(SOCK_DGRAM, 2);
    CHECK_EQ(SOCK_RAW, 3);
    CHECK_EQ(IPPROTO_IP, 0);
    CHECK_EQ(IPPROTO_TCP, 6);
    CHECK_EQ(IPPROTO_UDP, 17);
    CHECK_EQ(IPPROTO_IPV6, 41);
    CHECK_EQ(IPPROTO_ICMPV6, 58);
    CHECK_EQ(IPPROTO_RAW, 255);

    CHECK_EQ(SOL_SOCKET, 0xffff);
    CHECK_EQ(SO_REUSEADDR, 4);
    CHECK_EQ((ULONG)SO_EXCLUSIVEADDRUSE, 0xfffffffbu);
    CHECK_EQ(SO_EXCLUSIVEADDRUSE, -5);
    CHECK_EQ(SO_KEEPALIVE, 8);
    CHECK_EQ(SO_BROADCAST, 0x20);
    CHECK_EQ(SO_LINGER, 0x80);
    CHECK_EQ((ULONG)SO_DONTLINGER, 0xffffff7fu);
    CHECK_EQ(SO_OOBINLINE, 0x100);
    CHECK_EQ(SO_SNDBUF, 0x1001);
    CHECK_EQ(SO_RCVBUF, 0x1002);
    CHECK_EQ(SO_SNDTIMEO, 0x1005);
    CHECK_EQ(SO_RCVTIMEO, 0x1006);
    CHECK_EQ(SO_ERROR, 0x1007);
    CHECK_EQ(SO_TYPE, 0x1008);
    CHECK_EQ(SO_ACCEPTCONN, 2);
    CHECK_EQ(SO_CONDITIONAL_ACCEPT, 0x3002);
    CHECK_EQ(SO_PORT_SCALABILITY, 0x3006);
    CHECK_EQ(SOMAXCONN, 0x7fffffff);

    CHECK_EQ(IP_OPTIONS, 1);
    CHECK_EQ(IP_HDRINCL, 2);
    CHECK_EQ(IP_TOS, 3);
    CHECK_EQ(IP_TTL, 4);
    CHECK_EQ(IP_MULTICAST_IF, 9);
    CHECK_EQ(IP_ADD_MEMBERSHIP, 12);
    CHECK_EQ(IP_DONTFRAGMENT, 14);
    CHECK_EQ(IP_PKTINFO, 19);
    CHECK_EQ(IP_HOPLIMIT, 21);
    CHECK_EQ(IP_RECVTTL, 21);
    CHECK_EQ(IP_RECEIVE_BROADCAST, 22);
    CHECK_EQ(IP_UNICAST_IF, 31);
    CHECK_EQ(IP_RECVTOS, 40);
    CHECK_EQ(IP_ECN, 50);
    CHECK_EQ(IP_RECVERR, 75);

    CHECK_EQ(IPV6_HOPOPTS, 1);
    CHECK_EQ(IPV6_UNICAST_HOPS, 4);
    CHECK_EQ(IPV6_MULTICAST_IF, 9);
    CHECK_EQ(IPV6_JOIN_GROUP, 12);
    CHECK_EQ(IPV6_LEAVE_GROUP, 13);
    CHECK_EQ(IPV6_DONTFRAG, 14);
    CHECK_EQ(IPV6_PKTINFO, 19);
    CHECK_EQ(IPV6_HOPLIMIT, 21);
    CHECK_EQ(IPV6_PROTECTION_LEVEL, 23);
    CHECK_EQ(IPV6_V6ONLY, 27);
    CHECK_EQ(IPV6_UNICAST_IF, 31);
    CHECK_EQ(IPV6_RTHDR, 32);
    CHECK_EQ(IPV6_TCLASS, 39);
    CHECK_EQ(IPV6_RECVTCLASS, 40);
    CHECK_EQ(IPV6_ECN, 50);
    CHECK_EQ(IPV6_RECVERR, 75);

    CHECK_EQ(TCP_NODELAY, 1);
    CHECK_EQ(TCP_KEEPALIVE, 3);
    CHECK_EQ(TCP_KEEPIDLE, 3);
    CHECK_EQ(TCP_MAXSEG, 4);
    CHECK_EQ(TCP_FASTOPEN, 15);
    CHECK_EQ(TCP_KEEPCNT, 16);
    CHECK_EQ(TCP_KEEPINTVL, 17);
    CHECK_EQ(TCP_ICMP_ERROR_INFO, 19);
    CHECK_EQ(UDP_NOCHECKSUM, 1);
    CHECK_EQ(UDP_SEND_MSG_SIZE, 2);
    CHECK_EQ(UDP_RECV_MAX_COALESCED_SIZE, 3);
    CHECK_EQ(UDP_CHECKSUM_COVERAGE, 20);

    CHECK_EQ(MSG_OOB, 1);
    CHECK_EQ(MSG_PEEK, 2);
    CHECK_EQ(MSG_WAITALL, 8);
    CHECK_EQ(MSG_TRUNC, 0x100);
    CHECK_EQ(MSG_CTRUNC, 0x200);
    CHECK_EQ(MSG_BCAST, 0x400);
    CHECK_EQ(MSG_MCAST, 0x800);

    CHECK_EQ(INADDR_ANY, 0);
    CHECK_EQ(INADDR_LOOPBACK, 0x7f000001);
    CHECK_EQ(INADDR_BROADCAST, 0xffffffffu);
    CHECK_EQ(AI_PASSIVE, 1);
    CHECK_EQ(AI_CANONNAME, 2);
    CHECK_EQ(AI_NUMERICHOST, 4);
    CHECK_EQ(AI_ADDRCONFIG, 0x400);
    CHECK_EQ(NS_ALL, 0);
    CHECK_EQ(NS_DNS, 12);
    CHECK_EQ(NI_NUMERICHOST, 2);
    CHECK_EQ(NI_NUMERICSERV, 8);
    CHECK_EQ(NI_MAXHOST, 1025);
    CHECK_EQ(NI_MAXSERV, 32);

    CHECK_EQ(IOC_WS2, 0x08000000);
    CHECK_EQ(IOC_VENDOR, 0x18000000);
    CHECK_EQ(IOC_WSK, 0x0f000000);
    CHECK_EQ(SIO_ADDRESS_LIST_QUERY, 0x48000016u);
    CHECK_EQ(SIO_ADDRESS_LIST_CHANGE, 0x28000017u);
    CHECK_EQ(SIO_ADDRESS_LIST_SORT, 0xc8000019u);
    CHECK_EQ(SIO_KEEPALIVE_VALS, 0x98000004u);
    CHECK_EQ(SIO_LOOPBACK_FAST_PATH, 0x98000010u);
    CHECK_EQ(SIO_TCP_SET_ACK_FREQUENCY, 0x98000017u);
    CHECK_EQ(SIO_UDP_CONNRESET, 0x9800000cu);
    CHECK_EQ(SIO_QUERY_RSS_SCALABILITY_INFO, 0x580000d2u);
    CHECK_EQ(SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0xd80000dcu);
    CHECK_EQ(FIONREAD, 0x4004667fu);
    CHECK_EQ(FIONBIO, 0x8004667eu);
    CHECK_EQ(SIO_IDEAL_SEND_BACKLOG_QUERY, 0x4004747bu);
}

static void test_wsk_constants(void)
{
    CHECK_EQ(MAKE_WSK_VERSION(1, 0), 0x100);
    CHECK_EQ(MAKE_WSK_VERSION(1, 1), 0x101);
    CHECK_EQ(WSK_MAJOR_VERSION(0x0102), 1);
    CHECK_EQ(WSK_MINOR_VERSION(0x0102), 2);

    CHECK_EQ(WSK_FLAG_BASIC_SOCKET, 0);
    CHECK_EQ(WSK_FLAG_LISTEN_SOCKET, 1);
    CHECK_EQ(WSK_FLAG_CONNECTION_SOCKET, 2);
    CHECK_EQ(WSK_FLAG_DATAGRAM_SOCKET, 4);
    CHECK_EQ(WSK_FLAG_STREAM_SOCKET, 8);
    CHECK_EQ(WSK_FLAG_AT_DISPATCH_LEVEL, 8);
    CHECK_EQ(WSK_FLAG_RELEASE_ASAP, 2);
    CHECK_EQ(WSK_FLAG_ENTIRE_MESSAGE, 4);
    CHECK_EQ(WSK_FLAG_ABORTIVE, 1);
    CHECK_EQ(WSK_FLAG_OOB, 1);
    CHECK_EQ(WSK_FLAG_NODELAY, 2);
    CHECK_EQ(WSK_FLAG_WAITALL, 2);
    CHECK_EQ(WSK_FLAG_DRAIN, 4);

    CHECK_EQ(WSK_EVENT_SEND_BACKLOG, 0x10);
    CHECK_EQ(WSK_EVENT_RECEIVE, 0x40);
    CHECK_EQ(WSK_EVENT_DISCONNECT, 0x80);
    CHECK_EQ(WSK_EVENT_RECEIVE_FROM, 0x100);
    CHECK_EQ(WSK_EVENT_ACCEPT, 0x200);
    CHECK_EQ(WSK_EVENT_DISABLE, 0x80000000u);

    CHECK_EQ(WSK_NO_WAIT, 0);
    CHECK_EQ(WSK_INFINITE_WAIT, 0xffffffffu);

    CHECK_EQ(WSK_TRANSPORT_LIST_QUERY, 2);
    CHECK_EQ(WSK_TRANSPORT_LIST_CHANGE, 3);
    CHECK_EQ(WSK_CACHE_SD, 4);
    CHECK_EQ(WSK_RELEASE_SD, 5);
    CHECK_EQ(WSK_TDI_DEVICENAME_MAPPING, 6);
    CHECK_EQ(WSK_SET_STATIC_EVENT_CALLBACKS, 7);
    CHECK_EQ(WSK_TDI_BEHAVIOR, 8);
    CHECK_EQ(WSK_TDI_BEHAVIOR_BYPASS_TDI, 1);

    CHECK_EQ(WSK_SO_BASE, 0x4000);
    CHECK_EQ(SO_WSK_SECURITY, 0x4001);
    CHECK_EQ(SO_WSK_EVENT_CALLBACK, 0x4002);

    CHECK_EQ(SIO_WSK_SET_REMOTE_ADDRESS, 0x8f000001u);
    CHECK_EQ(SIO_WSK_REGISTER_EXTENSION, 0xcf000002u);
    CHECK_EQ(SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0x4f000003u);
    CHECK_EQ(SIO_WSK_QUERY_RECEIVE_BACKLOG, 0x4f000004u);
    CHECK_EQ(SIO_WSK_QUERY_INSPECT_ID, 0x4f000005u);
    CHECK_EQ(SIO_WSK_SET_SENDTO_ADDRESS, 0x8f000006u);
    CHECK_EQ(SIO_WSK_SET_TCP_SILENT_MODE, 0x2f000007u);

    CHECK_EQ(WskSetOption, 0);
    CHECK_EQ(WskGetOption, 1);
    CHECK_EQ(WskIoctl, 2);
    CHECK_EQ(WskControlMax, 3);
    CHECK_EQ(WskInspectReject, 0);
    CHECK_EQ(WskInspectAccept, 1);
    CHECK_EQ(WskInspectPend, 2);
    CHECK_EQ(WskInspectMax, 3);
}

/* ---- initializer macros and address helpers ---- */

static void test_address_helpers(void)
{
    /* The echo sample's positional initializer. */
    SOCKADDR_IN6 any6 = {AF_INET6, 0x479c, 0, IN6ADDR_ANY_INIT, {0}};
    CHECK_EQ(any6.sin6_family, 23);
    CHECK_EQ(any6.sin6_port, 0x479c);
    CHECK(IN6_IS_ADDR_UNSPECIFIED(&any6.sin6_addr));
    CHECK(IN6ADDR_ISANY(&any6));

    IN6_ADDR loopback = IN6ADDR_LOOPBACK_INIT;
    static const UCHAR loopback_bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK_MEM(loopback.s6_addr, loopback_bytes, 16);
    CHECK(IN6_IS_ADDR_LOOPBACK(&loopback));
    CHECK(!IN6_IS_ADDR_UNSPECIFIED(&loopback));
    CHECK(!IN6_IS_ADDR_V4MAPPED(&loopback));

    IN_ADDR v4;
    v4.S_un.S_un_b.s_b1 = 192;
    v4.S_un.S_un_b.s_b2 = 0;
    v4.S_un.S_un_b.s_b3 = 2;
    v4.S_un.S_un_b.s_b4 = 7;
    IN6_ADDR mapped;
    IN6_SET_ADDR_V4MAPPED(&mapped, &v4);
    static const UCHAR mapped_bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    CHECK_MEM(mapped.s6_bytes, mapped_bytes, 16);
    CHECK(IN6_IS_ADDR_V4MAPPED(&mapped));
    CHECK_EQ(IN6_GET_ADDR_V4MAPPED(&mapped)->s_addr, v4.s_addr);
    CHECK_EQ(mapped.s6_words[5], 0xffff);

    IN_ADDR lo4 = IN4ADDR_LOOPBACK_INIT;
    CHECK(IN4_IS_ADDR_LOOPBACK(&lo4));
    CHECK_EQ(lo4.s_net, 127);
    CHECK_EQ(lo4.s_impno, 1);
    SOCKADDR_IN sin;
    IN4ADDR_SETLOOPBACK(&sin);
    CHECK_EQ(sin.sin_family, AF_INET);
    CHECK(INETADDR_ISLOOPBACK((PSOCKADDR)&sin));
    INETADDR_SET_PORT((PSOCKADDR)&sin, 0x5000);
    CHECK_EQ(INETADDR_PORT((PSOCKADDR)&sin), 0x5000);

    SOCKADDR_INET inet;
    memset(&inet, 0, sizeof(inet));
    inet.Ipv6.sin6_family = AF_INET6;
    CHECK_EQ(inet.si_family, AF_INET6);
    CHECK_EQ(SOCKADDR_SIZE(AF_INET6), 28);
    CHECK_EQ(SOCKADDR_SIZE(AF_INET), 16);
}

int main(void)
{
    WT_RUN(test_sockaddr_layouts);
    WT_RUN(test_ip_option_structs);
    WT_RUN(test_cmsg_layout);
    WT_RUN(test_addrinfo_layouts);
    WT_RUN(test_wsk_buffers);
    WT_RUN(test_wsk_misc_structs);
    WT_RUN(test_wsk_registration_structs);
    WT_RUN(test_client_dispatch_tables);
    WT_RUN(test_provider_socket_tables);
    WT_RUN(test_basic_member_aliases);
    WT_RUN(test_prototypes);
    WT_RUN(test_windows_abi_constants);
    WT_RUN(test_wsk_constants);
    WT_RUN(test_address_helpers);
    return wt_finish();
}
