/*
 * netio_linux.c - rtnetlink for the IP Helper (netio_linux.h): dumps of the
 * link, address and route tables, route lookups and change monitoring,
 * spoken over raw NETLINK_ROUTE sockets (docs/decisions.md, "IP helper API").
 */
#include "netio/netio_linux.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NL_BUFFER_SIZE 32768

static int family_to_linux(int family)
{
    return family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
}

static int family_from_linux(int af)
{
    return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0;
}

static int nl_open(unsigned groups)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    struct sockaddr_nl local = {.nl_family = AF_NETLINK, .nl_groups = groups};
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* ---- message parsing ---- */

static void parse_attrs(struct rtattr **tb, int max, struct rtattr *rta, int len)
{
    memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
    for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        unsigned short type = rta->rta_type & NLA_TYPE_MASK;
        if (type <= max && !tb[type])
            tb[type] = rta;
    }
}

static uint32_t attr_u32(const struct rtattr *rta)
{
    uint32_t v = 0;
    if (rta && RTA_PAYLOAD(rta) >= sizeof v)
        memcpy(&v, RTA_DATA(rta), sizeof v);
    return v;
}

static void attr_copy(void *to, size_t size, const struct rtattr *rta)
{
    size_t n = RTA_PAYLOAD(rta);
    memcpy(to, RTA_DATA(rta), n < size ? n : size);
}

static void parse_af_spec(struct nl_link *link, struct rtattr *spec)
{
    int len = (int)RTA_PAYLOAD(spec);
    for (struct rtattr *af = RTA_DATA(spec); RTA_OK(af, len); af = RTA_NEXT(af, len)) {
        if (af->rta_type == AF_INET6) {
            link->has_ipv6 = 1;
        } else if (af->rta_type == AF_INET) {
            struct rtattr *tb[IFLA_INET_MAX + 1];
            parse_attrs(tb, IFLA_INET_MAX, RTA_DATA(af), (int)RTA_PAYLOAD(af));
            /* IFLA_INET_CONF: the devconf array, entry i at index i - 1. */
            if (tb[IFLA_INET_CONF] && RTA_PAYLOAD(tb[IFLA_INET_CONF]) >= 4 * sizeof(uint32_t)) {
                uint32_t forwarding;
                memcpy(&forwarding, (char *)RTA_DATA(tb[IFLA_INET_CONF]), sizeof forwarding);
                link->ipv4_forwarding = forwarding != 0;
            }
        }
    }
}

static int parse_link(const struct nlmsghdr *h, struct nl_link *link)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *ifi);
    if (len < 0)
        return -1;
    struct rtattr *tb[IFLA_MAX + 1];
    parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), len);
    memset(link, 0, sizeof *link);
    link->index = ifi->ifi_index;
    link->arptype = ifi->ifi_type;
    link->flags = ifi->ifi_flags;
    if (tb[IFLA_IFNAME])
        attr_copy(link->name, sizeof link->name - 1, tb[IFLA_IFNAME]);
    link->mtu = attr_u32(tb[IFLA_MTU]);
    link->txqlen = attr_u32(tb[IFLA_TXQLEN]);
    if (tb[IFLA_OPERSTATE])
        link->operstate = *(const unsigned char *)RTA_DATA(tb[IFLA_OPERSTATE]);
    if (tb[IFLA_ADDRESS]) {
        link->hwaddr_len = RTA_PAYLOAD(tb[IFLA_ADDRESS]) < NL_HWADDR_MAX
                               ? RTA_PAYLOAD(tb[IFLA_ADDRESS]) : NL_HWADDR_MAX;
        attr_copy(link->hwaddr, NL_HWADDR_MAX, tb[IFLA_ADDRESS]);
    }
    if (tb[IFLA_PERM_ADDRESS]) {
        link->perm_hwaddr_len = RTA_PAYLOAD(tb[IFLA_PERM_ADDRESS]) < NL_HWADDR_MAX
                                    ? RTA_PAYLOAD(tb[IFLA_PERM_ADDRESS]) : NL_HWADDR_MAX;
        attr_copy(link->perm_hwaddr, NL_HWADDR_MAX, tb[IFLA_PERM_ADDRESS]);
    } else {
        link->perm_hwaddr_len = link->hwaddr_len;
        memcpy(link->perm_hwaddr, link->hwaddr, sizeof link->hwaddr);
    }
    if (tb[IFLA_STATS64] && RTA_PAYLOAD(tb[IFLA_STATS64]) >= sizeof(struct rtnl_link_stats64)) {
        struct rtnl_link_stats64 s;
        memcpy(&s, RTA_DATA(tb[IFLA_STATS64]), sizeof s);
        link->rx_bytes = s.rx_bytes;
        link->rx_packets = s.rx_packets;
        link->rx_multicast = s.multicast;
        link->rx_dropped = s.rx_dropped;
        link->rx_errors = s.rx_errors;
        link->tx_bytes = s.tx_bytes;
        link->tx_packets = s.tx_packets;
        link->tx_dropped = s.tx_dropped;
        link->tx_errors = s.tx_errors;
    }
    if (tb[IFLA_AF_SPEC])
        parse_af_spec(link, tb[IFLA_AF_SPEC]);
    if (link->name[0] && !(link->flags & IFF_LOOPBACK)) {
        char path[64];
        snprintf(path, sizeof path, "/sys/class/net/%s/device", link->name);
        link->hardware = access(path, F_OK) == 0;
    }
    return 0;
}

static int parse_addr(const struct nlmsghdr *h, struct nl_addr *addr)
{
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *ifa);
    if (len < 0)
        return -1;
    struct rtattr *tb[IFA_MAX + 1];
    parse_attrs(tb, IFA_MAX, IFA_RTA(ifa), len);
    memset(addr, 0, sizeof *addr);
    addr->family = family_from_linux(ifa->ifa_family);
    if (!addr->family)
        return -1;
    addr->index = (int)ifa->ifa_index;
    addr->prefixlen = ifa->ifa_prefixlen;
    addr->scope = ifa->ifa_scope;
    addr->flags = tb[IFA_FLAGS] ? attr_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
    /* IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
     * peer on point-to-point links); IPv6 has only IFA_ADDRESS. */
    const struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (!a)
        return -1;
    attr_copy(addr->addr, sizeof addr->addr, a);
    addr->valid = addr->preferred = 0xffffffffu;
    if (tb[IFA_CACHEINFO] && RTA_PAYLOAD(tb[IFA_CACHEINFO]) >= sizeof(struct ifa_cacheinfo)) {
        struct ifa_cacheinfo ci;
        memcpy(&ci, RTA_DATA(tb[IFA_CACHEINFO]), sizeof ci);
        addr->valid = ci.ifa_valid;
        addr->preferred = ci.ifa_prefered;
        addr->cstamp = ci.cstamp;
    }
    return 0;
}

/* Routes of the main and local tables only, unicast/local/broadcast/
 * multicast, not cloned (cache) entries, with one output interface. */
static int parse_route(const struct nlmsghdr *h, struct nl_route *route, int filter)
{
    const struct rtmsg *rtm = NLMSG_DATA(h);
    int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *rtm);
    if (len < 0)
        return -1;
    struct rtattr *tb[RTA_MAX + 1];
    parse_attrs(tb, RTA_MAX, RTM_RTA(rtm), len);
    memset(route, 0, sizeof *route);
    route->family = family_from_linux(rtm->rtm_family);
    route->table = tb[RTA_TABLE] ? attr_u32(tb[RTA_TABLE]) : rtm->rtm_table;
    route->type = rtm->rtm_type;
    route->protocol = rtm->rtm_protocol;
    route->dst_len = rtm->rtm_dst_len;
    if (!route->family)
        return -1;
    if (filter) {
        if (route->table != RT_TABLE_MAIN && route->table != RT_TABLE_LOCAL)
            return -1;
        if (rtm->rtm_flags & RTM_F_CLONED)
            return -1;
        if (route->type != RTN_UNICAST && route->type != RTN_LOCAL &&
            route->type != RTN_BROADCAST && route->type != RTN_MULTICAST &&
            route->type != RTN_ANYCAST)
            return -1;
    }
    if (tb[RTA_DST])
        attr_copy(route->dst, sizeof route->dst, tb[RTA_DST]);
    if (tb[RTA_GATEWAY]) {
        attr_copy(route->gateway, sizeof route->gateway, tb[RTA_GATEWAY]);
        route->has_gateway = 1;
    }
    if (tb[RTA_PREFSRC]) {
        attr_copy(route->prefsrc, sizeof route->prefsrc, tb[RTA_PREFSRC]);
        route->has_prefsrc = 1;
    }
    route->oif = (int)attr_u32(tb[RTA_OIF]);
    route->priority = attr_u32(tb[RTA_PRIORITY]);
    if (tb[RTA_CACHEINFO] && RTA_PAYLOAD(tb[RTA_CACHEINFO]) >= sizeof(struct rta_cacheinfo)) {
        struct rta_cacheinfo ci;
        memcpy(&ci, RTA_DATA(tb[RTA_CACHEINFO]), sizeof ci);
        route->expires = ci.rta_expires / 100; /* clock ticks of USER_HZ */
    }
    /* Multipath routes (RTA_MULTIPATH, no RTA_OIF) are left out. */
    if (filter && route->oif == 0)
        return -1;
    return 0;
}

/* ---- requests ---- */

struct dump_ctx {
    int kind; /* RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE */
    void *fn;
    void *ctx;
    int stopped;
};

static int dispatch(struct dump_ctx *d, const struct nlmsghdr *h)
{
    if (d->stopped || h->nlmsg_type != d->kind)
        return 0;
    int stop = 0;
    if (d->kind == RTM_NEWLINK) {
        struct nl_link link;
        if (parse_link(h, &link) == 0)
            stop = ((nl_link_fn)d->fn)(d->ctx, &link);
    } else if (d->kind == RTM_NEWADDR) {
        struct nl_addr addr;
        if (parse_addr(h, &addr) == 0)
            stop = ((nl_addr_fn)d->fn)(d->ctx, &addr);
    } else {
        struct nl_route route;
        if (parse_route(h, &route, 1) == 0)
            stop = ((nl_route_fn)d->fn)(d->ctx, &route);
    }
    d->stopped = stop != 0;
    return 0;
}

/* Sends one request and reads the answer to its end (NLMSG_DONE for a
 * dump, the one reply or NLMSG_ERROR otherwise), handing each message to
 * `each`.  A dump is held back until it is complete and handed over only
 * if the kernel did not mark it interrupted (NLM_F_DUMP_INTR: the table
 * changed meanwhile); -EAGAIN then.  Returns 0 or -errno. */
static int transact(void *req, size_t req_len, int (*each)(void *, const struct nlmsghdr *),
                    void *arg)
{
    int fd = nl_open(0);
    if (fd < 0)
        return fd;
    struct nlmsghdr *rh = req;
    rh->nlmsg_seq = 1;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, req, req_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int dump = (rh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    int interrupted = 0;
    char *held = NULL;
    size_t held_len = 0, held_cap = 0;
    char *buf = malloc(NL_BUFFER_SIZE);
    int result = buf ? 1 : -ENOMEM;
    while (result == 1) {
        ssize_t n = recv(fd, buf, NL_BUFFER_SIZE, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            result = -errno;
            break;
        }
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != 1)
                continue;
            if (h->nlmsg_flags & NLM_F_DUMP_INTR)
                interrupted = 1;
            if (h->nlmsg_type == NLMSG_DONE) {
                result = 0;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                result = e->error;
                break;
            }
            if (!dump) {
                each(arg, h);
                result = 0;
                break;
            }
            size_t size = NLMSG_ALIGN(h->nlmsg_len);
            if (held_len + size > held_cap) {
                size_t cap = held_cap ? held_cap * 2 : NL_BUFFER_SIZE;
                while (cap < held_len + size)
                    cap *= 2;
                char *grown = realloc(held, cap);
                if (!grown) {
                    result = -ENOMEM;
                    break;
                }
                held = grown;
                held_cap = cap;
            }
            memcpy(held + held_len, h, h->nlmsg_len);
            held_len += size;
        }
    }
    if (result == 0 && dump && interrupted)
        result = -EAGAIN;
    if (result == 0 && dump) {
        for (size_t off = 0; off < held_len;) {
            const struct nlmsghdr *h = (const struct nlmsghdr *)(held + off);
            each(arg, h);
            off += NLMSG_ALIGN(h->nlmsg_len);
        }
    }
    free(held);
    free(buf);
    close(fd);
    return result;
}

static int dump_each(void *arg, const struct nlmsghdr *h)
{
    return dispatch(arg, h);
}

static int dump(int request, int kind, int family, void *fn, void *ctx)
{
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = {
        .h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)), .nlmsg_type = (unsigned short)request,
              .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .g = {.rtgen_family = (unsigned char)family_to_linux(family)},
    };
    struct dump_ctx d = {.kind = kind, .fn = fn, .ctx = ctx};
    /* An interrupted dump is retried: tables change while they are read. */
    int rc = -EAGAIN;
    for (int attempt = 0; attempt < 8 && rc == -EAGAIN; attempt++)
        rc = transact(&req, sizeof req, dump_each, &d);
    return rc == -EAGAIN ? -EBUSY : rc;
}

int nl_dump_links(nl_link_fn fn, void *ctx)
{
    return dump(RTM_GETLINK, RTM_NEWLINK, 0, (void *)fn, ctx);
}

int nl_dump_addrs(int family, nl_addr_fn fn, void *ctx)
{
    return dump(RTM_GETADDR, RTM_NEWADDR, family, (void *)fn, ctx);
}

int nl_dump_routes(int family, nl_route_fn fn, void *ctx)
{
    return dump(RTM_GETROUTE, RTM_NEWROUTE, family, (void *)fn, ctx);
}

static void add_attr(struct nlmsghdr *h, size_t cap, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
    if (NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len) > cap)
        return;
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    h->nlmsg_len = (unsigned)(NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len));
}

static int get_route_each(void *arg, const struct nlmsghdr *h)
{
    struct nl_route *out = arg;
    if (h->nlmsg_type == RTM_NEWROUTE && parse_route(h, out, 0) == 0)
        out->family = out->family ? out->family : 4;
    return 0;
}

int nl_get_route(int family, const unsigned char *dst, const unsigned char *src, int oif,
                 struct nl_route *out)
{
    union {
        struct nlmsghdr h;
        char space[256];
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.h.nlmsg_type = RTM_GETROUTE;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    struct rtmsg *rtm = NLMSG_DATA(&req.h);
    size_t alen = family == 4 ? 4 : 16;
    rtm->rtm_family = (unsigned char)family_to_linux(family);
    rtm->rtm_dst_len = (unsigned char)(alen * 8);
    add_attr(&req.h, sizeof req, RTA_DST, dst, alen);
    if (src) {
        rtm->rtm_src_len = (unsigned char)(alen * 8);
        add_attr(&req.h, sizeof req, RTA_SRC, src, alen);
    }
    if (oif) {
        uint32_t o = (uint32_t)oif;
        add_attr(&req.h, sizeof req, RTA_OIF, &o, sizeof o);
    }
    memset(out, 0, sizeof *out);
    int rc = transact(&req, req.h.nlmsg_len, get_route_each, out);
    if (rc == 0 && out->family == 0)
        rc = -ENETUNREACH;
    return rc;
}

uint64_t nl_boot_centiseconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 100 + (uint64_t)ts.tv_nsec / 10000000;
}

/* ---- monitoring ---- */

static int join_group(int fd, unsigned group)
{
    return setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0 ? -errno : 0;
}

int nl_watch_open(unsigned what, int family)
{
    int fd = nl_open(0);
    if (fd < 0)
        return fd;
    /* Room for bursts (a link going down takes its addresses and routes
     * with it); the forced size needs CAP_NET_ADMIN, the plain one not. */
    int rcvbuf = 1 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int v4 = family != 6, v6 = family != 4, rc = 0;
    if (what & NL_WATCH_LINKS)
        rc = rc ? rc : join_group(fd, RTNLGRP_LINK);
    if ((what & NL_WATCH_ADDRS) && v4)
        rc = rc ? rc : join_group(fd, RTNLGRP_IPV4_IFADDR);
    if ((what & NL_WATCH_ADDRS) && v6)
        rc = rc ? rc : join_group(fd, RTNLGRP_IPV6_IFADDR);
    if ((what & NL_WATCH_ROUTES) && v4)
        rc = rc ? rc : join_group(fd, RTNLGRP_IPV4_ROUTE);
    if ((what & NL_WATCH_ROUTES) && v6)
        rc = rc ? rc : join_group(fd, RTNLGRP_IPV6_ROUTE);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int nl_watch_read(int fd, const struct nl_watch_sink *sink)
{
    char *buf = malloc(NL_BUFFER_SIZE);
    if (!buf)
        return -ENOMEM;
    int result = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, NL_BUFFER_SIZE, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                result = -errno;
            break;
        }
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            enum nl_change change = NL_CHANGE_NEW;
            switch (h->nlmsg_type) {
            case RTM_DELLINK:
            case RTM_DELADDR:
            case RTM_DELROUTE:
                change = NL_CHANGE_DELETE;
                break;
            default:
                if (h->nlmsg_flags & NLM_F_REPLACE)
                    change = NL_CHANGE_REPLACE;
            }
            if ((h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) && sink->link) {
                struct nl_link link;
                if (parse_link(h, &link) == 0)
                    sink->link(sink->ctx, change, &link);
            } else if ((h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) && sink->addr) {
                struct nl_addr addr;
                if (parse_addr(h, &addr) == 0)
                    sink->addr(sink->ctx, change, &addr);
            } else if ((h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) &&
                       sink->route) {
                struct nl_route route;
                if (parse_route(h, &route, 1) == 0)
                    sink->route(sink->ctx, change, &route);
            }
        }
    }
    free(buf);
    return result;
}

int nl_watch_wait(int fd, int wake_fd, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    if (poll(p, 2, timeout_ms) < 0)
        return 0;
    return (p[1].revents & POLLIN) != 0;
}

int nl_wake_open(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

void nl_wake_signal(int wake_fd)
{
    uint64_t one = 1;
    ssize_t n = write(wake_fd, &one, sizeof one);
    (void)n;
}

void nl_fd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
