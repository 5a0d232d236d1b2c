/*
 * test_io_perturb.c - schedule perturbation (kernel/perturb.h): its
 * generator is reproducible, its hook is free when off, and on each engine
 * backend it really reorders completions of independent fds while keeping
 * the order of one direction of one fd.
 *
 * The mode is switched with openwsk_perturb_configure, which overrides
 * OPENWSK_PERTURB: the suite may run under it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/io_engine.h"
#include "kernel/perturb.h"
#include "wt.h"

enum { T_SEED = 20240611 };

/* ---- helpers ---- */

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cond = PTHREAD_COND_INITIALIZER;
static int t_seq;

typedef struct top {
    io_op op;
    struct msghdr msg;
    struct iovec iov;
    int count;
    long result;
    int seq;
} top;

static void top_complete(io_op *op, long result)
{
    top *t = op->context;
    pthread_mutex_lock(&t_lock);
    t->count++;
    t->result = result;
    t->seq = ++t_seq;
    pthread_cond_broadcast(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

/* A RECVMSG or SENDMSG op over one buffer. */
static void top_init(top *t, io_op_kind kind, int fd, void *buf, size_t len)
{
    memset(t, 0, sizeof *t);
    t->op.kind = kind;
    t->op.fd = fd;
    t->op.complete = top_complete;
    t->op.context = t;
    t->iov.iov_base = buf;
    t->iov.iov_len = len;
    t->msg.msg_iov = &t->iov;
    t->msg.msg_iovlen = 1;
    t->op.msg = &t->msg;
}

/* Waits up to 10 s for every op of the array to complete; returns how many did. */
static int top_wait_all(top *t, int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    int done = 0;
    pthread_mutex_lock(&t_lock);
    for (;;) {
        done = 0;
        for (int i = 0; i < n; i++)
            done += t[i].count > 0;
        if (done == n || pthread_cond_timedwait(&t_cond, &t_lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&t_lock);
    return done;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A connected loopback TCP pair: *a non-blocking (the engine's side), *b
 * blocking (the test's side); optional small buffers make sends go partial. */
static void tcp_pair(int *a, int *b, int small_buffers)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int bufsize = 32 * 1024;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (small_buffers) {
        setsockopt(l, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
        setsockopt(c, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
    }
    if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 4) < 0 ||
        getsockname(l, (struct sockaddr *)&addr, &len) < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("tcp_pair");
        exit(2);
    }
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *a = c;
    *b = s;
}

static void close_engine_fd(int fd)
{
    io_engine_forget_fd(fd);
    close(fd);
}

static unsigned char pattern_byte(size_t i, unsigned salt)
{
    return (unsigned char)((i * 131u + (i >> 9) + salt) & 0xff);
}

/* ---- (c) the generator ---- */

static void t_generator_reproducible(void)
{
    openwsk_perturb_rng a, b, c, d;
    openwsk_perturb_rng_seed(&a, 42, 3);
    openwsk_perturb_rng_seed(&b, 42, 3);
    openwsk_perturb_rng_seed(&c, 42, 4);
    openwsk_perturb_rng_seed(&d, 43, 3);
    int same_b = 1, same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = openwsk_perturb_rng_next(&a);
        same_b &= x == openwsk_perturb_rng_next(&b);
        same_c += x == openwsk_perturb_rng_next(&c);
        same_d += x == openwsk_perturb_rng_next(&d);
    }
    CHECK(same_b);         /* same (seed, index): same sequence */
    CHECK_EQ(same_c, 0);   /* another thread index: another sequence */
    CHECK_EQ(same_d, 0);   /* another seed: another sequence */
}

enum { T_DECISIONS = 64 };

typedef struct decisions {
    unsigned index;
    uint32_t v[T_DECISIONS];
} decisions;

static void *decide_thread(void *arg)
{
    decisions *d = arg;
    openwsk_perturb_thread_index(d->index);
    for (int i = 0; i < T_DECISIONS; i++)
        d->v[i] = openwsk_perturb_rand();
    return NULL;
}

static void run_decisions(decisions *d)
{
    pthread_t th;
    pthread_create(&th, NULL, decide_thread, d);
    pthread_join(th, NULL);
}

static void t_thread_decisions_reproducible(void)
{
    /* Two threads with one index under one seed decide alike, whenever
     * they run; another index, or another seed, decides otherwise. */
    openwsk_perturb_configure(1, T_SEED);
    decisions a = {.index = 7}, b = {.index = 7}, c = {.index = 8}, d = {.index = 7};
    run_decisions(&a);
    run_decisions(&b);
    run_decisions(&c);
    openwsk_perturb_configure(1, T_SEED + 1);
    run_decisions(&d);
    CHECK(memcmp(a.v, b.v, sizeof a.v) == 0);
    CHECK(memcmp(a.v, c.v, sizeof a.v) != 0);
    CHECK(memcmp(a.v, d.v, sizeof a.v) != 0);

    /* Configuring again restarts this thread's sequence from the seed. */
    uint32_t first[16], again[16];
    openwsk_perturb_configure(1, T_SEED);
    for (int i = 0; i < 16; i++)
        first[i] = openwsk_perturb_rand();
    openwsk_perturb_configure(1, T_SEED);
    for (int i = 0; i < 16; i++)
        again[i] = openwsk_perturb_rand();
    CHECK(memcmp(first, again, sizeof first) == 0);
    CHECK_EQ(openwsk_perturb_seed(), T_SEED);
    openwsk_perturb_configure(0, 0);
}

/* ---- (d) the hook when off ---- */

static void t_point_free_when_off(void)
{
    openwsk_perturb_configure(0, 0);
    CHECK(!openwsk_perturb_enabled());
    unsigned long before = openwsk_perturb_delays();
    double t0 = now_ms();
    for (int i = 0; i < 1000000; i++)
        openwsk_perturb_point();
    double took = now_ms() - t0;
    CHECK_EQ(openwsk_perturb_delays(), before); /* no sleep, no yield */
    CHECK(took < 500.0);                        /* ~1 ms normally; generous for sanitizers */
    fprintf(stderr, "  1e6 points off: %.2f ms\n", took);

    /* On, the same hook does delay now and then (so the count above is
     * the one that would move). */
    openwsk_perturb_configure(1, T_SEED);
    for (int i = 0; i < 300; i++)
        openwsk_perturb_point();
    CHECK(openwsk_perturb_delays() > before);
    openwsk_perturb_configure(0, 0);
}

/* ---- (a) independent fds are reordered ---- */

enum { R_FDS = 8, R_ROUNDS = 40 };

/* An IO_OP_CALL that occupies the (only) engine thread until released, so
 * that the fds all become ready before the engine looks again. */
typedef struct blocker {
    io_op op;
    int entered, release, left;
} blocker;

static void blocker_complete(io_op *op, long result)
{
    blocker *b = op->context;
    pthread_mutex_lock(&t_lock);
    b->entered = 1;
    pthread_cond_broadcast(&t_cond);
    while (!b->release)
        pthread_cond_wait(&t_cond, &t_lock);
    b->left = 1;
    pthread_cond_broadcast(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

static void blocker_wait(blocker *b, int *flag)
{
    pthread_mutex_lock(&t_lock);
    while (!*flag)
        pthread_cond_wait(&t_cond, &t_lock);
    pthread_mutex_unlock(&t_lock);
}

/* Rounds in which the recvs of R_FDS sockets, made ready in index order,
 * completed in another order. */
static int count_reordered_rounds(int *a, int *b)
{
    int reordered = 0;
    top t[R_FDS];
    unsigned char in[R_FDS];
    for (int round = 0; round < R_ROUNDS; round++) {
        for (int i = 0; i < R_FDS; i++) {
            top_init(&t[i], IO_OP_RECVMSG, a[i], &in[i], 1);
            io_submit(&t[i].op);
        }
        sleep_ms(2); /* io_uring: the recvs reach the ring and wait there */
        blocker bl;
        memset(&bl, 0, sizeof bl);
        bl.op.kind = IO_OP_CALL;
        bl.op.fd = -1;
        bl.op.complete = blocker_complete;
        bl.op.context = &bl;
        io_engine_post(&bl.op);
        blocker_wait(&bl, &bl.entered);
        for (int i = 0; i < R_FDS; i++) {
            unsigned char byte = (unsigned char)(round * R_FDS + i);
            CHECK_EQ(send(b[i], &byte, 1, 0), 1);
        }
        sleep_ms(1);
        pthread_mutex_lock(&t_lock);
        bl.release = 1;
        pthread_cond_broadcast(&t_cond);
        pthread_mutex_unlock(&t_lock);
        blocker_wait(&bl, &bl.left);
        CHECK_EQ(top_wait_all(t, R_FDS), R_FDS);
        int out_of_order = 0;
        for (int i = 0; i < R_FDS; i++) {
            CHECK_EQ(t[i].result, 1);
            CHECK_EQ(in[i], (unsigned char)(round * R_FDS + i));
            if (i > 0 && t[i].seq < t[i - 1].seq)
                out_of_order = 1;
        }
        reordered += out_of_order;
    }
    return reordered;
}

static void t_independent_fds_reordered(void)
{
    int a[R_FDS], b[R_FDS];
    for (int i = 0; i < R_FDS; i++)
        tcp_pair(&a[i], &b[i], 0);
    openwsk_perturb_configure(0, 0);
    int plain = count_reordered_rounds(a, b);
    openwsk_perturb_configure(1, T_SEED);
    int perturbed = count_reordered_rounds(a, b);
    openwsk_perturb_configure(0, 0);
    fprintf(stderr, "  rounds out of readiness order: %d/%d off, %d/%d on (seed %d)\n", plain, R_ROUNDS, perturbed,
            R_ROUNDS, T_SEED);
    CHECK(perturbed > 0);
    CHECK(perturbed > plain);
    for (int i = 0; i < R_FDS; i++) {
        close_engine_fd(a[i]);
        close(b[i]);
    }
}

/* ---- (b) one direction of one fd keeps its order ---- */

enum { O_RECVS = 64, O_RECV_LEN = 37, O_SENDS = 48 };

typedef struct writer_arg {
    int fd;
    const unsigned char *data;
    size_t len;
} writer_arg;

/* The peer's side of the stream the recvs read: written in uneven chunks. */
static void *writer_thread(void *arg)
{
    writer_arg *w = arg;
    size_t at = 0, chunk = 1;
    while (at < w->len) {
        size_t n = chunk < w->len - at ? chunk : w->len - at;
        ssize_t r = send(w->fd, w->data + at, n, MSG_NOSIGNAL);
        if (r <= 0)
            break;
        at += (size_t)r;
        chunk = chunk * 7 % 97 + 1;
        if (at % 5 == 0)
            sched_yield();
    }
    return NULL;
}

static size_t send_len(int k)
{
    return (size_t)k * 1777u % 40000u + 1;
}

static void t_direction_order_kept(void)
{
    openwsk_perturb_configure(1, T_SEED);
    int a, b;
    tcp_pair(&a, &b, 1);

    /* Reads: O_RECVS queued at once, then the peer writes exactly what they
     * can hold (each completes with whatever is there, so all complete). */
    size_t rtotal = (size_t)O_RECVS * O_RECV_LEN;
    unsigned char *rstream = malloc(rtotal), *rbufs = calloc(O_RECVS, O_RECV_LEN);
    for (size_t i = 0; i < rtotal; i++)
        rstream[i] = pattern_byte(i, 3);
    /* Writes: O_SENDS of uneven sizes, large enough to go partial. */
    size_t stotal = 0;
    for (int k = 0; k < O_SENDS; k++)
        stotal += send_len(k);
    unsigned char *sstream = malloc(stotal), *sin = malloc(stotal);
    for (size_t i = 0; i < stotal; i++)
        sstream[i] = pattern_byte(i, 11);

    top *r = calloc(O_RECVS, sizeof *r), *s = calloc(O_SENDS, sizeof *s);
    size_t at = 0;
    for (int k = 0; k < O_SENDS || k < O_RECVS; k++) {
        /* Both directions interleaved on one fd. */
        if (k < O_RECVS) {
            top_init(&r[k], IO_OP_RECVMSG, a, rbufs + (size_t)k * O_RECV_LEN, O_RECV_LEN);
            io_submit(&r[k].op);
        }
        if (k < O_SENDS) {
            top_init(&s[k], IO_OP_SENDMSG, a, sstream + at, send_len(k));
            io_submit(&s[k].op);
            at += send_len(k);
        }
    }
    writer_arg w = {b, rstream, rtotal};
    pthread_t wt;
    pthread_create(&wt, NULL, writer_thread, &w);
    size_t got = 0;
    while (got < stotal) {
        ssize_t n = recv(b, sin + got, stotal - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    pthread_join(wt, NULL);
    CHECK_EQ(got, stotal);
    CHECK(memcmp(sin, sstream, stotal) == 0); /* sends: byte-exact, in submission order */
    CHECK_EQ(top_wait_all(s, O_SENDS), O_SENDS);
    CHECK_EQ(top_wait_all(r, O_RECVS), O_RECVS);

    int send_order = 1, recv_order = 1, recv_bytes = 1;
    for (int k = 0; k < O_SENDS; k++) {
        CHECK_EQ(s[k].result, (long)send_len(k));
        if (k > 0 && s[k].seq < s[k - 1].seq)
            send_order = 0;
    }
    size_t off = 0;
    for (int k = 0; k < O_RECVS; k++) {
        if (r[k].result <= 0) {
            WT_FAIL("recv %d completed with %ld", k, r[k].result);
            recv_bytes = 0;
            break;
        }
        if (k > 0 && r[k].seq < r[k - 1].seq)
            recv_order = 0;
        /* Concatenated in submission order, the recvs read the stream. */
        if (memcmp(rbufs + (size_t)k * O_RECV_LEN, rstream + off, (size_t)r[k].result) != 0)
            recv_bytes = 0;
        off += (size_t)r[k].result;
    }
    CHECK(send_order);
    CHECK(recv_order);
    CHECK(recv_bytes);
    openwsk_perturb_configure(0, 0);
    free(r);
    free(s);
    free(rstream);
    free(rbufs);
    free(sstream);
    free(sin);
    close_engine_fd(a);
    close(b);
}

/* ---- passes ---- */

static void run_pass(const char *backend, unsigned threads, void (*fn)(void), const char *name)
{
    setenv("OPENWSK_IO_BACKEND", backend, 1);
    unsetenv("OPENWSK_IO_URING_COMPAT");
    int rc = io_engine_start(threads);
    if (rc == 0) {
        fprintf(stderr, "=== %s: backend %s, %u engine thread(s)\n", name, io_engine_backend(), threads);
        wt_case_failed = 0;
        fprintf(stderr, "case %s\n", name);
        fn();
        if (wt_case_failed) {
            wt_cases_failed++;
            fprintf(stderr, "  -> FAILED\n");
        } else {
            wt_cases_passed++;
        }
        io_engine_stop();
    } else if (strcmp(backend, "io_uring") == 0) {
        fprintf(stderr, "=== %s: io_uring UNAVAILABLE (%s): SKIPPED\n", name, strerror(-rc));
    } else {
        WT_FAIL("%s: io_engine_start(%s) failed: %s", name, backend, strerror(-rc));
        wt_cases_failed++;
    }
    unsetenv("OPENWSK_IO_BACKEND");
}

int main(void)
{
    WT_RUN(t_generator_reproducible);
    WT_RUN(t_thread_decisions_reproducible);
    WT_RUN(t_point_free_when_off);
    static const char *const backends[] = {"io_uring", "epoll"};
    for (int i = 0; i < 2; i++) {
        /* One engine thread: every fd on one shard, so the order the fds
         * became ready is the order the engine would deliver in. */
        run_pass(backends[i], 1, t_independent_fds_reordered, "t_independent_fds_reordered");
        run_pass(backends[i], 2, t_direction_order_kept, "t_direction_order_kept");
    }
    openwsk_perturb_configure(0, 0);
    return wt_finish();
}
