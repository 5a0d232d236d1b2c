/*
 * wsk_adverse_completion.c - legal adversity "pending" (adversity.h): a
 * call the provider finishes at once may, as on Windows, either return
 * its status without pending the IRP or complete the IRP later, on
 * another thread, after returning STATUS_PENDING ("Using IRPs with Winsock
 * Kernel Functions": the client must handle both).  openwsk's own habit
 * (complete inline, return STATUS_PENDING) hides two kinds of driver bug:
 * code that assumes the completion routine ran before the call returned,
 * and code that handles a result both in the routine and at the return.
 *
 * Later completions go to one thread, first in, first out, at
 * DISPATCH_LEVEL.  A socket's close completion follows any of them still
 * queued, so nothing of a socket completes after its close did.  Each
 * queued completion counts as a call of its client (a close: as its open
 * socket), so WskDeregister waits for it.
 */
#include "wsk_internal.h"

#include <stdlib.h>
#include <time.h>

typedef struct adverse_completion {
    struct adverse_completion *next;
    PIRP irp;
    wsk_client *client;
    BOOLEAN close; /* a socket's close: the client's socket count, not a call */
} adverse_completion;

static pthread_mutex_t later_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t later_ready = PTHREAD_COND_INITIALIZER;
static adverse_completion *later_head, *later_tail;
static BOOLEAN later_thread_started;
/* Entries queued and not yet completed; read without the lock by every
 * close, so that one still follows them after adversity was switched off. */
LONG wsk_later_queued;

/* Up to 2 ms, so that a driver that went on without waiting runs ahead. */
static void later_pause(void)
{
    struct timespec ts = {0, (long)(openwsk_perturb_rand() % 2000u) * 1000L};
    nanosleep(&ts, NULL);
}

static void *later_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "openwsk-later"); /* the timeline's track name */
    pthread_mutex_lock(&later_lock);
    for (;;) {
        while (later_head == NULL)
            pthread_cond_wait(&later_ready, &later_lock);
        adverse_completion *c = later_head;
        pthread_mutex_unlock(&later_lock);
        later_pause();
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        IoCompleteRequest(c->irp, IO_NETWORK_INCREMENT);
        KeLowerIrql(old);
        if (c->close)
            wsk_client_socket_closed(c->client);
        else
            wsk_client_call_end(c->client);
        pthread_mutex_lock(&later_lock);
        /* Taken off only now: a close that finds the queue empty may then
         * complete at once, after everything queued before it. */
        later_head = c->next;
        if (later_head == NULL)
            later_tail = NULL;
        __atomic_sub_fetch(&wsk_later_queued, 1, __ATOMIC_RELEASE);
        free(c);
    }
    return NULL;
}

/* A forked child (tests fork drivers) has no later thread: it starts its
 * own with an empty queue; the parent's queued IRPs are the parent's. */
static void later_prepare_fork(void)
{
    pthread_mutex_lock(&later_lock);
}

static void later_parent_after_fork(void)
{
    pthread_mutex_unlock(&later_lock);
}

static void later_child_after_fork(void)
{
    pthread_mutex_init(&later_lock, NULL);
    pthread_cond_init(&later_ready, NULL);
    later_head = later_tail = NULL;
    later_thread_started = FALSE;
    wsk_later_queued = 0;
}

static pthread_once_t later_fork_once = PTHREAD_ONCE_INIT;

static void later_register_fork(void)
{
    pthread_atfork(later_prepare_fork, later_parent_after_fork, later_child_after_fork);
}

/* Queues a pended IRP, its IoStatus filled.  FALSE (nothing queued) if no
 * memory or thread could be had: the caller completes it itself. */
static BOOLEAN later_queue(PIRP irp, wsk_client *client, BOOLEAN close, BOOLEAN only_behind_others)
{
    pthread_mutex_lock(&later_lock);
    if (only_behind_others && later_head == NULL) {
        pthread_mutex_unlock(&later_lock);
        return FALSE;
    }
    adverse_completion *c = malloc(sizeof(*c));
    if (c == NULL) {
        pthread_mutex_unlock(&later_lock);
        return FALSE;
    }
    if (!later_thread_started) {
        pthread_once(&later_fork_once, later_register_fork);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        BOOLEAN ok = pthread_create(&t, &attr, later_thread, NULL) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) {
            pthread_mutex_unlock(&later_lock);
            free(c);
            return FALSE;
        }
        later_thread_started = TRUE;
    }
    if (!close)
        wsk_client_call_begin(client);
    c->next = NULL;
    c->irp = irp;
    c->client = client;
    c->close = close;
    __atomic_add_fetch(&wsk_later_queued, 1, __ATOMIC_RELEASE);
    if (later_tail != NULL)
        later_tail->next = c;
    else
        later_head = c;
    later_tail = c;
    pthread_cond_signal(&later_ready);
    pthread_mutex_unlock(&later_lock);
    return TRUE;
}

NTSTATUS wsk_irp_complete_adverse(wsk_client *client, PIRP irp, NTSTATUS status, ULONG_PTR information,
                                  const char *call)
{
    /* Three ways, equally likely (two where the call's completion is
     * ordered with others on its socket: client == NULL). */
    unsigned way = openwsk_perturb_rand() % (client != NULL ? 3u : 2u);
    if (way == 0)
        return wsk_irp_complete_pended_plain(irp, status, information);
    if (way == 1) {
        openwsk_adversity_event(OPENWSK_ADVERSE_PENDING, "%s: IRP %p completes at once, the call returns 0x%08X",
                                call, (void *)irp, (unsigned)status);
        return wsk_irp_complete_now(irp, status, information);
    }
    wsk_irp_begin_pending(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    if (!later_queue(irp, client, FALSE, FALSE)) {
        IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
        return STATUS_PENDING;
    }
    openwsk_adversity_event(OPENWSK_ADVERSE_PENDING,
                            "%s: returns STATUS_PENDING; IRP %p completes later on another thread (0x%08X)", call,
                            (void *)irp, (unsigned)status);
    return STATUS_PENDING;
}

BOOLEAN wsk_irp_finish_close_adverse(wsk_client *client, PIRP close_irp)
{
    close_irp->IoStatus.Status = STATUS_SUCCESS;
    close_irp->IoStatus.Information = 0;
    /* Behind completions still queued (they may be this socket's), also
     * when adversity was switched off since; else, with adversity on, one
     * time in two later as well. */
    if (later_queue(close_irp, client, TRUE, TRUE)) {
        openwsk_adversity_event(OPENWSK_ADVERSE_PENDING,
                                "WskCloseSocket: IRP %p completes after the completions queued before it",
                                (void *)close_irp);
        return TRUE;
    }
    if (openwsk_adverse(OPENWSK_ADVERSE_PENDING) && openwsk_perturb_one_in(2) &&
        later_queue(close_irp, client, TRUE, FALSE)) {
        openwsk_adversity_event(OPENWSK_ADVERSE_PENDING, "WskCloseSocket: IRP %p completes later on another thread",
                                (void *)close_irp);
        return TRUE;
    }
    return FALSE;
}
