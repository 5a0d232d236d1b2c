/*
 * wsk_dgram_events.c - WskReceiveFromEvent (wsk-part-b.md §7.4): the
 * provider's reader of a datagram socket whose event is enabled, the
 * datagram blocks it indicates, WskRelease of them, and the queued
 * WskReceiveFrom calls it serves first (§7.3).
 */
#include "wsk_internal.h"

#include <errno.h>

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
        b->control_len = (ULONG)wsk_io_received_control(io, wsk_dgram_control_wanted(s), b->control, sizeof(b->control), &cut,
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
NTSTATUS wsk_dgram_receive_stashed(wsk_socket *s, wsk_req *r, PIRP irp)
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
