/* native_epoll_server.c - the native epoll anchor for the WSK echo server.
 *
 * TCP echo and UDP echo on 127.0.0.1:PORT, written the way a Linux
 * networking engineer would with epoll. Each of T worker threads owns an
 * epoll instance, a SO_REUSEPORT TCP listener and a SO_REUSEPORT UDP socket,
 * so the kernel spreads connections and datagram flows over the threads and
 * the threads share nothing.
 *
 * TCP, level-triggered: a ready connection gets a few recv + send rounds per
 * wake-up (streams need fewer epoll_wait calls, small echoes are not
 * starved). An echo the socket does not take in full stays in the buffer it
 * was read into: the connection keeps that buffer (the worker takes a spare
 * one for its next reads, so nothing is copied), watches EPOLLOUT alone
 * until it is flushed (reading stops meanwhile, which pushes back on a peer
 * that does not read), then goes straight back to reading.
 *
 * UDP: recvmmsg of up to 32 datagrams, each echoed to its sender by one
 * sendmmsg of the whole batch; a datagram the send buffer has no room for
 * is dropped, as UDP may (the client counts it lost and resends).
 */
#include "bench_util.h"
#include "server_common.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_BATCH 32
#define READ_ROUNDS 8 /* recv + send rounds per ready connection and wake-up */

struct conn {
    int fd;
    char *pend;               /* buffer holding echo bytes the socket did not take yet */
    size_t pend_off;          /* first unsent byte in pend */
    size_t pend_len;          /* end of the unsent bytes */
    struct conn *prev, *next; /* per-worker list, for cleanup at exit */
};

struct spare { /* a free SERVER_BUF_SIZE buffer */
    struct spare *next;
};

struct worker {
    pthread_t tid;
    const struct server_opts *o;
    int ep, lfd, ufd, stopfd;
    char *buf;            /* current TCP read buffer (SERVER_BUF_SIZE) */
    struct spare *spares; /* buffers given back by flushed connections */
    struct conn *conns;
    unsigned long tamper_count;
    /* UDP batch: one slot per datagram */
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iovs[UDP_BATCH];
    struct sockaddr_storage peers[UDP_BATCH];
    char *ubuf; /* UDP_BATCH * SERVER_BUF_SIZE */
};

/* epoll data for the non-connection descriptors: addresses of these tags. */
static char TAG_LISTEN, TAG_UDP, TAG_STOP;

static void epoll_add(int ep, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        bench_die_errno(1, "epoll_ctl ADD");
}

static void conn_watch(struct worker *w, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    (void)epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void give_back(struct worker *w, char *buf)
{
    struct spare *s = (struct spare *)(void *)buf;
    s->next = w->spares;
    w->spares = s;
}

/* A fresh read buffer for the worker; NULL if out of memory. */
static char *take_buffer(struct worker *w)
{
    if (w->spares) {
        char *b = (char *)w->spares;
        w->spares = w->spares->next;
        return b;
    }
    return malloc(SERVER_BUF_SIZE);
}

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd); /* also drops it from the epoll set */
    if (c->pend)
        give_back(w, c->pend);
    free(c);
}

static void on_accept(struct worker *w)
{
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or an aborted connection / EMFILE: try later */
        server_tune_accepted(fd);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        epoll_add(w->ep, fd, EPOLLIN, c);
    }
}

/* Echo what is readable. Returns false when the connection is finished. */
static bool conn_readable(struct worker *w, struct conn *c)
{
    for (int round = 0; round < READ_ROUNDS; round++) {
        ssize_t n = recv(c->fd, w->buf, SERVER_BUF_SIZE, 0);
        if (n == 0)
            return false; /* peer closed */
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (!server_tamper(w->o, &w->tamper_count, w->buf, (size_t)n))
            continue;
        ssize_t sent = send(c->fd, w->buf, (size_t)n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN)
                return false;
            sent = 0;
        }
        if (sent < n) {
            /* The connection keeps the buffer with the rest of the echo. */
            char *next = take_buffer(w);
            if (!next)
                return false;
            c->pend = w->buf;
            c->pend_off = (size_t)sent;
            c->pend_len = (size_t)n;
            w->buf = next;
            conn_watch(w, c, EPOLLOUT);
            return true;
        }
        if (n < SERVER_BUF_SIZE)
            return true; /* probably drained; level-triggered epoll tells us if not */
    }
    return true;
}

/* Flush kept bytes, then read again. Returns false when the connection is
 * finished. */
static bool conn_writable(struct worker *w, struct conn *c)
{
    while (c->pend_off < c->pend_len) {
        ssize_t sent = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
        if (sent < 0)
            return errno == EAGAIN || errno == EINTR;
        c->pend_off += (size_t)sent;
    }
    give_back(w, c->pend);
    c->pend = NULL;
    conn_watch(w, c, EPOLLIN);
    return conn_readable(w, c); /* the peer has probably sent more meanwhile */
}

static void on_udp(struct worker *w)
{
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < UDP_BATCH; i++) {
            w->iovs[i].iov_len = SERVER_BUF_SIZE;
            w->msgs[i].msg_hdr.msg_namelen = sizeof w->peers[i];
        }
        int n = recvmmsg(w->ufd, w->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        /* Echo each datagram to its sender: same slots, length as received.
         * Tampered-with drops are skipped by compacting the batch. */
        int out = 0;
        for (int i = 0; i < n; i++) {
            w->iovs[i].iov_len = w->msgs[i].msg_len;
            if (!server_tamper(w->o, &w->tamper_count, w->iovs[i].iov_base, w->msgs[i].msg_len))
                continue;
            if (out != i) {
                struct mmsghdr m = w->msgs[out];
                struct iovec v = w->iovs[out];
                w->msgs[out] = w->msgs[i];
                w->iovs[out] = w->iovs[i];
                w->msgs[out].msg_hdr.msg_iov = &w->iovs[out];
                w->msgs[i] = m;
                w->iovs[i] = v;
                w->msgs[i].msg_hdr.msg_iov = &w->iovs[i];
            }
            out++;
        }
        for (int done = 0; done < out;) {
            int s = sendmmsg(w->ufd, w->msgs + done, (unsigned)(out - done), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (s <= 0) {
                if (s < 0 && errno == EINTR)
                    continue;
                break; /* send buffer full (or an error): the rest is dropped, as UDP may */
            }
            done += s;
        }
        if (n < UDP_BATCH)
            return; /* probably drained; level-triggered epoll tells us if not */
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(w->ep, evs, 128, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            bench_die_errno(1, "epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &TAG_STOP)
                return NULL;
            if (p == &TAG_LISTEN) {
                on_accept(w);
            } else if (p == &TAG_UDP) {
                on_udp(w);
            } else {
                struct conn *c = p;
                bool ok = c->pend ? conn_writable(w, c) : conn_readable(w, c);
                if (!ok)
                    conn_close(w, c);
            }
        }
    }
}

static void worker_setup(struct worker *w, const struct server_opts *o, int stopfd)
{
    w->o = o;
    w->lfd = server_tcp_listener(o->port);
    w->ufd = server_udp_socket(o->port);
    w->stopfd = stopfd;
    w->buf = malloc(SERVER_BUF_SIZE);
    w->ubuf = malloc((size_t)UDP_BATCH * SERVER_BUF_SIZE);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!w->buf || !w->ubuf || w->ep < 0)
        bench_die_errno(1, "worker setup");
    for (int i = 0; i < UDP_BATCH; i++) {
        w->iovs[i].iov_base = w->ubuf + (size_t)i * SERVER_BUF_SIZE;
        w->msgs[i].msg_hdr.msg_iov = &w->iovs[i];
        w->msgs[i].msg_hdr.msg_iovlen = 1;
        w->msgs[i].msg_hdr.msg_name = &w->peers[i];
    }
    epoll_add(w->ep, w->lfd, EPOLLIN, &TAG_LISTEN);
    epoll_add(w->ep, w->ufd, EPOLLIN, &TAG_UDP);
    epoll_add(w->ep, stopfd, EPOLLIN, &TAG_STOP);
}

int main(int argc, char **argv)
{
    struct server_opts o;
    server_parse_args(argc, argv, &o);
    sigset_t sigs;
    server_block_signals(&sigs);

    /* One eventfd, watched by every worker: writing it once stops them all
     * (level-triggered, nobody reads it). */
    int stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stopfd < 0)
        bench_die_errno(1, "eventfd");

    struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
    if (!ws)
        bench_die_errno(1, "calloc");
    for (int i = 0; i < o.threads; i++)
        worker_setup(&ws[i], &o, stopfd);
    for (int i = 0; i < o.threads; i++)
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            bench_die_errno(1, "pthread_create");
    server_print_ready(&o);

    server_wait_signal(&sigs);
    uint64_t one = 1;
    if (write(stopfd, &one, sizeof one) != sizeof one)
        bench_die_errno(1, "eventfd write");
    for (int i = 0; i < o.threads; i++) {
        struct worker *w = &ws[i];
        pthread_join(w->tid, NULL);
        while (w->conns)
            conn_close(w, w->conns);
        while (w->spares) {
            struct spare *s = w->spares;
            w->spares = s->next;
            free(s);
        }
        close(w->lfd);
        close(w->ufd);
        close(w->ep);
        free(w->buf);
        free(w->ubuf);
    }
    close(stopfd);
    free(ws);
    return 0;
}
