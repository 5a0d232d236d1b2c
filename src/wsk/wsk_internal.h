/*
 * wsk_internal.h - the WSK provider's shared definitions: registration and
 * client objects, socket objects, the IRP-contract helpers and the bind
 * registry.  Windows types only (see wsk_linux.h for the Linux boundary).
 */
#ifndef OPENWSK_WSK_INTERNAL_H
#define OPENWSK_WSK_INTERNAL_H

#include <ntddk.h>
#include <wsk.h>

#include <pthread.h>

#include "kernel/ke_internal.h"

#define WSK_TAG_CLIENT TAG_FROM_CHARS('W', 's', 'k', 'C')
#define WSK_TAG_SOCKET TAG_FROM_CHARS('W', 's', 'k', 'S')
#define WSK_TAG_BIND TAG_FROM_CHARS('W', 's', 'k', 'B')

#define WSK_CLIENT_MAGIC 0x4B53574Cu /* "LWSK" */
#define WSK_SOCKET_MAGIC 0x4B534F53u /* "SOSK" */

/* ---- registration and client (wsk_registration.c) ---- */

typedef struct wsk_client {
    ULONG magic;
    PWSK_REGISTRATION registration;
    WSK_CLIENT_NPI npi;          /* the client's, as given to WskRegister */
    pthread_mutex_t lock;
    BOOLEAN deregistering;
    LONG captures;               /* successful captures not yet released */
    LONG sockets;                /* sockets not yet closed */
    LONG calls;                  /* provider-dispatch calls executing now */
    KEVENT idle;                 /* signalled when captures, sockets and calls are all 0 */
    KEVENT leaving;              /* signalled when WskDeregister starts */
    WSK_EVENT_CALLBACK_CONTROL static_events; /* WSK_SET_STATIC_EVENT_CALLBACKS (issue 5) */
} wsk_client;

extern const WSK_PROVIDER_DISPATCH wsk_provider_dispatch;

/* Validates a PWSK_CLIENT; NULL if it is not one. */
wsk_client *wsk_client_from(PWSK_CLIENT client);
/* Counts a socket against its client, for WskDeregister's wait. */
void wsk_client_socket_opened(wsk_client *c);
void wsk_client_socket_closed(wsk_client *c);
/* Brackets a provider-dispatch call (WskDeregister waits for it). */
void wsk_client_call_begin(wsk_client *c);
void wsk_client_call_end(wsk_client *c);

/* ---- sockets (wsk_socket.c) ---- */

typedef enum wsk_category {
    WSK_CATEGORY_BASIC = WSK_FLAG_BASIC_SOCKET,
    WSK_CATEGORY_LISTEN = WSK_FLAG_LISTEN_SOCKET,
    WSK_CATEGORY_CONNECTION = WSK_FLAG_CONNECTION_SOCKET,
    WSK_CATEGORY_DATAGRAM = WSK_FLAG_DATAGRAM_SOCKET,
    WSK_CATEGORY_STREAM = WSK_FLAG_STREAM_SOCKET,
} wsk_category;

struct wsk_bind_entry;

typedef struct wsk_socket {
    WSK_SOCKET pub; /* first: a PWSK_SOCKET is a pointer to this */
    ULONG magic;
    wsk_client *client;
    wsk_category category;
    ADDRESS_FAMILY family;
    USHORT type;
    ULONG protocol;
    PVOID context;
    const VOID *client_dispatch;
    int fd;
    pthread_mutex_t lock;

    /* state */
    BOOLEAN bound;
    BOOLEAN listening;
    BOOLEAN connected;
    BOOLEAN closing;

    /* options that must precede bind */
    BOOLEAN reuse_addr;
    BOOLEAN exclusive_addr;
    BOOLEAN v6only;
    BOOLEAN conditional_accept;
    PSECURITY_DESCRIPTOR security; /* NULL: the default descriptor, which forbids sharing */

    struct wsk_bind_entry *bindings; /* registry entries held by this socket */
} wsk_socket;

/* Validates a PWSK_SOCKET; NULL if it is not a live socket. */
wsk_socket *wsk_socket_from(PWSK_SOCKET socket);
const VOID *wsk_provider_table_for(wsk_category category);
/* Size of the SOCKADDR for the socket's family (16 or 28). */
SIZE_T wsk_sockaddr_size(ADDRESS_FAMILY family);

/* WskControlSocket, shared by every category's table (wsk_control.c). */
NTSTATUS WSKAPI wsk_control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType, ULONG ControlCode,
                                   ULONG Level, SIZE_T InputSize, PVOID InputBuffer, SIZE_T OutputSize,
                                   PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp);

/* ---- IRP contract (wsk_irp.c) ---- */

/* Completes a client IRP as the WSK subsystem does: the client-prepared
 * location becomes current, IoStatus is filled, IoCompleteRequest runs the
 * client's routine.  _pended marks the IRP pending first and returns
 * STATUS_PENDING (Windows' habit even for immediate results); _now returns
 * the status itself. */
NTSTATUS wsk_irp_complete_pended(PIRP irp, NTSTATUS status, ULONG_PTR information);
NTSTATUS wsk_irp_complete_now(PIRP irp, NTSTATUS status, ULONG_PTR information);

/* ---- status mapping (wsk_status.c) ---- */

/* The NTSTATUS Windows gives for a Linux errno (positive). */
NTSTATUS wsk_status_from_errno(int err);

/* ---- bind registry (wsk_bind_registry.c) ---- */

/* Decides whether the socket may bind to addr (Windows layout) under
 * Windows' address-sharing rules, and if so records the binding (in both
 * stacks for a dual-stack wildcard).  Port 0 picks a port from Windows'
 * dynamic range that the registry allows; *port_out receives the port in
 * network byte order.  Returns STATUS_SUCCESS, STATUS_ADDRESS_ALREADY_EXISTS
 * or STATUS_ACCESS_DENIED. */
NTSTATUS wsk_bind_registry_reserve(wsk_socket *s, const SOCKADDR *addr, USHORT *port_out);
/* Releases everything the socket holds in the registry. */
void wsk_bind_registry_release(wsk_socket *s);

/* For tests: the first port the registry tries for port 0 (0 = random). */
void wsk_bind_registry_set_port_hint(USHORT port);

#endif /* OPENWSK_WSK_INTERNAL_H */
