/*
 * wsk_req.h - the request lifecycle: how one asynchronous WSK operation
 * lives from the call to its completion, and the per-socket rules that
 * hold whatever the engine backend (wsk_req.c owns them all).
 *
 * A request is a wsk_req of its socket, reused from a free list (the steady
 * data path allocates nothing).  Its life:
 *   take      wsk_req_take_locked: a free request with room for the segments;
 *   pend      wsk_req_pend_locked: the IRP is marked pending, gets a cancel
 *             routine and the request joins the socket's pending list;
 *   submit    the owner starts the engine operation with wsk_req_io_done, or
 *             queues the request (r->queued) on a list of its own;
 *   progress  each engine result goes to ops->progress, which may resubmit
 *             (a WAITALL receive, the next datagram of WskSendMessages);
 *   decide    the result is final (io_finished); whichever of the engine's
 *             completion and the IRP's cancel routine comes second goes on;
 *   finish    ops->finish turns the result into IoStatus (socket lock held);
 *   deliver   IoCompleteRequest runs with no lock held.
 *
 * The rules:
 *  1. Every IRP handed to the provider completes exactly once.
 *  2. The close IRP completes only after every other IRP of the socket has
 *     completed AND its IoCompleteRequest has returned, and after every
 *     event callback on the socket has returned: a request in delivery
 *     holds a callbacks reference until its completion routine is back
 *     (PFN_WSK_CLOSE_SOCKET, Remarks: the close waits for in-progress
 *     calls and callbacks; drivers free their contexts in its completion).
 *  3. Receives on a connection complete in the order they were issued: one
 *     receive at a time is in the engine (a WAITALL or DRAIN receive that
 *     resubmits keeps its turn); the rest wait in s->recv_wait.
 *  4. Sends and a graceful disconnect reach the wire in the order issued: a
 *     disconnect waits in s->disconnect_wait until every earlier send has
 *     been handed to the kernel (PFN_WSK_DISCONNECT, Remarks); sends issued
 *     after it are refused with STATUS_PIPE_DISCONNECTED.
 *  5. Nothing starts on a socket once its close has begun: calls are
 *     refused and the provider arms no new reads or accepts.
 */
#ifndef OPENWSK_WSK_REQ_H
#define OPENWSK_WSK_REQ_H

#include <ntddk.h>
#include <wsk.h>

#include "wsk_io.h"

struct wsk_socket;
struct wsk_req;

typedef enum wsk_req_kind {
    WSK_REQ_ACCEPT,
    WSK_REQ_CONNECT,
    WSK_REQ_SEND,
    WSK_REQ_RECEIVE,
    WSK_REQ_DISCONNECT,
    WSK_REQ_SOCKET_CONNECT, /* WskSocketConnect: the connect step */
    WSK_REQ_CONNECT_EX,     /* WskConnectEx: connect, then send the optional buffer */
    WSK_REQ_ACCEPT_EVENT,   /* no IRP: feeds WskAcceptEvent */
    WSK_REQ_RX_READ,        /* no IRP: reads for queued receives and receive events */
    WSK_REQ_SEND_TO,        /* one datagram (wsk_dgram.c) */
    WSK_REQ_RECEIVE_FROM,
    WSK_REQ_DGRAM_READ,     /* no IRP: reads for WskReceiveFromEvent */
    WSK_REQ_SEND_MESSAGES,  /* a WSK_BUF_LIST: one datagram after the other */
} wsk_req_kind;

/* What a finished request reports. */
typedef struct wsk_req_outcome {
    PIRP irp;
    NTSTATUS status;
    ULONG_PTR information;
    struct wsk_socket *destroy_first; /* destroyed before completing: a socket the client never saw */
    struct wsk_socket *kick;          /* a socket whose receive path starts before the IRP completes */
    struct wsk_socket *lets_decided_go; /* r was its decided_after: the decided requests follow it */
} wsk_req_outcome;

/* The per-kind hooks, given by the file that owns the operation. */
typedef struct wsk_req_ops {
    /* An engine result for r (lock held): record it, and return TRUE if r
     * goes on (the hook resubmitted it) or FALSE if its result is final.
     * NULL: every result is final. */
    BOOLEAN (*progress)(struct wsk_socket *s, struct wsk_req *r, long result, size_t transferred);
    /* Fills out->status and out->information from the final result (lock held). */
    void (*finish)(struct wsk_socket *s, struct wsk_req *r, wsk_req_outcome *out);
} wsk_req_ops;

/* MDLs described inside the request (most WSK_BUFs have one or two);
 * longer chains get an array kept with the request for reuse.  Five keeps
 * a request at 1008 bytes, which with the pool's 16-byte header stays in
 * glibc's per-thread cache (allocations up to 1032 bytes): a new
 * connection's two requests then cost no heap search (callgrind,
 * tcp_connect: 12,688 -> 12,151 instructions per connection). */
#define WSK_REQ_INLINE_SEGMENTS 5

typedef struct wsk_req {
    LIST_ENTRY link;           /* the socket's pending or free list */
    LIST_ENTRY queue_link;     /* while r->queued: the list that holds it; once decided: s->decided */
    struct wsk_socket *socket;
    PIRP irp;                  /* NULL for the provider's own reads */
    wsk_req_kind kind;
    const wsk_req_ops *ops;
    ULONG flags;               /* the call's WSK_FLAG_* */
    BOOLEAN io_finished;       /* the result is final */
    BOOLEAN cancel_claimed;    /* close or a cancel routine asked the engine to cancel */
    BOOLEAN queued;            /* waiting on a provider list, not in the engine */
    BOOLEAN ordered_send;      /* counted in s->sends_active until its result is final */
    BOOLEAN awaiting_cancel;   /* in s->decided, but its running cancel routine has not been yet */
    long result;
    SIZE_T transferred;        /* bytes moved so far (WAITALL receives, sends) */
    SIZE_T wanted;
    SIZE_T adverse_length;     /* legal adversity cut seg[adverse_segment]: its real length (0: none) */
    ULONG adverse_segment;
    /* Per kind; cleared whole when the request is taken. */
    union {
        struct { /* WSK_REQ_ACCEPT */
            PSOCKADDR local_out, remote_out;
            PVOID context;
            const VOID *dispatch;
            struct wsk_socket *accepted; /* a ready connection (conditional accept) */
        } accept;
        struct { /* WSK_REQ_RECEIVE through WskReceiveEx */
            PULONG control_length_out, control_flags_out;
        } recv;
        struct { /* WSK_REQ_CONNECT_EX */
            BOOLEAN connected; /* the connect step is done: sending the buffer */
        } connect;
        struct { /* WSK_REQ_RX_READ, WSK_REQ_DGRAM_READ */
            void *block; /* the block being filled */
        } read;
        struct { /* WSK_REQ_RECEIVE_FROM */
            PSOCKADDR remote_out;
            PULONG control_length_out, control_flags_out;
            PVOID control_out;         /* ControlInfo, and its size */
            ULONG control_capacity;
            BOOLEAN truncated;         /* served by the event reader: the datagram was cut */
            ULONG control_written;     /* ... control bytes copied, and whether cut */
            BOOLEAN control_cut;
            ULONG destination_flags;   /* ... MSG_MCAST / MSG_BCAST */
        } from;
        struct { /* WSK_REQ_SEND_TO, WSK_REQ_SEND_MESSAGES */
            PWSK_BUF_LIST next;        /* WskSendMessages: the datagrams still to send */
            BOOLEAN has_to;            /* `to` holds the destination */
            BOOLEAN has_control;       /* io holds converted control data */
            SOCKADDR_STORAGE to;
        } to;
    } u;
    /* data */
    wsk_io_segment inline_seg[WSK_REQ_INLINE_SEGMENTS];
    wsk_io_segment *seg;       /* inline_seg, or a larger array kept for reuse */
    ULONG seg_capacity, seg_count, seg_first;
    wsk_io io;
} wsk_req;

/* A receive that asked for bytes and got none at its end: the peer's FIN. */
static inline BOOLEAN wsk_req_found_fin(const wsk_req *r)
{
    return r->kind == WSK_REQ_RECEIVE && r->result == 0 && r->wanted > 0 && r->transferred < r->wanted;
}

/* A free request with room for `segments`, cleared; NULL when out of memory. */
wsk_req *wsk_req_take_locked(struct wsk_socket *s, wsk_req_kind kind, const wsk_req_ops *ops, ULONG segments);
/* Gives back a request that was never pended. */
void wsk_req_release_locked(struct wsk_socket *s, wsk_req *r);
/* Frees the free list of a socket being destroyed. */
void wsk_req_free_all(struct wsk_socket *s);

/* Takes the IRP (pending, cancellable) for r; then submit r->io with
 * wsk_req_io_done, or queue r, and call wsk_req_after_submit_locked. */
void wsk_req_pend_locked(struct wsk_socket *s, wsk_req *r, PIRP irp);
/* A request taken for the provider's own use (no IRP) joins the pending list. */
void wsk_req_track_locked(struct wsk_socket *s, wsk_req *r);
/* After submitting: a cancel that came before the submission takes effect. */
void wsk_req_after_submit_locked(wsk_req *r);
/* The engine completion of every IRP request. */
void wsk_req_io_done(wsk_io *io, void *context, long result, size_t transferred);

/* Puts a pended request on a provider wait list (r->queued), or, if its
 * IRP was cancelled before the call, decides it at once with
 * STATUS_CANCELLED (the close skips requests whose cancellation was
 * claimed): TRUE then, and the caller completes it (wsk_rx_kick) once the
 * lock is dropped. */
BOOLEAN wsk_req_queue_locked(struct wsk_socket *s, wsk_req *r, PLIST_ENTRY queue);
/* Rule 3: starts a receive in the engine, or queues it behind the one
 * that is there.  TRUE: it was cancelled before it could wait and is now
 * decided; the caller completes it (wsk_rx_kick) once the lock is dropped. */
BOOLEAN wsk_req_submit_receive_locked(struct wsk_socket *s, wsk_req *r);
/* Rule 4: starts a send (segments in r->seg) counted against a later
 * disconnect; a graceful disconnect without data is posted once no send
 * is left, or queued until then. */
void wsk_req_submit_send_locked(struct wsk_socket *s, wsk_req *r);
BOOLEAN wsk_req_submit_disconnect_locked(struct wsk_socket *s, wsk_req *r);

/* A queued request's result is final: it moves to s->decided, in order, to
 * be completed by wsk_req_complete_decided (once its cancel routine, if one
 * is running, has been). */
void wsk_req_decide_queued_locked(struct wsk_socket *s, wsk_req *r, long result);
/* Completes the first decided request: TRUE with the lock dropped, or FALSE
 * (nothing decided, or another thread is completing them and will take
 * this one too) with the lock still held.  The caller holds a callbacks
 * reference, so the socket outlives the call. */
BOOLEAN wsk_req_complete_decided(struct wsk_socket *s);

/* A close waiting for this socket can finish (nothing pending, nothing in
 * delivery, no callback running); the first caller to see it claims the
 * destruction. */
BOOLEAN wsk_close_may_finish_locked(struct wsk_socket *s);
/* Drops a callbacks reference; destroys the socket if that lets its close
 * finish.  Lock not held. */
void wsk_socket_unhold(struct wsk_socket *s);
/* Starts closing: cancels every request.  TRUE if the socket can be
 * destroyed now; FALSE if the last request's delivery will do it.
 * *deliver_cancelled: queued requests were cancelled and the caller must
 * complete them (wsk_rx_kick_held; it holds the reference taken here). */
BOOLEAN wsk_req_begin_close(struct wsk_socket *s, PIRP close_irp, BOOLEAN *deliver_cancelled);

/* Moves the segment window past n bytes (a WAITALL receive's continuation). */
void wsk_req_advance_segments(wsk_req *r, SIZE_T n);
/* NTSTATUS for an engine result. */
NTSTATUS wsk_req_status_from_result(long result);

#endif /* OPENWSK_WSK_REQ_H */
