/* native_uring_server.c - the native io_uring anchor for the WSK echo server.
 *
 * Same service and layout as native_epoll_server.c (T threads, each with its
 * own ring, SO_REUSEPORT TCP listener and SO_REUSEPORT UDP socket), written
 * the way current io_uring servers are (kernel 6.1+, liburing 2.3):
 *
 * - the ring is SINGLE_ISSUER + DEFER_TASKRUN (completion work runs when the
 *   thread waits, not as interrupts of its work), with fallbacks for older
 *   kernels;
 * - one multishot accept per listener;
 * - one multishot recv per connection, picking buffers from a provided-
 *   buffer ring (group TCP_GROUP); each received buffer is queued on its
 *   connection and echoed from where it lies, one send (a sendmsg over up
 *   to SEND_IOVS queued buffers) in flight per connection so the echo keeps
 *   its order; a buffer goes back to the ring when its bytes are sent. A
 *   recv that ran out of buffers (-ENOBUFS) is re-armed once some return;
 * - one multishot recvmsg on the UDP socket with its own buffer ring
 *   (UDP_GROUP): each datagram is echoed by a sendmsg straight from its
 *   buffer to the source address the kernel wrote next to it;
 * - everything a batch of completions asks for goes to the kernel in one
 *   io_uring_submit_and_wait.
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

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 8192
#define TCP_GROUP 0
#define UDP_GROUP 1
/* Buffer rings; -D overrides let a test build run out of buffers quickly. */
#ifndef TCP_NBUF
#define TCP_NBUF 256     /* power of two */
#endif
#ifndef TCP_BUF
#define TCP_BUF 65536    /* bytes per TCP receive buffer: the epoll server reads 64 KiB too */
#endif
#ifndef UDP_NBUF
#define UDP_NBUF 256     /* power of two */
#endif
#define UDP_BUF 4096     /* recvmsg_out header + source address + datagram */
#define SEND_IOVS 16

/* user_data: a kind in the low 3 bits; for connections the rest is the
 * struct conn pointer, for UDP sends the buffer id shifted by 3. */
enum kind { K_ACCEPT, K_RECV, K_SEND, K_UDP_RECV, K_UDP_SEND, K_STOP, K_CANCEL };
#define UD(kind, v) ((uint64_t)(uintptr_t)(v) | (uint64_t)(kind))

struct queued { /* a received TCP buffer waiting to be echoed */
    uint16_t bid;
    uint32_t off, len;
};

struct conn {
    int fd;
    bool recv_armed, send_busy, closing, cancel_sent, starved;
    int ops; /* submissions whose final completion is still due */
    unsigned qhead, qcount; /* queue ring of received buffers, TCP_NBUF slots */
    unsigned nsending;      /* queue entries covered by the send in flight */
    struct msghdr msg;
    struct iovec iov[SEND_IOVS];
    struct conn *prev, *next;     /* all connections of the worker */
    struct conn *starved_next;    /* connections waiting for buffers */
    struct queued q[TCP_NBUF];
} __attribute__((aligned(8)));

struct udp_send {
    struct msghdr msg;
    struct iovec iov;
};

struct worker {
    pthread_t tid;
    const struct server_opts *o;
    struct io_uring ring;
    int lfd, ufd, stopfd;
    bool stopping, udp_armed;
    unsigned inflight; /* submissions whose final completion is still due */
    unsigned long tamper_count;
    struct io_uring_buf_ring *tcp_br, *udp_br;
    char *tcp_bufs, *udp_bufs;
    struct msghdr udp_recv_msg; /* the layout template of multishot recvmsg */
    struct udp_send usend[UDP_NBUF];
    struct conn *conns, *starved;
    pthread_barrier_t *ready;
};

static struct io_uring_sqe *get_sqe(struct worker *w, uint64_t ud)
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
    io_uring_sqe_set_data64(sqe, ud);
    w->inflight++;
    return sqe;
}

/* ---- provided buffers ---- */

static struct io_uring_buf_ring *buf_ring_setup(struct worker *w, int group, char **bufs, unsigned n, unsigned size)
{
    struct io_uring_buf_ring *br;
    if (posix_memalign((void **)&br, 4096, n * sizeof(struct io_uring_buf)) != 0 ||
        posix_memalign((void **)bufs, 4096, (size_t)n * size) != 0)
        bench_die_errno(1, "posix_memalign");
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = n, .bgid = (uint16_t)group};
    int rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (rc != 0) {
        fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-rc));
        exit(1);
    }
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < n; i++)
        io_uring_buf_ring_add(br, *bufs + (size_t)i * size, size, (unsigned short)i, io_uring_buf_ring_mask(n),
                              (int)i);
    io_uring_buf_ring_advance(br, (int)n);
    return br;
}

static void buf_return(struct io_uring_buf_ring *br, char *bufs, unsigned n, unsigned size, uint16_t bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * size, size, bid, io_uring_buf_ring_mask(n), 0);
    io_uring_buf_ring_advance(br, 1);
}

/* ---- TCP ---- */

static void arm_accept(struct worker *w)
{
    io_uring_prep_multishot_accept(get_sqe(w, UD(K_ACCEPT, 0)), w->lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void conn_arm_recv(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w, UD(K_RECV, c));
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = TCP_GROUP;
    c->recv_armed = true;
    c->ops++;
}

static void conn_free(struct worker *w, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    for (unsigned i = 0; i < c->qcount; i++)
        buf_return(w->tcp_br, w->tcp_bufs, TCP_NBUF, TCP_BUF, c->q[(c->qhead + i) % TCP_NBUF].bid);
    close(c->fd);
    free(c);
}

/* Finish the connection once nothing of it is in flight; cancel its recv. */
static void conn_close(struct worker *w, struct conn *c)
{
    c->closing = true;
    if (c->starved) {
        struct conn **pp = &w->starved;
        while (*pp != c)
            pp = &(*pp)->starved_next;
        *pp = c->starved_next;
        c->starved = false;
    }
    if (c->ops == 0) {
        conn_free(w, c);
    } else if (c->recv_armed && !c->cancel_sent && !w->stopping) {
        io_uring_prep_cancel64(get_sqe(w, UD(K_CANCEL, 0)), UD(K_RECV, c), 0);
        c->cancel_sent = true;
    }
}

/* One send over the queued buffers (up to SEND_IOVS). */
static void conn_send(struct worker *w, struct conn *c)
{
    unsigned n = c->qcount < SEND_IOVS ? c->qcount : SEND_IOVS;
    for (unsigned i = 0; i < n; i++) {
        const struct queued *e = &c->q[(c->qhead + i) % TCP_NBUF];
        c->iov[i].iov_base = w->tcp_bufs + (size_t)e->bid * TCP_BUF + e->off;
        c->iov[i].iov_len = e->len - e->off;
    }
    struct io_uring_sqe *sqe = get_sqe(w, UD(K_SEND, c));
    if (n == 1) {
        io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        c->msg.msg_iov = c->iov;
        c->msg.msg_iovlen = n;
        io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    }
    c->nsending = n;
    c->send_busy = true;
    c->ops++;
}

/* Buffers came back: re-arm the receives that had run out of them. */
static void rearm_starved(struct worker *w)
{
    while (w->starved && !w->stopping) {
        struct conn *c = w->starved;
        w->starved = c->starved_next;
        c->starved = false;
        conn_arm_recv(w, c);
    }
}

static void on_accept(struct worker *w, int res, unsigned flags)
{
    if (res >= 0) {
        struct conn *c = w->stopping ? NULL : calloc(1, sizeof *c);
        if (!c) {
            close(res);
        } else {
            server_tune_accepted(res);
            c->fd = res;
            c->next = w->conns;
            if (w->conns)
                w->conns->prev = c;
            w->conns = c;
            conn_arm_recv(w, c);
        }
    }
    if (!(flags & IORING_CQE_F_MORE) && !w->stopping)
        arm_accept(w);
}

static void on_recv(struct worker *w, struct conn *c, int res, unsigned flags)
{
    bool final = !(flags & IORING_CQE_F_MORE);
    if (final) {
        c->recv_armed = false;
        c->ops--;
    }
    if (res > 0) {
        uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
        char *buf = w->tcp_bufs + (size_t)bid * TCP_BUF;
        if (c->closing || w->stopping || !server_tamper(w->o, &w->tamper_count, buf, (size_t)res)) {
            buf_return(w->tcp_br, w->tcp_bufs, TCP_NBUF, TCP_BUF, bid);
        } else {
            c->q[(c->qhead + c->qcount) % TCP_NBUF] = (struct queued){bid, 0, (uint32_t)res};
            c->qcount++;
            if (!c->send_busy)
                conn_send(w, c);
        }
    }
    if (!final)
        return;
    if (c->closing || w->stopping) {
        if (c->ops == 0)
            conn_free(w, c);
    } else if (res > 0) {
        conn_arm_recv(w, c); /* the kernel ended the multishot early: go on */
    } else if (res == -ENOBUFS) {
        c->starved = true; /* re-armed when buffers return */
        c->starved_next = w->starved;
        w->starved = c;
    } else {
        if (res < 0 && res != -ECONNRESET && res != -ECANCELED)
            fprintf(stderr, "uring server: recv: %s\n", strerror(-res));
        conn_close(w, c); /* EOF or error */
    }
}

static void on_send(struct worker *w, struct conn *c, int res)
{
    c->ops--;
    c->send_busy = false;
    if (res < 0) {
        if (res != -EPIPE && res != -ECONNRESET && res != -ECANCELED)
            fprintf(stderr, "uring server: send: %s\n", strerror(-res));
        conn_close(w, c);
        return;
    }
    /* Retire what was sent; a partly sent buffer stays first in line. */
    size_t left = (size_t)res;
    bool returned = false;
    for (unsigned i = 0; i < c->nsending && left > 0; i++) {
        struct queued *e = &c->q[c->qhead];
        size_t rest = e->len - e->off;
        if (left < rest) {
            e->off += (uint32_t)left;
            break;
        }
        left -= rest;
        buf_return(w->tcp_br, w->tcp_bufs, TCP_NBUF, TCP_BUF, e->bid);
        returned = true;
        c->qhead = (c->qhead + 1) % TCP_NBUF;
        c->qcount--;
    }
    if (c->closing || w->stopping) {
        if (c->ops == 0)
            conn_free(w, c);
    } else if (c->qcount > 0) {
        conn_send(w, c);
    }
    if (returned)
        rearm_starved(w);
}

/* ---- UDP ---- */

static void arm_udp(struct worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w, UD(K_UDP_RECV, 0));
    io_uring_prep_recvmsg_multishot(sqe, w->ufd, &w->udp_recv_msg, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UDP_GROUP;
    w->udp_armed = true;
}

static void udp_buf_return(struct worker *w, uint16_t bid)
{
    buf_return(w->udp_br, w->udp_bufs, UDP_NBUF, UDP_BUF, bid);
    if (!w->udp_armed && !w->stopping)
        arm_udp(w); /* it had run out of buffers */
}

static void on_udp_recv(struct worker *w, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        w->udp_armed = false;
    if (res >= 0 && (flags & IORING_CQE_F_BUFFER)) {
        uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
        char *buf = w->udp_bufs + (size_t)bid * UDP_BUF;
        struct io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buf, res, &w->udp_recv_msg);
        if (w->stopping || !out || (out->flags & MSG_TRUNC) || out->namelen > w->udp_recv_msg.msg_namelen) {
            udp_buf_return(w, bid); /* too large for our buffers: dropped */
        } else {
            char *payload = io_uring_recvmsg_payload(out, &w->udp_recv_msg);
            unsigned len = io_uring_recvmsg_payload_length(out, res, &w->udp_recv_msg);
            if (!server_tamper(w->o, &w->tamper_count, payload, len)) {
                udp_buf_return(w, bid);
            } else {
                struct udp_send *s = &w->usend[bid];
                s->iov.iov_base = payload;
                s->iov.iov_len = len;
                s->msg.msg_name = io_uring_recvmsg_name(out);
                s->msg.msg_namelen = out->namelen;
                s->msg.msg_iov = &s->iov;
                s->msg.msg_iovlen = 1;
                io_uring_prep_sendmsg(get_sqe(w, UD(K_UDP_SEND, (uintptr_t)bid << 3)), w->ufd, &s->msg,
                                      MSG_NOSIGNAL);
            }
        }
    }
    if (!w->udp_armed && !w->stopping && res != -ENOBUFS)
        arm_udp(w); /* ENOBUFS: re-armed when a buffer returns */
}

/* ---- loop ---- */

/* Stop: cancel everything; the loop then runs until each submission has
 * delivered its last completion, so nothing is freed under the kernel. */
static void begin_stop(struct worker *w)
{
    w->stopping = true;
    io_uring_prep_cancel64(get_sqe(w, UD(K_CANCEL, 0)), 0, IORING_ASYNC_CANCEL_ANY);
}

static void handle_cqe(struct worker *w, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    if (!(cqe->flags & IORING_CQE_F_MORE))
        w->inflight--;
    switch ((enum kind)(ud & 7)) {
    case K_ACCEPT:
        on_accept(w, cqe->res, cqe->flags);
        break;
    case K_RECV:
        on_recv(w, (struct conn *)(uintptr_t)(ud & ~7ull), cqe->res, cqe->flags);
        break;
    case K_SEND:
        on_send(w, (struct conn *)(uintptr_t)(ud & ~7ull), cqe->res);
        break;
    case K_UDP_RECV:
        on_udp_recv(w, cqe->res, cqe->flags);
        break;
    case K_UDP_SEND: /* sent or not (a full buffer drops it, as UDP may) */
        udp_buf_return(w, (uint16_t)(ud >> 3));
        break;
    case K_STOP:
        begin_stop(w);
        break;
    case K_CANCEL:
        break;
    }
}

static void ring_init(struct io_uring *ring)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, /* 6.1+ */
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,  /* 6.0 */
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
        if (rc == 0)
            return;
    }
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
    exit(1);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    ring_init(&w->ring); /* here: a SINGLE_ISSUER ring belongs to its creator */
    w->tcp_br = buf_ring_setup(w, TCP_GROUP, &w->tcp_bufs, TCP_NBUF, TCP_BUF);
    w->udp_br = buf_ring_setup(w, UDP_GROUP, &w->udp_bufs, UDP_NBUF, UDP_BUF);
    w->udp_recv_msg.msg_namelen = sizeof(struct sockaddr_storage);
    arm_accept(w);
    arm_udp(w);
    io_uring_prep_poll_add(get_sqe(w, UD(K_STOP, 0)), w->stopfd, POLLIN);
    io_uring_submit(&w->ring);
    pthread_barrier_wait(w->ready);

    while (!w->stopping || w->inflight > 0) {
        struct io_uring_cqe *cqe;
        int rc;
        if (!w->stopping) {
            rc = io_uring_submit_and_wait(&w->ring, 1);
        } else { /* draining: do not hang forever on a stuck operation */
            struct __kernel_timespec ts = {.tv_sec = 2};
            rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
            if (rc == -ETIME) {
                fprintf(stderr, "uring server: %u operations did not finish\n", w->inflight);
                break;
            }
        }
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
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
    while (w->conns)
        conn_free(w, w->conns);
    io_uring_queue_exit(&w->ring);
    free(w->tcp_br);
    free(w->udp_br);
    free(w->tcp_bufs);
    free(w->udp_bufs);
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
        w->o = &o;
        w->lfd = server_tcp_listener(o.port);
        w->ufd = server_udp_socket(o.port);
        w->stopfd = stopfd;
        w->ready = &ready;
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
        pthread_join(ws[i].tid, NULL);
        close(ws[i].lfd);
        close(ws[i].ufd);
    }
    pthread_barrier_destroy(&ready);
    close(stopfd);
    free(ws);
    return 0;
}
