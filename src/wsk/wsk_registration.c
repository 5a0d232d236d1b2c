/*
 * wsk_registration.c - WskRegister, WskCaptureProviderNPI,
 * WskReleaseProviderNPI, WskQueryProviderCharacteristics, WskDeregister
 * (wsk-part-a.md §1.4).
 *
 * The WSK_REGISTRATION block is the client's; we keep a pointer to our
 * client object in ReservedRegistrationContext and a state word in
 * ReservedRegistrationState.  WskDeregister waits until every capture is
 * released, every socket closed and every provider call returned.
 */
#include "wsk_internal.h"
#include "wsk_trace.h"

#include <openwsk_runtime.h>

#define REG_STATE_REGISTERED 0x5245474953ULL   /* "REGIS" */
#define REG_STATE_DEREGISTERED 0x4445524547ULL /* "DEREG" */
#define WSK_SUPPORTED_VERSION MAKE_WSK_VERSION(1, 0)

/* The WSK subsystem is present from the start; tests (and hosts that want
 * to model a late-loading subsystem) can take it away. */
static KEVENT provider_ready;
static pthread_once_t provider_once = PTHREAD_ONCE_INIT;

static void provider_init(void)
{
    KeInitializeEvent(&provider_ready, NotificationEvent, TRUE);
}

void openwsk_wsk_set_provider_ready(BOOLEAN ready)
{
    pthread_once(&provider_once, provider_init);
    if (ready)
        KeSetEvent(&provider_ready, IO_NO_INCREMENT, FALSE);
    else
        KeClearEvent(&provider_ready);
}

static wsk_client *client_of(PWSK_REGISTRATION reg)
{
    if (reg == NULL || reg->ReservedRegistrationState != REG_STATE_REGISTERED)
        return NULL;
    wsk_client *c = reg->ReservedRegistrationContext;
    return (c != NULL && c->magic == WSK_CLIENT_MAGIC) ? c : NULL;
}

wsk_client *wsk_client_from(PWSK_CLIENT client)
{
    wsk_client *c = client;
    return (c != NULL && c->magic == WSK_CLIENT_MAGIC) ? c : NULL;
}

/* Called with c->lock held. */
static void client_check_idle_locked(wsk_client *c)
{
    if (c->deregistering && c->captures == 0 && c->sockets == 0 && c->calls == 0)
        KeSetEvent(&c->idle, IO_NO_INCREMENT, FALSE);
}

static void client_adjust(wsk_client *c, LONG *counter, LONG delta)
{
    pthread_mutex_lock(&c->lock);
    *counter += delta;
    client_check_idle_locked(c);
    pthread_mutex_unlock(&c->lock);
}

/* Process-wide counts for hosts' leak reports (openwsk_runtime.h). */
static volatile LONG live_registrations, live_sockets;

LONG openwsk_wsk_registration_count(void)
{
    return __atomic_load_n(&live_registrations, __ATOMIC_ACQUIRE);
}

LONG openwsk_wsk_socket_count(void)
{
    return __atomic_load_n(&live_sockets, __ATOMIC_ACQUIRE);
}

void wsk_client_count_socket_locked(wsk_client *c)
{
    __atomic_add_fetch(&live_sockets, 1, __ATOMIC_ACQ_REL);
    c->sockets++; /* a count going up never makes the client idle */
}

void wsk_client_socket_closed(wsk_client *c)
{
    __atomic_sub_fetch(&live_sockets, 1, __ATOMIC_ACQ_REL);
    client_adjust(c, &c->sockets, -1);
}
void wsk_client_call_begin(wsk_client *c) { client_adjust(c, &c->calls, 1); }
void wsk_client_call_end(wsk_client *c) { client_adjust(c, &c->calls, -1); }

NTSTATUS WskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration)
{
    if (WskClientNpi == NULL || WskClientNpi->Dispatch == NULL || WskRegistration == NULL)
        return STATUS_INVALID_PARAMETER;
    pthread_once(&provider_once, provider_init);
    wsk_client *c = openwsk_pool_alloc(sizeof(*c), WSK_TAG_CLIENT, TRUE);
    if (c == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* Every registration holds the I/O engine, whose threads complete its IRPs. */
    if (wsk_io_engine_start() != 0) {
        openwsk_pool_free(c);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    c->magic = WSK_CLIENT_MAGIC;
    c->registration = WskRegistration;
    c->npi = *WskClientNpi;
    pthread_mutex_init(&c->lock, NULL);
    KeInitializeEvent(&c->idle, NotificationEvent, FALSE);
    KeInitializeEvent(&c->leaving, NotificationEvent, FALSE);
    InitializeListHead(&c->change_irps);
    WskRegistration->ReservedRegistrationContext = c;
    WskRegistration->ReservedRegistrationLock = 0;
    WskRegistration->ReservedRegistrationState = REG_STATE_REGISTERED;
    __atomic_add_fetch(&live_registrations, 1, __ATOMIC_ACQ_REL);
    return STATUS_SUCCESS;
}

/* Waits for the subsystem per WaitTimeout; gives up once deregistration starts. */
static NTSTATUS capture_wait_ready(wsk_client *c, ULONG WaitTimeout)
{
    LARGE_INTEGER poll = {.QuadPart = 0}, timeout;
    PLARGE_INTEGER wait = &poll;
    if (WaitTimeout == WSK_INFINITE_WAIT) {
        wait = NULL;
    } else if (WaitTimeout != WSK_NO_WAIT) {
        timeout.QuadPart = -(LONGLONG)WaitTimeout * 10000;
        wait = &timeout;
    }
    for (;;) {
        if (KeReadStateEvent(&c->leaving))
            return STATUS_DEVICE_NOT_READY;
        if (KeReadStateEvent(&provider_ready))
            return STATUS_SUCCESS;
        PVOID objects[2] = {&provider_ready, &c->leaving};
        NTSTATUS w = KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, wait, NULL);
        if (w == STATUS_TIMEOUT || w == STATUS_WAIT_1)
            return STATUS_DEVICE_NOT_READY;
    }
}

/* Enters a provider call through the registration block, which the client
 * keeps valid: under the block's own lock, so that WskDeregister cannot
 * free the client between the lookup and the count. */
static wsk_client *registration_enter(PWSK_REGISTRATION reg, NTSTATUS *refusal)
{
    KIRQL irql;
    wsk_client *entered = NULL;
    KeAcquireSpinLock(&reg->ReservedRegistrationLock, &irql);
    wsk_client *c = client_of(reg);
    if (c == NULL) {
        *refusal = reg->ReservedRegistrationState == REG_STATE_DEREGISTERED ? STATUS_DEVICE_NOT_READY
                                                                            : STATUS_INVALID_PARAMETER;
    } else {
        pthread_mutex_lock(&c->lock);
        *refusal = c->deregistering ? STATUS_DEVICE_NOT_READY : STATUS_SUCCESS;
        if (!c->deregistering) {
            c->calls++;
            entered = c;
        }
        pthread_mutex_unlock(&c->lock);
    }
    KeReleaseSpinLock(&reg->ReservedRegistrationLock, irql);
    return entered;
}

NTSTATUS WskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG WaitTimeout, PWSK_PROVIDER_NPI WskProviderNpi)
{
    if (WskRegistration == NULL || WskProviderNpi == NULL)
        return STATUS_INVALID_PARAMETER;
    if (WaitTimeout != WSK_NO_WAIT && KeGetCurrentIrql() > PASSIVE_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, KeGetCurrentIrql(), 0, 0);
    NTSTATUS status;
    wsk_client *c = registration_enter(WskRegistration, &status);
    if (c == NULL)
        return status;
    /* A capture in progress (counted in calls) keeps WskDeregister waiting. */
    status = capture_wait_ready(c, WaitTimeout);
    if (NT_SUCCESS(status) && WSK_MAJOR_VERSION(c->npi.Dispatch->Version) != WSK_MAJOR_VERSION(WSK_SUPPORTED_VERSION))
        status = STATUS_NOINTERFACE;
    if (NT_SUCCESS(status)) {
        pthread_mutex_lock(&c->lock);
        if (c->deregistering)
            status = STATUS_DEVICE_NOT_READY;
        else
            c->captures++;
        pthread_mutex_unlock(&c->lock);
    }
    if (NT_SUCCESS(status) && openwsk_verifying(OPENWSK_VERIFY_WSK))
        wsk_verify_npi_captured(WskRegistration);
    if (NT_SUCCESS(status)) {
        WskProviderNpi->Client = c;
        WskProviderNpi->Dispatch = wsk_provider_dispatch_for_capture(); /* traced or not */
    }
    wsk_client_call_end(c);
    return status;
}

VOID WskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration)
{
    wsk_client *c = client_of(WskRegistration);
    if (c == NULL)
        return;
    if (openwsk_verifying(OPENWSK_VERIFY_WSK))
        wsk_verify_npi_released(WskRegistration);
    pthread_mutex_lock(&c->lock);
    if (c->captures > 0)
        c->captures--;
    else
        openwsk_log("WskReleaseProviderNPI: no capture to release");
    client_check_idle_locked(c);
    pthread_mutex_unlock(&c->lock);
}

NTSTATUS WskQueryProviderCharacteristics(PWSK_REGISTRATION WskRegistration,
                                         PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics)
{
    wsk_client *c = client_of(WskRegistration);
    if (c == NULL)
        return STATUS_DEVICE_NOT_READY;
    if (WskProviderCharacteristics == NULL)
        return STATUS_INVALID_PARAMETER;
    if (!KeReadStateEvent(&provider_ready))
        return STATUS_DEVICE_NOT_READY;
    WskProviderCharacteristics->HighestVersion = WSK_SUPPORTED_VERSION;
    WskProviderCharacteristics->LowestVersion = WSK_SUPPORTED_VERSION;
    return STATUS_SUCCESS;
}

VOID WskDeregister(PWSK_REGISTRATION WskRegistration)
{
    wsk_client *c = client_of(WskRegistration);
    if (c == NULL)
        return;
    BOOLEAN verify = openwsk_verifying(OPENWSK_VERIFY_WSK);
    if (verify)
        wsk_verify_deregister(WskRegistration);
    KIRQL gate;
    KeAcquireSpinLock(&WskRegistration->ReservedRegistrationLock, &gate);
    pthread_mutex_lock(&c->lock);
    c->deregistering = TRUE;
    pthread_mutex_unlock(&c->lock);
    KeReleaseSpinLock(&WskRegistration->ReservedRegistrationLock, gate);
    pthread_mutex_lock(&c->lock);
    if (c->captures == 0 && c->sockets == 0 && c->calls == 0)
        KeSetEvent(&c->idle, IO_NO_INCREMENT, FALSE);
    pthread_mutex_unlock(&c->lock);
    /* Captures blocked in other threads wake and fail with STATUS_DEVICE_NOT_READY. */
    KeSetEvent(&c->leaving, IO_NO_INCREMENT, FALSE);
    wsk_client_cancel_change_requests(c); /* documented: WskDeregister cancels them */
    for (;;) {
        pthread_mutex_lock(&c->lock);
        BOOLEAN idle = c->captures == 0 && c->sockets == 0 && c->calls == 0;
        pthread_mutex_unlock(&c->lock);
        if (idle)
            break;
        /* The verifier reports a wait that lasts (a capture never
         * released) instead of hanging the unload. */
        LARGE_INTEGER patience = {.QuadPart = -5LL * 10000000};
        if (KeWaitForSingleObject(&c->idle, Executive, KernelMode, FALSE, verify ? &patience : NULL) == STATUS_TIMEOUT) {
            pthread_mutex_lock(&c->lock);
            LONG captures_left = c->captures, sockets_left = c->sockets;
            pthread_mutex_unlock(&c->lock);
            if (captures_left > 0)
                wsk_verify_deregister_stuck(WskRegistration, captures_left, sockets_left);
            continue;
        }
        KeClearEvent(&c->idle);
    }
    /* Detach under the block's lock: a capture racing us either counted
     * itself before (we waited for it) or finds the block deregistered. */
    KIRQL irql;
    KeAcquireSpinLock(&WskRegistration->ReservedRegistrationLock, &irql);
    WskRegistration->ReservedRegistrationState = REG_STATE_DEREGISTERED;
    WskRegistration->ReservedRegistrationContext = NULL;
    KeReleaseSpinLock(&WskRegistration->ReservedRegistrationLock, irql);
    c->magic = 0;
    pthread_mutex_destroy(&c->lock);
    openwsk_pool_free(c);
    wsk_io_engine_stop();
    __atomic_sub_fetch(&live_registrations, 1, __ATOMIC_ACQ_REL);
}
