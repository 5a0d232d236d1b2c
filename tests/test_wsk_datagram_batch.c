/*
 * test_wsk_datagram_batch.c - datagrams in batches (wsk-part-b.md §7):
 * WskReceiveFromEvent indicates the datagrams waiting as one list (Next),
 * each with its own bytes and sender; a retained list is released whole or
 * in pieces with WskRelease; a list refused with STATUS_DATA_NOT_ACCEPTED
 * is kept, nothing lost; queued WskReceiveFrom calls still come first;
 * WskSendTo calls made from inside an indication reach the Linux peer all,
 * in order, each IRP completed once with its own Information; and
 * WskSendMessages to one destination delivers every datagram in order.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>

#include "kernel/verifier.h"
#include "linux_peer.h"
#include "wt_wsk.h"

#define MAX_SEEN 256

/* What the event saw, datagram by datagram, and where each list began. */
typedef struct batch_log {
    pthread_mutex_t mu;
    KEVENT arrived;
    PWSK_SOCKET socket;
    NTSTATUS answer;         /* what the callback returns (echo: STATUS_PENDING) */
    BOOLEAN refuse_once;     /* STATUS_DATA_NOT_ACCEPTED for the first list only */
    BOOLEAN echo;            /* WskSendTo of each datagram from inside the callback */
    volatile LONG lists;     /* callbacks */
    volatile LONG seen;      /* datagrams */
    LONG list_size[MAX_SEEN];
    SIZE_T len[MAX_SEEN];
    UCHAR first[MAX_SEEN];   /* each datagram's first byte: its index */
    BOOLEAN damaged;
    USHORT from_port[MAX_SEEN];
    PWSK_DATAGRAM_INDICATION held[MAX_SEEN]; /* list heads kept with STATUS_PENDING */
    int nheld;
    /* echo */
    volatile LONG completions, completion_failures;
    LONG recorded;
    LONG completed_index[MAX_SEEN]; /* the datagram index of each completion, in completion order */
} batch_log;

typedef struct echo_send {
    batch_log *log;
    PWSK_DATAGRAM_INDICATION indication;
    SIZE_T length;
    LONG index;
} echo_send;

static size_t batch_size_of(unsigned i)
{
    return 1 + (i * 131u) % 1400u;
}

static void batch_fill(UCHAR *out, unsigned i)
{
    size_t n = batch_size_of(i);
    out[0] = (UCHAR)i;
    for (size_t k = 1; k < n; k++)
        out[k] = peer_pattern(k + i);
}

static BOOLEAN batch_intact(const UCHAR *va, SIZE_T n)
{
    unsigned i = va[0];
    if (n != batch_size_of(i))
        return FALSE;
    for (size_t k = 1; k < n; k++)
        if (va[k] != peer_pattern(k + i))
            return FALSE;
    return TRUE;
}

static NTSTATUS echo_sent(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    echo_send *e = context;
    batch_log *log = e->log;
    if (irp->IoStatus.Status != STATUS_SUCCESS || irp->IoStatus.Information != e->length)
        InterlockedIncrement(&log->completion_failures);
    pthread_mutex_lock(&log->mu);
    LONG at = log->recorded++;
    if (at < MAX_SEEN)
        log->completed_index[at] = e->index;
    pthread_mutex_unlock(&log->mu);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = log->socket->Dispatch;
    if (d->WskRelease(log->socket, e->indication) != STATUS_SUCCESS)
        InterlockedIncrement(&log->completion_failures);
    IoFreeIrp(irp);
    ExFreePool(e);
    InterlockedIncrement(&log->completions);
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI on_list(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    batch_log *log = SocketContext;
    CHECK(Flags & WSK_FLAG_AT_DISPATCH_LEVEL);
    CHECK(DataIndication != NULL);
    pthread_mutex_lock(&log->mu);
    LONG count = 0;
    for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = i->Next)
        count++;
    LONG li = InterlockedCompareExchange(&log->lists, 0, 0);
    if (li < MAX_SEEN)
        log->list_size[li] = count;
    InterlockedIncrement(&log->lists);
    NTSTATUS answer = log->answer;
    if (log->refuse_once) {
        log->refuse_once = FALSE;
        answer = STATUS_DATA_NOT_ACCEPTED;
    }
    PWSK_DATAGRAM_INDICATION next;
    for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = next) {
        next = i->Next;
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        LONG at = InterlockedCompareExchange(&log->seen, 0, 0);
        if (answer != STATUS_DATA_NOT_ACCEPTED && at < MAX_SEEN) {
            log->len[at] = i->Buffer.Length;
            log->first[at] = i->Buffer.Length > 0 ? va[0] : 0xFF;
            if (!batch_intact(va, i->Buffer.Length))
                log->damaged = TRUE;
            CHECK_EQ(i->RemoteAddress->sa_family, AF_INET);
            log->from_port[at] = RtlUshortByteSwap(((PSOCKADDR_IN)i->RemoteAddress)->sin_port);
            CHECK(i->ControlInfo == NULL && i->ControlInfoLength == 0);
            InterlockedIncrement(&log->seen);
        }
        if (log->echo) {
            /* Each datagram goes back from the provider's buffer, released
             * on its own once its send completed. */
            echo_send *e = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*e), 'hcBT');
            PIRP irp = IoAllocateIrp(1, FALSE);
            e->log = log;
            e->indication = i;
            e->length = i->Buffer.Length;
            e->index = va[0];
            i->Next = NULL;
            IoSetCompletionRoutine(irp, echo_sent, e, TRUE, TRUE, TRUE);
            const WSK_PROVIDER_DATAGRAM_DISPATCH *d = log->socket->Dispatch;
            NTSTATUS r = d->WskSendTo(log->socket, &i->Buffer, 0, i->RemoteAddress, 0, NULL, irp);
            CHECK_EQ(r, STATUS_PENDING);
        }
    }
    if (answer == STATUS_PENDING && !log->echo && log->nheld < MAX_SEEN)
        log->held[log->nheld++] = DataIndication;
    pthread_mutex_unlock(&log->mu);
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return answer;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH batch_events = {on_list};

static void log_init(batch_log *log)
{
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->mu, NULL);
    KeInitializeEvent(&log->arrived, SynchronizationEvent, FALSE);
    log->answer = STATUS_SUCCESS;
}

/* Waits until `count` reaches `want` (2 s without progress: gives up). */
static BOOLEAN wait_for(batch_log *log, volatile LONG *count, LONG want)
{
    while (InterlockedCompareExchange(count, 0, 0) < want) {
        LARGE_INTEGER t = {.QuadPart = -2000LL * 10000};
        if (KeWaitForSingleObject(&log->arrived, Executive, KernelMode, FALSE, &t) != STATUS_SUCCESS)
            return InterlockedCompareExchange(count, 0, 0) >= want;
    }
    return TRUE;
}

static NTSTATUS set_events(PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                               NULL, NULL, NULL);
}

/* Returns once no callback of the event is running (a disable with an IRP
 * completes only then), leaving it disabled. */
static void wait_callback_returned(wt_wsk *t, PWSK_SOCKET s)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control,
                                     0, NULL, NULL, wt_irp_arm(&t->irp));
    CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
}

/* A datagram socket with the event table, bound to 127.0.0.1:0, event off. */
static PWSK_SOCKET batch_socket(wt_wsk *t, batch_log *log, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, log, &batch_events,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    log->socket = s;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(t, s, &a), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(t, s, &local), STATUS_SUCCESS);
    *port = RtlUshortByteSwap(local.sin_port);
    return s;
}

/* Datagrams first..first+count-1 from the peer socket (on loopback each is
 * in the WSK socket's receive queue when sendto returns). */
static void peer_send_range(int peer, USHORT port, unsigned first, unsigned count)
{
    static UCHAR out[1500];
    for (unsigned i = first; i < first + count; i++) {
        batch_fill(out, i);
        CHECK_EQ(peer_udp_send_from(peer, 4, "127.0.0.1", port, out, batch_size_of(i)), (long)batch_size_of(i));
    }
}

/* Datagrams waiting before the event is enabled come as ONE list of that
 * many, in arrival order, each with its own bytes and sender. */
static void waiting_datagrams_come_as_one_list(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    batch_log log;
    log_init(&log);
    USHORT port;
    PWSK_SOCKET s = batch_socket(&t, &log, &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    const unsigned n = 20;
    peer_send_range(peer, port, 0, n);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK(wait_for(&log, &log.seen, (LONG)n));
    pthread_mutex_lock(&log.mu);
    CHECK_EQ(log.lists, 1);
    CHECK_EQ(log.list_size[0], (LONG)n);
    CHECK(!log.damaged);
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(log.first[i], i);
        CHECK_EQ(log.len[i], batch_size_of(i));
        CHECK_EQ(log.from_port[i], peer_local_port(peer));
    }
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* STATUS_PENDING keeps the whole list valid until WskRelease; the client
 * may release it whole, or cut it and release the pieces in any order;
 * what was released cannot be released again. */
static void retained_list_released_whole_or_in_pieces(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    batch_log log;
    log_init(&log);
    log.answer = STATUS_PENDING;
    USHORT port;
    PWSK_SOCKET s = batch_socket(&t, &log, &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    peer_send_range(peer, port, 0, 6);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK(wait_for(&log, &log.seen, 6));
    peer_send_range(peer, port, 6, 4); /* arrives while the first list is held */
    CHECK(wait_for(&log, &log.seen, 10));
    pthread_mutex_lock(&log.mu);
    int nheld = log.nheld;
    PWSK_DATAGRAM_INDICATION first = log.held[0];
    CHECK_EQ(log.list_size[0], 6);
    pthread_mutex_unlock(&log.mu);
    /* The held list still reads back intact, in order. */
    unsigned k = 0;
    PWSK_DATAGRAM_INDICATION cut = NULL, last_of_first = NULL;
    for (PWSK_DATAGRAM_INDICATION i = first; i != NULL; i = i->Next, k++) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        CHECK_EQ(va[0], k);
        CHECK(batch_intact(va, i->Buffer.Length));
        if (k == 2) {
            last_of_first = i;
            cut = i->Next;
        }
    }
    CHECK_EQ(k, 6);
    if (k == 6) {
        /* Cut after the third: the second half goes first, then the first. */
        last_of_first->Next = NULL;
        /* A second release is refused (the verifier's wsk group stops it instead). */
        BOOLEAN again = !(openwsk_verify_enabled_groups() & OPENWSK_VERIFY_WSK);
        CHECK_EQ(d->WskRelease(s, cut), STATUS_SUCCESS);
        if (again)
            CHECK_EQ(d->WskRelease(s, cut), STATUS_INVALID_PARAMETER); /* released already */
        CHECK_EQ(d->WskRelease(s, first), STATUS_SUCCESS);
        if (again)
            CHECK_EQ(d->WskRelease(s, first), STATUS_INVALID_PARAMETER);
    } else {
        CHECK_EQ(d->WskRelease(s, first), STATUS_SUCCESS);
    }
    /* The later lists, whole. */
    for (int i = 1; i < nheld; i++)
        CHECK_EQ(d->WskRelease(s, log.held[i]), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* A list refused with STATUS_DATA_NOT_ACCEPTED disables the event and is
 * kept: enabled again, the event gets it back whole and in order, then
 * what came later — nothing lost, nothing twice. */
static void refused_list_loses_nothing(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    batch_log log;
    log_init(&log);
    log.refuse_once = TRUE;
    USHORT port;
    PWSK_SOCKET s = batch_socket(&t, &log, &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    peer_send_range(peer, port, 0, 10);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK(wait_for(&log, &log.lists, 1)); /* refused */
    wait_callback_returned(&t, s);
    peer_send_range(peer, port, 10, 5); /* waits in Linux: the event is off */
    CHECK_EQ(InterlockedCompareExchange(&log.seen, 0, 0), 0);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK(wait_for(&log, &log.seen, 15));
    pthread_mutex_lock(&log.mu);
    CHECK_EQ(log.seen, 15);
    CHECK_EQ(log.list_size[0], 10);
    CHECK_EQ(log.list_size[1], 10); /* the refused list again, whole */
    for (unsigned i = 0; i < 15; i++)
        CHECK_EQ(log.first[i], i);
    CHECK(!log.damaged);
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* After a refusal, WskReceiveFrom takes the refused datagrams first, one
 * per call, in order, before anything Linux still holds. */
static void refused_list_goes_to_receive_from(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    batch_log log;
    log_init(&log);
    log.refuse_once = TRUE;
    USHORT port;
    PWSK_SOCKET s = batch_socket(&t, &log, &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    peer_send_range(peer, port, 0, 4);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    CHECK(wait_for(&log, &log.lists, 1));
    peer_send_range(peer, port, 4, 2);
    static UCHAR in[1500];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(in)};
    for (unsigned i = 0; i < 6; i++) {
        SOCKADDR_IN from;
        NTSTATUS r = d->WskReceiveFrom(s, &b, 0, (PSOCKADDR)&from, NULL, NULL, NULL, wt_irp_arm(&t.irp));
        CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
        CHECK_EQ(t.irp.irp->IoStatus.Information, batch_size_of(i));
        CHECK_EQ(in[0], i);
        CHECK(batch_intact(in, t.irp.irp->IoStatus.Information));
        CHECK_EQ(RtlUshortByteSwap(from.sin_port), peer_local_port(peer));
    }
    IoFreeMdl(m);
    CHECK_EQ(InterlockedCompareExchange(&log.seen, 0, 0), 0);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* WskReceiveFrom calls pending while the event is on are served first, in
 * order; the event gets the rest. */
static void queued_receives_come_before_the_list(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    batch_log log;
    log_init(&log);
    USHORT port;
    PWSK_SOCKET s = batch_socket(&t, &log, &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    wt_irp irps[3] = {{0}};
    static UCHAR in[3][1500];
    PMDL m[3];
    WSK_BUF b[3];
    NTSTATUS r[3];
    for (int i = 0; i < 3; i++) {
        m[i] = IoAllocateMdl(in[i], sizeof(in[i]), FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(m[i]);
        b[i] = (WSK_BUF){m[i], 0, sizeof(in[i])};
        r[i] = d->WskReceiveFrom(s, &b[i], 0, NULL, NULL, NULL, NULL, wt_irp_arm(&irps[i]));
        CHECK_EQ(r[i], STATUS_PENDING);
    }
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    peer_send_range(peer, port, 0, 8);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(wt_irp_result(&irps[i], r[i]), STATUS_SUCCESS);
        CHECK_EQ(irps[i].irp->IoStatus.Information, batch_size_of((unsigned)i));
        CHECK_EQ(in[i][0], i);
        IoFreeMdl(m[i]);
        wt_irp_free(&irps[i]);
    }
    CHECK(wait_for(&log, &log.seen, 5));
    pthread_mutex_lock(&log.mu);
    for (unsigned i = 0; i < 5; i++)
        CHECK_EQ(log.first[i], 3 + i);
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* WskSendTo of every datagram of a list, from inside the callback: the
 * peer gets them all, in order, byte-exact; each IRP completes once, with
 * its own length, in the order issued. */
static void sends_from_the_indication_all_arrive(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    static batch_log log;
    log_init(&log);
    log.echo = TRUE;
    log.answer = STATUS_PENDING;
    USHORT port;
    PWSK_SOCKET s = batch_socket(&t, &log, &port);
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    const unsigned n = 40; /* more than one batch */
    peer_send_range(peer, port, 0, n);
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    static UCHAR in[1500];
    for (unsigned i = 0; i < n; i++) {
        USHORT from = 0;
        long got = peer_udp_recv(peer, in, sizeof(in), &from, 2000);
        CHECK_EQ(got, (long)batch_size_of(i));
        CHECK_EQ(from, port);
        CHECK_EQ(in[0], i);
        CHECK(got > 0 && batch_intact(in, (SIZE_T)got));
    }
    CHECK(wait_for(&log, &log.completions, (LONG)n));
    CHECK_EQ(log.completions, (LONG)n);
    CHECK_EQ(log.completion_failures, 0);
    pthread_mutex_lock(&log.mu);
    for (unsigned i = 0; i < n; i++)
        CHECK_EQ(log.completed_index[i], (LONG)i);
    pthread_mutex_unlock(&log.mu);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    CHECK_EQ(log.completions, (LONG)n); /* none twice */
    peer_close(peer);
    wt_wsk_close(&t);
}

/* WskSendMessages to one destination: every datagram, in list order, the
 * IRP's Information the sum of their sizes. */
static void send_messages_all_in_order(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    int peer = peer_udp_bind(4, "127.0.0.1", 0);
    enum { N = 50 };
    static UCHAR out[N][1500];
    static WSK_BUF_LIST list[N];
    PMDL mdl[N];
    SIZE_T total = 0;
    for (unsigned i = 0; i < N; i++) {
        batch_fill(out[i], i);
        mdl[i] = IoAllocateMdl(out[i], (ULONG)batch_size_of(i), FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(mdl[i]);
        list[i].Next = i + 1 < N ? &list[i + 1] : NULL;
        list[i].Buffer = (WSK_BUF){mdl[i], 0, batch_size_of(i)};
        total += batch_size_of(i);
    }
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(peer));
    NTSTATUS r = d->WskSendMessages(s, list, 0, (PSOCKADDR)&to, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, total);
    static UCHAR in[1500];
    for (unsigned i = 0; i < N; i++) {
        USHORT from = 0;
        long got = peer_udp_recv(peer, in, sizeof(in), &from, 2000);
        CHECK_EQ(got, (long)batch_size_of(i));
        CHECK_EQ(from, port);
        CHECK_EQ(in[0], i);
        CHECK(got > 0 && batch_intact(in, (SIZE_T)got));
    }
    for (unsigned i = 0; i < N; i++)
        IoFreeMdl(mdl[i]);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(waiting_datagrams_come_as_one_list);
    WT_RUN(retained_list_released_whole_or_in_pieces);
    WT_RUN(refused_list_loses_nothing);
    WT_RUN(refused_list_goes_to_receive_from);
    WT_RUN(queued_receives_come_before_the_list);
    WT_RUN(sends_from_the_indication_all_arrive);
    WT_RUN(send_messages_all_in_order);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
