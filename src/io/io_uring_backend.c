/*
 * io_uring_backend.c - the default, completion-based backend (liburing).
 *
 * One ring per engine thread (shard), created by and used only from that
 * thread: it alone fills the SQ and reaps the CQ, so the ring needs no lock,
 * io_uring's per-task work always runs on a thread that outlives the ops,
 * and IORING_SETUP_SINGLE_ISSUER can be used where the kernel has it.
 * Other threads hand ops to a shard through its inbox (a list under the
 * shard mutex) and wake it with an eventfd that the ring always has an
 * IORING_OP_READ pending on.  user_data is the op pointer: no per-op
 * allocation.
 *
 * Ordering: RECVMSG and ACCEPT (reads), SENDMSG and CONNECT (writes) of one
 * fd are admitted to the ring one at a time per direction; later ones wait
 * on the fd record until the owner completes.  (Two sends in the ring at
 * once could interleave their bytes when one goes partial.)
 *
 * Phases of an op in the ring: MAIN (the operation itself), POLL (the
 * kernel said -EAGAIN, e.g. MSG_DONTWAIT was passed or an old kernel
 * honours O_NONBLOCK: wait with POLL_ADD, then retry), CONNECT_WAIT (connect
 * answered -EINPROGRESS: POLL_ADD POLLOUT, then read SO_ERROR).  A partial
 * send re-issues MAIN for the rest.  Only one SQE per op is ever in flight.
 *
 * Cancellation: io_cancel sets IO_PF_CANCEL under the shard lock.  An op
 * still in the inbox or waiting behind the fd's owner is unlinked and
 * completed with -ECANCELED at once (through the ready list).  An op in the
 * ring goes on the cancel list; the shard thread turns it into
 * IORING_OP_ASYNC_CANCEL(user_data = op), queued after the op's own SQE, and
 * every phase change checks the flag, so an op between phases ends with
 * -ECANCELED too.  The op's completion is delivered only from its own CQE,
 * which keeps it exactly once; a cancel SQE for an op that already finished
 * gets -ENOENT and is ignored.  Because the cancel SQE is submitted before
 * the op's CQE can be reaped, it can never hit a later op reusing the same
 * memory.
 */
#ifdef OPENWSK_HAVE_LIBURING

#include "io_engine.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/ke_internal.h"
#include "kernel/perturb.h"

enum { U_IDLE = 0, U_INBOX, U_FDQ, U_RING, U_CANCELQ, U_DEFERRED, U_READY, U_DONE };
enum { PH_MAIN = 0, PH_POLL, PH_CONNECT_WAIT };

#define URING_ENTRIES 256
#define URING_BATCH 64
#define URING_TAG_WAKE 1ull   /* user_data of the eventfd read */
#define URING_TAG_CANCEL 2ull /* user_data of ASYNC_CANCEL requests */

typedef struct uring_shard {
    pthread_mutex_t lock;
    pthread_cond_t init_cond;
    struct io_uring ring;
    int evfd;
    uint64_t evbuf;
    pthread_t thread;
    unsigned index;
    int init_rc;
    unsigned char started, init_done, stopping, wake_pending, wake_armed;
    io_list inbox;    /* submitted, not yet admitted (U_INBOX) */
    io_list cancels;  /* in the ring, ASYNC_CANCEL to be issued (U_CANCELQ) */
    io_list deferred; /* waiting for a free SQE (U_DEFERRED) */
    io_list ready;    /* result decided, to be delivered (U_READY) */
    io_fdmap fds;
    size_t inflight;
} __attribute__((aligned(64))) uring_shard;

static uring_shard *uring_shards;
static unsigned uring_nshards;
/* OPENWSK_IO_URING_COMPAT=1 (a debugging knob, read at start): behave the
 * way older kernels make us behave - wait with POLL_ADD before every
 * recv/send/accept and start connects with connect(2) then wait for
 * POLLOUT - so that those paths can be tested on any kernel.  Sockets must
 * be non-blocking then. */
static int uring_compat;

static void uring_wake(uring_shard *s)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(s->evfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
}

static int uring_need_wake_locked(uring_shard *s)
{
    if (io_engine_current_shard() == s || s->wake_pending)
        return 0;
    s->wake_pending = 1;
    return 1;
}

static int uring_has_work_locked(uring_shard *s)
{
    return s->inbox.head || s->cancels.head || s->deferred.head || s->ready.head || !s->wake_armed;
}

/* Shard thread only.  NULL if the SQ stays full even after submitting. */
static struct io_uring_sqe *uring_get_sqe(uring_shard *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

static void uring_arm_wake_locked(uring_shard *s)
{
    struct io_uring_sqe *sqe = uring_get_sqe(s);
    if (!sqe)
        return; /* retried next round */
    io_uring_prep_read(sqe, s->evfd, &s->evbuf, sizeof s->evbuf, 0);
    io_uring_sqe_set_data64(sqe, URING_TAG_WAKE);
    s->wake_armed = 1;
}

/* Shard thread only: puts the SQE for the op's current phase in the SQ. */
static void uring_issue_locked(uring_shard *s, io_op *op)
{
    struct io_uring_sqe *sqe = uring_get_sqe(s);
    if (!sqe) {
        op->priv.state = U_DEFERRED;
        io_list_push(&s->deferred, op);
        return;
    }
    switch (op->priv.phase) {
    case PH_POLL:
        io_uring_prep_poll_add(sqe, op->fd,
                               (op->kind == IO_OP_RECVMSG || op->kind == IO_OP_ACCEPT) ? POLLIN : POLLOUT);
        break;
    case PH_CONNECT_WAIT:
        io_uring_prep_poll_add(sqe, op->fd, POLLOUT);
        break;
    default:
        switch (op->kind) {
        case IO_OP_RECVMSG:
            io_uring_prep_recvmsg(sqe, op->fd, op->msg, (unsigned)(op->msg_flags & ~MSG_WAITALL));
            break;
        case IO_OP_SENDMSG:
            io_uring_prep_sendmsg(sqe, op->fd, io_send_msg(op), (unsigned)(op->msg_flags | MSG_NOSIGNAL));
            break;
        case IO_OP_ACCEPT:
            io_uring_prep_accept(sqe, op->fd, op->addr, op->addrlen, op->accept_flags);
            break;
        case IO_OP_CONNECT:
            io_uring_prep_connect(sqe, op->fd, op->addr, op->addr_len_in);
            break;
        default: /* IO_OP_POLL */
            io_uring_prep_poll_add(sqe, op->fd, (unsigned)(unsigned short)op->poll_events);
            break;
        }
    }
    io_uring_sqe_set_data(sqe, op);
    op->priv.state = U_RING;
}

static int uring_is_read(const io_op *op)
{
    return op->kind == IO_OP_RECVMSG || op->kind == IO_OP_ACCEPT;
}

static int uring_is_ordered(const io_op *op)
{
    return op->kind != IO_OP_POLL;
}

static void uring_activate_locked(uring_shard *s, io_op *op);

/* The result is decided: queue the op for delivery, then release its fd
 * direction, admitting the next op (shard thread only; the next op may
 * finish at once, and must be delivered after this one). */
static void uring_finish_locked(uring_shard *s, io_op *op, long result)
{
    if (op->kind == IO_OP_SENDMSG)
        io_send_finish(op);
    op->priv.state = U_READY;
    op->priv.result = result;
    io_list_push(&s->ready, op);
    if (op->priv.flags & IO_PF_OWNER) {
        op->priv.flags &= (unsigned char)~IO_PF_OWNER;
        io_fd_state *f = io_fdmap_get(&s->fds, op->fd, 0);
        io_op **owner = uring_is_read(op) ? &f->rowner : &f->wowner;
        io_op *next = io_list_pop(uring_is_read(op) ? &f->rq : &f->wq);
        *owner = next;
        if (next) {
            next->priv.flags |= IO_PF_OWNER;
            uring_activate_locked(s, next);
        }
    }
}

/* Shard thread: the op owns its fd direction (or needs none): start it. */
static void uring_activate_locked(uring_shard *s, io_op *op)
{
    if (uring_compat && op->kind == IO_OP_CONNECT && op->priv.phase == PH_MAIN) {
        if (connect(op->fd, op->addr, op->addr_len_in) == 0) {
            uring_finish_locked(s, op, 0);
            return;
        }
        int e = errno;
        if (e != EINPROGRESS && e != EINTR) {
            uring_finish_locked(s, op, -e);
            return;
        }
        op->priv.flags |= IO_PF_STARTED;
        op->priv.phase = PH_CONNECT_WAIT;
    }
    uring_issue_locked(s, op);
}

/* Shard thread: an op leaves the inbox. */
static void uring_admit_locked(uring_shard *s, io_op *op)
{
    if (op->fd < 0) {
        uring_finish_locked(s, op, -EBADF);
        return;
    }
    if (!uring_is_ordered(op)) {
        uring_activate_locked(s, op);
        return;
    }
    io_fd_state *f = io_fdmap_get(&s->fds, op->fd, 1);
    if (!f) {
        uring_finish_locked(s, op, -ENOMEM);
        return;
    }
    io_op **owner = uring_is_read(op) ? &f->rowner : &f->wowner;
    if (*owner) {
        op->priv.state = U_FDQ;
        io_list_push(uring_is_read(op) ? &f->rq : &f->wq, op);
        return;
    }
    *owner = op;
    op->priv.flags |= IO_PF_OWNER;
    uring_activate_locked(s, op);
}

/* Shard thread: goes to the next phase, or ends the op if it was cancelled. */
static void uring_next_phase_locked(uring_shard *s, io_op *op, unsigned char phase)
{
    if (op->priv.flags & IO_PF_CANCEL) {
        uring_finish_locked(s, op, -ECANCELED);
        return;
    }
    op->priv.phase = phase;
    uring_issue_locked(s, op);
}

static void uring_cqe_locked(uring_shard *s, uint64_t user_data, int res)
{
    if (user_data == URING_TAG_WAKE) {
        /* The read drained the eventfd; wake-ups written from now on are
         * seen by the next read (armed again this round). */
        s->wake_armed = 0;
        s->wake_pending = 0;
        return;
    }
    if (user_data == URING_TAG_CANCEL)
        return;
    io_op *op = (io_op *)(uintptr_t)user_data;
    if (op->priv.state == U_CANCELQ)
        io_list_remove(&s->cancels, op); /* no ASYNC_CANCEL needed any more */
    op->priv.state = U_RING;
    long r = res;

    if (r == -ECANCELED) {
        uring_finish_locked(s, op, r);
        return;
    }
    switch (op->priv.phase) {
    case PH_POLL:
        if (r < 0)
            uring_finish_locked(s, op, r);
        else
            uring_next_phase_locked(s, op, PH_MAIN);
        return;
    case PH_CONNECT_WAIT:
        if (r >= 0)
            r = io_connect_outcome(op->fd);
        if (r == -EINPROGRESS)
            uring_next_phase_locked(s, op, PH_CONNECT_WAIT);
        else
            uring_finish_locked(s, op, r);
        return;
    default:
        break;
    }
    switch (op->kind) {
    case IO_OP_RECVMSG:
    case IO_OP_ACCEPT:
        if (r == -EAGAIN)
            uring_next_phase_locked(s, op, PH_POLL);
        else if (r == -EINTR || (r == -ECONNABORTED && op->kind == IO_OP_ACCEPT))
            uring_next_phase_locked(s, op, PH_MAIN);
        else
            uring_finish_locked(s, op, r);
        return;
    case IO_OP_SENDMSG:
        if (r == -EAGAIN)
            uring_next_phase_locked(s, op, PH_POLL);
        else if (r == -EINTR)
            uring_next_phase_locked(s, op, PH_MAIN);
        else if (r < 0)
            uring_finish_locked(s, op, r);
        else if (io_send_advance(op, (size_t)r))
            uring_finish_locked(s, op, (long)op->transferred);
        else
            uring_next_phase_locked(s, op, PH_MAIN); /* partial: send the rest */
        return;
    case IO_OP_CONNECT:
        if (r == -EINPROGRESS || r == -EALREADY || r == -EINTR) {
            op->priv.flags |= IO_PF_STARTED;
            uring_next_phase_locked(s, op, PH_CONNECT_WAIT);
        } else {
            uring_finish_locked(s, op, r);
        }
        return;
    default:
        uring_finish_locked(s, op, r);
        return;
    }
}

/* Shard thread: everything other threads asked for since the last round. */
static void uring_drain_locked(uring_shard *s)
{
    if (!s->wake_armed)
        uring_arm_wake_locked(s);

    io_list retry = s->deferred;
    s->deferred.head = s->deferred.tail = NULL;
    io_op *op;
    while ((op = io_list_pop(&retry))) {
        if (op->priv.flags & IO_PF_CANCEL)
            uring_finish_locked(s, op, -ECANCELED);
        else
            uring_issue_locked(s, op);
    }

    while ((op = io_list_pop(&s->inbox))) {
        op->priv.state = U_IDLE;
        uring_admit_locked(s, op);
    }

    while ((op = s->cancels.head)) {
        struct io_uring_sqe *sqe = uring_get_sqe(s);
        if (!sqe)
            break; /* next round */
        io_list_remove(&s->cancels, op);
        op->priv.state = U_RING;
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
        io_uring_sqe_set_data64(sqe, URING_TAG_CANCEL);
    }
}

static int uring_ring_init(uring_shard *s)
{
    /* Newest flags first; older kernels reject them with -EINVAL. */
    static const unsigned flag_sets[] = {
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_COOP_TASKRUN)
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
#endif
#ifdef IORING_SETUP_COOP_TASKRUN
        IORING_SETUP_COOP_TASKRUN,
#endif
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i];
        rc = io_uring_queue_init_params(URING_ENTRIES, &s->ring, &p);
        if (rc != -EINVAL)
            break;
    }
    if (rc < 0)
        return rc;

    static const int needed[] = {IORING_OP_RECVMSG, IORING_OP_SENDMSG,  IORING_OP_ACCEPT, IORING_OP_CONNECT,
                                 IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL, IORING_OP_READ};
    struct io_uring_probe *probe = io_uring_get_probe_ring(&s->ring);
    rc = probe ? 0 : -ENOSYS;
    for (size_t i = 0; probe && i < sizeof needed / sizeof needed[0]; i++) {
        if (!io_uring_opcode_supported(probe, needed[i]))
            rc = -EOPNOTSUPP;
    }
    if (probe)
        io_uring_free_probe(probe);
    if (rc == 0) {
        /* Blocking eventfd on purpose: io_uring would hand -EAGAIN back for
         * a read on an O_NONBLOCK file instead of waiting. */
        s->evfd = eventfd(0, EFD_CLOEXEC);
        if (s->evfd < 0)
            rc = -errno;
    }
    if (rc < 0) {
        io_uring_queue_exit(&s->ring);
        return rc;
    }
    uring_arm_wake_locked(s); /* nobody else can see the shard yet */
    return 0;
}

static void *uring_thread(void *arg)
{
    uring_shard *s = arg;
    io_engine_thread_enter(s, s->index);
    int rc = uring_ring_init(s);
    pthread_mutex_lock(&s->lock);
    s->init_rc = rc;
    s->init_done = 1;
    pthread_cond_broadcast(&s->init_cond);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        return NULL;

    struct {
        uint64_t user_data;
        int res;
    } cqes[URING_BATCH];
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int busy = uring_has_work_locked(s);
        int stop = s->stopping && !s->inbox.head && !s->ready.head && !s->deferred.head && !s->cancels.head;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;

        int ret = busy ? io_uring_submit(&s->ring) : io_uring_submit_and_wait(&s->ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN && ret != -ETIME)
            openwsk_log("io_uring_submit: %s", strerror(-ret));

        unsigned n = 0, head;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&s->ring, head, cqe)
        {
            cqes[n].user_data = cqe->user_data;
            cqes[n].res = cqe->res;
            if (++n == URING_BATCH)
                break;
        }
        io_uring_cq_advance(&s->ring, n);

        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < n; i++)
            uring_cqe_locked(s, cqes[i].user_data, cqes[i].res);
        uring_drain_locked(s);
        io_list batch = s->ready;
        s->ready.head = s->ready.tail = NULL;
        if (openwsk_perturb_enabled())
            io_perturb_batch(&batch, &s->ready); /* held ones stay ready, for after the next reap */
        for (io_op *op = batch.head; op; op = op->priv.next) {
            op->priv.state = U_DONE;
            s->inflight--;
        }
        pthread_mutex_unlock(&s->lock);

        for (io_op *op = batch.head, *next; op; op = next) {
            next = op->priv.next; /* read before complete() may free op */
            io_deliver(op, op->priv.result);
        }
    }
    io_uring_queue_exit(&s->ring);
    return NULL; /* uring_stop closes the eventfd after joining: it may still write to it */
}

static uring_shard *uring_shard_for(io_op *op)
{
    unsigned i = io_shard_of_fd(op->fd, uring_nshards);
    return &uring_shards[i];
}

static void uring_post(io_op *op)
{
    uring_shard *s = uring_shard_for(op);
    op->priv.flags = 0;
    __atomic_store_n(&op->priv.shard, s, __ATOMIC_RELEASE);
    pthread_mutex_lock(&s->lock);
    s->inflight++;
    op->priv.state = U_READY;
    op->priv.result = 0;
    io_list_push(&s->ready, op);
    int wake = uring_need_wake_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (wake)
        uring_wake(s);
}

static void uring_submit(io_op *op)
{
    if (op->kind == IO_OP_CALL) {
        uring_post(op);
        return;
    }
    uring_shard *s = uring_shard_for(op);
    op->priv.flags = 0;
    op->priv.phase = uring_compat && op->kind != IO_OP_POLL && op->kind != IO_OP_CONNECT ? PH_POLL : PH_MAIN;
    /* Perturbation: the operation at once or after readiness, by a coin
     * (the compat mode's path, which every kernel supports). */
    if (!uring_compat && op->kind != IO_OP_POLL && op->kind != IO_OP_CONNECT && openwsk_perturb_enabled())
        op->priv.phase = io_perturb_attempt_now() ? PH_MAIN : PH_POLL;
    io_op_begin(op);
    __atomic_store_n(&op->priv.shard, s, __ATOMIC_RELEASE);

    pthread_mutex_lock(&s->lock);
    s->inflight++;
    op->priv.state = U_INBOX;
    io_list_push(&s->inbox, op);
    int wake = uring_need_wake_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (wake)
        uring_wake(s);
}

static int uring_cancel(io_op *op)
{
    uring_shard *s = __atomic_load_n(&op->priv.shard, __ATOMIC_ACQUIRE);
    if (!s)
        return -ENOENT;
    int rc = 0, wake = 0;
    pthread_mutex_lock(&s->lock);
    if (op->priv.flags & IO_PF_CANCEL) {
        rc = -EALREADY;
    } else {
        switch (op->priv.state) {
        case U_INBOX:
            io_list_remove(&s->inbox, op);
            op->priv.flags |= IO_PF_CANCEL;
            uring_finish_locked(s, op, -ECANCELED); /* not an owner yet: nothing to admit */
            wake = uring_need_wake_locked(s);
            break;
        case U_FDQ: {
            io_fd_state *f = io_fdmap_get(&s->fds, op->fd, 0);
            io_list_remove(uring_is_read(op) ? &f->rq : &f->wq, op);
            op->priv.flags |= IO_PF_CANCEL;
            uring_finish_locked(s, op, -ECANCELED); /* not the owner */
            wake = uring_need_wake_locked(s);
            break;
        }
        case U_DEFERRED: /* the shard thread ends it on its next round */
            op->priv.flags |= IO_PF_CANCEL;
            wake = uring_need_wake_locked(s);
            break;
        case U_RING:
            op->priv.flags |= IO_PF_CANCEL;
            op->priv.state = U_CANCELQ;
            io_list_push(&s->cancels, op);
            wake = uring_need_wake_locked(s);
            break;
        case U_IDLE:
            rc = -ENOENT;
            break;
        default: /* U_READY, U_DONE: the result is decided */
            rc = -EALREADY;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (wake)
        uring_wake(s);
    return rc;
}

static void uring_forget_fd(int fd)
{
    int keep_shard = 0;
    uring_shard *s = &uring_shards[io_shard_of_fd(fd, uring_nshards)];
    pthread_mutex_lock(&s->lock);
    io_fd_state *f = io_fdmap_get(&s->fds, fd, 0);
    if (f) {
        if (f->rowner || f->wowner || f->rq.head || f->wq.head) {
            openwsk_log("io_engine_forget_fd(%d) while operations are pending: record kept", fd);
            keep_shard = 1;
        } else {
            io_fdmap_remove(&s->fds, fd);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (!keep_shard)
        io_shard_release_fd(fd); /* the number's next fd gets a shard afresh */
}

static void uring_stop(void)
{
    for (unsigned i = 0; i < uring_nshards; i++) {
        uring_shard *s = &uring_shards[i];
        if (!s->started)
            continue;
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        int ok = s->init_rc == 0;
        pthread_mutex_unlock(&s->lock);
        if (ok)
            uring_wake(s);
    }
    for (unsigned i = 0; i < uring_nshards; i++) {
        uring_shard *s = &uring_shards[i];
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
    free(uring_shards);
    uring_shards = NULL;
    uring_nshards = 0;
}

static int uring_start(unsigned threads)
{
    const char *compat = getenv("OPENWSK_IO_URING_COMPAT");
    uring_compat = compat && *compat && strcmp(compat, "0") != 0;
    uring_shards = aligned_alloc(64, threads * sizeof *uring_shards);
    if (!uring_shards)
        return -ENOMEM;
    memset(uring_shards, 0, threads * sizeof *uring_shards);
    uring_nshards = threads;
    int rc = 0;
    for (unsigned i = 0; i < threads; i++) {
        uring_shard *s = &uring_shards[i];
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->init_cond, NULL);
        s->index = i;
        s->evfd = -1;
        s->fds.stride = 1; /* fds are placed by io_shard_of_fd, not by number */
    }
    /* Each thread creates its own ring; wait for every one to report. */
    for (unsigned i = 0; i < threads && rc == 0; i++) {
        uring_shard *s = &uring_shards[i];
        rc = io_engine_spawn(&s->thread, uring_thread, s);
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
        uring_stop();
    return rc;
}

const io_backend io_backend_io_uring = {
    .name = "io_uring",
    .start = uring_start,
    .stop = uring_stop,
    .submit = uring_submit,
    .cancel = uring_cancel,
    .post = uring_post,
    .forget_fd = uring_forget_fd,
};

#else /* !OPENWSK_HAVE_LIBURING */

/* Built without liburing: the epoll backend alone (ISO C wants a non-empty
 * translation unit). */
typedef int io_uring_backend_unavailable;

#endif
