/*
 * wsk_conn.c - connection calls on the request lifecycle (wsk_req.h):
 * WskConnect, WskConnectEx, WskSocketConnect's connect step, WskSend,
 * WskReceive (+Ex), WskDisconnect, WskListen, the backlog queries and
 * SO_WSK_EVENT_CALLBACK (wsk-part-a.md §7, wsk-part-b.md §5–§6).
 * Listeners live in wsk_accept.c, the event-driven receive path in wsk_rx.c.
 */
#include "wsk_internal.h"

#include <errno.h>

#include "wsk_linux.h"

/* Where WSK_FLAG_DRAIN receives put the data they discard (only the
 * kernel writes it; nobody reads it). */
static UCHAR drain_scratch[16384];

/* ---- per-kind hooks ---- */

static NTSTATUS connect_status(long result)
{
    return result == -ECONNREFUSED ? STATUS_CONNECTION_REFUSED : wsk_req_status_from_result(result);
}

static void connect_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->status = connect_status(r->result);
    if (NT_SUCCESS(out->status)) {
        s->connected = TRUE;
        if (s->rx_mode)
            out->kick = s;
    }
}

/* WskSocketConnect: the IRP carries the socket, or the socket goes. */
static void socket_connect_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->status = connect_status(r->result);
    if (NT_SUCCESS(out->status)) {
        s->connected = TRUE;
        out->information = (ULONG_PTR)&s->pub;
        if (s->rx_mode)
            out->kick = s;
    } else {
        s->closing = TRUE; /* the client never saw it: no socket is returned */
        out->destroy_first = s;
    }
}

/* WskConnectEx: connected, then the buffer that rides with the connect. */
static BOOLEAN connect_ex_progress(wsk_socket *s, wsk_req *r, long result, size_t transferred)
{
    if (r->u.connect.connected) {
        r->transferred += transferred;
        return FALSE;
    }
    if (result != 0)
        return FALSE;
    r->u.connect.connected = TRUE;
    if (r->seg_count == 0 || r->cancel_claimed || s->closing)
        return FALSE;
    wsk_io_send(&r->io, s->fd, r->seg, r->seg_count, wsk_req_io_done, r);
    return TRUE;
}

static void connect_ex_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->status = connect_status(r->result);
    if (r->u.connect.connected)
        s->connected = TRUE; /* connected even if the first send then failed */
    out->information = NT_SUCCESS(out->status) ? r->transferred : 0; /* bytes of the optional buffer sent */
}

static BOOLEAN send_progress(wsk_socket *s, wsk_req *r, long result, size_t transferred)
{
    (void)s;
    (void)result;
    r->transferred += transferred;
    return FALSE;
}

/* A failure of a request pending when its socket aborted itself is that
 * abort (docs/decisions.md, "Connections"); a cancel stays a cancel. */
static NTSTATUS own_abort_status(const wsk_socket *s, NTSTATUS status)
{
    return s->aborted && !NT_SUCCESS(status) && status != STATUS_CANCELLED ? STATUS_CONNECTION_ABORTED : status;
}

static void data_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->status = wsk_req_status_from_result(r->result);
    out->information = r->transferred;
    /* Linux reports a reset to the first call only and end of file after
     * it; a reset connection keeps failing on Windows, so a later receive
     * that finds only the end does too, not a graceful close. */
    if (r->result == -ECONNRESET)
        s->reset_seen = TRUE;
    else if (s->reset_seen && r->kind == WSK_REQ_RECEIVE && r->result == 0 && r->transferred == 0 && r->wanted > 0)
        out->status = STATUS_CONNECTION_RESET;
    else if (s->reset_seen && (r->result == -EPIPE || r->result == -ENOTCONN))
        out->status = STATUS_CONNECTION_RESET; /* after our own reset (adversity) Linux says not connected */
    out->status = own_abort_status(s, out->status);
    if (!NT_SUCCESS(out->status) && !(r->flags & WSK_FLAG_DRAIN)) {
        /* Ended early (cancelled, closed, reset) after moving bytes.  A
         * receive's bytes are gone from the stream: it completes with them,
         * as a short receive, and the next receive reports the reset.  A
         * failed send reports none, as a cancel routine does (docs/decisions.md,
         * "Connections").  A drain keeps its count of discarded bytes. */
        if (r->kind == WSK_REQ_RECEIVE && r->transferred > 0)
            out->status = STATUS_SUCCESS;
        else
            out->information = 0;
    }
    if (r->u.recv.control_length_out != NULL)
        *r->u.recv.control_length_out = 0; /* TCP delivers no control data */
    if (r->u.recv.control_flags_out != NULL)
        *r->u.recv.control_flags_out = 0;
    if (wsk_req_found_fin(r))
        s->receive_shut = TRUE;
    if (r->kind == WSK_REQ_SEND && (r->flags & WSK_FLAG_NODELAY) && NT_SUCCESS(out->status))
        (void)lx_push_pending(s->fd); /* "without delay" (PFN_WSK_SEND): Nagle does not hold it back */
    if (r->kind == WSK_REQ_SEND && (s->events & WSK_EVENT_SEND_BACKLOG))
        wsk_backlog_schedule_locked(s); /* the window may have moved */
}

/* A WAITALL receive reads until its buffer is full, a DRAIN receive until
 * the end: both resubmit themselves. */
static BOOLEAN receive_progress(wsk_socket *s, wsk_req *r, long result, size_t transferred)
{
    (void)transferred;
    if (result <= 0)
        return FALSE;
    r->transferred += (SIZE_T)result;
    if (r->cancel_claimed || s->closing)
        return FALSE;
    if (r->flags & WSK_FLAG_DRAIN) {
        wsk_io_recv(&r->io, s->fd, r->seg, 1, wsk_req_io_done, r); /* keep discarding */
        return TRUE;
    }
    if ((r->flags & WSK_FLAG_WAITALL) && r->transferred < r->wanted) {
        wsk_req_advance_segments(r, (SIZE_T)result);
        wsk_io_recv(&r->io, s->fd, r->seg + r->seg_first, r->seg_count - r->seg_first, wsk_req_io_done, r);
        return TRUE;
    }
    return FALSE;
}

static void disconnect_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->status = wsk_req_status_from_result(r->result);
    if (NT_SUCCESS(out->status)) {
        int e = lx_shutdown_send(s->fd);
        out->status = e == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-e);
        if (e == 0)
            s->send_shut = TRUE;
    }
    /* After a reset Linux says not connected; the connection was reset. */
    if (s->reset_seen && (r->result == -ENOTCONN || r->result == -EPIPE || out->status == STATUS_INVALID_CONNECTION))
        out->status = STATUS_CONNECTION_RESET;
    out->status = own_abort_status(s, out->status);
    /* A disconnect that was cancelled or failed sent no FIN: sends work
     * again (docs/decisions.md, "Ordering and close", rule 4). */
    if (!s->send_shut)
        s->disconnect_issued = FALSE;
}

static const wsk_req_ops connect_ops = {.progress = NULL, .finish = connect_finish};
static const wsk_req_ops socket_connect_ops = {.progress = NULL, .finish = socket_connect_finish};
static const wsk_req_ops connect_ex_ops = {.progress = connect_ex_progress, .finish = connect_ex_finish};
static const wsk_req_ops send_ops = {.progress = send_progress, .finish = data_finish};
static const wsk_req_ops receive_ops = {.progress = receive_progress, .finish = data_finish};
static const wsk_req_ops disconnect_ops = {.progress = send_progress, .finish = disconnect_finish};

/* ---- operations ---- */

NTSTATUS wsk_fail_now(PIRP irp, NTSTATUS status)
{
    return wsk_irp_complete_now(irp, status, 0);
}


NTSTATUS WSKAPI wsk_conn_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(Socket, WSK_CATS_CONNECTED, &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
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
    wsk_req *r = NT_SUCCESS(status) ? wsk_req_take_locked(s, WSK_REQ_CONNECT, &connect_ops, 0) : NULL;
    if (NT_SUCCESS(status) && r == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (!NT_SUCCESS(status)) {
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, status);
    }
    r->flags = Flags;
    SOCKADDR_STORAGE remote;
    __builtin_memcpy(&remote, RemoteAddress, wsk_sockaddr_size(s->family));
    wsk_req_pend_locked(s, r, Irp);
    wsk_io_connect(&r->io, s->fd, &remote, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
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
        return wsk_fail_now(Irp, status);
    pthread_mutex_lock(&s->lock);
    if (!s->connected) {
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_INVALID_CONNECTION);
    }
    if (s->aborted) {
        /* After the socket's own abortive disconnect (PFN_WSK_DISCONNECT). */
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_CONNECTION_ABORTED);
    }
    if (kind == WSK_REQ_SEND && (s->send_shut || s->disconnect_issued)) {
        /* After a graceful WskDisconnect no more sends (PFN_WSK_DISCONNECT). */
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_PIPE_DISCONNECTED);
    }
    /* Accepted: WskReceiveEx's outputs start at 0 (TCP has no control data). */
    if (control_length_out != NULL)
        *control_length_out = 0;
    if (control_flags_out != NULL)
        *control_flags_out = 0;
    BOOLEAN drain = kind == WSK_REQ_RECEIVE && (Flags & WSK_FLAG_DRAIN);
    if ((kind == WSK_REQ_SEND || kind == WSK_REQ_RECEIVE) && Buffer->Length == 0 && !drain) {
        /* Nothing to move: done at once (a zero-byte receive does not wait,
         * but it does resume paused receive indications). */
        BOOLEAN resume = kind == WSK_REQ_RECEIVE && s->rx_mode && s->rx_paused;
        if (resume) {
            s->rx_paused = FALSE;
            s->callbacks++; /* the completion routine may close the socket */
        }
        pthread_mutex_unlock(&s->lock);
        NTSTATUS r = wsk_irp_complete_pended(Irp, STATUS_SUCCESS, 0);
        if (resume)
            wsk_rx_kick_held(s);
        return r;
    }
    const wsk_req_ops *ops = kind == WSK_REQ_RECEIVE ? &receive_ops : kind == WSK_REQ_SEND ? &send_ops : &disconnect_ops;
    /* After the refusals and the zero-byte shortcuts: an operation that
     * finds the connection reset is one that goes to the network. */
    wsk_rx_maybe_reset_locked(s, kind == WSK_REQ_RECEIVE ? "WskReceive" : kind == WSK_REQ_SEND ? "WskSend" : "WskDisconnect");
    wsk_req *r = wsk_req_take_locked(s, kind, ops, drain ? 1 : segments);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
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
    r->u.recv.control_length_out = control_length_out;
    r->u.recv.control_flags_out = control_flags_out;
    if (!drain && segments > 0 &&
        !NT_SUCCESS(status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments))) {
        wsk_req_release_locked(s, r);
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, status);
    }
    if (kind == WSK_REQ_RECEIVE && s->rx_mode && s->recv_active == NULL) {
        /* Events are on: the provider's reader serves receives in order. */
        wsk_req_pend_locked(s, r, Irp);
        (void)wsk_req_queue_locked(s, r, &s->rx_irps); /* the kick serves or completes it */
        s->callbacks++; /* another thread may complete the IRP and the client close at once */
        pthread_mutex_unlock(&s->lock);
        wsk_rx_kick_held(s);
        return STATUS_PENDING;
    }
    wsk_req_pend_locked(s, r, Irp);
    if (kind == WSK_REQ_DISCONNECT)
        s->disconnect_issued = TRUE;
    BOOLEAN decided = FALSE;
    if (kind == WSK_REQ_RECEIVE)
        decided = wsk_req_submit_receive_locked(s, r); /* in issue order */
    else if (segments > 0)
        wsk_req_submit_send_locked(s, r); /* a send, or a disconnect's final data */
    else
        decided = wsk_req_submit_disconnect_locked(s, r); /* after the sends issued before it */
    if (decided)
        s->callbacks++; /* held across the kick that completes it */
    pthread_mutex_unlock(&s->lock);
    if (decided)
        wsk_rx_kick_held(s); /* completes it */
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
    wsk_socket *s = wsk_op_socket(Socket, WSK_CATS_CONNECTED, &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
    if (Buffer == NULL)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER);
    if (Flags & ~(ULONG)(WSK_FLAG_NODELAY))
        return wsk_fail_now(Irp, STATUS_NOT_SUPPORTED); /* out-of-band data is not supported */
    return data_start(s, Buffer, Flags, Irp, WSK_REQ_SEND);
}

static NTSTATUS receive_start(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp, PULONG control_length_out,
                              PULONG control_flags_out)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(Socket, WSK_CATS_CONNECTED, &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
    if (Buffer == NULL)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER);
    if ((Flags & WSK_FLAG_WAITALL) && (Flags & WSK_FLAG_DRAIN))
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER);
    if (Flags & ~(ULONG)(WSK_FLAG_WAITALL | WSK_FLAG_DRAIN))
        return wsk_fail_now(Irp, STATUS_NOT_SUPPORTED);
    if ((Flags & WSK_FLAG_DRAIN) && Buffer->Length != 0)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER); /* a drain takes a zero-length buffer */
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
    wsk_socket *s = wsk_op_socket(Socket, WSK_CATS_CONNECTED, &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
    if (Flags & ~(ULONG)WSK_FLAG_ABORTIVE)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER);
    if ((Flags & WSK_FLAG_ABORTIVE) && Buffer != NULL)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER); /* PFN_WSK_DISCONNECT: no data with an abort */
    if (Flags & WSK_FLAG_ABORTIVE) {
        pthread_mutex_lock(&s->lock);
        NTSTATUS status = STATUS_INVALID_CONNECTION;
        BOOLEAN kick = FALSE;
        if (s->aborted) {
            status = STATUS_CONNECTION_ABORTED; /* aborted already */
        } else if (s->connected) {
            int e = lx_abort(s->fd);
            status = e == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-e);
            /* "Afterwards neither send nor receive is possible"
             * (PFN_WSK_DISCONNECT): not a FIN, on either path. */
            s->send_shut = TRUE;
            s->aborted = TRUE;
            if (s->rx_mode) {
                wsk_rx_abort_locked(s);
                s->callbacks++; /* the kick fails the receives waiting there */
                kick = TRUE;
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (kick)
            wsk_rx_kick_held(s);
        return wsk_irp_complete_pended(Irp, status, 0);
    }
    return data_start(s, Buffer != NULL && Buffer->Length > 0 ? Buffer : NULL, Flags, Irp, WSK_REQ_DISCONNECT);
}

/* ---- events ---- */

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


NTSTATUS wsk_conn_set_event_callbacks(wsk_socket *s, const WSK_EVENT_CALLBACK_CONTROL *control, PIRP irp)
{
    if (s->closing)
        return STATUS_FILE_FORCED_CLOSED; /* after WskCloseSocket nothing is enabled again (wsk_req.h rule 5) */
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
    if (!disable && !wsk_socket_posts_ensure(s))
        return STATUS_INSUFFICIENT_RESOURCES; /* what its events will post (wsk_internal.h) */
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
        wsk_rx_kick(s);
        return status;
    }
    pthread_mutex_lock(&s->lock);
    if (disable) {
        s->events &= ~mask;
        if ((mask & WSK_EVENT_ACCEPT) && !s->conditional_accept)
            wsk_accept_events_stop_locked(s);
        status = wsk_event_disable_locked(s, mask, irp);
    } else {
        BOOLEAN was = (s->events & WSK_EVENT_ACCEPT) != 0 || s->conditional_accept; /* a feeder runs already */
        s->events |= mask;
        if ((mask & WSK_EVENT_ACCEPT) && !was && s->listening)
            wsk_accept_events_arm_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

/* ---- WskSocketConnect ---- */

NTSTATUS wsk_conn_socket_connect(wsk_socket *s, PSOCKADDR remote, PIRP irp)
{
    pthread_mutex_lock(&s->lock);
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_SOCKET_CONNECT, &socket_connect_ops, 0);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    SOCKADDR_STORAGE addr;
    __builtin_memcpy(&addr, remote, wsk_sockaddr_size(s->family));
    wsk_req_pend_locked(s, r, irp);
    wsk_io_connect(&r->io, s->fd, &addr, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

/* ---- stream sockets, WskConnectEx, the Ex data calls, backlog queries ---- */

NTSTATUS WSKAPI wsk_conn_listen(PWSK_SOCKET Socket, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(Socket, WSK_CAT(WSK_CATEGORY_STREAM), &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = STATUS_SUCCESS;
    /* A stream socket commits to one role: listening needs a bound socket
     * that neither connected nor listens already. */
    if (!s->bound || s->connected || s->listening)
        status = STATUS_INVALID_DEVICE_STATE;
    if (NT_SUCCESS(status)) {
        status = wsk_bind_registry_listen(s, 4096);
        s->listening = NT_SUCCESS(status);
    }
    pthread_mutex_unlock(&s->lock);
    return wsk_irp_complete_call(s->client, Irp, status, 0, "WskListen");
}

#define WSK_CONNECT_EX_MAX_BUFFER 65535

NTSTATUS WSKAPI wsk_conn_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer, ULONG Flags,
                                    PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(Socket, WSK_CATS_CONNECTED, &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
    if (Flags != 0 || RemoteAddress == NULL)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER);
    ULONG segments = 0;
    if (Buffer != NULL) {
        if (Buffer->Length > WSK_CONNECT_EX_MAX_BUFFER)
            return wsk_fail_now(Irp, STATUS_BUFFER_OVERFLOW);
        NTSTATUS st = wsk_buf_count_segments(Buffer, &segments);
        if (!NT_SUCCESS(st))
            return wsk_fail_now(Irp, st);
    }
    pthread_mutex_lock(&s->lock);
    NTSTATUS status = STATUS_SUCCESS;
    if (!s->bound || s->listening)
        status = STATUS_INVALID_DEVICE_STATE;
    else if (s->connected)
        status = STATUS_CONNECTION_ACTIVE;
    else if (RemoteAddress->sa_family != s->family)
        status = STATUS_INVALID_ADDRESS;
    wsk_req *r = NT_SUCCESS(status) ? wsk_req_take_locked(s, WSK_REQ_CONNECT_EX, &connect_ex_ops, segments) : NULL;
    if (NT_SUCCESS(status) && r == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (NT_SUCCESS(status) && segments > 0)
        status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments);
    if (!NT_SUCCESS(status)) {
        if (r != NULL)
            wsk_req_release_locked(s, r);
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, status);
    }
    SOCKADDR_STORAGE remote;
    __builtin_memcpy(&remote, RemoteAddress, wsk_sockaddr_size(s->family));
    wsk_req_pend_locked(s, r, Irp);
    wsk_io_connect(&r->io, s->fd, &remote, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
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
        return wsk_fail_now(Irp, ControlInfoLength != 0 && ControlInfo == NULL ? STATUS_INVALID_PARAMETER
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
    /* Received and not yet consumed: also what the provider's reader has
     * already taken from Linux for the receive event (docs/decisions.md). */
    if (code == SIO_WSK_QUERY_RECEIVE_BACKLOG)
        bytes += wsk_rx_buffered_locked(s);
    *value = bytes;
    return STATUS_SUCCESS;
}
