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
#include "wt_wsk.h"

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

static inline void control_add_int(control_buf *c, INT level, INT type, INT value)
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

int main(void)
{
    WT_RUN(empty_trailing_object_ipv4);
    WT_RUN(empty_trailing_object_ipv6);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
