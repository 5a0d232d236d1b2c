/*
 * wsk_linux.c - Linux side of the provider boundary (wsk_linux.h).
 *
 * This file includes glibc's socket headers and never the Windows ones: the
 * Windows values it needs are spelled out below, with their Windows names.
 * SOCKADDR_IN has the Linux layout already; SOCKADDR_IN6 differs only in the
 * family value (23 vs 10).
 */
#include "wsk_linux.h"
#include "wsk_io.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Windows values (ws2def.h / ws2ipdef.h / mstcpip.h). */
#define WIN_AF_INET 2
#define WIN_AF_INET6 23
#define WIN_SOL_SOCKET 0xffffu
#define WIN_IPPROTO_IP 0u
#define WIN_IPPROTO_IPV6 41u
#define WIN_IPPROTO_TCP 6u
#define WIN_IPPROTO_UDP 17u

enum lx_conv {
    CONV_INT,        /* 4-byte integer or boolean, same meaning */
    CONV_BUFSIZE,    /* SO_RCVBUF/SO_SNDBUF: Linux reports twice what was set */
    CONV_LINGER,     /* Windows struct linger is two u_short */
    CONV_DONTLINGER, /* boolean that is the inverse of l_onoff */
    CONV_DONTFRAG,   /* boolean mapped onto IP_MTU_DISCOVER / IPV6_MTU_DISCOVER */
    CONV_BYTES,      /* same byte layout both sides (mreq structures, IN_ADDR) */
    CONV_FASTOPEN,   /* TCP_FASTOPEN: client side on connecting sockets, queue on listeners */
    CONV_HOST_ORDER, /* 4-byte integer in host order on Windows, network order on Linux */
};

typedef struct lx_option {
    unsigned win_level, win_name;
    int lx_level, lx_name;
    enum lx_conv conv;
} lx_option;

static const lx_option lx_options[] = {
    {WIN_SOL_SOCKET, 0x0008, SOL_SOCKET, SO_KEEPALIVE, CONV_INT},
    {WIN_SOL_SOCKET, 0x0010, SOL_SOCKET, SO_DONTROUTE, CONV_INT},
    {WIN_SOL_SOCKET, 0x0020, SOL_SOCKET, SO_BROADCAST, CONV_INT},
    {WIN_SOL_SOCKET, 0x0080, SOL_SOCKET, SO_LINGER, CONV_LINGER},
    {WIN_SOL_SOCKET, 0xFFFFFF7Fu, SOL_SOCKET, SO_LINGER, CONV_DONTLINGER},
    {WIN_SOL_SOCKET, 0x0100, SOL_SOCKET, SO_OOBINLINE, CONV_INT},
    {WIN_SOL_SOCKET, 0x1001, SOL_SOCKET, SO_SNDBUF, CONV_BUFSIZE},
    {WIN_SOL_SOCKET, 0x1002, SOL_SOCKET, SO_RCVBUF, CONV_BUFSIZE},
    {WIN_SOL_SOCKET, 0x1004, SOL_SOCKET, SO_RCVLOWAT, CONV_INT},
    {WIN_SOL_SOCKET, 0x1008, SOL_SOCKET, SO_TYPE, CONV_INT},
    {WIN_SOL_SOCKET, 0x0002, SOL_SOCKET, SO_ACCEPTCONN, CONV_INT},
    {WIN_IPPROTO_IP, 2, IPPROTO_IP, IP_HDRINCL, CONV_INT},
    {WIN_IPPROTO_IP, 3, IPPROTO_IP, IP_TOS, CONV_INT},
    {WIN_IPPROTO_IP, 4, IPPROTO_IP, IP_TTL, CONV_INT},
    {WIN_IPPROTO_IP, 9, IPPROTO_IP, IP_MULTICAST_IF, CONV_BYTES},
    {WIN_IPPROTO_IP, 10, IPPROTO_IP, IP_MULTICAST_TTL, CONV_INT},
    {WIN_IPPROTO_IP, 11, IPPROTO_IP, IP_MULTICAST_LOOP, CONV_INT},
    {WIN_IPPROTO_IP, 12, IPPROTO_IP, IP_ADD_MEMBERSHIP, CONV_BYTES},
    {WIN_IPPROTO_IP, 13, IPPROTO_IP, IP_DROP_MEMBERSHIP, CONV_BYTES},
    {WIN_IPPROTO_IP, 14, IPPROTO_IP, IP_MTU_DISCOVER, CONV_DONTFRAG},
    {WIN_IPPROTO_IP, 19, IPPROTO_IP, IP_PKTINFO, CONV_INT},
    {WIN_IPPROTO_IP, 21, IPPROTO_IP, IP_RECVTTL, CONV_INT},
    {WIN_IPPROTO_IP, 40, IPPROTO_IP, IP_RECVTOS, CONV_INT},
    /* Interface index for unicast sends.  Windows takes it in network
     * byte order for IPv4 and in host order for IPv6 ("IPPROTO_IP socket
     * options", "IPPROTO_IPV6 socket options"); Linux wants network order
     * for both. */
    {WIN_IPPROTO_IP, 31, IPPROTO_IP, IP_UNICAST_IF, CONV_INT},
    {WIN_IPPROTO_IPV6, 31, IPPROTO_IPV6, IPV6_UNICAST_IF, CONV_HOST_ORDER},
    {WIN_IPPROTO_IPV6, 4, IPPROTO_IPV6, IPV6_UNICAST_HOPS, CONV_INT},
    {WIN_IPPROTO_IPV6, 9, IPPROTO_IPV6, IPV6_MULTICAST_IF, CONV_INT},
    {WIN_IPPROTO_IPV6, 10, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, CONV_INT},
    {WIN_IPPROTO_IPV6, 11, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, CONV_INT},
    {WIN_IPPROTO_IPV6, 12, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, CONV_BYTES},
    {WIN_IPPROTO_IPV6, 13, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, CONV_BYTES},
    {WIN_IPPROTO_IPV6, 14, IPPROTO_IPV6, IPV6_MTU_DISCOVER, CONV_DONTFRAG},
    {WIN_IPPROTO_IPV6, 19, IPPROTO_IPV6, IPV6_RECVPKTINFO, CONV_INT},
    {WIN_IPPROTO_IPV6, 21, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, CONV_INT},
    {WIN_IPPROTO_IPV6, 39, IPPROTO_IPV6, IPV6_TCLASS, CONV_INT},
    {WIN_IPPROTO_IPV6, 40, IPPROTO_IPV6, IPV6_RECVTCLASS, CONV_INT},
    /* UDP_SEND_MSG_SIZE: the socket's segmentation offload size (0: off). */
    {WIN_IPPROTO_UDP, 2, SOL_UDP, UDP_SEGMENT, CONV_INT},
    {WIN_IPPROTO_TCP, 1, IPPROTO_TCP, TCP_NODELAY, CONV_INT},
    {WIN_IPPROTO_TCP, 3, IPPROTO_TCP, TCP_KEEPIDLE, CONV_INT},
    {WIN_IPPROTO_TCP, 4, IPPROTO_TCP, TCP_MAXSEG, CONV_INT},
    {WIN_IPPROTO_TCP, 15, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, CONV_FASTOPEN},
    {WIN_IPPROTO_TCP, 16, IPPROTO_TCP, TCP_KEEPCNT, CONV_INT},
    {WIN_IPPROTO_TCP, 17, IPPROTO_TCP, TCP_KEEPINTVL, CONV_INT},
};

static const lx_option *lx_find_option(unsigned level, unsigned name)
{
    for (size_t i = 0; i < sizeof(lx_options) / sizeof(lx_options[0]); i++)
        if (lx_options[i].win_level == level && lx_options[i].win_name == name)
            return &lx_options[i];
    return NULL;
}

size_t lx_win_sockaddr_size(unsigned win_family)
{
    return win_family == WIN_AF_INET ? sizeof(struct sockaddr_in)
           : win_family == WIN_AF_INET6 ? sizeof(struct sockaddr_in6)
                                        : 0;
}

static int lx_family(unsigned win_family)
{
    return win_family == WIN_AF_INET ? AF_INET : win_family == WIN_AF_INET6 ? AF_INET6 : -1;
}

/* Windows bytes -> Linux sockaddr; returns its length or 0. */
static socklen_t lx_from_win(const void *win_addr, struct sockaddr_storage *out)
{
    unsigned short fam;
    memcpy(&fam, win_addr, sizeof(fam));
    size_t size = lx_win_sockaddr_size(fam);
    if (size == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    memcpy(out, win_addr, size);
    out->ss_family = (sa_family_t)lx_family(fam);
    return (socklen_t)size;
}

/* Linux sockaddr -> Windows bytes. */
static int lx_to_win(const struct sockaddr_storage *in, void *win_out, size_t *len)
{
    unsigned short fam;
    size_t size;
    if (in->ss_family == AF_INET) {
        fam = WIN_AF_INET;
        size = sizeof(struct sockaddr_in);
    } else if (in->ss_family == AF_INET6) {
        fam = WIN_AF_INET6;
        size = sizeof(struct sockaddr_in6);
    } else {
        return -EAFNOSUPPORT;
    }
    memcpy(win_out, in, size);
    memcpy(win_out, &fam, sizeof(fam));
    if (len != NULL)
        *len = size;
    return 0;
}

int lx_socket(unsigned win_family, int type, int protocol)
{
    int family = lx_family(win_family);
    if (family < 0)
        return -EAFNOSUPPORT;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    return fd < 0 ? -errno : fd;
}

int lx_enable_packet_info(int fd, unsigned win_family)
{
    int one = 1;
    int r = win_family == WIN_AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))
                                       : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    return r == 0 ? 0 : -errno;
}

int lx_receive_tos(int fd, int ipv6, int on)
{
    int r = ipv6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on))
                 : setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
    return r == 0 ? 0 : -errno;
}

int lx_receive_coalesced(int fd, int on)
{
    return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0 ? 0 : -errno;
}

int lx_close(int fd)
{
    return close(fd) == 0 ? 0 : -errno;
}

int lx_prepare_bind(int fd, unsigned win_family, int v6only)
{
    if (win_family == WIN_AF_INET6) {
        int value = v6only ? 1 : 0;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, sizeof(value)) != 0)
            return -errno;
    }
    return 0;
}

int lx_bind(int fd, const void *win_addr)
{
    struct sockaddr_storage ss;
    socklen_t len = lx_from_win(win_addr, &ss);
    if (len == 0)
        return -EAFNOSUPPORT;
    return bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
}

int lx_listen(int fd, int backlog)
{
    return listen(fd, backlog) == 0 ? 0 : -errno;
}

int lx_shutdown_both(int fd)
{
    return shutdown(fd, SHUT_RDWR) == 0 ? 0 : -errno;
}

int lx_shutdown_send(int fd)
{
    return shutdown(fd, SHUT_WR) == 0 ? 0 : -errno;
}

int lx_reset_on_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0 ? 0 : -errno;
}

static int datagram_connect_now(int fd, const void *win_addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (win_addr == NULL) {
        ss.ss_family = AF_UNSPEC; /* dissolves the association */
        len = sizeof(struct sockaddr);
    } else {
        unsigned short fam;
        memcpy(&fam, win_addr, sizeof(fam));
        len = fam == WIN_AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        memcpy(&ss, win_addr, len);
        ss.ss_family = fam == WIN_AF_INET6 ? AF_INET6 : AF_INET;
    }
    return connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
}

int lx_datagram_connect(int fd, const void *win_addr)
{
    return wsk_io_with_fd_quiet(fd, datagram_connect_now, win_addr); /* connect: not while the engine polls fd */
}

int lx_connection_gone(int fd)
{
    /* Peeking leaves any data for the client; 0 is the peer's FIN. */
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static int abort_now(int fd, const void *unused)
{
    (void)unused;
    /* connect(AF_UNSPEC) disconnects a TCP socket with a reset while the
     * descriptor stays valid (tcp_disconnect). */
    lx_reset_on_close(fd);
    struct sockaddr sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNSPEC;
    return connect(fd, &sa, sizeof(sa)) == 0 ? 0 : -errno;
}

int lx_abort(int fd)
{
    return wsk_io_with_fd_quiet(fd, abort_now, NULL); /* connect: not while the engine polls fd */
}

int lx_ideal_send_backlog(int fd, size_t *bytes)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return -errno;
    int sndbuf = 0;
    socklen_t sl = sizeof(sndbuf);
    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
    size_t window = (size_t)info.tcpi_snd_cwnd * info.tcpi_snd_mss;
    size_t floor = sndbuf > 0 ? (size_t)sndbuf / 2 : 65536;
    *bytes = window > floor ? window : floor;
    return 0;
}

int lx_receive_backlog(int fd, size_t *bytes)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) != 0)
        return -errno;
    *bytes = (size_t)n;
    return 0;
}

int lx_local_address(int fd, void *win_addr_out, size_t *len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -errno;
    return lx_to_win(&ss, win_addr_out, len);
}

int lx_remote_address(int fd, void *win_addr_out, size_t *len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -errno;
    return lx_to_win(&ss, win_addr_out, len);
}

int lx_address_is_local(const void *win_addr)
{
    /* Linux's own answer: an address is local if a socket can bind to it
     * (this covers all of 127.0.0.0/8, which no interface lists). */
    struct sockaddr_storage want;
    socklen_t len = lx_from_win(win_addr, &want);
    if (len == 0)
        return -EAFNOSUPPORT;
    /* Loopback is always local (127.0.0.0/8 and ::1 are routes of lo, not
     * interface addresses): no probe socket for the commonest case. */
    if (want.ss_family == AF_INET && (ntohl(((struct sockaddr_in *)&want)->sin_addr.s_addr) >> 24) == 127)
        return 1;
    if (want.ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&want)->sin6_addr))
        return 1;
    if (want.ss_family == AF_INET)
        ((struct sockaddr_in *)&want)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&want)->sin6_port = 0;
    int fd = socket(want.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = bind(fd, (struct sockaddr *)&want, len);
    int err = r == 0 ? 0 : errno;
    close(fd);
    if (r == 0)
        return 1;
    return err == EADDRNOTAVAIL ? 0 : -err;
}

int lx_push_pending(int fd)
{
    /* Turning TCP_NODELAY on transmits the pending segments at once
     * (tcp(7), TCP_NODELAY). */
    int was = 0, on = 1;
    socklen_t sl = sizeof(was);
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &was, &sl) != 0)
        return -errno;
    if (was)
        return 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
        return -errno;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &was, sizeof(was)) == 0 ? 0 : -errno;
}

/* Milliseconds to Linux's keep-alive seconds: rounded up, 1 to 32767. */
static int keepalive_seconds(unsigned ms)
{
    unsigned s = ms / 1000u + (ms % 1000u != 0);
    return s < 1 ? 1 : s > 32767 ? 32767 : (int)s;
}

int lx_keepalive_values(int fd, unsigned on, unsigned idle_ms, unsigned interval_ms)
{
    int v = on != 0;
    if (v) {
        int idle = keepalive_seconds(idle_ms), interval = keepalive_seconds(interval_ms);
        if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval)) != 0)
            return -errno;
    }
    return setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) == 0 ? 0 : -errno;
}

static int lx_read_u32(const void *value, size_t len, int *out)
{
    if (value == NULL || len < sizeof(int))
        return -EINVAL;
    memcpy(out, value, sizeof(int));
    return 0;
}

int lx_set_option(int fd, unsigned win_level, unsigned win_name, const void *value, size_t len, int listening)
{
    const lx_option *o = lx_find_option(win_level, win_name);
    if (o == NULL)
        return -ENOPROTOOPT;
    int v, r;
    switch (o->conv) {
    case CONV_INT:
    case CONV_BUFSIZE:
        if ((r = lx_read_u32(value, len, &v)) != 0)
            return r;
        r = setsockopt(fd, o->lx_level, o->lx_name, &v, sizeof(v));
        break;
    case CONV_LINGER: {
        unsigned short w[2];
        if (value == NULL || len < sizeof(w))
            return -EINVAL;
        memcpy(w, value, sizeof(w));
        struct linger l = {.l_onoff = w[0] != 0, .l_linger = w[1]};
        r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        break;
    }
    case CONV_DONTLINGER: {
        if ((r = lx_read_u32(value, len, &v)) != 0)
            return r;
        struct linger l = {.l_onoff = v == 0, .l_linger = 0};
        r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        break;
    }
    case CONV_HOST_ORDER:
        if ((r = lx_read_u32(value, len, &v)) != 0)
            return r;
        v = (int)htonl((uint32_t)v);
        r = setsockopt(fd, o->lx_level, o->lx_name, &v, sizeof(v));
        break;
    case CONV_DONTFRAG:
        if ((r = lx_read_u32(value, len, &v)) != 0)
            return r;
        v = v ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
        r = setsockopt(fd, o->lx_level, o->lx_name, &v, sizeof(v));
        break;
    case CONV_FASTOPEN:
        if ((r = lx_read_u32(value, len, &v)) != 0)
            return r;
        if (listening) {
            int queue = v ? 16 : 0;
            r = setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &queue, sizeof(queue));
        } else {
            r = setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &v, sizeof(v));
        }
        break;
    case CONV_BYTES:
        if (value == NULL)
            return -EINVAL;
        r = setsockopt(fd, o->lx_level, o->lx_name, value, (socklen_t)len);
        break;
    default:
        return -ENOPROTOOPT;
    }
    return r == 0 ? 0 : -errno;
}

int lx_get_option(int fd, unsigned win_level, unsigned win_name, void *value, size_t *len)
{
    const lx_option *o = lx_find_option(win_level, win_name);
    if (o == NULL)
        return -ENOPROTOOPT;
    int v = 0;
    socklen_t sl = sizeof(v);
    switch (o->conv) {
    case CONV_INT:
    case CONV_BUFSIZE:
    case CONV_DONTFRAG:
    case CONV_FASTOPEN:
    case CONV_HOST_ORDER:
        if (*len < sizeof(int))
            return -EFAULT;
        if (getsockopt(fd, o->lx_level, o->lx_name, &v, &sl) != 0)
            return -errno;
        if (o->conv == CONV_BUFSIZE)
            v /= 2;
        else if (o->conv == CONV_HOST_ORDER)
            v = (int)ntohl((uint32_t)v);
        else if (o->conv == CONV_DONTFRAG)
            v = v == IP_PMTUDISC_DO;
        memcpy(value, &v, sizeof(v));
        *len = sizeof(int);
        return 0;
    case CONV_LINGER:
    case CONV_DONTLINGER: {
        struct linger l;
        sl = sizeof(l);
        if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &sl) != 0)
            return -errno;
        if (o->conv == CONV_LINGER) {
            unsigned short w[2] = {(unsigned short)(l.l_onoff != 0), (unsigned short)l.l_linger};
            if (*len < sizeof(w))
                return -EFAULT;
            memcpy(value, w, sizeof(w));
            *len = sizeof(w);
        } else {
            if (*len < sizeof(int))
                return -EFAULT;
            v = l.l_onoff == 0;
            memcpy(value, &v, sizeof(v));
            *len = sizeof(int);
        }
        return 0;
    }
    case CONV_BYTES: {
        sl = (socklen_t)*len;
        if (getsockopt(fd, o->lx_level, o->lx_name, value, &sl) != 0)
            return -errno;
        *len = sl;
        return 0;
    }
    }
    return -ENOPROTOOPT;
}
