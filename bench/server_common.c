/* server_common.c - see server_common.h. */
#include "server_common.h"
#include "bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s --port N [--threads T] [--corrupt-every N] [--drop-every N]\n", prog);
    exit(1);
}

void server_parse_args(int argc, char **argv, struct server_opts *o)
{
    o->port = -1;
    o->threads = 1;
    o->corrupt_every = o->drop_every = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage(argv[0]);
        if (strcmp(argv[i], "--port") == 0)
            o->port = (int)bench_parse_long("--port", argv[++i], 1, 65535);
        else if (strcmp(argv[i], "--threads") == 0)
            o->threads = (int)bench_parse_long("--threads", argv[++i], 1, SERVER_MAX_THREADS);
        else if (strcmp(argv[i], "--corrupt-every") == 0)
            o->corrupt_every = bench_parse_long("--corrupt-every", argv[++i], 1, 1L << 40);
        else if (strcmp(argv[i], "--drop-every") == 0)
            o->drop_every = bench_parse_long("--drop-every", argv[++i], 1, 1L << 40);
        else
            usage(argv[0]);
    }
    if (o->port < 0)
        usage(argv[0]);
}

static int bound_socket(int type, int port)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        bench_die_errno(1, "socket");
    int one = 1;
    /* SO_REUSEADDR: rebind despite TIME_WAIT leftovers of an earlier run. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        bench_die_errno(1, "setsockopt");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        bench_die_errno(1, "bind");
    return fd;
}

int server_tcp_listener(int port)
{
    int fd = bound_socket(SOCK_STREAM, port);
    if (listen(fd, 4096) != 0)
        bench_die_errno(1, "listen");
    return fd;
}

int server_udp_socket(int port)
{
    return bound_socket(SOCK_DGRAM, port);
}

void server_tune_accepted(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_signal(int sig)
{
    (void)sig; /* never runs while blocked; see server_block_signals */
}

void server_block_signals(sigset_t *set)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* sends also use MSG_NOSIGNAL; belt and braces */
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

void server_wait_signal(const sigset_t *set)
{
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
}

void server_print_ready(const struct server_opts *o)
{
    printf("READY port=%d threads=%d\n", o->port, o->threads);
    fflush(stdout);
}
