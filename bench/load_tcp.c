/* load_tcp.c - the closed-loop TCP workloads of bench_load.
 *
 * tcp_echo: long-lived connections, each sending a 64-byte request and
 * waiting for its full echo before the next one.
 * tcp_connect: each slot loops over connect + one 64-byte echo + close.
 * Both run one epoll loop per client thread over that thread's sockets
 * (level-triggered: EPOLLIN while waiting for the echo, EPOLLOUT only while a
 * request could not be written in full or a connect is in progress).
 */
#include "bench_util.h"
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* One request/echo exchange on a TCP socket. */
struct xchg {
    int fd;
    uint32_t id; /* global connection index: part of the pattern seed */
    uint64_t seq;
    uint64_t t_start;
    size_t sent, got;
    bool connecting;
    uint32_t watching; /* epoll events currently registered */
    uint8_t req[LOAD_MSG], resp[LOAD_MSG];
};

static void watch(int ep, struct xchg *c, uint32_t events)
{
    if (c->watching == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->watching ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(ep, op, c->fd, &ev) != 0)
        load_fail("epoll_ctl: %s", strerror(errno));
    c->watching = events;
}

/* Write what is left of the request; EPOLLOUT only while it does not fit. */
static void xchg_send(int ep, struct xchg *c)
{
    while (c->sent < LOAD_MSG) {
        ssize_t n = send(c->fd, c->req + c->sent, LOAD_MSG - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                load_fail("send: %s", strerror(errno));
            watch(ep, c, EPOLLIN | EPOLLOUT);
            return;
        }
        c->sent += (size_t)n;
    }
    watch(ep, c, EPOLLIN);
}

static void xchg_begin(int ep, struct xchg *c, uint64_t now)
{
    c->seq++;
    load_pattern(c->req, LOAD_MSG, c->id, c->seq);
    c->sent = c->got = 0;
    c->t_start = now;
    xchg_send(ep, c);
}

/* Read echo bytes; true once the whole echo is in and matches. Reads at
 * most what is owed, so any extra byte from the server shows up as a
 * mismatch of the next echo. */
static bool xchg_recv(struct xchg *c)
{
    while (c->got < LOAD_MSG) {
        ssize_t n = recv(c->fd, c->resp + c->got, LOAD_MSG - c->got, 0);
        if (n == 0)
            load_fail("server closed connection %u after %zu of %d echo bytes", c->id, c->got, LOAD_MSG);
        if (n < 0) {
            if (errno == EAGAIN)
                return false;
            if (errno == EINTR)
                continue;
            load_fail("recv on connection %u: %s", c->id, strerror(errno));
        }
        c->got += (size_t)n;
    }
    if (memcmp(c->req, c->resp, LOAD_MSG) != 0)
        load_fail("echo mismatch on connection %u, request %llu", c->id, (unsigned long long)c->seq);
    return true;
}

/* The handful of sockets of this thread; freed by the caller. */
static struct xchg *xchg_array(const struct load_thread *t)
{
    struct xchg *cs = calloc((size_t)t->nconns, sizeof *cs);
    if (!cs)
        load_fail("out of memory");
    for (int i = 0; i < t->nconns; i++) {
        cs[i].fd = -1;
        cs[i].id = (uint32_t)(t->first_conn + i);
    }
    return cs;
}

static int new_epoll(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        load_fail("epoll_create1: %s", strerror(errno));
    return ep;
}

/* Any exchange waiting for longer than LOAD_STALL_NS fails the run
 * (t_start 0: nothing in flight). */
static void scan_stalls(const struct load_thread *t, const struct xchg *cs, uint64_t now, const char *what)
{
    for (int i = 0; i < t->nconns; i++)
        if (cs[i].t_start != 0)
            load_check_stall(cs[i].t_start, now, what, cs[i].id);
}

void *load_tcp_echo(void *arg)
{
    struct load_thread *t = arg;
    int ep = new_epoll();
    struct xchg *cs = xchg_array(t);
    for (int i = 0; i < t->nconns; i++)
        cs[i].fd = load_tcp_connect(t->port); /* handshakes stay out of the timing */
    load_start_barrier(t);

    uint64_t now = bench_now_ns(), last_scan = now;
    for (int i = 0; i < t->nconns; i++)
        xchg_begin(ep, &cs[i], now);
    struct epoll_event evs[64];
    while ((now = bench_now_ns()) < t->t_end) {
        int n = epoll_wait(ep, evs, 64, load_wait_ms(t, now));
        for (int i = 0; i < n; i++) {
            struct xchg *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT)
                xchg_send(ep, c);
            if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && xchg_recv(c)) {
                now = bench_now_ns();
                load_op_done(t, c->t_start, now);
                if (now < t->t_end)
                    xchg_begin(ep, c, now);
                else
                    c->t_start = 0; /* finished: not waiting for anything */
            }
        }
        now = bench_now_ns();
        if (now - last_scan > 100000000u) {
            scan_stalls(t, cs, now, "tcp_echo request");
            last_scan = now;
        }
    }
    scan_stalls(t, cs, bench_now_ns(), "tcp_echo request");
    for (int i = 0; i < t->nconns; i++)
        close(cs[i].fd);
    free(cs);
    close(ep);
    return NULL;
}

/* tcp_connect: open a fresh connection for the next cycle. */
static void cycle_begin(const struct load_thread *t, int ep, struct xchg *c, uint64_t now)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        load_fail("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Linger {1, 0}: close() resets the connection instead of leaving the
     * client port in TIME_WAIT for 60 s. At ~20k cycles a second the ~28k
     * ephemeral ports towards one server port would run out within two
     * seconds (tcp_tw_reuse may rescue loopback, but that is a sysctl).
     * The server sees ECONNRESET or EOF after the echo and closes. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    c->watching = 0;
    c->t_start = now; /* the connection setup is part of the measured cycle */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
        c->connecting = false;
        xchg_begin(ep, c, now);
    } else if (errno == EINPROGRESS) {
        c->connecting = true;
        watch(ep, c, EPOLLOUT);
    } else {
        load_fail("connect: %s", strerror(errno));
    }
}

static void cycle_event(struct load_thread *t, int ep, struct xchg *c, uint32_t events)
{
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            load_fail("connect: %s", strerror(err));
        c->connecting = false;
        uint64_t t_start = c->t_start;
        xchg_begin(ep, c, t_start);
        return;
    }
    if (events & EPOLLOUT)
        xchg_send(ep, c);
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && xchg_recv(c)) {
        close(c->fd); /* sends RST (see cycle_begin); also leaves the epoll set */
        c->fd = -1;
        uint64_t now = bench_now_ns();
        load_op_done(t, c->t_start, now);
        if (now < t->t_end)
            cycle_begin(t, ep, c, now);
        else
            c->t_start = 0; /* finished: not waiting for anything */
    }
}

void *load_tcp_connect_loop(void *arg)
{
    struct load_thread *t = arg;
    int ep = new_epoll();
    struct xchg *cs = xchg_array(t);
    load_start_barrier(t);

    uint64_t now = bench_now_ns(), last_scan = now;
    for (int i = 0; i < t->nconns; i++)
        cycle_begin(t, ep, &cs[i], now);
    struct epoll_event evs[64];
    while ((now = bench_now_ns()) < t->t_end) {
        int n = epoll_wait(ep, evs, 64, load_wait_ms(t, now));
        for (int i = 0; i < n; i++)
            cycle_event(t, ep, evs[i].data.ptr, evs[i].events);
        now = bench_now_ns();
        if (now - last_scan > 100000000u) {
            scan_stalls(t, cs, now, "tcp_connect cycle");
            last_scan = now;
        }
    }
    scan_stalls(t, cs, bench_now_ns(), "tcp_connect cycle");
    for (int i = 0; i < t->nconns; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    free(cs);
    close(ep);
    return NULL;
}
