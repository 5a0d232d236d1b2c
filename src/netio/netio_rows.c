/*
 * netio_rows.c - rtnetlink records as netioapi.h rows, and interface
 * identity: a Linux interface index is the NET_IFINDEX, and the NET_LUID
 * packs the IANA type with the index (NET_LUID union, "Info").
 */
#include "netio/netio_internal.h"

#include "kernel/ke_internal.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>

int netio_family_from_windows(ADDRESS_FAMILY family)
{
    switch (family) {
    case AF_UNSPEC: return 0;
    case AF_INET: return 4;
    case AF_INET6: return 6;
    default: return -1;
    }
}

ADDRESS_FAMILY netio_family_to_windows(int family)
{
    return family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
}

NTSTATUS netio_status_from_errno(int negative_errno)
{
    switch (-negative_errno) {
    case 0: return STATUS_SUCCESS;
    case ENOMEM:
    case ENOBUFS: return STATUS_INSUFFICIENT_RESOURCES;
    case ENODEV:
    case ENOENT:
    case ESRCH: return STATUS_NOT_FOUND;
    case ENETUNREACH:
    case EHOSTUNREACH: return STATUS_NETWORK_UNREACHABLE;
    case EAFNOSUPPORT: return STATUS_NOT_SUPPORTED;
    case EINVAL: return STATUS_INVALID_PARAMETER;
    default: return STATUS_UNSUCCESSFUL;
    }
}

/* ---- identity ---- */

IFTYPE netio_iftype(unsigned arptype)
{
    switch (arptype) {
    case NL_ARPHRD_LOOPBACK: return IF_TYPE_SOFTWARE_LOOPBACK;
    case NL_ARPHRD_ETHER: return IF_TYPE_ETHERNET_CSMACD;
    case NL_ARPHRD_PPP: return IF_TYPE_PPP;
    case NL_ARPHRD_IEEE80211: return IF_TYPE_IEEE80211;
    case NL_ARPHRD_TUNNEL:
    case NL_ARPHRD_TUNNEL6:
    case NL_ARPHRD_SIT:
    case NL_ARPHRD_IPGRE:
    case NL_ARPHRD_IP6GRE:
    case NL_ARPHRD_NONE: /* tun, wireguard */
        return IF_TYPE_TUNNEL;
    default: return IF_TYPE_OTHER;
    }
}

NET_LUID netio_luid(int index, unsigned arptype)
{
    NET_LUID luid;
    luid.Value = 0;
    luid.Info.NetLuidIndex = (ULONG64)index & 0xffffff;
    luid.Info.IfType = netio_iftype(arptype);
    return luid;
}

/* ---- link map ---- */

static int map_add(void *ctx, const struct nl_link *link)
{
    netio_link_map_set(ctx, link->index, link->arptype);
    return 0;
}

int netio_link_map_load(struct netio_link_map *map)
{
    return nl_dump_links(map_add, map);
}

void netio_link_map_set(struct netio_link_map *map, int index, unsigned arptype)
{
    for (unsigned i = 0; i < map->count; i++) {
        if (map->entries[i].index == index) {
            map->entries[i].arptype = arptype;
            return;
        }
    }
    if (map->count == map->capacity) {
        unsigned capacity = map->capacity ? map->capacity * 2 : 16;
        void *grown = realloc(map->entries, capacity * sizeof *map->entries);
        if (!grown)
            return;
        map->entries = grown;
        map->capacity = capacity;
    }
    map->entries[map->count].index = index;
    map->entries[map->count].arptype = arptype;
    map->count++;
}

static int map_lookup(const struct netio_link_map *map, int index)
{
    for (unsigned i = 0; i < map->count; i++)
        if (map->entries[i].index == index)
            return (int)map->entries[i].arptype;
    return -1;
}

int netio_link_map_type(struct netio_link_map *map, int index)
{
    int type = map_lookup(map, index);
    if (type < 0 && netio_link_map_load(map) == 0)
        type = map_lookup(map, index);
    return type;
}

void netio_link_map_free(struct netio_link_map *map)
{
    free(map->entries);
    memset(map, 0, sizeof *map);
}

struct find_ctx {
    NET_LUID luid;
    NET_IFINDEX index;
    struct nl_link *out;
    int found;
};

static int find_one(void *ctx, const struct nl_link *link)
{
    struct find_ctx *f = ctx;
    BOOLEAN match = f->luid.Value != 0 ? netio_luid(link->index, link->arptype).Value == f->luid.Value
                                       : (NET_IFINDEX)link->index == f->index;
    if (match) {
        *f->out = *link;
        f->found = 1;
    }
    return match;
}

NTSTATUS netio_find_link(const NET_LUID *luid, NET_IFINDEX index, struct nl_link *link)
{
    struct find_ctx f = {.index = index, .out = link};
    f.luid.Value = luid ? luid->Value : 0;
    if (f.luid.Value == 0 && index == NET_IFINDEX_UNSPECIFIED)
        return STATUS_INVALID_PARAMETER;
    int rc = nl_dump_links(find_one, &f);
    if (rc < 0)
        return netio_status_from_errno(rc);
    return f.found ? STATUS_SUCCESS : STATUS_NOT_FOUND;
}

/* ---- rows ---- */

static void wide_name(WCHAR *to, size_t capacity, const char *from)
{
    size_t i = 0;
    for (; from[i] && i + 1 < capacity; i++)
        to[i] = (WCHAR)(unsigned char)from[i];
    to[i] = 0;
}

static IF_OPER_STATUS oper_status(const struct nl_link *link)
{
    switch (link->operstate) {
    case NL_OPER_UP: return IfOperStatusUp;
    case NL_OPER_DOWN: return IfOperStatusDown;
    case NL_OPER_LOWERLAYERDOWN: return IfOperStatusLowerLayerDown;
    case NL_OPER_TESTING: return IfOperStatusTesting;
    case NL_OPER_DORMANT: return IfOperStatusDormant;
    case NL_OPER_NOTPRESENT: return IfOperStatusNotPresent;
    default:
        /* Loopback and dummy links never leave "unknown": up is what the
         * administrative and carrier flags say. */
        return (link->flags & NL_IFF_UP) && (link->flags & NL_IFF_LOWER_UP) ? IfOperStatusUp
                                                                            : IfOperStatusDown;
    }
}

void netio_if_row(const struct nl_link *link, MIB_IF_ROW2 *row)
{
    memset(row, 0, sizeof *row);
    IFTYPE type = netio_iftype(link->arptype);
    row->InterfaceLuid = netio_luid(link->index, link->arptype);
    row->InterfaceIndex = (NET_IFINDEX)link->index;
    /* A stable GUID per index: "owsk" and the index. */
    row->InterfaceGuid.Data1 = (ULONG)link->index;
    row->InterfaceGuid.Data2 = 0x776f;
    row->InterfaceGuid.Data3 = 0x6b73;
    memcpy(row->InterfaceGuid.Data4, "openwsk", 8);
    wide_name(row->Alias, IF_MAX_STRING_SIZE + 1, link->name);
    wide_name(row->Description, IF_MAX_STRING_SIZE + 1, link->name);
    row->PhysicalAddressLength = link->hwaddr_len;
    memcpy(row->PhysicalAddress, link->hwaddr, link->hwaddr_len);
    memcpy(row->PermanentPhysicalAddress, link->perm_hwaddr, link->perm_hwaddr_len);
    row->Mtu = link->mtu;
    row->Type = type;
    row->TunnelType = type == IF_TYPE_TUNNEL ? TUNNEL_TYPE_OTHER : TUNNEL_TYPE_NONE;
    switch (type) {
    case IF_TYPE_SOFTWARE_LOOPBACK: row->MediaType = NdisMediumLoopback; break;
    case IF_TYPE_TUNNEL: row->MediaType = NdisMediumTunnel; break;
    case IF_TYPE_IEEE80211: row->MediaType = NdisMediumNative802_11; break;
    case IF_TYPE_ETHERNET_CSMACD: row->MediaType = NdisMedium802_3; break;
    default: row->MediaType = NdisMediumIP; break;
    }
    row->PhysicalMediumType = type == IF_TYPE_ETHERNET_CSMACD && link->hardware
                                  ? NdisPhysicalMedium802_3 : NdisPhysicalMediumUnspecified;
    row->AccessType = (link->flags & NL_IFF_LOOPBACK) ? NET_IF_ACCESS_LOOPBACK
                      : (link->flags & NL_IFF_POINTOPOINT) ? NET_IF_ACCESS_POINT_TO_POINT
                                                           : NET_IF_ACCESS_BROADCAST;
    row->DirectionType = NET_IF_DIRECTION_SENDRECEIVE;
    row->InterfaceAndOperStatusFlags.HardwareInterface = link->hardware != 0;
    row->InterfaceAndOperStatusFlags.ConnectorPresent = link->hardware != 0;
    row->InterfaceAndOperStatusFlags.NotMediaConnected = !(link->flags & NL_IFF_LOWER_UP);
    row->OperStatus = oper_status(link);
    row->AdminStatus = (link->flags & NL_IFF_UP) ? NET_IF_ADMIN_STATUS_UP : NET_IF_ADMIN_STATUS_DOWN;
    row->MediaConnectState = (link->flags & NL_IFF_LOWER_UP) ? MediaConnectStateConnected
                                                             : MediaConnectStateDisconnected;
    row->ConnectionType = NET_IF_CONNECTION_DEDICATED;
    /* NDIS's "unknown" link speed; Linux knows it only for some drivers. */
    row->TransmitLinkSpeed = row->ReceiveLinkSpeed = ~(ULONG64)0;
    row->InOctets = link->rx_bytes;
    row->InNUcastPkts = link->rx_multicast;
    row->InUcastPkts = link->rx_packets - (link->rx_multicast <= link->rx_packets ? link->rx_multicast : 0);
    row->InDiscards = link->rx_dropped;
    row->InErrors = link->rx_errors;
    row->OutOctets = link->tx_bytes;
    row->OutUcastPkts = link->tx_packets;
    row->OutDiscards = link->tx_dropped;
    row->OutErrors = link->tx_errors;
}

void netio_ipinterface_row(const struct nl_link *link, int family, MIB_IPINTERFACE_ROW *row)
{
    InitializeIpInterfaceEntry(row);
    row->Family = netio_family_to_windows(family);
    row->InterfaceLuid = netio_luid(link->index, link->arptype);
    row->InterfaceIndex = (NET_IFINDEX)link->index;
    row->MaxReassemblySize = 65535;
    row->ForwardingEnabled = family == 4 && link->ipv4_forwarding;
    /* Linux is a weak host in both directions. */
    row->WeakHostSend = TRUE;
    row->WeakHostReceive = TRUE;
    row->UseAutomaticMetric = TRUE;
    row->UseNeighborUnreachabilityDetection = family == 6;
    row->RouterDiscoveryBehavior = family == 6 ? RouterDiscoveryEnabled : RouterDiscoveryDisabled;
    row->DadTransmits = family == 6 ? 1 : 0;
    row->BaseReachableTime = 30000;
    row->RetransmitTime = 1000;
    row->PathMtuDiscoveryTimeout = 600000;
    row->LinkLocalAddressBehavior = family == 6 ? LinkLocalAlwaysOn : LinkLocalAlwaysOff;
    row->ZoneIndices[ScopeLevelInterface] = (ULONG)link->index;
    row->ZoneIndices[ScopeLevelLink] = (ULONG)link->index;
    row->NlMtu = link->mtu;
    row->Connected = oper_status(link) == IfOperStatusUp;
    row->SupportsNeighborDiscovery = !(link->flags & (NL_IFF_NOARP | NL_IFF_LOOPBACK));
    row->SupportsRouterDiscovery = family == 6 && !(link->flags & NL_IFF_LOOPBACK);
    row->ReachableTime = 30000;
}

void netio_sockaddr(int family, const unsigned char *addr, int scope_index, SOCKADDR_INET *out)
{
    memset(out, 0, sizeof *out);
    if (family == 4) {
        out->Ipv4.sin_family = AF_INET;
        memcpy(&out->Ipv4.sin_addr, addr, 4);
    } else if (family == 6) {
        out->Ipv6.sin6_family = AF_INET6;
        memcpy(&out->Ipv6.sin6_addr, addr, 16);
        out->Ipv6.sin6_scope_id = (ULONG)scope_index;
    }
}

static BOOLEAN v6_link_local(const unsigned char *a)
{
    return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static BOOLEAN is_loopback_address(int family, const unsigned char *a)
{
    static const unsigned char v6_loopback[16] = {[15] = 1};
    return family == 4 ? a[0] == 127 : memcmp(a, v6_loopback, 16) == 0;
}

void netio_unicast_row(const struct nl_addr *addr, NET_LUID luid, MIB_UNICASTIPADDRESS_ROW *row)
{
    InitializeUnicastIpAddressEntry(row);
    BOOLEAN link_local = addr->family == 6 && v6_link_local(addr->addr);
    netio_sockaddr(addr->family, addr->addr, link_local ? addr->index : 0, &row->Address);
    row->InterfaceLuid = luid;
    row->InterfaceIndex = (NET_IFINDEX)addr->index;
    if (is_loopback_address(addr->family, addr->addr)) {
        row->PrefixOrigin = IpPrefixOriginWellKnown;
        row->SuffixOrigin = IpSuffixOriginWellKnown;
    } else if (link_local) {
        row->PrefixOrigin = IpPrefixOriginWellKnown;
        row->SuffixOrigin = IpSuffixOriginLinkLayerAddress;
    } else if (addr->flags & NL_IFA_F_PERMANENT) {
        row->PrefixOrigin = IpPrefixOriginManual;
        row->SuffixOrigin = IpSuffixOriginManual;
    } else if (addr->family == 4) {
        row->PrefixOrigin = IpPrefixOriginDhcp;
        row->SuffixOrigin = IpSuffixOriginDhcp;
    } else {
        row->PrefixOrigin = IpPrefixOriginRouterAdvertisement;
        row->SuffixOrigin = (addr->flags & NL_IFA_F_TEMPORARY) ? IpSuffixOriginRandom
                                                               : IpSuffixOriginLinkLayerAddress;
    }
    row->ValidLifetime = addr->valid;
    row->PreferredLifetime = addr->preferred;
    row->OnLinkPrefixLength = (UINT8)addr->prefixlen;
    if (addr->flags & NL_IFA_F_DADFAILED)
        row->DadState = IpDadStateDuplicate;
    else if (addr->flags & NL_IFA_F_TENTATIVE)
        row->DadState = IpDadStateTentative;
    else if (addr->flags & NL_IFA_F_DEPRECATED)
        row->DadState = IpDadStateDeprecated;
    else
        row->DadState = IpDadStatePreferred;
    if (link_local)
        row->ScopeId.Value = (ULONG)addr->index;
    /* cstamp counts hundredths of a second since boot. */
    uint64_t now_cs = nl_boot_centiseconds();
    uint64_t age_cs = now_cs > addr->cstamp ? now_cs - addr->cstamp : 0;
    row->CreationTimeStamp.QuadPart = openwsk_system_time_now() - (LONGLONG)age_cs * 100000;
}

static NL_ROUTE_PROTOCOL route_protocol(const struct nl_route *route)
{
    if (route->type != NL_RTN_UNICAST || route->protocol == NL_RTPROT_KERNEL)
        return RouteProtocolLocal; /* made by the stack for its addresses */
    switch (route->protocol) {
    case NL_RTPROT_BOOT:
    case NL_RTPROT_STATIC:
    case NL_RTPROT_DHCP:
    case NL_RTPROT_RA: return RouteProtocolNetMgmt;
    case NL_RTPROT_REDIRECT: return RouteProtocolIcmp;
    case NL_RTPROT_BGP: return RouteProtocolBgp;
    case NL_RTPROT_ISIS: return RouteProtocolIsIs;
    case NL_RTPROT_OSPF: return RouteProtocolOspf;
    case NL_RTPROT_RIP: return RouteProtocolRip;
    case NL_RTPROT_EIGRP: return RouteProtocolEigrp;
    default: return RouteProtocolOther;
    }
}

void netio_forward_row(const struct nl_route *route, NET_LUID luid, MIB_IPFORWARD_ROW2 *row)
{
    InitializeIpForwardEntry(row);
    row->InterfaceLuid = luid;
    row->InterfaceIndex = (NET_IFINDEX)route->oif;
    static const unsigned char zero[16];
    netio_sockaddr(route->family, route->dst, 0, &row->DestinationPrefix.Prefix);
    row->DestinationPrefix.PrefixLength = (UINT8)route->dst_len;
    netio_sockaddr(route->family, route->has_gateway ? route->gateway : zero, 0, &row->NextHop);
    row->SitePrefixLength = 0;
    row->ValidLifetime = row->PreferredLifetime = route->expires ? route->expires : 0xffffffffu;
    row->Metric = route->priority;
    row->Protocol = route_protocol(route);
    row->Loopback = route->type == NL_RTN_LOCAL;
    row->AutoconfigureAddress = FALSE;
    row->Publish = FALSE;
    row->Immortal = FALSE;
    row->Age = 0;
    switch (route->protocol) {
    case NL_RTPROT_KERNEL: row->Origin = NlroWellKnown; break;
    case NL_RTPROT_DHCP: row->Origin = NlroDHCP; break;
    case NL_RTPROT_RA: row->Origin = NlroRouterAdvertisement; break;
    default: row->Origin = NlroManual; break;
    }
}
