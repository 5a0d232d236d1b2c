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
 * Triggering: level-triggered, persistent interest.  An fd joins the set
 * when an op first has to wait on it, for the events that op needs, and
 * keeps them: in the request/response rhythm of a socket (read, reply,
 * read again) the next read is parked before the next event, so the
 * interest set never changes and no epoll_ctl runs per operation.  An event
 * that finds nobody waiting for what it reports (readiness nobody asked for
 * any more, or an error/hang-up on an idle fd) trims the interest to what is
 * still needed, or takes the fd out of the set, so an idle readable or
 * writable socket does not wake the thread again.  The event carries the fd
 * number and the registration's tag, not a pointer, and the record is
 * looked up under the lock, so a stale event after io_engine_forget_fd is
 * harmless.
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
 *
 * Forgetting an fd on its own engine thread (a completion routine closing
 * its socket) leaves the fd's registration to the close that follows
 * (io_engine_forget_fd): closing a socket's last descriptor takes it out
 * of every epoll set, so no epoll_ctl runs for it (as in a native epoll
 * server; tcp_connect: 2 -> 1 epoll_ctl per connection).  That thread
 * cannot wait for events between the forget and the close.  Elsewhere,
 * the registration is taken out at forget, while the fd still names the
 * socket: the engine thread could otherwise report readiness for an fd
 * without a record until the close runs, and a syscall on that fd from
 * it would race the close.
 *
 * A socket can outlive its close: a forked child, a descriptor passed on
 * or dup'ed.  Its registration then stays, cannot be named by fd any more
 * (the number may name another socket by then) and, level-triggered,
 * would wake the thread for ever.  After a fork (pthread_atfork) every
 * forget takes the registration out.  For the rest, every registration
 * carries a tag in its events, an event is stale when no record has its
 * fd and tag, and when stale events come in wait after wait the set is
 * rebuilt from the records.
 */
#include "io_shard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kernel/ke_internal.h"
#include "kernel/perturb.h"

enum { EP_PARKED = IO_ST_BACKEND };

#define EP_BATCH 64
#define EP_DELIVERY_ROUNDS 4
#define EP_STALE_REBUILD 8 /* waits in a row reporting a stale registration (top comment) */

typedef struct epoll_shard {
    io_shard core;
    int epfd;
    int nevents, woken; /* what the last epoll_wait collected */
    unsigned next_tag;  /* the next registration's tag (never 0: the eventfd's) */
    int stale_waits;    /* waits in a row that reported a stale registration ... */
    int stale_fd;       /* ... the last one's number (-1: none in this wait) */
    struct epoll_event events[EP_BATCH];
} epoll_shard;

/* An event's data: the fd in the low half, its registration's tag above. */
static inline uint64_t epoll_data(int fd, unsigned tag)
{
    return (uint64_t)tag << 32 | (uint32_t)fd;
}

static inline int epoll_data_fd(uint64_t data)
{
    return (int)(uint32_t)data;
}

static inline unsigned epoll_data_tag(uint64_t data)
{
    return (unsigned)(data >> 32);
}

/* Set once the process forks: a child may hold any socket past our close. */
static int epoll_forked;
static pthread_once_t epoll_fork_watch_once = PTHREAD_ONCE_INIT;

static void epoll_note_fork(void)
{
    __atomic_store_n(&epoll_forked, 1, __ATOMIC_RELAXED);
}

static void epoll_watch_forks(void)
{
    pthread_atfork(epoll_note_fork, NULL, NULL);
}

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

/* The fd's record: every submit and event looks one up, so the common
 * case (the record exists) is answered here without a call.  io_fdmap_get
 * creates records and handles everything else. */
static inline io_fd_state *epoll_fd_record(io_shard *core, int fd, int create)
{
    const io_fdmap *m = &core->fds;
    if (fd >= 0 && m->stride == 1 && (size_t)fd < m->count && m->slots[fd] != NULL)
        return m->slots[fd];
    return io_fdmap_get(&core->fds, fd, create);
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

/* The events the fd's parked ops need (0: none). */
static unsigned epoll_wanted(const io_fd_state *f)
{
    unsigned want = 0;
    if (f->rq.head)
        want |= EPOLLIN;
    if (f->wq.head)
        want |= EPOLLOUT;
    for (io_op *op = f->pq.head; op; op = op->priv.next)
        want |= (unsigned)op->poll_events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP);
    if (!want && f->pq.head)
        want = EPOLLERR; /* a poll for POLLERR/POLLHUP only: those are always reported */
    return want;
}

/* Sets the fd's interest set to `events` (0: out of the set).  0 or -errno. */
static int epoll_set_interest_locked(epoll_shard *s, io_fd_state *f, unsigned events)
{
    int rc = 0;
    if (!events) {
        if (f->registered && epoll_ctl(s->epfd, EPOLL_CTL_DEL, f->fd, NULL) < 0 && errno != ENOENT &&
            errno != EBADF)
            rc = -errno;
        f->registered = 0;
        f->armed = 0;
        return rc;
    }
    if (!f->registered) {
        if (++s->next_tag == 0)
            s->next_tag = 1;
        f->tag = s->next_tag;
    }
    struct epoll_event ev = {.events = events, .data.u64 = epoll_data(f->fd, f->tag)};
    if (f->registered) {
        rc = epoll_ctl(s->epfd, EPOLL_CTL_MOD, f->fd, &ev);
        if (rc < 0 && errno == ENOENT) /* the fd was closed and reused without forget */
            rc = epoll_ctl(s->epfd, EPOLL_CTL_ADD, f->fd, &ev);
    } else {
        rc = epoll_ctl(s->epfd, EPOLL_CTL_ADD, f->fd, &ev);
        if (rc < 0 && errno == EEXIST) /* left by a forget whose close has not run: ours now */
            rc = epoll_ctl(s->epfd, EPOLL_CTL_MOD, f->fd, &ev);
    }
    if (rc < 0)
        return -errno;
    f->registered = 1;
    f->armed = events;
    return 0;
}

/* Makes sure the interest set covers what the parked ops need; never
 * narrows it (that is left to an event nobody wanted).  0 or -errno. */
static int epoll_arm_locked(epoll_shard *s, io_fd_state *f)
{
    unsigned want = epoll_wanted(f);
    if (!want || (f->registered && (f->armed & want) == want))
        return 0;
    return epoll_set_interest_locked(s, f, f->armed | want);
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

static void epoll_fail_all_locked(epoll_shard *s, io_fd_state *f, long result)
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
    /* On the fd's engine thread, the close that follows takes the fd out
     * of the set, unless a forked child holds the socket too (top
     * comment); otherwise out of the set now, while the fd names it. */
    if (f->registered && (io_engine_current_shard() != core || __atomic_load_n(&epoll_forked, __ATOMIC_RELAXED)))
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, f->fd, NULL);
    return 0;
}

/* A new set holding the records' registrations, for the old one's that
 * cannot be named (top comment).  Records come back with new tags; those
 * with nothing parked come back at their next wait. */
static void epoll_rebuild_locked(epoll_shard *s)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epoll_data(s->core.evfd, 0)};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, s->core.evfd, &ev) < 0) {
        openwsk_log("epoll I/O backend: rebuilding the epoll set failed: %s", strerror(errno));
        if (epfd >= 0)
            close(epfd);
        s->stale_waits = 0; /* tried again after as many waits */
        return;
    }
    openwsk_log("epoll I/O backend: fd %d's socket outlived its close (forked or dup'ed) and kept reporting "
                "readiness; epoll set rebuilt",
                s->stale_fd);
    close(s->epfd);
    s->epfd = epfd;
    const io_fdmap *m = &s->core.fds;
    for (size_t i = 0; i < m->count; i++) {
        io_fd_state *f = m->slots[i];
        if (f == NULL || !f->registered)
            continue;
        f->registered = 0;
        f->armed = 0;
        int rc = epoll_arm_locked(s, f);
        if (rc < 0)
            epoll_fail_all_locked(s, f, rc);
    }
    s->stale_waits = 0;
}

/* An event of a registration no record owns: one reported before its
 * socket was forgotten and closed, or one that outlived the close (no
 * syscall on fd here: it may name another socket, or be closing). */
static void epoll_stale_event_locked(epoll_shard *s, int fd)
{
    s->stale_fd = fd;
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
    int fd = epoll_data_fd(data);
    io_fd_state *f = epoll_fd_record(&s->core, fd, 0);
    if (!f || !f->registered || f->tag != epoll_data_tag(data)) {
        epoll_stale_event_locked(s, fd);
        return;
    }
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
    s->stale_fd = -1;
    for (int i = 0; i < s->nevents; i++) {
        if (s->events[i].data.u64 != epoll_data(core->evfd, 0))
            epoll_event_locked(s, s->events[i].data.u64, s->events[i].events);
    }
    s->nevents = 0;
    /* A stale event now and then is normal (reported before its socket
     * was forgotten and closed elsewhere); in wait after wait, it is a
     * registration that will not go away. */
    if (s->stale_fd < 0)
        s->stale_waits = 0;
    else if (++s->stale_waits >= EP_STALE_REBUILD)
        epoll_rebuild_locked(s);
}

static int epoll_init(io_shard *core)
{
    epoll_shard *s = (epoll_shard *)core;
    pthread_once(&epoll_fork_watch_once, epoll_watch_forks);
    s->stale_fd = -1;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epoll_data(core->evfd, 0)};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, core->evfd, &ev) < 0) {
        int rc = -errno;
        close(s->epfd);
        s->epfd = -1;
        return rc;
    }
    return 0;
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
