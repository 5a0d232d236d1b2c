/*
 * test_io_engine.c - the I/O engine against real loopback sockets, on both
 * backends: every case runs on io_uring (reported and skipped if this
 * machine has none), on io_uring with its old-kernel paths forced
 * (OPENWSK_IO_URING_COMPAT=1), and on epoll.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ntddk.h>

#include "io/io_engine.h"
#include "wt.h"

/* ---- helpers ---- */

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cond = PTHREAD_COND_INITIALIZER;
static int t_bad_context; /* completions seen off an engine thread or not at DISPATCH_LEVEL */

/* One tracked operation: completion count, result, order. */
typedef struct top {
    io_op op;
    int count;
    long result;
    int seq;
} top;

static int t_seq;

static void t_note_context(void)
{
    if (KeGetCurrentIrql() != DISPATCH_LEVEL || !io_engine_on_engine_thread())
        __atomic_add_fetch(&t_bad_context, 1, __ATOMIC_RELAXED);
}

static void top_complete(io_op *op, long result)
{
    t_note_context();
    top *t = op->context;
    pthread_mutex_lock(&t_lock);
    t->count++;
    t->result = result;
    t->seq = ++t_seq;
    pthread_cond_broadcast(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

static void top_init(top *t, io_op_kind kind, int fd)
{
    memset(t, 0, sizeof *t);
    t->op.kind = kind;
    t->op.fd = fd;
    t->op.complete = top_complete;
    t->op.context = t;
}

static int top_count(top *t)
{
    pthread_mutex_lock(&t_lock);
    int n = t->count;
    pthread_mutex_unlock(&t_lock);
    return n;
}

/* Waits up to 5 s for the op's completion; returns its count. */
static int top_wait(top *t)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&t_lock);
    while (t->count == 0) {
        if (pthread_cond_timedwait(&t_cond, &t_lock, &dl) == ETIMEDOUT)
            break;
    }
    int n = t->count;
    pthread_mutex_unlock(&t_lock);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct sockaddr_in loopback(unsigned short port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = port;
    return a;
}

/* A listening TCP socket on 127.0.0.1, ephemeral port; *addr gets its address. */
static int make_listener(int flags, struct sockaddr_in *addr, int rcvbuf)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (rcvbuf)
        setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    *addr = loopback(0);
    socklen_t len = sizeof *addr;
    if (bind(l, (struct sockaddr *)addr, sizeof *addr) < 0 || listen(l, 16) < 0 ||
        getsockname(l, (struct sockaddr *)addr, &len) < 0) {
        perror("listener");
        exit(2);
    }
    return l;
}

/* A connected TCP pair: *a non-blocking (the engine's side), *b blocking
 * (the test's side).  Optional small buffers make big sends go partial. */
static void tcp_pair(int *a, int *b, int small_buffers)
{
    struct sockaddr_in addr;
    int bufsize = 64 * 1024;
    int l = make_listener(0, &addr, small_buffers ? bufsize : 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (small_buffers)
        setsockopt(c, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
    if (connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        exit(2);
    }
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *a = c;
    *b = s;
}

static void close_engine_fd(int fd)
{
    io_engine_forget_fd(fd);
    close(fd);
}

static void read_all(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n <= 0) {
            WT_FAIL("recv returned %zd (errno %d) after %zu of %zu bytes", n, errno, got, len);
            return;
        }
        got += (size_t)n;
    }
}

/* A RECVMSG op with its own single-iovec msghdr. */
typedef struct trecv {
    top t;
    struct msghdr msg;
    struct iovec iov;
    unsigned char buf[64];
} trecv;

static void trecv_init(trecv *r, int fd, size_t len)
{
    top_init(&r->t, IO_OP_RECVMSG, fd);
    memset(&r->msg, 0, sizeof r->msg);
    r->iov.iov_base = r->buf;
    r->iov.iov_len = len;
    r->msg.msg_iov = &r->iov;
    r->msg.msg_iovlen = 1;
    r->t.op.msg = &r->msg;
}

/* ---- cases ---- */

static void t_recv_after_send(void)
{
    int a, b;
    tcp_pair(&a, &b, 0);
    trecv r;
    trecv_init(&r, a, sizeof r.buf);
    io_submit(&r.t.op);
    sleep_ms(20);
    CHECK_EQ(top_count(&r.t), 0); /* nothing to read yet: pending */
    CHECK_EQ(send(b, "hello, wsk", 10, 0), 10);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 10);
    CHECK_MEM(r.buf, "hello, wsk", 10);

    /* Data already there completes at once; peer close gives 0. */
    CHECK_EQ(send(b, "xy", 2, 0), 2);
    sleep_ms(5);
    trecv_init(&r, a, sizeof r.buf);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 2);
    close(b);
    trecv_init(&r, a, sizeof r.buf);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 0);
    close_engine_fd(a);
}

/* The engine's first operation on an fd is a receive, and the peer's data
 * (or its close) is already there: the epoll backend does not try a new
 * fd's first read at once but waits for readiness, which its registration
 * must report (also for an accepted fd whose connection queued before the
 * engine's first ACCEPT on the listener). */
static void t_first_op_finds_data(void)
{
    int a, b;
    tcp_pair(&a, &b, 0);
    CHECK_EQ(send(b, "early", 5, 0), 5);
    sleep_ms(5);
    trecv r;
    trecv_init(&r, a, sizeof r.buf);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 5);
    CHECK_MEM(r.buf, "early", 5);
    close_engine_fd(a);

    int c, d;
    tcp_pair(&c, &d, 0);
    close(d);
    sleep_ms(5);
    trecv_init(&r, c, sizeof r.buf);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 0);
    close_engine_fd(c);

    struct sockaddr_in addr;
    int l = make_listener(SOCK_NONBLOCK, &addr, 0);
    int e = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(connect(e, (struct sockaddr *)&addr, sizeof addr), 0);
    sleep_ms(5);
    top t;
    top_init(&t, IO_OP_ACCEPT, l);
    t.op.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result >= 0);
    if (t.result >= 0) {
        int s = (int)t.result;
        CHECK_EQ(send(e, "z", 1, 0), 1);
        sleep_ms(5);
        trecv_init(&r, s, sizeof r.buf);
        io_submit(&r.t.op);
        CHECK_EQ(top_wait(&r.t), 1);
        CHECK_EQ(r.t.result, 1);
        close_engine_fd(s);
    }
    close(e);
    close_engine_fd(l);
}

static void t_udp_recvmsg_from(void)
{
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int v = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in ua = loopback(0), va = loopback(0);
    socklen_t len = sizeof ua;
    bind(u, (struct sockaddr *)&ua, sizeof ua);
    getsockname(u, (struct sockaddr *)&ua, &len);
    bind(v, (struct sockaddr *)&va, sizeof va);
    len = sizeof va;
    getsockname(v, (struct sockaddr *)&va, &len);

    trecv r;
    trecv_init(&r, u, 4); /* smaller than the datagram: MSG_TRUNC */
    struct sockaddr_in from;
    memset(&from, 0, sizeof from);
    r.msg.msg_name = &from;
    r.msg.msg_namelen = sizeof from;
    io_submit(&r.t.op);
    sleep_ms(10);
    CHECK_EQ(sendto(v, "datagram", 8, 0, (struct sockaddr *)&ua, sizeof ua), 8);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 4);
    CHECK_MEM(r.buf, "data", 4);
    CHECK_EQ(r.msg.msg_namelen, sizeof from);
    CHECK_EQ(from.sin_port, va.sin_port);
    CHECK(r.msg.msg_flags & MSG_TRUNC);

    /* A datagram send completes with its length. */
    top t;
    top_init(&t, IO_OP_SENDMSG, u);
    struct iovec iov = {(void *)"pong", 4};
    struct msghdr msg = {.msg_name = &va, .msg_namelen = sizeof va, .msg_iov = &iov, .msg_iovlen = 1};
    t.op.msg = &msg;
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK_EQ(t.result, 4);
    char buf[8];
    CHECK_EQ(recv(v, buf, sizeof buf, 0), 4);
    close_engine_fd(u);
    close(v);
}

static unsigned char pattern_byte(size_t i, unsigned salt)
{
    return (unsigned char)((i * 131u + (i >> 12) + salt) & 0xff);
}

static void t_send_4mib(void)
{
    enum { SIZE = 4 << 20 };
    int a, b;
    tcp_pair(&a, &b, 1);
    unsigned char *out = malloc(SIZE), *in = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        out[i] = pattern_byte(i, 0);
    /* Uneven iovecs so continuations start inside an iovec. */
    struct iovec iov[4] = {{out, 1000}, {out + 1000, 0}, {out + 1000, (3 << 20) + 7}, {out + 1000 + (3 << 20) + 7, 0}};
    iov[3].iov_len = SIZE - 1000 - ((3 << 20) + 7);
    struct iovec copy[4];
    memcpy(copy, iov, sizeof iov);
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 4};
    top t;
    top_init(&t, IO_OP_SENDMSG, a);
    t.op.msg = &msg;
    io_submit(&t.op);
    sleep_ms(50);
    CHECK_EQ(top_count(&t), 0); /* 4 MiB cannot fit in ~256 KiB of buffers */
    read_all(b, in, SIZE);
    CHECK_EQ(top_wait(&t), 1);
    CHECK_EQ(t.result, SIZE);
    CHECK_EQ(t.op.transferred, SIZE);
    CHECK(memcmp(in, out, SIZE) == 0);
    CHECK(memcmp(iov, copy, sizeof iov) == 0); /* the caller's iovecs read back unchanged */
    free(out);
    free(in);
    close_engine_fd(a);
    close(b);
}

static void t_send_order(void)
{
    enum { SIZE = 1 << 20, N = 3 };
    int a, b;
    tcp_pair(&a, &b, 1);
    unsigned char *out[N], *in = malloc((size_t)SIZE * N);
    struct iovec iov[N];
    struct msghdr msg[N];
    top t[N];
    for (int k = 0; k < N; k++) {
        out[k] = malloc(SIZE);
        for (size_t i = 0; i < SIZE; i++)
            out[k][i] = pattern_byte(i, 77u * (unsigned)(k + 1));
        iov[k] = (struct iovec){out[k], SIZE};
        msg[k] = (struct msghdr){.msg_iov = &iov[k], .msg_iovlen = 1};
        top_init(&t[k], IO_OP_SENDMSG, a);
        t[k].op.msg = &msg[k];
    }
    for (int k = 0; k < N; k++)
        io_submit(&t[k].op);
    read_all(b, in, (size_t)SIZE * N);
    for (int k = 0; k < N; k++) {
        CHECK_EQ(top_wait(&t[k]), 1);
        CHECK_EQ(t[k].result, SIZE);
        CHECK(memcmp(in + (size_t)k * SIZE, out[k], SIZE) == 0); /* no interleaving */
        if (k > 0)
            CHECK(t[k].seq > t[k - 1].seq); /* completions in submission order */
        free(out[k]);
    }
    free(in);
    close_engine_fd(a);
    close(b);
}

/* A send submitted by another thread while the fd's engine thread runs a
 * completion routine, then a send submitted by that routine: they go out
 * in submission order (the routine's, issued on the engine thread itself,
 * does not overtake the one queued for that thread). */
static struct {
    top call, a, b;
    struct iovec iov_a, iov_b;
    struct msghdr msg_a, msg_b;
    int in_routine, a_submitted;
} t_ord;

static void ord_call_complete(io_op *op, long result)
{
    __atomic_store_n(&t_ord.in_routine, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 5000 && !__atomic_load_n(&t_ord.a_submitted, __ATOMIC_ACQUIRE); i++)
        sleep_ms(1);
    io_submit(&t_ord.b.op);
    top_complete(op, result);
}

static void t_send_order_engine_thread(void)
{
    int a, b;
    tcp_pair(&a, &b, 0);
    memset(&t_ord, 0, sizeof t_ord);
    top_init(&t_ord.call, IO_OP_CALL, a); /* runs on a's engine thread */
    t_ord.call.op.complete = ord_call_complete;
    top_init(&t_ord.a, IO_OP_SENDMSG, a);
    top_init(&t_ord.b, IO_OP_SENDMSG, a);
    t_ord.iov_a = (struct iovec){"A", 1};
    t_ord.iov_b = (struct iovec){"B", 1};
    t_ord.msg_a = (struct msghdr){.msg_iov = &t_ord.iov_a, .msg_iovlen = 1};
    t_ord.msg_b = (struct msghdr){.msg_iov = &t_ord.iov_b, .msg_iovlen = 1};
    t_ord.a.op.msg = &t_ord.msg_a;
    t_ord.b.op.msg = &t_ord.msg_b;

    io_engine_post(&t_ord.call.op);
    for (int i = 0; i < 5000 && !__atomic_load_n(&t_ord.in_routine, __ATOMIC_ACQUIRE); i++)
        sleep_ms(1);
    CHECK(__atomic_load_n(&t_ord.in_routine, __ATOMIC_ACQUIRE));
    io_submit(&t_ord.a.op); /* while a's engine thread is inside the routine */
    __atomic_store_n(&t_ord.a_submitted, 1, __ATOMIC_RELEASE);

    unsigned char in[2] = {0, 0};
    read_all(b, in, 2);
    CHECK_EQ(in[0], 'A');
    CHECK_EQ(in[1], 'B');
    CHECK_EQ(top_wait(&t_ord.call), 1);
    CHECK_EQ(top_wait(&t_ord.a), 1);
    CHECK_EQ(top_wait(&t_ord.b), 1);
    CHECK_EQ(t_ord.a.result, 1);
    CHECK_EQ(t_ord.b.result, 1);
    CHECK(t_ord.b.seq > t_ord.a.seq);
    close_engine_fd(a);
    close(b);
}

static void t_accept(void)
{
    struct sockaddr_in addr;
    int l = make_listener(SOCK_NONBLOCK, &addr, 0);
    top t;
    top_init(&t, IO_OP_ACCEPT, l);
    struct sockaddr_in peer;
    socklen_t peerlen = 0;
    t.op.addr = (struct sockaddr *)&peer;
    t.op.addrlen = &peerlen;
    t.op.addr_len_in = sizeof peer;
    t.op.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    io_submit(&t.op);
    sleep_ms(20);
    CHECK_EQ(top_count(&t), 0);

    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result >= 0);
    if (t.result >= 0) {
        int s = (int)t.result;
        struct sockaddr_in local;
        socklen_t len = sizeof local;
        getsockname(c, (struct sockaddr *)&local, &len);
        CHECK_EQ(peerlen, sizeof peer);
        CHECK_EQ(peer.sin_family, AF_INET);
        CHECK_EQ(peer.sin_port, local.sin_port);
        CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
        CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC);
        CHECK_EQ(send(c, "z", 1, 0), 1);
        char ch = 0;
        struct pollfd p = {s, POLLIN, 0};
        poll(&p, 1, 2000);
        CHECK_EQ(recv(s, &ch, 1, 0), 1);
        CHECK_EQ(ch, 'z');
        close(s);
    }
    close(c);
    close_engine_fd(l);
}

/* ---- accepting ahead (io_op.accept_ahead) ---- */

/* A listener with room for every client these cases make (the engine may
 * not take them ahead: epoll, the compat pass). */
static int make_roomy_listener(struct sockaddr_in *addr)
{
    int l = make_listener(SOCK_NONBLOCK, addr, 0);
    CHECK_EQ(listen(l, 64), 0);
    return l;
}

static void ahead_init(top *t, int l, struct sockaddr_in *peer, socklen_t *peerlen, unsigned char ahead)
{
    top_init(t, IO_OP_ACCEPT, l);
    t->op.addr = (struct sockaddr *)peer;
    t->op.addrlen = peerlen;
    t->op.addr_len_in = sizeof *peer;
    t->op.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    t->op.accept_ahead = ahead;
}

static int connect_to(const struct sockaddr_in *addr)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(connect(c, (const struct sockaddr *)addr, sizeof *addr), 0);
    return c;
}

static unsigned short local_port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    return a.sin_port;
}

/* Nothing listens on addr any more: a connect is refused at once. */
static void expect_refused(const struct sockaddr_in *addr)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = connect(c, (const struct sockaddr *)addr, sizeof *addr);
    int e = errno;
    CHECK_EQ(rc, -1);
    CHECK_EQ(e, ECONNREFUSED);
    close(c);
}

/* Accepts one connection with an accept-ahead ACCEPT on a new listener
 * (the multishot stays armed: the completion does not end it); returns
 * the listener, *c0 the client, *first its accepted fd. */
static int ahead_started(struct sockaddr_in *addr, int *c0, int *first)
{
    int l = make_roomy_listener(addr);
    struct sockaddr_in peer;
    socklen_t peerlen = 0;
    top t;
    ahead_init(&t, l, &peer, &peerlen, 1);
    io_submit(&t.op);
    *c0 = connect_to(addr);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result >= 0);
    CHECK_EQ(peer.sin_port, local_port_of(*c0));
    *first = (int)t.result;
    return l;
}

static void ahead_finish(int l, int c0, int first)
{
    if (first >= 0)
        close(first);
    close(c0);
    close_engine_fd(l);
}

/* The peer reset the connection c (a listener's backlog at close): its
 * next recv says so within 2 s. */
static void expect_reset(int c)
{
    struct pollfd p = {c, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 2000), 1);
    char ch;
    CHECK_EQ(recv(c, &ch, 1, 0), -1);
    CHECK_EQ(errno, ECONNRESET);
}

/* The first accept-ahead ACCEPT takes one connection and its caller does
 * not submit another: the 20 connections that come next wait (in the
 * engine or in Linux's backlog) for plain ACCEPTs, which get them in the
 * order they connected, each with its own peer's address - more than the
 * engine holds before it stops taking them. */
static void t_accept_ahead_serves_later_accepts(void)
{
    enum { N = 20 };
    struct sockaddr_in addr;
    int c0, first;
    int l = ahead_started(&addr, &c0, &first);
    struct sockaddr_in peer;
    socklen_t peerlen = 0;
    int c[N];
    for (int i = 0; i < N; i++)
        c[i] = connect_to(&addr);
    sleep_ms(50); /* let the engine take them */
    for (int i = 0; i < N; i++) {
        top t;
        memset(&peer, 0, sizeof peer);
        ahead_init(&t, l, &peer, &peerlen, 0);
        io_submit(&t.op);
        CHECK_EQ(top_wait(&t), 1);
        CHECK(t.result >= 0);
        CHECK_EQ(peerlen, sizeof peer);
        CHECK_EQ(peer.sin_family, AF_INET);
        CHECK_EQ(ntohs(peer.sin_port), ntohs(local_port_of(c[i])));
        if (t.result >= 0)
            close((int)t.result);
        close(c[i]);
    }
    /* A cancelled accept-ahead ACCEPT ends accepting ahead. */
    top last;
    ahead_init(&last, l, &peer, &peerlen, 1);
    io_submit(&last.op);
    sleep_ms(10);
    CHECK_EQ(io_cancel(&last.op), 0);
    CHECK_EQ(top_wait(&last), 1);
    CHECK_EQ(last.result, -ECANCELED);
    ahead_finish(l, c0, first);
    expect_refused(&addr);
}

/* Connections taken ahead that nobody accepts are reset when the listener
 * is forgotten and closed, like those in a Linux listener's backlog; the
 * end is requested from a thread other than the engine's. */
static void t_accept_ahead_forget_resets(void)
{
    enum { N = 3 };
    struct sockaddr_in addr;
    int c0, first;
    int l = ahead_started(&addr, &c0, &first);
    int c[N];
    for (int i = 0; i < N; i++)
        c[i] = connect_to(&addr);
    sleep_ms(50);
    io_engine_accept_ahead_end(l); /* not on the engine thread: requested */
    sleep_ms(200);
    ahead_finish(l, c0, first);
    expect_refused(&addr);
    for (int i = 0; i < N; i++) {
        expect_reset(c[i]);
        close(c[i]);
    }
}

/* The completion of the last accept-ahead ACCEPT ends accepting ahead on
 * the engine thread; the listener's port is free the moment it is closed
 * after that (the ring no longer holds the listening socket). */
static void ahead_end_complete(io_op *op, long result)
{
    io_engine_accept_ahead_end(op->fd);
    top_complete(op, result);
}

static void t_accept_ahead_end_frees_port(void)
{
    for (int round = 0; round < 20; round++) {
        struct sockaddr_in addr;
        int l = make_roomy_listener(&addr);
        struct sockaddr_in peer;
        socklen_t peerlen = 0;
        top t;
        ahead_init(&t, l, &peer, &peerlen, 1);
        t.op.complete = ahead_end_complete;
        io_submit(&t.op);
        int c0 = connect_to(&addr);
        CHECK_EQ(top_wait(&t), 1);
        CHECK(t.result >= 0);
        close_engine_fd(l);
        expect_refused(&addr);
        if (t.result >= 0)
            close((int)t.result);
        close(c0);
    }
}

/* A plain ACCEPT served a connection taken ahead gets its own flags, not
 * the ones the multishot accepted with. */
static void t_accept_ahead_keeps_each_accepts_flags(void)
{
    struct sockaddr_in addr;
    int c0, first;
    int l = ahead_started(&addr, &c0, &first);
    int c1 = connect_to(&addr);
    sleep_ms(50); /* taken ahead (io_uring) */
    struct sockaddr_in peer;
    socklen_t peerlen = 0;
    top t;
    ahead_init(&t, l, &peer, &peerlen, 0);
    t.op.accept_flags = 0; /* blocking, inherited by exec */
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result >= 0);
    if (t.result >= 0) {
        CHECK(!(fcntl((int)t.result, F_GETFL) & O_NONBLOCK));
        CHECK(!(fcntl((int)t.result, F_GETFD) & FD_CLOEXEC));
        close((int)t.result);
    }
    io_engine_accept_ahead_end(l);
    sleep_ms(200);
    close(c1);
    ahead_finish(l, c0, first);
}

/* A listener shut down while it holds a connection taken ahead: the next
 * ACCEPT gets Linux's error, and the held connection is reset, as Linux
 * resets the backlog of a listener it shuts down. */
static void t_accept_ahead_dead_listener(void)
{
    struct sockaddr_in addr;
    int c0, first;
    int l = ahead_started(&addr, &c0, &first);
    int c1 = connect_to(&addr);
    sleep_ms(50);
    CHECK_EQ(shutdown(l, SHUT_RDWR), 0);
    struct sockaddr_in peer;
    socklen_t peerlen = 0;
    top t;
    ahead_init(&t, l, &peer, &peerlen, 1);
    t.op.complete = ahead_end_complete;
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK_EQ(t.result, -EINVAL);
    if (t.result >= 0)
        close((int)t.result);
    expect_reset(c1);
    close(c1);
    ahead_finish(l, c0, first);
}

/* An accept-ahead ACCEPT cancelled while queued behind another ACCEPT
 * ends accepting ahead too: once the other ACCEPT has its connection, the
 * listener can be forgotten and closed from any thread, and nothing
 * listens any more. */
static void t_accept_ahead_cancel_queued_ends(void)
{
    struct sockaddr_in addr;
    int c0, first;
    int l = ahead_started(&addr, &c0, &first);
    struct sockaddr_in peer;
    socklen_t peerlen = 0;
    top plain, queued;
    ahead_init(&plain, l, &peer, &peerlen, 0);
    io_submit(&plain.op);
    ahead_init(&queued, l, &peer, &peerlen, 1);
    io_submit(&queued.op);
    sleep_ms(20);
    CHECK_EQ(io_cancel(&queued.op), 0);
    CHECK_EQ(top_wait(&queued), 1);
    CHECK_EQ(queued.result, -ECANCELED);
    int c1 = connect_to(&addr);
    CHECK_EQ(top_wait(&plain), 1);
    CHECK(plain.result >= 0);
    ahead_finish(l, c0, first);
    expect_refused(&addr);
    if (plain.result >= 0)
        close((int)plain.result);
    close(c1);
}

/* ---- which engine thread serves an accepted socket ---- */

typedef struct tshard {
    top t; /* first: top_complete takes the context as a top */
    void *shard;
} tshard;

static void shard_complete(io_op *op, long result)
{
    tshard *ts = op->context;
    __atomic_store_n(&ts->shard, io_engine_current_shard(), __ATOMIC_RELEASE);
    top_complete(op, result);
}

/* The shard whose thread completes operations on fd (a POLL for POLLOUT,
 * which a connected socket answers at once). */
static void *shard_serving(int fd)
{
    tshard ts;
    top_init(&ts.t, IO_OP_POLL, fd);
    ts.shard = NULL;
    ts.t.op.complete = shard_complete;
    ts.t.op.poll_events = POLLOUT;
    io_submit(&ts.t.op);
    CHECK_EQ(top_wait(&ts.t), 1);
    return __atomic_load_n(&ts.shard, __ATOMIC_ACQUIRE);
}

/* Accepts one connection on listener l (address addr); *client gets the
 * connecting side, *accept_shard the thread that completed the ACCEPT.
 * Returns the accepted fd, or -1. */
static int accept_one(int l, const struct sockaddr_in *addr, int *client, void **accept_shard)
{
    tshard ts;
    top_init(&ts.t, IO_OP_ACCEPT, l);
    ts.shard = NULL;
    ts.t.op.complete = shard_complete;
    ts.t.op.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    io_submit(&ts.t.op);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(connect(*client, (const struct sockaddr *)addr, sizeof *addr), 0);
    CHECK_EQ(top_wait(&ts.t), 1);
    CHECK(ts.t.result >= 0);
    *accept_shard = __atomic_load_n(&ts.shard, __ATOMIC_ACQUIRE);
    return (int)ts.t.result;
}

/* Two listeners (each on the shard serving the fewest fds, so one per
 * thread): every connection each accepts is served by the thread that
 * accepted it, where the accept's completion routine submits its first
 * operations, with no hand-off to another thread. */
static void t_accept_keeps_shard(void)
{
    enum { L = 2, PER = 4 };
    struct sockaddr_in addr[L];
    int l[L], c[L][PER], s[L][PER];
    void *listener_shard[L];
    for (int i = 0; i < L; i++) {
        l[i] = make_listener(SOCK_NONBLOCK, &addr[i], 0);
        listener_shard[i] = NULL;
    }
    for (int k = 0; k < PER; k++) {
        for (int i = 0; i < L; i++) {
            void *accepted_on = NULL;
            s[i][k] = accept_one(l[i], &addr[i], &c[i][k], &accepted_on);
            if (k == 0)
                listener_shard[i] = accepted_on;
            CHECK(accepted_on != NULL);
            CHECK(accepted_on == listener_shard[i]);
            if (s[i][k] >= 0)
                CHECK(shard_serving(s[i][k]) == accepted_on);
        }
    }
    CHECK(listener_shard[0] != listener_shard[1]);
    for (int i = 0; i < L; i++) {
        for (int k = 0; k < PER; k++) {
            if (s[i][k] >= 0)
                close_engine_fd(s[i][k]);
            close(c[i][k]);
        }
        close_engine_fd(l[i]);
    }
}

/* One listener: its connections do not all stay on its thread; once that
 * thread serves clearly more fds than the other, they go to the other. */
static void t_accept_spreads(void)
{
    enum { N = 12 };
    struct sockaddr_in addr;
    int l = make_listener(SOCK_NONBLOCK, &addr, 0);
    int c[N], s[N], on_listener = 0, elsewhere = 0;
    for (int k = 0; k < N; k++) {
        void *accepted_on = NULL;
        s[k] = accept_one(l, &addr, &c[k], &accepted_on);
        if (s[k] < 0)
            continue;
        if (shard_serving(s[k]) == accepted_on)
            on_listener++;
        else
            elsewhere++;
    }
    CHECK(on_listener > 0);
    CHECK(elsewhere > 0);
    for (int k = 0; k < N; k++) {
        if (s[k] >= 0)
            close_engine_fd(s[k]);
        close(c[k]);
    }
    close_engine_fd(l);
}

static void t_accept_blocking_listener(void)
{
    /* A blocking listener must not hang the engine (epoll switches it to
     * O_NONBLOCK, io_uring does not mind). */
    struct sockaddr_in addr;
    int l = make_listener(0, &addr, 0);
    top t;
    top_init(&t, IO_OP_ACCEPT, l);
    io_submit(&t.op);
    sleep_ms(10);
    CHECK_EQ(top_count(&t), 0);
    top p;
    top_init(&p, IO_OP_CALL, l); /* the listener's shard still runs */
    io_engine_post(&p.op);
    CHECK_EQ(top_wait(&p), 1);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result >= 0);
    if (t.result >= 0)
        close((int)t.result);
    close(c);
    close_engine_fd(l);
}

static void t_connect_ok(void)
{
    struct sockaddr_in addr;
    int l = make_listener(0, &addr, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    top t;
    top_init(&t, IO_OP_CONNECT, c);
    t.op.addr = (struct sockaddr *)&addr;
    t.op.addr_len_in = sizeof addr;
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK_EQ(t.result, 0);
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    CHECK(s >= 0);
    CHECK_EQ(send(c, "ok", 2, MSG_NOSIGNAL), 2);
    char buf[2];
    CHECK_EQ(recv(s, buf, 2, MSG_WAITALL), 2);
    close(s);
    close(l);
    close_engine_fd(c);
}

static void t_connect_refused(void)
{
    /* A port nobody listens on: bind, read it back, close. */
    int p = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    bind(p, (struct sockaddr *)&addr, sizeof addr);
    getsockname(p, (struct sockaddr *)&addr, &len);
    close(p);

    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    top t;
    top_init(&t, IO_OP_CONNECT, c);
    t.op.addr = (struct sockaddr *)&addr;
    t.op.addr_len_in = sizeof addr;
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK_EQ(t.result, -ECONNREFUSED);
    close_engine_fd(c);
}

static void t_poll(void)
{
    int a, b;
    tcp_pair(&a, &b, 0);
    top t;
    top_init(&t, IO_OP_POLL, a);
    t.op.poll_events = POLLIN;
    io_submit(&t.op);
    sleep_ms(20);
    CHECK_EQ(top_count(&t), 0);
    CHECK_EQ(send(b, "!", 1, 0), 1);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result > 0 && (t.result & POLLIN));

    /* Poll does not consume: a recv still gets the byte. */
    trecv r;
    trecv_init(&r, a, 8);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 1);

    top_init(&t, IO_OP_POLL, a);
    t.op.poll_events = POLLOUT;
    io_submit(&t.op);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result > 0 && (t.result & POLLOUT));

    /* Peer gone: a POLLIN poll reports it. */
    top_init(&t, IO_OP_POLL, a);
    t.op.poll_events = POLLIN;
    io_submit(&t.op);
    sleep_ms(5);
    close(b);
    CHECK_EQ(top_wait(&t), 1);
    CHECK(t.result > 0 && (t.result & (POLLIN | POLLHUP)));
    close_engine_fd(a);
}

static void t_cancel_pending_recv(void)
{
    int a, b;
    tcp_pair(&a, &b, 0);
    trecv r;
    trecv_init(&r, a, sizeof r.buf);
    io_submit(&r.t.op);
    sleep_ms(20);
    CHECK_EQ(top_count(&r.t), 0);
    CHECK_EQ(io_cancel(&r.t.op), 0);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, -ECANCELED);
    CHECK_EQ(io_cancel(&r.t.op), -EALREADY);
    sleep_ms(20);
    CHECK_EQ(top_count(&r.t), 1); /* exactly once */

    /* The socket is intact and no data was eaten. */
    CHECK_EQ(send(b, "xyz", 3, 0), 3);
    trecv_init(&r, a, sizeof r.buf);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 3);
    CHECK_MEM(r.buf, "xyz", 3);

    /* Never submitted: nothing to cancel. */
    trecv_init(&r, a, sizeof r.buf);
    CHECK_EQ(io_cancel(&r.t.op), -ENOENT);
    close_engine_fd(a);
    close(b);
}

static void t_cancel_queued_behind(void)
{
    /* A second recv waits behind the first; cancelling it must not wait for
     * the first, and the first still gets the data. */
    int a, b;
    tcp_pair(&a, &b, 0);
    trecv r1, r2;
    trecv_init(&r1, a, sizeof r1.buf);
    trecv_init(&r2, a, sizeof r2.buf);
    io_submit(&r1.t.op);
    io_submit(&r2.t.op);
    sleep_ms(10);
    CHECK_EQ(io_cancel(&r2.t.op), 0);
    CHECK_EQ(top_wait(&r2.t), 1);
    CHECK_EQ(r2.t.result, -ECANCELED);
    CHECK_EQ(top_count(&r1.t), 0);
    CHECK_EQ(send(b, "q", 1, 0), 1);
    CHECK_EQ(top_wait(&r1.t), 1);
    CHECK_EQ(r1.t.result, 1);
    CHECK_EQ(r1.buf[0], 'q');
    close_engine_fd(a);
    close(b);
}

static void t_cancel_race(void)
{
    enum { N = 2000 };
    int a, b;
    tcp_pair(&a, &b, 0);
    trecv *ops = calloc(N, sizeof *ops);
    int cancelled = 0, completed = 0;
    for (int i = 0; i < N; i++) {
        trecv *r = &ops[i];
        trecv_init(r, a, 1);
        unsigned char byte = (unsigned char)i;
        io_submit(&r->t.op);
        switch (i % 4) {
        case 0: /* cancel before the data, likely before the op even started */
            io_cancel(&r->t.op);
            CHECK_EQ(send(b, &byte, 1, 0), 1);
            break;
        case 1: /* data and cancel back to back */
            CHECK_EQ(send(b, &byte, 1, 0), 1);
            io_cancel(&r->t.op);
            break;
        default: /* data, then cancel a little later */
            CHECK_EQ(send(b, &byte, 1, 0), 1);
            for (volatile int spin = 0; spin < (i % 97) * 20; spin++)
                ;
            io_cancel(&r->t.op);
            break;
        }
        if (top_wait(&r->t) != 1) {
            WT_FAIL("op %d: no completion", i);
            break;
        }
        if (r->t.result == 1) {
            completed++;
            CHECK_EQ(r->buf[0], byte);
        } else if (r->t.result == -ECANCELED) {
            cancelled++;
            /* The byte is still in the socket: take it out directly. */
            unsigned char got = 0;
            struct pollfd p = {a, POLLIN, 0};
            poll(&p, 1, 2000);
            CHECK_EQ(recv(a, &got, 1, 0), 1);
            CHECK_EQ(got, byte);
        } else {
            WT_FAIL("op %d: result %ld", i, r->t.result);
        }
    }
    sleep_ms(20);
    int doubles = 0;
    for (int i = 0; i < N; i++) {
        if (top_count(&ops[i].t) != 1)
            doubles++;
    }
    CHECK_EQ(doubles, 0);
    CHECK_EQ(cancelled + completed, N);
    fprintf(stderr, "  %d cancelled, %d completed with data\n", cancelled, completed);
    free(ops);
    close_engine_fd(a);
    close(b);
}

typedef struct ctx_probe {
    top t;
    KIRQL irql;
    int on_engine;
} ctx_probe;

static void probe_complete(io_op *op, long result)
{
    ctx_probe *p = op->context;
    p->irql = KeGetCurrentIrql();
    p->on_engine = io_engine_on_engine_thread();
    top_complete(op, result);
}

static void t_dispatch_level(void)
{
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK(!io_engine_on_engine_thread());
    ctx_probe p;
    top_init(&p.t, IO_OP_CALL, -1);
    p.t.op.context = &p;
    p.t.op.complete = probe_complete;
    io_engine_post(&p.t.op);
    CHECK_EQ(top_wait(&p.t), 1);
    CHECK_EQ(p.t.result, 0);
    CHECK_EQ(p.irql, DISPATCH_LEVEL);
    CHECK(p.on_engine);

    /* An I/O completion, including one decided inline at submit time. */
    int a, b;
    tcp_pair(&a, &b, 0);
    CHECK_EQ(send(b, "d", 1, 0), 1);
    sleep_ms(5);
    ctx_probe q;
    trecv r;
    trecv_init(&r, a, 8);
    memcpy(&q.t, &r.t, sizeof q.t);
    q.t.op.context = &q;
    q.t.op.complete = probe_complete;
    io_submit(&q.t.op);
    CHECK_EQ(top_wait(&q.t), 1);
    CHECK_EQ(q.t.result, 1);
    CHECK_EQ(q.irql, DISPATCH_LEVEL);
    CHECK(q.on_engine);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK_EQ(__atomic_load_n(&t_bad_context, __ATOMIC_RELAXED), 0);
    close_engine_fd(a);
    close(b);
}

/* Re-entrancy: a recv that re-submits itself from complete() until it has
 * read 100 bytes, posting a self-freeing call each time and, at the end,
 * cancelling another pending op, then freeing its own memory. */
typedef struct chain {
    io_op op;
    struct msghdr msg;
    struct iovec iov;
    unsigned char byte;
    unsigned char seen[100];
    int n;
    top *victim;
    int *done;
} chain;

static int t_calls_run;
static int t_chain_errors; /* checked on the test thread: WT_FAIL is not thread-safe */

static void call_free_complete(io_op *op, long result)
{
    t_note_context();
    __atomic_add_fetch(&t_calls_run, 1, __ATOMIC_RELAXED);
    free(op);
}

static void chain_complete(io_op *op, long result)
{
    t_note_context();
    chain *c = op->context;
    if (result != 1)
        __atomic_add_fetch(&t_chain_errors, 1, __ATOMIC_RELAXED);
    else
        c->seen[c->n++] = c->byte;
    io_op *call = calloc(1, sizeof *call);
    call->kind = IO_OP_CALL;
    call->fd = -1;
    call->complete = call_free_complete;
    io_engine_post(call);
    if (result == 1 && c->n < 100) {
        io_submit(op); /* the same op memory, again */
        return;
    }
    if (io_cancel(&c->victim->op) != 0)
        __atomic_add_fetch(&t_chain_errors, 1, __ATOMIC_RELAXED);
    int *done = c->done;
    int fail = c->n != 100;
    for (int i = 0; i < c->n; i++)
        fail |= c->seen[i] != (unsigned char)i;
    if (fail)
        __atomic_add_fetch(&t_chain_errors, 1, __ATOMIC_RELAXED);
    free(c); /* the op's own memory, inside its completion routine */
    pthread_mutex_lock(&t_lock);
    *done = 1;
    pthread_cond_broadcast(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

static void t_reentrant(void)
{
    int a, b, v, w;
    tcp_pair(&a, &b, 0);
    tcp_pair(&v, &w, 0);
    trecv victim;
    trecv_init(&victim, v, 8);
    io_submit(&victim.t.op);

    int done = 0;
    __atomic_store_n(&t_calls_run, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t_chain_errors, 0, __ATOMIC_RELAXED);
    chain *c = calloc(1, sizeof *c);
    c->iov = (struct iovec){&c->byte, 1};
    c->msg.msg_iov = &c->iov;
    c->msg.msg_iovlen = 1;
    c->op.kind = IO_OP_RECVMSG;
    c->op.fd = a;
    c->op.complete = chain_complete;
    c->op.context = c;
    c->op.msg = &c->msg;
    c->victim = &victim.t;
    c->done = &done;
    io_submit(&c->op);
    unsigned char bytes[100];
    for (int i = 0; i < 100; i++)
        bytes[i] = (unsigned char)i;
    CHECK_EQ(send(b, bytes, 50, 0), 50);
    sleep_ms(2);
    CHECK_EQ(send(b, bytes + 50, 50, 0), 50);

    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&t_lock);
    while (!done && pthread_cond_timedwait(&t_cond, &t_lock, &dl) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&t_lock);
    CHECK(done);
    CHECK_EQ(__atomic_load_n(&t_chain_errors, __ATOMIC_RELAXED), 0);
    CHECK_EQ(top_wait(&victim.t), 1);
    CHECK_EQ(victim.t.result, -ECANCELED);
    for (int i = 0; i < 500 && __atomic_load_n(&t_calls_run, __ATOMIC_RELAXED) < 100; i++)
        sleep_ms(2);
    CHECK_EQ(__atomic_load_n(&t_calls_run, __ATOMIC_RELAXED), 100);
    close_engine_fd(a);
    close(b);
    close_engine_fd(v);
    close(w);
}

static void t_dontwait_flag(void)
{
    /* MSG_DONTWAIT from the caller changes nothing: the op still waits
     * (on io_uring the kernel answers -EAGAIN and the engine polls). */
    enum { SIZE = 2 << 20 };
    int a, b;
    tcp_pair(&a, &b, 1);
    trecv r;
    trecv_init(&r, a, sizeof r.buf);
    r.t.op.msg_flags = MSG_DONTWAIT;
    io_submit(&r.t.op);
    sleep_ms(10);
    CHECK_EQ(top_count(&r.t), 0);
    CHECK_EQ(send(b, "late", 4, 0), 4);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 4);

    unsigned char *out = malloc(SIZE), *in = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        out[i] = pattern_byte(i, 5);
    struct iovec iov = {out, SIZE};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    top t;
    top_init(&t, IO_OP_SENDMSG, a);
    t.op.msg = &msg;
    t.op.msg_flags = MSG_DONTWAIT;
    io_submit(&t.op);
    sleep_ms(10);
    read_all(b, in, SIZE);
    CHECK_EQ(top_wait(&t), 1);
    CHECK_EQ(t.result, SIZE);
    CHECK(memcmp(in, out, SIZE) == 0);
    free(out);
    free(in);
    close_engine_fd(a);
    close(b);
}

static void t_many_inflight(void)
{
    /* Many ops pending at once across shards; all complete, each once. */
    enum { N = 150 };
    int a[N], b[N];
    trecv *r = calloc(N, sizeof *r);
    for (int i = 0; i < N; i++) {
        tcp_pair(&a[i], &b[i], 0);
        trecv_init(&r[i], a[i], 8);
        io_submit(&r[i].t.op);
    }
    for (int i = 0; i < N; i++) {
        unsigned char byte = (unsigned char)i;
        CHECK_EQ(send(b[i], &byte, 1, 0), 1);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(top_wait(&r[i].t), 1);
        CHECK_EQ(r[i].t.result, 1);
        CHECK_EQ(r[i].buf[0], (unsigned char)i);
        close_engine_fd(a[i]);
        close(b[i]);
    }
    free(r);
}

static void t_bad_fd(void)
{
    trecv r;
    trecv_init(&r, -1, 8);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, -EBADF);

    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    trecv_init(&r, nul, 8);
    io_submit(&r.t.op);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, -ENOTSOCK);
    close_engine_fd(nul);
}

static void t_stop_start(void)
{
    const char *name = io_engine_backend();
    CHECK(name != NULL);
    char saved[16];
    snprintf(saved, sizeof saved, "%s", name ? name : "");

    io_engine_stop(); /* the pass's own reference: really stops */
    CHECK(io_engine_backend() == NULL);
    CHECK_EQ(io_engine_start(2), 0);
    CHECK_STR(io_engine_backend(), saved);
    CHECK_EQ(io_engine_start(0), 0); /* nested: refcount only */
    io_engine_stop();
    CHECK_STR(io_engine_backend(), saved); /* still running */

    top t;
    top_init(&t, IO_OP_CALL, -1);
    io_engine_post(&t.op);
    CHECK_EQ(top_wait(&t), 1);

    int a, b;
    tcp_pair(&a, &b, 0);
    trecv r;
    trecv_init(&r, a, 8);
    io_submit(&r.t.op);
    CHECK_EQ(send(b, "s", 1, 0), 1);
    CHECK_EQ(top_wait(&r.t), 1);
    CHECK_EQ(r.t.result, 1);
    close_engine_fd(a);
    close(b);
    /* The pass keeps the reference taken by the first start above. */
}

static void t_final_context_check(void)
{
    CHECK_EQ(__atomic_load_n(&t_bad_context, __ATOMIC_RELAXED), 0);
}

static void run_all(void)
{
    WT_RUN(t_recv_after_send);
    WT_RUN(t_first_op_finds_data);
    WT_RUN(t_udp_recvmsg_from);
    WT_RUN(t_send_4mib);
    WT_RUN(t_send_order);
    WT_RUN(t_send_order_engine_thread);
    WT_RUN(t_accept);
    WT_RUN(t_accept_blocking_listener);
    WT_RUN(t_accept_keeps_shard);
    WT_RUN(t_accept_ahead_serves_later_accepts);
    WT_RUN(t_accept_ahead_forget_resets);
    WT_RUN(t_accept_ahead_end_frees_port);
    WT_RUN(t_accept_ahead_keeps_each_accepts_flags);
    WT_RUN(t_accept_ahead_dead_listener);
    WT_RUN(t_accept_ahead_cancel_queued_ends);
    WT_RUN(t_accept_spreads);
    WT_RUN(t_connect_ok);
    WT_RUN(t_connect_refused);
    WT_RUN(t_poll);
    WT_RUN(t_cancel_pending_recv);
    WT_RUN(t_cancel_queued_behind);
    WT_RUN(t_cancel_race);
    WT_RUN(t_dispatch_level);
    WT_RUN(t_reentrant);
    WT_RUN(t_dontwait_flag);
    WT_RUN(t_many_inflight);
    WT_RUN(t_bad_fd);
    WT_RUN(t_stop_start);
    WT_RUN(t_final_context_check);
}

static int t_uring_available;

static void t_backend_selection(void)
{
    unsetenv("OPENWSK_IO_BACKEND");
    CHECK_EQ(io_engine_start(2), 0);
    const char *name = io_engine_backend();
    CHECK(name != NULL);
    t_uring_available = name && strcmp(name, "io_uring") == 0;
    fprintf(stderr, "  default backend: %s\n", name ? name : "(none)");
    io_engine_stop();

    setenv("OPENWSK_IO_BACKEND", "kqueue", 1);
    CHECK_EQ(io_engine_start(2), -EINVAL);
    CHECK(io_engine_backend() == NULL);

    setenv("OPENWSK_IO_BACKEND", "epoll", 1);
    CHECK_EQ(io_engine_start(1), 0);
    CHECK_STR(io_engine_backend(), "epoll");
    io_engine_stop();
    unsetenv("OPENWSK_IO_BACKEND");
}

enum { T_THREADS = 2 }; /* more than one shard: cross-thread paths get exercised */

static void run_pass(const char *title, const char *backend, const char *compat)
{
    setenv("OPENWSK_IO_BACKEND", backend, 1);
    if (compat)
        setenv("OPENWSK_IO_URING_COMPAT", compat, 1);
    else
        unsetenv("OPENWSK_IO_URING_COMPAT");
    int rc = io_engine_start(T_THREADS);
    if (rc == 0) {
        fprintf(stderr, "=== %s: backend %s, %d engine threads\n", title, io_engine_backend(), T_THREADS);
        run_all();
        io_engine_stop();
    } else if (strcmp(backend, "io_uring") == 0 && !t_uring_available) {
        fprintf(stderr, "=== %s: io_uring UNAVAILABLE on this machine (%s): pass SKIPPED\n", title, strerror(-rc));
        printf("%s skipped: io_uring unavailable (%s)\n", title, strerror(-rc));
    } else {
        WT_FAIL("%s: io_engine_start failed: %s", title, strerror(-rc));
        wt_cases_failed++;
    }
    unsetenv("OPENWSK_IO_BACKEND");
    unsetenv("OPENWSK_IO_URING_COMPAT");
}

int main(void)
{
    WT_RUN(t_backend_selection);
    run_pass("pass 1 (io_uring)", "io_uring", NULL);
    run_pass("pass 2 (io_uring, OPENWSK_IO_URING_COMPAT=1: poll-first and connect(2) paths)", "io_uring", "1");
    run_pass("pass 3 (epoll)", "epoll", NULL);
    return wt_finish();
}
