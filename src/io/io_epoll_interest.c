/*
 * io_epoll_interest.c - the epoll backend's interest set: which fds are in
 * the shard's epoll set, for which events, and what becomes of an fd's
 * registration when the fd is forgotten and closed.
 *
 * Level-triggered, persistent interest.  An fd joins the set when an op
 * first has to wait on it, for the events that op needs, and keeps them: in
 * the request/response rhythm of a socket (read, reply, read again) the next
 * read is parked before the next event, so the interest set never changes
 * and no epoll_ctl runs per operation.  An event that finds nobody waiting
 * for what it reports (readiness nobody asked for any more, or an
 * error/hang-up on an idle fd) trims the interest to what is still needed,
 * or takes the fd out of the set, so an idle readable or writable socket
 * does not wake the thread again.  The event carries the fd number and the
 * registration's tag, not a pointer, and the record is looked up under the
 * lock, so a stale event after io_engine_forget_fd is harmless.
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
 * fd and tag, and when one stale registration comes back wait after wait
 * the set is rebuilt from the records (one-off stale events are normal:
 * reported just before their socket was forgotten elsewhere).
 */
#include "io_epoll_internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "kernel/ke_internal.h"

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

/* A new epoll set holding the eventfd: its fd, or -errno. */
static int epoll_set_create(int evfd)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epoll_data(evfd, 0)};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0) {
        int rc = -errno;
        close(epfd);
        return rc;
    }
    return epfd;
}

int epoll_set_open(epoll_shard *s)
{
    pthread_once(&epoll_fork_watch_once, epoll_watch_forks);
    s->epfd = epoll_set_create(s->core.evfd);
    return s->epfd < 0 ? s->epfd : 0;
}

unsigned epoll_wanted(const io_fd_state *f)
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

int epoll_set_interest_locked(epoll_shard *s, io_fd_state *f, unsigned events)
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

int epoll_arm_locked(epoll_shard *s, io_fd_state *f)
{
    unsigned want = epoll_wanted(f);
    if (!want || (f->registered && (f->armed & want) == want))
        return 0;
    return epoll_set_interest_locked(s, f, f->armed | want);
}

void epoll_forget_registration_locked(epoll_shard *s, io_fd_state *f)
{
    /* On the fd's engine thread, the close that follows takes the fd out
     * of the set, unless a forked child holds the socket too (top
     * comment); otherwise out of the set now, while the fd names it. */
    if (f->registered &&
        (io_engine_current_shard() != &s->core || __atomic_load_n(&epoll_forked, __ATOMIC_RELAXED)))
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, f->fd, NULL);
}

/* A new set holding the records' registrations, without the old one's
 * that cannot be named (top comment).  Records come back with new tags;
 * those with nothing parked come back at their next wait. */
static void epoll_rebuild_locked(epoll_shard *s, int fd)
{
    int epfd = epoll_set_create(s->core.evfd);
    if (epfd < 0) {
        openwsk_log("epoll I/O backend: rebuilding the epoll set failed: %s", strerror(-epfd));
        return; /* tried again after as many waits */
    }
    openwsk_log("epoll I/O backend: a closed socket that lives on elsewhere (forked or dup'ed) kept "
                "reporting readiness under fd %d; epoll set rebuilt",
                fd);
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
}

void epoll_stale_check_locked(epoll_shard *s)
{
    uint64_t data = epoll_stale_wait_end(&s->stale);
    if (data != 0)
        epoll_rebuild_locked(s, epoll_data_fd(data));
}
