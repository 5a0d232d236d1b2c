/*
 * test_wsk_stress.c - seeded random interleavings of WSK calls on TCP
 * connections over loopback (127.0.0.1 and ::1), both ends WSK sockets,
 * driven the way production drivers drive them: sends fired and never
 * waited for (the completion routine frees IRP, MDL and buffer), several
 * receives in flight (some WSK_FLAG_WAITALL), IoCancelIrp on pending IRPs,
 * graceful and abortive disconnects, closes with IRPs pending, closes from
 * inside a completion routine or queued to a worker thread, completion
 * routines that issue the next call inline or through the worker.
 * Connections come from a listener served by WskAccept IRPs and one served
 * by WskAcceptEvent (which is which depends on the seed); the connecting
 * end is a connection socket or, one time in three, a stream socket (its
 * dispatch table has another layout), or one with receive and disconnect
 * events (indications taken whole, in part, not at all, or kept and
 * released from the worker).  UDP sockets on
 * the same loopback addresses exchange datagrams (WskSendTo, WskReceiveFrom
 * with buffers sometimes shorter than the datagram), with cancels and
 * closes the same way.
 *
 * Oracles, checked with the seed and step printed on failure:
 *  - every IRP completes exactly once, and none after its socket's close
 *    completed; the close completes only once every other IRP of the
 *    socket has (PFN_WSK_CLOSE_SOCKET, Remarks); the IRP contract
 *    (STATUS_PENDING returned <=> PendingReturned);
 *  - each IoStatus.Status is one allowed for the call in the state it ran
 *    in (st_status_allowed);
 *  - each direction of each connection carries a deterministic byte stream;
 *    receives are taken in issue order and every byte is checked against
 *    its stream offset; a direction whose sender gracefully disconnected
 *    after every send succeeded, with neither end aborted or closed early,
 *    delivers every byte and then the FIN;
 *  - a datagram arrives whole (or cut to the buffer, STATUS_BUFFER_OVERFLOW),
 *    from the address of the socket that sent it, with the right bytes;
 *  - nothing leaks: pool outstanding count back to zero, WskDeregister
 *    returns.
 *
 * Knobs: OPENWSK_STRESS_SEED=N (one seed; default: the fixed list below,
 * or OPENWSK_PERTURB / OPENWSK_PERTURB_SEED when set), OPENWSK_STRESS_SEEDS=K
 * (K consecutive seeds from the first), OPENWSK_STRESS_OPS=N (operations per
 * seed), OPENWSK_STRESS_VERBOSE=1 (every operation, and a status tally),
 * OPENWSK_STRESS_ABORTIVE, _UDP, _EVENTS =0|1 (those operations off or on),
 * OPENWSK_STRESS_STRICT_RESET=1 (fail on the known reset deviation, see
 * st_check_prefix), OPENWSK_STRESS_REPRO=abortive|reset|abort-events (only
 * that focused reproducer, at the end of the file; "reset" also runs
 * before the seeds).
 * Long runs: tools/stress-loop.sh; docs in README.md ("Timing bugs").
 */
#include "wt_pattern.h"

#include <openwsk_runtime.h>

#include <limits.h>

#define ST_TAG TAG_FROM_CHARS('S', 't', 'r', 's')
#define ST_MAX_LIVE 6  /* open connections at a time */
#define ST_MAX_SENDS 6 /* in flight per socket */
#define ST_MAX_RECVS 4
#define ST_SCAN 64 /* records looked at when picking one to cancel */

/* ---- the run: seed, step, failures ---- */

static ULONG64 g_seed;
static LONG64 g_step; /* __atomic: the step in progress */
static int g_verbose;
static volatile LONG g_failures;
static volatile LONG g_final; /* the random phase is over */
static ULONG g_full_checked; /* directions checked for complete delivery */
static ULONG64 g_bytes;        /* received, over every connection */
static BOOLEAN g_abortive = TRUE; /* abortive disconnects among the operations */
static BOOLEAN g_udp_on = TRUE;   /* datagram sockets among the operations */
static BOOLEAN g_events_on = TRUE; /* receive events on some connections */
/* Receives that completed STATUS_SUCCESS with 0 bytes after a failed
 * receive, or after the socket's own abortive disconnect. */
static volatile LONG g_zero_after_error, g_zero_after_abort;
/* Receivers that saw a FIN short of the stream after the sender's close
 * (see st_check_prefix); OPENWSK_STRESS_STRICT_RESET=1 fails on them. */
static volatile LONG g_fin_short_after_close;
static BOOLEAN g_strict_reset;

static void st_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void st_fail_at(const char *file, int line, const char *fmt, ...)
{
    LONG n = InterlockedIncrement(&g_failures);
    if (n > 25) {
        if (n == 26)
            fprintf(stderr, "  (more failures not shown)\n");
        return;
    }
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fprintf(stderr, "  FAIL %s:%d: seed %llu step %lld: %s\n", file, line, (unsigned long long)g_seed,
            (long long)__atomic_load_n(&g_step, __ATOMIC_RELAXED), what);
}
#define ST_FAIL(...) st_fail_at(__FILE__, __LINE__, __VA_ARGS__)

#define ST_LOG(...)                                                                                \
    do {                                                                                           \
        if (g_verbose)                                                                             \
            fprintf(stderr, "  [%lld] ", (long long)__atomic_load_n(&g_step, __ATOMIC_RELAXED)), \
                fprintf(stderr, __VA_ARGS__), fputc('\n', stderr);                                 \
    } while (0)

static inline LONG ld(volatile LONG *p)
{
    return InterlockedCompareExchange((LONG *)p, 0, 0);
}

/* splitmix64 */
static inline ULONG64 st_next(ULONG64 *s)
{
    ULONG64 z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline ULONG st_below(ULONG64 *s, ULONG n)
{
    return (ULONG)(st_next(s) % n);
}

/* A length: mostly small, sometimes up to 64 KiB. */
static inline ULONG st_len(ULONG64 r)
{
    switch (r % 10) {
    case 0: case 1: case 2: case 3: return 1 + (ULONG)((r >> 8) % 64);
    case 4: case 5: case 6: case 7: return 1 + (ULONG)((r >> 8) % 4096);
    default: return 1 + (ULONG)((r >> 8) % 65536);
    }
}

/* ---- records: one per IRP handed to the provider ---- */

typedef enum st_kind {
    SK_SEND, SK_PROBE_SEND, SK_RECV, SK_DISC, SK_ABORT, SK_CLOSE, SK_ACCEPT, SK_CONNECT,
    SK_SENDTO, SK_RECVFROM, SK_UCLOSE, SK_N
} st_kind;
static const char *const st_kind_name[SK_N] = {"send", "send after FIN", "receive", "disconnect",
                                               "abortive disconnect", "close", "accept", "connect",
                                               "datagram send", "datagram receive", "datagram close"};

struct st_ep;
struct st_listener;
struct st_udp;

/* cancel_state: whoever frees the IRP (the completion routine, or a
 * canceller that was inside IoCancelIrp when it ran). */
enum { CS_PENDING, CS_CANCELLING, CS_FREED, CS_DEFERRED };

typedef struct st_rec {
    struct st_rec *next;    /* the owner's records, newest first */
    struct st_rec *rx_next; /* the receive FIFO */
    struct st_ep *ep;
    struct st_listener *l;
    struct st_udp *u;
    st_kind kind;
    LONG64 step;
    PIRP irp;
    PMDL mdl;
    PUCHAR buf;
    WSK_BUF wbuf;
    ULONG len, flags;
    ULONG64 offset; /* send: stream offset of the first byte */
    ULONG64 dice;   /* decisions of the completion routine */
    volatile LONG completions, cancel_state, cancel_requested, rx_done, issued;
    NTSTATUS status, returned;
    ULONG_PTR info;
    BOOLEAN pending_returned;
    SOCKADDR_IN6 remote; /* accept */
} st_rec;

/* ---- sockets ---- */

typedef struct st_ep {
    struct st_conn *conn;
    struct st_ep *peer;
    int side; /* 0: connected with WskConnect, 1: accepted */
    PWSK_SOCKET sock;
    const WSK_PROVIDER_BASIC_DISPATCH *d;
    /* From the connection or the stream table, whose layouts differ. */
    PFN_WSK_SEND send;
    PFN_WSK_RECEIVE receive;
    PFN_WSK_DISCONNECT disconnect;
    BOOLEAN stream;
    ULONG tx_stream; /* the pattern this end sends */
    KSPIN_LOCK lock; /* the driver's issue lock: calls on this socket, in order */
    ULONG64 rng;
    st_rec *recs;
    ULONG64 tx_offset;
    LONG64 tx_taint; /* __atomic: offset of the first send that failed (LLONG_MAX: none) */
    KSPIN_LOCK rx_lock;
    st_rec *rx_head, *rx_tail;
    ULONG64 rx_offset;
    LONG64 rx_bad_at; /* first offset that was wrong, -1: none */
    LONG64 rx_bad_step; /* the step in progress when it was seen */
    UCHAR rx_bad_got, rx_bad_want;
    volatile LONG rx_fin, rx_end, rx_after_fin;
    volatile LONG rx_error_seen; /* a receive failed (reset...) or a disconnect event said abortive */
    LONG fin_peer_closing;       /* the peer's close had begun when the FIN was seen */
    LONG rx_fin_claimed;         /* st_note_fin: the first to see the FIN records it */
    volatile LONG sends, recvs, inflight, work_pending;
    volatile LONG closing, close_done, graceful_pending, graceful_issued, graceful_ok, abort_issued;
    volatile LONG close_on_completion; /* 1: armed, 2: fired */
    volatile LONG drain;
    /* Receive and disconnect events (connecting connection sockets, one in
     * three): indications the client kept (STATUS_PENDING) until WskRelease. */
    BOOLEAN events;
    PFN_WSK_RELEASE_DATA_INDICATION_LIST release;
    KSPIN_LOCK ev_lock;
    PWSK_DATA_INDICATION held[16];
    int nheld;
    BOOLEAN ev_closed;
    ULONG64 ev_rng; /* callbacks run one at a time per socket */
    volatile LONG indications, disconnect_events;
    /* Steps of a few events, for failure reports. */
    LONG64 fin_step, close_step, graceful_ok_step;
    /* The last receives taken (rx_lock), for failure reports. */
    struct {
        LONG64 step;
        ULONG len, flags, info, cancel;
        NTSTATUS status;
        ULONG64 offset;
    } rx_ring[16];
    ULONG rx_ring_n;
} st_ep;

typedef struct st_conn {
    st_ep ep[2];
    ULONG id;
    int family;
    LONG64 done_step; /* when both closes were seen complete */
    BOOLEAN failed;
} st_conn;

typedef struct st_listener {
    PWSK_SOCKET sock;
    int family;
    BOOLEAN events;
    USHORT port;
    KSPIN_LOCK lock;
    st_rec *recs;
    volatile LONG accepts_pending, closing;
} st_listener;

/* A UDP socket bound to 127.0.0.1:0 or ::1:0.  Each datagram starts with
 * a header (sender id, sequence number, length) and goes on with a pattern
 * of (sender, sequence): a receiver checks it whole, and that the remote
 * address is the sender's. */
typedef struct st_udp {
    PWSK_SOCKET sock;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d;
    ULONG id;
    int family;
    USHORT port;
    KSPIN_LOCK lock;
    ULONG64 rng;
    st_rec *recs;
    ULONG next_seq;
    volatile LONG sends, recvs, inflight, work_pending, closing, close_done;
    volatile LONG close_on_completion;
} st_udp;

#define ST_MAX_UDP 4
#define ST_DGRAM_HEAD 12

static wt_wsk g_t;
static WP_WORKER g_worker;
static st_listener g_listeners[2];
static st_conn **g_conns;
static size_t g_nconns, g_capconns;
static ULONG g_next_conn;
static ULONG64 g_rng;
static _Thread_local int st_in_issue; /* this thread is inside a call holding an issue lock */

/* Connections waiting for their accepted end, by (family, port). */
static KSPIN_LOCK g_lock;
static struct {
    int used, family;
    USHORT port;
    PWSK_SOCKET accepted;
} g_slots[16];
static PWSK_SOCKET g_orphans[64];
static int g_norphans;

/* Status tally for OPENWSK_STRESS_VERBOSE. */
static volatile LONG g_tally[SK_N][9];
static const NTSTATUS g_tally_status[9] = {STATUS_SUCCESS, STATUS_CANCELLED, STATUS_CONNECTION_RESET,
                                           STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_DISCONNECTED,
                                           STATUS_INVALID_CONNECTION, STATUS_PIPE_DISCONNECTED, STATUS_BUFFER_OVERFLOW, 0};

static st_rec *st_rec_new(st_kind kind, PIRP irp)
{
    st_rec *r = calloc(1, sizeof(*r));
    r->kind = kind;
    r->irp = irp;
    r->step = __atomic_load_n(&g_step, __ATOMIC_RELAXED);
    return r;
}

static void st_issued(st_rec *r, NTSTATUS returned)
{
    r->returned = returned;
    InterlockedExchange(&r->issued, 1);
}

/* The completion routine is done with the IRP. */
static void st_irp_release(st_rec *r)
{
    for (;;) {
        LONG prev = InterlockedCompareExchange(&r->cancel_state, CS_FREED, CS_PENDING);
        if (prev == CS_PENDING) {
            IoFreeIrp(r->irp);
            return;
        }
        if (prev == CS_CANCELLING &&
            InterlockedCompareExchange(&r->cancel_state, CS_DEFERRED, CS_CANCELLING) == CS_CANCELLING)
            return; /* the canceller frees it */
        if (prev != CS_CANCELLING) {
            ST_FAIL("%s IRP released twice (state %d)", st_kind_name[r->kind], (int)prev);
            return;
        }
    }
}

/* IoCancelIrp on r's IRP if it is still pending; safe against the
 * completion routine freeing it meanwhile. */
static void st_cancel(st_rec *r)
{
    if (InterlockedCompareExchange(&r->cancel_state, CS_CANCELLING, CS_PENDING) != CS_PENDING)
        return;
    InterlockedExchange(&r->cancel_requested, 1);
    IoCancelIrp(r->irp);
    if (InterlockedCompareExchange(&r->cancel_state, CS_PENDING, CS_CANCELLING) == CS_DEFERRED) {
        InterlockedExchange(&r->cancel_state, CS_FREED);
        IoFreeIrp(r->irp);
    }
}

/* ---- the status oracle ---- */

static BOOLEAN st_conn_error(NTSTATUS s)
{
    return s == STATUS_CONNECTION_RESET || s == STATUS_CONNECTION_ABORTED || s == STATUS_CONNECTION_DISCONNECTED ||
           s == STATUS_INVALID_CONNECTION || s == STATUS_PIPE_DISCONNECTED;
}

/* Called in the completion routine: everything that could explain a
 * failure was flagged before the call that causes it was made. */
static BOOLEAN st_status_allowed(st_rec *r, const char **why)
{
    NTSTATUS s = r->status;
    st_ep *ep = r->ep;
    BOOLEAN cancel = ld(&r->cancel_requested) || (ep != NULL && ld(&ep->closing)) ||
                     (r->l != NULL && ld(&r->l->closing));
    /* The connection may be gone: one end aborted, or the peer closed
     * (a close without a completed graceful disconnect resets). */
    BOOLEAN broken = ep != NULL && (ld(&ep->abort_issued) || ld(&ep->peer->abort_issued) || ld(&ep->peer->closing) ||
                                    ld(&ep->closing));
    *why = "";
    if (r->kind != SK_ACCEPT && r->kind != SK_CONNECT && r->info > r->len) {
        *why = "Information larger than the buffer";
        return FALSE;
    }
    if (s == STATUS_CANCELLED && !cancel) {
        *why = "cancelled, but nobody cancelled it and its socket is not closing";
        return FALSE;
    }
    switch (r->kind) {
    case SK_SEND:
        if (s == STATUS_SUCCESS && r->info != r->len)
            *why = "a successful send must report its whole length";
        else if (s != STATUS_SUCCESS && s != STATUS_CANCELLED && !(broken && st_conn_error(s)))
            *why = "a send fails only on a cancel, a close or a broken connection";
        break;
    case SK_PROBE_SEND:
        if (s != STATUS_PIPE_DISCONNECTED && s != STATUS_CANCELLED && !(broken && st_conn_error(s)))
            *why = "a send after a completed graceful disconnect must fail with STATUS_PIPE_DISCONNECTED";
        else if (r->info != 0)
            *why = "a refused send moved bytes";
        break;
    case SK_RECV:
        if (s == STATUS_SUCCESS) {
            BOOLEAN fin_possible = ld(&ep->peer->graceful_issued) || ld(&ep->peer->graceful_ok) || broken;
            if (r->info == 0 && r->len > 0 && !fin_possible)
                *why = "a receive ended with 0 bytes (FIN) but the peer never disconnected";
            else if ((r->flags & WSK_FLAG_WAITALL) && r->info < r->len && !fin_possible && !cancel)
                *why = "a WSK_FLAG_WAITALL receive succeeded short of its length";
        } else if (s != STATUS_CANCELLED && !(broken && st_conn_error(s))) {
            *why = "a receive fails only on a cancel, a close or a broken connection";
        }
        break;
    case SK_DISC:
        if (s != STATUS_SUCCESS && s != STATUS_CANCELLED && !(broken && st_conn_error(s)))
            *why = "a graceful disconnect fails only on a cancel, a close or a broken connection";
        break;
    case SK_ABORT:
        if (s != STATUS_SUCCESS && !st_conn_error(s))
            *why = "an abortive disconnect succeeds or finds the connection gone";
        break;
    case SK_CLOSE:
        if (s != STATUS_SUCCESS)
            *why = "WskCloseSocket always succeeds";
        break;
    case SK_ACCEPT:
        if (s != STATUS_SUCCESS && s != STATUS_CANCELLED)
            *why = "an accept ends with a socket or cancelled";
        break;
    case SK_CONNECT:
        if (s != STATUS_SUCCESS)
            *why = "a loopback connect to a listener succeeds";
        break;
    default: break;
    }
    return **why == '\0';
}

/* ---- issuing (any thread, PASSIVE or DISPATCH; never nested) ---- */

enum { ACT_RECV, ACT_SEND, ACT_CLOSE, ACT_URECV, ACT_UCLOSE, ACT_RELEASE };
typedef struct st_work {
    WP_WORK work;
    st_ep *ep;
    struct st_udp *u;
    int action;
    ULONG len, flags;
} st_work;

static IO_COMPLETION_ROUTINE st_done;

static void st_link(st_ep *ep, st_rec *r)
{
    r->ep = ep;
    r->next = ep->recs;
    ep->recs = r;
    r->dice = st_next(&ep->rng);
    IoSetCompletionRoutine(r->irp, st_done, r, TRUE, TRUE, TRUE);
}

static BOOLEAN st_send(st_ep *ep, ULONG len, BOOLEAN probe)
{
    PUCHAR buf = ExAllocatePool2(POOL_FLAG_NON_PAGED, len, ST_TAG);
    PMDL mdl = wp_mdl(buf, len);
    st_rec *r = st_rec_new(probe ? SK_PROBE_SEND : SK_SEND, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&ep->lock, &irql);
    BOOLEAN ok = !ld(&ep->closing) && ld(&ep->sends) < ST_MAX_SENDS &&
                 (probe ? ld(&ep->graceful_ok) != 0 : ld(&ep->graceful_issued) == 0);
    if (!ok) {
        KeReleaseSpinLock(&ep->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        IoFreeMdl(mdl);
        ExFreePoolWithTag(buf, ST_TAG);
        return FALSE;
    }
    r->offset = ep->tx_offset;
    if (!probe)
        ep->tx_offset += len;
    wp_fill(buf, len, r->offset, ep->tx_stream);
    r->buf = buf;
    r->mdl = mdl;
    r->len = len;
    r->wbuf.Mdl = mdl;
    r->wbuf.Offset = 0;
    r->wbuf.Length = len;
    st_link(ep, r);
    InterlockedIncrement(&ep->sends);
    InterlockedIncrement(&ep->inflight);
    st_in_issue++;
    NTSTATUS ret = ep->send(ep->sock, &r->wbuf, 0, r->irp);
    st_in_issue--;
    KeReleaseSpinLock(&ep->lock, irql);
    st_issued(r, ret);
    return TRUE;
}

static BOOLEAN st_recv(st_ep *ep, ULONG len, ULONG flags)
{
    PUCHAR buf = len > 0 ? ExAllocatePool2(POOL_FLAG_NON_PAGED, len, ST_TAG) : NULL;
    PMDL mdl = len > 0 ? wp_mdl(buf, len) : NULL;
    st_rec *r = st_rec_new(SK_RECV, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&ep->lock, &irql);
    if (ld(&ep->closing) || ld(&ep->recvs) >= ST_MAX_RECVS) {
        KeReleaseSpinLock(&ep->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        if (mdl != NULL)
            IoFreeMdl(mdl);
        if (buf != NULL)
            ExFreePoolWithTag(buf, ST_TAG);
        return FALSE;
    }
    r->buf = buf;
    r->mdl = mdl;
    r->len = len;
    r->flags = len > 0 ? flags : 0;
    r->wbuf.Mdl = mdl;
    r->wbuf.Offset = 0;
    r->wbuf.Length = len;
    st_link(ep, r);
    KIRQL rx_irql;
    KeAcquireSpinLock(&ep->rx_lock, &rx_irql);
    if (ep->rx_tail != NULL)
        ep->rx_tail->rx_next = r;
    else
        ep->rx_head = r;
    ep->rx_tail = r;
    KeReleaseSpinLock(&ep->rx_lock, rx_irql);
    InterlockedIncrement(&ep->recvs);
    InterlockedIncrement(&ep->inflight);
    st_in_issue++;
    NTSTATUS ret = ep->receive(ep->sock, &r->wbuf, flags, r->irp);
    st_in_issue--;
    KeReleaseSpinLock(&ep->lock, irql);
    st_issued(r, ret);
    return TRUE;
}

/* Graceful (with an optional final buffer, part of the stream) or abortive. */
static BOOLEAN st_disconnect(st_ep *ep, BOOLEAN abortive, ULONG len)
{
    PUCHAR buf = len > 0 ? ExAllocatePool2(POOL_FLAG_NON_PAGED, len, ST_TAG) : NULL;
    PMDL mdl = len > 0 ? wp_mdl(buf, len) : NULL;
    st_rec *r = st_rec_new(abortive ? SK_ABORT : SK_DISC, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&ep->lock, &irql);
    if (ld(&ep->closing) || ld(&ep->abort_issued) || (!abortive && ld(&ep->graceful_issued))) {
        KeReleaseSpinLock(&ep->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        if (mdl != NULL)
            IoFreeMdl(mdl);
        if (buf != NULL)
            ExFreePoolWithTag(buf, ST_TAG);
        return FALSE;
    }
    if (abortive) {
        InterlockedExchange(&ep->abort_issued, 1);
    } else {
        InterlockedExchange(&ep->graceful_issued, 1);
        InterlockedIncrement(&ep->graceful_pending);
    }
    if (len > 0) {
        r->offset = ep->tx_offset;
        ep->tx_offset += len;
        wp_fill(buf, len, r->offset, ep->tx_stream);
        r->buf = buf;
        r->mdl = mdl;
        r->len = len;
        r->wbuf.Mdl = mdl;
        r->wbuf.Length = len;
    }
    st_link(ep, r);
    InterlockedIncrement(&ep->inflight);
    st_in_issue++;
    NTSTATUS ret = ep->disconnect(ep->sock, len > 0 ? &r->wbuf : NULL, abortive ? WSK_FLAG_ABORTIVE : 0, r->irp);
    st_in_issue--;
    KeReleaseSpinLock(&ep->lock, irql);
    st_issued(r, ret);
    return TRUE;
}

static BOOLEAN st_close(st_ep *ep)
{
    st_rec *r = st_rec_new(SK_CLOSE, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&ep->lock, &irql);
    if (ld(&ep->closing)) {
        KeReleaseSpinLock(&ep->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        return FALSE;
    }
    ep->close_step = __atomic_load_n(&g_step, __ATOMIC_RELAXED);
    InterlockedExchange(&ep->closing, 1); /* from now on nothing is issued on it */
    st_link(ep, r);
    if (ep->events) {
        /* Kept indications go back before the close (PFN_WSK_RELEASE_DATA_INDICATION_LIST). */
        PWSK_DATA_INDICATION held[16];
        int n;
        KIRQL ev_irql;
        KeAcquireSpinLock(&ep->ev_lock, &ev_irql);
        ep->ev_closed = TRUE;
        n = ep->nheld;
        memcpy(held, ep->held, sizeof(held));
        ep->nheld = 0;
        KeReleaseSpinLock(&ep->ev_lock, ev_irql);
        for (int i = 0; i < n; i++) {
            NTSTATUS st = ep->release(ep->sock, held[i]);
            if (st != STATUS_SUCCESS)
                ST_FAIL("WskRelease before the close of connection %u side %d: 0x%x", ep->conn->id, ep->side,
                        (unsigned)st);
        }
    }
    KeReleaseSpinLock(&ep->lock, irql);
    st_in_issue++;
    NTSTATUS ret = ep->d->WskCloseSocket(ep->sock, r->irp);
    st_in_issue--;
    st_issued(r, ret);
    return TRUE;
}

static BOOLEAN st_urecv(st_udp *u, ULONG len);
static BOOLEAN st_uclose(st_udp *u);

/* WskRelease of the oldest kept indication (worker thread). */
static void st_release_one(st_ep *ep)
{
    KIRQL irql, ev_irql;
    KeAcquireSpinLock(&ep->lock, &irql);
    PWSK_DATA_INDICATION di = NULL;
    KeAcquireSpinLock(&ep->ev_lock, &ev_irql);
    if (!ld(&ep->closing) && ep->nheld > 0) {
        di = ep->held[0];
        memmove(ep->held, ep->held + 1, (size_t)(ep->nheld - 1) * sizeof(ep->held[0]));
        ep->nheld--;
    }
    KeReleaseSpinLock(&ep->ev_lock, ev_irql);
    if (di != NULL) {
        st_in_issue++;
        NTSTATUS st = ep->release(ep->sock, di);
        st_in_issue--;
        if (st != STATUS_SUCCESS)
            ST_FAIL("WskRelease on connection %u side %d: 0x%x", ep->conn->id, ep->side, (unsigned)st);
    }
    KeReleaseSpinLock(&ep->lock, irql);
}

static VOID st_work_routine(WP_WORK *work)
{
    st_work *w = CONTAINING_RECORD(work, st_work, work);
    st_ep *ep = w->ep;
    if (w->u != NULL) {
        st_udp *u = w->u;
        if (w->action == ACT_URECV)
            (void)st_urecv(u, w->len);
        else
            (void)st_uclose(u);
        ExFreePoolWithTag(w, ST_TAG);
        InterlockedDecrement(&u->work_pending);
        return;
    }
    switch (w->action) {
    case ACT_RELEASE: st_release_one(ep); break;
    case ACT_RECV: (void)st_recv(ep, w->len, w->flags); break;
    case ACT_SEND: (void)st_send(ep, w->len, FALSE); break;
    case ACT_CLOSE: (void)st_close(ep); break;
    default: break;
    }
    ExFreePoolWithTag(w, ST_TAG);
    InterlockedDecrement(&ep->work_pending);
}

/* What a completion routine does next: inline when it may (not inside
 * another call, and the dice say so), else on the worker thread. */
static void st_act(st_ep *ep, int action, ULONG len, ULONG flags, BOOLEAN inline_ok)
{
    if (inline_ok && st_in_issue == 0 && action != ACT_RELEASE) {
        switch (action) {
        case ACT_RECV: (void)st_recv(ep, len, flags); break;
        case ACT_SEND: (void)st_send(ep, len, FALSE); break;
        default: (void)st_close(ep); break;
        }
        return;
    }
    st_work *w = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*w), ST_TAG);
    w->ep = ep;
    w->u = NULL;
    w->action = action;
    w->len = len;
    w->flags = flags;
    InterlockedIncrement(&ep->work_pending);
    wp_worker_queue(&g_worker, &w->work, st_work_routine);
}

/* ---- completion ---- */

/* Receives are taken in the order they were issued: each byte is checked
 * against the peer's stream at the receiver's offset. */
/* n bytes at p are the next of the peer's stream (rx_lock held). */
static void st_rx_bytes(st_ep *ep, const UCHAR *p, SIZE_T n)
{
    if (n > 0 && ld(&ep->rx_fin))
        InterlockedExchange(&ep->rx_after_fin, 1);
    for (SIZE_T i = 0; i < n && ep->rx_bad_at < 0; i++) {
        UCHAR want = wp_byte(ep->rx_offset + i, ep->peer->tx_stream);
        if (p[i] != want) {
            ep->rx_bad_at = (LONG64)(ep->rx_offset + i);
            ep->rx_bad_step = __atomic_load_n(&g_step, __ATOMIC_RELAXED);
            ep->rx_bad_got = p[i];
            ep->rx_bad_want = want;
        }
    }
    ep->rx_offset += n;
}

static void st_rx_note(st_ep *ep, LONG64 step, ULONG len, ULONG flags, NTSTATUS status, ULONG info, ULONG cancel)
{
    ULONG i = ep->rx_ring_n++ % 16;
    ep->rx_ring[i].step = step;
    ep->rx_ring[i].len = len;
    ep->rx_ring[i].flags = flags;
    ep->rx_ring[i].status = status;
    ep->rx_ring[i].info = info;
    ep->rx_ring[i].cancel = cancel;
    ep->rx_ring[i].offset = ep->rx_offset;
}

static void st_rx_dump(st_ep *ep)
{
    if (ld(&g_failures) > 25)
        return;
    ULONG n = ep->rx_ring_n < 16 ? ep->rx_ring_n : 16;
    for (ULONG k = ep->rx_ring_n - n; k < ep->rx_ring_n; k++) {
        ULONG i = k % 16;
        fprintf(stderr, "    receive #%u (issued at step %lld, %s): len %u flags 0x%x -> 0x%x, %u bytes at offset %llu%s\n",
                k, (long long)ep->rx_ring[i].step, ep->rx_ring[i].flags == 0xFFFFFFFF ? "indication" : "IRP",
                ep->rx_ring[i].len, ep->rx_ring[i].flags, (unsigned)ep->rx_ring[i].status, ep->rx_ring[i].info,
                (unsigned long long)ep->rx_ring[i].offset, ep->rx_ring[i].cancel ? ", cancel requested" : "");
    }
}

/* The FIN, seen by a receive's completion (main thread) or by
 * WskDisconnectEvent (an engine thread), whichever comes first: one
 * writer for the step and the peer's state recorded with it. */
static void st_note_fin(st_ep *ep, LONG64 step)
{
    if (InterlockedCompareExchange(&ep->rx_fin_claimed, 1, 0) != 0)
        return;
    __atomic_store_n(&ep->fin_step, step, __ATOMIC_RELAXED);
    __atomic_store_n(&ep->fin_peer_closing, ld(&ep->peer->closing), __ATOMIC_RELAXED);
    InterlockedExchange(&ep->rx_fin, 1);
}

static void st_rx_take(st_ep *ep, st_rec *r)
{
    ULONG n = r->info <= r->len ? (ULONG)r->info : r->len;
    st_rx_note(ep, r->step, r->len, r->flags, r->status, (ULONG)r->info, (ULONG)ld(&r->cancel_requested));
    st_rx_bytes(ep, r->buf, n);
    if (r->status != STATUS_SUCCESS && r->status != STATUS_CANCELLED)
        InterlockedExchange(&ep->rx_error_seen, 1);
    if (r->status == STATUS_SUCCESS && r->info == 0 && r->len > 0) {
        /* The FIN, unless the connection failed or was aborted here first:
         * then the provider passes on what Linux says afterwards (end of
         * file), counted for the report (known deviations, README). */
        if (ld(&ep->rx_error_seen))
            InterlockedIncrement(&g_zero_after_error);
        else if (ld(&ep->abort_issued))
            InterlockedIncrement(&g_zero_after_abort);
        else
            st_note_fin(ep, __atomic_load_n(&g_step, __ATOMIC_RELAXED));
    }
    if ((r->status == STATUS_SUCCESS && r->info == 0 && r->len > 0) ||
        (r->status != STATUS_SUCCESS && r->status != STATUS_CANCELLED))
        InterlockedExchange(&ep->rx_end, 1);
    if (r->mdl != NULL)
        IoFreeMdl(r->mdl);
    if (r->buf != NULL)
        ExFreePoolWithTag(r->buf, ST_TAG);
    r->mdl = NULL;
    r->buf = NULL;
}

static void st_rx_done(st_ep *ep, st_rec *r)
{
    KIRQL irql;
    KeAcquireSpinLock(&ep->rx_lock, &irql);
    InterlockedExchange(&r->rx_done, 1);
    while (ep->rx_head != NULL && ld(&ep->rx_head->rx_done)) {
        st_rec *head = ep->rx_head;
        ep->rx_head = head->rx_next;
        if (ep->rx_head == NULL)
            ep->rx_tail = NULL;
        st_rx_take(ep, head);
    }
    KeReleaseSpinLock(&ep->rx_lock, irql);
}

static void st_taint(st_ep *ep, ULONG64 offset)
{
    LONG64 cur = __atomic_load_n(&ep->tx_taint, __ATOMIC_RELAXED);
    while ((LONG64)offset < cur &&
           !__atomic_compare_exchange_n(&ep->tx_taint, &cur, (LONG64)offset, FALSE, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
}

static void st_deliver_accepted(int family, USHORT port, PWSK_SOCKET s);

static NTSTATUS st_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    st_rec *r = context;
    st_ep *ep = r->ep;
    (void)device;
    r->status = irp->IoStatus.Status;
    r->info = irp->IoStatus.Information;
    r->pending_returned = irp->PendingReturned;
    LONG n = InterlockedIncrement(&r->completions);
    if (n != 1)
        ST_FAIL("%s IRP of step %lld completed %d times", st_kind_name[r->kind], (long long)r->step, (int)n);
    if (ep != NULL && r->kind != SK_CLOSE && ld(&ep->close_done))
        ST_FAIL("%s IRP of step %lld (connection %u side %d) completed after its socket's close completed",
                st_kind_name[r->kind], (long long)r->step, ep->conn->id, ep->side);
    const char *why;
    if (!st_status_allowed(r, &why))
        ST_FAIL("%s of step %lld (connection %u side %d, len %u, flags 0x%x): status 0x%x %s, Information %zu: %s",
                st_kind_name[r->kind], (long long)r->step, ep != NULL ? ep->conn->id : 0u, ep != NULL ? ep->side : -1,
                r->len, r->flags, (unsigned)r->status, wp_status_name(r->status), (size_t)r->info, why);
    for (int i = 0; i < 9; i++) {
        if (g_tally_status[i] == r->status || i == 8) {
            InterlockedIncrement(&g_tally[r->kind][i]);
            break;
        }
    }
    st_kind kind = r->kind;
    switch (kind) {
    case SK_SEND:
    case SK_PROBE_SEND:
        if (kind == SK_SEND && (r->status != STATUS_SUCCESS || r->info != r->len))
            st_taint(ep, r->offset);
        IoFreeMdl(r->mdl);
        ExFreePoolWithTag(r->buf, ST_TAG);
        r->mdl = NULL;
        r->buf = NULL;
        InterlockedDecrement(&ep->sends);
        break;
    case SK_RECV:
        st_rx_done(ep, r);
        InterlockedDecrement(&ep->recvs);
        break;
    case SK_DISC:
        if (r->len > 0 && (r->status != STATUS_SUCCESS || r->info != r->len))
            st_taint(ep, r->offset);
        if (r->mdl != NULL) {
            IoFreeMdl(r->mdl);
            ExFreePoolWithTag(r->buf, ST_TAG);
            r->mdl = NULL;
            r->buf = NULL;
        }
        if (r->status == STATUS_SUCCESS) {
            ep->graceful_ok_step = __atomic_load_n(&g_step, __ATOMIC_RELAXED);
            InterlockedExchange(&ep->graceful_ok, 1);
        }
        else if (!ld(&ep->graceful_ok))
            InterlockedExchange(&ep->graceful_issued, 0); /* no FIN was sent: sends work again (rule 4) */
        InterlockedDecrement(&ep->graceful_pending);
        break;
    case SK_ACCEPT:
        if (r->status == STATUS_SUCCESS) {
            st_deliver_accepted(r->l->family, RtlUshortByteSwap(((PSOCKADDR_IN)&r->remote)->sin_port),
                                (PWSK_SOCKET)r->info);
        }
        InterlockedDecrement(&r->l->accepts_pending);
        break;
    default: break;
    }
    st_irp_release(r);
    if (kind == SK_CLOSE) {
        LONG left = ld(&ep->inflight);
        if (left != 0)
            ST_FAIL("the close of connection %u side %d completed with %d of its IRPs not yet completed",
                    ep->conn->id, ep->side, (int)left);
        InterlockedExchange(&ep->close_done, 1); /* last touch of ep */
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    if (ep == NULL)
        return STATUS_MORE_PROCESSING_REQUIRED;
    /* What a driver does next. */
    ULONG64 dice = r->dice;
    BOOLEAN inline_ok = (dice >> 40) & 1;
    if (InterlockedCompareExchange(&ep->close_on_completion, 2, 1) == 1)
        st_act(ep, ACT_CLOSE, 0, 0, inline_ok);
    if (kind == SK_RECV) {
        BOOLEAN more;
        if (ld(&ep->drain))
            more = !(r->status == STATUS_SUCCESS && r->info == 0 && r->len > 0) &&
                   (r->status == STATUS_SUCCESS || r->status == STATUS_CANCELLED);
        else
            more = r->status == STATUS_SUCCESS && r->info > 0 && (dice & 3) == 0;
        if (more)
            st_act(ep, ACT_RECV, ld(&ep->drain) ? 65536 : st_len(dice >> 2),
                   !ld(&ep->drain) && ((dice >> 20) & 3) == 0 ? WSK_FLAG_WAITALL : 0, inline_ok);
    } else if (kind == SK_SEND && r->status == STATUS_SUCCESS && (dice % 5) == 0 && !ld(&g_final)) {
        st_act(ep, ACT_SEND, st_len(dice >> 3), 0, inline_ok);
    }
    InterlockedDecrement(&ep->inflight);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* ---- receive and disconnect events ---- */

/* DISPATCH_LEVEL, one at a time per socket, perhaps on a thread that is
 * inside a call holding ep->lock: takes ev_lock and rx_lock only.  Every
 * receive issued earlier has completed by now (the provider serves queued
 * receives first), so the bytes taken here are the next of the stream. */
static NTSTATUS WSKAPI st_receive_event(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                        SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    st_ep *ep = SocketContext;
    (void)Flags;
    InterlockedIncrement(&ep->indications);
    if (ld(&ep->close_done))
        ST_FAIL("WskReceiveEvent on connection %u side %d after its close completed", ep->conn->id, ep->side);
    if (DataIndication == NULL)
        return STATUS_SUCCESS;
    SIZE_T listed = 0;
    for (PWSK_DATA_INDICATION d = DataIndication; d != NULL; d = d->Next)
        listed += d->Buffer.Length;
    if (listed != BytesIndicated)
        ST_FAIL("WskReceiveEvent: BytesIndicated %zu, but the list holds %zu bytes", (size_t)BytesIndicated,
                (size_t)listed);
    ULONG64 dice = st_next(&ep->ev_rng);
    ULONG how = (ULONG)(dice % 20);
    SIZE_T take = BytesIndicated;
    NTSTATUS ret = STATUS_SUCCESS;
    KIRQL irql;
    if (how < 3) {
        KeAcquireSpinLock(&ep->ev_lock, &irql);
        if (!ep->ev_closed && ep->nheld < 16) {
            ep->held[ep->nheld++] = DataIndication;
            ret = STATUS_PENDING; /* kept: WskRelease from the worker */
        }
        KeReleaseSpinLock(&ep->ev_lock, irql);
    } else if (how < 5) {
        take = 0;
        ret = STATUS_DATA_NOT_ACCEPTED;
    } else if (how < 7 && BytesIndicated > 1) {
        take = 1 + (SIZE_T)((dice >> 8) % (BytesIndicated - 1));
    }
    KeAcquireSpinLock(&ep->rx_lock, &irql);
    st_rx_note(ep, __atomic_load_n(&g_step, __ATOMIC_RELAXED), (ULONG)BytesIndicated, 0xFFFFFFFF, ret, (ULONG)take, 0);
    SIZE_T left = take;
    for (PWSK_DATA_INDICATION d = DataIndication; d != NULL && left > 0; d = d->Next) {
        SIZE_T n = d->Buffer.Length < left ? d->Buffer.Length : left;
        PUCHAR p = MmGetSystemAddressForMdlSafe(d->Buffer.Mdl, NormalPagePriority);
        if (p == NULL) {
            ST_FAIL("WskReceiveEvent: an indication's MDL has no system address");
            break;
        }
        st_rx_bytes(ep, p + d->Buffer.Offset, n);
        left -= n;
    }
    KeReleaseSpinLock(&ep->rx_lock, irql);
    if (ret == STATUS_PENDING) {
        st_act(ep, ACT_RELEASE, 0, 0, FALSE);
    } else if (take < BytesIndicated) {
        /* The rest waits until a WskReceive completes: issue one (empty or not). */
        if (ret == STATUS_SUCCESS)
            *BytesAccepted = take;
        st_act(ep, ACT_RECV, (dice >> 32) % 2 ? 0 : st_len(dice >> 34), 0, FALSE);
    }
    return ret;
}

static NTSTATUS WSKAPI st_disconnect_event(PVOID SocketContext, ULONG Flags)
{
    st_ep *ep = SocketContext;
    InterlockedIncrement(&ep->disconnect_events);
    if (ld(&ep->close_done))
        ST_FAIL("WskDisconnectEvent on connection %u side %d after its close completed", ep->conn->id, ep->side);
    if (ld(&ep->disconnect_events) != 1)
        ST_FAIL("WskDisconnectEvent on connection %u side %d came %d times", ep->conn->id, ep->side,
                (int)ld(&ep->disconnect_events));
    BOOLEAN broken = ld(&ep->abort_issued) || ld(&ep->peer->abort_issued) || ld(&ep->peer->closing);
    if (!(Flags & WSK_FLAG_ABORTIVE)) {
        if (!ld(&ep->peer->graceful_issued) && !ld(&ep->peer->graceful_ok) && !broken)
            ST_FAIL("WskDisconnectEvent (graceful) on connection %u side %d, but the peer never disconnected",
                    ep->conn->id, ep->side);
        if (!ld(&ep->rx_error_seen) && !ld(&ep->abort_issued))
            st_note_fin(ep, -__atomic_load_n(&g_step, __ATOMIC_RELAXED)); /* negative: from the event */
    } else if (InterlockedExchange(&ep->rx_error_seen, 1), !broken) {
        ST_FAIL("WskDisconnectEvent (abortive) on connection %u side %d, but nobody aborted or closed", ep->conn->id,
                ep->side);
    }
    InterlockedExchange(&ep->rx_end, 1);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH st_conn_dispatch = {st_receive_event, st_disconnect_event, NULL};

/* ---- listeners and connections (set-up is synchronous, on the main thread) ---- */

static void st_deliver_accepted(int family, USHORT port, PWSK_SOCKET s)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_lock, &irql);
    for (int i = 0; i < 16; i++) {
        if (g_slots[i].used && g_slots[i].family == family && g_slots[i].port == port && g_slots[i].accepted == NULL) {
            g_slots[i].accepted = s;
            KeReleaseSpinLock(&g_lock, irql);
            return;
        }
    }
    if (g_norphans < 64)
        g_orphans[g_norphans++] = s;
    KeReleaseSpinLock(&g_lock, irql);
    ST_FAIL("an accepted connection from port %u (family %d) nobody connected", port, family);
}

static NTSTATUS WSKAPI st_accept_event(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                       PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                       const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    st_listener *l = SocketContext;
    (void)Flags;
    (void)LocalAddress;
    if (AcceptSocket == NULL) {
        ST_FAIL("the listener (family %d) was told it no longer works", l->family);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    st_deliver_accepted(l->family, RtlUshortByteSwap(((PSOCKADDR_IN)RemoteAddress)->sin_port), AcceptSocket);
    *AcceptSocketContext = NULL;
    *AcceptSocketDispatch = NULL;
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH st_listen_dispatch = {st_accept_event, NULL, NULL};

/* Known (README): a bind to port 0 can fail with STATUS_ADDRESS_ALREADY_EXISTS
 * when another process takes the port the provider picked (Linux's
 * ephemeral range overlaps Windows' dynamic range); Windows would pick
 * another.  Counted, and the bind retried. */
static volatile LONG g_bind_collisions, g_bind_gave_up;

static BOOLEAN st_bind_collision(NTSTATUS st)
{
    if (st != STATUS_ADDRESS_ALREADY_EXISTS)
        return FALSE;
    InterlockedIncrement(&g_bind_collisions);
    return TRUE;
}

static void st_loopback(int family, USHORT port, SOCKADDR_IN6 *a)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        SOCKADDR_IN v4 = wt_in4("127.0.0.1", port);
        memcpy(a, &v4, sizeof(v4));
    } else {
        *a = wt_in6("::1", port);
    }
}

static void st_close_sync(PWSK_SOCKET s, const char *what);

static BOOLEAN st_listen(st_listener *l, int family, BOOLEAN events)
{
    wt_irp w = {0};
    memset(l, 0, sizeof(*l));
    l->family = family;
    l->events = events;
    KeInitializeSpinLock(&l->lock);
    NTSTATUS r = g_t.provider.Dispatch->WskSocket(g_t.provider.Client, (ADDRESS_FAMILY)family, SOCK_STREAM, IPPROTO_TCP,
                                                  WSK_FLAG_LISTEN_SOCKET, l, &st_listen_dispatch, NULL, NULL, NULL,
                                                  wt_irp_arm(&w));
    NTSTATUS st = wt_irp_result(&w, r);
    if (!NT_SUCCESS(st)) {
        ST_FAIL("WskSocket (listener): 0x%x", (unsigned)st);
        wt_irp_free(&w);
        return FALSE;
    }
    l->sock = (PWSK_SOCKET)w.irp->IoStatus.Information;
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->sock->Dispatch;
    SOCKADDR_IN6 a;
    st_loopback(family, 0, &a);
    for (int attempt = 0;; attempt++) {
        r = d->WskBind(l->sock, (PSOCKADDR)&a, 0, wt_irp_arm(&w));
        st = wt_irp_result(&w, r);
        if (!st_bind_collision(st) || attempt == 3)
            break;
    }
    if (NT_SUCCESS(st)) {
        r = d->WskGetLocalAddress(l->sock, (PSOCKADDR)&a, wt_irp_arm(&w));
        st = wt_irp_result(&w, r);
        l->port = RtlUshortByteSwap(((PSOCKADDR_IN)&a)->sin_port);
    }
    if (NT_SUCCESS(st) && events)
        st = wp_events(l->sock, WSK_EVENT_ACCEPT);
    wt_irp_free(&w);
    if (!NT_SUCCESS(st)) {
        st_close_sync(l->sock, "a listener that could not be set up");
        l->sock = NULL;
        /* Port collisions (st_bind_collision): the caller tries a new socket. */
        if (st != STATUS_ADDRESS_ALREADY_EXISTS)
            ST_FAIL("listener set-up (family %d, events %d): 0x%x", family, events, (unsigned)st);
    }
    return NT_SUCCESS(st);
}

static BOOLEAN st_listen_retrying(st_listener *l, int family, BOOLEAN events)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        if (st_listen(l, family, events))
            return TRUE;
        if (l->sock != NULL || ld(&g_failures) != 0)
            return FALSE;
    }
    ST_FAIL("listener set-up (family %d): eight sockets could not bind a port", family);
    return FALSE;
}

static BOOLEAN st_accept(st_listener *l)
{
    st_rec *r = st_rec_new(SK_ACCEPT, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&l->lock, &irql);
    r->l = l;
    r->next = l->recs;
    l->recs = r;
    KeReleaseSpinLock(&l->lock, irql);
    IoSetCompletionRoutine(r->irp, st_done, r, TRUE, TRUE, TRUE);
    InterlockedIncrement(&l->accepts_pending);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->sock->Dispatch;
    NTSTATUS ret = d->WskAccept(l->sock, 0, NULL, NULL, NULL, (PSOCKADDR)&r->remote, r->irp);
    st_issued(r, ret);
    return TRUE;
}

static BOOLEAN st_wait_flag(volatile LONG *flag, int ms)
{
    return wp_spin_until(flag, ms);
}

static void st_ep_init(st_conn *c, int side, ULONG64 seed)
{
    st_ep *ep = &c->ep[side];
    ep->conn = c;
    ep->peer = &c->ep[1 - side];
    ep->side = side;
    ep->tx_stream = c->id * 2 + (ULONG)side;
    KeInitializeSpinLock(&ep->lock);
    KeInitializeSpinLock(&ep->rx_lock);
    KeInitializeSpinLock(&ep->ev_lock);
    ep->rng = seed;
    ep->ev_rng = seed ^ 0x5DEECE66Dull;
    ep->tx_taint = LLONG_MAX;
    ep->rx_bad_at = -1;
}

static void st_ep_dispatch(st_ep *ep, PWSK_SOCKET s, BOOLEAN stream)
{
    ep->d = s->Dispatch;
    ep->stream = stream;
    if (stream) {
        const WSK_PROVIDER_STREAM_DISPATCH *d = s->Dispatch;
        ep->send = d->WskSend;
        ep->receive = d->WskReceive;
        ep->disconnect = d->WskDisconnect;
    } else {
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        ep->send = d->WskSend;
        ep->receive = d->WskReceive;
        ep->disconnect = d->WskDisconnect;
    }
}

/* A new connection: a WSK socket bound to loopback:0 connects to one of
 * the listeners; its accepted end comes from WskAccept or WskAcceptEvent. */
static st_conn *st_connect(void)
{
    st_conn *c = calloc(1, sizeof(*c));
    c->id = g_next_conn++;
    st_listener *l = &g_listeners[st_below(&g_rng, 2)];
    c->family = l->family;
    st_ep_init(c, 0, st_next(&g_rng));
    st_ep_init(c, 1, st_next(&g_rng));
    if (g_nconns == g_capconns) {
        g_capconns = g_capconns ? g_capconns * 2 : 16;
        g_conns = realloc(g_conns, g_capconns * sizeof(*g_conns));
    }
    g_conns[g_nconns++] = c;

    wt_irp w = {0};
    ULONG kind = st_below(&g_rng, 3);
    BOOLEAN stream = kind == 0;           /* a stream socket that connects, sometimes */
    BOOLEAN events = g_events_on && kind == 1; /* receive and disconnect events, sometimes */
    NTSTATUS r = g_t.provider.Dispatch->WskSocket(g_t.provider.Client, (ADDRESS_FAMILY)c->family, SOCK_STREAM,
                                                  IPPROTO_TCP, stream ? WSK_FLAG_STREAM_SOCKET : WSK_FLAG_CONNECTION_SOCKET,
                                                  &c->ep[0], events ? &st_conn_dispatch : NULL, NULL, NULL, NULL,
                                                  wt_irp_arm(&w));
    NTSTATUS st = wt_irp_result(&w, r);
    if (!NT_SUCCESS(st)) {
        ST_FAIL("WskSocket (connection): 0x%x", (unsigned)st);
        wt_irp_free(&w);
        c->failed = TRUE;
        return c;
    }
    st_ep *a = &c->ep[0], *b = &c->ep[1];
    a->sock = (PWSK_SOCKET)w.irp->IoStatus.Information;
    st_ep_dispatch(a, a->sock, stream);
    PFN_WSK_BIND bind = stream ? ((const WSK_PROVIDER_STREAM_DISPATCH *)a->sock->Dispatch)->WskBind
                               : ((const WSK_PROVIDER_CONNECTION_DISPATCH *)a->sock->Dispatch)->WskBind;
    PFN_WSK_GET_LOCAL_ADDRESS get_local =
        stream ? ((const WSK_PROVIDER_STREAM_DISPATCH *)a->sock->Dispatch)->WskGetLocalAddress
               : ((const WSK_PROVIDER_CONNECTION_DISPATCH *)a->sock->Dispatch)->WskGetLocalAddress;
    PFN_WSK_CONNECT connect_fn = stream ? ((const WSK_PROVIDER_STREAM_DISPATCH *)a->sock->Dispatch)->WskConnect
                                        : ((const WSK_PROVIDER_CONNECTION_DISPATCH *)a->sock->Dispatch)->WskConnect;
    SOCKADDR_IN6 addr;
    for (int attempt = 0;; attempt++) {
        st_loopback(c->family, 0, &addr);
        r = bind(a->sock, (PSOCKADDR)&addr, 0, wt_irp_arm(&w));
        st = wt_irp_result(&w, r);
        if (!st_bind_collision(st) || attempt == 3)
            break;
    }
    if (NT_SUCCESS(st)) {
        r = get_local(a->sock, (PSOCKADDR)&addr, wt_irp_arm(&w));
        st = wt_irp_result(&w, r);
    }
    wt_irp_free(&w);
    if (!NT_SUCCESS(st)) {
        if (st == STATUS_ADDRESS_ALREADY_EXISTS)
            InterlockedIncrement(&g_bind_gave_up); /* known, see st_bind_collision: no connection this time */
        else
            ST_FAIL("connection set-up: bind or local address: 0x%x", (unsigned)st);
        c->failed = TRUE;
        (void)st_close(a);
        return c;
    }
    USHORT port = RtlUshortByteSwap(((PSOCKADDR_IN)&addr)->sin_port);
    int slot = -1;
    KIRQL irql;
    KeAcquireSpinLock(&g_lock, &irql);
    for (int i = 0; i < 16 && slot < 0; i++) {
        if (!g_slots[i].used) {
            slot = i;
            g_slots[i].used = 1;
            g_slots[i].family = c->family;
            g_slots[i].port = port;
            g_slots[i].accepted = NULL;
        }
    }
    KeReleaseSpinLock(&g_lock, irql);
    if (!l->events && ld(&l->accepts_pending) == 0)
        st_accept(l);
    /* The connect, through the same machinery as everything else. */
    st_rec *cr = st_rec_new(SK_CONNECT, IoAllocateIrp(1, FALSE));
    KeAcquireSpinLock(&a->lock, &irql);
    st_link(a, cr);
    InterlockedIncrement(&a->inflight);
    st_loopback(c->family, l->port, &addr);
    st_in_issue++;
    NTSTATUS ret = connect_fn(a->sock, (PSOCKADDR)&addr, 0, cr->irp);
    st_in_issue--;
    KeReleaseSpinLock(&a->lock, irql);
    st_issued(cr, ret);
    BOOLEAN connected = st_wait_flag(&cr->completions, WP_TIMEOUT_MS) && cr->status == STATUS_SUCCESS;
    LONG64 until = wp_now_us() + WP_TIMEOUT_MS * 1000LL;
    PWSK_SOCKET accepted = NULL;
    while (connected && accepted == NULL && wp_now_us() < until) {
        KeAcquireSpinLock(&g_lock, &irql);
        accepted = g_slots[slot].accepted;
        KeReleaseSpinLock(&g_lock, irql);
        if (accepted == NULL) {
            if (!l->events && ld(&l->accepts_pending) == 0)
                st_accept(l); /* ours was cancelled, or taken by another connection */
            wp_sleep_us(200);
        }
    }
    KeAcquireSpinLock(&g_lock, &irql);
    accepted = g_slots[slot].accepted;
    g_slots[slot].used = 0;
    KeReleaseSpinLock(&g_lock, irql);
    if (accepted == NULL) {
        ST_FAIL("connection %u (family %d, port %u): connect 0x%x, and no accepted socket came", c->id, c->family, port,
                (unsigned)cr->status);
        c->failed = TRUE;
        (void)st_close(a);
        return c;
    }
    b->sock = accepted;
    st_ep_dispatch(b, accepted, FALSE);
    if (events) {
        a->events = TRUE;
        a->release = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)a->sock->Dispatch)->WskRelease;
        NTSTATUS e = wp_events(a->sock, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);
        if (e != STATUS_SUCCESS)
            ST_FAIL("connection %u: enabling receive and disconnect events: 0x%x", c->id, (unsigned)e);
    }
    ST_LOG("connection %u: family %d, port %u, %s, %s socket%s", c->id, c->family, port,
           l->events ? "accept event" : "WskAccept", a->stream ? "stream" : "connection",
           events ? " with receive events" : "");
    return c;
}

/* ---- UDP ---- */

static void st_check_records(st_rec *list, const char *owner);

static st_udp *g_udp[ST_MAX_UDP];  /* live (not yet reaped) */
static st_udp *g_udp_dead[64];     /* closing or closed, waiting to be reaped */
static int g_nudp_dead;
static ULONG g_next_udp;

static void st_put16(PUCHAR p, USHORT v) { p[0] = (UCHAR)v; p[1] = (UCHAR)(v >> 8); }
static void st_put32(PUCHAR p, ULONG v) { for (int i = 0; i < 4; i++) p[i] = (UCHAR)(v >> (8 * i)); }
static USHORT st_get16(const UCHAR *p) { return (USHORT)(p[0] | p[1] << 8); }
static ULONG st_get32(const UCHAR *p) { return (ULONG)p[0] | (ULONG)p[1] << 8 | (ULONG)p[2] << 16 | (ULONG)p[3] << 24; }

static IO_COMPLETION_ROUTINE st_udp_done;

static void st_ulink(st_udp *u, st_rec *r)
{
    r->u = u;
    r->next = u->recs;
    u->recs = r;
    r->dice = st_next(&u->rng);
    IoSetCompletionRoutine(r->irp, st_udp_done, r, TRUE, TRUE, TRUE);
}

static st_udp *st_udp_open(void)
{
    st_udp *u = calloc(1, sizeof(*u));
    u->id = g_next_udp++;
    u->family = st_below(&g_rng, 2) ? AF_INET : AF_INET6;
    u->rng = st_next(&g_rng);
    KeInitializeSpinLock(&u->lock);
    wt_irp w = {0};
    NTSTATUS r = g_t.provider.Dispatch->WskSocket(g_t.provider.Client, (ADDRESS_FAMILY)u->family, SOCK_DGRAM,
                                                  IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                                  wt_irp_arm(&w));
    NTSTATUS st = wt_irp_result(&w, r);
    if (NT_SUCCESS(st)) {
        u->sock = (PWSK_SOCKET)w.irp->IoStatus.Information;
        u->d = u->sock->Dispatch;
        SOCKADDR_IN6 a;
        st_loopback(u->family, 0, &a);
        for (int attempt = 0;; attempt++) {
            r = u->d->WskBind(u->sock, (PSOCKADDR)&a, 0, wt_irp_arm(&w));
            st = wt_irp_result(&w, r);
            if (!st_bind_collision(st) || attempt == 3)
                break;
        }
        if (NT_SUCCESS(st)) {
            r = u->d->WskGetLocalAddress(u->sock, (PSOCKADDR)&a, wt_irp_arm(&w));
            st = wt_irp_result(&w, r);
            u->port = RtlUshortByteSwap(((PSOCKADDR_IN)&a)->sin_port);
        }
    }
    wt_irp_free(&w);
    if (!NT_SUCCESS(st)) {
        if (st == STATUS_ADDRESS_ALREADY_EXISTS)
            InterlockedIncrement(&g_bind_gave_up);
        else
            ST_FAIL("datagram socket set-up: 0x%x", (unsigned)st);
        if (u->sock != NULL)
            st_close_sync(u->sock, "a datagram socket");
        free(u);
        return NULL;
    }
    ST_LOG("datagram socket %u: family %d, port %u", u->id, u->family, u->port);
    return u;
}

static BOOLEAN st_sendto(st_udp *u, int family, USHORT port, ULONG len)
{
    if (len < ST_DGRAM_HEAD)
        len = ST_DGRAM_HEAD;
    PUCHAR buf = ExAllocatePool2(POOL_FLAG_NON_PAGED, len, ST_TAG);
    PMDL mdl = wp_mdl(buf, len);
    st_rec *r = st_rec_new(SK_SENDTO, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&u->lock, &irql);
    if (ld(&u->closing) || ld(&u->sends) >= ST_MAX_SENDS) {
        KeReleaseSpinLock(&u->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        IoFreeMdl(mdl);
        ExFreePoolWithTag(buf, ST_TAG);
        return FALSE;
    }
    ULONG seq = u->next_seq++;
    st_put32(buf, u->id);
    st_put32(buf + 4, seq);
    st_put16(buf + 8, (USHORT)len);
    st_put16(buf + 10, u->port);
    wp_fill(buf + ST_DGRAM_HEAD, len - ST_DGRAM_HEAD, 0, u->id * 7919u + seq);
    r->buf = buf;
    r->mdl = mdl;
    r->len = len;
    r->wbuf.Mdl = mdl;
    r->wbuf.Length = len;
    st_loopback(family, port, &r->remote);
    st_ulink(u, r);
    InterlockedIncrement(&u->sends);
    InterlockedIncrement(&u->inflight);
    st_in_issue++;
    NTSTATUS ret = u->d->WskSendTo(u->sock, &r->wbuf, 0, (PSOCKADDR)&r->remote, 0, NULL, r->irp);
    st_in_issue--;
    KeReleaseSpinLock(&u->lock, irql);
    st_issued(r, ret);
    return TRUE;
}

static BOOLEAN st_urecv(st_udp *u, ULONG len)
{
    PUCHAR buf = ExAllocatePool2(POOL_FLAG_NON_PAGED, len, ST_TAG);
    PMDL mdl = wp_mdl(buf, len);
    st_rec *r = st_rec_new(SK_RECVFROM, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&u->lock, &irql);
    if (ld(&u->closing) || ld(&u->recvs) >= ST_MAX_RECVS) {
        KeReleaseSpinLock(&u->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        IoFreeMdl(mdl);
        ExFreePoolWithTag(buf, ST_TAG);
        return FALSE;
    }
    r->buf = buf;
    r->mdl = mdl;
    r->len = len;
    r->wbuf.Mdl = mdl;
    r->wbuf.Length = len;
    st_ulink(u, r);
    InterlockedIncrement(&u->recvs);
    InterlockedIncrement(&u->inflight);
    st_in_issue++;
    NTSTATUS ret = u->d->WskReceiveFrom(u->sock, &r->wbuf, 0, (PSOCKADDR)&r->remote, NULL, NULL, NULL, r->irp);
    st_in_issue--;
    KeReleaseSpinLock(&u->lock, irql);
    st_issued(r, ret);
    return TRUE;
}

static BOOLEAN st_uclose(st_udp *u)
{
    st_rec *r = st_rec_new(SK_UCLOSE, IoAllocateIrp(1, FALSE));
    KIRQL irql;
    KeAcquireSpinLock(&u->lock, &irql);
    if (ld(&u->closing)) {
        KeReleaseSpinLock(&u->lock, irql);
        IoFreeIrp(r->irp);
        free(r);
        return FALSE;
    }
    InterlockedExchange(&u->closing, 1);
    st_ulink(u, r);
    KeReleaseSpinLock(&u->lock, irql);
    st_in_issue++;
    NTSTATUS ret = u->d->WskCloseSocket(u->sock, r->irp);
    st_in_issue--;
    st_issued(r, ret);
    return TRUE;
}

static void st_uact(st_udp *u, int action, ULONG len, BOOLEAN inline_ok)
{
    if (inline_ok && st_in_issue == 0) {
        if (action == ACT_URECV)
            (void)st_urecv(u, len);
        else
            (void)st_uclose(u);
        return;
    }
    st_work *w = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*w), ST_TAG);
    w->ep = NULL;
    w->u = u;
    w->action = action;
    w->len = len;
    w->flags = 0;
    InterlockedIncrement(&u->work_pending);
    wp_worker_queue(&g_worker, &w->work, st_work_routine);
}

/* A datagram received: its header names the sender, the rest is checked. */
static void st_check_datagram(st_udp *u, st_rec *r)
{
    ULONG n = (ULONG)r->info;
    if (n < ST_DGRAM_HEAD) {
        if (r->status == STATUS_SUCCESS)
            ST_FAIL("datagram socket %u received %u bytes, shorter than any datagram sent", u->id, n);
        return;
    }
    ULONG id = st_get32(r->buf), seq = st_get32(r->buf + 4);
    USHORT total = st_get16(r->buf + 8), port = st_get16(r->buf + 10);
    USHORT from = RtlUshortByteSwap(((PSOCKADDR_IN)&r->remote)->sin_port);
    if (((PSOCKADDR)&r->remote)->sa_family != u->family || from != port)
        ST_FAIL("datagram socket %u: a datagram of socket %u (port %u) came from family %d port %u", u->id, id, port,
                ((PSOCKADDR)&r->remote)->sa_family, from);
    if (r->status == STATUS_SUCCESS ? n != total : (n != r->len || total <= r->len))
        ST_FAIL("datagram socket %u: status 0x%x with %u bytes for a datagram of %u bytes into a buffer of %u", u->id,
                (unsigned)r->status, n, total, r->len);
    for (ULONG i = ST_DGRAM_HEAD; i < n; i++) {
        if (r->buf[i] != wp_byte(i - ST_DGRAM_HEAD, id * 7919u + seq)) {
            ST_FAIL("datagram socket %u: datagram %u of socket %u has a wrong byte at %u of %u", u->id, seq, id, i,
                    total);
            break;
        }
    }
}

static NTSTATUS st_udp_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    st_rec *r = context;
    st_udp *u = r->u;
    (void)device;
    r->status = irp->IoStatus.Status;
    r->info = irp->IoStatus.Information;
    r->pending_returned = irp->PendingReturned;
    LONG n = InterlockedIncrement(&r->completions);
    if (n != 1)
        ST_FAIL("%s IRP of step %lld completed %d times", st_kind_name[r->kind], (long long)r->step, (int)n);
    if (r->kind != SK_UCLOSE && ld(&u->close_done))
        ST_FAIL("%s IRP of step %lld (datagram socket %u) completed after its socket's close completed",
                st_kind_name[r->kind], (long long)r->step, u->id);
    BOOLEAN cancel = ld(&r->cancel_requested) || ld(&u->closing);
    const char *why = "";
    if (r->status == STATUS_CANCELLED && !cancel)
        why = "cancelled, but nobody cancelled it and its socket is not closing";
    else if (r->kind == SK_SENDTO && r->status == STATUS_SUCCESS && r->info != r->len)
        why = "a successful datagram send must report its whole length";
    else if (r->kind == SK_SENDTO && r->status != STATUS_SUCCESS && r->status != STATUS_CANCELLED)
        why = "a datagram send to a loopback address fails only when cancelled";
    else if (r->kind == SK_RECVFROM && r->status != STATUS_SUCCESS && r->status != STATUS_BUFFER_OVERFLOW &&
             r->status != STATUS_CANCELLED)
        why = "a datagram receive ends with a datagram, a truncated one, or cancelled";
    else if (r->kind == SK_UCLOSE && r->status != STATUS_SUCCESS)
        why = "WskCloseSocket always succeeds";
    else if (r->info > r->len)
        why = "Information larger than the buffer";
    if (*why != '\0')
        ST_FAIL("%s of step %lld (datagram socket %u, len %u): status 0x%x %s, Information %zu: %s",
                st_kind_name[r->kind], (long long)r->step, u->id, r->len, (unsigned)r->status,
                wp_status_name(r->status), (size_t)r->info, why);
    for (int i = 0; i < 9; i++) {
        if (g_tally_status[i] == r->status || i == 8) {
            InterlockedIncrement(&g_tally[r->kind][i]);
            break;
        }
    }
    st_kind kind = r->kind;
    if (kind == SK_RECVFROM && (r->status == STATUS_SUCCESS || r->status == STATUS_BUFFER_OVERFLOW))
        st_check_datagram(u, r);
    if (r->mdl != NULL) {
        IoFreeMdl(r->mdl);
        ExFreePoolWithTag(r->buf, ST_TAG);
        r->mdl = NULL;
        r->buf = NULL;
    }
    if (kind == SK_SENDTO)
        InterlockedDecrement(&u->sends);
    else if (kind == SK_RECVFROM)
        InterlockedDecrement(&u->recvs);
    st_irp_release(r);
    if (kind == SK_UCLOSE) {
        LONG left = ld(&u->inflight);
        if (left != 0)
            ST_FAIL("the close of datagram socket %u completed with %d of its IRPs not yet completed", u->id, (int)left);
        InterlockedExchange(&u->close_done, 1); /* last touch of u */
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    ULONG64 dice = r->dice;
    BOOLEAN inline_ok = (dice >> 40) & 1;
    if (InterlockedCompareExchange(&u->close_on_completion, 2, 1) == 1)
        st_uact(u, ACT_UCLOSE, 0, inline_ok);
    if (kind == SK_RECVFROM && r->status != STATUS_CANCELLED && (dice & 1) == 0 && !ld(&g_final))
        st_uact(u, ACT_URECV, st_len(dice >> 2) % 9000 + 1, inline_ok);
    InterlockedDecrement(&u->inflight);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void st_udp_retire(int i)
{
    if (g_nudp_dead < 64)
        g_udp_dead[g_nudp_dead++] = g_udp[i];
    else
        ST_FAIL("too many datagram sockets waiting to be reaped");
    g_udp[i] = NULL;
}

static void st_udp_reap(BOOLEAN all)
{
    int kept = 0;
    for (int i = 0; i < g_nudp_dead; i++) {
        st_udp *u = g_udp_dead[i];
        if (ld(&u->close_done) && ld(&u->work_pending) == 0) {
            char owner[64];
            snprintf(owner, sizeof(owner), "datagram socket %u", u->id);
            st_check_records(u->recs, owner);
            free(u);
        } else {
            if (all)
                ST_FAIL("the close of datagram socket %u never completed (%d IRPs pending)", u->id,
                        (int)ld(&u->inflight));
            g_udp_dead[kept++] = u;
        }
    }
    g_nudp_dead = kept;
}

static void st_udp_op(void)
{
    int live[ST_MAX_UDP], n = 0, free_slot = -1;
    for (int i = 0; i < ST_MAX_UDP; i++) {
        if (g_udp[i] != NULL && ld(&g_udp[i]->closing))
            st_udp_retire(i);
        if (g_udp[i] != NULL)
            live[n++] = i;
        else if (free_slot < 0)
            free_slot = i;
    }
    ULONG roll = st_below(&g_rng, 100);
    if (n < 2 || (free_slot >= 0 && roll < 5)) {
        if (free_slot >= 0 && g_nudp_dead < 60)
            g_udp[free_slot] = st_udp_open();
        return;
    }
    st_udp *u = g_udp[live[st_below(&g_rng, (ULONG)n)]];
    ULONG64 r = st_next(&g_rng);
    if (roll < 50) {
        /* To a live socket of the same family (possibly itself), else to a
         * port nobody holds any more: loopback drops it quietly. */
        st_udp *to = g_udp[live[st_below(&g_rng, (ULONG)n)]];
        USHORT port = to->family == u->family ? to->port : u->port;
        ULONG len = ST_DGRAM_HEAD + st_len(r) % 9000;
        ST_LOG("datagram send %u from socket %u to port %u", len, u->id, port);
        (void)st_sendto(u, u->family, port, len);
    } else if (roll < 80) {
        ULONG len = (r >> 32) % 4 == 0 ? 1 + (ULONG)(r % 64) : st_len(r) % 9000 + 1;
        ST_LOG("datagram receive %u on socket %u", len, u->id);
        (void)st_urecv(u, len);
    } else if (roll < 92) {
        st_rec *cand[ST_SCAN];
        int m = 0, seen = 0;
        KIRQL irql;
        KeAcquireSpinLock(&u->lock, &irql);
        for (st_rec *a = u->recs; a != NULL && seen < ST_SCAN; a = a->next, seen++)
            if (a->kind != SK_UCLOSE && ld(&a->completions) == 0 && ld(&a->cancel_state) == CS_PENDING)
                cand[m++] = a;
        KeReleaseSpinLock(&u->lock, irql);
        if (m > 0) {
            st_rec *a = cand[st_below(&g_rng, (ULONG)m)];
            ST_LOG("cancel %s of step %lld on datagram socket %u", st_kind_name[a->kind], (long long)a->step, u->id);
            st_cancel(a);
        }
    } else {
        switch ((r >> 32) % 3) {
        case 0:
            ST_LOG("close datagram socket %u (%d IRPs pending)", u->id, (int)ld(&u->inflight));
            (void)st_uclose(u);
            break;
        case 1:
            ST_LOG("close datagram socket %u on the worker", u->id);
            st_uact(u, ACT_UCLOSE, 0, FALSE);
            break;
        default:
            ST_LOG("close datagram socket %u from its next completion", u->id);
            InterlockedCompareExchange(&u->close_on_completion, 1, 0);
            break;
        }
    }
}

/* ---- the random phase ---- */

static BOOLEAN st_usable(st_ep *ep)
{
    return ep->sock != NULL && !ld(&ep->closing);
}

static int st_live_count(void)
{
    int n = 0;
    for (size_t i = 0; i < g_nconns; i++)
        if (!g_conns[i]->failed && (st_usable(&g_conns[i]->ep[0]) || st_usable(&g_conns[i]->ep[1])))
            n++;
    return n;
}

static st_ep *st_pick_ep(void)
{
    st_ep *cand[2 * ST_MAX_LIVE + 4];
    int n = 0;
    for (size_t i = 0; i < g_nconns && n < (int)(sizeof(cand) / sizeof(cand[0])); i++)
        for (int s = 0; s < 2 && n < (int)(sizeof(cand) / sizeof(cand[0])); s++)
            if (!g_conns[i]->failed && st_usable(&g_conns[i]->ep[s]))
                cand[n++] = &g_conns[i]->ep[s];
    return n == 0 ? NULL : cand[st_below(&g_rng, (ULONG)n)];
}

/* Cancels one of ep's pending IRPs (not the close), if any. */
static void st_cancel_some(st_ep *ep)
{
    st_rec *cand[ST_SCAN];
    int n = 0, seen = 0;
    KIRQL irql;
    KeAcquireSpinLock(&ep->lock, &irql);
    for (st_rec *r = ep->recs; r != NULL && seen < ST_SCAN; r = r->next, seen++)
        if (r->kind != SK_CLOSE && ld(&r->completions) == 0 && ld(&r->cancel_state) == CS_PENDING)
            cand[n++] = r;
    KeReleaseSpinLock(&ep->lock, irql);
    if (n == 0)
        return;
    st_rec *r = cand[st_below(&g_rng, (ULONG)n)];
    ST_LOG("cancel %s of step %lld on connection %u side %d", st_kind_name[r->kind], (long long)r->step, ep->conn->id,
           ep->side);
    st_cancel(r);
}

static void st_random_op(void)
{
    if (g_udp_on && st_below(&g_rng, 100) < 15) {
        st_udp_op();
        return;
    }
    int live = st_live_count();
    ULONG roll = st_below(&g_rng, 100);
    if (live == 0 || (live < ST_MAX_LIVE && roll < (live < 2 ? 30u : 4u))) {
        st_connect();
        return;
    }
    st_ep *ep = st_pick_ep();
    if (ep == NULL)
        return;
    ULONG64 r = st_next(&g_rng);
    roll = st_below(&g_rng, 100);
    if (roll < 32) {
        ULONG len = st_len(r);
        ST_LOG("send %u on connection %u side %d", len, ep->conn->id, ep->side);
        (void)st_send(ep, len, FALSE);
    } else if (roll < 60) {
        ULONG len = st_len(r), flags = (r >> 32) % 4 == 0 ? WSK_FLAG_WAITALL : 0;
        ST_LOG("receive %u%s on connection %u side %d", len, flags ? " WAITALL" : "", ep->conn->id, ep->side);
        (void)st_recv(ep, len, flags);
    } else if (roll < 72) {
        st_cancel_some(ep);
    } else if (roll < 76) {
        ULONG len = (r >> 32) % 3 == 0 ? st_len(r) : 0;
        ST_LOG("graceful disconnect (final buffer %u) on connection %u side %d", len, ep->conn->id, ep->side);
        (void)st_disconnect(ep, FALSE, len);
    } else if (roll < 77) {
        if (!g_abortive)
            return;
        ST_LOG("abortive disconnect on connection %u side %d", ep->conn->id, ep->side);
        (void)st_disconnect(ep, TRUE, 0);
    } else if (roll < 79) {
        if (ld(&ep->graceful_ok) && !ld(&ep->abort_issued)) {
            ST_LOG("send after the graceful disconnect on connection %u side %d", ep->conn->id, ep->side);
            (void)st_send(ep, 1 + (ULONG)(r % 100), TRUE);
        }
    } else if (roll < 83) {
        switch ((r >> 32) % 4) {
        case 0:
        case 1:
            ST_LOG("close connection %u side %d (%d IRPs pending)", ep->conn->id, ep->side, (int)ld(&ep->inflight));
            (void)st_close(ep);
            break;
        case 2:
            ST_LOG("close connection %u side %d on the worker", ep->conn->id, ep->side);
            st_act(ep, ACT_CLOSE, 0, 0, FALSE);
            break;
        default:
            ST_LOG("close connection %u side %d from its next completion", ep->conn->id, ep->side);
            InterlockedCompareExchange(&ep->close_on_completion, 1, 0);
            break;
        }
    } else if (roll < 86) {
        st_listener *l = g_listeners[0].events ? &g_listeners[1] : &g_listeners[0];
        if (ld(&l->accepts_pending) < 2) {
            ST_LOG("an extra WskAccept on the family %d listener", l->family);
            st_accept(l);
        }
    } else if (roll < 88) {
        st_listener *l = g_listeners[0].events ? &g_listeners[1] : &g_listeners[0];
        st_rec *cand[8];
        int n = 0;
        KIRQL irql;
        KeAcquireSpinLock(&l->lock, &irql);
        for (st_rec *a = l->recs; a != NULL && n < 8; a = a->next)
            if (ld(&a->completions) == 0 && ld(&a->cancel_state) == CS_PENDING)
                cand[n++] = a;
        KeReleaseSpinLock(&l->lock, irql);
        if (n > 0) {
            ST_LOG("cancel a WskAccept");
            st_cancel(cand[st_below(&g_rng, (ULONG)n)]);
        }
    } else {
        wp_sleep_us(st_below(&g_rng, 300));
    }
}

/* ---- checks at the end of a connection's life ---- */

/* Every IRP completed exactly once and kept the IRP contract; frees the
 * records. */
static void st_check_records(st_rec *list, const char *owner)
{
    while (list != NULL) {
        st_rec *r = list;
        list = r->next;
        LONG n = ld(&r->completions);
        if (n != 1) {
            ST_FAIL("%s: %s IRP of step %lld completed %d times", owner, st_kind_name[r->kind], (long long)r->step,
                    (int)n);
        } else if (!ld(&r->issued)) {
            ST_FAIL("%s: the call of step %lld (%s) never returned", owner, (long long)r->step, st_kind_name[r->kind]);
        } else if (r->returned == STATUS_PENDING ? !r->pending_returned
                                                 : (r->pending_returned || r->status != r->returned)) {
            ST_FAIL("%s: %s of step %lld returned 0x%x but completed with 0x%x, PendingReturned %d", owner,
                    st_kind_name[r->kind], (long long)r->step, (unsigned)r->returned, (unsigned)r->status,
                    r->pending_returned);
        }
        free(r);
    }
}

/* Bytes before the sender's first failed send must be right, and nothing
 * may follow a FIN. */
static void st_check_prefix(st_ep *b)
{
    st_ep *a = b->peer;
    LONG64 taint = __atomic_load_n(&a->tx_taint, __ATOMIC_RELAXED);
    if (b->rx_bad_at >= 0 && b->rx_bad_at < taint)
        ST_FAIL("connection %u side %d received byte 0x%02x at stream offset %lld at step %lld, expected 0x%02x "
                "(the sender's first failed send starts at %lld)",
                b->conn->id, b->side, b->rx_bad_got, (long long)b->rx_bad_at, (long long)b->rx_bad_step, b->rx_bad_want,
                taint == LLONG_MAX ? -1LL : (long long)taint);
    if (ld(&b->rx_after_fin)) {
        ST_FAIL("connection %u side %d received data after a receive reported the FIN (at step %lld; receiver events "
                "%d, aborted %d, closed at %lld; sender's disconnect done at %lld, aborted %d, closed at %lld)",
                b->conn->id, b->side, (long long)b->fin_step, b->events, (int)ld(&b->abort_issued),
                (long long)b->close_step, (long long)a->graceful_ok_step, (int)ld(&a->abort_issued),
                (long long)a->close_step);
        st_rx_dump(b);
    }
    /* A FIN follows every byte sent before it (PFN_WSK_DISCONNECT): a
     * receiver that saw the FIN of a sender whose sends all succeeded has
     * every byte. */
    if (ld(&b->rx_fin) && ld(&a->graceful_ok) && taint == LLONG_MAX && !ld(&a->abort_issued) &&
        !ld(&b->abort_issued)) {
        /* Known deviation (README): a sender that closes while its peer
         * still has data for it is reset by Linux, which drops what it had
         * not sent yet; when another call took the reset first, the
         * receiver sees end of file, a FIN, short of the stream. */
        BOOLEAN known = b->fin_peer_closing && b->rx_offset < a->tx_offset && !g_strict_reset;
        if (known)
            InterlockedIncrement(&g_fin_short_after_close);
        else
            g_full_checked++;
        if (!known && b->rx_offset != a->tx_offset) {
            ST_FAIL("connection %u: side %d received the FIN after %llu bytes, but side %d sent %llu (FIN seen at step "
                    "%lld, receiver events %d, closed at %lld; sender's disconnect done at %lld, closed at %lld, "
                    "%llu bytes received)",
                    b->conn->id, b->side, (unsigned long long)b->rx_offset, a->side, (unsigned long long)a->tx_offset,
                    (long long)b->fin_step, b->events, (long long)b->close_step, (long long)a->graceful_ok_step,
                    (long long)a->close_step, (unsigned long long)a->rx_offset);
            st_rx_dump(b);
        }
    }
    if (b->rx_offset > a->tx_offset)
        ST_FAIL("connection %u side %d received %llu bytes, more than the %llu sent", b->conn->id, b->side,
                (unsigned long long)b->rx_offset, (unsigned long long)a->tx_offset);
}

static BOOLEAN st_reapable(st_conn *c)
{
    for (int s = 0; s < 2; s++)
        if ((c->ep[s].sock != NULL && !ld(&c->ep[s].close_done)) || ld(&c->ep[s].work_pending) != 0)
            return FALSE;
    return TRUE;
}

static void st_reap(st_conn *c)
{
    char owner[64];
    for (int s = 0; s < 2; s++) {
        if (c->ep[s].sock != NULL && c->ep[s].peer->sock != NULL)
            st_check_prefix(&c->ep[s]);
        snprintf(owner, sizeof(owner), "connection %u side %d", c->id, s);
        st_check_records(c->ep[s].recs, owner);
        g_bytes += c->ep[s].rx_offset;
        c->ep[s].recs = NULL;
    }
    free(c);
}

/* Connections whose both ends closed a while ago (in steps) go. */
static void st_reap_old(LONG64 step, BOOLEAN all)
{
    size_t kept = 0;
    for (size_t i = 0; i < g_nconns; i++) {
        st_conn *c = g_conns[i];
        if (st_reapable(c)) {
            if (c->done_step == 0)
                c->done_step = step;
            if (all || step - c->done_step > 100) {
                st_reap(c);
                continue;
            }
        }
        g_conns[kept++] = c;
    }
    g_nconns = kept;
}

/* ---- the end: drain, disconnect, check, close ---- */

static BOOLEAN st_eligible(st_ep *ep)
{
    return st_usable(ep) && !ld(&ep->abort_issued) && !ld(&ep->peer->abort_issued);
}

static void st_final(void)
{
    InterlockedExchange(&g_final, 1);
    for (size_t i = 0; i < g_nconns; i++)
        for (int s = 0; s < 2; s++)
            InterlockedCompareExchange(&g_conns[i]->ep[s].close_on_completion, 0, 1);
    /* Every live end reads to the end... */
    for (size_t i = 0; i < g_nconns; i++) {
        for (int s = 0; s < 2; s++) {
            st_ep *ep = &g_conns[i]->ep[s];
            if (!g_conns[i]->failed && st_eligible(ep)) {
                InterlockedExchange(&ep->drain, 1);
                (void)st_recv(ep, 65536, 0);
            }
        }
    }
    /* ...and disconnects gracefully (again, if its disconnect failed). */
    LONG64 until = wp_now_us() + 2 * WP_TIMEOUT_MS * 1000LL;
    for (;;) {
        BOOLEAN busy = FALSE;
        for (size_t i = 0; i < g_nconns; i++) {
            if (g_conns[i]->failed)
                continue;
            for (int s = 0; s < 2; s++) {
                st_ep *ep = &g_conns[i]->ep[s];
                if (!st_eligible(ep))
                    continue;
                BOOLEAN broken = !st_usable(ep->peer);
                if (!ld(&ep->graceful_ok) && !broken) {
                    busy = TRUE;
                    if (ld(&ep->graceful_pending) == 0)
                        (void)st_disconnect(ep, FALSE, 0);
                }
                if (!ld(&ep->rx_end) || ld(&ep->recvs) != 0 || ld(&ep->sends) != 0 || ld(&ep->graceful_pending) != 0) {
                    busy = TRUE;
                    if (ld(&ep->recvs) == 0 && !ld(&ep->rx_end))
                        (void)st_recv(ep, 65536, 0); /* its drain chain ended on a refusal */
                }
            }
        }
        if (!busy)
            break;
        if (wp_now_us() > until) {
            for (size_t i = 0; i < g_nconns; i++)
                for (int s = 0; s < 2; s++) {
                    st_ep *ep = &g_conns[i]->ep[s];
                    if (st_eligible(ep) && (!ld(&ep->rx_end) || ld(&ep->recvs) || ld(&ep->sends) ||
                                            ld(&ep->graceful_pending) || (!ld(&ep->graceful_ok) && st_usable(ep->peer))))
                        ST_FAIL("connection %u side %d did not settle: rx_end %d, %d receives, %d sends, %d disconnects "
                                "pending, graceful_ok %d; received %llu of the peer's %llu bytes",
                                g_conns[i]->id, s, (int)ld(&ep->rx_end), (int)ld(&ep->recvs), (int)ld(&ep->sends),
                                (int)ld(&ep->graceful_pending), (int)ld(&ep->graceful_ok),
                                (unsigned long long)ep->rx_offset, (unsigned long long)ep->peer->tx_offset);
                }
            break;
        }
        wp_sleep_us(1000);
    }
    /* Directions whose sender finished cleanly delivered everything. */
    for (size_t i = 0; i < g_nconns; i++) {
        st_conn *c = g_conns[i];
        if (c->failed)
            continue;
        for (int s = 0; s < 2; s++) {
            st_ep *a = &c->ep[s], *b = a->peer;
            if (!st_eligible(a) || !st_eligible(b) || !ld(&a->graceful_ok) ||
                __atomic_load_n(&a->tx_taint, __ATOMIC_RELAXED) != LLONG_MAX || ld(&a->sends) != 0)
                continue;
            if (!ld(&b->rx_fin) || b->rx_offset != a->tx_offset || b->rx_bad_at >= 0)
                ST_FAIL("connection %u: side %d sent %llu bytes and disconnected gracefully; side %d received %llu "
                        "bytes%s%s",
                        c->id, s, (unsigned long long)a->tx_offset, 1 - s, (unsigned long long)b->rx_offset,
                        ld(&b->rx_fin) ? " and the FIN" : ", no FIN", b->rx_bad_at >= 0 ? ", some of them wrong" : "");
        }
    }
    /* Close everything. */
    for (size_t i = 0; i < g_nconns; i++)
        for (int s = 0; s < 2; s++)
            if (g_conns[i]->ep[s].sock != NULL)
                (void)st_close(&g_conns[i]->ep[s]);
    for (size_t i = 0; i < g_nconns; i++) {
        for (int s = 0; s < 2; s++) {
            st_ep *ep = &g_conns[i]->ep[s];
            if (ep->sock != NULL && !st_wait_flag(&ep->close_done, WP_TIMEOUT_MS))
                ST_FAIL("the close of connection %u side %d never completed (%d IRPs pending)", g_conns[i]->id, s,
                        (int)ld(&ep->inflight));
        }
    }
}

static void st_close_sync(PWSK_SOCKET s, const char *what)
{
    wt_irp w = {0};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskCloseSocket(s, wt_irp_arm(&w));
    NTSTATUS st = wt_irp_result(&w, r);
    if (st != STATUS_SUCCESS)
        ST_FAIL("closing %s: 0x%x", what, (unsigned)st);
    wt_irp_free(&w);
}

/* ---- one seed ---- */

static void st_run(ULONG64 seed, long ops)
{
    g_seed = seed;
    g_rng = seed;
    g_failures = 0;
    g_final = 0;
    g_next_conn = 0;
    g_next_udp = 0;
    g_nudp_dead = 0;
    memset(g_udp, 0, sizeof(g_udp));
    g_norphans = 0;
    g_bytes = 0;
    g_full_checked = 0;
    g_zero_after_error = 0;
    g_zero_after_abort = 0;
    g_fin_short_after_close = 0;
    g_bind_collisions = 0;
    g_bind_gave_up = 0;
    __atomic_store_n(&g_step, 0, __ATOMIC_RELAXED);
    memset((void *)g_tally, 0, sizeof(g_tally));
    KeInitializeSpinLock(&g_lock);
    memset(g_slots, 0, sizeof(g_slots));
    SIZE_T pool_before = openwsk_pool_outstanding_count(0);

    wt_wsk_open(&g_t);
    if (!NT_SUCCESS(wp_worker_start(&g_worker))) {
        ST_FAIL("worker thread");
        return;
    }
    BOOLEAN v4_events = st_below(&g_rng, 2);
    BOOLEAN ok = st_listen_retrying(&g_listeners[0], AF_INET, v4_events) &&
                 st_listen_retrying(&g_listeners[1], AF_INET6, !v4_events);
    char where[64];
    snprintf(where, sizeof(where), "seed %llu", (unsigned long long)seed);
    for (long step = 1; ok && step <= ops; step++) {
        __atomic_store_n(&g_step, step, __ATOMIC_RELAXED);
        wp_at(where, (int)step, (int)ops);
        st_random_op();
        if (step % 64 == 0)
        {
            st_reap_old(step, FALSE);
            st_udp_reap(FALSE);
        }
    }
    __atomic_store_n(&g_step, ops + 1, __ATOMIC_RELAXED);
    wp_at(where, (int)ops + 1, (int)ops);
    st_final();
    for (int i = 0; i < ST_MAX_UDP; i++) {
        if (g_udp[i] == NULL)
            continue;
        (void)st_uclose(g_udp[i]);
        if (!st_wait_flag(&g_udp[i]->close_done, WP_TIMEOUT_MS))
            ST_FAIL("the close of datagram socket %u never completed", g_udp[i]->id);
        st_udp_retire(i);
    }
    for (int i = 0; i < 2; i++) {
        if (g_listeners[i].sock == NULL)
            continue;
        InterlockedExchange(&g_listeners[i].closing, 1);
        st_close_sync(g_listeners[i].sock, "a listener");
        if (ld(&g_listeners[i].accepts_pending) != 0)
            ST_FAIL("the listener's close completed with %d WskAccept IRPs pending",
                    (int)ld(&g_listeners[i].accepts_pending));
    }
    for (int i = 0; i < g_norphans; i++)
        st_close_sync(g_orphans[i], "an unclaimed accepted socket");
    wp_worker_stop(&g_worker);
    st_udp_reap(TRUE);
    ULONG conns = g_next_conn;
    st_reap_old(LLONG_MAX, TRUE);
    for (size_t i = 0; i < g_nconns; i++) /* not reapable: a close never completed */
        ST_FAIL("connection %u was never fully closed", g_conns[i]->id);
    g_nconns = 0;
    for (int i = 0; i < 2; i++) {
        st_check_records(g_listeners[i].recs, "listener");
        g_listeners[i].recs = NULL;
    }
    if (!wp_wsk_close(&g_t, WP_TIMEOUT_MS))
        ST_FAIL("WskDeregister did not return");
    SIZE_T pool_after = openwsk_pool_outstanding_count(0);
    if (pool_after != pool_before) {
        ST_FAIL("%zu pool allocations outstanding after the run (%zu before)", (size_t)pool_after,
                (size_t)pool_before);
        openwsk_leak_report();
    }
    if (g_verbose) {
        fprintf(stderr, "  seed %llu: %u connections; status tally (success, cancelled, reset, aborted, "
                        "disconnected, invalid connection, pipe disconnected, buffer overflow, other):\n",
                (unsigned long long)seed, conns);
        fprintf(stderr, "    receives ending STATUS_SUCCESS with 0 bytes after a failed receive: %d, after the "
                        "socket's own abortive disconnect: %d; a FIN short of the stream after the sender's "
                        "close: %d\n",
                (int)g_zero_after_error, (int)g_zero_after_abort, (int)g_fin_short_after_close);
        for (int k = 0; k < SK_N; k++) {
            fprintf(stderr, "    %-20s", st_kind_name[k]);
            for (int i = 0; i < 9; i++)
                fprintf(stderr, " %6d", (int)g_tally[k][i]);
            fputc('\n', stderr);
        }
    }
    fprintf(stderr, "  seed %llu: %ld operations, %u connections, %llu bytes received, %u "
                    "directions checked for complete delivery%s%s\n",
            (unsigned long long)seed, ops, conns, (unsigned long long)g_bytes, g_full_checked,
            g_bind_collisions ? " (port-0 binds refused with STATUS_ADDRESS_ALREADY_EXISTS and retried: see README)"
                              : "",
            g_failures ? ", FAILED" : "");
    if (g_bind_collisions)
        fprintf(stderr, "  seed %llu: %d port-0 binds refused, %d sockets given up after four\n",
                (unsigned long long)seed, (int)g_bind_collisions, (int)g_bind_gave_up);
}

/* ---- the focused reproducer of what the stress found ---- */

/* On the epoll backend, ThreadSanitizer reports lx_abort's connect(AF_UNSPEC)
 * (which it models as creating the descriptor anew) racing the engine
 * thread's epoll_ctl on the same descriptor, when a receive completes on
 * the engine thread while WskDisconnect(WSK_FLAG_ABORTIVE) runs.  Not in
 * CI; run it with OPENWSK_STRESS_REPRO=abortive (TSan build, epoll). */
static void st_repro_abortive_racing_receive(void)
{
    for (int round = 0; round < 200 && !wt_case_failed; round++) {
        wt_wsk t;
        wt_wsk_open(&t);
        int peer;
        PWSK_SOCKET s = wp_connect(&t, NULL, NULL, &peer);
        if (s == NULL) {
            wt_wsk_close(&t);
            return;
        }
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        UCHAR buf[16], one = 1;
        PMDL mdl = wp_mdl(buf, sizeof(buf));
        WSK_BUF b = {mdl, 0, sizeof(buf)};
        wt_irp recv = {0}, w = {0};
        NTSTATUS rr = d->WskReceive(s, &b, 0, wt_irp_arm(&recv)); /* pending: the descriptor is armed */
        (void)peer_send_all(peer, &one, 1);                       /* the engine thread completes it... */
        wp_sleep_us(round % 20);
        NTSTATUS r = d->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&w)); /* ...while this runs */
        NTSTATUS st = wt_irp_result(&w, r);
        CHECK(st == STATUS_SUCCESS || st_conn_error(st));
        st = wt_irp_result(&recv, rr);
        CHECK(st == STATUS_SUCCESS || st_conn_error(st));
        r = d->WskCloseSocket(s, wt_irp_arm(&w));
        CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
        wt_irp_free(&recv);
        wt_irp_free(&w);
        IoFreeMdl(mdl);
        peer_close(peer);
        wt_wsk_close(&t);
    }
}

/* The peer resets the connection (here a Linux peer closing with SO_LINGER
 * 0, in the stress a WSK socket closed with data still to deliver).  Linux
 * reports the reset once, to whichever call comes first, and end of file
 * afterwards; the provider used to pass that on, so after a send took the
 * reset a receive ended with STATUS_SUCCESS and 0 bytes: the driver saw a
 * graceful close, and a stream cut short as complete.  On Windows a reset
 * connection keeps failing (STATUS_CONNECTION_RESET), and so it does here.
 * Runs before the seeds (alone: OPENWSK_STRESS_REPRO=reset). */
static void st_repro_reset_reads_as_fin(void)
{
    for (int send_first = 1; send_first >= 0; send_first--) {
        wt_wsk t;
        wt_wsk_open(&t);
        int peer;
        PWSK_SOCKET s = wp_connect(&t, NULL, NULL, &peer);
        if (s == NULL) {
            wt_wsk_close(&t);
            return;
        }
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        static UCHAR buf[256];
        PMDL mdl = wp_mdl(buf, sizeof(buf));
        WSK_BUF b = {mdl, 0, sizeof(buf)};
        wt_irp w = {0};
        CHECK_EQ(peer_send_all(peer, "data", 4), 4);
        peer_reset_on_close(peer);
        peer_close(peer);
        wp_sleep_us(50000); /* the reset arrives */
        if (send_first) {
            WSK_BUF one = {mdl, 0, 1};
            NTSTATUS st = wt_irp_result(&w, d->WskSend(s, &one, 0, wt_irp_arm(&w)));
            CHECK(st_conn_error(st));
        }
        NTSTATUS st = wt_irp_result(&w, d->WskReceive(s, &b, 0, wt_irp_arm(&w)));
        fprintf(stderr, "  %s: first receive 0x%x, %zu bytes\n", send_first ? "after a send" : "no send", (unsigned)st,
                (size_t)w.irp->IoStatus.Information);
        for (int i = 0; i < 2; i++) {
            st = wt_irp_result(&w, d->WskReceive(s, &b, 0, wt_irp_arm(&w)));
            ULONG_PTR n = w.irp->IoStatus.Information;
            fprintf(stderr, "  %s: next receive 0x%x, %zu bytes\n", send_first ? "after a send" : "no send",
                    (unsigned)st, (size_t)n);
            if (st == STATUS_SUCCESS && n == 0)
                WT_FAIL("a receive on a reset connection ended with STATUS_SUCCESS and 0 bytes (a graceful close)");
        }
        CHECK_EQ(wt_irp_result(&w, d->WskCloseSocket(s, wt_irp_arm(&w))), STATUS_SUCCESS);
        wt_irp_free(&w);
        IoFreeMdl(mdl);
        wt_wsk_close(&t);
    }
}

/* After its own WskDisconnect(WSK_FLAG_ABORTIVE), a socket with receive
 * events used to hand out data it had read before the abort and then end
 * receives with STATUS_SUCCESS and 0 bytes (a graceful close), where the
 * same socket without events failed them.  Fixed; pinned in CI by
 * test_wsk_receive_events (own_abort_ends_receives_as_without_events).
 * Run this reproducer with OPENWSK_STRESS_REPRO=abort-events. */
static volatile LONG abort_events_calls;

static NTSTATUS WSKAPI st_decline_event(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                        SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    (void)DataIndication;
    (void)BytesIndicated;
    (void)BytesAccepted;
    InterlockedIncrement(&abort_events_calls);
    return STATUS_DATA_NOT_ACCEPTED; /* the data stays with the provider */
}

static const WSK_CLIENT_CONNECTION_DISPATCH st_decline_dispatch = {st_decline_event, NULL, NULL};

static void st_repro_receive_after_own_abort(void)
{
    for (int events = 1; events >= 0; events--) {
        wt_wsk t;
        wt_wsk_open(&t);
        int peer;
        abort_events_calls = 0;
        PWSK_SOCKET s = wp_connect(&t, NULL, events ? &st_decline_dispatch : NULL, &peer);
        if (s == NULL) {
            wt_wsk_close(&t);
            return;
        }
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        if (events)
            CHECK_EQ(wp_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
        CHECK_EQ(peer_send_all(peer, "data", 4), 4);
        if (events)
            CHECK(wp_spin_until(&abort_events_calls, 2000)); /* declined: buffered in the provider */
        else
            wp_sleep_us(50000); /* in the Linux socket */
        wt_irp w = {0};
        CHECK_EQ(wt_irp_result(&w, d->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&w))), STATUS_SUCCESS);
        static UCHAR buf[64];
        PMDL mdl = wp_mdl(buf, sizeof(buf));
        WSK_BUF b = {mdl, 0, sizeof(buf)};
        for (int i = 0; i < 2; i++) {
            NTSTATUS st = wt_irp_result(&w, d->WskReceive(s, &b, 0, wt_irp_arm(&w)));
            ULONG_PTR n = w.irp->IoStatus.Information;
            fprintf(stderr, "  %s: receive %d after the abort: 0x%x, %zu bytes\n", events ? "events" : "no events", i,
                    (unsigned)st, (size_t)n);
            if (st == STATUS_SUCCESS)
                WT_FAIL("%s: a receive after the socket's own abortive disconnect succeeded (%zu bytes)",
                        events ? "events" : "no events", (size_t)n);
        }
        CHECK_EQ(wt_irp_result(&w, d->WskCloseSocket(s, wt_irp_arm(&w))), STATUS_SUCCESS);
        wt_irp_free(&w);
        IoFreeMdl(mdl);
        peer_close(peer);
        wt_wsk_close(&t);
    }
}

/* ---- knobs ---- */

static BOOLEAN st_env_u64(const char *name, ULONG64 *out)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return FALSE;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "%s=\"%s\" ignored (expected a decimal number)\n", name, s);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

int main(void)
{
    wp_install_crash_note();
    ULONG64 first = 1, count = 3, ops = 2000, v = 0;
    /* Under a perturbation seed, the stress follows it: each perturb run
     * then covers other interleavings too. */
    if (st_env_u64("OPENWSK_PERTURB", &v) || st_env_u64("OPENWSK_PERTURB_SEED", &v))
        first = v;
    if (st_env_u64("OPENWSK_STRESS_SEED", &v)) {
        first = v;
        count = 1;
    }
    if (st_env_u64("OPENWSK_STRESS_SEEDS", &v) && v > 0)
        count = v;
#ifdef WP_TSAN
    ops = 1000; /* ThreadSanitizer runs it 3-4 times slower */
#endif
#ifdef WP_TSAN
    /* Known: on the epoll backend ThreadSanitizer reports the abortive
     * disconnect's connect(AF_UNSPEC) (which it models as creating the
     * descriptor anew) racing the engine thread's epoll_ctl on the same
     * descriptor.  Off there by default; OPENWSK_STRESS_ABORTIVE=1 forces
     * them on (README.md, "Timing bugs"). */
    const char *backend = getenv("OPENWSK_IO_BACKEND");
    if (backend != NULL && strcmp(backend, "epoll") == 0)
        g_abortive = FALSE;
#endif
    if (st_env_u64("OPENWSK_STRESS_STRICT_RESET", &v))
        g_strict_reset = v != 0;
    if (st_env_u64("OPENWSK_STRESS_EVENTS", &v))
        g_events_on = v != 0;
    if (st_env_u64("OPENWSK_STRESS_UDP", &v))
        g_udp_on = v != 0;
    if (st_env_u64("OPENWSK_STRESS_ABORTIVE", &v))
        g_abortive = v != 0;
    if (st_env_u64("OPENWSK_STRESS_OPS", &v) && v > 0)
        ops = v;
    g_verbose = st_env_u64("OPENWSK_STRESS_VERBOSE", &v) && v != 0;
    const char *repro = getenv("OPENWSK_STRESS_REPRO");
    if (repro != NULL && strcmp(repro, "abortive") == 0) {
        WT_RUN(st_repro_abortive_racing_receive);
        return wt_finish();
    }
    if (repro != NULL && strcmp(repro, "abort-events") == 0) {
        WT_RUN(st_repro_receive_after_own_abort);
        return wt_finish();
    }
    if (repro != NULL && strcmp(repro, "reset") == 0) {
        WT_RUN(st_repro_reset_reads_as_fin);
        return wt_finish();
    }
    WT_RUN(st_repro_reset_reads_as_fin);
    WT_RUN(st_repro_receive_after_own_abort);
    for (ULONG64 seed = first; seed < first + count; seed++) {
        fprintf(stderr, "case stress seed %llu (rerun: OPENWSK_STRESS_SEED=%llu OPENWSK_STRESS_OPS=%llu)\n",
                (unsigned long long)seed, (unsigned long long)seed, (unsigned long long)ops);
        wt_case_failed = 0;
        st_run(seed, (long)ops);
        if (g_failures != 0 || wt_case_failed) {
            wt_cases_failed++;
            fprintf(stderr, "  -> FAILED (seed %llu)\n", (unsigned long long)seed);
        } else {
            wt_cases_passed++;
        }
    }
    return wt_finish();
}
