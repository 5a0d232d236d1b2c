/*
 * test_wsk_datagram_control.c - datagram control data and destinations
 * (wsk-part-b.md §7.3, §7.6): the INT-valued control objects (IP_TOS,
 * IP_TTL, IPV6_HOPLIMIT, IPV6_TCLASS) in Windows' layout on receive and on
 * send, IP_PKTINFO reported only when the client asked for it, multicast
 * membership (IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP, IP_MULTICAST_IF) with
 * MSG_MCAST, and MSG_BCAST on broadcast datagrams — all against Linux peers.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <ws2ipdef.h>

#include "linux_peer.h"
#include "wt_wsk.h"

#define GROUP4 "239.255.77.41"

static NTSTATUS set_bytes(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG code, PVOID value, SIZE_T size)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, code, level, size, value, 0, NULL, NULL, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static NTSTATUS get_ulong(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG code, ULONG *value)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    SIZE_T got = 0;
    NTSTATUS r = d->WskControlSocket(s, WskGetOption, code, level, 0, NULL, sizeof(*value), value, &got,
                                     wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

typedef struct received {
    NTSTATUS status;
    ULONG_PTR length;
    char data[64];
    SOCKADDR_STORAGE from;
    _Alignas(8) UCHAR control[256];
    ULONG control_length;
    ULONG flags;
} received;

/* One WskReceiveFrom with a control buffer; gives up after timeout_ms by
 * cancelling the IRP (then status is STATUS_CANCELLED). */
static void receive_one(PWSK_SOCKET s, received *out, int timeout_ms)
{
    memset(out, 0, sizeof(*out));
    PMDL m = IoAllocateMdl(out->data, sizeof(out->data), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(out->data)};
    out->control_length = sizeof(out->control);
    out->flags = 0xFFFFFFFF;
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

/* The INT carried by the control object (level, type); -1 if absent.  The
 * object must have exactly an INT's length. */
static int control_int(const received *r, INT level, INT type)
{
    ULONG at = 0;
    while (at + sizeof(WSACMSGHDR) <= r->control_length) {
        const WSACMSGHDR *c = (const WSACMSGHDR *)(r->control + at);
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

static BOOLEAN has_control(const received *r, INT level, INT type)
{
    ULONG at = 0;
    while (at + sizeof(WSACMSGHDR) <= r->control_length) {
        const WSACMSGHDR *c = (const WSACMSGHDR *)(r->control + at);
        if (c->cmsg_level == level && c->cmsg_type == type)
            return TRUE;
        at += (ULONG)WSA_CMSGHDR_ALIGN(c->cmsg_len);
    }
    return FALSE;
}

/* IP_HOPLIMIT (= IP_RECVTTL) and IP_RECVTOS: each datagram carries INT
 * objects IP_TTL and IP_TOS with the values its sender set; IP_PKTINFO,
 * which the provider always reads for the destination, is not reported. */
static void ttl_and_tos_received_ipv4(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    ULONG v = 7;
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IP, IP_PKTINFO, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0); /* off until the client turns it on */
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IP, IP_HOPLIMIT, 1), STATUS_SUCCESS);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IP, IP_RECVTOS, 1), STATUS_SUCCESS);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    CHECK_EQ(peer_set_sockopt(peer, "IP_TTL", 33), 0);
    CHECK_EQ(peer_set_sockopt(peer, "IP_TOS", 0x28), 0);
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "tos", 3), 3);
    received r;
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.length, 3);
    CHECK_EQ(r.flags, 0);
    CHECK_EQ(r.control_length, 2 * WSA_CMSG_SPACE(sizeof(INT)));
    CHECK_EQ(control_int(&r, IPPROTO_IP, IP_TTL), 33);
    CHECK_EQ(control_int(&r, IPPROTO_IP, IP_TOS), 0x28);
    CHECK(!has_control(&r, IPPROTO_IP, IP_PKTINFO));
    /* Asked for, it comes too. */
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IP, IP_PKTINFO, 1), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IP, IP_PKTINFO, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1);
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "pkt", 3), 3);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK(has_control(&r, IPPROTO_IP, IP_PKTINFO));
    CHECK_EQ(control_int(&r, IPPROTO_IP, IP_TTL), 33);
    CHECK_EQ(r.control_length, WSA_CMSG_SPACE(sizeof(IN_PKTINFO)) + 2 * WSA_CMSG_SPACE(sizeof(INT)));
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* IPV6_HOPLIMIT and IPV6_RECVTCLASS: INT objects IPV6_HOPLIMIT and
 * IPV6_TCLASS. */
static void hop_limit_and_tclass_received_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET6, "::1", &port);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IPV6, IPV6_HOPLIMIT, 1), STATUS_SUCCESS);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IPV6, IPV6_RECVTCLASS, 1), STATUS_SUCCESS);
    int peer = peer_udp_bind(6, "::1", 0);
    CHECK_EQ(peer_set_sockopt(peer, "IPV6_UNICAST_HOPS", 17), 0);
    CHECK_EQ(peer_set_sockopt(peer, "IPV6_TCLASS", 0x40), 0);
    CHECK_EQ(peer_udp_send_from(peer, 6, "::1", port, "hop", 3), 3);
    received r;
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.length, 3);
    CHECK_EQ(r.control_length, 2 * WSA_CMSG_SPACE(sizeof(INT)));
    CHECK_EQ(control_int(&r, IPPROTO_IPV6, IPV6_HOPLIMIT), 17);
    CHECK_EQ(control_int(&r, IPPROTO_IPV6, IPV6_TCLASS), 0x40);
    CHECK(!has_control(&r, IPPROTO_IPV6, IPV6_PKTINFO));
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* Two INT objects in one control buffer. */
typedef struct two_ints {
    _Alignas(8) UCHAR bytes[2 * WSA_CMSG_SPACE(sizeof(INT))];
} two_ints;

static void two_ints_make(two_ints *c, INT level, INT type1, INT v1, INT type2, INT v2)
{
    memset(c, 0, sizeof(*c));
    WSACMSGHDR *h = (WSACMSGHDR *)c->bytes;
    h->cmsg_len = WSA_CMSG_LEN(sizeof(INT));
    h->cmsg_level = level;
    h->cmsg_type = type1;
    memcpy(WSA_CMSG_DATA(h), &v1, sizeof(v1));
    h = (WSACMSGHDR *)(c->bytes + WSA_CMSG_SPACE(sizeof(INT)));
    h->cmsg_len = WSA_CMSG_LEN(sizeof(INT));
    h->cmsg_level = level;
    h->cmsg_type = type2;
    memcpy(WSA_CMSG_DATA(h), &v2, sizeof(v2));
}

/* INT objects on WskSendTo set the TTL / hop limit and TOS / traffic class
 * of that datagram, as the Linux receiver sees them in the IP header. */
static void ttl_and_tos_on_send(ADDRESS_FAMILY family)
{
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    int pf = family == AF_INET ? 4 : 6;
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, family, ip, &port);
    int peer = peer_udp_bind(pf, ip, 0);
    CHECK_EQ(peer_set_sockopt(peer, pf == 4 ? "IP_RECVTTL" : "IPV6_RECVHOPLIMIT", 1), 0);
    CHECK_EQ(peer_set_sockopt(peer, pf == 4 ? "IP_RECVTOS" : "IPV6_RECVTCLASS", 1), 0);
    two_ints c;
    if (family == AF_INET)
        two_ints_make(&c, IPPROTO_IP, IP_TTL, 9, IP_TOS, 0x10);
    else
        two_ints_make(&c, IPPROTO_IPV6, IPV6_HOPLIMIT, 7, IPV6_TCLASS, 0x20);
    UCHAR msg[3] = {'t', 't', 'l'};
    PMDL m = IoAllocateMdl(msg, sizeof(msg), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(msg)};
    SOCKADDR_STORAGE to;
    if (family == AF_INET)
        *(SOCKADDR_IN *)&to = wt_in4(ip, peer_local_port(peer));
    else
        *(SOCKADDR_IN6 *)&to = wt_in6(ip, peer_local_port(peer));
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, sizeof(c.bytes), (PCMSGHDR)c.bytes, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(msg));
    char got[8];
    int hops = 0, tclass = 0;
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 2000), 3);
    CHECK_EQ(hops, family == AF_INET ? 9 : 7);
    CHECK_EQ(tclass, family == AF_INET ? 0x10 : 0x20);
    /* Without control data the socket's defaults apply again. */
    r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 2000), 3);
    CHECK(hops != (family == AF_INET ? 9 : 7));
    CHECK_EQ(tclass, 0);
    /* An INT object of the wrong size is refused and nothing leaves. */
    ((WSACMSGHDR *)c.bytes)->cmsg_len = WSA_CMSG_LEN(2);
    r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, sizeof(c.bytes), (PCMSGHDR)c.bytes, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    CHECK_EQ(peer_udp_recv_meta(peer, got, sizeof(got), &hops, &tclass, 100), -ETIMEDOUT);
    IoFreeMdl(m);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void ttl_and_tos_on_send_ipv4(void)
{
    ttl_and_tos_on_send(AF_INET);
}

static void hop_limit_and_tclass_on_send_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    ttl_and_tos_on_send(AF_INET6);
}

/* IP_ADD_MEMBERSHIP makes the socket receive its group (MSG_MCAST set),
 * IP_DROP_MEMBERSHIP stops it; IP_MULTICAST_IF sends a group datagram a
 * Linux member receives.  Loopback has no multicast in many containers, so
 * the case uses the first multicast interface (looped back locally). */
static void multicast_membership(void)
{
    char iface[16], bcast[16];
    if (!peer_interface4(iface, bcast)) {
        fprintf(stderr, "  (no multicast interface here: case skipped)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "0.0.0.0", &port);
    IP_MREQ join;
    join.imr_multiaddr = wt_in4(GROUP4, 0).sin_addr;
    join.imr_interface = wt_in4(iface, 0).sin_addr;
    CHECK_EQ(set_bytes(&t, s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)), STATUS_SUCCESS);
    CHECK_EQ(set_bytes(&t, s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, 3), STATUS_INVALID_PARAMETER);
    int peer = peer_udp_bind(4, iface, 0);
    CHECK_EQ(peer_multicast_setup4(peer, NULL, iface), 0);
    CHECK_EQ(peer_udp_send_from(peer, 4, GROUP4, port, "group", 5), 5);
    received r;
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.length, 5);
    CHECK_MEM(r.data, "group", 5);
    CHECK_EQ(r.flags, MSG_MCAST);
    CHECK_EQ(((SOCKADDR_IN *)&r.from)->sin_addr.s_addr, join.imr_interface.s_addr);
    /* A unicast datagram is neither. */
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "one", 3), 3);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_EQ(r.flags, 0);
    /* Dropped: the group's next datagram does not arrive, a unicast one does. */
    CHECK_EQ(set_bytes(&t, s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &join, sizeof(join)), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_send_from(peer, 4, GROUP4, port, "late!", 5), 5);
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "after", 5), 5);
    receive_one(s, &r, 2000);
    CHECK_EQ(r.status, STATUS_SUCCESS);
    CHECK_MEM(r.data, "after", 5);
    /* The WSK socket as the sender: a Linux member of the group receives. */
    int member = peer_udp_bind(4, "0.0.0.0", 0);
    CHECK_EQ(peer_multicast_setup4(member, GROUP4, iface), 0);
    IN_ADDR out_if = join.imr_interface;
    CHECK_EQ(set_bytes(&t, s, IPPROTO_IP, IP_MULTICAST_IF, &out_if, sizeof(out_if)), STATUS_SUCCESS);
    UCHAR msg[5] = {'m', 'c', 'a', 's', 't'};
    PMDL m = IoAllocateMdl(msg, sizeof(msg), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(msg)};
    SOCKADDR_IN to = wt_in4(GROUP4, peer_local_port(member));
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS st = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, st), STATUS_SUCCESS);
    char got[8];
    USHORT from = 0;
    CHECK_EQ(peer_udp_recv(member, got, sizeof(got), &from, 2000), 5);
    CHECK_MEM(got, "mcast", 5);
    CHECK_EQ(from, port);
    IoFreeMdl(m);
    peer_close(member);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

typedef struct flag_log {
    KEVENT arrived;
    KSPIN_LOCK lock;
    ULONG flags;
    SIZE_T length;
} flag_log;

static NTSTATUS WSKAPI note_flags(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    flag_log *log = SocketContext;
    if (DataIndication == NULL)
        return STATUS_SUCCESS;
    KIRQL irql;
    KeAcquireSpinLock(&log->lock, &irql);
    log->flags = Flags;
    log->length = DataIndication->Buffer.Length;
    KeReleaseSpinLock(&log->lock, irql);
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH flag_events = {note_flags};

/* Waits for the next indication; its Flags and length, read under the lock
 * (the peer's next send is no synchronisation the sanitizer can see). */
static BOOLEAN flags_arrived(flag_log *log, ULONG *flags, SIZE_T *length)
{
    LARGE_INTEGER t = {.QuadPart = -2000LL * 10000};
    if (KeWaitForSingleObject(&log->arrived, Executive, KernelMode, FALSE, &t) != STATUS_SUCCESS)
        return FALSE;
    KIRQL irql;
    KeAcquireSpinLock(&log->lock, &irql);
    *flags = log->flags;
    *length = log->length;
    KeReleaseSpinLock(&log->lock, irql);
    return TRUE;
}

/* A datagram sent to the interface's broadcast address reaches a socket
 * bound to the wildcard address with MSG_BCAST in WskReceiveFromEvent's
 * Flags (with WSK_FLAG_AT_DISPATCH_LEVEL); a unicast one without. */
static void broadcast_flag_on_the_event(void)
{
    char iface[16], bcast[16];
    if (!peer_interface4(iface, bcast)) {
        fprintf(stderr, "  (no broadcast interface here: case skipped)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    flag_log log;
    memset(&log, 0, sizeof(log));
    KeInitializeEvent(&log.arrived, SynchronizationEvent, FALSE);
    KeInitializeSpinLock(&log.lock);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &log, &flag_events,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), local;
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin_port);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    CHECK_EQ(set_bytes(&t, s, SOL_SOCKET, SO_WSK_EVENT_CALLBACK, &control, sizeof(control)), STATUS_SUCCESS);
    int peer = peer_udp_bind(4, iface, 0);
    CHECK_EQ(peer_set_sockopt(peer, "SO_BROADCAST", 1), 0);
    CHECK_EQ(peer_udp_send_from(peer, 4, bcast, port, "all", 3), 3);
    ULONG flags = 0;
    SIZE_T length = 0;
    CHECK(flags_arrived(&log, &flags, &length));
    CHECK_EQ(length, 3);
    CHECK_EQ(flags, WSK_FLAG_AT_DISPATCH_LEVEL | MSG_BCAST);
    CHECK_EQ(peer_udp_send_from(peer, 4, iface, port, "one", 3), 3);
    CHECK(flags_arrived(&log, &flags, &length));
    CHECK_EQ(flags, WSK_FLAG_AT_DISPATCH_LEVEL);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* IP_RECVERR is accepted and remembered; an ICMP error for an earlier
 * datagram (port unreachable) must not leave the engine spinning on an
 * error queue nobody reads while a receive waits. */
static void receive_errors_option_does_not_spin(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IP, IP_RECVERR, 1), STATUS_SUCCESS);
    ULONG v = 0;
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IP, IP_RECVERR, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1);
    /* A port nobody listens on: the answer is an ICMP port unreachable. */
    int closed = peer_udp_bind(4, "127.0.0.1", 0);
    USHORT dead = peer_local_port(closed);
    peer_close(closed);
    UCHAR msg[4] = {'p', 'i', 'n', 'g'};
    PMDL m = IoAllocateMdl(msg, sizeof(msg), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(msg)};
    SOCKADDR_IN to = wt_in4("127.0.0.1", dead);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    /* The first receive may report the error itself; the next one waits
     * (cancelled after 500 ms), and meanwhile the process must stay idle:
     * a spinning engine thread would use the whole time. */
    received got;
    receive_one(s, &got, 200);
    CHECK(got.status == STATUS_CANCELLED || got.status == STATUS_CONNECTION_REFUSED ||
          got.status == STATUS_PORT_UNREACHABLE);
    long before = peer_process_cpu_ms();
    receive_one(s, &got, 500);
    long used = peer_process_cpu_ms() - before;
    CHECK_EQ(got.status, STATUS_CANCELLED);
    if (used > 250)
        WT_FAIL("the process used %ld ms of CPU while a receive waited 500 ms", used);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(ttl_and_tos_received_ipv4);
    WT_RUN(hop_limit_and_tclass_received_ipv6);
    WT_RUN(ttl_and_tos_on_send_ipv4);
    WT_RUN(hop_limit_and_tclass_on_send_ipv6);
    WT_RUN(multicast_membership);
    WT_RUN(broadcast_flag_on_the_event);
    WT_RUN(receive_errors_option_does_not_spin);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
