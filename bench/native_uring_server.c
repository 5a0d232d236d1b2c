/* native_uring_server.c - the native io_uring baseline for the WSK echo server.
 *
 * Same service and layout as native_epoll_server.c (T threads, each with its
 * own ring, SO_REUSEPORT TCP listener and SO_REUSEPORT UDP socket), written
 * the plain liburing way: completion-driven, one operation in flight per
 * connection (recv, then send until the echo is out, then recv again), so
 * the connection's 64 KiB buffer doubles as the partial-write buffer.
 * Accept is multishot where the kernel has it (5.19+), re-armed single-shot
 * accepts otherwise; UDP keeps a few recvmsg/sendmsg slots per socket.
 */
#include "bench_util.h"
#include "server_common.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_ENTRIES 256
#define UDP_SLOTS 8 /* datagrams being received or echoed at once per socket */

/* Every submission's user_data points at one of these, first in its owner. */
enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND, OP_UDP_RECV, OP_UDP_SEND, OP_STOP, OP_CANCEL };
struct op {
    enum op_kind kind;
};

struct conn {
    struct op op; /* OP_RECV or OP_SEND: the one operation in flight */
    int fd;
    size_t len, off; /* echo in progress: buf[off, len) still to send */
    struct conn *prev, *next;
    char buf[SERVER_BUF_SIZE];
};

struct udp_slot {
    struct op op; /* OP_UDP_RECV or OP_UDP_SEND */
    struct msghdr msg;
    struct iovec iov;
    struct sockaddr_storage peer;
    char buf[SERVER_BUF_SIZE];
};

struct worker {
    pthread_t tid;
    struct io_uring ring;
    int lfd, ufd, stopfd;
    bool multishot, accepted_any, stopping;
    unsigned inflight; /* submissions whose final completion is still due */
    struct op accept_op, stop_op, cancel_op;
    struct conn *conns;
    struct udp_slot *slots[UDP_SLOTS];
    pthread_barrier_t *ready;
};

static struct io_uring_sqe *get_sqe(struct worker *w, void *owner)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe) { /* SQ full: hand what we have to the kernel, then retry */
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
        if (!sqe) {
            fprintf(stderr, "io_uring: no SQE\n");
            exit(1);
        }
    }
    io_uring_sqe_set_data(sqe, owner);
    w->inflight++;
    return sqe;
}

static void arm_accept(struct worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w, &w->accept_op);
    if (w->multishot)
        io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void conn_recv(struct worker *w, struct conn *c)
{
    c->op.kind = OP_RECV;
    io_uring_prep_recv(get_sqe(w, c), c->fd, c->buf, sizeof c->buf, 0);
}

static void conn_send(struct worker *w, struct conn *c)
{
    c->op.kind = OP_SEND;
    io_uring_prep_send(get_sqe(w, c), c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
}

static void udp_recv(struct worker *w, struct udp_slot *s)
{
    s->op.kind = OP_UDP_RECV;
    s->iov.iov_len = sizeof s->buf;
    s->msg.msg_namelen = sizeof s->peer;
    io_uring_prep_recvmsg(get_sqe(w, s), w->ufd, &s->msg, 0);
}

static void udp_send(struct worker *w, struct udp_slot *s, size_t len)
{
    s->op.kind = OP_UDP_SEND;
    s->iov.iov_len = len;
    io_uring_prep_sendmsg(get_sqe(w, s), w->ufd, &s->msg, MSG_NOSIGNAL);
}

static void conn_free(struct worker *w, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    free(c);
}

static void on_accept(struct worker *w, int res, unsigned flags)
{
    if (res >= 0) {
        w->accepted_any = true;
        struct conn *c = w->stopping ? NULL : malloc(sizeof *c);
        if (!c) {
            close(res);
        } else {
            server_tune_accepted(res);
            c->fd = res;
            c->prev = NULL;
            c->next = w->conns;
            if (w->conns)
                w->conns->prev = c;
            w->conns = c;
            conn_recv(w, c);
        }
    } else if (res == -EINVAL && w->multishot && !w->accepted_any) {
        w->multishot = false; /* kernel without multishot accept */
    }
    if (!(flags & IORING_CQE_F_MORE) && !w->stopping)
        arm_accept(w);
}

static void on_conn(struct worker *w, struct conn *c, int res)
{
    if (w->stopping || res <= 0) { /* EOF, reset, or cancelled at exit */
        if (res < 0 && res != -ECONNRESET && res != -ECANCELED && res != -EPIPE && !w->stopping)
            fprintf(stderr, "uring server: connection error %s\n", strerror(-res));
        conn_free(w, c);
        return;
    }
    if (c->op.kind == OP_RECV) {
        c->len = (size_t)res;
        c->off = 0;
        conn_send(w, c);
    } else {
        c->off += (size_t)res;
        if (c->off < c->len)
            conn_send(w, c); /* partial write: send the rest first */
        else
            conn_recv(w, c);
    }
}

static void on_udp(struct worker *w, struct udp_slot *s, int res)
{
    if (w->stopping)
        return;
    if (s->op.kind == OP_UDP_RECV && res >= 0)
        udp_send(w, s, (size_t)res);
    else
        udp_recv(w, s); /* echo sent (or dropped): wait for the next one */
}

/* Stop: cancel every operation by its user_data; the loop then runs until
 * each has delivered its last completion, so nothing is freed under the
 * kernel's feet. */
static void begin_stop(struct worker *w)
{
    w->stopping = true;
    io_uring_prep_cancel(get_sqe(w, &w->cancel_op), &w->accept_op, 0);
    for (int i = 0; i < UDP_SLOTS; i++)
        io_uring_prep_cancel(get_sqe(w, &w->cancel_op), w->slots[i], 0);
    for (struct conn *c = w->conns; c; c = c->next)
        io_uring_prep_cancel(get_sqe(w, &w->cancel_op), c, 0);
}

static void handle_cqe(struct worker *w, struct io_uring_cqe *cqe)
{
    struct op *op = io_uring_cqe_get_data(cqe);
    if (!(cqe->flags & IORING_CQE_F_MORE))
        w->inflight--;
    switch (op->kind) {
    case OP_ACCEPT:
        on_accept(w, cqe->res, cqe->flags);
        break;
    case OP_RECV:
    case OP_SEND:
        on_conn(w, (struct conn *)op, cqe->res);
        break;
    case OP_UDP_RECV:
    case OP_UDP_SEND:
        on_udp(w, (struct udp_slot *)op, cqe->res);
        break;
    case OP_STOP:
        begin_stop(w);
        break;
    case OP_CANCEL:
        break;
    }
}

static int ring_init(struct io_uring *ring)
{
    /* SINGLE_ISSUER + COOP_TASKRUN are the cheap settings for a ring used by
     * one thread (6.0+); older kernels refuse them, then use no flags. */
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_COOP_TASKRUN)
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
    if (io_uring_queue_init_params(RING_ENTRIES, ring, &p) == 0)
        return 0;
#endif
    return io_uring_queue_init(RING_ENTRIES, ring, 0);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int rc = ring_init(&w->ring); /* here: a SINGLE_ISSUER ring belongs to its creator */
    if (rc < 0) {
        fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
        exit(1);
    }
    w->multishot = true;
    w->accept_op.kind = OP_ACCEPT;
    w->stop_op.kind = OP_STOP;
    w->cancel_op.kind = OP_CANCEL;
    arm_accept(w);
    for (int i = 0; i < UDP_SLOTS; i++)
        udp_recv(w, w->slots[i]);
    io_uring_prep_poll_add(get_sqe(w, &w->stop_op), w->stopfd, POLLIN);
    io_uring_submit(&w->ring);
    pthread_barrier_wait(w->ready);

    while (!w->stopping || w->inflight > 0) {
        struct io_uring_cqe *cqe;
        if (!w->stopping) {
            rc = io_uring_submit_and_wait(&w->ring, 1);
        } else { /* draining: do not hang forever on a stuck operation */
            struct __kernel_timespec ts = {.tv_sec = 2};
            io_uring_submit(&w->ring);
            rc = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
            if (rc == -ETIME) {
                fprintf(stderr, "uring server: %u operations did not finish\n", w->inflight);
                break;
            }
        }
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            fprintf(stderr, "io_uring wait: %s\n", strerror(-rc));
            exit(1);
        }
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            handle_cqe(w, cqe);
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
    }
    io_uring_queue_exit(&w->ring);
    return NULL;
}

int main(int argc, char **argv)
{
    struct server_opts o;
    server_parse_args(argc, argv, &o);
    sigset_t sigs;
    server_block_signals(&sigs);

    /* One eventfd polled by every worker's ring: one write stops them all. */
    int stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stopfd < 0)
        bench_die_errno(1, "eventfd");
    pthread_barrier_t ready;
    pthread_barrier_init(&ready, NULL, (unsigned)o.threads + 1);

    struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
    if (!ws)
        bench_die_errno(1, "calloc");
    for (int i = 0; i < o.threads; i++) {
        struct worker *w = &ws[i];
        w->lfd = server_tcp_listener(o.port);
        w->ufd = server_udp_socket(o.port);
        w->stopfd = stopfd;
        w->ready = &ready;
        for (int s = 0; s < UDP_SLOTS; s++) {
            struct udp_slot *slot = calloc(1, sizeof *slot);
            if (!slot)
                bench_die_errno(1, "calloc");
            slot->iov.iov_base = slot->buf;
            slot->msg.msg_name = &slot->peer;
            slot->msg.msg_iov = &slot->iov;
            slot->msg.msg_iovlen = 1;
            w->slots[s] = slot;
        }
    }
    for (int i = 0; i < o.threads; i++)
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            bench_die_errno(1, "pthread_create");
    pthread_barrier_wait(&ready); /* every ring is armed */
    server_print_ready(&o);

    server_wait_signal(&sigs);
    uint64_t one = 1;
    if (write(stopfd, &one, sizeof one) != sizeof one)
        bench_die_errno(1, "eventfd write");
    for (int i = 0; i < o.threads; i++) {
        struct worker *w = &ws[i];
        pthread_join(w->tid, NULL);
        while (w->conns)
            conn_free(w, w->conns);
        for (int s = 0; s < UDP_SLOTS; s++)
            free(w->slots[s]);
        close(w->lfd);
        close(w->ufd);
    }
    pthread_barrier_destroy(&ready);
    close(stopfd);
    free(ws);
    return 0;
}
