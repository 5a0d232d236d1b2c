/*
 * echo_client.c - the Linux side of the TCP echo example: plain sockets
 * talking to the echo driver over IPv4 and IPv6 loopback.
 *
 *   echo_client PORT [CONNECTIONS]
 *   echo_client PORT --held CONNECTIONS
 *
 * Prints a few lines and what came back, then runs CONNECTIONS (default 8)
 * connections at once, each sending 256 KiB of its own pattern and checking
 * every echoed byte, and checks that the driver ends each connection with a
 * graceful disconnect (EOF) after ours.  With --held, it opens the
 * connections, checks one echo on each and keeps them open until the driver
 * ends them (DriverUnload aborts what is still open: a reset or EOF within
 * 10 s).  Exit status 0 only if all is well.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STREAM_BYTES (256 * 1024)
#define CHUNK 4096

static unsigned short port;

static int client_connect(int family)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (family == 6) {
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
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        perror("echo client: connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int recv_exact(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* After our shutdown, the driver disconnects too: we must read EOF. */
static int expect_eof(int fd)
{
    char tail;
    shutdown(fd, SHUT_WR);
    return recv(fd, &tail, 1, 0) == 0 ? 0 : -1;
}

static int lines(int family)
{
    static const char *text[] = {"hello, WSK", "echo from a Windows driver running on Linux", "the last line"};
    int failures = 0;
    int fd = client_connect(family);
    if (fd < 0)
        return 1;
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        size_t n = strlen(text[i]);
        unsigned char back[256];
        int ok = send(fd, text[i], n, MSG_NOSIGNAL) == (ssize_t)n && recv_exact(fd, back, n) == 0 &&
                 memcmp(back, text[i], n) == 0;
        printf("IPv%d sent \"%s\" -> echoed \"%.*s\" %s\n", family, text[i], ok ? (int)n : 0, back,
               ok ? "ok" : "MISMATCH");
        failures += !ok;
    }
    if (expect_eof(fd) != 0) {
        printf("IPv%d: no graceful disconnect from the driver\n", family);
        failures++;
    }
    close(fd);
    return failures;
}

static unsigned char pattern(size_t at, unsigned seed)
{
    return (unsigned char)((at * 131u + seed * 7u + (at >> 9)) & 0xFF);
}

static void *stream(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    int fd = client_connect(seed % 2 ? 4 : 6);
    if (fd < 0)
        return (void *)1;
    unsigned char out[CHUNK], back[CHUNK];
    int bad = 0;
    for (size_t at = 0; at < STREAM_BYTES && !bad; at += CHUNK) {
        for (size_t k = 0; k < CHUNK; k++)
            out[k] = pattern(at + k, seed);
        bad = send(fd, out, CHUNK, MSG_NOSIGNAL) != CHUNK || recv_exact(fd, back, CHUNK) != 0 ||
              memcmp(out, back, CHUNK) != 0;
    }
    bad = bad || expect_eof(fd) != 0;
    close(fd);
    return (void *)(size_t)bad;
}

/* Connections left open while the driver unloads: each must be ended by
 * the driver (reset or EOF), not left hanging. */
static int held(int connections)
{
    int fds[256], failures = 0;
    for (int i = 0; i < connections; i++) {
        unsigned char back[2];
        fds[i] = client_connect(i % 2 ? 4 : 6);
        if (fds[i] < 0 || send(fds[i], "hi", 2, MSG_NOSIGNAL) != 2 || recv_exact(fds[i], back, 2) != 0)
            failures++;
    }
    printf("%d connections open and echoing; waiting for the driver to end them\n", connections);
    fflush(stdout);
    for (int i = 0; i < connections; i++) {
        char c;
        if (fds[i] < 0)
            continue;
        ssize_t r = recv(fds[i], &c, 1, 0); /* SO_RCVTIMEO: 10 s */
        if (r > 0 || (r < 0 && errno != ECONNRESET))
            failures++;
        close(fds[i]);
    }
    printf("echo client (held connections): %s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: echo_client PORT [CONNECTIONS]\n");
        return 2;
    }
    port = (unsigned short)atoi(argv[1]);
    if (argc > 3 && strcmp(argv[2], "--held") == 0)
        return held(atoi(argv[3]) > 0 && atoi(argv[3]) <= 256 ? atoi(argv[3]) : 4);
    int connections = argc > 2 ? atoi(argv[2]) : 8;
    if (connections < 0 || connections > 256)
        connections = 8;
    int failures = lines(4) + lines(6);
    pthread_t threads[256];
    for (int i = 0; i < connections; i++)
        pthread_create(&threads[i], NULL, stream, (void *)(size_t)(i + 1));
    int bad_streams = 0;
    for (int i = 0; i < connections; i++) {
        void *r;
        pthread_join(threads[i], &r);
        bad_streams += r != NULL;
    }
    printf("%d connections at once, %d KiB each, echoed byte-exact: %s\n", connections, STREAM_BYTES / 1024,
           bad_streams ? "NO" : "yes");
    failures += bad_streams;
    printf("echo client: %s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}
