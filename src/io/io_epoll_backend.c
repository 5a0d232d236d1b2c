/*
 * io_epoll_backend.c - the readiness-based fallback backend.
 *
 * The shard core (io_shard.c) gives every engine thread its lock, eventfd
 * wake-up, ready list and per-fd records; this backend adds one epoll set
 * per shard.  The shard lock guards the non-blocking syscalls too, so that
 * "try, and park on EAGAIN" is atomic with respect to the engine thread and
 * to other submitters.
 *
 * io_submit tries the syscall at once, on the caller's thread, unless an
 * earlier op of the same direction is already waiting (order is kept); on
 * EAGAIN it parks the op on the fd's read, write or poll list and arms the
 * fd.  The outcome, immediate or not, goes to the ready list, and the
 * engine thread delivers it at DISPATCH_LEVEL.
 *
 * The interest set (level-triggered and persistent, and what becomes of
 * a registration when its fd is forgotten) is io_epoll_interest.c's.
 *
 * Reads are tried at once only while the fd may have data: a read that
 * found nothing (EAGAIN), or a stream read that returned less than it asked
 * for, marks the fd drained, and the next read waits for EPOLLIN instead of
 * spending a syscall on a certain EAGAIN.  So does the first read of an
 * fd the backend has not seen yet (a socket just accepted or connected):
 * its peer's data seldom arrives before the first receive is posted (the
 * connect + echo + close benchmark: 88 % of those attempts were EAGAIN),
 * and the registration that the fd needs anyway reports data already
 * there at once.
 *
 * Cancellation is immediate under the lock: a parked op is unlinked and
 * put on the ready list with -ECANCELED; an op whose result is already
 * decided is left alone.
 */
#include "io_epoll_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kernel/ke_internal.h"
#include "kernel/perturb.h"

static io_list *epoll_list_of(io_fd_state *f, io_op *op)
{
    switch (op->kind) {
    case IO_OP_RECVMSG:
    case IO_OP_ACCEPT:
        return &f->rq;
    case IO_OP_SENDMSG:
    case IO_OP_CONNECT:
        return &f->wq;
    default:
        return &f->pq;
    }
}

/* One buffer, no address, no control data: recv(2) / send(2) do the same
 * work without the kernel copying in a msghdr and an iovec array (perf on
 * the 16-connection echo: copy_msghdr_from_user, import_iovec and the
 * ___sys_*msg layers were ~5 % of the server's CPU).  Only stream sockets
 * receive that way, and a stream receive reads nothing back from its
 * msghdr, whose msg_flags then stay as they were. */
static int epoll_plain_msg(const struct msghdr *m)
{
    return m->msg_iovlen == 1 && m->msg_name == NULL && m->msg_control == NULL;
}

/* One non-blocking attempt.  Returns 1 with *result set when the op is
 * finished, 0 when it has to wait for readiness. */
static int epoll_try(io_op *op, long *result)
{
    for (;;) {
        ssize_t n;
        switch (op->kind) {
        case IO_OP_RECVMSG: {
            int flags = (op->msg_flags & ~MSG_WAITALL) | MSG_DONTWAIT;
            struct msghdr *m = op->msg;
            if (epoll_plain_msg(m))
                n = recv(op->fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, flags);
            else
                n = recvmsg(op->fd, m, flags);
            if (n >= 0) {
                *result = n;
                return 1;
            }
            break;
        }
        case IO_OP_SENDMSG: {
            int flags = op->msg_flags | MSG_DONTWAIT | MSG_NOSIGNAL;
            struct msghdr *m = io_send_msg(op);
            if (epoll_plain_msg(m))
                n = send(op->fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, flags);
            else
                n = sendmsg(op->fd, m, flags);
            if (n >= 0) {
                if (io_send_advance(op, (size_t)n)) {
                    *result = (long)op->transferred;
                    return 1;
                }
                continue; /* partial: try the rest until the kernel says EAGAIN */
            }
            break;
        }
        case IO_OP_ACCEPT:
            n = accept4(op->fd, op->addr, op->addrlen, op->accept_flags);
            if (n >= 0) {
                *result = n;
                return 1;
            }
            if (errno == ECONNABORTED)
                continue; /* that connection died in the queue; take the next */
            break;
        case IO_OP_CONNECT:
            if (!(op->priv.flags & IO_PF_STARTED)) {
                op->priv.flags |= IO_PF_STARTED;
                if (connect(op->fd, op->addr, op->addr_len_in) == 0) {
                    *result = 0;
                    return 1;
                }
                if (errno == EINPROGRESS || errno == EINTR)
                    return 0; /* the handshake goes on; wait for writability */
                *result = -errno;
                return 1;
            } else {
                int r = io_connect_outcome(op->fd);
                if (r == -EINPROGRESS)
                    return 0;
                *result = r;
                return 1;
            }
        case IO_OP_POLL: {
            struct pollfd p = {.fd = op->fd, .events = op->poll_events};
            int r = poll(&p, 1, 0);
            if (r > 0) {
                *result = (p.revents & POLLNVAL) ? -EBADF : p.revents; /* as io_uring's POLL_ADD */
                return 1;
            }
            if (r == 0)
                return 0;
            break;
        }
        default:
            *result = -EINVAL;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        *result = -errno;
        return 1;
    }
}

/* epoll_try, keeping the fd's read hint: nothing read, or a stream read
 * shorter than its buffers, means the fd is drained for now. */
static int epoll_try_fd(io_fd_state *f, io_op *op, long *result)
{
    int done = epoll_try(op, result);
    if (op->kind == IO_OP_RECVMSG) {
        int drained = !done;
        if (done && *result >= 0 && op->msg->msg_name == NULL) {
            const struct msghdr *m = op->msg;
            size_t asked = m->msg_iovlen == 1 ? m->msg_iov[0].iov_len : io_msg_length(m);
            drained = (size_t)*result < asked;
        }
        f->drained = (unsigned char)drained;
    } else if (op->kind == IO_OP_ACCEPT) {
        f->drained = (unsigned char)!done;
    }
    return done;
}

void epoll_fail_all_locked(epoll_shard *s, io_fd_state *f, long result)
{
    io_list *lists[3] = {&f->rq, &f->wq, &f->pq};
    for (int i = 0; i < 3; i++) {
        io_op *op;
        while ((op = io_list_pop(lists[i])))
            io_shard_ready_locked(&s->core, op, result);
    }
}

static int epoll_submit_locked(io_shard *core, io_op *op)
{
    epoll_shard *s = (epoll_shard *)core;
    io_fd_state *f = op->fd >= 0 ? epoll_fd_record(core, op->fd, 0) : NULL;
    long result;
    if (op->fd >= 0 && !f && (f = io_fdmap_get(&core->fds, op->fd, 1)) != NULL)
        f->drained = 1; /* a new fd's first read waits for EPOLLIN (see the top comment) */
    if (op->fd < 0) {
        io_shard_ready_locked(core, op, -EBADF);
    } else if (!f) {
        io_shard_ready_locked(core, op, -ENOMEM);
    } else {
        if ((op->kind == IO_OP_ACCEPT || op->kind == IO_OP_CONNECT) && !f->nonblock_checked) {
            f->nonblock_checked = 1;
            int fl = fcntl(op->fd, F_GETFL);
            if (fl >= 0 && !(fl & O_NONBLOCK)) {
                openwsk_log("epoll I/O backend: fd %d is blocking; switched to O_NONBLOCK", op->fd);
                fcntl(op->fd, F_SETFL, fl | O_NONBLOCK);
            }
        }
        io_list *q = epoll_list_of(f, op);
        /* Ops queued before this one go first: no attempt now; nor for a
         * read on a drained fd, which waits for EPOLLIN.  Perturbation
         * tosses a coin where order allows either (not for a connect,
         * which must be started to become writable). */
        int may = q == &f->pq || !q->head;
        int attempt = may && !(q == &f->rq && f->drained);
        if (may && op->kind != IO_OP_CONNECT && openwsk_perturb_enabled())
            attempt = io_perturb_attempt_now();
        if (attempt && epoll_try_fd(f, op, &result)) {
            f->unwanted = 0; /* the readiness an earlier event reported was used after all */
            io_shard_ready_locked(core, op, result);
        } else {
            io_list_push(q, op);
            op->priv.state = EP_PARKED;
            int rc = epoll_arm_locked(s, f);
            if (rc < 0) {
                io_list_remove(q, op);
                /* An fd epoll refuses (not a socket: EPERM) still gets
                 * the syscall's own answer if the attempt was skipped. */
                if (attempt || !may || !epoll_try_fd(f, op, &result))
                    result = rc;
                io_shard_ready_locked(core, op, result);
            }
        }
    }
    return core->ready.head != NULL;
}

static int epoll_cancel_locked(io_shard *core, io_op *op, int *wake)
{
    /* EP_PARKED is the only backend state. */
    io_fd_state *f = epoll_fd_record(core, op->fd, 0);
    io_list_remove(epoll_list_of(f, op), op);
    op->priv.flags |= IO_PF_CANCEL;
    /* The fd stays in the set; an event that finds nobody waiting narrows
     * the interest then. */
    io_shard_ready_locked(core, op, -ECANCELED);
    *wake = 1;
    return 0;
}

static int epoll_forget_fd_locked(io_shard *core, io_fd_state *f, int *wake)
{
    epoll_shard *s = (epoll_shard *)core;
    if (f->rq.head || f->wq.head || f->pq.head) {
        openwsk_log("io_engine_forget_fd(%d) while operations are pending: cancelling them", f->fd);
        epoll_fail_all_locked(s, f, -ECANCELED);
        *wake = 1;
    }
    epoll_forget_registration_locked(s, f);
    return 0;
}

/* Serves the ops of one list in order until one has to wait. */
static void epoll_serve_locked(epoll_shard *s, io_fd_state *f, io_list *q)
{
    io_op *op;
    long result;
    while ((op = q->head) && epoll_try_fd(f, op, &result)) {
        io_list_remove(q, op);
        io_shard_ready_locked(&s->core, op, result);
    }
}

static void epoll_event_locked(epoll_shard *s, uint64_t data, unsigned revents)
{
    io_fd_state *f = epoll_event_record_locked(s, data);
    if (!f)
        return;
    unsigned waited = epoll_wanted(f); /* before serving: who this event was for */
    if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        f->drained = 0;
        epoll_serve_locked(s, f, &f->rq);
    }
    if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        epoll_serve_locked(s, f, &f->wq);
    for (io_op *op = f->pq.head, *next; op; op = next) {
        next = op->priv.next;
        unsigned hit = revents & ((unsigned)op->poll_events | EPOLLERR | EPOLLHUP);
        if (hit) {
            io_list_remove(&f->pq, op);
            io_shard_ready_locked(&s->core, op, (long)hit);
        }
    }
    /* Readiness nobody waited for keeps being reported (level-triggered):
     * the fourth time in a row, narrow the interest to what is still
     * needed, or leave the set.  A few are normal: the peer's next request
     * can be reported before the completion that parks the next read has
     * been delivered. */
    int rc;
    unsigned reported = revents & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
    if ((reported & ~waited) && ++f->unwanted >= 4) {
        f->unwanted = 0;
        rc = epoll_set_interest_locked(s, f, epoll_wanted(f));
    } else {
        if (!(reported & ~waited))
            f->unwanted = 0;
        rc = epoll_arm_locked(s, f);
    }
    if (rc < 0)
        epoll_fail_all_locked(s, f, rc);
}

static void epoll_wait_events(io_shard *core, int busy)
{
    epoll_shard *s = (epoll_shard *)core;
    int n = epoll_wait(s->epfd, s->events, EP_BATCH, busy ? 0 : -1);
    if (n < 0) {
        if (errno != EINTR)
            openwsk_log("epoll_wait: %s", strerror(errno));
        n = 0;
    }
    s->nevents = n;
    s->woken = 0;
    for (int i = 0; i < n; i++) {
        if (s->events[i].data.u64 == epoll_data(core->evfd, 0)) {
            /* Drained before wake_pending is cleared (process, under the
             * lock): a wake-up written after this read is not lost. */
            uint64_t v;
            ssize_t r = read(core->evfd, &v, sizeof v);
            (void)r;
            s->woken = 1;
        }
    }
}

static void epoll_process_locked(io_shard *core)
{
    epoll_shard *s = (epoll_shard *)core;
    if (s->woken)
        io_shard_woken_locked(core);
    for (int i = 0; i < s->nevents; i++) {
        if (s->events[i].data.u64 != epoll_data(core->evfd, 0))
            epoll_event_locked(s, s->events[i].data.u64, s->events[i].events);
    }
    s->nevents = 0;
    epoll_stale_check_locked(s);
}

static int epoll_init(io_shard *core)
{
    return epoll_set_open((epoll_shard *)core);
}

static void epoll_fini(io_shard *core)
{
    epoll_shard *s = (epoll_shard *)core;
    close(s->epfd);
    s->epfd = -1;
}

const io_shard_hooks io_backend_epoll = {
    .name = "epoll",
    .shard_size = sizeof(epoll_shard),
    .evfd_flags = EFD_NONBLOCK,
    .delivery_rounds = EP_DELIVERY_ROUNDS,
    .init = epoll_init,
    .fini = epoll_fini,
    .submit_locked = epoll_submit_locked,
    .cancel_locked = epoll_cancel_locked,
    .forget_fd_locked = epoll_forget_fd_locked,
    .wait = epoll_wait_events,
    .process_locked = epoll_process_locked,
};
