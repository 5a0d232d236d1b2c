/*
 * wsk_req.c - the request lifecycle (see wsk_req.h): take, pend, submit,
 * cancel, decide, finish, deliver, and the close drain.
 *
 * Completion and cancellation meet under the socket lock: whichever of the
 * engine's completion and the IRP's cancel routine comes second completes
 * the IRP, so it completes exactly once, and the request stays valid until
 * then.
 */
#include "wsk_internal.h"
#include "wsk_linux.h"

#include <errno.h>

#define WSK_TAG_REQUEST TAG_FROM_CHARS('W', 's', 'k', 'R')

_Static_assert(sizeof(wsk_req) + 16 <= 1032, "a request should stay a small allocation (wsk_req.h)");

/* ---- taking and giving back ---- */

wsk_req *wsk_req_take_locked(wsk_socket *s, wsk_req_kind kind, const wsk_req_ops *ops, ULONG segments)
{
    wsk_req *r;
    if (!IsListEmpty(&s->free_reqs)) {
        r = CONTAINING_RECORD(RemoveHeadList(&s->free_reqs), wsk_req, link);
    } else {
        r = openwsk_pool_alloc(sizeof(*r), WSK_TAG_REQUEST, TRUE);
        if (r == NULL)
            return NULL;
        r->seg = r->inline_seg;
        r->seg_capacity = WSK_REQ_INLINE_SEGMENTS;
    }
    if (segments > r->seg_capacity) {
        wsk_io_segment *bigger = openwsk_pool_alloc(segments * sizeof(wsk_io_segment), WSK_TAG_REQUEST, FALSE);
        if (bigger == NULL) {
            InsertHeadList(&s->free_reqs, &r->link);
            return NULL;
        }
        if (r->seg != r->inline_seg)
            openwsk_pool_free(r->seg);
        r->seg = bigger;
        r->seg_capacity = segments;
    }
    r->socket = s;
    r->irp = NULL;
    r->kind = kind;
    r->ops = ops;
    r->flags = 0;
    r->io_finished = FALSE;
    r->cancel_claimed = FALSE;
    r->queued = FALSE;
    r->awaiting_cancel = FALSE;
    r->ordered_send = FALSE;
    r->result = 0;
    r->transferred = 0;
    r->wanted = 0;
    r->adverse_length = 0;
    r->seg_count = segments;
    r->seg_first = 0;
    /* The data path's kinds use two pointers of the union (u.recv; u.read
     * overlays the first): clearing those is enough, and the union is
     * 200 bytes (u.to's address).  Every other kind gets it all cleared. */
    if (kind == WSK_REQ_SEND || kind == WSK_REQ_RECEIVE || kind == WSK_REQ_RX_READ) {
        r->u.recv.control_length_out = NULL;
        r->u.recv.control_flags_out = NULL;
    } else {
        __builtin_memset(&r->u, 0, sizeof(r->u));
    }
    InitializeListHead(&r->queue_link);
    return r;
}

void wsk_req_release_locked(wsk_socket *s, wsk_req *r)
{
    r->irp = NULL;
    InsertHeadList(&s->free_reqs, &r->link);
}

void wsk_req_free_all(wsk_socket *s)
{
    while (!IsListEmpty(&s->free_reqs)) {
        wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->free_reqs), wsk_req, link);
        if (r->seg != r->inline_seg)
            openwsk_pool_free(r->seg);
        openwsk_pool_free(r);
    }
}

void wsk_req_advance_segments(wsk_req *r, SIZE_T n)
{
    while (n > 0 && r->seg_first < r->seg_count) {
        wsk_io_segment *g = &r->seg[r->seg_first];
        if (n >= g->length) {
            n -= g->length;
            r->seg_first++;
        } else {
            g->base = (char *)g->base + n;
            g->length -= n;
            n = 0;
        }
    }
}

/* ---- pending ---- */

static void req_cancel_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp);

void wsk_req_pend_locked(wsk_socket *s, wsk_req *r, PIRP irp)
{
    r->irp = irp;
    wsk_irp_begin_pending(irp);
    irp->Tail.Overlay.DriverContext[0] = r;
    InsertTailList(&s->pending, &r->link);
    IoSetCancelRoutine(irp, req_cancel_routine);
    /* Cancelled before the routine was in place: cancel as soon as submitted. */
    if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL)
        r->cancel_claimed = TRUE;
}

void wsk_req_track_locked(wsk_socket *s, wsk_req *r)
{
    InsertTailList(&s->pending, &r->link);
}

void wsk_req_after_submit_locked(wsk_req *r)
{
    if (r->cancel_claimed && !r->io_finished)
        wsk_io_cancel(&r->io);
}

/* ---- close bookkeeping ---- */

BOOLEAN wsk_close_may_finish_locked(wsk_socket *s)
{
    if (!s->closing || s->close_irp == NULL || !IsListEmpty(&s->pending) || s->callbacks != 0 ||
        s->destroy_claimed)
        return FALSE;
    s->destroy_claimed = TRUE;
    return TRUE;
}

void wsk_socket_unhold(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    s->callbacks--;
    BOOLEAN destroy = wsk_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

/* ---- finishing and delivering ---- */

NTSTATUS wsk_req_status_from_result(long result)
{
    return result >= 0 ? STATUS_SUCCESS : wsk_status_from_errno((int)-result);
}

/* Decides the outcome and recycles the request; lock held.  The delivery
 * that follows holds a callbacks reference (rule 2): a close waits until
 * the IRP's completion routine has returned. */
static void req_finish_locked(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->irp = r->irp;
    out->status = STATUS_SUCCESS;
    out->information = 0;
    out->destroy_first = NULL;
    out->kick = NULL;
    out->lets_decided_go = s->decided_after == r ? s : NULL;
    if (r->ops != NULL && r->ops->finish != NULL)
        r->ops->finish(s, r, out);
    RemoveEntryList(&r->link);
    wsk_req_release_locked(s, r);
    if (out->destroy_first == NULL)
        s->callbacks++; /* dropped by req_deliver once IoCompleteRequest returned */
}

/* Completes the IRP; the delivery's reference is still held after it. */
static void req_deliver_held(const wsk_req_outcome *out)
{
    if (out->destroy_first != NULL)
        wsk_socket_destroy(out->destroy_first); /* the client never saw it: nothing to wait for */
    if (out->kick != NULL)
        wsk_rx_kick(out->kick); /* before the client can close it */
    wsk_irp_finish(out->irp, out->status, out->information);
    if (out->lets_decided_go != NULL) {
        wsk_socket *s = out->lets_decided_go;
        pthread_mutex_lock(&s->lock);
        s->decided_after = NULL; /* the callers' kicks complete them now */
        s->decided_hold = NULL;
        pthread_mutex_unlock(&s->lock);
    }
}

static void req_deliver(wsk_socket *s, const wsk_req_outcome *out)
{
    req_deliver_held(out);
    if (out->lets_decided_go != NULL)
        wsk_rx_kick(s); /* the receives the close decided behind this one */
    if (out->destroy_first == NULL)
        wsk_socket_unhold(s); /* may complete a close that waited for this IRP */
}

static void req_finish_and_deliver_kick(wsk_socket *s, wsk_req *r, BOOLEAN kick)
{
    wsk_req_outcome out;
    req_finish_locked(s, r, &out);
    if (kick && out.kick == NULL && out.destroy_first == NULL)
        out.kick = s;
    pthread_mutex_unlock(&s->lock);
    req_deliver(s, &out);
}

static void req_finish_and_deliver(wsk_socket *s, wsk_req *r)
{
    req_finish_and_deliver_kick(s, r, FALSE);
}

/* r found the end of the stream (hold_at_end_locked): its IRP completes
 * first, then the decided list is let go and the kick completes the
 * receives decided behind it, in order. */
static void req_finish_and_deliver_at_end(wsk_socket *s, wsk_req *r)
{
    wsk_req_outcome out;
    req_finish_locked(s, r, &out); /* a receive: it holds the delivery's reference */
    pthread_mutex_unlock(&s->lock);
    req_deliver_held(&out);
    pthread_mutex_lock(&s->lock);
    s->decided_busy = FALSE;
    pthread_mutex_unlock(&s->lock);
    wsk_rx_kick_held(s); /* drops the delivery's reference */
}

/* ---- provider wait lists, and the per-socket order (rules 3 and 4) ---- */

BOOLEAN wsk_req_queue_locked(wsk_socket *s, wsk_req *r, PLIST_ENTRY queue)
{
    if (r->cancel_claimed) {
        r->io_finished = TRUE;
        r->result = -ECANCELED;
        InsertTailList(&s->decided, &r->queue_link);
        return TRUE;
    }
    r->queued = TRUE;
    InsertTailList(queue, &r->queue_link);
    return FALSE;
}

/* Legal adversity ("short"): a receive asks the kernel for fewer bytes
 * than its buffer holds, so it completes with less than was available, as
 * any TCP segmentation may make it do on Windows (a WAITALL receive then
 * simply takes more rounds).  The segment cut short gets its length back
 * in wsk_req_io_done. */
static ULONG adverse_receive_segments(wsk_socket *s, wsk_req *r)
{
    if (r->kind != WSK_REQ_RECEIVE || (r->flags & WSK_FLAG_DRAIN) || r->wanted < 2 ||
        !openwsk_adversity_stream_one_in(&s->adversity, 2))
        return r->seg_count;
    SIZE_T cap = openwsk_adversity_stream_pick(&s->adversity,
                                               (uint32_t)(r->wanted - 1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : r->wanted - 1));
    SIZE_T left = cap;
    ULONG i = 0;
    for (; i < r->seg_count && left > r->seg[i].length; i++)
        left -= r->seg[i].length;
    if (i >= r->seg_count)
        return r->seg_count;
    r->adverse_segment = i;
    r->adverse_length = r->seg[i].length;
    r->seg[i].length = left;
    openwsk_adversity_event(OPENWSK_ADVERSE_SHORT_RECEIVE, "socket #%u: WskReceive%s asks for %zu of its %zu bytes",
                            s->adversity.ordinal, (r->flags & WSK_FLAG_WAITALL) ? " (WAITALL)" : "", (size_t)cap,
                            (size_t)r->wanted);
    return i + 1;
}

/* The adversity paths are whole functions reached by a tail call, so
 * that the fast path pays one test for them. */
static __attribute__((noinline, cold)) BOOLEAN submit_receive_adverse(wsk_socket *s, wsk_req *r)
{
    ULONG count = adverse_receive_segments(s, r);
    wsk_io_recv(&r->io, s->fd, r->seg, count, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    return FALSE;
}

/* Hands r to the engine as the socket's active receive. */
static void submit_receive_to_engine_locked(wsk_socket *s, wsk_req *r)
{
    s->recv_active = r;
    if (openwsk_adverse(OPENWSK_ADVERSE_SHORT_RECEIVE)) {
        (void)submit_receive_adverse(s, r);
        return;
    }
    wsk_io_recv(&r->io, s->fd, r->seg, r->seg_count, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
}

BOOLEAN wsk_req_submit_receive_locked(wsk_socket *s, wsk_req *r)
{
    if (s->recv_active != NULL)
        return wsk_req_queue_locked(s, r, &s->recv_wait);
    submit_receive_to_engine_locked(s, r);
    return FALSE;
}

/* Legal adversity ("slowsend"): the smallest send buffer Linux allows,
 * so that sends wait for the peer to read, as towards a slow peer. */
static void adverse_slow_sender(wsk_socket *s)
{
    ULONG small = 4096;
    s->adversity.send_slowed = 1;
    if (lx_set_option(s->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small), 0) == 0)
        openwsk_adversity_event(OPENWSK_ADVERSE_SLOW_SEND, "socket #%u: its send buffer is made small",
                                s->adversity.ordinal);
}

static inline void submit_send(wsk_socket *s, wsk_req *r)
{
    r->ordered_send = TRUE;
    s->sends_active++;
    wsk_io_send(&r->io, s->fd, r->seg, r->seg_count, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
}

static __attribute__((noinline, cold)) void submit_send_adverse(wsk_socket *s, wsk_req *r)
{
    if (!s->adversity.send_slowed && (s->category == WSK_CATEGORY_CONNECTION || s->category == WSK_CATEGORY_STREAM)) {
        (void)openwsk_adversity_stream_one_in(&s->adversity, 1); /* gives the socket its ordinal */
        adverse_slow_sender(s);
    }
    submit_send(s, r);
}

void wsk_req_submit_send_locked(wsk_socket *s, wsk_req *r)
{
    if (openwsk_adverse(OPENWSK_ADVERSE_SLOW_SEND)) {
        submit_send_adverse(s, r);
        return;
    }
    submit_send(s, r);
}

BOOLEAN wsk_req_submit_disconnect_locked(wsk_socket *s, wsk_req *r)
{
    if (s->sends_active > 0)
        return wsk_req_queue_locked(s, r, &s->disconnect_wait);
    wsk_io_post(&r->io, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    return FALSE;
}

/* r found the end of the stream (the peer's FIN or reset).  The receives
 * waiting behind it would get 0 bytes from Linux at once: they are decided
 * with that answer here, without a call each (a driver that keeps two
 * receives posted, as Microsoft's echo sample does, otherwise makes one
 * more recv per connection).  They complete after r, in their order: the
 * decided list stays busy until r's IRP has completed
 * (req_finish_and_deliver_at_end).  Receives posted later still go to the
 * engine: one decided at its call could complete before r's IRP, which
 * another thread may be about to complete.  FALSE, and nothing changed, if
 * another thread is completing decided requests (the engine then answers
 * the next receives, in order). */
static BOOLEAN hold_at_end_locked(wsk_socket *s)
{
    if (s->decided_busy)
        return FALSE;
    while (!IsListEmpty(&s->recv_wait)) {
        /* It stays `queued` for a cancel routine already on its way. */
        wsk_req *next = CONTAINING_RECORD(RemoveHeadList(&s->recv_wait), wsk_req, queue_link);
        wsk_req_decide_queued_locked(s, next, 0);
    }
    s->decided_busy = TRUE;
    return TRUE;
}

/* r's engine work is over: the next receive or a waiting disconnect goes
 * in.  TRUE when the engine receives are all done on a socket whose event
 * reader must now take over.  *held: r found the end of the stream and
 * hold_at_end_locked took over the receives behind it. */
static BOOLEAN order_release_locked(wsk_socket *s, wsk_req *r, BOOLEAN at_end, BOOLEAN *held)
{
    BOOLEAN reader = FALSE;
    *held = FALSE;
    if (r == s->recv_active) {
        s->recv_active = NULL;
        if (at_end && !s->closing && !s->rx_mode && hold_at_end_locked(s)) {
            *held = TRUE;
        } else if (!IsListEmpty(&s->recv_wait) && !s->closing) {
            wsk_req *next = CONTAINING_RECORD(RemoveHeadList(&s->recv_wait), wsk_req, queue_link);
            next->queued = FALSE;
            submit_receive_to_engine_locked(s, next); /* queued: never cancelled before */
        } else {
            reader = s->rx_mode;
        }
    }
    if (r->ordered_send) {
        r->ordered_send = FALSE;
        if (--s->sends_active == 0 && !IsListEmpty(&s->disconnect_wait) && !s->closing) {
            wsk_req *d = CONTAINING_RECORD(RemoveHeadList(&s->disconnect_wait), wsk_req, queue_link);
            d->queued = FALSE;
            (void)wsk_req_submit_disconnect_locked(s, d);
        }
    }
    return reader;
}

void wsk_req_io_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    pthread_mutex_lock(&s->lock);
    if (r->adverse_length != 0) { /* legal adversity cut a segment: give it back its length */
        r->seg[r->adverse_segment].length = r->adverse_length;
        r->adverse_length = 0;
    }
    if (r->ops != NULL && r->ops->progress != NULL && r->ops->progress(s, r, result, transferred)) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    r->result = result;
    r->io_finished = TRUE;
    BOOLEAN ours = IoSetCancelRoutine(r->irp, NULL) != NULL || r->cancel_claimed;
    /* The end of the stream: the peer's FIN (a receive that asked for
     * bytes got none) or its reset (Linux then answers 0, which data_finish
     * reports as the reset, as Windows keeps doing). */
    BOOLEAN at_end = ours && !r->cancel_claimed &&
                     (wsk_req_found_fin(r) || (r->kind == WSK_REQ_RECEIVE && result == -ECONNRESET));
    BOOLEAN held;
    BOOLEAN kick = order_release_locked(s, r, at_end, &held);
    if (held) {
        req_finish_and_deliver_at_end(s, r);
        return;
    }
    if (!ours) {
        /* A cancel routine is on its way; it completes the IRP, after which
         * a close may finish: the kick needs a reference of its own. */
        if (kick)
            s->callbacks++;
        pthread_mutex_unlock(&s->lock);
        if (kick)
            wsk_rx_kick_held(s);
        return;
    }
    req_finish_and_deliver_kick(s, r, kick);
}

/* A queued request leaves its wait list cancelled; bytes a receive already
 * copied are not lost (it completes with them).  A drain's bytes were
 * thrown away: it stays cancelled, with its count (as on the engine path). */
static void decide_cancelled_locked(wsk_socket *s, wsk_req *r)
{
    RemoveEntryList(&r->queue_link);
    r->io_finished = TRUE;
    r->result = r->transferred > 0 && !(r->flags & WSK_FLAG_DRAIN) ? (long)r->transferred : -ECANCELED;
    InsertTailList(&s->decided, &r->queue_link);
}

/* Requests decided from `first` on complete after `active`, the receive in
 * the engine (rule 3): those decided before them still go at once.  A
 * hold already in place for the same receive starts earlier and covers
 * them. */
static void hold_behind_locked(wsk_socket *s, wsk_req *active, wsk_req *first)
{
    if (s->decided_after != NULL)
        return;
    s->decided_after = active;
    s->decided_hold = first;
}

static void req_cancel_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    wsk_req *r = Irp->Tail.Overlay.DriverContext[0];
    wsk_socket *s = r->socket;
    openwsk_perturb_point(); /* schedule perturbation: the request may be decided meanwhile */
    pthread_mutex_lock(&s->lock);
    if (r->queued) {
        /* Waiting on a provider list: no engine operation to cancel. */
        if (!r->io_finished) {
            decide_cancelled_locked(s, r);
            /* A receive behind one whose cancel is already on its way to
             * the engine completes after it, not before (rule 3). */
            wsk_req *active = s->recv_active;
            if (r->kind == WSK_REQ_RECEIVE && active != NULL && active->cancel_claimed && !active->io_finished)
                hold_behind_locked(s, active, r);
        } else {
            /* Decided while this routine was on its way: it waits in
             * s->decided, in its place, for us to let it go. */
            r->awaiting_cancel = FALSE;
        }
        s->callbacks++; /* the request is still pending: the socket is alive */
        pthread_mutex_unlock(&s->lock);
        wsk_rx_kick_held(s);
        return;
    }
    if (!r->io_finished) {
        r->cancel_claimed = TRUE;
        wsk_io_cancel(&r->io); /* the engine's completion will complete the IRP */
        pthread_mutex_unlock(&s->lock);
        return;
    }
    req_finish_and_deliver(s, r);
}

/* ---- queued requests ---- */

void wsk_req_decide_queued_locked(wsk_socket *s, wsk_req *r, long result)
{
    r->io_finished = TRUE;
    r->result = result;
    /* Filed now, in decision order (rule 3); if its cancel routine is
     * running, the IRP may complete only once that routine has been. */
    if (IoSetCancelRoutine(r->irp, NULL) == NULL && !r->cancel_claimed)
        r->awaiting_cancel = TRUE;
    InsertTailList(&s->decided, &r->queue_link);
}

BOOLEAN wsk_req_complete_decided(wsk_socket *s)
{
    /* One thread at a time, so that queued receives complete in the order
     * they were decided even when a client thread and an engine thread
     * both run the socket's queued path. */
    if (IsListEmpty(&s->decided) || s->decided_busy)
        return FALSE;
    if (s->decided_after != NULL && CONTAINING_RECORD(s->decided.Flink, wsk_req, queue_link) == s->decided_hold)
        return FALSE; /* it and those behind it follow the engine's receive */
    if (CONTAINING_RECORD(s->decided.Flink, wsk_req, queue_link)->awaiting_cancel)
        return FALSE; /* its cancel routine lets it (and those behind it) go */
    s->decided_busy = TRUE;
    wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->decided), wsk_req, queue_link);
    wsk_req_outcome out;
    req_finish_locked(s, r, &out);
    pthread_mutex_unlock(&s->lock);
    req_deliver_held(&out);
    pthread_mutex_lock(&s->lock);
    s->decided_busy = FALSE;
    if (out.destroy_first == NULL)
        s->callbacks--; /* the delivery's; the caller's own reference keeps the socket */
    pthread_mutex_unlock(&s->lock);
    return TRUE;
}

/* ---- close ---- */

BOOLEAN wsk_req_begin_close(wsk_socket *s, PIRP close_irp, BOOLEAN *deliver_cancelled)
{
    pthread_mutex_lock(&s->lock);
    s->closing = TRUE;
    /* Receives queued behind the one in the engine are decided here, at
     * once; they complete after it (rule 3), which may yet bring bytes. */
    wsk_req *active = s->recv_active != NULL && !s->recv_active->io_finished ? s->recv_active : NULL;
    wsk_req *first_decided = NULL;
    for (PLIST_ENTRY e = s->pending.Flink; e != &s->pending; e = e->Flink) {
        wsk_req *r = CONTAINING_RECORD(e, wsk_req, link);
        if (r->io_finished || r->cancel_claimed)
            continue;
        if (r->queued) {
            if (IoSetCancelRoutine(r->irp, NULL) != NULL) {
                decide_cancelled_locked(s, r);
                if (first_decided == NULL)
                    first_decided = r;
            }
            continue;
        }
        if (r->irp == NULL) { /* an internal request (accept events, the readers) */
            r->cancel_claimed = TRUE;
            wsk_io_cancel(&r->io);
            continue;
        }
        /* Take the cancellation from the IRP's cancel routine, or leave it
         * to a routine that is already running. */
        if (IoSetCancelRoutine(r->irp, NULL) != NULL) {
            r->cancel_claimed = TRUE;
            wsk_io_cancel(&r->io);
        }
    }
    if (active != NULL && first_decided != NULL)
        hold_behind_locked(s, active, first_decided);
    /* Cancelled queued requests stay pending until the caller delivers them,
     * so the socket cannot go away before it does. */
    *deliver_cancelled = !IsListEmpty(&s->decided);
    if (*deliver_cancelled)
        s->callbacks++; /* dropped by the caller's wsk_rx_kick_held */
    if (IsListEmpty(&s->pending) && s->callbacks == 0) {
        s->destroy_claimed = TRUE;
        pthread_mutex_unlock(&s->lock);
        return TRUE;
    }
    wsk_irp_begin_pending(close_irp);
    s->close_irp = close_irp;
    pthread_mutex_unlock(&s->lock);
    return FALSE;
}
