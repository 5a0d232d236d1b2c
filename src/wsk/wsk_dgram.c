/*
 * wsk_dgram.c - datagram sockets (wsk-part-b.md §7): WskSendTo,
 * WskReceiveFrom and the fixed addresses of SIO_WSK_SET_REMOTE_ADDRESS /
 * SIO_WSK_SET_SENDTO_ADDRESS.  One call is one datagram; requests use the
 * same per-socket machinery as the connection calls (wsk_conn.c).
 */
#include "wsk_internal.h"

#include <errno.h>

#include "wsk_linux.h"

/* The control objects the client asked for on receive (lock held, or
 * on the reader's path where the options are read as they stand). */
static unsigned dg_control_wanted(const wsk_socket *s)
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
    (void)s;
    (void)result;
    r->transferred += transferred;
    return FALSE;
}

static void send_messages_submit_locked(wsk_socket *s, wsk_req *r);

/* WskSendMessages: after one datagram went out, the next. */
static BOOLEAN send_messages_progress(wsk_socket *s, wsk_req *r, long result, size_t transferred)
{
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
            written = (ULONG)wsk_io_received_control(&r->io, dg_control_wanted(s), r->u.from.control_out,
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
    wsk_io_send_to(&r->io, s->fd, r->seg, r->seg_count, r->u.to.has_to ? (const void *)&r->u.to.to : NULL,
                   r->u.to.has_control, wsk_req_io_done, r);
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
    if (!dgram_take_control_locked(s, r, ControlInfoLength, ControlInfo, Irp, &result))
        return result;
    dgram_set_destination_locked(s, r, RemoteAddress);
    wsk_req_pend_locked(s, r, Irp);
    send_messages_submit_locked(s, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

static NTSTATUS dgram_receive_stashed(wsk_socket *s, wsk_req *r, PIRP irp);

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
        return dgram_receive_stashed(s, r, Irp); /* unlocks */
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

/* ---- WskReceiveFromEvent ---- */

#define WSK_DG_BLOCK_MAGIC 0x4B4C4244u /* "DBLK" */
#define WSK_DG_BLOCK_DATA 65536        /* the largest UDP payload fits */
#define WSK_DG_MAX_SPARE 4

/* One received datagram; the indication comes first so that WskRelease
 * finds the block from the list head the client hands back. */
typedef struct wsk_dg_block {
    WSK_DATAGRAM_INDICATION indication;
    LIST_ENTRY link;
    ULONG magic;
    wsk_socket *socket;
    PMDL mdl;
    BOOLEAN retained;
    BOOLEAN in_callback;    /* its WskReceiveFromEvent is running */
    BOOLEAN released_early; /* WskRelease came before the callback returned STATUS_PENDING */
    SIZE_T length;          /* a stashed datagram's size */
    ULONG control_len;      /* its control data, Windows layout */
    BOOLEAN control_cut;
    unsigned destination_flags; /* MSG_MCAST / MSG_BCAST */
    _Alignas(8) UCHAR control[256]; /* room for every kind at once (IPv6: 136 bytes) */
    SOCKADDR_STORAGE from;
    UCHAR data[WSK_DG_BLOCK_DATA];
} wsk_dg_block;

void wsk_dgram_init_socket(wsk_socket *s)
{
    InitializeListHead(&s->dg_spare);
    InitializeListHead(&s->dg_held);
    InitializeListHead(&s->dg_stash);
    InitializeListHead(&s->dg_irps);
}

static wsk_dg_block *dg_block_get_locked(wsk_socket *s)
{
    if (!IsListEmpty(&s->dg_spare)) {
        s->dg_spare_count--;
        return CONTAINING_RECORD(RemoveHeadList(&s->dg_spare), wsk_dg_block, link);
    }
    wsk_dg_block *b = openwsk_pool_alloc(sizeof(*b), WSK_TAG_SOCKET, FALSE);
    if (b == NULL)
        return NULL;
    b->mdl = IoAllocateMdl(b->data, WSK_DG_BLOCK_DATA, FALSE, FALSE, NULL);
    if (b->mdl == NULL) {
        openwsk_pool_free(b);
        return NULL;
    }
    MmBuildMdlForNonPagedPool(b->mdl);
    b->magic = WSK_DG_BLOCK_MAGIC;
    b->socket = s;
    b->retained = FALSE; /* a reused block gets these from dg_block_put_locked */
    b->in_callback = FALSE;
    b->released_early = FALSE;
    return b;
}

static void dg_block_free(wsk_dg_block *b)
{
    b->magic = 0;
    IoFreeMdl(b->mdl);
    openwsk_pool_free(b);
}

static void dg_block_put_locked(wsk_socket *s, wsk_dg_block *b)
{
    b->retained = FALSE;
    b->in_callback = FALSE;
    b->released_early = FALSE;
    if (s->dg_spare_count >= WSK_DG_MAX_SPARE) {
        dg_block_free(b);
        return;
    }
    InsertHeadList(&s->dg_spare, &b->link);
    s->dg_spare_count++;
}

void wsk_dgram_free(wsk_socket *s)
{
    if (s->dg_retained > 0)
        openwsk_log("WskCloseSocket: %d datagram indications were never released", (int)s->dg_retained);
    while (!IsListEmpty(&s->dg_spare))
        dg_block_free(CONTAINING_RECORD(RemoveHeadList(&s->dg_spare), wsk_dg_block, link));
    while (!IsListEmpty(&s->dg_held))
        dg_block_free(CONTAINING_RECORD(RemoveHeadList(&s->dg_held), wsk_dg_block, link));
    while (!IsListEmpty(&s->dg_stash))
        dg_block_free(CONTAINING_RECORD(RemoveHeadList(&s->dg_stash), wsk_dg_block, link));
}

static void dg_read_done(wsk_io *io, void *context, long result, size_t transferred);
static BOOLEAN dg_event_on(const wsk_socket *s);
static SIZE_T dg_copy_to_request(wsk_socket *s, const wsk_dg_block *b, SIZE_T length, wsk_req *r);
static void dg_stash_done(wsk_io *io, void *context, long result, size_t transferred);

void wsk_dgram_events_arm_locked(wsk_socket *s)
{
    if (s->category != WSK_CATEGORY_DATAGRAM || !s->bound || s->closing || s->dg_reader != NULL)
        return;
    if (dg_event_on(s))
        s->dg_mode = TRUE;
    if (!dg_event_on(s) && IsListEmpty(&s->dg_irps))
        return; /* nobody to read for */
    /* Out of memory: datagrams wait in Linux's receive buffer (or are
     * dropped there, as UDP may be) and the reader is tried again shortly
     * (wsk_retry.c). */
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_DGRAM_READ, NULL, 1);
    if (r == NULL) {
        wsk_retry_schedule_locked(s);
        return;
    }
    if (!IsListEmpty(&s->dg_stash)) {
        /* A datagram read before the event was last disabled goes first,
         * from an engine thread (never inside the client's call). */
        r->u.read.block = CONTAINING_RECORD(RemoveHeadList(&s->dg_stash), wsk_dg_block, link);
        wsk_req_track_locked(s, r);
        s->dg_reader = r;
        wsk_io_post(&r->io, dg_stash_done, r);
        return;
    }
    wsk_dg_block *b = dg_block_get_locked(s);
    if (b == NULL) {
        wsk_req_release_locked(s, r);
        wsk_retry_schedule_locked(s);
        return;
    }
    r->u.read.block = b; /* the block being filled */
    r->seg[0].base = b->data;
    r->seg[0].length = WSK_DG_BLOCK_DATA;
    wsk_req_track_locked(s, r);
    s->dg_reader = r;
    wsk_io_recv_from(&r->io, s->fd, r->seg, 1, dg_read_done, r);
}

void wsk_dgram_events_stop_locked(wsk_socket *s)
{
    wsk_req *r = s->dg_reader;
    /* Queued receives keep the reader; what it reads without one is kept. */
    if (r != NULL && !r->cancel_claimed && IsListEmpty(&s->dg_irps)) {
        r->cancel_claimed = TRUE;
        wsk_io_cancel(&r->io);
    }
}

/* Errors after which reading this socket can never succeed; any other
 * (an ICMP answer to an earlier send on a connected socket: refused,
 * unreachable, too big, prohibited...) concerns one datagram, and reading
 * goes on. */
static BOOLEAN dg_error_is_fatal(long result)
{
    return result == -EBADF || result == -ENOTSOCK || result == -EINVAL || result == -EFAULT;
}

/* The client can take indications: enabled, and its table has the callback
 * (a static event reaches sockets created without one). */
static BOOLEAN dg_event_on(const wsk_socket *s)
{
    const WSK_CLIENT_DATAGRAM_DISPATCH *d = s->client_dispatch;
    return (s->events & WSK_EVENT_RECEIVE_FROM) && d != NULL && d->WskReceiveFromEvent != NULL;
}

/* Indicates one datagram (b, `length` bytes, b->from set) to the client;
 * the reader request r is recycled first.  Lock held on entry, dropped. */
static void dg_deliver(wsk_socket *s, wsk_req *r, wsk_dg_block *b, long result)
{
    s->dg_reader = NULL;
    RemoveEntryList(&r->link);
    wsk_req_release_locked(s, r);
    if (result >= 0 && !s->closing && !IsListEmpty(&s->dg_irps)) {
        /* A queued WskReceiveFrom takes precedence over the event. */
        wsk_req *q = CONTAINING_RECORD(RemoveHeadList(&s->dg_irps), wsk_req, queue_link);
        wsk_req_decide_queued_locked(s, q, (long)dg_copy_to_request(s, b, (SIZE_T)result, q));
        dg_block_put_locked(s, b);
        wsk_dgram_events_arm_locked(s);
        s->callbacks++;
        pthread_mutex_unlock(&s->lock);
        wsk_rx_kick_held(s); /* completes what decided holds; drops the reference */
        return;
    }
    if (result >= 0 && !s->closing && !dg_event_on(s)) {
        /* Nobody takes it now (the event was disabled while it was read):
         * it waits for a WskReceiveFrom or the event's return. */
        b->length = (SIZE_T)result;
        InsertTailList(&s->dg_stash, &b->link);
        result = -ECANCELED;
        b = NULL;
    }
    if (result < 0 || s->closing) {
        if (b != NULL)
            dg_block_put_locked(s, b);
        /* A cancelled read may have left a queued receive waiting. */
        if (!dg_error_is_fatal(result))
            wsk_dgram_events_arm_locked(s);
        BOOLEAN destroy = wsk_close_may_finish_locked(s);
        pthread_mutex_unlock(&s->lock);
        if (destroy)
            wsk_socket_destroy(s);
        return;
    }
    const WSK_CLIENT_DATAGRAM_DISPATCH *d = s->client_dispatch;
    s->callbacks++;
    wsk_event_enter_locked(s, WSK_EVENT_RECEIVE_FROM);
    b->in_callback = TRUE;
    pthread_mutex_unlock(&s->lock);
    b->indication.Next = NULL;
    b->indication.Buffer.Mdl = b->mdl;
    b->indication.Buffer.Offset = 0;
    b->indication.Buffer.Length = (SIZE_T)result;
    b->indication.ControlInfo = b->control_len > 0 ? (PCMSGHDR)b->control : NULL;
    b->indication.ControlInfoLength = b->control_len;
    b->indication.RemoteAddress = (PSOCKADDR)&b->from;
    openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
    NTSTATUS st =
        d->WskReceiveFromEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL | b->destination_flags, &b->indication);
    pthread_mutex_lock(&s->lock);
    b->in_callback = FALSE;
    LIST_ENTRY finished;
    wsk_event_leave_locked(s, WSK_EVENT_RECEIVE_FROM, &finished);
    if (st == STATUS_PENDING && !b->released_early) {
        b->retained = TRUE; /* until WskRelease */
        s->dg_retained++;
        InsertTailList(&s->dg_held, &b->link);
    } else {
        /* STATUS_SUCCESS, a retained datagram already released from another
         * thread, or STATUS_DATA_NOT_ACCEPTED: the datagram is not kept
         * (docs/decisions.md); an event enabled per socket is then disabled
         * until the client enables it again (wsk-part-b.md §7.4). */
        dg_block_put_locked(s, b);
        if (st == STATUS_DATA_NOT_ACCEPTED && !(s->static_events & WSK_EVENT_RECEIVE_FROM))
            s->events &= ~(ULONG)WSK_EVENT_RECEIVE_FROM;
    }
    /* One indication at a time per socket: the next read starts now. */
    wsk_dgram_events_arm_locked(s);
    pthread_mutex_unlock(&s->lock);
    /* Disables waiting for this callback complete before the reference
     * goes: a close must not complete ahead of them. */
    wsk_event_finish_disables(&finished);
    wsk_socket_unhold(s);
}

static void dg_read_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    wsk_dg_block *b = r->u.read.block;
    int truncated = 0, cut = 0;
    if (result >= 0) { /* before the request is reused */
        wsk_io_received_from(io, &b->from, &truncated);
        b->control_len = (ULONG)wsk_io_received_control(io, dg_control_wanted(s), b->control, sizeof(b->control), &cut,
                                                        &b->destination_flags);
        b->control_cut = cut != 0;
    }
    pthread_mutex_lock(&s->lock);
    dg_deliver(s, r, b, result);
}

static void dg_stash_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)result;
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    wsk_dg_block *b = r->u.read.block;
    pthread_mutex_lock(&s->lock);
    if (s->closing) {
        InsertHeadList(&s->dg_stash, &b->link); /* freed with the socket */
        dg_deliver(s, r, NULL, -ECANCELED);
        return;
    }
    dg_deliver(s, r, b, (long)b->length);
}

/* How much of Windows-layout control data (whole CMSGHDR objects, 8-byte
 * aligned) fits in cap bytes: the same rule as when it is written straight
 * into the client's buffer (wsk_io_received_control). */
static ULONG dg_control_that_fits(const UCHAR *control, ULONG len, ULONG cap)
{
    ULONG at = 0, used = 0;
    while (at + 16 <= len) {
        SIZE_T object;
        __builtin_memcpy(&object, control + at, sizeof(object));
        if (object < 16 || at + object > cap)
            break;
        ULONG next = at + (ULONG)((object + 7) & ~(SIZE_T)7);
        used = next < cap ? next : cap;
        at = next;
    }
    return used < len ? used : len;
}

/* Copies a datagram the reader holds into a WskReceiveFrom's buffers,
 * address and control buffer; returns the data bytes copied. */
static SIZE_T dg_copy_to_request(wsk_socket *s, const wsk_dg_block *b, SIZE_T length, wsk_req *r)
{
    SIZE_T copied = 0;
    for (ULONG i = 0; i < r->seg_count && copied < length; i++) {
        SIZE_T n = length - copied < r->seg[i].length ? length - copied : r->seg[i].length;
        __builtin_memcpy(r->seg[i].base, b->data + copied, n);
        copied += n;
    }
    r->u.from.truncated = copied < length;
    if (r->u.from.remote_out != NULL)
        __builtin_memcpy(r->u.from.remote_out, &b->from, wsk_sockaddr_size(s->family));
    r->u.from.destination_flags = b->destination_flags;
    r->u.from.control_written = dg_control_that_fits(b->control, b->control_len, r->u.from.control_capacity);
    r->u.from.control_cut = b->control_cut || r->u.from.control_written < b->control_len;
    if (r->u.from.control_written > 0)
        __builtin_memcpy(r->u.from.control_out, b->control, r->u.from.control_written);
    return copied;
}

/* WskReceiveFrom while datagrams read for a disabled event wait: the
 * oldest is copied out at once.  Lock held on entry, dropped. */
static NTSTATUS dgram_receive_stashed(wsk_socket *s, wsk_req *r, PIRP irp)
{
    wsk_dg_block *b = CONTAINING_RECORD(RemoveHeadList(&s->dg_stash), wsk_dg_block, link);
    SIZE_T copied = dg_copy_to_request(s, b, b->length, r);
    BOOLEAN truncated = r->u.from.truncated;
    if (r->u.from.control_length_out != NULL) {
        *r->u.from.control_length_out = r->u.from.control_written;
        if (r->u.from.control_flags_out != NULL)
            *r->u.from.control_flags_out =
                (truncated ? MSG_TRUNC : 0) | (r->u.from.control_cut ? MSG_CTRUNC : 0) | r->u.from.destination_flags;
    }
    dg_block_put_locked(s, b);
    wsk_req_release_locked(s, r);
    pthread_mutex_unlock(&s->lock);
    return wsk_irp_complete_pended(irp, truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS, copied);
}

/* Whether b is a datagram block of s that the client holds. */
static BOOLEAN dg_block_held_locked(const wsk_socket *s, const wsk_dg_block *b)
{
    return b->magic == WSK_DG_BLOCK_MAGIC && b->socket == s &&
           ((b->in_callback && !b->released_early) || b->retained);
}

NTSTATUS WSKAPI wsk_dgram_release(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication)
{
    wsk_socket *s = wsk_socket_from(Socket);
    if (s == NULL || DatagramIndication == NULL)
        return STATUS_INVALID_PARAMETER;
    /* The list as the client hands it back: it may have relinked Next to
     * gather indications from several callbacks.  Every element is checked
     * before any is taken back, so a bad list changes nothing. */
    pthread_mutex_lock(&s->lock);
    wsk_list_guard guard;
    wsk_list_guard_init(&guard, DatagramIndication, offsetof(WSK_DATAGRAM_INDICATION, Next));
    for (PWSK_DATAGRAM_INDICATION i = DatagramIndication; i != NULL; i = i->Next) {
        wsk_dg_block *b = CONTAINING_RECORD(i, wsk_dg_block, indication);
        if (!dg_block_held_locked(s, b) || wsk_list_guard_revisits(&guard, i)) {
            pthread_mutex_unlock(&s->lock);
            return STATUS_INVALID_PARAMETER; /* not ours, released already, or a cycle */
        }
    }
    PWSK_DATAGRAM_INDICATION next;
    for (PWSK_DATAGRAM_INDICATION i = DatagramIndication; i != NULL; i = next) {
        wsk_dg_block *b = CONTAINING_RECORD(i, wsk_dg_block, indication);
        next = i->Next;
        if (b->in_callback) {
            /* Handed to another thread before the callback returned STATUS_PENDING. */
            b->released_early = TRUE;
        } else {
            s->dg_retained--;
            RemoveEntryList(&b->link);
            dg_block_put_locked(s, b);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return STATUS_SUCCESS;
}
