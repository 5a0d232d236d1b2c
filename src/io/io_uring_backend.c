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
 * Accepting ahead (io_op.accept_ahead, an accept-event feeder): the first
 * such ACCEPT on a listener arms one multishot accept, whose user_data is
 * the listener's uring_ahead record with the low bit set.  Each connection
 * it takes completes the waiting ACCEPT, or waits in the record (with the
 * peer address read at once) for the next ACCEPT on the fd.  Measured,
 * tcp_connect 16 at a time: 4 -> 3 SQEs and 2.9 -> 2.0 poll arms per
 * connection, server CPU per connection -9 %.  The ring holds the
 * listener's file while the multishot is armed, so it is ended with a
 * synchronous cancel (IORING_REGISTER_SYNC_CANCEL, then running the
 * deferred completion work that drops the file) on the shard thread: when
 * a waiting ACCEPT is cancelled, at io_engine_accept_ahead_end, when the
 * record is full, and at forget.  The record outlives a forget until the
 * multishot's last CQE (connections still arriving then are reset).
 */
#ifdef OPENWSK_HAVE_LIBURING

#include "io_shard.h"

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

enum { U_INBOX = IO_ST_BACKEND, U_FDQ, U_RING, U_CANCELQ, U_DEFERRED };
enum { PH_MAIN = 0, PH_POLL, PH_CONNECT_WAIT, PH_AHEAD_WAIT };

#define URING_ENTRIES 256
#define URING_BATCH 64
#define URING_TAG_WAKE 1ull   /* user_data of the eventfd read */
#define URING_TAG_CANCEL 2ull /* user_data of ASYNC_CANCEL requests */

#define URING_AHEAD_MAX 16 /* connections a listener may have taken ahead */

typedef struct uring_ahead uring_ahead;

typedef struct uring_shard {
    io_shard core;
    struct io_uring ring;
    uint64_t evbuf;
    unsigned char wake_armed;
    io_list inbox;    /* submitted, not yet admitted (U_INBOX) */
    io_list cancels;  /* in the ring, ASYNC_CANCEL to be issued (U_CANCELQ) */
    io_list deferred; /* waiting for a free SQE (U_DEFERRED) */
    uring_ahead *aheads;     /* every accept-ahead record of the shard */
    unsigned char ahead_end_pending; /* some record has end_requested */
    unsigned ncqes;          /* what the last reap collected */
    struct {
        uint64_t user_data;
        int res;
        unsigned flags;
    } cqes[URING_BATCH];
} uring_shard;

/* A listener's accepting ahead (shard lock; the ring: shard thread only). */
struct uring_ahead {
    uring_ahead *next, *prev;  /* uring_shard.aheads */
    io_fd_state *f;            /* NULL once the fd was forgotten */
    int fd;
    int accept_flags;
    unsigned char armed;       /* the multishot's last CQE (no F_MORE) is still to come */
    unsigned char cancelled;   /* ... and it was cancelled */
    unsigned char off;         /* the kernel refused the multishot: single accepts */
    unsigned char took_one;    /* the multishot has accepted a connection */
    unsigned char end_requested; /* by another thread: the shard thread ends it */
    /* Connections taken, oldest at head: a ring of cap entries.  Ending
     * the multishot at URING_AHEAD_MAX can still leave CQEs to come (taken
     * before the cancel), so the ring grows rather than drop them. */
    unsigned head, count, cap;
    struct uring_ahead_conn {
        int fd;
        socklen_t len;
        struct sockaddr_storage addr;
    } *q;
};

/* OPENWSK_IO_URING_COMPAT=1 (a debugging knob, read at start): behave the
 * way older kernels make us behave - wait with POLL_ADD before every
 * recv/send/accept and start connects with connect(2) then wait for
 * POLLOUT - so that those paths can be tested on any kernel.  Sockets must
 * be non-blocking then. */
static int uring_compat;
/* IORING_REGISTER_SYNC_CANCEL works (6.0+): without it the multishot could
 * not be ended synchronously, and no ACCEPT is taken ahead. */
static int uring_sync_cancel;

static int uring_pending_locked(io_shard *core)
{
    uring_shard *s = (uring_shard *)core;
    return s->inbox.head || s->cancels.head || s->deferred.head || !s->wake_armed || s->ahead_end_pending;
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

static void uring_finish_locked(uring_shard *s, io_op *op, long result);
static void uring_issue_locked(uring_shard *s, io_op *op);

/* ---- accepting ahead ---- */

static uint64_t ahead_user_data(const uring_ahead *a)
{
    return (uint64_t)(uintptr_t)a | 1u;
}

static int ahead_is_user_data(uint64_t user_data)
{
    return (user_data & 1u) && user_data > URING_TAG_CANCEL;
}

/* A connection nobody will take: reset, as Linux resets a listener's
 * backlog when the listener closes. */
static void ahead_drop_connection(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* The peer's address, read as soon as the connection is taken.  A peer
 * that reset it already took its address along: AF_UNSPEC, length 0. */
static void ahead_peer(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (getpeername(fd, addr, len) != 0) {
        if (*len >= sizeof(sa_family_t))
            addr->sa_family = AF_UNSPEC;
        *len = 0;
    }
}

/* Shard thread: arms the multishot; 0 if no SQE is free now. */
static int ahead_arm(uring_shard *s, uring_ahead *a)
{
    struct io_uring_sqe *sqe = uring_get_sqe(s);
    if (!sqe)
        return 0;
    io_uring_prep_multishot_accept(sqe, a->fd, NULL, NULL, a->accept_flags);
    io_uring_sqe_set_data64(sqe, ahead_user_data(a));
    a->armed = 1;
    a->cancelled = 0;
    return 1;
}

/* Shard thread: the multishot takes no more connections, and the ring has
 * let go of the listener's file when this returns. */
static void ahead_end(uring_shard *s, uring_ahead *a)
{
    a->end_requested = 0;
    if (!a->armed || a->cancelled)
        return;
    a->cancelled = 1;
    io_uring_submit(&s->ring); /* the multishot's SQE may still be in the SQ */
    struct io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = ahead_user_data(a);
    reg.fd = -1;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    int rc = io_uring_register_sync_cancel(&s->ring, &reg);
    if (rc < 0 && rc != -ENOENT && rc != -EALREADY)
        openwsk_log("io_uring: ending accept-ahead on fd %d: %s", a->fd, strerror(-rc));
    /* The cancelled request completes in the ring's deferred work, which
     * also drops its file: run that now (its CQEs are reaped next turn). */
    (void)io_uring_get_events(&s->ring);
}

/* Doubles the ring of connections taken; 0 if out of memory. */
static int ahead_grow(uring_ahead *a)
{
    struct uring_ahead_conn *q = malloc(2 * a->cap * sizeof *q);
    if (q == NULL)
        return 0;
    for (unsigned i = 0; i < a->count; i++)
        q[i] = a->q[(a->head + i) % a->cap];
    free(a->q);
    a->q = q;
    a->head = 0;
    a->cap *= 2;
    return 1;
}

static void ahead_free(uring_shard *s, uring_ahead *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        s->aheads = a->next;
    if (a->next)
        a->next->prev = a->prev;
    while (a->count) {
        ahead_drop_connection(a->q[a->head].fd);
        a->head = (a->head + 1) % a->cap;
        a->count--;
    }
    free(a->q);
    free(a);
}

/* The ACCEPT waiting for the multishot (the fd's read owner), or NULL. */
static io_op *ahead_waiter(const uring_ahead *a)
{
    io_op *w = a->f ? a->f->rowner : NULL;
    return w && w->priv.phase == PH_AHEAD_WAIT ? w : NULL;
}

/* Shard thread, op an ACCEPT about to be issued: serves it a connection
 * taken ahead, or has it wait for the multishot.  0: the op goes the
 * single-shot way. */
static int ahead_serve_locked(uring_shard *s, io_op *op)
{
    io_fd_state *f = io_fdmap_get(&s->core.fds, op->fd, 0);
    uring_ahead *a = f ? f->ahead : NULL;
    if (a && a->count) {
        const struct uring_ahead_conn *c = &a->q[a->head];
        a->head = (a->head + 1) % a->cap;
        a->count--;
        if (op->addr && op->addrlen) {
            socklen_t room = *op->addrlen;
            memcpy(op->addr, &c->addr, c->len < room ? c->len : room);
            *op->addrlen = c->len;
        }
        uring_finish_locked(s, op, c->fd);
        return 1;
    }
    if (a == NULL || !a->armed) {
        if (!op->accept_ahead || !__atomic_load_n(&uring_sync_cancel, __ATOMIC_RELAXED) || uring_compat || f == NULL ||
            (a && a->off))
            return 0;
        if (a == NULL) {
            a = calloc(1, sizeof *a);
            if (a != NULL)
                a->q = malloc(URING_AHEAD_MAX * sizeof *a->q);
            if (a == NULL || a->q == NULL) {
                free(a);
                return 0; /* single accepts, as before */
            }
            a->cap = URING_AHEAD_MAX;
            a->f = f;
            a->fd = op->fd;
            a->next = s->aheads;
            if (s->aheads)
                s->aheads->prev = a;
            s->aheads = a;
            f->ahead = a;
        }
        a->accept_flags = op->accept_flags;
        if (!ahead_arm(s, a))
            return 0; /* the single-shot way finds no SQE either: deferred */
    }
    /* Armed (even while being ended): the next connection, or the end's
     * last CQE, moves the op on. */
    op->priv.phase = PH_AHEAD_WAIT;
    op->priv.state = U_RING;
    return 1;
}

/* Shard thread: a CQE of a listener's multishot. */
static void ahead_cqe_locked(uring_shard *s, uring_ahead *a, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        a->armed = 0;
    io_op *w = ahead_waiter(a);
    if (res >= 0) {
        a->took_one = 1;
        if (w != NULL) {
            if (w->priv.state == U_CANCELQ)
                io_list_remove(&s->cancels, w); /* finished first: the real result */
            w->priv.state = U_RING;
            if (w->addr && w->addrlen)
                ahead_peer(res, w->addr, w->addrlen);
            uring_finish_locked(s, w, res);
        } else if (a->f == NULL) {
            ahead_drop_connection(res); /* the listener was forgotten meanwhile */
        } else if (a->count == a->cap && !ahead_grow(a)) {
            openwsk_log("io_uring: out of memory for a connection accepted ahead on fd %d: reset", a->fd);
            ahead_drop_connection(res);
        } else {
            struct uring_ahead_conn *c = &a->q[(a->head + a->count) % a->cap];
            c->fd = res;
            c->len = sizeof c->addr;
            ahead_peer(res, (struct sockaddr *)&c->addr, &c->len);
            if (++a->count >= URING_AHEAD_MAX)
                ahead_end(s, a); /* the rest wait in Linux's backlog */
        }
    } else if (w != NULL && w->priv.state != U_CANCELQ && !a->armed) {
        if ((res == -EINVAL && !a->took_one) || res == -EAGAIN) {
            /* No multishot accept here (or a kernel that honours
             * O_NONBLOCK): this listener accepts one at a time. */
            a->off = 1;
            w->priv.phase = PH_MAIN;
            uring_issue_locked(s, w);
        } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR) {
            uring_finish_locked(s, w, res);
        } /* else: ended by us, or a connection died in the backlog: go on */
    }
    if (a->f == NULL && !a->armed) {
        ahead_free(s, a);
        return;
    }
    w = ahead_waiter(a);
    if (w != NULL && w->priv.state != U_CANCELQ && !a->armed) {
        /* The multishot ended with an op waiting: arm it again for an op
         * that accepts ahead, else the op accepts alone. */
        w->priv.phase = PH_MAIN;
        if (!w->accept_ahead || a->off || !ahead_arm(s, a)) {
            uring_issue_locked(s, w);
            return;
        }
        w->priv.phase = PH_AHEAD_WAIT;
    }
}

static void uring_issue_locked(uring_shard *s, io_op *op)
{
    if (op->kind == IO_OP_ACCEPT && op->priv.phase == PH_MAIN && ahead_serve_locked(s, op))
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
static void uring_finish_locked(uring_shard *s, io_op *op, long result)
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
    if (ahead_is_user_data(user_data)) {
        ahead_cqe_locked(s, (uring_ahead *)(uintptr_t)(user_data & ~(uint64_t)1), res, flags);
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

    if (s->ahead_end_pending) {
        s->ahead_end_pending = 0;
        for (uring_ahead *a = s->aheads; a; a = a->next)
            if (a->end_requested)
                ahead_end(s, a);
    }

    while ((op = s->cancels.head)) {
        if (op->priv.phase == PH_AHEAD_WAIT) {
            /* Not in the ring itself: end the multishot it waits for
             * (connections it took meanwhile stay for later ACCEPTs). */
            io_list_remove(&s->cancels, op);
            op->priv.state = U_RING;
            io_fd_state *f = io_fdmap_get(&s->core.fds, op->fd, 0);
            if (f != NULL && f->ahead != NULL)
                ahead_end(s, f->ahead);
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
    /* Cancelling a user_data nobody uses: -ENOENT where synchronous
     * cancellation exists. */
    struct io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = URING_TAG_CANCEL;
    reg.fd = -1;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    __atomic_store_n(&uring_sync_cancel, io_uring_register_sync_cancel(&s->ring, &reg) == -ENOENT, __ATOMIC_RELAXED);
    uring_arm_wake_locked(s); /* nobody else can see the shard yet */
    return 0;
}

static void uring_fini(io_shard *core)
{
    uring_shard *s = (uring_shard *)core;
    while (s->aheads) {
        if (s->aheads->f)
            s->aheads->f->ahead = NULL;
        ahead_free(s, s->aheads);
    }
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

/* Ends accepting ahead: at once on the shard thread, else by the shard
 * thread's next round. */
static void ahead_end_from(uring_shard *s, uring_ahead *a, int *wake)
{
    if (!a->armed || a->cancelled)
        return;
    if (io_engine_current_shard() == &s->core) {
        ahead_end(s, a);
        return;
    }
    a->end_requested = 1;
    s->ahead_end_pending = 1;
    *wake = 1;
}

static int uring_forget_fd_locked(io_shard *core, io_fd_state *f, int *wake)
{
    uring_shard *s = (uring_shard *)core;
    if (f->rowner || f->wowner || f->rq.head || f->wq.head) {
        openwsk_log("io_engine_forget_fd(%d) while operations are pending: record kept", f->fd);
        return 1;
    }
    uring_ahead *a = f->ahead;
    if (a != NULL) {
        f->ahead = NULL;
        a->f = NULL;
        if (a->armed && !a->cancelled && io_engine_current_shard() != core)
            openwsk_log("io_engine_forget_fd(%d) off its engine thread while accepting ahead: "
                        "the port stays bound until that thread ends it",
                        a->fd);
        ahead_end_from(s, a, wake);
        if (a->armed) {
            /* Freed at the multishot's last CQE; reset what it holds now. */
            while (a->count) {
                ahead_drop_connection(a->q[a->head].fd);
                a->head = (a->head + 1) % a->cap;
                a->count--;
            }
        } else {
            ahead_free(s, a);
        }
    }
    return 0;
}

static void uring_accept_ahead_end_locked(io_shard *core, io_fd_state *f, int *wake)
{
    if (f->ahead != NULL)
        ahead_end_from((uring_shard *)core, f->ahead, wake);
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
