/*
 * wsk_accept.c - listeners: WskAccept, WskAcceptEvent, conditional accept
 * (WskInspectEvent, WskInspectComplete, WskAbortEvent) and the dead-listener
 * indication (wsk-part-a.md §6).
 *
 * A WskAccept is a request of the listener (wsk_req.h).  Accept events are
 * fed by one internal accept request at a time; conditional listeners accept
 * every connection themselves, let the client inspect it, then hand it to a
 * queued WskAccept or to WskAcceptEvent.
 */
#include "wsk_internal.h"
#include "kernel/timeline.h"

#include <errno.h>

#include "wsk_linux.h"

static BOOLEAN conditional_inspect(wsk_socket *s, wsk_socket *child, wsk_req *feeder);
static NTSTATUS conditional_accept_irp(wsk_socket *s, wsk_req *r, PIRP Irp);

/* Errors after which a Linux listener accepts nothing more (it was shut
 * down, or its fd is gone); the others concern one connection or are
 * transient. */
static BOOLEAN accept_error_is_fatal(long result)
{
    return result == -EINVAL || result == -EBADF || result == -ENOTSOCK || result == -EOPNOTSUPP;
}

/* Shortages (descriptors, memory) that leave the connection in the backlog:
 * accepting again at once would fail the same way. */
static BOOLEAN accept_error_is_shortage(long result)
{
    return result == -EMFILE || result == -ENFILE || result == -ENOMEM || result == -ENOBUFS;
}

static void accept_finish(wsk_socket *listener, wsk_req *r, wsk_req_outcome *out)
{
    if (r->result < 0) {
        out->status = wsk_req_status_from_result(r->result);
        if (accept_error_is_fatal(r->result)) {
            listener->listener_failed = TRUE;
            out->status = STATUS_FILE_FORCED_CLOSED; /* the listener is unusable */
        }
        return;
    }
    if (r->u.accept.accepted != NULL) {
        /* A connection conditional accept already took: hand it over. */
        wsk_socket *child = r->u.accept.accepted;
        child->context = r->u.accept.context;
        child->client_dispatch = r->u.accept.dispatch;
        SOCKADDR_STORAGE a;
        size_t len;
        if (r->u.accept.remote_out != NULL && lx_remote_address(child->fd, &a, &len) == 0)
            __builtin_memcpy(r->u.accept.remote_out, &a, len);
        if (r->u.accept.local_out != NULL) {
            wsk_accepted_local_address(listener, child->fd, &a);
            __builtin_memcpy(r->u.accept.local_out, &a, wsk_sockaddr_size(listener->family));
        }
        out->status = STATUS_SUCCESS;
        out->information = (ULONG_PTR)&child->pub;
        if (child->rx_mode)
            out->kick = child;
        return;
    }
    int fd = (int)r->result;
    wsk_socket *child = NULL;
    NTSTATUS st = wsk_socket_adopt(listener->client, listener->family, fd, r->u.accept.context, r->u.accept.dispatch,
                                   &child);
    if (NT_SUCCESS(st) && listener->category == WSK_CATEGORY_STREAM) {
        /* A stream listener's connections are stream sockets (committed to a connection). */
        child->category = WSK_CATEGORY_STREAM;
        child->pub.Dispatch = wsk_provider_table_for(WSK_CATEGORY_STREAM);
        if (openwsk_verifying(OPENWSK_VERIFY_WSK))
            wsk_verify_socket_created(child);
    }
    if (!NT_SUCCESS(st)) {
        lx_reset_on_close(fd);
        wsk_io_forget_fd(fd);
        lx_close(fd);
        out->status = st;
        return;
    }
    if (r->u.accept.remote_out != NULL)
        wsk_io_accepted_peer(&r->io, r->u.accept.remote_out);
    if (r->u.accept.local_out != NULL) {
        SOCKADDR_STORAGE local;
        wsk_accepted_local_address(listener, fd, &local);
        __builtin_memcpy(r->u.accept.local_out, &local, wsk_sockaddr_size(listener->family));
    }
    out->status = STATUS_SUCCESS;
    out->information = (ULONG_PTR)&child->pub;
    if (child->rx_mode)
        out->kick = child;
}

static const wsk_req_ops accept_ops = {.progress = NULL, .finish = accept_finish};

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
        wsk_req *q = CONTAINING_RECORD(RemoveHeadList(&s->acc_irps), wsk_req, queue_link);
        wsk_req_decide_queued_locked(s, q, -EINVAL);
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
        wsk_rx_kick_held(s);
    if (!indicate)
        return;
    PVOID context = NULL;
    const WSK_CLIENT_CONNECTION_DISPATCH *dispatch = NULL;
    /* The return value has no meaning here (Microsoft's sample returns
     * STATUS_REQUEST_NOT_ACCEPTED); nothing was accepted either way. */
    openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
    (void)OPENWSK_TRACE_CALLBACK("WskAcceptEvent", &s->pub,
                                 events->WskAcceptEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, NULL, NULL, NULL,
                                                        &context, &dispatch));
    accept_event_leave(s);
    pthread_mutex_lock(&s->lock);
    s->callbacks--; /* the caller still holds the accept request: no close can finish here */
    pthread_mutex_unlock(&s->lock);
}

/* Offers an accepted connection to WskAcceptEvent (no lock held); a
 * declined one is reset. */
static BOOLEAN conditional_ready(wsk_socket *s, wsk_socket *child, BOOLEAN via_event_possible);

/* Offers an accepted connection to WskAcceptEvent (no lock held); a
 * declined one is reset. */
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
    openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
    NTSTATUS st = OPENWSK_TRACE_CALLBACK("WskAcceptEvent", &s->pub,
                                         events->WskAcceptEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL,
                                                                (PSOCKADDR)&local, (PSOCKADDR)remote, &child->pub,
                                                                &context, &dispatch));
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
    BOOLEAN closed_meanwhile = wsk_close_may_finish_locked(child);
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
        } else if (!wsk_socket_posts_ensure_locked(child)) {
            /* Offered by a post (conditional accept) or given the events
             * the listener has when WskAcceptEvent returns (which the
             * client may enable meanwhile, even from inside the callback):
             * it needs its post blocks, and nobody has seen it yet (so
             * its lock is not needed for them). */
            wsk_socket_destroy(child); /* resets the connection */
            child = NULL;
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
    BOOLEAN next = FALSE;
    if (!s->closing && !s->listener_failed && ((s->events & WSK_EVENT_ACCEPT) || s->conditional_accept)) {
        if (accept_error_is_shortage(result))
            wsk_retry_schedule_locked(s); /* the retry timer tries again */
        else
            next = wsk_accept_events_arm_locked(s);
    }
    /* No next accept from here: the engine stops taking connections ahead
     * (on this, the listener's engine thread, before a close can finish:
     * the close waits for r). */
    if (!next)
        wsk_io_accept_ahead_end(s->fd);
    RemoveEntryList(&r->link);
    wsk_req_release_locked(s, r);
    BOOLEAN destroy = wsk_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

/* The engine's completion of the accept that feeds WskAcceptEvent. */
static void accept_event_io_done(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)transferred;
    wsk_req *r = context;
    wsk_socket *s = r->socket;
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
    if (s->conditional_accept && events != NULL && events->WskAbortEvent != NULL) {
        openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
        /* must return STATUS_SUCCESS */
        (void)OPENWSK_TRACE_CALLBACK("WskAbortEvent", &s->pub, events->WskAbortEvent(s->context, &child->inspect_id));
    }
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
        wsk_socket_unhold(s);
        return FALSE;
    }
    if (!IsListEmpty(&s->acc_irps)) {
        wsk_req *r = CONTAINING_RECORD(RemoveHeadList(&s->acc_irps), wsk_req, queue_link);
        r->u.accept.accepted = child;
        wsk_req_decide_queued_locked(s, r, 0);
    } else {
        InsertTailList(&s->ready, &child->cond_link);
    }
    s->callbacks++; /* the listener stays alive for the kick */
    pthread_mutex_unlock(&s->lock);
    wsk_rx_kick_held(s);
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
    openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
    WSK_INSPECT_ACTION action =
        OPENWSK_TRACE_CALLBACK("WskInspectEvent", &s->pub,
                               events->WskInspectEvent(s->context, (PSOCKADDR)&local, (PSOCKADDR)&remote,
                                                       &child->inspect_id));
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
    wsk_socket_unhold(s);
}

/* WskAccept on a conditional listener: a ready connection, or wait for one. */
static NTSTATUS conditional_accept_irp(wsk_socket *s, wsk_req *r, PIRP Irp)
{
    r->queued = TRUE;
    wsk_req_pend_locked(s, r, Irp);
    LIST_ENTRY aborted;
    InitializeListHead(&aborted);
    wsk_socket *ready = conditional_take_ready_locked(s, &aborted);
    if (ready != NULL) {
        r->u.accept.accepted = ready;
        wsk_req_decide_queued_locked(s, r, 0);
    } else if (!s->conditional_accept && !r->cancel_claimed) {
        /* Only dead leftovers were queued: accept from Linux as usual. */
        r->queued = FALSE;
        wsk_io_accept(&r->io, s->fd, wsk_req_io_done, r);
        wsk_req_after_submit_locked(r);
    } else {
        (void)wsk_req_queue_locked(s, r, &s->acc_irps); /* or decided, if cancelled before */
    }
    /* Held across the WskAbortEvent calls and the kick: the IRP may
     * complete (and the client close the listener) before they are done. */
    s->callbacks += IsListEmpty(&aborted) ? 1 : 2;
    BOOLEAN held = !IsListEmpty(&aborted);
    pthread_mutex_unlock(&s->lock);
    conditional_abort_all(s, &aborted);
    wsk_rx_kick_held(s);
    if (held)
        wsk_socket_unhold(s);
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_conn_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                          WSK_INSPECT_ACTION Action, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(ListenSocket, WSK_CAT(WSK_CATEGORY_LISTEN), &refusal);
    if (s == NULL)
        return wsk_irp_complete_now(Irp, refusal, 0);
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
            wsk_io_post_block(&child->posts->backlog_io, conditional_offer_posted, child); /* ensured at accept */
        }
        pthread_mutex_unlock(&s->lock);
        if (!via_event)
            (void)conditional_ready(s, child, FALSE); /* FALSE: never goes on to an event here */
    }
    return r;
}

/* At listener close: connections nobody took are reset. */
void wsk_accept_drop_unclaimed(wsk_socket *s)
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


/* Legal adversity "deadlisten": the listener dies before this accept, as
 * Windows' may (PFN_WSK_ACCEPT_EVENT: AcceptSocket NULL).  Its Linux
 * socket is shut down, so the accept fails as a dead Linux listener's
 * does and the provider's own path reports it (listener_failed). */
static __attribute__((noinline, cold)) void accept_adverse_kill_locked(wsk_socket *s, const char *call)
{
    if (!openwsk_adversity_listener_dies_now(&s->adversity))
        return;
    s->adversity.reset = 1;
    (void)lx_shutdown_both(s->fd);
    openwsk_adversity_event(OPENWSK_ADVERSE_DEAD_LISTENER, "listener #%u: dies before %s", s->adversity.ordinal, call);
}

NTSTATUS WSKAPI wsk_conn_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                                const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, PSOCKADDR LocalAddress,
                                PSOCKADDR RemoteAddress, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS refusal;
    wsk_socket *s = wsk_op_socket(ListenSocket, WSK_CATS_LISTENING, &refusal);
    if (s == NULL)
        return wsk_fail_now(Irp, refusal);
    if (Flags != 0)
        return wsk_fail_now(Irp, STATUS_INVALID_PARAMETER);
    pthread_mutex_lock(&s->lock);
    if (!s->listening) {
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_INVALID_DEVICE_STATE);
    }
    if (s->listener_failed) {
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_FILE_FORCED_CLOSED);
    }
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_ACCEPT, &accept_ops, 0);
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return wsk_fail_now(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    r->flags = Flags;
    r->u.accept.context = AcceptSocketContext;
    r->u.accept.dispatch = AcceptSocketDispatch;
    r->u.accept.local_out = LocalAddress;
    r->u.accept.remote_out = RemoteAddress;
    /* Conditional listeners, and connections left over when accept events
     * were disabled, are handed out from the provider's queue. */
    if (s->conditional_accept || !IsListEmpty(&s->ready))
        return conditional_accept_irp(s, r, Irp); /* unlocks */
    if (openwsk_adverse(OPENWSK_ADVERSE_DEAD_LISTENER))
        accept_adverse_kill_locked(s, "WskAccept");
    wsk_req_pend_locked(s, r, Irp);
    wsk_io_accept(&r->io, s->fd, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

/* ---- accept events ---- */

BOOLEAN wsk_accept_events_arm_locked(wsk_socket *s)
{
    if (s->closing)
        return FALSE; /* a close is waiting for the last accept: never arm another */
    wsk_req *r = wsk_req_take_locked(s, WSK_REQ_ACCEPT_EVENT, NULL, 0);
    if (r == NULL) {
        /* Out of memory: connections wait in Linux's backlog and the
         * feeder is tried again shortly (wsk_retry.c). */
        wsk_retry_schedule_locked(s);
        return FALSE;
    }
    if (openwsk_adverse(OPENWSK_ADVERSE_DEAD_LISTENER))
        accept_adverse_kill_locked(s, "WskAcceptEvent's next connection");
    wsk_req_track_locked(s, r);
    /* The feeder keeps one accept pending while it wants connections: the
     * engine may take them ahead (accept_event_done ends that). */
    wsk_io_accept_ahead(&r->io, s->fd, accept_event_io_done, r);
    return TRUE;
}

void wsk_accept_events_retry_locked(wsk_socket *s)
{
    if (s->closing || !s->listening || s->listener_failed ||
        !((s->events & WSK_EVENT_ACCEPT) || s->conditional_accept))
        return;
    /* A feeder still in flight (even one being cancelled) re-arms itself
     * when it completes, if accept events are still wanted. */
    for (PLIST_ENTRY e = s->pending.Flink; e != &s->pending; e = e->Flink)
        if (CONTAINING_RECORD(e, wsk_req, link)->kind == WSK_REQ_ACCEPT_EVENT)
            return;
    wsk_accept_events_arm_locked(s);
}

void wsk_accept_events_stop_locked(wsk_socket *s)
{
    for (PLIST_ENTRY e = s->pending.Flink; e != &s->pending; e = e->Flink) {
        wsk_req *r = CONTAINING_RECORD(e, wsk_req, link);
        if (r->kind == WSK_REQ_ACCEPT_EVENT && !r->io_finished && !r->cancel_claimed) {
            r->cancel_claimed = TRUE;
            wsk_io_cancel(&r->io);
        }
    }
}

void wsk_accept_events_start(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    if (((s->events & WSK_EVENT_ACCEPT) || s->conditional_accept) && s->listening && !s->closing)
        wsk_accept_events_arm_locked(s);
    pthread_mutex_unlock(&s->lock);
}
