/*
 * wsk_socket.c - socket objects: WskSocket, WskCloseSocket, WskBind,
 * WskGetLocalAddress/WskGetRemoteAddress, and the per-category dispatch
 * tables (wsk-part-a.md §3–§5, wsk-part-b.md §10).
 */
#include "wsk_internal.h"
#include "wsk_trace.h"

#include <errno.h>

#include "wsk_linux.h"

/* Linux's listen queue bound (net.core.somaxconn caps it); WSK has no backlog parameter. */
#define WSK_LISTEN_BACKLOG 4096

SIZE_T wsk_sockaddr_size(ADDRESS_FAMILY family)
{
    return family == AF_INET ? sizeof(SOCKADDR_IN) : family == AF_INET6 ? sizeof(SOCKADDR_IN6) : 0;
}

wsk_socket *wsk_socket_from(PWSK_SOCKET socket)
{
    wsk_socket *s = (wsk_socket *)socket;
    return (s != NULL && s->magic == WSK_SOCKET_MAGIC) ? s : NULL;
}

static inline wsk_socket *op_socket(PWSK_SOCKET Socket, ULONG categories, NTSTATUS *refusal)
{
    wsk_socket *s = wsk_socket_from(Socket);
    *refusal = s == NULL                                 ? STATUS_INVALID_HANDLE
               : !(categories & WSK_CAT(s->category))    ? STATUS_INVALID_DEVICE_REQUEST
               : s->closing                              ? STATUS_FILE_FORCED_CLOSED
                                                         : STATUS_SUCCESS;
    return *refusal == STATUS_SUCCESS ? s : NULL;
}

/* A tail call: the fast path saves no register for the verifier. */
static __attribute__((noinline, cold)) wsk_socket *op_socket_verified(PWSK_SOCKET Socket, ULONG categories,
                                                                      NTSTATUS *refusal)
{
    wsk_verify_op(Socket, categories, "a WSK call on the socket (its frame is the stack's second)");
    return op_socket(Socket, categories, refusal);
}

wsk_socket *wsk_op_socket(PWSK_SOCKET Socket, ULONG categories, NTSTATUS *refusal)
{
    if (openwsk_verifying(OPENWSK_VERIFY_WSK))
        return op_socket_verified(Socket, categories, refusal);
    return op_socket(Socket, categories, refusal);
}

/* ---- which family/type/protocol a category takes (wsk-part-a.md §3.2) ---- */

/* Is the triple a transport at all (the basic-socket list)? */
static BOOLEAN triple_is_transport(USHORT type, ULONG protocol)
{
    return (type == SOCK_STREAM && protocol == IPPROTO_TCP) || (type == SOCK_DGRAM && protocol == IPPROTO_UDP) ||
           (type == SOCK_RAW && protocol <= 255);
}

/* Can a socket of this category do its job over this transport?  Windows
 * creates a mismatched socket (a UDP listen socket) and refuses at bind. */
static BOOLEAN category_fits(wsk_category category, USHORT type, ULONG protocol)
{
    switch (category) {
    case WSK_CATEGORY_LISTEN:
    case WSK_CATEGORY_CONNECTION:
    case WSK_CATEGORY_STREAM:
        return type == SOCK_STREAM && protocol == IPPROTO_TCP;
    case WSK_CATEGORY_DATAGRAM:
        return (type == SOCK_DGRAM && protocol == IPPROTO_UDP) || type == SOCK_RAW;
    default:
        return TRUE;
    }
}

static NTSTATUS status_from_lx(int negative_errno)
{
    return wsk_status_from_errno(-negative_errno);
}

/* The lists of a new socket object. */
static void wsk_socket_init_lists(wsk_socket *s)
{
    InitializeListHead(&s->pending);
    InitializeListHead(&s->free_reqs);
    InitializeListHead(&s->decided);
    InitializeListHead(&s->recv_wait);
    InitializeListHead(&s->disconnect_wait);
    InitializeListHead(&s->rx_irps);
    InitializeListHead(&s->rx_data);
    InitializeListHead(&s->rx_spare);
    InitializeListHead(&s->rx_held);
    InitializeListHead(&s->acc_irps);
    InitializeListHead(&s->ready);
    InitializeListHead(&s->inspecting);
    InitializeListHead(&s->cond_link);
    InitializeListHead(&s->disable_irps);
}

/* With the pool's 16-byte header a socket stays within glibc's per-thread
 * cache (allocations up to 1032 bytes): WskSocket and every accepted
 * connection then cost no heap search.  Hence the posts apart. */
_Static_assert(sizeof(wsk_socket) + 16 <= 1032, "a socket should stay a small allocation");
_Static_assert(sizeof(wsk_socket_posts) + 16 <= 1032, "so should its post blocks");

BOOLEAN wsk_socket_posts_ensure_locked(wsk_socket *s)
{
    if (s->posts == NULL)
        s->posts = openwsk_pool_alloc(sizeof(*s->posts), WSK_TAG_SOCKET, TRUE);
    return s->posts != NULL;
}

BOOLEAN wsk_socket_posts_ensure(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    BOOLEAN ok = wsk_socket_posts_ensure_locked(s);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* The part of a new socket's set-up that WskSocket and an accepted
 * connection share, once its fields are filled: lists, static events (the
 * socket is counted against its client with them) and the post blocks
 * they need, then it is visible.  On failure it is uncounted again; the
 * caller frees s (and its fd). */
static NTSTATUS wsk_socket_start(wsk_client *c, wsk_socket *s, const char *trace_kind)
{
    pthread_mutex_init(&s->lock, NULL);
    wsk_socket_init_lists(s);
    wsk_dgram_init_socket(s);
    wsk_client_socket_opening(c, s);
    if (s->events != 0 && !wsk_socket_posts_ensure(s)) {
        wsk_client_socket_closed(c);
        pthread_mutex_destroy(&s->lock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (openwsk_verifying(OPENWSK_VERIFY_WSK))
        wsk_verify_socket_created(s);
    openwsk_trace_socket_created(&s->pub, trace_kind);
    return STATUS_SUCCESS;
}

static NTSTATUS wsk_socket_create(wsk_client *c, ADDRESS_FAMILY family, USHORT type, ULONG protocol, ULONG flags,
                           PVOID context, const VOID *dispatch, PSECURITY_DESCRIPTOR sd, wsk_socket **out)
{
    if (flags != WSK_FLAG_BASIC_SOCKET && flags != WSK_FLAG_LISTEN_SOCKET && flags != WSK_FLAG_CONNECTION_SOCKET &&
        flags != WSK_FLAG_DATAGRAM_SOCKET && flags != WSK_FLAG_STREAM_SOCKET)
        return STATUS_INVALID_PARAMETER;
    if (family != AF_INET && family != AF_INET6)
        return STATUS_NOT_SUPPORTED;
    if ((type == SOCK_STREAM || type == SOCK_DGRAM) && protocol == 0)
        return STATUS_PROTOCOL_UNREACHABLE;
    if (!triple_is_transport(type, protocol))
        return STATUS_NOT_SUPPORTED;
    if (flags == WSK_FLAG_BASIC_SOCKET && (dispatch != NULL || context != NULL))
        return STATUS_INVALID_PARAMETER;

    wsk_socket *s = openwsk_pool_alloc(sizeof(*s), WSK_TAG_SOCKET, TRUE);
    if (s == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    int fd = lx_socket(family, type, (int)protocol);
    if (fd < 0) {
        openwsk_pool_free(s);
        return status_from_lx(fd);
    }
    s->magic = WSK_SOCKET_MAGIC;
    s->client = c;
    s->category = (wsk_category)flags;
    s->pub.Dispatch = wsk_provider_table_for(s->category);
    s->family = family;
    s->type = type;
    s->protocol = protocol;
    s->context = context;
    s->client_dispatch = dispatch;
    s->fd = fd;
    s->v6only = family == AF_INET6; /* Windows sockets start v6-only */
    s->security = sd;
    NTSTATUS status = wsk_socket_start(c, s, wsk_trace_category_name(s->category));
    if (!NT_SUCCESS(status)) {
        lx_close(fd);
        openwsk_pool_free(s);
        return status;
    }
    *out = s;
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI wsk_socket_call(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                                       ULONG Protocol, ULONG Flags, PVOID SocketContext, const VOID *Dispatch,
                                       PEPROCESS OwningProcess, PETHREAD OwningThread,
                                       PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    (void)OwningProcess;
    (void)OwningThread;
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    wsk_client *c = wsk_client_from(Client);
    if (c == NULL)
        return STATUS_INVALID_HANDLE;
    wsk_client_call_begin(c);
    wsk_socket *s = NULL;
    NTSTATUS status = wsk_socket_create(c, AddressFamily, SocketType, Protocol, Flags, SocketContext, Dispatch,
                                        SecurityDescriptor, &s);
    NTSTATUS r = wsk_irp_complete_call(c, Irp, status, NT_SUCCESS(status) ? (ULONG_PTR)&s->pub : 0, "WskSocket");
    wsk_client_call_end(c);
    return r;
}

/* ---- accepted sockets ---- */

NTSTATUS wsk_socket_adopt(wsk_client *c, ADDRESS_FAMILY family, int fd, PVOID context, const VOID *dispatch,
                          wsk_socket **out)
{
    wsk_socket *s = openwsk_pool_alloc(sizeof(*s), WSK_TAG_SOCKET, TRUE);
    if (s == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    s->magic = WSK_SOCKET_MAGIC;
    s->client = c;
    s->category = WSK_CATEGORY_CONNECTION;
    s->pub.Dispatch = wsk_provider_table_for(s->category);
    s->family = family;
    s->type = SOCK_STREAM;
    s->protocol = IPPROTO_TCP;
    s->context = context;
    s->client_dispatch = dispatch;
    s->fd = fd;
    s->bound = TRUE;
    s->connected = TRUE;
    s->v6only = family == AF_INET6;
    NTSTATUS status = wsk_socket_start(c, s, "accepted");
    if (!NT_SUCCESS(status)) {
        openwsk_pool_free(s);
        return status; /* the caller resets and closes fd */
    }
    *out = s;
    return STATUS_SUCCESS;
}

/* ---- close ---- */

void wsk_socket_destroy(wsk_socket *s)
{
    wsk_client *c = s->client;
    PIRP close_irp = s->close_irp;
    uint64_t trace_id = openwsk_trace_socket_take(&s->pub); /* timeline: the socket's span */
    /* Close is abortive unless the client disconnected gracefully first
     * (PFN_WSK_CLOSE_SOCKET; docs/decisions.md): a completed WskDisconnect
     * has covered every byte sent, which Linux still delivers after close.
     * A connection already reset has nothing left to abort: Linux closed
     * it when the reset came (a setsockopt per connection saved). */
    if (s->connected && !s->send_shut && !s->reset_seen)
        lx_reset_on_close(s->fd);
    wsk_bind_registry_release(s);
    wsk_io_forget_fd(s->fd);
    lx_close(s->fd);
    wsk_req_free_all(s);
    wsk_rx_free(s);
    wsk_dgram_free(s);
    if (s->posts != NULL)
        openwsk_pool_free(s->posts);
    s->posts = NULL;
    s->magic = 0;
    pthread_mutex_destroy(&s->lock);
    /* The verifier keeps a closed socket a while to recognise later calls. */
    if (!openwsk_verifying(OPENWSK_VERIFY_WSK) || !wsk_verify_keep_closed(s))
        openwsk_pool_free(s);
    /* Complete before the client stops counting the socket, so that
     * WskDeregister returns only after the close routine ran. */
    openwsk_trace_socket_end(trace_id);
    /* Legal adversity may complete the close later, behind completions it
     * moved to another thread; it then releases the socket's count. */
    if (close_irp != NULL && wsk_close_may_be_moved() && wsk_irp_finish_close_adverse(c, close_irp))
        return;
    if (close_irp != NULL)
        wsk_irp_finish(close_irp, STATUS_SUCCESS, 0);
    wsk_client_socket_closed(c);
}

static NTSTATUS WSKAPI wsk_close_socket(PWSK_SOCKET Socket, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    wsk_socket *s = wsk_socket_from(Socket);
    if (openwsk_verifying(OPENWSK_VERIFY_WSK)) {
        if (s == NULL)
            wsk_verify_op(Socket, ~0u, "WskCloseSocket");
        else
            wsk_verify_close(s);
    }
    if (s == NULL || s->closing)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_HANDLE, 0);
    if (s->category == WSK_CATEGORY_LISTEN || s->category == WSK_CATEGORY_STREAM) {
        pthread_mutex_lock(&s->lock);
        s->closing = TRUE; /* nothing new starts from here on: no connection joins the unclaimed */
        pthread_mutex_unlock(&s->lock);
        wsk_accept_drop_unclaimed(s); /* only sockets that can listen hold unclaimed connections */
    } /* other sockets: wsk_req_begin_close sets closing first, under the lock */
    BOOLEAN deliver_cancelled = FALSE;
    if (!wsk_req_begin_close(s, Irp, &deliver_cancelled)) {
        /* The last pending request's delivery finishes the close; queued
         * requests the close cancelled complete right here. */
        if (deliver_cancelled)
            wsk_rx_kick_held(s);
        return STATUS_PENDING;
    }
    wsk_irp_begin_pending(Irp);
    s->close_irp = Irp;
    wsk_socket_destroy(s);
    return STATUS_PENDING;
}

/* ---- bind ---- */

static NTSTATUS bind_validate(wsk_socket *s, PSOCKADDR LocalAddress, ULONG Flags)
{
    if (Flags != 0 || LocalAddress == NULL)
        return STATUS_INVALID_PARAMETER;
    if (s->bound)
        return STATUS_ADDRESS_ALREADY_ASSOCIATED;
    if (!category_fits(s->category, s->type, s->protocol))
        return STATUS_NOT_IMPLEMENTED;
    if (LocalAddress->sa_family != s->family)
        return STATUS_INVALID_ADDRESS;
    return STATUS_SUCCESS;
}

static BOOLEAN address_is_wildcard_or_multicast(const SOCKADDR *a)
{
    if (a->sa_family == AF_INET) {
        const UCHAR *b = (const UCHAR *)&((const SOCKADDR_IN *)a)->sin_addr;
        return (b[0] | b[1] | b[2] | b[3]) == 0 || (b[0] & 0xF0) == 0xE0;
    }
    const UCHAR *b = ((const SOCKADDR_IN6 *)a)->sin6_addr.u.Byte;
    static const UCHAR zero[16];
    return __builtin_memcmp(b, zero, 16) == 0 || b[0] == 0xFF;
}

/* Whether a datagram socket bound to `a` can receive multicast or
 * broadcast datagrams.  Their destination address is what tells MSG_MCAST
 * and MSG_BCAST, so such sockets read Linux's packet info on every datagram
 * (the client's IP_PKTINFO only decides whether it sees the object too).
 * Linux gives a socket bound to a unicast address only datagrams sent to
 * that address: loopback and IPv6 (no broadcast there) addresses other
 * than multicast skip the cost. */
static BOOLEAN may_receive_broadcast(const SOCKADDR *a)
{
    if (address_is_wildcard_or_multicast(a))
        return TRUE;
    if (a->sa_family == AF_INET6)
        return FALSE;
    const UCHAR *b = (const UCHAR *)&((const SOCKADDR_IN *)a)->sin_addr;
    return b[0] != 127 || (b[1] == 255 && b[2] == 255 && b[3] == 255);
}

static NTSTATUS bind_socket(wsk_socket *s, PSOCKADDR LocalAddress)
{
    SOCKADDR_STORAGE addr;
    SIZE_T size = wsk_sockaddr_size(s->family);
    __builtin_memcpy(&addr, LocalAddress, size);

    /* An address that is not local fails Linux's bind with EADDRNOTAVAIL
     * (STATUS_INVALID_ADDRESS_COMPONENT); only when the sharing rules
     * refuse first is it probed, so that it still reports itself. */
    if (s->type == SOCK_RAW) { /* no ports, no sharing rules */
        int r = lx_bind(s->fd, &addr);
        return r == 0 ? STATUS_SUCCESS : status_from_lx(r);
    }
    if (s->category == WSK_CATEGORY_DATAGRAM && !s->pktinfo_on && may_receive_broadcast((SOCKADDR *)&addr)) {
        int r = lx_enable_packet_info(s->fd, s->family);
        if (r != 0)
            return status_from_lx(r);
        s->pktinfo_on = TRUE;
    }
    int backlog = s->category == WSK_CATEGORY_LISTEN ? WSK_LISTEN_BACKLOG : 0;
    NTSTATUS status = wsk_bind_registry_bind(s, (SOCKADDR *)&addr, backlog);
    if (!NT_SUCCESS(status) && status != STATUS_INVALID_ADDRESS_COMPONENT &&
        !address_is_wildcard_or_multicast((SOCKADDR *)&addr) && lx_address_is_local(&addr) == 0)
        return STATUS_INVALID_ADDRESS_COMPONENT;
    if (!NT_SUCCESS(status))
        return status;
    s->bound_specific = !address_is_wildcard_or_multicast((SOCKADDR *)&addr);
    __builtin_memcpy(&s->bound_address, &addr, sizeof(addr));
    return STATUS_SUCCESS;
}

void wsk_accepted_local_address(const wsk_socket *listener, int fd, SOCKADDR_STORAGE *out)
{
    __builtin_memset(out, 0, sizeof(*out));
    if (listener->bound_specific) {
        __builtin_memcpy(out, &listener->bound_address, sizeof(*out));
        return;
    }
    size_t len;
    lx_local_address(fd, out, &len);
}

static NTSTATUS WSKAPI wsk_bind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(Socket, WSK_CATS_BINDABLE, &refusal);
    if (s == NULL)
        return wsk_irp_complete_now(Irp, refusal, 0);
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = bind_validate(s, LocalAddress, Flags);
    if (NT_SUCCESS(status))
        status = bind_socket(s, LocalAddress);
    if (NT_SUCCESS(status) && s->category == WSK_CATEGORY_LISTEN)
        s->listening = TRUE; /* a listen socket listens as soon as it is bound */
    if (NT_SUCCESS(status))
        s->bound = TRUE;
    if (NT_SUCCESS(status) && s->category == WSK_CATEGORY_DATAGRAM)
        wsk_dgram_events_arm_locked(s); /* static WSK_EVENT_RECEIVE_FROM */
    pthread_mutex_unlock(&s->lock);
    if (NT_SUCCESS(status) && s->category == WSK_CATEGORY_LISTEN)
        wsk_accept_events_start(s); /* static WSK_EVENT_ACCEPT, conditional accept */
    return wsk_irp_complete_call(s->client, Irp, status, 0, "WskBind");
}

/* ---- addresses ---- */

static NTSTATUS address_query(PWSK_SOCKET Socket, PSOCKADDR Address, PIRP Irp, BOOLEAN remote)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(Socket, remote ? WSK_CATS_CONNECTED : WSK_CATS_BINDABLE, &refusal);
    if (s == NULL)
        return wsk_irp_complete_now(Irp, refusal, 0);
    if (Address == NULL)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    pthread_mutex_lock(&s->lock);
    BOOLEAN ready = remote ? s->connected : s->bound;
    NTSTATUS status = STATUS_INVALID_DEVICE_STATE;
    if (ready) {
        SOCKADDR_STORAGE addr;
        size_t len = 0;
        int r = remote ? lx_remote_address(s->fd, &addr, &len) : lx_local_address(s->fd, &addr, &len);
        status = r == 0 ? STATUS_SUCCESS : status_from_lx(r);
        if (r == 0)
            __builtin_memcpy(Address, &addr, len);
    }
    pthread_mutex_unlock(&s->lock);
    return wsk_irp_complete_call(s->client, Irp, status, 0, remote ? "WskGetRemoteAddress" : "WskGetLocalAddress");
}

static NTSTATUS WSKAPI wsk_get_local_address(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp)
{
    return address_query(Socket, LocalAddress, Irp, FALSE);
}

static NTSTATUS WSKAPI wsk_get_remote_address(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp)
{
    return address_query(Socket, RemoteAddress, Irp, TRUE);
}

/* ---- dispatch tables ---- */

/* Basic sockets have only the first two members; clients that cast any
 * socket's table to the connection table (wsk-part-a.md §3.4) would read
 * past a two-member table, so the basic table is a full connection-sized
 * table whose extra members refuse with STATUS_INVALID_DEVICE_REQUEST. */
static NTSTATUS WSKAPI basic_bind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)
{
    (void)Socket;
    (void)LocalAddress;
    (void)Flags;
    return Irp ? wsk_irp_complete_now(Irp, STATUS_INVALID_DEVICE_REQUEST, 0) : STATUS_INVALID_PARAMETER;
}

static NTSTATUS WSKAPI basic_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
    return basic_bind(Socket, RemoteAddress, Flags, Irp);
}

static NTSTATUS WSKAPI basic_address(PWSK_SOCKET Socket, PSOCKADDR Address, PIRP Irp)
{
    return basic_bind(Socket, Address, 0, Irp);
}

static NTSTATUS WSKAPI basic_data(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    (void)Buffer;
    return basic_bind(Socket, NULL, Flags, Irp);
}

static NTSTATUS WSKAPI basic_release(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)
{
    (void)Socket;
    (void)DataIndication;
    return STATUS_INVALID_PARAMETER; /* nothing was ever indicated on a basic socket */
}

static NTSTATUS WSKAPI basic_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer, ULONG Flags,
                                        PIRP Irp)
{
    (void)Buffer;
    return basic_bind(Socket, RemoteAddress, Flags, Irp);
}

static NTSTATUS WSKAPI basic_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, ULONG ControlInfoLength,
                                     PCMSGHDR ControlInfo, PIRP Irp)
{
    (void)ControlInfoLength;
    (void)ControlInfo;
    return basic_data(Socket, Buffer, Flags, Irp);
}

static NTSTATUS WSKAPI basic_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PULONG ControlInfoLength,
                                        PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    (void)ControlInfoLength;
    (void)ControlInfo;
    (void)ControlFlags;
    return basic_data(Socket, Buffer, Flags, Irp);
}

static const WSK_PROVIDER_CONNECTION_DISPATCH basic_dispatch = {
    .WskControlSocket = wsk_control_socket,
    .WskCloseSocket = wsk_close_socket,
    .WskBind = basic_bind,
    .WskConnect = basic_connect,
    .WskGetLocalAddress = basic_address,
    .WskGetRemoteAddress = basic_address,
    .WskSend = basic_data,
    .WskReceive = basic_data,
    .WskDisconnect = basic_data,
    .WskRelease = basic_release,
    .WskConnectEx = basic_connect_ex,
    .WskSendEx = basic_send_ex,
    .WskReceiveEx = basic_receive_ex,
};

static const WSK_PROVIDER_LISTEN_DISPATCH listen_dispatch = {
    .WskControlSocket = wsk_control_socket,
    .WskCloseSocket = wsk_close_socket,
    .WskBind = wsk_bind,
    .WskAccept = wsk_conn_accept,
    .WskInspectComplete = wsk_conn_inspect_complete,
    .WskGetLocalAddress = wsk_get_local_address,
};

static const WSK_PROVIDER_DATAGRAM_DISPATCH datagram_dispatch = {
    .WskControlSocket = wsk_control_socket,
    .WskCloseSocket = wsk_close_socket,
    .WskBind = wsk_bind,
    .WskSendTo = wsk_dgram_send_to,
    .WskReceiveFrom = wsk_dgram_receive_from,
    .WskRelease = wsk_dgram_release,
    .WskGetLocalAddress = wsk_get_local_address,
    .WskSendMessages = wsk_dgram_send_messages,
};

static const WSK_PROVIDER_CONNECTION_DISPATCH connection_dispatch = {
    .WskControlSocket = wsk_control_socket,
    .WskCloseSocket = wsk_close_socket,
    .WskBind = wsk_bind,
    .WskConnect = wsk_conn_connect,
    .WskGetLocalAddress = wsk_get_local_address,
    .WskGetRemoteAddress = wsk_get_remote_address,
    .WskSend = wsk_conn_send,
    .WskReceive = wsk_conn_receive,
    .WskDisconnect = wsk_conn_disconnect,
    .WskRelease = wsk_conn_release,
    .WskConnectEx = wsk_conn_connect_ex,
    .WskSendEx = wsk_conn_send_ex,
    .WskReceiveEx = wsk_conn_receive_ex,
};

static const WSK_PROVIDER_STREAM_DISPATCH stream_dispatch = {
    .WskControlSocket = wsk_control_socket,
    .WskCloseSocket = wsk_close_socket,
    .WskBind = wsk_bind,
    .WskAccept = wsk_conn_accept,
    .WskConnect = wsk_conn_connect,
    .WskListen = wsk_conn_listen,
    .WskSend = wsk_conn_send,
    .WskReceive = wsk_conn_receive,
    .WskDisconnect = wsk_conn_disconnect,
    .WskRelease = wsk_conn_release,
    .WskGetLocalAddress = wsk_get_local_address,
    .WskGetRemoteAddress = wsk_get_remote_address,
    .WskConnectEx = wsk_conn_connect_ex,
    .WskSendEx = wsk_conn_send_ex,
    .WskReceiveEx = wsk_conn_receive_ex,
};

const VOID *wsk_provider_table_plain(wsk_category category) /* traced or not: wsk_trace_dispatch.c */
{
    switch (category) {
    case WSK_CATEGORY_LISTEN: return &listen_dispatch;
    case WSK_CATEGORY_DATAGRAM: return &datagram_dispatch;
    case WSK_CATEGORY_CONNECTION: return &connection_dispatch;
    case WSK_CATEGORY_STREAM: return &stream_dispatch;
    default: return &basic_dispatch;
    }
}

/* ---- provider (client-level) dispatch ---- */

static NTSTATUS WSKAPI wsk_socket_connect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                          PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                          PVOID SocketContext, const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                          PEPROCESS OwningProcess, PETHREAD OwningThread,
                                          PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    (void)OwningProcess;
    (void)OwningThread;
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    wsk_client *c = wsk_client_from(Client);
    if (c == NULL)
        return STATUS_INVALID_HANDLE;
    if (LocalAddress == NULL || RemoteAddress == NULL || Flags != 0)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    if (RemoteAddress->sa_family != LocalAddress->sa_family)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_ADDRESS, 0);
    wsk_client_call_begin(c);
    /* Create, bind, connect: the family comes from the local address. */
    wsk_socket *s = NULL;
    NTSTATUS status = wsk_socket_create(c, LocalAddress->sa_family, SocketType, Protocol, WSK_FLAG_CONNECTION_SOCKET,
                                        SocketContext, Dispatch, SecurityDescriptor, &s);
    if (NT_SUCCESS(status) && !category_fits(s->category, s->type, s->protocol))
        status = STATUS_NOT_SUPPORTED;
    if (NT_SUCCESS(status)) {
        pthread_mutex_lock(&s->lock);
        status = bind_socket(s, LocalAddress);
        s->bound = NT_SUCCESS(status);
        pthread_mutex_unlock(&s->lock);
    }
    if (NT_SUCCESS(status))
        status = wsk_conn_socket_connect(s, RemoteAddress, Irp);
    NTSTATUS r = status;
    if (status != STATUS_PENDING) {
        /* A failed step leaves nothing behind: no socket, no port. */
        if (s != NULL) {
            s->closing = TRUE;
            wsk_socket_destroy(s);
        }
        r = wsk_irp_complete_call(c, Irp, status, 0, "WskSocketConnect");
    }
    wsk_client_call_end(c);
    return r;
}

const WSK_PROVIDER_DISPATCH wsk_provider_dispatch = {
    .Version = MAKE_WSK_VERSION(1, 0),
    .Reserved = 0,
    .WskSocket = wsk_socket_call,
    .WskSocketConnect = wsk_socket_connect,
    .WskControlClient = wsk_client_control,
    .WskGetAddressInfo = wsk_get_address_info,
    .WskFreeAddressInfo = wsk_free_address_info,
    .WskGetNameInfo = wsk_get_name_info,
};
