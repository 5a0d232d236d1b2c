/*
 * mstcpip.h - Microsoft-specific TCP/IP extensions, as in the Windows SDK's
 * shared/mstcpip.h: keep-alive and other vendor ioctls (SIO_KEEPALIVE_VALS,
 * SIO_LOOPBACK_FAST_PATH, SIO_QUERY_RSS_SCALABILITY_INFO...), the
 * IPPROTO_TCP and IPPROTO_UDP option numbers, and the IPv4 / generic
 * address helpers (IN4_*, IN4ADDR_*, INETADDR_*).
 *
 * The Windows SDK keeps the TCP_* and UDP_* option numbers in ws2ipdef.h;
 * here they live in this file (wsk.h pulls in both, so clients see no
 * difference).  All values are Windows' (hazard H1).
 */
#ifndef OPENWSK_MSTCPIP_H
#define OPENWSK_MSTCPIP_H

#include <ntdef.h>
#include <ws2def.h>
#include <ws2ipdef.h>

EXTERN_C_START

/* ---- keep-alive (SIO_KEEPALIVE_VALS input; times in milliseconds) ---- */
struct tcp_keepalive {
    ULONG onoff;
    ULONG keepalivetime;
    ULONG keepaliveinterval;
};

/* ---- vendor ioctls ---- */
#define SIO_RCVALL _WSAIOW(IOC_VENDOR, 1)
#define SIO_RCVALL_MCAST _WSAIOW(IOC_VENDOR, 2)
#define SIO_RCVALL_IGMPMCAST _WSAIOW(IOC_VENDOR, 3)
#define SIO_KEEPALIVE_VALS _WSAIOW(IOC_VENDOR, 4)
#define SIO_ABSORB_RTRALERT _WSAIOW(IOC_VENDOR, 5)
#define SIO_UCAST_IF _WSAIOW(IOC_VENDOR, 6)
#define SIO_LIMIT_BROADCASTS _WSAIOW(IOC_VENDOR, 7)
#define SIO_INDEX_BIND _WSAIOW(IOC_VENDOR, 8)
#define SIO_INDEX_MCASTIF _WSAIOW(IOC_VENDOR, 9)
#define SIO_INDEX_ADD_MCAST _WSAIOW(IOC_VENDOR, 10)
#define SIO_INDEX_DEL_MCAST _WSAIOW(IOC_VENDOR, 11)
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12) /* winsock: mswsock.h */
#define SIO_RCVALL_MCAST_IF _WSAIOW(IOC_VENDOR, 13)
#define SIO_RCVALL_IF _WSAIOW(IOC_VENDOR, 14)
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15) /* winsock: mswsock.h */
#define SIO_LOOPBACK_FAST_PATH _WSAIOW(IOC_VENDOR, 16)
#define SIO_TCP_INITIAL_RTO _WSAIOW(IOC_VENDOR, 17)
#define SIO_APPLY_TRANSPORT_SETTING _WSAIOW(IOC_VENDOR, 19)
#define SIO_QUERY_TRANSPORT_SETTING _WSAIOW(IOC_VENDOR, 20)
#define SIO_CPU_AFFINITY _WSAIOW(IOC_VENDOR, 21)
#define SIO_TCP_SET_ICW _WSAIOW(IOC_VENDOR, 22)
#define SIO_TCP_SET_ACK_FREQUENCY _WSAIOW(IOC_VENDOR, 23)
#define SIO_SET_PRIORITY_HINT _WSAIOW(IOC_VENDOR, 24)
#define SIO_PRIORITY_HINT SIO_SET_PRIORITY_HINT
#define SIO_TCP_INFO _WSAIORW(IOC_VENDOR, 39)
#define SIO_ACQUIRE_PORT_RESERVATION _WSAIOW(IOC_VENDOR, 100)
#define SIO_RELEASE_PORT_RESERVATION _WSAIOW(IOC_VENDOR, 101)
#define SIO_ASSOCIATE_PORT_RESERVATION _WSAIOW(IOC_VENDOR, 102)
#define SIO_SET_SECURITY _WSAIOW(IOC_VENDOR, 200)
#define SIO_QUERY_SECURITY _WSAIORW(IOC_VENDOR, 201)
#define SIO_SET_PEER_TARGET_NAME _WSAIOW(IOC_VENDOR, 202)
#define SIO_DELETE_PEER_TARGET_NAME _WSAIOW(IOC_VENDOR, 203)
#define SIO_SOCKET_USAGE_NOTIFICATION _WSAIOW(IOC_VENDOR, 204)
#define SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE _WSAIOR(IOC_VENDOR, 205)
#define SIO_QUERY_RSS_SCALABILITY_INFO _WSAIOR(IOC_VENDOR, 210)
#define SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS _WSAIORW(IOC_VENDOR, 220)
#define SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT _WSAIORW(IOC_VENDOR, 221)
#define SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS _WSAIOW(IOC_VENDOR, 222)
#define SIO_GET_TX_TIMESTAMP _WSAIOW(IOC_VENDOR, 234)
#define SIO_TIMESTAMPING _WSAIOW(IOC_VENDOR, 235)

/* SOL_SOCKET options for receive timestamps (used with SIO_TIMESTAMPING). */
#define SO_TIMESTAMP 0x300A
#define SO_TIMESTAMP_ID 0x300B

/* SIO_RCVALL* input values */
typedef enum {
    RCVALL_OFF = 0,
    RCVALL_ON = 1,
    RCVALL_SOCKETLEVELONLY = 2,
    RCVALL_IPLEVEL = 3
} RCVALL_VALUE, *PRCVALL_VALUE;

#define RCVALL_MAX RCVALL_IPLEVEL

typedef struct {
    RCVALL_VALUE Mode;
    ULONG Interface;
} RCVALL_IF, *PRCVALL_IF;

/* SIO_QUERY_RSS_SCALABILITY_INFO output (1 byte). */
typedef struct _RSS_SCALABILITY_INFO {
    BOOLEAN RssEnabled;
} RSS_SCALABILITY_INFO, *PRSS_SCALABILITY_INFO;

/* SIO_TCP_INITIAL_RTO input */
#define TCP_INITIAL_RTO_UNSPECIFIED_RTT ((USHORT)-1)
#define TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS ((UCHAR)-1)
#define TCP_INITIAL_RTO_DEFAULT_RTT (0)
#define TCP_INITIAL_RTO_DEFAULT_MAX_SYN_RETRANSMISSIONS (0)
#define TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS ((UCHAR)-2)

typedef struct _TCP_INITIAL_RTO_PARAMETERS {
    USHORT Rtt;
    UCHAR MaxSynRetransmissions;
} TCP_INITIAL_RTO_PARAMETERS, *PTCP_INITIAL_RTO_PARAMETERS;

/* SIO_TCP_SET_ICW / SIO_TCP_SET_ACK_FREQUENCY inputs */
typedef enum {
    TCP_ICW_LEVEL_DEFAULT = 0,
    TCP_ICW_LEVEL_HIGH = 1,
    TCP_ICW_LEVEL_VERY_HIGH = 2,
    TCP_ICW_LEVEL_AGGRESSIVE = 3,
    TCP_ICW_LEVEL_EXPERIMENTAL = 4,
    TCP_ICW_LEVEL_COMPAT = 254,
    TCP_ICW_LEVEL_MAX = 255
} TCP_ICW_LEVEL, *PTCP_ICW_LEVEL;

typedef struct _TCP_ICW_PARAMETERS {
    TCP_ICW_LEVEL Level;
} TCP_ICW_PARAMETERS, *PTCP_ICW_PARAMETERS;

typedef struct _TCP_ACK_FREQUENCY_PARAMETERS {
    UCHAR TcpDelayedAckFrequency;
} TCP_ACK_FREQUENCY_PARAMETERS, *PTCP_ACK_FREQUENCY_PARAMETERS;

/* SIO_TCP_INFO output */
typedef enum _TCPSTATE {
    TCPSTATE_CLOSED,
    TCPSTATE_LISTEN,
    TCPSTATE_SYN_SENT,
    TCPSTATE_SYN_RCVD,
    TCPSTATE_ESTABLISHED,
    TCPSTATE_FIN_WAIT_1,
    TCPSTATE_FIN_WAIT_2,
    TCPSTATE_CLOSE_WAIT,
    TCPSTATE_CLOSING,
    TCPSTATE_LAST_ACK,
    TCPSTATE_TIME_WAIT,
    TCPSTATE_MAX
} TCPSTATE;

typedef struct _TCP_INFO_v0 {
    TCPSTATE State;
    ULONG Mss;
    ULONG64 ConnectionTimeMs;
    BOOLEAN TimestampsEnabled;
    ULONG RttUs;
    ULONG MinRttUs;
    ULONG BytesInFlight;
    ULONG Cwnd;
    ULONG SndWnd;
    ULONG RcvWnd;
    ULONG RcvBuf;
    ULONG64 BytesOut;
    ULONG64 BytesIn;
    ULONG BytesReordered;
    ULONG BytesRetrans;
    ULONG FastRetrans;
    ULONG DupAcksIn;
    ULONG TimeoutEpisodes;
    UCHAR SynRetrans;
} TCP_INFO_v0, *PTCP_INFO_v0;

/* ---- port reservations ---- */
typedef struct _INET_PORT_RANGE {
    USHORT StartPort;
    USHORT NumberOfPorts;
} INET_PORT_RANGE, *PINET_PORT_RANGE;

typedef struct _INET_PORT_RANGE INET_PORT_RESERVATION, *PINET_PORT_RESERVATION;

typedef struct {
    ULONG64 Token;
} INET_PORT_RESERVATION_TOKEN, *PINET_PORT_RESERVATION_TOKEN;

#define INVALID_PORT_RESERVATION_TOKEN ((ULONG64)0)

typedef struct {
    ULONG AssignmentCount;
    ULONG OwningPid;
} INET_PORT_RESERVATION_INFORMATION, *PINET_PORT_RESERVATION_INFORMATION;

/* ---- options at level IPPROTO_TCP (TCP_NODELAY, 1, is in ws2def.h) ---- */
#define TCP_OFFLOAD_NO_PREFERENCE 0
#define TCP_OFFLOAD_NOT_PREFERRED 1
#define TCP_OFFLOAD_PREFERRED 2

#define TCP_EXPEDITED_1122 0x0002
#define TCP_KEEPALIVE 3 /* idle time before the first probe, in seconds */
#define TCP_MAXSEG 4
#define TCP_MAXRT 5
#define TCP_STDURG 6
#define TCP_NOURG 7
#define TCP_ATMARK 8
#define TCP_NOSYNRETRIES 9
#define TCP_TIMESTAMPS 10
#define TCP_OFFLOAD_PREFERENCE 11
#define TCP_CONGESTION_ALGORITHM 12
#define TCP_DELAY_FIN_ACK 13
#define TCP_MAXRTMS 14
#define TCP_FASTOPEN 15
#define TCP_KEEPCNT 16
#define TCP_KEEPIDLE TCP_KEEPALIVE
#define TCP_KEEPINTVL 17
#define TCP_FAIL_CONNECT_ON_ICMP_ERROR 18
#define TCP_ICMP_ERROR_INFO 19
#define TCP_BSDURGENT 0x7000

/* TCP_ICMP_ERROR_INFO output */
typedef struct icmp_error_info {
    SOCKADDR_INET srcaddress;
    IPPROTO protocol;
    UINT8 type;
    UINT8 code;
} ICMP_ERROR_INFO, *PICMP_ERROR_INFO;

/* ---- options at level IPPROTO_UDP ---- */
#define UDP_NOCHECKSUM 1
#define UDP_SEND_MSG_SIZE 2
#define UDP_RECV_MAX_COALESCED_SIZE 3
#define UDP_CHECKSUM_COVERAGE 20
/* control message type carrying the coalesced segment size */
#define UDP_COALESCED_INFO 3

/* ---- IPv4 helpers; IN_ADDR values are in network byte order ---- */
#define IN4_CLASSA(i) (((LONG)(i) & 0x00000080) == 0)
#define IN4_CLASSB(i) (((LONG)(i) & 0x000000c0) == 0x00000080)
#define IN4_CLASSC(i) (((LONG)(i) & 0x000000e0) == 0x000000c0)
#define IN4_CLASSD(i) (((LONG)(i) & 0x000000f0) == 0x000000e0)
#define IN4_MULTICAST(i) IN4_CLASSD(i)

/* IN4ADDR_LOOPBACK is 127.0.0.1 as stored in s_addr on a little-endian host. */
#define IN4ADDR_ANY INADDR_ANY
#define IN4ADDR_LOOPBACK 0x0100007f
#define IN4ADDR_BROADCAST INADDR_BROADCAST
#define IN4ADDR_NONE INADDR_NONE
#define IN4ADDR_ANY_INIT {{{0}}}
#define IN4ADDR_LOOPBACK_INIT {{{0x7f, 0, 0, 1}}}
#define IN4ADDR_BROADCAST_INIT {{{0xff, 0xff, 0xff, 0xff}}}
#define IN4ADDR_ALLNODESONLINK_INIT {{{0xe0, 0, 0, 0x01}}}
#define IN4ADDR_ALLROUTERSONLINK_INIT {{{0xe0, 0, 0, 0x02}}}
#define IN4ADDR_ALLIGMPV3ROUTERSONLINK_INIT {{{0xe0, 0, 0, 0x16}}}
#define IN4ADDR_ALLTEREDONODESONLINK_INIT {{{0xe0, 0, 0, 0xfd}}}
#define IN4ADDR_LINKLOCALPREFIX_INIT {{{0xa9, 0xfe}}}
#define IN4ADDR_MULTICASTPREFIX_INIT {{{0xe0}}}

#define IN4ADDR_LOOPBACKPREFIX_LENGTH 8
#define IN4ADDR_LINKLOCALPREFIX_LENGTH 16
#define IN4ADDR_MULTICASTPREFIX_LENGTH 4

/* The predicates look at the bytes, so they hold on any host byte order. */
static inline BOOLEAN IN4_ADDR_EQUAL(const IN_ADDR *a, const IN_ADDR *b)
{
    return (BOOLEAN)(a->s_addr == b->s_addr);
}

static inline BOOLEAN IN4_IS_ADDR_UNSPECIFIED(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_addr == 0);
}

/* 127/8 */
static inline BOOLEAN IN4_IS_ADDR_LOOPBACK(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_net == 0x7f);
}

static inline BOOLEAN IN4_IS_ADDR_BROADCAST(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_addr == 0xffffffffu);
}

/* 224/4 */
static inline BOOLEAN IN4_IS_ADDR_MULTICAST(const IN_ADDR *a)
{
    return (BOOLEAN)((a->s_net & 0xf0) == 0xe0);
}

/* 169.254/16 */
static inline BOOLEAN IN4_IS_ADDR_LINKLOCAL(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_net == 0xa9 && a->s_host == 0xfe);
}

/* Windows treats the RFC 1918 ranges as global, so nothing is site-local. */
static inline BOOLEAN IN4_IS_ADDR_SITELOCAL(const IN_ADDR *a)
{
    (void)a;
    return FALSE;
}

/* 10/8, 172.16/12, 192.168/16 */
static inline BOOLEAN IN4_IS_ADDR_RFC1918(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_net == 10 || (a->s_net == 172 && (a->s_host & 0xf0) == 16) ||
                     (a->s_net == 192 && a->s_host == 168));
}

/* 224.0.0/24 */
static inline BOOLEAN IN4_IS_ADDR_MC_LINKLOCAL(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_net == 224 && a->s_host == 0 && a->s_lh == 0);
}

/* 239.255/16 */
static inline BOOLEAN IN4_IS_ADDR_MC_ADMINLOCAL(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_net == 239 && a->s_host == 255);
}

/* 239/8 outside 239.255/16 */
static inline BOOLEAN IN4_IS_ADDR_MC_SITELOCAL(const IN_ADDR *a)
{
    return (BOOLEAN)(a->s_net == 239 && !IN4_IS_ADDR_MC_ADMINLOCAL(a));
}

static inline VOID IN4ADDR_SETSOCKADDR(PSOCKADDR_IN a, const IN_ADDR *addr, USHORT port)
{
    a->sin_family = AF_INET;
    a->sin_port = port;
    a->sin_addr = *addr;
    __builtin_memset(a->sin_zero, 0, sizeof(a->sin_zero));
}

static inline VOID IN4ADDR_SETANY(PSOCKADDR_IN a)
{
    IN_ADDR any = {{{0, 0, 0, 0}}};
    IN4ADDR_SETSOCKADDR(a, &any, 0);
}

static inline VOID IN4ADDR_SETLOOPBACK(PSOCKADDR_IN a)
{
    IN_ADDR loopback = {{{0x7f, 0, 0, 1}}};
    IN4ADDR_SETSOCKADDR(a, &loopback, 0);
}

static inline BOOLEAN IN4ADDR_ISANY(const SOCKADDR_IN *a)
{
    return IN4_IS_ADDR_UNSPECIFIED(&a->sin_addr);
}

static inline BOOLEAN IN4ADDR_ISLOOPBACK(const SOCKADDR_IN *a)
{
    return IN4_IS_ADDR_LOOPBACK(&a->sin_addr);
}

/* IPv4 socket addresses never carry a scope. */
static inline SCOPE_ID IN4ADDR_SCOPE_ID(const SOCKADDR_IN *a)
{
    SCOPE_ID none;
    (void)a;
    none.Value = 0;
    return none;
}

static inline BOOLEAN IN4ADDR_ISEQUAL(const SOCKADDR_IN *a, const SOCKADDR_IN *b)
{
    return IN4_ADDR_EQUAL(&a->sin_addr, &b->sin_addr);
}

static inline BOOLEAN IN4ADDR_ISUNSPECIFIED(const SOCKADDR_IN *a)
{
    return IN4_IS_ADDR_UNSPECIFIED(&a->sin_addr);
}

/* ---- IPv6 socket address builders ---- */
static inline VOID IN6ADDR_SETSOCKADDR(PSOCKADDR_IN6 a, const IN6_ADDR *addr, SCOPE_ID scope,
                                       USHORT port)
{
    a->sin6_family = AF_INET6;
    a->sin6_port = port;
    a->sin6_flowinfo = 0;
    a->sin6_addr = *addr;
    a->sin6_scope_struct = scope;
}

/* a6 = [::ffff:a4]:port */
static inline VOID IN6ADDR_SETV4MAPPED(PSOCKADDR_IN6 a6, const IN_ADDR *a4, SCOPE_ID scope,
                                       USHORT port)
{
    a6->sin6_family = AF_INET6;
    a6->sin6_port = port;
    a6->sin6_flowinfo = 0;
    IN6_SET_ADDR_V4MAPPED(&a6->sin6_addr, a4);
    a6->sin6_scope_struct = scope;
}

static inline SCOPE_ID IN6ADDR_SCOPE_ID(const SOCKADDR_IN6 *a)
{
    return a->sin6_scope_struct;
}

/* ---- family-independent helpers (AF_INET or AF_INET6 addresses) ---- */
static inline BOOLEAN INETADDR_ISANY(const SOCKADDR *a)
{
    if (a->sa_family == AF_INET6)
        return IN6ADDR_ISANY((const SOCKADDR_IN6 *)(const void *)a);
    return IN4ADDR_ISANY((const SOCKADDR_IN *)(const void *)a);
}

static inline BOOLEAN INETADDR_ISLOOPBACK(const SOCKADDR *a)
{
    if (a->sa_family == AF_INET6)
        return IN6ADDR_ISLOOPBACK((const SOCKADDR_IN6 *)(const void *)a);
    return IN4ADDR_ISLOOPBACK((const SOCKADDR_IN *)(const void *)a);
}

static inline VOID INETADDR_SETANY(PSOCKADDR a)
{
    if (a->sa_family == AF_INET6)
        IN6ADDR_SETANY((PSOCKADDR_IN6)(void *)a);
    else
        IN4ADDR_SETANY((PSOCKADDR_IN)(void *)a);
}

static inline VOID INETADDR_SETLOOPBACK(PSOCKADDR a)
{
    if (a->sa_family == AF_INET6)
        IN6ADDR_SETLOOPBACK((PSOCKADDR_IN6)(void *)a);
    else
        IN4ADDR_SETLOOPBACK((PSOCKADDR_IN)(void *)a);
}

/* Network byte order port; same offset for both families. */
static inline USHORT INETADDR_PORT(const SOCKADDR *a)
{
    return ((const SOCKADDR_IN *)(const void *)a)->sin_port;
}

static inline VOID INETADDR_SET_PORT(PSOCKADDR a, USHORT Port)
{
    ((PSOCKADDR_IN)(void *)a)->sin_port = Port;
}

/* The address bytes (4 or 16 of them) inside the socket address. */
static inline PUCHAR INETADDR_ADDRESS(const SOCKADDR *a)
{
    if (a->sa_family == AF_INET6)
        return (PUCHAR) & ((PSOCKADDR_IN6)(void *)(ULONG_PTR)a)->sin6_addr;
    return (PUCHAR) & ((PSOCKADDR_IN)(void *)(ULONG_PTR)a)->sin_addr;
}

static inline SCOPE_ID INETADDR_SCOPE_ID(const SOCKADDR *a)
{
    if (a->sa_family == AF_INET6)
        return IN6ADDR_SCOPE_ID((const SOCKADDR_IN6 *)(const void *)a);
    return IN4ADDR_SCOPE_ID((const SOCKADDR_IN *)(const void *)a);
}

static inline BOOLEAN INETADDR_ISEQUAL(const SOCKADDR *a, const SOCKADDR *b)
{
    if (a->sa_family != b->sa_family)
        return FALSE;
    if (a->sa_family == AF_INET6)
        return IN6ADDR_ISEQUAL((const SOCKADDR_IN6 *)(const void *)a,
                               (const SOCKADDR_IN6 *)(const void *)b);
    return IN4ADDR_ISEQUAL((const SOCKADDR_IN *)(const void *)a, (const SOCKADDR_IN *)(const void *)b);
}

static inline BOOLEAN INETADDR_ISUNSPECIFIED(const SOCKADDR *a)
{
    if (a->sa_family == AF_INET6)
        return IN6ADDR_ISUNSPECIFIED((const SOCKADDR_IN6 *)(const void *)a);
    return IN4ADDR_ISUNSPECIFIED((const SOCKADDR_IN *)(const void *)a);
}

EXTERN_C_END

#endif /* OPENWSK_MSTCPIP_H */
