/*
 * test_pattern_send_disconnect.c - a driver that sends and disconnects
 * without waiting in between, as production drivers do (wsk-part-b.md
 * §5.1, §5.4, §10.3).
 *
 * The driver's worker thread fires a WskReceive (to see the peer's FIN),
 * one or more WskSends and a graceful WskDisconnect back to back, none
 * waited for.  Completion routines run at DISPATCH_LEVEL, note what they
 * got and count the connection's outstanding IRPs down; the last one
 * queues the close to the worker, and the close completion frees the
 * connection (IRPs, MDLs, data, context), the way Microsoft's echo sample
 * frees its socket context.  The Linux peer reads and checks every byte.
 *
 * Checked: the peer receives every byte of every send, in issue order,
 * then any final buffer of the disconnect, then EOF (not a reset, nothing
 * missing); each send completes once with STATUS_SUCCESS and Information
 * equal to its length; the disconnect completes once with STATUS_SUCCESS;
 * a send issued after the disconnect fails and none of its bytes reach
 * the peer; every completion routine has returned before the close
 * completes.
 */
#include "wt_pattern.h"

#include <openwsk_runtime.h>

#define SD_MAX_SENDS 8

/* How a round's driver behaves. */
typedef enum SD_CLOSE_MODE {
    /* Keeps a WskReceive pending and closes once it completes (the peer's
     * FIN) and every send and the disconnect have completed: both
     * directions are shut, the close is graceful. */
    SD_CLOSE_AFTER_PEER_FIN,
    /* Closes as soon as the sends and the disconnect have completed, with
     * the receive still pending (Microsoft's echo sample closes from its
     * disconnect completion).  The close resets the connection, which
     * must not lose data the completed disconnect already covered. */
    SD_CLOSE_ON_DISCONNECT_COMPLETION,
} SD_CLOSE_MODE;

typedef struct SD_PLAN {
    SD_CLOSE_MODE Mode;
    ULONG Sends;
    SIZE_T SendLength[SD_MAX_SENDS];
    SIZE_T FinalLength;  /* > 0: WskDisconnect carries a final buffer of this length */
    SIZE_T LateLength;   /* > 0: a WskSend issued right after the WskDisconnect */
    LONGLONG ReaderDelayUs;
} SD_PLAN;

/* What the driver saw; outlives the connection context. */
typedef struct SD_RESULT {
    KEVENT Closed;
    KEVENT CloseReturned; /* the worker's WskCloseSocket call has returned */
    WP_IRP_LOG Send[SD_MAX_SENDS];
    WP_IRP_LOG Disconnect;
    WP_IRP_LOG Late;
    WP_IRP_LOG Receive;
    WP_IRP_LOG Close;
    LONG DisconnectDoneWhenLateIssued;
    /* Filled by the close completion: an IRP of the socket whose routine
     * had not finished when the close completed, or -1. */
    int UnfinishedAtClose;
    LONG UnfinishedCompletions, UnfinishedEnded;
} SD_RESULT;

typedef struct SD_CONNECTION SD_CONNECTION;

/* One IRP of the connection and where its outcome goes. */
typedef struct SD_IRP {
    SD_CONNECTION *Connection;
    PIRP Irp;
    PMDL Mdl;
    WP_IRP_LOG *Log;
    BOOLEAN Counted; /* its completion counts towards closing */
} SD_IRP;

enum { SD_RECEIVE = SD_MAX_SENDS, SD_DISCONNECT, SD_LATE, SD_CLOSE, SD_IRPS };

struct SD_CONNECTION {
    WP_WORK Work;
    WP_WORKER *Worker;
    PWSK_SOCKET Socket;
    const SD_PLAN *Plan;
    SD_RESULT *Result;
    LONG Outstanding; /* counted IRPs not yet completed, +1 while issuing */
    SD_IRP Irps[SD_IRPS];
    PUCHAR Data;      /* every byte the driver sends: the sends, the final buffer, the late send */
    SIZE_T DataLength;
    UCHAR ReceiveBuffer[64];
};

static WP_WORKER sd_worker;

static const WSK_PROVIDER_CONNECTION_DISPATCH *SdDispatch(SD_CONNECTION *c)
{
    return c->Socket->Dispatch;
}

static IO_COMPLETION_ROUTINE SdCloseDone;

static VOID SdCloseWork(WP_WORK *Work)
{
    SD_CONNECTION *c = CONTAINING_RECORD(Work, SD_CONNECTION, Work);
    SD_IRP *close = &c->Irps[SD_CLOSE];
    IoSetCompletionRoutine(close->Irp, SdCloseDone, close, TRUE, TRUE, TRUE);
    WP_IRP_LOG *log = close->Log;
    PKEVENT closeReturned = &c->Result->CloseReturned;
    NTSTATUS r = SdDispatch(c)->WskCloseSocket(c->Socket, close->Irp);
    wp_log_issued(log, r); /* the log outlives the context, which may be gone now */
    KeSetEvent(closeReturned, IO_NO_INCREMENT, FALSE);
}

/* Drops one count; the last one closes (from the worker: the close is
 * not issued from inside a completion routine). */
static VOID SdRelease(SD_CONNECTION *c)
{
    if (InterlockedDecrement(&c->Outstanding) == 0)
        wp_worker_queue(c->Worker, &c->Work, SdCloseWork);
}

/* Every IRP but the close completes here, at DISPATCH_LEVEL. */
static NTSTATUS SdDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    SD_IRP *i = Context;
    SD_CONNECTION *c = i->Connection;
    BOOLEAN counted = i->Counted;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(i->Log, Irp);
    wp_log_leave(i->Log);
    /* The last touch of the context (for an IRP that is not counted, the
     * line above was): the close may free it any time after this. */
    if (counted)
        SdRelease(c);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS SdCloseDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    SD_IRP *close = Context;
    SD_CONNECTION *c = close->Connection;
    SD_RESULT *result = c->Result;
    UNREFERENCED_PARAMETER(DeviceObject);
    wp_log_enter(close->Log, Irp);
    /* PFN_WSK_CLOSE_SOCKET: once the close is complete nothing of the
     * socket runs any more, so the context can go. */
    result->UnfinishedAtClose = -1;
    for (int k = 0; k < SD_CLOSE; k++) {
        WP_IRP_LOG *log = c->Irps[k].Log;
        if (log == NULL || !log->Issued)
            continue;
        LONG done = InterlockedCompareExchange((LONG *)&log->Completions, 0, 0);
        LONG ended = InterlockedCompareExchange((LONG *)&log->Ended, 0, 0);
        if (done != 1 || ended != 1) {
            result->UnfinishedAtClose = k;
            result->UnfinishedCompletions = done;
            result->UnfinishedEnded = ended;
            break;
        }
    }
    for (int k = 0; k < SD_IRPS; k++) {
        if (c->Irps[k].Irp != NULL)
            IoFreeIrp(c->Irps[k].Irp);
        if (c->Irps[k].Mdl != NULL)
            IoFreeMdl(c->Irps[k].Mdl);
    }
    ExFreePoolWithTag(c->Data, WP_TAG);
    ExFreePoolWithTag(c, WP_TAG);
    wp_log_leave(&result->Close);
    KeSetEvent(&result->Closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP SdArm(SD_IRP *i)
{
    IoSetCompletionRoutine(i->Irp, SdDone, i, TRUE, TRUE, TRUE);
    return i->Irp;
}

/* The driver's "start" work item: everything fired back to back. */
static VOID SdStartWork(WP_WORK *Work)
{
    SD_CONNECTION *c = CONTAINING_RECORD(Work, SD_CONNECTION, Work);
    const SD_PLAN *plan = c->Plan;
    SD_RESULT *result = c->Result;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = SdDispatch(c);
    PWSK_SOCKET s = c->Socket;
    NTSTATUS r;

    /* A receive stays pending until the peer's FIN (or the close). */
    SD_IRP *rx = &c->Irps[SD_RECEIVE];
    WSK_BUF rb = {rx->Mdl, 0, sizeof(c->ReceiveBuffer)};
    r = d->WskReceive(s, &rb, 0, SdArm(rx));
    wp_log_issued(&result->Receive, r);

    for (ULONG k = 0; k < plan->Sends; k++) {
        SD_IRP *tx = &c->Irps[k];
        WSK_BUF b = {tx->Mdl, 0, plan->SendLength[k]};
        r = d->WskSend(s, &b, 0, SdArm(tx));
        wp_log_issued(&result->Send[k], r);
    }
    /* PFN_WSK_DISCONNECT, Remarks: a graceful disconnect goes out after
     * the data of the sends already queued. */
    SD_IRP *dc = &c->Irps[SD_DISCONNECT];
    WSK_BUF fb = {dc->Mdl, 0, plan->FinalLength};
    r = d->WskDisconnect(s, plan->FinalLength > 0 ? &fb : NULL, 0, SdArm(dc));
    wp_log_issued(&result->Disconnect, r);
    if (plan->LateLength > 0) {
        /* A driver bug the provider must refuse: data after the disconnect. */
        SD_IRP *late = &c->Irps[SD_LATE];
        WSK_BUF lb = {late->Mdl, 0, plan->LateLength};
        result->DisconnectDoneWhenLateIssued =
            InterlockedCompareExchange((LONG *)&result->Disconnect.Completions, 0, 0);
        r = d->WskSend(s, &lb, 0, SdArm(late));
        wp_log_issued(&result->Late, r);
    }
    SdRelease(c); /* the issuer's count */
}

/* Builds the connection context for a connected socket and queues its
 * start; FALSE if allocation failed (reported). */
static BOOLEAN SdStart(PWSK_SOCKET socket, const SD_PLAN *plan, SD_RESULT *result, ULONG round)
{
    SD_CONNECTION *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*c), WP_TAG);
    if (c == NULL)
        return FALSE;
    c->Worker = &sd_worker;
    c->Socket = socket;
    c->Plan = plan;
    c->Result = result;
    SIZE_T sent = 0;
    for (ULONG k = 0; k < plan->Sends; k++)
        sent += plan->SendLength[k];
    c->DataLength = sent + plan->FinalLength + plan->LateLength;
    c->Data = ExAllocatePoolWithTag(NonPagedPoolNx, c->DataLength + 1, WP_TAG);
    if (c->Data == NULL) {
        ExFreePoolWithTag(c, WP_TAG);
        return FALSE;
    }
    /* One stream: the sends, then the final buffer, then the late send's
     * bytes (which the peer must never see). */
    wp_fill(c->Data, c->DataLength, 0, round);
    WP_IRP_LOG *logs[SD_IRPS] = {0};
    for (ULONG k = 0; k < plan->Sends; k++)
        logs[k] = &result->Send[k];
    logs[SD_RECEIVE] = &result->Receive;
    logs[SD_DISCONNECT] = &result->Disconnect;
    logs[SD_LATE] = plan->LateLength > 0 ? &result->Late : NULL;
    logs[SD_CLOSE] = &result->Close;
    SIZE_T offset = 0;
    for (int k = 0; k < SD_IRPS; k++) {
        SD_IRP *i = &c->Irps[k];
        i->Connection = c;
        i->Log = logs[k];
        if (logs[k] == NULL)
            continue;
        i->Irp = IoAllocateIrp(1, FALSE);
        if (k < SD_MAX_SENDS) {
            i->Mdl = wp_mdl(c->Data + offset, plan->SendLength[k]);
            offset += plan->SendLength[k];
            i->Counted = TRUE;
        } else if (k == SD_RECEIVE) {
            i->Mdl = wp_mdl(c->ReceiveBuffer, sizeof(c->ReceiveBuffer));
            i->Counted = plan->Mode == SD_CLOSE_AFTER_PEER_FIN;
        } else if (k == SD_DISCONNECT) {
            i->Mdl = plan->FinalLength > 0 ? wp_mdl(c->Data + offset, plan->FinalLength) : NULL;
            offset += plan->FinalLength;
            i->Counted = TRUE;
        } else if (k == SD_LATE) {
            i->Mdl = wp_mdl(c->Data + offset, plan->LateLength);
            i->Counted = TRUE;
        }
    }
    LONG counted = 1;
    for (int k = 0; k < SD_CLOSE; k++)
        counted += c->Irps[k].Counted;
    c->Outstanding = counted;
    wp_worker_queue(&sd_worker, &c->Work, SdStartWork);
    return TRUE;
}

/* ---- the test side ---- */

static const char *sd_mode_name(SD_CLOSE_MODE m)
{
    return m == SD_CLOSE_AFTER_PEER_FIN ? "close after the peer's FIN" : "close on disconnect completion";
}

/* Statuses the late sends failed with, and how often. */
static struct {
    NTSTATUS status;
    int count;
} late_seen[8];

static void late_count(NTSTATUS st)
{
    for (int k = 0; k < 8; k++) {
        if (late_seen[k].count == 0 || late_seen[k].status == st) {
            late_seen[k].status = st;
            late_seen[k].count++;
            return;
        }
    }
}

/* One connection driven by the plan; every check of the round.  FALSE if
 * the round could not finish (its IRPs may still be pending). */
static BOOLEAN sd_round(wt_wsk *t, const SD_PLAN *plan, ULONG round)
{
    static SD_RESULT result;
    memset(&result, 0, sizeof(result));
    KeInitializeEvent(&result.Closed, NotificationEvent, FALSE);
    KeInitializeEvent(&result.CloseReturned, NotificationEvent, FALSE);
    for (int k = 0; k < SD_MAX_SENDS; k++)
        wp_log_reset(&result.Send[k]);
    int peer;
    PWSK_SOCKET s = wp_connect(t, NULL, NULL, &peer);
    if (s == NULL)
        return FALSE;
    SIZE_T sent = 0;
    for (ULONG k = 0; k < plan->Sends; k++)
        sent += plan->SendLength[k];
    SIZE_T expected = sent + plan->FinalLength;
    wp_reader reader;
    wp_reader_start(&reader, peer, round, expected + plan->LateLength + 1, plan->ReaderDelayUs);
    if (!SdStart(s, plan, &result, round)) {
        WT_FAIL("out of pool");
        return FALSE;
    }
    BOOLEAN closed;
    if (plan->Mode == SD_CLOSE_AFTER_PEER_FIN) {
        wp_reader_join(&reader);
        peer_close(peer); /* our FIN: the driver's receive completes, it closes */
        closed = wp_wait(&result.Closed, WP_TIMEOUT_MS);
    } else {
        closed = wp_wait(&result.Closed, WP_TIMEOUT_MS);
        wp_reader_join(&reader);
        peer_close(peer);
    }
    if (closed && !wp_wait(&result.CloseReturned, WP_TIMEOUT_MS)) {
        WT_FAIL("WskCloseSocket completed its IRP but never returned");
        return FALSE;
    }
    if (!closed) {
        WT_FAIL("the close never completed (%s); completions: first send %d (of %u sends), disconnect %d, receive %d",
                sd_mode_name(plan->Mode), (int)result.Send[0].Completions, plan->Sends,
                (int)result.Disconnect.Completions, (int)result.Receive.Completions);
        return FALSE;
    }
    wp_reader_expect(&reader, expected, "%u sends of %zu bytes in all, final buffer %zu, %s", plan->Sends, sent,
                     plan->FinalLength, sd_mode_name(plan->Mode));
    for (ULONG k = 0; k < plan->Sends; k++) {
        NTSTATUS st = wp_log_check(&result.Send[k], "send %u of %u (%zu bytes)", k + 1, plan->Sends,
                                   plan->SendLength[k]);
        if (st != STATUS_SUCCESS || result.Send[k].Information != plan->SendLength[k])
            WT_FAIL("send %u of %u: status 0x%x (%s), Information %lu, expected STATUS_SUCCESS and %zu", k + 1,
                    plan->Sends, (unsigned)st, wp_status_name(st), (unsigned long)result.Send[k].Information,
                    plan->SendLength[k]);
    }
    NTSTATUS st = wp_log_check(&result.Disconnect, "graceful disconnect");
    if (st != STATUS_SUCCESS)
        WT_FAIL("graceful disconnect: status 0x%x (%s), expected STATUS_SUCCESS", (unsigned)st, wp_status_name(st));
    BOOLEAN all_sent = st == STATUS_SUCCESS;
    for (ULONG k = 0; k < plan->Sends; k++)
        all_sent = all_sent && result.Send[k].Status == STATUS_SUCCESS;
    if (all_sent && (reader.total < expected || reader.end != 0))
        /* PFN_WSK_DISCONNECT, Remarks: a graceful disconnect completes
         * once the transport has finished it (it may stay pending while
         * data cannot be delivered), so a close after its completion
         * cannot cost the peer any of that data. */
        WT_FAIL("every send and the disconnect succeeded, yet the peer got %llu of %zu bytes and %s: data the "
                "completed graceful disconnect covered was lost (%s)",
                (unsigned long long)reader.total, expected, reader.end == 0 ? "EOF" : "a reset",
                sd_mode_name(plan->Mode));
    if (plan->LateLength > 0) {
        if (reader.total > expected)
            WT_FAIL("%llu bytes of the send issued after WskDisconnect reached the peer before its EOF",
                    (unsigned long long)(reader.total - expected));
        st = wp_log_check(&result.Late, "send after the disconnect");
        /* PFN_WSK_DISCONNECT, Remarks: after a graceful disconnect the
         * client cannot send any more data.  No status is named there or
         * on PFN_WSK_SEND; we require a failure.  (openwsk answers a send
         * after a completed disconnect with STATUS_PIPE_DISCONNECTED, the
         * NTSTATUS behind WSAESHUTDOWN; we count what it gives here.) */
        if (NT_SUCCESS(st) || st == STATUS_PENDING)
            WT_FAIL("a send issued after WskDisconnect %s: status 0x%x (%s), Information %lu; it must fail",
                    result.DisconnectDoneWhenLateIssued ? "had completed" : "was issued (still pending)",
                    (unsigned)st, wp_status_name(st), (unsigned long)result.Late.Information);
        else
            late_count(st);
    }
    st = wp_log_check(&result.Receive, "the pending receive");
    if (plan->Mode == SD_CLOSE_AFTER_PEER_FIN && (st != STATUS_SUCCESS || result.Receive.Information != 0))
        WT_FAIL("receive: status 0x%x (%s), Information %lu; expected the peer's FIN (STATUS_SUCCESS, 0 bytes)",
                (unsigned)st, wp_status_name(st), (unsigned long)result.Receive.Information);
    st = wp_log_check(&result.Close, "close");
    CHECK_EQ(st, STATUS_SUCCESS);
    if (result.UnfinishedAtClose >= 0)
        WT_FAIL("the close completed while IRP #%d of the socket (%s) had completed %d times with %d routines "
                "finished: its routine could still be using the context freed by the close completion",
                result.UnfinishedAtClose,
                result.UnfinishedAtClose < SD_MAX_SENDS    ? "a send"
                : result.UnfinishedAtClose == SD_RECEIVE   ? "the receive"
                : result.UnfinishedAtClose == SD_DISCONNECT ? "the disconnect"
                                                            : "the late send",
                (int)result.UnfinishedCompletions, (int)result.UnfinishedEnded);
    return TRUE;
}

static void sd_run(const char *name, int rounds, void (*plan_for)(SD_PLAN *, int))
{
    wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(wp_worker_start(&sd_worker), STATUS_SUCCESS);
    wp_case_begin();
    for (int round = 0; round < rounds; round++) {
        SD_PLAN plan;
        memset(&plan, 0, sizeof(plan));
        plan_for(&plan, round);
        wp_round_begin(name, round, rounds);
        BOOLEAN finished = sd_round(&t, &plan, (ULONG)round);
        wp_round_end(round);
        if (!finished) {
            WT_FAIL("stopping the case: round %d left IRPs pending", round);
            break;
        }
    }
    wp_case_end(name, rounds);
    wp_worker_stop(&sd_worker);
    wp_wsk_close(&t, WP_TIMEOUT_MS);
}

static int rounds;

/* 1. One send of 100 bytes, the disconnect right behind it. */
static void plan_small(SD_PLAN *p, int round)
{
    p->Mode = SD_CLOSE_AFTER_PEER_FIN;
    p->Sends = 1;
    p->SendLength[0] = 100;
    (void)round;
}

static void send_100_then_disconnect(void)
{
    sd_run("send 100 B + disconnect", rounds, plan_small);
}

/* The same with 8 MiB, which the kernel cannot take at once: the
 * disconnect must wait behind the send while the peer reads. */
static void plan_large(SD_PLAN *p, int round)
{
    p->Mode = SD_CLOSE_AFTER_PEER_FIN;
    p->Sends = 1;
    p->SendLength[0] = 8u << 20;
    p->ReaderDelayUs = (round % 3) * 5000; /* sometimes the peer starts late */
}

static void send_8mib_then_disconnect(void)
{
    sd_run("send 8 MiB + disconnect", wp_fraction(rounds, 20), plan_large);
}

/* The close issued from the disconnect's completion, receive pending. */
static void plan_small_close_early(SD_PLAN *p, int round)
{
    plan_small(p, round);
    p->Mode = SD_CLOSE_ON_DISCONNECT_COMPLETION;
}

static void send_100_disconnect_close_at_once(void)
{
    sd_run("send 100 B + disconnect, close on completion", rounds, plan_small_close_early);
}

static void plan_large_close_early(SD_PLAN *p, int round)
{
    plan_large(p, round);
    p->Mode = SD_CLOSE_ON_DISCONNECT_COMPLETION;
}

static void send_8mib_disconnect_close_at_once(void)
{
    sd_run("send 8 MiB + disconnect, close on completion", wp_fraction(rounds, 20), plan_large_close_early);
}

/* 2. Two to eight sends of assorted sizes, then a disconnect with a
 * final buffer. */
static void plan_queue(SD_PLAN *p, int round)
{
    static const SIZE_T sizes[] = {1, 100, 1460, 4096, 65536, 65537, 300000, 7};
    p->Mode = SD_CLOSE_AFTER_PEER_FIN;
    p->Sends = 2 + (ULONG)round % 7;
    for (ULONG k = 0; k < p->Sends; k++)
        p->SendLength[k] = sizes[(k * 3 + (ULONG)round) % 8];
    p->FinalLength = 1 + ((SIZE_T)round * 811) % 4096;
    p->ReaderDelayUs = (round % 4) * 2000;
}

static void queued_sends_then_disconnect_with_final_buffer(void)
{
    sd_run("queued sends + disconnect with final buffer", wp_fraction(rounds, 2), plan_queue);
}

/* 3. A send after the disconnect was issued: small (the disconnect has
 * likely completed) or behind 2 MiB that the peer is slow to read (the
 * disconnect is still pending). */
static void plan_late(SD_PLAN *p, int round)
{
    p->Mode = SD_CLOSE_AFTER_PEER_FIN;
    p->Sends = 1;
    p->SendLength[0] = round % 2 ? 2u << 20 : 100;
    p->ReaderDelayUs = round % 2 ? 20000 : 0;
    p->LateLength = 4096;
}

static void send_after_disconnect_fails(void)
{
    memset(late_seen, 0, sizeof(late_seen));
    sd_run("send after disconnect", wp_fraction(rounds, 2), plan_late);
    for (int k = 0; k < 8 && late_seen[k].count > 0; k++)
        fprintf(stderr, "  late sends that failed: %d with 0x%x (%s)\n", late_seen[k].count,
                (unsigned)late_seen[k].status, wp_status_name(late_seen[k].status));
}

int main(void)
{
    wp_install_crash_note();
    rounds = wp_rounds(200);
    fprintf(stderr, "%d rounds (OPENWSK_PATTERN_ROUNDS)\n", rounds);
    WP_RUN(send_100_then_disconnect);
    WP_RUN(send_8mib_then_disconnect);
    WP_RUN(queued_sends_then_disconnect_with_final_buffer);
    WP_RUN(send_after_disconnect_fails);
    WP_RUN(send_100_disconnect_close_at_once);
    WP_RUN(send_8mib_disconnect_close_at_once);
    if (wt_cases_failed == 0)
        CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
