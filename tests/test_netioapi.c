/*
 * test_netioapi.c - the IP Helper (netioapi.h) on the host's own network:
 * the loopback interface in every table, LUID/index round trips for every
 * interface, Windows' status codes for bad or unknown arguments, and the
 * notification contract that needs no network change (initial
 * notification first, CancelMibChangeNotify2 waiting for a running
 * callback, cancelling from the callback itself).  Changes are observed in
 * a network namespace by test_netioapi_ns.c.
 */
#include <ntddk.h>
#include <netioapi.h>
#include <openwsk_runtime.h>

#include <unistd.h>

#include "wt.h"

#define NETIO_TAG 'oiTN'

static NET_IFINDEX loopback_index(void)
{
    PMIB_IF_TABLE2 table = NULL;
    NET_IFINDEX index = 0;
    if (GetIfTable2(&table) != STATUS_SUCCESS)
        return 0;
    for (ULONG i = 0; i < table->NumEntries; i++)
        if (table->Table[i].Type == IF_TYPE_SOFTWARE_LOOPBACK)
            index = table->Table[i].InterfaceIndex;
    FreeMibTable(table);
    return index;
}

static void test_if_table_has_loopback(void)
{
    PMIB_IF_TABLE2 table = NULL;
    CHECK_EQ(GetIfTable2(&table), STATUS_SUCCESS);
    if (!table)
        return;
    CHECK(table->NumEntries >= 1);
    int loopbacks = 0;
    for (ULONG i = 0; i < table->NumEntries; i++) {
        MIB_IF_ROW2 *row = &table->Table[i];
        CHECK(row->InterfaceIndex != 0);
        CHECK_EQ(row->InterfaceLuid.Info.IfType, row->Type);
        if (row->Type != IF_TYPE_SOFTWARE_LOOPBACK)
            continue;
        loopbacks++;
        CHECK(row->Alias[0] == 'l' && row->Alias[1] == 'o' && row->Alias[2] == 0);
        CHECK_EQ(row->AccessType, NET_IF_ACCESS_LOOPBACK);
        CHECK_EQ(row->MediaType, NdisMediumLoopback);
        CHECK_EQ(row->OperStatus, IfOperStatusUp);
        CHECK_EQ(row->AdminStatus, NET_IF_ADMIN_STATUS_UP);
        CHECK_EQ(row->MediaConnectState, MediaConnectStateConnected);
        CHECK(row->Mtu > 0);
    }
    CHECK_EQ(loopbacks, 1);
    FreeMibTable(table);

    CHECK_EQ(GetIfTable2Ex(MibIfTableNormalWithoutStatistics, &table), STATUS_SUCCESS);
    FreeMibTable(table);
}

static void test_luid_index_round_trip(void)
{
    PMIB_IF_TABLE2 table = NULL;
    CHECK_EQ(GetIfTable2(&table), STATUS_SUCCESS);
    if (!table)
        return;
    for (ULONG i = 0; i < table->NumEntries; i++) {
        const MIB_IF_ROW2 *row = &table->Table[i];
        NET_IFINDEX index = 0;
        NET_LUID luid = {0};
        CHECK_EQ(ConvertInterfaceLuidToIndex(&row->InterfaceLuid, &index), STATUS_SUCCESS);
        CHECK_EQ(index, row->InterfaceIndex);
        CHECK_EQ(ConvertInterfaceIndexToLuid(row->InterfaceIndex, &luid), STATUS_SUCCESS);
        CHECK_EQ(luid.Value, row->InterfaceLuid.Value);

        /* GetIfEntry2 by LUID (index ignored) and by index (LUID zero). */
        MIB_IF_ROW2 by_luid;
        memset(&by_luid, 0, sizeof by_luid);
        by_luid.InterfaceLuid = row->InterfaceLuid;
        by_luid.InterfaceIndex = 0x7fffff;
        CHECK_EQ(GetIfEntry2(&by_luid), STATUS_SUCCESS);
        CHECK_EQ(by_luid.InterfaceIndex, row->InterfaceIndex);
        MIB_IF_ROW2 by_index;
        memset(&by_index, 0, sizeof by_index);
        by_index.InterfaceIndex = row->InterfaceIndex;
        CHECK_EQ(GetIfEntry2(&by_index), STATUS_SUCCESS);
        CHECK_EQ(by_index.InterfaceLuid.Value, row->InterfaceLuid.Value);
        CHECK_EQ(by_index.Type, row->Type);
        CHECK_MEM(by_index.Alias, row->Alias, sizeof row->Alias);
    }
    FreeMibTable(table);
}

static void test_bad_and_unknown_arguments(void)
{
    MIB_IF_ROW2 row;
    memset(&row, 0, sizeof row);
    CHECK_EQ(GetIfEntry2(NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(GetIfEntry2(&row), STATUS_INVALID_PARAMETER); /* neither LUID nor index */
    row.InterfaceIndex = 0xfffffe;
    CHECK_EQ(GetIfEntry2(&row), STATUS_NOT_FOUND);
    CHECK_EQ(GetIfTable2(NULL), STATUS_INVALID_PARAMETER);

    NET_LUID luid = {0};
    NET_IFINDEX index = 0;
    CHECK_EQ(ConvertInterfaceIndexToLuid(0xfffffe, &luid), STATUS_NOT_FOUND);
    CHECK_EQ(ConvertInterfaceIndexToLuid(0, &luid), STATUS_INVALID_PARAMETER);
    CHECK_EQ(ConvertInterfaceLuidToIndex(&luid, &index), STATUS_INVALID_PARAMETER); /* zero LUID */
    CHECK_EQ(ConvertInterfaceLuidToIndex(NULL, &index), STATUS_INVALID_PARAMETER);
    /* The loopback index with the wrong interface type names nothing. */
    luid.Info.NetLuidIndex = loopback_index();
    luid.Info.IfType = IF_TYPE_TUNNEL;
    CHECK_EQ(ConvertInterfaceLuidToIndex(&luid, &index), STATUS_NOT_FOUND);

    PMIB_IPINTERFACE_TABLE ipif = NULL;
    CHECK_EQ(GetIpInterfaceTable(99, &ipif), STATUS_INVALID_PARAMETER);
    CHECK(ipif == NULL);
    MIB_IPINTERFACE_ROW ipif_row;
    InitializeIpInterfaceEntry(&ipif_row);
    ipif_row.InterfaceIndex = loopback_index();
    CHECK_EQ(GetIpInterfaceEntry(&ipif_row), STATUS_INVALID_PARAMETER); /* Family unset */

    SOCKADDR_INET dst, src;
    MIB_IPFORWARD_ROW2 route;
    memset(&dst, 0, sizeof dst);
    CHECK_EQ(GetBestRoute2(NULL, 0, NULL, &dst, 0, &route, &src), STATUS_INVALID_PARAMETER);
    dst.Ipv4.sin_family = AF_INET;
    CHECK_EQ(GetBestRoute2(NULL, 0xfffffe, NULL, &dst, 0, &route, &src), STATUS_NOT_FOUND);

    HANDLE handle = NULL;
    CHECK_EQ(CancelMibChangeNotify2(NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(NotifyRouteChange2(AF_INET, NULL, NULL, FALSE, &handle), STATUS_INVALID_PARAMETER);
    FreeMibTable(NULL);
}

static void test_initialize_entries(void)
{
    MIB_IPINTERFACE_ROW ipif;
    memset(&ipif, 0xa5, sizeof ipif);
    InitializeIpInterfaceEntry(&ipif);
    CHECK_EQ(ipif.Family, AF_UNSPEC);
    CHECK_EQ(ipif.InterfaceIndex, 0);
    CHECK_EQ(ipif.Metric, 0);
    CHECK_EQ(ipif.ZoneIndices[ScopeLevelGlobal], 0);

    MIB_UNICASTIPADDRESS_ROW uc;
    memset(&uc, 0xa5, sizeof uc);
    InitializeUnicastIpAddressEntry(&uc);
    CHECK_EQ(uc.PrefixOrigin, IpPrefixOriginUnchanged);
    CHECK_EQ(uc.SuffixOrigin, IpSuffixOriginUnchanged);
    CHECK(uc.OnLinkPrefixLength > 128);
    CHECK_EQ(uc.ValidLifetime, 0xffffffffu);
    CHECK_EQ(uc.PreferredLifetime, 0xffffffffu);
    CHECK_EQ(uc.SkipAsSource, FALSE);
    CHECK_EQ(uc.InterfaceIndex, 0);
    CHECK_EQ(uc.Address.si_family, 0);

    MIB_IPFORWARD_ROW2 fwd;
    memset(&fwd, 0xa5, sizeof fwd);
    InitializeIpForwardEntry(&fwd);
    CHECK_EQ(fwd.ValidLifetime, 0xffffffffu);
    CHECK_EQ(fwd.PreferredLifetime, 0xffffffffu);
    CHECK(fwd.Loopback && fwd.AutoconfigureAddress && fwd.Publish && fwd.Immortal);
    CHECK(fwd.SitePrefixLength > 128);
    CHECK_EQ(fwd.InterfaceIndex, 0);
    CHECK_EQ(fwd.Age, 0);
    CHECK_EQ(fwd.Origin, NlroManual);
}

static void test_loopback_address(void)
{
    NET_IFINDEX lo = loopback_index();
    PMIB_UNICASTIPADDRESS_TABLE table = NULL;
    CHECK_EQ(GetUnicastIpAddressTable(AF_INET, &table), STATUS_SUCCESS);
    if (!table)
        return;
    int found = 0;
    for (ULONG i = 0; i < table->NumEntries; i++) {
        const MIB_UNICASTIPADDRESS_ROW *row = &table->Table[i];
        CHECK_EQ(row->Address.si_family, AF_INET);
        if (row->Address.Ipv4.sin_addr.s_addr != RtlUlongByteSwap(0x7f000001))
            continue;
        found++;
        CHECK_EQ(row->InterfaceIndex, lo);
        CHECK_EQ(row->InterfaceLuid.Info.IfType, IF_TYPE_SOFTWARE_LOOPBACK);
        CHECK_EQ(row->OnLinkPrefixLength, 8);
        CHECK_EQ(row->DadState, IpDadStatePreferred);
        CHECK_EQ(row->PrefixOrigin, IpPrefixOriginWellKnown);
        CHECK_EQ(row->ValidLifetime, 0xffffffffu);
        CHECK(row->CreationTimeStamp.QuadPart > 0);
    }
    CHECK_EQ(found, 1);
    FreeMibTable(table);

    MIB_UNICASTIPADDRESS_ROW entry;
    InitializeUnicastIpAddressEntry(&entry);
    entry.Address.Ipv4.sin_family = AF_INET;
    entry.Address.Ipv4.sin_addr.s_addr = RtlUlongByteSwap(0x7f000001);
    entry.InterfaceIndex = lo;
    CHECK_EQ(GetUnicastIpAddressEntry(&entry), STATUS_SUCCESS);
    CHECK_EQ(entry.OnLinkPrefixLength, 8);
    CHECK_EQ(entry.InterfaceLuid.Info.IfType, IF_TYPE_SOFTWARE_LOOPBACK);
    entry.Address.Ipv4.sin_addr.s_addr = RtlUlongByteSwap(0xc612fffe); /* 198.18.255.254 */
    CHECK_EQ(GetUnicastIpAddressEntry(&entry), STATUS_NOT_FOUND);
}

static void test_loopback_ip_interface(void)
{
    NET_IFINDEX lo = loopback_index();
    PMIB_IPINTERFACE_TABLE table = NULL;
    CHECK_EQ(GetIpInterfaceTable(AF_UNSPEC, &table), STATUS_SUCCESS);
    if (!table)
        return;
    int v4 = 0;
    for (ULONG i = 0; i < table->NumEntries; i++)
        if (table->Table[i].InterfaceIndex == lo && table->Table[i].Family == AF_INET)
            v4++;
    CHECK_EQ(v4, 1);
    FreeMibTable(table);

    MIB_IPINTERFACE_ROW row;
    InitializeIpInterfaceEntry(&row);
    row.Family = AF_INET;
    row.InterfaceIndex = lo;
    CHECK_EQ(GetIpInterfaceEntry(&row), STATUS_SUCCESS);
    CHECK_EQ(row.InterfaceLuid.Info.IfType, IF_TYPE_SOFTWARE_LOOPBACK);
    CHECK_EQ(row.Connected, TRUE);
    CHECK(row.NlMtu > 0 && row.NlMtu != (ULONG)-1);
    CHECK_EQ(row.ZoneIndices[ScopeLevelLink], lo);
}

static void test_loopback_routes(void)
{
    NET_IFINDEX lo = loopback_index();
    PMIB_IPFORWARD_TABLE2 table = NULL;
    CHECK_EQ(GetIpForwardTable2(AF_INET, &table), STATUS_SUCCESS);
    if (!table)
        return;
    int found = 0;
    for (ULONG i = 0; i < table->NumEntries; i++) {
        const MIB_IPFORWARD_ROW2 *row = &table->Table[i];
        CHECK_EQ(row->DestinationPrefix.Prefix.si_family, AF_INET);
        CHECK_EQ(row->NextHop.si_family, AF_INET);
        if (row->InterfaceIndex == lo && row->DestinationPrefix.PrefixLength == 8 &&
            row->DestinationPrefix.Prefix.Ipv4.sin_addr.s_addr == RtlUlongByteSwap(0x7f000000)) {
            found++;
            CHECK_EQ(row->Loopback, TRUE);
            CHECK_EQ(row->Protocol, MIB_IPPROTO_LOCAL);
            CHECK_EQ(row->Publish, FALSE);
            CHECK_EQ(row->AutoconfigureAddress, FALSE);
            CHECK_EQ(row->ValidLifetime, 0xffffffffu);
        }
    }
    CHECK_EQ(found, 1);
    FreeMibTable(table);

    SOCKADDR_INET dst, best_src;
    MIB_IPFORWARD_ROW2 best;
    memset(&dst, 0, sizeof dst);
    dst.Ipv4.sin_family = AF_INET;
    dst.Ipv4.sin_addr.s_addr = RtlUlongByteSwap(0x7f000001);
    CHECK_EQ(GetBestRoute2(NULL, 0, NULL, &dst, 0, &best, &best_src), STATUS_SUCCESS);
    CHECK_EQ(best.InterfaceIndex, lo);
    CHECK_EQ(best.InterfaceLuid.Info.IfType, IF_TYPE_SOFTWARE_LOOPBACK);
    CHECK(best.DestinationPrefix.PrefixLength >= 8);
    CHECK_EQ(best_src.si_family, AF_INET);
    CHECK_EQ(best_src.Ipv4.sin_addr.s_addr, RtlUlongByteSwap(0x7f000001));
}

/* ---- notification contract ---- */

struct slow_callback {
    HANDLE handle;
    int calls, started, finished, first_type, row_was_null, irql_ok, cancel_status;
    int cancel_from_callback;
};

static VOID NTAPI slow_ipif_callback(PVOID context, PMIB_IPINTERFACE_ROW row, MIB_NOTIFICATION_TYPE type)
{
    struct slow_callback *s = context;
    if (__atomic_fetch_add(&s->calls, 1, __ATOMIC_ACQ_REL) == 0) {
        s->first_type = type;
        s->row_was_null = row == NULL;
        s->irql_ok = KeGetCurrentIrql() == PASSIVE_LEVEL;
    }
    if (s->cancel_from_callback) {
        s->cancel_status = CancelMibChangeNotify2(s->handle);
        __atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
    usleep(200 * 1000);
    __atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
}

static VOID NTAPI slow_unicast_callback(PVOID context, PMIB_UNICASTIPADDRESS_ROW row,
                                        MIB_NOTIFICATION_TYPE type)
{
    slow_ipif_callback(context, (PMIB_IPINTERFACE_ROW)(void *)row, type);
}

static VOID NTAPI slow_route_callback(PVOID context, PMIB_IPFORWARD_ROW2 row, MIB_NOTIFICATION_TYPE type)
{
    slow_ipif_callback(context, (PMIB_IPINTERFACE_ROW)(void *)row, type);
}

static void wait_flag(int *flag)
{
    for (int i = 0; i < 500 && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); i++)
        usleep(10 * 1000);
}

static void test_initial_notification_and_cancel_waits(void)
{
    struct slow_callback s = {0};
    CHECK_EQ(NotifyIpInterfaceChange(AF_UNSPEC, slow_ipif_callback, &s, TRUE, &s.handle),
             STATUS_SUCCESS);
    CHECK(s.handle != NULL);
    wait_flag(&s.started);
    CHECK_EQ(__atomic_load_n(&s.started, __ATOMIC_ACQUIRE), 1);
    /* The callback is asleep inside: the cancel returns only after it. */
    CHECK_EQ(CancelMibChangeNotify2(s.handle), STATUS_SUCCESS);
    CHECK_EQ(__atomic_load_n(&s.finished, __ATOMIC_ACQUIRE), 1);
    CHECK_EQ(s.calls, 1);
    CHECK_EQ(s.first_type, MibInitialNotification);
    CHECK_EQ(s.row_was_null, 1);
    CHECK_EQ(s.irql_ok, 1);

    /* Without InitialNotification nothing is called before a change. */
    struct slow_callback quiet = {0};
    CHECK_EQ(NotifyUnicastIpAddressChange(AF_INET6, slow_unicast_callback, &quiet, FALSE,
                                          &quiet.handle),
             STATUS_SUCCESS);
    CHECK_EQ(CancelMibChangeNotify2(quiet.handle), STATUS_SUCCESS);
    CHECK_EQ(quiet.calls, 0);
    CHECK_EQ(openwsk_pool_outstanding_count(NETIO_TAG), 0);
}

static void test_cancel_from_own_callback(void)
{
    struct slow_callback s = {.cancel_from_callback = 1};
    CHECK_EQ(NotifyRouteChange2(AF_INET, slow_route_callback, &s, TRUE, &s.handle),
             STATUS_SUCCESS);
    wait_flag(&s.finished);
    CHECK_EQ(__atomic_load_n(&s.finished, __ATOMIC_ACQUIRE), 1);
    CHECK_EQ(s.cancel_status, STATUS_SUCCESS);
    /* The provider thread frees the registration once the callback returned. */
    for (int i = 0; i < 500 && openwsk_pool_outstanding_count(NETIO_TAG) != 0; i++)
        usleep(10 * 1000);
    CHECK_EQ(openwsk_pool_outstanding_count(NETIO_TAG), 0);
}

int main(void)
{
    WT_RUN(test_if_table_has_loopback);
    WT_RUN(test_luid_index_round_trip);
    WT_RUN(test_bad_and_unknown_arguments);
    WT_RUN(test_initialize_entries);
    WT_RUN(test_loopback_address);
    WT_RUN(test_loopback_ip_interface);
    WT_RUN(test_loopback_routes);
    WT_RUN(test_initial_notification_and_cancel_waits);
    WT_RUN(test_cancel_from_own_callback);
    CHECK_EQ(openwsk_pool_outstanding_count(NETIO_TAG), 0);
    return wt_finish();
}
