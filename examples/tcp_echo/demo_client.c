/*
 * demo_client.c - the Linux side of the echo demo: a plain sockets client
 * that talks to the echo driver over IPv4 and IPv6 loopback and checks what
 * comes back.  Linux headers only (it shares no translation unit with the
 * Windows-typed driver).
 */
#include "demo_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int client_connect(int family, unsigned short port)
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
        perror("demo client: connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

int demo_client_run(unsigned short port)
{
    static const char *lines[] = {"hello, WSK", "echo from a Windows driver running on Linux",
                                  "the last line"};
    int failures = 0;
    for (int family = 4; family <= 6; family += 2) {
        int fd = client_connect(family, port);
        if (fd < 0)
            return 1;
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
            size_t n = strlen(lines[i]);
            char back[256];
            size_t got = 0;
            if (send(fd, lines[i], n, MSG_NOSIGNAL) != (ssize_t)n)
                failures++;
            while (got < n) {
                ssize_t r = recv(fd, back + got, n - got, 0);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            int same = got == n && memcmp(back, lines[i], n) == 0;
            printf("IPv%d sent \"%s\" -> echoed \"%.*s\" %s\n", family, lines[i], (int)got, back,
                   same ? "ok" : "MISMATCH");
            failures += !same;
        }
        shutdown(fd, SHUT_WR);
        char tail;
        ssize_t r = recv(fd, &tail, 1, 0); /* the driver disconnects gracefully: EOF */
        if (r != 0) {
            printf("IPv%d: expected EOF after the driver's disconnect, got %zd\n", family, r);
            failures++;
        }
        close(fd);
    }
    return failures;
}
