/*
 * io_epoll_internal.h - what the epoll backend's files share (private to
 * src/io): the backend's shard, an event's data, the record lookup, and
 * the interest set (io_epoll_interest.c).
 */
#ifndef OPENWSK_IO_EPOLL_INTERNAL_H
#define OPENWSK_IO_EPOLL_INTERNAL_H

#include "io_shard.h"

#include <stdint.h>
#include <sys/epoll.h>

enum { EP_PARKED = IO_ST_BACKEND };

#define EP_BATCH 64
#define EP_DELIVERY_ROUNDS 4
#define EP_STALE_REBUILD 8 /* waits in a row reporting one stale registration: rebuild */

/* Stale registrations (io_epoll_interest.c): an event of one reported
 * before its socket was forgotten and closed on another thread is
 * reported once; one whose socket outlived its close (forked, dup'ed) is
 * reported in every wait while ready.  So each wait's stale events (up to
 * EP_STALE_TRACK) are carried to the next, and only one coming back
 * EP_STALE_REBUILD waits in a row calls for a rebuild. */
#define EP_STALE_TRACK 8
typedef struct epoll_stale {
    uint64_t last[EP_STALE_TRACK]; /* the last wait's stale event data ... */
    unsigned last_waits[EP_STALE_TRACK]; /* ... each reported in this many waits in a row */
    unsigned nlast;
    uint64_t now[EP_STALE_TRACK]; /* the same for this wait */
    unsigned now_waits[EP_STALE_TRACK];
    unsigned nnow;
    uint64_t rebuild; /* the data of one reported EP_STALE_REBUILD times in a row (0: none) */
} epoll_stale;

static inline void epoll_stale_note(epoll_stale *t, uint64_t data)
{
    unsigned waits = 1;
    for (unsigned i = 0; i < t->nnow; i++)
        if (t->now[i] == data)
            return;
    if (t->nnow == EP_STALE_TRACK)
        return;
    for (unsigned i = 0; i < t->nlast; i++)
        if (t->last[i] == data)
            waits = t->last_waits[i] + 1;
    t->now[t->nnow] = data;
    t->now_waits[t->nnow++] = waits;
    if (waits >= EP_STALE_REBUILD)
        t->rebuild = data;
}

/* After a wait's events: the data of a registration now reported in
 * EP_STALE_REBUILD waits in a row (the set is to be rebuilt), or 0. */
static inline uint64_t epoll_stale_wait_end(epoll_stale *t)
{
    uint64_t rebuild = t->rebuild;
    t->nlast = rebuild ? 0 : t->nnow;
    for (unsigned i = 0; i < t->nlast; i++) {
        t->last[i] = t->now[i];
        t->last_waits[i] = t->now_waits[i];
    }
    t->nnow = 0;
    t->rebuild = 0;
    return rebuild;
}

typedef struct epoll_shard {
    io_shard core;
    int epfd;
    int nevents, woken;  /* what the last epoll_wait collected */
    unsigned next_tag;   /* the next registration's tag (never 0: the eventfd's) */
    epoll_stale stale;
    struct epoll_event events[EP_BATCH];
} epoll_shard;

/* An event's data: the fd in the low half, its registration's tag above
 * (the eventfd's tag is 0). */
static inline uint64_t epoll_data(int fd, unsigned tag)
{
    return (uint64_t)tag << 32 | (uint32_t)fd;
}

static inline int epoll_data_fd(uint64_t data)
{
    return (int)(uint32_t)data;
}

static inline unsigned epoll_data_tag(uint64_t data)
{
    return (unsigned)(data >> 32);
}

/* The fd's record: every submit and event looks one up, so the common
 * case (the record exists) is answered here without a call.  io_fdmap_get
 * creates records and handles everything else. */
static inline io_fd_state *epoll_fd_record(io_shard *core, int fd, int create)
{
    const io_fdmap *m = &core->fds;
    if (fd >= 0 && m->stride == 1 && (size_t)fd < m->count && m->slots[fd] != NULL)
        return m->slots[fd];
    return io_fdmap_get(&core->fds, fd, create);
}

/* ---- io_epoll_interest.c (under the shard lock, except epoll_set_open) ---- */

/* The shard's epoll set, holding its eventfd.  0 or -errno. */
int epoll_set_open(epoll_shard *s);
/* The events the fd's parked ops need (0: none). */
unsigned epoll_wanted(const io_fd_state *f);
/* Sets the fd's interest set to `events` (0: out of the set).  0 or -errno. */
int epoll_set_interest_locked(epoll_shard *s, io_fd_state *f, unsigned events);
/* Makes sure the interest set covers what the parked ops need; never
 * narrows it (that is left to an event nobody wanted).  0 or -errno. */
int epoll_arm_locked(epoll_shard *s, io_fd_state *f);
/* The fd is being forgotten; its close follows. */
void epoll_forget_registration_locked(epoll_shard *s, io_fd_state *f);
/* After a wait's events: rebuilds the set if a stale registration keeps
 * coming back. */
void epoll_stale_check_locked(epoll_shard *s);

/* The record an event is for, or NULL: a stale registration's event
 * (reported before its socket was forgotten and closed elsewhere, or
 * outliving the close), noted for epoll_stale_check_locked.  No syscall
 * on its fd: it may name another socket by now, or be closing.  Inline:
 * every event looks its record up. */
static inline io_fd_state *epoll_event_record_locked(epoll_shard *s, uint64_t data)
{
    io_fd_state *f = epoll_fd_record(&s->core, epoll_data_fd(data), 0);
    if (f && f->registered && f->tag == epoll_data_tag(data))
        return f;
    epoll_stale_note(&s->stale, data);
    return NULL;
}

/* ---- io_epoll_backend.c ---- */

/* Completes every op parked on the fd with `result`. */
void epoll_fail_all_locked(epoll_shard *s, io_fd_state *f, long result);

#endif
