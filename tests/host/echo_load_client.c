/*
 * echo_load_client.c - the Linux side of the load tests of the TCP echo
 * example (tests/host/scale_echo.sh, tests/host/hostile_network.sh): one
 * thread, epoll, many connections.
 *
 *   echo_load_client [options] HOST PORT CONNECTIONS BYTES
 *     --expect-reset    succeed only if every connection is reset by the
 *                       network (ECONNRESET/EPIPE) before its echo is complete
 *     --timeout SECS    give up after SECS (default 120)
 *     --connecting K    connects in progress at once (default 256)
 *     --held            once all are open and echoed, keep them open and
 *                       wait for the driver to end each one (EOF or reset:
 *                       DriverUnload aborts what is open)
 *
 * Every connection sends BYTES of its own pattern and checks each byte
 * echoed back.  None is shut down before all CONNECTIONS have been
 * connected and have had their whole echo back, so they are all open at
 * once; then each shuts down its sending side and must see the driver's
 * EOF, with no byte more.  Exit status 0 only if all of that held.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

enum phase { IDLE, CONNECTING, RUNNING, ECHOED, SHUT, HELD, FINISHED };

typedef struct conn {
    int fd;
    enum phase phase;
    uint64_t sent, received;
} conn;

static struct sockaddr_storage peer;
static socklen_t peer_len;
static conn *conns;
static long count, started, connecting_now, connected, echoed, finished, resets, open_now, open_peak;
static uint64_t bytes_each;
static int expect_reset, held, epfd;
static unsigned char out_buf[CHUNK], in_buf[CHUNK], want_buf[CHUNK];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Byte OFFSET of connection C's stream: a long-period pattern that differs
 * between connections, so a byte from another stream or offset shows. */
static void pattern(long c, uint64_t offset, unsigned char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t off = offset + i;
        uint64_t z = ((uint64_t)c << 40 ^ (off >> 3)) + 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        out[i] = (unsigned char)(z >> ((off & 7) * 8));
    }
}

static int watch(long c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)c};
    return epoll_ctl(epfd, op, conns[c].fd, &ev);
}

static void finish(long c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, conns[c].fd, NULL);
    close(conns[c].fd);
    conns[c].fd = -1;
    conns[c].phase = FINISHED;
    open_now--;
    finished++;
}

static int fail(long c, const char *what, int err)
{
    fprintf(stderr, "echo_load_client: connection %ld: %s%s%s (sent %llu, received %llu)\n", c, what,
            err ? ": " : "", err ? strerror(err) : "", (unsigned long long)conns[c].sent,
            (unsigned long long)conns[c].received);
    return -1;
}

/* A reset is success with --expect-reset (before the echo completed) and failure otherwise. */
static int reset_seen(long c, int err)
{
    if (conns[c].phase == HELD) {
        finish(c);
        return 0;
    }
    if (!expect_reset || conns[c].phase != RUNNING)
        return fail(c, "connection failed", err);
    fprintf(stderr, "echo_load_client: connection %ld reset (%s) after %llu bytes sent, %llu echoed\n", c,
            strerror(err), (unsigned long long)conns[c].sent, (unsigned long long)conns[c].received);
    resets++;
    finish(c);
    return 0;
}

static int start_connect(long c)
{
    int fd = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(c, "socket", errno);
    conns[c].fd = fd;
    open_now++;
    if (open_now > open_peak)
        open_peak = open_now;
    started++;
    if (connect(fd, (struct sockaddr *)&peer, peer_len) != 0 && errno != EINPROGRESS)
        return fail(c, "connect", errno);
    conns[c].phase = CONNECTING;
    connecting_now++;
    return watch(c, EPOLLOUT, EPOLL_CTL_ADD) == 0 ? 0 : fail(c, "epoll_ctl", errno);
}

static int on_writable(long c)
{
    conn *k = &conns[c];
    if (k->phase == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            return fail(c, "connect", err);
        k->phase = RUNNING;
        connecting_now--;
        connected++;
        return watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD) == 0 ? 0 : fail(c, "epoll_ctl", errno);
    }
    while (k->phase == RUNNING && k->sent < bytes_each) {
        size_t n = bytes_each - k->sent < CHUNK ? (size_t)(bytes_each - k->sent) : CHUNK;
        pattern(c, k->sent, out_buf, n);
        ssize_t w = send(k->fd, out_buf, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN)
                return 0;
            if (errno == ECONNRESET || errno == EPIPE)
                return reset_seen(c, errno);
            return fail(c, "send", errno);
        }
        k->sent += (uint64_t)w;
    }
    if (k->phase == RUNNING) /* all sent: only the echo is left */
        return watch(c, EPOLLIN, EPOLL_CTL_MOD) == 0 ? 0 : fail(c, "epoll_ctl", errno);
    return 0;
}

static int on_readable(long c)
{
    conn *k = &conns[c];
    for (;;) {
        ssize_t r = recv(k->fd, in_buf, sizeof(in_buf), 0);
        if (r < 0) {
            if (errno == EAGAIN)
                return 0;
            if (errno == ECONNRESET || errno == EPIPE)
                return reset_seen(c, errno);
            return fail(c, "recv", errno);
        }
        if (r == 0) {
            if (k->phase != SHUT && k->phase != HELD)
                return fail(c, "EOF before the whole echo and our shutdown", 0);
            finish(c);
            return 0;
        }
        if (k->received + (uint64_t)r > k->sent)
            return fail(c, "more bytes echoed than sent", 0);
        pattern(c, k->received, want_buf, (size_t)r);
        if (memcmp(in_buf, want_buf, (size_t)r) != 0) {
            for (ssize_t i = 0; i < r; i++)
                if (in_buf[i] != want_buf[i]) {
                    fprintf(stderr, "echo_load_client: connection %ld: byte %llu is 0x%02x, expected 0x%02x\n", c,
                            (unsigned long long)(k->received + (uint64_t)i), in_buf[i], want_buf[i]);
                    break;
                }
            return fail(c, "echo differs", 0);
        }
        k->received += (uint64_t)r;
        if (k->phase == RUNNING && k->received == bytes_each) {
            k->phase = ECHOED;
            echoed++;
        }
    }
}

/* All connections open and echoed: each shuts down its side and waits
 * for EOF, or with --held, waits for the driver to end it. */
static int shut_all(void)
{
    if (held) {
        for (long c = 0; c < count; c++)
            if (conns[c].phase == ECHOED)
                conns[c].phase = HELD;
        printf("echo_load_client: all %ld connections open and echoed, held\n", count);
        fflush(stdout);
        return 0;
    }
    for (long c = 0; c < count; c++) {
        if (conns[c].phase != ECHOED)
            continue;
        if (shutdown(conns[c].fd, SHUT_WR) != 0)
            return fail(c, "shutdown", errno);
        conns[c].phase = SHUT;
    }
    return 0;
}

static int resolve(const char *host, const char *port)
{
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    memcpy(&peer, ai->ai_addr, ai->ai_addrlen);
    peer_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* One descriptor per connection: the soft limit goes up to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int usage(void)
{
    fputs("usage: echo_load_client [--expect-reset] [--held] [--timeout SECS] [--connecting K]\n"
          "                        HOST PORT CONNECTIONS BYTES\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    double timeout = 120;
    long connecting_max = 256;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--expect-reset") == 0)
            expect_reset = 1;
        else if (strcmp(argv[i], "--held") == 0)
            held = 1;
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = atof(argv[++i]);
        else if (strcmp(argv[i], "--connecting") == 0 && i + 1 < argc)
            connecting_max = atol(argv[++i]);
        else
            return usage();
    }
    if (argc - i != 4 || resolve(argv[i], argv[i + 1]) != 0)
        return usage();
    count = atol(argv[i + 2]);
    bytes_each = strtoull(argv[i + 3], NULL, 0);
    if (count <= 0 || bytes_each == 0 || timeout <= 0 || connecting_max <= 0)
        return usage();
    raise_nofile();
    conns = calloc((size_t)count, sizeof(*conns));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || epfd < 0)
        return 1;
    double start = now_s(), deadline = start + timeout;
    int shut = 0, rc = 0;
    struct epoll_event events[256];
    while (rc == 0 && finished < count) {
        while (started < count && connecting_now < connecting_max && rc == 0)
            rc = start_connect(started);
        if (!shut && echoed + resets == count) {
            shut = 1;
            rc = shut_all();
        }
        double left = deadline - now_s();
        if (left <= 0) {
            fprintf(stderr, "echo_load_client: timed out after %.0f s: %ld connected, %ld echoed, %ld finished\n",
                    timeout, connected, echoed, finished);
            rc = -1;
            break;
        }
        int n = epoll_wait(epfd, events, 256, left > 1 ? 1000 : (int)(left * 1000) + 1);
        for (int e = 0; e < n && rc == 0; e++) {
            long c = (long)events[e].data.u64;
            if (conns[c].phase == FINISHED)
                continue;
            if ((events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conns[c].phase != CONNECTING)
                rc = on_readable(c);
            if (rc == 0 && conns[c].phase != FINISHED && (events[e].events & (EPOLLOUT | EPOLLERR)))
                rc = on_writable(c);
        }
    }
    double took = now_s() - start;
    if (rc == 0 && expect_reset && resets != count) {
        fprintf(stderr, "echo_load_client: expected every connection reset, %ld of %ld were\n", resets, count);
        rc = -1;
    }
    if (rc == 0)
        printf("echo_load_client: %ld connections (%ld open at once), %llu bytes each, %s in %.2f s\n", count,
               open_peak, (unsigned long long)bytes_each,
               expect_reset ? "all reset by the network"
               : held       ? "echoed byte-exact, then ended by the driver"
                            : "echoed byte-exact, then EOF",
               took);
    for (long c = 0; c < count; c++)
        if (conns[c].fd > 0 && conns[c].phase != IDLE && conns[c].phase != FINISHED)
            close(conns[c].fd);
    free(conns);
    close(epfd);
    return rc == 0 ? 0 : 1;
}
