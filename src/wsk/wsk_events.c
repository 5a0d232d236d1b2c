/*
 * wsk_events.c - event bookkeeping shared by every event callback: which
 * callbacks are running (so that disabling one reports STATUS_EVENT_PENDING
 * or holds its IRP until the callback returns, wsk-part-b.md §6.5), and
 * WskSendBacklogEvent (§6.4).
 */
#include "wsk_internal.h"
#include "kernel/timeline.h"

#include "wsk_linux.h"

BOOLEAN wsk_event_running_locked(const wsk_socket *s, ULONG bit)
{
    return s->running[__builtin_ctz(bit)] != 0;
}

void wsk_event_enter_locked(wsk_socket *s, ULONG bit)
{
    s->running[__builtin_ctz(bit)]++;
}

void wsk_event_leave_locked(wsk_socket *s, ULONG bit, PLIST_ENTRY finished)
{
    s->running[__builtin_ctz(bit)]--;
    InitializeListHead(finished);
    for (PLIST_ENTRY e = s->disable_irps.Flink; e != &s->disable_irps;) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        e = e->Flink;
        ULONG waits_for = (ULONG)(ULONG_PTR)irp->Tail.Overlay.DriverContext[1];
        if (!wsk_event_running_locked(s, waits_for)) {
            RemoveEntryList(&irp->Tail.Overlay.ListEntry);
            InsertTailList(finished, &irp->Tail.Overlay.ListEntry);
        }
    }
}

void wsk_event_finish_disables(PLIST_ENTRY finished)
{
    while (!IsListEmpty(finished)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(finished), IRP, Tail.Overlay.ListEntry);
        wsk_irp_finish(irp, STATUS_SUCCESS, 0);
    }
}

NTSTATUS wsk_event_disable_locked(wsk_socket *s, ULONG bit, PIRP irp)
{
    if (!wsk_event_running_locked(s, bit))
        return STATUS_SUCCESS;
    if (irp == NULL)
        return STATUS_EVENT_PENDING; /* disabled; the running call still finishes */
    /* Not cancellable: it waits only for a callback that is already running. */
    wsk_irp_begin_pending(irp);
    irp->Tail.Overlay.DriverContext[1] = (PVOID)(ULONG_PTR)bit;
    InsertTailList(&s->disable_irps, &irp->Tail.Overlay.ListEntry);
    return STATUS_PENDING;
}

/* ---- WskSendBacklogEvent ---- */

/* Runs on an engine thread with the reference wsk_backlog_schedule_locked took. */
static void backlog_check(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)result;
    (void)transferred;
    wsk_socket *s = context;
    pthread_mutex_lock(&s->lock);
    s->backlog_posted = FALSE;
    const WSK_CLIENT_CONNECTION_DISPATCH *d = wsk_conn_client_dispatch(s);
    size_t ideal = 0;
    BOOLEAN running = wsk_event_running_locked(s, WSK_EVENT_SEND_BACKLOG);
    if (running)
        s->backlog_recheck = TRUE; /* the running check looks again once its callback returned */
    BOOLEAN indicate = !s->closing && (s->events & WSK_EVENT_SEND_BACKLOG) && d != NULL &&
                       d->WskSendBacklogEvent != NULL && !running && lx_ideal_send_backlog(s->fd, &ideal) == 0 &&
                       ideal != s->last_backlog;
    if (indicate) {
        s->last_backlog = ideal;
        wsk_event_enter_locked(s, WSK_EVENT_SEND_BACKLOG);
        pthread_mutex_unlock(&s->lock);
        openwsk_perturb_point(); /* schedule perturbation: the lock was just dropped */
        /* must return STATUS_SUCCESS; nothing to act on */
        (void)OPENWSK_TRACE_CALLBACK("WskSendBacklogEvent", &s->pub, d->WskSendBacklogEvent(s->context, ideal));
        pthread_mutex_lock(&s->lock);
        LIST_ENTRY finished;
        wsk_event_leave_locked(s, WSK_EVENT_SEND_BACKLOG, &finished);
        pthread_mutex_unlock(&s->lock);
        wsk_event_finish_disables(&finished);
        pthread_mutex_lock(&s->lock);
        if (s->backlog_recheck) {
            /* A check came while the callback ran: the value may have moved since. */
            s->backlog_recheck = FALSE;
            wsk_backlog_schedule_locked(s);
        }
    }
    s->callbacks--;
    BOOLEAN destroy = wsk_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

void wsk_backlog_schedule_locked(wsk_socket *s)
{
    if (s->backlog_posted || s->closing || !(s->events & WSK_EVENT_SEND_BACKLOG))
        return;
    s->backlog_posted = TRUE;
    s->callbacks++; /* keeps the socket alive until the check ran */
    wsk_io_post_block(&s->posts->backlog_io, backlog_check, s); /* events on: posts exist */
}
