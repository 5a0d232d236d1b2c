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

#include <errno.h>

#include "wsk_linux.h"

#define WSK_TAG_REQUEST TAG_FROM_CHARS('W', 's', 'k', 'R')

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
    r->control_length_out = NULL;
    r->control_flags_out = NULL;
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

/* A close waiting for this socket can finish: nothing pending, no callback running. */
static BOOLEAN close_may_finish_locked(wsk_socket *s)
{
    return s->closing && s->close_irp != NULL && IsListEmpty(&s->pending) && s->callbacks == 0;
}

/* What a finished request reports, and the accepted socket if any. */
typedef struct req_outcome {
    PIRP irp;
    NTSTATUS status;
    ULONG_PTR information;
    wsk_socket *destroy; /* the socket, when this completion ends its close */
    BOOLEAN destroy_first; /* destroy before completing (a socket the client never saw) */
} req_outcome;

static NTSTATUS req_status_from_result(long result)
{
    return result >= 0 ? STATUS_SUCCESS : wsk_status_from_errno((int)-result);
}

static void req_accept_outcome(wsk_socket *listener, wsk_req *r, req_outcome *out)
{
    if (r->result < 0) {
        out->status = req_status_from_result(r->result);
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
        size_t len;
        SOCKADDR_STORAGE local;
        if (lx_local_address(fd, &local, &len) == 0)
            __builtin_memcpy(r->local_out, &local, len);
    }
    out->status = STATUS_SUCCESS;
    out->information = (ULONG_PTR)&child->pub;
}

/* Decides the outcome and recycles the request; lock held. */
static void req_finish_locked(wsk_socket *s, wsk_req *r, req_outcome *out)
{
    out->irp = r->irp;
    out->information = 0;
    out->destroy = NULL;
    out->destroy_first = FALSE;
    switch (r->kind) {
    case WSK_REQ_SOCKET_CONNECT:
        out->status = req_status_from_result(r->result);
        if (r->result == -ECONNREFUSED)
            out->status = STATUS_CONNECTION_REFUSED;
        if (NT_SUCCESS(out->status)) {
            s->connected = TRUE;
            out->information = (ULONG_PTR)&s->pub;
        } else {
            s->closing = TRUE; /* the client never saw it: no socket is returned */
            out->destroy = s;
            out->destroy_first = TRUE;
        }
        break;
    case WSK_REQ_ACCEPT_EVENT:
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
        if (NT_SUCCESS(out->status))
            s->connected = TRUE;
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
    if (close_may_finish_locked(s))
        out->destroy = s;
}

static void req_deliver(const req_outcome *out)
{
    if (out->destroy != NULL && out->destroy_first)
        wsk_socket_destroy(out->destroy);
    wsk_irp_finish(out->irp, out->status, out->information);
    if (out->destroy != NULL && !out->destroy_first)
        wsk_socket_destroy(out->destroy);
}

static void accept_event_arm_locked(wsk_socket *s);

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
    const WSK_CLIENT_LISTEN_DISPATCH *events = s->client_dispatch;
    if (child != NULL) {
        /* The client may use (even close) the socket before its callback
         * returns: the child stays alive until we have stored its context. */
        child->callbacks = 1;
        SOCKADDR_STORAGE local, remote;
        size_t len;
        __builtin_memset(&local, 0, sizeof(local));
        __builtin_memset(&remote, 0, sizeof(remote));
        lx_local_address(child->fd, &local, &len);
        wsk_io_accepted_peer(&r->io, &remote);
        PVOID context = NULL;
        const WSK_CLIENT_CONNECTION_DISPATCH *dispatch = NULL;
        NTSTATUS st = events->WskAcceptEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, (PSOCKADDR)&local,
                                             (PSOCKADDR)&remote, &child->pub, &context, &dispatch);
        pthread_mutex_lock(&child->lock);
        child->callbacks = 0;
        BOOLEAN closed_meanwhile = close_may_finish_locked(child);
        if (NT_SUCCESS(st) && !child->closing) {
            child->context = context;
            child->client_dispatch = dispatch;
        }
        pthread_mutex_unlock(&child->lock);
        if (closed_meanwhile) {
            wsk_socket_destroy(child); /* completes the client's close */
        } else if (!NT_SUCCESS(st)) {
            /* STATUS_REQUEST_NOT_ACCEPTED: the connection is reset. */
            child->closing = TRUE;
            wsk_socket_destroy(child);
        }
    }
    pthread_mutex_lock(&s->lock);
    RemoveEntryList(&r->link);
    req_release_locked(s, r);
    if (!s->closing && (s->events & WSK_EVENT_ACCEPT))
        accept_event_arm_locked(s);
    BOOLEAN destroy = close_may_finish_locked(s);
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
        BOOLEAN deliver = !s->closing && (s->events & WSK_EVENT_ACCEPT);
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
    if (r->kind == WSK_REQ_SEND || r->kind == WSK_REQ_DISCONNECT) {
        r->transferred += transferred;
    } else if (r->kind == WSK_REQ_RECEIVE && result > 0) {
        r->transferred += (SIZE_T)result;
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

/* ---- close ---- */

BOOLEAN wsk_conn_begin_close(wsk_socket *s, PIRP close_irp)
{
    pthread_mutex_lock(&s->lock);
    s->closing = TRUE;
    for (PLIST_ENTRY e = s->pending.Flink; e != &s->pending; e = e->Flink) {
        wsk_req *r = CONTAINING_RECORD(e, wsk_req, link);
        if (r->io_finished || r->cancel_claimed)
            continue;
        if (r->irp == NULL) { /* an internal request (accept events) */
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
    if (IsListEmpty(&s->pending) && s->callbacks == 0) {
        pthread_mutex_unlock(&s->lock);
        return TRUE;
    }
    wsk_irp_begin_pending(close_irp);
    s->close_irp = close_irp;
    pthread_mutex_unlock(&s->lock);
    return FALSE;
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
    if ((kind == WSK_REQ_SEND || kind == WSK_REQ_RECEIVE) && Buffer->Length == 0) {
        /* Nothing to move: done at once (a zero-byte receive does not wait). */
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_pended(Irp, STATUS_SUCCESS, 0);
    }
    wsk_req *r = req_take(s, segments);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    r->kind = kind;
    r->flags = Flags;
    r->wanted = Buffer != NULL ? Buffer->Length : 0;
    r->control_length_out = control_length_out;
    r->control_flags_out = control_flags_out;
    if (segments > 0 && !NT_SUCCESS(status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments))) {
        req_release_locked(s, r);
        pthread_mutex_unlock(&s->lock);
        return fail_now(Irp, status);
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
    if (Flags & ~(ULONG)(WSK_FLAG_WAITALL))
        return fail_now(Irp, STATUS_NOT_SUPPORTED); /* WSK_FLAG_DRAIN: not implemented yet */
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
static ULONG events_allowed(wsk_category category)
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

NTSTATUS wsk_conn_set_event_callbacks(wsk_socket *s, const WSK_EVENT_CALLBACK_CONTROL *control)
{
    if (control->NpiId == NULL || !IsEqualGUID(control->NpiId, &NPI_WSK_INTERFACE_ID))
        return STATUS_INVALID_PARAMETER;
    ULONG mask = control->EventMask;
    BOOLEAN disable = (mask & WSK_EVENT_DISABLE) != 0;
    mask &= ~(ULONG)WSK_EVENT_DISABLE;
    if (mask == 0 || (mask & ~events_allowed(s->category)) != 0)
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
    if (!disable && (mask & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG | WSK_EVENT_RECEIVE_FROM)))
        return STATUS_NOT_IMPLEMENTED; /* data events: still to come (issues 4 and 5) */
    pthread_mutex_lock(&s->lock);
    if (disable) {
        s->events &= ~mask;
        if (mask & WSK_EVENT_ACCEPT)
            accept_event_cancel_locked(s);
    } else {
        BOOLEAN was = (s->events & WSK_EVENT_ACCEPT) != 0;
        s->events |= mask;
        if ((mask & WSK_EVENT_ACCEPT) && !was && s->listening)
            accept_event_arm_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
    return STATUS_SUCCESS;
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
