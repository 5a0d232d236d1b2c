/*
 * wsk_retry.c - the provider's own reads, retried after an allocation
 * failed (issue 11, docs/decisions.md "Allocation failure").
 *
 * The readers that feed events (WskAcceptEvent's accept, the receive-event
 * reader of a connection, WskReceiveFromEvent's reader) need a request and
 * a buffer block from the pool.  When one of those allocations fails there
 * is no IRP to fail and no client call to refuse; what arrives waits in
 * Linux's socket (the backlog, the receive buffer), as it would in Windows'
 * transport.  So the reader is tried again a short while later, on an
 * engine thread, until memory returns or the socket closes: never a socket
 * that stays silent with its events enabled.
 *
 * One timer thread serves every socket.  A scheduled socket holds a
 * callbacks reference (a close waits at most one delay for it), sits on the
 * timer's list through its own retry_link, and is posted to the engine
 * through its own retry_io (s->posts, which every socket with a reader
 * has): scheduling never allocates.
 */
#include "wsk_internal.h"

#include <time.h>

#define WSK_RETRY_DELAY_MS 10
#define WSK_RETRY_IDLE_MS 1000 /* the thread exits after this long with nothing to do */

static pthread_mutex_t retry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t retry_cond;
static LIST_ENTRY retry_list;
static BOOLEAN retry_initialized;
static BOOLEAN retry_thread_running;

static ULONGLONG retry_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ULONGLONG)ts.tv_sec * 1000u + (ULONGLONG)ts.tv_nsec / 1000000u;
}

static void retry_wait_until(ULONGLONG due_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(due_ms / 1000u), .tv_nsec = (long)(due_ms % 1000u) * 1000000L};
    (void)pthread_cond_timedwait(&retry_cond, &retry_lock, &ts);
}

/* Runs on an engine thread (DISPATCH_LEVEL) with the reference the
 * schedule took: each reader arms again if it is still wanted. */
static void retry_fire(wsk_io *io, void *context, long result, size_t transferred)
{
    (void)io;
    (void)result;
    (void)transferred;
    wsk_socket *s = context;
    pthread_mutex_lock(&s->lock);
    s->retry_scheduled = FALSE;
    if (s->category == WSK_CATEGORY_LISTEN || (s->category == WSK_CATEGORY_STREAM && s->listening))
        wsk_accept_events_retry_locked(s);
    if (s->category == WSK_CATEGORY_DATAGRAM)
        wsk_dgram_events_arm_locked(s); /* arms only if wanted and none is in flight */
    if (s->rx_mode) {
        pthread_mutex_unlock(&s->lock);
        wsk_rx_kick_held(s); /* re-arms the reader; drops the reference */
        return;
    }
    s->callbacks--;
    BOOLEAN destroy = wsk_close_may_finish_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (destroy)
        wsk_socket_destroy(s);
}

static void *retry_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&retry_lock);
    ULONGLONG idle_since = retry_now_ms();
    for (;;) {
        ULONGLONG now = retry_now_ms();
        if (IsListEmpty(&retry_list)) {
            if (now - idle_since >= WSK_RETRY_IDLE_MS)
                break;
            retry_wait_until(idle_since + WSK_RETRY_IDLE_MS);
            continue;
        }
        wsk_socket *s = CONTAINING_RECORD(retry_list.Flink, wsk_socket, retry_link);
        if (s->retry_due > now) {
            retry_wait_until(s->retry_due); /* the list is in due order: same delay for all */
            continue;
        }
        RemoveEntryList(&s->retry_link);
        pthread_mutex_unlock(&retry_lock);
        /* retry_fire may drop the socket's last reference, and its client
         * deregister and stop the engine, before wsk_io_post has returned:
         * this thread holds the engine itself across the call (the
         * socket's reference keeps it running until here). */
        (void)wsk_io_engine_start();
        wsk_io_post_block(&s->posts->retry_io, retry_fire, s);
        wsk_io_engine_stop();
        pthread_mutex_lock(&retry_lock);
        idle_since = retry_now_ms();
    }
    retry_thread_running = FALSE;
    pthread_mutex_unlock(&retry_lock);
    return NULL;
}

void wsk_retry_schedule_locked(wsk_socket *s)
{
    if (s->retry_scheduled || s->closing)
        return;
    s->retry_scheduled = TRUE;
    s->callbacks++; /* until retry_fire ran */
    pthread_mutex_lock(&retry_lock);
    if (!retry_initialized) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&retry_cond, &attr);
        pthread_condattr_destroy(&attr);
        InitializeListHead(&retry_list);
        retry_initialized = TRUE;
    }
    BOOLEAN posted = FALSE;
    if (!retry_thread_running) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        retry_thread_running = pthread_create(&t, &attr, retry_thread, NULL) == 0;
        pthread_attr_destroy(&attr);
        if (!retry_thread_running) {
            /* No timer: try again at once from the engine (a busy retry,
             * but never a silent socket). */
            posted = TRUE;
        }
    }
    if (!posted) {
        s->retry_due = retry_now_ms() + WSK_RETRY_DELAY_MS;
        InsertTailList(&retry_list, &s->retry_link);
        pthread_cond_signal(&retry_cond);
    }
    pthread_mutex_unlock(&retry_lock);
    if (posted)
        wsk_io_post_block(&s->posts->retry_io, retry_fire, s);
}
