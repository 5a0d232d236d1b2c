/*
 * test_wsk_client_control.c - WskControlClient requests beyond the
 * transport list (wsk-part-a.md §1.5): WSK_TRANSPORT_LIST_CHANGE waiting
 * until cancelled by IoCancelIrp or WskDeregister, WSK_CACHE_SD /
 * WSK_RELEASE_SD and the cached copy SO_WSK_SECURITY returns, and
 * WSK_TDI_DEVICENAME_MAPPING.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <string.h>
#include <unistd.h>

#include "wt_wsk.h"

static NTSTATUS client_control(wt_wsk *t, ULONG code, SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out,
                               SIZE_T *returned, PIRP irp)
{
    return t->provider.Dispatch->WskControlClient(t->provider.Client, code, in_size, in, out_size, out, returned, irp);
}

static void transport_list_change_waits_until_cancelled(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    CHECK_EQ(client_control(&t, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    wt_irp w = {0};
    NTSTATUS r = client_control(&t, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, wt_irp_arm(&w));
    CHECK_EQ(r, STATUS_PENDING);
    usleep(30 * 1000);
    CHECK_EQ(InterlockedCompareExchange(&w.completions, 0, 0), 0); /* the transports did not change */
    IoCancelIrp(w.irp);
    CHECK_EQ(wt_irp_result(&w, r), STATUS_CANCELLED);
    CHECK_EQ(w.irp->IoStatus.Information, 0);
    /* Still queued at WskDeregister: cancelled before it returns. */
    r = client_control(&t, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, wt_irp_arm(&w));
    CHECK_EQ(r, STATUS_PENDING);
    wt_irp_free(&t.irp);
    WskReleaseProviderNPI(&t.registration);
    WskDeregister(&t.registration);
    CHECK_EQ(InterlockedCompareExchange(&w.completions, 0, 0), 1);
    CHECK_EQ(w.irp->IoStatus.Status, STATUS_CANCELLED);
    wt_irp_free(&w);
}

static void cached_security_descriptors(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    UCHAR descriptor[64] = {1}; /* never evaluated: its address is what gets cached */
    PSECURITY_DESCRIPTOR sd = descriptor, cached = NULL, none = NULL;
    SIZE_T got = 0;
    wt_irp w = {0};
    /* The IRP must be NULL: one given anyway fails the request, through the IRP. */
    NTSTATUS r = client_control(&t, WSK_CACHE_SD, sizeof(sd), &sd, sizeof(cached), &cached, &got, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(w.irp->IoStatus.Information, 0);
    CHECK(cached == NULL && got == 0); /* nothing was cached */
    CHECK_EQ(client_control(&t, WSK_CACHE_SD, sizeof(none), &none, sizeof(cached), &cached, &got, NULL),
             STATUS_INVALID_PARAMETER);
    CHECK_EQ(client_control(&t, WSK_CACHE_SD, sizeof(sd), &sd, 2, &cached, &got, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(client_control(&t, WSK_CACHE_SD, sizeof(sd), &sd, sizeof(cached), &cached, &got, NULL), STATUS_SUCCESS);
    CHECK(cached != NULL && cached != sd);
    CHECK_EQ(got, sizeof(cached));

    /* A socket created with it; SO_WSK_SECURITY hands back another cached copy. */
    r = t.provider.Dispatch->WskSocket(t.provider.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP,
                                                WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, cached,
                                                wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    PWSK_SOCKET s = (PWSK_SOCKET)t.irp.irp->IoStatus.Information;
    PSECURITY_DESCRIPTOR copy = NULL;
    SIZE_T n = 0;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    r = d->WskControlSocket(s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, NULL, sizeof(copy), &copy, &n,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK(copy != NULL && copy != cached);
    /* Closing the socket does not release anything the client holds. */
    r = d->WskCloseSocket(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(client_control(&t, WSK_RELEASE_SD, sizeof(copy), &copy, 0, NULL, NULL, NULL), STATUS_SUCCESS);
    r = client_control(&t, WSK_RELEASE_SD, sizeof(cached), &cached, 0, NULL, NULL, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_INVALID_PARAMETER); /* the IRP must be NULL */
    CHECK_EQ(client_control(&t, WSK_RELEASE_SD, sizeof(cached), &cached, 0, NULL, NULL, NULL),
             STATUS_SUCCESS); /* still cached: the refused release released nothing */
    /* Something WSK_CACHE_SD did not return. */
    ULONG not_cached[4] = {0};
    PSECURITY_DESCRIPTOR bogus = not_cached;
    CHECK_EQ(client_control(&t, WSK_RELEASE_SD, sizeof(bogus), &bogus, 0, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(client_control(&t, WSK_TDI_DEVICENAME_MAPPING, 0, NULL, 0, NULL, NULL, NULL), STATUS_NOT_SUPPORTED);
    wt_irp_free(&w);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(transport_list_change_waits_until_cancelled);
    WT_RUN(cached_security_descriptors);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0); /* every cached descriptor was released */
    return wt_finish();
}
