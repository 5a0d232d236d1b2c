/* load.h - internals of bench_load, the echo load generator.
 *
 * load.c parses the command line, starts the client threads, merges their
 * statistics and prints the RESULT line; each workload is one thread body
 * (load_tcp.c: tcp_echo and tcp_connect, load_stream.c: tcp_stream,
 * load_udp.c: udp_echo). Any protocol failure or corrupted echo ends the
 * whole process with status 2 through load_fail().
 */
#ifndef LOAD_H
#define LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_MSG 64               /* request size of the echo workloads */
#define LOAD_STREAM_MSG 65536     /* tcp_stream message (write) size */
#define LOAD_UDP_TIMEOUT_NS 200000000u /* udp_echo: resend after 200 ms */
/* An exchange (TCP echo, connect cycle, stream progress) that waits longer
 * than this for its echo fails the run: a server that silently swallows a
 * request would otherwise only lower the rate. */
#define LOAD_STALL_NS 2000000000ull

struct load_stats {
    uint64_t ops;       /* completed inside the measured window */
    uint64_t total_ops; /* completed at any time, warmup included */
    uint64_t bytes;     /* echoed payload inside the window (tcp_stream) */
    uint64_t lost;      /* udp_echo: timed out inside the window */
    uint32_t *lat_ns;   /* per-op latency inside the window */
    size_t nlat, cap;
};

struct load_thread {
    int port;
    int window_msgs;        /* tcp_stream: messages in flight per connection */
    int first_conn, nconns; /* global indexes of this thread's connections */
    uint64_t t_measure;     /* end of warmup */
    uint64_t t_end;         /* end of the run */
    struct load_stats st;
};

/* Blocks until every client thread has set up its sockets, then fills in
 * this thread's t_measure / t_end from a start time common to all. */
void load_start_barrier(struct load_thread *t);

/* Account one finished operation that started at t_start. */
void load_op_done(struct load_thread *t, uint64_t t_start, uint64_t now);

/* Deterministic pseudo-random bytes for (stream, seq): each request carries
 * a different pattern, so a stale, shifted or mixed-up echo cannot match. */
void load_pattern(uint8_t *p, size_t n, uint32_t stream, uint64_t seq);

/* Blocking TCP connection to 127.0.0.1:port, TCP_NODELAY, then
 * non-blocking. Failure is fatal. */
int load_tcp_connect(int port);

/* epoll_wait timeout (ms) that wakes up in time for t_end. */
int load_wait_ms(const struct load_thread *t, uint64_t now);

_Noreturn void load_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fails the run if an exchange started at t_start is still waiting at now
 * (and longer than LOAD_STALL_NS); what names the exchange. */
void load_check_stall(uint64_t t_start, uint64_t now, const char *what, uint32_t id);

void *load_tcp_echo(void *arg);
void *load_tcp_connect_loop(void *arg);
void *load_tcp_stream(void *arg);
void *load_udp_echo(void *arg);

#endif
