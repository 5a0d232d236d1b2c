/*
 * perturb.h - schedule perturbation: a debugging mode that shakes the
 * timing of completions so that races a driver has with them (work handed
 * to another thread, sends not waited for, contexts freed in a close
 * completion) show up in tests instead of in the field.
 *
 * Switched on by OPENWSK_PERTURB=<seed> (decimal; unset or empty: off),
 * read once, by the first io_engine_start().  When on, the I/O engine
 * delays some completions, delivers independent completions out of order
 * and alternates between completing at submit time and waiting for
 * readiness - only ever in ways the engine contract (io_engine.h) allows -
 * and openwsk_perturb_point() yields or sleeps a few microseconds.
 *
 * Reproducibility: every decision comes from a per-thread generator seeded
 * from (seed, thread index).  Engine threads take their shard index; any
 * other thread gets 256 + the order in which it first asked for a decision.
 * A seed therefore fixes each thread's sequence of decisions, but not how
 * the OS interleaves the threads: a failure seen with a seed is made more
 * likely, not certain, by running again with it.
 *
 * Plain C, no Windows headers: usable from src/io as well as src/wsk.
 */
#ifndef OPENWSK_PERTURB_H
#define OPENWSK_PERTURB_H

#include <stdint.h>

/* Non-zero while the mode is on.  Read through openwsk_perturb_enabled(). */
extern int openwsk_perturb_on;

static inline int openwsk_perturb_enabled(void)
{
    return __builtin_expect(__atomic_load_n(&openwsk_perturb_on, __ATOMIC_RELAXED), 0);
}

void openwsk_perturb_point_slow(void);

/* For the provider: call between dropping a lock and calling client code
 * (IoCompleteRequest, event callbacks).  Off: one predictable branch.  On:
 * now and then a yield or a sleep of a few microseconds. */
static inline void openwsk_perturb_point(void)
{
    if (openwsk_perturb_enabled())
        openwsk_perturb_point_slow();
}

/* Reads OPENWSK_PERTURB the first time it is called (thread-safe; later
 * calls do nothing) and logs one line when the mode goes on. */
void openwsk_perturb_init_from_env(void);

/* Tests: switches the mode on (with `seed`) or off, overriding the
 * environment.  Every thread's generator restarts from (seed, its index). */
void openwsk_perturb_configure(int on, uint64_t seed);

/* The seed in use (meaningful while on). */
uint64_t openwsk_perturb_seed(void);

/* The calling thread's index for seeding; engine threads set theirs from
 * their shard index when they start.  Restarts the thread's generator. */
void openwsk_perturb_thread_index(unsigned index);

/* Decisions from the calling thread's generator. */
uint32_t openwsk_perturb_rand(void);
/* Non-zero with probability 1/n (n >= 1). */
int openwsk_perturb_one_in(unsigned n);
/* Yields or sleeps 1..32 microseconds, chosen by the generator. */
void openwsk_perturb_delay(void);

/* Delays taken so far (openwsk_perturb_delay calls), for tests. */
unsigned long openwsk_perturb_delays(void);

/* The generator itself (splitmix64), exposed for tests. */
typedef struct openwsk_perturb_rng {
    uint64_t state;
} openwsk_perturb_rng;

void openwsk_perturb_rng_seed(openwsk_perturb_rng *r, uint64_t seed, unsigned index);
uint64_t openwsk_perturb_rng_next(openwsk_perturb_rng *r);

#endif /* OPENWSK_PERTURB_H */
