/*
 * test_wsk_registration.c - WskRegister, WskCaptureProviderNPI (no wait,
 * timeout, infinite), WskReleaseProviderNPI, WskQueryProviderCharacteristics
 * and WskDeregister's waits (wsk-part-a.md §1.4).
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <unistd.h>

#include "wt_wsk.h"

static const WSK_CLIENT_DISPATCH dispatch_v1 = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static const WSK_CLIENT_DISPATCH dispatch_v2 = {MAKE_WSK_VERSION(2, 0), 0, NULL};

static void register_capture_release_deregister(void)
{
    WSK_CLIENT_NPI npi = {NULL, &dispatch_v1};
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI provider = {0};
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider), STATUS_SUCCESS);
    CHECK(provider.Client != NULL);
    CHECK(provider.Dispatch != NULL);
    CHECK(provider.Dispatch->Version >= MAKE_WSK_VERSION(1, 0));
    CHECK_EQ(WSK_MAJOR_VERSION(provider.Dispatch->Version), 1);
    CHECK(provider.Dispatch->WskSocket != NULL && provider.Dispatch->WskSocketConnect != NULL &&
          provider.Dispatch->WskControlClient != NULL && provider.Dispatch->WskGetAddressInfo != NULL &&
          provider.Dispatch->WskFreeAddressInfo != NULL && provider.Dispatch->WskGetNameInfo != NULL);
    WSK_PROVIDER_CHARACTERISTICS chars;
    CHECK_EQ(WskQueryProviderCharacteristics(&reg, &chars), STATUS_SUCCESS);
    CHECK(chars.LowestVersion <= chars.HighestVersion);
    CHECK_EQ(WSK_MAJOR_VERSION(chars.HighestVersion), 1);
    /* Captures nest: each needs one release. */
    WSK_PROVIDER_NPI second;
    CHECK_EQ(WskCaptureProviderNPI(&reg, 100, &second), STATUS_SUCCESS);
    WskReleaseProviderNPI(&reg);
    WskReleaseProviderNPI(&reg);
    WskDeregister(&reg);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider), STATUS_DEVICE_NOT_READY);
    CHECK_EQ(WskQueryProviderCharacteristics(&reg, &chars), STATUS_DEVICE_NOT_READY);
}

static void bad_arguments(void)
{
    WSK_CLIENT_NPI npi = {NULL, &dispatch_v1};
    WSK_CLIENT_NPI no_dispatch = {NULL, NULL};
    WSK_REGISTRATION reg;
    CHECK_EQ(WskRegister(NULL, &reg), STATUS_INVALID_PARAMETER);
    CHECK_EQ(WskRegister(&npi, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(WskRegister(&no_dispatch, &reg), STATUS_INVALID_PARAMETER);
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(WskQueryProviderCharacteristics(&reg, NULL), STATUS_INVALID_PARAMETER);
    WskDeregister(&reg);
}

static void unsupported_major_version_is_nointerface(void)
{
    WSK_CLIENT_NPI npi = {NULL, &dispatch_v2};
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI provider;
    WSK_PROVIDER_CHARACTERISTICS chars;
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider), STATUS_NOINTERFACE);
    /* The documented recovery: query what the provider supports. */
    CHECK_EQ(WskQueryProviderCharacteristics(&reg, &chars), STATUS_SUCCESS);
    CHECK_EQ(chars.HighestVersion, MAKE_WSK_VERSION(1, 0));
    WskDeregister(&reg); /* no capture to release */
}

static LONGLONG now_ms(void)
{
    LARGE_INTEGER t;
    KeQuerySystemTimePrecise(&t);
    return t.QuadPart / 10000;
}

typedef struct capture_arg {
    WSK_REGISTRATION *reg;
    ULONG timeout;
    NTSTATUS status;
} capture_arg;

static void *capture_thread(void *p)
{
    capture_arg *a = p;
    WSK_PROVIDER_NPI provider;
    a->status = WskCaptureProviderNPI(a->reg, a->timeout, &provider);
    return NULL;
}

static void capture_waits_for_the_subsystem(void)
{
    WSK_CLIENT_NPI npi = {NULL, &dispatch_v1};
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI provider;
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
    openwsk_wsk_set_provider_ready(FALSE);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider), STATUS_DEVICE_NOT_READY);
    LONGLONG start = now_ms();
    CHECK_EQ(WskCaptureProviderNPI(&reg, 80, &provider), STATUS_DEVICE_NOT_READY);
    LONGLONG took = now_ms() - start;
    CHECK(took >= 75 && took < 2000);

    /* An infinite wait succeeds when the subsystem arrives. */
    capture_arg a = {&reg, WSK_INFINITE_WAIT, STATUS_PENDING};
    pthread_t t;
    pthread_create(&t, NULL, capture_thread, &a);
    usleep(50 * 1000);
    CHECK_EQ(a.status, STATUS_PENDING);
    openwsk_wsk_set_provider_ready(TRUE);
    pthread_join(t, NULL);
    CHECK_EQ(a.status, STATUS_SUCCESS);
    WskReleaseProviderNPI(&reg);

    /* A blocked capture is woken by WskDeregister and fails. */
    openwsk_wsk_set_provider_ready(FALSE);
    a.status = STATUS_PENDING;
    pthread_create(&t, NULL, capture_thread, &a);
    usleep(50 * 1000);
    WskDeregister(&reg);
    pthread_join(t, NULL);
    CHECK_EQ(a.status, STATUS_DEVICE_NOT_READY);
    openwsk_wsk_set_provider_ready(TRUE);
}

typedef struct deregister_arg {
    WSK_REGISTRATION *reg;
    volatile LONG returned;
} deregister_arg;

static void *deregister_thread(void *p)
{
    deregister_arg *a = p;
    WskDeregister(a->reg);
    InterlockedExchange(&a->returned, 1);
    return NULL;
}

static void deregister_waits_for_captures_and_sockets(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    deregister_arg a = {&t.registration, 0};
    pthread_t th;
    pthread_create(&th, NULL, deregister_thread, &a);
    usleep(60 * 1000);
    CHECK_EQ(a.returned, 0); /* a capture and a socket are outstanding */
    WSK_PROVIDER_NPI again;
    CHECK_EQ(WskCaptureProviderNPI(&t.registration, WSK_NO_WAIT, &again), STATUS_DEVICE_NOT_READY);
    WskReleaseProviderNPI(&t.registration);
    usleep(60 * 1000);
    CHECK_EQ(a.returned, 0); /* the socket is still open */
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    pthread_join(th, NULL);
    CHECK_EQ(a.returned, 1);
    wt_irp_free(&t.irp);
}

static void two_registrations_are_independent(void)
{
    WSK_CLIENT_NPI npi = {NULL, &dispatch_v1};
    WSK_REGISTRATION r1, r2;
    WSK_PROVIDER_NPI p1, p2;
    CHECK_EQ(WskRegister(&npi, &r1), STATUS_SUCCESS);
    CHECK_EQ(WskRegister(&npi, &r2), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&r1, WSK_NO_WAIT, &p1), STATUS_SUCCESS);
    CHECK_EQ(WskCaptureProviderNPI(&r2, WSK_NO_WAIT, &p2), STATUS_SUCCESS);
    CHECK(p1.Client != p2.Client);
    WskReleaseProviderNPI(&r1);
    WskDeregister(&r1);
    CHECK_EQ(WskCaptureProviderNPI(&r2, WSK_NO_WAIT, &p2), STATUS_SUCCESS);
    WskReleaseProviderNPI(&r2);
    WskReleaseProviderNPI(&r2);
    WskDeregister(&r2);
}

typedef struct racer_arg {
    WSK_REGISTRATION *reg;
    LONG volatile *stop;
    LONG captured, refused;
} racer_arg;

static void *capture_racer(void *p)
{
    racer_arg *a = p;
    while (!ReadAcquire(a->stop)) {
        WSK_PROVIDER_NPI provider;
        NTSTATUS st = WskCaptureProviderNPI(a->reg, WSK_NO_WAIT, &provider);
        if (st == STATUS_SUCCESS) {
            a->captured++;
            WskReleaseProviderNPI(a->reg);
        } else if (st == STATUS_DEVICE_NOT_READY) {
            a->refused++;
            break;
        } else {
            WT_FAIL("capture during deregistration: 0x%x", (unsigned)st);
            break;
        }
    }
    return NULL;
}

static void captures_racing_deregistration(void)
{
    /* Windows lets concurrent captures fail with STATUS_DEVICE_NOT_READY
     * once WskDeregister was called; none may touch freed state. */
    for (int round = 0; round < 50; round++) {
        WSK_CLIENT_NPI npi = {NULL, &dispatch_v1};
        WSK_REGISTRATION reg;
        volatile LONG stop = 0;
        CHECK_EQ(WskRegister(&npi, &reg), STATUS_SUCCESS);
        racer_arg a[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            a[i] = (racer_arg){&reg, &stop, 0, 0};
            pthread_create(&th[i], NULL, capture_racer, &a[i]);
        }
        usleep(200);
        WskDeregister(&reg);
        InterlockedExchange((LONG volatile *)&stop, 1);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        WSK_PROVIDER_NPI provider;
        CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider), STATUS_DEVICE_NOT_READY);
    }
}

static void allocation_failure(void)
{
    WSK_CLIENT_NPI npi = {NULL, &dispatch_v1};
    WSK_REGISTRATION reg;
    openwsk_fault_fail_allocation(1);
    CHECK_EQ(WskRegister(&npi, &reg), STATUS_INSUFFICIENT_RESOURCES);
}

int main(void)
{
    WT_RUN(register_capture_release_deregister);
    WT_RUN(bad_arguments);
    WT_RUN(unsupported_major_version_is_nointerface);
    WT_RUN(capture_waits_for_the_subsystem);
    WT_RUN(deregister_waits_for_captures_and_sockets);
    WT_RUN(two_registrations_are_independent);
    WT_RUN(captures_racing_deregistration);
    WT_RUN(allocation_failure);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
