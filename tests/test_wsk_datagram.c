/*
 * test_wsk_datagram.c - datagram sockets against Linux UDP peers
 * (wsk-part-b.md §7): WskSendTo and WskReceiveFrom from 1 byte to the
 * largest datagram through chained MDLs, sender addresses, truncation,
 * the fixed addresses of SIO_WSK_SET_REMOTE_ADDRESS and
 * SIO_WSK_SET_SENDTO_ADDRESS, WskSendMessages, cancellation, close, IPv6,
 * bad inputs.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <ws2ipdef.h>

#include "linux_peer.h"
#include "wt_wsk.h"

#define MAX_UDP4 65507u /* 65535 - IPv4 header - UDP header */

/* A buffer described by a chain of three MDLs, the first used from an offset. */
typedef struct chained {
    PUCHAR mem;
    PMDL mdl[3];
    WSK_BUF buf;
} chained;

static void chained_make(chained *c, SIZE_T len)
{
    const ULONG offset = 5; /* into the first MDL */
    SIZE_T total = len + offset;
    c->mem = ExAllocatePool2(POOL_FLAG_NON_PAGED, total + 1, 'tseT');
    int n = len >= 3 ? 3 : 1;
    SIZE_T starts[3] = {0, offset + len / 3, offset + 2 * len / 3};
    SIZE_T ends[3] = {n == 1 ? total : starts[1], starts[2], total};
    memset(c->mdl, 0, sizeof(c->mdl));
    for (int i = 0; i < n; i++) {
        c->mdl[i] = IoAllocateMdl(c->mem + starts[i], (ULONG)(ends[i] - starts[i]), FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(c->mdl[i]);
        if (i > 0)
            c->mdl[i - 1]->Next = c->mdl[i];
    }
    c->buf.Mdl = c->mdl[0];
    c->buf.Offset = offset;
    c->buf.Length = len;
}

static PUCHAR chained_data(chained *c)
{
    return c->mem + c->buf.Offset;
}

static void chained_free(chained *c)
{
    for (int i = 0; i < 3; i++)
        if (c->mdl[i] != NULL)
            IoFreeMdl(c->mdl[i]);
    ExFreePool(c->mem);
}

static NTSTATUS send_to(wt_wsk *t, PWSK_SOCKET s, PWSK_BUF b, PSOCKADDR to)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendTo(s, b, 0, to, 0, NULL, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static void send_to_linux_peer_every_size(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(peer));
    static UCHAR got[MAX_UDP4 + 16];
    const SIZE_T sizes[] = {1, 2, 100, 1472, 8192, 40000, MAX_UDP4};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        chained c;
        chained_make(&c, sizes[k]);
        for (SIZE_T i = 0; i < sizes[k]; i++)
            chained_data(&c)[i] = peer_pattern(i + k);
        CHECK_EQ(send_to(&t, s, &c.buf, (PSOCKADDR)&to), STATUS_SUCCESS);
        CHECK_EQ(t.irp.irp->IoStatus.Information, sizes[k]);
        USHORT from = 0;
        CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), (long)sizes[k]);
        CHECK_EQ(from, port);
        CHECK_MEM(got, chained_data(&c), sizes[k]);
        chained_free(&c);
    }
    /* An empty datagram is a datagram. */
    WSK_BUF empty = {NULL, 0, 0};
    CHECK_EQ(send_to(&t, s, &empty, (PSOCKADDR)&to), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), NULL, 2000), 0);
    /* One byte more than a datagram can carry. */
    chained big;
    chained_make(&big, MAX_UDP4 + 1);
    CHECK_EQ(send_to(&t, s, &big.buf, (PSOCKADDR)&to), STATUS_INVALID_BUFFER_SIZE);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    chained_free(&big);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

typedef struct recv_result {
    NTSTATUS status;
    ULONG_PTR information;
    SOCKADDR_STORAGE from;
    ULONG control_length;
    ULONG control_flags;
} recv_result;

/* Starts a WskReceiveFrom; the caller sends, then collects. */
static NTSTATUS receive_from_start(wt_irp *w, PWSK_SOCKET s, PWSK_BUF b, recv_result *out)
{
    memset(out, 0, sizeof(*out));
    out->control_length = 0; /* no control buffer (Microsoft's test client does this) */
    out->control_flags = 0xFFFFFFFF;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    return d->WskReceiveFrom(s, b, 0, (PSOCKADDR)&out->from, &out->control_length, NULL, &out->control_flags,
                             wt_irp_arm(w));
}

static void receive_from_collect(wt_irp *w, NTSTATUS returned, recv_result *out)
{
    out->status = wt_irp_result(w, returned);
    out->information = w->irp->IoStatus.Information;
}

static void receive_from_linux_peer_every_size(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    static UCHAR data[MAX_UDP4];
    const SIZE_T sizes[] = {1, 3, 512, 1472, 9000, 65000, MAX_UDP4};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (SIZE_T i = 0; i < sizes[k]; i++)
            data[i] = peer_pattern(i * 7 + k);
        chained c;
        chained_make(&c, MAX_UDP4);
        recv_result res;
        wt_irp w = {0};
        /* Posted first: it waits for the datagram. */
        NTSTATUS r = receive_from_start(&w, s, &c.buf, &res);
        CHECK_EQ(r, STATUS_PENDING);
        CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, data, sizes[k]), (long)sizes[k]);
        receive_from_collect(&w, r, &res);
        CHECK_EQ(res.status, STATUS_SUCCESS);
        CHECK_EQ(res.information, sizes[k]);
        CHECK_MEM(chained_data(&c), data, sizes[k]);
        SOCKADDR_IN *from = (SOCKADDR_IN *)&res.from;
        CHECK_EQ(from->sin_family, AF_INET);
        CHECK_EQ(RtlUshortByteSwap(from->sin_port), peer_local_port(peer));
        CHECK_EQ(from->sin_addr.s_addr, RtlUlongByteSwap(0x7F000001));
        CHECK_EQ(res.control_length, 0);
        CHECK_EQ(res.control_flags, 0);
        wt_irp_free(&w);
        chained_free(&c);
    }
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* A datagram larger than the buffer: the part that fits, MSG_TRUNC, and
 * STATUS_BUFFER_OVERFLOW; the rest is lost and the next datagram is whole. */
static void truncated_datagram(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "0123456789abcdef", 16), 0);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "next", 4), 0);
    UCHAR small[10];
    PMDL m = IoAllocateMdl(small, sizeof(small), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(small)};
    recv_result res;
    wt_irp w = {0};
    NTSTATUS r = receive_from_start(&w, s, &b, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(res.information, 10);
    CHECK_MEM(small, "0123456789", 10);
    CHECK_EQ(res.control_flags, MSG_TRUNC);
    r = receive_from_start(&w, s, &b, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_SUCCESS);
    CHECK_EQ(res.information, 4);
    CHECK_MEM(small, "next", 4);
    CHECK_EQ(res.control_flags, 0);
    /* ControlLength NULL: ControlFlags is left alone. */
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "0123456789abcdef", 16), 0);
    ULONG flags = 0x5A5A;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, &flags, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(flags, 0x5A5A);
    wt_irp_free(&w);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static NTSTATUS fixed_address(wt_wsk *t, PWSK_SOCKET s, ULONG code, PVOID addr, SIZE_T size, BOOLEAN with_irp)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskIoctl, code, 0, size, addr, 0, NULL, NULL,
                                     with_irp ? wt_irp_arm(&t->irp) : NULL);
    return with_irp ? wt_irp_result(&t->irp, r) : r;
}

/* SIO_WSK_SET_SENDTO_ADDRESS: a default destination, no filtering.
 * SIO_WSK_SET_REMOTE_ADDRESS: a default destination, and only that peer's
 * datagrams arrive.  Either is cleared with an empty input. */
static void fixed_addresses(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET unbound = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    int a = peer_udp_bind(4, "127.0.0.1", 0), b = peer_udp_bind(4, "127.0.0.1", 0);
    SOCKADDR_IN to_a = wt_in4("127.0.0.1", peer_local_port(a));
    CHECK_EQ(fixed_address(&t, unbound, SIO_WSK_SET_SENDTO_ADDRESS, &to_a, sizeof(to_a), TRUE),
             STATUS_INVALID_DEVICE_STATE);
    CHECK_EQ(wt_close(&t, unbound), STATUS_SUCCESS);

    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    UCHAR msg[4] = {'p', 'i', 'n', 'g'};
    PMDL m = IoAllocateMdl(msg, 4, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF out = {m, 0, 4};
    CHECK_EQ(send_to(&t, s, &out, NULL), STATUS_INVALID_PARAMETER); /* nowhere to send */
    CHECK_EQ(fixed_address(&t, s, SIO_WSK_SET_SENDTO_ADDRESS, &to_a, sizeof(to_a), FALSE), STATUS_INVALID_PARAMETER);
    CHECK_EQ(fixed_address(&t, s, SIO_WSK_SET_SENDTO_ADDRESS, &to_a, 4, TRUE), STATUS_INVALID_PARAMETER);
    CHECK_EQ(fixed_address(&t, s, SIO_WSK_SET_SENDTO_ADDRESS, &to_a, sizeof(to_a), TRUE), STATUS_SUCCESS);
    CHECK_EQ(send_to(&t, s, &out, NULL), STATUS_SUCCESS);
    UCHAR got[16];
    CHECK_EQ(peer_udp_recv(a, got, sizeof(got), NULL, 2000), 4);
    CHECK_MEM(got, "ping", 4);

    UCHAR in[16];
    PMDL mi = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mi);
    WSK_BUF inb = {mi, 0, sizeof(in)};
    recv_result res;
    wt_irp w = {0};
    /* No filtering with a send-to address: b's datagram arrives. */
    CHECK_EQ(peer_udp_send_from(b, 4, "127.0.0.1", port, "from-b", 6), 6);
    NTSTATUS r = receive_from_start(&w, s, &inb, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_SUCCESS);
    CHECK_EQ(RtlUshortByteSwap(((SOCKADDR_IN *)&res.from)->sin_port), peer_local_port(b));

    /* A remote address: b is filtered out, a comes through. */
    CHECK_EQ(fixed_address(&t, s, SIO_WSK_SET_REMOTE_ADDRESS, &to_a, sizeof(to_a), TRUE), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_send_from(b, 4, "127.0.0.1", port, "from-b", 6), 6);
    CHECK_EQ(peer_udp_send_from(a, 4, "127.0.0.1", port, "from-a", 6), 6);
    r = receive_from_start(&w, s, &inb, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_SUCCESS);
    CHECK_EQ(res.information, 6);
    CHECK_MEM(in, "from-a", 6);
    CHECK_EQ(send_to(&t, s, &out, NULL), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(a, got, sizeof(got), NULL, 2000), 4);
    /* An explicit address still overrides the fixed one for one datagram. */
    SOCKADDR_IN to_b = wt_in4("127.0.0.1", peer_local_port(b));
    CHECK_EQ(send_to(&t, s, &out, (PSOCKADDR)&to_b), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(b, got, sizeof(got), NULL, 2000), 4);

    /* Cleared: anyone again, and no default destination. */
    CHECK_EQ(fixed_address(&t, s, SIO_WSK_SET_REMOTE_ADDRESS, NULL, 0, TRUE), STATUS_SUCCESS);
    CHECK_EQ(send_to(&t, s, &out, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_udp_send_from(b, 4, "127.0.0.1", port, "again-b", 7), 7);
    r = receive_from_start(&w, s, &inb, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.information, 7);
    CHECK_MEM(in, "again-b", 7);

    wt_irp_free(&w);
    IoFreeMdl(m);
    IoFreeMdl(mi);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(a);
    peer_close(b);
    wt_wsk_close(&t);
}

static void ipv6_round_trip(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET6, "::1", &port);
    int peer = peer_udp_bind(6, "::1", 0);
    SOCKADDR_IN6 to = wt_in6("::1", peer_local_port(peer));
    UCHAR msg[5] = {'h', 'e', 'l', 'l', 'o'};
    PMDL m = IoAllocateMdl(msg, 5, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, 5};
    CHECK_EQ(send_to(&t, s, &b, (PSOCKADDR)&to), STATUS_SUCCESS);
    UCHAR got[8];
    USHORT from = 0;
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), 5);
    CHECK_EQ(from, port);
    CHECK_EQ(peer_udp_send_from(peer, 6, "::1", port, "world", 5), 5);
    recv_result res;
    wt_irp w = {0};
    NTSTATUS r = receive_from_start(&w, s, &b, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_SUCCESS);
    CHECK_MEM(msg, "world", 5);
    SOCKADDR_IN6 *f = (SOCKADDR_IN6 *)&res.from;
    CHECK_EQ(f->sin6_family, AF_INET6);
    CHECK_EQ(RtlUshortByteSwap(f->sin6_port), peer_local_port(peer));
    CHECK_EQ(f->sin6_addr.u.Byte[15], 1);
    /* An IPv4 address on an IPv6 socket. */
    SOCKADDR_IN v4 = wt_in4("127.0.0.1", peer_local_port(peer));
    CHECK_EQ(send_to(&t, s, &b, (PSOCKADDR)&v4), STATUS_INVALID_ADDRESS);
    wt_irp_free(&w);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* A waiting WskReceiveFrom is cancelled by IoCancelIrp or by the close. */
static void cancel_and_close_pending_receive(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    UCHAR in[16];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(in)};
    recv_result res;
    wt_irp w = {0};
    NTSTATUS r = receive_from_start(&w, s, &b, &res);
    CHECK_EQ(r, STATUS_PENDING);
    IoCancelIrp(w.irp);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_CANCELLED);
    CHECK_EQ(res.information, 0);
    r = receive_from_start(&w, s, &b, &res);
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_CANCELLED);
    wt_irp_free(&w);
    IoFreeMdl(m);
    wt_wsk_close(&t);
}

static void bad_inputs(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET unbound = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    UCHAR buf[8] = {0};
    PMDL m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(buf)};
    SOCKADDR_IN to = wt_in4("127.0.0.1", 9);
    CHECK_EQ(send_to(&t, unbound, &b, (PSOCKADDR)&to), STATUS_INVALID_DEVICE_STATE);
    recv_result res;
    wt_irp w = {0};
    NTSTATUS r = receive_from_start(&w, unbound, &b, &res);
    receive_from_collect(&w, r, &res);
    CHECK_EQ(res.status, STATUS_INVALID_DEVICE_STATE);
    CHECK_EQ(wt_close(&t, unbound), STATUS_SUCCESS);

    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    CHECK_EQ(d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, 0, NULL, NULL), STATUS_INVALID_PARAMETER); /* no IRP */
    r = d->WskSendTo(s, &b, 1, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER); /* Flags are reserved */
    r = d->WskSendTo(s, NULL, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    WSK_BUF too_long = {m, 0, sizeof(buf) + 1};
    CHECK_EQ(send_to(&t, s, &too_long, (PSOCKADDR)&to), STATUS_INVALID_PARAMETER); /* past the MDL chain */
    WSK_BUF no_mdl = {NULL, 0, 4};
    CHECK_EQ(send_to(&t, s, &no_mdl, (PSOCKADDR)&to), STATUS_INVALID_PARAMETER);
    SOCKADDR_IN6 v6 = wt_in6("::1", 9);
    CHECK_EQ(send_to(&t, s, &b, (PSOCKADDR)&v6), STATUS_INVALID_ADDRESS);
    r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, 4, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER); /* a length without control data */
    CHECK_EQ(d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    r = d->WskReceiveFrom(s, &b, 2, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = d->WskReceiveFrom(s, &too_long, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    wt_irp_free(&w);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* WskSendMessages: each WSK_BUF_LIST element is one datagram, in order;
 * every element is checked before any is sent. */
static void send_messages_list(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(peer));
    const SIZE_T sizes[5] = {1, 100, 1472, 30000, 3};
    chained c[5];
    WSK_BUF_LIST list[5];
    SIZE_T total = 0;
    for (int i = 0; i < 5; i++) {
        chained_make(&c[i], sizes[i]);
        for (SIZE_T k = 0; k < sizes[i]; k++)
            chained_data(&c[i])[k] = peer_pattern(k + (SIZE_T)i * 11);
        list[i].Buffer = c[i].buf;
        list[i].Next = i < 4 ? &list[i + 1] : NULL;
        total += sizes[i];
    }
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendMessages(s, list, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, total);
    static UCHAR got[65536];
    for (int i = 0; i < 5; i++) {
        USHORT from = 0;
        CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), &from, 2000), (long)sizes[i]);
        CHECK_EQ(from, port);
        CHECK_MEM(got, chained_data(&c[i]), sizes[i]);
    }
    /* A bad third element: nothing goes out. */
    PMDL saved = list[2].Buffer.Mdl;
    list[2].Buffer.Length = 1 << 20; /* past its MDL chain */
    r = d->WskSendMessages(s, list, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), NULL, 100), -ETIMEDOUT);
    list[2].Buffer.Length = sizes[2];
    list[2].Buffer.Mdl = saved;
    /* A datagram too large for UDP part-way: the ones before it went out. */
    chained big;
    chained_make(&big, MAX_UDP4 + 1);
    list[1].Next = NULL;
    WSK_BUF_LIST tail = {NULL, big.buf};
    list[1].Next = &tail;
    r = d->WskSendMessages(s, list, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_BUFFER_SIZE);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizes[0] + sizes[1]);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), NULL, 2000), (long)sizes[0]);
    CHECK_EQ(peer_udp_recv(peer, got, sizeof(got), NULL, 2000), (long)sizes[1]);
    r = d->WskSendMessages(s, NULL, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    chained_free(&big);
    for (int i = 0; i < 5; i++)
        chained_free(&c[i]);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* IP_PKTINFO / IPV6_PKTINFO: each datagram carries its destination and
 * arrival interface, in Windows' CMSGHDR layout with Windows' values. */
static void packet_info_control_data(ADDRESS_FAMILY family)
{
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, family, ip, &port);
    ULONG level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    CHECK_EQ(wt_set_ulong(&t, s, level, family == AF_INET ? IP_PKTINFO : IPV6_PKTINFO, 1), STATUS_SUCCESS);
    UCHAR in[8];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(in)};
    _Alignas(8) UCHAR control[64];
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    CHECK_EQ(peer_udp_sendto(family == AF_INET ? 4 : 6, ip, port, "pk", 2), 0);
    ULONG length = sizeof(control), flags = 0xFF;
    NTSTATUS r = d->WskReceiveFrom(s, &b, 0, NULL, &length, (PCMSGHDR)control, &flags, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(flags, 0);
    PCMSGHDR c = (PCMSGHDR)control;
    if (family == AF_INET) {
        CHECK_EQ(length, WSA_CMSG_SPACE(sizeof(IN_PKTINFO)));
        CHECK_EQ(c->cmsg_len, WSA_CMSG_LEN(sizeof(IN_PKTINFO)));
        CHECK_EQ(c->cmsg_level, IPPROTO_IP);
        CHECK_EQ(c->cmsg_type, IP_PKTINFO);
        IN_PKTINFO *pi = (IN_PKTINFO *)WSA_CMSG_DATA(c);
        CHECK_EQ(pi->ipi_addr.s_addr, RtlUlongByteSwap(0x7F000001));
        CHECK(pi->ipi_ifindex != 0);
    } else {
        CHECK_EQ(length, WSA_CMSG_SPACE(sizeof(IN6_PKTINFO)));
        CHECK_EQ(c->cmsg_len, WSA_CMSG_LEN(sizeof(IN6_PKTINFO)));
        CHECK_EQ(c->cmsg_level, IPPROTO_IPV6);
        CHECK_EQ(c->cmsg_type, IPV6_PKTINFO);
        IN6_PKTINFO *pi = (IN6_PKTINFO *)WSA_CMSG_DATA(c);
        CHECK_EQ(pi->ipi6_addr.u.Byte[15], 1);
        CHECK(pi->ipi6_ifindex != 0);
    }
    /* No room for it: nothing written, MSG_CTRUNC, the data still whole. */
    CHECK_EQ(peer_udp_sendto(family == AF_INET ? 4 : 6, ip, port, "pk", 2), 0);
    length = 8;
    r = d->WskReceiveFrom(s, &b, 0, NULL, &length, (PCMSGHDR)control, &flags, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 2);
    CHECK_EQ(length, 0);
    CHECK_EQ(flags, MSG_CTRUNC);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* IN_PKTINFO on a send picks the source address, as in WSASendMsg;
 * malformed or untranslated control data is refused before anything leaves. */
static void packet_info_on_send(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "0.0.0.0", &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(peer));
    UCHAR msg[4] = {'s', 'r', 'c', '!'};
    PMDL m = IoAllocateMdl(msg, 4, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, 4};
    _Alignas(8) UCHAR control[WSA_CMSG_SPACE(sizeof(IN_PKTINFO))];
    memset(control, 0, sizeof(control));
    PCMSGHDR c = (PCMSGHDR)control;
    c->cmsg_len = WSA_CMSG_LEN(sizeof(IN_PKTINFO));
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    IN_PKTINFO *pi = (IN_PKTINFO *)WSA_CMSG_DATA(c);
    pi->ipi_addr.s_addr = RtlUlongByteSwap(0x7F000002); /* 127.0.0.2: loopback, not the default source */
    pi->ipi_ifindex = 0;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, sizeof(control), c, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    UCHAR got[8];
    unsigned int source = 0;
    CHECK_EQ(peer_udp_recv_source4(peer, got, sizeof(got), &source, 2000), 4);
    CHECK_EQ(source, 0x7F000002u);
    /* A length shorter than a header, then a kind not translated: refused. */
    c->cmsg_len = 8;
    r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, sizeof(control), c, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    c->cmsg_len = WSA_CMSG_LEN(sizeof(IN_PKTINFO));
    c->cmsg_type = IP_TOS;
    r = d->WskSendTo(s, &b, 0, (PSOCKADDR)&to, sizeof(control), c, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_udp_recv_source4(peer, got, sizeof(got), &source, 100), -ETIMEDOUT);
    /* The same control data for every datagram of a WskSendMessages. */
    c->cmsg_type = IP_PKTINFO;
    WSK_BUF_LIST second = {NULL, b}, first = {&second, b};
    r = d->WskSendMessages(s, &first, 0, (PSOCKADDR)&to, sizeof(control), c, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(peer_udp_recv_source4(peer, got, sizeof(got), &source, 2000), 4);
        CHECK_EQ(source, 0x7F000002u);
    }
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

static void packet_info_ipv4(void)
{
    packet_info_control_data(AF_INET);
}

static void packet_info_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    packet_info_control_data(AF_INET6);
}

/* SO_BROADCAST: off by default (a broadcast send is STATUS_ACCESS_DENIED),
 * IRP required for set and get. */
static void broadcast_needs_so_broadcast(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    ULONG v = 7;
    SIZE_T n = 0;
    CHECK_EQ(d->WskControlSocket(s, WskGetOption, SO_BROADCAST, SOL_SOCKET, 0, NULL, sizeof(v), &v, &n, NULL),
             STATUS_INVALID_PARAMETER);
    NTSTATUS r = d->WskControlSocket(s, WskGetOption, SO_BROADCAST, SOL_SOCKET, 0, NULL, sizeof(v), &v, &n,
                                     wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    UCHAR msg[3] = {'b', 'c', '!'};
    PMDL m = IoAllocateMdl(msg, 3, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, 3};
    SOCKADDR_IN bcast = wt_in4("127.255.255.255", port); /* the loopback network's broadcast address */
    CHECK_EQ(send_to(&t, s, &b, (PSOCKADDR)&bcast), STATUS_ACCESS_DENIED);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_BROADCAST, 1), STATUS_SUCCESS);
    r = d->WskControlSocket(s, WskGetOption, SO_BROADCAST, SOL_SOCKET, 0, NULL, sizeof(v), &v, &n,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK(v != 0);
    CHECK_EQ(send_to(&t, s, &b, (PSOCKADDR)&bcast), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 3);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static USHORT icmp_checksum(const UCHAR *p, SIZE_T len)
{
    ULONG sum = 0;
    for (SIZE_T i = 0; i + 1 < len; i += 2)
        sum += (ULONG)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (ULONG)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (USHORT)~sum;
}

/* Raw datagram sockets: an ICMP echo to 127.0.0.1 and its reply (with the
 * IPv4 header in front, as on Windows); without the privilege, WskSocket
 * fails with STATUS_ACCESS_DENIED as Windows does for non-administrators. */
static void raw_icmp_echo(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_RAW, IPPROTO_ICMP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    if (!peer_can_open_raw()) {
        CHECK_EQ(st, STATUS_ACCESS_DENIED);
        CHECK(s == NULL);
        wt_wsk_close(&t);
        return;
    }
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN local = wt_in4("127.0.0.1", 0), to = wt_in4("127.0.0.1", 0);
    CHECK_EQ(wt_bind(&t, s, &local), STATUS_SUCCESS);
    UCHAR echo[16] = {8, 0, 0, 0, 0x4F, 0x57, 0x00, 0x01, 'o', 'p', 'e', 'n', 'w', 's', 'k', '!'};
    USHORT sum = icmp_checksum(echo, sizeof(echo));
    echo[2] = (UCHAR)(sum >> 8);
    echo[3] = (UCHAR)sum;
    PMDL m = IoAllocateMdl(echo, sizeof(echo), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(echo)};
    CHECK_EQ(send_to(&t, s, &b, (PSOCKADDR)&to), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(echo));
    /* Our own request comes by as well; look for the reply. */
    static UCHAR in[256];
    PMDL mi = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mi);
    WSK_BUF inb = {mi, 0, sizeof(in)};
    BOOLEAN replied = FALSE;
    for (int i = 0; i < 8 && !replied; i++) {
        recv_result res;
        wt_irp w = {0};
        NTSTATUS r = receive_from_start(&w, s, &inb, &res);
        receive_from_collect(&w, r, &res);
        wt_irp_free(&w);
        if (res.status != STATUS_SUCCESS || res.information < 20 + sizeof(echo))
            break;
        SIZE_T ihl = (SIZE_T)(in[0] & 0x0F) * 4;
        CHECK_EQ(in[0] >> 4, 4); /* the IPv4 header comes first */
        const UCHAR *icmp = in + ihl;
        if (icmp[0] == 0 && memcmp(icmp + 4, echo + 4, sizeof(echo) - 4) == 0) {
            replied = TRUE;
            CHECK_EQ(((SOCKADDR_IN *)&res.from)->sin_addr.s_addr, RtlUlongByteSwap(0x7F000001));
        }
    }
    CHECK(replied);
    IoFreeMdl(m);
    IoFreeMdl(mi);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(send_to_linux_peer_every_size);
    WT_RUN(receive_from_linux_peer_every_size);
    WT_RUN(truncated_datagram);
    WT_RUN(fixed_addresses);
    WT_RUN(send_messages_list);
    WT_RUN(broadcast_needs_so_broadcast);
    WT_RUN(packet_info_ipv4);
    WT_RUN(packet_info_on_send);
    WT_RUN(packet_info_ipv6);
    WT_RUN(ipv6_round_trip);
    WT_RUN(cancel_and_close_pending_receive);
    WT_RUN(raw_icmp_echo);
    WT_RUN(bad_inputs);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
