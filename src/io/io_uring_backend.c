/*
 * io_uring_backend.c - the default, completion-based backend (liburing).
 *
 * One ring per engine thread (shard), created by and used only from that
 * thread: it alone fills the SQ and reaps the CQ, so the ring needs no lock,
 * io_uring's per-task work always runs on a thread that outlives the ops,
 * and IORING_SETUP_SINGLE_ISSUER can be used where the kernel has it, with
 * IORING_SETUP_DEFER_TASKRUN (6.1+): completion work then runs only when
 * the shard thread waits in io_uring_enter, in one batch, instead of
 * interrupting it (measured: about 1 % less CPU per echoed request).
 * Other threads hand ops to a shard through its inbox (a list under the
 * shard lock of the shard core, io_shard.c) and wake it with the core's
 * eventfd, which the ring always has an IORING_OP_READ pending on; the
 * shard's own thread (completion routines) puts them in the SQ directly.
 * user_data is the op pointer: no per-op allocation.
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
 *
 * Accepting ahead on listeners (io_op.accept_ahead, one multishot accept)
 * is io_uring_accept_ahead.c; both files share io_uring_internal.h.
 */
#ifdef OPENWSK_HAVE_LIBURING

#include "io_uring_internal.h"

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

/* OPENWSK_IO_URING_COMPAT=1 (a debugging knob, read at start): behave the
 * way older kernels make us behave - wait with POLL_ADD before every
 * recv/send/accept and start connects with connect(2) then wait for
 * POLLOUT - so that those paths can be tested on any kernel.  Sockets must
 * be non-blocking then. */
int uring_compat;

static int uring_pending_locked(io_shard *core)
{
    uring_shard *s = (uring_shard *)core;
    return s->inbox.head || s->cancels.head || s->deferred.head || !s->wake_armed || s->ahead_end_pending;
}

/* Shard thread only.  NULL if the SQ stays full even after submitting. */
struct io_uring_sqe *uring_get_sqe(uring_shard *s)
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
    io_uring_prep_read(sqe, s->core.evfd, &s->evbuf, sizeof s->evbuf, 0);
    io_uring_sqe_set_data64(sqe, URING_TAG_WAKE);
    s->wake_armed = 1;
}

/* Shard thread only: puts the SQE for the op's current phase in the SQ. */

/* One buffer, no address, no control data: IORING_OP_RECV / IORING_OP_SEND
 * do the same work without the kernel copying in a msghdr and an iovec
 * array (measured: io_msg_copy_hdr and copy_iovec_from_user were ~2 % of
 * the server's CPU on the 256-connection echo).  A stream receive reads
 * nothing back from the msghdr, whose msg_flags then stay as they were. */
static int uring_plain_msg(const struct msghdr *m)
{
    return m->msg_iovlen == 1 && m->msg_name == NULL && m->msg_control == NULL &&
           m->msg_iov[0].iov_len <= 0x7FFFFFFFu;
}

void uring_issue_locked(uring_shard *s, io_op *op)
{
    /* An ACCEPT about to poll first (perturbation's coin) too: connections
     * taken ahead never show as readiness on the listener. */
    if (op->kind == IO_OP_ACCEPT && (op->priv.phase == PH_MAIN || op->priv.phase == PH_POLL) &&
        uring_ahead_serve_locked(s, op))
        return;
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
            if (uring_plain_msg(op->msg))
                io_uring_prep_recv(sqe, op->fd, op->msg->msg_iov[0].iov_base, op->msg->msg_iov[0].iov_len,
                                   op->msg_flags & ~MSG_WAITALL);
            else
                io_uring_prep_recvmsg(sqe, op->fd, op->msg, (unsigned)(op->msg_flags & ~MSG_WAITALL));
            break;
        case IO_OP_SENDMSG: {
            struct msghdr *m = io_send_msg(op);
            if (uring_plain_msg(m))
                io_uring_prep_send(sqe, op->fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len,
                                   op->msg_flags | MSG_NOSIGNAL);
            else
                io_uring_prep_sendmsg(sqe, op->fd, m, (unsigned)(op->msg_flags | MSG_NOSIGNAL));
            break;
        }
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
void uring_finish_locked(uring_shard *s, io_op *op, long result)
{
    io_shard_ready_locked(&s->core, op, result);
    if (op->priv.flags & IO_PF_OWNER) {
        op->priv.flags &= (unsigned char)~IO_PF_OWNER;
        io_fd_state *f = io_fdmap_get(&s->core.fds, op->fd, 0);
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
    io_fd_state *f = io_fdmap_get(&s->core.fds, op->fd, 1);
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

static void uring_cqe_locked(uring_shard *s, uint64_t user_data, int res, unsigned flags)
{
    if (user_data == URING_TAG_WAKE) {
        /* The read drained the eventfd; wake-ups written from now on are
         * seen by the next read (armed again this round). */
        s->wake_armed = 0;
        io_shard_woken_locked(&s->core);
        return;
    }
    if (user_data == URING_TAG_CANCEL)
        return;
    if (uring_ahead_is_user_data(user_data)) {
        uring_ahead_cqe_locked(s, (uring_ahead *)(uintptr_t)(user_data & ~(uint64_t)1), res, flags);
        return;
    }
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
        op->priv.state = IO_ST_IDLE;
        uring_admit_locked(s, op);
    }

    if (s->ahead_end_pending)
        uring_ahead_end_requested(s);

    while ((op = s->cancels.head)) {
        if (op->priv.phase == PH_AHEAD_WAIT) {
            /* Not in the ring itself: end the multishot it waits for
             * (connections it took meanwhile stay for later ACCEPTs). */
            io_list_remove(&s->cancels, op);
            op->priv.state = U_RING;
            io_fd_state *f = io_fdmap_get(&s->core.fds, op->fd, 0);
            if (f != NULL && f->ahead != NULL)
                uring_ahead_end(s, f->ahead);
            uring_finish_locked(s, op, -ECANCELED);
            continue;
        }
        struct io_uring_sqe *sqe = uring_get_sqe(s);
        if (!sqe)
            break; /* next round */
        io_list_remove(&s->cancels, op);
        op->priv.state = U_RING;
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
        io_uring_sqe_set_data64(sqe, URING_TAG_CANCEL);
    }
}

static int uring_init(io_shard *core)
{
    uring_shard *s = (uring_shard *)core;
    /* Newest flags first; older kernels reject them with -EINVAL. */
    static const unsigned flag_sets[] = {
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
#endif
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
                                 IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL, IORING_OP_READ,
                                 IORING_OP_RECV,    IORING_OP_SEND};
    struct io_uring_probe *probe = io_uring_get_probe_ring(&s->ring);
    rc = probe ? 0 : -ENOSYS;
    for (size_t i = 0; probe && i < sizeof needed / sizeof needed[0]; i++) {
        if (!io_uring_opcode_supported(probe, needed[i]))
            rc = -EOPNOTSUPP;
    }
    if (probe)
        io_uring_free_probe(probe);
    if (rc < 0) {
        io_uring_queue_exit(&s->ring);
        return rc;
    }
    uring_ahead_probe(s);
    uring_arm_wake_locked(s); /* nobody else can see the shard yet */
    return 0;
}

static void uring_fini(io_shard *core)
{
    uring_shard *s = (uring_shard *)core;
    uring_ahead_free_all(s);
    io_uring_queue_exit(&s->ring);
}

static void uring_wait(io_shard *core, int busy)
{
    uring_shard *s = (uring_shard *)core;
    int ret = busy ? io_uring_submit(&s->ring) : io_uring_submit_and_wait(&s->ring, 1);
    if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN && ret != -ETIME)
        openwsk_log("io_uring_submit: %s", strerror(-ret));

    unsigned n = 0, head;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        s->cqes[n].user_data = cqe->user_data;
        s->cqes[n].res = cqe->res;
        s->cqes[n].flags = cqe->flags;
        if (++n == URING_BATCH)
            break;
    }
    io_uring_cq_advance(&s->ring, n);
    s->ncqes = n;
}

static void uring_process_locked(io_shard *core)
{
    uring_shard *s = (uring_shard *)core;
    uring_ahead_reaped(s);
    for (unsigned i = 0; i < s->ncqes; i++)
        uring_cqe_locked(s, s->cqes[i].user_data, s->cqes[i].res, s->cqes[i].flags);
    s->ncqes = 0;
    uring_drain_locked(s);
}

static int uring_submit_locked(io_shard *core, io_op *op)
{
    uring_shard *s = (uring_shard *)core;
    op->priv.phase = uring_compat && op->kind != IO_OP_POLL && op->kind != IO_OP_CONNECT ? PH_POLL : PH_MAIN;
    /* Perturbation: the operation at once or after readiness, by a coin
     * (the compat mode's path, which every kernel supports). */
    if (!uring_compat && op->kind != IO_OP_POLL && op->kind != IO_OP_CONNECT && openwsk_perturb_enabled())
        op->priv.phase = io_perturb_attempt_now() ? PH_MAIN : PH_POLL;
    /* On the shard's own thread (a completion routine submitting its next
     * operation), the op goes straight to the SQ: no inbox, no extra loop
     * turn before the ring sees it.  Not past ops other threads queued
     * earlier, which keeps each direction in submission order. */
    if (io_engine_current_shard() == core && !s->inbox.head) {
        uring_admit_locked(s, op);
        return 0;
    }
    op->priv.state = U_INBOX;
    io_list_push(&s->inbox, op);
    return 1;
}

static int uring_cancel_locked(io_shard *core, io_op *op, int *wake)
{
    uring_shard *s = (uring_shard *)core;
    if (op->kind == IO_OP_ACCEPT && op->accept_ahead && (op->priv.state == U_INBOX || op->priv.state == U_FDQ)) {
        /* Not waiting yet, but its caller wants no more connections ahead. */
        io_fd_state *f = io_fdmap_get(&core->fds, op->fd, 0);
        if (f != NULL && f->ahead != NULL)
            uring_ahead_end_from(s, f->ahead, wake);
    }
    switch (op->priv.state) {
    case U_INBOX:
        io_list_remove(&s->inbox, op);
        op->priv.flags |= IO_PF_CANCEL;
        uring_finish_locked(s, op, -ECANCELED); /* not an owner yet: nothing to admit */
        break;
    case U_FDQ: {
        io_fd_state *f = io_fdmap_get(&core->fds, op->fd, 0);
        io_list_remove(uring_is_read(op) ? &f->rq : &f->wq, op);
        op->priv.flags |= IO_PF_CANCEL;
        uring_finish_locked(s, op, -ECANCELED); /* not the owner */
        break;
    }
    case U_DEFERRED: /* the shard thread ends it on its next round */
        op->priv.flags |= IO_PF_CANCEL;
        break;
    default: /* U_RING */
        op->priv.flags |= IO_PF_CANCEL;
        op->priv.state = U_CANCELQ;
        io_list_push(&s->cancels, op);
        break;
    }
    *wake = 1;
    return 0;
}

static int uring_forget_fd_locked(io_shard *core, io_fd_state *f, int *wake)
{
    uring_shard *s = (uring_shard *)core;
    if (f->rowner || f->wowner || f->rq.head || f->wq.head) {
        openwsk_log("io_engine_forget_fd(%d) while operations are pending: record kept", f->fd);
        return 1;
    }
    if (f->ahead != NULL)
        uring_ahead_forget_locked(s, f, wake);
    return 0;
}

static void uring_accept_ahead_end_locked(io_shard *core, io_fd_state *f, int *wake)
{
    if (f->ahead != NULL)
        uring_ahead_end_from((uring_shard *)core, f->ahead, wake);
}

static int uring_configure(void)
{
    const char *compat = getenv("OPENWSK_IO_URING_COMPAT");
    uring_compat = compat && *compat && strcmp(compat, "0") != 0;
    return 0;
}

const io_shard_hooks io_backend_io_uring = {
    .name = "io_uring",
    .shard_size = sizeof(uring_shard),
    .evfd_flags = 0, /* blocking on purpose: io_uring hands -EAGAIN back for a read on an O_NONBLOCK file */
    .delivery_rounds = 1,
    .configure = uring_configure,
    .init = uring_init,
    .fini = uring_fini,
    .submit_locked = uring_submit_locked,
    .cancel_locked = uring_cancel_locked,
    .forget_fd_locked = uring_forget_fd_locked,
    .accept_ahead_end_locked = uring_accept_ahead_end_locked,
    .pending_locked = uring_pending_locked,
    .wait = uring_wait,
    .process_locked = uring_process_locked,
};

#else /* !OPENWSK_HAVE_LIBURING */

/* Built without liburing: the epoll backend alone (ISO C wants a non-empty
 * translation unit). */
typedef int io_uring_backend_unavailable;

#endif
