/*
 * test_wsk_driver_options.c - the options and control data real drivers
 * set (wsk-clients.md: WireGuard-NT, MsQuic, and the storage clients),
 * each checked against what a Linux peer sees: the empty trailing control
 * object WireGuard appends to its sends, ECN per send and on receive,
 * IP_UNICAST_IF, the address options SO_REUSE_UNICASTPORT and
 * SO_PORT_SCALABILITY, SIO_KEEPALIVE_VALS, and the RSS query.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <ws2ipdef.h>
#include <mstcpip.h>

#include "linux_peer.h"
#include "wsk/wsk_internal.h"
#include "wt_wsk.h"

/* Test hook: the Linux socket behind a WSK socket. */
static int lx_fd(PWSK_SOCKET s)
{
    return ((wsk_socket *)s)->fd;
}

/* Control data built object by object, in Windows' layout. */
typedef struct control_buf {
    _Alignas(8) UCHAR bytes[256];
    ULONG length;
} control_buf;

static void control_add(control_buf *c, INT level, INT type, const void *data, SIZE_T size)
{
    WSACMSGHDR *h = (WSACMSGHDR *)(c->bytes + c->length);
    h->cmsg_len = WSA_CMSG_LEN(size);
    h->cmsg_level = level;
    h->cmsg_type = type;
    if (size > 0)
        memcpy(WSA_CMSG_DATA(h), data, size);
    c->length += (ULONG)WSA_CMSG_SPACE(size);
}

static void control_add_int(control_buf *c, INT level, INT type, INT value)
{
    control_add(c, level, type, &value, sizeof(value));
}

static SOCKADDR_STORAGE address_of(ADDRESS_FAMILY family, const char *ip, USHORT port)
{
    SOCKADDR_STORAGE a;
    memset(&a, 0, sizeof(a));
    if (family == AF_INET)
        *(SOCKADDR_IN *)&a = wt_in4(ip, port);
    else
        *(SOCKADDR_IN6 *)&a = wt_in6(ip, port);
    return a;
}

/* WskSendTo of `text` with the control data; returns the IRP's status. */
static NTSTATUS send_to(wt_wsk *t, PWSK_SOCKET s, const SOCKADDR_STORAGE *to, const char *text,
                        const control_buf *c)
{
    SIZE_T len = strlen(text);
    PMDL m = IoAllocateMdl((PVOID)text, (ULONG)len, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, len};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendTo(s, &b, 0, (PSOCKADDR)to, c != NULL ? c->length : 0,
                              c != NULL ? (PCMSGHDR)c->bytes : NULL, wt_irp_arm(&t->irp));
    r = wt_irp_result(&t->irp, r);
    if (NT_SUCCESS(r))
        CHECK_EQ(t->irp.irp->IoStatus.Information, len);
    IoFreeMdl(m);
    return r;
}

/* WskSendMessages of two datagrams with the same control data. */
static NTSTATUS send_two(wt_wsk *t, PWSK_SOCKET s, const SOCKADDR_STORAGE *to, const char *one, const char *two,
                         const control_buf *c)
{
    PMDL m1 = IoAllocateMdl((PVOID)one, (ULONG)strlen(one), FALSE, FALSE, NULL);
    PMDL m2 = IoAllocateMdl((PVOID)two, (ULONG)strlen(two), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m1);
    MmBuildMdlForNonPagedPool(m2);
    WSK_BUF_LIST second = {NULL, {m2, 0, strlen(two)}};
    WSK_BUF_LIST first = {&second, {m1, 0, strlen(one)}};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendMessages(s, &first, 0, (PSOCKADDR)to, c->length, (PCMSGHDR)c->bytes, wt_irp_arm(&t->irp));
    r = wt_irp_result(&t->irp, r);
    IoFreeMdl(m1);
    IoFreeMdl(m2);
    return r;
}

static NTSTATUS set_ulong(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG code, ULONG value)
{
    return wt_set_ulong(t, s, level, code, value);
}

static NTSTATUS get_ulong(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG code, ULONG *value)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    *value = 0xDEADBEEF;
    NTSTATUS r = d->WskControlSocket(s, WskGetOption, code, level, 0, NULL, sizeof(*value), value, NULL,
                                     wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

/* The INT in the object (level, type) of Windows control data; -1 if
 * absent.  The object must have exactly an INT's length. */
static int control_int(const UCHAR *control, ULONG length, INT level, INT type)
{
    ULONG at = 0;
    while (at + sizeof(WSACMSGHDR) <= length) {
        const WSACMSGHDR *c = (const WSACMSGHDR *)(control + at);
        if (c->cmsg_level == level && c->cmsg_type == type) {
            CHECK_EQ(c->cmsg_len, WSA_CMSG_LEN(sizeof(INT)));
            INT v;
            memcpy(&v, WSA_CMSG_DATA(c), sizeof(v));
            return v;
        }
        at += (ULONG)WSA_CMSGHDR_ALIGN(c->cmsg_len);
    }
    return -1;
}

typedef struct received {
    NTSTATUS status;
    ULONG_PTR length;
    char data[512];
    SOCKADDR_STORAGE from;
    _Alignas(8) UCHAR control[256];
    ULONG control_length;
    ULONG flags;
} received;

/* One WskReceiveFrom with a control buffer (cancelled after timeout_ms). */
static void receive_one(PWSK_SOCKET s, received *out, int timeout_ms)
{
    memset(out, 0, sizeof(*out));
    PMDL m = IoAllocateMdl(out->data, sizeof(out->data), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(out->data)};
    out->control_length = sizeof(out->control);
    wt_irp w = {0};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskReceiveFrom(s, &b, 0, (PSOCKADDR)&out->from, &out->control_length, (PCMSGHDR)out->control,
                                   &out->flags, wt_irp_arm(&w));
    if (r == STATUS_PENDING) {
        LARGE_INTEGER t = {.QuadPart = -(LONGLONG)timeout_ms * 10000};
        if (KeWaitForSingleObject(&w.done, Executive, KernelMode, FALSE, &t) == STATUS_TIMEOUT)
            IoCancelIrp(w.irp);
    }
    out->status = wt_irp_result(&w, r);
    out->length = w.irp->IoStatus.Information;
    wt_irp_free(&w);
    IoFreeMdl(m);
}

/* ---- 1. the empty trailing control object ---- */

/* WireGuard-NT ends the control data of every WskSendMessages / WskSendTo
 * with an IP_OPTIONS (IPv4) or IPV6_RTHDR (IPv6) object of no payload,
 * after its IP_PKTINFO / IPV6_PKTINFO: the sends succeed, the datagrams
 * reach the peer from the source the packet info chose, and an empty
 * object alone is accepted too. */
static void empty_trailing_object(ADDRESS_FAMILY family)
{
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    int pf = family == AF_INET ? 4 : 6;
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, family, family == AF_INET ? "0.0.0.0" : "::", &port);
    int peer = peer_udp_bind(pf, ip, 0);
    SOCKADDR_STORAGE to = address_of(family, ip, peer_local_port(peer));
    control_buf c = {0};
    if (family == AF_INET) {
        IN_PKTINFO pi = {0};
        pi.ipi_addr = wt_in4("127.0.0.1", 0).sin_addr;
        control_add(&c, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
        control_add(&c, IPPROTO_IP, IP_OPTIONS, NULL, 0);
    } else {
        IN6_PKTINFO pi = {0};
        pi.ipi6_addr = wt_in6("::1", 0).sin6_addr;
        control_add(&c, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
        control_add(&c, IPPROTO_IPV6, IPV6_RTHDR, NULL, 0);
    }
    CHECK_EQ(send_to(&t, s, &to, "wg-one", &c), STATUS_SUCCESS);
    char got[16];
    USHORT from = 0;
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 6);
    CHECK_MEM(got, "wg-one", 6);
    CHECK_EQ(from, port);
    CHECK_EQ(send_two(&t, s, &to, "wg-two", "wg-3", &c), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 10);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 6);
    CHECK_MEM(got, "wg-two", 6);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 4);
    CHECK_MEM(got, "wg-3", 4);
    /* The empty object alone. */
    control_buf alone = {0};
    control_add(&alone, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, family == AF_INET ? IP_OPTIONS : IPV6_RTHDR,
                NULL, 0);
    CHECK_EQ(send_to(&t, s, &to, "alone", &alone), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 5);
    CHECK_MEM(got, "alone", 5);
    /* Options with content are not translated: refused, nothing leaves. */
    control_buf full = {0};
    UCHAR nop[4] = {1, 1, 1, 0};
    control_add(&full, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, family == AF_INET ? IP_OPTIONS : IPV6_RTHDR, nop,
                sizeof(nop));
    CHECK_EQ(send_to(&t, s, &to, "full", &full), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 100), -ETIMEDOUT);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void empty_trailing_object_ipv4(void)
{
    empty_trailing_object(AF_INET);
}

static void empty_trailing_object_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    empty_trailing_object(AF_INET6);
}

/* ---- 2. ECN ---- */

/* IP_ECN / IPV6_ECN objects on a send put their codepoint in the low two
 * bits of the TOS / traffic class the Linux receiver reads; the DSCP bits
 * come from an IP_TOS / IPV6_TCLASS object of the same send, else from the
 * socket's own setting.  A codepoint above 3 is refused. */
static void ecn_on_send(ADDRESS_FAMILY family)
{
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    int pf = family == AF_INET ? 4 : 6;
    INT level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    INT ecn = family == AF_INET ? IP_ECN : IPV6_ECN;
    INT tos = family == AF_INET ? IP_TOS : IPV6_TCLASS;
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, family, ip, &port);
    int peer = peer_udp_bind(pf, ip, 0);
    CHECK_EQ(peer_set_sockopt(peer, pf == 4 ? "IP_RECVTOS" : "IPV6_RECVTCLASS", 1), 0);
    SOCKADDR_STORAGE to = address_of(family, ip, peer_local_port(peer));
    char got[16];
    int hops = 0, tclass = 0;
    control_buf c = {0};
    control_add_int(&c, level, ecn, 2); /* ECT(0) */
    CHECK_EQ(send_to(&t, s, &to, "ect0", &c), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 2000), 4);
    CHECK_EQ(tclass, 2);
    /* With a TOS object in the same send: its DSCP, the ECN codepoint. */
    control_buf both = {0};
    control_add_int(&both, level, ecn, 1); /* ECT(1) */
    control_add_int(&both, level, tos, 0x28);
    CHECK_EQ(send_to(&t, s, &to, "both", &both), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 2000), 4);
    CHECK_EQ(tclass, 0x29);
    /* The socket's DSCP is kept. */
    CHECK_EQ(set_ulong(&t, s, level, tos, 0x40), STATUS_SUCCESS);
    control_buf ce = {0};
    control_add_int(&ce, level, ecn, 3); /* CE */
    CHECK_EQ(send_to(&t, s, &to, "ce", &ce), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 2000), 2);
    CHECK_EQ(tclass, 0x43);
    /* Without the object, the socket's byte as it is. */
    CHECK_EQ(send_to(&t, s, &to, "none", NULL), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 2000), 4);
    CHECK_EQ(tclass, 0x40);
    control_buf bad = {0};
    control_add_int(&bad, level, ecn, 4);
    CHECK_EQ(send_to(&t, s, &to, "bad", &bad), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 100), -ETIMEDOUT);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void ecn_on_send_ipv4(void)
{
    ecn_on_send(AF_INET);
}

static void ecn_on_send_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    ecn_on_send(AF_INET6);
}

/* IP_RECVECN / IPV6_RECVECN: each datagram carries an IP_ECN / IPV6_ECN
 * INT object with the codepoint the Linux sender set (the low two bits of
 * its TOS / traffic class), alone unless IP_RECVTOS / IPV6_RECVTCLASS asks
 * for the whole byte too; get returns the setting. */
static void ecn_received(ADDRESS_FAMILY family)
{
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    int pf = family == AF_INET ? 4 : 6;
    INT level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    ULONG recv_ecn = family == AF_INET ? IP_RECVECN : IPV6_RECVECN;
    ULONG recv_tos = family == AF_INET ? IP_RECVTOS : IPV6_RECVTCLASS;
    INT ecn = family == AF_INET ? IP_ECN : IPV6_ECN;
    INT tos = family == AF_INET ? IP_TOS : IPV6_TCLASS;
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, family, ip, &port);
    ULONG v;
    CHECK_EQ(get_ulong(&t, s, level, recv_ecn, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(set_ulong(&t, s, level, recv_ecn, 1), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, s, level, recv_ecn, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1);
    int peer = peer_udp_bind(pf, ip, 0);
    CHECK_EQ(peer_set_sockopt(peer, pf == 4 ? "IP_TOS" : "IPV6_TCLASS", 0x2a), 0); /* DSCP 0x28, ECT(0) */
    CHECK_EQ(peer_udp_send_from(peer, pf, ip, port, "ecn", 3), 3);
    received r;
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.length, 3);
    CHECK_EQ(r.control_length, WSA_CMSG_SPACE(sizeof(INT)));
    CHECK_EQ(control_int(r.control, r.control_length, level, ecn), 2);
    /* Both asked for: both objects from the same byte. */
    CHECK_EQ(set_ulong(&t, s, level, recv_tos, 1), STATUS_SUCCESS);
    CHECK_EQ(peer_set_sockopt(peer, pf == 4 ? "IP_TOS" : "IPV6_TCLASS", 0x23), 0); /* CE */
    CHECK_EQ(peer_udp_send_from(peer, pf, ip, port, "two", 3), 3);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.control_length, 2 * WSA_CMSG_SPACE(sizeof(INT)));
    CHECK_EQ(control_int(r.control, r.control_length, level, tos), 0x23);
    CHECK_EQ(control_int(r.control, r.control_length, level, ecn), 3);
    /* ECN off: the byte alone. */
    CHECK_EQ(set_ulong(&t, s, level, recv_ecn, 0), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_send_from(peer, pf, ip, port, "tos", 3), 3);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.control_length, WSA_CMSG_SPACE(sizeof(INT)));
    CHECK_EQ(control_int(r.control, r.control_length, level, tos), 0x23);
    /* Neither: no control data at all. */
    CHECK_EQ(set_ulong(&t, s, level, recv_tos, 0), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_send_from(peer, pf, ip, port, "nil", 3), 3);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.control_length, 0);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void ecn_received_ipv4(void)
{
    ecn_received(AF_INET);
}

static void ecn_received_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    ecn_received(AF_INET6);
}

/* The control data of one indication, copied under the lock. */
typedef struct control_log {
    KEVENT arrived;
    KSPIN_LOCK lock;
    _Alignas(8) UCHAR control[128];
    ULONG length;
    SIZE_T data_length;
} control_log;

static NTSTATUS WSKAPI note_control(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    control_log *log = SocketContext;
    if (DataIndication == NULL)
        return STATUS_SUCCESS;
    KIRQL irql;
    KeAcquireSpinLock(&log->lock, &irql);
    log->data_length = DataIndication->Buffer.Length;
    log->length = DataIndication->ControlInfoLength <= sizeof(log->control) ? DataIndication->ControlInfoLength : 0;
    if (log->length > 0)
        memcpy(log->control, DataIndication->ControlInfo, log->length);
    KeReleaseSpinLock(&log->lock, irql);
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH control_events = {note_control};

/* MsQuic's way: IP_ECN and IPV6_ECN enabled on a dual-stack socket that
 * receives through WskReceiveFromEvent; an IPv4 datagram's indication
 * carries an IPPROTO_IP IP_ECN object, an IPv6 one an IPV6_ECN object. */
static void ecn_on_the_event_dual_stack(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    control_log log;
    memset(&log, 0, sizeof(log));
    KeInitializeEvent(&log.arrived, SynchronizationEvent, FALSE);
    KeInitializeSpinLock(&log.lock);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &log,
                                   &control_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    CHECK_EQ(set_ulong(&t, s, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    CHECK_EQ(set_ulong(&t, s, IPPROTO_IP, IP_RECVECN, 1), STATUS_SUCCESS);
    CHECK_EQ(set_ulong(&t, s, IPPROTO_IPV6, IPV6_RECVECN, 1), STATUS_SUCCESS);
    SOCKADDR_IN6 any = wt_in6("::", 0), local;
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin6_port);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    st = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0, NULL,
                             NULL, NULL);
    CHECK_EQ(st, STATUS_SUCCESS);
    LARGE_INTEGER wait = {.QuadPart = -2000LL * 10000};
    for (int pf = 4; pf <= 6; pf += 2) {
        int peer = peer_udp_bind(pf, pf == 4 ? "127.0.0.1" : "::1", 0);
        CHECK_EQ(peer_set_sockopt(peer, pf == 4 ? "IP_TOS" : "IPV6_TCLASS", pf == 4 ? 0x01 : 0x02), 0);
        CHECK_EQ(peer_udp_send_from(peer, pf, pf == 4 ? "127.0.0.1" : "::1", port, "quic", 4), 4);
        CHECK_EQ(KeWaitForSingleObject(&log.arrived, Executive, KernelMode, FALSE, &wait), STATUS_SUCCESS);
        KIRQL irql;
        KeAcquireSpinLock(&log.lock, &irql);
        ULONG length = log.length;
        INT v4 = control_int(log.control, length, IPPROTO_IP, IP_ECN);
        INT v6 = control_int(log.control, length, IPPROTO_IPV6, IPV6_ECN);
        KeReleaseSpinLock(&log.lock, irql);
        CHECK_EQ(length, WSA_CMSG_SPACE(sizeof(INT)));
        CHECK_EQ(v4, pf == 4 ? 1 : -1);
        CHECK_EQ(v6, pf == 4 ? -1 : 2);
        peer_close(peer);
    }
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* ---- 3. IP_UNICAST_IF / IPV6_UNICAST_IF ---- */

/* IP_UNICAST_IF takes the interface index in network byte order (the
 * "IPPROTO_IP socket options" page), IPV6_UNICAST_IF in host order.  Get
 * reads the value back from the Linux socket.  Pinned to loopback, a
 * datagram to 127.0.0.1 arrives; pinned to another interface it leaves
 * there and the loopback peer never sees it; index 0 unpins.  The index in
 * host order names no interface and is refused. */
static void unicast_interface_ipv4(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "0.0.0.0", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    SOCKADDR_STORAGE to = address_of(AF_INET, "127.0.0.1", peer_local_port(peer));
    ULONG lo = peer_ifindex("lo");
    CHECK(lo != 0);
    CHECK_EQ(set_ulong(&t, s, IPPROTO_IP, IP_UNICAST_IF, RtlUlongByteSwap(lo)), STATUS_SUCCESS);
    ULONG v;
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IP, IP_UNICAST_IF, &v), STATUS_SUCCESS);
    CHECK_EQ(v, RtlUlongByteSwap(lo));
    char got[16];
    USHORT from;
    CHECK_EQ(send_to(&t, s, &to, "via-lo", NULL), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 6);
    /* Host order: index 0x01000000 for lo's 1, no such interface. */
    if (lo < 256)
        CHECK(!NT_SUCCESS(set_ulong(&t, s, IPPROTO_IP, IP_UNICAST_IF, lo)));
    char iface[16], bcast[16];
    ULONG other = peer_interface4(iface, bcast) ? peer_ifindex_of4(iface) : 0;
    if (other != 0) {
        CHECK_EQ(set_ulong(&t, s, IPPROTO_IP, IP_UNICAST_IF, RtlUlongByteSwap(other)), STATUS_SUCCESS);
        CHECK_EQ(send_to(&t, s, &to, "via-eth", NULL), STATUS_SUCCESS);
        CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 200), -ETIMEDOUT);
    } else {
        fprintf(stderr, "  (no other interface here: the pinned-away send is not checked)\n");
    }
    CHECK_EQ(set_ulong(&t, s, IPPROTO_IP, IP_UNICAST_IF, 0), STATUS_SUCCESS);
    CHECK_EQ(send_to(&t, s, &to, "any-if", NULL), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 6);
    CHECK_MEM(got, "any-if", 6);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void unicast_interface_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET6, "::", &port);
    int peer = peer_udp_bind(6, "::1", 0);
    SOCKADDR_STORAGE to = address_of(AF_INET6, "::1", peer_local_port(peer));
    ULONG lo = peer_ifindex("lo");
    CHECK_EQ(set_ulong(&t, s, IPPROTO_IPV6, IPV6_UNICAST_IF, lo), STATUS_SUCCESS);
    ULONG v;
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IPV6, IPV6_UNICAST_IF, &v), STATUS_SUCCESS);
    CHECK_EQ(v, lo);
    char got[16];
    USHORT from;
    CHECK_EQ(send_to(&t, s, &to, "via-lo", NULL), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 6);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* ---- 4. address options and SIO_KEEPALIVE_VALS ---- */

/* SO_REUSE_UNICASTPORT and SO_PORT_SCALABILITY are accepted before and
 * after bind and read back; a short value is refused. */
static void port_allocation_hints(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    ULONG v;
    PWSK_SOCKET c = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    ULONG codes[2] = {SO_REUSE_UNICASTPORT, SO_PORT_SCALABILITY};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(get_ulong(&t, c, SOL_SOCKET, codes[i], &v), STATUS_SUCCESS);
        CHECK_EQ(v, 0);
        CHECK_EQ(set_ulong(&t, c, SOL_SOCKET, codes[i], 1), STATUS_SUCCESS);
        CHECK_EQ(get_ulong(&t, c, SOL_SOCKET, codes[i], &v), STATUS_SUCCESS);
        CHECK_EQ(v, 1);
        const WSK_PROVIDER_BASIC_DISPATCH *d = c->Dispatch;
        USHORT half = 1;
        NTSTATUS r = d->WskControlSocket(c, WskSetOption, codes[i], SOL_SOCKET, sizeof(half), &half, 0, NULL, NULL,
                                         wt_irp_arm(&t.irp));
        CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    }
    SOCKADDR_IN any = wt_in4("127.0.0.1", 0);
    CHECK_EQ(wt_bind(&t, c, &any), STATUS_SUCCESS);
    CHECK_EQ(set_ulong(&t, c, SOL_SOCKET, SO_REUSE_UNICASTPORT, 0), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, c, SOL_SOCKET, SO_REUSE_UNICASTPORT, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    wt_close(&t, c);
    wt_wsk_close(&t);
}

static NTSTATUS keepalive_vals(wt_wsk *t, PWSK_SOCKET s, ULONG on, ULONG time_ms, ULONG interval_ms, SIZE_T size,
                               BOOLEAN with_irp)
{
    struct tcp_keepalive k = {on, time_ms, interval_ms};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    SIZE_T returned = 99;
    NTSTATUS r = d->WskControlSocket(s, WskIoctl, SIO_KEEPALIVE_VALS, 0, size, &k, 0, NULL,
                                     with_irp ? NULL : &returned, with_irp ? wt_irp_arm(&t->irp) : NULL);
    if (!with_irp) {
        if (NT_SUCCESS(r))
            CHECK_EQ(returned, 0);
        return r;
    }
    r = wt_irp_result(&t->irp, r);
    CHECK_EQ(t->irp.irp->IoStatus.Information, 0);
    return r;
}

/* SIO_KEEPALIVE_VALS turns keep-alive on with the idle time and probe
 * interval (ms, rounded up to Linux's seconds), as the Linux socket's
 * SO_KEEPALIVE / TCP_KEEPIDLE / TCP_KEEPINTVL show; onoff 0 turns it off
 * and leaves the times.  A listener's setting reaches its accepted
 * connections (Linux inherits them).  Datagram sockets refuse it. */
static void keepalive_values(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET c = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(keepalive_vals(&t, c, 1, 7000, 1500, sizeof(struct tcp_keepalive), TRUE), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(c), "SO_KEEPALIVE"), 1);
    CHECK_EQ(peer_sockopt(lx_fd(c), "TCP_KEEPIDLE"), 7);
    CHECK_EQ(peer_sockopt(lx_fd(c), "TCP_KEEPINTVL"), 2);
    ULONG v;
    CHECK_EQ(get_ulong(&t, c, IPPROTO_TCP, TCP_KEEPALIVE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 7);
    CHECK_EQ(get_ulong(&t, c, SOL_SOCKET, SO_KEEPALIVE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1);
    /* Off: the times stay as they were. */
    CHECK_EQ(keepalive_vals(&t, c, 0, 1000, 1000, sizeof(struct tcp_keepalive), FALSE), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(c), "SO_KEEPALIVE"), 0);
    CHECK_EQ(peer_sockopt(lx_fd(c), "TCP_KEEPIDLE"), 7);
    /* Short input. */
    CHECK_EQ(keepalive_vals(&t, c, 1, 1000, 1000, 8, TRUE), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_sockopt(lx_fd(c), "SO_KEEPALIVE"), 0);
    wt_close(&t, c);

    /* On a listener: the accepted connection has it. */
    PWSK_SOCKET l = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    CHECK_EQ(keepalive_vals(&t, l, 1, 60000, 10000, sizeof(struct tcp_keepalive), TRUE), STATUS_SUCCESS);
    SOCKADDR_IN lo = wt_in4("127.0.0.1", 0), bound;
    CHECK_EQ(wt_bind(&t, l, &lo), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, l, &bound), STATUS_SUCCESS);
    int peer = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(bound.sin_port));
    CHECK(peer >= 0);
    const WSK_PROVIDER_LISTEN_DISPATCH *ld = l->Dispatch;
    SOCKADDR_IN local, remote;
    NTSTATUS r = ld->WskAccept(l, 0, NULL, NULL, (PSOCKADDR)&local, (PSOCKADDR)&remote, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    PWSK_SOCKET a = (PWSK_SOCKET)t.irp.irp->IoStatus.Information;
    CHECK(a != NULL);
    CHECK_EQ(peer_sockopt(lx_fd(a), "SO_KEEPALIVE"), 1);
    CHECK_EQ(peer_sockopt(lx_fd(a), "TCP_KEEPIDLE"), 60);
    CHECK_EQ(peer_sockopt(lx_fd(a), "TCP_KEEPINTVL"), 10);
    wt_close(&t, a);
    peer_close(peer);
    wt_close(&t, l);

    PWSK_SOCKET d = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(keepalive_vals(&t, d, 1, 1000, 1000, sizeof(struct tcp_keepalive), TRUE),
             STATUS_INVALID_DEVICE_REQUEST);
    wt_close(&t, d);
    wt_wsk_close(&t);
}

/* ---- 5. WSK_FLAG_NODELAY, SIO_WSK_QUERY_RECEIVE_BACKLOG ---- */

/* A connection socket connected to a Linux listener on 127.0.0.1; *peer
 * is the Linux end. */
static PWSK_SOCKET connect_to_linux_with(wt_wsk *t, PVOID context, const WSK_CLIENT_CONNECTION_DISPATCH *dispatch,
                                         int *peer)
{
    return wt_connect_to_linux(t, context, dispatch, 0, peer);
}

static PWSK_SOCKET connect_to_linux(wt_wsk *t, int *peer)
{
    return connect_to_linux_with(t, NULL, NULL, peer);
}

static NTSTATUS send_bytes(wt_wsk *t, PWSK_SOCKET s, const char *text, SIZE_T len, ULONG flags)
{
    PMDL m = IoAllocateMdl((PVOID)text, (ULONG)len, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, len};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = wt_irp_result(&t->irp, d->WskSend(s, &b, flags, wt_irp_arm(&t->irp)));
    if (NT_SUCCESS(r))
        CHECK_EQ(t->irp.irp->IoStatus.Information, len);
    IoFreeMdl(m);
    return r;
}

/* Waits until the socket has sent everything it holds (up to 2 s). */
static BOOLEAN all_sent(int fd)
{
    for (int i = 0; i < 200; i++) {
        if (peer_unsent_bytes(fd) == 0)
            return TRUE;
        LARGE_INTEGER pause = {.QuadPart = -10LL * 10000};
        KeDelayExecutionThread(KernelMode, FALSE, &pause);
    }
    return FALSE;
}

/* Two one-byte sends in a row, the peer delaying its ACKs: Nagle's
 * algorithm holds the second back until the first is acknowledged; with
 * WSK_FLAG_NODELAY it has left when its IRP completes (nothing unsent in
 * the Linux socket), and the socket's TCP_NODELAY stays off. */
static void nodelay_send_goes_out_at_once(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET c = connect_to_linux(&t, &peer);
    char got[64];
    long received = 0;
    /* Without the flag (the test can see Nagle hold a byte back): an ACK
     * that comes early hides it, so a few tries. */
    BOOLEAN held = FALSE;
    for (int i = 0; i < 5 && !held; i++) {
        CHECK_EQ(peer_set_sockopt(peer, "TCP_QUICKACK", 0), 0);
        CHECK_EQ(send_bytes(&t, c, "a", 1, 0), STATUS_SUCCESS);
        CHECK_EQ(send_bytes(&t, c, "b", 1, 0), STATUS_SUCCESS);
        held = peer_unsent_bytes(lx_fd(c)) == 1;
        CHECK(all_sent(lx_fd(c)));
        received += 2;
    }
    if (!held)
        WT_FAIL("Nagle never held a byte back: the case cannot tell WSK_FLAG_NODELAY's effect");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(peer_set_sockopt(peer, "TCP_QUICKACK", 0), 0);
        CHECK_EQ(send_bytes(&t, c, "c", 1, 0), STATUS_SUCCESS);
        CHECK_EQ(send_bytes(&t, c, "d", 1, WSK_FLAG_NODELAY), STATUS_SUCCESS);
        CHECK_EQ(peer_unsent_bytes(lx_fd(c)), 0);
        CHECK_EQ(peer_sockopt(lx_fd(c), "TCP_NODELAY"), 0);
        CHECK(all_sent(lx_fd(c)));
        received += 2;
    }
    CHECK_EQ(peer_recv_exact(peer, got, (size_t)received, 2000), received);
    CHECK_MEM(got + received - 2, "cd", 2);
    peer_close(peer);
    wt_close(&t, c);
    wt_wsk_close(&t);
}

static NTSTATUS WSKAPI refuse_data(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                   SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    if (DataIndication != NULL)
        KeSetEvent((PKEVENT)SocketContext, IO_NO_INCREMENT, FALSE);
    return STATUS_DATA_NOT_ACCEPTED;
}

static const WSK_CLIENT_CONNECTION_DISPATCH refusing_events = {refuse_data, NULL, NULL};

static SIZE_T receive_backlog(wt_wsk *t, PWSK_SOCKET s)
{
    SIZE_T value = 0;
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL, sizeof(value), &value,
                                     NULL, wt_irp_arm(&t->irp));
    CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
    CHECK_EQ(t->irp.irp->IoStatus.Information, sizeof(SIZE_T));
    return value;
}

/* SIO_WSK_QUERY_RECEIVE_BACKLOG counts every byte received and not yet
 * consumed: with the receive event refusing the data
 * (STATUS_DATA_NOT_ACCEPTED), what the provider read from Linux waits in
 * its buffers and still counts, together with what Linux still holds;
 * once a WskReceive took it all, nothing. */
static void receive_backlog_counts_buffered_data(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    KEVENT indicated;
    KeInitializeEvent(&indicated, SynchronizationEvent, FALSE);
    int peer;
    PWSK_SOCKET c = connect_to_linux_with(&t, &indicated, &refusing_events, &peer);
    CHECK_EQ(receive_backlog(&t, c), 0);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    const WSK_PROVIDER_BASIC_DISPATCH *d = c->Dispatch;
    CHECK_EQ(d->WskControlSocket(c, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0, NULL,
                                 NULL, NULL),
             STATUS_SUCCESS);
    static char data[3000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)peer_pattern(i);
    CHECK_EQ(peer_send_all(peer, data, 1000), 1000);
    LARGE_INTEGER wait = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&indicated, Executive, KernelMode, FALSE, &wait), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, data + 1000, 2000), 2000);
    SIZE_T backlog = 0;
    for (int i = 0; i < 200 && backlog != 3000; i++) {
        backlog = receive_backlog(&t, c);
        LARGE_INTEGER pause = {.QuadPart = -10LL * 10000};
        KeDelayExecutionThread(KernelMode, FALSE, &pause);
    }
    CHECK_EQ(backlog, 3000);
    /* A WskReceive takes it all. */
    static char got[3000];
    PMDL m = IoAllocateMdl(got, sizeof(got), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(got)};
    const WSK_PROVIDER_CONNECTION_DISPATCH *cd = c->Dispatch;
    NTSTATUS r = cd->WskReceive(c, &b, WSK_FLAG_WAITALL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(got));
    CHECK_MEM(got, data, sizeof(got));
    IoFreeMdl(m);
    CHECK_EQ(receive_backlog(&t, c), 0);
    peer_close(peer);
    wt_close(&t, c);
    wt_wsk_close(&t);
}

/* ---- 6. segmentation offload, receive coalescing, RSS ---- */

/* UDP_SEND_MSG_SIZE, as a send object or as the socket's option: one
 * buffer leaves as datagrams of that size (the last shorter), as the Linux
 * peer receives them; get reads the option back. */
static void send_segmentation(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    SOCKADDR_STORAGE to = address_of(AF_INET, "127.0.0.1", peer_local_port(peer));
    static char text[251];
    for (int i = 0; i < 250; i++)
        text[i] = (char)('a' + i % 26);
    control_buf c = {0};
    control_add_int(&c, IPPROTO_UDP, UDP_SEND_MSG_SIZE, 100);
    CHECK_EQ(send_to(&t, s, &to, text, &c), STATUS_SUCCESS);
    char got[512];
    USHORT from;
    long sizes[3] = {100, 100, 50};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), sizes[i]);
        CHECK_MEM(got, text + 100 * i, (size_t)sizes[i]);
    }
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 100), -ETIMEDOUT);
    ULONG v;
    CHECK_EQ(get_ulong(&t, s, IPPROTO_UDP, UDP_SEND_MSG_SIZE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(set_ulong(&t, s, IPPROTO_UDP, UDP_SEND_MSG_SIZE, 120), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, s, IPPROTO_UDP, UDP_SEND_MSG_SIZE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 120);
    CHECK_EQ(send_to(&t, s, &to, text, NULL), STATUS_SUCCESS);
    long by_option[3] = {120, 120, 10};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), by_option[i]);
    control_buf zero = {0};
    control_add_int(&zero, IPPROTO_UDP, UDP_SEND_MSG_SIZE, 0);
    CHECK_EQ(send_to(&t, s, &to, "zero", &zero), STATUS_INVALID_PARAMETER);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static INT coalesced_info(const received *r)
{
    ULONG at = 0;
    while (at + sizeof(WSACMSGHDR) <= r->control_length) {
        const WSACMSGHDR *c = (const WSACMSGHDR *)(r->control + at);
        if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_COALESCED_INFO) {
            CHECK_EQ(c->cmsg_len, WSA_CMSG_LEN(sizeof(DWORD)));
            DWORD v;
            memcpy(&v, WSA_CMSG_DATA(c), sizeof(v));
            return (INT)v;
        }
        at += (ULONG)WSA_CMSGHDR_ALIGN(c->cmsg_len);
    }
    return -1;
}

/* UDP_RECV_MAX_COALESCED_SIZE: a segmented send from a Linux peer arrives
 * as one datagram with a UDP_COALESCED_INFO object holding the segment
 * size; without it the datagrams arrive one by one, without the object. */
static void receive_coalescing(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    static char text[250];
    for (int i = 0; i < 250; i++)
        text[i] = (char)('A' + i % 26);
    received r;
    CHECK_EQ(peer_udp_send_segmented(peer, 4, "127.0.0.1", port, text, 250, 100), 250);
    long sizes[3] = {100, 100, 50};
    for (int i = 0; i < 3; i++) {
        receive_one(s, &r, 2000);
        CHECK_EQ(r.status, STATUS_SUCCESS);
        CHECK_EQ(r.length, (ULONG_PTR)sizes[i]);
        CHECK_EQ(coalesced_info(&r), -1);
    }
    ULONG v;
    CHECK_EQ(set_ulong(&t, s, IPPROTO_UDP, UDP_RECV_MAX_COALESCED_SIZE, 65000), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, s, IPPROTO_UDP, UDP_RECV_MAX_COALESCED_SIZE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 65000);
    CHECK_EQ(peer_udp_send_segmented(peer, 4, "127.0.0.1", port, text, 250, 100), 250);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.length, 250);
    CHECK_MEM(r.data, text, 250);
    CHECK_EQ(coalesced_info(&r), 100);
    /* A datagram that was not coalesced carries no object. */
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "single", 6), 6);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.length, 6);
    CHECK_EQ(coalesced_info(&r), -1);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* The same on WskReceiveFromEvent (MsQuic's path): one indication of 250
 * bytes whose ControlInfo holds UDP_COALESCED_INFO 100. */
static void coalescing_on_the_event(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    control_log log;
    memset(&log, 0, sizeof(log));
    KeInitializeEvent(&log.arrived, SynchronizationEvent, FALSE);
    KeInitializeSpinLock(&log.lock);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &log,
                                   &control_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    CHECK_EQ(set_ulong(&t, s, IPPROTO_UDP, UDP_RECV_MAX_COALESCED_SIZE, 65535), STATUS_SUCCESS);
    SOCKADDR_IN lo = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, s, &lo), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    CHECK_EQ(d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0, NULL,
                                 NULL, NULL),
             STATUS_SUCCESS);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    static char text[250];
    memset(text, 'q', sizeof(text));
    CHECK_EQ(peer_udp_send_segmented(peer, 4, "127.0.0.1", RtlUshortByteSwap(local.sin_port), text, 250, 100), 250);
    LARGE_INTEGER wait = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&log.arrived, Executive, KernelMode, FALSE, &wait), STATUS_SUCCESS);
    KIRQL irql;
    KeAcquireSpinLock(&log.lock, &irql);
    received r;
    memset(&r, 0, sizeof(r));
    r.control_length = log.length;
    memcpy(r.control, log.control, log.length);
    SIZE_T length = log.data_length;
    KeReleaseSpinLock(&log.lock, irql);
    CHECK_EQ(length, 250);
    CHECK_EQ(r.control_length, WSA_CMSG_SPACE(sizeof(DWORD)));
    CHECK_EQ(coalesced_info(&r), 100);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* MsQuic's probe: a basic UDP socket answers SIO_QUERY_RSS_SCALABILITY_INFO
 * (RssEnabled FALSE, one byte) and the two UDP offload options. */
static void basic_socket_probe(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET b = wt_socket(&t, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_BASIC_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    const WSK_PROVIDER_BASIC_DISPATCH *d = b->Dispatch;
    RSS_SCALABILITY_INFO info;
    memset(&info, 0x55, sizeof(info));
    NTSTATUS r = d->WskControlSocket(b, WskIoctl, SIO_QUERY_RSS_SCALABILITY_INFO, 0, 0, NULL, sizeof(info), &info,
                                     NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(info));
    CHECK_EQ(info.RssEnabled, FALSE);
    r = d->WskControlSocket(b, WskIoctl, SIO_QUERY_RSS_SCALABILITY_INFO, 0, 0, NULL, 0, NULL, NULL,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_BUFFER_TOO_SMALL);
    ULONG v;
    CHECK_EQ(get_ulong(&t, b, IPPROTO_UDP, UDP_SEND_MSG_SIZE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(get_ulong(&t, b, IPPROTO_UDP, UDP_RECV_MAX_COALESCED_SIZE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    wt_close(&t, b);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(empty_trailing_object_ipv4);
    WT_RUN(empty_trailing_object_ipv6);
    WT_RUN(ecn_on_send_ipv4);
    WT_RUN(ecn_on_send_ipv6);
    WT_RUN(ecn_received_ipv4);
    WT_RUN(ecn_received_ipv6);
    WT_RUN(ecn_on_the_event_dual_stack);
    WT_RUN(unicast_interface_ipv4);
    WT_RUN(unicast_interface_ipv6);
    WT_RUN(port_allocation_hints);
    WT_RUN(keepalive_values);
    WT_RUN(nodelay_send_goes_out_at_once);
    WT_RUN(receive_backlog_counts_buffered_data);
    WT_RUN(send_segmentation);
    WT_RUN(receive_coalescing);
    WT_RUN(coalescing_on_the_event);
    WT_RUN(basic_socket_probe);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
