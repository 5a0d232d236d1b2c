/*
 * test_wsk_irp_contract.c - every IRP-taking WSK call, walked through the
 * failures it can be made to meet at once, checking two things per case:
 *  - the status: the one Microsoft documents on the function's page, or the
 *    one docs/decisions.md chose where the page is silent;
 *  - the IRP contract ("Using IRPs with Winsock Kernel Functions", and the
 *    return-value table of every function's page; wsk-part-a.md §2): a call
 *    given an IRP completes it exactly once through the client's completion
 *    routine, and returns either STATUS_PENDING (the routine runs with
 *    PendingReturned TRUE) or the final status (the routine already ran with
 *    PendingReturned FALSE and IoStatus.Status equal to what was returned).
 *    A failure also leaves IoStatus.Information 0 and the caller's output
 *    buffers as they were.
 * Every case is made a second time with a NULL IRP: a call that needs an IRP
 * returns STATUS_INVALID_PARAMETER and touches nothing; where the IRP is
 * optional or must be NULL (WskControlSocket, WskControlClient) the case
 * gives the status the call returns without one.
 *
 * Walked: WskSocket, WskSocketConnect, WskControlClient, WskGetAddressInfo and
 * WskGetNameInfo of WSK_PROVIDER_DISPATCH, and every IRP-taking member of the
 * BASIC, LISTEN, DATAGRAM, CONNECTION and STREAM provider tables, each called
 * through its own table: bad flags, NULL or inconsistent buffers (a WSK_BUF
 * whose Length runs past its MDL chain, data without an MDL, an Offset outside
 * the first MDL), addresses of the wrong family, the wrong state (unbound, not
 * connected, connected, listening), another category's function, unknown
 * control codes and option levels, sizes too small, a NULL socket, and calls
 * on a socket whose WskCloseSocket is still pending (the test holds one of its
 * event callbacks, which the close must wait for; calling a socket after
 * closing it is a client error the WskCloseSocket page forbids, and such
 * calls must fail without touching the socket).
 *
 * Not walked, having no IRP: WskFreeAddressInfo (it returns nothing) and the
 * two WskRelease members (their failure, STATUS_INVALID_PARAMETER, is returned;
 * test_wsk_receive_events and test_wsk_datagram_events cover it).  WskCloseSocket
 * has no synchronous failure besides a NULL IRP and a socket that is NULL or
 * already closing: it never fails otherwise.  Basic sockets have no event
 * callbacks, so no close of one can be held pending: the closing walk uses
 * connection, datagram, listening and stream sockets.
 *
 * The *_refused arrays hold the cases the provider used to get wrong (a basic
 * table with empty slots, another category's functions that acted, calls on
 * a closing socket that acted): each names the file that refuses it now.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

/* A status no call returns: that variant of the case is not made. */
#define SKIP ((NTSTATUS)0x7EEDC0DE)

/* The call refuses before it takes the IRP (a NULL or unknown client,
 * docs/decisions.md "The IRP contract"): the IRP stays as the client armed it. */
#define LEAVES_IRP 0x1u
/* The call completes successfully if the provider is wrong: a socket in
 * Information is closed again so that WskDeregister does not wait for it. */
#define MAKES_SOCKET 0x2u
/* Observed on Windows: the failure is returned at once, never pended. */
#define RETURNED_AT_ONCE 0x4u

typedef struct walk_env walk_env;
typedef NTSTATUS (*walk_call)(walk_env *e, PIRP irp);

typedef struct walk_case {
    const char *name;
    walk_call call;
    NTSTATUS with_irp;    /* the IRP's final status (SKIP: not made) */
    NTSTATUS without_irp; /* returned with a NULL IRP (SKIP: not made) */
    ULONG flags;
} walk_case;

/* What the calls write to: filled with a pattern before each call and
 * compared after each failure. */
typedef struct walk_out {
    SOCKADDR_STORAGE addr, addr2;
    UCHAR bytes[64];
    SIZE_T size;
    ULONG length, flags;
    PADDRINFOEXW result;
    WSK_INSPECT_ID id;
    PSECURITY_DESCRIPTOR sd;
} walk_out;

struct walk_env {
    wt_wsk t;
    wt_irp w;
    PWSK_CLIENT client;
    const WSK_PROVIDER_DISPATCH *pd;

    /* One socket per category and state. */
    PWSK_SOCKET basic;
    PWSK_SOCKET listen_unbound, listen, listen_cond, listen_udp;
    PWSK_SOCKET dgram_unbound, dgram, dgram_tcp;
    PWSK_SOCKET conn_unbound, conn_bound, conn, conn_shut;
    PWSK_SOCKET stream_unbound, stream_bound, stream_listening, stream_conn;
    /* Sockets a wrong answer could change, each used by one refused case. */
    PWSK_SOCKET victim_basic, victim_dgram, victim_dgram2, victim_conn;
    /* The socket whose close is held pending (closing walk). */
    PWSK_SOCKET closing;

    int peer_listener, peer_conn, peer_shut, peer_stream, peer_victim;

    /* Inputs. */
    PUCHAR data, big;
    PMDL mdl_head, mdl_tail, big_mdl;
    WSK_BUF buf, past_chain, no_mdl, bad_offset, big_buf;
    WSK_BUF_LIST list_one, list_bad_first, list_bad_second, list_bad_second_next;
    SOCKADDR_IN any4, loop4, not_local4, peer4, listen4, refused4;
    SOCKADDR_IN6 loop6;
    SOCKADDR bad_family;
    UCHAR bad_control[16];
    WSK_EVENT_CALLBACK_CONTROL ev_receive, ev_receive_from, ev_accept, ev_null_npi, ev_two_off;
    WSK_INSPECT_ID unknown_id;
    UNICODE_STRING node, service, blank;
    ADDRINFOEXW hints_addrlen, hints_next, hints_ok;
    GUID provider_guid;
    ULONG one;
    PSECURITY_DESCRIPTOR sd_in;
    WCHAR node_buf[64], service_buf[16];
    UNICODE_STRING node_out, service_out;
    ULONG dummy_thread;

    walk_out out;
};

#define LISTEN_D(s) ((const WSK_PROVIDER_LISTEN_DISPATCH *)(s)->Dispatch)
#define DGRAM_D(s) ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)(s)->Dispatch)
#define CONN_D(s) ((const WSK_PROVIDER_CONNECTION_DISPATCH *)(s)->Dispatch)
#define STREAM_D(s) ((const WSK_PROVIDER_STREAM_DISPATCH *)(s)->Dispatch)
#define BASIC_D(s) ((const WSK_PROVIDER_BASIC_DISPATCH *)(s)->Dispatch)

#define WALK(fn) static NTSTATUS fn(walk_env *e, PIRP irp)
#define OUT_ADDR ((PSOCKADDR)&e->out.addr)
#define OUT_ADDR2 ((PSOCKADDR)&e->out.addr2)
#define A(x) ((PSOCKADDR)&(x))

/* ==== WSK_PROVIDER_DISPATCH ==== */

/* ---- WskSocket (PFN_WSK_SOCKET) ---- */
static NTSTATUS socket_call(walk_env *e, PWSK_CLIENT client, ADDRESS_FAMILY family, USHORT type, ULONG protocol,
                            ULONG flags, PVOID context, const VOID *dispatch, PIRP irp)
{
    return e->pd->WskSocket(client, family, type, protocol, flags, context, dispatch, NULL, NULL, NULL, irp);
}
static const WSK_CLIENT_CONNECTION_DISPATCH no_events = {NULL, NULL, NULL};
#define TCP4 AF_INET, SOCK_STREAM, IPPROTO_TCP
WALK(socket_null_client) { return socket_call(e, NULL, TCP4, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL, irp); }
WALK(socket_two_categories)
{
    return socket_call(e, e->client, TCP4, WSK_FLAG_LISTEN_SOCKET | WSK_FLAG_CONNECTION_SOCKET, NULL, NULL, irp);
}
WALK(socket_unknown_flag) { return socket_call(e, e->client, TCP4, 0x10, NULL, NULL, irp); }
WALK(socket_family_unspec)
{
    return socket_call(e, e->client, AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL, irp);
}
WALK(socket_family_unknown)
{
    return socket_call(e, e->client, 99, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, irp);
}
WALK(socket_stream_protocol_zero)
{
    return socket_call(e, e->client, AF_INET, SOCK_STREAM, 0, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL, irp);
}
WALK(socket_dgram_protocol_zero)
{
    return socket_call(e, e->client, AF_INET6, SOCK_DGRAM, 0, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, irp);
}
WALK(socket_stream_over_udp)
{
    return socket_call(e, e->client, AF_INET, SOCK_STREAM, IPPROTO_UDP, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL, irp);
}
WALK(socket_unknown_type)
{
    return socket_call(e, e->client, AF_INET, 9, IPPROTO_TCP, WSK_FLAG_BASIC_SOCKET, NULL, NULL, irp);
}
WALK(socket_basic_with_dispatch)
{
    return socket_call(e, e->client, TCP4, WSK_FLAG_BASIC_SOCKET, NULL, &no_events, irp);
}
WALK(socket_basic_with_context) { return socket_call(e, e->client, TCP4, WSK_FLAG_BASIC_SOCKET, e, NULL, irp); }

/* ---- WskSocketConnect (PFN_WSK_SOCKET_CONNECT) ---- */
static NTSTATUS socket_connect(walk_env *e, PWSK_CLIENT client, USHORT type, ULONG protocol, PSOCKADDR local,
                               PSOCKADDR remote, ULONG flags, PIRP irp)
{
    return e->pd->WskSocketConnect(client, type, protocol, local, remote, flags, NULL, NULL, NULL, NULL, NULL, irp);
}
#define STREAM_TCP SOCK_STREAM, IPPROTO_TCP
WALK(socket_connect_null_client) { return socket_connect(e, NULL, STREAM_TCP, A(e->any4), A(e->peer4), 0, irp); }
WALK(socket_connect_null_local) { return socket_connect(e, e->client, STREAM_TCP, NULL, A(e->peer4), 0, irp); }
WALK(socket_connect_null_remote) { return socket_connect(e, e->client, STREAM_TCP, A(e->any4), NULL, 0, irp); }
WALK(socket_connect_flags) { return socket_connect(e, e->client, STREAM_TCP, A(e->any4), A(e->peer4), 1, irp); }
WALK(socket_connect_family_mismatch) { return socket_connect(e, e->client, STREAM_TCP, A(e->any4), A(e->loop6), 0, irp); }
WALK(socket_connect_unknown_family)
{
    return socket_connect(e, e->client, STREAM_TCP, &e->bad_family, &e->bad_family, 0, irp);
}
WALK(socket_connect_udp)
{
    return socket_connect(e, e->client, SOCK_DGRAM, IPPROTO_UDP, A(e->any4), A(e->peer4), 0, irp);
}
WALK(socket_connect_protocol_zero)
{
    return socket_connect(e, e->client, SOCK_STREAM, 0, A(e->any4), A(e->peer4), 0, irp);
}
WALK(socket_connect_local_not_ours)
{
    return socket_connect(e, e->client, STREAM_TCP, A(e->not_local4), A(e->peer4), 0, irp);
}
WALK(socket_connect_local_in_use) { return socket_connect(e, e->client, STREAM_TCP, A(e->listen4), A(e->peer4), 0, irp); }
WALK(socket_connect_refused) { return socket_connect(e, e->client, STREAM_TCP, A(e->any4), A(e->refused4), 0, irp); }

/* ---- WskControlClient (PFN_WSK_CONTROL_CLIENT; "WSK Client Control Operations") ---- */
static NTSTATUS client_control(walk_env *e, PWSK_CLIENT client, ULONG code, SIZE_T in_size, PVOID in,
                               SIZE_T out_size, PVOID out, SIZE_T *returned, PIRP irp)
{
    return e->pd->WskControlClient(client, code, in_size, in, out_size, out, returned, irp);
}
WALK(client_null_client) { return client_control(e, NULL, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, irp); }
WALK(client_unknown_code) { return client_control(e, e->client, 99, 0, NULL, 0, NULL, NULL, irp); }
WALK(client_list_change_needs_irp)
{
    return client_control(e, e->client, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, irp);
}
/* The codes whose IRP must be NULL, given one with otherwise valid input. */
WALK(client_list_query_with_irp)
{
    return client_control(e, e->client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(e->out.bytes), e->out.bytes,
                          &e->out.size, irp);
}
WALK(client_list_query_with_irp_null_size)
{
    return client_control(e, e->client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(e->out.bytes), e->out.bytes, NULL,
                          irp);
}
WALK(client_cache_sd_with_irp)
{
    return client_control(e, e->client, WSK_CACHE_SD, sizeof(e->sd_in), &e->sd_in, sizeof(e->out.sd), &e->out.sd,
                          &e->out.size, irp);
}
WALK(client_release_sd_with_irp)
{
    return client_control(e, e->client, WSK_RELEASE_SD, sizeof(e->sd_in), &e->sd_in, 0, NULL, NULL, irp);
}
WALK(client_tdi_mapping_with_irp)
{
    return client_control(e, e->client, WSK_TDI_DEVICENAME_MAPPING, 0, NULL, 0, NULL, NULL, irp);
}
WALK(client_static_events_with_irp)
{
    return client_control(e, e->client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(e->ev_accept), &e->ev_accept, 0,
                          NULL, NULL, irp);
}
WALK(client_tdi_behavior_with_irp)
{
    return client_control(e, e->client, WSK_TDI_BEHAVIOR, sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
/* Failures of those codes without an IRP (an IRP first fails them as above). */
WALK(client_list_query_no_size_returned)
{
    return client_control(e, e->client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(e->out.bytes), e->out.bytes, NULL,
                          irp);
}
WALK(client_cache_sd_null_descriptor)
{
    static PSECURITY_DESCRIPTOR none = NULL;
    return client_control(e, e->client, WSK_CACHE_SD, sizeof(none), &none, sizeof(e->out.sd), &e->out.sd, NULL, irp);
}
WALK(client_cache_sd_output_small)
{
    return client_control(e, e->client, WSK_CACHE_SD, sizeof(e->sd_in), &e->sd_in, 2, &e->out.sd, NULL, irp);
}
WALK(client_release_sd_not_cached)
{
    return client_control(e, e->client, WSK_RELEASE_SD, sizeof(e->sd_in), &e->sd_in, 0, NULL, NULL, irp);
}
WALK(client_tdi_behavior_unknown_flag)
{
    static ULONG bogus = 0x10;
    return client_control(e, e->client, WSK_TDI_BEHAVIOR, sizeof(bogus), &bogus, 0, NULL, NULL, irp);
}
WALK(client_tdi_behavior_no_input)
{
    return client_control(e, e->client, WSK_TDI_BEHAVIOR, 0, NULL, 0, NULL, NULL, irp);
}
WALK(client_tdi_mapping_unsupported)
{
    return client_control(e, e->client, WSK_TDI_DEVICENAME_MAPPING, 0, NULL, 0, NULL, NULL, irp);
}
WALK(client_static_events_null_npi)
{
    return client_control(e, e->client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(e->ev_null_npi), &e->ev_null_npi, 0,
                          NULL, NULL, irp);
}
WALK(client_static_events_unknown_event)
{
    static WSK_EVENT_CALLBACK_CONTROL bogus = {(PNPIID)&NPI_WSK_INTERFACE_ID, 0x1};
    return client_control(e, e->client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(bogus), &bogus, 0, NULL, NULL, irp);
}
WALK(client_static_events_short_input)
{
    return client_control(e, e->client, WSK_SET_STATIC_EVENT_CALLBACKS, 4, &e->ev_accept, 0, NULL, NULL, irp);
}
WALK(client_static_events_after_sockets)
{
    return client_control(e, e->client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(e->ev_accept), &e->ev_accept, 0,
                          NULL, NULL, irp);
}

/* ---- WskGetAddressInfo (PFN_WSK_GET_ADDRESS_INFO) ---- */
static NTSTATUS address_info(walk_env *e, PWSK_CLIENT client, PUNICODE_STRING node, ULONG name_space, GUID *provider,
                             PADDRINFOEXW hints, PADDRINFOEXW *result, PETHREAD thread, PIRP irp)
{
    return e->pd->WskGetAddressInfo(client, node, node != NULL ? &e->service : NULL, name_space, provider, hints,
                                    result, NULL, thread, irp);
}
#define RESULT (&e->out.result)
WALK(addrinfo_null_client) { return address_info(e, NULL, &e->node, NS_ALL, NULL, NULL, RESULT, NULL, irp); }
WALK(addrinfo_null_result) { return address_info(e, e->client, &e->node, NS_ALL, NULL, NULL, NULL, NULL, irp); }
WALK(addrinfo_thread_without_process)
{
    return address_info(e, e->client, &e->node, NS_ALL, NULL, NULL, RESULT, (PETHREAD)&e->dummy_thread, irp);
}
WALK(addrinfo_unknown_namespace) { return address_info(e, e->client, &e->node, 99, NULL, NULL, RESULT, NULL, irp); }
WALK(addrinfo_provider_guid)
{
    return address_info(e, e->client, &e->node, NS_ALL, &e->provider_guid, NULL, RESULT, NULL, irp);
}
WALK(addrinfo_hints_addrlen)
{
    return address_info(e, e->client, &e->node, NS_ALL, NULL, &e->hints_addrlen, RESULT, NULL, irp);
}
WALK(addrinfo_hints_next)
{
    return address_info(e, e->client, &e->node, NS_ALL, NULL, &e->hints_next, RESULT, NULL, irp);
}
WALK(addrinfo_no_name_no_service) { return address_info(e, e->client, NULL, NS_ALL, NULL, NULL, RESULT, NULL, irp); }
WALK(addrinfo_empty_name_no_service)
{
    return e->pd->WskGetAddressInfo(e->client, &e->blank, NULL, NS_ALL, NULL, NULL, RESULT, NULL, NULL, irp);
}

/* ---- WskGetNameInfo (PFN_WSK_GET_NAME_INFO) ---- */
static NTSTATUS name_info(walk_env *e, PWSK_CLIENT client, PSOCKADDR address, ULONG length, BOOLEAN outputs,
                          PETHREAD thread, PIRP irp)
{
    return e->pd->WskGetNameInfo(client, address, length, outputs ? &e->node_out : NULL,
                                 outputs ? &e->service_out : NULL, 0, NULL, thread, irp);
}
#define LOOP4 A(e->loop4), sizeof(e->loop4)
WALK(nameinfo_null_client) { return name_info(e, NULL, LOOP4, TRUE, NULL, irp); }
WALK(nameinfo_null_address) { return name_info(e, e->client, NULL, sizeof(e->loop4), TRUE, NULL, irp); }
WALK(nameinfo_zero_length) { return name_info(e, e->client, A(e->loop4), 0, TRUE, NULL, irp); }
WALK(nameinfo_length_over_storage)
{
    return name_info(e, e->client, A(e->loop4), sizeof(SOCKADDR_STORAGE) + 1, TRUE, NULL, irp);
}
WALK(nameinfo_no_outputs) { return name_info(e, e->client, LOOP4, FALSE, NULL, irp); }
WALK(nameinfo_thread_without_process)
{
    return name_info(e, e->client, LOOP4, TRUE, (PETHREAD)&e->dummy_thread, irp);
}

/* ==== socket tables ==== */

/* WskControlSocket through a given table (PFN_WSK_CONTROL_SOCKET). */
static NTSTATUS control(PFN_WSK_CONTROL_SOCKET fn, PWSK_SOCKET s, WSK_CONTROL_SOCKET_TYPE type, ULONG code,
                        ULONG level, SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out, SIZE_T *returned, PIRP irp)
{
    return fn(s, type, code, level, in_size, in, out_size, out, returned, irp);
}

/* ---- WSK_PROVIDER_BASIC_DISPATCH (a basic socket) ---- */
WALK(basic_control_null_socket)
{
    return control(BASIC_D(e->basic)->WskControlSocket, NULL, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, NULL,
                   sizeof(e->out.length), &e->out.length, NULL, irp);
}
WALK(basic_control_bad_request_type)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskControlMax, SO_RCVBUF, SOL_SOCKET, 0, NULL,
                   sizeof(e->out.length), &e->out.length, NULL, irp);
}
WALK(basic_control_unknown_ioctl)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskIoctl, 0x12345678, 0, 0, NULL,
                   sizeof(e->out.bytes), e->out.bytes, NULL, irp);
}
WALK(basic_control_unknown_option)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskSetOption, 0x7777, SOL_SOCKET,
                   sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(basic_control_unknown_level)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskGetOption, 1, 0x1234, 0, NULL,
                   sizeof(e->out.length), &e->out.length, NULL, irp);
}
WALK(basic_control_reuseaddr_short_input)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskSetOption, SO_REUSEADDR, SOL_SOCKET, 2, &e->one,
                   0, NULL, NULL, irp);
}
WALK(basic_control_reuseaddr_get_small)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskGetOption, SO_REUSEADDR, SOL_SOCKET, 0, NULL, 2,
                   &e->out.length, NULL, irp);
}
WALK(basic_control_events)
{
    return control(BASIC_D(e->basic)->WskControlSocket, e->basic, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_receive), &e->ev_receive, 0, NULL, NULL, irp);
}
WALK(basic_close_null_socket) { return BASIC_D(e->basic)->WskCloseSocket(NULL, irp); }
/* A basic socket's table read as a connection table (clients cast, wsk-part-a.md §3.4). */
WALK(basic_as_connection_bind) { return CONN_D(e->basic)->WskBind(e->basic, A(e->any4), 0, irp); }
WALK(basic_as_connection_connect) { return CONN_D(e->basic)->WskConnect(e->basic, A(e->peer4), 0, irp); }
WALK(basic_as_connection_local_address) { return CONN_D(e->basic)->WskGetLocalAddress(e->basic, OUT_ADDR, irp); }
WALK(basic_as_connection_remote_address) { return CONN_D(e->basic)->WskGetRemoteAddress(e->basic, OUT_ADDR, irp); }

/* ---- WSK_PROVIDER_LISTEN_DISPATCH ---- */
WALK(listen_control_conditional_after_bind)
{
    return control(LISTEN_D(e->listen)->WskControlSocket, e->listen, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET,
                   sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(listen_control_accept_event_unbound)
{
    return control(LISTEN_D(e->listen_unbound)->WskControlSocket, e->listen_unbound, WskSetOption,
                   SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(e->ev_accept), &e->ev_accept, 0, NULL, NULL, irp);
}
WALK(listen_control_accept_event_no_callback)
{
    return control(LISTEN_D(e->listen)->WskControlSocket, e->listen, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_accept), &e->ev_accept, 0, NULL, NULL, irp);
}
WALK(listen_control_event_wrong_npi)
{
    return control(LISTEN_D(e->listen)->WskControlSocket, e->listen, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_null_npi), &e->ev_null_npi, 0, NULL, NULL, irp);
}
WALK(listen_close_null_socket) { return LISTEN_D(e->listen)->WskCloseSocket(NULL, irp); }
WALK(listen_bind_bound) { return LISTEN_D(e->listen)->WskBind(e->listen, A(e->loop4), 0, irp); }
WALK(listen_bind_null_address) { return LISTEN_D(e->listen_unbound)->WskBind(e->listen_unbound, NULL, 0, irp); }
WALK(listen_bind_flags) { return LISTEN_D(e->listen_unbound)->WskBind(e->listen_unbound, A(e->loop4), 1, irp); }
WALK(listen_bind_wrong_family) { return LISTEN_D(e->listen_unbound)->WskBind(e->listen_unbound, A(e->loop6), 0, irp); }
WALK(listen_bind_not_local)
{
    return LISTEN_D(e->listen_unbound)->WskBind(e->listen_unbound, A(e->not_local4), 0, irp);
}
WALK(listen_bind_port_in_use) { return LISTEN_D(e->listen_unbound)->WskBind(e->listen_unbound, A(e->listen4), 0, irp); }
WALK(listen_bind_udp_listener) { return LISTEN_D(e->listen_udp)->WskBind(e->listen_udp, A(e->loop4), 0, irp); }
WALK(listen_bind_null_socket) { return LISTEN_D(e->listen)->WskBind(NULL, A(e->loop4), 0, irp); }
WALK(listen_accept_unbound)
{
    return LISTEN_D(e->listen_unbound)->WskAccept(e->listen_unbound, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(listen_accept_flags) { return LISTEN_D(e->listen)->WskAccept(e->listen, 1, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp); }
WALK(listen_accept_null_socket)
{
    return LISTEN_D(e->listen)->WskAccept(NULL, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(listen_inspect_not_conditional)
{
    return LISTEN_D(e->listen)->WskInspectComplete(e->listen, &e->unknown_id, WskInspectAccept, irp);
}
WALK(listen_inspect_null_id)
{
    return LISTEN_D(e->listen_cond)->WskInspectComplete(e->listen_cond, NULL, WskInspectAccept, irp);
}
WALK(listen_inspect_action_pend)
{
    return LISTEN_D(e->listen_cond)->WskInspectComplete(e->listen_cond, &e->unknown_id, WskInspectPend, irp);
}
WALK(listen_inspect_action_max)
{
    return LISTEN_D(e->listen_cond)->WskInspectComplete(e->listen_cond, &e->unknown_id, WskInspectMax, irp);
}
WALK(listen_inspect_unknown_id)
{
    return LISTEN_D(e->listen_cond)->WskInspectComplete(e->listen_cond, &e->unknown_id, WskInspectReject, irp);
}
WALK(listen_inspect_null_socket)
{
    return LISTEN_D(e->listen)->WskInspectComplete(NULL, &e->unknown_id, WskInspectAccept, irp);
}
WALK(listen_local_address_unbound)
{
    return LISTEN_D(e->listen_unbound)->WskGetLocalAddress(e->listen_unbound, OUT_ADDR, irp);
}
WALK(listen_local_address_null_buffer) { return LISTEN_D(e->listen)->WskGetLocalAddress(e->listen, NULL, irp); }
WALK(listen_local_address_null_socket) { return LISTEN_D(e->listen)->WskGetLocalAddress(NULL, OUT_ADDR, irp); }

/* ---- WSK_PROVIDER_DATAGRAM_DISPATCH ---- */
WALK(dgram_control_remote_unbound)
{
    return control(DGRAM_D(e->dgram_unbound)->WskControlSocket, e->dgram_unbound, WskIoctl,
                   SIO_WSK_SET_REMOTE_ADDRESS, 0, sizeof(e->loop4), &e->loop4, 0, NULL, NULL, irp);
}
WALK(dgram_control_remote_short)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, 8,
                   &e->loop4, 0, NULL, NULL, irp);
}
WALK(dgram_control_sendto_wrong_family)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskIoctl, SIO_WSK_SET_SENDTO_ADDRESS, 0,
                   sizeof(e->loop6), &e->loop6, 0, NULL, NULL, irp);
}
WALK(dgram_control_receive_from_unbound)
{
    return control(DGRAM_D(e->dgram_unbound)->WskControlSocket, e->dgram_unbound, WskSetOption,
                   SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(e->ev_receive_from), &e->ev_receive_from, 0, NULL, NULL,
                   irp);
}
WALK(dgram_control_receive_from_no_callback)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_receive_from), &e->ev_receive_from, 0, NULL, NULL, irp);
}
WALK(dgram_control_accept_event)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_accept), &e->ev_accept, 0, NULL, NULL, irp);
}
WALK(dgram_control_conditional_accept)
{
    return control(DGRAM_D(e->dgram_unbound)->WskControlSocket, e->dgram_unbound, WskSetOption,
                   SO_CONDITIONAL_ACCEPT, SOL_SOCKET, sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(dgram_control_v6only_on_ipv4)
{
    return control(DGRAM_D(e->dgram_unbound)->WskControlSocket, e->dgram_unbound, WskSetOption, IPV6_V6ONLY,
                   IPPROTO_IPV6, sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(dgram_control_ideal_backlog)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0,
                   NULL, sizeof(e->out.size), &e->out.size, NULL, irp);
}
WALK(dgram_control_receive_backlog)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0,
                   NULL, sizeof(e->out.size), &e->out.size, NULL, irp);
}
WALK(dgram_control_broadcast_get_small)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskGetOption, SO_BROADCAST, SOL_SOCKET, 0, NULL, 2,
                   &e->out.length, NULL, irp);
}
WALK(dgram_control_ttl_get_small)
{
    return control(DGRAM_D(e->dgram)->WskControlSocket, e->dgram, WskGetOption, IP_TTL, IPPROTO_IP, 0, NULL, 2,
                   &e->out.length, NULL, irp);
}
WALK(dgram_close_null_socket) { return DGRAM_D(e->dgram)->WskCloseSocket(NULL, irp); }
WALK(dgram_bind_bound) { return DGRAM_D(e->dgram)->WskBind(e->dgram, A(e->loop4), 0, irp); }
WALK(dgram_bind_wrong_family) { return DGRAM_D(e->dgram_unbound)->WskBind(e->dgram_unbound, A(e->loop6), 0, irp); }
WALK(dgram_bind_tcp_datagram) { return DGRAM_D(e->dgram_tcp)->WskBind(e->dgram_tcp, A(e->loop4), 0, irp); }
WALK(dgram_bind_null_address) { return DGRAM_D(e->dgram_unbound)->WskBind(e->dgram_unbound, NULL, 0, irp); }
WALK(dgram_send_to_unbound)
{
    return DGRAM_D(e->dgram_unbound)->WskSendTo(e->dgram_unbound, &e->buf, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_to_flags) { return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->buf, 1, A(e->peer4), 0, NULL, irp); }
WALK(dgram_send_to_null_buffer) { return DGRAM_D(e->dgram)->WskSendTo(e->dgram, NULL, 0, A(e->peer4), 0, NULL, irp); }
WALK(dgram_send_to_past_chain)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->past_chain, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_to_no_mdl) { return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->no_mdl, 0, A(e->peer4), 0, NULL, irp); }
WALK(dgram_send_to_bad_offset)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->bad_offset, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_to_wrong_family)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->buf, 0, A(e->loop6), 0, NULL, irp);
}
WALK(dgram_send_to_no_destination) { return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->buf, 0, NULL, 0, NULL, irp); }
WALK(dgram_send_to_control_length_only)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->buf, 0, A(e->peer4), 16, NULL, irp);
}
WALK(dgram_send_to_control_without_length)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->buf, 0, A(e->peer4), 0, (PCMSGHDR)e->bad_control, irp);
}
WALK(dgram_send_to_bad_control)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->buf, 0, A(e->peer4), sizeof(e->bad_control),
                                        (PCMSGHDR)e->bad_control, irp);
}
WALK(dgram_send_to_too_big)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->dgram, &e->big_buf, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_to_connection_socket)
{
    return DGRAM_D(e->dgram)->WskSendTo(e->conn, &e->buf, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_to_null_socket) { return DGRAM_D(e->dgram)->WskSendTo(NULL, &e->buf, 0, A(e->peer4), 0, NULL, irp); }
WALK(dgram_receive_from_unbound)
{
    return DGRAM_D(e->dgram_unbound)->WskReceiveFrom(e->dgram_unbound, &e->buf, 0, OUT_ADDR, &e->out.length,
                                                     (PCMSGHDR)e->out.bytes, &e->out.flags, irp);
}
WALK(dgram_receive_from_flags)
{
    return DGRAM_D(e->dgram)->WskReceiveFrom(e->dgram, &e->buf, 1, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(dgram_receive_from_null_buffer)
{
    return DGRAM_D(e->dgram)->WskReceiveFrom(e->dgram, NULL, 0, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(dgram_receive_from_past_chain)
{
    return DGRAM_D(e->dgram)->WskReceiveFrom(e->dgram, &e->past_chain, 0, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(dgram_receive_from_no_mdl)
{
    return DGRAM_D(e->dgram)->WskReceiveFrom(e->dgram, &e->no_mdl, 0, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(dgram_receive_from_listen_socket)
{
    return DGRAM_D(e->dgram)->WskReceiveFrom(e->listen, &e->buf, 0, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(dgram_receive_from_null_socket)
{
    return DGRAM_D(e->dgram)->WskReceiveFrom(NULL, &e->buf, 0, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(dgram_local_address_unbound)
{
    return DGRAM_D(e->dgram_unbound)->WskGetLocalAddress(e->dgram_unbound, OUT_ADDR, irp);
}
WALK(dgram_local_address_null_buffer) { return DGRAM_D(e->dgram)->WskGetLocalAddress(e->dgram, NULL, irp); }
WALK(dgram_send_messages_null_list)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, NULL, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_messages_flags)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, &e->list_one, 1, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_messages_unbound)
{
    return DGRAM_D(e->dgram_unbound)->WskSendMessages(e->dgram_unbound, &e->list_one, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_messages_first_bad)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, &e->list_bad_first, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_messages_second_bad)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, &e->list_bad_second, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_messages_wrong_family)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, &e->list_one, 0, A(e->loop6), 0, NULL, irp);
}
WALK(dgram_send_messages_no_destination)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, &e->list_one, 0, NULL, 0, NULL, irp);
}
WALK(dgram_send_messages_bad_control)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->dgram, &e->list_one, 0, A(e->peer4), sizeof(e->bad_control),
                                              (PCMSGHDR)e->bad_control, irp);
}
WALK(dgram_send_messages_stream_socket)
{
    return DGRAM_D(e->dgram)->WskSendMessages(e->stream_conn, &e->list_one, 0, A(e->peer4), 0, NULL, irp);
}
WALK(dgram_send_messages_null_socket)
{
    return DGRAM_D(e->dgram)->WskSendMessages(NULL, &e->list_one, 0, A(e->peer4), 0, NULL, irp);
}

/* ---- WSK_PROVIDER_CONNECTION_DISPATCH ---- */
WALK(conn_control_inspect_id_not_conditional)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL,
                   sizeof(e->out.id), &e->out.id, &e->out.size, irp);
}
WALK(conn_control_inspect_id_no_size_returned)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL,
                   sizeof(e->out.id), &e->out.id, NULL, irp);
}
WALK(conn_control_ideal_backlog_not_connected)
{
    return control(CONN_D(e->conn_bound)->WskControlSocket, e->conn_bound, WskIoctl,
                   SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL, sizeof(e->out.size), &e->out.size, NULL, irp);
}
WALK(conn_control_receive_backlog_not_connected)
{
    return control(CONN_D(e->conn_bound)->WskControlSocket, e->conn_bound, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG,
                   0, 0, NULL, sizeof(e->out.size), &e->out.size, NULL, irp);
}
WALK(conn_control_receive_backlog_small)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL, 4,
                   &e->out.size, NULL, irp);
}
WALK(conn_control_set_remote_address)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0,
                   sizeof(e->peer4), &e->peer4, 0, NULL, NULL, irp);
}
WALK(conn_control_receive_event_not_connected)
{
    return control(CONN_D(e->conn_bound)->WskControlSocket, e->conn_bound, WskSetOption, SO_WSK_EVENT_CALLBACK,
                   SOL_SOCKET, sizeof(e->ev_receive), &e->ev_receive, 0, NULL, NULL, irp);
}
WALK(conn_control_receive_event_no_callback)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_receive), &e->ev_receive, 0, NULL, NULL, irp);
}
WALK(conn_control_disable_two_events)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                   sizeof(e->ev_two_off), &e->ev_two_off, 0, NULL, NULL, irp);
}
WALK(conn_control_event_short_input)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 4,
                   &e->ev_receive, 0, NULL, NULL, irp);
}
WALK(conn_control_event_get)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskGetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0,
                   NULL, sizeof(e->out.bytes), e->out.bytes, NULL, irp);
}
WALK(conn_control_reuseaddr_after_bind)
{
    return control(CONN_D(e->conn_bound)->WskControlSocket, e->conn_bound, WskSetOption, SO_REUSEADDR, SOL_SOCKET,
                   sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(conn_control_security_size)
{
    return control(CONN_D(e->conn_unbound)->WskControlSocket, e->conn_unbound, WskSetOption, SO_WSK_SECURITY,
                   SOL_SOCKET, 4, &e->sd_in, 0, NULL, NULL, irp);
}
WALK(conn_control_get_null_output)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskGetOption, TCP_NODELAY, IPPROTO_TCP, 0, NULL, 0,
                   NULL, NULL, irp);
}
WALK(conn_control_set_null_input)
{
    return control(CONN_D(e->conn)->WskControlSocket, e->conn, WskSetOption, TCP_NODELAY, IPPROTO_TCP,
                   sizeof(ULONG), NULL, 0, NULL, NULL, irp);
}
WALK(conn_close_null_socket) { return CONN_D(e->conn)->WskCloseSocket(NULL, irp); }
WALK(conn_bind_bound) { return CONN_D(e->conn_bound)->WskBind(e->conn_bound, A(e->any4), 0, irp); }
WALK(conn_bind_connected) { return CONN_D(e->conn)->WskBind(e->conn, A(e->any4), 0, irp); }
WALK(conn_bind_flags) { return CONN_D(e->conn_unbound)->WskBind(e->conn_unbound, A(e->any4), 1, irp); }
WALK(conn_bind_wrong_family) { return CONN_D(e->conn_unbound)->WskBind(e->conn_unbound, A(e->loop6), 0, irp); }
WALK(conn_bind_unknown_family) { return CONN_D(e->conn_unbound)->WskBind(e->conn_unbound, &e->bad_family, 0, irp); }
WALK(conn_connect_unbound) { return CONN_D(e->conn_unbound)->WskConnect(e->conn_unbound, A(e->peer4), 0, irp); }
WALK(conn_connect_flags) { return CONN_D(e->conn_bound)->WskConnect(e->conn_bound, A(e->peer4), 1, irp); }
WALK(conn_connect_null_address) { return CONN_D(e->conn_bound)->WskConnect(e->conn_bound, NULL, 0, irp); }
WALK(conn_connect_wrong_family) { return CONN_D(e->conn_bound)->WskConnect(e->conn_bound, A(e->loop6), 0, irp); }
WALK(conn_connect_connected) { return CONN_D(e->conn)->WskConnect(e->conn, A(e->peer4), 0, irp); }
WALK(conn_connect_listen_socket) { return CONN_D(e->conn)->WskConnect(e->listen, A(e->peer4), 0, irp); }
WALK(conn_connect_null_socket) { return CONN_D(e->conn)->WskConnect(NULL, A(e->peer4), 0, irp); }
WALK(conn_local_address_unbound) { return CONN_D(e->conn_unbound)->WskGetLocalAddress(e->conn_unbound, OUT_ADDR, irp); }
WALK(conn_local_address_null_buffer) { return CONN_D(e->conn)->WskGetLocalAddress(e->conn, NULL, irp); }
WALK(conn_remote_address_not_connected)
{
    return CONN_D(e->conn_bound)->WskGetRemoteAddress(e->conn_bound, OUT_ADDR, irp);
}
WALK(conn_remote_address_null_buffer) { return CONN_D(e->conn)->WskGetRemoteAddress(e->conn, NULL, irp); }
WALK(conn_remote_address_null_socket) { return CONN_D(e->conn)->WskGetRemoteAddress(NULL, OUT_ADDR, irp); }
WALK(conn_send_not_connected) { return CONN_D(e->conn_bound)->WskSend(e->conn_bound, &e->buf, 0, irp); }
WALK(conn_send_null_buffer) { return CONN_D(e->conn)->WskSend(e->conn, NULL, 0, irp); }
WALK(conn_send_unknown_flag) { return CONN_D(e->conn)->WskSend(e->conn, &e->buf, 0x100, irp); }
WALK(conn_send_oob) { return CONN_D(e->conn)->WskSend(e->conn, &e->buf, WSK_FLAG_OOB, irp); }
WALK(conn_send_past_chain) { return CONN_D(e->conn)->WskSend(e->conn, &e->past_chain, 0, irp); }
WALK(conn_send_no_mdl) { return CONN_D(e->conn)->WskSend(e->conn, &e->no_mdl, 0, irp); }
WALK(conn_send_bad_offset) { return CONN_D(e->conn)->WskSend(e->conn, &e->bad_offset, 0, irp); }
WALK(conn_send_after_disconnect) { return CONN_D(e->conn_shut)->WskSend(e->conn_shut, &e->buf, 0, irp); }
WALK(conn_send_null_socket) { return CONN_D(e->conn)->WskSend(NULL, &e->buf, 0, irp); }
WALK(conn_receive_not_connected) { return CONN_D(e->conn_bound)->WskReceive(e->conn_bound, &e->buf, 0, irp); }
WALK(conn_receive_null_buffer) { return CONN_D(e->conn)->WskReceive(e->conn, NULL, 0, irp); }
WALK(conn_receive_waitall_drain)
{
    return CONN_D(e->conn)->WskReceive(e->conn, &e->buf, WSK_FLAG_WAITALL | WSK_FLAG_DRAIN, irp);
}
WALK(conn_receive_unknown_flag) { return CONN_D(e->conn)->WskReceive(e->conn, &e->buf, 0x100, irp); }
WALK(conn_receive_drain_with_length) { return CONN_D(e->conn)->WskReceive(e->conn, &e->buf, WSK_FLAG_DRAIN, irp); }
WALK(conn_receive_past_chain) { return CONN_D(e->conn)->WskReceive(e->conn, &e->past_chain, 0, irp); }
WALK(conn_receive_no_mdl) { return CONN_D(e->conn)->WskReceive(e->conn, &e->no_mdl, 0, irp); }
WALK(conn_receive_null_socket) { return CONN_D(e->conn)->WskReceive(NULL, &e->buf, 0, irp); }
WALK(conn_disconnect_not_connected) { return CONN_D(e->conn_bound)->WskDisconnect(e->conn_bound, NULL, 0, irp); }
WALK(conn_disconnect_abortive_not_connected)
{
    return CONN_D(e->conn_bound)->WskDisconnect(e->conn_bound, NULL, WSK_FLAG_ABORTIVE, irp);
}
WALK(conn_disconnect_unknown_flag) { return CONN_D(e->conn)->WskDisconnect(e->conn, NULL, 0x2, irp); }
WALK(conn_disconnect_past_chain) { return CONN_D(e->conn)->WskDisconnect(e->conn, &e->past_chain, 0, irp); }
WALK(conn_disconnect_null_socket) { return CONN_D(e->conn)->WskDisconnect(NULL, NULL, 0, irp); }
WALK(conn_connect_ex_unbound)
{
    return CONN_D(e->conn_unbound)->WskConnectEx(e->conn_unbound, A(e->peer4), NULL, 0, irp);
}
WALK(conn_connect_ex_flags) { return CONN_D(e->conn_bound)->WskConnectEx(e->conn_bound, A(e->peer4), NULL, 1, irp); }
WALK(conn_connect_ex_null_address) { return CONN_D(e->conn_bound)->WskConnectEx(e->conn_bound, NULL, NULL, 0, irp); }
WALK(conn_connect_ex_buffer_too_big)
{
    return CONN_D(e->conn_bound)->WskConnectEx(e->conn_bound, A(e->peer4), &e->big_buf, 0, irp);
}
WALK(conn_connect_ex_past_chain)
{
    return CONN_D(e->conn_bound)->WskConnectEx(e->conn_bound, A(e->peer4), &e->past_chain, 0, irp);
}
WALK(conn_connect_ex_wrong_family)
{
    return CONN_D(e->conn_bound)->WskConnectEx(e->conn_bound, A(e->loop6), NULL, 0, irp);
}
WALK(conn_connect_ex_connected) { return CONN_D(e->conn)->WskConnectEx(e->conn, A(e->peer4), NULL, 0, irp); }
WALK(conn_connect_ex_null_socket) { return CONN_D(e->conn)->WskConnectEx(NULL, A(e->peer4), NULL, 0, irp); }
WALK(conn_send_ex_control)
{
    return CONN_D(e->conn)->WskSendEx(e->conn, &e->buf, 0, sizeof(e->bad_control), (PCMSGHDR)e->bad_control, irp);
}
WALK(conn_send_ex_control_length_only) { return CONN_D(e->conn)->WskSendEx(e->conn, &e->buf, 0, 16, NULL, irp); }
WALK(conn_send_ex_not_connected) { return CONN_D(e->conn_bound)->WskSendEx(e->conn_bound, &e->buf, 0, 0, NULL, irp); }
WALK(conn_send_ex_past_chain) { return CONN_D(e->conn)->WskSendEx(e->conn, &e->past_chain, 0, 0, NULL, irp); }
WALK(conn_send_ex_null_socket) { return CONN_D(e->conn)->WskSendEx(NULL, &e->buf, 0, 0, NULL, irp); }
WALK(conn_receive_ex_not_connected)
{
    return CONN_D(e->conn_bound)->WskReceiveEx(e->conn_bound, &e->buf, 0, NULL, NULL, NULL, irp);
}
WALK(conn_receive_ex_waitall_drain)
{
    return CONN_D(e->conn)->WskReceiveEx(e->conn, &e->buf, WSK_FLAG_WAITALL | WSK_FLAG_DRAIN, &e->out.length,
                                         (PCMSGHDR)e->out.bytes, &e->out.flags, irp);
}
WALK(conn_receive_ex_past_chain)
{
    return CONN_D(e->conn)->WskReceiveEx(e->conn, &e->past_chain, 0, NULL, NULL, NULL, irp);
}
WALK(conn_receive_ex_null_socket) { return CONN_D(e->conn)->WskReceiveEx(NULL, &e->buf, 0, NULL, NULL, NULL, irp); }

/* ---- WSK_PROVIDER_STREAM_DISPATCH ---- */
WALK(stream_control_receive_event_not_connected)
{
    return control(STREAM_D(e->stream_bound)->WskControlSocket, e->stream_bound, WskSetOption, SO_WSK_EVENT_CALLBACK,
                   SOL_SOCKET, sizeof(e->ev_receive), &e->ev_receive, 0, NULL, NULL, irp);
}
WALK(stream_control_ideal_backlog_listening)
{
    return control(STREAM_D(e->stream_listening)->WskControlSocket, e->stream_listening, WskIoctl,
                   SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL, sizeof(e->out.size), &e->out.size, NULL, irp);
}
WALK(stream_control_v6only_after_bind)
{
    return control(STREAM_D(e->stream_bound)->WskControlSocket, e->stream_bound, WskSetOption, IPV6_V6ONLY,
                   IPPROTO_IPV6, sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(stream_close_null_socket) { return STREAM_D(e->stream_conn)->WskCloseSocket(NULL, irp); }
WALK(stream_bind_bound) { return STREAM_D(e->stream_bound)->WskBind(e->stream_bound, A(e->any4), 0, irp); }
WALK(stream_bind_wrong_family) { return STREAM_D(e->stream_unbound)->WskBind(e->stream_unbound, A(e->loop6), 0, irp); }
WALK(stream_bind_null_address) { return STREAM_D(e->stream_unbound)->WskBind(e->stream_unbound, NULL, 0, irp); }
WALK(stream_accept_unbound)
{
    return STREAM_D(e->stream_unbound)->WskAccept(e->stream_unbound, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(stream_accept_not_listening)
{
    return STREAM_D(e->stream_bound)->WskAccept(e->stream_bound, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(stream_accept_connected)
{
    return STREAM_D(e->stream_conn)->WskAccept(e->stream_conn, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(stream_accept_flags)
{
    return STREAM_D(e->stream_listening)->WskAccept(e->stream_listening, 1, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(stream_accept_null_socket)
{
    return STREAM_D(e->stream_listening)->WskAccept(NULL, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(stream_connect_unbound) { return STREAM_D(e->stream_unbound)->WskConnect(e->stream_unbound, A(e->peer4), 0, irp); }
WALK(stream_connect_listening)
{
    return STREAM_D(e->stream_listening)->WskConnect(e->stream_listening, A(e->peer4), 0, irp);
}
WALK(stream_connect_connected) { return STREAM_D(e->stream_conn)->WskConnect(e->stream_conn, A(e->peer4), 0, irp); }
WALK(stream_connect_flags) { return STREAM_D(e->stream_bound)->WskConnect(e->stream_bound, A(e->peer4), 1, irp); }
WALK(stream_listen_unbound) { return STREAM_D(e->stream_unbound)->WskListen(e->stream_unbound, irp); }
WALK(stream_listen_listening) { return STREAM_D(e->stream_listening)->WskListen(e->stream_listening, irp); }
WALK(stream_listen_connected) { return STREAM_D(e->stream_conn)->WskListen(e->stream_conn, irp); }
WALK(stream_listen_null_socket) { return STREAM_D(e->stream_listening)->WskListen(NULL, irp); }
WALK(stream_send_not_connected) { return STREAM_D(e->stream_bound)->WskSend(e->stream_bound, &e->buf, 0, irp); }
WALK(stream_send_listening) { return STREAM_D(e->stream_listening)->WskSend(e->stream_listening, &e->buf, 0, irp); }
WALK(stream_send_unknown_flag) { return STREAM_D(e->stream_conn)->WskSend(e->stream_conn, &e->buf, 0x100, irp); }
WALK(stream_send_no_mdl) { return STREAM_D(e->stream_conn)->WskSend(e->stream_conn, &e->no_mdl, 0, irp); }
WALK(stream_receive_not_connected) { return STREAM_D(e->stream_bound)->WskReceive(e->stream_bound, &e->buf, 0, irp); }
WALK(stream_receive_waitall_drain)
{
    return STREAM_D(e->stream_conn)->WskReceive(e->stream_conn, &e->buf, WSK_FLAG_WAITALL | WSK_FLAG_DRAIN, irp);
}
WALK(stream_receive_bad_offset) { return STREAM_D(e->stream_conn)->WskReceive(e->stream_conn, &e->bad_offset, 0, irp); }
WALK(stream_disconnect_not_connected)
{
    return STREAM_D(e->stream_listening)->WskDisconnect(e->stream_listening, NULL, 0, irp);
}
WALK(stream_disconnect_unknown_flag) { return STREAM_D(e->stream_conn)->WskDisconnect(e->stream_conn, NULL, 0x2, irp); }
WALK(stream_local_address_unbound)
{
    return STREAM_D(e->stream_unbound)->WskGetLocalAddress(e->stream_unbound, OUT_ADDR, irp);
}
WALK(stream_local_address_null_buffer)
{
    return STREAM_D(e->stream_conn)->WskGetLocalAddress(e->stream_conn, NULL, irp);
}
WALK(stream_remote_address_bound)
{
    return STREAM_D(e->stream_bound)->WskGetRemoteAddress(e->stream_bound, OUT_ADDR, irp);
}
WALK(stream_remote_address_listening)
{
    return STREAM_D(e->stream_listening)->WskGetRemoteAddress(e->stream_listening, OUT_ADDR, irp);
}
WALK(stream_connect_ex_unbound)
{
    return STREAM_D(e->stream_unbound)->WskConnectEx(e->stream_unbound, A(e->peer4), NULL, 0, irp);
}
WALK(stream_connect_ex_listening)
{
    return STREAM_D(e->stream_listening)->WskConnectEx(e->stream_listening, A(e->peer4), NULL, 0, irp);
}
WALK(stream_connect_ex_connected)
{
    return STREAM_D(e->stream_conn)->WskConnectEx(e->stream_conn, A(e->peer4), NULL, 0, irp);
}
WALK(stream_connect_ex_buffer_too_big)
{
    return STREAM_D(e->stream_bound)->WskConnectEx(e->stream_bound, A(e->peer4), &e->big_buf, 0, irp);
}
WALK(stream_send_ex_control)
{
    return STREAM_D(e->stream_conn)->WskSendEx(e->stream_conn, &e->buf, 0, sizeof(e->bad_control),
                                               (PCMSGHDR)e->bad_control, irp);
}
WALK(stream_send_ex_not_connected)
{
    return STREAM_D(e->stream_bound)->WskSendEx(e->stream_bound, &e->buf, 0, 0, NULL, irp);
}
WALK(stream_receive_ex_not_connected)
{
    return STREAM_D(e->stream_bound)->WskReceiveEx(e->stream_bound, &e->buf, 0, NULL, NULL, NULL, irp);
}
WALK(stream_receive_ex_drain_with_length)
{
    return STREAM_D(e->stream_conn)->WskReceiveEx(e->stream_conn, &e->buf, WSK_FLAG_DRAIN, NULL, NULL, NULL, irp);
}

/* Shorthands: an IRP-required call fails the same way whatever its
 * arguments when the IRP is NULL. */
#define REQ(fn, st) {#fn, fn, (st), STATUS_INVALID_PARAMETER, 0}
#define REQ_F(fn, st, fl) {#fn, fn, (st), STATUS_INVALID_PARAMETER, (fl)}
/* An optional IRP: the call fails the same way without one. */
#define OPT(fn, st) {#fn, fn, (st), (st), 0}
#define BOTH(fn, with, without) {#fn, fn, (with), (without), 0}

static const walk_case open_cases[] = {
    /* WskSocket */
    {"socket_null_client", socket_null_client, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, LEAVES_IRP},
    REQ_F(socket_two_categories, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    REQ_F(socket_unknown_flag, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    REQ_F(socket_family_unspec, STATUS_NOT_SUPPORTED, MAKES_SOCKET),
    REQ_F(socket_family_unknown, STATUS_NOT_SUPPORTED, MAKES_SOCKET),
    REQ_F(socket_stream_protocol_zero, STATUS_PROTOCOL_UNREACHABLE, MAKES_SOCKET),
    REQ_F(socket_dgram_protocol_zero, STATUS_PROTOCOL_UNREACHABLE, MAKES_SOCKET),
    REQ_F(socket_stream_over_udp, STATUS_NOT_SUPPORTED, MAKES_SOCKET),
    REQ_F(socket_unknown_type, STATUS_NOT_SUPPORTED, MAKES_SOCKET),
    REQ_F(socket_basic_with_dispatch, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    REQ_F(socket_basic_with_context, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    /* WskSocketConnect */
    {"socket_connect_null_client", socket_connect_null_client, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER,
     LEAVES_IRP},
    REQ_F(socket_connect_null_local, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    REQ_F(socket_connect_null_remote, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    REQ_F(socket_connect_flags, STATUS_INVALID_PARAMETER, MAKES_SOCKET),
    REQ_F(socket_connect_family_mismatch, STATUS_INVALID_ADDRESS, MAKES_SOCKET),
    REQ_F(socket_connect_unknown_family, STATUS_NOT_SUPPORTED, MAKES_SOCKET),
    REQ_F(socket_connect_udp, STATUS_NOT_SUPPORTED, MAKES_SOCKET),
    REQ_F(socket_connect_protocol_zero, STATUS_PROTOCOL_UNREACHABLE, MAKES_SOCKET),
    REQ_F(socket_connect_local_not_ours, STATUS_INVALID_ADDRESS_COMPONENT, MAKES_SOCKET),
    REQ_F(socket_connect_local_in_use, STATUS_ADDRESS_ALREADY_EXISTS, MAKES_SOCKET),
    REQ_F(socket_connect_refused, STATUS_CONNECTION_REFUSED, MAKES_SOCKET), /* fails later, through the IRP */
    /* WskControlClient: the NULL-IRP cases of codes whose IRP must be NULL */
    {"client_null_client", client_null_client, STATUS_INVALID_HANDLE, STATUS_INVALID_HANDLE, LEAVES_IRP},
    OPT(client_unknown_code, STATUS_INVALID_PARAMETER),
    {"client_list_change_needs_irp", client_list_change_needs_irp, SKIP, STATUS_INVALID_PARAMETER, 0},
    /* WskControlClient: an IRP given to a code whose IRP must be NULL fails the call, through the IRP */
    {"client_list_query_with_irp", client_list_query_with_irp, STATUS_INVALID_PARAMETER, SKIP, 0},
    {"client_list_query_with_irp_null_size", client_list_query_with_irp_null_size, STATUS_INVALID_PARAMETER, SKIP,
     0},
    {"client_cache_sd_with_irp", client_cache_sd_with_irp, STATUS_INVALID_PARAMETER, SKIP, 0},
    {"client_release_sd_with_irp", client_release_sd_with_irp, STATUS_INVALID_PARAMETER, SKIP, 0},
    {"client_tdi_mapping_with_irp", client_tdi_mapping_with_irp, STATUS_INVALID_PARAMETER, SKIP, 0},
    {"client_static_events_with_irp", client_static_events_with_irp, STATUS_INVALID_PARAMETER, SKIP, 0},
    {"client_tdi_behavior_with_irp", client_tdi_behavior_with_irp, STATUS_INVALID_PARAMETER, SKIP, 0},
    /* ... and the failures of those codes without one */
    {"client_list_query_no_size_returned", client_list_query_no_size_returned, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_cache_sd_null_descriptor", client_cache_sd_null_descriptor, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_cache_sd_output_small", client_cache_sd_output_small, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_release_sd_not_cached", client_release_sd_not_cached, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_tdi_behavior_unknown_flag", client_tdi_behavior_unknown_flag, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_tdi_behavior_no_input", client_tdi_behavior_no_input, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_tdi_mapping_unsupported", client_tdi_mapping_unsupported, SKIP, STATUS_NOT_SUPPORTED, 0},
    {"client_static_events_null_npi", client_static_events_null_npi, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_static_events_unknown_event", client_static_events_unknown_event, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_static_events_short_input", client_static_events_short_input, SKIP, STATUS_INVALID_PARAMETER, 0},
    {"client_static_events_after_sockets", client_static_events_after_sockets, SKIP, STATUS_INVALID_DEVICE_STATE,
     0},
    /* WskGetAddressInfo */
    {"addrinfo_null_client", addrinfo_null_client, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, LEAVES_IRP},
    REQ(addrinfo_null_result, STATUS_INVALID_PARAMETER),
    REQ(addrinfo_thread_without_process, STATUS_INVALID_PARAMETER),
    REQ(addrinfo_unknown_namespace, STATUS_NOT_SUPPORTED),
    REQ(addrinfo_provider_guid, STATUS_NOT_SUPPORTED),
    REQ(addrinfo_hints_addrlen, STATUS_INVALID_PARAMETER),
    REQ(addrinfo_hints_next, STATUS_INVALID_PARAMETER),
    REQ(addrinfo_no_name_no_service, STATUS_INVALID_PARAMETER),
    REQ(addrinfo_empty_name_no_service, STATUS_INVALID_PARAMETER),
    /* WskGetNameInfo */
    {"nameinfo_null_client", nameinfo_null_client, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, LEAVES_IRP},
    REQ(nameinfo_null_address, STATUS_INVALID_PARAMETER),
    REQ(nameinfo_zero_length, STATUS_INVALID_PARAMETER),
    REQ(nameinfo_length_over_storage, STATUS_INVALID_PARAMETER),
    REQ(nameinfo_no_outputs, STATUS_INVALID_PARAMETER),
    REQ(nameinfo_thread_without_process, STATUS_INVALID_PARAMETER),

    /* BASIC */
    OPT(basic_control_null_socket, STATUS_INVALID_HANDLE),
    OPT(basic_control_bad_request_type, STATUS_INVALID_PARAMETER),
    OPT(basic_control_unknown_ioctl, STATUS_NOT_SUPPORTED),
    OPT(basic_control_unknown_option, STATUS_NOT_SUPPORTED),
    OPT(basic_control_unknown_level, STATUS_NOT_SUPPORTED),
    BOTH(basic_control_reuseaddr_short_input, STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER),
    BOTH(basic_control_reuseaddr_get_small, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER),
    OPT(basic_control_events, STATUS_INVALID_PARAMETER),
    REQ(basic_close_null_socket, STATUS_INVALID_HANDLE),
    REQ(basic_as_connection_bind, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_connect, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_local_address, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_remote_address, STATUS_INVALID_DEVICE_REQUEST),

    /* LISTEN */
    BOTH(listen_control_conditional_after_bind, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER),
    OPT(listen_control_accept_event_unbound, STATUS_INVALID_DEVICE_STATE),
    OPT(listen_control_accept_event_no_callback, STATUS_INVALID_PARAMETER),
    OPT(listen_control_event_wrong_npi, STATUS_INVALID_PARAMETER),
    REQ(listen_close_null_socket, STATUS_INVALID_HANDLE),
    REQ(listen_bind_bound, STATUS_ADDRESS_ALREADY_ASSOCIATED),
    REQ(listen_bind_null_address, STATUS_INVALID_PARAMETER),
    REQ(listen_bind_flags, STATUS_INVALID_PARAMETER),
    REQ(listen_bind_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(listen_bind_not_local, STATUS_INVALID_ADDRESS_COMPONENT),
    REQ(listen_bind_port_in_use, STATUS_ADDRESS_ALREADY_EXISTS),
    REQ(listen_bind_udp_listener, STATUS_NOT_IMPLEMENTED),
    REQ(listen_bind_null_socket, STATUS_INVALID_HANDLE),
    REQ(listen_accept_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(listen_accept_flags, STATUS_INVALID_PARAMETER),
    REQ(listen_accept_null_socket, STATUS_INVALID_HANDLE),
    REQ(listen_inspect_not_conditional, STATUS_INVALID_DEVICE_STATE),
    REQ(listen_inspect_null_id, STATUS_INVALID_PARAMETER),
    REQ(listen_inspect_action_pend, STATUS_INVALID_PARAMETER),
    REQ(listen_inspect_action_max, STATUS_INVALID_PARAMETER),
    REQ(listen_inspect_unknown_id, STATUS_INVALID_PARAMETER),
    REQ(listen_inspect_null_socket, STATUS_INVALID_HANDLE),
    REQ(listen_local_address_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(listen_local_address_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(listen_local_address_null_socket, STATUS_INVALID_HANDLE),

    /* DATAGRAM */
    BOTH(dgram_control_remote_unbound, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER),
    REQ(dgram_control_remote_short, STATUS_INVALID_PARAMETER),
    REQ(dgram_control_sendto_wrong_family, STATUS_INVALID_PARAMETER),
    OPT(dgram_control_receive_from_unbound, STATUS_INVALID_DEVICE_STATE),
    OPT(dgram_control_receive_from_no_callback, STATUS_INVALID_PARAMETER),
    OPT(dgram_control_accept_event, STATUS_INVALID_PARAMETER),
    REQ(dgram_control_conditional_accept, STATUS_INVALID_PARAMETER),
    OPT(dgram_control_v6only_on_ipv4, STATUS_INVALID_PARAMETER),
    BOTH(dgram_control_ideal_backlog, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER),
    OPT(dgram_control_receive_backlog, STATUS_INVALID_DEVICE_REQUEST),
    BOTH(dgram_control_broadcast_get_small, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER),
    OPT(dgram_control_ttl_get_small, STATUS_BUFFER_TOO_SMALL),
    REQ(dgram_close_null_socket, STATUS_INVALID_HANDLE),
    REQ(dgram_bind_bound, STATUS_ADDRESS_ALREADY_ASSOCIATED),
    REQ(dgram_bind_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(dgram_bind_tcp_datagram, STATUS_NOT_IMPLEMENTED),
    REQ(dgram_bind_null_address, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(dgram_send_to_flags, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_past_chain, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_no_mdl, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_bad_offset, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(dgram_send_to_no_destination, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_control_length_only, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_control_without_length, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_bad_control, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_to_too_big, STATUS_INVALID_BUFFER_SIZE), /* fails later, through the IRP */
    REQ(dgram_send_to_connection_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(dgram_send_to_null_socket, STATUS_INVALID_HANDLE),
    REQ(dgram_receive_from_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(dgram_receive_from_flags, STATUS_INVALID_PARAMETER),
    REQ(dgram_receive_from_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(dgram_receive_from_past_chain, STATUS_INVALID_PARAMETER),
    REQ(dgram_receive_from_no_mdl, STATUS_INVALID_PARAMETER),
    REQ(dgram_receive_from_listen_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(dgram_receive_from_null_socket, STATUS_INVALID_HANDLE),
    REQ(dgram_local_address_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(dgram_local_address_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_null_list, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_flags, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(dgram_send_messages_first_bad, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_second_bad, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(dgram_send_messages_no_destination, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_bad_control, STATUS_INVALID_PARAMETER),
    REQ(dgram_send_messages_stream_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(dgram_send_messages_null_socket, STATUS_INVALID_HANDLE),

    /* CONNECTION */
    /* SIO_WSK_QUERY_INSPECT_ID takes no IRP: one given fails the call, through the IRP */
    {"conn_control_inspect_id_with_irp", conn_control_inspect_id_not_conditional, STATUS_INVALID_PARAMETER, SKIP,
     0},
    {"conn_control_inspect_id_with_irp_no_size", conn_control_inspect_id_no_size_returned, STATUS_INVALID_PARAMETER,
     SKIP, 0},
    {"conn_control_inspect_id_not_conditional", conn_control_inspect_id_not_conditional, SKIP,
     STATUS_INVALID_DEVICE_REQUEST, 0},
    {"conn_control_inspect_id_no_size_returned", conn_control_inspect_id_no_size_returned, SKIP,
     STATUS_INVALID_PARAMETER, 0},
    BOTH(conn_control_ideal_backlog_not_connected, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER),
    OPT(conn_control_receive_backlog_not_connected, STATUS_INVALID_DEVICE_STATE),
    OPT(conn_control_receive_backlog_small, STATUS_BUFFER_TOO_SMALL),
    BOTH(conn_control_set_remote_address, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER),
    OPT(conn_control_receive_event_not_connected, STATUS_INVALID_DEVICE_STATE),
    OPT(conn_control_receive_event_no_callback, STATUS_INVALID_PARAMETER),
    OPT(conn_control_disable_two_events, STATUS_INVALID_PARAMETER),
    OPT(conn_control_event_short_input, STATUS_INVALID_PARAMETER),
    OPT(conn_control_event_get, STATUS_INVALID_PARAMETER),
    BOTH(conn_control_reuseaddr_after_bind, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER),
    REQ(conn_control_security_size, STATUS_INVALID_PARAMETER),
    OPT(conn_control_get_null_output, STATUS_BUFFER_TOO_SMALL),
    OPT(conn_control_set_null_input, STATUS_INVALID_PARAMETER),
    REQ(conn_close_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_bind_bound, STATUS_ADDRESS_ALREADY_ASSOCIATED),
    REQ(conn_bind_connected, STATUS_ADDRESS_ALREADY_ASSOCIATED),
    REQ(conn_bind_flags, STATUS_INVALID_PARAMETER),
    REQ(conn_bind_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(conn_bind_unknown_family, STATUS_INVALID_ADDRESS),
    REQ_F(conn_connect_unbound, STATUS_INVALID_DEVICE_STATE, RETURNED_AT_ONCE),
    REQ(conn_connect_flags, STATUS_INVALID_PARAMETER),
    REQ(conn_connect_null_address, STATUS_INVALID_PARAMETER),
    REQ(conn_connect_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(conn_connect_connected, STATUS_CONNECTION_ACTIVE),
    REQ(conn_connect_listen_socket, STATUS_INVALID_DEVICE_REQUEST), /* another category's function */
    REQ(conn_connect_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_local_address_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(conn_local_address_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(conn_remote_address_not_connected, STATUS_INVALID_DEVICE_STATE),
    REQ(conn_remote_address_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(conn_remote_address_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_send_not_connected, STATUS_INVALID_CONNECTION),
    REQ(conn_send_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(conn_send_unknown_flag, STATUS_NOT_SUPPORTED),
    REQ(conn_send_oob, STATUS_NOT_SUPPORTED),
    REQ(conn_send_past_chain, STATUS_INVALID_PARAMETER),
    REQ(conn_send_no_mdl, STATUS_INVALID_PARAMETER),
    REQ(conn_send_bad_offset, STATUS_INVALID_PARAMETER),
    REQ(conn_send_after_disconnect, STATUS_PIPE_DISCONNECTED),
    REQ(conn_send_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_receive_not_connected, STATUS_INVALID_CONNECTION),
    REQ(conn_receive_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_waitall_drain, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_unknown_flag, STATUS_NOT_SUPPORTED),
    REQ(conn_receive_drain_with_length, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_past_chain, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_no_mdl, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_disconnect_not_connected, STATUS_INVALID_CONNECTION),
    REQ(conn_disconnect_abortive_not_connected, STATUS_INVALID_CONNECTION),
    REQ(conn_disconnect_unknown_flag, STATUS_INVALID_PARAMETER),
    REQ(conn_disconnect_past_chain, STATUS_INVALID_PARAMETER),
    REQ(conn_disconnect_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_connect_ex_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(conn_connect_ex_flags, STATUS_INVALID_PARAMETER),
    REQ(conn_connect_ex_null_address, STATUS_INVALID_PARAMETER),
    REQ(conn_connect_ex_buffer_too_big, STATUS_BUFFER_OVERFLOW),
    REQ(conn_connect_ex_past_chain, STATUS_INVALID_PARAMETER),
    REQ(conn_connect_ex_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(conn_connect_ex_connected, STATUS_CONNECTION_ACTIVE),
    REQ(conn_connect_ex_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_send_ex_control, STATUS_NOT_SUPPORTED),
    REQ(conn_send_ex_control_length_only, STATUS_INVALID_PARAMETER),
    REQ(conn_send_ex_not_connected, STATUS_INVALID_CONNECTION),
    REQ(conn_send_ex_past_chain, STATUS_INVALID_PARAMETER),
    REQ(conn_send_ex_null_socket, STATUS_INVALID_HANDLE),
    REQ(conn_receive_ex_not_connected, STATUS_INVALID_CONNECTION),
    REQ(conn_receive_ex_waitall_drain, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_ex_past_chain, STATUS_INVALID_PARAMETER),
    REQ(conn_receive_ex_null_socket, STATUS_INVALID_HANDLE),

    /* STREAM */
    OPT(stream_control_receive_event_not_connected, STATUS_INVALID_DEVICE_STATE),
    BOTH(stream_control_ideal_backlog_listening, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER),
    OPT(stream_control_v6only_after_bind, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_close_null_socket, STATUS_INVALID_HANDLE),
    REQ(stream_bind_bound, STATUS_ADDRESS_ALREADY_ASSOCIATED),
    REQ(stream_bind_wrong_family, STATUS_INVALID_ADDRESS),
    REQ(stream_bind_null_address, STATUS_INVALID_PARAMETER),
    REQ(stream_accept_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_accept_not_listening, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_accept_connected, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_accept_flags, STATUS_INVALID_PARAMETER),
    REQ(stream_accept_null_socket, STATUS_INVALID_HANDLE),
    REQ_F(stream_connect_unbound, STATUS_INVALID_DEVICE_STATE, RETURNED_AT_ONCE),
    REQ(stream_connect_listening, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_connect_connected, STATUS_CONNECTION_ACTIVE),
    REQ(stream_connect_flags, STATUS_INVALID_PARAMETER),
    REQ(stream_listen_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_listen_listening, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_listen_connected, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_listen_null_socket, STATUS_INVALID_HANDLE),
    REQ(stream_send_not_connected, STATUS_INVALID_CONNECTION),
    REQ(stream_send_listening, STATUS_INVALID_CONNECTION),
    REQ(stream_send_unknown_flag, STATUS_NOT_SUPPORTED),
    REQ(stream_send_no_mdl, STATUS_INVALID_PARAMETER),
    REQ(stream_receive_not_connected, STATUS_INVALID_CONNECTION),
    REQ(stream_receive_waitall_drain, STATUS_INVALID_PARAMETER),
    REQ(stream_receive_bad_offset, STATUS_INVALID_PARAMETER),
    REQ(stream_disconnect_not_connected, STATUS_INVALID_CONNECTION),
    REQ(stream_disconnect_unknown_flag, STATUS_INVALID_PARAMETER),
    REQ(stream_local_address_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_local_address_null_buffer, STATUS_INVALID_PARAMETER),
    REQ(stream_remote_address_bound, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_remote_address_listening, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_connect_ex_unbound, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_connect_ex_listening, STATUS_INVALID_DEVICE_STATE),
    REQ(stream_connect_ex_connected, STATUS_CONNECTION_ACTIVE),
    REQ(stream_connect_ex_buffer_too_big, STATUS_BUFFER_OVERFLOW),
    REQ(stream_send_ex_control, STATUS_NOT_SUPPORTED),
    REQ(stream_send_ex_not_connected, STATUS_INVALID_CONNECTION),
    REQ(stream_receive_ex_not_connected, STATUS_INVALID_CONNECTION),
    REQ(stream_receive_ex_drain_with_length, STATUS_INVALID_PARAMETER),
};

/* ---- refused since the provider checks category and close first ---- */

/* The slots of a basic socket's table beyond WskGetRemoteAddress, read as a
 * connection table; a NULL slot is reported instead of called. */
#define NULL_SLOT ((NTSTATUS)0xC0DE0000)
WALK(basic_as_connection_send)
{
    PFN_WSK_SEND fn = CONN_D(e->basic)->WskSend;
    return fn == NULL ? NULL_SLOT : fn(e->basic, &e->buf, 0, irp);
}
WALK(basic_as_connection_receive)
{
    PFN_WSK_RECEIVE fn = CONN_D(e->basic)->WskReceive;
    return fn == NULL ? NULL_SLOT : fn(e->basic, &e->buf, 0, irp);
}
WALK(basic_as_connection_disconnect)
{
    PFN_WSK_DISCONNECT fn = CONN_D(e->basic)->WskDisconnect;
    return fn == NULL ? NULL_SLOT : fn(e->basic, NULL, 0, irp);
}
WALK(basic_as_connection_connect_ex)
{
    PFN_WSK_CONNECT_EX fn = CONN_D(e->basic)->WskConnectEx;
    return fn == NULL ? NULL_SLOT : fn(e->basic, A(e->peer4), NULL, 0, irp);
}
WALK(basic_as_connection_send_ex)
{
    PFN_WSK_SEND_EX fn = CONN_D(e->basic)->WskSendEx;
    return fn == NULL ? NULL_SLOT : fn(e->basic, &e->buf, 0, 0, NULL, irp);
}
WALK(basic_as_connection_receive_ex)
{
    PFN_WSK_RECEIVE_EX fn = CONN_D(e->basic)->WskReceiveEx;
    return fn == NULL ? NULL_SLOT : fn(e->basic, &e->buf, 0, NULL, NULL, NULL, irp);
}
/* Another category's function given this socket. */
WALK(conn_bind_basic_socket) { return CONN_D(e->conn)->WskBind(e->victim_basic, A(e->any4), 0, irp); }
WALK(conn_connect_datagram_socket) { return CONN_D(e->conn)->WskConnect(e->victim_dgram, A(e->peer4), 0, irp); }
WALK(conn_connect_ex_datagram_socket)
{
    return CONN_D(e->conn)->WskConnectEx(e->victim_dgram2, A(e->peer4), NULL, 0, irp);
}
WALK(conn_send_datagram_socket) { return CONN_D(e->conn)->WskSend(e->dgram, &e->buf, 0, irp); }
WALK(conn_receive_datagram_socket) { return CONN_D(e->conn)->WskReceive(e->dgram, &e->buf, 0, irp); }
WALK(conn_remote_address_datagram_socket) { return CONN_D(e->conn)->WskGetRemoteAddress(e->dgram, OUT_ADDR, irp); }
WALK(listen_accept_connection_socket)
{
    return LISTEN_D(e->listen)->WskAccept(e->conn, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(listen_inspect_datagram_socket)
{
    return LISTEN_D(e->listen)->WskInspectComplete(e->dgram, &e->unknown_id, WskInspectAccept, irp);
}
WALK(stream_listen_datagram_socket) { return STREAM_D(e->stream_listening)->WskListen(e->dgram, irp); }
WALK(stream_listen_connection_socket) { return STREAM_D(e->stream_listening)->WskListen(e->conn_bound, irp); }
/* WSK_FLAG_ABORTIVE takes no buffer (PFN_WSK_DISCONNECT). */
WALK(conn_disconnect_abortive_with_buffer)
{
    return CONN_D(e->victim_conn)->WskDisconnect(e->victim_conn, &e->buf, WSK_FLAG_ABORTIVE, irp);
}
/* A failed WskReceiveEx leaves *ControlInfoLength and *ControlFlags alone. */
WALK(conn_receive_ex_not_connected_outputs)
{
    return CONN_D(e->conn_bound)->WskReceiveEx(e->conn_bound, &e->buf, 0, &e->out.length, (PCMSGHDR)e->out.bytes,
                                               &e->out.flags, irp);
}

static const walk_case open_cases_refused[] = {
    /* wsk_socket.c: the basic table's slots past WskGetRemoteAddress are NULL. */
    REQ(basic_as_connection_send, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_receive, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_disconnect, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_connect_ex, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_send_ex, STATUS_INVALID_DEVICE_REQUEST),
    REQ(basic_as_connection_receive_ex, STATUS_INVALID_DEVICE_REQUEST),
    /* wsk_socket.c, wsk_conn.c: functions of another category. */
    REQ(conn_bind_basic_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(conn_connect_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(conn_connect_ex_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(conn_send_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(conn_receive_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(conn_remote_address_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(listen_accept_connection_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(listen_inspect_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(stream_listen_datagram_socket, STATUS_INVALID_DEVICE_REQUEST),
    REQ(stream_listen_connection_socket, STATUS_INVALID_DEVICE_REQUEST),
    /* wsk_conn.c: an abortive disconnect with a buffer. */
    REQ(conn_disconnect_abortive_with_buffer, STATUS_INVALID_PARAMETER),
    /* wsk_conn.c: WskReceiveEx writes its outputs before it checks the socket's state. */
    REQ(conn_receive_ex_not_connected_outputs, STATUS_INVALID_CONNECTION),
};

/* ==== calls on a socket whose close is pending ==== */

/* SO_RCVBUF takes an IRP (wsk-part-b.md §8.2), IP_TTL need not. */
WALK(closing_control_get)
{
    return control(BASIC_D(e->closing)->WskControlSocket, e->closing, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, NULL,
                   sizeof(e->out.length), &e->out.length, NULL, irp);
}
WALK(closing_control_set)
{
    return control(BASIC_D(e->closing)->WskControlSocket, e->closing, WskSetOption, IP_TTL, IPPROTO_IP,
                   sizeof(e->one), &e->one, 0, NULL, NULL, irp);
}
WALK(closing_close_again) { return BASIC_D(e->closing)->WskCloseSocket(e->closing, irp); }
/* Connection. */
WALK(closing_conn_bind) { return CONN_D(e->closing)->WskBind(e->closing, A(e->any4), 0, irp); }
WALK(closing_conn_connect) { return CONN_D(e->closing)->WskConnect(e->closing, A(e->peer4), 0, irp); }
WALK(closing_conn_local_address) { return CONN_D(e->closing)->WskGetLocalAddress(e->closing, OUT_ADDR, irp); }
WALK(closing_conn_remote_address) { return CONN_D(e->closing)->WskGetRemoteAddress(e->closing, OUT_ADDR, irp); }
WALK(closing_conn_send) { return CONN_D(e->closing)->WskSend(e->closing, &e->buf, 0, irp); }
WALK(closing_conn_receive) { return CONN_D(e->closing)->WskReceive(e->closing, &e->buf, 0, irp); }
WALK(closing_conn_disconnect) { return CONN_D(e->closing)->WskDisconnect(e->closing, NULL, 0, irp); }
WALK(closing_conn_disconnect_abortive)
{
    return CONN_D(e->closing)->WskDisconnect(e->closing, NULL, WSK_FLAG_ABORTIVE, irp);
}
WALK(closing_conn_connect_ex) { return CONN_D(e->closing)->WskConnectEx(e->closing, A(e->peer4), NULL, 0, irp); }
WALK(closing_conn_send_ex) { return CONN_D(e->closing)->WskSendEx(e->closing, &e->buf, 0, 0, NULL, irp); }
WALK(closing_conn_receive_ex)
{
    return CONN_D(e->closing)->WskReceiveEx(e->closing, &e->buf, 0, NULL, NULL, NULL, irp);
}
/* Datagram. */
WALK(closing_dgram_bind) { return DGRAM_D(e->closing)->WskBind(e->closing, A(e->loop4), 0, irp); }
WALK(closing_dgram_send_to)
{
    return DGRAM_D(e->closing)->WskSendTo(e->closing, &e->buf, 0, A(e->peer4), 0, NULL, irp);
}
WALK(closing_dgram_receive_from)
{
    return DGRAM_D(e->closing)->WskReceiveFrom(e->closing, &e->buf, 0, OUT_ADDR, NULL, NULL, NULL, irp);
}
WALK(closing_dgram_local_address) { return DGRAM_D(e->closing)->WskGetLocalAddress(e->closing, OUT_ADDR, irp); }
WALK(closing_dgram_send_messages)
{
    return DGRAM_D(e->closing)->WskSendMessages(e->closing, &e->list_one, 0, A(e->peer4), 0, NULL, irp);
}
/* Listening. */
WALK(closing_listen_bind) { return LISTEN_D(e->closing)->WskBind(e->closing, A(e->loop4), 0, irp); }
WALK(closing_listen_accept)
{
    return LISTEN_D(e->closing)->WskAccept(e->closing, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(closing_listen_inspect_complete)
{
    return LISTEN_D(e->closing)->WskInspectComplete(e->closing, &e->unknown_id, WskInspectAccept, irp);
}
WALK(closing_listen_local_address) { return LISTEN_D(e->closing)->WskGetLocalAddress(e->closing, OUT_ADDR, irp); }
/* Stream. */
WALK(closing_stream_bind) { return STREAM_D(e->closing)->WskBind(e->closing, A(e->any4), 0, irp); }
WALK(closing_stream_accept)
{
    return STREAM_D(e->closing)->WskAccept(e->closing, 0, NULL, NULL, OUT_ADDR, OUT_ADDR2, irp);
}
WALK(closing_stream_connect) { return STREAM_D(e->closing)->WskConnect(e->closing, A(e->peer4), 0, irp); }
WALK(closing_stream_listen) { return STREAM_D(e->closing)->WskListen(e->closing, irp); }
WALK(closing_stream_send) { return STREAM_D(e->closing)->WskSend(e->closing, &e->buf, 0, irp); }
WALK(closing_stream_receive) { return STREAM_D(e->closing)->WskReceive(e->closing, &e->buf, 0, irp); }
WALK(closing_stream_disconnect) { return STREAM_D(e->closing)->WskDisconnect(e->closing, NULL, 0, irp); }
WALK(closing_stream_local_address) { return STREAM_D(e->closing)->WskGetLocalAddress(e->closing, OUT_ADDR, irp); }
WALK(closing_stream_remote_address) { return STREAM_D(e->closing)->WskGetRemoteAddress(e->closing, OUT_ADDR, irp); }
WALK(closing_stream_connect_ex) { return STREAM_D(e->closing)->WskConnectEx(e->closing, A(e->peer4), NULL, 0, irp); }
WALK(closing_stream_send_ex) { return STREAM_D(e->closing)->WskSendEx(e->closing, &e->buf, 0, 0, NULL, irp); }
WALK(closing_stream_receive_ex)
{
    return STREAM_D(e->closing)->WskReceiveEx(e->closing, &e->buf, 0, NULL, NULL, NULL, irp);
}

/* A call after WskCloseSocket is refused as on a socket that stopped
 * working (STATUS_FILE_FORCED_CLOSED, docs/decisions.md); a second close
 * finds no socket (STATUS_INVALID_HANDLE). */
static const walk_case closing_conn_cases[] = {
    REQ(closing_close_again, STATUS_INVALID_HANDLE),
    BOTH(closing_control_get, STATUS_FILE_FORCED_CLOSED, STATUS_INVALID_PARAMETER),
    OPT(closing_control_set, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_connect, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_send, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_receive, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_disconnect, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_disconnect_abortive, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_connect_ex, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_send_ex, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_receive_ex, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_conn_refused[] = {
    /* wsk_socket.c: bind and the address queries still act on a closing socket. */
    REQ(closing_conn_bind, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_local_address, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_conn_remote_address, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_dgram_cases[] = {
    REQ(closing_close_again, STATUS_INVALID_HANDLE),
    BOTH(closing_control_get, STATUS_FILE_FORCED_CLOSED, STATUS_INVALID_PARAMETER),
    OPT(closing_control_set, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_dgram_send_to, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_dgram_receive_from, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_dgram_send_messages, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_dgram_refused[] = {
    /* wsk_socket.c, as above */
    REQ(closing_dgram_bind, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_dgram_local_address, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_listen_cases[] = {
    REQ(closing_close_again, STATUS_INVALID_HANDLE),
    BOTH(closing_control_get, STATUS_FILE_FORCED_CLOSED, STATUS_INVALID_PARAMETER),
    OPT(closing_control_set, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_listen_accept, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_listen_refused[] = {
    /* wsk_socket.c, as above, and wsk_accept.c (WskInspectComplete) */
    REQ(closing_listen_bind, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_listen_inspect_complete, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_listen_local_address, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_stream_cases[] = {
    REQ(closing_close_again, STATUS_INVALID_HANDLE),
    BOTH(closing_control_get, STATUS_FILE_FORCED_CLOSED, STATUS_INVALID_PARAMETER),
    OPT(closing_control_set, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_accept, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_connect, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_listen, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_send, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_receive, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_disconnect, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_connect_ex, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_send_ex, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_receive_ex, STATUS_FILE_FORCED_CLOSED),
};
static const walk_case closing_stream_refused[] = {
    /* wsk_socket.c, as above */
    REQ(closing_stream_bind, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_local_address, STATUS_FILE_FORCED_CLOSED),
    REQ(closing_stream_remote_address, STATUS_FILE_FORCED_CLOSED),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ==== the walk ==== */

static int variants_walked;


static void fill_out(walk_env *e)
{
    memset(&e->out, 0xA5, sizeof(e->out));
}

static BOOLEAN out_untouched(const walk_env *e)
{
    walk_out pattern;
    memset(&pattern, 0xA5, sizeof(pattern));
    return memcmp(&pattern, &e->out, sizeof(pattern)) == 0;
}

static void walk_one(walk_env *e, const walk_case *c)
{
    if (c->without_irp != SKIP) {
        /* No IRP: the status returned, and nothing written anywhere. */
        fill_out(e);
        NTSTATUS r = c->call(e, NULL);
        if (r != c->without_irp)
            WT_FAIL("%s without an IRP: returned 0x%x, expected 0x%x", c->name, (unsigned)r,
                    (unsigned)c->without_irp);
        if (!out_untouched(e))
            WT_FAIL("%s without an IRP: wrote to the caller's output", c->name);
        variants_walked++;
    }
    if (c->with_irp == SKIP)
        return;
    fill_out(e);
    PIRP irp = wt_irp_arm(&e->w);
    NTSTATUS r = c->call(e, irp);
    variants_walked++;
    if (c->flags & LEAVES_IRP) {
        if (r != c->with_irp)
            WT_FAIL("%s: returned 0x%x, expected 0x%x", c->name, (unsigned)r, (unsigned)c->with_irp);
        usleep(10 * 1000);
        if (InterlockedCompareExchange(&e->w.completions, 0, 0) != 0 || irp->IoStatus.Status != STATUS_UNSUCCESSFUL ||
            irp->IoStatus.Information != 0xDEADBEEF || irp->CurrentLocation != irp->StackCount + 1)
            WT_FAIL("%s: the IRP was touched (completions %d, status 0x%x)", c->name, (int)e->w.completions,
                    (unsigned)irp->IoStatus.Status);
        return;
    }
    if (r != STATUS_PENDING && InterlockedCompareExchange(&e->w.completions, 0, 0) == 0) {
        /* Nothing will complete it later: a final status was returned. */
        WT_FAIL("%s: returned 0x%x without completing the IRP", c->name, (unsigned)r);
        return;
    }
    if ((c->flags & RETURNED_AT_ONCE) && r != c->with_irp)
        WT_FAIL("%s: returned 0x%x, expected 0x%x at once", c->name, (unsigned)r, (unsigned)c->with_irp);
    int failed_before = wt_case_failed;
    wt_case_failed = 0;
    NTSTATUS st = wt_irp_result(&e->w, r);
    if (wt_case_failed)
        fprintf(stderr, "    (in %s)\n", c->name);
    wt_case_failed |= failed_before;
    if (st == STATUS_PENDING)
        return; /* never completed: reported above */
    if (st != c->with_irp)
        WT_FAIL("%s: completed with 0x%x, expected 0x%x", c->name, (unsigned)st, (unsigned)c->with_irp);
    if (NT_SUCCESS(st) && (c->flags & MAKES_SOCKET) && irp->IoStatus.Information != 0) {
        PWSK_SOCKET made = (PWSK_SOCKET)irp->IoStatus.Information;
        wt_irp closer = {0};
        NTSTATUS cr = BASIC_D(made)->WskCloseSocket(made, wt_irp_arm(&closer));
        (void)wt_irp_result(&closer, cr);
        wt_irp_free(&closer);
        return;
    }
    if (!NT_SUCCESS(st) && irp->IoStatus.Information != 0)
        WT_FAIL("%s: failed with Information 0x%llx", c->name, (unsigned long long)irp->IoStatus.Information);
    if (!NT_SUCCESS(st) && !out_untouched(e))
        WT_FAIL("%s: failed but wrote to the caller's output", c->name);
}

static void walk_cases(walk_env *e, const walk_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        walk_one(e, &cases[i]);
}

/* ==== the sockets ==== */

static PWSK_SOCKET make(walk_env *e, ADDRESS_FAMILY family, USHORT type, ULONG protocol, ULONG flags,
                        const VOID *dispatch)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&e->t, family, type, protocol, flags, NULL, dispatch, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    return s;
}

static void bind_to(walk_env *e, PWSK_SOCKET s, const SOCKADDR_IN *a)
{
    CHECK_EQ(wt_bind(&e->t, s, a), STATUS_SUCCESS);
}

static NTSTATUS connect_to(walk_env *e, PWSK_SOCKET s, BOOLEAN stream, const SOCKADDR_IN *a)
{
    PIRP irp = wt_irp_arm(&e->t.irp);
    NTSTATUS r = stream ? STREAM_D(s)->WskConnect(s, (PSOCKADDR)a, 0, irp)
                        : CONN_D(s)->WskConnect(s, (PSOCKADDR)a, 0, irp);
    return wt_irp_result(&e->t.irp, r);
}

static WSK_INSPECT_ACTION WSKAPI reject_all(PVOID SocketContext, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                            PWSK_INSPECT_ID InspectID)
{
    (void)SocketContext;
    (void)LocalAddress;
    (void)RemoteAddress;
    (void)InspectID;
    return WskInspectReject;
}

static NTSTATUS WSKAPI abort_ignored(PVOID SocketContext, PWSK_INSPECT_ID InspectID)
{
    (void)SocketContext;
    (void)InspectID;
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH conditional_events = {NULL, reject_all, abort_ignored};

static void env_buffers(walk_env *e)
{
    e->data = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 'klaW');
    memset(e->data, 'd', 64);
    e->mdl_head = IoAllocateMdl(e->data, 32, FALSE, FALSE, NULL);
    e->mdl_tail = IoAllocateMdl(e->data + 32, 32, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(e->mdl_head);
    MmBuildMdlForNonPagedPool(e->mdl_tail);
    e->mdl_head->Next = e->mdl_tail;
    e->buf = (WSK_BUF){e->mdl_head, 0, 16};
    e->past_chain = (WSK_BUF){e->mdl_head, 8, 64}; /* 56 bytes described, 64 asked for */
    e->no_mdl = (WSK_BUF){NULL, 0, 10};
    e->bad_offset = (WSK_BUF){e->mdl_head, 32, 1}; /* Offset must lie inside the first MDL */
    e->big = ExAllocatePool2(POOL_FLAG_NON_PAGED, 70000, 'klaW');
    e->big_mdl = IoAllocateMdl(e->big, 70000, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(e->big_mdl);
    e->big_buf = (WSK_BUF){e->big_mdl, 0, 70000};
    e->list_one = (WSK_BUF_LIST){NULL, {e->mdl_head, 0, 8}};
    e->list_bad_first = (WSK_BUF_LIST){NULL, {NULL, 0, 8}};
    e->list_bad_second_next = (WSK_BUF_LIST){NULL, {e->mdl_head, 0, 100}};
    e->list_bad_second = (WSK_BUF_LIST){&e->list_bad_second_next, {e->mdl_head, 0, 8}};

    e->any4 = wt_in4("0.0.0.0", 0);
    e->loop4 = wt_in4("127.0.0.1", 0);
    e->not_local4 = wt_in4("192.0.2.1", 0); /* TEST-NET-1: no host owns it */
    e->loop6 = wt_in6("::1", 0);
    memset(&e->bad_family, 0, sizeof(e->bad_family));
    e->bad_family.sa_family = 99;
    /* One control object claiming more bytes than the buffer holds. */
    memset(e->bad_control, 0, sizeof(e->bad_control));
    SIZE_T claimed = 64;
    memcpy(e->bad_control, &claimed, sizeof(claimed));
    e->ev_receive = (WSK_EVENT_CALLBACK_CONTROL){(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    e->ev_receive_from = (WSK_EVENT_CALLBACK_CONTROL){(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    e->ev_accept = (WSK_EVENT_CALLBACK_CONTROL){(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT};
    e->ev_null_npi = (WSK_EVENT_CALLBACK_CONTROL){NULL, WSK_EVENT_ACCEPT};
    e->ev_two_off = (WSK_EVENT_CALLBACK_CONTROL){(PNPIID)&NPI_WSK_INTERFACE_ID,
                                                 WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE};
    e->unknown_id = (WSK_INSPECT_ID){0x1234, 99};
    RtlInitUnicodeString(&e->node, L"127.0.0.1");
    RtlInitUnicodeString(&e->service, L"80");
    RtlInitUnicodeString(&e->blank, L"");
    memset(&e->hints_ok, 0, sizeof(e->hints_ok));
    e->hints_addrlen = e->hints_ok;
    e->hints_addrlen.ai_addrlen = sizeof(SOCKADDR_IN);
    e->hints_next = e->hints_ok;
    e->hints_next.ai_next = &e->hints_ok;
    e->provider_guid = (GUID){1, 2, 3, {4, 5, 6, 7, 8, 9, 10, 11}};
    e->one = 1;
    e->sd_in = (PSECURITY_DESCRIPTOR)e->data; /* never evaluated, and not a cached descriptor */
    e->node_out = (UNICODE_STRING){0, sizeof(e->node_buf), e->node_buf};
    e->service_out = (UNICODE_STRING){0, sizeof(e->service_buf), e->service_buf};
}

/* A registered client, the inputs, and a Linux listener to connect to. */
static walk_env *env_new(void)
{
    walk_env *e = calloc(1, sizeof(*e));
    wt_wsk_open(&e->t);
    e->client = e->t.provider.Client;
    e->pd = e->t.provider.Dispatch;
    env_buffers(e);
    e->peer_conn = e->peer_shut = e->peer_stream = e->peer_victim = -1;
    e->peer_listener = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(e->peer_listener >= 0);
    e->peer4 = wt_in4("127.0.0.1", peer_local_port(e->peer_listener));
    return e;
}

/* One socket per category and state. */
static void env_sockets(walk_env *e)
{
    e->basic = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_BASIC_SOCKET, NULL);
    e->victim_basic = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_BASIC_SOCKET, NULL);

    e->listen_unbound = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL);
    e->listen = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL);
    bind_to(e, e->listen, &e->loop4);
    SOCKADDR_IN local;
    CHECK_EQ(wt_local_address(&e->t, e->listen, &local), STATUS_SUCCESS);
    e->listen4 = wt_in4("127.0.0.1", RtlUshortByteSwap(local.sin_port));
    e->listen_cond = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &conditional_events);
    CHECK_EQ(wt_set_ulong(&e->t, e->listen_cond, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_SUCCESS);
    bind_to(e, e->listen_cond, &e->loop4);
    e->listen_udp = make(e, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_LISTEN_SOCKET, NULL);

    e->dgram_unbound = make(e, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL);
    e->dgram = make(e, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL);
    bind_to(e, e->dgram, &e->loop4);
    e->dgram_tcp = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_DATAGRAM_SOCKET, NULL);
    e->victim_dgram = make(e, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL);
    bind_to(e, e->victim_dgram, &e->loop4);
    e->victim_dgram2 = make(e, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL);
    bind_to(e, e->victim_dgram2, &e->loop4);

    e->conn_unbound = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL);
    e->conn_bound = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL);
    bind_to(e, e->conn_bound, &e->any4);
    /* Its port is held but nobody listens there: a connect to it is refused. */
    CHECK_EQ(wt_local_address(&e->t, e->conn_bound, &local), STATUS_SUCCESS);
    e->refused4 = wt_in4("127.0.0.1", RtlUshortByteSwap(local.sin_port));
    e->conn = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL);
    bind_to(e, e->conn, &e->any4);
    CHECK_EQ(connect_to(e, e->conn, FALSE, &e->peer4), STATUS_SUCCESS);
    e->peer_conn = peer_accept(e->peer_listener, 2000);
    e->conn_shut = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL);
    bind_to(e, e->conn_shut, &e->any4);
    CHECK_EQ(connect_to(e, e->conn_shut, FALSE, &e->peer4), STATUS_SUCCESS);
    e->peer_shut = peer_accept(e->peer_listener, 2000);
    NTSTATUS r = CONN_D(e->conn_shut)->WskDisconnect(e->conn_shut, NULL, 0, wt_irp_arm(&e->t.irp));
    CHECK_EQ(wt_irp_result(&e->t.irp, r), STATUS_SUCCESS);
    e->victim_conn = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL);
    bind_to(e, e->victim_conn, &e->any4);
    CHECK_EQ(connect_to(e, e->victim_conn, FALSE, &e->peer4), STATUS_SUCCESS);
    e->peer_victim = peer_accept(e->peer_listener, 2000);

    e->stream_unbound = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, NULL);
    e->stream_bound = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, NULL);
    bind_to(e, e->stream_bound, &e->any4);
    e->stream_listening = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, NULL);
    bind_to(e, e->stream_listening, &e->loop4);
    r = STREAM_D(e->stream_listening)->WskListen(e->stream_listening, wt_irp_arm(&e->t.irp));
    CHECK_EQ(wt_irp_result(&e->t.irp, r), STATUS_SUCCESS);
    e->stream_conn = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, NULL);
    bind_to(e, e->stream_conn, &e->any4);
    CHECK_EQ(connect_to(e, e->stream_conn, TRUE, &e->peer4), STATUS_SUCCESS);
    e->peer_stream = peer_accept(e->peer_listener, 2000);
}

static void env_close(walk_env *e)
{
    PWSK_SOCKET all[] = {e->basic,          e->victim_basic,  e->listen_unbound, e->listen,       e->listen_cond,
                         e->listen_udp,     e->dgram_unbound, e->dgram,          e->dgram_tcp,    e->victim_dgram,
                         e->victim_dgram2,  e->conn_unbound,  e->conn_bound,     e->conn,         e->conn_shut,
                         e->victim_conn,    e->stream_unbound, e->stream_bound,  e->stream_listening,
                         e->stream_conn};
    for (size_t i = 0; i < COUNT(all); i++)
        if (all[i] != NULL)
            CHECK_EQ(wt_close(&e->t, all[i]), STATUS_SUCCESS);
    int fds[] = {e->peer_conn, e->peer_shut, e->peer_stream, e->peer_victim, e->peer_listener};
    for (size_t i = 0; i < COUNT(fds); i++)
        if (fds[i] >= 0)
            peer_close(fds[i]);
    IoFreeMdl(e->mdl_head);
    IoFreeMdl(e->mdl_tail);
    IoFreeMdl(e->big_mdl);
    ExFreePool(e->data);
    ExFreePool(e->big);
    wt_irp_free(&e->w);
    wt_wsk_close(&e->t);
    free(e);
}

/* ==== holding a close pending ==== */

/* An event callback that waits until the test opens the gate: the socket's
 * close cannot complete while it runs (PFN_WSK_CLOSE_SOCKET). */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    BOOLEAN open;
    KEVENT entered;
} gate;

static gate hold;

static void gate_pass(void)
{
    pthread_mutex_lock(&hold.mu);
    KeSetEvent(&hold.entered, IO_NO_INCREMENT, FALSE);
    while (!hold.open)
        pthread_cond_wait(&hold.cv, &hold.mu); /* not KeWait: callbacks run at DISPATCH_LEVEL */
    pthread_mutex_unlock(&hold.mu);
}

static void gate_reset(void)
{
    pthread_mutex_lock(&hold.mu);
    hold.open = FALSE;
    KeInitializeEvent(&hold.entered, NotificationEvent, FALSE);
    pthread_mutex_unlock(&hold.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&hold.mu);
    hold.open = TRUE;
    pthread_cond_broadcast(&hold.cv);
    pthread_mutex_unlock(&hold.mu);
}

static NTSTATUS WSKAPI held_receive(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                    SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)SocketContext;
    (void)Flags;
    (void)DataIndication;
    (void)BytesIndicated;
    (void)BytesAccepted;
    gate_pass();
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI held_receive_from(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    (void)SocketContext;
    (void)Flags;
    (void)DataIndication;
    gate_pass();
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI held_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                                   PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                                   const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)SocketContext;
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    (void)AcceptSocket;
    (void)AcceptSocketContext;
    (void)AcceptSocketDispatch;
    gate_pass();
    return STATUS_REQUEST_NOT_ACCEPTED; /* the provider closes it */
}

static const WSK_CLIENT_CONNECTION_DISPATCH held_connection_events = {held_receive, NULL, NULL};
static const WSK_CLIENT_DATAGRAM_DISPATCH held_datagram_events = {held_receive_from};
static const WSK_CLIENT_LISTEN_DISPATCH held_listen_events = {held_accept, NULL, NULL};
static const WSK_CLIENT_STREAM_DISPATCH held_stream_events = {NULL, &held_connection_events};

typedef enum { HOLD_CONNECTION, HOLD_DATAGRAM, HOLD_LISTEN, HOLD_STREAM } hold_kind;

/* Enabling takes no IRP (SO_WSK_EVENT_CALLBACK). */
static NTSTATUS enable(PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    return BASIC_D(s)->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control,
                                        0, NULL, NULL, NULL);
}

/* A socket of the kind, with one of its event callbacks running and held. */
static PWSK_SOCKET held_socket(walk_env *e, hold_kind kind, int *peer)
{
    PWSK_SOCKET s = NULL;
    *peer = -1;
    switch (kind) {
    case HOLD_CONNECTION:
    case HOLD_STREAM: {
        BOOLEAN stream = kind == HOLD_STREAM;
        s = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, stream ? WSK_FLAG_STREAM_SOCKET : WSK_FLAG_CONNECTION_SOCKET,
                 stream ? (const VOID *)&held_stream_events : (const VOID *)&held_connection_events);
        bind_to(e, s, &e->any4);
        CHECK_EQ(connect_to(e, s, stream, &e->peer4), STATUS_SUCCESS);
        *peer = peer_accept(e->peer_listener, 2000);
        CHECK_EQ(enable(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
        CHECK_EQ(peer_send_all(*peer, "x", 1), 1);
        break;
    }
    case HOLD_DATAGRAM: {
        s = make(e, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &held_datagram_events);
        bind_to(e, s, &e->loop4);
        SOCKADDR_IN local;
        CHECK_EQ(wt_local_address(&e->t, s, &local), STATUS_SUCCESS);
        CHECK_EQ(enable(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
        CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port), "x", 1), 0);
        break;
    }
    case HOLD_LISTEN: {
        s = make(e, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &held_listen_events);
        bind_to(e, s, &e->loop4);
        SOCKADDR_IN local;
        CHECK_EQ(wt_local_address(&e->t, s, &local), STATUS_SUCCESS);
        CHECK_EQ(enable(s, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
        *peer = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port));
        CHECK(*peer >= 0);
        break;
    }
    }
    return s;
}

static void walk_closing(walk_env *e, hold_kind kind, const walk_case *cases, size_t n, const walk_case *refused,
                         size_t n_refused)
{
    gate_reset();
    int peer;
    PWSK_SOCKET s = held_socket(e, kind, &peer);
    LARGE_INTEGER two_s = {.QuadPart = -2000LL * 10000};
    if (s == NULL || KeWaitForSingleObject(&hold.entered, Executive, KernelMode, FALSE, &two_s) != STATUS_SUCCESS) {
        WT_FAIL("kind %d: the event callback never ran", (int)kind);
        gate_open();
        if (s != NULL)
            CHECK_EQ(wt_close(&e->t, s), STATUS_SUCCESS);
        if (peer >= 0)
            peer_close(peer);
        return;
    }
    wt_irp closer = {0};
    for (int i = 0; i < 64; i++)
        if (e->t.made[i].socket == s)
            e->t.made[i].socket = NULL;
    NTSTATUS r = BASIC_D(s)->WskCloseSocket(s, wt_irp_arm(&closer));
    CHECK_EQ(r, STATUS_PENDING);
    usleep(10 * 1000);
    if (InterlockedCompareExchange(&closer.completions, 0, 0) == 0) {
        e->closing = s; /* still there: its close waits for the callback */
        walk_cases(e, cases, n);
        walk_cases(e, refused, n_refused);
        e->closing = NULL;
    } else {
        WT_FAIL("kind %d: the close completed while a callback ran", (int)kind);
    }
    gate_open();
    CHECK_EQ(wt_irp_result(&closer, r), STATUS_SUCCESS);
    wt_irp_free(&closer);
    if (peer >= 0)
        peer_close(peer);
}

/* ==== cases ==== */

static void walk_open_sockets(void)
{
    walk_env *e = env_new();
    env_sockets(e);
    walk_cases(e, open_cases, COUNT(open_cases));
    walk_cases(e, open_cases_refused, COUNT(open_cases_refused));
    env_close(e);
}

static void walk_closing_sockets(void)
{
    walk_env *e = env_new();
    walk_closing(e, HOLD_CONNECTION, closing_conn_cases, COUNT(closing_conn_cases), closing_conn_refused,
                 COUNT(closing_conn_refused));
    walk_closing(e, HOLD_DATAGRAM, closing_dgram_cases, COUNT(closing_dgram_cases), closing_dgram_refused,
                 COUNT(closing_dgram_refused));
    walk_closing(e, HOLD_LISTEN, closing_listen_cases, COUNT(closing_listen_cases), closing_listen_refused,
                 COUNT(closing_listen_refused));
    walk_closing(e, HOLD_STREAM, closing_stream_cases, COUNT(closing_stream_cases), closing_stream_refused,
                 COUNT(closing_stream_refused));
    env_close(e);
}

static void nothing_left_behind(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
}

int main(void)
{
    pthread_mutex_init(&hold.mu, NULL);
    pthread_cond_init(&hold.cv, NULL);
    KeInitializeEvent(&hold.entered, NotificationEvent, FALSE);
    WT_RUN(walk_open_sockets);
    WT_RUN(walk_closing_sockets);
    size_t rows = COUNT(open_cases) + COUNT(closing_conn_cases) + COUNT(closing_dgram_cases) +
                  COUNT(closing_listen_cases) + COUNT(closing_stream_cases);
    rows += COUNT(open_cases_refused) + COUNT(closing_conn_refused) + COUNT(closing_dgram_refused) +
            COUNT(closing_listen_refused) + COUNT(closing_stream_refused);
    printf("%zu cases, %d calls made\n", rows, variants_walked);
    WT_RUN(nothing_left_behind);
    return wt_finish();
}
