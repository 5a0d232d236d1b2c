/*
 * test_wsk_steady_state.c - what a long-running WSK driver relies on:
 * the data path allocates nothing once warm (docs/decisions.md: requests
 * are reused from a per-socket free list), WskCloseSocket cancels pending
 * receives (STATUS_CANCELLED, Information 0) before its own completion,
 * basic UDP and raw sockets answer WskControlSocket and close, and a
 * connect whose allocations fail reports STATUS_INSUFFICIENT_RESOURCES,
 * completes its IRP exactly once and leaks nothing (wsk-part-a.md §6,
 * wsk-part-b.md §5, §9, §10).
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wsk/wsk_internal.h"
#include "wt_wsk.h"

#define TAG_DATA TAG_FROM_CHARS('T', 's', 't', 'y')

static const WSK_PROVIDER_CONNECTION_DISPATCH *conn(PWSK_SOCKET s)
{
    return s->Dispatch;
}

/* A nonpaged buffer described by one MDL, as drivers keep per connection. */
typedef struct buffer {
    PUCHAR data;
    ULONG size;
    PMDL mdl;
} buffer;

static void buffer_make(buffer *b, ULONG size)
{
    b->size = size;
    b->data = ExAllocatePoolWithTag(NonPagedPoolNx, size, TAG_DATA);
    b->mdl = IoAllocateMdl(b->data, size, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(b->mdl);
}

static void buffer_free(buffer *b)
{
    IoFreeMdl(b->mdl);
    ExFreePoolWithTag(b->data, TAG_DATA);
}

/* WskSocket + WskBind(0.0.0.0:0) + WskConnect(127.0.0.1:port). */
static PWSK_SOCKET connect_to(wt_wsk *t, USHORT port, NTSTATUS *status)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    if (s == NULL) {
        *status = st;
        return NULL;
    }
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", port);
    CHECK_EQ(wt_bind(t, s, &any), STATUS_SUCCESS);
    NTSTATUS r = conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t->irp));
    *status = wt_irp_result(&t->irp, r);
    return s;
}

/* ---- (a) the warm data path allocates nothing ---- */

/* One round trip: WskSend `len` bytes, the peer reads them and answers
 * with each byte inverted, WskReceive takes the answer into the same
 * buffer.  On odd rounds the receive is posted before the answer exists,
 * so both the pending and the immediate paths are measured. */
static int round_trip(wt_wsk *t, PWSK_SOCKET s, buffer *b, int peer, ULONG len, int round)
{
    UCHAR seen[256], answer[256];
    for (ULONG i = 0; i < len; i++)
        b->data[i] = (UCHAR)(round * 31 + i);
    WSK_BUF wb = {b->mdl, 0, len};
    NTSTATUS r = conn(s)->WskSend(s, &wb, 0, wt_irp_arm(&t->irp));
    if (wt_irp_result(&t->irp, r) != STATUS_SUCCESS || t->irp.irp->IoStatus.Information != len)
        return 0;
    if (peer_recv_exact(peer, seen, len, 2000) != (long)len)
        return 0;
    for (ULONG i = 0; i < len; i++) {
        if (seen[i] != (UCHAR)(round * 31 + i))
            return 0;
        answer[i] = (UCHAR)~seen[i];
    }
    BOOLEAN post_first = round & 1;
    if (!post_first && peer_send_all(peer, answer, len) != (long)len)
        return 0;
    ULONG got = 0;
    while (got < len) {
        WSK_BUF rb = {b->mdl, got, len - got};
        r = conn(s)->WskReceive(s, &rb, 0, wt_irp_arm(&t->irp));
        if (post_first && got == 0) {
            if (r != STATUS_PENDING)
                return 0; /* nothing could have arrived yet */
            if (peer_send_all(peer, answer, len) != (long)len)
                return 0;
        }
        if (wt_irp_result(&t->irp, r) != STATUS_SUCCESS || t->irp.irp->IoStatus.Information == 0)
            return 0;
        got += (ULONG)t->irp.irp->IoStatus.Information;
    }
    return got == len && memcmp(b->data, answer, len) == 0;
}

static void data_path_allocates_nothing_when_warm(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(lfd >= 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    CHECK(peer >= 0);
    if (s == NULL || st != STATUS_SUCCESS || peer < 0)
        return;
    buffer b;
    buffer_make(&b, 256);

    int ok = 0;
    for (int i = 0; i < 50; i++) /* warm-up: the socket's requests are made here */
        ok += round_trip(&t, s, &b, peer, 1 + (ULONG)(i * 37) % 200, i);
    CHECK_EQ(ok, 50);

    ULONGLONG allocations = openwsk_allocation_count();
    SIZE_T outstanding = openwsk_pool_outstanding_count(0);
    ok = 0;
    for (int i = 0; i < 2000; i++)
        ok += round_trip(&t, s, &b, peer, 1 + (ULONG)(i * 53) % 256, 50 + i);
    CHECK_EQ(ok, 2000);
    /* 4000 WSK calls on the same IRP (IoReuseIrp) and MDL: no allocation. */
    CHECK_EQ(openwsk_allocation_count(), allocations);
    CHECK_EQ(openwsk_pool_outstanding_count(0), outstanding);

    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    buffer_free(&b);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* ---- (b) close with two pending receives ---- */

typedef struct close_probe {
    wt_irp *rx[2];
    LONG rx_done_when_closed[2];
    int calls;
    BOOLEAN pending_returned;
    KEVENT done;
} close_probe;

static NTSTATUS close_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    close_probe *p = context;
    (void)device;
    p->rx_done_when_closed[0] = ReadAcquire(&p->rx[0]->completions);
    p->rx_done_when_closed[1] = ReadAcquire(&p->rx[1]->completions);
    p->pending_returned = irp->PendingReturned;
    p->calls++;
    KeSetEvent(&p->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void close_cancels_two_pending_receives(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    wt_irp_arm(&t.irp); /* the helpers' IRP exists before the baseline */
    SIZE_T pool_before = openwsk_pool_outstanding_count(0);
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    CHECK(peer >= 0);
    if (s == NULL || st != STATUS_SUCCESS)
        return;

    wt_irp rx[2];
    buffer b[2];
    memset(rx, 0, sizeof(rx));
    for (int i = 0; i < 2; i++) {
        buffer_make(&b[i], 128);
        memset(b[i].data, 0xEE, 128);
        WSK_BUF wb = {b[i].mdl, 0, 128};
        CHECK_EQ(conn(s)->WskReceive(s, &wb, 0, wt_irp_arm(&rx[i])), STATUS_PENDING);
    }
    usleep(10 * 1000);
    CHECK_EQ(rx[0].completions + rx[1].completions, 0); /* nothing to receive yet */

    /* The close, with a routine that records what had completed by then. */
    close_probe probe = {.rx = {&rx[0], &rx[1]}};
    KeInitializeEvent(&probe.done, NotificationEvent, FALSE);
    PIRP close_irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(close_irp, close_routine, &probe, TRUE, TRUE, TRUE);
    for (int i = 0; i < 64; i++)
        if (t.made[i].socket == s)
            t.made[i].socket = NULL;
    NTSTATUS r = conn(s)->WskCloseSocket(s, close_irp);
    CHECK_EQ(r, STATUS_PENDING); /* Windows pends closes */
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&probe.done, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    CHECK_EQ(probe.calls, 1);
    CHECK_EQ(probe.pending_returned, TRUE);
    CHECK_EQ(close_irp->IoStatus.Status, STATUS_SUCCESS);
    /* Both receives were completed before the close was. */
    CHECK_EQ(probe.rx_done_when_closed[0], 1);
    CHECK_EQ(probe.rx_done_when_closed[1], 1);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(wt_irp_result(&rx[i], STATUS_PENDING), STATUS_CANCELLED);
        CHECK_EQ(rx[i].irp->IoStatus.Information, 0);
        CHECK_EQ(b[i].data[0], 0xEE); /* nothing was written */
        wt_irp_free(&rx[i]);
        buffer_free(&b[i]);
    }
    IoFreeIrp(close_irp);
    /* A connection closed without a disconnect is reset. */
    CHECK_EQ(peer_drain(peer, 2000), -ECONNRESET);
    CHECK_EQ(openwsk_pool_outstanding_count(0), pool_before);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* ---- (c) basic sockets over UDP and raw IP ---- */

static NTSTATUS get_ulong(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG option, ULONG *value)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskGetOption, option, level, 0, NULL, sizeof(*value), value, NULL,
                                     wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static void basic_socket_ttl(wt_wsk *t, PWSK_SOCKET s)
{
    ULONG ttl = 0xFFFFFFFF;
    CHECK_EQ(get_ulong(t, s, IPPROTO_IP, IP_TTL, &ttl), STATUS_SUCCESS);
    CHECK_EQ(t->irp.irp->IoStatus.Information, sizeof(ULONG)); /* bytes returned, with an IRP */
    CHECK(ttl >= 1 && ttl <= 255);
    CHECK_EQ(ttl, (ULONG)peer_sockopt(((wsk_socket *)s)->fd, "IP_TTL")); /* the transport's value */
    CHECK_EQ(wt_set_ulong(t, s, IPPROTO_IP, IP_TTL, 77), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(t, s, IPPROTO_IP, IP_TTL, &ttl), STATUS_SUCCESS);
    CHECK_EQ(ttl, 77);
    CHECK_EQ(peer_sockopt(((wsk_socket *)s)->fd, "IP_TTL"), 77);
}

static void basic_udp_socket_controls_and_closes(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_BASIC_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    if (s != NULL) {
        basic_socket_ttl(&t, s);
        /* Basic sockets cannot bind; the cast table refuses (decisions.md). */
        SOCKADDR_IN any = wt_in4("0.0.0.0", 0);
        CHECK_EQ(wt_bind(&t, s, &any), STATUS_INVALID_DEVICE_REQUEST);
        CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    }
    CHECK_EQ(openwsk_pool_outstanding_count(WSK_TAG_SOCKET), 0);
    wt_wsk_close(&t);
}

static int raw_basic_socket(void *arg)
{
    NTSTATUS *out = arg;
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_RAW, IPPROTO_ICMP, WSK_FLAG_BASIC_SOCKET, &st);
    if (out != NULL)
        *out = st;
    if (s != NULL) {
        basic_socket_ttl(&t, s);
        CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    }
    wt_wsk_close(&t);
    return st == STATUS_ACCESS_DENIED && !wt_case_failed ? 0 : 1;
}

static void basic_raw_socket_controls_and_closes(void)
{
    NTSTATUS st = STATUS_PENDING;
    raw_basic_socket(&st);
    /* Raw sockets need CAP_NET_RAW (root); without it: access denied. */
    if (geteuid() == 0)
        CHECK_EQ(st, STATUS_SUCCESS);
    else
        CHECK(st == STATUS_SUCCESS || st == STATUS_ACCESS_DENIED);
    CHECK_EQ(openwsk_pool_outstanding_count(WSK_TAG_SOCKET), 0);
    if (geteuid() == 0) {
        int r = peer_run_unprivileged(raw_basic_socket, NULL);
        if (r < 0)
            fprintf(stderr, "  (privileges cannot be dropped here)\n");
        else
            CHECK_EQ(r, 0); /* the child saw STATUS_ACCESS_DENIED */
    }
}

/* ---- (d) connect under failure injection ---- */

static void connect_survives_allocation_failures(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(lfd >= 0);
    USHORT port = peer_local_port(lfd);
    SOCKADDR_IN remote = wt_in4("127.0.0.1", port), any = wt_in4("0.0.0.0", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;

    /* Reference: how many allocations a clean connect of a fresh socket makes. */
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    ULONGLONG before = openwsk_allocation_count();
    NTSTATUS r = conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    ULONGLONG connect_allocations = openwsk_allocation_count() - before;
    peer_close(peer_accept(lfd, 2000));
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);

    int failures = 0;
    for (LONG n = 1; n <= 4; n++) {
        SIZE_T pool_before = openwsk_pool_outstanding_count(0);
        s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
        CHECK_EQ(st, STATUS_SUCCESS);
        if (s == NULL)
            break;
        CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
        PIRP irp = wt_irp_arm(&t.irp); /* armed before injecting: no allocation left in it */
        openwsk_fault_fail_allocation(n);
        r = conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, irp);
        st = wt_irp_result(&t.irp, r); /* completed exactly once, whatever happened */
        openwsk_fault_fail_allocation(0);
        if (st != STATUS_SUCCESS && st != STATUS_INSUFFICIENT_RESOURCES)
            WT_FAIL("connect with allocation %d failing: 0x%x", (int)n, (unsigned)st);
        CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
        if (st == STATUS_INSUFFICIENT_RESOURCES) {
            failures++;
            /* Nothing was started: the same socket connects once memory is back. */
            r = conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
            CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
        }
        int peer = peer_accept(lfd, 2000);
        CHECK(peer >= 0);
        /* The connection works. */
        static const char ping[] = "ping";
        buffer b;
        buffer_make(&b, 16);
        memcpy(b.data, ping, sizeof(ping));
        WSK_BUF wb = {b.mdl, 0, sizeof(ping)};
        r = conn(s)->WskSend(s, &wb, 0, wt_irp_arm(&t.irp));
        CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
        char got[sizeof(ping)];
        CHECK_EQ(peer_recv_exact(peer, got, sizeof(ping), 2000), sizeof(ping));
        CHECK_MEM(got, ping, sizeof(ping));
        buffer_free(&b);
        CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
        peer_close(peer);
        CHECK_EQ(openwsk_pool_outstanding_count(0), pool_before);
    }
    /* If a connect allocates at all, failing its allocations must show. */
    fprintf(stderr, "  (a clean connect makes %llu allocation(s); %d injected failure(s) surfaced)\n",
            (unsigned long long)connect_allocations, failures);
    CHECK(connect_allocations == 0 || failures > 0);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static SIZE_T pool_at_start;

/* Every case cleaned up after itself: the pool is as it was at the start. */
static void nothing_left_behind(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), pool_at_start);
    if (openwsk_pool_outstanding_count(0) != pool_at_start)
        openwsk_leak_report();
}

int main(void)
{
    pool_at_start = openwsk_pool_outstanding_count(0);
    WT_RUN(data_path_allocates_nothing_when_warm);
    WT_RUN(close_cancels_two_pending_receives);
    WT_RUN(basic_udp_socket_controls_and_closes);
    WT_RUN(basic_raw_socket_controls_and_closes);
    WT_RUN(connect_survives_allocation_failures);
    WT_RUN(nothing_left_behind);
    return wt_finish();
}
