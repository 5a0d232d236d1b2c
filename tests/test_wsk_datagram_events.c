/*
 * test_wsk_datagram_events.c - WskReceiveFromEvent and the datagram
 * WskRelease (wsk-part-b.md §7.4-§7.5): a UDP echo written the WSK way
 * (retain the indication, send it back from the provider's buffer, release
 * it when the send completes) serving Linux clients on IPv4 and IPv6;
 * retention released in any order with Next rewritten by the client;
 * STATUS_DATA_NOT_ACCEPTED disabling the event and keeping the datagram;
 * static enabling; bad input.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>
#include <ws2ipdef.h>
#include <unistd.h>

#include "kernel/verifier.h"
#include "linux_peer.h"
#include "wt_wsk.h"

typedef struct dg_log {
    pthread_mutex_t mu;
    KEVENT arrived;
    PWSK_SOCKET socket;
    BOOLEAN echo;          /* send each datagram back to its sender */
    NTSTATUS answer;       /* otherwise: what the callback returns */
    LONG indications;
    LONG echo_failures;
    PWSK_DATAGRAM_INDICATION held[8];
    int nheld;
    char last[64];
    SIZE_T last_len;
    ULONG control_len;     /* of the last indication */
    INT control_level, control_type;
} dg_log;

typedef struct echo_send {
    dg_log *log;
    PWSK_DATAGRAM_INDICATION indication;
} echo_send;

static NTSTATUS echo_sent(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    echo_send *e = context;
    if (!NT_SUCCESS(irp->IoStatus.Status) || irp->IoStatus.Information != e->indication->Buffer.Length)
        InterlockedIncrement(&e->log->echo_failures);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = e->log->socket->Dispatch;
    if (d->WskRelease(e->log->socket, e->indication) != STATUS_SUCCESS)
        InterlockedIncrement(&e->log->echo_failures);
    IoFreeIrp(irp);
    ExFreePool(e);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI on_receive_from(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    dg_log *log = SocketContext;
    CHECK(Flags & WSK_FLAG_AT_DISPATCH_LEVEL);
    CHECK(DataIndication != NULL);
    InterlockedIncrement(&log->indications);
    if (log->echo) {
        /* Zero-copy echo: the datagram goes back from the provider's buffer. */
        echo_send *e = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*e), 'ohcE');
        PIRP irp = IoAllocateIrp(1, FALSE);
        e->log = log;
        e->indication = DataIndication;
        IoSetCompletionRoutine(irp, echo_sent, e, TRUE, TRUE, TRUE);
        const WSK_PROVIDER_DATAGRAM_DISPATCH *d = log->socket->Dispatch;
        d->WskSendTo(log->socket, &DataIndication->Buffer, 0, DataIndication->RemoteAddress, 0, NULL, irp);
        return STATUS_PENDING;
    }
    pthread_mutex_lock(&log->mu);
    PUCHAR va = MmGetSystemAddressForMdlSafe(DataIndication->Buffer.Mdl, NormalPagePriority);
    SIZE_T n = DataIndication->Buffer.Length < sizeof(log->last) ? DataIndication->Buffer.Length : sizeof(log->last);
    memcpy(log->last, va + DataIndication->Buffer.Offset, n);
    log->last_len = DataIndication->Buffer.Length;
    log->control_len = DataIndication->ControlInfoLength;
    if (DataIndication->ControlInfo != NULL) {
        log->control_level = DataIndication->ControlInfo->cmsg_level;
        log->control_type = DataIndication->ControlInfo->cmsg_type;
    }
    NTSTATUS answer = log->answer;
    if (answer == STATUS_PENDING && log->nheld < 8)
        log->held[log->nheld++] = DataIndication;
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return answer;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH datagram_events = {on_receive_from};

static void log_init(dg_log *log)
{
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->mu, NULL);
    KeInitializeEvent(&log->arrived, SynchronizationEvent, FALSE);
    log->answer = STATUS_SUCCESS;
}

static BOOLEAN arrived(dg_log *log)
{
    LARGE_INTEGER t = {.QuadPart = -2000LL * 10000};
    return KeWaitForSingleObject(&log->arrived, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

static NTSTATUS set_events(PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                               NULL, NULL, NULL);
}

/* A datagram socket with event dispatch, bound to ip:0. */
static PWSK_SOCKET event_socket(wt_wsk *t, dg_log *log, ADDRESS_FAMILY family, const char *ip, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(t, family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, log, &datagram_events,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    log->socket = s;
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_INVALID_DEVICE_STATE); /* not bound yet */
    if (family == AF_INET) {
        SOCKADDR_IN a = wt_in4(ip, 0), local;
        CHECK_EQ(wt_bind(t, s, &a), STATUS_SUCCESS);
        CHECK_EQ(wt_local_address(t, s, &local), STATUS_SUCCESS);
        *port = RtlUshortByteSwap(local.sin_port);
    } else {
        SOCKADDR_IN6 a = wt_in6(ip, 0), local;
        CHECK_EQ(wt_bind(t, s, &a), STATUS_SUCCESS);
        CHECK_EQ(wt_local_address(t, s, &local), STATUS_SUCCESS);
        *port = RtlUshortByteSwap(local.sin6_port);
    }
    return s;
}

/* The UDP echo: 3,000 datagrams of every size up to 1,472 bytes from a
 * Linux client, each echoed byte-exact to its sender. */
static void udp_echo_over(ADDRESS_FAMILY family)
{
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    int peer_family = family == AF_INET ? 4 : 6;
    wt_wsk t;
    wt_wsk_open(&t);
    dg_log log;
    log_init(&log);
    log.echo = TRUE;
    USHORT port;
    PWSK_SOCKET s = event_socket(&t, &log, family, ip, &port);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    int client = peer_udp_bind(peer_family, ip, 0);
    static UCHAR out[1472], in[2048];
    const int rounds = 3000;
    int echoed = 0;
    for (int i = 0; i < rounds; i++) {
        size_t len = 1 + (size_t)(i * 37) % sizeof(out);
        for (size_t k = 0; k < len; k++)
            out[k] = peer_pattern(k + (size_t)i);
        CHECK_EQ(peer_udp_send_from(client, peer_family, ip, port, out, len), (long)len);
        USHORT from = 0;
        long n = peer_udp_recv(client, in, sizeof(in), &from, 2000);
        if (n == (long)len && from == port && memcmp(in, out, len) == 0)
            echoed++;
    }
    CHECK_EQ(echoed, rounds);
    CHECK_EQ(log.echo_failures, 0);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(client);
    wt_wsk_close(&t);
}

static void udp_echo_ipv4(void)
{
    udp_echo_over(AF_INET);
}

static void udp_echo_ipv6(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
        return;
    }
    udp_echo_over(AF_INET6);
}

/* 100,000 datagrams through WskReceiveFromEvent, none lost or damaged:
 * the Linux sender keeps at most 64 ahead of the indications, as a
 * flow-controlled protocol would, so the socket buffer never overflows and
 * every loss would be the provider's. */
#define MANY_DATAGRAMS 100000
#define MANY_WINDOW 64

typedef struct many_log {
    volatile LONG indications;
    volatile LONG damaged;
    volatile LONG duplicates;
    UCHAR seen[MANY_DATAGRAMS];
} many_log;

static SIZE_T many_size(unsigned seq)
{
    return 4 + (seq * 7919u) % 509u; /* 4 to 512 bytes */
}

static NTSTATUS WSKAPI count_datagram(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    (void)Flags;
    many_log *log = SocketContext;
    for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        unsigned seq;
        memcpy(&seq, va, 4);
        BOOLEAN ok = i->Buffer.Length >= 4 && seq < MANY_DATAGRAMS && i->Buffer.Length == many_size(seq);
        for (SIZE_T k = 4; ok && k < i->Buffer.Length; k++)
            ok = va[k] == peer_pattern(k + seq);
        if (!ok)
            InterlockedIncrement(&log->damaged);
        else if (log->seen[seq]++ != 0)
            InterlockedIncrement(&log->duplicates);
        InterlockedIncrement(&log->indications);
    }
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH counting_events = {count_datagram};

static void hundred_thousand_datagrams(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    static many_log log;
    memset(&log, 0, sizeof(log));
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &log,
                                   &counting_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, s, &a), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin_port);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    int client = peer_udp_bind(4, "127.0.0.1", 0);
    static UCHAR out[512];
    ULONGLONG deadline = KeQueryInterruptTime() + 100ULL * 10000000; /* 100 s, for the sanitizers */
    BOOLEAN stalled = FALSE;
    for (unsigned seq = 0; seq < MANY_DATAGRAMS && !stalled; seq++) {
        while ((LONG)seq - InterlockedCompareExchange(&log.indications, 0, 0) >= MANY_WINDOW && !stalled) {
            stalled = KeQueryInterruptTime() > deadline;
            usleep(20);
        }
        SIZE_T len = many_size(seq);
        memcpy(out, &seq, 4);
        for (SIZE_T k = 4; k < len; k++)
            out[k] = peer_pattern(k + seq);
        CHECK_EQ(peer_udp_send_from(client, 4, "127.0.0.1", port, out, len), (long)len);
    }
    while (InterlockedCompareExchange(&log.indications, 0, 0) < MANY_DATAGRAMS && !stalled) {
        stalled = KeQueryInterruptTime() > deadline;
        usleep(100);
    }
    CHECK(!stalled);
    /* With an IRP: the last indication may still be returning (it counted
     * itself first), and the disable then waits for it. */
    WSK_EVENT_CALLBACK_CONTROL off = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE_FROM};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(off), &off, 0, NULL,
                                     NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(log.indications, MANY_DATAGRAMS);
    CHECK_EQ(log.damaged, 0);
    CHECK_EQ(log.duplicates, 0);
    int missing = 0;
    for (unsigned i = 0; i < MANY_DATAGRAMS; i++)
        missing += log.seen[i] != 1;
    CHECK_EQ(missing, 0);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(client);
    wt_wsk_close(&t);
}

/* Retained indications stay valid until released, in any order, even
 * after the client reused their Next links. */
static void retention_released_in_any_order(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    dg_log log;
    log_init(&log);
    log.answer = STATUS_PENDING;
    USHORT port;
    PWSK_SOCKET s = event_socket(&t, &log, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    const char *msgs[4] = {"alpha", "bravo", "charlie", "delta"};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, msgs[i], strlen(msgs[i])), 0);
        CHECK(arrived(&log));
    }
    pthread_mutex_lock(&log.mu);
    int n = log.nheld;
    PWSK_DATAGRAM_INDICATION held[4];
    memcpy(held, log.held, sizeof(held));
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(n, 4);
    /* Every buffer still holds its datagram. */
    for (int i = 0; i < 4; i++) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(held[i]->Buffer.Mdl, NormalPagePriority);
        CHECK_EQ(held[i]->Buffer.Length, strlen(msgs[i]));
        CHECK_MEM(va + held[i]->Buffer.Offset, msgs[i], strlen(msgs[i]));
    }
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    /* Released one by one, out of order... */
    CHECK_EQ(d->WskRelease(s, held[2]), STATUS_SUCCESS);
    CHECK_EQ(d->WskRelease(s, held[0]), STATUS_SUCCESS);
    /* A second release is refused (the verifier's wsk group stops it instead). */
    BOOLEAN again = !(openwsk_verify_enabled_groups() & OPENWSK_VERIFY_WSK);
    if (again)
        CHECK_EQ(d->WskRelease(s, held[0]), STATUS_INVALID_PARAMETER); /* released already */
    /* ...and the rest as one list the client linked its own way: WskRelease
     * takes back every element of the list it is given. */
    held[3]->Next = held[1];
    held[1]->Next = NULL;
    CHECK_EQ(d->WskRelease(s, held[3]), STATUS_SUCCESS);
    if (again)
        CHECK_EQ(d->WskRelease(s, held[1]), STATUS_INVALID_PARAMETER);
    CHECK_EQ(d->WskRelease(s, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* STATUS_DATA_NOT_ACCEPTED disables an event enabled per socket; the
 * refused datagram is kept and goes to the next WskReceiveFrom; enabling
 * again resumes indications with what waited. */
static void not_accepted_disables_the_event(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    dg_log log;
    log_init(&log);
    log.answer = STATUS_DATA_NOT_ACCEPTED;
    USHORT port;
    PWSK_SOCKET s = event_socket(&t, &log, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    NTSTATUS st;
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "first", 5), 0);
    CHECK(arrived(&log));
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "second", 6), 0);
    UCHAR in[16];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(in)};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 5);
    CHECK_MEM(in, "first", 5);
    CHECK_EQ(log.indications, 1);
    /* Enabled again: indications resume, with the datagram that waited. */
    pthread_mutex_lock(&log.mu);
    log.answer = STATUS_SUCCESS;
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK(arrived(&log));
    pthread_mutex_lock(&log.mu);
    CHECK_EQ(log.last_len, 6);
    CHECK_MEM(log.last, "second", 6);
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "third", 5), 0);
    CHECK(arrived(&log));
    pthread_mutex_lock(&log.mu);
    CHECK_EQ(log.last_len, 5);
    CHECK_MEM(log.last, "third", 5);
    pthread_mutex_unlock(&log.mu);
    /* Disabled explicitly: datagrams wait for WskReceiveFrom again. */
    /* (STATUS_EVENT_PENDING if the last indication has not returned yet.) */
    st = set_events(s, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE);
    CHECK(st == STATUS_SUCCESS || st == STATUS_EVENT_PENDING);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "fourth", 6), 0);
    r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_MEM(in, "fourth", 6);
    CHECK_EQ(log.indications, 3);
    IoFreeMdl(m);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* With the event on, a queued WskReceiveFrom gets the next datagram first;
 * cancelling one leaves the event path working. */
static void queued_receive_comes_first(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    dg_log log;
    log_init(&log);
    USHORT port;
    PWSK_SOCKET s = event_socket(&t, &log, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    UCHAR in[4];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(in)};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    SOCKADDR_IN from;
    ULONG control_length = 0, flags = 0;
    NTSTATUS r = d->WskReceiveFrom(s, &b, 0, (PSOCKADDR)&from, &control_length, NULL, &flags, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "queued!", 7), 7);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_BUFFER_OVERFLOW); /* 7 bytes into 4 */
    CHECK_EQ(t.irp.irp->IoStatus.Information, 4);
    CHECK_MEM(in, "queu", 4);
    CHECK_EQ(flags, MSG_TRUNC);
    CHECK_EQ(RtlUshortByteSwap(from.sin_port), peer_local_port(peer));
    CHECK_EQ(log.indications, 0);
    /* A cancelled one completes once; the next datagram is indicated. */
    r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    IoCancelIrp(t.irp.irp);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CANCELLED);
    CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, "event", 5), 5);
    CHECK(arrived(&log));
    pthread_mutex_lock(&log.mu);
    CHECK_MEM(log.last, "event", 5);
    pthread_mutex_unlock(&log.mu);
    /* Closing with one queued: cancelled. */
    wt_irp w = {0};
    r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&w));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&w, r), STATUS_CANCELLED);
    wt_irp_free(&w);
    IoFreeMdl(m);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* With IP_PKTINFO on, indications carry the object in ControlInfo. */
static void indication_carries_packet_info(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    dg_log log;
    log_init(&log);
    USHORT port;
    PWSK_SOCKET s = event_socket(&t, &log, AF_INET, "127.0.0.1", &port);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IP, IP_PKTINFO, 1), STATUS_SUCCESS);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "info", 4), 0);
    CHECK(arrived(&log));
    pthread_mutex_lock(&log.mu);
    CHECK_EQ(log.control_len, WSA_CMSG_SPACE(sizeof(IN_PKTINFO)));
    CHECK_EQ(log.control_level, IPPROTO_IP);
    CHECK_EQ(log.control_type, IP_PKTINFO);
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

/* WSK_SET_STATIC_EVENT_CALLBACKS with WSK_EVENT_RECEIVE_FROM: indications
 * start at bind, DATA_NOT_ACCEPTED does not stop them, and the socket
 * refuses SO_WSK_EVENT_CALLBACK. */
static void static_receive_from(void)
{
    WSK_CLIENT_NPI npi = {NULL, &wt_client_dispatch};
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI p;
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &p), STATUS_SUCCESS);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    CHECK_EQ(p.Dispatch->WskControlClient(p.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(control), &control, 0,
                                          NULL, NULL, NULL),
             STATUS_SUCCESS);
    dg_log log;
    log_init(&log);
    log.answer = STATUS_DATA_NOT_ACCEPTED;
    wt_irp irp = {0};
    NTSTATUS r = p.Dispatch->WskSocket(p.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &log,
                                       &datagram_events, NULL, NULL, NULL, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)irp.irp->IoStatus.Information;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0), local;
    r = d->WskBind(s, (PSOCKADDR)&a, 0, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    r = d->WskGetLocalAddress(s, (PSOCKADDR)&local, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin_port);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "one", 3), 0);
    CHECK(arrived(&log));
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, "two", 3), 0);
    CHECK(arrived(&log));
    CHECK_EQ(log.indications, 2);
    r = d->WskCloseSocket(s, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    /* A socket made without a callback table gets the static event too, but
     * nothing to call: its datagrams wait for WskReceiveFrom. */
    r = p.Dispatch->WskSocket(p.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL,
                              NULL, NULL, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    s = (PWSK_SOCKET)irp.irp->IoStatus.Information;
    d = s->Dispatch;
    r = d->WskBind(s, (PSOCKADDR)&a, 0, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    r = d->WskGetLocalAddress(s, (PSOCKADDR)&local, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port), "plain", 5), 0);
    UCHAR in[8];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(in)};
    r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    CHECK_MEM(in, "plain", 5);
    IoFreeMdl(m);
    r = d->WskCloseSocket(s, wt_irp_arm(&irp));
    CHECK_EQ(wt_irp_result(&irp, r), STATUS_SUCCESS);
    wt_irp_free(&irp);
    WskReleaseProviderNPI(&reg);
    WskDeregister(&reg);
}

static void enabling_needs_the_callback(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0);
    CHECK_EQ(wt_bind(&t, s, &a), STATUS_SUCCESS);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_INVALID_PARAMETER); /* no dispatch table */
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_INVALID_PARAMETER);      /* not a datagram event */
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(udp_echo_ipv4);
    WT_RUN(udp_echo_ipv6);
    WT_RUN(hundred_thousand_datagrams);
    WT_RUN(retention_released_in_any_order);
    WT_RUN(not_accepted_disables_the_event);
    WT_RUN(queued_receive_comes_first);
    WT_RUN(indication_carries_packet_info);
    WT_RUN(static_receive_from);
    WT_RUN(enabling_needs_the_callback);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
