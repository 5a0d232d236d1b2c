/*
 * linux_peer.c - plain Linux sockets for tests (see linux_peer.h).
 */
#define _GNU_SOURCE /* setresuid, setresgid */
#include "linux_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <grp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static socklen_t peer_addr(int family, const char *ip, unsigned short port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        return sizeof(*a);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip, &a->sin_addr);
    return sizeof(*a);
}

int peer_tcp_connect(int family, const char *ip, unsigned short port)
{
    struct sockaddr_storage ss;
    socklen_t len = peer_addr(family, ip, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 2000) != 1) {
        close(fd);
        return -ETIMEDOUT;
    }
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) {
        close(fd);
        return -err;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int peer_bound(int family, int type, const char *ip, unsigned short port)
{
    struct sockaddr_storage ss;
    socklen_t len = peer_addr(family, ip, port, &ss);
    int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (family == 6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int peer_tcp_listen(int family, const char *ip, unsigned short port)
{
    int fd = peer_bound(family, SOCK_STREAM, ip, port);
    if (fd >= 0 && listen(fd, 16) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int peer_udp_bind(int family, const char *ip, unsigned short port)
{
    return peer_bound(family, SOCK_DGRAM, ip, port);
}

int peer_udp_sendto(int family, const char *ip, unsigned short port, const void *data, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = peer_addr(family, ip, port, &ss);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl);
    int e = n < 0 ? errno : 0;
    close(fd);
    return -e;
}

long peer_recv(int fd, void *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    ssize_t n = recv(fd, buf, len, 0);
    return n < 0 ? -errno : (long)n;
}

unsigned short peer_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

unsigned short peer_free_port(void)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = peer_bound(4, SOCK_STREAM, "127.0.0.1", 0);
        if (fd < 0)
            continue;
        unsigned short port = peer_local_port(fd);
        close(fd);
        int probes[3] = {peer_bound(4, SOCK_DGRAM, "0.0.0.0", port), peer_bound(4, SOCK_STREAM, "0.0.0.0", port),
                         peer_has_ipv6() ? peer_bound(6, SOCK_STREAM, "::", port) : 0};
        int ok = probes[0] >= 0 && probes[1] >= 0 && probes[2] >= 0;
        for (int i = 0; i < 3; i++)
            if (probes[i] > 0)
                close(probes[i]);
        if (ok)
            return port;
    }
    return 0;
}

int peer_can_bind_privileged(void)
{
    int fd = peer_bound(4, SOCK_DGRAM, "127.0.0.1", 1023);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    return fd != -EACCES;
}

int peer_has_ipv6(void)
{
    int fd = peer_bound(6, SOCK_DGRAM, "::1", 0);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

void peer_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int peer_sockopt(int fd, const char *name)
{
    static const struct {
        const char *name;
        int level, opt;
    } table[] = {
        {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY}, {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE},
        {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF},     {"SO_BROADCAST", SOL_SOCKET, SO_BROADCAST},
        {"IP_TTL", IPPROTO_IP, IP_TTL},           {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY},
        {"SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(table[i].name, name) != 0)
            continue;
        int v = 0;
        socklen_t len = sizeof(v);
        return getsockopt(fd, table[i].level, table[i].opt, &v, &len) == 0 ? v : -errno;
    }
    return -ENOPROTOOPT;
}

int peer_run_unprivileged(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                               setresuid(65534, 65534, 65534) != 0))
            _exit(255);
        _exit(fn(arg));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
        return -1;
    return WEXITSTATUS(status);
}

int peer_unprivileged_port_start(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
    int v = 1024;
    if (f != NULL) {
        if (fscanf(f, "%d", &v) != 1)
            v = 1024;
        fclose(f);
    }
    return v;
}
