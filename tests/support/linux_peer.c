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
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
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

long peer_udp_send_from(int fd, int family, const char *ip, unsigned short port, const void *data, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = peer_addr(family, ip, port, &ss);
    ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl);
    return n < 0 ? -errno : (long)n;
}

long peer_udp_recv(int fd, void *buf, size_t len, unsigned short *from_port, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&ss, &sl);
    if (n < 0)
        return -errno;
    if (from_port != NULL)
        *from_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                    : ((struct sockaddr_in *)&ss)->sin_port);
    return (long)n;
}

long peer_udp_recv_source4(int fd, void *buf, size_t len, unsigned int *source, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0)
        return r == 0 ? -ETIMEDOUT : -errno;
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&sin, &sl);
    if (n < 0)
        return -errno;
    *source = ntohl(sin.sin_addr.s_addr);
    return (long)n;
}

int peer_can_open_raw(void)
{
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
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

static int sockopt_by_name(int fd, const char *name, const int *set)
{
    static const struct {
        const char *name;
        int level, opt;
    } table[] = {
        {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY}, {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE},
        {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF},     {"SO_BROADCAST", SOL_SOCKET, SO_BROADCAST},
        {"IP_TTL", IPPROTO_IP, IP_TTL},           {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY},
        {"SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT},
        {"IP_TOS", IPPROTO_IP, IP_TOS},
        {"IP_RECVTTL", IPPROTO_IP, IP_RECVTTL},
        {"IP_RECVTOS", IPPROTO_IP, IP_RECVTOS},
        {"IP_MULTICAST_LOOP", IPPROTO_IP, IP_MULTICAST_LOOP},
        {"IPV6_UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS},
        {"IPV6_TCLASS", IPPROTO_IPV6, IPV6_TCLASS},
        {"IPV6_RECVHOPLIMIT", IPPROTO_IPV6, IPV6_RECVHOPLIMIT},
        {"IPV6_RECVTCLASS", IPPROTO_IPV6, IPV6_RECVTCLASS},
        {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE},
        {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL},
        {"TCP_QUICKACK", IPPROTO_TCP, TCP_QUICKACK},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(table[i].name, name) != 0)
            continue;
        int v = 0;
        socklen_t len = sizeof(v);
        if (set != NULL)
            return setsockopt(fd, table[i].level, table[i].opt, set, sizeof(*set)) == 0 ? 0 : -errno;
        return getsockopt(fd, table[i].level, table[i].opt, &v, &len) == 0 ? v : -errno;
    }
    return -ENOPROTOOPT;
}

int peer_sockopt(int fd, const char *name)
{
    return sockopt_by_name(fd, name, NULL);
}

int peer_set_sockopt(int fd, const char *name, int value)
{
    return sockopt_by_name(fd, name, &value);
}

long peer_udp_recv_meta(int fd, void *buf, size_t len, int *hops, int *tclass, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    _Alignas(struct cmsghdr) unsigned char control[256];
    struct iovec iov = {buf, len};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0)
        return -errno;
    *hops = -1;
    *tclass = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        int v = 0;
        if (c->cmsg_len == CMSG_LEN(1))
            v = *CMSG_DATA(c);
        else
            memcpy(&v, CMSG_DATA(c), sizeof(v));
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
            *hops = v;
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS))
            *tclass = v;
    }
    return n;
}

int peer_interface4(char address[16], char broadcast[16])
{
    struct ifaddrs *list;
    int found = 0;
    if (getifaddrs(&list) != 0)
        return 0;
    for (struct ifaddrs *i = list; i != NULL && !found; i = i->ifa_next) {
        unsigned want = IFF_UP | IFF_MULTICAST | IFF_BROADCAST;
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & want) != want ||
            (i->ifa_flags & IFF_LOOPBACK) || i->ifa_broadaddr == NULL)
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, address, 16);
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_broadaddr)->sin_addr, broadcast, 16);
        found = 1;
    }
    freeifaddrs(list);
    return found;
}

int peer_multicast_setup4(int fd, const char *group, const char *interface_ip)
{
    struct in_addr iface;
    inet_pton(AF_INET, interface_ip, &iface);
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof(iface)) != 0)
        return -errno;
    if (group == NULL)
        return 0;
    struct ip_mreq m;
    inet_pton(AF_INET, group, &m.imr_multiaddr);
    m.imr_interface = iface;
    return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) == 0 ? 0 : -errno;
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

long peer_send_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return (long)done;
}

long peer_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t done = 0;
    while (done < len) {
        long n = peer_recv(fd, (char *)buf + done, len - done, timeout_ms);
        if (n <= 0)
            return n < 0 ? n : (long)done;
        done += (size_t)n;
    }
    return (long)done;
}

int peer_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) == 0 ? 0 : -errno;
}

int peer_shutdown_both(int fd)
{
    return shutdown(fd, SHUT_RDWR) == 0 ? 0 : -errno;
}

long peer_drain(int fd, int timeout_ms)
{
    char buf[4096];
    long total = 0;
    for (;;) {
        long n = peer_recv(fd, buf, sizeof(buf), timeout_ms);
        if (n == 0)
            return total;
        if (n < 0)
            return n;
        total += n;
    }
}

void peer_reset_on_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

struct peer_job {
    pthread_t thread;
    int fd;
    size_t len;
    int write;
    long result;
};

static void *peer_job_main(void *arg)
{
    peer_job *j = arg;
    unsigned char buf[65536];
    size_t done = 0;
    long bad = 0;
    while (done < j->len) {
        size_t chunk = j->len - done < sizeof(buf) ? j->len - done : sizeof(buf);
        if (j->write) {
            for (size_t i = 0; i < chunk; i++)
                buf[i] = peer_pattern(done + i);
            if (peer_send_all(j->fd, buf, chunk) != (long)chunk)
                break;
            done += chunk;
        } else {
            long n = peer_recv(j->fd, buf, chunk, 5000);
            if (n <= 0)
                break;
            for (long i = 0; i < n; i++)
                if (buf[i] != peer_pattern(done + (size_t)i) && bad++ == 0)
                    fprintf(stderr, "  peer: byte %zu is 0x%02x, expected 0x%02x\n", done + (size_t)i, buf[i],
                            peer_pattern(done + (size_t)i));
            done += (size_t)n;
        }
    }
    if (done != j->len)
        fprintf(stderr, "  peer: moved %zu of %zu bytes\n", done, j->len);
    j->result = (bad == 0 && done == j->len) ? (long)done : -1;
    return NULL;
}

static peer_job *peer_job_start(int fd, size_t len, int write)
{
    peer_job *j = calloc(1, sizeof(*j));
    j->fd = fd;
    j->len = len;
    j->write = write;
    pthread_create(&j->thread, NULL, peer_job_main, j);
    return j;
}

peer_job *peer_job_verify_reader(int fd, size_t len)
{
    return peer_job_start(fd, len, 0);
}

peer_job *peer_job_pattern_writer(int fd, size_t len)
{
    return peer_job_start(fd, len, 1);
}

long peer_job_join(peer_job *job)
{
    pthread_join(job->thread, NULL);
    long r = job->result;
    free(job);
    return r;
}

int peer_accept(int lfd, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -ETIMEDOUT;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

long peer_process_cpu_ms(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return -errno;
    return (long)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

unsigned peer_ifindex(const char *name)
{
    return if_nametoindex(name);
}

unsigned peer_ifindex_of4(const char *address)
{
    struct in_addr want;
    struct ifaddrs *list;
    unsigned index = 0;
    if (inet_pton(AF_INET, address, &want) != 1 || getifaddrs(&list) != 0)
        return 0;
    for (struct ifaddrs *i = list; i != NULL && index == 0; i = i->ifa_next)
        if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
            ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == want.s_addr)
            index = if_nametoindex(i->ifa_name);
    freeifaddrs(list);
    return index;
}

long peer_unsent_bytes(int fd)
{
    int n = 0;
    return ioctl(fd, SIOCOUTQNSD, &n) == 0 ? n : -errno;
}

long peer_unread_bytes(int fd)
{
    int n = 0;
    return ioctl(fd, SIOCINQ, &n) == 0 ? n : -errno;
}

long peer_udp_send_segmented(int fd, int family, const char *ip, unsigned short port, const void *data, size_t len,
                             unsigned short segment)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (family == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, ip, &a->sin_addr);
        sl = sizeof(*a);
    }
    _Alignas(struct cmsghdr) unsigned char control[CMSG_SPACE(sizeof(uint16_t))];
    memset(control, 0, sizeof(control));
    struct iovec iov = {(void *)data, len};
    struct msghdr msg = {0};
    msg.msg_name = &ss;
    msg.msg_namelen = sl;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &segment, sizeof(segment));
    ssize_t n = sendmsg(fd, &msg, 0);
    return n < 0 ? -errno : n;
}
