/*
 * io_shard.c - the shard machinery both backends share (io_shard.h): the
 * shard array, engine threads and their loop, wake-ups, the ready list and
 * delivery at DISPATCH_LEVEL, and the bookkeeping of submit, post, cancel
 * and forget around the backend's hooks.
 */
#include "io_shard.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kernel/ke_internal.h"
#include "kernel/perturb.h"

static const io_shard_hooks *io_hooks;
static unsigned char *io_shard_mem; /* io_nshards shards of io_shard_stride bytes */
static size_t io_shard_stride;
static unsigned io_nshards;

static io_shard *io_shard_at(unsigned i)
{
    return (io_shard *)(io_shard_mem + (size_t)i * io_shard_stride);
}

io_shard *io_shard_for_fd(int fd)
{
    return io_shard_at(io_shard_of_fd(fd, io_nshards));
}

int io_shard_with_fd_quiet(int fd, int (*fn)(int fd, const void *arg), const void *arg)
{
    io_shard *s = io_shard_for_fd(fd);
    pthread_mutex_lock(&s->lock);
    int r = fn(fd, arg);
    pthread_mutex_unlock(&s->lock);
    return r;
}

void io_shard_wake(io_shard *s)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(s->evfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
}

int io_shard_need_wake_locked(io_shard *s)
{
    if (io_engine_current_shard() == s || s->wake_pending)
        return 0;
    s->wake_pending = 1;
    return 1;
}

/* io_engine_accept_ahead_end's work on fd, the shard lock held; returns
 * non-zero if the shard's thread has work now. */
static int io_shard_accept_ahead_end_locked(io_shard *s, int fd)
{
    int wake = 0;
    io_fd_state *f = io_hooks->accept_ahead_end_locked ? io_fdmap_get(&s->fds, fd, 0) : NULL;
    if (f)
        io_hooks->accept_ahead_end_locked(s, f, &wake);
    return wake;
}

static int io_shard_pending_locked(io_shard *s)
{
    return io_hooks->pending_locked ? io_hooks->pending_locked(s) : 0;
}

/* ---- submission ---- */

/* Hands a submitted op to the backend (or, if it was cancelled while
 * queued, decides it); returns non-zero if the shard's thread has work. */
static int io_shard_admit_locked(io_shard *s, io_op *op)
{
    s->inflight++;
    if (op->priv.flags & IO_PF_CANCEL) {
        if (op->kind == IO_OP_ACCEPT && op->accept_ahead)
            (void)io_shard_accept_ahead_end_locked(s, op->fd); /* its caller wants no more taken ahead */
        io_shard_ready_locked(s, op, -ECANCELED);
        return 1;
    }
    return io_hooks->submit_locked(s, op);
}

/* On the shard's thread: the ops its completion routines submitted, then
 * those other threads queued behind them, in that order. */
static void io_shard_drain_locked(io_shard *s)
{
    if (!s->local.head)
        return;
    io_list *lists[2] = {&s->local, &s->behind};
    for (int i = 0; i < 2; i++) {
        io_op *op = lists[i]->head;
        lists[i]->head = lists[i]->tail = NULL;
        for (io_op *next; op; op = next) {
            next = op->priv.next; /* before the backend links op elsewhere */
            op->priv.next = op->priv.prev = NULL;
            (void)io_shard_admit_locked(s, op);
        }
    }
    __atomic_store_n(&s->local_pending, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->behind_pending, 0, __ATOMIC_RELAXED);
}

/* ---- the engine thread ---- */

/* Delivers the ready list, and again what the completions themselves
 * decided at once (a reply sent right after a read, the next read after
 * the reply), up to the backend's number of rounds: a few rounds before
 * waiting again save a wait per step of a request/response exchange, while
 * a bound keeps other fds' events from waiting long.  Called and returns
 * with the lock held. */
static void io_shard_deliver_locked(io_shard *s)
{
    for (unsigned round = 0; round < io_hooks->delivery_rounds; round++) {
        io_list batch = s->ready;
        s->ready.head = s->ready.tail = NULL;
        int held = 0;
        if (openwsk_perturb_enabled()) {
            io_perturb_batch(&batch, &s->ready); /* held ones stay ready, for after the next wait */
            held = s->ready.head != NULL;
        }
        for (io_op *op = batch.head; op; op = op->priv.next) {
            op->priv.state = IO_ST_DONE;
            s->inflight--;
            /* Before its completion routine can submit on it. */
            if (op->kind == IO_OP_ACCEPT && op->priv.result >= 0)
                io_shard_prefer_fd((int)op->priv.result, s->index);
        }
        pthread_mutex_unlock(&s->lock);

        for (io_op *op = batch.head, *next; op; op = next) {
            next = op->priv.next; /* read before complete() may free op */
            io_deliver(op, op->priv.result);
        }
        pthread_mutex_lock(&s->lock);
        io_shard_drain_locked(s);
        if (!s->ready.head || held)
            break;
    }
}

static void *io_shard_thread(void *arg)
{
    io_shard *s = arg;
    io_engine_thread_enter(s, s->index);
    int rc = io_hooks->init(s);
    pthread_mutex_lock(&s->lock);
    s->init_rc = rc;
    s->init_done = 1;
    pthread_cond_broadcast(&s->init_cond);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        return NULL;

    /* One lock round per turn besides delivery: the look for work before
     * waiting is done while still holding the lock of the previous turn. */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        io_shard_drain_locked(s); /* nothing is left there before waiting */
        int busy = s->ready.head != NULL || io_shard_pending_locked(s);
        if (s->stopping && !busy)
            break;
        pthread_mutex_unlock(&s->lock);

        io_hooks->wait(s, busy);

        pthread_mutex_lock(&s->lock);
        io_hooks->process_locked(s);
        io_shard_deliver_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
    io_hooks->fini(s);
    return NULL; /* io_shards_stop closes the eventfd after joining: it may still be written */
}

/* ---- start and stop ---- */

void io_shards_stop(void)
{
    for (unsigned i = 0; i < io_nshards; i++) {
        io_shard *s = io_shard_at(i);
        if (!s->started)
            continue;
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        int ok = s->init_rc == 0;
        pthread_mutex_unlock(&s->lock);
        if (ok)
            io_shard_wake(s);
    }
    for (unsigned i = 0; i < io_nshards; i++) {
        io_shard *s = io_shard_at(i);
        if (s->started)
            pthread_join(s->thread, NULL);
        if (s->evfd >= 0)
            close(s->evfd);
        size_t left = io_fdmap_destroy(&s->fds);
        if (left)
            openwsk_log("I/O engine stopped with %zu fd record(s) not released by io_engine_forget_fd", left);
        if (s->inflight)
            openwsk_log("I/O engine stopped with %zu operation(s) not completed", s->inflight);
        pthread_cond_destroy(&s->init_cond);
        pthread_mutex_destroy(&s->lock);
    }
    free(io_shard_mem);
    io_shard_mem = NULL;
    io_nshards = 0;
    io_hooks = NULL;
}

int io_shards_start(const io_shard_hooks *hooks, unsigned threads)
{
    int rc = hooks->configure ? hooks->configure() : 0;
    if (rc < 0)
        return rc;
    /* Whole cache lines per shard: one thread's lock and lists do not
     * share a line with its neighbour's. */
    size_t stride = (hooks->shard_size + 63) & ~(size_t)63;
    io_shard_mem = aligned_alloc(64, threads * stride);
    if (!io_shard_mem)
        return -ENOMEM;
    memset(io_shard_mem, 0, threads * stride);
    io_shard_stride = stride;
    io_nshards = threads;
    io_hooks = hooks;
    for (unsigned i = 0; i < threads; i++) {
        io_shard *s = io_shard_at(i);
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->init_cond, NULL);
        s->index = i;
        s->fds.stride = 1; /* fds are placed by io_shard_of_fd, not by number */
        s->evfd = eventfd(0, EFD_CLOEXEC | hooks->evfd_flags);
        if (s->evfd < 0 && rc == 0)
            rc = -errno;
    }
    /* Each thread sets up its own backend state; wait for every one. */
    for (unsigned i = 0; i < threads && rc == 0; i++) {
        io_shard *s = io_shard_at(i);
        rc = io_engine_spawn(&s->thread, io_shard_thread, s);
        if (rc < 0)
            break;
        s->started = 1;
        pthread_mutex_lock(&s->lock);
        while (!s->init_done)
            pthread_cond_wait(&s->init_cond, &s->lock);
        rc = s->init_rc;
        pthread_mutex_unlock(&s->lock);
    }
    if (rc < 0)
        io_shards_stop();
    return rc;
}

/* ---- the operations ---- */

void io_shard_post(io_op *op)
{
    io_shard *s = io_shard_for_fd(op->fd);
    op->priv.flags = 0;
    __atomic_store_n(&op->priv.shard, s, __ATOMIC_RELEASE);
    pthread_mutex_lock(&s->lock);
    s->inflight++;
    op->priv.state = IO_ST_READY;
    op->priv.result = 0;
    io_list_push(&s->ready, op);
    int wake = io_shard_need_wake_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (wake)
        io_shard_wake(s);
}

void io_shard_submit(io_op *op)
{
    if (op->kind == IO_OP_CALL) {
        io_shard_post(op);
        return;
    }
    io_shard *s = io_shard_for_fd(op->fd);
    op->priv.flags = 0;
    op->priv.phase = 0;
    io_op_begin(op);
    __atomic_store_n(&op->priv.shard, s, __ATOMIC_RELEASE);

    if (io_engine_current_shard() == s && !__atomic_load_n(&s->behind_pending, __ATOMIC_RELAXED)) {
        /* A completion routine on the shard's own thread: no lock; the
         * thread hands it to the backend once this delivery round is over. */
        op->priv.state = IO_ST_QUEUED;
        io_list_push(&s->local, op);
        __atomic_store_n(&s->local_pending, 1, __ATOMIC_RELAXED);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (__atomic_load_n(&s->local_pending, __ATOMIC_RELAXED)) {
        /* Behind the thread's own submissions, which may be earlier ones
         * of the same direction; the thread drains both before it waits.
         * From now on the thread's own submissions queue here too, behind
         * this one. */
        op->priv.state = IO_ST_QUEUED;
        io_list_push(&s->behind, op);
        __atomic_store_n(&s->behind_pending, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    int wake = io_shard_admit_locked(s, op) ? io_shard_need_wake_locked(s) : 0;
    pthread_mutex_unlock(&s->lock);
    if (wake)
        io_shard_wake(s);
}

int io_shard_cancel(io_op *op)
{
    io_shard *s = __atomic_load_n(&op->priv.shard, __ATOMIC_ACQUIRE);
    if (!s)
        return -ENOENT;
    int rc, wake = 0;
    pthread_mutex_lock(&s->lock);
    if (op->priv.flags & IO_PF_CANCEL)
        rc = -EALREADY;
    else if (op->priv.state == IO_ST_IDLE)
        rc = -ENOENT;
    else if (op->priv.state == IO_ST_QUEUED) {
        /* Not in the backend yet: decided when the shard's thread (which
         * drains its queues before it waits) takes it. */
        op->priv.flags |= IO_PF_CANCEL;
        rc = 0;
    }
    else if (op->priv.state < IO_ST_BACKEND)
        rc = -EALREADY; /* ready or delivered: the result is decided */
    else
        rc = io_hooks->cancel_locked(s, op, &wake);
    if (wake)
        wake = io_shard_need_wake_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (wake)
        io_shard_wake(s);
    return rc;
}

void io_shard_forget_fd(int fd)
{
    io_shard *s = io_shard_for_fd(fd);
    int keep = 0, wake = 0;
    pthread_mutex_lock(&s->lock);
    io_fd_state *f = io_fdmap_get(&s->fds, fd, 0);
    if (f) {
        keep = io_hooks->forget_fd_locked(s, f, &wake);
        if (!keep)
            io_fdmap_remove(&s->fds, fd);
    }
    if (wake)
        wake = io_shard_need_wake_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (!keep)
        io_shard_release_fd(fd); /* the number's next fd gets a shard afresh */
    if (wake)
        io_shard_wake(s);
}

void io_shard_accept_ahead_end(int fd)
{
    if (io_hooks->accept_ahead_end_locked == NULL)
        return;
    io_shard *s = io_shard_for_fd(fd);
    pthread_mutex_lock(&s->lock);
    int wake = io_shard_accept_ahead_end_locked(s, fd);
    if (wake)
        wake = io_shard_need_wake_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (wake)
        io_shard_wake(s);
}
