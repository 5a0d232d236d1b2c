/*
 * wsk_rx.c - the receive path of a connection once receive or disconnect
 * events are enabled (wsk-part-b.md §5–§6): one reader fills blocks; queued
 * WskReceive calls are served first, in order; the rest is indicated to
 * WskReceiveEvent (released with WskRelease when retained); the peer's FIN
 * or a reset goes to WskDisconnectEvent.  wsk_rx_kick_held also completes
 * the decided requests of any socket (wsk_req.h).
 */
#include "wsk_internal.h"
#include "kernel/timeline.h"


#include <errno.h>

#include "wsk_linux.h"

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
    BOOLEAN in_callback;    /* its WskReceiveEvent is running */
    BOOLEAN released_early; /* WskRelease came before the callback returned STATUS_PENDING */
    UCHAR data[WSK_RX_BLOCK_DATA];
} wsk_rx_block;

SIZE_T wsk_rx_buffered_locked(const wsk_socket *s)
{
    SIZE_T bytes = 0;
    if (!s->rx_mode)
        return 0;
    for (const LIST_ENTRY *e = s->rx_data.Flink; e != &s->rx_data; e = e->Flink) {
        const wsk_rx_block *b = CONTAINING_RECORD(e, wsk_rx_block, link);
        bytes += b->length - b->head;
    }
    return bytes;
}

const WSK_CLIENT_CONNECTION_DISPATCH *wsk_conn_client_dispatch(wsk_socket *s)
{
    /* Listeners and datagram sockets hold other table types. */
    if (s->client_dispatch == NULL || (s->category != WSK_CATEGORY_CONNECTION && s->category != WSK_CATEGORY_STREAM))
        return NULL;
    if (s->category == WSK_CATEGORY_STREAM)
        return ((const WSK_CLIENT_STREAM_DISPATCH *)s->client_dispatch)->Connect;
    return s->client_dispatch;
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
    b->in_callback = FALSE;
    b->released_early = FALSE;
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
    b->in_callback = FALSE;
    b->released_early = FALSE;
    if (s->rx_spare_count < WSK_RX_MAX_SPARE) {
        InsertHeadList(&s->rx_spare, &b->link);
        s->rx_spare_count++;
    } else {
        rx_block_free(b);
    }
}

/* Throws away every buffered byte (a drain, the socket's own abort);
 * returns how many there were. */
static SIZE_T rx_drop_data_locked(wsk_socket *s)
{
    SIZE_T dropped = 0;
    while (!IsListEmpty(&s->rx_data)) {
        wsk_rx_block *b = CONTAINING_RECORD(RemoveHeadList(&s->rx_data), wsk_rx_block, link);
        s->rx_data_blocks--;
        dropped += b->length - b->head;
        rx_block_put_locked(s, b);
    }
    return dropped;
}

static void rx_read_done(wsk_io *io, void *context, long result, size_t transferred);

/* Starts the reader when someone needs data: a queued receive, indications
 * that are not paused, or a disconnect event still to deliver. */
static void rx_arm_locked(wsk_socket *s)
{
    if (!s->rx_mode || !s->connected || s->rx_reader != NULL || s->closing || s->receive_shut || s->rx_error != 0 ||
        s->aborted)
        return;
    if (s->recv_active != NULL)
        return; /* receives issued before events were enabled read first (wsk_req.h rule 3) */
    BOOLEAN want = !IsListEmpty(&s->rx_irps) && IsListEmpty(&s->rx_data);
    if (!want && s->rx_data_blocks < WSK_RX_MAX_BUFFERED)
        want = ((s->events & WSK_EVENT_RECEIVE) && !s->rx_paused && IsListEmpty(&s->rx_data)) ||
               ((s->events & WSK_EVENT_DISCONNECT) && !s->disconnect_indicated);
    if (!want)
        return;
    /* Out of memory: the data waits in Linux's receive buffer and the
     * reader is tried again shortly (wsk_retry.c). */
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_RX_READ, NULL, 1);
    if (r == NULL) {
        wsk_retry_schedule_locked(s);
        return;
    }
    wsk_rx_block *b = rx_block_get_locked(s);
    if (b == NULL) {
        wsk_req_release_locked(s, r);
        wsk_retry_schedule_locked(s);
        return;
    }
    r->u.read.block = b;
    r->seg[0].base = b->data;
    r->seg[0].length = WSK_RX_BLOCK_DATA;
    /* Legal adversity ("events"): read, and so indicate, fewer bytes. */
    if (openwsk_adverse(OPENWSK_ADVERSE_SHORT_INDICATION)) {
        /* Every read: a burst the kernel holds whole would otherwise be
         * indicated at once by the first uncut read. */
        r->seg[0].length = openwsk_adversity_stream_pick(
            &s->adversity, openwsk_adversity_stream_one_in(&s->adversity, 4) ? 64 : 1024);
        openwsk_adversity_event(OPENWSK_ADVERSE_SHORT_INDICATION, "socket #%u: WskReceiveEvent gets at most %zu bytes",
                                s->adversity.ordinal, r->seg[0].length);
    }
    wsk_rx_maybe_reset_locked(s, "the receive-event reader");
    wsk_req_track_locked(s, r);
    s->rx_reader = r;
    wsk_io_recv(&r->io, s->fd, r->seg, 1, rx_read_done, r);
}

static void rx_read_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
    wsk_rx_block *b = r->u.read.block;
    pthread_mutex_lock(&s->lock);
    s->rx_reader = NULL;
    RemoveEntryList(&r->link);
    wsk_req_release_locked(s, r);
    if (result > 0 && !s->closing && !s->aborted) {
        b->head = 0;
        b->length = (SIZE_T)result;
        InsertTailList(&s->rx_data, &b->link);
        s->rx_data_blocks++;
    } else {
        rx_block_put_locked(s, b);
        /* Linux reports a reset once, then end of file (data_finish). */
        if (s->aborted) {
            s->rx_error = -ECONNABORTED; /* read across the socket's own abort: dropped, and the end */
        } else if (result > 0) {
            /* closing: dropped */
        } else if (result == -ECONNRESET || (s->reset_seen && (result == 0 || result == -ENOTCONN))) {
            s->reset_seen = TRUE;
            s->rx_error = -ECONNRESET;
        } else if (result == 0) {
            s->receive_shut = TRUE; /* the peer's FIN */
        } else if (result != -ECANCELED) {
            s->rx_error = result;
        }
    }
    s->callbacks++; /* taken while the reader still kept the socket alive */
    pthread_mutex_unlock(&s->lock);
    wsk_rx_kick_held(s);
}

/* Copies buffered data into the first queued receive; decides it when full
 * (WAITALL) or when it got anything (otherwise), or at FIN / on error. */
static BOOLEAN rx_serve_one_locked(wsk_socket *s)
{
    /* While an indication runs, the head of the stream is with the client
     * (it may give it back with STATUS_DATA_NOT_ACCEPTED): serving a
     * receive now would hand it later bytes first.  The indicating thread
     * serves once the callback returned. */
    if (IsListEmpty(&s->rx_irps) || s->rx_indicating)
        return FALSE;
    wsk_req *r = CONTAINING_RECORD(s->rx_irps.Flink, wsk_req, queue_link);
    if (r->flags & WSK_FLAG_DRAIN)
        r->transferred += rx_drop_data_locked(s);
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
            wsk_req_advance_segments(r, n);
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
    RemoveEntryList(&r->queue_link);
    s->rx_paused = FALSE; /* a completed WskReceive resumes indications */
    /* After the socket's own abort its end is the abort, even if the
     * peer's FIN came first: a success with 0 bytes would say "closed". */
    long end = s->aborted ? -ECONNABORTED : s->receive_shut ? 0 : s->rx_error;
    wsk_req_decide_queued_locked(s, r, (r->transferred > 0 && !(r->flags & WSK_FLAG_DRAIN)) ? (long)r->transferred : end);
    return TRUE;
}

void wsk_rx_abort_locked(wsk_socket *s)
{
    (void)rx_drop_data_locked(s);
    s->rx_paused = FALSE;
    s->rx_error = -ECONNABORTED;
    s->disconnect_indicated = TRUE; /* WskDisconnectEvent is for the peer's close or reset */
}

/* Legal adversity "reset": the connection is reset now, as a peer's RST
 * or a middlebox would (connect(AF_UNSPEC) sends one and leaves the local
 * error ECONNRESET for the next operation). */
void wsk_rx_adverse_reset_locked(wsk_socket *s, const char *call)
{
    if (!s->connected || s->closing || !openwsk_adversity_reset_now(&s->adversity))
        return;
    s->adversity.reset = 1;
    s->reset_seen = TRUE;
    (void)lx_abort(s->fd);
    /* Half the time a client with receive events learns it from a NULL
     * indication: the socket no longer works (PFN_WSK_RECEIVE_EVENT). */
    s->adversity.reset_null = (s->events & WSK_EVENT_RECEIVE) && openwsk_adversity_stream_one_in(&s->adversity, 2);
    openwsk_adversity_event(OPENWSK_ADVERSE_RESET, "socket #%u: the connection is reset before %s%s",
                            s->adversity.ordinal, call,
                            s->adversity.reset_null ? " (WskReceiveEvent will get a NULL indication)" : "");
}

/* Runs the receive path until nothing is left to do: completes decided
 * receives, serves queued ones, indicates data, reports a disconnect,
 * re-arms the reader.  The caller holds a callbacks reference (taken under
 * the lock while the socket was certainly alive), so nobody destroys the
 * socket meanwhile; dropping it may finish a waiting close. */
void wsk_rx_kick_held(wsk_socket *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (rx_serve_one_locked(s))
            ;
        if (wsk_req_complete_decided(s))
            continue; /* lock dropped */
        const WSK_CLIENT_CONNECTION_DISPATCH *d = wsk_conn_client_dispatch(s);
        /* Events wait for decided receives still to be completed (another
         * thread may be completing them): their bytes come first. */
        BOOLEAN receives_done = !s->decided_busy && IsListEmpty(&s->decided);
        if (d != NULL && d->WskReceiveEvent != NULL && (s->events & WSK_EVENT_RECEIVE) && !s->rx_paused &&
            !s->rx_indicating && !s->closing && receives_done && IsListEmpty(&s->rx_irps) &&
            !IsListEmpty(&s->rx_data)) {
            wsk_rx_block *b = CONTAINING_RECORD(RemoveHeadList(&s->rx_data), wsk_rx_block, link);
            s->rx_data_blocks--;
            s->rx_indicating = TRUE;
            b->in_callback = TRUE;
            b->released_early = FALSE;
            s->callbacks++;
            wsk_event_enter_locked(s, WSK_EVENT_RECEIVE);
            pthread_mutex_unlock(&s->lock);
            SIZE_T n = b->length - b->head;
            SIZE_T accepted = n;
            b->indication.Next = NULL;
            b->indication.Buffer.Mdl = b->mdl;
            b->indication.Buffer.Offset = (ULONG)b->head;
            b->indication.Buffer.Length = n;
            openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
            NTSTATUS st = OPENWSK_TRACE_CALLBACK(
                "WskReceiveEvent", &s->pub,
                d->WskReceiveEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, &b->indication, n, &accepted));
            pthread_mutex_lock(&s->lock);
            LIST_ENTRY finished;
            wsk_event_leave_locked(s, WSK_EVENT_RECEIVE, &finished);
            s->callbacks--;
            s->rx_indicating = FALSE;
            b->in_callback = FALSE;
            if (st == STATUS_PENDING && b->released_early) {
                rx_block_put_locked(s, b); /* handed to another thread, released already */
            } else if (st == STATUS_PENDING) {
                b->retained = TRUE; /* until WskRelease */
                s->rx_retained++;
                InsertTailList(&s->rx_held, &b->link);
                if (s->closing && openwsk_verifying(OPENWSK_VERIFY_WSK))
                    wsk_verify_retained_while_closing(s);
            } else if ((st == STATUS_SUCCESS && accepted >= n) || s->aborted) {
                rx_block_put_locked(s, b); /* taken, or the socket aborted itself meanwhile */
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
        /* The connection's end is told once: by WskDisconnectEvent or, for
         * a reset legal adversity chose so, by a NULL WskReceiveEvent
         * indication (the socket no longer works; PFN_WSK_RECEIVE_EVENT),
         * which no WskDisconnectEvent follows (docs/decisions.md). */
        BOOLEAN ended = d != NULL && !s->disconnect_indicated && !s->closing && receives_done && !s->rx_indicating &&
                        IsListEmpty(&s->rx_data) && (s->receive_shut || s->rx_error != 0);
        BOOLEAN tell_null = ended && s->adversity.reset_null && s->rx_error != 0 && d->WskReceiveEvent != NULL &&
                            (s->events & WSK_EVENT_RECEIVE);
        BOOLEAN tell_disconnect =
            ended && !tell_null && d->WskDisconnectEvent != NULL && (s->events & WSK_EVENT_DISCONNECT);
        if (tell_null || tell_disconnect) {
            ULONG event = tell_null ? WSK_EVENT_RECEIVE : WSK_EVENT_DISCONNECT;
            ULONG flags = WSK_FLAG_AT_DISPATCH_LEVEL;
            if (!s->receive_shut)
                flags |= WSK_FLAG_ABORTIVE; /* the connection was reset */
            s->disconnect_indicated = TRUE;
            s->callbacks++;
            wsk_event_enter_locked(s, event);
            pthread_mutex_unlock(&s->lock);
            openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
            if (tell_null) {
                SIZE_T accepted = 0;
                (void)OPENWSK_TRACE_CALLBACK(
                    "WskReceiveEvent", &s->pub,
                    d->WskReceiveEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, NULL, 0, &accepted));
            } else {
                (void)OPENWSK_TRACE_CALLBACK("WskDisconnectEvent", &s->pub, d->WskDisconnectEvent(s->context, flags));
            }
            pthread_mutex_lock(&s->lock);
            LIST_ENTRY finished;
            wsk_event_leave_locked(s, event, &finished);
            s->callbacks--;
            pthread_mutex_unlock(&s->lock);
            wsk_event_finish_disables(&finished);
            continue;
        }
        rx_arm_locked(s);
        s->callbacks--;
        BOOLEAN destroy = wsk_close_may_finish_locked(s);
        pthread_mutex_unlock(&s->lock);
        if (destroy)
            wsk_socket_destroy(s);
        return;
    }
}

void wsk_rx_kick(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    s->callbacks++;
    pthread_mutex_unlock(&s->lock);
    wsk_rx_kick_held(s);
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
    if (b->magic == WSK_RX_BLOCK_MAGIC && b->socket == s && b->in_callback && !b->released_early) {
        /* Handed to another thread before the callback returned
         * STATUS_PENDING (as datagram indications may be). */
        b->released_early = TRUE;
        status = STATUS_SUCCESS;
    } else if (b->magic == WSK_RX_BLOCK_MAGIC && b->socket == s && b->retained) {
        s->rx_retained--;
        RemoveEntryList(&b->link);
        rx_block_put_locked(s, b);
        status = STATUS_SUCCESS;
    }
    pthread_mutex_unlock(&s->lock);
    if (status != STATUS_SUCCESS && openwsk_verifying(OPENWSK_VERIFY_WSK))
        wsk_verify_release_refused(Socket, DataIndication);
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
    /* Its post blocks exist: every socket the accept feeder offers gets
     * them before the offer (accept_event_done). */
    child->events |= inherited;
    if (inherited & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT))
        child->rx_mode = TRUE;
    if (inherited & WSK_EVENT_SEND_BACKLOG)
        wsk_backlog_schedule_locked(child);
    BOOLEAN start = child->rx_mode; /* inherited, or static events */
    pthread_mutex_unlock(&child->lock);
    if (start)
        wsk_rx_kick(child);
}

/* Frees every receive block at close (retained ones too: the client
 * should have released them first). */
void wsk_rx_free(wsk_socket *s)
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
