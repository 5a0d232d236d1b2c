/* load_stream.c - the tcp_stream workload of bench_load.
 *
 * One connection carries 64 KiB messages, pipelined with a window of
 * LOAD_STREAM_WINDOW (4) messages: up to 256 KiB are sent ahead of the echo
 * coming back, so the measure is the server's streaming throughput rather
 * than one round trip per 64 KiB. Writing and reading are interleaved by
 * poll(), so neither side can deadlock on full socket buffers.
 *
 * Every echoed byte is compared with the message it belongs to. Generating
 * 64 KiB of pattern per message would make the client the bottleneck, so
 * messages are slices of one 1 MiB random pool, message m starting at an
 * offset that changes from message to message (a lost, repeated or
 * reordered chunk then compares against the wrong bytes); sends go straight
 * from the pool.
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
    uint64_t send_msg, recv_msg; /* next message to send / to complete */
    size_t send_off, recv_off;   /* progress inside those messages */
    uint64_t t_start[LOAD_STREAM_WINDOW];
    uint8_t *pool; /* POOL_SIZE + LOAD_STREAM_MSG random bytes */
    uint8_t *rbuf;
};

#define POOL_SIZE (1u << 20)

static const uint8_t *message(const struct stream *s, uint64_t m)
{
    return s->pool + (m * 7919u % (POOL_SIZE / 256)) * 256;
}

/* Send while the window allows; false when the socket is full. */
static bool stream_send(struct stream *s)
{
    while (s->send_msg - s->recv_msg < LOAD_STREAM_WINDOW) {
        const uint8_t *msg = message(s, s->send_msg);
        if (s->send_off == 0)
            s->t_start[s->send_msg % LOAD_STREAM_WINDOW] = bench_now_ns();
        ssize_t n = send(s->fd, msg + s->send_off, LOAD_STREAM_MSG - s->send_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                return false;
            if (errno == EINTR)
                continue;
            load_fail("send: %s", strerror(errno));
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
static void stream_check(struct load_thread *t, struct stream *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t sent_bytes = s->send_msg * LOAD_STREAM_MSG + s->send_off;
        if (s->recv_msg * LOAD_STREAM_MSG + s->recv_off >= sent_bytes)
            load_fail("tcp_stream: server echoed more bytes than were sent");
        size_t take = LOAD_STREAM_MSG - s->recv_off;
        if (take > n)
            take = n;
        const uint8_t *want = message(s, s->recv_msg) + s->recv_off;
        if (memcmp(p, want, take) != 0)
            load_fail("tcp_stream: echo mismatch in message %llu at offset %zu", (unsigned long long)s->recv_msg,
                      s->recv_off);
        s->recv_off += take;
        p += take;
        n -= take;
        if (s->recv_off == LOAD_STREAM_MSG) {
            uint64_t now = bench_now_ns();
            uint64_t before = t->st.ops;
            load_op_done(t, s->t_start[s->recv_msg % LOAD_STREAM_WINDOW], now);
            if (t->st.ops != before)
                t->st.bytes += LOAD_STREAM_MSG;
            s->recv_msg++;
            s->recv_off = 0;
        }
    }
}

/* Read and check what the socket has. */
static void stream_recv(struct load_thread *t, struct stream *s)
{
    for (;;) {
        ssize_t n = recv(s->fd, s->rbuf, LOAD_STREAM_MSG, 0);
        if (n == 0)
            load_fail("tcp_stream: server closed the connection");
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            if (errno == EINTR)
                continue;
            load_fail("recv: %s", strerror(errno));
        }
        stream_check(t, s, s->rbuf, (size_t)n);
        if (n < LOAD_STREAM_MSG)
            return;
    }
}

void *load_tcp_stream(void *arg)
{
    struct load_thread *t = arg;
    struct stream s = {.fd = load_tcp_connect(t->port)};
    s.rbuf = malloc(LOAD_STREAM_MSG);
    s.pool = malloc(POOL_SIZE + LOAD_STREAM_MSG);
    if (!s.rbuf || !s.pool)
        load_fail("out of memory");
    load_pattern(s.pool, POOL_SIZE + LOAD_STREAM_MSG, 0, 0);
    load_start_barrier(t);

    uint64_t now;
    while ((now = bench_now_ns()) < t->t_end) {
        bool socket_full = !stream_send(&s);
        struct pollfd pfd = {.fd = s.fd, .events = POLLIN | (socket_full ? POLLOUT : 0)};
        int n = poll(&pfd, 1, load_wait_ms(t, now));
        if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
            stream_recv(t, &s);
    }
    close(s.fd);
    free(s.pool);
    free(s.rbuf);
    return NULL;
}
