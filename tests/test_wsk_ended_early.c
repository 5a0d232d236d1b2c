/*
 * test_wsk_ended_early.c - what a connection's send or receive reports
 * when it ends before it is done, after it has already moved bytes: a
 * WSK_FLAG_WAITALL receive holding part of its buffer when it is
 * cancelled, when the socket is closed or when the peer resets, and a
 * send part of whose bytes are in the kernel when it is cancelled or the
 * peer resets (docs/decisions.md, "Connections").
 *
 * Windows documents that such a WAITALL receive completes ("The specified
 * IRP is canceled", "The connection is abortively disconnected":
 * PFN_WSK_RECEIVE), not what it reports.  The rules pinned here:
 *  - a receive that holds bytes completes with STATUS_SUCCESS and them,
 *    a short receive: the bytes are gone from the stream, so a status
 *    that says "no data" would lose them; the reason it ended (a reset)
 *    is what the next receive gets;
 *  - a failed send reports Information 0 with its status, as a cancel
 *    routine does ("Implementing a Cancel Routine").
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

#define TAG_DATA TAG_FROM_CHARS('T', 'e', 'n', 'd')
#define WANTED 200

static const WSK_PROVIDER_CONNECTION_DISPATCH *conn(PWSK_SOCKET s)
{
    return s->Dispatch;
}

/* A buffer with one MDL over it. */
typedef struct buffer {
    PUCHAR data;
    WSK_BUF buf;
} buffer;

static void buffer_make(buffer *b, SIZE_T len)
{
    b->data = ExAllocatePoolWithTag(NonPagedPoolNx, len, TAG_DATA);
    memset(b->data, 0, len);
    b->buf.Mdl = IoAllocateMdl(b->data, (ULONG)len, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(b->buf.Mdl);
    b->buf.Offset = 0;
    b->buf.Length = len;
}

static void buffer_free(buffer *b)
{
    IoFreeMdl(b->buf.Mdl);
    ExFreePoolWithTag(b->data, TAG_DATA);
}

/* Bytes Linux holds for the socket, not yet received (SIO_WSK_QUERY_RECEIVE_BACKLOG). */
static SIZE_T receive_backlog(PWSK_SOCKET s)
{
    wt_irp w = {0};
    SIZE_T value = 0;
    NTSTATUS r = conn(s)->WskControlSocket(s, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL, sizeof(value),
                                           &value, NULL, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    wt_irp_free(&w);
    return value;
}

/* Waits (up to 2 s) until the pending receive has taken what the peer
 * sent: loopback queues the bytes before send() returns, so an empty
 * backlog means the provider's receive read them.  TRUE if it has and the
 * IRP is still pending. */
static BOOLEAN wait_taken(PWSK_SOCKET s, wt_irp *w)
{
    for (int i = 0; i < 400; i++) {
        if (receive_backlog(s) == 0)
            return InterlockedCompareExchange(&w->completions, 0, 0) == 0;
        usleep(5000);
    }
    return FALSE;
}

static void fill_letters(UCHAR *p, SIZE_T n)
{
    for (SIZE_T k = 0; k < n; k++)
        p[k] = (UCHAR)('a' + k % 26);
}

/* A WAITALL receive of WANTED bytes posted, then `part` bytes from the peer. */
static NTSTATUS post_waitall_and_feed(wt_wsk *t, PWSK_SOCKET s, int peer, buffer *in, SIZE_T part)
{
    buffer_make(in, WANTED);
    NTSTATUS r = conn(s)->WskReceive(s, &in->buf, WSK_FLAG_WAITALL, wt_irp_arm(&t->irp));
    CHECK_EQ(r, STATUS_PENDING);
    UCHAR bytes[WANTED];
    fill_letters(bytes, part);
    CHECK_EQ(peer_send_all(peer, bytes, part), (long)part);
    CHECK(wait_taken(s, &t->irp));
    return r;
}

static void cancelled_waitall_receive_keeps_its_bytes(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    buffer in;
    NTSTATUS r = post_waitall_and_feed(&t, s, peer, &in, 50);
    CHECK_EQ(IoCancelIrp(t.irp.irp), TRUE);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 50);
    UCHAR want[50];
    fill_letters(want, sizeof want);
    CHECK_MEM(in.data, want, sizeof want);
    /* Nothing was lost or repeated: the next receive starts at the next byte. */
    CHECK_EQ(peer_send_all(peer, "next", 4), 4);
    memset(in.data, 0, WANTED);
    r = conn(s)->WskReceive(s, &in.buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 4);
    CHECK_MEM(in.data, "next", 4);
    wt_close(&t, s);
    buffer_free(&in);
    peer_close(peer);
    wt_wsk_close(&t);
}

static void closing_keeps_a_waitall_receives_bytes(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    buffer in;
    NTSTATUS r = post_waitall_and_feed(&t, s, peer, &in, 30);
    wt_irp closing = {0};
    NTSTATUS c = conn(s)->WskCloseSocket(s, wt_irp_arm(&closing));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 30);
    CHECK_EQ(wt_irp_result(&closing, c), STATUS_SUCCESS);
    CHECK_EQ(closing.irp->IoStatus.Information, 0);
    UCHAR want[30];
    fill_letters(want, sizeof want);
    CHECK_MEM(in.data, want, sizeof want);
    for (int i = 0; i < 64; i++)
        if (t.made[i].socket == s)
            t.made[i].socket = NULL; /* closed here, not by wt_wsk_close */
    wt_irp_free(&closing);
    buffer_free(&in);
    peer_close(peer);
    wt_wsk_close(&t);
}

static void reset_after_part_delivers_it_then_fails(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    buffer in;
    NTSTATUS r = post_waitall_and_feed(&t, s, peer, &in, 40);
    peer_reset_on_close(peer);
    peer_close(peer);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 40);
    UCHAR want[40];
    fill_letters(want, sizeof want);
    CHECK_MEM(in.data, want, sizeof want);
    /* The reset is what the next receive reports. */
    r = conn(s)->WskReceive(s, &in.buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CONNECTION_RESET);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    wt_close(&t, s);
    buffer_free(&in);
    wt_wsk_close(&t);
}

/* A send larger than what the loopback buffers take while the peer reads
 * nothing (about 4 MiB here): pending, with part of it in the kernel. */
#define BIG_SEND (15u << 20)

static NTSTATUS post_big_send(wt_wsk *t, PWSK_SOCKET s, int peer, buffer *out)
{
    buffer_make(out, BIG_SEND);
    NTSTATUS r = conn(s)->WskSend(s, &out->buf, 0, wt_irp_arm(&t->irp));
    CHECK_EQ(r, STATUS_PENDING);
    /* Part of it is in: the peer has bytes queued, and the send waits. */
    for (int i = 0; i < 400 && peer_unread_bytes(peer) <= 0; i++)
        usleep(5000);
    CHECK(peer_unread_bytes(peer) > 0);
    usleep(50 * 1000);
    CHECK_EQ(InterlockedCompareExchange(&t->irp.completions, 0, 0), 0);
    return r;
}

static void cancelled_send_reports_no_bytes(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    buffer out;
    NTSTATUS r = post_big_send(&t, s, peer, &out);
    CHECK_EQ(IoCancelIrp(t.irp.irp), TRUE);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CANCELLED);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    wt_close(&t, s);
    buffer_free(&out);
    peer_close(peer);
    wt_wsk_close(&t);
}

static void reset_send_reports_no_bytes(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    buffer out;
    NTSTATUS r = post_big_send(&t, s, peer, &out);
    peer_reset_on_close(peer);
    peer_close(peer);
    NTSTATUS st = wt_irp_result(&t.irp, r);
    CHECK(st == STATUS_CONNECTION_RESET || st == STATUS_CONNECTION_ABORTED);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    wt_close(&t, s);
    buffer_free(&out);
    wt_wsk_close(&t);
}

/* ---- around the rules above: an abort, a cancelled drain, the close ---- */

/* Completion order of several IRPs: each records its turn. */
static volatile LONG turn;

typedef struct ordered_irp {
    wt_irp w;
    volatile LONG turn;
} ordered_irp;

static NTSTATUS ordered_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    ordered_irp *o = context;
    InterlockedExchange(&o->turn, InterlockedIncrement(&turn));
    return wt_irp_routine(device, irp, &o->w);
}

static PIRP ordered_arm(ordered_irp *o)
{
    PIRP irp = wt_irp_arm(&o->w);
    o->turn = 0;
    IoSetCompletionRoutine(irp, ordered_routine, o, TRUE, TRUE, TRUE);
    return irp;
}

/* Two receives on a fresh connection: a WAITALL one in the engine that
 * has taken 10 bytes, and a plain one queued behind it, each recording
 * its turn of completion. */
typedef struct two_receives {
    wt_wsk t;
    int peer;
    PWSK_SOCKET s;
    buffer first, second;
    ordered_irp a, b;
    NTSTATUS ra, rb;
} two_receives;

static void two_receives_start(two_receives *x)
{
    memset(x, 0, sizeof *x);
    wt_wsk_open(&x->t);
    x->s = wt_connect_to_linux(&x->t, NULL, NULL, 0, &x->peer);
    buffer_make(&x->first, WANTED);
    buffer_make(&x->second, WANTED);
    turn = 0;
    x->ra = conn(x->s)->WskReceive(x->s, &x->first.buf, WSK_FLAG_WAITALL, ordered_arm(&x->a));
    x->rb = conn(x->s)->WskReceive(x->s, &x->second.buf, 0, ordered_arm(&x->b));
    CHECK_EQ(x->ra, STATUS_PENDING);
    CHECK_EQ(x->rb, STATUS_PENDING);
    UCHAR bytes[10];
    fill_letters(bytes, sizeof bytes);
    CHECK_EQ(peer_send_all(x->peer, bytes, sizeof bytes), (long)sizeof bytes);
    CHECK(wait_taken(x->s, &x->a.w));
}

/* Both completed: the first with its 10 bytes, the second cancelled, in
 * that order. */
static void two_receives_check_order(two_receives *x)
{
    CHECK_EQ(wt_irp_result(&x->a.w, x->ra), STATUS_SUCCESS);
    CHECK_EQ(x->a.w.irp->IoStatus.Information, 10);
    CHECK_EQ(wt_irp_result(&x->b.w, x->rb), STATUS_CANCELLED);
    CHECK_EQ(x->b.w.irp->IoStatus.Information, 0);
    CHECK(InterlockedCompareExchange(&x->a.turn, 0, 0) < InterlockedCompareExchange(&x->b.turn, 0, 0));
}

/* closed: the test closed the socket itself. */
static void two_receives_end(two_receives *x, BOOLEAN closed)
{
    if (closed) {
        for (int i = 0; i < 64; i++)
            if (x->t.made[i].socket == x->s)
                x->t.made[i].socket = NULL;
    } else {
        wt_close(&x->t, x->s);
    }
    wt_irp_free(&x->a.w);
    wt_irp_free(&x->b.w);
    buffer_free(&x->first);
    buffer_free(&x->second);
    peer_close(x->peer);
    wt_wsk_close(&x->t);
}

/* Rule 3 of "Ordering and close": receives complete in the order issued,
 * at the close too, now that the first one may carry bytes. */
static void close_completes_receives_in_order(void)
{
    for (int round = 0; round < 10; round++) {
        two_receives x;
        two_receives_start(&x);
        wt_irp closing = {0};
        NTSTATUS c = conn(x.s)->WskCloseSocket(x.s, wt_irp_arm(&closing));
        two_receives_check_order(&x);
        CHECK_EQ(wt_irp_result(&closing, c), STATUS_SUCCESS);
        wt_irp_free(&closing);
        two_receives_end(&x, TRUE);
    }
}

/* The same with IoCancelIrp on both receives, first the one in the engine:
 * the second is decided at once but completes after the first. */
static void cancelled_receives_complete_in_order(void)
{
    for (int round = 0; round < 10; round++) {
        two_receives x;
        two_receives_start(&x);
        CHECK_EQ(IoCancelIrp(x.a.w.irp), TRUE);
        CHECK_EQ(IoCancelIrp(x.b.w.irp), TRUE);
        two_receives_check_order(&x);
        two_receives_end(&x, FALSE);
    }
}

/* The peer's FIN: the first receive finds it and the second, behind it,
 * is decided with it.  The first one's completion routine posts two more
 * receives and closes the socket.  Completion order: issue order, the
 * held receive before those posted after it. */
typedef struct fin_then_close {
    PWSK_SOCKET s;
    ordered_irp r1, r2, r3, r4;
    wt_irp closing;
    buffer b3, b4;
    NTSTATUS ret3, ret4, ret_close;
} fin_then_close;

static fin_then_close ftc;

static NTSTATUS post_more_and_close(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    NTSTATUS st = ordered_routine(device, irp, context);
    ftc.ret3 = conn(ftc.s)->WskReceive(ftc.s, &ftc.b3.buf, 0, ordered_arm(&ftc.r3));
    ftc.ret4 = conn(ftc.s)->WskReceive(ftc.s, &ftc.b4.buf, 0, ordered_arm(&ftc.r4));
    ftc.ret_close = conn(ftc.s)->WskCloseSocket(ftc.s, wt_irp_arm(&ftc.closing));
    return st;
}

static void close_from_a_completion_after_fin_keeps_order(void)
{
    for (int round = 0; round < 5; round++) {
        wt_wsk t;
        wt_wsk_open(&t);
        int peer;
        memset(&ftc, 0, sizeof ftc);
        ftc.s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
        buffer b1, b2;
        buffer_make(&b1, WANTED);
        buffer_make(&b2, WANTED);
        buffer_make(&ftc.b3, WANTED);
        buffer_make(&ftc.b4, WANTED);
        turn = 0;
        PIRP irp1 = ordered_arm(&ftc.r1);
        IoSetCompletionRoutine(irp1, post_more_and_close, &ftc.r1, TRUE, TRUE, TRUE);
        NTSTATUS ret1 = conn(ftc.s)->WskReceive(ftc.s, &b1.buf, 0, irp1);
        NTSTATUS ret2 = conn(ftc.s)->WskReceive(ftc.s, &b2.buf, 0, ordered_arm(&ftc.r2));
        CHECK_EQ(peer_shutdown_write(peer), 0);
        CHECK_EQ(wt_irp_result(&ftc.r1.w, ret1), STATUS_SUCCESS);
        CHECK_EQ(wt_irp_result(&ftc.r2.w, ret2), STATUS_SUCCESS);
        CHECK_EQ(ftc.r2.w.irp->IoStatus.Information, 0); /* the FIN too */
        wt_irp_result(&ftc.r3.w, ftc.ret3);
        wt_irp_result(&ftc.r4.w, ftc.ret4);
        CHECK_EQ(wt_irp_result(&ftc.closing, ftc.ret_close), STATUS_SUCCESS);
        LONG t1 = InterlockedCompareExchange(&ftc.r1.turn, 0, 0), t2 = InterlockedCompareExchange(&ftc.r2.turn, 0, 0);
        LONG t3 = InterlockedCompareExchange(&ftc.r3.turn, 0, 0), t4 = InterlockedCompareExchange(&ftc.r4.turn, 0, 0);
        CHECK(t1 < t2 && t2 < t3 && t3 < t4);
        for (int i = 0; i < 64; i++)
            if (t.made[i].socket == ftc.s)
                t.made[i].socket = NULL;
        wt_irp_free(&ftc.r1.w);
        wt_irp_free(&ftc.r2.w);
        wt_irp_free(&ftc.r3.w);
        wt_irp_free(&ftc.r4.w);
        wt_irp_free(&ftc.closing);
        buffer_free(&b1);
        buffer_free(&b2);
        buffer_free(&ftc.b3);
        buffer_free(&ftc.b4);
        peer_close(peer);
        wt_wsk_close(&t);
    }
}

/* After the socket's own abortive disconnect, the send and the graceful
 * disconnect waiting behind it end as aborted (not as the peer's reset),
 * and so does a second abortive disconnect. */
static void disconnects_around_own_abort(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    buffer out;
    NTSTATUS r = post_big_send(&t, s, peer, &out);
    wt_irp graceful = {0}, abort = {0};
    NTSTATUS g = conn(s)->WskDisconnect(s, NULL, 0, wt_irp_arm(&graceful));
    CHECK_EQ(g, STATUS_PENDING); /* behind the send */
    NTSTATUS a = conn(s)->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&abort));
    CHECK_EQ(wt_irp_result(&abort, a), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CONNECTION_ABORTED);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    CHECK_EQ(wt_irp_result(&graceful, g), STATUS_CONNECTION_ABORTED);
    a = conn(s)->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&abort));
    CHECK_EQ(wt_irp_result(&abort, a), STATUS_CONNECTION_ABORTED);
    wt_irp_free(&graceful);
    wt_irp_free(&abort);
    wt_close(&t, s);
    buffer_free(&out);
    peer_close(peer);
    wt_wsk_close(&t);
}

static NTSTATUS WSKAPI decline_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                       SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    (void)DataIndication;
    (void)BytesIndicated;
    (void)BytesAccepted;
    return STATUS_DATA_NOT_ACCEPTED;
}

static const WSK_CLIENT_CONNECTION_DISPATCH declining = {decline_receive, NULL, NULL};

/* A cancelled WSK_FLAG_DRAIN receive reports its discarded bytes with
 * STATUS_CANCELLED whether receive events are on or off (a success would
 * say the peer closed). */
static void cancelled_drain_is_the_same_with_events(void)
{
    for (int events = 0; events < 2; events++) {
        wt_wsk t;
        wt_wsk_open(&t);
        int peer;
        PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, events ? &declining : NULL, events ? WSK_EVENT_RECEIVE : 0,
                                            &peer);
        WSK_BUF none = {NULL, 0, 0};
        NTSTATUS r = conn(s)->WskReceive(s, &none, WSK_FLAG_DRAIN, wt_irp_arm(&t.irp));
        CHECK_EQ(r, STATUS_PENDING);
        CHECK_EQ(peer_send_all(peer, "0123456789", 10), 10);
        CHECK(wait_taken(s, &t.irp));
        usleep(20 * 1000); /* from the reader to the drain, with events on */
        CHECK_EQ(IoCancelIrp(t.irp.irp), TRUE);
        CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CANCELLED);
        CHECK_EQ(t.irp.irp->IoStatus.Information, 10);
        wt_close(&t, s);
        peer_close(peer);
        wt_wsk_close(&t);
    }
}

int main(void)
{
    WT_RUN(cancelled_waitall_receive_keeps_its_bytes);
    WT_RUN(closing_keeps_a_waitall_receives_bytes);
    WT_RUN(reset_after_part_delivers_it_then_fails);
    WT_RUN(cancelled_send_reports_no_bytes);
    WT_RUN(reset_send_reports_no_bytes);
    WT_RUN(close_completes_receives_in_order);
    WT_RUN(cancelled_receives_complete_in_order);
    WT_RUN(close_from_a_completion_after_fin_keeps_order);
    WT_RUN(disconnects_around_own_abort);
    WT_RUN(cancelled_drain_is_the_same_with_events);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
