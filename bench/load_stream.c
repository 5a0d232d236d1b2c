/* load_stream.c - the tcp_stream workload of bench_load.
 *
 * Each connection carries 64 KiB messages (one send() each when the socket
 * takes them), pipelined with a window of W messages (--window bytes, 256 KiB
 * by default, so 4 messages): up to W are sent ahead of the echo coming
 * back, so the measure is the server's streaming throughput rather than one
 * round trip per 64 KiB. Writing and reading are interleaved by poll() over
 * the thread's connections, so nothing deadlocks on full socket buffers. A
 * message's latency runs from its first send() to its last echoed byte.
 *
 * Every echoed byte is compared with the message it belongs to. Generating
 * 64 KiB of pattern per message would make the client the bottleneck, so
 * messages are slices of one 1 MiB random pool, message m of connection c
 * starting at an offset that changes from message to message and from
 * connection to connection (a lost, repeated, reordered or crossed chunk
 * then compares against the wrong bytes); sends go straight from the pool.
 */
#include "bench_util.h"
#include "load.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct stream {
    int fd;
    uint32_t id;                 /* global connection index */
    uint64_t send_msg, recv_msg; /* next message to send / to complete */
    size_t send_off, recv_off;   /* progress inside those messages */
    uint64_t last_progress;      /* last time echo bytes came back */
    uint64_t *t_start;           /* window_msgs send times, by message % window */
};

#define POOL_SIZE (1u << 20)

static const uint8_t *message(const uint8_t *pool, const struct stream *s, uint64_t m)
{
    return pool + ((m * 7919u + s->id * 104729u) % (POOL_SIZE / 256)) * 256;
}

/* Send while the window allows; false when the socket is full. */
static bool stream_send(const struct load_thread *t, const uint8_t *pool, struct stream *s)
{
    while (s->send_msg - s->recv_msg < (uint64_t)t->window_msgs) {
        const uint8_t *msg = message(pool, s, s->send_msg);
        if (s->send_off == 0)
            s->t_start[s->send_msg % (uint64_t)t->window_msgs] = bench_now_ns();
        ssize_t n = send(s->fd, msg + s->send_off, LOAD_STREAM_MSG - s->send_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                return false;
            if (errno == EINTR)
                continue;
            load_fail("tcp_stream send on connection %u: %s", s->id, strerror(errno));
        }
        s->send_off += (size_t)n;
        if (s->send_off == LOAD_STREAM_MSG) {
            s->send_msg++;
            s->send_off = 0;
        }
    }
    return true;
}

/* Check echoed bytes against their messages; count completed messages. */
static void stream_check(struct load_thread *t, const uint8_t *pool, struct stream *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t sent_bytes = s->send_msg * LOAD_STREAM_MSG + s->send_off;
        if (s->recv_msg * LOAD_STREAM_MSG + s->recv_off >= sent_bytes)
            load_fail("tcp_stream: server echoed more bytes than were sent on connection %u", s->id);
        size_t take = LOAD_STREAM_MSG - s->recv_off;
        if (take > n)
            take = n;
        const uint8_t *want = message(pool, s, s->recv_msg) + s->recv_off;
        if (memcmp(p, want, take) != 0)
            load_fail("tcp_stream: echo mismatch on connection %u in message %llu at offset %zu", s->id,
                      (unsigned long long)s->recv_msg, s->recv_off);
        s->recv_off += take;
        p += take;
        n -= take;
        if (s->recv_off == LOAD_STREAM_MSG) {
            uint64_t now = bench_now_ns();
            uint64_t before = t->st.ops;
            load_op_done(t, s->t_start[s->recv_msg % (uint64_t)t->window_msgs], now);
            if (t->st.ops != before)
                t->st.bytes += LOAD_STREAM_MSG;
            s->recv_msg++;
            s->recv_off = 0;
        }
    }
}

/* Read and check what the socket has. */
static void stream_recv(struct load_thread *t, const uint8_t *pool, struct stream *s, uint8_t *rbuf)
{
    for (;;) {
        ssize_t n = recv(s->fd, rbuf, LOAD_STREAM_MSG, 0);
        if (n == 0)
            load_fail("tcp_stream: server closed connection %u", s->id);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            if (errno == EINTR)
                continue;
            load_fail("tcp_stream recv on connection %u: %s", s->id, strerror(errno));
        }
        s->last_progress = bench_now_ns();
        stream_check(t, pool, s, rbuf, (size_t)n);
        if (n < LOAD_STREAM_MSG)
            return;
    }
}

void *load_tcp_stream(void *arg)
{
    struct load_thread *t = arg;
    int n = t->nconns;
    struct stream *ss = calloc((size_t)n, sizeof *ss);
    struct pollfd *pfds = calloc((size_t)n, sizeof *pfds);
    uint8_t *rbuf = malloc(LOAD_STREAM_MSG);
    uint8_t *pool = malloc(POOL_SIZE + LOAD_STREAM_MSG);
    if (!ss || !pfds || !rbuf || !pool)
        load_fail("out of memory");
    load_pattern(pool, POOL_SIZE + LOAD_STREAM_MSG, 0, 0);
    for (int i = 0; i < n; i++) {
        ss[i].fd = load_tcp_connect(t->port);
        ss[i].id = (uint32_t)(t->first_conn + i);
        ss[i].t_start = calloc((size_t)t->window_msgs, sizeof *ss[i].t_start);
        if (!ss[i].t_start)
            load_fail("out of memory");
        pfds[i].fd = ss[i].fd;
    }
    load_start_barrier(t);

    uint64_t now = bench_now_ns();
    for (int i = 0; i < n; i++)
        ss[i].last_progress = now;
    while ((now = bench_now_ns()) < t->t_end) {
        for (int i = 0; i < n; i++) {
            bool socket_full = !stream_send(t, pool, &ss[i]);
            pfds[i].events = POLLIN | (socket_full ? POLLOUT : 0);
            /* Bytes out and none back for LOAD_STALL_NS: the server lost some. */
            if (ss[i].send_msg * LOAD_STREAM_MSG + ss[i].send_off > ss[i].recv_msg * LOAD_STREAM_MSG + ss[i].recv_off)
                load_check_stall(ss[i].last_progress, now, "tcp_stream echo", ss[i].id);
        }
        int ready = poll(pfds, (nfds_t)n, load_wait_ms(t, now));
        for (int i = 0; ready > 0 && i < n; i++)
            if (pfds[i].revents & (POLLIN | POLLERR | POLLHUP))
                stream_recv(t, pool, &ss[i], rbuf);
    }
    for (int i = 0; i < n; i++) {
        close(ss[i].fd);
        free(ss[i].t_start);
    }
    free(ss);
    free(pfds);
    free(pool);
    free(rbuf);
    return NULL;
}
