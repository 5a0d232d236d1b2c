/*
 * test_pattern_close.c - drivers that close a connection while other IRPs
 * of it are pending or still completing, and free the connection context
 * in the close completion (wsk-part-b.md §10.3, §5.5; wsk-part-a.md §4.3).
 *
 * PFN_WSK_CLOSE_SOCKET, Remarks: the provider cancels and completes every
 * pending IRP of the socket and completes the close only after that;
 * Microsoft's echo sample frees its socket context in the close completion
 * on that basis.  So when the close completion runs, every other
 * completion routine of the socket must have returned, each IRP must have
 * completed exactly once, and nothing may run afterwards (under ASan a
 * late routine is a use-after-free of the freed context; without ASan,
 * the "routine finished" flags each routine sets as its last act and the
 * close completion checks catch it).
 *
 * Drivers:
 *  5. the receive completion routine sees the peer's FIN (or a reset) and
 *     closes the socket right there, reusing its own IRP for the close;
 *     the receives are re-posted directly from the completion routine;
 *  6. a receive is pending, the peer closes or resets, and the driver's
 *     worker closes the socket at about the same time, so the receive's
 *     completion and the close race; the close completion frees the
 *     receive IRP;
 *  7. several large sends are pending when the peer resets the
 *     connection: every send completes once, with success or a connection
 *     error, and the close (issued on the first failure, or after the
 *     last send) completes after them.
 */
#include "wt_pattern.h"

#include <openwsk_runtime.h>

static WP_WORKER cl_worker;
static int rounds;

/* Statuses seen per case, printed at its end (informational). */
static struct {
    NTSTATUS status;
    int count;
} cl_seen[12];

static void cl_seen_reset(void)
{
    memset(cl_seen, 0, sizeof(cl_seen));
}

static void cl_seen_add(NTSTATUS st)
{
    for (int k = 0; k < 12; k++) {
        if (cl_seen[k].count == 0 || cl_seen[k].status == st) {
            cl_seen[k].status = st;
            cl_seen[k].count++;
            return;
        }
    }
}

static void cl_seen_print(const char *what)
{
    for (int k = 0; k < 12 && cl_seen[k].count > 0; k++)
        fprintf(stderr, "  %s: 0x%x (%s) %d times\n", what, (unsigned)cl_seen[k].status,
                wp_status_name(cl_seen[k].status), cl_seen[k].count);
}

/* ==================================================================== */
/* 5. close from inside the receive completion routine                   */
/* ==================================================================== */

#define C5_SLOTS 2
#define C5_BUFFER 4096

typedef struct C5_RESULT {
    KEVENT Closed;
    PUCHAR Stream;
    ULONG64 StreamLength;
    SIZE_T Capacity;
    volatile LONG Received;     /* bytes, for the test to poll */
    LONG Completions;           /* receive completions */
    LONG Fins, Errors;
    NTSTATUS FirstError;
    NTSTATUS CloseReturned;     /* what WskCloseSocket returned inside the routine */
    LONG CloseCompletions;
    NTSTATUS CloseStatus;
    int UnfinishedSlot;         /* a slot whose routine had not returned at close completion, or -1 */
    LONG UnfinishedCompleted, UnfinishedEnded;
} C5_RESULT;

typedef struct C5_CONNECTION C5_CONNECTION;

typedef struct C5_SLOT {
    C5_CONNECTION *Connection;
    PIRP Irp;
    PMDL Mdl;
    volatile LONG Posted, Completed, Ended;
    UCHAR Buffer[C5_BUFFER];
} C5_SLOT;

/* The close may be decided while another routine is inside WskReceive
 * (re-posting): PFN_WSK_CLOSE_SOCKET forbids closing while a call of the
 * socket is in progress, so whoever leaves last issues it. */
struct C5_CONNECTION {
    PWSK_SOCKET Socket;
    C5_RESULT *Result;
    KSPIN_LOCK Lock;
    BOOLEAN Closing;      /* under Lock */
    BOOLEAN CloseIssued;  /* under Lock */
    LONG InCalls;         /* WskReceive calls in progress, under Lock */
    PIRP CloseIrp;        /* the IRP of the routine that decided to close */
    ULONG StallUs;        /* work a routine does at the FIN before it finishes */
    ULONG Slots;
    C5_SLOT Slot[C5_SLOTS];
};

static IO_COMPLETION_ROUTINE C5ReceiveDone;
static IO_COMPLETION_ROUTINE C5CloseDone;

static const WSK_PROVIDER_CONNECTION_DISPATCH *C5Dispatch(C5_CONNECTION *c)
{
    return c->Socket->Dispatch;
}

static VOID C5Close(C5_CONNECTION *c)
{
    PIRP irp = c->CloseIrp;
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, C5CloseDone, c, TRUE, TRUE, TRUE);
    C5_RESULT *result = c->Result;
    NTSTATUS r = C5Dispatch(c)->WskCloseSocket(c->Socket, irp);
    /* The close completion may already have run: only result is safe. */
    result->CloseReturned = r;
}

/* Posts the slot's receive unless the connection is closing; FALSE if
 * it did not (the slot is then finished). */
static BOOLEAN C5Post(C5_SLOT *slot)
{
    C5_CONNECTION *c = slot->Connection;
    WSK_BUF b = {slot->Mdl, 0, C5_BUFFER};
    KIRQL irql;
    KeAcquireSpinLock(&c->Lock, &irql);
    if (c->Closing) {
        KeReleaseSpinLock(&c->Lock, irql);
        return FALSE;
    }
    c->InCalls++;
    KeReleaseSpinLock(&c->Lock, irql);
    IoReuseIrp(slot->Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(slot->Irp, C5ReceiveDone, slot, TRUE, TRUE, TRUE);
    InterlockedIncrement(&slot->Posted);
    C5Dispatch(c)->WskReceive(c->Socket, &b, 0, slot->Irp);
    KeAcquireSpinLock(&c->Lock, &irql);
    BOOLEAN close = --c->InCalls == 0 && c->Closing && !c->CloseIssued;
    if (close)
        c->CloseIssued = TRUE;
    KeReleaseSpinLock(&c->Lock, irql);
    if (close)
        C5Close(c);
    return TRUE;
}

static NTSTATUS C5ReceiveDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    C5_SLOT *slot = Context;
    C5_CONNECTION *c = slot->Connection;
    C5_RESULT *result = c->Result;
    NTSTATUS status = Irp->IoStatus.Status;
    ULONG_PTR got = Irp->IoStatus.Information;
    KIRQL irql;
    UNREFERENCED_PARAMETER(DeviceObject);
    InterlockedIncrement(&slot->Completed);
    InterlockedIncrement(&result->Completions);
    if (NT_SUCCESS(status) && got > 0) {
        KeAcquireSpinLock(&c->Lock, &irql);
        if (result->StreamLength + got <= result->Capacity)
            RtlCopyMemory(result->Stream + result->StreamLength, slot->Buffer, got);
        result->StreamLength += got;
        KeReleaseSpinLock(&c->Lock, irql);
        InterlockedExchangeAdd(&result->Received, (LONG)got);
        /* Straight from the routine, at DISPATCH_LEVEL. */
        InterlockedIncrement(&slot->Ended);
        C5Post(slot);
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    if (NT_SUCCESS(status))
        InterlockedIncrement(&result->Fins);
    else if (InterlockedIncrement(&result->Errors) == 1)
        result->FirstError = status;
    /* Some work at DISPATCH_LEVEL (a driver would log, tear down its own
     * state); it widens the window in which a premature close completion
     * would free c under the second receive's routine. */
    if (c->StallUs > 0)
        KeStallExecutionProcessor(c->StallUs);
    /* The peer is done (or gone): close now, from this routine, with this
     * routine's IRP, unless someone is inside WskReceive (then they will).
     * The other receive may still be pending or completing; the close
     * cancels it, and the close completion frees everything. */
    KeAcquireSpinLock(&c->Lock, &irql);
    BOOLEAN close = FALSE;
    if (!c->Closing) {
        c->Closing = TRUE;
        c->CloseIrp = Irp;
        close = c->InCalls == 0;
        c->CloseIssued = close;
    }
    InterlockedIncrement(&slot->Ended);
    KeReleaseSpinLock(&c->Lock, irql);
    if (close)
        C5Close(c);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS C5CloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    C5_CONNECTION *c = Context;
    C5_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    result->CloseStatus = Irp->IoStatus.Status;
    InterlockedIncrement(&result->CloseCompletions);
    result->UnfinishedSlot = -1;
    for (ULONG k = 0; k < c->Slots; k++) {
        LONG posted = InterlockedCompareExchange((LONG *)&c->Slot[k].Posted, 0, 0);
        LONG completed = InterlockedCompareExchange((LONG *)&c->Slot[k].Completed, 0, 0);
        LONG ended = InterlockedCompareExchange((LONG *)&c->Slot[k].Ended, 0, 0);
        if (completed != ended || completed != posted) {
            result->UnfinishedSlot = (int)k;
            result->UnfinishedCompleted = completed;
            result->UnfinishedEnded = ended;
        }
    }
    for (ULONG k = 0; k < c->Slots; k++) {
        IoFreeMdl(c->Slot[k].Mdl);
        IoFreeIrp(c->Slot[k].Irp); /* one of them is this IRP: fine, we return MORE_PROCESSING_REQUIRED */
    }
    ExFreePoolWithTag(c, WP_TAG);
    KeSetEvent(&result->Closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

typedef struct c5_plan {
    ULONG Slots;
    SIZE_T Total;      /* bytes the peer sends before it closes */
    BOOLEAN Reset;     /* the peer resets instead of closing gracefully */
    BOOLEAN Accepted;  /* WskAccept (no events) rather than a connected socket with events */
} c5_plan;

static NTSTATUS WSKAPI C5ReceiveEvent(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                      SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    UNREFERENCED_PARAMETER(SocketContext);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(DataIndication);
    UNREFERENCED_PARAMETER(BytesIndicated);
    UNREFERENCED_PARAMETER(BytesAccepted);
    return STATUS_DATA_NOT_ACCEPTED; /* the receives will take it */
}

static const WSK_CLIENT_CONNECTION_DISPATCH c5_events = {C5ReceiveEvent, NULL, NULL};

static BOOLEAN c5_round(wt_wsk *t, const c5_plan *plan, ULONG round)
{
    static C5_RESULT result;
    memset(&result, 0, sizeof(result));
    KeInitializeEvent(&result.Closed, NotificationEvent, FALSE);
    result.Capacity = plan->Total;
    result.Stream = malloc(plan->Total + 1);
    C5_CONNECTION *c = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*c), WP_TAG);
    c->Result = &result;
    c->Slots = plan->Slots;
    c->StallUs = (round % 4) * 30;
    KeInitializeSpinLock(&c->Lock);
    for (ULONG k = 0; k < plan->Slots; k++) {
        c->Slot[k].Connection = c;
        c->Slot[k].Irp = IoAllocateIrp(1, FALSE);
        c->Slot[k].Mdl = wp_mdl(c->Slot[k].Buffer, C5_BUFFER);
    }
    int peer;
    PWSK_SOCKET s = plan->Accepted ? wp_accept(t, c, NULL, &peer) : wp_connect(t, c, &c5_events, &peer);
    if (s == NULL)
        return FALSE;
    c->Socket = s;
    if (!plan->Accepted)
        CHECK_EQ(wp_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    for (ULONG k = 0; k < plan->Slots; k++)
        C5Post(&c->Slot[k]);
    /* c belongs to the driver from here on. */
    PUCHAR data = malloc(plan->Total + 1);
    wp_fill(data, plan->Total, 0, round);
    CHECK_EQ(peer_send_all(peer, data, plan->Total), (long)plan->Total);
    free(data);
    if (plan->Reset) {
        /* Let the data arrive first: a reset may discard what is unread. */
        LONGLONG until = wp_now_us() + 2000000;
        while ((SIZE_T)InterlockedCompareExchange(&result.Received, 0, 0) < plan->Total && wp_now_us() < until)
            usleep(100);
        peer_reset_on_close(peer);
    }
    peer_close(peer);
    if (!wp_wait(&result.Closed, WP_TIMEOUT_MS)) {
        WT_FAIL("the driver never closed: %d receive completions, %d FINs, %d errors, close returned 0x%x and "
                "completed %d times",
                (int)result.Completions, (int)result.Fins, (int)result.Errors, (unsigned)result.CloseReturned,
                (int)result.CloseCompletions);
        return FALSE;
    }
    usleep(200); /* a routine still running after the close completion would show up below (or in ASan) */
    CHECK_EQ(result.CloseCompletions, 1);
    CHECK_EQ(result.CloseStatus, STATUS_SUCCESS);
    if (result.UnfinishedSlot >= 0)
        WT_FAIL("the close (issued from a receive completion routine) completed while receive slot %d (of %u) had "
                "completed %d times and its routine finished %d times: that routine could still be using the freed "
                "context",
                result.UnfinishedSlot, plan->Slots, (int)result.UnfinishedCompleted, (int)result.UnfinishedEnded);
    if (result.StreamLength != plan->Total)
        WT_FAIL("the receives brought %llu bytes, the peer sent %zu", (unsigned long long)result.StreamLength,
                plan->Total);
    else
        wp_check_bytes(result.Stream, plan->Total, 0, round, plan->Total, "stream before the %s",
                       plan->Reset ? "reset" : "FIN");
    if (!plan->Reset && result.Fins < 1)
        WT_FAIL("no receive saw the FIN (errors %d, first 0x%x)", (int)result.Errors, (unsigned)result.FirstError);
    if (plan->Reset && result.Errors < 1 && result.Fins < 1)
        WT_FAIL("no receive saw the reset");
    if (result.Errors > 0)
        cl_seen_add(result.FirstError);
    free(result.Stream);
    return TRUE;
}

static void c5_run(const char *name, int n, void (*plan_for)(c5_plan *, int))
{
    wt_wsk t;
    wt_wsk_open(&t);
    wp_case_begin();
    cl_seen_reset();
    for (int round = 0; round < n; round++) {
        c5_plan plan;
        memset(&plan, 0, sizeof(plan));
        plan_for(&plan, round);
        wp_round_begin(name, round, n);
        BOOLEAN finished = c5_round(&t, &plan, (ULONG)round);
        wp_round_end(round);
        if (!finished) {
            WT_FAIL("stopping the case: round %d left IRPs pending", round);
            break;
        }
    }
    wp_case_end(name, n);
    cl_seen_print("receive errors seen");
    wp_wsk_close(&t, WP_TIMEOUT_MS);
}

static void plan_c5_fin(c5_plan *p, int round)
{
    p->Slots = 1 + (ULONG)(round % 2);
    p->Total = (SIZE_T)(round % 3) * 40000; /* 0, 40000, 80000 bytes before the FIN */
    p->Accepted = (round / 2) % 2 == 0;
}

static void close_from_receive_completion_on_fin(void)
{
    c5_run("close from the receive routine at FIN", rounds, plan_c5_fin);
}

static void plan_c5_reset(c5_plan *p, int round)
{
    plan_c5_fin(p, round);
    p->Reset = TRUE;
}

static void close_from_receive_completion_on_reset(void)
{
    c5_run("close from the receive routine at reset", rounds, plan_c5_reset);
}

/* ==================================================================== */
/* 6. close racing the completion of a pending receive                   */
/* ==================================================================== */

typedef struct C6_RESULT {
    KEVENT Closed;
    WP_IRP_LOG Receive;
    WP_IRP_LOG Close;
    BOOLEAN ReceiveDoneAtClose;   /* the receive routine had finished when the close completion ran */
    LONG ReceiveCompletionsAtClose;
} C6_RESULT;

typedef struct C6_CONNECTION {
    WP_WORK Work;
    PWSK_SOCKET Socket;
    C6_RESULT *Result;
    PIRP ReceiveIrp;
    PMDL ReceiveMdl;
    PIRP CloseIrp;
    ULONG StallUs;               /* work the receive routine does before it finishes */
    volatile LONG ReceiveFinished; /* set at the END of the receive routine */
    UCHAR Buffer[512];
} C6_CONNECTION;

static NTSTATUS C6ReceiveDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    C6_CONNECTION *c = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&c->Result->Receive, Irp);
    /* Some work at DISPATCH_LEVEL (a driver would log, account, wake
     * someone); it widens the window in which a premature close completion
     * would free c under us. */
    if (c->StallUs > 0)
        KeStallExecutionProcessor(c->StallUs);
    wp_log_leave(&c->Result->Receive);
    InterlockedExchange(&c->ReceiveFinished, 1); /* the last touch of c */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS C6CloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    C6_CONNECTION *c = Context;
    C6_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&result->Close, Irp);
    result->ReceiveDoneAtClose = InterlockedCompareExchange((LONG *)&c->ReceiveFinished, 0, 0) != 0;
    result->ReceiveCompletionsAtClose = InterlockedCompareExchange((LONG *)&result->Receive.Completions, 0, 0);
    IoFreeMdl(c->ReceiveMdl);
    IoFreeIrp(c->ReceiveIrp);
    IoFreeIrp(c->CloseIrp);
    ExFreePoolWithTag(c, WP_TAG);
    wp_log_leave(&result->Close);
    KeSetEvent(&result->Closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID C6CloseWork(WP_WORK *Work)
{
    C6_CONNECTION *c = CONTAINING_RECORD(Work, C6_CONNECTION, Work);
    C6_RESULT *result = c->Result;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->Socket->Dispatch;
    IoSetCompletionRoutine(c->CloseIrp, C6CloseDone, c, TRUE, TRUE, TRUE);
    NTSTATUS r = d->WskCloseSocket(c->Socket, c->CloseIrp);
    wp_log_issued(&result->Close, r);
}

typedef enum c6_peer { C6_PEER_RESETS, C6_PEER_CLOSES, C6_PEER_SENDS, C6_PEER_STAYS } c6_peer;

static const char *c6_peer_name(c6_peer p)
{
    switch (p) {
    case C6_PEER_RESETS: return "the peer resets";
    case C6_PEER_CLOSES: return "the peer closes";
    case C6_PEER_SENDS: return "the peer sends a byte";
    default: return "the peer stays";
    }
}

static BOOLEAN c6_round(wt_wsk *t, ULONG round)
{
    static C6_RESULT result;
    memset(&result, 0, sizeof(result));
    KeInitializeEvent(&result.Closed, NotificationEvent, FALSE);
    C6_CONNECTION *c = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*c), WP_TAG);
    c->Result = &result;
    c->ReceiveIrp = IoAllocateIrp(1, FALSE);
    c->CloseIrp = IoAllocateIrp(1, FALSE);
    c->ReceiveMdl = wp_mdl(c->Buffer, sizeof(c->Buffer));
    c->StallUs = (round % 5) * 25; /* 0..100 µs */
    c6_peer how = (c6_peer)(round % 4);
    LONGLONG delay_us = (LONGLONG)((round / 4) % 6) * 40; /* close 0..200 µs after the peer acts */
    int peer;
    PWSK_SOCKET s = (round / 2) % 2 ? wp_accept(t, c, NULL, &peer) : wp_connect(t, c, NULL, &peer);
    if (s == NULL)
        return FALSE;
    c->Socket = s;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    WSK_BUF b = {c->ReceiveMdl, 0, sizeof(c->Buffer)};
    IoSetCompletionRoutine(c->ReceiveIrp, C6ReceiveDone, c, TRUE, TRUE, TRUE);
    NTSTATUS r = d->WskReceive(s, &b, 0, c->ReceiveIrp);
    wp_log_issued(&result.Receive, r);
    switch (how) {
    case C6_PEER_RESETS:
        peer_reset_on_close(peer);
        peer_close(peer);
        peer = -1;
        break;
    case C6_PEER_CLOSES:
        peer_close(peer);
        peer = -1;
        break;
    case C6_PEER_SENDS:
        peer_send_all(peer, "x", 1);
        break;
    default:
        break;
    }
    if (delay_us > 0)
        wp_sleep_us(delay_us);
    wp_worker_queue(&cl_worker, &c->Work, C6CloseWork);
    /* c belongs to the driver; only result from here on. */
    if (!wp_wait(&result.Closed, WP_TIMEOUT_MS)) {
        WT_FAIL("%s, close %lld µs later: the close never completed (receive completed %d times)", c6_peer_name(how),
                delay_us, (int)result.Receive.Completions);
        return FALSE;
    }
    usleep(200); /* a receive routine running after the close completion would show up below */
    if (peer >= 0)
        peer_close(peer);
    NTSTATUS rx = wp_log_check(&result.Receive, "%s, close %lld µs later: the receive", c6_peer_name(how), delay_us);
    cl_seen_add(rx);
    if (!result.ReceiveDoneAtClose)
        WT_FAIL("%s, close %lld µs later: the close completed while the receive (status 0x%x %s, completions so far "
                "%d) had not finished its completion routine",
                c6_peer_name(how), delay_us, (unsigned)rx, wp_status_name(rx),
                (int)result.ReceiveCompletionsAtClose);
    if (how == C6_PEER_STAYS && rx != STATUS_CANCELLED)
        WT_FAIL("the receive pending at close completed with 0x%x (%s), expected STATUS_CANCELLED", (unsigned)rx,
                wp_status_name(rx));
    if (how == C6_PEER_SENDS && rx != STATUS_CANCELLED && !(rx == STATUS_SUCCESS && result.Receive.Information == 1))
        WT_FAIL("the receive completed with 0x%x (%s), %lu bytes: expected the byte or STATUS_CANCELLED",
                (unsigned)rx, wp_status_name(rx), (unsigned long)result.Receive.Information);
    if (how == C6_PEER_CLOSES && rx != STATUS_CANCELLED && !(rx == STATUS_SUCCESS && result.Receive.Information == 0))
        WT_FAIL("the receive completed with 0x%x (%s), %lu bytes: expected the FIN or STATUS_CANCELLED", (unsigned)rx,
                wp_status_name(rx), (unsigned long)result.Receive.Information);
    if (how == C6_PEER_RESETS && NT_SUCCESS(rx) && result.Receive.Information != 0)
        WT_FAIL("the receive got %lu bytes from a peer that sent none", (unsigned long)result.Receive.Information);
    CHECK_EQ(wp_log_check(&result.Close, "close"), STATUS_SUCCESS);
    return TRUE;
}

static void close_races_pending_receive(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(wp_worker_start(&cl_worker), STATUS_SUCCESS);
    const char *name = "close racing a pending receive";
    int n = rounds * 2;
    wp_case_begin();
    cl_seen_reset();
    for (int round = 0; round < n; round++) {
        wp_round_begin(name, round, n);
        BOOLEAN finished = c6_round(&t, (ULONG)round);
        wp_round_end(round);
        if (!finished) {
            WT_FAIL("stopping the case: round %d left IRPs pending", round);
            break;
        }
    }
    wp_case_end(name, n);
    cl_seen_print("receive statuses");
    wp_worker_stop(&cl_worker);
    wp_wsk_close(&t, WP_TIMEOUT_MS);
}

/* ==================================================================== */
/* 7. the peer resets while several sends are pending                    */
/* ==================================================================== */

#define C7_SENDS 8
#define C7_SEND_LENGTH (1u << 20)

typedef struct C7_RESULT {
    KEVENT Issued;
    KEVENT Closed;
    WP_IRP_LOG Send[C7_SENDS];
    WP_IRP_LOG Close;
    int UnfinishedAtClose; /* a send whose routine had not finished at close completion, or -1 */
} C7_RESULT;

typedef struct C7_CONNECTION C7_CONNECTION;

typedef struct C7_SEND {
    C7_CONNECTION *Connection;
    ULONG Index;
    PIRP Irp;
    PMDL Mdl;
} C7_SEND;

struct C7_CONNECTION {
    WP_WORK Work;
    PWSK_SOCKET Socket;
    C7_RESULT *Result;
    BOOLEAN CloseOnFirstError;
    LONG Closing;
    LONG Outstanding;
    PIRP CloseIrp;
    PUCHAR Data;
    C7_SEND Send[C7_SENDS];
};

static IO_COMPLETION_ROUTINE C7CloseDone;

static VOID C7CloseWork(WP_WORK *Work)
{
    C7_CONNECTION *c = CONTAINING_RECORD(Work, C7_CONNECTION, Work);
    WP_IRP_LOG *log = &c->Result->Close;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->Socket->Dispatch;
    IoSetCompletionRoutine(c->CloseIrp, C7CloseDone, c, TRUE, TRUE, TRUE);
    NTSTATUS r = d->WskCloseSocket(c->Socket, c->CloseIrp);
    wp_log_issued(log, r);
}

static NTSTATUS C7SendDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    C7_SEND *send = Context;
    C7_CONNECTION *c = send->Connection;
    WP_IRP_LOG *log = &c->Result->Send[send->Index];
    BOOLEAN close = FALSE;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(log, Irp);
    if (!NT_SUCCESS(Irp->IoStatus.Status) && c->CloseOnFirstError)
        close = InterlockedExchange(&c->Closing, 1) == 0;
    if (InterlockedDecrement(&c->Outstanding) == 0 && !close)
        close = InterlockedExchange(&c->Closing, 1) == 0;
    if (close) {
        wp_log_leave(log);
        wp_worker_queue(&cl_worker, &c->Work, C7CloseWork);
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    wp_log_leave(log); /* c may be freed once this is seen */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS C7CloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    C7_CONNECTION *c = Context;
    C7_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(&result->Close, Irp);
    result->UnfinishedAtClose = -1;
    for (int k = 0; k < C7_SENDS; k++) {
        if (InterlockedCompareExchange((LONG *)&result->Send[k].Completions, 0, 0) != 1 ||
            InterlockedCompareExchange((LONG *)&result->Send[k].Ended, 0, 0) != 1) {
            result->UnfinishedAtClose = k;
            break;
        }
    }
    for (int k = 0; k < C7_SENDS; k++) {
        IoFreeMdl(c->Send[k].Mdl);
        IoFreeIrp(c->Send[k].Irp);
    }
    IoFreeIrp(c->CloseIrp);
    ExFreePoolWithTag(c->Data, WP_TAG);
    ExFreePoolWithTag(c, WP_TAG);
    wp_log_leave(&result->Close);
    KeSetEvent(&result->Closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID C7StartWork(WP_WORK *Work)
{
    C7_CONNECTION *c = CONTAINING_RECORD(Work, C7_CONNECTION, Work);
    C7_RESULT *result = c->Result;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->Socket->Dispatch;
    PWSK_SOCKET s = c->Socket;
    /* The close is issued by this worker, so c outlives this loop. */
    for (int k = 0; k < C7_SENDS; k++) {
        WSK_BUF b = {c->Send[k].Mdl, 0, C7_SEND_LENGTH};
        IoSetCompletionRoutine(c->Send[k].Irp, C7SendDone, &c->Send[k], TRUE, TRUE, TRUE);
        wp_log_issued(&result->Send[k], d->WskSend(s, &b, 0, c->Send[k].Irp));
    }
    KeSetEvent(&result->Issued, IO_NO_INCREMENT, FALSE);
}

static BOOLEAN c7_round(wt_wsk *t, ULONG round)
{
    static C7_RESULT result;
    memset(&result, 0, sizeof(result));
    KeInitializeEvent(&result.Issued, NotificationEvent, FALSE);
    KeInitializeEvent(&result.Closed, NotificationEvent, FALSE);
    C7_CONNECTION *c = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*c), WP_TAG);
    c->Result = &result;
    c->CloseOnFirstError = round % 2 == 1;
    c->Outstanding = C7_SENDS;
    c->CloseIrp = IoAllocateIrp(1, FALSE);
    c->Data = ExAllocatePoolWithTag(NonPagedPoolNx, (SIZE_T)C7_SENDS * C7_SEND_LENGTH, WP_TAG);
    wp_fill(c->Data, (SIZE_T)C7_SENDS * C7_SEND_LENGTH, 0, round);
    for (int k = 0; k < C7_SENDS; k++) {
        c->Send[k].Connection = c;
        c->Send[k].Index = (ULONG)k;
        c->Send[k].Irp = IoAllocateIrp(1, FALSE);
        c->Send[k].Mdl = wp_mdl(c->Data + (SIZE_T)k * C7_SEND_LENGTH, C7_SEND_LENGTH);
    }
    int peer;
    PWSK_SOCKET s = round % 4 < 2 ? wp_connect(t, c, NULL, &peer) : wp_accept(t, c, NULL, &peer);
    if (s == NULL)
        return FALSE;
    c->Socket = s;
    const char *closing = c->CloseOnFirstError ? "close on the first failed send" : "close after the last send";
    wp_worker_queue(&cl_worker, &c->Work, C7StartWork);
    /* The peer reads a little (and checks it), then resets. */
    SIZE_T take = ((SIZE_T)round * 69001) % (640 * 1024);
    PUCHAR got = malloc(take + 1);
    long n = take > 0 ? peer_recv_exact(peer, got, take, 5000) : 0;
    if (n != (long)take)
        WT_FAIL("the peer read %ld of the first %zu bytes", n, take);
    else
        wp_check_bytes(got, take, 0, round, take, "the first %zu bytes the peer read", take);
    free(got);
    peer_reset_on_close(peer);
    peer_close(peer);
    BOOLEAN issued = wp_wait(&result.Issued, WP_TIMEOUT_MS);
    BOOLEAN closed = issued && wp_wait(&result.Closed, WP_TIMEOUT_MS);
    if (!closed) {
        char done[C7_SENDS + 1];
        for (int k = 0; k < C7_SENDS; k++)
            done[k] = (char)('0' + result.Send[k].Completions);
        done[C7_SENDS] = 0;
        WT_FAIL("%s: the close never completed (%s; completions per send: %s, close issued %d)", closing,
                issued ? "all sends issued" : "the sends were never all issued", done, result.Close.Issued);
        return FALSE;
    }
    BOOLEAN failed_before = FALSE;
    for (int k = 0; k < C7_SENDS; k++) {
        NTSTATUS st = wp_log_check(&result.Send[k], "%s: send %d of %d", closing, k + 1, C7_SENDS);
        cl_seen_add(st);
        /* PFN_WSK_SEND: success means all of it went; a reset fails the
         * rest with a connection status; a close cancels what is pending. */
        if (st == STATUS_SUCCESS) {
            if (result.Send[k].Information != C7_SEND_LENGTH)
                WT_FAIL("%s: send %d succeeded with Information %lu of %u", closing, k + 1,
                        (unsigned long)result.Send[k].Information, C7_SEND_LENGTH);
            if (failed_before)
                WT_FAIL("%s: send %d succeeded after an earlier send had failed: sends went out of order", closing,
                        k + 1);
        } else if (st == STATUS_CONNECTION_RESET || st == STATUS_CONNECTION_ABORTED ||
                   st == STATUS_CONNECTION_DISCONNECTED || st == STATUS_CANCELLED) {
            failed_before = TRUE;
        } else {
            WT_FAIL("%s: send %d completed with 0x%x (%s), not success or a connection status", closing, k + 1,
                    (unsigned)st, wp_status_name(st));
            failed_before = TRUE;
        }
    }
    CHECK_EQ(wp_log_check(&result.Close, "%s: close", closing), STATUS_SUCCESS);
    if (result.UnfinishedAtClose >= 0)
        WT_FAIL("%s: the close completed before send %d's completion routine had finished", closing,
                result.UnfinishedAtClose + 1);
    return TRUE;
}

static void peer_resets_while_sends_pending(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(wp_worker_start(&cl_worker), STATUS_SUCCESS);
    const char *name = "reset under pending sends";
    int n = wp_fraction(rounds, 4);
    wp_case_begin();
    cl_seen_reset();
    for (int round = 0; round < n; round++) {
        wp_round_begin(name, round, n);
        BOOLEAN finished = c7_round(&t, (ULONG)round);
        wp_round_end(round);
        if (!finished) {
            WT_FAIL("stopping the case: round %d left IRPs pending", round);
            break;
        }
    }
    wp_case_end(name, n);
    cl_seen_print("send statuses");
    wp_worker_stop(&cl_worker);
    wp_wsk_close(&t, WP_TIMEOUT_MS);
}

int main(void)
{
    wp_install_crash_note();
    rounds = wp_rounds(200);
    fprintf(stderr, "%d rounds (OPENWSK_PATTERN_ROUNDS)\n", rounds);
    WP_RUN(close_from_receive_completion_on_fin);
    WP_RUN(close_from_receive_completion_on_reset);
    WP_RUN(close_races_pending_receive);
    WP_RUN(peer_resets_while_sends_pending);
    if (wt_cases_failed == 0)
        CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
