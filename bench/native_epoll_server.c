/* native_epoll_server.c - the native epoll baseline for the WSK echo server.
 *
 * TCP echo and UDP echo on 127.0.0.1:PORT. Each of T worker threads owns an
 * epoll instance, a SO_REUSEPORT TCP listener and a SO_REUSEPORT UDP socket,
 * so the kernel spreads connections and datagram flows over the threads and
 * the threads share nothing. Level-triggered: a connection is watched for
 * EPOLLIN until an echo cannot be written in full; the rest is kept and the
 * connection watches EPOLLOUT alone until it is flushed (reading stops
 * meanwhile, which pushes back on a peer that does not read).
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

struct conn {
    int fd;
    char *pend;      /* echo bytes not yet accepted by the socket */
    size_t pend_off; /* first unsent byte in pend */
    size_t pend_len; /* end of the unsent bytes in pend */
    size_t pend_cap;
    struct conn *prev, *next; /* per-worker list, for cleanup at exit */
};

struct worker {
    pthread_t tid;
    int ep, lfd, ufd, stopfd;
    char *buf; /* SERVER_BUF_SIZE read buffer */
    struct conn *conns;
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

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd); /* also drops it from the epoll set */
    free(c->pend);
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

/* Keep bytes [from, from+len) for later; false if out of memory. */
static bool conn_keep(struct conn *c, const char *from, size_t len)
{
    if (c->pend_cap < len) {
        char *p = realloc(c->pend, len);
        if (!p)
            return false;
        c->pend = p;
        c->pend_cap = len;
    }
    memcpy(c->pend, from, len);
    c->pend_off = 0;
    c->pend_len = len;
    return true;
}

/* Echo what is readable. Returns false when the connection is finished. */
static bool conn_readable(struct worker *w, struct conn *c)
{
    /* A few reads per wakeup: fewer epoll_wait calls when data streams in,
     * without starving the other connections of this thread. */
    for (int round = 0; round < 8; round++) {
        ssize_t n = recv(c->fd, w->buf, SERVER_BUF_SIZE, 0);
        if (n == 0)
            return false; /* peer closed */
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        ssize_t sent = send(c->fd, w->buf, (size_t)n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN)
                return false;
            sent = 0;
        }
        if (sent < n) {
            if (!conn_keep(c, w->buf + sent, (size_t)(n - sent)))
                return false;
            conn_watch(w, c, EPOLLOUT);
            return true;
        }
        if (n < SERVER_BUF_SIZE)
            return true; /* probably drained; level-triggered epoll tells us if not */
    }
    return true;
}

/* Flush kept bytes. Returns false when the connection is finished. */
static bool conn_writable(struct worker *w, struct conn *c)
{
    while (c->pend_off < c->pend_len) {
        ssize_t sent = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
        if (sent < 0)
            return errno == EAGAIN || errno == EINTR;
        c->pend_off += (size_t)sent;
    }
    c->pend_off = c->pend_len = 0;
    conn_watch(w, c, EPOLLIN);
    return true;
}

static void on_udp(struct worker *w)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        ssize_t n = recvfrom(w->ufd, w->buf, SERVER_BUF_SIZE, 0, (struct sockaddr *)&peer, &plen);
        if (n < 0)
            return;
        /* A full send buffer drops the echo, as UDP may; the client resends. */
        (void)sendto(w->ufd, w->buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&peer, plen);
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
                bool ok = c->pend_len ? conn_writable(w, c) : conn_readable(w, c);
                if (!ok)
                    conn_close(w, c);
            }
        }
    }
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
    for (int i = 0; i < o.threads; i++) {
        struct worker *w = &ws[i];
        w->lfd = server_tcp_listener(o.port);
        w->ufd = server_udp_socket(o.port);
        w->stopfd = stopfd;
        w->buf = malloc(SERVER_BUF_SIZE);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (!w->buf || w->ep < 0)
            bench_die_errno(1, "worker setup");
        epoll_add(w->ep, w->lfd, EPOLLIN, &TAG_LISTEN);
        epoll_add(w->ep, w->ufd, EPOLLIN, &TAG_UDP);
        epoll_add(w->ep, stopfd, EPOLLIN, &TAG_STOP);
    }
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
        close(w->lfd);
        close(w->ufd);
        close(w->ep);
        free(w->buf);
    }
    close(stopfd);
    free(ws);
    return 0;
}
