/*
 * wsk_dgram_events.c - WskReceiveFromEvent (wsk-part-b.md §7.4): the
 * provider's reader of a datagram socket whose event is enabled, the
 * datagram blocks it indicates, WskRelease of them, and the queued
 * WskReceiveFrom calls it serves first (§7.3).
 */
#include "wsk_internal.h"

#include "kernel/timeline.h"

#include <errno.h>

#define WSK_DG_BLOCK_MAGIC 0x4B4C4244u /* "DBLK" */
#define WSK_DG_BLOCK_DATA 65536        /* the largest UDP payload fits */
#define WSK_DG_MAX_SPARE WSK_IO_BATCH_MAX /* a whole batch without allocating */

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
    SIZE_T length;          /* the datagram's size */
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
    InitializeListHead(&s->dg_send_batch);
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
    s->dg_blocks++;
    b->retained = FALSE; /* a reused block gets these from dg_block_put_locked */
    b->in_callback = FALSE;
    b->released_early = FALSE;
    return b;
}

static void dg_block_free(wsk_dg_block *b)
{
    b->socket->dg_blocks--;
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

static void dg_poll_done(wsk_io *io, void *context, long result, size_t transferred);
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
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_DGRAM_READ, NULL, 0);
    if (r == NULL) {
        wsk_retry_schedule_locked(s);
        return;
    }
    wsk_req_track_locked(s, r);
    s->dg_reader = r;
    if (!IsListEmpty(&s->dg_stash)) {
        /* Datagrams read before the event was last disabled (or refused
         * with STATUS_DATA_NOT_ACCEPTED) go first, from an engine thread
         * (never inside the client's call). */
        wsk_io_post(&r->io, dg_stash_done, r);
        return;
    }
    /* Readable first, then one recvmmsg takes what is waiting. */
    wsk_io_poll_readable(&r->io, s->fd, dg_poll_done, r);
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

/* Moves every block of `list` to the head of the stash, in order: they
 * are older than anything there. */
static void dg_stash_in_front_locked(wsk_socket *s, PLIST_ENTRY list)
{
    while (!IsListEmpty(list))
        InsertHeadList(&s->dg_stash, RemoveTailList(list));
}

/* The reader's round is over: its request is recycled and the next read
 * armed (unless reading can never succeed); a close waiting for the
 * reader may finish.  Lock held on entry, dropped. */
static void dg_reader_finish(wsk_socket *s, wsk_req *r, BOOLEAN fatal)
{
    s->dg_reader = NULL;
    RemoveEntryList(&r->link);
    wsk_req_release_locked(s, r);
    if (!fatal)
        wsk_dgram_events_arm_locked(s);
    BOOLEAN destroy = wsk_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

/* Indicates blocks[0..n) to the client as one list (lock held on entry,
 * and again on return); returns what the callback returned.  The send
 * calls the client makes on this socket meanwhile go out together once it
 * returned (wsk_dgram_round_*).  Disables that waited for the callback
 * are left in *finished for the caller to complete once it has acted on
 * the answer. */
static NTSTATUS dg_indicate(wsk_socket *s, wsk_dg_block **blocks, ULONG n, unsigned flags, PLIST_ENTRY finished)
{
    const WSK_CLIENT_DATAGRAM_DISPATCH *d = s->client_dispatch;
    s->callbacks++;
    wsk_event_enter_locked(s, WSK_EVENT_RECEIVE_FROM);
    for (ULONG i = 0; i < n; i++) {
        wsk_dg_block *b = blocks[i];
        b->in_callback = TRUE;
        b->indication.Next = i + 1 < n ? &blocks[i + 1]->indication : NULL;
        b->indication.Buffer.Mdl = b->mdl;
        b->indication.Buffer.Offset = 0;
        b->indication.Buffer.Length = b->length;
        b->indication.ControlInfo = b->control_len > 0 ? (PCMSGHDR)b->control : NULL;
        b->indication.ControlInfoLength = b->control_len;
        b->indication.RemoteAddress = (PSOCKADDR)&b->from;
    }
    pthread_mutex_unlock(&s->lock);
    openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
    wsk_socket *outer = wsk_dgram_round_begin(s);
    NTSTATUS st = OPENWSK_TRACE_CALLBACK(
        "WskReceiveFromEvent", &s->pub,
        d->WskReceiveFromEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL | flags, &blocks[0]->indication));
    wsk_dgram_round_end(s, outer);
    pthread_mutex_lock(&s->lock);
    wsk_event_leave_locked(s, WSK_EVENT_RECEIVE_FROM, finished);
    for (ULONG i = 0; i < n; i++)
        blocks[i]->in_callback = FALSE;
    s->callbacks--;
    return st;
}

/* Hands the datagrams of `batch` (blocks, oldest first) on, each to the
 * first of: a queued WskReceiveFrom (their precedence, §7.3), the event —
 * as lists of consecutive datagrams with the same MSG_BCAST / MSG_MCAST
 * flags, since the flags describe the whole list — or the stash when
 * neither can take it.  The reader r stays pending meanwhile (a close
 * waits for it, and no second reader starts).  Lock held on entry,
 * dropped. */
static void dg_deliver(wsk_socket *s, wsk_req *r, PLIST_ENTRY batch)
{
    BOOLEAN kick = FALSE;
    while (!IsListEmpty(batch)) {
        if (s->closing) {
            while (!IsListEmpty(batch))
                dg_block_put_locked(s, CONTAINING_RECORD(RemoveHeadList(batch), wsk_dg_block, link));
            break;
        }
        if (!IsListEmpty(&s->dg_irps)) {
            wsk_dg_block *b = CONTAINING_RECORD(RemoveHeadList(batch), wsk_dg_block, link);
            wsk_req *q = CONTAINING_RECORD(RemoveHeadList(&s->dg_irps), wsk_req, queue_link);
            wsk_req_decide_queued_locked(s, q, (long)dg_copy_to_request(s, b, b->length, q));
            dg_block_put_locked(s, b);
            if (!kick)
                s->callbacks++; /* dropped by wsk_rx_kick_held */
            kick = TRUE;
            continue;
        }
        if (!dg_event_on(s)) {
            /* Nobody takes them now (the event was disabled meanwhile):
             * they wait for a WskReceiveFrom or the event's return. */
            dg_stash_in_front_locked(s, batch);
            break;
        }
        if (kick) {
            /* Receives served from earlier datagrams complete before later ones are indicated. */
            pthread_mutex_unlock(&s->lock);
            wsk_rx_kick_held(s);
            pthread_mutex_lock(&s->lock);
            kick = FALSE;
            continue;
        }
        wsk_dg_block *list[WSK_IO_BATCH_MAX];
        ULONG n = 0;
        unsigned flags = CONTAINING_RECORD(batch->Flink, wsk_dg_block, link)->destination_flags;
        while (n < WSK_IO_BATCH_MAX && !IsListEmpty(batch) &&
               CONTAINING_RECORD(batch->Flink, wsk_dg_block, link)->destination_flags == flags)
            list[n++] = CONTAINING_RECORD(RemoveHeadList(batch), wsk_dg_block, link);
        LIST_ENTRY finished;
        NTSTATUS st = dg_indicate(s, list, n, flags, &finished);
        BOOLEAN refused = st == STATUS_DATA_NOT_ACCEPTED && !(s->static_events & WSK_EVENT_RECEIVE_FROM);
        if (refused) {
            /* An event enabled per socket is disabled until the client
             * enables it again (wsk-part-b.md §7.4); the list it refused
             * is kept, ahead of the rest, for the next WskReceiveFrom or
             * the event's return (docs/decisions.md). */
            s->events &= ~(ULONG)WSK_EVENT_RECEIVE_FROM;
            LIST_ENTRY kept;
            InitializeListHead(&kept);
            for (ULONG i = 0; i < n; i++) {
                if (list[i]->released_early)
                    dg_block_put_locked(s, list[i]); /* the client gave it back already */
                else
                    InsertTailList(&kept, &list[i]->link);
            }
            dg_stash_in_front_locked(s, batch);
            dg_stash_in_front_locked(s, &kept);
        }
        for (ULONG i = 0; i < n && !refused; i++) {
            wsk_dg_block *b = list[i];
            if (st == STATUS_PENDING && !b->released_early) {
                b->retained = TRUE; /* until WskRelease */
                s->dg_retained++;
                InsertTailList(&s->dg_held, &b->link);
                if (s->closing && openwsk_verifying(OPENWSK_VERIFY_WSK))
                    wsk_verify_retained_while_closing(s);
            } else {
                /* STATUS_SUCCESS, a retained datagram already released from
                 * another thread, or STATUS_DATA_NOT_ACCEPTED of a static
                 * event, which keeps indicating: not kept. */
                dg_block_put_locked(s, b);
            }
        }
        if (!IsListEmpty(&finished)) {
            /* Disables that waited for this callback complete now, after
             * its answer took effect: a client that enables the event
             * again from their completion keeps it enabled.  The socket
             * is held by the reader's pending request. */
            pthread_mutex_unlock(&s->lock);
            wsk_event_finish_disables(&finished);
            pthread_mutex_lock(&s->lock);
        }
    }
    if (kick) {
        pthread_mutex_unlock(&s->lock);
        wsk_rx_kick_held(s); /* completes what was decided; drops the reference */
        pthread_mutex_lock(&s->lock);
    }
    dg_reader_finish(s, r, FALSE);
}

/* The socket is readable: one recvmmsg takes the datagrams waiting, as many
 * as the event (a batch) or the queued receives (one each) can take. */
static void dg_poll_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    pthread_mutex_lock(&s->lock);
    r->io_finished = TRUE;
    r->cancel_claimed = TRUE; /* nothing of it is left in the engine to cancel */
    if (result < 0 || s->closing) {
        dg_reader_finish(s, r, dg_error_is_fatal(result));
        return;
    }
    ULONG want = 1;
    if (dg_event_on(s)) {
        want = WSK_IO_BATCH_MAX;
    } else {
        for (PLIST_ENTRY e = s->dg_irps.Flink->Flink; e != &s->dg_irps && want < WSK_IO_BATCH_MAX; e = e->Flink)
            want++;
    }
    wsk_dg_block *blocks[WSK_IO_BATCH_MAX];
    ULONG n = 0;
    /* Blocks beyond a batch's worth are made only one at a time (while the
     * client holds the others): the spare list then never overflows, so a
     * block given back stays a block, and a second WskRelease of it is
     * still recognised as one. */
    while (n < want) {
        if (n > 0 && IsListEmpty(&s->dg_spare) && s->dg_blocks >= WSK_DG_MAX_SPARE)
            break;
        if ((blocks[n] = dg_block_get_locked(s)) == NULL)
            break;
        n++;
    }
    if (n == 0) {
        /* Out of memory: the datagrams wait in Linux (wsk_retry.c). */
        s->dg_reader = NULL;
        RemoveEntryList(&r->link);
        wsk_req_release_locked(s, r);
        wsk_retry_schedule_locked(s);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    unsigned wanted = wsk_dgram_control_wanted(s);
    pthread_mutex_unlock(&s->lock);
    wsk_io_dgram_in in[WSK_IO_BATCH_MAX];
    for (ULONG i = 0; i < n; i++) {
        in[i].data = blocks[i]->data;
        in[i].capacity = WSK_DG_BLOCK_DATA;
        in[i].win_from = &blocks[i]->from;
        in[i].win_control = blocks[i]->control;
        in[i].control_capacity = sizeof(blocks[i]->control);
    }
    long got = wsk_io_recv_batch(s->fd, in, n, wanted);
    pthread_mutex_lock(&s->lock);
    LIST_ENTRY batch;
    InitializeListHead(&batch);
    for (ULONG i = 0; i < n; i++) {
        wsk_dg_block *b = blocks[i];
        if ((long)i >= got) {
            dg_block_put_locked(s, b);
            continue;
        }
        b->length = in[i].length;
        b->control_len = (ULONG)in[i].control_length;
        b->control_cut = in[i].control_cut != 0;
        b->destination_flags = in[i].destination_flags;
        InsertTailList(&batch, &b->link);
    }
    if (got < 0) {
        /* -EAGAIN: another reader of the same datagrams was first. */
        dg_reader_finish(s, r, dg_error_is_fatal(got));
        return;
    }
    dg_deliver(s, r, &batch);
}

/* Datagrams kept in the stash go first, as one batch. */
static void dg_stash_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)result;
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    pthread_mutex_lock(&s->lock);
    r->io_finished = TRUE;
    r->cancel_claimed = TRUE;
    LIST_ENTRY batch;
    InitializeListHead(&batch);
    for (ULONG n = 0; n < WSK_IO_BATCH_MAX && !IsListEmpty(&s->dg_stash); n++)
        InsertTailList(&batch, RemoveHeadList(&s->dg_stash));
    dg_deliver(s, r, &batch);
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
        BOOLEAN held = dg_block_held_locked(s, b);
        if (!held || wsk_list_guard_revisits(&guard, i)) {
            pthread_mutex_unlock(&s->lock);
            if (!held && openwsk_verifying(OPENWSK_VERIFY_WSK))
                wsk_verify_release_refused(Socket, i);
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
