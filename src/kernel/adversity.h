/*
 * adversity.h - legal-adversity mode (OPENWSK_ADVERSITY, wskhost
 * --adversity): behaviours Windows is allowed to show and drivers often
 * mishandle, made frequent, seeded and logged.
 *
 *   OPENWSK_ADVERSITY=<seed>[,short][,events][,slowsend][,pending][,lowres[=N]][,reset[=N]]
 *                     [,deadlisten[=N]][,log=FILE]
 *
 * A seed alone turns on every behaviour below but reset and deadlisten,
 * which a correct driver survives only by losing a connection or a
 * listener; naming some turns on
 * only those.  The mode is built on schedule perturbation (perturb.h): it turns
 * it on with the same seed (delayed and reordered completions, inline
 * versus deferred attempts), and every adversity decision is drawn from
 * the same per-thread generators, so a seed fixes each thread's decisions.
 *   short     a stream receive without WSK_FLAG_WAITALL completes with
 *             fewer bytes than were available (any TCP segmentation may
 *             do this on Windows);
 *   events    WskReceiveEvent indicates fewer bytes at a time;
 *   slowsend  a connection's send buffer is made small at its first send,
 *             so sends stay pending until the peer reads, as they do
 *             towards a slow peer;
 *   pending   a call the provider finishes at once either returns its
 *             status without pending the IRP, or completes it later on
 *             another thread after returning STATUS_PENDING (both legal:
 *             a WSK call may do either);
 *   lowres=N  the driver's allocations (ExAllocatePool*, IoAllocateIrp,
 *             IoAllocateMdl) fail one time in N, as Driver Verifier's
 *             low resources simulation does (default 100);
 *   reset=N   one data operation in N on a connection (default 200) finds
 *             it reset, as by the peer or the network: pending and later
 *             calls fail with STATUS_CONNECTION_RESET, and the client's
 *             events learn it from WskDisconnectEvent (WSK_FLAG_ABORTIVE)
 *             or, one time in two, from a NULL WskReceiveEvent indication
 *             (the socket no longer works);
 *   deadlisten=N  one accept in N on a listener (default 50: the arming of
 *             the WskAcceptEvent feeder, or a WskAccept) finds the listener
 *             dead: WskAcceptEvent gets a NULL AcceptSocket once, and
 *             WskAccept calls fail with STATUS_FILE_FORCED_CLOSED;
 *   log=FILE  every injected event goes to FILE; otherwise the first 20
 *             go to stderr, and a summary at exit.
 * Off: each hook is one load and a branch not taken.
 */
#ifndef OPENWSK_ADVERSITY_H
#define OPENWSK_ADVERSITY_H

#include <stdint.h>

#define OPENWSK_ADVERSE_SHORT_RECEIVE 0x01u
#define OPENWSK_ADVERSE_SHORT_INDICATION 0x02u
#define OPENWSK_ADVERSE_LOW_RESOURCES 0x04u
#define OPENWSK_ADVERSE_SLOW_SEND 0x08u
#define OPENWSK_ADVERSE_PENDING 0x10u
#define OPENWSK_ADVERSE_RESET 0x20u
#define OPENWSK_ADVERSE_DEAD_LISTENER 0x40u

extern unsigned openwsk_adversity_flags;

static inline int openwsk_adverse(unsigned what)
{
    return __builtin_expect((__atomic_load_n(&openwsk_adversity_flags, __ATOMIC_RELAXED) & what) != 0, 0);
}

/* Parses a specification as above (NULL or "": off).  0, or -1 if it is
 * malformed (logged). */
int openwsk_adversity_configure(const char *spec);

/* The decisions about one socket, drawn from a generator of its own seeded
 * from (seed, the socket's ordinal: the order in which sockets first met
 * adversity), so that they depend on what the driver did with that socket,
 * not on how threads interleaved: a seed replays them exactly.  Zeroed
 * memory is an unseeded stream; the caller serializes access. */
typedef struct openwsk_adversity_stream {
    uint64_t state;
    unsigned ordinal; /* 0: assigned at the first draw (tests may preset it) */
    unsigned char seeded;
    unsigned char send_slowed; /* slowsend: the socket's send buffer was made small */
    unsigned char reset;       /* reset: the connection was reset by adversity */
    unsigned char reset_null;  /* ... and events learn it from a NULL receive indication */
} openwsk_adversity_stream;
int openwsk_adversity_stream_one_in(openwsk_adversity_stream *st, unsigned n);
uint32_t openwsk_adversity_stream_pick(openwsk_adversity_stream *st, uint32_t max);

/* One decision: non-zero with probability 1/n, from the calling thread's
 * seeded generator (allocation failures, which have no socket). */
int openwsk_adversity_one_in(unsigned n);

/* Records one injected event (counted, logged as configured). */
void openwsk_adversity_event(unsigned what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* reset: whether this data operation finds its connection reset. */
int openwsk_adversity_reset_now(openwsk_adversity_stream *st);
/* deadlisten: whether this accept finds its listener dead. */
int openwsk_adversity_listener_dies_now(openwsk_adversity_stream *st);

/* lowres: whether this allocation of the driver's fails (logs it). */
int openwsk_adversity_fail_allocation(const char *call, uint64_t bytes);

#endif /* OPENWSK_ADVERSITY_H */
