/*
 * wsk_client_control.c - WskControlClient (wsk-part-a.md §1.5,
 * wsk-part-b.md §6.5): static event callbacks, the transport list, the TDI
 * behaviour switch.
 */
#include "wsk_internal.h"

/* Winsock's TCP/IP provider identifier, which WSK transports report too. */
static const GUID tcpip_provider_id = {0xE70F1AA0, 0xAB8B, 0x11CF, {0x8C, 0xA3, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92}};

static const struct {
    USHORT type;
    ULONG protocol;
    ADDRESS_FAMILY family;
} transports[] = {
    {SOCK_STREAM, IPPROTO_TCP, AF_INET},
    {SOCK_STREAM, IPPROTO_TCP, AF_INET6},
    {SOCK_DGRAM, IPPROTO_UDP, AF_INET},
    {SOCK_DGRAM, IPPROTO_UDP, AF_INET6},
};

void wsk_client_socket_opening(wsk_client *c, wsk_socket *s)
{
    pthread_mutex_lock(&c->lock);
    c->made_sockets = TRUE;
    ULONG mask = c->static_events & wsk_conn_events_allowed(s->category);
    wsk_client_count_socket_locked(c);
    pthread_mutex_unlock(&c->lock);
    s->events = mask;
    s->static_events = mask;
    if (mask & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT))
        s->rx_mode = TRUE; /* takes effect once connected */
}

static NTSTATUS set_static_events(wsk_client *c, SIZE_T InputSize, PVOID InputBuffer)
{
    if (InputBuffer == NULL || InputSize < sizeof(WSK_EVENT_CALLBACK_CONTROL))
        return STATUS_INVALID_PARAMETER;
    const WSK_EVENT_CALLBACK_CONTROL *control = InputBuffer;
    if (control->NpiId == NULL || !IsEqualGUID(control->NpiId, &NPI_WSK_INTERFACE_ID))
        return STATUS_INVALID_PARAMETER;
    ULONG known = WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG |
                  WSK_EVENT_RECEIVE_FROM;
    if (control->EventMask == 0 || (control->EventMask & ~known))
        return STATUS_INVALID_PARAMETER; /* no disabling here: static events are for good */
    pthread_mutex_lock(&c->lock);
    NTSTATUS status = STATUS_SUCCESS;
    if (c->made_sockets || c->static_events != 0)
        status = STATUS_INVALID_DEVICE_STATE; /* only before the first socket, and once */
    else
        c->static_events = control->EventMask;
    pthread_mutex_unlock(&c->lock);
    return status;
}

static NTSTATUS transport_list(SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned)
{
    SIZE_T needed = sizeof(transports) / sizeof(transports[0]) * sizeof(WSK_TRANSPORT);
    if (OutputSizeReturned == NULL)
        return STATUS_INVALID_PARAMETER;
    *OutputSizeReturned = needed;
    if (OutputBuffer == NULL || OutputSize < needed)
        return STATUS_BUFFER_OVERFLOW;
    WSK_TRANSPORT *out = OutputBuffer;
    for (SIZE_T i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        out[i].Version = 2;
        out[i].SocketType = transports[i].type;
        out[i].Protocol = transports[i].protocol;
        out[i].AddressFamily = transports[i].family;
        out[i].ProviderId = tcpip_provider_id;
    }
    return STATUS_SUCCESS;
}

/* ---- WSK_TRANSPORT_LIST_CHANGE ---- */

/* The transports (TCP and UDP over IPv4 and IPv6) never change here, so a
 * change request waits until it is cancelled: by IoCancelIrp, or by
 * WskDeregister. */
static void change_cancel_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    wsk_client *c = Irp->Tail.Overlay.DriverContext[0];
    pthread_mutex_lock(&c->lock);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    pthread_mutex_unlock(&c->lock);
    wsk_irp_finish(Irp, STATUS_CANCELLED, 0);
    wsk_client_call_end(c);
}

static NTSTATUS change_request(wsk_client *c, PIRP irp)
{
    wsk_client_call_begin(c); /* WskDeregister waits for the IRP */
    wsk_irp_begin_pending(irp);
    irp->Tail.Overlay.DriverContext[0] = c;
    pthread_mutex_lock(&c->lock);
    InsertTailList(&c->change_irps, &irp->Tail.Overlay.ListEntry);
    IoSetCancelRoutine(irp, change_cancel_routine);
    BOOLEAN cancelled = c->deregistering || (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL);
    if (cancelled) {
        IoSetCancelRoutine(irp, NULL);
        RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    }
    pthread_mutex_unlock(&c->lock);
    if (cancelled) {
        wsk_irp_finish(irp, STATUS_CANCELLED, 0);
        wsk_client_call_end(c);
    }
    return STATUS_PENDING;
}

void wsk_client_cancel_change_requests(wsk_client *c)
{
    LIST_ENTRY mine;
    InitializeListHead(&mine);
    pthread_mutex_lock(&c->lock);
    for (PLIST_ENTRY e = c->change_irps.Flink; e != &c->change_irps;) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        e = e->Flink;
        if (IoSetCancelRoutine(irp, NULL) != NULL) { /* else its cancel routine completes it */
            RemoveEntryList(&irp->Tail.Overlay.ListEntry);
            InsertTailList(&mine, &irp->Tail.Overlay.ListEntry);
        }
    }
    pthread_mutex_unlock(&c->lock);
    while (!IsListEmpty(&mine)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&mine), IRP, Tail.Overlay.ListEntry);
        wsk_irp_finish(irp, STATUS_CANCELLED, 0);
        wsk_client_call_end(c);
    }
}

/* ---- WSK_CACHE_SD / WSK_RELEASE_SD ---- */

#define WSK_TAG_SD TAG_FROM_CHARS('W', 's', 'k', 'D')
#define WSK_CACHED_SD_MAGIC 0x44534B57u /* "WKSD" */

/* A cached descriptor: what WskSocket, WskSocketConnect and SO_WSK_SECURITY
 * take.  Every driver here runs as System, so the descriptor's contents are
 * never evaluated (docs/decisions.md); the cache keeps the pointer. */
typedef struct wsk_cached_sd {
    ULONG magic;
    PSECURITY_DESCRIPTOR original;
} wsk_cached_sd;

PSECURITY_DESCRIPTOR wsk_cache_security(PSECURITY_DESCRIPTOR sd)
{
    wsk_cached_sd *cached = openwsk_pool_alloc(sizeof(*cached), WSK_TAG_SD, TRUE);
    if (cached == NULL)
        return NULL;
    cached->magic = WSK_CACHED_SD_MAGIC;
    cached->original = sd;
    return cached;
}

static NTSTATUS cache_sd(SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out, SIZE_T *out_returned)
{
    PSECURITY_DESCRIPTOR sd;
    if (in == NULL || in_size != sizeof(sd) || out == NULL || out_size < sizeof(sd))
        return STATUS_INVALID_PARAMETER;
    __builtin_memcpy(&sd, in, sizeof(sd));
    if (sd == NULL)
        return STATUS_INVALID_PARAMETER;
    PSECURITY_DESCRIPTOR cached = wsk_cache_security(sd);
    if (cached == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    __builtin_memcpy(out, &cached, sizeof(cached));
    if (out_returned != NULL)
        *out_returned = sizeof(cached);
    return STATUS_SUCCESS;
}

static NTSTATUS release_sd(SIZE_T in_size, PVOID in)
{
    PSECURITY_DESCRIPTOR sd;
    if (in == NULL || in_size != sizeof(sd))
        return STATUS_INVALID_PARAMETER;
    __builtin_memcpy(&sd, in, sizeof(sd));
    wsk_cached_sd *cached = sd;
    if (cached == NULL || cached->magic != WSK_CACHED_SD_MAGIC)
        return STATUS_INVALID_PARAMETER; /* not a descriptor WSK_CACHE_SD returned */
    cached->magic = 0;
    openwsk_pool_free(cached);
    return STATUS_SUCCESS;
}

NTSTATUS WSKAPI wsk_client_control(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer,
                                   SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
    wsk_client *c = wsk_client_from(Client);
    if (c == NULL)
        return STATUS_INVALID_HANDLE; /* refused before the IRP is taken (docs/decisions.md) */
    if (ControlCode == WSK_TRANSPORT_LIST_CHANGE) {
        if (Irp == NULL)
            return STATUS_INVALID_PARAMETER; /* documented: IRP required */
        return change_request(c, Irp);
    }
    /* Every other code takes no IRP ("WSK Client Control Operations").  One
     * given anyway is a failed call, and PFN_WSK_CONTROL_CLIENT completes the
     * IRP of a failed call with its status; the request is not made. */
    if (Irp != NULL)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    switch (ControlCode) {
    case WSK_SET_STATIC_EVENT_CALLBACKS:
        return set_static_events(c, InputSize, InputBuffer);
    case WSK_TRANSPORT_LIST_QUERY:
        return transport_list(OutputSize, OutputBuffer, OutputSizeReturned);
    case WSK_TDI_BEHAVIOR: {
        ULONG flags;
        if (InputBuffer == NULL || InputSize < sizeof(flags))
            return STATUS_INVALID_PARAMETER;
        __builtin_memcpy(&flags, InputBuffer, sizeof(flags));
        /* There are no TDI transports here: bypassing them changes nothing. */
        return (flags & ~(ULONG)WSK_TDI_BEHAVIOR_BYPASS_TDI) ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
    }
    case WSK_CACHE_SD:
        return cache_sd(InputSize, InputBuffer, OutputSize, OutputBuffer, OutputSizeReturned);
    case WSK_RELEASE_SD:
        return release_sd(InputSize, InputBuffer);
    case WSK_TDI_DEVICENAME_MAPPING:
        /* Consulted only for triples no native transport serves, and every
         * triple here is served by Linux or by none: nothing to map. */
        return STATUS_NOT_SUPPORTED;
    default:
        return STATUS_INVALID_PARAMETER;
    }
}
