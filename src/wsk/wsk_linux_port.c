/*
 * wsk_linux_port.c - what Linux is told about ports (wsk_linux.h, "ports").
 *
 * Windows' address-sharing rules are the bind registry's; Linux only has to
 * allow what the registry allowed, and nothing more: a Linux socket that
 * carries SO_REUSEPORT can be joined by any process of the same uid, and a
 * UDP socket with SO_REUSEADDR by any process at all.  So the provider sets
 * these options only for the moment a permitted share is made
 * (wsk_bind_registry.c), and claims the port among openwsk processes
 * first, so that two of them never open one port to each other at once.
 */
#include "wsk_linux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int lx_port_claim(unsigned transport, unsigned port)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    /* Abstract namespace (leading NUL): vanishes with the last descriptor,
     * so a crashed process never leaves a stale claim behind. */
    int n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "openwsk/port/%u/%u", transport, port);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int set_flag(int fd, int name, int on)
{
    int value = on ? 1 : 0;
    return setsockopt(fd, SOL_SOCKET, name, &value, sizeof(value)) == 0 ? 0 : -errno;
}

int lx_share_port(int fd, int on)
{
    return set_flag(fd, SO_REUSEPORT, on);
}

int lx_reuse_address(int fd, int on)
{
    return set_flag(fd, SO_REUSEADDR, on);
}

/* Asks sock_diag whether the family has TCP sockets on the local port in
 * the states (a mask of 1 << TCP_*), the kernel filtering by port (a
 * bytecode of two ops: "source port equals", then the port); 1 if any, 0
 * if none, -errno. */
static int diag_has_sockets(int family, unsigned port, unsigned states)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
        struct rtattr bytecode;
        struct inet_diag_bc_op ops[2];
    } q;
    memset(&q, 0, sizeof(q));
    q.nlh.nlmsg_len = sizeof(q);
    q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    q.req.sdiag_family = (unsigned char)family;
    q.req.sdiag_protocol = IPPROTO_TCP;
    q.req.idiag_states = states;
    q.bytecode.rta_type = INET_DIAG_REQ_BYTECODE;
    q.bytecode.rta_len = RTA_LENGTH(sizeof(q.ops));
    /* Accept: jump to the end (8); reject: past it (12). */
    q.ops[0] = (struct inet_diag_bc_op){INET_DIAG_BC_S_EQ, sizeof(q.ops), sizeof(q.ops) + 4};
    q.ops[1] = (struct inet_diag_bc_op){0, 0, (unsigned short)port};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int result = 0;
    for (;;) {
        long buf[2048];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            result = -errno;
            break;
        }
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        int done = 0;
        for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) {
                done = 1;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                result = e->error < 0 ? e->error : -EIO;
                done = 1;
                break;
            }
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
                result = 1;
        }
        if (done || n == 0)
            break;
    }
    close(fd);
    return result;
}

/* Connections, in any state (TIME_WAIT included). */
#define CONNECTION_STATES                                                                                       \
    ((1u << TCP_ESTABLISHED) | (1u << TCP_SYN_SENT) | (1u << TCP_SYN_RECV) | (1u << TCP_FIN_WAIT1) |            \
     (1u << TCP_FIN_WAIT2) | (1u << TCP_TIME_WAIT) | (1u << TCP_CLOSE_WAIT) | (1u << TCP_LAST_ACK) |            \
     (1u << TCP_CLOSING))
/* Sockets bound but neither listening nor connected; Linux 6.8 and later
 * report them (TCP_BOUND_INACTIVE), earlier kernels never match. */
#define BOUND_INACTIVE_STATE (1u << 13)

static int port_has(unsigned port, unsigned states)
{
    int r = diag_has_sockets(AF_INET, port, states);
    return r != 0 ? r : diag_has_sockets(AF_INET6, port, states);
}

int lx_port_held_only_by_connections(unsigned port)
{
    int r = port_has(port, CONNECTION_STATES);
    if (r != 1)
        return r;
    r = port_has(port, BOUND_INACTIVE_STATE);
    return r < 0 ? r : !r;
}

/* Binds and closes a TCP socket with neither reuse option on port; 0 if
 * the bind succeeded. */
static int bind_throwaway(int family, unsigned port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((unsigned short)port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((unsigned short)port);
        a->sin_addr.s_addr = htonl(0x7F4F574Bu); /* 127.79.87.75: a loopback address nobody uses */
        len = sizeof(*a);
    }
    int r = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
    close(fd);
    return r;
}

int lx_tcp_port_forget_sharing(unsigned port)
{
    /* The cache is per port, across both families: a bind on an address
     * that overlaps none of the port's sockets reaches it. */
    if (bind_throwaway(AF_INET, port) == 0)
        return 0;
    return bind_throwaway(AF_INET6, port);
}
