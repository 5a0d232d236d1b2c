/*
 * io_engine.h - openwsk's I/O engine: the one interface the WSK provider
 * uses for every asynchronous socket operation.
 *
 Two backends sit behind it (one file each, like Redis's ae), on one shard
 * core (io_shard.c: engine threads, wake-ups, delivery):
 *   io_uring  (io_uring_backend.c) - the default;
 *   epoll     (io_epoll_backend.c) - the fallback when io_uring is missing
 *                                    (io_uring_queue_init fails, e.g. in a
 *                                    container) or not compiled in.
 * Environment, read by the first io_engine_start():
 *   OPENWSK_IO_BACKEND   unset/""/"auto": io_uring, falling back to epoll
 *                        (with a log line); "epoll"; "io_uring": io_uring or
 *                        io_engine_start() fails loudly.
 *   OPENWSK_IO_THREADS   engine thread count when start is passed 0.
 *   OPENWSK_IO_URING_COMPAT=1  debugging: io_uring takes the paths older
 *                        kernels need (poll first, connect(2) + POLLOUT).
 *   OPENWSK_PERTURB=<seed>  debugging: schedule perturbation (decimal seed;
 *                        unset or empty: off; kernel/perturb.h).  The engine
 *                        then sleeps or yields a few microseconds before
 *                        some complete() calls, holds some decided
 *                        completions back for a round (so completions of
 *                        different fds, or of the two directions of one fd,
 *                        arrive in another order than they became ready),
 *                        and flips a coin between trying at submit time and
 *                        waiting for readiness (epoll), or between the
 *                        operation and poll-then-operation (io_uring).  It
 *                        never reorders one direction of one fd.  Decisions
 *                        come from per-thread generators seeded from (seed,
 *                        thread index), so a seed fixes each thread's
 *                        decisions, not the OS's thread interleaving: a
 *                        failing seed reproduces often, not always.
 *
 * Engine threads are openwsk's "DISPATCH_LEVEL" context.  Each runs one
 * shard: every operation on a given fd goes to the fd's shard, so the
 * completions of one socket run on one thread, in completion order (under
 * OPENWSK_PERTURB, in completion order per direction only).  An fd gets its
 * shard at its first operation and keeps it until io_engine_forget_fd: a
 * socket returned by an ACCEPT gets the shard that accepted it (its
 * listener's) unless that shard serves clearly more fds than the least
 * loaded one; any other fd gets the least loaded shard.
 *
 * Contract, for every operation handed to io_submit()/io_engine_post():
 *  - complete() runs exactly once, on an engine thread, with that thread's
 *    simulated IRQL raised to DISPATCH_LEVEL, and with no engine lock held.
 *    It may call io_submit, io_cancel and io_engine_post (re-entrancy), and
 *    may free or reuse the memory holding the op (re-submitting the same op
 *    from its complete() is fine): the engine never touches the op after
 *    complete() was entered.
 *  - The op's memory, and the msghdr, iovecs, buffers and addresses it
 *    points at, belong to the engine from io_submit() until complete() is
 *    entered.  The engine never allocates per operation (only one record
 *    per fd, see io_engine_forget_fd).
 *  - SENDMSG completes only when the WHOLE message was handed to the kernel
 *    (partial sends of stream sockets are continued inside the engine; a
 *    datagram send is all-or-nothing anyway).  More than IO_MAX_IOV iovecs
 *    go in pieces, which only a stream can take: a datagram sender passes
 *    at most IO_MAX_IOV (wsk_io.c copies longer ones).  While it runs, one iovec of
 *    the caller's array may be temporarily advanced; it is restored before
 *    complete(), so the msghdr and iovecs read back unchanged.
 *  - RECVMSG completes with whatever is available, like recvmsg(2):
 *    MSG_WAITALL semantics are the caller's job.
 *  - Operations of one direction on one socket are served in submission
 *    order: RECVMSG and ACCEPT (reads), SENDMSG and CONNECT (writes).  Later
 *    ones wait behind the first, so concurrent sends on a stream socket
 *    never interleave their bytes.  POLL ops are not ordered.
 *  - Sockets should be non-blocking (SOCK_NONBLOCK).  The epoll backend
 *    issues accept4/connect directly and would block on a blocking socket,
 *    so it switches such an fd to O_NONBLOCK (with a log line) the first
 *    time it sees an ACCEPT or CONNECT on it.  io_uring does not care.
 *  - MSG_DONTWAIT in msg_flags is harmless: the op still waits.
 *
 * This is an internal header (-Isrc): it includes glibc's socket headers and
 * must not be combined with the Windows ws2def.h / wsk.h in one translation
 * unit.
 */
#ifndef OPENWSK_IO_ENGINE_H
#define OPENWSK_IO_ENGINE_H

#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

typedef struct io_op io_op;

/* result >= 0: bytes transferred, the accepted fd, 0 for a connect or a
 * posted call, or the revents of a poll.  result < 0: -errno; -ECANCELED if
 * the operation was cancelled. */
typedef void (*io_complete_fn)(io_op *op, long result);

typedef enum io_op_kind {
    IO_OP_RECVMSG, /* recvmsg(fd, msg, msg_flags): completes with what is available */
    IO_OP_SENDMSG, /* sendmsg(fd, msg, msg_flags | MSG_NOSIGNAL): completes when ALL was sent */
    IO_OP_ACCEPT,  /* accept4(fd, addr, addrlen, accept_flags): result = the new fd */
    IO_OP_CONNECT, /* connect(fd, addr, addr_len_in): result = 0 or -errno */
    IO_OP_POLL,    /* one-shot poll for poll_events: result = revents */
    IO_OP_CALL     /* no I/O: complete(op, 0) on an engine thread, like a DPC */
} io_op_kind;

/* Engine-private per-op state.  Callers zero the whole op before its first
 * use (io_cancel relies on it to answer -ENOENT) and never touch priv. */
typedef struct io_op_private {
    struct io_op *next, *prev; /* links of whichever single list the op is on */
    void *shard;               /* set by io_submit/io_engine_post */
    unsigned char state;       /* backend state, under the shard lock */
    unsigned char phase;       /* backend phase (poll fallback, connect wait...) */
    unsigned char flags;       /* IO_PF_* */
    long result;               /* decided result while on the ready list */
    /* SENDMSG continuation: after a partial send the remaining bytes go
     * out through `cont`, whose msg_iov points into the caller's iovec
     * array at index `iov_index`; that one caller iovec is temporarily
     * advanced and restored from `saved_iov` before complete() runs, so the
     * caller's msghdr and iovecs read back unchanged. */
    size_t total;
    size_t iov_index;
    struct iovec saved_iov;
    struct msghdr cont;
} io_op_private;

struct io_op {
    io_op_kind kind;
    int fd;                 /* ignored by IO_OP_CALL */
    io_complete_fn complete;
    void *context;          /* the caller's; the engine never touches it */

    /* RECVMSG / SENDMSG.  msg_flags are passed to the syscall, except that
     * MSG_WAITALL is stripped for RECVMSG (waiting for all is the caller's
     * job) and MSG_NOSIGNAL is always added for SENDMSG.  recvmsg's outputs
     * (msg_flags such as MSG_TRUNC, msg_namelen, msg_controllen) land in
     * *msg as usual. */
    struct msghdr *msg;
    int msg_flags;

    /* ACCEPT: addr (may be NULL) receives the peer address, *addrlen is the
     * usual value-result length; if addr_len_in is non-zero the engine
     * stores it into *addrlen at submit time.
     * CONNECT: addr / addr_len_in is the destination. */
    struct sockaddr *addr;
    socklen_t *addrlen;
    socklen_t addr_len_in;
    int accept_flags;       /* ACCEPT: SOCK_NONBLOCK | SOCK_CLOEXEC */
    /* ACCEPT: non-zero when the caller keeps an ACCEPT pending on fd as
     * long as it wants connections (an accept-event feeder), so that the
     * backend may accept ahead of the next one (io_uring: one multishot
     * accept instead of an accept and a poll per connection).  Connections
     * taken ahead wait, up to a small bound, for the next ACCEPT of any
     * kind on fd, in arrival order, with that op's accept_flags; the op's
     * addr receives the peer's address as usual.  Accepting ahead ends
     * when such an op is cancelled, when the bound is reached, when the
     * listener dies (shut down: the held connections are reset, as Linux
     * resets a listener's backlog, and the next ACCEPT gets Linux's
     * error), and at io_engine_accept_ahead_end and io_engine_forget_fd;
     * connections still waiting at forget are reset and closed, like a
     * Linux listener's backlog at close.  The end is immediate on fd's
     * engine thread; from another thread it is only requested, so a
     * caller ends it from the complete() of its last accept_ahead ACCEPT
     * (or cancels one that waits) before it forgets the fd.  The epoll
     * backend ignores the field. */
    unsigned char accept_ahead;

    short poll_events;      /* POLL: POLLIN / POLLOUT / POLLPRI...; POLLERR and POLLHUP are always reported */

    /* Output, valid when complete() runs: SENDMSG bytes handed to the
     * kernel (== the result on success; the progress made before an error
     * or a cancellation otherwise). */
    size_t transferred;

    io_op_private priv;     /* engine-private */
};

/* Starts the engine (refcounted: every successful start needs one stop).
 * threads == 0 picks the default: $OPENWSK_IO_THREADS, else the number of
 * online CPUs capped at 4.  The first start fixes backend and thread count.
 * Returns 0 or -errno (-EINVAL for an unknown OPENWSK_IO_BACKEND, the
 * io_uring error when io_uring was forced but is unavailable). */
int io_engine_start(unsigned threads);

/* Drops one reference; the last one stops and joins the engine threads and
 * releases all per-fd state.  Every submitted op must have completed.  Must
 * not be called from an engine thread. */
void io_engine_stop(void);

/* "io_uring" or "epoll" while running, NULL when stopped. */
const char *io_engine_backend(void);

/* Starts an operation.  Never fails: errors (including -EBADF for fd < 0
 * and -ENOMEM when the per-fd record cannot be allocated) are delivered
 * through complete().  IO_OP_CALL behaves like io_engine_post(). */
void io_submit(io_op *op);

/* Requests cancellation.  complete() still runs exactly once: with
 * -ECANCELED, or with the real result if the operation finished first.
 * Never completes inline: the completion always comes from an engine
 * thread, so callers may hold their own locks.
 * Returns 0 if the request was registered, -EALREADY if the result was
 * already decided (or cancellation was already requested), -ENOENT for an
 * op that was never submitted.  A posted IO_OP_CALL cannot be cancelled.
 * The caller must keep the op's memory valid during the call, e.g. by
 * holding a lock that its complete() also takes before freeing the op.
 * A cancelled CONNECT leaves the socket in an unspecified state (close it);
 * a cancelled SENDMSG reports its progress in op->transferred. */
int io_cancel(io_op *op);

/* Runs complete(op, 0) on an engine thread at DISPATCH_LEVEL ("queue a
 * DPC").  The shard is op->fd's if fd >= 0, else chosen round-robin. */
void io_engine_post(io_op *op);

/* Non-zero inside an engine thread. */
int io_engine_on_engine_thread(void);

/* Releases the engine's per-fd record.  The provider calls it right
 * before close(fd), after every operation on fd has completed (the epoll
 * backend leaves the fd's registration to that close).  Nothing of the
 * engine holds the file open once it returns, provided accepting ahead was
 * ended on the engine thread first (io_op.accept_ahead; otherwise the end
 * is logged and requested, and the port stays bound until that thread
 * gets to it), so that close(fd) frees the port at once. */
void io_engine_forget_fd(int fd);

/* The caller will not submit another accept_ahead ACCEPT on fd for now:
 * stop accepting ahead (connections already taken stay for later ACCEPTs).
 * Call it from the complete() of fd's last accept_ahead ACCEPT, that is
 * on fd's engine thread, where it takes effect before returning; from any
 * other thread it is only requested. */
void io_engine_accept_ahead_end(int fd);

/* Runs fn(arg) while no engine thread uses fd's registration (its shard's
 * lock held) and returns what fn returned.  For a connect() on a socket
 * the engine may be polling: ThreadSanitizer models connect as making the
 * descriptor anew, so it must not overlap the engine's epoll_ctl on it.
 * Callers may hold a socket lock (socket before shard, as every submit). */
int io_engine_with_fd_quiet(int fd, int (*fn)(int fd, const void *arg), const void *arg);

/* ------------------------------------------------------------------------
 * Backend-private: shared by io_engine.c and the io_*_backend.c files.
 * ------------------------------------------------------------------------ */

/* io_op_private.flags */
#define IO_PF_CANCEL 0x01u /* cancellation requested */
#define IO_PF_OWNER 0x02u  /* the op holds its fd's direction (io_uring serialization) */
#define IO_PF_STARTED 0x04u /* CONNECT: connect() issued, waiting for the outcome */
#define IO_PF_HELD 0x08u    /* perturbation: already held back from one delivery round */

typedef struct io_list {
    io_op *head, *tail;
} io_list;

/* Inline: every operation passes through a few of them. */
static inline void io_list_push(io_list *l, io_op *op)
{
    op->priv.next = NULL;
    op->priv.prev = l->tail;
    if (l->tail)
        l->tail->priv.next = op;
    else
        l->head = op;
    l->tail = op;
}

static inline void io_list_remove(io_list *l, io_op *op)
{
    if (op->priv.prev)
        op->priv.prev->priv.next = op->priv.next;
    else
        l->head = op->priv.next;
    if (op->priv.next)
        op->priv.next->priv.prev = op->priv.prev;
    else
        l->tail = op->priv.prev;
    op->priv.next = op->priv.prev = NULL;
}

static inline io_op *io_list_pop(io_list *l)
{
    io_op *op = l->head;
    if (op)
        io_list_remove(l, op);
    return op;
}

/* Per-fd record, created on the first operation that needs it and released
 * by io_engine_forget_fd (or at stop). */
typedef struct io_fd_state {
    int fd;
    io_list rq, wq, pq;         /* reads, writes, polls waiting (epoll) / queued behind the owner (io_uring) */
    io_op *rowner, *wowner;     /* io_uring: op holding the read / write direction */
    unsigned armed;             /* epoll: events in the fd's (persistent) interest set */
    unsigned char registered;   /* epoll: fd is in the epoll set */
    unsigned char nonblock_checked; /* epoll: O_NONBLOCK verified for accept/connect */
    unsigned char drained;      /* epoll: the last read found nothing more to read; wait for EPOLLIN */
    unsigned char unwanted;     /* epoll: events in a row that found nobody waiting */
    unsigned tag;               /* epoll: the registration's tag, carried by its events (stale ones differ) */
    void *ahead;                /* io_uring: accepting ahead on a listener (io_op.accept_ahead) */
    struct io_fd_state *next_spare; /* io_fdmap.spares */
} io_fd_state;

/* fd -> record map of one shard (fds with fd % stride == shard index);
 * the caller serializes access. */
typedef struct io_fdmap {
    io_fd_state **slots;
    size_t count;
    unsigned stride;
    /* Released records kept for the next fds (a connection's record per
     * connection otherwise costs a calloc and a free). */
    io_fd_state *spares;
    unsigned nspares;
} io_fdmap;

io_fd_state *io_fdmap_get_slow(io_fdmap *m, int fd, int create);
/* The fd's record (created if `create`), or NULL; inline for a record
 * that exists, the common case. */
static inline io_fd_state *io_fdmap_get(io_fdmap *m, int fd, int create)
{
    size_t idx = (size_t)fd / m->stride;
    if (fd >= 0 && idx < m->count && m->slots[idx] != NULL)
        return m->slots[idx];
    return io_fdmap_get_slow(m, fd, create);
}
void io_fdmap_remove(io_fdmap *m, int fd); /* frees the record */
size_t io_fdmap_destroy(io_fdmap *m);      /* frees every record; returns how many there were */

/* The backends themselves (their hooks for the shard core) are declared
 * in io_shard.h. */

/* Runs op->complete(op, result) at DISPATCH_LEVEL; the op is not touched
 * afterwards. */
void io_deliver(io_op *op, long result);

/* Engine threads call this first: marks the thread (io_engine_on_engine_thread,
 * io_engine_current_shard) and names it "openwsk-io<index>". */
void io_engine_thread_enter(void *shard, unsigned index);
extern _Thread_local void *io_engine_tls_shard; /* io_engine.c's; read it through: */
static inline void *io_engine_current_shard(void)
{
    return io_engine_tls_shard;
}

/* Spawns a thread with all signals blocked. 0 or -errno. */
int io_engine_spawn(pthread_t *thread, void *(*fn)(void *), void *arg);

/* SENDMSG bookkeeping shared by both backends. */
/* What every backend does first with a submitted op: transferred = 0,
 * the SENDMSG bookkeeping, an ACCEPT's address length in place. */
void io_op_begin(io_op *op);
/* The most iovecs one sendmsg/recvmsg takes (Linux's UIO_MAXIOV); a
 * SENDMSG with more is sent in pieces of at most this many. */
#define IO_MAX_IOV 1024
void io_send_begin(io_op *op);
size_t io_msg_length(const struct msghdr *msg); /* bytes its iovecs describe */                   /* total, transferred = 0, no continuation */
struct msghdr *io_send_msg(io_op *op);           /* what the next sendmsg sends */
int io_send_advance(io_op *op, size_t n);        /* records n bytes sent; 1 when all was sent */
void io_send_finish(io_op *op);                  /* restores the caller's iovec */

/* CONNECT outcome once the socket reported writable: 0, -errno, or
 * -EINPROGRESS if still connecting. */
int io_connect_outcome(int fd);

/* Schedule perturbation (io_perturb.c), only while openwsk_perturb_enabled().
 * io_perturb_batch, under the shard lock, moves some ops of a delivery
 * batch to *held (which it empties first), keeping the order of ops of one
 * (fd, direction): every op behind a held op of its own direction is held
 * too.  The backend puts *held back at the head of its ready list, so those
 * ops go in the next round, after the rest of this batch.
 * io_perturb_attempt_now: the coin for "try the syscall at submit time"
 * versus "wait for readiness" where the backend may choose. */
void io_perturb_batch(io_list *batch, io_list *held);
int io_perturb_attempt_now(void);

/* Round-robin shard index for ops without an fd. */
unsigned io_next_shard(unsigned shards);
/* The shard serving fd (at its first use, the shard that accepted it if
 * that one is not clearly busier than the least loaded, else the shard
 * serving the fewest fds; a negative fd gets the next shard in turn), and
 * its release by io_engine_forget_fd. */
unsigned io_shard_of_fd_slow(int fd, unsigned shards);
/* fd -> shard + 1 (0: none yet; IO_FD_PREFERRED set: none yet, but
 * accepted on that shard), io_engine.c's; inline for an fd that has its
 * shard, which every operation asks about. */
#define IO_FD_PREFERRED 0x80u
extern unsigned char *io_fd_shards;
extern size_t io_fd_shards_count;
static inline unsigned io_shard_of_fd(int fd, unsigned shards)
{
    if (fd >= 0 && (size_t)fd < io_fd_shards_count) {
        unsigned char v = __atomic_load_n(&io_fd_shards[fd], __ATOMIC_ACQUIRE);
        if (v != 0 && !(v & IO_FD_PREFERRED))
            return (unsigned)v - 1;
    }
    return io_shard_of_fd_slow(fd, shards);
}
void io_shard_release_fd(int fd);
/* An ACCEPT on `shard` returned fd: its first use prefers that shard. */
void io_shard_prefer_fd(int fd, unsigned shard);

#endif /* OPENWSK_IO_ENGINE_H */
