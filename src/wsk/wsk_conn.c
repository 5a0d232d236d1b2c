/*
 * wsk_conn.c - connection-oriented operations on the I/O engine: WskAccept,
 * WskConnect, WskSend, WskReceive, WskDisconnect, and the cancellation and
 * close protocol they share (wsk-part-a.md §6–§7, wsk-part-b.md §5, §10).
 *
 * Every operation is a wsk_req of its socket, reused from a free list.  Its
 * IRP carries a cancel routine while in flight.  Completion and cancellation
 * meet under the socket lock: whichever of the engine's completion and the
 * cancel routine comes second completes the IRP, so it completes exactly
 * once, and the request stays valid until then.
 */
#include "wsk_internal.h"
#include <stdio.h>

#include <errno.h>

#include "wsk_linux.h"

#define WSK_TAG_REQUEST TAG_FROM_CHARS('W', 's', 'k', 'R')

static void rx_kick_held(wsk_socket *s);

/* Where WSK_FLAG_DRAIN receives put the data they discard (only the
 * kernel writes it; nobody reads it). */
static UCHAR drain_scratch[16384];

/* ---- requests ---- */

static wsk_req *req_take(wsk_socket *s, ULONG segments)
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
    r->io_finished = FALSE;
    r->cancel_claimed = FALSE;
    r->result = 0;
    r->transferred = 0;
    r->wanted = 0;
    r->seg_count = segments;
    r->seg_first = 0;
    r->local_out = r->remote_out = NULL;
    r->connected_phase = FALSE;
    r->queued = FALSE;
    r->rx_block = NULL;
    r->accepted = NULL;
    r->control_length_out = NULL;
    r->control_flags_out = NULL;
    r->dg_truncated = FALSE;
    r->control_out = NULL;
    r->control_capacity = 0;
    r->dg_control_written = 0;
    r->dg_control_cut = FALSE;
    r->dg_destination_flags = 0;
    r->dg_next = NULL;
    r->dg_has_to = FALSE;
    r->dg_has_control = FALSE;
    return r;
}

static void req_release_locked(wsk_socket *s, wsk_req *r)
{
    r->irp = NULL;
    InsertHeadList(&s->free_reqs, &r->link);
}

void wsk_conn_free_requests(wsk_socket *s)
{
    while (!IsListEmpty(&s->free_reqs)) {
        wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->free_reqs), wsk_req, link);
        if (r->seg != r->inline_seg)
            openwsk_pool_free(r->seg);
        openwsk_pool_free(r);
    }
}

static void req_cancel_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* Takes the IRP into the socket's pending list; called with the lock held
 * before the engine operation is submitted. */
static void req_pend_locked(wsk_socket *s, wsk_req *r, PIRP irp)
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

static void req_after_submit_locked(wsk_req *r)
{
    if (r->cancel_claimed && !r->io_finished)
        wsk_io_cancel(&r->io);
}

/* A close waiting for this socket can finish (nothing pending, no callback
 * running): the first caller to see it claims the destruction, so that two
 * threads finishing the last pieces at once never both destroy it. */
BOOLEAN wsk_conn_close_may_finish_locked(wsk_socket *s)
{
    if (!s->closing || s->close_irp == NULL || !IsListEmpty(&s->pending) || s->callbacks != 0 ||
        s->destroy_claimed)
        return FALSE;
    s->destroy_claimed = TRUE;
    return TRUE;
}

/* What a finished request reports, and the accepted socket if any. */
typedef struct req_outcome {
    PIRP irp;
    NTSTATUS status;
    ULONG_PTR information;
    wsk_socket *destroy; /* the socket, when this completion ends its close */
    BOOLEAN destroy_first; /* destroy before completing (a socket the client never saw) */
    wsk_socket *kick;      /* a socket whose receive path starts now (static events) */
} req_outcome;

static NTSTATUS req_status_from_result(long result)
{
    return result >= 0 ? STATUS_SUCCESS : wsk_status_from_errno((int)-result);
}

/* Errors after which a Linux listener accepts nothing more (it was shut
 * down, or its fd is gone); the others concern one connection or are
 * transient. */
static BOOLEAN accept_error_is_fatal(long result)
{
    return result == -EINVAL || result == -EBADF || result == -ENOTSOCK || result == -EOPNOTSUPP;
}

static void req_accept_outcome(wsk_socket *listener, wsk_req *r, req_outcome *out)
{
    if (r->result < 0) {
        out->status = req_status_from_result(r->result);
        if (accept_error_is_fatal(r->result)) {
            listener->listener_failed = TRUE;
            out->status = STATUS_FILE_FORCED_CLOSED; /* the listener is unusable */
        }
        return;
    }
    if (r->accepted != NULL) {
        /* A connection conditional accept already took: hand it over. */
        wsk_socket *child = r->accepted;
        child->context = r->accept_context;
        child->client_dispatch = r->accept_dispatch;
        SOCKADDR_STORAGE a;
        size_t len;
        if (r->remote_out != NULL && lx_remote_address(child->fd, &a, &len) == 0)
            __builtin_memcpy(r->remote_out, &a, len);
        if (r->local_out != NULL) {
            wsk_accepted_local_address(listener, child->fd, &a);
            __builtin_memcpy(r->local_out, &a, wsk_sockaddr_size(listener->family));
        }
        out->status = STATUS_SUCCESS;
        out->information = (ULONG_PTR)&child->pub;
        if (child->rx_mode)
            out->kick = child;
        return;
    }
    int fd = (int)r->result;
    wsk_socket *child = NULL;
    NTSTATUS st = wsk_socket_adopt(listener->client, listener->family, fd, r->accept_context, r->accept_dispatch,
                                   &child);
    if (NT_SUCCESS(st) && listener->category == WSK_CATEGORY_STREAM) {
        /* A stream listener's connections are stream sockets (committed to a connection). */
        child->category = WSK_CATEGORY_STREAM;
        child->pub.Dispatch = wsk_provider_table_for(WSK_CATEGORY_STREAM);
    }
    if (!NT_SUCCESS(st)) {
        lx_reset_on_close(fd);
        wsk_io_forget_fd(fd);
        lx_close(fd);
        out->status = st;
        return;
    }
    if (r->remote_out != NULL)
        wsk_io_accepted_peer(&r->io, r->remote_out);
    if (r->local_out != NULL) {
        SOCKADDR_STORAGE local;
        wsk_accepted_local_address(listener, fd, &local);
        __builtin_memcpy(r->local_out, &local, wsk_sockaddr_size(listener->family));
    }
    out->status = STATUS_SUCCESS;
    out->information = (ULONG_PTR)&child->pub;
    if (child->rx_mode)
        out->kick = child;
}

/* Decides the outcome and recycles the request; lock held. */
static void req_finish_locked(wsk_socket *s, wsk_req *r, req_outcome *out)
{
    out->irp = r->irp;
    out->information = 0;
    out->destroy = NULL;
    out->destroy_first = FALSE;
    out->kick = NULL;
    switch (r->kind) {
    case WSK_REQ_SOCKET_CONNECT:
        out->status = req_status_from_result(r->result);
        if (r->result == -ECONNREFUSED)
            out->status = STATUS_CONNECTION_REFUSED;
        if (NT_SUCCESS(out->status)) {
            s->connected = TRUE;
            out->information = (ULONG_PTR)&s->pub;
            if (s->rx_mode)
                out->kick = s;
        } else {
            s->closing = TRUE; /* the client never saw it: no socket is returned */
            out->destroy = s;
            out->destroy_first = TRUE;
        }
        break;
    case WSK_REQ_ACCEPT_EVENT:
    case WSK_REQ_RX_READ: /* internal: never finished through an IRP */
    case WSK_REQ_DGRAM_READ:
        out->status = STATUS_SUCCESS;
        break;
    case WSK_REQ_CONNECT_EX:
        out->status = req_status_from_result(r->result);
        if (r->result == -ECONNREFUSED)
            out->status = STATUS_CONNECTION_REFUSED;
        if (r->connected_phase)
            s->connected = TRUE; /* connected even if the first send then failed */
        out->information = r->transferred; /* bytes of the optional buffer sent */
        break;
    case WSK_REQ_ACCEPT:
        req_accept_outcome(s, r, out);
        break;
    case WSK_REQ_CONNECT:
        out->status = req_status_from_result(r->result);
        if (NT_SUCCESS(out->status)) {
            s->connected = TRUE;
            if (s->rx_mode)
                out->kick = s;
        }
        else if (r->result == -ECONNREFUSED)
            out->status = STATUS_CONNECTION_REFUSED;
        break;
    case WSK_REQ_SEND:
    case WSK_REQ_RECEIVE:
        out->status = req_status_from_result(r->result);
        out->information = r->transferred;
        if (r->control_length_out != NULL)
            *r->control_length_out = 0; /* TCP delivers no control data */
        if (r->control_flags_out != NULL)
            *r->control_flags_out = 0;
        if (r->kind == WSK_REQ_RECEIVE && r->result == 0 && r->wanted > 0 && r->transferred < r->wanted)
            s->receive_shut = TRUE; /* the peer's FIN */
        if (r->kind == WSK_REQ_SEND && (s->events & WSK_EVENT_SEND_BACKLOG))
            wsk_backlog_schedule_locked(s); /* the window may have moved */
        break;
    case WSK_REQ_SEND_TO:
    case WSK_REQ_SEND_MESSAGES:
        out->status = req_status_from_result(r->result);
        if (r->result == -EMSGSIZE)
            out->status = STATUS_INVALID_BUFFER_SIZE; /* larger than a datagram can be */
        /* WskSendMessages that fails part-way reports what went out before. */
        out->information = NT_SUCCESS(out->status) || r->kind == WSK_REQ_SEND_MESSAGES ? r->transferred : 0;
        break;
    case WSK_REQ_RECEIVE_FROM:
        out->status = req_status_from_result(r->result);
        if (r->result >= 0) {
            /* A queued receive was served by the event reader, which filled
             * the address and noted the truncation itself. */
            int truncated = r->dg_truncated;
            if (!r->queued)
                wsk_io_received_from(&r->io, r->remote_out, &truncated);
            out->information = (ULONG_PTR)r->result;
            /* The rest of a datagram too large for the buffer is lost; the
             * transport reports it as TDI and AFD do (docs/decisions.md). */
            if (truncated)
                out->status = STATUS_BUFFER_OVERFLOW;
            if (r->control_length_out != NULL) {
                /* Control data (IP_PKTINFO...) in Windows' layout, as much as fits. */
                int cut = r->dg_control_cut;
                ULONG written = r->dg_control_written;
                unsigned destination = r->dg_destination_flags;
                if (!r->queued)
                    written = (ULONG)wsk_io_received_control(&r->io, s->pktinfo_wanted, r->control_out,
                                                             r->control_capacity, &cut, &destination);
                *r->control_length_out = written;
                if (r->control_flags_out != NULL)
                    *r->control_flags_out = (truncated ? MSG_TRUNC : 0) | (cut ? MSG_CTRUNC : 0) | destination;
            }
        }
        break;
    case WSK_REQ_DISCONNECT:
        out->status = req_status_from_result(r->result);
        if (NT_SUCCESS(out->status)) {
            int e = lx_shutdown_send(s->fd);
            out->status = e == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-e);
            if (e == 0)
                s->send_shut = TRUE;
        }
        break;
    }
    RemoveEntryList(&r->link);
    req_release_locked(s, r);
    if (wsk_conn_close_may_finish_locked(s))
        out->destroy = s;
}

static void req_deliver(const req_outcome *out)
{
    if (out->destroy != NULL && out->destroy_first)
        wsk_socket_destroy(out->destroy);
    if (out->kick != NULL)
        wsk_conn_rx_kick(out->kick); /* before the client can close it */
    wsk_irp_finish(out->irp, out->status, out->information);
    if (out->destroy != NULL && !out->destroy_first)
        wsk_socket_destroy(out->destroy);
}

static void accept_event_arm_locked(wsk_socket *s);
static BOOLEAN conditional_inspect(wsk_socket *s, wsk_socket *child, wsk_req *feeder);
static NTSTATUS conditional_accept_irp(wsk_socket *s, wsk_req *r, PIRP Irp);
static void conditional_drop_all(wsk_socket *s);

static void accept_event_leave(wsk_socket *s)
{
    LIST_ENTRY finished;
    pthread_mutex_lock(&s->lock);
    wsk_event_leave_locked(s, WSK_EVENT_ACCEPT, &finished);
    pthread_mutex_unlock(&s->lock);
    wsk_event_finish_disables(&finished);
}

/* The listener no longer works: later accepts fail with
 * STATUS_FILE_FORCED_CLOSED, and a client with accept events hears it once
 * through WskAcceptEvent(AcceptSocket = NULL) (wsk-part-a.md §6). */
static void listener_failed(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    s->listener_failed = TRUE;
    /* WskAccept calls a conditional listener queued fail too. */
    BOOLEAN fail_queued = !IsListEmpty(&s->acc_irps);
    while (!IsListEmpty(&s->acc_irps)) {
        wsk_req *q = CONTAINING_RECORD(RemoveHeadList(&s->acc_irps), wsk_req, rx_link);
        q->io_finished = TRUE;
        q->result = -EINVAL;
        if (IoSetCancelRoutine(q->irp, NULL) != NULL || q->cancel_claimed)
            InsertTailList(&s->rx_done, &q->rx_link);
        /* else its cancel routine is running and files it in rx_done */
    }
    if (fail_queued)
        s->callbacks++;
    const WSK_CLIENT_LISTEN_DISPATCH *events = s->client_dispatch;
    BOOLEAN indicate = !s->closing && !s->null_accept_indicated && (s->events & WSK_EVENT_ACCEPT) &&
                       events != NULL && events->WskAcceptEvent != NULL;
    if (indicate) {
        s->null_accept_indicated = TRUE;
        s->callbacks++;
        wsk_event_enter_locked(s, WSK_EVENT_ACCEPT);
    }
    pthread_mutex_unlock(&s->lock);
    if (fail_queued)
        rx_kick_held(s);
    if (!indicate)
        return;
    PVOID context = NULL;
    const WSK_CLIENT_CONNECTION_DISPATCH *dispatch = NULL;
    /* The return value has no meaning here (Microsoft's sample returns
     * STATUS_REQUEST_NOT_ACCEPTED); nothing was accepted either way. */
    (void)events->WskAcceptEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, NULL, NULL, NULL, &context, &dispatch);
    accept_event_leave(s);
    pthread_mutex_lock(&s->lock);
    s->callbacks--; /* the caller still holds the accept request: no close can finish here */
    pthread_mutex_unlock(&s->lock);
}

/* Offers an accepted connection to WskAcceptEvent (no lock held); a
 * declined one is reset. */
static BOOLEAN conditional_ready(wsk_socket *s, wsk_socket *child, BOOLEAN via_event_possible);

static void accept_event_offer(wsk_socket *s, wsk_socket *child, const SOCKADDR_STORAGE *remote)
{
    /* Decided under the lock: once a disable has returned, no new call starts. */
    pthread_mutex_lock(&s->lock);
    BOOLEAN on = (s->events & WSK_EVENT_ACCEPT) && !s->closing;
    if (on)
        wsk_event_enter_locked(s, WSK_EVENT_ACCEPT);
    pthread_mutex_unlock(&s->lock);
    if (!on) {
        /* Events went off meanwhile: the connection waits for a WskAccept. */
        (void)conditional_ready(s, child, FALSE);
        return;
    }
    /* The client may use (even close) the socket before its callback
     * returns: the child stays alive until we have stored its context. */
    child->callbacks = 1;
    SOCKADDR_STORAGE local;
    wsk_accepted_local_address(s, child->fd, &local);
    const WSK_CLIENT_LISTEN_DISPATCH *events = s->client_dispatch;
    PVOID context = NULL;
    const WSK_CLIENT_CONNECTION_DISPATCH *dispatch = NULL;
    NTSTATUS st = events->WskAcceptEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, (PSOCKADDR)&local,
                                         (PSOCKADDR)remote, &child->pub, &context, &dispatch);
    accept_event_leave(s);
    pthread_mutex_lock(&child->lock);
    BOOLEAN keep = NT_SUCCESS(st) && !child->closing;
    if (keep) {
        child->context = context;
        child->client_dispatch = dispatch;
    }
    pthread_mutex_unlock(&child->lock);
    if (keep)
        wsk_conn_inherit_events(s, child); /* still under our reference */
    pthread_mutex_lock(&child->lock);
    child->callbacks--;
    BOOLEAN closed_meanwhile = wsk_conn_close_may_finish_locked(child);
    pthread_mutex_unlock(&child->lock);
    if (closed_meanwhile) {
        wsk_socket_destroy(child); /* completes the client's close */
    } else if (!NT_SUCCESS(st)) {
        /* STATUS_REQUEST_NOT_ACCEPTED: the connection is reset. */
        child->closing = TRUE;
        wsk_socket_destroy(child);
    }
}

/* A connection arrived for a listener with WSK_EVENT_ACCEPT: hand it to the
 * client's WskAcceptEvent (no lock held), then wait for the next one. */
static void accept_event_done(wsk_socket *s, wsk_req *r, long result)
{
    wsk_socket *child = NULL;
    if (result >= 0) {
        int fd = (int)result;
        if (!NT_SUCCESS(wsk_socket_adopt(s->client, s->family, fd, NULL, NULL, &child))) {
            lx_reset_on_close(fd);
            wsk_io_forget_fd(fd);
            lx_close(fd);
        }
    }
    if (child != NULL && s->conditional_accept && !conditional_inspect(s, child, r))
        child = NULL; /* rejected, pended, or waiting for a WskAccept */
    if (child != NULL) {
        SOCKADDR_STORAGE remote;
        __builtin_memset(&remote, 0, sizeof(remote));
        wsk_io_accepted_peer(&r->io, &remote);
        accept_event_offer(s, child, &remote);
    }
    if (result < 0 && accept_error_is_fatal(result))
        listener_failed(s);
    pthread_mutex_lock(&s->lock);
    RemoveEntryList(&r->link);
    req_release_locked(s, r);
    if (!s->closing && !s->listener_failed && ((s->events & WSK_EVENT_ACCEPT) || s->conditional_accept))
        accept_event_arm_locked(s);
    BOOLEAN destroy = wsk_conn_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

/* Moves the segment window past n received bytes (WAITALL continuation). */
static void req_advance_segments(wsk_req *r, SIZE_T n)
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

static void req_io_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    if (r->kind == WSK_REQ_ACCEPT_EVENT) {
        pthread_mutex_lock(&s->lock);
        r->io_finished = TRUE;
        BOOLEAN deliver = !s->closing && ((s->events & WSK_EVENT_ACCEPT) || s->conditional_accept);
        pthread_mutex_unlock(&s->lock);
        if (!deliver && result >= 0) {
            /* Events were disabled or the listener is closing: nobody takes it. */
            lx_reset_on_close((int)result);
            lx_close((int)result);
            result = -ECANCELED;
        }
        accept_event_done(s, r, result);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (r->kind == WSK_REQ_CONNECT_EX && !r->connected_phase && result == 0) {
        r->connected_phase = TRUE;
        if (r->seg_count > 0 && !r->cancel_claimed && !s->closing) {
            /* Connected: now the buffer that rides with the connect. */
            wsk_io_send(&r->io, s->fd, r->seg, r->seg_count, req_io_done, r);
            pthread_mutex_unlock(&s->lock);
            return;
        }
    } else if (r->kind == WSK_REQ_CONNECT_EX && r->connected_phase) {
        r->transferred += transferred;
    }
    if (r->kind == WSK_REQ_SEND_MESSAGES) {
        r->transferred += transferred;
        if (result >= 0 && !r->cancel_claimed && !s->closing && wsk_dgram_send_next_locked(s, r)) {
            pthread_mutex_unlock(&s->lock);
            return;
        }
    } else if (r->kind == WSK_REQ_SEND || r->kind == WSK_REQ_DISCONNECT || r->kind == WSK_REQ_SEND_TO) {
        r->transferred += transferred;
    } else if (r->kind == WSK_REQ_RECEIVE && result > 0) {
        r->transferred += (SIZE_T)result;
        if ((r->flags & WSK_FLAG_DRAIN) && !r->cancel_claimed && !s->closing) {
            wsk_io_recv(&r->io, s->fd, r->seg, 1, req_io_done, r); /* keep discarding */
            pthread_mutex_unlock(&s->lock);
            return;
        }
        if ((r->flags & WSK_FLAG_WAITALL) && r->transferred < r->wanted && !r->cancel_claimed && !s->closing) {
            req_advance_segments(r, (SIZE_T)result);
            wsk_io_recv(&r->io, s->fd, r->seg + r->seg_first, r->seg_count - r->seg_first, req_io_done, r);
            pthread_mutex_unlock(&s->lock);
            return;
        }
    }
    r->result = result;
    r->io_finished = TRUE;
    BOOLEAN ours = IoSetCancelRoutine(r->irp, NULL) != NULL || r->cancel_claimed;
    if (!ours) {
        /* A cancel routine is on its way; it completes the IRP. */
        pthread_mutex_unlock(&s->lock);
        return;
    }
    req_outcome out;
    req_finish_locked(s, r, &out);
    pthread_mutex_unlock(&s->lock);
    req_deliver(&out);
}

static void req_cancel_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    wsk_req *r = Irp->Tail.Overlay.DriverContext[0];
    wsk_socket *s = r->socket;
    pthread_mutex_lock(&s->lock);
    if (r->queued) {
        /* Served by the provider's reader: no engine operation to cancel. */
        if (!r->io_finished) {
            RemoveEntryList(&r->rx_link);
            r->io_finished = TRUE;
            r->result = r->transferred > 0 ? (long)r->transferred : -ECANCELED; /* copied bytes are not lost */
        }
        InsertTailList(&s->rx_done, &r->rx_link);
        s->callbacks++; /* the request is still pending: the socket is alive */
        pthread_mutex_unlock(&s->lock);
        rx_kick_held(s);
        return;
    }
    if (!r->io_finished) {
        r->cancel_claimed = TRUE;
        wsk_io_cancel(&r->io); /* the engine's completion will complete the IRP */
        pthread_mutex_unlock(&s->lock);
        return;
    }
    req_outcome out;
    req_finish_locked(s, r, &out);
    pthread_mutex_unlock(&s->lock);
    req_deliver(&out);
}

/* ---- conditional accept ---- */

static volatile LONG inspect_serial;

static void conditional_drop(wsk_socket *child)
{
    child->closing = TRUE;
    wsk_socket_destroy(child); /* resets the connection */
}

/* A connection the client accepted or pended at inspection died before it
 * was handed over: WskAbortEvent tells the client to forget its id, and the
 * connection is dropped.  Linux has completed the handshake already, so the
 * provider notices when it next looks at the connection: at
 * WskInspectComplete, or when a WskAccept would take it (docs/decisions.md). */
static void conditional_abort(wsk_socket *s, wsk_socket *child)
{
    const WSK_CLIENT_LISTEN_DISPATCH *events = s->client_dispatch;
    if (s->conditional_accept && events != NULL && events->WskAbortEvent != NULL)
        (void)events->WskAbortEvent(s->context, &child->inspect_id); /* must return STATUS_SUCCESS */
    conditional_drop(child);
}

/* Takes the first ready connection that is still alive for a WskAccept;
 * dead ones move to *aborted (listener lock held). */
static wsk_socket *conditional_take_ready_locked(wsk_socket *s, PLIST_ENTRY aborted)
{
    while (!IsListEmpty(&s->ready)) {
        PLIST_ENTRY e = RemoveHeadList(&s->ready);
        wsk_socket *child = CONTAINING_RECORD(e, wsk_socket, cond_link);
        if (!lx_connection_gone(child->fd)) {
            InitializeListHead(e);
            return child;
        }
        InsertTailList(aborted, e);
    }
    return NULL;
}

/* Drops a reference taken for client calls made without the lock; may
 * finish a close that waited for them. */
static void listener_unhold(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    s->callbacks--;
    BOOLEAN destroy = wsk_conn_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

static void conditional_abort_all(wsk_socket *s, PLIST_ENTRY aborted)
{
    while (!IsListEmpty(aborted)) {
        PLIST_ENTRY e = RemoveHeadList(aborted);
        InitializeListHead(e);
        conditional_abort(s, CONTAINING_RECORD(e, wsk_socket, cond_link));
    }
}

/* An inspected connection is accepted: to WskAcceptEvent if enabled (the
 * caller goes on with it: returns TRUE), else to the first queued WskAccept
 * or the ready list.  Listener lock not held. */
static BOOLEAN conditional_ready(wsk_socket *s, wsk_socket *child, BOOLEAN via_event_possible)
{
    pthread_mutex_lock(&s->lock);
    if (via_event_possible && (s->events & WSK_EVENT_ACCEPT) && !s->closing) {
        pthread_mutex_unlock(&s->lock);
        return TRUE;
    }
    if (s->closing) {
        pthread_mutex_unlock(&s->lock);
        conditional_drop(child);
        return FALSE;
    }
    if (!IsListEmpty(&s->acc_irps) && lx_connection_gone(child->fd)) {
        s->callbacks++; /* a queued WskAccept keeps any close waiting; this keeps the listener for the call */
        pthread_mutex_unlock(&s->lock);
        conditional_abort(s, child);
        listener_unhold(s);
        return FALSE;
    }
    if (!IsListEmpty(&s->acc_irps)) {
        wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->acc_irps), wsk_req, rx_link);
        r->accepted = child;
        r->result = 0;
        r->io_finished = TRUE;
        if (IoSetCancelRoutine(r->irp, NULL) != NULL || r->cancel_claimed)
            InsertTailList(&s->rx_done, &r->rx_link);
        /* else the running cancel routine queues it (it sees io_finished) */
    } else {
        InsertTailList(&s->ready, &child->cond_link);
    }
    s->callbacks++; /* the listener stays alive for the kick */
    pthread_mutex_unlock(&s->lock);
    rx_kick_held(s);
    return FALSE;
}

/* Asks the client (WskInspectEvent) about a new connection; TRUE if it goes
 * on to WskAcceptEvent now. */
static BOOLEAN conditional_inspect(wsk_socket *s, wsk_socket *child, wsk_req *feeder)
{
    const WSK_CLIENT_LISTEN_DISPATCH *events = s->client_dispatch;
    child->inspect_id.Key = (ULONG_PTR)child;
    child->inspect_id.SerialNumber = (ULONG)InterlockedIncrement(&inspect_serial);
    child->has_inspect_id = TRUE;
    if (events == NULL || events->WskInspectEvent == NULL)
        return conditional_ready(s, child, TRUE);
    SOCKADDR_STORAGE local, remote;
    __builtin_memset(&remote, 0, sizeof(remote));
    wsk_accepted_local_address(s, child->fd, &local);
    wsk_io_accepted_peer(&feeder->io, &remote);
    /* Listed as pended before the client hears of it: a client that hands
     * the id to another thread may call WskInspectComplete before its
     * WskInspectEvent has returned WskInspectPend. */
    pthread_mutex_lock(&s->lock);
    if (s->closing) {
        pthread_mutex_unlock(&s->lock);
        conditional_drop(child);
        return FALSE;
    }
    InsertTailList(&s->inspecting, &child->cond_link);
    child->inspect_in_callback = TRUE;
    pthread_mutex_unlock(&s->lock);
    WSK_INSPECT_ACTION action =
        events->WskInspectEvent(s->context, (PSOCKADDR)&local, (PSOCKADDR)&remote, &child->inspect_id);
    pthread_mutex_lock(&s->lock);
    child->inspect_in_callback = FALSE;
    /* WskInspectComplete or the listener's close may have decided while the
     * callback ran (they unlisted it and left the rest to us). */
    UCHAR late = child->inspect_late;
    if (late == 0 && action == WskInspectPend) {
        pthread_mutex_unlock(&s->lock);
        return FALSE; /* stays listed for WskInspectComplete */
    }
    if (late == 0) {
        RemoveEntryList(&child->cond_link);
        InitializeListHead(&child->cond_link);
    }
    pthread_mutex_unlock(&s->lock);
    if (late == WSK_LATE_ACCEPT || (late == 0 && action == WskInspectAccept)) {
        if (late == WSK_LATE_ACCEPT && lx_connection_gone(child->fd)) {
            conditional_abort(s, child);
            return FALSE;
        }
        return conditional_ready(s, child, TRUE);
    }
    conditional_drop(child); /* WskInspectReject, anything else, or the listener closed */
    return FALSE;
}

/* A connection accepted by WskInspectComplete, for a listener with accept
 * events: offered to WskAcceptEvent, or queued if events went off meanwhile. */
static void conditional_offer_posted(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)result;
    (void)transferred;
    wsk_socket *child = context;
    wsk_socket *s = child->cond_listener;
    child->cond_listener = NULL;
    if (conditional_ready(s, child, TRUE)) {
        SOCKADDR_STORAGE remote;
        size_t len;
        __builtin_memset(&remote, 0, sizeof(remote));
        lx_remote_address(child->fd, &remote, &len);
        accept_event_offer(s, child, &remote);
    }
    listener_unhold(s);
}

/* WskAccept on a conditional listener: a ready connection, or wait for one. */
static NTSTATUS conditional_accept_irp(wsk_socket *s, wsk_req *r, PIRP Irp)
{
    r->queued = TRUE;
    req_pend_locked(s, r, Irp);
    LIST_ENTRY aborted;
    InitializeListHead(&aborted);
    wsk_socket *ready = conditional_take_ready_locked(s, &aborted);
    if (ready != NULL) {
        r->accepted = ready;
        r->result = 0;
        r->io_finished = TRUE;
        if (IoSetCancelRoutine(Irp, NULL) != NULL || r->cancel_claimed)
            InsertTailList(&s->rx_done, &r->rx_link);
    } else if (r->cancel_claimed) {
        r->io_finished = TRUE;
        r->result = -ECANCELED;
        InsertTailList(&s->rx_done, &r->rx_link);
    } else if (!s->conditional_accept) {
        /* Only dead leftovers were queued: accept from Linux as usual. */
        r->queued = FALSE;
        wsk_io_accept(&r->io, s->fd, req_io_done, r);
        req_after_submit_locked(r);
    } else {
        InsertTailList(&s->acc_irps, &r->rx_link);
    }
    if (!IsListEmpty(&aborted))
        s->callbacks++; /* WskAbortEvent calls follow: keep the listener */
    pthread_mutex_unlock(&s->lock);
    BOOLEAN held = !IsListEmpty(&aborted);
    conditional_abort_all(s, &aborted);
    wsk_conn_rx_kick(s);
    if (held)
        listener_unhold(s);
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_conn_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                          WSK_INSPECT_ACTION Action, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    wsk_socket *s = wsk_socket_from(ListenSocket);
    if (s == NULL)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_HANDLE, 0);
    if (InspectID == NULL || (Action != WskInspectAccept && Action != WskInspectReject))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    pthread_mutex_lock(&s->lock);
    if (!s->conditional_accept || !s->listening) {
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_now(Irp, STATUS_INVALID_DEVICE_STATE, 0);
    }
    wsk_socket *child = NULL;
    for (PLIST_ENTRY e = s->inspecting.Flink; e != &s->inspecting; e = e->Flink) {
        wsk_socket *c = CONTAINING_RECORD(e, wsk_socket, cond_link);
        if (c->inspect_id.Key == InspectID->Key && c->inspect_id.SerialNumber == InspectID->SerialNumber) {
            child = c;
            RemoveEntryList(e);
            InitializeListHead(e);
            break;
        }
    }
    if (child != NULL && child->inspect_in_callback) {
        /* Decided before its WskInspectEvent returned: that thread applies it. */
        child->inspect_late = Action == WskInspectAccept ? WSK_LATE_ACCEPT : WSK_LATE_DROP;
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_pended(Irp, STATUS_SUCCESS, 0);
    }
    pthread_mutex_unlock(&s->lock);
    if (child == NULL)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0); /* not a pended request */
    NTSTATUS r = wsk_irp_complete_pended(Irp, STATUS_SUCCESS, 0);
    if (Action == WskInspectReject) {
        conditional_drop(child);
    } else if (lx_connection_gone(child->fd)) {
        conditional_abort(s, child); /* accepted too late: the peer has gone */
    } else {
        pthread_mutex_lock(&s->lock);
        BOOLEAN via_event = (s->events & WSK_EVENT_ACCEPT) && !s->closing;
        if (via_event) {
            /* WskAcceptEvent runs on an engine thread, never inside the client's call. */
            s->callbacks++;
            child->cond_listener = s;
            wsk_io_post(&child->backlog_io, conditional_offer_posted, child);
        }
        pthread_mutex_unlock(&s->lock);
        if (!via_event)
            (void)conditional_ready(s, child, FALSE); /* FALSE: never goes on to an event here */
    }
    return r;
}

/* At listener close: connections nobody took are reset. */
static void conditional_drop_all(wsk_socket *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        PLIST_ENTRY e = !IsListEmpty(&s->ready) ? RemoveHeadList(&s->ready)
                        : !IsListEmpty(&s->inspecting) ? RemoveHeadList(&s->inspecting)
                                                       : NULL;
        wsk_socket *child = e != NULL ? CONTAINING_RECORD(e, wsk_socket, cond_link) : NULL;
        if (e != NULL)
            InitializeListHead(e);
        BOOLEAN in_callback = child != NULL && child->inspect_in_callback;
        if (in_callback)
            child->inspect_late = WSK_LATE_DROP; /* its WskInspectEvent thread drops it */
        pthread_mutex_unlock(&s->lock);
        if (child == NULL)
            return;
        if (!in_callback)
            conditional_drop(child);
    }
}


/* ---- close ---- */

BOOLEAN wsk_conn_begin_close(wsk_socket *s, PIRP close_irp, BOOLEAN *deliver_cancelled)
{
    pthread_mutex_lock(&s->lock);
    s->closing = TRUE;
    pthread_mutex_unlock(&s->lock);
    conditional_drop_all(s);
    pthread_mutex_lock(&s->lock);
    for (PLIST_ENTRY e = s->pending.Flink; e != &s->pending; e = e->Flink) {
        wsk_req *r = CONTAINING_RECORD(e, wsk_req, link);
        if (r->io_finished || r->cancel_claimed)
            continue;
        if (r->queued) {
            if (IoSetCancelRoutine(r->irp, NULL) != NULL) {
                RemoveEntryList(&r->rx_link);
                r->io_finished = TRUE;
                r->result = r->transferred > 0 ? (long)r->transferred : -ECANCELED;
                InsertTailList(&s->rx_done, &r->rx_link);
            }
            continue;
        }
        if (r->irp == NULL) { /* an internal request (accept events, the reader) */
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
    /* Cancelled queued receives stay pending until the caller delivers them,
     * so the socket cannot go away before it does. */
    *deliver_cancelled = !IsListEmpty(&s->rx_done);
    if (*deliver_cancelled)
        s->callbacks++; /* released by wsk_conn_rx_deliver_cancelled */
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

/* ---- the request machinery, for the other operation files ---- */

wsk_req *wsk_req_take_locked(wsk_socket *s, ULONG segments)
{
    return req_take(s, segments);
}

void wsk_req_release_locked(wsk_socket *s, wsk_req *r)
{
    req_release_locked(s, r);
}

void wsk_req_pend_locked(wsk_socket *s, wsk_req *r, PIRP irp)
{
    req_pend_locked(s, r, irp);
}

void wsk_req_after_submit_locked(wsk_req *r)
{
    req_after_submit_locked(r);
}

void wsk_req_io_done(wsk_io *io, void *context, long result, size_t transferred)
{
    req_io_done(io, context, result, transferred);
}

/* ---- operations ---- */

static NTSTATUS fail_now(PIRP irp, NTSTATUS status)
{
    return wsk_irp_complete_now(irp, status, 0);
}

/* Looks up the socket and refuses calls on a closing one. */
static wsk_socket *op_socket(PWSK_SOCKET Socket, PIRP Irp, NTSTATUS *refusal)
{
    wsk_socket *s = wsk_socket_from(Socket);
    *refusal = s == NULL ? STATUS_INVALID_HANDLE : s->closing ? STATUS_FILE_FORCED_CLOSED : STATUS_SUCCESS;
    (void)Irp;
    return *refusal == STATUS_SUCCESS ? s : NULL;
}

NTSTATUS WSKAPI wsk_conn_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                                const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, PSOCKADDR LocalAddress,
                                PSOCKADDR RemoteAddress, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(ListenSocket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    if (Flags != 0)
        return fail_now(Irp, STATUS_INVALID_PARAMETER);
    pthread_mutex_lock(&s->lock);
    if (!s->listening) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_INVALID_DEVICE_STATE);
    }
    if (s->listener_failed) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_FILE_FORCED_CLOSED);
    }
    wsk_req *r = req_take(s, 0);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    r->kind = WSK_REQ_ACCEPT;
    r->flags = Flags;
    r->accept_context = AcceptSocketContext;
    r->accept_dispatch = AcceptSocketDispatch;
    r->local_out = LocalAddress;
    r->remote_out = RemoteAddress;
    /* Conditional listeners, and connections left over when accept events
     * were disabled, are handed out from the provider's queue. */
    if (s->conditional_accept || !IsListEmpty(&s->ready))
        return conditional_accept_irp(s, r, Irp); /* unlocks */
    req_pend_locked(s, r, Irp);
    wsk_io_accept(&r->io, s->fd, req_io_done, r);
    req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_conn_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(Socket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = STATUS_SUCCESS;
    if (!s->bound || s->listening)
        status = STATUS_INVALID_DEVICE_STATE; /* observed: returned and completed synchronously */
    else if (Flags != 0 || RemoteAddress == NULL)
        status = STATUS_INVALID_PARAMETER;
    else if (s->connected)
        status = STATUS_CONNECTION_ACTIVE;
    else if (RemoteAddress->sa_family != s->family)
        status = STATUS_INVALID_ADDRESS;
    wsk_req *r = NT_SUCCESS(status) ? req_take(s, 0) : NULL;
    if (NT_SUCCESS(status) && r == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (!NT_SUCCESS(status)) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, status);
    }
    r->kind = WSK_REQ_CONNECT;
    r->flags = Flags;
    SOCKADDR_STORAGE remote;
    __builtin_memcpy(&remote, RemoteAddress, wsk_sockaddr_size(s->family));
    req_pend_locked(s, r, Irp);
    wsk_io_connect(&r->io, s->fd, &remote, req_io_done, r);
    req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

/* Shared by send, receive and a disconnect's final buffer. */
static NTSTATUS data_start_ex(wsk_socket *s, PWSK_BUF Buffer, ULONG Flags, PIRP Irp, wsk_req_kind kind,
                              PULONG control_length_out, PULONG control_flags_out)
{
    ULONG segments = 0;
    NTSTATUS status = Buffer != NULL ? wsk_buf_count_segments(Buffer, &segments) : STATUS_SUCCESS;
    if (!NT_SUCCESS(status))
        return fail_now(Irp, status);
    pthread_mutex_lock(&s->lock);
    if (!s->connected) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_INVALID_CONNECTION);
    }
    if (kind == WSK_REQ_SEND && s->send_shut) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_PIPE_DISCONNECTED);
    }
    BOOLEAN drain = kind == WSK_REQ_RECEIVE && (Flags & WSK_FLAG_DRAIN);
    if ((kind == WSK_REQ_SEND || kind == WSK_REQ_RECEIVE) && Buffer->Length == 0 && !drain) {
        /* Nothing to move: done at once (a zero-byte receive does not wait,
         * but it does resume paused receive indications). */
        BOOLEAN resume = kind == WSK_REQ_RECEIVE && s->rx_mode && s->rx_paused;
        if (resume)
            s->rx_paused = FALSE;
        pthread_mutex_unlock(&s->lock);
        NTSTATUS r = wsk_irp_complete_pended(Irp, STATUS_SUCCESS, 0);
        if (resume)
            wsk_conn_rx_kick(s);
        return r;
    }
    wsk_req *r = req_take(s, drain ? 1 : segments);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    r->kind = kind;
    r->flags = Flags;
    r->wanted = Buffer != NULL ? Buffer->Length : 0;
    if (drain) {
        /* Incoming data is read into a scratch area and thrown away until
         * the peer closes, the connection fails or the IRP is cancelled. */
        r->seg[0].base = drain_scratch;
        r->seg[0].length = sizeof(drain_scratch);
        segments = 1;
        r->wanted = (SIZE_T)-1;
    }
    r->control_length_out = control_length_out;
    r->control_flags_out = control_flags_out;
    if (!drain && segments > 0 &&
        !NT_SUCCESS(status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments))) {
        req_release_locked(s, r);
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, status);
    }
    if (kind == WSK_REQ_RECEIVE && s->rx_mode) {
        /* Events are on: the provider's reader serves receives in order. */
        r->queued = TRUE;
        req_pend_locked(s, r, Irp);
        InsertTailList(&s->rx_irps, &r->rx_link);
        if (r->cancel_claimed) { /* cancelled before we could take it */
            RemoveEntryList(&r->rx_link);
            r->io_finished = TRUE;
            r->result = -ECANCELED;
            InsertTailList(&s->rx_done, &r->rx_link);
        }
        pthread_mutex_unlock(&s->lock);
        wsk_conn_rx_kick(s);
        return STATUS_PENDING;
    }
    req_pend_locked(s, r, Irp);
    if (kind == WSK_REQ_RECEIVE)
        wsk_io_recv(&r->io, s->fd, r->seg, segments, req_io_done, r);
    else if (segments > 0)
        wsk_io_send(&r->io, s->fd, r->seg, segments, req_io_done, r);
    else
        wsk_io_post(&r->io, req_io_done, r); /* a disconnect without data */
    req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

static NTSTATUS data_start(wsk_socket *s, PWSK_BUF Buffer, ULONG Flags, PIRP Irp, wsk_req_kind kind)
{
    return data_start_ex(s, Buffer, Flags, Irp, kind, NULL, NULL);
}

NTSTATUS WSKAPI wsk_conn_send(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(Socket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    if (Buffer == NULL)
        return fail_now(Irp, STATUS_INVALID_PARAMETER);
    if (Flags & ~(ULONG)(WSK_FLAG_NODELAY))
        return fail_now(Irp, STATUS_NOT_SUPPORTED); /* out-of-band data is not supported */
    return data_start(s, Buffer, Flags, Irp, WSK_REQ_SEND);
}

static NTSTATUS receive_start(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp, PULONG control_length_out,
                              PULONG control_flags_out)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(Socket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    if (Buffer == NULL)
        return fail_now(Irp, STATUS_INVALID_PARAMETER);
    if ((Flags & WSK_FLAG_WAITALL) && (Flags & WSK_FLAG_DRAIN))
        return fail_now(Irp, STATUS_INVALID_PARAMETER);
    if (Flags & ~(ULONG)(WSK_FLAG_WAITALL | WSK_FLAG_DRAIN))
        return fail_now(Irp, STATUS_NOT_SUPPORTED);
    if ((Flags & WSK_FLAG_DRAIN) && Buffer->Length != 0)
        return fail_now(Irp, STATUS_INVALID_PARAMETER); /* a drain takes a zero-length buffer */
    if (control_length_out != NULL)
        *control_length_out = 0;
    if (control_flags_out != NULL)
        *control_flags_out = 0;
    return data_start_ex(s, Buffer, Flags, Irp, WSK_REQ_RECEIVE, control_length_out, control_flags_out);
}

NTSTATUS WSKAPI wsk_conn_receive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    return receive_start(Socket, Buffer, Flags, Irp, NULL, NULL);
}

NTSTATUS WSKAPI wsk_conn_disconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(Socket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    if (Flags & ~(ULONG)WSK_FLAG_ABORTIVE)
        return fail_now(Irp, STATUS_INVALID_PARAMETER);
    if (Flags & WSK_FLAG_ABORTIVE) {
        pthread_mutex_lock(&s->lock);
        NTSTATUS status = STATUS_INVALID_CONNECTION;
        if (s->connected) {
            int e = lx_abort(s->fd);
            status = e == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-e);
            s->send_shut = s->receive_shut = TRUE;
        }
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_pended(Irp, status, 0);
    }
    return data_start(s, Buffer != NULL && Buffer->Length > 0 ? Buffer : NULL, Flags, Irp, WSK_REQ_DISCONNECT);
}

/* ---- receive and disconnect events ---- */

#define WSK_TAG_RX TAG_FROM_CHARS('W', 's', 'k', 'D')
#define WSK_RX_BLOCK_MAGIC 0x4B425852u /* "RXBK" */
#define WSK_RX_BLOCK_DATA (64 * 1024)
#define WSK_RX_MAX_BUFFERED 4 /* blocks read ahead of the client before the reader waits */
#define WSK_RX_MAX_SPARE 4

/* One indication: WSK_DATA_INDICATION first, so WskRelease finds the block. */
typedef struct wsk_rx_block {
    WSK_DATA_INDICATION indication;
    LIST_ENTRY link;
    ULONG magic;
    wsk_socket *socket;
    PMDL mdl;
    SIZE_T head, length; /* unconsumed bytes are data[head, length) */
    BOOLEAN retained;    /* the client returned STATUS_PENDING and holds it */
    UCHAR data[WSK_RX_BLOCK_DATA];
} wsk_rx_block;

const WSK_CLIENT_CONNECTION_DISPATCH *wsk_conn_client_dispatch(wsk_socket *s)
{
    /* Listeners and datagram sockets hold other table types. */
    if (s->client_dispatch == NULL || (s->category != WSK_CATEGORY_CONNECTION && s->category != WSK_CATEGORY_STREAM))
        return NULL;
    if (s->category == WSK_CATEGORY_STREAM)
        return ((const WSK_CLIENT_STREAM_DISPATCH *)s->client_dispatch)->Connect;
    return s->client_dispatch;
}

void wsk_conn_init_socket(wsk_socket *s)
{
    InitializeListHead(&s->pending);
    InitializeListHead(&s->free_reqs);
    InitializeListHead(&s->rx_irps);
    InitializeListHead(&s->rx_done);
    InitializeListHead(&s->rx_data);
    InitializeListHead(&s->rx_spare);
    InitializeListHead(&s->rx_held);
    InitializeListHead(&s->acc_irps);
    InitializeListHead(&s->ready);
    InitializeListHead(&s->inspecting);
    InitializeListHead(&s->cond_link);
    InitializeListHead(&s->disable_irps);
}

static wsk_rx_block *rx_block_get_locked(wsk_socket *s)
{
    if (!IsListEmpty(&s->rx_spare)) {
        s->rx_spare_count--;
        return CONTAINING_RECORD(RemoveHeadList(&s->rx_spare), wsk_rx_block, link);
    }
    wsk_rx_block *b = openwsk_pool_alloc(sizeof(*b), WSK_TAG_RX, FALSE);
    if (b == NULL)
        return NULL;
    b->mdl = IoAllocateMdl(b->data, WSK_RX_BLOCK_DATA, FALSE, FALSE, NULL);
    if (b->mdl == NULL) {
        openwsk_pool_free(b);
        return NULL;
    }
    MmBuildMdlForNonPagedPool(b->mdl);
    b->magic = WSK_RX_BLOCK_MAGIC;
    b->socket = s;
    b->retained = FALSE;
    return b;
}

static void rx_block_free(wsk_rx_block *b)
{
    b->magic = 0;
    IoFreeMdl(b->mdl);
    openwsk_pool_free(b);
}

static void rx_block_put_locked(wsk_socket *s, wsk_rx_block *b)
{
    b->retained = FALSE;
    if (s->rx_spare_count < WSK_RX_MAX_SPARE) {
        InsertHeadList(&s->rx_spare, &b->link);
        s->rx_spare_count++;
    } else {
        rx_block_free(b);
    }
}

static void rx_read_done(wsk_io *io, void *context, long result, size_t transferred);

/* Starts the reader when someone needs data: a queued receive, indications
 * that are not paused, or a disconnect event still to deliver. */
static void rx_arm_locked(wsk_socket *s)
{
    if (!s->rx_mode || !s->connected || s->rx_reader != NULL || s->closing || s->receive_shut || s->rx_error != 0)
        return;
    BOOLEAN want = !IsListEmpty(&s->rx_irps) && IsListEmpty(&s->rx_data);
    if (!want && s->rx_data_blocks < WSK_RX_MAX_BUFFERED)
        want = ((s->events & WSK_EVENT_RECEIVE) && !s->rx_paused && IsListEmpty(&s->rx_data)) ||
               ((s->events & WSK_EVENT_DISCONNECT) && !s->disconnect_indicated);
    if (!want)
        return;
    wsk_req *r = req_take(s, 1);
    if (r == NULL)
        return;
    wsk_rx_block *b = rx_block_get_locked(s);
    if (b == NULL) {
        req_release_locked(s, r);
        return;
    }
    r->kind = WSK_REQ_RX_READ;
    r->rx_block = b;
    r->seg[0].base = b->data;
    r->seg[0].length = WSK_RX_BLOCK_DATA;
    InsertTailList(&s->pending, &r->link);
    s->rx_reader = r;
    wsk_io_recv(&r->io, s->fd, r->seg, 1, rx_read_done, r);
}

static void rx_read_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    wsk_rx_block *b = r->rx_block;
    pthread_mutex_lock(&s->lock);
    s->rx_reader = NULL;
    RemoveEntryList(&r->link);
    req_release_locked(s, r);
    if (result > 0 && !s->closing) {
        b->head = 0;
        b->length = (SIZE_T)result;
        InsertTailList(&s->rx_data, &b->link);
        s->rx_data_blocks++;
    } else {
        rx_block_put_locked(s, b);
        if (result == 0)
            s->receive_shut = TRUE; /* the peer's FIN */
        else if (result != -ECANCELED)
            s->rx_error = result;
    }
    s->callbacks++; /* taken while the reader still kept the socket alive */
    pthread_mutex_unlock(&s->lock);
    rx_kick_held(s);
}

/* Copies buffered data into the first queued receive; decides it when full
 * (WAITALL) or when it got anything (otherwise), or at FIN / on error. */
static BOOLEAN rx_serve_one_locked(wsk_socket *s)
{
    if (IsListEmpty(&s->rx_irps))
        return FALSE;
    wsk_req *r = CONTAINING_RECORD(s->rx_irps.Flink, wsk_req, rx_link);
    if (r->flags & WSK_FLAG_DRAIN) {
        while (!IsListEmpty(&s->rx_data)) {
            wsk_rx_block *b = CONTAINING_RECORD(RemoveHeadList(&s->rx_data), wsk_rx_block, link);
            s->rx_data_blocks--;
            r->transferred += b->length - b->head;
            rx_block_put_locked(s, b);
        }
    }
    while (!(r->flags & WSK_FLAG_DRAIN) && !IsListEmpty(&s->rx_data) && r->transferred < r->wanted) {
        wsk_rx_block *b = CONTAINING_RECORD(s->rx_data.Flink, wsk_rx_block, link);
        while (b->head < b->length && r->seg_first < r->seg_count) {
            wsk_io_segment *g = &r->seg[r->seg_first];
            SIZE_T n = b->length - b->head;
            if (n > g->length)
                n = g->length;
            __builtin_memcpy(g->base, b->data + b->head, n);
            b->head += n;
            r->transferred += n;
            req_advance_segments(r, n);
        }
        if (b->head == b->length) {
            RemoveEntryList(&b->link);
            s->rx_data_blocks--;
            rx_block_put_locked(s, b);
        }
    }
    BOOLEAN full = r->transferred == r->wanted;
    BOOLEAN enough = (r->flags & WSK_FLAG_DRAIN) ? FALSE : (r->flags & WSK_FLAG_WAITALL) ? full : r->transferred > 0;
    BOOLEAN ended = IsListEmpty(&s->rx_data) && (s->receive_shut || s->rx_error != 0);
    if (!enough && !ended)
        return FALSE;
    RemoveEntryList(&r->rx_link);
    r->io_finished = TRUE;
    r->result = (r->transferred > 0 && !(r->flags & WSK_FLAG_DRAIN)) ? (long)r->transferred
                : s->receive_shut ? 0
                : s->rx_error;
    s->rx_paused = FALSE; /* a completed WskReceive resumes indications */
    if (IoSetCancelRoutine(r->irp, NULL) != NULL || r->cancel_claimed)
        InsertTailList(&s->rx_done, &r->rx_link);
    /* else: the cancel routine is running; it queues the completion itself */
    return TRUE;
}

/* Runs the receive path until nothing is left to do: completes decided
 * receives, serves queued ones, indicates data, reports a disconnect,
 * re-arms the reader.  The caller holds a callbacks reference (taken under
 * the lock while the socket was certainly alive), so nobody destroys the
 * socket meanwhile; dropping it may finish a waiting close. */
static void rx_kick_held(wsk_socket *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (rx_serve_one_locked(s))
            ;
        if (!IsListEmpty(&s->rx_done)) {
            wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->rx_done), wsk_req, rx_link);
            req_outcome out;
            req_finish_locked(s, r, &out);
            pthread_mutex_unlock(&s->lock);
            req_deliver(&out); /* never destroys: we hold a reference */
            continue;
        }
        const WSK_CLIENT_CONNECTION_DISPATCH *d = wsk_conn_client_dispatch(s);
        if (d != NULL && d->WskReceiveEvent != NULL && (s->events & WSK_EVENT_RECEIVE) && !s->rx_paused && !s->rx_indicating && !s->closing &&
            IsListEmpty(&s->rx_irps) && !IsListEmpty(&s->rx_data)) {
            wsk_rx_block *b = CONTAINING_RECORD(RemoveHeadList(&s->rx_data), wsk_rx_block, link);
            s->rx_data_blocks--;
            s->rx_indicating = TRUE;
            s->callbacks++;
            wsk_event_enter_locked(s, WSK_EVENT_RECEIVE);
            pthread_mutex_unlock(&s->lock);
            SIZE_T n = b->length - b->head;
            SIZE_T accepted = n;
            b->indication.Next = NULL;
            b->indication.Buffer.Mdl = b->mdl;
            b->indication.Buffer.Offset = (ULONG)b->head;
            b->indication.Buffer.Length = n;
            NTSTATUS st = d->WskReceiveEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, &b->indication, n, &accepted);
            pthread_mutex_lock(&s->lock);
            LIST_ENTRY finished;
            wsk_event_leave_locked(s, WSK_EVENT_RECEIVE, &finished);
            s->callbacks--;
            s->rx_indicating = FALSE;
            if (st == STATUS_PENDING) {
                b->retained = TRUE; /* until WskRelease */
                s->rx_retained++;
                InsertTailList(&s->rx_held, &b->link);
            } else if (st == STATUS_SUCCESS && accepted >= n) {
                rx_block_put_locked(s, b);
            } else {
                /* Partly or not accepted: the rest waits at the head of the
                 * stream and indications pause until a WskReceive completes. */
                if (st == STATUS_SUCCESS)
                    b->head += accepted;
                InsertHeadList(&s->rx_data, &b->link);
                s->rx_data_blocks++;
                s->rx_paused = TRUE;
            }
            pthread_mutex_unlock(&s->lock);
            wsk_event_finish_disables(&finished);
            continue;
        }
        if (d != NULL && d->WskDisconnectEvent != NULL && (s->events & WSK_EVENT_DISCONNECT) &&
            !s->disconnect_indicated && !s->closing &&
            IsListEmpty(&s->rx_data) && (s->receive_shut || s->rx_error != 0)) {
            ULONG flags = WSK_FLAG_AT_DISPATCH_LEVEL;
            if (!s->receive_shut)
                flags |= WSK_FLAG_ABORTIVE; /* the connection was reset */
            s->disconnect_indicated = TRUE;
            s->callbacks++;
            wsk_event_enter_locked(s, WSK_EVENT_DISCONNECT);
            pthread_mutex_unlock(&s->lock);
            d->WskDisconnectEvent(s->context, flags);
            pthread_mutex_lock(&s->lock);
            LIST_ENTRY finished;
            wsk_event_leave_locked(s, WSK_EVENT_DISCONNECT, &finished);
            s->callbacks--;
            pthread_mutex_unlock(&s->lock);
            wsk_event_finish_disables(&finished);
            continue;
        }
        rx_arm_locked(s);
        s->callbacks--;
        BOOLEAN destroy = wsk_conn_close_may_finish_locked(s);
        pthread_mutex_unlock(&s->lock);
        if (destroy)
            wsk_socket_destroy(s);
        return;
    }
}

void wsk_conn_rx_deliver_cancelled(wsk_socket *s)
{
    rx_kick_held(s);
}

void wsk_conn_rx_kick(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    s->callbacks++;
    pthread_mutex_unlock(&s->lock);
    rx_kick_held(s);
}


NTSTATUS WSKAPI wsk_conn_release(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)
{
    wsk_socket *s = wsk_socket_from(Socket);
    if (s == NULL || DataIndication == NULL)
        return STATUS_INVALID_PARAMETER;
    /* Every list we indicate holds one block; the client may have reused
     * Next meanwhile, so only the head is ours to take back. */
    wsk_rx_block *b = CONTAINING_RECORD(DataIndication, wsk_rx_block, indication);
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = STATUS_INVALID_PARAMETER;
    if (b->magic == WSK_RX_BLOCK_MAGIC && b->socket == s && b->retained) {
        s->rx_retained--;
        RemoveEntryList(&b->link);
        rx_block_put_locked(s, b);
        status = STATUS_SUCCESS;
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

void wsk_conn_inherit_events(wsk_socket *listener, wsk_socket *child)
{
    ULONG inherited = listener->events & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG);
    const WSK_CLIENT_CONNECTION_DISPATCH *d = wsk_conn_client_dispatch(child);
    /* Only events the accepted socket's client dispatch can take. */
    if (d == NULL)
        inherited = 0;
    else {
        if (d->WskReceiveEvent == NULL)
            inherited &= ~(ULONG)WSK_EVENT_RECEIVE;
        if (d->WskDisconnectEvent == NULL)
            inherited &= ~(ULONG)WSK_EVENT_DISCONNECT;
        if (d->WskSendBacklogEvent == NULL)
            inherited &= ~(ULONG)WSK_EVENT_SEND_BACKLOG;
    }
    pthread_mutex_lock(&child->lock);
    child->events |= inherited;
    if (inherited & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT))
        child->rx_mode = TRUE;
    if (inherited & WSK_EVENT_SEND_BACKLOG)
        wsk_backlog_schedule_locked(child);
    BOOLEAN start = child->rx_mode; /* inherited, or static events */
    pthread_mutex_unlock(&child->lock);
    if (start)
        wsk_conn_rx_kick(child);
}

/* Frees every receive block at close (retained ones too: the client
 * should have released them first). */
void wsk_conn_free_rx(wsk_socket *s)
{
    if (s->rx_retained > 0)
        openwsk_log("WskCloseSocket: %d data indications were never released", (int)s->rx_retained);
    while (!IsListEmpty(&s->rx_data))
        rx_block_free(CONTAINING_RECORD(RemoveHeadList(&s->rx_data), wsk_rx_block, link));
    while (!IsListEmpty(&s->rx_spare))
        rx_block_free(CONTAINING_RECORD(RemoveHeadList(&s->rx_spare), wsk_rx_block, link));
    while (!IsListEmpty(&s->rx_held))
        rx_block_free(CONTAINING_RECORD(RemoveHeadList(&s->rx_held), wsk_rx_block, link));
}

/* ---- accept events ---- */

static void accept_event_arm_locked(wsk_socket *s)
{
    wsk_req *r = req_take(s, 0);
    if (r == NULL)
        return; /* out of memory: connections wait in the backlog until re-enabled */
    r->kind = WSK_REQ_ACCEPT_EVENT;
    InsertTailList(&s->pending, &r->link);
    wsk_io_accept(&r->io, s->fd, req_io_done, r);
}

static void accept_event_cancel_locked(wsk_socket *s)
{
    for (PLIST_ENTRY e = s->pending.Flink; e != &s->pending; e = e->Flink) {
        wsk_req *r = CONTAINING_RECORD(e, wsk_req, link);
        if (r->kind == WSK_REQ_ACCEPT_EVENT && !r->io_finished && !r->cancel_claimed) {
            r->cancel_claimed = TRUE;
            wsk_io_cancel(&r->io);
        }
    }
}

/* Which events each category may enable (wsk-part-b.md §4.2): listeners
 * take the connection events too, for the sockets they accept. */
ULONG wsk_conn_events_allowed(wsk_category category)
{
    switch (category) {
    case WSK_CATEGORY_LISTEN:
        return WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG;
    case WSK_CATEGORY_CONNECTION:
        return WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG;
    case WSK_CATEGORY_DATAGRAM:
        return WSK_EVENT_RECEIVE_FROM;
    case WSK_CATEGORY_STREAM:
        return WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG;
    default:
        return 0;
    }
}

void wsk_conn_start_accept_events(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    if (((s->events & WSK_EVENT_ACCEPT) || s->conditional_accept) && s->listening && !s->closing)
        accept_event_arm_locked(s);
    pthread_mutex_unlock(&s->lock);
}

NTSTATUS wsk_conn_set_event_callbacks(wsk_socket *s, const WSK_EVENT_CALLBACK_CONTROL *control, PIRP irp)
{
    if (s->static_events != 0)
        return STATUS_INVALID_PARAMETER; /* static events can be neither disabled nor re-enabled */
    if (control->NpiId == NULL || !IsEqualGUID(control->NpiId, &NPI_WSK_INTERFACE_ID))
        return STATUS_INVALID_PARAMETER;
    ULONG mask = control->EventMask;
    BOOLEAN disable = (mask & WSK_EVENT_DISABLE) != 0;
    mask &= ~(ULONG)WSK_EVENT_DISABLE;
    if (mask == 0 || (mask & ~wsk_conn_events_allowed(s->category)) != 0)
        return STATUS_INVALID_PARAMETER;
    if (disable && (mask & (mask - 1)) != 0)
        return STATUS_INVALID_PARAMETER; /* disabling names exactly one event */
    /* Listen and datagram sockets take events once bound (wsk-part-b.md §6.5). */
    if ((s->category == WSK_CATEGORY_LISTEN || s->category == WSK_CATEGORY_DATAGRAM) && !s->bound)
        return STATUS_INVALID_DEVICE_STATE;
    if (!disable && (mask & WSK_EVENT_ACCEPT)) {
        const WSK_CLIENT_LISTEN_DISPATCH *events = s->client_dispatch;
        if (events == NULL || events->WskAcceptEvent == NULL)
            return STATUS_INVALID_PARAMETER;
    }
    BOOLEAN connection = s->category == WSK_CATEGORY_CONNECTION || s->category == WSK_CATEGORY_STREAM;
    if (connection && !disable) {
        /* Connection sockets take events once connected (wsk-part-b.md §6.5). */
        if (!s->connected)
            return STATUS_INVALID_DEVICE_STATE;
        const WSK_CLIENT_CONNECTION_DISPATCH *d = wsk_conn_client_dispatch(s);
        if (d == NULL || ((mask & WSK_EVENT_RECEIVE) && d->WskReceiveEvent == NULL) ||
            ((mask & WSK_EVENT_DISCONNECT) && d->WskDisconnectEvent == NULL) ||
            ((mask & WSK_EVENT_SEND_BACKLOG) && d->WskSendBacklogEvent == NULL))
            return STATUS_INVALID_PARAMETER;
    }
    if (!disable && (mask & WSK_EVENT_RECEIVE_FROM)) {
        const WSK_CLIENT_DATAGRAM_DISPATCH *dd = s->client_dispatch;
        if (dd == NULL || dd->WskReceiveFromEvent == NULL)
            return STATUS_INVALID_PARAMETER;
    }
    if (s->category == WSK_CATEGORY_DATAGRAM) {
        pthread_mutex_lock(&s->lock);
        NTSTATUS status = STATUS_SUCCESS;
        if (disable) {
            s->events &= ~mask;
            wsk_dgram_events_stop_locked(s);
            status = wsk_event_disable_locked(s, mask, irp);
        } else {
            s->events |= mask;
            wsk_dgram_events_arm_locked(s);
        }
        pthread_mutex_unlock(&s->lock);
        return status;
    }
    NTSTATUS status = STATUS_SUCCESS;
    if (connection) {
        pthread_mutex_lock(&s->lock);
        if (disable) {
            s->events &= ~mask;
            status = wsk_event_disable_locked(s, mask, irp);
        } else {
            s->events |= mask;
        }
        if (!disable && (mask & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT)))
            s->rx_mode = TRUE;
        if (!disable && (mask & WSK_EVENT_SEND_BACKLOG))
            wsk_backlog_schedule_locked(s); /* the first indication gives the current value */
        pthread_mutex_unlock(&s->lock);
        wsk_conn_rx_kick(s);
        return status;
    }
    pthread_mutex_lock(&s->lock);
    if (disable) {
        s->events &= ~mask;
        if ((mask & WSK_EVENT_ACCEPT) && !s->conditional_accept)
            accept_event_cancel_locked(s);
        status = wsk_event_disable_locked(s, mask, irp);
    } else {
        BOOLEAN was = (s->events & WSK_EVENT_ACCEPT) != 0 || s->conditional_accept; /* a feeder runs already */
        s->events |= mask;
        if ((mask & WSK_EVENT_ACCEPT) && !was && s->listening)
            accept_event_arm_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

/* ---- WskSocketConnect ---- */

NTSTATUS wsk_conn_socket_connect(wsk_socket *s, PSOCKADDR remote, PIRP irp)
{
    pthread_mutex_lock(&s->lock);
    wsk_req *r = req_take(s, 0);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    r->kind = WSK_REQ_SOCKET_CONNECT;
    SOCKADDR_STORAGE addr;
    __builtin_memcpy(&addr, remote, wsk_sockaddr_size(s->family));
    req_pend_locked(s, r, irp);
    wsk_io_connect(&r->io, s->fd, &addr, req_io_done, r);
    req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

/* ---- stream sockets, WskConnectEx, the Ex data calls, backlog queries ---- */

NTSTATUS WSKAPI wsk_conn_listen(PWSK_SOCKET Socket, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(Socket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = STATUS_SUCCESS;
    /* A stream socket commits to one role: listening needs a bound socket
     * that neither connected nor listens already. */
    if (!s->bound || s->connected || s->listening)
        status = STATUS_INVALID_DEVICE_STATE;
    if (NT_SUCCESS(status)) {
        int e = lx_listen(s->fd, 4096);
        status = e == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-e);
        s->listening = e == 0;
    }
    pthread_mutex_unlock(&s->lock);
    return wsk_irp_complete_pended(Irp, status, 0);
}

#define WSK_CONNECT_EX_MAX_BUFFER 65535

NTSTATUS WSKAPI wsk_conn_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer, ULONG Flags,
                                    PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = op_socket(Socket, Irp, &refusal);
    if (s == NULL)
        return fail_now(Irp, refusal);
    if (Flags != 0 || RemoteAddress == NULL)
        return fail_now(Irp, STATUS_INVALID_PARAMETER);
    ULONG segments = 0;
    if (Buffer != NULL) {
        if (Buffer->Length > WSK_CONNECT_EX_MAX_BUFFER)
            return fail_now(Irp, STATUS_BUFFER_OVERFLOW);
        NTSTATUS st = wsk_buf_count_segments(Buffer, &segments);
        if (!NT_SUCCESS(st))
            return fail_now(Irp, st);
    }
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = STATUS_SUCCESS;
    if (!s->bound || s->listening)
        status = STATUS_INVALID_DEVICE_STATE;
    else if (s->connected)
        status = STATUS_CONNECTION_ACTIVE;
    else if (RemoteAddress->sa_family != s->family)
        status = STATUS_INVALID_ADDRESS;
    wsk_req *r = NT_SUCCESS(status) ? req_take(s, segments) : NULL;
    if (NT_SUCCESS(status) && r == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (NT_SUCCESS(status) && segments > 0)
        status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments);
    if (!NT_SUCCESS(status)) {
        if (r != NULL)
            req_release_locked(s, r);
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, status);
    }
    r->kind = WSK_REQ_CONNECT_EX;
    SOCKADDR_STORAGE remote;
    __builtin_memcpy(&remote, RemoteAddress, wsk_sockaddr_size(s->family));
    req_pend_locked(s, r, Irp);
    wsk_io_connect(&r->io, s->fd, &remote, req_io_done, r);
    req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_conn_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, ULONG ControlInfoLength,
                                 PCMSGHDR ControlInfo, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    if (ControlInfoLength != 0 || ControlInfo != NULL) {
        /* No control messages are defined for sends on TCP. */
        return fail_now(Irp, ControlInfoLength != 0 && ControlInfo == NULL ? STATUS_INVALID_PARAMETER
                                                                            : STATUS_NOT_SUPPORTED);
    }
    return wsk_conn_send(Socket, Buffer, Flags, Irp);
}

NTSTATUS WSKAPI wsk_conn_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PULONG ControlInfoLength,
                                    PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    (void)ControlInfo; /* TCP delivers no control data: *ControlInfoLength becomes 0 */
    return receive_start(Socket, Buffer, Flags, Irp, ControlInfoLength, ControlFlags);
}

NTSTATUS wsk_conn_query_backlog(wsk_socket *s, ULONG code, SIZE_T *value)
{
    if (s->category != WSK_CATEGORY_CONNECTION && s->category != WSK_CATEGORY_STREAM)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!s->connected)
        return STATUS_INVALID_DEVICE_STATE;
    size_t bytes = 0;
    int e = code == SIO_WSK_QUERY_IDEAL_SEND_BACKLOG ? lx_ideal_send_backlog(s->fd, &bytes)
                                                     : lx_receive_backlog(s->fd, &bytes);
    if (e != 0)
        return wsk_status_from_errno(-e);
    *value = bytes;
    return STATUS_SUCCESS;
}
