/*
 * netio_linux.h - the IP Helper's boundary to Linux rtnetlink.
 *
 * Like wsk_linux.h, this interface uses neither Windows' nor glibc's socket
 * types: netio_linux.c (Linux headers only) parses rtnetlink messages into
 * the plain records below, and the netioapi.h side (Windows headers only)
 * turns them into MIB rows.  Families cross as 4 or 6; errors as -errno.
 */
#ifndef OPENWSK_NETIO_LINUX_H
#define OPENWSK_NETIO_LINUX_H

#include <stdint.h>

#define NL_NAME_MAX 16
#define NL_HWADDR_MAX 32

/* One link (RTM_NEWLINK). */
struct nl_link {
    int index;
    unsigned arptype;       /* ARPHRD_* */
    unsigned flags;         /* IFF_* */
    unsigned operstate;     /* IF_OPER_* (RFC 2863, Linux numbering) */
    unsigned mtu;
    unsigned txqlen;
    int has_ipv6;           /* IPv6 is enabled on the link */
    int hardware;           /* backed by a device (sysfs has device/) */
    int ipv4_forwarding;
    char name[NL_NAME_MAX];
    unsigned char hwaddr[NL_HWADDR_MAX];
    unsigned hwaddr_len;
    unsigned char perm_hwaddr[NL_HWADDR_MAX];
    unsigned perm_hwaddr_len;
    uint64_t rx_bytes, rx_packets, rx_multicast, rx_dropped, rx_errors;
    uint64_t tx_bytes, tx_packets, tx_dropped, tx_errors;
};

/* One interface address (RTM_NEWADDR). */
struct nl_addr {
    int family;             /* 4 or 6 */
    int index;
    unsigned char addr[16];
    unsigned prefixlen;
    unsigned flags;         /* IFA_F_* */
    unsigned scope;         /* RT_SCOPE_* */
    uint32_t valid, preferred;  /* seconds, 0xffffffff for ever */
    uint32_t cstamp;        /* creation, hundredths of a second since boot */
};

/* One route (RTM_NEWROUTE) of the main or local table. */
struct nl_route {
    int family;             /* 4 or 6 */
    unsigned table;
    unsigned type;          /* RTN_* */
    unsigned protocol;      /* RTPROT_* */
    unsigned char dst[16];
    unsigned dst_len;
    unsigned char gateway[16];
    int has_gateway;
    int oif;
    uint32_t priority;
    uint32_t expires;       /* seconds, 0 if none */
    unsigned char prefsrc[16];
    int has_prefsrc;
};

/* Linux numbers the IP Helper side needs. */
enum {
    NL_ARPHRD_ETHER = 1, NL_ARPHRD_PPP = 512, NL_ARPHRD_TUNNEL = 768, NL_ARPHRD_TUNNEL6 = 769,
    NL_ARPHRD_LOOPBACK = 772, NL_ARPHRD_SIT = 776, NL_ARPHRD_IPGRE = 778, NL_ARPHRD_IEEE80211 = 801,
    NL_ARPHRD_IP6GRE = 823, NL_ARPHRD_NONE = 0xfffe,
};
#define NL_IFF_UP 0x1u
#define NL_IFF_LOOPBACK 0x8u
#define NL_IFF_POINTOPOINT 0x10u
#define NL_IFF_NOARP 0x80u
#define NL_IFF_LOWER_UP 0x10000u
enum { NL_OPER_UNKNOWN, NL_OPER_NOTPRESENT, NL_OPER_DOWN, NL_OPER_LOWERLAYERDOWN,
       NL_OPER_TESTING, NL_OPER_DORMANT, NL_OPER_UP };
#define NL_IFA_F_TEMPORARY 0x01u
#define NL_IFA_F_DADFAILED 0x08u
#define NL_IFA_F_DEPRECATED 0x20u
#define NL_IFA_F_TENTATIVE 0x40u
#define NL_IFA_F_PERMANENT 0x80u
enum { NL_RTN_UNICAST = 1, NL_RTN_LOCAL = 2, NL_RTN_BROADCAST = 3, NL_RTN_ANYCAST = 4,
       NL_RTN_MULTICAST = 5 };
enum { NL_RTPROT_REDIRECT = 1, NL_RTPROT_KERNEL = 2, NL_RTPROT_BOOT = 3, NL_RTPROT_STATIC = 4,
       NL_RTPROT_RA = 9, NL_RTPROT_DHCP = 16, NL_RTPROT_BGP = 186, NL_RTPROT_ISIS = 187,
       NL_RTPROT_OSPF = 188, NL_RTPROT_RIP = 189, NL_RTPROT_EIGRP = 192 };

typedef int (*nl_link_fn)(void *ctx, const struct nl_link *link);
typedef int (*nl_addr_fn)(void *ctx, const struct nl_addr *addr);
typedef int (*nl_route_fn)(void *ctx, const struct nl_route *route);

/* Dumps every link / every address or route of a family (0 = both); the
 * callback returning nonzero stops the walk.  0 or -errno. */
int nl_dump_links(nl_link_fn fn, void *ctx);
int nl_dump_addrs(int family, nl_addr_fn fn, void *ctx);
int nl_dump_routes(int family, nl_route_fn fn, void *ctx);

/* The kernel's route lookup (RTM_GETROUTE) for a destination, optionally
 * from a source and out of an interface (0 = any).  0 or -errno. */
int nl_get_route(int family, const unsigned char *dst, const unsigned char *src, int oif,
                 struct nl_route *out);

/* Hundredths of a second since boot, the clock of nl_addr.cstamp. */
uint64_t nl_boot_centiseconds(void);

/* ---- change monitoring ---- */

#define NL_WATCH_LINKS 1u
#define NL_WATCH_ADDRS 2u
#define NL_WATCH_ROUTES 4u

/* A netlink socket joined to the multicast groups of `what` (NL_WATCH_*),
 * for the families asked (0 = both).  Returns the fd or -errno. */
int nl_watch_open(unsigned what, int family);

enum nl_change { NL_CHANGE_NEW, NL_CHANGE_REPLACE, NL_CHANGE_DELETE };

struct nl_watch_sink {
    void *ctx;
    void (*link)(void *ctx, enum nl_change change, const struct nl_link *link);
    void (*addr)(void *ctx, enum nl_change change, const struct nl_addr *addr);
    void (*route)(void *ctx, enum nl_change change, const struct nl_route *route);
};

/* Reads what is queued on a watch socket (non-blocking) and hands each
 * message to the sink.  0, or -errno (-ENOBUFS: events were lost). */
int nl_watch_read(int fd, const struct nl_watch_sink *sink);

/* Waits until the watch socket or the wake fd is readable or timeout_ms
 * passes.  Returns 1 if the wake fd fired, 0 otherwise. */
int nl_watch_wait(int fd, int wake_fd, int timeout_ms);
int nl_wake_open(void);
void nl_wake_signal(int wake_fd);
void nl_fd_close(int fd);

#endif /* OPENWSK_NETIO_LINUX_H */
