/*
 * test_wsk_resolve.c - WskGetAddressInfo, WskFreeAddressInfo and
 * WskGetNameInfo (wsk-part-b.md §9): localhost and numeric IPv4/IPv6 with
 * numeric services, names that cannot resolve, the statuses of bad input,
 * UTF-16 results in caller-provided strings, and WskDeregister waiting for
 * a resolution in progress.  Nothing here needs a network: localhost comes
 * from /etc/hosts and the "unknown name" case forbids lookups.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <string.h>

#include "wt_wsk.h"

static NTSTATUS resolve(wt_wsk *t, PCWSTR node, PCWSTR service, int flags, int family, int socktype,
                        PADDRINFOEXW *result)
{
    UNICODE_STRING n, s;
    RtlInitUnicodeString(&n, node);
    RtlInitUnicodeString(&s, service);
    ADDRINFOEXW hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = flags;
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    NTSTATUS r = t->provider.Dispatch->WskGetAddressInfo(t->provider.Client, node ? &n : NULL, service ? &s : NULL,
                                                         NS_ALL, NULL, &hints, result, NULL, NULL,
                                                         wt_irp_arm(&t->irp));
    CHECK_EQ(r, STATUS_PENDING); /* Windows always pends a resolution */
    NTSTATUS st = wt_irp_result(&t->irp, r);
    CHECK_EQ(t->irp.irp->IoStatus.Information, 0);
    return st;
}

static void localhost_and_numeric_addresses(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    PADDRINFOEXW list = NULL;
    CHECK_EQ(resolve(&t, L"localhost", L"12345", 0, AF_INET, SOCK_STREAM, &list), STATUS_SUCCESS);
    CHECK(list != NULL);
    int found = 0;
    for (PADDRINFOEXW a = list; a != NULL; a = a->ai_next) {
        CHECK_EQ(a->ai_family, AF_INET);
        CHECK_EQ(a->ai_addrlen, sizeof(SOCKADDR_IN));
        CHECK_EQ(a->ai_socktype, SOCK_STREAM);
        SOCKADDR_IN *in = (SOCKADDR_IN *)a->ai_addr;
        CHECK_EQ(in->sin_family, AF_INET);
        CHECK_EQ(RtlUshortByteSwap(in->sin_port), 12345);
        if (in->sin_addr.s_addr == RtlUlongByteSwap(0x7F000001))
            found++;
    }
    CHECK(found >= 1);
    t.provider.Dispatch->WskFreeAddressInfo(t.provider.Client, list);

    CHECK_EQ(resolve(&t, L"127.0.0.1", L"80", AI_NUMERICHOST, AF_UNSPEC, SOCK_DGRAM, &list), STATUS_SUCCESS);
    CHECK(list != NULL && list->ai_next == NULL);
    CHECK_EQ(list->ai_family, AF_INET);
    CHECK_EQ(list->ai_protocol, IPPROTO_UDP);
    CHECK_EQ(RtlUshortByteSwap(((SOCKADDR_IN *)list->ai_addr)->sin_port), 80);
    t.provider.Dispatch->WskFreeAddressInfo(t.provider.Client, list);

    CHECK_EQ(resolve(&t, L"::1", L"443", AI_NUMERICHOST, AF_INET6, SOCK_STREAM, &list), STATUS_SUCCESS);
    CHECK(list != NULL);
    CHECK_EQ(list->ai_family, AF_INET6); /* Windows' 23 */
    CHECK_EQ(list->ai_addrlen, sizeof(SOCKADDR_IN6));
    SOCKADDR_IN6 *in6 = (SOCKADDR_IN6 *)list->ai_addr;
    CHECK_EQ(in6->sin6_family, AF_INET6);
    CHECK_EQ(RtlUshortByteSwap(in6->sin6_port), 443);
    CHECK_EQ(in6->sin6_addr.u.Byte[15], 1);
    CHECK_EQ(in6->sin6_addr.u.Byte[0], 0);
    t.provider.Dispatch->WskFreeAddressInfo(t.provider.Client, list);

    /* A service alone resolves with a passive wildcard. */
    CHECK_EQ(resolve(&t, NULL, L"8080", AI_PASSIVE, AF_INET, SOCK_STREAM, &list), STATUS_SUCCESS);
    CHECK(list != NULL);
    CHECK_EQ(((SOCKADDR_IN *)list->ai_addr)->sin_addr.s_addr, 0);
    CHECK_EQ(RtlUshortByteSwap(((SOCKADDR_IN *)list->ai_addr)->sin_port), 8080);
    t.provider.Dispatch->WskFreeAddressInfo(t.provider.Client, list);
    wt_wsk_close(&t);
}

static void names_that_do_not_resolve(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    PADDRINFOEXW list = (PADDRINFOEXW)0x1;
    /* AI_NUMERICHOST: a name is not an address, and no lookup is made. */
    CHECK_EQ(resolve(&t, L"dead.beef", L"80", AI_NUMERICHOST, AF_UNSPEC, SOCK_STREAM, &list), STATUS_NOT_FOUND);
    CHECK(list == NULL);
    /* A service that is not a number, where numbers are required: no such service. */
    CHECK_EQ(resolve(&t, L"127.0.0.1", L"no-such-service", AI_NUMERICHOST | AI_NUMERICSERV, AF_INET, SOCK_STREAM,
                     &list),
             STATUS_NOT_FOUND);
    CHECK(list == NULL);
    wt_wsk_close(&t);
}

static void address_info_bad_input(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    const WSK_PROVIDER_DISPATCH *d = t.provider.Dispatch;
    UNICODE_STRING n;
    RtlInitUnicodeString(&n, L"localhost");
    PADDRINFOEXW list = NULL;
    CHECK_EQ(d->WskGetAddressInfo(t.provider.Client, &n, NULL, NS_ALL, NULL, NULL, &list, NULL, NULL, NULL),
             STATUS_INVALID_PARAMETER); /* no IRP */
    NTSTATUS r = d->WskGetAddressInfo(t.provider.Client, NULL, NULL, NS_ALL, NULL, NULL, &list, NULL, NULL,
                                      wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER); /* neither a name nor a service */
    r = d->WskGetAddressInfo(t.provider.Client, &n, NULL, NS_ALL, NULL, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER); /* nowhere to put the result */
    r = d->WskGetAddressInfo(t.provider.Client, &n, NULL, NS_ALL, NULL, NULL, &list, NULL, (PETHREAD)&n,
                             wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER); /* a thread without its process */
    ADDRINFOEXW hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_addrlen = 16;
    r = d->WskGetAddressInfo(t.provider.Client, &n, NULL, NS_ALL, NULL, &hints, &list, NULL, NULL,
                             wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = d->WskGetAddressInfo(t.provider.Client, &n, NULL, 99, NULL, NULL, &list, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_NOT_SUPPORTED);
    d->WskFreeAddressInfo(t.provider.Client, NULL); /* nothing to free: no effect */
    wt_wsk_close(&t);
}

static void name_info_numeric(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    const WSK_PROVIDER_DISPATCH *d = t.provider.Dispatch;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 8080);
    WCHAR host[64], serv[16];
    UNICODE_STRING node = {0, sizeof(host), host}, service = {0, sizeof(serv), serv};
    NTSTATUS r = d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&a, sizeof(a), &node, &service,
                                   NI_NUMERICHOST | NI_NUMERICSERV, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(node.Length, 9 * sizeof(WCHAR));
    CHECK_MEM(host, L"127.0.0.1", 10 * sizeof(WCHAR)); /* NUL-terminated too */
    CHECK_EQ(service.Length, 4 * sizeof(WCHAR));
    CHECK_MEM(serv, L"8080", 5 * sizeof(WCHAR));
    SOCKADDR_IN6 a6 = wt_in6("::1", 53);
    r = d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&a6, sizeof(a6), &node, NULL, NI_NUMERICHOST, NULL, NULL,
                          wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(node.Length, 3 * sizeof(WCHAR));
    CHECK_MEM(host, L"::1", 4 * sizeof(WCHAR));
    /* Too small for the answer and its NUL. */
    WCHAR tiny[4];
    UNICODE_STRING small = {0, sizeof(tiny), tiny};
    r = d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&a, sizeof(a), &small, NULL, NI_NUMERICHOST, NULL, NULL,
                          wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_BUFFER_TOO_SMALL);
    /* Bad input. */
    CHECK_EQ(d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&a, sizeof(a), &node, NULL, 0, NULL, NULL, NULL),
             STATUS_INVALID_PARAMETER);
    r = d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&a, sizeof(a), NULL, NULL, 0, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = d->WskGetNameInfo(t.provider.Client, NULL, sizeof(a), &node, NULL, 0, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&a, sizeof(SOCKADDR_STORAGE) + 1, &node, NULL, 0, NULL, NULL,
                          wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    /* An address no name is registered for, with a name required. */
    SOCKADDR_IN odd = wt_in4("192.0.2.1", 1);
    r = d->WskGetNameInfo(t.provider.Client, (PSOCKADDR)&odd, sizeof(odd), &node, NULL, NI_NAMEREQD | NI_NUMERICSERV,
                          NULL, NULL, wt_irp_arm(&t.irp));
    NTSTATUS st = wt_irp_result(&t.irp, r);
    CHECK(st == STATUS_NO_MATCH || st == STATUS_RETRY); /* RETRY: a DNS server that cannot be reached */
    wt_wsk_close(&t);
}

static wt_irp late;

/* WskDeregister returns only after a resolution in flight completed. */
static void deregister_waits_for_resolution(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    UNICODE_STRING n;
    RtlInitUnicodeString(&n, L"localhost");
    PADDRINFOEXW list = NULL;
    NTSTATUS r = t.provider.Dispatch->WskGetAddressInfo(t.provider.Client, &n, NULL, NS_ALL, NULL, NULL, &list, NULL,
                                                        NULL, wt_irp_arm(&late));
    CHECK_EQ(r, STATUS_PENDING);
    WskReleaseProviderNPI(&t.registration);
    WskDeregister(&t.registration);
    CHECK_EQ(InterlockedCompareExchange(&late.completions, 0, 0), 1);
    CHECK_EQ(late.irp->IoStatus.Status, STATUS_SUCCESS);
    /* The list outlives the registration's use; its memory is the caller's to free. */
    if (list != NULL) {
        WSK_REGISTRATION reg;
        WSK_PROVIDER_NPI p;
        WSK_CLIENT_NPI npi = {NULL, &wt_client_dispatch};
        CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
        CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &p), STATUS_SUCCESS);
        p.Dispatch->WskFreeAddressInfo(p.Client, list);
        WskReleaseProviderNPI(&reg);
        WskDeregister(&reg);
    }
    wt_irp_free(&late);
    wt_irp_free(&t.irp);
}

int main(void)
{
    WT_RUN(localhost_and_numeric_addresses);
    WT_RUN(names_that_do_not_resolve);
    WT_RUN(address_info_bad_input);
    WT_RUN(name_info_numeric);
    WT_RUN(deregister_waits_for_resolution);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
