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

void wsk_client_apply_static_events(wsk_client *c, wsk_socket *s)
{
    pthread_mutex_lock(&c->lock);
    c->made_sockets = TRUE;
    ULONG mask = c->static_events & wsk_conn_events_allowed(s->category);
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

NTSTATUS WSKAPI wsk_client_control(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer,
                                   SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
    wsk_client *c = wsk_client_from(Client);
    if (c == NULL)
        return STATUS_INVALID_HANDLE;
    NTSTATUS status;
    switch (ControlCode) {
    case WSK_SET_STATIC_EVENT_CALLBACKS:
        if (Irp != NULL)
            return STATUS_INVALID_PARAMETER; /* documented: Irp must be NULL */
        return set_static_events(c, InputSize, InputBuffer);
    case WSK_TRANSPORT_LIST_QUERY:
        if (Irp != NULL)
            return STATUS_INVALID_PARAMETER;
        return transport_list(OutputSize, OutputBuffer, OutputSizeReturned);
    case WSK_TDI_BEHAVIOR: {
        if (Irp != NULL)
            return STATUS_INVALID_PARAMETER;
        ULONG flags;
        if (InputBuffer == NULL || InputSize < sizeof(flags))
            return STATUS_INVALID_PARAMETER;
        __builtin_memcpy(&flags, InputBuffer, sizeof(flags));
        /* There are no TDI transports here: bypassing them changes nothing. */
        return (flags & ~(ULONG)WSK_TDI_BEHAVIOR_BYPASS_TDI) ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
    }
    case WSK_TRANSPORT_LIST_CHANGE:
    case WSK_CACHE_SD:
    case WSK_RELEASE_SD:
    case WSK_TDI_DEVICENAME_MAPPING:
        status = STATUS_NOT_IMPLEMENTED; /* issue 5 */
        break;
    default:
        status = STATUS_INVALID_PARAMETER;
        break;
    }
    return Irp != NULL ? wsk_irp_complete_now(Irp, status, 0) : status;
}
