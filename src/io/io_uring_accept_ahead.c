/*
 * io_uring_accept_ahead.c - the io_uring backend's accepting ahead.
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

#include "io_uring_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/ke_internal.h"

/* IORING_REGISTER_SYNC_CANCEL works (6.0+): without it the multishot could
 * not be ended synchronously, and no ACCEPT is taken ahead. */
static int uring_sync_cancel;

static uint64_t ahead_user_data(const uring_ahead *a)
{
    return (uint64_t)(uintptr_t)a | 1u;
}

/* A connection nobody will take: reset, as Linux resets a listener's
 * backlog when the listener closes. */
static void ahead_drop_connection(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* The peer's address, read as soon as the connection is taken: from the
 * multishot's buffer for the connection uring_ahead_reaped saw it hold
 * (what Linux's accept wrote, even for a connection the peer has reset
 * since), else with getpeername, which for a connection the peer reset
 * answers AF_UNSPEC, length 0 (docs/decisions.md). */
static void ahead_peer(const uring_shard *s, const uring_ahead *a, int fd, struct sockaddr *addr, socklen_t *len)
{
    if (fd == a->fresh_fd && a->fresh_reap == s->reaps) {
        memcpy(addr, &a->fresh_addr, a->fresh_len < *len ? a->fresh_len : *len);
        *len = a->fresh_len;
        return;
    }
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
    a->ms_len = sizeof a->ms_addr;
    io_uring_prep_multishot_accept(sqe, a->fd, (struct sockaddr *)&a->ms_addr, &a->ms_len, a->accept_flags);
    io_uring_sqe_set_data64(sqe, ahead_user_data(a));
    a->armed = 1;
    a->cancelled = 0;
    return 1;
}

/* Shard thread: IORING_REGISTER_SYNC_CANCEL of user_data, waiting as long
 * as it takes; 0 or -errno (-ENOENT: nothing had that user_data). */
static int ahead_sync_cancel(uring_shard *s, uint64_t user_data)
{
    struct io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = user_data;
    reg.fd = -1;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    return io_uring_register_sync_cancel(&s->ring, &reg);
}

/* Shard thread: the multishot takes no more connections, and the ring has
 * let go of the listener's file when this returns. */
void uring_ahead_end(uring_shard *s, uring_ahead *a)
{
    a->end_requested = 0;
    if (!a->armed || a->cancelled)
        return;
    io_uring_submit(&s->ring); /* the multishot's SQE may still be in the SQ */
    int rc = ahead_sync_cancel(s, ahead_user_data(a));
    if (rc < 0 && rc != -ENOENT && rc != -EALREADY) {
        /* Still armed: the next end (at the latest the forget) tries again. */
        openwsk_log("io_uring: ending accept-ahead on fd %d: %s", a->fd, strerror(-rc));
        return;
    }
    a->cancelled = 1;
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

/* Resets every connection the record holds. */
static void ahead_drop_all(uring_ahead *a)
{
    while (a->count) {
        ahead_drop_connection(a->q[a->head].fd);
        a->head = (a->head + 1) % a->cap;
        a->count--;
    }
}

static void ahead_free(uring_shard *s, uring_ahead *a)
{
    /* Never freed while the kernel may still write its address buffer
     * (at engine stop a multishot can still be armed; elsewhere a record
     * is freed only once its multishot is over, and this does nothing). */
    uring_ahead_end(s, a);
    if (a->prev)
        a->prev->next = a->next;
    else
        s->aheads = a->next;
    if (a->next)
        a->next->prev = a->prev;
    ahead_drop_all(a);
    free(a->q);
    free(a);
}

/* A connection taken with the multishot's flags gets the op's own. */
static void ahead_apply_flags(int fd, int taken_with, int wanted)
{
    if ((taken_with ^ wanted) & SOCK_NONBLOCK) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, (wanted & SOCK_NONBLOCK) ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
    }
    if ((taken_with ^ wanted) & SOCK_CLOEXEC)
        (void)fcntl(fd, F_SETFD, (wanted & SOCK_CLOEXEC) ? FD_CLOEXEC : 0);
}

/* The listener died (shut down, or its fd is gone): Linux resets the
 * connections in its backlog and fails later accepts, and the connections
 * held here were still in the backlog as far as the caller knows.  Reset
 * them and stop accepting ahead; the next ACCEPT asks Linux and hears the
 * error. */
static void ahead_listener_died(uring_shard *s, uring_ahead *a)
{
    ahead_drop_all(a);
    a->off = 1;
    uring_ahead_end(s, a);
}

static int ahead_error_is_fatal(int res)
{
    return res == -EINVAL || res == -EBADF || res == -ENOTSOCK || res == -EOPNOTSUPP;
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
int uring_ahead_serve_locked(uring_shard *s, io_op *op)
{
    io_fd_state *f = io_fdmap_get(&s->core.fds, op->fd, 0);
    uring_ahead *a = f ? f->ahead : NULL;
    if (a && a->count) {
        /* A listener shut down since: what Linux would answer, not a held
         * connection (one getsockopt per connection served from here). */
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(op->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
            ahead_listener_died(s, a);
            return 0;
        }
        const struct uring_ahead_conn *c = &a->q[a->head];
        a->head = (a->head + 1) % a->cap;
        a->count--;
        if (op->addr && op->addrlen) {
            socklen_t room = *op->addrlen;
            memcpy(op->addr, &c->addr, c->len < room ? c->len : room);
            *op->addrlen = c->len;
        }
        ahead_apply_flags(c->fd, c->flags, op->accept_flags);
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
void uring_ahead_cqe_locked(uring_shard *s, uring_ahead *a, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        a->armed = 0;
    if (res < 0 && !a->armed && a->took_one && ahead_error_is_fatal(res))
        ahead_listener_died(s, a); /* its waiter, if any, gets the error below */
    io_op *w = ahead_waiter(a);
    if (res >= 0) {
        a->took_one = 1;
        if (w != NULL) {
            if (w->priv.state == U_CANCELQ)
                io_list_remove(&s->cancels, w); /* finished first: the real result */
            w->priv.state = U_RING;
            if (w->addr && w->addrlen)
                ahead_peer(s, a, res, w->addr, w->addrlen);
            ahead_apply_flags(res, a->accept_flags, w->accept_flags);
            uring_finish_locked(s, w, res);
        } else if (a->f == NULL) {
            ahead_drop_connection(res); /* the listener was forgotten meanwhile */
        } else if (a->count == a->cap && !ahead_grow(a)) {
            openwsk_log("io_uring: out of memory for a connection accepted ahead on fd %d: reset", a->fd);
            ahead_drop_connection(res);
        } else {
            struct uring_ahead_conn *c = &a->q[(a->head + a->count) % a->cap];
            c->fd = res;
            c->flags = a->accept_flags;
            c->len = sizeof c->addr;
            ahead_peer(s, a, res, (struct sockaddr *)&c->addr, &c->len);
            if (++a->count >= URING_AHEAD_MAX)
                uring_ahead_end(s, a); /* the rest wait in Linux's backlog */
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

/* Ends accepting ahead: at once on the shard thread, else by the shard
 * thread's next round. */
void uring_ahead_end_from(uring_shard *s, uring_ahead *a, int *wake)
{
    if (!a->armed || a->cancelled)
        return;
    if (io_engine_current_shard() == &s->core) {
        uring_ahead_end(s, a);
        return;
    }
    a->end_requested = 1;
    s->ahead_end_pending = 1;
    *wake = 1;
}


void uring_ahead_end_requested(uring_shard *s)
{
    s->ahead_end_pending = 0;
    for (uring_ahead *a = s->aheads; a; a = a->next)
        if (a->end_requested)
            uring_ahead_end(s, a);
}

/* The listener's fd is forgotten (its ops have all completed): the record
 * lets go of it, resets what it holds, and lives on until the multishot's
 * last CQE if that is still to come. */
void uring_ahead_forget_locked(uring_shard *s, io_fd_state *f, int *wake)
{
    uring_ahead *a = f->ahead;
    f->ahead = NULL;
    a->f = NULL;
    if (a->armed && !a->cancelled && io_engine_current_shard() != &s->core)
        openwsk_log("io_engine_forget_fd(%d) off its engine thread while accepting ahead: "
                    "the port stays bound until that thread ends it",
                    a->fd);
    uring_ahead_end_from(s, a, wake);
    if (a->armed)
        ahead_drop_all(a);
    else
        ahead_free(s, a);
}

/* Shard thread, after a reap and before this thread enters io_uring
 * again (the shard lock held: other threads free records): the multishot
 * writes each connection's address into the one buffer, then posts its
 * CQE, and with IORING_SETUP_DEFER_TASKRUN it runs only inside this
 * thread's io_uring_enter.  So when the reap emptied the CQ and nothing
 * overflowed, each multishot's last connection reaped is the last it
 * wrote the buffer for: keep that address for it (the others of the reap
 * are read with getpeername).  Measured: getpeername was 2 %
 * of the server's CPU per connection on tcp_connect 16 at a time. */
void uring_ahead_reaped(uring_shard *s)
{
    s->reaps++;
    unsigned dropped = s->ring.cq.koverflow ? IO_URING_READ_ONCE(*s->ring.cq.koverflow) : 0;
    int whole = (s->ring.flags & IORING_SETUP_DEFER_TASKRUN) && io_uring_cq_ready(&s->ring) == 0 &&
                !io_uring_cq_has_overflow(&s->ring) && dropped == s->seen_overflow;
    s->seen_overflow = dropped;
    if (!whole || s->aheads == NULL)
        return;
    for (unsigned i = s->ncqes; i-- > 0;) {
        if (!uring_ahead_is_user_data(s->cqes[i].user_data) || s->cqes[i].res < 0)
            continue;
        uring_ahead *a = (uring_ahead *)(uintptr_t)(s->cqes[i].user_data & ~(uint64_t)1);
        if (a->fresh_reap == s->reaps)
            continue; /* an earlier connection of the same multishot */
        a->fresh_reap = s->reaps;
        a->fresh_fd = s->cqes[i].res;
        a->fresh_len = a->ms_len <= sizeof a->fresh_addr ? a->ms_len : (socklen_t)sizeof a->fresh_addr;
        memcpy(&a->fresh_addr, &a->ms_addr, a->fresh_len);
        a->ms_len = sizeof a->ms_addr; /* the capacity the kernel reads next */
    }
}

void uring_ahead_free_all(uring_shard *s)
{
    while (s->aheads) {
        if (s->aheads->f)
            s->aheads->f->ahead = NULL;
        ahead_free(s, s->aheads);
    }
}

/* Cancelling a user_data nobody uses answers -ENOENT where synchronous
 * cancellation exists (6.0+). */
void uring_ahead_probe(uring_shard *s)
{
    __atomic_store_n(&uring_sync_cancel, ahead_sync_cancel(s, URING_TAG_CANCEL) == -ENOENT, __ATOMIC_RELAXED);
}

#else /* !OPENWSK_HAVE_LIBURING */

typedef int io_uring_accept_ahead_unavailable;

#endif
