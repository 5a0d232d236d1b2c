/*
 * io_shard.h - the shard core both backends share (private to src/io).
 *
 * A shard is one engine thread with its lock, its eventfd wake-up, its
 * ready list of decided completions, its per-fd records and its count of
 * operations in flight.  io_shard.c owns all of that: the shard array, the
 * thread and its loop, posting, submission and cancellation bookkeeping,
 * the wake-up protocol, and delivery in batches (with schedule
 * perturbation).  A backend (io_epoll_backend.c, io_uring_backend.c) only
 * supplies the hooks below: how an operation is issued, how the thread
 * waits for and reaps kernel events, how an operation is cancelled and
 * what forgetting an fd means to it.  A new backend is an io_shard_hooks
 * table and those few functions.
 *
 * Locking: "_locked" hooks run with the shard lock held; wait() runs
 * without it, on the shard's thread.  Every op's result reaches the ready
 * list through io_shard_ready_locked, and the core delivers it with no
 * lock held.
 */
#ifndef OPENWSK_IO_SHARD_H
#define OPENWSK_IO_SHARD_H

#include "io_engine.h"

/* io_op_private.state values the core uses; a backend numbers its own
 * states from IO_ST_BACKEND.  IO_ST_QUEUED: submitted, on the shard's
 * `local` or `behind` list, not handed to the backend yet. */
enum { IO_ST_IDLE = 0, IO_ST_READY, IO_ST_DONE, IO_ST_QUEUED, IO_ST_BACKEND };

typedef struct io_shard {
    pthread_mutex_t lock;
    pthread_cond_t init_cond;
    pthread_t thread;
    unsigned index;
    int evfd; /* written to wake the thread; the backend watches it */
    int init_rc;
    unsigned char started, init_done, stopping, wake_pending;
    io_list ready; /* result decided, to be delivered (IO_ST_READY) */
    io_fdmap fds;
    size_t inflight;
    /* Submissions the shard's own thread made while delivering (its
     * completion routines starting their next operation): no lock, only
     * that thread touches the list.  It hands them to the backend, under
     * the lock it takes back after the delivery, before anything else. */
    io_list local;
    /* Set (atomically) while `local` holds ops.  Another thread that
     * submits to the shard meanwhile queues its op on `behind` (locked),
     * handed to the backend after `local`, and sets behind_pending: the
     * thread's own later submissions then queue on `behind` too.  So an op
     * submitted after another (in happens-before order: the provider
     * submits under the socket lock) is never served before it. */
    unsigned char local_pending, behind_pending;
    io_list behind;
} io_shard;

typedef struct io_shard_hooks {
    const char *name;
    size_t shard_size;  /* the backend's shard struct, which starts with an io_shard */
    int evfd_flags;     /* eventfd(2) flags besides EFD_CLOEXEC */
    unsigned delivery_rounds; /* delivery rounds per loop turn while completions produce more */
    /* Before any thread starts: reads the backend's settings.  0 or -errno. */
    int (*configure)(void);
    /* On the shard's thread, before anything is submitted to it.  0 or
     * -errno (then it leaves nothing behind). */
    int (*init)(io_shard *s);
    /* On the shard's thread when it stops (only after a successful init). */
    void (*fini)(io_shard *s);
    /* A new op (counted in flight, its shard set, flags and phase zeroed,
     * io_op_begin done).  Returns non-zero if the shard's thread has work
     * now (the core then wakes it unless the caller is that thread). */
    int (*submit_locked)(io_shard *s, io_op *op);
    /* Cancellation of an op in a backend state (>= IO_ST_BACKEND, not
     * cancelled yet).  Returns 0 or -errno; sets *wake if the shard's
     * thread has work now. */
    int (*cancel_locked)(io_shard *s, io_op *op, int *wake);
    /* The provider forgets an fd that has a record.  Returns non-zero to
     * keep the record (and the fd's shard); sets *wake as above. */
    int (*forget_fd_locked)(io_shard *s, io_fd_state *f, int *wake);
    /* io_engine_accept_ahead_end for an fd that has a record; sets *wake
     * as above.  May be NULL (a backend that never accepts ahead). */
    void (*accept_ahead_end_locked)(io_shard *s, io_fd_state *f, int *wake);
    /* Work queued for the thread that is not on the ready list yet (the
     * thread must not block, nor stop, while there is some).  May be NULL. */
    int (*pending_locked)(io_shard *s);
    /* Shard thread, no lock: waits for kernel events (not at all if busy)
     * and collects them into the backend's shard. */
    void (*wait)(io_shard *s, int busy);
    /* Shard thread, locked: handles what wait() collected and everything
     * other threads queued; results go to the ready list. */
    void (*process_locked)(io_shard *s);
} io_shard_hooks;

extern const io_shard_hooks io_backend_epoll;
#ifdef OPENWSK_HAVE_LIBURING
extern const io_shard_hooks io_backend_io_uring;
#endif

/* What io_engine.c calls, for the hooks table it started. */
int io_shards_start(const io_shard_hooks *hooks, unsigned threads);
void io_shards_stop(void);
void io_shard_submit(io_op *op);
int io_shard_cancel(io_op *op);
void io_shard_post(io_op *op);
void io_shard_forget_fd(int fd);
void io_shard_accept_ahead_end(int fd);

/* The shard serving fd (or the next one in turn for fd < 0). */
io_shard *io_shard_for_fd(int fd);
/* io_engine_with_fd_quiet: fn(fd, arg) under fd's shard lock. */
int io_shard_with_fd_quiet(int fd, int (*fn)(int fd, const void *arg), const void *arg);

/* Decides an op's result: onto the ready list (a SENDMSG's iovec
 * restored first).  Inline: every operation passes here. */
static inline void io_shard_ready_locked(io_shard *s, io_op *op, long result)
{
    if (op->kind == IO_OP_SENDMSG)
        io_send_finish(op);
    op->priv.state = IO_ST_READY;
    op->priv.result = result;
    io_list_push(&s->ready, op);
}

/* Under the lock: does the caller have to call io_shard_wake after
 * unlocking?  Not on the shard's own thread (its loop looks for work
 * before sleeping), nor when a wake-up is already on its way. */
int io_shard_need_wake_locked(io_shard *s);
void io_shard_wake(io_shard *s);

/* The backend saw the eventfd drained: wake-ups written from now on must
 * be written again.  Under the lock. */
static inline void io_shard_woken_locked(io_shard *s)
{
    s->wake_pending = 0;
}

#endif /* OPENWSK_IO_SHARD_H */
