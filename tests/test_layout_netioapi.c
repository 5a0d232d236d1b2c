/*
 * test_layout_netioapi.c - pins the Windows x64 layout of netioapi.h and the
 * headers it brings (ifdef.h, nldef.h, ipifcons.h, ntddndis.h): structure
 * sizes and member offsets, the NET_LUID bit fields, enumeration values,
 * and the prototypes of the functions and callback types.
 *
 * Offsets follow the member lists of the Microsoft pages ("MIB_IF_ROW2
 * structure (netioapi.h)", "MIB_IPINTERFACE_ROW structure", ...) under the
 * x64 rules: 8-byte ULONG64/LARGE_INTEGER alignment, 4-byte enums, BOOLEAN
 * bit fields packed in one byte.
 */
#include <ntddk.h>
#include <netioapi.h>

#include "wt.h"

#define CHECK_SIZE(type, expected) CHECK_EQ(sizeof(type), (expected))
#define CHECK_OFF(type, member, expected) CHECK_EQ(offsetof(type, member), (expected))

static void test_luid(void)
{
    CHECK_SIZE(NET_LUID, 8);
    CHECK_SIZE(IF_LUID, 8);
    CHECK_SIZE(NET_IFINDEX, 4);
    CHECK_SIZE(IF_INDEX, 4);
    NET_LUID luid;
    luid.Value = 0;
    luid.Info.IfType = IF_TYPE_SOFTWARE_LOOPBACK;
    CHECK_EQ(luid.Value, 24ull << 48);
    luid.Value = 0;
    luid.Info.NetLuidIndex = 0xabcdef;
    CHECK_EQ(luid.Value, 0xabcdefull << 24);
    luid.Value = 0;
    luid.Info.Reserved = 0x123456;
    CHECK_EQ(luid.Value, 0x123456ull);
    CHECK_EQ(IF_TYPE_ETHERNET_CSMACD, 6);
    CHECK_EQ(IF_TYPE_SOFTWARE_LOOPBACK, 24);
    CHECK_EQ(IF_TYPE_TUNNEL, 131);
    CHECK_EQ(IF_TYPE_IEEE80211, 71);
    CHECK_EQ(IF_MAX_STRING_SIZE, 256);
    CHECK_EQ(IF_MAX_PHYS_ADDRESS_LENGTH, 32);
}

static void test_if_row2(void)
{
    CHECK_SIZE(MIB_IF_ROW2, 1352);
    CHECK_OFF(MIB_IF_ROW2, InterfaceLuid, 0);
    CHECK_OFF(MIB_IF_ROW2, InterfaceIndex, 8);
    CHECK_OFF(MIB_IF_ROW2, InterfaceGuid, 12);
    CHECK_OFF(MIB_IF_ROW2, Alias, 28);
    CHECK_OFF(MIB_IF_ROW2, Description, 542);
    CHECK_OFF(MIB_IF_ROW2, PhysicalAddressLength, 1056);
    CHECK_OFF(MIB_IF_ROW2, PhysicalAddress, 1060);
    CHECK_OFF(MIB_IF_ROW2, PermanentPhysicalAddress, 1092);
    CHECK_OFF(MIB_IF_ROW2, Mtu, 1124);
    CHECK_OFF(MIB_IF_ROW2, Type, 1128);
    CHECK_OFF(MIB_IF_ROW2, TunnelType, 1132);
    CHECK_OFF(MIB_IF_ROW2, MediaType, 1136);
    CHECK_OFF(MIB_IF_ROW2, PhysicalMediumType, 1140);
    CHECK_OFF(MIB_IF_ROW2, AccessType, 1144);
    CHECK_OFF(MIB_IF_ROW2, DirectionType, 1148);
    CHECK_OFF(MIB_IF_ROW2, InterfaceAndOperStatusFlags, 1152);
    CHECK_EQ(sizeof(((MIB_IF_ROW2 *)0)->InterfaceAndOperStatusFlags), 1);
    CHECK_OFF(MIB_IF_ROW2, OperStatus, 1156);
    CHECK_OFF(MIB_IF_ROW2, AdminStatus, 1160);
    CHECK_OFF(MIB_IF_ROW2, MediaConnectState, 1164);
    CHECK_OFF(MIB_IF_ROW2, NetworkGuid, 1168);
    CHECK_OFF(MIB_IF_ROW2, ConnectionType, 1184);
    CHECK_OFF(MIB_IF_ROW2, TransmitLinkSpeed, 1192);
    CHECK_OFF(MIB_IF_ROW2, ReceiveLinkSpeed, 1200);
    CHECK_OFF(MIB_IF_ROW2, InOctets, 1208);
    CHECK_OFF(MIB_IF_ROW2, InBroadcastOctets, 1272);
    CHECK_OFF(MIB_IF_ROW2, OutOctets, 1280);
    CHECK_OFF(MIB_IF_ROW2, OutQLen, 1344);
    CHECK_OFF(MIB_IF_TABLE2, Table, 8);
    CHECK_SIZE(MIB_IF_TABLE2, 8 + 1352);
}

static void test_ipinterface_row(void)
{
    CHECK_SIZE(MIB_IPINTERFACE_ROW, 168);
    CHECK_OFF(MIB_IPINTERFACE_ROW, Family, 0);
    CHECK_OFF(MIB_IPINTERFACE_ROW, InterfaceLuid, 8);
    CHECK_OFF(MIB_IPINTERFACE_ROW, InterfaceIndex, 16);
    CHECK_OFF(MIB_IPINTERFACE_ROW, MaxReassemblySize, 20);
    CHECK_OFF(MIB_IPINTERFACE_ROW, InterfaceIdentifier, 24);
    CHECK_OFF(MIB_IPINTERFACE_ROW, MinRouterAdvertisementInterval, 32);
    CHECK_OFF(MIB_IPINTERFACE_ROW, MaxRouterAdvertisementInterval, 36);
    CHECK_OFF(MIB_IPINTERFACE_ROW, AdvertisingEnabled, 40);
    CHECK_OFF(MIB_IPINTERFACE_ROW, AdvertiseDefaultRoute, 48);
    CHECK_OFF(MIB_IPINTERFACE_ROW, RouterDiscoveryBehavior, 52);
    CHECK_OFF(MIB_IPINTERFACE_ROW, DadTransmits, 56);
    CHECK_OFF(MIB_IPINTERFACE_ROW, BaseReachableTime, 60);
    CHECK_OFF(MIB_IPINTERFACE_ROW, RetransmitTime, 64);
    CHECK_OFF(MIB_IPINTERFACE_ROW, PathMtuDiscoveryTimeout, 68);
    CHECK_OFF(MIB_IPINTERFACE_ROW, LinkLocalAddressBehavior, 72);
    CHECK_OFF(MIB_IPINTERFACE_ROW, LinkLocalAddressTimeout, 76);
    CHECK_OFF(MIB_IPINTERFACE_ROW, ZoneIndices, 80);
    CHECK_OFF(MIB_IPINTERFACE_ROW, SitePrefixLength, 144);
    CHECK_OFF(MIB_IPINTERFACE_ROW, Metric, 148);
    CHECK_OFF(MIB_IPINTERFACE_ROW, NlMtu, 152);
    CHECK_OFF(MIB_IPINTERFACE_ROW, Connected, 156);
    CHECK_OFF(MIB_IPINTERFACE_ROW, SupportsRouterDiscovery, 159);
    CHECK_OFF(MIB_IPINTERFACE_ROW, ReachableTime, 160);
    CHECK_OFF(MIB_IPINTERFACE_ROW, TransmitOffload, 164);
    CHECK_OFF(MIB_IPINTERFACE_ROW, ReceiveOffload, 165);
    CHECK_OFF(MIB_IPINTERFACE_ROW, DisableDefaultRoutes, 166);
    CHECK_SIZE(NL_INTERFACE_OFFLOAD_ROD, 1);
    CHECK_OFF(MIB_IPINTERFACE_TABLE, Table, 8);
}

static void test_unicast_row(void)
{
    CHECK_SIZE(SOCKADDR_INET, 28);
    CHECK_SIZE(MIB_UNICASTIPADDRESS_ROW, 80);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, Address, 0);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, InterfaceLuid, 32);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, InterfaceIndex, 40);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, PrefixOrigin, 44);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, SuffixOrigin, 48);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, ValidLifetime, 52);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, PreferredLifetime, 56);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, OnLinkPrefixLength, 60);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, SkipAsSource, 61);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, DadState, 64);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, ScopeId, 68);
    CHECK_OFF(MIB_UNICASTIPADDRESS_ROW, CreationTimeStamp, 72);
    CHECK_OFF(MIB_UNICASTIPADDRESS_TABLE, Table, 8);
}

static void test_forward_row(void)
{
    CHECK_SIZE(IP_ADDRESS_PREFIX, 32);
    CHECK_OFF(IP_ADDRESS_PREFIX, PrefixLength, 28);
    CHECK_SIZE(MIB_IPFORWARD_ROW2, 104);
    CHECK_OFF(MIB_IPFORWARD_ROW2, InterfaceLuid, 0);
    CHECK_OFF(MIB_IPFORWARD_ROW2, InterfaceIndex, 8);
    CHECK_OFF(MIB_IPFORWARD_ROW2, DestinationPrefix, 12);
    CHECK_OFF(MIB_IPFORWARD_ROW2, NextHop, 44);
    CHECK_OFF(MIB_IPFORWARD_ROW2, SitePrefixLength, 72);
    CHECK_OFF(MIB_IPFORWARD_ROW2, ValidLifetime, 76);
    CHECK_OFF(MIB_IPFORWARD_ROW2, PreferredLifetime, 80);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Metric, 84);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Protocol, 88);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Loopback, 92);
    CHECK_OFF(MIB_IPFORWARD_ROW2, AutoconfigureAddress, 93);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Publish, 94);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Immortal, 95);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Age, 96);
    CHECK_OFF(MIB_IPFORWARD_ROW2, Origin, 100);
    CHECK_OFF(MIB_IPFORWARD_TABLE2, Table, 8);
}

static void test_enum_values(void)
{
    CHECK_EQ(MibParameterNotification, 0);
    CHECK_EQ(MibAddInstance, 1);
    CHECK_EQ(MibDeleteInstance, 2);
    CHECK_EQ(MibInitialNotification, 3);
    CHECK_EQ(MibIfTableNormal, 0);
    CHECK_EQ(MibIfTableRaw, 1);
    CHECK_EQ(MibIfTableNormalWithoutStatistics, 2);
    CHECK_EQ(IfOperStatusUp, 1);
    CHECK_EQ(IfOperStatusLowerLayerDown, 7);
    CHECK_EQ(NET_IF_ADMIN_STATUS_DOWN, 2);
    CHECK_EQ(MediaConnectStateDisconnected, 2);
    CHECK_EQ(NET_IF_ACCESS_LOOPBACK, 1);
    CHECK_EQ(NET_IF_ACCESS_BROADCAST, 2);
    CHECK_EQ(NET_IF_CONNECTION_DEDICATED, 1);
    CHECK_EQ(TUNNEL_TYPE_TEREDO, 14);
    CHECK_EQ(NdisMedium802_3, 0);
    CHECK_EQ(NdisMediumLoopback, 17);
    CHECK_EQ(NdisMediumIP, 19);
    CHECK_EQ(NdisPhysicalMedium802_3, 14);
    CHECK_EQ(IpPrefixOriginManual, 1);
    CHECK_EQ(IpPrefixOriginRouterAdvertisement, 4);
    CHECK_EQ(IpPrefixOriginUnchanged, 16);
    CHECK_EQ(IpSuffixOriginRandom, 5);
    CHECK_EQ(IpDadStatePreferred, 4);
    CHECK_EQ(MIB_IPPROTO_LOCAL, 2);
    CHECK_EQ(MIB_IPPROTO_NETMGMT, 3);
    CHECK_EQ(MIB_IPPROTO_NT_STATIC, 10006);
    CHECK_EQ(NlroRouterAdvertisement, 3);
    CHECK_EQ(RouterDiscoveryUnchanged, -1);
    CHECK_EQ(LinkLocalAlwaysOn, 2);
    CHECK_EQ(ScopeLevelCount, 16);
}

static void test_prototypes(void)
{
    NTSTATUS (*if_entry)(PMIB_IF_ROW2) = GetIfEntry2;
    NTSTATUS (*if_table)(PMIB_IF_TABLE2 *) = GetIfTable2;
    NTSTATUS (*if_table_ex)(MIB_IF_TABLE_LEVEL, PMIB_IF_TABLE2 *) = GetIfTable2Ex;
    NTSTATUS (*ipif_entry)(PMIB_IPINTERFACE_ROW) = GetIpInterfaceEntry;
    NTSTATUS (*ipif_table)(ADDRESS_FAMILY, PMIB_IPINTERFACE_TABLE *) = GetIpInterfaceTable;
    NTSTATUS (*uc_table)(ADDRESS_FAMILY, PMIB_UNICASTIPADDRESS_TABLE *) = GetUnicastIpAddressTable;
    NTSTATUS (*uc_entry)(PMIB_UNICASTIPADDRESS_ROW) = GetUnicastIpAddressEntry;
    NTSTATUS (*fwd_table)(ADDRESS_FAMILY, PMIB_IPFORWARD_TABLE2 *) = GetIpForwardTable2;
    NTSTATUS (*best)(NET_LUID *, NET_IFINDEX, CONST SOCKADDR_INET *, CONST SOCKADDR_INET *, ULONG,
                     PMIB_IPFORWARD_ROW2, SOCKADDR_INET *) = GetBestRoute2;
    NTSTATUS (*route_notify)(ADDRESS_FAMILY, PIPFORWARD_CHANGE_CALLBACK, PVOID, BOOLEAN, HANDLE *) =
        NotifyRouteChange2;
    NTSTATUS (*ipif_notify)(ADDRESS_FAMILY, PIPINTERFACE_CHANGE_CALLBACK, PVOID, BOOLEAN, HANDLE *) =
        NotifyIpInterfaceChange;
    NTSTATUS (*uc_notify)(ADDRESS_FAMILY, PUNICAST_IPADDRESS_CHANGE_CALLBACK, PVOID, BOOLEAN,
                          HANDLE *) = NotifyUnicastIpAddressChange;
    NTSTATUS (*cancel)(HANDLE) = CancelMibChangeNotify2;
    VOID (*free_table)(PVOID) = FreeMibTable;
    NTSTATUS (*to_index)(CONST NET_LUID *, PNET_IFINDEX) = ConvertInterfaceLuidToIndex;
    NTSTATUS (*to_luid)(NET_IFINDEX, PNET_LUID) = ConvertInterfaceIndexToLuid;
    VOID (*init_ipif)(PMIB_IPINTERFACE_ROW) = InitializeIpInterfaceEntry;
    VOID (*init_uc)(PMIB_UNICASTIPADDRESS_ROW) = InitializeUnicastIpAddressEntry;
    VOID (*init_fwd)(PMIB_IPFORWARD_ROW2) = InitializeIpForwardEntry;
    CHECK(if_entry && if_table && if_table_ex && ipif_entry && ipif_table && uc_table && uc_entry);
    CHECK(fwd_table && best && route_notify && ipif_notify && uc_notify && cancel && free_table);
    CHECK(to_index && to_luid && init_ipif && init_uc && init_fwd);
}

int main(void)
{
    WT_RUN(test_luid);
    WT_RUN(test_if_row2);
    WT_RUN(test_ipinterface_row);
    WT_RUN(test_unicast_row);
    WT_RUN(test_forward_row);
    WT_RUN(test_enum_values);
    WT_RUN(test_prototypes);
    return wt_finish();
}
