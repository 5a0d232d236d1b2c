/*
 * test_pattern_receive_order.c - a driver that keeps two WskReceives
 * outstanding on a connection and re-posts each one from its completion,
 * as Microsoft's echo sample does (wsk-part-b.md §5.3, §5.5, §6.1).
 *
 * Each completion routine runs at DISPATCH_LEVEL, appends what its receive
 * got to the connection's stream under the connection's spin lock, and
 * queues the IRP to the driver's worker thread, which posts it again.  On
 * the peer's FIN (STATUS_SUCCESS with 0 bytes) or an error the receive is
 * not re-posted; once both have stopped the worker closes the socket and
 * the close completion frees the connection.
 *
 * Checked: the stream assembled in completion order is exactly what the
 * Linux peer sent (PFN_WSK_RECEIVE: several receives may be queued; they
 * are filled in the order they were queued, so completions in any other
 * order would hand a driver its data out of order); each receive completes
 * in the order it was posted; a WSK_FLAG_WAITALL receive completes only
 * full (or at the end of the stream); both receives see the FIN; every
 * posted receive completes once and its routine has returned before the
 * close completes.
 *
 * Each scenario runs on a socket accepted with WskAccept (no events: the
 * engine serves the receives) and on a connected socket with
 * WSK_EVENT_RECEIVE and WSK_EVENT_DISCONNECT enabled (the provider's
 * reader serves them; the receive callback declines what arrives while no
 * receive is queued with STATUS_DATA_NOT_ACCEPTED).
 */
#include "wt_pattern.h"

#include <openwsk_runtime.h>

#define RO_SLOTS 2
#define RO_LOG 4096 /* completions remembered per round */

typedef struct RO_PLAN {
    BOOLEAN Events;                 /* connected socket with receive/disconnect events, else WskAccept */
    SIZE_T SlotLength[RO_SLOTS];
    ULONG SlotFlags[RO_SLOTS];
    SIZE_T Total;                   /* bytes the peer sends, then FIN */
    const SIZE_T *Pieces;           /* the peer writes in these sizes, cyclically (NULL: 64 KiB) */
    ULONG PieceCount;
    LONGLONG PauseUs;               /* between pieces */
} RO_PLAN;

typedef struct RO_COMPLETION {
    ULONG Seq;        /* post order of the receive */
    ULONG Slot;
    NTSTATUS Status;
    ULONG_PTR Information;
    ULONG64 Offset;   /* where its bytes went in the assembled stream */
} RO_COMPLETION;

/* What the driver saw; outlives the connection context. */
typedef struct RO_RESULT {
    KEVENT Closed;
    PUCHAR Stream;            /* assembled in completion order */
    ULONG64 StreamLength;
    SIZE_T Capacity;
    BOOLEAN Overflow;
    RO_COMPLETION Log[RO_LOG];
    ULONG Logged;
    ULONG Completions;
    ULONG Posted;
    LONG FinsSeen;
    LONG Errors;
    NTSTATUS FirstError;
    LONG Declined;            /* receive indications declined (no receive queued) */
    LONG DisconnectIndications;
    LONG ReceiveEventsAfterClose;
    NTSTATUS CloseStatus;
    LONG CloseCompletions;
    int SlotUnfinishedAtClose; /* a slot whose routine had not returned when the close completed, or -1 */
} RO_RESULT;

typedef struct RO_CONNECTION RO_CONNECTION;

typedef struct RO_SLOT {
    WP_WORK Work;
    RO_CONNECTION *Connection;
    ULONG Index;
    PIRP Irp;
    PMDL Mdl;
    PUCHAR Buffer;
    ULONG Seq;                /* post order of the receive in flight */
    volatile LONG Posted, Completed, Ended;
    BOOLEAN Stopped;          /* saw the FIN or an error: not re-posted */
} RO_SLOT;

struct RO_CONNECTION {
    WP_WORK CloseWork;
    WP_WORKER *Worker;
    PWSK_SOCKET Socket;
    const RO_PLAN *Plan;
    RO_RESULT *Result;
    KSPIN_LOCK Lock;
    ULONG NextSeq;            /* worker only */
    LONG Running;             /* slots not stopped */
    BOOLEAN Closing;
    PIRP CloseIrp;
    RO_SLOT Slots[RO_SLOTS];
};

static WP_WORKER ro_worker;

static const WSK_PROVIDER_CONNECTION_DISPATCH *RoDispatch(RO_CONNECTION *c)
{
    return c->Socket->Dispatch;
}

static IO_COMPLETION_ROUTINE RoReceiveDone;
static IO_COMPLETION_ROUTINE RoCloseDone;

/* Worker: (re-)posts one receive. */
static VOID RoPostWork(WP_WORK *Work)
{
    RO_SLOT *slot = CONTAINING_RECORD(Work, RO_SLOT, Work);
    RO_CONNECTION *c = slot->Connection;
    WSK_BUF b = {slot->Mdl, 0, c->Plan->SlotLength[slot->Index]};
    KIRQL irql;
    KeAcquireSpinLock(&c->Lock, &irql);
    slot->Seq = c->NextSeq++;
    c->Result->Posted++;
    KeReleaseSpinLock(&c->Lock, irql);
    IoReuseIrp(slot->Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(slot->Irp, RoReceiveDone, slot, TRUE, TRUE, TRUE);
    InterlockedIncrement(&slot->Posted);
    RoDispatch(c)->WskReceive(c->Socket, &b, c->Plan->SlotFlags[slot->Index], slot->Irp);
}

static VOID RoCloseWork(WP_WORK *Work)
{
    RO_CONNECTION *c = CONTAINING_RECORD(Work, RO_CONNECTION, CloseWork);
    IoSetCompletionRoutine(c->CloseIrp, RoCloseDone, c, TRUE, TRUE, TRUE);
    RoDispatch(c)->WskCloseSocket(c->Socket, c->CloseIrp);
}

static NTSTATUS RoReceiveDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    RO_SLOT *slot = Context;
    RO_CONNECTION *c = slot->Connection;
    RO_RESULT *result = c->Result;
    NTSTATUS status = Irp->IoStatus.Status;
    ULONG_PTR got = Irp->IoStatus.Information;
    BOOLEAN again = FALSE, close = FALSE;
    KIRQL irql;
    UNREFERENCED_PARAMETER(DeviceObject);
    InterlockedIncrement(&slot->Completed);
    KeAcquireSpinLock(&c->Lock, &irql);
    if (result->Logged < RO_LOG) {
        RO_COMPLETION *e = &result->Log[result->Logged++];
        e->Seq = slot->Seq;
        e->Slot = slot->Index;
        e->Status = status;
        e->Information = got;
        e->Offset = result->StreamLength;
    }
    result->Completions++;
    if (NT_SUCCESS(status) && got > 0) {
        if (result->StreamLength + got <= result->Capacity)
            RtlCopyMemory(result->Stream + result->StreamLength, slot->Buffer, got);
        else
            result->Overflow = TRUE;
        result->StreamLength += got;
        again = !c->Closing;
    } else {
        if (NT_SUCCESS(status)) {
            result->FinsSeen++;
        } else if (result->Errors++ == 0) {
            result->FirstError = status;
        }
    }
    if (!again) {
        slot->Stopped = TRUE;
        if (--c->Running == 0 && !c->Closing) {
            c->Closing = TRUE;
            close = TRUE;
        }
    }
    KeReleaseSpinLock(&c->Lock, irql);
    InterlockedIncrement(&slot->Ended);
    /* Last touches of the context: queue the follow-up to the worker. */
    if (again)
        wp_worker_queue(c->Worker, &slot->Work, RoPostWork);
    else if (close)
        wp_worker_queue(c->Worker, &c->CloseWork, RoCloseWork);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS RoCloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    RO_CONNECTION *c = Context;
    RO_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    result->CloseStatus = Irp->IoStatus.Status;
    InterlockedIncrement(&result->CloseCompletions);
    /* PFN_WSK_CLOSE_SOCKET: after the close completes, nothing of the
     * socket runs any more; the receive routines must be done with c. */
    result->SlotUnfinishedAtClose = -1;
    for (ULONG k = 0; k < RO_SLOTS; k++) {
        RO_SLOT *slot = &c->Slots[k];
        if (InterlockedCompareExchange((LONG *)&slot->Ended, 0, 0) != slot->Posted ||
            InterlockedCompareExchange((LONG *)&slot->Completed, 0, 0) != slot->Posted)
            result->SlotUnfinishedAtClose = (int)k;
    }
    for (ULONG k = 0; k < RO_SLOTS; k++) {
        IoFreeIrp(c->Slots[k].Irp);
        IoFreeMdl(c->Slots[k].Mdl);
        ExFreePoolWithTag(c->Slots[k].Buffer, WP_TAG);
    }
    IoFreeIrp(c->CloseIrp);
    ExFreePoolWithTag(c, WP_TAG);
    KeSetEvent(&result->Closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Receive events (only on the sockets of the events mode). */
static NTSTATUS WSKAPI RoReceiveEvent(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                      SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    RO_CONNECTION *c = SocketContext;
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(BytesIndicated);
    UNREFERENCED_PARAMETER(BytesAccepted);
    if (DataIndication == NULL)
        return STATUS_SUCCESS; /* socket dead: the receives fail too */
    /* PFN_WSK_RECEIVE_EVENT: STATUS_DATA_NOT_ACCEPTED leaves the data for
     * the next WskReceive, which is on its way from the worker. */
    InterlockedIncrement(&c->Result->Declined);
    return STATUS_DATA_NOT_ACCEPTED;
}

static NTSTATUS WSKAPI RoDisconnectEvent(PVOID SocketContext, ULONG Flags)
{
    RO_CONNECTION *c = SocketContext;
    UNREFERENCED_PARAMETER(Flags);
    InterlockedIncrement(&c->Result->DisconnectIndications);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH ro_events = {RoReceiveEvent, RoDisconnectEvent, NULL};

static VOID RoStartWork(WP_WORK *Work)
{
    RO_CONNECTION *c = CONTAINING_RECORD(Work, RO_CONNECTION, CloseWork);
    for (ULONG k = 0; k < RO_SLOTS; k++)
        RoPostWork(&c->Slots[k].Work);
}

static RO_CONNECTION *RoAllocate(const RO_PLAN *plan, RO_RESULT *result)
{
    RO_CONNECTION *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*c), WP_TAG);
    if (c == NULL)
        return NULL;
    c->Worker = &ro_worker;
    c->Plan = plan;
    c->Result = result;
    KeInitializeSpinLock(&c->Lock);
    c->Running = RO_SLOTS;
    c->CloseIrp = IoAllocateIrp(1, FALSE);
    for (ULONG k = 0; k < RO_SLOTS; k++) {
        RO_SLOT *slot = &c->Slots[k];
        slot->Connection = c;
        slot->Index = k;
        slot->Irp = IoAllocateIrp(1, FALSE);
        slot->Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, plan->SlotLength[k], WP_TAG);
        slot->Mdl = wp_mdl(slot->Buffer, plan->SlotLength[k]);
    }
    return c;
}

/* ---- the test side ---- */

typedef struct ro_writer {
    pthread_t thread;
    int fd;
    const RO_PLAN *plan;
    ULONG round;
    long sent;
} ro_writer;

static void *ro_writer_main(void *p)
{
    ro_writer *w = p;
    const RO_PLAN *plan = w->plan;
    enum { MAX_PIECE = 256 * 1024 };
    UCHAR *buf = malloc(MAX_PIECE);
    ULONG64 off = 0;
    for (ULONG k = 0; off < plan->Total; k++) {
        SIZE_T n = plan->Pieces != NULL ? plan->Pieces[k % plan->PieceCount] : 65536;
        if (n > MAX_PIECE)
            n = MAX_PIECE;
        if (n > plan->Total - off)
            n = (SIZE_T)(plan->Total - off);
        wp_fill(buf, n, off, w->round);
        if (peer_send_all(w->fd, buf, n) != (long)n)
            break;
        off += n;
        if (plan->PauseUs > 0 && off < plan->Total)
            usleep((useconds_t)plan->PauseUs);
    }
    w->sent = (long)off;
    peer_shutdown_write(w->fd);
    free(buf);
    return NULL;
}

static const char *ro_mode(const RO_PLAN *plan)
{
    return plan->Events ? "receive events enabled" : "WskAccept, no events";
}

/* FALSE if the round could not finish (IRPs may still be pending). */
static BOOLEAN ro_round(wt_wsk *t, const RO_PLAN *plan, ULONG round)
{
    static RO_RESULT result;
    memset(&result, 0, sizeof(result));
    KeInitializeEvent(&result.Closed, NotificationEvent, FALSE);
    result.Capacity = plan->Total;
    result.Stream = malloc(plan->Total + 1);
    RO_CONNECTION *c = RoAllocate(plan, &result);
    if (c == NULL) {
        WT_FAIL("out of pool");
        free(result.Stream);
        return FALSE;
    }
    int peer;
    PWSK_SOCKET s = plan->Events ? wp_connect(t, c, &ro_events, &peer) : wp_accept(t, c, NULL, &peer);
    if (s == NULL) {
        free(result.Stream);
        return FALSE; /* c is leaked: the pool check at the end reports it */
    }
    c->Socket = s;
    if (plan->Events)
        CHECK_EQ(wp_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
    wp_worker_queue(&ro_worker, &c->CloseWork, RoStartWork);
    ro_writer w = {.fd = peer, .plan = plan, .round = round};
    pthread_create(&w.thread, NULL, ro_writer_main, &w);
    pthread_join(w.thread, NULL);
    BOOLEAN closed = wp_wait(&result.Closed, WP_TIMEOUT_MS);
    peer_close(peer);
    if (!closed) {
        WT_FAIL("%s: the driver never closed: %u receives completed of %u posted, %llu bytes of %zu assembled, %d "
                "FINs, %d errors (first 0x%x)",
                ro_mode(plan), result.Completions, result.Posted, (unsigned long long)result.StreamLength,
                plan->Total, (int)result.FinsSeen, (int)result.Errors, (unsigned)result.FirstError);
        return FALSE; /* result.Stream is still the driver's */
    }
    CHECK_EQ(w.sent, (long)plan->Total);
    /* The stream, as the driver assembled it in completion order. */
    if (result.StreamLength != plan->Total || result.Overflow)
        WT_FAIL("%s: the receives brought %llu bytes, the peer sent %zu", ro_mode(plan),
                (unsigned long long)result.StreamLength, plan->Total);
    SIZE_T n = result.StreamLength < plan->Total ? (SIZE_T)result.StreamLength : plan->Total;
    if (!wp_check_bytes(result.Stream, n, 0, round, plan->Total, "%s, stream assembled in completion order",
                        ro_mode(plan))) {
        /* Name the completion that brought the first wrong byte, and the
         * ones around it, with where their bytes really come from. */
        ULONG first = result.Logged;
        for (ULONG k = 0; k < result.Logged && first == result.Logged; k++) {
            const RO_COMPLETION *e = &result.Log[k];
            if (e->Information > 0 && e->Offset < n &&
                wp_locate(result.Stream + e->Offset, n - e->Offset, round, plan->Total) != (long long)e->Offset)
                first = k;
        }
        for (ULONG k = first > 0 ? first - 1 : 0; k < result.Logged && k < first + 4; k++) {
            const RO_COMPLETION *e = &result.Log[k];
            /* (located by the 16 bytes from the completion's start on) */
            long long from = -1;
            if (e->Information > 0 && e->Offset < n)
                from = wp_locate(result.Stream + e->Offset, n - e->Offset, round, plan->Total);
            fprintf(stderr,
                    "    completion #%u: receive #%u (slot %u, %s, %zu-byte buffer), status 0x%x, %lu bytes placed "
                    "at offset %llu; they are stream offset %lld\n",
                    k, e->Seq, e->Slot, plan->SlotFlags[e->Slot] & WSK_FLAG_WAITALL ? "WAITALL" : "plain",
                    plan->SlotLength[e->Slot], (unsigned)e->Status, (unsigned long)e->Information,
                    (unsigned long long)e->Offset, from);
        }
    }
    /* Completion order = post order, WAITALL receives full. */
    ULONG logged = result.Logged;
    for (ULONG k = 0; k < logged; k++) {
        const RO_COMPLETION *e = &result.Log[k];
        if (e->Seq != k) {
            WT_FAIL("%s: completion #%u is receive #%u (slot %u, %lu bytes, status 0x%x): receives completed out of "
                    "the order they were posted in",
                    ro_mode(plan), k, e->Seq, e->Slot, (unsigned long)e->Information, (unsigned)e->Status);
            break;
        }
    }
    for (ULONG k = 0; k < logged; k++) {
        const RO_COMPLETION *e = &result.Log[k];
        BOOLEAN waitall = (plan->SlotFlags[e->Slot] & WSK_FLAG_WAITALL) != 0;
        if (waitall && NT_SUCCESS(e->Status) && e->Information > 0 && e->Information < plan->SlotLength[e->Slot] &&
            e->Offset + e->Information < plan->Total) {
            /* PFN_WSK_RECEIVE: WSK_FLAG_WAITALL completes when the buffer is
             * full, or on disconnect, abort or cancellation. */
            WT_FAIL("%s: WAITALL receive #%u completed with %lu of %zu bytes at stream offset %llu, before the end "
                    "of the stream",
                    ro_mode(plan), e->Seq, (unsigned long)e->Information, plan->SlotLength[e->Slot],
                    (unsigned long long)e->Offset);
            break;
        }
    }
    if (result.Errors > 0)
        WT_FAIL("%s: %d receives failed, first with 0x%x (%s)", ro_mode(plan), (int)result.Errors,
                (unsigned)result.FirstError, wp_status_name(result.FirstError));
    /* PFN_WSK_RECEIVE / Microsoft's echo sample: each outstanding receive
     * may complete with 0 bytes at the FIN; here both are outstanding. */
    if (result.FinsSeen != RO_SLOTS)
        WT_FAIL("%s: %d receives saw the FIN, expected %d", ro_mode(plan), (int)result.FinsSeen, RO_SLOTS);
    CHECK_EQ(result.Completions, result.Posted);
    CHECK_EQ(result.CloseCompletions, 1);
    CHECK_EQ(result.CloseStatus, STATUS_SUCCESS);
    if (result.SlotUnfinishedAtClose >= 0)
        WT_FAIL("%s: the close completed while receive slot %d was not finished", ro_mode(plan),
                result.SlotUnfinishedAtClose);
    /* PFN_WSK_DISCONNECT_EVENT: at most one indication of the FIN (the
     * driver may close before the provider got to it). */
    if (result.DisconnectIndications > 1)
        WT_FAIL("%s: %d disconnect indications, expected at most 1", ro_mode(plan), (int)result.DisconnectIndications);
    free(result.Stream);
    return TRUE;
}

static void ro_run(const char *name, int rounds, RO_PLAN plan)
{
    wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(wp_worker_start(&ro_worker), STATUS_SUCCESS);
    for (int events = 0; events < 2; events++) {
        plan.Events = (BOOLEAN)events;
        char what[128];
        snprintf(what, sizeof(what), "%s (%s)", name, ro_mode(&plan));
        wp_case_begin();
        BOOLEAN wedged = FALSE;
        for (int round = 0; round < rounds && !wedged; round++) {
            wp_round_begin(what, round, rounds);
            wedged = !ro_round(&t, &plan, (ULONG)round);
            wp_round_end(round);
        }
        wp_case_end(what, rounds);
        if (wedged) {
            WT_FAIL("stopping: a round left IRPs pending");
            break;
        }
    }
    wp_worker_stop(&ro_worker);
    wp_wsk_close(&t, WP_TIMEOUT_MS);
}

static int rounds;

/* Two 64 KiB receives, 4 MiB streamed in assorted pieces. */
static void two_receives_stream_4mib(void)
{
    static const SIZE_T pieces[] = {65536, 1, 200000, 1460, 32768, 7, 131072, 4096};
    RO_PLAN plan = {.SlotLength = {65536, 65536}, .Total = 4u << 20, .Pieces = pieces, .PieceCount = 8};
    ro_run("two receives, 4 MiB", wp_fraction(rounds, 10), plan);
}

/* The same with small buffers: many more completions per byte. */
static void two_small_receives_stream_1mib(void)
{
    static const SIZE_T pieces[] = {100000, 3, 1000, 65536};
    RO_PLAN plan = {.SlotLength = {1000, 777}, .Total = 1u << 20, .Pieces = pieces, .PieceCount = 4};
    ro_run("two small receives, 1 MiB", wp_fraction(rounds, 10), plan);
}

/* R1 = WAITALL 100, R2 = plain 100; the peer sends 50, pauses, sends
 * 100, pauses, ...: R1 must get bytes 0..99 and R2 100..149, not R2
 * 50..149 while R1 waits with 0..49. */
static void waitall_then_plain_with_pauses(void)
{
    static const SIZE_T pieces[] = {50, 100};
    RO_PLAN plan = {.SlotLength = {100, 100},
                    .SlotFlags = {WSK_FLAG_WAITALL, 0},
                    .Total = 1500,
                    .Pieces = pieces,
                    .PieceCount = 2,
                    .PauseUs = 1000};
    ro_run("WAITALL 100 + plain 100, pieces with pauses", wp_fraction(rounds, 4), plan);
}

/* WAITALL 64 KiB + plain 64 KiB over 4 MiB in pieces with short pauses. */
static void waitall_then_plain_stream_4mib(void)
{
    static const SIZE_T pieces[] = {30000, 70000, 1, 65536, 100000, 12345};
    RO_PLAN plan = {.SlotLength = {65536, 65536},
                    .SlotFlags = {WSK_FLAG_WAITALL, 0},
                    .Total = 4u << 20,
                    .Pieces = pieces,
                    .PieceCount = 6,
                    .PauseUs = 100};
    ro_run("WAITALL 64 KiB + plain 64 KiB, 4 MiB", wp_fraction(rounds, 10), plan);
}

int main(void)
{
    wp_install_crash_note();
    rounds = wp_rounds(60);
    fprintf(stderr, "%d rounds (OPENWSK_PATTERN_ROUNDS)\n", rounds);
    WP_RUN(two_receives_stream_4mib);
    WP_RUN(two_small_receives_stream_1mib);
    WP_RUN(waitall_then_plain_with_pauses);
    WP_RUN(waitall_then_plain_stream_4mib);
    if (wt_cases_failed == 0)
        CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
