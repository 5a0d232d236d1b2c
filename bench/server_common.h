/* server_common.h - what the two native echo servers share: the CLI, the
 * per-thread SO_REUSEPORT sockets, signal handling and the READY line. */
#ifndef SERVER_COMMON_H
#define SERVER_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define SERVER_BUF_SIZE 65536 /* read buffer, as the brief asks */
#define SERVER_MAX_THREADS 64

struct server_opts {
    int port;
    int threads;
    long corrupt_every; /* test aid: flip a byte of every N-th echo (0: never) */
    long drop_every;    /* test aid: leave out every N-th echo (0: never) */
};

/* --port N [--threads T] [--corrupt-every N] [--drop-every N]; exits 1 with
 * a usage message on bad arguments. The last two make a deliberately broken
 * server, to check that bench_load notices (it must exit 2). */
void server_parse_args(int argc, char **argv, struct server_opts *o);

/* Non-blocking TCP listener on 127.0.0.1:port with SO_REUSEPORT, so every
 * worker thread can own one and the kernel spreads connections. Exits 1 on
 * failure (port taken, ...). */
int server_tcp_listener(int port);

/* Non-blocking UDP socket on 127.0.0.1:port with SO_REUSEPORT. */
int server_udp_socket(int port);

/* Accepted sockets: TCP_NODELAY, so echoes of small tails are not held back
 * by Nagle waiting for a delayed ACK (matters for tcp_stream). */
void server_tune_accepted(int fd);

/* Blocks SIGINT/SIGTERM in the calling thread (threads created later inherit
 * the mask) so that only server_wait_signal() sees them. A handler is also
 * installed: a shell starts background jobs with SIGINT ignored, and an
 * ignored signal would never reach sigwait. */
void server_block_signals(sigset_t *set);

/* Waits for SIGINT or SIGTERM. */
void server_wait_signal(const sigset_t *set);

/* Test aid (see struct server_opts): called once per echo (a TCP chunk or a
 * datagram) with a per-thread counter. Corrupts buf when due; returns false
 * when this echo is to be left out. */
static inline bool server_tamper(const struct server_opts *o, unsigned long *count, char *buf, size_t len)
{
    if (!o->corrupt_every && !o->drop_every)
        return true;
    ++*count;
    if (o->corrupt_every && *count % (unsigned long)o->corrupt_every == 0 && len > 0)
        buf[len / 2] ^= 0x20;
    return !(o->drop_every && *count % (unsigned long)o->drop_every == 0);
}

/* The single line the benchmark script waits for. */
void server_print_ready(const struct server_opts *o);

#endif
