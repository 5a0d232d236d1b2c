/*
 * wsk_dgram.c - datagram sockets (wsk-part-b.md §7): WskSendTo,
 * WskReceiveFrom and the fixed addresses of SIO_WSK_SET_REMOTE_ADDRESS /
 * SIO_WSK_SET_SENDTO_ADDRESS.  One call is one datagram; requests use the
 * same per-socket machinery as the connection calls (wsk_conn.c).
 */
#include "wsk_internal.h"

#include <errno.h>

#include "wsk_linux.h"

unsigned wsk_dgram_control_wanted(const wsk_socket *s)
{
    return (s->pktinfo_wanted ? WSK_IO_CONTROL_PKTINFO : 0) | (s->recv_tos ? WSK_IO_CONTROL_TOS : 0) |
           (s->recv_ecn ? WSK_IO_CONTROL_ECN : 0) | (s->recv_tclass ? WSK_IO_CONTROL_TCLASS : 0) |
           (s->recv_ecn6 ? WSK_IO_CONTROL_ECN6 : 0);
}

/* ---- per-kind hooks (wsk_req.h) ---- */

static void send_to_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    (void)s;
    out->status = wsk_req_status_from_result(r->result);
    if (r->result == -EMSGSIZE)
        out->status = STATUS_INVALID_BUFFER_SIZE; /* larger than a datagram can be */
    /* WskSendMessages that fails part-way reports what went out before. */
    out->information = NT_SUCCESS(out->status) || r->kind == WSK_REQ_SEND_MESSAGES ? r->transferred : 0;
}

static BOOLEAN send_to_progress(wsk_socket *s, wsk_req *r, long result, size_t transferred)
{
    (void)result;
    s->dg_sends_in_engine--;
    r->transferred += transferred;
    return FALSE;
}

static void send_messages_submit_locked(wsk_socket *s, wsk_req *r);

/* WskSendMessages: after one datagram went out, the next. */
static BOOLEAN send_messages_progress(wsk_socket *s, wsk_req *r, long result, size_t transferred)
{
    s->dg_sends_in_engine--;
    r->transferred += transferred;
    if (result < 0 || r->cancel_claimed || s->closing || r->u.to.next == NULL)
        return FALSE;
    send_messages_submit_locked(s, r);
    return TRUE;
}

static void receive_from_finish(wsk_socket *s, wsk_req *r, wsk_req_outcome *out)
{
    out->status = wsk_req_status_from_result(r->result);
    if (r->result < 0)
        return;
    /* A queued receive was served by the event reader, which filled the
     * address and noted the truncation itself. */
    int truncated = r->u.from.truncated;
    if (!r->queued)
        wsk_io_received_from(&r->io, r->u.from.remote_out, &truncated);
    out->information = (ULONG_PTR)r->result;
    /* The rest of a datagram too large for the buffer is lost; the
     * transport reports it as TDI and AFD do (docs/decisions.md). */
    if (truncated)
        out->status = STATUS_BUFFER_OVERFLOW;
    if (r->u.from.control_length_out != NULL) {
        /* Control data (IP_PKTINFO...) in Windows' layout, as much as fits. */
        int cut = r->u.from.control_cut;
        ULONG written = r->u.from.control_written;
        unsigned destination = r->u.from.destination_flags;
        if (!r->queued)
            written = (ULONG)wsk_io_received_control(&r->io, wsk_dgram_control_wanted(s), r->u.from.control_out,
                                                     r->u.from.control_capacity, &cut, &destination);
        *r->u.from.control_length_out = written;
        if (r->u.from.control_flags_out != NULL)
            *r->u.from.control_flags_out = (truncated ? MSG_TRUNC : 0) | (cut ? MSG_CTRUNC : 0) | destination;
    }
}

static const wsk_req_ops send_to_ops = {.progress = send_to_progress, .finish = send_to_finish};
static const wsk_req_ops send_messages_ops = {.progress = send_messages_progress, .finish = send_to_finish};
static const wsk_req_ops receive_from_ops = {.progress = NULL, .finish = receive_from_finish};

/* The checks every datagram call shares; on failure the IRP is completed
 * and *result holds what the call returns. */
static wsk_socket *dgram_op_socket(PWSK_SOCKET Socket, ULONG Flags, PWSK_BUF Buffer, PIRP Irp, NTSTATUS *result)
{
    wsk_socket *s = wsk_socket_from(Socket);
    NTSTATUS refusal = s == NULL                                ? STATUS_INVALID_HANDLE
                       : s->closing                             ? STATUS_FILE_FORCED_CLOSED
                       : s->category != WSK_CATEGORY_DATAGRAM   ? STATUS_INVALID_DEVICE_REQUEST
                       : Flags != 0 || Buffer == NULL           ? STATUS_INVALID_PARAMETER
                       : !s->bound                              ? STATUS_INVALID_DEVICE_STATE
                                                                : STATUS_SUCCESS;
    if (refusal == STATUS_SUCCESS)
        return s;
    *result = wsk_irp_complete_now(Irp, refusal, 0);
    return NULL;
}

/* Takes a request with the buffer's segments; NULL with the IRP completed. */
static wsk_req *dgram_request_locked(wsk_socket *s, PWSK_BUF Buffer, PIRP Irp, wsk_req_kind kind, NTSTATUS *result)
{
    ULONG segments = 0;
    NTSTATUS status = wsk_buf_count_segments(Buffer, &segments);
    const wsk_req_ops *ops = kind == WSK_REQ_SEND_TO ? &send_to_ops : &receive_from_ops;
    wsk_req *r = NT_SUCCESS(status) ? wsk_req_take_locked(s, kind, ops, segments) : NULL;
    if (NT_SUCCESS(status) && r == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (r != NULL && segments > 0 && !NT_SUCCESS(status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments))) {
        wsk_req_release_locked(s, r);
        r = NULL;
    }
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        *result = wsk_irp_complete_now(Irp, status, 0);
        return NULL;
    }
    r->flags = 0;
    r->wanted = Buffer->Length;
    return r;
}

/* Converts a send's control data into the request (copied: the caller's
 * buffer may go away once the call returns).  FALSE: refused, the lock is
 * dropped and the IRP completed. */
static BOOLEAN dgram_take_control_locked(wsk_socket *s, wsk_req *r, ULONG length, PCMSGHDR control, PIRP irp,
                                         NTSTATUS *result)
{
    if (length == 0)
        return TRUE;
    int e = wsk_io_set_send_control(&r->io, control, length, s->fd);
    if (e == 0) {
        r->u.to.has_control = TRUE;
        return TRUE;
    }
    wsk_req_release_locked(s, r);
    pthread_mutex_unlock(&s->lock);
    *result = wsk_irp_complete_now(irp, STATUS_INVALID_PARAMETER, 0);
    return FALSE;
}

/* The send checks made before any state is touched: control data comes as
 * a buffer with its length, and an address is of the socket's family. */
static NTSTATUS dgram_send_check(const wsk_socket *s, PSOCKADDR remote, ULONG control_length, PCMSGHDR control)
{
    if ((control_length != 0) != (control != NULL))
        return STATUS_INVALID_PARAMETER;
    if (remote != NULL && remote->sa_family != s->family)
        return STATUS_INVALID_ADDRESS;
    return STATUS_SUCCESS;
}

/* A send needs an address, or a fixed one (lock held). */
static BOOLEAN dgram_has_destination_locked(const wsk_socket *s, PSOCKADDR remote)
{
    return remote != NULL || s->has_remote_addr || s->has_sendto_addr;
}

/* Copies the destination into the request: the given address, else the
 * send-to address; none for a connected peer (lock held). */
static void dgram_set_destination_locked(wsk_socket *s, wsk_req *r, PSOCKADDR remote)
{
    const void *to = remote != NULL ? (const void *)remote
                     : s->has_remote_addr ? NULL
                                          : (const void *)&s->sendto_addr;
    r->u.to.has_to = to != NULL;
    if (to != NULL)
        __builtin_memcpy(&r->u.to.to, to, wsk_sockaddr_size(s->family));
}

/* Sends the datagram the request's segments describe. */
static void dgram_submit_send_locked(wsk_socket *s, wsk_req *r)
{
    s->dg_sends_in_engine++;
    wsk_io_send_to(&r->io, s->fd, r->seg, r->seg_count, r->u.to.has_to ? (const void *)&r->u.to.to : NULL,
                   r->u.to.has_control, wsk_req_io_done, r);
}

/* ---- sends of an indication round ---- */

/* The socket whose WskReceiveFromEvent runs on this thread (NULL: none). */
static _Thread_local wsk_socket *dg_round;

wsk_socket *wsk_dgram_round_begin(wsk_socket *s)
{
    wsk_socket *outer = dg_round;
    dg_round = s;
    return outer;
}

/* The round's sends still waiting go to the engine, in order (lock held):
 * a send that cannot join them must not pass them. */
static void dg_batch_to_engine_locked(wsk_socket *s)
{
    while (!IsListEmpty(&s->dg_send_batch)) {
        wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->dg_send_batch), wsk_req, queue_link);
        InitializeListHead(&r->queue_link);
        r->queued = FALSE;
        s->dg_sends_in_engine++;
        wsk_io_submit_prepared(&r->io);
        wsk_req_after_submit_locked(r);
    }
}

void wsk_dgram_round_end(wsk_socket *s, wsk_socket *outer)
{
    dg_round = outer;
    pthread_mutex_lock(&s->lock);
    BOOLEAN decided = FALSE;
    if (s->dg_sends_in_engine > 0)
        dg_batch_to_engine_locked(s); /* earlier sends wait in the engine (full buffer): no passing them */
    while (!IsListEmpty(&s->dg_send_batch)) {
        wsk_req *rs[WSK_IO_BATCH_MAX];
        wsk_io *ios[WSK_IO_BATCH_MAX];
        size_t lengths[WSK_IO_BATCH_MAX];
        size_t n = 0;
        for (PLIST_ENTRY e = s->dg_send_batch.Flink; e != &s->dg_send_batch && n < WSK_IO_BATCH_MAX; e = e->Flink) {
            rs[n] = CONTAINING_RECORD(e, wsk_req, queue_link);
            ios[n] = &rs[n]->io;
            n++;
        }
        /* Under the lock: one non-blocking call, and nothing else may
         * touch these requests meanwhile (their cancel routines wait). */
        size_t sent = wsk_io_send_batch(s->fd, ios, n, lengths);
        for (size_t i = 0; i < sent; i++) {
            /* Decided in issue order; completed below, each with its own
             * byte count.  It stays `queued` for a cancel routine that is
             * already on its way (wsk_req.c). */
            RemoveEntryList(&rs[i]->queue_link);
            rs[i]->transferred = lengths[i];
            wsk_req_decide_queued_locked(s, rs[i], (long)lengths[i]);
            decided = TRUE;
        }
        if (sent < n) {
            /* The kernel took part (or none: full, or an error for the
             * next one): the rest go on in order through the engine, which
             * waits for room and reports each one's own error. */
            dg_batch_to_engine_locked(s);
        }
    }
    if (decided)
        s->callbacks++; /* dropped by wsk_rx_kick_held */
    pthread_mutex_unlock(&s->lock);
    if (decided)
        wsk_rx_kick_held(s); /* completes them */
}

/* WskSendTo from inside the socket's own indication round: prepared now,
 * sent with the round's others when the callback returns.  FALSE: it
 * cannot wait (too many segments for one call), and those before it went
 * to the engine so that it does not pass them. */
static BOOLEAN dg_round_take_locked(wsk_socket *s, wsk_req *r)
{
    if (wsk_io_send_to_prepare(&r->io, s->fd, r->seg, r->seg_count,
                               r->u.to.has_to ? (const void *)&r->u.to.to : NULL, r->u.to.has_control,
                               wsk_req_io_done, r) != 0) {
        dg_batch_to_engine_locked(s);
        return FALSE;
    }
    BOOLEAN cancelled = wsk_req_queue_locked(s, r, &s->dg_send_batch);
    if (cancelled)
        s->callbacks++;
    pthread_mutex_unlock(&s->lock);
    if (cancelled)
        wsk_rx_kick_held(s); /* completes it cancelled; drops the reference */
    return TRUE;
}

NTSTATUS WSKAPI wsk_dgram_send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                  ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS result;
    wsk_socket *s = dgram_op_socket(Socket, Flags, Buffer, Irp, &result);
    if (s == NULL)
        return result;
    NTSTATUS refusal = dgram_send_check(s, RemoteAddress, ControlInfoLength, ControlInfo);
    if (!NT_SUCCESS(refusal))
        return wsk_irp_complete_now(Irp, refusal, 0);
    pthread_mutex_lock(&s->lock);
    if (!dgram_has_destination_locked(s, RemoteAddress)) {
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0); /* nowhere to send */
    }
    wsk_req *r = dgram_request_locked(s, Buffer, Irp, WSK_REQ_SEND_TO, &result);
    if (r == NULL)
        return result;
    if (!dgram_take_control_locked(s, r, ControlInfoLength, ControlInfo, Irp, &result))
        return result;
    dgram_set_destination_locked(s, r, RemoteAddress);
    wsk_req_pend_locked(s, r, Irp);
    if (dg_round == s && dg_round_take_locked(s, r))
        return STATUS_PENDING; /* unlocked */
    dgram_submit_send_locked(s, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

/* Loads the request with the segments of r->u.to.next and sends it. */
static void send_messages_submit_locked(wsk_socket *s, wsk_req *r)
{
    PWSK_BUF_LIST e = r->u.to.next;
    r->u.to.next = e->Next;
    ULONG count = 0;
    wsk_buf_count_segments(&e->Buffer, &count); /* validated at the call */
    if (count > 0)
        wsk_buf_fill_segments(&e->Buffer, (wsk_segment *)r->seg, count);
    r->seg_count = count;
    dgram_submit_send_locked(s, r);
}

#define DG_LIST_SEGMENTS 8 /* per datagram sent directly; more: the engine path */

/* WskSendMessages' datagrams from r->u.to.next on, WSK_IO_BATCH_MAX per
 * non-blocking sendmmsg, while the kernel takes them all (lock held; no
 * send of the socket is in the engine, so none is passed).  TRUE: all
 * went; FALSE: r->u.to.next is the first left for the engine. */
static BOOLEAN dg_send_messages_now_locked(wsk_socket *s, wsk_req *r)
{
    while (r->u.to.next != NULL) {
        wsk_io_segment segs[WSK_IO_BATCH_MAX][DG_LIST_SEGMENTS];
        wsk_io_segment *dgrams[WSK_IO_BATCH_MAX];
        size_t counts[WSK_IO_BATCH_MAX], lengths[WSK_IO_BATCH_MAX];
        size_t n = 0;
        for (PWSK_BUF_LIST e = r->u.to.next; e != NULL && n < WSK_IO_BATCH_MAX; e = e->Next) {
            ULONG count = 0;
            wsk_buf_count_segments(&e->Buffer, &count); /* validated at the call */
            if (count > DG_LIST_SEGMENTS)
                break;
            if (count > 0)
                wsk_buf_fill_segments(&e->Buffer, (wsk_segment *)segs[n], count);
            dgrams[n] = segs[n];
            counts[n++] = count;
        }
        size_t sent = n == 0 ? 0
                             : wsk_io_send_list(&r->io, s->fd, dgrams, counts, n,
                                                r->u.to.has_to ? (const void *)&r->u.to.to : NULL,
                                                r->u.to.has_control, lengths);
        for (size_t i = 0; i < sent; i++) {
            r->transferred += lengths[i];
            r->u.to.next = r->u.to.next->Next;
        }
        if (sent < n || n == 0)
            return FALSE;
    }
    return TRUE;
}

NTSTATUS WSKAPI wsk_dgram_send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                        PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                        PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS result;
    wsk_socket *s = dgram_op_socket(Socket, Flags, BufferList != NULL ? &BufferList->Buffer : NULL, Irp, &result);
    if (s == NULL)
        return result;
    NTSTATUS refusal = dgram_send_check(s, RemoteAddress, ControlInfoLength, ControlInfo);
    if (!NT_SUCCESS(refusal))
        return wsk_irp_complete_now(Irp, refusal, 0);
    /* Every datagram is checked before the first goes out; a list that
     * loops back would never end (decision: refused like a bad WSK_BUF). */
    if (wsk_list_is_cyclic(BufferList, offsetof(WSK_BUF_LIST, Next)))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    ULONG most = 0;
    for (PWSK_BUF_LIST e = BufferList; e != NULL; e = e->Next) {
        ULONG count = 0;
        NTSTATUS st = wsk_buf_count_segments(&e->Buffer, &count);
        if (!NT_SUCCESS(st))
            return wsk_irp_complete_now(Irp, st, 0);
        if (count > most)
            most = count;
    }
    pthread_mutex_lock(&s->lock);
    if (!dgram_has_destination_locked(s, RemoteAddress)) {
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0); /* nowhere to send */
    }
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_SEND_MESSAGES, &send_messages_ops, most);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_now(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    }
    r->flags = 0;
    r->u.to.next = BufferList;
    if (dg_round == s)
        dg_batch_to_engine_locked(s); /* WskSendTo calls of this round before it go first */
    if (!dgram_take_control_locked(s, r, ControlInfoLength, ControlInfo, Irp, &result))
        return result;
    dgram_set_destination_locked(s, r, RemoteAddress);
    if (s->dg_sends_in_engine == 0 && IsListEmpty(&s->dg_send_batch) && dg_send_messages_now_locked(s, r)) {
        /* The kernel took every datagram at once. */
        SIZE_T total = r->transferred;
        wsk_req_release_locked(s, r);
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_pended(Irp, STATUS_SUCCESS, total);
    }
    /* The rest (full, an error to report, a datagram in many pieces, or
     * sends ahead of it in the engine) one by one through the engine. */
    wsk_req_pend_locked(s, r, Irp);
    send_messages_submit_locked(s, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_dgram_receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                       PULONG ControlLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS result;
    wsk_socket *s = dgram_op_socket(Socket, Flags, Buffer, Irp, &result);
    if (s == NULL)
        return result;
    pthread_mutex_lock(&s->lock);
    wsk_req *r = dgram_request_locked(s, Buffer, Irp, WSK_REQ_RECEIVE_FROM, &result);
    if (r == NULL)
        return result;
    /* ControlLength is in (the buffer's size) and out; NULL ignores both. */
    if (ControlLength != NULL && ControlInfo != NULL) {
        r->u.from.control_out = ControlInfo;
        r->u.from.control_capacity = *ControlLength;
    }
    r->u.from.remote_out = RemoteAddress;
    r->u.from.control_length_out = ControlLength;
    r->u.from.control_flags_out = ControlFlags;
    if (!IsListEmpty(&s->dg_stash))
        return wsk_dgram_receive_stashed(s, r, Irp); /* unlocks */
    if (s->dg_mode) {
        /* Events are in use: the provider's reader serves receives first
         * (wsk-part-b.md §7.3), in the order they were queued. */
        wsk_req_pend_locked(s, r, Irp);
        BOOLEAN cancelled = wsk_req_queue_locked(s, r, &s->dg_irps);
        if (cancelled)
            s->callbacks++;
        wsk_dgram_events_arm_locked(s);
        pthread_mutex_unlock(&s->lock);
        if (cancelled)
            wsk_rx_kick_held(s); /* completes it; drops the reference */
        return STATUS_PENDING;
    }
    wsk_req_pend_locked(s, r, Irp);
    wsk_io_recv_from(&r->io, s->fd, r->seg, r->seg_count, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

NTSTATUS wsk_dgram_set_fixed_address(wsk_socket *s, ULONG code, SIZE_T size, PVOID address)
{
    if (s->category != WSK_CATEGORY_DATAGRAM)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!s->bound)
        return STATUS_INVALID_DEVICE_STATE; /* only after WskBind (wsk-part-b.md §7.6) */
    BOOLEAN clear = address == NULL && size == 0;
    if (!clear && (address == NULL || size < wsk_sockaddr_size(s->family) ||
                   ((PSOCKADDR)address)->sa_family != s->family))
        return STATUS_INVALID_PARAMETER;
    if (code == SIO_WSK_SET_REMOTE_ADDRESS || s->has_remote_addr) {
        /* The remote address filters what arrives: the Linux socket is
         * connected to it (or no longer connected). */
        BOOLEAN connect_it = code == SIO_WSK_SET_REMOTE_ADDRESS && !clear;
        int e = lx_datagram_connect(s->fd, connect_it ? address : NULL);
        if (e != 0 && connect_it)
            return wsk_status_from_errno(-e);
        s->has_remote_addr = connect_it;
    }
    s->has_sendto_addr = !clear;
    if (!clear)
        __builtin_memcpy(&s->sendto_addr, address, wsk_sockaddr_size(s->family));
    return STATUS_SUCCESS;
}
