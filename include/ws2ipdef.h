/*
 * ws2ipdef.h - TCP/IP specific Winsock definitions, as in the Windows SDK's
 * shared/ws2ipdef.h: the IPv6 socket address, SOCKADDR_INET, the IPPROTO_IP
 * and IPPROTO_IPV6 option numbers, multicast requests and the pktinfo
 * control objects.
 *
 * All option numbers are Windows' (IP_PKTINFO 19, IPV6_V6ONLY 27...), which
 * differ from Linux; the provider translates them (hazard H1).  IN_PKTINFO
 * is {address, interface index}, not Linux' three-field struct (hazard H8).
 */
#ifndef OPENWSK_WS2IPDEF_H
#define OPENWSK_WS2IPDEF_H

#include <ntdef.h>
#include <ws2def.h>
#include <in6addr.h>

EXTERN_C_START

/* ---- IPv6 socket address (RFC 3493) ---- */

/* Kept only because sockaddr_gen refers to it. */
struct sockaddr_in6_old {
    SHORT sin6_family;
    USHORT sin6_port;
    ULONG sin6_flowinfo;
    IN6_ADDR sin6_addr;
};

/*
 * 28 bytes, alignment 4.  The "LH" structure carries the tag sockaddr_in6
 * so that code written against RFC 2553 compiles unchanged.
 */
typedef struct sockaddr_in6 {
    ADDRESS_FAMILY sin6_family;
    USHORT sin6_port; /* network byte order */
    ULONG sin6_flowinfo;
    IN6_ADDR sin6_addr;
    union {
        ULONG sin6_scope_id;
        SCOPE_ID sin6_scope_struct;
    };
} SOCKADDR_IN6_LH, *PSOCKADDR_IN6_LH, *LPSOCKADDR_IN6_LH;

typedef struct sockaddr_in6_w2ksp1 {
    short sin6_family;
    USHORT sin6_port;
    ULONG sin6_flowinfo;
    struct in6_addr sin6_addr;
    ULONG sin6_scope_id;
} SOCKADDR_IN6_W2KSP1, *PSOCKADDR_IN6_W2KSP1, *LPSOCKADDR_IN6_W2KSP1;

typedef SOCKADDR_IN6_LH SOCKADDR_IN6;
typedef SOCKADDR_IN6_LH *PSOCKADDR_IN6;
typedef SOCKADDR_IN6_LH *LPSOCKADDR_IN6;

typedef union sockaddr_gen {
    struct sockaddr Address;
    struct sockaddr_in AddressIn;
    struct sockaddr_in6_old AddressIn6;
} sockaddr_gen;

/* Either address family; si_family overlays both family fields. */
typedef union _SOCKADDR_INET {
    SOCKADDR_IN Ipv4;
    SOCKADDR_IN6 Ipv6;
    ADDRESS_FAMILY si_family;
} SOCKADDR_INET, *PSOCKADDR_INET;

typedef struct _sockaddr_in6_pair {
    PSOCKADDR_IN6 SourceAddress;
    PSOCKADDR_IN6 DestinationAddress;
} SOCKADDR_IN6_PAIR, *PSOCKADDR_IN6_PAIR;

/* The port sits at the same offset in SOCKADDR_IN and SOCKADDR_IN6. */
#define SS_PORT(ssp) (((PSOCKADDR_IN)(ssp))->sin_port)

/* ---- interface lists (SIO_GET_INTERFACE_LIST) ---- */
typedef struct _INTERFACE_INFO {
    ULONG iiFlags;
    sockaddr_gen iiAddress;
    sockaddr_gen iiBroadcastAddress;
    sockaddr_gen iiNetmask;
} INTERFACE_INFO, *LPINTERFACE_INFO;

typedef struct _INTERFACE_INFO_EX {
    ULONG iiFlags;
    SOCKET_ADDRESS iiAddress;
    SOCKET_ADDRESS iiBroadcastAddress;
    SOCKET_ADDRESS iiNetmask;
} INTERFACE_INFO_EX, *LPINTERFACE_INFO_EX;

#define IFF_UP 0x00000001
#define IFF_BROADCAST 0x00000002
#define IFF_LOOPBACK 0x00000004
#define IFF_POINTTOPOINT 0x00000008
#define IFF_MULTICAST 0x00000010

typedef enum _PMTUD_STATE {
    IP_PMTUDISC_NOT_SET,
    IP_PMTUDISC_DO,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_PROBE,
    IP_PMTUDISC_MAX
} PMTUD_STATE, *PPMTUD_STATE;

/* ---- options at level IPPROTO_IP ---- */
#define IP_OPTIONS 1
#define IP_HDRINCL 2
#define IP_TOS 3
#define IP_TTL 4
#define IP_MULTICAST_IF 9
#define IP_MULTICAST_TTL 10
#define IP_MULTICAST_LOOP 11
#define IP_ADD_MEMBERSHIP 12
#define IP_DROP_MEMBERSHIP 13
#define IP_DONTFRAGMENT 14
#define IP_ADD_SOURCE_MEMBERSHIP 15
#define IP_DROP_SOURCE_MEMBERSHIP 16
#define IP_BLOCK_SOURCE 17
#define IP_UNBLOCK_SOURCE 18
#define IP_PKTINFO 19
#define IP_HOPLIMIT 21
#define IP_RECVTTL 21 /* same number as IP_HOPLIMIT */
#define IP_RECEIVE_BROADCAST 22
#define IP_RECVIF 24
#define IP_RECVDSTADDR 25
#define IP_IFLIST 28
#define IP_ADD_IFLIST 29
#define IP_DEL_IFLIST 30
#define IP_UNICAST_IF 31
#define IP_RTHDR 32
#define IP_GET_IFLIST 33
#define IP_RECVRTHDR 38
#define IP_TCLASS 39
#define IP_RECVTCLASS 40
#define IP_RECVTOS 40 /* same number as IP_RECVTCLASS */
#define IP_ORIGINAL_ARRIVAL_IF 47
#define IP_ECN 50
#define IP_RECVECN 50
#define IP_PKTINFO_EX 51
#define IP_WFP_REDIRECT_RECORDS 60
#define IP_WFP_REDIRECT_CONTEXT 70
#define IP_MTU_DISCOVER 71
#define IP_MTU 73
#define IP_NRT_INTERFACE 74
#define IP_RECVERR 75
#define IP_USER_MTU 76

#define IP_UNSPECIFIED_TYPE_OF_SERVICE -1
#define IP_UNSPECIFIED_USER_MTU MAXULONG

#define IPV6_ADDRESS_BITS (sizeof(IN6_ADDR) * 8)

/* ---- options at level IPPROTO_IPV6 ---- */
#define IPV6_HOPOPTS 1
#define IPV6_HDRINCL 2
#define IPV6_UNICAST_HOPS 4
#define IPV6_MULTICAST_IF 9
#define IPV6_MULTICAST_HOPS 10
#define IPV6_MULTICAST_LOOP 11
#define IPV6_ADD_MEMBERSHIP 12
#define IPV6_JOIN_GROUP IPV6_ADD_MEMBERSHIP
#define IPV6_DROP_MEMBERSHIP 13
#define IPV6_LEAVE_GROUP IPV6_DROP_MEMBERSHIP
#define IPV6_DONTFRAG 14
#define IPV6_PKTINFO 19
#define IPV6_HOPLIMIT 21
#define IPV6_PROTECTION_LEVEL 23
#define IPV6_RECVIF 24
#define IPV6_RECVDSTADDR 25
#define IPV6_CHECKSUM 26
#define IPV6_V6ONLY 27 /* Windows default for AF_INET6 sockets is TRUE */
#define IPV6_IFLIST 28
#define IPV6_ADD_IFLIST 29
#define IPV6_DEL_IFLIST 30
#define IPV6_UNICAST_IF 31
#define IPV6_RTHDR 32
#define IPV6_GET_IFLIST 33
#define IPV6_RECVRTHDR 38
#define IPV6_TCLASS 39
#define IPV6_RECVTCLASS 40
#define IPV6_ECN 50
#define IPV6_RECVECN 50
#define IPV6_PKTINFO_EX 51
#define IPV6_WFP_REDIRECT_RECORDS 60
#define IPV6_WFP_REDIRECT_CONTEXT 70
#define IPV6_MTU_DISCOVER 71
#define IPV6_MTU 72
#define IPV6_NRT_INTERFACE 74
#define IPV6_RECVERR 75
#define IPV6_USER_MTU 76

#define IP_UNSPECIFIED_HOP_LIMIT -1

/* IPV6_PROTECTION_LEVEL values */
#define IP_PROTECTION_LEVEL IPV6_PROTECTION_LEVEL
#define PROTECTION_LEVEL_UNRESTRICTED 10
#define PROTECTION_LEVEL_EDGERESTRICTED 20
#define PROTECTION_LEVEL_RESTRICTED 30
#define PROTECTION_LEVEL_DEFAULT ((UINT)-1)

/* ---- protocol-independent multicast ---- */
#define MCAST_JOIN_GROUP 41
#define MCAST_LEAVE_GROUP 42
#define MCAST_BLOCK_SOURCE 43
#define MCAST_UNBLOCK_SOURCE 44
#define MCAST_JOIN_SOURCE_GROUP 45
#define MCAST_LEAVE_SOURCE_GROUP 46

typedef enum {
    MCAST_INCLUDE = 0,
    MCAST_EXCLUDE
} MULTICAST_MODE_TYPE;

/* IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP */
typedef struct ip_mreq {
    IN_ADDR imr_multiaddr;
    IN_ADDR imr_interface;
} IP_MREQ, *PIP_MREQ;

/* IP_ADD_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE and friends */
typedef struct ip_mreq_source {
    IN_ADDR imr_multiaddr;
    IN_ADDR imr_sourceaddr;
    IN_ADDR imr_interface;
} IP_MREQ_SOURCE, *PIP_MREQ_SOURCE;

typedef struct ip_msfilter {
    IN_ADDR imsf_multiaddr;
    IN_ADDR imsf_interface;
    MULTICAST_MODE_TYPE imsf_fmode;
    ULONG imsf_numsrc;
    IN_ADDR imsf_slist[1];
} IP_MSFILTER, *PIP_MSFILTER;

#define IP_MSFILTER_SIZE(NumSources) \
    (sizeof(IP_MSFILTER) - sizeof(IN_ADDR) + (NumSources) * sizeof(IN_ADDR))

/* IPV6_ADD_MEMBERSHIP / IPV6_DROP_MEMBERSHIP (JOIN_GROUP / LEAVE_GROUP) */
typedef struct ipv6_mreq {
    IN6_ADDR ipv6mr_multiaddr;
    ULONG ipv6mr_interface; /* interface index */
} IPV6_MREQ, *PIPV6_MREQ;

typedef struct group_req {
    ULONG gr_interface;
    SOCKADDR_STORAGE gr_group;
} GROUP_REQ, *PGROUP_REQ;

typedef struct group_source_req {
    ULONG gsr_interface;
    SOCKADDR_STORAGE gsr_group;
    SOCKADDR_STORAGE gsr_source;
} GROUP_SOURCE_REQ, *PGROUP_SOURCE_REQ;

typedef struct group_filter {
    ULONG gf_interface;
    SOCKADDR_STORAGE gf_group;
    MULTICAST_MODE_TYPE gf_fmode;
    ULONG gf_numsrc;
    SOCKADDR_STORAGE gf_slist[1];
} GROUP_FILTER, *PGROUP_FILTER;

#define GROUP_FILTER_SIZE(numsrc) \
    (sizeof(GROUP_FILTER) - sizeof(SOCKADDR_STORAGE) + (numsrc) * sizeof(SOCKADDR_STORAGE))

/* ---- TCP/IP ioctls ---- */
#define SIO_GET_INTERFACE_LIST _IOR('t', 127, ULONG)
#define SIO_GET_INTERFACE_LIST_EX _IOR('t', 126, ULONG)
#define SIO_SET_MULTICAST_FILTER _IOW('t', 125, ULONG)
#define SIO_GET_MULTICAST_FILTER _IOW('t', 124 | IOC_IN, ULONG)
#define SIOCSIPMSFILTER SIO_SET_MULTICAST_FILTER
#define SIOCGIPMSFILTER SIO_GET_MULTICAST_FILTER
#define SIOCSMSFILTER _IOW('t', 126, ULONG)
#define SIOCGMSFILTER _IOW('t', 127 | IOC_IN, ULONG)

#define IDEAL_SEND_BACKLOG_IOCTLS
#define SIO_IDEAL_SEND_BACKLOG_QUERY _IOR('t', 123, ULONG)
#define SIO_IDEAL_SEND_BACKLOG_CHANGE _IO('t', 122)

/* ---- control objects ---- */

/* IP_PKTINFO: 8 bytes, no ipi_spec_dst unlike Linux' in_pktinfo. */
typedef struct in_pktinfo {
    IN_ADDR ipi_addr;  /* source (send) or destination (receive) */
    ULONG ipi_ifindex; /* interface index */
} IN_PKTINFO, *PIN_PKTINFO;

/* IPV6_PKTINFO: 20 bytes. */
typedef struct in6_pktinfo {
    IN6_ADDR ipi6_addr;
    ULONG ipi6_ifindex;
} IN6_PKTINFO, *PIN6_PKTINFO;

typedef struct in_pktinfo_ex {
    IN_PKTINFO pkt_info;
    SCOPE_ID scope_id;
} IN_PKTINFO_EX, *PIN_PKTINFO_EX;

typedef struct in6_pktinfo_ex {
    IN6_PKTINFO pkt_info;
    SCOPE_ID scope_id;
} IN6_PKTINFO_EX, *PIN6_PKTINFO_EX;

/* IP_RECVERR / IPV6_RECVERR control object. */
typedef struct in_recverr {
    IPPROTO protocol; /* IPPROTO_ICMP or IPPROTO_ICMPV6 */
    ULONG info;       /* MTU for "fragmentation needed" / "packet too big" */
    UINT8 type;
    UINT8 code;
} IN_RECVERR, *PIN_RECVERR;

#ifndef __cplusplus
_Static_assert(sizeof(IN_PKTINFO) == 8, "IN_PKTINFO must keep the Windows layout");
_Static_assert(sizeof(IN6_PKTINFO) == 20, "IN6_PKTINFO must keep the Windows layout");
_Static_assert(sizeof(SOCKADDR_IN6) == 28, "SOCKADDR_IN6 must keep the Windows layout");
#endif

/* Longest textual address (with scope and port) plus the terminator. */
#define INET_ADDRSTRLEN 22
#define INET6_ADDRSTRLEN 65

/* ---- well-known IPv6 addresses (network byte order) ---- */
#define IN6ADDR_ANY_INIT {{{0}}}
#define IN6ADDR_LOOPBACK_INIT {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}}
#define IN6ADDR_ALLNODESONNODE_INIT {{{0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}}}
#define IN6ADDR_ALLNODESONLINK_INIT {{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}}}
#define IN6ADDR_ALLROUTERSONLINK_INIT {{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}}}
#define IN6ADDR_ALLMLDV2ROUTERSONLINK_INIT {{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16}}}
#define IN6ADDR_LINKLOCALPREFIX_INIT {{{0xfe, 0x80}}}
#define IN6ADDR_MULTICASTPREFIX_INIT {{{0xff, 0x00}}}
#define IN6ADDR_SOLICITEDNODEMULTICASTPREFIX_INIT {{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff}}}
#define IN6ADDR_V4MAPPEDPREFIX_INIT {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}}}
#define IN6ADDR_6TO4PREFIX_INIT {{{0x20, 0x02}}}
#define IN6ADDR_TEREDOPREFIX_INIT {{{0x20, 0x01, 0x00, 0x00}}}
#define IN6ADDR_ULAPREFIX_INIT {{{0xfc}}}
#define IN6ADDR_SITELOCALPREFIX_INIT {{{0xfe, 0xc0}}}

#define IN6ADDR_LINKLOCALPREFIX_LENGTH 64
#define IN6ADDR_MULTICASTPREFIX_LENGTH 8
#define IN6ADDR_SOLICITEDNODEMULTICASTPREFIX_LENGTH 104
#define IN6ADDR_V4MAPPEDPREFIX_LENGTH 96
#define IN6ADDR_6TO4PREFIX_LENGTH 16
#define IN6ADDR_TEREDOPREFIX_LENGTH 32

/* Defined by libopenwsk (on Windows: netio.sys / ws2_32). */
extern OPENWSK_API const IN6_ADDR in6addr_any;
extern OPENWSK_API const IN6_ADDR in6addr_loopback;

/*
 * ---- address predicates ----
 * Byte-wise, so they hold on any host byte order, and self-contained, so a
 * client using them does not need to link against the variables above.
 */
static inline BOOLEAN IN6_ADDR_EQUAL(const IN6_ADDR *x, const IN6_ADDR *y)
{
    return (BOOLEAN)(__builtin_memcmp(x, y, sizeof(IN6_ADDR)) == 0);
}
#define IN6_ARE_ADDR_EQUAL IN6_ADDR_EQUAL

/* True when the first n bytes are zero. */
static inline BOOLEAN openwsk_in6_zero_prefix(const IN6_ADDR *a, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (a->s6_bytes[i] != 0)
            return FALSE;
    }
    return TRUE;
}

static inline BOOLEAN IN6_IS_ADDR_UNSPECIFIED(const IN6_ADDR *a)
{
    return openwsk_in6_zero_prefix(a, 16);
}

static inline BOOLEAN IN6_IS_ADDR_LOOPBACK(const IN6_ADDR *a)
{
    return (BOOLEAN)(openwsk_in6_zero_prefix(a, 15) && a->s6_bytes[15] == 1);
}

static inline BOOLEAN IN6_IS_ADDR_MULTICAST(const IN6_ADDR *a)
{
    return (BOOLEAN)(a->s6_bytes[0] == 0xff);
}

/* Format prefixes 001 through 111, multicast excluded. */
static inline BOOLEAN IN6_IS_ADDR_EUI64(const IN6_ADDR *a)
{
    return (BOOLEAN)((a->s6_bytes[0] & 0xe0) != 0 && !IN6_IS_ADDR_MULTICAST(a));
}

static inline BOOLEAN IN6_IS_ADDR_LINKLOCAL(const IN6_ADDR *a)
{
    return (BOOLEAN)(a->s6_bytes[0] == 0xfe && (a->s6_bytes[1] & 0xc0) == 0x80);
}

static inline BOOLEAN IN6_IS_ADDR_SITELOCAL(const IN6_ADDR *a)
{
    return (BOOLEAN)(a->s6_bytes[0] == 0xfe && (a->s6_bytes[1] & 0xc0) == 0xc0);
}

/* Unicast outside the special ranges: top four bits neither 0000 nor 1111. */
static inline BOOLEAN IN6_IS_ADDR_GLOBAL(const IN6_ADDR *a)
{
    UCHAR high = (UCHAR)(a->s6_bytes[0] & 0xf0);
    return (BOOLEAN)(high != 0 && high != 0xf0);
}

/* ::ffff:a.b.c.d */
static inline BOOLEAN IN6_IS_ADDR_V4MAPPED(const IN6_ADDR *a)
{
    return (BOOLEAN)(openwsk_in6_zero_prefix(a, 10) && a->s6_bytes[10] == 0xff &&
                     a->s6_bytes[11] == 0xff);
}

/* ::a.b.c.d, excluding :: and ::1 */
static inline BOOLEAN IN6_IS_ADDR_V4COMPAT(const IN6_ADDR *a)
{
    return (BOOLEAN)(openwsk_in6_zero_prefix(a, 12) &&
                     !(a->s6_bytes[12] == 0 && a->s6_bytes[13] == 0 && a->s6_bytes[14] == 0 &&
                       (a->s6_bytes[15] == 0 || a->s6_bytes[15] == 1)));
}

/* ::ffff:0:a.b.c.d (SIIT) */
static inline BOOLEAN IN6_IS_ADDR_V4TRANSLATED(const IN6_ADDR *a)
{
    return (BOOLEAN)(openwsk_in6_zero_prefix(a, 8) && a->s6_bytes[8] == 0xff &&
                     a->s6_bytes[9] == 0xff && a->s6_bytes[10] == 0 && a->s6_bytes[11] == 0);
}

static inline BOOLEAN openwsk_in6_mc_scope(const IN6_ADDR *a, UCHAR scope)
{
    return (BOOLEAN)(IN6_IS_ADDR_MULTICAST(a) && (a->s6_bytes[1] & 0x0f) == scope);
}

static inline BOOLEAN IN6_IS_ADDR_MC_NODELOCAL(const IN6_ADDR *a)
{
    return openwsk_in6_mc_scope(a, 0x1);
}

static inline BOOLEAN IN6_IS_ADDR_MC_LINKLOCAL(const IN6_ADDR *a)
{
    return openwsk_in6_mc_scope(a, 0x2);
}

static inline BOOLEAN IN6_IS_ADDR_MC_SITELOCAL(const IN6_ADDR *a)
{
    return openwsk_in6_mc_scope(a, 0x5);
}

static inline BOOLEAN IN6_IS_ADDR_MC_ORGLOCAL(const IN6_ADDR *a)
{
    return openwsk_in6_mc_scope(a, 0x8);
}

static inline BOOLEAN IN6_IS_ADDR_MC_GLOBAL(const IN6_ADDR *a)
{
    return openwsk_in6_mc_scope(a, 0xe);
}

static inline VOID IN6_SET_ADDR_UNSPECIFIED(PIN6_ADDR a)
{
    __builtin_memset(a->s6_bytes, 0, sizeof(IN6_ADDR));
}

static inline VOID IN6_SET_ADDR_LOOPBACK(PIN6_ADDR a)
{
    __builtin_memset(a->s6_bytes, 0, sizeof(IN6_ADDR));
    a->s6_bytes[15] = 1;
}

/* a6 = ::ffff:a4 (the form dual-stack sockets use for IPv4 peers) */
static inline VOID IN6_SET_ADDR_V4MAPPED(PIN6_ADDR a6, const IN_ADDR *a4)
{
    __builtin_memset(a6->s6_bytes, 0, 10);
    a6->s6_bytes[10] = 0xff;
    a6->s6_bytes[11] = 0xff;
    __builtin_memcpy(&a6->s6_bytes[12], a4, sizeof(IN_ADDR));
}

/* a6 = ::a4 */
static inline VOID IN6_SET_ADDR_V4COMPAT(PIN6_ADDR a6, const IN_ADDR *a4)
{
    __builtin_memset(a6->s6_bytes, 0, 12);
    __builtin_memcpy(&a6->s6_bytes[12], a4, sizeof(IN_ADDR));
}

/* The embedded IPv4 address of a v4-mapped or v4-compatible address. */
static inline const IN_ADDR *IN6_GET_ADDR_V4MAPPED(const IN6_ADDR *Ipv6Address)
{
    return (const IN_ADDR *)(const void *)&Ipv6Address->s6_bytes[12];
}

static inline const IN_ADDR *IN6_GET_ADDR_V4COMPAT(const IN6_ADDR *Ipv6Address)
{
    return (const IN_ADDR *)(const void *)&Ipv6Address->s6_bytes[12];
}

static inline VOID IN6ADDR_SETANY(PSOCKADDR_IN6 a)
{
    a->sin6_family = AF_INET6;
    a->sin6_port = 0;
    a->sin6_flowinfo = 0;
    IN6_SET_ADDR_UNSPECIFIED(&a->sin6_addr);
    a->sin6_scope_id = 0;
}

static inline VOID IN6ADDR_SETLOOPBACK(PSOCKADDR_IN6 a)
{
    a->sin6_family = AF_INET6;
    a->sin6_port = 0;
    a->sin6_flowinfo = 0;
    IN6_SET_ADDR_LOOPBACK(&a->sin6_addr);
    a->sin6_scope_id = 0;
}

static inline BOOLEAN IN6ADDR_ISANY(const SOCKADDR_IN6 *a)
{
    return IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
}

static inline BOOLEAN IN6ADDR_ISLOOPBACK(const SOCKADDR_IN6 *a)
{
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
}

static inline BOOLEAN IN6ADDR_ISEQUAL(const SOCKADDR_IN6 *a, const SOCKADDR_IN6 *b)
{
    return (BOOLEAN)(a->sin6_scope_id == b->sin6_scope_id &&
                     IN6_ADDR_EQUAL(&a->sin6_addr, &b->sin6_addr));
}

static inline BOOLEAN IN6ADDR_ISUNSPECIFIED(const SOCKADDR_IN6 *a)
{
    return (BOOLEAN)(a->sin6_scope_id == 0 && IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr));
}

EXTERN_C_END

#endif /* OPENWSK_WS2IPDEF_H */
