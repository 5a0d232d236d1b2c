/*
 * test_stranger_events.c - an event-driven WSK driver written from the
 * Microsoft documentation only, the way a Windows driver developer would:
 *
 * Part 1 (datagrams): WskReceiveFromEvent (per socket and static), lists
 * retained with STATUS_PENDING and released later from a worker thread in
 * reverse order, echoes sent with WskSendMessages (zero-copy from retained
 * indications, or from copies) that are never waited for, two Linux peers
 * checking every datagram's bytes and order; close with sends in flight;
 * WSK_EVENT_DISABLE while datagrams keep arriving.
 *
 * Part 2 (connections): WskAcceptEvent hands out a per-connection context
 * and dispatch; WskReceiveEvent consumes all, retains (zero-copy echo,
 * released by the worker) or consumes part (BytesAccepted < indicated, the
 * rest taken by WskReceive); WskSend never waited for; WskDisconnectEvent
 * tears down from a work item, contexts freed in the close completion;
 * peers that reset mid-stream.
 *
 * Bad input: WskRelease of NULL, twice; events on the wrong socket kind.
 *
 * Written by someone who had not read openwsk, as an independent check;
 * where Windows is silent, docs/decisions.md holds openwsk's choice.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "kernel/verifier.h"
#include "linux_peer.h"
#include "wt_wsk.h"

#define TAG 'rtSX'

static BOOLEAN wait_ms(PKEVENT e, int ms)
{
    LARGE_INTEGER t = {.QuadPart = -(LONGLONG)ms * 10000};
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

static void sleep_ms(int ms)
{
    LARGE_INTEGER t = {.QuadPart = -(LONGLONG)ms * 10000};
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

static LONG rd(volatile LONG *v)
{
    return InterlockedCompareExchange(v, 0, 0);
}

/* ======================================================================= */
/* The release worker: a system thread that collects retained indication   */
/* lists and gives them back in batches, newest first.                     */
/* ======================================================================= */

typedef void (*released_fn)(PVOID owner, NTSTATUS status);

typedef struct rel_item {
    struct rel_item *next;
    BOOLEAN datagram;
    PWSK_SOCKET socket;
    PVOID list;
    PVOID owner;
    released_fn done;
} rel_item;

static struct {
    KSPIN_LOCK lock;
    rel_item *head; /* newest first */
    KEVENT kick;
    KEVENT stopped;
    volatile LONG stop;
    volatile LONG releases;
    volatile LONG release_failures;
    HANDLE thread;
} rw;

static VOID release_worker(PVOID context)
{
    (void)context;
    for (;;) {
        wait_ms(&rw.kick, 3);
        sleep_ms(1); /* let a few gather, so the order differs from arrival */
        KIRQL irql;
        KeAcquireSpinLock(&rw.lock, &irql);
        rel_item *batch = rw.head; /* newest first: released in reverse order */
        rw.head = NULL;
        KeReleaseSpinLock(&rw.lock, irql);
        while (batch != NULL) {
            rel_item *next = batch->next;
            NTSTATUS st;
            if (batch->datagram) {
                const WSK_PROVIDER_DATAGRAM_DISPATCH *d = batch->socket->Dispatch;
                st = d->WskRelease(batch->socket, (PWSK_DATAGRAM_INDICATION)batch->list);
            } else {
                const WSK_PROVIDER_CONNECTION_DISPATCH *d = batch->socket->Dispatch;
                st = d->WskRelease(batch->socket, (PWSK_DATA_INDICATION)batch->list);
            }
            InterlockedIncrement(&rw.releases);
            if (st != STATUS_SUCCESS)
                InterlockedIncrement(&rw.release_failures);
            batch->done(batch->owner, st);
            ExFreePoolWithTag(batch, TAG);
            batch = next;
        }
        if (rd(&rw.stop)) {
            KeAcquireSpinLock(&rw.lock, &irql);
            BOOLEAN empty = rw.head == NULL;
            KeReleaseSpinLock(&rw.lock, irql);
            if (empty)
                break;
        }
    }
    KeSetEvent(&rw.stopped, IO_NO_INCREMENT, FALSE);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void rw_start(void)
{
    memset(&rw, 0, sizeof(rw));
    KeInitializeSpinLock(&rw.lock);
    KeInitializeEvent(&rw.kick, SynchronizationEvent, FALSE);
    KeInitializeEvent(&rw.stopped, NotificationEvent, FALSE);
    CHECK_EQ(PsCreateSystemThread(&rw.thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, release_worker, NULL),
             STATUS_SUCCESS);
}

static void rw_stop(void)
{
    InterlockedExchange(&rw.stop, 1);
    KeSetEvent(&rw.kick, IO_NO_INCREMENT, FALSE);
    CHECK(wait_ms(&rw.stopped, 5000));
    ZwClose(rw.thread);
    CHECK_EQ(rw.release_failures, 0);
}

/* Callable at DISPATCH_LEVEL. */
static void rw_queue(BOOLEAN datagram, PWSK_SOCKET s, PVOID list, PVOID owner, released_fn done)
{
    rel_item *it = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*it), TAG);
    it->datagram = datagram;
    it->socket = s;
    it->list = list;
    it->owner = owner;
    it->done = done;
    KIRQL irql;
    KeAcquireSpinLock(&rw.lock, &irql);
    it->next = rw.head;
    rw.head = it;
    KeReleaseSpinLock(&rw.lock, irql);
    KeSetEvent(&rw.kick, IO_NO_INCREMENT, FALSE);
}

/* ======================================================================= */
/* Part 1: datagrams                                                       */
/* ======================================================================= */

/* Datagram format: [0] peer id, [1..4] seq (little endian), then pattern. */
static SIZE_T dg_size(ULONG id, ULONG seq)
{
    return 8 + (seq * 37u + id * 11u) % 600u;
}

static void dg_fill(UCHAR *out, ULONG id, ULONG seq)
{
    SIZE_T n = dg_size(id, seq);
    out[0] = (UCHAR)id;
    memcpy(out + 1, &seq, 4);
    for (SIZE_T k = 5; k < n; k++)
        out[k] = peer_pattern(k + seq * 7u + id);
}

/* TRUE if the bytes are a well-formed datagram; *id and *seq from it. */
static BOOLEAN dg_check(const UCHAR *va, SIZE_T n, ULONG *id, ULONG *seq)
{
    if (n < 8)
        return FALSE;
    *id = va[0];
    memcpy(seq, va + 1, 4);
    if (*id < 1 || *id > 2 || n != dg_size(*id, *seq))
        return FALSE;
    for (SIZE_T k = 5; k < n; k++)
        if (va[k] != peer_pattern(k + *seq * 7u + *id))
            return FALSE;
    return TRUE;
}

/* Bytes an MDL chain describes from Offset on. */
static SIZE_T chain_bytes(PMDL m, ULONG offset)
{
    SIZE_T total = 0;
    for (; m != NULL; m = m->Next)
        total += MmGetMdlByteCount(m);
    return total >= offset ? total - offset : 0;
}

enum { DG_ECHO, DG_HOLD, DG_COUNT };

typedef struct dg_ctx {
    KSPIN_LOCK lock;
    PWSK_SOCKET socket;
    int mode;
    volatile LONG closed; /* set by the close completion */
    volatile LONG lists, datagrams;
    volatile LONG bad_fields, bad_data, out_of_order, bad_irql, null_lists, after_close;
    ULONG next_seq[3];
    USHORT peer_port[3];
    /* echo */
    volatile LONG retained, released;
    volatile LONG sends_issued, sends_done, send_failures;
    NTSTATUS first_send_failure;
    /* hold */
    PWSK_DATAGRAM_INDICATION held[1024];
    BOOLEAN count_retains;  /* DG_COUNT: retain every list too */
    volatile LONG nheld;
    /* count (disable test) */
    volatile LONG in_callback;
    ULONG seq_log[8192];
    volatile LONG nlog;
    KEVENT arrived;
} dg_ctx;

/* One WskSendMessages in flight. */
typedef struct dg_send {
    dg_ctx *ctx;
    PIRP irp;
    SOCKADDR_IN to;
    SIZE_T total;
    int n;
    WSK_BUF_LIST list[32];
    PMDL mdl[32]; /* copies (NULL when zero-copy) */
    PUCHAR copy[32];
    struct dg_retained *ret; /* zero-copy: the retained list it sends from */
} dg_send;

typedef struct dg_retained {
    dg_ctx *ctx;
    PWSK_DATAGRAM_INDICATION list;
    volatile LONG refs; /* sends in flight + the callback */
} dg_retained;

static void dg_released(PVOID owner, NTSTATUS status)
{
    dg_retained *r = owner;
    if (status == STATUS_SUCCESS)
        InterlockedIncrement(&r->ctx->released);
    ExFreePoolWithTag(r, TAG);
}

static void dg_retained_put(dg_retained *r)
{
    if (InterlockedDecrement(&r->refs) == 0)
        rw_queue(TRUE, r->ctx->socket, r->list, r, dg_released);
}

static NTSTATUS dg_send_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    dg_send *s = context;
    dg_ctx *ctx = s->ctx;
    if (irp->IoStatus.Status != STATUS_SUCCESS || irp->IoStatus.Information != s->total) {
        if (InterlockedIncrement(&ctx->send_failures) == 1)
            ctx->first_send_failure = irp->IoStatus.Status;
    }
    for (int i = 0; i < s->n; i++) {
        if (s->mdl[i] != NULL) {
            IoFreeMdl(s->mdl[i]);
            ExFreePoolWithTag(s->copy[i], TAG);
        }
    }
    if (s->ret != NULL)
        dg_retained_put(s->ret);
    IoFreeIrp(irp);
    ExFreePoolWithTag(s, TAG);
    InterlockedIncrement(&ctx->sends_done);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static int dg_id_of_port(dg_ctx *ctx, USHORT port)
{
    for (int id = 1; id <= 2; id++)
        if (ctx->peer_port[id] == port)
            return id;
    return 0;
}

/* Checks one element's fields and bytes; returns the sender id or 0. */
static int dg_check_element(dg_ctx *ctx, PWSK_DATAGRAM_INDICATION i, ULONG *seq_out)
{
    if (i->RemoteAddress == NULL || i->RemoteAddress->sa_family != AF_INET || i->Buffer.Mdl == NULL ||
        i->Buffer.Offset >= MmGetMdlByteCount(i->Buffer.Mdl) ||
        i->Buffer.Length > chain_bytes(i->Buffer.Mdl, i->Buffer.Offset) || i->ControlInfoLength != 0 ||
        i->ControlInfo != NULL) {
        InterlockedIncrement(&ctx->bad_fields);
        return 0;
    }
    USHORT port = RtlUshortByteSwap(((PSOCKADDR_IN)i->RemoteAddress)->sin_port);
    int from = dg_id_of_port(ctx, port);
    PUCHAR va = (PUCHAR)MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
    ULONG id = 0, seq = 0;
    if (i->Buffer.Mdl->Next != NULL || !dg_check(va, i->Buffer.Length, &id, &seq) || (int)id != from) {
        InterlockedIncrement(&ctx->bad_data);
        return 0;
    }
    *seq_out = seq;
    return from;
}

static NTSTATUS WSKAPI dg_on_receive_from(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    dg_ctx *ctx = SocketContext;
    if (rd(&ctx->closed)) {
        InterlockedIncrement(&ctx->after_close);
        return STATUS_SUCCESS;
    }
    InterlockedIncrement(&ctx->in_callback);
    if ((Flags & WSK_FLAG_AT_DISPATCH_LEVEL) && KeGetCurrentIrql() != DISPATCH_LEVEL)
        InterlockedIncrement(&ctx->bad_irql);
    if ((Flags & ~(ULONG)(WSK_FLAG_AT_DISPATCH_LEVEL)) != 0) /* no MSG_BCAST / MSG_MCAST on loopback unicast */
        InterlockedIncrement(&ctx->bad_fields);
    if (DataIndication == NULL) {
        InterlockedIncrement(&ctx->null_lists);
        InterlockedDecrement(&ctx->in_callback);
        return STATUS_SUCCESS;
    }
    LONG list_no = InterlockedIncrement(&ctx->lists);
    NTSTATUS answer = STATUS_SUCCESS;

    if (ctx->mode == DG_COUNT) {
        for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = i->Next) {
            ULONG seq;
            InterlockedIncrement(&ctx->datagrams);
            if (dg_check_element(ctx, i, &seq)) {
                LONG at = rd(&ctx->nlog);
                if (at < 8192) {
                    ctx->seq_log[at] = seq;
                    InterlockedIncrement(&ctx->nlog);
                }
            }
        }
        if (ctx->count_retains) {
            LONG h = rd(&ctx->nheld); /* callbacks of one socket are serial */
            if (h < 1024) {
                ctx->held[h] = DataIndication;
                InterlockedIncrement(&ctx->nheld); /* publishes held[h] */
                answer = STATUS_PENDING;
            }
        }
        KeSetEvent(&ctx->arrived, IO_NO_INCREMENT, FALSE);
        InterlockedDecrement(&ctx->in_callback);
        return answer;
    }

    if (ctx->mode == DG_HOLD) {
        for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = i->Next) {
            ULONG seq;
            InterlockedIncrement(&ctx->datagrams);
            dg_check_element(ctx, i, &seq);
        }
        LONG at = rd(&ctx->nheld); /* callbacks of one socket are serial */
        if (at < 1024) {
            ctx->held[at] = DataIndication;
            InterlockedIncrement(&ctx->nheld); /* publishes held[at] */
            answer = STATUS_PENDING;
        }
        KeSetEvent(&ctx->arrived, IO_NO_INCREMENT, FALSE);
        InterlockedDecrement(&ctx->in_callback);
        return answer;
    }

    /* DG_ECHO: two lists out of three retained, echoed zero-copy; the third
     * copied and echoed from the copies. */
    BOOLEAN retain = list_no % 3 != 0;
    dg_retained *ret = NULL;
    if (retain) {
        ret = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*ret), TAG);
        ret->ctx = ctx;
        ret->list = DataIndication;
        ret->refs = 1;
        InterlockedIncrement(&ctx->retained);
        answer = STATUS_PENDING;
    }
    dg_send *per[3] = {NULL, NULL, NULL};
    KIRQL irql;
    KeAcquireSpinLock(&ctx->lock, &irql);
    for (PWSK_DATAGRAM_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        ULONG seq = 0;
        InterlockedIncrement(&ctx->datagrams);
        int id = dg_check_element(ctx, i, &seq);
        if (id == 0)
            continue;
        if (seq != ctx->next_seq[id])
            InterlockedIncrement(&ctx->out_of_order);
        ctx->next_seq[id] = seq + 1;
        dg_send *s = per[id];
        if (s == NULL || s->n == 32) {
            if (s != NULL)
                break; /* not reached: lists are at most 32 long */
            s = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*s), TAG);
            s->ctx = ctx;
            s->ret = ret;
            memcpy(&s->to, i->RemoteAddress, sizeof(SOCKADDR_IN)); /* must outlive the callback */
            per[id] = s;
        }
        WSK_BUF_LIST *e = &s->list[s->n];
        if (retain) {
            e->Buffer = i->Buffer; /* zero-copy from the provider's buffer */
        } else {
            PUCHAR va = (PUCHAR)MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
            s->copy[s->n] = ExAllocatePool2(POOL_FLAG_NON_PAGED, i->Buffer.Length, TAG);
            memcpy(s->copy[s->n], va, i->Buffer.Length);
            s->mdl[s->n] = IoAllocateMdl(s->copy[s->n], (ULONG)i->Buffer.Length, FALSE, FALSE, NULL);
            MmBuildMdlForNonPagedPool(s->mdl[s->n]);
            e->Buffer.Mdl = s->mdl[s->n];
            e->Buffer.Offset = 0;
            e->Buffer.Length = i->Buffer.Length;
        }
        if (s->n > 0)
            s->list[s->n - 1].Next = e;
        e->Next = NULL;
        s->total += e->Buffer.Length;
        s->n++;
    }
    KeReleaseSpinLock(&ctx->lock, irql);
    /* One WskSendMessages per destination, never waited for. */
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = ctx->socket->Dispatch;
    for (int id = 1; id <= 2; id++) {
        dg_send *s = per[id];
        if (s == NULL)
            continue;
        if (ret != NULL)
            InterlockedIncrement(&ret->refs);
        s->irp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(s->irp, dg_send_done, s, TRUE, TRUE, TRUE);
        InterlockedIncrement(&ctx->sends_issued);
        d->WskSendMessages(ctx->socket, s->list, 0, (PSOCKADDR)&s->to, 0, NULL, s->irp);
    }
    if (ret != NULL)
        dg_retained_put(ret); /* the callback's reference */
    InterlockedDecrement(&ctx->in_callback);
    return answer;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH dg_dispatch = {dg_on_receive_from};

static void dg_ctx_init(dg_ctx *ctx, int mode)
{
    memset(ctx, 0, sizeof(*ctx));
    KeInitializeSpinLock(&ctx->lock);
    KeInitializeEvent(&ctx->arrived, SynchronizationEvent, FALSE);
    ctx->mode = mode;
}

static NTSTATUS set_events_irp(wt_irp *w, PWSK_SOCKET s, ULONG mask, BOOLEAN with_irp)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    if (!with_irp)
        return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                   NULL, NULL, NULL);
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                     NULL, NULL, wt_irp_arm(w));
    return wt_irp_result(w, r);
}

/* A client registration, optionally with static event callbacks. */
typedef struct client {
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI npi;
    wt_irp irp;
} client;

static void client_open(client *c, ULONG static_mask)
{
    static const WSK_CLIENT_DISPATCH dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
    WSK_CLIENT_NPI npi = {NULL, &dispatch};
    memset(c, 0, sizeof(*c));
    CHECK_EQ(WskRegister(&npi, &c->reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&c->reg, WSK_INFINITE_WAIT, &c->npi), STATUS_SUCCESS);
    if (static_mask != 0) {
        WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, static_mask};
        CHECK_EQ(c->npi.Dispatch->WskControlClient(c->npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(control),
                                                   &control, 0, NULL, NULL, NULL),
                 STATUS_SUCCESS);
    }
}

static void client_close(client *c)
{
    wt_irp_free(&c->irp);
    WskReleaseProviderNPI(&c->reg);
    WskDeregister(&c->reg);
}

static PWSK_SOCKET client_socket(client *c, USHORT type, ULONG proto, ULONG flags, PVOID ctx, const VOID *dispatch)
{
    NTSTATUS r = c->npi.Dispatch->WskSocket(c->npi.Client, AF_INET, type, proto, flags, ctx, dispatch, NULL, NULL,
                                            NULL, wt_irp_arm(&c->irp));
    NTSTATUS st = wt_irp_result(&c->irp, r);
    CHECK_EQ(st, STATUS_SUCCESS);
    return NT_SUCCESS(st) ? (PWSK_SOCKET)c->irp.irp->IoStatus.Information : NULL;
}

/* Bound to 127.0.0.1:0; returns the port. */
static USHORT client_bind(client *c, PWSK_SOCKET s, BOOLEAN listen)
{
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0), local;
    const WSK_PROVIDER_LISTEN_DISPATCH *l = s->Dispatch;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = l->WskBind(s, (PSOCKADDR)&a, 0, wt_irp_arm(&c->irp));
    CHECK_EQ(wt_irp_result(&c->irp, r), STATUS_SUCCESS);
    r = listen ? l->WskGetLocalAddress(s, (PSOCKADDR)&local, wt_irp_arm(&c->irp))
               : d->WskGetLocalAddress(s, (PSOCKADDR)&local, wt_irp_arm(&c->irp));
    CHECK_EQ(wt_irp_result(&c->irp, r), STATUS_SUCCESS);
    return RtlUshortByteSwap(local.sin_port);
}

/* A close whose completion marks the context closed (before it is signalled). */
typedef struct closer {
    KEVENT done;
    volatile LONG *closed_flag;
    volatile LONG completions;
    NTSTATUS status;
    BOOLEAN pending_returned;
} closer;

static NTSTATUS close_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    closer *c = context;
    c->status = irp->IoStatus.Status;
    c->pending_returned = irp->PendingReturned;
    if (c->closed_flag != NULL)
        InterlockedExchange(c->closed_flag, 1);
    InterlockedIncrement(&c->completions);
    IoFreeIrp(irp);
    KeSetEvent(&c->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS close_and_wait(PWSK_SOCKET s, volatile LONG *closed_flag, int ms)
{
    closer c;
    memset(&c, 0, sizeof(c));
    KeInitializeEvent(&c.done, NotificationEvent, FALSE);
    c.closed_flag = closed_flag;
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, close_done, &c, TRUE, TRUE, TRUE);
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskCloseSocket(s, irp);
    if (!wait_ms(&c.done, ms)) {
        WT_FAIL("WskCloseSocket never completed (returned 0x%x)", (unsigned)r);
        return STATUS_PENDING;
    }
    CHECK_EQ(c.completions, 1);
    if (r != STATUS_PENDING)
        CHECK_EQ(c.status, r);
    else
        CHECK(c.pending_returned);
    return c.status;
}

/* ---- 1a/1b: the echo, per-socket or static enabling -------------------- */

static void dg_echo_run(BOOLEAN static_events)
{
    client c;
    client_open(&c, static_events ? WSK_EVENT_RECEIVE_FROM : 0);
    rw_start();
    static dg_ctx ctx;
    dg_ctx_init(&ctx, DG_ECHO);
    int p1 = peer_udp_bind(4, "127.0.0.1", 0), p2 = peer_udp_bind(4, "127.0.0.1", 0);
    ctx.peer_port[1] = peer_local_port(p1);
    ctx.peer_port[2] = peer_local_port(p2);
    PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &ctx, &dg_dispatch);
    ctx.socket = s;
    USHORT port = client_bind(&c, s, FALSE);
    if (!static_events)
        CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    else
        CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_INVALID_PARAMETER);

    /* Rounds: each peer sends a burst, then reads its echoes. */
    const int rounds = 120, burst = 7;
    ULONG seq[3] = {0, 0, 0}, expect[3] = {0, 0, 0};
    int bad_echo = 0, lost = 0;
    static UCHAR out[700], in[2048];
    for (int r = 0; r < rounds; r++) {
        for (int b = 0; b < burst; b++) {
            for (ULONG id = 1; id <= 2; id++) {
                dg_fill(out, id, seq[id]);
                CHECK_EQ(peer_udp_send_from(id == 1 ? p1 : p2, 4, "127.0.0.1", port, out, dg_size(id, seq[id])),
                         (long)dg_size(id, seq[id]));
                seq[id]++;
            }
        }
        for (ULONG id = 1; id <= 2; id++) {
            for (int b = 0; b < burst; b++) {
                USHORT from = 0;
                long n = peer_udp_recv(id == 1 ? p1 : p2, in, sizeof(in), &from, 2000);
                ULONG gid = 0, gseq = 0;
                if (n < 0) {
                    lost++;
                    break;
                }
                if (from != port || !dg_check(in, (SIZE_T)n, &gid, &gseq) || gid != id || gseq != expect[id]) {
                    if (bad_echo++ < 5)
                        fprintf(stderr, "  echo to peer %u: got id %u seq %u (%ld bytes), expected seq %u\n",
                                (unsigned)id, (unsigned)gid, (unsigned)gseq, n, (unsigned)expect[id]);
                }
                expect[id] = gseq + 1;
            }
        }
    }
    CHECK_EQ(bad_echo, 0);
    CHECK_EQ(lost, 0);
    /* Everything sent completes and every retained list comes back. */
    for (int i = 0; i < 500 && (rd(&ctx.sends_done) < rd(&ctx.sends_issued) || rd(&ctx.released) < rd(&ctx.retained));
         i++)
        sleep_ms(10);
    CHECK_EQ(rd(&ctx.sends_done), rd(&ctx.sends_issued));
    CHECK_EQ(rd(&ctx.released), rd(&ctx.retained));
    CHECK_EQ(ctx.send_failures, 0);
    if (ctx.send_failures)
        fprintf(stderr, "  first send failure 0x%x\n", (unsigned)ctx.first_send_failure);
    CHECK_EQ(ctx.datagrams, rounds * burst * 2);
    CHECK_EQ(ctx.bad_fields, 0);
    CHECK_EQ(ctx.bad_data, 0);
    CHECK_EQ(ctx.out_of_order, 0);
    CHECK_EQ(ctx.bad_irql, 0);
    CHECK_EQ(ctx.null_lists, 0);
    fprintf(stderr, "  %ld datagrams in %ld lists, %ld retained, %ld WskSendMessages\n", (long)ctx.datagrams,
            (long)ctx.lists, (long)ctx.retained, (long)ctx.sends_issued);
    CHECK_EQ(close_and_wait(s, &ctx.closed, 5000), STATUS_SUCCESS);
    /* Datagrams after the close: no callback. */
    dg_fill(out, 1, 999);
    peer_udp_send_from(p1, 4, "127.0.0.1", port, out, dg_size(1, 999));
    sleep_ms(50);
    CHECK_EQ(ctx.after_close, 0);
    rw_stop();
    peer_close(p1);
    peer_close(p2);
    client_close(&c);
}

static void dg_echo_per_socket_events(void)
{
    dg_echo_run(FALSE);
}

static void dg_echo_static_events(void)
{
    dg_echo_run(TRUE);
}

/* ---- 1c: close with sends in flight (lists released first, as the
 * documentation requires), and close with lists still retained ---------- */

static void count_released(PVOID owner, NTSTATUS status)
{
    if (status == STATUS_SUCCESS)
        InterlockedIncrement((volatile LONG *)owner);
}

typedef struct fire_send {
    KSPIN_LOCK *lock;
    volatile LONG *done;
    volatile LONG *completions_after_close;
    volatile LONG *closed;
    NTSTATUS *statuses;
    ULONG_PTR *info;
    int index;
} fire_send;

static NTSTATUS fire_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    fire_send *f = context;
    if (rd(f->closed))
        InterlockedIncrement(f->completions_after_close);
    f->statuses[f->index] = irp->IoStatus.Status;
    f->info[f->index] = irp->IoStatus.Information;
    InterlockedIncrement(f->done);
    IoFreeIrp(irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void dg_close_with_sends_in_flight(void)
{
    client c;
    client_open(&c, 0);
    rw_start();
    static dg_ctx ctx;
    dg_ctx_init(&ctx, DG_HOLD);
    int p1 = peer_udp_bind(4, "127.0.0.1", 0);
    ctx.peer_port[1] = peer_local_port(p1);
    PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &ctx, &dg_dispatch);
    ctx.socket = s;
    USHORT port = client_bind(&c, s, FALSE);
    CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    static UCHAR out[700];
    for (ULONG i = 0; i < 5; i++) {
        dg_fill(out, 1, i);
        peer_udp_send_from(p1, 4, "127.0.0.1", port, out, dg_size(1, i));
        CHECK(wait_ms(&ctx.arrived, 2000));
    }
    CHECK_EQ(rd(&ctx.nheld), 5);
    /* The worker gives them back, newest first; the documentation wants
     * every retained list released before WskCloseSocket. */
    static volatile LONG back;
    back = 0;
    for (int i = 0; i < rd(&ctx.nheld); i++)
        rw_queue(TRUE, s, ctx.held[i], (PVOID)&back, count_released);
    for (int i = 0; i < 500 && rd(&back) < 5; i++)
        sleep_ms(5);
    CHECK_EQ(rd(&back), 5);
    /* Sends in flight: 3 WskSendMessages of 24 x 1400 bytes to a peer that
     * does not read, and one to an unbound port; never waited for. */
    enum { NS = 4, PER = 24 };
    static UCHAR payload[NS][PER][1400];
    static WSK_BUF_LIST lists[NS][PER];
    static PMDL mdls[NS][PER];
    static NTSTATUS statuses[NS];
    static ULONG_PTR info[NS];
    static fire_send fs[NS];
    static volatile LONG done, after_close, closed;
    done = after_close = closed = 0;
    int sink = peer_udp_bind(4, "127.0.0.1", 0);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    SOCKADDR_IN to_sink = wt_in4("127.0.0.1", peer_local_port(sink));
    SOCKADDR_IN to_nobody = wt_in4("127.0.0.1", peer_free_port());
    for (int k = 0; k < NS; k++) {
        for (int i = 0; i < PER; i++) {
            dg_fill(payload[k][i], 2, (ULONG)(k * PER + i));
            mdls[k][i] = IoAllocateMdl(payload[k][i], (ULONG)dg_size(2, (ULONG)(k * PER + i)), FALSE, FALSE, NULL);
            MmBuildMdlForNonPagedPool(mdls[k][i]);
            lists[k][i].Buffer = (WSK_BUF){mdls[k][i], 0, dg_size(2, (ULONG)(k * PER + i))};
            lists[k][i].Next = i + 1 < PER ? &lists[k][i + 1] : NULL;
        }
        fs[k] = (fire_send){NULL, &done, &after_close, &closed, statuses, info, k};
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(irp, fire_done, &fs[k], TRUE, TRUE, TRUE);
        d->WskSendMessages(s, lists[k], 0, (PSOCKADDR)(k == NS - 1 ? &to_nobody : &to_sink), 0, NULL, irp);
    }
    /* Close at once, the sends still in flight. */
    CHECK_EQ(close_and_wait(s, &closed, 5000), STATUS_SUCCESS);
    CHECK_EQ(rd(&done), NS);     /* every send completed before the close did */
    CHECK_EQ(rd(&after_close), 0);
    for (int k = 0; k < NS; k++) {
        SIZE_T total = 0;
        for (int i = 0; i < PER; i++)
            total += lists[k][i].Buffer.Length;
        if (statuses[k] == STATUS_SUCCESS)
            CHECK_EQ(info[k], total);
        else
            fprintf(stderr, "  send %d to %s completed 0x%x, Information %lu\n", k,
                    k == NS - 1 ? "an unbound port" : "the sink", (unsigned)statuses[k], (unsigned long)info[k]);
    }
    /* What reached the sink is in order and intact. */
    static UCHAR in[2048];
    ULONG next = 0;
    int got = 0, bad = 0;
    for (;;) {
        long n = peer_udp_recv(sink, in, sizeof(in), NULL, 200);
        if (n < 0)
            break;
        ULONG id, seq;
        if (!dg_check(in, (SIZE_T)n, &id, &seq) || seq < next)
            bad++;
        next = seq + 1;
        got++;
    }
    fprintf(stderr, "  sink got %d of %d datagrams\n", got, (NS - 1) * PER);
    CHECK_EQ(bad, 0);
    for (int k = 0; k < NS; k++)
        for (int i = 0; i < PER; i++)
            IoFreeMdl(mdls[k][i]);
    rw_stop();
    peer_close(sink);
    peer_close(p1);
    client_close(&c);
}

/* ---- 1d: close with lists still retained (a client error per the
 * PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST remarks); what happens? ------- */

static void dg_close_with_retained_lists(void)
{
    if (openwsk_verify_enabled_groups() & OPENWSK_VERIFY_WSK) {
        fprintf(stderr, "  (the verifier stops this misuse: case skipped)\n");
        return;
    }
    client c;
    client_open(&c, 0);
    static dg_ctx ctx;
    dg_ctx_init(&ctx, DG_HOLD);
    int p1 = peer_udp_bind(4, "127.0.0.1", 0);
    ctx.peer_port[1] = peer_local_port(p1);
    PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &ctx, &dg_dispatch);
    ctx.socket = s;
    USHORT port = client_bind(&c, s, FALSE);
    CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    static UCHAR out[700];
    for (ULONG i = 0; i < 3; i++) {
        dg_fill(out, 1, i);
        peer_udp_send_from(p1, 4, "127.0.0.1", port, out, dg_size(1, i));
        CHECK(wait_ms(&ctx.arrived, 2000));
    }
    CHECK_EQ(rd(&ctx.nheld), 3);
    ULONGLONG t0 = KeQueryInterruptTime();
    NTSTATUS st = close_and_wait(s, &ctx.closed, 3000);
    fprintf(stderr, "  close with 3 lists retained: 0x%x after %llu ms\n", (unsigned)st,
            (unsigned long long)(KeQueryInterruptTime() - t0) / 10000);
    peer_close(p1);
    client_close(&c);
}

/* Linux's count of UDP datagrams dropped for a full receive buffer. */
static long udp_rcvbuf_errors(void)
{
    FILE *f = fopen("/proc/net/snmp", "r");
    if (f == NULL)
        return -1;
    char names[1024], values[1024];
    long result = -1;
    while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
        if (strncmp(names, "Udp:", 4) != 0)
            continue;
        char *np = names + 4, *vp = values + 4;
        for (;;) {
            char name[64];
            long v;
            int a, b;
            if (sscanf(np, " %63s%n", name, &a) != 1 || sscanf(vp, " %ld%n", &v, &b) != 1)
                break;
            np += a;
            vp += b;
            if (strcmp(name, "RcvbufErrors") == 0)
                result = v;
        }
        break;
    }
    fclose(f);
    return result;
}

/* ---- 1e: WSK_EVENT_DISABLE while datagrams keep arriving ---------------- */

typedef struct blaster {
    USHORT port;
    int fd;
    ULONG count;
    volatile LONG sent;
} blaster;

static void *blast(void *arg)
{
    blaster *b = arg;
    static UCHAR out[700];
    for (ULONG i = 0; i < b->count; i++) {
        dg_fill(out, 1, i);
        peer_udp_send_from(b->fd, 4, "127.0.0.1", b->port, out, dg_size(1, i));
        InterlockedIncrement(&b->sent);
        if (i % 4 == 0)
            usleep(150);
    }
    return NULL;
}

static void dg_disable_run(BOOLEAN retain)
{
    client c;
    client_open(&c, 0);
    if (retain)
        rw_start();
    static dg_ctx ctx;
    dg_ctx_init(&ctx, DG_COUNT);
    ctx.count_retains = retain;
    int p1 = peer_udp_bind(4, "127.0.0.1", 0);
    ctx.peer_port[1] = peer_local_port(p1);
    PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &ctx, &dg_dispatch);
    ctx.socket = s;
    USHORT port = client_bind(&c, s, FALSE);
    CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    static blaster b;
    memset(&b, 0, sizeof(b));
    b.port = port;
    b.fd = p1;
    b.count = 4000;
    long drops_before = udp_rcvbuf_errors();
    pthread_t th;
    pthread_create(&th, NULL, blast, &b);
    while (rd(&ctx.nlog) < 800)
        sleep_ms(1);
    /* Disable with an IRP: it completes once no callback runs; none after. */
    wt_irp w = {0};
    WSK_EVENT_CALLBACK_CONTROL off = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE_FROM};
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(off), &off, 0, NULL,
                                     NULL, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    LONG lists_at_disable = rd(&ctx.lists);
    CHECK_EQ(rd(&ctx.in_callback), 0);
    static volatile LONG back;
    back = 0;
    LONG nheld = rd(&ctx.nheld);
    if (retain) {
        /* Retained lists stay valid after the disable: still intact, then
         * given back by the worker while datagrams keep arriving. */
        int intact = 0;
        for (LONG i = 0; i < nheld; i++) {
            ULONG seq;
            for (PWSK_DATAGRAM_INDICATION e = ctx.held[i]; e != NULL; e = e->Next)
                intact += dg_check_element(&ctx, e, &seq) == 1;
        }
        fprintf(stderr, "  %ld lists retained across the disable, %d datagrams intact\n", (long)nheld, intact);
        for (LONG i = 0; i < nheld; i++)
            rw_queue(TRUE, s, ctx.held[i], (PVOID)&back, count_released);
    }
    /* The rest goes to WskReceiveFrom. */
    static ULONG rx_log[8192];
    int nrx = 0;
    static UCHAR in[2048];
    PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF buf = {m, 0, sizeof(in)};
    int bad = 0;
    for (;;) {
        SOCKADDR_IN from;
        NTSTATUS rr = d->WskReceiveFrom(s, &buf, 0, (PSOCKADDR)&from, NULL, NULL, NULL, wt_irp_arm(&w));
        if (rr == STATUS_PENDING) {
            LARGE_INTEGER t = {.QuadPart = -300LL * 10000};
            if (KeWaitForSingleObject(&w.done, Executive, KernelMode, FALSE, &t) != STATUS_SUCCESS) {
                IoCancelIrp(w.irp);
                CHECK_EQ(wt_irp_result(&w, rr), STATUS_CANCELLED);
                if (rd(&b.sent) >= (LONG)b.count)
                    break;
                continue;
            }
        }
        NTSTATUS st = wt_irp_result(&w, rr);
        CHECK_EQ(st, STATUS_SUCCESS);
        ULONG id, seq;
        if (!dg_check(in, w.irp->IoStatus.Information, &id, &seq) ||
            RtlUshortByteSwap(from.sin_port) != ctx.peer_port[1])
            bad++;
        else if (nrx < 8192)
            rx_log[nrx++] = seq;
    }
    pthread_join(th, NULL);
    IoFreeMdl(m);
    CHECK_EQ(rd(&ctx.lists), lists_at_disable); /* no indication after the disable completed */
    CHECK_EQ(bad, 0);
    CHECK_EQ(ctx.bad_data, 0);
    CHECK_EQ(ctx.bad_fields, 0);
    /* In order on each path, the event's before the receives', no duplicates. */
    static UCHAR seen[4000];
    memset(seen, 0, sizeof(seen));
    int dup = 0, disorder = 0;
    LONG nev = rd(&ctx.nlog);
    for (LONG i = 0; i < nev; i++) {
        if (i > 0 && ctx.seq_log[i] <= ctx.seq_log[i - 1])
            disorder++;
        if (ctx.seq_log[i] < 4000 && seen[ctx.seq_log[i]]++)
            dup++;
    }
    for (int i = 0; i < nrx; i++) {
        if ((i > 0 && rx_log[i] <= rx_log[i - 1]) || (i == 0 && nev > 0 && rx_log[0] <= ctx.seq_log[nev - 1]))
            disorder++;
        if (rx_log[i] < 4000 && seen[rx_log[i]]++)
            dup++;
    }
    int missing = 0;
    for (int i = 0; i < 4000; i++)
        missing += seen[i] == 0;
    long drops = udp_rcvbuf_errors() - drops_before;
    fprintf(stderr,
            "  %ld by the event, %d by WskReceiveFrom, %d missing (Linux counted %ld receive-buffer drops), %d dup, "
            "%d disorder\n",
            (long)nev, nrx, missing, drops, dup, disorder);
    if (drops >= 0)
        CHECK(missing <= drops); /* every loss is Linux's, none the provider's */
    CHECK_EQ(dup, 0);
    CHECK_EQ(disorder, 0);
    /* Enabled again: indications resume. */
    LONG before = rd(&ctx.lists);
    CHECK_EQ(set_events_irp(&w, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    static UCHAR out[700];
    dg_fill(out, 1, 5000);
    peer_udp_send_from(p1, 4, "127.0.0.1", port, out, dg_size(1, 5000));
    for (int i = 0; i < 400 && rd(&ctx.lists) < before + 1; i++)
        sleep_ms(5);
    CHECK_EQ(rd(&ctx.lists), before + 1);
    if (retain) {
        for (int i = 0; i < 400 && rd(&back) < nheld; i++)
            sleep_ms(5);
        CHECK_EQ(rd(&back), nheld);
        /* the one indicated after re-enabling */
        LONG n2 = rd(&ctx.nheld);
        for (LONG i = nheld; i < n2 && i < 1024; i++)
            rw_queue(TRUE, s, ctx.held[i], (PVOID)&back, count_released);
        for (int i = 0; i < 400 && rd(&back) < n2; i++)
            sleep_ms(5);
        CHECK_EQ(rd(&back), n2);
    }
    CHECK_EQ(close_and_wait(s, &ctx.closed, 5000), STATUS_SUCCESS);
    wt_irp_free(&w);
    if (retain)
        rw_stop();
    peer_close(p1);
    client_close(&c);
}

static void dg_disable_while_arriving(void)
{
    dg_disable_run(FALSE);
}

static void dg_disable_while_arriving_retained(void)
{
    dg_disable_run(TRUE);
}

/* ---- 1f: a driver that keeps many lists before giving them back -------- */

static void dg_many_retained(void)
{
    client c;
    client_open(&c, 0);
    rw_start();
    static dg_ctx ctx;
    dg_ctx_init(&ctx, DG_HOLD);
    int p1 = peer_udp_bind(4, "127.0.0.1", 0);
    ctx.peer_port[1] = peer_local_port(p1);
    PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &ctx, &dg_dispatch);
    ctx.socket = s;
    USHORT port = client_bind(&c, s, FALSE);
    CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    static UCHAR out[700];
    const ULONG n = 1000;
    for (ULONG i = 0; i < n; i++) {
        dg_fill(out, 1, i);
        peer_udp_send_from(p1, 4, "127.0.0.1", port, out, dg_size(1, i));
        if (i % 16 == 15)
            for (int k = 0; k < 200 && rd(&ctx.datagrams) < (LONG)i + 1; k++)
                sleep_ms(1);
    }
    for (int k = 0; k < 400 && rd(&ctx.datagrams) < (LONG)n; k++)
        sleep_ms(5);
    fprintf(stderr, "  %ld of %lu datagrams indicated while all retained (%ld lists)\n", (long)rd(&ctx.datagrams),
            (unsigned long)n, (long)rd(&ctx.nheld));
    CHECK_EQ(rd(&ctx.datagrams), (LONG)n);
    CHECK_EQ(ctx.bad_data, 0);
    static volatile LONG back;
    back = 0;
    LONG nheld = rd(&ctx.nheld);
    for (LONG i = 0; i < nheld; i++)
        rw_queue(TRUE, s, ctx.held[i], (PVOID)&back, count_released);
    for (int i = 0; i < 400 && rd(&back) < nheld; i++)
        sleep_ms(5);
    CHECK_EQ(rd(&back), nheld);
    CHECK_EQ(close_and_wait(s, &ctx.closed, 5000), STATUS_SUCCESS);
    rw_stop();
    peer_close(p1);
    client_close(&c);
}

/* ======================================================================= */
/* Part 2: connections                                                     */
/* ======================================================================= */

#define CONN_MAGIC 0xC0117EC7u
#define MAX_CONNS 64

typedef struct conn_ctx {
    ULONG magic;
    KSPIN_LOCK lock;
    PWSK_SOCKET s;
    SIZE_T offset;           /* stream offset of the next byte the driver takes */
    LONG k;                  /* indications seen */
    volatile LONG retained;  /* lists not yet released */
    volatile LONG sends;     /* sends in flight */
    volatile LONG partial;   /* a WskReceive for an unaccepted tail in flight */
    volatile LONG teardown;  /* queued once */
    ULONG disconnect_flags;
    BOOLEAN disconnected;
    BOOLEAN closing;         /* under lock: no new calls on the socket */
    volatile LONG calls;     /* our own calls on the socket in progress */
    WORK_QUEUE_ITEM work;
    PIRP irp;                /* disconnect / close */
    int slot;
} conn_ctx;

static struct {
    KSPIN_LOCK lock;
    conn_ctx *live[MAX_CONNS];
    KEVENT closed;
    volatile LONG accepted, closes, bad_close;
    volatile LONG indications, retained_lists, released_lists, partials;
    volatile LONG bad_data, bad_fields, bad_irql, on_dead, while_partial, null_indications;
    volatile LONG send_fail, send_ok, tail_fail;
    volatile LONG graceful, abortive;
    volatile LONG accept_null;
    NTSTATUS send_fail_status, tail_fail_status;
    volatile LONG bytes_taken;
    BOOLEAN close_fast;      /* abortive: close as soon as nothing is retained */
    BOOLEAN tail_any;        /* the tail goes to a larger WskReceive without WAITALL */
    volatile LONG tail_short, tail_extra;
} cg;

/* The driver's guard against calling into a socket it is closing. */
static BOOLEAN conn_enter(conn_ctx *c)
{
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    BOOLEAN ok = !c->closing;
    if (ok)
        InterlockedIncrement(&c->calls);
    KeReleaseSpinLock(&c->lock, irql);
    return ok;
}

static void conn_leave(conn_ctx *c)
{
    InterlockedDecrement(&c->calls);
}

static BOOLEAN conn_is_live(conn_ctx *c)
{
    KIRQL irql;
    BOOLEAN live = FALSE;
    KeAcquireSpinLock(&cg.lock, &irql);
    for (int i = 0; i < MAX_CONNS; i++)
        if (cg.live[i] == c)
            live = TRUE;
    KeReleaseSpinLock(&cg.lock, irql);
    return live;
}

/* Stream bytes check: byte i of each connection's stream is peer_pattern(i). */
static BOOLEAN conn_check(const UCHAR *va, SIZE_T n, SIZE_T offset)
{
    for (SIZE_T k = 0; k < n; k++)
        if (va[k] != peer_pattern(offset + k))
            return FALSE;
    return TRUE;
}

static void conn_queue_teardown(conn_ctx *c);

typedef struct conn_send {
    conn_ctx *c;
    PMDL mdl;
    PUCHAR copy;
    SIZE_T length;
    struct conn_retained *ret;
} conn_send;

typedef struct conn_retained {
    conn_ctx *c;
    PWSK_DATA_INDICATION list;
    volatile LONG refs;
} conn_retained;

static void conn_released(PVOID owner, NTSTATUS status)
{
    conn_retained *r = owner;
    if (status == STATUS_SUCCESS)
        InterlockedIncrement(&cg.released_lists);
    InterlockedDecrement(&r->c->retained);
    ExFreePoolWithTag(r, TAG);
}

static void conn_retained_put(conn_retained *r)
{
    if (InterlockedDecrement(&r->refs) == 0)
        rw_queue(FALSE, r->c->s, r->list, r, conn_released);
}

static NTSTATUS conn_send_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    conn_send *cs = context;
    if (irp->IoStatus.Status == STATUS_SUCCESS && irp->IoStatus.Information == cs->length) {
        InterlockedIncrement(&cg.send_ok);
    } else {
        if (InterlockedIncrement(&cg.send_fail) == 1)
            cg.send_fail_status = irp->IoStatus.Status;
        if (irp->IoStatus.Status == STATUS_SUCCESS) /* short success: never allowed */
            InterlockedIncrement(&cg.bad_fields);
    }
    if (cs->mdl != NULL) {
        IoFreeMdl(cs->mdl);
        ExFreePoolWithTag(cs->copy, TAG);
    }
    if (cs->ret != NULL)
        conn_retained_put(cs->ret);
    InterlockedDecrement(&cs->c->sends);
    ExFreePoolWithTag(cs, TAG);
    IoFreeIrp(irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* WskSend, never waited for: of a copy (ret NULL) or of the provider's buffer. */
static void conn_send_buf(conn_ctx *c, const WSK_BUF *zero_copy, const UCHAR *bytes, SIZE_T n, conn_retained *ret)
{
    conn_send *cs = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*cs), TAG);
    cs->c = c;
    cs->ret = ret;
    WSK_BUF b;
    if (zero_copy != NULL) {
        b = *zero_copy;
        cs->length = zero_copy->Length;
        InterlockedIncrement(&ret->refs);
    } else {
        cs->copy = ExAllocatePool2(POOL_FLAG_NON_PAGED, n, TAG);
        memcpy(cs->copy, bytes, n);
        cs->mdl = IoAllocateMdl(cs->copy, (ULONG)n, FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(cs->mdl);
        b = (WSK_BUF){cs->mdl, 0, n};
        cs->length = n;
    }
    InterlockedIncrement(&c->sends);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, conn_send_done, cs, TRUE, TRUE, TRUE);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->s->Dispatch;
    d->WskSend(c->s, &b, 0, irp);
}

typedef struct conn_tail {
    conn_ctx *c;
    PMDL mdl;
    PUCHAR buf;
    SIZE_T length;
    SIZE_T offset;
} conn_tail;

static NTSTATUS conn_tail_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    conn_tail *t = context;
    conn_ctx *c = t->c;
    SIZE_T got = irp->IoStatus.Information;
    if (irp->IoStatus.Status == STATUS_SUCCESS && got > 0) {
        /* Indications are paused until this completes, so the stream
         * offset is ours to advance here. */
        KIRQL irql;
        KeAcquireSpinLock(&c->lock, &irql);
        SIZE_T offset = c->offset;
        c->offset += got;
        KeReleaseSpinLock(&c->lock, irql);
        if (got < t->length)
            InterlockedIncrement(&cg.tail_short);
        if (got > t->length)
            InterlockedIncrement(&cg.tail_extra);
        if (!conn_check(t->buf, got, offset))
            InterlockedIncrement(&cg.bad_data);
        InterlockedExchangeAdd(&cg.bytes_taken, (LONG)got);
        if (conn_enter(c)) {
            conn_send_buf(c, NULL, t->buf, got, NULL);
            conn_leave(c);
        }
    } else if (irp->IoStatus.Status != STATUS_SUCCESS) {
        if (InterlockedIncrement(&cg.tail_fail) == 1)
            cg.tail_fail_status = irp->IoStatus.Status;
    }
    IoFreeMdl(t->mdl);
    ExFreePoolWithTag(t->buf, TAG);
    ExFreePoolWithTag(t, TAG);
    IoFreeIrp(irp);
    InterlockedExchange(&c->partial, 0); /* last: indications may go on now */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI conn_on_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                       SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    conn_ctx *c = SocketContext;
    if (!conn_is_live(c) || c->magic != CONN_MAGIC) {
        InterlockedIncrement(&cg.on_dead);
        return STATUS_SUCCESS;
    }
    if ((Flags & WSK_FLAG_AT_DISPATCH_LEVEL) && KeGetCurrentIrql() != DISPATCH_LEVEL)
        InterlockedIncrement(&cg.bad_irql);
    if (DataIndication == NULL) {
        InterlockedIncrement(&cg.null_indications);
        conn_queue_teardown(c);
        return STATUS_SUCCESS;
    }
    InterlockedIncrement(&cg.indications);
    if (rd(&c->partial))
        InterlockedIncrement(&cg.while_partial);
    if (!conn_enter(c))
        return STATUS_SUCCESS; /* closing: drop it */
    SIZE_T sum = 0;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        if (i->Buffer.Mdl == NULL || i->Buffer.Offset >= MmGetMdlByteCount(i->Buffer.Mdl) ||
            i->Buffer.Length > chain_bytes(i->Buffer.Mdl, i->Buffer.Offset) || i->Buffer.Length == 0)
            InterlockedIncrement(&cg.bad_fields);
        sum += i->Buffer.Length;
    }
    if (sum != BytesIndicated)
        InterlockedIncrement(&cg.bad_fields);
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    LONG mode = c->k++ % 4; /* 0 all, 1 retain, 2 half, 3 STATUS_DATA_NOT_ACCEPTED */
    SIZE_T offset = c->offset;
    /* Every byte indicated continues the stream. */
    SIZE_T at = offset;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = (PUCHAR)MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        if (i->Buffer.Mdl->Next == NULL && !conn_check(va, i->Buffer.Length, at))
            InterlockedIncrement(&cg.bad_data);
        at += i->Buffer.Length;
    }
    NTSTATUS answer = STATUS_SUCCESS;
    if (mode == 1) {
        /* Retained: echoed from the provider's buffers, released later. */
        c->offset += BytesIndicated;
        KeReleaseSpinLock(&c->lock, irql);
        conn_retained *r = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*r), TAG);
        r->c = c;
        r->list = DataIndication;
        r->refs = 1;
        InterlockedIncrement(&c->retained);
        InterlockedIncrement(&cg.retained_lists);
        InterlockedExchangeAdd(&cg.bytes_taken, (LONG)BytesIndicated);
        for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next)
            conn_send_buf(c, &i->Buffer, NULL, 0, r);
        conn_retained_put(r);
        conn_leave(c);
        *BytesAccepted = BytesIndicated / 3; /* ignored with STATUS_PENDING (PFN_WSK_RECEIVE_EVENT) */
        return STATUS_PENDING;
    }
    /* Copy what is taken. */
    SIZE_T take = mode == 2 && BytesIndicated >= 2 ? BytesIndicated / 2 : BytesIndicated;
    if (mode == 3) {
        take = 0;
        answer = STATUS_DATA_NOT_ACCEPTED;
    }
    PUCHAR copy = ExAllocatePool2(POOL_FLAG_NON_PAGED, take + 1, TAG);
    SIZE_T got = 0;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL && got < take; i = i->Next) {
        PUCHAR va = (PUCHAR)MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        SIZE_T n = i->Buffer.Length < take - got ? i->Buffer.Length : take - got;
        memcpy(copy + got, va, n);
        got += n;
    }
    c->offset += take;
    InterlockedExchangeAdd(&cg.bytes_taken, (LONG)take);
    conn_tail *t = NULL;
    if (take < BytesIndicated) {
        /* Part accepted: the tail comes first to the next WskReceive. */
        t = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*t), TAG);
        t->c = c;
        t->length = BytesIndicated - take;
        if (cg.tail_any)
            t->length += 65536; /* more than the tail: no WAITALL */
        t->buf = ExAllocatePool2(POOL_FLAG_NON_PAGED, t->length, TAG);
        t->mdl = IoAllocateMdl(t->buf, (ULONG)t->length, FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(t->mdl);
        InterlockedExchange(&c->partial, 1);
        InterlockedIncrement(&cg.partials);
        if (answer == STATUS_SUCCESS)
            *BytesAccepted = take;
    }
    KeReleaseSpinLock(&c->lock, irql);
    if (take > 0)
        conn_send_buf(c, NULL, copy, take, NULL);
    ExFreePoolWithTag(copy, TAG);
    if (t != NULL) {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(irp, conn_tail_done, t, TRUE, TRUE, TRUE);
        WSK_BUF b = {t->mdl, 0, t->length};
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->s->Dispatch;
        d->WskReceive(c->s, &b, cg.tail_any ? 0 : WSK_FLAG_WAITALL, irp);
    }
    conn_leave(c);
    return answer;
}

static NTSTATUS WSKAPI conn_on_disconnect(PVOID SocketContext, ULONG Flags)
{
    conn_ctx *c = SocketContext;
    if (!conn_is_live(c) || c->magic != CONN_MAGIC) {
        InterlockedIncrement(&cg.on_dead);
        return STATUS_SUCCESS;
    }
    if ((Flags & WSK_FLAG_AT_DISPATCH_LEVEL) && KeGetCurrentIrql() != DISPATCH_LEVEL)
        InterlockedIncrement(&cg.bad_irql);
    c->disconnect_flags = Flags;
    c->disconnected = TRUE;
    if (Flags & WSK_FLAG_ABORTIVE)
        InterlockedIncrement(&cg.abortive);
    else
        InterlockedIncrement(&cg.graceful);
    conn_queue_teardown(c);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH conn_dispatch = {conn_on_receive, conn_on_disconnect, NULL};

static NTSTATUS conn_close_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    conn_ctx *c = context;
    if (irp->IoStatus.Status != STATUS_SUCCESS || rd(&c->sends) != 0 || rd(&c->retained) != 0 || rd(&c->partial))
        InterlockedIncrement(&cg.bad_close);
    KIRQL irql;
    KeAcquireSpinLock(&cg.lock, &irql);
    cg.live[c->slot] = NULL;
    KeReleaseSpinLock(&cg.lock, irql);
    c->magic = 0;
    ExFreePoolWithTag(c, TAG); /* the context dies with the close */
    IoFreeIrp(irp);
    InterlockedIncrement(&cg.closes);
    KeSetEvent(&cg.closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID conn_close_worker(PVOID context)
{
    conn_ctx *c = context;
    PIRP irp = c->irp;
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, conn_close_done, c, TRUE, TRUE, TRUE);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->s->Dispatch;
    d->WskCloseSocket(c->s, irp);
}

static NTSTATUS conn_disconnect_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    conn_ctx *c = context;
    /* Close from a work item, not from the completion routine. */
    ExInitializeWorkItem(&c->work, conn_close_worker, c);
    ExQueueWorkItem(&c->work, DelayedWorkQueue);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* PASSIVE_LEVEL work item: wait for the echo to drain and the retained
 * lists to come back, then disconnect gracefully (after a graceful peer) and
 * close. */
static VOID conn_teardown_worker(PVOID context)
{
    conn_ctx *c = context;
    BOOLEAN abortive = !c->disconnected || (c->disconnect_flags & WSK_FLAG_ABORTIVE);
    if (cg.close_fast && abortive) {
        /* Only the retained lists must be back before WskCloseSocket;
         * sends and the tail receive may still be pending. */
        for (int i = 0; i < 2000 && rd(&c->retained); i++)
            sleep_ms(1);
    } else {
        for (int i = 0; i < 2000 && (rd(&c->sends) || rd(&c->retained) || rd(&c->partial)); i++)
            sleep_ms(5);
    }
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    c->closing = TRUE;
    KeReleaseSpinLock(&c->lock, irql);
    while (rd(&c->calls) != 0)
        sleep_ms(1);
    if (rd(&c->retained) != 0)
        InterlockedIncrement(&cg.bad_close); /* would break the WskRelease rule */
    c->irp = IoAllocateIrp(1, FALSE);
    if (!abortive) {
        IoSetCompletionRoutine(c->irp, conn_disconnect_done, c, TRUE, TRUE, TRUE);
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->s->Dispatch;
        d->WskDisconnect(c->s, NULL, 0, c->irp);
    } else {
        conn_close_worker(c);
    }
}

static void conn_queue_teardown(conn_ctx *c)
{
    if (InterlockedExchange(&c->teardown, 1) != 0)
        return;
    ExInitializeWorkItem(&c->work, conn_teardown_worker, c);
    ExQueueWorkItem(&c->work, DelayedWorkQueue);
}

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                 PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)LocalAddress;
    (void)RemoteAddress;
    if ((Flags & WSK_FLAG_AT_DISPATCH_LEVEL) && KeGetCurrentIrql() != DISPATCH_LEVEL)
        InterlockedIncrement(&cg.bad_irql);
    if (AcceptSocket == NULL) {
        InterlockedIncrement(&cg.accept_null);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    conn_ctx *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*c), TAG);
    c->magic = CONN_MAGIC;
    KeInitializeSpinLock(&c->lock);
    c->s = AcceptSocket;
    KIRQL irql;
    KeAcquireSpinLock(&cg.lock, &irql);
    c->slot = -1;
    for (int i = 0; i < MAX_CONNS && c->slot < 0; i++)
        if (cg.live[i] == NULL) {
            cg.live[i] = c;
            c->slot = i;
        }
    KeReleaseSpinLock(&cg.lock, irql);
    if (c->slot < 0) {
        ExFreePoolWithTag(c, TAG);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    InterlockedIncrement(&cg.accepted);
    *AcceptSocketContext = c;
    *AcceptSocketDispatch = &conn_dispatch;
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH listen_dispatch = {on_accept, NULL, NULL};

/* The Linux side of one connection. */
typedef struct peer_conn {
    USHORT port;
    BOOLEAN reset;
    size_t len;
    long echoed;   /* verified echo bytes (graceful) */
    long eof;      /* peer_drain after the echo: 0 = clean EOF */
    int fd;
} peer_conn;

static void *peer_conn_run(void *arg)
{
    peer_conn *p = arg;
    p->fd = peer_tcp_connect(4, "127.0.0.1", p->port);
    if (p->fd < 0)
        return NULL;
    if (!p->reset) {
        peer_job *w = peer_job_pattern_writer(p->fd, p->len);
        peer_job *r = peer_job_verify_reader(p->fd, p->len);
        peer_job_join(w);
        peer_shutdown_write(p->fd);
        p->echoed = peer_job_join(r);
        p->eof = peer_drain(p->fd, 5000);
    } else {
        peer_job *w = peer_job_pattern_writer(p->fd, p->len);
        peer_job_join(w);
        usleep(2000);
        peer_reset_on_close(p->fd);
    }
    peer_close(p->fd);
    return NULL;
}

static void conn_echo_run(BOOLEAN static_events, BOOLEAN close_fast, BOOLEAN tail_any)
{
    client c;
    client_open(&c, static_events ? WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT : 0);
    rw_start();
    memset(&cg, 0, sizeof(cg));
    cg.close_fast = close_fast;
    cg.tail_any = tail_any;
    KeInitializeSpinLock(&cg.lock);
    KeInitializeEvent(&cg.closed, SynchronizationEvent, FALSE);
    PWSK_SOCKET l = client_socket(&c, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, &listen_dispatch);
    USHORT port = client_bind(&c, l, TRUE);
    if (!static_events)
        CHECK_EQ(set_events_irp(&c.irp, l, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, FALSE),
                 STATUS_SUCCESS);
    enum { NCONN = 6 };
    const int rounds = 2;
    for (int round = 0; round < rounds; round++) {
        LONG closes_before = rd(&cg.closes);
        static peer_conn pc[NCONN];
        pthread_t th[NCONN];
        for (int i = 0; i < NCONN; i++) {
            pc[i] = (peer_conn){port, i % 3 == 2, i % 3 == 2 ? 300000 : 700000 + (size_t)i * 4099, -1, -1, -1};
            pthread_create(&th[i], NULL, peer_conn_run, &pc[i]);
        }
        for (int i = 0; i < NCONN; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < NCONN; i++) {
            if (pc[i].reset)
                continue;
            CHECK_EQ(pc[i].echoed, (long)pc[i].len);
            CHECK_EQ(pc[i].eof, 0);
        }
        for (int i = 0; i < 1000 && rd(&cg.closes) < closes_before + NCONN; i++)
            wait_ms(&cg.closed, 10);
        CHECK_EQ(rd(&cg.closes), closes_before + NCONN);
    }
    sleep_ms(50);
    CHECK_EQ(cg.accepted, rounds * NCONN);
    CHECK_EQ(cg.on_dead, 0);
    CHECK_EQ(cg.bad_close, 0);
    CHECK_EQ(cg.bad_data, 0);
    CHECK_EQ(cg.bad_fields, 0);
    CHECK_EQ(cg.bad_irql, 0);
    CHECK_EQ(cg.released_lists, cg.retained_lists);
    CHECK_EQ(cg.accept_null, 0);
    fprintf(stderr,
            "  %ld indications (%ld retained, %ld partly or not accepted; %ld while a tail receive was in flight), "
            "disconnect events %ld graceful / %ld abortive, NULL indications %ld, sends %ld ok / %ld failed "
            "(first 0x%x), tail receives failed %ld (first 0x%x), short %ld, with more %ld\n",
            (long)cg.indications, (long)cg.retained_lists, (long)cg.partials, (long)cg.while_partial,
            (long)cg.graceful, (long)cg.abortive, (long)cg.null_indications, (long)cg.send_ok, (long)cg.send_fail,
            (unsigned)cg.send_fail_status, (long)cg.tail_fail, (unsigned)cg.tail_fail_status, (long)cg.tail_short,
            (long)cg.tail_extra);
    CHECK_EQ(cg.while_partial, 0);
    CHECK_EQ(cg.graceful, rounds * 4);
    CHECK_EQ(close_and_wait(l, NULL, 5000), STATUS_SUCCESS);
    rw_stop();
    client_close(&c);
}

static void conn_echo_inherited_events(void)
{
    conn_echo_run(FALSE, FALSE, FALSE);
}

static void conn_echo_static_events(void)
{
    conn_echo_run(TRUE, FALSE, FALSE);
}

static void conn_echo_close_fast_on_reset(void)
{
    conn_echo_run(FALSE, TRUE, FALSE);
}

static void conn_echo_tail_without_waitall(void)
{
    conn_echo_run(TRUE, TRUE, TRUE);
}


/* ---- 2e: WSK_EVENT_DISABLE of the receive event mid-stream; the rest by
 * WskReceive: every byte exactly once, in order ------------------------- */

typedef struct mid_ctx {
    KSPIN_LOCK lock;
    SIZE_T offset;
    volatile LONG indications;
    volatile LONG bad;
    volatile LONG in_callback;
} mid_ctx;

static NTSTATUS WSKAPI mid_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                   SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesAccepted;
    mid_ctx *m = SocketContext;
    if (DataIndication == NULL)
        return STATUS_SUCCESS;
    InterlockedIncrement(&m->in_callback);
    KIRQL irql;
    KeAcquireSpinLock(&m->lock, &irql);
    SIZE_T at = m->offset;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = (PUCHAR)MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        if (!conn_check(va, i->Buffer.Length, at))
            InterlockedIncrement(&m->bad);
        at += i->Buffer.Length;
    }
    m->offset += BytesIndicated;
    KeReleaseSpinLock(&m->lock, irql);
    InterlockedIncrement(&m->indications);
    InterlockedDecrement(&m->in_callback);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH mid_dispatch = {mid_receive, NULL, NULL};

typedef struct paced {
    int fd;
    size_t total;
    long sent;
} paced;

static void *paced_writer(void *arg)
{
    paced *p = arg;
    static UCHAR chunk[16384];
    size_t off = 0;
    while (off < p->total) {
        size_t n = p->total - off < sizeof(chunk) ? p->total - off : sizeof(chunk);
        for (size_t k = 0; k < n; k++)
            chunk[k] = peer_pattern(off + k);
        if (peer_send_all(p->fd, chunk, n) != (long)n)
            break;
        off += n;
        usleep(500);
    }
    p->sent = (long)off;
    return NULL;
}

static void conn_disable_receive_mid_stream(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    static mid_ctx m;
    memset(&m, 0, sizeof(m));
    KeInitializeSpinLock(&m.lock);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, &m, &mid_dispatch, WSK_EVENT_RECEIVE, &peer);
    const size_t total = 4u << 20;
    static paced pw;
    pw = (paced){peer, total, 0};
    pthread_t wth;
    pthread_create(&wth, NULL, paced_writer, &pw);
    for (int i = 0; i < 5000 && rd(&m.indications) < 8; i++)
        sleep_ms(1);
    wt_irp irp = {0};
    CHECK_EQ(set_events_irp(&irp, s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, TRUE), STATUS_SUCCESS);
    CHECK_EQ(rd(&m.in_callback), 0);
    LONG at_disable = rd(&m.indications);
    SIZE_T offset = m.offset;
    static UCHAR buf[65536];
    PMDL mdl = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    WSK_BUF b = {mdl, 0, sizeof(buf)};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    BOOLEAN writer_done = FALSE;
    int bad = 0;
    if (offset >= total) { /* all indicated before the disable: no receive needed */
        pthread_join(wth, NULL);
        writer_done = TRUE;
        peer_shutdown_write(peer);
    }
    for (;;) {
        NTSTATUS r = d->WskReceive(s, &b, 0, wt_irp_arm(&irp));
        NTSTATUS st = wt_irp_result(&irp, r);
        if (st == STATUS_PENDING) { /* never completed: cancel it before the IRP goes */
            IoCancelIrp(irp.irp);
            wt_irp_result(&irp, r);
            break;
        }
        if (st != STATUS_SUCCESS) {
            WT_FAIL("WskReceive 0x%x", (unsigned)st);
            break;
        }
        SIZE_T got = irp.irp->IoStatus.Information;
        if (got == 0)
            break;
        if (!conn_check(buf, got, offset))
            bad++;
        offset += got;
        if (!writer_done && offset >= total) {
            pthread_join(wth, NULL);
            CHECK_EQ(pw.sent, (long)total);
            writer_done = TRUE;
            peer_shutdown_write(peer);
        }
    }
    if (!writer_done) {
        pthread_join(wth, NULL);
        WT_FAIL("stream ended early at %zu of %zu", (size_t)offset, total);
    }
    fprintf(stderr, "  %zu bytes by %ld indications, %zu by WskReceive\n", (size_t)m.offset, (long)at_disable,
            (size_t)(offset - m.offset));
    CHECK_EQ(offset, total);
    CHECK_EQ(bad, 0);
    CHECK_EQ(m.bad, 0);
    CHECK_EQ(rd(&m.indications), at_disable);
    IoFreeMdl(mdl);
    wt_irp_free(&irp);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}



/* ---- 1h: WskSendMessages with a fixed destination (NULL RemoteAddress) and
 * an explicit override, both in flight at once, never waited for --------- */

static void dg_send_messages_fixed_and_override(void)
{
    for (int pass = 0; pass < 2; pass++) {
        ULONG ioctl = pass == 0 ? SIO_WSK_SET_SENDTO_ADDRESS : SIO_WSK_SET_REMOTE_ADDRESS;
        client c;
        client_open(&c, 0);
        PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL);
        USHORT port = client_bind(&c, s, FALSE);
        (void)port;
        int a = peer_udp_bind(4, "127.0.0.1", 0), b = peer_udp_bind(4, "127.0.0.1", 0);
        SOCKADDR_IN to_a = wt_in4("127.0.0.1", peer_local_port(a)), to_b = wt_in4("127.0.0.1", peer_local_port(b));
        const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
        NTSTATUS r = d->WskControlSocket(s, WskIoctl, ioctl, 0, sizeof(to_a), &to_a, 0, NULL, NULL,
                                         wt_irp_arm(&c.irp));
        CHECK_EQ(wt_irp_result(&c.irp, r), STATUS_SUCCESS);
        enum { N = 12 };
        static UCHAR pay[2][N][700];
        static WSK_BUF_LIST lists[2][N];
        static PMDL mdls[2][N];
        static NTSTATUS statuses[2];
        static ULONG_PTR info[2];
        static fire_send fs[2];
        static volatile LONG done, after_close, closed;
        done = after_close = closed = 0;
        SIZE_T totals[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < N; i++) {
                ULONG id = (ULONG)k + 1, seq = (ULONG)i;
                dg_fill(pay[k][i], id, seq);
                mdls[k][i] = IoAllocateMdl(pay[k][i], (ULONG)dg_size(id, seq), FALSE, FALSE, NULL);
                MmBuildMdlForNonPagedPool(mdls[k][i]);
                lists[k][i].Buffer = (WSK_BUF){mdls[k][i], 0, dg_size(id, seq)};
                lists[k][i].Next = i + 1 < N ? &lists[k][i + 1] : NULL;
                totals[k] += dg_size(id, seq);
            }
            fs[k] = (fire_send){NULL, &done, &after_close, &closed, statuses, info, k};
            PIRP irp = IoAllocateIrp(1, FALSE);
            IoSetCompletionRoutine(irp, fire_done, &fs[k], TRUE, TRUE, TRUE);
            /* list 0: to the fixed address (NULL); list 1: override to b */
            d->WskSendMessages(s, lists[k], 0, k == 0 ? NULL : (PSOCKADDR)&to_b, 0, NULL, irp);
        }
        for (int i = 0; i < 400 && rd(&done) < 2; i++)
            sleep_ms(5);
        CHECK_EQ(rd(&done), 2);
        for (int k = 0; k < 2; k++) {
            if (statuses[k] != STATUS_SUCCESS || info[k] != totals[k])
                fprintf(stderr, "  %s: list %d completed 0x%x, Information %lu of %lu\n",
                        pass == 0 ? "SIO_WSK_SET_SENDTO_ADDRESS" : "SIO_WSK_SET_REMOTE_ADDRESS", k,
                        (unsigned)statuses[k], (unsigned long)info[k], (unsigned long)totals[k]);
            CHECK_EQ(statuses[k], STATUS_SUCCESS);
            CHECK_EQ(info[k], totals[k]);
        }
        static UCHAR in[2048];
        for (int k = 0; k < 2; k++) {
            int got = 0, bad = 0;
            for (int i = 0; i < N; i++) {
                long n = peer_udp_recv(k == 0 ? a : b, in, sizeof(in), NULL, 1000);
                ULONG id, seq;
                if (n < 0)
                    break;
                if (!dg_check(in, (SIZE_T)n, &id, &seq) || id != (ULONG)k + 1 || seq != (ULONG)i)
                    bad++;
                got++;
            }
            CHECK_EQ(got, N);
            CHECK_EQ(bad, 0);
        }
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < N; i++)
                IoFreeMdl(mdls[k][i]);
        CHECK_EQ(close_and_wait(s, NULL, 5000), STATUS_SUCCESS);
        peer_close(a);
        peer_close(b);
        client_close(&c);
    }
}


/* ---- 1i: a dual-stack socket: an IPv4 sender shows as ::ffff:a.b.c.d in
 * RemoteAddress, and the echo to that address reaches it ------------------ */

typedef struct dual_ctx {
    PWSK_SOCKET socket;
    volatile LONG calls;
    SOCKADDR_IN6 from[2];
    USHORT family[2];
    volatile LONG sent_ok;
    volatile LONG released;
    KEVENT done;
} dual_ctx;

typedef struct dual_send {
    dual_ctx *x;
    PWSK_DATAGRAM_INDICATION ind;
    WSK_BUF_LIST one;
    SOCKADDR_IN6 to;
} dual_send;

static void dual_released(PVOID owner, NTSTATUS status)
{
    dual_ctx *x = owner;
    if (status == STATUS_SUCCESS)
        InterlockedIncrement(&x->released);
    KeSetEvent(&x->done, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS dual_sent(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    dual_send *d = context;
    if (irp->IoStatus.Status == STATUS_SUCCESS && irp->IoStatus.Information == d->one.Buffer.Length)
        InterlockedIncrement(&d->x->sent_ok);
    rw_queue(TRUE, d->x->socket, d->ind, d->x, dual_released);
    ExFreePoolWithTag(d, TAG);
    IoFreeIrp(irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI dual_receive_from(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    (void)Flags;
    dual_ctx *x = SocketContext;
    if (DataIndication == NULL)
        return STATUS_SUCCESS;
    LONG n = rd(&x->calls);
    if (n < 2 && DataIndication->RemoteAddress != NULL) {
        x->family[n] = DataIndication->RemoteAddress->sa_family;
        memcpy(&x->from[n], DataIndication->RemoteAddress, sizeof(SOCKADDR_IN6));
    }
    dual_send *d = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*d), TAG);
    d->x = x;
    d->ind = DataIndication;
    d->one.Next = NULL;
    d->one.Buffer = DataIndication->Buffer;
    memcpy(&d->to, DataIndication->RemoteAddress, sizeof(SOCKADDR_IN6));
    InterlockedIncrement(&x->calls);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, dual_sent, d, TRUE, TRUE, TRUE);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *dd = x->socket->Dispatch;
    dd->WskSendMessages(x->socket, &d->one, 0, (PSOCKADDR)&d->to, 0, NULL, irp);
    return STATUS_PENDING;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH dual_dispatch = {dual_receive_from};

static void dg_dual_stack_remote_address(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 here: case skipped)\n");
        return;
    }
    client c;
    client_open(&c, 0);
    rw_start();
    static dual_ctx x;
    memset(&x, 0, sizeof(x));
    KeInitializeEvent(&x.done, SynchronizationEvent, FALSE);
    NTSTATUS r = c.npi.Dispatch->WskSocket(c.npi.Client, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET,
                                           &x, &dual_dispatch, NULL, NULL, NULL, wt_irp_arm(&c.irp));
    CHECK_EQ(wt_irp_result(&c.irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)c.irp.irp->IoStatus.Information;
    x.socket = s;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    ULONG off = 0;
    r = d->WskControlSocket(s, WskSetOption, IPV6_V6ONLY, IPPROTO_IPV6, sizeof(off), &off, 0, NULL, NULL,
                            wt_irp_arm(&c.irp));
    CHECK_EQ(wt_irp_result(&c.irp, r), STATUS_SUCCESS);
    SOCKADDR_IN6 any = wt_in6("::", 0), local;
    r = d->WskBind(s, (PSOCKADDR)&any, 0, wt_irp_arm(&c.irp));
    CHECK_EQ(wt_irp_result(&c.irp, r), STATUS_SUCCESS);
    r = d->WskGetLocalAddress(s, (PSOCKADDR)&local, wt_irp_arm(&c.irp));
    CHECK_EQ(wt_irp_result(&c.irp, r), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin6_port);
    CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
    int p4 = peer_udp_bind(4, "127.0.0.1", 0), p6 = peer_udp_bind(6, "::1", 0);
    CHECK_EQ(peer_udp_send_from(p4, 4, "127.0.0.1", port, "four", 4), 4);
    char in[16];
    USHORT from = 0;
    long n = peer_udp_recv(p4, in, sizeof(in), &from, 2000);
    CHECK_EQ(n, 4);
    CHECK_EQ(from, port);
    CHECK_EQ(peer_udp_send_from(p6, 6, "::1", port, "six", 3), 3);
    n = peer_udp_recv(p6, in, sizeof(in), &from, 2000);
    CHECK_EQ(n, 3);
    for (int i = 0; i < 400 && rd(&x.released) < 2; i++)
        sleep_ms(5);
    CHECK_EQ(rd(&x.released), 2);
    CHECK_EQ(rd(&x.sent_ok), 2);
    SOCKADDR_IN6 want4 = wt_in6("::ffff:127.0.0.1", peer_local_port(p4)), want6 = wt_in6("::1", peer_local_port(p6));
    fprintf(stderr, "  IPv4 sender: family %u port %u; IPv6 sender: family %u port %u\n", x.family[0],
            RtlUshortByteSwap(x.from[0].sin6_port), x.family[1], RtlUshortByteSwap(x.from[1].sin6_port));
    CHECK_EQ(x.family[0], AF_INET6);
    CHECK_MEM(&x.from[0].sin6_addr, &want4.sin6_addr, 16);
    CHECK_EQ(x.from[0].sin6_port, want4.sin6_port);
    CHECK_EQ(x.family[1], AF_INET6);
    CHECK_MEM(&x.from[1].sin6_addr, &want6.sin6_addr, 16);
    CHECK_EQ(x.from[1].sin6_port, want6.sin6_port);
    CHECK_EQ(close_and_wait(s, NULL, 5000), STATUS_SUCCESS);
    rw_stop();
    peer_close(p4);
    peer_close(p6);
    client_close(&c);
}

/* ---- 1g: disable from inside the callback, and close from inside it ----- */

typedef struct inside_ctx {
    PWSK_SOCKET socket;
    volatile LONG calls;
    volatile LONG returned;       /* set as the callback's last act */
    NTSTATUS disable_status;
    NTSTATUS close_status;
    BOOLEAN do_close;
    PIRP close_irp;
    volatile LONG closed_before_return;
    volatile LONG close_completed;
    KEVENT closed;
} inside_ctx;

static NTSTATUS inside_close_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    inside_ctx *x = context;
    if (!rd(&x->returned))
        InterlockedIncrement(&x->closed_before_return);
    InterlockedIncrement(&x->close_completed);
    IoFreeIrp(irp);
    KeSetEvent(&x->closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI inside_receive_from(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    (void)Flags;
    (void)DataIndication;
    inside_ctx *x = SocketContext;
    if (InterlockedIncrement(&x->calls) == 1) {
        const WSK_PROVIDER_DATAGRAM_DISPATCH *d = x->socket->Dispatch;
        if (x->do_close) {
            x->close_irp = IoAllocateIrp(1, FALSE);
            IoSetCompletionRoutine(x->close_irp, inside_close_done, x, TRUE, TRUE, TRUE);
            x->close_status = d->WskCloseSocket(x->socket, x->close_irp);
            usleep(20000); /* a close that does not wait for this callback would complete now */
        } else {
            WSK_EVENT_CALLBACK_CONTROL off = {(PNPIID)&NPI_WSK_INTERFACE_ID,
                                              WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE_FROM};
            x->disable_status = d->WskControlSocket(x->socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                                                    sizeof(off), &off, 0, NULL, NULL, NULL);
        }
    }
    InterlockedExchange(&x->returned, 1);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_DATAGRAM_DISPATCH inside_dispatch = {inside_receive_from};

static void dg_disable_and_close_from_inside_the_callback(void)
{
    for (int pass = 0; pass < 2; pass++) {
        client c;
        client_open(&c, 0);
        static inside_ctx x;
        memset(&x, 0, sizeof(x));
        KeInitializeEvent(&x.closed, NotificationEvent, FALSE);
        x.do_close = pass == 1;
        PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &x, &inside_dispatch);
        x.socket = s;
        USHORT port = client_bind(&c, s, FALSE);
        CHECK_EQ(set_events_irp(&c.irp, s, WSK_EVENT_RECEIVE_FROM, FALSE), STATUS_SUCCESS);
        int p1 = peer_udp_bind(4, "127.0.0.1", 0);
        peer_udp_send_from(p1, 4, "127.0.0.1", port, "one", 3);
        for (int i = 0; i < 400 && !rd(&x.returned); i++)
            sleep_ms(5);
        CHECK(rd(&x.returned));
        if (!x.do_close) {
            CHECK_EQ(x.disable_status, STATUS_EVENT_PENDING); /* PFN_WSK_CONTROL_SOCKET / SO_WSK_EVENT_CALLBACK */
            peer_udp_send_from(p1, 4, "127.0.0.1", port, "two", 3);
            sleep_ms(50);
            CHECK_EQ(rd(&x.calls), 1);
            UCHAR in[8];
            PMDL m = IoAllocateMdl(in, sizeof(in), FALSE, FALSE, NULL);
            MmBuildMdlForNonPagedPool(m);
            WSK_BUF b = {m, 0, sizeof(in)};
            const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
            NTSTATUS r = d->WskReceiveFrom(s, &b, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&c.irp));
            CHECK_EQ(wt_irp_result(&c.irp, r), STATUS_SUCCESS);
            CHECK_MEM(in, "two", 3);
            IoFreeMdl(m);
            CHECK_EQ(close_and_wait(s, NULL, 5000), STATUS_SUCCESS);
        } else {
            CHECK(wait_ms(&x.closed, 5000));
            CHECK_EQ(x.close_completed, 1);
            CHECK_EQ(x.closed_before_return, 0);
            fprintf(stderr, "  WskCloseSocket from inside the callback returned 0x%x\n", (unsigned)x.close_status);
            CHECK(x.close_status == STATUS_PENDING || x.close_status == STATUS_SUCCESS);
        }
        peer_close(p1);
        client_close(&c);
    }
}

/* ---- 2f: static events with a per-connection dispatch that has no
 * WskDisconnectEvent; events enabled on the accepted socket from a work item */

typedef struct late_ctx {
    PWSK_SOCKET s;
    WORK_QUEUE_ITEM work;
    KSPIN_LOCK lock;
    SIZE_T offset;
    volatile LONG bad;
    volatile LONG indications;
    volatile LONG eof;
    NTSTATUS enable_status;
    volatile LONG enabled;
} late_ctx;

static late_ctx late_conns[4];
static volatile LONG late_next;
static BOOLEAN late_enable_later;

static SIZE_T late_offset(late_ctx *l)
{
    KIRQL irql;
    KeAcquireSpinLock(&l->lock, &irql);
    SIZE_T o = l->offset;
    KeReleaseSpinLock(&l->lock, irql);
    return o;
}

static NTSTATUS WSKAPI late_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                    SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesAccepted;
    late_ctx *l = SocketContext;
    if (DataIndication == NULL) {
        InterlockedIncrement(&l->eof);
        return STATUS_SUCCESS;
    }
    KIRQL irql;
    KeAcquireSpinLock(&l->lock, &irql);
    SIZE_T at = l->offset;
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = (PUCHAR)MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority) + i->Buffer.Offset;
        if (!conn_check(va, i->Buffer.Length, at))
            InterlockedIncrement(&l->bad);
        at += i->Buffer.Length;
    }
    l->offset += BytesIndicated;
    KeReleaseSpinLock(&l->lock, irql);
    InterlockedIncrement(&l->indications);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH late_dispatch_no_disconnect = {late_receive, NULL, NULL};

static VOID late_enable(PVOID context)
{
    late_ctx *l = context;
    sleep_ms(30); /* the peer's data is there before the event is on */
    WSK_EVENT_CALLBACK_CONTROL on = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = l->s->Dispatch;
    l->enable_status = d->WskControlSocket(l->s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(on), &on, 0,
                                           NULL, NULL, NULL);
    InterlockedExchange(&l->enabled, 1);
}

static NTSTATUS WSKAPI late_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                   PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                   const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    if (AcceptSocket == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    LONG i = InterlockedIncrement(&late_next) - 1;
    if (i >= 4)
        return STATUS_REQUEST_NOT_ACCEPTED;
    late_ctx *l = &late_conns[i];
    l->s = AcceptSocket;
    KeInitializeSpinLock(&l->lock);
    *AcceptSocketContext = l;
    *AcceptSocketDispatch = &late_dispatch_no_disconnect;
    if (late_enable_later && i % 2 == 1) {
        /* odd ones: events enabled later, from a work item */
        ExInitializeWorkItem(&l->work, late_enable, l);
        ExQueueWorkItem(&l->work, DelayedWorkQueue);
    }
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH late_listen = {late_accept, NULL, NULL};

static void conn_events_enabled_after_accept(void)
{
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: static ACCEPT|RECEIVE|DISCONNECT, client dispatch without
         * WskDisconnectEvent; pass 1: per-socket ACCEPT on the listener only,
         * RECEIVE enabled on odd connections from a work item. */
        client c;
        client_open(&c, pass == 0 ? WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT : 0);
        memset(late_conns, 0, sizeof(late_conns));
        late_next = 0;
        late_enable_later = pass == 1;
        PWSK_SOCKET l = client_socket(&c, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, &late_listen);
        USHORT port = client_bind(&c, l, TRUE);
        if (pass == 1)
            CHECK_EQ(set_events_irp(&c.irp, l, WSK_EVENT_ACCEPT, FALSE), STATUS_SUCCESS);
        int fds[2];
        const size_t len = 300000;
        for (int i = 0; i < 2; i++) {
            fds[i] = peer_tcp_connect(4, "127.0.0.1", port);
            CHECK(fds[i] >= 0);
            peer_job *w = peer_job_pattern_writer(fds[i], len);
            CHECK_EQ(peer_job_join(w), (long)len);
            peer_shutdown_write(fds[i]);
        }
        for (int k = 0; k < 400 && rd(&late_next) < 2; k++)
            sleep_ms(5);
        CHECK_EQ(rd(&late_next), 2);
        for (int i = 0; i < 2; i++) {
            late_ctx *x = &late_conns[i];
            BOOLEAN events = pass == 0 || i % 2 == 1;
            if (!events)
                continue;
            for (int k = 0; k < 400 && late_offset(x) < len; k++)
                sleep_ms(5);
            if (pass == 1) {
                for (int k = 0; k < 200 && !rd(&x->enabled); k++)
                    sleep_ms(5);
                CHECK_EQ(x->enable_status, STATUS_SUCCESS);
            }
            fprintf(stderr, "  pass %d connection %d: %zu of %zu bytes indicated, %ld bad\n", pass, i,
                    (size_t)late_offset(x), len, (long)x->bad);
            CHECK_EQ(late_offset(x), len);
            CHECK_EQ(x->bad, 0);
        }
        for (int i = 0; i < 2; i++) {
            for (int k = 0; k < 200 && pass == 1 && i % 2 == 1 && !rd(&late_conns[i].enabled); k++)
                sleep_ms(5);
            CHECK_EQ(close_and_wait(late_conns[i].s, NULL, 5000), STATUS_SUCCESS);
            peer_close(fds[i]);
        }
        CHECK_EQ(close_and_wait(l, NULL, 5000), STATUS_SUCCESS);
        client_close(&c);
    }
}

/* ======================================================================= */
/* Bad input                                                               */
/* ======================================================================= */

/* Connection WskRelease: NULL, and twice (datagram: test_wsk_datagram_events). */
typedef struct hold_ctx {
    KEVENT got;
    PWSK_DATA_INDICATION held;
} hold_ctx;

static NTSTATUS WSKAPI hold_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                    SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    hold_ctx *h = SocketContext;
    if (DataIndication == NULL || h->held != NULL)
        return STATUS_SUCCESS;
    h->held = DataIndication;
    KeSetEvent(&h->got, IO_NO_INCREMENT, FALSE);
    return STATUS_PENDING;
}

static const WSK_CLIENT_CONNECTION_DISPATCH hold_dispatch = {hold_receive, NULL, NULL};

static void bad_release_on_connection(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    static hold_ctx h;
    memset(&h, 0, sizeof(h));
    KeInitializeEvent(&h.got, NotificationEvent, FALSE);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, &h, &hold_dispatch, WSK_EVENT_RECEIVE, &peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    CHECK_EQ(d->WskRelease(s, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(peer_send_all(peer, "hold me", 7), 7);
    CHECK(wait_ms(&h.got, 2000));
    CHECK_EQ(d->WskRelease(s, h.held), STATUS_SUCCESS);
    if (!(openwsk_verify_enabled_groups() & OPENWSK_VERIFY_WSK)) {
        NTSTATUS again = d->WskRelease(s, h.held);
        fprintf(stderr, "  second WskRelease of a connection indication: 0x%x\n", (unsigned)again);
        CHECK_EQ(again, STATUS_INVALID_PARAMETER);
    }
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* Events that do not belong to the socket's category. */
static void events_on_the_wrong_socket_kind(void)
{
    client c;
    client_open(&c, 0);
    static dg_ctx ctx;
    dg_ctx_init(&ctx, DG_COUNT);
    /* A listener whose dispatch is a listen table. */
    PWSK_SOCKET l = client_socket(&c, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, &listen_dispatch);
    client_bind(&c, l, TRUE);
    NTSTATUS st = set_events_irp(&c.irp, l, WSK_EVENT_RECEIVE_FROM, FALSE);
    fprintf(stderr, "  WSK_EVENT_RECEIVE_FROM on a listening socket: 0x%x\n", (unsigned)st);
    CHECK(!NT_SUCCESS(st));
    CHECK_EQ(close_and_wait(l, NULL, 5000), STATUS_SUCCESS);
    /* A datagram socket asked for accept / receive / disconnect events. */
    PWSK_SOCKET s = client_socket(&c, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &ctx, &dg_dispatch);
    ctx.socket = s;
    client_bind(&c, s, FALSE);
    ULONG masks[] = {WSK_EVENT_ACCEPT, WSK_EVENT_RECEIVE, WSK_EVENT_DISCONNECT, WSK_EVENT_SEND_BACKLOG,
                     WSK_EVENT_RECEIVE_FROM | WSK_EVENT_ACCEPT, WSK_EVENT_DISABLE | WSK_EVENT_ACCEPT};
    for (unsigned i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        st = set_events_irp(&c.irp, s, masks[i], FALSE);
        fprintf(stderr, "  mask 0x%x on a datagram socket: 0x%x\n", (unsigned)masks[i], (unsigned)st);
        CHECK(!NT_SUCCESS(st));
    }
    CHECK_EQ(close_and_wait(s, &ctx.closed, 5000), STATUS_SUCCESS);
    client_close(&c);
    /* A connected socket asked for WSK_EVENT_RECEIVE_FROM / ACCEPT. */
    wt_wsk t;
    wt_wsk_open(&t);
    static hold_ctx h;
    memset(&h, 0, sizeof(h));
    KeInitializeEvent(&h.got, NotificationEvent, FALSE);
    int peer;
    PWSK_SOCKET cs = wt_connect_to_linux(&t, &h, &hold_dispatch, 0, &peer);
    wt_irp w = {0};
    st = set_events_irp(&w, cs, WSK_EVENT_RECEIVE_FROM, FALSE);
    fprintf(stderr, "  WSK_EVENT_RECEIVE_FROM on a connection socket: 0x%x\n", (unsigned)st);
    CHECK(!NT_SUCCESS(st));
    st = set_events_irp(&w, cs, WSK_EVENT_ACCEPT, FALSE);
    fprintf(stderr, "  WSK_EVENT_ACCEPT on a connection socket: 0x%x\n", (unsigned)st);
    CHECK(!NT_SUCCESS(st));
    wt_irp_free(&w);
    CHECK_EQ(wt_close(&t, cs), STATUS_SUCCESS);
    peer_close(peer);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(dg_echo_per_socket_events);
    WT_RUN(dg_echo_static_events);
    WT_RUN(dg_close_with_sends_in_flight);
    WT_RUN(dg_disable_while_arriving);
    WT_RUN(dg_disable_while_arriving_retained);
    WT_RUN(dg_many_retained);
    WT_RUN(dg_send_messages_fixed_and_override);
    WT_RUN(dg_dual_stack_remote_address);
    WT_RUN(conn_echo_inherited_events);
    WT_RUN(conn_echo_static_events);
    WT_RUN(conn_echo_close_fast_on_reset);
    WT_RUN(conn_echo_tail_without_waitall);
    WT_RUN(conn_disable_receive_mid_stream);
    WT_RUN(dg_disable_and_close_from_inside_the_callback);
    WT_RUN(conn_events_enabled_after_accept);
    WT_RUN(bad_release_on_connection);
    WT_RUN(events_on_the_wrong_socket_kind);
    WT_RUN(dg_close_with_retained_lists);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
