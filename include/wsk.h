/*
 * wsk.h - the Winsock Kernel (WSK) interface, mirroring the WDK's km/wsk.h
 * member for member so that unmodified WSK client sources compile against
 * it: registration (WskRegister & co.), the client and provider dispatch
 * tables, every PFN_WSK_* prototype, and the WSK flags, events, options and
 * ioctl codes.
 *
 * Layout follows the Windows x64 ABI (ULONG 32-bit, pointers and SIZE_T
 * 64-bit); tests/test_layout_wsk.c pins every size and offset.  WSKAPI is
 * NTAPI, i.e. the native calling convention, for all function pointers.
 *
 * Clients include <ntddk.h> (or <wdm.h>) first, as on Windows; this header
 * includes <wdm.h> itself too, for PIRP, PMDL, PEPROCESS, PETHREAD and
 * PSECURITY_DESCRIPTOR.
 */
#ifndef OPENWSK_WSK_H
#define OPENWSK_WSK_H

#include <ntdef.h>
#include <wdm.h>
#include <netioddk.h>
#include <ws2def.h>
#include <ws2ipdef.h>
#include <mstcpip.h>
#include <mswsockdef.h>

EXTERN_C_START

/* ---- objects ---- */

/*
 * A socket.  Dispatch points at the provider table of the socket's
 * category: WSK_PROVIDER_BASIC_DISPATCH, _LISTEN_, _DATAGRAM_,
 * _CONNECTION_ or _STREAM_DISPATCH.
 */
typedef struct _WSK_SOCKET {
    const VOID *Dispatch;
} WSK_SOCKET, *PWSK_SOCKET;

/* The client object is opaque; PWSK_CLIENT is a plain PVOID as on Windows. */
typedef VOID WSK_CLIENT;
typedef PVOID PWSK_CLIENT;

#define WSKAPI NTAPI

/* ---- versions ---- */

/* Version 1.0 is 0x0100: major in the high byte, minor in the low byte. */
#define MAKE_WSK_VERSION(Mj, Mn) ((USHORT)((Mj) << 8) | (USHORT)((Mn) & 0xff))
#define WSK_MAJOR_VERSION(V) ((UCHAR)((V) >> 8))
#define WSK_MINOR_VERSION(V) ((UCHAR)(V))

/* Range of interface versions the provider supports. */
typedef struct _WSK_PROVIDER_CHARACTERISTICS {
    USHORT HighestVersion;
    USHORT LowestVersion;
} WSK_PROVIDER_CHARACTERISTICS, *PWSK_PROVIDER_CHARACTERISTICS;

/* One (family, type, protocol) triple, as listed by WSK_TRANSPORT_LIST_QUERY. */
typedef struct _WSK_TRANSPORT {
    USHORT Version; /* transport specific */
    USHORT SocketType;
    ULONG Protocol;
    ADDRESS_FAMILY AddressFamily;
    GUID ProviderId;
} WSK_TRANSPORT, *PWSK_TRANSPORT;

/* ---- buffers and indications ---- */

/*
 * Data described by an MDL chain: it starts Offset bytes into the first
 * MDL (Offset must lie within that MDL) and runs for Length bytes across
 * the chain.
 */
typedef struct _WSK_BUF {
    PMDL Mdl;
    ULONG Offset;
    SIZE_T Length;
} WSK_BUF, *PWSK_BUF;

/* Received stream data handed to WskReceiveEvent, one element per buffer. */
typedef struct _WSK_DATA_INDICATION {
    struct _WSK_DATA_INDICATION *Next;
    WSK_BUF Buffer;
} WSK_DATA_INDICATION, *PWSK_DATA_INDICATION;

/* Received datagrams handed to WskReceiveFromEvent, one element each. */
typedef struct _WSK_DATAGRAM_INDICATION {
    struct _WSK_DATAGRAM_INDICATION *Next;
    WSK_BUF Buffer;
    PCMSGHDR ControlInfo; /* NULL when there is no control data */
    ULONG ControlInfoLength;
    PSOCKADDR RemoteAddress;
} WSK_DATAGRAM_INDICATION, *PWSK_DATAGRAM_INDICATION;

/* A list of datagrams for WskSendMessages (one element per datagram). */
typedef struct _WSK_BUF_LIST {
    struct _WSK_BUF_LIST *Next;
    WSK_BUF Buffer;
} WSK_BUF_LIST, *PWSK_BUF_LIST;

/* ---- conditional accept ---- */

/* Identifies a pending connection request by value, not by address. */
typedef struct _WSK_INSPECT_ID {
    ULONG_PTR Key;
    ULONG SerialNumber;
} WSK_INSPECT_ID, *PWSK_INSPECT_ID;

typedef enum {
    WskInspectReject,
    WskInspectAccept,
    WskInspectPend,
    WskInspectMax
} WSK_INSPECT_ACTION, *PWSK_INSPECT_ACTION;

/* ---- flags ---- */

/* WskSocket Flags: the socket category. */
#define WSK_FLAG_BASIC_SOCKET 0x00000000
#define WSK_FLAG_LISTEN_SOCKET 0x00000001
#define WSK_FLAG_CONNECTION_SOCKET 0x00000002
#define WSK_FLAG_DATAGRAM_SOCKET 0x00000004
#define WSK_FLAG_STREAM_SOCKET 0x00000008

/* Event callback Flags: the callback runs at DISPATCH_LEVEL. */
#define WSK_FLAG_AT_DISPATCH_LEVEL 0x00000008

/* WskReceiveEvent Flags: release retained buffers soon / message ends here. */
#define WSK_FLAG_RELEASE_ASAP 0x00000002
#define WSK_FLAG_ENTIRE_MESSAGE 0x00000004

/* WskDisconnect and WskDisconnectEvent Flags. */
#define WSK_FLAG_ABORTIVE 0x00000001

/* WskSend Flags. */
#define WSK_FLAG_OOB 0x00000001
#define WSK_FLAG_NODELAY 0x00000002

/* WskReceive Flags. */
#define WSK_FLAG_WAITALL 0x00000002
#define WSK_FLAG_DRAIN 0x00000004

/* ---- client level control (WskControlClient) ---- */
#define WSK_TRANSPORT_LIST_QUERY 2
#define WSK_TRANSPORT_LIST_CHANGE 3
#define WSK_CACHE_SD 4
#define WSK_RELEASE_SD 5
#define WSK_TDI_DEVICENAME_MAPPING 6
#define WSK_SET_STATIC_EVENT_CALLBACKS 7
#define WSK_TDI_BEHAVIOR 8

/* WSK_TDI_BEHAVIOR input flag */
#define WSK_TDI_BEHAVIOR_BYPASS_TDI 0x00000001

/* WSK_TDI_DEVICENAME_MAPPING input */
typedef struct _WSK_TDI_MAP {
    USHORT SocketType;
    ADDRESS_FAMILY AddressFamily;
    ULONG Protocol;
    PCWSTR TdiDeviceName;
} WSK_TDI_MAP, *PWSK_TDI_MAP;

typedef struct _WSK_TDI_MAP_INFO {
    const ULONG ElementCount;
    const WSK_TDI_MAP *Map;
} WSK_TDI_MAP_INFO, *PWSK_TDI_MAP_INFO;

/* ---- socket level options and ioctls ---- */

/* SOL_SOCKET options specific to WSK (the standard ones are in ws2def.h). */
#define SO_WSK_SECURITY (WSK_SO_BASE + 1)
#define SO_WSK_EVENT_CALLBACK (WSK_SO_BASE + 2)

/* EventMask bits for SO_WSK_EVENT_CALLBACK and WSK_SET_STATIC_EVENT_CALLBACKS. */
#define WSK_EVENT_RECEIVE_FROM 0x00000100 /* datagram sockets */
#define WSK_EVENT_ACCEPT 0x00000200       /* listening sockets */
#define WSK_EVENT_SEND_BACKLOG 0x00000010 /* connection (and listening) sockets */
#define WSK_EVENT_RECEIVE 0x00000040      /* connection (and listening) sockets */
#define WSK_EVENT_DISCONNECT 0x00000080   /* connection (and listening) sockets */
/* OR-ed with exactly one event bit to disable that event. */
#define WSK_EVENT_DISABLE 0x80000000

/* SO_WSK_EVENT_CALLBACK / WSK_SET_STATIC_EVENT_CALLBACKS input */
typedef struct _WSK_EVENT_CALLBACK_CONTROL {
    PNPIID NpiId; /* &NPI_WSK_INTERFACE_ID for the standard events */
    ULONG EventMask;
} WSK_EVENT_CALLBACK_CONTROL, *PWSK_EVENT_CALLBACK_CONTROL;

/* WskIoctl codes specific to WSK. */
#define SIO_WSK_SET_REMOTE_ADDRESS _WSAIOW(IOC_WSK, 0x1)
#define SIO_WSK_REGISTER_EXTENSION _WSAIORW(IOC_WSK, 0x2)
#define SIO_WSK_QUERY_IDEAL_SEND_BACKLOG _WSAIOR(IOC_WSK, 0x3)
#define SIO_WSK_QUERY_RECEIVE_BACKLOG _WSAIOR(IOC_WSK, 0x4)
#define SIO_WSK_QUERY_INSPECT_ID _WSAIOR(IOC_WSK, 0x5)
#define SIO_WSK_SET_SENDTO_ADDRESS _WSAIOW(IOC_WSK, 0x6)
#define SIO_WSK_SET_TCP_SILENT_MODE _WSAIO(IOC_WSK, 0x7)

/* SIO_WSK_REGISTER_EXTENSION input and output */
typedef struct _WSK_EXTENSION_CONTROL_IN {
    PNPIID NpiId;
    PVOID ClientContext;
    const VOID *ClientDispatch;
} WSK_EXTENSION_CONTROL_IN, *PWSK_EXTENSION_CONTROL_IN;

typedef struct _WSK_EXTENSION_CONTROL_OUT {
    PVOID ProviderContext;
    const VOID *ProviderDispatch;
} WSK_EXTENSION_CONTROL_OUT, *PWSK_EXTENSION_CONTROL_OUT;

/* WskControlSocket RequestType */
typedef enum {
    WskSetOption,
    WskGetOption,
    WskIoctl,
    WskControlMax
} WSK_CONTROL_SOCKET_TYPE, *PWSK_CONTROL_SOCKET_TYPE;

/* ---- client callbacks (called by the provider, any thread, IRQL <= DISPATCH) ---- */

/* Completed below; the accept event and WskAccept refer to it. */
typedef struct _WSK_CLIENT_CONNECTION_DISPATCH WSK_CLIENT_CONNECTION_DISPATCH,
    *PWSK_CLIENT_CONNECTION_DISPATCH;

/* Client-level event; no event types are defined (answer STATUS_NOT_IMPLEMENTED). */
typedef NTSTATUS(WSKAPI *PFN_WSK_CLIENT_EVENT)(
    PVOID ClientContext,
    ULONG EventType,
    PVOID Information,
    SIZE_T InformationLength);

/*
 * Datagram(s) arrived.  Flags: MSG_BCAST, MSG_MCAST,
 * WSK_FLAG_AT_DISPATCH_LEVEL.  A NULL list means the socket is dead.
 * Returns STATUS_SUCCESS, STATUS_PENDING (list retained until WskRelease)
 * or STATUS_DATA_NOT_ACCEPTED.
 */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_FROM_EVENT)(
    PVOID SocketContext,
    ULONG Flags,
    PWSK_DATAGRAM_INDICATION DataIndication);

/*
 * An incoming connection was established on a listening socket.  A NULL
 * AcceptSocket means the listener is dead.  The client stores the new
 * socket's context and callback table through the last two parameters and
 * returns STATUS_SUCCESS, or STATUS_REQUEST_NOT_ACCEPTED to refuse it.
 */
typedef NTSTATUS(WSKAPI *PFN_WSK_ACCEPT_EVENT)(
    PVOID SocketContext,
    ULONG Flags,
    PSOCKADDR LocalAddress,
    PSOCKADDR RemoteAddress,
    PWSK_SOCKET AcceptSocket,
    PVOID *AcceptSocketContext,
    const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch);

/* Conditional accept: a connection request arrived (NULL InspectID: listener dead). */
typedef WSK_INSPECT_ACTION(WSKAPI *PFN_WSK_INSPECT_EVENT)(
    PVOID SocketContext,
    PSOCKADDR LocalAddress,
    PSOCKADDR RemoteAddress,
    PWSK_INSPECT_ID InspectID);

/* Conditional accept: an inspected request was dropped.  Must return STATUS_SUCCESS. */
typedef NTSTATUS(WSKAPI *PFN_WSK_ABORT_EVENT)(
    PVOID SocketContext,
    PWSK_INSPECT_ID InspectID);

/* The ideal send backlog changed.  Must return STATUS_SUCCESS. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_BACKLOG_EVENT)(
    PVOID SocketContext,
    SIZE_T IdealBacklogSize);

/*
 * Stream data arrived.  Flags: WSK_FLAG_RELEASE_ASAP,
 * WSK_FLAG_ENTIRE_MESSAGE, WSK_FLAG_AT_DISPATCH_LEVEL.  A NULL list means
 * the socket is dead.  *BytesAccepted is read only with STATUS_SUCCESS
 * (left untouched = everything accepted).
 */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EVENT)(
    PVOID SocketContext,
    ULONG Flags,
    PWSK_DATA_INDICATION DataIndication,
    SIZE_T BytesIndicated,
    SIZE_T *BytesAccepted);

/* Like PFN_WSK_RECEIVE_EVENT, with the control data that came with the bytes. */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EX_EVENT)(
    PVOID SocketContext,
    ULONG Flags,
    PWSK_DATA_INDICATION DataIndication,
    PCMSGHDR ControlInfo,
    ULONG ControlInfoLength,
    SIZE_T BytesIndicated,
    SIZE_T *BytesAccepted);

/* The peer started a disconnect (WSK_FLAG_ABORTIVE set if abortive).  Must return STATUS_SUCCESS. */
typedef NTSTATUS(WSKAPI *PFN_WSK_DISCONNECT_EVENT)(
    PVOID SocketContext,
    ULONG Flags);

/* ---- provider functions, client level (WSK_PROVIDER_DISPATCH) ---- */

/* Creates a socket; on success Irp->IoStatus.Information is the PWSK_SOCKET. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET)(
    PWSK_CLIENT Client,
    ADDRESS_FAMILY AddressFamily,
    USHORT SocketType,
    ULONG Protocol,
    ULONG Flags,
    PVOID SocketContext,
    const VOID *Dispatch,
    PEPROCESS OwningProcess,
    PETHREAD OwningThread,
    PSECURITY_DESCRIPTOR SecurityDescriptor,
    PIRP Irp);

/* Creates, binds and connects a connection socket (Information = PWSK_SOCKET). */
typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET_CONNECT)(
    PWSK_CLIENT Client,
    USHORT SocketType,
    ULONG Protocol,
    PSOCKADDR LocalAddress,
    PSOCKADDR RemoteAddress,
    ULONG Flags, /* reserved, 0 */
    PVOID SocketContext,
    const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
    PEPROCESS OwningProcess,
    PETHREAD OwningThread,
    PSECURITY_DESCRIPTOR SecurityDescriptor,
    PIRP Irp);

/* Client-level control request (WSK_TRANSPORT_LIST_QUERY...). */
typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_CLIENT)(
    PWSK_CLIENT Client,
    ULONG ControlCode,
    SIZE_T InputSize,
    PVOID InputBuffer,
    SIZE_T OutputSize,
    PVOID OutputBuffer,
    SIZE_T *OutputSizeReturned,
    PIRP Irp);

/* Name to addresses (GetAddrInfoExW); free *Result with WskFreeAddressInfo. */
typedef NTSTATUS(WSKAPI *PFN_WSK_GET_ADDRESS_INFO)(
    PWSK_CLIENT Client,
    PUNICODE_STRING NodeName,
    PUNICODE_STRING ServiceName,
    ULONG NameSpace,
    GUID *Provider,
    PADDRINFOEXW Hints,
    PADDRINFOEXW *Result,
    PEPROCESS OwningProcess,
    PETHREAD OwningThread,
    PIRP Irp);

/* Address to names (GetNameInfoW) into caller-provided strings. */
typedef NTSTATUS(WSKAPI *PFN_WSK_GET_NAME_INFO)(
    PWSK_CLIENT Client,
    PSOCKADDR SockAddr,
    ULONG SockAddrLength,
    PUNICODE_STRING NodeName,
    PUNICODE_STRING ServiceName,
    ULONG Flags,
    PEPROCESS OwningProcess,
    PETHREAD OwningThread,
    PIRP Irp);

typedef VOID(WSKAPI *PFN_WSK_FREE_ADDRESS_INFO)(
    PWSK_CLIENT Client,
    PADDRINFOEXW AddrInfo);

/* ---- provider functions, socket level ---- */

typedef NTSTATUS(WSKAPI *PFN_WSK_BIND)(
    PWSK_SOCKET Socket,
    PSOCKADDR LocalAddress,
    ULONG Flags, /* reserved, 0 */
    PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONNECT)(
    PWSK_SOCKET Socket,
    PSOCKADDR RemoteAddress,
    ULONG Flags, /* reserved, 0 */
    PIRP Irp);

/* WskConnect plus optional data sent during or right after the handshake. */
typedef NTSTATUS(WSKAPI *PFN_WSK_CONNECT_EX)(
    PWSK_SOCKET Socket,
    PSOCKADDR RemoteAddress,
    PWSK_BUF Buffer,
    ULONG Flags, /* reserved, 0 */
    PIRP Irp);

/*
 * Option set/get or ioctl.  Level is SOL_SOCKET or a protocol number and is
 * ignored for WskIoctl.  OutputSizeReturned serves calls without an IRP;
 * with an IRP the size is in IoStatus.Information.
 */
typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_SOCKET)(
    PWSK_SOCKET Socket,
    WSK_CONTROL_SOCKET_TYPE RequestType,
    ULONG ControlCode,
    ULONG Level,
    SIZE_T InputSize,
    PVOID InputBuffer,
    SIZE_T OutputSize,
    PVOID OutputBuffer,
    SIZE_T *OutputSizeReturned,
    PIRP Irp);

/* Cancels the socket's pending IRPs and frees it.  Irp is required. */
typedef NTSTATUS(WSKAPI *PFN_WSK_CLOSE_SOCKET)(
    PWSK_SOCKET Socket,
    PIRP Irp);

/* Takes (or waits for) a connection; Information = the accepted PWSK_SOCKET. */
typedef NTSTATUS(WSKAPI *PFN_WSK_ACCEPT)(
    PWSK_SOCKET ListenSocket,
    ULONG Flags, /* reserved, 0 */
    PVOID AcceptSocketContext,
    const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
    PSOCKADDR LocalAddress,
    PSOCKADDR RemoteAddress,
    PIRP Irp);

/* Decides a request pended by WskInspectEvent (WskInspectAccept or WskInspectReject). */
typedef NTSTATUS(WSKAPI *PFN_WSK_INSPECT_COMPLETE)(
    PWSK_SOCKET ListenSocket,
    PWSK_INSPECT_ID InspectID,
    WSK_INSPECT_ACTION Action,
    PIRP Irp);

/* One datagram; RemoteAddress may be NULL when a fixed destination is set. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_TO)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags, /* reserved, 0 */
    PSOCKADDR RemoteAddress,
    ULONG ControlInfoLength,
    PCMSGHDR ControlInfo,
    PIRP Irp);

/* One datagram per list element, all to the same destination. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_MESSAGES)(
    PWSK_SOCKET Socket,
    PWSK_BUF_LIST BufferList,
    ULONG Flags, /* reserved, 0 */
    PSOCKADDR RemoteAddress,
    ULONG ControlInfoLength,
    PCMSGHDR ControlInfo,
    PIRP Irp);

/*
 * Receives one datagram.  *ControlLength is the ControlInfo size on input
 * and the control data size on output; a NULL ControlLength makes the
 * provider ignore ControlInfo and ControlFlags (MSG_BCAST, MSG_MCAST,
 * MSG_TRUNC, MSG_CTRUNC).
 */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_FROM)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags, /* reserved, 0 */
    PSOCKADDR RemoteAddress,
    PULONG ControlLength,
    PCMSGHDR ControlInfo,
    PULONG ControlFlags,
    PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_LOCAL_ADDRESS)(
    PWSK_SOCKET Socket,
    PSOCKADDR LocalAddress,
    PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_REMOTE_ADDRESS)(
    PWSK_SOCKET Socket,
    PSOCKADDR RemoteAddress,
    PIRP Irp);

/* Gives back an indication list the client retained with STATUS_PENDING. */
typedef NTSTATUS(WSKAPI *PFN_WSK_RELEASE_DATA_INDICATION_LIST)(
    PWSK_SOCKET Socket,
    PWSK_DATA_INDICATION DataIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST)(
    PWSK_SOCKET Socket,
    PWSK_DATAGRAM_INDICATION DatagramIndication);

/* Completes only once all of Buffer is sent (Information = Buffer->Length). */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags, /* WSK_FLAG_NODELAY */
    PIRP Irp);

/* WskSend with control data. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_EX)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags,
    ULONG ControlInfoLength,
    PCMSGHDR ControlInfo,
    PIRP Irp);

/* Completes with what is available (or, WSK_FLAG_WAITALL, a full buffer); 0 bytes = FIN. */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags, /* WSK_FLAG_WAITALL or WSK_FLAG_DRAIN */
    PIRP Irp);

/* WskReceive with control data; ControlFlags is reserved (NULL). */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EX)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags,
    PULONG ControlInfoLength,
    PCMSGHDR ControlInfo,
    PULONG ControlFlags,
    PIRP Irp);

/* Graceful (with optional final data) or WSK_FLAG_ABORTIVE disconnect. */
typedef NTSTATUS(WSKAPI *PFN_WSK_DISCONNECT)(
    PWSK_SOCKET Socket,
    PWSK_BUF Buffer,
    ULONG Flags,
    PIRP Irp);

/* Stream sockets: start listening on the bound address. */
typedef NTSTATUS(WSKAPI *PFN_WSK_LISTEN)(
    PWSK_SOCKET Socket,
    PIRP Irp);

/* ---- client dispatch tables ---- */

typedef struct _WSK_CLIENT_DISPATCH {
    USHORT Version; /* MAKE_WSK_VERSION(major, minor) */
    USHORT Reserved;
    PFN_WSK_CLIENT_EVENT WskClientEvent;
} WSK_CLIENT_DISPATCH, *PWSK_CLIENT_DISPATCH;

typedef struct _WSK_CLIENT_LISTEN_DISPATCH {
    PFN_WSK_ACCEPT_EVENT WskAcceptEvent;
    PFN_WSK_INSPECT_EVENT WskInspectEvent;
    PFN_WSK_ABORT_EVENT WskAbortEvent;
} WSK_CLIENT_LISTEN_DISPATCH, *PWSK_CLIENT_LISTEN_DISPATCH;

typedef struct _WSK_CLIENT_DATAGRAM_DISPATCH {
    PFN_WSK_RECEIVE_FROM_EVENT WskReceiveFromEvent;
} WSK_CLIENT_DATAGRAM_DISPATCH, *PWSK_CLIENT_DATAGRAM_DISPATCH;

struct _WSK_CLIENT_CONNECTION_DISPATCH {
    PFN_WSK_RECEIVE_EVENT WskReceiveEvent;
    PFN_WSK_DISCONNECT_EVENT WskDisconnectEvent;
    PFN_WSK_SEND_BACKLOG_EVENT WskSendBacklogEvent;
};

/* Stream sockets point at a listen table and a connection table. */
typedef struct _WSK_CLIENT_STREAM_DISPATCH {
    const WSK_CLIENT_LISTEN_DISPATCH *Listen;
    const WSK_CLIENT_CONNECTION_DISPATCH *Connect;
} WSK_CLIENT_STREAM_DISPATCH, *PWSK_CLIENT_STREAM_DISPATCH;

/* ---- provider dispatch tables (member order is ABI) ---- */

typedef struct _WSK_PROVIDER_DISPATCH {
    USHORT Version;
    USHORT Reserved;
    PFN_WSK_SOCKET WskSocket;
    PFN_WSK_SOCKET_CONNECT WskSocketConnect;
    PFN_WSK_CONTROL_CLIENT WskControlClient;
    PFN_WSK_GET_ADDRESS_INFO WskGetAddressInfo;
    PFN_WSK_FREE_ADDRESS_INFO WskFreeAddressInfo;
    PFN_WSK_GET_NAME_INFO WskGetNameInfo;
} WSK_PROVIDER_DISPATCH, *PWSK_PROVIDER_DISPATCH;

/* The two functions every socket category supports. */
typedef struct _WSK_PROVIDER_BASIC_DISPATCH {
    PFN_WSK_CONTROL_SOCKET WskControlSocket;
    PFN_WSK_CLOSE_SOCKET WskCloseSocket;
} WSK_PROVIDER_BASIC_DISPATCH, *PWSK_PROVIDER_BASIC_DISPATCH;

/*
 * Every other table begins with the basic one.  The WDK embeds it as an
 * unnamed member in C (d->WskCloseSocket) and as a member named Basic in
 * C++ (d->Basic.WskCloseSocket); client code in the wild uses both
 * spellings in both languages (hazard H2).  An anonymous union over the
 * named struct and an anonymous struct of the same two pointers offers
 * both, in plain C11 and in GNU C++, with the same layout.
 */
#define OPENWSK_BASIC_DISPATCH_HEAD                  \
    union {                                          \
        WSK_PROVIDER_BASIC_DISPATCH Basic;           \
        struct {                                     \
            PFN_WSK_CONTROL_SOCKET WskControlSocket; \
            PFN_WSK_CLOSE_SOCKET WskCloseSocket;     \
        };                                           \
    }

typedef struct _WSK_PROVIDER_LISTEN_DISPATCH {
    OPENWSK_BASIC_DISPATCH_HEAD;
    PFN_WSK_BIND WskBind;
    PFN_WSK_ACCEPT WskAccept;
    PFN_WSK_INSPECT_COMPLETE WskInspectComplete;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
} WSK_PROVIDER_LISTEN_DISPATCH, *PWSK_PROVIDER_LISTEN_DISPATCH;

typedef struct _WSK_PROVIDER_DATAGRAM_DISPATCH {
    OPENWSK_BASIC_DISPATCH_HEAD;
    PFN_WSK_BIND WskBind;
    PFN_WSK_SEND_TO WskSendTo;
    PFN_WSK_RECEIVE_FROM WskReceiveFrom;
    PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST WskRelease;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
    PFN_WSK_SEND_MESSAGES WskSendMessages;
} WSK_PROVIDER_DATAGRAM_DISPATCH, *PWSK_PROVIDER_DATAGRAM_DISPATCH;

/* Note: address getters right after WskConnect (the stream table differs). */
typedef struct _WSK_PROVIDER_CONNECTION_DISPATCH {
    OPENWSK_BASIC_DISPATCH_HEAD;
    PFN_WSK_BIND WskBind;
    PFN_WSK_CONNECT WskConnect;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
    PFN_WSK_GET_REMOTE_ADDRESS WskGetRemoteAddress;
    PFN_WSK_SEND WskSend;
    PFN_WSK_RECEIVE WskReceive;
    PFN_WSK_DISCONNECT WskDisconnect;
    PFN_WSK_RELEASE_DATA_INDICATION_LIST WskRelease;
    PFN_WSK_CONNECT_EX WskConnectEx;
    PFN_WSK_SEND_EX WskSendEx;
    PFN_WSK_RECEIVE_EX WskReceiveEx;
} WSK_PROVIDER_CONNECTION_DISPATCH, *PWSK_PROVIDER_CONNECTION_DISPATCH;

/* Note: WskAccept before WskConnect, address getters after WskRelease. */
typedef struct _WSK_PROVIDER_STREAM_DISPATCH {
    OPENWSK_BASIC_DISPATCH_HEAD;
    PFN_WSK_BIND WskBind;
    PFN_WSK_ACCEPT WskAccept;
    PFN_WSK_CONNECT WskConnect;
    PFN_WSK_LISTEN WskListen;
    PFN_WSK_SEND WskSend;
    PFN_WSK_RECEIVE WskReceive;
    PFN_WSK_DISCONNECT WskDisconnect;
    PFN_WSK_RELEASE_DATA_INDICATION_LIST WskRelease;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
    PFN_WSK_GET_REMOTE_ADDRESS WskGetRemoteAddress;
    PFN_WSK_CONNECT_EX WskConnectEx;
    PFN_WSK_SEND_EX WskSendEx;
    PFN_WSK_RECEIVE_EX WskReceiveEx;
} WSK_PROVIDER_STREAM_DISPATCH, *PWSK_PROVIDER_STREAM_DISPATCH;

#undef OPENWSK_BASIC_DISPATCH_HEAD

/* ---- registration ---- */

typedef struct _WSK_CLIENT_NPI {
    PVOID ClientContext;
    const WSK_CLIENT_DISPATCH *Dispatch;
} WSK_CLIENT_NPI, *PWSK_CLIENT_NPI;

typedef struct _WSK_PROVIDER_NPI {
    PWSK_CLIENT Client;
    const WSK_PROVIDER_DISPATCH *Dispatch;
} WSK_PROVIDER_NPI, *PWSK_PROVIDER_NPI;

/*
 * Owned by the client, filled in by WskRegister; the provider keeps its
 * state in it and the client must not touch the fields.
 */
typedef struct _WSK_REGISTRATION {
    ULONGLONG ReservedRegistrationState;
    PVOID ReservedRegistrationContext;
    KSPIN_LOCK ReservedRegistrationLock;
} WSK_REGISTRATION, *PWSK_REGISTRATION;

/* WskCaptureProviderNPI WaitTimeout values (otherwise milliseconds). */
#define WSK_NO_WAIT 0
#define WSK_INFINITE_WAIT 0xffffffff

/* PASSIVE_LEVEL.  One WskDeregister per successful call, same block. */
OPENWSK_API NTSTATUS WSKAPI WskRegister(
    PWSK_CLIENT_NPI WskClientNpi,
    PWSK_REGISTRATION WskRegistration);

/*
 * Waits up to WaitTimeout ms for the provider.  STATUS_DEVICE_NOT_READY if
 * it is not available (or WskDeregister was called), STATUS_NOINTERFACE if
 * the client's version is not supported.  One WskReleaseProviderNPI per
 * success.
 */
OPENWSK_API NTSTATUS WSKAPI WskCaptureProviderNPI(
    PWSK_REGISTRATION WskRegistration,
    ULONG WaitTimeout,
    PWSK_PROVIDER_NPI WskProviderNpi);

OPENWSK_API VOID WSKAPI WskReleaseProviderNPI(
    PWSK_REGISTRATION WskRegistration);

OPENWSK_API NTSTATUS WSKAPI WskQueryProviderCharacteristics(
    PWSK_REGISTRATION WskRegistration,
    PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics);

/* Blocks until every captured NPI is released and every socket is closed. */
OPENWSK_API VOID WSKAPI WskDeregister(
    PWSK_REGISTRATION WskRegistration);

EXTERN_C_END

#endif /* OPENWSK_WSK_H */
