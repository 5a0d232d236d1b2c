/*
 * io_engine.c - backend selection, start/stop refcount and the helpers the
 * two backends share (intrusive lists, per-fd map, delivery at
 * DISPATCH_LEVEL, partial-send bookkeeping).
 */
#include "io_engine.h"
#include "io_shard.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kernel/ke_internal.h"
#include "kernel/perturb.h"

#define IO_MAX_THREADS 64u

static pthread_mutex_t io_engine_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned io_engine_refs;             /* under io_engine_lock */
static const io_shard_hooks *io_engine_active;  /* atomic: read by every submit */

_Thread_local void *io_engine_tls_shard;

/* ---- per-fd map ---- */

io_fd_state *io_fdmap_get_slow(io_fdmap *m, int fd, int create)
{
    if (fd < 0)
        return NULL;
    size_t idx = (size_t)fd / m->stride;
    if (idx >= m->count) {
        if (!create)
            return NULL;
        size_t n = m->count ? m->count : 64;
        while (n <= idx)
            n *= 2;
        io_fd_state **slots = realloc(m->slots, n * sizeof *slots);
        if (!slots)
            return NULL;
        memset(slots + m->count, 0, (n - m->count) * sizeof *slots);
        m->slots = slots;
        m->count = n;
    }
    io_fd_state *f = m->slots[idx];
    if (!f && create) {
        /* Per socket, not per operation: released by io_engine_forget_fd. */
        if (m->spares != NULL) {
            f = m->spares;
            m->spares = f->next_spare;
            m->nspares--;
            memset(f, 0, sizeof *f);
        } else {
            f = calloc(1, sizeof *f);
            if (!f)
                return NULL;
        }
        f->fd = fd;
        m->slots[idx] = f;
    }
    return f;
}

#define IO_FDMAP_SPARES 64

void io_fdmap_remove(io_fdmap *m, int fd)
{
    size_t idx = (size_t)fd / m->stride;
    if (fd < 0 || idx >= m->count || m->slots[idx] == NULL)
        return;
    io_fd_state *f = m->slots[idx];
    m->slots[idx] = NULL;
    if (m->nspares < IO_FDMAP_SPARES) {
        f->next_spare = m->spares;
        m->spares = f;
        m->nspares++;
    } else {
        free(f);
    }
}

size_t io_fdmap_destroy(io_fdmap *m)
{
    size_t left = 0;
    for (size_t i = 0; i < m->count; i++) {
        if (m->slots[i]) {
            left++;
            free(m->slots[i]);
        }
    }
    while (m->spares != NULL) {
        io_fd_state *f = m->spares;
        m->spares = f->next_spare;
        free(f);
    }
    m->nspares = 0;
    free(m->slots);
    m->slots = NULL;
    m->count = 0;
    return left;
}

/* ---- threads and delivery ---- */

void io_engine_thread_enter(void *shard, unsigned index)
{
    io_engine_tls_shard = shard;
    openwsk_perturb_thread_index(index); /* a seed gives shard i the same decisions in every run */
    char name[16];
    snprintf(name, sizeof name, "openwsk-io%u", index);
    pthread_setname_np(pthread_self(), name);
}

int io_engine_on_engine_thread(void)
{
    return io_engine_tls_shard != NULL;
}

int io_engine_spawn(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    /* Engine threads never take asynchronous signals: SIGINT/SIGTERM belong
     * to the host (wskhost waits for them on its main thread). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -rc;
}

void io_deliver(io_op *op, long result)
{
    if (openwsk_perturb_enabled() && openwsk_perturb_one_in(8))
        openwsk_perturb_delay();
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    op->complete(op, result);
    /* op may be gone now. */
    if (KeGetCurrentIrql() != DISPATCH_LEVEL)
        openwsk_log("I/O completion routine returned at IRQL %u instead of DISPATCH_LEVEL",
                    (unsigned)KeGetCurrentIrql());
    KeLowerIrql(old);
}

unsigned io_next_shard(unsigned shards)
{
    static unsigned counter;
    return __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) % shards;
}

/* fd -> shard + 1 (0: not assigned yet; IO_FD_PREFERRED | shard + 1: not
 * assigned yet, but accepted on that shard).  An fd goes, at its first
 * operation, to the shard serving the fewest fds, not to fd % shards: the
 * provider opens its sockets in patterns (a socket, then its port claim,
 * then the next socket...) that would put every socket of a kind on one
 * thread.  An accepted fd goes to the shard that accepted it (its
 * listener's), where its first operations are usually submitted from (the
 * accept's completion routine), unless that shard serves clearly more fds
 * than the least loaded one: several listeners sharing a port then each
 * keep their connections on their own thread, with no hand-off, while the
 * connections of a single listener still spread.  Fds beyond the table
 * fall back to fd % shards. */
#define IO_FD_TABLE_MAX (1u << 20)
unsigned char *io_fd_shards;
size_t io_fd_shards_count;
static unsigned io_shard_fds[IO_FD_PREFERRED]; /* fds assigned to each shard */

static void io_fd_shards_reset(void)
{
    if (io_fd_shards == NULL) {
        struct rlimit lim;
        size_t n = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? (size_t)lim.rlim_cur
                                                                                      : IO_FD_TABLE_MAX;
        if (n > IO_FD_TABLE_MAX)
            n = IO_FD_TABLE_MAX;
        io_fd_shards = calloc(n, 1);
        io_fd_shards_count = io_fd_shards != NULL ? n : 0;
    } else {
        memset(io_fd_shards, 0, io_fd_shards_count);
    }
    memset(io_shard_fds, 0, sizeof(io_shard_fds));
}

static unsigned io_least_loaded_shard(unsigned shards, unsigned *count)
{
    unsigned best = io_next_shard(shards), best_count = __atomic_load_n(&io_shard_fds[best], __ATOMIC_RELAXED);
    for (unsigned i = 0; i < shards; i++) {
        unsigned c = __atomic_load_n(&io_shard_fds[i], __ATOMIC_RELAXED);
        if (c < best_count) {
            best = i;
            best_count = c;
        }
    }
    *count = best_count;
    return best;
}

/* The shard for an fd at its first operation; `preferred` is the shard
 * that accepted it, or -1. */
static unsigned io_choose_shard(unsigned shards, int preferred)
{
    unsigned least_count, least = io_least_loaded_shard(shards, &least_count);
    if (preferred < 0 || (unsigned)preferred >= shards)
        return least;
    /* "Clearly more": a quarter more than the least loaded, plus two. */
    unsigned count = __atomic_load_n(&io_shard_fds[preferred], __ATOMIC_RELAXED);
    return count <= least_count + least_count / 4 + 2 ? (unsigned)preferred : least;
}

unsigned io_shard_of_fd_slow(int fd, unsigned shards)
{
    if (fd < 0)
        return io_next_shard(shards);
    if ((size_t)fd >= io_fd_shards_count || shards >= IO_FD_PREFERRED)
        return (unsigned)fd % shards;
    unsigned char v = __atomic_load_n(&io_fd_shards[fd], __ATOMIC_ACQUIRE);
    while (v == 0 || (v & IO_FD_PREFERRED)) {
        unsigned chosen = io_choose_shard(shards, v ? (int)(v & ~IO_FD_PREFERRED) - 1 : -1);
        unsigned char mine = (unsigned char)(chosen + 1);
        if (__atomic_compare_exchange_n(&io_fd_shards[fd], &v, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            v = mine;
            __atomic_add_fetch(&io_shard_fds[chosen], 1, __ATOMIC_RELAXED);
        }
    }
    return (unsigned)v - 1;
}

void io_shard_prefer_fd(int fd, unsigned shard)
{
    if (fd < 0 || (size_t)fd >= io_fd_shards_count || shard + 1 >= IO_FD_PREFERRED)
        return;
    /* Only an fd with no shard yet; an assigned one keeps its shard. */
    unsigned char v = __atomic_load_n(&io_fd_shards[fd], __ATOMIC_ACQUIRE);
    if (v == 0 || (v & IO_FD_PREFERRED))
        __atomic_compare_exchange_n(&io_fd_shards[fd], &v, (unsigned char)(IO_FD_PREFERRED | (shard + 1)), 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void io_shard_release_fd(int fd)
{
    if (fd < 0 || (size_t)fd >= io_fd_shards_count)
        return;
    unsigned char v = __atomic_exchange_n(&io_fd_shards[fd], 0, __ATOMIC_ACQ_REL);
    if (v != 0 && !(v & IO_FD_PREFERRED))
        __atomic_sub_fetch(&io_shard_fds[v - 1], 1, __ATOMIC_RELAXED);
}

void io_op_begin(io_op *op)
{
    op->transferred = 0;
    if (op->kind == IO_OP_SENDMSG)
        io_send_begin(op);
    if (op->kind == IO_OP_ACCEPT && op->addrlen && op->addr_len_in)
        *op->addrlen = op->addr_len_in;
}

/* ---- SENDMSG bookkeeping ---- */

size_t io_msg_length(const struct msghdr *msg)
{
    size_t total = 0;
    for (size_t i = 0; i < (size_t)msg->msg_iovlen; i++)
        total += msg->msg_iov[i].iov_len;
    return total;
}

void io_send_begin(io_op *op)
{
    op->priv.total = io_msg_length(op->msg);
    op->priv.iov_index = SIZE_MAX;
    op->transferred = 0;
    if ((size_t)op->msg->msg_iovlen > IO_MAX_IOV) {
        /* More iovecs than one sendmsg takes: the first IO_MAX_IOV go out
         * first (with the name and ancillary data), the rest continue. */
        op->priv.cont = *op->msg;
        op->priv.cont.msg_iovlen = IO_MAX_IOV;
    }
}

struct msghdr *io_send_msg(io_op *op)
{
    if (op->priv.iov_index == SIZE_MAX && (size_t)op->msg->msg_iovlen <= IO_MAX_IOV)
        return op->msg;
    return &op->priv.cont;
}

void io_send_finish(io_op *op)
{
    if (op->priv.iov_index != SIZE_MAX) {
        op->msg->msg_iov[op->priv.iov_index] = op->priv.saved_iov;
        op->priv.iov_index = SIZE_MAX;
    }
}

int io_send_advance(io_op *op, size_t n)
{
    op->transferred += n;
    if (op->transferred >= op->priv.total)
        return 1;
    /* Find where the unsent bytes start in the caller's iovecs (with the
     * original lengths), then advance that single iovec in place; the
     * continuation msghdr starts at it.  Name and ancillary data went out
     * with the first chunk. */
    io_send_finish(op);
    struct iovec *iov = op->msg->msg_iov;
    size_t left = op->transferred, i = 0;
    while (left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        i++;
    }
    op->priv.saved_iov = iov[i];
    op->priv.iov_index = i;
    iov[i].iov_base = (char *)iov[i].iov_base + left;
    iov[i].iov_len -= left;
    memset(&op->priv.cont, 0, sizeof op->priv.cont);
    op->priv.cont.msg_iov = &iov[i];
    op->priv.cont.msg_iovlen = op->msg->msg_iovlen - i;
    if ((size_t)op->priv.cont.msg_iovlen > IO_MAX_IOV)
        op->priv.cont.msg_iovlen = IO_MAX_IOV;
    return 0;
}

int io_connect_outcome(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    if (err)
        return -err;
    /* Writable without a pending error is not proof enough (spurious
     * wake-ups, shared readiness): the peer name exists once connected. */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        return 0;
    if (errno != ENOTCONN)
        return -errno;
    /* Not connected: still handshaking, unless the socket hung up (the
     * error was consumed elsewhere); waiting again would spin then. */
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
        return -ENOTCONN;
    return -EINPROGRESS;
}

/* ---- the interface ---- */

static unsigned io_default_threads(void)
{
    const char *s = getenv("OPENWSK_IO_THREADS");
    if (s && *s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end == '\0' && v >= 1 && v <= IO_MAX_THREADS)
            return (unsigned)v;
        openwsk_log("OPENWSK_IO_THREADS=\"%s\" ignored (expected 1..%u)", s, IO_MAX_THREADS);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > 4 ? 4u : (unsigned)n;
}

static int io_try_start(const io_shard_hooks *b, unsigned threads, const io_shard_hooks **chosen)
{
    int rc = io_shards_start(b, threads);
    if (rc == 0)
        *chosen = b;
    return rc;
}

int io_engine_start(unsigned threads)
{
    pthread_mutex_lock(&io_engine_lock);
    if (io_engine_refs > 0) {
        io_engine_refs++;
        pthread_mutex_unlock(&io_engine_lock);
        return 0;
    }
    if (threads == 0)
        threads = io_default_threads();
    if (threads > IO_MAX_THREADS)
        threads = IO_MAX_THREADS;
    io_fd_shards_reset();
    openwsk_perturb_init_from_env();

    const char *want = getenv("OPENWSK_IO_BACKEND");
    const io_shard_hooks *chosen = NULL;
    int rc;
    if (!want || !*want || strcmp(want, "auto") == 0) {
#ifdef OPENWSK_HAVE_LIBURING
        rc = io_try_start(&io_backend_io_uring, threads, &chosen);
        if (rc < 0)
            openwsk_log("io_uring unavailable (%s); using the epoll backend", strerror(-rc));
#endif
        if (!chosen)
            rc = io_try_start(&io_backend_epoll, threads, &chosen);
    } else if (strcmp(want, "io_uring") == 0) {
#ifdef OPENWSK_HAVE_LIBURING
        rc = io_try_start(&io_backend_io_uring, threads, &chosen);
        if (rc < 0)
            openwsk_log("OPENWSK_IO_BACKEND=io_uring, but io_uring is unavailable: %s", strerror(-rc));
#else
        rc = -ENOSYS;
        openwsk_log("OPENWSK_IO_BACKEND=io_uring, but openwsk was built without liburing");
#endif
    } else if (strcmp(want, "epoll") == 0) {
        rc = io_try_start(&io_backend_epoll, threads, &chosen);
    } else {
        openwsk_log("OPENWSK_IO_BACKEND=\"%s\" is not io_uring, epoll or auto", want);
        rc = -EINVAL;
    }
    if (chosen) {
        rc = 0;
        io_engine_refs = 1;
        __atomic_store_n(&io_engine_active, chosen, __ATOMIC_RELEASE);
    } else if (rc == 0) {
        rc = -EINVAL;
    }
    pthread_mutex_unlock(&io_engine_lock);
    return rc;
}

void io_engine_stop(void)
{
    if (io_engine_on_engine_thread()) {
        openwsk_log("io_engine_stop called on an engine thread (it would join itself)");
        abort();
    }
    pthread_mutex_lock(&io_engine_lock);
    if (io_engine_refs == 0) {
        openwsk_log("io_engine_stop without a matching io_engine_start");
    } else if (--io_engine_refs == 0) {
        io_shards_stop();
        __atomic_store_n(&io_engine_active, NULL, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&io_engine_lock);
}

const char *io_engine_backend(void)
{
    const io_shard_hooks *b = __atomic_load_n(&io_engine_active, __ATOMIC_ACQUIRE);
    return b ? b->name : NULL;
}

static void io_running(const char *what)
{
    const io_shard_hooks *b = __atomic_load_n(&io_engine_active, __ATOMIC_ACQUIRE);
    if (!b) {
        openwsk_log("%s: the I/O engine is not running", what);
        abort();
    }
}

void io_submit(io_op *op)
{
    io_running("io_submit");
    io_shard_submit(op);
}

int io_cancel(io_op *op)
{
    io_running("io_cancel");
    return io_shard_cancel(op);
}

void io_engine_post(io_op *op)
{
    io_running("io_engine_post");
    io_shard_post(op);
}

int io_engine_with_fd_quiet(int fd, int (*fn)(int fd, const void *arg), const void *arg)
{
    const io_shard_hooks *b = __atomic_load_n(&io_engine_active, __ATOMIC_ACQUIRE);
    if (b == NULL || fd < 0)
        return fn(fd, arg);
    return io_shard_with_fd_quiet(fd, fn, arg);
}

void io_engine_forget_fd(int fd)
{
    const io_shard_hooks *b = __atomic_load_n(&io_engine_active, __ATOMIC_ACQUIRE);
    if (b && fd >= 0)
        io_shard_forget_fd(fd);
}

void io_engine_accept_ahead_end(int fd)
{
    const io_shard_hooks *b = __atomic_load_n(&io_engine_active, __ATOMIC_ACQUIRE);
    if (b && fd >= 0)
        io_shard_accept_ahead_end(fd);
}
