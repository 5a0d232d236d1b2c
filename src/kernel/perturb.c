/*
 * perturb.c - schedule perturbation switch, per-thread decision generators
 * and the provider's perturbation point (perturb.h).
 */
#include "perturb.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "ke_internal.h"

int openwsk_perturb_on;

static uint64_t perturb_seed_value;      /* atomic */
static unsigned perturb_generation = 1;  /* atomic; bumped by every (re)configuration */
static unsigned perturb_next_index = 256; /* atomic; indices of threads that are not engine threads */
static unsigned long perturb_delay_count; /* atomic */
static pthread_once_t perturb_env_once = PTHREAD_ONCE_INIT;

/* The calling thread's generator; `generation` 0: not seeded yet. */
static __thread struct {
    openwsk_perturb_rng rng;
    unsigned generation;
    unsigned index;
    unsigned char has_index;
} perturb_tls;

/* ---- generator: splitmix64 ---- */

static uint64_t perturb_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void openwsk_perturb_rng_seed(openwsk_perturb_rng *r, uint64_t seed, unsigned index)
{
    /* Mixing the index first keeps (seed, i) and (seed + 1, i - 1) apart. */
    r->state = perturb_mix(seed ^ perturb_mix(0x6f70656e77736bull + index));
}

uint64_t openwsk_perturb_rng_next(openwsk_perturb_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ull;
    return perturb_mix(r->state);
}

/* ---- switch ---- */

static void perturb_apply(int on, uint64_t seed)
{
    __atomic_store_n(&perturb_seed_value, seed, __ATOMIC_RELAXED);
    __atomic_add_fetch(&perturb_generation, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&openwsk_perturb_on, on ? 1 : 0, __ATOMIC_RELEASE);
}

static void perturb_read_env(void)
{
    const char *s = getenv("OPENWSK_PERTURB");
    if (s == NULL || *s == '\0')
        return;
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || *s < '0' || *s > '9') {
        openwsk_log("OPENWSK_PERTURB=\"%s\" ignored (expected a decimal seed)", s);
        return;
    }
    perturb_apply(1, (uint64_t)seed);
    openwsk_log("schedule perturbation on, seed %llu", seed);
}

void openwsk_perturb_init_from_env(void)
{
    pthread_once(&perturb_env_once, perturb_read_env);
}

void openwsk_perturb_configure(int on, uint64_t seed)
{
    openwsk_perturb_init_from_env(); /* so that a later engine start does not override this */
    perturb_apply(on, seed);
}

uint64_t openwsk_perturb_seed(void)
{
    return __atomic_load_n(&perturb_seed_value, __ATOMIC_RELAXED);
}

/* ---- decisions ---- */

void openwsk_perturb_thread_index(unsigned index)
{
    perturb_tls.index = index;
    perturb_tls.has_index = 1;
    perturb_tls.generation = 0;
}

static openwsk_perturb_rng *perturb_thread_rng(void)
{
    unsigned generation = __atomic_load_n(&perturb_generation, __ATOMIC_ACQUIRE);
    if (perturb_tls.generation != generation) {
        if (!perturb_tls.has_index) {
            perturb_tls.index = __atomic_fetch_add(&perturb_next_index, 1, __ATOMIC_RELAXED);
            perturb_tls.has_index = 1;
        }
        openwsk_perturb_rng_seed(&perturb_tls.rng, openwsk_perturb_seed(), perturb_tls.index);
        perturb_tls.generation = generation;
    }
    return &perturb_tls.rng;
}

uint32_t openwsk_perturb_rand(void)
{
    return (uint32_t)(openwsk_perturb_rng_next(perturb_thread_rng()) >> 32);
}

int openwsk_perturb_one_in(unsigned n)
{
    return n <= 1 || openwsk_perturb_rand() % n == 0;
}

void openwsk_perturb_delay(void)
{
    uint32_t r = openwsk_perturb_rand();
    __atomic_add_fetch(&perturb_delay_count, 1, __ATOMIC_RELAXED);
    if (r & 1) {
        sched_yield();
        return;
    }
    /* A few microseconds: enough to let another thread run first, small
     * enough that tests with timeouts keep their margins. */
    struct timespec ts = {0, (long)(1 + (r >> 1) % 32) * 1000L};
    nanosleep(&ts, NULL);
}

unsigned long openwsk_perturb_delays(void)
{
    return __atomic_load_n(&perturb_delay_count, __ATOMIC_RELAXED);
}

void openwsk_perturb_point_slow(void)
{
    if (openwsk_perturb_one_in(3))
        openwsk_perturb_delay();
}
