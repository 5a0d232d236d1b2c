/* load_udp.c - the udp_echo workload of bench_load.
 *
 * Each client socket is connect()ed to the server (so only the server's
 * datagrams reach it) and keeps one 64-byte datagram in flight: send, wait
 * for the echo, repeat. A datagram not echoed within LOAD_UDP_TIMEOUT_NS is
 * counted as lost and a new one is sent. Datagram layout: sequence number
 * (8 bytes), socket index (4 bytes), then pattern bytes derived from both,
 * so a late echo of an earlier datagram is recognised, checked and ignored.
 */
#include "bench_util.h"
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR 12 /* seq + id */

struct uconn {
    int fd;
    uint32_t id;
    uint64_t seq;     /* datagram in flight */
    uint64_t t_start; /* when it was sent */
    uint8_t req[LOAD_MSG];
};

static void build(uint8_t *d, uint32_t id, uint64_t seq)
{
    memcpy(d, &seq, 8);
    memcpy(d + 8, &id, 4);
    load_pattern(d + HDR, LOAD_MSG - HDR, id, seq);
}

static void udp_send(struct uconn *c, uint64_t now)
{
    c->seq++;
    build(c->req, c->id, c->seq);
    c->t_start = now;
    /* A full socket buffer loses the datagram like the network would; the
     * timeout then resends. */
    if (send(c->fd, c->req, LOAD_MSG, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != ENOBUFS)
        load_fail("udp send: %s", strerror(errno));
}

/* Read echoes; true once the one in flight is back and verified. */
static bool udp_recv(struct uconn *c)
{
    uint8_t d[LOAD_MSG + 1], want[LOAD_MSG];
    for (;;) {
        ssize_t n = recv(c->fd, d, sizeof d, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return false;
            if (errno == EINTR || errno == ECONNREFUSED)
                continue; /* an ICMP error: that datagram is simply lost */
            load_fail("udp recv: %s", strerror(errno));
        }
        if (n != LOAD_MSG)
            load_fail("udp echo of %zd bytes on socket %u, expected %d", n, c->id, LOAD_MSG);
        uint64_t seq;
        uint32_t id;
        memcpy(&seq, d, 8);
        memcpy(&id, d + 8, 4);
        if (id != c->id || seq == 0 || seq > c->seq)
            load_fail("udp echo on socket %u carries socket %u, datagram %llu (sent %llu)", c->id, id,
                      (unsigned long long)seq, (unsigned long long)c->seq);
        build(want, id, seq);
        if (memcmp(d, want, LOAD_MSG) != 0)
            load_fail("udp echo mismatch on socket %u, datagram %llu", c->id, (unsigned long long)seq);
        if (seq == c->seq)
            return true;
        /* else: the late echo of a datagram already counted as lost */
    }
}

static int udp_socket(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        load_fail("socket: %s", strerror(errno));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        load_fail("udp connect: %s", strerror(errno));
    return fd;
}

/* Resend what timed out; checked every few milliseconds, not per event. */
static void udp_timeouts(struct load_thread *t, struct uconn *cs, uint64_t now)
{
    for (int i = 0; i < t->nconns; i++) {
        if (now - cs[i].t_start < LOAD_UDP_TIMEOUT_NS)
            continue;
        if (now >= t->t_measure)
            t->st.lost++;
        udp_send(&cs[i], now);
    }
}

void *load_udp_echo(void *arg)
{
    struct load_thread *t = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct uconn *cs = calloc((size_t)t->nconns, sizeof *cs);
    if (ep < 0 || !cs)
        load_fail("udp setup: %s", strerror(errno));
    for (int i = 0; i < t->nconns; i++) {
        cs[i].fd = udp_socket(t->port);
        cs[i].id = (uint32_t)(t->first_conn + i);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0)
            load_fail("epoll_ctl: %s", strerror(errno));
    }
    load_start_barrier(t);

    uint64_t now = bench_now_ns(), last_scan = now;
    for (int i = 0; i < t->nconns; i++)
        udp_send(&cs[i], now);
    struct epoll_event evs[64];
    while ((now = bench_now_ns()) < t->t_end) {
        int n = epoll_wait(ep, evs, 64, load_wait_ms(t, now));
        for (int i = 0; i < n; i++) {
            struct uconn *c = evs[i].data.ptr;
            if (udp_recv(c)) {
                now = bench_now_ns();
                load_op_done(t, c->t_start, now);
                if (now < t->t_end)
                    udp_send(c, now);
            }
        }
        now = bench_now_ns();
        if (now - last_scan > 5000000u) {
            udp_timeouts(t, cs, now);
            last_scan = now;
        }
    }
    for (int i = 0; i < t->nconns; i++)
        close(cs[i].fd);
    free(cs);
    close(ep);
    return NULL;
}
