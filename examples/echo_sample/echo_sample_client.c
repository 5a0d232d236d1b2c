/*
 * echo_sample_client.c - loads the echo_sample driver with many concurrent
 * connections and checks each one end to end.
 *
 *   echo_sample_client [--held] PORT [CONNECTIONS [SEED [TIMEOUT-SECONDS [MAX-BYTES]]]]
 *
 * Opens CONNECTIONS (default 1000) TCP connections at once, alternating
 * IPv4 and IPv6 loopback.  Each connection sends a message of its own
 * length (1 byte to MAX-BYTES, default 64 KiB) and content, both derived from SEED and the
 * connection's number, in one to four writes; then shuts down its sending
 * side (SHUT_WR) and reads until EOF, checking every echoed byte and that
 * the driver ends the connection gracefully: EOF after exactly the bytes
 * sent, no reset.  One thread, non-blocking sockets, epoll.
 *
 * Every connection ends in one of these classes:
 *   complete    all bytes echoed, then EOF
 *   short       EOF before all bytes came back (the driver's disconnect
 *               overtook data)
 *   reset       ECONNRESET / EPIPE (or refused) instead of EOF
 *   mismatched  a byte differs, or more bytes than were sent
 *   stalled     nothing decided before the timeout (default 60 s)
 * Exit status 0 only if every connection is complete; 1 otherwise; 2 on
 * a usage or setup error (e.g. too few file descriptors).
 *
 * With --held the connections do not half-close: once every byte has come
 * back they stay open until the driver ends them (DriverUnload closes what
 * is still open: a reset, or EOF).  "complete" then means all bytes echoed
 * before the driver ended the connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_MESSAGE (64 * 1024)
#define MAX_WRITES 4

enum outcome { RUNNING, COMPLETE, SHORT, RESET, MISMATCHED, STALLED, OUTCOMES };
static const char *const outcome_names[OUTCOMES] = {"running", "complete", "short", "reset", "mismatched", "stalled"};

struct conn {
    int fd;
    int index;
    uint64_t key;          /* content and length derive from it */
    size_t length;         /* bytes to send and to get back */
    size_t cut[MAX_WRITES];/* end offsets of the writes */
    int writes, written_parts;
    size_t sent, received;
    size_t first_bad;      /* offset of the first wrong byte */
    int connected, written_all, shut;
    enum outcome outcome;
    int error;             /* errno behind a reset */
};

static int held;         /* --held: no half-close, wait for the driver to end it */
static int echoed, connections_total;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Byte at offset at of connection key's message. */
static unsigned char expected_byte(uint64_t key, size_t at)
{
    return (unsigned char)(splitmix64(key ^ ((uint64_t)(at / 8) << 20)) >> (8 * (at % 8)));
}

static void fill(uint64_t key, size_t at, unsigned char *out, size_t n)
{
    for (size_t k = 0; k < n; k++)
        out[k] = expected_byte(key, at + k);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int raise_fd_limit(int connections)
{
    struct rlimit lim;
    rlim_t need = (rlim_t)connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        perror("echo_sample_client: getrlimit");
        return -1;
    }
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need) {
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need)
            lim.rlim_max = need; /* only root may; reported below if refused */
        lim.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            fprintf(stderr,
                    "echo_sample_client: %d connections need %llu file descriptors; RLIMIT_NOFILE cannot be "
                    "raised that far (%s); try 'ulimit -n %llu' or fewer connections\n",
                    connections, (unsigned long long)need, strerror(errno), (unsigned long long)need);
            return -1;
        }
    }
    return 0;
}

static void finish(struct conn *c, enum outcome o, int epfd)
{
    if (c->outcome != RUNNING)
        return;
    c->outcome = o;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

static int open_connection(struct conn *c, unsigned short port, int epfd)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (c->index % 2) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "echo_sample_client: socket: %s\n", strerror(errno));
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        c->error = errno;
        fprintf(stderr, "echo_sample_client: connection %d: connect: %s\n", c->index, strerror(errno));
        close(c->fd);
        c->fd = -1;
        c->outcome = RESET;
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        perror("echo_sample_client: epoll_ctl");
        return -1;
    }
    return 0;
}

static void on_writable(struct conn *c, int epfd)
{
    unsigned char buf[16384];
    if (!c->connected) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err != 0) {
            c->error = err;
            finish(c, RESET, epfd);
            return;
        }
        c->connected = 1;
    }
    while (!c->written_all) {
        size_t end = c->cut[c->written_parts];
        while (c->sent < end) {
            size_t n = end - c->sent < sizeof(buf) ? end - c->sent : sizeof(buf);
            fill(c->key, c->sent, buf, n);
            ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                c->error = errno;
                finish(c, RESET, epfd);
                return;
            }
            c->sent += (size_t)w;
        }
        if (++c->written_parts == c->writes) {
            /* All of it written: half-close (unless held), then only read. */
            c->written_all = 1;
            if (!held) {
                shutdown(c->fd, SHUT_WR);
                c->shut = 1;
            }
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
}

static void on_readable(struct conn *c, int epfd)
{
    unsigned char buf[16384];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            c->error = errno;
            /* Held connections end with the driver's unload, by reset. */
            finish(c, held && c->received == c->length && c->first_bad == SIZE_MAX ? COMPLETE : RESET, epfd);
            return;
        }
        if (r == 0) {
            if (c->outcome == RUNNING && c->first_bad != SIZE_MAX)
                finish(c, MISMATCHED, epfd);
            else if (c->received == c->length)
                finish(c, c->shut || held ? COMPLETE : MISMATCHED, epfd); /* EOF before our FIN: not graceful */
            else
                finish(c, SHORT, epfd);
            return;
        }
        for (ssize_t k = 0; k < r && c->first_bad == SIZE_MAX; k++) {
            size_t at = c->received + (size_t)k;
            if (at >= c->length || buf[k] != expected_byte(c->key, at))
                c->first_bad = at;
        }
        if (c->received < c->length && c->received + (size_t)r >= c->length && ++echoed == connections_total &&
            held) {
            printf("echo_sample_client: all %d connections echoed; waiting for the driver to end them\n", echoed);
            fflush(stdout);
        }
        c->received += (size_t)r;
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--held") == 0) {
        held = 1;
        argv++;
        argc--;
    }
    if (argc < 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: echo_sample_client [--held] PORT [CONNECTIONS [SEED [TIMEOUT-SECONDS [MAX-BYTES]]]]\n");
        return 2;
    }
    unsigned short port = (unsigned short)atoi(argv[1]);
    int connections = argc > 2 ? atoi(argv[2]) : 1000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 20240601;
    double timeout = argc > 4 ? atof(argv[4]) : 60.0;
    long long max_message = argc > 5 ? atoll(argv[5]) : DEFAULT_MAX_MESSAGE;
    if (connections <= 0 || connections > 100000 || timeout <= 0 || max_message <= 0 ||
        max_message > (1ll << 30)) {
        fprintf(stderr, "echo_sample_client: bad CONNECTIONS, TIMEOUT or MAX-BYTES\n");
        return 2;
    }
    connections_total = connections;
    if (raise_fd_limit(connections) != 0)
        return 2;

    struct conn *conns = calloc((size_t)connections, sizeof(*conns));
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || epfd < 0) {
        perror("echo_sample_client: setup");
        return 2;
    }
    size_t total = 0;
    for (int i = 0; i < connections; i++) {
        struct conn *c = &conns[i];
        c->index = i;
        c->key = splitmix64(seed * 1000003u + (uint64_t)i);
        c->length = 1 + (size_t)(splitmix64(c->key) % (uint64_t)max_message);
        c->writes = 1 + (int)(splitmix64(c->key + 1) % MAX_WRITES);
        if ((size_t)c->writes > c->length)
            c->writes = (int)c->length;
        /* The writes split the message evenly. */
        for (int w = 0; w < c->writes - 1; w++)
            c->cut[w] = c->length * (size_t)(w + 1) / (size_t)c->writes;
        c->cut[c->writes - 1] = c->length;
        c->first_bad = SIZE_MAX;
        c->fd = -1;
        total += c->length;
    }
    double start = now();
    for (int i = 0; i < connections; i++)
        if (open_connection(&conns[i], port, epfd) != 0)
            return 2;

    int running = 0;
    for (int i = 0; i < connections; i++)
        running += conns[i].outcome == RUNNING;
    struct epoll_event events[256];
    double deadline = start + timeout;
    while (running > 0) {
        double left = deadline - now();
        if (left <= 0)
            break;
        int n = epoll_wait(epfd, events, 256, left > 1 ? 1000 : (int)(left * 1000) + 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo_sample_client: epoll_wait");
            return 2;
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            if (c->outcome != RUNNING)
                continue;
            if (events[k].events & (EPOLLOUT | EPOLLERR))
                on_writable(c, epfd);
            if (c->outcome == RUNNING && (events[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                on_readable(c, epfd);
            if (c->outcome != RUNNING)
                running--;
        }
    }
    double elapsed = now() - start;

    int count[OUTCOMES] = {0};
    int shown = 0;
    for (int i = 0; i < connections; i++) {
        struct conn *c = &conns[i];
        if (c->outcome == RUNNING)
            finish(c, STALLED, epfd);
        count[c->outcome]++;
        if (c->outcome != COMPLETE && shown++ < 10) {
            char bad[64] = "", err[64] = "";
            if (c->first_bad != SIZE_MAX)
                snprintf(bad, sizeof(bad), ", first wrong byte at offset %zu", c->first_bad);
            if (c->error != 0)
                snprintf(err, sizeof(err), ", %s", strerror(c->error));
            printf("  connection %d (IPv%d): %s: sent %zu of %zu, received %zu%s%s\n", i, i % 2 ? 6 : 4,
                   outcome_names[c->outcome], c->sent, c->length, c->received, bad, err);
        }
    }
    printf("echo_sample_client: %d connections, %zu bytes each way, %.2f s: %d complete, %d short, %d reset, "
           "%d mismatched, %d stalled\n",
           connections, total, elapsed, count[COMPLETE], count[SHORT], count[RESET], count[MISMATCHED],
           count[STALLED]);
    int ok = count[COMPLETE] == connections;
    printf("echo_sample_client: %s\n", ok ? "OK" : "FAILED");
    free(conns);
    close(epfd);
    return ok ? 0 : 1;
}
