/*
 * netimpair - a userspace impairment relay for tests, for kernels without
 * netem.  It holds two TUN devices, each in its own network namespace
 * (side A and side B), and forwards every IP packet read from one to the
 * other, applying seeded random loss, delay with jitter, reordering and
 * duplication; optionally it cuts every TCP connection after a number of
 * payload bytes and resets both ends (see tcp_reset.h).
 *
 *   netimpair --ns-a PATH --tun-a IF --ns-b PATH --tun-b IF [options]
 *
 * The TUN devices must exist (`ip -n NS tuntap add dev IF mode tun`); the
 * relay only moves packets between them, so nothing it handles can reach
 * any other network.  It stops on SIGINT/SIGTERM or after --timeout.
 *
 * The seed fixes the sequence of random decisions (the n-th packet the
 * relay reads meets the same fate on a rerun); which packet is n-th still
 * depends on the endpoints' timing, so a rerun is close, not identical.
 */
#define _GNU_SOURCE
#include "impair_queue.h"
#include "tcp_reset.h"
#include "tun_netns.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PACKET 65536
#define READS_PER_WAKEUP 64 /* per side: bounded work between releases */
#define MAX_INJECTED_RSTS 10000

typedef struct options {
    const char *ns[2], *tun[2];
    uint64_t seed;
    double loss, reorder, duplicate; /* percent */
    double delay_ms, jitter_ms, reorder_gap_ms;
    uint64_t reset_after; /* TCP payload bytes; 0: never */
    double timeout_s;
    size_t queue_capacity;
} options;

typedef struct stats {
    uint64_t in[2], out[2], lost, duplicated, reordered, queue_full, write_failed, cut_dropped, rsts;
} stats;

typedef struct relay {
    options o;
    int fd[2];
    impair_queue queue;
    uint64_t rng;
    uint64_t tcp_bytes;
    int cut; /* TCP connections cut: every later TCP segment is answered with a RST */
    tcp_view last[2];
    int have_last[2];
    stats s;
} relay;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* splitmix64: small, seedable, good enough for test decisions. */
static uint64_t next_random(relay *r)
{
    uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(relay *r)
{
    return (double)(next_random(r) >> 11) * 0x1.0p-53;
}

static int chance(relay *r, double percent)
{
    return percent > 0 && uniform(r) * 100.0 < percent;
}

static uint64_t ms_to_ns(double ms)
{
    return ms > 0 ? (uint64_t)(ms * 1e6) : 0;
}

static int write_packet(relay *r, int to, const unsigned char *data, size_t len)
{
    if (write(r->fd[to], data, len) == (ssize_t)len)
        return 1;
    r->s.write_failed++;
    return 0;
}

static void send_rst_to(relay *r, int side, const tcp_view *v)
{
    unsigned char rst[40];
    if (r->s.rsts >= MAX_INJECTED_RSTS)
        return;
    r->s.rsts += (uint64_t)write_packet(r, side, rst, tcp_make_rst_reply(v, rst));
}

static int is_tcp_packet(const impair_packet *p, void *ctx)
{
    tcp_view v;
    (void)ctx;
    return tcp_parse(p->data, p->len, &v);
}

/* Cuts every TCP connection: what is queued is dropped and each side is
 * sent a RST built from the last segment it sent. */
static void cut_connections(relay *r)
{
    r->cut = 1;
    size_t purged = impair_queue_purge(&r->queue, is_tcp_packet, NULL);
    r->s.cut_dropped += purged;
    for (int side = 0; side < 2; side++)
        if (r->have_last[side])
            send_rst_to(r, side, &r->last[side]);
    fprintf(stderr,
            "netimpair: cut TCP after %" PRIu64 " payload bytes (%zu queued segments dropped), "
            "resetting both ends\n",
            r->tcp_bytes, purged);
}

static void handle_packet(relay *r, int from, const unsigned char *data, size_t len, uint64_t now)
{
    int to = 1 - from;
    tcp_view v;
    r->s.in[from]++;
    if (tcp_parse(data, len, &v)) {
        r->last[from] = v;
        r->have_last[from] = 1;
        if (!r->cut && r->o.reset_after > 0) {
            r->tcp_bytes += v.payload;
            if (r->tcp_bytes >= r->o.reset_after)
                cut_connections(r);
        }
        if (r->cut) {
            r->s.cut_dropped++;
            if (!(v.flags & TCP_RST))
                send_rst_to(r, from, &v);
            return;
        }
    }
    if (chance(r, r->o.loss)) {
        r->s.lost++;
        return;
    }
    uint64_t due = now + ms_to_ns(r->o.delay_ms) + ms_to_ns(r->o.jitter_ms * uniform(r));
    if (chance(r, r->o.reorder)) {
        /* Held back: the packets behind it overtake it. */
        due += ms_to_ns(r->o.reorder_gap_ms);
        r->s.reordered++;
    }
    int copies = 1;
    if (chance(r, r->o.duplicate)) {
        copies = 2;
        r->s.duplicated++;
    }
    for (int i = 0; i < copies; i++)
        if (impair_queue_push(&r->queue, due, to, data, len) != 0)
            r->s.queue_full++;
}

static void usage(FILE *to)
{
    fputs("usage: netimpair --ns-a PATH --tun-a IF --ns-b PATH --tun-b IF [options]\n"
          "  --seed N            random seed (default: from the clock; printed)\n"
          "  --loss PCT          drop each packet with this probability\n"
          "  --delay MS          one-way delay of every packet\n"
          "  --jitter MS         plus a uniform random 0..MS\n"
          "  --reorder PCT       hold a packet back by --reorder-gap MS (default 3)\n"
          "  --duplicate PCT     deliver a packet twice\n"
          "  --reset-after BYTES after this many TCP payload bytes reached the relay,\n"
          "                      forward no more TCP and reset both ends of every connection\n"
          "  --queue N           delay line capacity in packets (default 16384)\n"
          "  --timeout SECS      stop by itself after SECS (default 300)\n",
          to);
}

static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    o->reorder_gap_ms = 3;
    o->timeout_s = 300;
    o->queue_capacity = 16384;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--ns-a") == 0) { o->ns[0] = v; continue; }
        if (strcmp(a, "--ns-b") == 0) { o->ns[1] = v; continue; }
        if (strcmp(a, "--tun-a") == 0) { o->tun[0] = v; continue; }
        if (strcmp(a, "--tun-b") == 0) { o->tun[1] = v; continue; }
        if (strcmp(a, "--seed") == 0) o->seed = strtoull(v, &end, 0);
        else if (strcmp(a, "--loss") == 0) o->loss = strtod(v, &end);
        else if (strcmp(a, "--delay") == 0) o->delay_ms = strtod(v, &end);
        else if (strcmp(a, "--jitter") == 0) o->jitter_ms = strtod(v, &end);
        else if (strcmp(a, "--reorder") == 0) o->reorder = strtod(v, &end);
        else if (strcmp(a, "--reorder-gap") == 0) o->reorder_gap_ms = strtod(v, &end);
        else if (strcmp(a, "--duplicate") == 0) o->duplicate = strtod(v, &end);
        else if (strcmp(a, "--reset-after") == 0) o->reset_after = strtoull(v, &end, 0);
        else if (strcmp(a, "--queue") == 0) o->queue_capacity = strtoull(v, &end, 0);
        else if (strcmp(a, "--timeout") == 0) o->timeout_s = strtod(v, &end);
        else return -1;
        if (end == NULL || *end != '\0' || v[0] == '-')
            return -1;
    }
    if (!o->ns[0] || !o->ns[1] || !o->tun[0] || !o->tun[1] || o->queue_capacity == 0 || o->timeout_s <= 0)
        return -1;
    if (o->loss > 100 || o->reorder > 100 || o->duplicate > 100)
        return -1;
    return 0;
}

static int run(relay *r)
{
    uint64_t deadline = now_ns() + (uint64_t)(r->o.timeout_s * 1e9);
    static unsigned char buf[MAX_PACKET];
    sigset_t during_poll;
    sigemptyset(&during_poll);
    struct pollfd pfd[2] = {{r->fd[0], POLLIN, 0}, {r->fd[1], POLLIN, 0}};
    while (!stop_signal) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            fprintf(stderr, "netimpair: --timeout reached, stopping\n");
            return 0;
        }
        const impair_packet *p;
        while ((p = impair_queue_peek(&r->queue)) != NULL && p->due_ns <= now) {
            r->s.out[p->to] += (uint64_t)write_packet(r, p->to, p->data, p->len);
            impair_queue_pop(&r->queue);
        }
        uint64_t wait = deadline - now;
        if (p != NULL && p->due_ns - now < wait)
            wait = p->due_ns - now;
        if (wait > 100000000u)
            wait = 100000000u;
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        /* Signals are blocked except while waiting here. */
        int n = ppoll(pfd, 2, &ts, &during_poll);
        if (n < 0 && errno != EINTR) {
            perror("netimpair: ppoll");
            return 1;
        }
        if (n <= 0)
            continue;
        now = now_ns();
        for (int side = 0; side < 2; side++) {
            if (pfd[side].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                fprintf(stderr, "netimpair: TUN device of side %c failed\n", 'A' + side);
                return 1;
            }
            for (int k = 0; k < READS_PER_WAKEUP && (pfd[side].revents & POLLIN); k++) {
                ssize_t len = read(r->fd[side], buf, sizeof(buf));
                if (len <= 0)
                    break;
                handle_packet(r, side, buf, (size_t)len, now);
            }
        }
    }
    fprintf(stderr, "netimpair: %s, stopping\n", strsignal(stop_signal));
    return 0;
}

int main(int argc, char **argv)
{
    relay r;
    memset(&r, 0, sizeof(r));
    if (parse_options(argc, argv, &r.o) != 0) {
        usage(stderr);
        return 2;
    }
    r.rng = r.o.seed;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (int side = 0; side < 2; side++) {
        r.fd[side] = tun_open_in_netns(r.o.ns[side], r.o.tun[side]);
        if (r.fd[side] < 0)
            return 1;
    }
    if (impair_queue_init(&r.queue, r.o.queue_capacity) != 0) {
        fprintf(stderr, "netimpair: out of memory\n");
        return 1;
    }
    fprintf(stderr,
            "netimpair: ready: seed %" PRIu64 ", loss %g%%, delay %g ms + jitter %g ms, reorder %g%% (gap %g ms), "
            "duplicate %g%%, reset after %" PRIu64 " bytes%s, timeout %g s\n",
            r.o.seed, r.o.loss, r.o.delay_ms, r.o.jitter_ms, r.o.reorder, r.o.reorder_gap_ms, r.o.duplicate,
            r.o.reset_after, r.o.reset_after ? "" : " (never)", r.o.timeout_s);
    int rc = run(&r);
    fprintf(stderr,
            "netimpair: packets A->B %" PRIu64 " in / %" PRIu64 " out, B->A %" PRIu64 " in / %" PRIu64
            " out; lost %" PRIu64 ", reordered %" PRIu64 ", duplicated %" PRIu64 ", queue full %" PRIu64
            ", write failed %" PRIu64 ", cut %" PRIu64 ", RSTs sent %" PRIu64 "\n",
            r.s.in[0], r.s.out[1], r.s.in[1], r.s.out[0], r.s.lost, r.s.reordered, r.s.duplicated, r.s.queue_full,
            r.s.write_failed, r.s.cut_dropped, r.s.rsts);
    impair_queue_free(&r.queue);
    close(r.fd[0]);
    close(r.fd[1]);
    return rc;
}
