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
#include "kernel/adversity.h"
#include "kernel/perturb.h"
#include "kernel/verifier.h"
#include "wsk_io.h"
#include "wsk_req.h"

#define WSK_TAG_CLIENT TAG_FROM_CHARS('W', 's', 'k', 'C')
#define WSK_TAG_SOCKET TAG_FROM_CHARS('W', 's', 'k', 'S')
#define WSK_TAG_BIND TAG_FROM_CHARS('W', 's', 'k', 'B')

#define WSK_CLIENT_MAGIC 0x4B53574Cu /* "LWSK" */
#define WSK_SOCKET_MAGIC 0x4B534F53u /* "SOSK" */
#define WSK_SOCKET_MAGIC_CLOSED 0x4B534C43u /* "CLSK": kept by the verifier after its close */

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
    ULONG static_events;         /* WSK_SET_STATIC_EVENT_CALLBACKS: enabled on every new socket */
    BOOLEAN made_sockets;        /* static events must be set before the first socket */
    LIST_ENTRY change_irps;      /* WSK_TRANSPORT_LIST_CHANGE requests, until cancelled */
} wsk_client;

extern const WSK_PROVIDER_DISPATCH wsk_provider_dispatch;

/* Validates a PWSK_CLIENT; NULL if it is not one. */
wsk_client *wsk_client_from(PWSK_CLIENT client);
/* WskControlClient (wsk_client_control.c). */
NTSTATUS WSKAPI wsk_client_control(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer,
                                   SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp);
/* A new cached reference to a descriptor (WSK_CACHE_SD, SO_WSK_SECURITY get). */
PSECURITY_DESCRIPTOR wsk_cache_security(PSECURITY_DESCRIPTOR sd);
/* WskDeregister cancels the WSK_TRANSPORT_LIST_CHANGE requests still queued. */
void wsk_client_cancel_change_requests(wsk_client *c);
/* A new socket: enables the client's static events that fit its
 * category and counts it against the client, for WskDeregister's wait
 * (one acquisition of the client's lock for both); a socket whose set-up
 * then fails is uncounted with wsk_client_socket_closed. */
struct wsk_socket;
void wsk_client_socket_opening(wsk_client *c, struct wsk_socket *s);
void wsk_client_socket_closed(wsk_client *c);
/* wsk_client_socket_opening's count, the client's lock held. */
void wsk_client_count_socket_locked(wsk_client *c);
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
struct wsk_socket;

/* A decision taken while a connection's WskInspectEvent was still running. */
#define WSK_LATE_ACCEPT 1
#define WSK_LATE_DROP 2

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
    BOOLEAN bound_specific; /* bound to a specific (not wildcard) address: bound_address */
    SOCKADDR_STORAGE bound_address; /* with the port chosen; what its accepted connections are local to */
    BOOLEAN pktinfo_wanted; /* the client enabled IP_PKTINFO / IPV6_PKTINFO */
    BOOLEAN pktinfo_on;     /* Linux's packet info is on (wanted, or needed for MSG_MCAST/MSG_BCAST) */
    BOOLEAN recv_errors;    /* IP_RECVERR / IPV6_RECVERR as the client set it (kept here, docs/decisions.md) */
    /* Datagram receive options the client set, each reported as its own
     * control object from the one TOS / traffic class byte Linux gives. */
    BOOLEAN recv_tos, recv_ecn;       /* IP_RECVTOS, IP_RECVECN */
    BOOLEAN recv_tclass, recv_ecn6;   /* IPV6_RECVTCLASS, IPV6_RECVECN */
    ULONG max_coalesced;              /* UDP_RECV_MAX_COALESCED_SIZE as set (0: off) */
    BOOLEAN conditional_accept;
    BOOLEAN reuse_unicast_port; /* SO_REUSE_UNICASTPORT: remembered only (docs/decisions.md) */
    BOOLEAN port_scalability;   /* SO_PORT_SCALABILITY: remembered only */
    PSECURITY_DESCRIPTOR security; /* NULL: the default descriptor, which forbids sharing */

    struct wsk_bind_entry *bindings; /* registry entries held by this socket */

    /* asynchronous operations (wsk_req.h) */
    LIST_ENTRY pending;        /* wsk_req in flight (with an IRP, or the provider's own) */
    LIST_ENTRY free_reqs;
    LIST_ENTRY decided;        /* queued wsk_req whose result is final, waiting to be completed */
    BOOLEAN decided_busy;      /* a thread is completing one of them: completions keep their order */
    struct wsk_req *decided_after; /* the engine's receive that decided receives behind it wait for */
    struct wsk_req *decided_hold;  /* ... from this entry of `decided` on (rule 3) */
    PIRP close_irp;            /* a close waiting for the pending requests */
    BOOLEAN send_shut;         /* FIN sent (graceful disconnect) */
    BOOLEAN disconnect_issued; /* a graceful WskDisconnect was called: later sends are refused */
    wsk_req *recv_active;      /* the receive in the engine (wsk_req.h rule 3) */
    LIST_ENTRY recv_wait;      /* receives issued behind it, in order (queue_link) */
    ULONG sends_active;        /* sends in the engine (rule 4) */
    LIST_ENTRY disconnect_wait; /* a graceful disconnect waiting for them (queue_link) */
    BOOLEAN receive_shut;      /* FIN received */
    BOOLEAN reset_seen;        /* a call took the peer's reset (Linux reports it once) */
    BOOLEAN aborted;           /* its own abortive WskDisconnect: sends and receives fail */
    openwsk_adversity_stream adversity; /* legal adversity: this socket's own decisions */
    ULONG events;              /* WSK_EVENT_* enabled (SO_WSK_EVENT_CALLBACK) */
    ULONG static_events;       /* the part enabled by WSK_SET_STATIC_EVENT_CALLBACKS */

    /* Receive path once receive or disconnect events were enabled: one
     * reader fills blocks; queued receives are served first, the rest is
     * indicated (wsk_conn.c, "receive events"). */
    BOOLEAN rx_mode;
    BOOLEAN rx_paused;         /* STATUS_DATA_NOT_ACCEPTED / partial acceptance: wait for a WskReceive */
    BOOLEAN rx_indicating;     /* a WskReceiveEvent call is running */
    BOOLEAN disconnect_indicated;
    long rx_error;             /* -errno the reader hit, 0 if none */
    LIST_ENTRY rx_irps;        /* queued wsk_req (queue_link), in order */
    LIST_ENTRY rx_data;        /* wsk_rx_block with data, in stream order */
    LIST_ENTRY rx_spare;       /* empty blocks for reuse */
    LIST_ENTRY rx_held;        /* blocks the client retained (STATUS_PENDING) until WskRelease */
    ULONG rx_spare_count;
    ULONG rx_data_blocks;
    LONG rx_retained;          /* blocks the client holds (STATUS_PENDING) */
    wsk_req *rx_reader;

    /* Conditional accept (listeners with SO_CONDITIONAL_ACCEPT): connections
     * are accepted by the provider, inspected by the client, then wait in
     * `ready` for a WskAccept (queued in acc_irps) or go to WskAcceptEvent. */
    LIST_ENTRY acc_irps;       /* queued wsk_req (queue_link) */
    LIST_ENTRY ready;          /* accepted sockets (cond_link) waiting for a WskAccept */
    LIST_ENTRY inspecting;     /* sockets pended by WskInspectEvent (cond_link) */
    LIST_ENTRY cond_link;      /* this socket in its listener's ready/inspecting list */
    struct wsk_socket *cond_listener; /* while a WskAcceptEvent offer is posted for it */
    BOOLEAN inspect_in_callback; /* its WskInspectEvent is running */
    UCHAR inspect_late;        /* decided meanwhile: WSK_LATE_ACCEPT or WSK_LATE_DROP (0: not) */
    WSK_INSPECT_ID inspect_id;
    BOOLEAN has_inspect_id;
    LONG callbacks;            /* client callbacks running for this socket: close waits for them */
    BOOLEAN destroy_claimed;   /* one thread has taken on destroying it */

    /* Event bookkeeping (wsk_events.c). */
    UCHAR running[10];         /* per WSK_EVENT_* bit (ctz): its callbacks running now (engine threads may overlap) */
    LIST_ENTRY disable_irps;   /* SO_WSK_EVENT_CALLBACK disables waiting for a running callback */
    SIZE_T last_backlog;       /* the ideal send backlog last indicated (0: none yet) */
    BOOLEAN backlog_posted;    /* a WskSendBacklogEvent check is queued on the engine */
    BOOLEAN backlog_recheck;   /* a check found the callback running: check again when it returns */
    BOOLEAN listener_failed;   /* accept hit a fatal error: the listener no longer works */
    BOOLEAN null_accept_indicated; /* WskAcceptEvent(AcceptSocket = NULL) was delivered */
    struct wsk_socket_posts *posts; /* engine posts of its own: NULL until events need them (below) */

    /* A reader that feeds events could not allocate: tried again shortly
     * (wsk_retry.c). */
    BOOLEAN retry_scheduled;
    ULONGLONG retry_due;       /* ms, CLOCK_MONOTONIC; under the retry timer's lock */
    LIST_ENTRY retry_link;     /* on the retry timer's list */

    /* Datagram sockets (wsk_dgram.c). */
    SOCKADDR_STORAGE sendto_addr; /* SIO_WSK_SET_SENDTO_ADDRESS / SET_REMOTE_ADDRESS destination */
    BOOLEAN has_sendto_addr;
    BOOLEAN has_remote_addr;      /* SIO_WSK_SET_REMOTE_ADDRESS: the Linux socket is connected */
    wsk_req *dg_reader;           /* WskReceiveFromEvent's read in flight */
    LIST_ENTRY dg_spare;          /* datagram blocks for reuse */
    LIST_ENTRY dg_held;           /* blocks the client retained (STATUS_PENDING) until WskRelease */
    ULONG dg_spare_count;
    ULONG dg_blocks;              /* datagram blocks allocated (spare, held, being filled, stashed) */
    LONG dg_retained;
    LIST_ENTRY dg_stash;          /* datagrams read while nobody could take them */
    LIST_ENTRY dg_irps;           /* WskReceiveFrom calls queued once events were used (queue_link) */
    BOOLEAN dg_mode;              /* receive-from events were enabled: the reader serves receives too */
    LIST_ENTRY dg_send_batch;     /* WskSendTo calls of an indication round, sent when it ends (queue_link) */
    ULONG dg_sends_in_engine;     /* datagram sends the engine holds: a direct send must not pass them */
} wsk_socket;

/* The engine posts a socket makes for itself: WskSendBacklogEvent's check
 * and a conditional offer (backlog_io, wsk_events.c, wsk_accept.c) and the
 * retry of a reader that could not allocate (retry_io, wsk_retry.c).  Only
 * sockets with events or conditional accept post, so the blocks live apart
 * and the socket stays a small allocation.  They exist before anything can
 * post: wsk_socket_posts_ensure runs where events are enabled (static
 * events, SO_WSK_EVENT_CALLBACK), for every socket the accept feeder offers
 * (it inherits the listener's events) and where conditional accept is set,
 * and fails the call there when memory is short. */
typedef struct wsk_socket_posts {
    wsk_post backlog_io;
    wsk_post retry_io;
} wsk_socket_posts;

/* FALSE only when the blocks are missing and cannot be allocated. */
BOOLEAN wsk_socket_posts_ensure(wsk_socket *s);
BOOLEAN wsk_socket_posts_ensure_locked(wsk_socket *s);

/* Creates a socket object around a Linux fd (accepted connections). */
NTSTATUS wsk_socket_adopt(wsk_client *c, ADDRESS_FAMILY family, int fd, PVOID context, const VOID *dispatch,
                          wsk_socket **out);
/* Frees a socket whose requests have all completed; completes close_irp. */
void wsk_socket_destroy(wsk_socket *s);
/* The local address of a connection accepted on listener: the listener's
 * own when it is bound to a specific address (no syscall), else Linux's. */
void wsk_accepted_local_address(const wsk_socket *listener, int fd, SOCKADDR_STORAGE *out);
/* The connection-event table of a connection or stream socket (NULL if none). */
const WSK_CLIENT_CONNECTION_DISPATCH *wsk_conn_client_dispatch(wsk_socket *s);

/* ---- listeners (wsk_accept.c) ---- */
NTSTATUS WSKAPI wsk_conn_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                                const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, PSOCKADDR LocalAddress,
                                PSOCKADDR RemoteAddress, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                          WSK_INSPECT_ACTION Action, PIRP Irp);
/* Starts accept events on a listener that has WSK_EVENT_ACCEPT (statically). */
void wsk_accept_events_start(wsk_socket *s);
/* Arms the accept that feeds WskAcceptEvent, or cancels it (lock held). */
BOOLEAN wsk_accept_events_arm_locked(wsk_socket *s);
void wsk_accept_events_stop_locked(wsk_socket *s);
/* Arms the feeder again after an allocation failed, unless one is in
 * flight or accept events went off (lock held; wsk_retry.c). */
void wsk_accept_events_retry_locked(wsk_socket *s);
/* At close: connections accepted by the provider that nobody took are reset. */
void wsk_accept_drop_unclaimed(wsk_socket *s);

/* ---- the event-driven receive path (wsk_rx.c) ---- */
/* Runs a socket's queued path: completes decided requests, serves queued
 * receives, indicates, re-arms the reader.  _held: the caller took a
 * callbacks reference under the lock, which this drops (it may finish a
 * waiting close); wsk_rx_kick takes one itself. */
void wsk_rx_kick_held(wsk_socket *s);
void wsk_rx_kick(wsk_socket *s);
/* Legal adversity "reset" (adversity.h), before a data operation on a
 * connection: now and then resets it as the peer could have. */
void wsk_rx_adverse_reset_locked(wsk_socket *s, const char *call);
/* The socket's own abortive WskDisconnect with receive events on: held
 * bytes are dropped, receives fail, no WskDisconnectEvent follows. */
void wsk_rx_abort_locked(wsk_socket *s);
static inline void wsk_rx_maybe_reset_locked(wsk_socket *s, const char *call)
{
    if (openwsk_adverse(OPENWSK_ADVERSE_RESET))
        wsk_rx_adverse_reset_locked(s, call);
}
/* Gives accepted connections the events their listener enabled for them. */
void wsk_conn_inherit_events(wsk_socket *listener, wsk_socket *child);
NTSTATUS WSKAPI wsk_conn_release(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication);
/* Frees the receive blocks of a socket being destroyed. */
void wsk_rx_free(wsk_socket *s);
/* Bytes the reader has taken from Linux that no receive or indication
 * has consumed yet (lock held). */
SIZE_T wsk_rx_buffered_locked(const wsk_socket *s);

/* ---- retries after an allocation failed (wsk_retry.c) ---- */

/* The socket's event readers (accept feeder, receive-event reader,
 * WskReceiveFromEvent reader) are armed again a short while later, on an
 * engine thread; takes a callbacks reference until then (lock held). */
void wsk_retry_schedule_locked(wsk_socket *s);

/* ---- event bookkeeping (wsk_events.c) ---- */

/* Whether a callback of event `bit` is running (lock held). */
BOOLEAN wsk_event_running_locked(const wsk_socket *s, ULONG bit);
/* Brackets a client callback of event `bit` (lock held around each call). */
void wsk_event_enter_locked(wsk_socket *s, ULONG bit);
/* Ends it; disables waiting for it move to *finished, which the caller
 * passes to wsk_event_finish_disables once the lock is dropped. */
void wsk_event_leave_locked(wsk_socket *s, ULONG bit, PLIST_ENTRY finished);
void wsk_event_finish_disables(PLIST_ENTRY finished);
/* Disabling event `bit` (already cleared from s->events): STATUS_SUCCESS if
 * no callback of it is running, else STATUS_EVENT_PENDING without an IRP,
 * or STATUS_PENDING with the IRP held until the callback returns. */
NTSTATUS wsk_event_disable_locked(wsk_socket *s, ULONG bit, PIRP irp);
/* Queues a WskSendBacklogEvent check: the callback runs when the ideal send
 * backlog differs from the one last indicated (the first check always
 * indicates). */
void wsk_backlog_schedule_locked(wsk_socket *s);

/* ---- name resolution (wsk_resolve.c) ---- */
NTSTATUS WSKAPI wsk_get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
                                     ULONG NameSpace, GUID *Provider, PADDRINFOEXW Hints, PADDRINFOEXW *Result,
                                     PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp);
VOID WSKAPI wsk_free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo);
NTSTATUS WSKAPI wsk_get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                  PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName, ULONG Flags,
                                  PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp);

/* ---- datagrams (wsk_dgram.c) ---- */
NTSTATUS WSKAPI wsk_dgram_send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                  ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp);
NTSTATUS WSKAPI wsk_dgram_receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                       PULONG ControlLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp);
NTSTATUS WSKAPI wsk_dgram_release(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication);
void wsk_dgram_init_socket(wsk_socket *s);
NTSTATUS WSKAPI wsk_dgram_send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                        PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                        PIRP Irp);
/* Frees the datagram blocks of a socket being destroyed. */
void wsk_dgram_free(wsk_socket *s);
/* The control objects (WSK_IO_CONTROL_*) the client asked for on receive. */
unsigned wsk_dgram_control_wanted(const wsk_socket *s);
/* WskReceiveFrom while datagrams read for a disabled event wait: the
 * oldest is copied out at once.  Lock held on entry, dropped. */
NTSTATUS wsk_dgram_receive_stashed(wsk_socket *s, wsk_req *r, PIRP irp);
/* Starts WskReceiveFromEvent indications if enabled and bound (lock held). */
void wsk_dgram_events_arm_locked(wsk_socket *s);
/* Stops them: the read in flight is cancelled (lock held). */
void wsk_dgram_events_stop_locked(wsk_socket *s);
/* A WskReceiveFromEvent call on s runs on this thread: the WskSendTo calls
 * the client makes on s meanwhile wait in s->dg_send_batch and leave in
 * one sendmmsg when it returned (round_end, lock not held).  begin returns
 * the round it interrupts, which end restores. */
wsk_socket *wsk_dgram_round_begin(wsk_socket *s);
void wsk_dgram_round_end(wsk_socket *s, wsk_socket *outer);
/* SIO_WSK_SET_REMOTE_ADDRESS / SIO_WSK_SET_SENDTO_ADDRESS (lock held). */
NTSTATUS wsk_dgram_set_fixed_address(wsk_socket *s, ULONG code, SIZE_T size, PVOID address);

/* ---- connections (wsk_conn.c) ---- */

/* Completes the IRP of a call that failed at once; returns the status. */
NTSTATUS wsk_fail_now(PIRP irp, NTSTATUS status);
NTSTATUS WSKAPI wsk_conn_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_send(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_receive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_disconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_listen(PWSK_SOCKET Socket, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer, ULONG Flags,
                                    PIRP Irp);
NTSTATUS WSKAPI wsk_conn_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, ULONG ControlInfoLength,
                                 PCMSGHDR ControlInfo, PIRP Irp);
NTSTATUS WSKAPI wsk_conn_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PULONG ControlInfoLength,
                                    PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp);
/* SIO_WSK_QUERY_IDEAL_SEND_BACKLOG / SIO_WSK_QUERY_RECEIVE_BACKLOG. */
NTSTATUS wsk_conn_query_backlog(wsk_socket *s, ULONG code, SIZE_T *value);
/* Which WSK_EVENT_* bits a category may enable. */
ULONG wsk_conn_events_allowed(wsk_category category);
/* SO_WSK_EVENT_CALLBACK on a socket (wsk_events.c rules live here too). */
NTSTATUS wsk_conn_set_event_callbacks(wsk_socket *s, const WSK_EVENT_CALLBACK_CONTROL *control, PIRP irp);
/* WskSocketConnect's connect step on a freshly bound socket; the IRP
 * completes with the socket, or the socket is destroyed on failure. */
NTSTATUS wsk_conn_socket_connect(wsk_socket *s, PSOCKADDR remote, PIRP irp);

/* Categories as a mask, for wsk_op_socket. */
#define WSK_CAT(c) (1u << (c))
#define WSK_CATS_CONNECTED (WSK_CAT(WSK_CATEGORY_CONNECTION) | WSK_CAT(WSK_CATEGORY_STREAM))
#define WSK_CATS_LISTENING (WSK_CAT(WSK_CATEGORY_LISTEN) | WSK_CAT(WSK_CATEGORY_STREAM))
#define WSK_CATS_BINDABLE (WSK_CATS_CONNECTED | WSK_CAT(WSK_CATEGORY_LISTEN) | WSK_CAT(WSK_CATEGORY_DATAGRAM))
/* Looks up the socket of a call: NULL with *refusal = STATUS_INVALID_HANDLE
 * if it is none, STATUS_INVALID_DEVICE_REQUEST if its category (not in the
 * `categories` mask) lacks the call — a client used another category's
 * table — or STATUS_FILE_FORCED_CLOSED once its close has begun. */
wsk_socket *wsk_op_socket(PWSK_SOCKET Socket, ULONG categories, NTSTATUS *refusal);
/* Validates a PWSK_SOCKET; NULL if it is not a live socket. */
wsk_socket *wsk_socket_from(PWSK_SOCKET socket);

/* The verifier's WSK rule group (wsk_verify.c), called only while
 * openwsk_verifying(OPENWSK_VERIFY_WSK). */
void wsk_verify_socket_created(wsk_socket *s);
void wsk_verify_op(PWSK_SOCKET socket, ULONG categories, const char *call);
void wsk_verify_close(wsk_socket *s);
BOOLEAN wsk_verify_keep_closed(wsk_socket *s);
void wsk_verify_release_refused(PWSK_SOCKET socket, const void *indication);
void wsk_verify_call_begin(PWSK_SOCKET socket, const char *name);
void wsk_verify_call_end(PWSK_SOCKET socket);
void wsk_verify_close_while_running(PWSK_SOCKET socket);
void wsk_verify_call_committed(void);
void wsk_verify_retained_while_closing(wsk_socket *s);
void wsk_verify_npi_captured(const void *registration);
void wsk_verify_npi_released(const void *registration);
void wsk_verify_deregister(const void *registration);
void wsk_verify_deregister_stuck(const void *registration, LONG captures_left, LONG sockets_left);
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
/* _pended for a call whose completion is ordered with nothing else on its
 * socket (WskSocket, WskBind, WskListen, WskControlSocket, ...): legal
 * adversity may complete it later on another thread.  `call` names it in
 * the adversity log; the client's WskDeregister waits for it. */
NTSTATUS wsk_irp_complete_call(wsk_client *client, PIRP irp, NTSTATUS status, ULONG_PTR information,
                               const char *call);
/* _pended without the adversity hook. */
NTSTATUS wsk_irp_complete_pended_plain(PIRP irp, NTSTATUS status, ULONG_PTR information);
/* Legal adversity "pending" (wsk_adverse_completion.c): completes at once,
 * returns the status without pending, or (with a client) completes later
 * on another thread.  And a close's completion: TRUE if it was queued
 * behind those later completions (the queue then releases the socket's
 * count in the client). */
NTSTATUS wsk_irp_complete_adverse(wsk_client *client, PIRP irp, NTSTATUS status, ULONG_PTR information,
                                  const char *call);
BOOLEAN wsk_irp_finish_close_adverse(wsk_client *client, PIRP close_irp);
/* Completions legal adversity moved and not yet delivered. */
extern LONG wsk_later_queued;
static inline BOOLEAN wsk_close_may_be_moved(void)
{
    return openwsk_adverse(OPENWSK_ADVERSE_PENDING) || __atomic_load_n(&wsk_later_queued, __ATOMIC_ACQUIRE) != 0;
}
/* For IRPs that will complete later: push our location and mark pending. */
void wsk_irp_begin_pending(PIRP irp);
/* Completes an IRP begun with wsk_irp_begin_pending. */
void wsk_irp_finish(PIRP irp, NTSTATUS status, ULONG_PTR information);

/* ---- WSK_BUF (wsk_buf.c) ---- */

/* Cycle detection for lists a client hands the provider (MDL chains,
 * WSK_BUF_LIST, datagram indications given back, ADDRINFOEXW lists): a
 * cycle would keep a walk going forever.  Floyd's tortoise and hare, fed
 * one element at a time so a walk can check each element before following
 * its link: the walk's n-th element is compared with its (n/2)-th, which
 * finds any cycle within about twice the list's distinct elements, with no
 * allocation and no cap on a list's length. */
typedef struct wsk_list_guard {
    const void *slow;
    size_t next_offset; /* where the link sits in each element */
    ULONG steps;
} wsk_list_guard;

void wsk_list_guard_init(wsk_list_guard *g, const void *first, size_t next_offset);
/* TRUE when element, the walk's next one, was seen before: a cycle. */
BOOLEAN wsk_list_guard_revisits(wsk_list_guard *g, const void *element);
/* Whether the list from first loops back instead of ending in NULL. */
BOOLEAN wsk_list_is_cyclic(const void *first, size_t next_offset);

/* One contiguous piece of a WSK_BUF; same layout as struct iovec. */
typedef struct wsk_segment {
    void *base;
    SIZE_T length;
} wsk_segment;

/* How many segments the buffer has; STATUS_INVALID_PARAMETER when Length
 * runs past the chain, Offset lies outside the first MDL, data has no MDL,
 * or the MDL chain is a cycle. */
NTSTATUS wsk_buf_count_segments(const WSK_BUF *buf, ULONG *count);
NTSTATUS wsk_buf_fill_segments(const WSK_BUF *buf, wsk_segment *seg, ULONG count);

/* ---- status mapping (wsk_status.c) ---- */

/* The NTSTATUS Windows gives for a Linux errno (positive). */
NTSTATUS wsk_status_from_errno(int err);

/* ---- bind registry (wsk_bind_registry.c) ---- */

/* Decides whether the socket may bind to addr (Windows layout, its port
 * in/out) under Windows' address-sharing rules, and if so records the
 * binding (in both stacks for a dual-stack wildcard) and binds the Linux
 * socket, listening too when backlog > 0.  Port 0 picks a port from
 * Windows' dynamic range.  Returns STATUS_SUCCESS,
 * STATUS_ADDRESS_ALREADY_EXISTS, STATUS_ACCESS_DENIED or what Linux said. */
NTSTATUS wsk_bind_registry_bind(wsk_socket *s, SOCKADDR *addr, int backlog);
/* WskListen on a bound stream socket: listen(2) beside the overlapping
 * sockets the registry let it share with. */
NTSTATUS wsk_bind_registry_listen(wsk_socket *s, int backlog);
/* Releases everything the socket holds in the registry. */
void wsk_bind_registry_release(wsk_socket *s);

/* For tests: the first port the registry tries for port 0 (0 = random). */
void wsk_bind_registry_set_port_hint(USHORT port);

#endif /* OPENWSK_WSK_INTERNAL_H */
