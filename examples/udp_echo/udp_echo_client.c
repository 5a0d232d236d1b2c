/*
 * udp_echo_client.c - the Linux side of the UDP echo example.
 *
 *   udp_echo_client PORT [DATAGRAMS]
 *
 * Over IPv4 and IPv6 loopback: DATAGRAMS (default 2000) datagrams of every
 * size from 1 to 1472 bytes, one at a time, each of which must come back
 * byte-exact from the server's port; then the same number again with 32 in
 * flight at once, matched by sequence number.  A datagram is re-sent once
 * if its echo does not come within a second (UDP may drop; loopback should
 * not), and counted as lost only if the second try fails too.  Exit status
 * 0 only if nothing was lost or damaged.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_DATAGRAM 1472
#define WINDOW 32

static unsigned short port;

static socklen_t server_address(int family, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        return sizeof(*a);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*a);
}

static size_t datagram_size(unsigned seq)
{
    return 4 + (seq * 37u) % (MAX_DATAGRAM - 3); /* 4 .. 1472 */
}

static void fill(unsigned char *p, unsigned seq)
{
    size_t n = datagram_size(seq);
    memcpy(p, &seq, 4);
    for (size_t k = 4; k < n; k++)
        p[k] = (unsigned char)(k * 13u + seq);
}

/* The sequence number of a correct echo from the server, or -1. */
static long check(const unsigned char *p, ssize_t n, const struct sockaddr_storage *from)
{
    unsigned seq;
    unsigned char want[MAX_DATAGRAM];
    unsigned short from_port = from->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)from)->sin6_port)
                                                            : ntohs(((const struct sockaddr_in *)from)->sin_port);
    if (n < 4 || from_port != port)
        return -1;
    memcpy(&seq, p, 4);
    fill(want, seq);
    return (size_t)n == datagram_size(seq) && memcmp(p, want, (size_t)n) == 0 ? (long)seq : -1;
}

static long receive_one(int fd, unsigned char *buf, int timeout_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return -2; /* nothing came */
    struct sockaddr_storage from;
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(fd, buf, MAX_DATAGRAM + 1, 0, (struct sockaddr *)&from, &len);
    return check(buf, n, &from);
}

/* One at a time: every size, every byte. */
static int lockstep(int family, unsigned count)
{
    struct sockaddr_storage to;
    socklen_t to_len = server_address(family, &to);
    int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unsigned char out[MAX_DATAGRAM], in[MAX_DATAGRAM + 1];
    unsigned lost = 0, damaged = 0;
    for (unsigned seq = 0; seq < count; seq++) {
        fill(out, seq);
        long got = -2;
        for (int attempt = 0; attempt < 2 && got != (long)seq; attempt++) {
            sendto(fd, out, datagram_size(seq), 0, (struct sockaddr *)&to, to_len);
            got = receive_one(fd, in, 1000);
            damaged += got == -1;
        }
        lost += got != (long)seq;
    }
    close(fd);
    printf("IPv%d: %u datagrams of 4 to %u bytes one at a time: %u lost, %u damaged\n", family, count,
           MAX_DATAGRAM, lost, damaged);
    return lost + damaged > 0;
}

/* WINDOW datagrams in flight; every sequence number must come back once. */
static int windowed(int family, unsigned count)
{
    struct sockaddr_storage to;
    socklen_t to_len = server_address(family, &to);
    int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unsigned char out[MAX_DATAGRAM], in[MAX_DATAGRAM + 1];
    unsigned char *seen = calloc(count, 1);
    unsigned sent = 0, received = 0, damaged = 0, duplicates = 0;
    int idle = 0;
    while (received < count && idle < 2) {
        while (sent < count && sent - received < WINDOW) {
            fill(out, sent);
            sendto(fd, out, datagram_size(sent), 0, (struct sockaddr *)&to, to_len);
            sent++;
        }
        long got = receive_one(fd, in, 1000);
        if (got == -2) {
            idle++;
            received = sent; /* give up on what is missing; counted below */
            continue;
        }
        idle = 0;
        if (got < 0 || (unsigned long)got >= count) {
            damaged++;
            continue;
        }
        if (seen[got]++)
            duplicates++;
        else
            received++;
    }
    unsigned lost = 0;
    for (unsigned i = 0; i < count; i++)
        lost += !seen[i];
    free(seen);
    close(fd);
    printf("IPv%d: %u datagrams, %d in flight: %u lost, %u damaged, %u duplicated\n", family, count, WINDOW, lost,
           damaged, duplicates);
    return lost + damaged + duplicates > 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: udp_echo_client PORT [DATAGRAMS]\n");
        return 2;
    }
    port = (unsigned short)atoi(argv[1]);
    unsigned count = argc > 2 && atoi(argv[2]) > 0 ? (unsigned)atoi(argv[2]) : 2000;
    int failures = lockstep(4, count) + lockstep(6, count) + windowed(4, count) + windowed(6, count);
    printf("udp echo client: %s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}
