/*
 * netio_tables.c - the table and entry functions of netioapi.h: interfaces,
 * IP interfaces, unicast addresses and routes read from rtnetlink on each
 * call, tables allocated from the pool and freed by FreeMibTable, and
 * GetBestRoute2 through the kernel's own route lookup.
 */
#include "netio/netio_internal.h"

#include "kernel/ke_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Rows collected before the table is allocated. */
struct row_list {
    char *rows;
    size_t row_size;
    ULONG count, capacity;
    int failed;
};

static void *row_list_push(struct row_list *list)
{
    if (list->count == list->capacity) {
        ULONG capacity = list->capacity ? list->capacity * 2 : 16;
        void *grown = realloc(list->rows, capacity * list->row_size);
        if (!grown) {
            list->failed = 1;
            return NULL;
        }
        list->rows = grown;
        list->capacity = capacity;
    }
    return list->rows + list->row_size * list->count++;
}

/* Every MIB_*_TABLE* is { ULONG NumEntries; ROW Table[]; } with the rows
 * 8-aligned (each row type holds a 64-bit member). */
#define TABLE_HEADER 8

static NTSTATUS row_list_to_table(struct row_list *list, int rc, PVOID *table)
{
    NTSTATUS status = rc < 0 ? netio_status_from_errno(rc)
                      : list->failed ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;
    if (NT_SUCCESS(status)) {
        /* Room for at least one row, as the ANY_SIZE declaration implies. */
        size_t rows = list->count ? list->count : 1;
        char *t = openwsk_pool_alloc(TABLE_HEADER + rows * list->row_size, NETIO_POOL_TAG, TRUE);
        if (!t) {
            status = STATUS_INSUFFICIENT_RESOURCES;
        } else {
            *(ULONG *)t = list->count;
            if (list->count)
                memcpy(t + TABLE_HEADER, list->rows, list->count * list->row_size);
            *table = t;
        }
    }
    free(list->rows);
    return status;
}

VOID NETIOAPI_API_ FreeMibTable(PVOID Memory)
{
    if (Memory)
        openwsk_pool_free(Memory);
}

/* ---- interfaces ---- */

NETIOAPI_API GetIfEntry2(PMIB_IF_ROW2 Row)
{
    return GetIfEntry2Ex(MibIfEntryNormal, Row);
}

NETIOAPI_API GetIfEntry2Ex(MIB_IF_ENTRY_LEVEL Level, PMIB_IF_ROW2 Row)
{
    if (!Row || (Level != MibIfEntryNormal && Level != MibIfEntryNormalWithoutStatistics))
        return STATUS_INVALID_PARAMETER;
    struct nl_link link;
    NTSTATUS status = netio_find_link(&Row->InterfaceLuid, Row->InterfaceIndex, &link);
    if (NT_SUCCESS(status))
        netio_if_row(&link, Row);
    return status;
}

static int collect_if(void *ctx, const struct nl_link *link)
{
    MIB_IF_ROW2 *row = row_list_push(ctx);
    if (row)
        netio_if_row(link, row);
    return 0;
}

NETIOAPI_API GetIfTable2Ex(MIB_IF_TABLE_LEVEL Level, PMIB_IF_TABLE2 *Table)
{
    if (!Table || Level > MibIfTableNormalWithoutStatistics)
        return STATUS_INVALID_PARAMETER;
    struct row_list list = {.row_size = sizeof(MIB_IF_ROW2)};
    int rc = nl_dump_links(collect_if, &list);
    return row_list_to_table(&list, rc, (PVOID *)Table);
}

NETIOAPI_API GetIfTable2(PMIB_IF_TABLE2 *Table)
{
    return GetIfTable2Ex(MibIfTableNormal, Table);
}

NETIOAPI_API ConvertInterfaceLuidToIndex(CONST NET_LUID *InterfaceLuid, PNET_IFINDEX InterfaceIndex)
{
    if (!InterfaceLuid || !InterfaceIndex || InterfaceLuid->Value == 0)
        return STATUS_INVALID_PARAMETER;
    struct nl_link link;
    NTSTATUS status = netio_find_link(InterfaceLuid, 0, &link);
    if (NT_SUCCESS(status))
        *InterfaceIndex = (NET_IFINDEX)link.index;
    return status;
}

NETIOAPI_API ConvertInterfaceIndexToLuid(NET_IFINDEX InterfaceIndex, PNET_LUID InterfaceLuid)
{
    if (!InterfaceLuid || InterfaceIndex == NET_IFINDEX_UNSPECIFIED)
        return STATUS_INVALID_PARAMETER;
    struct nl_link link;
    NTSTATUS status = netio_find_link(NULL, InterfaceIndex, &link);
    if (NT_SUCCESS(status))
        *InterfaceLuid = netio_luid(link.index, link.arptype);
    return status;
}

/* ---- IP interfaces ---- */

VOID NETIOAPI_API_ InitializeIpInterfaceEntry(PMIB_IPINTERFACE_ROW Row)
{
    /* "InitializeIpInterfaceEntry function", Remarks: Family AF_UNSPEC,
     * the LUID unspecified, every other member zero. */
    memset(Row, 0, sizeof *Row);
    Row->Family = AF_UNSPEC;
}

static BOOLEAN link_has_family(const struct nl_link *link, int family)
{
    return family == 4 || (family == 6 && link->has_ipv6);
}

NETIOAPI_API GetIpInterfaceEntry(PMIB_IPINTERFACE_ROW Row)
{
    if (!Row)
        return STATUS_INVALID_PARAMETER;
    int family = netio_family_from_windows(Row->Family);
    if (family != 4 && family != 6)
        return STATUS_INVALID_PARAMETER;
    struct nl_link link;
    NTSTATUS status = netio_find_link(&Row->InterfaceLuid, Row->InterfaceIndex, &link);
    if (!NT_SUCCESS(status))
        return status;
    if (!link_has_family(&link, family))
        return STATUS_NOT_FOUND;
    netio_ipinterface_row(&link, family, Row);
    return STATUS_SUCCESS;
}

struct ipif_ctx {
    struct row_list list;
    int family;
};

static int collect_ipif(void *ctx, const struct nl_link *link)
{
    struct ipif_ctx *c = ctx;
    for (int family = 4; family <= 6; family += 2) {
        if ((c->family == 0 || c->family == family) && link_has_family(link, family)) {
            MIB_IPINTERFACE_ROW *row = row_list_push(&c->list);
            if (row)
                netio_ipinterface_row(link, family, row);
        }
    }
    return 0;
}

NETIOAPI_API GetIpInterfaceTable(ADDRESS_FAMILY Family, PMIB_IPINTERFACE_TABLE *Table)
{
    int family = netio_family_from_windows(Family);
    if (!Table || family < 0)
        return STATUS_INVALID_PARAMETER;
    struct ipif_ctx c = {.list = {.row_size = sizeof(MIB_IPINTERFACE_ROW)}, .family = family};
    int rc = nl_dump_links(collect_ipif, &c);
    return row_list_to_table(&c.list, rc, (PVOID *)Table);
}

/* ---- unicast addresses ---- */

VOID NETIOAPI_API_ InitializeUnicastIpAddressEntry(PMIB_UNICASTIPADDRESS_ROW Row)
{
    /* "InitializeUnicastIpAddressEntry function", Remarks. */
    memset(Row, 0, sizeof *Row);
    Row->PrefixOrigin = IpPrefixOriginUnchanged;
    Row->SuffixOrigin = IpSuffixOriginUnchanged;
    Row->ValidLifetime = 0xffffffffu;
    Row->PreferredLifetime = 0xffffffffu;
    Row->OnLinkPrefixLength = 0xff; /* no valid prefix is that long */
    Row->SkipAsSource = FALSE;
}

struct addr_ctx {
    struct row_list list;
    struct netio_link_map map;
    /* GetUnicastIpAddressEntry: the one address looked for. */
    const MIB_UNICASTIPADDRESS_ROW *wanted;
    int wanted_index;
};

static BOOLEAN same_address(const SOCKADDR_INET *a, const SOCKADDR_INET *b)
{
    if (a->si_family != b->si_family)
        return FALSE;
    if (a->si_family == AF_INET)
        return memcmp(&a->Ipv4.sin_addr, &b->Ipv4.sin_addr, 4) == 0;
    return memcmp(&a->Ipv6.sin6_addr, &b->Ipv6.sin6_addr, 16) == 0;
}

static int collect_addr(void *ctx, const struct nl_addr *addr)
{
    struct addr_ctx *c = ctx;
    if (c->wanted && addr->index != c->wanted_index)
        return 0;
    int type = netio_link_map_type(&c->map, addr->index);
    MIB_UNICASTIPADDRESS_ROW row;
    netio_unicast_row(addr, netio_luid(addr->index, type < 0 ? 0 : (unsigned)type), &row);
    if (c->wanted && !same_address(&row.Address, &c->wanted->Address))
        return 0;
    MIB_UNICASTIPADDRESS_ROW *slot = row_list_push(&c->list);
    if (slot)
        *slot = row;
    return c->wanted != NULL;
}

NETIOAPI_API GetUnicastIpAddressTable(ADDRESS_FAMILY Family, PMIB_UNICASTIPADDRESS_TABLE *Table)
{
    int family = netio_family_from_windows(Family);
    if (!Table || family < 0)
        return STATUS_INVALID_PARAMETER;
    struct addr_ctx c = {.list = {.row_size = sizeof(MIB_UNICASTIPADDRESS_ROW)}};
    int rc = netio_link_map_load(&c.map);
    if (rc == 0)
        rc = nl_dump_addrs(family, collect_addr, &c);
    netio_link_map_free(&c.map);
    return row_list_to_table(&c.list, rc, (PVOID *)Table);
}

NETIOAPI_API GetUnicastIpAddressEntry(PMIB_UNICASTIPADDRESS_ROW Row)
{
    if (!Row)
        return STATUS_INVALID_PARAMETER;
    int family = netio_family_from_windows(Row->Address.si_family);
    if (family != 4 && family != 6)
        return STATUS_INVALID_PARAMETER;
    struct nl_link link;
    NTSTATUS status = netio_find_link(&Row->InterfaceLuid, Row->InterfaceIndex, &link);
    if (!NT_SUCCESS(status))
        return status;
    struct addr_ctx c = {.list = {.row_size = sizeof(MIB_UNICASTIPADDRESS_ROW)},
                         .wanted = Row, .wanted_index = link.index};
    netio_link_map_set(&c.map, link.index, link.arptype);
    int rc = nl_dump_addrs(family, collect_addr, &c);
    if (rc < 0)
        status = netio_status_from_errno(rc);
    else if (c.list.failed)
        status = STATUS_INSUFFICIENT_RESOURCES;
    else if (c.list.count == 0)
        status = STATUS_NOT_FOUND;
    else
        *Row = *(MIB_UNICASTIPADDRESS_ROW *)c.list.rows;
    free(c.list.rows);
    netio_link_map_free(&c.map);
    return status;
}

/* ---- routes ---- */

VOID NETIOAPI_API_ InitializeIpForwardEntry(PMIB_IPFORWARD_ROW2 Row)
{
    /* "InitializeIpForwardEntry function", Remarks: lifetimes infinite,
     * four flags TRUE, three members illegal, the rest zero. */
    memset(Row, 0, sizeof *Row);
    Row->ValidLifetime = 0xffffffffu;
    Row->PreferredLifetime = 0xffffffffu;
    Row->Loopback = TRUE;
    Row->AutoconfigureAddress = TRUE;
    Row->Publish = TRUE;
    Row->Immortal = TRUE;
    Row->SitePrefixLength = 0xff;
    Row->Metric = (ULONG)-1;
    Row->Protocol = (NL_ROUTE_PROTOCOL)-1;
}

struct route_ctx {
    struct row_list list;
    struct netio_link_map map;
};

static int collect_route(void *ctx, const struct nl_route *route)
{
    struct route_ctx *c = ctx;
    int type = netio_link_map_type(&c->map, route->oif);
    MIB_IPFORWARD_ROW2 *row = row_list_push(&c->list);
    if (row)
        netio_forward_row(route, netio_luid(route->oif, type < 0 ? 0 : (unsigned)type), row);
    return 0;
}

NETIOAPI_API GetIpForwardTable2(ADDRESS_FAMILY Family, PMIB_IPFORWARD_TABLE2 *Table)
{
    int family = netio_family_from_windows(Family);
    if (!Table || family < 0)
        return STATUS_INVALID_PARAMETER;
    struct route_ctx c = {.list = {.row_size = sizeof(MIB_IPFORWARD_ROW2)}};
    int rc = netio_link_map_load(&c.map);
    if (rc == 0)
        rc = nl_dump_routes(family, collect_route, &c);
    netio_link_map_free(&c.map);
    return row_list_to_table(&c.list, rc, (PVOID *)Table);
}

/* GetBestRoute2: the kernel picks the route (RTM_GETROUTE answers with the
 * output interface, gateway, table and preferred source but with a host
 * prefix); the table route it used is the longest prefix of that table
 * holding the destination with the same interface and gateway. */
struct best_ctx {
    const struct nl_route *chosen;
    const unsigned char *dst;
    struct nl_route best;
    int found;
};

static BOOLEAN prefix_holds(const unsigned char *prefix, unsigned len, const unsigned char *addr)
{
    unsigned bytes = len / 8, bits = len % 8;
    if (memcmp(prefix, addr, bytes) != 0)
        return FALSE;
    if (bits == 0)
        return TRUE;
    unsigned char mask = (unsigned char)(0xff << (8 - bits));
    return (prefix[bytes] & mask) == (addr[bytes] & mask);
}

static int pick_route(void *ctx, const struct nl_route *route)
{
    struct best_ctx *b = ctx;
    const struct nl_route *k = b->chosen;
    size_t alen = route->family == 4 ? 4 : 16;
    if (route->table != k->table || route->oif != k->oif || route->type != k->type ||
        route->has_gateway != k->has_gateway ||
        (k->has_gateway && memcmp(route->gateway, k->gateway, alen) != 0) ||
        !prefix_holds(route->dst, route->dst_len, b->dst))
        return 0;
    if (!b->found || route->dst_len > b->best.dst_len ||
        (route->dst_len == b->best.dst_len && route->priority < b->best.priority)) {
        b->best = *route;
        b->found = 1;
    }
    return 0;
}

static const unsigned char *address_bytes(const SOCKADDR_INET *a)
{
    return a->si_family == AF_INET ? (const unsigned char *)&a->Ipv4.sin_addr
                                   : (const unsigned char *)&a->Ipv6.sin6_addr;
}

NETIOAPI_API GetBestRoute2(NET_LUID *InterfaceLuid, NET_IFINDEX InterfaceIndex,
    CONST SOCKADDR_INET *SourceAddress, CONST SOCKADDR_INET *DestinationAddress,
    ULONG AddressSortOptions, PMIB_IPFORWARD_ROW2 BestRoute, SOCKADDR_INET *BestSourceAddress)
{
    if (!DestinationAddress || !BestRoute || !BestSourceAddress)
        return STATUS_INVALID_PARAMETER;
    int family = netio_family_from_windows(DestinationAddress->si_family);
    if (family != 4 && family != 6)
        return STATUS_INVALID_PARAMETER;
    const unsigned char *src = NULL;
    if (SourceAddress && SourceAddress->si_family != AF_UNSPEC) {
        if (SourceAddress->si_family != DestinationAddress->si_family)
            return STATUS_INVALID_PARAMETER;
        src = address_bytes(SourceAddress);
    }
    int oif = 0;
    if ((InterfaceLuid && InterfaceLuid->Value != 0) || InterfaceIndex != NET_IFINDEX_UNSPECIFIED) {
        struct nl_link link;
        NTSTATUS status = netio_find_link(InterfaceLuid, InterfaceIndex, &link);
        if (!NT_SUCCESS(status))
            return status;
        oif = link.index;
    }
    const unsigned char *dst = address_bytes(DestinationAddress);
    struct nl_route chosen;
    int rc = nl_get_route(family, dst, src, oif, &chosen);
    if (rc < 0)
        return netio_status_from_errno(rc);
    struct best_ctx b = {.chosen = &chosen, .dst = dst};
    rc = nl_dump_routes(family, pick_route, &b);
    if (rc < 0)
        return netio_status_from_errno(rc);
    if (!b.found) {
        /* Policy routing outside main/local: report the lookup itself. */
        b.best = chosen;
    }
    struct netio_link_map map = {0};
    int type = netio_link_map_type(&map, b.best.oif);
    netio_link_map_free(&map);
    netio_forward_row(&b.best, netio_luid(b.best.oif, type < 0 ? 0 : (unsigned)type), BestRoute);
    static const unsigned char zero[16];
    netio_sockaddr(family, chosen.has_prefsrc ? chosen.prefsrc : zero, 0, BestSourceAddress);
    if (family == 6 && chosen.has_prefsrc && chosen.prefsrc[0] == 0xfe && (chosen.prefsrc[1] & 0xc0) == 0x80)
        BestSourceAddress->Ipv6.sin6_scope_id = (ULONG)b.best.oif;
    return STATUS_SUCCESS;
}
