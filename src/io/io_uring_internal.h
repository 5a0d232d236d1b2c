/*
 * io_uring_internal.h - what the io_uring backend's files share (private
 * to src/io): the backend's shard, the op states and phases, and the
 * accept-ahead record (io_uring_accept_ahead.c).
 */
#ifndef OPENWSK_IO_URING_INTERNAL_H
#define OPENWSK_IO_URING_INTERNAL_H

#ifdef OPENWSK_HAVE_LIBURING

#include "io_shard.h"

#include <liburing.h>
#include <stdint.h>
#include <sys/socket.h>

enum { U_INBOX = IO_ST_BACKEND, U_FDQ, U_RING, U_CANCELQ, U_DEFERRED };
enum { PH_MAIN = 0, PH_POLL, PH_CONNECT_WAIT, PH_AHEAD_WAIT };

#define URING_ENTRIES 256
#define URING_BATCH 64
#define URING_TAG_WAKE 1ull   /* user_data of the eventfd read */
#define URING_TAG_CANCEL 2ull /* user_data of ASYNC_CANCEL requests */

#define URING_AHEAD_MAX 16 /* connections a listener may have taken ahead */

typedef struct uring_ahead uring_ahead;

typedef struct uring_shard {
    io_shard core;
    struct io_uring ring;
    uint64_t evbuf;
    unsigned char wake_armed;
    io_list inbox;    /* submitted, not yet admitted (U_INBOX) */
    io_list cancels;  /* in the ring, ASYNC_CANCEL to be issued (U_CANCELQ) */
    io_list deferred; /* waiting for a free SQE (U_DEFERRED) */
    uring_ahead *aheads;     /* every accept-ahead record of the shard */
    unsigned char ahead_end_pending; /* some record has end_requested */
    unsigned ncqes;          /* what the last reap collected */
    unsigned long long reaps; /* reaps so far (uring_ahead.fresh_reap) */
    unsigned seen_overflow;  /* the CQ's dropped-CQE count at the last reap */
    struct {
        uint64_t user_data;
        int res;
        unsigned flags;
    } cqes[URING_BATCH];
} uring_shard;

/* A listener's accepting ahead (shard lock; the ring: shard thread only). */
struct uring_ahead {
    uring_ahead *next, *prev;  /* uring_shard.aheads */
    io_fd_state *f;            /* NULL once the fd was forgotten */
    int fd;
    int accept_flags;
    unsigned char armed;       /* the multishot's last CQE (no F_MORE) is still to come */
    unsigned char cancelled;   /* ... and it was cancelled */
    unsigned char off;         /* the kernel refused the multishot: single accepts */
    unsigned char took_one;    /* the multishot has accepted a connection */
    unsigned char end_requested; /* by another thread: the shard thread ends it */
    /* The multishot's address buffer (the kernel rewrites it at each
     * connection), and what it held at a reap for that reap's last
     * connection of the multishot, fresh_fd (uring_ahead_reaped). */
    socklen_t ms_len;
    struct sockaddr_storage ms_addr;
    int fresh_fd;
    unsigned long long fresh_reap;
    socklen_t fresh_len;
    struct sockaddr_storage fresh_addr;
    /* Connections taken, oldest at head: a ring of cap entries.  Ending
     * the multishot at URING_AHEAD_MAX can still leave CQEs to come (taken
     * before the cancel), so the ring grows rather than drop them. */
    unsigned head, count, cap;
    struct uring_ahead_conn {
        int fd;
        int flags; /* the accept4 flags it was taken with */
        socklen_t len;
        struct sockaddr_storage addr;
    } *q;
};

/* OPENWSK_IO_URING_COMPAT=1: the old kernels' paths (io_uring_backend.c). */
extern int uring_compat;

/* io_uring_backend.c, shard thread (and shard lock) only. */
struct io_uring_sqe *uring_get_sqe(uring_shard *s);
void uring_issue_locked(uring_shard *s, io_op *op);
void uring_finish_locked(uring_shard *s, io_op *op, long result);

/* io_uring_accept_ahead.c.  user_data of a multishot accept: its record
 * with the low bit set (op pointers and the tags are even or tiny). */
static inline int uring_ahead_is_user_data(uint64_t user_data)
{
    return (user_data & 1u) && user_data > URING_TAG_CANCEL;
}
void uring_ahead_probe(uring_shard *s);
int uring_ahead_serve_locked(uring_shard *s, io_op *op);
void uring_ahead_cqe_locked(uring_shard *s, uring_ahead *a, int res, unsigned flags);
void uring_ahead_end(uring_shard *s, uring_ahead *a);
void uring_ahead_end_from(uring_shard *s, uring_ahead *a, int *wake);
void uring_ahead_end_requested(uring_shard *s);
void uring_ahead_forget_locked(uring_shard *s, io_fd_state *f, int *wake);
void uring_ahead_free_all(uring_shard *s);
void uring_ahead_reaped(uring_shard *s);

#endif /* OPENWSK_HAVE_LIBURING */
#endif /* OPENWSK_IO_URING_INTERNAL_H */
