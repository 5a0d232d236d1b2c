/*
 * http_test_server.c - the one-shot HTTP server the http_get example's test
 * fetches from.  A plain Linux program.
 *
 * Listens on 127.0.0.1 and, where the host has IPv6, on ::1 with the same
 * ephemeral port (so "localhost" works whichever address the resolver
 * ranks first), prints "listening on port N" and what the body will be
 * ("expect: body N bytes, checksum 0xXXXXXXXX", the sum of its bytes modulo
 * 2^32, the way the driver reports it), then takes ONE connection.  The
 * request must be "GET /hello.txt HTTP/1.1" with a Host header; the answer
 * is 200 with Content-Length, sent in pieces so that the client sees the
 * headers split across receives.  Then it shuts its side down and waits for
 * the client's graceful close (FIN, not a reset).
 *
 * Exit status: 0 all as expected, 1 wrong request or client behaviour,
 * 2 setup error or timeout (20 s in all).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_SECONDS 20
#define BODY_SIZE 7777 /* a few KiB, not a round number */
#define EXPECTED_PATH "/hello.txt"

static void on_alarm(int sig)
{
    static const char msg[] = "http_test_server: timed out\n";
    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(2);
}

/* Printable text in 64-byte lines; the same every run. */
static void make_body(unsigned char *body, size_t size, uint32_t *sum)
{
    *sum = 0;
    for (size_t i = 0; i < size; i++) {
        body[i] = (i % 64 == 63) ? '\n' : (unsigned char)('A' + (i * 7 + i / 13) % 26);
        *sum += body[i];
    }
}

static int listen_on(int family, const void *addr, unsigned short port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    int rc;
    if (family == AF_INET6) {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        memcpy(&sa.sin6_addr, addr, sizeof(sa.sin6_addr));
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        memcpy(&sa.sin_addr, addr, sizeof(sa.sin_addr));
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    }
    if (rc != 0 || listen(fd, 4) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static unsigned short port_of(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return ntohs(sa.sin_port);
}

static int send_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

static void pause_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Is there a "Host:" header line (any case) in the request's headers? */
static const char *find_host(const char *request)
{
    for (const char *line = strstr(request, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "Host:", 5) == 0)
            return line;
    }
    return NULL;
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    alarm(TIMEOUT_SECONDS);
    signal(SIGPIPE, SIG_IGN);

    /* 127.0.0.1 on a free port, then ::1 on the same one; if that port is
     * taken on ::1, start again with another. */
    const struct in_addr v4 = {htonl(INADDR_LOOPBACK)};
    int fds[2] = {-1, -1};
    unsigned short port = 0;
    for (int attempt = 0; attempt < 20 && port == 0; attempt++) {
        fds[0] = listen_on(AF_INET, &v4, 0);
        if (fds[0] < 0) {
            perror("http_test_server: 127.0.0.1");
            return 2;
        }
        port = port_of(fds[0]);
        fds[1] = listen_on(AF_INET6, &in6addr_loopback, port);
        if (fds[1] < 0 && errno == EADDRINUSE) {
            close(fds[0]);
            fds[0] = -1;
            port = 0;
        }
    }
    if (port == 0) {
        fprintf(stderr, "http_test_server: no port free on both 127.0.0.1 and ::1\n");
        return 2;
    }

    static unsigned char body[BODY_SIZE];
    uint32_t sum;
    make_body(body, sizeof(body), &sum);
    printf("listening on port %u (%s)\n", port, fds[1] >= 0 ? "127.0.0.1 and ::1" : "127.0.0.1 only");
    printf("expect: body %u bytes, checksum 0x%08X\n", (unsigned)sizeof(body), sum);
    fflush(stdout);

    struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    int ready;
    do
        ready = poll(p, fds[1] >= 0 ? 2 : 1, -1);
    while (ready < 0 && errno == EINTR);
    int listener = (p[0].revents & POLLIN) ? fds[0] : fds[1];
    int conn = ready > 0 ? accept4(listener, NULL, NULL, SOCK_CLOEXEC) : -1;
    if (conn < 0) {
        perror("http_test_server: accept");
        return 2;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);

    /* The request, up to the empty line. */
    char request[8192];
    size_t got = 0;
    char *end = NULL;
    while (end == NULL) {
        if (got == sizeof(request) - 1) {
            fprintf(stderr, "http_test_server: request headers too long\n");
            return 1;
        }
        ssize_t n = recv(conn, request + got, sizeof(request) - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "http_test_server: connection ended before the request did (%s)\n",
                    n < 0 ? strerror(errno) : "closed");
            return 1;
        }
        got += (size_t)n;
        request[got] = '\0';
        end = strstr(request, "\r\n\r\n");
    }
    end[2] = '\0'; /* keep the last header's CRLF */
    size_t extra = got - (size_t)(end + 4 - request);

    const char *line = "GET " EXPECTED_PATH " HTTP/1.1\r\n";
    const char *host = find_host(request);
    int ok = strncmp(request, line, strlen(line)) == 0 && host != NULL && extra == 0;
    printf("request:\n%s", request);
    fflush(stdout);
    if (!ok) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        fprintf(stderr, "http_test_server: expected \"GET %s HTTP/1.1\" with a Host header and nothing after it\n",
                EXPECTED_PATH);
        send_all(conn, bad, sizeof(bad) - 1);
        close(conn);
        return 1;
    }

    /* Small pieces, each its own segment: the status line and headers come
     * apart, the body after them in two parts. */
    char head[256];
    int head_len = snprintf(head, sizeof(head),
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %u\r\n"
                            "Connection: close\r\n\r\n",
                            (unsigned)sizeof(body));
    int one = 1;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    size_t split = 20; /* inside the headers */
    size_t first_body = 1000;
    if (send_all(conn, head, split) != 0)
        goto send_failed;
    pause_ms(50);
    if (send_all(conn, head + split, (size_t)head_len - split) != 0 || send_all(conn, body, first_body) != 0)
        goto send_failed;
    pause_ms(50);
    if (send_all(conn, body + first_body, sizeof(body) - first_body) != 0)
        goto send_failed;

    /* Our side is done; the client should now close its side gracefully. */
    shutdown(conn, SHUT_WR);
    char rest[512];
    ssize_t n;
    size_t after = 0;
    for (;;) {
        n = recv(conn, rest, sizeof(rest), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        after += (size_t)n;
    }
    close(conn);
    if (n < 0) {
        fprintf(stderr, "http_test_server: the client did not close gracefully: %s\n", strerror(errno));
        return 1;
    }
    if (after != 0) {
        fprintf(stderr, "http_test_server: %zu unexpected bytes after the request\n", after);
        return 1;
    }
    printf("served %u body bytes; the client closed gracefully\n", (unsigned)sizeof(body));
    return 0;

send_failed:
    perror("http_test_server: send");
    close(conn);
    return 1;
}
